/*
 * The aggregate stage's sketches (sketch.h): HyperLogLog, DDSketch and space-saving over
 * caller-owned blocks. Called by aggregate.c from process (add), merge and emit, on
 * whichever thread owns the state at the time; no allocation, no globals, no locks.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

/* splitmix64's finaliser: every input bit affects every output bit. */
static uint64_t sketch_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t sl_sketch_hash(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = sketch_mix(seed ^ n), x;

	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&x, b, 8);
		h = sketch_mix(h ^ x);
	}
	/* The tail little-endian under its length in the top byte (what memcpy into x gave,
	 * without a call per hash: most keys are shorter than 16 bytes). */
	x = (uint64_t)n << 56;
	switch (n) {
	case 7:
		x |= (uint64_t)b[6] << 48;
		/* fall through */
	case 6:
		x |= (uint64_t)b[5] << 40;
		/* fall through */
	case 5:
		x |= (uint64_t)b[4] << 32;
		/* fall through */
	case 4:
		x |= (uint64_t)b[3] << 24;
		/* fall through */
	case 3:
		x |= (uint64_t)b[2] << 16;
		/* fall through */
	case 2:
		x |= (uint64_t)b[1] << 8;
		/* fall through */
	case 1:
		x |= b[0];
		break;
	default:
		break;
	}
	return sketch_mix(h ^ x);
}

/* ---- HyperLogLog ---- */

void sl_hll_merge(uint8_t *dst, const uint8_t *src, unsigned p)
{
	for (size_t i = 0; i < sl_hll_size(p); i++)
		if (dst[i] < src[i])
			dst[i] = src[i];
}

double sl_hll_estimate(const uint8_t *reg, unsigned p)
{
	const double m = (double)sl_hll_size(p);
	double sum = 0, alpha, e;
	size_t zeros = 0;

	for (size_t i = 0; i < sl_hll_size(p); i++) {
		sum += 1.0 / (double)((uint64_t)1 << reg[i]);
		zeros += reg[i] == 0;
	}
	/* Flajolet et al. 2007, figure 3. */
	alpha = p == 4 ? 0.673 : p == 5 ? 0.697 : p == 6 ? 0.709 : 0.7213 / (1 + 1.079 / m);
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / (double)zeros);
	return e;
}

/* ---- DDSketch ---- */

int sl_dds_params_init(struct sl_dds_params *dp, double alpha)
{
	double need;

	if (!(alpha >= 0.001 && alpha <= 0.1))
		return -1;
	dp->alpha = alpha;
	dp->gamma = (1 + alpha) / (1 - alpha);
	dp->inv_log_gamma = 1 / log(dp->gamma);
	/* 2^64 of range below the top, plus the top's rounding slack. */
	need = ceil(64 * log(2.0) * dp->inv_log_gamma) + 256;
	dp->n_bins = ((uint32_t)need + 255) / 256 * 256;
	dp->n_pages = dp->n_bins / SL_DDS_PAGE_BINS;
	return 0;
}

static int32_t dds_key_slow(const struct sl_dds_params *dp, double x)
{
	return (int32_t)ceil(log(x) * dp->inv_log_gamma);
}

/*
 * ceil(log(x) / ln gamma) without libm's log (~100 instructions of ~300 a value in
 * callgrind): x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m - 1) /
 * (m + 1), |s| <= 0.172, by its series to s^11 (error below 2e-11, so below 1e-8 in keys
 * even at alpha = 0.001). The result is the same key as dds_key_slow's: where the key's
 * fraction is within 1e-6 of an integer, or x is subnormal or huge, dds_key_slow decides.
 */
static int32_t dds_key(const struct sl_dds_params *dp, double x)
{
	uint64_t b;
	int64_t e, k;
	double m, s, s2, ln, kf, f;

	memcpy(&b, &x, 8);
	e = (int64_t)((b >> 52) & 0x7ff) - 1023;
	if (e <= -1000 || e >= 1000)
		return dds_key_slow(dp, x);
	b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	memcpy(&m, &b, 8);
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	ln = 2 * s *
	     (1 + s2 * (1 / 3.0 + s2 * (1 / 5.0 + s2 * (1 / 7.0 + s2 * (1 / 9.0 + s2 / 11.0)))));
	kf = ((double)e * 0.69314718055994530942 + ln) * dp->inv_log_gamma;
	k = (int64_t)kf;
	if ((double)k > kf)
		k--;
	f = kf - (double)k;
	if (f < 1e-6 || f > 1 - 1e-6)
		return dds_key_slow(dp, x);
	return (int32_t)(k + 1);
}

