// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_bench: the guest side of `make bench`.  One workload per run:
 *
 *   ksm_bench merge   [-m MIB] [-n PROCS] [-d CONTENTS] [-u UNIQUE%]
 *   ksm_bench scan    [-m MIB] [-s SCANS]
 *   ksm_bench cow     [-p PAGES] [-d CONTENTS]
 *   ksm_bench unmerge [-m MIB] [-d CONTENTS]
 *   ksm_bench steady  [-m MIB] [-t SECONDS] [-d CONTENTS] [-u VOLATILE%]
 *   ksm_bench latency [-m MIB] [-s ROUNDS]
 *   ksm_bench idle    [-m MIB] [-t SECONDS]
 *   ksm_bench domains [-m MIB]   (merge_domain; ours only, none on stock)
 *   ksm_bench vm      [-m MIB] [-t SECONDS]
 *   ksm_bench scale   [-m MIB]   (MIB, 4 and 16 times as much; 1, 64, 512 processes)
 *   ksm_bench sparse  [-m MIB] [-g GIB]
 *   ksm_bench phases  [-m MIB]
 *   ksm_bench shapes  [-m MIB]   (merge, cow and unmerge at several shapes)
 *   ksm_bench tsc_khz   (on the host: its TSC frequency, for tsc_early_khz=)
 *
 * Every workload starts from an idle KSM (run=2, all counters zero), checks
 * that the counters reach exactly what the data implies and that every page
 * still holds what was written, and only then prints its numbers as
 * "bench: result KEY VALUE" lines; anything wrong is "bench: FAIL why" and
 * exit 1, so a run that merged less or wrongly yields no number at all.
 * Progress goes out as "bench: progress ..." lines.
 *
 * ksmd's CPU time is utime+stime of /proc/<ksmd>/stat in clock ticks; wall
 * times are CLOCK_MONOTONIC.  The host (lab/bench.sh) gathers the results.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <x86intrin.h>

#include "ksm_util.h"

#define PAGE 4096UL
#define KPF_KSM 21
#define MAX_PROCS 64

static const char *workload = "ksm_bench";
static double t_start;
/* merge_domain for the workloads that follow (NULL: leave it); see w_domains. */
static const char *domain;
static char domain_cg[256];	/* the one memory cgroup of the processes */
static char result_prefix[32];
/* pages_to_scan while merge_until() runs ksmd fast; see w_shapes(). */
static unsigned long merge_rate = 16384;

/* ---- helpers ------------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	printf("bench: FAIL %s: ", workload);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static void __attribute__((format(printf, 1, 2))) progress(const char *fmt, ...)
{
	va_list ap;

	printf("bench: progress %s %5.1fs: ", workload, now() - t_start);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void result(const char *key, double v)
{
	printf("bench: result %s%s %.9g\n", result_prefix, key, v);
	fflush(stdout);
}

static unsigned long rd(const char *name)
{
	unsigned long v;
	int err = ksm_try_read(name, &v);

	if (err)
		fail("cannot read %s: %s", ksm_path(name), strerror(-err));
	return v;
}

static void wr(const char *name, unsigned long v)
{
	int err = ksm_write_ulong(name, v);

	if (err)
		fail("cannot write %lu to %s: %s", v, ksm_path(name), strerror(-err));
}

static int ksmd_pid(void)
{
	pid_t pid = ksm_ksmd_pid();

	if (!pid)
		fail("no ksmd thread in /proc");
	return pid;
}

/*
 * ksmd's run time so far from /proc/PID/sched (CONFIG_SCHED_DEBUG), in
 * seconds, to the nanosecond; -1 if that file is not there.
 */
static double ksmd_runtime(void)
{
	static const char key[] = "se.sum_exec_runtime";
	char path[64], line[256];
	double ms = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/sched", ksmd_pid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, sizeof(key) - 1)) {
			char *colon = strchr(line, ':');

			if (!colon || sscanf(colon + 1, "%lf", &ms) != 1)
				ms = -1;
			break;
		}
	fclose(f);
	return ms < 0 ? -1 : ms / 1000;
}

/*
 * ksmd's CPU time so far, in seconds: its run time where the kernel shows
 * it, else utime + stime, which is the same time in clock ticks.
 */
static double ksmd_cpu(void)
{
	double runtime = ksmd_runtime();
	long long ticks;

	if (runtime >= 0)
		return runtime;
	ticks = ksm_ksmd_ticks();

	if (ticks < 0)
		fail("cannot read ksmd's CPU time from /proc/%d/stat", ksmd_pid());
	return (double)ticks / sysconf(_SC_CLK_TCK);
}

/* The clock source behind CLOCK_MONOTONIC. */
static const char *clocksource(void)
{
	static char name[64];
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (!f || !fgets(name, sizeof(name), f))
		snprintf(name, sizeof(name), "unknown");
	if (f)
		fclose(f);
	name[strcspn(name, "\n")] = 0;
	return name;
}

/*
 * Fill one page with the content of @tag (ksm_fill_page()'s key @tag + 1:
 * its key 0 is the zero page, and tag 0 is a content like the others).
 */
static void fill(void *page, uint64_t tag)
{
	ksm_fill_page(page, tag + 1);
}

/* Does the page hold the content of @tag? */
static int same(const void *page, uint64_t tag)
{
	return ksm_check_page(page, tag + 1) < 0;
}

static void *map(unsigned long pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap of %lu MiB: %s", pages * PAGE >> 20, strerror(errno));
	return p;
}

static void mergeable(void *p, unsigned long pages, int advice)
{
	if (madvise(p, pages * PAGE, advice))
		fail("madvise(%s): %s", advice == MADV_MERGEABLE ? "MADV_MERGEABLE" :
		     "MADV_UNMERGEABLE", strerror(errno));
}

/*
 * Content tags.  A repeated page of content c has tag c (c < CONTENTS); a
 * unique page has a tag no other page has.
 */
#define UNIQUE(seed, i) ((1ULL << 40) + ((uint64_t)(seed) << 24) + (i))

/*
 * What the counters must end at when, over all registered pages, content c
 * occurs count[c] times: one KSM page per max_page_sharing mappings.
 */
struct expect {
	unsigned long shared, sharing;
};

static struct expect expected(const unsigned long *count, unsigned long contents)
{
	unsigned long mps = rd("max_page_sharing"), c, k;
	struct expect e = { 0, 0 };

	for (c = 0; c < contents; c++) {
		if (count[c] < 2)
			continue;
		k = (count[c] + mps - 1) / mps;
		e.shared += k;
		e.sharing += count[c] - k;
	}
	return e;
}

/* Start from an idle KSM: unmerge everything, all counters zero, stopped. */
static void settle(void)
{
	double t0 = now();

	wr("run", 2);
	while (rd("pages_shared") || rd("pages_sharing") || rd("pages_unshared")) {
		if (now() - t0 > 60)
			fail("KSM not idle 60s after run=2: pages_shared %lu, pages_sharing %lu, pages_unshared %lu",
			     rd("pages_shared"), rd("pages_sharing"), rd("pages_unshared"));
		usleep(100000);
	}
	wr("run", 0);
	if (domain && ksm_write_str("merge_domain", domain))
		fail("cannot set merge_domain %s", domain);
	wr("pages_to_scan", 100);
	wr("sleep_millisecs", 20);
	/* Newer kernels' smart scan (not 6.1's): on, its default. */
	if (!access("/sys/kernel/mm/ksm/smart_scan", F_OK))
		wr("smart_scan", 1);
}

/*
 * Run ksmd fast (pages_to_scan merge_rate, sleep_millisecs 0) until the counters
 * are @e; fail if they stop moving for 6 full scans or @limit seconds pass.
 * Returns the wall seconds; *cpu gets ksmd's CPU seconds.
 */
static double merge_until(struct expect e, double limit, double *cpu)
{
	unsigned long shared, sharing, last_shared = ~0UL, last_sharing = ~0UL;
	unsigned long scans0, scans_at_change = 0, scans;
	double t0, t, c0, shown = 0;

	wr("pages_to_scan", merge_rate);
	wr("sleep_millisecs", 0);
	scans0 = rd("full_scans");
	c0 = ksmd_cpu();
	t0 = now();
	wr("run", 1);
	for (;;) {
		shared = rd("pages_shared");
		sharing = rd("pages_sharing");
		t = now() - t0;
		if (shared == e.shared && sharing == e.sharing)
			break;
		scans = rd("full_scans") - scans0;
		if (shared != last_shared || sharing != last_sharing) {
			last_shared = shared;
			last_sharing = sharing;
			scans_at_change = scans;
		}
		if (scans >= scans_at_change + 6 || t > limit)
			fail("merged wrongly: pages_shared %lu, pages_sharing %lu after %.1fs and %lu full scans; expected %lu, %lu",
			     shared, sharing, t, scans, e.shared, e.sharing);
		if (t - shown >= 10) {
			progress("merging: pages_shared %lu/%lu, pages_sharing %lu/%lu, %lu full scans",
				 shared, e.shared, sharing, e.sharing, scans);
			shown = t;
		}
		usleep(10000);
	}
	if (cpu)
		*cpu = ksmd_cpu() - c0;
	progress("merged in %.2fs (%lu full scans): pages_shared %lu, pages_sharing %lu",
		 t, rd("full_scans") - scans0, shared, sharing);
	return t;
}

