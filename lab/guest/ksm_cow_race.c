// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_cow_race: the race behind ksm_tests -U, repeated.  Merge two pages
 * (checked: one KSM page, mapped twice), write both (copy on write), wait
 * for one more full scan, and expect the counters at 0; on a miss, print
 * the counters and the old KSM page's /proc/kpageflags.  The pass that
 * ends just after the writes may have looked at the KSM page before they
 * freed it; reading full_scans under ksm_mutex closes that window.  It is
 * the "race" suite of make check; the window was widest on a loaded host
 * (a few `while :; do :; done` loops beside
 * `./lab/boot.sh ours test race race`).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RUNS 60

static unsigned long rd(const char *name)
{
	char path[128];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%lu", &v) != 1)
		exit(2);
	fclose(f);
	return v;
}

static void wr(const char *name, unsigned long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%lu", v) < 0 || fclose(f))
		exit(2);
}

static uint64_t rd64(const char *file, uint64_t idx)
{
	uint64_t v = 0;
	int fd = open(file, O_RDONLY);

	if (fd < 0 || pread(fd, &v, 8, idx * 8) != 8)
		v = 0;
	if (fd >= 0)
		close(fd);
	return v;
}

static int wait_scans(unsigned long n)
{
	unsigned long s = rd("full_scans");
	time_t t0 = time(NULL);

	while (rd("full_scans") < s + n)
		if (time(NULL) - t0 > 60)
			return -1;
	return 0;
}

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	int i, missed = 0, unmerged = 0;

	printf("TAP version 13\n1..2\n");
	for (i = 0; i < RUNS; i++) {
		uint64_t pfn;
		char *m;

		wr("run", 2);
		wr("sleep_millisecs", 0);
		wr("pages_to_scan", 10);
		m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 2;
		memset(m, '*', 2 * ps);
		if (madvise(m, 2 * ps, MADV_MERGEABLE))
			return 2;
		wr("run", 1);
		if (wait_scans(2))
			return 2;
		pfn = rd64("/proc/self/pagemap", (uintptr_t)m / ps) &
		      ((1ULL << 55) - 1);
		/* Merged: one KSM page (KPF_KSM, bit 21) mapped by both. */
		if (rd("pages_shared") != 1 || rd("pages_sharing") != 1 || !pfn ||
		    pfn != (rd64("/proc/self/pagemap", (uintptr_t)m / ps + 1) &
			    ((1ULL << 55) - 1)) ||
		    !(rd64("/proc/kpageflags", pfn) & (1ULL << 21))) {
			unmerged++;
			printf("# run %d: not merged after two full scans: ", i);
			printf("pages_shared %lu pages_sharing %lu, page %#llx kpageflags %#llx\n",
			       rd("pages_shared"), rd("pages_sharing"),
			       (unsigned long long)pfn,
			       (unsigned long long)rd64("/proc/kpageflags", pfn));
		}
		m[0] = '-';
		m[ps] = '+';
		if (wait_scans(1))
			return 2;
		if (rd("pages_shared") || rd("pages_sharing")) {
			missed++;
			printf("# run %d: pages_shared %lu pages_sharing %lu after the scan; old KSM page %#llx: kpagecount %llu kpageflags %#llx\n",
			       i, rd("pages_shared"), rd("pages_sharing"),
			       (unsigned long long)pfn,
			       (unsigned long long)rd64("/proc/kpagecount", pfn),
			       (unsigned long long)rd64("/proc/kpageflags", pfn));
		}
		munmap(m, 2 * ps);
	}
	wr("run", 2);
	printf("%s 1 two identical pages merged into one KSM page: %d of %d runs did not\n",
	       unmerged ? "not ok" : "ok", unmerged, RUNS);
	printf("%s 2 counters at 0 one full scan after COW broke the last mapping: %d of %d runs missed\n",
	       missed ? "not ok" : "ok", missed, RUNS);
	return unmerged || missed;
}
