// SPDX-License-Identifier: GPL-2.0
/*
 * The scan knobs do what the admin guide says, measured from outside:
 * the pace of ksmd in full_scans and pages_scanned against the clock.
 * Bounds are floors that the sleeps alone imply (a slow guest only makes
 * a scan longer) or ratios of two measurements on the same guest, so a
 * knob that is ignored fails while a guest 2x slower still passes.
 *
 * ksmd scans pages_to_scan pages (a step that looks at no page, such as
 * the end of a pass, costs one), then sleeps sleep_millisecs; so between
 * two ends of a pass of U units there are at least U / pages_to_scan
 * sleeps.  smart_scan is set to 0 so that every visit of a page counts in
 * pages_scanned, and every area is MADV_NOHUGEPAGE.
 *
 *  1. pages_to_scan sets the pace: 2048 registered pages (1024 unique, 512
 *     pairs: pages_shared 512, pages_sharing 512), sleep_millisecs 50.
 *     With pages_to_scan 64 a pass (2049+ units) spans at least 32 sleeps
 *     (>= 1.5 s): each of 2 full scans must take >= 1.2 s.  With 2048 a
 *     scan (one batch) must take at most half as long as with 64 (mean of
 *     3 scans against mean of 2).  pages_scanned grows by 2048 per full
 *     scan (+-3 batches of polling lag), and in bursts - the pages of one
 *     wakeup, told apart by the sleeps between them - whose median is
 *     within [32, 80] for pages_to_scan 64.  A KSM that ignored
 *     pages_to_scan scans as fast (or as slowly) with both values.
 *  2. sleep_millisecs sets the pause: 128 unique pages, pages_to_scan 128
 *     (a pass, 129+ units, needs about one batch, and no batch holds two
 *     ends of a pass).  With 500, 4 full scans span at least 4 sleeps
 *     (>= 1.98 s): they must take >= 1.5 s; with 20 they must take at
 *     most a third of the time they took with 500.
 *  3. A lowered sleep_millisecs wakes ksmd at once: with 60000 written,
 *     once ksmd has made its batch and gone to sleep, full_scans and
 *     pages_scanned must not move for 3 s; after writing 10, full_scans
 *     must advance by >= 2 within 3 s (without the wake-up nothing would
 *     happen for a minute).
 *  4. run=0 stops scanning at once: pages_scanned does not move from the
 *     moment the write returns, full_scans and every counter stay as they
 *     are for 2 s while 32 pages are made copies of 32 others (they do not
 *     merge); run=1 resumes and they merge: pages_shared 32,
 *     pages_sharing 32, pages_unshared 0, pages_volatile 0, contents
 *     intact, 64 KSM pages.
 *  5. stable_node_chains_prune_millisecs.  max_page_sharing 2 and 4 copies
 *     of one content (among 2044 unique pages): pages_shared 2,
 *     pages_sharing 2, stable_node_chains 1, stable_node_dups 2, the 4
 *     pages on 2 PFNs, 2 each.  Our stable.c prunes a chain (drops its
 *     freed dups, turns a chain of one dup back into a plain stable node)
 *     in two places: at a search that meets the chain once the prune
 *     interval has passed since its last prune, and - whatever the
 *     interval, as our admin guide says ("Every full scan also does this
 *     for all sets") - in the sweep that ends every full scan.  So the
 *     knob shows only inside a pass, and this case works inside one:
 *     with the prune interval 60000 and batches of 512 pages 100 ms apart,
 *     ksmd is stopped (run=0) just after a pass ended, at most 512 units
 *     into the next; the 2 pages mapping one dup's PFN are MADV_UNMERGEABLE'd
 *     (pages_shared 1 and pages_sharing 1 at once: the items go with the
 *     madvise); a write of max_page_sharing 3 fails with EBUSY and, on its
 *     way, lets go of the now unmapped dup (release of unmapped KSM pages),
 *     which leaves stable_node_chains 1, stable_node_dups 1.  Then
 *     pages_to_scan 32, sleep_millisecs 100 and run=1: the rest of the
 *     pass (>= 1538 units) lasts >= 4.6 s, and every unique page's visit
 *     searches the stable tree, whose only entry is the chain:
 *      - for 1.5 s the chain stays (chains 1, dups 1, shared 1, sharing 1)
 *        while pages_scanned moves and full_scans does not;
 *      - after writing 10, the next search prunes it: chains 0, dups 0,
 *        shared 1, sharing 1 within 2 s, full_scans still unmoved.
 *     Then, with 60000 again, a second chain (4 more copies of another
 *     content) loses a dup the same way, and the end of the next full scan
 *     prunes it regardless of the interval (chains 0, dups 0, shared 2,
 *     sharing 2).  A KSM that ignores the knob either prunes at the first
 *     search (the 60000 window fails) or only at the end of a pass (the
 *     10 write changes nothing within the pass).
 *  6. run=2 brings every counter back to 0.
 *
 * About 30 s on a TCG guest.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define POLL_US		1000
#define MAX_BURSTS	4096
#define WAIT_MS		30000

/* Case 1 */
#define R1		2048
#define R1_UNIQUE	1024
#define R1_PAIRS	((R1 - R1_UNIQUE) / 2)
#define SLOW_PTS	64
#define FAST_PTS	2048
#define PACE_SLEEP	50
#define SLOW_SCAN_MIN	1200

