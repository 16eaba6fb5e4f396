// SPDX-License-Identifier: GPL-2.0
/*
 * Memory hot-remove of a memory block that holds KSM pages.
 *
 * Which block.  The guest boots with movablecore=, so the top of each node
 * is ZONE_MOVABLE.  Only an online memory block (/sys/devices/system/
 * memory/memoryX) whose valid_zones reads exactly "Movable" is a
 * candidate: a block that straddles two zones reads "none" and cannot be
 * offlined.  Not every candidate can be offlined either: in the test guest
 * (2 GiB, numa=fake=2, movablecore=512M: the top 256 MiB of each node, two
 * blocks of 128 MiB, is Movable) the top block of node 0 holds boot-time
 * reserved pages (offline: EBUSY, "unmovable page"), the top block of node
 * 1 has holes (EINVAL), and node 0's lower Movable block straddles Normal
 * and Movable (its memory has holes, the zone start is not block aligned);
 * node 1's lower Movable block is the one that goes offline.  The test
 * hard-codes none of that: it tries the candidates one by one.
 *
 * Why fill a node.  Where ksmd's KSM pages land is up to the allocator, so
 * merging a small area and looking for a Movable block that happens to
 * hold some of them is a gamble.  Instead, for one node at a time (the
 * node with the most candidate blocks first, then by node id), the test
 * maps an area bound to the node (MPOL_BIND, no THP) as big as the node's
 * Movable zone (its managed pages in /proc/zoneinfo, at most 320 MiB) and
 * populates it (MADV_POPULATE_WRITE: a write fault per page).  ZONE_MOVABLE
 * is the first choice for user pages (down to its low watermark, then the
 * node's Normal zone), so the zone's blocks fill up with the area's pages,
 * whatever the allocator's order.  In every candidate block of the node
 * (one holding fewer than 2 * NP + NC of the area's pages is not used),
 * pagemap then names 2 * NP + NC of them: NP pairs (x_i, y_i)
 * get key k(b, i) (distinct per block and pair), NC pages the block's
 * common key, and each of those pages alone is made MADV_MERGEABLE (the
 * rest of the area is not).  KSM merges in place: a pair becomes one of its
 * own two pages, so every KSM page is inside its block.  Per block:
 * NP + 1 KSM pages, pages_sharing NP + NC - 1.
 *
 *  1. set-up: ksmd merges; exactly pages_shared = nb * (NP + 1),
 *     pages_sharing = nb * (NP + NC - 1), the rest 0 (nb: blocks set up);
 *     x_i and y_i map one KSM pfn, the NC pages one, all distinct, each
 *     inside its block; every page holds its key.  ksmd is stopped (run=0);
 *  2. the node's candidate blocks are offlined one by one (EBUSY/EAGAIN
 *     retried a few times, EINVAL taken as "cannot be offlined"): one goes
 *     offline, and it held all its NP + 1 KSM pages just before.  If none
 *     does, the area is unmapped and the next node is tried.  Offlining
 *     migrates every page out of the block, the KSM pages included (the
 *     stable node must follow its page), then KSM's memory notifier
 *     (MEM_OFFLINE) sweeps the nodes that still name a pfn in the block;
 *  3. afterwards every chosen page (of every block set up) holds its key;
 *  4. every KSM page still is one, x_i and y_i still map one pfn, the NC
 *     pages one, all distinct, none inside the offlined block;
 *  5. the counters are exactly what they were;
 *  6. run=1: area C (not bound), holding k(b, i) of the offlined block's
 *     pairs and its common key (NP + 1 pages), merges into the moved KSM
 *     pages: pages_shared unchanged, pages_sharing grows by exactly NP + 1,
 *     C[i] maps x_i's pfn, C[NP] the common KSM page;
 *  7. the block is onlined again (online_movable; also on every failure
 *     path: atexit and the fatal signals) and reads "online";
 *  8. run=2 brings every counter back to 0.
 * A KSM that loses a stable node in migration, or leaves its kpfn behind
 * (the MEM_OFFLINE sweep then drops it), shows as a pages_shared that
 * drops, as pages that are no longer KSM, as x_i and y_i torn apart or as
 * C making KSM pages of its own; one whose KSM pages cannot be migrated
 * makes the offline fail or hang (bounded by a timer: the write is
 * interrupted after OFFLINE_TIMEOUT_S).  No offlinable Movable block is a
 * failure of the set-up (movablecore=), not a SKIP; only a kernel without
 * memory hotplug/hot-remove (no sysfs memory blocks, no valid_zones) is a
 * SKIP.  Run time: populating up to 320 MiB and migrating up to one block
 * (32768 pages), a few seconds per node even on TCG.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <dirent.h>
#include "ksm_util.h"

#define NP		64		/* pairs per block */
#define NC		16		/* pages with the block's common key */
#define NSEL		(2 * NP + NC)	/* pages of the area used per block */
#define NKSM		(NP + 1)	/* KSM pages per block */
#define SHARING_BLK	(NP + NC - 1)	/* pages_sharing per block */
#define AREA_CAP	(320ULL << 20)
#define KEY_BASE	7000000ULL

