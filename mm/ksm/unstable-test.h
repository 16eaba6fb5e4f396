/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of unstable.c: the size of the table for a number of rmap
 * items, and the pass number kept in each entry, which wraps.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_UNSTABLE_TEST_H
#define _MM_KSM_UNSTABLE_TEST_H

#include <kunit/test.h>

/* One to two items per bucket, within the bounds of the table size. */
static void ksm_test_table_bits(struct kunit *test)
{
	static const unsigned long items[] = {
		0, 1, 3, 4095, 4096, 4099, 8191, 8192, 100000, 1UL << 20,
		(1UL << 22) + 3, 0xffffffffUL,
	};
	unsigned long n, buckets;
	unsigned int i, bits;

	for (i = 0; i < ARRAY_SIZE(items); i++) {
		n = items[i];
		bits = ksm_table_bits(n);
		buckets = 1UL << bits;
		KUNIT_EXPECT_GE_MSG(test, bits, KSM_TABLE_MIN_BITS, "%lu", n);
		KUNIT_EXPECT_LE_MSG(test, bits, KSM_TABLE_MAX_BITS, "%lu", n);
		/* At most two per bucket... */
		if (bits < KSM_TABLE_MAX_BITS)
			KUNIT_EXPECT_GE_MSG(test, buckets * 2, n, "%lu items", n);
		/* ...and no more than twice the buckets that takes. */
		if (bits > KSM_TABLE_MIN_BITS)
			KUNIT_EXPECT_LT_MSG(test, buckets / 2, n / 2 + 1,
					    "%lu items", n);
	}
	/* A table that would not fit in memory is never asked for. */
	KUNIT_EXPECT_EQ(test, ksm_table_bits(ULONG_MAX), KSM_TABLE_MAX_BITS);
	KUNIT_EXPECT_EQ(test, ksm_table_bits(0), KSM_TABLE_MIN_BITS);
}

/* The pass number wraps within KSM_ITEM_SEQ_MASK, never into the flags. */
static void ksm_test_pass_wrap(struct kunit *test)
{
	unsigned long saved;

	mutex_lock(&ksm_mutex);
	saved = ksm_unstable_seq;
	ksm_unstable_seq = KSM_ITEM_SEQ_MASK - 1;
	ksm_unstable_new_pass();
	KUNIT_EXPECT_EQ(test, ksm_unstable_seq, KSM_ITEM_SEQ_MASK);
	ksm_unstable_new_pass();
	KUNIT_EXPECT_EQ(test, ksm_unstable_seq, 0UL);
	ksm_unstable_new_pass();
	KUNIT_EXPECT_EQ(test, ksm_unstable_seq, 1UL);
	ksm_unstable_seq = saved;
	mutex_unlock(&ksm_mutex);
}

/*
 * An entry is live while this pass or the one before stamped it, across
 * the wrap of the pass number, and while smart scan passes its page over.
 */
static void ksm_test_entry_window(struct kunit *test)
{
	static const unsigned long seqs[] = { 0, 1, 2, 0x80, KSM_ITEM_SEQ_MASK };
	struct ksm_rmap_item item = {};
	unsigned long seq, stamp, back;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(seqs); i++) {
		seq = seqs[i];
		for (back = 0; back <= KSM_ITEM_SEQ_MASK; back++) {
			stamp = (seq - back) & KSM_ITEM_SEQ_MASK;
			item.address = 0x7000 | KSM_ITEM_UNSTABLE |
				       KSM_ITEM_RECHECK | stamp;
			item.skips = 0;
			KUNIT_EXPECT_EQ_MSG(test, ksm_entry_stale(&item, seq),
					    back > 1, "pass %lu, stamped %lu",
					    seq, stamp);
			item.skips = 1;
			KUNIT_EXPECT_FALSE_MSG(test,
					       ksm_entry_stale(&item, seq),
					       "pass %lu, stamped %lu, skips",
					       seq, stamp);
		}
	}
}

static struct kunit_case ksm_unstable_test_cases[] = {
	KUNIT_CASE(ksm_test_table_bits),
	KUNIT_CASE(ksm_test_pass_wrap),
	KUNIT_CASE(ksm_test_entry_window),
	{},
};

static struct kunit_suite ksm_unstable_test_suite = {
	.name = "ksm_unstable",
	.test_cases = ksm_unstable_test_cases,
};

kunit_test_suite(ksm_unstable_test_suite);

#endif /* _MM_KSM_UNSTABLE_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
