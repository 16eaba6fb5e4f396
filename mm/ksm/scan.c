// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the ksmd thread.  It walks the registered mms round robin, a few
 * pages at a time, and offers each anonymous page of a mergeable area to
 * the stable tree, then (if its content has stayed the same since its last
 * visit) to the unstable table.
 */
#include <linux/debugfs.h>
#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/pagewalk.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/xxhash.h>

#include "ksm.h"

/* Pages collected by one page table walk, processed before the next. */
#define KSM_BATCH	16

struct ksm_batch {
	unsigned int nr;
	unsigned int max;
	unsigned long addr[KSM_BATCH];
	struct page *page[KSM_BATCH];
	struct vm_area_struct *vma[KSM_BATCH];
	bool migrating[KSM_BATCH];	/* a migration entry: keep its item */
};

DEFINE_MUTEX(ksm_mutex);		/* see the locking rules in ksm.h */
DEFINE_MUTEX(ksm_pass_mutex);		/* see the locking rules in ksm.h */
DECLARE_WAIT_QUEUE_HEAD(ksm_thread_wait);
static struct task_struct *ksm_thread;

unsigned long ksm_pages_shared;
unsigned long ksm_pages_sharing;
unsigned long ksm_pages_unshared;
unsigned long ksm_rmap_items;
unsigned long ksm_full_scans;
unsigned long ksm_stable_node_chains;
unsigned long ksm_stable_node_dups;
u32 ksm_zero_checksum;

/*
 * The key of the content checksum, drawn at boot: the checksum decides a
 * page's bucket in the unstable table, and pages made to share one would
 * make every search walk all of them.
 */
static u64 ksm_checksum_key __ro_after_init;

u32 ksm_calc_checksum(struct page *page)
{
	void *addr = kmap_local_page(page);
	u32 sum = (u32)xxhash(addr, PAGE_SIZE, ksm_checksum_key);

	kunmap_local(addr);
	return sum;
}

/*
 * The change test of a visit: a hash of KSM_SAMPLE_CHUNKS pieces of the
 * page spread over it, an eighth of its bytes.  A page rewritten since the
 * last visit is found volatile at that cost instead of a whole-page hash;
 * one changed only outside the sample goes on to the tables, where the
 * merge's own compare of the contents still tells it apart.
 */
#define KSM_SAMPLE_CHUNKS	8
#define KSM_SAMPLE_BYTES	(PAGE_SIZE / 8 / KSM_SAMPLE_CHUNKS)

u32 ksm_calc_sample(struct page *page)
{
	const u8 *addr = kmap_local_page(page);
	u64 sum = 0;
	int i;

	for (i = 0; i < KSM_SAMPLE_CHUNKS; i++)
		sum = xxh64(addr + i * (PAGE_SIZE / KSM_SAMPLE_CHUNKS),
			    KSM_SAMPLE_BYTES, sum);
	kunmap_local(addr);
	return (u32)sum;
}

static void ksm_batch_add(struct ksm_batch *b, struct mm_walk *walk,
			  unsigned long addr, struct page *page, bool migrating)
{
	if (page)
		get_page(page);
	b->addr[b->nr] = addr;
	b->page[b->nr] = page;
	b->vma[b->nr] = walk->vma;
	b->migrating[b->nr] = migrating;
	b->nr++;
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
 * noted by address here; ksm_scan_mm() looks its page up under the lock.
 * So is a page under migration, without a reference: its item must stay,
 * and the page must be left alone (see ksm_scan_mm()).
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
			ksm_batch_add(b, walk, addr, NULL, false);
		return 1;
	}
	if (pmd_trans_unstable(pmd))
		return 0;

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	for (pte = start; addr < end && b->nr < b->max;
	     pte++, addr += PAGE_SIZE) {
		ptent = *pte;
		if (!pte_present(ptent)) {
			if (ksm_pte_migrating(ptent))
				ksm_batch_add(b, walk, addr, NULL, true);
			continue;
		}
		page = vm_normal_page(vma, addr, ptent);
		if (!page || is_zone_device_page(page) || !PageAnon(page))
			continue;
		if (PageTransCompound(page)) {
			if (!b->nr)
				ksm_batch_add(b, walk, addr, page, false);
			full = true;
			break;
		}
		ksm_batch_add(b, walk, addr, page, false);
	}
	pte_unmap_unlock(start, ptl);
	return full || b->nr == b->max;
}

