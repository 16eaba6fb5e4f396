// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the state every other file shares, defined once.  The knobs of
 * /sys/kernel/mm/ksm, the counters, the locks (their rules are in ksm.h),
 * the content hashes and the page compare.  Nothing here calls into
 * another file of mm/ksm/: this is the bottom of the layers.
 */
#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/random.h>
#include <linux/sched.h>

#include "ksm.h"

#define CREATE_TRACE_POINTS
#include <trace/events/ksm.h>

/* Knobs, as /sys/kernel/mm/ksm shows them. */
unsigned int ksm_run = KSM_RUN_STOP;
unsigned int ksm_pages_to_scan = KSM_PAGES_TO_SCAN_DEFAULT;
unsigned int ksm_sleep_ms = 20;
bool ksm_merge_across_nodes = true;
bool ksm_use_zero_pages;
int ksm_max_page_sharing = 256;
unsigned int ksm_prune_ms = 2000;
bool ksm_smart_scan = true;
unsigned int ksm_advisor_mode = KSM_ADVISOR_NONE;
unsigned int ksm_advisor_max_cpu = 70;		/* percent of one CPU */
unsigned int ksm_advisor_min_pages = 500;
unsigned int ksm_advisor_max_pages = 30000;
unsigned int ksm_advisor_target_s = 200;	/* seconds a full scan */

/* Counters, written under ksm_mutex. */
unsigned long ksm_pages_shared;
unsigned long ksm_pages_sharing;
unsigned long ksm_pages_unshared;
unsigned long ksm_rmap_items;
unsigned long ksm_full_scans;
unsigned long ksm_stable_node_chains;
unsigned long ksm_stable_node_dups;
unsigned long ksm_pages_scanned;	/* pages ksmd looked at, ever */
unsigned long ksm_pages_skipped;	/* pages smart scan passed over */
/* Atomic, and counted outside mm/ksm too: see <linux/ksm.h>. */
atomic_long_t ksm_zero_pages = ATOMIC_LONG_INIT(0);

/* The locks, outermost first: their rules are at the top of ksm.h. */
DEFINE_MUTEX(ksm_run_mutex);	/* writers of run, and of what needs no KSM pages */
DEFINE_MUTEX(ksm_ctl_mutex);	/* writers of the other knobs */
DEFINE_MUTEX(ksm_pass_mutex);	/* the end of a pass, full_scans */
DEFINE_MUTEX(ksm_mutex);	/* trees, items, cursor, counters */

struct task_struct *ksm_thread;
DECLARE_WAIT_QUEUE_HEAD(ksm_thread_wait);

/* Tasks in ksm_lock(): the holder of ksm_mutex looks, and lets go. */
atomic_t ksm_mutex_waiters = ATOMIC_INIT(0);

/**
 * ksm_lock() - take ksm_mutex, letting its holder see the wait
 *
 * Everyone takes ksm_mutex this way: ksmd ends its step at the next page
 * when another task waits, and so does a task freeing many rmap items.
 */
void ksm_lock(void)
{
	atomic_inc(&ksm_mutex_waiters);
	mutex_lock(&ksm_mutex);
	if (atomic_dec_and_test(&ksm_mutex_waiters))
		wake_up_var(&ksm_mutex_waiters);
}

/**
 * ksm_lock_last() - take ksm_mutex after the tasks that wait for it already
 *
 * Once ksmd (or a long job) lets go for a waiter, the waiter takes the
 * mutex first, not ksmd again before the woken waiter gets a CPU.  A
 * stream of waiters delays it by a tick at most.  Not for a holder of an
 * mmap_lock: a writer queued behind it would hold up the faults of that mm.
 */
void ksm_lock_last(void)
{
	wait_var_event_timeout(&ksm_mutex_waiters,
			       !atomic_read(&ksm_mutex_waiters), 1);
	ksm_lock();
}

/**
 * ksm_lock_break() - let another task go first if it needs to
 *
 * When another task waits for ksm_mutex, or this CPU is wanted, let go of
 * the mutex and reschedule before taking it again: a task that holds
 * ksm_mutex over a long job never makes others wait for it to get a CPU
 * back.  ksmd then takes it after the tasks that wait; any other task,
 * which ksmd should not hold up, as soon as it can.
 *
 * Context: ksm_mutex held; the caller's state must survive its release.
 * Return: true if ksm_mutex was let go of.
 */
bool ksm_lock_break(void)
{
	lockdep_assert_held(&ksm_mutex);
	if (!need_resched() && !ksm_lock_wanted())
		return false;
	mutex_unlock(&ksm_mutex);
	cond_resched();
	if (current == ksm_thread)
		ksm_lock_last();
	else
		ksm_lock();
	return true;
}

