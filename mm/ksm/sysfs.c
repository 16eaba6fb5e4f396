// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the files of /sys/kernel/mm/ksm, described by a table: each file
 * names its variable (core.c), its type and how a write is checked.  Input
 * is parsed strictly; a rejected write leaves the value as it was.  A
 * write only calls down: into the scanner for run, into the stable trees
 * to see that no KSM page is left.
 */
#include <linux/kobject.h>
#include <linux/kstrtox.h>
#include <linux/sysfs.h>

#include "ksm.h"

enum ksm_file_type {
	KSM_UINT,	/* unsigned int knob */
	KSM_INT,	/* int knob */
	KSM_BOOL,	/* bool knob, written as kstrtobool() takes it */
	KSM_FLAG,	/* bool knob, written as the number 0 or 1 */
	KSM_COUNT,	/* unsigned long counter, read only */
	KSM_DERIVED,	/* long computed by a function, read only */
};

/* Extra checks and effects of a write. */
#define KSM_F_WAKE	0x1	/* wake ksmd: it may sleep differently */
#define KSM_F_NO_PAGES	0x2	/* refused (-EBUSY) while KSM pages exist */
#define KSM_F_RUN	0x4	/* the run file */
#define KSM_F_ERANGE	0x8	/* overflow is -ERANGE, not -EINVAL (as 6.1) */
#define KSM_F_PASS	0x10	/* read outside a pass end (full_scans) */
#define KSM_F_ADVISED	0x20	/* refused (-EINVAL) while the advisor is on */

struct ksm_file {
	struct kobj_attribute kattr;
	void *var;
	long (*derive)(void);	/* KSM_DERIVED */
	unsigned int type;
	unsigned int flags;
	unsigned int min, max;	/* a value outside is -EINVAL */
};

#define to_ksm_file(a)	container_of(a, struct ksm_file, kattr)

static long ksm_pages_volatile(void)
{
	long vol = (long)READ_ONCE(ksm_rmap_items) -
		   (long)READ_ONCE(ksm_pages_shared) -
		   (long)READ_ONCE(ksm_pages_sharing) -
		   (long)READ_ONCE(ksm_pages_unshared);

	/* The counters are read racily: do not show a transient < 0. */
	return vol > 0 ? vol : 0;
}

static long ksm_zero_pages_now(void)
{
	return atomic_long_read(&ksm_zero_pages);
}

/*
 * What KSM saves in all, in bytes: the mappings merged into a KSM page
 * beyond its first, and the KSM zero pages, less the memory of the rmap
 * items.  Negative while KSM costs more than it saves.
 */
static long ksm_general_profit(void)
{
	long saved = (long)READ_ONCE(ksm_pages_sharing) +
		     atomic_long_read(&ksm_zero_pages);

	return saved * (long)PAGE_SIZE -
	       (long)READ_ONCE(ksm_rmap_items) *
	       (long)sizeof(struct ksm_rmap_item);
}

static unsigned int ksm_file_get(struct ksm_file *f)
{
	switch (f->type) {
	case KSM_BOOL:
	case KSM_FLAG:
		return READ_ONCE(*(bool *)f->var);
	case KSM_INT:
		return READ_ONCE(*(int *)f->var);
	default:
		return READ_ONCE(*(unsigned int *)f->var);
	}
}

static void ksm_file_set(struct ksm_file *f, unsigned int val)
{
	switch (f->type) {
	case KSM_BOOL:
	case KSM_FLAG:
		WRITE_ONCE(*(bool *)f->var, val);
		break;
	case KSM_INT:
		WRITE_ONCE(*(int *)f->var, val);
		break;
	default:
		WRITE_ONCE(*(unsigned int *)f->var, val);
	}
}

/*
 * Parse a write to @f into *@val.  Anything but a number the knob takes
 * is refused with -EINVAL; as in 6.1, a number that overflows the type
 * of merge_across_nodes or max_page_sharing is refused with -ERANGE.
 */
static int ksm_file_parse(struct ksm_file *f, const char *buf,
			  unsigned int *val)
{
	unsigned long ul;
	bool flag;
	int err, n;

	switch (f->type) {
	case KSM_BOOL:
		err = kstrtobool(buf, &flag);
		if (err)
			return err;
		*val = flag;
		return 0;
	case KSM_INT:
		err = kstrtoint(buf, 10, &n);
		if (err)
			return err;
		if (n < (int)f->min || n > (int)f->max)
			return -EINVAL;
		*val = n;
		return 0;
	default:
		/*
		 * As unsigned long: only a number beyond that is -ERANGE (for
		 * merge_across_nodes, as in 6.1); a bigger one than max is
		 * merely out of range, -EINVAL.
		 */
		err = kstrtoul(buf, 10, &ul);
		if (err)
			return err;
		if (ul < f->min || ul > f->max)
			return -EINVAL;
		*val = ul;
		return 0;
	}
}

