// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: merging a page into a KSM page (or the zero page), and turning a
 * pair of identical pages into a new KSM page.  A page is compared only
 * while nothing can write it: its pte cleared and flushed (so GUP-fast
 * takes no new pin), and the page refused if it may be pinned already.
 * Merging into a KSM page does it all in one change of the pte
 * (ksm_remap()), and the merges of a batch share one TLB flush; a new
 * pair write-protects both pages first, as the first becomes the KSM page
 * the second is then compared with.
 */
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>

#include <asm/tlbflush.h>

#include "../internal.h"
#include <trace/events/ksm.h>

#include "ksm.h"

/* Tell secondary MMUs that the pte at @addr is about to change. */
static void ksm_notify_start(struct mmu_notifier_range *r,
			     struct vm_area_struct *vma, unsigned long addr)
{
	mmu_notifier_range_init(r, MMU_NOTIFY_CLEAR, 0, vma, vma->vm_mm,
				addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(r);
}

/* The pmd of the pte table mapping @addr, or NULL if there is none. */
static pmd_t *ksm_pte_table(struct mm_struct *mm, unsigned long addr)
{
	pmd_t *pmd = mm_find_pmd(mm, addr);
	pmd_t pmdv;

	if (!pmd)
		return NULL;
	pmdv = READ_ONCE(*pmd);
	if (!pmd_present(pmdv) || pmd_trans_huge(pmdv))
		return NULL;
	return pmd;
}

/* @pte made read-only and clean, as a KSM candidate's pte is. */
static pte_t ksm_pte_rdonly(pte_t pte)
{
	if (pte_protnone(pte))
		return pte_mkclean(pte_clear_savedwrite(pte));
	return pte_mkclean(pte_wrprotect(pte));
}

/*
 * Whether @page, mapped by @pte, may be written other than through a
 * fault on @pte, so that its references must be counted: by this pte
 * (writable, or written and not yet clean) or by a GUP pin, which only an
 * exclusive anonymous page can take.
 */
static bool ksm_may_write(struct page *page, pte_t pte)
{
	return PageAnonExclusive(page) || pte_write(pte) || pte_dirty(pte);
}

/*
 * Whether @page may be pinned: more references than its mappings, its
 * swap cache and the caller account for.  Called with its pte cleared and
 * flushed, so that GUP-fast takes no new reference meanwhile.
 */
static bool ksm_maybe_pinned(struct page *page)
{
	return page_count(page) !=
	       page_mapcount(page) + 1 + !!PageSwapCache(page);
}

/* A dirty pte about to go hands its dirtiness to its page. */
static void ksm_keep_dirty(struct page *page, pte_t pte)
{
	if (pte_dirty(pte))
		set_page_dirty(page);
}

/*
 * Point the pte at @addr, cleared and flushed under @ptep's lock and last
 * @cur, at @kpage (or at the zero page if @kpage is NULL) instead of
 * @page; @page loses the mapping and its reference.
 */
static void ksm_set_kpage_pte(struct vm_area_struct *vma, unsigned long addr,
			      pte_t *ptep, pte_t cur, struct page *page,
			      struct page *kpage)
{
	struct folio *old = page_folio(page);
	struct mm_struct *mm = vma->vm_mm;
	pte_t fresh;

	VM_WARN_ON_ONCE_PAGE(PageAnonExclusive(page), page);
	if (kpage) {
		VM_WARN_ON_ONCE_PAGE(PageAnonExclusive(kpage), kpage);
		get_page(kpage);
		page_add_anon_rmap(kpage, vma, addr, RMAP_NONE);
		fresh = mk_pte(kpage, vma->vm_page_prot);
	} else {
		/* Dirty: what tells it from a zero page a read mapped. */
		fresh = pte_mkdirty(pte_mkspecial(pfn_pte(my_zero_pfn(addr),
							  vma->vm_page_prot)));
		dec_mm_counter(mm, MM_ANONPAGES);
		ksm_zero_pte_mapped(mm, fresh);
	}
	/*
	 * What userfaultfd and soft-dirty tracking know of this pte stays
	 * (pte_mkdirty() made the zero page's soft-dirty too, on x86, s390
	 * and powerpc).
	 */
	if (pte_soft_dirty(cur))
		fresh = pte_mksoft_dirty(fresh);
	else
		fresh = pte_clear_soft_dirty(fresh);
	if (pte_uffd_wp(cur))
		fresh = pte_mkuffd_wp(fresh);
	set_pte_at_notify(mm, addr, ptep, fresh);

