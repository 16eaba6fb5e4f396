// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzzer of madvise(MADV_MERGEABLE / MADV_UNMERGEABLE), while KSM merges.
 *
 * Two processes each build a random layout of a 6 MiB arena, again and
 * again: private anonymous memory (read-write, read-only, PROT_NONE,
 * mlocked), shared anonymous memory, private and shared mappings of a tmpfs
 * file, 2 MiB hugetlb mappings when huge pages can be had, and unmapped
 * gaps (the arena starts and ends with one).  Every page that can be read
 * holds a known content (from a few, so that pages merge); some are
 * rewritten as the run goes.  Each process then calls madvise() with
 * MADV_MERGEABLE or MADV_UNMERGEABLE on random ranges, some crossing many
 * areas and gaps, some with an unaligned start or length, of length 0, or
 * so long that they wrap, and now and then with advice that does not
 * exist.  The outcome of each call is predicted from the layout, as Linux
 * 6.1 defines it, and checked:
 *  - EINVAL for an unaligned start, for a length that wraps and for an
 *    unknown advice; 0 for length 0 (the length is rounded up to pages);
 *  - ENOMEM when the range has unmapped gaps, the mapped parts being
 *    processed all the same; otherwise 0;
 *  - MADV_MERGEABLE sets the "mg" flag of /proc/self/smaps on private
 *    mappings (PROT_NONE, read-only, mlocked and private file mappings
 *    included) and is accepted but ignored on shared, hugetlb and special
 *    ([vdso], [vvar]) mappings; MADV_UNMERGEABLE clears it.  After every
 *    call the flags of every page of the arena must be as predicted, the
 *    gaps still gaps;
 *  - after MADV_UNMERGEABLE no page of the range is a KSM page
 *    (/proc/kpageflags), and pages of shared and hugetlb mappings never
 *    are;
 *  - the number of areas stays within the number of runs of pages of one
 *    mapping and one flag (splits are merged back);
 *  - every page holds its content at every check.
 * A second thread of each process rewrites random pages that the model
 * says are writable anonymous pages (anon, mlocked, and private file pages
 * already copied by a write) while the main thread calls madvise(), each
 * page checked against its content right before it is rewritten.  The
 * threads share a mutex that the main thread holds while it rebuilds the
 * layout, rewrites a page itself or checks every page (not over madvise()).
 * Before and after, a child lowers vm.max_map_count just above its number
 * of areas and advises every other page of a fresh mapping: each call that
 * needs two splits succeeds while there is room for both; then the call
 * fails with ENOMEM, as the KSM documentation says (6.1 itself reports a
 * split refused for max_map_count as EAGAIN: lab/patches/0002), the page
 * unflagged, contents intact.
 *
 * At the end each process stops writing and changing its layout, keeps its
 * last layout mapped, and counts from its model the pages KSM may merge:
 * the present anonymous pages (anon, read-only, mlocked, and private file
 * pages that a write made anonymous copies) of areas under MADV_MERGEABLE,
 * per content.  Shared, hugetlb, PROT_NONE and unwritten private file pages
 * never count.  With n_k such pages of content k over both processes, ksmd
 * running (pages_to_scan 2000, sleep_millisecs 5) and use_zero_pages 0 (as
 * set at the start), the counters must reach and keep for two full scans:
 *    pages_shared + pages_sharing = sum of n_k over the k with n_k >= 2,
 *    pages_unshared = the number of k with n_k = 1 (none: see below),
 *    pages_volatile = 0, and ksm_zero_pages = 0 where it exists.
 * (Were use_zero_pages 1, the pages of zeroes would instead map the zero
 * page: out of both sums, ksm_zero_pages = their number.)  A content whose
 * n_k is 1 more than a multiple of max_page_sharing could end with every
 * KSM page of its chain full and one page left unshared, or in a KSM page
 * of its own: the parent then maps one more mergeable page of it, so that
 * the figure is exact either way.  That includes n_k = 1: a lone page may
 * be a KSM page already, if the copies it merged with went (KSM leaves a
 * KSM page mapped once as it is, as 6.1 does), so the last layouts leave
 * no page unshared.  And as a last layout may hold no
 * mergeable page at all, the parent always maps two pages of the first
 * key (2001) too, counted in its n_k.  A KSM that misses a merge, merges
 * pages that differ or leaves items behind fails this; one that merges a
 * single page no longer passes.
 *
 * Usage: ksm_stress_madvise_fuzz [-t SECONDS] [-s SEED]
 *
 * The lab's stress suite - suite: stress; limit: 240s; long: 120s
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "ksm_util.h"
#include "ksm_stress.h"

