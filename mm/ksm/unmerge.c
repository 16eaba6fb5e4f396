// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: unmerging.  Every pte of a range that maps a KSM page (or a KSM
 * page under migration) is given a private copy by an unsharing fault, as
 * a write would, and the rmap items of the range are dropped at once.
 */
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/pagewalk.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "ksm.h"

/* Stop the walk at the first pte mapping a KSM page; its address here. */
static int ksm_find_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	unsigned long *found = walk->private;
	struct page *page;
	spinlock_t *ptl;	/* page table lock */
	pte_t *start, *pte, entry;
	swp_entry_t swp;
	int ret = 0;

	walk->action = ACTION_CONTINUE;
	/* No table (a PMD-mapped THP is never a KSM page): nothing here. */
	if (pmd_trans_unstable(pmd))
		return 0;

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	for (pte = start; addr < end; pte++, addr += PAGE_SIZE) {
		entry = *pte;
		page = NULL;
		if (pte_present(entry)) {
			page = vm_normal_page(walk->vma, addr, entry);
		} else if (!pte_none(entry)) {
			swp = pte_to_swp_entry(entry);
			if (is_migration_entry(swp))
				page = pfn_swap_entry_to_page(swp);
		}
		if (page && PageKsm(page)) {
			*found = addr;
			ret = 1;
			break;
		}
	}
	pte_unmap_unlock(start, ptl);
	return ret;
}

static const struct mm_walk_ops ksm_find_ops = {
	.pmd_entry = ksm_find_pmd,
};

/* Break every KSM mapping in [start, end) of @vma; its mmap_lock held. */
static int ksm_break_range(struct vm_area_struct *vma, unsigned long start,
			   unsigned long end)
{
	unsigned long addr = start, found;
	vm_fault_t ret;

	/* Unsharing faults only make sense in private writable mappings. */
	if (!is_cow_mapping(vma->vm_flags))
		return 0;
	while (addr < end) {
		if (signal_pending(current))
			return -ERESTARTSYS;
		found = end;
		if (walk_page_range(vma->vm_mm, addr, end, &ksm_find_ops,
				    &found) <= 0)
			break;
		ret = handle_mm_fault(vma, found,
				      FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE,
				      NULL);
		if (ret & VM_FAULT_OOM)
			return -ENOMEM;
		/* Look at the same pte again unless it cannot be helped. */
		addr = (ret & VM_FAULT_ERROR) ? found + PAGE_SIZE : found;
		cond_resched();
	}
	return 0;
}

/*
 * MADV_UNMERGEABLE (or mremap) of [@start, @end) in @vma; the mmap_lock held
 * for write, so no page of the mm can be merged meanwhile.
 *
 * Once the KSM pages are broken, the rmap items of the range are freed at
 * once, so that pages_shared, pages_sharing and ksm_merging_pages drop
 * before the call returns.  An mm with no merged page has none of those
 * to drop: then the items are only freed at once if that takes no wait for
 * ksmd, and otherwise when ksmd's scan next passes the range, as Linux
 * 6.1 frees them all.  Until then an item in the unstable table is
 * harmless: a merge with it finds its area again, and compares contents.
 */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	struct ksm_mm_slot *slot;
	int err;

	mmap_assert_write_locked(mm);
	err = ksm_break_range(vma, start, end);
	if (err)
		return err;

	if (!mutex_trylock(&ksm_mutex)) {
		if (!READ_ONCE(mm->ksm_merging_pages))
			return 0;
		ksm_lock();
	}
	slot = ksm_find_slot(mm);
	if (slot)
		ksm_drop_items(slot, start, end);
	mutex_unlock(&ksm_mutex);
	return 0;
}

/* Unmerge one registered mm entirely; a reference to it is held. */
static int ksm_unmerge_mm(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	struct ksm_mm_slot *slot;
	int err = 0;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
			continue;
		err = ksm_break_range(vma, vma->vm_start, vma->vm_end);
		if (err)
			break;
	}
	if (!err) {
		ksm_lock();
		slot = ksm_find_slot(mm);
		if (slot)
			ksm_drop_items(slot, 0, ULONG_MAX);
		mutex_unlock(&ksm_mutex);
	}
	mmap_read_unlock(mm);
	return err;
}

/*
 * Take a reference to the mm_struct (not the address space) of each
 * registered mm that this run = 2, @epoch, has not taken yet: in *@mmsp,
 * an array grown as needed.  Returns how many, or -ENOMEM.
 */
static int ksm_unmerge_batch(unsigned long epoch, struct mm_struct ***mmsp,
			     unsigned int *maxp)
{
	struct ksm_mm_slot *slot;
	struct mm_struct **mms;
	unsigned int nr = 0, need = 0;

	spin_lock(&ksm_slots_lock);
	list_for_each_entry(slot, &ksm_mm_head.scan_list, scan_list)
		need += slot->unmerged != epoch;
	if (need > *maxp) {
		spin_unlock(&ksm_slots_lock);
		mms = kvmalloc_array(need + 16, sizeof(*mms), GFP_KERNEL);
		if (!mms)
			return -ENOMEM;
		kvfree(*mmsp);
		*mmsp = mms;
		*maxp = need + 16;
		spin_lock(&ksm_slots_lock);
	}
	list_for_each_entry(slot, &ksm_mm_head.scan_list, scan_list) {
		if (slot->unmerged == epoch)
			continue;
		if (nr == *maxp)
			break;		/* forked meanwhile: the next batch */
		slot->unmerged = epoch;
		mmgrab(slot->mm);
		(*mmsp)[nr++] = slot->mm;
	}
	spin_unlock(&ksm_slots_lock);
	return nr;
}

/*
 * run = 2: unmerge every registered mm, ksm_ctl_mutex held.  An mm whose
 * process is exiting is skipped: its pages go with it, not copied first.
 * Children forked meanwhile are registered after the mms taken so far,
 * so batches are taken until one comes back empty.  The writer is the
 * first the OOM killer picks while it makes copies.
 */
int ksm_unmerge_all(void)
{
	static unsigned long epoch;
	struct mm_struct **mms = NULL;
	unsigned int max = 0, i;
	int nr, err = 0;

	/* 0 is a new slot's: never an epoch. */
	if (!++epoch)
		++epoch;
	set_current_oom_origin();
	while (!err) {
		/* Forks may keep coming: let the writer be interrupted. */
		if (signal_pending(current)) {
			err = -ERESTARTSYS;
			break;
		}
		nr = ksm_unmerge_batch(epoch, &mms, &max);
		if (nr <= 0) {
			err = nr;
			break;
		}
		for (i = 0; i < nr; i++) {
			if (!err && mmget_not_zero(mms[i])) {
				err = ksm_unmerge_mm(mms[i]);
				mmput(mms[i]);
			}
			mmdrop(mms[i]);
		}
	}
	clear_current_oom_origin();
	kvfree(mms);

	mutex_lock(&ksm_pass_mutex);
	ksm_lock();
	ksm_reap_orphans();
	ksm_release_unmapped();
	spin_lock(&ksm_slots_lock);
	ksm_scan.slot = &ksm_mm_head;
	spin_unlock(&ksm_slots_lock);
	/* Once all is unmerged, scanning starts over: full_scans too. */
	if (!err) {
		WRITE_ONCE(ksm_scan.ending, false);
		WRITE_ONCE(ksm_full_scans, 0);
	}
	mutex_unlock(&ksm_mutex);
	mutex_unlock(&ksm_pass_mutex);
	return err;
}
