// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the scanner.  The ksmd thread walks the registered mms round robin,
 * a few pages at a time, and offers each anonymous page of a mergeable
 * area to the stable tree, then (if its content has stayed the same since
 * its last visit) to the unstable table.  The changes of run (start, stop,
 * and run = 2: unmerge everything) are made here too.
 */
#include <linux/delay.h>
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/oom.h>
#include <linux/pagewalk.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include <trace/events/ksm.h>

#include "ksm.h"

/*
 * Pages collected by one page table walk of one vma, processed before the
 * next walk: at most KSM_BATCH, of which at most KSM_BATCH_REFS held by a
 * reference.  A KSM page or a page under migration is noted without one:
 * once a pass has merged them, most pages are KSM pages, and a batch of
 * them costs a walk of the page tables and a page table lock the less.
 * Each reference goes at its page's visit, a microsecond or two apart; a
 * migration that meets one retries.  Over pages that are not KSM pages, a
 * walk from the top for every 16 of them took 8 % more of ksmd's CPU per
 * page than one for every 32.
 */
#define KSM_BATCH	64
#define KSM_BATCH_REFS	32

/* A merge into a KSM page that a visit found, made with the batch's. */
struct ksm_pending {
	struct ksm_rmap_item *item;
	struct ksm_stable_node *node;	/* of the KSM page, with room */
	bool fresh;			/* the item was, at the visit */
	bool locked;			/* holds the lock of the KSM page */
	bool tried;			/* the lock was held for it */
};

struct ksm_batch {
	struct vm_area_struct *vma;
	unsigned int nr;
	unsigned int max;
	unsigned int refs;
	unsigned long addr[KSM_BATCH];
	struct page *page[KSM_BATCH];
	struct ksm_stable_node *node[KSM_BATCH];	/* of a KSM page mapped */
	bool migrating[KSM_BATCH];	/* a migration entry: keep its item */
	unsigned int visiting;		/* the page at its visit, or KSM_BATCH */
	unsigned int nr_merges;
	struct ksm_merge_req merge[KSM_MERGE_MAX];
	struct ksm_pending pending[KSM_MERGE_MAX];
};

/* Only ksmd scans, under ksm_mutex: one batch will do. */
static struct ksm_batch ksm_batch;

static void ksm_batch_add(struct ksm_batch *b, unsigned long addr,
			  struct page *page, struct ksm_stable_node *node,
			  bool migrating)
{
	if (page) {
		get_page(page);
		b->refs++;
	}
	b->addr[b->nr] = addr;
	b->page[b->nr] = page;
	b->node[b->nr] = node;
	b->migrating[b->nr] = migrating;
	b->nr++;
}

static bool ksm_batch_full(const struct ksm_batch *b)
{
	return b->nr == b->max || b->refs == KSM_BATCH_REFS;
}

/* Is @pte a migration entry: its page is still mapped, only moving? */
static bool ksm_pte_migrating(pte_t pte)
{
	return is_swap_pte(pte) && is_migration_entry(pte_to_swp_entry(pte));
}

/*
 * Collect the anonymous pages mapped in [addr, end) of one page table.
 * A page of a THP is collected alone: splitting it before a merge needs
 * the batch to hold no other reference to it.  A PMD-mapped THP is only
 * noted by address here, and so is a KSM page, with its stable node:
 * ksm_scan_one() looks the page up when its turn comes, if it must, so
 * that the batch holds no reference to a KSM page that migration (or
 * compaction) may be trying to move.  A page under migration is noted
 * without a reference too: its item must stay, and the page must be left
 * alone (see ksm_scan_one()).
 */
static int ksm_scan_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct ksm_batch *b = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pte_t *start, *pte;
	struct page *page;
	spinlock_t *ptl;	/* page table lock */
	bool full = false;
	pte_t ptent;

	walk->action = ACTION_CONTINUE;
	if (pmd_trans_huge(READ_ONCE(*pmd))) {
		if (!b->nr)
			ksm_batch_add(b, addr, NULL, NULL, false);
		return 1;
	}
	if (pmd_trans_unstable(pmd))
		return 0;

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	for (pte = start; addr < end && !ksm_batch_full(b);
	     pte++, addr += PAGE_SIZE) {
		ptent = *pte;
		if (!pte_present(ptent)) {
			if (ksm_pte_migrating(ptent))
				ksm_batch_add(b, addr, NULL, NULL, true);
			continue;
		}
		page = vm_normal_page(vma, addr, ptent);
		if (!page || is_zone_device_page(page) || !PageAnon(page))
			continue;
		if (PageTransCompound(page)) {
			if (!b->nr)
				ksm_batch_add(b, addr, page, NULL, false);
			full = true;
			break;
		}
		if (PageKsm(page))
			ksm_batch_add(b, addr, NULL,
				      ksm_folio_node(page_folio(page)), false);
		else
			ksm_batch_add(b, addr, page, NULL, false);
	}
	pte_unmap_unlock(start, ptl);
	return full || ksm_batch_full(b);
}

/* Walks one mergeable vma, with an anon_vma: see ksm_scan_mm(). */
static const struct mm_walk_ops ksm_scan_ops = {
	.pmd_entry = ksm_scan_pmd,
};

/*
 * Link @item to the KSM page @page already mapped at its address, if the
 * page is of @item's merge domain; else unshare the mapping (a fork whose
 * child went to another domain).
 */
static void ksm_link_existing(struct vm_area_struct *vma, struct page *page,
			      struct ksm_rmap_item *item, u64 domain)
{
	struct folio *folio = page_folio(page);
	struct ksm_stable_node *node;

	/* Locked by another (migration): link it at the next visit. */
	if (!folio_trylock(folio))
		return;
	/* A write may have replaced it since the walk: link only a mapping. */
	if (follow_page(vma, ksm_item_addr(item), 0) != page)
		goto unlock;
	node = ksm_folio_node(folio);
	if (!node || (node->kind != KSM_NODE_PLAIN &&
		      node->kind != KSM_NODE_DUP) ||
	    READ_ONCE(node->kpfn) != folio_pfn(folio))
		goto unlock;
	if (node->domain == domain) {
		ksm_stable_link(item, node, vma->anon_vma);
		goto unlock;
	}
	folio_unlock(folio);
	ksm_break_one(vma, ksm_item_addr(item));
	return;
unlock:
	folio_unlock(folio);
}