#define DEFAULT_SECS	20
#define NFUZZERS	2
#define HPAGE_PAGES	512
#define NPAGES		(3 * HPAGE_PAGES)	/* the arena */
#define NKEYS		6
#define LAYOUT_MS	3000
#define MAX_REPORTS	10
#define KPF_KSM		21
#define WRITER_BURST	4	/* pages a writer thread rewrites per lock hold */
#define HOLD_MS		60000	/* for the fuzzers to stop and report */
#define GO_MS		(KSM_TIMEOUT_MS + 120000)	/* for the parent's go */
/*
 * A split refused for vm.max_map_count: ENOMEM, as the KSM documentation
 * says (lab/patches/0002; 6.1 itself turns it into EAGAIN).
 */
#define MAPCOUNT_ERRNO	ENOMEM

enum kind {
	K_GAP, K_ANON, K_RO, K_NONE, K_LOCKED, K_SHARED, K_FILE_PRIV,
	K_FILE_SHARED, K_HUGETLB, NKINDS
};

static const struct {
	const char *name;
	bool eligible;		/* MADV_MERGEABLE sets VM_MERGEABLE */
	bool readable;
	bool writable;
} kinds[NKINDS] = {
	[K_GAP] = { "gap" },
	[K_ANON] = { "anon", true, true, true },
	[K_RO] = { "anon read-only", true, true, false },
	[K_NONE] = { "anon PROT_NONE", true, false, false },
	[K_LOCKED] = { "anon mlocked", true, true, true },
	[K_SHARED] = { "shared anon", false, true, true },
	[K_FILE_PRIV] = { "private file", true, true, true },
	[K_FILE_SHARED] = { "shared file", false, true, true },
	[K_HUGETLB] = { "hugetlb", false, true, true },
};

struct page_model {
	unsigned char kind;
	bool mg;
	bool cow;		/* K_FILE_PRIV: written, an anonymous copy */
	unsigned short region;
	unsigned long long key;
};

/* Per fuzzer, in shared memory: the parent prints them. */
struct figures {
	unsigned long calls, ok, enomem, einval, layouts, regions[NKINDS];
	unsigned long ksm_seen, unmerge_checked, vma_max, runs_at_max;
	unsigned long bad_ret, bad_flags, bad_ksm, bad_vmas, bad_data, bad_setup;
	unsigned long hugetlb_fallbacks, writer_writes;
	/* The last layout: mergeable present pages per key index, and absent. */
	unsigned long final_keys[NKEYS + 1], final_absent;
	int held;		/* the fuzzer has stopped and reported */
	int go;			/* the parent is done: the fuzzer may exit */
};

static struct figures *figs, *my;	/* all, this process's */
/*
 * The model and the pages' contents: the main thread holds the lock while
 * it rebuilds the layout, rewrites a page or checks them all; the writer
 * thread while it checks and rewrites a page.  madvise() runs without it:
 * the writer only reads kind and key, which madvise() does not change.
 */
static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static int writer_stop;
static struct page_model model[NPAGES];
static char *arena;
static int file_fd, pm_fd, kpf_fd;
static unsigned long long rng, file_seed;
static unsigned int me;		/* fuzzer number */
static bool hugetlb_ok;
static long saved_hugepages = -1;
static long saved_map_count = -1;

static unsigned long long below(unsigned long long n)
{
	return ksm_rand_below(&rng, n);
}

static void *pg(unsigned long i)
{
	return arena + i * ksm_page_size;
}

/* Keys 0 (a page of zeroes) and 2001..2000 + NKEYS: index 0..NKEYS. */
static unsigned long long key_of(unsigned int idx)
{
	return idx ? 2000 + idx : 0;
}

static unsigned int key_idx(unsigned long long key)
{
	return key ? key - 2000 : 0;
}

static unsigned long long new_key(void)
{
	return key_of(below(NKEYS + 1));
}

/* Is page @m an anonymous page in memory (once present)? */
static bool anon_page(const struct page_model *m)
{
	return m->kind == K_ANON || m->kind == K_RO || m->kind == K_LOCKED ||
	       (m->kind == K_FILE_PRIV && m->cow);
}

/* The content of file page @i, before any write through a mapping. */
static unsigned long long file_key(unsigned long i)
{
	return 2000 + 1 + ksm_mix64(file_seed ^ i) % NKEYS;
}

/*
 * Count a failure in *@counter; print the first few, in one printf() (the
 * writer thread complains too).
 */