	page_remove_rmap(page, vma, false);
	if (!folio_mapped(old))
		folio_free_swap(old);
	folio_put(old);
}

/*
 * Make the pte mapping @page (locked, referenced by the caller) at @addr
 * read-only and clean; *@orig gets the resulting pte for ksm_replace().
 */
static int ksm_wrprotect(struct vm_area_struct *vma, unsigned long addr,
			 struct page *page, pte_t *orig)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range nr;
	spinlock_t *ptl;	/* page table lock */
	pte_t *ptep, cur, wp;
	int err = -EAGAIN;
	pmd_t *pmd;

	pmd = ksm_pte_table(mm, addr);
	if (!pmd)
		return -EFAULT;

	ksm_notify_start(&nr, vma, addr);
	ptep = pte_offset_map_lock(mm, pmd, addr, &ptl);
	cur = *ptep;
	if (!pte_present(cur) || pte_pfn(cur) != page_to_pfn(page))
		goto unlock;

	if (!ksm_may_write(page, cur) && !mm_tlb_flush_pending(mm)) {
		*orig = cur;
		err = 0;
		goto unlock;
	}

	flush_cache_page(vma, addr, page_to_pfn(page));
	/* Clearing the pte first stops GUP-fast from taking new pins. */
	cur = ptep_clear_flush(vma, addr, ptep);
	if (ksm_maybe_pinned(page) ||
	    (PageAnonExclusive(page) && page_try_share_anon_rmap(page))) {
		set_pte_at(mm, addr, ptep, cur);
		goto unlock;
	}
	ksm_keep_dirty(page, cur);
	wp = ksm_pte_rdonly(cur);
	set_pte_at_notify(mm, addr, ptep, wp);
	*orig = wp;
	err = 0;
unlock:
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(&nr);
	return err;
}

/*
 * Point the pte at @addr, still @orig, at @kpage (or at the zero page if
 * @kpage is NULL) instead of @page, which is locked.
 */
static int ksm_replace(struct vm_area_struct *vma, unsigned long addr,
		       struct page *page, struct page *kpage, pte_t orig)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range nr;
	spinlock_t *ptl;	/* page table lock */
	int err = -EAGAIN;
	pte_t *ptep;
	pmd_t *pmd;

	pmd = ksm_pte_table(mm, addr);
	if (!pmd)
		return -EFAULT;

	ksm_notify_start(&nr, vma, addr);
	ptep = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte_same(*ptep, orig))
		goto unlock;

	flush_cache_page(vma, addr, page_to_pfn(page));
	ptep_clear_flush(vma, addr, ptep);
	ksm_set_kpage_pte(vma, addr, ptep, orig, page, kpage);
	err = 0;
unlock:
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(&nr);
	return err;
}

/*
 * Merge the pages of @reqs, all mapped in one page table of @vma (its pmd
 * @pmd) in ascending address order, each locked, each into its KSM page
 * (or the zero page), with one change of each pte: cleared, all of them,
 * then one TLB flush for all, so that neither these mappings nor a
 * GUP-fast pin can write the pages meanwhile; each page checked for pins
 * if it could be written, compared under the page table lock, then pointed
 * at its KSM page, or put back as it was if the contents differ.  One
 * flush for the batch, where write-protecting first and replacing after
 * takes two for each page: every flush interrupts each CPU that runs the
 * process.  Only requests whose err is 0 are made.
 */