/* Cases 2, 3 */
#define R2		128
#define R2_PTS		128
#define LONG_SLEEP	500
#define SHORT_SLEEP	20

/* Case 4 */
#define R4		64

/* Case 5 */
#define R5		2048
#define NCOPIES		4
#define C5_FAST_PTS	512
#define C5_SLOW_PTS	32
#define C5_SLOW_SLEEP	100
#define C5_WINDOW	1500
#define C5_PRUNE_WAIT	2000

#define KEY1_UNIQUE	1000ULL
#define KEY1_PAIR	5000ULL
#define KEY2		9000ULL
#define KEY4		12000ULL
#define KEY5		20000ULL
#define KEY_CHAIN1	30000ULL
#define KEY_CHAIN2	30001ULL

static bool have_ps;

static unsigned long pages_scanned(void)
{
	return have_ps ? ksm_read("pages_scanned") : 0;
}

/* A fresh area of @n pages, page i holding keys[i], no THP, registered. */
static char *make_area(const unsigned long long *keys, size_t n)
{
	char *p = ksm_mmap(n);

	/* EINVAL without THP: then there is nothing to keep away. */
	if (madvise(p, n * ksm_page_size, MADV_NOHUGEPAGE) && errno != EINVAL)
		ksft_exit_fail_msg("MADV_NOHUGEPAGE: %s\n", strerror(errno));
	ksm_fill_pages(p, keys, n);
	ksm_madvise(p, n, MADV_MERGEABLE);
	return p;
}

static unsigned long long *alloc_keys(size_t n)
{
	unsigned long long *k = calloc(n, sizeof(*k));

	if (!k)
		ksft_exit_fail_msg("calloc: %s\n", strerror(errno));
	return k;
}

/*
 * The pages of one wakeup of ksmd: pages_scanned sampled every poll; a
 * change that comes @gap_ms or more after the one before starts a burst.
 */
struct bursts {
	long gap_ms;
	bool primed, open;
	unsigned long last, start;
	long long t_change;
	size_t n;
	unsigned long size[MAX_BURSTS];
};

static struct bursts bursts;

static void bursts_init(struct bursts *b, long gap_ms)
{
	memset(b, 0, sizeof(*b));
	b->gap_ms = gap_ms;
}

