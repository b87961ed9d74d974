/*
 * Latency histograms (lathist.h): every value lies in its bucket's range and buckets are
 * ordered; a quantile read from the histogram is never below the exact quantile of the
 * samples (sorted here) and at most 25 % (plus one cycle) above it, for log-uniform and
 * constant samples; an empty histogram reads 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/lathist.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_buckets(void **state)
{
	uint64_t prev_high = 0;

	(void)state;
	for (uint64_t v = 0; v < 1u << 20; v++) {
		unsigned b = sl_lat_bucket(v);

		assert_true(b < SL_LAT_BUCKETS);
		assert_true(v <= sl_lat_bucket_high(b));
		if (v > 0 && b != sl_lat_bucket(v - 1)) {
			/* a new bucket starts right after the previous one ends */
			assert_int_equal(v - 1, prev_high);
		}
		prev_high = sl_lat_bucket_high(b);
	}
	assert_int_equal(sl_lat_bucket(UINT64_MAX), SL_LAT_BUCKETS - 1);
	assert_true(sl_lat_bucket_high(SL_LAT_BUCKETS - 1) == UINT64_MAX);
}

static void check_quantiles(const uint64_t *v, size_t n)
{
	static const double qs[] = { 0.0, 0.5, 0.9, 0.99, 0.999, 1.0 };
	uint64_t *h = calloc(SL_LAT_BUCKETS, sizeof(*h)), *sorted = malloc(n * sizeof(*v));

	assert_non_null(h);
	assert_non_null(sorted);
	for (size_t i = 0; i < n; i++)
		h[sl_lat_bucket(v[i])]++;
	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*v), cmp_u64);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		size_t idx = (size_t)((double)n * qs[k]);
		uint64_t exact = sorted[idx < n ? idx : n - 1], got = sl_lat_quantile(h, qs[k]);

		if (got < exact || (double)got > (double)exact * 1.25 + 1)
			fail_msg("q=%g: histogram %llu, exact %llu", qs[k], (unsigned long long)got,
				 (unsigned long long)exact);
	}
	free(h);
	free(sorted);
}

static void test_quantiles(void **state)
{
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof(*v));
	uint64_t h[SL_LAT_BUCKETS] = { 0 };

	(void)state;
	assert_non_null(v);
	srand(7);
	for (size_t i = 0; i < N; i++) {
		/* log-uniform over 1 .. 2^40 */
		int e = rand() % 40;
		v[i] = ((uint64_t)1 << e) + (uint64_t)rand() % ((uint64_t)1 << e);
	}
	check_quantiles(v, N);
	for (size_t i = 0; i < N; i++)
		v[i] = 2600;
	check_quantiles(v, N);
	assert_int_equal(sl_lat_quantile(h, 0.99), 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_quantiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
