/*
 * The nginx "combined" log line parser behind the nginx_parse stage, as one pure function
 * (nginx_parse_line) over a byte range: no EAL, no mbufs, no allocation, so the stage's
 * burst loop and the fuzz target (nginx_parse_fuzz.c) compile the very same code. It is
 * header-only so both inline it with their own instrumentation. The caller owns the record
 * writer; on success the ten fields are appended to it.
 *
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
 *   "$http_referer" "$http_user_agent"
 *
 * Strings are kept as written (nginx escapes '"' as \x22; a '"' preceded by an odd number
 * of backslashes is part of the string, as in Apache logs). Speed: the line is scanned once,
 * 16 bytes a step with SSE2 (plain loops elsewhere), the address is checked a block at a
 * time, the byte count read 8 digits at a time, and the record is bounded from the line
 * length before one unchecked write (exact sizing only near the writer's capacity).
 * 120 TSC cycles per 175-byte line for this function, ~143 for the stage's process() per
 * event in 32-event bursts (gcc 12 -O2, AMD EPYC VM shared with other builds, best of 300).
 * Most lines take nginx_parse_line_fast (bitmaps of '"' and ' ', see there) and only the
 * rest this checked parser (nginx_parse_line_slow).
 */
#ifndef SL_STAGES_NGINX_PARSE_H
#define SL_STAGES_NGINX_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
/* The fast path's bitmaps 32 bytes a step, compiled for AVX2 (and BMI1/2: shifts by a
 * register, tzcnt, blsr) whatever the build's -march, and run only when the CPU has them
 * (nginx_cpu_avx2; the stage asks once, at init, as the file source does): the *_avx2 entry
 * points below. The loads are vlddqu (_mm256_lddqu_si256): for _mm256_loadu_si256 the
 * generic tuning emits two 16-byte halves, and a tune= here would keep GCC from inlining
 * the default-tuned helpers (DPDK's among them) into these copies. The helpers of the
 * per-line path are always_inline, so both copies inline them whatever the heuristics. */
#define NGINX_HAVE_AVX2 1
#define NGINX_AVX2	__attribute__((target("avx2,bmi,bmi2")))
/* The CPU runs the *_avx2 copies: AVX2, BMI1 and BMI2 (every AVX2 CPU has them). */
static inline bool nginx_cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
	       __builtin_cpu_supports("bmi2");
}
#else
#define NGINX_HAVE_AVX2 0
#endif

#include <sluice/record.h>

/* Return codes of nginx_parse_line; also the stage's counter indexes (0 = "parsed"). */
enum sl_nginx_err {
	SL_NGINX_OK = 0,
	SL_NGINX_BAD_IP,      /* empty, not [0-9a-fA-F.:], longer than 45, no space after */
	SL_NGINX_BAD_USER,    /* missing "- " separator, empty user, no space after */
	SL_NGINX_BAD_TIME,    /* missing '[' or ']', not "dd/Mon/yyyy:hh:mm:ss +zzzz" */
	SL_NGINX_BAD_REQUEST, /* request is not "METHOD PATH PROTOCOL" (three non-empty parts) */
	SL_NGINX_BAD_STATUS,  /* not three digits 100..599 between single spaces */
	SL_NGINX_BAD_BYTES,   /* not "-" or 1..19 digits up to INT64_MAX, or no space after */
	SL_NGINX_BAD_QUOTE,   /* a quoted field lacks its opening or closing quote */
	SL_NGINX_TRAILING,    /* bytes other than ' ' or '\r' after the user agent */
	SL_NGINX_TOO_LARGE,   /* the record does not fit the writer */
	SL_NGINX_BAD_FORMAT,  /* log_format: the text between variables does not match */
	SL_NGINX_BAD_NUMBER,  /* log_format: an integer variable is not "-" or digits */
	SL_NGINX_N_CODES,
};

static const char *const sl_nginx_err_names[SL_NGINX_N_CODES] = {
	"parsed",    "bad_ip",	  "bad_user", "bad_time",  "bad_request", "bad_status",
	"bad_bytes", "bad_quote", "trailing", "too_large", "bad_format",  "bad_number",
};

/* Longest textual IPv6 address (INET6_ADDRSTRLEN - 1). */
#define SL_NGINX_IP_MAX 45
/* "dd/Mon/yyyy:hh:mm:ss +zzzz" */
#define SL_NGINX_TIME_LEN 26

/* Bytes that may appear in $remote_addr: hex digits, '.' and ':'. */
static const uint8_t sl_nginx_ip_char[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['.'] = 1, [':'] = 1,
};

static inline __attribute__((always_inline)) uint64_t nginx_load_le64(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* 8 bytes where mask has 0xff are ASCII digits: high nibble 3, low nibble + 6 below 16. */
static inline __attribute__((always_inline)) bool nginx_digits8(uint64_t x, uint64_t mask)
{
	const uint64_t hi = 0xf0f0f0f0f0f0f0f0ull, lo = 0x0f0f0f0f0f0f0f0full;

	return (x & hi & mask) == (0x3030303030303030ull & mask) &&
	       (((x & lo) + 0x0606060606060606ull) & 0x1010101010101010ull & mask) == 0;
}

#define NGINX_B(i, v) ((uint64_t)(uint8_t)(v) << (8 * (i)))

#ifdef __SSE2__
/* Bit i set where byte i of x is an ASCII digit. */
static inline __attribute__((always_inline)) unsigned nginx_digit_mask(__m128i x)
{
	__m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));

	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d));
}