/* Check that the counters are still @e (ksmd stopped or idle). */
static void still(struct expect e, const char *when)
{
	unsigned long shared = rd("pages_shared"), sharing = rd("pages_sharing");

	if (shared != e.shared || sharing != e.sharing)
		fail("%s: pages_shared %lu, pages_sharing %lu; expected %lu, %lu",
		     when, shared, sharing, e.shared, e.sharing);
}

/* Bytes in use in KSM's slab caches, from /proc/slabinfo. */
struct slab {
	double rmap_item, stable_node, mm_slot;
};

static struct slab slabinfo(void)
{
	unsigned long active, num, size;
	struct slab s = { 0, 0, 0 };
	char line[512], name[64];
	int seen = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		fail("no /proc/slabinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lu %lu %lu", name, &active, &num, &size) != 4)
			continue;
		if (!strcmp(name, "ksm_rmap_item"))
			s.rmap_item = (double)active * size, seen |= 1;
		else if (!strcmp(name, "ksm_stable_node"))
			s.stable_node = (double)active * size, seen |= 2;
		else if (!strcmp(name, "ksm_mm_slot"))
			s.mm_slot = (double)active * size, seen |= 4;
	}
	fclose(f);
	if (seen != 7)
		fail("/proc/slabinfo lacks ksm_rmap_item, ksm_stable_node or ksm_mm_slot (merged into other caches? boot with slab_nomerge)");
	return s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* How many pages of [p, p + pages) are KSM pages (KPF_KSM)? */

static unsigned long ksm_pages_in(void *p, unsigned long pages)
{
	static int kpf_ksm_ok = -1;
	uint64_t *pm = malloc(pages * 8), flags;
	unsigned long i, n = 0, nopfn = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	int kf = open("/proc/kpageflags", O_RDONLY);

	if (!pm || fd < 0 || kf < 0)
		fail("cannot open pagemap/kpageflags: %s", strerror(errno));
	/*
	 * 6.12's /proc/kpageflags (6.10 on, until fixed) flags every anon
	 * page KSM.  There, a page counts if another page of the range maps
	 * the same PFN: a merged page, as the callers' ranges have no
	 * content only once.
	 */
	if (kpf_ksm_ok < 0) {
		char *probe = map(1);

		memset(probe, 1, PAGE);
		kpf_ksm_ok = 1;
		kpf_ksm_ok = !ksm_pages_in(probe, 1);
		munmap(probe, PAGE);
		if (!kpf_ksm_ok)
			progress("/proc/kpageflags flags every anon page KSM: counting pages that share a PFN");
	}
	if (pread(fd, pm, pages * 8, (uintptr_t)p / PAGE * 8) != (ssize_t)(pages * 8))
		fail("cannot read /proc/self/pagemap: %s", strerror(errno));
	for (i = 0; i < pages; i++) {
		uint64_t pfn = pm[i] & ((1ULL << 55) - 1);

		if (!(pm[i] >> 63) || !pfn) {
			nopfn++;
			continue;
		}
		pm[i] = pfn;
		if (!kpf_ksm_ok)
			continue;
		if (pread(kf, &flags, 8, pfn * 8) != 8)
			fail("cannot read /proc/kpageflags: %s", strerror(errno));
		n += (flags >> KPF_KSM) & 1;
	}
	if (nopfn)
		fail("%lu pages not present or without a PFN in pagemap", nopfn);
	if (!kpf_ksm_ok) {
		qsort(pm, pages, sizeof(*pm), cmp_u64);
		for (i = 0; i < pages; i++)
			n += (i && pm[i] == pm[i - 1]) || (i + 1 < pages && pm[i] == pm[i + 1]);
	}
	close(fd);
	close(kf);
	free(pm);
	return n;
}

/*
 * The processes of a workload: spawn() forks @n of them, each running
 * @fn(k, @arg, ready, go): it sets up its memory, writes a byte to @ready,
 * and finishes (checking its memory) when @go reads end of file.  Each
 * joins the workload's cgroup if there is one (w_domains()).  spawn()
 * returns once every one is ready, with the write end of @go; reap()
 * closes it and returns how many failed.
 */
typedef int (*child_fn)(int k, void *arg, int ready, int go);

static int spawn(int n, child_fn fn, void *arg)
{
	int ready[2], go[2], k;
	char c;

	if (pipe(ready) || pipe(go))
		fail("pipe: %s", strerror(errno));
	for (k = 0; k < n; k++) {
		pid_t pid = fork();

		if (pid < 0)
			fail("fork: %s", strerror(errno));
		if (pid == 0) {
			close(go[1]);
			close(ready[0]);
			_exit(fn(k, arg, ready[1], go[0]));
		}
		if (domain_cg[0] && !ksm_cg_attach(domain_cg, pid))
			fail("cannot move %d to %s", pid, domain_cg);
	}
	close(go[0]);
	close(ready[1]);
	for (k = 0; k < n; k++)
		if (read(ready[0], &c, 1) != 1)
			fail("a process failed to set up its memory");
	close(ready[0]);
	return go[1];
}

static int reap(int n, int go)
{
	int status, bad = 0;

	close(go);
	while (n--)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	return bad;
}

/* ---- 1 + 5. merge time and metadata -------------------------------------- */

static uint64_t merge_tag(unsigned long i, int k, unsigned long pages,
			  unsigned long unique, unsigned long contents)
{
	if (i >= pages - unique)
		return UNIQUE(k, i);
	return (i * 7 + k) % contents;
}

struct merge_shape {
	unsigned long pages, unique, contents;
};

static int merge_child(int k, void *arg, int ready, int go)
{
	const struct merge_shape *m = arg;
	unsigned long pages = m->pages, unique = m->unique, contents = m->contents, i;
	char *area = map(pages), c;

	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, merge_tag(i, k, pages, unique, contents));
	mergeable(area, pages, MADV_MERGEABLE);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 0)
		return 2;
	for (i = 0; i < pages; i++) {
		if (!same(area + i * PAGE, merge_tag(i, k, pages, unique, contents))) {
			printf("bench: process %d page %lu changed\n", k, i);
			return 1;
		}
	}
	return 0;
}

static int w_merge(unsigned long mib, int procs, unsigned long contents,
		   unsigned long unique_pct)
{
	unsigned long pages = mib * 256 / procs, unique = pages * unique_pct / 100;
	unsigned long *count = calloc(contents, sizeof(*count)), i, reg;
	struct merge_shape shape = { pages, unique, contents };
	int go, k, bad;
	struct slab s0, s1;
	struct expect e;
	double wall, cpu, bytes;

	if (procs < 1 || procs > MAX_PROCS || !count || unique > pages)
		fail("bad parameters");
	for (k = 0; k < procs; k++)
		for (i = 0; i < pages - unique; i++)
			count[merge_tag(i, k, pages, unique, contents)]++;
	e = expected(count, contents);
	reg = pages * procs;
	settle();
	s0 = slabinfo();
	progress("%d processes x %lu MiB, %lu%% unique pages, the rest from %lu contents",
		 procs, pages * PAGE >> 20, unique_pct, contents);
	go = spawn(procs, merge_child, &shape);
	progress("%lu pages registered; expecting pages_shared %lu, pages_sharing %lu",
		 reg, e.shared, e.sharing);
	wall = merge_until(e, 900, &cpu);
	wr("run", 0);
	s1 = slabinfo();
	still(e, "after merging");
	bad = reap(procs, go);
	if (bad)
		fail("%d processes found their memory changed after merging", bad);
	progress("contents intact");
	result("merge_wall_s", wall);
	result("merge_ksmd_cpu_s", cpu);
	bytes = s1.rmap_item - s0.rmap_item + s1.stable_node - s0.stable_node +
		s1.mm_slot - s0.mm_slot;
	result("meta_rmap_item_bytes", s1.rmap_item - s0.rmap_item);
	result("meta_stable_node_bytes", s1.stable_node - s0.stable_node);
	result("meta_mm_slot_bytes", s1.mm_slot - s0.mm_slot);
	result("meta_bytes_per_registered_page", bytes / reg);
	result("meta_bytes_per_merged_page", bytes / (e.shared + e.sharing));
	result("registered_pages", reg);
	result("merged_pages", e.shared + e.sharing);
	return 0;
}

/* ---- 2. scan cost on unmergeable memory ------------------------------------ */

