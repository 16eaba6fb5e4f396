// SPDX-License-Identifier: GPL-2.0
/*
 * Merged pages across execve(), in a multithreaded process, and under a
 * THP collapse (MADV_COLLAPSE, khugepaged's code).
 *
 *  - exec: a child maps N pages (keys EXEC_KEY + i, MADV_MERGEABLE), the
 *    parent the same N keys: pages_shared N, pages_sharing N, nothing
 *    unshared or volatile; the child's ksm_merging_pages and
 *    ksm_rmap_items read N, one area of its smaps is "mg".  Then the
 *    child execs this program again ("--exec-child": it only waits on a
 *    pipe).  Exec drops the old mm (its last user): its rmap items go at
 *    once (ksm_forget_mm(), as __ksm_exit()), so each KSM page is left
 *    with the parent's mapping only.  A KSM page mapped once stays a KSM
 *    page, as in Linux 6.1: pages_shared N, pages_sharing 0,
 *    pages_unshared 0, pages_volatile 0 for good; the parent's pages are
 *    still KSM pages (kpageflags), intact, its ksm_merging_pages N; the
 *    exec'd process's ksm_merging_pages and ksm_rmap_items read 0, its
 *    ksm_stat says "ksm_mergeable: no" and "ksm_merge_any: no", no area
 *    of its smaps is "mg".
 *    A KSM that kept the dead mm's items (or registered the new mm) shows
 *    pages_sharing N, or items in the new process.
 *  - threads: one process, NTHREADS threads, each owning TPAGES pages of
 *    one mergeable area; page i of every thread holds common key i: 64 KSM
 *    pages, pages_sharing 3 * 64.  While ksmd scans flat out (sleep 0),
 *    each thread goes round its pages: it checks that a page holds the
 *    key it last wrote there, then writes the other of its two keys for
 *    that page (common, private), resting 0-30 ms between rounds so that
 *    pages merge again and again.  A write lost to a racing merge (a pte
 *    pointed at a KSM page holding the old content) is a mismatch: there
 *    must be none, and cow_ksm must show that writes met pages merged
 *    during the churn (more COWs of KSM pages than the NTHREADS * TPAGES
 *    of the first round).  Then every page gets its common key back:
 *    exactly pages_shared 64, pages_sharing 192, nothing unshared or
 *    volatile, every page intact.
 *  - THP collapse: A, a 2 MiB aligned area filled with 4 KiB pages
 *    (MADV_NOHUGEPAGE while filling), pages 8j holding the keys of the 64
 *    pages of area B, its 448 other pages unique: pages_shared 64,
 *    pages_sharing 64, pages_unshared 448.  With ksmd stopped (run=0, so
 *    that it holds no page reference), MADV_HUGEPAGE + MADV_COLLAPSE of
 *    A.  Vanilla 6.1 mm/khugepaged.c has no KSM check: a KSM page mapped
 *    in A and B has refcount 2 == total_mapcount 2 (stable nodes hold no
 *    reference), so is_refcount_suitable() passes, the collapse copies it
 *    into the huge page and drops A's mapping (page_remove_rmap), while
 *    the unique pages keep writable ptes (SCAN_PAGE_RO cannot be hit).
 *    So MADV_COLLAPSE returns 0 (EAGAIN, a transient refcount, is retried)
 *    and A is one huge page (AnonHugePages 2048 kB), every page intact, A
 *    maps no KSM page, B's 64 pages still are, unchanged; no KSM hook runs
 *    at collapse, so with run=0 the counters (and ksm_merging_pages 128)
 *    are unchanged.  A write to A's page 0 then lands in the huge page, B
 *    is untouched.  With run=1 (A MADV_NOHUGEPAGE, so that khugepaged does
 *    not collapse it again), ksmd finds A's stale items, unlinks them and
 *    merges A's 63 duplicates into B's KSM pages again, splitting the huge
 *    page to do so (as 6.1's try_to_merge_one_page()): pages_shared 64
 *    (B's page 0 is a KSM page mapped once), pages_sharing 63,
 *    pages_unshared 449, nothing volatile; AnonHugePages 0; A maps 63 KSM
 *    pages, B 64; all contents intact.  A collapse that mapped the KSM
 *    page into the huge page would show B's page 0 changed.
 *  - run=2 brings every counter back to 0.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "ksm_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define EXEC_ARG	"--exec-child"
#define N		64
#define EXEC_KEY	0x1000ULL

#define NTHREADS	4
#define TPAGES		64
#define COMMON_KEY	0x2000ULL
#define PRIVATE_KEY	0x3000ULL	/* + t * TPAGES + i */
#define CHURN_MIN_MS	5000
#define CHURN_MAX_MS	15000
#define REST_MAX_US	30000

