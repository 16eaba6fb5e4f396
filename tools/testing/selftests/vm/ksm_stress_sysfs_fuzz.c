// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzzer of /sys/kernel/mm/ksm, while KSM merges.
 *
 * Every file of the directory is found by readdir().  The knobs (run,
 * pages_to_scan, sleep_millisecs, merge_across_nodes, max_page_sharing,
 * stable_node_chains_prune_millisecs, use_zero_pages) get random writes:
 * valid values, numbers with signs, leading zeros, whitespace, hex, trailing
 * garbage, embedded NULs, digit strings too long for any type or for a
 * page, kstrtobool() words, random bytes, lengths from 0 to beyond a page,
 * several open flags, pwrite() at an offset, writev() in pieces, and
 * buffers that fault.  The outcome of each write is predicted by a model of
 * Linux 6.1's parsing (below) and checked:
 *  - the sysfs core hands the knob at most one page, cut at the first NUL,
 *    and a write of 0 bytes never reaches it (returns 0);
 *  - a buffer that faults within that page is EFAULT;
 *  - run, pages_to_scan, sleep_millisecs and the prune interval take
 *    kstrtouint() (any failure EINVAL), run only 0..2;
 *  - merge_across_nodes takes kstrtoul(), passing its EINVAL or ERANGE on,
 *    and EINVAL above 1; max_page_sharing takes kstrtoint(), passing its
 *    error on, and EINVAL below 2; both fail with EBUSY instead of changing
 *    while KSM pages exist: EBUSY is required when ksmd is stopped (run=0)
 *    and pages_shared is still non-zero after the write, success when all is
 *    unmerged (run=2);
 *  - use_zero_pages and smart_scan take kstrtobool(), any failure EINVAL;
 *  - the advisor's numbers take kstrtoul(), any failure or a value out of
 *    range EINVAL (advisor_max_cpu 1..100, the others from 1; the rate
 *    bounds each on its own, crossed or not); advisor_mode takes "none" or
 *    "scan-time" (one newline may follow), reads "[none] scan-time" or
 *    "none [scan-time]", and once set to scan-time is put back to none
 *    at once, which must give pages_to_scan 100;
 *  - general_profit is a signed number;
 *  - an accepted write returns what the core passed on and the file then
 *    reads the parsed value; a refused one leaves the value as it was (run=2
 *    may fail only with ENOMEM or EINTR, and then reads 0);
 *  - no knob changes between writes.
 * The counters (every other file, mode 0444) cannot be opened for writing,
 * even by root (EACCES; EPERM and EIO are taken too).  Reads in random
 * pieces and at offsets give the same text as a whole read.  Once a second
 * a child at uid/gid 65534 reads every file (which must work) and tries to
 * open each for writing in several ways (EACCES every time; no value may
 * change).  Sane values (pages_to_scan, sleep_millisecs, run=1) are put
 * back every 400 ms, and the fuzzer never lets ksmd run with a huge
 * pages_to_scan.
 * Meanwhile two processes keep 256 mergeable pages each, of a few contents
 * (zero pages among them), each with two writer threads that own half of
 * the pages: a thread rewrites random pages of its half, checking each
 * right before it rewrites it, and checks its whole half twice a second.
 *
 * At the end the knobs are made sane and known: pages_to_scan 2000,
 * sleep_millisecs 0, run=2 (so that the knobs below can change),
 * max_page_sharing back to its value before the test, merge_across_nodes 1
 * and merge_domain global where they exist, use_zero_pages as the fuzzing
 * left it (read), then run=1.  The workers then stop their threads,
 * rewrite every page once with its content (checked first: a page of
 * zeroes that mapped the zero page, or a KSM page, becomes a private page
 * again, so nothing of the fuzzing's history is left), report how many
 * pages of each content they hold and wait.  With n_k pages of content k
 * over both workers, KSM must reach, and keep for two full scans:
 *    pages_shared + pages_sharing = sum of n_k over the k with n_k >= 2,
 *    pages_unshared = the number of k with n_k = 1,
 *    pages_volatile = 0,
 * the pages of zeroes left out of both when use_zero_pages is 1: they map
 * the zero page, and ksm_zero_pages (where it exists) must then be their
 * number, else 0.  A content whose n_k is 1 more than a multiple of
 * max_page_sharing could end with every KSM page of its chain full and one
 * page unshared, or in a KSM page of its own: the parent maps one more
 * mergeable page of it, so that the figure is exact either way.  Then
 * every page must still hold what it should.
 *
 * Usage: ksm_stress_sysfs_fuzz [-t SECONDS] [-s SEED]
 *
 * The lab's stress suite - suite: stress; limit: 240s; long: 120s
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sys/uio.h>
#include "ksm_util.h"
#include "ksm_stress.h"

#define DEFAULT_SECS	20
#define NWORKERS	2
#define WORKER_PAGES	256
#define NKEYS		6
#define SANE_MS		400
#define NONROOT_MS	1000
#define SCAN_CAP	20000	/* larger pages_to_scan only with ksmd stopped */
#define MAX_FILES	64
#define MAX_REPORTS	20
#define INBUF		(3 * 4096 + 256)
#define NWRITERS	2	/* threads per worker, each owning a share */
#define HOLD_MS		60000	/* for the workers to stop and report */
#define EXIT_MS		(KSM_TIMEOUT_MS + 120000)	/* for the parent's go */

enum parser {
	P_COUNTER,	/* read only */
	P_RUN,		/* kstrtouint, 0..2, any error EINVAL */
	P_UINT,		/* kstrtouint, any error EINVAL */
	P_ULONG_FLAG,	/* kstrtoul, its error passed on, 0..1 */
	P_BOOL,		/* kstrtobool, any error EINVAL */
	P_INT_MIN2,	/* kstrtoint, its error passed on, >= 2 */
	P_RANGE,	/* kstrtoul, any error or out of [min, max] EINVAL */
	P_MODE,		/* advisor_mode: "none" 0 or "scan-time" 1 */
	P_DOMAIN,	/* merge_domain: "global" 0, "memcg" 1, "user" 2 */
	P_SIGNED,	/* a counter that may be negative (general_profit) */
	P_UNKNOWN,	/* a writable file this program does not know */
};

/* merge_domain's words, and how it reads with each in force. */
static const char * const domains[] = { "global", "memcg", "user" };
static const char * const domain_reads[] = {
	"[global] memcg user\n", "global [memcg] user\n", "global memcg [user]\n",
};

struct file {
	char name[64];
	enum parser p;
	bool writable;		/* mode has a write bit */
	bool busy;		/* EBUSY while KSM pages exist */
	unsigned long min, max;	/* P_RANGE */
	unsigned long val;	/* knobs: the value it must read */
	/* figures */
	unsigned long writes, accepted, einval, erange, ebusy, efault, empty;
};

enum phase { PH_RUN, PH_HOLD, PH_EXIT };

struct control {
	int phase;		/* enum phase, set by the parent */
	int held[NWORKERS];	/* the worker stopped writing and reported */
	unsigned long keys[NWORKERS][NKEYS + 1];	/* its pages per key index */
	unsigned long rewrites[NWORKERS];
};

static struct file files[MAX_FILES];
static unsigned int nfiles;
static struct control *ctl;
static unsigned long long rng;
static unsigned long abi_bad, counter_bad, read_bad, nonroot_bad, nonroot_rounds;
static unsigned long reads, counter_writes, unmerge_failures;
static char *guard;	/* a page followed by a PROT_NONE page */
static char inbuf[INBUF];
static long long run_stopped_at;	/* when run last became 0 */

static unsigned long long rnd(void)
{
	return ksm_rand(&rng);
}

static unsigned long long below(unsigned long long n)
{
	return ksm_rand_below(&rng, n);
}

/* ---------------------------------------------------------------------- */
/* The model of Linux 6.1's parsing.                                      */
/* ---------------------------------------------------------------------- */

/* _kstrtoull(), base 10: no sign; one '\n' may end the number. */
static int m_kstrtoull_nosign(const char *s, unsigned long long *res)
{
	unsigned long long v = 0;
	bool overflow = false;
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++, n++) {
		unsigned int d = *s - '0';

		if (v > (ULLONG_MAX - d) / 10)
			overflow = true;
		v = v * 10 + d;
	}
	if (overflow)
		return -ERANGE;
	if (!n)
		return -EINVAL;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*res = v;
	return 0;
}

