/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel Samepage Merging: definitions shared by the files of mm/ksm/.
 */

/**
 * DOC: Locking rules
 *
 * This is the only place they are written down.  Locks, outermost first:
 * a lock may be taken while holding the ones listed above it, never the
 * other way round.
 *
 * 1. ``ksm_run_mutex`` serialises the writers of run and of the settings
 *    that need no KSM pages (merge_across_nodes, max_page_sharing,
 *    merge_domain); it is held over the "run = 2" unmerge of every
 *    registered mm, and waited for interruptibly.
 *    ``ksm_ctl_mutex`` serialises the writers of every other knob, and is
 *    only held for the write.  ksmd only ever tries it, holding no other
 *    KSM lock, at the end of a pass: the advisor's write of pages_to_scan
 *    (advisor.c).  So a write of sleep_millisecs, say, never waits for
 *    run = 2.  No one holds both.  The writers of memory.ksm have no
 *    such lock: each mm's switch is made, and the setting read, under its
 *    mmap_lock (memcg.c).
 *
 * 2. ``ksm_pass_mutex`` is held by ksmd over the end of a pass: the
 *    sweep of the stable nodes, taken in steps of ``ksm_mutex``, and the
 *    move of full_scans (or its reset, run = 2).  run = 2 and the writers
 *    of the settings that need no KSM pages hold it over their own
 *    sweep, also taken in steps (ksm_release_unmapped()), which keeps
 *    the two sweeps apart; run = 2 also over the unsharing of the
 *    mappings a KSM page has through its origin only, which takes each
 *    mm's mmap_lock without ksm_mutex (ksm_unshare_origins() in
 *    scan.c).  A reader of full_scans takes it alone: the sweep that
 *    comes with the next move of full_scans then starts after the read,
 *    and readers only ever wait for a sweep, never for ksmd's scan.
 *
 * 3. ``mm->mmap_lock`` of the mm being scanned, or being unmerged by
 *    madvise, mremap, PR_SET_MEMORY_MERGE, memory.ksm or run = 2 (read or
 *    write; madvise, the prctl and memory.ksm hold it for write while they
 *    register).
 *
 * 4. ``ksm_mutex`` protects the stable trees, the unstable table, every
 *    rmap item and stable node, each mm's list of items and its index,
 *    the scan cursor (``ksm_scan``) and the counters.  Everyone takes it
 *    with ksm_lock(), which lets the holder see the wait.  ksmd holds it,
 *    and the mmap_lock of the mm it scans, for one step (scan.c: a
 *    bounded run of pages whatever pages_to_scan says, cut short when
 *    another task waits for ``ksm_mutex``, or for the mmap_lock once the
 *    step has had a share of it, ksm_step_yield()), then drops both.  It
 *    waits for a busy mmap_lock without ``ksm_mutex``, and never takes it from
 *    a writer that waits (ksm_mmap_read_lock()).  No one holds ``ksm_mutex``
 *    over work that grows with the mappings of a KSM page: a node
 *    whose page went dies at once and its items come off one by one
 *    (stable.c); a task freeing many items of its own lets go of it when
 *    another waits (cursor.c).  Nor does anyone allocate or free under it
 *    what grows with the pages registered: ksmd makes the unstable table
 *    before its step and frees the old one after (unstable.c, checked
 *    with lockdep).  While holding ``ksm_mutex``, the
 *    mmap_lock of any other mm is only ever taken with
 *    mmap_read_trylock(): that is what lets madvise and exit take
 *    ``ksm_mutex`` from inside mmap_lock.
 *
 * 5. The page lock of a KSM page, then the page lock of a page merged
 *    into it (ksmd holds up to KSM_MERGE_MAX of each at once while it
 *    makes the merges of a batch together, ksm_merge_pending() in
 *    scan.c, across one secondary-MMU invalidation per page table).
 *    Both are only ever taken with trylock_page(): to wait for
 *    a page lock is to hold a reference to the page, and a migration that
 *    holds the lock fails on that reference (its refcount check), attempt
 *    after attempt.  So ksmd leaves a locked page for its next visit, or,
 *    where it must have the lock (an item off a node's rmap list), waits
 *    with its reference dropped (ksm_lock_page_of()), and with no merge
 *    of its batch waiting on a reference to that page (scan.c makes them
 *    first); and it leaves alone the rmap items of ptes that are
 *    migration entries.  One exception: run = 2 holds a reference to a
 *    KSM page left to its origin's mms while it unshares them, batch
 *    after batch, waiting for its lock in between (ksm_unshare_origin()
 *    in scan.c): the page is on its way out, and the reference keeps it
 *    the node's page meanwhile (no migration succeeds).
 *
 * 6. The anon_vma lock and the page table lock (spinlocks), taken by the
 *    rmap and page table helpers as usual.
 *
 * 7. ``ksm_slots_lock`` (spinlock, innermost) protects the list and hash
 *    of mm slots, and every move of the cursor from one slot to another.
 *    A slot with rmap items only leaves the list with both ``ksm_mutex``
 *    and ``ksm_slots_lock`` held, so a holder of either may look at any
 *    registered slot that has items, or is at the cursor.  An exit takes
 *    a slot with no item, away from the cursor, off the list under
 *    ``ksm_slots_lock`` alone (ksm_forget_mm()).
 *    ``ksm_memcg_settings_mutex`` (domain.c, innermost too) serialises
 *    the writers of a memory cgroup's KSM settings; nothing is taken
 *    under it.
 *
 * The rmap items linked on a stable node (its "rmap list") are changed
 * only with ``ksm_mutex`` held *and* the KSM page locked; rmap_walk_ksm()
 * readers hold only the page lock (rmap_walk() callers lock folios they
 * saw KSM).  A walker that saw a page anon, and does not lock anon pages,
 * holds a reference to it: ksmd makes a page KSM only after it counted
 * the page's references with the page already marked KSM, so such a
 * walker finds no node (ksm_claim_page() in merge.c: where another mm
 * maps the page too, a fork racing the count could still fool it).
 * ksmd itself reads nodes from page->mapping under ``ksm_mutex``.  A node
 * once published in page->mapping is never freed before its page.  When
 * the KSM page is gone (node stale) there are no readers left and
 * ``ksm_mutex`` is enough.  The node's kpfn is written with the old and
 * new pages locked (migration) and read locklessly, see ksm_get_page().
 *
 * The counts of KSM zero pages (``ksm_zero_pages``, mm->ksm_zero_pages)
 * are atomic and take no KSM lock: they change with the pte, under its
 * page table lock, wherever in mm that pte is mapped or taken away.
 *
 * rmap_walk_ksm(), folio_migrate_ksm() and ksm_might_need_to_copy() take
 * no KSM lock at all; nothing that holds a page lock ever waits for
 * ``ksm_mutex``.  Nothing sleeps under ``ksm_slots_lock``; ksmd calls
 * cond_resched() only with no spinlock held, and holds neither
 * ``ksm_mutex`` nor any mmap_lock while it sleeps between batches.
 *
 * Exit (ksm_forget_mm()) frees a slot with ``ksm_mutex`` held: since
 * ksmd only touches an mm with that mutex held (and rechecks the cursor
 * after any unlock), such a slot is never in use by ksmd.  ksmd holds a
 * reference of its own to the mm of its step (its mmap_lock outlives the
 * cursor's stay in the slot).  When ksmd runs (run = 1, read again under
 * ``ksm_slots_lock``), exit first takes and drops the mm's mmap_lock for
 * write, holding nothing else: ksmd merges a page of an mm it does not
 * scan only under that mm's mmap_lock (rule 4), so no such merge is then
 * under way, and none starts.  If the mm has no merged page, exit frees
 * the slot under that lock alone if it has no item (rule 7), or else
 * marks it an orphan, unless the cursor is on it; only ksmd frees an
 * orphan, once its cursor has left it, or a write of run = 0 or 2, which
 * reaps every orphan under ``ksm_mutex`` after it wrote run, moving the
 * cursor past those it sits on (only ever at their start).
 */