/*
 * Check a write to @f: the value in *@val, or the errno the write returns.
 * As in 6.1, only merge_across_nodes and max_page_sharing tell -ERANGE
 * from -EINVAL.
 */
static int ksm_file_check(struct ksm_file *f, const char *buf,
			  unsigned int *val)
{
	int err = ksm_file_parse(f, buf, val);

	if (err == -ERANGE && (f->flags & KSM_F_ERANGE))
		return -ERANGE;
	return err ? -EINVAL : 0;
}

static ssize_t ksm_file_show(struct kobject *kobj, struct kobj_attribute *a,
			     char *buf)
{
	struct ksm_file *f = to_ksm_file(a);
	unsigned long val;

	if (f->type == KSM_DERIVED)
		return sysfs_emit(buf, "%ld\n", f->derive());
	if (f->type != KSM_COUNT)
		return sysfs_emit(buf, "%u\n", ksm_file_get(f));
	/*
	 * full_scans is read under ksm_pass_mutex, never during the sweep
	 * that ends a pass, so the sweep that comes with its next move starts
	 * after the read: a KSM page whose last mapping the reader broke
	 * before reading it has left the counters once full_scans has moved
	 * on.
	 */
	if ((f->flags & KSM_F_PASS) && mutex_lock_killable(&ksm_pass_mutex))
		return -EINTR;
	val = READ_ONCE(*(unsigned long *)f->var);
	if (f->flags & KSM_F_PASS)
		mutex_unlock(&ksm_pass_mutex);
	return sysfs_emit(buf, "%lu\n", val);
}

/*
 * Settings that decide where KSM pages live can only change while there
 * are none.  ksm_run_mutex held; returns with ksm_mutex held on success.
 */
static int ksm_lock_if_no_ksm_pages(void)
{
	mutex_lock(&ksm_pass_mutex);
	ksm_lock();
	ksm_release_unmapped();
	mutex_unlock(&ksm_pass_mutex);
	if (ksm_pages_shared || !ksm_stable_empty()) {
		mutex_unlock(&ksm_mutex);
		return -EBUSY;
	}
	return 0;
}

static ssize_t ksm_file_store(struct kobject *kobj, struct kobj_attribute *a,
			      const char *buf, size_t count)
{
	struct ksm_file *f = to_ksm_file(a);
	unsigned int val;
	int err;

	err = ksm_file_check(f, buf, &val);
	if (err)
		return err;

	if (f->flags & (KSM_F_RUN | KSM_F_NO_PAGES)) {
		/* The value in force already: nothing to wait for. */
		if (!(f->flags & KSM_F_RUN) && val == ksm_file_get(f))
			return count;
		if (mutex_lock_interruptible(&ksm_run_mutex))
			return -ERESTARTSYS;
		if (f->flags & KSM_F_RUN) {
			err = ksm_set_run(val);
		} else {
			err = ksm_lock_if_no_ksm_pages();
			if (!err) {
				ksm_file_set(f, val);
				mutex_unlock(&ksm_mutex);
			}
		}
		mutex_unlock(&ksm_run_mutex);
	} else {
		mutex_lock(&ksm_ctl_mutex);
		if ((f->flags & KSM_F_ADVISED) &&
		    ksm_advisor_mode != KSM_ADVISOR_NONE)
			err = -EINVAL;
		else
			ksm_file_set(f, val);
		mutex_unlock(&ksm_ctl_mutex);
	}

	if (!err && (f->flags & KSM_F_WAKE))
		ksm_wake();
	return err ? err : count;
}

