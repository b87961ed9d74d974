/*
 * count: counts events per value of one record field (`key`) over a window, and emits one
 * record {"<key>": value, "count": N} per group when the runtime closes the window. The
 * stage itself is stateless: each replica folds its events into its own table (struct
 * count_state, created by the runtime through the state ops below), the runtime merges
 * the replicas' tables at window close and calls emit on the merged one, then reset.
 *
 * A table is a fixed-capacity open-addressing hash table (linear probing, at most half
 * full) keyed by the value's msgpack encoding, so 404 and "404" are different groups.
 * Integers and string headers are re-encoded in their shortest form first, so the same
 * value always groups together whichever encoder wrote it. Key bytes live in an arena
 * allocated with the table; process, merge and emit never allocate. Events without the
 * key are counted under nil, so the counts always add up to the events seen.
 * Built-in stage; uses only the SDK. process, merge, emit and reset run on whichever
 * thread the runtime chooses, one at a time per state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

enum {
	COUNT_CNT_COUNTED = 0,
	COUNT_CNT_MISSING_KEY,
	COUNT_CNT_GROUPS_OVERFLOW,
	COUNT_CNT_EMIT_TOO_LARGE,
};

static const char *const count_counters[] = {
	"counted", "missing_key", "groups_overflow", "emit_too_large", NULL,
};

#define COUNT_MAX_GROUPS (1u << 24)
/* Arena bytes per group: the average encoded key size the table is sized for. */
#define COUNT_ARENA_PER_GROUP 64

static const struct sl_param_desc count_params[] = {
	{ .name = "key",
	  .type = SL_PARAM_STR,
	  .required = true,
	  .help = "record field whose values are counted" },
	{ .name = "window",
	  .type = SL_PARAM_STR,
	  .def = "all",
	  .help = "\"all\" (one result when the input ends) or a duration like 10s or 250ms" },
	{ .name = "max_groups",
	  .type = SL_PARAM_INT,
	  .def = "65536",
	  .help = "most distinct values per window; events beyond are counted as overflow" },
	{ NULL },
};

struct count_conf {
	char *key;
	size_t key_len;
	const char *reads[2]; /* { key, NULL }: projection */
	struct sl_rec_key rkey;
	uint64_t window_ns;
	uint32_t max_groups;
	uint32_t capacity; /* power of two, at least 2 * max_groups */
	uint32_t arena_bytes;
};

struct count_slot {
	uint32_t hash;
	uint32_t key_off;
	uint32_t key_len; /* 0: empty (an encoded value is never empty) */
	uint32_t pad;
	uint64_t count;
	uint64_t k8; /* the key's first 8 bytes, zero-padded: most keys compare in one step */
};

struct count_state {
	uint32_t mask;
	uint32_t n_groups;
	uint32_t arena_used;
	uint64_t n_lost; /* counts merge could not place; reported by emit */
	struct count_slot *slots;
	uint32_t *order; /* slot index of each group; sorted by emit */
	uint8_t *arena;
};

/* A key value as (canonical head, body): the head holds a re-encoded integer or string
 * header, the body the string bytes or the raw encoding of any other type. */
struct count_key {
	uint8_t head[9];
	uint32_t head_len;
	const uint8_t *body;
	uint32_t body_len;
	uint64_t k8; /* first 8 bytes of head and body, zero-padded (count_key_finish) */
	uint32_t hash;
};

static int count_fail(struct sl_error *err, const char *key, const char *fmt, const char *arg)
{
	err->key = key;
	err->offset = 0;
	snprintf(err->msg, sizeof(err->msg), fmt, arg);
	return -EINVAL;
}

