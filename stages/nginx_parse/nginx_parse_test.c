/*
 * Unit test of nginx_parse: the pure parser (parse.h) on hand-written valid lines, with
 * every field checked against the pieces the line was built from, and on one line per
 * malformation, where a '|' in the case text marks the byte the error offset must name
 * (the marker is removed before parsing); then the stage's process() on real mbufs from a
 * test pool: records appended after the line, errors routed to port 1 with their record,
 * non-line events dropped, shared events copied, events too small for the record, and the
 * counters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "eal.h"
#include "event/event.h"
#include "fast_check.h"
#include "log_format.h"
#include "parse.h"
#include "plugin/registry.h"
#include "source/gen_nginx.h"

#define TIME "10/Oct/2023:13:55:36 +0200"

struct fields {
	const char *ip, *user, *time, *method, *path, *protocol;
	int64_t status, bytes;
	const char *referer, *user_agent;
};

static void expect_str(struct sl_rec r, const char *key, const char *want)
{
	struct sl_val v = { 0 };

	if (!sl_rec_find(r, key, strlen(key), &v))
		fail_msg("field %s missing", key);
	if (v.type != SL_VAL_STR)
		fail_msg("field %s: type %d, expected a string", key, v.type);
	if (v.s.len != strlen(want) || memcmp(v.s.p, want, v.s.len) != 0)
		fail_msg("field %s: '%.*s', expected '%s'", key, (int)v.s.len, v.s.p, want);
}

static void expect_int(struct sl_rec r, const char *key, int64_t want)
{
	struct sl_val v = { 0 };

	if (!sl_rec_find(r, key, strlen(key), &v))
		fail_msg("field %s missing", key);
	if (v.type != SL_VAL_INT || v.i != want)
		fail_msg("field %s: type %d value %lld, expected %lld", key, v.type, (long long)v.i,
			 (long long)want);
}

/* The record holds exactly the ten fields, in order, with the expected values. */
static void expect_fields(struct sl_rec r, const struct fields *f)
{
	static const char *const keys[] = {
		"status", "bytes", "method",   "path",	  "ip",
		"user",	  "time",  "protocol", "referer", "user_agent"
	};
	struct sl_val k, v, whole = { 0 };
	uint32_t pos = 0, n = 0;

	while (sl_rec_next(r, &pos, &k, &v)) {
		assert_true(n < 10);
		assert_int_equal(k.type, SL_VAL_STR);
		if (k.s.len != strlen(keys[n]) || memcmp(k.s.p, keys[n], k.s.len) != 0)
			fail_msg("key %u is '%.*s', expected '%s'", n, (int)k.s.len, k.s.p,
				 keys[n]);
		n++;
	}
	assert_int_equal(n, 10);
	/* The map spans the whole record, nothing after it. */
	assert_non_null(sl_mp_read(r.p, r.p + r.len, &whole));
	assert_int_equal(whole.raw_len, r.len);
	expect_str(r, "ip", f->ip);
	expect_str(r, "user", f->user);
	expect_str(r, "time", f->time);
	expect_str(r, "method", f->method);
	expect_str(r, "path", f->path);
	expect_str(r, "protocol", f->protocol);
	expect_int(r, "status", f->status);
	expect_int(r, "bytes", f->bytes);
	expect_str(r, "referer", f->referer);
	expect_str(r, "user_agent", f->user_agent);
}

static void parse_ok(const char *line, const struct fields *f)
{
	static uint8_t buf[8192];
	struct sl_rec_writer w;
	uint32_t off = 99999, len;
	int rc;

	sl_rec_begin(&w, buf, sizeof(buf));
	rc = nginx_parse_line(line, strlen(line), &w, &off, SL_NGINX_ALL_FIELDS);
	if (rc != SL_NGINX_OK)
		fail_msg("line '%s': %s at %u, expected success", line, sl_nginx_err_names[rc],
			 off);
	len = sl_rec_end(&w);
	assert_true(len > 3);
	expect_fields((struct sl_rec){ buf, len }, f);
}

