/*
 * The regex parser behind the regex_parse stage: a PCRE2 pattern with named groups,
 * compiled once (JIT-compiled when the library supports it), turns each line into a record
 * with one field per named group that took part in the match. Groups are strings unless
 * `types` says otherwise (int, float, bool, or a timestamp to epoch ns: rfc3339, clf).
 *
 * regex_conf_create builds the immutable configuration on the control thread and reports
 * a bad pattern with the byte offset PCRE2 gives; regex_parse_line is the per-event
 * function, shared by the stage's burst loop and the fuzz target. A pcre2_match_data is
 * allocated for every lcore at create time (and, without JIT, warmed so the interpreter's
 * frame vector is allocated then), so matching allocates nothing; a replica uses its
 * lcore's block, which no other thread touches while it runs.
 */
#ifndef SL_STAGES_REGEX_PARSE_H
#define SL_STAGES_REGEX_PARSE_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include <sluice/record.h>

#include "../json_parse/parse_common.h"

/* Return codes of regex_parse_line; also the stage's counter indexes (0 = "parsed"). */
enum sl_regex_err {
	SL_REGEX_OK = 0,
	SL_REGEX_NO_MATCH,    /* the pattern does not match the line */
	SL_REGEX_BAD_TYPE,    /* a group's text is not of its declared type */
	SL_REGEX_MATCH_ERROR, /* PCRE2 gave up (match or depth limit) */
	SL_REGEX_TOO_LARGE,   /* the record does not fit the event */
	SL_REGEX_N_CODES,
};

/* Reason names by code, then the stage's two other counters: also its counter table. */
static const char *const sl_regex_err_names[SL_REGEX_N_CODES + 3] = {
	"parsed", "no_match", "bad_type", "match_error", "too_large", "not_line", "nombuf", NULL,
};

enum sl_regex_type {
	SL_REGEX_STR = 0,
	SL_REGEX_INT,
	SL_REGEX_FLOAT,
	SL_REGEX_BOOL,
	SL_REGEX_RFC3339,
	SL_REGEX_CLF,
	SL_REGEX_N_TYPES,
};

static const char *const sl_regex_type_names[SL_REGEX_N_TYPES] = {
	"str", "int", "float", "bool", "rfc3339", "clf",
};

/* Longest group name PCRE2 allows is 32 code units. */
#define SL_REGEX_NAME_MAX 32

struct sl_regex_group {
	uint16_t number; /* capture group number */
	uint8_t type;	 /* enum sl_regex_type */
	uint8_t name_len;
	char name[SL_REGEX_NAME_MAX + 1];
};

struct sl_regex_conf {
	pcre2_code *re;
	bool jit;
	uint32_t n_groups; /* named groups, by group number */
	struct sl_regex_group *groups;
	uint32_t n_md;
	pcre2_match_data **md; /* one per lcore */
};

static inline void regex_conf_destroy(struct sl_regex_conf *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->md && i < c->n_md; i++)
		pcre2_match_data_free(c->md[i]);
	free(c->md);
	free(c->groups);
	pcre2_code_free(c->re);
	free(c);
}

static int regex_group_cmp(const void *a, const void *b)
{
	const struct sl_regex_group *x = a, *y = b;

	return (int)x->number - (int)y->number;
}

/*
 * Compile pattern and apply the types ("name:type" items). Returns 0 with *out set, or
 * -EINVAL with msg filled, *bad_key naming the parameter at fault ("pattern" or "types")
 * and *offset the byte in the pattern PCRE2 stopped at; -ENOMEM. n_md match-data blocks
 * are allocated (one per lcore).
 */
