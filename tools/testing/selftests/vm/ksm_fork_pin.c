// SPDX-License-Identifier: GPL-2.0
/*
 * Merged pages across fork(), and pages KSM must leave alone.
 *
 *  - fork of merged pages: NPAGES pages of one content merge into one KSM
 *    page; after fork() the child maps it too, and once ksmd has visited
 *    the child, pages_sharing counts its mappings (2 * NPAGES - 1 in all)
 *    and each process's ksm_merging_pages is NPAGES.  A write of the child
 *    gives one page a content of its own: one mapping fewer, the copy
 *    unshared, the parent's pages untouched.
 *  - volatile pages: two pages rewritten all the time (with the same new
 *    content each time, many times between two visits of ksmd, which
 *    scans the 4 pages registered then, pages_to_scan 4, and sleeps
 *    SLEEP_MS between passes) are never merged, and count in
 *    pages_volatile, while a quiet pair beside them merges; once quiet,
 *    they merge too.
 *  - pages changed by a word at a time: unique pages, each with one word
 *    bumped without a pause, at an offset of its own, stay volatile (none
 *    in the unstable table) full scan after full scan; once quiet, they
 *    are unshared.
 *  - pinned pages: of two identical pages, one is held by a pipe
 *    (vmsplice() without SPLICE_F_GIFT takes a reference to it): KSM must
 *    not merge it, since the pipe would go on reading the old page, while
 *    a write through the mapping lands in the merged one.  Once the pipe is
 *    read, the pair merges.
 *  - a held page that need not be write-protected: the same, with the
 *    held page read-only, clean and not exclusive (a fork shared it, the
 *    child exited, MADV_FREE cleaned it), so that ksmd has no pte to make
 *    read-only and no write to fear, and at the higher address, so that
 *    it is the page of the pair to become the KSM page (the one only this
 *    process maps, met second).  It must not become one while referenced:
 *    an rmap walker that does not lock anon pages (folio_referenced(),
 *    idle page tracking) holds such a reference, and a page made KSM under
 *    it would be walked as one, unlocked.  No KSM page in 3 full scans;
 *    once the pipe is read, the pair merges.
 *
 * The lab's time limit for this program - limit: 240s
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include "ksm_util.h"

#define NPAGES		32
#define KEY		0x5eedULL
#define QUIET_KEY	0x9a1eULL
#define SLEEP_MS	50

static void test_fork(void)
{
	struct ksm_counters want = { 1, NPAGES - 1, 0, 0, 0, 0 };
	unsigned long long keys[NPAGES];
	int go[2], done[2], i;
	long child_merging;
	char *area;
	bool ok;
	pid_t pid;

	for (i = 0; i < NPAGES; i++)
		keys[i] = KEY;
	area = ksm_mmap_mergeable(keys, NPAGES);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want) && ksm_proc_merging_pages(0) == NPAGES;
	ksft_test_result(ok, "before fork: pages_shared 1 pages_sharing %d, ksm_merging_pages %d\n",
			 NPAGES - 1, NPAGES);

	if (pipe(go) || pipe(done))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		close(go[1]);
		close(done[0]);
		/* 'w': page 0 gets a content of its own; then the end. */
		if (ksm_pipe_recv(go[0], KSM_TIMEOUT_MS) != 'w')
			_exit(2);
		keys[0] = KEY + 1;
		ksm_fill_page(area, keys[0]);
		if (!ksm_pipe_send(done[1], 'd'))
			_exit(2);
		if (ksm_pipe_recv(go[0], KSM_TIMEOUT_MS) != 'x')
			_exit(2);
		_exit(ksm_check_pages(area, keys, NPAGES, "child") ? 1 : 0);
	}
	close(go[0]);
	close(done[1]);

	/* The child's mappings of the KSM page join it at ksmd's visit. */
	want.sharing = 2 * NPAGES - 1;
	ok = ksm_wait_counters(&want);
	child_merging = ksm_proc_merging_pages(pid);
	ksft_test_result(ok && child_merging == NPAGES && ksm_proc_merging_pages(0) == NPAGES,
			 "after fork: pages_sharing %d, ksm_merging_pages %d in the parent and %ld in the child\n",
			 2 * NPAGES - 1, NPAGES, child_merging);

	/* The child's write copies one page: its copy is unshared. */
	ok = ksm_pipe_send(go[1], 'w') &&
	     ksm_pipe_recv(done[0], KSM_TIMEOUT_MS) == 'd';
	want.sharing = 2 * NPAGES - 2;
	want.unshared = 1;
	ok = ok && ksm_wait_counters(&want);
	child_merging = ksm_proc_merging_pages(pid);
	ok = ok && child_merging == NPAGES - 1 && ksm_proc_merging_pages(0) == NPAGES;
	ok = !ksm_check_pages(area, keys, NPAGES, "parent") && ok;
	ksft_test_result(ok, "a write of the child: pages_sharing %d, pages_unshared 1, ksm_merging_pages %d and %ld\n",
			 2 * NPAGES - 2, NPAGES, child_merging);

	ok = ksm_pipe_send(go[1], 'x');
	ok = ksm_wait_child(pid, "child") && ok;
	ksft_test_result(ok, "the child's pages held their content\n");
	munmap(area, NPAGES * ksm_page_size);
	close(go[1]);
	close(done[0]);
	ksm_must_unmerge_all();
}

