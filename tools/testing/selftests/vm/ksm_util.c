// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers for the ksm_*.c selftests (ksm_util.h) and for the stress
 * programs among them (ksm_stress.h).  Every program is linked with this
 * file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/uio.h>

#include "ksm_util.h"
#include "ksm_stress.h"

long ksm_page_size;

/* Set before main(), for the programs that do not call ksm_selftest_init(). */
static void __attribute__((constructor)) ksm_util_init(void)
{
	ksm_page_size = sysconf(_SC_PAGESIZE);
}

/* ---------------------------------------------------------------------- */
/* Knobs: saving and restoring.                                           */
/* ---------------------------------------------------------------------- */

struct ksm_knob {
	const char *name;
	unsigned long val;
	bool optional;		/* absent without NUMA, or before 6.7 */
	bool present;
};

/* Restored in this order, after run=2 and before run. */
static struct ksm_knob ksm_knobs[] = {
	{ .name = "merge_across_nodes", .optional = true },
	{ .name = "max_page_sharing" },
	{ .name = "use_zero_pages" },
	{ .name = "pages_to_scan" },
	{ .name = "sleep_millisecs" },
	{ .name = "stable_node_chains_prune_millisecs" },
	{ .name = "smart_scan", .optional = true },
	/* The advisor's (6.8): max before min, see ksm_restore_knobs(). */
	{ .name = "advisor_max_cpu", .optional = true },
	{ .name = "advisor_target_scan_time", .optional = true },
	{ .name = "advisor_max_pages_to_scan", .optional = true },
	{ .name = "advisor_min_pages_to_scan", .optional = true },
	{ .name = "run" },
};

pid_t ksm_owner_pid;
static bool ksm_knobs_saved;

const char *ksm_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), KSM_SYSFS_DIR "%s", name);
	return path;
}

bool ksm_file_exists(const char *name)
{
	return access(ksm_path(name), F_OK) == 0;
}

/* Read an unsigned decimal from @path: 0 or -errno. */
int ksm_read_ulong_path(const char *path, unsigned long *val)
{
	char buf[64], *end;
	ssize_t n;
	int fd;

	*val = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	errno = 0;
	*val = strtoul(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

int ksm_try_read(const char *name, unsigned long *val)
{
	return ksm_read_ulong_path(ksm_path(name), val);
}

/* Read a KSM sysfs file; bail out when it cannot be read. */
unsigned long ksm_read(const char *name)
{
	unsigned long val;
	int err = ksm_try_read(name, &val);

	if (err)
		ksft_exit_fail_msg("cannot read %s: %s\n", ksm_path(name),
				   strerror(-err));
	return val;
}

/*
 * Write @len bytes of @buf to a KSM sysfs file in one write(2).
 * Returns what write(2) returned, or -errno.
 */
long ksm_write_raw(const char *name, const char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = open(ksm_path(name), O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	err = errno;
	close(fd);
	return n < 0 ? -err : n;
}

/* Write a string: 0 when all of it was accepted, else -errno. */
int ksm_write_str(const char *name, const char *s)
{
	long n = ksm_write_raw(name, s, strlen(s));

	if (n < 0)
		return n;
	return (size_t)n == strlen(s) ? 0 : -EIO;
}

int ksm_write_ulong(const char *name, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return ksm_write_str(name, buf);
}

/* Write a knob and read it back; bail out on any failure. */
void ksm_set(const char *name, unsigned long val)
{
	int err = ksm_write_ulong(name, val);

	if (err)
		ksft_exit_fail_msg("cannot write %lu to %s: %s\n", val,
				   ksm_path(name), strerror(-err));
	if (strcmp(name, "run") && ksm_read(name) != val)
		ksft_exit_fail_msg("%s reads %lu after writing %lu\n",
				   ksm_path(name), ksm_read(name), val);
}

/* advisor_mode none, where there is an advisor (6.8): the boot default. */
void ksm_advisor_off(void)
{
	if (ksm_file_exists("advisor_mode"))
		ksm_write_str("advisor_mode", "none");
}

static void ksm_restore_knobs(void)
{
	unsigned int i;
	int err;

	if (!ksm_knobs_saved || getpid() != ksm_owner_pid)
		return;
	ksm_knobs_saved = false;
	/*
	 * Unmerge everything so that every knob can be written; with the
	 * advisor off, pages_to_scan can be; with its minimum at 1, any
	 * maximum can be.
	 */
	ksm_write_str("run", "2");
	ksm_advisor_off();
	/* merge_domain (this project's): the boot default, global. */
	if (ksm_file_exists("merge_domain"))
		ksm_write_str("merge_domain", "global");
	if (ksm_file_exists("advisor_min_pages_to_scan"))
		ksm_write_str("advisor_min_pages_to_scan", "1");
	for (i = 0; i < ARRAY_SIZE(ksm_knobs); i++) {
		if (!ksm_knobs[i].present)
			continue;
		err = ksm_write_ulong(ksm_knobs[i].name, ksm_knobs[i].val);
		if (err)
			printf("# cannot restore %s=%lu: %s\n",
			       ksm_knobs[i].name, ksm_knobs[i].val,
			       strerror(-err));
	}
	fflush(stdout);
}

static void ksm_fatal_signal(int sig)
{
	char msg[96];
	int len;

	if (getpid() != ksm_owner_pid)
		_exit(KSFT_FAIL);
	if (sig == SIGALRM)
		len = snprintf(msg, sizeof(msg),
			       "Bail out! watchdog: test still running after %d s\n",
			       KSM_WATCHDOG_S);
	else
		len = snprintf(msg, sizeof(msg), "Bail out! fatal signal %d (%s)\n",
			       sig, strsignal(sig));
	fflush(stdout);
	if (len > 0 && write(STDOUT_FILENO, msg, len) < 0)
		len = 0;
	/* Children die with us (PR_SET_PDEATHSIG). */
	ksm_restore_knobs();
	_exit(KSFT_FAIL);
}

static void ksm_save_knobs(void)
{
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(ksm_knobs); i++) {
		err = ksm_try_read(ksm_knobs[i].name, &ksm_knobs[i].val);
		if (err == -ENOENT && ksm_knobs[i].optional)
			continue;
		if (err)
			ksft_exit_fail_msg("cannot read %s: %s\n",
					   ksm_path(ksm_knobs[i].name),
					   strerror(-err));
		ksm_knobs[i].present = true;
	}
	ksm_owner_pid = getpid();
	ksm_knobs_saved = true;
	atexit(ksm_restore_knobs);
}

unsigned long ksm_saved_knob(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ksm_knobs); i++)
		if (!strcmp(ksm_knobs[i].name, name))
			return ksm_knobs[i].val;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Counters.                                                              */
/* ---------------------------------------------------------------------- */

#define KSM_SEEN_FMT "%s: pages_shared %ld pages_sharing %ld pages_unshared %ld pages_volatile %ld stable_node_chains %ld stable_node_dups %ld full_scans %lu\n"
#define KSM_WANT_FMT "expected: pages_shared %ld pages_sharing %ld pages_unshared %ld pages_volatile %ld stable_node_chains %ld stable_node_dups %ld (-1: any)\n"

void ksm_read_counters(struct ksm_counters *c)
{
	c->shared = ksm_read("pages_shared");
	c->sharing = ksm_read("pages_sharing");
	c->unshared = ksm_read("pages_unshared");
	c->vol = ksm_read("pages_volatile");
	c->chains = ksm_read("stable_node_chains");
	c->dups = ksm_read("stable_node_dups");
}

void ksm_print_counters(const char *what)
{
	struct ksm_counters c;

	ksm_read_counters(&c);
	ksft_print_msg(KSM_SEEN_FMT, what, c.shared, c.sharing, c.unshared, c.vol, c.chains,
		       c.dups, ksm_read("full_scans"));
}

bool ksm_counters_match(const struct ksm_counters *c,
			const struct ksm_counters *want)
{
	return (want->shared == KSM_ANY || c->shared == want->shared) &&
	       (want->sharing == KSM_ANY || c->sharing == want->sharing) &&
	       (want->unshared == KSM_ANY || c->unshared == want->unshared) &&
	       (want->vol == KSM_ANY || c->vol == want->vol) &&
	       (want->chains == KSM_ANY || c->chains == want->chains) &&
	       (want->dups == KSM_ANY || c->dups == want->dups);
}

static void ksm_print_want(const struct ksm_counters *w)
{
	ksft_print_msg(KSM_WANT_FMT, w->shared, w->sharing, w->unshared, w->vol, w->chains,
		       w->dups);
}

/* Only pages_shared and pages_sharing matter, the rest is "any". */
static struct ksm_counters ksm_want(long shared, long sharing)
{
	struct ksm_counters w = {
		shared, sharing, KSM_ANY, KSM_ANY, KSM_ANY, KSM_ANY
	};

	return w;
}

long long ksm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

double ksm_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int ksm_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void ksm_sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), ksm_cmp_double);
}

