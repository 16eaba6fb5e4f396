// SPDX-License-Identifier: GPL-2.0
/*
 * KSM pages that went to swap, and their way back in through several
 * mappings.
 *
 * A parent and a child forked before either maps anything (so that their
 * areas share no anon_vma) each map N private pages, page i holding key i
 * in both; both live in a memory cgroup of our own.
 *
 *  1. ksmd merges every pair: pages_shared N, pages_sharing N (and nothing
 *     unshared, volatile or chained).
 *  2. run=0, then memory.reclaim pushes the KSM pages out: every pte of
 *     both processes reads "swapped" in /proc/self/pagemap and mincore()
 *     finds none of them in the swap cache.  The counters are printed.
 *  3. The child reads all its pages first, then the parent: the child maps
 *     the pages read from swap as its own, the parent finds each of them in
 *     the swap cache belonging to another anon_vma tree, so
 *     ksm_might_need_to_copy() gives it a private copy: vmstat
 *     ksm_swpin_copy grows by exactly N, every page of both holds its
 *     content, no page is a KSM page, and the two processes' pages are at
 *     different PFNs.
 *  4. run=1: the pairs merge again: pages_shared N, pages_sharing N, every
 *     page of both processes a KSM page, each pair at one PFN.
 *  5. run=0 and reclaim again (all swapped, none cached), then
 *     MADV_WILLNEED on the parent's area reads the pages back into the
 *     swap cache without mapping them (mincore: all N resident).
 *  6. While they are out: run=2 gives counters all 0; merge_across_nodes 0
 *     and back, and max_page_sharing to a new value and back, succeed (no
 *     KSM page is left: not EBUSY).
 *  7. MADV_UNMERGEABLE of both areas succeeds; the parent reads its pages
 *     (mapping the swap-cache pages as they are), then the child (which
 *     gets copies: ksm_swpin_copy + N); contents intact, PFNs distinct,
 *     every counter 0, no KSM page in either, ksm_merging_pages 0 in both.
 *  8. The child exits cleanly; run=2 leaves every counter at 0.
 *
 * A broken KSM shows as: a swapped-in page mapped into the other process's
 * anon_vma (no copy: ksm_swpin_copy short, one PFN for both, or a
 * VM_BUG_ON in the rmap code), wrong contents after swapin, pages that do
 * not merge again once back, a KSM page that reclaim cannot free, or knob
 * changes refused after run=2 because of nodes left from swapped-out KSM
 * pages.
 * SKIP without swap or without a memory cgroup offering memory.reclaim.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define N		64
#define KEY0		0x5a0000ULL
#define RECLAIM_TRIES	10
#define WILLNEED_MS	5000

/* What a process sees of its own area. */
struct census {
	long present;		/* pte present */
	long swapped;		/* pte holds a swap entry */
	long other;		/* neither */
	long resident;		/* mincore(): mapped or in the swap cache */
};

/* The scratch area both processes share (MAP_SHARED, set up before fork). */
struct scratch {
	struct census cen;
	long bad;		/* pages whose contents differ */
	long ksm;		/* KSM pages (kpageflags), -1 unreadable */
	int err;		/* errno of the last madvise, 0 if it worked */
	unsigned long long pfn[N];
};

static char cg_dir[256];
static unsigned long long keys[N];
static struct scratch *sh;
static int to_child[2], from_child[2];
static pid_t child;

static void do_census(char *area, struct census *c)
{
	unsigned char vec[N];
	unsigned long long ent;
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < N; i++) {
		ent = ksm_pagemap(ksm_page_addr(area, i));
		if (ent & KSM_PM_PRESENT)
			c->present++;
		else if (ent & KSM_PM_SWAP)
			c->swapped++;
		else
			c->other++;
	}
	if (mincore(area, N * ksm_page_size, vec)) {
		c->resident = -1;
		return;
	}
	for (i = 0; i < N; i++)
		c->resident += vec[i] & 1;
}

