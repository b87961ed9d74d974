/*
 * Prometheus endpoint (docs/control.md): libmicrohttpd serves GET /metrics (text format
 * 0.0.4: the pipeline's per-node counters, read live through sl_pipeline_node_stats) and
 * GET /health (200 while events move or nothing waits, 503 when events wait and no node
 * made progress for stall_after) from its own internal thread, bound to the configured
 * IPv4 address (127.0.0.1 by default). Also the health sampler the control thread calls
 * every tick: the sample is the only state shared between the two threads, under
 * c->health_lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "base/lazylib.h"
#include "base/log.h"
#include "control_internal.h"
#include "sink/metrics.h"

int sl_control_heartbeat_init(struct sl_control *c)
{
	uint32_t n = sl_pipeline_n_nodes(c->p), slots = 0;

	c->hb_base = calloc(n ? n : 1, sizeof(*c->hb_base));
	if (!c->hb_base)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		c->hb_base[i] = slots;
		slots += sl_pipeline_replica_slots(c->p, i);
	}
	c->hb_n = slots;
	c->hb_seq = calloc(slots ? slots : 1, sizeof(*c->hb_seq));
	c->hb_since = calloc(slots ? slots : 1, sizeof(*c->hb_since));
	return c->hb_seq && c->hb_since ? 0 : -ENOMEM;
}

/*
 * The heartbeat of every stage replica is its call sequence (odd inside a process call).
 * A replica whose sequence is odd and has not moved since it was first seen so, for at
 * least the heartbeat period, is stuck in one call. The control thread samples at least
 * twice per period, so a stall is reported within 1.5 periods of the call's start.
 */
static bool ctl_heartbeat(struct sl_control *c, uint64_t now_ns, char *why, size_t len)
{
	bool stuck = false;

	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p); i++) {
		uint32_t slots = sl_pipeline_replica_slots(c->p, i);

		for (uint32_t k = 0; k < slots && c->hb_base[i] + k < c->hb_n; k++) {
			uint32_t x = c->hb_base[i] + k;
			uint64_t seq = sl_pipeline_call_seq(c->p, i, k);

			if (seq != c->hb_seq[x] || !(seq & 1)) {
				c->hb_seq[x] = seq;
				c->hb_since[x] = now_ns;
				continue;
			}
			if (stuck || now_ns - c->hb_since[x] < c->heartbeat_ns)
				continue;
			stuck = true;
			snprintf(why, len,
				 "stage '%s' replica %u: one process call running for over %.0f ms "
				 "(heartbeat %.0f ms)",
				 c->cfg->nodes[i].name, k, (double)(now_ns - c->hb_since[x]) / 1e6,
				 (double)c->heartbeat_ns / 1e6);
		}
	}
	return stuck;
}

void sl_control_health_sample(struct sl_control *c, uint64_t now_ns)
{
	uint64_t progress = 0, waiting = 0;
	char why[200] = "";
	bool stuck = ctl_heartbeat(c, now_ns, why, sizeof(why)), was;

	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p); i++) {
		struct sl_node_stats s;

		sl_pipeline_node_stats(c->p, i, &s);
		progress += s.in + s.out + s.generated;
		for (int d = 0; d < SL_DROP_REASON_MAX; d++)
			progress += s.drop[d]; /* ring_full drops included: events moved */
		waiting += s.queued + s.pending + s.in_flight;
	}
	pthread_mutex_lock(&c->health_lock);
	if (!c->health.valid || progress != c->health.progress)
		c->health.last_change_ns = now_ns;
	c->health.progress = progress;
	c->health.waiting = waiting;
	c->health.sampled_ns = now_ns;
	c->health.valid = true;
	was = c->health.stuck;
	c->health.stuck = stuck;
	if (stuck)
		snprintf(c->health.stuck_why, sizeof(c->health.stuck_why), "%s", why);
	pthread_mutex_unlock(&c->health_lock);
	if (stuck && !was)
		SL_ERR("control", "heartbeat: %s", why);
	else if (!stuck && was)
		SL_NOTICE("control", "heartbeat: every stage call returned again");
}

int sl_control_health(struct sl_control *c, char *why, size_t len)
{
	struct ctl_health h;
	uint64_t idle_ns;

	pthread_mutex_lock(&c->health_lock);
	h = c->health;
	pthread_mutex_unlock(&c->health_lock);
	idle_ns = h.sampled_ns - h.last_change_ns;
	if (h.stuck) {
		snprintf(why, len, "stalled: %s", h.stuck_why);
		return 1;
	}
	if (h.waiting == 0) {
		snprintf(why, len, "ok: nothing waiting (%" PRIu64 " events moved)", h.progress);
		return 0;
	}
	if (idle_ns < c->stall_after_ns) {
		snprintf(why, len, "ok: events moving (%" PRIu64 " waiting)", h.waiting);
		return 0;
	}
	snprintf(why, len, "stalled: %" PRIu64 " events waiting, no progress for %.1f s", h.waiting,
		 (double)idle_ns / 1e9);
	return 1;
}