static void test_valid_lines(void **unused)
{
	char ua300[301], line[1024];
	struct fields f;

	parse_ok("203.0.113.9 - alice [" TIME "] \"GET /index.html?q=1 HTTP/1.1\" 200 5120 "
		 "\"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
		 &(struct fields){ "203.0.113.9", "alice", TIME, "GET", "/index.html?q=1",
				   "HTTP/1.1", 200, 5120, "https://example.com/",
				   "Mozilla/5.0 (X11; Linux x86_64)" });
	/* "-" user, "-" bytes (0), "-" referer, empty user agent */
	parse_ok(
		"10.0.0.1 - - [01/Jan/1970:00:00:00 -0000] \"POST /api HTTP/2.0\" 404 - \"-\" \"\"",
		&(struct fields){ "10.0.0.1", "-", "01/Jan/1970:00:00:00 -0000", "POST", "/api",
				  "HTTP/2.0", 404, 0, "-", "" });
	/* IPv6, status bounds, largest byte count */
	parse_ok("2001:db8::1 - - [" TIME
		 "] \"HEAD / HTTP/1.0\" 100 9223372036854775807 \"-\" \"x\"",
		 &(struct fields){ "2001:db8::1", "-", TIME, "HEAD", "/", "HTTP/1.0", 100,
				   INT64_MAX, "-", "x" });
	parse_ok("::1 - - [" TIME "] \"GET / HTTP/1.1\" 599 0 \"-\" \"x\"",
		 &(struct fields){ "::1", "-", TIME, "GET", "/", "HTTP/1.1", 599, 0, "-", "x" });
	/* upper-case hex; the longest address (45 bytes) */
	parse_ok("2001:DB8:aF::1 - - [" TIME "] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"",
		 &(struct fields){ "2001:DB8:aF::1", "-", TIME, "GET", "/", "HTTP/1.1", 200, 1, "-",
				   "x" });
	parse_ok("0000:0000:0000:0000:0000:ffff:192.168.100.228 - - [" TIME "] \"GET / HTTP/1.1\" "
		 "200 1 \"-\" \"x\"",
		 &(struct fields){ "0000:0000:0000:0000:0000:ffff:192.168.100.228", "-", TIME,
				   "GET", "/", "HTTP/1.1", 200, 1, "-", "x" });
	/* byte counts around the 8-digit block the parser reads at once */
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 1234567 \"-\" \"x\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 200, 1234567, "-",
				   "x" });
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 12345678 \"-\" \"x\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 200, 12345678,
				   "-", "x" });
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 99999999 \"-\" \"x\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 200, 99999999,
				   "-", "x" });
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 100000000 \"-\" \"x\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 200, 100000000,
				   "-", "x" });
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 0000000042 \"-\" \"x\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 200, 42, "-",
				   "x" });
	/* escaped quotes stay as written; an escaped backslash before the quote ends it */
	parse_ok("10.0.0.1 - - [" TIME "] \"GET /a\\\"b HTTP/1.1\" 200 1 \"r\\\"\" "
		 "\"say \\\"hi\\\" \\\\\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/a\\\"b", "HTTP/1.1", 200, 1,
				   "r\\\"", "say \\\"hi\\\" \\\\" });
	/* nginx's own \x22 escape needs nothing special */
	parse_ok("10.0.0.1 - - [" TIME "] \"GET /\\x22 HTTP/1.1\" 200 1 \"-\" \"a\\x22b\"",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/\\x22", "HTTP/1.1", 200, 1, "-",
				   "a\\x22b" });
	/* trailing CR and spaces are allowed */
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 301 12 \"-\" \"ua\"\r",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 301, 12, "-",
				   "ua" });
	parse_ok("10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 301 12 \"-\" \"ua\"  \r ",
		 &(struct fields){ "10.0.0.1", "-", TIME, "GET", "/", "HTTP/1.1", 301, 12, "-",
				   "ua" });
	/* long strings take str8 and str16 headers */
	memset(ua300, 'u', 300);
	ua300[300] = '\0';
	snprintf(line, sizeof(line),
		 "10.0.0.1 - - [" TIME "] \"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
		 "HTTP/1.1\" 200 7 \"-\" \"%s\"",
		 ua300);
	f = (struct fields){
		"10.0.0.1", "-", TIME, "GET", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"HTTP/1.1", 200, 7,    "-",   ua300
	};
	parse_ok(line, &f);
	/* brackets, quotes and spaces inside the referer and user agent */
	parse_ok("10.0.0.1 - bob [" TIME "] \"GET / HTTP/1.1\" 200 1 \"a [b] c\" \"d \\\" e\"",
		 &(struct fields){ "10.0.0.1", "bob", TIME, "GET", "/", "HTTP/1.1", 200, 1,
				   "a [b] c", "d \\\" e" });
}

struct bad_case {
	const char *line; /* '|' marks the byte the offset must name */
	int code;
};

#define GOOD_HEAD "10.0.0.1 - - [" TIME "] "
static const struct bad_case bad_cases[] = {
	{ "|", SL_NGINX_BAD_IP },
	{ "|x - - [" TIME "] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_IP },
	{ "10.0.0.1|", SL_NGINX_BAD_IP },
	{ "10.0.0.1|x - - [" TIME "] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_IP },
	{ "1111111111222222222233333333334444444444555555| - - [" TIME "] \"GET / HTTP/1.1\" 200 1 "
	  "\"-\" \"-\"",
	  SL_NGINX_BAD_IP },
	{ "2001:0db8:85a3:0000:0000:8a2e:0370:733|g - - [" TIME "] \"GET / HTTP/1.1\" 200 1 "
	  "\"-\" \"-\"",
	  SL_NGINX_BAD_IP },
	{ "0000:0000:0000:0000:0000:ffff:192.168.100.2281| - - [" TIME "] \"GET / HTTP/1.1\" "
	  "200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_IP },
	{ "10.0.0.1 |alice [" TIME "] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_USER },
	{ "10.0.0.1 |-", SL_NGINX_BAD_USER },
	{ "10.0.0.1 - | [" TIME "] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_USER },
	{ "10.0.0.1 - alice|", SL_NGINX_BAD_USER },
	{ "10.0.0.1 - alice |" TIME "] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - alice |", SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10-Oct-2023:13:55:36 +0200] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10/Oct/2023:13:55:36 0200] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|1x/Oct/2023:13:55:36 +0200] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10/O1t/2023:13:55:36 +0200] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10/Oct/2023:13:55:3x +0200] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10/Oct/2023:13:55:36 +020x] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10/Oct/2023] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [|10/Oct/2023:13:55:36 +0200]", SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [" TIME "|\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_TIME },
	{ "10.0.0.1 - - [" TIME "]|\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_TIME },
	{ GOOD_HEAD "|GET / HTTP/1.1\" 200 1 \"-\" \"-\"", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1 200 1 -|", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"-|\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"|\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"GET /|\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"GET / | HTTP/1.1\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"GET / |\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"GET | / HTTP/1.1\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"| GET / HTTP/1.1\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"GET / HTTP/1.1| extra\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"\\x16\\x03\\x01\\x00|\" 400 0 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	/* an unclosed request swallows the rest of the line up to the referer's quote */
	{ GOOD_HEAD "\"GET / HTTP/1.1| 200 1 \"-\" \"-\"", SL_NGINX_BAD_REQUEST },
	{ GOOD_HEAD "\"GET / HTTP/1.1\"|200 1 \"-\" \"-\"", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\"|", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" |2000 1 \"-\" \"-\"", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" |20 1 \"-\" \"-\"", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" |099 1 \"-\" \"-\"", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" |600 1 \"-\" \"-\"", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" |2x0 1 \"-\" \"-\"", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" |200", SL_NGINX_BAD_STATUS },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 12|a \"-\" \"-\"", SL_NGINX_BAD_BYTES },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 | \"-\" \"-\"", SL_NGINX_BAD_BYTES },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 -|5 \"-\" \"-\"", SL_NGINX_BAD_BYTES },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 |9223372036854775808 \"-\" \"-\"", SL_NGINX_BAD_BYTES },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1234567890123456789|0 \"-\" \"-\"",
	  SL_NGINX_BAD_BYTES },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1|", SL_NGINX_BAD_BYTES },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 |-\" \"-\"", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 |", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"https://x|", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\"|\"ua\"", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" |ua\"", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" |", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla|", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"ua\\\"|", SL_NGINX_BAD_QUOTE },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" |\"extra\"", SL_NGINX_TRAILING },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\r|\n", SL_NGINX_TRAILING },
	{ GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"|x", SL_NGINX_TRAILING },
};