/*
 * Run ksmd flat out (pages_to_scan 16384, sleep_millisecs 0, no smart scan:
 * the cost of looking at pages, which smart scan would pass over) over all
 * that is registered: two full scans to warm up (rmap items, checksums),
 * then @nscans measured.  *@cpu and *@wall get ksmd's CPU and the wall time
 * per full scan.  ksmd is stopped again at the end.
 */
static void scan_window(unsigned long nscans, double limit, double *cpu, double *wall)
{
	unsigned long s, s0, from = 0;
	double c0 = 0, c1, t0 = 0, t1, tw;

	if (!nscans)
		fail("bad parameters");
	wr("pages_to_scan", 16384);
	wr("sleep_millisecs", 0);
	if (!access("/sys/kernel/mm/ksm/smart_scan", F_OK))
		wr("smart_scan", 0);
	s0 = rd("full_scans");
	tw = now();
	wr("run", 1);
	for (;;) {
		/* Small areas: the window starts at the first count seen from 2. */
		s = rd("full_scans") - s0;
		if (s >= 2 && !t0) {
			c0 = ksmd_cpu();
			t0 = now();
			from = s;
			progress("warm-up: %lu full scans in %.1fs; measuring %lu more",
				 s, t0 - tw, nscans);
		}
		if (t0 && s >= from + nscans)
			break;
		if (now() - tw > limit)
			fail("only %lu full scans after %.0fs", s, limit);
		usleep(5000);
	}
	c1 = ksmd_cpu();
	t1 = now();
	wr("run", 0);
	/* ksmd may have finished more than asked before it was read. */
	nscans = s - from;
	if (c1 - c0 <= 0)
		fail("ksmd used no measurable CPU over %lu full scans", nscans);
	*cpu = (c1 - c0) / nscans;
	*wall = (t1 - t0) / nscans;
	progress("%lu full scans in %.2fs, ksmd CPU %.2fs", nscans, t1 - t0, c1 - c0);
}

/*
 * XXH64 of one page, as a program would compute it: what looking at a page
 * costs at the least, the yardstick of ksmd's CPU per scanned page.
 */
#define XXP1 0x9E3779B185EBCA87ULL
#define XXP2 0xC2B2AE3D27D4EB4FULL
#define XXP3 0x165667B19E3779F9ULL
#define XXP4 0x85EBCA77C2B2AE63ULL

static uint64_t xx_rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t xx_round(uint64_t acc, uint64_t in)
{
	return xx_rotl(acc + in * XXP2, 31) * XXP1;
}

static uint64_t xx_merge(uint64_t h, uint64_t v)
{
	return (h ^ xx_round(0, v)) * XXP1 + XXP4;
}

/* xxh64 of @len bytes (a multiple of 32) at @p, with @seed. */
static uint64_t xxh64_buf(const void *p, unsigned long len, uint64_t seed)
{
	const uint64_t *w = p;
	uint64_t v1 = seed + XXP1 + XXP2, v2 = seed + XXP2, v3 = seed;
	uint64_t v4 = seed - XXP1, h;
	unsigned long i;

	for (i = 0; i < len / 8; i += 4) {
		v1 = xx_round(v1, w[i]);
		v2 = xx_round(v2, w[i + 1]);
		v3 = xx_round(v3, w[i + 2]);
		v4 = xx_round(v4, w[i + 3]);
	}
	h = xx_rotl(v1, 1) + xx_rotl(v2, 7) + xx_rotl(v3, 12) + xx_rotl(v4, 18);
	h = xx_merge(xx_merge(xx_merge(xx_merge(h, v1), v2), v3), v4) + len;
	h = (h ^ (h >> 33)) * XXP2;
	h = (h ^ (h >> 29)) * XXP3;
	return h ^ (h >> 32);
}

static uint64_t xxh64_page(const void *page)
{
	return xxh64_buf(page, PAGE, 0);
}

/*
 * What ksmd's sample of a page (ksm_calc_sample(), mm/ksm/core.c) reads
 * and hashes: eight pieces of 64 bytes spread over the page, as one xxh64
 * stream of 512 bytes.
 */
static uint64_t sample_page(const void *page)
{
	uint64_t v1 = XXP1 + XXP2, v2 = XXP2, v3 = 0, v4 = 0 - XXP1, h;
	const uint64_t *w;
	int i, j;

	for (i = 0; i < 8; i++) {
		w = (const uint64_t *)((const char *)page + i * (PAGE / 8));
		for (j = 0; j < 8; j += 4) {
			v1 = xx_round(v1, w[j]);
			v2 = xx_round(v2, w[j + 1]);
			v3 = xx_round(v3, w[j + 2]);
			v4 = xx_round(v4, w[j + 3]);
		}
	}
	h = xx_rotl(v1, 1) + xx_rotl(v2, 7) + xx_rotl(v3, 12) + xx_rotl(v4, 18);
	h = xx_merge(xx_merge(xx_merge(xx_merge(h, v1), v2), v3), v4) + 512;
	h = (h ^ (h >> 33)) * XXP2;
	h = (h ^ (h >> 29)) * XXP3;
	return h ^ (h >> 32);
}

/*
 * Nanoseconds per page of @hash over @pages pages at @area, best of 3.
 * @hash is xxh64_page() or sample_page().
 */
static double hash_ns_per_page(uint64_t (*hash)(const void *),
			       const char *area, unsigned long pages)
{
	volatile uint64_t sink = 0;
	double best = 0, t;
	unsigned long i;
	int r;

	for (r = 0; r < 3; r++) {
		t = now();
		for (i = 0; i < pages; i++)
			sink += hash(area + i * PAGE);
		t = now() - t;
		if (!r || t < best)
			best = t;
	}
	(void)sink;
	return best * 1e9 / pages;
}

static int w_scan(unsigned long mib, unsigned long nscans)
{
	unsigned long pages = mib * 256, i;
	double cpu, wall, ns, sample_ns;
	char *area;

	settle();
	area = map(pages);
	progress("%lu MiB of unique pages", mib);
	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, UNIQUE(1, i));
	mergeable(area, pages, MADV_MERGEABLE);
	scan_window(nscans, 900, &cpu, &wall);
	if (rd("pages_shared") || rd("pages_sharing"))
		fail("merged unique pages: pages_shared %lu, pages_sharing %lu",
		     rd("pages_shared"), rd("pages_sharing"));
	for (i = 0; i < pages; i++)
		if (!same(area + i * PAGE, UNIQUE(1, i)))
			fail("page %lu changed", i);
	ns = hash_ns_per_page(xxh64_page, area, pages);
	sample_ns = hash_ns_per_page(sample_page, area, pages);
	progress("contents intact; in user space: xxh64 of a page %.0f ns, its sample %.0f ns",
		 ns, sample_ns);
	result("scan_pages_per_cpu_s", pages / cpu);
	result("scan_cpu_per_full_scan_s", cpu);
	result("scan_wall_per_full_scan_s", wall);
	result("scan_user_xxh64_page_ns", ns);
	result("scan_user_sample_page_ns", sample_ns);
	result("scan_sample_over_xxh64", sample_ns / ns);
	result("scan_cpu_per_page_over_xxh64", cpu / pages * 1e9 / ns);
	/* Gone before what follows (w_domains()) forks: no copies of it. */
	munmap(area, pages * PAGE);
	return 0;
}

/* ---- 3. COW break ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The start of the cow and unmerge workloads: a fresh area of @pages pages,
 * page i holding content i % @contents, registered and merged within
 * @limit seconds; ksmd is stopped, and the counters checked once more.
 */
static char *merged_area(unsigned long pages, unsigned long contents, double limit)
{
	unsigned long *count = calloc(contents, sizeof(*count)), i;
	struct expect e;
	char *area;

	if (!count)
		fail("bad parameters");
	for (i = 0; i < pages; i++)
		count[i % contents]++;
	e = expected(count, contents);
	free(count);
	settle();
	area = map(pages);
	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, i % contents);
	mergeable(area, pages, MADV_MERGEABLE);
	merge_until(e, limit, NULL);
	wr("run", 0);
	still(e, "after stopping ksmd");
	return area;
}