/* A label value: backslash, quote and newline escaped (text format 0.0.4). */
static void metrics_label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void metrics_node_labels(FILE *f, const struct sl_node_stats *s)
{
	fputs("{node=", f);
	metrics_label(f, s->name);
	fputs(",role=", f);
	metrics_label(f, s->role);
	fputs(",kind=", f);
	metrics_label(f, s->kind);
}

/* The per-node families: one value per node from the stats field at offset. */
static const struct metrics_family {
	const char *name, *type, *help;
	size_t offset;
} node_families[] = {
	{ "sluice_node_events_in_total", "counter", "Events the node took from its input rings.",
	  offsetof(struct sl_node_stats, in) },
	{ "sluice_node_events_out_total", "counter",
	  "Events the node passed on (sinks: taken by the writer).",
	  offsetof(struct sl_node_stats, out) },
	{ "sluice_node_events_generated_total", "counter",
	  "Events the node produced (source events, window results).",
	  offsetof(struct sl_node_stats, generated) },
	{ "sluice_node_events_in_flight", "gauge", "Events held inside the node.",
	  offsetof(struct sl_node_stats, in_flight) },
	{ "sluice_node_events_pending", "gauge", "Events the node sent but holds for a full ring.",
	  offsetof(struct sl_node_stats, pending) },
	{ "sluice_node_events_queued", "gauge", "Events in the node's input rings, not yet taken.",
	  offsetof(struct sl_node_stats, queued) },
	{ "sluice_node_ring_capacity_events", "gauge",
	  "Capacity of the node's input rings (0 for sources).",
	  offsetof(struct sl_node_stats, ring_capacity) },
	{ "sluice_node_busy_cycles_total", "counter", "TSC cycles spent inside the node's tasks.",
	  offsetof(struct sl_node_stats, busy_cycles) },
	{ "sluice_node_calls_total", "counter", "Runs of the node's tasks.",
	  offsetof(struct sl_node_stats, calls) },
};

static char *metrics_text(struct sl_control *c, size_t *len)
{
	uint32_t n = sl_pipeline_n_nodes(c->p);
	struct sl_node_stats *st = calloc(n ? n : 1, sizeof(*st));
	char *buf = NULL, why[160];
	bool any;
	FILE *f;

	if (!st)
		return NULL;
	f = open_memstream(&buf, len);
	if (!f) {
		free(st);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		sl_pipeline_node_stats(c->p, i, &st[i]);
	fputs("# HELP sluice_info Version of the running sluice.\n# TYPE sluice_info gauge\n"
	      "sluice_info{version=",
	      f);
	metrics_label(f, c->version);
	fputs("} 1\n", f);
	fprintf(f,
		"# HELP sluice_elapsed_seconds Seconds since the pipeline started running.\n"
		"# TYPE sluice_elapsed_seconds gauge\nsluice_elapsed_seconds %.6f\n",
		sl_pipeline_elapsed_s(c->p));
	fprintf(f,
		"# HELP sluice_running 1 while the pipeline runs, 0 once it ended.\n"
		"# TYPE sluice_running gauge\nsluice_running %d\n",
		__atomic_load_n(&c->ended, __ATOMIC_ACQUIRE) ? 0 : 1);
	fprintf(f,
		"# HELP sluice_stalled 1 when events wait and nothing moved for stall_after.\n"
		"# TYPE sluice_stalled gauge\nsluice_stalled %d\n",
		sl_control_health(c, why, sizeof(why)));
	fprintf(f,
		"# HELP sluice_tsc_hz Frequency of the cycle counters.\n"
		"# TYPE sluice_tsc_hz gauge\nsluice_tsc_hz %" PRIu64 "\n",
		sl_pipeline_tsc_hz(c->p));
	fputs("# HELP sluice_node_replicas Replicas of the node.\n"
	      "# TYPE sluice_node_replicas gauge\n",
	      f);
	for (uint32_t i = 0; i < n; i++) {
		fputs("sluice_node_replicas", f);
		metrics_node_labels(f, &st[i]);
		fprintf(f, "} %u\n", st[i].replicas);
	}
	for (size_t k = 0; k < sizeof(node_families) / sizeof(node_families[0]); k++) {
		const struct metrics_family *m = &node_families[k];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
		for (uint32_t i = 0; i < n; i++) {
			fputs(m->name, f);
			metrics_node_labels(f, &st[i]);
			fprintf(f, "} %" PRIu64 "\n",
				*(const uint64_t *)((const char *)&st[i] + m->offset));
		}
	}
	fputs("# HELP sluice_node_events_dropped_total Events dropped, by reason (ring_full: on "
	      "the node's input edges).\n# TYPE sluice_node_events_dropped_total counter\n",
	      f);
	for (uint32_t i = 0; i < n; i++)
		for (int d = 0; d < SL_DROP_REASON_MAX; d++) {
			fputs("sluice_node_events_dropped_total", f);
			metrics_node_labels(f, &st[i]);
			fputs(",reason=", f);
			metrics_label(f, sl_drop_reason_name(d));
			fprintf(f, "} %" PRIu64 "\n", st[i].drop[d]);
		}
	any = false;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < st[i].n_counters; k++) {
			if (!any)
				fputs("# HELP sluice_stage_stat_total Counters a stage "
				      "declares.\n"
				      "# TYPE sluice_stage_stat_total counter\n",
				      f);
			any = true;
			fputs("sluice_stage_stat_total", f);
			metrics_node_labels(f, &st[i]);
			fputs(",stat=", f);
			metrics_label(f, st[i].counter_names[k]);
			fprintf(f, "} %" PRIu64 "\n", st[i].counters[k]);
		}
	/* Then what the pipeline's `metrics` sinks made of their records. */
	sl_metrics_sinks_render(f);
	free(st);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* libmicrohttpd, opened when a listener starts (base/lazylib.h: it costs every run ~3.5 ms
 * of start-up when linked). */
static struct sl_lazylib mhd_lib = { .soname = "libmicrohttpd.so.12" };
static struct {
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_get_daemon_info) get_daemon_info;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
} mhd;

