/*
 * Pipeline file loader and validator. `sluice validate` and `sluice run` call
 * sl_config_load_file (tests and the fuzzer call sl_config_load_buffer) on the control
 * thread. The bytes are scanned once with libyaml's event parser to reject what must never
 * reach the document builder (aliases and anchors, nesting deeper than SL_CONFIG_MAX_DEPTH,
 * more than SL_CONFIG_MAX_YAML_NODES nodes, several documents, syntax errors), then loaded
 * with the document API so every node has a line and column. The walk checks the top-level
 * keys, each node's common keys and its kind's declared parameters, then resolves inputs,
 * looks for cycles and finally runs every stage's init once. Every problem goes to the
 * caller's struct sl_diag; nothing stops at the first. The struct sl_config returned owns
 * all its strings and arrays in one arena (c->priv) and, when asked, the stages' confs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "../base/check.h"
#include "../plugin/registry.h"
#include "../resilience/plugin_trust.h"
#include "../resilience/sandbox.h"
#include "../sink/metrics.h"
#include "../sink/sink.h"
#include "../source/source.h"

/* Sixteen full bursts, as 1024 slots held when a burst was 64 events. With bursts of 128,
 * issue 5's pipeline on two workers (rings between them) ran ~6 % faster with 2048 slots
 * than with 1024 (perf/RESULTS.md, packets, ninth session). */
#define CONFIG_DEFAULT_RING_SIZE (16u * SL_BURST_MAX)
#define CONFIG_MIN_RING_SIZE	 64u
#define CONFIG_MAX_RING_SIZE	 1048576u
/* Replica indexes are uint16_t in struct sl_ctx. */
#define CONFIG_MAX_REPLICAS 65535u
/* Most cycles reported for one file: one is enough to act on, a few show the pattern. */
#define CONFIG_MAX_CYCLE_REPORTS 8u

/* All memory of a loaded config: blocks freed together by sl_config_destroy. */
struct arena_block {
	struct arena_block *next;
	size_t used, cap;
} __attribute__((aligned(16)));

struct arena {
	struct arena_block *head;
};

struct config_priv {
	struct sl_config c;
	struct arena arena;
};

/* One error, kept until the load ends so that they reach the caller in file order. */
struct config_msg {
	uint32_t line, column, seq;
	char *text;
};

/* Where one entry of a map parameter's value sits. */
struct item_pos {
	uint32_t line, column;
	int8_t col_adj;
};

/* Where a parameter's value sits, so an init error offset can be turned into a column. */
struct arg_pos {
	int8_t col_adj; /* 0 plain, 1 quoted (skip the quote), -1: no single-line text */
	/* A map's entries: where each value sits (sl_error.item picks one). */
	uint32_t n_items;
	struct item_pos *items;
};

struct loader {
	struct sl_config *c;
	struct arena *a;
	struct sl_diag *d;
	const struct sl_config_opts *opts;
	const char *file;
	const char *buf;
	size_t len;
	yaml_document_t doc;
	uint32_t n_diag0;	 /* d->n when loading started: more means this load failed */
	struct config_msg *msgs; /* errors found, put in file order into d at the end */
	uint32_t n_msgs, cap_msgs;
	bool oom;
	uint32_t cap_nodes;
	struct arg_pos **pos; /* per node, per declared parameter */
	const yaml_node_t *section_key[SL_NODE_SINK + 1];
	bool section_used[SL_NODE_SINK + 1]; /* names one node or more, valid or not */
	char show[4][100];		     /* user text made printable, for messages */
	unsigned show_i;
};

static const char *const empty_list[] = { NULL };
static const char *const default_output[] = { "default", NULL };

static void *config_arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b = a->head;
	char *p;

	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (!b || b->cap - b->used < size) {
		size_t cap = 4096 - sizeof(*b);

		if (size > cap)
			cap = size;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	p = (char *)(b + 1) + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

static void config_arena_free(struct arena *a)
{
	struct arena_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

static void *config_alloc(struct loader *ld, size_t n, size_t size)
{
	void *p = NULL;

	if (size == 0 || n <= SIZE_MAX / 2 / size)
		p = config_arena_alloc(ld->a, n * size);
	if (!p)
		ld->oom = true;
	return p;
}

static char *config_strndup(struct loader *ld, const char *s, size_t n)
{
	char *p = config_alloc(ld, n + 1, 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

static char *config_strdup(struct loader *ld, const char *s)
{
	return config_strndup(ld, s, strlen(s));
}

static bool config_failed(const struct loader *ld)
{
	return ld->oom || ld->n_msgs || ld->d->n != ld->n_diag0;
}

static void config_err_at(struct loader *ld, uint32_t line, uint32_t column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void config_err_at(struct loader *ld, uint32_t line, uint32_t column, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ld->n_msgs == ld->cap_msgs) {
		uint32_t cap = ld->cap_msgs ? 2 * ld->cap_msgs : 16;
		struct config_msg *m = realloc(ld->msgs, cap * sizeof(*m));

		if (m) {
			ld->msgs = m;
			ld->cap_msgs = cap;
		}
	}
	if (ld->n_msgs < ld->cap_msgs) {
		struct config_msg *m = &ld->msgs[ld->n_msgs];

		size_t len = strlen(msg) + 1;

		m->text = malloc(len);
		if (m->text) {
			memcpy(m->text, msg, len);
			m->line = line;
			m->column = column;
			m->seq = ld->n_msgs++;
			return;
		}
	}
	/* No memory to hold it: out of order is better than lost. */
	sl_diag_add(ld->d, ld->file, line, column, "%s", msg);
}

static int config_msg_cmp(const void *a, const void *b)
{
	const struct config_msg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand the errors to the caller sorted by position (ties in the order found). */
static void config_flush_msgs(struct loader *ld)
{
	if (ld->n_msgs > 1)
		qsort(ld->msgs, ld->n_msgs, sizeof(*ld->msgs), config_msg_cmp);
	for (uint32_t i = 0; i < ld->n_msgs; i++) {
		sl_diag_add(ld->d, ld->file, ld->msgs[i].line, ld->msgs[i].column, "%s",
			    ld->msgs[i].text);
		free(ld->msgs[i].text);
	}
	free(ld->msgs);
	ld->msgs = NULL;
	ld->n_msgs = ld->cap_msgs = 0;
}

/* libyaml marks are 0-based; messages are 1-based. */
#define MARK_LINE(m) ((uint32_t)(m).line + 1)
#define MARK_COL(m)  ((uint32_t)(m).column + 1)
#define config_err(ld, node, ...) \
	config_err_at(ld, MARK_LINE((node)->start_mark), MARK_COL((node)->start_mark), __VA_ARGS__)

/* User text for a message: at most 60 bytes, control characters as '?'. */
static const char *config_show(struct loader *ld, const char *s)
{
	char *out = ld->show[ld->show_i++ % SL_ARRAY_SIZE(ld->show)];
	size_t i;

	for (i = 0; i < 60 && s[i]; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i])
		memcpy(&out[i], "...", 4);
	else
		out[i] = '\0';
	return out;
}

static yaml_node_t *config_yaml_node(struct loader *ld, int index)
{
	return yaml_document_get_node(&ld->doc, index);
}

static uint32_t config_n_pairs(const yaml_node_t *n)
{
	return (uint32_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static uint32_t config_n_items(const yaml_node_t *n)
{
	return (uint32_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* A scalar usable as C text: no NUL inside (a double-quoted "\0" can put one there). */
static bool config_is_text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       strlen((const char *)n->data.scalar.value) == n->data.scalar.length;
}

static const char *config_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* `key:` with nothing after it, or ~ / null: YAML's null. */
static bool config_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < SL_ARRAY_SIZE(nulls); i++)
		if (strcmp(config_text(n), nulls[i]) == 0)
			return true;
	return false;
}

/* Where to report a bad value: an empty value's mark is wherever the parser stopped
 * looking for one (often the next line), so point at its key instead. */
static const yaml_node_t *config_err_node(const yaml_node_t *k, const yaml_node_t *v)
{
	return config_is_null(v) ? k : v;
}

static const char *config_what_is(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		if (!config_is_text(n))
			return "text with a NUL character";
		return config_is_null(n) ? "nothing" : "a scalar";
	}
}

static const char *config_role_name(enum sl_node_role role)
{
	static const char *const names[] = { "source", "stage", "sink" };

	return names[role];
}

/* Integers: decimal or 0x hex, optional '-', optional k/M/G (1000-based) or Ki/Mi/Gi
 * (1024-based) suffix. 0, -EINVAL when malformed, -ERANGE when it does not fit int64_t. */
static int config_parse_int(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mul;
	} suffixes[] = {
		{ "", 1 },
		{ "k", 1000 },
		{ "M", 1000000 },
		{ "G", 1000000000 },
		{ "Ki", 1024 },
		{ "Mi", 1024 * 1024 },
		{ "Gi", 1024 * 1024 * 1024 },
	};
	const char *p = s;
	uint64_t v = 0, mul = 0, base = 10;
	bool neg = false, range = false;
	unsigned n_digits = 0;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, n_digits++) {
		uint64_t digit;

		if (*p >= '0' && *p <= '9')
			digit = (uint64_t)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			digit = (uint64_t)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			digit = (uint64_t)(*p - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - digit) / base)
			range = true;
		else
			v = v * base + digit;
	}
	if (n_digits == 0)
		return -EINVAL;
	for (size_t i = 0; i < SL_ARRAY_SIZE(suffixes); i++)
		if (strcmp(p, suffixes[i].suffix) == 0)
			mul = suffixes[i].mul;
	if (mul == 0)
		return -EINVAL;
	if (range || v > UINT64_MAX / mul)
		return -ERANGE;
	v *= mul;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -ERANGE;
		*out = (int64_t)v;
	}
	return 0;
}

static int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < SL_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Fill arg from scalar text per its type. A LIST from text is a list of one. On error,
 * why gets "expected ..., got '...'". */
static int config_value_from_text(struct loader *ld, enum sl_param_type type, const char *s,
				  struct sl_arg *arg, char *why, size_t why_len)
{
	int rc;

	arg->str = config_strdup(ld, s);
	arg->list = empty_list;
	switch (type) {
	case SL_PARAM_STR:
		return 0;
	case SL_PARAM_INT:
		rc = config_parse_int(s, &arg->i);
		if (rc == -ERANGE)
			snprintf(why, why_len, "integer out of range: '%s'", config_show(ld, s));
		else if (rc < 0)
			snprintf(why, why_len, "expected an integer, got '%s'", config_show(ld, s));
		return rc;
	case SL_PARAM_BOOL:
		rc = config_parse_bool(s, &arg->b);
		if (rc < 0)
			snprintf(why, why_len, "expected true or false, got '%s'",
				 config_show(ld, s));
		return rc;
	case SL_PARAM_LIST: {
		const char **list = config_alloc(ld, 2, sizeof(*list));

		if (!list)
			return -ENOMEM;
		list[0] = arg->str;
		arg->list = list;
		arg->n_list = 1;
		return 0;
	}
	case SL_PARAM_MAP: /* no text form; an absent map is empty */
		return 0;
	}
	snprintf(why, why_len, "declared with unknown type %d", (int)type);
	return -EINVAL;
}

