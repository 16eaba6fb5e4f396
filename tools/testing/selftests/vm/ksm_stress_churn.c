// SPDX-License-Identifier: GPL-2.0
/*
 * KSM churn stress: everything that can happen to a merged page, at once,
 * while ksmd runs flat out and its knobs keep changing.
 *
 * Several worker processes each own a few anonymous regions (tens to a few
 * thousand pages, some 2 MiB aligned with MADV_HUGEPAGE) and keep, in their
 * private memory, the key of every page: what the page must hold (key 0:
 * zeros).  Keys come mostly from a small shared set, a few of them hot, so
 * pages are duplicates within and across workers, KSM merges a lot and,
 * with a small max_page_sharing, stable node chains form.  Each worker
 * draws from its seeded generator a random mix of:
 *  - writes (the full contents of a key, sometimes in two halves with a
 *    pause between them; each page checked before it is overwritten), many
 *    of them to a few hot pages with hot keys, stores of the value a word
 *    already holds (a COW break that changes nothing), checks of random
 *    ranges and now and then of every page;
 *  - fork: the child checks its inherited copy, runs the same mix on it
 *    (writes that must not reach the parent) and exits, while the parent
 *    waits (then checks everything), or goes on, or kills the child with
 *    SIGKILL after a random delay;
 *  - munmap of part of a region, mremap (move, grow, shrink, and
 *    MREMAP_DONTUNMAP, of a part inside one VMA; keys follow; the old
 *    range must be gone), mprotect read-only (checked while read-only) and
 *    back, a brief PROT_NONE, MADV_DONTNEED (keys become 0), MADV_FREE (the
 *    page may then hold its key or zeros until the next write),
 *    MADV_MERGEABLE and MADV_UNMERGEABLE on random subranges (with no
 *    other process sharing the worker's pages, no present page that was
 *    mergeable may be a KSM page when MADV_UNMERGEABLE returns), new
 *    regions;
 *  - its own exit: a worker ends after a random lifetime and a new one
 *    takes its place.
 * A hammer process flips the first word of a few pages of hot keys back
 * and forth without pause, checking it before each flip, beside untouched
 * pages of the same keys: ksmd keeps merging the hammered pages while the
 * next flip is on its way, and no flip may be lost.
 * A controller process flips run between 0, 1 and 2 (after run=2 the rmap
 * item counters must drain to 0 while the workers go on, and every page
 * must still hold its key) and sets pages_to_scan, sleep_millisecs,
 * use_zero_pages, max_page_sharing, merge_across_nodes and
 * stable_node_chains_prune_millisecs; ksmd runs mostly at full speed.  A
 * refused max_page_sharing or merge_across_nodes (EBUSY while KSM pages
 * exist), a run=2, MADV_UNMERGEABLE or mremap that fails for lack of
 * memory (ENOMEM, EAGAIN) are allowed; any other error fails the run.
 *
 * Every page a worker holds is checked at the end, and the run fails on
 * any mismatch, on any unexpected error, if KSM never merged anything
 * (max pages_sharing 0), or if the counters (pages_shared, pages_sharing,
 * pages_unshared, pages_volatile, stable_node_chains, stable_node_dups)
 * are not all 0 within 30 s of run=2 once every process has exited.  The
 * lab fails it on any kernel warning as well.
 *
 * Usage: ksm_stress_churn [-t SECONDS] [-s SEED]; the seed is printed
 * first, -s repeats a run (the same draws; ksmd's timing differs).  The
 * environment can change the size: KSM_CHURN_WORKERS (4) and
 * KSM_CHURN_PAGES (pages per worker, 2048).
 *
 * The lab runs it in the stress suite - suite: stress
 * make stress runs it for - long: 600s
 * and the short run of make check (60 s) within - limit: 240s
 */
#define _GNU_SOURCE
#include "ksm_util.h"
#include "ksm_stress.h"

#include <sys/mman.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MADV_FREE
#define MADV_FREE		8
#endif

#define DEFAULT_SECS		60
#define MAX_WORKERS		16
#define MAX_REGIONS		48
#define MAX_KIDS		3
#define NSHARED			48	/* shared keys 1..NSHARED */
#define NHOT			4	/* of which 1..NHOT are hot */
#define HOT_PAGES		16	/* hot pages, at the start of region 0 */
#define HAMMER_PAGES		8	/* the hammer's pages */
#define HAMMER_MS		60	/* it hammers that long, */
#define HAMMER_REST_MS		20	/* then rests that long */
#define HUGE_BYTES		(2UL << 20)
#define KPF_KSM_BIT		21
#define KPF_CHECK_MAX		64	/* pages checked after UNMERGEABLE */
#define REPORT_MAX		12	/* mismatches printed per process */
#define DRAIN_MS		5000	/* run=2 mid-run: counters to 0 within */
#define FINAL_DRAIN_MS		30000
#define WIND_DOWN_MS		90000

/* Per-page flags, beside the keys. */
#define F_RO		0x1	/* mprotect(PROT_READ) */
#define F_LAZY		0x2	/* MADV_FREE since the last write: key or zeros */
#define F_MERG		0x4	/* MADV_MERGEABLE (VM_MERGEABLE) */
#define F_VMA		(F_RO | F_MERG)	/* what a VMA decides, the same for all its pages */

enum op {
	OP_WRITE, OP_HOT_WRITE, OP_SLOW_WRITE, OP_TOUCH, OP_VERIFY, OP_VERIFY_ALL,
	OP_FORK_WAIT, OP_FORK_EXIT, OP_FORK_KILL, OP_MUNMAP, OP_MREMAP_MOVE,
	OP_MREMAP_GROW, OP_MREMAP_SHRINK, OP_MREMAP_DONTUNMAP, OP_PROT_RO,
	OP_PROT_RW, OP_PROT_NONE, OP_DONTNEED, OP_FREE, OP_MERGEABLE,
	OP_UNMERGEABLE, OP_MMAP, OP_PAUSE, OP_WORKER_EXIT, OP_HAMMER,
	/* the controller's */
	OP_RUN0, OP_RUN1, OP_RUN2, OP_PAGES_TO_SCAN, OP_SLEEP, OP_ZERO_PAGES,
	OP_MAX_SHARING, OP_MAX_SHARING_BUSY, OP_ACROSS_NODES,
	OP_ACROSS_NODES_BUSY, OP_PRUNE,
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"write", "hot_write", "slow_write", "touch", "verify", "verify_all", "fork_wait",
	"fork_exit", "fork_kill", "munmap", "mremap_move", "mremap_grow",
	"mremap_shrink", "mremap_dontunmap", "mprotect_ro", "mprotect_rw",
	"prot_none", "dontneed", "madv_free", "mergeable", "unmergeable",
	"mmap", "pause", "worker_exit", "hammer_rekey",
	"run=0", "run=1", "run=2", "pages_to_scan", "sleep_millisecs",
	"use_zero_pages", "max_page_sharing", "max_page_sharing_ebusy",
	"merge_across_nodes", "merge_across_nodes_ebusy", "prune_millisecs",
};

/* MAP_SHARED: every process adds to it. */
struct churn_shared {
	unsigned long long op[NR_OPS];
	unsigned long long errors;	/* unexpected results: each one printed */
	unsigned long long soft;	/* ENOMEM/EAGAIN where allowed */
	unsigned long long kids;	/* children forked */
	unsigned long long kids_killed;
	unsigned long long drains;	/* run=2 mid-run, counters drained */
	unsigned long long drain_ms_max;
	unsigned long long drains_nodes_left;	/* chains or dups still there */
	unsigned long long unmerged_checked;	/* pages seen not KSM after UNMERGEABLE */
	unsigned long long hammer_flips;
	unsigned long long hammer_moved;	/* a hammered page seen on a new pfn */
	int controller_run;		/* what the controller last wrote */
};

static struct churn_shared *sh;

struct region {
	char *addr;
	size_t n;		/* pages */
	unsigned long long *keys;
	unsigned char *flags;
};

