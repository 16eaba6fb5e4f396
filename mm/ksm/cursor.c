// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: where ksmd is, and the walks of the rmap item lists.  The cursor
 * (ksm_scan) names an mm slot, an address in it and the place in its
 * sorted list of rmap items where the item for that address is, or would
 * go.  Every change to the slot list or to an item list that may meet the
 * cursor is made here, and keeps the cursor valid: forgetting a slot
 * (exit), a range (madvise) or a whole mm (run = 2), moving on to the next
 * mm, and starting a pass over.  ksmd's scan (scan.c) moves the cursor
 * with the ksm_cursor_*() helpers; the interfaces call ksm_forget_*().
 */
#include <linux/sched/mm.h>

#include <trace/events/ksm.h>

#include "ksm.h"

struct ksm_scan ksm_scan = {
	.slot = &ksm_mm_head,
	.rmap_link = &ksm_mm_head.rmap_list,
};

/*
 * The index of an mm's list.  The list is sorted by address; for each block
 * of KSM_BLOCK_PAGES pages that has items, slot->index holds, at the
 * block's number, the link to the first of them: the list head or the
 * next field of the item before it.  A range of addresses is then found
 * with one lookup and a walk of less than a block (ksm_index_find()),
 * however long the list before it; exit and run = 2 start at the head.
 * The index changes only with the list, here, under ksm_mutex.
 *
 * It costs an xarray node (576 bytes on 64-bit) per 64 blocks with items:
 * 0.14 bytes a page of a dense area.  A lone item far from any other costs
 * a node of its own, and one more at each level up where it is alone: a
 * leaf spans 16 MiB (4 KiB pages), the next node up 1 GiB, and so on.
 * What the process pays for such a page is larger, and grows the same
 * way: a page table page (4 KiB) per 2 MiB with pages in it, another per
 * 1 GiB, and so on.
 */
#define KSM_BLOCK_PAGES		64
#define KSM_BLOCK_SHIFT		(PAGE_SHIFT + ilog2(KSM_BLOCK_PAGES))

static unsigned long ksm_block(const struct ksm_rmap_item *item)
{
	return ksm_item_addr(item) >> KSM_BLOCK_SHIFT;
}

/* Is @link the list head of @slot, or the link after an item of @block? */
static bool ksm_link_opens(struct ksm_mm_slot *slot,
			   struct ksm_rmap_item **link, unsigned long block)
{
	return link == &slot->rmap_list ||
	       ksm_block(container_of(link, struct ksm_rmap_item, next)) != block;
}

/* Point the index entry of @block, which exists, at @link. */
static void ksm_index_move(struct ksm_mm_slot *slot, unsigned long block,
			   struct ksm_rmap_item **link)
{
	void *old;

	/* Storing over an entry allocates nothing, so cannot fail. */
	old = xa_store(&slot->index, block, link, GFP_NOWAIT);
	VM_WARN_ON_ONCE(!old || xa_is_err(old));
}

/*
 * Link @item, not yet on a list, at @link of @slot, indexing it.
 * Return: false, with nothing linked, if the index had no room.
 */
static bool ksm_link_item(struct ksm_mm_slot *slot,
			  struct ksm_rmap_item **link, struct ksm_rmap_item *item)
{
	struct ksm_rmap_item *next = *link;
	unsigned long block = ksm_block(item);

	/*
	 * First of its block: the block had no item, or its first comes
	 * after @item, and the index already holds @link for it.
	 */
	if (ksm_link_opens(slot, link, block)) {
		if (!next || ksm_block(next) != block) {
			if (xa_insert(&slot->index, block, link,
				      GFP_KERNEL | __GFP_NOWARN))
				return false;
		} else {
			VM_WARN_ON_ONCE(xa_load(&slot->index, block) != link);
		}
	}
	if (next && ksm_block(next) != block)
		ksm_index_move(slot, ksm_block(next), &item->next);
	item->next = next;
	*link = item;
	return true;
}