#define HPAGE		(2UL << 20)
#define DUP_KEY		0x5000ULL
#define UNIQ_KEY	0x6000ULL
#define NEW_KEY		0x7000ULL
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage/"
#define COLLAPSE_TRIES	10

/* ---------------------------------------------------------------------- */
/* The exec'd child: say it is up, wait for the word to go.               */
/* ---------------------------------------------------------------------- */

static int exec_child(char **argv)
{
	int ready = atoi(argv[2]), go = atoi(argv[3]);

	if (!ksm_pipe_send(ready, 'r'))
		_exit(2);
	_exit(ksm_pipe_recv(go, KSM_TIMEOUT_MS) == 'x' ? 0 : 2);
}

/*
 * How many areas of /proc/@pid/smaps have "mg" among their VmFlags; -1 if
 * the file cannot be read or shows no VmFlags line.
 */
static int pid_mergeable_areas(pid_t pid)
{
	char path[64], line[1024], *tok, *save;
	int areas = 0, mg = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmFlags:", 8))
			continue;
		areas++;
		for (tok = strtok_r(line + 8, "\n ", &save); tok;
		     tok = strtok_r(NULL, "\n ", &save)) {
			if (!strcmp(tok, "mg")) {
				mg++;
				break;
			}
		}
	}
	fclose(f);
	return areas ? mg : -1;
}

/* The word after "@key" in /proc/@pid/ksm_stat, into @val ("" if none). */
static void pid_ksm_stat_word(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256], name[128], word[64];
	FILE *f;

	val[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %63s", name, word) == 2 && !strcmp(name, key)) {
			snprintf(val, len, "%s", word);
			break;
		}
	}
	fclose(f);
}

