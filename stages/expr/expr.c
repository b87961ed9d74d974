/*
 * Expression compiler and evaluator (see expr.h, docs/expressions.md). Compilation is a
 * recursive-descent parser over a small lexer that emits a postfix program for a value
 * stack, precedence lowest first:
 *
 *   or  <  and  <  not  <  comparison, in, matches  <  + -  <  * / %  <  unary -  <  primary
 *
 *   A and B -> A; AND end; B; BOOL; end:   (AND: top not true -> top = false, jump; else pop)
 *   A or B  -> A; OR end;  B; BOOL; end:   (OR: top true -> jump; else pop)
 *
 * Every parse function returns the kind of value it leaves (number, string, bool, null or
 * any: a field), so mixing types that cannot meet is an error at load time. Jumps only go
 * forward, so evaluation is one loop over the program with a fixed-size stack on the C
 * stack: no recursion, no allocation. Called on the control thread (compile, destroy) and
 * from workers (eval), which only read the compiled form and their own lcore's blocks.
 */
#include "expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../aggregate/event_time.h"

enum expr_op {
	OP_CONST = 0, /* push consts[a] */
	OP_FIELD,     /* push the value of paths[a] */
	OP_NEG,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_MOD,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_NOT,
	OP_AND,	     /* top not true: top = false and jump to a; else pop */
	OP_OR,	     /* top true: jump to a; else pop */
	OP_BOOL,     /* top = (top is true) */
	OP_IN,	     /* top = top equals one of consts[a .. a + b); neg inverts */
	OP_MATCH,    /* top = top is a string regex a matches; neg inverts */
	OP_PREFIX,   /* pop s; top = top is a string starting with s */
	OP_SUFFIX,   /* ... ending with s */
	OP_CONTAINS, /* ... holding s */
	OP_LOWER,    /* top = top with A-Z lowered, in string buffer a */
	OP_UPPER,
	OP_LEN,	     /* top = bytes of a string, elements of an array or map */
	OP_EPOCH_NS, /* top = a time string (nginx $time_local, RFC 3339) as epoch ns */
	/* push (paths[a] cmp consts[b]): `field OP literal` fused, the usual condition */
	OP_FIELD_CMP,
};

struct expr_insn {
	uint8_t op;
	bool neg;
	uint8_t cmp; /* OP_FIELD_CMP: OP_EQ .. OP_GE */
	uint32_t a, b;
};

struct expr_path {
	uint32_t first, n_seg;	/* keys[first .. first + n_seg) */
	struct sl_rec_key full; /* the whole text as one top-level key */
};

struct expr_regex {
	pcre2_code *code;
	bool jit;
	uint32_t pat_off, pat_len; /* the pattern's text in pool */
};

struct sl_expr {
	struct sl_expr_head head; /* first: sl_expr_test reads it through the header */
	uint32_t n_insn, n_const, n_path, n_key, n_re, n_buf, n_lcores;
	enum sl_expr_kind kind;
	bool bool_only; /* only FIELD_CMP, AND, OR, NOT, BOOL: one boolean is the stack */
	struct expr_insn *insn;
	struct sl_expr_value *consts;
	struct expr_path *paths;
	struct sl_rec_key *keys;
	char *pool; /* names and decoded strings; consts and keys point here */
	struct expr_regex *re;
	pcre2_match_context *mctx;
	pcre2_match_data **md; /* md[lcore * n_re + k] */
	char *buf;	       /* lcore's buffer k at (lcore * n_buf + k) * SL_EXPR_STR_MAX */
	const char **fields;
};

/* Backtracking budget of one regex match: a pattern that needs more gives no match
 * instead of stalling a worker (PCRE2's own default is 10,000,000). */
#define EXPR_MATCH_LIMIT 1000000

enum expr_tok {
	TOK_END = 0,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACK,
	TOK_RBRACK,
	TOK_COMMA,
	TOK_NAME,
	TOK_INT,
	TOK_FLOAT,
	TOK_STR,
	TOK_CMP, /* tok_op: OP_EQ .. OP_GE */
	TOK_PLUS,
	TOK_MINUS,
	TOK_STAR,
	TOK_SLASH,
	TOK_PERCENT,
	TOK_RE_MATCH,  /* =~ */
	TOK_RE_NMATCH, /* !~ */
	TOK_AND,
	TOK_OR,
	TOK_NOT,
	TOK_IN,
	TOK_MATCHES,
	TOK_TRUE,
	TOK_FALSE,
	TOK_NULL,
};

static const struct {
	const char *word;
	enum expr_tok tok;
} expr_keywords[] = {
	{ "and", TOK_AND },	{ "or", TOK_OR },	    { "not", TOK_NOT },
	{ "in", TOK_IN },	{ "matches", TOK_MATCHES }, { "true", TOK_TRUE },
	{ "false", TOK_FALSE }, { "null", TOK_NULL },
};

struct expr_parser {
	const char *src;
	size_t pos; /* next byte to lex */
	/* current token */
	enum expr_tok tok;
	size_t tok_off, tok_len;
	enum expr_op tok_op;
	uint64_t tok_u; /* TOK_INT: magnitude, up to 2^63 */
	double tok_f;
	uint32_t tok_str_off, tok_str_len; /* TOK_STR: decoded into the pool */
	bool tok_str_plain;		   /* TOK_STR: no escapes (pool bytes = source bytes) */
	/* output */
	struct sl_expr *e;
	uint32_t cap_insn, cap_const, cap_path, cap_key, cap_re;
	uint32_t pool_len;
	int sp, max_sp;
	bool oom;
	/* error */
	bool failed;
	uint32_t err_off;
	char *msg;
	size_t msg_len;
};

