// SPDX-License-Identifier: GPL-2.0
/*
 * The /sys/kernel/mm/ksm interface.
 *
 *  - The directory holds exactly 6.1's files and those of newer KSM that
 *    this kernel brings (ksm_zero_pages, general_profit, smart_scan,
 *    pages_scanned, pages_skipped, the advisor's), no more
 *    (merge_across_nodes only with NUMA).
 *  - Every file exists, is a regular file, mode 0644 for the knobs and
 *    0444 for the counters, and reads as one decimal number and a newline.
 *  - Counters cannot be opened for writing, not even by root (EACCES).
 *  - Bad input to a knob fails and leaves its value unchanged.  The errno
 *    is the one of Linux 6.1: EINVAL, except that merge_across_nodes and
 *    max_page_sharing pass on kstrtoul()/kstrtoint()'s ERANGE for a number
 *    that does not fit.  Tried: non-numbers, negative, out of range,
 *    overflow, trailing garbage, leading/trailing space, a lone newline.
 *  - A zero-length write(2) is accepted as writing nothing (the sysfs core
 *    returns 0 without calling the knob): the value is unchanged.
 *  - Good values round-trip, with or without a trailing newline;
 *    use_zero_pages also takes the kstrtobool() words (y/n/on/off).
 *  - A non-root process (uid/gid 65534) can read every file but cannot
 *    open any for writing (EACCES or EPERM).
 *
 * The lab's time limit for this program - limit: 120s
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include "ksm_util.h"

struct bad {
	const char *in;
	int err;
};

struct knob {
	const char *name;
	const char *good[6];		/* written ... */
	unsigned long read[6];		/* ... and read back */
	struct bad bad[16];
};

#define OVERFLOW	"99999999999999999999"

static const struct knob knobs[] = {
	{ "run", { "0", "1\n", "2", "0\n" }, { 0, 1, 2, 0 },
	  { { "3", EINVAL }, { "-1", EINVAL }, { "abc", EINVAL },
	    { OVERFLOW, EINVAL }, { "4294967296", EINVAL }, { "1x", EINVAL },
	    { " 1", EINVAL }, { "1 ", EINVAL }, { "\n", EINVAL },
	    { "0x1", EINVAL }, { "1.0", EINVAL } } },
	{ "pages_to_scan", { "1", "4242\n", "100", "0" }, { 1, 4242, 100, 0 },
	  { { "-1", EINVAL }, { "abc", EINVAL }, { OVERFLOW, EINVAL },
	    { "4294967296", EINVAL }, { "5x", EINVAL }, { " 5", EINVAL },
	    { "5 ", EINVAL }, { "\n", EINVAL }, { "0x10", EINVAL } } },
	{ "sleep_millisecs", { "1", "20\n", "777", "0" }, { 1, 20, 777, 0 },
	  { { "-1", EINVAL }, { "abc", EINVAL }, { OVERFLOW, EINVAL },
	    { "4294967296", EINVAL }, { "5x", EINVAL }, { " 5", EINVAL },
	    { "\n", EINVAL } } },
	{ "merge_across_nodes", { "0", "1\n", "0\n", "1" }, { 0, 1, 0, 1 },
	  { { "2", EINVAL }, { "-1", EINVAL }, { "abc", EINVAL },
	    { OVERFLOW, ERANGE }, { "4294967297", EINVAL }, { "5x", EINVAL },
	    { "1x", EINVAL }, { " 1", EINVAL }, { "\n", EINVAL } } },
	{ "use_zero_pages", { "1", "0\n", "y", "n\n", "on", "off" },
	  { 1, 0, 1, 0, 1, 0 },
	  { { "2", EINVAL }, { "-1", EINVAL }, { "abc", EINVAL },
	    { OVERFLOW, EINVAL }, { "5x", EINVAL }, { " 1", EINVAL },
	    { "\n", EINVAL } } },
	{ "max_page_sharing", { "2", "1000\n", "256" }, { 2, 1000, 256 },
	  { { "1", EINVAL }, { "0", EINVAL }, { "-1", EINVAL },
	    { "-300", EINVAL }, { "abc", EINVAL }, { OVERFLOW, ERANGE },
	    { "2147483648", ERANGE }, { "5x", EINVAL }, { " 300", EINVAL },
	    { "\n", EINVAL } } },
	/* Linux 6.7, brought to 6.1 */
	{ "smart_scan", { "0", "1\n", "n", "y\n", "off", "1" },
	  { 0, 1, 0, 1, 0, 1 },
	  { { "2", EINVAL }, { "-1", EINVAL }, { "abc", EINVAL },
	    { OVERFLOW, EINVAL }, { "5x", EINVAL }, { " 1", EINVAL },
	    { "\n", EINVAL } } },
	/* Linux 6.8's advisor, brought to 6.1: each ends at its default */
	{ "advisor_max_cpu", { "1", "100\n", "70" }, { 1, 100, 70 },
	  { { "0", EINVAL }, { "101", EINVAL }, { "-1", EINVAL },
	    { "abc", EINVAL }, { OVERFLOW, EINVAL }, { "5x", EINVAL },
	    { "\n", EINVAL } } },
	/* The bounds each on their own: 50000 and 1 cross the other one. */
	{ "advisor_min_pages_to_scan", { "1", "50000\n", "500" },
	  { 1, 50000, 500 },
	  { { "0", EINVAL }, { "-1", EINVAL },
	    { "abc", EINVAL }, { OVERFLOW, EINVAL }, { "5x", EINVAL },
	    { "\n", EINVAL } } },
	{ "advisor_max_pages_to_scan", { "1", "4294967295\n", "30000" },
	  { 1, 4294967295UL, 30000 },
	  { { "0", EINVAL }, { "4294967296", EINVAL },
	    { "-1", EINVAL }, { "abc", EINVAL }, { OVERFLOW, EINVAL },
	    { "\n", EINVAL } } },
	{ "advisor_target_scan_time", { "1", "4294967295\n", "200" },
	  { 1, 4294967295UL, 200 },
	  { { "0", EINVAL }, { "4294967296", EINVAL }, { "-1", EINVAL },
	    { "abc", EINVAL }, { OVERFLOW, EINVAL }, { "\n", EINVAL } } },
	{ "stable_node_chains_prune_millisecs", { "0", "1\n", "12345", "2000" },
	  { 0, 1, 12345, 2000 },
	  { { "-1", EINVAL }, { "abc", EINVAL }, { OVERFLOW, EINVAL },
	    { "4294967296", EINVAL }, { "5x", EINVAL }, { "\n", EINVAL } } },
};

