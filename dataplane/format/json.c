/*
 * msgpack -> JSON (see json.h). Called by the jsonl and table sinks on worker lcores and
 * by control-path tools; owns nothing and allocates nothing. Every read is bounded by the
 * record's length through sl_mp_head, and every write by the caller's capacity: the first
 * error (malformed input, -1, or a full buffer, -2) stops the conversion.
 */
#include "json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct json_out {
	char *p;
	size_t len, cap;
	int err; /* 0, -1 malformed, -2 full */
};

static const char hex_digits[] = "0123456789abcdef";

static inline bool json_room(struct json_out *o, size_t n)
{
	if (__builtin_expect(o->cap - o->len >= n, 1))
		return true;
	if (!o->err)
		o->err = -2;
	return false;
}

static inline void json_put(struct json_out *o, const void *s, size_t n)
{
	if (!json_room(o, n))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void json_putc(struct json_out *o, char c)
{
	if (!json_room(o, 1))
		return;
	o->p[o->len++] = c;
}

/*
 * Byte classes for string escaping: 0 copies as is, 1 needs an escape (controls, '"',
 * '\\'), 2 starts a multi-byte UTF-8 sequence that must be checked.
 */
static const uint8_t json_class[256] = {
	[0x00 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x80 ... 0xff] = 2,
};

/* The escape of c (json_class 1, or a byte that is not UTF-8) at e; returns its length. */
static inline size_t json_escape_of(char *e, uint8_t c)
{
	static const char named[32] = {
		['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'
	};

	e[0] = '\\';
	if (c == '"' || c == '\\' || (c < 32 && named[c])) {
		e[1] = c < 32 ? named[c] : (char)c;
		return 2;
	}
	e[1] = 'u';
	e[2] = '0';
	e[3] = '0';
	e[4] = hex_digits[c >> 4];
	e[5] = hex_digits[c & 15];
	return 6;
}

#ifdef __SSE2__
/* Bit i: byte i of v is not copied as is (json_class != 0). */
static inline unsigned json_special16(__m128i v)
{
	const __m128i sp = _mm_set1_epi8(0x20), dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	/* signed: bytes 0x80-0xff are below 0x20 too, as they should be */
	__m128i x = _mm_or_si128(_mm_cmplt_epi8(v, sp),
				 _mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, bs)));

	return (unsigned)_mm_movemask_epi8(x);
}
#endif

/* The first byte at or after s (before end) that is not copied as is (json_class != 0):
 * 16 bytes a step where the target has SSE2 (every x86-64), then 8 (bit tricks on a
 * word: the lowest flagged byte is exact, as borrows only run upwards), then one by one.
 * Reads up to limit (>= end): the record around a string, so that a short string is one
 * 16-byte step too; never at or past limit. */
static inline const uint8_t *json_plain_end(const uint8_t *s, const uint8_t *end,
					    const uint8_t *limit)
{
#ifdef __SSE2__
	while (limit - s >= 16) {
		unsigned m = json_special16(_mm_loadu_si128((const __m128i *)(const void *)s));

		if (end - s < 16) {
			/* the last bytes, read with what follows them up to limit */
			m &= (1u << (end - s)) - 1;
			return m ? s + __builtin_ctz(m) : end;
		}
		if (m)
			return s + __builtin_ctz(m);
		s += 16;
	}
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (end - s >= 8) {
		const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
		uint64_t w, f;

		memcpy(&w, s, 8);
		/* The top bit of a byte: below 0x20 (w - 0x20 wraps), 0x80 and up (w), '"' or
		 * '\\' (the xor is 0 and 0 - 1 wraps). The subtractions also set it on bytes of
		 * 0x80 and up, flagged anyway. */
		f = ((w - ones * 0x20) | ((w ^ (ones * '"')) - ones) |
		     ((w ^ (ones * '\\')) - ones) | w) &
		    highs;
		if (f)
			return s + (__builtin_ctzll(f) >> 3);
		s += 8;
	}
#endif
	while (s < end && json_class[*s] == 0)
		s++;
	return s;
}

/* The escape of c through json_put (a buffer that may be full); not inlined, so that its
 * array costs the caller no stack canary. */
static __attribute__((noinline)) void json_put_escape(struct json_out *o, uint8_t c)
{
	char e[6];

	json_put(o, e, json_escape_of(e, c));
}

/* Copy the plain run of n bytes at run to d, in the direct case: the output has room for
 * 6 bytes a byte of what is left of the string, so for 16 from n = 3 on. A run of 3 to 16
 * bytes readable for 16 (up to limit) is one 16-byte move. Returns d + n. */
