// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_demo: KSM merging live.  Several processes each hold the same working
 * set with realistic duplication (most pages repeat across and within the
 * processes, the rest are unique), register it with MADV_MERGEABLE, and
 * the demo prints what ksmd does with it once a second until the counters
 * reach the values the data implies, then the processes that KSM saves
 * the most for (ksm_process_profit of /proc/PID/ksm_stat).
 *
 * With -c GROUPS (make run DEMO=domains), the processes are split between
 * GROUPS memory cgroups, one tenant each, and merge_domain is "memcg": each
 * tenant saves memory on its own, and no page is shared across tenants,
 * which the demo checks page by page at the end.
 *
 *   ksm_demo [-n PROCS] [-m MIB_PER_PROC] [-u UNIQUE_PERCENT] [-d CONTENTS]
 *            [-c GROUPS]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include "ksm_util.h"

#define TOP	5
#define MAX_GROUPS	8

static char cg_dir[MAX_GROUPS][256];
static char *area;	/* each process's pages, at the same address */

struct proc_profit {
	pid_t pid;
	long long profit, merging, zero, items;
	char comm[32];
};

static int by_profit(const void *a, const void *b)
{
	const struct proc_profit *x = a, *y = b;

	return x->profit < y->profit ? 1 : x->profit > y->profit ? -1 : 0;
}

/* The TOP processes by ksm_process_profit, from every /proc/PID/ksm_stat. */
static void print_top(void)
{
	struct proc_profit top[TOP], p;
	char path[300];
	struct dirent *d;
	int n = 0, i;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		p.pid = atoi(d->d_name);
		if (p.pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ksm_stat", p.pid);
		p.profit = ksm_read_keyed(path, "ksm_process_profit");
		p.merging = ksm_read_keyed(path, "ksm_merging_pages");
		p.zero = ksm_read_keyed(path, "ksm_zero_pages");
		p.items = ksm_read_keyed(path, "ksm_rmap_items");
		if (p.items <= 0 || (n == TOP && p.profit <= top[TOP - 1].profit))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", p.pid);
		f = fopen(path, "r");
		if (!f || !fgets(p.comm, sizeof(p.comm), f))
			strcpy(p.comm, "?\n");
		if (f)
			fclose(f);
		p.comm[strcspn(p.comm, "\n")] = '\0';
		top[n < TOP ? n++ : TOP - 1] = p;
		qsort(top, n, sizeof(top[0]), by_profit);
	}
	closedir(dir);
	printf("ksm_demo: top %d processes by ksm_process_profit:\n", n);
	printf("%8s %-16s %12s %10s %10s %14s\n", "pid", "comm", "merging", "zero",
	       "rmap items", "profit KiB");
	for (i = 0; i < n; i++)
		printf("%8d %-16s %12lld %10lld %10lld %14lld\n", top[i].pid,
		       top[i].comm, top[i].merging, top[i].zero, top[i].items,
		       top[i].profit / 1024);
}

/* general_profit in MiB, or NAN where the kernel has none (6.1). */
static double general_profit_mib(void)
{
	long long v;
	FILE *f = fopen(ksm_path("general_profit"), "r");

	if (!f)
		return NAN;
	if (fscanf(f, "%lld", &v) != 1)
		v = 0;
	fclose(f);
	return v / 1048576.0;
}

/*
 * The key of page i of process k (ksm_fill_page()): repeated contents are
 * numbered from 1, unique ones from 2^40.
 */
static unsigned long long content(unsigned long i, int k, unsigned long pages,
				  unsigned long unique, unsigned long contents)
{
	if (i >= pages - unique)
		return (1ULL << 40) + (unsigned long long)k * pages + i;
	return 1 + i % contents;
}

