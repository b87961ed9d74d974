/*
 * The expression engine shared by filter, route and set (docs/expressions.md): values
 * computed from record fields with dotted paths into nested maps, integer, float, string,
 * bool and null literals, arithmetic (+ - * / %), comparisons (== != < <= > >=), and / or /
 * not, `in [...]` lists, string functions (prefix, suffix, contains, lower, upper, len) and
 * regular expressions (`matches "re"`, `=~`, `!~`; PCRE2, JIT-compiled).
 *
 * sl_expr_compile runs once on the control thread: it parses the text, checks what types
 * it can see (a string compared with a number, arithmetic on a string), compiles regexes
 * and turns the whole into a short postfix program for a small value stack. It allocates
 * everything evaluation needs then, including one PCRE2 match-data block and one string
 * buffer per lower()/upper() for each of n_lcores lcores. Evaluation (sl_expr_test,
 * sl_expr_eval) runs on workers, reads fields through the record view, allocates nothing,
 * and may run concurrently on different lcores (each uses only its own lcore's blocks).
 *
 * A compiled `field OP integer` (the usual filter) is recognised and answered inline by
 * sl_expr_test with one lookup and one range check; everything else runs the program.
 */
#ifndef SL_STAGES_EXPR_H
#define SL_STAGES_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/record.h>

struct sl_expr;

/* Most nested parentheses, nots and unary minus signs in one expression. */
#define SL_EXPR_MAX_DEPTH 64
/* Most values the program keeps at once (operands waiting for their operator). */
#define SL_EXPR_STACK 64
/* Longest string lower() and upper() return (a longer one gives a missing value). */
#define SL_EXPR_STR_MAX 8192

/* What an expression computed. MISSING: a field that is not there, or an operation that
 * has no answer (division by zero, overflow, a type that does not fit). */
enum sl_expr_type {
	SL_EXPR_MISSING = 0,
	SL_EXPR_NULL,
	SL_EXPR_BOOL,
	SL_EXPR_INT,
	SL_EXPR_FLOAT,
	SL_EXPR_STR,
	SL_EXPR_OTHER, /* a map, array, binary or ext value of the record: raw holds it */
};

struct sl_expr_value {
	uint8_t type; /* enum sl_expr_type */
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			const char *p;
			uint32_t len;
		} s;
	};
	const uint8_t *raw; /* OTHER: the encoded value inside the record */
	uint32_t raw_len;
};

/* The head of every compiled expression, public so that sl_expr_test can answer the
 * common `field OP integer` inline. */
enum { SL_EXPR_FAST_NONE = 0, SL_EXPR_FAST_INT_RANGE };

struct sl_expr_head {
	uint8_t fast;  /* SL_EXPR_FAST_* */
	bool fast_neg; /* true when the integer is outside [lo, lo + span] */
	uint64_t lo, span;
	struct sl_rec_key key;
};

/*
 * Compile src for evaluation on lcores 0 .. n_lcores - 1. Returns 0 with *out set,
 * -EINVAL with *err_offset the byte offset in src of the problem and a one-line message in
 * msg, or -ENOMEM.
 */
int sl_expr_compile(const char *src, uint32_t n_lcores, struct sl_expr **out, uint32_t *err_offset,
		    char *msg, size_t msg_len);

/* The program's answer as a value. Strings point into the record, the compiled expression
 * or lcore's buffers, and stay valid until the next evaluation on that lcore. */
void sl_expr_eval(const struct sl_expr *e, struct sl_rec rec, unsigned lcore,
		  struct sl_expr_value *out);

bool sl_expr_test_slow(const struct sl_expr *e, struct sl_rec rec, unsigned lcore);

/* The answer as a condition: true only when it is the boolean true. */
static inline bool sl_expr_test(const struct sl_expr *e, struct sl_rec rec, unsigned lcore)
{
	const struct sl_expr_head *h = (const struct sl_expr_head *)e;

	if (h->fast == SL_EXPR_FAST_INT_RANGE) {
		struct sl_val v;

		if (!sl_rec_get(rec, &h->key, &v))
			return false;
		if (v.type == SL_VAL_INT)
			return ((uint64_t)v.i - h->lo <= h->span) != h->fast_neg;
	}
	return sl_expr_test_slow(e, rec, lcore);
}

/* What the compiler knows of the result's type before any record is seen. */
enum sl_expr_kind {
	SL_EXPR_KIND_ANY = 0, /* depends on the record (a field) */
	SL_EXPR_KIND_BOOL,
	SL_EXPR_KIND_NUM,
	SL_EXPR_KIND_STR,
	SL_EXPR_KIND_NULL,
};

enum sl_expr_kind sl_expr_result_kind(const struct sl_expr *e);

/* Name of a kind for messages ("a number", "true/false", ...). */
const char *sl_expr_kind_name(enum sl_expr_kind k);

/* The distinct top-level fields the expression reads, NULL-terminated (projection): the
 * first part of every path, and a dotted path's whole text (also looked up as one key). */
const char *const *sl_expr_fields(const struct sl_expr *e);

/** The fields of n expressions, each once, in first-use order: a calloc'ed NULL-terminated
 *  array of the expressions' own strings (free the array only), or NULL when out of
 *  memory. For stages that declare what they read (projection). */
const char **sl_expr_fields_union(struct sl_expr *const *e, uint32_t n);

/** True when e is exactly `FIELD matches "RE"` on a top-level field (no `not`, nothing
 *  else): *field is its key, *pattern the regex text (in e, not NUL-terminated). For
 *  stages that match several such conditions at once (route with Hyperscan). */
bool sl_expr_single_match(const struct sl_expr *e, const struct sl_rec_key **field,
			  const char **pattern, size_t *pattern_len);

void sl_expr_destroy(struct sl_expr *e);

#endif
