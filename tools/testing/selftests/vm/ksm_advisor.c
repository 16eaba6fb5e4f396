// SPDX-License-Identifier: GPL-2.0
/*
 * The advisor of Linux 6.8: advisor_mode, advisor_max_cpu,
 * advisor_min_pages_to_scan, advisor_max_pages_to_scan and
 * advisor_target_scan_time in /sys/kernel/mm/ksm.
 *
 *  - Defaults: mode "[none] scan-time", 70 %, 500, 30000, 200 s.
 *  - Bad input is EINVAL and changes nothing: an unknown mode, a target
 *    of 0 s, a CPU share of 0 or above 100 %, a rate bound of 0.
 *  - The rate bounds are written each on its own, in any order, as
 *    upstream's: a minimum above the maximum, and a maximum below the
 *    minimum, are taken and read back.
 *  - "scan-time" reads back in brackets, starts pages_to_scan at the
 *    minimum, and makes writes to pages_to_scan EINVAL; "none" gives
 *    pages_to_scan its default, 100, and writable again.  With the
 *    maximum below the minimum, it starts at the maximum.
 *  - Convergence: with a target of 2 s, a full scan of 32 MiB takes
 *    between 1 and 4 s after a few passes; with 4 times the memory, the
 *    advisor raises the rate and a full scan again takes 1 to 4 s.
 *  - The cap: with a target of 1 s for 128 MiB, ksmd takes some CPU share
 *    uncapped; with advisor_max_cpu a third of that, the advisor lowers
 *    the rate (its mean over four passes) below two thirds of the
 *    uncapped one, and ksmd's share to at most twice the cap (plus 2 %:
 *    the share is measured in ticks).
 *
 * The lab's time limit for this program - limit: 420s
 */
#include "ksm_util.h"

#define SMALL		8192	/* pages, 32 MiB with 4 KiB pages */
#define TARGET_S	2
#define PASS_MS		600000

static const char *mode(void)
{
	static char buf[64];
	ssize_t n;
	int fd = open(ksm_path("advisor_mode"), O_RDONLY);

	buf[0] = '\0';
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return buf;
}

static void test_defaults(void)
{
	bool ok = !strcmp(mode(), "[none] scan-time\n") &&
		  ksm_saved_knob("advisor_max_cpu") == 70 &&
		  ksm_saved_knob("advisor_min_pages_to_scan") == 500 &&
		  ksm_saved_knob("advisor_max_pages_to_scan") == 30000 &&
		  ksm_saved_knob("advisor_target_scan_time") == 200;

	if (!ok)
		ksft_print_msg("advisor_mode %s", mode());
	ksft_test_result(ok, "defaults: [none] scan-time, 70 %%, 500, 30000, 200 s\n");
}

/* A write that must fail with EINVAL and leave @name as it was. */
static bool refused(const char *name, const char *val)
{
	unsigned long before = 0, after = 0;
	const char *m = NULL;
	int err;

	if (strcmp(name, "advisor_mode"))
		before = ksm_read(name);
	else
		m = strdup(mode());
	err = ksm_write_str(name, val);
	if (!m)
		after = ksm_read(name);
	if (m ? strcmp(m, mode()) != 0 : after != before)
		err = -EBUSY;	/* changed */
	free((void *)m);
	if (err != -EINVAL) {
		ksft_print_msg("%s <- \"%s\": %s (%lu -> %lu)\n", name, val,
			       strerror(-err), before, after);
		return false;
	}
	return true;
}

static void test_errors(void)
{
	bool ok = true;

	ok &= refused("advisor_mode", "bogus");
	ok &= refused("advisor_mode", "scan-time-x");
	ok &= refused("advisor_target_scan_time", "0");
	ok &= refused("advisor_max_cpu", "0");
	ok &= refused("advisor_max_cpu", "101");
	ok &= refused("advisor_min_pages_to_scan", "0");
	ok &= refused("advisor_max_pages_to_scan", "0");
	ksft_test_result(ok, "bad values: EINVAL, nothing changed\n");
}