struct kid {
	pid_t pid;
	int mode;		/* OP_FORK_EXIT or OP_FORK_KILL */
	long long kill_at;
	bool killed;
};

/* The state of this process: a worker, or a child of one. */
static struct {
	int wid;
	bool child;
	const char *who;	/* "w2", "w2.c5" */
	char who_buf[32];
	unsigned long long rng;
	unsigned long long tag, uniq;
	struct region reg[MAX_REGIONS];
	int nreg;
	size_t pages, max_pages;
	unsigned long long bad, errors, reported;
	struct kid kids[MAX_KIDS];
	int nkids, nforks;
	pid_t fd_pid;
	int pagemap_fd, kpf_fd;
} w;

static unsigned int nworkers = 4;
static size_t worker_pages = 2048;

static void count_op(enum op op)
{
	__atomic_fetch_add(&sh->op[op], 1, __ATOMIC_RELAXED);
	ksm_stress_ops(1);
}

static void count_error(void)
{
	__atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED);
	w.errors++;
}

static void count_soft(void)
{
	__atomic_fetch_add(&sh->soft, 1, __ATOMIC_RELAXED);
}

#define say(fmt, ...)	printf("# %s: " fmt, w.who, ##__VA_ARGS__)

static unsigned long long rnd(unsigned long long n)
{
	return n ? ksm_rand_below(&w.rng, n) : 0;
}

static bool chance(unsigned int pct)
{
	return rnd(100) < pct;
}

static char *page_at(const struct region *r, size_t i)
{
	return r->addr + i * ksm_page_size;
}

/* ---------------------------------------------------------------------- */
/* Keys, contents, checks.                                                */
/* ---------------------------------------------------------------------- */

static unsigned long long draw_key(void)
{
	unsigned int x = rnd(100);

	if (x < 12)
		return 0;
	if (x < 44)
		return 1 + rnd(NHOT);
	if (x < 82)
		return 1 + NHOT + rnd(NSHARED - NHOT);
	/* Unique: high bit, whose process, a counter. */
	return 1ULL << 63 | (w.tag & 0x7fffffff) << 32 | ++w.uniq;
}

static void fill_words(char *page, unsigned long long key, size_t from,
		       size_t to)
{
	unsigned long long *v = (unsigned long long *)page;
	size_t i;

	for (i = from; i < to; i++)
		v[i] = key ? ksm_mix64(key * 4099 + i) : 0;
}

static void open_proc_files(void)
{
	if (w.fd_pid == getpid())
		return;
	/* A child inherits the parent's descriptors: its pagemap is not ours. */
	if (w.fd_pid) {
		close(w.pagemap_fd);
		if (w.kpf_fd >= 0)
			close(w.kpf_fd);
	}
	w.fd_pid = getpid();
	w.pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	w.kpf_fd = open("/proc/kpageflags", O_RDONLY);
}

static unsigned long long pagemap_of(const void *addr)
{
	unsigned long long ent = 0;

	open_proc_files();
	if (w.pagemap_fd < 0 ||
	    pread(w.pagemap_fd, &ent, sizeof(ent),
		  (unsigned long)addr / ksm_page_size * sizeof(ent)) != sizeof(ent))
		return 0;
	return ent;
}

/* /proc/kpageflags of the page mapped at @addr; 0 if not present. */
static unsigned long long kpageflags_of(const void *addr)
{
	unsigned long long ent = pagemap_of(addr), flags = 0, pfn;

	if (!(ent & KSM_PM_PRESENT) || w.kpf_fd < 0)
		return 0;
	pfn = ent & KSM_PM_PFN_MASK;
	if (!pfn || pread(w.kpf_fd, &flags, sizeof(flags), pfn * sizeof(flags)) !=
	    sizeof(flags))
		return 0;
	return flags;
}

/* What a page that does not hold its key holds instead, for the report. */
static void describe_contents(const char *page, char *buf, size_t len)
{
	unsigned long long k;

	if (ksm_check_page(page, 0) < 0) {
		snprintf(buf, len, "zeros");
		return;
	}
	for (k = 1; k <= NSHARED; k++) {
		if (ksm_check_page(page, k) < 0) {
			snprintf(buf, len, "shared key %llu", k);
			return;
		}
	}
	snprintf(buf, len, "no shared key (first word %#llx)",
		 *(const unsigned long long *)page);
}

/* Check pages [a, b) of @r; returns the number of bad pages. */
static unsigned long long verify_range(struct region *r, size_t a, size_t b,
				       const char *what)
{
	unsigned long long bad = 0;
	char desc[96];
	size_t i;
	long off;

	for (i = a; i < b; i++) {
		const char *p = page_at(r, i);

		off = ksm_check_page(p, r->keys[i]);
		if (off < 0)
			continue;
		if ((r->flags[i] & F_LAZY) && ksm_check_page(p, 0) < 0) {
			/* MADV_FREE'd and reclaimed: zeros from now on. */
			r->keys[i] = 0;
			r->flags[i] &= ~F_LAZY;
			continue;
		}
		bad++;
		if (w.reported++ < REPORT_MAX) {
			describe_contents(p, desc, sizeof(desc));
			say("MISMATCH (%s): page %zu of %zu at %p, key %#llx\n",
			    what, i, r->n, p, r->keys[i]);
			say("  flags %#x, differs at offset %ld, holds %s\n",
			    r->flags[i], off, desc);
			say("  pagemap %#llx kpageflags %#llx\n", pagemap_of(p),
			    kpageflags_of(p));
		}
	}
	w.bad += bad;
	ksm_stress_verified(b - a, bad);
	return bad;
}

static unsigned long long verify_all(const char *what)
{
	unsigned long long bad = 0;
	int i;

	for (i = 0; i < w.nreg; i++)
		bad += verify_range(&w.reg[i], 0, w.reg[i].n, what);
	return bad;
}

/* ---------------------------------------------------------------------- */
/* Regions.                                                               */
/* ---------------------------------------------------------------------- */

static bool alloc_arrays(struct region *r, size_t n)
{
	r->keys = calloc(n ? n : 1, sizeof(*r->keys));
	r->flags = calloc(n ? n : 1, 1);
	if (!r->keys || !r->flags) {
		say("out of memory for the keys of %zu pages\n", n);
		count_error();
		free(r->keys);
		free(r->flags);
		return false;
	}
	return true;
}

static struct region *add_region(char *addr, size_t n)
{
	struct region *r = &w.reg[w.nreg];

	if (w.nreg >= MAX_REGIONS || !alloc_arrays(r, n))
		return NULL;
	r->addr = addr;
	r->n = n;
	w.nreg++;
	w.pages += n;
	return r;
}

static void drop_region(int i)
{
	free(w.reg[i].keys);
	free(w.reg[i].flags);
	w.pages -= w.reg[i].n;
	w.reg[i] = w.reg[--w.nreg];
}

/*
 * Pages [a, b) of region @i are gone (unmapped, or moved to a region of
 * their own).  A cut in the middle splits the region: the caller makes
 * sure there is a free slot.  Region @i may move to another index.
 */
static void cut_region(int i, size_t a, size_t b)
{
	struct region *r = &w.reg[i], *t;
	size_t n = r->n;

	if (a == 0 && b == n) {
		drop_region(i);
		return;
	}
	if (a == 0) {
		memmove(r->keys, r->keys + b, (n - b) * sizeof(*r->keys));
		memmove(r->flags, r->flags + b, n - b);
		r->addr += b * ksm_page_size;
		r->n = n - b;
	} else if (b == n) {
		r->n = a;
	} else {
		t = add_region(page_at(r, b), n - b);
		if (!t) {
			/* Cannot happen (slot checked): forget the tail. */
			r->n = a;
			w.pages -= n - b;
		} else {
			r = &w.reg[i];
			memcpy(t->keys, r->keys + b, (n - b) * sizeof(*t->keys));
			memcpy(t->flags, r->flags + b, n - b);
			w.pages -= n - b;	/* add_region counted them again */
			r->n = a;
		}
	}
	w.pages -= b - a;
}

