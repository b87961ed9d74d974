/*
 * Latency histograms: log-linear buckets, four per power of two (so a quantile read from
 * them is within 25 % of the true value, on the high side), over the whole 64-bit range
 * of TSC cycles. One increment per burst on the data path; summing and quantiles on the
 * control path. A histogram is written by one lcore; readers may see it mid-update
 * (counts are monotonic 64-bit words, so a quantile is at worst one burst stale).
 */
#ifndef SL_BASE_LATHIST_H
#define SL_BASE_LATHIST_H

#include <stdint.h>

#define SL_LAT_BUCKETS 256

/* Bucket of v: v itself below 4, else 4 * floor(log2 v) + the next two bits. */
static inline unsigned sl_lat_bucket(uint64_t v)
{
	unsigned msb;

	if (v < 4)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb << 2) | (unsigned)((v >> (msb - 2)) & 3);
}

/* The largest value that falls in bucket b. */
static inline uint64_t sl_lat_bucket_high(unsigned b)
{
	unsigned msb = b >> 2, sub = b & 3;

	if (b < 8)
		return b < 4 ? b : 3; /* 4..7 are never used */
	if (msb >= 63 && sub == 3)
		return UINT64_MAX;
	return ((uint64_t)(4 + sub + 1) << (msb - 2)) - 1;
}

/* The value at quantile q (0..1) of h: the top of the bucket holding it; 0 when empty. */
static inline uint64_t sl_lat_quantile(const uint64_t *h, double q)
{
	uint64_t total = 0, want, run = 0;

	for (unsigned b = 0; b < SL_LAT_BUCKETS; b++)
		total += h[b];
	if (total == 0)
		return 0;
	want = (uint64_t)((double)total * q);
	if (want >= total)
		want = total - 1;
	for (unsigned b = 0; b < SL_LAT_BUCKETS; b++) {
		run += h[b];
		if (run > want)
			return sl_lat_bucket_high(b);
	}
	return sl_lat_bucket_high(SL_LAT_BUCKETS - 1);
}

#endif
