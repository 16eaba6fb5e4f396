// SPDX-License-Identifier: GPL-2.0
/*
 * ksmstat: watch Kernel Samepage Merging, in the spirit of vmstat and
 * slabtop.  Every interval it shows what KSM shares and saves, how fast
 * the saving grows, what ksmd costs (its CPU from /proc/PID/stat), when it
 * last finished a full scan, the knobs in force, the processes it saves
 * the most for and, where the kernel has merge domains, each memory
 * cgroup's share.  A file the kernel lacks is left out (Linux 6.1 has no
 * general_profit nor ksm_stat lines); no KSM at all is said plainly.
 *
 *   ksmstat [-i SECONDS] [-n COUNT] [--once] [--json] [-p PID] [-t TOP]
 *
 * --json prints one JSON object per sample and line, for scripts.  Names
 * that users choose (a command, a cgroup) are printed escaped: they can
 * neither break the JSON nor send a terminal its control sequences.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define NONE		LLONG_MIN	/* a value the kernel does not show */
#define MAX_TOP		64
#define SPARK		40	/* samples in the sparkline */
#define MIN_INTERVAL	0.01	/* seconds */
#define MAX_INTERVAL	86400.0
#define PF_KTHREAD	0x00200000	/* flags of /proc/PID/stat: a kernel thread */

/* The files of /sys/kernel/mm/ksm that ksmstat reads, as numbers. */
static const char * const counters[] = {
	"pages_shared", "pages_sharing", "pages_unshared", "pages_volatile",
	"full_scans", "stable_node_chains", "stable_node_dups",
	"ksm_zero_pages", "general_profit", "pages_scanned", "pages_skipped",
};
static const char * const knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "max_page_sharing",
	"merge_across_nodes", "use_zero_pages", "smart_scan",
	"stable_node_chains_prune_millisecs", "advisor_max_cpu",
	"advisor_min_pages_to_scan", "advisor_max_pages_to_scan",
	"advisor_target_scan_time",
};
/* Knobs that read as words, the one in force in brackets. */
static const char * const choices[] = { "advisor_mode", "merge_domain" };

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NCOUNTERS	ARRAY_SIZE(counters)
#define NKNOBS		ARRAY_SIZE(knobs)
#define NCHOICES	ARRAY_SIZE(choices)

struct proc {
	int pid;
	char comm[32];
	long long merging, zero, items, profit;	/* NONE: not shown by the kernel */
};

struct group {
	char path[256];			/* below the cgroup2 mount */
	long long merging, zero, items, profit;
};

/* What ksmstat reads of a ksm_stat file (/proc/PID or memory.), in order. */
static const char * const stat_keys[] = {
	"ksm_merging_pages", "ksm_zero_pages", "ksm_rmap_items",
	"ksm_process_profit",
};

#define NSTAT_KEYS	ARRAY_SIZE(stat_keys)

struct sample {
	double t;			/* CLOCK_MONOTONIC seconds */
	bool have[NCOUNTERS];
	long long counter[NCOUNTERS];
	bool have_knob[NKNOBS];
	long long knob[NKNOBS];
	char choice[NCHOICES][32];	/* "" if absent */
	long long ksmd_ticks;		/* -1: no ksmd */
	int nprocs, ngroups;		/* shown */
	int found, groups_found;	/* known to KSM, listed or not (-1: not looked for) */
	int denied;			/* ksm_stat files not readable */
	struct proc procs[MAX_TOP];
	struct group groups[MAX_TOP];
};

static long page_size, ticks_per_s;
static int ksmd_pid;
static volatile sig_atomic_t interrupted;

