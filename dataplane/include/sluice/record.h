/*
 * Sluice SDK: records. A record is one msgpack map. Stages read fields through a small
 * zero-copy view (sl_rec_find and friends: no allocation, bounds-checked against the
 * buffer, never trusting a length inside the data) and write records with msgpack-c's
 * packer into the event's own tailroom (struct sl_rec_writer). A record written here
 * always starts with a map16 header, so fields can be appended later by bumping the count
 * in place (sl_rec_append_begin / _end).
 */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack/pack.h>

/** Type of a decoded msgpack value. */
enum sl_val_type {
	SL_VAL_NONE = 0, /**< absent or malformed */
	SL_VAL_NIL,
	SL_VAL_BOOL,
	SL_VAL_INT,   /**< any integer that fits int64 */
	SL_VAL_UINT,  /**< integer above INT64_MAX */
	SL_VAL_FLOAT, /**< float32 or float64 */
	SL_VAL_STR,
	SL_VAL_BIN,
	SL_VAL_ARRAY, /**< n = element count; raw spans the whole array */
	SL_VAL_MAP,   /**< n = pair count; raw spans the whole map */
	SL_VAL_EXT,
};

/** One decoded value; strings point into the record. */
struct sl_val {
	enum sl_val_type type;
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
		struct {
			const char *p;
			uint32_t len;
		} s; /**< STR, BIN, EXT payload */
		uint32_t n;
	};
	const uint8_t *raw; /**< first byte of the encoded value */
	uint32_t raw_len;   /**< encoded size, containers included */
};

#define SL_REC_MAX_DEPTH 32

/**
 * Length of the well-formed UTF-8 sequence of 2 to 4 bytes starting at s (RFC 3629 table
 * 3-7: no overlong forms, surrogates or code points above U+10FFFF), or 0 when s does not
 * start one that ends by end. ASCII bytes are the caller's business.
 */
