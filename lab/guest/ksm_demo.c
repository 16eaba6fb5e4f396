// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_demo: KSM merging live.  Several processes each hold the same working
 * set with realistic duplication (most pages repeat across and within the
 * processes, the rest are unique), register it with MADV_MERGEABLE, and
 * the demo prints what ksmd does with it once a second until the counters
 * reach the values the data implies.
 *
 *   ksm_demo [-n PROCS] [-m MIB_PER_PROC] [-u UNIQUE_PERCENT] [-d CONTENTS]
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSM "/sys/kernel/mm/ksm/"
#define PAGE 4096UL

static unsigned long rd(const char *name)
{
	char path[128];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%lu", &v) != 1) {
		fprintf(stderr, "ksm_demo: cannot read %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(f);
	return v;
}

static void wr(const char *name, unsigned long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%lu", v) < 0 || fclose(f)) {
		fprintf(stderr, "ksm_demo: cannot write %lu to %s: %s\n", v, path, strerror(errno));
		exit(1);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fill one page: repeated contents are numbered, unique ones are random. */
static void fill(uint64_t *p, uint64_t tag)
{
	uint64_t x = tag * 0x9e3779b97f4a7c15ULL + 1;
	unsigned long i;

	for (i = 0; i < PAGE / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
}

/* Page i of process k holds this content: UINT64_MAX/2 + ... for unique. */
static uint64_t content(unsigned long i, int k, unsigned long pages,
			unsigned long unique, unsigned long contents)
{
	if (i >= pages - unique)
		return (1ULL << 40) + (uint64_t)k * pages + i;
	return i % contents;
}

static int child(int k, unsigned long pages, unsigned long unique,
		 unsigned long contents, int go)
{
	uint64_t *want = malloc(PAGE);
	char *area;
	unsigned long i;
	char c;

	area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || !want)
		return 2;
	for (i = 0; i < pages; i++)
		fill((uint64_t *)(area + i * PAGE), content(i, k, pages, unique, contents));
	if (madvise(area, pages * PAGE, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		return 2;
	}
	/* Ready; wait until the parent is done watching (closes the pipe). */
	if (write(1, "r", 1) != 1 || read(go, &c, 1) != 0)
		return 2;
	for (i = 0; i < pages; i++) {
		fill(want, content(i, k, pages, unique, contents));
		if (memcmp(want, area + i * PAGE, PAGE)) {
			fprintf(stderr, "ksm_demo: process %d page %lu changed!\n", k, i);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 64, unique_pct = 10, contents = 2048, pages, unique;
	unsigned long rep, want_shared, want_sharing, shared = 0, sharing = 0;
	unsigned long old_scan, old_sleep, old_run, scans0, scans;
	int procs = 4, opt, k, ready[2], go[2], bad = 0, status;
	double t0, t;

	while ((opt = getopt(argc, argv, "n:m:u:d:")) != -1) {
		switch (opt) {
		case 'n': procs = atoi(optarg); break;
		case 'm': mib = strtoul(optarg, NULL, 0); break;
		case 'u': unique_pct = strtoul(optarg, NULL, 0); break;
		case 'd': contents = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: ksm_demo [-n procs] [-m MiB] [-u unique%%] [-d contents]\n");
			return 2;
		}
	}
	pages = mib * 1024 * 1024 / PAGE;
	unique = pages * unique_pct / 100;
	rep = pages - unique;
	if (procs < 1 || !pages || unique_pct > 100 || !contents || contents > rep) {
		fprintf(stderr, "ksm_demo: bad parameters\n");
		return 2;
	}
	/*
	 * Each repeated content occurs procs * rep / contents times (some once
	 * more); with max_page_sharing at its default (256) one KSM page each.
	 */
	want_shared = contents;
	want_sharing = procs * rep - contents;

	old_run = rd("run");
	old_scan = rd("pages_to_scan");
	old_sleep = rd("sleep_millisecs");
	wr("run", 2);
	printf("ksm_demo: %d processes x %lu MiB: %lu%% of pages from %lu repeated contents, %lu%% unique\n",
	       procs, mib, 100 - unique_pct, contents, unique_pct);
	if (pipe(ready) || pipe(go))
		return 2;
	for (k = 0; k < procs; k++) {
		if (fork() == 0) {
			close(go[1]);
			close(ready[0]);
			dup2(ready[1], 1);
			_exit(child(k, pages, unique, contents, go[0]));
		}
	}
	for (k = 0; k < procs; k++) {
		char c;

		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "ksm_demo: a process failed to start\n");
			return 1;
		}
	}
	printf("ksm_demo: %lu MiB registered; expecting pages_shared %lu, pages_sharing %lu\n",
	       procs * mib, want_shared, want_sharing);
	printf("%6s %12s %13s %10s %10s %10s\n", "time", "pages_shared", "pages_sharing",
	       "saved MiB", "saved %", "full_scans");
	scans0 = rd("full_scans");
	wr("pages_to_scan", 1000);
	wr("sleep_millisecs", 20);
	t0 = now();
	wr("run", 1);
	for (t = 0; t < 600; t = now() - t0) {
		shared = rd("pages_shared");
		sharing = rd("pages_sharing");
		printf("%5.0fs %12lu %13lu %10.1f %9.1f%% %10lu\n", t, shared, sharing,
		       sharing * PAGE / 1048576.0, 100.0 * sharing / (procs * pages),
		       rd("full_scans") - scans0);
		fflush(stdout);
		if (shared == want_shared && sharing == want_sharing)
			break;
		sleep(1);
	}
	t = now() - t0;
	scans = rd("full_scans") - scans0;
	close(go[1]);
	for (k = 0; k < procs; k++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	wr("run", 2);
	wr("pages_to_scan", old_scan);
	wr("sleep_millisecs", old_sleep);
	wr("run", old_run);
	printf("ksm_demo: %s: %lu of %lu MiB saved (%.1f%%): pages_shared %lu, pages_sharing %lu after %.0fs and %lu full scans; contents %s\n",
	       shared == want_shared && sharing == want_sharing ? "merged" : "NOT fully merged",
	       sharing * PAGE / 1048576, procs * mib, 100.0 * sharing / (procs * pages),
	       shared, sharing, t, scans, bad ? "CORRUPTED" : "intact");
	return bad || shared != want_shared || sharing != want_sharing;
}
