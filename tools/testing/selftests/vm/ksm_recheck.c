// SPDX-License-Identifier: GPL-2.0
/*
 * A page that ksmd finds unchanged keeps its unstable entry without a new
 * search; a search that met an entry of its own content without merging
 * with it marks both pages to search again.  This is the case that needs
 * it: a process with N unique pages forks, and the child's pages are the
 * parent's (the child's search meets the parent's entry, the same page).
 * The child then writes each of its pages with the content it already
 * holds: copy on write gives it pages of its own, equal to the parent's,
 * and neither content changes.  Unless one of them searches again, the
 * two copies never meet.
 *
 *  - smart_scan 0: within 2 full scans of the writes, pages_shared N and
 *    pages_sharing N, every page intact in both processes.
 *  - smart_scan 1, after ten passes that age every page (each found unique
 *    again at every look): the same within 2 + SKIP_MAX full scans, as
 *    smart scan may pass both copies over that many times.  Skipped on a
 *    kernel without smart_scan.
 *
 * The lab's time limit for this program - limit: 180s
 */
#include "ksm_util.h"

#define N		64
#define KEY		0x7ec4000ULL
#define SCAN_MS		60000
#define SKIP_MAX	8	/* visits smart scan passes over in a row, at most */

static void round_trip(int smart)
{
	static unsigned long long keys[N];
	struct ksm_counters want = { .shared = 0, .sharing = 0,
				     .unshared = 2 * N, .vol = 0,
				     .chains = 0, .dups = 0 };
	int to_child[2], to_parent[2];
	unsigned long waited = 0;
	long merging = -1;
	bool ok;
	pid_t pid;
	char *area;
	size_t i;

	for (i = 0; i < N; i++)
		keys[i] = KEY + 1000 * smart + i;
	if (smart >= 0)
		ksm_set("smart_scan", smart);
	else
		smart = 0;
	area = ksm_mmap_mergeable(keys, N);
	ksm_set("run", 1);
	if (!ksm_wait_full_scans(2, SCAN_MS))
		ksft_exit_fail_msg("no full scans\n");
	if (pipe(to_child) || pipe(to_parent))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		if (ksm_pipe_recv(to_child[0], SCAN_MS * 4) != 'w')
			_exit(KSFT_FAIL);
		/* The same bytes again: a page of its own, equal content. */
		ksm_fill_pages(area, keys, N);
		ksm_pipe_send(to_parent[1], 'd');
		if (ksm_pipe_recv(to_child[0], SCAN_MS * 4) != 'c')
			_exit(KSFT_FAIL);
		_exit(ksm_check_pages(area, keys, N, "child") ? KSFT_FAIL :
			KSFT_PASS);
	}

	/* Shared by fork: one page each, found unique in both processes. */
	ok = ksm_wait_counters(&want);
	if (smart && ok)
		ok = ksm_wait_full_scans(10, SCAN_MS);
	ksm_print_counters("before the child's writes");
	ok = ok && ksm_counters_now(&want);

	ksm_pipe_send(to_child[1], 'w');
	if (ksm_pipe_recv(to_parent[0], SCAN_MS) != 'd')
		ksft_exit_fail_msg("the child did not write\n");
	want.shared = N;
	want.sharing = N;
	want.unshared = 0;
	ok = ksm_wait_counters_scans(&want, SCAN_MS, &waited) && ok;
	ksft_print_msg("smart_scan %d: merged %lu full scans after the writes\n",
		       smart, waited);
	ok = ok && waited <= (smart ? 2 + SKIP_MAX : 2);
	merging = ksm_proc_merging_pages(pid);
	ok = ok && merging == N;
	ok = ok && !ksm_check_pages(area, keys, N, "parent");
	ksm_pipe_send(to_child[1], 'c');
	ok = ksm_wait_child(pid, "child") && ok;
	ksft_print_msg("child ksm_merging_pages %ld\n", merging);
	ksft_test_result(ok, "smart_scan %d: copies on write of a fork's pages merge with the parent's within %d full scans\n",
			 smart, smart ? 2 + SKIP_MAX : 2);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	munmap(area, N * ksm_page_size);
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("counters not 0 after run=2\n");
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(2);
	/*
	 * Under a pass a wake-up: full scans count what ksmd did.  Passes of
	 * some 100 ms: this program sees the counters change within a few ms
	 * of it even on a slow kernel (KASan), not a pass late.
	 */
	ksm_selftest_init(100, 50, 0);
	if (!ksm_file_exists("smart_scan")) {
		round_trip(-1);
		ksft_test_result_skip("no %ssmart_scan: a KSM older than 6.7\n",
				      KSM_SYSFS_DIR);
		ksft_finished();
	}
	round_trip(0);
	round_trip(1);
	ksft_finished();
}
