// SPDX-License-Identifier: GPL-2.0
/*
 * Migration and compaction of KSM pages under load, and merge_across_nodes
 * switched back and forth.  Needs two NUMA nodes (SKIP otherwise).
 *
 * Three processes keep 256 mergeable pages each, of a few contents (so that
 * pages merge within and across processes), rewriting some and checking all
 * of them; now and then each rebinds a random part of its memory to a node
 * with mbind(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL), or back to the default
 * policy (every call must succeed).  Meanwhile this process:
 *  - moves random pages of theirs, many of them KSM pages
 *    (/proc/PID/pagemap and /proc/kpageflags tell), to a random node with
 *    move_pages(MPOL_MF_MOVE_ALL); any status but the node, EBUSY,
 *    EAGAIN, ENOMEM or ENOENT (transient: counted, and together they must
 *    stay a minority; ENOENT is what a page under migration by compaction
 *    or mbind at that moment gives, its PTE then being a migration entry),
 *    and any error of the call itself, is a failure; a page that could not
 *    be moved is counted through the call's positive return; of the KSM
 *    pages that were on the other node before the call (the ones it had to
 *    move), at least MOVED_PCT % must be on the node asked for after it.
 *    Ours moves 99 % of them, stock 6.1 54 %: a migration fails when
 *    ksmd holds a reference to the page it moves, as ksmd does while it
 *    sleeps on that page's lock, which migration holds (ours did so until
 *    it learnt to wait with no reference: 79 to 86 %).  The workers' own
 *    mbind moves, compaction and run=2 race with these moves too;
 *  - writes 1 to /proc/sys/vm/compact_memory every 2 s;
 *  - every 6 s: stops ksmd (run=0) and, while KSM pages exist, writing the
 *    other merge_across_nodes must fail with EBUSY exactly, the value
 *    unchanged; then run=2 must unmerge everything (every counter 0), the
 *    other value must then be accepted, and run=1 starts merging again.
 * KSM must merge with both merge_across_nodes values; every page must hold
 * its content at every check.  The figures of the moves are printed.
 *
 * Usage: ksm_stress_migrate [-t SECONDS] [-s SEED]
 *
 * The lab's stress suite - suite: stress; limit: 300s; long: 300s
 */
#define _GNU_SOURCE
#include "ksm_util.h"
#include "ksm_stress.h"

#define DEFAULT_SECS	40
#define NWORKERS	3
#define NPAGES		256
#define NKEYS		4
#define BATCH		64
#define COMPACT_MS	2000
#define SWITCH_MS	6000
#define KPF_KSM		21
#define MOVED_PCT	95

struct control {
	int stop;
	char *area[NWORKERS];
	unsigned long mbind_calls, mbind_bad;
};

static struct control *ctl;
static unsigned long long rng;
static int kpf_fd;

/* The figures of the moves. */
static struct {
	unsigned long calls, call_errors, pages, ksm_pages;
	unsigned long ok, ebusy, eagain, enomem, enoent, other, not_moved;
	unsigned long on_node, ksm_to_move, ksm_moved;
	unsigned long kept_to_move, kept_moved;	/* still KSM pages after */
} mv;

static unsigned long compactions, compact_bad;
static unsigned long switches, switch_bad, busy_seen, busy_bad, zero_bad;
static unsigned long max_sharing[2];	/* by merge_across_nodes */

static unsigned long long below(unsigned long long n)
{
	return ksm_rand_below(&rng, n);
}

/* ---------------------------------------------------------------------- */
/* Workers.                                                               */
/* ---------------------------------------------------------------------- */

static unsigned long long worker_key(unsigned long long *s)
{
	return 3000 + ksm_rand_below(s, NKEYS);
}

/* Rebind part of the area, moving what is there; must succeed. */
static void worker_mbind(char *area, unsigned long long *s)
{
	unsigned long first = ksm_rand_below(s, NPAGES), n, mask;
	int mode, node = ksm_rand_below(s, 2);
	unsigned int flags = MPOL_MF_MOVE;
	long ret;

	n = 1 + ksm_rand_below(s, NPAGES - first);
	mask = 1UL << node;
	switch (ksm_rand_below(s, 4)) {
	case 0:
		/* The whole area back to the default policy. */
		ret = ksm_mbind(area, NPAGES * ksm_page_size, MPOL_DEFAULT, NULL, 0, 0);
		mode = MPOL_DEFAULT;
		break;
	case 1:
		mode = MPOL_PREFERRED;
		ret = ksm_mbind(area + first * ksm_page_size, n * ksm_page_size, mode,
				&mask, 8 * sizeof(mask), flags);
		break;
	default:
		mode = MPOL_BIND;
		flags |= ksm_rand_below(s, 2) ? MPOL_MF_MOVE_ALL : 0;
		ret = ksm_mbind(area + first * ksm_page_size, n * ksm_page_size, mode,
				&mask, 8 * sizeof(mask), flags);
	}
	__atomic_fetch_add(&ctl->mbind_calls, 1, __ATOMIC_RELAXED);
	ksm_stress_ops(1);
	if (ret && __atomic_fetch_add(&ctl->mbind_bad, 1, __ATOMIC_RELAXED) < 10)
		printf("# mbind(pages %lu+%lu, mode %d, node %d, flags %#x): %s\n",
		       first, n, mode, node, flags, strerror(errno));
}