/* t holds SL_NGINX_TIME_LEN bytes: "dd/Mon/yyyy:hh:mm:ss +zzzz", checked as two
 * overlapping 16-byte blocks (bytes 0-15 and 10-25): digits, separators and the month's
 * letters each against the mask of where they belong. */
static inline __attribute__((always_inline)) bool nginx_time_ok(const char *t)
{
	/* "dd/Mon/yyyy:hh:mm:ss +zzzz": positions 0-15, then 10-25 */
	const __m128i sep0 = _mm_setr_epi8('\0', '\0', '/', '\0', '\0', '\0', '/', '\0', '\0', '\0',
					   '\0', ':', '\0', '\0', ':', '\0');
	const __m128i sep1 = _mm_setr_epi8('\0', ':', '\0', '\0', ':', '\0', '\0', ':', '\0', '\0',
					   ' ', '\0', '\0', '\0', '\0', '\0');
	/* bit i: byte i of the block is a digit / a separator */
	const unsigned dig0 = 0xb783, sep0_at = 0x4844;
	const unsigned dig1 = 0xf36d, sep1_at = 0x0492;
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)t);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(t + 10));
	__m128i l = _mm_sub_epi8(_mm_or_si128(a, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
	unsigned letters =
		(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(25)), l));

	return (nginx_digit_mask(a) & dig0) == dig0 && (nginx_digit_mask(b) & dig1) == dig1 &&
	       ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, sep0)) & sep0_at) == sep0_at &&
	       ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, sep1)) & sep1_at) == sep1_at &&
	       (letters & 0x38) == 0x38 && (t[21] == '+' || t[21] == '-');
}
#else
/* t holds SL_NGINX_TIME_LEN bytes: "dd/Mon/yyyy:hh:mm:ss +zzzz", checked in 4 words. */
static inline __attribute__((always_inline)) bool nginx_time_ok(const char *t)
{
	uint64_t w0 = nginx_load_le64(t), w1 = nginx_load_le64(t + 8);
	uint64_t w2 = nginx_load_le64(t + 16), w3 = nginx_load_le64(t + 18);
	uint64_t s0 = NGINX_B(2, 0xff) | NGINX_B(6, 0xff);
	uint64_t s1 = NGINX_B(3, 0xff) | NGINX_B(6, 0xff);
	uint64_t s2 = NGINX_B(1, 0xff) | NGINX_B(4, 0xff);
	unsigned m0 = (uint8_t)t[3] | 0x20, m1 = (uint8_t)t[4] | 0x20, m2 = (uint8_t)t[5] | 0x20;

	if ((w0 & s0) != (NGINX_B(2, '/') | NGINX_B(6, '/')) ||
	    (w1 & s1) != (NGINX_B(3, ':') | NGINX_B(6, ':')) ||
	    (w2 & s2) != (NGINX_B(1, ':') | NGINX_B(4, ' ')) || (t[21] != '+' && t[21] != '-'))
		return false;
	if (!nginx_digits8(w0, NGINX_B(0, 0xff) | NGINX_B(1, 0xff) | NGINX_B(7, 0xff)) ||
	    !nginx_digits8(w1, 0xff00ffff00ffffffull) ||
	    !nginx_digits8(w2, 0xffff0000ffff00ffull) || !nginx_digits8(w3, 0xffffffff0000ffffull))
		return false;
	return m0 - 'a' < 26 && m1 - 'a' < 26 && m2 - 'a' < 26;
}
#endif

/*
 * First c in [p, end), or NULL. Inline, 16 bytes a step: the fields are short, so a
 * memchr call costs more than the search. Never reads outside [line, end): the last
 * partial block is the 16 bytes ending at end, when the line is that long.
 */
static inline const char *nginx_find(const char *line, const char *p, const char *end, char c)
{
#ifdef __SSE2__
	const __m128i needle = _mm_set1_epi8(c);
	unsigned m;

	for (; end - p >= 16; p += 16) {
		m = (unsigned)_mm_movemask_epi8(
			_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), needle));
		if (m)
			return p + __builtin_ctz(m);
	}
	if (p < end && end - line >= 16) {
		const char *q = end - 16;
		m = (unsigned)_mm_movemask_epi8(
			_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)q), needle));
		m >>= p - q;
		return m ? p + __builtin_ctz(m) : NULL;
	}
#endif
	for (; p < end; p++)
		if (*p == c)
			return p;
	return NULL;
}