static void bursts_sample(struct bursts *b)
{
	unsigned long v = pages_scanned();
	long long now = ksm_now_ms();

	if (!b->primed) {
		b->primed = true;
		b->last = v;
		b->t_change = now;
		return;
	}
	if (v == b->last)
		return;
	if (!b->open || now - b->t_change >= b->gap_ms) {
		if (b->open && b->n < MAX_BURSTS)
			b->size[b->n++] = b->last - b->start;
		b->start = b->last;
		b->open = true;
	}
	b->last = v;
	b->t_change = now;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Wait until full_scans >= @target: *@fs gets the value seen, *@t when.
 * Samples @b on the way, if given.
 */
static bool wait_fs(unsigned long target, long timeout_ms, unsigned long *fs,
		    long long *t, struct bursts *b)
{
	long long deadline = ksm_now_ms() + timeout_ms, now;
	unsigned long v;

	for (;;) {
		v = ksm_full_scans();
		now = ksm_now_ms();
		if (b)
			bursts_sample(b);
		if (v >= target) {
			if (fs)
				*fs = v;
			if (t)
				*t = now;
			return true;
		}
		if (now > deadline) {
			ksft_print_msg("timeout: full_scans %lu after %ld ms, waited for %lu\n",
				       v, timeout_ms, target);
			return false;
		}
		usleep(POLL_US);
	}
}

/* Wait for the next end of a pass: *@fs and *@t are its count and time. */
static bool sync_pass(long timeout_ms, unsigned long *fs, long long *t)
{
	return wait_fs(ksm_full_scans() + 1, timeout_ms, fs, t, NULL);
}

/* Read the counters and compare them with @want, printing a mismatch. */
static bool counters_are(const struct ksm_counters *want, const char *what)
{
	if (ksm_counters_now(want))
		return true;
	ksft_print_msg("(%s)\n", what);
	return false;
}

static unsigned long long pfn_of(const void *addr)
{
	unsigned long long ent = ksm_pagemap(addr);

	return ent & KSM_PM_PRESENT ? ent & KSM_PM_PFN_MASK : 0;
}

static bool is_ksm_page(const void *addr)
{
	unsigned long long pfn = pfn_of(addr);
	long long flags = pfn ? ksm_kpage("/proc/kpageflags", pfn) : -1;

	return flags >= 0 && (flags & KSM_KPF_KSM);
}

/* ------------------------------------------------------------------ */
/* 1. pages_to_scan                                                    */
/* ------------------------------------------------------------------ */

static void case_pages_to_scan(void)
{
	struct ksm_counters merged = { R1_PAIRS, R1_PAIRS, KSM_ANY, KSM_ANY, 0, 0 };
	unsigned long long *keys = alloc_keys(R1);
	unsigned long s0, s1, s2, s3, ps0, ps2;
	long long t0, t1, t2, tfast = -1, d1 = -1, d2 = -1;
	unsigned long med = 0;
	size_t i, nb = 0;
	bool ok, ok_fast, ok_slow;
	char *area;

	for (i = 0; i < R1_UNIQUE; i++)
		keys[i] = KEY1_UNIQUE + i;
	for (i = R1_UNIQUE; i < R1; i++)
		keys[i] = KEY1_PAIR + (i - R1_UNIQUE) / 2;
	area = make_area(keys, R1);

	ksm_set("pages_to_scan", FAST_PTS);
	ksm_set("sleep_millisecs", PACE_SLEEP);
	ksm_set("run", 1);
	ok = ksm_wait_counters_scans(&merged, WAIT_MS, NULL);
	ok = ok && !ksm_check_pages(area, keys, R1, "case 1");
	ksft_test_result(ok, "%d pages, %d pairs among them: pages_shared %d pages_sharing %d\n",
			 R1, R1_PAIRS, R1_PAIRS, R1_PAIRS);

	/* Fast: pages_to_scan 2048, 3 full scans. */
	ok_fast = sync_pass(WAIT_MS, &s0, &t0) &&
		  wait_fs(s0 + 3, WAIT_MS, &s1, &t1, NULL);
	if (ok_fast)
		tfast = t1 - t0;

	/* Slow: pages_to_scan 64, 2 full scans, timed one by one. */
	ksm_set("pages_to_scan", SLOW_PTS);
	ok_slow = sync_pass(WAIT_MS, &s0, &t0);
	ps0 = pages_scanned();
	bursts_init(&bursts, PACE_SLEEP / 2);
	ok_slow = ok_slow && wait_fs(s0 + 1, WAIT_MS, &s2, &t1, have_ps ? &bursts : NULL);
	ok_slow = ok_slow && wait_fs(s0 + 2, WAIT_MS, &s3, &t2, have_ps ? &bursts : NULL);
	ps2 = pages_scanned();
	if (ok_slow) {
		d1 = t1 - t0;
		d2 = t2 - t1;
		ok_slow = s2 == s0 + 1 && s3 == s0 + 2;
	}
	ksft_print_msg("pages_to_scan %d: 3 full scans in %lld ms\n", FAST_PTS, tfast);
	ksft_print_msg("pages_to_scan %d: full scans of %lld and %lld ms\n", SLOW_PTS, d1, d2);

	ksft_test_result(ok_slow && d1 >= SLOW_SCAN_MIN && d2 >= SLOW_SCAN_MIN,
			 "pages_to_scan %d, sleep %d ms: each scan of %d pages >= %d ms (%lld, %lld)\n",
			 SLOW_PTS, PACE_SLEEP, R1, SLOW_SCAN_MIN, d1, d2);
	/* Mean fast scan (tfast / 3) at most half the mean slow one. */
	ksft_test_result(ok_fast && ok_slow && 4 * tfast <= 3 * (d1 + d2),
			 "pages_to_scan %d: a full scan at most half as long as with %d (%lld vs %lld ms)\n",
			 FAST_PTS, SLOW_PTS, ok_fast ? tfast / 3 : -1,
			 ok_slow ? (d1 + d2) / 2 : -1);

	if (!have_ps) {
		ksft_test_result_skip("no %spages_scanned in this kernel\n", KSM_SYSFS_DIR);
	} else {
		long delta = (long)(ps2 - ps0) - 2L * R1;

		/* bursts.size[0] may have been sampled from mid-batch. */
		if (bursts.n > 1) {
			nb = bursts.n - 1;
			qsort(bursts.size + 1, nb, sizeof(bursts.size[0]), cmp_ulong);
			med = bursts.size[1 + nb / 2];
			ksft_print_msg("%zu bursts of pages_scanned: min %lu median %lu max %lu\n",
				       nb, bursts.size[1], med, bursts.size[nb]);
		}
		ksft_print_msg("pages_scanned +%lu over 2 full scans of %d pages\n",
			       ps2 - ps0, R1);
		ksft_test_result(ok_slow && labs(delta) <= 3 * SLOW_PTS && nb >= 16 &&
				 med >= SLOW_PTS / 2 && med <= SLOW_PTS * 5 / 4,
				 "pages_scanned: +%d per full scan, median %lu per wakeup for pages_to_scan %d\n",
				 R1, med, SLOW_PTS);
	}

	munmap(area, R1 * ksm_page_size);
	free(keys);
	ksm_must_unmerge_all();
}

/* ------------------------------------------------------------------ */
/* 2. sleep_millisecs, 3. the wake-up when it is lowered               */
/* ------------------------------------------------------------------ */

/* The time of 4 full scans, from the end of a pass. */
static long long time_4_scans(void)
{
	unsigned long s0;
	long long t0, t1;

	if (!sync_pass(WAIT_MS, &s0, &t0) || !wait_fs(s0 + 4, WAIT_MS, NULL, &t1, NULL))
		return -1;
	return t1 - t0;
}

static void case_sleep(void)
{
	long long tshort, tlong;

	ksm_set("sleep_millisecs", SHORT_SLEEP);
	tshort = time_4_scans();
	ksm_set("sleep_millisecs", LONG_SLEEP);
	tlong = time_4_scans();
	ksft_print_msg("4 full scans of %d pages: %lld ms with sleep_millisecs %d, %lld ms with %d\n",
		       R2, tshort, SHORT_SLEEP, tlong, LONG_SLEEP);
	ksft_test_result(tlong >= 1500,
			 "sleep_millisecs %d: 4 full scans take >= 1500 ms (%lld)\n",
			 LONG_SLEEP, tlong);
	ksft_test_result(tshort >= 0 && tlong >= 0 && 3 * tshort <= tlong,
			 "sleep_millisecs %d: 4 full scans take at most a third of the time with %d\n",
			 SHORT_SLEEP, LONG_SLEEP);
}

/* Wait until full_scans and pages_scanned stay put for @quiet_ms. */
static bool wait_quiet(long quiet_ms, long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms, since = ksm_now_ms();
	unsigned long fs = ksm_full_scans(), ps = pages_scanned(), f, p;

	for (;;) {
		usleep(5 * POLL_US);
		f = ksm_full_scans();
		p = pages_scanned();
		if (f != fs || p != ps) {
			fs = f;
			ps = p;
			since = ksm_now_ms();
		}
		if (ksm_now_ms() - since >= quiet_ms)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("ksmd still scanning %ld ms after sleep_millisecs 60000\n",
				       timeout_ms);
			return false;
		}
	}
}