/* A LIST default written as "a, b" or "[a, b]" ("" or "[]": empty). */
static int config_list_from_default(struct loader *ld, const char *def, struct sl_arg *arg)
{
	size_t len = strlen(def), n = 0, i = 0;
	const char **list;
	const char *p, *end;

	arg->str = config_strdup(ld, def);
	p = def;
	end = def + len;
	while (p < end && *p == ' ')
		p++;
	while (end > p && end[-1] == ' ')
		end--;
	if (p < end && *p == '[' && end[-1] == ']') {
		p++;
		end--;
	}
	for (const char *q = p; q < end; q++)
		n += *q == ',';
	list = config_alloc(ld, n + 2, sizeof(*list));
	if (!list || !arg->str)
		return -ENOMEM;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *e;

		e = comma ? comma : end;
		while (p < e && *p == ' ')
			p++;
		for (const char *t = e; t > p && t[-1] == ' ';)
			e = --t;
		if (e > p)
			list[i++] = config_strndup(ld, p, (size_t)(e - p));
		p = comma ? comma + 1 : end;
	}
	list[i] = NULL;
	arg->list = list;
	arg->n_list = (uint32_t)i;
	return 0;
}

/* A scalar in flow text: as is, or double-quoted (\" and \\ escaped) when flow syntax
 * would misread it. Returns the end of what was written. */
static char *config_flow_scalar(char *o, const char *t)
{
	size_t n = strlen(t);

	if (n && !strpbrk(t, ",{}[]:\"'#\\") && t[0] != ' ' && t[n - 1] != ' ') {
		memcpy(o, t, n);
		return o + n;
	}
	*o++ = '"';
	for (; *t; t++) {
		if (*t == '"' || *t == '\\')
			*o++ = '\\';
		*o++ = *t;
	}
	*o++ = '"';
	return o;
}

/* A list item that is a mapping of scalars, as its flow text "{ k: v, k: v }" (the stage
 * parses it: aggregate's `aggregations`). NULL when a key or value is not a scalar. */
static const char *config_flow_text(struct loader *ld, yaml_node_t *map)
{
	size_t len = 5;
	char *s, *o;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key), *v = config_yaml_node(ld, p->value);

		if (!config_is_text(k) || !config_is_text(v))
			return NULL;
		len += 2 * (strlen(config_text(k)) + strlen(config_text(v))) + 10;
	}
	s = config_alloc(ld, len, 1);
	if (!s)
		return NULL;
	o = s;
	*o++ = '{';
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		*o++ = p == map->data.mapping.pairs.start ? ' ' : ',';
		if (p != map->data.mapping.pairs.start)
			*o++ = ' ';
		o = config_flow_scalar(o, config_text(config_yaml_node(ld, p->key)));
		*o++ = ':';
		*o++ = ' ';
		o = config_flow_scalar(o, config_text(config_yaml_node(ld, p->value)));
	}
	memcpy(o, " }", 3);
	return s;
}

/* 0 when a byte offset into scalar v's value is a column offset (plain, one line, no
 * escapes), 1 when it is after the opening quote, -1 when it is neither. */
static int8_t config_col_adj(const yaml_node_t *v)
{
	yaml_scalar_style_t st = v->data.scalar.style;
	size_t span = v->end_mark.index - v->start_mark.index;

	if (v->start_mark.line != v->end_mark.line)
		return -1;
	if (st == YAML_PLAIN_SCALAR_STYLE && span == v->data.scalar.length)
		return 0;
	if ((st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
	    span == v->data.scalar.length + 2)
		return 1;
	return -1;
}

/* An output name: [A-Za-z_][A-Za-z0-9_]* (as the registry wants of declared ones). */
static bool config_is_ident(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* A SL_PARAM_MAP parameter: a mapping of names to scalars, as name, value, ... in
 * arg->list, each value's position in pos->items. When the stage names its outputs
 * after it (outputs_from), the names must be output names too. */
static void config_map_from_node(struct loader *ld, const struct sl_config_node *node,
				 const struct sl_param_desc *pd, yaml_node_t *v, struct sl_arg *arg,
				 struct arg_pos *pos)
{
	uint32_t n = 0, i = 0;
	bool outputs = node->stage && node->stage->outputs_from &&
		       strcmp(node->stage->outputs_from, pd->name) == 0;
	const char **list;
	size_t joined = 1;
	char *str;

	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++)
		n++;
	list = config_alloc(ld, 2 * (size_t)n + 1, sizeof(*list));
	pos->items = config_alloc(ld, n ? n : 1, sizeof(*pos->items));
	if (!list || !pos->items)
		return;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key),
			    *val = config_yaml_node(ld, p->value);
		const char *name;
		bool dup = false;

		if (!config_is_text(k) || config_is_null(k)) {
			config_err(ld, k, "%s '%s': %s: names must be scalars, got %s",
				   config_role_name(node->role), node->name, pd->name,
				   config_what_is(k));
			continue;
		}
		name = config_text(k);
		for (uint32_t j = 0; j < i && !dup; j++)
			dup = strcmp(list[2 * j], name) == 0;
		if (dup) {
			config_err(ld, k, "%s '%s': %s: '%s' is named twice",
				   config_role_name(node->role), node->name, pd->name,
				   config_show(ld, name));
			continue;
		}
		if (outputs) {
			bool taken = false;

			for (const char *const *o = node->stage->outputs; o && *o && !taken; o++)
				taken = strcmp(*o, name) == 0;
			if (!config_is_ident(name) || strlen(name) > 48 || taken) {
				config_err(ld, k,
					   "%s '%s': %s: '%s' cannot name an output (letters, "
					   "digits and _, not starting with a digit, at most 48, "
					   "not %s)",
					   config_role_name(node->role), node->name, pd->name,
					   config_show(ld, name),
					   node->stage->outputs && node->stage->outputs[0]
						   ? node->stage->outputs[0]
						   : "default");
				continue;
			}
		}
		if (val->type != YAML_SCALAR_NODE || !config_is_text(val) || config_is_null(val)) {
			config_err(ld, config_err_node(k, val),
				   "%s '%s': %s: '%s': expected %s, got %s",
				   config_role_name(node->role), node->name, pd->name,
				   config_show(ld, name), "a scalar", config_what_is(val));
			continue;
		}
		list[2 * i] = config_strdup(ld, name);
		list[2 * i + 1] = config_strdup(ld, config_text(val));
		pos->items[i].line = MARK_LINE(val->start_mark);
		pos->items[i].column = MARK_COL(val->start_mark);
		pos->items[i].col_adj = config_col_adj(val);
		joined += strlen(name) + strlen(config_text(val)) + 4;
		i++;
	}
	list[2 * i] = NULL;
	pos->n_items = i;
	arg->list = list;
	arg->n_list = 2 * i;
	/* The text of a map: "name: value, ..." */
	str = config_alloc(ld, joined, 1);
	if (!str)
		return;
	for (uint32_t k = 0; k < i; k++) {
		if (k)
			strcat(str, ", ");
		strcat(str, list[2 * k]);
		strcat(str, ": ");
		strcat(str, list[2 * k + 1]);
	}
	arg->str = str;
}

/* One declared parameter from its YAML value. */
static void config_arg_from_node(struct loader *ld, const struct sl_config_node *node,
				 const struct sl_param_desc *pd, yaml_node_t *k, yaml_node_t *v,
				 struct sl_arg *arg, struct arg_pos *pos)
{
	char why[200];

	arg->line = MARK_LINE(v->start_mark);
	arg->column = MARK_COL(v->start_mark);
	pos->col_adj = -1;
	arg->list = empty_list;
	if (config_is_null(v)) {
		config_err(ld, k, "%s '%s': %s: expected a value", config_role_name(node->role),
			   node->name, pd->name);
		return;
	}
	if (pd->type == SL_PARAM_MAP) {
		if (v->type == YAML_MAPPING_NODE)
			config_map_from_node(ld, node, pd, v, arg, pos);
		else
			config_err(ld, v,
				   "%s '%s': %s: expected a mapping of names to values, got %s",
				   config_role_name(node->role), node->name, pd->name,
				   config_what_is(v));
		return;
	}
	if (v->type == YAML_SCALAR_NODE) {
		if (!config_is_text(v)) {
			config_err(ld, v, "%s '%s': %s: value contains a NUL character",
				   config_role_name(node->role), node->name, pd->name);
			return;
		}
		/* A byte offset into the value is a column offset only when the value is
		 * its source text: one line, no escapes (same length), quotes skipped. */
		if (v->start_mark.line == v->end_mark.line) {
			yaml_scalar_style_t st = v->data.scalar.style;
			size_t span = v->end_mark.index - v->start_mark.index;

			if (st == YAML_PLAIN_SCALAR_STYLE && span == v->data.scalar.length)
				pos->col_adj = 0;
			else if ((st == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
				  st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
				 span == v->data.scalar.length + 2)
				pos->col_adj = 1;
		}
		if (config_value_from_text(ld, pd->type, config_text(v), arg, why, sizeof(why)) <
			    0 &&
		    !ld->oom)
			config_err(ld, v, "%s '%s': %s: %s", config_role_name(node->role),
				   node->name, pd->name, why);
		return;
	}
	if (pd->type != SL_PARAM_LIST || v->type != YAML_SEQUENCE_NODE) {
		config_err(ld, v, "%s '%s': %s: expected %s, got %s", config_role_name(node->role),
			   node->name, pd->name, pd->type == SL_PARAM_LIST ? "a list" : "a scalar",
			   config_what_is(v));
		return;
	}

	uint32_t n = config_n_items(v), i = 0;
	const char **list = config_alloc(ld, (size_t)n + 1, sizeof(*list));
	size_t joined = 1;
	char *str;

	if (!list)
		return;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = config_yaml_node(ld, *it);
		const char *text = NULL;

		if (item->type == YAML_MAPPING_NODE)
			text = config_flow_text(ld, item);
		else if (config_is_text(item))
			text = config_strdup(ld, config_text(item));
		if (!text) {
			if (!ld->oom)
				config_err(ld, item,
					   "%s '%s': %s: list items must be scalars%s, got %s",
					   config_role_name(node->role), node->name, pd->name,
					   item->type == YAML_MAPPING_NODE
						   ? " or mappings of scalars"
						   : "",
					   item->type == YAML_MAPPING_NODE
						   ? "a mapping with a nested list or mapping"
						   : config_what_is(item));
			continue;
		}
		list[i] = text;
		joined += strlen(text) + 2;
		i++;
	}
	list[i] = NULL;
	arg->list = list;
	arg->n_list = i;
	/* The text of a list: its items joined by ", ". */
	str = config_alloc(ld, joined, 1);
	if (!str)
		return;
	for (uint32_t k = 0; k < i && list[k]; k++) {
		if (k)
			strcat(str, ", ");
		strcat(str, list[k]);
	}
	arg->str = str;
}

/* One declared parameter the file does not set: its default, or empty. */
static void config_arg_default(struct loader *ld, const struct sl_config_node *node,
			       const struct sl_param_desc *pd, struct sl_arg *arg,
			       struct arg_pos *pos)
{
	char why[200];
	int rc;

	pos->col_adj = -1;
	arg->list = empty_list;
	if (pd->required) {
		config_err_at(ld, node->line, node->column, "%s '%s': missing required key '%s'",
			      config_role_name(node->role), node->name, pd->name);
		return;
	}
	if (!pd->def)
		return;
	if (pd->type == SL_PARAM_MAP)
		return; /* maps have no default but empty */
	if (pd->type == SL_PARAM_LIST)
		rc = config_list_from_default(ld, pd->def, arg);
	else
		rc = config_value_from_text(ld, pd->type, pd->def, arg, why, sizeof(why));
	if (rc < 0 && !ld->oom)
		config_err_at(ld, node->line, node->column,
			      "%s kind '%s': default of '%s' is invalid: %s",
			      config_role_name(node->role), node->kind, pd->name, why);
}

