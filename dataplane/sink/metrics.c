/*
 * The `metrics` sink (docs/control.md, "Prometheus"): records become Prometheus series,
 * served on the `control: { metrics: ... }` endpoint next to the runtime's own counters.
 * Each numeric field F of a record is a family NAME_F (a gauge holding the last value, or
 * with `mode: counter` NAME_F_total summing every value); the fields named in `labels`
 * are its labels, so `aggregate` results by status become
 * `requests_count{status="200"} 1234`. Which fields count: `values` when given, else every
 * numeric field (int, float, bool as 0/1) that is not a label. Each name is served once:
 * a field whose name an earlier field of the sink took is counted, not exported, and a
 * family whose name an earlier sink serves is left off the page.
 *
 * The series table is bounded (`max_series`, key bytes preallocated; more series are
 * counted as overflow and dropped) and shared with the metrics HTTP thread through one
 * mutex per sink: the sink only ever try-locks it, taking none of a burst when the server
 * holds it (the runtime offers the burst again), so the data path never waits; the server
 * renders under it. create/destroy (control thread) register the sink in a global list
 * the server walks (sl_metrics_sinks_render).
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <sluice/record.h>
#include <sluice/stage.h>

#include "base/log.h"
#include "sink.h"

#define MX_FAMILIES	  32  /* numeric fields per sink */
#define MX_LABELS	  8   /* label fields per sink */
#define MX_NAME		  128 /* bytes of a metric or label name */
#define MX_KEY_BYTES	  256 /* bytes of one rendered label set */
#define MX_SINKS	  16  /* metrics sinks in one pipeline */
#define MX_DEFAULT_SERIES 10000

struct mx_series {
	uint32_t key_off, key_len; /* in the key arena: `{a="x",b="y"}` or "" */
	uint32_t hash;
	uint32_t present; /* bit f: family f has a value */
	double v[MX_FAMILIES];
};

struct mx_sink {
	pthread_mutex_t lock; /* the table, between write and the HTTP thread */
	char name[MX_NAME];
	const char *node;
	bool counter;
	int meta_offset;
	uint32_t n_labels, n_values;
	char label_field[MX_LABELS][MX_NAME]; /* as in the record */
	char label_name[MX_LABELS][MX_NAME];  /* as exported */
	char value_field[MX_FAMILIES][MX_NAME];
	/* families seen, in first-seen order */
	uint32_t n_families;
	char fam_field[MX_FAMILIES][MX_NAME];
	char fam_name[MX_FAMILIES][2 * MX_NAME + 8];
	uint32_t shadowed; /* bit f: family f skipped, an earlier sink renders its name */
	/* fields not exported: their name sanitises to one a field seen earlier took */
	uint32_t n_dropped;
	char dropped_field[MX_FAMILIES][MX_NAME];
	/* series: open addressing over 2 * max_series slots */
	struct mx_series *series;
	uint32_t n_series, max_series, *slots, n_slots;
	char *keys;
	uint32_t keys_len, keys_cap;
	uint64_t n_records, n_not_record, n_overflow, n_busy;
	uint64_t n_collisions; /* values of fields whose metric name was taken */
};

static pthread_mutex_t mx_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mx_sink *mx_list[MX_SINKS];

static const struct sl_param_desc mx_params[] = {
	{ "name", SL_PARAM_STR, false, "", "metric name prefix (default: the sink's name)" },
	{ "labels", SL_PARAM_LIST, false, "", "record fields that become labels" },
	{ "values", SL_PARAM_LIST, false, "",
	  "numeric fields to export (default: every numeric field that is not a label)" },
	{ "mode", SL_PARAM_STR, false, "gauge",
	  "gauge: the last value of each series; counter: the sum of every value (_total)" },
	{ "max_series", SL_PARAM_INT, false, "10000", "label sets kept; more are dropped" },
	{ NULL },
};