static void ksm_remap_table(struct vm_area_struct *vma, pmd_t *pmd,
			    struct ksm_merge_req *reqs, unsigned int nr)
{
	unsigned long first = reqs[0].addr, start = ULONG_MAX, end = 0;
	struct mm_struct *mm = vma->vm_mm;
	pte_t old[KSM_MERGE_MAX];
	struct ksm_merge_req *r;
	spinlock_t *ptl;	/* page table lock */
	pte_t *table, *ptep;
	unsigned int i;

	table = pte_offset_map_lock(mm, pmd, first, &ptl);
	for (i = 0; i < nr; i++) {
		r = &reqs[i];
		if (r->err)
			continue;
		ptep = table + (pte_index(r->addr) - pte_index(first));
		old[i] = *ptep;
		if (!pte_present(old[i]) ||
		    pte_pfn(old[i]) != page_to_pfn(r->page)) {
			r->err = -EAGAIN;
			continue;
		}
		flush_cache_page(vma, r->addr, page_to_pfn(r->page));
		old[i] = ptep_get_and_clear(mm, r->addr, ptep);
		start = min(start, r->addr);
		end = r->addr + PAGE_SIZE;
	}
	if (start >= end)
		goto unlock;
	/*
	 * The ptes may have been writable: flush device TLBs (IOMMU SVA) too,
	 * before the compares, not at the end of the ranges.
	 */
	flush_tlb_range(vma, start, end);
	mmu_notifier_invalidate_range(mm, start, end);

	for (i = 0; i < nr; i++) {
		r = &reqs[i];
		if (r->err)
			continue;
		ptep = table + (pte_index(r->addr) - pte_index(first));
		if ((ksm_may_write(r->page, old[i]) &&
		     ksm_maybe_pinned(r->page)) ||
		    ksm_cmp_pages(r->page,
				  r->kpage ? r->kpage : ZERO_PAGE(r->addr)) ||
		    (PageAnonExclusive(r->page) &&
		     page_try_share_anon_rmap(r->page))) {
			/* Pinned, or not the same: the pte is as it was. */
			set_pte_at(mm, r->addr, ptep, old[i]);
			r->err = -EAGAIN;
			continue;
		}
		ksm_keep_dirty(r->page, old[i]);
		ksm_set_kpage_pte(vma, r->addr, ptep, old[i], r->page,
				  r->kpage);
	}
unlock:
	pte_unmap_unlock(table, ptl);
}

/*
 * Make the requests of @reqs whose err is 0 (pages of @vma, locked, in
 * ascending address order), a run of close ones of one page table at a
 * time (KSM_FLUSH_GAP).  The secondary MMUs (a KVM guest's) are told of
 * one range per run, from its first merge to its last: one flush of
 * theirs for the lot too.
 */
static void ksm_remap(struct vm_area_struct *vma, struct ksm_merge_req *reqs,
		      unsigned int nr)
{
	struct mmu_notifier_range range;
	unsigned long start, end;
	unsigned int i, j, k;
	pmd_t *pmd;

	VM_WARN_ON_ONCE(nr > KSM_MERGE_MAX);
	for (i = 0; i < nr; i = j) {
		start = ULONG_MAX;
		end = 0;
		for (j = i; j < nr; j++) {
			if ((reqs[j].addr >> PMD_SHIFT) !=
			    (reqs[i].addr >> PMD_SHIFT) ||
			    (j > i && reqs[j].addr - reqs[j - 1].addr >
				      KSM_FLUSH_GAP * PAGE_SIZE))
				break;
			VM_WARN_ON_ONCE(j && reqs[j].addr <= reqs[j - 1].addr);
			if (reqs[j].err)
				continue;
			start = min(start, reqs[j].addr);
			end = reqs[j].addr + PAGE_SIZE;
		}
		if (start >= end)
			continue;
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma,
					vma->vm_mm, start, end);
		mmu_notifier_invalidate_range_start(&range);
		pmd = ksm_pte_table(vma->vm_mm, start);
		if (pmd) {
			ksm_remap_table(vma, pmd, reqs + i, j - i);
		} else {
			for (k = i; k < j; k++)
				if (!reqs[k].err)
					reqs[k].err = -EFAULT;
		}
		mmu_notifier_invalidate_range_end(&range);
	}
}