/* Keys every node of a role may carry besides its kind's parameters. */
enum common_key {
	CK_KIND = 0,
	CK_INPUTS,
	CK_REPLICAS,
	CK_RING_SIZE,
	CK_WHEN_FULL,
	CK_SCALE,
	CK_ORDERED_BY,
	CK_N,
};

struct role_info {
	const char *section;
	const char *kind_key;
	uint32_t keys; /* bit per enum common_key */
};

static const struct role_info roles[] = {
	[SL_NODE_SOURCE] = { "sources", "type", 1u << CK_KIND | 1u << CK_REPLICAS },
	[SL_NODE_STAGE] = { "stages", "use",
			    1u << CK_KIND | 1u << CK_INPUTS | 1u << CK_REPLICAS |
				    1u << CK_RING_SIZE | 1u << CK_WHEN_FULL | 1u << CK_SCALE |
				    1u << CK_ORDERED_BY },
	[SL_NODE_SINK] = { "sinks", "type",
			   1u << CK_KIND | 1u << CK_INPUTS | 1u << CK_REPLICAS |
				   1u << CK_RING_SIZE | 1u << CK_WHEN_FULL },
};

static const char *config_common_name(enum sl_node_role role, unsigned k)
{
	static const char *const names[CK_N] = { NULL,	      "inputs", "replicas",  "ring_size",
						 "when_full", "scale",	"ordered_by" };

	return k == CK_KIND ? roles[role].kind_key : names[k];
}

static const struct sl_param_desc *config_node_params(const struct sl_config_node *node)
{
	if (node->source)
		return node->source->params;
	if (node->sink)
		return node->sink->params;
	if (node->stage)
		return node->stage->params;
	return NULL;
}

static bool config_node_resolved(const struct sl_config_node *node)
{
	return node->source || node->sink || node->stage;
}

/* Append to a bounded message buffer, marking a cut with "...". */
static void config_buf_add(char *buf, size_t len, const char *s)
{
	size_t used = strlen(buf);

	if (used + strlen(s) + 4 < len)
		memcpy(buf + used, s, strlen(s) + 1);
	else if (used + 4 < len && strcmp(buf + used - 3, "...") != 0)
		memcpy(buf + used, "...", 4);
}

static void config_list_keys(const struct sl_config_node *node, char *buf, size_t len)
{
	const struct sl_param_desc *p = config_node_params(node);

	buf[0] = '\0';
	for (unsigned k = 0; k < CK_N; k++) {
		if (!(roles[node->role].keys & (1u << k)))
			continue;
		if (buf[0])
			config_buf_add(buf, len, ", ");
		config_buf_add(buf, len, config_common_name(node->role, k));
	}
	for (; p && p->name; p++) {
		config_buf_add(buf, len, ", ");
		config_buf_add(buf, len, p->name);
	}
}

/* Stage kinds: the registry's, then opts->stages. */
static const struct sl_stage_desc *config_stage_at(const struct loader *ld, uint32_t i)
{
	const struct sl_stage_desc *s = NULL;
	const char *origin;
	uint32_t n = 0;

	if (ld->opts->registry) {
		s = sl_registry_at(ld->opts->registry, i, &origin);
		if (s)
			return s;
		while (sl_registry_at(ld->opts->registry, n, &origin))
			n++;
	}
	for (uint32_t k = 0; ld->opts->stages && ld->opts->stages[k]; k++)
		if (n + k == i)
			return ld->opts->stages[k];
	return NULL;
}

static const struct sl_stage_desc *config_find_stage(const struct loader *ld, const char *name)
{
	const struct sl_stage_desc *s = NULL;

	if (ld->opts->registry)
		s = sl_registry_find(ld->opts->registry, name);
	for (uint32_t k = 0; !s && ld->opts->stages && ld->opts->stages[k]; k++)
		if (ld->opts->stages[k]->name && strcmp(ld->opts->stages[k]->name, name) == 0)
			s = ld->opts->stages[k];
	return s;
}

static void config_list_kinds(const struct loader *ld, enum sl_node_role role, char *buf,
			      size_t len)
{
	const char *name;

	buf[0] = '\0';
	for (uint32_t i = 0;; i++) {
		if (role == SL_NODE_SOURCE) {
			const struct sl_source_ops *o = sl_source_at(i);
			name = o ? o->type : NULL;
		} else if (role == SL_NODE_SINK) {
			const struct sl_sink_ops *o = sl_sink_at(i);
			name = o ? o->type : NULL;
		} else {
			const struct sl_stage_desc *s = config_stage_at(ld, i);

			name = s ? s->name : NULL;
		}
		if (!name)
			break;
		if (buf[0])
			config_buf_add(buf, len, ", ");
		config_buf_add(buf, len, name);
	}
	if (!buf[0])
		config_buf_add(buf, len, "none");
}

/* Sets node->kind (and the ops or descriptor when the kind is known); reports a value
 * that is not a name. */
static void config_resolve_kind(struct loader *ld, struct sl_config_node *node, yaml_node_t *k,
				yaml_node_t *v)
{
	const char *what = config_role_name(node->role);
	char known[320];

	/* `type: null` names the null sink (Fluent Bit's spelling), not YAML's null. */
	if (!config_is_text(v) || (config_is_null(v) && strcmp(config_text(v), "null") != 0)) {
		config_err(ld, config_err_node(k, v), "%s '%s': %s: expected a kind name, got %s",
			   what, node->name, roles[node->role].kind_key, config_what_is(v));
		return;
	}
	node->kind = config_strdup(ld, config_text(v));
	if (!node->kind)
		return;
	if (node->role == SL_NODE_SOURCE)
		node->source = sl_source_find(node->kind);
	else if (node->role == SL_NODE_SINK)
		node->sink = sl_sink_find(node->kind);
	else if (!(node->stage = config_find_stage(ld, node->kind)) &&
		 strcmp(node->kind, "forward") == 0)
		node->sink = sl_sink_find("dpdk"); /* forward: see config_load_node */
	if (config_node_resolved(node))
		return;
	config_list_kinds(ld, node->role, known, sizeof(known));
	config_err(ld, v, "%s '%s': unknown %s kind '%s' (known: %s)", what, node->name, what,
		   config_show(ld, node->kind), known);
}

/* A non-negative integer key of a node (replicas, ring_size). */
static int config_uint_key(struct loader *ld, const struct sl_config_node *node, const char *key,
			   yaml_node_t *k, yaml_node_t *v, int64_t *out)
{
	int rc;

	if (!config_is_text(v) || config_is_null(v)) {
		config_err(ld, config_err_node(k, v), "%s '%s': %s: expected an integer, got %s",
			   config_role_name(node->role), node->name, key, config_what_is(v));
		return -EINVAL;
	}
	rc = config_parse_int(config_text(v), out);
	if (rc < 0)
		config_err(ld, v, "%s '%s': %s: expected an integer, got '%s'",
			   config_role_name(node->role), node->name, key,
			   config_show(ld, config_text(v)));
	return rc;
}

static void config_load_inputs(struct loader *ld, struct sl_config_node *node, yaml_node_t *k,
			       yaml_node_t *v)
{
	const char *what = config_role_name(node->role);
	yaml_node_item_t one, *start, *end;
	uint32_t n, i = 0;

	if (v->type == YAML_SCALAR_NODE && !config_is_null(v)) {
		/* A single name is taken as a list of one. */
		one = (yaml_node_item_t)(v - ld->doc.nodes.start + 1);
		start = &one;
		end = start + 1;
	} else if (v->type == YAML_SEQUENCE_NODE) {
		start = v->data.sequence.items.start;
		end = v->data.sequence.items.top;
	} else {
		config_err(ld, config_err_node(k, v),
			   "%s '%s': inputs: expected a list of node names, got %s", what,
			   node->name, config_what_is(v));
		return;
	}
	n = (uint32_t)(end - start);
	if (n == 0) {
		config_err(ld, v, "%s '%s': inputs: must name at least one node", what, node->name);
		return;
	}
	if (n > SL_CONFIG_MAX_INPUTS) {
		config_err(ld, v, "%s '%s': inputs: more than %u entries", what, node->name,
			   SL_CONFIG_MAX_INPUTS);
		return;
	}
	node->inputs = config_alloc(ld, n, sizeof(*node->inputs));
	if (!node->inputs)
		return;
	for (yaml_node_item_t *it = start; it < end; it++) {
		yaml_node_t *item = config_yaml_node(ld, *it);
		struct sl_config_input *in = &node->inputs[i];

		if (!config_is_text(item) || config_is_null(item)) {
			config_err(ld, item, "%s '%s': inputs: expected a node name, got %s", what,
				   node->name, config_what_is(item));
			continue;
		}
		in->text = config_strdup(ld, config_text(item));
		if (!in->text)
			return;
		in->node = UINT32_MAX;
		in->line = MARK_LINE(item->start_mark);
		in->column = MARK_COL(item->start_mark);
		i++;
	}
	node->n_inputs = i;
}

/* `scale: { min: A, max: B }` of a stage (docs/scaling.md): autoscaled replicas. */
static void config_load_scale(struct loader *ld, struct sl_config_node *node, yaml_node_t *k,
			      yaml_node_t *v)
{
	int64_t x[2] = { -1, -1 };

	if (v->type != YAML_MAPPING_NODE) {
		config_err(ld, config_err_node(k, v),
			   "stage '%s': scale: expected { min: N, max: N }, got %s", node->name,
			   config_what_is(v));
		return;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *mk = config_yaml_node(ld, p->key),
			    *mv = config_yaml_node(ld, p->value);
		int i = !config_is_text(mk)		      ? -1
			: strcmp(config_text(mk), "min") == 0 ? 0
			: strcmp(config_text(mk), "max") == 0 ? 1
							      : -1;

		if (i < 0) {
			config_err(ld, mk,
				   "stage '%s': scale: unknown key '%s' (valid keys: min, max)",
				   node->name,
				   config_is_text(mk) ? config_show(ld, config_text(mk)) : "?");
			continue;
		}
		if (config_uint_key(ld, node, i ? "scale: max" : "scale: min", mk, mv, &x[i]) < 0)
			return;
		if (x[i] < 0 || x[i] > SL_CONFIG_SCALE_MAX) {
			config_err(ld, mv, "stage '%s': scale: %s: must be from 0 to %u, got %s",
				   node->name, i ? "max" : "min", SL_CONFIG_SCALE_MAX,
				   config_show(ld, config_text(mv)));
			return;
		}
	}
	if (x[1] < 0) {
		config_err(ld, v, "stage '%s': scale: missing required key 'max'", node->name);
		return;
	}
	if (x[0] < 0)
		x[0] = 0;
	if (x[1] < 1 || x[0] > x[1]) {
		config_err(ld, v, "stage '%s': scale: need 0 <= min <= max, max >= 1; got %d, %d",
			   node->name, (int)x[0], (int)x[1]);
		return;
	}
	node->scale_set = true;
	node->scale_min = (uint32_t)x[0];
	node->scale_max = (uint32_t)x[1];
	node->scale_line = MARK_LINE(k->start_mark);
	node->scale_col = MARK_COL(k->start_mark);
}