static int count_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		      struct sl_error *err)
{
	const struct sl_arg *key = sl_args_get(args, "key");
	const struct sl_arg *window = sl_args_get(args, "window");
	const struct sl_arg *max_groups = sl_args_get(args, "max_groups");
	struct count_conf *c;
	uint64_t window_ns = 0;
	uint32_t cap = 1;

	if (!key || !key->str || key->str[0] == '\0')
		return count_fail(err, "key", "%s", "'key' must name a record field");
	if (strcmp(key->str, "count") == 0)
		return count_fail(err, "key", "%s",
				  "'key' cannot be \"count\": the output has a \"count\" field");
	if (window && window->str && sl_window_parse(window->str, &window_ns) < 0)
		return count_fail(err, "window",
				  "bad window '%s': expected \"all\" or a duration like 10s, 250ms",
				  window->str);
	if (max_groups && (max_groups->i < 1 || max_groups->i > COUNT_MAX_GROUPS)) {
		err->key = "max_groups";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "must be between 1 and %u", COUNT_MAX_GROUPS);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->key = strdup(key->str);
	if (!c->key) {
		free(c);
		return -ENOMEM;
	}
	c->key_len = strlen(c->key);
	sl_rec_key_init(&c->rkey, c->key, c->key_len);
	c->reads[0] = c->key;
	c->window_ns = window_ns;
	c->max_groups = max_groups ? (uint32_t)max_groups->i : 65536;
	while (cap < 2 * c->max_groups)
		cap <<= 1;
	c->capacity = cap;
	c->arena_bytes = c->max_groups * COUNT_ARENA_PER_GROUP;
	*conf = c;
	return 0;
}

static void count_fini(void *conf)
{
	struct count_conf *c = conf;

	if (c)
		free(c->key);
	free(c);
}

/* ---- keys ---- */

static uint32_t count_put_be(uint8_t *o, uint8_t tag, uint64_t v, int bytes)
{
	o[0] = tag;
	for (int i = 0; i < bytes; i++)
		o[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return 1 + (uint32_t)bytes;
}

/* The shortest msgpack encoding of an integer (msgpack-c's choice). */
static uint32_t count_encode_int(uint8_t *o, int64_t i)
{
	if (i >= 0) {
		uint64_t u = (uint64_t)i;
		if (u < 128) {
			o[0] = (uint8_t)u;
			return 1;
		}
		if (u < 256)
			return count_put_be(o, 0xcc, u, 1);
		if (u < 65536)
			return count_put_be(o, 0xcd, u, 2);
		if (u < (1ull << 32))
			return count_put_be(o, 0xce, u, 4);
		return count_put_be(o, 0xcf, u, 8);
	}
	if (i >= -32) {
		o[0] = (uint8_t)(int8_t)i;
		return 1;
	}
	if (i >= INT8_MIN)
		return count_put_be(o, 0xd0, (uint64_t)i, 1);
	if (i >= INT16_MIN)
		return count_put_be(o, 0xd1, (uint64_t)i, 2);
	if (i >= INT32_MIN)
		return count_put_be(o, 0xd2, (uint64_t)i, 4);
	return count_put_be(o, 0xd3, (uint64_t)i, 8);
}

static void count_key_of(const struct sl_val *v, struct count_key *k)
{
	k->body = NULL;
	k->body_len = 0;
	switch (v->type) {
	case SL_VAL_INT:
		k->head_len = count_encode_int(k->head, v->i);
		break;
	case SL_VAL_UINT:
		k->head_len = count_put_be(k->head, 0xcf, v->u, 8);
		break;
	case SL_VAL_STR: {
		uint32_t n = v->s.len;
		if (n < 32) {
			k->head[0] = (uint8_t)(0xa0 | n);
			k->head_len = 1;
		} else if (n < 256) {
			k->head_len = count_put_be(k->head, 0xd9, n, 1);
		} else if (n < 65536) {
			k->head_len = count_put_be(k->head, 0xda, n, 2);
		} else {
			k->head_len = count_put_be(k->head, 0xdb, n, 4);
		}
		k->body = (const uint8_t *)v->s.p;
		k->body_len = n;
		break;
	}
	default:
		k->head_len = 0;
		k->body = v->raw;
		k->body_len = v->raw_len;
		break;
	}
}

static uint64_t count_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static uint64_t count_hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t x;

	h ^= n * k;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&x, p, 8);
		h = (h ^ x) * k;
		h ^= h >> 29;
	}
	x = 0;
	if (n)
		memcpy(&x, p, n);
	return (h ^ x) * k;
}