static void test_malformed_lines(void **unused)
{
	static uint8_t buf[4096];

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		const char *mark = strchr(t->line, '|');
		char line[1024];
		size_t at = (size_t)(mark - t->line), n = strlen(t->line) - 1;
		struct sl_rec_writer w;
		uint32_t off = 99999;
		int rc;

		assert_non_null(mark);
		memcpy(line, t->line, at);
		memcpy(line + at, mark + 1, n - at);
		line[n] = 'Z'; /* a byte past the end the parser must not read as part of it */
		sl_rec_begin(&w, buf, sizeof(buf));
		rc = nginx_parse_line(line, n, &w, &off, SL_NGINX_ALL_FIELDS);
		if (rc != t->code || off != at)
			fail_msg("case %zu '%s': got %s at %u, expected %s at %zu", i, t->line,
				 sl_nginx_err_names[rc], off, sl_nginx_err_names[t->code], at);
		/* the writer is untouched on error */
		assert_int_equal(w.len, 3);
		assert_int_equal(w.n_fields, 0);
		assert_false(w.overflow);
	}
}

/* Fill n bytes of o with printable filler that is neither ' ' nor '"' nor '\\'. */
static size_t fast_fill(char *o, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		o[i] = (char)('a' + (seed + i * 7) % 26);
	return n;
}

/* The fast path against the checked parser on lines whose fields end on every side of the
 * 64-byte words it scans (ip, user, path, referer and agent lengths swept), with and
 * without a " $request_time" tail, then the same lines broken: one byte replaced by '"',
 * '\\', ' ' or '-', or the line cut short. Every line also goes through nginx_parse_line,
 * which must give the checked parser's code, offset and record. */
static void test_fast_path_agrees(void **unused)
{
	static const char *const ips[] = { "10.0.0.1", "2001:db8:85a3:0:0:8a2e:370:7334" };
	static const char *const users[] = { "-", "frank" };
	static const char subst[] = { '"', '\\', ' ', '-' };
	static uint8_t b1[16384], b2[16384];
	size_t n_lines = 0, n_fast = 0;
	unsigned seed = 0;

	for (int ip = 0; ip < 2; ip++)
		for (int us = 0; us < 2; us++)
			for (size_t pl = 1; pl < 80; pl += 6)
				for (size_t rl = 0; rl < 70; rl += 9)
					for (size_t al = 0; al < 300; al += 13 + pl % 5) {
						char line[1024];
						size_t n = 0, base;
						bool fast;
						const char *why;

						n += (size_t)sprintf(line,
								     "%s - %s [" TIME "] \"GET /",
								     ips[ip], users[us]);
						n += fast_fill(line + n, pl - 1, seed++);
						n += (size_t)sprintf(line + n,
								     " HTTP/1.1\" %d %zu \"",
								     200 + (int)(al % 4) * 100,
								     al * 37 % 100000);
						n += fast_fill(line + n, rl, seed++);
						memcpy(line + n, "\" \"", 3);
						n += 3;
						n += fast_fill(line + n, al, seed++);
						line[n++] = '"';
						base = n;
						for (int tail = 0; tail < 3; tail++) {
							n = base;
							if (tail == 1)
								n += (size_t)sprintf(line + n,
										     " 0.%03zu",
										     al % 1000);
							if (tail == 2)
								n += (size_t)sprintf(line + n,
										     " \r");
							for (int m = -1; m < (int)(n * 5); m++) {
								char x[1024];
								size_t xn = n;
								uint64_t fields =
									m & 1 ? 0x9
									      : SL_NGINX_ALL_FIELDS;
								struct sl_rec_writer w1, w2;
								uint32_t o1 = 1, o2 = 2;
								int r1, r2;

								/* unbroken, then 1 in 23 mutations */
								if (m >= 0 &&
								    (m % 23 != (int)(seed % 23)))
									continue;
								memcpy(x, line, n);
								if (m >= 0 && m % 5 == 4)
									xn = (size_t)m / 5;
								else if (m >= 0)
									x[m / 5] = subst[m % 5];
								why = nginx_fast_check(
									x, xn, fields, tail == 1,
									16384, &fast);
								if (why)
									fail_msg("%s: '%.*s'", why,
										 (int)xn, x);
								n_lines++;
								n_fast += fast;
								if (m < 0 && tail != 1)
									assert_true(
										fast ||
										n < NGINX_FAST_MIN ||
										n > NGINX_FAST_MAX);
								sl_rec_begin(&w1, b1, sizeof(b1));
								sl_rec_begin(&w2, b2, sizeof(b2));
								r1 = nginx_parse_line(x, xn, &w1,
										      &o1, fields);
								r2 = nginx_parse_line_slow(
									x, xn, &w2, &o2, fields,
									NULL);
								assert_int_equal(r1, r2);
								if (r1 != SL_NGINX_OK)
									assert_int_equal(o1, o2);
								assert_int_equal(w1.len, w2.len);
								assert_memory_equal(b1, b2, w1.len);
							}
						}
					}
	/* the sweep reached the fast path (and its fallbacks) often */
	assert_true(n_fast > n_lines / 4);
	assert_true(n_fast < n_lines);
}

static void test_too_large(void **unused)
{
	const char *line = GOOD_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"";
	uint8_t buf[256];
	struct sl_rec_writer w;
	uint32_t off = 0, cap;
	/* map16 header 3; keys (1 + name) 3+5+5+7+5+9+7+6+8+11 = 66; values: ip 9, user 2,
	 * time 27, GET 4, / 2, HTTP/1.1 9, status 200 as uint8 2, bytes 1 as fixint 1,
	 * referer 2, user agent 2 = 60 */
	const uint32_t need = 3 + 66 + 60;

	for (cap = need - 3; cap <= need + 1; cap++) {
		sl_rec_begin(&w, buf, cap);
		int rc = nginx_parse_line(line, strlen(line), &w, &off, SL_NGINX_ALL_FIELDS);
		if (cap < need) {
			assert_int_equal(rc, SL_NGINX_TOO_LARGE);
			assert_int_equal(off, strlen(line));
			assert_true(w.overflow);
			assert_int_equal(sl_rec_end(&w), 0);
		} else {
			assert_int_equal(rc, SL_NGINX_OK);
			assert_int_equal(sl_rec_end(&w), need);
		}
	}
}