unsigned long ksm_full_scans(void)
{
	return ksm_read("full_scans");
}

/*
 * Wait until full_scans has grown by @n from @start.  False (and a message)
 * on timeout.
 */
static bool ksm_wait_scans_from(unsigned long start, unsigned long n,
				long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;
	unsigned long now;

	for (;;) {
		now = ksm_full_scans();
		if (now >= start + n)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("timeout: full_scans %lu -> %lu in %ld ms, wanted +%lu\n",
				       start, now, timeout_ms, n);
			return false;
		}
		usleep(KSM_POLL_US);
	}
}

bool ksm_wait_full_scans(unsigned long n, long timeout_ms)
{
	return ksm_wait_scans_from(ksm_full_scans(), n, timeout_ms);
}

/*
 * Poll until the counters equal @want (KSM_ANY fields ignored), then check
 * that they still do after two more full scans.  On timeout print what was
 * seen and return false.  *@scans_waited (if set) gets the number of full
 * scans that completed before the counters first matched.
 */
/* Does any process have a mergeable area ("mg" in its smaps VmFlags)? */
static bool ksm_any_mergeable_area(void)
{
	char path[300], line[512];
	struct dirent *d;
	bool found = false;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc");
	if (!dir)
		return true;	/* cannot tell: assume there is */
	while (!found && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/smaps", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			found = !strncmp(line, "VmFlags:", 8) && strstr(line, " mg");
		fclose(f);
	}
	closedir(dir);
	return found;
}

/*
 * May ksmd have stopped making full scans?  Only if it has nothing to do:
 * stopped (run is not 1), told to scan no page, or no process has a
 * mergeable area left.  Otherwise a pass that does not end is a stall.
 */
static bool ksm_may_idle(void)
{
	return ksm_read("run") != 1 || !ksm_read("pages_to_scan") ||
	       !ksm_any_mergeable_area();
}