static inline int regex_conf_create(const char *pattern, const char *const *types, uint32_t n_types,
				    uint32_t n_md, struct sl_regex_conf **out, const char **bad_key,
				    uint32_t *offset, char *msg, size_t len)
{
	struct sl_regex_conf *c = calloc(1, sizeof(*c));
	uint32_t count = 0, entry = 0;
	PCRE2_SPTR table;
	PCRE2_SIZE eoff = 0;
	int ecode = 0, rc = -EINVAL;

	*bad_key = NULL;
	*offset = 0;
	if (!c)
		goto nomem;
	c->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ecode, &eoff, NULL);
	if (!c->re) {
		PCRE2_UCHAR text[200];

		pcre2_get_error_message(ecode, text, sizeof(text));
		*bad_key = "pattern";
		*offset = (uint32_t)eoff;
		snprintf(msg, len, "%s", (const char *)text);
		goto err;
	}
	pcre2_pattern_info(c->re, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(c->re, PCRE2_INFO_NAMEENTRYSIZE, &entry);
	pcre2_pattern_info(c->re, PCRE2_INFO_NAMETABLE, &table);
	if (count == 0) {
		*bad_key = "pattern";
		snprintf(msg, len, "no named group: name the parts to keep, as in (?<status>\\d+)");
		goto err;
	}
	c->groups = calloc(count, sizeof(*c->groups));
	if (!c->groups)
		goto nomem;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = table + (size_t)i * entry;
		struct sl_regex_group *g = &c->groups[i];
		size_t n = strnlen((const char *)e + 2, entry - 2);

		g->number = (uint16_t)(e[0] << 8 | e[1]);
		g->name_len = (uint8_t)(n > SL_REGEX_NAME_MAX ? SL_REGEX_NAME_MAX : n);
		memcpy(g->name, e + 2, g->name_len);
	}
	c->n_groups = count;
	/* record fields in the order the groups appear in the pattern */
	qsort(c->groups, count, sizeof(*c->groups), regex_group_cmp);
	for (uint32_t t = 0; t < n_types; t++) {
		const char *item = types[t], *colon = strchr(item, ':');
		size_t nl = colon ? (size_t)(colon - item) : 0;
		int ty = -1;
		uint32_t i;

		*bad_key = "types";
		if (!colon) {
			snprintf(msg, len, "'%s': expected name:type", item);
			goto err;
		}
		for (int k = 0; k < SL_REGEX_N_TYPES; k++)
			if (strcmp(colon + 1, sl_regex_type_names[k]) == 0)
				ty = k;
		if (ty < 0) {
			snprintf(msg, len,
				 "'%s': unknown type '%s' (str, int, float, bool, rfc3339, clf)",
				 item, colon + 1);
			goto err;
		}
		for (i = 0; i < count; i++)
			if (c->groups[i].name_len == nl && memcmp(c->groups[i].name, item, nl) == 0)
				break;
		if (i == count) {
			snprintf(msg, len, "'%s': the pattern has no group named '%.*s'", item,
				 (int)nl, item);
			goto err;
		}
		c->groups[i].type = (uint8_t)ty;
	}
	*bad_key = NULL;
	c->jit = pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE) == 0;
	c->md = calloc(n_md, sizeof(*c->md));
	if (!c->md)
		goto nomem;
	c->n_md = n_md;
	for (uint32_t i = 0; i < n_md; i++) {
		c->md[i] = pcre2_match_data_create_from_pattern(c->re, NULL);
		if (!c->md[i])
			goto nomem;
		/* the interpreter allocates its frames on first use; do it now */
		if (!c->jit)
			pcre2_match(c->re, (PCRE2_SPTR) "", 0, 0, 0, c->md[i], NULL);
	}
	*out = c;
	return 0;
nomem:
	rc = -ENOMEM;
	*bad_key = NULL;
	snprintf(msg, len, "out of memory");
err:
	regex_conf_destroy(c);
	return rc;
}

/* The group's text [s, s + n) as its declared type; false when it is not of that type. */
static inline bool regex_put(struct sl_rec_writer *w, const struct sl_regex_group *g, const char *s,
			     size_t n)
{
	struct parse_num v;
	bool is_float;
	int64_t ns = 0;

	switch (g->type) {
	case SL_REGEX_INT:
	case SL_REGEX_FLOAT:
		if (n == 0 || parse_num_scan(s, s + n, &is_float) != n ||
		    (g->type == SL_REGEX_INT && is_float))
			return false;
		v = parse_num_value(s, n, is_float || g->type == SL_REGEX_FLOAT);
		if (v.kind == PARSE_NUM_BAD || (g->type == SL_REGEX_INT && v.kind != PARSE_NUM_INT))
			return false;
		parse_put_num(w, v);
		return true;
	case SL_REGEX_BOOL:
		if (n == 4 && memcmp(s, "true", 4) == 0)
			parse_put_bool(w, true);
		else if (n == 5 && memcmp(s, "false", 5) == 0)
			parse_put_bool(w, false);
		else
			return false;
		return true;
	case SL_REGEX_RFC3339:
		if (parse_rfc3339(s, s + n, &ns) != n)
			return false;
		parse_put_int(w, ns);
		return true;
	case SL_REGEX_CLF:
		if (!parse_clf_time(s, n, &ns))
			return false;
		parse_put_int(w, ns);
		return true;
	default:
		parse_put_str(w, s, n);
		return true;
	}
}

/*
 * Match one line (no newline) with md (the caller's lcore's block) and append the named
 * groups that took part to w. Returns SL_REGEX_OK (w may have overflowed: the caller's
 * sl_rec_end says), or an error code with *err_offset: 0 for no_match and match_error,
 * the group's first byte for bad_type.
 */
static inline int regex_parse_line(const struct sl_regex_conf *c, pcre2_match_data *md,
				   const char *line, size_t len, struct sl_rec_writer *w,
				   uint32_t *err_offset)
{
	PCRE2_SIZE *ov;
	int rc;

	if (c->jit)
		rc = pcre2_jit_match(c->re, (PCRE2_SPTR)line, len, 0, 0, md, NULL);
	else
		rc = pcre2_match(c->re, (PCRE2_SPTR)line, len, 0, 0, md, NULL);
	if (rc < 0) {
		*err_offset = 0;
		return rc == PCRE2_ERROR_NOMATCH ? SL_REGEX_NO_MATCH : SL_REGEX_MATCH_ERROR;
	}
	ov = pcre2_get_ovector_pointer(md);
	for (uint32_t i = 0; i < c->n_groups; i++) {
		const struct sl_regex_group *g = &c->groups[i];
		PCRE2_SIZE s = ov[2 * g->number], e = ov[2 * g->number + 1];

		/* groups above rc - 1 and groups that did not take part are unset */
		if ((int)g->number >= rc || s == PCRE2_UNSET)
			continue;
		if (e < s) /* \K in a lookahead can end a match before its start */
			e = s;
		parse_put_key(w, g->name, g->name_len);
		if (!regex_put(w, g, line + s, e - s)) {
			*err_offset = (uint32_t)s;
			return SL_REGEX_BAD_TYPE;
		}
	}
	return SL_REGEX_OK;
}

#endif
