/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of advisor.c: the rate after a pass that took longer or
 * shorter than the target, the CPU cap, and the bounds, crossed or not.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_ADVISOR_TEST_H
#define _MM_KSM_ADVISOR_TEST_H

#include <kunit/test.h>

struct ksm_advisor_case {
	const char *what;
	unsigned long rate;		/* pages_to_scan during the pass */
	unsigned int wall_ds;		/* the pass, in tenths of a second */
	unsigned int cpu_pct;		/* ksmd's CPU share over it */
	unsigned long want;		/* the rate that comes out */
};

/* Settings: target 10 s, CPU at most 50 %, rate 100 to 20000. */
static const struct ksm_advisor_case ksm_advisor_cases[] = {
	{ "on target", 1000, 100, 10, 1000 },
	{ "twice too slow: halfway to twice the rate", 1000, 200, 10, 1500 },
	{ "twice too fast: halfway to half the rate", 1000, 50, 10, 750 },
	{ "at the CPU cap: no faster", 1000, 200, 50, 1000 },
	{ "over the CPU cap: slower", 1000, 200, 80, 625 },
	{ "under the CPU cap: faster, up to it only", 1000, 200, 40, 1250 },
	{ "far too slow: the maximum", 15000, 1000, 10, 20000 },
	{ "far too fast: the minimum", 120, 1, 1, 100 },
};

static void ksm_advisor_case_desc(const struct ksm_advisor_case *c,
				  char *desc)
{
	strscpy(desc, c->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ksm_advisor, ksm_advisor_cases, ksm_advisor_case_desc);

static void ksm_test_advisor_rate(struct kunit *test)
{
	const struct ksm_advisor_case *c = test->param_value;
	unsigned int saved[] = { ksm_advisor_target_s, ksm_advisor_max_cpu,
				 ksm_advisor_min_pages, ksm_advisor_max_pages };
	u64 wall = (u64)c->wall_ds * NSEC_PER_SEC / 10;
	unsigned int pct;

	ksm_advisor_target_s = 10;
	ksm_advisor_max_cpu = 50;
	ksm_advisor_min_pages = 100;
	ksm_advisor_max_pages = 20000;
	KUNIT_EXPECT_EQ(test, ksm_advisor_rate(c->rate, wall,
					       wall / 100 * c->cpu_pct, &pct),
			c->want);
	KUNIT_EXPECT_EQ(test, pct, c->cpu_pct);
	ksm_advisor_target_s = saved[0];
	ksm_advisor_max_cpu = saved[1];
	ksm_advisor_min_pages = saved[2];
	ksm_advisor_max_pages = saved[3];
}

/* A minimum written above the maximum: the rate is the maximum. */
static void ksm_test_advisor_crossed(struct kunit *test)
{
	unsigned int saved[] = { ksm_advisor_min_pages, ksm_advisor_max_pages };
	unsigned int pct;

	ksm_advisor_min_pages = 5000;
	ksm_advisor_max_pages = 1000;
	/* Far too slow, and far too fast. */
	KUNIT_EXPECT_EQ(test, ksm_advisor_rate(1000, 1000 * NSEC_PER_SEC,
					       NSEC_PER_SEC, &pct), 1000);
	KUNIT_EXPECT_EQ(test, ksm_advisor_rate(1000, NSEC_PER_SEC / 100,
					       NSEC_PER_SEC / 1000, &pct),
			1000);
	ksm_advisor_min_pages = saved[0];
	ksm_advisor_max_pages = saved[1];
}

static struct kunit_case ksm_advisor_test_cases[] = {
	KUNIT_CASE_PARAM(ksm_test_advisor_rate, ksm_advisor_gen_params),
	KUNIT_CASE(ksm_test_advisor_crossed),
	{},
};

static struct kunit_suite ksm_advisor_test_suite = {
	.name = "ksm_advisor",
	.test_cases = ksm_advisor_test_cases,
};

kunit_test_suite(ksm_advisor_test_suite);

#endif /* _MM_KSM_ADVISOR_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
