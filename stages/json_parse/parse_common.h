/*
 * What the line parsers json_parse, logfmt_parse, syslog_parse and regex_parse share
 * (nginx_parse predates it and keeps its own tuned copy): the burst loop of a parser
 * stage (line in, record appended after the line on "default", or an error record
 * {"error": reason, "offset": byte} on "errors"), bounded msgpack writes straight into the
 * record writer's buffer, the JSON number grammar and its conversion to int/uint/float,
 * JSON string unescaping (\uXXXX with surrogate pairs, optional UTF-8 check), and calendar
 * arithmetic for timestamps (epoch ns). Header-only and pure, so each stage's process()
 * and its fuzz target inline the very same code; nothing here allocates, locks or makes a
 * system call. Callers run on worker lcores, any number at once.
 */
#ifndef SL_STAGES_PARSE_COMMON_H
#define SL_STAGES_PARSE_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "event/event.h" /* sl_event_grow */

/* ---- bounded msgpack writes into a struct sl_rec_writer ---- */

/* n bytes of room at the writer's end, or NULL (and the writer marked overflowed). */
static inline uint8_t *parse_room(struct sl_rec_writer *w, size_t n)
{
	if (w->overflow || n > (size_t)(w->cap - w->len)) {
		w->overflow = true;
		return NULL;
	}
	return w->p + w->len;
}

static inline size_t parse_str_hdr_size(size_t n)
{
	return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

static inline uint8_t *parse_put_str_hdr(uint8_t *o, size_t n)
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
	return o;
}

/* A string value (or a key inside a nested map: no field is counted). */
static inline void parse_put_str(struct sl_rec_writer *w, const char *s, size_t n)
{
	uint8_t *o = parse_room(w, parse_str_hdr_size(n) + n);

	if (!o)
		return;
	o = parse_put_str_hdr(o, n);
	memcpy(o, s, n);
	w->len = (uint32_t)(o + n - w->p);
}

/* A top-level key: counted as a field of the record. */
static inline void parse_put_key(struct sl_rec_writer *w, const char *k, size_t n)
{
	parse_put_str(w, k, n);
	w->n_fields++;
}

static inline void parse_put_int(struct sl_rec_writer *w, int64_t v)
{
	msgpack_pack_int64(&w->pk, v);
}

static inline void parse_put_uint(struct sl_rec_writer *w, uint64_t v)
{
	msgpack_pack_uint64(&w->pk, v);
}

static inline void parse_put_float(struct sl_rec_writer *w, double v)
{
	msgpack_pack_double(&w->pk, v);
}

static inline void parse_put_bool(struct sl_rec_writer *w, bool b)
{
	uint8_t *o = parse_room(w, 1);

	if (o) {
		*o = b ? 0xc3 : 0xc2;
		w->len++;
	}
}

static inline void parse_put_nil(struct sl_rec_writer *w)
{
	uint8_t *o = parse_room(w, 1);

	if (o) {
		*o = 0xc0;
		w->len++;
	}
}

/* Open a map (0xdf) or array (0xdd) whose count is not known yet: a 32-bit count is
 * reserved and patched by parse_close. Returns the header's offset (or UINT32_MAX). */
static inline uint32_t parse_open(struct sl_rec_writer *w, bool map)
{
	uint8_t *o = parse_room(w, 5);

	if (!o)
		return UINT32_MAX;
	o[0] = map ? 0xdf : 0xdd;
	w->len += 5;
	return (uint32_t)(o - w->p);
}

static inline void parse_close(struct sl_rec_writer *w, uint32_t at, uint32_t n)
{
	if (w->overflow || at == UINT32_MAX)
		return;
	w->p[at + 1] = (uint8_t)(n >> 24);
	w->p[at + 2] = (uint8_t)(n >> 16);
	w->p[at + 3] = (uint8_t)(n >> 8);
	w->p[at + 4] = (uint8_t)n;
}

/* ---- numbers ---- */

/* Length of the longest JSON number (RFC 8259: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) at p,
 * 0 when there is none; *is_float when it has a fraction or an exponent. */
