/*
 * Unit test of the aggregate stage's sketches (sketch.h) against exact answers the test
 * computes itself: HyperLogLog within its stated standard error (1.04 / sqrt(2^p)) over
 * cardinalities from 10 to 10^6 and several seeds, and merging equal to the sketch of the
 * union; DDSketch quantiles within the relative accuracy alpha of the exact rank-
 * floor(q (n - 1)) value, for several alphas, with zeros, and merging (in any split) equal
 * to one sketch; space-saving's bounds (true <= count <= true + floor, floor <= N / cap,
 * every item above floor present) on one sketch and after merges, and the top k of a
 * skewed stream exact. Pure computation: no EAL.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sketch.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return rng_state ^ (rng_state >> 29);
}

static double rng_unit(void)
{
	return (double)(rng() >> 11) / 9007199254740992.0;
}

static uint64_t hash_u64(uint64_t v)
{
	return sl_sketch_hash(&v, sizeof(v), 7);
}

static double hll_count(unsigned p, uint64_t base, uint64_t n)
{
	uint8_t *reg = calloc(1, sl_hll_size(p));
	double e;

	assert_non_null(reg);
	for (uint64_t i = 0; i < n; i++)
		sl_hll_add(reg, p, hash_u64(base + i));
	e = sl_hll_estimate(reg, p);
	free(reg);
	return e;
}

static void test_hll_error_bound(void **unused)
{
	static const uint64_t sizes[] = { 10, 100, 1000, 4096, 10000, 20000, 100000, 1000000 };
	const double sigma = 1.04 / sqrt(4096.0);
	double sq = 0;
	int trials = 0;

	/* p = 12: every estimate within 4 standard errors (6.5 %). */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (uint64_t seed = 1; seed <= 3; seed++) {
			double e = hll_count(12, seed << 40, sizes[i]);
			double rel = (e - (double)sizes[i]) / (double)sizes[i];

			if (fabs(rel) > 4 * sigma)
				fail_msg("n %llu seed %llu: estimate %.1f, error %.2f %%",
					 (unsigned long long)sizes[i], (unsigned long long)seed, e,
					 100 * rel);
			if (sizes[i] >= 1000) {
				sq += rel * rel;
				trials++;
			}
		}
	}
	/* The root mean square error is the standard error, give or take sampling. */
	if (sqrt(sq / trials) > 1.5 * sigma)
		fail_msg("rms error %.2f %% above 1.5 x %.2f %%", 100 * sqrt(sq / trials),
			 100 * sigma);
	/* Other precisions, same bound in their own sigma. */
	for (unsigned p = SL_HLL_P_MIN; p <= SL_HLL_P_MAX; p += 2) {
		double e = hll_count(p, 99ull << 40, 50000);
		double s = 1.04 / sqrt((double)sl_hll_size(p));

		if (fabs(e - 50000) / 50000 > 4 * s)
			fail_msg("p %u: estimate %.0f of 50000", p, e);
	}
}

static void test_hll_merge_is_union(void **unused)
{
	unsigned p = 12;
	uint8_t *a = calloc(1, sl_hll_size(p)), *b = calloc(1, sl_hll_size(p));
	uint8_t *u = calloc(1, sl_hll_size(p));

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(u);
	/* overlapping sets: 0..29999 and 20000..59999 */
	for (uint64_t i = 0; i < 60000; i++) {
		if (i < 30000)
			sl_hll_add(a, p, hash_u64(i));
		if (i >= 20000)
			sl_hll_add(b, p, hash_u64(i));
		sl_hll_add(u, p, hash_u64(i));
	}
	sl_hll_merge(a, b, p);
	assert_memory_equal(a, u, sl_hll_size(p));
	assert_true(fabs(sl_hll_estimate(a, p) - 60000) / 60000 < 4 * 1.04 / 64);
	free(a);
	free(b);
	free(u);
}

static struct sl_dds *dds_new(const struct sl_dds_params *dp)
{
	struct sl_dds *s = calloc(1, sl_dds_size(dp));

