/*
 * Expression compiler and evaluator (see expr.h). Compilation is a recursive-descent
 * parser over a small lexer that emits code for a single boolean accumulator:
 *
 *   A and B  ->  A; JF end; B; end:        A or B  ->  A; JT end; B; end:
 *   not A    ->  A; NOT                    cmp     ->  acc = field <op> literal
 *
 * Every subexpression leaves its value in the accumulator and jumps only go forward to the
 * end of the enclosing and/or, so evaluation is one loop with no stack and no recursion.
 * Field names and string literals live in a pool after the instructions, in the same
 * block as the header. Owned by the caller of sl_expr_compile; immutable afterwards.
 */
#include "expr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum expr_op {
	EXPR_EQ = 0,
	EXPR_NE,
	EXPR_LT,
	EXPR_LE,
	EXPR_GT,
	EXPR_GE,
	EXPR_JF, /* jump to target when the accumulator is false */
	EXPR_JT, /* jump to target when the accumulator is true */
	EXPR_NOT,
};

struct expr_insn {
	uint8_t op;	 /* enum expr_op */
	bool lit_is_str; /* comparisons: string literal, else integer */
	uint32_t target; /* jumps: index of the next instruction to run */
	uint32_t name_off, name_len;
	uint32_t str_off, str_len;
	int64_t i;
	struct sl_rec_key key; /* comparisons: the field, prepared once compiled */
};

struct sl_expr {
	uint32_t n_insn;
	const char *pool;
	const char **fields; /* distinct field names, NULL-terminated, NUL-terminated copies */
	struct expr_insn insn[];
};

enum expr_tok {
	TOK_END = 0,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_AND,
	TOK_OR,
	TOK_NOT,
	TOK_NAME,
	TOK_INT,
	TOK_STR,
	TOK_OP,
};

struct expr_parser {
	const char *src;
	size_t pos; /* next byte to lex */
	/* current token */
	enum expr_tok tok;
	size_t tok_off, tok_len;
	enum expr_op tok_op;
	int64_t tok_i;
	uint32_t tok_str_off, tok_str_len; /* TOK_STR: decoded into the pool */
	/* output */
	struct expr_insn *insn;
	uint32_t n_insn, cap_insn;
	char *pool;
	uint32_t pool_len;
	/* error */
	bool failed;
	uint32_t err_off;
	char *msg;
	size_t msg_len;
};

static const char *const expr_op_text[] = { "==", "!=", "<", "<=", ">", ">=" };

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

static bool expr_is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool expr_is_name_char(char c)
{
	return expr_is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
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
	for (;;) {
		char c = s[p];

		if (c == '\0') {
			expr_fail(ps, ps->tok_off, "unterminated string");
			return;
		}
		if (c == quote)
			break;
		if (c == '\\') {
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
				expr_fail(ps, p - 1, "unknown escape '\\%c' in string", c);
				return;
			}
		}
		ps->pool[ps->pool_len++] = c;
		p++;
	}
	ps->tok_str_len = ps->pool_len - ps->tok_str_off;
	ps->pos = p + 1;
}

static void expr_lex_int(struct expr_parser *ps)
{
	const char *s = ps->src;
	size_t p = ps->pos;
	bool neg = s[p] == '-';
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	p += neg;
	for (; s[p] >= '0' && s[p] <= '9'; p++) {
		unsigned d = (unsigned)(s[p] - '0');
		if (v > (limit - d) / 10) {
			expr_fail(ps, ps->tok_off, "integer out of range");
			return;
		}
		v = v * 10 + d;
	}
	if (expr_is_name_char(s[p])) {
		expr_fail(ps, ps->tok_off, "malformed number");
		return;
	}
	ps->tok = TOK_INT;
	ps->tok_i = neg ? (int64_t)(0 - v) : (int64_t)v;
	ps->pos = p;
}

static void expr_lex_op(struct expr_parser *ps)
{
	const char *s = ps->src;
	size_t p = ps->pos;
	char c = s[p], d = s[p + 1];
	size_t n = d == '=' ? 2 : 1;

	if (c == '=' && d == '=')
		ps->tok_op = EXPR_EQ;
	else if (c == '!' && d == '=')
		ps->tok_op = EXPR_NE;
	else if (c == '<')
		ps->tok_op = n == 2 ? EXPR_LE : EXPR_LT;
	else if (c == '>')
		ps->tok_op = n == 2 ? EXPR_GE : EXPR_GT;
	else
		n = 0;
	/* "=", "!", "=<", "<>", "===": a run of operator characters we do not know. */
	if (n == 0 || (s[p + n] != '\0' && strchr("=<>!", s[p + n]))) {
		size_t e = p;
		while (s[e] != '\0' && strchr("=<>!", s[e]))
			e++;
		expr_fail(ps, p, "unknown operator '%.*s'", (int)(e - p), s + p);
		return;
	}
	ps->tok = TOK_OP;
	ps->pos = p + n;
}