/* Lock @page and split it if it is part of a THP; false if that fails. */
static bool ksm_lock_small(struct page *page)
{
	if (!trylock_page(page))
		return false;
	if (PageTransCompound(page) && split_huge_page(page)) {
		unlock_page(page);
		return false;
	}
	return true;
}

/* Lock anonymous @page, split from its THP if need be. */
static int ksm_lock_anon(struct page *page)
{
	if (!PageAnon(page))
		return -EFAULT;
	if (!ksm_lock_small(page))
		return -EBUSY;
	return 0;
}

/*
 * A KSM page must never look clean to reclaim: after MADV_FREE of one of
 * its mappings it would be dropped for all of them.
 */
static void ksm_kpage_dirty(struct page *kpage)
{
	if (!PageDirty(kpage))
		SetPageDirty(kpage);
}

/*
 * First half of merging @tree_page, mapped at @addr of @vma (its
 * mmap_lock held), into @kpage, which the caller holds locked and has
 * write-protected: lock @tree_page, write-protect it and compare it.  On
 * success @tree_page is left locked, and *@orig is its pte for
 * ksm_merge_end().
 */
static int ksm_merge_begin(struct vm_area_struct *vma, unsigned long addr,
			   struct page *tree_page, struct page *kpage,
			   pte_t *orig)
{
	int err;

	err = ksm_lock_anon(tree_page);
	if (err)
		return err;
	err = ksm_wrprotect(vma, addr, tree_page, orig);
	if (!err && ksm_cmp_pages(tree_page, kpage))
		err = -EAGAIN;
	if (err)
		unlock_page(tree_page);
	return err;
}

/* Second half: point the pte at @kpage, unlock @tree_page. */
static int ksm_merge_end(struct vm_area_struct *vma, unsigned long addr,
			 struct page *tree_page, struct page *kpage, pte_t orig)
{
	int err;

	err = ksm_replace(vma, addr, tree_page, kpage, orig);
	if (!err)
		ksm_kpage_dirty(kpage);
	unlock_page(tree_page);
	return err;
}

/* Merge @page into @kpage (NULL: the zero page); @page left locked. */
static int ksm_merge_locked(struct vm_area_struct *vma, unsigned long addr,
			    struct page *page, struct page *kpage)
{
	struct ksm_merge_req req = {
		.addr = addr, .page = page, .kpage = kpage,
	};
	int err;

	err = ksm_lock_anon(page);
	if (err)
		return err;
	ksm_remap(vma, &req, 1);
	if (req.err) {
		unlock_page(page);
		return req.err;
	}
	if (kpage)
		ksm_kpage_dirty(kpage);
	return 0;
}

static int ksm_merge_one(struct vm_area_struct *vma, unsigned long addr,
			 struct page *page, struct page *kpage)
{
	int err;

	if (page == kpage)
		return 0;
	err = ksm_merge_locked(vma, addr, page, kpage);
	if (!err)
		unlock_page(page);
	return err;
}

/**
 * ksm_merge_many() - merge pages into KSM pages, with one TLB flush
 * @vma: the vma the pages are mapped in
 * @reqs: the merges, in ascending address order; no page a KSM page
 * @nr: how many, at most KSM_MERGE_MAX
 *
 * Make each merge of @reqs whose err is 0: lock its page, clear its pte
 * and compare the page with its KSM page; if they are the same, the pte
 * maps the KSM page instead, and the page loses that mapping and its
 * reference; if not, the pte is put back as it was.  The ptes of one page
 * table change together, with one TLB flush.
 *
 * Context: the mmap_lock of @vma's mm held; the KSM page of each merge to
 * make locked by the caller.
 * The outcome, in each err: 0 if the pte maps the KSM page now; -EFAULT
 * if the page is not anon or its pte cannot be found; -EBUSY if the page
 * cannot be locked or split; -EAGAIN if the pte changed, the page may be
 * pinned, or the contents differ.
 */
