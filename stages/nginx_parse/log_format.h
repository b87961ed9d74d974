/*
 * nginx `log_format` strings, for nginx_parse's `log_format:` parameter: compiled once at
 * init into literals and variables, then matched against each line. The format is written
 * as in nginx.conf (`$remote_addr - $remote_user [$time_local] "$request" ...`, `${name}`
 * also accepted). A variable's value ends where the literal after it starts (nginx escapes
 * '"' and control bytes in logged values as \xHH, so a quoted value holds no '"'; a '"'
 * after an odd number of backslashes is taken as part of the value, as the combined
 * parser does); the last
 * variable takes the rest of the line, less trailing spaces and '\r' (which the combined
 * parser also allows). Two variables with nothing
 * between them cannot be told apart and are refused at compile time.
 *
 * Fields: the variables of the combined format keep nginx_parse's names and types (ip,
 * user, time, method/path/protocol from $request, status, bytes, referer, user_agent);
 * $request_time, $msec and $upstream_*_time become floats (seconds; "-" leaves the field
 * out, a list such as "0.010, 0.002" stays a string); $bytes_sent, $request_length,
 * $connection, $connection_requests and $pid become integers; any other variable becomes
 * a string field of its own name. Header-only (the fuzz target includes it); no
 * allocation per line.
 */
#ifndef SL_NGINX_LOG_FORMAT_H
#define SL_NGINX_LOG_FORMAT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sluice/record.h>

#include "parse.h"

#define NGX_FMT_MAX_ITEMS 64
#define NGX_FMT_KEY_MAX	  48

/** The format nginx calls "combined", which the fast parser (parse.h) handles. */
#define NGX_FMT_COMBINED                                                                   \
	"$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent " \
	"\"$http_referer\" \"$http_user_agent\""

enum ngx_var_kind {
	NGX_V_STR,	    /* as written */
	NGX_V_IP,	    /* $remote_addr: address characters only */
	NGX_V_TIME_LOCAL,   /* dd/Mon/yyyy:hh:mm:ss +zzzz, kept as text like the fast path */
	NGX_V_REQUEST,	    /* METHOD PATH PROTOCOL -> method, path, protocol */
	NGX_V_STATUS,	    /* three digits 100..599 */
	NGX_V_UINT,	    /* digits; "-" is 0 ($body_bytes_sent as the fast path) */
	NGX_V_UINT_OPT,	    /* digits; "-" leaves the field out */
	NGX_V_FLOAT_OR_STR, /* a decimal number -> float; "-" -> left out; else the text */
};

struct ngx_fmt_item {
	bool is_var;
	uint8_t kind;	 /* enum ngx_var_kind */
	uint16_t off;	 /* literal: offset in ngx_fmt.text */
	uint16_t len;	 /* literal: length */
	uint8_t key_len; /* variable: record key */
	char key[NGX_FMT_KEY_MAX];
};

struct ngx_fmt {
	uint32_t n;
	struct ngx_fmt_item it[NGX_FMT_MAX_ITEMS];
	char text[1024]; /* the literals, back to back */
	uint32_t text_len;
	/* The format is the combined format followed by more (a common "combined plus
	 * $request_time"): the combined parser (parse.h) reads the line up to the user agent's
	 * closing quote, and items from `tail` on (a literal starting with that quote) the
	 * rest. 0: every item is matched here. */
	uint32_t tail;
	/* tail is one literal then one variable, the last item (" $request_time"). */
	bool tail_one_var;
	/* tail_one_var and the literal is at most 8 bytes: tail_lit holds them (little-endian)
	 * for one compare. */
	bool tail_lit_word;
	uint64_t tail_lit;
	/* tail_one_var and the variable a float (NGX_V_FLOAT_OR_STR) whose key is 6 to 14
	 * bytes: tail_key holds its fixstr and the float64 header 0xcb, written in one 16-byte
	 * move (the value's 8 bytes then cover the rest). */
	bool tail_float;
	uint8_t tail_key[16];
};

struct ngx_var_map {
	const char *var;
	const char *key;
	enum ngx_var_kind kind;
};