/* The first 8 bytes of head then body, zero-padded, little-endian. */
static uint64_t count_first8(const uint8_t *head, uint32_t hl, const uint8_t *body, uint32_t bl)
{
	uint64_t x = 0;
	uint32_t i = 0;

	for (; i < hl && i < 8; i++)
		x |= (uint64_t)head[i] << (8 * i);
	for (uint32_t j = 0; i < 8 && j < bl; i++, j++)
		x |= (uint64_t)body[j] << (8 * i);
	return x;
}

/* Fill k8 and the hash of a fresh key. Keys of at most 8 bytes (integers, short strings)
 * hash from k8 alone; longer ones from all their bytes. Equal keys have the same length,
 * so they always take the same branch; stored keys keep their hash (merge reuses it). */
static inline void count_key_finish(struct count_key *k)
{
	uint32_t len = k->head_len + k->body_len;

	if (k->body_len == 0 && k->head_len <= 8) {
		uint64_t x;
		memcpy(&x, k->head, 8); /* head has 9 bytes */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		x = __builtin_bswap64(x);
#endif
		k->k8 = k->head_len == 8 ? x : x & ((1ull << (8 * k->head_len)) - 1);
	} else {
		k->k8 = count_first8(k->head, k->head_len, k->body, k->body_len);
	}
	if (len <= 8)
		k->hash = (uint32_t)count_mix(k->k8 ^ (uint64_t)len << 60);
	else
		k->hash = (uint32_t)count_mix(count_hash_bytes(
			count_hash_bytes(0, k->head, k->head_len), k->body, k->body_len));
}

/* Add n to the group of key (head, body); false when the table or the arena is full. */
static bool count_add(struct count_state *st, const struct count_conf *c, uint32_t hash,
		      uint64_t k8, const uint8_t *head, uint32_t hl, const uint8_t *body,
		      uint32_t bl, uint64_t n)
{
	uint32_t idx = hash & st->mask, klen = hl + bl;
	struct count_slot *s;

	for (;;) {
		s = &st->slots[idx];
		if (s->key_len == 0)
			break;
		if (s->hash == hash && s->key_len == klen && s->k8 == k8 &&
		    (klen <= 8 ||
		     (memcmp(st->arena + s->key_off, head, hl) == 0 &&
		      (bl == 0 || memcmp(st->arena + s->key_off + hl, body, bl) == 0)))) {
			s->count += n;
			return true;
		}
		idx = (idx + 1) & st->mask;
	}
	if (st->n_groups >= c->max_groups || klen > c->arena_bytes - st->arena_used)
		return false;
	memcpy(st->arena + st->arena_used, head, hl);
	if (bl)
		memcpy(st->arena + st->arena_used + hl, body, bl);
	s->hash = hash;
	s->k8 = k8;
	s->key_off = st->arena_used;
	s->key_len = klen;
	s->count = n;
	st->arena_used += klen;
	st->order[st->n_groups++] = idx;
	return true;
}

/* ---- process ---- */

static void count_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			  struct sl_emit *out)
{
	const struct count_conf *c = conf;
	struct count_state *st = ctx->state;
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct count_key k = { .head_len = 0 };
		struct count_slot *slot;
		struct sl_val v;
		struct sl_rec rec;

		if (i + 2 < n) {
			rte_prefetch0(evs[i + 2]);
			rte_prefetch0((char *)evs[i + 2] + RTE_CACHE_LINE_SIZE);
		}
		if (i + 1 < n) {
			struct rte_mbuf *nx = evs[i + 1];
			rte_prefetch0(
				rte_pktmbuf_mtod_offset(nx, char *, sl_ctx_meta(ctx, nx)->rec_off));
		}
		if (!st) {
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		rec = sl_event_record(ctx, ev);
		if (rec.len != 0 && sl_rec_get(rec, &c->rkey, &v)) {
			count_key_of(&v, &k);
		} else {
			cnt[COUNT_CNT_MISSING_KEY]++;
			k.head[0] = 0xc0;
			k.head_len = 1;
			k.body = NULL;
			k.body_len = 0;
		}
		count_key_finish(&k);
		slot = &st->slots[k.hash & st->mask];
		/* The usual case inline: a short key already in its home slot. */
		if (slot->hash == k.hash && slot->k8 == k.k8 && slot->key_len == k.head_len &&
		    k.body_len == 0 && k.head_len <= 8) {
			slot->count++;
			cnt[COUNT_CNT_COUNTED]++;
		} else if (count_add(st, c, k.hash, k.k8, k.head, k.head_len, k.body, k.body_len,
				     1)) {
			cnt[COUNT_CNT_COUNTED]++;
		} else {
			cnt[COUNT_CNT_GROUPS_OVERFLOW]++;
		}
		sl_drop(out, ev, SL_DROP_CONSUMED);
	}
}