/* The n bytes at ip (1..SL_NGINX_IP_MAX) are all address characters. */
static inline __attribute__((always_inline)) bool nginx_ip_ok(const char *ip, size_t n,
							      const char *end)
{
#ifdef __SSE2__
	/* Three blocks cover the longest address; load them only when they are in range. */
	if (end - ip >= 48) {
		for (size_t i = 0; i < n; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(ip + i));
			__m128i y = _mm_or_si128(x, _mm_set1_epi8(0x20)); /* A-F -> a-f */
			__m128i dig = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
						    _mm_cmplt_epi8(x, _mm_set1_epi8(':' + 1)));
			__m128i hex = _mm_and_si128(_mm_cmpgt_epi8(y, _mm_set1_epi8('a' - 1)),
						    _mm_cmplt_epi8(y, _mm_set1_epi8('f' + 1)));
			__m128i dot = _mm_cmpeq_epi8(x, _mm_set1_epi8('.'));
			unsigned ok = (unsigned)_mm_movemask_epi8(
				_mm_or_si128(_mm_or_si128(dig, hex), dot));
			unsigned want = n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1;
			if ((ok & want) != want)
				return false;
		}
		return true;
	}
#endif
	for (size_t i = 0; i < n; i++)
		if (!sl_nginx_ip_char[(uint8_t)ip[i]])
			return false;
	return true;
}

/* Leading decimal digits at p (at most 8, never past end) as a value (0 unless value);
 * *n gets their count, 8 meaning more may follow. */