#define MEM_DIR			"/sys/devices/system/memory"
#define NODE_DIR		"/sys/devices/system/node"
#define OFFLINE_TIMEOUT_S	30
#define BUSY_RETRIES		10
#define MAX_CANDS		64
#define MAX_NODES		64
#define NR_CASES		8

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/* An online block of zone Movable. */
struct cand {
	unsigned long id;		/* memoryX */
	int node;
	size_t nours;			/* pages of the area in the block */
	bool usable;			/* pages chosen and merged in it */
	/* Indexes in the area: x_i = pg[2i], y_i = pg[2i + 1], then NC. */
	size_t pg[NSEL];
	/* The KSM pfn of pair i ([NP]: the common key): merged, last check. */
	unsigned long long before[NKSM];
	unsigned long long cur[NKSM];
	bool tried;
	int err;			/* offline: 0 or -errno */
};

static struct cand cands[MAX_CANDS];
static int ncands;
static int cur_node = -1;	/* the node whose area is mapped */
static int nb_used;		/* its blocks with pages chosen */
static char *big;		/* the area bound to cur_node */
static size_t big_pages;
static char *area_c;
static int pm_fd = -1;
static unsigned long long block_size;

/* The block this program offlined, to be onlined again on every path. */
static char restore_path[128];
static volatile sig_atomic_t block_is_offline;

/* ---------------------------------------------------------------------- */
/* Memory block sysfs files.                                              */
/* ---------------------------------------------------------------------- */

static void block_file(char *path, size_t len, unsigned long block, const char *file)
{
	snprintf(path, len, MEM_DIR "/memory%lu/%s", block, file);
}

/* @file of block @block into @buf, newline stripped: 0 or -errno. */
static int block_read(unsigned long block, const char *file, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd, err;

	block_file(path, sizeof(path), block, file);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		err = errno;
		snprintf(buf, len, "(%s)", strerror(err));
		return -err;
	}
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0) {
		snprintf(buf, len, "(%s)", strerror(err));
		return -err;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int block_write(unsigned long block, const char *file, const char *val)
{
	char path[128];
	ssize_t n;
	int fd, err;

	block_file(path, sizeof(path), block, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == strlen(val) ? 0 : -EIO;
}

static void nop_handler(int sig)
{
}

/*
 * Write @val to the block's state, interrupted (EINTR) if it takes more
 * than @timeout_s: offline_pages() retries migration for as long as no
 * signal is pending.  The timer repeats every second after that, in case
 * the first signal lands before the offline started.
 */
static int block_write_state(unsigned long block, const char *val, int timeout_s)
{
	struct itimerspec its = { { 1, 0 }, { timeout_s, 0 } };
	struct sigevent sev;
	timer_t timer;
	int err;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer))
		ksft_exit_fail_msg("timer_create: %s\n", strerror(errno));
	if (timer_settime(timer, 0, &its, NULL))
		ksft_exit_fail_msg("timer_settime: %s\n", strerror(errno));
	err = block_write(block, "state", val);
	timer_delete(timer);
	return err;
}

/* Online the block we offlined: from atexit and from the fatal signals. */
static void restore_block_raw(void)
{
	static const char msg[] = "# restoring the offlined memory block: online_movable\n";
	static const char fail[] = "# writing online_movable failed\n";
	ssize_t n = -1;
	int fd;

	if (!block_is_offline || getpid() != ksm_owner_pid)
		return;
	block_is_offline = 0;
	fd = open(restore_path, O_WRONLY);
	if (fd >= 0) {
		n = write(fd, "online_movable", 14);
		close(fd);
	}
	if (write(STDOUT_FILENO, n == 14 ? msg : fail,
		  n == 14 ? sizeof(msg) - 1 : sizeof(fail) - 1) < 0)
		return;
}

static const int fatal_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGSEGV,
				  SIGBUS, SIGABRT };
static struct sigaction old_actions[ARRAY_SIZE(fatal_sigs)];