	assert_non_null(s);
	return s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void check_quantiles(const struct sl_dds_params *dp, const struct sl_dds *s, double *v,
			    size_t n)
{
	static const double qs[] = { 0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 };

	qsort(v, n, sizeof(v[0]), cmp_double);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double want = v[(size_t)(qs[i] * (double)(n - 1))];
		double got = sl_dds_quantile(dp, s, qs[i]);

		if (fabs(got - want) > dp->alpha * want * (1 + 1e-9))
			fail_msg("alpha %g q %g: got %.9g, exact %.9g", dp->alpha, qs[i], got,
				 want);
	}
}

static void test_dds_relative_error(void **unused)
{
	static const double alphas[] = { 0.001, 0.01, 0.05 };
	const size_t n = 200000;
	double *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++) {
		struct sl_dds_params dp;
		struct sl_dds *s;

		assert_int_equal(sl_dds_params_init(&dp, alphas[a]), 0);
		assert_int_equal(dp.n_bins % 256, 0);
		s = dds_new(&dp);
		rng_state = 42 + a;
		for (size_t i = 0; i < n; i++) {
			/* log-normal like response sizes, 2 % zeros, some integers */
			double u1 = rng_unit() + 1e-12, u2 = rng_unit();
			double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
			double x = exp(8 + 2 * z);

			if (i % 50 == 0)
				x = 0;
			else if (i % 3 == 0)
				x = floor(x);
			v[i] = x;
			sl_dds_add(&dp, s, x, 1);
		}
		assert_int_equal(s->n, n);
		check_quantiles(&dp, s, v, n);
		free(s);
	}
	free(v);
	{
		struct sl_dds_params dp;
		assert_int_equal(sl_dds_params_init(&dp, 0.0005), -1);
		assert_int_equal(sl_dds_params_init(&dp, 0.2), -1);
	}
}

/* The bin of each value is ceil(ln x / ln gamma), as libm's log gives it, whatever path
 * the sketch takes to it: 300,000 values spread over 10^-300 to 10^300, and values next
 * to bin boundaries (gamma^k times 1 +- a few ulps), for three accuracies. */
static void test_dds_key_equals_log(void **unused)
{
	const double alphas[] = { 0.001, 0.01, 0.05 };
	uint64_t r = 12345;

	for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++) {
		struct sl_dds_params dp;
		struct sl_dds *s;

		assert_int_equal(sl_dds_params_init(&dp, alphas[a]), 0);
		s = calloc(1, sl_dds_size(&dp));
		assert_non_null(s);
		for (int i = 0; i < 300000; i++) {
			double x, u;
			int64_t want, low;

			r = r * 6364136223846793005ull + 1442695040888963407ull;
			u = (double)(r >> 11) / 9007199254740992.0;
			if (i % 3 == 0) {
				x = pow(10, -300 + 600 * u);
			} else if (i % 3 == 1) {
				x = 1e-3 + 1e4 * u;
			} else {
				/* next to a boundary gamma^k, k in [-3000, 3000] */
				x = pow(dp.gamma, floor(-3000 + 6000 * u));
				x = nextafter(x, (r & 1) ? INFINITY : 0);
				if (r & 2)
					x = nextafter(x, (r & 1) ? INFINITY : 0);
			}
			want = (int64_t)ceil(log(x) * dp.inv_log_gamma);
			s->n = 0;
			s->n_zero = 0;
			sl_dds_add(&dp, s, x, 1);
			low = (int64_t)s->top - dp.n_bins + 1;
			if (want < low || want > s->top || s->bins[want - low] != 1)
				fail_msg("alpha %g: %.17g is not in bin %lld", alphas[a], x,
					 (long long)want);
			s->bins[want - low] = 0;
		}
		free(s);
	}
}

