/*
 * Unit test of the aggregate stage's sketches (sketch.h) against exact answers the test
 * computes itself: HyperLogLog within its stated standard error (1.04 / sqrt(2^p)) over
 * cardinalities from 10 to 10^6 and several seeds, and merging equal to the sketch of the
 * union; DDSketch quantiles within the relative accuracy alpha of the exact rank-
 * floor(q (n - 1)) value, for several alphas, with zeros, and merging (in any split) equal
 * to one sketch; the paged DDSketch store equal, bin for bin, to a flat store of n_bins
 * counts the test keeps itself, through pages, raises, collapses, merges and resets; space-saving's bounds (true <= count <= true + floor, floor <= N / cap,
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

/* A store of n_pages pages (page 0 included) over its own zeroed memory. */
static struct sl_dds_store *store_new(uint32_t n_pages)
{
	struct sl_dds_store *st = malloc(sizeof(*st));
	uint64_t *bins = calloc(n_pages, sl_dds_store_bytes(1));

	assert_non_null(st);
	assert_non_null(bins);
	sl_dds_store_init(st, bins, n_pages);
	return st;
}

static void store_free(struct sl_dds_store *st)
{
	free(st->bins);
	free(st);
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

static void check_quantiles(const struct sl_dds_params *dp, const struct sl_dds_store *st,
			    const struct sl_dds *s, double *v, size_t n)
{
	static const double qs[] = { 0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 };

	qsort(v, n, sizeof(v[0]), cmp_double);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double want = v[(size_t)(qs[i] * (double)(n - 1))];
		double got = sl_dds_quantile(dp, st, s, qs[i]);

		if (fabs(got - want) > dp->alpha * want * (1 + 1e-9))
			fail_msg("alpha %g q %g: got %.9g, exact %.9g", dp->alpha, qs[i], got,
				 want);
	}
}

/*
 * The reference: the flat store the paged one replaces, written out plainly (n_bins
 * counts in one array, bins[i] holding key top - n_bins + 1 + i, keys below collapsed into
 * bins[0], the top the highest key rounded up to a multiple of 256). The paged sketch
 * must hold exactly these counts, bin for bin.
 */
struct ref_dds {
	uint64_t n, n_zero;
	int64_t top;
	uint64_t *bins;
};

static void ref_init(const struct sl_dds_params *dp, struct ref_dds *r)
{
	r->n = r->n_zero = 0;
	r->top = 0;
	r->bins = calloc(dp->n_bins, sizeof(uint64_t));
	assert_non_null(r->bins);
}

static int64_t ref_top_for(int64_t key)
{
	return (int64_t)ceil((double)key / 256) * 256;
}

static void ref_raise(const struct sl_dds_params *dp, struct ref_dds *r, int64_t top)
{
	int64_t nb = dp->n_bins, d = top - r->top;
	uint64_t low = 0;

	/* each old bin i moves to i - d; those below 0 add to the new bins[0] */
	for (int64_t i = 0; i < nb; i++) {
		if (i - d <= 0)
			low += r->bins[i];
		else
			r->bins[i - d] = r->bins[i];
	}
	for (int64_t i = nb - d < 1 ? 1 : nb - d; i < nb; i++)
		r->bins[i] = 0;
	r->bins[0] = low;
	r->top = top;
}

static void ref_put(const struct sl_dds_params *dp, struct ref_dds *r, int64_t key, uint64_t n)
{
	int64_t low = r->top - dp->n_bins + 1;

	r->bins[key < low ? 0 : key - low] += n;
}

static void ref_add(const struct sl_dds_params *dp, struct ref_dds *r, double x, uint64_t n)
{
	int64_t key;

	r->n += n;
	if (!(x > 0)) {
		r->n_zero += n;
		return;
	}
	key = (int64_t)ceil(log(x) * dp->inv_log_gamma);
	if (r->n - n == r->n_zero)
		r->top = ref_top_for(key);
	else if (key > r->top)
		ref_raise(dp, r, ref_top_for(key));
	ref_put(dp, r, key, n);
}

