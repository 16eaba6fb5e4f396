/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of cursor.c: the rmap item list of an mm as the scan
 * cursor makes, keeps, skips and trims it, and as exit and madvise forget
 * it, with the counters.  They use a slot of their own for a fake mm,
 * at boot, before any process can register one: ksmd is stopped (run 0)
 * and the slot list is empty, or the tests are skipped (which the lab
 * reports as a failure).
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_CURSOR_TEST_H
#define _MM_KSM_CURSOR_TEST_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>

/*
 * A fake mm registered with KSM, behind the others; mm_count keeps it from
 * ever being freed.  *@first is set if it is the only one.
 */
static struct mm_struct *ksm_test_add_mm(struct kunit *test, bool *first)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, mm);
	atomic_set(&mm->mm_count, 1);
	mmap_init_lock(mm);
	KUNIT_ASSERT_EQ(test, ksm_cursor_add_mm(mm, first), 0);
	return mm;
}

/* The first fake mm of a test, with ksmd stopped and no mm registered. */
static struct mm_struct *ksm_test_mm(struct kunit *test)
{
	struct mm_struct *mm;
	bool first;

	if (READ_ONCE(ksm_run) != KSM_RUN_STOP ||
	    !list_empty_careful(&ksm_mm_head.scan_list))
		kunit_skip(test, "KSM is in use: run %u", ksm_run);
	mm = ksm_test_add_mm(test, &first);
	KUNIT_EXPECT_TRUE(test, first);
	return mm;
}

/* The addresses of @mm's items, in list order, in @addrs; how many. */
static unsigned int ksm_test_items(struct mm_struct *mm, unsigned long *addrs,
				   unsigned int max)
{
	struct ksm_mm_slot *slot = ksm_find_slot(mm);
	struct ksm_rmap_item *item;
	unsigned int n = 0;

	for (item = slot->rmap_list; item && n < max; item = item->next)
		addrs[n++] = ksm_item_addr(item);
	return n;
}

/* Expect @mm's items at exactly the @n addresses @want, in that order. */
static void ksm_test_expect(struct kunit *test, struct mm_struct *mm,
			    const unsigned long *want, unsigned int n)
{
	unsigned long got[16];
	unsigned int i, nr;

	nr = ksm_test_items(mm, got, ARRAY_SIZE(got));
	KUNIT_EXPECT_EQ(test, nr, n);
	for (i = 0; i < nr && i < n; i++)
		KUNIT_EXPECT_EQ(test, got[i], want[i]);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, (unsigned long)nr);
}

#define KSM_TEST_ITEMS(test, mm, ...)					\
	ksm_test_expect(test, mm, (const unsigned long[]){ __VA_ARGS__ }, \
			sizeof((const unsigned long[]){ __VA_ARGS__ }) /	\
			sizeof(unsigned long))

/* Make items at the cursor for @addrs, in a new pass. */
static void ksm_test_visit(struct kunit *test, const unsigned long *addrs,
			   unsigned int n)
{
	struct ksm_rmap_item *item;
	unsigned int quota = 64, i;

	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	for (i = 0; i < n; i++) {
		item = ksm_cursor_item(addrs[i], &quota);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(item));
		KUNIT_EXPECT_EQ(test, ksm_item_addr(item), addrs[i]);
	}
}