/* ---- process() on mbufs ---- */

static struct rte_mempool *pool, *small_pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static void *conf;
static struct sl_ctx_host host_priv;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx ctx;
static struct sl_emit out;

static int setup(void **unused)
{
	struct sl_args args = { .file = "test.yaml", .name = "parse", .n = 0, .v = NULL };
	struct sl_error err = { 0 };
	int small_off;

	pool = sl_test_pool(512, 2048, &meta_off);
	small_pool = sl_test_pool(128, 256, &small_off);
	assert_int_equal(small_off, meta_off);
	desc = sl_test_builtin("nginx_parse");
	assert_int_equal(desc->init(&sl_host_table, &args, &conf, &err), 0);
	ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "parse");
	return 0;
}

static int teardown(void **unused)
{
	desc->fini(conf);
	return 0;
}

static struct rte_mbuf *make_event(struct rte_mempool *mp, const char *line, uint8_t kind)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	size_t n = strlen(line);
	struct sl_meta *meta;

	assert_non_null(m);
	assert_true(n <= rte_pktmbuf_tailroom(m));
	memcpy(rte_pktmbuf_mtod(m, char *), line, n);
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	meta = sl_event_meta(meta_off, m);
	memset(meta, 0, sizeof(*meta));
	meta->kind = kind;
	meta->raw_len = (uint16_t)n;
	return m;
}

static void run(struct rte_mbuf **evs, uint16_t n)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = 2;
	memset(counters, 0, sizeof(counters));
	desc->process(conf, &ctx, &in, &out);
}

static uint64_t counter(const char *name)
{
	for (int i = 0; desc->counters[i]; i++)
		if (strcmp(desc->counters[i], name) == 0)
			return counters[i];
	fail_msg("no counter %s", name);
	return 0;
}

static void free_out(void)
{
	for (int p = 0; p < out.n_ports; p++)
		for (int i = 0; i < out.n[p]; i++)
			rte_pktmbuf_free(out.port[p][i]);
	for (int i = 0; i < out.n_drop; i++)
		rte_pktmbuf_free(out.drop[i]);
}

static void test_descriptor(void **unused)
{
	assert_int_equal(desc->abi_major, SL_ABI_MAJOR);
	assert_int_equal(desc->size, sizeof(struct sl_stage_desc));
	assert_string_equal(desc->outputs[0], "default");
	assert_string_equal(desc->outputs[1], "errors");
	assert_null(desc->outputs[2]);
	/* counters 0..N-1 are the parser's codes, by the same names */
	for (int i = 0; i < SL_NGINX_N_CODES; i++)
		assert_string_equal(desc->counters[i], sl_nginx_err_names[i]);
}

static void test_process_line(void **unused)
{
	const char *line = "192.168.1.20 - - [" TIME "] \"GET /x HTTP/1.1\" 302 77 \"-\" \"ua\"";
	struct rte_mbuf *ev = make_event(pool, line, SL_EVENT_LINE);
	struct sl_meta *meta = sl_event_meta(meta_off, ev);
	struct sl_rec r;

	run(&ev, 1);
	assert_int_equal(out.n[0], 1);
	assert_int_equal(out.n[1], 0);
	assert_int_equal(out.n_drop, 0);
	assert_ptr_equal(out.port[0][0], ev);
	assert_int_equal(meta->kind, SL_EVENT_RECORD);
	assert_int_equal(meta->raw_len, strlen(line));
	assert_int_equal(meta->rec_off, strlen(line));
	assert_memory_equal(rte_pktmbuf_mtod(ev, char *), line, strlen(line));
	assert_int_equal(ev->pkt_len, ev->data_len);
	r = sl_event_record(&ctx, ev);
	assert_int_equal(r.len, ev->data_len - strlen(line));
	expect_fields(r, &(struct fields){ "192.168.1.20", "-", TIME, "GET", "/x", "HTTP/1.1", 302,
					   77, "-", "ua" });
	assert_int_equal(counter("parsed"), 1);
	free_out();
}

static void test_process_burst(void **unused)
{
	/* 48 events: every 4th has a bad status, every 6th a bad ip (both when i % 12 == 0:
	 * the ip fails first), the rest parse. */
	struct rte_mbuf *evs[48];
	char line[256];
	unsigned want_ok = 0, want_ip = 0, want_status = 0, k0 = 0, k1 = 0;

	for (int i = 0; i < 48; i++) {
		snprintf(line, sizeof(line),
			 "%s - - [" TIME "] \"GET /%d HTTP/1.1\" %s %d \"-\" \"-\"",
			 i % 6 == 0 ? "10.0.0.x" : "10.0.0.1", i, i % 4 == 0 ? "700" : "200", i);
		evs[i] = make_event(pool, line, SL_EVENT_LINE);
		if (i % 6 == 0)
			want_ip++;
		else if (i % 4 == 0)
			want_status++;
		else
			want_ok++;
	}
	run(evs, 48);
	assert_int_equal(out.n[0], want_ok);
	assert_int_equal(out.n[1], want_ip + want_status);
	assert_int_equal(out.n_drop, 0);
	assert_int_equal(counter("parsed"), want_ok);
	assert_int_equal(counter("bad_ip"), want_ip);
	assert_int_equal(counter("bad_status"), want_status);
	/* order kept within each port; each error carries its reason and offset */
	for (int i = 0; i < 48; i++) {
		struct sl_rec r = sl_event_record(&ctx, evs[i]);
		struct sl_val v = { 0 };
		if (i % 6 != 0 && i % 4 != 0) {
			assert_ptr_equal(out.port[0][k0++], evs[i]);
			assert_true(sl_rec_find(r, "path", 4, &v));
			snprintf(line, sizeof(line), "/%d", i);
			assert_int_equal(v.s.len, strlen(line));
			assert_memory_equal(v.s.p, line, v.s.len);
			continue;
		}
		assert_ptr_equal(out.port[1][k1++], evs[i]);
		expect_str(r, "error", i % 6 == 0 ? "bad_ip" : "bad_status");
		/* "10.0.0.x": 'x' at 7; status after the 42-byte head, the quote, "GET /N
		 * HTTP/1.1" (14 + digits of N), the quote and a space */
		expect_int(r, "offset", i % 6 == 0 ? 7 : 42 + 1 + 14 + (i < 10 ? 1 : 2) + 2);
		/* the raw line is still in front of the error record */
		assert_int_equal(sl_event_meta(meta_off, evs[i])->rec_off,
				 sl_event_meta(meta_off, evs[i])->raw_len);
	}
	free_out();
}

