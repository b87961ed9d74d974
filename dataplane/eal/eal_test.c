/*
 * EAL bring-up: the TSC frequency the EAL settles on (over the shortened calibration sleep,
 * see eal.c) agrees with an independent measurement against CLOCK_MONOTONIC_RAW over a
 * longer interval, and nanosleep outside rte_eal_init sleeps as long as asked.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include <rte_cycles.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsc_hz_matches_clock),
		cmocka_unit_test(test_nanosleep_untouched_after_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
