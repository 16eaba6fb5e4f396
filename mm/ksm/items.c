// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the mm slots and rmap items.  A registered mm has a slot, found by
 * its mm in a hash and kept on the list ksmd goes round; each page ksmd
 * has looked at has an rmap item on its slot's list.  This file makes and
 * frees them; the walks of the lists, and where ksmd is on them, belong
 * to the scanner (cursor.c).
 */
#include <linux/hashtable.h>
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
	.index = XARRAY_INIT(ksm_mm_head.index, 0),
};

/**
 * ksm_find_slot_locked() - the slot of a registered mm
 * @mm: the mm
 *
 * Context: ksm_slots_lock held.
 * Return: @mm's slot, or NULL if it has none.
 */
struct ksm_mm_slot *ksm_find_slot_locked(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	lockdep_assert_held(&ksm_slots_lock);
	hash_for_each_possible(ksm_slot_hash, slot, hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

/**
 * ksm_find_slot() - the slot of a registered mm
 * @mm: the mm
 *
 * Context: ksm_mutex held, or another reason the slot cannot go away.
 * Return: @mm's slot, or NULL if it has none.
 */
struct ksm_mm_slot *ksm_find_slot(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	spin_lock(&ksm_slots_lock);
	slot = ksm_find_slot_locked(mm);
	spin_unlock(&ksm_slots_lock);
	return slot;
}

/**
 * ksm_alloc_slot() - a slot for an mm about to be registered
 * @mm: the mm, not registered yet
 *
 * Return: the slot, holding a grab on @mm, not yet on the list or in the
 * hash (ksm_insert_slot()); or NULL.
 */
struct ksm_mm_slot *ksm_alloc_slot(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	slot = kmem_cache_zalloc(ksm_slot_cache, GFP_KERNEL);
	if (!slot)
		return NULL;
	slot->mm = mm;
	xa_init(&slot->index);
	mmgrab(mm);
	return slot;
}

/**
 * ksm_insert_slot() - put a new slot in the hash, and on the list
 * @slot: from ksm_alloc_slot()
 * @next: the slot (or &ksm_mm_head, for the tail) to put it just before
 *
 * Context: ksm_slots_lock held.
 */
void ksm_insert_slot(struct ksm_mm_slot *slot, struct ksm_mm_slot *next)
{
	lockdep_assert_held(&ksm_slots_lock);
	hash_add(ksm_slot_hash, &slot->hash, (unsigned long)slot->mm);
	list_add_tail(&slot->scan_list, &next->scan_list);
}

/**
 * ksm_del_slot() - take a slot off the slot list and hash
 * @slot: the slot, not under ksmd's cursor
 *
 * Context: ksm_slots_lock held.
 */
void ksm_del_slot(struct ksm_mm_slot *slot)
{
	lockdep_assert_held(&ksm_slots_lock);
	hash_del(&slot->hash);
	list_del(&slot->scan_list);
}

/**
 * ksm_free_slot() - free an mm slot taken off the slot list and hash
 * @slot: the slot, whose rmap items are all gone
 *
 * Its mm is no longer registered: MMF_VM_MERGEABLE goes.
 */
void ksm_free_slot(struct ksm_mm_slot *slot)
{
	struct mm_struct *mm = slot->mm;

	VM_WARN_ON_ONCE(slot->rmap_list || !xa_empty(&slot->index));
	kmem_cache_free(ksm_slot_cache, slot);
	clear_bit(MMF_VM_MERGEABLE, &mm->flags);
	mmdrop(mm);
}

/**
 * ksm_alloc_item() - a new rmap item, fresh (never looked at)
 * @mm: the mm of its page
 * @addr: the page's address
 *
 * The caller links it on the mm's list.
 *
 * Context: ksm_mutex held.
 * Return: the item, or NULL.
 */
struct ksm_rmap_item *ksm_alloc_item(struct mm_struct *mm, unsigned long addr)
{
	struct ksm_rmap_item *item;

	lockdep_assert_held(&ksm_mutex);
	item = kmem_cache_zalloc(ksm_item_cache, GFP_KERNEL | __GFP_NOWARN);
	if (!item)
		return NULL;
	item->mm = mm;
	item->address = addr | KSM_ITEM_FRESH;
	mm->ksm_rmap_items++;
	ksm_rmap_items++;
	return item;
}

/**
 * ksm_free_item() - take an rmap item out of its tree and free it
 * @item: the item, already off its mm's list
 *
 * Context: ksm_mutex held.
 */
void ksm_free_item(struct ksm_rmap_item *item)
{
	lockdep_assert_held(&ksm_mutex);
	if (item->address & KSM_ITEM_STABLE)
		ksm_stable_unlink(item);
	else if (item->address & KSM_ITEM_UNSTABLE)
		ksm_unstable_remove(item);
	item->mm->ksm_rmap_items--;
	ksm_rmap_items--;
	kmem_cache_free(ksm_item_cache, item);
}

/**
 * ksm_items_exit() - destroy the caches of mm slots and rmap items
 *
 * Context: boot, when ksm_items_init() or a later step of ksm_init()
 * failed.
 */
void __init ksm_items_exit(void)
{
	kmem_cache_destroy(ksm_item_cache);
	kmem_cache_destroy(ksm_slot_cache);
}

/**
 * ksm_items_init() - make the caches of mm slots and rmap items
 *
 * Context: boot, from ksm_init().
 * Return: 0, or -ENOMEM.
 */
int __init ksm_items_init(void)
{
	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) &&
		     sizeof(struct ksm_rmap_item) > 56);
	/* The item state fits below the page address. */
	BUILD_BUG_ON(KSM_ITEM_FLAGS >= PAGE_SIZE);

	ksm_slot_cache = KMEM_CACHE(ksm_mm_slot, 0);
	ksm_item_cache = KMEM_CACHE(ksm_rmap_item, 0);
	if (ksm_slot_cache && ksm_item_cache)
		return 0;
	ksm_items_exit();
	return -ENOMEM;
}