/* Read (and check) every page, then note the PFNs and the KSM pages. */
static long read_all(char *area, unsigned long long *pfn, long *ksm,
		     const char *who)
{
	unsigned long long ent;
	long bad;
	size_t i;

	bad = ksm_check_pages(area, keys, N, who);
	for (i = 0; i < N; i++) {
		ent = ksm_pagemap(ksm_page_addr(area, i));
		pfn[i] = ent & KSM_PM_PRESENT ? ent & KSM_PM_PFN_MASK : 0;
	}
	*ksm = ksm_count_ksm_pages(area, N);
	return bad;
}

static char *map_area(void)
{
	char *area = ksm_mmap(N);

	/* Small pages only, whatever THP's setting and the neighbours. */
	madvise(area, N * ksm_page_size, MADV_NOHUGEPAGE);
	ksm_fill_pages(area, keys, N);
	ksm_madvise(area, N, MADV_MERGEABLE);
	return area;
}

/*
 * The child: maps and fills its own area, then does what it is told, one
 * byte a command, answering 'k' once done; results go to the scratch area.
 */
static void child_main(void)
{
	char *area;
	int cmd;

	close(to_child[1]);
	close(from_child[0]);
	area = map_area();
	if (!ksm_pipe_send(from_child[1], 'k'))
		_exit(2);
	for (;;) {
		cmd = ksm_pipe_recv(to_child[0], KSM_TIMEOUT_MS);
		switch (cmd) {
		case 's':	/* census */
			do_census(area, &sh->cen);
			break;
		case 'r':	/* read everything */
			sh->bad = read_all(area, sh->pfn, &sh->ksm, "child");
			break;
		case 'u':	/* MADV_UNMERGEABLE */
			sh->err = madvise(area, N * ksm_page_size, MADV_UNMERGEABLE) ?
				  errno : 0;
			break;
		case 'q':	/* the end */
			munmap(area, N * ksm_page_size);
			ksm_pipe_send(from_child[1], 'k');
			_exit(0);
		default:	/* timeout, EOF or nonsense */
			_exit(3);
		}
		if (!ksm_pipe_send(from_child[1], 'k'))
			_exit(2);
	}
}

static void bail(const char *why)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	ksm_cg_leave(cg_dir);
	ksft_exit_fail_msg("%s\n", why);
}

/* Have the child do @cmd and wait for its answer. */
static void child_do(char cmd)
{
	int ret;

	if (!ksm_pipe_send(to_child[1], cmd))
		bail("cannot write to the child");
	ret = ksm_pipe_recv(from_child[0], KSM_TIMEOUT_MS);
	if (ret != 'k') {
		ksft_print_msg("child: command '%c' answered %d\n", cmd, ret);
		bail("the child does not answer");
	}
}

/*
 * run=0 and memory.reclaim until every pte of both processes holds a swap
 * entry and no page of them is left in the swap cache.
 */
static bool swap_out(char *area)
{
	struct census c = { 0 };
	int try;

	ksm_set("run", 0);
	for (try = 0; try < RECLAIM_TRIES; try++) {
		ksm_cg_write(cg_dir, "memory.reclaim", "256M");
		do_census(area, &c);
		child_do('s');
		ksft_print_msg("reclaim %d: parent present %ld swap %ld none %ld cached %ld\n",
			       try + 1, c.present, c.swapped, c.other, c.resident);
		ksft_print_msg("reclaim %d: child  present %ld swap %ld none %ld cached %ld\n",
			       try + 1, sh->cen.present, sh->cen.swapped, sh->cen.other,
			       sh->cen.resident);
		if (c.swapped == N && !c.resident &&
		    sh->cen.swapped == N && !sh->cen.resident)
			return true;
	}
	ksft_print_msg("after %d reclaims, not every page is out of memory\n",
		       RECLAIM_TRIES);
	return false;
}

/* The pages of both processes at PFNs of their own (@same: at one PFN). */
static bool check_pfns(const unsigned long long *pfn, bool same)
{
	size_t i, missing = 0, wrong = 0;

	for (i = 0; i < N; i++) {
		if (!pfn[i] || !sh->pfn[i]) {
			missing++;
			continue;
		}
		if ((pfn[i] == sh->pfn[i]) == same)
			continue;
		if (wrong++ < 5)
			ksft_print_msg("page %zu: parent pfn %#llx, child pfn %#llx\n",
				       i, pfn[i], sh->pfn[i]);
	}
	if (missing || wrong)
		ksft_print_msg("%zu pages not present, %zu pairs %s\n", missing, wrong,
			       same ? "at different PFNs" : "at one PFN");
	return !missing && !wrong;
}