/*
 * The mm of @item left the domain of KSM page @page, which it maps at
 * @addr: give it a copy of its own.  The batch holds @page, so its lock is
 * only tried (locking rule 5): a locked page is left for the next visit.
 */
static void ksm_leave_domain(struct vm_area_struct *vma, unsigned long addr,
			     struct page *page, struct ksm_rmap_item *item)
{
	if (!trylock_page(page))
		return;
	if (ksm_folio_node(page_folio(page)) != item->head) {
		unlock_page(page);
		return;
	}
	ksm_stable_unlink_locked(item);
	unlock_page(page);
	ksm_break_one(vma, addr);
}

/*
 * @page is the KSM page of @item's dup: move the mapping to a dup of its
 * chain at least as full, if one has room.  So the mappings of a content
 * gather in as few KSM pages as max_page_sharing allows.
 */
static void ksm_move_to_better_dup(struct vm_area_struct *vma,
				   struct page *page,
				   struct ksm_rmap_item *item)
{
	struct ksm_stable_node *room;
	struct page *kpage;

	kpage = ksm_better_dup(item->head, &room);
	if (!kpage)
		return;
	if (!trylock_page(kpage)) {
		put_page(kpage);
		return;
	}
	if (READ_ONCE(room->kpfn) == page_to_pfn(kpage) &&
	    room->nr_items < ksm_max_page_sharing)
		ksm_merge_move(item, vma, page, kpage, room);
	unlock_page(kpage);
	put_page(kpage);
}

/*
 * Smart scan (smart_scan = 1): a page found unique and unchanged look after
 * look is looked at less and less often.  From its KSM_SKIP_AGE-th such
 * look on, the visits that follow each look pass it over, one more each
 * time up to KSM_SKIP_MAX.  Passing over a page still samples it (an eighth
 * of it hashed): a change there ends the skipping at once.  And its entry
 * stays in the unstable table with the checksum of its last look, so that
 * a page that comes to equal it merges with it at its first visit, as it
 * would without smart scan.  KSM pages are never passed over, nor are the
 * pages of merged or fresh items: those have no age.  Two pages marked to
 * search again (KSM_ITEM_RECHECK, see unstable.c) may both be passed
 * over: they met as copies that could not merge (one page shared by fork,
 * on two nodes), which most stay, and a copy that could merge now is
 * found when either is next looked at.
 */
#define KSM_SKIP_AGE	3
#define KSM_SKIP_MAX	8

/* How many visits to pass over after a look that found @age in a row. */
static u8 ksm_skips_after(u8 age)
{
	if (age < KSM_SKIP_AGE)
		return 0;
	return min(age - KSM_SKIP_AGE + 1, KSM_SKIP_MAX);
}

/* Should this visit pass over @page, mapped by @item?  ksm_mutex held. */
static bool ksm_pass_over(struct ksm_rmap_item *item, struct page *page)
{
	if (!READ_ONCE(ksm_smart_scan) ||
	    (item->address & (KSM_ITEM_STABLE | KSM_ITEM_FRESH)) ||
	    !item->skips || PageKsm(page))
		return false;
	if (ksm_calc_sample(page) != item->sample) {
		/* Changed: looked at now, it is found volatile. */
		item->age = 0;
		item->skips = 0;
		return false;
	}
	item->skips--;
	if (item->address & KSM_ITEM_UNSTABLE)
		ksm_unstable_keep(item);
	return true;
}

/*
 * @item's page has a match, which it merges with now or may fail to: not
 * unique, it has no age, and smart scan does not pass it over at its next
 * visit.  (A merge links the item to a stable node, where the age has no
 * meaning.)
 */
static void ksm_not_unique(struct ksm_rmap_item *item)
{
	item->age = 0;
	item->skips = 0;
}

/*
 * One step of ksmd: the work it does under ksm_mutex and one mm's
 * mmap_lock before it lets go of both and reschedules (its bounds are at
 * KSM_STEP_WORK), and what it knows of that mm.
 */
struct ksm_step {
	unsigned int budget;	/* pages it may look at */
	unsigned int pages;	/* pages looked at */
	unsigned int quota;	/* work left, see KSM_STEP_WORK */
	u64 domain;		/* merge domain of the mm (domain.c) */
	u32 dtag;		/* its tag in the unstable table */
	bool zero_ok;		/* its pages of zeroes may map the zero page */
	u64 hold_until;		/* ns: a writer ends it only from then on */
};

/*
 * With use_zero_pages (and the mm's memory cgroup allowing it), a page of
 * zeroes maps the zero page, and nothing else: neither a KSM page of
 * zeroes made before use_zero_pages was set, which would otherwise gather
 * every page of zeroes that came after, nor a new one.  A page whose merge
 * with the zero page failed for a moment (its lock taken, or a reference
 * held by a per-cpu LRU batch) waits for its next visit; one that is not
 * all zeroes (only its checksum said so, or it changed) goes on to the
 * trees.  True if that is the end of the visit.
 */
static bool ksm_try_zero(struct vm_area_struct *vma, unsigned long addr,
			 struct page *page, struct ksm_rmap_item *item,
			 u32 checksum, const struct ksm_step *step)
{
	bool zeroes;
	void *kaddr;
	int err;

	if (!READ_ONCE(ksm_use_zero_pages) || checksum != ksm_zero_checksum ||
	    !step->zero_ok)
		return false;
	ksm_unstable_leave(item);
	err = ksm_merge_zero(vma, addr, page);
	trace_ksm_merge_one_page(my_zero_pfn(addr), item, item->mm, err);
	if (!err)
		return true;
	kaddr = kmap_local_page(page);
	zeroes = !memchr_inv(kaddr, 0, PAGE_SIZE);
	kunmap_local(kaddr);
	if (zeroes)
		ksm_not_unique(item);
	return zeroes;
}