static void fatal_handler(int sig)
{
	unsigned int i;

	restore_block_raw();
	/* Then what ksm_selftest_init() installed: restore knobs, exit. */
	for (i = 0; i < ARRAY_SIZE(fatal_sigs); i++) {
		if (fatal_sigs[i] != sig)
			continue;
		if (old_actions[i].sa_handler != SIG_DFL &&
		    old_actions[i].sa_handler != SIG_IGN)
			old_actions[i].sa_handler(sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(KSFT_FAIL);
}

static void install_restore(void)
{
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nop_handler;	/* no SA_RESTART: the write sees EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	/* A reader of stdout that goes away must not stop the clean-up. */
	signal(SIGPIPE, SIG_IGN);

	sa.sa_handler = fatal_handler;
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < ARRAY_SIZE(fatal_sigs); i++)
		sigaction(fatal_sigs[i], &sa, &old_actions[i]);
	atexit(restore_block_raw);
}

static void need_hotremove(void)
{
	char buf[64] = "", *end;
	ssize_t n;
	int fd;

	fd = open(MEM_DIR "/block_size_bytes", O_RDONLY);
	if (fd < 0)
		ksft_exit_skip("no %s/block_size_bytes: kernel without CONFIG_MEMORY_HOTPLUG\n",
			       MEM_DIR);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		ksft_exit_fail_msg("cannot read %s/block_size_bytes\n", MEM_DIR);
	buf[n] = '\0';
	block_size = strtoull(buf, &end, 16);
	if (!block_size || block_size % ksm_page_size)
		ksft_exit_fail_msg("block_size_bytes reads \"%s\"\n", buf);
	ksft_print_msg("memory block size 0x%llx bytes (%llu pages)\n", block_size,
		       block_size / ksm_page_size);
}

static unsigned long block_of(unsigned long long pfn)
{
	return pfn * ksm_page_size / block_size;
}

/*
 * The node of block @id: its nodeN link, else the node whose directory
 * links to it; -1 if none or more than one.
 */
static int block_node(unsigned long id)
{
	int node = -1, found = 0, n;
	char path[160], c;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), MEM_DIR "/memory%lu", id);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			if (sscanf(e->d_name, "node%d%c", &n, &c) != 1 || n < 0)
				continue;
			node = n;
			found++;
		}
		closedir(d);
	}
	if (found)
		return found == 1 ? node : -1;
	for (n = 0; n < MAX_NODES; n++) {
		snprintf(path, sizeof(path), NODE_DIR "/node%d/memory%lu", n, id);
		if (access(path, F_OK))
			continue;
		node = n;
		found++;
	}
	return found == 1 ? node : -1;
}

static int cmp_cand(const void *a, const void *b)
{
	unsigned long x = ((const struct cand *)a)->id;
	unsigned long y = ((const struct cand *)b)->id;

	return x < y ? -1 : x > y;
}

#define KPF_RESERVED	32

/*
 * Does block @id hold a reserved page (boot memory, /proc/kpageflags)?
 * Offlining such a block fails, and the kernel dumps the page to its log
 * as an "unmovable page", which the lab counts as a kernel problem: such a
 * block is not a candidate.  -1 if kpageflags cannot be read.
 */
static int block_reserved(unsigned long id)
{
	unsigned long long pfn = id * (block_size / ksm_page_size), flags[512];
	unsigned long long end = pfn + block_size / ksm_page_size;
	int fd = open("/proc/kpageflags", O_RDONLY), ret = 0;
	ssize_t got;
	size_t i;

	if (fd < 0)
		return -1;
	for (; pfn < end && !ret; pfn += ARRAY_SIZE(flags)) {
		got = pread(fd, flags, sizeof(flags), pfn * sizeof(flags[0]));
		if (got != sizeof(flags)) {
			ret = -1;
			break;
		}
		for (i = 0; i < ARRAY_SIZE(flags); i++)
			if (flags[i] & (1ULL << KPF_RESERVED))
				ret = 1;
	}
	close(fd);
	return ret;
}

/*
 * Every online block whose valid_zones reads "Movable" and that holds no
 * reserved page, into cands[].
 */
