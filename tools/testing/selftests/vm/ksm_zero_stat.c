// SPDX-License-Identifier: GPL-2.0
/*
 * The zero pages KSM places and what KSM saves, with the files of Linux
 * 6.4-6.x: ksm_zero_pages and general_profit in /sys/kernel/mm/ksm, the
 * lines of /proc/PID/ksm_stat, the "KSM:" line of smaps and smaps_rollup.
 *
 *  - With use_zero_pages 1, an area of Z pages of zeroes and one of D pages
 *    of two contents: every page of zeroes maps the zero page (kpageflags)
 *    and counts in ksm_zero_pages, globally and in ksm_stat, exactly.
 *  - general_profit = (pages_sharing + ksm_zero_pages) * page size - rmap
 *    items * the size of one, and ksm_process_profit likewise with the
 *    process's counters: one item size fits both, exactly.
 *  - ksm_stat has upstream's lines in upstream's order; smaps "KSM:" is
 *    the merged pages of the area, its sum and smaps_rollup's equal
 *    ksm_merging_pages.
 *  - fork: the child has the parent's zero pages at once, no merging page
 *    until ksmd visits it; a write, munmap and mremap take its pages off
 *    the counts at once; its exit gives the global count back.
 *  - A write to a KSM zero page takes it off the counts; MADV_UNMERGEABLE,
 *    run = 2 and PR_SET_MEMORY_MERGE 0 give every one back as a private
 *    page of zeroes.
 *
 * The lab's time limit for this program - limit: 240s
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/prctl.h>
#include "ksm_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define Z		32	/* pages of zeroes */
#define D		16	/* data pages: two contents, D / 2 each */
#define KEY_A		0x5eed01ULL
#define KEY_B		0x5eed02ULL
#define KPF_ZERO_PAGE	(1ULL << 24)
#define SCAN_MS		120000

static char *zarea, *darea;

/* A number of /proc/PID/ksm_stat (0: self); LLONG_MIN if absent. */
static long long stat_of(pid_t pid, const char *key)
{
	char path[64];
	long long v;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid ? pid : getpid());
	v = ksm_read_keyed(path, key);
	return v == -1 && strcmp(key, "ksm_process_profit") ? LLONG_MIN : v;
}

/* ksm_merge_any: or ksm_mergeable: of ksm_stat: 1 yes, 0 no, -1 absent. */
static int stat_yes(const char *key)
{
	char line[128], name[64], val[16];
	int ret = -1;
	FILE *f = fopen("/proc/self/ksm_stat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %15s", name, val) == 2 &&
		    !strcmp(name, key))
			ret = !strcmp(val, "yes") ? 1 : !strcmp(val, "no") ? 0 : -1;
	fclose(f);
	return ret;
}

/* A signed sysfs counter (general_profit); LLONG_MIN if unreadable. */
static long long read_signed(const char *name)
{
	long long v;
	FILE *f = fopen(ksm_path(name), "r");

	if (!f)
		return LLONG_MIN;
	if (fscanf(f, "%lld", &v) != 1)
		v = LLONG_MIN;
	fclose(f);
	return v;
}

static long long zero_pages(void)
{
	return read_signed("ksm_zero_pages");
}

/* Pages of [base, base + n pages) mapping the zero page. */
static long zero_ptes(char *base, size_t n)
{
	unsigned long long pm;
	long count = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		pm = ksm_pagemap(ksm_page_addr(base, i));
		if ((pm & KSM_PM_PRESENT) &&
		    ksm_kpage_flag(pm & KSM_PM_PFN_MASK, KPF_ZERO_PAGE))
			count++;
	}
	return count;
}

/* Every page of the range reads zero. */
static bool all_zero(char *base, size_t n)
{
	size_t i;

	for (i = 0; i < n * ksm_page_size; i++)
		if (base[i])
			return false;
	return true;
}

