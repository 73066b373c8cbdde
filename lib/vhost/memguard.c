/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory a front-end shrinks under our mapping.
 *
 * Guest memory (SET_MEM_TABLE) and the dirty log (SET_LOG_BASE) are files
 * the front-end made and rte_vhost maps shared. A front-end that truncates
 * such a file makes the next access to a page past the new end a SIGBUS,
 * in whichever thread touched it: a worker walking a ring, rte_vhost's
 * copy, the control thread. Without a handler that is the end of the
 * process, and of every other device. The handler below, when the address
 * lies in a mapping a device's front-end gave, replaces that whole mapping
 * with anonymous memory (reads give zeros, writes go nowhere) and marks the
 * device; the access is made again and succeeds. The control thread then
 * logs it once and takes the device from the workers
 * (vgw_device_mem_fault) until its front-end maps its memory again or
 * reconnects. Any other SIGBUS goes to the handler that was there before
 * (or the default action).
 *
 * The ranges are published by rte_vhost's message thread (after
 * SET_MEM_TABLE and SET_LOG_BASE, cleared before SET_MEM_TABLE and when
 * the connection ends, before rte_vhost unmaps) and read by the handler
 * without locks: a handler that races with a change may miss a range (the
 * process ends as it would have) or replace a range just unmapped (an
 * anonymous mapping left behind), never memory of anyone else in use.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_vhost.h>

#include "vgw_common.h"
#include "vgw_device.h"
#include "vgw_log.h"
#include "vgw_vhost.h"

#define GUARD_REGIONS 8 /* rte_vhost 22.11's VHOST_MEMORY_MAX_NREGIONS */
#define GUARD_LOG GUARD_REGIONS
#define GUARD_SLOTS (GUARD_REGIONS + 1)

struct guard_range {
	_Atomic uintptr_t start; /* 0: unused */
	_Atomic uintptr_t end;
};

static struct guard_range ranges[VGW_MAX_DEVICES][GUARD_SLOTS];
/* faulted devices, by index; the first address of each */
static _Atomic uint64_t faulted[(VGW_MAX_DEVICES + 63) / 64];
static _Atomic uintptr_t fault_addr[VGW_MAX_DEVICES];
static struct sigaction old_bus;
static _Atomic bool installed;

static void
range_set(struct guard_range *r, uintptr_t start, uintptr_t end)
{
	atomic_store(&r->start, 0);
	atomic_store(&r->end, end);
	atomic_store(&r->start, start);
}

static void
chain(int sig, siginfo_t *si, void *uc)
{
	if (old_bus.sa_flags & SA_SIGINFO) {
		if (old_bus.sa_sigaction != NULL) {
			old_bus.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
		old_bus.sa_handler(sig);
		return;
	}
	/* the default action: the access faults again and ends the process */
	signal(SIGBUS, SIG_DFL);
}

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved = errno;

	for (unsigned int d = 0; si->si_code == BUS_ADRERR && d < VGW_MAX_DEVICES; d++) {
		for (unsigned int i = 0; i < GUARD_SLOTS; i++) {
			struct guard_range *r = &ranges[d][i];
			uintptr_t s = atomic_load(&r->start), e = atomic_load(&r->end);

			if (s == 0 || a < s || a >= e)
				continue;
			if (mmap((void *)s, e - s, PROT_READ | PROT_WRITE,
				 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				 0) == MAP_FAILED)
				goto out;
			uintptr_t none = 0;

			atomic_compare_exchange_strong(&fault_addr[d], &none, a);
			atomic_fetch_or(&faulted[d / 64], 1ULL << (d % 64));
			errno = saved;
			return;
		}
	}
out:
	errno = saved;
	chain(sig, si, uc);
}

int
vgw_memguard_install(void)
{
	struct sigaction sa;

	if (atomic_load(&installed))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old_bus) < 0)
		return -errno;
	atomic_store(&installed, true);
	return 0;
}

void
vgw_memguard_clear(const struct vgw_device *dev)
{
	if (dev->index >= VGW_MAX_DEVICES)
		return;
	for (unsigned int i = 0; i < GUARD_SLOTS; i++)
		range_set(&ranges[dev->index][i], 0, 0);
}

void
vgw_memguard_set(const struct vgw_device *dev, int vid)
{
	struct rte_vhost_memory *mem = NULL;
	uint64_t log_base = 0, log_size = 0;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	unsigned int i = 0;

	if (dev->index >= VGW_MAX_DEVICES)
		return;
	if (rte_vhost_get_mem_table(vid, &mem) == 0) {
		for (; i < mem->nregions && i < GUARD_REGIONS; i++) {
			const struct rte_vhost_mem_region *g = &mem->regions[i];

			if (g->mmap_addr == NULL || g->mmap_size == 0)
				continue;
			range_set(&ranges[dev->index][i], (uintptr_t)g->mmap_addr,
				  (uintptr_t)g->mmap_addr + g->mmap_size);
		}
		free(mem);
	}
	for (; i < GUARD_REGIONS; i++)
		range_set(&ranges[dev->index][i], 0, 0);
	/* the log's mapping starts at or below its base, on a page, and
	 * ends on one at or past base + size */
	if (rte_vhost_get_log_base(vid, &log_base, &log_size) == 0 && log_base != 0 &&
	    log_size != 0)
		range_set(&ranges[dev->index][GUARD_LOG], (uintptr_t)log_base & ~(page - 1),
			  ((uintptr_t)(log_base + log_size) + page - 1) & ~(page - 1));
	else
		range_set(&ranges[dev->index][GUARD_LOG], 0, 0);
}

static struct vgw_device *
device_of_index(unsigned int d)
{
	for (unsigned int i = 0; i < vgw_device_count(); i++)
		if (vgw_device_at(i)->index == d)
			return vgw_device_at(i);
	return NULL;
}

void
vgw_memguard_poll(void)
{
	for (unsigned int w = 0; w < RTE_DIM(faulted); w++) {
		uint64_t bits;

		if (atomic_load_explicit(&faulted[w], memory_order_relaxed) == 0)
			continue;
		bits = atomic_exchange(&faulted[w], 0);
		while (bits != 0) {
			unsigned int d = w * 64 + (unsigned int)__builtin_ctzll(bits);
			struct vgw_device *dev = device_of_index(d);
			uintptr_t a = atomic_exchange(&fault_addr[d], 0);

			bits &= bits - 1;
			if (dev != NULL)
				vgw_device_mem_fault(dev, a);
		}
	}
}
