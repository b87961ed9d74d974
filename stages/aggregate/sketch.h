/*
 * Mergeable sketches for the aggregate stage: HyperLogLog (distinct), DDSketch with a
 * collapsing dense store (quantile) and space-saving (top_k). Each sketch lives in a
 * caller-owned, fixed-size, zero-initialised block (a zeroed block is an empty sketch), so
 * the stage can carve them out of one table allocated when a replica's state is created:
 * adding and merging never allocate. Pure functions, no globals; called from whichever
 * thread owns the state. Error bounds are stated at each sketch and in docs/aggregate.md.
 */
#ifndef SL_AGG_SKETCH_H
#define SL_AGG_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of bytes, continuing from seed (chain calls to hash pieces). */
uint64_t sl_sketch_hash(const void *p, size_t n, uint64_t seed);

/*
 * HyperLogLog with 2^p one-byte registers (4 <= p <= 16) and a 64-bit hash: standard
 * error 1.04 / sqrt(2^p) (1.6 % at p = 12), linear counting below 2.5 * 2^p. Merging takes
 * the register-wise maximum, so the merged sketch equals the sketch of the union exactly.
 */
#define SL_HLL_P_MIN 4
#define SL_HLL_P_MAX 16

static inline size_t sl_hll_size(unsigned p)
{
	return (size_t)1 << p;
}

static inline void sl_hll_add(uint8_t *reg, unsigned p, uint64_t hash)
{
	uint64_t w = hash << p | (uint64_t)1 << (p - 1);
	uint8_t rho = (uint8_t)(__builtin_clzll(w) + 1);
	uint8_t *r = &reg[hash >> (64 - p)];

	if (*r < rho)
		*r = rho;
}

void sl_hll_merge(uint8_t *dst, const uint8_t *src, unsigned p);
double sl_hll_estimate(const uint8_t *reg, unsigned p);

/*
 * DDSketch (Masson et al., VLDB 2019) over values >= 0 with relative accuracy alpha:
 * gamma = (1 + alpha) / (1 - alpha); a value x > 0 goes to bin ceil(log_gamma(x)), and
 * the bin's estimate 2 gamma^k / (gamma + 1) is within alpha * x of every x in it. Zero
 * has its own bin. The store keeps n_bins consecutive bins whose top is the highest key
 * seen rounded up to a multiple of 256; lower keys collapse into the lowest bin. The top
 * depends only on the maximum, so merging (adding bins) gives the single-sketch result
 * exactly while the values of one sketch span fewer than n_bins - 256 bins.
 *
 * The bins are paged: a sketch (struct sl_dds, in the caller's block) holds its header and
 * a directory of n_bins / 256 page numbers; a page of 256 bins (2 KiB) is taken from a
 * store (struct sl_dds_store, one per state, bump-allocated) the first time a value lands
 * in it, so a sketch touches memory for the bins its values use (a few pages) instead of
 * all of them (20 KiB at alpha 0.01). The top moving up by whole pages rotates the
 * directory and clears the pages that fall off (their counts go to the lowest bin); a
 * directory slot keeps its page until the store is reset, so one sketch never takes more
 * than n_bins / 256 pages: a store of n sketches needs at most n * n_bins / 256 pages
 * (sl_dds_store_init's caller sizes it so; running out is a bug and aborts). The counts,
 * and so every quantile and merge, are those of one flat array of n_bins bins.
 */
#define SL_DDS_PAGE_BITS 8
#define SL_DDS_PAGE_BINS (1u << SL_DDS_PAGE_BITS)

struct sl_dds_params {
	double alpha;
	double gamma;
	double inv_log_gamma; /* 1 / ln(gamma) */
	uint32_t n_bins;      /* a multiple of 256, covering at least 2^64 */
	uint32_t n_pages;     /* n_bins / 256: directory slots of a sketch */
};

struct sl_dds {
	uint64_t n;	 /* values added, zero bin included */
	uint64_t n_zero; /* values == 0 */
	int32_t top;	 /* key of the last bin when n > n_zero */
	uint32_t page[]; /* page[j]: the store's page holding bins 256 j .. 256 j + 255, where
			    bin i holds key top - n_bins + 1 + i; 0: no page (all zero) */
};

/* Pages of 256 bins for the sketches of one state: page p is bins[256 p ..]; page 0 is
 * never handed out (a directory's 0 means none). */
struct sl_dds_store {
	uint64_t *bins;
	uint32_t used;	  /* pages handed out, page 0 included */
	uint32_t n_pages; /* pages at bins, page 0 included */
};

/* alpha in [0.001, 0.1]; returns -1 when out of range. */
int sl_dds_params_init(struct sl_dds_params *dp, double alpha);

/* Bytes of a sketch (header and directory) in the caller's block. */
static inline size_t sl_dds_size(const struct sl_dds_params *dp)
{
	return offsetof(struct sl_dds, page) + (size_t)dp->n_pages * sizeof(uint32_t);
}

/* Bytes of a store of n_pages pages (page 0 included). */
static inline size_t sl_dds_store_bytes(uint32_t n_pages)
{
	return (size_t)n_pages * SL_DDS_PAGE_BINS * sizeof(uint64_t);
}

/* A store over zeroed memory of sl_dds_store_bytes(n_pages) bytes; n_pages >= 1 + the
 * n_pages of every sketch it serves, summed. */
void sl_dds_store_init(struct sl_dds_store *st, uint64_t *bins, uint32_t n_pages);
/* Zero the pages handed out and take them back; the sketches using them must be zeroed
 * too (their directories point at them). */
