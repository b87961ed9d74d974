/*
 * EAL bring-up with defaults that work anywhere (see eal.h). The argument vector is built
 * once and kept alive for the process lifetime, as rte_eal_init may keep pointers into it.
 */
#include "eal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "base/log.h"

#define EAL_ARGV_MAX 128

/* Whether we chose the file prefix, so the runtime directory is ours to remove. */
static bool own_prefix;

/*
 * TSC calibration. DPDK 22.11 first asks the CPU for the TSC frequency (CPUID leaf 0x15, or
 * an Intel MSR); where neither answers (AMD CPUs, most VMs) it measures: rdtsc and
 * CLOCK_MONOTONIC_RAW before and after nanosleep(100 ms), the TSC ticks divided by the
 * elapsed time actually measured, rounded to 10 MHz. That sleep was over half of a short
 * run's wall time. Since the division uses the measured time, not the requested one, a
 * shorter sleep gives the same answer: 10 ms of a 2.6 GHz TSC are 26 M ticks, and the
 * reads that bracket it are tens of nanoseconds apart (an error near 1e-5, far inside the
 * 10 MHz rounding). So while rte_eal_init runs on this thread, and only then, a request to
 * sleep exactly 100 ms sleeps EAL_CALIBRATION_NS instead. The EAL calls nanosleep through
 * its PLT, which binds to this definition; every other caller, thread or duration sleeps
 * as asked. sl_eal_init logs the frequency it got (at info level).
 */
#define EAL_CALIBRATION_SLEEP_NS 100000000L /* what DPDK 22.11's get_tsc_freq() asks for */
#define EAL_CALIBRATION_NS	 10000000L

static __thread bool in_eal_init;

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	static const struct timespec shorter = { 0, EAL_CALIBRATION_NS };
	int err;

	if (in_eal_init && req && req->tv_sec == 0 && req->tv_nsec == EAL_CALIBRATION_SLEEP_NS) {
		req = &shorter;
		rem = NULL;
	}
	err = clock_nanosleep(CLOCK_REALTIME, 0, req, rem);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static bool eal_has_opt(int argc, char **argv, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++) {
			size_t len = strlen(*n);
			if (strncmp(argv[i], *n, len) == 0 &&
			    (argv[i][len] == '\0' || argv[i][len] == '=' || (*n)[1] != '-'))
				return true;
		}
	return false;
}

bool sl_eal_hugepages_usable(unsigned min_mb)
{
	unsigned long free_pages = 0, page_kb = 0;
	bool mounted = false;
	char line[512];
	FILE *f;

	f = fopen("/proc/mounts", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strstr(line, " hugetlbfs "))
				mounted = true;
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "HugePages_Free: %lu", &free_pages);
			sscanf(line, "Hugepagesize: %lu kB", &page_kb);
		}
		fclose(f);
	}
	return mounted && free_pages * page_kb >= (unsigned long)min_mb * 1024;
}

int sl_eal_init(int argc, char **argv, struct sl_eal_info *info)
{
	static const char *const lcore_opts[] = { "-l", "-c", "--lcores", NULL };
	static const char *const mem_opts[] = { "--no-huge", "-m", "--socket-mem", NULL };
	static const char *const prefix_opts[] = { "--file-prefix", "--proc-type", "--in-memory",
						   NULL };
	static const char *const dev_opts[] = {
		"-a", "--allow", "-b", "--block", "--no-pci", NULL
	};
	static const char *const log_opts[] = { "--log-level", NULL };
	static char *eal_argv[EAL_ARGV_MAX];
	static char lcores[32], prefix[32];
	int n = 0, ret;

	memset(info, 0, sizeof(*info));
	if (argc > EAL_ARGV_MAX - 16) {
		SL_ERR("eal", "too many EAL options (%d)", argc);
		return -E2BIG;
	}
	eal_argv[n++] = "sluice";
	if (!eal_has_opt(argc, argv, lcore_opts)) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(lcores, sizeof(lcores), "0-%ld", ncpu > 1 ? ncpu - 1 : 0);
		eal_argv[n++] = "-l";
		eal_argv[n++] = lcores;
	}
	if (!eal_has_opt(argc, argv, mem_opts) && !sl_eal_hugepages_usable(256)) {
		SL_NOTICE("eal", "no usable hugepages (need a hugetlbfs mount and 256 MB free): "
				 "running with --no-huge -m 512");
		eal_argv[n++] = "--no-huge";
		eal_argv[n++] = "-m";
		eal_argv[n++] = "512";
		info->no_huge = true;
	}
	/*
	 * No shared files unless the user asks for a prefix: --in-memory with hugepages; with
	 * --no-huge (which implies legacy memory, incompatible with --in-memory) no shared
	 * config and a per-process prefix, whose runtime directory sl_eal_cleanup removes.
	 */
	if (!eal_has_opt(argc, argv, prefix_opts)) {
		if (info->no_huge ||
		    eal_has_opt(argc, argv, (const char *const[]){ "--no-huge", NULL })) {
			snprintf(prefix, sizeof(prefix), "sluice%d", (int)getpid());
			eal_argv[n++] = "--no-shconf";
			eal_argv[n++] = "--file-prefix";
			eal_argv[n++] = prefix;
			own_prefix = true;
		} else {
			eal_argv[n++] = "--in-memory";
		}
	}
	if (!eal_has_opt(argc, argv,
			 (const char *const[]){ "--telemetry", "--no-telemetry", NULL }))
		eal_argv[n++] = "--no-telemetry";
	if (!eal_has_opt(argc, argv, dev_opts))
		eal_argv[n++] = "--no-pci";
	if (!eal_has_opt(argc, argv, log_opts)) {
		int lv = sl_log_get_level();

		eal_argv[n++] = "--log-level";
		if (lv >= SL_LOG_DEBUG)
			eal_argv[n++] = "*:info";
		else
			eal_argv[n++] = lv >= SL_LOG_INFO ? "*:warning" : "*:error";
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--no-huge") == 0)
			info->no_huge = true;
		eal_argv[n++] = argv[i];
	}
	eal_argv[n] = NULL;
	in_eal_init = true;
	ret = rte_eal_init(n, eal_argv);
	in_eal_init = false;
	if (ret < 0) {
		SL_ERR("eal", "EAL initialisation failed: %s", rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EINVAL;
	}
	info->n_lcores = rte_lcore_count();
	SL_INFO("eal", "TSC %.2f MHz", (double)rte_get_tsc_hz() / 1e6);
	return 0;
}

void sl_eal_cleanup(void)
{
	char dir[PATH_MAX];
	const char *rt = rte_eal_get_runtime_dir();

	snprintf(dir, sizeof(dir), "%s", rt ? rt : "");
	rte_eal_cleanup();
	if (own_prefix && dir[0]) {
		/* Only files the EAL made for this process live there (no shared config). */
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		if (d)
			closedir(d);
		rmdir(dir);
	}
}
