/*
 * The ua_class plugin: classify a record's user agent string as "bot", "mobile",
 * "desktop" or "other" and append the class to the record as a new string field. Rules,
 * tried in this order, each a case-insensitive substring test:
 *   bot     - "bot", "crawl", "spider", "slurp", "curl", "wget", "python-requests"
 *   mobile  - "mobile", "android", "iphone", "ipad"
 *   desktop - "windows", "macintosh", "x11", "linux"
 *   other   - anything else, including an empty string.
 * The record is extended in place (sl_rec_append_begin on its map16 header) in the
 * event's tailroom; an event shared with another consumer (refcnt > 1) is unshared first
 * through the host. Events left unchanged (not a record, no such string field, target
 * already present, no room) pass through and are counted by why. Runs on worker lcores;
 * the configuration (two field names) is built by init and never changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <sluice/stage.h>

struct ua_class_conf {
	char *field;
	size_t field_len;
	char *target;
	size_t target_len;
};

/* Counter slots, in the order of ua_class_counters; the first four are the classes. */
enum {
	UA_CTR_BOT = 0,
	UA_CTR_MOBILE,
	UA_CTR_DESKTOP,
	UA_CTR_OTHER,
	UA_CTR_NO_FIELD,
	UA_CTR_NOT_RECORD,
	UA_CTR_EXISTS,
	UA_CTR_UNWRITABLE,
	UA_CTR_NO_MBUF,
};

static const char *const ua_class_counters[] = {
	"bot",	      "mobile", "desktop",    "other",	 "no_field",
	"not_record", "exists", "unwritable", "no_mbuf", NULL,
};

static const struct {
	const char *s;
	uint32_t len;
} ua_class_names[] = { { "bot", 3 }, { "mobile", 6 }, { "desktop", 7 }, { "other", 5 } };

/* Lower-case needles per class, in rule order; each list ends with NULL. */
static const char *const ua_bot[] = {
	"bot", "crawl", "spider", "slurp", "curl", "wget", "python-requests", NULL,
};
static const char *const ua_mobile[] = { "mobile", "android", "iphone", "ipad", NULL };
static const char *const ua_desktop[] = { "windows", "macintosh", "x11", "linux", NULL };

static inline char ua_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does s (n bytes, not NUL-terminated) contain the lower-case needle, ignoring case? */
static bool ua_contains(const char *s, uint32_t n, const char *needle)
{
	size_t m = strlen(needle);

	if (m > n)
		return false;
	for (uint32_t i = 0; i + m <= n; i++) {
		size_t j;

		if (ua_lower(s[i]) != needle[0])
			continue;
		for (j = 1; j < m && ua_lower(s[i + j]) == needle[j]; j++)
			;
		if (j == m)
			return true;
	}
	return false;
}

static bool ua_any(const char *s, uint32_t n, const char *const *needles)
{
	for (; *needles; needles++)
		if (ua_contains(s, n, *needles))
			return true;
	return false;
}

static int ua_classify(const char *s, uint32_t n)
{
	if (ua_any(s, n, ua_bot))
		return UA_CTR_BOT;
	if (ua_any(s, n, ua_mobile))
		return UA_CTR_MOBILE;
	if (ua_any(s, n, ua_desktop))
		return UA_CTR_DESKTOP;
	return UA_CTR_OTHER;
}

static void ua_class_fini(void *conf)
{
	struct ua_class_conf *c = conf;

	if (!c)
		return;
	free(c->field);
	free(c->target);
	free(c);
}

/* A declared string parameter, or its default when the host passed none. */
static const char *ua_param(const struct sl_args *args, const char *key, const char *def)
{
	const struct sl_arg *a = args ? sl_args_get(args, key) : NULL;

	return a && a->str ? a->str : def;
}

