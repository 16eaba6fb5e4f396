// SPDX-License-Identifier: GPL-2.0
/*
 * Memory hot-remove of a memory block that holds KSM pages.
 *
 * Areas A and B of N pages each: page i of B holds the content of page i
 * of A; the first N_DISTINCT keys are distinct, the last N_COMMON pages of
 * both areas hold one common key (a KSM page with 2 * N_COMMON mappings).
 * ksmd merges them: pages_shared SHARED, pages_sharing 2N - SHARED.  The
 * guest boots with movablecore=, so user pages come from ZONE_MOVABLE
 * first; the test picks the memory block (/sys/devices/system/memory/
 * memoryX) of zone "Movable" that holds the most KSM pages, stops ksmd
 * (run=0) and offlines it.  Offlining migrates every page out of the block,
 * the KSM pages included (folio_migrate_ksm() points each stable node at
 * its new page), then KSM's memory notifier (MEM_OFFLINE) sweeps the nodes
 * that still name a pfn in the block: there must be none.
 *  - the offline succeeds (EBUSY/EAGAIN retried a few times; a block that
 *    keeps refusing, say because of boot-time reserved pages, makes the
 *    test try the Movable block with the next most KSM pages);
 *  - afterwards every page holds its key, every page is still mapped to a
 *    KSM page (/proc/kpageflags), A[i] and B[i] still map one pfn, the
 *    common-key pages one pfn, SHARED distinct pfns in all, none of them in
 *    the offlined block, and the counters are exactly what they were;
 *  - run=1: area C, a third copy of the keys, merges into the moved KSM
 *    pages: pages_shared stays SHARED, pages_sharing grows by exactly N and
 *    C[i] maps A[i]'s pfn;
 *  - the block is onlined again (online_movable), also on every failure
 *    path (atexit and the fatal signals), and reads "online".
 * A KSM that loses a stable node in migration, or leaves its kpfn behind
 * (the MEM_OFFLINE sweep then drops it), shows as a pages_shared that
 * drops, as pages that are no longer KSM or as C making KSM pages of its
 * own; one whose KSM pages cannot be migrated makes the offline fail or
 * hang (bounded by a timer: the write is interrupted after OFFLINE_TIMEOUT_S).
 * No KSM page in a Movable block is a failure of the set-up (movablecore),
 * not a SKIP; only a kernel without memory hotplug/hot-remove (no sysfs
 * memory blocks, no valid_zones) is a SKIP.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define N		256
#define N_COMMON	32
#define N_DISTINCT	(N - N_COMMON)
#define SHARED		(N_DISTINCT + 1)
#define SHARING_AB	(2 * N - SHARED)
#define SHARING_ABC	(3 * N - SHARED)
#define KEY0		7000
#define KEY_COMMON	6999

#define MEM_DIR			"/sys/devices/system/memory"
#define OFFLINE_TIMEOUT_S	30
#define BUSY_RETRIES		10
#define MAX_CANDIDATES		4
#define NR_CASES		9

static unsigned long long keys[N];
static char *areas[3];			/* A, B, C */
static unsigned long long block_size;

/* The block this program offlined, to be onlined again on every path. */
static char restore_path[128];
static volatile sig_atomic_t block_is_offline;

struct blk {
	unsigned long id;
	int nksm;		/* distinct KSM pages (pfns) in the block */
	char zone[48];
	int zone_err;		/* reading valid_zones: 0 or -errno */
	bool tried;
};

/* ---------------------------------------------------------------------- */
/* Memory block sysfs files.                                              */
/* ---------------------------------------------------------------------- */

static void block_file(char *path, size_t len, unsigned long block, const char *file)
{
	snprintf(path, len, MEM_DIR "/memory%lu/%s", block, file);
}