static const char * const counters[] = {
	"pages_shared", "pages_sharing", "pages_unshared", "pages_volatile",
	"full_scans", "stable_node_chains", "stable_node_dups",
	/* Linux 6.4-6.6, brought to 6.1 */
	"ksm_zero_pages", "general_profit",
	/* Linux 6.6-6.7 */
	"pages_scanned", "pages_skipped",
};

/* Files that are not numbers (ksm_advisor and ksm_domains test them). */
static const char * const others[] = { "advisor_mode", "merge_domain" };

static const char *show(const char *s)
{
	static char buf[64];
	size_t i, n = 0;

	for (i = 0; s[i] && n < sizeof(buf) - 3; i++) {
		if (s[i] == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else {
			buf[n++] = s[i];
		}
	}
	buf[n] = '\0';
	return buf;
}

static bool available(const char *name)
{
	return strcmp(name, "merge_across_nodes") || ksm_file_exists(name);
}

static void test_file(const char *name, unsigned int mode)
{
	struct stat st;
	unsigned long v;
	int err;

	if (!available(name)) {
		ksft_test_result_skip("%s: absent (!CONFIG_NUMA)\n", name);
		return;
	}
	if (stat(ksm_path(name), &st)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	err = ksm_try_read(name, &v);
	if (err)
		ksft_print_msg("%s: does not read as a decimal number: %s\n",
			       name, strerror(-err));
	ksft_test_result(S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
			 !err,
			 "%s: regular file, mode %04o (is %04o), reads %lu\n",
			 name, mode, st.st_mode & 07777, v);
}

static void test_counters_readonly(void)
{
	unsigned int i;
	bool ok = true;
	long n;

	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		n = ksm_write_raw(counters[i], "0", 1);
		if (n != -EACCES) {
			ksft_print_msg("write to %s as root: %s\n", counters[i],
				       n < 0 ? strerror(-n) : "accepted");
			ok = false;
		}
	}
	ksft_test_result(ok, "counters: opening for write fails with EACCES, even as root\n");
}

static void test_bad(const struct knob *k)
{
	unsigned long before, after;
	const struct bad *b;
	bool ok = true;
	int err;

	if (!available(k->name)) {
		ksft_test_result_skip("%s: absent (!CONFIG_NUMA)\n", k->name);
		return;
	}
	if (!ksm_file_exists(k->name)) {
		ksft_test_result_fail("%s: absent\n", k->name);
		return;
	}
	before = ksm_read(k->name);
	for (b = k->bad; b->in; b++) {
		err = ksm_write_str(k->name, b->in);
		after = ksm_read(k->name);
		if (err != -b->err || after != before) {
			ksft_print_msg("%s = \"%s\": %s (want %s), value %lu -> %lu\n",
				       k->name, show(b->in),
				       err ? strerror(-err) : "accepted",
				       strerror(b->err), before, after);
			ok = false;
		}
	}
	ksft_test_result(ok, "%s: bad input rejected with the 6.1 errno, value unchanged\n",
			 k->name);
}

static void test_good(const struct knob *k)
{
	bool ok = true;
	unsigned int i;
	unsigned long v;
	int err;

	if (!available(k->name)) {
		ksft_test_result_skip("%s: absent (!CONFIG_NUMA)\n", k->name);
		return;
	}
	if (!ksm_file_exists(k->name)) {
		ksft_test_result_fail("%s: absent\n", k->name);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(k->good) && k->good[i]; i++) {
		err = ksm_write_str(k->name, k->good[i]);
		v = ksm_read(k->name);
		if (err || v != k->read[i]) {
			ksft_print_msg("%s = \"%s\": %s, reads %lu, want %lu\n",
				       k->name, show(k->good[i]),
				       err ? strerror(-err) : "accepted", v,
				       k->read[i]);
			ok = false;
		}
	}
	ksft_test_result(ok, "%s: good values round-trip\n", k->name);
}

static void test_empty_write(void)
{
	unsigned long before;
	bool ok = true;
	unsigned int i;
	long n;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (!available(knobs[i].name))
			continue;
		before = ksm_read(knobs[i].name);
		n = ksm_write_raw(knobs[i].name, "", 0);
		if (n != 0 || ksm_read(knobs[i].name) != before) {
			ksft_print_msg("%s: zero-length write: %ld (%s), value %lu -> %lu\n",
				       knobs[i].name, n, n < 0 ? strerror(-n) : "-",
				       before, ksm_read(knobs[i].name));
			ok = false;
		}
	}
	ksft_test_result(ok, "zero-length write(2): returns 0, value unchanged\n");
}