static void ksm_test_cursor(struct kunit *test)
{
	static const unsigned long addrs[] = { 0x1000, 0x3000, 0x5000 };
	struct mm_struct *mm = ksm_test_mm(test);
	unsigned long base = ksm_rmap_items;
	struct ksm_rmap_item *item, *five;
	unsigned int quota;

	ksm_lock();
	/* New items, in address order, fresh. */
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	KSM_TEST_ITEMS(test, mm, 0x1000, 0x3000, 0x5000);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base + 3);
	five = ksm_find_slot(mm)->rmap_list->next->next;
	KUNIT_EXPECT_TRUE(test, five->address & KSM_ITEM_FRESH);

	/* The next pass finds 0x5000 first: the items passed go, by quota. */
	quota = 8;
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	quota = 1;
	item = ksm_cursor_item(0x5000, &quota);
	KUNIT_EXPECT_TRUE(test, IS_ERR(item) && PTR_ERR(item) == -EAGAIN);
	KUNIT_EXPECT_EQ(test, quota, 0U);
	KSM_TEST_ITEMS(test, mm, 0x3000, 0x5000);
	quota = 5;
	item = ksm_cursor_item(0x5000, &quota);
	KUNIT_EXPECT_PTR_EQ(test, item, five);
	KUNIT_EXPECT_EQ(test, quota, 4U);
	KSM_TEST_ITEMS(test, mm, 0x5000);

	/* New items go in order behind and before the cursor. */
	quota = 5;
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(ksm_cursor_item(0x7000,
								&quota)));
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(ksm_cursor_item(0x8000,
								&quota)));
	KSM_TEST_ITEMS(test, mm, 0x5000, 0x7000, 0x8000);

	/* A page under migration keeps its item; the tail is trimmed. */
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	quota = 5;
	KUNIT_EXPECT_TRUE(test, ksm_cursor_keep(0x5000, &quota));
	KUNIT_EXPECT_EQ(test, quota, 5U);
	quota = 1;
	KUNIT_EXPECT_FALSE(test, ksm_cursor_next_mm(&quota));
	KSM_TEST_ITEMS(test, mm, 0x5000, 0x8000);
	quota = 1;
	KUNIT_EXPECT_TRUE(test, ksm_cursor_next_mm(&quota));
	KSM_TEST_ITEMS(test, mm, 0x5000);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base + 1);
	/* Past the last mm: the pass is over. */
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot, &ksm_mm_head);
	KUNIT_EXPECT_TRUE(test, ksm_scan.ending);
	ksm_cursor_reset(true);
	KUNIT_EXPECT_FALSE(test, ksm_scan.ending);
	mutex_unlock(&ksm_mutex);

	ksm_forget_mm(mm);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, 0UL);
	KUNIT_EXPECT_PTR_EQ(test, ksm_find_slot(mm), NULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&ksm_mm_head.scan_list));
}

/* The slots of the list, from the first, in @mms; how many. */
static unsigned int ksm_test_slots(struct mm_struct **mms, unsigned int max)
{
	struct ksm_mm_slot *slot;
	unsigned int n = 0;

	spin_lock(&ksm_slots_lock);
	list_for_each_entry(slot, &ksm_mm_head.scan_list, scan_list)
		if (n < max)
			mms[n++] = slot->mm;
	spin_unlock(&ksm_slots_lock);
	return n;
}

/*
 * A new mm joins just behind the cursor: it is first scanned in the next
 * pass, so that a stream of forks cannot keep a pass from ending.
 */
static void ksm_test_add_behind(struct kunit *test)
{
	struct mm_struct *a = ksm_test_mm(test), *b, *c, *got[4];
	unsigned int quota = 8;
	bool first;

	b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, c);
	atomic_set(&b->mm_count, 1);
	atomic_set(&c->mm_count, 1);

	/* Between passes, the cursor past the last mm: at the tail. */
	KUNIT_ASSERT_EQ(test, ksm_cursor_add_mm(b, &first), 0);
	KUNIT_EXPECT_FALSE(test, first);
	KUNIT_ASSERT_EQ(test, ksm_test_slots(got, 4), 2U);
	KUNIT_EXPECT_PTR_EQ(test, got[0], a);
	KUNIT_EXPECT_PTR_EQ(test, got[1], b);

	/* In a pass, the cursor on b: between a, scanned, and b. */
	ksm_lock();
	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot->mm, b);
	mutex_unlock(&ksm_mutex);
	KUNIT_ASSERT_EQ(test, ksm_cursor_add_mm(c, &first), 0);
	KUNIT_ASSERT_EQ(test, ksm_test_slots(got, 4), 3U);
	KUNIT_EXPECT_PTR_EQ(test, got[0], a);
	KUNIT_EXPECT_PTR_EQ(test, got[1], c);
	KUNIT_EXPECT_PTR_EQ(test, got[2], b);

	/* After b, the pass is over: c waits for the next. */
	ksm_lock();
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot, &ksm_mm_head);
	KUNIT_EXPECT_TRUE(test, ksm_scan.ending);
	ksm_cursor_reset(true);
	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot->mm, a);
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot->mm, c);
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);

	ksm_forget_mm(a);
	ksm_forget_mm(b);
	ksm_forget_mm(c);
	KUNIT_EXPECT_TRUE(test, list_empty(&ksm_mm_head.scan_list));
}

/*
 * run reads 1 between these two, with the end of a pass pending and
 * ksm_pass_mutex held: see ksm_test_exit_orphan().
 */