/* A Prometheus name: [a-zA-Z_:][a-zA-Z0-9_:]*; other bytes become '_'. */
static void mx_sanitize(char *out, size_t cap, const char *in, size_t len, bool colon)
{
	size_t n = 0;

	if (len > 0 && in[0] >= '0' && in[0] <= '9' && n + 1 < cap)
		out[n++] = '_';
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		char c = in[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || (colon && c == ':');
		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
}

static bool mx_valid_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

static int mx_fail(struct sl_error *err, const char *key, int rc, const char *msg)
{
	err->key = key;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return rc;
}

/* The runtime's own families (control/metrics.c) are all named sluice_*. */
static bool mx_reserved(const char *prefix)
{
	return strcmp(prefix, "sluice") == 0 || strncmp(prefix, "sluice_", 7) == 0;
}

static int mx_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *name = sl_args_get(args, "name");
	const struct sl_arg *labels = sl_args_get(args, "labels");
	const struct sl_arg *values = sl_args_get(args, "values");
	const struct sl_arg *mode = sl_args_get(args, "mode");
	const struct sl_arg *max = sl_args_get(args, "max_series");

	if (name->str && name->str[0] &&
	    (strlen(name->str) >= MX_NAME || !mx_valid_name(name->str)))
		return mx_fail(err, "name", -EINVAL,
			       "must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
	if (name->str && name->str[0] && mx_reserved(name->str))
		return mx_fail(err, "name", -EINVAL,
			       "'sluice' and names starting with 'sluice_' are the runtime's own "
			       "metrics (sluice_node_...): choose another prefix");
	if (labels->n_list > MX_LABELS)
		return mx_fail(err, "labels", -EINVAL, "at most 8 label fields");
	if (values->n_list > MX_FAMILIES)
		return mx_fail(err, "values", -EINVAL, "at most 32 value fields");
	for (uint32_t i = 0; i < labels->n_list; i++) {
		char a[MX_NAME], b[MX_NAME];

		if (!labels->list[i][0] || strlen(labels->list[i]) >= MX_NAME)
			return mx_fail(err, "labels", -EINVAL,
				       "label fields are names of 1 to 127 bytes");
		/* Fields become label names as a metric name does: two may make one. */
		mx_sanitize(a, sizeof(a), labels->list[i], strlen(labels->list[i]), false);
		for (uint32_t j = 0; j < i; j++) {
			mx_sanitize(b, sizeof(b), labels->list[j], strlen(labels->list[j]), false);
			if (strcmp(a, b) != 0)
				continue;
			err->key = "labels";
			snprintf(err->msg, sizeof(err->msg),
				 "fields '%s' and '%s' both become label %s: list one of them",
				 labels->list[j], labels->list[i], a);
			return -EINVAL;
		}
	}
	for (uint32_t i = 0; i < values->n_list; i++)
		if (!values->list[i][0] || strlen(values->list[i]) >= MX_NAME)
			return mx_fail(err, "values", -EINVAL,
				       "value fields are names of 1 to 127 bytes");
	if (strcmp(mode->str, "gauge") != 0 && strcmp(mode->str, "counter") != 0)
		return mx_fail(err, "mode", -EINVAL, "must be gauge or counter");
	if (max->i < 1 || max->i > 1000000)
		return mx_fail(err, "max_series", -EINVAL, "must be from 1 to 1000000");
	return 0;
}

static void mx_destroy(void *self)
{
	struct mx_sink *s = self;

	if (!s)
		return;
	pthread_mutex_lock(&mx_list_lock);
	for (int i = 0; i < MX_SINKS; i++)
		if (mx_list[i] == s)
			mx_list[i] = NULL;
	pthread_mutex_unlock(&mx_list_lock);
	pthread_mutex_destroy(&s->lock);
	free(s->series);
	free(s->slots);
	free(s->keys);
	free(s);
}

void sl_metrics_sink_prefix(const struct sl_args *args, const char *node, char *buf, size_t cap)
{
	const struct sl_arg *name = sl_args_get(args, "name");

	if (name && name->str && name->str[0])
		snprintf(buf, cap, "%s", name->str);
	else
		mx_sanitize(buf, cap, node, strlen(node), true);
}

bool sl_metrics_prefix_reserved(const char *prefix)
{
	return mx_reserved(prefix);
}

static int mx_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		     struct sl_error *err)
{
	const struct sl_arg *name = sl_args_get(args, "name");
	const struct sl_arg *labels = sl_args_get(args, "labels");
	const struct sl_arg *values = sl_args_get(args, "values");
	struct mx_sink *s, *same = NULL;
	int rc = mx_check(args, err), slot = -1;

	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->node = env->name;
	s->meta_offset = env->meta_offset;
	s->counter = strcmp(sl_args_get(args, "mode")->str, "counter") == 0;
	sl_metrics_sink_prefix(args, env->name, s->name, sizeof(s->name));
	if (mx_reserved(s->name)) {
		mx_destroy(s);
		return mx_fail(err, NULL, -EINVAL,
			       "the metric prefix (the sink's name when `name:` is not given) may "
			       "not be 'sluice' or start with 'sluice_', the runtime's own "
			       "metrics: give the sink a `name:`");
	}
	s->n_labels = labels->n_list;
	for (uint32_t i = 0; i < s->n_labels; i++) {
		snprintf(s->label_field[i], MX_NAME, "%s", labels->list[i]);
		mx_sanitize(s->label_name[i], MX_NAME, labels->list[i], strlen(labels->list[i]),
			    false);
	}
	s->n_values = values->n_list;
	for (uint32_t i = 0; i < s->n_values; i++)
		snprintf(s->value_field[i], MX_NAME, "%s", values->list[i]);
	s->max_series = (uint32_t)sl_args_get(args, "max_series")->i;
	s->n_slots = 2 * s->max_series;
	s->keys_cap = s->max_series * 64;
	s->series = calloc(s->max_series, sizeof(*s->series));
	s->slots = malloc(sizeof(*s->slots) * s->n_slots);
	s->keys = malloc(s->keys_cap);
	if (!s->series || !s->slots || !s->keys) {
		mx_destroy(s);
		return -ENOMEM;
	}
	memset(s->slots, 0xff, sizeof(*s->slots) * s->n_slots);
	/* Two sinks with one prefix would serve the same families: refused here, where the
	 * sinks of the pipeline meet (check sees one sink), before the run starts. */
	pthread_mutex_lock(&mx_list_lock);
	for (int i = 0; i < MX_SINKS; i++) {
		if (!mx_list[i])
			slot = slot < 0 ? i : slot;
		else if (strcmp(mx_list[i]->name, s->name) == 0)
			same = mx_list[i];
	}
	if (slot >= 0 && !same)
		mx_list[slot] = s;
	if (same) {
		err->key = name->str && name->str[0] ? "name" : NULL;
		snprintf(err->msg, sizeof(err->msg),
			 "metrics sink '%s' already uses the metric prefix '%s': give each "
			 "metrics sink its own `name:`",
			 same->node, s->name);
	}
	pthread_mutex_unlock(&mx_list_lock);
	if (same) {
		mx_destroy(s);
		return -EEXIST;
	}
	if (slot < 0) {
		mx_destroy(s);
		return mx_fail(err, NULL, -ENOSPC, "more than 16 metrics sinks");
	}
	*self = s;
	return 0;
}