struct churner {
	char *pages;
	int stop;
	unsigned long long rounds;
};

/* Rewrite both pages, the same content each round, without a pause. */
static void *churn(void *arg)
{
	struct churner *c = arg;
	unsigned long long n = 1;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		ksm_fill_page(c->pages, KEY + (n << 20));
		ksm_fill_page(c->pages + ksm_page_size, KEY + (n << 20));
		n++;
	}
	c->rounds = n;
	return NULL;
}

static void test_volatile(void)
{
	unsigned long long keys[4] = { QUIET_KEY, QUIET_KEY, KEY, KEY };
	struct churner c = { 0 };
	long vol, max_vol = 0, shared;
	unsigned long scans0;
	pthread_t thread;
	bool ok = true;
	char *area;

	area = ksm_mmap(4);
	ksm_fill_pages(area, keys, 4);
	c.pages = ksm_page_addr(area, 2);
	if (pthread_create(&thread, NULL, churn, &c))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	ksm_madvise(area, 4, MADV_MERGEABLE);
	/* One pass per wake-up: visits SLEEP_MS apart. */
	ksm_set("pages_to_scan", 4);
	ksm_set("run", 1);
	/* Over three full scans: only the quiet pair merges. */
	scans0 = ksm_full_scans();
	while (ok && ksm_full_scans() < scans0 + 3) {
		vol = ksm_read("pages_volatile");
		if (vol > max_vol)
			max_vol = vol;
		shared = ksm_read("pages_shared");
		if (shared > 1 || ksm_read("pages_sharing") > 1) {
			ksft_print_msg("rewritten pages merged: pages_shared %ld pages_sharing %lu\n",
				       shared, ksm_read("pages_sharing"));
			ok = false;
		}
		usleep(KSM_POLL_US);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	ksft_print_msg("%llu rewrites; pages_volatile up to %ld\n", c.rounds, max_vol);
	ok = ok && max_vol > 0;
	/* The quiet pair merged at its first visit, three passes ago. */
	shared = ksm_read("pages_shared");
	if (shared != 1 || ksm_read("pages_sharing") != 1) {
		ksft_print_msg("the quiet pair: pages_shared %ld pages_sharing %lu\n",
			       shared, ksm_read("pages_sharing"));
		ok = false;
	}
	ksft_test_result(ok, "pages rewritten between visits stay unmerged and count as volatile (up to %ld); the quiet pair merges\n",
			 max_vol);
	ok = ksm_wait_merged(2, 2) && ksm_check_page(area, QUIET_KEY) < 0;
	ksft_test_result(ok, "once the rewrites stop, the other pair merges too\n");
	ksm_set("pages_to_scan", 1000);
	munmap(area, 4 * ksm_page_size);
	ksm_must_unmerge_all();
}

/*
 * The pipe holding one page of the pair at @area still reads what that page
 * held; once it is read and closed, the pair merges, contents intact.
 */
static bool pipe_let_go(int fds[2], char *area, unsigned long long *keys)
{
	char *buf = malloc(ksm_page_size);
	bool ok;

	if (!buf || read(fds[0], buf, ksm_page_size) != (ssize_t)ksm_page_size)
		ksft_exit_fail_msg("reading the pipe: %s\n", strerror(errno));
	ok = ksm_check_page(buf, KEY) < 0;
	free(buf);
	close(fds[0]);
	close(fds[1]);
	ok = ksm_wait_merged(1, 1) && ok;
	return !ksm_check_pages(area, keys, 2, "after the pipe let go") && ok;
}

#define NWORD		64

struct word_churner {
	char *pages;
	int stop;
};

/*
 * Bump one 64-bit word of each page, without a pause: page i's word at
 * the i-th of NWORD offsets spread over the page, so that most pages
 * change only where a look at part of the page would not see it.
 */
static size_t word_offset(int i)
{
	return (size_t)(i * 67 % (ksm_page_size / 8)) * 8;
}

static void *churn_words(void *arg)
{
	struct word_churner *c = arg;
	int i;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED))
		for (i = 0; i < NWORD; i++)
			__atomic_fetch_add((unsigned long long *)
					   (ksm_page_addr(c->pages, i) +
					    word_offset(i)), 1,
					   __ATOMIC_RELAXED);
	return NULL;
}