static void ref_merge(const struct sl_dds_params *dp, struct ref_dds *d, const struct ref_dds *s)
{
	if (s->n > s->n_zero) {
		if (d->n == d->n_zero)
			d->top = s->top;
		else if (s->top > d->top)
			ref_raise(dp, d, s->top);
		for (int64_t i = 0; i < dp->n_bins; i++)
			if (s->bins[i])
				ref_put(dp, d, s->top - dp->n_bins + 1 + i, s->bins[i]);
	}
	d->n += s->n;
	d->n_zero += s->n_zero;
}

static double ref_quantile(const struct sl_dds_params *dp, const struct ref_dds *r, double q)
{
	uint64_t rank, seen = r->n_zero;

	if (r->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)(r->n - 1));
	if (rank < seen)
		return 0;
	for (int64_t i = 0; i < dp->n_bins; i++) {
		seen += r->bins[i];
		if (seen > rank)
			return 2 * pow(dp->gamma, (double)(r->top - dp->n_bins + 1 + i)) /
			       (dp->gamma + 1);
	}
	return 2 * pow(dp->gamma, (double)r->top) / (dp->gamma + 1);
}

/* The paged sketch s equals the reference r: header, every bin, every quantile's bits;
 * and it holds no more pages than directory slots, each a distinct page of st. */
static void dds_check_ref(const struct sl_dds_params *dp, const struct sl_dds_store *st,
			  const struct sl_dds *s, const struct ref_dds *r, const char *what)
{
	static const double qs[] = { 0, 0.001, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 1 };
	int64_t low = (int64_t)s->top - dp->n_bins + 1;

	if (s->n != r->n || s->n_zero != r->n_zero)
		fail_msg("%s: n %llu/%llu, zeros %llu/%llu", what, (unsigned long long)s->n,
			 (unsigned long long)r->n, (unsigned long long)s->n_zero,
			 (unsigned long long)r->n_zero);
	if (r->n == r->n_zero)
		return;
	if (s->top != r->top)
		fail_msg("%s: top %d, flat store's %lld", what, s->top, (long long)r->top);
	for (uint32_t j = 0; j < dp->n_pages; j++) {
		if (s->page[j] >= st->used)
			fail_msg("%s: slot %u holds page %u of %u handed out", what, j, s->page[j],
				 st->used);
		for (uint32_t k = 0; k < j; k++)
			if (s->page[j] && s->page[k] == s->page[j])
				fail_msg("%s: slots %u and %u share page %u", what, k, j,
					 s->page[j]);
		for (uint32_t i = 0; i < SL_DDS_PAGE_BINS; i++) {
			uint32_t f = j * SL_DDS_PAGE_BINS + i;
			const uint64_t *b = sl_dds_bin(dp, st, s, (int32_t)(low + f));
			uint64_t got = s->page[j] ? st->bins[(size_t)s->page[j] * 256 + i] : 0;

			if (got != r->bins[f] || (b ? *b : 0) != got)
				fail_msg("%s: bin %u (key %lld): %llu, flat store %llu", what, f,
					 (long long)(low + f), (unsigned long long)got,
					 (unsigned long long)r->bins[f]);
		}
	}
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double got = sl_dds_quantile(dp, st, s, qs[i]), want = ref_quantile(dp, r, qs[i]);

		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("%s: q %g: %.17g, flat store %.17g", what, qs[i], got, want);
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
		struct sl_dds_store *st;
		struct sl_dds *s;

		assert_int_equal(sl_dds_params_init(&dp, alphas[a]), 0);
		assert_int_equal(dp.n_bins % 256, 0);
		assert_int_equal(dp.n_pages * SL_DDS_PAGE_BINS, dp.n_bins);
		s = dds_new(&dp);
		st = store_new(dp.n_pages + 1);
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
			sl_dds_add(&dp, st, s, x, 1);
		}
		assert_int_equal(s->n, n);
		check_quantiles(&dp, st, s, v, n);
		free(s);
		store_free(st);
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
		struct sl_dds_store *st;
		struct sl_dds *s;

		assert_int_equal(sl_dds_params_init(&dp, alphas[a]), 0);
		s = dds_new(&dp);
		st = store_new(dp.n_pages + 1);
		for (int i = 0; i < 300000; i++) {
			double x, u;
			int64_t want;
			uint64_t *b;

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
			/* an empty sketch again (its pages, zeroed below, stay in their slots) */
			s->n = 0;
			s->n_zero = 0;
			sl_dds_add(&dp, st, s, x, 1);
			b = sl_dds_bin(&dp, st, s, (int32_t)want);
			if (!b || *b != 1)
				fail_msg("alpha %g: %.17g is not in bin %lld", alphas[a], x,
					 (long long)want);
			*b = 0;
		}
		assert_true(st->used <= dp.n_pages + 1);
		free(s);
		store_free(st);
	}
}