/* A number as the text format spells it: printf's nan, -nan and inf are NaN, +Inf and -Inf
 * there, and Prometheus refuses the whole page over one of them. */
static int mx_fmt_double(char *buf, size_t cap, double d)
{
	if (isnan(d))
		return snprintf(buf, cap, "NaN");
	if (isinf(d))
		return snprintf(buf, cap, "%cInf", d > 0 ? '+' : '-');
	return snprintf(buf, cap, "%.17g", d);
}

static bool mx_key_eq(const struct sl_val *k, const char *name)
{
	return k->type == SL_VAL_STR && k->s.len == strlen(name) &&
	       memcmp(k->s.p, name, k->s.len) == 0;
}

/*
 * Length of the valid UTF-8 sequence at p (len bytes left), 0 when p[0] does not start one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
static size_t mx_utf8_len(const uint8_t *p, size_t len)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Append len bytes of text at out + *n (cap bytes in all) as the text format takes it: valid
 * UTF-8, where each byte that starts no valid sequence becomes U+FFFD, with backslash and
 * newline escaped, and the double quote too when quote (label values; HELP text keeps it).
 * False when it does not fit.
 */
static bool mx_put_text(char *out, uint32_t *n, uint32_t cap, const char *p, size_t len, bool quote)
{
	for (size_t i = 0; i < len;) {
		size_t k = mx_utf8_len((const uint8_t *)p + i, len - i), w = k;
		const char *put = p + i;

		if (k == 0) {
			put = "\xef\xbf\xbd";
			w = 3;
			k = 1;
		} else if (p[i] == '\\') {
			put = "\\\\";
			w = 2;
		} else if (p[i] == '\n') {
			put = "\\n";
			w = 2;
		} else if (quote && p[i] == '"') {
			put = "\\\"";
			w = 2;
		}
		if (*n + w >= cap)
			return false;
		memcpy(out + *n, put, w);
		*n += (uint32_t)w;
		i += k;
	}
	return true;
}