bool ksm_wait_counters_scans(const struct ksm_counters *want, long timeout_ms,
			     unsigned long *scans_waited)
{
	long long deadline = ksm_now_ms() + timeout_ms;
	unsigned long start = ksm_full_scans(), stable_from, last_scans, now;
	long long last_change;
	struct ksm_counters c;

	for (;;) {
		ksm_read_counters(&c);
		if (ksm_counters_match(&c, want))
			break;
		if (ksm_now_ms() > deadline)
			goto timeout;
		usleep(KSM_POLL_US);
	}
	if (scans_waited)
		*scans_waited = ksm_full_scans() - start;
	/*
	 * Must stay so: a counter passing through a value is not enough.
	 * But ksmd may go idle (ksm_may_idle()): then full_scans standing
	 * still for KSM_IDLE_MS counts.  While it has work, it must not.
	 */
	stable_from = ksm_full_scans();
	last_change = ksm_now_ms();
	last_scans = stable_from;
	for (;;) {
		ksm_read_counters(&c);
		if (!ksm_counters_match(&c, want)) {
			/*
			 * May be transient, inside one page's processing
			 * (ksmd can be preempted there): fail only if it
			 * lasts.
			 */
			long long until = ksm_now_ms() + KSM_TRANSIENT_MS;

			while (!ksm_counters_match(&c, want) && ksm_now_ms() < until) {
				usleep(KSM_POLL_US);
				ksm_read_counters(&c);
			}
			if (!ksm_counters_match(&c, want)) {
				ksft_print_msg("counters matched, then changed\n");
				goto timeout;
			}
		}
		now = ksm_full_scans();
		if (now >= stable_from + 2)
			return true;
		if (now != last_scans) {
			last_scans = now;
			last_change = ksm_now_ms();
		} else if (ksm_now_ms() - last_change > KSM_IDLE_MS) {
			if (ksm_may_idle()) {
				ksft_print_msg("ksmd idle (full_scans stays %lu): counters final\n",
					       now);
				return true;
			}
			ksft_print_msg("full_scans stays %lu for %d ms with areas to scan\n",
				       now, KSM_IDLE_MS);
			goto timeout;
		}
		if (ksm_now_ms() > deadline)
			goto timeout;
		usleep(KSM_POLL_US);
	}
timeout:
	ksm_print_want(want);
	ksm_print_counters("seen");
	return false;
}

bool ksm_wait_counters(const struct ksm_counters *want)
{
	return ksm_wait_counters_scans(want, KSM_TIMEOUT_MS, NULL);
}

/* Shorthand: wait for pages_shared/pages_sharing only. */
bool ksm_wait_merged(long shared, long sharing)
{
	struct ksm_counters w = ksm_want(shared, sharing);

	return ksm_wait_counters(&w);
}

/*
 * Wait until the counters no longer change across two full scans.
 */
bool ksm_wait_settled(long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;
	struct ksm_counters a, b;

	for (;;) {
		ksm_read_counters(&a);
		if (!ksm_wait_full_scans(2, deadline - ksm_now_ms()))
			return false;
		ksm_read_counters(&b);
		if (!memcmp(&a, &b, sizeof(a)))
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("timeout: counters did not settle\n");
			return false;
		}
	}
}

/* Check counters right now, without waiting. */
bool ksm_counters_now(const struct ksm_counters *want)
{
	struct ksm_counters c;

	ksm_read_counters(&c);
	if (ksm_counters_match(&c, want))
		return true;
	ksm_print_want(want);
	ksm_print_counters("seen");
	return false;
}

bool ksm_all_counters_zero(void)
{
	struct ksm_counters zero = { 0, 0, 0, 0, 0, 0 };

	return ksm_counters_now(&zero);
}

/* run=2 and check that every global counter is then exactly 0. */
bool ksm_unmerge_all(void)
{
	ksm_set("run", 2);
	if (ksm_read("run") != 2) {
		ksft_print_msg("run reads %lu after writing 2\n", ksm_read("run"));
		return false;
	}
	return ksm_all_counters_zero();
}

/* Between two cases: a run=2 that leaves a counter behind fails the program. */
void ksm_must_unmerge_all(void)
{
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("run=2 between cases left counters behind\n");
}

/* ---------------------------------------------------------------------- */
/* Setup.                                                                 */
/* ---------------------------------------------------------------------- */

static void ksm_install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGSEGV,
				    SIGBUS, SIGABRT };
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ksm_fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/*
 * Save the knobs (restored at exit), unmerge all, check that the counters
 * are 0, and set the knobs to known values: KSM stopped (run=2),
 * use_zero_pages=0, merge_across_nodes=1, max_page_sharing=256,
 * pages_to_scan=@pages_to_scan, sleep_millisecs=@sleep_ms.
 * @watchdog_s: the whole program is failed after that many seconds.
 */
void ksm_selftest_init(unsigned long pages_to_scan, unsigned long sleep_ms,
		       unsigned int watchdog_s)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksm_page_size = sysconf(_SC_PAGESIZE);
	if (geteuid())
		ksft_exit_skip("KSM selftests must run as root\n");
	if (access(KSM_SYSFS_DIR "run", F_OK))
		ksft_exit_skip("no %s: kernel without CONFIG_KSM\n", KSM_SYSFS_DIR);

	ksm_save_knobs();
	ksm_install_signals();
	alarm(watchdog_s ? watchdog_s : KSM_WATCHDOG_S);

	ksm_set("run", 2);
	if (ksm_read("run") != 2)
		ksft_exit_fail_msg("run reads %lu after writing 2\n", ksm_read("run"));
	if (!ksm_all_counters_zero())
		ksft_exit_fail_msg("KSM counters not all 0 after run=2\n");
	if (ksm_read("full_scans"))
		ksft_exit_fail_msg("full_scans %lu after run=2, expected 0\n",
				   ksm_read("full_scans"));
	ksm_set("use_zero_pages", 0);
	ksm_advisor_off();
	if (ksm_file_exists("merge_across_nodes"))
		ksm_set("merge_across_nodes", 1);
	ksm_set("max_page_sharing", 256);
	ksm_set("pages_to_scan", pages_to_scan);
	ksm_set("sleep_millisecs", sleep_ms);
}