static inline size_t parse_num_scan(const char *p, const char *end, bool *is_float)
{
	const char *s = p, *q;

	*is_float = false;
	if (p < end && *p == '-')
		p++;
	if (p == end || (unsigned)(*p - '0') > 9)
		return 0;
	if (*p == '0')
		p++;
	else
		while (p < end && (unsigned)(*p - '0') <= 9)
			p++;
	if (end - p >= 2 && *p == '.' && (unsigned)(p[1] - '0') <= 9) {
		*is_float = true;
		for (p += 2; p < end && (unsigned)(*p - '0') <= 9; p++)
			;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		q = p + 1;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q < end && (unsigned)(*q - '0') <= 9) {
			*is_float = true;
			for (p = q; p < end && (unsigned)(*p - '0') <= 9; p++)
				;
		}
	}
	return (size_t)(p - s);
}

/* Longest number text converted (a float beyond this is refused rather than truncated). */
#define PARSE_NUM_MAX 127

enum parse_num_kind { PARSE_NUM_BAD = 0, PARSE_NUM_INT, PARSE_NUM_UINT, PARSE_NUM_FLOAT };

struct parse_num {
	enum parse_num_kind kind;
	union {
		int64_t i;
		uint64_t u;
		double f;
	};
};

/* Convert n bytes that parse_num_scan accepted. Integers become int64 when they fit, else
 * uint64, else a float; floats are correctly rounded (strtod on a bounded copy). PARSE_NUM_BAD
 * when the text is longer than PARSE_NUM_MAX or the value is not finite. */
static inline struct parse_num parse_num_value(const char *p, size_t n, bool is_float)
{
	struct parse_num v = { .kind = PARSE_NUM_BAD };
	char buf[PARSE_NUM_MAX + 1];
	bool neg = n > 0 && p[0] == '-';
	uint64_t u = 0;
	size_t i;

	if (!is_float) {
		for (i = neg; i < n; i++) {
			unsigned d = (unsigned)(p[i] - '0');
			if (u > (UINT64_MAX - d) / 10)
				goto as_float;
			u = u * 10 + d;
		}
		if (neg && u <= (uint64_t)INT64_MAX + 1) {
			v.kind = PARSE_NUM_INT;
			v.i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		} else if (!neg && u <= (uint64_t)INT64_MAX) {
			v.kind = PARSE_NUM_INT;
			v.i = (int64_t)u;
		} else if (!neg) {
			v.kind = PARSE_NUM_UINT;
			v.u = u;
		} else {
			goto as_float;
		}
		return v;
	}
as_float:
	if (n > PARSE_NUM_MAX)
		return v;
	memcpy(buf, p, n);
	buf[n] = '\0';
	v.f = strtod(buf, NULL);
	if (isfinite(v.f))
		v.kind = PARSE_NUM_FLOAT;
	return v;
}

static inline void parse_put_num(struct sl_rec_writer *w, struct parse_num v)
{
	if (v.kind == PARSE_NUM_INT)
		parse_put_int(w, v.i);
	else if (v.kind == PARSE_NUM_UINT)
		parse_put_uint(w, v.u);
	else
		parse_put_float(w, v.f);
}

/* ---- JSON strings ---- */

enum parse_str_err {
	PARSE_STR_OK = 0,
	PARSE_STR_UNTERMINATED, /* no closing quote: offset names the opening quote */
	PARSE_STR_CONTROL,	/* a raw byte below 0x20 */
	PARSE_STR_ESCAPE,	/* unknown escape, bad \uXXXX, or a lone surrogate: the backslash */
	PARSE_STR_UTF8,		/* invalid UTF-8 (when checked): the first byte of the sequence */
	PARSE_STR_ROOM,		/* the unescaped bytes do not fit dst */
};

static inline int parse_hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static inline uint8_t *parse_put_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (uint8_t)cp;
	} else if (cp < 0x800) {
		*o++ = (uint8_t)(0xc0 | cp >> 6);
		*o++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (uint8_t)(0xe0 | cp >> 12);
		*o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (uint8_t)(0xf0 | cp >> 18);
		*o++ = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (uint8_t)(0x80 | (cp & 0x3f));
	}
	return o;
}

/*
 * Unescape the JSON string whose opening quote is at q into dst (cap bytes; dst NULL
 * only checks the string). Returns PARSE_STR_OK with *n the unescaped length and *next just
 * past the closing quote, or an error with *next at the byte the error names. The
 * unescaped text is never longer than the escaped one. Escapes: \" \\ \/ \b \f \n \r \t
 * \uXXXX (a high surrogate must be followed by a \u low one; the pair is one code point).
 */
