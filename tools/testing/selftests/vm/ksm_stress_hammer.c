// SPDX-License-Identifier: GPL-2.0
/*
 * KSM hammer stress: writes racing with ksmd's merge of the very page.
 *
 * ksmd compares a page with a KSM page, then write-protects it, compares
 * again and only then maps the KSM page in its place.  A write that lands
 * between the first comparison and the protection must make the merge fail;
 * a write after the protection must fault and go to a copy.  Get either
 * wrong (no second comparison, a TLB entry left writable, a COW that copies
 * the wrong page) and a write is lost, or a page holds a mix of two
 * contents.  ksm_stress_churn meets this race now and then among
 * everything else; here it is met many times a second.
 *
 * Two hammer processes each keep a few pages that hold one of a few keys,
 * beside untouched pages of the same keys (so that a KSM page of each key
 * is always there), all mergeable, while ksmd runs flat out (pages_to_scan
 * at its maximum, sleep_millisecs 0).  Each hammer
 * goes round its pages without pause, in phases of
 *  - flips: the first word of each page flipped back and forth (bitwise
 *    not), checked before every flip;
 *  - rewrites: each page rewritten whole with another key, checked whole
 *    before;
 *  - a fork: the child checks the copy it inherited (pages that are KSM
 *    pages or shared with the parent), flips words of its own copy for a
 *    moment and exits; the parent goes on meanwhile, then checks all.
 * Now and then a page is checked whole and given another key.
 * The keys and max_page_sharing (2 forms chains of the KSM pages) come
 * from the seed.
 *
 * The run fails on any mismatch or unexpected error; if no hammered page
 * was ever seen merged (on a new pfn that is a KSM page: a fork's copy on
 * write changes the pfn too, to a page of its own), or cow_ksm did not
 * grow (only hammered pages are written); if pages_sharing never reached
 * what the untouched pages alone make once merged; or if the counters
 * are not all 0 after run=2 once the hammers have exited.
 *
 * Usage: ksm_stress_hammer [-t SECONDS] [-s SEED]; the seed is printed
 * first.
 *
 * The lab runs it in the stress suite - suite: stress
 * make stress runs it for - long: 300s
 * and the short run of make check (30 s) within - limit: 180s
 */
#define _GNU_SOURCE
#include <limits.h>
#include "ksm_util.h"
#include "ksm_stress.h"

#define DEFAULT_SECS	30
#define NHAMMERS	2
#define NPAGES		8	/* hammered pages per hammer */
#define NKEYS		4	/* keys 1..NKEYS */
#define PHASE_MS	100
#define REPORT_MAX	10

struct shared {
	unsigned long long flips;
	unsigned long long merged;	/* a hammered page seen on a new KSM pfn */
	unsigned long long forks;
	unsigned long long errors;
};

static struct shared *sh;
static unsigned long long rng;
static unsigned int reported;
static const char *who = "main";
static char *area, *anchors;
static unsigned long long keys[NPAGES], pfns[NPAGES];
static bool flipped[NPAGES];
static int pagemap_fd = -1;

static unsigned long long word(unsigned long long key, size_t i, bool flip)
{
	unsigned long long v = ksm_mix64(key * 4099 + i);

	return flip && !i ? ~v : v;
}

static unsigned long long *page_words(size_t i)
{
	return (unsigned long long *)(area + i * ksm_page_size);
}

static void fill(size_t i, unsigned long long key)
{
	unsigned long long *v = page_words(i);
	size_t j, n = ksm_page_size / sizeof(*v);

	for (j = 0; j < n; j++)
		v[j] = word(key, j, false);
	keys[i] = key;
	flipped[i] = false;
}

static unsigned long long pfn_of(const void *addr)
{
	unsigned long long ent = 0;

	if (pread(pagemap_fd, &ent, sizeof(ent),
		  (unsigned long)addr / ksm_page_size * sizeof(ent)) != sizeof(ent))
		return 0;
	return ent & KSM_PM_PFN_MASK;
}

static void mismatch(size_t i, const char *what, long off)
{
	if (reported++ < REPORT_MAX)
		printf("# %s: MISMATCH (%s): page %zu at %p key %llu flipped %d: offset %ld\n",
		       who, what, i, page_words(i), keys[i], flipped[i], off);
}

/* Check hammered page @i whole; true if right. */
static bool check(size_t i, const char *what)
{
	const unsigned long long *v = page_words(i);
	size_t j, n = ksm_page_size / sizeof(*v);

	for (j = 0; j < n; j++) {
		if (v[j] != word(keys[i], j, flipped[i])) {
			mismatch(i, what, j * sizeof(*v));
			ksm_stress_verified(1, 1);
			/* Start again from the whole key. */
			fill(i, keys[i]);
			return false;
		}
	}
	ksm_stress_verified(1, 0);
	return true;
}