/* Wait until the global and own KSM zero pages are @global and @self. */
static bool wait_zero(long long global, long long self)
{
	long long deadline = ksm_now_ms() + SCAN_MS;

	while (zero_pages() != global || stat_of(0, "ksm_zero_pages") != self) {
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("ksm_zero_pages %lld, own %lld; wanted %lld, %lld\n",
				       zero_pages(), stat_of(0, "ksm_zero_pages"),
				       global, self);
			return false;
		}
		usleep(20000);
	}
	return ksm_wait_settled(SCAN_MS);
}

static void setup(void)
{
	unsigned long long keys[D];
	size_t i;

	for (i = 0; i < D; i++)
		keys[i] = i < D / 2 ? KEY_A : KEY_B;
	darea = ksm_mmap_mergeable(keys, D);
	zarea = ksm_mmap(Z);
	/* Real pages, written with something and then with zeroes. */
	memset(zarea, 0x5a, Z * ksm_page_size);
	memset(zarea, 0, Z * ksm_page_size);
	ksm_madvise(zarea, Z, MADV_MERGEABLE);
}

static void test_merge(void)
{
	struct ksm_counters want = { .shared = 2, .sharing = D - 2 };
	long zp;
	bool ok;

	ksm_set("use_zero_pages", 1);
	ksm_set("run", 1);
	ok = wait_zero(Z, Z) && ksm_counters_now(&want);
	zp = zero_ptes(zarea, Z);
	ksft_print_msg("ksm_zero_pages %lld, own %lld, zero ptes %ld, ksm_merging_pages %ld\n",
		       zero_pages(), stat_of(0, "ksm_zero_pages"), zp,
		       ksm_proc_merging_pages(0));
	ksft_test_result(ok && zp == Z && ksm_proc_merging_pages(0) == D,
			 "use_zero_pages: %d pages of zeroes map the zero page, ksm_zero_pages %d globally and in ksm_stat\n",
			 Z, Z);
}

static void test_profit(void)
{
	long long gp = read_signed("general_profit");
	long long pp = stat_of(0, "ksm_process_profit");
	long long sharing = ksm_read("pages_sharing");
	long long items = ksm_read("pages_shared") + sharing +
			  ksm_read("pages_unshared") + ksm_read("pages_volatile");
	long long own_items = stat_of(0, "ksm_rmap_items");
	long long merging = ksm_proc_merging_pages(0);
	long long zero = zero_pages(), own_zero = stat_of(0, "ksm_zero_pages");
	long long size = 0, saved = (sharing + zero) * ksm_page_size;
	bool ok = gp != LLONG_MIN && items > 0 && own_items > 0;

	if (ok) {
		/* The one unknown: the size of an rmap item, the same in both. */
		ok = (saved - gp) % items == 0;
		size = (saved - gp) / items;
		ok = ok && size >= 32 && size <= 256 &&
		     pp == (merging + own_zero) * ksm_page_size - own_items * size;
	}
	ksft_print_msg("general_profit %lld, pages_sharing %lld, ksm_zero_pages %lld, rmap items %lld: item size %lld\n",
		       gp, sharing, zero, items, size);
	ksft_print_msg("ksm_process_profit %lld, merging %lld, zero %lld, items %lld\n",
		       pp, merging, own_zero, own_items);
	ksft_test_result(ok, "general_profit and ksm_process_profit: (sharing + zero pages) * page size - items * item size\n");
}

static void test_ksm_stat(void)
{
	static const char * const names[] = {
		"ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages",
		"ksm_process_profit", "ksm_merge_any:", "ksm_mergeable:",
	};
	char line[128], name[64], val[32];
	unsigned int n = 0;
	bool ok = true;
	FILE *f;

	f = fopen("/proc/self/ksm_stat", "r");
	if (!f)
		ksft_exit_fail_msg("open /proc/self/ksm_stat: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %31s", name, val) != 2 ||
		    n >= ARRAY_SIZE(names) || strcmp(name, names[n])) {
			ksft_print_msg("ksm_stat line %u: %s", n + 1, line);
			ok = false;
		} else if (n == 4 && strcmp(val, "no")) {
			ksft_print_msg("ksm_merge_any: %s without the prctl\n", val);
			ok = false;
		} else if (n == 5 && strcmp(val, "yes")) {
			ksft_print_msg("ksm_mergeable: %s with two mergeable areas\n", val);
			ok = false;
		}
		n++;
	}
	fclose(f);
	ksft_test_result(ok && n == ARRAY_SIZE(names),
			 "ksm_stat: upstream's %zu lines in order, merge_any no, mergeable yes\n",
			 ARRAY_SIZE(names));
}