/* A new region of @n pages, filled (mostly), mostly mergeable. */
static void new_region(size_t n, bool huge)
{
	size_t len = n * ksm_page_size, i;
	struct region *r;
	char *p, *raw;

	if (huge) {
		raw = mmap(NULL, len + HUGE_BYTES, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (raw == MAP_FAILED)
			goto fail;
		p = (char *)(((unsigned long)raw + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1));
		if (p > raw)
			munmap(raw, p - raw);
		munmap(p + len, raw + HUGE_BYTES - p);
		/* EINVAL without THP: fine, just small pages. */
		madvise(p, len, MADV_HUGEPAGE);
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			goto fail;
	}
	r = add_region(p, n);
	if (!r) {
		munmap(p, len);
		return;
	}
	for (i = 0; i < n; i++) {
		if (chance(85)) {
			r->keys[i] = draw_key();
			fill_words(page_at(r, i), r->keys[i], 0,
				   ksm_page_size / sizeof(unsigned long long));
		}
	}
	if (chance(90)) {
		if (madvise(p, len, MADV_MERGEABLE)) {
			say("madvise(MADV_MERGEABLE) of a new region: %s\n",
			    strerror(errno));
			count_error();
		} else {
			memset(r->flags, F_MERG, n);
		}
	}
	return;
fail:
	if (errno == ENOMEM) {
		count_soft();
		return;
	}
	say("mmap of %zu pages: %s\n", n, strerror(errno));
	count_error();
}

static size_t draw_region_size(bool *huge)
{
	unsigned int x = rnd(100);

	*huge = false;
	if (x < 60)
		return 32 + rnd(480);
	if (x < 90)
		return 512 + rnd(1024);
	*huge = true;
	return 512 * (1 + rnd(3));
}

/* A random subrange [*a, *b) of @r, at most @max pages. */
static void pick_range(const struct region *r, size_t max, size_t *a, size_t *b)
{
	size_t len;

	if (chance(10)) {
		*a = 0;
		*b = r->n;
		return;
	}
	*a = rnd(r->n);
	len = r->n - *a < max ? r->n - *a : max;
	*b = *a + 1 + rnd(len);
}

static struct region *pick_region(int *idx)
{
	int i;

	if (!w.nreg)
		return NULL;
	i = rnd(w.nreg);
	if (idx)
		*idx = i;
	return &w.reg[i];
}

/* The VMA around @addr, from /proc/self/maps. */
static bool vma_bounds(const char *addr, unsigned long *start,
		       unsigned long *end)
{
	unsigned long s, e;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 &&
		    s <= (unsigned long)addr && (unsigned long)addr < e) {
			*start = s;
			*end = e;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The range [*a, *b) is unmapped now: check that. */
static void expect_unmapped(const char *addr, size_t npages, const char *what)
{
	unsigned char vec[1];

	if (!npages)
		return;
	if (mincore((void *)addr, ksm_page_size, vec) == 0 || errno != ENOMEM) {
		say("%s: %p still mapped after the call\n", what, addr);
		count_error();
	}
}

/* ---------------------------------------------------------------------- */
/* The operations.                                                        */
/* ---------------------------------------------------------------------- */

static bool op_write(bool slow)
{
	size_t a, b, i, words = ksm_page_size / sizeof(unsigned long long), half;
	struct region *r = pick_region(NULL);
	unsigned long long key;
	bool same = chance(20);

	if (!r)
		return false;
	pick_range(r, slow ? 2 : 16, &a, &b);
	if (b - a > (slow ? 2 : 16))
		b = a + (slow ? 2 : 16);
	key = draw_key();
	for (i = a; i < b; i++) {
		if (r->flags[i] & F_RO)
			continue;
		if (!same)
			key = draw_key();
		/* A page that went wrong shows before it is overwritten. */
		verify_range(r, i, i + 1, "before a write");
		if (slow) {
			/* ksmd may look at the page between the halves. */
			half = 1 + rnd(words - 1);
			fill_words(page_at(r, i), key, 0, half);
			usleep(rnd(3000));
			fill_words(page_at(r, i), key, half, words);
		} else {
			fill_words(page_at(r, i), key, 0, words);
		}
		r->keys[i] = key;
		r->flags[i] &= ~F_LAZY;
	}
	return true;
}

/*
 * The first pages of the first region are hot: rewritten all the time with
 * the hot keys, so that ksmd often finds them equal to a KSM page while
 * they are being written.  Each is checked before it is overwritten.
 */
static bool op_hot_write(void)
{
	size_t words = ksm_page_size / sizeof(unsigned long long), i, n;
	struct region *r = w.nreg ? &w.reg[0] : NULL;
	unsigned long long key;
	unsigned int k;

	if (!r)
		return false;
	n = r->n < HOT_PAGES ? r->n : HOT_PAGES;
	for (k = 1 + rnd(4); k; k--) {
		i = rnd(n);
		if (r->flags[i] & F_RO)
			continue;
		key = chance(10) ? 0 : 1 + rnd(NHOT);
		verify_range(r, i, i + 1, "before a hot write");
		fill_words(page_at(r, i), key, 0, words);
		r->keys[i] = key;
		r->flags[i] &= ~F_LAZY;
	}
	return true;
}

/* Store what a word already holds: breaks COW, changes nothing. */
static bool op_touch(void)
{
	struct region *r = pick_region(NULL);
	unsigned long long *v;
	size_t a, b, i;

	if (!r)
		return false;
	pick_range(r, 8, &a, &b);
	if (b - a > 8)
		b = a + 8;
	for (i = a; i < b; i++) {
		if (r->flags[i] & (F_RO | F_LAZY))
			continue;
		v = (unsigned long long *)page_at(r, i) +
		    rnd(ksm_page_size / sizeof(*v));
		__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
	}
	verify_range(r, a, b, "after touch");
	return true;
}

static bool op_verify(void)
{
	struct region *r = pick_region(NULL);
	size_t a, b;

	if (!r)
		return false;
	pick_range(r, 256, &a, &b);
	verify_range(r, a, b, "verify");
	return true;
}

static bool op_munmap(void)
{
	int i;
	struct region *r = pick_region(&i);
	size_t a, b;

	if (!r)
		return false;
	pick_range(r, r->n / 4 + 1, &a, &b);
	if (a == 0 && b == r->n && w.nreg == 1)
		return false;
	if (a > 0 && b < r->n && w.nreg >= MAX_REGIONS)
		b = r->n;
	/* A write lost before the pages go would never be seen after. */
	verify_range(r, a, b, "before munmap");
	if (munmap(page_at(r, a), (b - a) * ksm_page_size)) {
		say("munmap: %s\n", strerror(errno));
		count_error();
		return true;
	}
	expect_unmapped(page_at(r, a), b - a, "munmap");
	cut_region(i, a, b);
	return true;
}

/*
 * mremap of a part of a region that lies in one VMA (mremap takes no more):
 * moved as it is, grown (moved unless it can grow in place), shrunk, or
 * moved with MREMAP_DONTUNMAP (the old range then reads zeros).
 */
static bool op_mremap(enum op kind)
{
	size_t a, b, lo, hi, len, extra = 0, newn, i;
	unsigned long vs, ve, start;
	unsigned long long *keys;
	unsigned char *flags;
	struct region *r, moved = { 0 };
	char *old, *res, *dst = NULL;
	int idx, flagsarg;

	if (w.nreg > MAX_REGIONS - 2)
		return false;
	r = pick_region(&idx);
	if (!r)
		return false;
	i = rnd(r->n);
	if (!vma_bounds(page_at(r, i), &vs, &ve)) {
		say("no VMA at %p of a region\n", page_at(r, i));
		count_error();
		return true;
	}
	start = (unsigned long)r->addr;
	lo = vs > start ? (vs - start) / ksm_page_size : 0;
	hi = (ve - start) / ksm_page_size;
	if (hi > r->n)
		hi = r->n;
	if (chance(30)) {
		a = lo;
		b = hi;
	} else {
		a = lo + rnd(hi - lo);
		len = hi - a < 256 ? hi - a : 256;
		b = a + 1 + rnd(len);
	}
	len = b - a;
	old = page_at(r, a);

	switch (kind) {
	case OP_MREMAP_SHRINK:
		if (len < 2)
			return false;
		newn = 1 + rnd(len - 1);
		res = mremap(old, len * ksm_page_size, newn * ksm_page_size, 0);
		if (res == MAP_FAILED)
			goto fail;
		if (res != old) {
			say("mremap shrink moved %p to %p\n", old, res);
			count_error();
		}
		expect_unmapped(old + newn * ksm_page_size, len - newn, "mremap shrink");
		cut_region(idx, a + newn, b);
		return true;
	case OP_MREMAP_GROW:
		extra = 1 + rnd(64);
		if (w.pages + extra > w.max_pages)
			return false;
		res = mremap(old, len * ksm_page_size, (len + extra) * ksm_page_size,
			     MREMAP_MAYMOVE);
		break;
	case OP_MREMAP_DONTUNMAP:
		if (w.pages + len > w.max_pages)
			return false;
		/* glibc passes a new address only with MREMAP_FIXED. */
		res = (char *)syscall(SYS_mremap, old, len * ksm_page_size,
				      len * ksm_page_size,
				      MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
		break;
	default:
		/* A place of its own, then moved there. */
		dst = mmap(NULL, len * ksm_page_size, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (dst == MAP_FAILED) {
			res = MAP_FAILED;
			dst = NULL;
			goto fail;
		}
		flagsarg = MREMAP_MAYMOVE | MREMAP_FIXED;
		res = mremap(old, len * ksm_page_size, len * ksm_page_size,
			     flagsarg, dst);
		if (res != MAP_FAILED && res != dst) {
			say("mremap to %p went to %p\n", dst, res);
			count_error();
		}
		break;
	}
	if (res == MAP_FAILED)
		goto fail;

	if (res == old) {
		/* Grown in place: only the last VMA of a region can be. */
		if (kind != OP_MREMAP_GROW || b != r->n) {
			say("mremap (%s) of pages %zu-%zu of %zu stayed at %p\n",
			    op_names[kind], a, b, r->n, old);
			count_error();
			return true;
		}
		keys = realloc(r->keys, (r->n + extra) * sizeof(*keys));
		if (keys)
			r->keys = keys;
		flags = realloc(r->flags, r->n + extra);
		if (flags)
			r->flags = flags;
		if (!keys || !flags) {
			say("out of memory for keys\n");
			count_error();
			return true;
		}
		for (i = r->n; i < r->n + extra; i++) {
			r->keys[i] = 0;
			r->flags[i] = r->flags[r->n - 1] & F_VMA;
		}
		r->n += extra;
		w.pages += extra;
		verify_range(r, a, r->n, "after mremap grow in place");
		return true;
	}

	/* The moved part: a region of its own. */
	if (!alloc_arrays(&moved, len + extra))
		return true;
	memcpy(moved.keys, r->keys + a, len * sizeof(*moved.keys));
	memcpy(moved.flags, r->flags + a, len);
	for (i = len; i < len + extra; i++)
		moved.flags[i] = r->flags[a] & F_VMA;
	if (kind == OP_MREMAP_DONTUNMAP) {
		/* The old range stays mapped, empty. */
		for (i = a; i < b; i++) {
			r->keys[i] = 0;
			r->flags[i] &= ~F_LAZY;
		}
		verify_range(r, a, b, "old range after MREMAP_DONTUNMAP");
	} else {
		expect_unmapped(old, len, op_names[kind]);
		cut_region(idx, a, b);
	}
	moved.addr = res;
	moved.n = len + extra;
	w.reg[w.nreg++] = moved;
	w.pages += moved.n;
	verify_range(&w.reg[w.nreg - 1], 0, moved.n, op_names[kind]);
	return true;

fail:
	if (dst)
		munmap(dst, len * ksm_page_size);
	if (errno == ENOMEM || errno == EAGAIN) {
		/* Out of memory, or unmerging the old range was. */
		count_soft();
		return true;
	}
	say("mremap (%s) of pages %zu-%zu of %zu (VMA %#lx-%#lx): %s\n",
	    op_names[kind], a, b, r->n, vs, ve, strerror(errno));
	count_error();
	return true;
}

static bool op_protect(enum op kind)
{
	struct region *r = pick_region(NULL);
	size_t a, b, i;

	if (!r)
		return false;
	if (kind == OP_PROT_RW) {
		for (i = 0; i < r->n && !(r->flags[i] & F_RO); i++)
			;
		if (i == r->n)
			return false;
		if (mprotect(r->addr, r->n * ksm_page_size, PROT_READ | PROT_WRITE)) {
			say("mprotect(RW): %s\n", strerror(errno));
			count_error();
			return true;
		}
		for (i = 0; i < r->n; i++)
			r->flags[i] &= ~F_RO;
		verify_range(r, 0, r->n, "after mprotect(RW)");
		return true;
	}
	pick_range(r, 128, &a, &b);
	if (kind == OP_PROT_NONE) {
		for (i = a; i < b; i++)
			if (r->flags[i] & F_RO)
				return false;
		if (mprotect(page_at(r, a), (b - a) * ksm_page_size, PROT_NONE)) {
			say("mprotect(NONE): %s\n", strerror(errno));
			count_error();
			return true;
		}
		usleep(rnd(5000));
		if (mprotect(page_at(r, a), (b - a) * ksm_page_size,
			     PROT_READ | PROT_WRITE)) {
			say("mprotect(RW) after NONE: %s\n", strerror(errno));
			count_error();
			return true;
		}
		verify_range(r, a, b, "after PROT_NONE");
		return true;
	}
	if (mprotect(page_at(r, a), (b - a) * ksm_page_size, PROT_READ)) {
		say("mprotect(RO): %s\n", strerror(errno));
		count_error();
		return true;
	}
	for (i = a; i < b; i++)
		r->flags[i] |= F_RO;
	verify_range(r, a, b, "read-only");
	return true;
}

/*
 * After MADV_UNMERGEABLE of [a, b): no present page that was in a
 * mergeable VMA may still be a KSM page.  Only where no other process
 * shares our pages: ksmd may turn a page that a fork left shared into a
 * KSM page in place, through the other process's mergeable mapping, at any
 * time; and a VMA that was not mergeable is left alone, as in 6.1.
 */
static void check_unmerged(struct region *r, size_t a, size_t b)
{
	unsigned long long kpf;
	size_t i, n = 0;

	if (w.child || w.nkids)
		return;
	for (i = a; i < b && n < KPF_CHECK_MAX; i++) {
		if (!(r->flags[i] & F_MERG))
			continue;
		n++;
		kpf = kpageflags_of(page_at(r, i));
		if (kpf & (1ULL << KPF_KSM_BIT)) {
			say("page %zu of %zu at %p is a KSM page (%#llx)\n",
			    i, r->n, page_at(r, i), kpf);
			say("  after MADV_UNMERGEABLE of pages %zu-%zu\n", a, b);
			count_error();
			return;
		}
	}
	__atomic_fetch_add(&sh->unmerged_checked, n, __ATOMIC_RELAXED);
}

static bool op_advise(enum op kind)
{
	struct region *r = pick_region(NULL);
	size_t a, b, i;
	int advice;

	if (!r)
		return false;
	pick_range(r, 256, &a, &b);
	switch (kind) {
	case OP_DONTNEED:
		advice = MADV_DONTNEED;
		break;
	case OP_FREE:
		advice = MADV_FREE;
		break;
	case OP_MERGEABLE:
		advice = MADV_MERGEABLE;
		break;
	default:
		advice = MADV_UNMERGEABLE;
		break;
	}
	/* MADV_DONTNEED and MADV_FREE drop what the pages held: check first. */
	if (kind == OP_DONTNEED || kind == OP_FREE)
		verify_range(r, a, b, kind == OP_DONTNEED ? "before MADV_DONTNEED" :
			     "before MADV_FREE");
	if (madvise(page_at(r, a), (b - a) * ksm_page_size, advice)) {
		if (kind == OP_UNMERGEABLE && (errno == ENOMEM || errno == EAGAIN)) {
			/* Some pages may be unmerged, none may have changed. */
			count_soft();
			verify_range(r, a, b, "after a failed MADV_UNMERGEABLE");
			return true;
		}
		say("madvise(%s) of pages %zu-%zu of %zu: %s\n", op_names[kind],
		    a, b, r->n, strerror(errno));
		count_error();
		return true;
	}
	switch (kind) {
	case OP_DONTNEED:
		for (i = a; i < b; i++) {
			r->keys[i] = 0;
			r->flags[i] &= ~F_LAZY;
		}
		verify_range(r, a, b, "after MADV_DONTNEED");
		break;
	case OP_FREE:
		for (i = a; i < b; i++)
			if (r->keys[i])
				r->flags[i] |= F_LAZY;
		break;
	case OP_MERGEABLE:
		for (i = a; i < b; i++)
			r->flags[i] |= F_MERG;
		break;
	case OP_UNMERGEABLE:
		check_unmerged(r, a, b);
		for (i = a; i < b; i++)
			r->flags[i] &= ~F_MERG;
		verify_range(r, a, b, "after MADV_UNMERGEABLE");
		break;
	default:
		break;
	}
	return true;
}

static bool op_mmap(void)
{
	bool huge;
	size_t n = draw_region_size(&huge);

	if (w.nreg > MAX_REGIONS - 2 || w.pages + n > w.max_pages)
		return false;
	new_region(n, huge);
	return true;
}

/* ---------------------------------------------------------------------- */
/* Children.                                                              */
/* ---------------------------------------------------------------------- */

static void run_ops(long long until, unsigned long nops);

/* Reap the children that are done; kill those due.  True if none left. */
static bool reap_kids(void)
{
	int i, status;
	pid_t ret;
	struct kid *k;

	for (i = 0; i < w.nkids; i++) {
		k = &w.kids[i];
		if (k->mode == OP_FORK_KILL && !k->killed && ksm_now_ms() >= k->kill_at) {
			kill(k->pid, SIGKILL);
			k->killed = true;
		}
		ret = waitpid(k->pid, &status, WNOHANG);
		if (ret == 0)
			continue;
		if (ret != k->pid) {
			say("waitpid %d: %s\n", k->pid, strerror(errno));
			count_error();
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			/* fine */
		} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && k->killed) {
			__atomic_fetch_add(&sh->kids_killed, 1, __ATOMIC_RELAXED);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 10) {
			/* Its mismatches are counted and printed already. */
		} else {
			if (WIFEXITED(status))
				say("child %d exited with %d\n", k->pid, WEXITSTATUS(status));
			else
				say("child %d killed by signal %d\n", k->pid, WTERMSIG(status));
			count_error();
		}
		w.kids[i--] = w.kids[--w.nkids];
	}
	return w.nkids == 0;
}

static int child_exit_code(void)
{
	fflush(stdout);
	return w.bad ? 10 : w.errors ? 11 : 0;
}

static bool op_fork(enum op mode)
{
	unsigned long nops = 20 + rnd(300);
	unsigned long long child_rng = ksm_rand(&w.rng);
	long long t0, kill_after = rnd(600);
	pid_t parent = getpid(), pid;
	int status;

	if (w.child || w.nkids >= MAX_KIDS)
		return false;
	w.nforks++;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		if (errno == EAGAIN || errno == ENOMEM) {
			count_soft();
			return true;
		}
		say("fork: %s\n", strerror(errno));
		count_error();
		return true;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(12);
		w.child = true;
		w.nkids = 0;
		w.rng = child_rng;
		w.tag = w.tag ^ (unsigned long long)w.nforks << 8;
		w.uniq = 0;
		w.bad = 0;
		w.errors = 0;
		snprintf(w.who_buf, sizeof(w.who_buf), "%s.c%d", w.who, w.nforks);
		w.who = w.who_buf;
		/* The inherited copy first, then the same mix on it. */
		verify_all("child, inherited");
		run_ops(ksm_deadline_ms, nops);
		verify_all("child, at its exit");
		_exit(child_exit_code());
	}
	__atomic_fetch_add(&sh->kids, 1, __ATOMIC_RELAXED);
	if (mode == OP_FORK_WAIT) {
		t0 = ksm_now_ms();
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (ksm_now_ms() - t0 > WIND_DOWN_MS) {
				say("child %d still running after %d s: killed\n", pid,
				    WIND_DOWN_MS / 1000);
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				count_error();
				return true;
			}
			usleep(1000);
		}
		if (!(WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
					    WEXITSTATUS(status) == 10))) {
			say("child %d: status %#x\n", pid, status);
			count_error();
		}
		/* What the child wrote must not show here. */
		verify_all("after a child's exit");
		return true;
	}
	w.kids[w.nkids++] = (struct kid){
		.pid = pid, .mode = mode, .kill_at = ksm_now_ms() + kill_after,
	};
	return true;
}