static void worker(unsigned int id)
{
	unsigned long long s = ksm_rand_stream(100 + id), keys[NPAGES];
	long long next_check = 0;
	unsigned int i, p, iter = 0;
	size_t bad = 0;
	char *area;

	for (i = 0; i < NPAGES; i++)
		keys[i] = worker_key(&s);
	area = ksm_mmap_mergeable(keys, NPAGES);
	__atomic_store_n(&ctl->area[id], area, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&ctl->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < 2; i++) {
			p = ksm_rand_below(&s, NPAGES);
			keys[p] = worker_key(&s);
			ksm_fill_page(ksm_page_addr(area, p), keys[p]);
		}
		if (++iter % 25 == 0)
			worker_mbind(area, &s);
		if (ksm_now_ms() >= next_check) {
			bad += ksm_stress_verified(NPAGES,
						   ksm_check_pages(area, keys, NPAGES, "pages"));
			next_check = ksm_now_ms() + 500;
		}
		usleep(20000);
	}
	bad += ksm_stress_verified(NPAGES, ksm_check_pages(area, keys, NPAGES, "at the end"));
	fflush(stdout);
	_exit(bad ? 1 : 0);
}

/* ---------------------------------------------------------------------- */
/* Moves.                                                                 */
/* ---------------------------------------------------------------------- */

/* Is the page at @addr of the process behind @pm_fd a KSM page? */
static bool is_ksm(int pm_fd, void *addr)
{
	unsigned long long ent = 0, flags = 0;
	off_t off = (unsigned long)addr / ksm_page_size * sizeof(ent);

	if (pread(pm_fd, &ent, sizeof(ent), off) != sizeof(ent) ||
	    !(ent & KSM_PM_PRESENT) || !(ent & KSM_PM_PFN_MASK))
		return false;
	if (pread(kpf_fd, &flags, sizeof(flags), (ent & KSM_PM_PFN_MASK) * 8) != sizeof(flags))
		return false;
	return flags & (1ULL << KPF_KSM);
}

#define NOT_SET		(-1000)

static void move_batch(pid_t pid, int pm_fd, char *area)
{
	int nodes[BATCH], status[BATCH], where[BATCH], before[BATCH], node = below(2), i;
	void *pages[BATCH];
	bool ksm[BATCH];
	long ret;

	for (i = 0; i < BATCH; i++) {
		pages[i] = ksm_page_addr(area, below(NPAGES));
		nodes[i] = node;
		status[i] = NOT_SET;
		ksm[i] = is_ksm(pm_fd, pages[i]);
		mv.ksm_pages += ksm[i];
	}
	/* Where are they now?  Only pages on the other node have to move. */
	if (syscall(SYS_move_pages, pid, BATCH, pages, NULL, before, 0))
		for (i = 0; i < BATCH; i++)
			before[i] = node;
	mv.calls++;
	mv.pages += BATCH;
	ksm_stress_ops(1);
	ret = syscall(SYS_move_pages, pid, BATCH, pages, nodes, status, MPOL_MF_MOVE_ALL);
	if (ret < 0) {
		if (mv.call_errors++ < 10)
			ksft_print_msg("move_pages(pid %d, %d pages, node %d): %s\n", pid,
				       BATCH, node, strerror(errno));
		return;
	}
	/* A positive return: that many pages were not moved. */
	mv.not_moved += ret;
	for (i = 0; i < BATCH; i++) {
		if (status[i] == node || status[i] == NOT_SET)
			mv.ok += status[i] == node;
		else if (status[i] == -EBUSY)
			mv.ebusy++;
		else if (status[i] == -EAGAIN)
			mv.eagain++;
		else if (status[i] == -ENOMEM)
			mv.enomem++;
		else if (status[i] == -ENOENT)
			mv.enoent++;	/* being migrated by someone else */
		else if (mv.other++ < 10)
			ksft_print_msg("move_pages: page %p%s to node %d: status %d (%s)\n",
				       pages[i], ksm[i] ? " (KSM)" : "", node, status[i],
				       status[i] < 0 ? strerror(-status[i]) : "another node");
	}
	/* And after? */
	if (syscall(SYS_move_pages, pid, BATCH, pages, NULL, where, 0))
		return;
	for (i = 0; i < BATCH; i++) {
		mv.on_node += where[i] == node;
		if (!ksm[i] || before[i] < 0 || before[i] == node)
			continue;
		mv.ksm_to_move++;
		mv.ksm_moved += where[i] == node;
		if (!is_ksm(pm_fd, pages[i]))
			continue;
		mv.kept_to_move++;
		mv.kept_moved += where[i] == node;
	}
}