#ifndef _MM_KSM_KSM_H
#define _MM_KSM_KSM_H

#include <linux/hashtable.h>
#include <linux/ksm.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/siphash.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>

/* Values of ksm_run, as written to /sys/kernel/mm/ksm/run. */
#define KSM_RUN_STOP	0
#define KSM_RUN_MERGE	1
#define KSM_RUN_UNMERGE	2

#define KSM_PAGES_TO_SCAN_DEFAULT	100

/* Values of ksm_merge_domain, as merge_domain names them. */
#define KSM_DOMAIN_GLOBAL	0
#define KSM_DOMAIN_MEMCG	1
#define KSM_DOMAIN_USER		2
#define KSM_NO_DOMAIN		U64_MAX	/* an mm that merges with nothing */
#define KSM_DOMAIN_UNKNOWN	(U64_MAX - 1)	/* an mm whose owner has gone */

/* The KSM settings of a memory cgroup (domain.c), as bits. */
#define KSM_MEMCG_MERGE_SET	0x1	/* memory.ksm is 0 or 1, not inherit */
#define KSM_MEMCG_MERGE_ON	0x2	/* memory.ksm is 1 */
#define KSM_MEMCG_DOMAIN	0x4	/* memory.ksm_domain: one for its subtree */
#define KSM_MEMCG_NO_ZERO	0x8	/* memory.ksm_use_zero_pages 0 */

