// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: registration of mms and areas (madvise, fork, exit), the per-mm
 * lists of rmap items, and initialisation.
 */
#include <linux/hashtable.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "ksm.h"

#define KSM_SLOT_HASH_BITS	10

static DEFINE_HASHTABLE(ksm_slot_hash, KSM_SLOT_HASH_BITS);
static struct kmem_cache *ksm_slot_cache;
static struct kmem_cache *ksm_item_cache;

DEFINE_SPINLOCK(ksm_slots_lock);
struct ksm_mm_slot ksm_mm_head = {
	.scan_list = LIST_HEAD_INIT(ksm_mm_head.scan_list),
};

struct ksm_scan ksm_scan = {
	.slot = &ksm_mm_head,
};

static struct ksm_mm_slot *ksm_find_slot_locked(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	lockdep_assert_held(&ksm_slots_lock);
	hash_for_each_possible(ksm_slot_hash, slot, hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

struct ksm_mm_slot *ksm_find_slot(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	spin_lock(&ksm_slots_lock);
	slot = ksm_find_slot_locked(mm);
	spin_unlock(&ksm_slots_lock);
	return slot;
}

/* Take the item at *@link off its mm's list and free it; ksm_mutex held. */
static void ksm_free_item_at(struct ksm_rmap_item **link)
{
	struct ksm_rmap_item *item = *link;

	if (item->address & KSM_ITEM_STABLE)
		ksm_stable_unlink(item);
	else if (item->address & KSM_ITEM_UNSTABLE)
		ksm_unstable_remove(item);

	*link = item->next;
	if (ksm_scan.rmap_link == &item->next)
		ksm_scan.rmap_link = link;
	item->mm->ksm_rmap_items--;
	ksm_rmap_items--;
	kmem_cache_free(ksm_item_cache, item);
}

/* Items freed between two looks at whether another task waits. */
#define KSM_DROP_BATCH	64

/**
 * ksm_drop_items() - free the rmap items of an address range
 * @slot: the mm slot
 * @start: first address
 * @end: address after the last
 *
 * The pages in [@start, @end) are no longer (or no longer to be) merged.
 * ksm_mutex is let go of for a moment when another task waits for it or
 * for the CPU (ksm_lock_break()), so that a large area keeps neither ksmd
 * nor other processes waiting.  The
 * place in the list survives that: items are only freed by ksmd while it
 * scans the mm (under its mmap_lock, in run = 1), by exit, and here.  So
 * the caller either holds the mmap_lock for write (madvise, mremap), or is
 * run = 2 (ksmd does not scan) holding an mm user, or is the exit (@start
 * 0: the list head is the place).
 *
 * Context: ksm_mutex held.
 */
void ksm_drop_items(struct ksm_mm_slot *slot, unsigned long start,
		    unsigned long end)
{
	struct ksm_rmap_item **link = &slot->rmap_list;
	unsigned int n = 0;

	lockdep_assert_held(&ksm_mutex);
	/* After a break, *link is looked at again: ksmd may have trimmed. */
	while (*link && ksm_item_addr(*link) < start) {
		if (++n % KSM_DROP_BATCH == 0 && ksm_lock_break())
			continue;
		link = &(*link)->next;
	}
	while (*link && ksm_item_addr(*link) < end) {
		if (++n % KSM_DROP_BATCH == 0 && ksm_lock_break())
			continue;
		ksm_free_item_at(link);
	}
}

/*
 * Free the items of the addresses the scan has passed on its way to @addr
 * (their pages went), at most *@quota of them, taking each off *@quota.
 * Returns the link of the first item at or after @addr, or NULL if the
 * quota ran out first: the caller ends its step and comes back.
 */
static struct ksm_rmap_item **ksm_cursor_seek(unsigned long addr,
					      unsigned int *quota)
{
	struct ksm_rmap_item **link = ksm_scan.rmap_link;

	while (*link && ksm_item_addr(*link) < addr) {
		if (!*quota)
			return NULL;
		ksm_free_item_at(link);
		--*quota;
	}
	return link;
}

/*
 * Find the item for @addr at the scan cursor, creating it if needed and
 * freeing, within *@quota, the items of addresses the scan has passed.
 * Returns NULL if no item could be made, ERR_PTR(-EAGAIN) if the quota
 * ran out before @addr was reached.
 */
struct ksm_rmap_item *ksm_cursor_item(struct ksm_mm_slot *slot,
				      unsigned long addr, unsigned int *quota)
{
	struct ksm_rmap_item **link = ksm_cursor_seek(addr, quota);
	struct ksm_rmap_item *item;

	if (!link)
		return ERR_PTR(-EAGAIN);
	item = *link;
	if (item && ksm_item_addr(item) == addr) {
		ksm_scan.rmap_link = &item->next;
		return item;
	}

	item = kmem_cache_zalloc(ksm_item_cache, GFP_KERNEL | __GFP_NOWARN);
	if (!item)
		return NULL;
	item->mm = slot->mm;
	item->address = addr | KSM_ITEM_FRESH;
	item->next = *link;
	*link = item;
	ksm_scan.rmap_link = &item->next;
	slot->mm->ksm_rmap_items++;
	ksm_rmap_items++;
	return item;
}

/*
 * The page at @addr is still mapped there but cannot be looked at now (a
 * migration entry stands in for it): move the cursor past the item for
 * @addr, if any, leaving the item as it is.  False if *@quota ran out
 * first, as for ksm_cursor_item().
 */
bool ksm_cursor_keep(unsigned long addr, unsigned int *quota)
{
	struct ksm_rmap_item **link = ksm_cursor_seek(addr, quota);

	if (!link)
		return false;
	if (*link && ksm_item_addr(*link) == addr)
		ksm_scan.rmap_link = &(*link)->next;
	return true;
}

/*
 * Free what the scan of the current mm did not reach, the tail of its
 * list, within *@quota.  True once the tail is gone.
 */
bool ksm_cursor_trim(unsigned int *quota)
{
	while (*ksm_scan.rmap_link) {
		if (!*quota)
			return false;
		ksm_free_item_at(ksm_scan.rmap_link);
		--*quota;
	}
	return true;
}

bool ksm_vma_ok(struct vm_area_struct *vma, unsigned long vm_flags)
{
	unsigned long bad = VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO |
			    VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP;

#ifdef VM_SAO
	bad |= VM_SAO;
#endif
#ifdef VM_SPARC_ADI
	bad |= VM_SPARC_ADI;
#endif
	return !(vm_flags & bad) && !vma_is_dax(vma);
}

int __ksm_enter(struct mm_struct *mm_to_scan)
{
	struct ksm_mm_slot *slot;
	bool was_empty;

	slot = kmem_cache_zalloc(ksm_slot_cache, GFP_KERNEL);
	if (!slot)
		return -ENOMEM;
	slot->mm = mm_to_scan;

	/*
	 * Joining at the tail means the new mm is scanned late in the current
	 * pass, after a fork has had time to exec or settle.
	 */
	spin_lock(&ksm_slots_lock);
	was_empty = list_empty(&ksm_mm_head.scan_list);
	hash_add(ksm_slot_hash, &slot->hash, (unsigned long)mm_to_scan);
	list_add_tail(&slot->scan_list, &ksm_mm_head.scan_list);
	spin_unlock(&ksm_slots_lock);

	mmgrab(mm_to_scan);
	set_bit(MMF_VM_MERGEABLE, &mm_to_scan->flags);
	if (was_empty)
		ksm_wake();
	return 0;
}

/**
 * ksm_free_slot() - free an mm slot taken off the slot list and hash
 * @slot: the slot, whose rmap items are all gone
 */
void ksm_free_slot(struct ksm_mm_slot *slot)
{
	struct mm_struct *mm = slot->mm;

	kmem_cache_free(ksm_slot_cache, slot);
	clear_bit(MMF_VM_MERGEABLE, &mm->flags);
	mmdrop(mm);
}

/*
 * Take @slot off the slot list and hash, moving the scan cursor past it
 * if it is there.  ksm_mutex held.
 */
static void ksm_unlist_slot(struct ksm_mm_slot *slot)
{
	struct ksm_mm_slot *next = NULL;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	if (ksm_scan.slot == slot) {
		next = list_next_entry(slot, scan_list);
		ksm_scan.slot = next;
		ksm_scan.address = 0;
		ksm_scan.rmap_link = &next->rmap_list;
	}
	hash_del(&slot->hash);
	list_del(&slot->scan_list);
	spin_unlock(&ksm_slots_lock);
	/* ksmd was in its last mm: the pass ends here. */
	if (next == &ksm_mm_head) {
		ksm_pass_done();
		ksm_wake();
	}
}

/**
 * ksm_reap_slot() - take an orphan slot off the lists
 * @slot: a slot whose mm has exited and which ksmd's cursor has left
 *
 * Context: ksm_mutex held.
 * Return: true if @slot was an orphan, now off the lists: the caller frees
 * it with ksm_free_slot() once it holds no lock of its mm.
 */
bool ksm_reap_slot(struct ksm_mm_slot *slot)
{
	bool orphan;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	orphan = slot->orphan;
	if (orphan) {
		hash_del(&slot->hash);
		list_del(&slot->scan_list);
	}
	spin_unlock(&ksm_slots_lock);
	return orphan;
}

/**
 * ksm_reap_orphans() - free every orphan slot, with its rmap items
 *
 * For run = 2, which leaves no rmap item behind.
 *
 * Context: ksm_mutex held; let go of and taken again on the way.
 */
void ksm_reap_orphans(void)
{
	struct ksm_mm_slot *slot;
	bool found;

	do {
		found = false;
		spin_lock(&ksm_slots_lock);
		list_for_each_entry(slot, &ksm_mm_head.scan_list, scan_list) {
			if (slot->orphan) {
				found = true;
				break;
			}
		}
		spin_unlock(&ksm_slots_lock);
		if (!found)
			break;
		/* Off the lists first: then no one else reaches its items. */
		ksm_unlist_slot(slot);
		ksm_drop_items(slot, 0, ULONG_MAX);
		ksm_free_slot(slot);
	} while (found);
}

/*
 * The mm is going: free its rmap items and slot.  When ksmd holds
 * ksm_mutex and is not scanning this mm, an mm with no merged page (so
 * nothing to take out of pages_shared or pages_sharing) does not wait: its
 * slot is left to ksmd as an orphan, which ksmd frees when its scan comes
 * to it (ksm_reap_slot()), as Linux 6.1 does with every exiting mm.  A
 * step of ksmd that starts later sees the mm exiting and leaves its pages
 * alone.
 */
void __ksm_exit(struct mm_struct *dying_mm)
{
	struct ksm_mm_slot *slot;
	bool orphan;

	if (!mutex_trylock(&ksm_mutex)) {
		if (!READ_ONCE(dying_mm->ksm_merging_pages)) {
			spin_lock(&ksm_slots_lock);
			slot = ksm_find_slot_locked(dying_mm);
			orphan = slot && ksm_scan.slot != slot;
			if (orphan)
				slot->orphan = true;
			spin_unlock(&ksm_slots_lock);
			/* ksmd may free the slot from here on. */
			if (orphan)
				return;
		}
		ksm_lock();
	}
	slot = ksm_find_slot(dying_mm);
	if (slot) {
		ksm_drop_items(slot, 0, ULONG_MAX);
		ksm_unlist_slot(slot);
	}
	mutex_unlock(&ksm_mutex);
	if (slot)
		ksm_free_slot(slot);
}

int ksm_madvise(struct vm_area_struct *vma,
		unsigned long start, unsigned long end,
		int advice, unsigned long *vm_flags)
{
	int err;

	switch (advice) {
	case MADV_MERGEABLE:
		if ((*vm_flags & VM_MERGEABLE) || !ksm_vma_ok(vma, *vm_flags))
			return 0;
		if (!test_bit(MMF_VM_MERGEABLE, &vma->vm_mm->flags)) {
			err = __ksm_enter(vma->vm_mm);
			if (err)
				return err;
		}
		*vm_flags |= VM_MERGEABLE;
		return 0;

	case MADV_UNMERGEABLE:
		/* Without an anon_vma, no page here was ever merged. */
		err = 0;
		if ((*vm_flags & VM_MERGEABLE) && vma->anon_vma)
			err = ksm_unmerge_range(vma, start, end);
		if (!err)
			*vm_flags &= ~VM_MERGEABLE;
		return err;
	}
	return 0;
}

static int __init ksm_init(void)
{
	int err = -ENOMEM;

	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) &&
		     sizeof(struct ksm_rmap_item) > 56);

	ksm_slot_cache = KMEM_CACHE(ksm_mm_slot, 0);
	ksm_item_cache = KMEM_CACHE(ksm_rmap_item, 0);
	if (!ksm_slot_cache || !ksm_item_cache)
		goto fail;
	err = ksm_stable_init();
	if (err)
		goto fail;
	err = ksm_unstable_init();
	if (err)
		goto fail;
	err = ksm_scan_init();
	if (err)
		goto fail;
	err = ksm_sysfs_init();
	if (err)
		pr_err("ksm: sysfs registration failed\n");
	return 0;

fail:
	kmem_cache_destroy(ksm_item_cache);
	kmem_cache_destroy(ksm_slot_cache);
	return err;
}
subsys_initcall(ksm_init);