static void test_exec(void)
{
	struct ksm_counters want = { N, N, 0, 0, 0, 0 };
	long cmerge, crmap, pmerge, prmap, nksm;
	unsigned long long keys[N];
	char mergeable[64], merge_any[64], fd_go[16], fd_ready[16];
	int go[2], ready[2], i, mg, c;
	char *area;
	bool ok;
	pid_t pid;

	for (i = 0; i < N; i++)
		keys[i] = EXEC_KEY + i;
	if (pipe(go) || pipe(ready))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		char *args[5];

		close(go[1]);
		close(ready[0]);
		area = ksm_mmap_mergeable(keys, N);
		if (!ksm_pipe_send(ready[1], 'm'))
			_exit(2);
		if (ksm_pipe_recv(go[0], KSM_TIMEOUT_MS) != 'e')
			_exit(2);
		snprintf(fd_ready, sizeof(fd_ready), "%d", ready[1]);
		snprintf(fd_go, sizeof(fd_go), "%d", go[0]);
		args[0] = "ksm_lifecycle";
		args[1] = EXEC_ARG;
		args[2] = fd_ready;
		args[3] = fd_go;
		args[4] = NULL;
		execv("/proc/self/exe", args);
		printf("# child: execv /proc/self/exe: %s\n", strerror(errno));
		_exit(3);
	}
	close(go[0]);
	close(ready[1]);

	c = ksm_pipe_recv(ready[0], KSM_TIMEOUT_MS);
	if (c != 'm')
		ksft_print_msg("the child did not map its area (%d)\n", c);
	area = ksm_mmap_mergeable(keys, N);
	ksm_set("run", 1);
	ok = c == 'm' && ksm_wait_counters(&want);
	cmerge = ksm_proc_merging_pages(pid);
	crmap = ksm_proc_rmap_items(pid);
	pmerge = ksm_proc_merging_pages(0);
	mg = pid_mergeable_areas(pid);
	ksft_print_msg("before exec: child ksm_merging_pages %ld ksm_rmap_items %ld, %d mg area(s); parent ksm_merging_pages %ld\n",
		       cmerge, crmap, mg, pmerge);
	ok = ok && cmerge == N && crmap == N && mg == 1 && pmerge == N;
	ksft_test_result(ok, "exec: before, pages_shared %d pages_sharing %d, child ksm_merging_pages %d ksm_rmap_items %d\n",
			 N, N, N, N);

	/* The child execs; its old mm's last user goes with the exec. */
	ok = ksm_pipe_send(go[1], 'e');
	c = ksm_pipe_recv(ready[0], KSM_TIMEOUT_MS);
	if (c != 'r') {
		ksft_print_msg("the exec'd child did not report (%d)\n", c);
		ok = false;
	}
	want.sharing = 0;
	ok = ksm_wait_counters(&want) && ok;
	cmerge = ksm_proc_merging_pages(pid);
	crmap = ksm_proc_rmap_items(pid);
	pid_ksm_stat_word(pid, "ksm_mergeable:", mergeable, sizeof(mergeable));
	pid_ksm_stat_word(pid, "ksm_merge_any:", merge_any, sizeof(merge_any));
	mg = pid_mergeable_areas(pid);
	pmerge = ksm_proc_merging_pages(0);
	prmap = ksm_proc_rmap_items(0);
	nksm = ksm_count_ksm_pages(area, N);
	ksft_print_msg("after exec: child ksm_merging_pages %ld ksm_rmap_items %ld, %d mg area(s)\n",
		       cmerge, crmap, mg);
	ksft_print_msg("after exec: child ksm_mergeable '%s' ksm_merge_any '%s'\n",
		       mergeable, merge_any);
	ksft_print_msg("after exec: parent ksm_merging_pages %ld ksm_rmap_items %ld, %ld KSM pages\n",
		       pmerge, prmap, nksm);
	ok = ok && cmerge == 0 && crmap == 0 && mg == 0;
	ok = ok && !strcmp(mergeable, "no") && !strcmp(merge_any, "no");
	ok = ok && pmerge == N && prmap == N && nksm == N;
	ok = !ksm_check_pages(area, keys, N, "parent after exec") && ok;
	ok = ksm_pipe_send(go[1], 'x') && ok;
	ok = ksm_wait_child(pid, "exec'd child") && ok;
	ksft_test_result(ok, "exec: after, pages_shared %d pages_sharing 0 unshared 0 volatile 0; the new mm has no item and no mg area; the parent's %d KSM pages intact\n",
			 N, N);
	close(go[1]);
	close(ready[0]);
	munmap(area, N * ksm_page_size);
	ksm_must_unmerge_all();
}

/* ---------------------------------------------------------------------- */
/* Threads.                                                               */
/* ---------------------------------------------------------------------- */

struct worker {
	pthread_t tid;
	int t;
	char *pages;			/* its TPAGES pages */
	unsigned long long last[TPAGES];	/* the key last written */
	unsigned long long rng;
	unsigned long long rounds, verified, mismatches;
};

static int churn_stop;
static pthread_barrier_t churn_barrier;

static unsigned long long common_key(int i)
{
	return COMMON_KEY + i;
}

static unsigned long long private_key(int t, int i)
{
	return PRIVATE_KEY + (unsigned long long)t * TPAGES + i;
}

static void worker_check(struct worker *w, int i)
{
	long off = ksm_check_page(ksm_page_addr(w->pages, i), w->last[i]);

	w->verified++;
	if (off >= 0 && w->mismatches++ < 3)
		ksft_print_msg("thread %d: page %d differs from key %#llx at offset %ld\n",
			       w->t, i, w->last[i], off);
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	unsigned long long key;
	int i;

	while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < TPAGES; i++) {
			worker_check(w, i);
			key = w->last[i] == common_key(i) ? private_key(w->t, i) :
							     common_key(i);
			ksm_fill_page(ksm_page_addr(w->pages, i), key);
			w->last[i] = key;
		}
		w->rounds++;
		/* A rest: pages that stay put merge, the next round races. */
		w->rng = ksm_mix64(w->rng);
		usleep(w->rng % REST_MAX_US);
	}
	pthread_barrier_wait(&churn_barrier);	/* churn over */
	pthread_barrier_wait(&churn_barrier);	/* cow_ksm read */
	/* The end: every page holds its common key. */
	for (i = 0; i < TPAGES; i++) {
		worker_check(w, i);
		if (w->last[i] == common_key(i))
			continue;
		ksm_fill_page(ksm_page_addr(w->pages, i), common_key(i));
		w->last[i] = common_key(i);
	}
	return NULL;
}

