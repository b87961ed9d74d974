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
 * of backslashes is part of the string, as in Apache logs). The line is scanned once with
 * memchr and table lookups; the record is sized exactly before one unchecked write.
 */
#ifndef SL_STAGES_NGINX_PARSE_H
#define SL_STAGES_NGINX_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
	SL_NGINX_N_CODES,
};

static const char *const sl_nginx_err_names[SL_NGINX_N_CODES] = {
	"parsed", "bad_ip", "bad_user", "bad_time", "bad_request", "bad_status", "bad_bytes",
	"bad_quote", "trailing", "too_large",
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

static inline uint64_t nginx_load_le64(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* 8 bytes where mask has 0xff are ASCII digits: high nibble 3, low nibble + 6 below 16. */
static inline bool nginx_digits8(uint64_t x, uint64_t mask)
{
	const uint64_t hi = 0xf0f0f0f0f0f0f0f0ull, lo = 0x0f0f0f0f0f0f0f0full;

	return (x & hi & mask) == (0x3030303030303030ull & mask) &&
	       (((x & lo) + 0x0606060606060606ull) & 0x1010101010101010ull & mask) == 0;
}

#define NGINX_B(i, v) ((uint64_t)(uint8_t)(v) << (8 * (i)))

/* t holds SL_NGINX_TIME_LEN bytes: "dd/Mon/yyyy:hh:mm:ss +zzzz", checked in 4 words. */
static inline bool nginx_time_ok(const char *t)
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
	    !nginx_digits8(w1, 0xff00ffff00ffffffull) || !nginx_digits8(w2, 0xffff0000ffff00ffull) ||
	    !nginx_digits8(w3, 0xffffffff0000ffffull))
		return false;
	return m0 - 'a' < 26 && m1 - 'a' < 26 && m2 - 'a' < 26;
}

/* The closing quote of a string starting at s, or NULL: a '"' ends the string unless an
 * odd number of backslashes precedes it. */