static int child(int k, unsigned long pages, unsigned long unique,
		 unsigned long contents, int ready, int go)
{
	unsigned long i;
	char c;

	for (i = 0; i < pages; i++)
		ksm_fill_page(ksm_page_addr(area, i), content(i, k, pages, unique, contents));
	ksm_madvise(area, pages, MADV_MERGEABLE);
	/* Ready; wait until the parent is done watching (closes the pipe). */
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 0)
		return 2;
	for (i = 0; i < pages; i++) {
		if (ksm_check_page(ksm_page_addr(area, i),
				   content(i, k, pages, unique, contents)) >= 0) {
			printf("ksm_demo: process %d page %lu changed!\n", k, i);
			return 1;
		}
	}
	return 0;
}

/* One memory cgroup per tenant, and merge_domain memcg. */
static int setup_groups(int groups)
{
	char why[256], name[32];
	int g;

	for (g = 0; g < groups; g++) {
		snprintf(name, sizeof(name), "tenant%d", g);
		if (!ksm_cg_create(name, "memory.ksm_stat", cg_dir[g],
				   sizeof(cg_dir[g]), why, sizeof(why))) {
			fprintf(stderr, "ksm_demo: %s\n", why);
			return 1;
		}
	}
	if (ksm_write_str("merge_domain", "memcg")) {
		fprintf(stderr, "ksm_demo: cannot set merge_domain memcg\n");
		return 1;
	}
	printf("ksm_demo: merge_domain memcg: %d tenants, one memory cgroup each\n",
	       groups);
	return 0;
}

/* The pfn of page @i of the area in @pid (0: absent). */
static unsigned long long pfn_of(pid_t pid, unsigned long i)
{
	unsigned long long pm = 0;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &pm, sizeof(pm), ((unsigned long)area / ksm_page_size + i) *
		  sizeof(pm)) != sizeof(pm))
		pm = 0;
	close(fd);
	return pm & KSM_PM_PRESENT ? pm & KSM_PM_PFN_MASK : 0;
}

/*
 * Each tenant's memory.ksm_stat, and the proof of isolation: no repeated
 * page of a process maps the page frame of any process of another tenant.
 * Returns the number of pages found shared across tenants.
 */