static void test_threads(void)
{
	struct ksm_counters want = { TPAGES, (NTHREADS - 1) * TPAGES, 0, 0, 0, 0 };
	unsigned long long verified = 0, mismatches = 0, rounds = 0;
	long long cow0, cow1, t0, elapsed, extra = 0;
	long sharing, min_sharing = -1, max_sharing = 0, rises = 0, prev = -1;
	static struct worker w[NTHREADS];
	unsigned long long keys[TPAGES];
	bool ok, merged;
	int t, i, err;
	char *area;

	area = ksm_mmap(NTHREADS * TPAGES);
	for (i = 0; i < TPAGES; i++)
		keys[i] = common_key(i);
	for (t = 0; t < NTHREADS; t++) {
		w[t].t = t;
		w[t].pages = ksm_page_addr(area, t * TPAGES);
		w[t].rng = ksm_mix64(t + 1);
		memcpy(w[t].last, keys, sizeof(keys));
		ksm_fill_pages(w[t].pages, keys, TPAGES);
	}
	ksm_madvise(area, NTHREADS * TPAGES, MADV_MERGEABLE);
	ksm_set("run", 1);
	merged = ksm_wait_counters(&want);
	if (!merged)
		ksft_print_msg("threads: the area did not merge before the churn\n");

	cow0 = ksm_vmstat("cow_ksm");
	if (pthread_barrier_init(&churn_barrier, NULL, NTHREADS + 1))
		ksft_exit_fail_msg("pthread_barrier_init failed\n");
	__atomic_store_n(&churn_stop, 0, __ATOMIC_RELAXED);
	for (t = 0; t < NTHREADS; t++) {
		err = pthread_create(&w[t].tid, NULL, worker_fn, &w[t]);
		if (err)
			ksft_exit_fail_msg("pthread_create: %s\n", strerror(err));
	}
	t0 = ksm_now_ms();
	for (;;) {
		usleep(20000);
		sharing = ksm_read("pages_sharing");
		if (min_sharing < 0 || sharing < min_sharing)
			min_sharing = sharing;
		if (sharing > max_sharing)
			max_sharing = sharing;
		rises += prev >= 0 && sharing > prev;
		prev = sharing;
		elapsed = ksm_now_ms() - t0;
		/* COWs of KSM pages beyond the first round's: merges met. */
		extra = ksm_vmstat("cow_ksm") - cow0 - NTHREADS * TPAGES;
		if (elapsed >= CHURN_MAX_MS || (elapsed >= CHURN_MIN_MS && extra >= 64))
			break;
	}
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&churn_barrier);
	cow1 = ksm_vmstat("cow_ksm");
	extra = cow1 - cow0 - NTHREADS * TPAGES;
	pthread_barrier_wait(&churn_barrier);
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(w[t].tid, NULL);
		ksft_print_msg("thread %d: %llu rounds, %llu pages checked, %llu mismatches\n",
			       t, w[t].rounds, w[t].verified, w[t].mismatches);
		rounds += w[t].rounds;
		verified += w[t].verified;
		mismatches += w[t].mismatches;
	}
	pthread_barrier_destroy(&churn_barrier);
	ksft_print_msg("churn %lld ms: pages_sharing %ld..%ld, rose %ld times; cow_ksm %lld -> %lld: %lld COWs of pages merged during the churn\n",
		       elapsed, min_sharing, max_sharing, rises, cow0, cow1, extra);
	ok = merged && cow0 >= 0 && !mismatches && extra > 0;
	for (t = 0; t < NTHREADS; t++)
		ok = ok && w[t].rounds > 0;
	ksft_test_result(ok, "threads: %d threads, %llu rounds, %llu pages checked, %llu lost writes (0 wanted); %lld writes met pages merged meanwhile\n",
			 NTHREADS, rounds, verified, mismatches, extra);

	/* Every page holds its common key again. */
	ok = ksm_wait_counters(&want);
	for (t = 0; t < NTHREADS; t++)
		ok = !ksm_check_pages(w[t].pages, keys, TPAGES, "thread pages") && ok;
	ksft_test_result(ok, "threads: after the churn, pages_shared %d pages_sharing %d unshared 0 volatile 0, every page intact\n",
			 TPAGES, (NTHREADS - 1) * TPAGES);
	munmap(area, NTHREADS * TPAGES * ksm_page_size);
	ksm_must_unmerge_all();
}