static inline __attribute__((always_inline)) uint64_t
nginx_digits_any(const char *p, const char *end, unsigned *n, bool value)
{
	uint64_t x, nd, t, v;
	unsigned k;

	if (end - p < 8) {
		for (k = 0, v = 0; p + k < end && (unsigned)(p[k] - '0') <= 9; k++)
			v = v * 10 + (unsigned)(p[k] - '0');
		*n = k;
		return v;
	}
	x = nginx_load_le64(p);
	/* a byte of nd is non-zero where x is not a digit */
	nd = ((x & 0xf0f0f0f0f0f0f0f0ull) ^ 0x3030303030303030ull) |
	     (((x & 0x0f0f0f0f0f0f0f0full) + 0x0606060606060606ull) & 0x1010101010101010ull);
	t = (((nd & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | nd) & 0x8080808080808080ull;
	k = t ? (unsigned)__builtin_ctzll(t) / 8 : 8;
	*n = k;
	if (k == 0 || !value)
		return 0;
	/* digit values, the first in the lowest byte; zeros in front make them 8 digits */
	v = x - 0x3030303030303030ull;
	if (k < 8)
		v = (v & ((1ull << (8 * k)) - 1)) << (8 * (8 - k));
	v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffull;
	v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffull;
	return (v * 10000 + (v >> 32)) & 0xffffffffull;
}

static inline __attribute__((always_inline)) uint64_t nginx_digits(const char *p, const char *end,
								   unsigned *n)
{
	return nginx_digits_any(p, end, n, true);
}

/* The closing quote of a string starting at s, or NULL: a '"' ends the string unless an
 * odd number of backslashes precedes it. */
static inline const char *nginx_scan_quoted(const char *line, const char *s, const char *end)
{
	const char *p = s, *q, *b;

	for (;;) {
		q = nginx_find(line, p, end, '"');
		if (!q)
			return NULL;
		for (b = q; b > s && b[-1] == '\\'; b--)
			;
		if (((q - b) & 1) == 0)
			return q;
		p = q + 1;
	}
}

static inline size_t nginx_mp_str_size(size_t n)
{
	return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
}

static inline size_t nginx_mp_uint_size(uint64_t v)
{
	return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v < (1ull << 32) ? 5 : 9;
}

static inline __attribute__((always_inline)) void nginx_store_be16(uint8_t *o, uint64_t v)
{
	o[0] = (uint8_t)(v >> 8);
	o[1] = (uint8_t)v;
}

static inline __attribute__((always_inline)) void nginx_store_be32(uint8_t *o, uint64_t v)
{
	nginx_store_be16(o, v >> 16);
	nginx_store_be16(o + 2, v);
}

/* Small copies inline: two overlapping moves instead of a call, never reading outside
 * [s, s + n). */
static inline __attribute__((always_inline)) void nginx_copy(uint8_t *o, const char *s, size_t n)
{
	uint64_t a, b;
	uint32_t c, d;

	if (n > 16 && n <= 256) {
		uint8_t t[16];
		size_t i;
		for (i = 0; i + 16 < n; i += 16)
			memcpy(o + i, s + i, 16);
		memcpy(t, s + n - 16, 16);
		memcpy(o + n - 16, t, 16);
	} else if (n >= 8 && n <= 16) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(o, &a, 8);
		memcpy(o + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(&c, s, 4);
		memcpy(&d, s + n - 4, 4);
		memcpy(o, &c, 4);
		memcpy(o + n - 4, &d, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			o[i] = (uint8_t)s[i];
	} else {
		memcpy(o, s, n);
	}
}

static inline __attribute__((always_inline)) uint8_t *nginx_put_str(uint8_t *o, const char *s,
								    size_t n)
{
	if (n < 32) {
		*o++ = (uint8_t)(0xa0 | n);
	} else if (n < 256) {
		*o++ = 0xd9;
		*o++ = (uint8_t)n;
	} else if (n < 65536) {
		*o++ = 0xda;
		*o++ = (uint8_t)(n >> 8);
		*o++ = (uint8_t)n;
	} else {
		*o++ = 0xdb;
		*o++ = (uint8_t)(n >> 24);
		*o++ = (uint8_t)(n >> 16);
		*o++ = (uint8_t)(n >> 8);
		*o++ = (uint8_t)n;
	}
	nginx_copy(o, s, n);
	return o + n;
}

/* Shortest unsigned encoding, as msgpack-c's pack_int64 writes a non-negative value. */
static inline __attribute__((always_inline)) uint8_t *nginx_put_uint(uint8_t *o, uint64_t v)
{
	if (v < 128) {
		*o = (uint8_t)v;
		return o + 1;
	}
	if (v < 256) {
		o[0] = 0xcc;
		o[1] = (uint8_t)v;
		return o + 2;
	}
	if (v < 65536) {
		o[0] = 0xcd;
		nginx_store_be16(o + 1, v);
		return o + 3;
	}
	if (v < (1ull << 32)) {
		o[0] = 0xce;
		nginx_store_be32(o + 1, v);
		return o + 5;
	}
	o[0] = 0xcf;
	nginx_store_be32(o + 1, v >> 32);
	nginx_store_be32(o + 5, v);
	return o + 9;
}

/* A key as a fixstr, its header byte included (keys are constants under 32 bytes). */
#define NGINX_KEY(o, k)                                   \
	do {                                              \
		memcpy((o), "\x00" k, sizeof(k));         \
		*(o) = (uint8_t)(0xa0 | (sizeof(k) - 1)); \
		(o) += sizeof(k);                         \
	} while (0)

/* Encoded size of all ten keys with their fixstr headers. */
#define NGINX_KEYS_SIZE                                                                       \
	(sizeof("ip") + sizeof("user") + sizeof("time") + sizeof("method") + sizeof("path") + \
	 sizeof("protocol") + sizeof("status") + sizeof("bytes") + sizeof("referer") +        \
	 sizeof("user_agent"))

/* The fields in the order they are written; bit i of a fields mask selects field i. */
#define SL_NGINX_FIELDS                                                                   \
	"status", "bytes", "method", "path", "ip", "user", "time", "protocol", "referer", \
		"user_agent"
#define SL_NGINX_ALL_FIELDS 0x3ffull

/* Append the fields selected by fields (bit i: SL_NGINX_FIELDS[i]) at w->p + w->len; the
 * caller checked that they fit. Shared by the checked parser and its fast path, so both
 * write the same bytes. */
static inline __attribute__((always_inline)) void
nginx_write_fields(struct sl_rec_writer *w, uint64_t fields, const char *line, const char *user,
		   const char *time, const char *req, const char *sp1, const char *sp2,
		   const char *req_end, unsigned status, uint64_t bytes, const char *ref,
		   const char *ref_end, const char *ua, const char *ua_end)
{
	uint8_t *o;

	o = w->p + w->len;
	/* The fields queries read most come first: a lookup walks the map from the start.
	 * Unselected fields are skipped (well-predicted branches when all are wanted). */
	if (fields & 0x001) {
		NGINX_KEY(o, "status");
		o = nginx_put_uint(o, status);
	}
	if (fields & 0x002) {
		NGINX_KEY(o, "bytes");
		o = nginx_put_uint(o, bytes);
	}
	if (fields & 0x004) {
		NGINX_KEY(o, "method");
		o = nginx_put_str(o, req, (size_t)(sp1 - req));
	}
	if (fields & 0x008) {
		NGINX_KEY(o, "path");
		o = nginx_put_str(o, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	}
	/* the six others in one test when none is wanted (a projection such as status, path) */
	if (fields & 0x3f0) {
		if (fields & 0x010) {
			NGINX_KEY(o, "ip");
			o = nginx_put_str(o, line, (size_t)(user - 3 - line));
		}
		if (fields & 0x020) {
			NGINX_KEY(o, "user");
			o = nginx_put_str(o, user, (size_t)(time - 2 - user));
		}
		if (fields & 0x040) {
			NGINX_KEY(o, "time");
			o = nginx_put_str(o, time, SL_NGINX_TIME_LEN);
		}
		if (fields & 0x080) {
			NGINX_KEY(o, "protocol");
			o = nginx_put_str(o, sp2 + 1, (size_t)(req_end - sp2 - 1));
		}
		if (fields & 0x100) {
			NGINX_KEY(o, "referer");
			o = nginx_put_str(o, ref, (size_t)(ref_end - ref));
		}
		if (fields & 0x200) {
			NGINX_KEY(o, "user_agent");
			o = nginx_put_str(o, ua, (size_t)(ua_end - ua));
		}
	}
	w->len = (uint32_t)(o - w->p);
	w->n_fields += (uint32_t)__builtin_popcountll(fields & SL_NGINX_ALL_FIELDS);
}

/*
 * Parse one line (no newline) and append its fields to w: all ten when fields has every
 * bit of SL_NGINX_ALL_FIELDS, else only those whose bit is set (the line is checked in
 * full either way, so errors do not depend on it). Returns SL_NGINX_OK, or an error code
 * with *err_offset set to the byte offset in line where parsing failed (len for
 * SL_NGINX_TOO_LARGE, where w is marked overflowed). On error w is left unchanged.
 * nginx_parse_line_rest with rest != NULL parses a line that starts with the combined format
 * and goes on (log_format: combined then more): it does not check what follows the user
 * agent and sets *rest to the agent's closing quote.
 */
static __attribute__((noinline, unused)) int
nginx_parse_line_slow(const char *line, size_t len, struct sl_rec_writer *w, uint32_t *err_offset,
		      uint64_t fields, const char **rest)
{
	const char *end = line + len, *p = line, *q;
	const char *user, *time, *req, *sp1, *sp2, *req_end, *ref, *ref_end, *ua, *ua_end;
	size_t need;
	uint64_t bytes = 0;
	unsigned status;

	/* $remote_addr then " - "; on failure rescan for the first offending byte */
	p = nginx_find(line, line, end - line > SL_NGINX_IP_MAX ? line + SL_NGINX_IP_MAX + 1 : end,
		       ' ');
	if (!p || p == line || !nginx_ip_ok(line, (size_t)(p - line), end)) {
		for (p = line; p < end && sl_nginx_ip_char[(uint8_t)*p]; p++)
			;
		goto bad_ip;
	}
	q = p + 1;
	if (end - q < 2 || q[0] != '-' || q[1] != ' ') {
		p = q;
		goto bad_user;
	}
	/* $remote_user then " [" */
	user = q + 2;
	p = nginx_find(line, user, end, ' ');
	if (!p || p == user) {
		p = p ? p : end;
		goto bad_user;
	}
	/* [$time_local] then ' ' */
	q = p + 1;
	time = q + 1;
	if (q == end || *q != '[') {
		p = q;
		goto bad_time;
	}
	if (end - time < SL_NGINX_TIME_LEN + 2) {
		p = time;
		goto bad_time;
	}
	if (!nginx_time_ok(time)) {
		p = time;
		goto bad_time;
	}
	p = time + SL_NGINX_TIME_LEN;
	if (p[0] != ']' || p[1] != ' ') {
		p += p[0] == ']';
		goto bad_time;
	}
	/* "$request": METHOD PATH PROTOCOL */
	p += 2;
	if (p == end || *p != '"')
		goto bad_quote;
	req = p + 1;
	req_end = nginx_scan_quoted(line, req, end);
	if (!req_end) {
		p = end;
		goto bad_quote;
	}
	sp1 = nginx_find(line, req, req_end, ' ');
	if (!sp1 || sp1 == req) {
		p = sp1 ? sp1 : req_end;
		goto bad_request;
	}
	sp2 = nginx_find(line, sp1 + 1, req_end, ' ');
	if (!sp2 || sp2 == sp1 + 1) {
		p = sp2 ? sp2 : req_end;
		goto bad_request;
	}
	if (sp2 + 1 == req_end) {
		p = req_end;
		goto bad_request;
	}
	p = nginx_find(line, sp2 + 1, req_end, ' ');
	if (p)
		goto bad_request;
	/* " $status " */
	p = req_end + 1;
	if (p == end || *p != ' ')
		goto bad_status;
	p++;
	if (end - p < 4 || p[0] < '1' || p[0] > '5' || (unsigned)(p[1] - '0') > 9 ||
	    (unsigned)(p[2] - '0') > 9 || p[3] != ' ')
		goto bad_status;
	status =
		(unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
	/* $body_bytes_sent: "-" or digits, then ' ' */
	p += 4;
	if (p < end && *p == '-') {
		p++;
	} else {
		unsigned nd;
		q = p;
		bytes = nginx_digits(p, end, &nd);
		p += nd;
		if (nd == 8)
			while (p < end && (unsigned)(*p - '0') <= 9 && p - q < 19)
				bytes = bytes * 10 + (unsigned)(*p++ - '0');
		if (p == q || bytes > (uint64_t)INT64_MAX) {
			p = q;
			goto bad_bytes;
		}
	}
	if (p == end || *p != ' ')
		goto bad_bytes;
	/* "$http_referer" "$http_user_agent" */
	p++;
	if (p == end || *p != '"')
		goto bad_quote;
	ref = p + 1;
	ref_end = nginx_scan_quoted(line, ref, end);
	if (!ref_end) {
		p = end;
		goto bad_quote;
	}
	p = ref_end + 1;
	if (end - p < 2 || p[0] != ' ' || p[1] != '"') {
		p += p < end && p[0] == ' ';
		goto bad_quote;
	}
	ua = p + 2;
	ua_end = nginx_scan_quoted(line, ua, end);
	if (!ua_end) {
		p = end;
		goto bad_quote;
	}
	if (rest)
		*rest = ua_end; /* the caller parses what follows, from the closing quote */
	else
		for (p = ua_end + 1; p < end; p++)
			if (*p != ' ' && *p != '\r')
				goto trailing;

	/* The strings are disjoint parts of the line, each with a header of at most 5 bytes;
	 * the exact size is only worked out when that bound does not fit. */
	need = 3 + NGINX_KEYS_SIZE + len + 8 * 5 + 3 + 9;
	if (!w->overflow && need <= (size_t)(w->cap - w->len))
		goto write;
	need = NGINX_KEYS_SIZE + nginx_mp_str_size((size_t)(user - 3 - line)) +
	       nginx_mp_str_size((size_t)(time - 2 - user)) + nginx_mp_str_size(SL_NGINX_TIME_LEN) +
	       nginx_mp_str_size((size_t)(sp1 - req)) + nginx_mp_str_size((size_t)(sp2 - sp1 - 1)) +
	       nginx_mp_str_size((size_t)(req_end - sp2 - 1)) + nginx_mp_uint_size(status) +
	       nginx_mp_uint_size(bytes) + nginx_mp_str_size((size_t)(ref_end - ref)) +
	       nginx_mp_str_size((size_t)(ua_end - ua));
	if (w->overflow || need > (size_t)(w->cap - w->len)) {
		w->overflow = true;
		*err_offset = (uint32_t)len;
		return SL_NGINX_TOO_LARGE;
	}
write:
	nginx_write_fields(w, fields, line, user, time, req, sp1, sp2, req_end, status, bytes, ref,
			   ref_end, ua, ua_end);
	return SL_NGINX_OK;

bad_ip:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_IP;
bad_user:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_USER;
bad_time:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_TIME;
bad_request:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_REQUEST;
bad_status:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_STATUS;
bad_bytes:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_BYTES;
bad_quote:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_BAD_QUOTE;
trailing:
	*err_offset = (uint32_t)(p - line);
	return SL_NGINX_TRAILING;
}

/* Lines the fast path reads: at least one 64-byte block, at most NGINX_FAST_WORDS. */
#define NGINX_FAST_WORDS 8
#define NGINX_FAST_MIN	 64
#define NGINX_FAST_MAX	 (64 * NGINX_FAST_WORDS)

#ifdef __SSE2__
/* Bit i of *q (*s): byte i of the 64 bytes at p is '"' (' '). */
static inline __attribute__((always_inline)) void nginx_mask64(const char *p, uint64_t *q,
							       uint64_t *s)
{
	const __m128i dq = _mm_set1_epi8('"'), sp = _mm_set1_epi8(' ');
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	__m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));

	*q = (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, dq)) |
	     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, dq)) << 16 |
	     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, dq)) << 32 |
	     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, dq)) << 48;
	*s = (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, sp)) |
	     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, sp)) << 16 |
	     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, sp)) << 32 |
	     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, sp)) << 48;
}
#else
static inline void nginx_mask64(const char *p, uint64_t *q, uint64_t *s)
{
	*q = *s = 0;
	for (unsigned i = 0; i < 64; i++) {
		*q |= (uint64_t)(p[i] == '"') << i;
		*s |= (uint64_t)(p[i] == ' ') << i;
	}
}
#endif