static void complain(unsigned long *counter, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if ((*counter)++ >= MAX_REPORTS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("# fuzzer %u: %s", me, msg);
}

/* ---------------------------------------------------------------------- */
/* Sysctls, restored at exit.                                             */
/* ---------------------------------------------------------------------- */

static long read_long(const char *path)
{
	unsigned long v;

	return ksm_read_ulong_path(path, &v) ? -1 : (long)v;
}

static bool write_long(const char *path, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	return ksm_write_path(path, buf);
}

static void restore_sysctls(void)
{
	if (getpid() != ksm_owner_pid)
		return;
	if (saved_map_count >= 0)
		write_long("/proc/sys/vm/max_map_count", saved_map_count);
	if (saved_hugepages >= 0)
		write_long("/proc/sys/vm/nr_hugepages", saved_hugepages);
}

/* Free huge pages for every fuzzer's layouts, if the kernel has them. */
static void setup_hugetlb(void)
{
	long want = NFUZZERS * (NPAGES / HPAGE_PAGES), free_now, total;

	total = read_long("/proc/sys/vm/nr_hugepages");
	free_now = ksm_read_keyed("/proc/meminfo", "HugePages_Free:");
	if (total < 0 || free_now < 0) {
		ksft_print_msg("no hugetlb: layouts without it\n");
		return;
	}
	if (free_now < want) {
		saved_hugepages = total;
		write_long("/proc/sys/vm/nr_hugepages", total + want - free_now);
		free_now = ksm_read_keyed("/proc/meminfo", "HugePages_Free:");
	}
	hugetlb_ok = free_now > 0;
	ksft_print_msg("%ld free huge pages (nr_hugepages was %ld)\n", free_now, total);
}

/* ---------------------------------------------------------------------- */
/* Layouts.                                                               */
/* ---------------------------------------------------------------------- */

static bool map_region(unsigned long first, unsigned long n, enum kind k)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_FIXED;
	int fd = -1;
	off_t off = 0;
	void *p;

	switch (k) {
	case K_GAP:
		return !munmap(pg(first), n * ksm_page_size);
	case K_NONE:
		prot = PROT_NONE;
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case K_SHARED:
		flags |= MAP_SHARED | MAP_ANONYMOUS;
		break;
	case K_FILE_PRIV:
	case K_FILE_SHARED:
		flags |= k == K_FILE_PRIV ? MAP_PRIVATE : MAP_SHARED;
		fd = file_fd;
		off = first * ksm_page_size;
		break;
	case K_HUGETLB:
		flags |= (below(2) ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS | MAP_HUGETLB;
		break;
	default:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
	}
	p = mmap(pg(first), n * ksm_page_size, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return false;
	return true;
}

/* Build a random layout of the arena; all flags start off. */
static void build_layout(void)
{
	unsigned long i = 0, n, j;
	unsigned short region = 0;
	bool hugetlb;
	enum kind k;

	pthread_mutex_lock(&model_lock);
	my->layouts++;
	/* A fresh arena and file: nothing of the last layout remains. */
	if (munmap(arena, NPAGES * ksm_page_size) ||
	    mmap(arena, NPAGES * ksm_page_size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		ksft_exit_fail_msg("arena: %s\n", strerror(errno));
	if (ftruncate(file_fd, 0) || ftruncate(file_fd, NPAGES * ksm_page_size))
		ksft_exit_fail_msg("ftruncate: %s\n", strerror(errno));
	file_seed = ksm_rand(&rng);
	hugetlb = hugetlb_ok && below(2);
	for (j = 0; j < NPAGES; j++) {
		static char buf[4096];

		ksm_fill_page(buf, file_key(j));
		if (pwrite(file_fd, buf, sizeof(buf), j * sizeof(buf)) != sizeof(buf))
			ksft_exit_fail_msg("pwrite: %s\n", strerror(errno));
	}

	while (i < NPAGES) {
		/* Maybe a huge page in the middle: [512, 1024). */
		if (hugetlb && i == HPAGE_PAGES) {
			k = K_HUGETLB;
			n = HPAGE_PAGES;
		} else if (i == 0 || i >= NPAGES - 1 || !below(6)) {
			k = K_GAP;
			n = 1 + below(8);
		} else {
			k = K_ANON + below(K_HUGETLB - K_ANON);
			n = 1 + below(below(4) ? 16 : 96);
		}
		if (k != K_GAP && i + n > NPAGES - 1)
			n = NPAGES - 1 - i;
		if (i + n > NPAGES)
			n = NPAGES - i;
		if (hugetlb && i < HPAGE_PAGES && i + n > HPAGE_PAGES)
			n = HPAGE_PAGES - i;
		if (!map_region(i, n, k)) {
			if (k != K_HUGETLB || !map_region(i, n, K_ANON))
				ksft_exit_fail_msg("mmap of %lu pages (%s): %s\n", n,
						   kinds[k].name, strerror(errno));
			my->hugetlb_fallbacks++;
			k = K_ANON;
		}
		my->regions[k]++;
		for (j = i; j < i + n; j++) {
			model[j].kind = k;
			model[j].mg = false;
			model[j].cow = false;
			model[j].region = region;
			model[j].key = k == K_FILE_PRIV ? file_key(j) : new_key();
			if (k == K_GAP || k == K_NONE || k == K_FILE_PRIV)
				continue;
			if (k == K_FILE_SHARED)
				model[j].key = file_key(j);
			else
				ksm_fill_page(pg(j), model[j].key);
		}
		/* Give the area its anon_vma before any split. */
		if (k == K_FILE_PRIV) {
			model[i].key = new_key();
			model[i].cow = true;
			ksm_fill_page(pg(i), model[i].key);
		}
		if (k == K_RO && mprotect(pg(i), n * ksm_page_size, PROT_READ))
			ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
		if (k == K_LOCKED && mlock(pg(i), n * ksm_page_size))
			ksft_exit_fail_msg("mlock: %s\n", strerror(errno));
		region++;
		i += n;
	}
	pthread_mutex_unlock(&model_lock);
}

/* ---------------------------------------------------------------------- */
/* Checks.                                                                */
/* ---------------------------------------------------------------------- */

/* The /proc/self/pagemap entry of page @i of the arena. */
static unsigned long long pm_entry(unsigned long i)
{
	unsigned long long ent;

	if (pread(pm_fd, &ent, sizeof(ent), ((unsigned long)pg(i) / ksm_page_size) * 8) !=
	    sizeof(ent))
		ksft_exit_fail_msg("pagemap: %s\n", strerror(errno));
	return ent;
}

/* Is page @i of the arena a KSM page?  -1 if not present. */
static int is_ksm(unsigned long i)
{
	unsigned long long ent = pm_entry(i), flags;

	if (!(ent & KSM_PM_PRESENT) || !(ent & KSM_PM_PFN_MASK))
		return -1;
	if (pread(kpf_fd, &flags, sizeof(flags), (ent & KSM_PM_PFN_MASK) * 8) !=
	    sizeof(flags))
		ksft_exit_fail_msg("kpageflags: %s\n", strerror(errno));
	return !!(flags & (1ULL << KPF_KSM));
}

/* The flags of /proc/self/smaps against the model; areas against runs. */
static void check_smaps(const char *what)
{
	static bool seen_mapped[NPAGES], seen_mg[NPAGES];
	unsigned long start = 0, end = 0, a0 = (unsigned long)arena;
	unsigned long a1 = a0 + NPAGES * ksm_page_size, i, vmas = 0, runs = 0;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned int bad = 0;

	if (!f)
		ksft_exit_fail_msg("smaps: %s\n", strerror(errno));
	memset(seen_mapped, 0, sizeof(seen_mapped));
	memset(seen_mg, 0, sizeof(seen_mg));
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		bool mg;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			start = s;
			end = e;
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) || end <= a0 || start >= a1)
			continue;
		mg = strstr(line, " mg");
		vmas++;
		for (s = start < a0 ? a0 : start; s < end && s < a1; s += ksm_page_size) {
			i = (s - a0) / ksm_page_size;
			seen_mapped[i] = true;
			seen_mg[i] = mg;
		}
	}
	fclose(f);
	for (i = 0; i < NPAGES; i++) {
		bool mapped = model[i].kind != K_GAP;

		if (mapped && (i == 0 || model[i - 1].region != model[i].region ||
			       model[i - 1].mg != model[i].mg))
			runs++;
		if (seen_mapped[i] == mapped && seen_mg[i] == model[i].mg)
			continue;
		if (bad++ < 3)
			complain(&my->bad_flags, "%s: page %lu (%s): %s%s, want %s%s\n", what, i,
				 kinds[model[i].kind].name,
				 seen_mapped[i] ? "mapped" : "unmapped",
				 seen_mg[i] ? " mg" : "", mapped ? "mapped" : "unmapped",
				 model[i].mg ? " mg" : "");
	}
	if (vmas > my->vma_max) {
		my->vma_max = vmas;
		my->runs_at_max = runs;
	}
	if (vmas > runs)
		complain(&my->bad_vmas, "%s: %lu areas in the arena, for %lu runs of pages\n",
			 what, vmas, runs);
}

static void check_data(const char *what)
{
	unsigned long i, n = 0, bad = 0;
	long off;

	pthread_mutex_lock(&model_lock);
	for (i = 0; i < NPAGES; i++) {
		if (!kinds[model[i].kind].readable)
			continue;
		n++;
		off = ksm_check_page(pg(i), model[i].key);
		if (off < 0)
			continue;
		bad++;
		complain(&my->bad_data, "%s: page %lu (%s) differs from key %llu at %ld\n", what, i,
			 kinds[model[i].kind].name, model[i].key, off);
	}
	ksm_stress_verified(n, bad);
	/* Pages KSM may not touch, and those it merged. */
	for (i = 0; i < NPAGES; i++) {
		int ksm;

		if (model[i].kind == K_GAP || model[i].kind == K_NONE)
			continue;
		ksm = is_ksm(i);
		if (ksm > 0 && kinds[model[i].kind].eligible)
			my->ksm_seen++;
		if (ksm > 0 && (!kinds[model[i].kind].eligible || !model[i].mg))
			complain(&my->bad_ksm, "%s: page %lu (%s%s) is a KSM page\n", what, i,
				 kinds[model[i].kind].name, model[i].mg ? ", mg" : "");
	}
	pthread_mutex_unlock(&model_lock);
}

/* Special mappings take the advice without error and without the flag. */
static void check_special(void)
{
	unsigned long s, e;
	bool special = false;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]") && !strstr(line, "[vvar]"))
			continue;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (madvise((void *)s, e - s, MADV_MERGEABLE) ||
		    madvise((void *)s, e - s, MADV_UNMERGEABLE) ||
		    madvise((void *)s, e - s, MADV_MERGEABLE))
			complain(&my->bad_ret, "madvise of %s: %s\n", strchr(line, '['),
				 strerror(errno));
		my->calls += 3;
		ksm_stress_ops(3);
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/smaps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) == 2)
			special = strstr(line, "[vdso]") || strstr(line, "[vvar]");
		else if (special && !strncmp(line, "VmFlags:", 8) && strstr(line, " mg"))
			complain(&my->bad_flags, "a special mapping is flagged mg: %s", line);
	}
	if (f)
		fclose(f);
}