/* Append a label value, valid UTF-8 and escaped per the text format; false when it does not
 * fit. */
static bool mx_put_label(char *key, uint32_t *n, const char *name, const struct sl_val *v)
{
	char num[40];
	const char *p = num;
	size_t len;
	int w;

	switch (v->type) {
	case SL_VAL_STR:
		p = v->s.p;
		len = v->s.len;
		break;
	case SL_VAL_INT:
		len = (size_t)snprintf(num, sizeof(num), "%" PRId64, v->i);
		break;
	case SL_VAL_UINT:
		len = (size_t)snprintf(num, sizeof(num), "%" PRIu64, v->u);
		break;
	case SL_VAL_FLOAT:
		len = (size_t)mx_fmt_double(num, sizeof(num), v->f);
		break;
	case SL_VAL_BOOL:
		len = (size_t)snprintf(num, sizeof(num), "%s", v->b ? "true" : "false");
		break;
	default:
		len = 0;
		break;
	}
	w = snprintf(key + *n, MX_KEY_BYTES - *n, "%s%s=\"", *n > 1 ? "," : "", name);
	if (w < 0 || *n + (uint32_t)w >= MX_KEY_BYTES)
		return false;
	*n += (uint32_t)w;
	if (!mx_put_text(key, n, MX_KEY_BYTES, p, len, true) || *n + 2 >= MX_KEY_BYTES)
		return false;
	key[(*n)++] = '"';
	return true;
}

static uint32_t mx_hash(const char *p, uint32_t len)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

/* The series for a rendered label set, made when new; NULL when the table is full. */
static struct mx_series *mx_series_get(struct mx_sink *s, const char *key, uint32_t len)
{
	uint32_t h = mx_hash(key, len), i = h % s->n_slots;
	struct mx_series *x;

	for (;; i = (i + 1) % s->n_slots) {
		uint32_t k = s->slots[i];

		if (k == UINT32_MAX)
			break;
		x = &s->series[k];
		if (x->hash == h && x->key_len == len &&
		    memcmp(s->keys + x->key_off, key, len) == 0)
			return x;
	}
	if (s->n_series == s->max_series || s->keys_len + len > s->keys_cap)
		return NULL;
	x = &s->series[s->n_series];
	memcpy(s->keys + s->keys_len, key, len);
	*x = (struct mx_series){ .key_off = s->keys_len, .key_len = len, .hash = h };
	s->keys_len += len;
	s->slots[i] = s->n_series++;
	return x;
}

/*
 * A field whose metric name an earlier field took (`user-id` and `user_id` are both
 * NAME_user_id): its values are counted, not exported, so each name has one family; the
 * first sight is logged (not per event: at most MX_FAMILIES fields are remembered).
 */
