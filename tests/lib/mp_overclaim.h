/*
 * For the fuzz targets that check a msgpack reader against msgpack-c, which allocates a
 * container's items up front (a header claiming billions of items makes it ask for
 * gigabytes): such inputs are kept from it.
 */
#ifndef SL_TESTS_MP_OVERCLAIM_H
#define SL_TESTS_MP_OVERCLAIM_H

#include <stddef.h>
#include <stdint.h>

/* The offset of the first byte of d that reads as an array16, array32, map16 or map32
 * header claiming more items than d has bytes (counted from the bytes there are when it is
 * cut short), or -1. Conservative: every offset is tried, header or not, so only offset 0
 * is sure to be a header. */
static inline long mp_first_overclaim(const uint8_t *d, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		size_t lb = d[i] == 0xdc || d[i] == 0xde ? 2 : d[i] == 0xdd || d[i] == 0xdf ? 4 : 0;
		uint64_t n = 0;

		for (size_t k = 1; k <= lb && i + k < size; k++)
			n = n << 8 | d[i + k];
		if (lb && n > size)
			return (long)i;
	}
	return -1;
}

#endif