static long long swpin_copy(void)
{
	return ksm_vmstat("ksm_swpin_copy");
}

/* Both processes read all their pages; the child first if @child_first. */
static bool read_both(char *area, bool child_first, bool want_ksm, bool same_pfn,
		      long long want_copies)
{
	unsigned long long pfn[N];
	long long before, after;
	long bad = 0, ksm = -1;
	bool ok = true;

	before = swpin_copy();
	if (child_first)
		child_do('r');
	bad = read_all(area, pfn, &ksm, "parent");
	if (!child_first)
		child_do('r');
	after = swpin_copy();
	ksft_print_msg("read, the %s first: ksm_swpin_copy %lld -> %lld (+%lld)\n",
		       child_first ? "child" : "parent", before, after, after - before);
	ksft_print_msg("bad pages: parent %ld child %ld; KSM pages: parent %ld child %ld\n",
		       bad, sh->bad, ksm, sh->ksm);
	if (bad || sh->bad)
		ok = false;
	if (want_copies >= 0 && (before < 0 || after - before != want_copies)) {
		ksft_print_msg("ksm_swpin_copy grew by %lld, expected %lld\n",
			       after - before, want_copies);
		ok = false;
	}
	if (ksm != (want_ksm ? N : 0) || sh->ksm != (want_ksm ? N : 0)) {
		ksft_print_msg("expected %d KSM pages in each process\n", want_ksm ? N : 0);
		ok = false;
	}
	return check_pfns(pfn, same_pfn) && ok;
}

/* Change a knob that needs no KSM page, and change it back. */
static bool knob_there_and_back(const char *name, unsigned long val)
{
	unsigned long old = ksm_read(name);
	int err;

	err = ksm_write_ulong(name, val);
	if (err || ksm_read(name) != val) {
		ksft_print_msg("writing %lu to %s: %s (reads %lu)\n", val, name,
			       strerror(-err), ksm_read(name));
		return false;
	}
	err = ksm_write_ulong(name, old);
	if (err || ksm_read(name) != old) {
		ksft_print_msg("writing %lu back to %s: %s (reads %lu)\n", old, name,
			       strerror(-err), ksm_read(name));
		return false;
	}
	return true;
}