static void test_dds_merge_equals_single(void **unused)
{
	struct sl_dds_params dp;
	struct sl_dds *one, *part[3], *empty;
	const size_t n = 30000;
	double *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	assert_int_equal(sl_dds_params_init(&dp, 0.01), 0);
	one = dds_new(&dp);
	empty = dds_new(&dp);
	for (int i = 0; i < 3; i++)
		part[i] = dds_new(&dp);
	rng_state = 7;
	for (size_t i = 0; i < n; i++) {
		/* rising values move the store's top while it fills */
		double x = (double)(rng() % 1000) * (double)(i + 1) / 10.0;

		v[i] = x;
		sl_dds_add(&dp, one, x, 1);
		sl_dds_add(&dp, part[(i / 1000) % 3], x, 1);
	}
	sl_dds_merge(&dp, part[2], empty);
	sl_dds_merge(&dp, part[2], part[1]);
	sl_dds_merge(&dp, part[0], part[2]);
	sl_dds_merge(&dp, empty, part[0]);
	assert_memory_equal(one, part[0], sl_dds_size(&dp));
	assert_memory_equal(one, empty, sl_dds_size(&dp));
	check_quantiles(&dp, part[0], v, n);
	/* a span wider than the store collapses the low end; the top stays exact */
	memset(one, 0, sl_dds_size(&dp));
	sl_dds_add(&dp, one, 1e-30, 10);
	sl_dds_add(&dp, one, 1e30, 990);
	assert_true(fabs(sl_dds_quantile(&dp, one, 0.5) - 1e30) <= 0.01 * 1e30);
	assert_true(sl_dds_quantile(&dp, one, 0) < 1e30);
	free(v);
	free(one);
	free(empty);
	for (int i = 0; i < 3; i++)
		free(part[i]);
}

/* ---- space-saving ---- */

#define TK_ITEMS 5000

static struct sl_topk *topk_new(uint32_t cap)
{
	struct sl_topk *t = calloc(1, sl_topk_size(cap));

	assert_non_null(t);
	return t;
}

static void topk_add_item(struct sl_topk *t, uint32_t cap, uint32_t item)
{
	char key[32];
	int len = snprintf(key, sizeof(key), "/path/%u", item);

	sl_topk_add(t, cap, (const uint8_t *)key, (uint32_t)len,
		    sl_sketch_hash(key, (size_t)len, 1), 1);
}

static uint32_t topk_item_of(const struct sl_topk_entry *e)
{
	char key[SL_TOPK_KEY_MAX + 1];

	memcpy(key, e->key, e->len);
	key[e->len] = '\0';
	return (uint32_t)strtoul(key + 6, NULL, 10);
}

/* Zipf-like draw: item i with weight 1 / (i + 1). */
static uint32_t zipf(const double *cdf)
{
	double u = rng_unit();
	uint32_t lo = 0, hi = TK_ITEMS - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void check_topk_bounds(const struct sl_topk *t, uint32_t cap, const uint64_t *truth,
			      uint64_t n, double floor_per_n)
{
	const struct sl_topk_entry *e = sl_topk_entries(t, cap);
	const uint64_t *c = sl_topk_counts(t, cap);
	uint8_t *present = calloc(TK_ITEMS, 1);

	assert_non_null(present);
	assert_int_equal(t->total, n);
	if ((double)t->floor > floor_per_n * (double)n / cap)
		fail_msg("floor %llu above %.1f N / cap", (unsigned long long)t->floor,
			 floor_per_n);
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t item = topk_item_of(&e[i]);
		present[item] = 1;
		if (c[i] < truth[item] || c[i] > truth[item] + t->floor)
			fail_msg("item %u: count %llu, true %llu, floor %llu", item,
				 (unsigned long long)c[i], (unsigned long long)truth[item],
				 (unsigned long long)t->floor);
	}
	for (uint32_t i = 0; i < TK_ITEMS; i++)
		if (truth[i] > t->floor && !present[i])
			fail_msg("item %u (true %llu > floor %llu) is missing", i,
				 (unsigned long long)truth[i], (unsigned long long)t->floor);
	free(present);
}