/* Read the next token into ps->tok (TOK_END at the end or after an error). */
static void expr_next(struct expr_parser *ps)
{
	const char *s = ps->src;
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
	if (c == '(' || c == ')') {
		ps->tok = c == '(' ? TOK_LPAREN : TOK_RPAREN;
		ps->pos++;
	} else if (c == '"' || c == '\'') {
		expr_lex_string(ps);
	} else if ((c >= '0' && c <= '9') ||
		   (c == '-' && s[ps->pos + 1] >= '0' && s[ps->pos + 1] <= '9')) {
		expr_lex_int(ps);
	} else if (expr_is_name_start(c)) {
		size_t p = ps->pos;
		while (expr_is_name_char(s[p]))
			p++;
		ps->tok_len = p - ps->pos;
		ps->tok = TOK_NAME;
		if (ps->tok_len == 3 && memcmp(s + ps->pos, "and", 3) == 0)
			ps->tok = TOK_AND;
		else if (ps->tok_len == 2 && memcmp(s + ps->pos, "or", 2) == 0)
			ps->tok = TOK_OR;
		else if (ps->tok_len == 3 && memcmp(s + ps->pos, "not", 3) == 0)
			ps->tok = TOK_NOT;
		ps->pos = p;
	} else if (strchr("=!<>", c)) {
		expr_lex_op(ps);
	} else {
		expr_fail(ps, ps->pos, "unexpected character '%c'", c);
	}
	ps->tok_len = ps->pos - ps->tok_off;
	if (ps->failed)
		ps->tok = TOK_END;
}

static uint32_t expr_emit(struct expr_parser *ps, enum expr_op op)
{
	struct expr_insn *in;

	/* cap_insn bounds the tokens of the source, so this cannot overflow. */
	in = &ps->insn[ps->n_insn];
	memset(in, 0, sizeof(*in));
	in->op = (uint8_t)op;
	return ps->n_insn++;
}

static void expr_parse_or(struct expr_parser *ps, unsigned depth);

/* operand op operand, one of them a field name, the other a literal. */
static void expr_parse_cmp(struct expr_parser *ps)
{
	static const enum expr_op flip[] = { EXPR_EQ, EXPR_NE, EXPR_GT, EXPR_GE, EXPR_LT, EXPR_LE };
	enum expr_tok side[2];
	size_t side_off[2], side_len[2];
	int64_t side_i[2] = { 0, 0 };
	uint32_t side_str_off[2] = { 0, 0 }, side_str_len[2] = { 0, 0 };
	enum expr_op op = EXPR_EQ;
	struct expr_insn *in;
	int name_side, lit_side;

	for (int k = 0; k < 2; k++) {
		if (ps->tok != TOK_NAME && ps->tok != TOK_INT && ps->tok != TOK_STR) {
			if (ps->failed)
				return;
			if (k == 0)
				expr_fail(
					ps, ps->tok_off,
					ps->tok == TOK_END
						? "expected a comparison at the end"
						: "expected a comparison (field, operator, value)");
			else
				expr_fail(ps, ps->tok_off, "expected a value after '%s'",
					  expr_op_text[op]);
			return;
		}
		side[k] = ps->tok;
		side_off[k] = ps->tok_off;
		side_len[k] = ps->tok_len;
		side_i[k] = ps->tok_i;
		side_str_off[k] = ps->tok_str_off;
		side_str_len[k] = ps->tok_str_len;
		expr_next(ps);
		if (k == 1)
			break;
		if (ps->tok != TOK_OP) {
			if (!ps->failed)
				expr_fail(ps, ps->tok_off,
					  "expected a comparison operator "
					  "(== != < <= > >=) after '%.*s'",
					  (int)side_len[0], ps->src + side_off[0]);
			return;
		}
		op = ps->tok_op;
		expr_next(ps);
	}
	if (side[0] == TOK_NAME && side[1] == TOK_NAME) {
		expr_fail(ps, side_off[1], "expected a value after '%s', not a field name",
			  expr_op_text[op]);
		return;
	}
	if (side[0] != TOK_NAME && side[1] != TOK_NAME) {
		expr_fail(ps, side_off[0], "a comparison needs a field name on one side");
		return;
	}
	name_side = side[0] == TOK_NAME ? 0 : 1;
	lit_side = 1 - name_side;
	if (name_side == 1)
		op = flip[op];
	in = &ps->insn[expr_emit(ps, op)];
	/* Field names are copied into the pool so the compiled form owns everything. */
	in->name_off = ps->pool_len;
	in->name_len = (uint32_t)side_len[name_side];
	memcpy(ps->pool + ps->pool_len, ps->src + side_off[name_side], side_len[name_side]);
	ps->pool_len += (uint32_t)side_len[name_side];
	in->lit_is_str = side[lit_side] == TOK_STR;
	in->i = side_i[lit_side];
	in->str_off = side_str_off[lit_side];
	in->str_len = side_str_len[lit_side];
}