static void test_smaps(void)
{
	long long kb = ksm_page_size / 1024;
	long long dk = ksm_smaps_kb(darea, "KSM");
	long long zk = ksm_smaps_kb(zarea, "KSM");
	long long sum = ksm_smaps_kb(NULL, "KSM");
	long long merging = ksm_proc_merging_pages(0);
	long long rollup = ksm_read_keyed("/proc/self/smaps_rollup", "KSM:");

	ksft_print_msg("smaps KSM: data %lld kB, zeroes %lld kB, all %lld kB, rollup %lld kB; ksm_merging_pages %lld\n",
		       dk, zk, sum, rollup, merging);
	ksft_test_result(dk == D * kb && zk == 0 && sum == merging * kb &&
			 rollup == sum,
			 "smaps KSM: the merged pages of each area; its sum and smaps_rollup's = ksm_merging_pages\n");
}

/* In the child: its counts after fork and after each way of losing pages. */
static int child_fork(void)
{
	long long z0 = stat_of(0, "ksm_zero_pages");
	long long m0 = ksm_proc_merging_pages(0);
	long long g0 = zero_pages();
	char *moved;
	bool ok = true;
	size_t i;

	if (z0 != Z || m0 != 0 || g0 != 2 * Z) {
		printf("# child at once: zero %lld (want %d), merging %lld (want 0), global %lld (want %d)\n",
		       z0, Z, m0, g0, 2 * Z);
		ok = false;
	}
	/* A write to 4 of them, with data that does not merge. */
	for (i = 0; i < 4; i++)
		ksm_fill_page(ksm_page_addr(zarea, i), KEY_A + 100 + i);
	if (stat_of(0, "ksm_zero_pages") != Z - 4 || zero_pages() != 2 * Z - 4) {
		printf("# child after 4 writes: zero %lld, global %lld\n",
		       stat_of(0, "ksm_zero_pages"), zero_pages());
		ok = false;
	}
	/* munmap of 8 more. */
	munmap(ksm_page_addr(zarea, 4), 8 * ksm_page_size);
	if (stat_of(0, "ksm_zero_pages") != Z - 12 || zero_pages() != 2 * Z - 12) {
		printf("# child after munmap of 8: zero %lld, global %lld\n",
		       stat_of(0, "ksm_zero_pages"), zero_pages());
		ok = false;
	}
	/* mremap unmerges what it moves: then ksmd merges it again. */
	moved = mmap(NULL, (Z - 12) * ksm_page_size, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (moved != MAP_FAILED)
		moved = mremap(ksm_page_addr(zarea, 12), (Z - 12) * ksm_page_size,
			       (Z - 12) * ksm_page_size,
			       MREMAP_MAYMOVE | MREMAP_FIXED, moved);
	if (moved == MAP_FAILED) {
		printf("# mremap: %s\n", strerror(errno));
		return 1;
	}
	if (stat_of(0, "ksm_zero_pages") != 0 || zero_pages() != Z ||
	    zero_ptes(moved, Z - 12) || !all_zero(moved, Z - 12)) {
		printf("# child after mremap: zero %lld (want 0), global %lld (want %d), zero ptes %ld\n",
		       stat_of(0, "ksm_zero_pages"), zero_pages(), Z,
		       zero_ptes(moved, Z - 12));
		ok = false;
	}
	/* Now ksmd may look at the child, and merge what mremap unmerged. */
	ksm_set("run", 1);
	if (!wait_zero(Z + Z - 12, Z - 12) ||
	    ksm_proc_merging_pages(0) != D || zero_ptes(moved, Z - 12) != Z - 12) {
		printf("# child rescanned: merging %ld (want %d), zero ptes %ld\n",
		       ksm_proc_merging_pages(0), D, zero_ptes(moved, Z - 12));
		ok = false;
	}
	return ok ? 0 : 1;
}

static void test_fork(void)
{
	pid_t pid;
	bool ok;

	/* ksmd stopped: nothing it does can hide what the child checks. */
	ksm_set("run", 0);
	pid = ksm_fork();
	if (!pid)
		_exit(child_fork());
	ok = ksm_wait_child(pid, "fork");
	ksft_test_result(ok, "fork: the child has the parent's zero pages at once; a write, munmap and mremap take them off at once\n");
	ksft_test_result(zero_pages() == Z && stat_of(0, "ksm_zero_pages") == Z &&
			 zero_ptes(zarea, Z) == Z,
			 "exit: the child's zero pages leave ksm_zero_pages, the parent's stay (%lld)\n",
			 zero_pages());
}

static void test_cow(void)
{
	bool ok;

	zarea[0] = 1;
	ok = zero_pages() == Z - 1 && stat_of(0, "ksm_zero_pages") == Z - 1 &&
	     zero_ptes(zarea, Z) == Z - 1;
	zarea[0] = 0;
	ksft_test_result(ok, "write: a written KSM zero page leaves the counts at once\n");
}

/* After an unmerge: no KSM zero page left, and private pages of zeroes. */
static bool unmerged(const char *what)
{
	long long rss = ksm_smaps_kb(zarea, "Rss");
	long zp = zero_ptes(zarea, Z);

	if (zero_pages() || stat_of(0, "ksm_zero_pages") || zp ||
	    rss != Z * (long long)(ksm_page_size / 1024) || !all_zero(zarea, Z)) {
		ksft_print_msg("after %s: ksm_zero_pages %lld, own %lld, zero ptes %ld, Rss %lld kB\n",
			       what, zero_pages(), stat_of(0, "ksm_zero_pages"), zp, rss);
		return false;
	}
	return true;
}

static void test_unmerge(void)
{
	bool ok;

	ksm_madvise(zarea, Z, MADV_UNMERGEABLE);
	ok = unmerged("MADV_UNMERGEABLE");
	ksft_test_result(ok, "MADV_UNMERGEABLE: every KSM zero page back as a private page of zeroes\n");

	ksm_madvise(zarea, Z, MADV_MERGEABLE);
	ok = wait_zero(Z, Z);
	ksm_set("run", 2);
	ok = unmerged("run = 2") && ok;
	ksft_test_result(ok, "run = 2: every KSM zero page back as a private page of zeroes\n");
}

static void test_prctl(void)
{
	long long before;
	bool ok;

	ksm_madvise(zarea, Z, MADV_UNMERGEABLE);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		ksft_test_result_fail("PR_SET_MEMORY_MERGE 1: %s\n", strerror(errno));
		return;
	}
	ksm_set("run", 1);
	/* The whole process merges: other pages of zeroes may join. */
	ok = ksm_wait_settled(SCAN_MS);
	before = stat_of(0, "ksm_zero_pages");
	ok = ok && before >= Z && zero_ptes(zarea, Z) == Z &&
	     stat_yes("ksm_merge_any:") == 1;
	if (prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0)) {
		ksft_test_result_fail("PR_SET_MEMORY_MERGE 0: %s\n", strerror(errno));
		return;
	}
	ok = unmerged("PR_SET_MEMORY_MERGE 0") && ok;
	ok = ok && stat_yes("ksm_merge_any:") == 0 &&
	     stat_yes("ksm_mergeable:") == 0;
	ksft_test_result(ok, "PR_SET_MEMORY_MERGE 0: every KSM zero page (%lld) back as a private page, merge_any and mergeable no\n",
			 before);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(10);
	ksm_selftest_init(1000, 10, 0);
	if (!ksm_file_exists("ksm_zero_pages"))
		ksft_exit_fail_msg("no %sksm_zero_pages: a KSM older than 6.6\n",
				   KSM_SYSFS_DIR);
	setup();
	test_merge();
	test_profit();
	test_ksm_stat();
	test_smaps();
	test_fork();
	test_cow();
	test_unmerge();
	test_prctl();
	ksft_finished();
}
