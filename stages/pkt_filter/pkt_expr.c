/*
 * Compiler and evaluator of the packet filter language (pkt_expr.h). A recursive-descent
 * parser (depth bounded by SL_PKT_EXPR_DEPTH) emits code for one boolean accumulator, the
 * scheme stages/filter uses: `A and B` is A; JF end; B; `A or B` is A; JT end; B; `not A`
 * is A; NOT. Jumps only go forward, so evaluation is one loop. The program is immutable
 * after compilation and shared by every replica.
 */
#include "pkt_expr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_PKT_EXPR_DEPTH 32
#define SL_PKT_EXPR_INSN  256

enum pexpr_op {
	PX_TEST = 0, /* acc = test(field, cmp, value) */
	PX_JF,
	PX_JT,
	PX_NOT,
};

enum pexpr_field {
	PF_IP = 0, /* words */
	PF_IPV4,
	PF_IPV6,
	PF_UDP,
	PF_TCP,
	PF_ICMP,
	PF_VLAN_WORD,
	PF_FRAGMENT,
	PF_SRC_PORT, /* integer fields */
	PF_DST_PORT,
	PF_PORT,
	PF_PROTO,
	PF_VLAN,
	PF_LEN,
	PF_SRC_IP, /* address fields */
	PF_DST_IP,
	PF_ADDR,
};

enum pexpr_cmp { PC_EQ = 0, PC_NE, PC_LT, PC_LE, PC_GT, PC_GE };

struct pexpr_insn {
	uint8_t op, field, cmp;
	uint8_t ip_ver;	  /* address literal family */
	uint8_t prefix;	  /* address literal prefix bits */
	uint16_t target;  /* jumps */
	uint16_t next[2]; /* TEST: where a false / true result goes (pexpr_link) */
	int64_t i;
	uint8_t addr[16];
};

/* The parser's code keeps an accumulator (TEST sets it, NOT flips it, JF / JT jump on it);
 * pexpr_link then gives each TEST the place each result leads to, so evaluation runs TESTs
 * only: a branch program, as BPF compiles filters. Past the code: the final verdict. */
#define PX_ACCEPT 0xfffe
#define PX_REJECT 0xffff
_Static_assert(SL_PKT_EXPR_INSN < PX_ACCEPT, "code indexes stay below the verdicts");

struct sl_pkt_expr {
	struct sl_pkt_kprog *kprog; /* the compiled form, or NULL (pkt_expr.h) */
	uint32_t n;
	uint16_t start; /* the first TEST, or a verdict */
	struct pexpr_insn insn[];
};

struct pexpr_parser {
	const char *s;
	size_t pos;
	struct pexpr_insn *insn;
	uint32_t n;
	int depth;
	bool failed;
	uint32_t err_off;
	char *msg;
	size_t msg_len;
};

static const struct {
	const char *name;
	uint8_t field;
} pexpr_names[] = {
	{ "ip", PF_IP },
	{ "ipv4", PF_IPV4 },
	{ "ipv6", PF_IPV6 },
	{ "udp", PF_UDP },
	{ "tcp", PF_TCP },
	{ "icmp", PF_ICMP },
	{ "fragment", PF_FRAGMENT },
	{ "src_port", PF_SRC_PORT },
	{ "dst_port", PF_DST_PORT },
	{ "port", PF_PORT },
	{ "proto", PF_PROTO },
	{ "len", PF_LEN },
	{ "src_ip", PF_SRC_IP },
	{ "dst_ip", PF_DST_IP },
	{ "addr", PF_ADDR },
	{ "vlan", PF_VLAN },
};

