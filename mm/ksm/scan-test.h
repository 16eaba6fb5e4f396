/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of scan.c: smart scan's schedule of skips, when a visit
 * passes a page over, when it finds a page changed, how ksmd waits for a
 * busy mm's mmap_lock, and when a waiter ends its step.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_SCAN_TEST_H
#define _MM_KSM_SCAN_TEST_H

#include <kunit/test.h>
#include <linux/kthread.h>

/* Skips after a look that found a page unique and unchanged @age times. */
static void ksm_test_skip_schedule(struct kunit *test)
{
	static const u8 want[] = { 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8 };
	unsigned int age;

	for (age = 0; age < ARRAY_SIZE(want); age++)
		KUNIT_EXPECT_EQ_MSG(test, ksm_skips_after(age), want[age],
				    "age %u", age);
	KUNIT_EXPECT_EQ(test, ksm_skips_after(U8_MAX), KSM_SKIP_MAX);
}

static void ksm_test_pass_over(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct ksm_rmap_item item = { .age = 4, .skips = 2 };
	bool smart = ksm_smart_scan;

	KUNIT_ASSERT_NOT_NULL(test, page);
	ksm_smart_scan = true;
	item.sample = ksm_calc_sample(page);
	mutex_lock(&ksm_mutex);

	/* Unchanged, skips left: passed over, one skip fewer. */
	KUNIT_EXPECT_TRUE(test, ksm_pass_over(&item, page));
	KUNIT_EXPECT_EQ(test, item.skips, 1);
	KUNIT_EXPECT_EQ(test, item.age, 4);

	/* A change where the sample looks: looked at, from age 0. */
	memset(page_address(page), 0x5a, 64);
	KUNIT_EXPECT_FALSE(test, ksm_pass_over(&item, page));
	KUNIT_EXPECT_EQ(test, item.skips, 0);
	KUNIT_EXPECT_EQ(test, item.age, 0);

	/* No skips left, a fresh or merged item, smart scan off: looked at. */
	item.sample = ksm_calc_sample(page);
	KUNIT_EXPECT_FALSE(test, ksm_pass_over(&item, page));
	item.skips = 3;
	item.address = KSM_ITEM_FRESH;
	KUNIT_EXPECT_FALSE(test, ksm_pass_over(&item, page));
	item.address = 0;
	ksm_smart_scan = false;
	KUNIT_EXPECT_FALSE(test, ksm_pass_over(&item, page));
	KUNIT_EXPECT_EQ(test, item.skips, 3);
	ksm_smart_scan = true;
	KUNIT_EXPECT_TRUE(test, ksm_pass_over(&item, page));

	mutex_unlock(&ksm_mutex);
	ksm_smart_scan = smart;
	__free_page(page);
}

/*
 * The change test of a visit (ksm_page_changed()): a change anywhere in
 * the page is a change, the sample's bytes or not; after a change the
 * sample alone found, an unchanged sample is enough.
 */
static void ksm_test_change_test(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	/* Fresh, off a stable node: the union's bytes are the node's. */
	struct ksm_rmap_item item = { .address = KSM_ITEM_FRESH,
				      .old_sum = 0xff };
	bool smart = ksm_smart_scan;
	u8 *p, *unsampled;
	u32 sum, sample;

	KUNIT_ASSERT_NOT_NULL(test, page);
	p = page_address(page);
	/* The last byte: the sample leaves it out (core-test.h). */
	unsampled = p + PAGE_SIZE - 1;
	sample = ksm_calc_sample(page);
	*unsampled = 1;
	KUNIT_ASSERT_EQ(test, ksm_calc_sample(page), sample);
	mutex_lock(&ksm_mutex);

	/* Fresh: no history, not changed. */
	KUNIT_EXPECT_FALSE(test, ksm_page_changed(&item, page, &sum));
	KUNIT_EXPECT_EQ(test, sum, ksm_calc_checksum(page));
	KUNIT_EXPECT_EQ(test, item.old_sum, 0);
	item.address = 0;
	item.sample = ksm_calc_sample(page);
	item.age = 1;

	/* With an age: the checksum tells, and the sample is taken. */
	KUNIT_EXPECT_FALSE(test, ksm_page_changed(&item, page, &sum));
	*unsampled = 2;
	KUNIT_EXPECT_TRUE(test, ksm_page_changed(&item, page, &sum));
	KUNIT_EXPECT_EQ(test, item.age, 0);
	KUNIT_EXPECT_EQ(test, item.sample, ksm_calc_sample(page));

	/* No age: a change the sample misses is still a change... */
	*unsampled = 3;
	KUNIT_EXPECT_TRUE(test, ksm_page_changed(&item, page, &sum));
	/* ...and once the page stays as it is, it is not. */
	KUNIT_EXPECT_FALSE(test, ksm_page_changed(&item, page, &sum));
	KUNIT_EXPECT_EQ(test, sum, ksm_calc_checksum(page));

	/* A change the sample sees: no checksum taken, old_sum... */
	p[0] = 1;
	KUNIT_EXPECT_TRUE(test, ksm_page_changed(&item, page, &sum));
	KUNIT_EXPECT_EQ(test, item.old_sum, 1);
	/* ...so at the next visit an unchanged sample is enough. */
	*unsampled = 4;
	KUNIT_EXPECT_FALSE(test, ksm_page_changed(&item, page, &sum));
	KUNIT_EXPECT_EQ(test, item.old_sum, 0);
	KUNIT_EXPECT_EQ(test, item.checksum, ksm_calc_checksum(page));

	/* Smart scan's pass over sees a change: the visit finds it too. */
	ksm_smart_scan = true;
	item.age = 4;
	item.skips = 2;
	item.sample = ksm_calc_sample(page);
	p[0] = 2;
	KUNIT_EXPECT_FALSE(test, ksm_pass_over(&item, page));
	KUNIT_EXPECT_TRUE(test, ksm_page_changed(&item, page, &sum));
	KUNIT_EXPECT_EQ(test, item.old_sum, 1);
	ksm_smart_scan = smart;

	mutex_unlock(&ksm_mutex);
	__free_page(page);
}

