/*
 * EAL bring-up with defaults that work anywhere (see eal.h). The argument vector is built
 * once and kept alive for the process lifetime, as rte_eal_init may keep pointers into it.
 */
#include "eal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_build_config.h>
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
 * shorter sleep gives the same answer: 3 ms of a 2.6 GHz TSC are 7.8 M ticks, and the
 * reads that bracket it are tens of nanoseconds apart (an error near 2e-5, far inside the
 * 10 MHz rounding, which tolerates ~0.2 %, i.e. ~6 us of skew between the reads). It was
 * 10 ms until the drivers below were trimmed and it became a fifth of start-up. So while rte_eal_init runs on this thread, and only then, a request to
 * sleep exactly 100 ms sleeps EAL_CALIBRATION_NS instead. The EAL calls nanosleep through
 * its PLT, which binds to this definition; every other caller, thread or duration sleeps
 * as asked. sl_eal_init logs the frequency it got (at info level).
 */
#define EAL_CALIBRATION_SLEEP_NS 100000000L /* what DPDK 22.11's get_tsc_freq() asks for */
#define EAL_CALIBRATION_NS	 3000000L

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

/*
 * Drivers. DPDK's shared build (Debian's) loads every library in its driver directory,
 * RTE_EAL_PMD_PATH (~130 PMDs, most for hardware this machine has not got), once it sees
 * that librte_eal is a shared object: it asks dlopen(librte_eal.so.N, RTLD_NOLOAD). That
 * loading was about 45 ms of every run's ~95 ms start-up. When Sluice can name every
 * driver a run needs (the mempool ops, the vdev bus and the PMD of each --vdev), it passes
 * those with -d and, while rte_eal_init runs on this thread, answers that one probe with
 * "not loaded", so the directory is skipped. When it cannot (a PCI device: -a/-b; the
 * user's own -d; a vdev whose driver library is not in the directory; a --file-prefix or
 * --proc-type, for secondary processes; SLUICE_ALL_DRIVERS set) the EAL loads the whole
 * directory as before. Like nanosleep above, the EAL reaches
 * dlopen through its PLT, so this definition sees its calls; every other call (stage
 * plugins, the -d libraries themselves) goes straight to the C library's. Not in
 * sanitizer builds, whose runtime defines dlopen itself.
 */
#if defined(__SANITIZE_ADDRESS__)
#define EAL_HIDE_SHARED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
	__has_feature(thread_sanitizer)
#define EAL_HIDE_SHARED 0
#endif
#endif
#ifndef EAL_HIDE_SHARED
#define EAL_HIDE_SHARED 1
#endif

static __thread bool hide_shared_eal;

#if EAL_HIDE_SHARED
void *dlopen(const char *file, int flags)
{
	static void *(*real_dlopen)(const char *, int);
	void *(*fn)(const char *, int) = __atomic_load_n(&real_dlopen, __ATOMIC_RELAXED);

	if (hide_shared_eal && file && (flags & RTLD_NOLOAD) &&
	    strncmp(file, "librte_eal.so", 13) == 0)
		return NULL;
	if (!fn) {
		fn = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
		__atomic_store_n(&real_dlopen, fn, __ATOMIC_RELAXED);
	}
	return fn(file, flags);
}
#endif

/*
 * CPU and NUMA probes. rte_eal_init asks access() whether each of its RTE_MAX_LCORE (128)
 * lcore ids is a CPU here (/sys/devices/system/cpu/cpuN/topology/core_id) and, for every
 * one, on which of RTE_MAX_NUMA_NODES (32) nodes it sits (/sys/devices/system/node/nodeM/
 * cpuN): about 5,000 failing sysfs lookups, a third of start-up's CPU time on a 2-CPU
 * machine. No such path can exist for a CPU or node id above the highest the kernel calls
 * possible (/sys/devices/system/{cpu,node}/possible), so while rte_eal_init runs on this
 * thread those probes are answered ENOENT without a system call; every other one goes to
 * the kernel as asked. Not in sanitizer builds (as dlopen above).
 */
static int eal_max_cpu = -1, eal_max_node = -1;

/* The highest id in a sysfs range list such as "0-3,8-11", or -1. */
static int eal_possible_max(const char *path)
{
	char buf[256], *p;
	long last = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (p = buf; *p;) {
		char *end;
		long v;

		if (*p < '0' || *p > '9') { /* '-' and ',' separate ids, not signs */
			p++;
			continue;
		}
		v = strtol(p, &end, 10);
		if (v > last)
			last = v;
		p = end;
	}
	return last > 4095 ? -1 : (int)last;
}