static void ksm_test_run_begin(void)
{
	mutex_lock(&ksm_run_mutex);
	mutex_lock(&ksm_pass_mutex);
	ksm_lock();
	WRITE_ONCE(ksm_scan.ending, true);
	WRITE_ONCE(ksm_run, KSM_RUN_MERGE);
	mutex_unlock(&ksm_mutex);
}

static void ksm_test_run_end(void)
{
	ksm_lock();
	WRITE_ONCE(ksm_run, KSM_RUN_STOP);
	WRITE_ONCE(ksm_scan.ending, false);
	mutex_unlock(&ksm_mutex);
	mutex_unlock(&ksm_pass_mutex);
	mutex_unlock(&ksm_run_mutex);
}

/* madvise and exit forget items while the cursor is among them. */
static void ksm_test_forget(struct kunit *test)
{
	static const unsigned long addrs[] = {
		0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000,
	};
	struct mm_struct *mm = ksm_test_mm(test);
	unsigned long base = ksm_rmap_items;
	struct ksm_rmap_item *six;
	unsigned int quota = 8;

	ksm_lock();
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	/* The cursor just past 0x5000, whose item is about to go. */
	ksm_test_visit(test, addrs, 5);
	six = ksm_find_slot(mm)->rmap_list;
	while (ksm_item_addr(six) != 0x6000)
		six = six->next;
	mutex_unlock(&ksm_mutex);

	/* Its process lives: a user for it, one for run = 2 (or madvise). */
	atomic_set(&mm->mm_users, 2);
	/*
	 * madvise of an mm with no merged page, ksmd running: ksmd frees
	 * them later.
	 */
	ksm_test_run_begin();
	ksm_forget_range(mm, 0x3000, 0x6000, false);
	ksm_test_run_end();
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base + 7);
	/* ksmd stopped, no scan would come: at once. */
	ksm_forget_range(mm, 0x3000, 0x4000, false);
	KSM_TEST_ITEMS(test, mm, 0x1000, 0x2000, 0x4000, 0x5000, 0x6000,
		       0x7000);
	/* With a merged page, ksmd running: at once too. */
	ksm_test_run_begin();
	mm->ksm_merging_pages = 1;
	ksm_forget_range(mm, 0x4000, 0x5000, false);
	mm->ksm_merging_pages = 0;
	ksm_test_run_end();
	KSM_TEST_ITEMS(test, mm, 0x1000, 0x2000, 0x5000, 0x6000, 0x7000);
	/* For run = 2: at once. */
	ksm_forget_range(mm, 0x3000, 0x6000, true);
	KSM_TEST_ITEMS(test, mm, 0x1000, 0x2000, 0x6000, 0x7000);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base + 4);
	/* Killed meanwhile, run = 2's user the last: the exit frees them. */
	atomic_set(&mm->mm_users, 1);
	ksm_forget_range(mm, 0x1000, 0x3000, true);
	KSM_TEST_ITEMS(test, mm, 0x1000, 0x2000, 0x6000, 0x7000);
	atomic_set(&mm->mm_users, 0);

	/* The cursor still finds the next item, instead of a new one. */
	ksm_lock();
	quota = 8;
	KUNIT_EXPECT_PTR_EQ(test, ksm_cursor_item(0x6000, &quota), six);
	KUNIT_EXPECT_EQ(test, quota, 8U);
	mutex_unlock(&ksm_mutex);
	KSM_TEST_ITEMS(test, mm, 0x1000, 0x2000, 0x6000, 0x7000);

	/* Exit, with the cursor in the mm: the pass ends there. */
	ksm_forget_mm(mm);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	KUNIT_EXPECT_PTR_EQ(test, ksm_find_slot(mm), NULL);
	ksm_lock();
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot, &ksm_mm_head);
	KUNIT_EXPECT_TRUE(test, ksm_scan.ending);
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);
}

/*
 * Expect the exit of @mm to have freed its slot and items (ksm_rmap_items
 * back at @base).  A slot left as an orphan is reaped, for the tests that
 * follow.
 */
static void ksm_test_expect_freed(struct kunit *test, struct mm_struct *mm,
				  unsigned long base)
{
	struct ksm_mm_slot *slot = ksm_find_slot(mm);

	KUNIT_EXPECT_PTR_EQ(test, slot, NULL);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	if (slot) {
		ksm_lock();
		ksm_reap_orphans();
		mutex_unlock(&ksm_mutex);
	}
}