/* x whose DDSketch key is k (the middle of bin k on the log scale). */
static double dds_x_of_key(const struct sl_dds_params *dp, int64_t k)
{
	return pow(dp->gamma, (double)k - 0.5);
}

/*
 * Merges page by page: a sketch with a value in every page of its store merged into one
 * whose top is `shift` pages higher (src pages below shift collapse into dst's lowest bin,
 * the rest land shift pages down), and the other way round (dst raised first), for shifts
 * from 0 to past the directory; each against the flat reference.
 */
static void test_dds_merge_page_shift(void **unused)
{
	static const uint32_t shifts[] = { 0, 1, 2, 5, 8, 9, 40 };
	struct sl_dds_params dp;
	char what[64];

	(void)unused;
	assert_int_equal(sl_dds_params_init(&dp, 0.02), 0);
	for (size_t t = 0; t < sizeof(shifts) / sizeof(shifts[0]); t++) {
		const int64_t top = 2560, high = top + 256 * (int64_t)shifts[t];
		struct sl_dds_store *st = store_new(3 * dp.n_pages + 1);
		struct sl_dds *lo = dds_new(&dp), *hi = dds_new(&dp), *lo2 = dds_new(&dp);
		struct ref_dds rlo, rhi, rlo2;

		ref_init(&dp, &rlo);
		ref_init(&dp, &rhi);
		ref_init(&dp, &rlo2);
		/* lo: top `top`, two values in each of its pages (its lowest bin included) */
		for (uint32_t j = 0; j < dp.n_pages; j++)
			for (int64_t k = top - 256 * (int64_t)j; k > top - 256 * (int64_t)j - 256;
			     k -= 255) {
				sl_dds_add(&dp, st, lo, dds_x_of_key(&dp, k), j + 1);
				ref_add(&dp, &rlo, dds_x_of_key(&dp, k), j + 1);
				sl_dds_add(&dp, st, lo2, dds_x_of_key(&dp, k), 2 * j + 1);
				ref_add(&dp, &rlo2, dds_x_of_key(&dp, k), 2 * j + 1);
			}
		sl_dds_add(&dp, st, hi, dds_x_of_key(&dp, high), 7);
		ref_add(&dp, &rhi, dds_x_of_key(&dp, high), 7);
		snprintf(what, sizeof(what), "shift %u: lo", shifts[t]);
		dds_check_ref(&dp, st, lo, &rlo, what);
		sl_dds_merge(&dp, st, hi, st, lo);
		ref_merge(&dp, &rhi, &rlo);
		snprintf(what, sizeof(what), "shift %u: lo into hi", shifts[t]);
		dds_check_ref(&dp, st, hi, &rhi, what);
		sl_dds_merge(&dp, st, lo2, st, hi);
		ref_merge(&dp, &rlo2, &rhi);
		snprintf(what, sizeof(what), "shift %u: hi into lo2 (raised)", shifts[t]);
		dds_check_ref(&dp, st, lo2, &rlo2, what);
		free(rlo.bins);
		free(rhi.bins);
		free(rlo2.bins);
		free(lo);
		free(hi);
		free(lo2);
		store_free(st);
	}
}