static const struct ngx_var_map ngx_var_maps[] = {
	{ "remote_addr", "ip", NGX_V_IP },
	{ "remote_user", "user", NGX_V_STR },
	{ "time_local", "time", NGX_V_TIME_LOCAL },
	{ "time_iso8601", "time", NGX_V_STR },
	{ "request", NULL, NGX_V_REQUEST },
	{ "status", "status", NGX_V_STATUS },
	{ "body_bytes_sent", "bytes", NGX_V_UINT },
	{ "http_referer", "referer", NGX_V_STR },
	{ "http_user_agent", "user_agent", NGX_V_STR },
	{ "bytes_sent", "bytes_sent", NGX_V_UINT_OPT },
	{ "request_length", "request_length", NGX_V_UINT_OPT },
	{ "connection", "connection", NGX_V_UINT_OPT },
	{ "connection_requests", "connection_requests", NGX_V_UINT_OPT },
	{ "pid", "pid", NGX_V_UINT_OPT },
	{ "request_time", "request_time", NGX_V_FLOAT_OR_STR },
	{ "msec", "msec", NGX_V_FLOAT_OR_STR },
	{ "upstream_response_time", "upstream_response_time", NGX_V_FLOAT_OR_STR },
	{ "upstream_connect_time", "upstream_connect_time", NGX_V_FLOAT_OR_STR },
	{ "upstream_header_time", "upstream_header_time", NGX_V_FLOAT_OR_STR },
};

static inline bool ngx_var_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/*
 * Compile fmt. 0, or -EINVAL with *err_off (byte offset in fmt) and msg set.
 */
static inline int ngx_fmt_compile(const char *fmt, struct ngx_fmt *f, uint32_t *err_off, char *msg,
				  size_t msg_len)
{
	size_t len = strlen(fmt), i = 0;

	memset(f, 0, sizeof(*f));
	if (len == 0) {
		*err_off = 0;
		snprintf(msg, msg_len, "empty log_format");
		return -EINVAL;
	}
	while (i < len) {
		struct ngx_fmt_item *it;

		if (f->n == NGX_FMT_MAX_ITEMS) {
			*err_off = (uint32_t)i;
			snprintf(msg, msg_len, "more than %d parts", NGX_FMT_MAX_ITEMS);
			return -EINVAL;
		}
		it = &f->it[f->n];
		if (fmt[i] == '$') {
			size_t start = i, s, e;
			bool braced = i + 1 < len && fmt[i + 1] == '{';

			s = i + 1 + braced;
			for (e = s; e < len && ngx_var_char(fmt[e]); e++)
				;
			if (e == s || (braced && (e == len || fmt[e] != '}'))) {
				*err_off = (uint32_t)start;
				snprintf(msg, msg_len,
					 braced ? "expected ${name}"
						: "expected a variable name after '$'");
				return -EINVAL;
			}
			if (e - s >= NGX_FMT_KEY_MAX) {
				*err_off = (uint32_t)start;
				snprintf(msg, msg_len, "variable name longer than %d bytes",
					 NGX_FMT_KEY_MAX - 1);
				return -EINVAL;
			}
			if (f->n > 0 && f->it[f->n - 1].is_var) {
				*err_off = (uint32_t)start;
				snprintf(msg, msg_len,
					 "variable right after another: nothing tells where one "
					 "ends");
				return -EINVAL;
			}
			it->is_var = true;
			it->kind = NGX_V_STR;
			memcpy(it->key, fmt + s, e - s);
			it->key_len = (uint8_t)(e - s);
			for (size_t m = 0; m < sizeof(ngx_var_maps) / sizeof(ngx_var_maps[0]);
			     m++) {
				if (strlen(ngx_var_maps[m].var) == e - s &&
				    memcmp(ngx_var_maps[m].var, fmt + s, e - s) == 0) {
					it->kind = (uint8_t)ngx_var_maps[m].kind;
					if (ngx_var_maps[m].key) {
						it->key_len = (uint8_t)strlen(ngx_var_maps[m].key);
						memcpy(it->key, ngx_var_maps[m].key,
						       it->key_len + 1);
					}
					break;
				}
			}
			i = e + braced;
		} else {
			size_t e = i;

			while (e < len && fmt[e] != '$')
				e++;
			if (f->text_len + (e - i) > sizeof(f->text)) {
				*err_off = (uint32_t)i;
				snprintf(msg, msg_len, "literal text longer than %zu bytes in all",
					 sizeof(f->text));
				return -EINVAL;
			}
			it->is_var = false;
			it->off = (uint16_t)f->text_len;
			it->len = (uint16_t)(e - i);
			memcpy(f->text + f->text_len, fmt + i, e - i);
			f->text_len += (uint32_t)(e - i);
			i = e;
		}
		f->n++;
	}
	/* Combined, then more: the combined format's items but its last literal ('"') are
	 * the first items of f, and f's next item is a literal starting with '"'. */
	if (len > strlen(NGX_FMT_COMBINED) &&
	    memcmp(fmt, NGX_FMT_COMBINED, strlen(NGX_FMT_COMBINED)) == 0) {
		uint32_t k = 0;

		for (uint32_t j = 0; j < f->n; j++)
			if (f->it[j].is_var && ++k == 8) { /* $http_user_agent */
				if (j + 1 < f->n && !f->it[j + 1].is_var &&
				    f->text[f->it[j + 1].off] == '"')
					f->tail = j + 1;
				break;
			}
		f->tail_one_var = f->tail && f->tail + 2 == f->n && !f->it[f->tail].is_var &&
				  f->it[f->tail + 1].is_var;
	}
	if (f->tail_one_var && f->it[f->tail].len <= 8) {
		const struct ngx_fmt_item *lit = &f->it[f->tail];

		f->tail_lit_word = true;
		for (uint32_t j = lit->len; j-- > 0;)
			f->tail_lit = f->tail_lit << 8 | (uint8_t)f->text[lit->off + j];
	}
	if (f->tail_one_var && f->it[f->tail + 1].kind == NGX_V_FLOAT_OR_STR &&
	    f->it[f->tail + 1].key_len >= 6 && f->it[f->tail + 1].key_len <= 14) {
		const struct ngx_fmt_item *v = &f->it[f->tail + 1];

		f->tail_float = true;
		f->tail_key[0] = (uint8_t)(0xa0 | v->key_len);
		memcpy(f->tail_key + 1, v->key, v->key_len);
		f->tail_key[1 + v->key_len] = 0xcb;
	}
	return 0;
}