static void scan_blocks(void)
{
	char state[48], zone[48], c;
	struct dirent *e;
	unsigned long id;
	int node, err;
	DIR *d;

	d = opendir(MEM_DIR);
	if (!d)
		ksft_exit_skip("no %s: kernel without CONFIG_MEMORY_HOTPLUG\n", MEM_DIR);
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, "memory%lu%c", &id, &c) != 1)
			continue;
		err = block_read(id, "state", state, sizeof(state));
		if (err == -ENOENT)
			ksft_exit_skip("no %s/memory%lu/state: kernel without memory hotplug\n",
				       MEM_DIR, id);
		if (strcmp(state, "online"))
			continue;
		err = block_read(id, "valid_zones", zone, sizeof(zone));
		if (err == -ENOENT)
			ksft_exit_skip("no %s/memory%lu/valid_zones: no CONFIG_MEMORY_HOTREMOVE\n",
				       MEM_DIR, id);
		if (strcmp(zone, "Movable")) {
			if (!strcmp(zone, "none") || strstr(zone, "Movable"))
				ksft_print_msg("block %lu: valid_zones \"%s\": not a candidate\n",
					       id, zone);
			continue;
		}
		err = block_reserved(id);
		if (err) {
			ksft_print_msg("block %lu: valid_zones \"Movable\", %s: not a candidate\n",
				       id, err > 0 ? "reserved pages" : "no /proc/kpageflags");
			continue;
		}
		node = block_node(id);
		if (node < 0 || node >= MAX_NODES || ncands == MAX_CANDS) {
			ksft_print_msg("block %lu: valid_zones \"Movable\", node %d: ignored\n",
				       id, node);
			continue;
		}
		memset(&cands[ncands], 0, sizeof(cands[ncands]));
		cands[ncands].id = id;
		cands[ncands].node = node;
		ncands++;
	}
	closedir(d);
	qsort(cands, ncands, sizeof(cands[0]), cmp_cand);
}

/* The nodes with candidates, the one with the most first (ties: lower id). */
static int order_nodes(int *order)
{
	int count[MAX_NODES] = { 0 };
	int i, n, best, norder = 0;

	for (i = 0; i < ncands; i++)
		count[cands[i].node]++;
	for (;;) {
		best = -1;
		for (n = 0; n < MAX_NODES; n++)
			if (count[n] && (best < 0 || count[n] > count[best]))
				best = n;
		if (best < 0)
			break;
		ksft_print_msg("node %d: %d candidate block(s):", best, count[best]);
		for (i = 0; i < ncands; i++)
			if (cands[i].node == best)
				printf(" %lu", cands[i].id);
		printf("\n");
		order[norder++] = best;
		count[best] = 0;
	}
	return norder;
}

/* "managed" of "Node @node, zone Movable" in /proc/zoneinfo; 0 if none. */
static unsigned long movable_managed(int node)
{
	char line[256], zname[32];
	unsigned long v, res = 0;
	bool in = false;
	FILE *f;
	int n;

	f = fopen("/proc/zoneinfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %31s", &n, zname) == 2) {
			if (in)
				break;
			in = n == node && !strcmp(zname, "Movable");
			continue;
		}
		if (in && sscanf(line, " managed %lu", &v) == 1) {
			res = v;
			break;
		}
	}
	fclose(f);
	return res;
}

/* ---------------------------------------------------------------------- */
/* Pages.                                                                 */
/* ---------------------------------------------------------------------- */

static unsigned long long pfn_of(const void *addr)
{
	off_t off = (unsigned long)addr / ksm_page_size * sizeof(unsigned long long);
	unsigned long long ent;

	if (pread(pm_fd, &ent, sizeof(ent), off) != sizeof(ent))
		ksft_exit_fail_msg("read /proc/self/pagemap: %s\n", strerror(errno));
	return ent & KSM_PM_PRESENT ? ent & KSM_PM_PFN_MASK : 0;
}

/* The pfns of @npages pages at @base (0: not present), in one go. */
static void pfns_of(const char *base, size_t npages, unsigned long long *pfn)
{
	size_t done = 0, i;
	ssize_t n;
	off_t off;

	while (done < npages) {
		off = (unsigned long)ksm_page_addr((void *)base, done) / ksm_page_size *
		      sizeof(*pfn);
		n = pread(pm_fd, pfn + done, (npages - done) * sizeof(*pfn), off);
		if (n <= 0 || n % sizeof(*pfn))
			ksft_exit_fail_msg("read /proc/self/pagemap: %zd, %s\n", n,
					   strerror(errno));
		done += n / sizeof(*pfn);
	}
	for (i = 0; i < npages; i++)
		pfn[i] = pfn[i] & KSM_PM_PRESENT ? pfn[i] & KSM_PM_PFN_MASK : 0;
}

static bool pfn_is_ksm(unsigned long long pfn)
{
	long long flags = pfn ? ksm_kpage("/proc/kpageflags", pfn) : -1;

	return flags >= 0 && (flags & KSM_KPF_KSM);
}

