/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of unstable.c: the size of the table for a number of rmap
 * items, its replacement by a table made before the step, and the pass
 * number kept in each entry, which wraps.
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

/* A table is replaced when smaller than wanted, or over twice as large. */
static void ksm_test_resize_bits(struct kunit *test)
{
	static const unsigned long items[] = {
		0, 4095, 4096, 100000, 1UL << 20, 0xffffffffUL,
	};
	unsigned int i, want;
	unsigned long n;

	for (i = 0; i < ARRAY_SIZE(items); i++) {
		n = items[i];
		want = ksm_table_bits(n);
		KUNIT_EXPECT_EQ_MSG(test, ksm_resize_bits(n, want), 0U,
				    "%lu", n);
		/* Twice the size it wants will do; four times is shrunk. */
		KUNIT_EXPECT_EQ_MSG(test, ksm_resize_bits(n, want + 1), 0U,
				    "%lu", n);
		KUNIT_EXPECT_EQ_MSG(test, ksm_resize_bits(n, want + 2), want,
				    "%lu", n);
		if (want > KSM_TABLE_MIN_BITS)
			KUNIT_EXPECT_EQ_MSG(test,
					    ksm_resize_bits(n, want - 1), want,
					    "%lu", n);
	}
}

/*
 * A step takes the table made before it only if its size is still the one
 * wanted; once the old one is emptied, it is handed back to be freed.  At
 * boot there is no rmap item: the count is made up under ksm_mutex, and
 * the table left larger than wanted is for ksmd to shrink.
 */
static void ksm_test_resize_step(struct kunit *test)
{
	struct ksm_table_swap swap = {};
	struct hlist_head *fresh, *before;
	unsigned int want, i;
	unsigned long saved;
	bool busy;

	want = ksm_table_bits(1UL << (KSM_TABLE_MIN_BITS + 2));
	fresh = ksm_alloc_buckets(want);
	KUNIT_ASSERT_NOT_NULL(test, fresh);

	mutex_lock(&ksm_mutex);
	busy = ksm_old_table.buckets || ksm_table.bits != KSM_TABLE_MIN_BITS;
	if (busy)
		goto out;
	saved = ksm_rmap_items;
	before = ksm_table.buckets;

	/* No resize wanted: nothing taken. */
	swap.fresh = fresh;
	swap.bits = want;
	ksm_rmap_items = 0;
	ksm_unstable_step(&swap);
	KUNIT_EXPECT_PTR_EQ(test, swap.fresh, fresh);
	KUNIT_EXPECT_PTR_EQ(test, ksm_table.buckets, before);

	/* Wanted, but of another size than made: nothing taken. */
	ksm_rmap_items = 1UL << (KSM_TABLE_MIN_BITS + 4);
	ksm_unstable_step(&swap);
	KUNIT_EXPECT_PTR_EQ(test, swap.fresh, fresh);
	KUNIT_EXPECT_PTR_EQ(test, ksm_table.buckets, before);

	/* Of the size wanted: taken, and the table before it is the old. */
	ksm_rmap_items = 1UL << (KSM_TABLE_MIN_BITS + 2);
	ksm_unstable_step(&swap);
	KUNIT_EXPECT_NULL(test, swap.fresh);
	KUNIT_EXPECT_PTR_EQ(test, ksm_table.buckets, fresh);
	KUNIT_EXPECT_EQ(test, ksm_table.bits, want);
	KUNIT_EXPECT_PTR_EQ(test, ksm_old_table.buckets, before);
	KUNIT_EXPECT_NULL(test, swap.retired);

	/* The old table, empty, is emptied in steps, and handed back. */
	ksm_rmap_items = saved;
	for (i = 0; i < 8 && ksm_old_table.buckets; i++)
		ksm_unstable_step(&swap);
	KUNIT_EXPECT_NULL(test, ksm_old_table.buckets);
	KUNIT_EXPECT_PTR_EQ(test, swap.retired, before);
out:
	mutex_unlock(&ksm_mutex);
	ksm_unstable_release(&swap);
	if (busy) {
		kvfree(fresh);
		KUNIT_FAIL(test, "the unstable table is being resized");
	}
}

static struct kunit_case ksm_unstable_test_cases[] = {
	KUNIT_CASE(ksm_test_table_bits),
	KUNIT_CASE(ksm_test_resize_bits),
	KUNIT_CASE(ksm_test_resize_step),
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