/* Values of ksm_advisor_mode, as advisor_mode names them. */
#define KSM_ADVISOR_NONE	0
#define KSM_ADVISOR_SCAN_TIME	1

/*
 * Low bits of ksm_rmap_item.address (the page address is page aligned):
 * the last scan pass that entered an unstable entry or stamped it (page
 * found unchanged, or passed over), and the item state.  They take all 12
 * bits below a 4 KiB page.
 */
#define KSM_ITEM_SEQ_MASK	0x0ffUL
#define KSM_ITEM_UNSTABLE	0x100UL	/* on the unstable table */
#define KSM_ITEM_STABLE		0x200UL	/* on a stable node's rmap list */
#define KSM_ITEM_FRESH		0x400UL	/* not visited since it was made */
#define KSM_ITEM_RECHECK	0x800UL	/* unstable: search again, see unstable.c */
#define KSM_ITEM_FLAGS		(KSM_ITEM_SEQ_MASK | KSM_ITEM_UNSTABLE | \
				 KSM_ITEM_STABLE | KSM_ITEM_FRESH | \
				 KSM_ITEM_RECHECK)

/*
 * One scanned page of a registered mm: 56 bytes on 64-bit.  Items of an mm
 * form a singly linked list sorted by address, hanging off its mm slot.
 * The items of a KSM page's node are doubly linked: a page may have tens
 * of thousands of them, and one must come off without a walk of the rest.
 */
struct ksm_rmap_item {
	struct ksm_rmap_item *next;	/* in the mm slot's list */
	struct mm_struct *mm;
	unsigned long address;		/* page address | KSM_ITEM_* */
	union {
		struct {			/* not KSM_ITEM_STABLE */
			struct hlist_node hash;	/* unstable table */
			u32 checksum;		/* content, unstable key */
			u32 sample;		/* sampled content at last visit */
			u8 age;			/* looks in a row: unique */
			u8 skips;		/* visits still to pass over */
			u8 old_sum;		/* checksum older than sample */
			u32 dtag;		/* its domain, in the bucket */
		};
		struct {			/* KSM_ITEM_STABLE */
			struct hlist_node snode;	/* node's rmap list */
			struct ksm_stable_node *head;
			struct anon_vma *anon_vma;	/* held reference */
		};
	};
};

enum ksm_node_kind {
	KSM_NODE_PLAIN,		/* one KSM page, linked in a stable tree */
	KSM_NODE_CHAIN,		/* in a stable tree, holds a list of dups */
	KSM_NODE_DUP,		/* one KSM page, on a chain's dup list */
	KSM_NODE_DEAD,		/* page gone, rmap items still to come off */
};

/*
 * A stable node describes one KSM page (plain or dup), or, as a chain, a
 * set of KSM pages with the same content once max_page_sharing mappings of
 * one were not enough.  The KSM page points back at its node through
 * page->mapping (node | PAGE_MAPPING_KSM).  Once the page has gone, a node
 * that still has rmap items is dead: out of its tree, on a list of its
 * own, freed with its last item.  The checksum of the content, taken once
 * the page was write-protected, orders the tree before the content: a
 * search compares pages only where the checksums are equal.
 */
struct ksm_stable_node {
	union {
		struct rb_node rb;		/* PLAIN, CHAIN */
		struct {			/* DUP */
			struct list_head dup_link;
			struct ksm_stable_node *chain;
		};
	};
	union {
		struct hlist_head rmap_list;		/* PLAIN, DUP, DEAD */
		struct list_head dups;			/* CHAIN, oldest first */
	};
	union {
		unsigned long kpfn;		/* PLAIN, DUP: the KSM page */
		unsigned long pruned;		/* CHAIN: jiffies of last prune */
	};
	struct list_head link;		/* PLAIN, DUP, DEAD: stable.c's lists */
	unsigned int nr_items;			/* rmap list length */
	unsigned short kind;
	short nid;				/* its tree, or the chain's */
	u64 domain;				/* merge domain, see domain.c */
	u32 checksum;				/* ksm_calc_checksum() of it */
	/*
	 * PLAIN, DUP, DEAD: if the KSM page was shared by a fork when it was
	 * made one, the root of its anon_vma tree (a reference held), where
	 * the mms that shared it map it still, at its index.
	 */
	struct anon_vma *origin;
};

