// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the files of a memory cgroup, on the unified hierarchy.
 *
 * memory.ksm ("inherit", 0 or 1) switches merging on or off for every
 * process of the cgroup and of its descendants that do not set their own,
 * as if each had called prctl(PR_SET_MEMORY_MERGE): at the write, and for
 * a process that joins later (moved there, or created there by clone3()
 * with CLONE_INTO_CGROUP), at its next return to user space.  A process
 * may still call the prctl itself afterwards.  A write that could not
 * switch a process (out of memory) goes on with the others and fails.
 *
 * memory.ksm_domain (0 or 1) makes the cgroup's whole subtree one merge
 * domain when merge_domain is "memcg" (domain.c).
 *
 * memory.ksm_use_zero_pages (1 or 0): 0 keeps the pages of zeroes of the
 * subtree's processes from the zero page, which use_zero_pages would give
 * them, shared with every domain; they merge within their domain instead.
 *
 * memory.ksm_stat adds up the KSM counters of the cgroup's processes,
 * descendants included, as /proc/PID/ksm_stat shows them for one.
 *
 * An mm is its owner's (mm->owner, a thread that uses it): its merge
 * domain is taken from the owner's cgroup (domain.c), and so are the
 * memory.ksm that switches it and the memory.ksm_stat that counts it.
 * Processes that share one mm (clone() with CLONE_VM) count it once, and
 * a process whose main thread exited, its other threads running on, is
 * where those threads are, as its owner is one of them.
 */
#include <linux/cgroup.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/task_work.h>

#include "ksm.h"

/* memory.ksm as it applies to @task now. */
static int ksm_task_merge(struct task_struct *task)
{
	int merge;

	rcu_read_lock();
	merge = ksm_memcg_merge(mem_cgroup_from_task(task));
	rcu_read_unlock();
	return merge;
}

/*
 * Make @mm merge, or not, as memory.ksm says for @owner, its owner, if it
 * says anything.  Writers of memory.ksm do not wait for each other: each
 * stores its setting, then switches the mms of its subtree one by one,
 * and so does a process joining a cgroup.  The setting is read again
 * under the mmap_lock: of two switches of one mm, the later reads what the
 * earlier one's writer had stored, so the last setting stored is the one
 * an mm is left with, and a tenant switching many processes holds up no
 * other tenant's write.  A setting read as unset without the lock can be
 * trusted: a writer that sets it walks its subtree after.  Writes that race
 * are not made one after the other: a write of 0 or 1 that meets the mm
 * after a later "inherit" (which switches nothing) leaves it as it was,
 * and a write switches each mm to the setting it reads there, and fails
 * with the error of that switch.
 */
static int ksm_memcg_apply(struct mm_struct *mm, struct task_struct *owner)
{
	int merge, err = 0;

	if (ksm_task_merge(owner) < 0)
		return 0;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	merge = ksm_task_merge(owner);
	if (merge >= 0)
		err = merge ? ksm_enable_merge_any(mm) :
			      ksm_disable_merge_any(mm);
	mmap_write_unlock(mm);
	return err;
}

/* Does @task own the mm it uses?  Under task_lock(@task). */
static bool ksm_owns_mm(struct task_struct *task)
{
	struct mm_struct *mm = task->mm;

	return mm && !(task->flags & PF_KTHREAD) &&
	       rcu_access_pointer(mm->owner) == task;
}

/*
 * The mm that @task owns, with a user reference, or NULL if it owns none.
 * An mm has one owner at a time: a walk of the threads of a cgroup's
 * subtree meets each mm of the subtree once.
 */
static struct mm_struct *ksm_owned_mm(struct task_struct *task)
{
	struct mm_struct *mm = NULL;

	task_lock(task);
	if (ksm_owns_mm(task)) {
		mm = task->mm;
		mmget(mm);
	}
	task_unlock(task);
	return mm;
}

/*
 * Call @fn on each mm owned by a thread of @memcg or of its descendants,
 * with that thread, until it returns nonzero; return that, or 0.
 */
typedef int ksm_mm_fn(struct mm_struct *mm, struct task_struct *owner,
		      void *arg);