static int show_groups(int groups, const pid_t *pid, int procs,
		       unsigned long rep)
{
	unsigned long i, checked = 0, crossed = 0;
	char path[300];
	int g, k;

	printf("ksm_demo: per tenant (memory.ksm_stat):\n");
	printf("%-10s %10s %14s %16s\n", "tenant", "processes", "merging pages",
	       "profit MiB");
	for (g = 0; g < groups; g++) {
		snprintf(path, sizeof(path), "%s/memory.ksm_stat", cg_dir[g]);
		printf("tenant%-4d %10d %14lld %16.1f\n", g, procs / groups,
		       ksm_read_keyed(path, "ksm_merging_pages"),
		       ksm_read_keyed(path, "ksm_process_profit") / 1048576.0);
	}
	for (i = 0; i < rep; i++) {
		for (k = 1; k < procs; k++) {
			unsigned long long a = pfn_of(pid[0], i), b = pfn_of(pid[k], i);

			if (k % groups == 0)
				continue;
			checked++;
			crossed += a && a == b;
		}
	}
	printf("ksm_demo: isolation: %lu page pairs of different tenants compared, %lu shared\n",
	       checked, crossed);
	return crossed != 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 64, unique_pct = 10, contents = 2048, pages, unique;
	unsigned long rep, want_shared, want_sharing, shared = 0, sharing = 0;
	unsigned long scans0, scans;
	int procs = 4, opt, k, ready[2], go[2], bad = 0, status, groups = 0;
	pid_t pid[64];
	long long t0, t;

	while ((opt = getopt(argc, argv, "n:m:u:d:c:")) != -1) {
		switch (opt) {
		case 'c': groups = atoi(optarg); break;
		case 'n': procs = atoi(optarg); break;
		case 'm': mib = strtoul(optarg, NULL, 0); break;
		case 'u': unique_pct = strtoul(optarg, NULL, 0); break;
		case 'd': contents = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: ksm_demo [-n procs] [-m MiB] [-u unique%%] [-d contents] [-c groups]\n");
			return 2;
		}
	}
	pages = (mib << 20) / ksm_page_size;
	unique = pages * unique_pct / 100;
	rep = pages - unique;
	if (procs < 1 || procs > 64 || !pages || unique_pct > 100 || !contents ||
	    contents > rep || groups < 0 || groups > MAX_GROUPS ||
	    (groups && procs % groups)) {
		fprintf(stderr, "ksm_demo: bad parameters\n");
		return 2;
	}
	/*
	 * Each repeated content occurs procs * rep / contents times (some once
	 * more); with max_page_sharing at its default (256) one KSM page each.
	 */
	want_shared = contents * (groups ? groups : 1);
	want_sharing = procs * rep - want_shared;

	/* run=2 and counters at 0; the knobs come back at exit. */
	ksm_selftest_init(1000, 20, 900);
	printf("ksm_demo: %d processes x %lu MiB: %lu%% of pages from %lu repeated contents, %lu%% unique\n",
	       procs, mib, 100 - unique_pct, contents, unique_pct);
	if (groups && setup_groups(groups))
		return 1;
	area = ksm_mmap(pages);
	if (pipe(ready) || pipe(go))
		return 2;
	for (k = 0; k < procs; k++) {
		pid[k] = fork();
		if (pid[k] == 0) {
			close(go[1]);
			close(ready[0]);
			_exit(child(k, pages, unique, contents, ready[1], go[0]));
		}
		if (groups && !ksm_cg_attach(cg_dir[k % groups], pid[k])) {
			fprintf(stderr, "ksm_demo: cannot move %d to %s\n", pid[k],
				cg_dir[k % groups]);
			return 1;
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
	printf("%6s %12s %13s %10s %10s %10s %11s\n", "time", "pages_shared",
	       "pages_sharing", "saved MiB", "saved %", "full_scans", "profit MiB");
	scans0 = ksm_full_scans();
	t0 = ksm_now_ms();
	ksm_set("run", 1);
	for (t = 0; t < 600 * 1000; t = ksm_now_ms() - t0) {
		shared = ksm_read("pages_shared");
		sharing = ksm_read("pages_sharing");
		printf("%5llds %12lu %13lu %10.1f %9.1f%% %10lu %11.1f\n", t / 1000, shared,
		       sharing, (double)sharing * ksm_page_size / 1048576,
		       100.0 * sharing / (procs * pages), ksm_full_scans() - scans0,
		       general_profit_mib());
		fflush(stdout);
		if (shared == want_shared && sharing == want_sharing)
			break;
		sleep(1);
	}
	t = ksm_now_ms() - t0;
	scans = ksm_full_scans() - scans0;
	print_top();
	if (groups)
		bad += show_groups(groups, pid, procs, rep);
	/* The host administrator's view of the same moment: ksmstat. */
	if (!system("command -v ksmstat >/dev/null")) {
		printf("ksm_demo: what ksmstat shows (ksmstat --once -t 6):\n");
		fflush(stdout);
		if (system("ksmstat --once -t 6"))
			printf("ksm_demo: ksmstat failed\n");
	}
	close(go[1]);
	for (k = 0; k < procs; k++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	for (k = 0; k < groups; k++)
		ksm_cg_remove(cg_dir[k]);
	printf("ksm_demo: %s: %lu of %lu MiB saved (%.1f%%): pages_shared %lu, pages_sharing %lu after %llds and %lu full scans; contents %s\n",
	       shared == want_shared && sharing == want_sharing ? "merged" : "NOT fully merged",
	       sharing * ksm_page_size >> 20, procs * mib, 100.0 * sharing / (procs * pages),
	       shared, sharing, t / 1000, scans,
	       bad ? "CORRUPTED or shared across tenants" : "intact");
	return bad || shared != want_shared || sharing != want_sharing;
}