/* Key of pair @i of @c; i == NP: the block's common key. */
static unsigned long long key_of(const struct cand *c, int i)
{
	return KEY_BASE + c->id * 256 + i;
}

/* Chosen page @j of @c: its address and its key. */
static char *sel_addr(const struct cand *c, int j)
{
	return ksm_page_addr(big, c->pg[j]);
}

static unsigned long long sel_key(const struct cand *c, int j)
{
	return key_of(c, j < 2 * NP ? j / 2 : NP);
}

/* KSM page @i of @c (pair i, or the common key): its first page, how many. */
static int ksm_first(int i)
{
	return i < NP ? 2 * i : 2 * NP;
}

static int ksm_count(int i)
{
	return i < NP ? 2 : NC;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* Sort @v and count its distinct values. */
static size_t distinct(unsigned long long *v, size_t n)
{
	size_t i, d = 0;

	qsort(v, n, sizeof(*v), cmp_ull);
	for (i = 0; i < n; i++)
		if (!i || v[i] != v[i - 1])
			d++;
	return d;
}

/* From @c on, the first block of cur_node with pages chosen, or NULL. */
static struct cand *used_from(struct cand *c)
{
	for (; c < cands + ncands; c++)
		if (c->node == cur_node && c->usable)
			return c;
	return NULL;
}

#define for_each_used(c) for (c = used_from(cands); c; c = used_from(c + 1))

/* Print the first few problems a check finds, count them all. */
static int problems;

static void problem(const char *fmt, ...)
{
	va_list ap;

	if (problems++ >= 8)
		return;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	va_end(ap);
}

/*
 * KSM page @i of @c (pair i, or the common key): all its pages map one
 * pfn, a KSM page, inside the block if @own, not in block @avoid (if >= 0).
 * Returns that pfn.
 */
static unsigned long long check_ksm(const struct cand *c, int i, long avoid, bool own,
				    const char *what)
{
	unsigned long long p0 = pfn_of(sel_addr(c, ksm_first(i))), p;
	int j;

	for (j = 1; j < ksm_count(i); j++) {
		p = pfn_of(sel_addr(c, ksm_first(i) + j));
		if (!p0 || p != p0)
			problem("%s: block %lu key %d: page %d maps pfn %llx, page %d %llx\n",
				what, c->id, i, ksm_first(i) + j, p, ksm_first(i), p0);
	}
	if (!pfn_is_ksm(p0))
		problem("%s: block %lu key %d: pfn %llx not KSM (kpageflags %llx)\n",
			what, c->id, i, p0,
			p0 ? (unsigned long long)ksm_kpage("/proc/kpageflags", p0) : 0ULL);
	if (own && (!p0 || block_of(p0) != c->id))
		problem("%s: block %lu key %d: KSM pfn %llx outside the block\n",
			what, c->id, i, p0);
	if (avoid >= 0 && p0 && block_of(p0) == (unsigned long)avoid)
		problem("%s: block %lu key %d: KSM pfn %llx in offlined block %ld\n",
			what, c->id, i, p0, avoid);
	return p0;
}

/*
 * Every pair of every block set up maps one KSM pfn, the common-key pages
 * one, all distinct; each inside its own block if @own; none in block
 * @avoid (if >= 0).  The pfns into c->cur[].
 */
static bool check_pairs(long avoid, bool own, const char *what)
{
	static unsigned long long all[MAX_CANDS * NKSM];
	size_t n = 0, d;
	struct cand *c;
	int i;

	problems = 0;
	for_each_used(c) {
		for (i = 0; i < NKSM; i++) {
			c->cur[i] = check_ksm(c, i, avoid, own, what);
			all[n++] = c->cur[i];
		}
	}
	d = distinct(all, n);
	if (d != n)
		problem("%s: %zu distinct KSM pfns, expected %zu\n", what, d, n);
	if (problems)
		ksft_print_msg("%s: %d problems\n", what, problems);
	return !problems;
}

/* Every chosen page of every block set up holds its key. */
static bool contents_ok(const char *what)
{
	struct cand *c;
	long off;
	int j;

	problems = 0;
	for_each_used(c) {
		for (j = 0; j < NSEL; j++) {
			off = ksm_check_page(sel_addr(c, j), sel_key(c, j));
			if (off >= 0)
				problem("%s: block %lu page %d: not key %llu at offset %ld\n",
					what, c->id, j, sel_key(c, j), off);
		}
	}
	if (problems)
		ksft_print_msg("%s: %d chosen pages bad\n", what, problems);
	return !problems;
}

/* Populate the area, every page written. */
static void populate(char *p, size_t npages)
{
	size_t i;

	if (!madvise(p, npages * ksm_page_size, MADV_POPULATE_WRITE))
		return;
	if (errno != EINVAL)
		ksft_exit_fail_msg("MADV_POPULATE_WRITE of %zu pages: %s\n", npages,
				   strerror(errno));
	for (i = 0; i < npages; i++)
		*(char *)ksm_page_addr(p, i) = 1;
}

/*
 * Fill node @node's Movable zone with an area bound to it, choose and merge
 * pages in each of its candidate blocks (see the header).  -1 if no block
 * of the node holds NSEL pages of the area (the area is unmapped again);
 * else whether the merge came out exactly as *@want, which it sets.
 */
static int setup_node(int node, struct ksm_counters *want)
{
	unsigned long managed = movable_managed(node);
	unsigned long long bytes, *pfn;
	size_t i, inside = 0, present = 0;
	int ncand = 0, j;
	struct cand *c;
	long long t0;
	bool merged, ok;

	cur_node = node;
	nb_used = 0;
	for (c = cands; c < cands + ncands; c++) {
		c->usable = false;
		c->nours = 0;
		ncand += c->node == node;
	}
	bytes = managed ? managed * ksm_page_size : ncand * block_size;
	if (bytes > AREA_CAP)
		bytes = AREA_CAP;
	big_pages = bytes / ksm_page_size;
	ksft_print_msg("node %d: zone Movable: %lu managed pages; area of %zu pages bound to it\n",
		       node, managed, big_pages);

	t0 = ksm_now_ms();
	big = ksm_mmap(big_pages);
	/* No THP: a huge page would have to be split before merging. */
	ksm_madvise(big, big_pages, MADV_NOHUGEPAGE);
	ksm_bind_node(big, big_pages, node);
	populate(big, big_pages);

	pfn = malloc(big_pages * sizeof(*pfn));
	if (!pfn)
		ksft_exit_fail_msg("malloc of %zu pfns\n", big_pages);
	pfns_of(big, big_pages, pfn);
	for (i = 0; i < big_pages; i++) {
		if (!pfn[i])
			continue;
		present++;
		for (c = cands; c < cands + ncands; c++)
			if (c->node == node && c->id == block_of(pfn[i]))
				break;
		if (c == cands + ncands)
			continue;
		inside++;
		if (c->nours < NSEL)
			c->pg[c->nours] = i;
		c->nours++;
	}
	free(pfn);
	ksft_print_msg("node %d: populated in %lld ms: %zu pages present, %zu in candidates\n",
		       node, ksm_now_ms() - t0, present, inside);

	for (c = cands; c < cands + ncands; c++) {
		if (c->node != node)
			continue;
		c->usable = c->nours >= NSEL;
		nb_used += c->usable;
		ksft_print_msg("block %lu (node %d): %zu pages of the area%s\n", c->id, node,
			       c->nours, c->usable ? "" : ": too few, not used");
	}
	if (!nb_used) {
		munmap(big, big_pages * ksm_page_size);
		big = NULL;
		return -1;
	}

	for_each_used(c)
		for (j = 0; j < NSEL; j++)
			ksm_fill_page(sel_addr(c, j), sel_key(c, j));
	for_each_used(c)
		for (j = 0; j < NSEL; j++)
			ksm_madvise(sel_addr(c, j), 1, MADV_MERGEABLE);

	want->shared = nb_used * NKSM;
	want->sharing = nb_used * SHARING_BLK;
	want->unshared = want->vol = want->chains = want->dups = 0;
	ksft_print_msg("node %d: %d block(s), %d pairs + %d common-key pages each\n",
		       node, nb_used, NP, NC);
	ksft_print_msg("expecting pages_shared %ld pages_sharing %ld, the rest 0\n",
		       want->shared, want->sharing);
	ksm_set("run", 1);
	merged = ksm_wait_counters(want);
	ksm_set("run", 0);
	ok = check_pairs(-1, true, "merged") && merged;
	ok = contents_ok("merged") && ok;
	for_each_used(c)
		memcpy(c->before, c->cur, sizeof(c->before));
	return ok;
}

/* The node's area away, and every counter back to 0. */
static void teardown_node(void)
{
	munmap(big, big_pages * ksm_page_size);
	big = NULL;
	ksm_must_unmerge_all();
}

/*
 * Offline block @b: EBUSY/EAGAIN retried.  0, or the last -errno;
 * *@hung set when the write had to be interrupted.
 */
static int offline_block(unsigned long b, bool *hung)
{
	long long t0;
	int err = 0, try;
	char state[48];

	*hung = false;
	/* Restore it if we die while it is (going) offline. */
	block_file(restore_path, sizeof(restore_path), b, "state");
	for (try = 0; try < BUSY_RETRIES; try++) {
		t0 = ksm_now_ms();
		block_is_offline = 1;
		err = block_write_state(b, "offline", OFFLINE_TIMEOUT_S);
		block_read(b, "state", state, sizeof(state));
		ksft_print_msg("offline block %lu, try %d: %s after %lld ms, state \"%s\"\n",
			       b, try + 1, err ? strerror(-err) : "done", ksm_now_ms() - t0,
			       state);
		if (!err)
			return 0;
		block_is_offline = strcmp(state, "online") != 0;
		if (err == -EINTR) {
			*hung = true;
			return err;
		}
		if (err != -EBUSY && err != -EAGAIN)
			return err;
		usleep(200000);
	}
	return err;
}

static bool online_block(unsigned long b)
{
	char state[48] = "", zone[48] = "";
	int err = 0, try;

	for (try = 0; try < 5; try++) {
		err = block_write_state(b, "online_movable", OFFLINE_TIMEOUT_S);
		block_read(b, "state", state, sizeof(state));
		ksft_print_msg("online_movable block %lu: %s, state \"%s\"\n", b,
			       err ? strerror(-err) : "done", state);
		if (!err)
			break;
		usleep(200000);
	}
	if (!strcmp(state, "online"))
		block_is_offline = 0;
	block_read(b, "valid_zones", zone, sizeof(zone));
	ksft_print_msg("block %lu now: state \"%s\", valid_zones \"%s\"\n", b, state, zone);
	return !err && !strcmp(state, "online");
}

/* How many of @c's KSM pages are in its block now. */
static int ksm_in_block(const struct cand *c)
{
	unsigned long long p;
	int i, n = 0;

	for (i = 0; i < NKSM; i++) {
		p = pfn_of(sel_addr(c, ksm_first(i)));
		n += p && block_of(p) == c->id && pfn_is_ksm(p);
	}
	return n;
}

/*
 * Offline the blocks set up, in order: the first that goes offline, or
 * NULL.  *@in_block: how many of its KSM pages were in it just before.
 */
static struct cand *offline_one(bool *hung, int *in_block)
{
	struct cand *c;

	for_each_used(c) {
		*in_block = ksm_in_block(c);
		ksft_print_msg("block %lu (node %d): %d of its %d KSM pages in it: offlining\n",
			       c->id, c->node, *in_block, NKSM);
		c->tried = true;
		c->err = offline_block(c->id, hung);
		if (!c->err)
			return c;
		if (c->err == -EINVAL)
			ksft_print_msg("block %lu: EINVAL, cannot be offlined (memory holes?)\n",
				       c->id);
		if (block_is_offline)
			online_block(c->id);
		if (*hung)
			return NULL;
	}
	return NULL;
}

int main(void)
{
	struct ksm_counters want = { 0, 0, 0, 0, 0, 0 }, want_c;
	unsigned long long keys_c[NKSM], after[NKSM], p;
	int order[MAX_NODES], nnodes, k, i, r, in_block = 0, moved, bad;
	bool setup_done = false, setup_ok = false, hung = false, offline = false, ok;
	struct cand *chosen = NULL, *c;
	char state[48] = "";

	ksft_print_header();
	ksft_set_plan(NR_CASES);
	ksm_selftest_init(1000, 0, 170);
	need_hotremove();
	install_restore();
	pm_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pm_fd < 0)
		ksft_exit_fail_msg("open /proc/self/pagemap: %s\n", strerror(errno));

	scan_blocks();
	nnodes = order_nodes(order);

	/* 1, 2: fill a node, merge in its Movable blocks, offline one of them. */
	for (k = 0; k < nnodes; k++) {
		r = setup_node(order[k], &want);
		if (r < 0)
			continue;
		setup_done = true;
		setup_ok = r;
		if (!setup_ok)
			break;
		chosen = offline_one(&hung, &in_block);
		if (chosen || hung)
			break;
		ksft_print_msg("node %d: no block went offline%s\n", order[k],
			       k + 1 < nnodes ? ": trying the next node" : "");
		teardown_node();
	}

	if (!setup_done) {
		if (ncands)
			ksft_print_msg("no candidate block holds %d pages of its node's area\n",
				       NSEL);
		else
			ksft_print_msg("no online block is \"Movable\" (movablecore=?)\n");
		ksft_test_result_fail("set-up: KSM pages in a block of zone Movable\n");
	} else {
		ksft_test_result(setup_ok, "node %d, %d blocks merged: shared %ld sharing %ld\n",
				 cur_node, nb_used, want.shared, want.sharing);
	}

	if (chosen) {
		block_read(chosen->id, "state", state, sizeof(state));
		offline = !strcmp(state, "offline");
		ksft_test_result(offline && in_block == NKSM,
				 "block %lu (node %d) offline, held %d of %d KSM pages: \"%s\"\n",
				 chosen->id, chosen->node, in_block, NKSM, state);
	} else {
		for (c = cands; c < cands + ncands; c++)
			if (c->tried)
				ksft_print_msg("block %lu (node %d): offline failed: %s\n", c->id,
					       c->node, strerror(-c->err));
		ksft_test_result_fail("offline: no Movable block went offline%s\n",
				      hung ? " (an offline hung)" :
				      setup_done && !setup_ok ? " (set-up failed)" : "");
	}

	/* 3-5: the KSM pages moved, intact, still merged, same counters. */
	if (offline) {
		ok = contents_ok("after offline");
		ksft_test_result(ok, "after offline: every chosen page holds its key\n");

		ok = check_pairs(chosen->id, false, "after offline");
		memcpy(after, chosen->cur, sizeof(after));
		for (i = 0, moved = 0; i < NKSM; i++)
			moved += chosen->cur[i] != chosen->before[i];
		ksft_print_msg("after offline: %d of block %lu's %d KSM pages at a new pfn\n",
			       moved, chosen->id, NKSM);
		ksft_test_result(ok, "after offline: %ld KSM pages, none in block %lu\n",
				 want.shared, chosen->id);

		ok = ksm_counters_now(&want);
		ksft_test_result(ok, "after offline: pages_shared %ld pages_sharing %ld again\n",
				 want.shared, want.sharing);
	} else {
		ksft_test_result_fail("after offline: contents (no block offlined)\n");
		ksft_test_result_fail("after offline: KSM mappings (no block offlined)\n");
		ksft_test_result_fail("after offline: counters (no block offlined)\n");
	}

	/* 6: C merges into the moved KSM pages. */
	if (offline) {
		area_c = ksm_mmap(NKSM);
		ksm_madvise(area_c, NKSM, MADV_NOHUGEPAGE);
		for (i = 0; i < NKSM; i++)
			keys_c[i] = key_of(chosen, i);
		ksm_fill_pages(area_c, keys_c, NKSM);
		ksm_madvise(area_c, NKSM, MADV_MERGEABLE);
		want_c = want;
		want_c.sharing += NKSM;
		ksm_set("run", 1);
		ok = ksm_wait_counters(&want_c);
		ksm_set("run", 0);
		ok = check_pairs(chosen->id, false, "C merged") && ok;
		for (i = 0, bad = 0, moved = 0; i < NKSM; i++) {
			/*
			 * Not asserted: NUMA balancing or compaction may have
			 * moved a KSM page since (with its mappings, which
			 * check_pairs() checks).
			 */
			moved += chosen->cur[i] != after[i];
			p = pfn_of(ksm_page_addr(area_c, i));
			if (p && p == chosen->cur[i])
				continue;
			if (bad++ < 5)
				ksft_print_msg("C merged: C[%d] maps pfn %llx, x_%d %llx\n", i, p,
					       i, chosen->cur[i]);
		}
		ksft_print_msg("C merged: %d of %d KSM pages moved since the offline\n",
			       moved, NKSM);
		ok = !bad && ok;
		ok = contents_ok("C merged") && ok;
		ok = !ksm_check_pages(area_c, keys_c, NKSM, "C merged: C") && ok;
		ksft_test_result(ok, "C merged: pages_shared %ld pages_sharing %ld\n",
				 want_c.shared, want_c.sharing);
	} else {
		ksft_test_result_fail("C merging into moved KSM pages (no block offlined)\n");
	}

	/* 7: the block back online. */
	if (offline) {
		ok = online_block(chosen->id);
		ksft_test_result(ok, "block %lu onlined again (online_movable): state \"online\"\n",
				 chosen->id);
	} else {
		if (block_is_offline && chosen)
			online_block(chosen->id);
		ksft_test_result_fail("online_movable: no block offlined\n");
	}

	if (area_c)
		munmap(area_c, NKSM * ksm_page_size);
	if (big)
		munmap(big, big_pages * ksm_page_size);
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