static int w_cow(unsigned long pages, unsigned long contents)
{
	double *lat = calloc(pages, sizeof(*lat)), t;
	unsigned long i;
	char *area;

	if (!lat)
		fail("bad parameters");
	/* Under QEMU the TSC may be marked unstable: jiffies tick in ms. */
	if (strstr(clocksource(), "jiffies"))
		fail("clocksource %s is too coarse to time a fault (boot with tsc=reliable)",
		     clocksource());
	area = merged_area(pages, contents, 600);
	if (ksm_pages_in(area, pages) != pages)
		fail("not every page is a KSM page after merging");
	for (i = 0; i < pages; i++) {
		volatile char *p = area + i * PAGE + 100;

		t = now();
		*p = ~*p;
		lat[i] = now() - t;
	}
	if (ksm_pages_in(area, pages))
		fail("KSM pages left after writing to every page");
	for (i = 0; i < pages; i++) {
		area[i * PAGE + 100] = ~area[i * PAGE + 100];
		if (!same(area + i * PAGE, i % contents))
			fail("page %lu wrong after its COW break", i);
	}
	qsort(lat, pages, sizeof(*lat), cmp_double);
	progress("%lu first writes to merged pages: median %.1fus, p10 %.1fus, p90 %.1fus; contents intact",
		 pages, lat[pages / 2] * 1e6, lat[pages / 10] * 1e6, lat[pages * 9 / 10] * 1e6);
	result("cow_fault_us", lat[pages / 2] * 1e6);
	/* Still registered: gone before a later workload of the run merges. */
	munmap(area, pages * PAGE);
	free(lat);
	return 0;
}

/* ---- 4. unmerge ------------------------------------------------------------ */

static int w_unmerge(unsigned long mib, unsigned long contents)
{
	unsigned long pages = mib * 256, i;
	double t;
	char *area;

	progress("%lu MiB from %lu contents", mib, contents);
	area = merged_area(pages, contents, 900);
	t = now();
	mergeable(area, pages, MADV_UNMERGEABLE);
	t = now() - t;
	i = ksm_pages_in(area, pages);
	if (i)
		fail("%lu pages still KSM pages after MADV_UNMERGEABLE", i);
	for (i = 0; i < pages; i++)
		if (!same(area + i * PAGE, i % contents))
			fail("page %lu changed", i);
	progress("MADV_UNMERGEABLE over %lu MiB in %.3fs; no KSM page left, contents intact", mib, t);
	result("unmerge_s", t);
	munmap(area, pages * PAGE);
	return 0;
}

/* ---- 6. steady state ------------------------------------------------------- */

static int w_steady(unsigned long mib, unsigned long secs, unsigned long contents,
		    unsigned long volatile_pct)
{
	unsigned long pages = mib * 256, vol = pages * volatile_pct / 100, i, round = 0;
	unsigned long *count = calloc(contents, sizeof(*count)), stable = pages - vol, s0, s1;
	double t0, c0, c1, t1, next;
	struct expect e;
	char *area;

	if (!count || vol > pages)
		fail("bad parameters");
	for (i = 0; i < stable; i++)
		count[i % contents]++;
	e = expected(count, contents);
	settle();
	area = map(pages);
	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, i < stable ? i % contents : UNIQUE(0, i));
	mergeable(area, pages, MADV_MERGEABLE);
	progress("%lu MiB: %lu stable duplicate pages, %lu pages rewritten every second",
		 mib, stable, vol);
	merge_until(e, 600, NULL);
	wr("pages_to_scan", 100);
	wr("sleep_millisecs", 20);
	s0 = rd("full_scans");
	c0 = ksmd_cpu();
	t0 = now();
	for (next = t0; now() - t0 < secs; next += 1) {
		round++;
		for (i = stable; i < pages; i++)
			fill(area + i * PAGE, UNIQUE(round + 1, i));
		if (round % 10 == 0)
			progress("%lus of %lus, ksmd CPU %.2fs", round, secs, ksmd_cpu() - c0);
		while (now() < next + 1)
			usleep(10000);
	}
	c1 = ksmd_cpu();
	t1 = now();
	s1 = rd("full_scans");
	wr("run", 0);
	still(e, "after the steady state");
	for (i = 0; i < pages; i++)
		if (!same(area + i * PAGE, i < stable ? i % contents : UNIQUE(round + 1, i)))
			fail("page %lu changed", i);
	progress("ksmd CPU %.2fs over %.1fs, %lu full scans, %lu rewrites; contents intact",
		 c1 - c0, t1 - t0, s1 - s0, round);
	result("steady_ksmd_cpu_pct", 100 * (c1 - c0) / (t1 - t0));
	result("steady_full_scans_per_min", 60.0 * (s1 - s0) / (t1 - t0));
	return 0;
}

/* ---- 9. merge domains (ours only) ---------------------------------------- */

/* Tenant @t's process @k: @common pages of the image all share, the rest unique. */
static int tenant_child(int t, int k, unsigned long pages, unsigned long common,
			int ready, int go)
{
	char *area = map(pages), c;
	unsigned long i;

	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, i < common ? i : UNIQUE(t * 16 + k, i));
	mergeable(area, pages, MADV_MERGEABLE);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 0)
		return 2;
	for (i = 0; i < pages; i++)
		if (!same(area + i * PAGE, i < common ? i : UNIQUE(t * 16 + k, i)))
			return 1;
	return 0;
}

/*
 * A mixed host under merge_domain memcg: three tenants (memory cgroups) of
 * 4, 2 and 1 processes, each process @mib / 8 MiB of which three quarters
 * is the same image everywhere.  Each tenant of n processes saves (n - 1)
 * copies of the image, the lone one nothing: its memory.ksm_stat shows it.
 */