void ksm_merge_many(struct vm_area_struct *vma, struct ksm_merge_req *reqs,
		    unsigned int nr)
{
	unsigned long locked = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (reqs[i].err)
			continue;
		reqs[i].err = ksm_lock_anon(reqs[i].page);
		if (!reqs[i].err)
			__set_bit(i, &locked);
	}
	ksm_remap(vma, reqs, nr);
	for_each_set_bit(i, &locked, nr) {
		if (!reqs[i].err && reqs[i].kpage)
			ksm_kpage_dirty(reqs[i].kpage);
		unlock_page(reqs[i].page);
	}
}

/**
 * ksm_merge_zero() - map the zero page instead of a page of zeroes
 * @vma: the vma @page is mapped in
 * @addr: the address of @page in @vma
 * @page: the page, referenced by the caller
 *
 * As ksm_merge_many() for one page, with the zero page for the KSM page:
 * the pte at @addr becomes a special pte of the zero page.
 *
 * Context: the mmap_lock of @vma's mm held.
 * Return: 0 once the zero page is mapped, or an errno as ksm_merge_many()
 * gives one.
 */
int ksm_merge_zero(struct vm_area_struct *vma, unsigned long addr,
		   struct page *page)
{
	return ksm_merge_one(vma, addr, page, NULL);
}

/**
 * ksm_merge_move() - move a mapping from one KSM page to another
 * @item: the rmap item of the mapping
 * @vma: the vma the mapping is in
 * @page: the KSM page it maps now, referenced by the caller
 * @kpage: the KSM page to map instead
 * @node: the node of @kpage
 *
 * Move the mapping of @item, at its address in @vma, from KSM page @page to
 * KSM page @kpage of @node (a fuller dup of the same chain), which
 * the caller holds locked.  @item moves to @node's rmap list with it.
 *
 * Context: ksm_mutex and the mmap_lock of @vma's mm held; @kpage locked.
 * Return: 0 once moved, else an errno as ksm_merge_many() gives one.
 */
int ksm_merge_move(struct ksm_rmap_item *item, struct vm_area_struct *vma,
		   struct page *page, struct page *kpage,
		   struct ksm_stable_node *node)
{
	int err;

	err = ksm_merge_locked(vma, ksm_item_addr(item), page, kpage);
	if (!err) {
		/*
		 * Both KSM pages are locked: no rmap walk of either sees the
		 * item move from one list to the other, once the pte has
		 * moved.
		 */
		ksm_stable_unlink_locked(item);
		ksm_stable_link(item, node, vma->anon_vma);
		unlock_page(page);
	}
	/* In upstream's order: off the old page, then merged into the new. */
	trace_ksm_merge_with_ksm_page(kpage, page_to_pfn(kpage), item,
				      item->mm, err);
	return err;
}

/**
 * ksm_break_one() - unshare one KSM mapping
 * @vma: the area
 * @addr: the address of the pte
 *
 * Give the pte at @addr of @vma a private copy of the KSM page it maps, as
 * a write would.  One try: a pte that changed meanwhile is left as it is.
 *
 * Context: @vma's mmap_lock held; may sleep.
 */
void ksm_break_one(struct vm_area_struct *vma, unsigned long addr)
{
	if (is_cow_mapping(vma->vm_flags))
		handle_mm_fault(vma, addr, FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE,
				NULL);
}