static inline const char *ngx_memmem(const char *h, size_t hn, const char *n, size_t nn)
{
	if (nn == 0)
		return h;
	while (hn >= nn) {
		const char *p = memchr(h, n[0], hn - nn + 1);

		if (!p)
			return NULL;
		if (memcmp(p, n, nn) == 0)
			return p;
		hn -= (size_t)(p + 1 - h);
		h = p + 1;
	}
	return NULL;
}

/* The literal lit in [p, end). One starting with '"' ends a quoted value: a '"' after an
 * odd number of backslashes is part of the value, as the combined parser reads it. */
static inline const char *ngx_find_lit(const char *p, const char *end, const char *lit, size_t n)
{
	const char *s = p, *q, *b;

	for (;;) {
		q = ngx_memmem(p, (size_t)(end - p), lit, n);
		if (!q || lit[0] != '"')
			return q;
		for (b = q; b > s && b[-1] == '\\'; b--)
			;
		if (((q - b) & 1) == 0)
			return q;
		p = q + 1;
	}
}

/* A decimal number ("0.123", "12", "1.5e3" not accepted: nginx writes fixed point). Up to
 * 15 digits: the digits as an integer divided by a power of ten, one correctly rounded
 * division (as strtod gives); longer: digit by digit. */
static inline __attribute__((always_inline)) bool ngx_decimal(const char *lo, const char *s,
							      size_t n, double *out)
{
	static const double p10[16] = { 1e0, 1e1, 1e2,	1e3,  1e4,  1e5,  1e6,	1e7,
					1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	double v = 0, scale = 1;
	bool dot = false, any = false;
	uint64_t m = 0;
	size_t nd = 0, frac = 0;

	/* nginx's times ($request_time, $upstream_*_time): "s.mmm", the same value as below */
	if (n == 5 && s[1] == '.' && (unsigned)(s[0] - '0') <= 9 && (unsigned)(s[2] - '0') <= 9 &&
	    (unsigned)(s[3] - '0') <= 9 && (unsigned)(s[4] - '0') <= 9) {
		*out = (double)((unsigned)(s[0] - '0') * 1000 + (unsigned)(s[2] - '0') * 100 +
				(unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0')) /
		       p10[3];
		return true;
	}
	/* Most values: 2 to 8 bytes, one word read so that it ends where the value does (lo,
	 * the line's start, is 8 bytes before that or more); the dot found and squeezed out,
	 * the digits checked and summed in the word. The same m and frac as the loop below. */
	if (n >= 2 && n <= 8 && s + n - lo >= 8) {
		uint64_t x = nginx_load_le64(s + n - 8) >> (8 * (8 - n)),
			 t = x ^ 0x2e2e2e2e2e2e2e2eull;
		uint64_t z = (t - 0x0101010101010101ull) & ~t & 0x8080808080808080ull;
		unsigned d = z ? (unsigned)__builtin_ctzll(z) / 8 : (unsigned)n; /* the dot, or n */
		uint64_t low = d >= 8 ? ~0ull : (1ull << (8 * d)) - 1;
		uint64_t y = (x & low) | ((x >> 8) & ~low); /* the digits without the dot */
		unsigned k = (unsigned)n - (d < n);	    /* how many */
		uint64_t km = k >= 8 ? ~0ull : (1ull << (8 * k)) - 1;

		if (k > 0 && nginx_digits8(y, km)) {
			y = (y - 0x3030303030303030ull) & km;
			if (k < 8)
				y <<= 8 * (8 - k);
			y = (y * 10 + (y >> 8)) & 0x00ff00ff00ff00ffull;
			y = (y * 100 + (y >> 16)) & 0x0000ffff0000ffffull;
			y = (y * 10000 + (y >> 32)) & 0xffffffffull;
			*out = (double)y / p10[d < n ? n - 1 - d : 0];
			return true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
			continue;
		}
		if ((unsigned)(s[i] - '0') > 9)
			return false;
		m = m * 10 + (uint64_t)(s[i] - '0');
		nd++;
		frac += dot;
		if (nd > 15)
			break;
	}
	if (nd > 0 && nd <= 15) {
		*out = (double)m / p10[frac];
		return true;
	}
	if (nd == 0)
		return false;
	dot = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
			continue;
		}
		if ((unsigned)(s[i] - '0') > 9)
			return false;
		any = true;
		if (dot) {
			scale /= 10;
			v += (s[i] - '0') * scale;
		} else {
			v = v * 10 + (s[i] - '0');
		}
	}
	*out = v;
	return any;
}

static inline bool ngx_uint(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)(s[i] - '0') > 9)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = v;
	return true;
}