/* Take the item at *@link off @slot's list and free it. */
static void ksm_free_item_at(struct ksm_mm_slot *slot,
			     struct ksm_rmap_item **link)
{
	struct ksm_rmap_item *item = *link;
	struct ksm_rmap_item *next = item->next;
	unsigned long block = ksm_block(item);

	if (!next || ksm_block(next) != block) {
		/* The last of its block: the block goes if it was the first. */
		if (ksm_link_opens(slot, link, block))
			xa_erase(&slot->index, block);
		/* The first of the next block gets the link before @item. */
		if (next)
			ksm_index_move(slot, ksm_block(next), link);
	}
	*link = next;
	if (ksm_scan.rmap_link == &item->next)
		ksm_scan.rmap_link = link;
	ksm_free_item(item);
}

/*
 * The link to the first item of @slot at or after @addr, or NULL if there
 * is none; *@passed counts the items walked over to find it.
 */
static struct ksm_rmap_item **ksm_index_find(struct ksm_mm_slot *slot,
					     unsigned long addr,
					     unsigned long *passed)
{
	unsigned long block = addr >> KSM_BLOCK_SHIFT;
	struct ksm_rmap_item **link;

	if (!addr)
		return &slot->rmap_list;
	link = xa_find(&slot->index, &block, ULONG_MAX, XA_PRESENT);
	if (!link)
		return NULL;
	/* Within @addr's block, or at the first item of a later one. */
	while (*link && ksm_item_addr(*link) < addr) {
		link = &(*link)->next;
		++*passed;
	}
	return link;
}

/* Items freed between two looks at whether another task waits. */
#define KSM_DROP_BATCH	64

/*
 * Free the rmap items of [@start, @end) of @slot's mm.  ksm_mutex is let
 * go of for a moment when another task waits for it or for the CPU
 * (ksm_lock_break()), so that a large area keeps neither ksmd nor other
 * processes waiting.  The place in the list survives that: items are only
 * freed by ksmd while it scans the mm (under its mmap_lock, in run = 1),
 * by exit, and here.  So the caller either holds the mmap_lock for write
 * (madvise, mremap), or is run = 2 (ksmd does not scan) holding an mm
 * user, or is the exit or the reaper of an orphan (the list head is the
 * place).
 *
 * Return: how many items were walked over to reach @start (for the tests).
 */
static unsigned long ksm_drop_items(struct ksm_mm_slot *slot,
				    unsigned long start, unsigned long end)
{
	struct ksm_rmap_item **link;
	unsigned long passed = 0;
	unsigned int n = 0;

	lockdep_assert_held(&ksm_mutex);
	link = ksm_index_find(slot, start, &passed);
	if (!link)
		return passed;
	/* After a break, *link is looked at again: ksmd may have trimmed. */
	while (*link && ksm_item_addr(*link) < end) {
		if (++n % KSM_DROP_BATCH == 0 && ksm_lock_break())
			continue;
		ksm_free_item_at(slot, link);
	}
	return passed;
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
		ksm_free_item_at(ksm_scan.slot, link);
		--*quota;
	}
	return link;
}

/**
 * ksm_cursor_behind() - are there items to free on the way to an address?
 * @addr: the address of the next page ksmd looks at, in the mm at the
 *	cursor
 *
 * Context: ksm_mutex and the mmap_lock of the mm at the cursor held.
 * Return: true if the cursor is at an item below @addr, one whose page
 * went: ksm_cursor_item() and the others would free it.
 */
bool ksm_cursor_behind(unsigned long addr)
{
	struct ksm_rmap_item *item = *ksm_scan.rmap_link;

	lockdep_assert_held(&ksm_mutex);
	return item && ksm_item_addr(item) < addr;
}

