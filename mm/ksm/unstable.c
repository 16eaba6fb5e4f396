// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the unstable table.  Pages whose content did not change between
 * two visits are entered here, keyed by their checksum, to be found by a
 * later page with the same content.  Their content may change at any
 * time, so a hit is only a candidate: the caller compares again once both
 * pages are write-protected.  Everything here runs with ksm_mutex held,
 * but the allocation and freeing of a table (ksm_unstable_prepare() and
 * ksm_unstable_release(), around ksmd's step).
 *
 * An entry stays while its page is found unchanged: each visit stamps it
 * with the pass (the low bits of its number, ksm_unstable_seq, kept in the
 * item), and an entry that neither this pass nor the one before stamped is
 * ignored, and unlinked when met, without a walk of the table.  A visit
 * that finds the page unchanged does not search the table again
 * (ksm_unstable_revisit()): every page of its checksum and domain tag
 * entered since then searched the table and met the entry, and merged
 * with it or was told to look again.  A search that meets an entry of its
 * checksum and tag and does not merge with it (the other page busy, the
 * same page, on another node, of other content...) marks both items
 * KSM_ITEM_RECHECK, and a marked item searches again at its next visit.
 * Only an entry past the bounds of a search (below) is not met: behind
 * more live entries than a bucket holds by chance, which the key keeps
 * anyone from arranging, or behind as many copies that cannot merge.  So
 * a page found unchanged costs its checksum, and no look at other items,
 * unless it is one of such copies (a page shared by fork, copies on two
 * nodes), which search at every visit; the entry of a page that smart
 * scan passes over is stamped the same way, without a checksum.
 *
 * The checksum is keyed by a secret drawn at boot, so the bucket of a page
 * cannot be chosen by whoever writes it; still, a search walks no more
 * than KSM_BUCKET_WALK live entries, and looks at the pages (or the
 * domains) of no more than KSM_BUCKET_PAGES of them.  The table is sized for the rmap items
 * there are, one to two per bucket: when that changes by more than a
 * factor of two, a new table takes over, and ksmd empties the old one a
 * few buckets per step (ksm_unstable_step()), moving the live entries to
 * the new table, no more than KSM_DRAIN_ENTRIES of them per step: the
 * copies of a page that many processes share by fork are all in one
 * bucket.  Until a bucket of the old table has been emptied,
 * searches look there too.
 */
#include <linux/debugfs.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>

#include "ksm.h"

/*
 * At most 2^27 buckets, 1 GiB: kvmalloc() refuses more than INT_MAX bytes.
 * The 2^28 rmap items of a 1 TiB host are then two to a bucket.
 */
#define KSM_TABLE_MIN_BITS	10
#define KSM_TABLE_MAX_BITS	27
#define KSM_BUCKET_WALK		32	/* live entries a search walks at most */
#define KSM_BUCKET_PAGES	6	/* pages of entries it looks at, at most */
#define KSM_DRAIN_BUCKETS	256	/* old buckets emptied per step */
#define KSM_DRAIN_ENTRIES	1024	/* entries moved or unlinked per step */

struct ksm_table {
	struct hlist_head *buckets;	/* NULL: no table */
	unsigned int bits;
};

static struct ksm_table ksm_table;	/* where entries go */
static struct ksm_table ksm_old_table;	/* being emptied, or none */
static unsigned long ksm_old_next;	/* its first bucket not emptied */
static unsigned long ksm_unstable_seq;	/* the pass, KSM_ITEM_SEQ_MASK bits */

/**
 * ksm_unstable_new_pass() - start a pass: entries not stamped since the
 * start of the pass before are forgotten
 *
 * Context: ksm_mutex held.
 */
void ksm_unstable_new_pass(void)
{
	lockdep_assert_held(&ksm_mutex);
	ksm_unstable_seq = (ksm_unstable_seq + 1) & KSM_ITEM_SEQ_MASK;
}

/*
 * The bucket of an entry: its checksum and the tag of its merge domain, so
 * that a content common to many domains is spread over many buckets.
 */
static u32 ksm_bucket_idx(struct ksm_table *t, u32 checksum, u32 dtag)
{
	return hash_32(checksum ^ dtag, t->bits);
}

static struct hlist_head *ksm_bucket(struct ksm_table *t,
				     const struct ksm_rmap_item *item)
{
	return &t->buckets[ksm_bucket_idx(t, item->checksum, item->dtag)];
}

/**
 * ksm_unstable_remove() - take an rmap item out of the unstable table
 * @item: the item, in the table (live or left over)
 *
 * Context: ksm_mutex held.
 */
void ksm_unstable_remove(struct ksm_rmap_item *item)
{
	lockdep_assert_held(&ksm_mutex);
	VM_WARN_ON_ONCE(!(item->address & KSM_ITEM_UNSTABLE));
	hlist_del(&item->hash);
	item->address = ksm_item_addr(item);
	ksm_pages_unshared--;
}

/*
 * Is @item's entry left over: stamped neither in pass @seq nor in the one
 * before, and not being passed over by smart scan?
 */
static bool ksm_entry_stale(const struct ksm_rmap_item *item,
			    unsigned long seq)
{
	return ((seq - item->address) & KSM_ITEM_SEQ_MASK) > 1 && !item->skips;
}

/**
 * ksm_unstable_keep() - keep an entry for this pass
 * @item: the item, in the table
 *
 * The page of @item was found unchanged, or is passed over this pass
 * (smart scan): its entry, with the checksum of its last look, stays for a
 * page that comes to equal it.  The merge compares the pages, as for any
 * entry.
 *
 * Context: ksm_mutex held.
 */
void ksm_unstable_keep(struct ksm_rmap_item *item)
{
	lockdep_assert_held(&ksm_mutex);
	VM_WARN_ON_ONCE(!(item->address & KSM_ITEM_UNSTABLE));
	item->address = (item->address & ~KSM_ITEM_SEQ_MASK) | ksm_unstable_seq;
}

/**
 * ksm_unstable_leave() - take an rmap item out of the table, if it is in
 * @item: the item
 *
 * Context: ksm_mutex held.
 */
void ksm_unstable_leave(struct ksm_rmap_item *item)
{
	lockdep_assert_held(&ksm_mutex);
	if (item->address & KSM_ITEM_UNSTABLE)
		ksm_unstable_remove(item);
}

/**
 * ksm_unstable_revisit() - keep the entry of a page found unchanged
 * @item: the rmap item, whose checksum was found unchanged at this visit
 * @dtag: the tag of the merge domain of @item's mm, ksm_domain_tag()
 *
 * An entry in the table, of that tag, whose last search was not told to
 * look again, stays as it is without a search (see the top of this
 * file).  Any other entry is taken out, for a new search.
 *
 * Context: ksm_mutex held.
 * Return: true if the entry stays.
 */
bool ksm_unstable_revisit(struct ksm_rmap_item *item, u32 dtag)
{
	lockdep_assert_held(&ksm_mutex);
	if (!(item->address & KSM_ITEM_UNSTABLE))
		return false;
	if ((item->address & KSM_ITEM_RECHECK) ||
	    item->dtag != dtag) {
		ksm_unstable_remove(item);
		return false;
	}
	ksm_unstable_keep(item);
	return true;
}

/* The table size for @items rmap items: one to two of them per bucket. */
static unsigned int ksm_table_bits(unsigned long items)
{
	return clamp_t(unsigned int, order_base_2(items / 2 + 1),
		       KSM_TABLE_MIN_BITS, KSM_TABLE_MAX_BITS);
}

/*
 * The size a table of 2^@bits buckets should be replaced with for @items
 * rmap items, or 0 if it will do: not smaller than wanted, and no more than
 * twice as large.
 */
static unsigned int ksm_resize_bits(unsigned long items, unsigned int bits)
{
	unsigned int want = ksm_table_bits(items);

	return want <= bits && want + 1 >= bits ? 0 : want;
}

/*
 * A table is 4 to 8 bytes per item: zeroing it takes long enough to stall
 * every exit and madvise of KSM's users if ksm_mutex were held (a 1 TiB
 * host has a table of 1 GiB).
 */
static struct hlist_head *ksm_alloc_buckets(unsigned int bits)
{
	lockdep_assert_not_held(&ksm_mutex);
	return kvcalloc(1UL << bits, sizeof(struct hlist_head),
			GFP_KERNEL | __GFP_NOWARN);
}

/**
 * ksm_unstable_prepare() - make the table a resize wants, without ksm_mutex
 * @swap: the tables of this step, zeroed by the caller
 *
 * Called by ksmd before each step: if the number of rmap items no longer
 * fits the table, and no old table is being emptied, allocate one of the
 * size they want now, for ksm_unstable_step() to take.  The values looked
 * at may change before the step: it takes the table only if its size is
 * still the one wanted.
 *
 * Context: no KSM lock held; may sleep.
 */
void ksm_unstable_prepare(struct ksm_table_swap *swap)
{
	if (READ_ONCE(ksm_old_table.buckets))
		return;
	swap->bits = ksm_resize_bits(READ_ONCE(ksm_rmap_items),
				     READ_ONCE(ksm_table.bits));
	if (swap->bits)
		swap->fresh = ksm_alloc_buckets(swap->bits);
}

/**
 * ksm_unstable_step() - empty some of the old table, or resize the table
 * @swap: the tables of this step, from ksm_unstable_prepare()
 *
 * Once per step of ksmd: empty a few buckets of the old table, if there is
 * one; else, if the number of items no longer fits the table, replace it
 * with the one @swap brings, if of the size wanted.  An old table emptied
 * is handed back in @swap, to be freed with what was not taken by
 * ksm_unstable_release() once ksm_mutex is let go of.
 *
 * Context: ksm_mutex held.
 */
void ksm_unstable_step(struct ksm_table_swap *swap)
{
	unsigned long seq = ksm_unstable_seq;
	struct ksm_rmap_item *item;
	struct hlist_node *tmp;
	unsigned int n, moved = 0;

	lockdep_assert_held(&ksm_mutex);
	if (!ksm_old_table.buckets) {
		if (!swap->fresh ||
		    ksm_resize_bits(ksm_rmap_items, ksm_table.bits) != swap->bits)
			return;		/* the next step's, if still wanted */
		ksm_old_table.bits = ksm_table.bits;
		WRITE_ONCE(ksm_old_table.buckets, ksm_table.buckets);
		ksm_old_next = 0;
		ksm_table.buckets = swap->fresh;
		WRITE_ONCE(ksm_table.bits, swap->bits);
		swap->fresh = NULL;
		return;
	}

	for (n = 0; n < KSM_DRAIN_BUCKETS; n++) {
		hlist_for_each_entry_safe(item, tmp,
					  &ksm_old_table.buckets[ksm_old_next],
					  hash) {
			/* The rest of the bucket at the next step. */
			if (++moved > KSM_DRAIN_ENTRIES)
				return;
			if (ksm_entry_stale(item, seq)) {
				ksm_unstable_remove(item);
				continue;
			}
			hlist_del(&item->hash);
			hlist_add_head(&item->hash,
				       ksm_bucket(&ksm_table, item));
		}
		if (++ksm_old_next >> ksm_old_table.bits) {
			swap->retired = ksm_old_table.buckets;
			WRITE_ONCE(ksm_old_table.buckets, NULL);
			break;
		}
	}
}

/**
 * ksm_unstable_release() - free the tables a step did not take or gave back
 * @swap: the tables of the step
 *
 * Context: no KSM lock held; may sleep.
 */
void ksm_unstable_release(struct ksm_table_swap *swap)
{
	lockdep_assert_not_held(&ksm_mutex);
	kvfree(swap->fresh);
	kvfree(swap->retired);
}

/**
 * ksm_item_vma() - the vma of an rmap item's page
 * @item: the item
 *
 * Context: ksm_mutex held, and the mmap_lock of @item's mm.
 * Return: the vma that @item's page is in, if still mergeable (with an
 * anon_vma); else NULL.
 */
struct vm_area_struct *ksm_item_vma(struct ksm_rmap_item *item)
{
	struct vm_area_struct *vma;

	lockdep_assert_held(&ksm_mutex);
	vma = vma_lookup(item->mm, ksm_item_addr(item));
	if (!vma || !(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
		return NULL;
	return vma;
}

/**
 * ksm_item_page() - the anon page an rmap item maps now
 * @item: the item
 * @locked_mm: the mm whose mmap_lock the caller holds
 *
 * Get a reference to the anon page @item maps now, or NULL.  The mmap_lock
 * of @locked_mm is held by the caller; any other is only tried.  There is
 * no page if @item's mm is exiting or its vma is no longer mergeable.
 *
 * Context: ksm_mutex held, and the mmap_lock of @locked_mm.
 * Return: the page, referenced, or NULL.
 */
static struct page *ksm_item_page(struct ksm_rmap_item *item,
				  struct mm_struct *locked_mm)
{
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;
	struct page *page = NULL;

	lockdep_assert_held(&ksm_mutex);
	if (mm != locked_mm && !mmap_read_trylock(mm))
		return NULL;
	if (ksm_test_exit(mm))
		goto out;
	vma = ksm_item_vma(item);
	if (!vma)
		goto out;
	page = follow_page(vma, ksm_item_addr(item), FOLL_GET);
	if (IS_ERR_OR_NULL(page)) {
		page = NULL;
		goto out;
	}
	if (is_zone_device_page(page) || !PageAnon(page)) {
		put_page(page);
		page = NULL;
		goto out;
	}
	flush_anon_page(vma, page, ksm_item_addr(item));
	flush_dcache_page(page);
out:
	if (mm != locked_mm)
		mmap_read_unlock(mm);
	return page;
}

/* What one search may still do, and what it met. */
struct ksm_search {
	unsigned int walk;	/* live entries to walk, at most */
	unsigned int pages;	/* pages of entries to look at, at most */
	bool recheck;		/* met an entry of its key, no match */
};

/*
 * Look in @bucket for a live entry whose page has the content of @page and
 * is of @domain, within the bounds of @s; entries left over met on the
 * way are unlinked.  An entry of the key (checksum and domain tag) that is
 * no match is marked KSM_ITEM_RECHECK, and so is the search (@s).
 */
static struct ksm_rmap_item *ksm_bucket_search(struct hlist_head *bucket,
					       struct ksm_rmap_item *item,
					       struct page *page, u64 domain,
					       struct page **tree_pagep,
					       struct ksm_search *s)
{
	unsigned long seq = ksm_unstable_seq;
	struct ksm_rmap_item *titem;
	struct hlist_node *tmp;
	struct page *tpage;

	hlist_for_each_entry_safe(titem, tmp, bucket, hash) {
		if (ksm_entry_stale(titem, seq)) {
			ksm_unstable_remove(titem);
			continue;
		}
		if (!s->walk || !s->pages)
			break;
		s->walk--;
		if (titem->checksum != item->checksum ||
		    titem->dtag != item->dtag)
			continue;
		/* Either may be the one to merge, at its next visit. */
		titem->address |= KSM_ITEM_RECHECK;
		s->recheck = true;
		/*
		 * Its domain now: its mm may have moved since it was entered.
		 * The look up its mm's cgroups costs as much as a page's.
		 */
		s->pages--;
		if (titem->mm != item->mm && ksm_merge_domain &&
		    ksm_mm_domain(titem->mm) != domain)
			continue;
		tpage = ksm_item_page(titem, item->mm);
		if (!tpage)
			continue;
		if (tpage == page || PageKsm(tpage) ||
		    (!ksm_merge_across_nodes &&
		     page_to_nid(tpage) != page_to_nid(page)) ||
		    ksm_cmp_pages(page, tpage)) {
			put_page(tpage);
			continue;
		}
		*tree_pagep = tpage;
		return titem;
	}
	return NULL;
}

/**
 * ksm_unstable_search_insert() - find a page's match, or enter the page
 * @item: the rmap item of @page
 * @page: the page
 * @domain: the merge domain of @item's mm (domain.c)
 * @dtag: its tag, ksm_domain_tag(@domain)
 * @tree_pagep: set to the page of the match, referenced
 *
 * Look for a page of @domain with the content of @page (mapped by @item,
 * whose checksum is current, not in the table) in the table.  On a hit
 * return its item, with a reference to its page in *@tree_pagep; else
 * enter @item and return NULL.
 * The buckets of the old table not yet emptied are looked at too.  A KSM
 * page, @page itself, or a page on another NUMA node (unless
 * merge_across_nodes) is no match.
 *
 * Context: ksm_mutex and the mmap_lock of @item's mm held.
 * Return: the item of the match, or NULL.
 */
struct ksm_rmap_item *ksm_unstable_search_insert(struct ksm_rmap_item *item,
						 struct page *page, u64 domain,
						 u32 dtag, struct page **tree_pagep)
{
	struct ksm_search s = {
		.walk = KSM_BUCKET_WALK,
		.pages = KSM_BUCKET_PAGES,
	};
	unsigned long seq = ksm_unstable_seq;
	struct ksm_rmap_item *titem;
	u32 idx;

	lockdep_assert_held(&ksm_mutex);
	VM_WARN_ON_ONCE(item->address & KSM_ITEM_UNSTABLE);
	item->dtag = dtag;
	titem = ksm_bucket_search(ksm_bucket(&ksm_table, item), item, page,
				  domain, tree_pagep, &s);
	if (!titem && ksm_old_table.buckets) {
		idx = ksm_bucket_idx(&ksm_old_table, item->checksum,
				     item->dtag);
		if (idx >= ksm_old_next)
			titem = ksm_bucket_search(&ksm_old_table.buckets[idx],
						  item, page, domain,
						  tree_pagep, &s);
	}
	if (titem)
		return titem;

	item->address = ksm_item_addr(item) | KSM_ITEM_UNSTABLE | seq;
	if (s.recheck)
		item->address |= KSM_ITEM_RECHECK;
	hlist_add_head(&item->hash, ksm_bucket(&ksm_table, item));
	ksm_pages_unshared++;
	return NULL;
}

#if defined(CONFIG_DEBUG_FS) && defined(CONFIG_DEBUG_VM)
/**
 * ksm_unstable_debugfs() - show the table size in debugfs
 * @dir: the ksm directory of debugfs
 *
 * Debug kernels only: unstable_bits, root only, the log2 of the number of
 * buckets.
 *
 * Context: boot, from ksm_init().
 */
void __init ksm_unstable_debugfs(struct dentry *dir)
{
	debugfs_create_u32("unstable_bits", 0400, dir, &ksm_table.bits);
}
#endif

/**
 * ksm_unstable_init() - make the unstable table, at its smallest size
 *
 * Context: boot, from ksm_init().
 * Return: 0, or -ENOMEM.
 */
int __init ksm_unstable_init(void)
{
	ksm_table.bits = KSM_TABLE_MIN_BITS;
	ksm_table.buckets = ksm_alloc_buckets(ksm_table.bits);
	return ksm_table.buckets ? 0 : -ENOMEM;
}

/**
 * ksm_unstable_exit() - free the unstable table
 *
 * Context: boot, when a later step of ksm_init() failed.
 */
void __init ksm_unstable_exit(void)
{
	kvfree(ksm_table.buckets);
	ksm_table.buckets = NULL;
}

#include "unstable-test.h"
