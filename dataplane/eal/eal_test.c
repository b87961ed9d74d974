/*
 * EAL bring-up: the TSC frequency the EAL settles on (over the shortened calibration sleep,
 * see eal.c) agrees with an independent measurement against CLOCK_MONOTONIC_RAW over a
 * longer interval, and nanosleep outside rte_eal_init sleeps as long as asked; only the
 * drivers a run names are loaded (outside sanitizer builds), and the CPU/NUMA probes
 * answered without a system call give the EAL the same topology sysfs shows.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_build_config.h>
#include <rte_cycles.h>
#include <rte_lcore.h>

#include "../../tests/lib/eal.h"

static double mono_raw_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The TSC against the raw monotonic clock over 300 ms of busy waiting (no sleep at all). */
static void test_tsc_hz_matches_clock(void **state)
{
	double t0, t1;
	uint64_t c0, c1;
	double measured, eal_hz;

	(void)state;
	sl_test_eal_init();
	eal_hz = (double)rte_get_tsc_hz();
	t0 = mono_raw_s();
	c0 = rte_rdtsc();
	do
		t1 = mono_raw_s();
	while (t1 - t0 < 0.3);
	c1 = rte_rdtsc();
	measured = (double)(c1 - c0) / (t1 - t0);
	print_message("# EAL TSC %.3f MHz, measured over 300 ms %.3f MHz\n", eal_hz / 1e6,
		      measured / 1e6);
	/* DPDK rounds to 10 MHz: anything within that rounding plus 0.5 % is the same clock. */
	assert_true(fabs(eal_hz - measured) <= 5e6 + measured * 0.005);
}

/* Only a 100 ms sleep inside rte_eal_init is shortened; here it lasts 100 ms. */
static void test_nanosleep_untouched_after_init(void **state)
{
	struct timespec req = { 0, 100000000L };
	double t0, t1;

	(void)state;
	sl_test_eal_init();
	t0 = mono_raw_s();
	assert_int_equal(nanosleep(&req, NULL), 0);
	t1 = mono_raw_s();
	assert_true(t1 - t0 >= 0.0999);
}

static bool loaded(const char *lib)
{
	char path[512];
	void *h;

	snprintf(path, sizeof(path), "%s/%s", RTE_EAL_PMD_PATH, lib);
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (h)
		dlclose(h);
	return h != NULL;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* The test's EAL names no device: the mempool driver is loaded, a NIC PMD is not (unless
 * this is a sanitizer build, which loads the whole directory as DPDK does), and pools
 * work. The PMD checked is whichever net_ library of the directory sorts first and is not
 * one we load. */
static void test_only_named_drivers(void **state)
{
	struct rte_mempool *mp;
	struct dirent *e;
	char other[256] = "";
	DIR *d;
	int off;

	(void)state;
	sl_test_eal_init();
	assert_true(loaded("librte_mempool_ring.so.23") || !SANITIZED);
	d = opendir(RTE_EAL_PMD_PATH);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "librte_net_", 11) == 0 && strstr(e->d_name, ".so.") &&
		    (!other[0] || strcmp(e->d_name, other) < 0))
			snprintf(other, sizeof(other), "%s", e->d_name);
	closedir(d);
	assert_true(other[0] != '\0');
	print_message("# all drivers: %s; %s loaded: %s\n",
		      sl_test_eal_info.all_drivers ? "yes" : "no", other,
		      loaded(other) ? "yes" : "no");
	assert_int_equal(sl_test_eal_info.all_drivers, SANITIZED || getenv("SLUICE_ALL_DRIVERS"));
	assert_int_equal(loaded(other), sl_test_eal_info.all_drivers);
	mp = sl_test_pool(512, 2048, &off);
	assert_non_null(mp);
	rte_mempool_free(mp);
}

/* Lcore 0 sits on the NUMA node whose sysfs directory lists cpu0 (0 without NUMA). */
static void test_lcore_socket_from_sysfs(void **state)
{
	unsigned node = 0;

	(void)state;
	sl_test_eal_init();
	for (unsigned n = 0; n < 64; n++) {
		char p[128];

		snprintf(p, sizeof(p), "/sys/devices/system/node/node%u/cpu0", n);
		if (access(p, F_OK) == 0) {
			node = n;
			break;
		}
	}
	assert_int_equal(rte_lcore_to_socket_id(0), node);
	assert_int_equal(rte_lcore_count(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsc_hz_matches_clock),
		cmocka_unit_test(test_nanosleep_untouched_after_init),
		cmocka_unit_test(test_only_named_drivers),
		cmocka_unit_test(test_lcore_socket_from_sysfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