#if NGINX_HAVE_AVX2
/* nginx_mask64 in two 32-byte blocks. Not always_inline: inlined only into the AVX2
 * instances (nginx_parse_line_fast_any with avx2 true), never called from the others. */
NGINX_AVX2 static inline void nginx_mask64_avx2(const char *p, uint64_t *q, uint64_t *s)
{
	const __m256i dq = _mm256_set1_epi8('"'), sp = _mm256_set1_epi8(' ');
	__m256i a = _mm256_lddqu_si256((const __m256i *)(const void *)p);
	__m256i b = _mm256_lddqu_si256((const __m256i *)(const void *)(p + 32));

	*q = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, dq)) |
	     (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, dq)) << 32;
	*s = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, sp)) |
	     (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, sp)) << 32;
}
#endif

#if NGINX_HAVE_AVX2
/* nginx_time_ok(t) and t[26..28] is "] \"", from one 32-byte block (t has 32 bytes). */
NGINX_AVX2 static inline bool nginx_time_ok_avx2(const char *t)
{
	/* "dd/Mon/yyyy:hh:mm:ss +zzzz] \"": the separators where they belong, 0 elsewhere */
	const __m256i sep =
		_mm256_setr_epi8(0, 0, '/', 0, 0, 0, '/', 0, 0, 0, 0, ':', 0, 0, ':', 0, 0, ':', 0,
				 0, ' ', 0, 0, 0, 0, 0, ']', ' ', '"', 0, 0, 0);
	/* bit i: byte i is a digit / a separator / a letter */
	const uint32_t dig_at = 0x03cdb783, sep_at = 0x1c124844, let_at = 0x38;
	__m256i v = _mm256_lddqu_si256((const __m256i *)(const void *)t);
	__m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8('0'));
	__m256i l =
		_mm256_sub_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), _mm256_set1_epi8('a'));
	uint32_t dig = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d));
	uint32_t let = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(_mm256_min_epu8(l, _mm256_set1_epi8(25)), l));
	uint32_t sp = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, sep));

	return (dig & dig_at) == dig_at && (sp & sep_at) == sep_at && (let & let_at) == let_at &&
	       (t[21] == '+' || t[21] == '-');
}
#endif