/* ---------------------------------------------------------------------- */
/* The fuzzing.                                                           */
/* ---------------------------------------------------------------------- */

static void fuzz_madvise(void)
{
	unsigned long first = below(NPAGES), n, i, start = (unsigned long)pg(first), len;
	int advice = below(2) ? MADV_MERGEABLE : MADV_UNMERGEABLE;
	int want = 0, ret, err;
	bool apply = true, gap = false;
	char what[128];

	/* Short ranges split areas, long ones cross areas and gaps. */
	switch (below(10)) {
	case 0 ... 3:
		n = below(8);
		break;
	case 4 ... 6:
		n = below(64);
		break;
	default:
		n = below(NPAGES);
	}
	if (n > NPAGES - first)
		n = NPAGES - first;
	len = n * ksm_page_size;
	switch (below(24)) {
	case 0:
		start += 1 + below(ksm_page_size - 1);
		want = EINVAL;
		break;
	case 1:
		len = 0;
		break;
	case 2:
		len = -1UL - below(ksm_page_size - 1);	/* rounds up to 0 */
		want = EINVAL;
		break;
	case 3:
		len = -start + ksm_page_size * (1 + below(4));	/* wraps */
		want = EINVAL;
		break;
	case 4:
		advice = below(2) ? 999 : -1;
		want = EINVAL;
		break;
	case 5 ... 8:
		if (len)
			len -= below(ksm_page_size);	/* rounded up */
		break;
	}
	snprintf(what, sizeof(what), "madvise(page %lu%s, %#lx, %d)", first,
		 start & (ksm_page_size - 1) ? " + unaligned" : "", len, advice);
	if (want || !len)
		apply = false;
	for (i = first; apply && i < first + n && i < NPAGES; i++) {
		if (model[i].kind == K_GAP)
			gap = true;
		else if (kinds[model[i].kind].eligible)
			model[i].mg = advice == MADV_MERGEABLE;
	}
	if (gap)
		want = ENOMEM;

	ret = madvise((void *)start, len, advice);
	err = ret ? errno : 0;
	my->calls++;
	ksm_stress_ops(1);
	if (err != want)
		complain(&my->bad_ret, "%s: %s, want %s\n", what, err ? strerror(err) : "0",
			 want ? strerror(want) : "0");
	else if (!err)
		my->ok++;
	else if (err == ENOMEM)
		my->enomem++;
	else if (err == EINVAL)
		my->einval++;
	check_smaps(what);
	if (err != want) {
		/* Go on from what the kernel did. */
		check_data("after an unexpected madvise");
		build_layout();
		return;
	}
	if (apply && advice == MADV_UNMERGEABLE) {
		for (i = first; i < first + n; i++) {
			if (model[i].kind == K_GAP || model[i].kind == K_NONE)
				continue;
			my->unmerge_checked++;
			if (is_ksm(i) > 0)
				complain(&my->bad_ksm, "%s: page %lu (%s) still a KSM page\n", what,
					 i, kinds[model[i].kind].name);
		}
	}
}