/*
 * Is @page (locked, mapped in an mm whose mmap_lock is held) this
 * mapping's alone?  Not if another mm maps it too (shared since a fork),
 * or holds a swap entry of it while it is in the swap cache (a fork's page
 * swapped out, then in by this mm only).  Neither can change meanwhile: a
 * new mapping takes a fork of this mm, whose mmap_lock is held, and a new
 * swap entry the page lock.
 *
 * A page that is not may still become a KSM page, under "global" only
 * (ksm_merge_pair()): the other mms may be of another merge domain, and
 * ksmd never looks at them if they are not registered, so they would keep,
 * or get, a mapping of this domain's KSM page.
 */
static bool ksm_page_exclusive(struct page *page)
{
	if (page_mapcount(page) > 1)
		return false;
	/* Its swap slot goes, unless a swap entry elsewhere refers to it. */
	return !PageSwapCache(page) || folio_free_swap(page_folio(page));
}

/*
 * Whether @page, locked and mapped, has no reference but those of its
 * mappings, its swap cache and the caller.  The two counts cannot be read
 * at once: the mappings are read on both sides of the references, and
 * must agree.  A mapping goes before its reference (page_remove_rmap(),
 * then the put, each a fully ordered atomic): a mapping taken away
 * between the reads either shows in them or makes the page look held.
 * A page that only the scanned mm maps gets no new mapping under its
 * mmap_lock and the page lock, so for such a page the count is exact.
 * One that other mms map too (ksm_merge_pair()'s "shared" case) may get
 * one meanwhile, by a fork (copy_present_pte(): the reference, then the
 * mapping, in atomics ordered only by a page table lock ksmd does not
 * hold): with a removal at the same time, or alone where atomics are not
 * ordered (arm64, powerpc, riscv), that can hide one reference.
 */
static bool ksm_page_unheld(struct page *page)
{
	int maps = page_mapcount(page), refs;

	/* The mappings, then the references... */
	smp_rmb();
	refs = page_ref_count(page);
	/* ... then the mappings again. */
	smp_rmb();
	return page_mapcount(page) == maps &&
	       refs == maps + 1 + !!PageSwapCache(page);
}

/*
 * Make @page, locked, its pte just write-protected, a KSM page with no
 * node yet, if nothing but its mappings and ksmd holds a reference to it.
 *
 * Some rmap walkers do not lock an anonymous page: folio_referenced(), idle
 * page tracking and DAMON take a reference to the page (or isolate it from
 * its LRU), look whether it is a KSM page, try its lock only if it is,
 * then walk it by what it is when the walk starts.  One that saw the page
 * anonymous, then walked it as a KSM page, would read a node's rmap items
 * without the page lock, while an exit frees them.  So the page is a KSM
 * page before its references are counted, with a full barrier between,
 * as between a walker's reference (a fully ordered atomic:
 * folio_try_get(), or the clearing of PageLRU before an isolation's) and
 * its look.  A walker that looked before is counted here, and the page is
 * given back to its anon_vma: it finds no node to walk if it sees the
 * page a KSM page meanwhile (rmap_walk_ksm()).  One that looks after sees
 * a KSM page, and tries its lock.  So no one but ksmd, under ksm_mutex,
 * reads a node without its page's lock (ksm_page_unheld() says where the
 * count could still be fooled: only for a page other mms map too, and only
 * to the walkers that do not isolate the page, which look at PageLRU).
 * The page's mapping before is returned, for ksm_unclaim_page() if the
 * merge goes no further; NULL if the page has another reference (a
 * walker's, a pipe's, a per-CPU LRU batch's...).
 */
static struct address_space *ksm_claim_page(struct page *page)
{
	struct folio *folio = page_folio(page);
	struct address_space *anon = READ_ONCE(folio->mapping);

	VM_WARN_ON_ONCE_PAGE(!PageLocked(page) || PageKsm(page), page);
	ksm_folio_set_node(folio, NULL);
	/* Marked, then counted; a walker references, then looks. */
	smp_mb();
	if (PageLRU(page) && ksm_page_unheld(page))
		return anon;
	WRITE_ONCE(folio->mapping, anon);
	return NULL;
}

