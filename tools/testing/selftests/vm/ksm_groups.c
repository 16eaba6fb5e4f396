// SPDX-License-Identifier: GPL-2.0
/*
 * The counters as LTP's ksm01-ksm04 read them: several processes, each
 * filled with one content at a time, stopped (SIGSTOP) while root reads
 * every counter after three more full scans, with ksmd stopped for the
 * reading (run 0, then 1 again).
 *
 * Three processes of SIZE_MB MiB each register their memory in 1 MiB
 * areas.  max_page_sharing and pages_to_scan are set to all their pages
 * (N), sleep_millisecs to 0.  Then four phases; in each, every process
 * writes its content over all its memory and stops:
 *
 *   phase  contents                          shared  sharing  unshared
 *   1      'c', 'a', 'a'                        2      N - 2      0
 *   2      'c', 'b', 'a'                        3      N - 3      0
 *   3      'd', 'd', 'd'                        1      N - 1      0
 *   4      'd', 'd' but one byte 'e', 'd'       1      N - 2      1
 *
 * and pages_volatile 0 in every phase: every page is merged, or unique and
 * in the unstable tree.  Each process checks every byte of its memory when
 * it is continued.  Then run 2, with the processes continued: every counter
 * 0 (no rmap item left), and again after run 0.
 *
 * All of it once with smart_scan 0, as LTP sets it, and once with
 * smart_scan 1: the counters must be the same (a page passed over is still
 * merged, or still in the unstable tree).  After phase 4 the processes stay
 * stopped for eight more full scans: the counters must not move, not even
 * for a moment while ksmd runs (read every 2 ms, 500 times at least: a
 * monitor reads them so), and with smart_scan 1 pages_skipped must (the
 * 'e' page is passed over), with 0 it must not.  A kernel without smart scan (6.1) runs the first
 * half, and fails the second.
 *
 * The lab's time limit for this program - limit: 600s
 */
#include "ksm_util.h"

#define NPROCS		3
#define SIZE_MB		128
#define AREA_MB		1
#define PHASES		4
#define SCAN_MS		(240 * 1000)
#define STEADY_READS	500	/* reads of the counters, ksmd running */

/* Each process's content in each phase. */
static const char content[PHASES][NPROCS] = {
	{ 'c', 'a', 'a' },
	{ 'c', 'b', 'a' },
	{ 'd', 'd', 'd' },
	{ 'd', 'd', 'd' },
};

/* pages_shared and pages_unshared after each phase. */
static const long want_shared[PHASES] = { 2, 3, 1, 1 };
static const long want_unshared[PHASES] = { 0, 0, 0, 1 };

/*
 * The counters after @phase, of @total pages: all but the unique merged.
 * max_page_sharing is @total: every content fits in one KSM page, and no
 * chain is made.
 */
static struct ksm_counters phase_want(int phase, unsigned long total)
{
	struct ksm_counters w = {
		.shared = want_shared[phase],
		.sharing = total - want_shared[phase] - want_unshared[phase],
		.unshared = want_unshared[phase],
	};

	return w;
}

static const struct ksm_counters all_zero;

/* Phase 4: process 1 writes 'e' over the last byte of its memory. */
#define ODD_PROC	1
#define ODD_PHASE	3

static size_t area_bytes(void)
{
	return (size_t)AREA_MB << 20;
}

static unsigned long proc_pages(void)
{
	return ((unsigned long)SIZE_MB << 20) / sysconf(_SC_PAGESIZE);
}

/* Is every byte of @areas @c, but the odd byte where there is one? */
static bool check_memory(char **areas, int k, int phase)
{
	size_t i, n = area_bytes();
	int a, nareas = SIZE_MB / AREA_MB;
	bool odd = k == ODD_PROC && phase == ODD_PHASE;
	char c = content[phase][k];

	for (a = 0; a < nareas; a++)
		for (i = 0; i < n; i++) {
			char expect = odd && a == nareas - 1 && i == n - 1 ?
				      'e' : c;

			if (areas[a][i] != expect) {
				ksft_print_msg("process %d, phase %d: area %d byte %zu: '%c' not '%c'\n",
					       k, phase + 1, a, i, areas[a][i],
					       expect);
				return false;
			}
		}
	return true;
}