static void config_load_common(struct loader *ld, struct sl_config_node *node, unsigned common,
			       yaml_node_t *k, yaml_node_t *v)
{
	const char *what = config_role_name(node->role);
	int64_t x;

	switch (common) {
	case CK_INPUTS:
		config_load_inputs(ld, node, k, v);
		break;
	case CK_REPLICAS:
		if (config_uint_key(ld, node, "replicas", k, v, &x) < 0)
			break;
		if (x < 1 || x > CONFIG_MAX_REPLICAS)
			config_err(ld, v, "%s '%s': replicas: must be from 1 to %u, got %s", what,
				   node->name, CONFIG_MAX_REPLICAS,
				   config_show(ld, config_text(v)));
		else if (x > 1 && node->role == SL_NODE_SINK && node->sink && !node->sink->lanes)
			config_err(ld, v,
				   "sink '%s' (%s): writes one output in order, so replicas must "
				   "be 1, got %s",
				   node->name, node->kind, config_show(ld, config_text(v)));
		else
			node->replicas = (uint32_t)x;
		node->replicas_set = true;
		break;
	case CK_RING_SIZE:
		if (config_uint_key(ld, node, "ring_size", k, v, &x) < 0)
			break;
		if (x < CONFIG_MIN_RING_SIZE || x > CONFIG_MAX_RING_SIZE || (x & (x - 1)) != 0)
			config_err(ld, v,
				   "%s '%s': ring_size: must be a power of two "
				   "from %u to %u, got %s",
				   what, node->name, CONFIG_MIN_RING_SIZE, CONFIG_MAX_RING_SIZE,
				   config_show(ld, config_text(v)));
		else
			node->ring_size = (uint32_t)x;
		break;
	case CK_WHEN_FULL:
		if (config_is_text(v) && strcmp(config_text(v), "block") == 0)
			node->when_full = SL_EDGE_BLOCK;
		else if (config_is_text(v) && strcmp(config_text(v), "drop_newest") == 0)
			node->when_full = SL_EDGE_DROP_NEWEST;
		else if (v->type == YAML_SCALAR_NODE && config_is_text(v) && !config_is_null(v))
			config_err(ld, v,
				   "%s '%s': when_full: expected block or drop_newest, got '%s'",
				   what, node->name, config_show(ld, config_text(v)));
		else
			config_err(ld, config_err_node(k, v),
				   "%s '%s': when_full: expected block or drop_newest, got %s",
				   what, node->name, config_what_is(v));
		break;
	case CK_SCALE:
		config_load_scale(ld, node, k, v);
		break;
	case CK_ORDERED_BY:
		/* A record field name: events of one value keep their order (docs/scaling.md). */
		if (!config_is_text(v) || config_is_null(v) || !config_text(v)[0] ||
		    strlen(config_text(v)) > 255)
			config_err(
				ld, config_err_node(k, v),
				"stage '%s': ordered_by: expected a field name (1 to 255 bytes), "
				"got %s",
				node->name,
				!config_is_text(v) || config_is_null(v) ? config_what_is(v)
				: config_text(v)[0]			? "a longer name"
									: "an empty string");
		else
			node->ordered_by = config_strdup(ld, config_text(v));
		break;
	}
}

static void config_resolve_outputs(struct loader *ld, struct sl_config_node *node)
{
	const char *const *names = NULL;
	uint32_t n = 0;

	if (node->role == SL_NODE_SOURCE)
		names = default_output;
	else if (node->stage)
		names = node->stage->outputs ? node->stage->outputs : default_output;
	if (!names)
		return;
	while (names[n])
		n++;
	if (n > SL_PORT_MAX) {
		config_err_at(ld, node->line, node->column,
			      "stage kind '%s' declares %u outputs (at most %u)", node->kind, n,
			      SL_PORT_MAX);
		return;
	}
	node->output_names = config_alloc(ld, n + 1, sizeof(char *));
	if (!node->output_names)
		return;
	for (uint32_t i = 0; i < n; i++)
		node->output_names[i] = config_strdup(ld, names[i]);
	node->n_outputs = (uint16_t)n;
}

/* A stage with outputs_from: its map parameter's names follow the declared outputs. */
static void config_outputs_from(struct loader *ld, struct sl_config_node *node)
{
	const struct sl_arg *a = NULL;
	uint32_t n, extra;
	char **names;

	if (!node->stage || !node->stage->outputs_from || !node->output_names)
		return;
	for (uint32_t i = 0; i < node->args.n && !a; i++)
		if (strcmp(node->args.v[i].key, node->stage->outputs_from) == 0)
			a = &node->args.v[i];
	if (!a || a->n_list == 0)
		return;
	n = node->n_outputs;
	extra = a->n_list / 2;
	if (n + extra > SL_PORT_MAX) {
		config_err_at(ld, a->line, a->column,
			      "stage '%s': %s: at most %u entries (a stage has at most %u outputs)",
			      node->name, node->stage->outputs_from, SL_PORT_MAX - n, SL_PORT_MAX);
		return;
	}
	names = config_alloc(ld, n + extra + 1, sizeof(char *));
	if (!names)
		return;
	memcpy(names, node->output_names, n * sizeof(char *));
	for (uint32_t i = 0; i < extra; i++)
		names[n + i] = config_strdup(ld, a->list[2 * i]);
	node->output_names = names;
	node->n_outputs = (uint16_t)(n + extra);
}

/* `type: gen` with `emit: packets` is the packet generator, pktgen, with its keys
 * (docs/packets.md); any other emit value is gen's to check. */
static void config_gen_emit(struct loader *ld, struct sl_config_node *node, yaml_node_t *map)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key), *v = config_yaml_node(ld, p->value);

		if (config_is_text(k) && strcmp(config_text(k), "emit") == 0 && config_is_text(v) &&
		    strcmp(config_text(v), "packets") == 0) {
			node->source = &sl_source_pktgen;
			return;
		}
	}
}

/* An isolation key of a stage (resilience/sandbox.c checks the values later). */
static void config_iso_key(struct loader *ld, struct sl_config_node *node, yaml_node_t *k,
			   yaml_node_t *v)
{
	for (uint32_t i = 0; i < node->n_iso; i++)
		if (strcmp(node->iso[i].key, config_text(k)) == 0) {
			config_err(ld, k, "stage '%s': duplicate key '%s' (first at line %u)",
				   node->name, config_text(k), node->iso[i].line);
			return;
		}
	if (!config_is_text(v) || config_is_null(v) || node->n_iso >= 8) {
		config_err(ld, config_err_node(k, v), "stage '%s': %s: expected a value, got %s",
			   node->name, config_text(k), config_what_is(v));
		return;
	}
	node->iso[node->n_iso] =
		(struct sl_config_iso){ config_strdup(ld, config_text(k)),
					config_strdup(ld, config_text(v)), MARK_LINE(v->start_mark),
					MARK_COL(v->start_mark) };
	node->n_iso++;
}

static void config_load_node(struct loader *ld, struct sl_config_node *node, yaml_node_t *map)
{
	const char *what = config_role_name(node->role);
	const struct sl_param_desc *params;
	yaml_node_t *seen_common[CK_N] = { NULL };
	yaml_node_t **seen_param = NULL;
	uint32_t n_params = 0, idx = (uint32_t)(node - ld->c->nodes);
	bool has_kind = false;
	char keys[400];

	node->replicas = 1;
	node->ring_size = node->role == SL_NODE_SOURCE ? 0 : CONFIG_DEFAULT_RING_SIZE;
	node->when_full = SL_EDGE_BLOCK;
	node->args.file = ld->c->file;
	node->args.name = node->name;
	node->args.v = NULL;
	if (map->type != YAML_MAPPING_NODE) {
		config_err_at(ld, config_is_null(map) ? node->line : MARK_LINE(map->start_mark),
			      config_is_null(map) ? node->column : MARK_COL(map->start_mark),
			      "%s '%s' must be a mapping of keys, got %s", what, node->name,
			      config_what_is(map));
		return;
	}
	/* The kind first: it says which parameters are valid. */
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key);

		if (config_is_text(k) && strcmp(config_text(k), roles[node->role].kind_key) == 0) {
			config_resolve_kind(ld, node, k, config_yaml_node(ld, p->value));
			has_kind = true;
			break;
		}
	}
	if (!has_kind)
		config_err_at(ld, node->line, node->column, "%s '%s': missing required key '%s'",
			      what, node->name, roles[node->role].kind_key);
	if (node->role == SL_NODE_SOURCE && node->source == &sl_source_gen)
		config_gen_emit(ld, node, map);
	params = config_node_params(node);
	while (params && params[n_params].name)
		n_params++;
	if (n_params) {
		seen_param = config_alloc(ld, n_params, sizeof(*seen_param));
		if (!seen_param)
			return;
	}

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key), *v = config_yaml_node(ld, p->value),
			    **slot = NULL;
		unsigned common = CK_N;

		if (!config_is_text(k)) {
			config_err(ld, k, "%s '%s': keys must be names, got %s", what, node->name,
				   config_what_is(k));
			continue;
		}
		for (unsigned c = 0; c < CK_N && !slot; c++) {
			if ((roles[node->role].keys & (1u << c)) &&
			    strcmp(config_text(k), config_common_name(node->role, c)) == 0) {
				slot = &seen_common[c];
				common = c;
			}
		}
		for (uint32_t i = 0; i < n_params && !slot; i++)
			if (strcmp(config_text(k), params[i].name) == 0)
				slot = &seen_param[i];
		if (!slot && node->role == SL_NODE_STAGE && sl_sandbox_is_key(config_text(k))) {
			config_iso_key(ld, node, k, v);
			continue;
		}
		if (!slot) {
			if (node->role == SL_NODE_SOURCE && strcmp(config_text(k), "inputs") == 0) {
				config_err(ld, k, "source '%s' takes no inputs", node->name);
			} else if (config_node_resolved(node) ||
				   !strcmp(config_text(k), "inputs") ||
				   !strcmp(config_text(k), "replicas") ||
				   !strcmp(config_text(k), "ring_size") ||
				   !strcmp(config_text(k), "when_full")) {
				/* Without a kind only misplaced common keys are known to be wrong.
				 */
				config_list_keys(node, keys, sizeof(keys));
				config_err(ld, k, "%s '%s': unknown key '%s' (valid keys: %s)",
					   what, node->name, config_show(ld, config_text(k)), keys);
			}
			continue;
		}
		if (*slot) {
			config_err(ld, k, "%s '%s': duplicate key '%s' (first at line %u)", what,
				   node->name, config_show(ld, config_text(k)),
				   MARK_LINE((*slot)->start_mark));
			continue;
		}
		*slot = k;
		if (common != CK_N)
			config_load_common(ld, node, common, k, v);
	}
	if ((roles[node->role].keys & (1u << CK_INPUTS)) && !seen_common[CK_INPUTS])
		config_err_at(ld, node->line, node->column,
			      "%s '%s': missing required key 'inputs'", what, node->name);

	config_resolve_outputs(ld, node);
	if (node->role == SL_NODE_STAGE && node->sink) {
		/* `use: forward` (TX to a port) is a dpdk sink written among the stages: it
		 * takes the sink's keys and becomes one here (docs/packets.md). */
		node->role = SL_NODE_SINK;
		node->replicas = 1;
		ld->section_used[SL_NODE_SINK] = true;
	}
	if (!params)
		return;
	struct sl_arg *args = config_alloc(ld, n_params ? n_params : 1, sizeof(*args));
	struct arg_pos *pos = config_alloc(ld, n_params ? n_params : 1, sizeof(*pos));

	if (!args || !pos)
		return;
	ld->pos[idx] = pos;
	node->args.v = args;
	node->args.n = n_params;
	for (uint32_t i = 0; i < n_params; i++) {
		args[i].key = config_strdup(ld, params[i].name);
		args[i].type = params[i].type;
		if (seen_param[i]) {
			/* The value of the pair whose key is seen_param[i]. */
			for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
			     p < map->data.mapping.pairs.top; p++) {
				if (config_yaml_node(ld, p->key) == seen_param[i]) {
					config_arg_from_node(ld, node, &params[i], seen_param[i],
							     config_yaml_node(ld, p->value),
							     &args[i], &pos[i]);
					break;
				}
			}
		} else {
			config_arg_default(ld, node, &params[i], &args[i], &pos[i]);
		}
	}
	config_outputs_from(ld, node);
}