/* Give a page claimed by ksm_claim_page() back to its anon_vma, @anon. */
static void ksm_unclaim_page(struct page *page, struct address_space *anon)
{
	VM_WARN_ON_ONCE_PAGE(ksm_folio_node(page_folio(page)), page);
	WRITE_ONCE(page_folio(page)->mapping, anon);
}

/* One page of a pair: the item that maps it, where, and the page. */
struct ksm_pair_half {
	struct ksm_rmap_item *item;
	struct vm_area_struct *vma;
	unsigned long addr;
	struct page *page;
};

/**
 * ksm_merge_pair() - make a new KSM page of two identical pages
 * @item: the rmap item of @page
 * @vma: the vma @page is mapped in
 * @page: the page at @item's address
 * @domain: the merge domain of both (domain.c)
 * @tree_item: the unstable table entry found for @page
 * @tree_page: the page @tree_item maps
 *
 * @page (mapped by @item at its address in @vma, the mm being scanned) and
 * @tree_page (mapped by @tree_item) look identical: make one of them a KSM
 * page mapped in both places, with a new stable node.  Both pages are
 * referenced by the caller.  The one to become the KSM page is @page,
 * unless another mm may map it (ksm_page_exclusive()): then it is
 * @tree_page, if no other mm may map that one.  If both are shared, with
 * merge domains the pair is refused (-EAGAIN); under "global" the second
 * becomes the KSM page all the same, as its other mms may be registered
 * too, and the node keeps the root of the page's anon_vma tree as its
 * origin: the other mms map the page through none of the items' anon_vmas
 * (a parent's area is in no tree of its child's), and they may never be
 * scanned, nor write their copy, so rmap walks of the KSM page must find
 * them there (rmap_walk_ksm()), or its migration and reclaim would fail
 * for as long as they map it.  Both are
 * write-protected and compared before the first becomes a KSM page, which
 * it only does if no one else holds a reference to it (ksm_claim_page()):
 * if the other cannot follow, nothing was merged and the first stays an
 * ordinary page.  Once merged, @tree_item has left the unstable table,
 * and both items are on the new node.
 *
 * Context: ksm_mutex and the mmap_lock of @vma's mm held; the mmap_lock of
 * @tree_item's mm, if another, is only tried.
 * Return: 0 if both map the new KSM page; else a negative errno, -ENOMEM
 * if no stable node could be allocated.
 */
int ksm_merge_pair(struct ksm_rmap_item *item, struct vm_area_struct *vma,
		   struct page *page, u64 domain,
		   struct ksm_rmap_item *tree_item, struct page *tree_page)
{
	struct ksm_pair_half k = {
		.item = item, .vma = vma, .addr = ksm_item_addr(item),
		.page = page,
	};
	struct ksm_pair_half f = {
		.item = tree_item, .addr = ksm_item_addr(tree_item),
		.page = tree_page,
	};
	struct mm_struct *tmm = tree_item->mm;
	struct address_space *anon;
	struct ksm_stable_node *node;
	bool tlocked = false, lone = false, tried, ready = false;
	bool shared = false;
	int err = -EAGAIN;
	pte_t orig, forig;

	mmap_assert_locked(vma->vm_mm);
	/* A first look, unlocked, before any work: see ksm_page_exclusive(). */
	if (READ_ONCE(ksm_merge_domain) != KSM_DOMAIN_GLOBAL &&
	    page_mapcount(page) > 1 && page_mapcount(tree_page) > 1)
		return -EAGAIN;
	node = ksm_alloc_node();
	if (!node)
		return -ENOMEM;

	if (tmm != item->mm) {
		if (!mmap_read_trylock(tmm))
			goto free;
		tlocked = true;
	}
	if (ksm_test_exit(tmm))
		goto out;
	f.vma = ksm_item_vma(tree_item);
	if (!f.vma)
		goto out;

