/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of sysfs.c: what a write to each kind of file in
 * /sys/kernel/mm/ksm accepts, and the errno of what it refuses.
 */
#ifdef CONFIG_KSM_KUNIT_TEST

#ifndef _MM_KSM_SYSFS_TEST_H
#define _MM_KSM_SYSFS_TEST_H

#include <kunit/test.h>

struct ksm_parse_case {
	const char *desc;
	struct ksm_file *file;
	const char *input;
	int err;		/* what the write returns */
	unsigned int val;	/* the value taken, when err is 0 */
};

static const struct ksm_parse_case ksm_parse_cases[] = {
	{ "uint", &ksm_f_pages_to_scan, "100", 0, 100 },
	{ "uint, newline", &ksm_f_pages_to_scan, "100\n", 0, 100 },
	{ "uint, zero", &ksm_f_pages_to_scan, "0", 0, 0 },
	{ "uint, max", &ksm_f_pages_to_scan, "4294967295", 0, UINT_MAX },
	{ "uint, over max", &ksm_f_pages_to_scan, "4294967296", -EINVAL },
	{ "uint, over long", &ksm_f_pages_to_scan,
	  "99999999999999999999999", -EINVAL },
	{ "uint, negative", &ksm_f_pages_to_scan, "-1", -EINVAL },
	{ "uint, empty", &ksm_f_sleep_millisecs, "", -EINVAL },
	{ "uint, word", &ksm_f_sleep_millisecs, "abc", -EINVAL },
	{ "uint, trailing junk", &ksm_f_sleep_millisecs, "20ms", -EINVAL },
	{ "uint, two numbers", &ksm_f_sleep_millisecs, "20 30", -EINVAL },
	{ "run 0", &ksm_f_run, "0", 0, KSM_RUN_STOP },
	{ "run 1", &ksm_f_run, "1", 0, KSM_RUN_MERGE },
	{ "run 2", &ksm_f_run, "2", 0, KSM_RUN_UNMERGE },
	{ "run 3", &ksm_f_run, "3", -EINVAL },
	{ "int, min", &ksm_f_max_page_sharing, "2", 0, 2 },
	{ "int, below min", &ksm_f_max_page_sharing, "1", -EINVAL },
	{ "int, negative", &ksm_f_max_page_sharing, "-5", -EINVAL },
	{ "int, max", &ksm_f_max_page_sharing, "2147483647", 0, INT_MAX },
	{ "int, overflow is ERANGE", &ksm_f_max_page_sharing, "2147483648",
	  -ERANGE },
	{ "bool, y", &ksm_f_use_zero_pages, "y", 0, 1 },
	{ "bool, 0", &ksm_f_use_zero_pages, "0", 0, 0 },
	{ "bool, on", &ksm_f_use_zero_pages, "on", 0, 1 },
	{ "bool, 2", &ksm_f_use_zero_pages, "2", -EINVAL },
	{ "bool, word", &ksm_f_use_zero_pages, "maybe", -EINVAL },
#ifdef CONFIG_NUMA
	{ "flag, 0", &ksm_f_merge_across_nodes, "0", 0, 0 },
	{ "flag, 1", &ksm_f_merge_across_nodes, "1", 0, 1 },
	{ "flag, 2", &ksm_f_merge_across_nodes, "2", -EINVAL },
	{ "flag, y is not a number", &ksm_f_merge_across_nodes, "y", -EINVAL },
	{ "flag, overflow is ERANGE", &ksm_f_merge_across_nodes,
	  "99999999999999999999999", -ERANGE },
#endif
};

static void ksm_parse_case_desc(const struct ksm_parse_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s: \"%s\"", c->desc, c->input);
}

KUNIT_ARRAY_PARAM(ksm_parse, ksm_parse_cases, ksm_parse_case_desc);

static void ksm_test_parse(struct kunit *test)
{
	const struct ksm_parse_case *c = test->param_value;
	unsigned int val = 0xdead;

	KUNIT_EXPECT_EQ(test, ksm_file_check(c->file, c->input, &val), c->err);
	if (!c->err)
		KUNIT_EXPECT_EQ(test, val, c->val);
}

/* Every counter is read only, every knob writable. */
static void ksm_test_modes(struct kunit *test)
{
	struct attribute **a;
	struct ksm_file *f;

	for (a = ksm_files; *a; a++) {
		f = to_ksm_file(container_of(*a, struct kobj_attribute, attr));
		if (f->type == KSM_COUNT || f->type == KSM_DERIVED) {
			KUNIT_EXPECT_EQ_MSG(test, (*a)->mode, 0444, "%s", (*a)->name);
			KUNIT_EXPECT_PTR_EQ(test, f->kattr.store, NULL);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, (*a)->mode, 0644, "%s", (*a)->name);
			KUNIT_EXPECT_LE_MSG(test, f->min, f->max, "%s", (*a)->name);
		}
	}
}

static struct kunit_case ksm_sysfs_test_cases[] = {
	KUNIT_CASE_PARAM(ksm_test_parse, ksm_parse_gen_params),
	KUNIT_CASE(ksm_test_modes),
	{},
};

static struct kunit_suite ksm_sysfs_test_suite = {
	.name = "ksm_sysfs",
	.test_cases = ksm_sysfs_test_cases,
};

kunit_test_suite(ksm_sysfs_test_suite);

#endif /* _MM_KSM_SYSFS_TEST_H */

#endif /* CONFIG_KSM_KUNIT_TEST */