/* nginx_time_ok(t) and "] \"" after it; t has n >= SL_NGINX_TIME_LEN + 3 bytes. */
static inline __attribute__((always_inline)) bool nginx_time_any(const char *t, size_t n, bool avx2)
{
#if NGINX_HAVE_AVX2
	if (avx2 && n >= 32)
		return nginx_time_ok_avx2(t);
#else
	(void)avx2;
	(void)n;
#endif
	return nginx_time_ok(t) && t[SL_NGINX_TIME_LEN] == ']' && t[SL_NGINX_TIME_LEN + 1] == ' ' &&
	       t[SL_NGINX_TIME_LEN + 2] == '"';
}

/* nginx_mask64, AVX2 when the caller is the AVX2 instance (avx2 is a constant there). */
static inline __attribute__((always_inline)) void nginx_mask64_any(const char *p, uint64_t *q,
								   uint64_t *s, bool avx2)
{
#if NGINX_HAVE_AVX2
	if (avx2) {
		nginx_mask64_avx2(p, q, s);
		return;
	}
#else
	(void)avx2;
#endif
	nginx_mask64(p, q, s);
}

/* The first set bit at or after pos (<= 64 * nw) in m: nw words of the line's bytes and a
 * sentinel word m[nw] with its bit 0 set, so a search always ends (at 64 * nw >= len when
 * the line has no such byte left). */