/*
 * Unique pages, each changed between every two looks of ksmd, if only by
 * one word: volatile, every one, in every full scan once the first look
 * has been taken (a fresh page goes to the unstable table at once).
 * None is ever in the unstable table again: pages_unshared 0,
 * pages_volatile NWORD.  Once quiet, each is unshared.
 */
static void test_volatile_word(void)
{
	unsigned long long keys[NWORD];
	struct word_churner c = { 0 };
	long unshared, max_unshared = 0;
	unsigned long scans0;
	long long deadline;
	pthread_t thread;
	bool ok;
	int i;

	for (i = 0; i < NWORD; i++)
		keys[i] = QUIET_KEY + 1 + i;
	c.pages = ksm_mmap(NWORD);
	ksm_fill_pages(c.pages, keys, NWORD);
	if (pthread_create(&thread, NULL, churn_words, &c))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	ksm_madvise(c.pages, NWORD, MADV_MERGEABLE);
	/* Looks far apart: the writer never fails to come between two. */
	ksm_set("sleep_millisecs", 10 * SLEEP_MS);
	ksm_set("run", 1);
	/*
	 * Two looks at least, the first and the first to find a change:
	 * the pass under way may not have reached the pages.
	 */
	if (!ksm_wait_full_scans(3, KSM_TIMEOUT_MS))
		ksft_exit_fail_msg("ksmd made no three full scans\n");
	scans0 = ksm_full_scans();
	deadline = ksm_now_ms() + KSM_TIMEOUT_MS;
	while (ksm_full_scans() < scans0 + 3) {
		if (ksm_now_ms() > deadline)
			ksft_exit_fail_msg("ksmd made no three full scans\n");
		unshared = ksm_read("pages_unshared");
		if (unshared > max_unshared)
			max_unshared = unshared;
		usleep(KSM_POLL_US);
	}
	ok = !max_unshared && ksm_read("pages_volatile") == NWORD &&
	     !ksm_read("pages_shared") && !ksm_read("pages_sharing");
	ksft_test_result(ok, "%d pages rewritten a word at a time stay volatile over 3 full scans: pages_unshared up to %ld, pages_volatile %lu\n",
			 NWORD, max_unshared, ksm_read("pages_volatile"));
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	/* A look that came before the last write, one to find it, one more. */
	ok = ksm_wait_full_scans(4, KSM_TIMEOUT_MS) &&
	     ksm_read("pages_unshared") == NWORD &&
	     !ksm_read("pages_volatile");
	ksft_test_result(ok, "once quiet, all %d are unshared in 4 full scans: pages_unshared %lu, pages_volatile %lu\n",
			 NWORD, ksm_read("pages_unshared"),
			 ksm_read("pages_volatile"));
	ksm_set("sleep_millisecs", SLEEP_MS);
	munmap(c.pages, NWORD * ksm_page_size);
	ksm_must_unmerge_all();
}