/*
 * @page, found in the unstable table, may be one that @b holds for its own
 * visit, later in the batch (a visited page's slot is empty): a reference
 * more than its mappings account for, which the merge would take for a
 * pin, failing it on every pass.  The batch lets go of it before the
 * merge: its visit looks the page up again, as it does a KSM page's.
 * Not the page whose visit is under way (b->visiting): the merges that
 * visit makes first (ksm_merge_pending()) may find it, through the entry
 * of another mapping of it (a fork's), and the visit goes on with it.
 */
static void ksm_batch_let_go(struct ksm_batch *b, struct page *page)
{
	unsigned int j;

	for (j = 0; j < b->nr; j++) {
		if (b->page[j] == page && j != b->visiting) {
			b->page[j] = NULL;
			put_page(page);
			return;
		}
	}
}

/*
 * The end of a visit to @page (mapped by @item in @b's vma) that found no
 * KSM page to merge with: the unstable table, where it may find its twin.
 * @fresh: the item was fresh at the visit.
 */
static void ksm_cmp_unstable(struct ksm_batch *b, struct page *page,
			     struct ksm_rmap_item *item,
			     const struct ksm_step *step, bool fresh)
{
	struct ksm_rmap_item *titem;
	struct page *tpage;

	if (ksm_unstable_revisit(item, step->dtag))
		titem = NULL;
	else
		titem = ksm_unstable_search_insert(item, page, step->domain,
						   step->dtag, &tpage);
	if (!titem) {
		/* Unique again: one look older. */
		if (fresh)
			item->sample = ksm_calc_sample(page);
		if (item->age < U8_MAX)
			item->age++;
		item->skips = ksm_skips_after(item->age);
		return;
	}
	ksm_not_unique(item);
	if (page_folio(tpage) == page_folio(page)) {
		/*
		 * Two pages of one THP: it cannot be split while we hold a
		 * reference to each.  Split it now; they merge next pass.
		 */
		put_page(tpage);
		if (trylock_page(page)) {
			split_huge_page(page);
			unlock_page(page);
		}
		return;
	}
	ksm_batch_let_go(b, tpage);
	ksm_merge_pair(item, b->vma, page, step->domain, titem, tpage);
	put_page(tpage);
}

/* Does a merge of @b before the @i-th hold the lock of its KSM page? */
static bool ksm_kpage_locked(const struct ksm_batch *b, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < i; j++)
		if (b->pending[j].locked &&
		    b->merge[j].kpage == b->merge[i].kpage)
			return true;
	return false;
}

/* Merges of @b before the @i-th to be made into the KSM page of @node. */
static unsigned int ksm_merges_into(struct ksm_batch *b, unsigned int i,
				    struct ksm_stable_node *node)
{
	unsigned int j, n = 0;

	for (j = 0; j < i; j++)
		if (b->pending[j].node == node && !b->merge[j].err)
			n++;
	return n;
}

/*
 * Make the merges into KSM pages that the visits of @b found, together:
 * all the ptes of a page table change with one TLB flush
 * (ksm_merge_many()), where a flush for each page would interrupt each CPU
 * that runs the process once per page; a KVM guest's vCPUs are such
 * threads.  Each KSM page is locked once, however many of the merges go
 * into it.  A merge stands in for the end of its visit: what would have
 * stopped it there stops it here, and one that fails goes on to the
 * unstable table.  The nodes found by the visits are still those of their
 * KSM pages: the visits took references to the pages, and a node only
 * goes with its page.
 */
static void ksm_merge_pending(struct ksm_batch *b, const struct ksm_step *step)
{
	unsigned int n = b->nr_merges, i;
	struct ksm_merge_req *req;
	struct ksm_pending *p;

	if (!n)
		return;
	b->nr_merges = 0;
	for (i = 0; i < n; i++) {
		req = &b->merge[i];
		p = &b->pending[i];
		req->err = -EBUSY;
		p->locked = false;
		p->tried = false;
		if (!ksm_kpage_locked(b, i)) {
			/*
			 * A KSM page locked by another task (migration,
			 * reclaim) is left for the next visit: waiting for its
			 * lock with a reference held would fail a migration
			 * that holds it, attempt after attempt.
			 */
			if (!trylock_page(req->kpage))
				continue;
			p->locked = true;
		}
		p->tried = true;
		/* The room left once the merges before it are made. */
		if (READ_ONCE(p->node->kpfn) == page_to_pfn(req->kpage) &&
		    p->node->nr_items + ksm_merges_into(b, i, p->node) <
		    READ_ONCE(ksm_max_page_sharing))
			req->err = 0;
	}
	ksm_merge_many(b->vma, b->merge, n);
	for (i = 0; i < n; i++) {
		req = &b->merge[i];
		p = &b->pending[i];
		if (!req->err)
			ksm_stable_link(p->item, p->node, b->vma->anon_vma);
		if (p->tried)
			trace_ksm_merge_with_ksm_page(req->kpage,
						      page_to_pfn(req->kpage),
						      p->item, p->item->mm,
						      req->err);
	}
	for (i = 0; i < n; i++)
		if (b->pending[i].locked)
			unlock_page(b->merge[i].kpage);
	for (i = 0; i < n; i++) {
		req = &b->merge[i];
		p = &b->pending[i];
		put_page(req->kpage);
		/* Tried and failed: on to the unstable table. */
		if (p->tried && req->err)
			ksm_cmp_unstable(b, req->page, p->item, step,
					 p->fresh);
		put_page(req->page);
	}
}

/* Is a merge into the KSM page of @node waiting in @b? */
static bool ksm_merge_queued(const struct ksm_batch *b,
			     const struct ksm_stable_node *node)
{
	unsigned int i;

	for (i = 0; i < b->nr_merges; i++)
		if (b->pending[i].node == node)
			return true;
	return false;
}

/*
 * Note a merge of page @i of @b into @kpage (referenced) of @node, for
 * ksm_merge_pending(), which then holds both references: the page's until
 * the merge is made, and only that one, as a merge expects.  When @node
 * has no room for one more once the merges waiting are counted, they are
 * made first; false, with @kpage's reference dropped, if it has none left
 * then: the caller searches again, as the visit would have found it full.
 */