/* ---------------------------------------------------------------------- */
/* The mix.                                                               */
/* ---------------------------------------------------------------------- */

struct weight {
	enum op op;
	unsigned int w;
};

static const struct weight mix[] = {
	{ OP_WRITE, 300 }, { OP_HOT_WRITE, 100 }, { OP_SLOW_WRITE, 15 }, { OP_TOUCH, 60 },
	{ OP_VERIFY, 100 }, { OP_VERIFY_ALL, 4 },
	{ OP_FORK_WAIT, 6 }, { OP_FORK_EXIT, 8 }, { OP_FORK_KILL, 8 },
	{ OP_MUNMAP, 20 }, { OP_MREMAP_MOVE, 12 }, { OP_MREMAP_GROW, 10 },
	{ OP_MREMAP_SHRINK, 8 }, { OP_MREMAP_DONTUNMAP, 8 },
	{ OP_PROT_RO, 20 }, { OP_PROT_RW, 25 }, { OP_PROT_NONE, 6 },
	{ OP_DONTNEED, 25 }, { OP_FREE, 12 }, { OP_MERGEABLE, 35 },
	{ OP_UNMERGEABLE, 20 }, { OP_MMAP, 30 }, { OP_PAUSE, 40 },
};

static enum op draw_op(void)
{
	static unsigned int total;
	unsigned int i, x;

