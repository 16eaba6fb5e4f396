// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: merge domains.  With merge_domain other than "global", a page only
 * ever shares a KSM page with pages of its own domain: the memory cgroup
 * of its process (or the outermost ancestor that made its subtree one
 * domain, memory.ksm_domain), or its process's uid and gid (with its user
 * namespace and capabilities, outside the initial one).  Under "user",
 * a process merges with nothing unless another process of its uid and gid
 * may read its memory (/proc/PID/mem): no other should be able to probe
 * it.  See ksm_user_domain().  The domain of a page is its mm's, taken
 * from mm->owner when ksmd looks: a process that moves to another cgroup,
 * or changes uid, moves its pages with it.
 *
 * A domain is a 64-bit key.  The stable trees are ordered by key first,
 * then by checksum and content; every stable node keeps the key it was
 * made with, and a mapping whose mm's key is no longer its node's is
 * unshared at ksmd's next visit (scan.c).  The unstable table mixes the key
 * into the bucket, and a candidate's key is taken afresh before a
 * merge.  Two ways of mapping a KSM page that ksmd does not see are closed
 * too: a page other mms may map as well (shared by a fork) never becomes a
 * KSM page (merge.c), and a swapin gives a process a copy of a KSM page of
 * another domain than its own (rmap.c).  The zero page (use_zero_pages) is
 * the one thing shared across domains: every process can map it anyway, so
 * merging with it tells nothing of another domain.  A memory cgroup can
 * still refuse it for its subtree (memory.ksm_use_zero_pages 0): its
 * zero-filled pages then merge within their domain, as any other content.
 *
 * The settings of a memory cgroup (memory.ksm, memory.ksm_domain) are kept
 * here, in an xarray indexed by cgroup id, for the cgroups that have any:
 * struct mem_cgroup does not grow for the hosts that never use them.
 */
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/rcupdate.h>
#include <linux/random.h>
#include <linux/sched/coredump.h>
#include <linux/siphash.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>

#include "ksm.h"

unsigned int ksm_merge_domain = KSM_DOMAIN_GLOBAL;

/*
 * Drawn at boot: the key of the hash that gives a domain its bucket tag in
 * the unstable table (ksm_domain_tag()), and a user namespace's domains
 * their keys.  No one can pick domains whose tags meet, to fill the bucket
 * of another domain's content with pages that are not its own.
 */
siphash_key_t ksm_domain_secret __ro_after_init;

/**
 * ksm_domain_init() - draw the domains' secret
 *
 * Context: boot, from ksm_init().
 */
void __init ksm_domain_init(void)
{
	get_random_bytes(&ksm_domain_secret, sizeof(ksm_domain_secret));
}

#ifdef CONFIG_MEMCG
/* cgroup id -> xa_mk_value(KSM_MEMCG_* bits), for cgroups that set any. */
static DEFINE_XARRAY(ksm_memcg_settings);
/*
 * Writers of the settings, innermost: a change reads the bits, then stores
 * them, and a store may let go of the xarray's lock to allocate.
 */
static DEFINE_MUTEX(ksm_memcg_settings_mutex);

/**
 * ksm_memcg_flags() - the KSM settings of a memory cgroup
 * @memcg: the cgroup
 *
 * Context: any; @memcg pinned or under rcu_read_lock().
 * Return: its KSM_MEMCG_* bits, 0 for a cgroup that set none.
 */
unsigned long ksm_memcg_flags(struct mem_cgroup *memcg)
{
	void *entry = xa_load(&ksm_memcg_settings,
			      (unsigned long)cgroup_id(memcg->css.cgroup));

	return entry ? xa_to_value(entry) : 0;
}

/**
 * ksm_memcg_set_flags() - change some KSM settings of a memory cgroup
 * @memcg: the cgroup, pinned by the caller
 * @mask: the KSM_MEMCG_* bits to change
 * @bits: their new values
 *
 * Context: process context; may sleep.
 * Return: 0, or -ENOMEM.
 */
int ksm_memcg_set_flags(struct mem_cgroup *memcg, unsigned long mask,
			unsigned long bits)
{
	unsigned long id = (unsigned long)cgroup_id(memcg->css.cgroup);
	unsigned long val;
	void *old;
	int err = 0;

	mutex_lock(&ksm_memcg_settings_mutex);
	old = xa_load(&ksm_memcg_settings, id);
	val = ((old ? xa_to_value(old) : 0) & ~mask) | (bits & mask);
	if (val)
		err = xa_err(xa_store(&ksm_memcg_settings, id,
				      xa_mk_value(val), GFP_KERNEL));
	else
		xa_erase(&ksm_memcg_settings, id);
	mutex_unlock(&ksm_memcg_settings_mutex);
	return err;
}