/* ---------------------------------------------------------------------- */
/* THP collapse over KSM pages.                                           */
/* ---------------------------------------------------------------------- */

static char thp_saved[16];

/* The mode in [brackets] of transparent_hugepage/enabled; false if none. */
static bool thp_mode(char *mode, size_t len)
{
	char buf[128] = "", *lb, *rb;
	FILE *f = fopen(THP_DIR "enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	lb = strchr(buf, '[');
	rb = lb ? strchr(lb, ']') : NULL;
	if (!rb || (size_t)(rb - lb) > len)
		return false;
	snprintf(mode, len, "%.*s", (int)(rb - lb - 1), lb + 1);
	return true;
}

static bool thp_set_mode(const char *mode)
{
	return ksm_write_path(THP_DIR "enabled", mode);
}

static void thp_restore(void)
{
	if (!thp_saved[0] || getpid() != ksm_owner_pid)
		return;
	if (!thp_set_mode(thp_saved))
		printf("# cannot restore %senabled to %s\n", THP_DIR, thp_saved);
	thp_saved[0] = '\0';
}

static char *map_aligned_hpage(void)
{
	char *raw, *a;

	raw = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		ksft_exit_fail_msg("mmap 4 MiB: %s\n", strerror(errno));
	a = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (a > raw)
		munmap(raw, a - raw);
	if (raw + 2 * HPAGE > a + HPAGE)
		munmap(a + HPAGE, raw + 2 * HPAGE - (a + HPAGE));
	return a;
}

static int collapse(char *a)
{
	int try, err = 0;

	for (try = 1; try <= COLLAPSE_TRIES; try++) {
		if (!madvise(a, HPAGE, MADV_COLLAPSE))
			return 0;
		err = errno;
		ksft_print_msg("MADV_COLLAPSE, try %d: %s\n", try, strerror(err));
		if (err == ENOMEM) {
			/* No huge page free: compact memory, try again. */
			int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);

			if (fd >= 0) {
				if (write(fd, "1", 1) != 1)
					ksft_print_msg("compact_memory: %s\n", strerror(errno));
				close(fd);
			}
		} else if (err != EAGAIN) {
			break;
		}
		usleep(200000);
	}
	return err;
}

