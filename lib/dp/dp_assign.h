/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_DP_ASSIGN_H
#define VGW_DP_ASSIGN_H

/* Placement of tasks on workers by measured busy cycles, as Open vSwitch's
 * pmd-rxq-assign=cycles: no DPDK (dp's core), unit-tested on its own. */

#include <stdint.h>

/* Place n tasks on n_workers workers. load[i] is task i's busy cycles over
 * the last interval (0: idle, or no history yet). The heaviest task goes
 * first, each to the worker with the least load so far; ties go to the
 * worker with fewer tasks, then to the lower index, and equal loads keep
 * the tasks' order, so tasks without history are spread round-robin over
 * the least-loaded workers. worker[i] receives task i's worker.
 * 0, -EINVAL (no workers), -ENOMEM. */
int vgw_dp_assign(const uint64_t *load, unsigned int n, unsigned int n_workers,
		  unsigned int *worker);

#endif /* VGW_DP_ASSIGN_H */