static void pexpr_fail(struct pexpr_parser *ps, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pexpr_fail(struct pexpr_parser *ps, size_t off, const char *fmt, ...)
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

static void pexpr_space(struct pexpr_parser *ps)
{
	while (ps->s[ps->pos] == ' ' || ps->s[ps->pos] == '\t' || ps->s[ps->pos] == '\n' ||
	       ps->s[ps->pos] == '\r')
		ps->pos++;
}

static bool pexpr_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Whether the next token is the keyword kw (a whole word); consumes it if so. */
static bool pexpr_accept(struct pexpr_parser *ps, const char *kw)
{
	size_t n = strlen(kw);

	pexpr_space(ps);
	if (strncmp(ps->s + ps->pos, kw, n) != 0 || pexpr_word_char(ps->s[ps->pos + n]))
		return false;
	ps->pos += n;
	return true;
}

static struct pexpr_insn *pexpr_emit(struct pexpr_parser *ps, uint8_t op)
{
	if (ps->n == SL_PKT_EXPR_INSN) {
		pexpr_fail(ps, ps->pos, "expression too long");
		return NULL;
	}
	memset(&ps->insn[ps->n], 0, sizeof(ps->insn[0]));
	ps->insn[ps->n].op = op;
	return &ps->insn[ps->n++];
}

static void pexpr_or(struct pexpr_parser *ps);

static void pexpr_value(struct pexpr_parser *ps, struct pexpr_insn *t)
{
	size_t start, end;
	char buf[64], *slash;
	bool is_addr = t->field >= PF_SRC_IP;

	pexpr_space(ps);
	start = end = ps->pos;
	while (pexpr_word_char(ps->s[end]) || ps->s[end] == '.' || ps->s[end] == ':' ||
	       ps->s[end] == '/')
		end++;
	if (end == start || end - start >= sizeof(buf)) {
		pexpr_fail(ps, start, is_addr ? "expected an address" : "expected an integer");
		return;
	}
	memcpy(buf, ps->s + start, end - start);
	buf[end - start] = '\0';
	ps->pos = end;
	if (!is_addr) {
		char *e;
		long long v;

		errno = 0;
		v = strtoll(buf, &e, 0);
		if (*e || errno || v < 0 || v > 0xffffffffll) {
			pexpr_fail(ps, start, "expected an integer, not '%s'", buf);
			return;
		}
		t->i = v;
		return;
	}
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, t->addr) == 1) {
		t->ip_ver = 4;
		t->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, t->addr) == 1) {
		t->ip_ver = 6;
		t->prefix = 128;
	} else {
		pexpr_fail(ps, start, "expected an IPv4 or IPv6 address, not '%s'", buf);
		return;
	}
	if (slash) {
		char *e;
		long v = strtol(slash, &e, 10);

		if (!*slash || *e || v < 0 || v > t->prefix) {
			pexpr_fail(ps, start + (size_t)(slash - buf), "bad prefix length '%s'",
				   slash);
			return;
		}
		t->prefix = (uint8_t)v;
	}
}

static void pexpr_atom(struct pexpr_parser *ps)
{
	static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">" };
	static const uint8_t op_cmp[] = { PC_EQ, PC_NE, PC_LE, PC_GE, PC_LT, PC_GT };
	size_t start, end;
	struct pexpr_insn *t;
	int f = -1;

	pexpr_space(ps);
	start = end = ps->pos;
	while (pexpr_word_char(ps->s[end]))
		end++;
	for (size_t k = 0; k < sizeof(pexpr_names) / sizeof(pexpr_names[0]); k++)
		if (strlen(pexpr_names[k].name) == end - start &&
		    memcmp(pexpr_names[k].name, ps->s + start, end - start) == 0)
			f = pexpr_names[k].field;
	if (f < 0) {
		if (end == start)
			pexpr_fail(ps, start, ps->s[start] ? "unexpected '%c'" : "unexpected end",
				   ps->s[start]);
		else
			pexpr_fail(ps, start, "unknown word '%.*s'", (int)(end - start),
				   ps->s + start);
		return;
	}
	ps->pos = end;
	t = pexpr_emit(ps, PX_TEST);
	if (!t)
		return;
	t->field = (uint8_t)f;
	pexpr_space(ps);
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		size_t n = strlen(ops[k]);

		if (strncmp(ps->s + ps->pos, ops[k], n) != 0)
			continue;
		if (f < PF_SRC_PORT) {
			pexpr_fail(ps, ps->pos, "'%.*s' is a protocol word, not a field",
				   (int)(end - start), ps->s + start);
			return;
		}
		if (f >= PF_SRC_IP && op_cmp[k] != PC_EQ && op_cmp[k] != PC_NE) {
			pexpr_fail(ps, ps->pos, "addresses compare with == or != only");
			return;
		}
		t->cmp = op_cmp[k];
		ps->pos += n;
		pexpr_value(ps, t);
		return;
	}
	if (f == PF_VLAN) {
		/* `vlan` alone is the word: the frame has a tag. */
		t->field = PF_VLAN_WORD;
		return;
	}
	if (f >= PF_SRC_PORT)
		pexpr_fail(ps, ps->pos, "expected an operator after '%.*s'", (int)(end - start),
			   ps->s + start);
}