/* ---------------------------------------------------------------------- */
/* Memory and page contents.                                              */
/* ---------------------------------------------------------------------- */

void *ksm_mmap(size_t npages)
{
	void *p = mmap(NULL, npages * ksm_page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap %zu pages: %s\n", npages, strerror(errno));
	return p;
}

void ksm_madvise(void *p, size_t npages, int advice)
{
	if (madvise(p, npages * ksm_page_size, advice))
		ksft_exit_fail_msg("madvise(%p, %zu pages, %d): %s\n", p, npages,
				   advice, strerror(errno));
}

unsigned long long ksm_mix64(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * Page contents are a function of a 64-bit key: every word differs, so a
 * page holding any other key (or a torn mix of two) is detected.
 * Key 0 is reserved for the all-zero page.
 */
void ksm_fill_page(void *page, unsigned long long key)
{
	unsigned long long *w = page;
	size_t i, n = ksm_page_size / sizeof(*w);

	if (!key) {
		memset(page, 0, ksm_page_size);
		return;
	}
	for (i = 0; i < n; i++)
		w[i] = ksm_mix64(key * 4099 + i);
}

/* -1 if @page holds @key, else the byte offset of the first difference. */
long ksm_check_page(const void *page, unsigned long long key)
{
	const unsigned long long *w = page;
	size_t i, n = ksm_page_size / sizeof(*w);
	unsigned long long want;

	for (i = 0; i < n; i++) {
		want = key ? ksm_mix64(key * 4099 + i) : 0;
		if (w[i] != want)
			return i * sizeof(*w);
	}
	return -1;
}

/*
 * Check @npages pages at @base, page i holding keys[i].  Returns the number
 * of bad pages, printing the first few.
 */
size_t ksm_check_pages(void *base, const unsigned long long *keys,
		       size_t npages, const char *what)
{
	size_t i, bad = 0;
	long off;

	for (i = 0; i < npages; i++) {
		off = ksm_check_page(ksm_page_addr(base, i), keys[i]);
		if (off < 0)
			continue;
		if (bad++ < 5)
			ksft_print_msg("%s: page %zu (%p) differs from key %llu at offset %ld\n",
				       what, i, ksm_page_addr(base, i), keys[i], off);
	}
	if (bad)
		ksft_print_msg("%s: %zu of %zu pages bad\n", what, bad, npages);
	return bad;
}

void ksm_fill_pages(void *base, const unsigned long long *keys, size_t npages)
{
	size_t i;

	for (i = 0; i < npages; i++)
		ksm_fill_page(ksm_page_addr(base, i), keys[i]);
}

/* A fresh area of @npages pages, page i holding keys[i], registered with KSM. */
void *ksm_mmap_mergeable(const unsigned long long *keys, size_t npages)
{
	void *area = ksm_mmap(npages);

	ksm_fill_pages(area, keys, npages);
	ksm_madvise(area, npages, MADV_MERGEABLE);
	return area;
}

/* ---------------------------------------------------------------------- */
/* /proc readers.                                                         */
/* ---------------------------------------------------------------------- */

/* /proc/PID/ksm_merging_pages (pid 0: self), -1 if unreadable. */
long ksm_proc_merging_pages(pid_t pid)
{
	char path[64];
	unsigned long val;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ksm_merging_pages");
	if (ksm_read_ulong_path(path, &val))
		return -1;
	return val;
}

/* A "name value" line of a file, -1 if absent. */
long long ksm_read_keyed(const char *path, const char *key)
{
	char line[256], name[128];
	long long val, ret = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lld", name, &val) == 2 &&
		    !strcmp(name, key)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * Walk /proc/self/smaps: for each area that holds @addr (every area when
 * @addr is NULL), the value of its line "@key: N kB" (kB) or, when @key is
 * "VmFlags", 1 if the flag @flag is among them and 0 if not.  Returns their
 * sum, or -1 if no area held a line of @key.
 */
static long long ksm_smaps_walk(const void *addr, const char *key,
				const char *flag)
{
	unsigned long a = (unsigned long)addr, start, end;
	size_t klen = strlen(key);
	long long kb, sum = -1;
	char line[512], *v;
	bool in = false;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* An area's first line: "start-end perms ..."; no other parses. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = !addr || (a >= start && a < end);
			continue;
		}
		if (!in || strncmp(line, key, klen) || line[klen] != ':')
			continue;
		v = line + klen + 1;
		if (flag) {
			/* "VmFlags: rd wr mr ..." */
			kb = 0;
			for (v = strtok(v, " \n"); v; v = strtok(NULL, " \n"))
				kb |= !strcmp(v, flag);
		} else if (sscanf(v, "%lld kB", &kb) != 1) {
			continue;
		}
		sum = (sum < 0 ? 0 : sum) + kb;
	}
	fclose(f);
	return sum;
}

long long ksm_smaps_kb(const void *addr, const char *key)
{
	return ksm_smaps_walk(addr, key, NULL);
}

int ksm_smaps_flag(const void *addr, const char *flag)
{
	return addr ? ksm_smaps_walk(addr, "VmFlags", flag) : -1;
}

/* ksm_rmap_items of /proc/PID/ksm_stat (pid 0: self), -1 if absent. */
long ksm_proc_rmap_items(pid_t pid)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ksm_stat");
	return ksm_read_keyed(path, "ksm_rmap_items");
}