static inline size_t sl_utf8_len(const uint8_t *s, const uint8_t *end)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if ((size_t)(end - s) < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static inline uint32_t sl_mp_be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t sl_mp_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t sl_mp_be64(const uint8_t *p)
{
	return (uint64_t)sl_mp_be32(p) << 32 | sl_mp_be32(p + 4);
}

/*
 * Decode the head of one value at p (not past end). Containers report their element
 * count in v->n and *children the number of values that follow inside them. Returns the
 * first byte after the head (and after the payload for scalars), or NULL if malformed.
 */
static inline const uint8_t *sl_mp_head(const uint8_t *p, const uint8_t *end, struct sl_val *v,
					uint64_t *children)
{
	size_t room = (size_t)(end - p);
	uint32_t len;
	uint8_t c;

	*children = 0;
	if (p >= end)
		return NULL;
	c = *p;
	v->raw = p;
	if (c <= 0x7f) {
		v->type = SL_VAL_INT;
		v->i = c;
		return p + 1;
	}
	if (c >= 0xe0) {
		v->type = SL_VAL_INT;
		v->i = (int8_t)c;
		return p + 1;
	}
	if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
		v->type = (c & 0xf0) == 0x80 ? SL_VAL_MAP : SL_VAL_ARRAY;
		v->n = c & 0x0f;
		*children = v->type == SL_VAL_MAP ? 2ull * v->n : v->n;
		return p + 1;
	}
	if ((c & 0xe0) == 0xa0) {
		len = c & 0x1f;
		if (room < 1 + (size_t)len)
			return NULL;
		v->type = SL_VAL_STR;
		v->s.p = (const char *)p + 1;
		v->s.len = len;
		return p + 1 + len;
	}
	switch (c) {
	case 0xc0:
		v->type = SL_VAL_NIL;
		return p + 1;
	case 0xc2:
	case 0xc3:
		v->type = SL_VAL_BOOL;
		v->b = c == 0xc3;
		return p + 1;
	case 0xcc:
	case 0xd0:
		if (room < 2)
			return NULL;
		v->type = SL_VAL_INT;
		v->i = c == 0xcc ? (int64_t)p[1] : (int64_t)(int8_t)p[1];
		return p + 2;
	case 0xcd:
	case 0xd1:
		if (room < 3)
			return NULL;
		v->type = SL_VAL_INT;
		v->i = c == 0xcd ? (int64_t)sl_mp_be16(p + 1) : (int64_t)(int16_t)sl_mp_be16(p + 1);
		return p + 3;
	case 0xce:
	case 0xd2:
		if (room < 5)
			return NULL;
		v->type = SL_VAL_INT;
		v->i = c == 0xce ? (int64_t)sl_mp_be32(p + 1) : (int64_t)(int32_t)sl_mp_be32(p + 1);
		return p + 5;
	case 0xcf:
	case 0xd3:
		if (room < 9)
			return NULL;
		v->u = sl_mp_be64(p + 1);
		v->type = (c == 0xcf && v->u > (uint64_t)INT64_MAX) ? SL_VAL_UINT : SL_VAL_INT;
		return p + 9;
	case 0xca: {
		uint32_t bits;
		float f;
		if (room < 5)
			return NULL;
		bits = sl_mp_be32(p + 1);
		memcpy(&f, &bits, sizeof(f));
		v->type = SL_VAL_FLOAT;
		v->f = f;
		return p + 5;
	}
	case 0xcb: {
		uint64_t bits;
		if (room < 9)
			return NULL;
		bits = sl_mp_be64(p + 1);
		memcpy(&v->f, &bits, sizeof(v->f));
		v->type = SL_VAL_FLOAT;
		return p + 9;
	}
	case 0xd9:
	case 0xc4:
		if (room < 2)
			return NULL;
		len = p[1];
		p += 2;
		room -= 2;
		goto bytes;
	case 0xda:
	case 0xc5:
		if (room < 3)
			return NULL;
		len = sl_mp_be16(p + 1);
		p += 3;
		room -= 3;
		goto bytes;
	case 0xdb:
	case 0xc6:
		if (room < 5)
			return NULL;
		len = sl_mp_be32(p + 1);
		p += 5;
		room -= 5;
		goto bytes;
	case 0xdc:
	case 0xde:
		if (room < 3)
			return NULL;
		v->type = c == 0xde ? SL_VAL_MAP : SL_VAL_ARRAY;
		v->n = sl_mp_be16(p + 1);
		*children = c == 0xde ? 2ull * v->n : v->n;
		return p + 3;
	case 0xdd:
	case 0xdf:
		if (room < 5)
			return NULL;
		v->type = c == 0xdf ? SL_VAL_MAP : SL_VAL_ARRAY;
		v->n = sl_mp_be32(p + 1);
		*children = c == 0xdf ? 2ull * v->n : v->n;
		return p + 5;
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8: {
		static const uint8_t fixlen[] = { 1, 2, 4, 8, 16 };
		len = fixlen[c - 0xd4];
		if (room < 2 + (size_t)len)
			return NULL;
		v->type = SL_VAL_EXT;
		v->s.p = (const char *)p + 2;
		v->s.len = len;
		return p + 2 + len;
	}
	case 0xc7:
	case 0xc8:
	case 0xc9: {
		size_t hl = c == 0xc7 ? 3 : c == 0xc8 ? 4 : 6;
		if (room < hl)
			return NULL;
		len = c == 0xc7 ? p[1] : c == 0xc8 ? sl_mp_be16(p + 1) : sl_mp_be32(p + 1);
		if (room - hl < len)
			return NULL;
		v->type = SL_VAL_EXT;
		v->s.p = (const char *)p + hl;
		v->s.len = len;
		return p + hl + len;
	}
	default:
		return NULL; /* 0xc1 is never used */
	}
bytes:
	if (room < len)
		return NULL;
	v->type = (c == 0xc4 || c == 0xc5 || c == 0xc6) ? SL_VAL_BIN : SL_VAL_STR;
	v->s.p = (const char *)p;
	v->s.len = len;
	return p + len;
}