static void w_tenants(unsigned long mib)
{
	static const int procs[] = { 4, 2, 1 };
	unsigned long pages = mib * 256 / 8, common = pages * 3 / 4;
	char dir[3][256], why[256], path[300];
	int ready[2], go[2], t, k, status, bad = 0, n = 0;
	struct expect e = { 2 * common, 4 * common };
	double wall, cpu;
	pid_t pid;

	settle();
	if (pipe(ready) || pipe(go))
		fail("pipe: %s", strerror(errno));
	for (t = 0; t < 3; t++) {
		char name[16];

		snprintf(name, sizeof(name), "tenant%d", t);
		if (!ksm_cg_create(name, "memory.ksm_stat", dir[t], sizeof(dir[t]),
				   why, sizeof(why)))
			fail("%s", why);
		for (k = 0; k < procs[t]; k++, n++) {
			pid = fork();
			if (pid < 0)
				fail("fork: %s", strerror(errno));
			if (!pid) {
				close(go[1]);
				close(ready[0]);
				_exit(tenant_child(t, k, pages, common, ready[1], go[0]));
			}
			if (!ksm_cg_attach(dir[t], pid))
				fail("cannot move %d to %s", pid, dir[t]);
		}
	}
	close(go[0]);
	close(ready[1]);
	for (k = 0; k < n; k++) {
		char c;

		if (read(ready[0], &c, 1) != 1)
			fail("a process failed to set up its memory");
	}
	progress("3 tenants of 4, 2 and 1 processes x %lu MiB, 75%% one image", pages >> 8);
	wall = merge_until(e, 900, &cpu);
	wr("run", 0);
	still(e, "after merging");
	for (t = 0; t < 3; t++) {
		long long merging, profit;

		snprintf(path, sizeof(path), "%s/memory.ksm_stat", dir[t]);
		merging = ksm_read_keyed(path, "ksm_merging_pages");
		profit = ksm_read_keyed(path, "ksm_process_profit");
		progress("tenant%d (%d processes): ksm_merging_pages %lld, profit %.1f MiB",
			 t, procs[t], merging, profit / 1048576.0);
		snprintf(path, sizeof(path), "domains_tenant%d_saved_mib", t);
		/* Saved: every merged mapping but one per KSM page. */
		result(path, merging ? (merging - (double)common) * PAGE / 1048576 : 0);
	}
	result("domains_mixed_saved_mib", (double)e.sharing * PAGE / 1048576);
	result("domains_mixed_global_would_save_mib", 6.0 * common * PAGE / 1048576);
	result("domains_mixed_merge_wall_s", wall);
	close(go[1]);
	for (k = 0; k < n; k++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	if (bad)
		fail("%d processes found their memory changed after merging", bad);
	for (t = 0; t < 3; t++)
		ksm_cg_remove(dir[t]);
}

/*
 * What merge_domain memcg costs against global, in one boot: the merge and
 * scan workloads under global and under memcg with every process in one
 * memory cgroup (so that the same pages merge), three times each in
 * alternation: results domains_global_* and domains_memcg_*.  Then the mixed host of w_tenants().  A kernel
 * without merge_domain (stock) has nothing to measure.
 */
static int w_domains(unsigned long mib)
{
	static const char * const modes[] = { "global", "memcg" };
	char why[256];
	int m, r;

	if (access(ksm_path("merge_domain"), F_OK)) {
		progress("no merge_domain here: nothing to measure");
		return 0;
	}
	if (!ksm_cg_enter("bench", "memory.ksm_stat", domain_cg, sizeof(domain_cg),
			  why, sizeof(why)))
		fail("%s", why);
	/*
	 * Three rounds, each mode first in turn: a merge is over in a few
	 * tenths of a second, and one sample of each tells little.  The host
	 * takes the median of a key reported several times.
	 */
	for (r = 0; r < 6; r++) {
		m = (r + r / 2) % 2;	/* global, memcg, memcg, global, ... */
		domain = modes[m];
		snprintf(result_prefix, sizeof(result_prefix), "domains_%s_", modes[m]);
		w_merge(mib, 4, 64, 25);
		w_scan(mib * 2, 10);
	}
	result_prefix[0] = '\0';
	domain = "memcg";
	w_tenants(mib);
	domain = "global";
	settle();
	ksm_cg_leave(domain_cg);
	return 0;
}

/* ---- 8. idle memory: what smart scan saves --------------------------------- */

/*
 * @mib MiB of unique pages that never change, scanned at pages_to_scan 1000
 * and sleep_millisecs 20 (smart_scan as the kernel has it, 1 by default on
 * ours, none on 6.1): after 12 full scans, by which every page is old,
 * ksmd's CPU share over @secs.  Then 64 new copies of idle pages: how soon
 * they merge, in seconds and full scans (smart scan must not delay it).
 */
static int w_idle(unsigned long mib, unsigned long secs)
{
	unsigned long pages = mib * 256, copies = 64, i, s0, s1, sm, merged;
	double t0, t1, c0, c1, tm, copy_limit = 120;
	char *area, *dup;

	settle();
	area = map(pages);
	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, UNIQUE(0, i));
	mergeable(area, pages, MADV_MERGEABLE);
	wr("pages_to_scan", 1000);
	wr("sleep_millisecs", 20);
	wr("run", 1);
	s0 = rd("full_scans");
	t0 = now();
	while (rd("full_scans") < s0 + 12) {
		if (now() - t0 > 600)
			fail("12 full scans of %lu MiB took more than 600s", mib);
		usleep(100000);
	}
	progress("%lu MiB of unique pages, 12 full scans in %.1fs", mib, now() - t0);
	s0 = rd("full_scans");
	c0 = ksmd_cpu();
	t0 = now();
	while (now() - t0 < secs)
		usleep(100000);
	c1 = ksmd_cpu();
	t1 = now();
	s1 = rd("full_scans");
	if (rd("pages_shared") || rd("pages_sharing"))
		fail("unique pages merged: pages_shared %lu, pages_sharing %lu",
		     rd("pages_shared"), rd("pages_sharing"));

	/*
	 * 6.12's smart scan may never merge them: it takes a page it passes
	 * over out of the unstable tree, and an idle page and its copy, each
	 * looked at once in 9 passes, may never be looked at in the same one.
	 * So the wait is bounded, and what merged by then is reported.
	 */
	dup = map(copies);
	for (i = 0; i < copies; i++)
		fill(dup + i * PAGE, UNIQUE(0, i * (pages / copies)));
	sm = rd("full_scans");
	tm = now();
	mergeable(dup, copies, MADV_MERGEABLE);
	while (rd("pages_shared") != copies || rd("pages_sharing") != copies) {
		if (now() - tm > copy_limit)
			break;
		if (rd("pages_shared") > copies || rd("pages_sharing") > copies)
			fail("more merged than the copies: pages_shared %lu, pages_sharing %lu",
			     rd("pages_shared"), rd("pages_sharing"));
		usleep(10000);
	}
	merged = rd("pages_sharing");
	tm = now() - tm;
	sm = rd("full_scans") - sm;
	wr("run", 0);
	if (merged < copies)
		progress("only %lu of %lu copies of idle pages merged after %.0fs (%lu full scans)",
			 merged, copies, tm, sm);
	for (i = 0; i < pages; i++)
		if (!same(area + i * PAGE, UNIQUE(0, i)))
			fail("page %lu changed", i);
	for (i = 0; i < copies; i++)
		if (!same(dup + i * PAGE, UNIQUE(0, i * (pages / copies))))
			fail("copy %lu changed", i);
	progress("ksmd CPU %.2fs over %.1fs, %lu full scans; %lu copies merged in %.2fs (%lu full scans)",
		 c1 - c0, t1 - t0, s1 - s0, copies, tm, sm);
	result("idle_ksmd_cpu_pct", 100 * (c1 - c0) / (t1 - t0));
	result("idle_full_scans_per_min", 60.0 * (s1 - s0) / (t1 - t0));
	result("idle_copies_merged_pct", 100.0 * merged / copies);
	if (merged == copies)
		result("idle_copy_merge_s", tm);
	return 0;
}

/* ---- 10. savings per CPU, VM-like ----------------------------------------- */

/*
 * Eight processes shaped like guests of one host.  Of each one's pages:
 * VM_IMAGE % hold an image all of them have (the same OS), VM_PAIR % one
 * each pair of them has, VM_ZERO % zeroes, VM_VOLATILE % are rewritten with
 * new contents all the time, and the rest are unique and never change.
 * ksmd runs at one setting a host would pick (pages_to_scan 1000,
 * sleep_millisecs 20, smart scan as the kernel has it); every 50 ms the
 * memory saved so far (pages_sharing) is sampled against ksmd's CPU time,
 * the curve that shows what the host gets for what it pays.
 */
#define VM_PROCS	8
#define VM_IMAGE	40
#define VM_PAIR		15
#define VM_ZERO		10
#define VM_VOLATILE	10
#define VM_ZERO_TAG	(~0ULL)

struct vm_shape {
	unsigned long pages, image, pair, zero, vol;
};

/* What page @i of process @k holds (VM_ZERO_TAG: zeroes); @round: rewrites. */
static uint64_t vm_tag(const struct vm_shape *v, int k, unsigned long i,
		       unsigned long round)
{
	if (i < v->image)
		return i;
	i -= v->image;
	if (i < v->pair)
		return (1ULL << 32) + ((uint64_t)(k / 2) << 24) + i;
	i -= v->pair;
	if (i < v->zero)
		return VM_ZERO_TAG;
	i -= v->zero;
	if (i < v->vol)
		return UNIQUE(k + 1, (round << 20) + i);
	return UNIQUE(k + 1, (1UL << 19) + i);
}

static void vm_fill(void *page, uint64_t tag)
{
	if (tag == VM_ZERO_TAG)
		memset(page, 0, PAGE);
	else
		fill(page, tag);
}

static int vm_same(const void *page, uint64_t tag)
{
	return tag == VM_ZERO_TAG ? ksm_check_page(page, 0) < 0 : same(page, tag);
}