static void pexpr_factor(struct pexpr_parser *ps)
{
	if (++ps->depth > SL_PKT_EXPR_DEPTH) {
		pexpr_fail(ps, ps->pos, "expression nested too deeply");
		return;
	}
	if (pexpr_accept(ps, "not")) {
		pexpr_factor(ps);
		pexpr_emit(ps, PX_NOT);
	} else {
		pexpr_space(ps);
		if (ps->s[ps->pos] == '(') {
			ps->pos++;
			pexpr_or(ps);
			pexpr_space(ps);
			if (ps->s[ps->pos] != ')')
				pexpr_fail(ps, ps->pos, "expected ')'");
			else
				ps->pos++;
		} else {
			pexpr_atom(ps);
		}
	}
	ps->depth--;
}

/* Left op right...: patch every jump of this chain to the end of it. */
static void pexpr_chain(struct pexpr_parser *ps, const char *kw, uint8_t jump,
			void (*operand)(struct pexpr_parser *))
{
	uint32_t jumps[SL_PKT_EXPR_INSN];
	uint32_t n_jumps = 0;

	operand(ps);
	while (!ps->failed && pexpr_accept(ps, kw)) {
		struct pexpr_insn *j = pexpr_emit(ps, jump);

		if (!j)
			return;
		jumps[n_jumps++] = ps->n - 1;
		operand(ps);
	}
	for (uint32_t k = 0; k < n_jumps; k++)
		ps->insn[jumps[k]].target = (uint16_t)ps->n;
}

static void pexpr_and(struct pexpr_parser *ps)
{
	pexpr_chain(ps, "and", PX_JF, pexpr_factor);
}

static void pexpr_or(struct pexpr_parser *ps)
{
	pexpr_chain(ps, "or", PX_JT, pexpr_and);
}

/* Where the code goes from pc with the accumulator at a, through NOTs and jumps, up to the
 * next TEST (its index) or past the end (the verdict). Jumps only go forward. */
static uint16_t pexpr_follow(const struct sl_pkt_expr *e, uint32_t pc, bool a)
{
	while (pc < e->n) {
		const struct pexpr_insn *t = &e->insn[pc];

		switch (t->op) {
		case PX_TEST:
			return (uint16_t)pc;
		case PX_NOT:
			a = !a;
			pc++;
			break;
		case PX_JF:
			pc = !a && t->target > pc ? t->target : pc + 1;
			break;
		default: /* PX_JT */
			pc = a && t->target > pc ? t->target : pc + 1;
			break;
		}
	}
	return a ? PX_ACCEPT : PX_REJECT;
}

static void pexpr_link(struct sl_pkt_expr *e)
{
	for (uint32_t pc = 0; pc < e->n; pc++) {
		if (e->insn[pc].op != PX_TEST)
			continue;
		e->insn[pc].next[0] = pexpr_follow(e, pc + 1, false);
		e->insn[pc].next[1] = pexpr_follow(e, pc + 1, true);
	}
	e->start = pexpr_follow(e, 0, true);
}

/*
 * The compiled form (pkt_expr.h): each TEST of the branch program becomes a few mask/value
 * tests on the key, wired to where the TEST's false and true results lead. A test that
 * can never hold (a port above 65535) has mask 0 and value 1.
 */
#define KP_W0_PROTO(x)	  ((uint64_t)(x) << 8)
#define KP_W0_SRC_PORT(x) ((uint64_t)(x) << 16)
#define KP_W0_DST_PORT(x) ((uint64_t)(x) << 32)
#define KP_W0_VLAN(x)	  ((uint64_t)(x) << 48)

struct kp_test {
	uint8_t word;
	uint64_t mask, value;
};

struct kp_builder {
	struct sl_pkt_kprog *p; /* NULL while sizing */
	uint32_t n;
};