/*
 * The exit of @mm, which has items but no merged page, with run reading 1
 * and the cursor elsewhere: its slot must be left as an orphan.
 */
static struct ksm_mm_slot *ksm_test_orphan(struct kunit *test,
					   struct mm_struct *mm)
{
	struct ksm_mm_slot *slot = ksm_find_slot(mm);

	KUNIT_ASSERT_NOT_NULL(test, slot);
	ksm_test_run_begin();
	ksm_forget_mm(mm);
	ksm_test_run_end();
	/* Had it been freed, reading the slot would be a use after free. */
	KUNIT_ASSERT_PTR_EQ(test, ksm_find_slot(mm), slot);
	KUNIT_EXPECT_TRUE(test, slot->orphan);
	return slot;
}

/*
 * Exit of an mm with no merged page while ksmd runs, ksmd elsewhere, and
 * ksm_mutex free: the exit leaves the slot to ksmd, items and all, as an
 * orphan, which the reaping of run = 2 (or ksmd's scan) frees.  run reads 1
 * only around the exit, with the end of a pass pending and ksm_pass_mutex
 * held: ksmd, should a wake-up of an earlier test make it look at run
 * then, goes to end the pass before it touches any mm, and waits there for
 * ksm_pass_mutex; then it finds the pass ended and run 0 again.
 */
static void ksm_test_exit_orphan(struct kunit *test)
{
	static const unsigned long addrs[] = { 0x1000, 0x2000, 0x3000 };
	struct mm_struct *mm = ksm_test_mm(test);
	unsigned long base = ksm_rmap_items;

	ksm_lock();
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	/* The cursor back at the list head: ksmd is not in the mm. */
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);

	ksm_test_orphan(test, mm);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base + ARRAY_SIZE(addrs));

	ksm_lock();
	ksm_reap_orphans();
	mutex_unlock(&ksm_mutex);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	KUNIT_EXPECT_PTR_EQ(test, ksm_find_slot(mm), NULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&ksm_mm_head.scan_list));
}

/*
 * As ksm_test_exit_orphan(), for two mms in a row, then ksmd's cursor comes
 * to the first orphan's start (the step before ended at the end of the mm
 * before it) and run is set to 0: both orphans must be reaped all the
 * same, the cursor moved past them, as ksmd's next steps would have.
 */
static void ksm_test_reap_at_cursor(struct kunit *test)
{
	static const unsigned long addrs[] = { 0x1000, 0x2000 };
	struct mm_struct *mm = ksm_test_mm(test), *mm2;
	unsigned long base = ksm_rmap_items;
	struct ksm_mm_slot *slot;
	unsigned int quota = 64, i;
	bool first;

	mm2 = ksm_test_add_mm(test, &first);

	ksm_lock();
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	KUNIT_EXPECT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot, ksm_find_slot(mm2));
	for (i = 0; i < ARRAY_SIZE(addrs); i++)
		KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(ksm_cursor_item(addrs[i],
									&quota)));
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);

	slot = ksm_test_orphan(test, mm);
	ksm_test_orphan(test, mm2);

	ksm_lock();
	spin_lock(&ksm_slots_lock);
	ksm_cursor_set(slot);
	spin_unlock(&ksm_slots_lock);
	ksm_reap_orphans();
	/* The orphans were the last mms: the pass ends. */
	KUNIT_EXPECT_PTR_EQ(test, ksm_scan.slot, &ksm_mm_head);
	KUNIT_EXPECT_TRUE(test, ksm_scan.ending);
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	KUNIT_EXPECT_PTR_EQ(test, ksm_find_slot(mm), NULL);
	KUNIT_EXPECT_PTR_EQ(test, ksm_find_slot(mm2), NULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&ksm_mm_head.scan_list));
}

struct ksm_test_merger {
	struct mm_struct *mm;
	struct completion held;
	struct completion done;
};

/*
 * What ksmd does in ksm_merge_pair() to a page of an mm it is not scanning:
 * that mm's mmap_lock held throughout, a merged page counted at the end.
 */
static int ksm_test_merge_fn(void *arg)
{
	struct ksm_test_merger *m = arg;

	mmap_read_lock(m->mm);
	complete(&m->held);
	msleep(50);
	WRITE_ONCE(m->mm->ksm_merging_pages, 1);
	mmap_read_unlock(m->mm);
	complete(&m->done);
	return 0;
}

