/*
 * Control protocol messages (see message.h): a recursive-descent JSON reader with a depth
 * bound, building a malloc'ed value tree, and the request decoder that checks a parsed
 * request field by field. Called by the control thread for every request line and by the
 * command-line clients for every response; owns nothing beyond the trees it returns.
 * Every read is bounded by the end of the buffer; any byte sequence gives a value or an
 * error, never a read past it (message_fuzz.c checks that).
 */
#include "message.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#include "../base/check.h"

struct jr {
	const unsigned char *p, *end, *start;
	int max_depth;
	char *err;
	size_t err_len;
	int rc; /* first error: -EINVAL or -ENOMEM */
};

static void jr_fail(struct jr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jr_fail(struct jr *r, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (r->rc)
		return;
	r->rc = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->err && r->err_len)
		snprintf(r->err, r->err_len, "invalid JSON at byte %zu: %s",
			 (size_t)(r->p - r->start), msg);
}

static void jr_oom(struct jr *r)
{
	if (r->rc)
		return;
	r->rc = -ENOMEM;
	if (r->err && r->err_len)
		snprintf(r->err, r->err_len, "out of memory");
}

static void jr_ws(struct jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool jr_lit(struct jr *r, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return false;
	r->p += n;
	return true;
}

/* A growing byte buffer for decoded strings. */
struct jr_buf {
	char *p;
	size_t len, cap;
};

static bool jr_buf_put(struct jr *r, struct jr_buf *b, const void *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 32;
		char *q;

		while (cap - b->len < n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q) {
			jr_oom(r);
			return false;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

static int jr_hex4(struct jr *r, uint32_t *out)
{
	uint32_t v = 0;

	if (r->end - r->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = r->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	r->p += 4;
	*out = v;
	return 0;
}

static size_t jr_utf8_put(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at r->p (on the opening quote): decoded into *out (malloc'ed), length in len. */
static int jr_string(struct jr *r, char **out, size_t *len)
{
	struct jr_buf b = { 0 };

	r->p++;
	for (;;) {
		const unsigned char *run = r->p;

		while (r->p < r->end && *r->p >= 0x20 && *r->p < 0x80 && *r->p != '"' &&
		       *r->p != '\\')
			r->p++;
		if (r->p > run && !jr_buf_put(r, &b, run, (size_t)(r->p - run)))
			goto err;
		if (r->p >= r->end) {
			jr_fail(r, "unterminated string");
			goto err;
		}
		if (*r->p == '"') {
			r->p++;
			break;
		}
		if (*r->p < 0x20) {
			jr_fail(r, "control character in a string");
			goto err;
		}
		if (*r->p >= 0x80) {
			size_t n = sl_utf8_len(r->p, r->end);

			if (n == 0) {
				jr_fail(r, "invalid UTF-8 in a string");
				goto err;
			}
			if (!jr_buf_put(r, &b, r->p, n))
				goto err;
			r->p += n;
			continue;
		}
		/* A backslash escape. */
		r->p++;
		if (r->p >= r->end) {
			jr_fail(r, "unterminated string");
			goto err;
		}
		{
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *e = *r->p ? strchr(from, *r->p) : NULL;
			uint32_t cp, lo;
			char u[4];

			if (e) {
				r->p++;
				if (!jr_buf_put(r, &b, &to[e - from], 1))
					goto err;
				continue;
			}
			if (*r->p != 'u') {
				jr_fail(r, "invalid escape '\\%c'",
					*r->p >= 0x20 && *r->p < 0x7f ? *r->p : '?');
				goto err;
			}
			r->p++;
			if (jr_hex4(r, &cp) < 0) {
				jr_fail(r, "\\u needs four hex digits");
				goto err;
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				jr_fail(r, "lone low surrogate");
				goto err;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (!jr_lit(r, "\\u") || jr_hex4(r, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff) {
					jr_fail(r, "high surrogate without its low half");
					goto err;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (!jr_buf_put(r, &b, u, jr_utf8_put(cp, u)))
				goto err;
		}
	}
	if (!b.p && !jr_buf_put(r, &b, "", 0))
		goto err;
	*out = b.p;
	*len = b.len;
	return 0;
err:
	free(b.p);
	return -1;
}

/* One or more digits (a fraction or an exponent). */
static int jr_digits(struct jr *r)
{
	if (r->p >= r->end || *r->p < '0' || *r->p > '9') {
		jr_fail(r, "invalid number");
		return -1;
	}
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return 0;
}

static int jr_number(struct jr *r, struct sl_jr_val *v)
{
	const unsigned char *s = r->p;
	bool integer = true;
	char tmp[64];
	size_t n;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9') {
		jr_fail(r, "invalid number");
		return -1;
	}
	if (*r->p == '0') {
		r->p++;
	} else {
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && *r->p == '.') {
		integer = false;
		r->p++;
		if (jr_digits(r) < 0)
			return -1;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		integer = false;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (jr_digits(r) < 0)
			return -1;
	}
	n = (size_t)(r->p - s);
	if (n >= sizeof(tmp)) {
		jr_fail(r, "number longer than %zu characters", sizeof(tmp) - 1);
		return -1;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (integer) {
		char *end;

		errno = 0;
		v->i = strtoll(tmp, &end, 10);
		if (errno == 0 && *end == '\0') {
			v->type = SL_JR_INT;
			v->d = (double)v->i;
			return 0;
		}
	}
	v->type = SL_JR_NUM;
	v->d = strtod(tmp, NULL);
	return 0;
}

static int jr_value(struct jr *r, struct sl_jr_val *v, int depth);

/* Append a zeroed slot to an array or object under construction. */
static struct sl_jr_val *jr_push(struct jr *r, struct sl_jr_val *v, size_t *cap)
{
	if (v->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 4;
		struct sl_jr_val *items = realloc(v->items, ncap * sizeof(*items));

		if (!items) {
			jr_oom(r);
			return NULL;
		}
		v->items = items;
		if (v->type == SL_JR_OBJ) {
			char **keys = realloc(v->keys, ncap * sizeof(*keys));

			if (!keys) {
				jr_oom(r);
				return NULL;
			}
			v->keys = keys;
		}
		*cap = ncap;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	if (v->type == SL_JR_OBJ)
		v->keys[v->n] = NULL;
	return &v->items[v->n];
}

static int jr_container(struct jr *r, struct sl_jr_val *v, int depth)
{
	bool obj = *r->p == '{';
	char close = obj ? '}' : ']';
	size_t cap = 0;

	if (depth >= r->max_depth) {
		jr_fail(r, "nested deeper than %d", r->max_depth);
		return -1;
	}
	v->type = obj ? SL_JR_OBJ : SL_JR_ARR;
	r->p++;
	jr_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		struct sl_jr_val *item = jr_push(r, v, &cap);
		char *key = NULL;
		size_t key_len;

		if (!item)
			return -1;
		jr_ws(r);
		if (obj) {
			if (r->p >= r->end || *r->p != '"') {
				jr_fail(r, "expected a string key");
				return -1;
			}
			if (jr_string(r, &key, &key_len) < 0)
				return -1;
			v->keys[v->n] = key;
			jr_ws(r);
			if (r->p >= r->end || *r->p != ':') {
				v->n++; /* so the key is freed */
				jr_fail(r, "expected ':' after a key");
				return -1;
			}
			r->p++;
		}
		v->n++;
		if (jr_value(r, item, depth + 1) < 0)
			return -1;
		jr_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		jr_fail(r, "expected ',' or '%c'", close);
		return -1;
	}
}

static int jr_value(struct jr *r, struct sl_jr_val *v, int depth)
{
	jr_ws(r);
	if (r->p >= r->end) {
		jr_fail(r, "unexpected end of input");
		return -1;
	}
	switch (*r->p) {
	case '{':
	case '[':
		return jr_container(r, v, depth);
	case '"':
		v->type = SL_JR_STR;
		return jr_string(r, &v->s, &v->len);
	case 't':
	case 'f':
	case 'n':
		if (jr_lit(r, "true") || jr_lit(r, "false")) {
			v->type = SL_JR_BOOL;
			v->b = r->p[-1] == 'e' && r->p[-4] == 't';
			return 0;
		}
		if (jr_lit(r, "null")) {
			v->type = SL_JR_NULL;
			return 0;
		}
		break;
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return jr_number(r, v);
		break;
	}
	jr_fail(r, "unexpected character '%c'", *r->p >= 0x20 && *r->p < 0x7f ? *r->p : '?');
	return -1;
}

void sl_jr_free(struct sl_jr_val *v)
{
	if (!v)
		return;
	if (v->type == SL_JR_STR)
		free(v->s);
	if (v->type == SL_JR_ARR || v->type == SL_JR_OBJ) {
		for (size_t i = 0; i < v->n; i++) {
			if (v->keys)
				free(v->keys[i]);
			sl_jr_free(&v->items[i]);
		}
		free(v->items);
		free(v->keys);
	}
	memset(v, 0, sizeof(*v));
}

int sl_jr_parse(const char *buf, size_t len, int max_depth, struct sl_jr_val *out, char *err,
		size_t err_len)
{
	struct jr r = {
		.p = (const unsigned char *)buf,
		.start = (const unsigned char *)buf,
		.end = (const unsigned char *)buf + len,
		.max_depth = max_depth,
		.err = err,
		.err_len = err_len,
	};

	memset(out, 0, sizeof(*out));
	if (err && err_len)
		err[0] = '\0';
	if (jr_value(&r, out, 0) == 0) {
		jr_ws(&r);
		if (r.p != r.end)
			jr_fail(&r, "unexpected bytes after the value");
	}
	if (r.rc) {
		sl_jr_free(out);
		return r.rc;
	}
	return 0;
}

const struct sl_jr_val *sl_jr_get(const struct sl_jr_val *v, const char *key)
{
	if (!v || v->type != SL_JR_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (v->keys[i] && strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const char *sl_jr_type_name(enum sl_jr_type t)
{
	static const char *const names[] = { "null",	 "a boolean", "an integer", "a number",
					     "a string", "an array",  "an object" };

	return (unsigned)t < SL_ARRAY_SIZE(names) ? names[t] : "?";
}

static const struct {
	const char *name;
	bool changes_state;
} ctl_cmds[SL_CTL_CMD_N] = {
	[SL_CTL_CMD_PING] = { "ping", false },
	[SL_CTL_CMD_VERSION] = { "version", false },
	[SL_CTL_CMD_NODES] = { "nodes", false },
	[SL_CTL_CMD_STATS] = { "stats", false },
	[SL_CTL_CMD_STOP] = { "stop", true },
	/* Logged: it hooks a copy onto the data path of a node. */
	[SL_CTL_CMD_TAP] = { "tap", true },
	[SL_CTL_CMD_SWAP] = { "swap", true },
	[SL_CTL_CMD_RELOAD] = { "reload", true },
	[SL_CTL_CMD_SCALE] = { "scale", true },
};

const char *sl_ctl_cmd_name(enum sl_ctl_cmd cmd)
{
	return (unsigned)cmd < SL_CTL_CMD_N ? ctl_cmds[cmd].name : "?";
}

bool sl_ctl_cmd_changes_state(enum sl_ctl_cmd cmd)
{
	return (unsigned)cmd < SL_CTL_CMD_N && ctl_cmds[cmd].changes_state;
}

/* User text in a message: at most 40 bytes, non-printable bytes as '?'. */
static const char *ctl_show(const char *s, size_t len, char *out, size_t cap)
{
	size_t i, n = len < 40 ? len : 40;

	for (i = 0; i < n && i + 4 < cap; i++)
		out[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	snprintf(out + i, cap - i, "%s", n < len ? "..." : "");
	return out;
}

static int ctl_field_type(const char *key, const struct sl_jr_val *v, enum sl_jr_type want,
			  char *err, size_t err_len)
{
	if (v->type == want)
		return 0;
	snprintf(err, err_len, "field '%s': expected %s, got %s", key, sl_jr_type_name(want),
		 sl_jr_type_name(v->type));
	return -EINVAL;
}

/* scale: "node" and "replicas" (an integer to pin, or "auto") are required. */
static int ctl_decode_scale(const struct sl_jr_val *root, struct sl_ctl_request *req, char *err,
			    size_t err_len)
{
	const struct sl_jr_val *r = sl_jr_get(root, "replicas");

	if (req->cmd != SL_CTL_CMD_SCALE) {
		if (r) {
			snprintf(err, err_len, "field 'replicas': only for scale");
			return -EINVAL;
		}
		return 0;
	}
	if (!req->has_node || !r) {
		snprintf(err, err_len,
			 "scale: fields 'node' (the stage) and 'replicas' (a count or \"auto\") "
			 "are required");
		return -EINVAL;
	}
	if (r->type == SL_JR_STR && r->len == 4 && memcmp(r->s, "auto", 4) == 0) {
		req->replicas = -1;
		return 0;
	}
	if (r->type != SL_JR_INT || r->i < 0 || r->i > SL_CTL_SCALE_MAX) {
		snprintf(err, err_len, "field 'replicas': must be from 0 to %d or \"auto\"",
			 SL_CTL_SCALE_MAX);
		return -EINVAL;
	}
	req->replicas = (int32_t)r->i;
	return 0;
}

int sl_ctl_request_decode(const char *buf, size_t len, struct sl_ctl_request *req, char *err,
			  size_t err_len)
{
	static const char *const fields[] = { "v",     "cmd",  "id",   "node",	  "output",
					      "limit", "rate", "path", "replicas" };
	const struct sl_jr_val *v, *cmd, *id, *node, *output, *limit, *rate, *path;
	struct sl_jr_val root;
	char show[64];
	int rc;

	memset(req, 0, sizeof(*req));
	err[0] = '\0';
	if (len > SL_CTL_MSG_MAX) {
		snprintf(err, err_len, "request longer than %d bytes", SL_CTL_MSG_MAX);
		return -EINVAL;
	}
	rc = sl_jr_parse(buf, len, SL_CTL_JSON_DEPTH, &root, err, err_len);
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	rc = -EINVAL;
	if (root.type != SL_JR_OBJ) {
		snprintf(err, err_len, "a request must be a JSON object, got %s",
			 sl_jr_type_name(root.type));
		goto out;
	}
	/* The id first, so that any later error can still be matched to its request. */
	id = sl_jr_get(&root, "id");
	if (id) {
		if (ctl_field_type("id", id, SL_JR_INT, err, err_len) < 0)
			goto out;
		if (id->i < 0 || id->i > (int64_t)1 << 53) {
			snprintf(err, err_len, "field 'id': must be from 0 to 2^53");
			goto out;
		}
		req->has_id = true;
		req->id = (uint64_t)id->i;
	}
	for (size_t i = 0; i < root.n; i++) {
		size_t f;

		for (f = 0; f < SL_ARRAY_SIZE(fields); f++)
			if (strcmp(root.keys[i], fields[f]) == 0)
				break;
		if (f == SL_ARRAY_SIZE(fields)) {
			snprintf(err, err_len,
				 "unknown field '%s' (fields: v, cmd, id, node, output, limit, "
				 "rate, path, replicas)",
				 ctl_show(root.keys[i], strlen(root.keys[i]), show, sizeof(show)));
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(root.keys[i], root.keys[j]) == 0) {
				snprintf(err, err_len, "duplicate field '%s'", fields[f]);
				goto out;
			}
	}
	v = sl_jr_get(&root, "v");
	if (!v) {
		snprintf(err, err_len, "missing field 'v' (protocol version, %d)", SL_CTL_VERSION);
		goto out;
	}
	if (ctl_field_type("v", v, SL_JR_INT, err, err_len) < 0)
		goto out;
	if (v->i != SL_CTL_VERSION) {
		snprintf(err, err_len, "unsupported protocol version %lld (this server speaks %d)",
			 (long long)v->i, SL_CTL_VERSION);
		goto out;
	}
	req->v = SL_CTL_VERSION;
	cmd = sl_jr_get(&root, "cmd");
	if (!cmd) {
		snprintf(err, err_len, "missing field 'cmd'");
		goto out;
	}
	if (ctl_field_type("cmd", cmd, SL_JR_STR, err, err_len) < 0)
		goto out;
	for (req->cmd = 0; req->cmd < SL_CTL_CMD_N; req->cmd++)
		if (strlen(ctl_cmds[req->cmd].name) == cmd->len &&
		    memcmp(ctl_cmds[req->cmd].name, cmd->s, cmd->len) == 0)
			break;
	if (req->cmd == SL_CTL_CMD_N) {
		char known[128] = "";

		for (int c = 0; c < SL_CTL_CMD_N; c++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
				 c ? ", " : "", ctl_cmds[c].name);
		snprintf(err, err_len, "unknown command '%s' (commands: %s)",
			 ctl_show(cmd->s, cmd->len, show, sizeof(show)), known);
		goto out;
	}
	node = sl_jr_get(&root, "node");
	if (node) {
		if (ctl_field_type("node", node, SL_JR_STR, err, err_len) < 0)
			goto out;
		if (node->len == 0 || node->len > SL_CTL_NAME_MAX ||
		    memchr(node->s, '\0', node->len)) {
			snprintf(err, err_len, "field 'node': must be a node name of 1 to %d bytes",
				 SL_CTL_NAME_MAX);
			goto out;
		}
		if (req->cmd != SL_CTL_CMD_STATS && req->cmd != SL_CTL_CMD_NODES &&
		    req->cmd != SL_CTL_CMD_TAP && req->cmd != SL_CTL_CMD_SWAP &&
		    req->cmd != SL_CTL_CMD_SCALE) {
			snprintf(err, err_len,
				 "field 'node': only for stats, nodes, tap, swap and scale");
			goto out;
		}
		memcpy(req->node, node->s, node->len + 1);
		req->has_node = true;
	}
	path = sl_jr_get(&root, "path");
	if (path && req->cmd != SL_CTL_CMD_SWAP && req->cmd != SL_CTL_CMD_RELOAD) {
		snprintf(err, err_len, "field 'path': only for swap and reload");
		goto out;
	}
	if (req->cmd == SL_CTL_CMD_SWAP && (!node || !path)) {
		snprintf(err, err_len,
			 "swap: fields 'node' (the stage) and 'path' (the plugin) are required");
		goto out;
	}
	if (path) {
		if (ctl_field_type("path", path, SL_JR_STR, err, err_len) < 0)
			goto out;
		if (path->len == 0 || path->len > SL_CTL_PATH_MAX ||
		    memchr(path->s, '\0', path->len) || path->s[0] != '/') {
			snprintf(err, err_len,
				 "field 'path': must be an absolute path of 1 to %d bytes",
				 SL_CTL_PATH_MAX);
			goto out;
		}
		memcpy(req->path, path->s, path->len + 1);
		req->has_path = true;
	}
	output = sl_jr_get(&root, "output");
	limit = sl_jr_get(&root, "limit");
	rate = sl_jr_get(&root, "rate");
	if (req->cmd != SL_CTL_CMD_TAP && (output || limit || rate)) {
		snprintf(err, err_len, "fields 'output', 'limit' and 'rate': only for tap");
		goto out;
	}
	if (req->cmd == SL_CTL_CMD_TAP && !node) {
		snprintf(err, err_len,
			 "tap: missing field 'node' (the node whose output to watch)");
		goto out;
	}
	if (output) {
		if (ctl_field_type("output", output, SL_JR_STR, err, err_len) < 0)
			goto out;
		if (output->len == 0 || output->len > SL_CTL_NAME_MAX ||
		    memchr(output->s, '\0', output->len)) {
			snprintf(err, err_len,
				 "field 'output': must be an output name of 1 to %d bytes",
				 SL_CTL_NAME_MAX);
			goto out;
		}
		memcpy(req->output, output->s, output->len + 1);
		req->has_output = true;
	}
	req->limit = SL_CTL_TAP_LIMIT_DEFAULT;
	if (limit) {
		if (ctl_field_type("limit", limit, SL_JR_INT, err, err_len) < 0)
			goto out;
		if (limit->i < 1 || limit->i > SL_CTL_TAP_LIMIT_MAX) {
			snprintf(err, err_len, "field 'limit': must be from 1 to %d",
				 SL_CTL_TAP_LIMIT_MAX);
			goto out;
		}
		req->limit = limit->i;
	}
	req->rate = SL_CTL_TAP_RATE_DEFAULT;
	if (rate) {
		double r = rate->type == SL_JR_INT ? (double)rate->i : rate->d;

		if (rate->type != SL_JR_INT && rate->type != SL_JR_NUM) {
			snprintf(err, err_len, "field 'rate': expected a number, got %s",
				 sl_jr_type_name(rate->type));
			goto out;
		}
		if (!(r >= SL_CTL_TAP_RATE_MIN && r <= SL_CTL_TAP_RATE_MAX)) {
			snprintf(err, err_len, "field 'rate': must be from %g to %g per second",
				 SL_CTL_TAP_RATE_MIN, SL_CTL_TAP_RATE_MAX);
			goto out;
		}
		req->rate = r;
	}
	if (ctl_decode_scale(&root, req, err, err_len) < 0)
		goto out;
	rc = 0;
out:
	sl_jr_free(&root);
	return rc;
}