/* ---------------------------------------------------------------------- */
/* merge_across_nodes.                                                    */
/* ---------------------------------------------------------------------- */

static void switch_merge_across_nodes(void)
{
	unsigned long mode = ksm_read("merge_across_nodes"), shared0, shared1;
	char other[2] = { '0' + !mode, '\0' };
	int err;

	switches++;
	ksm_stress_ops(1);
	/* ksmd stopped, KSM pages left: the other value must be EBUSY. */
	ksm_set("run", 0);
	shared0 = ksm_read("pages_shared");
	if (shared0) {
		err = ksm_write_str("merge_across_nodes", other);
		shared1 = ksm_read("pages_shared");
		if (err == -EBUSY) {
			busy_seen++;
		} else if (shared1 || err) {
			ksft_print_msg("merge_across_nodes=%s, pages_shared %lu: %s, want EBUSY\n",
				       other, shared0, err ? strerror(-err) : "accepted");
			busy_bad++;
		}
		if (ksm_read("merge_across_nodes") != (err ? mode : !mode)) {
			ksft_print_msg("merge_across_nodes reads %lu after %s\n",
				       ksm_read("merge_across_nodes"),
				       err ? strerror(-err) : "success");
			busy_bad++;
		}
		if (!err) {
			ksm_set("run", 1);
			return;
		}
	}
	/* Unmerge all: every counter 0, then the switch is allowed. */
	if (!ksm_unmerge_all())
		zero_bad++;
	err = ksm_write_str("merge_across_nodes", other);
	if (err || ksm_read("merge_across_nodes") != !mode) {
		ksft_print_msg("merge_across_nodes=%s after run=2: %s, reads %lu\n", other,
			       err ? strerror(-err) : "accepted",
			       ksm_read("merge_across_nodes"));
		switch_bad++;
	}
	ksm_set("run", 1);
}