/* A file of choices reads as all of them, the one in force in brackets. */
static ssize_t ksm_show_choices(char *buf, const char * const *names,
				unsigned int n, unsigned int cur)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < n; i++)
		len += sysfs_emit_at(buf, len, i == cur ? "%s[%s]" : "%s%s",
				     i ? " " : "", names[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

/* advisor_mode: a choice of ksm_advisor_names, taken by name. */
static const char * const ksm_advisor_names[] = {
	[KSM_ADVISOR_NONE] = "none",
	[KSM_ADVISOR_SCAN_TIME] = "scan-time",
};

static ssize_t ksm_advisor_mode_show(struct kobject *kobj,
				     struct kobj_attribute *a, char *buf)
{
	return ksm_show_choices(buf, ksm_advisor_names,
				ARRAY_SIZE(ksm_advisor_names),
				READ_ONCE(ksm_advisor_mode));
}

static ssize_t ksm_advisor_mode_store(struct kobject *kobj,
				      struct kobj_attribute *a,
				      const char *buf, size_t count)
{
	int mode = sysfs_match_string(ksm_advisor_names, buf);

	if (mode < 0)
		return -EINVAL;
	mutex_lock(&ksm_ctl_mutex);
	ksm_advisor_set_mode(mode);
	mutex_unlock(&ksm_ctl_mutex);
	ksm_wake();
	return count;
}

/* A file of the table only for its attribute: not a number. */
static struct ksm_file ksm_f_advisor_mode = {
	.kattr = __ATTR(advisor_mode, 0644, ksm_advisor_mode_show,
			ksm_advisor_mode_store),
};

/*
 * merge_domain: a choice of ksm_domain_names, taken by name while there
 * are no KSM pages (as merge_across_nodes).
 */
static const char * const ksm_domain_names[] = {
	[KSM_DOMAIN_GLOBAL] = "global",
	[KSM_DOMAIN_MEMCG] = "memcg",
	[KSM_DOMAIN_USER] = "user",
};

static ssize_t ksm_merge_domain_show(struct kobject *kobj,
				     struct kobj_attribute *a, char *buf)
{
	return ksm_show_choices(buf, ksm_domain_names,
				ARRAY_SIZE(ksm_domain_names),
				READ_ONCE(ksm_merge_domain));
}

static ssize_t ksm_merge_domain_store(struct kobject *kobj,
				      struct kobj_attribute *a,
				      const char *buf, size_t count)
{
	int mode = sysfs_match_string(ksm_domain_names, buf);
	int err = 0;

	if (mode < 0 || !ksm_domain_mode_ok(mode))
		return -EINVAL;
	if (mode == READ_ONCE(ksm_merge_domain))
		return count;
	if (mutex_lock_interruptible(&ksm_run_mutex))
		return -ERESTARTSYS;
	err = ksm_lock_if_no_ksm_pages();
	if (!err) {
		WRITE_ONCE(ksm_merge_domain, mode);
		mutex_unlock(&ksm_mutex);
	}
	mutex_unlock(&ksm_run_mutex);
	return err ? err : count;
}

static struct ksm_file ksm_f_merge_domain = {
	.kattr = __ATTR(merge_domain, 0644, ksm_merge_domain_show,
			ksm_merge_domain_store),
};

#define KSM_KNOB(_name, _var, _type, _flags, _min, _max)		\
	static struct ksm_file ksm_f_##_name = {			\
		.kattr = __ATTR(_name, 0644, ksm_file_show,		\
				ksm_file_store),			\
		.var = _var, .type = _type, .flags = _flags,		\
		.min = _min, .max = _max,				\
	}

#define KSM_COUNTER(_name, _var, _flags)				\
	static struct ksm_file ksm_f_##_name = {			\
		.kattr = __ATTR(_name, 0444, ksm_file_show, NULL),	\
		.var = _var, .type = KSM_COUNT, .flags = _flags,	\
	}

#define KSM_DERIVED_COUNTER(_name, _fn)					\
	static struct ksm_file ksm_f_##_name = {			\
		.kattr = __ATTR(_name, 0444, ksm_file_show, NULL),	\
		.derive = _fn, .type = KSM_DERIVED,			\
	}

KSM_KNOB(run, &ksm_run, KSM_UINT, KSM_F_RUN, 0, KSM_RUN_UNMERGE);
KSM_KNOB(pages_to_scan, &ksm_pages_to_scan, KSM_UINT,
	 KSM_F_ADVISED | KSM_F_WAKE, 0, UINT_MAX);
KSM_KNOB(sleep_millisecs, &ksm_sleep_ms, KSM_UINT, KSM_F_WAKE, 0, UINT_MAX);
KSM_KNOB(use_zero_pages, &ksm_use_zero_pages, KSM_BOOL, 0, 0, 1);
KSM_KNOB(max_page_sharing, &ksm_max_page_sharing, KSM_INT,
	 KSM_F_NO_PAGES | KSM_F_ERANGE, 2, INT_MAX);