/* ---- state ops ---- */

static void *count_state_create(const void *conf)
{
	const struct count_conf *c = conf;
	struct count_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->mask = c->capacity - 1;
	st->slots = calloc(c->capacity, sizeof(*st->slots));
	st->order = malloc((size_t)c->max_groups * sizeof(*st->order));
	st->arena = malloc(c->arena_bytes);
	if (!st->slots || !st->order || !st->arena) {
		free(st->slots);
		free(st->order);
		free(st->arena);
		free(st);
		return NULL;
	}
	return st;
}

static void count_state_destroy(const void *conf, void *state)
{
	struct count_state *st = state;

	if (!st)
		return;
	free(st->slots);
	free(st->order);
	free(st->arena);
	free(st);
}

static void count_state_reset(const void *conf, void *state)
{
	struct count_state *st = state;

	for (uint32_t i = 0; i < st->n_groups; i++)
		memset(&st->slots[st->order[i]], 0, sizeof(struct count_slot));
	st->n_groups = 0;
	st->arena_used = 0;
	st->n_lost = 0;
}

static void count_state_merge(const void *conf, void *dst, const void *src)
{
	const struct count_conf *c = conf;
	const struct count_state *s = src;
	struct count_state *d = dst;

	for (uint32_t i = 0; i < s->n_groups; i++) {
		const struct count_slot *e = &s->slots[s->order[i]];
		if (!count_add(d, c, e->hash, e->k8, s->arena + e->key_off, e->key_len, NULL, 0,
			       e->count))
			d->n_lost += e->count;
	}
	d->n_lost += s->n_lost;
}

/* Order: nil, booleans, numbers (numerically), strings (bytewise), then everything else
 * by type; ties between different encodings are broken by the encoded bytes. */
static int count_rank(enum sl_val_type t)
{
	switch (t) {
	case SL_VAL_NIL:
		return 0;
	case SL_VAL_BOOL:
		return 1;
	case SL_VAL_INT:
	case SL_VAL_UINT:
	case SL_VAL_FLOAT:
		return 2;
	case SL_VAL_STR:
		return 3;
	case SL_VAL_BIN:
		return 4;
	case SL_VAL_ARRAY:
		return 5;
	case SL_VAL_MAP:
		return 6;
	case SL_VAL_EXT:
		return 7;
	default:
		return 8;
	}
}

static int count_cmp_num(const struct sl_val *a, const struct sl_val *b)
{
	if (a->type == SL_VAL_FLOAT || b->type == SL_VAL_FLOAT) {
		long double x = a->type == SL_VAL_FLOAT	 ? a->f
				: a->type == SL_VAL_UINT ? (long double)a->u
							 : (long double)a->i;
		long double y = b->type == SL_VAL_FLOAT	 ? b->f
				: b->type == SL_VAL_UINT ? (long double)b->u
							 : (long double)b->i;
		return (x > y) - (x < y);
	}
	if (a->type == SL_VAL_UINT || b->type == SL_VAL_UINT) {
		if (a->type != b->type)
			return a->type == SL_VAL_UINT ? 1 : -1;
		return (a->u > b->u) - (a->u < b->u);
	}
	return (a->i > b->i) - (a->i < b->i);
}

