/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of scan.c: smart scan's schedule of skips, and when a visit
 * passes a page over.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_SCAN_TEST_H
#define _MM_KSM_SCAN_TEST_H

#include <kunit/test.h>

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

static struct kunit_case ksm_scan_test_cases[] = {
	KUNIT_CASE(ksm_test_skip_schedule),
	KUNIT_CASE(ksm_test_pass_over),
	{},
};

static struct kunit_suite ksm_scan_test_suite = {
	.name = "ksm_scan",
	.test_cases = ksm_scan_test_cases,
};

kunit_test_suite(ksm_scan_test_suite);

#endif /* _MM_KSM_SCAN_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