static void test_pinned(void)
{
	unsigned long long keys[2] = { KEY, KEY };
	unsigned long scans0;
	int fds[2];
	char *area;
	bool ok;

	area = ksm_mmap(2);
	ksm_fill_pages(area, keys, 2);
	if (!ksm_pipe_hold(fds, area, 1))
		ksft_exit_fail_msg("vmsplice: %s\n", strerror(errno));
	ksm_madvise(area, 2, MADV_MERGEABLE);
	ksm_set("run", 1);
	scans0 = ksm_full_scans();
	if (!ksm_wait_full_scans(3, KSM_TIMEOUT_MS))
		ksft_exit_fail_msg("ksmd made no three full scans\n");
	ok = !ksm_read("pages_shared") && !ksm_read("pages_sharing");
	ksft_test_result(ok, "a page held by a pipe (vmsplice) is not merged in %lu full scans: pages_shared %lu\n",
			 ksm_full_scans() - scans0, ksm_read("pages_shared"));

	ok = pipe_let_go(fds, area, keys);
	ksft_test_result(ok, "once the pipe has been read, the pair merges\n");
	munmap(area, 2 * ksm_page_size);
	ksm_must_unmerge_all();
}

static void test_held_clean(void)
{
	unsigned long long keys[2] = { KEY, KEY };
	unsigned long scans0;
	int fds[2], status;
	char *area;
	pid_t pid;
	bool ok;

	area = ksm_mmap(2);
	ksm_fill_pages(area, keys, 2);
	/* The fork takes exclusivity from both pages; the child goes. */
	pid = ksm_fork();
	if (!pid)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		ksft_exit_fail_msg("the child did not exit\n");
	/* The second page's pte was write-protected by the fork: now clean. */
	if (madvise(area + ksm_page_size, ksm_page_size, MADV_FREE))
		ksft_exit_fail_msg("MADV_FREE: %s\n", strerror(errno));
	if (!ksm_pipe_hold(fds, area + ksm_page_size, 1))
		ksft_exit_fail_msg("vmsplice: %s\n", strerror(errno));
	ksm_madvise(area, 2, MADV_MERGEABLE);
	ksm_set("run", 1);
	scans0 = ksm_full_scans();
	if (!ksm_wait_full_scans(3, KSM_TIMEOUT_MS))
		ksft_exit_fail_msg("ksmd made no three full scans\n");
	ok = !ksm_read("pages_shared") && !ksm_read("pages_sharing") &&
	     !ksm_count_ksm_pages(area, 2);
	ksft_test_result(ok, "a held page, read-only and clean, is not made a KSM page in %lu full scans: pages_shared %lu, KSM pages mapped %ld\n",
			 ksm_full_scans() - scans0, ksm_read("pages_shared"),
			 ksm_count_ksm_pages(area, 2));

	ok = pipe_let_go(fds, area, keys);
	ok = ksm_count_ksm_pages(area, 2) == 2 && ok;
	ksft_test_result(ok, "once the pipe has been read, it merges: both pages map the KSM page\n");
	munmap(area, 2 * ksm_page_size);
	ksm_must_unmerge_all();
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(12);
	ksm_selftest_init(1000, SLEEP_MS, 220);
	test_fork();
	test_volatile();
	test_volatile_word();
	test_pinned();
	test_held_clean();
	ksft_finished();
}