static inline char *json_copy_run(char *d, const uint8_t *run, size_t n, const uint8_t *limit)
{
#ifdef __SSE2__
	if (n >= 3 && n <= 16 && limit - run >= 16) {
		_mm_storeu_si128((__m128i *)(void *)d,
				 _mm_loadu_si128((const __m128i *)(const void *)run));
		return d + n;
	}
#endif
	memcpy(d, run, n);
	return d + n;
}

/*
 * json_str's loop, compiled twice: direct when the output has room for the worst case
 * (every byte escaped in 6, and the quotes), writing at d with no check; else through
 * json_put, which stops at a full buffer. Returns the end of what it wrote (direct).
 */
static __attribute__((always_inline)) inline char *
json_str_body(struct json_out *o, char *d, const uint8_t *s, const uint8_t *end,
	      const uint8_t *limit, const bool direct)
{
	while (s < end && (direct || !o->err)) {
		const uint8_t *run = s;
		size_t u;

		s = json_plain_end(s, end, limit);
		if (direct) {
			d = json_copy_run(d, run, (size_t)(s - run), limit);
		} else {
			json_put(o, run, (size_t)(s - run));
		}
		if (s == end)
			break;
		u = json_class[*s] == 1 ? 0 : sl_utf8_len(s, end);
		if (u && direct) {
			memcpy(d, s, u);
			d += u;
		} else if (u) {
			json_put(o, s, u);
		} else if (direct) {
			d += json_escape_of(d, *s);
		} else {
			json_put_escape(o, *s);
		}
		s += u ? u : 1;
	}
	return d;
}

/* The string of n bytes at str as JSON; bytes from str up to limit (>= str + n) may be
 * read (json_plain_end). */
static __attribute__((noinline)) void json_str_any(struct json_out *o, const char *str, size_t n,
						   const void *limit)
{
	const uint8_t *s = (const uint8_t *)str;

	if (!o->err && o->cap - o->len >= 6 * n + 2) {
		char *d = o->p + o->len;

		*d++ = '"';
		d = json_str_body(o, d, s, s + n, limit, true);
		*d++ = '"';
		o->len = (size_t)(d - o->p);
		return;
	}
	json_putc(o, '"');
	json_str_body(o, NULL, s, s + n, limit, false);
	json_putc(o, '"');
}

/* json_str_any, with its most common case first and inline: a string of up to 16 plain
 * bytes (most keys and many values) readable for 16, one 16-byte step and no loop. */
static inline void json_str_in(struct json_out *o, const char *str, size_t n, const void *limit)
{
#ifdef __SSE2__
	if (n <= 16 && (const char *)limit - str >= 16 && !o->err && o->cap - o->len >= 18) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)str);

		if (!(json_special16(v) & ((1u << n) - 1))) {
			char *d = o->p + o->len;

			d[0] = '"';
			_mm_storeu_si128((__m128i *)(void *)(d + 1), v);
			d[1 + n] = '"';
			o->len += n + 2;
			return;
		}
	}
#endif
	json_str_any(o, str, n, limit);
}

static void json_str(struct json_out *o, const char *str, size_t n)
{
	json_str_in(o, str, n, str + n);
}

static void json_u64(struct json_out *o, uint64_t v, bool neg)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	json_put(o, tmp + i, sizeof(tmp) - i);
}

static void json_i64(struct json_out *o, int64_t v)
{
	/* Negate in unsigned arithmetic so INT64_MIN is exact. */
	if (v < 0)
		json_u64(o, 0 - (uint64_t)v, true);
	else
		json_u64(o, (uint64_t)v, false);
}

/* 10^k, k = 0..19: all exact in a double (up to 10^22 are). */
static const double json_p10[20] = { 1e0,  1e1,	 1e2,  1e3,  1e4,  1e5,	 1e6,  1e7,  1e8,  1e9,
				     1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19 };

/*
 * The common case of json_float's %.15g without printf: d = ±m / 10^k with m < 10^15 (at
 * most 15 significant digits) and 1e-4 <= |d| < 1e15, where %.15g prints plain decimals.
 * The smallest k for which m = round(|d| 10^k) reads back as |d| (m / 10^k is one
 * correctly rounded division of two exact doubles, the value strtod gives the decimal)
 * gives the text %.15g prints: by DBL_DIG, a decimal of at most 15 significant digits that
 * reads as d is the one %.15g writes for d, less its trailing zeros, as %g drops them.
 * round(|d| 10^k) is that m: |d| 10^k is within 0.25 of it while m < 10^15 (half an ulp
 * of d scaled, and the product's own rounding). Writes the text to buf (at least 24
 * bytes) and returns its length; 0 when |d| is outside the range (printf's way then), -1
 * when it is inside but needs 16 or 17 digits (printf's way from %.16g: no m / 10^k reads
 * back, and %.15g would have written one). test_float_fast in json_test.c compares the
 * result with the printf loop's on many values.
 */
