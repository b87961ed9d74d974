/*
 * Fuzz target for nginx_parse's log_format (log_format.h). Input: a format string, a
 * newline, then lines. The format either compiles or is refused with an offset inside it;
 * each line is matched: the code is in range, an error offset lies within the line, and a
 * record decodes as one map whose string values are bytes of the line. Every line is also
 * given to the combined parser (parse.h) and to the combined format compiled: when the
 * parser reads the line, the compiled format reads it too, with the same field values. A
 * format that is the combined one and more (read by the combined parser, then the rest)
 * gives the same fields as the same format matched item by item. Where the CPU has AVX2,
 * the stage's AVX2 instance (ngx_fmt_parse_line_mask_avx2) gives the same code, offset and
 * record bytes as the SSE2 one on every line.
 * Every build replays tests/fuzz/corpus/nginx_log_format; -Dfuzz=true builds it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#include "log_format.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "nginx_log_format_fuzz: check failed: %s\n", what);
		abort();
	}
}

static struct ngx_fmt fmt, combined, generic;
static uint8_t rec[16384], rec2[16384];

/* One line through the compiled format f. */
static int fuzz_line(const struct ngx_fmt *f, const char *line, size_t n, uint8_t *buf,
		     struct sl_rec *r)
{
	struct sl_rec_writer w;
	struct sl_val k, v;
	uint32_t off = UINT32_MAX, pos = 0;
	int rc;

	sl_rec_begin(&w, buf, n % 5 == 1 ? (uint32_t)(n / 3 + 3) : sizeof(rec));
	rc = ngx_fmt_parse_line(f, line, n, &w, &off);
	fuzz_check(rc >= SL_NGINX_OK && rc < SL_NGINX_N_CODES, "code in range");
#if NGINX_HAVE_AVX2
	if (nginx_cpu_avx2()) {
		/* the stage's AVX2 instance: the same code, offset and record bytes (after the
		 * map header, whose count sl_rec_end writes) */
		static uint8_t abuf[sizeof(rec)];
		struct sl_rec_writer wa;
		uint32_t aoff = UINT32_MAX;

		sl_rec_begin(&wa, abuf, w.cap);
		fuzz_check(ngx_fmt_parse_line_mask_avx2(f, line, n, &wa, &aoff,
							SL_NGINX_ALL_FIELDS) == rc &&
				   (rc == SL_NGINX_OK || aoff == off) && wa.len == w.len &&
				   wa.n_fields == w.n_fields && wa.overflow == w.overflow &&
				   (w.len < 3 || memcmp(abuf + 3, buf + 3, w.len - 3) == 0),
			   "AVX2 instance as the SSE2 one");
	}
#endif
	if (rc != SL_NGINX_OK) {
		fuzz_check(off <= n, "error offset within the line");
		return rc;
	}
	*r = (struct sl_rec){ buf, sl_rec_end(&w) };
	fuzz_check(r->len > 0, "record written");
	fuzz_check(sl_mp_read(buf, buf + r->len, &v) == buf + r->len && v.type == SL_VAL_MAP,
		   "one map spanning the record");
	while (sl_rec_next(*r, &pos, &k, &v))
		if (v.type == SL_VAL_STR && v.s.len)
			fuzz_check(v.s.p >= (const char *)buf &&
					   ngx_memmem(line, n, v.s.p, v.s.len) != NULL,
				   "string values are bytes of the line");
	return rc;
}

/* How many fields of r before offset end have key k (a format may name two variables with
 * one key, e.g. $time_local and $time_iso8601 are both "time"). */
static unsigned fuzz_seen(struct sl_rec r, uint32_t end, struct sl_val k)
{
	struct sl_val kk, v;
	uint32_t pos = 0;
	unsigned n = 0;

	while (sl_rec_next(r, &pos, &kk, &v) && pos < end)
		n += kk.s.len == k.s.len && memcmp(kk.s.p, k.s.p, k.s.len) == 0;
	return n;
}

/* The value of the (nth + 1)-th field of r with key k. */
static bool fuzz_nth(struct sl_rec r, struct sl_val k, unsigned nth, struct sl_val *out)
{
	struct sl_val kk;
	uint32_t pos = 0;

	while (sl_rec_next(r, &pos, &kk, out))
		if (kk.s.len == k.s.len && memcmp(kk.s.p, k.s.p, k.s.len) == 0 && nth-- == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	const char *nl = memchr(data, '\n', size);
	char fstr[512], msg[200];
	size_t flen = nl ? (size_t)(nl - (const char *)data) : size;
	const char *p, *end = (const char *)data + size;
	uint32_t off = UINT32_MAX;
	bool have_fmt;

	if (!ready) {
		fuzz_check(ngx_fmt_compile(NGX_FMT_COMBINED, &combined, &off, msg, sizeof(msg)) ==
				   0,
			   "combined compiles");
		ready = true;
	}
	if (flen >= sizeof(fstr))
		flen = sizeof(fstr) - 1;
	memcpy(fstr, data, flen);
	fstr[flen] = '\0';
	have_fmt = ngx_fmt_compile(fstr, &fmt, &off, msg, sizeof(msg)) == 0;
	if (!have_fmt)
		fuzz_check(off <= strlen(fstr), "compile error offset within the format");
	for (p = nl ? nl + 1 : end; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
		/* The parsers may read 16 bytes blocks up to the line's end: give them a copy. */
		char *line = malloc(n + 1);
		struct sl_rec_writer w;
		struct sl_rec r, r2;

		fuzz_check(line != NULL, "malloc");
		memcpy(line, p, n);
		line[n] = '\0';
		if (have_fmt && fuzz_line(&fmt, line, n, rec, &r) == SL_NGINX_OK && fmt.tail) {
			/* Combined then more: the combined parser read the prefix; matching
			 * every item instead (tail = 0) gives the same fields. */
			struct sl_val k, a, b;
			uint32_t pos = 0;

			generic = fmt;
			generic.tail = 0;
			fuzz_check(fuzz_line(&generic, line, n, rec2, &r2) == SL_NGINX_OK,
				   "the items read what the combined prefix and tail read");
			while (sl_rec_next(r, &pos, &k, &a))
				fuzz_check(
					fuzz_nth(r2, k, fuzz_seen(r, pos, k), &b) &&
						a.raw_len == b.raw_len &&
						memcmp(a.raw, b.raw, a.raw_len) == 0,
					"same field values with and without the combined prefix");
		}
		sl_rec_begin(&w, rec2, sizeof(rec2));
		if (nginx_parse_line(line, n, &w, &off, SL_NGINX_ALL_FIELDS) == SL_NGINX_OK) {
			static const char *const keys[] = { SL_NGINX_FIELDS };

			r2 = (struct sl_rec){ rec2, sl_rec_end(&w) };
			fuzz_check(fuzz_line(&combined, line, n, rec, &r) == SL_NGINX_OK ||
					   n % 5 == 1,
				   "the compiled combined format reads what the parser reads");
			if (n % 5 != 1)
				for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
					struct sl_val a, b;

					fuzz_check(sl_rec_find(r, keys[k], strlen(keys[k]), &a) &&
							   sl_rec_find(r2, keys[k], strlen(keys[k]),
								       &b),
						   "field present in both");
					fuzz_check(a.raw_len == b.raw_len &&
							   memcmp(a.raw, b.raw, a.raw_len) == 0,
						   "same field value");
				}
		}
		free(line);
		p = e ? e + 1 : end;
	}
	return 0;
}