static void expr_parse_not(struct expr_parser *ps, unsigned depth)
{
	if (depth > SL_EXPR_MAX_DEPTH) {
		expr_fail(ps, ps->tok_off, "expression nested too deeply (more than %d levels)",
			  SL_EXPR_MAX_DEPTH);
		return;
	}
	if (ps->tok == TOK_NOT) {
		expr_next(ps);
		expr_parse_not(ps, depth + 1);
		expr_emit(ps, EXPR_NOT);
	} else if (ps->tok == TOK_LPAREN) {
		size_t open = ps->tok_off;
		expr_next(ps);
		expr_parse_or(ps, depth + 1);
		if (ps->failed)
			return;
		if (ps->tok == TOK_END) {
			expr_fail(ps, open, "unbalanced parenthesis: '(' is never closed");
			return;
		}
		if (ps->tok != TOK_RPAREN) {
			expr_fail(ps, ps->tok_off, "expected 'and', 'or' or ')', found '%.*s'",
				  (int)ps->tok_len, ps->src + ps->tok_off);
			return;
		}
		expr_next(ps);
	} else {
		expr_parse_cmp(ps);
	}
}

/* chain: operand (kw operand)*, each kw jumping to the end when the result is decided */
static void expr_parse_chain(struct expr_parser *ps, unsigned depth, enum expr_tok kw)
{
	uint32_t first = ps->n_insn;

	if (kw == TOK_OR)
		expr_parse_chain(ps, depth, TOK_AND);
	else
		expr_parse_not(ps, depth);
	while (!ps->failed && ps->tok == kw) {
		expr_emit(ps, kw == TOK_OR ? EXPR_JT : EXPR_JF);
		expr_next(ps);
		if (kw == TOK_OR)
			expr_parse_chain(ps, depth, TOK_AND);
		else
			expr_parse_not(ps, depth);
	}
	/* Patch this chain's own jumps (nested chains patched theirs already). */
	for (uint32_t k = first; k < ps->n_insn; k++) {
		struct expr_insn *in = &ps->insn[k];
		if (in->op == (kw == TOK_OR ? EXPR_JT : EXPR_JF) && in->target == 0)
			in->target = ps->n_insn;
	}
}

static void expr_parse_or(struct expr_parser *ps, unsigned depth)
{
	expr_parse_chain(ps, depth, TOK_OR);
}