int main(void)
{
	struct ksm_counters merged = { N, N, 0, 0, 0, 0 };
	long long deadline;
	struct census c;
	long mp, mc;
	char why[300];
	char *area;
	bool ok;
	size_t i;

	ksft_print_header();
	ksft_set_plan(8);
	ksm_selftest_init(4 * N, 0, 150);

	if (!ksm_have_swap())
		ksft_exit_skip("no swap: reclaim cannot push KSM pages out\n");
	/* Join the cgroup before forking: the child is born in it. */
	if (!ksm_cg_enter("ksm_swapin", "memory.reclaim", cg_dir, sizeof(cg_dir),
			  why, sizeof(why))) {
		ksm_cg_leave(cg_dir);
		ksft_exit_skip("memory cgroup: %s\n", why);
	}

	for (i = 0; i < N; i++)
		keys[i] = KEY0 + i;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap of the scratch area failed");
	memset(sh, 0, sizeof(*sh));
	if (pipe(to_child) || pipe(from_child))
		bail("pipe failed");

	/* Fork first: each process maps an area of its own, no anon_vma shared. */
	child = ksm_fork();
	if (!child)
		child_main();
	close(to_child[0]);
	close(from_child[1]);
	if (ksm_pipe_recv(from_child[0], KSM_TIMEOUT_MS) != 'k')
		bail("the child did not map its area");
	area = map_area();

	/* 1. Merged. */
	ksm_set("run", 1);
	ok = ksm_wait_counters(&merged);
	ksft_test_result(ok, "merged: pages_shared %d pages_sharing %d\n", N, N);
	if (!ok)
		bail("the pairs did not merge");

	/* 2. Out. */
	ok = swap_out(area);
	ksm_print_counters("after swapout, run=0");
	ksft_print_msg("after swapout: ksm_merging_pages parent %ld child %ld\n",
		       ksm_proc_merging_pages(0), ksm_proc_merging_pages(child));
	ksft_test_result(ok, "swapped out: all %d ptes swapped, none in the swap cache\n",
			 2 * N);

	/* 3. Back in: the child first, then the parent, which gets copies. */
	ok = read_both(area, true, false, false, N);
	ksm_print_counters("after swapin, run=0");
	ksft_test_result(ok, "swapin by both: ksm_swpin_copy +%d, intact, no KSM page, PFNs apart\n",
			 N);

	/* 4. Merged again. */
	ksm_set("run", 1);
	ok = ksm_wait_counters(&merged);
	ok = read_both(area, false, true, true, 0) && ok;
	ksft_test_result(ok, "run=1: merged again, pages_shared %d pages_sharing %d, all KSM\n",
			 N, N);

	/* 5. Out again, and back into the swap cache, unmapped. */
	ok = swap_out(area);
	ksm_print_counters("after the second swapout, run=0");
	if (madvise(area, N * ksm_page_size, MADV_WILLNEED)) {
		ksft_print_msg("MADV_WILLNEED: %s\n", strerror(errno));
		ok = false;
	}
	deadline = ksm_now_ms() + WILLNEED_MS;
	do {
		do_census(area, &c);
		if (c.resident == N)
			break;
		usleep(10000);
	} while (ksm_now_ms() < deadline);
	ksft_print_msg("after MADV_WILLNEED: present %ld swap %ld none %ld resident %ld\n",
		       c.present, c.swapped, c.other, c.resident);
	ok = ok && c.resident == N && c.swapped == N;
	ksft_test_result(ok, "out again, then MADV_WILLNEED: all %d in the swap cache, unmapped\n",
			 N);

	/* 6. run=2 and knob changes while the pages are out. */
	ksm_set("run", 2);
	ok = ksm_read("run") == 2 && ksm_all_counters_zero();
	if (ksm_file_exists("merge_across_nodes"))
		ok = knob_there_and_back("merge_across_nodes", 0) && ok;
	else
		ksft_print_msg("no merge_across_nodes (no NUMA): not changed\n");
	ok = knob_there_and_back("max_page_sharing",
				 ksm_read("max_page_sharing") == 128 ? 64 : 128) && ok;
	ksft_test_result(ok, "run=2 while out: counters 0, knobs needing no KSM page change\n");

	/* 7. MADV_UNMERGEABLE, then both read: the parent first. */
	ok = true;
	if (madvise(area, N * ksm_page_size, MADV_UNMERGEABLE)) {
		ksft_print_msg("parent: MADV_UNMERGEABLE: %s\n", strerror(errno));
		ok = false;
	}
	sh->err = -1;
	child_do('u');
	if (sh->err) {
		ksft_print_msg("child: MADV_UNMERGEABLE: %s\n", strerror(sh->err));
		ok = false;
	}
	ok = read_both(area, false, false, false, N) && ok;
	ok = ksm_all_counters_zero() && ok;
	mp = ksm_proc_merging_pages(0);
	mc = ksm_proc_merging_pages(child);
	if (mp || mc) {
		ksft_print_msg("ksm_merging_pages: parent %ld child %ld, expected 0\n", mp, mc);
		ok = false;
	}
	ksft_test_result(ok, "MADV_UNMERGEABLE while out, read: intact, ksm_swpin_copy +%d, all 0\n",
			 N);

	/* 8. The end. */
	child_do('q');
	ok = ksm_wait_child(child, "child");
	child = 0;
	munmap(area, N * ksm_page_size);
	munmap(sh, sizeof(*sh));
	ksm_cg_leave(cg_dir);
	ok = ksm_unmerge_all() && ok;
	ksft_test_result(ok, "the child exits cleanly; run=2 brings every counter back to 0\n");
	ksft_finished();
}