static bool ksm_merge_later(struct ksm_batch *b, unsigned int i,
			    const struct ksm_step *step, struct page *kpage,
			    struct ksm_rmap_item *item,
			    struct ksm_stable_node *node, bool fresh)
{
	unsigned int n;

	if (b->nr_merges == KSM_MERGE_MAX ||
	    node->nr_items + ksm_merges_into(b, b->nr_merges, node) >=
	    READ_ONCE(ksm_max_page_sharing))
		ksm_merge_pending(b, step);
	if (node->nr_items >= READ_ONCE(ksm_max_page_sharing)) {
		put_page(kpage);
		return false;
	}
	n = b->nr_merges++;
	b->merge[n].addr = b->addr[i];
	b->merge[n].page = b->page[i];
	b->merge[n].kpage = kpage;
	b->merge[n].err = 0;
	b->pending[n].item = item;
	b->pending[n].node = node;
	b->pending[n].fresh = fresh;
	b->page[i] = NULL;
	return true;
}

/*
 * Does stable @item, whose address maps the KSM page of its node, still
 * fit the mapping: through the anon_vma of @vma?  A KSM page swapped out
 * at the address of an area since unmapped can come back there, from the
 * swap cache, through another area moved onto it (mremap): the item would
 * then name an anon_vma that covers nothing, and an rmap walk of the page
 * would miss the pte, which no migration or reclaim could then take away.
 * The item is linked again, through the area's anon_vma.
 */
static bool ksm_item_fits(const struct ksm_rmap_item *item,
			  const struct vm_area_struct *vma)
{
	return item->anon_vma == vma->anon_vma;
}

/*
 * A page whose content changed since the last visit is volatile: it is left
 * alone until a visit finds it unchanged, without searching either tree.  A
 * fresh item (new, or just off a stable node) has no history to judge by:
 * its page is searched for at once, so memory registered with its data in
 * place merges in one pass; it stays fresh until the page merges or is
 * found unique.  Merging compares the write-protected contents, whatever
 * the hashes said.
 *
 * The change test is the whole checksum, which the search needs anyway;
 * after a visit that found a change, the sample first (a page that changes
 * all over costs the hash of an eighth of its bytes), then the checksum: a
 * change the sample misses is a change all the same.  The checksum is of
 * the content the sample was taken of, unless old_sum says it is older
 * (the sample found the change, and no checksum was taken): then an
 * unchanged sample is enough.  So a page that changes now inside the
 * sample, now outside, may reach the unstable table a visit in three or
 * so, where the merge's compare of the contents tells it apart.  The
 * sample stays right for ksm_pass_over() while the checksum does not
 * change.  A fresh item takes its sample when it gets its age: a page that
 * merges at once never needs one.
 *
 * Has @page, mapped by the unstable @item, changed since the last visit?
 * If not, *@checksum is its checksum.  ksm_mutex held.
 */
static bool ksm_page_changed(struct ksm_rmap_item *item, struct page *page,
			     u32 *checksum)
{
	bool changed = false;
	u32 sum, sample;

	if (item->address & KSM_ITEM_FRESH) {
		item->age = 0;
		item->skips = 0;
		sum = ksm_calc_checksum(page);
	} else if (item->age) {
		sum = ksm_calc_checksum(page);
		changed = sum != item->checksum;
		if (changed) {
			ksm_unstable_leave(item);
			item->sample = ksm_calc_sample(page);
			item->age = 0;
			item->skips = 0;
		}
	} else {
		/*
		 * No age: changed at the last look (or in ksm_pass_over()),
		 * or a match that did not merge.  Out of the table, if in.
		 */
		ksm_unstable_leave(item);
		sample = ksm_calc_sample(page);
		if (item->sample != sample) {
			item->sample = sample;
			item->old_sum = 1;
			return true;
		}
		sum = ksm_calc_checksum(page);
		changed = !item->old_sum && sum != item->checksum;
	}
	item->checksum = sum;
	item->old_sum = 0;
	*checksum = sum;
	return changed;
}

/*
 * Offer page @i of @b, mapped by @item, for merging with pages of the
 * merge domain of @step's mm.  A merge into a KSM page is made with the
 * others of the batch, by ksm_merge_pending().
 */
static void ksm_cmp_and_merge(struct ksm_batch *b, unsigned int i,
			      struct ksm_rmap_item *item,
			      const struct ksm_step *step)
{
	struct vm_area_struct *vma = b->vma;
	unsigned long addr = b->addr[i];
	struct page *page = b->page[i];
	u64 domain = step->domain;
	struct ksm_stable_node *node;
	struct page *kpage;
	u32 checksum;
	bool fresh;

	/*
	 * KSM_DOMAIN_UNKNOWN: the mm's owner has gone, and its domain with it,
	 * until the mm goes too.  Its mappings stay as they are, merged or
	 * not: unsharing them as if the mm had left its domain would only make
	 * copies (charged to the root memory cgroup) for an address space that
	 * is going away.  An item whose page is no longer its KSM page (a
	 * write through /proc/PID/mem broke it, say) still comes off its node.
	 */
	if (item->address & KSM_ITEM_STABLE) {
		if (PageKsm(page) && ksm_folio_node(page_folio(page)) ==
		    item->head && ksm_item_fits(item, vma)) {
			if (domain == KSM_DOMAIN_UNKNOWN)
				return;
			/* Room is counted, and KSM pages locked, without. */
			ksm_merge_pending(b, step);
			if (item->head->domain != domain) {
				ksm_leave_domain(vma, addr, page, item);
				return;
			}
			/* Still merged: into the best KSM page there is? */
			ksm_move_to_better_dup(vma, page, item);
			return;
		}
		/* It may wait for the lock of a KSM page held for a merge. */
		if (ksm_merge_queued(b, item->head))
			ksm_merge_pending(b, step);
		ksm_stable_unlink(item);
	}

	/*
	 * An item in the unstable table stays there if its page is found
	 * unchanged (ksm_unstable_revisit()), and leaves it on every other way
	 * out of this visit.
	 */
	if (domain == KSM_DOMAIN_UNKNOWN) {
		ksm_unstable_leave(item);
		return;
	}
	/* A KSM page mapped here by fork, or by a merge we did not see. */
	if (PageKsm(page)) {
		ksm_unstable_leave(item);
		/* A link takes room the merges waiting may have counted on. */
		ksm_merge_pending(b, step);
		ksm_link_existing(vma, page, item, domain);
		return;
	}
	/* Not dumpable, under "user": nothing to merge with. */
	if (domain == KSM_NO_DOMAIN) {
		ksm_unstable_leave(item);
		return;
	}

	fresh = item->address & KSM_ITEM_FRESH;
	if (ksm_page_changed(item, page, &checksum))
		return;
	if (ksm_try_zero(vma, addr, page, item, checksum, step))
		return;

	do {
		kpage = ksm_stable_search(page, checksum, domain, &node);
		if (!kpage || !node)
			break;
		/* Out of the table before other merges are made. */
		ksm_unstable_leave(item);
		ksm_not_unique(item);
	} while (!ksm_merge_later(b, i, step, kpage, item, node, fresh));
	if (node)
		return;
	/* None, or every KSM page of the content full: a twin may pair. */
	if (kpage)
		put_page(kpage);
	ksm_cmp_unstable(b, page, item, step, fresh);
}