static void case_wake(char *area, const unsigned long long *keys)
{
	unsigned long s0, ps0, f, p;
	long long t0, first = -1, deadline, now;
	bool ok;

	ksm_set("sleep_millisecs", 60000);
	ok = wait_quiet(700, 10000);
	s0 = ksm_full_scans();
	ps0 = pages_scanned();
	t0 = ksm_now_ms();
	while (ok && (now = ksm_now_ms()) - t0 < 3000) {
		f = ksm_full_scans();
		p = pages_scanned();
		if (f != s0 || p != ps0) {
			ksft_print_msg("after %lld ms: full_scans %lu -> %lu, pages_scanned %lu -> %lu\n",
				       now - t0, s0, f, ps0, p);
			ok = false;
		}
		usleep(5 * POLL_US);
	}
	ksft_test_result(ok, "sleep_millisecs 60000: full_scans and pages_scanned still for 3 s\n");

	s0 = ksm_full_scans();
	ps0 = pages_scanned();
	ksm_set("sleep_millisecs", 10);
	t0 = ksm_now_ms();
	deadline = t0 + 3000;
	for (;;) {
		f = ksm_full_scans();
		now = ksm_now_ms();
		if (first < 0 && (pages_scanned() != ps0 || f != s0))
			first = now - t0;
		if (f >= s0 + 2 || now > deadline)
			break;
		usleep(POLL_US);
	}
	ksft_print_msg("sleep_millisecs 10: first page scanned after %lld ms\n", first);
	ksft_print_msg("full_scans %lu -> %lu in %lld ms\n", s0, f, now - t0);
	ok = f >= s0 + 2;
	ok = !ksm_check_pages(area, keys, R2, "cases 2-3") && ok;
	ksft_test_result(ok, "sleep_millisecs 60000 -> 10 wakes ksmd: full_scans +2 within 3 s\n");
}

