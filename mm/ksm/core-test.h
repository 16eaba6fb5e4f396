/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of core.c: the content hashes.  The sample must see a
 * change in the bytes it covers and only there; the checksum any change.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_CORE_TEST_H
#define _MM_KSM_CORE_TEST_H

#include <kunit/test.h>

static void ksm_test_hashes(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	u32 sum, sample;
	unsigned int i;
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, ksm_calc_checksum(page), ksm_zero_checksum);

	p = page_address(page);
	memset(p, 0x5a, PAGE_SIZE);
	sum = ksm_calc_checksum(page);
	sample = ksm_calc_sample(page);
	KUNIT_EXPECT_NE(test, sum, ksm_zero_checksum);
	for (i = 0; i < KSM_SAMPLE_CHUNKS; i++) {
		u8 *first = p + i * (PAGE_SIZE / KSM_SAMPLE_CHUNKS);
		u8 *last = first + KSM_SAMPLE_BYTES - 1;

		/* The first and last byte of each piece are sampled... */
		*first ^= 1;
		KUNIT_EXPECT_NE_MSG(test, ksm_calc_sample(page), sample,
				    "chunk %u", i);
		KUNIT_EXPECT_NE(test, ksm_calc_checksum(page), sum);
		*first ^= 1;
		*last ^= 1;
		KUNIT_EXPECT_NE_MSG(test, ksm_calc_sample(page), sample,
				    "chunk %u", i);
		*last ^= 1;
		/* ...the next one is not, but the checksum sees it. */
		last[1] ^= 1;
		KUNIT_EXPECT_EQ_MSG(test, ksm_calc_sample(page), sample,
				    "chunk %u", i);
		KUNIT_EXPECT_NE(test, ksm_calc_checksum(page), sum);
		last[1] ^= 1;
	}
	KUNIT_EXPECT_EQ(test, ksm_calc_checksum(page), sum);
	KUNIT_EXPECT_EQ(test, ksm_calc_sample(page), sample);
	__free_page(page);
}

/* Nobody waits for ksm_mutex: a holder's break is a no-op. */
static void ksm_test_lock_break(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, ksm_lock_wanted());
	mutex_lock(&ksm_mutex);
	if (!need_resched())
		KUNIT_EXPECT_FALSE(test, ksm_lock_break());
	KUNIT_EXPECT_TRUE(test, mutex_is_locked(&ksm_mutex));
	mutex_unlock(&ksm_mutex);
}

static struct kunit_case ksm_core_test_cases[] = {
	KUNIT_CASE(ksm_test_hashes),
	KUNIT_CASE(ksm_test_lock_break),
	{},
};

static struct kunit_suite ksm_core_test_suite = {
	.name = "ksm_core",
	.test_cases = ksm_core_test_cases,
};

kunit_test_suite(ksm_core_test_suite);

#endif /* _MM_KSM_CORE_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