/** Decode one whole value (containers are skipped over, bounded); NULL if malformed. */
static inline const uint8_t *sl_mp_read(const uint8_t *p, const uint8_t *end, struct sl_val *v)
{
	uint64_t pending, children;
	struct sl_val tmp;
	const uint8_t *q = sl_mp_head(p, end, v, &pending);

	/* Every value takes at least one byte, so a count above the bytes left is a lie. */
	while (q && pending) {
		if (pending > (uint64_t)(end - q))
			return NULL;
		q = sl_mp_head(q, end, &tmp, &children);
		pending = pending - 1 + children;
	}
	if (q)
		v->raw_len = (uint32_t)(q - p);
	return q;
}

/** A read-only view of one record. */
struct sl_rec {
	const uint8_t *p;
	uint32_t len;
};

/*
 * Size of the scalar value at p that sl_rec_find can step over without decoding (strings,
 * integers, floats, nil, bool), or 0 for anything else (containers, ext, malformed), which
 * takes the general path. Bounds are checked by the caller.
 */
static inline size_t sl_mp_scalar_size(const uint8_t *p, const uint8_t *end)
{
	uint8_t c = *p;

	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 1;
	if ((c & 0xe0) == 0xa0)
		return 1 + (size_t)(c & 0x1f);
	switch (c) {
	case 0xcc:
	case 0xd0:
		return 2;
	case 0xcd:
	case 0xd1:
		return 3;
	case 0xce:
	case 0xd2:
	case 0xca:
		return 5;
	case 0xcf:
	case 0xd3:
	case 0xcb:
		return 9;
	case 0xd9:
		return end - p >= 2 ? 2 + (size_t)p[1] : 0;
	case 0xda:
		return end - p >= 3 ? 3 + (size_t)sl_mp_be16(p + 1) : 0;
	default:
		return 0;
	}
}

/* The element count of a map header at p (fixmap, map16, map32); *q gets the first byte
 * after it. False when p does not start a map (or it is cut short). */
static inline bool sl_mp_map_head(const uint8_t *p, const uint8_t *end, uint32_t *n,
				  const uint8_t **q)
{
	if (p >= end)
		return false;
	if ((*p & 0xf0) == 0x80) {
		*n = *p & 0x0f;
		*q = p + 1;
		return true;
	}
	if (*p == 0xde && end - p >= 3) {
		*n = sl_mp_be16(p + 1);
		*q = p + 3;
		return true;
	}
	if (*p == 0xdf && end - p >= 5) {
		*n = sl_mp_be32(p + 1);
		*q = p + 5;
		return true;
	}
	return false;
}

/* Decode the value at p, integers and fixstr inline (the common record fields), anything
 * else through sl_mp_read. Returns the next byte or NULL. */
static inline const uint8_t *sl_mp_value(const uint8_t *p, const uint8_t *end, struct sl_val *v)
{
	size_t room = (size_t)(end - p);
	uint8_t c;

	if (room == 0)
		return NULL;
	c = *p;
	v->raw = p;
	if (c <= 0x7f) {
		v->type = SL_VAL_INT;
		v->i = c;
		v->raw_len = 1;
		return p + 1;
	}
	if (c == 0xcc && room >= 2) {
		v->type = SL_VAL_INT;
		v->i = p[1];
		v->raw_len = 2;
		return p + 2;
	}
	if (c == 0xcd && room >= 3) {
		v->type = SL_VAL_INT;
		v->i = sl_mp_be16(p + 1);
		v->raw_len = 3;
		return p + 3;
	}
	if ((c & 0xe0) == 0xa0 && room >= 1 + (size_t)(c & 0x1f)) {
		v->type = SL_VAL_STR;
		v->s.p = (const char *)p + 1;
		v->s.len = c & 0x1f;
		v->raw_len = 1 + v->s.len;
		return p + 1 + v->s.len;
	}
	return sl_mp_read(p, end, v);
}