static int ua_class_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			 struct sl_error *err)
{
	const char *field = ua_param(args, "field", "user_agent");
	const char *target = ua_param(args, "target", "ua_class");
	struct ua_class_conf *c;

	if (!*field || !*target) {
		err->key = *field ? "target" : "field";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "must not be empty");
		return -EINVAL;
	}
	if (strlen(target) > 0xffff) {
		err->key = "target";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "longer than 65535 bytes");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->field = strdup(field);
	c->target = strdup(target);
	if (!c->field || !c->target) {
		ua_class_fini(c);
		return -ENOMEM;
	}
	c->field_len = strlen(field);
	c->target_len = strlen(target);
	*conf = c;
	return 0;
}

/* Append target: class to ev's record in place; ev is unshared first. Returns the event to
 * emit (possibly a copy), or NULL when no mbuf was free for the copy. */
static struct rte_mbuf *ua_append(const struct ua_class_conf *c, struct sl_ctx *ctx,
				  struct rte_mbuf *ev, int cls)
{
	struct sl_rec_writer w;
	const struct sl_meta *m;
	uint32_t rec_len, room, n;
	uint8_t *rec;

	if (rte_mbuf_refcnt_read(ev) > 1) {
		ev = ctx->host->event_unshare(ctx, ev);
		if (!ev) {
			ctx->counters[UA_CTR_NO_MBUF]++;
			return NULL;
		}
	}
	m = sl_ctx_meta(ctx, ev);
	rec = rte_pktmbuf_mtod_offset(ev, uint8_t *, m->rec_off);
	rec_len = ev->data_len - m->rec_off;
	/* Events are single-segment; only the first segment's tailroom is ours to fill. */
	room = ev->nb_segs == 1 ? rte_pktmbuf_tailroom(ev) : 0;
	if (!sl_rec_append_begin(&w, rec, rec_len, rec_len + room)) {
		ctx->counters[UA_CTR_UNWRITABLE]++;
		return ev;
	}
	sl_rec_key(&w, c->target, c->target_len);
	msgpack_pack_str_with_body(&w.pk, ua_class_names[cls].s, ua_class_names[cls].len);
	n = sl_rec_end(&w);
	if (n == 0) {
		/* Nothing is visible: data_len is unchanged and the count was not patched. */
		ctx->counters[UA_CTR_UNWRITABLE]++;
		return ev;
	}
	ev->data_len = (uint16_t)(m->rec_off + n);
	ev->pkt_len = ev->data_len;
	ctx->counters[cls]++;
	return ev;
}

static void ua_class_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			     struct sl_emit *out)
{
	const struct ua_class_conf *c = conf;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_rec rec = sl_event_record(ctx, ev);
		struct sl_val v;

		if (i + 1 < in->n)
			rte_prefetch0(rte_pktmbuf_mtod(in->ev[i + 1], void *));
		if (rec.len == 0) {
			ctx->counters[UA_CTR_NOT_RECORD]++;
		} else if (!sl_rec_find(rec, c->field, c->field_len, &v) || v.type != SL_VAL_STR) {
			ctx->counters[UA_CTR_NO_FIELD]++;
		} else {
			int cls = ua_classify(v.s.p, v.s.len);

			if (sl_rec_find(rec, c->target, c->target_len, &v))
				ctx->counters[UA_CTR_EXISTS]++;
			else
				ev = ua_append(c, ctx, ev, cls);
		}
		if (ev)
			sl_emit(out, 0, ev);
	}
}

static const struct sl_param_desc ua_class_params[] = {
	{ .name = "field",
	  .type = SL_PARAM_STR,
	  .def = "user_agent",
	  .help = "record field holding the user agent string" },
	{ .name = "target",
	  .type = SL_PARAM_STR,
	  .def = "ua_class",
	  .help = "field appended with the class: bot, mobile, desktop or other" },
	{ NULL },
};

static const struct sl_stage_desc ua_class_stage = {
	SL_STAGE_DESC_INIT,
	.name = "ua_class",
	.version = "1.0.0",
	.summary = "classify a user agent string as bot, mobile, desktop or other",
	.params = ua_class_params,
	.counters = ua_class_counters,
	.init = ua_class_init,
	.process = ua_class_process,
	.fini = ua_class_fini,
};

SL_PLUGIN(&ua_class_stage);