static inline const char *nginx_scan_quoted(const char *s, const char *end)
{
	const char *p = s, *q, *b;

	for (;;) {
		q = memchr(p, '"', (size_t)(end - p));
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

/* Small copies inline: two overlapping moves instead of a call, never reading outside
 * [s, s + n). */
static inline void nginx_copy(uint8_t *o, const char *s, size_t n)
{
	uint64_t a, b;
	uint32_t c, d;

	if (n >= 8 && n <= 16) {
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

static inline uint8_t *nginx_put_str(uint8_t *o, const char *s, size_t n)
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

static inline uint8_t *nginx_put_uint(uint8_t *o, uint64_t v)
{
	int shift;

	if (v < 128) {
		*o++ = (uint8_t)v;
		return o;
	}
	if (v < 256) {
		*o++ = 0xcc;
		shift = 0;
	} else if (v < 65536) {
		*o++ = 0xcd;
		shift = 8;
	} else if (v < (1ull << 32)) {
		*o++ = 0xce;
		shift = 24;
	} else {
		*o++ = 0xcf;
		shift = 56;
	}
	for (; shift >= 0; shift -= 8)
		*o++ = (uint8_t)(v >> shift);
	return o;
}

/* A key as a fixstr, its header byte included (keys are constants under 32 bytes). */
#define NGINX_KEY(o, k)                                   \
	do {                                              \
		memcpy((o), "\x00" k, sizeof(k));         \
		*(o) = (uint8_t)(0xa0 | (sizeof(k) - 1)); \
		(o) += sizeof(k);                         \
	} while (0)

/* Encoded size of all ten keys with their fixstr headers. */
#define NGINX_KEYS_SIZE                                                                 \
	(sizeof("ip") + sizeof("user") + sizeof("time") + sizeof("method") + sizeof("path") + \
	 sizeof("protocol") + sizeof("status") + sizeof("bytes") + sizeof("referer") +        \
	 sizeof("user_agent"))

/*
 * Parse one line (no newline) and append its ten fields to w. Returns SL_NGINX_OK, or an
 * error code with *err_offset set to the byte offset in line where parsing failed (len
 * for SL_NGINX_TOO_LARGE, where w is marked overflowed). On error w is left unchanged.
 */
static inline int nginx_parse_line(const char *line, size_t len, struct sl_rec_writer *w,
				   uint32_t *err_offset)
{
	const char *end = line + len, *p = line, *q;
	const char *user, *time, *req, *sp1, *sp2, *req_end, *ref, *ref_end, *ua, *ua_end;
	size_t need;
	uint64_t bytes = 0;
	unsigned status;
	uint8_t *o;

	/* $remote_addr then " - " */
	while (p < end && sl_nginx_ip_char[(uint8_t)*p])
		p++;
	if (p == line || p - line > SL_NGINX_IP_MAX || p == end || *p != ' ')
		goto bad_ip;
	q = p + 1;
	if (end - q < 2 || q[0] != '-' || q[1] != ' ') {
		p = q;
		goto bad_user;
	}
	/* $remote_user then " [" */
	user = q + 2;
	p = memchr(user, ' ', (size_t)(end - user));
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
	req_end = nginx_scan_quoted(req, end);
	if (!req_end) {
		p = end;
		goto bad_quote;
	}
	sp1 = memchr(req, ' ', (size_t)(req_end - req));
	if (!sp1 || sp1 == req) {
		p = sp1 ? sp1 : req_end;
		goto bad_request;
	}
	sp2 = memchr(sp1 + 1, ' ', (size_t)(req_end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1) {
		p = sp2 ? sp2 : req_end;
		goto bad_request;
	}
	if (sp2 + 1 == req_end) {
		p = req_end;
		goto bad_request;
	}
	p = memchr(sp2 + 1, ' ', (size_t)(req_end - sp2 - 1));
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
	status = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
	/* $body_bytes_sent: "-" or digits, then ' ' */
	p += 4;
	if (p < end && *p == '-') {
		p++;
	} else {
		q = p;
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
	ref_end = nginx_scan_quoted(ref, end);
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
	ua_end = nginx_scan_quoted(ua, end);
	if (!ua_end) {
		p = end;
		goto bad_quote;
	}
	for (p = ua_end + 1; p < end; p++)
		if (*p != ' ' && *p != '\r')
			goto trailing;

	need = NGINX_KEYS_SIZE + nginx_mp_str_size((size_t)(user - 3 - line)) +
	       nginx_mp_str_size((size_t)(time - 2 - user)) +
	       nginx_mp_str_size(SL_NGINX_TIME_LEN) + nginx_mp_str_size((size_t)(sp1 - req)) +
	       nginx_mp_str_size((size_t)(sp2 - sp1 - 1)) +
	       nginx_mp_str_size((size_t)(req_end - sp2 - 1)) + nginx_mp_uint_size(status) +
	       nginx_mp_uint_size(bytes) + nginx_mp_str_size((size_t)(ref_end - ref)) +
	       nginx_mp_str_size((size_t)(ua_end - ua));
	if (w->overflow || need > (size_t)(w->cap - w->len)) {
		w->overflow = true;
		*err_offset = (uint32_t)len;
		return SL_NGINX_TOO_LARGE;
	}
	o = w->p + w->len;
	NGINX_KEY(o, "ip");
	o = nginx_put_str(o, line, (size_t)(user - 3 - line));
	NGINX_KEY(o, "user");
	o = nginx_put_str(o, user, (size_t)(time - 2 - user));
	NGINX_KEY(o, "time");
	o = nginx_put_str(o, time, SL_NGINX_TIME_LEN);
	NGINX_KEY(o, "method");
	o = nginx_put_str(o, req, (size_t)(sp1 - req));
	NGINX_KEY(o, "path");
	o = nginx_put_str(o, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	NGINX_KEY(o, "protocol");
	o = nginx_put_str(o, sp2 + 1, (size_t)(req_end - sp2 - 1));
	NGINX_KEY(o, "status");
	o = nginx_put_uint(o, status);
	NGINX_KEY(o, "bytes");
	o = nginx_put_uint(o, bytes);
	NGINX_KEY(o, "referer");
	o = nginx_put_str(o, ref, (size_t)(ref_end - ref));
	NGINX_KEY(o, "user_agent");
	o = nginx_put_str(o, ua, (size_t)(ua_end - ua));
	w->len = (uint32_t)(o - w->p);
	w->n_fields += 10;
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

#endif