	/* @page to be the KSM page, or else @tree_page: see above. */
	for (tried = false;; tried = true) {
		if (!PageAnon(k.page) || PageKsm(k.page) ||
		    !ksm_lock_small(k.page))
			goto out;
		if (ksm_page_exclusive(k.page))
			break;
		if (tried && READ_ONCE(ksm_merge_domain) == KSM_DOMAIN_GLOBAL) {
			shared = true;
			break;
		}
		unlock_page(k.page);
		if (tried)
			goto out;
		swap(k, f);
	}
	if (ksm_wrprotect(k.vma, k.addr, k.page, &orig))
		goto unlock;
	anon = ksm_claim_page(k.page);
	if (!anon)
		goto unlock;
	ready = true;
	err = ksm_merge_begin(f.vma, f.addr, f.page, k.page, &forig);
	if (err) {
		ksm_unclaim_page(k.page, anon);
		goto unlock;
	}

	/*
	 * Both pages are read-only where they are mapped, and equal: make
	 * k.page a KSM page, dirty so that reclaim never takes it for a
	 * lazily freed page, and accessed: it stands for every page merged
	 * into it, so reclaim should not take it at its first look either.
	 * Its item is linked (out of the unstable table first, if the tree's)
	 * before the node is published in page->mapping.
	 */
	if (!PageDirty(k.page))
		SetPageDirty(k.page);
	mark_page_accessed(k.page);
	node->kind = KSM_NODE_PLAIN;
	node->kpfn = page_to_pfn(k.page);
	node->nid = ksm_tree_nid(k.page);
	node->domain = domain;
	/* Of the content as it now stays: it may differ from the item's. */
	node->checksum = ksm_calc_checksum(k.page);
	if (shared) {
		/* Its index stays, as rmap_walk_ksm() finds them by it. */
		VM_WARN_ON_ONCE_PAGE(page_to_pgoff(k.page) !=
				     linear_page_index(k.vma, k.addr), k.page);
		node->origin = k.vma->anon_vma->root;
		get_anon_vma(node->origin);
	}
	if (k.item == tree_item)
		ksm_unstable_remove(tree_item);
	ksm_stable_link(k.item, node, k.vma->anon_vma);
	ksm_folio_set_node(page_folio(k.page), node);

	err = ksm_merge_end(f.vma, f.addr, f.page, k.page, forig);
	if (!err) {
		if (f.item == tree_item)
			ksm_unstable_remove(tree_item);
		ksm_stable_link(f.item, node, f.vma->anon_vma);
	} else {
		/*
		 * The other pte changed at the last moment: undo, below.  The
		 * item stays on the node until ksmd's next visit finds its pte
		 * no longer maps the page, as after any write.
		 */
		lone = true;
	}
	/* Once published, the node lives as long as the page (ksm.h). */
	ksm_stable_add(node, k.page);
	node = NULL;
unlock:
	unlock_page(k.page);
	/*
	 * A KSM page mapped once is no merge: its mapping gets a private
	 * copy, unless its mm (the tree page's) has begun to exit, freeing
	 * it.  The KSM page then goes, or, if a fork shares it (its node has
	 * an origin), stays with those mms until they write it or run = 2.
	 */
	if (lone && !ksm_test_exit(k.vma->vm_mm))
		ksm_break_one(k.vma, k.addr);
out:
	if (tlocked)
		mmap_read_unlock(tmm);
free:
	if (node)
		ksm_free_node(node);
	/*
	 * Traced as upstream traces a pair: k.page made ready to be the KSM
	 * page (its pfn without "ksm "), then, if it was, the other merged
	 * into it.
	 */
	trace_ksm_merge_with_ksm_page(NULL, page_to_pfn(k.page), k.item,
				      k.item->mm, ready ? 0 : err);
	if (ready)
		trace_ksm_merge_with_ksm_page(k.page, page_to_pfn(k.page),
					      f.item, f.item->mm, err);
	return err;
}
