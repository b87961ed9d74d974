/*
 * Fuzz target for the expression compiler and evaluator (expr.h). The input is split at
 * the first NUL: the text before it is compiled as an expression, the bytes after it are
 * used as a record (any bytes; usually not valid msgpack). Checks that can fail: a
 * compile error names an offset inside the text and a message; a compiled expression
 * evaluates without reading out of bounds (ASan) to the same answer twice and on two
 * lcores; sl_expr_test (with its inline fast path) agrees with the full program; an empty
 * record gives the same answer as no record.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

static bool same(const struct sl_expr_value *a, const struct sl_expr_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case SL_EXPR_BOOL:
		return a->b == b->b;
	case SL_EXPR_INT:
		return a->i == b->i;
	case SL_EXPR_FLOAT:
		return memcmp(&a->f, &b->f, sizeof(a->f)) == 0;
	case SL_EXPR_STR:
		return a->s.len == b->s.len && memcmp(a->s.p, b->s.p, a->s.len) == 0;
	default:
		return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	struct sl_expr *e = NULL;
	uint32_t off = UINT32_MAX;
	char msg[256] = "";
	char *text;
	int rc;

	if (text_len > 4096)
		return 0;
	text = malloc(text_len + 1);
	if (!text)
		return 0;
	memcpy(text, data, text_len);
	text[text_len] = '\0';
	rc = sl_expr_compile(text, 2, &e, &off, msg, sizeof(msg));
	if (rc != 0) {
		if (e || (rc == -EINVAL && (off > text_len || msg[0] == '\0')))
			abort();
	} else {
		/* The record bytes get their own allocation so overreads are caught. */
		size_t rec_len = nul ? size - text_len - 1 : 0;
		uint8_t *rec = malloc(rec_len ? rec_len : 1);
		struct sl_rec r = { rec, (uint32_t)rec_len }, none = { NULL, 0 };
		struct sl_expr_value a, b;

		if (rec) {
			memcpy(rec, nul ? nul + 1 : data, rec_len);
			sl_expr_eval(e, r, 0, &a);
			sl_expr_eval(e, r, 1, &b);
			if (!same(&a, &b))
				abort();
			if (sl_expr_test(e, r, 0) != (a.type == SL_EXPR_BOOL && a.b))
				abort();
			free(rec);
		}
		sl_expr_eval(e, none, 0, &a);
		sl_expr_eval(e, (struct sl_rec){ (const uint8_t *)"", 0 }, 1, &b);
		if (!same(&a, &b))
			abort();
		sl_expr_destroy(e);
	}
	free(text);
	return 0;
}
