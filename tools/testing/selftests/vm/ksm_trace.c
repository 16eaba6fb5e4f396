// SPDX-License-Identifier: GPL-2.0
/*
 * The trace events of KSM (Linux 6.4, and 6.8 for ksm_advisor), under
 * tracefs's events/ksm.
 *
 *  - Each of the nine events exists with upstream's fields.
 *  - With them enabled (and use_zero_pages 1), a process that registers,
 *    merges two pages into a KSM page, merges a third into it, merges a
 *    page of zeroes into the zero page, unmerges and exits, with the
 *    advisor on for a pass, produces each event, as upstream fires them:
 *    the pair gives two ksm_merge_with_ksm_page, the first without "ksm "
 *    before the pfn, the second with it, and the third page one more with
 *    it, each with error 0 and the pfn that /proc/self/pagemap shows for
 *    the KSM page; ksm_merge_one_page is for the zero page only (its pfn
 *    as pagemap shows it), never for the KSM page.
 *  - ksm_advisor gives the time of the pass in whole seconds, at least 1,
 *    as upstream does: no more than the seconds the test took; and ksmd's
 *    CPU share over it, 1 to 100 %, at least 1 as upstream reports it.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE		/* memmem() */
#include <sys/mount.h>
#include "ksm_util.h"

#define TRACEFS		"/sys/kernel/tracing/"
#define KEY		0x7ace0001ULL

/*
 * How many lines of @text that hold @what (an event of a pfn) hold @also
 * too?  A merge may fail before one succeeds (the page held for a moment
 * by a per-CPU LRU batch, say): the lines that failed are not counted.
 */
static unsigned int lines_with(const char *text, const char *what,
			       const char *also)
{
	const char *p, *bol, *eol;
	unsigned int count = 0;
	size_t n;

	for (p = strstr(text, what); p; p = strstr(p + 1, what)) {
		for (bol = p; bol > text && bol[-1] != '\n'; bol--)
			;
		eol = strchr(p, '\n');
		n = eol ? (size_t)(eol - bol) : strlen(bol);
		if (memmem(bol, n, also, strlen(also)))
			count++;
	}
	return count;
}

static const struct {
	const char *name;
	const char *fields[6];
} events[] = {
	{ "ksm_start_scan", { "int seq", "u32 rmap_entries" } },
	{ "ksm_stop_scan", { "int seq", "u32 rmap_entries" } },
	{ "ksm_enter", { "void * mm" } },
	{ "ksm_exit", { "void * mm" } },
	{ "ksm_merge_one_page",
	  { "unsigned long pfn", "void * rmap_item", "void * mm", "int err" } },
	{ "ksm_merge_with_ksm_page",
	  { "void * ksm_page", "unsigned long pfn", "void * rmap_item",
	    "void * mm", "int err" } },
	{ "ksm_remove_ksm_page", { "unsigned long pfn" } },
	{ "ksm_remove_rmap_item",
	  { "unsigned long pfn", "void * rmap_item", "void * mm" } },
	{ "ksm_advisor",
	  { "s64 scan_time", "unsigned long pages_to_scan",
	    "unsigned int cpu_percent" } },
};

/* The whole of a tracefs file, malloc()ed. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NONBLOCK);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				ksft_exit_fail_msg("out of memory\n");
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static void test_formats(void)
{
	char path[256], want[96], *fmt;
	unsigned int i, j;
	bool ok = true;

	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(path, sizeof(path), TRACEFS "events/ksm/%s/format",
			 events[i].name);
		fmt = slurp(path);
		if (!fmt) {
			ksft_print_msg("%s: %s\n", path, strerror(errno));
			ok = false;
			continue;
		}
		for (j = 0; events[i].fields[j]; j++) {
			snprintf(want, sizeof(want), "field:%s;",
				 events[i].fields[j]);
			if (!strstr(fmt, want)) {
				ksft_print_msg("%s has no \"%s\"\n",
					       events[i].name, want);
				ok = false;
			}
		}
		free(fmt);
	}
	ksft_test_result(ok, "the nine ksm events, with upstream's fields\n");
}

/*
 * In a child: register, merge 3 pages and a page of zeroes, unmerge, exit.
 * The pfns of the KSM page and of the zero page go to @fd.
 */