static void case_sleep_and_wake(void)
{
	unsigned long long *keys = alloc_keys(R2);
	char *area;
	size_t i;

	for (i = 0; i < R2; i++)
		keys[i] = KEY2 + i;
	area = make_area(keys, R2);
	ksm_set("pages_to_scan", R2_PTS);
	ksm_set("sleep_millisecs", SHORT_SLEEP);
	ksm_set("run", 1);
	case_sleep();
	case_wake(area, keys);
	munmap(area, R2 * ksm_page_size);
	free(keys);
	ksm_must_unmerge_all();
}

/* ------------------------------------------------------------------ */
/* 4. run=0, run=1                                                     */
/* ------------------------------------------------------------------ */

static void case_run(void)
{
	struct ksm_counters uniq = { 0, 0, KSM_ANY, KSM_ANY, 0, 0 };
	struct ksm_counters merged = { R4 / 2, R4 / 2, 0, 0, 0, 0 };
	struct ksm_counters c0, c;
	unsigned long long keys[R4];
	unsigned long s0, ps0, f, p;
	long long t0, now, nksm;
	bool ok;
	char *area;
	size_t i;

	for (i = 0; i < R4; i++)
		keys[i] = KEY4 + i;
	area = make_area(keys, R4);
	ksm_set("pages_to_scan", C5_FAST_PTS);
	ksm_set("sleep_millisecs", SHORT_SLEEP);
	ksm_set("run", 1);
	ok = ksm_wait_counters_scans(&uniq, WAIT_MS, NULL);
	ok = ok && wait_fs(ksm_full_scans() + 2, WAIT_MS, NULL, NULL, NULL);

	ksm_set("run", 0);
	ps0 = pages_scanned();
	/* A pass ksmd had ended before the write may still be counted. */
	usleep(300 * 1000);
	s0 = ksm_full_scans();
	ksm_read_counters(&c0);
	/* The second half becomes copies of the first: would merge. */
	for (i = R4 / 2; i < R4; i++) {
		keys[i] = keys[i - R4 / 2];
		ksm_fill_page(ksm_page_addr(area, i), keys[i]);
	}
	t0 = ksm_now_ms();
	while (ok && (now = ksm_now_ms()) - t0 < 2000) {
		f = ksm_full_scans();
		p = pages_scanned();
		ksm_read_counters(&c);
		if (f != s0 || p != ps0 || memcmp(&c, &c0, sizeof(c))) {
			ksft_print_msg("run=0, after %lld ms: full_scans %lu -> %lu, pages_scanned %lu -> %lu\n",
				       now - t0, s0, f, ps0, p);
			ksm_print_counters("now");
			ok = false;
		}
		usleep(5 * POLL_US);
	}
	ksft_test_result(ok, "run=0: stops at once; scans and counters frozen 2 s, copies written\n");

	ksm_set("run", 1);
	ok = ksm_wait_counters_scans(&merged, WAIT_MS, NULL);
	ok = !ksm_check_pages(area, keys, R4, "case 4") && ok;
	nksm = ksm_count_ksm_pages(area, R4);
	if (nksm != R4)
		ksft_print_msg("%lld of %d pages map a KSM page\n", nksm, R4);
	ksft_test_result(ok && nksm == R4,
			 "run=1: resumes, %d copies merge: pages_shared %d pages_sharing %d pages_unshared 0\n",
			 R4 / 2, R4 / 2, R4 / 2);
	munmap(area, R4 * ksm_page_size);
	ksm_must_unmerge_all();
}