struct ksm_mm_slot {
	struct hlist_node hash;		/* in ksm_slot_hash */
	struct list_head scan_list;	/* in ksm_mm_head.scan_list */
	struct mm_struct *mm;
	struct ksm_rmap_item *rmap_list;
	struct xarray index;		/* of rmap_list, see cursor.c */
	unsigned long unmerged;		/* last run = 2 that took it */
	bool orphan;			/* its mm exited, left to ksmd */
};

/* Where ksmd is: the scan of one mm goes up in address. */
struct ksm_scan {
	struct ksm_mm_slot *slot;
	unsigned long address;
	struct ksm_rmap_item **rmap_link;	/* where the next item goes */
	bool ending;			/* past the last mm, not yet counted */
};

/* core.c: the knobs, as /sys/kernel/mm/ksm shows them. */
extern unsigned int ksm_run;
extern unsigned int ksm_pages_to_scan;
extern unsigned int ksm_sleep_ms;
extern bool ksm_merge_across_nodes;
extern bool ksm_use_zero_pages;
extern int ksm_max_page_sharing;
extern unsigned int ksm_prune_ms;
extern bool ksm_smart_scan;
extern unsigned int ksm_advisor_mode;
extern unsigned int ksm_advisor_max_cpu;
extern unsigned int ksm_advisor_min_pages;
extern unsigned int ksm_advisor_max_pages;
extern unsigned int ksm_advisor_target_s;

/* core.c: the counters, written under ksm_mutex. */
extern unsigned long ksm_pages_shared;
extern unsigned long ksm_pages_sharing;
extern unsigned long ksm_pages_unshared;
extern unsigned long ksm_rmap_items;
extern unsigned long ksm_full_scans;
extern unsigned long ksm_stable_node_chains;
extern unsigned long ksm_stable_node_dups;
extern unsigned long ksm_pages_scanned;
extern unsigned long ksm_pages_skipped;

/* core.c: the locks, ksmd and the content hashes. */
extern struct mutex ksm_run_mutex;
extern struct mutex ksm_ctl_mutex;
extern struct mutex ksm_pass_mutex;
extern struct mutex ksm_mutex;
extern struct task_struct *ksm_thread;
extern wait_queue_head_t ksm_thread_wait;
extern u32 ksm_zero_checksum;
extern atomic_t ksm_mutex_waiters;

void ksm_lock(void);
void ksm_lock_last(void);
bool ksm_lock_break(void);
void ksm_wake(void);

/**
 * ksm_lock_wanted() - does another task wait for ksm_mutex?
 *
 * Inline: ksmd asks at every page it looks at.
 *
 * Return: true if a task is in ksm_lock(), or about to be.
 */
static inline bool ksm_lock_wanted(void)
{
	return atomic_read(&ksm_mutex_waiters);
}

u32 ksm_calc_checksum(struct page *page);
u32 ksm_calc_sample(struct page *page);
int ksm_cmp_pages(struct page *page1, struct page *page2);
void ksm_core_init(void);

struct dentry;
#if defined(CONFIG_DEBUG_FS) && defined(CONFIG_DEBUG_VM)
void ksm_core_debugfs(struct dentry *dir);
void ksm_unstable_debugfs(struct dentry *dir);
#endif

static inline unsigned long ksm_item_addr(const struct ksm_rmap_item *item)
{
	return item->address & PAGE_MASK;
}

/* One read of the mapping: a page ksmd gave up on is anon again. */
static inline struct ksm_stable_node *ksm_folio_node(struct folio *folio)
{
	unsigned long mapping = (unsigned long)READ_ONCE(folio->mapping);

	if ((mapping & PAGE_MAPPING_FLAGS) != PAGE_MAPPING_KSM)
		return NULL;
	return (void *)(mapping & ~PAGE_MAPPING_FLAGS);
}

static inline void ksm_folio_set_node(struct folio *folio,
				      struct ksm_stable_node *node)
{
	WRITE_ONCE(folio->mapping,
		   (void *)((unsigned long)node | PAGE_MAPPING_KSM));
}

/* An mm whose last user is gone: do not bother with it any more. */
static inline bool ksm_test_exit(struct mm_struct *mm)
{
	return atomic_read(&mm->mm_users) == 0;
}

