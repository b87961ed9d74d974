/*
 * Boolean expressions over record fields, for the filter stage and any stage that needs a
 * predicate: comparisons (== != < <= > >=) between a field name and a literal (integer, or
 * string in "double" or 'single' quotes, either side), combined with and / or / not and
 * parentheses. sl_expr_compile runs once on the control thread and turns the text into
 * one malloc'd block of short-circuit bytecode; sl_expr_eval runs per event on workers,
 * reads fields with sl_rec_find, allocates nothing and may be called concurrently.
 *
 * Semantics: a comparison with a missing field, an event without a record, or a field of
 * another type (string vs integer) is false, whatever the operator. Integers compare
 * numerically with int, uint and float fields; strings compare bytewise, shorter first on
 * a common prefix. Field names are top-level keys made of letters, digits, '_', '.' and
 * '-', starting with a letter or '_'; and, or and not are reserved. Precedence: not, and,
 * or (lowest).
 */
#ifndef SL_STAGES_FILTER_EXPR_H
#define SL_STAGES_FILTER_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/record.h>

struct sl_expr;

/* Most nested parentheses and nots in one expression. */
#define SL_EXPR_MAX_DEPTH 64

/*
 * Compile src. Returns 0 with *out set, -EINVAL with *err_offset the byte offset in src of
 * the problem and a one-line message in msg, or -ENOMEM.
 */
int sl_expr_compile(const char *src, struct sl_expr **out, uint32_t *err_offset, char *msg,
		    size_t msg_len);

/* Evaluate against one record (rec.len == 0: no record). */
bool sl_expr_eval(const struct sl_expr *e, struct sl_rec rec);

/* The distinct field names the expression reads, NULL-terminated (projection). */
const char *const *sl_expr_fields(const struct sl_expr *e);

void sl_expr_destroy(struct sl_expr *e);

#endif