/**
 * ksm_cursor_item() - the rmap item of a page ksmd looks at
 * @addr: the page's address in the mm at the cursor
 * @quota: items ksmd may still free in this step, decremented
 *
 * Find the item for @addr at the cursor, creating it if needed and
 * freeing, within *@quota, the items of addresses the scan has passed.
 * The cursor moves past the item.
 *
 * Context: ksm_mutex and the mmap_lock of the mm at the cursor held.
 * Return: the item; NULL if none could be made; ERR_PTR(-EAGAIN) if the
 * quota ran out before @addr was reached.
 */
struct ksm_rmap_item *ksm_cursor_item(unsigned long addr, unsigned int *quota)
{
	struct ksm_rmap_item **link = ksm_cursor_seek(addr, quota);
	struct ksm_rmap_item *item;

	if (!link)
		return ERR_PTR(-EAGAIN);
	item = *link;
	if (!item || ksm_item_addr(item) != addr) {
		item = ksm_alloc_item(ksm_scan.slot->mm, addr);
		if (!item)
			return NULL;
		if (!ksm_link_item(ksm_scan.slot, link, item)) {
			ksm_free_item(item);
			return NULL;
		}
	}
	ksm_scan.rmap_link = &item->next;
	return item;
}

/**
 * ksm_cursor_peek() - the rmap item of a page ksmd looks at, if it has one
 * @addr: the page's address in the mm at the cursor
 * @quota: as for ksm_cursor_item()
 *
 * As ksm_cursor_item(), but no item is made, and the cursor stays at
 * @addr: ksm_cursor_item(), ksm_cursor_keep() or ksm_cursor_pass() moves
 * it on.
 *
 * Context: as for ksm_cursor_item().
 * Return: the item; NULL if @addr has none; ERR_PTR(-EAGAIN) if the quota
 * ran out before @addr was reached.
 */
struct ksm_rmap_item *ksm_cursor_peek(unsigned long addr, unsigned int *quota)
{
	struct ksm_rmap_item **link = ksm_cursor_seek(addr, quota);

	if (!link)
		return ERR_PTR(-EAGAIN);
	if (*link && ksm_item_addr(*link) == addr)
		return *link;
	return NULL;
}

/**
 * ksm_cursor_pass() - move past the item ksm_cursor_peek() just returned
 * @item: that item, left as it is
 *
 * Context: as for ksm_cursor_item(), held since the peek.
 */
void ksm_cursor_pass(struct ksm_rmap_item *item)
{
	lockdep_assert_held(&ksm_mutex);
	VM_WARN_ON_ONCE(*ksm_scan.rmap_link != item);
	ksm_scan.rmap_link = &item->next;
}

/**
 * ksm_cursor_keep() - move past a page that cannot be looked at now
 * @addr: the page's address in the mm at the cursor
 * @quota: as for ksm_cursor_item()
 *
 * The page at @addr may still be mapped there, but a migration entry stands
 * in for it, or it was not found where the walk saw it: move the cursor
 * past the item for @addr, if any, leaving the item as it is (an item
 * already in hand moves on with ksm_cursor_pass()).
 *
 * Context: as for ksm_cursor_item().
 * Return: false if *@quota ran out first.
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

/**
 * ksm_pass_done() - note that the scan cursor went past the last mm
 *
 * The pass is counted in full_scans once ksmd has swept the stable nodes,
 * see ksm_end_pass() in scan.c.
 *
 * Context: ksm_mutex held.
 */
static void ksm_pass_done(void)
{
	lockdep_assert_held(&ksm_mutex);
	WRITE_ONCE(ksm_scan.ending, true);
}

/* Put the cursor at the start of @slot, or past the last mm. */
static void ksm_cursor_set(struct ksm_mm_slot *slot)
{
	lockdep_assert_held(&ksm_slots_lock);
	ksm_scan.slot = slot;
	ksm_scan.address = 0;
	ksm_scan.rmap_link = &slot->rmap_list;
}

/*
 * Move the cursor from its slot to the next, noting the end of the pass
 * after the last.  With @reap, a slot that its exit left to ksmd (an
 * orphan) comes off the lists under the same hold of ksm_slots_lock: once
 * the cursor has left a slot with no item, its exit may free it
 * (ksm_forget_mm()).  True if it did: the caller frees it.
 */