/* A /proc/vmstat counter (e.g. "cow_ksm"), -1 if absent. */
long long ksm_vmstat(const char *name)
{
	return ksm_read_keyed("/proc/vmstat", name);
}

unsigned long long ksm_pagemap(const void *addr)
{
	unsigned long long ent;
	off_t off = (unsigned long)addr / ksm_page_size * sizeof(ent);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		ksft_exit_fail_msg("open /proc/self/pagemap: %s\n", strerror(errno));
	if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		ksft_exit_fail_msg("read /proc/self/pagemap: %s\n", strerror(errno));
	close(fd);
	return ent;
}

/* Entry @pfn of /proc/kpageflags or /proc/kpagecount; -1 if unreadable. */
long long ksm_kpage(const char *file, unsigned long long pfn)
{
	unsigned long long val;
	int fd = open(file, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &val, sizeof(val), pfn * sizeof(val));
	close(fd);
	return n == sizeof(val) ? (long long)val : -1;
}

/*
 * Is @flag (a mask) set in /proc/kpageflags for @pfn?  Flags that cannot be
 * read end the test as failed: they are not flags set.
 */
bool ksm_kpage_flag(unsigned long long pfn, unsigned long long flag)
{
	long long v = ksm_kpage("/proc/kpageflags", pfn);

	if (v < 0)
		ksft_exit_fail_msg("/proc/kpageflags of pfn %#llx: %s\n", pfn,
				   errno ? strerror(errno) : "short read");
	return v & flag;
}

/* ksmd's pid, found by its name in /proc; 0 if there is no ksmd. */
pid_t ksm_ksmd_pid(void)
{
	static pid_t pid;
	char path[300], comm[32];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	if (pid)
		return pid;
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while (!pid && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
			pid = atoi(d->d_name);
		fclose(f);
	}
	closedir(dir);
	return pid;
}

/* ksmd's CPU time so far (utime + stime), in clock ticks; -1 if unreadable. */
long long ksm_ksmd_ticks(void)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;
	pid_t pid = ksm_ksmd_pid();
	ssize_t n = -1;
	int fd;

	if (!pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* After "pid (comm) ": the state is field 3, utime 14, stime 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2)
		return -1;
	return utime + stime;
}

/*
 * How many of the @npages pages at @base map a KSM page, by
 * /proc/self/pagemap and /proc/kpageflags; -1 if those cannot be read.
 */
long ksm_count_ksm_pages(void *base, size_t npages)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kpf = open("/proc/kpageflags", O_RDONLY);
	unsigned long long ent, flags;
	long n = -1;
	size_t i;

	if (pm < 0 || kpf < 0)
		goto out;
	n = 0;
	for (i = 0; i < npages; i++) {
		off_t off = (unsigned long)ksm_page_addr(base, i) / ksm_page_size *
			    sizeof(ent);

		if (pread(pm, &ent, sizeof(ent), off) != sizeof(ent)) {
			n = -1;
			break;
		}
		if (!(ent & KSM_PM_PRESENT) || !(ent & KSM_PM_PFN_MASK))
			continue;
		if (pread(kpf, &flags, sizeof(flags),
			  (ent & KSM_PM_PFN_MASK) * sizeof(flags)) != sizeof(flags)) {
			n = -1;
			break;
		}
		n += !!(flags & KSM_KPF_KSM);
	}
out:
	if (pm >= 0)
		close(pm);
	if (kpf >= 0)
		close(kpf);
	return n;
}

/* ---------------------------------------------------------------------- */
/* Swap and memory cgroups (cgroup2).                                     */
/* ---------------------------------------------------------------------- */

static char ksm_cg_mnt[64];
static bool ksm_cg_mounted;

bool ksm_have_swap(void)
{
	return ksm_read_keyed("/proc/meminfo", "SwapTotal:") > 0;
}

/*
 * Write @val to the file @path (truncating, as a shell's echo does) in one
 * write(2): true when all was accepted.
 */
bool ksm_write_path(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val);
}

/* ksm_write_path() of @dir/@file. */
bool ksm_cg_write(const char *dir, const char *file, const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return ksm_write_path(path, val);
}

/* ksm_cg_write(), saying what failed. */
bool ksm_cg_set(const char *dir, const char *file, const char *val)
{
	if (ksm_cg_write(dir, file, val))
		return true;
	ksft_print_msg("cannot write %s to %s/%s: %s\n", val, dir, file, strerror(errno));
	return false;
}

/* A file of one number (memory.current, say); -1 if unreadable. */
long long ksm_cg_read(const char *dir, const char *file)
{
	char path[512];
	unsigned long val;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (ksm_read_ulong_path(path, &val))
		return -1;
	return val;
}

/*
 * Find the cgroup2 hierarchy, mounting one if there is none, and enable the
 * memory controller below its root.  False, with a reason, if impossible.
 */