static void mx_collide(struct mx_sink *s, const struct sl_val *k, const char *name, uint32_t f)
{
	s->n_collisions++;
	if (s->n_dropped == MX_FAMILIES)
		return;
	memcpy(s->dropped_field[s->n_dropped], k->s.p, k->s.len);
	s->dropped_field[s->n_dropped++][k->s.len] = '\0';
	SL_WARN(s->node, "field '%s' is not exported: field '%s' has its metric name %s",
		s->dropped_field[s->n_dropped - 1], s->fam_field[f], name);
}

/* Family index of a numeric field, made on first sight; -1 when not exported. */
static int mx_family(struct mx_sink *s, const struct sl_val *k)
{
	char field[MX_NAME], name[sizeof(s->fam_name[0])];
	uint32_t f;

	for (f = 0; f < s->n_families; f++)
		if (mx_key_eq(k, s->fam_field[f]))
			return (int)f;
	for (uint32_t d = 0; d < s->n_dropped; d++)
		if (mx_key_eq(k, s->dropped_field[d])) {
			s->n_collisions++;
			return -1;
		}
	for (uint32_t l = 0; l < s->n_labels; l++)
		if (mx_key_eq(k, s->label_field[l]))
			return -1;
	if (s->n_values) {
		uint32_t v;

		for (v = 0; v < s->n_values; v++)
			if (mx_key_eq(k, s->value_field[v]))
				break;
		if (v == s->n_values)
			return -1;
	}
	if (k->type != SL_VAL_STR || s->n_families == MX_FAMILIES || k->s.len >= MX_NAME)
		return -1;
	mx_sanitize(field, sizeof(field), k->s.p, k->s.len, false);
	snprintf(name, sizeof(name), "%s_%s%s", s->name, field, s->counter ? "_total" : "");
	for (uint32_t g = 0; g < s->n_families; g++)
		if (strcmp(s->fam_name[g], name) == 0) {
			mx_collide(s, k, name, g);
			return -1;
		}
	memcpy(s->fam_field[f], k->s.p, k->s.len);
	s->fam_field[f][k->s.len] = '\0';
	memcpy(s->fam_name[f], name, sizeof(name));
	s->n_families++;
	return (int)f;
}

static void mx_record(struct mx_sink *s, struct sl_rec rec)
{
	struct sl_val k, v;
	struct mx_series *x;
	char key[MX_KEY_BYTES];
	uint32_t n = 0, pos;

	/* Labels in the order configured; a missing one is an empty value (no label). */
	if (s->n_labels) {
		key[n++] = '{';
		for (uint32_t l = 0; l < s->n_labels; l++) {
			struct sl_val lv = { .type = SL_VAL_NONE };

			sl_rec_find(rec, s->label_field[l], strlen(s->label_field[l]), &lv);
			if (!mx_put_label(key, &n, s->label_name[l], &lv)) {
				s->n_overflow++;
				return;
			}
		}
		key[n++] = '}';
	}
	x = mx_series_get(s, key, n);
	if (!x) {
		s->n_overflow++;
		return;
	}
	for (pos = 0; sl_rec_next(rec, &pos, &k, &v);) {
		double d;
		int f;

		if (v.type == SL_VAL_INT)
			d = (double)v.i;
		else if (v.type == SL_VAL_UINT)
			d = (double)v.u;
		else if (v.type == SL_VAL_FLOAT)
			d = v.f;
		else if (v.type == SL_VAL_BOOL)
			d = v.b;
		else
			continue;
		f = mx_family(s, &k);
		if (f < 0)
			continue;
		if (s->counter && (x->present >> f & 1))
			x->v[f] += d;
		else
			x->v[f] = d;
		x->present |= 1u << f;
	}
	s->n_records++;
}

static uint16_t mx_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct mx_sink *s = self;

	/* Never wait for the HTTP thread: the runtime offers the burst again. */
	if (pthread_mutex_trylock(&s->lock) != 0) {
		s->n_busy++;
		return 0;
	}
	for (uint16_t i = 0; i < n; i++) {
		const struct sl_meta *m = sl_event_meta(s->meta_offset, ev[i]);

		if (m->kind == SL_EVENT_RECORD && m->rec_off < ev[i]->data_len)
			mx_record(s, (struct sl_rec){ rte_pktmbuf_mtod_offset(
							      ev[i], const uint8_t *, m->rec_off),
						      ev[i]->data_len - m->rec_off });
		else
			s->n_not_record++;
	}
	pthread_mutex_unlock(&s->lock);
	rte_pktmbuf_free_bulk(ev, n);
	return n;
}