/* An integer field equal to x (x beyond the field never is), with its precondition. */
static struct kp_test kp_int_eq(uint8_t field, int64_t x)
{
	switch (field) {
	case PF_SRC_PORT:
		return x > 0xffff ? (struct kp_test){ 0, 0, 1 }
				  : (struct kp_test){ 0, SL_PKT_KEY_PORTS | KP_W0_SRC_PORT(0xffff),
						      SL_PKT_KEY_PORTS | KP_W0_SRC_PORT(x) };
	case PF_DST_PORT:
		return x > 0xffff ? (struct kp_test){ 0, 0, 1 }
				  : (struct kp_test){ 0, SL_PKT_KEY_PORTS | KP_W0_DST_PORT(0xffff),
						      SL_PKT_KEY_PORTS | KP_W0_DST_PORT(x) };
	case PF_PROTO:
		return x > 0xff ? (struct kp_test){ 0, 0, 1 }
				: (struct kp_test){ 0, SL_PKT_KEY_IP | KP_W0_PROTO(0xff),
						    SL_PKT_KEY_IP | KP_W0_PROTO(x) };
	case PF_VLAN:
		return x > 0xfff ? (struct kp_test){ 0, 0, 1 }
				 : (struct kp_test){ 0, SL_PKT_KEY_VLAN | KP_W0_VLAN(0xffff),
						     SL_PKT_KEY_VLAN | KP_W0_VLAN(x) };
	default: /* PF_LEN (kp_atom asks for the word) */
		return (struct kp_test){ 1, 0xffffffffull, (uint64_t)x };
	}
}

/* Place one test; its exits f (false) and t (true). */
static void kp_put(struct kp_builder *b, struct kp_test x, uint32_t f, uint32_t t)
{
	if (b->p)
		b->p->t[b->n] = (struct sl_pkt_ktest){
			.mask = x.mask,
			.value = x.value,
			.next = { (uint16_t)f, (uint16_t)t },
			.word = x.word,
		};
	b->n++;
}

/* All of x[0..n) hold: t, else f. */
static void kp_all(struct kp_builder *b, const struct kp_test *x, uint32_t n, uint32_t f,
		   uint32_t t)
{
	for (uint32_t i = 0; i < n; i++)
		kp_put(b, x[i], f, i + 1 < n ? b->n + 1 : t);
}

/* The tests of an address literal on one side (src: 0, dst: 1): the family, then the
 * prefix over the address's words; returns how many. */