static bool config_valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static void config_load_section(struct loader *ld, enum sl_node_role role, yaml_node_t *key,
				yaml_node_t *val)
{
	ld->section_key[role] = key;
	if (config_is_null(val))
		return;
	if (val->type != YAML_MAPPING_NODE) {
		config_err(ld, val, "%s: expected a mapping of name: node, got %s",
			   roles[role].section, config_what_is(val));
		return;
	}
	ld->section_used[role] = config_n_pairs(val) > 0;
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key), *v = config_yaml_node(ld, p->value);
		struct sl_config_node *node;
		bool dup = false;

		if (!config_is_text(k)) {
			config_err(ld, k, "%s: node names must be scalars, got %s",
				   roles[role].section, config_what_is(k));
			continue;
		}
		if (!config_valid_name(config_text(k))) {
			config_err(ld, k,
				   "invalid node name '%s': use letters, digits, '_' and '-'",
				   config_show(ld, config_text(k)));
			continue;
		}
		if (strlen(config_text(k)) > SL_CONFIG_NAME_MAX) {
			config_err(ld, k, "node name '%.16s...' is %zu bytes long; at most %u",
				   config_text(k), strlen(config_text(k)), SL_CONFIG_NAME_MAX);
			continue;
		}
		for (uint32_t i = 0; i < ld->c->n_nodes && !dup; i++) {
			const struct sl_config_node *o = &ld->c->nodes[i];

			if (strcmp(o->name, config_text(k)) == 0) {
				config_err(ld, k, "duplicate name '%s': already a %s at line %u",
					   config_text(k), config_role_name(o->role), o->line);
				dup = true;
			}
		}
		if (dup)
			continue;
		if (ld->c->n_nodes >= ld->cap_nodes) {
			config_err(ld, k, "too many nodes (at most %u)", SL_CONFIG_MAX_NODES);
			return;
		}
		node = &ld->c->nodes[ld->c->n_nodes];
		node->role = role;
		node->name = config_strdup(ld, config_text(k));
		if (!node->name)
			return;
		/* Counted once named: every counted node has a name to compare. */
		ld->c->n_nodes++;
		node->line = MARK_LINE(k->start_mark);
		node->column = MARK_COL(k->start_mark);
		config_load_node(ld, node, v);
		if (ld->oom)
			return;
	}
}

static void config_load_sources(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	config_load_section(ld, SL_NODE_SOURCE, key, val);
}

static void config_load_stages(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	config_load_section(ld, SL_NODE_STAGE, key, val);
}

static void config_load_sinks(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	config_load_section(ld, SL_NODE_SINK, key, val);
}

/* `plugin_dirs: [DIR, ...]`: plugins load only from these directories (docs/plugins.md).
 * Set before `plugins:` is read; only when plugins are really loaded (not when fuzzing). */
static void config_load_plugin_dirs(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	const char *dirs[64];
	uint32_t n = 0;
	char err[300];

	if (val->type != YAML_SEQUENCE_NODE) {
		config_err(ld, config_err_node(key, val),
			   "plugin_dirs: expected a list of directories, got %s",
			   config_what_is(val));
		return;
	}
	for (yaml_node_item_t *it = val->data.sequence.items.start;
	     it < val->data.sequence.items.top; it++) {
		yaml_node_t *item = config_yaml_node(ld, *it);

		if (!config_is_text(item) || config_is_null(item) || !config_text(item)[0]) {
			config_err(ld, item, "plugin_dirs: expected a directory, got %s",
				   config_what_is(item));
			return;
		}
		if (n == SL_ARRAY_SIZE(dirs)) {
			config_err(ld, item, "plugin_dirs: at most %zu directories",
				   SL_ARRAY_SIZE(dirs));
			return;
		}
		dirs[n++] = config_text(item);
	}
	if (ld->opts->load_plugins && sl_plugin_trust_set_dirs(dirs, n, err, sizeof(err)) < 0)
		config_err(ld, val, "%s", err);
}

static void config_load_plugins(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	yaml_node_item_t one, *start, *end;
	char err[256];

	if (config_is_null(val))
		return;
	if (val->type == YAML_SCALAR_NODE) {
		one = (yaml_node_item_t)(val - ld->doc.nodes.start + 1);
		start = &one;
		end = start + 1;
	} else if (val->type == YAML_SEQUENCE_NODE) {
		start = val->data.sequence.items.start;
		end = val->data.sequence.items.top;
	} else {
		config_err(ld, val, "plugins: expected a list of paths, got %s",
			   config_what_is(val));
		return;
	}
	ld->c->plugins = config_alloc(ld, (size_t)(end - start) + 1, sizeof(char *));
	if (!ld->c->plugins)
		return;
	for (yaml_node_item_t *it = start; it < end; it++) {
		yaml_node_t *item = config_yaml_node(ld, *it);
		char *path;

		if (!config_is_text(item) || config_is_null(item)) {
			config_err(ld, item, "plugins: expected a path, got %s",
				   config_what_is(item));
			continue;
		}
		path = config_strdup(ld, config_text(item));
		if (!path)
			return;
		ld->c->plugins[ld->c->n_plugins++] = path;
		if (!ld->opts->load_plugins)
			continue;
		err[0] = '\0';
		if (!ld->opts->registry) {
			config_err(ld, item, "plugin '%s': no registry to load it into",
				   config_show(ld, path));
			continue;
		}
		if (sl_plugin_load(ld->opts->registry, path, err, sizeof(err)) == 0)
			continue;
		if (err[0] && strstr(err, path))
			config_err(ld, item, "%s", err); /* the loader's reason names the path */
		else
			config_err(ld, item, "plugin '%s': %s", config_show(ld, path),
				   err[0] ? err : "cannot load");
	}
}

/* A duration: an integer with ms, s or m (a bare integer is seconds). -EINVAL or -ERANGE
 * (more than max_ms). */
static int config_parse_duration_ms(const char *s, uint64_t max_ms, uint32_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 } };
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max_ms)
			return -ERANGE;
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(units); i++)
		if (strcmp(p, units[i].unit) == 0) {
			if (v > max_ms / units[i].ms)
				return -ERANGE;
			*out = (uint32_t)(v * units[i].ms);
			return 0;
		}
	return -EINVAL;
}

/* `metrics: "[ADDR:]PORT"`: an IPv4 address (or localhost; 127.0.0.1 when left out) and a
 * port 0..65535 (0: any free one). */