static inline int parse_json_unescape(const char *q, const char *end, uint8_t *dst, size_t cap,
				      bool check_utf8, size_t *n, const char **next)
{
	const char *p = q + 1;
	bool dry = dst == NULL;
	uint8_t tmp[4], *o = dst, *oend = dry ? NULL : dst + cap;
	size_t count = 0;

	for (;;) {
		const char *s = p;
		size_t k;

		/* the plain run up to the next quote, backslash, control or non-ASCII byte */
		while (p < end && (uint8_t)*p >= 0x20 && *p != '"' && *p != '\\' &&
		       (uint8_t)*p < 0x80)
			p++;
		k = (size_t)(p - s);
		if (!dry) {
			if (k > (size_t)(oend - o)) {
				*next = s;
				return PARSE_STR_ROOM;
			}
			memcpy(o, s, k);
			o += k;
		}
		count += k;
		if (p == end) {
			*next = q;
			return PARSE_STR_UNTERMINATED;
		}
		if (*p == '"') {
			*n = count;
			*next = p + 1;
			return PARSE_STR_OK;
		}
		if ((uint8_t)*p < 0x20) {
			*next = p;
			return PARSE_STR_CONTROL;
		}
		if ((uint8_t)*p >= 0x80) {
			k = 1;
			if (check_utf8) {
				k = sl_utf8_len((const uint8_t *)p, (const uint8_t *)end);
				if (!k) {
					*next = p;
					return PARSE_STR_UTF8;
				}
			}
			if (!dry) {
				if (k > (size_t)(oend - o)) {
					*next = p;
					return PARSE_STR_ROOM;
				}
				memcpy(o, p, k);
				o += k;
			}
			count += k;
			p += k;
			continue;
		}
		/* a backslash */
		if (end - p < 2) {
			*next = q;
			return PARSE_STR_UNTERMINATED;
		}
		{
			uint32_t cp;
			size_t m;

			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				cp = (uint8_t)p[1];
				k = 2;
				break;
			case 'b':
				cp = '\b';
				k = 2;
				break;
			case 'f':
				cp = '\f';
				k = 2;
				break;
			case 'n':
				cp = '\n';
				k = 2;
				break;
			case 'r':
				cp = '\r';
				k = 2;
				break;
			case 't':
				cp = '\t';
				k = 2;
				break;
			case 'u': {
				int hi = end - p >= 6 ? parse_hex4(p + 2) : -1, lo;

				if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff)) {
					*next = p;
					return PARSE_STR_ESCAPE;
				}
				cp = (uint32_t)hi;
				k = 6;
				if (hi >= 0xd800 && hi <= 0xdbff) {
					lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u'
						     ? parse_hex4(p + 8)
						     : -1;
					if (lo < 0xdc00 || lo > 0xdfff) {
						*next = p;
						return PARSE_STR_ESCAPE;
					}
					cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) +
					     ((uint32_t)lo - 0xdc00);
					k = 12;
				}
				break;
			}
			default:
				*next = p;
				return PARSE_STR_ESCAPE;
			}
			m = (size_t)(parse_put_utf8(tmp, cp) - tmp);
			if (!dry) {
				if (m > (size_t)(oend - o)) {
					*next = p;
					return PARSE_STR_ROOM;
				}
				memcpy(o, tmp, m);
				o += m;
			}
			count += m;
			p += k;
		}
	}
}

/*
 * Write the JSON string at q as a msgpack string value, unescaped in place in the
 * writer's buffer: the header is sized for the escaped length (an upper bound) and the
 * bytes moved down when the unescaped length needs a shorter one, so the encoding is
 * always the shortest. When it does not fit, the writer is marked overflowed and the
 * string is still checked, so a later syntax error is still found.
 */
static inline int parse_json_str(struct sl_rec_writer *w, const char *q, const char *end,
				 bool check_utf8, const char **next)
{
	size_t room = w->overflow ? 0 : (size_t)(w->cap - w->len), hb, h, n = 0;
	uint8_t *o = w->p + w->len;
	int rc;

	hb = parse_str_hdr_size((size_t)(end - q));
	if (room > hb) {
		rc = parse_json_unescape(q, end, o + hb, room - hb, check_utf8, &n, next);
		if (rc != PARSE_STR_ROOM) {
			if (rc != PARSE_STR_OK)
				return rc;
			h = parse_str_hdr_size(n);
			if (h < hb)
				memmove(o + h, o + hb, n);
			parse_put_str_hdr(o, n);
			w->len += (uint32_t)(h + n);
			return PARSE_STR_OK;
		}
	}
	w->overflow = true;
	return parse_json_unescape(q, end, NULL, 0, check_utf8, &n, next);
}