/* Fill e->fields: each compared field once, as its own NUL-terminated string. */
static int expr_collect_fields(struct sl_expr *e)
{
	uint32_t n = 0;

	e->fields = calloc(e->n_insn + 1, sizeof(*e->fields));
	if (!e->fields)
		return -ENOMEM;
	for (uint32_t k = 0; k < e->n_insn; k++) {
		const struct expr_insn *in = &e->insn[k];
		bool seen = false;

		if (in->op > EXPR_GE)
			continue;
		for (uint32_t j = 0; j < n && !seen; j++)
			seen = strlen(e->fields[j]) == in->name_len &&
			       memcmp(e->fields[j], e->pool + in->name_off, in->name_len) == 0;
		if (seen)
			continue;
		e->fields[n] = strndup(e->pool + in->name_off, in->name_len);
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

int sl_expr_compile(const char *src, struct sl_expr **out, uint32_t *err_offset, char *msg,
		    size_t msg_len)
{
	size_t len = strlen(src), pool_off;
	struct expr_parser ps = { .src = src, .msg = msg, .msg_len = msg_len };
	struct sl_expr *e;

	if (len > UINT32_MAX / 2) {
		*err_offset = 0;
		snprintf(msg, msg_len, "expression too long");
		return -EINVAL;
	}
	/* Every instruction consumes at least one source byte; the pool holds names and
	 * decoded strings, never longer than the source. */
	ps.cap_insn = (uint32_t)len + 1;
	ps.insn = calloc(ps.cap_insn, sizeof(*ps.insn));
	ps.pool = malloc(len + 1);
	if (!ps.insn || !ps.pool) {
		free(ps.insn);
		free(ps.pool);
		return -ENOMEM;
	}
	expr_next(&ps);
	if (ps.tok == TOK_END && !ps.failed)
		expr_fail(&ps, 0, "empty expression");
	expr_parse_or(&ps, 0);
	if (!ps.failed && ps.tok == TOK_RPAREN)
		expr_fail(&ps, ps.tok_off, "unbalanced parenthesis: ')' without '('");
	if (!ps.failed && ps.tok != TOK_END)
		expr_fail(&ps, ps.tok_off, "expected 'and', 'or' or the end, found '%.*s'",
			  (int)ps.tok_len, src + ps.tok_off);
	if (ps.failed) {
		*err_offset = ps.err_off;
		free(ps.insn);
		free(ps.pool);
		return -EINVAL;
	}
	pool_off = sizeof(*e) + ps.n_insn * sizeof(struct expr_insn);
	e = malloc(pool_off + ps.pool_len + 1);
	if (!e) {
		free(ps.insn);
		free(ps.pool);
		return -ENOMEM;
	}
	e->n_insn = ps.n_insn;
	e->fields = NULL;
	memcpy(e->insn, ps.insn, ps.n_insn * sizeof(struct expr_insn));
	memcpy((char *)e + pool_off, ps.pool, ps.pool_len);
	((char *)e)[pool_off + ps.pool_len] = '\0';
	e->pool = (const char *)e + pool_off;
	for (uint32_t k = 0; k < e->n_insn; k++)
		if (e->insn[k].op <= EXPR_GE)
			sl_rec_key_init(&e->insn[k].key, e->pool + e->insn[k].name_off,
					e->insn[k].name_len);
	free(ps.insn);
	free(ps.pool);
	if (expr_collect_fields(e) < 0) {
		sl_expr_destroy(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

/* Which outcomes of a three-way compare (bit c + 1 for c = -1, 0, 1) each operator accepts. */
static const uint8_t expr_accept[] = {
	[EXPR_EQ] = 0x2, [EXPR_NE] = 0x5, [EXPR_LT] = 0x1,
	[EXPR_LE] = 0x3, [EXPR_GT] = 0x4, [EXPR_GE] = 0x6,
};

static inline bool expr_apply(enum expr_op op, int c)
{
	return (expr_accept[op] >> (c + 1)) & 1;
}

static inline bool expr_cmp(const struct sl_expr *e, const struct expr_insn *in, struct sl_rec rec)
{
	struct sl_val v;
	int c;

	if (rec.len == 0 || !sl_rec_get(rec, &in->key, &v))
		return false;
	if (in->lit_is_str) {
		uint32_t n;
		if (v.type != SL_VAL_STR)
			return false;
		n = v.s.len < in->str_len ? v.s.len : in->str_len;
		c = memcmp(v.s.p, e->pool + in->str_off, n);
		c = (c > 0) - (c < 0);
		if (c == 0)
			c = (v.s.len > in->str_len) - (v.s.len < in->str_len);
		return expr_apply((enum expr_op)in->op, c);
	}
	switch (v.type) {
	case SL_VAL_INT:
		c = (v.i > in->i) - (v.i < in->i);
		return expr_apply((enum expr_op)in->op, c);
	case SL_VAL_UINT: /* above INT64_MAX: greater than every integer literal */
		return expr_apply((enum expr_op)in->op, 1);
	case SL_VAL_FLOAT: {
		double l = (double)in->i;
		switch (in->op) {
		case EXPR_EQ:
			return v.f == l;
		case EXPR_NE:
			return v.f != l;
		case EXPR_LT:
			return v.f < l;
		case EXPR_LE:
			return v.f <= l;
		case EXPR_GT:
			return v.f > l;
		default:
			return v.f >= l;
		}
	}
	default:
		return false;
	}
}

bool sl_expr_eval(const struct sl_expr *e, struct sl_rec rec)
{
	bool acc = false;
	uint32_t pc = 0;

	if (e->n_insn == 1) /* one comparison, the usual filter */
		return expr_cmp(e, &e->insn[0], rec);
	while (pc < e->n_insn) {
		const struct expr_insn *in = &e->insn[pc];

		switch (in->op) {
		case EXPR_JF:
			if (!acc) {
				pc = in->target;
				continue;
			}
			break;
		case EXPR_JT:
			if (acc) {
				pc = in->target;
				continue;
			}
			break;
		case EXPR_NOT:
			acc = !acc;
			break;
		default:
			acc = expr_cmp(e, in, rec);
			break;
		}
		pc++;
	}
	return acc;
}

void sl_expr_destroy(struct sl_expr *e)
{
	if (e && e->fields) {
		for (uint32_t k = 0; e->fields[k]; k++)
			free((void *)e->fields[k]);
		free(e->fields);
	}
	free(e);
}