static bool ksm_cursor_move_on(bool reap)
{
	struct ksm_mm_slot *slot = ksm_scan.slot, *next;
	bool reaped;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	next = list_next_entry(slot, scan_list);
	ksm_cursor_set(next);
	reaped = reap && slot->orphan;
	if (reaped)
		ksm_del_slot(slot);
	spin_unlock(&ksm_slots_lock);
	if (next == &ksm_mm_head)
		ksm_pass_done();
	return reaped;
}

/**
 * ksm_cursor_next_mm() - end the scan of the mm at the cursor
 * @quota: items that may still be freed in this step, decremented
 *
 * Free what the scan did not reach, the tail of the mm's list, within
 * *@quota; a longer tail is trimmed over several steps.  Then move the
 * cursor to the next mm, noting the end of the pass after the last.
 *
 * Context: ksm_mutex held, and the mm's mmap_lock unless it exited.
 * Return: true once the cursor has moved on.
 */
bool ksm_cursor_next_mm(unsigned int *quota)
{
	lockdep_assert_held(&ksm_mutex);
	/* Every item address is below ULONG_MAX: the whole tail goes. */
	if (!ksm_cursor_seek(ULONG_MAX, quota))
		return false;
	ksm_cursor_move_on(false);
	return true;
}

/**
 * ksm_cursor_start_pass() - put the cursor on the first mm, for a new pass
 *
 * Entries of the unstable table that the pass before did not stamp no
 * longer count.
 *
 * Context: ksm_mutex held; the cursor is past the last mm.
 * Return: false if no mm is registered.
 */
bool ksm_cursor_start_pass(void)
{
	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	if (list_empty(&ksm_mm_head.scan_list)) {
		spin_unlock(&ksm_slots_lock);
		return false;
	}
	ksm_cursor_set(list_first_entry(&ksm_mm_head.scan_list,
					struct ksm_mm_slot, scan_list));
	spin_unlock(&ksm_slots_lock);
	ksm_unstable_new_pass();
	trace_ksm_start_scan(ksm_full_scans, ksm_rmap_items);
	return true;
}

/**
 * ksm_cursor_reset() - start scanning over, from the first mm (run = 2)
 * @pass_over: the pass ksmd was ending (if any) will not be counted
 *
 * Context: ksm_mutex held.
 */
void ksm_cursor_reset(bool pass_over)
{
	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	ksm_cursor_set(&ksm_mm_head);
	spin_unlock(&ksm_slots_lock);
	if (pass_over)
		WRITE_ONCE(ksm_scan.ending, false);
}

/**
 * ksm_cursor_add_mm() - register an mm: a slot just behind the cursor
 * @mm: the mm, not registered yet
 * @first: set if no other mm was registered
 *
 * Joining behind the cursor (at the tail of the list between passes), the
 * new mm is first scanned in the next pass: a fork has had time to exec or
 * settle by then, and forks that keep coming, each child with its
 * parent's registered pages, cannot keep the current pass from ending.
 *
 * Return: 0, or -ENOMEM.
 */
int ksm_cursor_add_mm(struct mm_struct *mm, bool *first)
{
	struct ksm_mm_slot *slot = ksm_alloc_slot(mm);

	if (!slot)
		return -ENOMEM;
	spin_lock(&ksm_slots_lock);
	*first = list_empty(&ksm_mm_head.scan_list);
	ksm_insert_slot(slot, ksm_scan.slot);
	spin_unlock(&ksm_slots_lock);
	return 0;
}

/*
 * Take @slot off the slot list and hash, moving the cursor past it if it
 * is there.  ksm_mutex held.
 */