/* Has the parent closed @go (spawn()): should the process finish? */
static bool go_closed(int go)
{
	struct pollfd p = { .fd = go, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* One guest: set up, then rewrite the volatile share until @go closes. */
static int vm_child(int k, void *arg, int ready, int go)
{
	const struct vm_shape *v = arg;
	bool stop = false;
	unsigned long first_vol = v->image + v->pair + v->zero, i, round = 0;
	char *area = map(v->pages);
	double next;

	for (i = 0; i < v->pages; i++)
		vm_fill(area + i * PAGE, vm_tag(v, k, i, 0));
	mergeable(area, v->pages, MADV_MERGEABLE);
	if (write(ready, "r", 1) != 1)
		return 2;
	for (next = now(); !stop; next += 0.5) {
		round++;
		for (i = first_vol; i < first_vol + v->vol; i++)
			vm_fill(area + i * PAGE, vm_tag(v, k, i, round));
		while (!(stop = go_closed(go)) && now() < next + 0.5)
			usleep(10000);
	}
	for (i = 0; i < v->pages; i++) {
		if (!vm_same(area + i * PAGE, vm_tag(v, k, i, round))) {
			printf("bench: guest %d page %lu changed\n", k, i);
			return 1;
		}
	}
	return 0;
}

static int w_vm(unsigned long mib, unsigned long secs)
{
	unsigned long contents, *count, i, sharing, total;
	double t0, c0, t, c, cpu90 = -1, wall90 = -1, full_t = -1, full_c = 0;
	double shown = 0, limit = 600;
	struct vm_shape v;
	struct expect e;
	int go, bad;

	v.pages = mib * 256 / VM_PROCS;
	v.image = v.pages * VM_IMAGE / 100;
	v.pair = v.pages * VM_PAIR / 100;
	v.zero = v.pages * VM_ZERO / 100;
	v.vol = v.pages * VM_VOLATILE / 100;
	/* Contents: the image's, the pairs', the zero page. */
	contents = v.image + VM_PROCS / 2 * v.pair + 1;
	count = calloc(contents, sizeof(*count));
	if (!count)
		fail("out of memory");
	for (i = 0; i < v.image; i++)
		count[i] = VM_PROCS;
	for (i = 0; i < VM_PROCS / 2 * v.pair; i++)
		count[v.image + i] = 2;
	count[contents - 1] = VM_PROCS * v.zero;
	e = expected(count, contents);
	settle();
	wr("use_zero_pages", 0);
	progress("%d guests x %lu MiB: %d%% image, %d%% pairs, %d%% zeroes, %d%% volatile, the rest unique",
		 VM_PROCS, v.pages * PAGE >> 20, VM_IMAGE, VM_PAIR, VM_ZERO, VM_VOLATILE);
	go = spawn(VM_PROCS, vm_child, &v);
	total = e.sharing;
	progress("the data allows pages_sharing %lu (%.1f MiB saved), pages_shared %lu",
		 total, total * PAGE / 1048576.0, e.shared);
	wr("pages_to_scan", 1000);
	wr("sleep_millisecs", 20);
	c0 = ksmd_cpu();
	t0 = now();
	wr("run", 1);
	for (;;) {
		usleep(50000);
		t = now() - t0;
		c = ksmd_cpu() - c0;
		sharing = rd("pages_sharing");
		printf("bench: curve vm %.3f %.3f %.3f\n", t, c, sharing * PAGE / 1048576.0);
		if (cpu90 < 0 && sharing * 10 >= total * 9) {
			cpu90 = c;
			wall90 = t;
			progress("90%% of the savings after %.2f ksmd CPU-s (%.1fs)", c, t);
		}
		if (full_t < 0 && sharing == total && rd("pages_shared") == e.shared) {
			full_t = t;
			full_c = c;
			progress("all of the savings after %.2f ksmd CPU-s (%.1fs)", c, t);
		}
		if (full_t >= 0 && t - full_t >= secs)
			break;
		if (t > limit)
			fail("after %.0fs: pages_sharing %lu, pages_shared %lu; expected %lu, %lu",
			     t, sharing, rd("pages_shared"), total, e.shared);
		if (t - shown >= 10) {
			progress("pages_sharing %lu of %lu, ksmd CPU %.2fs", sharing, total, c);
			shown = t;
		}
	}
	wr("run", 0);
	still(e, "once ksmd stopped");
	bad = reap(VM_PROCS, go);
	if (bad)
		fail("%d guests found their memory changed", bad);
	progress("contents intact; ksmd CPU %.2fs over the %.1fs after full savings",
		 c - full_c, t - full_t);
	result("vm_saved_mib", total * PAGE / 1048576.0);
	result("vm_cpu_to_90pct_s", cpu90);
	result("vm_wall_to_90pct_s", wall90);
	result("vm_cpu_to_full_s", full_c);
	result("vm_steady_ksmd_cpu_pct", 100 * (c - full_c) / (t - full_t));
	return 0;
}

/* ---- 11. scale: cost per page as memory and processes grow ---------------- */

/* Process @k of a scale point: *@arg unique pages. */
static int scale_child(int k, void *arg, int ready, int go)
{
	unsigned long each = *(unsigned long *)arg, i;
	char *area = map(each), c;

	for (i = 0; i < each; i++)
		fill(area + i * PAGE, UNIQUE(k + 1, i));
	mergeable(area, each, MADV_MERGEABLE);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 0)
		return 2;
	for (i = 0; i < each; i++)
		if (!same(area + i * PAGE, UNIQUE(k + 1, i)))
			return 1;
	return 0;
}

/*
 * @procs processes of @pages / @procs unique pages each, registered; the
 * ksmd CPU per page of a full scan (scan_window()), in nanoseconds.
 */
static double scale_point(unsigned long pages, int procs)
{
	unsigned long each = pages / procs;
	double cpu, wall;
	int go, bad;

	settle();
	go = spawn(procs, scale_child, &each);
	/* At least 3 full scans and 192 Ki pages: CPU time counts in ticks. */
	scan_window(3 * (pages < 65536 ? 65536 / pages : 1), 900, &cpu, &wall);
	if (rd("pages_shared") || rd("pages_sharing"))
		fail("merged unique pages: pages_shared %lu, pages_sharing %lu",
		     rd("pages_shared"), rd("pages_sharing"));
	bad = reap(procs, go);
	if (bad)
		fail("%d processes found their memory changed", bad);
	progress("%lu MiB in %d processes: %.0f ns of ksmd CPU per page per full scan",
		 pages * PAGE >> 20, procs, cpu / pages * 1e9);
	return cpu / pages * 1e9;
}

static int w_scale(unsigned long mib)
{
	static const struct { int mult, procs; } pts[] = {
		{ 1, 1 }, { 4, 1 }, { 16, 1 }, { 1, 64 }, { 1, 512 },
	};
	double ns[ARRAY_SIZE(pts)];
	char key[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pts); i++) {
		ns[i] = scale_point(mib * pts[i].mult * 256, pts[i].procs);
		snprintf(key, sizeof(key), "scale_%lumib_%dprocs_ns_per_page",
			 mib * pts[i].mult, pts[i].procs);
		result(key, ns[i]);
	}
	result("scale_memory_cost_ratio", ns[2] / ns[0]);
	result("scale_procs_cost_ratio", ns[4] / ns[0]);
	return 0;
}

/* ---- 12. sparse areas ------------------------------------------------------ */

/*
 * The same number of unique pages, dense in one area, then spread over a
 * mergeable reservation of @gib GiB: the full scan of what is mostly holes.
 */