static int config_parse_listen(const char *s, uint32_t *ip, uint16_t *port)
{
	const char *colon = strrchr(s, ':'), *p = colon ? colon + 1 : s;
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	uint32_t v = 0;

	if (!*p || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	if (!colon || (colon - s == 9 && strncmp(s, "localhost", 9) == 0)) {
		*ip = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if (colon - s >= (ptrdiff_t)sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

static void config_load_control(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	static const char *const keys[] = { "socket", "metrics", "stall_after", "linger",
					    "heartbeat" };
	struct sl_config_control *ctl = &ld->c->control;
	const yaml_node_t *seen[SL_ARRAY_SIZE(keys)] = { NULL };

	ctl->line = MARK_LINE(key->start_mark);
	if (config_is_null(val))
		return;
	if (val->type != YAML_MAPPING_NODE) {
		config_err(ld, val, "control: expected a mapping of keys, got %s",
			   config_what_is(val));
		return;
	}
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key), *v = config_yaml_node(ld, p->value);
		const char *text;
		size_t i;
		int rc;

		for (i = 0; config_is_text(k) && i < SL_ARRAY_SIZE(keys); i++)
			if (strcmp(config_text(k), keys[i]) == 0)
				break;
		if (!config_is_text(k) || i == SL_ARRAY_SIZE(keys)) {
			config_err(ld, k,
				   "control: unknown key '%s' (valid keys: socket, metrics, "
				   "stall_after, linger, heartbeat)",
				   config_is_text(k) ? config_show(ld, config_text(k)) : "?");
			continue;
		}
		if (seen[i]) {
			config_err(ld, k, "control: duplicate key '%s' (first at line %u)", keys[i],
				   MARK_LINE(seen[i]->start_mark));
			continue;
		}
		seen[i] = k;
		if (v->type != YAML_SCALAR_NODE || !config_is_text(v) || config_is_null(v)) {
			config_err(ld, config_err_node(k, v), "control: %s: expected %s, got %s",
				   keys[i], i == 0 ? "a path" : "a scalar", config_what_is(v));
			continue;
		}
		text = config_text(v);
		switch (i) {
		case 0:
			/* sockaddr_un.sun_path holds 108 bytes with the NUL. */
			if (strlen(text) > 107) {
				config_err(ld, v, "control: socket: path longer than 107 bytes");
				break;
			}
			if (!*text) {
				config_err(ld, v, "control: socket: expected a path, got ''");
				break;
			}
			ctl->socket = config_strdup(ld, text);
			break;
		case 1:
			if (config_parse_listen(text, &ctl->metrics_ip, &ctl->metrics_port) < 0)
				config_err(
					ld, v,
					"control: metrics: expected \"[ADDR:]PORT\" with an IPv4 "
					"ADDR and a PORT from 0 to 65535, got '%s'",
					config_show(ld, text));
			else
				ctl->metrics = true;
			break;
		default:
			rc = config_parse_duration_ms(text, 3600000,
						      i == 2   ? &ctl->stall_after_ms
						      : i == 3 ? &ctl->linger_ms
							       : &ctl->heartbeat_ms);
			if (rc == 0 && ((i == 2 && ctl->stall_after_ms < 100) ||
					(i == 4 && ctl->heartbeat_ms < 50)))
				rc = -ERANGE;
			if (rc < 0)
				config_err(ld, v,
					   "control: %s: expected a duration from %s to 1h (e.g. "
					   "500ms, 5s, 2m), got '%s'",
					   keys[i],
					   i == 2   ? "100ms"
					   : i == 4 ? "50ms"
						    : "0s",
					   config_show(ld, text));
			break;
		}
	}
}

/* A user or group name (POSIX portable characters) or a numeric id, 1 to 32 bytes. */
static bool config_identity_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* `user: NAME` and `group: NAME`: whom `sluice run` switches to once it has started, when
 * it runs as root (docs/resilience.md). Only the form is checked here; the names are
 * looked up when the run drops its privileges. */
static void config_load_identity(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	bool is_user = strcmp(config_text(key), "user") == 0;
	const char *what = is_user ? "user" : "group";
	const char *text;

	if (val->type != YAML_SCALAR_NODE || !config_is_text(val) || config_is_null(val)) {
		config_err(ld, config_err_node(key, val), "%s: expected a %s name or id, got %s",
			   what, what, config_what_is(val));
		return;
	}
	text = config_text(val);
	if (!config_identity_ok(text)) {
		config_err(ld, val,
			   "%s: '%s' is not a %s name or id (letters, digits, '_', '.', '-'; "
			   "1 to 32 bytes)",
			   what, config_show(ld, text), what);
		return;
	}
	if (is_user) {
		if (ld->opts->load_plugins) {
			struct passwd *pw = getpwnam(text);
			char *end;
			unsigned long id = strtoul(text, &end, 10);

			/* The service user may own plugins too (docs/plugins.md). */
			if (pw)
				sl_plugin_trust_set_uid(pw->pw_uid);
			else if (!*end && text[0] >= '0' && text[0] <= '9')
				sl_plugin_trust_set_uid((uid_t)id);
		}
		ld->c->user = config_strdup(ld, text);
		ld->c->user_line = MARK_LINE(val->start_mark);
		ld->c->user_column = MARK_COL(val->start_mark);
	} else {
		ld->c->group = config_strdup(ld, text);
		ld->c->group_line = MARK_LINE(val->start_mark);
		ld->c->group_column = MARK_COL(val->start_mark);
	}
}

/* `ledger: PATH`: where `sluice run` appends its usage ledger (docs/scaling.md, "Ledger"). */
static void config_load_ledger(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	if (val->type != YAML_SCALAR_NODE || !config_is_text(val) || config_is_null(val) ||
	    !config_text(val)[0]) {
		config_err(ld, config_err_node(key, val), "ledger: expected a file path, got %s",
			   config_what_is(val));
		return;
	}
	ld->c->ledger = config_strdup(ld, config_text(val));
}

/* `cores: N`: the most replicas all autoscaled stages may run at once (docs/scaling.md). */
static void config_load_cores(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	int64_t x;

	if (!config_is_text(val) || config_is_null(val) ||
	    config_parse_int(config_text(val), &x) < 0 || x < 1 || x > 1024) {
		config_err(ld, config_err_node(key, val),
			   "cores: expected an integer from 1 to 1024, got %s",
			   config_is_text(val) && !config_is_null(val)
				   ? config_show(ld, config_text(val))
				   : config_what_is(val));
		return;
	}
	ld->c->cores = (uint32_t)x;
	ld->c->cores_line = MARK_LINE(key->start_mark);
}

/* `fuse: true | false`: whether edges may be fused (graph/fuse.h); default true. */
static void config_load_fuse(struct loader *ld, yaml_node_t *key, yaml_node_t *val)
{
	bool b;

	if (!config_is_text(val) || config_is_null(val) ||
	    config_parse_bool(config_text(val), &b) < 0) {
		config_err(ld, config_err_node(key, val), "fuse: expected true or false, got %s",
			   config_is_text(val) && !config_is_null(val)
				   ? config_show(ld, config_text(val))
				   : config_what_is(val));
		return;
	}
	ld->c->no_fuse = !b;
}

/* The top-level keys, in the order they are processed whatever their order in the file:
 * plugins add stage kinds before stages are resolved, and nodes are stored sources,
 * stages, sinks. A new top-level key is one line here. */
static const struct top_key {
	const char *name;
	void (*load)(struct loader *ld, yaml_node_t *key, yaml_node_t *val);
	bool holds_nodes; /* a mapping of name: node, counted to size the nodes array */
} top_keys[] = {
	{ "plugin_dirs", config_load_plugin_dirs, false },
	{ "user", config_load_identity, false },
	{ "group", config_load_identity, false },
	{ "plugins", config_load_plugins, false },
	{ "sources", config_load_sources, true },
	{ "stages", config_load_stages, true },
	{ "sinks", config_load_sinks, true },
	{ "control", config_load_control, false },
	{ "ledger", config_load_ledger, false },
	{ "cores", config_load_cores, false },
	{ "fuse", config_load_fuse, false },
};

/* Link every input to its node and output port. */
static void config_resolve_inputs(struct loader *ld)
{
	struct sl_config *c = ld->c;
	/* Consumers of each output port so far (port p of node n at base[n] + p): an edge
	 * feeds at most SL_CONFIG_MAX_CONSUMERS. */
	uint32_t *base = calloc((size_t)c->n_nodes + 1, sizeof(*base));
	uint16_t *used = NULL;

	for (uint32_t n = 0; base && n < c->n_nodes; n++)
		base[n + 1] = base[n] + (c->nodes[n].n_outputs ? c->nodes[n].n_outputs : 1);
	if (base)
		used = calloc((size_t)base[c->n_nodes] + 1, sizeof(*used));
	if (!base || !used) {
		ld->oom = true;
		goto out;
	}
	for (uint32_t n = 0; n < c->n_nodes; n++) {
		struct sl_config_node *node = &c->nodes[n];

		for (uint32_t i = 0; i < node->n_inputs; i++) {
			struct sl_config_input *in = &node->inputs[i];
			const char *dot = strchr(in->text, '.');
			size_t name_len = dot ? (size_t)(dot - in->text) : strlen(in->text);
			const struct sl_config_node *from = NULL;
			uint32_t f;

			if (name_len == 0 || (dot && dot[1] == '\0')) {
				config_err_at(ld, in->line, in->column,
					      "input '%s' is not 'node' or 'node.output'",
					      config_show(ld, in->text));
				continue;
			}
			for (f = 0; f < c->n_nodes; f++) {
				if (strncmp(c->nodes[f].name, in->text, name_len) == 0 &&
				    c->nodes[f].name[name_len] == '\0') {
					from = &c->nodes[f];
					break;
				}
			}
			if (!from) {
				config_err_at(ld, in->line, in->column,
					      "input '%s' names no source or stage",
					      config_show(ld, in->text));
				continue;
			}
			if (from->role == SL_NODE_SINK) {
				config_err_at(ld, in->line, in->column,
					      "input '%s' is a sink; sinks have no outputs",
					      config_show(ld, in->text));
				continue;
			}
			in->node = f;
			in->port = 0;
			if (dot && from->output_names) {
				uint16_t port;

				for (port = 0; port < from->n_outputs; port++)
					if (strcmp(from->output_names[port], dot + 1) == 0)
						break;
				if (port == from->n_outputs) {
					char outs[200] = "";

					for (uint16_t k = 0; k < from->n_outputs; k++) {
						if (k)
							config_buf_add(outs, sizeof(outs), ", ");
						config_buf_add(outs, sizeof(outs),
							       from->output_names[k]);
					}
					config_err_at(ld, in->line, in->column,
						      "%s '%s' has no output '%s' (outputs: %s)",
						      config_role_name(from->role), from->name,
						      config_show(ld, dot + 1), outs);
					in->node = UINT32_MAX;
					continue;
				}
				in->port = port;
			}
			bool twice = false;

			for (uint32_t j = 0; j < i && !twice; j++)
				twice = node->inputs[j].node == in->node &&
					node->inputs[j].port == in->port;
			if (twice)
				config_err_at(ld, in->line, in->column,
					      "%s '%s': input '%s' listed twice",
					      config_role_name(node->role), node->name,
					      config_show(ld, in->text));
			else if (++used[base[in->node] + in->port] == SL_CONFIG_MAX_CONSUMERS + 1)
				config_err_at(
					ld, in->line, in->column,
					"input '%s': %s '%s' already feeds %d nodes from this "
					"output, the most one output can feed",
					config_show(ld, in->text), config_role_name(from->role),
					from->name, SL_CONFIG_MAX_CONSUMERS);
		}
	}
out:
	free(base);
	free(used);
}

/* Depth-first search over input edges; an edge back to a node on the current path closes
 * a cycle. Iterative: the path is at most n_nodes long. */
static void config_find_cycles(struct loader *ld)
{
	struct sl_config *c = ld->c;
	uint8_t *color;
	uint32_t *path, *next, n_reports = 0;

	if (c->n_nodes == 0)
		return;
	color = calloc(c->n_nodes, 1);
	path = calloc(c->n_nodes, sizeof(*path));
	next = calloc(c->n_nodes, sizeof(*next));
	if (!color || !path || !next) {
		ld->oom = true;
		goto out;
	}
	for (uint32_t root = 0; root < c->n_nodes; root++) {
		uint32_t depth = 0;

		if (color[root])
			continue;
		path[depth++] = root;
		color[root] = 1;
		next[root] = 0;
		while (depth) {
			uint32_t n = path[depth - 1];
			const struct sl_config_node *node = &c->nodes[n];
			uint32_t to;

			if (next[n] >= node->n_inputs) {
				color[n] = 2;
				depth--;
				continue;
			}
			to = node->inputs[next[n]++].node;
			if (to >= c->n_nodes || color[to] == 2)
				continue;
			if (color[to] == 0) {
				color[to] = 1;
				next[to] = 0;
				path[depth++] = to;
				continue;
			}
			if (n_reports++ >= CONFIG_MAX_CYCLE_REPORTS)
				continue;
			/* path[k] is `to`; path[j] reads from path[j + 1] and the last entry
			 * reads from `to`. Print in the direction events flow: to, then the
			 * path backwards, then to again. */
			char msg[400] = "";
			uint32_t k = depth - 1;

			while (path[k] != to)
				k--;
			config_buf_add(msg, sizeof(msg), c->nodes[to].name);
			for (uint32_t j = depth - 1; j > k; j--) {
				config_buf_add(msg, sizeof(msg), " -> ");
				config_buf_add(msg, sizeof(msg), c->nodes[path[j]].name);
			}
			config_buf_add(msg, sizeof(msg), " -> ");
			config_buf_add(msg, sizeof(msg), c->nodes[to].name);
			config_err_at(ld, c->nodes[to].line, c->nodes[to].column,
				      "inputs form a cycle: %s", msg);
		}
	}
out:
	free(color);
	free(path);
	free(next);
}

/* Isolation keys (resilience/sandbox.c): `isolation: process` adds a `failed` output, so
 * this runs before inputs are resolved. */
/* A `metrics` sink is served by the control block's metrics endpoint: it needs one. */
/* Whether the pipeline file gives node the parameter key (not a default). */
static bool config_node_has_arg(const struct sl_config_node *node, const char *key)
{
	const struct sl_arg *a = sl_args_get(&node->args, key);

	return a && a->line != 0;
}

static bool config_is_metrics_sink(const struct sl_config_node *node)
{
	return node->role == SL_NODE_SINK && node->sink == &sl_sink_metrics;
}

/* Metrics sinks: served only with an endpoint; each with a metric prefix of its own, and
 * not the runtime's (the sink's create says the same at run; here `validate` says it). */
static void config_metrics_sinks(struct loader *ld)
{
	char a[128], b[128];

	for (uint32_t n = 0; n < ld->c->n_nodes; n++) {
		const struct sl_config_node *node = &ld->c->nodes[n];

		if (!config_is_metrics_sink(node))
			continue;
		if (!ld->c->control.metrics)
			config_err_at(ld, node->line, node->column,
				      "sink '%s' (type metrics) is served on the metrics endpoint: "
				      "add control: { metrics: \"127.0.0.1:PORT\" }",
				      node->name);
		sl_metrics_sink_prefix(&node->args, node->name, a, sizeof(a));
		/* A `name:` in the reserved range is the sink's check's to refuse, at the key. */
		if (!config_node_has_arg(node, "name") && sl_metrics_prefix_reserved(a)) {
			config_err_at(ld, node->line, node->column,
				      "sink '%s': its metric prefix '%s' is the runtime's own "
				      "(sluice_...): give the sink another `name:`",
				      node->name, a);
			continue;
		}
		for (uint32_t m = 0; m < n; m++) {
			const struct sl_config_node *o = &ld->c->nodes[m];

			if (!config_is_metrics_sink(o))
				continue;
			sl_metrics_sink_prefix(&o->args, o->name, b, sizeof(b));
			if (strcmp(a, b) == 0) {
				config_err_at(
					ld, node->line, node->column,
					"sink '%s': metrics sink '%s' already uses the metric "
					"prefix '%s': give each metrics sink its own `name:`",
					node->name, o->name, a);
				break;
			}
		}
	}
}

/*
 * A path as the running pipeline will name it: absolute (relative paths are relative to the
 * working directory), its directory resolved when it exists (so ./a and a, or a symlinked
 * directory, are one path). Into buf (PATH_MAX); false when it cannot be made.
 */
static bool config_abs_path(const char *path, char *buf)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash, *base;
	int n;

	if (!path || !*path)
		return false;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	n = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path)
		  : snprintf(dir, sizeof(dir), ".");
	if (n < 0 || (size_t)n >= sizeof(dir))
		return false;
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	if (!realpath(dir, real))
		return false; /* no such directory: the node's own check says so at run */
	n = snprintf(buf, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "", base);
	return n > 0 && n < PATH_MAX;
}