static void check_all(const char *what)
{
	size_t i;

	for (i = 0; i < NPAGES; i++)
		check(i, what);
	for (i = 0; i < 2 * NKEYS; i++) {
		long off = ksm_check_page(anchors + i * ksm_page_size, 1 + i % NKEYS);

		if (off >= 0 && reported++ < REPORT_MAX)
			printf("# %s: MISMATCH (%s): untouched page %zu differs at offset %ld\n",
			       who, what, i, off);
		ksm_stress_verified(1, off >= 0);
	}
}

/* Flip the first words until @until; returns the flips. */
static unsigned long long flip_phase(long long until)
{
	unsigned long long n = 0, *v, want, got;
	size_t i;

	while (ksm_now_ms() < until) {
		for (i = 0; i < NPAGES; i++) {
			v = page_words(i);
			want = word(keys[i], 0, flipped[i]);
			got = __atomic_load_n(v, __ATOMIC_RELAXED);
			if (got != want) {
				mismatch(i, "flip", 0);
				ksm_stress_verified(1, 1);
				fill(i, keys[i]);
				continue;
			}
			flipped[i] = !flipped[i];
			__atomic_store_n(v, word(keys[i], 0, flipped[i]), __ATOMIC_RELAXED);
			n++;
		}
	}
	return n;
}

/* Rewrite whole pages with other keys until @until, each checked before. */
static void rewrite_phase(long long until)
{
	size_t i;

	while (ksm_now_ms() < until) {
		for (i = 0; i < NPAGES; i++) {
			if (check(i, "before a rewrite"))
				fill(i, 1 + ksm_rand_below(&rng, NKEYS));
		}
	}
}

/* A page on a new pfn that is a KSM page: merged since last seen. */
static void note_merges(void)
{
	unsigned long long pfn;
	long long flags;
	size_t i;

	for (i = 0; i < NPAGES; i++) {
		pfn = pfn_of(page_words(i));
		if (pfn && pfn != pfns[i]) {
			flags = ksm_kpage("/proc/kpageflags", pfn);
			if (flags > 0 && (flags & KSM_KPF_KSM))
				__atomic_fetch_add(&sh->merged, 1, __ATOMIC_RELAXED);
		}
		pfns[i] = pfn;
	}
}

static void fork_phase(long long until)
{
	pid_t parent = getpid(), pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("# %s: fork: %s\n", who, strerror(errno));
		__atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(12);
		who = "child";
		check_all("child, inherited");
		flip_phase(ksm_now_ms() + PHASE_MS / 2);
		check_all("child, at its exit");
		fflush(stdout);
		_exit(reported ? 10 : 0);
	}
	__atomic_fetch_add(&sh->forks, 1, __ATOMIC_RELAXED);
	flip_phase(until);
	if (waitpid(pid, &status, 0) != pid ||
	    !(WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
				    WEXITSTATUS(status) == 10))) {
		printf("# %s: child %d: status %#x\n", who, pid, status);
		__atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED);
	}
	check_all("after a child's exit");
}