/* ------------------------------------------------------------------ */
/* 5. stable_node_chains_prune_millisecs                               */
/* ------------------------------------------------------------------ */

/* The two copies other than page 3 and its partner @j. */
static void other_pair(size_t j, size_t *a, size_t *b)
{
	*a = j == 0 ? 1 : 0;
	*b = j == 2 ? 1 : 2;
}

/* Pages @a and @b of @p map one KSM page, holding @key. */
static bool same_ksm_page(char *p, size_t a, size_t b, unsigned long long key)
{
	unsigned long long pa = pfn_of(ksm_page_addr(p, a));
	unsigned long long pb = pfn_of(ksm_page_addr(p, b));

	if (pa && pa == pb && is_ksm_page(ksm_page_addr(p, a)) &&
	    ksm_check_page(ksm_page_addr(p, a), key) < 0)
		return true;
	ksft_print_msg("copies %zu and %zu: PFNs %llx and %llx, not one KSM page of their content\n",
		       a, b, pa, pb);
	return false;
}

/*
 * @p holds NCOPIES copies of @key, merged with max_page_sharing 2: two KSM
 * pages, two mappings each.  *@j: the copy that shares page 3's PFN.
 */
static bool two_dups(char *p, unsigned long long key, size_t *j)
{
	unsigned long long pfn[NCOPIES];
	size_t i, a, b, same = 0;

	for (i = 0; i < NCOPIES; i++)
		pfn[i] = pfn_of(ksm_page_addr(p, i));
	ksft_print_msg("copies on PFNs %llx %llx %llx %llx\n", pfn[0], pfn[1], pfn[2],
		       pfn[3]);
	for (i = 0; i < NCOPIES - 1; i++) {
		if (pfn[i] == pfn[NCOPIES - 1]) {
			*j = i;
			same++;
		}
	}
	if (same != 1) {
		ksft_print_msg("%zu copies share page 3's PFN, wanted 1\n", same);
		return false;
	}
	other_pair(*j, &a, &b);
	return same_ksm_page(p, *j, NCOPIES - 1, key) && same_ksm_page(p, a, b, key);
}

/*
 * Stop ksmd right after a pass has ended, unmerge page 3 of @p and the
 * page @j that shares its KSM page, and have the now unmapped dup let go
 * of (max_page_sharing written while KSM pages exist: EBUSY).  @base:
 * pages_shared and pages_sharing of the other KSM pages there are.
 * Batches of 512 pages 100 ms apart: the write of run=0 comes long before
 * the batch after the one that ended the pass, so ksmd stops at most 512
 * units into the new pass.
 */