static void test_thp_collapse(void)
{
	struct ksm_counters want = { N, N, HPAGE / 4096 - N, 0, 0, 0 }, seen;
	unsigned long long akeys[HPAGE / 4096], bkeys[N];
	size_t apages = HPAGE / ksm_page_size, i;
	long long huge_kb, merging;
	char mode[16] = "";
	unsigned long pmd_size;
	long aksm, bksm;
	char *a, *b;
	int err, tries;
	bool ok;

	if (!thp_mode(mode, sizeof(mode))) {
		ksft_test_result_skip("THP collapse: no %senabled: kernel without THP\n", THP_DIR);
		ksft_test_result_skip("THP collapse: no %senabled: kernel without THP\n", THP_DIR);
		return;
	}
	if (ksm_read_ulong_path(THP_DIR "hpage_pmd_size", &pmd_size) || pmd_size != HPAGE ||
	    apages != HPAGE / 4096)
		ksft_exit_fail_msg("THP collapse: wants 4 KiB pages, 2 MiB huge pages\n");
	ksft_print_msg("transparent_hugepage/enabled: %s\n", mode);
	if (!strcmp(mode, "never")) {
		snprintf(thp_saved, sizeof(thp_saved), "%s", mode);
		atexit(thp_restore);
		if (!thp_set_mode("madvise"))
			ksft_exit_fail_msg("cannot write madvise to %senabled: %s\n", THP_DIR,
					   strerror(errno));
	}

	/* A: 4 KiB pages (no huge page at fault), pages 8j duplicate B's. */
	a = map_aligned_hpage();
	ksm_madvise(a, apages, MADV_NOHUGEPAGE);
	b = ksm_mmap(N);
	for (i = 0; i < apages; i++)
		akeys[i] = i % 8 ? UNIQ_KEY + i : DUP_KEY + i / 8;
	for (i = 0; i < N; i++)
		bkeys[i] = DUP_KEY + i;
	ksm_fill_pages(a, akeys, apages);
	ksm_fill_pages(b, bkeys, N);
	huge_kb = ksm_smaps_kb(a, "AnonHugePages");
	if (huge_kb)
		ksft_print_msg("area A has AnonHugePages %lld kB before the collapse, 0 wanted\n",
			       huge_kb);
	ksm_madvise(a, apages, MADV_MERGEABLE);
	ksm_madvise(b, N, MADV_MERGEABLE);
	/*
	 * Stop ksmd where the counters are exact.  Within a pass they are
	 * not: an unshared page's entry leaves the unstable table when its
	 * page is visited again, and counts as volatile until it is back.
	 */
	for (tries = 0; tries < 10; tries++) {
		ksm_set("run", 1);
		ok = !huge_kb && ksm_wait_counters(&want);
		/* ksmd stopped: no reference of its can fail the refcount check. */
		ksm_set("run", 0);
		ksm_read_counters(&seen);
		if (!ok || ksm_counters_match(&seen, &want))
			break;
	}
	ok = ok && tries < 10;
	aksm = ksm_count_ksm_pages(a, apages);
	bksm = ksm_count_ksm_pages(b, N);
	if (aksm != N || bksm != N) {
		ksft_print_msg("before the collapse: A maps %ld KSM pages, B %ld; %d wanted\n",
			       aksm, bksm, N);
		ok = false;
	}

	ksm_madvise(a, apages, MADV_HUGEPAGE);
	err = collapse(a);
	huge_kb = ksm_smaps_kb(a, "AnonHugePages");
	aksm = ksm_count_ksm_pages(a, apages);
	bksm = ksm_count_ksm_pages(b, N);
	merging = ksm_proc_merging_pages(0);
	ksft_print_msg("after MADV_COLLAPSE (%s): A AnonHugePages %lld kB, KSM pages in A %ld, in B %ld; ksm_merging_pages %lld\n",
		       err ? strerror(err) : "0", huge_kb, aksm, bksm, merging);
	ok = ok && !err && huge_kb == HPAGE / 1024 && aksm == 0 && bksm == N &&
	     merging == 2 * N;
	ok = ksm_counters_now(&want) && ok;
	ok = !ksm_check_pages(a, akeys, apages, "A after the collapse") && ok;
	ok = !ksm_check_pages(b, bkeys, N, "B after the collapse") && ok;
	/* A's page 0 is its own now: a write there leaves B's alone. */
	akeys[0] = NEW_KEY;
	ksm_fill_page(a, akeys[0]);
	ok = ksm_check_page(a, akeys[0]) < 0 && ok;
	ok = !ksm_check_pages(b, bkeys, N, "B after a write to A") && ok;
	ok = ksm_smaps_kb(a, "AnonHugePages") == (long long)(HPAGE / 1024) && ok;
	ksft_test_result(ok, "THP collapse: MADV_COLLAPSE over %d KSM pages succeeds, one huge page, contents kept, B's %d KSM pages untouched, counters unchanged with run=0\n",
			 N, N);

	/* ksmd merges A's duplicates again, splitting the huge page. */
	ksm_madvise(a, apages, MADV_NOHUGEPAGE);
	want.sharing = N - 1;
	want.unshared = apages - N + 1;
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want);
	huge_kb = ksm_smaps_kb(a, "AnonHugePages");
	aksm = ksm_count_ksm_pages(a, apages);
	bksm = ksm_count_ksm_pages(b, N);
	merging = ksm_proc_merging_pages(0);
	ksft_print_msg("after ksmd's visit: A AnonHugePages %lld kB, KSM pages in A %ld, in B %ld; ksm_merging_pages %lld\n",
		       huge_kb, aksm, bksm, merging);
	ok = ok && huge_kb == 0 && aksm == N - 1 && bksm == N && merging == 2 * N - 1;
	ok = !ksm_check_pages(a, akeys, apages, "A after ksmd") && ok;
	ok = !ksm_check_pages(b, bkeys, N, "B after ksmd") && ok;
	ksft_test_result(ok, "THP collapse: ksmd splits the huge page and merges again: pages_shared %d pages_sharing %d pages_unshared %zu volatile 0\n",
			 N, N - 1, apages - N + 1);
	munmap(a, HPAGE);
	munmap(b, N * ksm_page_size);
	thp_restore();
	ksm_must_unmerge_all();
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], EXEC_ARG))
		return exec_child(argv);

	ksft_print_header();
	ksft_set_plan(7);
	ksm_selftest_init(1000, 0, 170);
	/* A child gone early must fail a case, not kill us by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	test_exec();
	test_threads();
	test_thp_collapse();
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