/* The bounds cross for a moment as a script sets a new range. */
static void test_bounds_any_order(void)
{
	bool ok;

	ok = !ksm_write_str("advisor_min_pages_to_scan", "50000") &&
	     ksm_read("advisor_min_pages_to_scan") == 50000 &&
	     !ksm_write_str("advisor_max_pages_to_scan", "100000") &&
	     ksm_read("advisor_max_pages_to_scan") == 100000 &&
	     !ksm_write_str("advisor_max_pages_to_scan", "499") &&
	     ksm_read("advisor_max_pages_to_scan") == 499 &&
	     !ksm_write_str("advisor_min_pages_to_scan", "500") &&
	     !ksm_write_str("advisor_max_pages_to_scan", "30000");
	ok = ok && ksm_read("advisor_min_pages_to_scan") == 500 &&
	     ksm_read("advisor_max_pages_to_scan") == 30000;
	ksft_test_result(ok, "the rate bounds are taken in any order, crossed or not\n");
}

static void test_mode(void)
{
	bool ok;
	int err;

	ksm_set("pages_to_scan", 1234);
	ok = !ksm_write_str("advisor_mode", "scan-time\n") &&
	     !strcmp(mode(), "none [scan-time]\n") &&
	     ksm_read("pages_to_scan") == 500;
	err = ksm_write_str("pages_to_scan", "777");
	ok = ok && err == -EINVAL && ksm_read("pages_to_scan") == 500;
	ksft_test_result(ok, "scan-time: reads back in brackets, pages_to_scan starts at the minimum and is EINVAL to write\n");
	ok = !ksm_write_str("advisor_mode", "none") &&
	     !strcmp(mode(), "[none] scan-time\n") &&
	     ksm_read("pages_to_scan") == 100 &&
	     !ksm_write_str("pages_to_scan", "777");
	ksft_test_result(ok, "none: pages_to_scan back to 100, writable\n");

	ok = !ksm_write_str("advisor_max_pages_to_scan", "499") &&
	     !ksm_write_str("advisor_mode", "scan-time") &&
	     ksm_read("pages_to_scan") == 499;
	ksft_test_result(ok, "scan-time with the maximum below the minimum: pages_to_scan starts at the maximum (%lu)\n",
			 ksm_read("pages_to_scan"));
	if (ksm_write_str("advisor_mode", "none") ||
	    ksm_write_str("advisor_max_pages_to_scan", "30000"))
		ksft_exit_fail_msg("could not switch the advisor back off\n");
}

/* The time the next full scan takes, in ms; -1 on timeout. */
static long long pass_ms(void)
{
	long long t0;

	if (!ksm_wait_full_scans(1, PASS_MS))
		return -1;
	t0 = ksm_now_ms();
	if (!ksm_wait_full_scans(1, PASS_MS))
		return -1;
	return ksm_now_ms() - t0;
}

/*
 * Up to 12 passes, until two in a row last half to twice the target.  Three
 * passes in a row out of that range, each leaving pages_to_scan as it was,
 * are an advisor that does not steer: no need to wait for the other nine.
 */
static bool converges(const char *what)
{
	long long ms, lo = TARGET_S * 500, hi = TARGET_S * 2000;
	unsigned long rate, last = ksm_read("pages_to_scan");
	unsigned int pass, good = 0, stuck = 0;

	for (pass = 1; pass <= 12 && good < 2 && stuck < 3; pass++) {
		ms = pass_ms();
		rate = ksm_read("pages_to_scan");
		ksft_print_msg("%s: pass %u took %lld ms, pages_to_scan now %lu\n",
			       what, pass, ms, rate);
		if (ms < 0)
			return false;
		good = ms >= lo && ms <= hi ? good + 1 : 0;
		stuck = !good && rate == last ? stuck + 1 : 0;
		last = rate;
	}
	return good == 2;
}