bool ksm_cg_mount(char *why, size_t len)
{
	char line[512], dev[64], mnt[256], type[64];
	FILE *f;

	if (ksm_cg_mnt[0])
		return true;
	f = fopen("/proc/self/mounts", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %255s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2") && strlen(mnt) < sizeof(ksm_cg_mnt)) {
			strcpy(ksm_cg_mnt, mnt);
			break;
		}
	}
	if (f)
		fclose(f);
	if (!ksm_cg_mnt[0]) {
		snprintf(ksm_cg_mnt, sizeof(ksm_cg_mnt), "/tmp/ksm_cg.%d", getpid());
		if (mkdir(ksm_cg_mnt, 0700) ||
		    mount("none", ksm_cg_mnt, "cgroup2", 0, NULL)) {
			snprintf(why, len, "cannot mount cgroup2: %s", strerror(errno));
			rmdir(ksm_cg_mnt);
			ksm_cg_mnt[0] = '\0';
			return false;
		}
		ksm_cg_mounted = true;
	}
	ksm_cg_write(ksm_cg_mnt, "cgroup.subtree_control", "+memory");
	return true;
}

/* The root of the cgroup2 hierarchy ksm_cg_mount() found ("" before). */
const char *ksm_cg_root(void)
{
	return ksm_cg_mnt;
}

/* Unmount what ksm_cg_mount() mounted. */
void ksm_cg_unmount(void)
{
	if (ksm_cg_mounted) {
		umount2(ksm_cg_mnt, MNT_DETACH);
		rmdir(ksm_cg_mnt);
		ksm_cg_mounted = false;
		ksm_cg_mnt[0] = '\0';
	}
}

/*
 * Make the memory cgroup @name.PID below the root into @dir (PATH_MAX
 * bytes at most: @dirlen).  @need: a file the cgroup must offer (say
 * "memory.reclaim"), or NULL.  False, with a reason, if impossible; @dir
 * is then empty, or names a cgroup to remove.
 */
bool ksm_cg_create(const char *name, const char *need, char *dir, size_t dirlen,
		   char *why, size_t len)
{
	char path[640];

	dir[0] = '\0';
	if (!ksm_cg_mount(why, len))
		return false;
	snprintf(dir, dirlen, "%s/%s.%d", ksm_cg_mnt, name, getpid());
	if (mkdir(dir, 0700)) {
		snprintf(why, len, "mkdir %.200s: %s", dir, strerror(errno));
		dir[0] = '\0';
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, need ? need : "memory.max");
	if (access(path, F_OK)) {
		snprintf(why, len, "no %s in %.200s", need ? need : "memory.max", dir);
		return false;
	}
	return true;
}

/* Move @pid (0: the caller) into the cgroup @dir. */
bool ksm_cg_attach(const char *dir, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", pid ? pid : getpid());
	return ksm_cg_write(dir, "cgroup.procs", buf);
}

/*
 * Remove the cgroup @dir (and empty @dir).  Its processes must have been
 * reaped; a cgroup whose last process is still on its way out is busy for
 * a moment, so this retries for a few seconds.
 */
bool ksm_cg_remove(char *dir)
{
	long long deadline = ksm_now_ms() + 10000;

	if (!dir[0])
		return true;
	while (rmdir(dir)) {
		if (errno != EBUSY || ksm_now_ms() > deadline) {
			ksft_print_msg("rmdir %s: %s\n", dir, strerror(errno));
			return false;
		}
		usleep(10000);
	}
	dir[0] = '\0';
	return true;
}

/* Move the caller into a new memory cgroup (see ksm_cg_create()). */
bool ksm_cg_enter(const char *name, const char *need, char *dir, size_t dirlen,
		  char *why, size_t len)
{
	if (!ksm_cg_create(name, need, dir, dirlen, why, len))
		return false;
	if (!ksm_cg_attach(dir, 0)) {
		snprintf(why, len, "cannot join %.200s: %s", dir, strerror(errno));
		return false;
	}
	return true;
}

/* Leave @dir for the root, remove it and unmount what was mounted. */
void ksm_cg_leave(char *dir)
{
	if (ksm_cg_mnt[0])
		ksm_cg_attach(ksm_cg_mnt, 0);
	ksm_cg_remove(dir);
	ksm_cg_unmount();
}

/* ---------------------------------------------------------------------- */
/* NUMA, by raw system calls (no libnuma needed).                         */
/* ---------------------------------------------------------------------- */

long ksm_mbind(void *addr, unsigned long len, int mode,
	       const unsigned long *mask, unsigned long maxnode,
	       unsigned int flags)
{
	return syscall(SYS_mbind, addr, len, mode, mask, maxnode, flags);
}

long ksm_move_pages(unsigned long count, void **pages, const int *nodes,
		    int *status, int flags)
{
	return syscall(SYS_move_pages, 0, count, pages, nodes, status, flags);
}

/* The node of the page at @addr, or -errno. */
int ksm_node_of(void *addr)
{
	int status = -ENOENT;

	if (ksm_move_pages(1, &addr, NULL, &status, 0))
		return -errno;
	return status;
}

/* Nodes 0 and 1 both have memory? */
bool ksm_two_nodes(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	ksft_print_msg("nodes with memory: %s\n", ok ? buf : "?");
	/* A list like "0-1", "0-3" or "0,1,...". */
	return ok && (!strncmp(buf, "0-", 2) || !strncmp(buf, "0,1", 3));
}