KSM_KNOB(stable_node_chains_prune_millisecs, &ksm_prune_ms, KSM_UINT, 0, 0,
	 UINT_MAX);
KSM_KNOB(smart_scan, &ksm_smart_scan, KSM_BOOL, 0, 0, 1);
KSM_KNOB(advisor_max_cpu, &ksm_advisor_max_cpu, KSM_UINT, 0, 1, 100);
KSM_KNOB(advisor_min_pages_to_scan, &ksm_advisor_min_pages, KSM_UINT,
	 0, 1, UINT_MAX);
KSM_KNOB(advisor_max_pages_to_scan, &ksm_advisor_max_pages, KSM_UINT,
	 0, 1, UINT_MAX);
KSM_KNOB(advisor_target_scan_time, &ksm_advisor_target_s, KSM_UINT, 0, 1,
	 UINT_MAX);
KSM_COUNTER(pages_shared, &ksm_pages_shared, 0);
KSM_COUNTER(pages_sharing, &ksm_pages_sharing, 0);
KSM_COUNTER(pages_unshared, &ksm_pages_unshared, 0);
KSM_DERIVED_COUNTER(pages_volatile, ksm_pages_volatile);
KSM_COUNTER(full_scans, &ksm_full_scans, KSM_F_PASS);
KSM_COUNTER(stable_node_chains, &ksm_stable_node_chains, 0);
KSM_COUNTER(stable_node_dups, &ksm_stable_node_dups, 0);
KSM_DERIVED_COUNTER(ksm_zero_pages, ksm_zero_pages_now);
KSM_DERIVED_COUNTER(general_profit, ksm_general_profit);
KSM_COUNTER(pages_scanned, &ksm_pages_scanned, 0);
KSM_COUNTER(pages_skipped, &ksm_pages_skipped, 0);
#ifdef CONFIG_NUMA
KSM_KNOB(merge_across_nodes, &ksm_merge_across_nodes, KSM_FLAG,
	 KSM_F_NO_PAGES | KSM_F_ERANGE, 0, 1);
#endif

static struct attribute *ksm_files[] = {
	&ksm_f_run.kattr.attr,
	&ksm_f_pages_to_scan.kattr.attr,
	&ksm_f_sleep_millisecs.kattr.attr,
	&ksm_f_use_zero_pages.kattr.attr,
	&ksm_f_max_page_sharing.kattr.attr,
	&ksm_f_stable_node_chains_prune_millisecs.kattr.attr,
	&ksm_f_pages_shared.kattr.attr,
	&ksm_f_pages_sharing.kattr.attr,
	&ksm_f_pages_unshared.kattr.attr,
	&ksm_f_pages_volatile.kattr.attr,
	&ksm_f_full_scans.kattr.attr,
	&ksm_f_stable_node_chains.kattr.attr,
	&ksm_f_stable_node_dups.kattr.attr,
	&ksm_f_ksm_zero_pages.kattr.attr,
	&ksm_f_general_profit.kattr.attr,
	&ksm_f_smart_scan.kattr.attr,
	&ksm_f_advisor_mode.kattr.attr,
	&ksm_f_advisor_max_cpu.kattr.attr,
	&ksm_f_advisor_min_pages_to_scan.kattr.attr,
	&ksm_f_advisor_max_pages_to_scan.kattr.attr,
	&ksm_f_advisor_target_scan_time.kattr.attr,
	&ksm_f_pages_scanned.kattr.attr,
	&ksm_f_pages_skipped.kattr.attr,
	&ksm_f_merge_domain.kattr.attr,
#ifdef CONFIG_NUMA
	&ksm_f_merge_across_nodes.kattr.attr,
#endif
	NULL,
};

static const struct attribute_group ksm_group = {
	.name = "ksm",
	.attrs = ksm_files,
};

/**
 * ksm_sysfs_init() - create /sys/kernel/mm/ksm
 *
 * Without sysfs, KSM runs from the start.
 *
 * Context: boot, from ksm_init().
 * Return: 0, or the error of sysfs_create_group().
 */
int __init ksm_sysfs_init(void)
{
#ifdef CONFIG_SYSFS
	return sysfs_create_group(mm_kobj, &ksm_group);
#else
	/* Nobody could ever start it: run from the start. */
	ksm_run = KSM_RUN_MERGE;
	return 0;
#endif
}

#include "sysfs-test.h"