/*
 * Exit of an mm with no merged page yet while ksmd, elsewhere, merges one
 * of its pages: the merge began before mm_users fell to 0, so it goes
 * through and counts the page.  The exit must wait for it and free the
 * items itself, not leave them to ksmd in an orphan slot, counted in
 * pages_sharing until ksmd comes to it.  run reads 1 only around the
 * exit, as in ksm_test_exit_orphan().
 */
static void ksm_test_exit_merging(struct kunit *test)
{
	static const unsigned long addrs[] = { 0x1000, 0x2000 };
	struct mm_struct *mm = ksm_test_mm(test);
	struct ksm_test_merger m = { .mm = mm };
	unsigned long base = ksm_rmap_items;
	struct task_struct *merger;

	init_completion(&m.held);
	init_completion(&m.done);
	ksm_lock();
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);

	ksm_test_run_begin();
	merger = kthread_run(ksm_test_merge_fn, &m, "ksm_test_merge");
	if (!IS_ERR(merger)) {
		wait_for_completion(&m.held);
		ksm_forget_mm(mm);
		wait_for_completion(&m.done);
	}
	ksm_test_run_end();
	KUNIT_ASSERT_FALSE(test, IS_ERR(merger));

	ksm_test_expect_freed(test, mm, base);
	mm->ksm_merging_pages = 0;
}

/* Hold ksm_mutex for a while, as another task would. */
static int ksm_test_hold_fn(void *arg)
{
	struct completion *held = arg;

	ksm_lock();
	complete(held);
	msleep(50);
	mutex_unlock(&ksm_mutex);
	return 0;
}

/*
 * Exit of an mm with no merged page after run = 2, with ksm_mutex busy:
 * ksmd does not scan, so an orphan would stay, with its items counted,
 * until run = 1.  The exit must wait for the mutex and free them itself.
 */
static void ksm_test_exit_unmerging(struct kunit *test)
{
	static const unsigned long addrs[] = { 0x1000, 0x2000, 0x3000 };
	struct mm_struct *mm = ksm_test_mm(test);
	unsigned long base = ksm_rmap_items;
	DECLARE_COMPLETION_ONSTACK(held);
	struct task_struct *holder;

	ksm_lock();
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);

	mutex_lock(&ksm_run_mutex);
	ksm_lock();
	WRITE_ONCE(ksm_run, KSM_RUN_UNMERGE);
	mutex_unlock(&ksm_mutex);
	holder = kthread_run(ksm_test_hold_fn, &held, "ksm_test_hold");
	if (!IS_ERR(holder)) {
		wait_for_completion(&held);
		ksm_forget_mm(mm);
	}
	ksm_lock();
	WRITE_ONCE(ksm_run, KSM_RUN_STOP);
	mutex_unlock(&ksm_mutex);
	mutex_unlock(&ksm_run_mutex);
	KUNIT_ASSERT_FALSE(test, IS_ERR(holder));

	ksm_test_expect_freed(test, mm, base);
}

/*
 * ksmd meets an exited mm with its cursor partway down the mm's list (a
 * step ended there before the process was killed); the exit has not
 * freed the items, and leaves the slot to ksmd as an orphan once the
 * cursor moves on.  Every item goes, not only those after the cursor.
 */
static void ksm_test_leave_exited(struct kunit *test)
{
	static const unsigned long addrs[] = { 0x1000, 0x2000, 0x3000, 0x4000 };
	struct mm_struct *mm = ksm_test_mm(test);
	unsigned long base = ksm_rmap_items;
	struct ksm_mm_slot *slot;
	unsigned int quota = 64;
	bool reaped;

	ksm_lock();
	ksm_test_visit(test, addrs, ARRAY_SIZE(addrs));
	/* The next pass: two pages looked at, then the process dies. */
	ksm_cursor_reset(true);
	ksm_test_visit(test, addrs, 2);
	slot = ksm_find_slot(mm);
	KUNIT_ASSERT_NOT_NULL(test, slot);
	KUNIT_ASSERT_TRUE(test, ksm_test_exit(mm));
	/* What ksm_forget_mm() does when it finds the cursor gone. */
	slot->orphan = true;
	reaped = ksm_cursor_leave_exited(&quota);
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);

	KUNIT_EXPECT_TRUE(test, reaped);
	KUNIT_EXPECT_PTR_EQ(test, slot->rmap_list, NULL);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	KUNIT_EXPECT_EQ(test, quota, 64 - ARRAY_SIZE(addrs));
	if (reaped && !slot->rmap_list)
		ksm_free_slot(slot);
	KUNIT_EXPECT_PTR_EQ(test, ksm_find_slot(mm), NULL);
}