static void test_process_kinds(void **unused)
{
	const char *line = "10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 3 \"-\" \"-\"";
	struct rte_mbuf *evs[4];
	struct sl_rec_writer w;
	struct sl_meta *meta;
	struct sl_val v = { 0 };
	uint32_t len;

	/* a packet, a record without raw bytes, a line whose raw_len exceeds its data */
	evs[0] = make_event(pool, line, SL_EVENT_PACKET);
	evs[1] = make_event(pool, line, SL_EVENT_RECORD);
	sl_event_meta(meta_off, evs[1])->raw_len = 0;
	evs[2] = make_event(pool, line, SL_EVENT_LINE);
	evs[2]->data_len = 10;
	/* a record event that kept its line: the old record is replaced */
	evs[3] = make_event(pool, line, SL_EVENT_RECORD);
	meta = sl_event_meta(meta_off, evs[3]);
	sl_rec_begin(&w, rte_pktmbuf_mtod_offset(evs[3], uint8_t *, meta->raw_len),
		     rte_pktmbuf_tailroom(evs[3]));
	sl_rec_put_str(&w, "old", "yes", 3);
	len = sl_rec_end(&w);
	meta->rec_off = meta->raw_len;
	evs[3]->data_len += (uint16_t)len;
	evs[3]->pkt_len += len;

	run(evs, 4);
	assert_int_equal(out.n_drop, 3);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(out.drop[i], evs[i]);
		assert_int_equal(out.drop_reason[i], SL_DROP_INVALID);
	}
	assert_int_equal(counter("not_line"), 3);
	assert_int_equal(out.n[0], 1);
	assert_ptr_equal(out.port[0][0], evs[3]);
	assert_false(sl_rec_find(sl_event_record(&ctx, evs[3]), "old", 3, &v));
	expect_int(sl_event_record(&ctx, evs[3]), "bytes", 3);
	assert_int_equal(meta->rec_off, strlen(line));
	free_out();
}