/*
 * The process a writer of run = 2 (or of memory.ksm) unmerges has exited
 * meanwhile: only the writer's reference keeps its address space.  Its
 * pages go with it once the writer lets go, and its exit frees its rmap
 * items: copying the pages first would take memory for nothing.  An
 * unmerge of one's own range never stops here.
 */
static inline bool ksm_owner_gone(struct mm_struct *mm)
{
	return mm != current->mm && atomic_read(&mm->mm_users) <= 1;
}

static inline int ksm_tree_nid(struct page *page)
{
	return ksm_merge_across_nodes ? 0 : page_to_nid(page);
}

/* domain.c: merge domains. */
extern unsigned int ksm_merge_domain;
extern siphash_key_t ksm_domain_secret;
void ksm_domain_init(void);
u64 ksm_mm_domain(struct mm_struct *mm);
bool ksm_mm_zero_ok(struct mm_struct *mm);
bool ksm_domain_mode_ok(unsigned int mode);
#ifdef CONFIG_MEMCG
struct mem_cgroup;
unsigned long ksm_memcg_flags(struct mem_cgroup *memcg);
int ksm_memcg_set_flags(struct mem_cgroup *memcg, unsigned long mask,
			unsigned long bits);
int ksm_memcg_merge(struct mem_cgroup *memcg);
#endif

/*
 * The bucket tag of a domain key: a keyed hash of it, so that tags of two
 * domains meet by chance alone (one in 2^32), never by anyone's choice.
 * Domain 0 (every page under "global") is tag 0, without the hash.
 */
static inline u32 ksm_domain_tag(u64 domain)
{
	return domain ? (u32)siphash_1u64(domain, &ksm_domain_secret) : 0;
}

/* rmap.c: reverse mapping. */
#define KSM_ORIGIN_BATCH	16
/* Mappings of a KSM page through its origin, for run = 2 to unshare. */
struct ksm_origin_maps {
	struct mm_struct *mm[KSM_ORIGIN_BATCH];	/* each with mmget() */
	unsigned long addr[KSM_ORIGIN_BATCH];
	unsigned int nr;
};

void ksm_origin_mappings(struct folio *folio, struct anon_vma *origin,
			 struct ksm_origin_maps *maps);

/* stable.c: the stable trees. */
struct page *ksm_stable_search(struct page *page, u32 checksum, u64 domain,
			       struct ksm_stable_node **nodep);
void ksm_stable_add(struct ksm_stable_node *node, struct page *kpage);
struct page *ksm_better_dup(struct ksm_stable_node *node,
			    struct ksm_stable_node **roomp);
struct ksm_stable_node *ksm_alloc_node(void);
void ksm_free_node(struct ksm_stable_node *node);
void ksm_stable_link(struct ksm_rmap_item *item, struct ksm_stable_node *node,
		     struct anon_vma *anon_vma);
void ksm_stable_unlink(struct ksm_rmap_item *item);
void ksm_stable_unlink_locked(struct ksm_rmap_item *item);
#define KSM_DRAIN_BATCH	256	/* dead nodes' items per ksm_drain_dead() */
bool ksm_drain_dead(unsigned int max);
void ksm_sweep_start(void);
bool ksm_sweep_some(unsigned int max);
void ksm_release_unmapped(void);
bool ksm_origin_next(struct page **pagep, struct anon_vma **originp);
bool ksm_stable_empty(void);
int ksm_stable_init(void);
void ksm_stable_exit(void);

/* unstable.c: the unstable table. */
struct ksm_rmap_item *ksm_unstable_search_insert(struct ksm_rmap_item *item,
						 struct page *page, u64 domain,
						 u32 dtag, struct page **tree_pagep);
void ksm_unstable_remove(struct ksm_rmap_item *item);
void ksm_unstable_keep(struct ksm_rmap_item *item);
void ksm_unstable_leave(struct ksm_rmap_item *item);
bool ksm_unstable_revisit(struct ksm_rmap_item *item, u32 dtag);
void ksm_unstable_new_pass(void);
/* A table made or emptied by a step: allocated and freed without ksm_mutex. */
struct ksm_table_swap {
	struct hlist_head *fresh;	/* of 2^bits buckets, for a resize */
	unsigned int bits;
	struct hlist_head *retired;	/* the old table, emptied */
};