	if (!total)
		for (i = 0; i < ARRAY_SIZE(mix); i++)
			total += mix[i].w;
	x = rnd(total);
	for (i = 0; i < ARRAY_SIZE(mix); i++) {
		if (x < mix[i].w)
			return mix[i].op;
		x -= mix[i].w;
	}
	return OP_WRITE;
}

static bool do_op(enum op op)
{
	switch (op) {
	case OP_WRITE: return op_write(false);
	case OP_HOT_WRITE: return op_hot_write();
	case OP_SLOW_WRITE: return op_write(true);
	case OP_TOUCH: return op_touch();
	case OP_VERIFY: return op_verify();
	case OP_VERIFY_ALL:
		verify_all("verify all");
		return true;
	case OP_FORK_WAIT:
	case OP_FORK_EXIT:
	case OP_FORK_KILL: return op_fork(op);
	case OP_MUNMAP: return op_munmap();
	case OP_MREMAP_MOVE:
	case OP_MREMAP_GROW:
	case OP_MREMAP_SHRINK:
	case OP_MREMAP_DONTUNMAP: return op_mremap(op);
	case OP_PROT_RO:
	case OP_PROT_RW:
	case OP_PROT_NONE: return op_protect(op);
	case OP_DONTNEED:
	case OP_FREE:
	case OP_MERGEABLE:
	case OP_UNMERGEABLE: return op_advise(op);
	case OP_MMAP: return op_mmap();
	case OP_PAUSE:
		usleep(rnd(4000));
		return true;
	default: return false;
	}
}