static uint32_t kp_addr(const struct pexpr_insn *t, int side, struct kp_test *x, uint32_t *need)
{
	uint32_t n = 0, bytes = t->ip_ver == 4 ? 4 : 16;
	uint8_t mask[16] = { 0 }, val[16] = { 0 };

	for (uint32_t i = 0; i < t->prefix; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	for (uint32_t i = 0; i < bytes; i++)
		val[i] = t->addr[i] & mask[i];
	if (t->ip_ver == 4) {
		uint64_t m = 0, v = 0;

		*need |= SL_PKT_KEY_NEED_ADDR4;
		memcpy((uint8_t *)&m + 4 * side, mask, 4);
		memcpy((uint8_t *)&v + 4 * side, val, 4);
		x[n++] = (struct kp_test){ 0, SL_PKT_KEY_IPV4, SL_PKT_KEY_IPV4 };
		x[n++] = (struct kp_test){ 2, m, v };
	} else {
		*need |= SL_PKT_KEY_NEED_ADDR6;
		x[n++] = (struct kp_test){ 0, SL_PKT_KEY_IPV6, SL_PKT_KEY_IPV6 };
		for (int h = 0; h < 2; h++) {
			uint64_t m, v;

			memcpy(&m, mask + 8 * h, 8);
			memcpy(&v, val + 8 * h, 8);
			x[n++] = (struct kp_test){ (uint8_t)(3 + 2 * side + h), m, v };
		}
	}
	return n;
}

/* One TEST of the branch program, with exits f and t (final indexes or verdicts).
 * Returns false for a comparison the key cannot answer. */
static bool kp_atom(struct kp_builder *b, const struct pexpr_insn *t, uint32_t f, uint32_t tr,
		    uint32_t *need)
{
	static const struct kp_test ports = { 0, SL_PKT_KEY_PORTS, SL_PKT_KEY_PORTS };
	static const struct kp_test ip = { 0, SL_PKT_KEY_IP, SL_PKT_KEY_IP };
	struct kp_test x[4], y[4];
	uint32_t nx, ny;

	switch (t->field) {
	case PF_IP:
		kp_put(b, ip, f, tr);
		return true;
	case PF_IPV4:
		kp_put(b, (struct kp_test){ 0, SL_PKT_KEY_IPV4, SL_PKT_KEY_IPV4 }, f, tr);
		return true;
	case PF_IPV6:
		kp_put(b, (struct kp_test){ 0, SL_PKT_KEY_IPV6, SL_PKT_KEY_IPV6 }, f, tr);
		return true;
	case PF_UDP:
	case PF_TCP:
		kp_put(b,
		       (struct kp_test){ 0, SL_PKT_KEY_PORTS | KP_W0_PROTO(0xff),
					 SL_PKT_KEY_PORTS |
						 KP_W0_PROTO(t->field == PF_UDP ? 17 : 6) },
		       f, tr);
		return true;
	case PF_ICMP: {
		uint64_t m = SL_PKT_KEY_IP | SL_PKT_KEY_FRAG | KP_W0_PROTO(0xff);

		kp_put(b, (struct kp_test){ 0, m, SL_PKT_KEY_IP | KP_W0_PROTO(1) }, b->n + 1, tr);
		kp_put(b, (struct kp_test){ 0, m, SL_PKT_KEY_IP | KP_W0_PROTO(58) }, f, tr);
		return true;
	}
	case PF_VLAN_WORD:
		kp_put(b, (struct kp_test){ 0, SL_PKT_KEY_VLAN, SL_PKT_KEY_VLAN }, f, tr);
		return true;
	case PF_FRAGMENT:
		kp_put(b, (struct kp_test){ 0, SL_PKT_KEY_FRAG, SL_PKT_KEY_FRAG }, f, tr);
		return true;
	case PF_SRC_PORT:
	case PF_DST_PORT:
	case PF_PROTO:
	case PF_VLAN:
	case PF_LEN:
		if (t->field == PF_LEN)
			*need |= SL_PKT_KEY_NEED_LEN;
		if (t->cmp == PC_EQ) {
			kp_put(b, kp_int_eq(t->field, t->i), f, tr);
			return true;
		}
		if (t->cmp != PC_NE)
			return false;
		/* The precondition holds and the field is not x. */
		if (t->field != PF_LEN) {
			struct kp_test pre = kp_int_eq(t->field, 0);

			pre.mask = pre.value;
			kp_put(b, pre, f, b->n + 1);
		}
		kp_put(b, kp_int_eq(t->field, t->i), tr, f);
		return true;
	case PF_PORT:
		if (t->cmp == PC_EQ) {
			kp_put(b, kp_int_eq(PF_SRC_PORT, t->i), b->n + 1, tr);
			kp_put(b, kp_int_eq(PF_DST_PORT, t->i), f, tr);
			return true;
		}
		if (t->cmp != PC_NE)
			return false;
		kp_put(b, ports, f, b->n + 1);
		kp_put(b, kp_int_eq(PF_SRC_PORT, t->i), b->n + 1, f);
		kp_put(b, kp_int_eq(PF_DST_PORT, t->i), tr, f);
		return true;
	case PF_SRC_IP:
	case PF_DST_IP:
		nx = kp_addr(t, t->field == PF_DST_IP, x, need);
		if (t->cmp == PC_EQ) {
			kp_all(b, x, nx, f, tr);
			return true;
		}
		kp_put(b, ip, f, b->n + 1);
		kp_all(b, x, nx, tr, f);
		return true;
	default: /* PF_ADDR */
		nx = kp_addr(t, 0, x, need);
		ny = kp_addr(t, 1, y, need);
		if (t->cmp == PC_EQ) {
			kp_all(b, x, nx, b->n + nx, tr);
			kp_all(b, y, ny, f, tr);
			return true;
		}
		kp_put(b, ip, f, b->n + 1);
		kp_all(b, x, nx, b->n + nx, f);
		kp_all(b, y, ny, tr, f);
		return true;
	}
}

/* The index where the tests of the program's TEST pc start, or a verdict. */
static uint32_t kp_target(const uint32_t *base, uint16_t to)
{
	return to >= PX_ACCEPT ? (to == PX_ACCEPT ? SL_PKT_KPROG_ACCEPT : SL_PKT_KPROG_REJECT)
			       : base[to];
}

/* Fold a test into the one before it when both lead to the same place when false, only
 * the first leads to the second, and they test one word without contradiction: `udp and
 * dst_port == 53` is one masked compare. */
static void kp_merge(struct sl_pkt_kprog *p)
{
	uint16_t preds[SL_PKT_EXPR_INSN * 8];
	bool again = true;

	while (again) {
		again = false;
		memset(preds, 0, sizeof(preds[0]) * p->n);
		if (p->start < p->n)
			preds[p->start]++;
		for (uint32_t i = 0; i < p->n; i++)
			for (int x = 0; x < 2; x++)
				if (p->t[i].next[x] < p->n)
					preds[p->t[i].next[x]]++;
		for (uint32_t i = 0; i < p->n && !again; i++) {
			struct sl_pkt_ktest *a = &p->t[i], *c;

			if (!preds[i] && i != p->start)
				continue;
			if (a->next[1] >= p->n)
				continue;
			c = &p->t[a->next[1]];
			/* A test that never holds has value bits outside its mask: kept apart. */
			if ((a->value & ~a->mask) || (c->value & ~c->mask))
				continue;
			if (preds[a->next[1]] != 1 || c->word != a->word ||
			    c->next[0] != a->next[0] ||
			    ((a->mask & c->mask) & (a->value ^ c->value)))
				continue;
			a->mask |= c->mask;
			a->value |= c->value;
			a->next[1] = c->next[1];
			again = true;
		}
	}
}

/* Build e->kprog, or leave it NULL when a comparison needs the general evaluator. */
static int kprog_build(struct sl_pkt_expr *e)
{
	uint32_t base[SL_PKT_EXPR_INSN], need = 0;
	struct kp_builder b = { 0 };

	/* Size: each TEST's tests, placed in program order (jumps stay forward). */
	for (uint32_t pc = 0; pc < e->n; pc++) {
		base[pc] = b.n;
		if (e->insn[pc].op == PX_TEST &&
		    !kp_atom(&b, &e->insn[pc], SL_PKT_KPROG_REJECT, SL_PKT_KPROG_REJECT, &need))
			return 0;
	}
	if (b.n >= SL_PKT_KPROG_ACCEPT) /* cannot happen: 7 tests at most per TEST */
		return 0;
	b.p = calloc(1, sizeof(*b.p) + b.n * sizeof(b.p->t[0]));
	if (!b.p)
		return -ENOMEM;
	b.p->n = (uint16_t)b.n;
	b.n = 0;
	for (uint32_t pc = 0; pc < e->n; pc++) {
		const struct pexpr_insn *t = &e->insn[pc];

		if (t->op == PX_TEST)
			kp_atom(&b, t, kp_target(base, t->next[0]), kp_target(base, t->next[1]),
				&need);
	}
	b.p->start = (uint16_t)kp_target(base, e->start);
	b.p->need = need;
	kp_merge(b.p);
	e->kprog = b.p;
	return 0;
}

int sl_pkt_expr_compile(const char *src, struct sl_pkt_expr **out, uint32_t *err_off, char *msg,
			size_t msg_len)
{
	struct pexpr_insn insn[SL_PKT_EXPR_INSN];
	struct pexpr_parser ps = { .s = src, .insn = insn, .msg = msg, .msg_len = msg_len };
	struct sl_pkt_expr *e;

	*out = NULL;
	pexpr_or(&ps);
	pexpr_space(&ps);
	if (!ps.failed && src[ps.pos] != '\0')
		pexpr_fail(&ps, ps.pos, "unexpected '%s'", src + ps.pos);
	if (ps.failed) {
		*err_off = ps.err_off;
		return -EINVAL;
	}
	e = malloc(sizeof(*e) + ps.n * sizeof(insn[0]));
	if (!e)
		return -ENOMEM;
	e->n = ps.n;
	e->kprog = NULL;
	memcpy(e->insn, insn, ps.n * sizeof(insn[0]));
	pexpr_link(e);
	if (kprog_build(e) < 0) {
		free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

void sl_pkt_expr_destroy(struct sl_pkt_expr *e)
{
	if (e)
		free(e->kprog);
	free(e);
}

const struct sl_pkt_kprog *sl_pkt_expr_kprog(const struct sl_pkt_expr *e)
{
	return e->kprog;
}

static inline bool pexpr_cmp_int(uint8_t cmp, int64_t a, int64_t b)
{
	switch (cmp) {
	case PC_EQ:
		return a == b;
	case PC_NE:
		return a != b;
	case PC_LT:
		return a < b;
	case PC_LE:
		return a <= b;
	case PC_GT:
		return a > b;
	default:
		return a >= b;
	}
}

static inline bool pexpr_addr_in(const struct pexpr_insn *t, const struct sl_pkt_view *v,
				 const uint8_t *a)
{
	uint32_t full = t->prefix / 8, rest = t->prefix % 8;

	if (v->ip_ver != t->ip_ver)
		return false;
	if (memcmp(a, t->addr, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ t->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static inline bool pexpr_test(const struct pexpr_insn *t, const struct sl_pkt_view *v,
			      uint32_t frame_len)
{
	bool eq;

	switch (t->field) {
	case PF_IP:
		return v->ip_ver != 0;
	case PF_IPV4:
		return v->ip_ver == 4;
	case PF_IPV6:
		return v->ip_ver == 6;
	case PF_UDP:
		return v->has_ports && v->proto == 17;
	case PF_TCP:
		return v->has_ports && v->proto == 6;
	case PF_ICMP:
		return v->ip_ver && !v->fragment && (v->proto == 1 || v->proto == 58);
	case PF_VLAN_WORD:
		return v->vlan != 0xffff;
	case PF_FRAGMENT:
		return v->fragment;
	case PF_SRC_PORT:
		return v->has_ports && pexpr_cmp_int(t->cmp, v->src_port, t->i);
	case PF_DST_PORT:
		return v->has_ports && pexpr_cmp_int(t->cmp, v->dst_port, t->i);
	case PF_PORT:
		if (!v->has_ports)
			return false;
		if (t->cmp == PC_NE) /* neither side is it */
			return v->src_port != t->i && v->dst_port != t->i;
		return pexpr_cmp_int(t->cmp, v->src_port, t->i) ||
		       pexpr_cmp_int(t->cmp, v->dst_port, t->i);
	case PF_PROTO:
		return v->ip_ver && pexpr_cmp_int(t->cmp, v->proto, t->i);
	case PF_VLAN:
		return v->vlan != 0xffff && pexpr_cmp_int(t->cmp, v->vlan, t->i);
	case PF_LEN:
		return pexpr_cmp_int(t->cmp, frame_len, t->i);
	case PF_SRC_IP:
		if (!v->ip_ver)
			return false;
		eq = pexpr_addr_in(t, v, v->src_ip);
		return t->cmp == PC_EQ ? eq : !eq;
	case PF_DST_IP:
		if (!v->ip_ver)
			return false;
		eq = pexpr_addr_in(t, v, v->dst_ip);
		return t->cmp == PC_EQ ? eq : !eq;
	default: /* PF_ADDR: either side */
		if (!v->ip_ver)
			return false;
		if (t->cmp == PC_EQ)
			return pexpr_addr_in(t, v, v->src_ip) || pexpr_addr_in(t, v, v->dst_ip);
		return !pexpr_addr_in(t, v, v->src_ip) && !pexpr_addr_in(t, v, v->dst_ip);
	}
}

bool sl_pkt_expr_eval(const struct sl_pkt_expr *e, const struct sl_pkt_view *v, uint32_t frame_len)
{
	uint32_t pc = e->start;

	/* Every next is a later TEST or a verdict (>= n), so this ends. */
	while (pc < e->n) {
		const struct pexpr_insn *t = &e->insn[pc];

		pc = t->next[pexpr_test(t, v, frame_len)];
	}
	return pc == PX_ACCEPT;
}