/**
 * ksm_memcg_forget() - forget the settings of a memory cgroup that goes
 * @memcg: the cgroup, going offline, or hidden (reset)
 *
 * Going offline, it has no file left and no process in it.  The settings
 * go then rather than when it is freed: pages still charged to it keep it
 * until they are, and by then a new memory cgroup may be in its cgroup's
 * place (the controller enabled again), with the same cgroup id and
 * settings of its own.  A memory cgroup that another controller depends on
 * (io) is not taken away when the controller is disabled, only hidden,
 * with its settings reset: its processes stay in it.
 *
 * Context: from mem_cgroup_css_offline() or mem_cgroup_css_reset().
 */
void ksm_memcg_forget(struct mem_cgroup *memcg)
{
	mutex_lock(&ksm_memcg_settings_mutex);
	xa_erase(&ksm_memcg_settings,
		 (unsigned long)cgroup_id(memcg->css.cgroup));
	mutex_unlock(&ksm_memcg_settings_mutex);
}

/**
 * ksm_memcg_merge() - memory.ksm as it applies to a memory cgroup
 * @memcg: the cgroup
 *
 * The value of the nearest cgroup, @memcg or an ancestor, that set one.
 *
 * Context: @memcg pinned or under rcu_read_lock().
 * Return: 1 or 0, or -1 if none up to the root set it.
 */
int ksm_memcg_merge(struct mem_cgroup *memcg)
{
	unsigned long flags;

	for (; memcg; memcg = parent_mem_cgroup(memcg)) {
		flags = ksm_memcg_flags(memcg);
		if (flags & KSM_MEMCG_MERGE_SET)
			return !!(flags & KSM_MEMCG_MERGE_ON);
	}
	return -1;
}

/* The cgroup id of @memcg's domain: of its outermost ksm_domain ancestor. */
static u64 ksm_memcg_domain(struct mem_cgroup *memcg)
{
	struct mem_cgroup *root = memcg, *m;

	for (m = memcg; m; m = parent_mem_cgroup(m))
		if (ksm_memcg_flags(m) & KSM_MEMCG_DOMAIN)
			root = m;
	return cgroup_id(root->css.cgroup);
}

/*
 * The "user" domain of @cred, of a user namespace other than the initial
 * one.  ptrace's check lets a process read another of its uid and gid in
 * its own namespace if it holds every capability the other holds there,
 * and never one in another namespace without CAP_SYS_PTRACE over that
 * namespace, which no process of a container holds over a sibling's, nor
 * over its host's.  So two such processes may read each other only in one
 * namespace, with the same ids and the same capabilities: that is the
 * domain.  Those do not fit in a 64-bit key; it is a hash of them, keyed
 * with a secret of this boot.  Two of these domains, or one of them and a
 * domain of the initial namespace, share a key with odds of 2^-64 a pair,
 * which no one can better without the secret.  The namespace is told by
 * its serial number, not by its address or inode number: a namespace made
 * after another was freed often takes both, while memory of the old one's
 * processes that another task still holds (KSM_DOMAIN_UNKNOWN) may still
 * map KSM pages of its keys.
 */
static u64 ksm_userns_domain(const struct cred *cred)
{
	u64 caps = 0, key;
	unsigned int i;

	BUILD_BUG_ON(_KERNEL_CAPABILITY_U32S > 2);
	CAP_FOR_EACH_U32(i)
		caps |= (u64)cred->cap_permitted.cap[i] << (32 * i);
	key = siphash_3u64(cred->user_ns->serial,
			   (u64)__kgid_val(cred->gid) << 32 |
			   __kuid_val(cred->uid), caps, &ksm_domain_secret);
	/* Not one of the two keys that are no domain. */
	return min(key, KSM_DOMAIN_UNKNOWN - 1);
}

/* The ids and capabilities half of ksm_user_domain(). */
static u64 ksm_cred_domain(const struct cred *cred)
{
	if (!uid_eq(cred->uid, cred->euid) || !uid_eq(cred->uid, cred->suid) ||
	    !uid_eq(cred->uid, cred->fsuid) ||
	    !gid_eq(cred->gid, cred->egid) || !gid_eq(cred->gid, cred->sgid) ||
	    !gid_eq(cred->gid, cred->fsgid))
		return KSM_NO_DOMAIN;
	if (cred->user_ns != &init_user_ns)
		return ksm_userns_domain(cred);
	if (cap_isclear(cred->cap_permitted))
		return (u64)__kgid_val(cred->gid) << 32 | __kuid_val(cred->uid);
	/* root with every capability: it may read any of its peers. */
	if (uid_eq(cred->uid, GLOBAL_ROOT_UID) &&
	    gid_eq(cred->gid, GLOBAL_ROOT_GID) &&
	    cap_issubset(CAP_FULL_SET, cred->cap_permitted))
		return 0;
	return KSM_NO_DOMAIN;
}