/**
 * ksm_wake() - wake ksmd: there is work, or its settings changed
 */
void ksm_wake(void)
{
	wake_up_interruptible(&ksm_thread_wait);
}

/*
 * The key of the content checksum, drawn at boot: the checksum decides a
 * page's bucket in the unstable table, and pages made to share one would
 * make every search walk all of them.
 */
static u64 ksm_checksum_key __ro_after_init;
u32 ksm_zero_checksum __ro_after_init;

/*
 * The content hashes are xxh64 (lib/xxhash.c), written out here: the
 * checksum of a whole page is most of what ksmd spends on a page it scans,
 * and knowing the length lets the loop take four of xxh64's 32-byte
 * stripes a turn, with no tail to finish.  Under QEMU's TCG that took 7 %
 * less time per page than a loop of one stripe a turn, as xxh64()'s is.
 * The values are xxh64()'s: core-test.h checks that, and a test that plays
 * an attacker who knows the key relies on it.
 */
#define KSM_XXH_PRIME1	0x9E3779B185EBCA87ULL
#define KSM_XXH_PRIME2	0xC2B2AE3D27D4EB4FULL
#define KSM_XXH_PRIME3	0x165667B19E3779F9ULL
#define KSM_XXH_PRIME4	0x85EBCA77C2B2AE63ULL
#define KSM_XXH_STRIPE	4		/* words of xxh64's four lanes */

static inline u64 ksm_xxh_round(u64 acc, u64 in)
{
	return rol64(acc + in * KSM_XXH_PRIME2, 31) * KSM_XXH_PRIME1;
}

static inline u64 ksm_xxh_merge(u64 h, u64 v)
{
	return (h ^ ksm_xxh_round(0, v)) * KSM_XXH_PRIME1 + KSM_XXH_PRIME4;
}

static inline void ksm_xxh_start(u64 *v, u64 seed)
{
	v[0] = seed + KSM_XXH_PRIME1 + KSM_XXH_PRIME2;
	v[1] = seed + KSM_XXH_PRIME2;
	v[2] = seed;
	v[3] = seed - KSM_XXH_PRIME1;
}

/* One stripe of 32 bytes into the four lanes. */
static inline void ksm_xxh_stripe(u64 *v, const __le64 *w)
{
	v[0] = ksm_xxh_round(v[0], le64_to_cpu(w[0]));
	v[1] = ksm_xxh_round(v[1], le64_to_cpu(w[1]));
	v[2] = ksm_xxh_round(v[2], le64_to_cpu(w[2]));
	v[3] = ksm_xxh_round(v[3], le64_to_cpu(w[3]));
}

/* The hash of @len bytes, a multiple of the stripe, once all are in. */
static inline u64 ksm_xxh_finish(const u64 *v, u64 len)
{
	u64 h;

	h = rol64(v[0], 1) + rol64(v[1], 7) + rol64(v[2], 12) +
	    rol64(v[3], 18);
	h = ksm_xxh_merge(h, v[0]);
	h = ksm_xxh_merge(h, v[1]);
	h = ksm_xxh_merge(h, v[2]);
	h = ksm_xxh_merge(h, v[3]);
	h += len;
	h ^= h >> 33;
	h *= KSM_XXH_PRIME2;
	h ^= h >> 29;
	h *= KSM_XXH_PRIME3;
	h ^= h >> 32;
	return h;
}

/**
 * ksm_calc_checksum() - the keyed hash of a page's content
 * @page: the page
 *
 * Return: 32 bits of xxh64() of the whole page, with the key as seed.
 */
u32 ksm_calc_checksum(struct page *page)
{
	const __le64 *addr = kmap_local_page(page), *w;
	u64 v[4];

	BUILD_BUG_ON(PAGE_SIZE % (4 * KSM_XXH_STRIPE * sizeof(u64)));
	ksm_xxh_start(v, ksm_checksum_key);
	for (w = addr; w < addr + PAGE_SIZE / 8; w += 4 * KSM_XXH_STRIPE) {
		ksm_xxh_stripe(v, w);
		ksm_xxh_stripe(v, w + KSM_XXH_STRIPE);
		ksm_xxh_stripe(v, w + 2 * KSM_XXH_STRIPE);
		ksm_xxh_stripe(v, w + 3 * KSM_XXH_STRIPE);
	}
	kunmap_local(addr);
	return (u32)ksm_xxh_finish(v, PAGE_SIZE);
}