/* @file of block @block into @buf, newline stripped: 0 or -errno. */
static int block_read(unsigned long block, const char *file, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd, err;

	block_file(path, sizeof(path), block, file);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		err = errno;
		snprintf(buf, len, "(%s)", strerror(err));
		return -err;
	}
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0) {
		snprintf(buf, len, "(%s)", strerror(err));
		return -err;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int block_write(unsigned long block, const char *file, const char *val)
{
	char path[128];
	ssize_t n;
	int fd, err;

	block_file(path, sizeof(path), block, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == strlen(val) ? 0 : -EIO;
}

static void nop_handler(int sig)
{
}

/*
 * Write @val to the block's state, interrupted (EINTR) if it takes more
 * than @timeout_s: offline_pages() retries migration for as long as no
 * signal is pending.  The timer repeats every second after that, in case
 * the first signal lands before the offline started.
 */
static int block_write_state(unsigned long block, const char *val, int timeout_s)
{
	struct itimerspec its = { { 1, 0 }, { timeout_s, 0 } };
	struct sigevent sev;
	timer_t timer;
	int err;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer))
		ksft_exit_fail_msg("timer_create: %s\n", strerror(errno));
	if (timer_settime(timer, 0, &its, NULL))
		ksft_exit_fail_msg("timer_settime: %s\n", strerror(errno));
	err = block_write(block, "state", val);
	timer_delete(timer);
	return err;
}

/* Online the block we offlined: from atexit and from the fatal signals. */
static void restore_block_raw(void)
{
	static const char msg[] = "# restoring the offlined memory block: online_movable\n";
	static const char fail[] = "# writing online_movable failed\n";
	ssize_t n = -1;
	int fd;

	if (!block_is_offline || getpid() != ksm_owner_pid)
		return;
	block_is_offline = 0;
	fd = open(restore_path, O_WRONLY);
	if (fd >= 0) {
		n = write(fd, "online_movable", 14);
		close(fd);
	}
	if (write(STDOUT_FILENO, n == 14 ? msg : fail,
		  n == 14 ? sizeof(msg) - 1 : sizeof(fail) - 1) < 0)
		return;
}

static const int fatal_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGSEGV,
				  SIGBUS, SIGABRT };
static struct sigaction old_actions[ARRAY_SIZE(fatal_sigs)];