/*
 * The bounds of a step.  Whatever pages_to_scan says, a step looks at no
 * more than KSM_STEP_WORK pages, frees no more than that many rmap items,
 * walks no more than that many spans of KSM_WALK_SPAN of address space and
 * passes over no more than that many runs of KSM_VMA_SKIP areas that KSM
 * cannot use (one unit of its quota each), and it ends early, after its
 * first page, when another task waits for either lock (a writer of the
 * mmap_lock once the step has had its share of it, see ksm_step_yield()):
 * once it has made the merges into KSM pages that its last batch found,
 * KSM_MERGE_MAX at most.
 */
#define KSM_STEP_WORK	64
#define KSM_WALK_SPAN	(32UL << 20)
#define KSM_VMA_SKIP	64

/*
 * A step that waited for the mmap_lock of its mm keeps it against that
 * mm's writers, within its bounds, for an eighth of that wait: see
 * ksm_step_yield().
 */
#define KSM_HOLD_SHARE	8

/*
 * Should the step end before its next page: does another task wait for a
 * lock ksmd holds, or for its CPU?  ksmd reschedules only once it has let
 * go of both locks: a waiter must not wait for ksmd to get a CPU back.
 *
 * A waiter for ksm_mutex (another process's exit or madvise) ends the
 * step at once.  A writer of the mm's own mmap_lock ends it only once
 * @step has had its share of that lock, hold_until.  A process whose
 * threads keep its mmap_lock wanted (mmap and munmap in a loop) would
 * otherwise get ksmd to let go after every page, and to wait for the lock
 * again each time: a few pages a tick, for the scan of every mm behind it.
 * Holding for a share of the wait, ksmd still leaves the lock to the
 * process most of the time, and its steps stay within KSM_STEP_WORK
 * pages: no writer waits longer than it would for a step that nobody
 * interrupted.
 */
static bool ksm_step_yield(const struct ksm_step *step, struct mm_struct *mm)
{
	if (need_resched() || ksm_lock_wanted())
		return true;
	if (!mmap_lock_is_contended(mm))
		return false;
	return ktime_get_ns() >= step->hold_until;
}

/* Stable nodes swept in one step of the end of a pass. */
#define KSM_SWEEP_WORK	64

/*
 * The end of a pass: sweep every stable node and take the items off the
 * dead ones, a step at a time, then count the pass.  ksm_pass_mutex is
 * held throughout, so that a reader of full_scans never sees a pass
 * counted by a sweep that started before it read (see sysfs.c).
 */
static void ksm_end_pass(void)
{
	bool done, counted = false;

	mutex_lock(&ksm_pass_mutex);
	/*
	 * A KSM page held only by a per-cpu LRU batch is freed now, so that
	 * the sweep finds its node stale: after a reader's look at
	 * full_scans, which waits for ksm_pass_mutex.
	 */
	lru_add_drain_all();
	ksm_lock_last();
	/* run = 2 may have started the scan over meanwhile. */
	done = !ksm_scan.ending;
	if (!done)
		ksm_sweep_start();
	while (!done) {
		done = ksm_sweep_some(KSM_SWEEP_WORK) &&
		       ksm_drain_dead(KSM_DRAIN_BATCH);
		if (!done)
			ksm_lock_break();
	}
	if (ksm_scan.ending) {
		trace_ksm_stop_scan(ksm_full_scans, ksm_rmap_items);
		WRITE_ONCE(ksm_scan.ending, false);
		WRITE_ONCE(ksm_full_scans, ksm_full_scans + 1);
		counted = true;
	}
	mutex_unlock(&ksm_mutex);
	mutex_unlock(&ksm_pass_mutex);
	if (counted)
		ksm_advisor_end_pass();
}

/*
 * Is @item still merged into the KSM page of @node, which the walk found
 * mapped at its address in @vma (ksm_mutex, held since, keeps the node),
 * with nothing to do: of the step's domain, and in no dup that should
 * move?
 */
static bool ksm_still_merged(struct ksm_rmap_item *item,
			     struct ksm_stable_node *node,
			     struct vm_area_struct *vma, u64 domain)
{
	struct ksm_stable_node *room;
	struct page *kpage;

	if (!(item->address & KSM_ITEM_STABLE) || item->head != node ||
	    !ksm_item_fits(item, vma) || node->domain != domain)
		return false;
	/* Only a dup of a chain may have a better one. */
	if (node->kind != KSM_NODE_DUP)
		return true;
	kpage = ksm_better_dup(node, &room);
	if (!kpage)
		return true;
	put_page(kpage);
	return false;
}

/*
 * Look at page @i of @b: find or make its item, and offer the page for
 * merging.  False if the step's quota ran out on the way (freeing the
 * items of pages gone before it): the cursor is left at the page.
 */