static int mx_flush(void *self, bool final)
{
	return 0;
}

static void mx_summary_line(void *self, char *buf, size_t len)
{
	struct mx_sink *s = self;

	snprintf(buf, len,
		 "records=%" PRIu64 " series=%u families=%u overflow=%" PRIu64
		 " not_records=%" PRIu64 " name_collisions=%" PRIu64,
		 s->n_records, s->n_series, s->n_families, s->n_overflow, s->n_not_record,
		 s->n_collisions);
}

/* Whether an earlier sink on the page (names in seen) renders the name of family fam. */
static bool mx_shadowed(struct mx_sink *s, uint32_t fam, const char **seen, uint32_t n_seen)
{
	for (uint32_t i = 0; i < n_seen; i++) {
		if (strcmp(seen[i], s->fam_name[fam]) != 0)
			continue;
		if (!(s->shadowed >> fam & 1))
			SL_WARN(s->node,
				"family %s is not served: an earlier metrics sink serves it",
				s->fam_name[fam]);
		s->shadowed |= 1u << fam;
		return true;
	}
	return false;
}

/* Render one sink's families, skipping those whose name an earlier sink rendered (seen). */
static void mx_render(struct mx_sink *s, FILE *f, const char **seen, uint32_t *n_seen)
{
	for (uint32_t fam = 0; fam < s->n_families; fam++) {
		char field[3 * MX_NAME]; /* each byte at most U+FFFD or a two-byte escape */
		uint32_t n = 0;

		if (mx_shadowed(s, fam, seen, *n_seen))
			continue;
		seen[(*n_seen)++] = s->fam_name[fam];

		/* HELP text escapes backslash and newline; a record key may hold either. */
		mx_put_text(field, &n, sizeof(field), s->fam_field[fam], strlen(s->fam_field[fam]),
			    false);
		field[n] = '\0';
		fprintf(f, "# HELP %s Field %s of the records sink %s received (%s).\n",
			s->fam_name[fam], field, s->node,
			s->counter ? "sum of every value" : "last value");
		fprintf(f, "# TYPE %s %s\n", s->fam_name[fam], s->counter ? "counter" : "gauge");
		for (uint32_t i = 0; i < s->n_series; i++) {
			const struct mx_series *x = &s->series[i];
			char num[32];

			if (!(x->present >> fam & 1))
				continue;
			mx_fmt_double(num, sizeof(num), x->v[fam]);
			/* fwrite: a label value may hold U+0000, where %.*s would stop. */
			fputs(s->fam_name[fam], f);
			fwrite(s->keys + x->key_off, 1, x->key_len, f);
			fprintf(f, " %s\n", num);
		}
	}
}

void sl_metrics_sinks_render(FILE *f)
{
	/* Family names are written once, before n_families counts them, and stay while the
	 * sink is listed (mx_list_lock held): safe to compare after its lock is released. */
	const char *seen[MX_SINKS * MX_FAMILIES];
	uint32_t n_seen = 0;

	pthread_mutex_lock(&mx_list_lock);
	for (int i = 0; i < MX_SINKS; i++) {
		if (!mx_list[i])
			continue;
		pthread_mutex_lock(&mx_list[i]->lock);
		mx_render(mx_list[i], f, seen, &n_seen);
		pthread_mutex_unlock(&mx_list[i]->lock);
	}
	pthread_mutex_unlock(&mx_list_lock);
}

const struct sl_sink_ops sl_sink_metrics = {
	.type = "metrics",
	.summary = "records as Prometheus series on the control metrics endpoint",
	.params = mx_params,
	.create = mx_create,
	.check = mx_check,
	.write = mx_write,
	.flush = mx_flush,
	.summary_line = mx_summary_line,
	.destroy = mx_destroy,
};
