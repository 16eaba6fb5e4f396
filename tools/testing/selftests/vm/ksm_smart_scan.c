// SPDX-License-Identifier: GPL-2.0
/*
 * The scan counters and smart scan of Linux 6.6-6.7: pages_scanned,
 * pages_skipped and smart_scan.
 *
 * N idle pages (unique, never written again) and M pages merged into two
 * KSM pages are registered.
 *
 *  - smart_scan reads 1 by default.
 *  - New idle pages, alone: a page found unique three looks in a row is
 *    passed over at its fourth, so within 5 full scans of the first (six
 *    looks at most) each of them has been passed over.  The sample that
 *    tells a change must be taken when the page is first found unique, or
 *    the first pass-over finds a "change" and starts the count again.
 *  - smart_scan 0: every page is looked at every pass (pages_scanned grows
 *    by about N + M a pass) and pages_skipped does not move.
 *  - smart_scan 1: once the idle pages have aged, a pass looks at few of
 *    them: over 8 passes at most 2 looks per idle page, at least 6 passes
 *    over; the merged pages are looked at every pass (never skipped) and
 *    stay merged.  Looked at and passed over add up to the pages visited.
 *  - Merges come no later: a new page equal to an idle page that is being
 *    passed over merges with it within 2 full scans, and so does an idle
 *    page rewritten to equal a KSM page.
 *
 * The lab's time limit for this program - limit: 240s
 */
#include "ksm_util.h"

#define N		1024	/* idle unique pages */
#define M		64	/* merged pages: two contents */
#define K		32	/* new copies of idle pages */
#define KEY_IDLE	0x1d1e0000ULL
#define KEY_NEW		0x2e3f0000ULL
#define KEY_A		0xa1ULL
#define KEY_B		0xb2ULL
#define SCAN_MS		120000

static char *idle, *merged;

struct snap {
	long long scanned, skipped;
};

static void snap(struct snap *s)
{
	s->scanned = ksm_read("pages_scanned");
	s->skipped = ksm_read("pages_skipped");
}

/* Counter moves over @passes full scans, from the end of a pass. */
static bool over_passes(unsigned int passes, struct snap *d)
{
	struct snap a, b;

	if (!ksm_wait_full_scans(1, SCAN_MS))
		return false;
	snap(&a);
	if (!ksm_wait_full_scans(passes, SCAN_MS))
		return false;
	snap(&b);
	d->scanned = b.scanned - a.scanned;
	d->skipped = b.skipped - a.skipped;
	ksft_print_msg("over %u passes: pages_scanned +%lld, pages_skipped +%lld (N %d, M %d)\n",
		       passes, d->scanned, d->skipped, N, M);
	return true;
}

static void setup(void)
{
	static unsigned long long keys[N > M ? N : M];
	size_t i;

	for (i = 0; i < N; i++)
		keys[i] = KEY_IDLE + i;
	idle = ksm_mmap_mergeable(keys, N);
	for (i = 0; i < M; i++)
		keys[i] = i < M / 2 ? KEY_A : KEY_B;
	merged = ksm_mmap_mergeable(keys, M);
}

static void test_new(void)
{
	static unsigned long long keys[N];
	struct snap d;
	char *fresh;
	size_t i;
	bool ok;

	for (i = 0; i < N; i++)
		keys[i] = KEY_NEW + i;
	fresh = ksm_mmap_mergeable(keys, N);
	ksm_set("smart_scan", 1);
	ksm_set("run", 1);
	ok = over_passes(5, &d) && d.skipped >= N;
	ksft_test_result(ok, "smart_scan 1: new idle pages passed over from their fourth look\n");
	ksm_set("run", 0);
	munmap(fresh, N * ksm_page_size);
}

static void test_off(void)
{
	struct ksm_counters want = { .shared = 2, .sharing = M - 2,
				     .unshared = N };
	struct snap d;
	bool ok;

	ksm_set("smart_scan", 0);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want) && over_passes(4, &d);
	/* The counters are read while ksmd goes on: one pass of slack. */
	ok = ok && d.skipped == 0 && d.scanned >= 3 * (N + M) &&
	     d.scanned <= 5 * (N + M);
	ksft_test_result(ok, "smart_scan 0: every page looked at every pass, none skipped\n");
}

static void test_on(void)
{
	struct ksm_counters want = { .shared = 2, .sharing = M - 2,
				     .unshared = N };
	struct snap d;
	bool ok;

	ksm_set("smart_scan", 1);
	/* Ages grow by one a look: ten passes make every idle page old. */
	ok = ksm_wait_full_scans(10, SCAN_MS) && over_passes(8, &d);
	ok = ok && d.scanned + d.skipped >= 7 * (N + M) &&
	     d.scanned + d.skipped <= 9 * (N + M) &&
	     d.scanned <= 7 * M + 2 * N + (N + M) &&
	     d.scanned >= 7 * M && d.skipped >= 5 * N &&
	     d.skipped <= 8 * N;
	ksft_test_result(ok, "smart_scan 1: old idle pages passed over 6 passes in 8, merged pages looked at every pass\n");
	ksft_test_result(ksm_counters_now(&want),
			 "smart_scan 1: the merged pages stay merged, the idle pages unshared\n");
}

static void test_no_later(void)
{
	static unsigned long long keys[K];
	struct ksm_counters want = { .shared = 2 + K, .sharing = M - 2 + K,
				     .unshared = N - K };
	unsigned long waited = 0;
	char *copies;
	size_t i;
	bool ok;

	/* Copies of idle pages that smart scan passes over now. */
	for (i = 0; i < K; i++)
		keys[i] = KEY_IDLE + 7 * i;
	copies = ksm_mmap_mergeable(keys, K);
	ok = ksm_wait_counters_scans(&want, SCAN_MS, &waited);
	ksft_print_msg("copies merged after %lu full scans\n", waited);
	ok = ok && waited <= 2;
	ksft_test_result(ok, "a new copy of a page passed over merges with it within 2 full scans\n");

	/* An idle page rewritten to equal a KSM page. */
	ksm_fill_page(ksm_page_addr(idle, 1), KEY_A);
	want.sharing++;
	want.unshared--;
	ok = ksm_wait_counters_scans(&want, SCAN_MS, &waited);
	ksft_print_msg("rewritten page merged after %lu full scans\n", waited);
	ok = ok && waited <= 2;
	ksft_test_result(ok, "a page passed over and rewritten merges within 2 full scans\n");
	munmap(copies, K * ksm_page_size);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(7);
	ksm_selftest_init(1000, 20, 0);
	if (!ksm_file_exists("smart_scan"))
		ksft_exit_fail_msg("no %ssmart_scan: a KSM older than 6.7\n",
				   KSM_SYSFS_DIR);
	ksft_test_result(ksm_saved_knob("smart_scan") == 1,
			 "smart_scan reads 1 by default\n");
	test_new();
	setup();
	test_off();
	test_on();
	test_no_later();
	ksft_finished();
}
