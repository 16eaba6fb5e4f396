// SPDX-License-Identifier: GPL-2.0
/*
 * Merge domains (this project's) and the pages a process did not get from
 * KSM's merging: a page that is shared by fork, and a KSM page that comes
 * back from swap.  With merge_domain other than "global", no process may
 * ever map a KSM page of another domain than its own.
 *
 *  1. merge_domain "user".  The test (uid 0) fills N pages with one
 *     content, forks a child that takes uid 65534 (another domain) and
 *     keeps those pages, shared with the parent since the fork, without
 *     ever registering them.  The parent then fills N more pages with the
 *     same content and makes all 2N mergeable: they must end as one KSM
 *     page (pages_shared 1, pages_sharing 2N - 1, every page of the parent
 *     a KSM page), and none of the child's pages may be a KSM page
 *     (/proc/PID/pagemap and /proc/kpageflags), its contents intact.  A
 *     fork-shared page that became a KSM page itself would stay mapped by
 *     the child, of the parent's domain, for as long as the child lives:
 *     ksmd never looks at an mm that is not registered.
 *     Then with N contents, each in a fork-shared page and in a page of
 *     the parent's own at a lower address, which ksmd finds first: each
 *     pair must merge (pages_shared N, pages_sharing N), the parent's own
 *     page the KSM page, and again none of the child's pages a KSM page.
 *  2. The same by way of swap: the fork-shared pages go out in both
 *     processes (memory.reclaim) and come back in the parent only, each
 *     then in the swap cache for the child's swap entry, mapped once.  The
 *     parent merges them with N pages of its own; the child, still of
 *     uid 0, reads its pages, then takes uid 65534: none of them may be a
 *     KSM page.
 *  3. merge_domain "memcg".  The test and a child, both in memory cgroup
 *     X, map the same N contents; they merge (pages_shared N,
 *     pages_sharing N).  ksmd stops, a pipe takes a reference to each KSM
 *     page (vmsplice), and memory.reclaim pushes them out until every pte
 *     of both is a swap entry: held by the pipe, the pages stay in the swap
 *     cache (mincore).  The child moves to memory cgroup Y (another domain)
 *     and reads its pages: each one it finds in the swap cache is a KSM
 *     page of X, and must be given to it as a private copy (vmstat
 *     ksm_swpin_copy grows by at least that many), not mapped as it is;
 *     contents intact, no KSM page in the child.  The check cannot fail if
 *     no page stayed in the swap cache: then it is tried again, and
 *     reported failed after RETRIES.
 *
 * Before mm/ksm/merge.c and rmap.c checked these, case 1 left a KSM page of
 * the parent's domain in the child, and case 3 mapped the swap-cache KSM
 * pages of X in the child of Y; before merge.c also looked for swap
 * entries, case 2 left KSM pages in the child; before it could make the
 * page found in the unstable table the KSM page of a pair, the pairs of
 * case 1's second part never merged.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include "ksm_util.h"

#define N		8	/* pages of each kind */
#define KEY		0x5eedULL
#define RETRIES		4

static char cg_x[256], cg_y[256], why[256];

/* A child that obeys one byte a command on @cmd and answers on @ack. */
struct kid {
	pid_t pid;
	int cmd, ack;
};

static bool kid_do(struct kid *k, char c)
{
	char r;

	return write(k->cmd, &c, 1) == 1 && read(k->ack, &r, 1) == 1 && r == 'k';
}