static const char *const expr_op_text[] = {
	[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/",
	[OP_MOD] = "%", [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<",
	[OP_LE] = "<=", [OP_GT] = ">",	[OP_GE] = ">=",
};

const char *sl_expr_kind_name(enum sl_expr_kind k)
{
	switch (k) {
	case SL_EXPR_KIND_BOOL:
		return "true/false";
	case SL_EXPR_KIND_NUM:
		return "a number";
	case SL_EXPR_KIND_STR:
		return "a string";
	case SL_EXPR_KIND_NULL:
		return "null";
	default:
		return "a field";
	}
}

static void expr_fail(struct expr_parser *ps, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void expr_fail(struct expr_parser *ps, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	ps->err_off = (uint32_t)off;
	va_start(ap, fmt);
	vsnprintf(ps->msg, ps->msg_len, fmt, ap);
	va_end(ap);
}

static void expr_oom(struct expr_parser *ps)
{
	ps->oom = true;
	expr_fail(ps, 0, "out of memory");
}

/* Grow *arr (of elem bytes) so that index n fits. */
static bool expr_grow(struct expr_parser *ps, void **arr, uint32_t *cap, uint32_t n, size_t elem)
{
	void *p;
	uint32_t c;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 8;
	p = realloc(*arr, (size_t)c * elem);
	if (!p) {
		expr_oom(ps);
		return false;
	}
	*arr = p;
	*cap = c;
	return true;
}

static bool expr_is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool expr_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Field paths: parts of letters, digits, '_', '@' and '-', joined by '.'. */
static bool expr_is_name_char(char c)
{
	return expr_is_name_start(c) || expr_is_digit(c) || c == '.' || c == '-' || c == '@';
}

static bool expr_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Decode a quoted string starting at ps->pos (the quote) into the pool. */
static void expr_lex_string(struct expr_parser *ps)
{
	const char *s = ps->src;
	char quote = s[ps->pos];
	size_t p = ps->pos + 1;

	ps->tok = TOK_STR;
	ps->tok_str_off = ps->pool_len;
	ps->tok_str_plain = true;
	for (;;) {
		char c = s[p];

		if (c == '\0') {
			expr_fail(ps, ps->tok_off, "unterminated string");
			return;
		}
		if (c == quote)
			break;
		if (c == '\\') {
			ps->tok_str_plain = false;
			c = s[++p];
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case '\\':
			case '"':
			case '\'':
				break;
			case '\0':
				expr_fail(ps, ps->tok_off, "unterminated string");
				return;
			default:
				/* Kept as written, backslash and all, so regexes read
				 * naturally ('\.html$'); as in Python. */
				ps->e->pool[ps->pool_len++] = '\\';
				break;
			}
		}
		ps->e->pool[ps->pool_len++] = c;
		p++;
	}
	ps->tok_str_len = ps->pool_len - ps->tok_str_off;
	ps->e->pool[ps->pool_len++] = '\0'; /* regexes and messages read it as text */
	ps->pos = p + 1;
}

/* An integer (magnitude up to 2^63, the sign is unary minus) or a float. */
static void expr_lex_number(struct expr_parser *ps)
{
	const char *s = ps->src;
	size_t p = ps->pos;
	uint64_t v = 0;
	bool is_float = false, big = false;

	for (; expr_is_digit(s[p]); p++) {
		unsigned d = (unsigned)(s[p] - '0');
		if (v > ((1ull << 63) - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	if (s[p] == '.' && expr_is_digit(s[p + 1])) {
		is_float = true;
		for (p++; expr_is_digit(s[p]); p++)
			;
	}
	if ((s[p] == 'e' || s[p] == 'E') &&
	    (expr_is_digit(s[p + 1]) ||
	     ((s[p + 1] == '+' || s[p + 1] == '-') && expr_is_digit(s[p + 2])))) {
		is_float = true;
		for (p += 2; expr_is_digit(s[p]); p++)
			;
	}
	if (expr_is_name_char(s[p])) {
		expr_fail(ps, ps->tok_off, "malformed number");
		return;
	}
	if (is_float) {
		char tmp[128];
		size_t n = p - ps->pos;

		if (n >= sizeof(tmp)) {
			expr_fail(ps, ps->tok_off, "number too long");
			return;
		}
		memcpy(tmp, s + ps->pos, n);
		tmp[n] = '\0';
		ps->tok_f = strtod(tmp, NULL);
		if (isinf(ps->tok_f)) {
			expr_fail(ps, ps->tok_off, "number out of range");
			return;
		}
		ps->tok = TOK_FLOAT;
	} else {
		if (big) {
			expr_fail(ps, ps->tok_off, "integer out of range");
			return;
		}
		ps->tok = TOK_INT;
		ps->tok_u = v;
	}
	ps->pos = p;
}

static void expr_lex_op(struct expr_parser *ps)
{
	const char *s = ps->src;
	size_t p = ps->pos, n = 2;
	char c = s[p], d = s[p + 1];

	if (c == '=' && d == '=') {
		ps->tok = TOK_CMP;
		ps->tok_op = OP_EQ;
	} else if (c == '!' && d == '=') {
		ps->tok = TOK_CMP;
		ps->tok_op = OP_NE;
	} else if (c == '=' && d == '~') {
		ps->tok = TOK_RE_MATCH;
	} else if (c == '!' && d == '~') {
		ps->tok = TOK_RE_NMATCH;
	} else if (c == '<' || c == '>') {
		ps->tok = TOK_CMP;
		n = d == '=' ? 2 : 1;
		ps->tok_op = c == '<' ? (n == 2 ? OP_LE : OP_LT) : (n == 2 ? OP_GE : OP_GT);
	} else {
		n = 0;
	}
	/* "=", "!", "=<", "<>", "===": a run of operator characters we do not know. */
	if (n == 0 || (s[p + n] != '\0' && strchr("=<>!", s[p + n]))) {
		size_t e = p;
		while (s[e] != '\0' && strchr("=<>!~", s[e]))
			e++;
		ps->tok = TOK_END;
		expr_fail(ps, p, "unknown operator '%.*s'", (int)(e - p), s + p);
		return;
	}
	ps->pos = p + n;
}

/* Read the next token into ps->tok (TOK_END at the end or after an error). */
static void expr_next(struct expr_parser *ps)
{
	static const char single[] = "()[],+-*/%";
	static const enum expr_tok single_tok[] = { TOK_LPAREN, TOK_RPAREN, TOK_LBRACK, TOK_RBRACK,
						    TOK_COMMA,	TOK_PLUS,   TOK_MINUS,	TOK_STAR,
						    TOK_SLASH,	TOK_PERCENT };
	const char *s = ps->src;
	const char *hit;
	char c;

	while (expr_is_space(s[ps->pos]))
		ps->pos++;
	ps->tok_off = ps->pos;
	ps->tok = TOK_END;
	if (ps->failed)
		return;
	c = s[ps->pos];
	if (c == '\0')
		return;
	if ((hit = strchr(single, c)) != NULL) {
		ps->tok = single_tok[hit - single];
		ps->pos++;
	} else if (c == '"' || c == '\'') {
		expr_lex_string(ps);
	} else if (expr_is_digit(c)) {
		expr_lex_number(ps);
	} else if (expr_is_name_start(c)) {
		size_t p = ps->pos;
		while (expr_is_name_char(s[p]))
			p++;
		ps->tok = TOK_NAME;
		for (size_t k = 0; k < sizeof(expr_keywords) / sizeof(expr_keywords[0]); k++)
			if (strlen(expr_keywords[k].word) == p - ps->pos &&
			    memcmp(expr_keywords[k].word, s + ps->pos, p - ps->pos) == 0)
				ps->tok = expr_keywords[k].tok;
		ps->pos = p;
	} else if (strchr("=!<>", c)) {
		expr_lex_op(ps);
	} else if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f) {
		expr_fail(ps, ps->pos, "unexpected character '%c'", c);
	} else {
		expr_fail(ps, ps->pos, "unexpected byte 0x%02x", (unsigned char)c);
	}
	ps->tok_len = ps->pos - ps->tok_off;
	if (ps->failed)
		ps->tok = TOK_END;
}

/* The current token as text for messages. */
#define EXPR_TOK_TEXT(ps) (int)(ps)->tok_len, (ps)->src + (ps)->tok_off

static int expr_stack_delta(enum expr_op op)
{
	switch (op) {
	case OP_CONST:
	case OP_FIELD:
	case OP_FIELD_CMP:
		return 1;
	case OP_ADD:
	case OP_SUB:
	case OP_MUL:
	case OP_DIV:
	case OP_MOD:
	case OP_EQ:
	case OP_NE:
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
	case OP_PREFIX:
	case OP_SUFFIX:
	case OP_CONTAINS:
	case OP_AND: /* the path that goes on pops; the jump keeps one, as B will */
	case OP_OR:
		return -1;
	default:
		return 0;
	}
}

static uint32_t expr_emit(struct expr_parser *ps, enum expr_op op, uint32_t a, uint32_t b)
{
	struct sl_expr *e = ps->e;
	struct expr_insn *in;

	if (ps->failed)
		return 0;
	if (!expr_grow(ps, (void **)&e->insn, &ps->cap_insn, e->n_insn, sizeof(*in)))
		return 0;
	ps->sp += expr_stack_delta(op);
	if (ps->sp > ps->max_sp)
		ps->max_sp = ps->sp;
	if (ps->sp > SL_EXPR_STACK) {
		expr_fail(ps, ps->tok_off,
			  "expression too complex (more than %d values pending at once)",
			  SL_EXPR_STACK);
		return 0;
	}
	in = &e->insn[e->n_insn];
	memset(in, 0, sizeof(*in));
	in->op = (uint8_t)op;
	in->a = a;
	in->b = b;
	return e->n_insn++;
}

static uint32_t expr_add_const(struct expr_parser *ps, const struct sl_expr_value *v)
{
	struct sl_expr *e = ps->e;

	if (ps->failed ||
	    !expr_grow(ps, (void **)&e->consts, &ps->cap_const, e->n_const, sizeof(*v)))
		return 0;
	e->consts[e->n_const] = *v;
	return e->n_const++;
}

/* The literal at the current token as a value (strings: offsets into the pool, turned
 * into pointers when the pool is final). Returns its kind, or -1 if not a literal. */
static int expr_literal(struct expr_parser *ps, bool negate, struct sl_expr_value *v)
{
	memset(v, 0, sizeof(*v));
	switch (ps->tok) {
	case TOK_INT:
		if (!negate && ps->tok_u > (uint64_t)INT64_MAX) {
			expr_fail(ps, ps->tok_off, "integer out of range");
			return -1;
		}
		v->type = SL_EXPR_INT;
		v->i = negate ? (int64_t)(0 - ps->tok_u) : (int64_t)ps->tok_u;
		return SL_EXPR_KIND_NUM;
	case TOK_FLOAT:
		v->type = SL_EXPR_FLOAT;
		v->f = negate ? -ps->tok_f : ps->tok_f;
		return SL_EXPR_KIND_NUM;
	case TOK_STR:
		if (negate)
			return -1;
		v->type = SL_EXPR_STR;
		v->s.p = (const char *)(uintptr_t)ps->tok_str_off; /* fixed up at the end */
		v->s.len = ps->tok_str_len;
		return SL_EXPR_KIND_STR;
	case TOK_TRUE:
	case TOK_FALSE:
		if (negate)
			return -1;
		v->type = SL_EXPR_BOOL;
		v->b = ps->tok == TOK_TRUE;
		return SL_EXPR_KIND_BOOL;
	case TOK_NULL:
		if (negate)
			return -1;
		v->type = SL_EXPR_NULL;
		return SL_EXPR_KIND_NULL;
	default:
		return -1;
	}
}

static enum sl_expr_kind expr_parse_or(struct expr_parser *ps, unsigned depth);

/* A field path at the current token: its parts become prepared keys. */
static void expr_parse_path(struct expr_parser *ps)
{
	struct sl_expr *e = ps->e;
	const char *text = ps->src + ps->tok_off;
	size_t len = ps->tok_len, start = 0;
	struct expr_path *path;
	uint32_t name_off = ps->pool_len;

	if (!expr_grow(ps, (void **)&e->paths, &ps->cap_path, e->n_path, sizeof(*path)))
		return;
	path = &e->paths[e->n_path];
	memset(path, 0, sizeof(*path));
	path->first = e->n_key;
	/* The text in the pool; keys hold offsets until the pool is final. */
	memcpy(e->pool + ps->pool_len, text, len);
	ps->pool_len += (uint32_t)len;
	e->pool[ps->pool_len++] = '\0';
	path->full.name = (const char *)(uintptr_t)name_off;
	path->full.len = (uint32_t)len;
	for (size_t k = 0; k <= len; k++) {
		if (k < len && text[k] != '.')
			continue;
		if (k == start) {
			expr_fail(ps, ps->tok_off + k,
				  "empty part in field path '%.*s' (parts are joined by one '.')",
				  (int)len, text);
			return;
		}
		if (!expr_grow(ps, (void **)&e->keys, &ps->cap_key, e->n_key, sizeof(*e->keys)))
			return;
		e->keys[e->n_key].name = (const char *)(uintptr_t)(name_off + start);
		e->keys[e->n_key].len = (uint32_t)(k - start);
		e->n_key++;
		path->n_seg++;
		start = k + 1;
	}
	expr_emit(ps, OP_FIELD, e->n_path++, 0);
}

/* Check that an operand's kind is one of the wanted ones (ANY always is). */
static bool expr_want(struct expr_parser *ps, enum sl_expr_kind got, unsigned want_mask, size_t off,
		      const char *what, const char *side)
{
	if (got == SL_EXPR_KIND_ANY || (want_mask & (1u << got)))
		return true;
	expr_fail(ps, off, "%s needs %s%s, got %s", what,
		  want_mask == (1u << SL_EXPR_KIND_NUM)	   ? "numbers"
		  : want_mask == (1u << SL_EXPR_KIND_BOOL) ? "true/false"
							   : "strings",
		  side, sl_expr_kind_name(got));
	return false;
}

#define KIND_BIT(k) (1u << SL_EXPR_KIND_##k)

/* name(args): a string function. */
static enum sl_expr_kind expr_parse_call(struct expr_parser *ps, unsigned depth)
{
	static const struct {
		const char *name;
		enum expr_op op;
		uint32_t n_args;
		enum sl_expr_kind result;
	} fns[] = {
		{ "prefix", OP_PREFIX, 2, SL_EXPR_KIND_BOOL },
		{ "suffix", OP_SUFFIX, 2, SL_EXPR_KIND_BOOL },
		{ "contains", OP_CONTAINS, 2, SL_EXPR_KIND_BOOL },
		{ "lower", OP_LOWER, 1, SL_EXPR_KIND_STR },
		{ "upper", OP_UPPER, 1, SL_EXPR_KIND_STR },
		{ "len", OP_LEN, 1, SL_EXPR_KIND_NUM },
		{ "epoch_ns", OP_EPOCH_NS, 1, SL_EXPR_KIND_NUM },
	};
	size_t name_off = ps->tok_off, name_len = ps->tok_len, open;
	uint32_t f, n = 0;

	for (f = 0; f < sizeof(fns) / sizeof(fns[0]); f++)
		if (strlen(fns[f].name) == name_len &&
		    memcmp(fns[f].name, ps->src + name_off, name_len) == 0)
			break;
	if (f == sizeof(fns) / sizeof(fns[0])) {
		expr_fail(ps, name_off,
			  "unknown function '%.*s' (prefix, suffix, contains, lower, upper, len, "
			  "epoch_ns)",
			  (int)name_len, ps->src + name_off);
		return SL_EXPR_KIND_ANY;
	}
	expr_next(ps); /* the name */
	open = ps->tok_off;
	expr_next(ps); /* ( */
	if (ps->tok == TOK_RPAREN) {
		expr_fail(ps, ps->tok_off, "%s() takes %u argument%s", fns[f].name, fns[f].n_args,
			  fns[f].n_args == 1 ? "" : "s");
		return SL_EXPR_KIND_ANY;
	}
	for (;;) {
		size_t arg_off = ps->tok_off;
		enum sl_expr_kind k = expr_parse_or(ps, depth + 1);

		if (ps->failed)
			return SL_EXPR_KIND_ANY;
		n++;
		if (n > fns[f].n_args) {
			expr_fail(ps, arg_off, "%s() takes %u argument%s", fns[f].name,
				  fns[f].n_args, fns[f].n_args == 1 ? "" : "s");
			return SL_EXPR_KIND_ANY;
		}
		if (fns[f].op == OP_LEN || fns[f].op == OP_EPOCH_NS) {
			if (k != SL_EXPR_KIND_ANY && k != SL_EXPR_KIND_STR) {
				expr_fail(ps, arg_off, "%s() needs a string or a field, got %s",
					  fns[f].name, sl_expr_kind_name(k));
				return SL_EXPR_KIND_ANY;
			}
		} else if (!expr_want(ps, k, KIND_BIT(STR), arg_off, fns[f].name, "")) {
			return SL_EXPR_KIND_ANY;
		}
		if (ps->tok == TOK_COMMA) {
			expr_next(ps);
			continue;
		}
		if (ps->tok == TOK_RPAREN)
			break;
		if (ps->tok == TOK_END)
			expr_fail(ps, open, "unbalanced parenthesis: '(' is never closed");
		else
			expr_fail(ps, ps->tok_off, "expected ',' or ')' in %s(), found '%.*s'",
				  fns[f].name, EXPR_TOK_TEXT(ps));
		return SL_EXPR_KIND_ANY;
	}
	if (n != fns[f].n_args) {
		expr_fail(ps, ps->tok_off, "%s() takes %u argument%s", fns[f].name, fns[f].n_args,
			  fns[f].n_args == 1 ? "" : "s");
		return SL_EXPR_KIND_ANY;
	}
	expr_next(ps); /* ) */
	expr_emit(ps, fns[f].op,
		  fns[f].op == OP_LOWER || fns[f].op == OP_UPPER ? ps->e->n_buf++ : 0, 0);
	return fns[f].result;
}

static enum sl_expr_kind expr_parse_unary(struct expr_parser *ps, unsigned depth);

/* Recursion guard of the descent: fails the parse past SL_EXPR_MAX_DEPTH levels. */
static bool expr_too_deep(struct expr_parser *ps, unsigned depth)
{
	if (depth <= SL_EXPR_MAX_DEPTH)
		return false;
	expr_fail(ps, ps->tok_off, "expression nested too deeply (more than %d levels)",
		  SL_EXPR_MAX_DEPTH);
	return true;
}

static enum sl_expr_kind expr_parse_primary(struct expr_parser *ps, unsigned depth)
{
	struct sl_expr_value v;
	int k;

	if (ps->failed)
		return SL_EXPR_KIND_ANY;
	if (ps->tok == TOK_LPAREN) {
		size_t open = ps->tok_off;
		enum sl_expr_kind r;

		expr_next(ps);
		r = expr_parse_or(ps, depth + 1);
		if (ps->failed)
			return r;
		if (ps->tok == TOK_END) {
			expr_fail(ps, open, "unbalanced parenthesis: '(' is never closed");
			return r;
		}
		if (ps->tok != TOK_RPAREN) {
			expr_fail(ps, ps->tok_off, "expected an operator or ')', found '%.*s'",
				  EXPR_TOK_TEXT(ps));
			return r;
		}
		expr_next(ps);
		return r;
	}
	if (ps->tok == TOK_NAME) {
		size_t p = ps->pos;

		while (expr_is_space(ps->src[p]))
			p++;
		if (ps->src[p] == '(')
			return expr_parse_call(ps, depth);
		expr_parse_path(ps);
		expr_next(ps);
		return SL_EXPR_KIND_ANY;
	}
	k = expr_literal(ps, false, &v);
	if (k >= 0) {
		expr_emit(ps, OP_CONST, expr_add_const(ps, &v), 0);
		expr_next(ps);
		return (enum sl_expr_kind)k;
	}
	if (ps->failed)
		return SL_EXPR_KIND_ANY;
	if (ps->tok == TOK_END)
		expr_fail(ps, ps->tok_off, "expected a value at the end");
	else if (ps->tok == TOK_RPAREN)
		expr_fail(ps, ps->tok_off, "unbalanced parenthesis: ')' without '('");
	else
		expr_fail(ps, ps->tok_off, "expected a value, found '%.*s'", EXPR_TOK_TEXT(ps));
	return SL_EXPR_KIND_ANY;
}

static enum sl_expr_kind expr_parse_unary(struct expr_parser *ps, unsigned depth)
{
	size_t off = ps->tok_off;
	enum sl_expr_kind k;

	if (expr_too_deep(ps, depth))
		return SL_EXPR_KIND_ANY;
	if (ps->tok != TOK_MINUS)
		return expr_parse_primary(ps, depth);
	expr_next(ps);
	if (ps->tok == TOK_INT || ps->tok == TOK_FLOAT) {
		/* A negative literal is one constant (and -9223372036854775808 fits). */
		struct sl_expr_value v;

		expr_literal(ps, true, &v);
		expr_emit(ps, OP_CONST, expr_add_const(ps, &v), 0);
		expr_next(ps);
		return SL_EXPR_KIND_NUM;
	}
	if (ps->tok == TOK_END && !ps->failed) {
		expr_fail(ps, ps->tok_off, "expected a value after '-'");
		return SL_EXPR_KIND_ANY;
	}
	k = expr_parse_unary(ps, depth + 1);
	if (!expr_want(ps, k, KIND_BIT(NUM), off, "'-'", ""))
		return SL_EXPR_KIND_ANY;
	expr_emit(ps, OP_NEG, 0, 0);
	return SL_EXPR_KIND_NUM;
}

/* Left-associative arithmetic: level 0 is + -, level 1 is * / %. */
static enum sl_expr_kind expr_parse_arith(struct expr_parser *ps, unsigned depth, int level)
{
	enum sl_expr_kind l =
		level == 0 ? expr_parse_arith(ps, depth, 1) : expr_parse_unary(ps, depth);

	for (;;) {
		enum expr_op op;
		enum sl_expr_kind r;
		size_t off = ps->tok_off, r_off;
		char what[8];

		if (level == 0 && ps->tok == TOK_PLUS)
			op = OP_ADD;
		else if (level == 0 && ps->tok == TOK_MINUS)
			op = OP_SUB;
		else if (level == 1 && ps->tok == TOK_STAR)
			op = OP_MUL;
		else if (level == 1 && ps->tok == TOK_SLASH)
			op = OP_DIV;
		else if (level == 1 && ps->tok == TOK_PERCENT)
			op = OP_MOD;
		else
			return l;
		snprintf(what, sizeof(what), "'%s'", expr_op_text[op]);
		if (!expr_want(ps, l, KIND_BIT(NUM), off, what, " on its left"))
			return SL_EXPR_KIND_ANY;
		expr_next(ps);
		if (ps->tok == TOK_END && !ps->failed) {
			expr_fail(ps, ps->tok_off, "expected a value after '%s'", expr_op_text[op]);
			return SL_EXPR_KIND_ANY;
		}
		r_off = ps->tok_off;
		r = level == 0 ? expr_parse_arith(ps, depth, 1) : expr_parse_unary(ps, depth);
		if (!expr_want(ps, r, KIND_BIT(NUM), r_off, what, " on its right"))
			return SL_EXPR_KIND_ANY;
		expr_emit(ps, op, 0, 0);
		l = SL_EXPR_KIND_NUM;
	}
}

/* `in [lit, ...]` after the left operand (`not in` when neg). */
static void expr_parse_in(struct expr_parser *ps, bool neg)
{
	uint32_t first = ps->e->n_const, n = 0;

	expr_next(ps); /* in */
	if (ps->tok != TOK_LBRACK) {
		expr_fail(ps, ps->tok_off, "expected '[' after 'in'");
		return;
	}
	expr_next(ps);
	while (ps->tok != TOK_RBRACK) {
		struct sl_expr_value v;
		bool minus = ps->tok == TOK_MINUS;

		if (minus)
			expr_next(ps);
		if (expr_literal(ps, minus, &v) < 0) {
			expr_fail(ps, ps->tok_off,
				  ps->tok == TOK_END ? "'[' is never closed"
						     : "a list after 'in' holds literals "
						       "(numbers, strings, true, false, null)");
			return;
		}
		expr_add_const(ps, &v);
		n++;
		expr_next(ps);
		if (ps->tok == TOK_COMMA) {
			expr_next(ps);
			continue;
		}
		if (ps->tok != TOK_RBRACK) {
			expr_fail(ps, ps->tok_off,
				  ps->tok == TOK_END ? "'[' is never closed"
						     : "expected ',' or ']' in the list");
			return;
		}
	}
	expr_next(ps); /* ] */
	{
		uint32_t k = expr_emit(ps, OP_IN, first, n);
		if (!ps->failed)
			ps->e->insn[k].neg = neg;
	}
}

/* `matches "re"`, `=~ "re"` or `!~ "re"` after the left operand. */
static void expr_parse_match(struct expr_parser *ps, bool neg)
{
	struct sl_expr *e = ps->e;
	pcre2_code *code;
	int ecode;
	PCRE2_SIZE eoff;
	uint32_t k;

	expr_next(ps);
	if (ps->tok != TOK_STR) {
		if (!ps->failed)
			expr_fail(ps, ps->tok_off, "expected a regular expression in quotes");
		return;
	}
	code = pcre2_compile((PCRE2_SPTR)(e->pool + ps->tok_str_off), ps->tok_str_len, 0, &ecode,
			     &eoff, NULL);
	if (!code) {
		PCRE2_UCHAR text[160];

		pcre2_get_error_message(ecode, text, sizeof(text));
		/* Inside the quotes when the pattern is the source text; else at the quote. */
		expr_fail(ps,
			  ps->tok_str_plain && eoff <= ps->tok_str_len ? ps->tok_off + 1 + eoff
								       : ps->tok_off,
			  "regular expression: %s", (const char *)text);
		return;
	}
	if (!expr_grow(ps, (void **)&e->re, &ps->cap_re, e->n_re, sizeof(*e->re))) {
		pcre2_code_free(code);
		return;
	}
	e->re[e->n_re].code = code;
	e->re[e->n_re].jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	e->re[e->n_re].pat_off = ps->tok_str_off;
	e->re[e->n_re].pat_len = ps->tok_str_len;
	k = expr_emit(ps, OP_MATCH, e->n_re++, 0);
	if (!ps->failed)
		e->insn[k].neg = neg;
	expr_next(ps);
}

/*
 * Emit comparison op; when its operands are one field and one literal (the last two
 * instructions: a composite operand always ends with its operator, and no jump lands
 * between them, since jumps land after a BOOL), fuse the three into one OP_FIELD_CMP.
 */
static void expr_emit_cmp(struct expr_parser *ps, enum expr_op op)
{
	static const enum expr_op flip[] = { [OP_EQ] = OP_EQ, [OP_NE] = OP_NE, [OP_LT] = OP_GT,
					     [OP_LE] = OP_GE, [OP_GT] = OP_LT, [OP_GE] = OP_LE };
	struct sl_expr *e = ps->e;
	uint32_t n = e->n_insn, path, lit;
	struct expr_insn *in;

	if (ps->failed)
		return;
	if (n >= 2 && e->insn[n - 2].op == OP_FIELD && e->insn[n - 1].op == OP_CONST) {
		path = e->insn[n - 2].a;
		lit = e->insn[n - 1].a;
	} else if (n >= 2 && e->insn[n - 2].op == OP_CONST && e->insn[n - 1].op == OP_FIELD) {
		path = e->insn[n - 1].a;
		lit = e->insn[n - 2].a;
		op = flip[op];
	} else {
		expr_emit(ps, op, 0, 0);
		return;
	}
	/* FIELD, CONST, CMP push 2 and pop 1: the fused form pushes 1 in their place. */
	e->n_insn = n - 2;
	ps->sp -= 2;
	in = &e->insn[expr_emit(ps, OP_FIELD_CMP, path, lit)];
	in->cmp = (uint8_t)op;
}

static enum sl_expr_kind expr_parse_cmp(struct expr_parser *ps, unsigned depth)
{
	enum sl_expr_kind l = expr_parse_arith(ps, depth, 0), r;
	size_t off = ps->tok_off;
	enum expr_op op;

	if (ps->failed)
		return l;
	if (ps->tok == TOK_IN || ps->tok == TOK_NOT) {
		/* `x in [...]`, `x not in [...]`; a `not` anywhere else here is a mistake. */
		bool neg = ps->tok == TOK_NOT;

		if (neg) {
			expr_next(ps);
			if (ps->tok != TOK_IN) {
				expr_fail(ps, off, "expected 'in' after 'not' here");
				return SL_EXPR_KIND_BOOL;
			}
		}
		expr_parse_in(ps, neg);
		return SL_EXPR_KIND_BOOL;
	}
	if (ps->tok == TOK_MATCHES || ps->tok == TOK_RE_MATCH || ps->tok == TOK_RE_NMATCH) {
		bool neg = ps->tok == TOK_RE_NMATCH;

		if (!expr_want(ps, l, KIND_BIT(STR), off, "a regular expression match", ""))
			return SL_EXPR_KIND_BOOL;
		expr_parse_match(ps, neg);
		return SL_EXPR_KIND_BOOL;
	}
	if (ps->tok != TOK_CMP)
		return l;
	op = ps->tok_op;
	expr_next(ps);
	if (ps->tok == TOK_END && !ps->failed) {
		expr_fail(ps, ps->tok_off, "expected a value after '%s'", expr_op_text[op]);
		return SL_EXPR_KIND_BOOL;
	}
	r = expr_parse_arith(ps, depth, 0);
	if (ps->failed)
		return SL_EXPR_KIND_BOOL;
	if (op != OP_EQ && op != OP_NE) {
		if (l == SL_EXPR_KIND_BOOL || l == SL_EXPR_KIND_NULL || r == SL_EXPR_KIND_BOOL ||
		    r == SL_EXPR_KIND_NULL) {
			expr_fail(
				ps, off, "'%s' orders numbers or strings, not %s", expr_op_text[op],
				sl_expr_kind_name(
					l == SL_EXPR_KIND_BOOL || l == SL_EXPR_KIND_NULL ? l : r));
			return SL_EXPR_KIND_BOOL;
		}
	}
	if (l != SL_EXPR_KIND_ANY && r != SL_EXPR_KIND_ANY && l != r && l != SL_EXPR_KIND_NULL &&
	    r != SL_EXPR_KIND_NULL) {
		expr_fail(ps, off, "'%s' compares %s with %s", expr_op_text[op],
			  sl_expr_kind_name(l), sl_expr_kind_name(r));
		return SL_EXPR_KIND_BOOL;
	}
	if (ps->tok == TOK_CMP) {
		expr_fail(ps, ps->tok_off,
			  "comparisons do not chain: write 'a < b and b < c', with parentheses "
			  "if needed");
		return SL_EXPR_KIND_BOOL;
	}
	expr_emit_cmp(ps, op);
	return SL_EXPR_KIND_BOOL;
}

static enum sl_expr_kind expr_parse_not(struct expr_parser *ps, unsigned depth)
{
	size_t off = ps->tok_off;
	enum sl_expr_kind k;

	if (expr_too_deep(ps, depth))
		return SL_EXPR_KIND_ANY;
	if (ps->tok != TOK_NOT)
		return expr_parse_cmp(ps, depth);
	expr_next(ps);
	if (ps->tok == TOK_END && !ps->failed) {
		expr_fail(ps, ps->tok_off, "expected a value after 'not'");
		return SL_EXPR_KIND_BOOL;
	}
	k = expr_parse_not(ps, depth + 1);
	if (!expr_want(ps, k, KIND_BIT(BOOL), off, "'not'", ""))
		return SL_EXPR_KIND_BOOL;
	expr_emit(ps, OP_NOT, 0, 0);
	return SL_EXPR_KIND_BOOL;
}

/* chain: operand (kw operand)*, each kw jumping to the end when the result is decided */
static enum sl_expr_kind expr_parse_chain(struct expr_parser *ps, unsigned depth, enum expr_tok kw)
{
	const char *word = kw == TOK_OR ? "'or'" : "'and'";
	enum expr_op op = kw == TOK_OR ? OP_OR : OP_AND;
	uint32_t last_jump = UINT32_MAX; /* the jumps are chained through their targets */
	enum sl_expr_kind l;
	size_t off;

	l = kw == TOK_OR ? expr_parse_chain(ps, depth, TOK_AND) : expr_parse_not(ps, depth);
	if (ps->failed || ps->tok != kw)
		return l;
	while (!ps->failed && ps->tok == kw) {
		enum sl_expr_kind r;
		uint32_t j;

		off = ps->tok_off;
		if (!expr_want(ps, l, KIND_BIT(BOOL), off, word, " on its left"))
			return SL_EXPR_KIND_BOOL;
		j = expr_emit(ps, op, last_jump, 0);
		if (ps->failed)
			return SL_EXPR_KIND_BOOL;
		last_jump = j;
		expr_next(ps);
		if (ps->tok == TOK_END && !ps->failed) {
			expr_fail(ps, ps->tok_off, "expected a value after %s", word);
			return SL_EXPR_KIND_BOOL;
		}
		off = ps->tok_off;
		r = kw == TOK_OR ? expr_parse_chain(ps, depth, TOK_AND) : expr_parse_not(ps, depth);
		if (!expr_want(ps, r, KIND_BIT(BOOL), off, word, " on its right"))
			return SL_EXPR_KIND_BOOL;
		l = SL_EXPR_KIND_BOOL;
	}
	expr_emit(ps, OP_BOOL, 0, 0);
	if (ps->failed)
		return SL_EXPR_KIND_BOOL;
	/* Every jump lands after the final BOOL: the value it keeps is already a bool. */
	while (last_jump != UINT32_MAX) {
		uint32_t prev = ps->e->insn[last_jump].a;

		ps->e->insn[last_jump].a = ps->e->n_insn;
		last_jump = prev;
	}
	return SL_EXPR_KIND_BOOL;
}

static enum sl_expr_kind expr_parse_or(struct expr_parser *ps, unsigned depth)
{
	if (expr_too_deep(ps, depth))
		return SL_EXPR_KIND_ANY;
	return expr_parse_chain(ps, depth, TOK_OR);
}

/* Fill e->fields: the first part of every path and every dotted path's whole text, once. */
static int expr_collect_fields(struct sl_expr *e)
{
	uint32_t n = 0;

	e->fields = calloc(2 * (size_t)e->n_path + 1, sizeof(*e->fields));
	if (!e->fields)
		return -ENOMEM;
	for (uint32_t k = 0; k < 2 * e->n_path; k++) {
		const struct expr_path *p = &e->paths[k / 2];
		const struct sl_rec_key *key = k % 2 ? &e->keys[p->first] : &p->full;
		bool seen = false;

		if (k % 2 && p->n_seg == 1)
			continue;
		for (uint32_t j = 0; j < n && !seen; j++)
			seen = strlen(e->fields[j]) == key->len &&
			       memcmp(e->fields[j], key->name, key->len) == 0;
		if (seen)
			continue;
		e->fields[n] = strndup(key->name, key->len);
		if (!e->fields[n])
			return -ENOMEM;
		n++;
	}
	return 0;
}

const char *const *sl_expr_fields(const struct sl_expr *e)
{
	return e->fields;
}

const char **sl_expr_fields_union(struct sl_expr *const *e, uint32_t n_expr)
{
	uint32_t total = 0, n = 0;
	const char **fields;

	for (uint32_t i = 0; i < n_expr; i++)
		for (const char *const *f = sl_expr_fields(e[i]); *f; f++)
			total++;
	fields = calloc(total + 1, sizeof(*fields));
	if (!fields)
		return NULL;
	for (uint32_t i = 0; i < n_expr; i++) {
		for (const char *const *f = sl_expr_fields(e[i]); *f; f++) {
			bool seen = false;

			for (uint32_t k = 0; k < n && !seen; k++)
				seen = strcmp(fields[k], *f) == 0;
			if (!seen)
				fields[n++] = *f;
		}
	}
	return fields;
}

enum sl_expr_kind sl_expr_result_kind(const struct sl_expr *e)
{
	return e->kind;
}

/* `field OP integer` (either way round): answered by sl_expr_test with a range check. */
static void expr_find_fast(struct sl_expr *e)
{
	const struct expr_insn *in = e->insn;
	const struct expr_path *path;
	enum expr_op op;
	int64_t c, lo, hi;
	bool neg = false;

	if (e->n_insn != 1 || in[0].op != OP_FIELD_CMP)
		return;
	path = &e->paths[in[0].a];
	if (path->n_seg != 1 || e->consts[in[0].b].type != SL_EXPR_INT)
		return;
	c = e->consts[in[0].b].i;
	op = (enum expr_op)in[0].cmp;
	lo = INT64_MIN;
	hi = INT64_MAX;
	switch (op) {
	case OP_EQ:
	case OP_NE:
		lo = hi = c;
		neg = op == OP_NE;
		break;
	case OP_LT:
		if (c == INT64_MIN)
			neg = true; /* nothing is below: the whole range, inverted */
		else
			hi = c - 1;
		break;
	case OP_LE:
		hi = c;
		break;
	case OP_GT:
		if (c == INT64_MAX)
			neg = true;
		else
			lo = c + 1;
		break;
	default:
		lo = c;
		break;
	}
	e->head.lo = (uint64_t)lo;
	e->head.span = (uint64_t)hi - (uint64_t)lo;
	e->head.fast_neg = neg;
	e->head.key = path->full;
	e->head.fast = SL_EXPR_FAST_INT_RANGE;
}

/* Per-lcore blocks: match data for every regex, a string buffer for every lower/upper. */
static int expr_alloc_lcores(struct sl_expr *e, uint32_t n_lcores)
{
	e->n_lcores = n_lcores ? n_lcores : 1;
	if (e->n_re) {
		e->mctx = pcre2_match_context_create(NULL);
		if (!e->mctx)
			return -ENOMEM;
		pcre2_set_match_limit(e->mctx, EXPR_MATCH_LIMIT);
		e->md = calloc((size_t)e->n_lcores * e->n_re, sizeof(*e->md));
		if (!e->md)
			return -ENOMEM;
		for (uint32_t l = 0; l < e->n_lcores; l++) {
			for (uint32_t k = 0; k < e->n_re; k++) {
				pcre2_match_data *md =
					pcre2_match_data_create_from_pattern(e->re[k].code, NULL);

				if (!md)
					return -ENOMEM;
				e->md[l * e->n_re + k] = md;
				/* Without JIT the interpreter allocates its frames on first use;
				 * do it now, not on a worker. */
				if (!e->re[k].jit)
					pcre2_match(e->re[k].code, (PCRE2_SPTR) "", 0, 0, 0, md,
						    e->mctx);
			}
		}
	}
	if (e->n_buf) {
		e->buf = malloc((size_t)e->n_lcores * e->n_buf * SL_EXPR_STR_MAX);
		if (!e->buf)
			return -ENOMEM;
	}
	return 0;
}

int sl_expr_compile(const char *src, uint32_t n_lcores, struct sl_expr **out, uint32_t *err_offset,
		    char *msg, size_t msg_len)
{
	size_t len = strlen(src);
	struct expr_parser ps = { .src = src, .msg = msg, .msg_len = msg_len };
	struct sl_expr *e;
	int rc;

	*out = NULL;
	if (len > UINT32_MAX / 4) {
		*err_offset = 0;
		snprintf(msg, msg_len, "expression too long");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* Names and decoded strings, each with a NUL, never more than twice the source. */
	e->pool = malloc(2 * len + 2);
	if (!e->pool) {
		free(e);
		return -ENOMEM;
	}
	ps.e = e;
	expr_next(&ps);
	if (ps.tok == TOK_END && !ps.failed)
		expr_fail(&ps, 0, "empty expression");
	e->kind = expr_parse_or(&ps, 0);
	if (!ps.failed && ps.tok == TOK_RPAREN)
		expr_fail(&ps, ps.tok_off, "unbalanced parenthesis: ')' without '('");
	if (!ps.failed && ps.tok != TOK_END)
		expr_fail(&ps, ps.tok_off, "expected an operator or the end, found '%.*s'",
			  EXPR_TOK_TEXT(&ps));
	if (ps.failed) {
		*err_offset = ps.err_off;
		sl_expr_destroy(e);
		return ps.oom ? -ENOMEM : -EINVAL;
	}
	/* The pool is final: offsets become pointers. */
	for (uint32_t k = 0; k < e->n_const; k++)
		if (e->consts[k].type == SL_EXPR_STR)
			e->consts[k].s.p = e->pool + (uintptr_t)e->consts[k].s.p;
	for (uint32_t k = 0; k < e->n_key; k++)
		sl_rec_key_init(&e->keys[k], e->pool + (uintptr_t)e->keys[k].name, e->keys[k].len);
	for (uint32_t k = 0; k < e->n_path; k++)
		sl_rec_key_init(&e->paths[k].full, e->pool + (uintptr_t)e->paths[k].full.name,
				e->paths[k].full.len);
	rc = expr_alloc_lcores(e, n_lcores);
	if (rc == 0)
		rc = expr_collect_fields(e);
	if (rc < 0) {
		sl_expr_destroy(e);
		return rc;
	}
	expr_find_fast(e);
	e->bool_only = true;
	for (uint32_t k = 0; k < e->n_insn; k++)
		if (e->insn[k].op != OP_FIELD_CMP && e->insn[k].op != OP_AND &&
		    e->insn[k].op != OP_OR && e->insn[k].op != OP_NOT && e->insn[k].op != OP_BOOL)
			e->bool_only = false;
	*out = e;
	return 0;
}

/* ---- evaluation ---- */

static inline void expr_from_val(const struct sl_val *x, struct sl_expr_value *v)
{
	switch (x->type) {
	case SL_VAL_INT:
		v->type = SL_EXPR_INT;
		v->i = x->i;
		break;
	case SL_VAL_UINT: /* above INT64_MAX: read as a float */
		v->type = SL_EXPR_FLOAT;
		v->f = (double)x->u;
		break;
	case SL_VAL_FLOAT:
		v->type = SL_EXPR_FLOAT;
		v->f = x->f;
		break;
	case SL_VAL_STR:
		v->type = SL_EXPR_STR;
		v->s.p = x->s.p;
		v->s.len = x->s.len;
		break;
	case SL_VAL_BOOL:
		v->type = SL_EXPR_BOOL;
		v->b = x->b;
		break;
	case SL_VAL_NIL:
		v->type = SL_EXPR_NULL;
		break;
	case SL_VAL_NONE:
		v->type = SL_EXPR_MISSING;
		break;
	default:
		v->type = SL_EXPR_OTHER;
		v->raw = x->raw;
		v->raw_len = x->raw_len;
		break;
	}
}

/* A path: the whole text as one key first (flattened records: "user.id"), then part by
 * part through nested maps. */
static void expr_load(const struct sl_expr *e, const struct expr_path *p, struct sl_rec rec,
		      struct sl_expr_value *v)
{
	struct sl_val x;

	/* A failed lookup may leave x half-filled (a value it stepped over): NONE it. */
	if (!sl_rec_get(rec, &p->full, &x)) {
		struct sl_rec r = rec;

		x.type = SL_VAL_NONE;
		for (uint32_t k = 0; p->n_seg > 1 && k < p->n_seg; k++) {
			if (!sl_rec_get(r, &e->keys[p->first + k], &x)) {
				x.type = SL_VAL_NONE;
				break;
			}
			if (k + 1 == p->n_seg)
				break;
			if (x.type != SL_VAL_MAP) {
				x.type = SL_VAL_NONE;
				break;
			}
			r.p = x.raw;
			r.len = x.raw_len;
		}
	}
	expr_from_val(&x, v);
}

static inline bool expr_is_num(const struct sl_expr_value *v)
{
	return v->type == SL_EXPR_INT || v->type == SL_EXPR_FLOAT;
}

static inline double expr_as_double(const struct sl_expr_value *v)
{
	return v->type == SL_EXPR_INT ? (double)v->i : v->f;
}

/* Exact three-way compare of an integer with a float (2: NaN). Converting i to a double
 * would round above 2^53 (2^63 - 1 and 2^63 would be equal). */
static int expr_order_int_float(int64_t i, double f)
{
	int64_t t;
	double frac;

	if (isnan(f))
		return 2;
	if (f >= 9223372036854775808.0)
		return -1;
	if (f < -9223372036854775808.0)
		return 1;
	t = (int64_t)f; /* in range: truncation toward zero is exact */
	if (i != t)
		return i < t ? -1 : 1;
	frac = f - (double)t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* Three-way compare of two numbers or two strings: -1, 0, 1; 2 when they cannot be
 * ordered (other types, or a NaN). */
static int expr_order(const struct sl_expr_value *a, const struct sl_expr_value *b)
{
	if (a->type == SL_EXPR_INT && b->type == SL_EXPR_INT)
		return (a->i > b->i) - (a->i < b->i);
	if (a->type == SL_EXPR_INT && b->type == SL_EXPR_FLOAT)
		return expr_order_int_float(a->i, b->f);
	if (a->type == SL_EXPR_FLOAT && b->type == SL_EXPR_INT) {
		int c = expr_order_int_float(b->i, a->f);
		return c == 2 ? 2 : -c;
	}
	if (expr_is_num(a) && expr_is_num(b)) {
		double x = expr_as_double(a), y = expr_as_double(b);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
		return x == y ? 0 : 2;
	}
	if (a->type == SL_EXPR_STR && b->type == SL_EXPR_STR) {
		uint32_t n = a->s.len < b->s.len ? a->s.len : b->s.len;
		int c = n ? memcmp(a->s.p, b->s.p, n) : 0;

		if (c == 0)
			return (a->s.len > b->s.len) - (a->s.len < b->s.len);
		return c < 0 ? -1 : 1;
	}
	return 2;
}

/* Equality: 1 equal, 0 different, -1 cannot be compared (== and != both false). Missing
 * and null equal each other; null differs from any other value; a missing value or a
 * map/array compares with nothing else; numbers compare across int and float. */
static int expr_equal(const struct sl_expr_value *a, const struct sl_expr_value *b)
{
	bool an = a->type == SL_EXPR_NULL || a->type == SL_EXPR_MISSING;
	bool bn = b->type == SL_EXPR_NULL || b->type == SL_EXPR_MISSING;
	int c;

	if (an && bn)
		return 1;
	if (a->type == SL_EXPR_MISSING || b->type == SL_EXPR_MISSING)
		return -1;
	if (an || bn)
		return 0;
	if (a->type == SL_EXPR_BOOL && b->type == SL_EXPR_BOOL)
		return a->b == b->b;
	c = expr_order(a, b);
	if (c == 2)
		return expr_is_num(a) && expr_is_num(b) ? 0 : -1; /* NaN: different */
	return c == 0;
}

static void expr_arith(enum expr_op op, struct sl_expr_value *a, const struct sl_expr_value *b)
{
	if (!expr_is_num(a) || !expr_is_num(b)) {
		a->type = SL_EXPR_MISSING;
		return;
	}
	if (a->type == SL_EXPR_INT && b->type == SL_EXPR_INT && op != OP_DIV) {
		int64_t r = 0;
		bool ovf = false;

		switch (op) {
		case OP_ADD:
			ovf = __builtin_add_overflow(a->i, b->i, &r);
			break;
		case OP_SUB:
			ovf = __builtin_sub_overflow(a->i, b->i, &r);
			break;
		case OP_MUL:
			ovf = __builtin_mul_overflow(a->i, b->i, &r);
			break;
		default: /* OP_MOD: C's remainder, the sign of the dividend */
			if (b->i == 0)
				ovf = true;
			else
				r = b->i == -1 ? 0 : a->i % b->i;
			break;
		}
		if (ovf)
			a->type = SL_EXPR_MISSING;
		else
			a->i = r;
		return;
	}
	{
		double x = expr_as_double(a), y = expr_as_double(b), r;

		switch (op) {
		case OP_ADD:
			r = x + y;
			break;
		case OP_SUB:
			r = x - y;
			break;
		case OP_MUL:
			r = x * y;
			break;
		case OP_DIV:
			if (y == 0) {
				a->type = SL_EXPR_MISSING;
				return;
			}
			r = x / y;
			break;
		default:
			if (y == 0) {
				a->type = SL_EXPR_MISSING;
				return;
			}
			r = fmod(x, y);
			break;
		}
		a->type = SL_EXPR_FLOAT;
		a->f = r;
	}
}

/* Which outcomes of a three-way compare (bit c + 1 for c = -1, 0, 1) each operator
 * accepts. */
static const uint8_t expr_accept[] = { [OP_EQ - OP_EQ] = 0x2, [OP_NE - OP_EQ] = 0x5,
				       [OP_LT - OP_EQ] = 0x1, [OP_LE - OP_EQ] = 0x3,
				       [OP_GT - OP_EQ] = 0x4, [OP_GE - OP_EQ] = 0x6 };

/* a op b for a comparison operator, with the rules of expr_equal and expr_order. */
static bool expr_compare(enum expr_op op, const struct sl_expr_value *a,
			 const struct sl_expr_value *b)
{
	int c;

	if (op == OP_EQ || op == OP_NE) {
		c = expr_equal(a, b);
		return c >= 0 && (c == 1) == (op == OP_EQ);
	}
	c = expr_order(a, b);
	return c != 2 && ((expr_accept[op - OP_EQ] >> (c + 1)) & 1);
}

/* OP_FIELD_CMP: integer and string fields against a literal of their type without
 * building values; anything else through expr_compare. */
static bool expr_field_cmp(const struct sl_expr *e, const struct expr_insn *in, struct sl_rec rec)
{
	const struct expr_path *p = &e->paths[in->a];
	const struct sl_expr_value *lit = &e->consts[in->b];
	struct sl_expr_value v = { .type = SL_EXPR_MISSING };
	struct sl_val x;

	if (p->n_seg == 1) {
		int c;

		if (!sl_rec_get(rec, &p->full, &x)) {
			/* missing: equal to null only */
			return lit->type == SL_EXPR_NULL && in->cmp == OP_EQ;
		}
		if (x.type == SL_VAL_INT && lit->type == SL_EXPR_INT) {
			c = (x.i > lit->i) - (x.i < lit->i);
			return (expr_accept[in->cmp - OP_EQ] >> (c + 1)) & 1;
		}
		if (x.type == SL_VAL_STR && lit->type == SL_EXPR_STR) {
			uint32_t n = x.s.len < lit->s.len ? x.s.len : lit->s.len;

			c = n ? memcmp(x.s.p, lit->s.p, n) : 0;
			c = c ? (c < 0 ? -1 : 1) : (x.s.len > lit->s.len) - (x.s.len < lit->s.len);
			return (expr_accept[in->cmp - OP_EQ] >> (c + 1)) & 1;
		}
		expr_from_val(&x, &v);
	} else {
		expr_load(e, p, rec, &v);
	}
	return expr_compare((enum expr_op)in->cmp, &v, lit);
}

static inline bool expr_true(const struct sl_expr_value *v)
{
	return v->type == SL_EXPR_BOOL && v->b;
}

static inline void expr_set_bool(struct sl_expr_value *v, bool b)
{
	v->type = SL_EXPR_BOOL;
	v->b = b;
}

static bool expr_contains(const char *h, uint32_t hn, const char *n, uint32_t nn)
{
	if (nn == 0)
		return true;
	if (nn > hn)
		return false;
	return memmem(h, hn, n, nn) != NULL;
}

/* Number of elements of an encoded array or map (len()). */
static bool expr_count(const struct sl_expr_value *v, int64_t *n)
{
	struct sl_val h;
	uint64_t ch;

	if (!sl_mp_head(v->raw, v->raw + v->raw_len, &h, &ch))
		return false;
	if (h.type != SL_VAL_ARRAY && h.type != SL_VAL_MAP)
		return false;
	*n = h.n;
	return true;
}

void sl_expr_eval(const struct sl_expr *e, struct sl_rec rec, unsigned lcore,
		  struct sl_expr_value *out)
{
	/* st[0] is never a value: t starts there so the first push lands on st[1]. */
	struct sl_expr_value st[SL_EXPR_STACK + 2];
	struct sl_expr_value *t = st; /* top of stack */
	uint32_t pc = 0;

	lcore %= e->n_lcores;
	while (pc < e->n_insn) {
		const struct expr_insn *in = &e->insn[pc++];

		switch ((enum expr_op)in->op) {
		case OP_CONST:
			*++t = e->consts[in->a];
			break;
		case OP_FIELD:
			expr_load(e, &e->paths[in->a], rec, ++t);
			break;
		case OP_NEG:
			if (t->type == SL_EXPR_INT && t->i != INT64_MIN)
				t->i = -t->i;
			else if (t->type == SL_EXPR_FLOAT)
				t->f = -t->f;
			else
				t->type = SL_EXPR_MISSING;
			break;
		case OP_ADD:
		case OP_SUB:
		case OP_MUL:
		case OP_DIV:
		case OP_MOD:
			t--;
			expr_arith((enum expr_op)in->op, t, t + 1);
			break;
		case OP_EQ:
		case OP_NE:
		case OP_LT:
		case OP_LE:
		case OP_GT:
		case OP_GE:
			t--;
			expr_set_bool(t, expr_compare((enum expr_op)in->op, t, t + 1));
			break;
		case OP_FIELD_CMP:
			expr_set_bool(++t, expr_field_cmp(e, in, rec));
			break;
		case OP_NOT:
			expr_set_bool(t, !expr_true(t));
			break;
		case OP_AND:
			if (!expr_true(t)) {
				expr_set_bool(t, false);
				pc = in->a;
			} else {
				t--;
			}
			break;
		case OP_OR:
			if (expr_true(t))
				pc = in->a;
			else
				t--;
			break;
		case OP_BOOL:
			expr_set_bool(t, expr_true(t));
			break;
		case OP_IN: {
			bool hit = false;

			for (uint32_t k = 0; k < in->b && !hit; k++)
				hit = expr_equal(t, &e->consts[in->a + k]) == 1;
			/* A missing value is in no list, and not "not in" one either. */
			if (t->type == SL_EXPR_MISSING && !hit)
				expr_set_bool(t, false);
			else
				expr_set_bool(t, hit != in->neg);
			break;
		}
		case OP_MATCH: {
			const struct expr_regex *re = &e->re[in->a];
			pcre2_match_data *md = e->md[lcore * e->n_re + in->a];
			int rc;

			if (t->type != SL_EXPR_STR) {
				expr_set_bool(t, false);
				break;
			}
			if (re->jit)
				rc = pcre2_jit_match(re->code, (PCRE2_SPTR)(t->s.len ? t->s.p : ""),
						     t->s.len, 0, 0, md, e->mctx);
			else
				rc = pcre2_match(re->code, (PCRE2_SPTR)(t->s.len ? t->s.p : ""),
						 t->s.len, 0, 0, md, e->mctx);
			/* An error (match limit) is no match either way. */
			expr_set_bool(t,
				      rc >= 0 ? !in->neg : (rc == PCRE2_ERROR_NOMATCH && in->neg));
			break;
		}
		case OP_PREFIX:
		case OP_SUFFIX:
		case OP_CONTAINS: {
			const struct sl_expr_value *s = t--;
			bool r = false;

			if (t->type == SL_EXPR_STR && s->type == SL_EXPR_STR &&
			    s->s.len <= t->s.len) {
				if (in->op == OP_PREFIX)
					r = s->s.len == 0 || memcmp(t->s.p, s->s.p, s->s.len) == 0;
				else if (in->op == OP_SUFFIX)
					r = s->s.len == 0 || memcmp(t->s.p + t->s.len - s->s.len,
								    s->s.p, s->s.len) == 0;
				else
					r = expr_contains(t->s.p, t->s.len, s->s.p, s->s.len);
			}
			expr_set_bool(t, r);
			break;
		}
		case OP_LOWER:
		case OP_UPPER: {
			char *b = e->buf + ((size_t)lcore * e->n_buf + in->a) * SL_EXPR_STR_MAX;
			bool low = in->op == OP_LOWER;

			if (t->type != SL_EXPR_STR || t->s.len > SL_EXPR_STR_MAX) {
				t->type = SL_EXPR_MISSING;
				break;
			}
			for (uint32_t k = 0; k < t->s.len; k++) {
				char c = t->s.p[k];

				if (low && c >= 'A' && c <= 'Z')
					c = (char)(c + 32);
				else if (!low && c >= 'a' && c <= 'z')
					c = (char)(c - 32);
				b[k] = c;
			}
			t->s.p = b;
			break;
		}
		case OP_LEN: {
			int64_t n;

			if (t->type == SL_EXPR_STR) {
				t->type = SL_EXPR_INT;
				t->i = t->s.len;
			} else if (t->type == SL_EXPR_OTHER && expr_count(t, &n)) {
				t->type = SL_EXPR_INT;
				t->i = n;
			} else {
				t->type = SL_EXPR_MISSING;
			}
			break;
		}
		case OP_EPOCH_NS: {
			int64_t ns;

			if (t->type == SL_EXPR_STR && sl_agg_time_parse(t->s.p, t->s.len, &ns)) {
				t->type = SL_EXPR_INT;
				t->i = ns;
			} else {
				t->type = SL_EXPR_MISSING;
			}
			break;
		}
		}
	}
	*out = *t;
}

/*
 * A program of field-literal comparisons joined by and / or / not never holds more than
 * one value, a boolean: run it with that boolean in a register (the fuzz target checks it
 * agrees with sl_expr_eval).
 */
static __attribute__((flatten)) bool expr_run_bool(const struct sl_expr *e, struct sl_rec rec)
{
	bool acc = false;
	uint32_t pc = 0;

	while (pc < e->n_insn) {
		const struct expr_insn *in = &e->insn[pc++];

		switch ((enum expr_op)in->op) {
		case OP_FIELD_CMP: {
			const struct expr_path *p = &e->paths[in->a];
			const struct sl_expr_value *lit = &e->consts[in->b];
			struct sl_val x;

			/* An integer field against an integer: here, without a call. */
			if (p->n_seg == 1 && lit->type == SL_EXPR_INT &&
			    sl_rec_get(rec, &p->full, &x) && x.type == SL_VAL_INT) {
				int c = (x.i > lit->i) - (x.i < lit->i);

				acc = (expr_accept[in->cmp - OP_EQ] >> (c + 1)) & 1;
			} else {
				acc = expr_field_cmp(e, in, rec);
			}
			break;
		}
		case OP_AND:
			if (!acc)
				pc = in->a;
			break;
		case OP_OR:
			if (acc)
				pc = in->a;
			break;
		case OP_NOT:
			acc = !acc;
			break;
		default: /* OP_BOOL */
			break;
		}
	}
	return acc;
}

/* Kept out of sl_expr_test_slow so that its value stack does not weigh on the boolean
 * path (register saves and the stack guard on every call). */
static __attribute__((noinline)) bool expr_test_values(const struct sl_expr *e, struct sl_rec rec,
						       unsigned lcore)
{
	struct sl_expr_value v;

	sl_expr_eval(e, rec, lcore, &v);
	return expr_true(&v);
}

bool sl_expr_test_slow(const struct sl_expr *e, struct sl_rec rec, unsigned lcore)
{
	if (e->bool_only)
		return expr_run_bool(e, rec);
	return expr_test_values(e, rec, lcore);
}

bool sl_expr_single_match(const struct sl_expr *e, const struct sl_rec_key **field,
			  const char **pattern, size_t *pattern_len)
{
	const struct expr_path *p;

	if (!e || e->n_insn != 2 || e->insn[0].op != OP_FIELD || e->insn[1].op != OP_MATCH ||
	    e->insn[1].neg)
		return false;
	p = &e->paths[e->insn[0].a];
	if (p->n_seg != 1)
		return false;
	*field = &p->full;
	*pattern = e->pool + e->re[e->insn[1].a].pat_off;
	*pattern_len = e->re[e->insn[1].a].pat_len;
	return true;
}

void sl_expr_destroy(struct sl_expr *e)
{
	if (!e)
		return;
	if (e->fields) {
		for (uint32_t k = 0; e->fields[k]; k++)
			free((void *)e->fields[k]);
		free(e->fields);
	}
	if (e->md) {
		for (uint32_t k = 0; k < e->n_lcores * e->n_re; k++)
			pcre2_match_data_free(e->md[k]);
		free(e->md);
	}
	pcre2_match_context_free(e->mctx);
	for (uint32_t k = 0; k < e->n_re; k++)
		pcre2_code_free(e->re[k].code);
	free(e->re);
	free(e->buf);
	free(e->insn);
	free(e->consts);
	free(e->paths);
	free(e->keys);
	free(e->pool);
	free(e);
}