static bool ksm_scan_one(struct ksm_batch *b, unsigned int i,
			 struct ksm_step *step)
{
	unsigned long addr = b->addr[i];
	struct vm_area_struct *vma = b->vma;
	struct ksm_rmap_item *item;
	struct page *page;

	/*
	 * Freeing the items of pages gone may wait for the lock of a KSM page
	 * that a merge waiting holds a reference to: make those first.
	 */
	if (b->nr_merges && ksm_cursor_behind(addr))
		ksm_merge_pending(b, step);
	/*
	 * The page is being migrated, the migration holding its page lock:
	 * it is still mapped here, and still merged if it was.  Freeing its
	 * item, as for a page gone, would take a reference to the KSM page
	 * and wait for its lock, failing the migration on that reference.
	 */
	if (b->migrating[i]) {
		if (!ksm_cursor_keep(addr, &step->quota))
			goto stop;
		goto next;
	}
	if (!b->page[i]) {
		/*
		 * A KSM page whose item is still on its node, as most are
		 * once merged: the visit has nothing to do, and needs no
		 * reference to the page.
		 */
		if (b->node[i]) {
			item = ksm_cursor_peek(addr, &step->quota);
			if (IS_ERR(item))
				goto stop;
			if (item &&
			    ksm_still_merged(item, b->node[i], b->vma,
					     step->domain)) {
				ksm_cursor_pass(item);
				ksm_pages_scanned++;
				goto next;
			}
		}
		/*
		 * A KSM page, or part of a PMD-mapped THP.  If it is not
		 * there now, it may be under migration since the walk: keep
		 * its item, as for a migration entry; were the page gone for
		 * good, the next pass frees the item.
		 */
		page = follow_page(vma, addr, FOLL_GET);
		if (IS_ERR_OR_NULL(page)) {
			if (!ksm_cursor_keep(addr, &step->quota))
				goto stop;
			goto next;
		}
		if (!PageAnon(page)) {
			put_page(page);
			goto next;
		}
		b->page[i] = page;
	}
	item = ksm_cursor_item(addr, &step->quota);
	if (IS_ERR(item))
		goto stop;
	if (item) {
		flush_anon_page(vma, b->page[i], addr);
		flush_dcache_page(b->page[i]);
		if (ksm_pass_over(item, b->page[i])) {
			ksm_pages_skipped++;
		} else {
			b->visiting = i;
			ksm_cmp_and_merge(b, i, item, step);
			b->visiting = KSM_BATCH;
			ksm_pages_scanned++;
		}
	}
next:
	ksm_scan.address = addr + PAGE_SIZE;
	step->pages++;
	if (step->quota)
		step->quota--;
	return true;
stop:
	ksm_scan.address = addr;
	return false;
}

/*
 * The first mergeable area of @mm that ends after the cursor's address, if
 * any; NULL when none is left, with the cursor's address moved past them
 * all (what a step then does in @mm, freeing the items of pages gone, does
 * not walk the areas again).  The areas passed over cost the step's quota
 * (KSM_VMA_SKIP a unit), and the cursor's address moves past them: a
 * process of many areas that are not mergeable is walked once a pass, no
 * more than KSM_STEP_WORK * KSM_VMA_SKIP of them a step.  ERR_PTR(-EAGAIN)
 * when the quota ran out first.
 */
static struct vm_area_struct *ksm_next_vma(struct mm_struct *mm,
					   struct ksm_step *step)
{
	VMA_ITERATOR(vmi, mm, ksm_scan.address);
	struct vm_area_struct *vma;
	unsigned int skipped = 0;

	for_each_vma(vmi, vma) {
		if ((vma->vm_flags & VM_MERGEABLE) && vma->anon_vma)
			return vma;
		if (++skipped < KSM_VMA_SKIP)
			continue;
		skipped = 0;
		ksm_scan.address = vma->vm_end;
		if (!step->quota || !--step->quota)
			return ERR_PTR(-EAGAIN);
	}
	ksm_scan.address = ULONG_MAX;
	return NULL;
}

/*
 * Scan the mm at the cursor, within @step; ksm_mutex and the mm's
 * mmap_lock held.  The cursor moves to the next mm at the end of this one.
 */
static void ksm_scan_mm(struct mm_struct *mm, struct ksm_step *step)
{
	struct ksm_batch *b = &ksm_batch;
	struct vm_area_struct *vma = NULL;
	unsigned long start, end;
	bool more = true;
	unsigned int i;
	int ret;

	lockdep_assert_held(&ksm_mutex);
	mmap_assert_locked(mm);
	while (more && step->quota && step->pages < step->budget &&
	       READ_ONCE(ksm_run) == KSM_RUN_MERGE) {
		if (step->pages && ksm_step_yield(step, mm))
			break;
		/* The mmap_lock is held: the vma of the last walk is current. */
		if (!vma || ksm_scan.address >= vma->vm_end)
			vma = ksm_next_vma(mm, step);
		if (IS_ERR(vma))
			break;
		if (!vma) {
			ksm_cursor_next_mm(&step->quota);
			break;
		}
		start = max(ksm_scan.address, vma->vm_start);
		end = min(start + KSM_WALK_SPAN, vma->vm_end);
		b->vma = vma;
		b->nr = 0;
		b->refs = 0;
		b->visiting = KSM_BATCH;
		b->max = min3(step->budget - step->pages, step->quota,
			      (unsigned int)KSM_BATCH);
		step->quota--;
		ret = walk_page_range_vma(vma, start, end, &ksm_scan_ops, b);
		/*
		 * Each page's reference goes after its visit, unless it waits
		 * for its merge: a page referenced twice could not merge.
		 */
		for (i = 0; i < b->nr; i++) {
			if (more && i && ksm_step_yield(step, mm)) {
				ksm_scan.address = b->addr[i];
				more = false;
			}
			if (more)
				more = ksm_scan_one(b, i, step);
			if (b->page[i]) {
				put_page(b->page[i]);
				b->page[i] = NULL;
			}
		}
		ksm_merge_pending(b, step);
		/* The walk stopped at a full batch, or covered the span. */
		if (more && ret != 1)
			ksm_scan.address = end;
	}
}

/*
 * Tries of ksm_mmap_read_lock() before it queues for the lock, and the
 * sleep before each, in microseconds: together about a tick.
 */
