/*
 * Fuzz target for the filter expression compiler and evaluator. The input is split at the
 * first NUL: the text before it is compiled as an expression, the bytes after it are used
 * as a record (any bytes; usually not valid msgpack). Checks that can fail: a compile
 * error names an offset inside the text and a message; a compiled expression evaluates
 * without reading out of bounds (ASan) to the same answer twice, and on an empty record
 * (no fields: every comparison is false) gives the same answer as on a record whose
 * bytes are truncated to nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

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
	rc = sl_expr_compile(text, &e, &off, msg, sizeof(msg));
	if (rc != 0) {
		if (e || off > text_len || msg[0] == '\0')
			abort();
	} else {
		/* The record bytes get their own allocation so overreads are caught. */
		size_t rec_len = nul ? size - text_len - 1 : 0;
		uint8_t *rec = malloc(rec_len ? rec_len : 1);
		struct sl_rec r = { rec, (uint32_t)rec_len }, none = { NULL, 0 };

		if (rec) {
			memcpy(rec, nul ? nul + 1 : data, rec_len);
			if (sl_expr_eval(e, r) != sl_expr_eval(e, r))
				abort();
			free(rec);
		}
		if (sl_expr_eval(e, none) !=
		    sl_expr_eval(e, (struct sl_rec){ (const uint8_t *)"", 0 }))
			abort();
		sl_expr_destroy(e);
	}
	free(text);
	return 0;
}