int main(int argc, char **argv)
{
	long long next_compact, next_switch, next_poll = 0;
	int pm_fd[NWORKERS];
	pid_t pids[NWORKERS];
	bool workers_ok = true;
	unsigned long moved_pct, transient;
	unsigned int i;
	char path[64];

	ksft_print_header();
	ksm_stress_init(argc, argv, DEFAULT_SECS);
	if (access(KSM_SYSFS_DIR "merge_across_nodes", F_OK))
		ksft_exit_skip("no merge_across_nodes (!CONFIG_NUMA)\n");
	if (!ksm_two_nodes())
		ksft_exit_skip("needs NUMA nodes 0 and 1 with memory\n");
	ksft_set_plan(7);
	ksm_selftest_init(1000, 10, ksm_stress_watchdog());
	rng = ksm_rand_stream(0);
	kpf_fd = open("/proc/kpageflags", O_RDONLY);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (kpf_fd < 0 || ctl == MAP_FAILED)
		ksft_exit_fail_msg("setup: %s\n", strerror(errno));

	for (i = 0; i < NWORKERS; i++) {
		pids[i] = ksm_fork();
		if (!pids[i])
			worker(i);
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pids[i]);
		pm_fd[i] = open(path, O_RDONLY);
		if (pm_fd[i] < 0)
			ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	}
	for (i = 0; i < NWORKERS; i++) {
		long long until = ksm_now_ms() + 30000;

		while (!__atomic_load_n(&ctl->area[i], __ATOMIC_ACQUIRE)) {
			if (ksm_now_ms() > until)
				ksft_exit_fail_msg("worker %u did not start\n", i);
			usleep(1000);
		}
	}
	ksm_set("run", 1);
	next_compact = ksm_now_ms() + COMPACT_MS;
	next_switch = ksm_now_ms() + SWITCH_MS;

	while (ksm_stress_running()) {
		i = below(NWORKERS);
		move_batch(pids[i], pm_fd[i], ctl->area[i]);
		if (ksm_now_ms() >= next_poll) {
			unsigned long mode = ksm_read("merge_across_nodes");
			unsigned long sharing = ksm_read("pages_sharing");

			if (mode < 2 && sharing > max_sharing[mode])
				max_sharing[mode] = sharing;
			next_poll = ksm_now_ms() + 100;
		}
		if (ksm_now_ms() >= next_compact) {
			int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);

			compactions++;
			ksm_stress_ops(1);
			if (fd < 0 || write(fd, "1", 1) != 1) {
				if (compact_bad++ < 5)
					ksft_print_msg("compact_memory: %s\n", strerror(errno));
			}
			if (fd >= 0)
				close(fd);
			next_compact = ksm_now_ms() + COMPACT_MS;
		}
		if (ksm_now_ms() >= next_switch) {
			switch_merge_across_nodes();
			next_switch = ksm_now_ms() + SWITCH_MS;
		}
		usleep(2000);
	}
	/* Both settings must have merged: give the last one time to. */
	{
		unsigned long mode = ksm_read("merge_across_nodes");
		long long until = ksm_now_ms() + 60000;

		while (!max_sharing[mode] && ksm_now_ms() < until) {
			max_sharing[mode] = ksm_read("pages_sharing");
			usleep(10000);
		}
	}

	__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NWORKERS; i++)
		workers_ok = ksm_wait_child(pids[i], "worker") && workers_ok;

	transient = mv.ebusy + mv.eagain + mv.enomem + mv.enoent + mv.not_moved;
	moved_pct = mv.ksm_to_move ? 100 * mv.ksm_moved / mv.ksm_to_move : 0;
	ksft_print_msg("move_pages: %lu calls (%lu failed), %lu pages, %lu of them KSM pages\n",
		       mv.calls, mv.call_errors, mv.pages, mv.ksm_pages);
	ksft_print_msg("move_pages: status node %lu EBUSY %lu EAGAIN %lu ENOMEM %lu ENOENT %lu\n",
		       mv.ok, mv.ebusy, mv.eagain, mv.enomem, mv.enoent);
	ksft_print_msg("move_pages: %lu other statuses\n", mv.other);
	ksft_print_msg("move_pages: %lu pages not moved (positive returns)\n", mv.not_moved);
	ksft_print_msg("then on the node asked for: %lu of %lu pages; of the %lu KSM pages on the other node before, %lu\n",
		       mv.on_node, mv.pages, mv.ksm_to_move, mv.ksm_moved);
	ksft_print_msg("of the %lu of them still KSM pages after, %lu\n",
		       mv.kept_to_move, mv.kept_moved);
	ksft_print_msg("mbind: %lu calls, %lu failed; compact_memory: %lu writes, %lu failed\n",
		       ctl->mbind_calls, ctl->mbind_bad, compactions, compact_bad);
	ksft_print_msg("merge_across_nodes: %lu switches, %lu EBUSY as due\n", switches, busy_seen);
	ksft_print_msg("max pages_sharing: %lu with merge_across_nodes 0, %lu with 1\n",
		       max_sharing[0], max_sharing[1]);

	ksft_test_result(workers_ok && !ksm_stats->mismatches && ksm_stats->verified,
			 "every page held its content at every check (%llu checks)\n",
			 ksm_stats->verified);
	ksft_test_result(!mv.call_errors && !mv.other && mv.calls && 2 * transient < mv.pages,
			 "move_pages: no failure but transient ones (%lu of %lu pages)\n",
			 transient, mv.pages);
	ksft_test_result(mv.ksm_to_move && 100 * mv.ksm_moved >= MOVED_PCT * mv.ksm_to_move,
			 "move_pages: KSM pages move: %lu of %lu (%lu%%, at least %d%%) that had to\n",
			 mv.ksm_moved, mv.ksm_to_move, moved_pct, MOVED_PCT);
	ksft_test_result(ctl->mbind_calls && !ctl->mbind_bad,
			 "mbind(MPOL_MF_MOVE): %lu calls, all succeeded\n", ctl->mbind_calls);
	ksft_test_result(compactions && !compact_bad,
			 "compact_memory: %lu writes accepted\n", compactions);
	ksft_test_result(switches && !switch_bad && !busy_bad && !zero_bad && busy_seen,
			 "merge_across_nodes: EBUSY with KSM pages, accepted after run=2 (%lu switches)\n",
			 switches);
	ksft_test_result(max_sharing[0] && max_sharing[1],
			 "KSM merged with merge_across_nodes 0 and 1\n");
	ksm_stress_summary();
	ksft_finished();
}
