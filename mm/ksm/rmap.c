// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: reverse mapping of KSM pages, migration and swapin.  None of this
 * takes a KSM lock: the KSM page is locked by the caller (see ksm.h).
 */
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "../internal.h"
#include "ksm.h"

/*
 * Take @anon_vma's lock for read for @rwc's walk: false, with contended
 * set, if it is busy and the walk only tries.
 */
static bool ksm_walk_lock(struct anon_vma *anon_vma,
			  struct rmap_walk_control *rwc)
{
	if (anon_vma_trylock_read(anon_vma))
		return true;
	if (rwc->try_lock) {
		rwc->contended = true;
		return false;
	}
	anon_vma_lock_read(anon_vma);
	return true;
}

/*
 * Visit the mappings of KSM folio @folio through @origin, the root of the
 * anon_vma tree of the page it was when shared by a fork: each area of the
 * tree that covers the page's index, where it is mapped still by the mms
 * of that fork, whether ksmd ever scans them or not.  Some of those
 * mappings have items of their own, or are forks of an item's mm, and the
 * items' rounds visited them already: a second visit is harmless to every
 * rmap_one (6.1's round of forks makes such visits too), where leaving an
 * area out by a flag that changes under the mmap_lock alone, as
 * VM_MERGEABLE does, would let try_to_migrate() and remove_migration_ptes()
 * visit different areas, and a migration entry stay.
 */
static void ksm_walk_origin(struct folio *folio, struct anon_vma *origin,
			    struct rmap_walk_control *rwc)
{
	pgoff_t pgoff = folio_pgoff(folio);
	struct anon_vma_chain *avc;
	struct vm_area_struct *vma;
	unsigned long addr;

	if (!ksm_walk_lock(origin, rwc))
		return;
	anon_vma_interval_tree_foreach(avc, &origin->rb_root, pgoff, pgoff) {
		vma = avc->vma;
		cond_resched();
		addr = vma_pgoff_address(pgoff, 1, vma);
		if (addr == -EFAULT)
			continue;
		if (rwc->invalid_vma && rwc->invalid_vma(vma, rwc->arg))
			continue;
		if (!rwc->rmap_one(folio, vma, addr, rwc->arg) ||
		    (rwc->done && rwc->done(folio)))
			break;
	}
	anon_vma_unlock_read(origin);
}

/*
 * Does the pte at @addr of @vma map @folio?  A look without the page table
 * lock: the table stays (its area is in the anon_vma tree whose lock the
 * caller holds, which munmap and a THP collapse take first), and a pte that
 * changes meanwhile is for the unsharing to find as it is then.
 */
static bool ksm_pte_maps(struct vm_area_struct *vma, unsigned long addr,
			 struct folio *folio)
{
	pmd_t *pmd = mm_find_pmd(vma->vm_mm, addr);
	pmd_t pmdv;
	pte_t *ptep, pte;

	if (!pmd)
		return false;
	pmdv = pmd_read_atomic(pmd);
	barrier();
	if (!pmd_present(pmdv) || pmd_trans_huge(pmdv))
		return false;
	/* From the value checked: mremap may move the table meanwhile. */
	ptep = pte_offset_map(&pmdv, addr);
	pte = ptep_get(ptep);
	pte_unmap(ptep);
	return pte_present(pte) && pte_pfn(pte) == folio_pfn(folio);
}

/* rmap_one of ksm_origin_mappings(): note where @vma maps @folio, if it does. */
static bool ksm_note_origin_map(struct folio *folio, struct vm_area_struct *vma,
				unsigned long addr, void *arg)
{
	struct ksm_origin_maps *maps = arg;

	if (!ksm_pte_maps(vma, addr, folio) || !mmget_not_zero(vma->vm_mm))
		return true;
	maps->mm[maps->nr] = vma->vm_mm;
	maps->addr[maps->nr] = addr;
	return ++maps->nr < KSM_ORIGIN_BATCH;
}

/**
 * ksm_origin_mappings() - where the mms of a KSM page's origin map it
 * @folio: the KSM folio
 * @origin: the origin of its node (ksm_merge_pair())
 * @maps: filled with up to KSM_ORIGIN_BATCH mappings, each mm referenced
 *
 * Note the mappings of @folio that rmap_walk_ksm()'s origin round finds,
 * for run = 2 to unshare them.  Each call walks the tree from its start:
 * the caller unshares a batch before it asks for the next.
 *
 * Context: @folio locked, no KSM lock held; may sleep.
 */
void ksm_origin_mappings(struct folio *folio, struct anon_vma *origin,
			 struct ksm_origin_maps *maps)
{
	struct rmap_walk_control rwc = {
		.rmap_one = ksm_note_origin_map,
		.arg = maps,
	};

	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	maps->nr = 0;
	ksm_walk_origin(folio, origin, &rwc);
}

/**
 * rmap_walk_ksm() - visit every mapping of a KSM folio
 * @folio: the KSM folio
 * @rwc: what to do at each mapping, as for rmap_walk()
 *
 * Visit every mapping of KSM folio @folio.  Each rmap item names the
 * anon_vma and address of one mapping; mms forked from its mm may map the
 * page at the same address through that anon_vma without an item of their
 * own, so a second round visits those.  A KSM page made of a page that a
 * fork had left shared has an origin too (ksm_merge_pair()): the areas of
 * that family that cover the page's index are visited last, where the mms
 * of that fork map it still, whether KSM scans them or not.  The walk
 * stops once rmap_one returns false or done returns true; with try_lock
 * set, it stops at the first anon_vma it cannot lock at once, setting
 * contended.
 *
 * Context: @folio locked, if it has a node; no KSM lock is taken (see
 * ksm.h).  Each anon_vma lock is taken for read in turn.  May sleep.
 */