static bool drop_one_dup(char *p, unsigned long long key, size_t j, long base)
{
	struct ksm_counters at_once = { base + 1, base + 1, KSM_ANY, KSM_ANY, 1, KSM_ANY };
	struct ksm_counters one_dup = { base + 1, base + 1, KSM_ANY, KSM_ANY, 1, 1 };
	unsigned long fs;
	bool ok;
	int err;

	ksm_set("pages_to_scan", C5_FAST_PTS);
	ksm_set("sleep_millisecs", C5_SLOW_SLEEP);
	ok = sync_pass(WAIT_MS, &fs, NULL);
	ksm_set("run", 0);
	ksm_madvise(ksm_page_addr(p, j), 1, MADV_UNMERGEABLE);
	ksm_madvise(ksm_page_addr(p, NCOPIES - 1), 1, MADV_UNMERGEABLE);
	ok = counters_are(&at_once, "right after MADV_UNMERGEABLE of one dup's 2 pages") && ok;
	ksm_print_counters("after MADV_UNMERGEABLE");
	err = ksm_write_ulong("max_page_sharing", 3);
	if (err != -EBUSY || ksm_read("max_page_sharing") != 2) {
		ksft_print_msg("max_page_sharing 3 with KSM pages: %s, reads %lu (want EBUSY, 2)\n",
			       strerror(-err), ksm_read("max_page_sharing"));
		ok = false;
	}
	ok = counters_are(&one_dup, "after the EBUSY write of max_page_sharing") && ok;
	if (is_ksm_page(ksm_page_addr(p, j)) || is_ksm_page(ksm_page_addr(p, NCOPIES - 1)) ||
	    ksm_check_page(ksm_page_addr(p, j), key) >= 0 ||
	    ksm_check_page(ksm_page_addr(p, NCOPIES - 1), key) >= 0) {
		ksft_print_msg("unmerged pages: still KSM, or content changed\n");
		ok = false;
	}
	return ok;
}

