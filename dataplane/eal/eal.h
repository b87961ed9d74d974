/*
 * EAL bring-up for `sluice run`: the user's EAL options (after `--`) plus defaults that
 * make a machine with no NIC and no hugepages work: all CPUs as lcores unless -l/-c/
 * --lcores is given, no PCI scan unless devices are allowed explicitly, in-memory mode
 * (or, without hugepages, no shared config and a per-process prefix) unless a file
 * prefix or process type is chosen, no telemetry socket unless asked for, and `--no-huge -m 512` when no usable
 * hugepages exist (said once in the log). Control path, main thread, once per process.
 */
#ifndef SL_EAL_EAL_H
#define SL_EAL_EAL_H

#include <stdbool.h>

struct sl_eal_info {
	bool no_huge;	   /**< running without hugepages */
	unsigned n_lcores; /**< lcores enabled, main included */
	bool all_drivers;  /**< DPDK loaded its whole driver directory (see eal.c) */
};

/** Initialise the EAL. argv[0..argc) are the user's EAL options (may be empty). */
int sl_eal_init(int argc, char **argv, struct sl_eal_info *info);

/** Release the EAL and remove the runtime directory of a prefix we chose. */
void sl_eal_cleanup(void);

/** Whether hugepages look usable: a hugetlbfs mount and at least min_mb free. */
bool sl_eal_hugepages_usable(unsigned min_mb);

#endif