/* Run the mix until @until (ms) or @nops operations (0: no limit). */
static void run_ops(long long until, unsigned long nops)
{
	unsigned long done = 0;
	enum op op;

	while (ksm_now_ms() < until && (!nops || done < nops)) {
		op = draw_op();
		/* Keep some memory around. */
		if (w.pages < w.max_pages / 4 && chance(50))
			op = OP_MMAP;
		if (do_op(op)) {
			count_op(op);
			done++;
		}
		if (w.nkids)
			reap_kids();
	}
}

static void worker(int wid, unsigned int life)
{
	long long until, t0;
	size_t n;
	bool huge;

	w.wid = wid;
	w.rng = ksm_rand_stream((unsigned long long)life << 8 | wid);
	w.tag = (unsigned long long)(wid + 1) << 24 | (life & 0xffff) << 8;
	w.max_pages = worker_pages;
	snprintf(w.who_buf, sizeof(w.who_buf), "w%d.%u", wid, life);
	w.who = w.who_buf;

	while (w.pages < w.max_pages / 2 && w.nreg < 6) {
		n = draw_region_size(&huge);
		if (w.pages + n > w.max_pages)
			break;
		new_region(n, huge);
	}
	/* A lifetime of its own, or the whole run. */
	until = ksm_deadline_ms;
	if (chance(60))
		until = ksm_now_ms() + 3000 + rnd(ksm_secs * 1000ULL);
	if (until > ksm_deadline_ms)
		until = ksm_deadline_ms;
	run_ops(until, 0);

	/* Wind down: the children first, then every page once more. */
	t0 = ksm_now_ms();
	while (!reap_kids()) {
		if (ksm_now_ms() - t0 > WIND_DOWN_MS) {
			say("%d children still running after %d s\n", w.nkids,
			    WIND_DOWN_MS / 1000);
			count_error();
			break;
		}
		usleep(2000);
	}
	verify_all("final check");
	if (until < ksm_deadline_ms)
		count_op(OP_WORKER_EXIT);
	_exit(child_exit_code());
}

/*
 * The hammer: a few pages that hold a hot key, whose first word it flips
 * back and forth without pause (bitwise not), checking it before each
 * flip; and beside them, pages of the same keys that it never writes, so
 * that a KSM page with each hot key is around.  Whenever ksmd finds a
 * hammered page equal to that KSM page, the next flip is on its way: a
 * flip that lands between ksmd's comparison and its write protection, or
 * after the protection through a stale TLB entry, must neither be lost nor
 * merged away.  Now and then a hammered page is checked whole and given
 * another hot key.
 */
static unsigned long long hammer_word(unsigned long long key, size_t i,
				      bool flip)
{
	unsigned long long v = ksm_mix64(key * 4099 + i);

	return flip && !i ? ~v : v;
}

/* Check a hammered page whole: -1 if right, else the first bad offset. */
static long hammer_check(const char *page, unsigned long long key, bool flip)
{
	const unsigned long long *v = (const unsigned long long *)page;
	size_t i, words = ksm_page_size / sizeof(*v);

	for (i = 0; i < words; i++)
		if (v[i] != hammer_word(key, i, flip))
			return i * sizeof(*v);
	return -1;
}