static int json_float_fast(char *buf, double d)
{
	double a = d < 0 ? -d : d;
	char dig[20];
	size_t n = 0, i, nd = 0;
	uint64_t m = 0;
	int k;

	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	for (k = 0; k < 20; k++) {
		double x = a * json_p10[k];

		if (x >= 1e15)
			return -1;
		m = (uint64_t)(x + 0.5);
		if ((double)m / json_p10[k] == a)
			break;
	}
	if (k == 20)
		return 0; /* not reached: 1e-4 * 1e19 >= 1e15 */
	/* m's digits, least significant first, at least k + 1 of them (a leading "0."). */
	do {
		dig[nd++] = (char)('0' + m % 10);
		m /= 10;
	} while (m || nd <= (size_t)k);
	if (d < 0)
		buf[n++] = '-';
	for (i = nd; i-- > 0;) {
		buf[n++] = dig[i];
		if (i == (size_t)k && k > 0)
			buf[n++] = '.';
	}
	return (int)n;
}

/* Fewest significant digits that read back to the same value; float32 values round-trip
 * as float32 so 0.1f prints "0.1", not its double expansion. */
static void json_float(struct json_out *o, double d, bool single)
{
	char tmp[40];
	int n = 0, first = single ? 6 : 15;

	if (!isfinite(d)) {
		json_put(o, "null", 4);
		return;
	}
	if (!single) {
		n = json_float_fast(tmp, d);
		if (n > 0)
			goto put;
		if (n < 0)
			first = 16;
	}
	for (int prec = first; prec <= (single ? 9 : 17); prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (single ? strtof(tmp, NULL) == (float)d : strtod(tmp, NULL) == d)
			break;
	}
	if (n <= 0 || n >= (int)sizeof(tmp) - 3) {
		json_put(o, "null", 4);
		return;
	}
put:
	if (!memchr(tmp, '.', (size_t)n) && !memchr(tmp, 'e', (size_t)n)) {
		tmp[n++] = '.';
		tmp[n++] = '0';
	}
	json_put(o, tmp, (size_t)n);
}

static void json_hex(struct json_out *o, const char *s, uint32_t n)
{
	const uint8_t *b = (const uint8_t *)s;

	json_putc(o, '"');
	if (!json_room(o, 2 * (size_t)n))
		return;
	for (uint32_t i = 0; i < n; i++) {
		o->p[o->len++] = hex_digits[b[i] >> 4];
		o->p[o->len++] = hex_digits[b[i] & 15];
	}
	json_putc(o, '"');
}

static const uint8_t *json_value(struct json_out *o, const uint8_t *p, const uint8_t *end,
				 int depth);

/* A map key: strings as themselves, other scalars as the string of their JSON text. */
static const uint8_t *json_key(struct json_out *o, const uint8_t *p, const uint8_t *end)
{
	struct sl_val v;
	uint64_t ch;
	const uint8_t *q;

	/* A fixstr, what records' keys are, without sl_mp_head (the same bounds check). */
	if (p < end && (*p & 0xe0) == 0xa0 && (size_t)(end - p) > (size_t)(*p & 0x1f)) {
		json_str_in(o, (const char *)p + 1, *p & 0x1fu, end);
		return p + 1 + (*p & 0x1f);
	}
	q = sl_mp_head(p, end, &v, &ch);
	if (!q || v.type == SL_VAL_MAP || v.type == SL_VAL_ARRAY) {
		o->err = o->err ? o->err : -1;
		return NULL;
	}
	switch (v.type) {
	case SL_VAL_STR:
		json_str_in(o, v.s.p, v.s.len, end);
		return q;
	case SL_VAL_BIN:
	case SL_VAL_EXT:
		json_hex(o, v.s.p, v.s.len);
		return q;
	default:
		json_putc(o, '"');
		q = json_value(o, p, end, 0);
		json_putc(o, '"');
		return q;
	}
}

