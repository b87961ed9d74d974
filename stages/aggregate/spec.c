/*
 * Parser of one `aggregations` item of the aggregate stage (spec.h), run by the stage's
 * init on the control thread. Hand-written because the item arrives as text: the pipeline
 * loader passes list items as scalars (docs/aggregate.md, "Configuration").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"
#include "spec.h"

static const char *const spec_fns[] = {
	[SL_AGG_COUNT] = "count",	[SL_AGG_SUM] = "sum",	  [SL_AGG_MIN] = "min",
	[SL_AGG_MAX] = "max",		[SL_AGG_AVG] = "avg",	  [SL_AGG_DISTINCT] = "distinct",
	[SL_AGG_QUANTILE] = "quantile", [SL_AGG_TOP_K] = "top_k",
};

#define SPEC_N_FNS (sizeof(spec_fns) / sizeof(spec_fns[0]))

const char *sl_agg_fn_name(enum sl_agg_fn fn)
{
	return (unsigned)fn < SPEC_N_FNS ? spec_fns[fn] : "?";
}

/* The keys an item may have; `uses` says which functions accept it (bit per fn). */
enum spec_key { SK_NAME = 0, SK_FN, SK_FIELD, SK_Q, SK_ERROR, SK_P, SK_K, SK_CAPACITY, SK_N };

#define FN_BIT(f) (1u << (f))
#define ALL_FNS	  0xffu

static const struct {
	const char *name;
	unsigned uses;
} spec_keys[SK_N] = {
	[SK_NAME] = { "name", ALL_FNS },
	[SK_FN] = { "fn", ALL_FNS },
	[SK_FIELD] = { "field", ALL_FNS },
	[SK_Q] = { "q", FN_BIT(SL_AGG_QUANTILE) },
	[SK_ERROR] = { "error", FN_BIT(SL_AGG_QUANTILE) },
	[SK_P] = { "p", FN_BIT(SL_AGG_DISTINCT) },
	[SK_K] = { "k", FN_BIT(SL_AGG_TOP_K) },
	[SK_CAPACITY] = { "capacity", FN_BIT(SL_AGG_TOP_K) },
};

struct spec_parser {
	const char *text, *p;
	char *why;
	size_t why_len;
	uint32_t at;
	char val[SK_N][SL_AGG_NAME_MAX];
	uint32_t val_at[SK_N];
	bool seen[SK_N];
};

__attribute__((format(printf, 3, 4))) static int spec_fail(struct spec_parser *ps, uint32_t at,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->why, ps->why_len, fmt, ap);
	va_end(ap);
	ps->at = at;
	return -EINVAL;
}

static uint32_t spec_pos(const struct spec_parser *ps)
{
	return (uint32_t)(ps->p - ps->text);
}

static void spec_skip_space(struct spec_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static bool spec_is_key_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* A value: quoted, or plain up to ',' / '}' (trailing spaces dropped), into out. */
static int spec_value(struct spec_parser *ps, const char *key, char *out, bool brace)
{
	uint32_t start = spec_pos(ps), n = 0;
	char quote = *ps->p;

	if (quote == '"' || quote == '\'') {
		for (ps->p++;; ps->p++) {
			char c = *ps->p;
			if (c == '\0')
				return spec_fail(ps, start, "%s: unterminated string", key);
			if (c == quote && quote == '\'' && ps->p[1] == '\'') {
				ps->p++;
			} else if (c == quote) {
				ps->p++;
				break;
			} else if (c == '\\' && quote == '"' &&
				   (ps->p[1] == '"' || ps->p[1] == '\\')) {
				c = *++ps->p;
			}
			if (n + 1 >= SL_AGG_NAME_MAX)
				return spec_fail(ps, start, "%s: longer than %d bytes", key,
						 SL_AGG_NAME_MAX - 1);
			out[n++] = c;
		}
	} else {
		const char *end = ps->p;
		while (*end && *end != ',' && !(brace && *end == '}'))
			end++;
		while (end > ps->p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - ps->p) >= SL_AGG_NAME_MAX)
			return spec_fail(ps, start, "%s: longer than %d bytes", key,
					 SL_AGG_NAME_MAX - 1);
		n = (uint32_t)(end - ps->p);
		memcpy(out, ps->p, n);
		ps->p = end;
	}
	out[n] = '\0';
	if (n == 0)
		return spec_fail(ps, start, "%s: expected a value", key);
	return 0;
}