/* The top bin for a highest key: the key rounded up to a multiple of 256, so the store
 * moves up rarely and its position depends only on the maximum. */
static int32_t dds_top_for(int32_t key)
{
	int32_t r = key % 256;

	if (r < 0)
		r += 256;
	return r ? key + (256 - r) : key;
}

static bool dds_has_bins(const struct sl_dds *s)
{
	return s->n > s->n_zero;
}

void sl_dds_store_init(struct sl_dds_store *st, uint64_t *bins, uint32_t n_pages)
{
	st->bins = bins;
	st->used = 1;
	st->n_pages = n_pages;
}

void sl_dds_store_reset(struct sl_dds_store *st)
{
	if (st->used > 1)
		memset(st->bins + SL_DDS_PAGE_BINS, 0, sl_dds_store_bytes(st->used - 1));
	st->used = 1;
}

static uint64_t *dds_page(const struct sl_dds_store *st, uint32_t pg)
{
	return st->bins + ((size_t)pg << SL_DDS_PAGE_BITS);
}

/* Directory slot j's page, taken from the store when it has none. */
static uint64_t *dds_page_get(struct sl_dds_store *st, struct sl_dds *s, uint32_t j)
{
	if (!s->page[j]) {
		/* Sized by the caller for every slot of every sketch: cannot happen. */
		if (st->used >= st->n_pages)
			abort();
		s->page[j] = st->used++;
	}
	return dds_page(st, s->page[j]);
}

static void dds_reverse(uint32_t *a, uint32_t n)
{
	for (uint32_t i = 0; i < n / 2; i++) {
		uint32_t t = a[i];

		a[i] = a[n - 1 - i];
		a[n - 1 - i] = t;
	}
}

/*
 * Move the store up to a higher top (both multiples of 256, so by whole pages), collapsing
 * what falls off into the lowest bin: the pages below the new lowest are summed and
 * cleared, and the directory rotates so that they become the top's empty pages.
 */
static void dds_raise(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s,
		      int32_t top)
{
	uint64_t m = (uint64_t)((int64_t)top - s->top) >> SL_DDS_PAGE_BITS, low = 0;
	uint32_t np = dp->n_pages, k = m < np ? (uint32_t)m : np;

	if (m == 0)
		return;
	for (uint32_t j = 0; j < k; j++) {
		uint64_t *b;

		if (!s->page[j])
			continue;
		b = dds_page(st, s->page[j]);
		for (uint32_t i = 0; i < SL_DDS_PAGE_BINS; i++)
			low += b[i];
		memset(b, 0, SL_DDS_PAGE_BINS * sizeof(b[0]));
	}
	if (k < np) {
		/* Rotate left by k: three reversals, in place. */
		dds_reverse(s->page, k);
		dds_reverse(s->page + k, np - k);
		dds_reverse(s->page, np);
	}
	s->top = top;
	if (low)
		dds_page_get(st, s, 0)[0] += low;
}

static void dds_put(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s,
		    int32_t key, uint64_t n)
{
	int64_t low = (int64_t)s->top - dp->n_bins + 1;
	uint32_t i = key < low ? 0 : (uint32_t)(key - low);

	dds_page_get(st, s, i >> SL_DDS_PAGE_BITS)[i & (SL_DDS_PAGE_BINS - 1)] += n;
}

void sl_dds_add(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s, double x,
		uint64_t n)
{
	if (!(x > 0)) {
		s->n += n;
		s->n_zero += n;
		return;
	}
	sl_dds_add_key(dp, st, s, dds_key(dp, x), n);
}

int32_t sl_dds_key(const struct sl_dds_params *dp, double x)
{
	return dds_key(dp, x);
}

void sl_dds_add_key(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s,
		    int32_t key, uint64_t n)
{
	if (!dds_has_bins(s))
		s->top = dds_top_for(key);
	else if (key > s->top)
		dds_raise(dp, st, s, dds_top_for(key));
	s->n += n;
	dds_put(dp, st, s, key, n);
}

void sl_dds_merge(const struct sl_dds_params *dp, struct sl_dds_store *dst_st, struct sl_dds *dst,
		  const struct sl_dds_store *src_st, const struct sl_dds *src)
{
	int64_t low = (int64_t)src->top - dp->n_bins + 1;

	if (dds_has_bins(src)) {
		if (!dds_has_bins(dst))
			dst->top = src->top;
		else if (src->top > dst->top)
			dds_raise(dp, dst_st, dst, src->top);
		for (uint32_t j = 0; j < dp->n_pages; j++) {
			const uint64_t *b;

			if (!src->page[j])
				continue;
			b = dds_page(src_st, src->page[j]);
			for (uint32_t i = 0; i < SL_DDS_PAGE_BINS; i++)
				if (b[i])
					dds_put(dp, dst_st, dst,
						(int32_t)(low + (int64_t)j * SL_DDS_PAGE_BINS + i),
						b[i]);
		}
	}
	dst->n += src->n;
	dst->n_zero += src->n_zero;
}

