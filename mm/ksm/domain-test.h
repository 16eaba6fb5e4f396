/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of domain.c: the domain of an mm as its owner and its
 * dumpability make it.  They change merge_domain for a
 * moment, at boot, before any process can register: ksmd is stopped and
 * no mm is registered, or they are skipped.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_DOMAIN_TEST_H
#define _MM_KSM_DOMAIN_TEST_H

#include <kunit/test.h>

#ifdef CONFIG_MEMCG
static void ksm_test_domain_of_mm(struct kunit *test)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	unsigned int mode = ksm_merge_domain;

	KUNIT_ASSERT_NOT_NULL(test, mm);
	if (READ_ONCE(ksm_run) != KSM_RUN_STOP ||
	    !list_empty_careful(&ksm_mm_head.scan_list))
		kunit_skip(test, "KSM is in use: run %u", ksm_run);

	/* No owner: its last task has gone; the domain cannot be told. */
	WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_USER);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_DOMAIN_UNKNOWN);
	if (!mem_cgroup_disabled()) {
		WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_MEMCG);
		KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_DOMAIN_UNKNOWN);
	}
	WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_GLOBAL);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), 0);

	/* Owned (by this kthread, root): "user" if the mm is dumpable. */
	RCU_INIT_POINTER(mm->owner, current);
	WRITE_ONCE(ksm_merge_domain, KSM_DOMAIN_USER);
	set_dumpable(mm, SUID_DUMP_DISABLE);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_NO_DOMAIN);
	set_dumpable(mm, SUID_DUMP_USER);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), 0);
	WRITE_ONCE(ksm_merge_domain, mode);
}
#else
static void ksm_test_domain_of_mm(struct kunit *test)
{
	kunit_skip(test, "no mm->owner without CONFIG_MEMCG");
}
#endif /* CONFIG_MEMCG */

static struct kunit_case ksm_domain_test_cases[] = {
	KUNIT_CASE(ksm_test_domain_of_mm),
	{}
};

static struct kunit_suite ksm_domain_test_suite = {
	.name = "ksm_domain",
	.test_cases = ksm_domain_test_cases,
};

kunit_test_suite(ksm_domain_test_suite);

#endif /* _MM_KSM_DOMAIN_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