static void fatal_handler(int sig)
{
	unsigned int i;

	restore_block_raw();
	/* Then what ksm_selftest_init() installed: restore knobs, exit. */
	for (i = 0; i < ARRAY_SIZE(fatal_sigs); i++) {
		if (fatal_sigs[i] != sig)
			continue;
		if (old_actions[i].sa_handler != SIG_DFL &&
		    old_actions[i].sa_handler != SIG_IGN)
			old_actions[i].sa_handler(sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(KSFT_FAIL);
}

static void install_restore(void)
{
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nop_handler;	/* no SA_RESTART: the write sees EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	/* A reader of stdout that goes away must not stop the clean-up. */
	signal(SIGPIPE, SIG_IGN);

	sa.sa_handler = fatal_handler;
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < ARRAY_SIZE(fatal_sigs); i++)
		sigaction(fatal_sigs[i], &sa, &old_actions[i]);
	atexit(restore_block_raw);
}

static void need_hotremove(void)
{
	char buf[64] = "", *end;
	ssize_t n;
	int fd;

	fd = open(MEM_DIR "/block_size_bytes", O_RDONLY);
	if (fd < 0)
		ksft_exit_skip("no %s/block_size_bytes: kernel without CONFIG_MEMORY_HOTPLUG\n",
			       MEM_DIR);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		ksft_exit_fail_msg("cannot read %s/block_size_bytes\n", MEM_DIR);
	buf[n] = '\0';
	block_size = strtoull(buf, &end, 16);
	if (!block_size || block_size % ksm_page_size)
		ksft_exit_fail_msg("block_size_bytes reads \"%s\"\n", buf);
	ksft_print_msg("memory block size 0x%llx bytes (%llu pages)\n", block_size,
		       block_size / ksm_page_size);
}

static unsigned long block_of(unsigned long long pfn)
{
	return pfn * ksm_page_size / block_size;
}

/* ---------------------------------------------------------------------- */
/* Pages.                                                                 */
/* ---------------------------------------------------------------------- */

static unsigned long long pfn_of(const void *addr)
{
	unsigned long long ent = ksm_pagemap(addr);

	return ent & KSM_PM_PRESENT ? ent & KSM_PM_PFN_MASK : 0;
}

static bool pfn_is_ksm(unsigned long long pfn)
{
	long long flags = pfn ? ksm_kpage("/proc/kpageflags", pfn) : -1;

	return flags >= 0 && (flags & KSM_KPF_KSM);
}

static char *new_area(void)
{
	char *p = ksm_mmap(N);

	/* No THP: a huge page would have to be split before merging. */
	ksm_madvise(p, N, MADV_NOHUGEPAGE);
	ksm_fill_pages(p, keys, N);
	ksm_madvise(p, N, MADV_MERGEABLE);
	return p;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* Sort @v and count its distinct values. */
static size_t distinct(unsigned long long *v, size_t n)
{
	size_t i, d = 0;

	qsort(v, n, sizeof(*v), cmp_ull);
	for (i = 0; i < n; i++)
		if (!i || v[i] != v[i - 1])
			d++;
	return d;
}

/*
 * The first @nareas areas are merged as they should be: page i of every
 * area maps one KSM page, the common-key pages all one, SHARED of them in
 * all; and none in block @avoid (if >= 0).  pfns[i]: the pfn of page i.
 */
static bool check_layout(int nareas, long avoid, unsigned long long *pfns,
			 const char *what)
{
	unsigned long long sorted[N], p0, p;
	int i, a, bad = 0;
	size_t d;

	for (i = 0; i < N; i++) {
		p0 = pfn_of(ksm_page_addr(areas[0], i));
		pfns[i] = p0;
		for (a = 1; a < nareas; a++) {
			p = pfn_of(ksm_page_addr(areas[a], i));
			if (p0 && p == p0)
				continue;
			if (bad++ < 5)
				ksft_print_msg("%s: page %d: area %c maps pfn %llx, area A %llx\n",
					       what, i, 'A' + a, p, p0);
		}
		if (!pfn_is_ksm(p0)) {
			if (bad++ < 5)
				ksft_print_msg("%s: page %d: pfn %llx not KSM (kpageflags %llx)\n",
					       what, i, p0, p0 ? (unsigned long long)
					       ksm_kpage("/proc/kpageflags", p0) : 0ULL);
		}
		if (avoid >= 0 && p0 && block_of(p0) == (unsigned long)avoid) {
			if (bad++ < 5)
				ksft_print_msg("%s: page %d maps pfn %llx, in offlined block %ld\n",
					       what, i, p0, avoid);
		}
		if (i >= N_DISTINCT && p0 != pfns[N_DISTINCT]) {
			if (bad++ < 5)
				ksft_print_msg("%s: common-key page %d: pfn %llx, page %d %llx\n",
					       what, i, p0, N_DISTINCT, pfns[N_DISTINCT]);
		}
	}
	memcpy(sorted, pfns, sizeof(sorted));
	d = distinct(sorted, N);
	if (d != SHARED) {
		ksft_print_msg("%s: %zu distinct pfns, expected %d\n", what, d, SHARED);
		bad++;
	}
	if (bad)
		ksft_print_msg("%s: %d problems\n", what, bad);
	return !bad;
}

static bool contents_intact(int nareas, const char *what)
{
	size_t bad = 0;
	int a;

	for (a = 0; a < nareas; a++)
		bad += ksm_check_pages(areas[a], keys, N, what);
	return !bad;
}

/*
 * The blocks that hold the KSM pages of @pfns (N of them), with their
 * zones, into @blks (already-tried blocks keep their mark); returns how
 * many blocks.
 */
static int census(const unsigned long long *pfns, struct blk *blks, int nold)
{
	unsigned long long sorted[N];
	struct blk old[N];
	int nb = 0, i, j;
	size_t k;

	memcpy(old, blks, nold * sizeof(*old));
	memcpy(sorted, pfns, sizeof(sorted));
	distinct(sorted, N);
	for (k = 0; k < N; k++) {
		unsigned long b;

		if (!sorted[k] || (k && sorted[k] == sorted[k - 1]) ||
		    !pfn_is_ksm(sorted[k]))
			continue;
		b = block_of(sorted[k]);
		for (i = 0; i < nb && blks[i].id != b; i++)
			;
		if (i == nb) {
			memset(&blks[nb], 0, sizeof(blks[nb]));
			blks[nb].id = b;
			blks[nb].zone_err = block_read(b, "valid_zones", blks[nb].zone,
						       sizeof(blks[nb].zone));
			for (j = 0; j < nold; j++)
				if (old[j].id == b)
					blks[nb].tried = old[j].tried;
			nb++;
		}
		blks[i].nksm++;
	}
	for (i = 0; i < nb; i++)
		ksft_print_msg("block %lu: %d KSM pages, valid_zones \"%s\"%s\n", blks[i].id,
			       blks[i].nksm, blks[i].zone, blks[i].tried ? " (tried)" : "");
	return nb;
}

/* The untried Movable block with the most KSM pages, or -1. */
static int pick(const struct blk *blks, int nb)
{
	int i, best = -1;

	for (i = 0; i < nb; i++) {
		if (blks[i].tried || strcmp(blks[i].zone, "Movable"))
			continue;
		if (best < 0 || blks[i].nksm > blks[best].nksm)
			best = i;
	}
	return best;
}

/*
 * Offline block @b: EBUSY/EAGAIN retried.  0, or the last -errno;
 * *@hung set when the write had to be interrupted.
 */
static int offline_block(unsigned long b, bool *hung)
{
	long long t0;
	int err = 0, try;
	char state[48];

	*hung = false;
	/* Restore it if we die while it is (going) offline. */
	block_file(restore_path, sizeof(restore_path), b, "state");
	for (try = 0; try < BUSY_RETRIES; try++) {
		t0 = ksm_now_ms();
		block_is_offline = 1;
		err = block_write_state(b, "offline", OFFLINE_TIMEOUT_S);
		block_read(b, "state", state, sizeof(state));
		ksft_print_msg("offline block %lu, try %d: %s after %lld ms, state \"%s\"\n",
			       b, try + 1, err ? strerror(-err) : "done", ksm_now_ms() - t0,
			       state);
		if (!err)
			return 0;
		block_is_offline = strcmp(state, "online") != 0;
		if (err == -EINTR) {
			*hung = true;
			return err;
		}
		if (err != -EBUSY && err != -EAGAIN)
			return err;
		usleep(200000);
	}
	return err;
}

static bool online_block(unsigned long b)
{
	char state[48] = "", zone[48] = "";
	int err = 0, try;

	for (try = 0; try < 5; try++) {
		err = block_write_state(b, "online_movable", OFFLINE_TIMEOUT_S);
		block_read(b, "state", state, sizeof(state));
		ksft_print_msg("online_movable block %lu: %s, state \"%s\"\n", b,
			       err ? strerror(-err) : "done", state);
		if (!err)
			break;
		usleep(200000);
	}
	if (!strcmp(state, "online"))
		block_is_offline = 0;
	block_read(b, "valid_zones", zone, sizeof(zone));
	ksft_print_msg("block %lu now: state \"%s\", valid_zones \"%s\"\n", b, state, zone);
	return !err && !strcmp(state, "online");
}

int main(void)
{
	struct ksm_counters merged_ab = { SHARED, SHARING_AB, 0, 0, 0, 0 };
	struct ksm_counters merged_abc = { SHARED, SHARING_ABC, 0, 0, 0, 0 };
	unsigned long long before[N], after[N], withc[N];
	struct blk blks[N];
	int nb = 0, i, idx = -1, cand, err = 0, moved = 0, in_block = 0, was_in = 0;
	long chosen = -1;
	bool ok, merged, offline = false, hung = false;
	char state[48] = "";

	ksft_print_header();
	ksft_set_plan(NR_CASES);
	ksm_selftest_init(1000, 0, 170);
	need_hotremove();
	install_restore();

	for (i = 0; i < N; i++)
		keys[i] = i < N_DISTINCT ? KEY0 + i : KEY_COMMON;

	/* 1: A and B merge. */
	areas[0] = new_area();
	areas[1] = new_area();
	ksm_set("run", 1);
	merged = ksm_wait_counters(&merged_ab);
	ksm_set("run", 0);
	merged = check_layout(2, -1, before, "merged") && merged;
	merged = contents_intact(2, "merged") && merged;
	ksft_test_result(merged, "A, B merged: pages_shared %d pages_sharing %d, A[i], B[i] one KSM page\n",
			 SHARED, SHARING_AB);

	/* 2: a Movable block holding KSM pages. */
	nb = census(before, blks, 0);
	idx = pick(blks, nb);
	if (idx < 0) {
		for (i = 0; i < nb && blks[i].zone_err == -ENOENT; i++)
			;
		if (nb && i == nb)
			ksft_exit_skip("no valid_zones in %s/memoryN: kernel without CONFIG_MEMORY_HOTREMOVE\n",
				       MEM_DIR);
		ksft_print_msg("no KSM page in a block of zone Movable (no movablecore=?)\n");
		ksft_test_result_fail("a block of zone Movable holds KSM pages\n");
	} else {
		if (block_read(blks[idx].id, "state", state, sizeof(state)) == -ENOENT)
			ksft_exit_skip("no %s/memory%lu/state: kernel without memory hotplug\n",
				       MEM_DIR, blks[idx].id);
		ksft_print_msg("chosen: block %lu, zone %s, state %s, %d of %d KSM pages\n",
			       blks[idx].id, blks[idx].zone, state, blks[idx].nksm, SHARED);
		ksft_test_result(true, "block %lu (zone %s) holds %d of the %d KSM pages\n",
				 blks[idx].id, blks[idx].zone, blks[idx].nksm, SHARED);
	}

	/*
	 * 3: offline it.  A block that refuses at once (EBUSY: a reserved
	 * page, say) leaves every page where it was: then the Movable block
	 * with the next most KSM pages, looked for afresh.
	 */
	for (cand = 0; idx >= 0 && cand < MAX_CANDIDATES; cand++) {
		if (cand) {
			check_layout(2, -1, before, "after a refused offline");
			nb = census(before, blks, nb);
			idx = pick(blks, nb);
			if (idx < 0)
				break;
			ksft_print_msg("trying block %lu (zone %s, %d KSM pages) instead\n",
				       blks[idx].id, blks[idx].zone, blks[idx].nksm);
		}
		blks[idx].tried = true;
		chosen = blks[idx].id;
		in_block = blks[idx].nksm;
		err = offline_block(chosen, &hung);
		if (!err) {
			offline = true;
			break;
		}
		if (hung)
			break;
	}
	if (chosen >= 0)
		block_read(chosen, "state", state, sizeof(state));
	offline = offline && !strcmp(state, "offline");
	if (chosen >= 0)
		ksft_test_result(offline, "offline of block %ld (%d KSM pages): %s, state \"%s\"\n",
				 chosen, in_block, err ? strerror(-err) : "done", state);
	else
		ksft_test_result_fail("offline: no block to offline\n");

	/* 4-6: the KSM pages moved, intact, still merged, same counters. */
	if (offline) {
		ok = contents_intact(2, "after offline");
		ksft_test_result(ok, "after offline: every page of A and B holds its key\n");

		ok = check_layout(2, chosen, after, "after offline");
		for (i = 0; i < N; i++) {
			moved += after[i] != before[i];
			was_in += block_of(before[i]) == (unsigned long)chosen;
		}
		ksft_print_msg("after offline: %d of %d pages of A moved; %d were in block %ld\n",
			       moved, N, was_in, chosen);
		ksft_test_result(ok, "after offline: A[i], B[i] one KSM page, %d in all, none in block %ld\n",
				 SHARED, chosen);

		ok = ksm_counters_now(&merged_ab);
		ksft_test_result(ok, "after offline: pages_shared %d pages_sharing %d, the rest 0, as before\n",
				 SHARED, SHARING_AB);
	} else {
		ksft_test_result_fail("after offline: contents (block not offlined)\n");
		ksft_test_result_fail("after offline: KSM mappings (block not offlined)\n");
		ksft_test_result_fail("after offline: counters (block not offlined)\n");
	}

	/* 7: C merges into the moved KSM pages. */
	if (offline) {
		areas[2] = new_area();
		ksm_set("run", 1);
		ok = ksm_wait_counters(&merged_abc);
		ok = check_layout(3, chosen, withc, "C merged") && ok;
		/*
		 * Not asserted: NUMA balancing or compaction may have
		 * moved a KSM page since (with its mappings, which
		 * check_layout() checks).
		 */
		for (i = 0, moved = 0; i < N; i++)
			moved += withc[i] != after[i];
		ksft_print_msg("C merged: %d of %d pages map another pfn than after the offline\n",
			       moved, N);
		ok = contents_intact(3, "C merged") && ok;
		ksft_test_result(ok, "C merges into the moved KSM pages: pages_shared %d pages_sharing %d\n",
				 SHARED, SHARING_ABC);
	} else {
		ksft_test_result_fail("C merging into moved KSM pages (block not offlined)\n");
	}

	/* 8: the block back online. */
	if (offline) {
		ok = online_block(chosen);
		ksft_test_result(ok, "block %ld onlined again (online_movable): state \"online\"\n",
				 chosen);
	} else {
		if (block_is_offline && chosen >= 0)
			online_block(chosen);
		ksft_test_result_fail("online_movable: block not offlined\n");
	}

	for (i = 0; i < 3; i++)
		if (areas[i])
			munmap(areas[i], N * ksm_page_size);
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