static int m_kstrtoull(const char *s, unsigned long long *res)
{
	if (*s == '+')
		s++;
	return m_kstrtoull_nosign(s, res);
}

static int m_kstrtouint(const char *s, unsigned long long *res)
{
	int err = m_kstrtoull(s, res);

	if (!err && *res > UINT_MAX)
		return -ERANGE;
	return err;
}

static int m_kstrtoint(const char *s, long long *res)
{
	unsigned long long v;
	int err;

	if (*s == '-') {
		err = m_kstrtoull_nosign(s + 1, &v);
		if (err)
			return err;
		if (v > (1ULL << 63))
			return -ERANGE;
		*res = -(long long)(v - 1) - 1;
	} else {
		err = m_kstrtoull(s, &v);
		if (err)
			return err;
		if (v > LLONG_MAX)
			return -ERANGE;
		*res = v;
	}
	if (*res < INT_MIN || *res > INT_MAX)
		return -ERANGE;
	return 0;
}

static int m_kstrtobool(const char *s, unsigned long long *res)
{
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*res = 1;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*res = 0;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*res = 1;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*res = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * What a knob's store does with the string @s: 0 and the new value in
 * *@val, or -errno.  (EBUSY is decided by the caller.)
 */
static int m_parse(const struct file *f, const char *s, unsigned long *val)
{
	unsigned long long v = 0;
	long long i;
	int err;

	switch (f->p) {
	case P_RUN:
		if (m_kstrtouint(s, &v) || v > 2)
			return -EINVAL;
		break;
	case P_UINT:
		if (m_kstrtouint(s, &v))
			return -EINVAL;
		break;
	case P_ULONG_FLAG:
		err = m_kstrtoull(s, &v);
		if (err)
			return err;
		if (v > 1)
			return -EINVAL;
		break;
	case P_BOOL:
		if (m_kstrtobool(s, &v))
			return -EINVAL;
		break;
	case P_INT_MIN2:
		err = m_kstrtoint(s, &i);
		if (err)
			return err;
		if (i < 2)
			return -EINVAL;
		v = i;
		break;
	case P_RANGE:
		if (m_kstrtoull(s, &v) || v < f->min || v > f->max)
			return -EINVAL;
		break;
	case P_MODE:
		if (!strcmp(s, "none") || !strcmp(s, "none\n"))
			v = 0;
		else if (!strcmp(s, "scan-time") || !strcmp(s, "scan-time\n"))
			v = 1;
		else
			return -EINVAL;
		break;
	case P_DOMAIN:
		for (v = 0; v < ARRAY_SIZE(domains); v++)
			if (!strcmp(s, domains[v]) ||
			    (!strncmp(s, domains[v], strlen(domains[v])) &&
			     !strcmp(s + strlen(domains[v]), "\n")))
				break;
		if (v == ARRAY_SIZE(domains))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	*val = v;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Files.                                                                 */
/* ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	enum parser p;
	bool busy;
	unsigned long min, max;		/* P_RANGE */
	bool newer;			/* not in 6.1: may be absent */
} known[] = {
	{ "run", P_RUN, false, 0, 0, false },
	{ "pages_to_scan", P_UINT, false, 0, 0, false },
	{ "sleep_millisecs", P_UINT, false, 0, 0, false },
	{ "stable_node_chains_prune_millisecs", P_UINT, false, 0, 0, false },
	{ "merge_across_nodes", P_ULONG_FLAG, true, 0, 0, false },
	{ "max_page_sharing", P_INT_MIN2, true, 0, 0, false },
	{ "use_zero_pages", P_BOOL, false, 0, 0, false },
	{ "smart_scan", P_BOOL, false, 0, 0, true },
	{ "advisor_mode", P_MODE, false, 0, 0, true },
	{ "merge_domain", P_DOMAIN, true, 0, 0, true },
	{ "advisor_max_cpu", P_RANGE, false, 1, 100, true },
	{ "advisor_min_pages_to_scan", P_RANGE, false, 1, UINT_MAX, true },
	{ "advisor_max_pages_to_scan", P_RANGE, false, 1, UINT_MAX, true },
	{ "advisor_target_scan_time", P_RANGE, false, 1, UINT_MAX, true },
	{ "general_profit", P_SIGNED, false, 0, 0, true },
	{ "pages_shared", P_COUNTER, false, 0, 0, false },
	{ "pages_sharing", P_COUNTER, false, 0, 0, false },
	{ "pages_unshared", P_COUNTER, false, 0, 0, false },
	{ "pages_volatile", P_COUNTER, false, 0, 0, false },
	{ "full_scans", P_COUNTER, false, 0, 0, false },
	{ "stable_node_chains", P_COUNTER, false, 0, 0, false },
	{ "stable_node_dups", P_COUNTER, false, 0, 0, false },
};

static struct file *file_named(const char *name)
{
	unsigned int i;

	for (i = 0; i < nfiles; i++)
		if (!strcmp(files[i].name, name))
			return &files[i];
	return NULL;
}

static bool is_knob(const struct file *f)
{
	return f->p != P_COUNTER && f->p != P_SIGNED && f->p != P_UNKNOWN;
}

/* Read the whole file in one read(2): its length, or -errno. */
static long read_text(const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(ksm_path(name), O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* "<decimal>\n" and nothing else? */
static bool parse_decimal(const char *buf, unsigned long *val)
{
	char *end;

	if (*buf < '0' || *buf > '9')
		return false;
	errno = 0;
	*val = strtoul(buf, &end, 10);
	return !errno && end[0] == '\n' && !end[1];
}

/* What @f reads as, in the form its kind has: true if it has that form. */
static bool parse_value(const struct file *f, const char *buf,
			unsigned long *val)
{
	switch (f->p) {
	case P_MODE:
		*val = !strcmp(buf, "none [scan-time]\n");
		return *val || !strcmp(buf, "[none] scan-time\n");
	case P_DOMAIN:
		for (*val = 0; *val < ARRAY_SIZE(domain_reads); ++*val)
			if (!strcmp(buf, domain_reads[*val]))
				return true;
		return false;
	case P_SIGNED:
		return parse_decimal(buf + (*buf == '-'), val);
	default:
		return parse_decimal(buf, val);
	}
}

static unsigned long knob_read(const struct file *f)
{
	unsigned long v;
	char buf[64];
	long n = read_text(f->name, buf, sizeof(buf));

	if (n < 0 || !parse_value(f, buf, &v))
		ksft_exit_fail_msg("%s: unreadable (%s)\n", f->name,
				   n < 0 ? strerror(-n) : "not in its form");
	return v;
}

static void find_files(void)
{
	struct dirent *d;
	struct stat st;
	unsigned int i;
	DIR *dir = opendir(KSM_SYSFS_DIR);

	if (!dir)
		ksft_exit_fail_msg("opendir %s: %s\n", KSM_SYSFS_DIR, strerror(errno));
	while ((d = readdir(dir))) {
		struct file *f;

		if (d->d_name[0] == '.')
			continue;
		if (nfiles == MAX_FILES || strlen(d->d_name) >= sizeof(f->name))
			ksft_exit_fail_msg("too many files or too long a name: %s\n",
					   d->d_name);
		f = &files[nfiles++];
		strcpy(f->name, d->d_name);
		if (stat(ksm_path(f->name), &st))
			ksft_exit_fail_msg("stat %s: %s\n", f->name, strerror(errno));
		f->writable = st.st_mode & 0222;
		f->p = f->writable ? P_UNKNOWN : P_COUNTER;
		for (i = 0; i < ARRAY_SIZE(known); i++) {
			if (strcmp(known[i].name, f->name))
				continue;
			f->p = known[i].p;
			f->busy = known[i].busy;
			f->min = known[i].min;
			f->max = known[i].max;
		}
		/* A known file must have the mode its kind has. */
		if (f->p != P_UNKNOWN && is_knob(f) != f->writable)
			ksft_exit_fail_msg("%s: mode %04o\n", f->name, st.st_mode & 07777);
		if (f->p == P_UNKNOWN)
			ksft_print_msg("%s: writable, unknown here: only read\n", f->name);
	}
	closedir(dir);
	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (!file_named(known[i].name) && !known[i].newer &&
		    strcmp(known[i].name, "merge_across_nodes"))
			ksft_exit_fail_msg("no %s\n", known[i].name);
	if (!file_named("advisor_min_pages_to_scan") !=
	    !file_named("advisor_max_pages_to_scan"))
		ksft_exit_fail_msg("one advisor bound without the other\n");
}

/* ---------------------------------------------------------------------- */
/* Inputs.                                                                */
/* ---------------------------------------------------------------------- */

enum how { H_WRITE, H_PWRITE, H_WRITEV, H_FAULT_PART, H_FAULT_BAD };

struct input {
	const char *buf;
	size_t len;
	enum how how;
	int flags;		/* open flags */
	off_t off;
	unsigned long bad;	/* H_FAULT_BAD: the address written from */
};

static const unsigned long long edges[] = {
	0, 1, 2, 3, 100, INT_MAX, (unsigned long long)INT_MAX + 1,
	UINT_MAX, (unsigned long long)UINT_MAX + 1, LLONG_MAX,
	(unsigned long long)LLONG_MAX + 1, ULLONG_MAX - 1, ULLONG_MAX,
};

static const char * const words[] = {
	"y", "Y", "yes", "n", "N", "no", "on", "ON", "oN", "off", "OFF", "of",
	"o", "O", "true", "false", "t", "f", "T", "F", "1", "0", "10", "01",
	"on\n", "off\n", "y\n", "nope", "x", "-", "+", "",
};

static const char * const oddities[] = {
	"", "\n", "\n\n", " ", "\t", "+", "-", "+\n", "-\n", "--1", "+-1", "-+1",
	"++1", "0x10", "0X1", "0x", "1e3", "1.0", "1,0", "0b1", "017", "-0",
	"-0\n", "+0", "1\r\n", "\r", "1 1", "\xd9\xa1", "\xff", "5\\n",
};

static size_t put(char *p, size_t room, const char *s)
{
	size_t n = strlen(s);

	if (n > room)
		n = room;
	memcpy(p, s, n);
	return n;
}

/* A number as text: edges, random, in the knob's range; signs, zeros. */
static size_t gen_number(char *p, size_t room, const struct file *f)
{
	unsigned long long v;
	size_t n = 0;
	char tmp[48];

	switch (below(4)) {
	case 0:
		v = edges[below(ARRAY_SIZE(edges))];
		if (below(2))
			v += below(5) - 2;
		break;
	case 1:
		v = rnd() >> below(64);
		break;
	case 2:
		v = f->p == P_RUN || f->p == P_ULONG_FLAG || f->p == P_BOOL ?
			below(4) : below(5000);
		break;
	default:
		v = below(20);
	}
	switch (below(10)) {
	case 0:
		n += put(p + n, room - n, "+");
		break;
	case 1:
	case 2:
		n += put(p + n, room - n, "-");
		break;
	}
	if (!below(8)) {
		unsigned int z = 1 + below(30);

		while (z-- && n < room)
			p[n++] = '0';
	}
	snprintf(tmp, sizeof(tmp), "%llu", v);
	return n + put(p + n, room - n, tmp);
}

struct piece {
	const char *s;
	unsigned int len;	/* may hold NULs */
};

#define PIECE(x)	{ x, sizeof(x) - 1 }

static const struct piece before[] = {
	PIECE(" "), PIECE("\t"), PIECE("\n"), PIECE("0x"), PIECE("+"), PIECE("\0"),
	PIECE("\0005"),
};

static const struct piece after[] = {
	PIECE("\n"), PIECE("\n\n"), PIECE(" "), PIECE("\t"), PIECE("\r\n"),
	PIECE("x"), PIECE("\0garbage"), PIECE("\n\0junk"), PIECE("\n "),
	PIECE("abc"), PIECE("0x"), PIECE(".5"), PIECE("k"), PIECE("\0"),
	PIECE("\n\0"), PIECE("\0\n"),
};

static size_t put_piece(char *p, const struct piece *pc)
{
	memcpy(p, pc->s, pc->len);
	return pc->len;
}

/* Fill inbuf with one input for @f; returns its natural length. */
static size_t gen_text(const struct file *f)
{
	static const char charset[] = "0123456789+-xX\n\t abcdefyYnNoO";
	size_t n = 0, room = INBUF - 1, i, len;
	unsigned long v;

	switch (below(20)) {
	case 0 ... 5:	/* a valid value, as a script would write it */
		if (f->p == P_MODE)
			return put(inbuf, room, below(2) ? "none\n" : "scan-time");
		if (f->p == P_DOMAIN)
			return put(inbuf, room, domains[below(ARRAY_SIZE(domains))]);
		switch (f->p) {
		case P_RUN:
			v = below(3);
			break;
		case P_ULONG_FLAG:
		case P_BOOL:
			v = below(2);
			break;
		case P_INT_MIN2:
			v = 2 + below(below(2) ? 1000 : INT_MAX - 1);
			break;
		default:
			v = below(4) ? below(2000) : (unsigned int)rnd();
		}
		if (!below(6))
			n += put(inbuf, room, "+");
		n += snprintf(inbuf + n, room - n, "%lu", v);
		if (below(2))
			inbuf[n++] = '\n';
		return n;
	case 6 ... 10:	/* a number, maybe decorated */
		if (!below(4))
			n += put_piece(inbuf, &before[below(ARRAY_SIZE(before))]);
		n += gen_number(inbuf + n, 64, f);
		if (below(2))
			n += put_piece(inbuf + n, &after[below(ARRAY_SIZE(after))]);
		return n;
	case 11 ... 12:	/* random bytes, any length up to beyond a page */
		len = below(3) ? below(64) : below(2 * 4096 + 100);
		for (i = 0; i < len; i++)
			inbuf[i] = rnd();
		return len;
	case 13 ... 14:	/* long digit strings: overflow, or cut by the page */
		len = 20 + below(below(2) ? 40 : 6000);
		for (i = 0; i < len; i++)
			inbuf[i] = below(3) ? '0' : '0' + below(10);
		if (below(2))
			memset(inbuf, '0', len - 1);
		if (below(3))
			inbuf[len++] = '\n';
		return len;
	case 15 ... 16:
		return put(inbuf, room, words[below(ARRAY_SIZE(words))]);
	case 17 ... 18:
		return put(inbuf, room, oddities[below(ARRAY_SIZE(oddities))]);
	default:	/* short strings of the characters parsers care about */
		len = 1 + below(16);
		for (i = 0; i < len; i++)
			inbuf[i] = charset[below(sizeof(charset) - 1)];
		return len;
	}
}

static void gen_input(const struct file *f, struct input *in)
{
	static const int oflags[] = {
		O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC | O_CREAT, O_WRONLY | O_APPEND,
	};
	size_t len = gen_text(f), i;

	/* What follows the text: garbage the length may take in. */
	for (i = len; i < len + 64 && i < INBUF; i++)
		inbuf[i] = below(2) ? '\0' : rnd();
	if (!below(10)) {
		if (below(2) && len)
			len = below(len);
		else
			len += below(64);
	}
	if (len > INBUF)
		len = INBUF;
	in->buf = inbuf;
	in->len = len;
	in->flags = oflags[below(4) ? 0 : below(ARRAY_SIZE(oflags))];
	in->off = 0;
	switch (below(40)) {
	case 0 ... 3:
		in->how = H_PWRITE;
		in->off = below(2) ? below(16) : below(1 << 20);
		break;
	case 4 ... 7:
		in->how = H_WRITEV;
		break;
	case 8:
		/* Unmapped user memory, or kernel memory: access_ok() fails. */
		in->how = H_FAULT_BAD;
		in->bad = below(2) ? 8UL : 0xffff888000000000UL;
		break;
	case 9:
		/* The text ends at the PROT_NONE page, or runs into it. */
		in->how = H_FAULT_PART;
		if (in->len > 4096)
			in->len = 4096 + below(200);
		break;
	default:
		in->how = H_WRITE;
	}
}

static const char *show(const char *s, size_t len)
{
	static char out[160];
	size_t i, n = 0;

	for (i = 0; i < len && n < sizeof(out) - 8; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[n++] = c;
		else
			n += snprintf(out + n, sizeof(out) - n, "\\x%02x", c);
	}
	if (i < len)
		n += snprintf(out + n, sizeof(out) - n, "...");
	out[n] = '\0';
	return out;
}

static const char * const hows[] = { "write", "pwrite", "writev", "fault-part", "fault-bad" };

/* Do the write: what write(2) returned, or -errno. */
static long do_write(const struct file *f, const struct input *in)
{
	struct iovec iov[3];
	size_t cut1, cut2;
	long ret;
	int fd;

	fd = open(ksm_path(f->name), in->flags, 0644);
	if (fd < 0)
		return -errno;
	switch (in->how) {
	case H_PWRITE:
		ret = pwrite(fd, in->buf, in->len, in->off);
		break;
	case H_WRITEV:
		cut1 = in->len ? below(in->len + 1) : 0;
		cut2 = cut1 + below(in->len - cut1 + 1);
		iov[0].iov_base = (void *)in->buf;
		iov[0].iov_len = cut1;
		iov[1].iov_base = (void *)(in->buf + cut1);
		iov[1].iov_len = cut2 - cut1;
		iov[2].iov_base = (void *)(in->buf + cut2);
		iov[2].iov_len = in->len - cut2;
		ret = writev(fd, iov, 3);
		break;
	case H_FAULT_BAD:
		ret = write(fd, (void *)in->bad, in->len);
		break;
	default:
		ret = write(fd, in->buf, in->len);
	}
	if (ret < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* The checked write.                                                     */
/* ---------------------------------------------------------------------- */

static struct file *f_run, *f_scan, *f_sleep, *f_mode;

/*
 * Count a write that went otherwise than the model says; print the first
 * few of each kind (@kind: the check and the errnos involved).
 */
static void report(const struct file *f, const struct input *in, int kind,
		   const char *fmt, ...)
{
	static struct {
		const struct file *f;
		int kind;
		unsigned int n;
	} kinds[32];
	unsigned int i;
	va_list ap;

	abi_bad++;
	for (i = 0; i < ARRAY_SIZE(kinds) && kinds[i].f; i++)
		if (kinds[i].f == f && kinds[i].kind == kind)
			break;
	if (i == ARRAY_SIZE(kinds) || kinds[i].n++ >= 3)
		return;
	kinds[i].f = f;
	kinds[i].kind = kind;
	printf("# %s <- \"%s\" (len %zu, %s, flags %#x): ", f->name,
	       show(in->buf, in->len < 48 ? in->len : 48), in->len, hows[in->how],
	       in->flags);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

#define KIND(check, got, want)	((check) << 16 | -(got) << 8 | -(want))

/*
 * Write @in to knob @f and check the outcome against the model.  The text
 * must be in @in->buf (for H_FAULT_PART it is copied to the guard page).
 */
static void knob_write(struct file *f, struct input *in)
{
	unsigned long before, after, want = 0, shared_before, shared_after;
	size_t seen = in->len < 4096 ? in->len : 4096;
	int want_err = 0, got_err;
	bool fault = false, busy_ok = false, busy_must = false;
	char kbuf[4097];
	long ret;

	if (in->how == H_FAULT_PART) {
		/* The text ends at byte 4096 of the guard area, or crosses it. */
		size_t valid = in->len > 4096 ? 4096 : in->len;

		if (valid && valid == in->len && below(2))
			valid -= below(valid);

		memcpy(guard + 4096 - valid, in->buf, valid);
		in->buf = guard + 4096 - valid;
		fault = valid < seen;
	}
	if (in->how == H_FAULT_BAD)
		fault = true;

	/* The model. */
	memcpy(kbuf, in->buf, fault ? 0 : seen);
	kbuf[fault ? 0 : seen] = '\0';
	if (in->how == H_FAULT_BAD && in->bad >= (1UL << 47))
		want_err = -EFAULT;	/* even for 0 bytes */
	else if (!in->len)
		want_err = 0;
	else if (fault)
		want_err = -EFAULT;
	else
		want_err = m_parse(f, kbuf, &want);

	/* Never let ksmd run with a huge budget. */
	if (!want_err && in->len && f == f_scan && want > SCAN_CAP && f_run->val == 1) {
		struct input in0 = { .buf = "0", .len = 1, .how = H_WRITE, .flags = O_WRONLY };

		knob_write(f_run, &in0);
	}
	if (!want_err && in->len && f == f_run && want == 1 && f_scan->val > SCAN_CAP) {
		struct input sane = {
			.buf = "1000\n", .len = 5, .how = H_WRITE, .flags = O_WRONLY
		};

		knob_write(f_scan, &sane);
	}

	before = knob_read(f);
	if (before != f->val)
		report(f, in, KIND(1, 0, 0), "changed by itself: %lu, last written %lu\n",
		       before, f->val);
	shared_before = ksm_read("pages_shared");
	if (f->busy && !want_err && in->len && want != before) {
		/*
		 * EBUSY is right while KSM pages exist, and required when
		 * ksmd has been stopped a while and some exist before and
		 * after the write; after run=2 there are none.
		 */
		busy_ok = f_run->val != 2;
		busy_must = f_run->val == 0 && shared_before &&
			    ksm_now_ms() - run_stopped_at > 200;
	}

	ret = do_write(f, in);
	after = knob_read(f);
	shared_after = ksm_read("pages_shared");
	f->writes++;
	ksm_stress_ops(1);
	got_err = ret < 0 ? ret : 0;
	if (f == f_run && after == 0 && before != 0)
		run_stopped_at = ksm_now_ms();
	if (busy_must && !shared_after)
		busy_must = false;	/* they may have gone just before the write */

	if (got_err == -EBUSY && busy_ok) {
		f->ebusy++;
		if (after != before)
			report(f, in, KIND(2, 0, 0), "EBUSY, value %lu -> %lu\n", before, after);
		if (!shared_before && !shared_after && f_run->val == 0)
			ksft_print_msg("%s: EBUSY with pages_shared 0 before and after\n",
				       f->name);
		f->val = after;
		return;
	}
	if (busy_must && !got_err) {
		report(f, in, KIND(3, 0, 0), "accepted %lu -> %lu, not EBUSY (run 0, shared %lu)\n",
		       before, after, shared_after);
		f->val = after;
		return;
	}
	if (f == f_run && want == 2 && before != 2 && !want_err &&
	    (got_err == -ENOMEM || got_err == -EINTR)) {
		/* Unmerging may fail: run then reads 0. */
		unmerge_failures++;
		ksft_print_msg("run=2: %s (tolerated), run reads %lu\n",
			       strerror(-got_err), after);
		if (after != 0)
			report(f, in, KIND(4, 0, 0), "failed run=2 left run %lu, want 0\n", after);
		f->val = after;
		return;
	}
	if (got_err != want_err) {
		report(f, in, KIND(5, got_err, want_err), "%s, want %s; value %lu -> %lu\n",
		       got_err ? strerror(-got_err) : "accepted",
		       want_err ? strerror(-want_err) : "accepted", before, after);
	} else if (!got_err && in->len && ret != (long)seen) {
		report(f, in, KIND(6, 0, 0), "returned %ld, want %zu\n", ret, seen);
	} else if (!got_err && in->len && after != want) {
		report(f, in, KIND(7, 0, 0), "accepted, reads %lu, want %lu\n", after, want);
	} else if ((got_err || !in->len) && after != before) {
		report(f, in, KIND(8, got_err, 0), "%s, but value %lu -> %lu\n",
		       got_err ? strerror(-got_err) : "empty write", before, after);
	}
	if (got_err == -EFAULT)
		f->efault++;
	else if (!in->len)
		f->empty++;
	else if (!got_err)
		f->accepted++;
	else if (got_err == -EINVAL)
		f->einval++;
	else if (got_err == -ERANGE)
		f->erange++;
	if (f == f_mode && after == 1) {
		/*
		 * The advisor would move pages_to_scan under the model's
		 * feet: off again at once, which sets pages_to_scan to 100.
		 */
		if (ksm_write_str("advisor_mode", "none"))
			report(f, in, KIND(9, 0, 0), "cannot switch the advisor off\n");
		after = knob_read(f);
		f_scan->val = knob_read(f_scan);
		if (after != 0 || f_scan->val != 100)
			report(f, in, KIND(10, 0, 0), "advisor off: mode %lu, pages_to_scan %lu, want 0, 100\n",
			       after, f_scan->val);
	}
	f->val = after;
}

static void set_text(struct file *f, const char *s)
{
	struct input in = { .buf = s, .len = strlen(s), .how = H_WRITE, .flags = O_WRONLY };

	if (f)
		knob_write(f, &in);
}

static void sane(void)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", 100 + below(1900));
	set_text(f_scan, buf);
	snprintf(buf, sizeof(buf), "%llu", below(20));
	set_text(f_sleep, buf);
	set_text(f_run, "1");
}

/* Root opens a counter for writing: refused, whatever the input. */
static void counter_write(struct file *f, struct input *in)
{
	long ret = do_write(f, in);

	counter_writes++;
	ksm_stress_ops(1);
	if (ret == -EACCES || ret == -EPERM || ret == -EIO)
		return;
	if (counter_bad++ < MAX_REPORTS)
		ksft_print_msg("%s (0444) <- \"%s\" as root: %s\n", f->name,
			       show(in->buf, in->len < 32 ? in->len : 32),
			       ret < 0 ? strerror(-ret) : "accepted");
}

/* Read in random pieces, and the tail at an offset: as one read says. */
static void read_pieces(struct file *f)
{
	char whole[256], pieces[256], tail[256];
	size_t got = 0;
	long n, t;
	int fd;

	reads++;
	ksm_stress_ops(1);
	n = read_text(f->name, whole, sizeof(whole));
	fd = open(ksm_path(f->name), O_RDONLY);
	if (n < 0 || fd < 0) {
		if (read_bad++ < MAX_REPORTS)
			ksft_print_msg("%s: cannot read\n", f->name);
		if (fd >= 0)
			close(fd);
		return;
	}
	for (;;) {
		ssize_t r = read(fd, pieces + got, 1 + below(6));

		if (r <= 0 || got + r >= sizeof(pieces) - 8)
			break;
		got += r;
	}
	pieces[got] = '\0';
	t = n ? below(n + 2) : 0;
	t = pread(fd, tail, sizeof(tail) - 1, t) >= 0 ? t : -1;
	close(fd);
	/* Knobs do not change meanwhile; counters may, so only the form. */
	if (is_knob(f)) {
		unsigned long v;
		bool ok = parse_value(f, whole, &v) && v == f->val &&
			  !strcmp(whole, pieces);

		if (ok && t >= 0 && t <= n) {
			int fd2 = open(ksm_path(f->name), O_RDONLY);
			ssize_t r = fd2 >= 0 ? pread(fd2, tail, sizeof(tail) - 1, t) : -1;

			if (fd2 >= 0)
				close(fd2);
			ok = r == n - t && !memcmp(tail, whole + t, r);
		}
		if (!ok && read_bad++ < MAX_REPORTS)
			ksft_print_msg("%s: read \"%s\" whole, \"%s\" in pieces, want %lu\n",
				       f->name, show(whole, n), show(pieces, got), f->val);
	} else if (f->p == P_COUNTER || f->p == P_SIGNED) {
		unsigned long v;

		if ((!parse_value(f, whole, &v) || !parse_value(f, pieces, &v)) &&
		    read_bad++ < MAX_REPORTS)
			ksft_print_msg("%s: read \"%s\" whole, \"%s\" in pieces\n",
				       f->name, show(whole, n), show(pieces, got));
	}
}

/* ---------------------------------------------------------------------- */
/* Non-root.                                                              */
/* ---------------------------------------------------------------------- */

static void nonroot_round(void)
{
	static const int oflags[] = {
		O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC, O_WRONLY | O_APPEND,
		O_WRONLY | O_CREAT | O_TRUNC,
	};
	unsigned int i, j;
	pid_t pid;

	nonroot_rounds++;
	pid = ksm_fork();
	if (!pid) {
		int bad = 0, fd;
		char buf[256];
		long n;

		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534)) {
			printf("# cannot become uid 65534: %s\n", strerror(errno));
			_exit(2);
		}
		for (i = 0; i < nfiles; i++) {
			unsigned long v;

			n = read_text(files[i].name, buf, sizeof(buf));
			if (n < 0 || (files[i].p != P_UNKNOWN &&
				      !parse_value(&files[i], buf, &v))) {
				printf("# uid 65534: %s: read %s\n", files[i].name,
				       n < 0 ? strerror(-n) : show(buf, n));
				bad++;
			}
			for (j = 0; j < 3; j++) {
				struct input in;

				gen_input(&files[i], &in);
				fd = open(ksm_path(files[i].name),
					  oflags[below(ARRAY_SIZE(oflags))], 0644);
				if (fd < 0 && errno == EACCES)
					continue;
				printf("# uid 65534: %s opened for writing: %s\n",
				       files[i].name, fd < 0 ? strerror(errno) : "opened");
				bad++;
				if (fd >= 0) {
					n = write(fd, in.buf, in.len);
					printf("# uid 65534: and the write of \"%s\": %s\n",
					       show(in.buf, in.len < 32 ? in.len : 32),
					       n < 0 ? strerror(errno) : "accepted");
					close(fd);
				}
			}
			/* A descriptor opened for reading cannot write. */
			fd = open(ksm_path(files[i].name), O_RDONLY);
			if (fd < 0 || write(fd, "1", 1) != -1 || errno != EBADF) {
				printf("# uid 65534: %s: write on O_RDONLY fd not EBADF\n",
				       files[i].name);
				bad++;
			}
			if (fd >= 0)
				close(fd);
		}
		fflush(stdout);
		_exit(bad ? 1 : 0);
	}
	/* The child has its own generator state: move ours on. */
	rnd();
	if (!ksm_wait_child(pid, "uid 65534"))
		nonroot_bad++;
	for (i = 0; i < nfiles; i++) {
		if (!is_knob(&files[i]))
			continue;
		if (knob_read(&files[i]) != files[i].val) {
			ksft_print_msg("%s: %lu after the uid 65534 round, was %lu\n",
				       files[i].name, knob_read(&files[i]), files[i].val);
			nonroot_bad++;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Workers: mergeable memory under the fuzzing.                           */
/* ---------------------------------------------------------------------- */

/* Keys 0 (a page of zeroes) and 1001..1000 + NKEYS: index 0..NKEYS. */
static unsigned long long key_of(unsigned int idx)
{
	return idx ? 1000 + idx : 0;
}

static unsigned int key_idx(unsigned long long key)
{
	return key ? key - 1000 : 0;
}

static unsigned long long worker_key(unsigned long long *s)
{
	return key_of(ksm_rand_below(s, NKEYS + 1));
}

/* A writer thread of a worker, and the pages it owns. */
struct writer {
	pthread_t thread;
	char *area;
	unsigned long long *keys;	/* the worker's, of every page */
	unsigned int first, n;		/* its pages */
	unsigned long long s;		/* its generator */
	unsigned long writes, bad;
};

/*
 * Rewrite page @p with @key, checking first that it holds keys[@p]: a
 * write lost, or a page KSM got wrong, shows here.  Returns 1 if it did not.
 */
static unsigned int rewrite(struct writer *w, unsigned int p, unsigned long long key,
			    const char *what)
{
	void *page = ksm_page_addr(w->area, p);
	long off = ksm_check_page(page, w->keys[p]);

	ksm_stress_verified(1, off >= 0);
	if (off >= 0 && w->bad++ < 5)
		ksft_print_msg("%s: page %u (%p) differs from key %llu at offset %ld\n",
			       what, p, page, w->keys[p], off);
	w->keys[p] = key;
	ksm_fill_page(page, key);
	w->writes++;
	return off >= 0;
}

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	long long next_check = 0;
	unsigned int i, p;

	while (__atomic_load_n(&ctl->phase, __ATOMIC_ACQUIRE) == PH_RUN) {
		for (i = 0; i < 2; i++) {
			p = w->first + ksm_rand_below(&w->s, w->n);
			rewrite(w, p, worker_key(&w->s), "before its rewrite");
		}
		if (ksm_now_ms() >= next_check) {
			size_t b = ksm_check_pages(ksm_page_addr(w->area, w->first),
						   w->keys + w->first, w->n, "pages");

			ksm_stress_verified(w->n, b);
			w->bad += b;
			next_check = ksm_now_ms() + 500;
		}
		usleep(25000);
	}
	return NULL;
}

/* Wait up to @timeout_ms for the parent to set the phase to @phase or on. */
static bool wait_phase(int phase, long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;

	while (__atomic_load_n(&ctl->phase, __ATOMIC_ACQUIRE) < phase) {
		if (ksm_now_ms() > deadline)
			return false;
		usleep(10000);
	}
	return true;
}

static void worker_process(unsigned int id)
{
	unsigned long long s = ksm_rand_stream(100 + id), keys[WORKER_PAGES];
	struct writer w[NWRITERS];
	unsigned int i, t;
	size_t bad = 0;
	char *area;
	int err;

	for (i = 0; i < WORKER_PAGES; i++)
		keys[i] = worker_key(&s);
	area = ksm_mmap_mergeable(keys, WORKER_PAGES);
	for (t = 0; t < NWRITERS; t++) {
		w[t] = (struct writer) {
			.area = area, .keys = keys,
			.first = t * (WORKER_PAGES / NWRITERS), .n = WORKER_PAGES / NWRITERS,
			.s = ksm_rand_stream(200 + NWRITERS * id + t),
		};
		err = pthread_create(&w[t].thread, NULL, writer_fn, &w[t]);
		if (err) {
			ksft_print_msg("worker %u: pthread_create: %s\n", id, strerror(err));
			_exit(2);
		}
	}
	/* The writers run until the parent says stop and hold. */
	if (!wait_phase(PH_HOLD, ksm_secs * 1000LL + EXIT_MS)) {
		ksft_print_msg("worker %u: never told to stop\n", id);
		_exit(1);
	}
	for (t = 0; t < NWRITERS; t++) {
		pthread_join(w[t].thread, NULL);
		bad += w[t].bad;
		ctl->rewrites[id] += w[t].writes;
	}
	/*
	 * Every page once more, with its content: what KSM has merged, or
	 * mapped to the zero page, under knobs of the fuzzing becomes a
	 * private page again.
	 */
	for (t = 0; t < NWRITERS; t++) {
		w[t].bad = 0;
		for (i = w[t].first; i < w[t].first + w[t].n; i++)
			bad += rewrite(&w[t], i, keys[i], "stopping");
	}
	for (i = 0; i < WORKER_PAGES; i++)
		ctl->keys[id][key_idx(keys[i])]++;
	__atomic_store_n(&ctl->held[id], 1, __ATOMIC_RELEASE);
	if (!wait_phase(PH_EXIT, EXIT_MS)) {
		ksft_print_msg("worker %u: no word from the parent in %d ms\n", id, EXIT_MS);
		_exit(1);
	}
	bad += ksm_stress_verified(WORKER_PAGES,
				   ksm_check_pages(area, keys, WORKER_PAGES, "at the end"));
	fflush(stdout);
	_exit(bad ? 1 : 0);
}

/* ---------------------------------------------------------------------- */
/* The share once writes pause.                                           */
/* ---------------------------------------------------------------------- */

/* Has child @pid exited (not reaped: ksm_wait_child() does that)? */
static bool child_gone(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return !waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == pid;
}

/* Wait, within HOLD_MS, until every worker has stopped and reported. */
static bool wait_held(const pid_t *pids)
{
	long long deadline = ksm_now_ms() + HOLD_MS;
	unsigned int i, held;

	for (;;) {
		for (i = 0, held = 0; i < NWORKERS; i++) {
			if (__atomic_load_n(&ctl->held[i], __ATOMIC_ACQUIRE)) {
				held++;
				continue;
			}
			if (child_gone(pids[i])) {
				ksft_print_msg("worker %u gone before it reported\n", i);
				return false;
			}
		}
		if (held == NWORKERS)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("%u of %u workers stopped and reported in %d ms\n", held,
				       NWORKERS, HOLD_MS);
			return false;
		}
		usleep(10000);
	}
}

/*
 * The workers hold their pages: sum their counts per key and wait for KSM
 * to share exactly that (see the top of the file).
 */
static bool check_final_share(bool zero_pages)
{
	unsigned long n[NKEYS + 1] = { 0 }, max_sharing;
	unsigned long long extra_keys[NKEYS + 1];
	struct ksm_share w = { 0, 0, 0 };
	unsigned int i, k, nextra = 0;
	char *extra = NULL;
	bool ok;

	max_sharing = ksm_read("max_page_sharing");
	for (k = 0; k <= NKEYS; k++) {
		for (i = 0; i < NWORKERS; i++)
			n[k] += ctl->keys[i][k];
		ksft_print_msg("key %llu: %lu pages held\n", key_of(k), n[k]);
		if (!k && zero_pages) {
			w.zero = n[k];
			continue;
		}
		if (n[k] >= 2 && n[k] % max_sharing == 1) {
			extra_keys[nextra++] = key_of(k);
			n[k]++;
		}
		if (n[k] >= 2)
			w.sum += n[k];
		else if (n[k] == 1)
			w.unshared++;
	}
	if (!ksm_file_exists("ksm_zero_pages"))
		w.zero = -1;
	if (nextra) {
		ksft_print_msg("%u keys 1 more than a multiple of max_page_sharing %lu: one more page each\n",
			       nextra, max_sharing);
		extra = ksm_mmap_mergeable(extra_keys, nextra);
	}
	ksft_print_msg("use_zero_pages %d, max_page_sharing %lu: want pages_shared + pages_sharing %ld, pages_unshared %ld, ksm_zero_pages %ld\n",
		       zero_pages, max_sharing, w.sum, w.unshared, w.zero);
	ok = ksm_wait_share(&w, KSM_TIMEOUT_MS);
	ksm_print_counters("workers holding");
	if (extra && munmap(extra, nextra * ksm_page_size))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	return ok && w.sum > 0;
}

/*
 * After the fuzzing: sane knobs, known ones, run=1; the workers stop and
 * hold; KSM must then share exactly what they hold.
 */
static bool final_share(const pid_t *pids)
{
	struct file *f_mpsh = file_named("max_page_sharing");
	struct file *f_mpn = file_named("merge_across_nodes");
	struct file *f_zero = file_named("use_zero_pages");
	bool zero_pages, ok;
	unsigned int i;
	char buf[32];

	set_text(f_scan, "2000");
	set_text(f_sleep, "0");
	/* The knobs that refuse to change while KSM pages exist. */
	for (i = 0; i < 5 && f_run->val != 2; i++)
		set_text(f_run, "2");
	snprintf(buf, sizeof(buf), "%lu", ksm_saved_knob("max_page_sharing"));
	set_text(f_mpsh, buf);
	set_text(f_mpn, "1");
	set_text(file_named("merge_domain"), "global");
	zero_pages = knob_read(f_zero);
	set_text(f_run, "1");
	if (f_run->val != 1 || (f_mpn && f_mpn->val != 1) ||
	    f_mpsh->val != ksm_saved_knob("max_page_sharing")) {
		ksft_print_msg("knobs not set: run %lu, merge_across_nodes %ld, max_page_sharing %lu\n",
			       f_run->val, f_mpn ? (long)f_mpn->val : -1L, f_mpsh->val);
		ok = false;
	} else {
		__atomic_store_n(&ctl->phase, PH_HOLD, __ATOMIC_RELEASE);
		ok = wait_held(pids) && check_final_share(zero_pages);
	}
	__atomic_store_n(&ctl->phase, PH_EXIT, __ATOMIC_RELEASE);
	return ok;
}

static void print_figures(void)
{
	unsigned int i;

	for (i = 0; i < nfiles; i++) {
		struct file *f = &files[i];

		if (!is_knob(f))
			continue;
		ksft_print_msg("%s: %lu writes, %lu accepted, %lu empty, now %lu\n",
			       f->name, f->writes, f->accepted, f->empty, f->val);
		ksft_print_msg("%s: refused: EINVAL %lu ERANGE %lu EBUSY %lu EFAULT %lu\n",
			       f->name, f->einval, f->erange, f->ebusy, f->efault);
	}
	ksft_print_msg("%lu writes to counters, %lu reads, %lu uid 65534 rounds\n",
		       counter_writes, reads, nonroot_rounds);
	ksft_print_msg("%lu failed run=2 (ENOMEM or EINTR)\n", unmerge_failures);
}

int main(int argc, char **argv)
{
	long long next_sane = 0, next_nonroot;
	unsigned long max_sharing = 0, sharing = 0, writes;
	pid_t pids[NWORKERS];
	bool workers_ok = true, merged;
	unsigned int i;

	ksft_print_header();
	ksm_stress_init(argc, argv, DEFAULT_SECS);
	ksft_set_plan(6);
	ksm_selftest_init(1000, 10, ksm_stress_watchdog());
	rng = ksm_rand_stream(0);

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	guard = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED || guard == MAP_FAILED ||
	    mprotect(guard + 4096, 4096, PROT_NONE))
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	if (ksm_page_size != 4096)
		ksft_exit_skip("written for 4 KiB pages\n");

	find_files();
	for (i = 0; i < nfiles; i++)
		if (is_knob(&files[i]))
			files[i].val = knob_read(&files[i]);
	f_run = file_named("run");
	f_scan = file_named("pages_to_scan");
	f_sleep = file_named("sleep_millisecs");
	f_mode = file_named("advisor_mode");
	ksft_print_msg("%u files in %s\n", nfiles, KSM_SYSFS_DIR);

	for (i = 0; i < NWORKERS; i++) {
		pids[i] = ksm_fork();
		if (!pids[i])
			worker_process(i);
	}
	set_text(f_run, "1");
	next_nonroot = ksm_now_ms() + NONROOT_MS;

	while (ksm_stress_running()) {
		struct file *f = &files[below(nfiles)];
		struct input in;

		if (ksm_now_ms() >= next_sane) {
			sane();
			sharing = ksm_read("pages_sharing");
			if (sharing > max_sharing)
				max_sharing = sharing;
			next_sane = ksm_now_ms() + SANE_MS;
		}
		if (ksm_now_ms() >= next_nonroot) {
			nonroot_round();
			next_nonroot = ksm_now_ms() + NONROOT_MS;
		}
		if (!below(8)) {
			read_pieces(f);
			continue;
		}
		gen_input(f, &in);
		if (is_knob(f))
			knob_write(f, &in);
		else if (f->p == P_COUNTER)
			counter_write(f, &in);
	}

	/* Sane knobs, writes paused: KSM must share exactly what is held. */
	ksft_print_msg("pages_sharing up to %lu during the fuzzing\n", max_sharing);
	merged = final_share(pids);
	for (i = 0; i < NWORKERS; i++)
		workers_ok = ksm_wait_child(pids[i], "worker") && workers_ok;
	print_figures();
	for (i = 0; i < NWORKERS; i++) {
		ksft_print_msg("worker %u: %lu pages rewritten by its threads, each checked first\n",
			       i, ctl->rewrites[i]);
		workers_ok = workers_ok && ctl->rewrites[i];
	}

	for (i = 0, writes = 0; i < nfiles; i++)
		writes += files[i].writes;
	if (abi_bad)
		ksft_print_msg("%lu writes went otherwise than Linux 6.1 parses them\n",
			       abi_bad);
	ksft_test_result(!abi_bad && writes,
			 "knobs: %lu writes, each refused or accepted as Linux 6.1 parses them, values as expected\n",
			 writes);
	ksft_test_result(!counter_bad && counter_writes,
			 "counters: %lu writes as root, every one refused (EACCES)\n",
			 counter_writes);
	ksft_test_result(!read_bad && reads,
			 "reads: %lu, in pieces and at offsets, the same text\n", reads);
	ksft_test_result(!nonroot_bad && nonroot_rounds,
			 "uid 65534: %lu rounds, every file readable, none writable (EACCES), values unchanged\n",
			 nonroot_rounds);
	ksft_test_result(merged,
			 "sane knobs after the fuzzing, writes paused: pages_shared + pages_sharing, pages_unshared (and ksm_zero_pages) exactly as the held pages imply, pages_volatile 0\n");
	ksft_test_result(workers_ok && !ksm_stats->mismatches && ksm_stats->verified,
			 "mergeable memory intact under the fuzzing, each page checked before each rewrite by the writer threads (%llu checks)\n",
			 ksm_stats->verified);
	ksm_stress_summary();
	ksft_finished();
}
