// SPDX-License-Identifier: GPL-2.0
/*
 * ksmstat (tools/vm/ksmstat.c) against the files it reads, on a live merge.
 *
 * A child in a memory cgroup of its own holds 64 pages of two contents,
 * merged (pages_shared 2, pages_sharing 62), then ksmd is stopped so that
 * nothing moves:
 *  - --json --once: every counter and knob equals its sysfs file, the
 *    merge_domain word, saved_mib = (pages_sharing + ksm_zero_pages) pages,
 *    ksmd's pid;
 *  - -p CHILD: the child's line equals its /proc/PID/ksm_stat, and its
 *    memory cgroup's line equals memory.ksm_stat;
 *  - two samples with ksmd running: ksmd_cpu_pct and the saving's rate
 *    are numbers, the CPU within what the machine has;
 *  - the text view names the counters and the child, and says that ksmd is
 *    stopped; with --json that is said on stderr, stdout stays JSON;
 *  - SIGINT or SIGTERM ends a run without -n with status 0;
 *  - run by a user who may not read root's /proc/PID/ksm_stat: the text
 *    view says so instead of "no process", and the JSON counts them;
 *  - errors: no such pid (1), a bad interval or option (2): an interval
 *    that is not a finite number of seconds in range, a pid or a top that
 *    does not fit, an empty one;
 *  - names that users choose: a child named with quotes, a backslash, an
 *    escape sequence, a BEL, a C1 control and a byte that is not UTF-8 is
 *    shown without any of those bytes, and its JSON name is escaped;
 *  - -t 0 says how many processes it does not list, not "no process";
 *  - -p PID ends with status 1 when the process exits (a zombie);
 *  - output that cannot be written (/dev/full) ends it with status 1;
 *  - run = 2 sets full_scans back to 0: no full scan is said to have just
 *    ended.
 *
 * ksmstat must be on PATH (the lab's guest has it in /bin).
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sys/prctl.h>
#include "ksm_util.h"

#define N	64

static char out[65536];
static char cg[256], why[256];

/* Run @cmd, its output into out[]; the exit status, -1 if it died. */
static int run(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int st;

	out[0] = '\0';
	if (!f)
		return -1;
	while (n < sizeof(out) - 1 && fgets(out + n, sizeof(out) - n, f))
		n += strlen(out + n);
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The number after "KEY": in @from; false if absent or null. */
static bool json_num(const char *from, const char *key, double *v)
{
	char pat[80];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(from, pat);
	if (!p)
		return false;
	p += strlen(pat);
	*v = strtod(p, &end);
	return end != p;
}

static bool json_is(const char *from, const char *key, const char *want)
{
	char pat[128];

	snprintf(pat, sizeof(pat), "\"%s\":%s", key, want);
	return strstr(from, pat) != NULL;
}

/* A sysfs number as ksmstat shows it: general_profit may be negative. */
static long long sysfs_num(const char *name)
{
	char buf[64];
	int fd = open(ksm_path(name), O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return LLONG_MIN;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static bool same_as_sysfs(const char *json, const char *name)
{
	long long want = sysfs_num(name);
	double got;

	if (want == LLONG_MIN)
		return json_is(json, name, "null");
	if (!json_num(json, name, &got) || (long long)got != want) {
		ksft_print_msg("%s: ksmstat %s, sysfs %lld\n", name,
			       json_num(json, name, &got) ? "differs" : "has none", want);
		return false;
	}
	return true;
}

/* Does the line "KEY ..." exist in @path? */
static bool has_line(const char *path, const char *key)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = !strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ';
	if (f)
		fclose(f);
	return found;
}

/* KEY of @json equals that of ksm_stat @path, or is null where it has none. */
static bool same_as_stat(const char *json, const char *path, const char *key)
{
	double v;

	if (!has_line(path, key))
		return json_is(json, key, "null");
	return json_num(json, key, &v) && (long long)v == ksm_read_keyed(path, key);
}

static void test_json(void)
{
	static const char * const names[] = {
		"pages_shared", "pages_sharing", "pages_unshared", "pages_volatile",
		"full_scans", "stable_node_chains", "stable_node_dups",
		"ksm_zero_pages", "general_profit", "pages_scanned", "pages_skipped",
		"run", "pages_to_scan", "sleep_millisecs", "max_page_sharing",
		"merge_across_nodes", "use_zero_pages", "smart_scan",
		"stable_node_chains_prune_millisecs", "advisor_max_cpu",
		"advisor_min_pages_to_scan", "advisor_max_pages_to_scan",
		"advisor_target_scan_time",
	};
	double saved, pid;
	unsigned int i;
	bool ok;

	/* One sample: one line. */
	ok = run("ksmstat --json --once 2>/dev/null") == 0 && out[0] == '{' &&
	     strchr(out, '\n') && !strchr(out, '\n')[1];
	for (i = 0; ok && i < ARRAY_SIZE(names); i++)
		ok &= same_as_sysfs(out, names[i]);
	ok = ok && json_num(out, "saved_mib", &saved) &&
	     saved > 0 && (long long)(saved * 1048576 / ksm_page_size + 0.5) ==
		(long long)(ksm_read("pages_sharing") + ksm_read("ksm_zero_pages"));
	ok = ok && json_num(out, "ksmd_pid", &pid) && (pid_t)pid == ksm_ksmd_pid();
	ok = ok && (!ksm_file_exists("merge_domain") ||
		    json_is(out, "merge_domain", "\"global\""));
	if (!ok)
		ksft_print_msg("ksmstat said: %.300s\n", out);
	ksft_test_result(ok, "--json --once: counters, knobs, saved_mib and ksmd's pid as in sysfs\n");
}

static void test_pid(pid_t child)
{
	char cmd[64], path[64], cgpath[300], stat[300];
	const char *proc, *group;
	double v;
	bool ok;

	snprintf(cmd, sizeof(cmd), "ksmstat --json --once -p %d", child);
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", child);
	ok = run(cmd) == 0;
	proc = strstr(out, "\"processes\":[{");
	ok = ok && proc && json_num(proc, "pid", &v) && v == child &&
	     json_num(proc, "ksm_merging_pages", &v) &&
	     v == ksm_proc_merging_pages(child) && v == N &&
	     same_as_stat(proc, path, "ksm_rmap_items") &&
	     same_as_stat(proc, path, "ksm_zero_pages") &&
	     same_as_stat(proc, path, "ksm_process_profit");
	ksft_test_result(ok, "-p PID: the process's line is its ksm_stat\n");

	/* Its memory cgroup (all of them: without -p). */
	ok = run("ksmstat --json --once") == 0;
	snprintf(cgpath, sizeof(cgpath), "\"cgroup\":\"%s\"", cg + strlen(ksm_cg_root()));
	group = strstr(out, cgpath);
	snprintf(stat, sizeof(stat), "%s/memory.ksm_stat", cg);
	ok = ok && group && json_num(group, "ksm_merging_pages", &v) &&
	     v == N && v == ksm_read_keyed(stat, "ksm_merging_pages");
	if (!ok)
		ksft_print_msg("no line for %s with %d merging pages in: %.400s\n",
			       cg + strlen(ksm_cg_root()), N, strstr(out, "\"memcgs\"") ?: "");
	ksft_test_result(ok, "memcgs: the child's cgroup with its memory.ksm_stat\n");
}

static void test_live(void)
{
	char *second;
	double cpu = -1, rate = 0;
	bool ok;

	ksm_set("run", 1);
	ok = run("ksmstat --json -n 2 -i 0.5") == 0;
	second = strchr(out, '\n');
	ok = ok && second && second[1] == '{';
	ok = ok && json_num(second + 1, "ksmd_cpu_pct", &cpu) &&
	     cpu >= 0 && cpu <= 100.0 * sysconf(_SC_NPROCESSORS_ONLN) + 5 &&
	     json_num(second + 1, "saved_mib_per_s", &rate);
	ok = ok && json_is(out, "ksmd_cpu_pct", "null");	/* first: no interval */
	ksft_print_msg("ksmd CPU %.1f%%, saving %+.3f MiB/s\n", cpu, rate);
	ksft_test_result(ok, "two samples: ksmd_cpu_pct and the saving's rate over the interval\n");
	ksm_set("run", 0);
}

static void test_text(pid_t child)
{
	char pidstr[16];
	bool ok;

	snprintf(pidstr, sizeof(pidstr), "%8d ", child);
	ok = run("ksmstat --once") == 0 && strstr(out, "pages_shared") &&
	     strstr(out, "full_scans") && strstr(out, pidstr) &&
	     strstr(out, "nothing will merge");
	if (!ok)
		ksft_print_msg("ksmstat --once said: %.400s\n", out);
	/* With --json the notice goes to stderr alone. */
	ok &= run("ksmstat --json --once 2>&1 >/dev/null") == 0 &&
	      strstr(out, "nothing will merge") && !strchr(out, '{');
	ksft_test_result(ok, "text view: the counters, the child's line and ksmd stopped; with --json on stderr\n");
}

/*
 * Start ksmstat @args (stdout and stderr to /dev/null), send @sig a second
 * later: its exit status, or -1 if it died or was still running 5 s later.
 */
static int run_signalled(const char *args, int sig)
{
	int st, i;
	pid_t pid;

	pid = fork();
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execlp("ksmstat", "ksmstat", args, "-i", "0.2", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	usleep(1000000);
	kill(pid, sig);
	for (i = 0; i < 50; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void test_signals(void)
{
	int intr = run_signalled("-t10", SIGINT);
	int term = run_signalled("--json", SIGTERM);

	ksft_test_result(!intr && !term,
			 "SIGINT and SIGTERM end ksmstat with status 0 (%d, %d)\n",
			 intr, term);
}

/* ksmstat @args as uid and gid 65534, its output into out[]. */
static int run_unprivileged(const char *args)
{
	int fd[2], st;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	out[0] = '\0';
	if (pipe(fd))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(126);
		execlp("ksmstat", "ksmstat", args, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (n < sizeof(out) - 1 && (r = read(fd[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += r;
	out[n] = '\0';
	close(fd[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_unprivileged(void)
{
	double v = 0;
	bool ok;

	ok = run_unprivileged("--once") == 0 && strstr(out, "not readable") &&
	     !strstr(out, "no process has memory");
	if (!ok)
		ksft_print_msg("ksmstat --once as uid 65534 said: %.600s\n", out);
	ok &= run_unprivileged("-j1") == 0 && out[0] == '{';
	ok = ok && json_num(out, "processes_unreadable", &v) && v >= 1;
	ksft_test_result(ok, "as another user: processes it may not read are said so (%.0f in the JSON)\n", v);
}

static void test_errors(void)
{
	bool ok = run("ksmstat --once -p 2147483646 2>&1") == 1 &&
		  strstr(out, "no process");

	ok &= run("ksmstat -i 0 2>&1") == 2 && strstr(out, "bad interval");
	ok &= run("ksmstat --bogus 2>&1") == 2 && strstr(out, "usage");
	ok &= run("ksmstat extra 2>&1") == 2;
	ok &= run("timeout 10 ksmstat -i nan 2>&1") == 2 && strstr(out, "bad interval");
	ok &= run("timeout 10 ksmstat -i inf 2>&1") == 2 && strstr(out, "bad interval");
	ok &= run("timeout 10 ksmstat -i 1e19 2>&1") == 2 && strstr(out, "bad interval");
	ok &= run("timeout 10 ksmstat --once -p 4294967297 2>&1") == 2 && strstr(out, "bad pid");
	ok &= run("timeout 10 ksmstat --once -t 4294967306 2>&1") == 2;
	ok &= run("timeout 10 ksmstat --once -t '' 2>&1") == 2;
	ok &= run("timeout 10 ksmstat -n '' 2>&1") == 2;
	ksft_test_result(ok, "errors: no such pid exits 1, a bad interval or option 2\n");
}

/*
 * A name with every kind of byte that must not reach a terminal raw: an
 * escape, a BEL, a C1 control (U+009B, CSI), a byte that is not UTF-8, a
 * newline and a right-to-left override (U+202E).
 */
#define ODD_NAME	"q\"\\\033\a\xc2\x9b\xff\n\xe2\x80\xae"
#define ODD_TEXT	"q\"\\?????????"
#define ODD_JSON	"\"comm\":\"q\\\"\\\\\\u001b\\u0007\\u009b\\ufffd\\u000a\\u202e\""

static void test_names(void)
{
	char cmd[64];
	int go[2], st;
	bool ok;
	pid_t pid;
	char c;

	if (pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid) {
		close(go[1]);
		prctl(PR_SET_NAME, ODD_NAME, 0, 0, 0);
		_exit(read(go[0], &c, 1) < 0);
	}
	close(go[0]);
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	usleep(100000);
	snprintf(cmd, sizeof(cmd), "ksmstat --once -p %d", pid);
	ok = run(cmd) == 0 && strstr(out, ODD_TEXT " ") &&
	     !strchr(out, '\033') && !strchr(out, '\a') &&
	     !strchr(out, '\x9b') && !strchr(out, '\xff') &&
	     !strstr(out, "\xe2\x80\xae");
	if (!ok)
		ksft_print_msg("text view of the odd name: %.200s\n",
			       strstr(out, "command") ?: out);
	snprintf(cmd, sizeof(cmd), "ksmstat --json --once -p %d", pid);
	ok &= run(cmd) == 0 && strstr(out, ODD_JSON);
	if (!ok)
		ksft_print_msg("JSON of the odd name: %.200s\n",
			       strstr(out, "\"processes\"") ?: out);
	close(go[1]);
	waitpid(pid, &st, 0);
	ksft_test_result(ok, "a name with control bytes: shown as '?', escaped in JSON\n");
}

/* -t 0: the processes it does not list are counted, not denied. */
static void test_top0(void)
{
	double found = -1;
	bool ok;

	ok = run("ksmstat --once -t 0") == 0 && strstr(out, "more processes") &&
	     !strstr(out, "no process has memory");
	if (!ok)
		ksft_print_msg("ksmstat --once -t 0 said: %.400s\n", out);
	ok &= run("ksmstat --json --once -t 0 2>/dev/null") == 0 &&
	      strstr(out, "\"processes\":[]") &&
	      json_num(out, "processes_found", &found) && found >= 1;
	ksft_test_result(ok, "-t 0: no process listed, %.0f found\n", found);
}

static void *sleeper(void *arg)
{
	usleep(1500000);
	return arg;
}

/*
 * -p PID: its process exits (a zombie, not reaped), and ksmstat with it.
 * A process whose first thread has exited while another runs on is a
 * zombie by its state, but not gone: ksmstat shows it.
 */
static void test_pid_exits(void)
{
	pthread_t thread;
	char cmd[96];
	int st, rc, rc2;
	pid_t pid;

	pid = fork();
	if (!pid) {
		if (pthread_create(&thread, NULL, sleeper, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	usleep(300000);
	snprintf(cmd, sizeof(cmd), "ksmstat --json --once -p %d 2>&1", pid);
	rc2 = run(cmd);
	waitpid(pid, &st, 0);
	if (!rc2 && !strstr(out, "\"processes\":[{"))
		rc2 = -2;
	if (rc2)
		ksft_print_msg("first thread gone, second running: status %d: %.200s\n",
			       rc2, out);

	pid = fork();
	if (!pid) {
		usleep(700000);
		_exit(0);
	}
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	snprintf(cmd, sizeof(cmd), "timeout 20 ksmstat --json -i 0.2 -p %d 2>&1 >/dev/null", pid);
	rc = run(cmd);
	waitpid(pid, &st, 0);
	if (rc != 1 || !strstr(out, "has exited"))
		ksft_print_msg("ksmstat said (status %d): %.200s\n", rc, out);
	ksft_test_result(rc == 1 && strstr(out, "has exited") && !rc2,
			 "-p PID: ends with status 1 when it exits, not when its first thread does\n");
}

static void test_write_error(void)
{
	int rc = run("ksmstat --once 2>&1 >/dev/full");

	ksft_test_result(rc == 1 && strstr(out, "cannot write"),
			 "output to /dev/full: status 1 (%d)\n", rc);
}

/*
 * run = 2 while ksmstat watches scans end: full_scans goes back to 0, and
 * the sample that sees it says no scan ended (null), not "0 s ago".
 */
static void test_scans_reset(void)
{
	bool seen_scan = false, ok = false;
	char line[8192];
	double v;
	FILE *f;
	int i;

	ksm_set("run", 1);
	f = popen("ksmstat --json -i 0.2 -n 60 2>/dev/null", "r");
	if (!f)
		ksft_exit_fail_msg("popen: %s\n", strerror(errno));
	for (i = 0; fgets(line, sizeof(line), f); i++) {
		if (!seen_scan && json_num(line, "last_full_scan_s_ago", &v)) {
			seen_scan = true;
			if (!ksm_unmerge_all())
				break;
			continue;
		}
		if (seen_scan && json_num(line, "full_scans", &v) && v == 0) {
			ok = json_is(line, "last_full_scan_s_ago", "null");
			if (!ok)
				ksft_print_msg("after run = 2: %.300s\n", line);
			break;
		}
	}
	pclose(f);
	ksft_test_result(seen_scan && ok,
			 "run = 2: no full scan said to end when full_scans goes back to 0\n");
}

int main(void)
{
	unsigned long long keys[N];
	int ready[2], go[2];
	pid_t child;
	char c;
	int i;

	ksft_print_header();
	ksft_set_plan(13);
	ksm_selftest_init(1000, 10, 0);
	if (run("command -v ksmstat") != 0)
		ksft_exit_fail_msg("ksmstat is not on PATH\n");
	/* A kernel without memory.ksm_stat (6.1) still runs the rest. */
	if (!ksm_cg_create("ksmstat", NULL, cg, sizeof(cg), why, sizeof(why)))
		ksft_exit_fail_msg("%s\n", why);
	for (i = 0; i < N; i++)
		keys[i] = i < N / 2 ? 0xaa : 0xbb;
	if (pipe(ready) || pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	child = ksm_fork();
	if (!child) {
		ksm_mmap_mergeable(keys, N);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	if (ksm_pipe_recv(ready[0], 10000) != 'r' || !ksm_cg_attach(cg, child))
		ksft_exit_fail_msg("child did not start, or cannot join %s\n", cg);
	ksm_set("run", 1);
	if (!ksm_wait_merged(2, N - 2))
		ksft_exit_fail_msg("the child's pages did not merge\n");
	ksm_set("run", 0);

	test_json();
	test_pid(child);
	test_live();
	test_text(child);
	test_signals();
	test_unprivileged();
	test_errors();
	test_names();
	test_top0();
	test_pid_exits();
	test_write_error();
	test_scans_reset();

	ksm_pipe_send(go[1], 'q');
	ksm_wait_child(child, "child");
	ksm_unmerge_all();
	ksm_cg_remove(cg);
	ksm_cg_unmount();
	ksft_finished();
}
