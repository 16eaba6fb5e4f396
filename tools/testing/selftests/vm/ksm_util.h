/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the ksm_*.c selftests: their declarations.  The
 * bodies are in ksm_util.c, which every program is linked with.
 *
 * Every test program:
 *  - calls ksm_selftest_init() first: it saves every knob of
 *    /sys/kernel/mm/ksm, arranges for them to be restored at exit (also on
 *    failure, on a fatal signal and on the global watchdog alarm), writes
 *    run=2 so that the global counters start from 0 and checks that they do;
 *  - uses only bounded waits: a timeout is reported as a failure.
 *
 * Define _GNU_SOURCE before including this header.
 */
#ifndef __KSM_UTIL_H
#define __KSM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/mempolicy.h>

/*
 * In a kernel tree kselftest.h is "../kselftest.h"; from a copy of this
 * directory elsewhere it is found through -I<tree>/tools/testing/selftests.
 */
#if __has_include("../kselftest.h")
#include "../kselftest.h"
#else
#include "kselftest.h"
#endif

#define KSM_SYSFS_DIR		"/sys/kernel/mm/ksm/"
#define KSM_TIMEOUT_MS		(120 * 1000)
#define KSM_WATCHDOG_S		600
#define KSM_POLL_US		2000
#define KSM_IDLE_MS		3000
#define KSM_TRANSIENT_MS	2000

/* Pass as an expected value to mean "any value". */
#define KSM_ANY			(-1L)

extern long ksm_page_size;
/* The process that saved the knobs: the one to restore them. */
extern pid_t ksm_owner_pid;

/* ---------------------------------------------------------------------- */
/* Knobs: saving and restoring.                                           */
/* ---------------------------------------------------------------------- */

const char *ksm_path(const char *name);
bool ksm_file_exists(const char *name);
int ksm_read_ulong_path(const char *path, unsigned long *val);
bool ksm_write_path(const char *path, const char *val);
int ksm_try_read(const char *name, unsigned long *val);
unsigned long ksm_read(const char *name);
long ksm_write_raw(const char *name, const char *buf, size_t len);
int ksm_write_str(const char *name, const char *s);
int ksm_write_ulong(const char *name, unsigned long val);
void ksm_set(const char *name, unsigned long val);
void ksm_advisor_off(void);
unsigned long ksm_saved_knob(const char *name);

/* ---------------------------------------------------------------------- */
/* Counters.                                                              */
/* ---------------------------------------------------------------------- */

struct ksm_counters {
	long shared;
	long sharing;
	long unshared;
	long vol;
	long chains;
	long dups;
};

void ksm_read_counters(struct ksm_counters *c);
void ksm_print_counters(const char *what);
bool ksm_counters_match(const struct ksm_counters *c,
			const struct ksm_counters *want);
long long ksm_now_ms(void);
/* CLOCK_MONOTONIC in ms, to the ns; sort timings (ascending). */
double ksm_clock_ms(void);
void ksm_sort_doubles(double *v, size_t n);
unsigned long ksm_full_scans(void);
bool ksm_wait_full_scans(unsigned long n, long timeout_ms);
bool ksm_wait_counters_scans(const struct ksm_counters *want, long timeout_ms,
			     unsigned long *scans_waited);
bool ksm_wait_counters(const struct ksm_counters *want);
bool ksm_wait_merged(long shared, long sharing);
bool ksm_wait_settled(long timeout_ms);
bool ksm_counters_now(const struct ksm_counters *want);
bool ksm_all_counters_zero(void);
bool ksm_unmerge_all(void);
void ksm_must_unmerge_all(void);

/* ---------------------------------------------------------------------- */
/* Setup.                                                                 */
/* ---------------------------------------------------------------------- */

void ksm_selftest_init(unsigned long pages_to_scan, unsigned long sleep_ms,
		       unsigned int watchdog_s);

/* ---------------------------------------------------------------------- */
/* Memory and page contents.                                              */
/* ---------------------------------------------------------------------- */