/* Bind [addr, addr + npages) to @node (before it is populated). */
void ksm_bind_node(void *addr, size_t npages, int node)
{
	unsigned long mask = 1UL << node;

	if (ksm_mbind(addr, npages * ksm_page_size, MPOL_BIND, &mask,
		      8 * sizeof(mask), MPOL_MF_STRICT))
		ksft_exit_fail_msg("mbind to node %d: %s\n", node, strerror(errno));
}

/* ---------------------------------------------------------------------- */
/* Children.                                                              */
/* ---------------------------------------------------------------------- */

/*
 * fork() a child that dies with the parent.  The child must leave with
 * _exit(), never exit(): the knobs are the parent's to restore.
 */
pid_t ksm_fork(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		signal(SIGALRM, SIG_DFL);
		alarm(0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != ksm_owner_pid)
			_exit(KSFT_FAIL);
	}
	return pid;
}

/* Wait for a child: true if it exited with status 0. */
bool ksm_wait_child(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("%s: waitpid %d: %s\n", what, pid, strerror(errno));
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFEXITED(status))
		ksft_print_msg("%s: child %d exited with %d\n", what, pid,
			       WEXITSTATUS(status));
	else
		ksft_print_msg("%s: child %d killed by signal %d\n", what, pid,
			       WTERMSIG(status));
	return false;
}

/*
 * A pipe in @fds that holds a reference to each of the @npages pages at @p
 * (vmsplice, no pin, no copy) until its data is read or it is closed.
 * False if the pipe could not be made, or the pages put into it: @fds is
 * left as pipe() set it.
 */
bool ksm_pipe_hold(int fds[2], void *p, size_t npages)
{
	struct iovec iov = { .iov_base = p, .iov_len = npages * ksm_page_size };

	return !pipe(fds) &&
	       vmsplice(fds[1], &iov, 1, 0) == (ssize_t)iov.iov_len;
}

/* One byte over a pipe, with a timeout: used to step children. */
bool ksm_pipe_send(int fd, char c)
{
	return write(fd, &c, 1) == 1;
}

int ksm_pipe_recv(int fd, long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;
	struct timeval tv;
	fd_set set;
	char c;
	int ret;

	for (;;) {
		long left = deadline - ksm_now_ms();

		if (left < 0)
			return -ETIMEDOUT;
		FD_ZERO(&set);
		FD_SET(fd, &set);
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		ret = select(fd + 1, &set, NULL, NULL, &tv);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (!ret)
			return -ETIMEDOUT;
		if (read(fd, &c, 1) != 1)
			return -EPIPE;
		return (unsigned char)c;
	}
}

/* ---------------------------------------------------------------------- */
/* The stress programs (ksm_stress.h).                                    */
/* ---------------------------------------------------------------------- */

struct ksm_stress_stats *ksm_stats;
unsigned long long ksm_seed;
unsigned int ksm_secs;
long long ksm_deadline_ms;
const char *ksm_prog;

/* splitmix64: a small, good generator; each process seeds its own state. */
unsigned long long ksm_rand(unsigned long long *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return ksm_mix64(*state);
}

/* A uniform value in [0, n), n > 0. */
unsigned long long ksm_rand_below(unsigned long long *state,
				  unsigned long long n)
{
	return ksm_rand(state) % n;
}

/* The state of stream @stream (a child number, say) of this run's seed. */
unsigned long long ksm_rand_stream(unsigned long long stream)
{
	return ksm_mix64(ksm_seed ^ ksm_mix64(stream + 1));
}

static void ksm_stress_usage(void)
{
	fprintf(stderr, "usage: %s [-t SECONDS] [-s SEED]\n", ksm_prog);
	exit(KSFT_FAIL);
}

/*
 * Parse -t and -s, set the deadline, map the shared counters and print the
 * seed.  Call before ksm_selftest_init(), whose watchdog should be given
 * ksm_stress_watchdog().
 */