static int ksm_scan_test(unsigned long start, unsigned long end,
			 struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;

	return !(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma;
}

static const struct mm_walk_ops ksm_scan_ops = {
	.pmd_entry = ksm_scan_pmd,
	.test_walk = ksm_scan_test,
};

/* Link @item to the KSM page @page already mapped at its address. */
static void ksm_link_existing(struct vm_area_struct *vma, struct page *page,
			      struct ksm_rmap_item *item)
{
	struct folio *folio = page_folio(page);
	struct ksm_stable_node *node;

	folio_lock(folio);
	/* A write may have replaced it since the walk: link only a mapping. */
	if (follow_page(vma, ksm_item_addr(item), 0) != page)
		goto unlock;
	node = ksm_folio_node(folio);
	if (node && (node->kind == KSM_NODE_PLAIN ||
		     node->kind == KSM_NODE_DUP) &&
	    READ_ONCE(node->kpfn) == folio_pfn(folio))
		ksm_stable_link(item, node, vma->anon_vma);
unlock:
	folio_unlock(folio);
}

/*
 * @page is the KSM page of @item's dup: move the mapping to a dup of its
 * chain made earlier, if one has room.  So the mappings of a content
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
	lock_page(kpage);
	if (READ_ONCE(room->kpfn) == page_to_pfn(kpage) &&
	    room->nr_items < ksm_max_page_sharing)
		ksm_merge_move(item, vma, page, kpage, room);
	unlock_page(kpage);
	put_page(kpage);
}

/* Offer @page, mapped by @item at @addr of @vma, for merging. */
static void ksm_cmp_and_merge(struct vm_area_struct *vma, unsigned long addr,
			      struct page *page, struct ksm_rmap_item *item)
{
	struct ksm_rmap_item *titem;
	struct ksm_stable_node *node;
	struct page *kpage, *tpage;
	u32 checksum, sample;
	int err;

	if (item->address & KSM_ITEM_STABLE) {
		if (PageKsm(page) && ksm_folio_node(page_folio(page)) ==
		    item->head) {
			/* Still merged: into the best KSM page there is? */
			ksm_move_to_better_dup(vma, page, item);
			return;
		}
		ksm_stable_unlink(item);
	} else if (item->address & KSM_ITEM_UNSTABLE) {
		ksm_unstable_remove(item);
	}

	/* A KSM page mapped here by fork, or by a merge we did not see. */
	if (PageKsm(page)) {
		ksm_link_existing(vma, page, item);
		return;
	}

	/*
	 * A page whose content changed since the last visit is volatile: it
	 * is left alone until a visit finds it unchanged, without searching
	 * either tree.  A fresh item (new, or just off a stable node) has no
	 * history to judge by: its page is searched for at once, so memory
	 * registered with its data in place merges in one pass.  Merging
	 * compares the write-protected contents, whatever the sample said.
	 */
	sample = ksm_calc_sample(page);
	if (item->address & KSM_ITEM_FRESH) {
		item->address &= ~KSM_ITEM_FRESH;
	} else if (item->sample != sample) {
		item->sample = sample;
		return;
	}
	item->sample = sample;
	checksum = ksm_calc_checksum(page);
	item->checksum = checksum;

	kpage = ksm_stable_search(page, &node);
	if (kpage) {
		err = -EBUSY;
		if (node) {
			lock_page(kpage);
			if (READ_ONCE(node->kpfn) == page_to_pfn(kpage))
				err = ksm_merge_into(vma, addr, page, kpage);
			if (!err)
				ksm_stable_link(item, node, vma->anon_vma);
			unlock_page(kpage);
		}
		put_page(kpage);
		if (!err)
			return;
	}

	if (READ_ONCE(ksm_use_zero_pages) && checksum == ksm_zero_checksum &&
	    !ksm_merge_zero(vma, addr, page))
		return;

	titem = ksm_unstable_search_insert(item, page, &tpage);
	if (!titem)
		return;
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
	ksm_merge_pair(item, vma, page, titem, tpage);
	put_page(tpage);
}

/**
 * ksm_pass_done() - note that the scan cursor went past the last mm
 *
 * The pass is counted in full_scans once ksmd has swept the stable nodes,
 * see ksm_end_pass().
 *
 * Context: ksm_mutex held.
 */
void ksm_pass_done(void)
{
	lockdep_assert_held(&ksm_mutex);
	WRITE_ONCE(ksm_scan.ending, true);
}

/*
 * One step of ksmd: the work it does under ksm_mutex and one mm's
 * mmap_lock before it lets go of both and reschedules.  Whatever
 * pages_to_scan says, a step looks at no more than KSM_STEP_WORK pages,
 * frees no more than that many rmap items and walks no more than that
 * many spans of KSM_WALK_SPAN of address space (one unit of @quota each),
 * and it ends early, after its first page, when another task waits for
 * either lock.
 */
#define KSM_STEP_WORK	64
#define KSM_WALK_SPAN	(32UL << 20)

struct ksm_step {
	unsigned int budget;	/* pages it may look at */
	unsigned int pages;	/* pages looked at */
	unsigned int quota;	/* work left, see above */
};

static atomic_t ksm_mutex_waiters = ATOMIC_INIT(0);

/**
 * ksm_lock() - take ksm_mutex, letting its holder see the wait
 *
 * Everyone takes ksm_mutex this way: ksmd ends its step at the next page
 * when another task waits, and so does a task freeing many rmap items.
 */
void ksm_lock(void)
{
	atomic_inc(&ksm_mutex_waiters);
	mutex_lock(&ksm_mutex);
	if (atomic_dec_and_test(&ksm_mutex_waiters))
		wake_up_var(&ksm_mutex_waiters);
}

/*
 * Take ksm_mutex after the tasks that wait for it already: once ksmd (or a
 * long job) lets go for a waiter, the waiter takes the mutex first, not
 * ksmd again before the woken waiter gets a CPU.  A stream of waiters
 * delays it by a tick at most.  Not for a holder of an mmap_lock: a
 * writer queued behind it would hold up the faults of that mm.
 */
static void ksm_lock_last(void)
{
	wait_var_event_timeout(&ksm_mutex_waiters,
			       !atomic_read(&ksm_mutex_waiters), 1);
	ksm_lock();
}

/**
 * ksm_lock_break() - let another task go first if it needs to
 *
 * When another task waits for ksm_mutex, or this CPU is wanted, let go of
 * the mutex and reschedule before taking it again: a task that holds
 * ksm_mutex over a long job never makes others wait for it to get a CPU
 * back.  ksmd then takes it after the tasks that wait; any other task,
 * which ksmd should not hold up, as soon as it can.
 *
 * Context: ksm_mutex held; the caller's state must survive its release.
 * Return: true if ksm_mutex was let go of.
 */
bool ksm_lock_break(void)
{
	lockdep_assert_held(&ksm_mutex);
	if (!need_resched() && !atomic_read(&ksm_mutex_waiters))
		return false;
	mutex_unlock(&ksm_mutex);
	cond_resched();
	if (current == ksm_thread)
		ksm_lock_last();
	else
		ksm_lock();
	return true;
}

/*
 * Should the step end before its next page: does another task wait for a
 * lock ksmd holds, or for its CPU?  ksmd reschedules only once it has let
 * go of both locks: a waiter must not wait for ksmd to get a CPU back.
 */
static bool ksm_step_yield(struct mm_struct *mm)
{
	return need_resched() || atomic_read(&ksm_mutex_waiters) ||
	       mmap_lock_is_contended(mm);
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
	bool done;

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
		WRITE_ONCE(ksm_scan.ending, false);
		WRITE_ONCE(ksm_full_scans, ksm_full_scans + 1);
	}
	mutex_unlock(&ksm_mutex);
	mutex_unlock(&ksm_pass_mutex);
}