static bool kid_stop(struct kid *k)
{
	int status;

	close(k->cmd);
	close(k->ack);
	return waitpid(k->pid, &status, 0) == k->pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

/*
 * Fork a kid that runs @fn(@area, command) for each command byte,
 * answering 'k' if it returned true; it exits 0 when the pipe closes.
 */
static struct kid kid_start(char *area, bool (*fn)(char *area, char c))
{
	int cmd[2], ack[2];
	struct kid k;
	char c;

	if (pipe(cmd) || pipe(ack))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	k.pid = fork();
	if (k.pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!k.pid) {
		close(cmd[1]);
		close(ack[0]);
		while (read(cmd[0], &c, 1) == 1) {
			c = fn(area, c) ? 'k' : 'x';
			if (write(ack[1], &c, 1) != 1)
				_exit(2);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	k.cmd = cmd[1];
	k.ack = ack[0];
	return k;
}

/* KSM pages among the first @n pages of @area in @pid; -1 if absent. */
static long ksm_pages_of(pid_t pid, char *area, size_t n)
{
	unsigned long long pm;
	char path[64];
	long ksm = 0;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (pread(fd, &pm, sizeof(pm),
			  (unsigned long)ksm_page_addr(area, i) / ksm_page_size *
			  sizeof(pm)) != sizeof(pm) || !(pm & KSM_PM_PRESENT)) {
			ksm = -1;
			break;
		}
		if (ksm_kpage_flag(pm & KSM_PM_PFN_MASK, KSM_KPF_KSM))
			ksm++;
	}
	close(fd);
	return ksm;
}

static unsigned long long keys[N];

static bool fork_kid(char *area, char c)
{
	switch (c) {
	case 'u':	/* another uid, another domain */
		return !setresuid(65534, 65534, 65534);
	case 'c':	/* contents intact */
		return !ksm_check_pages(area, keys, N, "the child's fork-shared pages");
	}
	return false;
}

/*
 * Case 1: N fork-shared pages, kept by a child of uid 65534, and N pages
 * of the parent's own, at the higher addresses, all one content; or, with
 * @twins, N contents, each in a fork-shared page and in a page of the
 * parent's own at a lower address, which ksmd finds first (in the
 * unstable table when the shared page comes: it must become the KSM page,
 * the shared page's mapping in the parent merged into it).  True if every
 * page of the parent ends a KSM page, none of the child's, the counters
 * right and the child's contents intact.
 */
static bool fork_shared_merge(bool twins)
{
	char *area = ksm_mmap(2 * N), *upper = ksm_page_addr(area, N);
	char *shared = twins ? upper : area, *own = twins ? area : upper;
	long kid_ksm, ksm;
	struct kid k;
	bool ok;
	size_t i;

	madvise(area, 2 * N * ksm_page_size, MADV_NOHUGEPAGE);
	for (i = 0; i < N; i++)
		keys[i] = twins ? KEY + 1 + i : KEY;
	ksm_fill_pages(shared, keys, N);
	k = kid_start(shared, fork_kid);
	ok = kid_do(&k, 'u');
	if (!ok)
		ksft_print_msg("the child could not take uid 65534\n");
	ksm_fill_pages(own, keys, N);
	ksm_madvise(area, 2 * N, MADV_MERGEABLE);
	ksm_set("run", 1);
	ok = ok && (twins ? ksm_wait_merged(N, N) :
			    ksm_wait_merged(1, 2 * N - 1));
	ksm = ksm_count_ksm_pages(area, 2 * N);
	kid_ksm = ksm_pages_of(k.pid, shared, N);
	ksft_print_msg("KSM pages: parent %ld of %d, child %ld of %d\n",
		       ksm, 2 * N, kid_ksm, N);
	ok = ok && ksm == 2 * N && kid_ksm == 0 && kid_do(&k, 'c');
	ok &= kid_stop(&k);
	munmap(area, 2 * N * ksm_page_size);
	return ok;
}

/* Pages of the first N of @area: swap entries, and in memory (mincore). */
static void census(char *area, long *swapped, long *cached);

struct swap_report {
	long swapped, cached, ksm, bad;
};

static struct swap_report *rep;

/*
 * Reclaim in cgroup X until the first N pages of @area are swap entries
 * both here and in @k (a kid that answers 's' with a census into *rep);
 * *@cached: how many of ours are still in memory.  False if they are not
 * all out after 16 reclaims.
 */
static bool swap_out_both(struct kid *k, char *area, long *cached)
{
	long swapped = 0;
	int try;

	for (try = 0; try < 16; try++) {
		ksm_cg_write(cg_x, "memory.reclaim", "64M");
		census(area, &swapped, cached);
		if (!kid_do(k, 's'))
			return false;
		if (swapped == N && rep->swapped == N)
			break;
	}
	ksft_print_msg("reclaims %d: parent swapped %ld cached %ld, child swapped %ld cached %ld\n",
		       try + 1, swapped, *cached, rep->swapped, rep->cached);
	return swapped == N && rep->swapped == N;
}

static bool swapped_fork_kid(char *area, char c)
{
	switch (c) {
	case 's':	/* look, without touching */
		census(area, &rep->swapped, &rep->cached);
		return true;
	case 'r':	/* read them back */
		rep->bad = ksm_check_pages(area, keys, N, "the child's pages");
		return true;
	case 'u':	/* another uid, another domain */
		return !setresuid(65534, 65534, 65534);
	}
	return false;
}

/*
 * Case 1 again, the fork-shared pages by way of swap: out in both, then
 * back in the parent only, so that each stays in the swap cache for the
 * child's swap entry, mapped once.  The parent merges them with pages of
 * its own; the child, of the same uid until then, reads its pages and
 * then takes uid 65534: none of them may be a KSM page.
 */
static void test_swapped_fork(void)
{
	char *area = ksm_mmap(2 * N);
	long cached, kid_ksm = -1;
	struct kid k;
	bool ok = false;
	size_t i;

	madvise(area, 2 * N * ksm_page_size, MADV_NOHUGEPAGE);
	for (i = 0; i < N; i++)
		keys[i] = KEY;
	ksm_fill_pages(area, keys, N);
	k = kid_start(area, swapped_fork_kid);
	if (!swap_out_both(&k, area, &cached))
		goto out;
	/* In again in the parent only: each in the swap cache, mapped once. */
	if (ksm_check_pages(area, keys, N, "the parent's swapped-in pages"))
		goto out;
	ksm_fill_pages(ksm_page_addr(area, N), keys, N);
	ksm_madvise(area, 2 * N, MADV_MERGEABLE);
	ksm_set("run", 1);
	if (!ksm_wait_merged(1, 2 * N - 1))
		goto out;
	ksm_set("run", 0);
	if (!kid_do(&k, 'r') || rep->bad || !kid_do(&k, 'u'))
		goto out;
	kid_ksm = ksm_pages_of(k.pid, area, N);
	ksft_print_msg("KSM pages: parent %ld of %d, child %ld of %d\n",
		       ksm_count_ksm_pages(area, 2 * N), 2 * N, kid_ksm, N);
	ok = kid_ksm == 0;
out:
	ok &= kid_stop(&k);
	munmap(area, 2 * N * ksm_page_size);
	ksft_test_result(ok, "user: a fork-shared page swapped in by one process never becomes a KSM page the other maps\n");
}

static void census(char *area, long *swapped, long *cached)
{
	unsigned char vec[N];
	size_t i;

	*swapped = 0;
	*cached = -1;
	for (i = 0; i < N; i++)
		if (ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_SWAP)
			(*swapped)++;
	if (mincore(area, N * ksm_page_size, vec))
		return;
	*cached = 0;
	for (i = 0; i < N; i++)
		*cached += vec[i] & 1;
}

static bool swap_kid(char *area, char c)
{
	switch (c) {
	case 'm':	/* map and register the contents */
		madvise(area, N * ksm_page_size, MADV_NOHUGEPAGE);
		ksm_fill_pages(area, keys, N);
		ksm_madvise(area, N, MADV_MERGEABLE);
		return true;
	case 's':	/* look, without touching */
		census(area, &rep->swapped, &rep->cached);
		return true;
	case 'r':	/* read them back */
		rep->bad = ksm_check_pages(area, keys, N, "the moved child's pages");
		rep->ksm = ksm_count_ksm_pages(area, N);
		return true;
	}
	return false;
}

/*
 * One try of case 2: returns 1 if it passed, 0 if it failed, -1 if no page
 * was left in the swap cache (nothing was checked).
 */
static int swap_try(void)
{
	char *area = ksm_mmap(N);
	long cached, copies;
	int ret = 0, pfd[2] = { -1, -1 };
	struct kid k;

	k = kid_start(area, swap_kid);
	if (!ksm_cg_attach(cg_x, k.pid) || !kid_do(&k, 'm'))
		goto out;
	madvise(area, N * ksm_page_size, MADV_NOHUGEPAGE);
	ksm_fill_pages(area, keys, N);
	ksm_madvise(area, N, MADV_MERGEABLE);
	ksm_set("run", 1);
	if (!ksm_wait_merged(N, N))
		goto out;
	ksm_set("run", 0);
	/*
	 * A pipe holds a reference to each KSM page (vmsplice): reclaim
	 * unmaps them and writes them out, but cannot free them, so that
	 * they stay in the swap cache, where a swapin finds them.
	 */
	if (!ksm_pipe_hold(pfd, area, N)) {
		ksft_print_msg("vmsplice: %s\n", strerror(errno));
		goto out;
	}
	if (!swap_out_both(&k, area, &cached))
		goto out;
	if (rep->cached <= 0) {
		ret = -1;
		goto out;
	}
	if (!ksm_cg_attach(cg_y, k.pid))
		goto out;
	copies = ksm_vmstat("ksm_swpin_copy");
	if (!kid_do(&k, 'r'))
		goto out;
	copies = ksm_vmstat("ksm_swpin_copy") - copies;
	ksft_print_msg("child in Y read its pages: %ld KSM pages, %ld bad, ksm_swpin_copy +%ld\n",
		       rep->ksm, rep->bad, copies);
	ret = rep->ksm == 0 && rep->bad == 0 && copies >= rep->cached &&
	      !ksm_check_pages(area, keys, N, "the parent's pages");
out:
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	ret = kid_stop(&k) ? ret : 0;
	munmap(area, N * ksm_page_size);
	ksm_unmerge_all();
	return ret;
}

static void test_swapin(void)
{
	int ret = -1, i;

	for (i = 0; i < N; i++)
		keys[i] = KEY + i;
	for (i = 0; i < RETRIES && ret < 0; i++)
		ret = swap_try();
	if (ret < 0)
		ksft_print_msg("no KSM page was left in the swap cache in %d tries\n",
			       RETRIES);
	ksft_test_result(ret == 1, "memcg: a swapped-out KSM page of X comes back to a process moved to Y as a copy\n");
}

int main(void)
{
	bool ok;

	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(4 * N, 0, 0);
	if (!ksm_file_exists("merge_domain"))
		ksft_exit_fail_msg("no %smerge_domain\n", KSM_SYSFS_DIR);
	if (geteuid())
		ksft_exit_skip("needs root\n");
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));

	ksm_set("run", 0);
	if (ksm_write_str("merge_domain", "user"))
		ksft_exit_fail_msg("merge_domain user refused\n");
	ksft_test_result(fork_shared_merge(false), "user: a page shared by fork with another uid's process never becomes a KSM page it maps\n");
	ksft_test_result(ksm_unmerge_all(), "user: run=2 leaves every counter 0\n");
	ok = fork_shared_merge(true);
	ok &= ksm_unmerge_all();
	ksft_test_result(ok, "user: a page of the parent's own pairs with its fork-shared twin, found after it\n");

	if (!ksm_have_swap()) {
		ksft_test_result_skip("no swap: reclaim cannot push KSM pages out\n");
		ksft_test_result_skip("no swap: reclaim cannot push KSM pages out\n");
		ksft_finished();
	}
	if (!ksm_cg_create("ksmdsX", "memory.reclaim", cg_x, sizeof(cg_x), why, sizeof(why)) ||
	    !ksm_cg_create("ksmdsY", "memory.reclaim", cg_y, sizeof(cg_y), why, sizeof(why)) ||
	    !ksm_cg_attach(cg_x, getpid())) {
		ksft_print_msg("memory cgroups: %s\n", why);
		ksft_test_result_fail("memory cgroups for the swap cases\n");
		ksft_test_result_fail("memory cgroups for the swap cases\n");
	} else {
		test_swapped_fork();
		if (ksm_unmerge_all() && !ksm_write_str("merge_domain", "memcg"))
			test_swapin();
		else
			ksft_test_result_fail("merge_domain memcg refused\n");
	}

	ksm_cg_attach(ksm_cg_root(), getpid());
	ksm_cg_remove(cg_x);
	ksm_cg_remove(cg_y);
	ksm_cg_unmount();
	ksft_finished();
}