static void test_dds_merge_equals_single(void **unused)
{
	struct sl_dds_params dp;
	struct sl_dds *one, *part[3], *empty;
	struct sl_dds_store *st_one, *st_part, *st_empty;
	struct ref_dds ref;
	const size_t n = 30000;
	double *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	assert_int_equal(sl_dds_params_init(&dp, 0.01), 0);
	ref_init(&dp, &ref);
	one = dds_new(&dp);
	empty = dds_new(&dp);
	/* the parts share one store, as a state's groups do */
	st_one = store_new(dp.n_pages + 1);
	st_part = store_new(3 * dp.n_pages + 1);
	st_empty = store_new(dp.n_pages + 1);
	for (int i = 0; i < 3; i++)
		part[i] = dds_new(&dp);
	rng_state = 7;
	for (size_t i = 0; i < n; i++) {
		/* rising values move the store's top while it fills */
		double x = (double)(rng() % 1000) * (double)(i + 1) / 10.0;

		v[i] = x;
		sl_dds_add(&dp, st_one, one, x, 1);
		sl_dds_add(&dp, st_part, part[(i / 1000) % 3], x, 1);
		ref_add(&dp, &ref, x, 1);
	}
	dds_check_ref(&dp, st_one, one, &ref, "one");
	sl_dds_merge(&dp, st_part, part[2], st_empty, empty);
	sl_dds_merge(&dp, st_part, part[2], st_part, part[1]);
	sl_dds_merge(&dp, st_part, part[0], st_part, part[2]);
	sl_dds_merge(&dp, st_empty, empty, st_part, part[0]);
	dds_check_ref(&dp, st_part, part[0], &ref, "parts merged");
	dds_check_ref(&dp, st_empty, empty, &ref, "merged into an empty one");
	check_quantiles(&dp, st_part, part[0], v, n);
	/* a span wider than the store collapses the low end; the top stays exact */
	memset(one, 0, sl_dds_size(&dp));
	sl_dds_store_reset(st_one);
	sl_dds_add(&dp, st_one, one, 1e-30, 10);
	sl_dds_add(&dp, st_one, one, 1e30, 990);
	assert_true(fabs(sl_dds_quantile(&dp, st_one, one, 0.5) - 1e30) <= 0.01 * 1e30);
	assert_true(sl_dds_quantile(&dp, st_one, one, 0) < 1e30);
	free(v);
	free(ref.bins);
	free(one);
	free(empty);
	for (int i = 0; i < 3; i++)
		free(part[i]);
	store_free(st_one);
	store_free(st_part);
	store_free(st_empty);
}

/*
 * The paged store against the flat one (ref_dds), bin for bin and quantile for quantile,
 * where a page put in the wrong slot or rotated the wrong way would show: values over
 * several pages; the top moving up by one page, by several (the pages below collapsing
 * into the lowest bin) and by more than the store (everything collapsing); merges of
 * sketches whose tops differ either way, and of sketches in different stores; a store
 * reset and used again. Memory: a sketch whose values stay in one page takes one page.
 */
