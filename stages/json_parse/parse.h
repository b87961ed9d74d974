/*
 * The JSON-lines parser behind the json_parse stage: one line holding one JSON object
 * (RFC 8259, strict: no comments, NaN, trailing commas or single quotes) becomes one
 * record. A pure function over a byte range (json_parse_line), header-only so the stage's
 * burst loop and the fuzz target (json_parse_fuzz.c) compile the same code; no allocation.
 *
 * Values keep their JSON types: integers become msgpack integers (int64, or uint64 above
 * INT64_MAX; beyond that a float), numbers with a fraction or exponent become float64
 * (correctly rounded), strings are unescaped (\uXXXX and surrogate pairs to UTF-8; raw
 * bytes must be valid UTF-8), true/false/null become bool/nil. With flatten (the default)
 * nested objects become top-level fields named by their path, "a": {"b": {"c": 1}} giving
 * "a.b.c": 1 (an empty object stays as an empty map under its path; objects inside arrays
 * stay maps); without it they stay maps. Error offsets follow Python's json module where
 * it has one: an unterminated string names its opening quote, a bad escape its backslash.
 */
#ifndef SL_STAGES_JSON_PARSE_H
#define SL_STAGES_JSON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sluice/record.h>

#include "parse_common.h"

/* Return codes of json_parse_line; also the stage's counter indexes (0 = "parsed"). */
enum sl_json_err {
	SL_JSON_OK = 0,
	SL_JSON_NOT_OBJECT,   /* the first non-blank byte is not '{' (or the line is blank) */
	SL_JSON_BAD_SYNTAX,   /* a byte where a value, a key, ':', ',' or a bracket must be */
	SL_JSON_BAD_STRING,   /* an unterminated string, or a raw control byte in one */
	SL_JSON_BAD_ESCAPE,   /* an unknown escape, a bad \uXXXX, a lone surrogate */
	SL_JSON_BAD_UTF8,     /* a string holds bytes that are not UTF-8 */
	SL_JSON_BAD_NUMBER,   /* a number out of the float range, or over 127 bytes long */
	SL_JSON_TOO_DEEP,     /* more than SL_JSON_MAX_DEPTH nested objects and arrays */
	SL_JSON_KEY_TOO_LONG, /* a flattened key over SL_JSON_KEY_MAX bytes */
	SL_JSON_TRAILING,     /* anything but blanks after the object */
	SL_JSON_TOO_LARGE,    /* the record does not fit the event */
	SL_JSON_N_CODES,
};

/* Reason names by code, then the stage's two other counters: also its counter table. */
static const char *const sl_json_err_names[SL_JSON_N_CODES + 3] = {
	"parsed",    "not_object", "bad_syntax", "bad_string",	 "bad_escape",
	"bad_utf8",  "bad_number", "too_deep",	 "key_too_long", "trailing",
	"too_large", "not_line",   "nombuf",	 NULL,
};

/* Nesting limit, the top-level object included: what a record may hold (record.h). */
#define SL_JSON_MAX_DEPTH SL_REC_MAX_DEPTH
/* Longest flattened key, in bytes. */
#define SL_JSON_KEY_MAX 1024
/* Longest flatten separator. */
#define SL_JSON_SEP_MAX 8

struct sl_json_conf {
	bool flatten;
	uint8_t sep_len;
	char sep[SL_JSON_SEP_MAX];
};

struct json_p {
	const struct sl_json_conf *c;
	const char *line, *end;
	struct sl_rec_writer *w;
	const char *at; /* where the error is */
	int code;
	char key[SL_JSON_KEY_MAX];
};

static inline const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static inline const char *json_fail(struct json_p *j, int code, const char *at)
{
	j->code = code;
	j->at = at;
	return NULL;
}

static inline const char *json_str_fail(struct json_p *j, int rc, const char *at)
{
	static const int map[] = {
		[PARSE_STR_UNTERMINATED] = SL_JSON_BAD_STRING,
		[PARSE_STR_CONTROL] = SL_JSON_BAD_STRING,
		[PARSE_STR_ESCAPE] = SL_JSON_BAD_ESCAPE,
		[PARSE_STR_UTF8] = SL_JSON_BAD_UTF8,
		[PARSE_STR_ROOM] = SL_JSON_KEY_TOO_LONG,
	};
	return json_fail(j, map[rc], at);
}

/* A string value at p (its opening quote). */
static inline const char *json_string(struct json_p *j, const char *p)
{
	const char *next;
	int rc = parse_json_str(j->w, p, j->end, true, &next);

	return rc == PARSE_STR_OK ? next : json_str_fail(j, rc, next);
}

static const char *json_value(struct json_p *j, const char *p, int depth);

/* An object ('{', written as a map) or an array ('[') at p, its count patched at the end. */
static const char *json_container(struct json_p *j, const char *p, int depth, bool map)
{
	const char close = map ? '}' : ']';
	uint32_t at, n = 0;

	if (depth > SL_JSON_MAX_DEPTH)
		return json_fail(j, SL_JSON_TOO_DEEP, p);
	at = parse_open(j->w, map);
	p = json_ws(p + 1, j->end);
	if (p < j->end && *p == close) {
		parse_close(j->w, at, 0);
		return p + 1;
	}
	for (;;) {
		if (map) {
			if (p == j->end || *p != '"')
				return json_fail(j, SL_JSON_BAD_SYNTAX, p);
			p = json_string(j, p);
			if (!p)
				return NULL;
			p = json_ws(p, j->end);
			if (p == j->end || *p != ':')
				return json_fail(j, SL_JSON_BAD_SYNTAX, p);
			p = json_ws(p + 1, j->end);
		}
		p = json_value(j, p, depth);
		if (!p)
			return NULL;
		n++;
		p = json_ws(p, j->end);
		if (p < j->end && *p == ',') {
			p = json_ws(p + 1, j->end);
			continue;
		}
		if (p < j->end && *p == close) {
			parse_close(j->w, at, n);
			return p + 1;
		}
		return json_fail(j, SL_JSON_BAD_SYNTAX, p);
	}
}