static int ksm_memcg_walk_mms(struct mem_cgroup *memcg, ksm_mm_fn *fn,
			      void *arg)
{
	struct mem_cgroup *iter;
	struct css_task_iter it;
	struct task_struct *task;
	struct mm_struct *mm;
	int ret = 0;

	for (iter = mem_cgroup_iter(memcg, NULL, NULL); iter;
	     iter = mem_cgroup_iter(memcg, iter, NULL)) {
		css_task_iter_start(&iter->css, 0, &it);
		while (!ret && (task = css_task_iter_next(&it))) {
			mm = ksm_owned_mm(task);
			if (mm) {
				ret = fn(mm, task, arg);
				mmput(mm);
			}
			cond_resched();
		}
		css_task_iter_end(&it);
		if (ret) {
			mem_cgroup_iter_break(memcg, iter);
			break;
		}
		/* A subtree of many cgroups without tasks. */
		cond_resched();
	}
	return ret;
}

/*
 * A process that could not be switched (out of memory) is skipped, not the
 * rest: the write then fails with the first such error.  A fatal signal
 * for the writer stops it at once.
 */
static int ksm_memcg_apply_mm(struct mm_struct *mm, struct task_struct *owner,
			      void *arg)
{
	int *first = arg, err;

	err = ksm_memcg_apply(mm, owner);
	if (err == -EINTR || err == -ERESTARTSYS)
		return err;
	if (err && !*first)
		*first = err;
	return 0;
}

static int ksm_memcg_merge_show(struct seq_file *m, void *v)
{
	unsigned long flags = ksm_memcg_flags(mem_cgroup_from_seq(m));

	if (!(flags & KSM_MEMCG_MERGE_SET))
		seq_puts(m, "inherit\n");
	else
		seq_printf(m, "%d\n", !!(flags & KSM_MEMCG_MERGE_ON));
	return 0;
}

static ssize_t ksm_memcg_merge_write(struct kernfs_open_file *of, char *buf,
				     size_t nbytes, loff_t off)
{
	struct mem_cgroup *memcg = mem_cgroup_from_css(of_css(of));
	unsigned long bits;
	int err, first = 0;

	buf = strstrip(buf);
	if (!strcmp(buf, "inherit"))
		bits = 0;
	else if (!strcmp(buf, "0"))
		bits = KSM_MEMCG_MERGE_SET;
	else if (!strcmp(buf, "1"))
		bits = KSM_MEMCG_MERGE_SET | KSM_MEMCG_MERGE_ON;
	else
		return -EINVAL;

	err = ksm_memcg_set_flags(memcg, KSM_MEMCG_MERGE_SET |
				  KSM_MEMCG_MERGE_ON, bits);
	if (!err)
		err = ksm_memcg_walk_mms(memcg, ksm_memcg_apply_mm, &first);
	if (!err)
		err = first;
	return err ? err : nbytes;
}

/*
 * memory.ksm_domain and memory.ksm_use_zero_pages: a 0/1 file over the
 * flag bit in the cftype's private field, which reads 1 when the bit is
 * set, or with KSM_MEMCG_FILE_INVERT there, when it is clear.
 */
#define KSM_MEMCG_FILE_INVERT	BIT(31)

static int ksm_memcg_bool_show(struct seq_file *m, void *v)
{
	unsigned long priv = seq_cft(m)->private;
	unsigned long flags = ksm_memcg_flags(mem_cgroup_from_seq(m));
	bool set = flags & priv & ~KSM_MEMCG_FILE_INVERT;

	seq_printf(m, "%d\n", set != !!(priv & KSM_MEMCG_FILE_INVERT));
	return 0;
}

static ssize_t ksm_memcg_bool_write(struct kernfs_open_file *of, char *buf,
				    size_t nbytes, loff_t off)
{
	unsigned long priv = of_cft(of)->private;
	unsigned long bit = priv & ~KSM_MEMCG_FILE_INVERT;
	unsigned int val;
	int err;

	err = kstrtouint(strstrip(buf), 10, &val);
	if (err || val > 1)
		return -EINVAL;
	if (priv & KSM_MEMCG_FILE_INVERT)
		val = !val;
	err = ksm_memcg_set_flags(mem_cgroup_from_css(of_css(of)), bit,
				  val ? bit : 0);
	return err ? err : nbytes;
}

struct ksm_memcg_sum {
	unsigned long rmap_items;
	unsigned long zero_pages;
	unsigned long merging_pages;
	long profit;
};

static int ksm_memcg_add_mm(struct mm_struct *mm, struct task_struct *owner,
			    void *arg)
{
	struct ksm_memcg_sum *sum = arg;

	sum->rmap_items += READ_ONCE(mm->ksm_rmap_items);
	sum->zero_pages += atomic_long_read(&mm->ksm_zero_pages);
	sum->merging_pages += READ_ONCE(mm->ksm_merging_pages);
	sum->profit += ksm_process_profit(mm);
	return 0;
}

