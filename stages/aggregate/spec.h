/*
 * One item of the aggregate stage's `aggregations` list, e.g.
 * `{ name: p99_bytes, fn: quantile, field: bytes, q: 0.99 }`, parsed from its text by
 * sl_agg_spec_parse at init (control thread). The text is a flow mapping of scalar keys and
 * values, braces optional; values may be quoted ("..." with \\ and \" escapes, or '...').
 */
#ifndef SL_AGG_SPEC_H
#define SL_AGG_SPEC_H

#include <stddef.h>
#include <stdint.h>

enum sl_agg_fn {
	SL_AGG_COUNT = 0,
	SL_AGG_SUM,
	SL_AGG_MIN,
	SL_AGG_MAX,
	SL_AGG_AVG,
	SL_AGG_DISTINCT,
	SL_AGG_QUANTILE,
	SL_AGG_TOP_K,
};

#define SL_AGG_NAME_MAX 64 /* names and fields: at most 63 bytes */
#define SL_AGG_K_MAX	100

struct sl_agg_spec {
	enum sl_agg_fn fn;
	char name[SL_AGG_NAME_MAX];
	char field[SL_AGG_NAME_MAX]; /* "" when none (count only) */
	double q;		     /* quantile: which one, 0..1 */
	double error;		     /* quantile: relative accuracy (default 0.01) */
	uint32_t p;		     /* distinct: HyperLogLog precision (default 12) */
	uint32_t k;		     /* top_k: how many to report (default 10) */
	uint32_t capacity;	     /* top_k: counters kept (default max(64, 16 k)) */
};

/* Name of a function as written in the configuration. */
const char *sl_agg_fn_name(enum sl_agg_fn fn);

/* Parse and check one item. Returns 0, or -EINVAL with a message in why and the byte
 * offset in text where the problem is in *at. */
int sl_agg_spec_parse(const char *text, struct sl_agg_spec *s, char *why, size_t why_len,
		      uint32_t *at);

#endif