/**
 * A top-level key prepared once for many lookups (sl_rec_get): stages that look up the
 * same field in every event (filter, count) prepare it at init. The name is not copied.
 */
struct sl_rec_key {
	const char *name;
	uint32_t len;
	uint64_t enc; /**< fixstr header and name, little-endian, when len <= 7 */
	uint64_t mask;
};

static inline void sl_rec_key_init(struct sl_rec_key *k, const char *name, size_t len)
{
	k->name = name;
	k->len = (uint32_t)len;
	k->enc = 0;
	k->mask = 0;
	if (len <= 7) {
		k->enc = 0xa0 | (uint64_t)len;
		for (size_t i = 0; i < len; i++)
			k->enc |= (uint64_t)(uint8_t)name[i] << (8 * (i + 1));
		k->mask = len == 7 ? ~0ull : (1ull << (8 * (len + 1))) - 1;
	}
}

/* The key at p (a fixstr of ks bytes with its header, inside the record) is k. */
static inline bool sl_rec_key_eq(const uint8_t *p, size_t ks, const uint8_t *end,
				 const struct sl_rec_key *k)
{
	uint64_t x;

	if (k->mask && end - p >= 8) {
		memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		x = __builtin_bswap64(x);
#endif
		return (x & k->mask) == k->enc;
	}
	return ks - 1 == k->len && memcmp(p + 1, k->name, k->len) == 0;
}

/** sl_rec_find with a prepared key. */
static inline bool sl_rec_get(struct sl_rec rec, const struct sl_rec_key *key, struct sl_val *v)
{
	const uint8_t *p, *end;
	struct sl_val k;
	uint32_t i, n;

	v->type = SL_VAL_NONE;
	if (rec.len == 0) /* no record (sl_event_record gives { NULL, 0 }) */
		return false;
	end = rec.p + rec.len;
	if (!sl_mp_map_head(rec.p, end, &n, &p))
		return false;
	for (i = 0; i < n; i++) {
		size_t ks, vs;

		if (p >= end)
			return false;
		/* Fast path: a fixstr key and a scalar value, compared and skipped in place. */
		if ((*p & 0xe0) == 0xa0) {
			ks = 1 + (size_t)(*p & 0x1f);
			if (ks > (size_t)(end - p))
				return false;
			if (sl_rec_key_eq(p, ks, end, key))
				return sl_mp_value(p + ks, end, v) != NULL;
			p += ks;
			if (p >= end)
				return false;
			vs = sl_mp_scalar_size(p, end);
			if (vs && vs <= (size_t)(end - p)) {
				p += vs;
				continue;
			}
			p = sl_mp_read(p, end, v);
			if (!p)
				return false;
			continue;
		}
		p = sl_mp_read(p, end, &k);
		if (!p)
			return false;
		if (k.type == SL_VAL_STR && k.s.len == key->len &&
		    memcmp(k.s.p, key->name, key->len) == 0)
			return sl_mp_read(p, end, v) != NULL;
		p = sl_mp_read(p, end, v);
		if (!p)
			return false;
	}
	v->type = SL_VAL_NONE;
	return false;
}

/** Find a top-level key; fills v and returns true when present and well-formed. */
static inline bool sl_rec_find(struct sl_rec rec, const char *key, size_t klen, struct sl_val *v)
{
	struct sl_rec_key k;

	sl_rec_key_init(&k, key, klen);
	return sl_rec_get(rec, &k, v);
}

/** Iterate a record's top-level pairs: call with *pos = 0 first; false at the end. */
static inline bool sl_rec_next(struct sl_rec rec, uint32_t *pos, struct sl_val *k, struct sl_val *v)
{
	const uint8_t *end, *p;
	struct sl_val m;
	uint64_t ch;

	if (rec.len == 0) /* no record */
		return false;
	end = rec.p + rec.len;
	if (*pos == 0) {
		p = sl_mp_head(rec.p, end, &m, &ch);
		if (!p || m.type != SL_VAL_MAP || m.n == 0)
			return false;
	} else {
		p = rec.p + *pos;
	}
	if (p >= end)
		return false;
	p = sl_mp_read(p, end, k);
	if (!p)
		return false;
	p = sl_mp_read(p, end, v);
	if (!p)
		return false;
	*pos = (uint32_t)(p - rec.p);
	return true;
}