static int spec_pairs(struct spec_parser *ps)
{
	bool brace;

	spec_skip_space(ps);
	brace = *ps->p == '{';
	if (brace)
		ps->p++;
	for (;;) {
		const char *k;
		size_t klen;
		int key = -1, rc;

		spec_skip_space(ps);
		if (brace && *ps->p == '}') {
			ps->p++;
			break;
		}
		if (*ps->p == '\0') {
			if (brace)
				return spec_fail(ps, spec_pos(ps), "missing '}'");
			break;
		}
		k = ps->p;
		if (!spec_is_key_char(*k, true))
			return spec_fail(ps, spec_pos(ps), "expected a key such as 'name:'");
		while (spec_is_key_char(*ps->p, false))
			ps->p++;
		klen = (size_t)(ps->p - k);
		for (int i = 0; i < SK_N; i++)
			if (strlen(spec_keys[i].name) == klen &&
			    memcmp(spec_keys[i].name, k, klen) == 0)
				key = i;
		if (key < 0)
			return spec_fail(ps, (uint32_t)(k - ps->text),
					 "unknown key '%.*s' (known: name, fn, field, q, error, p, "
					 "k, capacity)",
					 (int)(klen < 40 ? klen : 40), k);
		if (ps->seen[key])
			return spec_fail(ps, (uint32_t)(k - ps->text), "'%s' given twice",
					 spec_keys[key].name);
		spec_skip_space(ps);
		if (*ps->p != ':')
			return spec_fail(ps, spec_pos(ps), "expected ':' after '%s'",
					 spec_keys[key].name);
		ps->p++;
		spec_skip_space(ps);
		ps->val_at[key] = spec_pos(ps);
		rc = spec_value(ps, spec_keys[key].name, ps->val[key], brace);
		if (rc < 0)
			return rc;
		ps->seen[key] = true;
		spec_skip_space(ps);
		if (*ps->p == ',')
			ps->p++;
		else if (*ps->p != '\0' && !(brace && *ps->p == '}'))
			return spec_fail(ps, spec_pos(ps), "expected ',' after the value of '%s'",
					 spec_keys[key].name);
	}
	spec_skip_space(ps);
	if (*ps->p)
		return spec_fail(ps, spec_pos(ps), "unexpected text after '}'");
	return 0;
}

/* A number of a key within [lo, hi]. */
static int spec_number(struct spec_parser *ps, enum spec_key key, double lo, double hi,
		       bool integer, double *out)
{
	const char *s = ps->val[key];
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= lo && v <= hi) || (integer && v != (double)(long)v))
		return spec_fail(ps, ps->val_at[key], "%s: expected %s from %g to %g, got '%s'",
				 spec_keys[key].name, integer ? "an integer" : "a number", lo, hi,
				 s);
	*out = v;
	return 0;
}

static int spec_check(struct spec_parser *ps, struct sl_agg_spec *s)
{
	double v;
	int fn = -1;

	if (!ps->seen[SK_NAME])
		return spec_fail(ps, 0, "missing 'name'");
	if (!ps->seen[SK_FN])
		return spec_fail(ps, 0, "missing 'fn'");
	for (unsigned i = 0; i < SPEC_N_FNS; i++)
		if (strcmp(ps->val[SK_FN], spec_fns[i]) == 0)
			fn = (int)i;
	if (fn < 0)
		return spec_fail(ps, ps->val_at[SK_FN],
				 "fn: unknown function '%s' (known: count, sum, min, max, avg, "
				 "distinct, quantile, top_k)",
				 ps->val[SK_FN]);
	for (int k = 0; k < SK_N; k++)
		if (ps->seen[k] && !(spec_keys[k].uses & FN_BIT(fn)))
			return spec_fail(ps, ps->val_at[k], "'%s' does not apply to fn %s",
					 spec_keys[k].name, spec_fns[fn]);
	if (fn != SL_AGG_COUNT && !ps->seen[SK_FIELD])
		return spec_fail(ps, 0, "fn %s needs 'field'", spec_fns[fn]);
	if (fn == SL_AGG_QUANTILE && !ps->seen[SK_Q])
		return spec_fail(ps, 0, "fn quantile needs 'q' (e.g. q: 0.99)");
	memset(s, 0, sizeof(*s));
	s->fn = (enum sl_agg_fn)fn;
	memcpy(s->name, ps->val[SK_NAME], sizeof(s->name));
	memcpy(s->field, ps->val[SK_FIELD], sizeof(s->field));
	s->error = 0.01;
	s->p = 12;
	s->k = 10;
	if (ps->seen[SK_Q] && spec_number(ps, SK_Q, 0, 1, false, &s->q) < 0)
		return -EINVAL;
	if (ps->seen[SK_ERROR] && spec_number(ps, SK_ERROR, 0.001, 0.1, false, &s->error) < 0)
		return -EINVAL;
	if (ps->seen[SK_P]) {
		if (spec_number(ps, SK_P, SL_HLL_P_MIN, SL_HLL_P_MAX, true, &v) < 0)
			return -EINVAL;
		s->p = (uint32_t)v;
	}
	if (ps->seen[SK_K]) {
		if (spec_number(ps, SK_K, 1, SL_AGG_K_MAX, true, &v) < 0)
			return -EINVAL;
		s->k = (uint32_t)v;
	}
	s->capacity = s->k * 16 > 64 ? s->k * 16 : 64;
	if (ps->seen[SK_CAPACITY]) {
		if (spec_number(ps, SK_CAPACITY, s->k, SL_TOPK_CAP_MAX, true, &v) < 0)
			return -EINVAL;
		s->capacity = (uint32_t)v;
	}
	return 0;
}

int sl_agg_spec_parse(const char *text, struct sl_agg_spec *s, char *why, size_t why_len,
		      uint32_t *at)
{
	struct spec_parser ps = { .text = text, .p = text, .why = why, .why_len = why_len };
	int rc = spec_pairs(&ps);

	if (rc == 0)
		rc = spec_check(&ps, s);
	*at = ps.at;
	return rc;
}