void rmap_walk_ksm(struct folio *folio, struct rmap_walk_control *rwc)
{
	struct ksm_stable_node *node;
	struct ksm_rmap_item *item;
	struct hlist_node *pos;
	struct anon_vma_chain *avc;
	struct vm_area_struct *vma;
	struct anon_vma *anon_vma;
	unsigned long addr;
	int round;
	bool own;

	/*
	 * A walker that saw the page anon, unlocked, may find it a KSM page
	 * with no node yet, or anon again: ksmd's merge counts its reference
	 * and gives up (ksm_claim_page()).  A node is only seen locked.
	 */
	node = ksm_folio_node(folio);
	if (!node)
		return;
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);

	for (round = 0; round < 2; round++) {
		/* Changed only under the page lock too (ksm.h). */
		for (pos = node->rmap_list.first; pos; pos = pos->next) {
			item = hlist_entry(pos, struct ksm_rmap_item, snode);
			anon_vma = item->anon_vma;
			addr = ksm_item_addr(item);

			cond_resched();
			if (!ksm_walk_lock(anon_vma, rwc))
				return;
			anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root,
						       0, ULONG_MAX) {
				vma = avc->vma;
				cond_resched();
				if (addr < vma->vm_start || addr >= vma->vm_end)
					continue;
				/* Round 0: the item's own mm; 1: its forks. */
				own = vma->vm_mm == item->mm;
				if (own != !round)
					continue;
				if (rwc->invalid_vma &&
				    rwc->invalid_vma(vma, rwc->arg))
					continue;
				if (!rwc->rmap_one(folio, vma, addr, rwc->arg) ||
				    (rwc->done && rwc->done(folio))) {
					anon_vma_unlock_read(anon_vma);
					return;
				}
			}
			anon_vma_unlock_read(anon_vma);
		}
	}
	if (node->origin)
		ksm_walk_origin(folio, node->origin, rwc);
}

/**
 * folio_migrate_ksm() - point the stable node of a migrated KSM page anew
 * @newfolio: the folio the content moved to
 * @folio: the KSM folio it moved from
 *
 * Migration moved the content of KSM folio @folio to @newfolio, which has
 * inherited its mapping; both are locked.  Point the node at the new page.
 *
 * Context: both folios locked; no KSM lock is taken.
 */
void folio_migrate_ksm(struct folio *newfolio, struct folio *folio)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);

	if (!node)
		return;
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(newfolio), newfolio);
	VM_WARN_ON_ONCE_FOLIO(ksm_folio_node(newfolio) != node, newfolio);
	VM_WARN_ON_ONCE_FOLIO(node->kpfn != folio_pfn(folio), folio);
	WRITE_ONCE(node->kpfn, folio_pfn(newfolio));
	/*
	 * Order the new kpfn before anything that changes the old page:
	 * ksm_get_page() rechecks kpfn after seeing it changed (smp_rmb).
	 */
	smp_wmb();
}

/**
 * ksm_might_need_to_copy() - the page a swapin is to map
 * @page: the page swapped in, in swap cache
 * @vma: the vma of the swapin
 * @address: the address of the swapin in @vma
 *
 * Swapin of @page (locked, in swap cache) at @address of @vma: can it be
 * mapped there as it is?  Not if it is a KSM page and KSM is unmerging, or
 * it has no node any more, or its node is of another merge domain than
 * @vma's mm is now (its process moved while the page was out), or @vma is
 * not mergeable (MADV_UNMERGEABLE came while the page was out: it left the
 * swap entry as it was, and nothing would unshare the page once mapped in
 * an area that KSM no longer scans); not if it is an anon page of another
 * anon_vma tree or index, as when it was a KSM page before swapout.  Then
 * map a private copy instead.
 *
 * Context: @page locked; no KSM lock is taken.  May sleep.
 * Return: @page if it can be mapped as it is, or is not uptodate (an I/O
 * error, for the caller to report); else a new copy, locked, dirty and
 * uptodate; NULL if no copy could be allocated or charged.
 */
struct page *ksm_might_need_to_copy(struct page *page,
				    struct vm_area_struct *vma,
				    unsigned long address)
{
	struct folio *folio = page_folio(page);
	struct ksm_stable_node *node;
	struct anon_vma *anon_vma;
	struct page *copy;

	if (folio_test_ksm(folio)) {
		node = ksm_folio_node(folio);
		if (node && READ_ONCE(ksm_run) != KSM_RUN_UNMERGE &&
		    (vma->vm_flags & VM_MERGEABLE) &&
		    node->domain == ksm_mm_domain(vma->vm_mm))
			return page;
	} else {
		anon_vma = folio_anon_vma(folio);
		if (!anon_vma)
			return page;
		if (anon_vma->root == vma->anon_vma->root &&
		    page->index == linear_page_index(vma, address))
			return page;
	}
	/* An I/O error: leave it to the caller to report. */
	if (!PageUptodate(page))
		return page;

	copy = alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma, address);
	if (!copy)
		return NULL;
	if (mem_cgroup_charge(page_folio(copy), vma->vm_mm, GFP_KERNEL)) {
		put_page(copy);
		return NULL;
	}
	copy_user_highpage(copy, page, address, vma);
	folio_set_dirty(page_folio(copy));
	__folio_mark_uptodate(page_folio(copy));
	__folio_set_locked(page_folio(copy));
#ifdef CONFIG_SWAP
	count_vm_event(KSM_SWPIN_COPY);
#endif
	return copy;
}