static void case_prune(void)
{
	struct ksm_counters chain = { 2, 2, KSM_ANY, KSM_ANY, 1, 2 };
	struct ksm_counters chain2 = { 3, 3, KSM_ANY, KSM_ANY, 1, 2 };
	struct ksm_counters kept = { 1, 1, KSM_ANY, KSM_ANY, 1, 1 };
	struct ksm_counters pruned = { 1, 1, KSM_ANY, KSM_ANY, 0, 0 };
	struct ksm_counters pruned2 = { 2, 2, KSM_ANY, KSM_ANY, 0, 0 };
	unsigned long long *keys = alloc_keys(R5), keys2[NCOPIES];
	unsigned long fs0, ps0, f;
	long long t0, t1, now, lat = -1;
	bool ok, ok_win, ok_prune;
	struct ksm_counters c;
	char *area, *area2;
	size_t i, a, b, j = 0, j2 = 0;

	ksm_set("max_page_sharing", 2);
	ksm_set("stable_node_chains_prune_millisecs", 60000);
	for (i = 0; i < R5; i++)
		keys[i] = i < NCOPIES ? KEY_CHAIN1 : KEY5 + i;
	area = make_area(keys, R5);
	ksm_set("pages_to_scan", C5_FAST_PTS);
	ksm_set("sleep_millisecs", SHORT_SLEEP);
	ksm_set("run", 1);
	ok = ksm_wait_counters_scans(&chain, WAIT_MS, NULL) && two_dups(area, KEY_CHAIN1, &j);
	ksft_test_result(ok, "max_page_sharing 2, %d copies: shared 2 sharing 2 chains 1 dups 2\n",
			 NCOPIES);

	/* Stopped after a pass ended: a dup goes, the chain keeps the other. */
	ok = ok && drop_one_dup(area, KEY_CHAIN1, j, 0);
	ksft_test_result(ok, "one dup unmerged: shared 1 sharing 1 at once, then chains 1 dups 1\n");

	/* Slowly through the rest of the pass, the chain searched on the way. */
	ksm_set("pages_to_scan", C5_SLOW_PTS);
	ksm_set("sleep_millisecs", C5_SLOW_SLEEP);
	fs0 = ksm_full_scans();
	ps0 = pages_scanned();
	ok_win = ok;
	ksm_set("run", 1);
	t0 = ksm_now_ms();
	while (ok_win && (now = ksm_now_ms()) - t0 < C5_WINDOW) {
		ksm_read_counters(&c);
		if (!ksm_counters_match(&c, &kept)) {
			ksft_print_msg("prune interval 60000: chain changed %lld ms after run=1\n",
				       now - t0);
			counters_are(&kept, "chain of one dup, before the prune interval");
			ok_win = false;
		}
		usleep(5 * POLL_US);
	}
	f = ksm_full_scans();
	ksft_print_msg("window of %d ms: pages_scanned +%lu, full_scans %lu -> %lu\n",
		       C5_WINDOW, pages_scanned() - ps0, fs0, f);
	if (ok_win && (f != fs0 || (have_ps && pages_scanned() - ps0 < 2 * C5_SLOW_PTS))) {
		ksft_print_msg("the window was not inside one pass with searches\n");
		ok_win = false;
	}
	ksft_test_result(ok_win, "prune 60000: chain of one dup kept %d ms of searches in a pass\n",
			 C5_WINDOW);

	ksm_set("stable_node_chains_prune_millisecs", 10);
	t1 = ksm_now_ms();
	ok_prune = ok;
	while (ok_prune) {
		ksm_read_counters(&c);
		now = ksm_now_ms();
		if (ksm_counters_match(&c, &pruned)) {
			lat = now - t1;
			break;
		}
		if (now - t1 > C5_PRUNE_WAIT) {
			ksft_print_msg("prune interval 10: not pruned after %d ms\n",
				       C5_PRUNE_WAIT);
			counters_are(&pruned, "after the prune interval went to 10");
			ok_prune = false;
		}
		usleep(POLL_US);
	}
	f = ksm_full_scans();
	ksft_print_msg("pruned %lld ms after the write; full_scans %lu -> %lu\n", lat, fs0, f);
	if (ok_prune && f != fs0) {
		ksft_print_msg("a pass ended meanwhile: its sweep may have pruned\n");
		ok_prune = false;
	}
	usleep(200 * 1000);
	ok_prune = ok_prune && counters_are(&pruned, "200 ms after the prune");
	other_pair(j, &a, &b);
	ok_prune = ok_prune && same_ksm_page(area, a, b, KEY_CHAIN1) &&
		   !ksm_check_pages(area, keys, R5, "case 5");
	ksft_test_result(ok_prune, "prune 10: the next search in the pass prunes it: chains 0 dups 0\n");

	/* The sweep at the end of a full scan prunes whatever the interval. */
	ksm_set("stable_node_chains_prune_millisecs", 60000);
	ksm_set("pages_to_scan", C5_FAST_PTS);
	ksm_set("sleep_millisecs", SHORT_SLEEP);
	for (i = 0; i < NCOPIES; i++)
		keys2[i] = KEY_CHAIN2;
	area2 = make_area(keys2, NCOPIES);
	ok = ksm_wait_counters_scans(&chain2, WAIT_MS, NULL) && two_dups(area2, KEY_CHAIN2, &j2);
	ok = ok && drop_one_dup(area2, KEY_CHAIN2, j2, 1);
	f = ksm_full_scans();
	t0 = ksm_now_ms();
	ksm_set("run", 1);
	ok = ok && wait_fs(f + 1, WAIT_MS, NULL, &t1, NULL);
	ok = ok && counters_are(&pruned2, "after the next full scan, prune interval 60000");
	ksft_print_msg("second chain pruned by the end of a full scan, %lld ms after run=1\n",
		       t1 - t0);
	ok = ok && !ksm_check_pages(area2, keys2, NCOPIES, "case 5, second chain");
	ksft_test_result(ok, "prune 60000: the end of the next full scan prunes a chain of one dup\n");

	munmap(area, R5 * ksm_page_size);
	munmap(area2, NCOPIES * ksm_page_size);
	free(keys);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(16);
	ksm_selftest_init(FAST_PTS, PACE_SLEEP, 150);
	have_ps = ksm_file_exists("pages_scanned");
	if (!have_ps)
		ksft_print_msg("no pages_scanned: its checks are skipped\n");
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);

	case_pages_to_scan();		/* 4 results */
	case_sleep_and_wake();		/* 4 */
	case_run();			/* 2 */
	case_prune();			/* 5 */

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
