// SPDX-License-Identifier: GPL-2.0
/*
 * A setting refused with EBUSY changes no sharing.
 *
 * max_page_sharing and merge_across_nodes can only change while no KSM page
 * is left, and a write first lets go of the KSM pages that nothing maps any
 * more but something still holds.  A KSM page whose rmap items are still
 * there is not one of those: its mappings may be swap entries, each of
 * which would come back as a copy, or, as here, ksmd has not yet seen that
 * they went.
 *
 *  1. An anchor pair (key A) and an area of NP pages (key B) merge: two
 *     KSM pages, pages_sharing 1 + (NP - 1).
 *  2. run = 0.  The first page of the area goes into a pipe (vmsplice: the
 *     pipe holds a reference to the KSM page), and the area is unmapped.
 *  3. Writes to max_page_sharing and merge_across_nodes (where there is
 *     one) answer EBUSY, the anchor being mapped, and pages_shared and
 *     pages_sharing read exactly what they read before: the writes let go
 *     of nothing.  The pipe gives back key B.
 *  4. run = 2: every counter 0, and the same write succeeds.
 *
 * The lab's time limit for this program - limit: 120s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define NP	8

int main(void)
{
	struct ksm_counters before, after;
	unsigned long long anchor_keys[2] = { 0xa, 0xa }, keys[NP];
	unsigned long mps;
	char *anchor, *area, *buf;
	int fds[2], i, r, r2;
	bool ok;

	ksft_print_header();
	ksft_set_plan(3);
	ksm_selftest_init(1000, 0, 100);

	for (i = 0; i < NP; i++)
		keys[i] = 0xb;
	anchor = ksm_mmap_mergeable(anchor_keys, 2);
	area = ksm_mmap_mergeable(keys, NP);
	ksm_set("run", 1);
	ok = ksm_wait_merged(2, 1 + NP - 1);
	ksft_test_result(ok, "two KSM pages, pages_sharing %d\n", NP);
	if (!ok)
		ksft_exit_fail_msg("no merge to start from\n");

	ksm_set("run", 0);
	if (!ksm_pipe_hold(fds, area, 1))
		ksft_exit_fail_msg("vmsplice: %s\n", strerror(errno));
	munmap(area, NP * ksm_page_size);

	ksm_read_counters(&before);
	mps = ksm_read("max_page_sharing");
	r = ksm_write_ulong("max_page_sharing", mps + 1);
	r2 = ksm_file_exists("merge_across_nodes") ?
	     ksm_write_ulong("merge_across_nodes",
			     !ksm_read("merge_across_nodes")) : -EBUSY;
	ksm_read_counters(&after);
	ksft_print_msg("max_page_sharing: %s, merge_across_nodes: %s\n",
		       strerror(-r), strerror(-r2));
	ksft_print_msg("pages_shared %ld -> %ld, pages_sharing %ld -> %ld\n",
		       before.shared, after.shared, before.sharing,
		       after.sharing);
	buf = malloc(ksm_page_size);
	ok = r == -EBUSY && r2 == -EBUSY &&
	     ksm_read("max_page_sharing") == mps &&
	     ksm_counters_match(&after, &before) &&
	     before.shared == 2 && before.sharing == NP &&
	     buf && read(fds[0], buf, ksm_page_size) == (ssize_t)ksm_page_size &&
	     ksm_check_page(buf, 0xb) < 0;
	ksft_test_result(ok, "refused with EBUSY, no sharing let go of, the pipe's page intact\n");
	close(fds[0]);
	close(fds[1]);
	free(buf);

	ok = ksm_unmerge_all() &&
	     ksm_write_ulong("max_page_sharing", mps + 1) == 0 &&
	     ksm_write_ulong("max_page_sharing", mps) == 0;
	munmap(anchor, 2 * ksm_page_size);
	ksft_test_result(ok, "after run = 2: every counter 0, the write succeeds\n");
	ksft_finished();
}