static void test_dds_paged_like_flat(void **unused)
{
	static const double alphas[] = { 0.001, 0.01, 0.05 };

	for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++) {
		enum { N_SK = 6 };
		struct sl_dds_params dp;
		struct sl_dds_store *st, *st2;
		struct sl_dds *s[N_SK];
		struct ref_dds r[N_SK];
		char what[80];
		int rise = 0;

		assert_int_equal(sl_dds_params_init(&dp, alphas[a]), 0);
		st = store_new(N_SK * dp.n_pages + 1);
		st2 = store_new(dp.n_pages + 1);
		for (int k = 0; k < N_SK; k++) {
			s[k] = dds_new(&dp);
			ref_init(&dp, &r[k]);
		}
		rng_state = 99 + a;
		for (int round = 0; round < 3; round++) {
			/* sketch 0: one value, many times: one page */
			for (int i = 0; i < 1000; i++) {
				sl_dds_add(&dp, st, s[0], 0.25, 1);
				ref_add(&dp, &r[0], 0.25, 1);
			}
			/* sketch 1: values over six decades, so over several pages, and zeros */
			for (int i = 0; i < 20000; i++) {
				double x = i % 97 == 0 ? 0 : 1e-3 * pow(10, 6 * rng_unit());

				sl_dds_add(&dp, st, s[1], x, 1 + (uint64_t)(i % 3));
				ref_add(&dp, &r[1], x, 1 + (uint64_t)(i % 3));
			}
			/* sketch 2: values over 300 keys, rising by steps of 1 to 3 pages */
			rise = 0;
			for (int i = 0; i < 400; i++) {
				double x;

				if (i % 40 == 0 && i)
					rise += 256 * (1 + (i / 40) % 3);
				x = pow(dp.gamma, (double)(i * 37 % 300) - 500 + (double)rise);
				sl_dds_add(&dp, st, s[2], x, 1);
				ref_add(&dp, &r[2], x, 1);
			}
			/* sketch 3: small values, then jumps of about half the store and of
			 * more than the store: collapse into the lowest bin, part and whole */
			for (int i = 0; i < 3000; i++) {
				double x = (1 + rng_unit()) *
					   (i < 1000   ? 1e-6
					    : i < 2000 ? pow(dp.gamma, dp.n_bins / 2.0)
						       : pow(dp.gamma, dp.n_bins * 1.5));

				sl_dds_add(&dp, st, s[3], x, 1);
				ref_add(&dp, &r[3], x, 1);
			}
			/* sketch 4: higher values than 1 and 3, in the other store */
			for (int i = 0; i < 5000; i++) {
				double x = 1e6 * (1 + 1e4 * rng_unit());

				sl_dds_add(&dp, st2, s[4], x, 1);
				ref_add(&dp, &r[4], x, 1);
			}
			for (int k = 0; k < N_SK - 1; k++) {
				snprintf(what, sizeof(what), "alpha %g round %d sketch %d",
					 alphas[a], round, k);
				dds_check_ref(&dp, k == 4 ? st2 : st, s[k], &r[k], what);
			}
			if (round == 0) {
				/* one value: the top page, which holds it, and no other */
				uint32_t held = 0;

				for (uint32_t j = 0; j < dp.n_pages; j++)
					held += s[0]->page[j] != 0;
				assert_int_equal(held, 1);
				assert_true(s[0]->page[dp.n_pages - 1] != 0);
			}
			/* merges: a lower top into a higher one (4 <- 1), a higher into a
			 * lower one (5 <- 1, then 5 <- 4), equal tops (5 <- 0 twice), across
			 * stores, then a collapsed one (5 <- 3) */
			sl_dds_merge(&dp, st2, s[4], st, s[1]);
			ref_merge(&dp, &r[4], &r[1]);
			sl_dds_merge(&dp, st, s[5], st, s[1]);
			ref_merge(&dp, &r[5], &r[1]);
			sl_dds_merge(&dp, st, s[5], st2, s[4]);
			ref_merge(&dp, &r[5], &r[4]);
			sl_dds_merge(&dp, st, s[5], st, s[0]);
			ref_merge(&dp, &r[5], &r[0]);
			sl_dds_merge(&dp, st, s[5], st, s[0]);
			ref_merge(&dp, &r[5], &r[0]);
			sl_dds_merge(&dp, st, s[5], st, s[3]);
			ref_merge(&dp, &r[5], &r[3]);
			sl_dds_merge(&dp, st, s[2], st, s[5]);
			ref_merge(&dp, &r[2], &r[5]);
			for (int k = 0; k < N_SK; k++) {
				snprintf(what, sizeof(what), "alpha %g round %d merged %d",
					 alphas[a], round, k);
				dds_check_ref(&dp, k == 4 ? st2 : st, s[k], &r[k], what);
			}
			if (round == 1) {
				/* a reset store, used again from empty sketches */
				sl_dds_store_reset(st);
				sl_dds_store_reset(st2);
				assert_int_equal(st->used, 1);
				for (int k = 0; k < N_SK; k++) {
					memset(s[k], 0, sl_dds_size(&dp));
					memset(r[k].bins, 0, dp.n_bins * sizeof(uint64_t));
					r[k].n = r[k].n_zero = 0;
					r[k].top = 0;
				}
				for (uint32_t i = 0; i < st->n_pages * SL_DDS_PAGE_BINS; i++)
					assert_true(st->bins[i] == 0);
			}
		}
		for (int k = 0; k < N_SK; k++) {
			free(s[k]);
			free(r[k].bins);
		}
		store_free(st);
		store_free(st2);
	}
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
		cmocka_unit_test(test_dds_merge_page_shift),
		cmocka_unit_test(test_dds_paged_like_flat),
		cmocka_unit_test(test_topk_guarantee),
		cmocka_unit_test(test_topk_small_merge_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