/*
 * At the end of an mm's scan: trim its list and move on to the next mm.
 * A tail longer than the step's quota is trimmed over several steps: true
 * once the cursor has moved on.
 */
static bool ksm_next_mm(struct ksm_step *step)
{
	struct ksm_mm_slot *next;

	if (!ksm_cursor_trim(&step->quota))
		return false;
	spin_lock(&ksm_slots_lock);
	next = list_next_entry(ksm_scan.slot, scan_list);
	ksm_scan.slot = next;
	spin_unlock(&ksm_slots_lock);
	ksm_scan.address = 0;
	ksm_scan.rmap_link = &next->rmap_list;
	if (next == &ksm_mm_head)
		ksm_pass_done();
	return true;
}

/*
 * Look at page @i of @b: find or make its item, and offer the page for
 * merging.  False if the step's quota ran out on the way (freeing the
 * items of pages gone before it): the cursor is left at the page.
 */
static bool ksm_scan_one(struct ksm_mm_slot *slot, struct ksm_batch *b,
			 unsigned int i, struct ksm_step *step)
{
	unsigned long addr = b->addr[i];
	struct vm_area_struct *vma = b->vma[i];
	struct ksm_rmap_item *item;
	struct page *page;

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
		/* Part of a PMD-mapped THP. */
		page = follow_page(vma, addr, FOLL_GET);
		if (IS_ERR_OR_NULL(page))
			goto next;
		if (!PageAnon(page)) {
			put_page(page);
			goto next;
		}
		b->page[i] = page;
	}
	item = ksm_cursor_item(slot, addr, &step->quota);
	if (IS_ERR(item))
		goto stop;
	if (item) {
		flush_anon_page(vma, b->page[i], addr);
		flush_dcache_page(b->page[i]);
		ksm_cmp_and_merge(vma, addr, b->page[i], item);
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

/* The first mergeable area of @mm that ends after @addr, if any. */
static struct vm_area_struct *ksm_next_vma(struct mm_struct *mm,
					   unsigned long addr)
{
	VMA_ITERATOR(vmi, mm, addr);
	struct vm_area_struct *vma;

	for_each_vma(vmi, vma)
		if ((vma->vm_flags & VM_MERGEABLE) && vma->anon_vma)
			return vma;
	return NULL;
}

/*
 * Scan the mm at the cursor, within @step; ksm_mutex and the mm's
 * mmap_lock held.  The cursor moves to the next mm at the end of this one.
 */
static void ksm_scan_mm(struct ksm_mm_slot *slot, struct ksm_step *step)
{
	struct mm_struct *mm = slot->mm;
	struct vm_area_struct *vma;
	unsigned long start, end;
	struct ksm_batch b;
	bool more = true;
	unsigned int i;
	int ret;

	lockdep_assert_held(&ksm_mutex);
	mmap_assert_locked(mm);
	while (more && step->quota && step->pages < step->budget &&
	       READ_ONCE(ksm_run) == KSM_RUN_MERGE) {
		if (step->pages && ksm_step_yield(mm))
			break;
		vma = ksm_next_vma(mm, ksm_scan.address);
		if (!vma) {
			ksm_next_mm(step);
			break;
		}
		start = max(ksm_scan.address, vma->vm_start);
		end = min(start + KSM_WALK_SPAN, vma->vm_end);
		b.nr = 0;
		b.max = min3(step->budget - step->pages, step->quota,
			     (unsigned int)KSM_BATCH);
		step->quota--;
		ret = walk_page_range(mm, start, end, &ksm_scan_ops, &b);
		for (i = 0; i < b.nr; i++) {
			if (more && i && ksm_step_yield(mm)) {
				ksm_scan.address = b.addr[i];
				more = false;
			}
			if (more)
				more = ksm_scan_one(slot, &b, i, step);
			if (b.page[i])
				put_page(b.page[i]);
		}
		/* The walk stopped at a full batch, or covered the span. */
		if (more && ret != 1)
			ksm_scan.address = end;
	}
}

/*
 * One step of ksmd: lock the mm at the cursor and scan some of it.
 * Returns the pages looked at, or -1 when there is nothing to scan (or
 * KSM is no longer running).
 */
static int ksm_scan_step(unsigned int budget)
{
	struct ksm_step step = { .budget = budget, .quota = KSM_STEP_WORK };
	struct ksm_mm_slot *slot;
	struct mm_struct *mm;
	bool pinned = false, reaped = false;

	ksm_lock_last();
	/*
	 * run may have changed while we waited for the mutex: run = 2 puts
	 * the cursor back at the list head, and starting a pass now would
	 * leave it in an mm whose exit would then count a full scan.
	 */
	if (READ_ONCE(ksm_run) != KSM_RUN_MERGE) {
		mutex_unlock(&ksm_mutex);
		return -1;
	}
	if (ksm_scan.ending) {
		mutex_unlock(&ksm_mutex);
		ksm_end_pass();
		return 0;
	}
	if (ksm_scan.slot == &ksm_mm_head) {
		spin_lock(&ksm_slots_lock);
		if (list_empty(&ksm_mm_head.scan_list)) {
			spin_unlock(&ksm_slots_lock);
			mutex_unlock(&ksm_mutex);
			return -1;
		}
		slot = list_first_entry(&ksm_mm_head.scan_list,
					struct ksm_mm_slot, scan_list);
		ksm_scan.slot = slot;
		spin_unlock(&ksm_slots_lock);
		ksm_scan.address = 0;
		ksm_scan.rmap_link = &slot->rmap_list;
		ksm_scan.seqnr++;
	}
	ksm_unstable_step();
	slot = ksm_scan.slot;
	mm = slot->mm;

	/* mmap_lock nests outside ksm_mutex: when busy, wait without it. */
	if (!mmap_read_trylock(mm)) {
		mmgrab(mm);
		pinned = true;
		mutex_unlock(&ksm_mutex);
		mmap_read_lock(mm);
		ksm_lock();
		/* It exited meanwhile (and its slot may be another's now). */
		if (ksm_scan.slot != slot || slot->mm != mm)
			goto unlock;
	}
	/* An mm that exited: its items go, and its slot if exit left it. */
	if (ksm_test_exit(mm))
		reaped = ksm_next_mm(&step) && ksm_reap_slot(slot);
	else
		ksm_scan_mm(slot, &step);
unlock:
	mmap_read_unlock(mm);
	mutex_unlock(&ksm_mutex);
	if (reaped)
		ksm_free_slot(slot);
	if (pinned)
		mmdrop(mm);
	return step.pages;
}

/*
 * Scan pages_to_scan pages, step by step.  The knob is read again at each
 * step: lowering it ends a long batch at once.
 */
static void ksm_do_scan(void)
{
	unsigned int done = 0, want;
	int n;

	while (READ_ONCE(ksm_run) == KSM_RUN_MERGE &&
	       !kthread_should_stop() && !freezing(current)) {
		want = READ_ONCE(ksm_pages_to_scan);
		if (done >= want)
			break;
		n = ksm_scan_step(want - done);
		if (n < 0)
			break;
		/* A step that looked at no page costs one. */
		done += max(n, 1);
		cond_resched();
	}
}

/* Is there a pass to scan, or one to end (its last mm may have gone)? */
static bool ksm_should_run(void)
{
	return READ_ONCE(ksm_run) == KSM_RUN_MERGE &&
	       (!list_empty_careful(&ksm_mm_head.scan_list) ||
		READ_ONCE(ksm_scan.ending));
}

void ksm_wake(void)
{
	wake_up_interruptible(&ksm_thread_wait);
}

/* Should ksmd stop sleeping: asked to stop, or run/sleep changed? */
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

#if defined(CONFIG_DEBUG_FS) && defined(CONFIG_DEBUG_VM)
/*
 * Debug kernels only, for tests that play an attacker who knows the key:
 * /sys/kernel/debug/ksm/checksum_key and unstable_bits (root only).
 */
static void __init ksm_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("ksm", NULL);

	debugfs_create_x64("checksum_key", 0400, dir, &ksm_checksum_key);
	ksm_unstable_debugfs(dir);
}
#else
static inline void ksm_debugfs_init(void)
{
}
#endif

int __init ksm_scan_init(void)
{
	struct page *zero = ZERO_PAGE(0);

	ksm_checksum_key = get_random_u64();
	ksm_zero_checksum = ksm_calc_checksum(zero);
	ksm_debugfs_init();
	ksm_thread = kthread_run(ksm_thread_fn, NULL, "ksmd");
	if (IS_ERR(ksm_thread)) {
		pr_err("ksm: creating kthread failed\n");
		return PTR_ERR(ksm_thread);
	}
	return 0;
}