static inline bool json_lit(const char *p, const char *end, const char *lit, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* One value at p (blanks already skipped), inside depth levels of nesting. */
static const char *json_value(struct json_p *j, const char *p, int depth)
{
	struct parse_num v;
	bool is_float;
	size_t n;

	if (p == j->end)
		return json_fail(j, SL_JSON_BAD_SYNTAX, p);
	switch (*p) {
	case '"':
		return json_string(j, p);
	case '{':
	case '[':
		return json_container(j, p, depth + 1, *p == '{');
	case 't':
		if (!json_lit(p, j->end, "true", 4))
			break;
		parse_put_bool(j->w, true);
		return p + 4;
	case 'f':
		if (!json_lit(p, j->end, "false", 5))
			break;
		parse_put_bool(j->w, false);
		return p + 5;
	case 'n':
		if (!json_lit(p, j->end, "null", 4))
			break;
		parse_put_nil(j->w);
		return p + 4;
	default:
		n = parse_num_scan(p, j->end, &is_float);
		if (!n)
			break;
		v = parse_num_value(p, n, is_float);
		if (v.kind == PARSE_NUM_BAD)
			return json_fail(j, SL_JSON_BAD_NUMBER, p);
		parse_put_num(j->w, v);
		return p + n;
	}
	return json_fail(j, SL_JSON_BAD_SYNTAX, p);
}

/*
 * The members of the object at p ('{') as top-level fields, each key prefixed with the
 * klen bytes already in j->key and the separator (flatten mode, below the top: depth > 1;
 * the prefix may be empty, for a key ""). Nested objects recurse with their path as the
 * prefix; without flatten only the top level comes here.
 */
static const char *json_fields(struct json_p *j, const char *p, size_t klen, int depth)
{
	const struct sl_json_conf *c = j->c;
	const char *q, *next;
	size_t base, n;
	int rc;

	if (depth > SL_JSON_MAX_DEPTH)
		return json_fail(j, SL_JSON_TOO_DEEP, p);
	p = json_ws(p + 1, j->end);
	if (p < j->end && *p == '}') {
		if (depth > 1) {
			/* an empty nested object stays, as an empty map under its path */
			uint8_t *o;

			parse_put_key(j->w, j->key, klen);
			o = parse_room(j->w, 1);
			if (o) {
				*o = 0x80;
				j->w->len++;
			}
		}
		return p + 1;
	}
	for (;;) {
		if (p == j->end || *p != '"')
			return json_fail(j, SL_JSON_BAD_SYNTAX, p);
		q = p;
		if (!c->flatten) {
			p = json_string(j, q);
			if (!p)
				return NULL;
			j->w->n_fields++;
			n = 0;
		} else {
			base = klen;
			if (depth > 1) {
				if (SL_JSON_KEY_MAX - klen < c->sep_len)
					return json_fail(j, SL_JSON_KEY_TOO_LONG, q);
				memcpy(j->key + klen, c->sep, c->sep_len);
				base += c->sep_len;
			}
			rc = parse_json_unescape(q, j->end, (uint8_t *)j->key + base,
						 SL_JSON_KEY_MAX - base, true, &n, &next);
			if (rc != PARSE_STR_OK)
				return json_str_fail(j, rc, rc == PARSE_STR_ROOM ? q : next);
			n += base;
			p = next;
		}
		p = json_ws(p, j->end);
		if (p == j->end || *p != ':')
			return json_fail(j, SL_JSON_BAD_SYNTAX, p);
		p = json_ws(p + 1, j->end);
		if (c->flatten && p < j->end && *p == '{') {
			p = json_fields(j, p, n, depth + 1);
		} else {
			if (c->flatten)
				parse_put_key(j->w, j->key, n);
			p = json_value(j, p, depth);
		}
		if (!p)
			return NULL;
		p = json_ws(p, j->end);
		if (p < j->end && *p == ',') {
			p = json_ws(p + 1, j->end);
			continue;
		}
		if (p < j->end && *p == '}')
			return p + 1;
		return json_fail(j, SL_JSON_BAD_SYNTAX, p);
	}
}

/*
 * Parse one line (no newline) and append its fields to w. Returns SL_JSON_OK (w may have
 * overflowed: the caller's sl_rec_end says), or an error code with *err_offset the byte
 * offset in line the error names. On error w holds garbage the caller discards.
 */
static inline int json_parse_line(const struct sl_json_conf *c, const char *line, size_t len,
				  struct sl_rec_writer *w, uint32_t *err_offset)
{
	struct json_p j;
	const char *end = line + len, *p;

	j.c = c;
	j.line = line;
	j.end = end;
	j.w = w;
	p = json_ws(line, end);
	if (p == end || *p != '{') {
		*err_offset = (uint32_t)(p - line);
		return SL_JSON_NOT_OBJECT;
	}
	p = json_fields(&j, p, 0, 1);
	if (!p) {
		*err_offset = (uint32_t)(j.at - line);
		return j.code;
	}
	p = json_ws(p, end);
	if (p != end) {
		*err_offset = (uint32_t)(p - line);
		return SL_JSON_TRAILING;
	}
	return SL_JSON_OK;
}

#endif