/* The file a file or dlq sink writes, or NULL. */
static const char *config_sink_file(const struct sl_config_node *node)
{
	const struct sl_arg *a;

	if (node->role != SL_NODE_SINK || !node->kind ||
	    (strcmp(node->kind, "file") && strcmp(node->kind, "dlq")))
		return NULL;
	a = sl_args_get(&node->args, "path");
	return a ? a->str : NULL;
}

/*
 * Files the nodes would share to their harm, refused at load: two sinks writing one file
 * (their writes interleave and tear), a sink writing a file a file source reads (`path`,
 * or a match of its `paths` globs: the source reads its own output, or the sink truncates
 * the input), and two file sources keeping one checkpoint file (each overwrites the
 * other's offsets, so every restart reads one of them again).
 */
static void config_check_files(struct loader *ld)
{
	const struct sl_config *c = ld->c;
	/* Each node's absolute sink file, source file and checkpoint, made once (NULL: none). */
	char **sink = config_alloc(ld, c->n_nodes ? c->n_nodes : 1, sizeof(char *));
	char **src = config_alloc(ld, c->n_nodes ? c->n_nodes : 1, sizeof(char *));
	char **ck = config_alloc(ld, c->n_nodes ? c->n_nodes : 1, sizeof(char *));
	char a[PATH_MAX];
	struct stat st;

	if (!sink || !src || !ck)
		return;
	for (uint32_t i = 0; i < c->n_nodes; i++) {
		const struct sl_config_node *n = &c->nodes[i];
		const char *p = config_sink_file(n);
		const struct sl_arg *x;

		/* Not /dev/null, a FIFO or a terminal: only regular files (or files to be). */
		if (p && config_abs_path(p, a) && (stat(a, &st) < 0 || S_ISREG(st.st_mode)))
			sink[i] = config_strdup(ld, a);
		if (n->role != SL_NODE_SOURCE || n->source != &sl_source_file)
			continue;
		x = sl_args_get(&n->args, "path");
		if (x && x->str && config_abs_path(x->str, a))
			src[i] = config_strdup(ld, a);
		x = sl_args_get(&n->args, "checkpoint");
		if (x && x->str && config_abs_path(x->str, a))
			ck[i] = config_strdup(ld, a);
	}
	for (uint32_t i = 0; i < c->n_nodes; i++) {
		const struct sl_config_node *ni = &c->nodes[i];

		for (uint32_t j = 0; sink[i] && j < c->n_nodes; j++) {
			const struct sl_config_node *nj = &c->nodes[j];
			const struct sl_arg *globs;

			if (j < i && sink[j] && strcmp(sink[i], sink[j]) == 0) {
				config_err_at(
					ld, ni->line, ni->column,
					"sink '%s': %s is written by sink '%s' too; give each "
					"sink a file of its own",
					ni->name, sink[i], nj->name);
				break;
			}
			if (src[j] && strcmp(sink[i], src[j]) == 0)
				config_err_at(ld, ni->line, ni->column,
					      "sink '%s': %s is the file source '%s' reads",
					      ni->name, sink[i], nj->name);
			if (nj->role != SL_NODE_SOURCE || nj->source != &sl_source_file)
				continue;
			globs = sl_args_get(&nj->args, "paths");
			for (uint32_t k = 0; globs && k < globs->n_list; k++) {
				if (!config_abs_path(globs->list[k], a) ||
				    fnmatch(a, sink[i], FNM_PATHNAME) != 0)
					continue;
				config_err_at(ld, ni->line, ni->column,
					      "sink '%s': %s matches '%s' of the file source '%s', "
					      "which would read what the sink writes",
					      ni->name, sink[i], globs->list[k], nj->name);
				break;
			}
		}
		for (uint32_t j = 0; ck[i] && j < i; j++) {
			const struct sl_arg *x = sl_args_get(&ni->args, "checkpoint");

			if (!ck[j] || strcmp(ck[i], ck[j]) != 0)
				continue;
			config_err_at(ld, x->line ? x->line : ni->line,
				      x->line ? x->column : ni->column,
				      "source '%s': checkpoint %s is kept by source '%s' too; give "
				      "each source a checkpoint file of its own",
				      ni->name, ck[i], c->nodes[j].name);
			break;
		}
	}
}

static void config_isolate_stages(struct loader *ld)
{
	for (uint32_t n = 0; n < ld->c->n_nodes; n++) {
		struct sl_config_node *node = &ld->c->nodes[n];
		void *mem;
		char msg[240];
		int bad;

		if (!node->n_iso || !node->stage || node->role != SL_NODE_STAGE)
			continue;
		mem = config_alloc(ld, 1, sl_sandbox_conf_size());
		if (mem && sl_sandbox_check(node, mem, msg, sizeof(msg), &bad) < 0)
			config_err_at(ld, bad >= 0 ? node->iso[bad].line : node->line,
				      bad >= 0 ? node->iso[bad].column : node->column,
				      "stage '%s' (%s): %s", node->name, node->kind, msg);
	}
}

/* After init: a sandboxed stage becomes its proxy, and for a run its sandbox starts now,
 * before the EAL. */
static void config_sandbox_stages(struct loader *ld)
{
	for (uint32_t n = 0; n < ld->c->n_nodes; n++) {
		struct sl_config_node *node = &ld->c->nodes[n];
		char msg[240];
		int bad;

		if (node->sandbox &&
		    sl_sandbox_wrap(node, &node->stage_conf, ld->opts->keep_stage_conf, msg,
				    sizeof(msg), &bad) < 0)
			config_err_at(ld, node->line, node->column, "stage '%s' (%s): %s",
				      node->name, node->kind, msg);
	}
}

/* Run every stage's init once, and every source's and sink's check: parameter errors only
 * the kind can see (an expression that does not compile, an unknown format) surface at load
 * time, at the value's position. */
static void config_init_stages(struct loader *ld)
{
	struct sl_config *c = ld->c;

	for (uint32_t n = 0; n < c->n_nodes; n++) {
		struct sl_config_node *node = &c->nodes[n];
		int (*check)(const struct sl_args *, struct sl_error *) = NULL;
		struct sl_error err;
		void *conf = NULL;
		uint32_t line = node->line, column = node->column;
		int ret;

		if (node->source)
			check = node->source->check;
		else if (node->sink)
			check = node->sink->check;
		if (!check && (!node->stage || !node->stage->init))
			continue;
		memset(&err, 0, sizeof(err));
		/* Sources and sinks check parameters without opening anything. */
		sl_sandbox_init_enter(node); /* `memory:` in process: the stage's arena */
		ret = check ? check(&node->args, &err)
			    : node->stage->init(ld->opts->host, &node->args, &conf, &err);
		sl_sandbox_init_leave(node);
		if (ret != 0) {
			err.msg[sizeof(err.msg) - 1] = '\0';
			for (uint32_t i = 0; err.key && i < node->args.n; i++) {
				const struct sl_arg *a = &node->args.v[i];
				const struct arg_pos *ap = ld->pos[n] ? &ld->pos[n][i] : NULL;

				if (strcmp(a->key, err.key) != 0 || a->line == 0)
					continue;
				line = a->line;
				column = a->column;
				if (ap && err.item > 0 && err.item <= ap->n_items) {
					/* an entry of a map: the position of its value */
					const struct item_pos *it = &ap->items[err.item - 1];

					line = it->line;
					column = it->column;
					if (it->col_adj >= 0)
						column += (uint32_t)it->col_adj + err.offset;
				} else if (ap && ap->col_adj >= 0) {
					column += (uint32_t)ap->col_adj + err.offset;
				}
			}
			config_err_at(ld, line, column, "%s '%s' (%s): %s%s%s",
				      config_role_name(node->role), node->name, node->kind,
				      err.key ? err.key : "", err.key ? ": " : "",
				      err.msg[0] ? err.msg : "init failed");
			continue;
		}
		if (check)
			continue;
		if (ld->opts->keep_stage_conf)
			node->stage_conf = conf;
		else if (conf && node->stage->fini)
			node->stage->fini(conf);
	}
}

/* `scale:` excludes `replicas:`; the mins of all scaled stages fit in `cores:`. */
static void config_check_scale(struct loader *ld)
{
	uint32_t mins = 0;

	for (uint32_t n = 0; n < ld->c->n_nodes; n++) {
		struct sl_config_node *node = &ld->c->nodes[n];

		if (!node->scale_set)
			continue;
		if (node->replicas_set)
			config_err_at(ld, node->scale_line, node->scale_col,
				      "stage '%s': scale: and replicas: exclude each other (scale: "
				      "sets the range the autoscaler moves in)",
				      node->name);
		/* A replica parked by the autoscaler would take its window's partials with it. */
		if (node->stage && node->stage->state)
			config_err_at(ld, node->scale_line, node->scale_col,
				      "stage '%s': scale: is not supported on a stage that keeps "
				      "window state (%s); use replicas:",
				      node->name, node->kind);
		node->replicas = node->scale_max;
		mins += node->scale_min;
	}
	if (ld->c->cores && mins > ld->c->cores)
		config_err_at(ld, ld->c->cores_line, 1,
			      "cores: %u is fewer than the scale: mins of the stages together (%u)",
			      ld->c->cores, mins);
}

/* Fill in replicas not written in the file, and refuse replicas on a source that cannot
 * split its input (each replica would read everything again). */
static void config_apply_replicas(struct loader *ld)
{
	uint32_t def = ld->opts->default_replicas ? ld->opts->default_replicas : 1;

	for (uint32_t n = 0; n < ld->c->n_nodes; n++) {
		struct sl_config_node *node = &ld->c->nodes[n];
		bool splits = node->source && (node->source->flags & SL_SOURCE_F_REPLICAS) &&
			      (!node->source->can_split || node->source->can_split(&node->args));

		if (node->role == SL_NODE_SOURCE && node->source && node->replicas > 1 && !splits)
			config_err_at(
				ld, node->line, node->column,
				"source '%s' (%s): cannot split its input, so replicas must be 1",
				node->name, node->kind);
		else if (!node->replicas_set && (node->role == SL_NODE_STAGE || splits ||
						 (node->sink && node->sink->lanes)))
			node->replicas = def;
	}
	config_check_scale(ld);
}