/* ---- time ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static inline int64_t parse_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static inline unsigned parse_days_in_month(int64_t y, unsigned m)
{
	static const uint8_t days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* n decimal digits at p as a value, or -1 when one is not a digit. */
static inline int parse_digits(const char *p, unsigned n)
{
	int v = 0;

	for (unsigned i = 0; i < n; i++) {
		if ((unsigned)(p[i] - '0') > 9)
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Seconds either side of the epoch that leave room, in int64 ns, for a fraction and a zone
 * offset: 1677-09-23 to 2262-04-09 (UTC). */
#define PARSE_EPOCH_S_MAX (INT64_MAX / 1000000000 - 2 * 86400)

/* Epoch ns of a UTC calendar time; false when a field is out of range (second 60, a leap
 * second, is refused: it has no epoch value) or the time is beyond PARSE_EPOCH_S_MAX. */
static inline bool parse_civil_ns(int y, int mo, int d, int h, int mi, int s, int64_t *ns)
{
	int64_t secs;

	if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    (unsigned)d > parse_days_in_month(y, (unsigned)mo) || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || s < 0 || s > 59)
		return false;
	secs = ((parse_days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60 + s;
	if (secs > PARSE_EPOCH_S_MAX || secs < -PARSE_EPOCH_S_MAX)
		return false;
	*ns = secs * 1000000000;
	return true;
}

/*
 * An RFC 3339 timestamp at p: YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|+HH:MM|-HH:MM), 'T' and
 * 'Z' in either case. Returns its length (0 when malformed) and the epoch ns in *ns.
 */
static inline size_t parse_rfc3339(const char *p, const char *end, int64_t *ns)
{
	const char *s = p;
	int y, mo, d, h, mi, sec, oh, om;
	int64_t frac = 0, t;
	unsigned nf = 0;

	if (end - p < 20 || p[4] != '-' || p[7] != '-' || (p[10] | 0x20) != 't' || p[13] != ':' ||
	    p[16] != ':')
		return 0;
	y = parse_digits(p, 4);
	mo = parse_digits(p + 5, 2);
	d = parse_digits(p + 8, 2);
	h = parse_digits(p + 11, 2);
	mi = parse_digits(p + 14, 2);
	sec = parse_digits(p + 17, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 ||
	    !parse_civil_ns(y, mo, d, h, mi, sec, &t))
		return 0;
	p += 19;
	if (p < end && *p == '.') {
		for (p++; p < end && (unsigned)(*p - '0') <= 9 && nf < 10; p++, nf++)
			frac = frac * 10 + (*p - '0');
		if (nf == 0 || nf > 9)
			return 0;
		for (unsigned i = nf; i < 9; i++)
			frac *= 10;
	}
	if (p < end && (*p | 0x20) == 'z') {
		p++;
	} else if (end - p >= 6 && (*p == '+' || *p == '-') && p[3] == ':') {
		oh = parse_digits(p + 1, 2);
		om = parse_digits(p + 4, 2);
		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return 0;
		t -= (*p == '+' ? 1 : -1) * ((int64_t)oh * 60 + om) * 60 * 1000000000;
		p += 6;
	} else {
		return 0;
	}
	*ns = t + frac;
	return (size_t)(p - s);
}

static inline int parse_month(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (memcmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* nginx/Apache $time_local at p, "dd/Mon/yyyy:hh:mm:ss +zzzz" (26 bytes): epoch ns, or
 * false when malformed. */
static inline bool parse_clf_time(const char *p, size_t n, int64_t *ns)
{
	int d, mo, y, h, mi, s, oh, om;
	int64_t t;

	if (n != 26 || p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':' ||
	    p[20] != ' ' || (p[21] != '+' && p[21] != '-'))
		return false;
	d = parse_digits(p, 2);
	mo = parse_month(p + 3);
	y = parse_digits(p + 7, 4);
	h = parse_digits(p + 12, 2);
	mi = parse_digits(p + 15, 2);
	s = parse_digits(p + 18, 2);
	oh = parse_digits(p + 22, 2);
	om = parse_digits(p + 24, 2);
	if (d < 0 || y < 0 || h < 0 || mi < 0 || s < 0 || oh < 0 || oh > 23 || om < 0 || om > 59 ||
	    !parse_civil_ns(y, mo, d, h, mi, s, &t))
		return false;
	*ns = t - (p[21] == '+' ? 1 : -1) * ((int64_t)oh * 60 + om) * 60 * 1000000000;
	return true;
}

/* ---- the stage loop ---- */

/*
 * A parser: parse len bytes of line (no newline) and append fields to w. Returns 0 on
 * success (the record may still have overflowed: the loop checks), or an error code
 * (> 0) with *err_offset the byte the error names.
 */
typedef int (*parse_line_fn)(const void *conf, const char *line, size_t len,
			     struct sl_rec_writer *w, uint32_t *err_offset);

/* The parser codes first (0 = parsed, the last one too_large), then these two. */
struct parse_stage {
	const char *const *names; /* reason names, indexed by code */
	int too_large;		  /* the code for a record that does not fit */
	int cnt_not_line, cnt_nombuf;
};

/* Replace whatever follows the line with {"error": reason, "offset": offset}. */
static inline uint32_t parse_error_record(uint8_t *buf, uint32_t cap, const char *reason,
					  uint32_t offset)
{
	struct sl_rec_writer w;

	sl_rec_begin(&w, buf, cap);
	sl_rec_put_str(&w, "error", reason, strlen(reason));
	sl_rec_put_int(&w, "offset", offset);
	return sl_rec_end(&w);
}

enum { PARSE_PORT_DEFAULT = 0, PARSE_PORT_ERRORS = 1 };

/*
 * The process() of a parser stage: each line event (or record event that kept its line;
 * its old record is replaced) is parsed and its record appended after the line, then
 * emitted on port 0; a line that does not parse gets an error record and port 1. Other
 * events are dropped as invalid (not_line); shared events are copied first (nombuf when
 * no event is free). Inlined into each stage with its own parser.
 */
static inline __attribute__((always_inline)) void
parse_stage_process(const struct parse_stage *st, parse_line_fn parse, const void *conf,
		    struct sl_ctx *ctx, struct sl_burst *in, struct sl_emit *out)
{
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	for (uint16_t i = 0; i < n && i < 2; i++)
		rte_prefetch0(evs[i]);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_rec_writer w;
		struct sl_meta *meta;
		uint32_t raw_len, cap, rec_len = 0, err_off = 0;
		uint16_t port = PARSE_PORT_DEFAULT;
		uint8_t *rec;
		int rc;

		if (i + 2 < n)
			rte_prefetch0(evs[i + 2]);
		if (i + 1 < n) {
			const char *next = rte_pktmbuf_mtod(evs[i + 1], const char *);
			rte_prefetch0(next);
			rte_prefetch0(next + RTE_CACHE_LINE_SIZE);
		}
		meta = sl_ctx_meta(ctx, ev);
		raw_len = meta->raw_len;
		if ((meta->kind != SL_EVENT_LINE &&
		     !(meta->kind == SL_EVENT_RECORD && raw_len > 0)) ||
		    raw_len > ev->data_len || ev->nb_segs != 1) {
			cnt[st->cnt_not_line]++;
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		if (rte_mbuf_refcnt_read(ev) > 1) {
			/* Fan-out shares events; the host released ev if it returns NULL. */
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev) {
				cnt[st->cnt_nombuf]++;
				continue;
			}
			meta = sl_ctx_meta(ctx, ev);
		}
		ev->data_len = (uint16_t)raw_len;
		ev->pkt_len = raw_len;
		/* A record too big for a small event: once more in the big room (event.h). */
		for (bool again = true; again;) {
			rec = rte_pktmbuf_mtod_offset(ev, uint8_t *, raw_len);
			cap = rte_pktmbuf_tailroom(ev);
			sl_rec_begin(&w, rec, cap);
			rc = parse(conf, rte_pktmbuf_mtod(ev, const char *), raw_len, &w, &err_off);
			if (rc == 0) {
				rec_len = sl_rec_end(&w);
				if (rec_len == 0) {
					rc = st->too_large;
					err_off = raw_len;
				}
			}
			again = rc == st->too_large && sl_event_grow(ev);
		}
		cnt[rc]++;
		if (rc != 0) {
			rec_len = parse_error_record(rec, cap, st->names[rc], err_off);
			port = PARSE_PORT_ERRORS;
		}
		if (rec_len == 0) {
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		ev->data_len = (uint16_t)(raw_len + rec_len);
		ev->pkt_len = raw_len + rec_len;
		meta->rec_off = (uint16_t)raw_len;
		meta->kind = SL_EVENT_RECORD;
		sl_emit(out, port, ev);
	}
}

#endif