static int w_sparse(unsigned long mib, unsigned long gib)
{
	unsigned long pages = mib * 256, span = gib << 18, stride = span / pages, i;
	double dcpu, dwall, scpu, swall;
	char *area;

	if (!pages || stride < 1)
		fail("bad parameters");
	settle();
	area = map(pages);
	for (i = 0; i < pages; i++)
		fill(area + i * PAGE, UNIQUE(1, i));
	mergeable(area, pages, MADV_MERGEABLE);
	progress("dense: %lu MiB of unique pages", mib);
	scan_window(2, 900, &dcpu, &dwall);
	munmap(area, pages * PAGE);
	settle();
	area = mmap(NULL, span * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		fail("mmap of %lu GiB: %s", gib, strerror(errno));
	for (i = 0; i < pages; i++)
		fill(area + i * stride * PAGE, UNIQUE(1, i));
	mergeable(area, span, MADV_MERGEABLE);
	progress("sparse: the same pages, one every %lu KiB of %lu GiB", stride * PAGE >> 10, gib);
	scan_window(2, 900, &scpu, &swall);
	for (i = 0; i < pages; i++)
		if (!same(area + i * stride * PAGE, UNIQUE(1, i)))
			fail("page %lu changed", i);
	if (rd("pages_shared") || rd("pages_sharing"))
		fail("merged unique pages");
	munmap(area, span * PAGE);
	progress("full scan: dense %.3fs (CPU %.3fs), sparse %.3fs (CPU %.3fs)",
		 dwall, dcpu, swall, scpu);
	result("sparse_dense_wall_per_full_scan_s", dwall);
	result("sparse_wall_per_full_scan_s", swall);
	result("sparse_over_dense_wall", swall / dwall);
	result("sparse_over_dense_cpu", scpu / dcpu);
	return 0;
}

/* ---- 13. many sharers of few contents, in phases -------------------------- */

/*
 * Three processes, each filling all its memory with one content, phase
 * after phase: a few KSM pages with up to every page of all three mapping
 * them (max_page_sharing 98304), then rewritten to other contents, which
 * takes every mapping off them.  ksmd runs flat out (pages_to_scan 98304,
 * sleep_millisecs 0).  Each phase is timed from its first write (and from
 * its last) until the counters are what its contents imply; they must then
 * hold over two more full scans.
 */
#define PH_PROCS 3
static const char ph_contents[][PH_PROCS] = {
	{ 'c', 'a', 'a' }, { 'a', 'a', 'a' }, { 'b', 'a', 'b' }, { 'c', 'c', 'c' }, { 'a', 'b', 'c' },
};
#define PH_N ARRAY_SIZE(ph_contents)

static int w_phases(unsigned long mib)
{
	unsigned long pages = mib * 256, count[256], scans, i;
	int cmd[PH_PROCS][2], done[2], k, status, bad = 0;
	double t0, tw, t, total = 0, after = 0, limit = 900;
	unsigned int p;
	struct expect e;
	char key[48];

	settle();
	wr("max_page_sharing", 98304);
	if (pipe(done))
		fail("pipe: %s", strerror(errno));
	for (k = 0; k < PH_PROCS; k++) {
		pid_t pid;

		if (pipe(cmd[k]))
			fail("pipe: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			fail("fork: %s", strerror(errno));
		if (pid == 0) {
			char *area = map(pages), c, last = 0;

			close(done[0]);
			close(cmd[k][1]);
			mergeable(area, pages, MADV_MERGEABLE);
			while (read(cmd[k][0], &c, 1) == 1) {
				for (i = 0; i < pages; i++)
					fill(area + i * PAGE, c);
				last = c;
				if (write(done[1], "d", 1) != 1)
					_exit(2);
			}
			for (i = 0; i < pages; i++)
				if (!same(area + i * PAGE, last))
					_exit(1);
			_exit(0);
		}
		close(cmd[k][0]);
	}
	close(done[1]);
	wr("pages_to_scan", 98304);
	wr("sleep_millisecs", 0);
	wr("run", 1);
	for (p = 0; p < PH_N; p++) {
		memset(count, 0, sizeof(count));
		for (k = 0; k < PH_PROCS; k++)
			count[(unsigned char)ph_contents[p][k]] += pages;
		e = expected(count, 256);
		t0 = now();
		for (k = 0; k < PH_PROCS; k++)
			if (write(cmd[k][1], &ph_contents[p][k], 1) != 1)
				fail("a process is gone");
		for (k = 0; k < PH_PROCS; k++) {
			char c;

			if (read(done[0], &c, 1) != 1)
				fail("a process failed to write its memory");
		}
		tw = now();
		progress("phase %u (%.3s): written in %.2fs", p, ph_contents[p], tw - t0);
		while (rd("pages_shared") != e.shared || rd("pages_sharing") != e.sharing) {
			if (now() - t0 > limit)
				fail("phase %u: pages_shared %lu, pages_sharing %lu after %.0fs; expected %lu, %lu",
				     p, rd("pages_shared"), rd("pages_sharing"), limit,
				     e.shared, e.sharing);
			usleep(10000);
		}
		t = now() - t0;
		total += t;
		after += now() - tw;
		scans = rd("full_scans");
		while (rd("full_scans") < scans + 2) {
			if (now() - t0 > limit)
				fail("phase %u: not two full scans in %.0fs", p, limit);
			usleep(10000);
		}
		still(e, "two full scans later");
		progress("phase %u: counters right after %.2fs, and two full scans later", p, t);
		snprintf(key, sizeof(key), "phases_%u_s", p);
		result(key, t);
	}
	wr("run", 0);
	for (k = 0; k < PH_PROCS; k++)
		close(cmd[k][1]);
	for (k = 0; k < PH_PROCS; k++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	if (bad)
		fail("%d processes found their memory changed", bad);
	progress("contents intact");
	result("phases_total_s", total);
	result("phases_after_writes_s", after);
	return 0;
}

/* ---- 7. latency of others while ksmd scans flat out ----------------------- */

#define LAT_SAMPLES 200000
enum { LAT_FAULT, LAT_MMAP, LAT_MPROTECT, LAT_UNMERGE, LAT_EXIT, LAT_NR };
static const char *const lat_key[LAT_NR] = {
	"fault", "mmap", "mprotect", "unmerge", "exit"
};

/*
 * Shared by the processes of the latency workload (MAP_SHARED).  A sample
 * is quiet if no worker wrote while it was taken: @writing, the workers
 * writing now, was 0 when it began, and @writes, bumped by each worker as
 * it starts and ends its writes, did not change before it ended.  The
 * quiet samples show what ksmd's scan alone costs the others; the rest
 * also wait for the workers' faults on merged pages, which take the
 * mmap_lock on 6.1 and not on 6.12 (per-VMA locks).
 */
struct lat_shared {
	volatile int stop, ready, round, done, writing, writes;
	unsigned long n[LAT_NR];
	float us[LAT_NR][LAT_SAMPLES];
	bool quiet[LAT_NR][LAT_SAMPLES];
	float sorted[LAT_SAMPLES];
};

static struct lat_shared *lsh;

struct lat_start {
	double t;
	int writes;	/* lsh->writes when it began, or -1 if a worker wrote */
};

static struct lat_start lat_begin(void)
{
	struct lat_start s;

	s.writes = lsh->writes;
	__sync_synchronize();
	if (lsh->writing)
		s.writes = -1;
	s.t = now();
	return s;
}

static void lat_add(int which, struct lat_start s)
{
	unsigned long n = lsh->n[which]++;
	double t = now();

	if (n < LAT_SAMPLES) {
		lsh->us[which][n] = (t - s.t) * 1e6;
		__sync_synchronize();
		lsh->quiet[which][n] = s.writes >= 0 && lsh->writes == s.writes;
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

/* In a thread of worker 0: faults and mmap/munmap of the scanned mm. */
static void lat_faults(void)
{
	unsigned long i, n = 16;
	struct lat_start t;
	char *p;

	while (!lsh->stop) {
		t = lat_begin();
		p = map(n);
		lat_add(LAT_MMAP, t);
		for (i = 0; i < n; i++) {
			t = lat_begin();
			p[i * PAGE] = 1;
			lat_add(LAT_FAULT, t);
		}
		t = lat_begin();
		munmap(p, n * PAGE);
		lat_add(LAT_MMAP, t);
		usleep(1000);
	}
}

static void *lat_fault_thread(void *arg)
{
	(void)arg;
	lat_faults();
	return NULL;
}

static int lat_worker(int k, unsigned long pages)
{
	unsigned char c = k ? 'a' : 'c';
	unsigned long i;
	pthread_t thread;
	int round = 0;
	char *area = map(pages);

	memset(area, c, pages * PAGE);
	mergeable(area, pages, MADV_MERGEABLE);
	if (!k && pthread_create(&thread, NULL, lat_fault_thread, NULL))
		return 2;
	__sync_fetch_and_add(&lsh->ready, 1);
	while (!lsh->stop) {
		if (lsh->round == round) {
			usleep(10000);
			continue;
		}
		round = lsh->round;
		__sync_fetch_and_add(&lsh->writing, 1);
		__sync_fetch_and_add(&lsh->writes, 1);
		/* The same bytes again: every write breaks a merged page. */
		for (i = 0; i < pages; i++)
			((volatile char *)area)[i * PAGE] = c;
		__sync_fetch_and_add(&lsh->writes, 1);
		__sync_fetch_and_add(&lsh->writing, -1);
		__sync_fetch_and_add(&lsh->done, 1);
	}
	if (!k)
		pthread_join(thread, NULL);
	for (i = 0; i < pages * PAGE; i++)
		if (area[i] != c)
			return 1;
	return 0;
}

/*
 * Another process: MADV_UNMERGEABLE, and exits of registered processes.
 * Before each MADV_UNMERGEABLE, an mprotect() of the same pages that
 * changes nothing: it takes the mmap_lock for write as MADV_UNMERGEABLE
 * does, and does little else, so its tail is the wait for that lock
 * (ksmd may hold it for read, scanning these pages).
 * Its pages are unique, so that the counters stay exactly the workers'.
 * A cycle of about 12 ms gives some 2,000 samples of each in a full run:
 * enough for a p99 that is not just the second largest of a handful.
 */
#define LAT_PAUSE_US 5000

static int lat_bystander(void)
{
	unsigned long i, n = 64, tag = 0;
	struct lat_start t;
	pid_t pid;
	char *p;

	while (!lsh->stop) {
		p = map(n);
		for (i = 0; i < n; i++)
			fill(p + i * PAGE, UNIQUE(7, tag++));
		mergeable(p, n, MADV_MERGEABLE);
		usleep(LAT_PAUSE_US);
		t = lat_begin();
		if (mprotect(p, n * PAGE, PROT_READ | PROT_WRITE))
			return 1;
		lat_add(LAT_MPROTECT, t);
		t = lat_begin();
		mergeable(p, n, MADV_UNMERGEABLE);
		lat_add(LAT_UNMERGE, t);
		munmap(p, n * PAGE);
		pid = fork();
		if (pid < 0)
			return 1;
		if (!pid) {
			p = map(n);
			for (i = 0; i < n; i++)
				fill(p + i * PAGE, UNIQUE(8, tag + i));
			mergeable(p, n, MADV_MERGEABLE);
			pause();
			_exit(0);
		}
		usleep(LAT_PAUSE_US);
		t = lat_begin();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		lat_add(LAT_EXIT, t);
	}
	return 0;
}

/* Sort @us, @n samples of @k, and give their p50, p99 and max as KIND. */
static void lat_report(int k, const char *kind, float *us, unsigned long n)
{
	static const char *const qname[] = { "p50", "p99", "max" };
	float v[3];
	char key[64];
	int j;

	qsort(us, n, sizeof(float), cmp_float);
	v[0] = us[n / 2];
	v[1] = us[n * 99 / 100];
	v[2] = us[n - 1];
	progress("%s%s: %lu samples, p50 %.1fus p99 %.1fus max %.1fus",
		 kind, lat_key[k], n, v[0], v[1], v[2]);
	for (j = 0; j < 3; j++) {
		snprintf(key, sizeof(key), "latency_%s_%s%s_us", lat_key[k], kind, qname[j]);
		result(key, v[j]);
	}
}

/*
 * Every round gives ksmd the same time to scan once the writes are done,
 * merged again or not (as long as it merges within it): the same share of
 * each kernel's run has the workers writing, which takes both CPUs and
 * delays the others' exits and faults whatever ksmd does.  Were the round
 * over as soon as the pages merge again, a faster ksmd would spend more of
 * its run in the writes, and its samples would show them, not ksmd.
 */
#define LAT_SCAN_S 3

static int w_latency(unsigned long mib, unsigned long rounds)
{
	unsigned long pages = mib * 256, n, k, scans;
	int nprocs = 3, status, bad = 0, r, i;
	struct expect e = { 2, 3 * pages - 2 };
	unsigned long q;
	double t0, merged;
	pid_t pids[4];

	if (strstr(clocksource(), "jiffies"))
		fail("clocksource %s is too coarse to time a fault (boot with tsc=reliable)",
		     clocksource());
	lsh = mmap(NULL, sizeof(*lsh), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lsh == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	settle();
	wr("max_page_sharing", 3 * pages);
	progress("3 processes x %lu MiB of 2 contents, pages_to_scan 98304, sleep 0, %lu rounds of rewrites",
		 mib, rounds);
	for (i = 0; i < nprocs + 1; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			fail("fork: %s", strerror(errno));
		if (!pids[i])
			_exit(i < nprocs ? lat_worker(i, pages) : lat_bystander());
		if (i < nprocs)
			while (lsh->ready < i + 1)
				usleep(1000);
	}
	wr("pages_to_scan", 98304);
	wr("sleep_millisecs", 0);
	wr("run", 1);
	for (r = 0; r <= (int)rounds; r++) {
		/*
		 * A broken merge leaves the counters until ksmd's next visit:
		 * merged again means the right counters after a full scan
		 * that began once the writes were done.  ksmd then goes on
		 * scanning until LAT_SCAN_S have passed (see there).
		 */
		t0 = now();
		scans = rd("full_scans");
		merged = 0;
		while (!merged || now() - t0 < LAT_SCAN_S) {
			if (!merged && rd("full_scans") >= scans + 2 &&
			    rd("pages_shared") == e.shared && rd("pages_sharing") == e.sharing) {
				merged = now() - t0;
				progress("round %d of %lu: merged again in %.1fs", r, rounds, merged);
			}
			if (!merged && now() - t0 > 600)
				fail("round %d: pages_shared %lu, pages_sharing %lu after 600s; expected %lu, %lu",
				     r, rd("pages_shared"), rd("pages_sharing"), e.shared, e.sharing);
			usleep(20000);
		}
		if (merged > LAT_SCAN_S)
			progress("round %d: the merge took longer than the %ds a round scans: the rounds are not alike on every kernel",
				 r, LAT_SCAN_S);
		if (r == (int)rounds)
			break;
		lsh->done = 0;
		lsh->round = r + 1;
		t0 = now();
		while (lsh->done < nprocs)
			usleep(10000);
		progress("round %d of %lu: every page rewritten in %.1fs", r + 1, rounds, now() - t0);
	}
	wr("run", 0);
	still(e, "after the rewrites");
	lsh->stop = 1;
	for (i = 0; i < nprocs + 1; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	if (bad)
		fail("%d processes failed or found their memory changed", bad);
	settle();
	wr("max_page_sharing", 256);
	for (k = 0; k < LAT_NR; k++) {
		n = lsh->n[k] < LAT_SAMPLES ? lsh->n[k] : LAT_SAMPLES;
		if (!n)
			fail("no %s samples", lat_key[k]);
		for (i = 0, q = 0; i < (int)n; i++)
			if (lsh->quiet[k][i])
				lsh->sorted[q++] = lsh->us[k][i];
		lat_report(k, "", lsh->us[k], n);
		/* Too few to have a p99 of their own: none. */
		if (q >= 100)
			lat_report(k, "quiet_", lsh->sorted, q);
		else
			progress("%s: only %lu quiet samples", lat_key[k], q);
	}
	return 0;
}

/*
 * The host's TSC frequency in kHz.  Under QEMU TCG the guest's RDTSC reads
 * the host's TSC, and a loaded host often makes the guest's calibration
 * against the PIT fail: the guest then falls back to a jiffies clocksource
 * (CLOCK_MONOTONIC in 4 ms steps).  lab/bench.sh passes this value as
 * tsc_early_khz= (with tsc=reliable).  The median of 5 samples of 100 ms.
 */
static int tsc_khz(void)
{
	double khz[5], t0, t;
	uint64_t c0;
	int i;

	for (i = 0; i < 5; i++) {
		t0 = now();
		c0 = __rdtsc();
		while ((t = now()) - t0 < 0.1)
			;
		khz[i] = (__rdtsc() - c0) / (t - t0) / 1000;
	}
	qsort(khz, 5, sizeof(*khz), cmp_double);
	printf("%.0f\n", khz[2]);
	return 0;
}

/* ---- 14. shapes: the spread of merge, COW and unmerge ----------------------- */

/*
 * A ratio is a win only if it holds on more than the one shape a workload
 * happens to use.  The merge, COW and unmerge workloads again, at @mib MiB
 * each, one shape at a time: the base shape (4 processes, 64 contents,
 * pages_to_scan 16384), then one process, 64 processes, pages_to_scan 100,
 * 4 contents and a content for every 4 pages.  Results are prefixed
 * "shape_NAME_".  COW and unmerge work on one process's area, so their
 * process count is always one.
 */
static int w_shapes(unsigned long mib)
{
	static const struct {
		const char *name;
		int procs;
		unsigned long contents;	/* 0: one for every 4 pages */
		unsigned long rate;
	} shapes[] = {
		{ "base", 4, 64, 16384 },
		{ "procs1", 1, 64, 16384 },
		{ "procs64", 64, 64, 16384 },
		{ "rate100", 4, 64, 100 },
		{ "contents4", 4, 4, 16384 },
		{ "contentsmany", 4, 0, 16384 },
	};
	unsigned long pages = mib * 256, contents;
	unsigned int i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		contents = shapes[i].contents ? shapes[i].contents : pages / 4;
		merge_rate = shapes[i].rate;
		snprintf(result_prefix, sizeof(result_prefix), "shape_%s_", shapes[i].name);
		progress("shape %s: %d process(es), %lu contents, pages_to_scan %lu",
			 shapes[i].name, shapes[i].procs, contents, merge_rate);
		w_merge(mib, shapes[i].procs, contents, 25);
		w_cow(pages, contents);
		w_unmerge(mib, contents);
	}
	result_prefix[0] = '\0';
	merge_rate = 16384;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 0, contents = 0, pct = ~0UL, nscans = 3, pages = 4096, secs = 60;
	unsigned long gib = 64;
	int procs = 4, opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: ksm_bench merge|scan|cow|unmerge|steady|latency|idle|domains|vm|scale|sparse|phases|shapes [options]\n");
		return 2;
	}
	workload = argv[1];
	if (!strcmp(workload, "tsc_khz"))
		return tsc_khz();
	optind = 2;
	while ((opt = getopt(argc, argv, "m:n:d:u:s:p:t:g:")) != -1) {
		switch (opt) {
		case 'm': mib = strtoul(optarg, NULL, 0); break;
		case 'n': procs = atoi(optarg); break;
		case 'd': contents = strtoul(optarg, NULL, 0); break;
		case 'u': pct = strtoul(optarg, NULL, 0); break;
		case 's': nscans = strtoul(optarg, NULL, 0); break;
		case 'p': pages = strtoul(optarg, NULL, 0); break;
		case 't': secs = strtoul(optarg, NULL, 0); break;
		case 'g': gib = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "ksm_bench: bad option\n");
			return 2;
		}
	}
	t_start = now();
	printf("bench: guest memory %ld MiB, clocksource %s, ksmd pid %d\n",
	       sysconf(_SC_PHYS_PAGES) * (PAGE >> 10) >> 10, clocksource(), ksmd_pid());
	if (!strcmp(workload, "merge"))
		return w_merge(mib ? mib : 256, procs, contents ? contents : 64, pct == ~0UL ? 25 : pct);
	if (!strcmp(workload, "scan"))
		return w_scan(mib ? mib : 512, nscans);
	if (!strcmp(workload, "cow"))
		return w_cow(pages, contents ? contents : 64);
	if (!strcmp(workload, "unmerge"))
		return w_unmerge(mib ? mib : 256, contents ? contents : 512);
	if (!strcmp(workload, "steady"))
		return w_steady(mib ? mib : 64, secs, contents ? contents : 64, pct == ~0UL ? 10 : pct);
	if (!strcmp(workload, "latency"))
		return w_latency(mib ? mib : 128, nscans);
	if (!strcmp(workload, "idle"))
		return w_idle(mib ? mib : 512, secs);
	if (!strcmp(workload, "domains"))
		return w_domains(mib ? mib : 128);
	if (!strcmp(workload, "vm"))
		return w_vm(mib ? mib : 256, secs);
	if (!strcmp(workload, "scale"))
		return w_scale(mib ? mib : 64);
	if (!strcmp(workload, "sparse"))
		return w_sparse(mib ? mib : 64, gib);
	if (!strcmp(workload, "phases"))
		return w_phases(mib ? mib : 128);
	if (!strcmp(workload, "shapes"))
		return w_shapes(mib ? mib : 64);
	fail("no such workload");
}