#define KSM_LOCK_TRIES		16
#define KSM_LOCK_SLEEP_US	200

/*
 * Take @mm's mmap_lock for read once a trylock has failed, without taking
 * it from a writer.  A reader that queues (mmap_read_lock()) and finds the
 * lock free takes it even while a woken writer is on its way to it (rwsem's
 * lock stealing); the writer sleeps again.  ksmd would do that at every
 * step while its cursor is in @mm: one page, let go for the writer that
 * waits, steal again, until rwsem hands the lock to the writer, a tick or
 * two later (an munmap or an MADV_UNMERGEABLE took milliseconds).  A
 * trylock fails while a writer holds the lock or waits for it, so ksmd
 * sleeps and tries again, leaving its CPU to the writer; only an mm whose
 * writers keep it for longer than the tries is queued for.
 *
 * Context: no lock held; sleeps.
 */
static void ksm_mmap_read_lock(struct mm_struct *mm)
{
	unsigned int i;

	for (i = 0; i < KSM_LOCK_TRIES; i++) {
		usleep_range(KSM_LOCK_SLEEP_US, 2 * KSM_LOCK_SLEEP_US);
		if (mmap_read_trylock(mm))
			return;
	}
	mmap_read_lock(mm);
}

/*
 * One step of ksmd: lock the mm at the cursor and scan some of it.
 * Returns the pages looked at, or -1 when there is nothing to scan (or
 * KSM is no longer running).
 */
static int ksm_scan_step(unsigned int budget)
{
	struct ksm_step step = { .budget = budget, .quota = KSM_STEP_WORK };
	struct ksm_table_swap swap = {};
	u64 start, now;
	struct ksm_mm_slot *slot;
	struct mm_struct *mm;
	bool reaped = false;

	/* Not for a step that only ends a pass: it would be freed unused. */
	if (READ_ONCE(ksm_run) == KSM_RUN_MERGE && !READ_ONCE(ksm_scan.ending))
		ksm_unstable_prepare(&swap);
	ksm_lock_last();
	/*
	 * run may have changed while we waited for the mutex: run = 2 puts
	 * the cursor back at the list head, and starting a pass now would
	 * leave it in an mm whose exit would then count a full scan.
	 */
	if (READ_ONCE(ksm_run) != KSM_RUN_MERGE) {
		mutex_unlock(&ksm_mutex);
		ksm_unstable_release(&swap);
		return -1;
	}
	if (ksm_scan.ending) {
		mutex_unlock(&ksm_mutex);
		ksm_unstable_release(&swap);
		ksm_end_pass();
		return 0;
	}
	if (ksm_scan.slot == &ksm_mm_head) {
		if (!ksm_cursor_start_pass()) {
			mutex_unlock(&ksm_mutex);
			ksm_unstable_release(&swap);
			return -1;
		}
		ksm_advisor_start_pass();
	}
	ksm_unstable_step(&swap);
	slot = ksm_scan.slot;
	mm = slot->mm;
	/*
	 * The slot's reference may go as soon as the cursor leaves the slot
	 * (an exit frees a slot with no item, ksm_forget_mm()), with the
	 * mmap_lock still to be let go of: the step holds its own.
	 */
	mmgrab(mm);

	/* mmap_lock nests outside ksm_mutex: when busy, wait without it. */
	start = ktime_get_ns();
	if (!mmap_read_trylock(mm)) {
		mutex_unlock(&ksm_mutex);
		ksm_mmap_read_lock(mm);
		ksm_lock();
		/* It exited meanwhile (and its slot may be another's now). */
		if (ksm_scan.slot != slot || slot->mm != mm)
			goto unlock;
	}
	/* An mm that exited: its items go, and its slot if exit left it. */
	if (ksm_test_exit(mm)) {
		reaped = ksm_cursor_leave_exited(&step.quota);
	} else {
		/* Once a step: they walk up the mm's cgroups. */
		step.domain = ksm_mm_domain(mm);
		step.dtag = ksm_domain_tag(step.domain);
		step.zero_ok = ksm_mm_zero_ok(mm);
		now = ktime_get_ns();
		step.hold_until = now + (now - start) / KSM_HOLD_SHARE;
		ksm_scan_mm(mm, &step);
	}
unlock:
	mmap_read_unlock(mm);
	mutex_unlock(&ksm_mutex);
	ksm_unstable_release(&swap);
	if (reaped)
		ksm_free_slot(slot);
	mmdrop(mm);
	return step.pages;
}

/*
 * Scan pages_to_scan pages, step by step, and no further than the end of
 * a pass: what a pass ends with (the sweep of the stable nodes, a drain of
 * every CPU's LRU batches) comes once a wake-up at most, however few pages
 * are registered.  The knob is read again at each step: lowering it ends a
 * long batch at once.
 */
static void ksm_do_scan(void)
{
	unsigned long passes = READ_ONCE(ksm_full_scans);
	unsigned int done = 0, want;
	int n;

	while (READ_ONCE(ksm_run) == KSM_RUN_MERGE &&
	       !kthread_should_stop() && !freezing(current)) {
		want = READ_ONCE(ksm_pages_to_scan);
		if (done >= want)
			break;
		n = ksm_scan_step(want - done);
		if (n < 0 || READ_ONCE(ksm_full_scans) != passes)
			break;
		/* A step that looked at no page costs one. */
		done += max(n, 1);
		cond_resched();
	}
}

/*
 * Is there a pass to scan, or one to end (its last mm may have gone)?  Not
 * with pages_to_scan 0: ksmd would wake for nothing, and with
 * sleep_millisecs 0 spin without ever sleeping or rescheduling.
 */
static bool ksm_should_run(void)
{
	return READ_ONCE(ksm_run) == KSM_RUN_MERGE &&
	       READ_ONCE(ksm_pages_to_scan) &&
	       (!list_empty_careful(&ksm_mm_head.scan_list) ||
		READ_ONCE(ksm_scan.ending));
}

