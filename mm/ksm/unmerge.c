// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: unmerging.  Every pte of a range that maps a KSM page (or a KSM
 * page under migration, or the zero page in place of a page of zeroes) is
 * given a private copy, as an unsharing fault would give it.  Used by
 * MADV_UNMERGEABLE, mremap, run = 2 and PR_SET_MEMORY_MERGE 0.
 */
#include <linux/highmem.h>
#include <linux/hugetlb.h>
#include <linux/kmsan.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmu_notifier.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include <asm/tlbflush.h>

#include "ksm.h"

/* KSM ptes one walk of the page tables gathers before they are unshared. */
#define KSM_BREAK_BATCH	16

/*
 * What a walk found: the addresses of the first KSM ptes it met, in order,
 * and the pmd of each.  In 6.1 no one frees a page table of an anonymous
 * area, or puts a huge pmd in its place, without the mmap_lock held for
 * write, so the pmds stay valid while the caller holds it.
 */
struct ksm_found {
	unsigned long addr[KSM_BREAK_BATCH];
	pmd_t *pmd[KSM_BREAK_BATCH];
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
	cond_resched();
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
			found->pmd[found->nr] = pmd;
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

/*
 * A private copy of @page for @addr, charged as a fault's; NULL if there
 * is no memory for it, ERR_PTR(-EHWPOISON) if @page is poisoned (queued for
 * memory_failure(), as the fault would).
 */
static struct page *ksm_copy_for(struct vm_area_struct *vma,
				 unsigned long addr, struct page *page)
{
	struct page *copy = alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma, addr);

	if (!copy)
		return NULL;
	if (copy_mc_user_highpage(copy, page, addr, vma)) {
		put_page(copy);
		memory_failure_queue(page_to_pfn(page), 0);
		return ERR_PTR(-EHWPOISON);
	}
	if (mem_cgroup_charge(page_folio(copy), vma->vm_mm, GFP_KERNEL)) {
		put_page(copy);
		return NULL;
	}
	kmsan_copy_page_meta(copy, page);
	cgroup_throttle_swaprate(copy, GFP_KERNEL);
	__folio_mark_uptodate(page_folio(copy));
	return copy;
}

/**
 * ksm_unshare_table() - unshare KSM ptes of one page table with one flush
 * @vma: the area
 * @pmd: the pmd of the page table
 * @addr: addresses of ptes in that table, ascending
 * @nr: how many, at most KSM_BREAK_BATCH
 *
 * What an unsharing fault does to one pte, done to several: a copy of each
 * KSM page is made first (its content cannot change: every mapping of a
 * KSM page is write-protected), then, under the page table lock, the ptes
 * that still map those pages are cleared, the TLBs flushed once for all of
 * them (one IPI to the other CPUs running the mm, one invalidation of a
 * secondary MMU, instead of one per page), and each pointed at its copy,
 * read-only as the fault leaves it, before the KSM page loses the mapping.
 * A pte that is not a present KSM page (the zero page, a migration entry),
 * changed meanwhile, or found no memory for its copy is left to the
 * caller's fault; one whose KSM page is poisoned is passed over (the fault
 * would fail on it too).  The flush and the notifier range cover
 * [@addr[0], @addr[@nr - 1]]: the caller keeps the addresses close.
 *
 * Context: @vma's mmap_lock held; may sleep.
 * Return: a mask of the entries of @addr done with: unshared or poisoned.
 */
static unsigned long ksm_unshare_table(struct vm_area_struct *vma,
				       pmd_t *pmd, const unsigned long *addr,
				       unsigned int nr)
{
	struct page *old[KSM_BREAK_BATCH], *copy[KSM_BREAK_BATCH];
	unsigned long end = addr[nr - 1] + PAGE_SIZE, done = 0, poisoned = 0;
	struct mm_struct *mm = vma->vm_mm;
	pte_t orig[KSM_BREAK_BATCH], *start, *pte, entry;
	struct mmu_notifier_range range;
	struct page *page;
	spinlock_t *ptl;	/* page table lock */
	unsigned int i, want = 0;

	mmap_assert_locked(mm);
	if (pmd_trans_unstable(pmd) || anon_vma_prepare(vma))
		return 0;
	start = pte_offset_map_lock(mm, pmd, addr[0], &ptl);
	for (i = 0; i < nr; i++) {
		pte = start + ((addr[i] - addr[0]) >> PAGE_SHIFT);
		orig[i] = ptep_get(pte);
		old[i] = NULL;
		copy[i] = NULL;
		if (!pte_present(orig[i]) || ksm_zero_pte(orig[i]))
			continue;
		page = vm_normal_page(vma, addr[i], orig[i]);
		if (page && PageKsm(page)) {
			get_page(page);
			old[i] = page;
		}
	}
	pte_unmap_unlock(start, ptl);

	for (i = 0; i < nr; i++) {
		if (!old[i])
			continue;
		page = ksm_copy_for(vma, addr[i], old[i]);
		if (IS_ERR(page)) {
			poisoned |= BIT(i);
			continue;
		}
		/* Out of memory: the fault says so, no more tries here. */
		if (!page)
			break;
		copy[i] = page;
		want++;
	}
	if (!want)
		goto out;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma, mm, addr[0],
				end);
	mmu_notifier_invalidate_range_start(&range);
	start = pte_offset_map_lock(mm, pmd, addr[0], &ptl);
	for (i = 0; i < nr; i++) {
		pte = start + ((addr[i] - addr[0]) >> PAGE_SHIFT);
		if (!copy[i] || !pte_same(ptep_get(pte), orig[i]) ||
		    !PageKsm(old[i]))
			continue;
		flush_cache_page(vma, addr[i], pte_pfn(orig[i]));
		ptep_get_and_clear(mm, addr[i], pte);
		done |= BIT(i);
	}
	if (done) {
		flush_tlb_range(vma, addr[0], end);
		mmu_notifier_invalidate_range(mm, addr[0], end);
	}
	/* Aged as the fault's copies: with MGLRU, the youngest generation. */
	lru_gen_enter_fault(vma);
	for_each_set_bit(i, &done, nr) {
		pte = start + ((addr[i] - addr[0]) >> PAGE_SHIFT);
		entry = pte_sw_mkyoung(mk_pte(copy[i], vma->vm_page_prot));
		if (pte_soft_dirty(orig[i]))
			entry = pte_mksoft_dirty(entry);
		if (pte_uffd_wp(orig[i]))
			entry = pte_mkuffd_wp(entry);
		VM_WARN_ON_ONCE(pte_write(entry));
		page_add_new_anon_rmap(copy[i], vma, addr[i]);
		lru_cache_add_inactive_or_unevictable(copy[i], vma);
		set_pte_at_notify(mm, addr[i], pte, entry);
		update_mmu_cache(vma, addr[i], pte);
		/* Only now, with no TLB left on it, may the KSM page lose it. */
		page_remove_rmap(old[i], vma, false);
		put_page(old[i]);	/* the pte's reference */
		copy[i] = NULL;
	}
	lru_gen_exit_fault();
	pte_unmap_unlock(start, ptl);
	mmu_notifier_invalidate_range_only_end(&range);
	/* Each is a copy on write of a KSM page, as the fault counts it. */
	count_vm_events(COW_KSM, hweight_long(done));