void ksm_unstable_prepare(struct ksm_table_swap *swap);
void ksm_unstable_step(struct ksm_table_swap *swap);
void ksm_unstable_release(struct ksm_table_swap *swap);
struct vm_area_struct *ksm_item_vma(struct ksm_rmap_item *item);
int ksm_unstable_init(void);
void ksm_unstable_exit(void);

/* items.c: mm slots and rmap items. */
extern spinlock_t ksm_slots_lock;
extern struct ksm_mm_slot ksm_mm_head;
struct ksm_mm_slot *ksm_find_slot_locked(struct mm_struct *mm);
struct ksm_mm_slot *ksm_find_slot(struct mm_struct *mm);
struct ksm_mm_slot *ksm_alloc_slot(struct mm_struct *mm);
void ksm_insert_slot(struct ksm_mm_slot *slot, struct ksm_mm_slot *next);
void ksm_del_slot(struct ksm_mm_slot *slot);
void ksm_free_slot(struct ksm_mm_slot *slot);
struct ksm_rmap_item *ksm_alloc_item(struct mm_struct *mm, unsigned long addr);
void ksm_free_item(struct ksm_rmap_item *item);
int ksm_items_init(void);
void ksm_items_exit(void);

/* merge.c: merging pages. */

/* The most merges one call of ksm_merge_many() makes. */
#define KSM_MERGE_MAX	16

/*
 * The most pages apart two ptes of one page table may be and still change
 * with one TLB flush (merge.c, unmerge.c): a secondary MMU told of the
 * range drops its mappings of the pages in between too.
 */
#define KSM_FLUSH_GAP	8

/**
 * struct ksm_merge_req - one merge of ksm_merge_many()
 * @addr: the address of @page in the vma
 * @page: the page, referenced by the caller
 * @kpage: the KSM page to map instead (NULL: the zero page), locked by
 *	the caller
 * @err: 0 for a merge to make; then its result (see ksm_merge_many())
 */
struct ksm_merge_req {
	unsigned long addr;
	struct page *page;
	struct page *kpage;
	int err;
};

void ksm_merge_many(struct vm_area_struct *vma, struct ksm_merge_req *reqs,
		    unsigned int nr);
int ksm_merge_zero(struct vm_area_struct *vma, unsigned long addr,
		   struct page *page);
int ksm_merge_move(struct ksm_rmap_item *item, struct vm_area_struct *vma,
		   struct page *page, struct page *kpage,
		   struct ksm_stable_node *node);
int ksm_merge_pair(struct ksm_rmap_item *item, struct vm_area_struct *vma,
		   struct page *page, u64 domain,
		   struct ksm_rmap_item *tree_item, struct page *tree_page);
void ksm_break_one(struct vm_area_struct *vma, unsigned long addr);

/* unmerge.c: unmerging pages. */
int ksm_break_range(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end);
int ksm_unshare_at(struct mm_struct *mm, unsigned long addr);

/* cursor.c: the scanner's cursor and the walks of the item lists. */
extern struct ksm_scan ksm_scan;
bool ksm_cursor_behind(unsigned long addr);
struct ksm_rmap_item *ksm_cursor_item(unsigned long addr, unsigned int *quota);
struct ksm_rmap_item *ksm_cursor_peek(unsigned long addr, unsigned int *quota);
bool ksm_cursor_keep(unsigned long addr, unsigned int *quota);
void ksm_cursor_pass(struct ksm_rmap_item *item);
bool ksm_cursor_next_mm(unsigned int *quota);
bool ksm_cursor_start_pass(void);
void ksm_cursor_reset(bool pass_over);
int ksm_cursor_add_mm(struct mm_struct *mm, bool *first);
bool ksm_cursor_leave_exited(unsigned int *quota);
void ksm_reap_orphans(void);
void ksm_forget_mm(struct mm_struct *mm);
void ksm_forget_range(struct mm_struct *mm, unsigned long start,
		      unsigned long end, bool wait);

/* advisor.c: the scan rate that advisor_mode "scan-time" sets. */
unsigned long ksm_advisor_rate(unsigned long rate, u64 wall_ns, u64 cpu_ns,
			       unsigned int *cpu_pct);
void ksm_advisor_start_pass(void);
void ksm_advisor_end_pass(void);
void ksm_advisor_set_mode(unsigned int mode);

/* scan.c: ksmd, and the changes of run. */
int ksm_set_run(unsigned int run);
int ksm_scan_init(void);
void ksm_scan_exit(void);

/* sysfs.c: /sys/kernel/mm/ksm. */
int ksm_sysfs_init(void);

#endif /* _MM_KSM_KSM_H */