void sl_dds_store_reset(struct sl_dds_store *st);

/* Add n copies of x (x >= 0, not NaN; the caller filters). */
void sl_dds_add(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s, double x,
		uint64_t n);
/* The bin key sl_dds_add gives x > 0; and sl_dds_add of n copies of an x > 0 whose key the
 * caller has (aggregate memoises keys: a quantile's values repeat). */
int32_t sl_dds_key(const struct sl_dds_params *dp, double x);
void sl_dds_add_key(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s,
		    int32_t key, uint64_t n);

/* Where the count of key is, when key is within the bins and its page exists; else NULL
 * (sl_dds_add_key's slow case). For the inline add and for prefetching. */
static inline uint64_t *sl_dds_bin(const struct sl_dds_params *dp, const struct sl_dds_store *st,
				   const struct sl_dds *s, int32_t key)
{
	int64_t low = (int64_t)s->top - dp->n_bins + 1;
	uint32_t i, pg;

	if (key > s->top || key < low)
		return NULL;
	i = (uint32_t)(key - low);
	pg = s->page[i >> SL_DDS_PAGE_BITS];
	return pg ? &st->bins[(size_t)pg << SL_DDS_PAGE_BITS | (i & (SL_DDS_PAGE_BINS - 1))] : NULL;
}

/* sl_dds_add_key with its common case inline: the key within the bins, its page there. */
static inline __attribute__((always_inline)) void
sl_dds_add_key_inline(const struct sl_dds_params *dp, struct sl_dds_store *st, struct sl_dds *s,
		      int32_t key, uint64_t n)
{
	uint64_t *b;

	if (s->n > s->n_zero && (b = sl_dds_bin(dp, st, s, key)) != NULL) {
		s->n += n;
		*b += n;
		return;
	}
	sl_dds_add_key(dp, st, s, key, n);
}
/* Merge src (its pages in src_st) into dst (pages from dst_st). */
void sl_dds_merge(const struct sl_dds_params *dp, struct sl_dds_store *dst_st, struct sl_dds *dst,
		  const struct sl_dds_store *src_st, const struct sl_dds *src);
/* The value of rank floor(q * (n - 1)) (0-based, ascending), within alpha; 0 when empty. */
double sl_dds_quantile(const struct sl_dds_params *dp, const struct sl_dds_store *st,
		       const struct sl_dds *s, double q);

/*
 * Space-saving (Metwally et al., ICDT 2005) with `cap` counters over keys of at most
 * SL_TOPK_KEY_MAX bytes. Every count is an upper bound: true <= count <= true + floor,
 * where floor (the count of the last evicted counter) is at most N / cap for N items added
 * to one sketch; an item whose true count exceeds floor is always present. Merging adds the
 * counts (an item missing from one side gets that side's floor), keeps the cap largest and
 * raises floor to cover what was dropped, so the bounds hold for the merged sketch with N
 * the total. Layout of a block: the header, then cap hashes, cap counts, cap entries.
 */
#define SL_TOPK_KEY_MAX 116
#define SL_TOPK_CAP_MAX 4096

struct sl_topk_entry {
	uint32_t len;
	uint8_t key[SL_TOPK_KEY_MAX];
};

struct sl_topk {
	uint32_t n; /* counters in use, at most cap */
	uint32_t pad;
	uint64_t floor;
	uint64_t total; /* items added (merged totals included) */
};

/* One merge candidate (in the scratch area). */
struct sl_topk_cand {
	uint64_t count;
	uint32_t from; /* 0: dst entry, 1: src entry */
	uint32_t idx;
};

/* Bytes of merge scratch for sketches of cap counters: 2 * cap candidates, cap marks. */
static inline size_t sl_topk_scratch_size(uint32_t cap)
{
	return (size_t)cap * (2 * sizeof(struct sl_topk_cand) + 1);
}

static inline size_t sl_topk_size(uint32_t cap)
{
	return sizeof(struct sl_topk) + (size_t)cap * (2 * sizeof(uint64_t)) +
	       (size_t)cap * sizeof(struct sl_topk_entry);
}

static inline uint64_t *sl_topk_hashes(const struct sl_topk *t)
{
	return (uint64_t *)(uintptr_t)(t + 1);
}

static inline uint64_t *sl_topk_counts(const struct sl_topk *t, uint32_t cap)
{
	return sl_topk_hashes(t) + cap;
}

static inline struct sl_topk_entry *sl_topk_entries(const struct sl_topk *t, uint32_t cap)
{
	return (struct sl_topk_entry *)(sl_topk_hashes(t) + 2 * (size_t)cap);
}

/* Add n occurrences of key (len <= SL_TOPK_KEY_MAX) whose hash is given. */
void sl_topk_add(struct sl_topk *t, uint32_t cap, const uint8_t *key, uint32_t len, uint64_t hash,
		 uint64_t n);
/* Merge src into dst (same cap); scratch has sl_topk_scratch_size(cap) bytes. */
void sl_topk_merge(struct sl_topk *dst, const struct sl_topk *src, uint32_t cap, void *scratch);
/* Order of two keys for ties in sl_topk_top: negative when a comes first. */
typedef int (*sl_topk_cmp_fn)(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len);

/* Indexes of the k largest counts into idx, in order, ties by cmp (NULL: key bytes);
 * returns how many (<= k, <= n). */
uint32_t sl_topk_top(const struct sl_topk *t, uint32_t cap, uint32_t k, sl_topk_cmp_fn cmp,
		     uint32_t *idx);

#endif