static void hammer(void)
{
	size_t words = ksm_page_size / sizeof(unsigned long long), i;
	unsigned long long keys[HAMMER_PAGES], *v, want, got, flips = 0, pfn;
	unsigned long long pfns[HAMMER_PAGES] = { 0 };
	bool flip[HAMMER_PAGES] = { false };
	struct region *anchors;
	long long until;
	char *area;
	long off;

	w.who = "hammer";
	w.rng = ksm_rand_stream(0x4a33e7ULL);
	area = mmap(NULL, HAMMER_PAGES * ksm_page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED ||
	    madvise(area, HAMMER_PAGES * ksm_page_size, MADV_MERGEABLE)) {
		say("setup: %s\n", strerror(errno));
		_exit(11);
	}
	for (i = 0; i < HAMMER_PAGES; i++) {
		keys[i] = 1 + i % NHOT;
		fill_words(area + i * ksm_page_size, keys[i], 0, words);
		pfns[i] = pagemap_of(area + i * ksm_page_size) & KSM_PM_PFN_MASK;
	}
	/* Two untouched pages of each hot key: they merge, and stay. */
	w.max_pages = 2 * NHOT;
	anchors = add_region(mmap(NULL, 2 * NHOT * ksm_page_size,
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 2 * NHOT);
	if (!anchors || anchors->addr == MAP_FAILED ||
	    madvise(anchors->addr, 2 * NHOT * ksm_page_size, MADV_MERGEABLE)) {
		say("setup: %s\n", strerror(errno));
		_exit(11);
	}
	for (i = 0; i < 2 * NHOT; i++) {
		anchors->keys[i] = 1 + i % NHOT;
		fill_words(page_at(anchors, i), anchors->keys[i], 0, words);
	}

	while (ksm_stress_running()) {
		until = ksm_now_ms() + HAMMER_MS;
		while (ksm_now_ms() < until) {
			for (i = 0; i < HAMMER_PAGES; i++) {
				v = (unsigned long long *)(area + i * ksm_page_size);
				want = hammer_word(keys[i], 0, flip[i]);
				got = __atomic_load_n(v, __ATOMIC_RELAXED);
				if (got != want) {
					if (w.reported++ < REPORT_MAX)
						say("MISMATCH: page %zu %p key %llu: %#llx\n",
						    i, v, keys[i], got);
					if (w.reported <= REPORT_MAX)
						say("  want %#llx, pagemap %#llx kpf %#llx\n",
						    want, pagemap_of(v), kpageflags_of(v));
					w.bad++;
					ksm_stress_verified(1, 1);
					/* Start again from the whole key. */
					flip[i] = false;
					fill_words((char *)v, keys[i], 0, words);
					continue;
				}
				flip[i] = !flip[i];
				__atomic_store_n(v, hammer_word(keys[i], 0, flip[i]),
						 __ATOMIC_RELAXED);
			}
			if (++flips % 256)
				continue;
			/* One page checked whole, and given a key again. */
			i = rnd(HAMMER_PAGES);
			/* A new pfn: merged (and copied on write) meanwhile. */
			pfn = pagemap_of(area + i * ksm_page_size) & KSM_PM_PFN_MASK;
			if (pfn != pfns[i])
				__atomic_fetch_add(&sh->hammer_moved, 1, __ATOMIC_RELAXED);
			pfns[i] = pfn;
			off = hammer_check(area + i * ksm_page_size, keys[i], flip[i]);
			if (off >= 0) {
				if (w.reported++ < REPORT_MAX)
					say("MISMATCH: page %zu key %llu flipped %d: offset %ld\n",
					    i, keys[i], flip[i], off);
				w.bad++;
			}
			ksm_stress_verified(1, off >= 0);
			keys[i] = 1 + rnd(NHOT);
			flip[i] = false;
			fill_words(area + i * ksm_page_size, keys[i], 0, words);
			count_op(OP_HAMMER);
		}
		usleep(HAMMER_REST_MS * 1000);
	}
	for (i = 0; i < HAMMER_PAGES; i++) {
		off = hammer_check(area + i * ksm_page_size, keys[i], flip[i]);
		if (off >= 0) {
			say("MISMATCH at the end: page %zu key %llu flipped %d: offset %ld\n",
			    i, keys[i], flip[i], off);
			w.bad++;
		}
		ksm_stress_verified(1, off >= 0);
	}
	verify_all("the untouched pages, at the end");
	__atomic_fetch_add(&sh->hammer_flips, flips * HAMMER_PAGES, __ATOMIC_RELAXED);
	_exit(child_exit_code());
}

/* ---------------------------------------------------------------------- */
/* The controller.                                                        */
/* ---------------------------------------------------------------------- */

/* Write a knob; @allowed: an error that may happen; returns -errno or 0. */
static int knob(const char *name, unsigned long val, int allowed, enum op op)
{
	int err = ksm_write_ulong(name, val);
	unsigned long now;

	if (!err) {
		count_op(op);
		if (strcmp(name, "run") && (ksm_try_read(name, &now) || now != val)) {
			say("%s reads %lu after writing %lu\n", name, now, val);
			count_error();
		}
		return 0;
	}
	if (err == -allowed)
		return err;
	say("writing %lu to %s: %s\n", val, name, strerror(-err));
	count_error();
	return err;
}

static unsigned long draw_max_sharing(void)
{
	static const unsigned long v[] = { 2, 2, 3, 4, 5, 8, 16, 32, 64, 256 };

	return v[rnd(ARRAY_SIZE(v))];
}

/*
 * After run=2, while the workers go on: the counters of rmap items
 * (pages_shared, pages_sharing, pages_unshared, pages_volatile) drain to
 * 0 (an mm that was exiting during the unmerge drops its items a moment
 * later).  stable_node_chains and stable_node_dups count stable nodes, which
 * stay while their KSM page lives on (mapped by such an exiting mm, or
 * still referenced): they are only reported here, and checked at the end.
 */
static bool check_drained(void)
{
	struct ksm_counters c;
	long long t0 = ksm_now_ms(), took;

	for (;;) {
		ksm_read_counters(&c);
		if (!c.shared && !c.sharing && !c.unshared && !c.vol)
			break;
		if (ksm_now_ms() - t0 > DRAIN_MS) {
			say("run=2: counters not 0 after %d ms: shared %ld sharing %ld\n",
			    DRAIN_MS, c.shared, c.sharing);
			say("  unshared %ld volatile %ld chains %ld dups %ld\n",
			    c.unshared, c.vol, c.chains, c.dups);
			count_error();
			return false;
		}
		usleep(KSM_POLL_US);
	}
	took = ksm_now_ms() - t0;
	__atomic_fetch_add(&sh->drains, 1, __ATOMIC_RELAXED);
	if ((unsigned long long)took > sh->drain_ms_max)
		sh->drain_ms_max = took;
	if (c.chains || c.dups)
		__atomic_fetch_add(&sh->drains_nodes_left, 1, __ATOMIC_RELAXED);
	return true;
}

/* True if run was set (and, for run=2, every page unmerged). */
static bool set_run(unsigned long run)
{
	int allowed = run == 2 ? ENOMEM : 0;
	int err = knob("run", run, allowed, run == 0 ? OP_RUN0 : run == 1 ? OP_RUN1 : OP_RUN2);

	if (err == -ENOMEM) {
		count_soft();
		return false;
	}
	if (!err)
		__atomic_store_n(&sh->controller_run, run, __ATOMIC_RELAXED);
	if (!err && run == 2)
		return check_drained();
	return !err;
}

static void controller(void)
{
	bool numa = ksm_file_exists("merge_across_nodes");
	long long last_unmerge;
	unsigned long pts;
	unsigned int x;

	w.who = "ctl";
	w.rng = ksm_rand_stream(0xc0117011ULL);
	last_unmerge = ksm_now_ms();
	/*
	 * A change every 0.1 to 1 s; ksmd stopped (run=0) for up to 0.8 s
	 * about every 10 s, everything unmerged (run=2) about every 20 s and
	 * at least every 25 s: merging must stay the rule.
	 */
	while (ksm_stress_running()) {
		usleep(100000 + rnd(900000));
		if (!ksm_stress_running())
			break;
		x = rnd(100);
		/* At least one run=2 every 25 s, whatever the draws. */
		if (ksm_now_ms() - last_unmerge > 25000)
			x = 99;
		if (x >= 97)
			last_unmerge = ksm_now_ms();
		if (x < 40) {
			if (chance(75))
				pts = 2000 + rnd(3001);
			else
				pts = 10 + rnd(chance(50) ? 200 : 4991);
			knob("pages_to_scan", pts, 0, OP_PAGES_TO_SCAN);
		} else if (x < 60) {
			knob("sleep_millisecs", chance(85) ? 0 : 1 + rnd(20), 0, OP_SLEEP);
		} else if (x < 73) {
			knob("use_zero_pages", rnd(2), 0, OP_ZERO_PAGES);
		} else if (x < 84) {
			/* Mostly refused: there are KSM pages. */
			if (knob("max_page_sharing", draw_max_sharing(), EBUSY,
				 OP_MAX_SHARING) == -EBUSY)
				count_op(OP_MAX_SHARING_BUSY);
		} else if (x < 91) {
			knob("stable_node_chains_prune_millisecs",
			     chance(50) ? rnd(50) : rnd(3000), 0, OP_PRUNE);
		} else if (x < 97) {
			/* Stop ksmd for a while. */
			set_run(0);
			usleep(50000 + rnd(750000));
			set_run(1);
		} else {
			/*
			 * Unmerge everything; change what needs no KSM pages.
			 * EBUSY is still right after a drained run=2: a KSM
			 * page forked during the unmerge, or mapped by an mm
			 * past ksm_exit() but not yet unmapped, keeps its
			 * node.  The end of the run checks the knobs again
			 * with no process left.
			 */
			set_run(2);
			if (chance(70) &&
			    knob("max_page_sharing", draw_max_sharing(), EBUSY,
				 OP_MAX_SHARING) == -EBUSY)
				count_op(OP_MAX_SHARING_BUSY);
			if (numa && chance(25) &&
			    knob("merge_across_nodes", rnd(2), EBUSY,
				 OP_ACROSS_NODES) == -EBUSY)
				count_op(OP_ACROSS_NODES_BUSY);
			usleep(rnd(500000));
			set_run(1);
		}
	}
	fflush(stdout);
	_exit(w.errors ? 11 : 0);
}

/* ---------------------------------------------------------------------- */
/* The parent: start, sample, end.                                        */
/* ---------------------------------------------------------------------- */

struct samples {
	unsigned long max_shared, max_sharing, max_chains, max_dups;
	unsigned long scans, last_scans;
	unsigned long n, merged_samples;
};

static void sample(struct samples *s)
{
	struct ksm_counters c;
	unsigned long scans;

	ksm_read_counters(&c);
	if ((unsigned long)c.shared > s->max_shared)
		s->max_shared = c.shared;
	if ((unsigned long)c.sharing > s->max_sharing)
		s->max_sharing = c.sharing;
	if ((unsigned long)c.chains > s->max_chains)
		s->max_chains = c.chains;
	if ((unsigned long)c.dups > s->max_dups)
		s->max_dups = c.dups;
	if (c.sharing)
		s->merged_samples++;
	s->n++;
	/* run=2 sets full_scans back to 0. */
	scans = ksm_full_scans();
	if (scans > s->last_scans)
		s->scans += scans - s->last_scans;
	s->last_scans = scans;
}

static void progress(long long ms, const struct samples *s)
{
	struct ksm_counters c;

	ksm_read_counters(&c);
	ksft_print_msg("%llds: ops %llu verified %llu mismatches %llu errors %llu\n",
		       ms / 1000, ksm_stats->ops, ksm_stats->verified,
		       ksm_stats->mismatches, sh->errors);
	ksft_print_msg("  shared %ld sharing %ld chains %ld dups %ld, %lu scans, run=%d\n",
		       c.shared, c.sharing, c.chains, c.dups, s->scans,
		       sh->controller_run);
}

static pid_t start_worker(int wid, unsigned int life)
{
	pid_t pid = ksm_fork();

	if (!pid)
		worker(wid, life);
	return pid;
}

static unsigned int respawns;

/*
 * One of ours ended: pids[0..nworkers) are the workers, then the
 * controller and the hammer.  Status 0 is fine, 10 means mismatches
 * (counted and printed already), anything else is an error.  A worker that
 * ends before the deadline gets a successor.
 */
static void reaped(pid_t *pids, unsigned int *lives, pid_t pid, int status)
{
	static const char *const role[] = { "the controller", "the hammer" };
	unsigned int i;

	for (i = 0; i < nworkers + 2 && pids[i] != pid; i++)
		;
	if (i == nworkers + 2)
		return;
	pids[i] = 0;
	if (!(WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
				    WEXITSTATUS(status) == 10))) {
		if (i < nworkers)
			ksft_print_msg("worker %u: status %#x\n", i, status);
		else
			ksft_print_msg("%s: status %#x\n", role[i - nworkers], status);
		__atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED);
	}
	if (i < nworkers && ksm_stress_running()) {
		pids[i] = start_worker(i, ++lives[i]);
		respawns++;
	}
}