/*
 * "user": the uid and gid of @owner, if a process of that uid and gid,
 * without privilege, may read @mm (ptrace's access check, without
 * CAP_SYS_PTRACE): @mm is dumpable, the real, effective, saved and
 * filesystem ids are one uid and one gid, and @owner holds no capability
 * (of the initial user namespace).
 * root's processes with every capability, all their ids 0, are one
 * domain: each may read the others.  Else KSM_NO_DOMAIN.  (Neither key
 * can be KSM_NO_DOMAIN or KSM_DOMAIN_UNKNOWN: -1 is no valid id.)  A
 * process of another user namespace than the initial one is of a domain
 * of its namespace, ids and capabilities: see ksm_userns_domain().
 *
 * Context: rcu_read_lock() held, @owner from mm->owner.
 */
static u64 ksm_user_domain(struct mm_struct *mm, struct task_struct *owner)
{
	if (get_dumpable(mm) != SUID_DUMP_USER)
		return KSM_NO_DOMAIN;
	return ksm_cred_domain(__task_cred(owner));
}

/**
 * ksm_mm_domain() - the merge domain of an mm's pages now
 * @mm: the mm, which the caller keeps from being freed
 *
 * Context: any; takes rcu_read_lock().
 * Return: the domain key, 0 for "global"; KSM_NO_DOMAIN if under "user"
 * no other process may read @mm (it merges with nothing);
 * KSM_DOMAIN_UNKNOWN if @mm has no owner any more: its last task exited,
 * while another holds a user of the mm (vhost, a reader of /proc/PID/mem),
 * and the domain cannot be told until the mm goes.
 */
u64 ksm_mm_domain(struct mm_struct *mm)
{
	unsigned int mode = READ_ONCE(ksm_merge_domain);
	struct task_struct *owner;
	u64 key = KSM_DOMAIN_UNKNOWN;

	if (mode == KSM_DOMAIN_GLOBAL)
		return 0;
	rcu_read_lock();
	owner = rcu_dereference(mm->owner);
	if (owner) {
		if (mode == KSM_DOMAIN_USER)
			key = ksm_user_domain(mm, owner);
		else if (mem_cgroup_disabled())
			key = 0;
		else
			key = ksm_memcg_domain(mem_cgroup_from_task(owner));
	}
	rcu_read_unlock();
	return key;
}

/**
 * ksm_mm_zero_ok() - may an mm's pages of zeroes map the zero page?
 * @mm: the mm, which the caller keeps from being freed
 *
 * Context: any; takes rcu_read_lock().
 * Return: false if memory.ksm_use_zero_pages is 0 for the memory cgroup of
 * @mm's owner or an ancestor of it.
 */
bool ksm_mm_zero_ok(struct mm_struct *mm)
{
	struct task_struct *owner;
	struct mem_cgroup *memcg;
	bool ok = true;

	if (mem_cgroup_disabled())
		return true;
	rcu_read_lock();
	owner = rcu_dereference(mm->owner);
	memcg = owner ? mem_cgroup_from_task(owner) : NULL;
	for (; memcg && ok; memcg = parent_mem_cgroup(memcg))
		ok = !(ksm_memcg_flags(memcg) & KSM_MEMCG_NO_ZERO);
	rcu_read_unlock();
	return ok;
}

/**
 * ksm_domain_mode_ok() - can merge_domain take this mode here?
 * @mode: a KSM_DOMAIN_* value
 *
 * Return: true unless @mode is "memcg" and memory cgroups are disabled.
 */
bool ksm_domain_mode_ok(unsigned int mode)
{
	return mode != KSM_DOMAIN_MEMCG || !mem_cgroup_disabled();
}
#else /* !CONFIG_MEMCG */
u64 ksm_mm_domain(struct mm_struct *mm)
{
	return 0;
}

bool ksm_mm_zero_ok(struct mm_struct *mm)
{
	return true;
}

bool ksm_domain_mode_ok(unsigned int mode)
{
	/* Without mm->owner there is no domain to tell. */
	return mode == KSM_DOMAIN_GLOBAL;
}
#endif /* CONFIG_MEMCG */

#include "domain-test.h"