static void hammer(int id)
{
	unsigned long long flips = 0;
	static char name[16];
	long long until;
	unsigned int phase;
	size_t i;

	snprintf(name, sizeof(name), "writer %d", id);
	who = name;
	rng = ksm_rand_stream(id);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	area = mmap(NULL, NPAGES * ksm_page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	anchors = mmap(NULL, 2 * NKEYS * ksm_page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pagemap_fd < 0 || area == MAP_FAILED || anchors == MAP_FAILED) {
		printf("# %s: setup: %s\n", who, strerror(errno));
		_exit(11);
	}
	for (i = 0; i < NPAGES; i++)
		fill(i, 1 + ksm_rand_below(&rng, NKEYS));
	for (i = 0; i < 2 * NKEYS; i++)
		ksm_fill_page(anchors + i * ksm_page_size, 1 + i % NKEYS);
	if (madvise(area, NPAGES * ksm_page_size, MADV_MERGEABLE) ||
	    madvise(anchors, 2 * NKEYS * ksm_page_size, MADV_MERGEABLE)) {
		printf("# %s: madvise: %s\n", who, strerror(errno));
		_exit(11);
	}
	for (i = 0; i < NPAGES; i++)
		pfns[i] = pfn_of(page_words(i));

	while (ksm_stress_running()) {
		until = ksm_now_ms() + PHASE_MS;
		phase = ksm_rand_below(&rng, 10);
		if (phase < 6)
			flips += flip_phase(until);
		else if (phase < 9)
			rewrite_phase(until);
		else
			fork_phase(until);
		note_merges();
		/* One page checked whole, and given another key. */
		i = ksm_rand_below(&rng, NPAGES);
		if (check(i, "re-key"))
			fill(i, 1 + ksm_rand_below(&rng, NKEYS));
		ksm_stress_ops(1);
	}
	check_all("at the end");
	__atomic_fetch_add(&sh->flips, flips, __ATOMIC_RELAXED);
	fflush(stdout);
	_exit(reported ? 10 : 0);
}

int main(int argc, char **argv)
{
	static const unsigned long sharing[] = { 2, 3, 256 };
	unsigned long max_sharing = 0, mps, scans = 0, last = 0, now, anchored;
	unsigned long copies = 2 * NHAMMERS;
	pid_t pids[NHAMMERS];
	long long cow0, cow1, t0;
	struct ksm_counters c;
	bool ok = true, zero = false;
	int i, status = 0;

	ksm_stress_init(argc, argv, DEFAULT_SECS);
	ksft_print_header();
	ksft_set_plan(5);
	/* Flat out: only ksmd's own bound on a step lets go of its locks. */
	ksm_selftest_init(UINT_MAX, 0, ksm_stress_watchdog());
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	rng = ksm_rand_stream(0xffff);
	mps = sharing[ksm_rand_below(&rng, ARRAY_SIZE(sharing))];
	ksm_set("max_page_sharing", mps);
	/*
	 * The untouched pages alone, once merged: each key has @copies of
	 * them, at most @mps to a KSM page.
	 */
	anchored = NKEYS * (copies - (copies + mps - 1) / mps);
	ksft_print_msg("%d hammers x %d pages, %d keys, max_page_sharing %lu\n",
		       NHAMMERS, NPAGES, NKEYS, mps);
	cow0 = ksm_vmstat("cow_ksm");
	ksm_set("run", 1);
	for (i = 0; i < NHAMMERS; i++) {
		pids[i] = ksm_fork();
		if (!pids[i])
			hammer(i);
	}
	while (ksm_stress_running()) {
		now = ksm_read("pages_sharing");
		if (now > max_sharing)
			max_sharing = now;
		now = ksm_full_scans();
		if (now > last)
			scans += now - last;
		last = now;
		usleep(100000);
	}
	/* 0, or 10 for mismatches (counted and printed): anything else is wrong. */
	for (i = 0; i < NHAMMERS; i++) {
		if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
		    (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 10))
			continue;
		ksft_print_msg("writer %d: status %#x\n", i, status);
		ok = false;
	}
	cow1 = ksm_vmstat("cow_ksm");
	now = ksm_full_scans();
	if (now > last)
		scans += now - last;

	/* Every counter 0 after run=2, with no process of ours left. */
	ksm_set("run", 2);
	t0 = ksm_now_ms();
	while (ksm_now_ms() - t0 < 30000) {
		ksm_read_counters(&c);
		zero = !c.shared && !c.sharing && !c.unshared && !c.vol && !c.chains &&
		       !c.dups;
		if (zero)
			break;
		usleep(KSM_POLL_US);
	}
	if (!zero)
		ksm_print_counters("30 s after run=2");

	ksft_print_msg("%llu flips, %llu forks; hammered pages seen newly merged %llu times\n",
		       sh->flips, sh->forks, sh->merged);
	ksft_print_msg("cow_ksm +%lld; %lu full scans, max pages_sharing %lu\n",
		       cow0 >= 0 ? cow1 - cow0 : -1, scans, max_sharing);
	ksft_test_result(ksm_stats->mismatches == 0 && ksm_stats->verified > 0,
			 "no write lost or merged away: %llu checks, %llu mismatches (seed %llu)\n",
			 ksm_stats->verified, ksm_stats->mismatches, ksm_seed);
	ksft_test_result(ok && !sh->errors, "no unexpected error\n");
	ksft_test_result(sh->merged > 0 && cow0 >= 0 && cow1 > cow0,
			 "ksmd merged hammered pages (seen %llu times), whose writes copied KSM pages (cow_ksm +%lld)\n",
			 sh->merged, cow0 >= 0 ? cow1 - cow0 : -1);
	ksft_test_result(max_sharing >= anchored,
			 "pages_sharing reached %lu, at least the %lu of the untouched pages merged\n",
			 max_sharing, anchored);
	ksft_test_result(zero, "every counter 0 after run=2 once the hammers had exited\n");
	ksm_stress_summary();
	ksft_finished();
}