static int mhd_load(void)
{
	static bool bound;

	if (bound)
		return 0;
	if (sl_lazylib_open(&mhd_lib, "the metrics listener") < 0)
		return -ENOENT;
	if (!SL_LAZYLIB_BIND(&mhd_lib, mhd.start_daemon, MHD_start_daemon) ||
	    !SL_LAZYLIB_BIND(&mhd_lib, mhd.stop_daemon, MHD_stop_daemon) ||
	    !SL_LAZYLIB_BIND(&mhd_lib, mhd.get_daemon_info, MHD_get_daemon_info) ||
	    !SL_LAZYLIB_BIND(&mhd_lib, mhd.create_response_from_buffer,
			     MHD_create_response_from_buffer) ||
	    !SL_LAZYLIB_BIND(&mhd_lib, mhd.add_response_header, MHD_add_response_header) ||
	    !SL_LAZYLIB_BIND(&mhd_lib, mhd.queue_response, MHD_queue_response) ||
	    !SL_LAZYLIB_BIND(&mhd_lib, mhd.destroy_response, MHD_destroy_response))
		return -ENOENT;
	bound = true;
	return 0;
}

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned code, char *body,
				     size_t len, const char *type)
{
	struct MHD_Response *r = mhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = mhd.queue_response(conn, code, r);
	mhd.destroy_response(r);
	return ret;
}

static enum MHD_Result metrics_text_reply(struct MHD_Connection *conn, unsigned code,
					  const char *text)
{
	size_t len = strlen(text);
	char *body = malloc(len + 1);

	if (!body)
		return MHD_NO;
	memcpy(body, text, len + 1);
	return metrics_reply(conn, code, body, len, "text/plain; charset=utf-8");
}

static enum MHD_Result metrics_handle(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_size, void **ctx)
{
	struct sl_control *c = cls;
	char why[200], line[220];
	size_t len;
	char *body;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_text_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (*upload_size)
		return metrics_text_reply(conn, MHD_HTTP_BAD_REQUEST, "no body expected\n");
	if (strcmp(url, "/metrics") == 0) {
		body = metrics_text(c, &len);
		if (!body)
			return metrics_text_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
						  "out of memory\n");
		return metrics_reply(conn, MHD_HTTP_OK, body, len,
				     "text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/health") == 0) {
		int stalled = sl_control_health(c, why, sizeof(why));

		snprintf(line, sizeof(line), "%s\n", why);
		return metrics_text_reply(
			conn, stalled ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, line);
	}
	return metrics_text_reply(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /health\n");
}

int sl_control_metrics_start(struct sl_control *c, uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	const union MHD_DaemonInfo *info;
	char addr[64];

	if (mhd_load() < 0)
		return -ENOENT;
	sa.sin_addr.s_addr = ip;
	c->mhd =
		mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, port, NULL, NULL,
				 metrics_handle, c, MHD_OPTION_SOCK_ADDR, &sa,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)SL_CTL_METRICS_MAX_CONN,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SL_CTL_IDLE_TIMEOUT_S,
				 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_END);
	if (!c->mhd) {
		inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
		SL_ERR("control", "cannot serve metrics on %s:%u (address in use?)", addr,
		       (unsigned)port);
		return -EADDRINUSE;
	}
	info = mhd.get_daemon_info(c->mhd, MHD_DAEMON_INFO_BIND_PORT);
	c->metrics_ip = ip;
	c->metrics_port = info && info->port ? info->port : port;
	sl_control_metrics_addr(c, addr, sizeof(addr));
	SL_NOTICE("control", "metrics on http://%s/metrics", addr);
	return 0;
}

void sl_control_metrics_stop(struct sl_control *c)
{
	if (c->mhd)
		mhd.stop_daemon(c->mhd);
	c->mhd = NULL;
}

int sl_control_metrics_addr(const struct sl_control *c, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = c->metrics_ip };
	char ip[INET_ADDRSTRLEN];

	if (!c->mhd)
		return -ENOENT;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, (unsigned)c->metrics_port);
	return 0;
}