static void test_process_shared(void **unused)
{
	const char *line = "10.0.0.1 - - [" TIME "] \"GET / HTTP/1.1\" 200 3 \"-\" \"-\"";
	struct rte_mbuf *ev = make_event(pool, line, SL_EVENT_LINE);
	unsigned avail;

	/* another consumer holds the event: the stage must work on a copy */
	rte_mbuf_refcnt_update(ev, 1);
	run(&ev, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_not_equal(out.port[0][0], ev);
	assert_int_equal(rte_mbuf_refcnt_read(ev), 1);
	assert_int_equal(sl_event_meta(meta_off, ev)->kind, SL_EVENT_LINE);
	assert_int_equal(ev->data_len, strlen(line));
	expect_int(sl_event_record(&ctx, out.port[0][0]), "status", 200);
	free_out();
	rte_pktmbuf_free(ev);

	/* no mbuf for the copy: counted, and the host has released the event */
	host_priv.pool = small_pool;
	{
		struct rte_mbuf *hold[128];
		unsigned n = 0;
		ev = make_event(pool, line, SL_EVENT_LINE);
		rte_mbuf_refcnt_update(ev, 1);
		while (n < 128 && (hold[n] = rte_pktmbuf_alloc(small_pool)))
			n++;
		run(&ev, 1);
		assert_int_equal(out.n[0] + out.n[1] + out.n_drop, 0);
		assert_int_equal(counter("nombuf"), 1);
		assert_int_equal(rte_mbuf_refcnt_read(ev), 1);
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(hold[i]);
		rte_pktmbuf_free(ev);
	}
	host_priv.pool = pool;
	avail = rte_mempool_avail_count(pool);
	assert_int_equal(avail, 512);
}

static void test_process_small_event(void **unused)
{
	/* 256-byte events: a 200-byte line leaves 56 bytes, enough for the error record
	 * (map 3 + "error" 6 + "too_large" 10 + "offset" 7 + 200 as uint8 2 = 28 bytes) but
	 * not the parsed one; a 250-byte line leaves 6, too few for either. */
	char line[256];
	struct rte_mbuf *evs[2];
	int n;

	n = snprintf(line, sizeof(line), "10.0.0.1 - - [" TIME "] \"GET /");
	memset(line + n, 'p', (size_t)(200 - n - 30));
	n = 200 - 30;
	n += snprintf(line + n, sizeof(line) - (size_t)n, " HTTP/1.1\" 200 3 \"-\" \"-\"");
	line[n] = '\0';
	while (n < 200)
		line[n++] = ' ';
	line[n] = '\0';
	assert_int_equal(strlen(line), 200);
	evs[0] = make_event(small_pool, line, SL_EVENT_LINE);
	while (n < 250)
		line[n++] = ' ';
	line[n] = '\0';
	evs[1] = make_event(small_pool, line, SL_EVENT_LINE);
	run(evs, 2);
	assert_int_equal(out.n[1], 1);
	assert_ptr_equal(out.port[1][0], evs[0]);
	expect_str(sl_event_record(&ctx, evs[0]), "error", "too_large");
	expect_int(sl_event_record(&ctx, evs[0]), "offset", 200);
	assert_int_equal(out.n_drop, 1);
	assert_ptr_equal(out.drop[0], evs[1]);
	assert_int_equal(out.drop_reason[0], SL_DROP_INVALID);
	assert_int_equal(counter("too_large"), 2);
	free_out();
}

/* Projection: with only status and path selected the record holds just those two, in
 * record order; a malformed line still goes to errors with the same reason. */
static void test_process_projection(void **unused)
{
	const char *good = GOOD_HEAD "\"GET /a/b HTTP/1.1\" 503 12 \"-\" \"curl\"";
	struct rte_mbuf *evs[2] = { make_event(pool, good, SL_EVENT_LINE),
				    make_event(pool, "1.2.3.4 x", SL_EVENT_LINE) };
	struct sl_val k, v;
	struct sl_rec r;
	uint32_t pos = 0;

	assert_string_equal(desc->writes[0], "status");
	assert_string_equal(desc->writes[3], "path");
	assert_null(desc->writes[10]);
	ctx.fields_mask = 0x9; /* status, path */
	run(evs, 2);
	ctx.fields_mask = ~0ull;
	assert_int_equal(out.n[0], 1);
	assert_int_equal(out.n[1], 1);
	r = sl_event_record(&ctx, out.port[0][0]);
	assert_true(sl_rec_next(r, &pos, &k, &v));
	assert_true(k.s.len == 6 && memcmp(k.s.p, "status", 6) == 0);
	assert_int_equal(v.i, 503);
	assert_true(sl_rec_next(r, &pos, &k, &v));
	assert_true(k.s.len == 4 && memcmp(k.s.p, "path", 4) == 0);
	assert_true(v.s.len == 4 && memcmp(v.s.p, "/a/b", 4) == 0);
	assert_false(sl_rec_next(r, &pos, &k, &v));
	/* the line stays in front of the record */
	assert_int_equal(sl_event_meta(meta_off, out.port[0][0])->raw_len, strlen(good));
	assert_memory_equal(rte_pktmbuf_mtod(out.port[0][0], char *), good, strlen(good));
	assert_true(sl_rec_find(sl_event_record(&ctx, out.port[1][0]), "error", 5, &v));
	assert_int_equal(counter("bad_user"), 1);
	free_out();
}

static void test_descriptor_checks(void **unused)
{
	char err[256] = "";

	/* the registry's own check accepts the descriptor as shipped */
	if (sl_stage_desc_check(desc, err, sizeof(err)) != 0)
		fail_msg("descriptor rejected: %s", err);
}

/* ---- log_format ---- */

static void test_log_format_compile_errors(void **unused)
{
	static const struct {
		const char *fmt;
		uint32_t off;
	} bad[] = {
		{ "", 0 },
		{ "$", 0 },
		{ "abc $ x", 4 },
		{ "abc ${x", 4 },
		{ "abc ${}", 4 },
		{ "$a$b", 2 },
		{ "x $a${b}", 4 },
		{ "[$a_variable_name_of_sixty_bytes_is_longer_than_what_we_keep_xx]", 1 },
	};
	struct ngx_fmt *f = malloc(sizeof(*f));
	char msg[200];

	assert_non_null(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t off = 999;

		if (ngx_fmt_compile(bad[i].fmt, f, &off, msg, sizeof(msg)) != -EINVAL)
			fail_msg("'%s' compiled", bad[i].fmt);
		if (off != bad[i].off)
			fail_msg("'%s': offset %u, expected %u (%s)", bad[i].fmt, off, bad[i].off,
				 msg);
	}
	assert_int_equal(ngx_fmt_compile("${a}-$b", f, &(uint32_t){ 0 }, msg, sizeof(msg)), 0);
	assert_int_equal(f->n, 3);
	free(f);
}

static int parse_fmt(const struct ngx_fmt *f, const char *line, uint8_t *buf, size_t cap,
		     struct sl_rec *r, uint32_t *off)
{
	struct sl_rec_writer w;
	int rc;

	sl_rec_begin(&w, buf, (uint32_t)cap);
	rc = ngx_fmt_parse_line(f, line, strlen(line), &w, off);
	r->p = buf;
	r->len = rc == SL_NGINX_OK ? sl_rec_end(&w) : 0;
	return rc;
}

static void test_log_format_fields(void **unused)
{
	const char *fmt =
		"$remote_addr - $remote_user [$time_local] \"$request\" $status "
		"$body_bytes_sent \"$http_referer\" \"$http_user_agent\" rt=$request_time "
		"uct=\"$upstream_connect_time\" urt=$upstream_response_time len=$request_length "
		"host=$host";
	const char *line = "10.1.2.3 - bob [" TIME "] \"POST /api/v1 HTTP/2.0\" 201 512 "
			   "\"https://r/\" \"curl/8.0 (x)\" rt=0.125 uct=\"-\" urt=0.010, 0.020 "
			   "len=- host=example.org\r";
	struct ngx_fmt *f = malloc(sizeof(*f));
	uint8_t buf[1024];
	struct sl_rec r;
	struct sl_val v;
	uint32_t off = 0;
	char msg[200];

	assert_non_null(f);
	assert_int_equal(ngx_fmt_compile(fmt, f, &off, msg, sizeof(msg)), 0);
	assert_int_equal(parse_fmt(f, line, buf, sizeof(buf), &r, &off), SL_NGINX_OK);
	expect_str(r, "ip", "10.1.2.3");
	expect_str(r, "user", "bob");
	expect_str(r, "time", TIME);
	expect_str(r, "method", "POST");
	expect_str(r, "path", "/api/v1");
	expect_str(r, "protocol", "HTTP/2.0");
	expect_int(r, "status", 201);
	expect_int(r, "bytes", 512);
	expect_str(r, "referer", "https://r/");
	expect_str(r, "user_agent", "curl/8.0 (x)");
	assert_true(sl_rec_find(r, "request_time", 12, &v));
	assert_int_equal(v.type, SL_VAL_FLOAT);
	assert_true(v.f > 0.1249999 && v.f < 0.1250001);
	/* "-" leaves a number out; a list stays text; the last variable loses the '\r' */
	assert_false(sl_rec_find(r, "upstream_connect_time", 21, &v));
	expect_str(r, "upstream_response_time", "0.010, 0.020");
	assert_false(sl_rec_find(r, "request_length", 14, &v));
	expect_str(r, "host", "example.org");

	/* Reasons and offsets. */
	static const struct {
		const char *line;
		int code;
		uint32_t off;
	} bad[] = {
		/* The combined prefix is read by the combined parser, with its reasons. */
		{ "10.1.2.3 + bob", SL_NGINX_BAD_USER, 9 }, /* no " - " after the address */
		{ "10.1.2.x - bob [", SL_NGINX_BAD_IP, 7 },
		{ "1.2.3.4 - - [10/Oct/2023:13:55:36 +0200] \"GET / HTTP/1.1\" 20x 5 \"-\" \"-\" "
		  "rt=1 uct=\"-\" urt=- len=1 host=h",
		  SL_NGINX_BAD_STATUS, 58 },
		{ "1.2.3.4 - - [10/Oct/2023:13:55:36 +0200] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\" "
		  "rt=1 uct=\"-\" urt=- len=12a host=h",
		  SL_NGINX_BAD_NUMBER, 95 },
		{ "1.2.3.4 - - [10/Oct/2023:13:55:36 +0200] \"GET  HTTP/1.1\" 200 5 \"-\" \"-\"",
		  SL_NGINX_BAD_REQUEST, 46 }, /* the combined parser's offset: the 2nd space */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_fmt(f, bad[i].line, buf, sizeof(buf), &r, &off);

		if (rc != bad[i].code || off != bad[i].off)
			fail_msg("'%s': %s at %u, expected %s at %u", bad[i].line,
				 sl_nginx_err_names[rc], off, sl_nginx_err_names[bad[i].code],
				 bad[i].off);
	}
	/* A format ending in a literal: bytes after it are trailing. */
	assert_int_equal(ngx_fmt_compile("[$status]", f, &off, msg, sizeof(msg)), 0);
	assert_int_equal(parse_fmt(f, "[200]", buf, sizeof(buf), &r, &off), SL_NGINX_OK);
	assert_int_equal(parse_fmt(f, "[200]x", buf, sizeof(buf), &r, &off), SL_NGINX_TRAILING);
	assert_int_equal(off, 5);
	/* A record too big for the writer. */
	assert_int_equal(parse_fmt(f, "[200]", buf, 4, &r, &off), SL_NGINX_TOO_LARGE);
	free(f);
}

/* The combined format, compiled, reads every generated line as the combined parser does. */
static void test_log_format_agrees_with_combined(void **unused)
{
	static const char *const keys[] = {
		"status", "bytes", "method",   "path",	  "ip",
		"user",	  "time",  "protocol", "referer", "user_agent"
	};
	struct ngx_fmt *f = malloc(sizeof(*f));
	uint64_t rng = sl_gen_nginx_seed(11);
	uint8_t a[2048], b[2048];
	char line[SL_GEN_NGINX_LINE_MAX + 1];
	uint32_t off = 0;
	char msg[200];

	assert_non_null(f);
	assert_int_equal(ngx_fmt_compile(NGX_FMT_COMBINED, f, &off, msg, sizeof(msg)), 0);
	for (uint64_t i = 0; i < 3000; i++) {
		size_t n = sl_gen_nginx_line(&rng, i, line, sizeof(line));
		struct sl_rec_writer w;
		struct sl_rec ra, rb;
		int rc;

		line[n] = '\0';
		sl_rec_begin(&w, a, sizeof(a));
		rc = nginx_parse_line(line, n, &w, &off, SL_NGINX_ALL_FIELDS);
		assert_int_equal(rc, SL_NGINX_OK);
		ra = (struct sl_rec){ a, sl_rec_end(&w) };
		if (parse_fmt(f, line, b, sizeof(b), &rb, &off) != SL_NGINX_OK)
			fail_msg("line %llu: '%s' not read by the compiled format",
				 (unsigned long long)i, line);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			struct sl_val va, vb;

			assert_true(sl_rec_find(ra, keys[k], strlen(keys[k]), &va));
			assert_true(sl_rec_find(rb, keys[k], strlen(keys[k]), &vb));
			if (va.raw_len != vb.raw_len || memcmp(va.raw, vb.raw, va.raw_len) != 0)
				fail_msg("line %llu: field %s differs", (unsigned long long)i,
					 keys[k]);
		}
	}
	free(f);
}