static bool final_drain(long long *took)
{
	long long t0 = ksm_now_ms();
	struct ksm_counters c;
	int err;

	/* run=2 again would do nothing: the unmerge and purge need a change. */
	err = ksm_read("run") == 2 ? ksm_write_ulong("run", 0) : 0;
	if (err) {
		ksft_print_msg("writing 0 to run at the end: %s\n", strerror(-err));
		return false;
	}
	t0 = ksm_now_ms();
	err = ksm_write_ulong("run", 2);
	if (err) {
		ksft_print_msg("writing 2 to run at the end: %s\n", strerror(-err));
		return false;
	}
	for (;;) {
		ksm_read_counters(&c);
		if (!c.shared && !c.sharing && !c.unshared && !c.vol && !c.chains &&
		    !c.dups)
			break;
		if (ksm_now_ms() - t0 > FINAL_DRAIN_MS) {
			ksm_print_counters("after run=2 with no worker left");
			return false;
		}
		usleep(KSM_POLL_US);
	}
	*took = ksm_now_ms() - t0;
	return true;
}

/*
 * With no process left and everything unmerged, the knobs that need no
 * KSM pages must take a new value (mid-run, EBUSY may be right).
 */
static bool knobs_free(void)
{
	unsigned long mps = ksm_read("max_page_sharing");
	int err;

	err = ksm_write_ulong("max_page_sharing", mps == 256 ? 64 : 256);
	if (!err && ksm_file_exists("merge_across_nodes"))
		err = ksm_write_ulong("merge_across_nodes",
				      !ksm_read("merge_across_nodes"));
	if (err)
		ksft_print_msg("a knob that needs no KSM pages refused with none: %s\n",
			       strerror(-err));
	return !err;
}

static void env_size(const char *name, size_t *val, size_t min, size_t max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return;
	v = strtoul(s, &end, 0);
	if (*end || v < min || v > max)
		ksft_exit_fail_msg("%s=%s: want %zu..%zu\n", name, s, min, max);
	*val = v;
}

int main(int argc, char **argv)
{
	pid_t pids[MAX_WORKERS + 2];
	unsigned int lives[MAX_WORKERS], i;
	struct samples s = { 0 };
	long long next_print, t0, drain_ms = -1;
	unsigned long mps;
	bool drained, ok_errors;
	size_t nw = nworkers;
	int status;
	pid_t pid;

	ksm_stress_init(argc, argv, DEFAULT_SECS);
	env_size("KSM_CHURN_WORKERS", &nw, 1, MAX_WORKERS);
	env_size("KSM_CHURN_PAGES", &worker_pages, 256, 1 << 20);
	nworkers = nw;
	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(4000, 0, ksm_stress_watchdog());

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	w.who = "main";
	w.rng = ksm_rand_stream(0xffff);
	mps = draw_max_sharing();
	ksm_set("max_page_sharing", mps);
	ksm_set("use_zero_pages", rnd(2));
	ksm_set("stable_node_chains_prune_millisecs", rnd(2000));
	ksft_print_msg("%u workers x %zu pages at most, %d keys (%d hot), max_page_sharing %lu\n",
		       nworkers, worker_pages, NSHARED, NHOT, mps);
	ksm_set("run", 1);
	sh->controller_run = 1;

	for (i = 0; i < nworkers; i++) {
		lives[i] = 0;
		pids[i] = start_worker(i, 0);
	}
	/* After the workers: the controller, then the hammer. */
	pids[nworkers] = ksm_fork();
	if (!pids[nworkers])
		controller();
	pids[nworkers + 1] = ksm_fork();
	if (!pids[nworkers + 1])
		hammer();

	t0 = ksm_now_ms();
	next_print = t0 + 10000;
	while (ksm_stress_running()) {
		sample(&s);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			reaped(pids, lives, pid, status);
		if (ksm_now_ms() >= next_print) {
			next_print += 10000;
			progress(ksm_now_ms() - t0, &s);
		}
		usleep(100000);
	}

	/* Every process stops by itself. */
	t0 = ksm_now_ms();
	for (;;) {
		bool left = false;

		for (i = 0; i < nworkers + 2; i++)
			left |= pids[i] > 0;
		if (!left)
			break;
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			reaped(pids, lives, pid, status);
			continue;
		}
		if (ksm_now_ms() - t0 > WIND_DOWN_MS + 30000) {
			ksft_print_msg("processes still running %d s after the end: killed\n",
				       (WIND_DOWN_MS + 30000) / 1000);
			__atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED);
			for (i = 0; i < nworkers + 2; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			while (waitpid(-1, &status, 0) > 0)
				;
			break;
		}
		sample(&s);
		usleep(20000);
	}
	sample(&s);
	drained = final_drain(&drain_ms);

	ksft_print_msg("operations:\n");
	for (i = 0; i < NR_OPS; i++)
		if (sh->op[i])
			ksft_print_msg("  %-26s %llu\n", op_names[i], sh->op[i]);
	ksft_print_msg("%llu children forked (%llu killed), %u workers replaced\n",
		       sh->kids, sh->kids_killed, respawns);
	ksft_print_msg("%llu pages checked not KSM after MADV_UNMERGEABLE\n",
		       sh->unmerged_checked);
	ksft_print_msg("hammer: %llu flips, pages seen on a new pfn (merged) %llu times\n",
		       sh->hammer_flips, sh->hammer_moved);
	ksft_print_msg("max pages_shared %lu, pages_sharing %lu, stable_node_chains %lu\n",
		       s.max_shared, s.max_sharing, s.max_chains);
	ksft_print_msg("max stable_node_dups %lu; %lu full scans; merged in %lu of %lu samples\n",
		       s.max_dups, s.scans, s.merged_samples, s.n);
	ksft_print_msg("run=2 mid-run: drained %llu times (slowest %llu ms), nodes left %llu\n",
		       sh->drains, sh->drain_ms_max, sh->drains_nodes_left);
	ksft_print_msg("%llu ENOMEM/EAGAIN where allowed; %llu unexpected errors\n",
		       sh->soft, sh->errors);
	if (drained)
		ksft_print_msg("counters 0 %lld ms after the final run=2\n", drain_ms);

	/* Out of memory or pids now and then, not as a rule. */
	ok_errors = sh->errors == 0 && sh->soft * 100 <= ksm_stats->ops;
	ksft_test_result(ksm_stats->mismatches == 0 && ksm_stats->verified > 0,
			 "every page held its key: %llu verified, %llu mismatches (seed %llu)\n",
			 ksm_stats->verified, ksm_stats->mismatches, ksm_seed);
	ksft_test_result(ok_errors,
			 "no unexpected error from a call, a knob or a process; ENOMEM/EAGAIN in at most 1%% of %llu operations\n",
			 ksm_stats->ops);
	ksft_test_result(s.max_sharing > 0 && s.scans >= 2,
			 "KSM merged during the run (max pages_sharing %lu), in %lu full scans (2 at least)\n",
			 s.max_sharing, s.scans);
	ksft_test_result(drained,
			 "every counter 0 after run=2 once every worker had exited\n");
	ksft_test_result(drained && knobs_free(),
			 "then max_page_sharing and merge_across_nodes take new values\n");
	if (!ksm_stress_summary())
		ksft_print_msg("mismatches: the run fails (repeat: %s -s %llu -t %u)\n",
			       ksm_prog, ksm_seed, ksm_secs);
	ksft_finished();
}