static inline __attribute__((always_inline)) size_t nginx_bm_next(const uint64_t *m, size_t pos)
{
	size_t k = pos >> 6;
	uint64_t x = m[k] & (~0ull << (pos & 63));

	while (!x)
		x = m[++k];
	return k * 64 + (size_t)__builtin_ctzll(x);
}

/*
 * The fast path of nginx_parse_line_rest: one pass over the line builds bitmaps of its
 * '"' and ' ' bytes (64 bytes a step), from which the field boundaries are read with a
 * few bit scans instead of a search per field. It accepts only lines that the checked
 * parser (nginx_parse_line_slow) accepts, writing the same record (the same
 * nginx_write_fields), and gives up (-1, w unchanged) on anything else: lines shorter
 * than 64 or longer than 512 bytes, a '"' after a backslash where a quoted field could
 * end, more than 8 digits of bytes, any error, a writer near its capacity. The caller
 * then runs the checked parser, so errors, their offsets and unusual lines are its.
 */
static inline __attribute__((always_inline)) int
nginx_parse_line_fast_any(const char *line, size_t len, struct sl_rec_writer *w, uint64_t fields,
			  const char **rest, bool avx2)
{
	uint64_t qm[NGINX_FAST_WORDS + 1], sm[NGINX_FAST_WORDS + 1], q, s, bytes = 0;
	size_t nw, k, ipn, user, uend, time, req, qe, sp1, sp2, ref, re, ua, ue;
	const char *end = line + len, *p;
	unsigned status, nd;

	if (len < NGINX_FAST_MIN || len > NGINX_FAST_MAX || w->overflow ||
	    3 + NGINX_KEYS_SIZE + len + 8 * 5 + 3 + 9 > (size_t)(w->cap - w->len))
		return -1;
	nw = (len + 63) / 64;
	for (k = 0; k + 1 < nw; k++)
		nginx_mask64_any(line + 64 * k, &qm[k], &sm[k], avx2);
	/* the last word: the 64 bytes ending at end, shifted to start at 64 * k */
	nginx_mask64_any(end - 64, &q, &s, avx2);
	qm[k] = q >> (64 * nw - len);
	sm[k] = s >> (64 * nw - len);
	/* a sentinel bit at 64 * nw (>= len) ends every search */
	qm[nw] = sm[nw] = 1;

	/* $remote_addr " - " $remote_user " [" */
	ipn = sm[0] ? (size_t)__builtin_ctzll(sm[0]) : 64;
	if (ipn == 0 || ipn > SL_NGINX_IP_MAX || line[ipn + 1] != '-' || line[ipn + 2] != ' ' ||
	    !nginx_ip_ok(line, ipn, end))
		return -1;
	user = ipn + 3;
	uend = nginx_bm_next(sm, user);
	if (uend >= len || uend == user || len - uend < SL_NGINX_TIME_LEN + 5 ||
	    line[uend + 1] != '[')
		return -1;
	/* [$time_local] "$request" */
	time = uend + 2;
	if (!nginx_time_any(line + time, len - time, avx2))
		return -1;
	req = time + SL_NGINX_TIME_LEN + 3;
	qe = nginx_bm_next(qm, req);
	if (qe >= len || line[qe - 1] == '\\')
		return -1;
	if (qe > req && qe - req < 64) {
		/* the request's spaces as one word: exactly two, apart, neither at an end */
		uint64_t win = sm[req >> 6] >> (req & 63), two;

		if (req & 63)
			win |= sm[(req >> 6) + 1] << (64 - (req & 63));
		win &= (1ull << (qe - req)) - 1;
		two = win & (win - 1);
		if ((win & 1) || !two || (two & (two - 1)) || (win & (win >> 1)) ||
		    (win >> (qe - req - 1)))
			return -1;
		sp1 = req + (size_t)__builtin_ctzll(win);
		sp2 = req + (size_t)__builtin_ctzll(two);
	} else {
		sp1 = nginx_bm_next(sm, req);
		if (sp1 >= qe || sp1 == req)
			return -1;
		sp2 = nginx_bm_next(sm, sp1 + 1);
		if (sp2 >= qe || sp2 == sp1 + 1 || sp2 + 1 == qe || nginx_bm_next(sm, sp2 + 1) < qe)
			return -1;
	}
	/* " $status $body_bytes_sent " */
	if (len - qe < 9 || line[qe + 1] != ' ' || line[qe + 2] < '1' || line[qe + 2] > '5' ||
	    (unsigned)(line[qe + 3] - '0') > 9 || (unsigned)(line[qe + 4] - '0') > 9 ||
	    line[qe + 5] != ' ')
		return -1;
	status = (unsigned)(line[qe + 2] - '0') * 100 + (unsigned)(line[qe + 3] - '0') * 10 +
		 (unsigned)(line[qe + 4] - '0');
	p = line + qe + 6;
	if (*p == '-') {
		p++;
	} else {
		/* the value only when the record has it; the digits are checked either way */
		bytes = nginx_digits_any(p, end, &nd, fields & 0x002);
		if (nd == 0 || nd == 8)
			return -1;
		p += nd;
	}
	if (end - p < 3 || p[0] != ' ' || p[1] != '"')
		return -1;
	/* "$http_referer" "$http_user_agent" */
	ref = (size_t)(p + 2 - line);
	re = nginx_bm_next(qm, ref);
	if (re >= len || line[re - 1] == '\\' || len - re < 3 || line[re + 1] != ' ' ||
	    line[re + 2] != '"')
		return -1;
	ua = re + 3;
	ue = nginx_bm_next(qm, ua);
	if (ue >= len || line[ue - 1] == '\\')
		return -1;
	if (rest)
		*rest = line + ue;
	else
		for (p = line + ue + 1; p < end; p++)
			if (*p != ' ' && *p != '\r')
				return -1;
	nginx_write_fields(w, fields, line, line + user, line + time, line + req, line + sp1,
			   line + sp2, line + qe, status, bytes, line + ref, line + re, line + ua,
			   line + ue);
	return SL_NGINX_OK;
}