static void test_non_root(void)
{
	unsigned int i;
	unsigned long v;
	pid_t pid;
	int bad = 0, fd;

	pid = ksm_fork();
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
			printf("# cannot drop to uid 65534: %s\n", strerror(errno));
			_exit(2);
		}
		for (i = 0; i < ARRAY_SIZE(knobs) + ARRAY_SIZE(counters); i++) {
			const char *name = i < ARRAY_SIZE(knobs) ? knobs[i].name :
					   counters[i - ARRAY_SIZE(knobs)];

			if (!available(name))
				continue;
			if (ksm_try_read(name, &v)) {
				printf("# uid 65534 cannot read %s\n", name);
				bad++;
			}
			fd = open(ksm_path(name), O_WRONLY);
			if (fd >= 0) {
				printf("# uid 65534 opened %s for writing\n", name);
				close(fd);
				bad++;
			} else if (errno != EACCES && errno != EPERM) {
				printf("# uid 65534 open %s for write: %s\n", name,
				       strerror(errno));
				bad++;
			}
		}
		fflush(stdout);
		_exit(bad ? 1 : 0);
	}
	ksft_test_result(ksm_wait_child(pid, "non-root"),
			 "uid 65534: every file readable, none writable (EACCES/EPERM)\n");
}

/* The directory lists exactly the files above. */
static void test_exact_list(void)
{
	unsigned int i, want = 0, seen = 0, unknown = 0;
	struct dirent *d;
	bool known;
	DIR *dir;

	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		want += available(knobs[i].name);
	want += ARRAY_SIZE(counters) + ARRAY_SIZE(others);
	dir = opendir(KSM_SYSFS_DIR);
	if (!dir)
		ksft_exit_fail_msg("opendir %s: %s\n", KSM_SYSFS_DIR, strerror(errno));
	while ((d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		known = false;
		for (i = 0; i < ARRAY_SIZE(knobs); i++)
			known |= !strcmp(d->d_name, knobs[i].name);
		for (i = 0; i < ARRAY_SIZE(counters); i++)
			known |= !strcmp(d->d_name, counters[i]);
		for (i = 0; i < ARRAY_SIZE(others); i++)
			known |= !strcmp(d->d_name, others[i]);
		if (!known) {
			ksft_print_msg("a file KSM does not have: %s\n", d->d_name);
			unknown++;
		}
		seen++;
	}
	closedir(dir);
	ksft_test_result(!unknown && seen == want,
			 "%s holds exactly the %u files of 6.1 and newer KSM (%u seen)\n",
			 KSM_SYSFS_DIR, want, seen);
}

int main(void)
{
	unsigned int i;

	ksft_print_header();
	ksft_set_plan(3 * ARRAY_SIZE(knobs) + ARRAY_SIZE(counters) + 4);
	ksm_selftest_init(100, 20, 100);

	test_exact_list();
	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		test_file(knobs[i].name, 0644);
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		test_file(counters[i], 0444);
	test_counters_readonly();
	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		test_bad(&knobs[i]);
	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		test_good(&knobs[i]);
	test_empty_write();
	test_non_root();
	ksft_finished();
}