static void ksm_forget_slot(struct ksm_mm_slot *slot)
{
	struct ksm_mm_slot *next = NULL;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	if (ksm_scan.slot == slot) {
		next = list_next_entry(slot, scan_list);
		ksm_cursor_set(next);
	}
	ksm_del_slot(slot);
	spin_unlock(&ksm_slots_lock);
	/* ksmd was in its last mm: the pass ends here. */
	if (next == &ksm_mm_head) {
		ksm_pass_done();
		ksm_wake();
	}
}

/**
 * ksm_cursor_leave_exited() - free the items of the exited mm at the cursor
 * @quota: items that may still be freed in this step, decremented
 *
 * All of them go, those the scan has passed as well as the tail: the exit
 * may not have reached ksm_forget_mm() yet, and once the cursor has left
 * the slot, the exit leaves it to ksmd as an orphan and frees nothing.
 * Then the cursor moves on, as ksm_cursor_next_mm() does.
 *
 * Context: ksm_mutex held; the mm at the cursor exited (ksm_test_exit()).
 * Return: true if the slot was an orphan, now off the lists: the caller
 * frees it with ksm_free_slot() once it holds no lock of its mm.
 */
bool ksm_cursor_leave_exited(unsigned int *quota)
{
	lockdep_assert_held(&ksm_mutex);
	ksm_scan.address = 0;
	ksm_scan.rmap_link = &ksm_scan.slot->rmap_list;
	if (!ksm_cursor_seek(ULONG_MAX, quota))
		return false;
	return ksm_cursor_move_on(true);
}

/**
 * ksm_reap_orphans() - free every orphan slot, with its rmap items
 *
 * For run = 2, which leaves no rmap item behind, and run = 0, after which
 * ksmd would not come to them.  One walk of the slot list takes every
 * orphan off the lists, under ksm_slots_lock; their items are freed after
 * that, when no one else can reach them any more.  The cursor can be on an
 * orphan only at its start (an exit leaves no orphan where the cursor is):
 * it moves past the orphans it meets first, as ksmd's next steps would
 * have moved it.
 *
 * Context: ksm_mutex held; let go of and taken again on the way.
 */
void ksm_reap_orphans(void)
{
	struct ksm_mm_slot *slot, *tmp;
	LIST_HEAD(orphans);

	lockdep_assert_held(&ksm_mutex);
	while (ksm_scan.slot != &ksm_mm_head && ksm_scan.slot->orphan) {
		VM_WARN_ON_ONCE(ksm_scan.rmap_link !=
				&ksm_scan.slot->rmap_list);
		ksm_cursor_move_on(false);
	}
	spin_lock(&ksm_slots_lock);
	list_for_each_entry_safe(slot, tmp, &ksm_mm_head.scan_list, scan_list) {
		if (!slot->orphan || ksm_scan.slot == slot)
			continue;
		ksm_del_slot(slot);
		list_add_tail(&slot->scan_list, &orphans);
	}
	spin_unlock(&ksm_slots_lock);
	list_for_each_entry_safe(slot, tmp, &orphans, scan_list) {
		list_del(&slot->scan_list);
		ksm_drop_items(slot, 0, ULONG_MAX);
		ksm_free_slot(slot);
		/* Many orphans of a few items each: a break between them. */
		ksm_lock_break();
	}
}

