/*
 * Event times for the aggregate stage's event-time buckets: a record field's value as
 * nanoseconds since the Unix epoch. Pure functions, any thread.
 */
#ifndef SL_AGG_EVENT_TIME_H
#define SL_AGG_EVENT_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A time string as epoch nanoseconds: nginx's $time_local ("10/Oct/2023:13:55:36 +0200")
 * or RFC 3339 ("2023-10-10T13:55:36Z", "2023-10-10 13:55:36.250+02:00"; fraction up to
 * nanoseconds). False when the text is neither, or outside the years 1678 to 2261.
 */
bool sl_agg_time_parse(const char *s, size_t n, int64_t *ns);

/* The start of the bucket of width_ns holding t (floor, also before 1970). */
static inline int64_t sl_agg_time_bucket(int64_t t, uint64_t width_ns)
{
	int64_t w = (int64_t)width_ns, q = t / w;

	if (t % w < 0)
		q--;
	return q * w;
}

#endif