/* Process @k: register, then per phase write, stop, check. */
static int child(int k)
{
	int a, phase, nareas = SIZE_MB / AREA_MB;
	char **areas = calloc(nareas, sizeof(*areas));

	if (!areas)
		return 2;
	for (a = 0; a < nareas; a++) {
		areas[a] = mmap(NULL, area_bytes(), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (areas[a] == MAP_FAILED ||
		    madvise(areas[a], area_bytes(), MADV_MERGEABLE))
			return 2;
	}
	raise(SIGSTOP);
	for (phase = 0; phase < PHASES; phase++) {
		for (a = 0; a < nareas; a++)
			memset(areas[a], content[phase][k], area_bytes());
		if (k == ODD_PROC && phase == ODD_PHASE)
			areas[nareas - 1][area_bytes() - 1] = 'e';
		raise(SIGSTOP);
		if (!check_memory(areas, k, phase))
			return 1;
	}
	return 0;
}

/* Wait until every process has stopped. */
static bool all_stopped(const pid_t *pids)
{
	int k, status;

	for (k = 0; k < NPROCS; k++) {
		if (waitpid(pids[k], &status, WUNTRACED) != pids[k] ||
		    !WIFSTOPPED(status)) {
			ksft_print_msg("process %d did not stop (status %#x)\n",
				       k, status);
			return false;
		}
	}
	return true;
}

static void continue_all(const pid_t *pids)
{
	int k;

	for (k = 0; k < NPROCS; k++)
		kill(pids[k], SIGCONT);
}

/*
 * Read every counter with ksmd stopped, as LTP does, and compare.  @run is
 * what run must read before ksmd is stopped for the reading.
 */
static bool counters_are(unsigned long run, const struct ksm_counters *w,
			 unsigned long total)
{
	unsigned long was = ksm_read("run");
	struct ksm_counters c;
	bool ok;

	if (was != run) {
		ksft_print_msg("run reads %lu, not %lu\n", was, run);
		return false;
	}
	ksm_set("run", 0);
	ksm_read_counters(&c);
	ok = ksm_counters_match(&c, w) && ksm_read("sleep_millisecs") == 0 &&
	     ksm_read("pages_to_scan") == total;
	if (!ok)
		ksft_print_msg("shared %ld sharing %ld volatile %ld unshared %ld, not %ld %ld %ld %ld\n",
			       c.shared, c.sharing, c.vol, c.unshared, w->shared,
			       w->sharing, w->vol, w->unshared);
	ksm_set("run", was);
	return ok;
}

/*
 * Read the counters every 2 ms, ksmd running, over @scans full scans and
 * STEADY_READS reads at least: how many reads differ from @w, or -1 if the
 * scans did not come.
 */
static long counters_steady(unsigned long scans, const struct ksm_counters *w)
{
	unsigned long reads = 0;
	unsigned long start = ksm_full_scans();
	long long deadline = ksm_now_ms() + SCAN_MS;
	struct ksm_counters c;
	long moved = 0;

	while (ksm_full_scans() < start + scans || reads < STEADY_READS) {
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("timeout: %lu full scans in %d ms\n",
				       scans, SCAN_MS);
			return -1;
		}
		ksm_read_counters(&c);
		reads++;
		if (!ksm_counters_match(&c, w) && !moved++)
			ksft_print_msg("ksmd running: shared %ld sharing %ld volatile %ld unshared %ld\n",
				       c.shared, c.sharing, c.vol, c.unshared);
		usleep(2000);
	}
	ksft_print_msg("%lu full scans: %ld of %lu reads of the counters differed\n",
		       ksm_full_scans() - start, moved, reads);
	return moved;
}

/* Has the kernel smart scan (Linux 6.7), and pages_skipped? */
static bool have_smart;

static unsigned long pages_skipped(void)
{
	return have_smart ? ksm_read("pages_skipped") : 0;
}

static void run_groups(unsigned long smart)
{
	unsigned long total = NPROCS * proc_pages();
	struct ksm_counters w;
	unsigned long skipped;
	pid_t pids[NPROCS];
	long moved;
	int k, phase;
	bool ok;

	if (smart && !have_smart) {
		for (k = 0; k < PHASES + 3; k++)
			ksft_test_result_fail("smart_scan 1: no smart_scan knob here\n");
		return;
	}
	ksm_set("run", 2);
	if (have_smart)
		ksm_set("smart_scan", smart);
	ksm_set("max_page_sharing", total);
	for (k = 0; k < NPROCS; k++) {
		pids[k] = ksm_fork();
		if (!pids[k])
			_exit(child(k));
	}
	if (!all_stopped(pids))
		ksft_exit_fail_msg("the processes did not start\n");
	ksm_set("run", 1);
	ksm_set("pages_to_scan", total);
	ksm_set("sleep_millisecs", 0);
	for (phase = 0; phase < PHASES; phase++) {
		continue_all(pids);
		if (!all_stopped(pids))
			ksft_exit_fail_msg("phase %d: a process did not stop\n",
					   phase + 1);
		w = phase_want(phase, total);
		ok = ksm_wait_full_scans(3, SCAN_MS) &&
		     counters_are(1, &w, total);
		ksft_test_result(ok, "smart_scan %lu, phase %d (%c %c %c%s): counters after 3 full scans\n",
				 smart, phase + 1, content[phase][0],
				 content[phase][1], content[phase][2],
				 phase == ODD_PHASE ? ", one 'e'" : "");
	}
	/* Stopped after the last phase: its counters (w) must hold. */
	skipped = pages_skipped();
	moved = counters_steady(8, &w);
	ok = moved >= 0 && counters_are(1, &w, total);
	skipped = pages_skipped() - skipped;
	ksft_test_result(ok && !moved && (smart ? skipped > 0 : !skipped),
			 "smart_scan %lu: eight scans on, the same counters (%ld reads of others); pages_skipped +%lu\n",
			 smart, moved, skipped);
	ksm_set("run", 2);
	continue_all(pids);
	ok = counters_are(2, &all_zero, total);
	for (k = 0; k < NPROCS; k++)
		ok &= ksm_wait_child(pids[k], "a process's memory");
	ksft_test_result(ok, "smart_scan %lu: run 2: every counter 0, every byte kept\n",
			 smart);
	ksm_set("run", 0);
	ksft_test_result(counters_are(0, &all_zero, total),
			 "smart_scan %lu: run 0: every counter 0\n", smart);
}

int main(void)
{
	ksft_print_header();
	ksm_selftest_init(100, 0, 580);
	have_smart = ksm_file_exists("smart_scan");
	ksft_set_plan(2 * (PHASES + 3));
	run_groups(0);
	run_groups(1);
	ksft_finished();
}