#if EAL_HIDE_SHARED
int access(const char *path, int mode)
{
	static const char cpu[] = "/sys/devices/system/cpu/cpu",
			  node[] = "/sys/devices/system/node/node";
	unsigned id, id2;
	int used = 0;

	if (in_eal_init && eal_max_cpu >= 0) {
		if (strncmp(path, cpu, sizeof(cpu) - 1) == 0 &&
		    sscanf(path + sizeof(cpu) - 1, "%u/topology/core_id%n", &id, &used) == 1 &&
		    used > 0 && path[sizeof(cpu) - 1 + used] == '\0' &&
		    id > (unsigned)eal_max_cpu) {
			errno = ENOENT;
			return -1;
		}
		if (eal_max_node >= 0 && strncmp(path, node, sizeof(node) - 1) == 0 &&
		    sscanf(path + sizeof(node) - 1, "%u/cpu%u%n", &id, &id2, &used) == 2 &&
		    used > 0 && path[sizeof(node) - 1 + used] == '\0' &&
		    (id > (unsigned)eal_max_node || id2 > (unsigned)eal_max_cpu)) {
			errno = ENOENT;
			return -1;
		}
	}
	return faccessat(AT_FDCWD, path, mode, 0);
}
#endif

#define EAL_DRIVERS_MAX 16

static bool eal_has_opt(int argc, char **argv, const char *const *names);

/* The path of driver library `librte_NAME.so.ABI` in DPDK's driver directory, if there. */
static bool eal_driver_path(const char *name, size_t len, char *out, size_t outlen)
{
	const char *dir = RTE_EAL_PMD_PATH, *ver = strrchr(dir, '-');
	int abi = ver ? atoi(ver + 1) : 0;
	int n;

	if (abi <= 0)
		return false;
	n = snprintf(out, outlen, "%s/librte_%.*s.so.%d", dir, (int)len, name, abi);
	return n > 0 && (size_t)n < outlen && access(out, R_OK) == 0;
}

/*
 * The -d options that replace loading the whole driver directory, appended to argv at
 * *n; false when the run needs the whole directory. Each path is a static buffer.
 */
static bool eal_plan_drivers(int argc, char **argv, char **eal_argv, int *n)
{
	static char paths[EAL_DRIVERS_MAX][PATH_MAX];
	static const char *const base[] = { "mempool_ring", "bus_vdev" };
	unsigned np = 0;
	int k = *n;

	/* A process others attach to as secondaries (dpdk-dumpcap, dpdk-proc-info) must
	 * register the same tail queues as they do, and they load the whole directory. */
	if (!EAL_HIDE_SHARED || getenv("SLUICE_ALL_DRIVERS") ||
	    eal_has_opt(argc, argv, (const char *const[]){ "--file-prefix", "--proc-type", NULL }))
		return false;
	for (unsigned i = 0; i < 2; i++) {
		if (!eal_driver_path(base[i], strlen(base[i]), paths[np], PATH_MAX))
			return false;
		eal_argv[k++] = "-d";
		eal_argv[k++] = paths[np++];
	}
	for (int i = 0; i < argc; i++) {
		const char *v = NULL, *a = argv[i];
		char name[64];
		size_t len;

		if (strcmp(a, "-d") == 0 || strncmp(a, "--allow", 7) == 0 ||
		    strncmp(a, "--block", 7) == 0 || strncmp(a, "-a", 2) == 0 ||
		    strncmp(a, "-b", 2) == 0 || strncmp(a, "-d", 2) == 0)
			return false;
		if (strcmp(a, "--vdev") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(a, "--vdev=", 7) == 0)
			v = a + 7;
		if (!v)
			continue;
		/* The driver is the device name without its instance digits (net_pcap0 ->
		 * net_pcap); DPDK's eth_ aliases live in the net_ libraries. */
		len = strcspn(v, ",");
		while (len > 0 && v[len - 1] >= '0' && v[len - 1] <= '9')
			len--;
		if (len == 0 || len >= sizeof(name) || np == EAL_DRIVERS_MAX)
			return false;
		if (strncmp(v, "eth_", 4) == 0)
			snprintf(name, sizeof(name), "net_%.*s", (int)(len - 4), v + 4);
		else
			snprintf(name, sizeof(name), "%.*s", (int)len, v);
		if (!eal_driver_path(name, strlen(name), paths[np], PATH_MAX))
			return false;
		eal_argv[k++] = "-d";
		eal_argv[k++] = paths[np++];
	}
	*n = k;
	return true;
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

/*
 * The runtime directories our own prefixes left behind: a run killed by a signal (SIGKILL,
 * a stage's fault under --supervise) cannot remove its sluice<pid> directory. Each is
 * empty (no shared config under --no-shconf); one whose process is gone is removed here,
 * so restarts do not pile them up. rmdir refuses anything that is not empty.
 */
static void eal_sweep_prefixes(void)
{
	char parent[PATH_MAX];
	const char *rt = rte_eal_get_runtime_dir(), *slash;
	unsigned removed = 0;
	struct dirent *e;
	DIR *d;

	slash = rt ? strrchr(rt, '/') : NULL;
	if (!slash || slash == rt || (size_t)(slash - rt) >= sizeof(parent))
		return;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rt), rt);
	d = opendir(parent);
	while (d && (e = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(e->d_name, "sluice", 6) != 0 || !e->d_name[6])
			continue;
		errno = 0;
		pid = strtol(e->d_name + 6, &end, 10);
		if (*end || errno || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		removed += unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0;
	}
	if (d)
		closedir(d);
	if (removed)
		SL_INFO("eal", "removed %u empty runtime directories of sluice runs that are gone",
			removed);
}