/* key (a fixstr, under 32 bytes) and a float64, written in place: the msgpack-c packer
 * costs ~120 instructions a call on this per-line path. */
static inline __attribute__((always_inline)) void
ngx_put_float(struct sl_rec_writer *w, const char *key, size_t klen, double d)
{
	uint64_t u;

	if (w->overflow || klen > 31 || 1 + klen + 9 > (size_t)(w->cap - w->len)) {
		sl_rec_put_float(w, key, d); /* sets overflow when it does not fit */
		return;
	}
	memcpy(&u, &d, sizeof(u));
	u = __builtin_bswap64(u);
	w->p[w->len] = (uint8_t)(0xa0 | klen);
	nginx_copy(w->p + w->len + 1, key, klen);
	w->p[w->len + 1 + klen] = 0xcb;
	memcpy(w->p + w->len + 2 + klen, &u, sizeof(u));
	w->len += (uint32_t)(1 + klen + 9);
	w->n_fields++;
}

/* The n bytes at p are lit: literals between variables are short, so a loop, not a call. */
static inline __attribute__((always_inline)) bool ngx_lit_eq(const char *p, const char *lit,
							     size_t n)
{
	if (n > 8)
		return memcmp(p, lit, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] != lit[i])
			return false;
	return true;
}

/* Write one variable's value [s, s + n) at line offset off; an SL_NGINX_* code. */
static inline int ngx_fmt_put(const struct ngx_fmt_item *it, const char *line, const char *s,
			      size_t n, struct sl_rec_writer *w, uint32_t *err_off)
{
	const char *sp1, *sp2;
	uint64_t u;
	double d;

	*err_off = (uint32_t)(s - line);
	switch ((enum ngx_var_kind)it->kind) {
	case NGX_V_IP:
		if (n == 0 || n > SL_NGINX_IP_MAX)
			return SL_NGINX_BAD_IP;
		for (size_t i = 0; i < n; i++)
			if (!sl_nginx_ip_char[(uint8_t)s[i]]) {
				*err_off += (uint32_t)i;
				return SL_NGINX_BAD_IP;
			}
		break;
	case NGX_V_TIME_LOCAL: {
		char t[SL_NGINX_TIME_LEN + 16] = { 0 };

		if (n != SL_NGINX_TIME_LEN)
			return SL_NGINX_BAD_TIME;
		memcpy(t, s, n); /* nginx_time_ok reads 16-byte blocks */
		if (!nginx_time_ok(t))
			return SL_NGINX_BAD_TIME;
		break;
	}
	case NGX_V_REQUEST:
		sp1 = memchr(s, ' ', n);
		if (!sp1 || sp1 == s)
			return SL_NGINX_BAD_REQUEST;
		sp2 = memchr(sp1 + 1, ' ', (size_t)(s + n - sp1 - 1));
		if (!sp2 || sp2 == sp1 + 1 || sp2 + 1 == s + n ||
		    memchr(sp2 + 1, ' ', (size_t)(s + n - sp2 - 1)))
			return SL_NGINX_BAD_REQUEST;
		sl_rec_put_str(w, "method", s, (size_t)(sp1 - s));
		sl_rec_put_str(w, "path", sp1 + 1, (size_t)(sp2 - sp1 - 1));
		sl_rec_put_str(w, "protocol", sp2 + 1, (size_t)(s + n - sp2 - 1));
		return SL_NGINX_OK;
	case NGX_V_STATUS:
		if (n != 3 || s[0] < '1' || s[0] > '5' || !ngx_uint(s, 3, &u))
			return SL_NGINX_BAD_STATUS;
		sl_rec_put_int(w, it->key, (int64_t)u);
		return SL_NGINX_OK;
	case NGX_V_UINT:
	case NGX_V_UINT_OPT:
		if (n == 1 && s[0] == '-') {
			if (it->kind == NGX_V_UINT)
				sl_rec_put_int(w, it->key, 0);
			return SL_NGINX_OK;
		}
		if (!ngx_uint(s, n, &u))
			return it->kind == NGX_V_UINT ? SL_NGINX_BAD_BYTES : SL_NGINX_BAD_NUMBER;
		sl_rec_put_int(w, it->key, (int64_t)u);
		return SL_NGINX_OK;
	case NGX_V_FLOAT_OR_STR:
		if (n == 1 && s[0] == '-')
			return SL_NGINX_OK;
		if (ngx_decimal(line, s, n, &d))
			ngx_put_float(w, it->key, it->key_len, d);
		else
			sl_rec_put_str(w, it->key, s, n);
		return SL_NGINX_OK;
	case NGX_V_STR:
		break;
	}
	sl_rec_put_str(w, it->key, s, n);
	return SL_NGINX_OK;
}