static int child(int fd)
{
	unsigned long long keys[3] = { KEY, KEY, KEY }, pfn[2];
	char *area = ksm_mmap_mergeable(keys, 3);
	char *zero = mmap(NULL, ksm_page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long long t0 = ksm_now_ms();

	if (zero == MAP_FAILED)
		return 1;
	/* Its own page of zeroes (a write), registered once it holds them. */
	memset(zero, 0, ksm_page_size);
	ksm_madvise(zero, 1, MADV_MERGEABLE);
	while (ksm_read("ksm_zero_pages") < 1 && ksm_now_ms() - t0 < 60000)
		usleep(10000);
	if (!ksm_wait_merged(1, 2) || ksm_read("ksm_zero_pages") < 1)
		return 1;
	pfn[0] = ksm_pagemap(area) & KSM_PM_PFN_MASK;
	pfn[1] = ksm_pagemap(zero) & KSM_PM_PFN_MASK;
	if (write(fd, pfn, sizeof(pfn)) != sizeof(pfn))
		return 1;
	ksm_madvise(area, 3, MADV_UNMERGEABLE);
	ksm_madvise(zero, 1, MADV_UNMERGEABLE);
	return 0;
}

static void test_events(void)
{
	unsigned long long pfn[2] = { 0, 0 }, keys[4];
	long long t0 = ksm_now_ms(), scan_time = -1;
	char want[96], *trace, *p;
	unsigned int i, n, nksm, pct = 0;
	unsigned long rate = 0;
	int fds[2];
	pid_t pid;
	bool ok;

	if (!ksm_write_path(TRACEFS "trace", "") ||
	    !ksm_write_path(TRACEFS "events/ksm/enable", "1")) {
		ksft_test_result_fail("cannot enable events/ksm: %s\n",
				      strerror(errno));
		ksft_test_result_fail("the merges: no trace\n");
		ksft_test_result_fail("the zero page: no trace\n");
		ksft_test_result_fail("the advisor: no trace\n");
		return;
	}
	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	/* The parent's own pages keep ksmd's passes going after the child. */
	for (i = 0; i < 4; i++)
		keys[i] = KEY + 1 + i;
	ksm_mmap_mergeable(keys, 4);
	ksm_set("use_zero_pages", 1);
	ksm_set("run", 1);
	pid = ksm_fork();
	if (!pid)
		_exit(child(fds[1]));
	ok = ksm_wait_child(pid, "merge, unmerge, exit");
	ok = ok && read(fds[0], pfn, sizeof(pfn)) == sizeof(pfn);
	/*
	 * A pass with the advisor on from its start (the second to end), and
	 * one more: the advisor's event follows the count of its pass.
	 */
	ksm_write_str("advisor_mode", "scan-time");
	ok = ksm_wait_full_scans(3, 60000) && ok;
	ksm_advisor_off();
	ksm_write_path(TRACEFS "events/ksm/enable", "0");

	trace = slurp(TRACEFS "trace");
	if (!trace)
		ksft_exit_fail_msg("read trace: %s\n", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(want, sizeof(want), " %s: ", events[i].name);
		if (!strstr(trace, want)) {
			ksft_print_msg("no %s event\n", events[i].name);
			ok = false;
		}
	}
	ksft_test_result(ok, "merge, unmerge, exit and the advisor: every event fires\n");

	/*
	 * The merges of the KSM page, error 0 and its pfn: the pair's first
	 * page made ready to be it (no "ksm "), then the pair's second and
	 * the third page merged into it ("ksm " before the pfn, as upstream
	 * prints a KSM page's).  None is a ksm_merge_one_page.
	 */
	snprintf(want, sizeof(want), " ksm_merge_with_ksm_page: pfn %llu rmap_item",
		 pfn[0]);
	n = lines_with(trace, want, "error 0");
	snprintf(want, sizeof(want), " ksm_merge_with_ksm_page: ksm pfn %llu rmap_item",
		 pfn[0]);
	nksm = lines_with(trace, want, "error 0");
	snprintf(want, sizeof(want), " ksm_merge_one_page: ksm pfn %llu rmap_item",
		 pfn[0]);
	ok = pfn[0] && n >= 1 && nksm >= 2 && !strstr(trace, want);
	ksft_test_result(ok,
			 "the merges into KSM page %llu: %u without \"ksm \", %u with it, error 0\n",
			 pfn[0], n, nksm);
	/* The page of zeroes: ksm_merge_one_page, of the zero page. */
	snprintf(want, sizeof(want), " ksm_merge_one_page: ksm pfn %llu rmap_item",
		 pfn[1]);
	ok = pfn[1] && pfn[1] != pfn[0] &&
	     lines_with(trace, want, "error 0") >= 1;
	ksft_test_result(ok, "the merge into the zero page %llu: ksm_merge_one_page, error 0\n",
			 pfn[1]);

	/* Each at least 1, as upstream reports them. */
	p = strstr(trace, " ksm_advisor: ksm scan time ");
	ok = p && sscanf(p, " ksm_advisor: ksm scan time %lld pages_to_scan %lu cpu percent %u",
			 &scan_time, &rate, &pct) == 3 &&
	     scan_time >= 1 && scan_time <= (ksm_now_ms() - t0) / 1000 + 1 &&
	     rate >= 1 && pct >= 1 && pct <= 100;
	ksft_test_result(ok,
			 "ksm_advisor: scan time %lld s, pages_to_scan %lu, cpu percent %u\n",
			 scan_time, rate, pct);
	free(trace);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(100, 10, 0);
	if (access(TRACEFS "events", F_OK) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		ksft_exit_fail_msg("mount tracefs on %s: %s\n", TRACEFS,
				   strerror(errno));
	test_formats();
	test_events();
	ksft_finished();
}