static void fuzz_write(void)
{
	unsigned long i = below(NPAGES);

	if (!kinds[model[i].kind].writable)
		return;
	pthread_mutex_lock(&model_lock);
	model[i].key = new_key();
	if (model[i].kind == K_FILE_PRIV)
		model[i].cow = true;
	ksm_fill_page(pg(i), model[i].key);
	pthread_mutex_unlock(&model_lock);
}

/*
 * The writer thread: rewrite random writable anonymous pages, each checked
 * against its key right before (a write lost, or a page KSM got wrong,
 * shows there), a few under each hold of the lock.
 */
static void *writer_thread(void *arg)
{
	unsigned long long s = ksm_rand_stream(20 + me);
	struct page_model *m;
	unsigned long i, n;
	long off;

	while (!__atomic_load_n(&writer_stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&model_lock);
		for (n = 0; n < WRITER_BURST; n++) {
			i = ksm_rand_below(&s, NPAGES);
			m = &model[i];
			if (!anon_page(m) || !kinds[m->kind].writable)
				continue;
			off = ksm_check_page(pg(i), m->key);
			ksm_stress_verified(1, off >= 0);
			if (off >= 0)
				complain(&my->bad_data,
					 "writer: page %lu (%s) differs from key %llu at %ld before its rewrite\n",
					 i, kinds[m->kind].name, m->key, off);
			m->key = key_of(ksm_rand_below(&s, NKEYS + 1));
			ksm_fill_page(pg(i), m->key);
			my->writer_writes++;
			ksm_stress_ops(1);
		}
		pthread_mutex_unlock(&model_lock);
		usleep(1000);
	}
	return NULL;
}