struct ksm_test_writer {
	struct mm_struct *mm;
	bool had_lock;
	struct completion done;
};

static int ksm_test_writer_fn(void *data)
{
	struct ksm_test_writer *w = data;

	mmap_write_lock(w->mm);
	WRITE_ONCE(w->had_lock, true);
	mmap_write_unlock(w->mm);
	kthread_complete_and_exit(&w->done, 0);
}

/*
 * A writer queued for an mm's mmap_lock behind ksmd gets it before ksmd
 * takes it again: ksmd lets go and, on the writer's CPU (so that the
 * woken writer has not run yet), asks for it at once.  A reader that
 * queues would take the free lock from under the writer.
 */
static void ksm_test_lock_after_writer(struct kunit *test)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	struct ksm_test_writer w = { .mm = mm };
	struct task_struct *writer;
	cpumask_var_t saved;
	unsigned long timeout;
	bool had_lock;
	int cpu;

	KUNIT_ASSERT_NOT_NULL(test, mm);
	KUNIT_ASSERT_TRUE(test, alloc_cpumask_var(&saved, GFP_KERNEL));
	mmap_init_lock(mm);
	init_completion(&w.done);
	cpumask_copy(saved, current->cpus_ptr);
	cpu = raw_smp_processor_id();
	set_cpus_allowed_ptr(current, cpumask_of(cpu));
	writer = kthread_create(ksm_test_writer_fn, &w, "ksm_test_writer");
	if (IS_ERR(writer)) {
		set_cpus_allowed_ptr(current, saved);
		free_cpumask_var(saved);
		KUNIT_FAIL(test, "kthread_create: %ld", PTR_ERR(writer));
		return;
	}
	kthread_bind(writer, cpu);

	mmap_read_lock(mm);
	wake_up_process(writer);
	timeout = jiffies + 10 * HZ;
	while (!mmap_lock_is_contended(mm) && time_before(jiffies, timeout))
		usleep_range(1000, 2000);
	KUNIT_EXPECT_TRUE(test, mmap_lock_is_contended(mm));
	mmap_read_unlock(mm);
	ksm_mmap_read_lock(mm);
	had_lock = READ_ONCE(w.had_lock);
	mmap_read_unlock(mm);
	KUNIT_EXPECT_TRUE_MSG(test, had_lock,
			      "ksmd took the lock before the writer that waited");

	wait_for_completion(&w.done);
	set_cpus_allowed_ptr(current, saved);
	free_cpumask_var(saved);
}

/*
 * A writer waiting for the mm's mmap_lock ends ksmd's step only once the
 * step has had its share of the lock; a task waiting for ksm_mutex ends it
 * at once.  (need_resched() may end it at any time: that is not what is
 * tested.)
 */
static void ksm_test_step_share(struct kunit *test)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	struct ksm_test_writer w = { .mm = mm };
	struct ksm_step step = { };
	struct task_struct *writer;
	unsigned long timeout;

	KUNIT_ASSERT_NOT_NULL(test, mm);
	mmap_init_lock(mm);
	init_completion(&w.done);
	KUNIT_EXPECT_FALSE(test, ksm_step_yield(&step, mm) && !need_resched());

	mmap_read_lock(mm);
	writer = kthread_run(ksm_test_writer_fn, &w, "ksm_test_writer");
	if (IS_ERR(writer)) {
		mmap_read_unlock(mm);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(writer));
		return;
	}
	timeout = jiffies + 10 * HZ;
	while (!mmap_lock_is_contended(mm) && time_before(jiffies, timeout))
		usleep_range(1000, 2000);
	KUNIT_EXPECT_TRUE(test, mmap_lock_is_contended(mm));
	step.hold_until = ktime_get_ns() + NSEC_PER_SEC;
	KUNIT_EXPECT_FALSE_MSG(test,
			       ksm_step_yield(&step, mm) && !need_resched(),
			       "a writer ended the step within its share");
	atomic_inc(&ksm_mutex_waiters);
	KUNIT_EXPECT_TRUE_MSG(test, ksm_step_yield(&step, mm),
			      "a waiter for ksm_mutex did not end the step");
	if (atomic_dec_and_test(&ksm_mutex_waiters))
		wake_up_var(&ksm_mutex_waiters);
	step.hold_until = ktime_get_ns();
	KUNIT_EXPECT_TRUE(test, ksm_step_yield(&step, mm));
	mmap_read_unlock(mm);
	wait_for_completion(&w.done);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(w.had_lock));
}

static struct kunit_case ksm_scan_test_cases[] = {
	KUNIT_CASE(ksm_test_skip_schedule),
	KUNIT_CASE(ksm_test_pass_over),
	KUNIT_CASE(ksm_test_change_test),
	KUNIT_CASE(ksm_test_lock_after_writer),
	KUNIT_CASE(ksm_test_step_share),
	{},
};

static struct kunit_suite ksm_scan_test_suite = {
	.name = "ksm_scan",
	.test_cases = ksm_scan_test_cases,
};

kunit_test_suite(ksm_scan_test_suite);

#endif /* _MM_KSM_SCAN_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
