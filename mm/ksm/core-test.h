/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of core.c: the content hashes and the page compare.  The
 * sample must see a change in the bytes it covers and only there; the
 * checksum any change; the compare order pages as memcmp() does.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_CORE_TEST_H
#define _MM_KSM_CORE_TEST_H

#include <kunit/test.h>
#include <linux/xxhash.h>

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

/*
 * The checksum is xxh64() of the page with the key as seed, the sample
 * xxh64() of its pieces put end to end, on any content.
 */
static void ksm_test_hashes_are_xxh64(struct kunit *test)
{
	u8 *p, *buf = kunit_kzalloc(test, KSM_SAMPLE_CHUNKS * KSM_SAMPLE_BYTES,
				    GFP_KERNEL);
	struct page *page;
	unsigned int i, round;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	p = page_address(page);
	for (round = 0; round < 3; round++) {
		if (round == 0)
			memset(p, 0, PAGE_SIZE);
		else
			get_random_bytes(p, PAGE_SIZE);
		for (i = 0; i < KSM_SAMPLE_CHUNKS; i++)
			memcpy(buf + i * KSM_SAMPLE_BYTES,
			       p + i * (PAGE_SIZE / KSM_SAMPLE_CHUNKS),
			       KSM_SAMPLE_BYTES);
		KUNIT_EXPECT_EQ_MSG(test, ksm_calc_sample(page),
				    (u32)xxh64(buf, KSM_SAMPLE_CHUNKS *
					       KSM_SAMPLE_BYTES, 0),
				    "round %u", round);
		KUNIT_EXPECT_EQ_MSG(test, ksm_calc_checksum(page),
				    (u32)xxh64(p, PAGE_SIZE, ksm_checksum_key),
				    "round %u", round);
	}
	__free_page(page);
}

/* ksm_cmp_pages() says what memcmp() says, wherever the pages differ. */
static void ksm_test_cmp_pages(struct kunit *test)
{
	static const unsigned int offsets[] = {
		0, 1, 7, 8, 63, 64, 65, 2047, 2048, PAGE_SIZE - 64,
		PAGE_SIZE - 9, PAGE_SIZE - 8, PAGE_SIZE - 1,
	};
	struct page *page1 = alloc_page(GFP_KERNEL);
	struct page *page2 = alloc_page(GFP_KERNEL);
	unsigned int i, off;
	u8 *p1, *p2;

	KUNIT_ASSERT_NOT_NULL(test, page1);
	KUNIT_ASSERT_NOT_NULL(test, page2);
	p1 = page_address(page1);
	p2 = page_address(page2);
	get_random_bytes(p1, PAGE_SIZE);
	memcpy(p2, p1, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, ksm_cmp_pages(page1, page2), 0);
	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		off = offsets[i];
		/* Lower here, higher further on: the first difference rules. */
		p1[off] = 0x10;
		p2[off] = 0x20;
		if (off + 1 < PAGE_SIZE) {
			p1[PAGE_SIZE - 1] = 0xff;
			p2[PAGE_SIZE - 1] = 0x00;
		}
		KUNIT_EXPECT_LT_MSG(test, ksm_cmp_pages(page1, page2), 0,
				    "offset %u", off);
		KUNIT_EXPECT_GT_MSG(test, ksm_cmp_pages(page2, page1), 0,
				    "offset %u", off);
		KUNIT_EXPECT_EQ_MSG(test,
				    ksm_cmp_pages(page1, page2) < 0,
				    memcmp(p1, p2, PAGE_SIZE) < 0,
				    "offset %u", off);
		memcpy(p2, p1, PAGE_SIZE);
		KUNIT_EXPECT_EQ_MSG(test, ksm_cmp_pages(page1, page2), 0,
				    "offset %u", off);
	}
	__free_page(page2);
	__free_page(page1);
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
	KUNIT_CASE(ksm_test_hashes_are_xxh64),
	KUNIT_CASE(ksm_test_cmp_pages),
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