int sl_eal_init(int argc, char **argv, struct sl_eal_info *info)
{
	static const char *const lcore_opts[] = { "-l", "-c", "--lcores", NULL };
	static const char *const mem_opts[] = { "--no-huge", "-m", "--socket-mem", NULL };
	static const char *const prefix_opts[] = { "--file-prefix", "--proc-type", NULL };
	static const char *const in_memory_opt[] = { "--in-memory", NULL };
	static const char *const no_huge_opt[] = { "--no-huge", NULL };
	static const char *const dev_opts[] = {
		"-a", "--allow", "-b", "--block", "--no-pci", NULL
	};
	static const char *const log_opts[] = { "--log-level", NULL };
	static char *eal_argv[EAL_ARGV_MAX];
	static char lcores[32], prefix[32];
	bool no_huge, drop_in_memory;
	int n = 0, ret;

	memset(info, 0, sizeof(*info));
	if (argc > EAL_ARGV_MAX - 16 - 2 * EAL_DRIVERS_MAX) {
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
	 * config and a per-process prefix, whose runtime directory sl_eal_cleanup removes. A
	 * user's --in-memory under --no-huge (given, or ours for want of hugepages) would stop
	 * the EAL with "--legacy-mem is not compatible with --in-memory": it means no shared
	 * files, which is what the prefix below gives, so it is left out.
	 */
	no_huge = info->no_huge || eal_has_opt(argc, argv, no_huge_opt);
	drop_in_memory = no_huge && eal_has_opt(argc, argv, in_memory_opt);
	if (drop_in_memory)
		SL_NOTICE("eal", "--in-memory does not go with --no-huge in DPDK: running without "
				 "shared files through a private --file-prefix instead");
	if (!eal_has_opt(argc, argv, prefix_opts) &&
	    (drop_in_memory || !eal_has_opt(argc, argv, in_memory_opt))) {
		if (no_huge) {
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
	hide_shared_eal = eal_plan_drivers(argc, argv, eal_argv, &n);
	eal_max_cpu = eal_possible_max("/sys/devices/system/cpu/possible");
	eal_max_node = eal_possible_max("/sys/devices/system/node/possible");
	info->all_drivers = !hide_shared_eal;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--no-huge") == 0)
			info->no_huge = true;
		if (!(drop_in_memory && strcmp(argv[i], "--in-memory") == 0))
			eal_argv[n++] = argv[i];
	}
	eal_argv[n] = NULL;
	in_eal_init = true;
	ret = rte_eal_init(n, eal_argv);
	in_eal_init = false;
	hide_shared_eal = false;
	if (ret < 0) {
		SL_ERR("eal", "EAL initialisation failed: %s", rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EINVAL;
	}
	if (own_prefix)
		eal_sweep_prefixes();
	info->n_lcores = rte_lcore_count();
	SL_INFO("eal", "TSC %.2f MHz; drivers: %s", (double)rte_get_tsc_hz() / 1e6,
		info->all_drivers ? "all in " RTE_EAL_PMD_PATH : "only those named");
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