/*
 * Match line (len bytes, no newline) against f, writing the record into w. Returns
 * SL_NGINX_OK or the reason, with *err_offset the byte offset of the first byte at fault.
 */
static inline __attribute__((always_inline)) int
ngx_fmt_parse_line_any(const struct ngx_fmt *f, const char *line, size_t len,
		       struct sl_rec_writer *w, uint32_t *err_offset, uint64_t fields, bool avx2)
{
	const char *p = line, *end = line + len;
	uint32_t i = 0;
	int rc;

	/* As the combined parser: spaces and a '\r' at the end of a line are not data. */
	while (end > line && (end[-1] == ' ' || end[-1] == '\r'))
		end--;
	if (f->tail) {
		/* The combined parser for the prefix (fields: the projection of its ten). */
		rc = nginx_parse_line_rest_any(line, len, w, err_offset, fields, &p, avx2);
		if (rc != SL_NGINX_OK)
			return rc;
		i = f->tail;
		if (f->tail_one_var) {
			/* One literal, then a variable to the end (" $request_time"): no loop. */
			const struct ngx_fmt_item *lit = &f->it[i];
			size_t ll = lit->len;

			/* the literal: one word ending where it ends, when the line has 8 bytes
			 * up to there (it has: the combined prefix is longer) */
			if ((size_t)(end - p) < ll ||
			    (f->tail_lit_word && p + ll - line >= 8
				     ? nginx_load_le64(p + ll - 8) >> (64 - 8 * ll) != f->tail_lit
				     : !ngx_lit_eq(p, f->text + lit->off, ll))) {
				*err_offset = (uint32_t)(p - line);
				return SL_NGINX_BAD_FORMAT;
			}
			p += ll;
			if (f->tail_float && end - p >= 2) {
				/* a time (ngx_fmt_put's case, inline) */
				const struct ngx_fmt_item *it = &f->it[i + 1];
				double d;

				if (!ngx_decimal(line, p, (size_t)(end - p), &d)) {
					sl_rec_put_str(w, it->key, p, (size_t)(end - p));
				} else if (!w->overflow && 16 + 8 <= w->cap - w->len) {
					/* ngx_put_float's bytes: key and header, then the value */
					uint64_t u;

					memcpy(&u, &d, sizeof(u));
					u = __builtin_bswap64(u);
					memcpy(w->p + w->len, f->tail_key, 16);
					memcpy(w->p + w->len + 2 + it->key_len, &u, sizeof(u));
					w->len += 10 + it->key_len;
					w->n_fields++;
				} else {
					ngx_put_float(w, it->key, it->key_len, d);
				}
			} else if (f->it[i + 1].kind == NGX_V_FLOAT_OR_STR && end - p >= 2) {
				const struct ngx_fmt_item *it = &f->it[i + 1];
				double d;

				if (ngx_decimal(line, p, (size_t)(end - p), &d))
					ngx_put_float(w, it->key, it->key_len, d);
				else
					sl_rec_put_str(w, it->key, p, (size_t)(end - p));
			} else {
				rc = ngx_fmt_put(&f->it[i + 1], line, p, (size_t)(end - p), w,
						 err_offset);
				if (rc != SL_NGINX_OK)
					return rc;
			}
			if (w->overflow) {
				*err_offset = (uint32_t)len;
				return SL_NGINX_TOO_LARGE;
			}
			return SL_NGINX_OK;
		}
	}
	for (; i < f->n; i++) {
		const struct ngx_fmt_item *it = &f->it[i];

		if (!it->is_var) {
			if ((size_t)(end - p) < it->len ||
			    !ngx_lit_eq(p, f->text + it->off, it->len)) {
				*err_offset = (uint32_t)(p - line);
				return SL_NGINX_BAD_FORMAT;
			}
			p += it->len;
			continue;
		}
		const char *v_end = end;

		if (i + 1 < f->n) {
			const struct ngx_fmt_item *lit = &f->it[i + 1];

			v_end = ngx_find_lit(p, end, f->text + lit->off, lit->len);
			if (!v_end) {
				*err_offset = (uint32_t)(end - line);
				return SL_NGINX_BAD_FORMAT;
			}
		}
		rc = ngx_fmt_put(it, line, p, (size_t)(v_end - p), w, err_offset);
		if (rc != SL_NGINX_OK)
			return rc;
		p = v_end;
	}
	if (p != end) {
		*err_offset = (uint32_t)(p - line);
		return SL_NGINX_TRAILING;
	}
	if (w->overflow) {
		*err_offset = (uint32_t)len;
		return SL_NGINX_TOO_LARGE;
	}
	return SL_NGINX_OK;
}

static inline int ngx_fmt_parse_line_mask(const struct ngx_fmt *f, const char *line, size_t len,
					  struct sl_rec_writer *w, uint32_t *err_offset,
					  uint64_t fields)
{
	return ngx_fmt_parse_line_any(f, line, len, w, err_offset, fields, false);
}

#if NGINX_HAVE_AVX2
/* ngx_fmt_parse_line_mask with the AVX2 fast path (parse.h): only where the CPU has AVX2. */
NGINX_AVX2 static __attribute__((noinline, unused)) int
ngx_fmt_parse_line_mask_avx2(const struct ngx_fmt *f, const char *line, size_t len,
			     struct sl_rec_writer *w, uint32_t *err_offset, uint64_t fields)
{
	return ngx_fmt_parse_line_any(f, line, len, w, err_offset, fields, true);
}
#endif

static inline int ngx_fmt_parse_line(const struct ngx_fmt *f, const char *line, size_t len,
				     struct sl_rec_writer *w, uint32_t *err_offset)
{
	return ngx_fmt_parse_line_mask(f, line, len, w, err_offset, SL_NGINX_ALL_FIELDS);
}

#endif