/* The fast path as built for the build's target (SSE2 on x86-64). */
static inline __attribute__((always_inline)) int nginx_parse_line_fast(const char *line, size_t len,
								       struct sl_rec_writer *w,
								       uint64_t fields,
								       const char **rest)
{
	return nginx_parse_line_fast_any(line, len, w, fields, rest, false);
}

/* nginx_parse_line_rest; avx2 (a constant in each caller): the AVX2 fast path, only in a
 * function compiled for AVX2 and run on a CPU that has it. */
static inline __attribute__((always_inline)) int
nginx_parse_line_rest_any(const char *line, size_t len, struct sl_rec_writer *w,
			  uint32_t *err_offset, uint64_t fields, const char **rest, bool avx2)
{
	if (nginx_parse_line_fast_any(line, len, w, fields, rest, avx2) == SL_NGINX_OK)
		return SL_NGINX_OK;
	return nginx_parse_line_slow(line, len, w, err_offset, fields, rest);
}

static inline __attribute__((always_inline)) int
nginx_parse_line_rest(const char *line, size_t len, struct sl_rec_writer *w, uint32_t *err_offset,
		      uint64_t fields, const char **rest)
{
	return nginx_parse_line_rest_any(line, len, w, err_offset, fields, rest, false);
}

static inline int nginx_parse_line(const char *line, size_t len, struct sl_rec_writer *w,
				   uint32_t *err_offset, uint64_t fields)
{
	return nginx_parse_line_rest(line, len, w, err_offset, fields, NULL);
}

#if NGINX_HAVE_AVX2
/* The AVX2 instances: call them only when nginx_cpu_avx2(). The fast path
 * alone is for the differential check (fast_check.h). */
NGINX_AVX2 static __attribute__((noinline, unused)) int
nginx_parse_line_fast_avx2(const char *line, size_t len, struct sl_rec_writer *w, uint64_t fields,
			   const char **rest)
{
	return nginx_parse_line_fast_any(line, len, w, fields, rest, true);
}

NGINX_AVX2 static __attribute__((noinline, unused)) int
nginx_parse_line_avx2(const char *line, size_t len, struct sl_rec_writer *w, uint32_t *err_offset,
		      uint64_t fields)
{
	return nginx_parse_line_rest_any(line, len, w, err_offset, fields, NULL, true);
}
#endif

#endif
