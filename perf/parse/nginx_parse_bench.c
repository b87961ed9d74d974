/*
 * Microbenchmark of nginx_parse's parser alone: every line of FILE through
 * ngx_fmt_parse_line_mask with log_format combined + " $request_time" and the fields the
 * bench-peers pipeline's projection asks for (status and path), REPS passes, the best pass
 * in TSC cycles per line. Instructions per line: callgrind's total for 2 passes minus 1
 * pass, divided by the lines. The stage's AVX2 copy where the CPU has it (as the stage
 * chooses; SLUICE_NO_AVX2=1: the SSE2 one); the stage inlines the parser into its burst
 * loop, this calls it. Built by perf/meson.build (BUILD/perf/nginx_parse_bench):
 *   BUILD/perf/nginx_parse_bench /dev/shm/sluice-bench/nginx-rt-200000.log 10
 * (perf/RESULTS.md, issue 5). For an older tree, build it in that tree's build directory
 * after copying this file there: it includes that tree's stages/nginx_parse/log_format.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "log_format.h"

#define MAX_LINES 400000

int main(int argc, char **argv)
{
	static char buf[64 << 20];
	static const char *ls[MAX_LINES];
	static size_t ll[MAX_LINES];
	static uint8_t rec[4096];
	struct ngx_fmt fmt;
	unsigned long best = ~0ul, sum = 0;
	uint32_t off;
	char msg[200];
	size_t n, nl = 0;
	int reps, ok = 0;
	bool avx2 = false;
	FILE *f;

	if (argc < 2 || !(f = fopen(argv[1], "rb"))) {
		fprintf(stderr, "usage: %s FILE [REPS]\n", argv[0]);
		return 2;
	}
	reps = argc > 2 ? atoi(argv[2]) : 5;
#if NGINX_HAVE_AVX2
	avx2 = nginx_cpu_avx2() && !getenv("SLUICE_NO_AVX2");
#endif
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (char *p = buf; p < buf + n && nl < MAX_LINES;) {
		char *e = memchr(p, '\n', (size_t)(buf + n - p));

		if (!e)
			break;
		ls[nl] = p;
		ll[nl++] = (size_t)(e - p);
		p = e + 1;
	}
	if (ngx_fmt_compile(NGX_FMT_COMBINED " $request_time", &fmt, &off, msg, sizeof(msg)) < 0)
		return 1;
	for (int r = 0; r < reps; r++) {
		unsigned long t0 = __rdtsc(), t;

		for (size_t i = 0; i < nl; i++) {
			struct sl_rec_writer w;
			uint32_t eo;

			sl_rec_begin(&w, rec, sizeof(rec));
#if NGINX_HAVE_AVX2
			if (avx2)
				ok += ngx_fmt_parse_line_mask_avx2(&fmt, ls[i], ll[i], &w, &eo,
								   0x9) == 0;
			else
#endif
				ok += ngx_fmt_parse_line_mask(&fmt, ls[i], ll[i], &w, &eo, 0x9) ==
				      0;
			sum += w.len;
		}
		t = __rdtsc() - t0;
		if (t < best)
			best = t;
	}
	printf("%zu lines, %d parsed a pass, %.1f TSC cycles/line (best of %d), %lu bytes, %s\n",
	       nl, ok / (reps ? reps : 1), (double)best / (double)(nl ? nl : 1), reps, sum,
	       avx2 ? "AVX2" : "SSE2");
	return 0;
}
