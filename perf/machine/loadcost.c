/*
 * Two costs that decide how a packet loop is written on this machine, in TSC cycles:
 *   - one `rdtsc` (REPS reads back to back): what each node's busy-cycle meter pays per
 *     burst (docs/architecture.md, Fusion);
 *   - three 8-byte fields of each of 64 mbuf-sized objects (offsets 0, 16 and 40, as a
 *     packet stage reads buf_addr, data_off and data_len), read with AVX-512 gathers (8
 *     objects a gather) against plain loads, per object. Both loops add the fields up, and
 *     the two sums must agree (checked). Without AVX-512 only the plain loads are timed.
 * usage: BUILD/perf/loadcost [REPS]   (default 2,000,000 passes over the 64 objects)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <immintrin.h>
#include <x86intrin.h>

#define LC_OBJS 64

struct lc_obj {
	uint64_t w[32]; /* 256 bytes: an mbuf header and headroom */
};

static struct lc_obj lc_objs[LC_OBJS] __attribute__((aligned(64)));
static uint64_t *lc_ptr[LC_OBJS];

static uint64_t lc_plain(long reps, uint64_t *cycles)
{
	uint64_t sum = 0, t0 = __rdtsc();

	for (long r = 0; r < reps; r++) {
		for (int i = 0; i < LC_OBJS; i++) {
			const uint64_t *p = lc_ptr[i];

			sum += p[0] + (p[2] ^ p[5]);
		}
		__asm__ volatile("" ::: "memory");
	}
	*cycles = __rdtsc() - t0;
	return sum;
}

__attribute__((target("avx512f"))) static uint64_t lc_gather(long reps, uint64_t *cycles)
{
	__m512i acc = _mm512_setzero_si512();
	uint64_t t0 = __rdtsc();

	for (long r = 0; r < reps; r++) {
		for (int i = 0; i < LC_OBJS; i += 8) {
			__m512i p = _mm512_loadu_si512(&lc_ptr[i]);
			__m512i a = _mm512_i64gather_epi64(p, NULL, 1);
			__m512i b = _mm512_i64gather_epi64(
				_mm512_add_epi64(p, _mm512_set1_epi64(16)), NULL, 1);
			__m512i c = _mm512_i64gather_epi64(
				_mm512_add_epi64(p, _mm512_set1_epi64(40)), NULL, 1);

			acc = _mm512_add_epi64(acc, _mm512_add_epi64(a, _mm512_xor_si512(b, c)));
		}
		__asm__ volatile("" ::: "memory");
	}
	*cycles = __rdtsc() - t0;
	return (uint64_t)_mm512_reduce_add_epi64(acc);
}

int main(int argc, char **argv)
{
	long reps = argc > 1 ? atol(argv[1]) : 2000000;
	uint64_t c_plain, c_gather, s_plain, s_gather, t0, t1, tsum = 0;

	if (reps <= 0) {
		fprintf(stderr, "usage: %s [REPS > 0]\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < LC_OBJS; i++) {
		for (int j = 0; j < 32; j++)
			lc_objs[i].w[j] = (uint64_t)i * 131 + (uint64_t)j;
		/* Visited out of order, as a burst's mbufs are. */
		lc_ptr[i] = lc_objs[(i * 7) % LC_OBJS].w;
	}
	t0 = __rdtsc();
	for (long i = 0; i < 5 * reps; i++)
		tsum += __rdtsc();
	t1 = __rdtsc();
	printf("rdtsc: %.1f TSC cycles a read (%ld reads; checksum %" PRIu64 ")\n",
	       (double)(t1 - t0) / (double)(5 * reps), 5 * reps, tsum & 0xff);
	s_plain = lc_plain(reps, &c_plain);
	printf("plain loads: %.2f TSC cycles an object (3 fields)\n",
	       (double)c_plain / (double)reps / LC_OBJS);
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f")) {
		printf("gathers: no AVX-512 on this CPU\n");
		return 0;
	}
	s_gather = lc_gather(reps, &c_gather);
	printf("AVX-512 gathers: %.2f TSC cycles an object (3 fields)\n",
	       (double)c_gather / (double)reps / LC_OBJS);
	if (s_plain != s_gather) {
		fprintf(stderr, "loadcost: sums differ (%" PRIu64 " vs %" PRIu64 ")\n", s_plain,
			s_gather);
		return 1;
	}
	return 0;
}