/* The value a bin stands for, 2 gamma^key / (gamma + 1). For the top bins of values near
 * DBL_MAX, 2 gamma^key overflows: divided first, and at most DBL_MAX (no value is above). */
static double dds_value(const struct sl_dds_params *dp, int64_t key)
{
	double p = pow(dp->gamma, (double)key), v = 2 * p / (dp->gamma + 1);

	if (isinf(v))
		v = p / (dp->gamma + 1) * 2;
	return isinf(v) ? DBL_MAX : v;
}

double sl_dds_quantile(const struct sl_dds_params *dp, const struct sl_dds_store *st,
		       const struct sl_dds *s, double q)
{
	uint64_t rank, seen = s->n_zero;
	int64_t low = (int64_t)s->top - dp->n_bins + 1;

	if (s->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)(s->n - 1));
	if (rank < seen)
		return 0;
	for (uint32_t j = 0; j < dp->n_pages; j++) {
		const uint64_t *b;

		if (!s->page[j])
			continue;
		b = dds_page(st, s->page[j]);
		for (uint32_t i = 0; i < SL_DDS_PAGE_BINS; i++) {
			seen += b[i];
			if (seen > rank)
				return dds_value(dp, low + (int64_t)j * SL_DDS_PAGE_BINS + i);
		}
	}
	return dds_value(dp, s->top);
}

/* ---- space-saving ---- */

static int topk_bytes_cmp(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len)
{
	uint32_t n = a_len < b_len ? a_len : b_len;
	int c = memcmp(a, b, n);

	return c ? c : (a_len > b_len) - (a_len < b_len);
}

static int topk_keycmp(const struct sl_topk_entry *a, const struct sl_topk_entry *b)
{
	return topk_bytes_cmp(a->key, a->len, b->key, b->len);
}

static int64_t topk_find(const struct sl_topk *t, uint32_t cap, const uint8_t *key, uint32_t len,
			 uint64_t hash)
{
	const uint64_t *h = sl_topk_hashes(t);
	const struct sl_topk_entry *e = sl_topk_entries(t, cap);

	for (uint32_t i = 0; i < t->n; i++)
		if (h[i] == hash && e[i].len == len && memcmp(e[i].key, key, len) == 0)
			return i;
	return -1;
}

static void topk_set(struct sl_topk *t, uint32_t cap, uint32_t i, const uint8_t *key, uint32_t len,
		     uint64_t hash, uint64_t count)
{
	struct sl_topk_entry *e = &sl_topk_entries(t, cap)[i];

	sl_topk_hashes(t)[i] = hash;
	sl_topk_counts(t, cap)[i] = count;
	e->len = len;
	memcpy(e->key, key, len);
}

void sl_topk_add(struct sl_topk *t, uint32_t cap, const uint8_t *key, uint32_t len, uint64_t hash,
		 uint64_t n)
{
	uint64_t *c = sl_topk_counts(t, cap);
	int64_t i = topk_find(t, cap, key, len, hash);
	uint32_t min = 0;

	t->total += n;
	if (i >= 0) {
		c[i] += n;
		return;
	}
	if (t->n < cap) {
		topk_set(t, cap, t->n++, key, len, hash, n);
		return;
	}
	/* Evict the smallest counter: the newcomer inherits its count as error. */
	for (uint32_t j = 1; j < cap; j++)
		if (c[j] < c[min])
			min = j;
	if (t->floor < c[min])
		t->floor = c[min];
	topk_set(t, cap, min, key, len, hash, c[min] + n);
}

struct topk_order {
	struct sl_topk_cand *c;
	const struct sl_topk_entry *e[2];
};

/* Candidate a before b: larger count, then smaller key. */
static bool topk_cand_before(const struct topk_order *o, uint32_t a, uint32_t b)
{
	const struct sl_topk_cand *x = &o->c[a], *y = &o->c[b];

	if (x->count != y->count)
		return x->count > y->count;
	return topk_keycmp(&o->e[x->from][x->idx], &o->e[y->from][y->idx]) < 0;
}