static void test_converge(void)
{
	static unsigned long long keys[4 * SMALL];
	size_t i;
	bool ok;

	for (i = 0; i < 4 * SMALL; i++)
		keys[i] = 0xad000000ULL + i;
	ksm_mmap_mergeable(keys, SMALL);
	ksm_set("sleep_millisecs", 20);
	ksm_set("advisor_target_scan_time", TARGET_S);
	ksm_set("advisor_min_pages_to_scan", 50);
	ksm_set("advisor_max_cpu", 100);
	/* On, from its minimum: a ksmd left at the old rate fails below. */
	ok = !ksm_write_str("advisor_mode", "scan-time") &&
	     !strcmp(mode(), "none [scan-time]\n") &&
	     ksm_read("pages_to_scan") == 50;
	if (!ok)
		ksft_print_msg("advisor_mode %s", mode());
	ksm_set("run", 1);
	ok = converges("32 MiB") && ok;
	/* At the minimum, 50 pages each 20 ms, a pass takes 3.3 s: too long. */
	ok = ok && ksm_read("pages_to_scan") > 50;
	ksft_test_result(ok, "scan-time: full scans of 32 MiB settle at 1 to 4 s for a 2 s target, above the minimum rate\n");

	ksm_mmap_mergeable(keys + SMALL, 3 * SMALL);
	ok = converges("128 MiB");
	ksft_test_result(ok, "scan-time: with 4 times the memory, the rate follows and full scans settle again\n");
}

/*
 * ksmd's CPU share, in percent, over the next @passes full scans; -1 on
 * timeout.  @rate is set to the mean of pages_to_scan at their ends (the
 * advisor sets it at the end of each), 0 on timeout.
 */
static double cpu_over(unsigned int passes, unsigned long *rate)
{
	long long t0 = ksm_now_ms(), k0 = ksm_ksmd_ticks(), ms;
	unsigned long sum = 0;
	unsigned int i;

	*rate = 0;
	for (i = 0; i < passes; i++) {
		if (!ksm_wait_full_scans(1, PASS_MS))
			return -1;
		sum += ksm_read("pages_to_scan");
	}
	*rate = sum / passes;
	ms = ksm_now_ms() - t0;
	return 100.0 * (ksm_ksmd_ticks() - k0) * 1000 / sysconf(_SC_CLK_TCK) /
	       (ms ? ms : 1);
}

static void test_cap(void)
{
	unsigned long free_rate, capped_rate;
	double free_pct, pct;
	unsigned int cap;
	bool ok;

	/*
	 * A short target (1 s for 128 MiB), every page looked at every
	 * pass: first uncapped, then capped at a third of what ksmd took.
	 */
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);
	ksm_set("advisor_target_scan_time", 1);
	ksm_set("advisor_max_pages_to_scan", 1000000);
	ok = ksm_wait_full_scans(6, PASS_MS);
	free_pct = cpu_over(4, &free_rate);
	cap = free_pct / 3 > 1 ? free_pct / 3 : 1;
	ksm_set("advisor_max_cpu", cap);
	ok = ok && ksm_wait_full_scans(6, PASS_MS);
	pct = cpu_over(4, &capped_rate);
	ksft_print_msg("uncapped: ksmd %.1f %% of a CPU, pages_to_scan %lu on average; capped at %u %%: %.1f %%, pages_to_scan %lu\n",
		       free_pct, free_rate, cap, pct, capped_rate);
	ok = ok && free_pct > 0 && pct >= 0 && pct <= 2 * cap + 2 &&
	     capped_rate * 3 < free_rate * 2;
	ksft_test_result(ok, "advisor_max_cpu: capped at a third of ksmd's uncapped share, ksmd slows down to it\n");
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(9);
	ksm_selftest_init(100, 20, 0);
	if (!ksm_file_exists("advisor_mode"))
		ksft_exit_fail_msg("no %sadvisor_mode: a KSM older than 6.8\n",
				   KSM_SYSFS_DIR);
	test_defaults();
	test_errors();
	test_bounds_any_order();
	test_mode();
	test_converge();
	test_cap();
	ksm_advisor_off();
	ksft_finished();
}