out:
	for (i = 0; i < nr; i++) {
		if (copy[i])
			put_page(copy[i]);
		if (!old[i])
			continue;
		if (done & BIT(i))
			free_swap_cache(old[i]);
		put_page(old[i]);
	}
	return done | poisoned;
}

/*
 * Unshare what ksm_unshare_table() can of @found, a run of close ptes of
 * one table at a time (KSM_FLUSH_GAP); a mask of those done.
 */
static unsigned long ksm_unshare_found(struct vm_area_struct *vma,
				       const struct ksm_found *found)
{
	unsigned long done = 0;
	unsigned int i, j;

	for (i = 0; i < found->nr; i = j) {
		for (j = i + 1; j < found->nr; j++)
			if (found->pmd[j] != found->pmd[i] ||
			    found->addr[j] - found->addr[j - 1] >
			    KSM_FLUSH_GAP * PAGE_SIZE)
				break;
		done |= ksm_unshare_table(vma, found->pmd[i], found->addr + i,
					  j - i) << i;
	}
	return done;
}

/**
 * ksm_break_range() - give every KSM mapping of a range a private copy
 * @vma: the area
 * @start: first address
 * @end: address after the last
 *
 * Each pte of [@start, @end) that maps a KSM page (or a KSM page under
 * migration, or a KSM zero page) is unshared, as a write would do: a
 * batch of KSM ptes of one page table at a time with one TLB flush
 * (ksm_unshare_table()), the rest by an unsharing fault each.  The rmap
 * items of the range are the caller's business (ksm_forget_range()).
 * It stops early, with nothing left to do, when the process of another mm
 * has exited.
 *
 * Context: @vma's mmap_lock held; may sleep.
 * Return: 0, -ENOMEM, or -ERESTARTSYS if a signal is pending.
 */
int ksm_break_range(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end)
{
	unsigned long addr = start, done;
	struct ksm_found found;
	unsigned int i;
	vm_fault_t ret;
	bool next;

	/* Unsharing faults only make sense in private writable mappings. */
	if (!is_cow_mapping(vma->vm_flags))
		return 0;
	while (addr < end) {
		if (signal_pending(current))
			return -ERESTARTSYS;
		if (ksm_owner_gone(vma->vm_mm))
			return 0;
		cond_resched();
		found.nr = 0;
		if (walk_page_range(vma->vm_mm, addr, end, &ksm_find_ops,
				    &found) < 0 || !found.nr)
			break;
		done = ksm_unshare_found(vma, &found);
		/*
		 * The next walk starts at the first pte of this batch left to
		 * a fault, and looks at each again: one that a fault could not
		 * unshare is faulted again unless that failed for good.
		 */
		addr = found.addr[found.nr - 1] + PAGE_SIZE;
		next = false;
		for (i = 0; i < found.nr; i++) {
			if (done & BIT(i))
				continue;
			if (!next) {
				addr = found.addr[i];
				next = true;
			}
			if (signal_pending(current))
				return -ERESTARTSYS;
			if (ksm_owner_gone(vma->vm_mm))
				return 0;
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

/**
 * ksm_unshare_at() - unshare the KSM page an mm maps at an address
 * @mm: the mm, with a reference (mmget())
 * @addr: the address
 *
 * As ksm_break_range() for the page at @addr, whatever area of @mm it
 * is in (mergeable or not): for run = 2, which leaves no KSM page behind.
 *
 * Context: no KSM lock held; takes @mm's mmap_lock for read.  May sleep.
 * Return: 0, -ENOMEM, or -ERESTARTSYS if a signal is pending.
 */
int ksm_unshare_at(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	int err = 0;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma)
		err = ksm_break_range(vma, addr, addr + PAGE_SIZE);
	mmap_read_unlock(mm);
	return err;
}