static int count_cmp(const struct count_state *st, uint32_t ia, uint32_t ib)
{
	const struct count_slot *sa = &st->slots[ia], *sb = &st->slots[ib];
	const uint8_t *pa = st->arena + sa->key_off, *pb = st->arena + sb->key_off;
	struct sl_val a = { 0 }, b = { 0 };
	uint32_t n;
	int c;

	/* Keys came from well-formed records; a decode failure leaves type NONE, last. */
	if (!sl_mp_read(pa, pa + sa->key_len, &a))
		a.type = SL_VAL_NONE;
	if (!sl_mp_read(pb, pb + sb->key_len, &b))
		b.type = SL_VAL_NONE;
	c = count_rank(a.type) - count_rank(b.type);
	if (c == 0 && count_rank(a.type) == 2)
		c = count_cmp_num(&a, &b);
	if (c == 0 && a.type == SL_VAL_STR && b.type == SL_VAL_STR) {
		n = a.s.len < b.s.len ? a.s.len : b.s.len;
		c = memcmp(a.s.p, b.s.p, n);
		if (c == 0)
			c = (a.s.len > b.s.len) - (a.s.len < b.s.len);
	}
	if (c == 0) {
		n = sa->key_len < sb->key_len ? sa->key_len : sb->key_len;
		c = memcmp(pa, pb, n);
		if (c == 0)
			c = (sa->key_len > sb->key_len) - (sa->key_len < sb->key_len);
	}
	return c;
}

static void count_sift_down(const struct count_state *st, uint32_t *a, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t child = 2 * root + 1, tmp;
		if (child >= n)
			return;
		if (child + 1 < n && count_cmp(st, a[child], a[child + 1]) < 0)
			child++;
		if (count_cmp(st, a[root], a[child]) >= 0)
			return;
		tmp = a[root];
		a[root] = a[child];
		a[child] = tmp;
		root = child;
	}
}

/* Heapsort: in place, no allocation, O(n log n) whatever the keys. */
static void count_sort(struct count_state *st)
{
	uint32_t *a = st->order, n = st->n_groups, tmp;

	for (uint32_t i = n / 2; i-- > 0;)
		count_sift_down(st, a, i, n);
	for (uint32_t end = n; end-- > 1;) {
		tmp = a[0];
		a[0] = a[end];
		a[end] = tmp;
		count_sift_down(st, a, 0, end);
	}
}

static bool count_state_emit(const void *conf, void *state, uint64_t *cursor, struct sl_ctx *ctx,
			     struct sl_emit *out)
{
	const struct count_conf *c = conf;
	struct count_state *st = state;
	unsigned emitted = 0;

	if (*cursor == 0) {
		count_sort(st);
		ctx->counters[COUNT_CNT_GROUPS_OVERFLOW] += st->n_lost;
		st->n_lost = 0;
	}
	while (*cursor < st->n_groups && emitted < SL_EMIT_CAP) {
		const struct count_slot *s = &st->slots[st->order[*cursor]];
		struct rte_mbuf *m = ctx->host->event_alloc(ctx);
		struct sl_rec_writer w;
		uint32_t len;

		if (!m)
			return true;
		sl_rec_begin(&w, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m));
		sl_rec_put_raw(&w, c->key, st->arena + s->key_off, s->key_len);
		sl_rec_put_int(&w, "count", (int64_t)s->count);
		len = sl_rec_end(&w);
		(*cursor)++;
		emitted++;
		if (!sl_emit_new_record(ctx, out, 0, m, len))
			ctx->counters[COUNT_CNT_EMIT_TOO_LARGE]++;
	}
	return *cursor < st->n_groups;
}

/* Projection: only the key field; the events themselves stop here. */
static const char *const *count_reads(const void *conf)
{
	return ((const struct count_conf *)conf)->reads;
}

static const struct sl_state_ops count_state_ops = {
	.create = count_state_create,
	.merge = count_state_merge,
	.emit = count_state_emit,
	.reset = count_state_reset,
	.destroy = count_state_destroy,
};

const struct sl_stage_desc sl_stage_count = {
	SL_STAGE_DESC_INIT,
	.name = "count",
	.version = "1.1.0",
	.summary = "count events per value of a record field, per window",
	.params = count_params,
	.outputs = NULL,
	.counters = count_counters,
	.flags = SL_STAGE_F_WINDOWED,
	.init = count_init,
	.process = count_process,
	.fini = count_fini,
	.state = &count_state_ops,
	.reads = count_reads,
};