static void topk_sift(struct topk_order *o, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t child = 2 * root + 1;
		struct sl_topk_cand tmp;

		if (child >= n)
			return;
		/* A heap whose root is the candidate that sorts last. */
		if (child + 1 < n && topk_cand_before(o, child, child + 1))
			child++;
		if (!topk_cand_before(o, root, child))
			return;
		tmp = o->c[root];
		o->c[root] = o->c[child];
		o->c[child] = tmp;
		root = child;
	}
}

/* Heapsort into candidate order (first = largest count). */
static void topk_sort(struct topk_order *o, uint32_t n)
{
	struct sl_topk_cand tmp;

	for (uint32_t i = n / 2; i-- > 0;)
		topk_sift(o, i, n);
	for (uint32_t end = n; end-- > 1;) {
		tmp = o->c[0];
		o->c[0] = o->c[end];
		o->c[end] = tmp;
		topk_sift(o, 0, end);
	}
}

void sl_topk_merge(struct sl_topk *dst, const struct sl_topk *src, uint32_t cap, void *scratch)
{
	struct sl_topk_cand *cand = scratch;
	uint8_t *kept = (uint8_t *)(cand + 2 * (size_t)cap);
	const struct sl_topk_entry *se = sl_topk_entries(src, cap);
	const uint64_t *sh = sl_topk_hashes(src), *sc = sl_topk_counts(src, cap);
	uint64_t *dc = sl_topk_counts(dst, cap);
	uint64_t floor = dst->floor + src->floor;
	struct topk_order o = { cand, { sl_topk_entries(dst, cap), se } };
	uint32_t u = 0, m, slot = 0;

	memset(kept, 0, cap);
	/* Items on both sides add up; an item missing from one side gets that side's floor,
	 * the most it can have had there, so counts stay upper bounds. */
	for (uint32_t j = 0; j < src->n; j++) {
		int64_t i = topk_find(dst, cap, se[j].key, se[j].len, sh[j]);
		if (i >= 0) {
			dc[i] += sc[j];
			kept[i] = 1;
		} else {
			cand[u++] = (struct sl_topk_cand){ sc[j] + dst->floor, 1, j };
		}
	}
	for (uint32_t i = 0; i < dst->n; i++)
		if (!kept[i])
			dc[i] += src->floor;
	dst->total += src->total;
	if (dst->n + u <= cap) {
		for (uint32_t k = 0; k < u; k++)
			topk_set(dst, cap, dst->n++, se[cand[k].idx].key, se[cand[k].idx].len,
				 sh[cand[k].idx], cand[k].count);
		dst->floor = floor;
		return;
	}
	/* Too many: keep the cap largest; anything dropped is covered by the floor. */
	for (uint32_t i = 0; i < dst->n; i++)
		cand[u + i] = (struct sl_topk_cand){ dc[i], 0, i };
	m = u + dst->n;
	topk_sort(&o, m);
	if (floor < cand[cap].count)
		floor = cand[cap].count;
	memset(kept, 0, cap);
	for (uint32_t k = 0; k < cap; k++)
		if (cand[k].from == 0)
			kept[cand[k].idx] = 1;
	for (uint32_t k = 0; k < cap; k++) {
		if (cand[k].from == 0)
			continue;
		while (slot < dst->n && kept[slot])
			slot++;
		topk_set(dst, cap, slot++, se[cand[k].idx].key, se[cand[k].idx].len,
			 sh[cand[k].idx], cand[k].count);
	}
	dst->n = cap;
	dst->floor = floor;
}

uint32_t sl_topk_top(const struct sl_topk *t, uint32_t cap, uint32_t k, sl_topk_cmp_fn cmp,
		     uint32_t *idx)
{
	const struct sl_topk_entry *e = sl_topk_entries(t, cap);
	const uint64_t *c = sl_topk_counts(t, cap);
	uint32_t r;

	if (!cmp)
		cmp = topk_bytes_cmp;
	/* Selection, k passes: each takes the best entry after the previous pick. */
	for (r = 0; r < k && r < t->n; r++) {
		int64_t best = -1;
		for (uint32_t i = 0; i < t->n; i++) {
			if (r > 0) {
				uint32_t p = idx[r - 1];
				if (c[i] > c[p] || (c[i] == c[p] && cmp(e[i].key, e[i].len,
									e[p].key, e[p].len) <= 0))
					continue;
			}
			if (best < 0 || c[i] > c[best] ||
			    (c[i] == c[best] &&
			     cmp(e[i].key, e[i].len, e[best].key, e[best].len) < 0))
				best = i;
		}
		idx[r] = (uint32_t)best;
	}
	return r;
}