/**
 * ksm_forget_mm() - the mm is going: free its rmap items and slot
 * @mm: the exiting mm
 *
 * While ksmd runs (run = 1), an mm with no merged page (so nothing to take out
 * of pages_shared or pages_sharing) that ksmd is not scanning does not wait
 * for ksm_mutex.  If it has no rmap item either (a child that exits or execs
 * before ksmd's first look at it), its slot goes at once: only ksmd adds
 * items, to the slot at its cursor, and nothing else reaches a slot but
 * through the list, the hash and the cursor.  Otherwise its slot is left to
 * ksmd as an orphan, which ksmd frees with its items when its scan comes to
 * it (ksm_cursor_leave_exited()), as Linux 6.1 does with every exiting mm
 * that has items.  An exit costs no wait for ksmd, and no freeing of items
 * that ksmd frees anyway.  A step of ksmd that starts later sees the mm exiting
 * and leaves its pages alone.  With ksmd stopped or unmerging (run = 0 or 2),
 * nothing would free an orphan until run = 1 again: the exit frees the items
 * itself, waiting for ksm_mutex if need be.  run is read again under
 * ksm_slots_lock where the slot becomes an orphan: a run = 0 or 2 written
 * before reaps its orphans under that lock (ksm_reap_orphans()), so the exit
 * either sees that run, or its orphan is among those reaped.
 *
 * ksm_merging_pages is read only once no merge into the mm can be under way:
 * ksmd merges a page of another mm than the one it scans holding that mm's
 * mmap_lock, and starts only if the mm is not exiting (ksm_merge_pair()).
 * One that started before mm_users fell to 0 is waited for here, or its
 * item would be linked into a slot already left to ksmd as an orphan, and
 * counted in pages_sharing until ksmd comes to it.
 */
void ksm_forget_mm(struct mm_struct *mm)
{
	bool running = READ_ONCE(ksm_run) == KSM_RUN_MERGE;
	struct ksm_mm_slot *slot;
	bool orphan, bare = false;

	if (running) {
		mmap_write_lock(mm);
		mmap_write_unlock(mm);
	}
	if (running && !READ_ONCE(mm->ksm_merging_pages)) {
		spin_lock(&ksm_slots_lock);
		slot = ksm_find_slot_locked(mm);
		orphan = slot && ksm_scan.slot != slot &&
			 READ_ONCE(ksm_run) == KSM_RUN_MERGE;
		if (orphan && !slot->rmap_list) {
			/* Only ksmd adds items, at its cursor, not here. */
			ksm_del_slot(slot);
			bare = true;
		} else if (orphan) {
			slot->orphan = true;
		}
		spin_unlock(&ksm_slots_lock);
		if (bare)
			ksm_free_slot(slot);
		/* ksmd may free an orphan slot from here on. */
		if (orphan)
			return;
	}
	ksm_lock();
	slot = ksm_find_slot(mm);
	if (slot) {
		ksm_drop_items(slot, 0, ULONG_MAX);
		ksm_forget_slot(slot);
	}
	mutex_unlock(&ksm_mutex);
	if (slot)
		ksm_free_slot(slot);
}

/**
 * ksm_forget_range() - free the rmap items of a range just unmerged
 * @mm: the mm
 * @start: first address
 * @end: address after the last
 * @wait: free them now even if that means waiting for ksm_mutex
 *
 * The KSM pages of the range are broken already, so freeing the items
 * makes pages_shared, pages_sharing and ksm_merging_pages drop.  An mm
 * with no merged page has none of those to drop: unless @wait, or ksmd is
 * stopped (run 0 or 2: no scan would come), its items are left for ksmd's
 * scan to free when it next passes the range, as Linux 6.1 leaves them
 * all, and MADV_UNMERGEABLE or mremap costs the process nothing more than
 * the walk for KSM pages.  Until then an item in the unstable table is
 * harmless: a merge with it finds its area again, and compares contents.
 * If the process of @mm exited meanwhile, the
 * unmerge stopped short (ksm_break_range()): the items stay, for the exit
 * to free with the pages they still map.
 *
 * Context: @mm's mmap_lock held for write, or run = 2 holding an mm user.
 */
void ksm_forget_range(struct mm_struct *mm, unsigned long start,
		      unsigned long end, bool wait)
{
	struct ksm_mm_slot *slot;

	if (!wait && !READ_ONCE(mm->ksm_merging_pages) &&
	    READ_ONCE(ksm_run) == KSM_RUN_MERGE)
		return;
	if (ksm_owner_gone(mm))
		return;
	ksm_lock();
	slot = ksm_find_slot(mm);
	if (slot)
		ksm_drop_items(slot, start, end);
	mutex_unlock(&ksm_mutex);
}

#include "cursor-test.h"