/* SIGINT, SIGTERM: end after the sample being shown, with status 0. */
static void on_signal(int sig)
{
	interrupted = sig;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first line of @path into @buf, without its newline: false if none. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/*
 * The command name of @pid into @buf: all of it, for it may hold a
 * newline (any byte but NUL), without the one the kernel adds.
 */
static bool read_comm(int pid, char *buf, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	if (n && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return n > 0;
}

static bool read_ll(const char *path, long long *val)
{
	char buf[64], *end;

	if (!read_line(path, buf, sizeof(buf)))
		return false;
	errno = 0;
	*val = strtoll(buf, &end, 10);
	return !errno && end != buf;
}

/*
 * The values of stat_keys in @path, lines "KEY VALUE" (or "KEY: VALUE"),
 * read at once so that they are of one moment: NONE for a key the file
 * lacks.  False, with errno, if the file cannot be read.
 */
static bool read_stat_keys(const char *path, long long *v)
{
	char line[256];
	FILE *f = fopen(path, "r");
	size_t i, n;

	for (i = 0; i < NSTAT_KEYS; i++)
		v[i] = NONE;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < NSTAT_KEYS; i++) {
			n = strlen(stat_keys[i]);
			if (!strncmp(line, stat_keys[i], n) &&
			    (line[n] == ' ' || line[n] == ':')) {
				v[i] = strtoll(line + n + 1, NULL, 10);
				break;
			}
		}
	}
	fclose(f);
	return true;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* What ksmstat reads of /proc/PID/stat. */
struct pstat {
	char state;			/* 'Z', 'X': exiting or exited */
	unsigned long flags;		/* PF_* */
	long long ticks;		/* utime + stime, in clock ticks */
	long threads;
	unsigned long long start;	/* since boot, in clock ticks */
};

static bool read_pstat(int pid, struct pstat *ps)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	/* Whole: the command may hold a newline, as any byte but NUL. */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/*
	 * The command may hold spaces and ')': fields count from the last
	 * ')'.  state is field 3, flags 9, utime and stime 14 and 15,
	 * num_threads 20, starttime 22.
	 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %ld %*d %llu",
			 &ps->state, &ps->flags, &ut, &st, &ps->threads,
			 &ps->start) != 6)
		return false;
	ps->ticks = ut + st;
	return true;
}

/*
 * Is @pid a live process, started at @start if not 0?  A zombie is not,
 * unless only its first thread has exited and others run on.
 */
static bool alive(int pid, unsigned long long start)
{
	struct pstat ps;

	if (!read_pstat(pid, &ps) || (start && ps.start != start))
		return false;
	return ps.state != 'X' && (ps.state != 'Z' || ps.threads > 1);
}

/*
 * ksmd's pid: the kernel thread of that name (a process may call itself
 * ksmd too); 0 if there is none, or it is not in our pid namespace.
 */
static int find_ksmd(void)
{
	char path[300], comm[32];
	struct dirent *d;
	DIR *dir = opendir("/proc");
	struct pstat ps;
	int pid = 0;

	while (dir && (d = readdir(dir))) {
		if (!all_digits(d->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		if (read_line(path, comm, sizeof(comm)) && !strcmp(comm, "ksmd") &&
		    read_pstat(atoi(d->d_name), &ps) && (ps.flags & PF_KTHREAD)) {
			pid = atoi(d->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
	return pid;
}

/* utime + stime of @pid, in clock ticks; -1 if it is gone. */
static long long cpu_ticks(int pid)
{
	struct pstat ps;

	return read_pstat(pid, &ps) ? ps.ticks : -1;
}

/* ksmd's CPU share since it started, in percent of one CPU; -1 unknown. */
static double cpu_since_start(int pid)
{
	struct pstat ps;
	double up;
	FILE *f;

	if (!read_pstat(pid, &ps))
		return -1;
	f = fopen("/proc/uptime", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lf", &up) != 1)
		up = 0;
	fclose(f);
	up -= (double)ps.start / ticks_per_s;
	return up > 0 ? 100.0 * ps.ticks / ticks_per_s / up : -1;
}

/* The word in brackets of a file like "[global] memcg user". */
static void read_choice(const char *name, char *out, size_t len)
{
	char path[128], buf[256], *a, *b;

	out[0] = '\0';
	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	if (!read_line(path, buf, sizeof(buf)))
		return;
	a = strchr(buf, '[');
	b = a ? strchr(a, ']') : NULL;
	if (a && b && (size_t)(b - a) <= len) {
		memcpy(out, a + 1, b - a - 1);
		out[b - a - 1] = '\0';
	}
}

/* What KSM saves for a process or cgroup: its profit, else its merges. */
static long long saving(long long profit, long long merging)
{
	return profit != NONE ? profit : merging;
}

static int by_profit(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;
	long long kx = saving(x->profit, x->merging);
	long long ky = saving(y->profit, y->merging);

	return kx < ky ? 1 : kx > ky ? -1 : x->pid - y->pid;
}

/*
 * The processes KSM saves for, from /proc/PID/ksm_stat, or
 * /proc/PID/ksm_merging_pages where that is all the kernel has (6.1): the
 * @top best, or only @only.
 */
static void read_procs(struct sample *s, int top, int only)
{
	static struct proc *all;
	static size_t size;
	long long v[NSTAT_KEYS];
	char path[300];
	struct dirent *d;
	DIR *dir = opendir("/proc");
	int n = 0, pid;

	while (dir && (d = readdir(dir))) {
		struct proc *p;

		if (!all_digits(d->d_name))
			continue;
		pid = atoi(d->d_name);
		if (only && pid != only)
			continue;
		if ((size_t)n == size) {
			p = realloc(all, (size + 1024) * sizeof(*all));
			if (!p)
				break;
			all = p;
			size += 1024;
		}
		p = &all[n];
		p->pid = pid;
		snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
		/* Mode 0400: another user's process, unless root. */
		if (!read_stat_keys(path, v) && errno == EACCES)
			s->denied++;
		p->merging = v[0];
		p->zero = v[1];
		p->items = v[2];
		p->profit = v[3];
		if (p->merging == NONE) {
			snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", pid);
			if (!read_ll(path, &p->merging))
				p->merging = NONE;
		}
		/* Only processes KSM knows (-p shows its process whatever). */
		if (!only && p->items <= 0 && p->merging <= 0)
			continue;
		if (!read_comm(pid, p->comm, sizeof(p->comm)))
			strcpy(p->comm, "?");
		n++;
	}
	if (dir)
		closedir(dir);
	if (n)
		qsort(all, n, sizeof(all[0]), by_profit);
	s->found = n;
	/* -p shows its process, whatever -t says. */
	s->nprocs = only ? n : n < top ? n : top;
	if (s->nprocs)
		memcpy(s->procs, all, s->nprocs * sizeof(all[0]));
}

/* Where the cgroup2 hierarchy is mounted, or "". */
static const char *cgroup2_root(void)
{
	static char root[256];
	char line[512], dev[64], mnt[256], type[64];
	FILE *f;

	if (root[0])
		return root;
	f = fopen("/proc/self/mounts", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %255s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			strcpy(root, mnt);
			break;
		}
	if (f)
		fclose(f);
	return root;
}

static int group_by_profit(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	long long kx = saving(x->profit, x->merging);
	long long ky = saving(y->profit, y->merging);

	return kx < ky ? 1 : kx > ky ? -1 : strcmp(x->path, y->path);
}

/*
 * The memory cgroups below @dir with KSM pages (memory.ksm_stat), into
 * @all (of @size), @n so far; a cgroup whose path is too long to show is
 * left out.
 */
static void walk_groups(struct group **all, size_t *size, int *n,
			const char *dir, int depth)
{
	char path[PATH_MAX];
	long long v[NSTAT_KEYS];
	struct dirent *d;
	struct group *g;
	size_t len;
	DIR *dh;

	if (depth > 16)
		return;
	if (snprintf(path, sizeof(path), "%s/memory.ksm_stat", dir) >= (int)sizeof(path))
		return;
	len = strlen(dir) - strlen(cgroup2_root());
	if (read_stat_keys(path, v) && (v[2] > 0 || v[0] > 0) &&
	    len < sizeof(g->path)) {
		if ((size_t)*n == *size) {
			g = realloc(*all, (*size + 64) * sizeof(**all));
			if (!g)
				return;
			*all = g;
			*size += 64;
		}
		g = &(*all)[(*n)++];
		g->merging = v[0];
		g->zero = v[1];
		g->items = v[2];
		g->profit = v[3];
		memcpy(g->path, dir + strlen(cgroup2_root()), len + 1);
	}
	dh = opendir(dir);
	while (dh && (d = readdir(dh))) {
		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) <
		    (int)sizeof(path))
			walk_groups(all, size, n, path, depth + 1);
	}
	if (dh)
		closedir(dh);
}

/* The MAX_TOP memory cgroups KSM saves the most for. */
static void read_groups(struct sample *s)
{
	static struct group *all;
	static size_t size;
	int n = 0;

	walk_groups(&all, &size, &n, cgroup2_root(), 0);
	if (n)
		qsort(all, n, sizeof(all[0]), group_by_profit);
	s->groups_found = n;
	s->ngroups = n < MAX_TOP ? n : MAX_TOP;
	if (s->ngroups)
		memcpy(s->groups, all, s->ngroups * sizeof(all[0]));
}

static void take_sample(struct sample *s, int top, int only)
{
	char path[128];
	size_t i;

	memset(s, 0, sizeof(*s));
	s->t = now();
	for (i = 0; i < NCOUNTERS; i++) {
		snprintf(path, sizeof(path), KSM_DIR "%s", counters[i]);
		s->have[i] = read_ll(path, &s->counter[i]);
	}
	for (i = 0; i < NKNOBS; i++) {
		snprintf(path, sizeof(path), KSM_DIR "%s", knobs[i]);
		s->have_knob[i] = read_ll(path, &s->knob[i]);
	}
	for (i = 0; i < NCHOICES; i++)
		read_choice(choices[i], s->choice[i], sizeof(s->choice[i]));
	if (!ksmd_pid || cpu_ticks(ksmd_pid) < 0)
		ksmd_pid = find_ksmd();
	s->ksmd_ticks = ksmd_pid ? cpu_ticks(ksmd_pid) : -1;
	read_procs(s, top, only);
	/* -p: no cgroup is looked at. */
	s->groups_found = only ? -1 : 0;
	if (cgroup2_root()[0] && !only)
		read_groups(s);
}

/* The index of counter @name. */
static size_t counter_idx(const char *name)
{
	size_t i;

	for (i = 0; i < NCOUNTERS - 1; i++)
		if (!strcmp(counters[i], name))
			break;
	return i;
}

/* Does the kernel have counter @name (general_profit may be negative)? */
static bool has(const struct sample *s, const char *name)
{
	return s->have[counter_idx(name)];
}

static long long counter(const struct sample *s, const char *name)
{
	size_t i = counter_idx(name);

	return s->have[i] ? s->counter[i] : -1;
}

/* @v as text, "-" where the kernel has no such file. */
static const char *num(char *buf, size_t len, bool have, long long v)
{
	if (have)
		snprintf(buf, len, "%lld", v);
	else
		snprintf(buf, len, "-");
	return buf;
}

static long long knob(const struct sample *s, const char *name)
{
	size_t i;

	for (i = 0; i < NKNOBS; i++)
		if (!strcmp(knobs[i], name))
			return s->have_knob[i] ? s->knob[i] : -1;
	return -1;
}

/* Memory KSM saves: every sharing mapping, and the KSM zero pages. */
static double saved_mib(const struct sample *s)
{
	long long zero = counter(s, "ksm_zero_pages");

	return (double)(counter(s, "pages_sharing") + (zero > 0 ? zero : 0)) *
	       page_size / 1048576;
}

/* ksmd's CPU share since @prev, in percent of one CPU; -1 unknown. */
static double ksmd_cpu_pct(const struct sample *s, const struct sample *prev)
{
	if (!prev || s->ksmd_ticks < 0 || prev->ksmd_ticks < 0 || s->t <= prev->t)
		return -1;
	return 100.0 * (s->ksmd_ticks - prev->ksmd_ticks) / ticks_per_s /
	       (s->t - prev->t);
}

static const char *run_state(long long run)
{
	switch (run) {
	case 0: return "stopped";
	case 1: return "running";
	case 2: return "stopped for unmerging";
	default: return "?";
	}
}

/*
 * The code point of the UTF-8 character at @p if it is one of those that
 * print nothing but can hide or reorder what follows (zero width spaces
 * and joiners, the bidirectional marks, embeddings, overrides and
 * isolates: U+200B-U+200F, U+202A-U+202E, U+2066-U+2069), or 0.
 */
static unsigned int format_char(const unsigned char *p)
{
	unsigned int c;

	if (p[0] != 0xe2 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
		return 0;
	c = 0x2000 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
	if ((c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069))
		return c;
	return 0;
}

/*
 * The length of the UTF-8 character at @p if it is a printable one, or 0:
 * a control character (C0, DEL, C1), or bytes that are not UTF-8.
 */
static int printable_len(const unsigned char *p)
{
	int len, i;

	if (*p < 0x80)
		return *p >= 0x20 && *p != 0x7f;
	if (*p >= 0xc2 && *p <= 0xdf)
		len = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		len = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		len = 4;
	else
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* C1 controls; overlong forms, surrogates, and beyond U+10FFFF. */
	if ((p[0] == 0xc2 && p[1] < 0xa0) || (p[0] == 0xe0 && p[1] < 0xa0) ||
	    (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
	    (p[0] == 0xf4 && p[1] > 0x8f) || format_char(p))
		return 0;
	return len;
}

/*
 * @name, which a user chose (a command, a cgroup's path), fit to be shown:
 * every byte that is not part of a printable character becomes '?'.
 */
static const char *shown(char *buf, size_t size, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = 0;
	int len;

	while (*p && n + 4 < size) {
		len = printable_len(p);
		if (!len) {
			buf[n++] = '?';
			p++;
			continue;
		}
		memcpy(buf + n, p, len);
		n += len;
		p += len;
	}
	buf[n] = '\0';
	return buf;
}

/* @name as a JSON string: escaped, a byte that is not UTF-8 as U+FFFD. */
static void json_string(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	int len;

	putchar('"');
	while (*p) {
		len = printable_len(p);
		if (len > 1) {
			fwrite(p, 1, len, stdout);
			p += len;
		} else if (len) {
			if (*p == '"' || *p == '\\')
				putchar('\\');
			putchar(*p++);
		} else if (*p < 0x80) {
			printf("\\u%04x", *p++);
		} else if (p[0] == 0xc2 && (p[1] & 0xc0) == 0x80) {
			printf("\\u%04x", p[1]);	/* a C1 control */
			p += 2;
		} else if (format_char(p)) {
			printf("\\u%04x", format_char(p));
			p += 3;
		} else {
			fputs("\\ufffd", stdout);
			p++;
		}
	}
	putchar('"');
}

/* ,"NAME":V, or null for a value the kernel does not show. */
static void json_field(const char *name, long long v)
{
	if (v == NONE)
		printf(",\"%s\":null", name);
	else
		printf(",\"%s\":%lld", name, v);
}

static void json_procs(const struct sample *s)
{
	int i;

	printf(",\"processes\":[");
	for (i = 0; i < s->nprocs; i++) {
		const struct proc *p = &s->procs[i];

		printf("%s{\"pid\":%d,\"comm\":", i ? "," : "", p->pid);
		json_string(p->comm);
		json_field("ksm_merging_pages", p->merging);
		json_field("ksm_zero_pages", p->zero);
		json_field("ksm_rmap_items", p->items);
		json_field("ksm_process_profit", p->profit);
		printf("}");
	}
	printf("]");
}

/* One JSON object; a file the kernel lacks is null. */
static void print_json(const struct sample *s, const struct sample *prev,
		       double last_scan_age)
{
	double cpu = ksmd_cpu_pct(s, prev);
	size_t i;
	int g;

	printf("{\"time\":%.3f", s->t);
	for (i = 0; i < NCOUNTERS; i++)
		if (s->have[i])
			printf(",\"%s\":%lld", counters[i], s->counter[i]);
		else
			printf(",\"%s\":null", counters[i]);
	for (i = 0; i < NKNOBS; i++)
		if (s->have_knob[i])
			printf(",\"%s\":%lld", knobs[i], s->knob[i]);
		else
			printf(",\"%s\":null", knobs[i]);
	for (i = 0; i < NCHOICES; i++)
		if (s->choice[i][0])
			printf(",\"%s\":\"%s\"", choices[i], s->choice[i]);
		else
			printf(",\"%s\":null", choices[i]);
	printf(",\"saved_mib\":%.3f", saved_mib(s));
	if (prev && s->t > prev->t)
		printf(",\"saved_mib_per_s\":%.3f",
		       (saved_mib(s) - saved_mib(prev)) / (s->t - prev->t));
	else
		printf(",\"saved_mib_per_s\":null");
	if (cpu >= 0)
		printf(",\"ksmd_cpu_pct\":%.2f", cpu);
	else
		printf(",\"ksmd_cpu_pct\":null");
	printf(",\"ksmd_pid\":%d", ksmd_pid);
	if (last_scan_age >= 0)
		printf(",\"last_full_scan_s_ago\":%.1f", last_scan_age);
	else
		printf(",\"last_full_scan_s_ago\":null");
	json_procs(s);
	printf(",\"processes_found\":%d", s->found);
	printf(",\"processes_unreadable\":%d", s->denied);
	printf(",\"memcgs\":[");
	for (g = 0; g < s->ngroups; g++) {
		printf("%s{\"cgroup\":", g ? "," : "");
		json_string(s->groups[g].path);
		json_field("ksm_merging_pages", s->groups[g].merging);
		json_field("ksm_zero_pages", s->groups[g].zero);
		json_field("ksm_rmap_items", s->groups[g].items);
		json_field("ksm_process_profit", s->groups[g].profit);
		printf("}");
	}
	if (s->groups_found >= 0)
		printf("],\"memcgs_found\":%d}\n", s->groups_found);
	else
		printf("],\"memcgs_found\":null}\n");
}

/* The savings of the last samples, as a line of block characters. */
static void sparkline(const double *v, int n)
{
	static const char * const bar[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	double lo = v[0], hi = v[0];
	int i;

	for (i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	for (i = 0; i < n; i++)
		fputs(bar[hi > lo ? (int)((v[i] - lo) / (hi - lo) * 7 + 0.5) : 0], stdout);
}

/* The figures of a ksm_stat file, the columns of a row, "-" where NONE. */
static void print_figures(long long merging, long long zero, long long items,
			  long long profit)
{
	char buf[32];

	printf(" %12s", num(buf, sizeof(buf), merging != NONE, merging));
	printf(" %10s", num(buf, sizeof(buf), zero != NONE, zero));
	printf(" %12s", num(buf, sizeof(buf), items != NONE, items));
	if (profit != NONE)
		printf(" %12.1f\n", profit / 1048576.0);
	else
		printf(" %12s\n", "-");
}

static void print_text(const struct sample *s, const struct sample *prev,
		       double last_scan_age, const double *spark, int nspark,
		       bool clear)
{
	double cpu = ksmd_cpu_pct(s, prev);
	char when[32], buf[32], name[sizeof(s->groups[0].path)];
	time_t t = time(NULL);
	int i;

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	if (clear)
		fputs("\033[H\033[2J", stdout);
	printf("ksmstat %s  ksmd %s, pages_to_scan %lld, sleep_millisecs %lld",
	       when, run_state(knob(s, "run")), knob(s, "pages_to_scan"),
	       knob(s, "sleep_millisecs"));
	if (s->choice[0][0])
		printf(", advisor %s", s->choice[0]);
	if (s->choice[1][0])
		printf(", merge_domain %s", s->choice[1]);
	printf("\n  max_page_sharing %lld", knob(s, "max_page_sharing"));
	if (knob(s, "merge_across_nodes") >= 0)
		printf(", merge_across_nodes %lld", knob(s, "merge_across_nodes"));
	printf(", use_zero_pages %lld", knob(s, "use_zero_pages"));
	if (knob(s, "smart_scan") >= 0)
		printf(", smart_scan %lld", knob(s, "smart_scan"));
	printf("\n\n%14s %14s %14s %14s %14s\n", "pages_shared", "pages_sharing",
	       "pages_unshared", "pages_volatile", "ksm_zero_pages");
	printf("%14lld %14lld %14lld %14lld %14s\n", counter(s, "pages_shared"),
	       counter(s, "pages_sharing"), counter(s, "pages_unshared"),
	       counter(s, "pages_volatile"),
	       num(buf, sizeof(buf), has(s, "ksm_zero_pages"),
		   counter(s, "ksm_zero_pages")));
	printf("\nsaved %.1f MiB", saved_mib(s));
	if (prev && s->t > prev->t)
		printf(" (%+.2f MiB/s)", (saved_mib(s) - saved_mib(prev)) / (s->t - prev->t));
	if (has(s, "general_profit"))
		printf(", general_profit %.1f MiB",
		       counter(s, "general_profit") / 1048576.0);
	if (cpu >= 0)
		printf(", ksmd CPU %.1f%%", cpu);
	else if (!ksmd_pid)
		printf(", no ksmd thread");
	else if (s->ksmd_ticks >= 0 && cpu_since_start(ksmd_pid) >= 0)
		printf(", ksmd CPU %.1f%% since it started",
		       cpu_since_start(ksmd_pid));
	printf("\nfull_scans %lld", counter(s, "full_scans"));
	if (last_scan_age >= 0)
		printf(", last %.0fs ago", last_scan_age);
	if (has(s, "pages_scanned"))
		printf(", pages_scanned %lld, pages_skipped %lld",
		       counter(s, "pages_scanned"), counter(s, "pages_skipped"));
	if (nspark > 1) {
		printf("\nsaved, last %d samples  ", nspark);
		sparkline(spark, nspark);
	}
	if (s->nprocs) {
		printf("\n\n%8s %-16s %12s %10s %12s %12s\n", "pid", "command",
		       "merging", "zero", "rmap items", "profit MiB");
	} else {
		printf("\n\n");
	}
	for (i = 0; i < s->nprocs; i++) {
		const struct proc *p = &s->procs[i];

		printf("%8d %-16s", p->pid, shown(name, sizeof(name), p->comm));
		print_figures(p->merging, p->zero, p->items, p->profit);
	}
	if (s->found > s->nprocs)
		printf("%8s (%d more processes with memory registered with KSM)\n",
		       "", s->found - s->nprocs);
	if (s->denied)
		printf("%8s (the ksm_stat of %d processes is not readable: run as root to see them)\n",
		       "", s->denied);
	else if (!s->found)
		printf("%8s (no process has memory registered with KSM)\n", "");
	if (s->ngroups) {
		printf("\n%-40s %12s %10s %12s %12s\n", "memory cgroup", "merging",
		       "zero", "rmap items", "profit MiB");
		for (i = 0; i < s->ngroups; i++) {
			const struct group *g = &s->groups[i];

			printf("%-40s", shown(name, sizeof(name), g->path));
			print_figures(g->merging, g->zero, g->items, g->profit);
		}
		if (s->groups_found > s->ngroups)
			printf("(%d more memory cgroups with KSM pages)\n",
			       s->groups_found - s->ngroups);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ksmstat [-i SECONDS] [-n COUNT] [--once] [--json] [-p PID] [-t TOP]\n"
		"  -i, --interval SECONDS  time between samples (default 2)\n"
		"  -n, --count COUNT       stop after COUNT samples\n"
		"  -1, --once              one sample, no screen clearing\n"
		"  -j, --json              one JSON object per sample and line\n"
		"  -p, --pid PID           only this process\n"
		"  -t, --top TOP           processes shown (default 10)\n");
}

/* @arg as a whole number from @lo to @hi into @v: false if it is not. */
static bool parse_num(const char *arg, long long lo, long long hi, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(arg, &end, 10);
	return *arg && !*end && !errno && *v >= lo && *v <= hi;
}

/* Everything printed so far reached stdout: else say so. */
static bool flushed(void)
{
	if (!fflush(stdout) && !ferror(stdout))
		return true;
	fprintf(stderr, "ksmstat: cannot write the output: %s\n",
		strerror(errno ? errno : EIO));
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct sample *cur = calloc(1, sizeof(*cur)), *prev = calloc(1, sizeof(*prev)), *tmp;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	struct timespec pause;
	double interval = 2, spark[SPARK], last_change = -1, age;
	long long count = -1, last_scans = -1, n, v;
	int opt, top = 10, only = 0, nspark = 0;
	bool json = false, once = false, clear;
	unsigned long long only_start = 0;
	struct pstat ps;
	char *end;

	while ((opt = getopt_long(argc, argv, "i:n:1jp:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			errno = 0;
			interval = strtod(optarg, &end);
			/* As written: NaN fails both tests. */
			if (!*optarg || *end || errno ||
			    !(interval >= MIN_INTERVAL && interval <= MAX_INTERVAL)) {
				fprintf(stderr,
					"ksmstat: bad interval '%s': seconds, from %g to %g\n",
					optarg, MIN_INTERVAL, MAX_INTERVAL);
				return 2;
			}
			break;
		case 'n':
			if (!parse_num(optarg, 1, LLONG_MAX, &count)) {
				fprintf(stderr, "ksmstat: bad count '%s'\n", optarg);
				return 2;
			}
			break;
		case '1':
			once = true;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			if (!parse_num(optarg, 1, INT_MAX, &v)) {
				fprintf(stderr, "ksmstat: bad pid '%s'\n", optarg);
				return 2;
			}
			only = v;
			break;
		case 't':
			if (!parse_num(optarg, 0, MAX_TOP, &v)) {
				fprintf(stderr, "ksmstat: top must be 0 to %d\n", MAX_TOP);
				return 2;
			}
			top = v;
			break;
		case 'h':
			usage(stdout);
			return flushed() ? 0 : 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !cur || !prev) {
		usage(stderr);
		return 2;
	}
	if (access(KSM_DIR "run", R_OK)) {
		fprintf(stderr, "ksmstat: no %s: this kernel has no KSM (CONFIG_KSM)\n",
			KSM_DIR);
		return 1;
	}
	/* Its start time tells it from a process given its pid later. */
	if (only) {
		if (!read_pstat(only, &ps) || !alive(only, 0)) {
			fprintf(stderr, "ksmstat: no process %d\n", only);
			return 1;
		}
		only_start = ps.start;
	}
	page_size = sysconf(_SC_PAGESIZE);
	ticks_per_s = sysconf(_SC_CLK_TCK);
	if (once)
		count = 1;
	/*
	 * Blocked but while sleeping (pselect()), so that a signal that comes
	 * between the test of interrupted and the sleep still ends the sleep.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clear = !json && !once && isatty(STDOUT_FILENO);

	for (n = 0; (count < 0 || n < count) && !interrupted; n++) {
		take_sample(cur, top, only);
		if (only && !alive(only, only_start)) {
			flushed();
			fprintf(stderr, "ksmstat: process %d has exited\n", only);
			return 1;
		}
		/* run = 2 sets full_scans back to 0: no scan ended then. */
		if (counter(cur, "full_scans") < last_scans)
			last_change = -1;
		else if (counter(cur, "full_scans") != last_scans && last_scans >= 0)
			last_change = cur->t;
		last_scans = counter(cur, "full_scans");
		age = last_change >= 0 ? cur->t - last_change : -1;
		if (nspark == SPARK)
			memmove(spark, spark + 1, --nspark * sizeof(spark[0]));
		spark[nspark++] = saved_mib(cur);
		if (json)
			print_json(cur, n ? prev : NULL, age);
		else
			print_text(cur, n ? prev : NULL, age, spark, nspark, clear);
		if (!flushed())
			return 1;
		/* With --json, on stderr: stdout stays JSON. */
		if (!n && knob(cur, "run") != 1)
			fprintf(json ? stderr : stdout,
				"%sksmstat: ksmd is %s (/sys/kernel/mm/ksm/run is %lld): nothing will merge\n",
				json ? "" : "\n", run_state(knob(cur, "run")),
				knob(cur, "run"));
		tmp = prev;
		prev = cur;
		cur = tmp;
		if ((count < 0 || n + 1 < count) && !interrupted) {
			if (!json && !clear)
				printf("\n");
			pause.tv_sec = (time_t)interval;
			pause.tv_nsec = (long)((interval - pause.tv_sec) * 1e9);
			if (pselect(0, NULL, NULL, NULL, &pause, &unblocked) &&
			    errno != EINTR) {
				perror("ksmstat: pselect");
				return 1;
			}
		}
	}
	return flushed() ? 0 : 1;
}