/* ---- writing ---- */

/** Writes one record into a caller-owned buffer (normally the event's tailroom). */
struct sl_rec_writer {
	uint8_t *p;
	uint32_t len, cap;
	uint32_t n_fields;
	bool overflow; /**< a write did not fit; the record is unusable */
	msgpack_packer pk;
};

static inline int sl_rec_writer_cb(void *data, const char *buf, size_t len)
{
	struct sl_rec_writer *w = (struct sl_rec_writer *)data;

	if (len > (size_t)(w->cap - w->len)) {
		w->overflow = true;
		return -1;
	}
	memcpy(w->p + w->len, buf, len);
	w->len += (uint32_t)len;
	return 0;
}

/** Start a new record (map16 header, count patched by sl_rec_end). */
static inline void sl_rec_begin(struct sl_rec_writer *w, void *buf, uint32_t cap)
{
	w->p = (uint8_t *)buf;
	w->cap = cap;
	w->len = 0;
	w->n_fields = 0;
	w->overflow = cap < 3;
	msgpack_packer_init(&w->pk, w, sl_rec_writer_cb);
	if (!w->overflow) {
		w->p[0] = 0xde;
		w->len = 3;
	}
}

/** Continue a record written by sl_rec_begin: buf holds len bytes of it. */
static inline bool sl_rec_append_begin(struct sl_rec_writer *w, void *buf, uint32_t len,
				       uint32_t cap)
{
	w->p = (uint8_t *)buf;
	w->len = len;
	w->cap = cap;
	w->overflow = len < 3 || w->p[0] != 0xde || cap < len;
	w->n_fields = w->overflow ? 0 : sl_mp_be16(w->p + 1);
	msgpack_packer_init(&w->pk, w, sl_rec_writer_cb);
	return !w->overflow;
}

/** Write a key; follow with exactly one value. */
static inline void sl_rec_key(struct sl_rec_writer *w, const char *key, size_t klen)
{
	msgpack_pack_str_with_body(&w->pk, key, klen);
	w->n_fields++;
}

static inline void sl_rec_put_str(struct sl_rec_writer *w, const char *k, const char *s, size_t n)
{
	sl_rec_key(w, k, strlen(k));
	msgpack_pack_str_with_body(&w->pk, s, n);
}

static inline void sl_rec_put_int(struct sl_rec_writer *w, const char *k, int64_t i)
{
	sl_rec_key(w, k, strlen(k));
	msgpack_pack_int64(&w->pk, i);
}

static inline void sl_rec_put_float(struct sl_rec_writer *w, const char *k, double f)
{
	sl_rec_key(w, k, strlen(k));
	msgpack_pack_double(&w->pk, f);
}

static inline void sl_rec_put_bool(struct sl_rec_writer *w, const char *k, bool b)
{
	sl_rec_key(w, k, strlen(k));
	if (b)
		msgpack_pack_true(&w->pk);
	else
		msgpack_pack_false(&w->pk);
}

/** Copy an already-encoded value (e.g. a struct sl_val's raw bytes). */
static inline void sl_rec_put_raw(struct sl_rec_writer *w, const char *k, const void *raw,
				  uint32_t len)
{
	sl_rec_key(w, k, strlen(k));
	sl_rec_writer_cb(w, (const char *)raw, len);
}

/** Finish: patch the field count. Returns the record size, or 0 on overflow. */
static inline uint32_t sl_rec_end(struct sl_rec_writer *w)
{
	if (w->overflow || w->n_fields > 0xffff)
		return 0;
	w->p[1] = (uint8_t)(w->n_fields >> 8);
	w->p[2] = (uint8_t)w->n_fields;
	return w->len;
}

#endif