static const uint8_t *json_value(struct json_out *o, const uint8_t *p, const uint8_t *end,
				 int depth)
{
	struct sl_val v;
	uint64_t ch;

	/* The common scalars of a record without sl_mp_head (the same bounds checks): fixstr,
	 * str8, positive fixint. */
	if (p < end) {
		size_t room = (size_t)(end - p), n;

		if ((*p & 0xe0) == 0xa0 && room > (n = *p & 0x1fu)) {
			json_str_in(o, (const char *)p + 1, n, end);
			return p + 1 + n;
		}
		if (*p == 0xd9 && room >= 2 && room - 2 >= (n = p[1])) {
			json_str_in(o, (const char *)p + 2, n, end);
			return p + 2 + n;
		}
		if (*p <= 0x7f) {
			json_u64(o, *p, false);
			return p + 1;
		}
	}
	p = sl_mp_head(p, end, &v, &ch);
	if (!p) {
		o->err = o->err ? o->err : -1;
		return NULL;
	}
	switch (v.type) {
	case SL_VAL_NIL:
		json_put(o, "null", 4);
		return p;
	case SL_VAL_BOOL:
		if (v.b)
			json_put(o, "true", 4);
		else
			json_put(o, "false", 5);
		return p;
	case SL_VAL_INT:
		json_i64(o, v.i);
		return p;
	case SL_VAL_UINT:
		json_u64(o, v.u, false);
		return p;
	case SL_VAL_FLOAT:
		json_float(o, v.f, v.raw[0] == 0xca);
		return p;
	case SL_VAL_STR:
		json_str_in(o, v.s.p, v.s.len, end);
		return p;
	case SL_VAL_BIN:
	case SL_VAL_EXT:
		json_hex(o, v.s.p, v.s.len);
		return p;
	case SL_VAL_ARRAY:
	case SL_VAL_MAP:
		break;
	default:
		o->err = o->err ? o->err : -1;
		return NULL;
	}
	if (depth >= SL_REC_MAX_DEPTH) {
		o->err = o->err ? o->err : -1;
		return NULL;
	}
	json_putc(o, v.type == SL_VAL_MAP ? '{' : '[');
	for (uint32_t i = 0; i < v.n && !o->err; i++) {
		if (i)
			json_putc(o, ',');
		if (v.type == SL_VAL_MAP) {
			p = json_key(o, p, end);
			if (!p)
				return NULL;
			json_putc(o, ':');
		}
		p = json_value(o, p, end, depth + 1);
		if (!p)
			return NULL;
	}
	json_putc(o, v.type == SL_VAL_MAP ? '}' : ']');
	return o->err ? NULL : p;
}

long sl_json_from_value(const uint8_t *p, size_t len, char *out, size_t cap)
{
	struct json_out o = { out, 0, cap, 0 };

	json_value(&o, p, p + len, 0);
	return o.err ? o.err : (long)o.len;
}

long sl_json_from_record(struct sl_rec rec, char *out, size_t cap)
{
	struct sl_val v;
	uint64_t ch;

	if (!rec.p || !sl_mp_head(rec.p, rec.p + rec.len, &v, &ch) || v.type != SL_VAL_MAP)
		return -1;
	return sl_json_from_value(rec.p, rec.len, out, cap);
}

long sl_json_from_record_without(struct sl_rec rec, const char *skip, char *out, size_t cap)
{
	struct json_out o = { out, 0, cap, 0 };
	const uint8_t *p, *end = rec.p + rec.len;
	size_t skip_len = strlen(skip);
	uint32_t n, k = 0;

	if (!rec.p || !sl_mp_map_head(rec.p, end, &n, &p))
		return -1;
	json_putc(&o, '{');
	for (uint32_t i = 0; i < n && !o.err; i++) {
		struct sl_val key, val;
		const uint8_t *v = sl_mp_read(p, end, &key);

		if (!v)
			return -1;
		if (key.type == SL_VAL_STR && key.s.len == skip_len &&
		    memcmp(key.s.p, skip, skip_len) == 0) {
			p = sl_mp_read(v, end, &val);
			if (!p)
				return -1;
			continue;
		}
		if (k++)
			json_putc(&o, ',');
		p = json_key(&o, p, end);
		if (!p)
			break;
		json_putc(&o, ':');
		p = json_value(&o, p, end, 1);
		if (!p)
			break;
	}
	json_putc(&o, '}');
	return o.err ? o.err : (long)o.len;
}

long sl_json_string(const char *s, size_t len, char *out, size_t cap)
{
	struct json_out o = { out, 0, cap, 0 };

	json_str(&o, s, len);
	return o.err ? o.err : (long)o.len;
}

long sl_json_from_line(const char *s, size_t len, char *out, size_t cap)
{
	struct json_out o = { out, 0, cap, 0 };

	json_put(&o, "{\"line\":", 8);
	json_str(&o, s, len);
	json_putc(&o, '}');
	return o.err ? o.err : (long)o.len;
}

void sl_json_fput_string(FILE *f, const char *s)
{
	size_t len = strlen(s), cap = 6 * len + 3;
	char stack[512], *buf = cap <= sizeof(stack) ? stack : malloc(cap);
	long n = buf ? sl_json_string(s, len, buf, cap) : -2;

	if (n > 0)
		fwrite(buf, 1, (size_t)n, f);
	else
		fputs("\"\"", f);
	if (buf != stack)
		free(buf);
}