/*
 * The first change test of a visit after one that found a change: a hash
 * of KSM_SAMPLE_CHUNKS pieces of the page spread over it, an eighth of its
 * bytes.  A page that keeps changing all over is found volatile at that
 * cost instead of a whole-page hash; an unchanged sample is followed by
 * the checksum (ksm_page_changed() in scan.c).
 *
 * The pieces are hashed as one stream: the value is xxh64() of the pieces
 * put end to end, with one set-up and one final mix.  A call of xxh64()
 * per piece pays eight of each, and took two fifths of the time of a
 * whole-page hash instead of an eighth.
 */
#define KSM_SAMPLE_CHUNKS	8
#define KSM_SAMPLE_BYTES	(PAGE_SIZE / 8 / KSM_SAMPLE_CHUNKS)
#define KSM_SAMPLE_WORDS	(KSM_SAMPLE_BYTES / 8)
#define KSM_CHUNK_WORDS		(PAGE_SIZE / 8 / KSM_SAMPLE_CHUNKS)

/**
 * ksm_calc_sample() - a cheap hash of part of a page, to see it change
 * @page: the page
 *
 * Return: 32 bits of xxh64() (seed 0) of KSM_SAMPLE_CHUNKS pieces of
 * KSM_SAMPLE_BYTES spread over the page, put end to end.
 */
u32 ksm_calc_sample(struct page *page)
{
	const __le64 *addr = kmap_local_page(page), *w;
	u64 v[4];
	int i, j;

	BUILD_BUG_ON(KSM_SAMPLE_WORDS % KSM_XXH_STRIPE);
	ksm_xxh_start(v, 0);
	for (i = 0; i < KSM_SAMPLE_CHUNKS; i++) {
		w = addr + i * KSM_CHUNK_WORDS;
		for (j = 0; j < KSM_SAMPLE_WORDS; j += KSM_XXH_STRIPE)
			ksm_xxh_stripe(v, w + j);
	}
	kunmap_local(addr);
	return (u32)ksm_xxh_finish(v, KSM_SAMPLE_CHUNKS * KSM_SAMPLE_BYTES);
}

/*
 * The compare behind every merge: of identical pages it reads every word,
 * and lib/string.c's memcmp() tests and branches at each.  Here a block of
 * KSM_CMP_WORDS words is tested at once, with one branch; the first block
 * that differs is handed to memcmp(), so the order is memcmp()'s, which
 * the stable tree is sorted by.  (A page that is not write-protected may
 * change meanwhile: a block memcmp() then finds equal is passed.)
 *
 * An architecture that keeps more than bytes in a page has the last word
 * on whether two pages are the same: arm64's memcmp_pages() tells pages
 * with memory tags (MTE) apart whatever their bytes, and a merge must not
 * lose the tags.  There, memcmp_pages() compares.
 */
#define KSM_CMP_WORDS	8

/**
 * ksm_cmp_pages() - compare the contents of two pages
 * @page1: one page
 * @page2: the other
 *
 * Return: 0 if the contents are equal; else less or more than 0, as
 * memcmp() of the two would return.
 */
int ksm_cmp_pages(struct page *page1, struct page *page2)
{
	const unsigned long *start1, *start2, *end, *a, *b;
	int ret = 0;

	BUILD_BUG_ON(PAGE_SIZE % (KSM_CMP_WORDS * sizeof(long)));
	if (IS_ENABLED(CONFIG_ARM64_MTE))
		return memcmp_pages(page1, page2);
	start1 = kmap_local_page(page1);
	start2 = kmap_local_page(page2);
	end = start1 + PAGE_SIZE / sizeof(long);
	for (a = start1, b = start2; a < end;
	     a += KSM_CMP_WORDS, b += KSM_CMP_WORDS) {
		if ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) |
		    (a[3] ^ b[3]) | (a[4] ^ b[4]) | (a[5] ^ b[5]) |
		    (a[6] ^ b[6]) | (a[7] ^ b[7])) {
			ret = memcmp(a, b, KSM_CMP_WORDS * sizeof(long));
			if (ret)
				break;
		}
	}
	kunmap_local(start2);
	kunmap_local(start1);
	return ret;
}

#if defined(CONFIG_DEBUG_FS) && defined(CONFIG_DEBUG_VM)
/**
 * ksm_core_debugfs() - show the checksum key in debugfs
 * @dir: the ksm directory of debugfs
 *
 * Debug kernels only, for tests that play an attacker who knows the key:
 * checksum_key, root only.
 *
 * Context: boot, from ksm_init().
 */
void __init ksm_core_debugfs(struct dentry *dir)
{
	debugfs_create_x64("checksum_key", 0400, dir, &ksm_checksum_key);
}
#endif

/**
 * ksm_core_init() - draw the checksum key
 */
void __init ksm_core_init(void)
{
	ksm_checksum_key = get_random_u64();
	ksm_zero_checksum = ksm_calc_checksum(ZERO_PAGE(0));
}

#include "core-test.h"