static int ksm_memcg_stat_show(struct seq_file *m, void *v)
{
	struct ksm_memcg_sum sum = {};

	ksm_memcg_walk_mms(mem_cgroup_from_seq(m), ksm_memcg_add_mm, &sum);
	seq_printf(m, "ksm_rmap_items %lu\n", sum.rmap_items);
	seq_printf(m, "ksm_zero_pages %lu\n", sum.zero_pages);
	seq_printf(m, "ksm_merging_pages %lu\n", sum.merging_pages);
	seq_printf(m, "ksm_process_profit %ld\n", sum.profit);
	return 0;
}

static struct cftype ksm_memcg_files[] = {
	{
		.name = "ksm",
		.flags = CFTYPE_NOT_ON_ROOT,
		.seq_show = ksm_memcg_merge_show,
		.write = ksm_memcg_merge_write,
	},
	{
		/* ksmd unshares what a change leaves across domains (scan.c). */
		.name = "ksm_domain",
		.flags = CFTYPE_NOT_ON_ROOT,
		.private = KSM_MEMCG_DOMAIN,
		.seq_show = ksm_memcg_bool_show,
		.write = ksm_memcg_bool_write,
	},
	{
		/* Pages already on the zero page stay, as for use_zero_pages. */
		.name = "ksm_use_zero_pages",
		.flags = CFTYPE_NOT_ON_ROOT,
		.private = KSM_MEMCG_NO_ZERO | KSM_MEMCG_FILE_INVERT,
		.seq_show = ksm_memcg_bool_show,
		.write = ksm_memcg_bool_write,
	},
	{
		.name = "ksm_stat",
		.flags = CFTYPE_NOT_ON_ROOT,
		.seq_show = ksm_memcg_stat_show,
	},
	{ }	/* terminate */
};

/* The work a process that joined a cgroup does on its way to user space. */
static void ksm_memcg_joined(struct callback_head *work)
{
	kfree(work);
	if (current->mm && !(current->flags & PF_KTHREAD))
		ksm_memcg_apply(current->mm, current);
}

/**
 * ksm_memcg_attach() - a thread joined a memory cgroup
 * @task: the thread, a process's leader when it was created there
 *
 * If @task owns its mm and memory.ksm is set for its new cgroup, it
 * switches merging on or off for the mm itself, at its next return to user
 * space.  A sleeping thread is woken for it, as by a signal that has no
 * handler: most system calls then restart, but one that returns EINTR
 * for any signal (epoll_wait(), for one) returns it here too, as it does
 * when a debugger attaches.  A process that moves has its mm switched
 * once, through the owner, whichever of its threads that is.
 *
 * Context: from mem_cgroup_attach(), cgroup_mutex held, or from
 * ksm_memcg_fork().
 */
void ksm_memcg_attach(struct task_struct *task)
{
	struct callback_head *work;
	bool owner;

	task_lock(task);
	owner = ksm_owns_mm(task);
	task_unlock(task);
	if (!owner || ksm_task_merge(task) < 0)
		return;
	work = kmalloc(sizeof(*work), GFP_KERNEL);
	if (!work)
		return;
	init_task_work(work, ksm_memcg_joined);
	if (task_work_add(task, work, TWA_SIGNAL))
		kfree(work);	/* it is exiting */
}

/**
 * ksm_memcg_fork() - a new process, maybe in another cgroup than its parent
 * @task: the child, a thread group leader
 *
 * clone3(CLONE_INTO_CGROUP) places a child in a cgroup without attaching
 * it: memory.ksm of a memory cgroup other than its parent's applies to it
 * as to a process that joined.  A child that shares its parent's mm
 * (CLONE_VM: vfork, posix_spawn) is left alone: switching it would switch
 * its parent.
 *
 * Context: from mem_cgroup_fork(), in the parent.
 */
void ksm_memcg_fork(struct task_struct *task)
{
	bool moved;

	if (!task->mm || task->mm == current->mm)
		return;
	rcu_read_lock();
	moved = mem_cgroup_from_task(task) != mem_cgroup_from_task(current);
	rcu_read_unlock();
	if (moved)
		ksm_memcg_attach(task);
}

/* After ksm_init(): the files only once KSM runs. */
static int __init ksm_memcg_init(void)
{
	if (!ksm_thread)
		return 0;
	return cgroup_add_dfl_cftypes(&memory_cgrp_subsys, ksm_memcg_files);
}
subsys_initcall_sync(ksm_memcg_init);