/* How many entries @slot's index holds. */
static unsigned long ksm_test_entries(struct ksm_mm_slot *slot)
{
	unsigned long block, n = 0;
	void *entry;

	xa_for_each(&slot->index, block, entry)
		n++;
	return n;
}

/* Expect @slot's index to hold, for each block with items, the first's link. */
static void ksm_test_check_index(struct kunit *test, struct ksm_mm_slot *slot)
{
	struct ksm_rmap_item **link;
	unsigned long blocks = 0, block;

	for (link = &slot->rmap_list; *link; link = &(*link)->next) {
		block = ksm_block(*link);
		if (!ksm_link_opens(slot, link, block))
			continue;
		blocks++;
		KUNIT_EXPECT_PTR_EQ(test, xa_load(&slot->index, block),
				    (void *)link);
	}
	KUNIT_EXPECT_EQ(test, ksm_test_entries(slot), blocks);
}

/* Items in @mm's list in [@start, @end). */
static unsigned long ksm_test_count(struct mm_struct *mm, unsigned long start,
				    unsigned long end)
{
	struct ksm_rmap_item *item;
	unsigned long n = 0;

	for (item = ksm_find_slot(mm)->rmap_list; item; item = item->next)
		n += ksm_item_addr(item) >= start && ksm_item_addr(item) < end;
	return n;
}

#define KSM_TEST_BLOCKS		16
#define KSM_TEST_PAGE(i)	((unsigned long)(i) << PAGE_SHIFT)

/*
 * A range is found through the index, walking less than a block however
 * many items come before it; the index follows every change of the list:
 * items made, trimmed by the cursor and forgotten by madvise, at the
 * first, last and middle of blocks.
 */