void ksm_stress_init(int argc, char **argv, unsigned int default_secs)
{
	const char *env = getenv("KSM_SEED");
	char *end;
	int opt;

	ksm_prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	ksm_secs = default_secs;
	if (env && *env)
		ksm_seed = strtoull(env, NULL, 0);
	else
		ksm_seed = ksm_mix64((unsigned long long)time(NULL) << 20 ^ getpid());
	while ((opt = getopt(argc, argv, "t:s:")) != -1) {
		switch (opt) {
		case 't':
			ksm_secs = strtoul(optarg, &end, 0);
			if (*end || !ksm_secs)
				ksm_stress_usage();
			break;
		case 's':
			ksm_seed = strtoull(optarg, &end, 0);
			if (*end)
				ksm_stress_usage();
			break;
		default:
			ksm_stress_usage();
		}
	}
	ksm_stats = mmap(NULL, sizeof(*ksm_stats), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ksm_stats == MAP_FAILED)
		ksft_exit_fail_msg("mmap of the shared counters: %s\n", strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_msg("seed %llu, %u s (repeat: %s -s %llu -t %u)\n", ksm_seed,
		       ksm_secs, ksm_prog, ksm_seed, ksm_secs);
	ksm_deadline_ms = ksm_now_ms() + ksm_secs * 1000LL;
}

void ksm_stress_ops(unsigned long long n)
{
	__atomic_fetch_add(&ksm_stats->ops, n, __ATOMIC_RELAXED);
}

/*
 * Count @npages verified pages, @bad of which held the wrong contents.
 * Returns @bad, so that callers can write "if (ksm_stress_verified(...))".
 */
unsigned long long ksm_stress_verified(unsigned long long npages,
				       unsigned long long bad)
{
	__atomic_fetch_add(&ksm_stats->verified, npages, __ATOMIC_RELAXED);
	if (bad)
		__atomic_fetch_add(&ksm_stats->mismatches, bad, __ATOMIC_RELAXED);
	return bad;
}

/* Print the summary line the lab adds up; true if no mismatch was seen. */
bool ksm_stress_summary(void)
{
	struct ksm_stress_stats s = {
		.ops = __atomic_load_n(&ksm_stats->ops, __ATOMIC_SEQ_CST),
		.verified = __atomic_load_n(&ksm_stats->verified, __ATOMIC_SEQ_CST),
		.mismatches = __atomic_load_n(&ksm_stats->mismatches, __ATOMIC_SEQ_CST),
	};

	printf("# summary: %s seed=%llu secs=%u ops=%llu verified=%llu mismatches=%llu\n",
	       ksm_prog, ksm_seed, ksm_secs, s.ops, s.verified, s.mismatches);
	return s.mismatches == 0;
}

/* KSM's three slab caches, in the order of the counts of ksm_slab_objs(). */
static const char * const ksm_slab_names[KSM_NR_SLABS] = {
	"ksm_rmap_item", "ksm_stable_node", "ksm_mm_slot",
};

/* Fill @objs; false if /proc/slabinfo lacks one of the caches. */
bool ksm_slab_objs(long objs[KSM_NR_SLABS])
{
	char line[512], name[64];
	int i, found = 0;
	long active;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", name, &active) != 2)
			continue;
		for (i = 0; i < KSM_NR_SLABS; i++) {
			if (!strcmp(name, ksm_slab_names[i])) {
				objs[i] = active;
				found |= 1 << i;
			}
		}
	}
	fclose(f);
	return found == (1 << KSM_NR_SLABS) - 1;
}

/*
 * SLUB counts the free objects of per-cpu slabs as active: have it flush
 * them and discard empty slabs (/sys/kernel/slab/NAME/shrink), if it can.
 */
void ksm_slab_shrink(void)
{
	char path[128];
	int i, fd;

	for (i = 0; i < KSM_NR_SLABS; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 ksm_slab_names[i]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;
		if (write(fd, "1", 1) != 1)
			ksft_print_msg("write %s: %s\n", path, strerror(errno));
		close(fd);
	}
}

void ksm_slab_print(const char *what, const long objs[KSM_NR_SLABS])
{
	ksft_print_msg("%s: ksm_rmap_item %ld ksm_stable_node %ld ksm_mm_slot %ld\n",
		       what, objs[0], objs[1], objs[2]);
}

/*
 * Wait (at most @timeout_ms: frees may be deferred, by RCU say) until every
 * KSM slab object is freed.  1 when they are, 0 on timeout (printed), -1
 * when they cannot be counted (no /proc/slabinfo or merged caches).
 */
int ksm_slab_wait_zero(long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;
	long objs[KSM_NR_SLABS];

	for (;;) {
		if (!ksm_slab_objs(objs))
			return -1;
		if (!objs[0] && !objs[1] && !objs[2])
			return 1;
		if (ksm_now_ms() > deadline) {
			ksm_slab_print("KSM slab objects still active", objs);
			return 0;
		}
		ksm_slab_shrink();
		usleep(100000);
	}
}

/* ---------------------------------------------------------------------- */
/* The share that data held still implies.                                */
/* ---------------------------------------------------------------------- */

static bool ksm_share_match(const struct ksm_share *w, struct ksm_counters *c, long *zero)
{
	unsigned long z;

	ksm_read_counters(c);
	*zero = -1;
	if (w->zero >= 0 && !ksm_try_read("ksm_zero_pages", &z))
		*zero = z;
	return c->shared + c->sharing == w->sum && c->unshared == w->unshared &&
	       c->vol == 0 && *zero == w->zero;
}

/*
 * Wait until the counters are as @w says, then check that they stay so
 * over two more full scans (a mismatch shorter than KSM_TRANSIENT_MS is
 * taken: ksmd may be inside one page's processing).  See ksm_stress.h.
 */
bool ksm_wait_share(const struct ksm_share *w, long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms, since = -1, now;
	unsigned long from = 0;
	struct ksm_counters c;
	bool matched = false;
	long zero;

	for (;;) {
		bool ok = ksm_share_match(w, &c, &zero);

		now = ksm_now_ms();
		if (ok && !matched) {
			matched = true;
			from = ksm_full_scans();
		}
		if (ok) {
			since = -1;
			if (ksm_full_scans() >= from + 2)
				return true;
		} else if (matched && since < 0) {
			since = now;
		} else if (matched && now - since > KSM_TRANSIENT_MS) {
			ksft_print_msg("counters matched, then changed\n");
			break;
		}
		if (now > deadline) {
			ksft_print_msg("timeout after %ld ms\n", timeout_ms);
			break;
		}
		usleep(KSM_POLL_US);
	}
	ksft_print_msg("want: pages_shared + pages_sharing %ld, pages_unshared %ld, pages_volatile 0, ksm_zero_pages %ld (-1: not checked)\n",
		       w->sum, w->unshared, w->zero);
	ksft_print_msg("seen: pages_shared %ld + pages_sharing %ld = %ld, pages_unshared %ld, pages_volatile %ld, ksm_zero_pages %ld; full_scans %lu\n",
		       c.shared, c.sharing, c.shared + c.sharing, c.unshared, c.vol, zero,
		       ksm_full_scans());
	return false;
}
