// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: unmerging.  Every pte of a range that maps a KSM page (or a KSM
 * page under migration, or the zero page in place of a page of zeroes) is
 * given a private copy by an unsharing fault, as a write would.  Used by
 * MADV_UNMERGEABLE, mremap, run = 2 and PR_SET_MEMORY_MERGE 0.
 */
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "ksm.h"

/* KSM ptes one walk of the page tables gathers before they are unshared. */
#define KSM_BREAK_BATCH	16

/* What a walk found: the addresses of the first KSM ptes it met. */
struct ksm_found {
	unsigned long addr[KSM_BREAK_BATCH];
	unsigned int nr;
};

/* Gather addresses of ptes that KSM merged; stop when the batch is full. */
static int ksm_find_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct ksm_found *found = walk->private;
	struct page *page;
	spinlock_t *ptl;	/* page table lock */
	pte_t *start, *pte, entry;
	swp_entry_t swp;
	bool zero;
	int ret = 0;

	walk->action = ACTION_CONTINUE;
	/* No table (a PMD-mapped THP is never a KSM page): nothing here. */
	if (pmd_trans_unstable(pmd))
		return 0;

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	for (pte = start; addr < end; pte++, addr += PAGE_SIZE) {
		entry = *pte;
		page = NULL;
		zero = false;
		if (pte_present(entry)) {
			zero = ksm_zero_pte(entry);
			if (!zero)
				page = vm_normal_page(walk->vma, addr, entry);
		} else if (!pte_none(entry)) {
			swp = pte_to_swp_entry(entry);
			if (is_migration_entry(swp))
				page = pfn_swap_entry_to_page(swp);
		}
		if (zero || (page && PageKsm(page))) {
			found->addr[found->nr++] = addr;
			if (found->nr == KSM_BREAK_BATCH) {
				ret = 1;
				break;
			}
		}
	}
	pte_unmap_unlock(start, ptl);
	return ret;
}

static const struct mm_walk_ops ksm_find_ops = {
	.pmd_entry = ksm_find_pmd,
};

/**
 * ksm_break_range() - give every KSM mapping of a range a private copy
 * @vma: the area
 * @start: first address
 * @end: address after the last
 *
 * Each pte of [@start, @end) that maps a KSM page (or a KSM page under
 * migration, or a KSM zero page) is unshared by a fault, as a write would
 * do.  The rmap items
 * of the range are the caller's business (ksm_forget_range()).
 *
 * Context: @vma's mmap_lock held; may sleep.
 * Return: 0, -ENOMEM, or -ERESTARTSYS if a signal is pending.
 */
int ksm_break_range(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end)
{
	struct ksm_found found;
	unsigned long addr = start;
	unsigned int i;
	vm_fault_t ret;

	/* Unsharing faults only make sense in private writable mappings. */
	if (!is_cow_mapping(vma->vm_flags))
		return 0;
	while (addr < end) {
		found.nr = 0;
		if (walk_page_range(vma->vm_mm, addr, end, &ksm_find_ops,
				    &found) < 0 || !found.nr)
			break;
		/*
		 * The next walk starts at the first pte of this batch, and
		 * looks at each again: one that a fault could not unshare is
		 * faulted again unless that failed for good.
		 */
		addr = found.addr[0];
		for (i = 0; i < found.nr; i++) {
			if (signal_pending(current))
				return -ERESTARTSYS;
			ret = handle_mm_fault(vma, found.addr[i],
					      FAULT_FLAG_UNSHARE |
					      FAULT_FLAG_REMOTE, NULL);
			if (ret & VM_FAULT_OOM)
				return -ENOMEM;
			if ((ret & VM_FAULT_ERROR) && addr == found.addr[i])
				addr += PAGE_SIZE;
			cond_resched();
		}
	}
	return 0;
}