/* Combined then one literal and one variable (the issue-5 " $request_time"), read with the
 * tail's shortcuts (the literal as one word, a float key written in one move), with every
 * writer size from too small to enough: the code and offset worked out from the combined
 * parser and the literal; a line read has the fields (encoded bytes) of the same format
 * matched item by item (tail = 0) and a time's value is strtod's; the AVX2 copy (where the
 * CPU has it) gives the same code, offset and record bytes as the SSE2 one. */
static void test_log_format_tail_one_var(void **unused)
{
	static const char *const tails[] = {
		" $request_time", " rt=$request_time",	      " request_time_is=$request_time",
		" $msec",	  " $upstream_response_time", " $host",
	};
	static const char *const values[] = {
		"0.063",	"12.5", "0",	     "-",	    "x",  "1.2.3",
		"0.0000001234", "",	"0.063  \r", "123456789.5", "7.",
	};
	static const char *const seps[] = { " ", " rt=", " request_time_is=", "", "rt=", "  " };
	struct ngx_fmt *f = malloc(sizeof(*f)), *g = malloc(sizeof(*g));
	static uint8_t a[1024], b[1024];
	size_t n_ok = 0, n_float = 0;
	char msg[200], line[1024], fmt[512];
	uint32_t off = 0;

	assert_non_null(f);
	assert_non_null(g);
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		snprintf(fmt, sizeof(fmt), "%s%s", NGX_FMT_COMBINED, tails[t]);
		assert_int_equal(ngx_fmt_compile(fmt, f, &off, msg, sizeof(msg)), 0);
		assert_true(f->tail_one_var);
		assert_true(f->tail_float == (t < 3));
		*g = *f;
		g->tail = 0;
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
			for (size_t sp = 0; sp < sizeof(seps) / sizeof(seps[0]); sp++) {
				size_t n = (size_t)snprintf(
					line, sizeof(line),
					"10.0.0.1 - - [" TIME "] \"GET /a HTTP/1.1\" 200 5 \"-\" "
					"\"Mozilla/5.0 (X11; Linux x86_64)\"%s%s",
					seps[sp], values[v]);

				for (uint32_t cap = 3; cap < 200; cap++) {
					struct sl_rec_writer wa, wb;
					uint32_t oa = 1, ob = 2;
					int ra, rb;

					sl_rec_begin(&wa, a, cap);
					ra = ngx_fmt_parse_line_mask(f, line, n, &wa, &oa,
								     SL_NGINX_ALL_FIELDS);
#if NGINX_HAVE_AVX2
					if (nginx_cpu_avx2()) {
						sl_rec_begin(&wb, b, cap);
						rb = ngx_fmt_parse_line_mask_avx2(
							f, line, n, &wb, &ob, SL_NGINX_ALL_FIELDS);
						assert_int_equal(ra, rb);
						if (ra != SL_NGINX_OK)
							assert_int_equal(oa, ob);
						assert_int_equal(wa.len, wb.len);
						assert_int_equal(wa.n_fields, wb.n_fields);
						assert_int_equal(wa.overflow, wb.overflow);
						assert_memory_equal(a + 3, b + 3, wa.len - 3);
					}
#endif
					/* The code and offset: the combined parser's for
					 * the prefix, then bad_format where the literal is
					 * not next, else the line is read (the tail's values
					 * are floats or text: never an error); too_large,
					 * whatever else, when the writer is too small (the
					 * prefix's size is checked before its text). */
					{
						const struct ngx_fmt_item *lit = &f->it[f->tail];
						const char *rest = NULL, *end = line + n;
						uint32_t eo = 0;
						int er;

						sl_rec_begin(&wb, b, sizeof(b));
						er = nginx_parse_line_rest(line, n, &wb, &eo,
									   SL_NGINX_ALL_FIELDS,
									   &rest);
						if (er == SL_NGINX_OK) {
							while (end[-1] == ' ' || end[-1] == '\r')
								end--;
							if ((size_t)(end - rest) < lit->len ||
							    memcmp(rest, f->text + lit->off,
								   lit->len) != 0) {
								er = SL_NGINX_BAD_FORMAT;
								eo = (uint32_t)(rest - line);
							}
						}
						if (ra != SL_NGINX_TOO_LARGE) {
							assert_int_equal(ra, er);
							if (er != SL_NGINX_OK)
								assert_int_equal(oa, eo);
						}
						if (ra != SL_NGINX_OK)
							continue;
					}
					sl_rec_begin(&wb, b, cap);
					rb = ngx_fmt_parse_line_mask(g, line, n, &wb, &ob,
								     SL_NGINX_ALL_FIELDS);
					assert_int_equal(rb, SL_NGINX_OK);
					/* the same fields (in another order: the tail's
					 * record starts with the combined parser's) */
					assert_int_equal(wa.n_fields, wb.n_fields);
					{
						struct sl_rec rx = { a, sl_rec_end(&wa) };
						struct sl_rec ry = { b, sl_rec_end(&wb) };
						struct sl_val k, x, y;
						uint32_t pos = 0;

						assert_int_equal(rx.len, ry.len);
						while (sl_rec_next(rx, &pos, &k, &x)) {
							assert_true(sl_rec_find(ry, k.s.p, k.s.len,
										&y));
							assert_int_equal(x.raw_len, y.raw_len);
							assert_memory_equal(x.raw, y.raw,
									    x.raw_len);
						}
					}
					if (ra == SL_NGINX_OK && cap == 199) {
						struct sl_rec r = { a, sl_rec_end(&wa) };
						struct sl_val val;
						const struct ngx_fmt_item *it = &f->it[f->tail + 1];
						char *e;
						double d = strtod(values[v], &e);

						n_ok++;
						if (sl_rec_find(r, it->key, it->key_len, &val) &&
						    val.type == SL_VAL_FLOAT) {
							assert_true(d == val.f);
							n_float++;
						}
					}
				}
			}
	}
	/* the sweep read lines and times, not only errors */
	assert_true(n_ok > 20);
	assert_true(n_float > 10);
	free(f);
	free(g);
}