void *ksm_mmap(size_t npages);
void ksm_madvise(void *p, size_t npages, int advice);
unsigned long long ksm_mix64(unsigned long long x);
void ksm_fill_page(void *page, unsigned long long key);
long ksm_check_page(const void *page, unsigned long long key);

static inline void *ksm_page_addr(void *base, size_t idx)
{
	return (char *)base + idx * ksm_page_size;
}

size_t ksm_check_pages(void *base, const unsigned long long *keys,
		       size_t npages, const char *what);
void ksm_fill_pages(void *base, const unsigned long long *keys, size_t npages);
void *ksm_mmap_mergeable(const unsigned long long *keys, size_t npages);

/* ---------------------------------------------------------------------- */
/* /proc readers.                                                         */
/* ---------------------------------------------------------------------- */

long ksm_proc_merging_pages(pid_t pid);
long long ksm_read_keyed(const char *path, const char *key);
long ksm_proc_rmap_items(pid_t pid);
long long ksm_vmstat(const char *name);
/*
 * /proc/self/smaps: the kB of line "@key:" of the area holding @addr, or
 * their sum over every area when @addr is NULL (-1: no such line); and
 * whether a VmFlags flag ("mg") is set for the area holding @addr.
 */
long long ksm_smaps_kb(const void *addr, const char *key);
int ksm_smaps_flag(const void *addr, const char *flag);

/* The /proc/self/pagemap entry of @addr (bit 63 present, 62 swapped). */
#define KSM_PM_PRESENT		0x8000000000000000ULL
#define KSM_PM_SWAP		0x4000000000000000ULL
#define KSM_PM_PFN_MASK		((1ULL << 55) - 1)

unsigned long long ksm_pagemap(const void *addr);

#define KSM_KPF_KSM		(1ULL << 21)

long ksm_count_ksm_pages(void *base, size_t npages);
long long ksm_kpage(const char *file, unsigned long long pfn);
bool ksm_kpage_flag(unsigned long long pfn, unsigned long long flag);
pid_t ksm_ksmd_pid(void);
long long ksm_ksmd_ticks(void);

/* ---------------------------------------------------------------------- */
/* Swap and memory cgroups (cgroup2).                                     */
/* ---------------------------------------------------------------------- */

bool ksm_have_swap(void);
bool ksm_cg_write(const char *dir, const char *file, const char *val);
bool ksm_cg_set(const char *dir, const char *file, const char *val);
long long ksm_cg_read(const char *dir, const char *file);
bool ksm_cg_mount(char *why, size_t len);
void ksm_cg_unmount(void);
const char *ksm_cg_root(void);
bool ksm_cg_create(const char *name, const char *need, char *dir, size_t dirlen,
		   char *why, size_t len);
bool ksm_cg_attach(const char *dir, pid_t pid);
bool ksm_cg_remove(char *dir);
bool ksm_cg_enter(const char *name, const char *need, char *dir, size_t dirlen,
		  char *why, size_t len);
void ksm_cg_leave(char *dir);

/* ---------------------------------------------------------------------- */
/* NUMA, by raw system calls (no libnuma needed).                         */
/* ---------------------------------------------------------------------- */

long ksm_mbind(void *addr, unsigned long len, int mode,
	       const unsigned long *mask, unsigned long maxnode,
	       unsigned int flags);
long ksm_move_pages(unsigned long count, void **pages, const int *nodes,
		    int *status, int flags);
int ksm_node_of(void *addr);
bool ksm_two_nodes(void);
void ksm_bind_node(void *addr, size_t npages, int node);

/* ---------------------------------------------------------------------- */
/* Children.                                                              */
/* ---------------------------------------------------------------------- */

pid_t ksm_fork(void);
bool ksm_wait_child(pid_t pid, const char *what);
bool ksm_pipe_hold(int fds[2], void *p, size_t npages);
bool ksm_pipe_send(int fd, char c);
int ksm_pipe_recv(int fd, long timeout_ms);

#endif /* __KSM_UTIL_H */