static void config_report_parser_error(struct loader *ld, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR) {
		ld->oom = true;
		sl_diag_add(ld->d, ld->file, 0, 0, "out of memory while reading YAML");
	} else if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t off = p->problem_offset < ld->len ? p->problem_offset : ld->len;
		uint32_t line = 1, column = 1;

		for (size_t i = 0; i < off; i++) {
			if (ld->buf[i] == '\n') {
				line++;
				column = 1;
			} else {
				column++;
			}
		}
		config_err_at(ld, line, column, "invalid input at byte %zu: %s", off,
			      p->problem ? p->problem : "unreadable");
	} else if (p->context) {
		config_err_at(ld, MARK_LINE(p->problem_mark), MARK_COL(p->problem_mark),
			      "YAML syntax error: %s (%s at line %u, column %u)",
			      p->problem ? p->problem : "unknown", p->context,
			      MARK_LINE(p->context_mark), MARK_COL(p->context_mark));
	} else {
		config_err_at(ld, MARK_LINE(p->problem_mark), MARK_COL(p->problem_mark),
			      "YAML syntax error: %s", p->problem ? p->problem : "unknown");
	}
}

static void config_check_anchor(struct loader *ld, const yaml_event_t *ev,
				const yaml_char_t *anchor)
{
	if (anchor)
		config_err_at(ld, MARK_LINE(ev->start_mark), MARK_COL(ev->start_mark),
			      "anchors are not allowed ('&%s'): write the value out",
			      config_show(ld, (const char *)anchor));
}

/* The event pass: bounded work on any input before the document is built. */
static int config_prescan(struct loader *ld)
{
	yaml_parser_t p;
	yaml_event_t ev;
	uint32_t depth = 0, n_nodes = 0, n_docs = 0;
	bool done = false;

	if (!yaml_parser_initialize(&p)) {
		ld->oom = true;
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)ld->buf, ld->len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			config_report_parser_error(ld, &p);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++n_docs > 1) {
				config_err_at(
					ld, MARK_LINE(ev.start_mark), MARK_COL(ev.start_mark),
					"only one YAML document is allowed per pipeline file");
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			n_nodes++;
			config_err_at(ld, MARK_LINE(ev.start_mark), MARK_COL(ev.start_mark),
				      "aliases are not allowed ('*%s'): write the value out",
				      config_show(ld, (const char *)ev.data.alias.anchor));
			break;
		case YAML_SCALAR_EVENT:
			n_nodes++;
			config_check_anchor(ld, &ev, ev.data.scalar.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			n_nodes++;
			config_check_anchor(ld, &ev,
					    ev.type == YAML_SEQUENCE_START_EVENT
						    ? ev.data.sequence_start.anchor
						    : ev.data.mapping_start.anchor);
			if (++depth > SL_CONFIG_MAX_DEPTH) {
				config_err_at(ld, MARK_LINE(ev.start_mark), MARK_COL(ev.start_mark),
					      "nesting deeper than %u levels", SL_CONFIG_MAX_DEPTH);
				done = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (!done && n_nodes > SL_CONFIG_MAX_YAML_NODES) {
			config_err_at(ld, MARK_LINE(ev.start_mark), MARK_COL(ev.start_mark),
				      "more than %u YAML nodes in one file",
				      SL_CONFIG_MAX_YAML_NODES);
			done = true;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return config_failed(ld) ? -EINVAL : 0;
}

static void config_load_document(struct loader *ld)
{
	const struct top_key *top;
	yaml_node_t *root = yaml_document_get_root_node(&ld->doc), *seen[SL_ARRAY_SIZE(top_keys)];
	yaml_node_t *seen_val[SL_ARRAY_SIZE(top_keys)];
	uint32_t cap = 0;
	char valid[200] = "";

	for (size_t t = 0; t < SL_ARRAY_SIZE(top_keys); t++) {
		seen[t] = seen_val[t] = NULL;
		if (t)
			config_buf_add(valid, sizeof(valid), ", ");
		config_buf_add(valid, sizeof(valid), top_keys[t].name);
	}
	if (!root) {
		config_err_at(ld, 1, 1, "pipeline is empty: no sources and no sinks");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		config_err(ld, root, "a pipeline must be a mapping with keys %s, got %s", valid,
			   config_what_is(root));
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = config_yaml_node(ld, p->key), *v = config_yaml_node(ld, p->value);
		size_t t;

		if (!config_is_text(k)) {
			config_err(ld, k, "top-level keys must be names, got %s",
				   config_what_is(k));
			continue;
		}
		for (t = 0; t < SL_ARRAY_SIZE(top_keys); t++)
			if (strcmp(config_text(k), top_keys[t].name) == 0)
				break;
		if (t == SL_ARRAY_SIZE(top_keys)) {
			config_err(ld, k, "unknown key '%s' (valid keys: %s)",
				   config_show(ld, config_text(k)), valid);
			continue;
		}
		if (seen[t]) {
			config_err(ld, k, "duplicate key '%s' (first at line %u)", config_text(k),
				   MARK_LINE(seen[t]->start_mark));
			continue;
		}
		seen[t] = k;
		seen_val[t] = v;
		if (v->type == YAML_MAPPING_NODE && top_keys[t].holds_nodes)
			cap += config_n_pairs(v);
	}
	ld->cap_nodes = cap < SL_CONFIG_MAX_NODES ? cap : SL_CONFIG_MAX_NODES;
	ld->c->nodes = config_alloc(ld, ld->cap_nodes ? ld->cap_nodes : 1, sizeof(*ld->c->nodes));
	ld->pos = calloc(ld->cap_nodes ? ld->cap_nodes : 1, sizeof(*ld->pos));
	if (!ld->c->nodes || !ld->pos) {
		ld->oom = true;
		return;
	}
	for (top = top_keys; top < top_keys + SL_ARRAY_SIZE(top_keys) && !ld->oom; top++)
		if (seen[top - top_keys])
			top->load(ld, seen[top - top_keys], seen_val[top - top_keys]);
	if (ld->oom)
		return;

	/* A section whose entries were all rejected already has its errors. */
	for (enum sl_node_role r = SL_NODE_SOURCE; r <= SL_NODE_SINK; r++) {
		const yaml_node_t *where = ld->section_key[r] ? ld->section_key[r] : root;

		if (r != SL_NODE_STAGE && !ld->section_used[r])
			config_err(ld, where, "pipeline has no %s", roles[r].section);
	}
	config_isolate_stages(ld);
	config_metrics_sinks(ld);
	config_check_files(ld);
	config_resolve_inputs(ld);
	config_find_cycles(ld);
}

void sl_config_destroy(struct sl_config *c)
{
	struct config_priv *priv;

	if (!c)
		return;
	priv = c->priv;
	for (uint32_t i = 0; i < c->n_nodes; i++) {
		struct sl_config_node *node = &c->nodes[i];

		if (node->stage_conf && node->stage && node->stage->fini)
			node->stage->fini(node->stage_conf);
		node->stage_conf = NULL;
	}
	config_arena_free(&priv->arena);
	free(priv);
}

int sl_config_load_buffer(const char *name, const char *buf, size_t len,
			  const struct sl_config_opts *opts, struct sl_config **out,
			  struct sl_diag *d)
{
	static const struct sl_config_opts no_opts;
	struct config_priv *priv;
	struct loader ld;
	yaml_parser_t p;
	bool loaded;
	int rc;

	*out = NULL;
	priv = calloc(1, sizeof(*priv));
	if (!priv) {
		sl_diag_add(d, name, 0, 0, "out of memory");
		return -ENOMEM;
	}
	priv->c.priv = priv;
	priv->c.control.stall_after_ms = SL_CONFIG_STALL_AFTER_MS;
	priv->c.control.heartbeat_ms = SL_CONFIG_HEARTBEAT_MS;
	memset(&ld, 0, sizeof(ld));
	ld.c = &priv->c;
	ld.a = &priv->arena;
	ld.d = d;
	ld.opts = opts ? opts : &no_opts;
	ld.buf = buf ? buf : "";
	ld.len = buf ? len : 0;
	ld.n_diag0 = d->n;
	priv->c.file = config_strdup(&ld, name ? name : "-");
	ld.file = priv->c.file ? priv->c.file : "-";

	if (config_prescan(&ld) == 0) {
		if (!yaml_parser_initialize(&p)) {
			ld.oom = true;
		} else {
			yaml_parser_set_input_string(&p, (const unsigned char *)ld.buf, ld.len);
			if (!yaml_parser_load(&p, &ld.doc)) {
				config_report_parser_error(&ld, &p);
			} else {
				config_load_document(&ld);
				yaml_document_delete(&ld.doc);
			}
			yaml_parser_delete(&p);
		}
		/* Every problem, not only the first phase's: replicas are judged on whatever
		 * loaded, and stages are initialised (which checks their parameters) unless the
		 * document itself had errors. */
		loaded = !config_failed(&ld);
		config_apply_replicas(&ld);
		if (loaded)
			config_init_stages(&ld);
		if (!config_failed(&ld))
			config_sandbox_stages(&ld);
	}
	free(ld.pos);
	rc = config_failed(&ld) ? (ld.oom ? -ENOMEM : -EINVAL) : 0;
	config_flush_msgs(&ld);
	if (ld.oom && d->n == ld.n_diag0)
		sl_diag_add(d, ld.file, 0, 0, "out of memory");
	if (rc < 0) {
		sl_config_destroy(&priv->c);
		return rc;
	}
	*out = &priv->c;
	return 0;
}

int sl_config_load_file(const char *path, const struct sl_config_opts *opts, struct sl_config **out,
			struct sl_diag *d)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *f;
	int rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		rc = -errno;
		sl_diag_add(d, path, 0, 0, "cannot open: %s", strerror(-rc));
		return rc;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap > SL_CONFIG_MAX_FILE) {
				rc = -EFBIG;
				sl_diag_add(d, path, 0, 0, "file larger than 16 MiB");
				goto out;
			}
			/* One byte past the limit tells a file of exactly the limit from a
			 * larger one. */
			cap = cap ? 2 * cap : 16384;
			if (cap > SL_CONFIG_MAX_FILE)
				cap = SL_CONFIG_MAX_FILE + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				sl_diag_add(d, path, 0, 0, "out of memory");
				goto out;
			}
			buf = nb;
		}
		errno = 0;
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		/* fread sets errno from read(2): EISDIR for a directory, not a bare EIO. */
		rc = errno ? -errno : -EIO;
		sl_diag_add(d, path, 0, 0, "cannot read: %s", strerror(-rc));
		goto out;
	}
	if (len > SL_CONFIG_MAX_FILE) {
		rc = -EFBIG;
		sl_diag_add(d, path, 0, 0, "file larger than 16 MiB");
		goto out;
	}
	rc = sl_config_load_buffer(path, buf, len, opts, out, d);
out:
	free(buf);
	fclose(f);
	return rc;
}

int sl_config_find(const struct sl_config *c, const char *name)
{
	for (uint32_t i = 0; c && i < c->n_nodes; i++)
		if (strcmp(c->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}