/*
 * The end of the run, writes stopped: count the pages of the last layout
 * that KSM may merge, per key, in this fuzzer's figures.
 */
static void count_final(void)
{
	unsigned long i;

	for (i = 0; i < NPAGES; i++) {
		if (!anon_page(&model[i]) || !model[i].mg)
			continue;
		if (!(pm_entry(i) & KSM_PM_PRESENT)) {
			my->final_absent++;
			continue;
		}
		my->final_keys[key_idx(model[i].key)]++;
	}
}

/* Wait up to @timeout_ms for *@flag (in shared memory) to be set. */
static bool wait_flag(int *flag, long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (ksm_now_ms() > deadline)
			return false;
		usleep(10000);
	}
	return true;
}

static void fuzz_process(unsigned int id)
{
	long long next_layout = 0, next_check = 0;
	pthread_t thread;
	char path[64];
	void *raw;
	int err;

	me = id;
	my = &figs[id];
	rng = ksm_rand_stream(10 + id);
	raw = mmap(NULL, (NPAGES + HPAGE_PAGES) * ksm_page_size, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	snprintf(path, sizeof(path), "/tmp/ksm_madvise_fuzz.%d", getpid());
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	pm_fd = open("/proc/self/pagemap", O_RDONLY);
	kpf_fd = open("/proc/kpageflags", O_RDONLY);
	if (raw == MAP_FAILED || file_fd < 0 || pm_fd < 0 || kpf_fd < 0) {
		ksft_print_msg("setup of fuzzer %u: %s\n", id, strerror(errno));
		_exit(2);
	}
	unlink(path);
	arena = (char *)(((unsigned long)raw + HPAGE_PAGES * ksm_page_size - 1) &
			 ~(HPAGE_PAGES * ksm_page_size - 1));
	/*
	 * No THP: a huge page in the anon fallback of a hugetlb area could be
	 * collapsed again by khugepaged while the counts are checked.
	 */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/* Before the first layout, while the arena has no gaps. */
	err = pthread_create(&thread, NULL, writer_thread, NULL);
	if (err) {
		ksft_print_msg("fuzzer %u: pthread_create: %s\n", id, strerror(err));
		_exit(2);
	}

	while (ksm_stress_running()) {
		if (ksm_now_ms() >= next_layout) {
			build_layout();
			check_smaps("new layout");
			check_special();
			next_layout = ksm_now_ms() + LAYOUT_MS;
		}
		if (below(3))
			fuzz_madvise();
		else
			fuzz_write();
		if (ksm_now_ms() >= next_check) {
			check_data("periodic check");
			next_check = ksm_now_ms() + 1000;
		}
	}
	/* Writes stop; the last layout stays, for the parent's count. */
	__atomic_store_n(&writer_stop, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	check_smaps("last layout");
	check_data("last check");
	count_final();
	__atomic_store_n(&my->held, 1, __ATOMIC_RELEASE);
	if (!wait_flag(&my->go, GO_MS)) {
		printf("# fuzzer %u: no word from the parent in %d ms\n", id, GO_MS);
		fflush(stdout);
		_exit(1);
	}
	check_data("after the final merge");
	fflush(stdout);
	_exit(0);
}

/* ---------------------------------------------------------------------- */
/* vm.max_map_count.                                                      */
/* ---------------------------------------------------------------------- */

/*
 * The areas of this process, counted without allocating: the lines of
 * /proc/self/maps but [vsyscall], which is no area of the mm.
 */
static long count_areas(void)
{
	static char buf[1 << 17];
	long n = 0, len = 0, r, i;
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = '\0';
	for (i = 0; i < len; i++)
		n += buf[i] == '\n';
	return strstr(buf, "[vsyscall]") ? n - 1 : n;
}

/*
 * In a child: advise pages 1, 3, 5, ... of a fresh mapping one at a time
 * with max_map_count set so that only @room more areas fit: each call needs
 * two splits.  Returns the number of surprises.
 */
static int map_count_child(unsigned int room)
{
	enum { N = 64, MAXCALLS = 16 };
	unsigned long long keys[N];
	long count0, count[MAXCALLS], limit;
	int ret[MAXCALLS], err[MAXCALLS], bad = 0;
	unsigned int i, calls = room / 2 + 3;
	char *area;

	for (i = 0; i < N; i++)
		keys[i] = 1 + i % 3;
	area = ksm_mmap(N);
	ksm_fill_pages(area, keys, N);
	count0 = count_areas();
	limit = count0 + room;
	if (calls > MAXCALLS || !write_long("/proc/sys/vm/max_map_count", limit)) {
		printf("# cannot set max_map_count: %s\n", strerror(errno));
		return 1;
	}
	/* Nothing that may allocate until max_map_count is back. */
	for (i = 0; i < calls; i++) {
		ret[i] = madvise(area + (2 * i + 1) * ksm_page_size, ksm_page_size,
				 MADV_MERGEABLE);
		err[i] = ret[i] ? errno : 0;
		count[i] = count_areas();
	}
	write_long("/proc/sys/vm/max_map_count", saved_map_count);

	printf("# max_map_count %ld (%ld areas + %u):", limit, count0, room);
	for (i = 0; i < calls; i++)
		printf(" %s/%ld", err[i] ? strerror(err[i]) : "ok", count[i]);
	printf("\n");
	for (i = 0; i < calls; i++) {
		long before = i ? count[i - 1] : count0, want_count;
		/* Both splits fit if the first leaves room for the second. */
		bool fits = before + 1 < limit;

		want_count = fits ? before + 2 : before < limit ? before + 1 : before;
		if ((fits && ret[i]) || (!fits && (!ret[i] || err[i] != MAPCOUNT_ERRNO)) ||
		    count[i] != want_count) {
			printf("# call %u (%ld areas before): %s, %ld areas after; want %s, %ld\n",
			       i, before, ret[i] ? strerror(err[i]) : "ok", count[i],
			       fits ? "ok" : strerror(MAPCOUNT_ERRNO), want_count);
			bad++;
		}
	}
	if (!ret[calls - 1]) {
		printf("# max_map_count never stopped a split\n");
		bad++;
	}
	bad += ksm_check_pages(area, keys, N, "max_map_count");
	fflush(stdout);
	return bad;
}

static bool map_count_test(void)
{
	unsigned int room = 2 * (2 + below(4)) + below(2);
	pid_t pid = ksm_fork();
	bool ok;

	if (!pid)
		_exit(map_count_child(room) ? 1 : 0);
	ok = ksm_wait_child(pid, "max_map_count");
	write_long("/proc/sys/vm/max_map_count", saved_map_count);
	return ok;
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

/* Wait, within HOLD_MS, until every fuzzer has stopped and reported. */
static bool wait_held(const pid_t *pids)
{
	long long deadline = ksm_now_ms() + HOLD_MS;
	unsigned int i, held;

	for (;;) {
		for (i = 0, held = 0; i < NFUZZERS; i++) {
			if (__atomic_load_n(&figs[i].held, __ATOMIC_ACQUIRE)) {
				held++;
				continue;
			}
			if (child_gone(pids[i])) {
				ksft_print_msg("fuzzer %u gone before it reported\n", i);
				return false;
			}
		}
		if (held == NFUZZERS)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("%u of %u fuzzers stopped and reported in %d ms\n", held,
				       NFUZZERS, HOLD_MS);
			return false;
		}
		usleep(10000);
	}
}

/*
 * The fuzzers hold their last layouts: sum their counts per key and wait
 * for KSM to share exactly that (see the top of the file).  A last layout
 * may hold no mergeable page at all: two pages of the parent's own, of the
 * first key, see to it that there is always something to share.
 */
static bool check_final_share(void)
{
	unsigned long n[NKEYS + 1] = { 0 }, absent = 0, total = 0, max_sharing;
	unsigned long long extra_keys[NKEYS + 3] = { key_of(1), key_of(1) };
	struct ksm_share w = { 0, 0, 0 };
	unsigned int i, k, nextra = 2;
	char *extra = NULL;
	bool zero_pages, ok;

	max_sharing = ksm_read("max_page_sharing");
	zero_pages = ksm_read("use_zero_pages");
	for (k = 0; k <= NKEYS; k++) {
		for (i = 0; i < NFUZZERS; i++)
			n[k] += figs[i].final_keys[k];
		total += n[k];
		ksft_print_msg("key %llu: %lu mergeable pages in the last layouts\n",
			       key_of(k), n[k]);
		if (k == 1)
			n[k] += 2;
		if (!k && zero_pages) {
			w.zero = n[k];
			continue;
		}
		if (n[k] % max_sharing == 1) {
			extra_keys[nextra++] = key_of(k);
			n[k]++;
		}
		if (n[k] >= 2)
			w.sum += n[k];
		else if (n[k] == 1)
			w.unshared++;
	}
	for (i = 0; i < NFUZZERS; i++)
		absent += figs[i].final_absent;
	if (!ksm_file_exists("ksm_zero_pages"))
		w.zero = -1;
	if (nextra > 2)
		ksft_print_msg("%u keys 1 more than a multiple of max_page_sharing %lu: one more page each\n",
			       nextra - 2, max_sharing);
	extra = ksm_mmap_mergeable(extra_keys, nextra);
	ksft_print_msg("%lu mergeable pages (%lu not present, left out), use_zero_pages %d: want pages_shared + pages_sharing %ld, pages_unshared %ld, ksm_zero_pages %ld\n",
		       total, absent, zero_pages, w.sum, w.unshared, w.zero);
	ok = ksm_wait_share(&w, KSM_TIMEOUT_MS);
	ksm_print_counters("final layouts");
	if (munmap(extra, nextra * ksm_page_size))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	return ok && w.sum > 0;
}

int main(int argc, char **argv)
{
	unsigned long max_sharing = 0, sharing;
	struct figures t = { 0 };
	pid_t pids[NFUZZERS];
	bool ok = true, mc1, mc2, shared_ok;
	unsigned int i, k;

	ksft_print_header();
	ksm_stress_init(argc, argv, DEFAULT_SECS);
	ksft_set_plan(7);
	ksm_selftest_init(2000, 5, ksm_stress_watchdog());
	rng = ksm_rand_stream(0);
	if (access("/proc/kpageflags", R_OK))
		ksft_exit_skip("no /proc/kpageflags\n");
	figs = mmap(NULL, NFUZZERS * sizeof(*figs), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (figs == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(figs, 0, NFUZZERS * sizeof(*figs));
	saved_map_count = read_long("/proc/sys/vm/max_map_count");
	if (saved_map_count < 0)
		ksft_exit_fail_msg("cannot read vm.max_map_count\n");
	atexit(restore_sysctls);
	setup_hugetlb();

	mc1 = map_count_test();
	ksm_set("run", 1);
	for (i = 0; i < NFUZZERS; i++) {
		pids[i] = ksm_fork();
		if (!pids[i])
			fuzz_process(i);
	}
	while (ksm_stress_running()) {
		sharing = ksm_read("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		usleep(100000);
	}
	/* Writes paused, layouts held: KSM must share exactly what they hold. */
	shared_ok = wait_held(pids) && check_final_share();
	for (i = 0; i < NFUZZERS; i++)
		__atomic_store_n(&figs[i].go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NFUZZERS; i++)
		ok = ksm_wait_child(pids[i], "fuzzer") && ok;
	mc2 = map_count_test();

	for (i = 0; i < NFUZZERS; i++) {
		struct figures *f = &figs[i];

		t.calls += f->calls;
		t.ok += f->ok;
		t.enomem += f->enomem;
		t.einval += f->einval;
		t.layouts += f->layouts;
		for (k = 0; k < NKINDS; k++)
			t.regions[k] += f->regions[k];
		t.ksm_seen += f->ksm_seen;
		t.unmerge_checked += f->unmerge_checked;
		t.bad_ret += f->bad_ret;
		t.bad_flags += f->bad_flags;
		t.bad_ksm += f->bad_ksm;
		t.bad_vmas += f->bad_vmas;
		t.bad_data += f->bad_data;
		t.hugetlb_fallbacks += f->hugetlb_fallbacks;
		t.writer_writes += f->writer_writes;
		ksft_print_msg("fuzzer %u: at most %lu areas in the arena (%lu runs then)\n",
			       i, f->vma_max, f->runs_at_max);
	}
	ksft_print_msg("%lu calls: %lu ok, %lu ENOMEM, %lu EINVAL; %lu layouts\n",
		       t.calls, t.ok, t.enomem, t.einval, t.layouts);
	for (k = K_GAP; k < NKINDS; k++)
		ksft_print_msg("  %lu regions %s\n", t.regions[k], kinds[k].name);
	ksft_print_msg("%lu hugetlb mappings fell back to anon; max pages_sharing %lu\n",
		       t.hugetlb_fallbacks, max_sharing);
	ksft_print_msg("%lu KSM pages seen in checks, %lu unmerged pages checked\n",
		       t.ksm_seen, t.unmerge_checked);
	ksft_print_msg("%lu pages rewritten by the writer threads, each checked first\n",
		       t.writer_writes);

	ksft_test_result(mc1 && mc2,
			 "max_map_count: splits stop at the limit with %s, page unflagged, intact\n",
			 strerror(MAPCOUNT_ERRNO));
	ksft_test_result(ok && !t.bad_ret && t.ok && t.enomem && t.einval,
			 "madvise: %lu calls, each returned what the layout says\n", t.calls);
	ksft_test_result(!t.bad_flags,
			 "smaps: mg just on advised private areas (not shared, hugetlb, special)\n");
	ksft_test_result(!t.bad_vmas, "areas: never more than the runs of pages\n");
	ksft_test_result(!t.bad_ksm && t.unmerge_checked,
			 "KSM pages only where advised; none left after MADV_UNMERGEABLE\n");
	ksft_test_result(!t.bad_data && !ksm_stats->mismatches && t.writer_writes,
			 "every readable page held its content at every check and before each of %lu rewrites by a second thread\n",
			 t.writer_writes);
	ksft_test_result(shared_ok,
			 "writes paused: pages_shared + pages_sharing, pages_unshared exactly as the last layouts imply, pages_volatile 0\n");
	ksm_stress_summary();
	ksft_finished();
}
