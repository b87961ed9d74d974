/*
 * The logfmt parser behind the logfmt_parse stage: `key=value key2="quoted \"value\""
 * bare_key` becomes one record. A pure function over a byte range (logfmt_parse_line),
 * header-only so the stage's burst loop and the fuzz target compile the same code; no
 * allocation.
 *
 * Pairs are separated by runs of spaces or tabs. A key is one or more bytes other than
 * blanks, control bytes, '=' and '"'. A bare key (no '=') is the boolean true; `k=` is the
 * empty string. A quoted value uses JSON's escapes (\" \\ \/ \b \f \n \r \t \uXXXX with
 * surrogate pairs) and must be followed by a blank or the end; other bytes, UTF-8 or not,
 * are kept as they are. An unquoted value runs to the next blank and may hold '=' (URLs) but
 * not '"' or control bytes. With `typed` (the default) an unquoted value that is a JSON
 * number becomes an integer or a float, and `true` / `false` booleans; quoted values are
 * always strings. Keys are kept in line order, duplicates included.
 */
#ifndef SL_STAGES_LOGFMT_PARSE_H
#define SL_STAGES_LOGFMT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sluice/record.h>

#include "../json_parse/parse_common.h"

/* Return codes of logfmt_parse_line; also the stage's counter indexes (0 = "parsed"). */
enum sl_logfmt_err {
	SL_LOGFMT_OK = 0,
	SL_LOGFMT_EMPTY,      /* no pair at all: the line is empty or blank */
	SL_LOGFMT_BAD_KEY,    /* a pair starts with '=' or a key holds '"' or a control byte */
	SL_LOGFMT_BAD_QUOTE,  /* a quoted value is not closed, or not followed by a blank */
	SL_LOGFMT_BAD_ESCAPE, /* an unknown escape, a bad \uXXXX, a lone surrogate */
	SL_LOGFMT_BAD_VALUE,  /* '"' or a control byte inside a value */
	SL_LOGFMT_TOO_LARGE,  /* the record does not fit the event */
	SL_LOGFMT_N_CODES,
};

/* Reason names by code, then the stage's two other counters: also its counter table. */
static const char *const sl_logfmt_err_names[SL_LOGFMT_N_CODES + 3] = {
	"parsed",    "empty",	  "bad_key",  "bad_quote", "bad_escape",
	"bad_value", "too_large", "not_line", "nombuf",	   NULL,
};

struct sl_logfmt_conf {
	bool typed;
};

static inline bool logfmt_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The value of an unquoted token [v, e): typed when asked, else a string. */
static inline void logfmt_put_bare(const struct sl_logfmt_conf *c, struct sl_rec_writer *w,
				   const char *v, const char *e)
{
	size_t n = (size_t)(e - v);
	bool is_float;

	if (c->typed && n) {
		if (parse_num_scan(v, e, &is_float) == n) {
			struct parse_num x = parse_num_value(v, n, is_float);
			if (x.kind != PARSE_NUM_BAD) {
				parse_put_num(w, x);
				return;
			}
		} else if (n == 4 && memcmp(v, "true", 4) == 0) {
			parse_put_bool(w, true);
			return;
		} else if (n == 5 && memcmp(v, "false", 5) == 0) {
			parse_put_bool(w, false);
			return;
		}
	}
	parse_put_str(w, v, n);
}

/*
 * Parse one line (no newline) and append its pairs to w. Returns SL_LOGFMT_OK (w may have
 * overflowed: the caller's sl_rec_end says), or an error code with *err_offset the byte
 * offset in line the error names.
 */
static inline int logfmt_parse_line(const struct sl_logfmt_conf *c, const char *line, size_t len,
				    struct sl_rec_writer *w, uint32_t *err_offset)
{
	const char *end = line + len, *p = line, *k, *v, *next;
	int rc;

	for (;;) {
		while (p < end && logfmt_blank(*p))
			p++;
		if (p == end)
			break;
		/* the key */
		k = p;
		while (p < end && (uint8_t)*p > 0x20 && *p != '=' && *p != '"' && *p != 0x7f)
			p++;
		if (p == k || (p < end && !logfmt_blank(*p) && *p != '=')) {
			*err_offset = (uint32_t)(p - line);
			return SL_LOGFMT_BAD_KEY;
		}
		parse_put_key(w, k, (size_t)(p - k));
		if (p == end || *p != '=') {
			parse_put_bool(w, true);
			continue;
		}
		/* the value */
		v = ++p;
		if (p < end && *p == '"') {
			rc = parse_json_str(w, p, end, false, &next);
			if (rc != PARSE_STR_OK) {
				*err_offset = (uint32_t)(next - line);
				return rc == PARSE_STR_ESCAPE	 ? SL_LOGFMT_BAD_ESCAPE
				       : rc == PARSE_STR_CONTROL ? SL_LOGFMT_BAD_VALUE
								 : SL_LOGFMT_BAD_QUOTE;
			}
			p = next;
			if (p < end && !logfmt_blank(*p)) {
				*err_offset = (uint32_t)(p - line);
				return SL_LOGFMT_BAD_QUOTE;
			}
			continue;
		}
		while (p < end && !logfmt_blank(*p) && (uint8_t)*p >= 0x20 && *p != '"' &&
		       *p != 0x7f)
			p++;
		if (p < end && !logfmt_blank(*p)) {
			*err_offset = (uint32_t)(p - line);
			return SL_LOGFMT_BAD_VALUE;
		}
		logfmt_put_bare(c, w, v, p);
	}
	if (w->n_fields == 0) {
		*err_offset = (uint32_t)len;
		return SL_LOGFMT_EMPTY;
	}
	return SL_LOGFMT_OK;
}

#endif
