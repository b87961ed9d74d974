/*
 * A strict JSON validator (RFC 8259) for json_test.c and json_fuzz.c only: says whether a
 * buffer holds exactly one JSON value, with strings of valid UTF-8 and no raw control
 * characters. Written independently of json.c (it decodes code points instead of matching
 * byte ranges) so the two check each other. Recursion is bounded by max_depth.
 */
#ifndef SL_FORMAT_JSON_CHECK_H
#define SL_FORMAT_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct json_check {
	const uint8_t *p, *end;
	int max_depth;
};

static bool json_check_value(struct json_check *c, int depth);

static inline bool json_check_lit(struct json_check *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return false;
	c->p += n;
	return true;
}

static inline bool json_check_utf8(struct json_check *c)
{
	uint32_t cp, min;
	int more;
	uint8_t b = *c->p++;

	if (b < 0x80)
		return true;
	if ((b & 0xe0) == 0xc0) {
		cp = b & 0x1f;
		more = 1;
		min = 0x80;
	} else if ((b & 0xf0) == 0xe0) {
		cp = b & 0x0f;
		more = 2;
		min = 0x800;
	} else if ((b & 0xf8) == 0xf0) {
		cp = b & 0x07;
		more = 3;
		min = 0x10000;
	} else {
		return false;
	}
	while (more--) {
		if (c->p >= c->end || (*c->p & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (*c->p++ & 0x3f);
	}
	return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

static inline bool json_check_string(struct json_check *c)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end) {
		uint8_t b = *c->p;

		if (b == '"') {
			c->p++;
			return true;
		}
		if (b < 0x20)
			return false;
		if (b == '\\') {
			c->p++;
			if (c->p >= c->end)
				return false;
			b = *c->p++;
			if (b == 'u') {
				for (int i = 0; i < 4; i++, c->p++) {
					if (c->p >= c->end)
						return false;
					b = *c->p;
					if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') ||
					      (b >= 'A' && b <= 'F')))
						return false;
				}
			} else if (!strchr("\"\\/bfnrt", b) || b == 0) {
				return false;
			}
			continue;
		}
		if (!json_check_utf8(c))
			return false;
	}
	return false;
}

static inline bool json_check_digits(struct json_check *c)
{
	const uint8_t *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s;
}

static inline bool json_check_number(struct json_check *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (!json_check_digits(c))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!json_check_digits(c))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!json_check_digits(c))
			return false;
	}
	return true;
}

static bool json_check_value(struct json_check *c, int depth)
{
	bool obj;

	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '"':
		return json_check_string(c);
	case 't':
		return json_check_lit(c, "true");
	case 'f':
		return json_check_lit(c, "false");
	case 'n':
		return json_check_lit(c, "null");
	case '{':
	case '[':
		break;
	default:
		return json_check_number(c);
	}
	if (depth >= c->max_depth)
		return false;
	obj = *c->p++ == '{';
	if (c->p < c->end && *c->p == (obj ? '}' : ']')) {
		c->p++;
		return true;
	}
	for (;;) {
		if (obj) {
			if (!json_check_string(c) || c->p >= c->end || *c->p++ != ':')
				return false;
		}
		if (!json_check_value(c, depth + 1) || c->p >= c->end)
			return false;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p++ != (obj ? '}' : ']'))
			return false;
		return true;
	}
}

/** True when s[0..n) is exactly one valid JSON value (no surrounding whitespace). */
static inline bool json_check(const char *s, size_t n, int max_depth)
{
	struct json_check c = { (const uint8_t *)s, (const uint8_t *)s + n, max_depth };

	return json_check_value(&c, 0) && c.p == c.end;
}

#endif
