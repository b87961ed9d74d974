/*
 * Dead-letter lines: the writer used by the `dlq` sink on its worker lcore and the strict
 * reader used by the `dlq` source, `sluice dlq check` and the fuzz target (see
 * dlq_format.h). No allocation, no state; the reader treats its input as hostile: every
 * byte is checked before it is used and nesting is bounded.
 */
#include "dlq_format.h"

#include <stdio.h>
#include <string.h>

#include <sluice/record.h>

#include "format/json.h"

struct dlq_out {
	char *p;
	size_t len, cap;
	bool full;
};

static void out_put(struct dlq_out *o, const char *s, size_t n)
{
	if (o->full || o->cap - o->len < n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_puts(struct dlq_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_u64(struct dlq_out *o, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);

	out_put(o, b, (size_t)n);
}

/* A JSON string of s, or null when absent. */
static void out_str(struct dlq_out *o, struct sl_dlq_str s)
{
	long n;

	if (!s.p) {
		out_put(o, "null", 4);
		return;
	}
	if (o->full)
		return;
	n = sl_json_string(s.p, s.len, o->p + o->len, o->cap - o->len);
	if (n < 0)
		o->full = true;
	else
		o->len += (size_t)n;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* "2026-11-27T16:04:23.123456789Z" without the time zone database (no syscalls). */
static void out_time(struct dlq_out *o, uint64_t ns)
{
	uint64_t s = ns / 1000000000u;
	unsigned sod = (unsigned)(s % 86400), m, d;
	int64_t y;
	char b[48];
	int n;

	civil_from_days((int64_t)(s / 86400), &y, &m, &d);
	n = snprintf(b, sizeof(b), "\"%04lld-%02u-%02uT%02u:%02u:%02u.%09uZ\"", (long long)y, m, d,
		     sod / 3600, sod / 60 % 60, sod % 60, (unsigned)(ns % 1000000000u));
	out_put(o, b, (size_t)n);
}

static bool utf8_valid(const uint8_t *s, size_t len)
{
	const uint8_t *end = s + len;

	while (s < end) {
		size_t k;

		if (*s < 0x80) {
			s++;
			continue;
		}
		k = sl_utf8_len(s, end);
		if (!k)
			return false;
		s += k;
	}
	return true;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void out_base64(struct dlq_out *o, const uint8_t *s, size_t len)
{
	size_t need = 2 + (len + 2) / 3 * 4;
	char *q;

	if (o->full || o->cap - o->len < need) {
		o->full = true;
		return;
	}
	q = o->p + o->len;
	*q++ = '"';
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		*q++ = b64_chars[v >> 18 & 63];
		*q++ = b64_chars[v >> 12 & 63];
		*q++ = left > 1 ? b64_chars[v >> 6 & 63] : '=';
		*q++ = left > 2 ? b64_chars[v & 63] : '=';
	}
	*q++ = '"';
	o->len += need;
}

long sl_dlq_format(const struct sl_dlq_entry *e, char *out, size_t cap)
{
	struct dlq_out o = { out, 0, cap, false };
	long n;

	out_puts(&o, "{\"time\":");
	out_time(&o, e->time_ns);
	out_puts(&o, ",\"time_ns\":");
	out_u64(&o, e->time_ns);
	out_puts(&o, ",\"stage\":");
	out_str(&o, e->stage);
	out_puts(&o, ",\"use\":");
	out_str(&o, e->use);
	out_puts(&o, ",\"version\":");
	out_str(&o, e->version);
	out_puts(&o, ",\"plugin\":");
	out_str(&o, e->plugin);
	out_puts(&o, ",\"output\":");
	out_str(&o, e->output);
	out_puts(&o, ",\"reason\":");
	out_str(&o, e->reason);
	out_puts(&o, ",\"source\":");
	out_str(&o, e->source);
	out_puts(&o, ",\"event_id\":");
	out_u64(&o, e->event_id);
	if (e->truncated)
		out_puts(&o, ",\"truncated\":true");
	out_puts(&o, ",\"record\":");
	if (!o.full) {
		n = e->record ? sl_json_from_record((struct sl_rec){ e->record, e->record_len },
						    o.p + o.len, o.cap - o.len)
			      : -1;
		if (n == -2)
			o.full = true;
		else if (n == -1)
			out_put(&o, "null", 4);
		else
			o.len += (size_t)n;
	}
	if (utf8_valid((const uint8_t *)e->raw.p, e->raw.len)) {
		out_puts(&o, ",\"raw\":");
		out_str(&o, (struct sl_dlq_str){ e->raw.p ? e->raw.p : "", e->raw.len });
	} else {
		out_puts(&o, ",\"raw_base64\":");
		out_base64(&o, (const uint8_t *)e->raw.p, e->raw.len);
	}
	out_put(&o, "}\n", 2);
	return o.full ? -2 : (long)o.len;
}

/* ---- reader ---- */

struct dlq_in {
	const uint8_t *s, *p, *end;
	struct sl_dlq_error *err;
	char *scratch;
	size_t n_scratch;
};

static int in_fail(struct dlq_in *in, const uint8_t *at, const char *msg)
{
	in->err->offset = (size_t)(at - in->s);
	snprintf(in->err->msg, sizeof(in->err->msg), "%s", msg);
	return -1;
}

static void in_ws(struct dlq_in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\r' || *in->p == '\n'))
		in->p++;
}

static int hex4(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	*v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
			     : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
						    : 16;
		if (d == 16)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static size_t put_utf8(char *q, uint32_t cp)
{
	if (cp < 0x80) {
		q[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		q[0] = (char)(0xc0 | cp >> 6);
		q[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		q[0] = (char)(0xe0 | cp >> 12);
		q[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		q[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	q[0] = (char)(0xf0 | cp >> 18);
	q[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	q[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	q[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A JSON string at in->p ('"'). With out set, the decoded bytes are appended to the
 * scratch buffer and described in *out; otherwise the string is only checked. Decoding
 * never grows: an escape is at least as long as what it stands for.
 */
static int in_string(struct dlq_in *in, struct sl_dlq_str *out)
{
	const uint8_t *p = in->p + 1;
	char *q = in->scratch + in->n_scratch, *q0 = q;

	if (in->p >= in->end || *in->p != '"')
		return in_fail(in, in->p, "expected a string");
	for (;;) {
		uint8_t c;

		if (p >= in->end)
			return in_fail(in, in->p, "string not closed");
		c = *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return in_fail(in, p, "control byte in a string (must be escaped)");
		if (c >= 0x80) {
			size_t k = sl_utf8_len(p, in->end);
			if (!k)
				return in_fail(in, p, "invalid UTF-8 in a string");
			if (out)
				memcpy(q, p, k);
			q += k;
			p += k;
			continue;
		}
		if (c != '\\') {
			if (out)
				*q = (char)c;
			q++;
			p++;
			continue;
		}
		if (p + 1 >= in->end)
			return in_fail(in, p, "string not closed");
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
			c = p[1];
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u': {
			uint32_t cp, lo;
			char tmp[4];
			size_t k;

			if (hex4(p + 2, in->end, &cp) < 0)
				return in_fail(in, p, "\\u needs four hex digits");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return in_fail(in, p, "unpaired low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (in->end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
				    hex4(p + 8, in->end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					return in_fail(in, p, "unpaired high surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			k = put_utf8(tmp, cp);
			if (out)
				memcpy(q, tmp, k);
			q += k;
			p += 6;
			continue;
		}
		default:
			return in_fail(in, p, "unknown escape in a string");
		}
		if (out)
			*q = (char)c;
		q++;
		p += 2;
	}
	if (out) {
		out->p = q0;
		out->len = (uint32_t)(q - q0);
		in->n_scratch += (size_t)(q - q0);
	}
	in->p = p + 1;
	return 0;
}

static int in_literal(struct dlq_in *in, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(in->end - in->p) < n || memcmp(in->p, lit, n) != 0)
		return in_fail(in, in->p, "expected a JSON value");
	in->p += n;
	return 0;
}

/* A JSON number, checked (RFC 8259 grammar) and skipped. */
static int in_number(struct dlq_in *in)
{
	const uint8_t *p = in->p, *start = p;

	if (p < in->end && *p == '-')
		p++;
	if (p >= in->end || *p < '0' || *p > '9')
		return in_fail(in, start, "expected a JSON value");
	if (*p == '0')
		p++;
	else
		while (p < in->end && *p >= '0' && *p <= '9')
			p++;
	if (p < in->end && *p == '.') {
		p++;
		if (p >= in->end || *p < '0' || *p > '9')
			return in_fail(in, p, "expected digits after '.'");
		while (p < in->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < in->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < in->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= in->end || *p < '0' || *p > '9')
			return in_fail(in, p, "expected digits in the exponent");
		while (p < in->end && *p >= '0' && *p <= '9')
			p++;
	}
	in->p = p;
	return 0;
}

/* Any JSON value, checked and skipped. */
static int in_skip(struct dlq_in *in, int depth)
{
	uint8_t open;

	in_ws(in);
	if (in->p >= in->end)
		return in_fail(in, in->p, "expected a JSON value");
	switch (*in->p) {
	case '"':
		return in_string(in, NULL);
	case 't':
		return in_literal(in, "true");
	case 'f':
		return in_literal(in, "false");
	case 'n':
		return in_literal(in, "null");
	case '{':
	case '[':
		break;
	default:
		return in_number(in);
	}
	if (depth >= SL_DLQ_MAX_DEPTH)
		return in_fail(in, in->p, "nested too deeply");
	open = *in->p++;
	in_ws(in);
	if (in->p < in->end && *in->p == (open == '{' ? '}' : ']')) {
		in->p++;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			in_ws(in);
			if (in_string(in, NULL) < 0)
				return -1;
			in_ws(in);
			if (in->p >= in->end || *in->p != ':')
				return in_fail(in, in->p, "expected ':' after a key");
			in->p++;
		}
		if (in_skip(in, depth + 1) < 0)
			return -1;
		in_ws(in);
		if (in->p >= in->end)
			return in_fail(in, in->p,
				       open == '{' ? "object not closed" : "array not closed");
		if (*in->p == ',') {
			in->p++;
			continue;
		}
		if (*in->p == (open == '{' ? '}' : ']')) {
			in->p++;
			return 0;
		}
		return in_fail(in, in->p,
			       open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* An unsigned decimal integer that fits 64 bits. */
static int in_u64(struct dlq_in *in, uint64_t *v)
{
	const uint8_t *p = in->p;

	*v = 0;
	if (p >= in->end || *p < '0' || *p > '9')
		return in_fail(in, p, "expected an unsigned integer");
	if (*p == '0' && p + 1 < in->end && p[1] >= '0' && p[1] <= '9')
		return in_fail(in, p, "leading zero in an integer");
	while (p < in->end && *p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return in_fail(in, in->p, "integer does not fit 64 bits");
		*v = *v * 10 + d;
		p++;
	}
	if (p < in->end && (*p == '.' || *p == 'e' || *p == 'E'))
		return in_fail(in, in->p, "expected an unsigned integer");
	in->p = p;
	return 0;
}

static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode the base64 text of s in place (it shrinks); at names the string for errors. */
static int in_base64(struct dlq_in *in, struct sl_dlq_str *s, const uint8_t *at)
{
	const uint8_t *t = (const uint8_t *)s->p;
	char *q = (char *)s->p;
	uint32_t n = s->len, out = 0;

	if (n % 4)
		return in_fail(in, at, "raw_base64: length is not a multiple of 4");
	for (uint32_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_value(t[i + k]);
			if (t[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (v[k] < 0 || pad) {
				return in_fail(in, at, "raw_base64: not base64");
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		q[out++] = (char)(x >> 16);
		if (pad < 2)
			q[out++] = (char)(x >> 8 & 0xff);
		if (pad < 1)
			q[out++] = (char)(x & 0xff);
	}
	s->len = out;
	return 0;
}

enum dlq_key {
	K_TIME_NS = 0,
	K_EVENT_ID,
	K_STAGE,
	K_USE,
	K_VERSION,
	K_PLUGIN,
	K_OUTPUT,
	K_REASON,
	K_SOURCE,
	K_RAW,
	K_RAW_B64,
	K_TRUNCATED,
	K_N,
	K_OTHER = K_N,
};

static const char *const dlq_keys[K_N] = {
	"time_ns", "event_id", "stage",	 "use", "version",    "plugin",
	"output",  "reason",   "source", "raw", "raw_base64", "truncated",
};

int sl_dlq_parse(const char *line, size_t len, struct sl_dlq_entry *e, char *scratch,
		 struct sl_dlq_error *err)
{
	struct dlq_in in = { (const uint8_t *)line,
			     (const uint8_t *)line,
			     (const uint8_t *)line + len,
			     err,
			     scratch,
			     0 };
	bool seen[K_N] = { false };
	const uint8_t *b64_at = NULL;

	memset(e, 0, sizeof(*e));
	err->offset = 0;
	err->msg[0] = '\0';
	in_ws(&in);
	if (in.p >= in.end || *in.p != '{')
		return in_fail(&in, in.p, "expected '{' (a dead-letter line is one JSON object)");
	in.p++;
	in_ws(&in);
	if (in.p < in.end && *in.p == '}') {
		in.p++;
	} else {
		for (;;) {
			struct sl_dlq_str key;
			const uint8_t *key_at, *val_at;
			int k;

			in_ws(&in);
			key_at = in.p;
			if (in_string(&in, &key) < 0)
				return -1;
			/* Keys are not kept: give their scratch bytes back. */
			in.n_scratch -= key.len;
			for (k = 0; k < K_N; k++)
				if (strlen(dlq_keys[k]) == key.len &&
				    memcmp(dlq_keys[k], key.p, key.len) == 0)
					break;
			if (k < K_N) {
				if (seen[k])
					return in_fail(&in, key_at, "duplicate key");
				seen[k] = true;
			}
			in_ws(&in);
			if (in.p >= in.end || *in.p != ':')
				return in_fail(&in, in.p, "expected ':' after a key");
			in.p++;
			in_ws(&in);
			val_at = in.p;
			switch (k) {
			case K_TIME_NS:
				if (in_u64(&in, &e->time_ns) < 0)
					return -1;
				e->has_time = true;
				break;
			case K_EVENT_ID:
				if (in_u64(&in, &e->event_id) < 0)
					return -1;
				e->has_event_id = true;
				break;
			case K_TRUNCATED:
				if (in.p < in.end && *in.p == 't') {
					if (in_literal(&in, "true") < 0)
						return -1;
					e->truncated = true;
				} else if (in.p < in.end && *in.p == 'f') {
					if (in_literal(&in, "false") < 0)
						return -1;
				} else {
					return in_fail(&in, val_at,
						       "truncated: expected true or false");
				}
				break;
			case K_OTHER:
				if (in_skip(&in, 1) < 0)
					return -1;
				break;
			default: {
				struct sl_dlq_str *f[] = {
					[K_STAGE] = &e->stage,	   [K_USE] = &e->use,
					[K_VERSION] = &e->version, [K_PLUGIN] = &e->plugin,
					[K_OUTPUT] = &e->output,   [K_REASON] = &e->reason,
					[K_SOURCE] = &e->source,   [K_RAW] = &e->raw,
					[K_RAW_B64] = &e->raw,
				};
				if (in.p < in.end && *in.p == 'n' && k != K_RAW && k != K_RAW_B64) {
					if (in_literal(&in, "null") < 0)
						return -1;
					break;
				}
				if (in.p >= in.end || *in.p != '"') {
					snprintf(err->msg, sizeof(err->msg),
						 "%s: expected a string%s", dlq_keys[k],
						 k == K_RAW || k == K_RAW_B64 ? "" : " or null");
					err->offset = (size_t)(val_at - in.s);
					return -1;
				}
				if (in_string(&in, f[k]) < 0)
					return -1;
				if (k == K_RAW_B64)
					b64_at = val_at;
				break;
			}
			}
			in_ws(&in);
			if (in.p >= in.end)
				return in_fail(&in, in.p, "object not closed");
			if (*in.p == ',') {
				in.p++;
				continue;
			}
			if (*in.p == '}') {
				in.p++;
				break;
			}
			return in_fail(&in, in.p, "expected ',' or '}'");
		}
	}
	in_ws(&in);
	if (in.p != in.end)
		return in_fail(&in, in.p, "bytes after the object");
	if (seen[K_RAW] && seen[K_RAW_B64])
		return in_fail(&in, in.s, "both raw and raw_base64: give one");
	if (!seen[K_RAW] && !seen[K_RAW_B64])
		return in_fail(&in, in.end,
			       "no raw or raw_base64 key: the event's bytes are missing");
	if (!e->has_event_id)
		return in_fail(&in, in.end, "no event_id key");
	if (b64_at && in_base64(&in, &e->raw, b64_at) < 0)
		return -1;
	return 0;
}