/* The stage with log_format: init errors name the parameter and offset; lines parse. */
static void test_process_log_format(void **unused)
{
	struct sl_arg arg = { .key = "log_format", .type = SL_PARAM_STR, .str = "$status $x$y" };
	struct sl_args args = { .file = "t.yaml", .name = "parse", .n = 1, .v = &arg };
	struct sl_error err = { 0 };
	void *fconf = NULL, *saved = conf;
	struct rte_mbuf *ev[2];
	struct sl_rec r;

	assert_int_equal(desc->init(&sl_host_table, &args, &fconf, &err), -EINVAL);
	assert_string_equal(err.key, "log_format");
	assert_int_equal(err.offset, 10);
	arg.str = "$status $request_time";
	assert_int_equal(desc->init(&sl_host_table, &args, &fconf, &err), 0);
	conf = fconf;
	ev[0] = make_event(pool, "404 0.5", SL_EVENT_LINE);
	ev[1] = make_event(pool, "40x 0.5", SL_EVENT_LINE);
	run(ev, 2);
	assert_int_equal(out.n[0], 1);
	assert_int_equal(out.n[1], 1);
	r = sl_event_record(&ctx, out.port[0][0]);
	expect_int(r, "status", 404);
	r = sl_event_record(&ctx, out.port[1][0]);
	expect_str(r, "error", "bad_status");
	expect_int(r, "offset", 0);
	assert_int_equal(counter("parsed"), 1);
	assert_int_equal(counter("bad_status"), 1);
	free_out();
	desc->fini(fconf);
	conf = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_checks),
		cmocka_unit_test(test_valid_lines),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_process_line),
		cmocka_unit_test(test_process_burst),
		cmocka_unit_test(test_process_kinds),
		cmocka_unit_test(test_process_shared),
		cmocka_unit_test(test_process_small_event),
		cmocka_unit_test(test_process_projection),
		cmocka_unit_test(test_log_format_compile_errors),
		cmocka_unit_test(test_log_format_fields),
		cmocka_unit_test(test_log_format_agrees_with_combined),
		cmocka_unit_test(test_log_format_tail_one_var),
		cmocka_unit_test(test_process_log_format),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