static void check_topk_top(const struct sl_topk *t, uint32_t cap, uint32_t k)
{
	uint32_t idx[16];
	uint32_t got = sl_topk_top(t, cap, k, NULL, idx);

	/* weights 1/(i+1): items 0..k-1 lead by far more than the error */
	assert_int_equal(got, k);
	for (uint32_t r = 0; r < k; r++)
		assert_int_equal(topk_item_of(&sl_topk_entries(t, cap)[idx[r]]), r);
}

static void test_topk_guarantee(void **unused)
{
	const uint32_t cap = 64;
	const uint64_t n = 200000;
	double *cdf = malloc(TK_ITEMS * sizeof(*cdf)), w = 0;
	uint64_t *truth = calloc(TK_ITEMS, sizeof(*truth));
	struct sl_topk *one = topk_new(cap), *part[3];
	void *scratch = malloc(sl_topk_scratch_size(cap));
	uint64_t sum = 0;

	assert_non_null(cdf);
	assert_non_null(truth);
	assert_non_null(scratch);
	for (uint32_t i = 0; i < TK_ITEMS; i++)
		cdf[i] = (w += 1.0 / (i + 1));
	for (uint32_t i = 0; i < TK_ITEMS; i++)
		cdf[i] /= w;
	for (int i = 0; i < 3; i++)
		part[i] = topk_new(cap);
	rng_state = 3;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t item = zipf(cdf);
		truth[item]++;
		topk_add_item(one, cap, item);
		topk_add_item(part[i % 3], cap, item);
	}
	/* one sketch: counts sum to N, floor <= N / cap */
	for (uint32_t i = 0; i < one->n; i++)
		sum += sl_topk_counts(one, cap)[i];
	assert_int_equal(one->n, cap);
	assert_int_equal(sum, n);
	check_topk_bounds(one, cap, truth, n, 1.0);
	check_topk_top(one, cap, 5);
	/* merged: the bounds hold with N the total; dropping at merge can at most double
	 * the floor */
	sl_topk_merge(part[0], part[1], cap, scratch);
	sl_topk_merge(part[0], part[2], cap, scratch);
	check_topk_bounds(part[0], cap, truth, n, 2.0);
	check_topk_top(part[0], cap, 5);
	free(cdf);
	free(truth);
	free(one);
	free(scratch);
	for (int i = 0; i < 3; i++)
		free(part[i]);
}

static void test_topk_small_merge_exact(void **unused)
{
	const uint32_t cap = 16;
	struct sl_topk *a = topk_new(cap), *b = topk_new(cap);
	void *scratch = malloc(sl_topk_scratch_size(cap));
	uint32_t idx[4];

	assert_non_null(scratch);
	/* under capacity nothing is evicted: merged counts are exact */
	for (uint32_t i = 0; i < 10; i++)
		for (uint32_t r = 0; r <= i; r++)
			topk_add_item(i % 2 ? a : b, cap, i);
	topk_add_item(a, cap, 8);
	sl_topk_merge(a, b, cap, scratch);
	assert_int_equal(a->n, 10);
	assert_int_equal(a->floor, 0);
	assert_int_equal(sl_topk_top(a, cap, 4, NULL, idx), 4);
	/* 8 and 9 tie at 10: the smaller key ("/path/8") first */
	assert_int_equal(topk_item_of(&sl_topk_entries(a, cap)[idx[0]]), 8);
	assert_int_equal(sl_topk_counts(a, cap)[idx[0]], 10);
	assert_int_equal(topk_item_of(&sl_topk_entries(a, cap)[idx[1]]), 9);
	assert_int_equal(topk_item_of(&sl_topk_entries(a, cap)[idx[2]]), 7);
	assert_int_equal(sl_topk_counts(a, cap)[idx[3]], 7);
	free(a);
	free(b);
	free(scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hll_error_bound),
		cmocka_unit_test(test_hll_merge_is_union),
		cmocka_unit_test(test_dds_relative_error),
		cmocka_unit_test(test_dds_key_equals_log),
		cmocka_unit_test(test_dds_merge_equals_single),
		cmocka_unit_test(test_topk_guarantee),
		cmocka_unit_test(test_topk_small_merge_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