static void ksm_test_index(struct kunit *test)
{
	struct mm_struct *mm = ksm_test_mm(test);
	unsigned long base = ksm_rmap_items, nr = 0, i;
	struct ksm_mm_slot *slot = ksm_find_slot(mm);
	struct ksm_rmap_item *item;
	unsigned int quota = KSM_BLOCK_PAGES;

	ksm_lock();
	/* Every page but the first of each block. */
	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	for (i = 0; i < KSM_TEST_BLOCKS * KSM_BLOCK_PAGES; i++) {
		if (i % KSM_BLOCK_PAGES == 0)
			continue;
		item = ksm_cursor_item(KSM_TEST_PAGE(i), &quota);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(item));
		nr++;
	}
	ksm_test_check_index(test, slot);
	/* One entry per block, at the block's number. */
	KUNIT_EXPECT_EQ(test, ksm_test_entries(slot), (unsigned long)KSM_TEST_BLOCKS);
	for (i = 0; i < KSM_TEST_BLOCKS; i++)
		KUNIT_EXPECT_PTR_NE(test, xa_load(&slot->index, i), NULL);

	/* Three pages near the end: found with less than a block's walk. */
	i = (KSM_TEST_BLOCKS - 1) * KSM_BLOCK_PAGES + 20;
	KUNIT_EXPECT_LT(test, ksm_drop_items(slot, KSM_TEST_PAGE(i),
					     KSM_TEST_PAGE(i + 3)),
			(unsigned long)KSM_BLOCK_PAGES);
	nr -= 3;
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, nr);
	ksm_test_check_index(test, slot);

	/* A whole block, then a range from the middle of one to the next. */
	ksm_drop_items(slot, KSM_TEST_PAGE(5 * KSM_BLOCK_PAGES),
		       KSM_TEST_PAGE(6 * KSM_BLOCK_PAGES));
	nr -= KSM_BLOCK_PAGES - 1;
	ksm_test_check_index(test, slot);
	ksm_drop_items(slot, KSM_TEST_PAGE(8 * KSM_BLOCK_PAGES + 60),
		       KSM_TEST_PAGE(9 * KSM_BLOCK_PAGES + 2));
	nr -= 4 + 1;
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, nr);
	ksm_test_check_index(test, slot);
	/* From the emptied block 5 on: nothing walked, block 6 goes. */
	KUNIT_EXPECT_EQ(test, ksm_drop_items(slot,
					     KSM_TEST_PAGE(5 * KSM_BLOCK_PAGES + 10),
					     KSM_TEST_PAGE(7 * KSM_BLOCK_PAGES)),
			0UL);
	nr -= KSM_BLOCK_PAGES - 1;
	/* Block 0: the list then starts with block 1. */
	ksm_drop_items(slot, 0, KSM_TEST_PAGE(KSM_BLOCK_PAGES));
	nr -= KSM_BLOCK_PAGES - 1;
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, nr);
	KUNIT_EXPECT_EQ(test, ksm_test_entries(slot),
			(unsigned long)KSM_TEST_BLOCKS - 3);
	ksm_test_check_index(test, slot);
	/* Nothing at or after the range: nothing walked. */
	KUNIT_EXPECT_EQ(test, ksm_drop_items(slot,
					     KSM_TEST_PAGE(KSM_TEST_BLOCKS *
							   KSM_BLOCK_PAGES),
					     ULONG_MAX), 0UL);

	/*
	 * A new pass: items at the head of the list before block 1, before
	 * each block's first and into the emptied blocks; the cursor trims
	 * what it passes, the first of a block and the whole of block 3 among
	 * them.
	 */
	quota = KSM_BLOCK_PAGES;
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	KUNIT_ASSERT_TRUE(test, ksm_cursor_start_pass());
	for (i = 0; i < KSM_TEST_BLOCKS * KSM_BLOCK_PAGES; i++) {
		if (i / KSM_BLOCK_PAGES == 3 || i % KSM_BLOCK_PAGES == 1)
			continue;
		quota = KSM_BLOCK_PAGES;
		item = ksm_cursor_item(KSM_TEST_PAGE(i), &quota);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(item));
	}
	quota = KSM_BLOCK_PAGES;
	KUNIT_ASSERT_TRUE(test, ksm_cursor_next_mm(&quota));
	nr = (KSM_TEST_BLOCKS - 1) * (KSM_BLOCK_PAGES - 1);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, nr);
	KUNIT_EXPECT_EQ(test, ksm_test_count(mm, KSM_TEST_PAGE(3 *
							       KSM_BLOCK_PAGES),
					     KSM_TEST_PAGE(4 *
							   KSM_BLOCK_PAGES)),
			0UL);
	ksm_test_check_index(test, slot);
	mutex_unlock(&ksm_mutex);

	/* madvise of one page in the middle of a block, its process alive. */
	atomic_set(&mm->mm_users, 2);
	ksm_forget_range(mm, KSM_TEST_PAGE(7 * KSM_BLOCK_PAGES + 9),
			 KSM_TEST_PAGE(7 * KSM_BLOCK_PAGES + 10), true);
	atomic_set(&mm->mm_users, 0);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, nr - 1);
	ksm_lock();
	ksm_test_check_index(test, slot);
	/* Every item gone, the index is empty. */
	ksm_drop_items(slot, 0, ULONG_MAX);
	KUNIT_EXPECT_PTR_EQ(test, slot->rmap_list, NULL);
	KUNIT_EXPECT_TRUE(test, xa_empty(&slot->index));
	mutex_unlock(&ksm_mutex);

	ksm_forget_mm(mm);
	KUNIT_EXPECT_EQ(test, ksm_rmap_items, base);
	ksm_lock();
	ksm_cursor_reset(true);
	mutex_unlock(&ksm_mutex);
}

static struct kunit_case ksm_cursor_test_cases[] = {
	KUNIT_CASE(ksm_test_cursor),
	KUNIT_CASE(ksm_test_add_behind),
	KUNIT_CASE(ksm_test_forget),
	KUNIT_CASE(ksm_test_exit_orphan),
	KUNIT_CASE(ksm_test_reap_at_cursor),
	KUNIT_CASE(ksm_test_exit_merging),
	KUNIT_CASE(ksm_test_exit_unmerging),
	KUNIT_CASE(ksm_test_leave_exited),
	KUNIT_CASE(ksm_test_index),
	{},
};

static struct kunit_suite ksm_cursor_test_suite = {
	.name = "ksm_cursor",
	.test_cases = ksm_cursor_test_cases,
};

kunit_test_suite(ksm_cursor_test_suite);

#endif /* _MM_KSM_CURSOR_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