/* Should ksmd stop sleeping: asked to stop, or a knob changed? */
static bool ksm_wake_up_early(bool running, unsigned int ms)
{
	return kthread_should_stop() || ksm_should_run() != running ||
	       ms != READ_ONCE(ksm_sleep_ms);
}

static int ksm_thread_fn(void *unused)
{
	unsigned int ms;
	bool running;

	set_freezable();
	set_user_nice(current, 5);
	while (!kthread_should_stop()) {
		/* A wait of 0 ms does not sleep, nor freeze: freeze here. */
		try_to_freeze();
		running = ksm_should_run();
		if (running)
			ksm_do_scan();
		ms = READ_ONCE(ksm_sleep_ms);
		if (running)
			wait_event_freezable_timeout(ksm_thread_wait,
						     ksm_wake_up_early(true, ms),
						     msecs_to_jiffies(ms));
		else
			wait_event_freezable(ksm_thread_wait,
					     ksm_wake_up_early(false, ms));
	}
	return 0;
}

/* Unmerge one registered mm entirely; a reference to it is held. */
static int ksm_unmerge_mm(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err = 0;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
			continue;
		err = ksm_break_range(vma, vma->vm_start, vma->vm_end);
		if (err)
			break;
	}
	if (!err)
		ksm_forget_range(mm, 0, ULONG_MAX, true);
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
 * Unshare the mappings KSM page @page (locked and referenced) has through
 * @origin (referenced), a batch at a time, as long as batches come back
 * full and the page's mappings go down; let go of both.  The reference is
 * held throughout, the exception to the locking rules' rule 5: it keeps
 * @page the node's page.  A fork of those mms meanwhile can add mappings
 * faster than they go: the page then stays, as with a fork during the
 * unmerge of a registered mm.
 */
static int ksm_unshare_origin(struct page *page, struct anon_vma *origin)
{
	unsigned int i, mapcount = UINT_MAX;
	struct ksm_origin_maps maps;
	int err = 0;

	while (PageKsm(page) && page_mapcount(page) < mapcount) {
		mapcount = page_mapcount(page);
		ksm_origin_mappings(page_folio(page), origin, &maps);
		unlock_page(page);
		for (i = 0; i < maps.nr; i++) {
			if (!err)
				err = ksm_unshare_at(maps.mm[i], maps.addr[i]);
			mmput(maps.mm[i]);
		}
		if (err || maps.nr < KSM_ORIGIN_BATCH)
			goto out;
		lock_page(page);
	}
	unlock_page(page);
out:
	put_page(page);
	put_anon_vma(origin);
	return err;
}

/*
 * run = 2, once every registered mm is unmerged: a KSM page made of a page
 * that a fork had left shared may still be mapped by mms of that fork in
 * areas that ksmd never scanned (ksm_merge_pair()), with no rmap item left.
 * Unshare those mappings too, without ksm_mutex, so that the KSM page goes.
 */
static int ksm_unshare_origins(void)
{
	struct anon_vma *origin;
	struct page *page;
	int err = 0;

	lockdep_assert_held(&ksm_pass_mutex);
	ksm_sweep_start();
	while (!err && ksm_origin_next(&page, &origin)) {
		if (!page) {
			ksm_lock_break();
			continue;
		}
		mutex_unlock(&ksm_mutex);
		err = ksm_unshare_origin(page, origin);
		ksm_lock();
	}
	return err;
}

/*
 * run = 2: unmerge every registered mm.  An mm whose process is exiting
 * is skipped: its pages go with it, not copied first.  Children forked
 * meanwhile are registered after the mms taken so far, so batches are
 * taken until one comes back empty.  The writer is the first the OOM
 * killer picks while it makes copies.
 */
static int ksm_unmerge_all(void)
{
	static unsigned long epoch;
	struct mm_struct **mms = NULL;
	unsigned int max = 0, i;
	int nr, err = 0;

	lockdep_assert_held(&ksm_run_mutex);
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
	/* Once all is unmerged, scanning starts over: full_scans too. */
	ksm_cursor_reset(!err);
	ksm_reap_orphans();
	if (!err)
		err = ksm_unshare_origins();
	ksm_release_unmapped();
	if (!err)
		WRITE_ONCE(ksm_full_scans, 0);
	mutex_unlock(&ksm_mutex);
	mutex_unlock(&ksm_pass_mutex);
	return err;
}

/**
 * ksm_set_run() - start, stop, or unmerge everything and stop
 * @run: KSM_RUN_MERGE, KSM_RUN_STOP or KSM_RUN_UNMERGE
 *
 * Context: ksm_run_mutex held.
 * Return: 0, or the error of run = 2 (-ENOMEM, -ERESTARTSYS, or that of an
 * unmerge), which leaves KSM stopped.
 */
int ksm_set_run(unsigned int run)
{
	int err = 0;

	lockdep_assert_held(&ksm_run_mutex);
	if (run == READ_ONCE(ksm_run))
		return 0;
	ksm_lock();
	WRITE_ONCE(ksm_run, run);
	/* Stopped, ksmd would not come to them: see ksm_forget_mm(). */
	if (run == KSM_RUN_STOP)
		ksm_reap_orphans();
	mutex_unlock(&ksm_mutex);
	if (run == KSM_RUN_UNMERGE) {
		err = ksm_unmerge_all();
		if (err)
			WRITE_ONCE(ksm_run, KSM_RUN_STOP);
	}
	ksm_wake();
	return err;
}

/**
 * ksm_scan_init() - start ksmd
 *
 * Context: boot, from ksm_init().
 * Return: 0, or the error of kthread_create().
 */
int __init ksm_scan_init(void)
{
	struct task_struct *thread;

	thread = kthread_create(ksm_thread_fn, NULL, "ksmd");
	if (IS_ERR(thread)) {
		pr_err("ksm: creating kthread failed\n");
		return PTR_ERR(thread);
	}
	ksm_thread = thread;
	wake_up_process(thread);
	return 0;
}

/**
 * ksm_scan_exit() - stop ksmd
 *
 * Context: boot, when a later step of ksm_init() failed.
 */
void __init ksm_scan_exit(void)
{
	kthread_stop(ksm_thread);
	ksm_thread = NULL;
}

#include "scan-test.h"
