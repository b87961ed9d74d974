/*
 * The control socket server (docs/control.md). One control pthread, started by
 * sl_control_start on the main thread before the pipeline runs, polls the listening unix
 * socket, at most SL_CTL_MAX_CONN clients and a wake-up pipe. Each client sends requests
 * as lines of JSON (message.h) and gets one line back per request; a request longer than
 * SL_CTL_MSG_MAX, a stream that ends inside a request, a client idle for
 * SL_CTL_IDLE_TIMEOUT_S, a client over the connection cap and a peer of another uid (not
 * root) get one error line and are closed. Responses are written without blocking, so a
 * client that does not read stalls only itself. Every poll tick (200 ms) also samples
 * the pipeline's progress for /health (metrics.c). Only sl_pipeline_node_stats and
 * friends are called: the data path is never touched. The control thread owns the
 * clients and the socket file; the health sample is shared with the metrics thread under
 * a mutex.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/check.h"
#include "base/log.h"
#include "control_internal.h"
#include "edge/tap.h"
#include "event/event.h"
#include "format/json.h"
#include "graph/pipeline.h"
#include "message.h"
#include "reload.h"

_Static_assert(SL_CTL_NAME_MAX >= SL_CONFIG_NAME_MAX, "every node name fits a control request");

#define CTL_TICK_MS	200
#define CTL_TAP_TICK_MS 20 /* while a tap streams */

static uint64_t ctl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t sl_control_now_ns(void)
{
	return ctl_now_ns();
}

/* ---- default paths ---- */

int sl_ctl_default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/sluice", xdg);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/sluice");
	else
		n = snprintf(buf, len, "/tmp/sluice-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The default directory, made 0700 and checked to be ours (it holds sockets). */
static int ctl_make_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077)) {
		SL_ERR("control", "%s: not a private directory of uid %u (mode %o, owner %u)", dir,
		       (unsigned)geteuid(), (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

/* ---- socket setup ---- */

static int ctl_fill_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int sl_ctl_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc = ctl_fill_addr(path, &sa);

	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* A socket file already at path: reuse the name only when nobody answers on it. */
static int ctl_clear_stale(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		SL_ERR("control", "%s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = sl_ctl_connect(path);
	if (fd >= 0) {
		close(fd);
		SL_ERR("control", "%s: another sluice is serving this socket", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

static int ctl_listen(struct sl_control *c)
{
	struct sockaddr_un sa;
	mode_t old;
	int rc, fd;

	rc = ctl_fill_addr(c->path, &sa);
	if (rc < 0) {
		SL_ERR("control", "socket path longer than %zu bytes: %s", sizeof(sa.sun_path) - 1,
		       c->path);
		return rc;
	}
	rc = ctl_clear_stale(c->path);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The file is created by bind: 0600 from the start (umask), and chmod again in case
	 * the file system ignores the umask; only then listen. No worker runs yet, so the
	 * process-wide umask change races with nothing. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(c->path, 0600) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		SL_ERR("control", "cannot serve %s: %s", c->path, strerror(-rc));
		close(fd);
		if (rc != -EADDRINUSE)
			unlink(c->path);
		return rc;
	}
	c->listen_fd = fd;
	c->own_file = true;
	return 0;
}

/* ---- responses ---- */

static void ctl_tap_stop(struct sl_control *c, struct ctl_conn *k);

static void ctl_close(struct sl_control *c, struct ctl_conn *k)
{
	if (k->fd < 0)
		return;
	ctl_tap_stop(c, k);
	close(k->fd);
	free(k->out);
	k->out = NULL;
	k->fd = -1;
	c->n_conns--;
}

/* Write what can be written now; 0, or -1 when the client is gone (closed here). */
static int ctl_flush(struct sl_control *c, struct ctl_conn *k)
{
	while (k->out && k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			ctl_close(c, k);
			return -1;
		}
		k->out_off += (size_t)n;
		k->last_ns = ctl_now_ns();
	}
	free(k->out);
	k->out = NULL;
	k->out_len = k->out_off = 0;
	if (k->closing) {
		ctl_close(c, k);
		return -1;
	}
	return 0;
}

static void ctl_head(FILE *f, const struct sl_ctl_request *req, bool ok)
{
	fprintf(f, "{\"v\":%d", SL_CTL_VERSION);
	if (req && req->has_id)
		fprintf(f, ",\"id\":%" PRIu64, req->id);
	fprintf(f, ",\"ok\":%s", ok ? "true" : "false");
}

/* Queue a response held in a memstream buffer (takes buf). */
static void ctl_queue(struct sl_control *c, struct ctl_conn *k, char *buf, size_t len)
{
	SL_BUG_ON(k->out != NULL);
	k->out = buf;
	k->out_len = len;
	k->out_off = 0;
	ctl_flush(c, k);
}

static void ctl_error(struct sl_control *c, struct ctl_conn *k, const struct sl_ctl_request *req,
		      const char *msg, bool close_after)
{
	size_t len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		ctl_close(c, k);
		return;
	}
	ctl_head(f, req, false);
	fputs(",\"error\":", f);
	sl_json_fput_string(f, msg);
	fputs("}\n", f);
	fclose(f);
	k->closing = close_after;
	ctl_queue(c, k, buf, len);
}

/* One error line to a socket we do not keep (refused peers): best effort, no wait. */
static void ctl_refuse(int fd, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "{\"v\":%d,\"ok\":false,\"error\":\"%s\"}\n",
			 SL_CTL_VERSION, msg);

	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* The peer is gone or its buffer is full: it is refused either way. */
	}
	close(fd);
}

/* ---- commands ---- */

static void ctl_node_json(FILE *f, const struct sl_node_stats *s)
{
	bool first = true;

	fputs("{\"name\":", f);
	sl_json_fput_string(f, s->name);
	fprintf(f, ",\"role\":\"%s\",\"kind\":", s->role);
	sl_json_fput_string(f, s->kind);
	fprintf(f,
		",\"replicas\":%u,\"in\":%" PRIu64 ",\"out\":%" PRIu64 ",\"generated\":%" PRIu64
		",\"in_flight\":%" PRIu64 ",\"pending\":%" PRIu64 ",\"queued\":%" PRIu64
		",\"ring_capacity\":%" PRIu64 ",\"busy_cycles\":%" PRIu64 ",\"calls\":%" PRIu64
		",\"dropped\":{",
		s->replicas, s->in, s->out, s->generated, s->in_flight, s->pending, s->queued,
		s->ring_capacity, s->busy_cycles, s->calls);
	for (int d = 0; d < SL_DROP_REASON_MAX; d++)
		if (s->drop[d]) {
			fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", sl_drop_reason_name(d),
				s->drop[d]);
			first = false;
		}
	fputs("},\"counters\":{", f);
	for (uint32_t k = 0; k < s->n_counters; k++) {
		fputs(k ? "," : "", f);
		sl_json_fput_string(f, s->counter_names[k]);
		fprintf(f, ":%" PRIu64, s->counters[k]);
	}
	fputs("}", f);
	if (s->has_latency)
		fprintf(f,
			",\"latency_us\":{\"call_p50\":%.3f,\"call_p99\":%.3f,\"age_p50\":%.3f,"
			"\"age_p99\":%.3f}",
			s->call_p50_us, s->call_p99_us, s->age_p50_us, s->age_p99_us);
	fputs("}", f);
}

static bool ctl_ended(const struct sl_control *c)
{
	/* Pairs with the release store in sl_control_ended. */
	return __atomic_load_n(&c->ended, __ATOMIC_ACQUIRE);
}

static int ctl_find_node(const struct sl_control *c, const char *name)
{
	struct sl_node_stats s;

	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p); i++) {
		sl_pipeline_node_stats(c->p, i, &s);
		if (strcmp(s.name, name) == 0)
			return (int)i;
	}
	return -1;
}

static void ctl_cmd_stats(struct sl_control *c, const struct sl_ctl_request *req, int only, FILE *f)
{
	uint32_t n = sl_pipeline_n_nodes(c->p);
	bool ended = ctl_ended(c);

	char why[256];

	/* "ended" is read before the counters: once set, they are final. */
	fprintf(f, "{\"state\":\"%s\",\"elapsed_s\":%.6f,\"tsc_hz\":%" PRIu64 ",\"health\":",
		ended ? "ended" : "running", sl_pipeline_elapsed_s(c->p), sl_pipeline_tsc_hz(c->p));
	sl_control_health(c, why, sizeof(why));
	sl_json_fput_string(f, why);
	fputs(",\"nodes\":[", f);
	for (uint32_t i = 0; i < n; i++) {
		struct sl_node_stats s;

		if (only >= 0 && (int)i != only)
			continue;
		sl_pipeline_node_stats(c->p, i, &s);
		fputs(only >= 0 || i == 0 ? "" : ",", f);
		ctl_node_json(f, &s);
	}
	fputs("]}", f);
}

static void ctl_cmd_nodes(struct sl_control *c, int only, FILE *f)
{
	bool first = true;

	fputs("{\"nodes\":[", f);
	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p); i++) {
		struct sl_node_stats s;
		int ci;

		if (only >= 0 && (int)i != only)
			continue;
		sl_pipeline_node_stats(c->p, i, &s);
		fputs(first ? "{\"name\":" : ",{\"name\":", f);
		first = false;
		sl_json_fput_string(f, s.name);
		fprintf(f, ",\"role\":\"%s\",\"kind\":", s.role);
		sl_json_fput_string(f, s.kind);
		fprintf(f, ",\"replicas\":%u,\"ring_capacity\":%" PRIu64 ",\"inputs\":[",
			s.replicas, s.ring_capacity);
		ci = sl_config_find(c->cfg, s.name);
		for (uint32_t k = 0; ci >= 0 && k < c->cfg->nodes[ci].n_inputs; k++) {
			fputs(k ? "," : "", f);
			sl_json_fput_string(f, c->cfg->nodes[ci].inputs[k].text);
		}
		fputs("]}", f);
	}
	fputs("]}", f);
}

static void ctl_metrics_addr(const struct sl_control *c, FILE *f)
{
	char addr[64];

	if (sl_control_metrics_addr(c, addr, sizeof(addr)) == 0) {
		fputs(",\"metrics\":", f);
		sl_json_fput_string(f, addr);
	}
}

/* ---- tap ---- */

static bool ctl_tapping(const struct sl_control *c)
{
	for (int i = 0; i < CTL_MAX_TAPS; i++)
		if (c->tap_busy[i])
			return true;
	return false;
}

/* Unhook and disarm k's tap; the tap itself stays for reuse (edge/tap.h). */
static void ctl_tap_stop(struct sl_control *c, struct ctl_conn *k)
{
	if (!k->tap)
		return;
	sl_tap_disarm(k->tap);
	sl_pipeline_tap(c->p, k->tap_node, NULL);
	c->tap_busy[k->tap_slot] = false;
	k->tap = NULL;
}

/* Hook a tap for k on node's output(s). 0, or -1 with the reason in msg. */
static int ctl_tap_start(struct sl_control *c, struct ctl_conn *k, const struct sl_ctl_request *req,
			 int node, char *msg, size_t msg_len)
{
	const struct sl_config_node *cn = &c->cfg->nodes[node];
	uint16_t port = SL_TAP_ALL_PORTS;
	int slot = -1;

	if (cn->role == SL_NODE_SINK) {
		snprintf(msg, msg_len,
			 "'%s' is a sink: it has no outputs to tap (tap the node feeding it)",
			 cn->name);
		return -1;
	}
	if (req->has_output) {
		for (port = 0; port < cn->n_outputs; port++)
			if (strcmp(cn->output_names[port], req->output) == 0)
				break;
		if (port == cn->n_outputs) {
			int n = snprintf(msg, msg_len,
					 "'%s' has no output '%s' (outputs:", cn->name,
					 req->output);
			for (uint16_t o = 0; o < cn->n_outputs && n < (int)msg_len; o++)
				n += snprintf(msg + n, msg_len - (size_t)n, " %s",
					      cn->output_names[o]);
			if (n < (int)msg_len)
				snprintf(msg + n, msg_len - (size_t)n, ")");
			return -1;
		}
	}
	if (ctl_ended(c)) {
		snprintf(msg, msg_len, "the pipeline has ended: nothing flows any more");
		return -1;
	}
	for (int i = 0; i < CTL_MAX_TAPS; i++) {
		if (c->tap_busy[i] && c->tap_node[i] == (uint32_t)node) {
			snprintf(msg, msg_len, "'%s' is tapped by another client already",
				 cn->name);
			return -1;
		}
		if (!c->tap_busy[i] && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		snprintf(msg, msg_len, "%d taps at once already", CTL_MAX_TAPS);
		return -1;
	}
	if (!c->taps[slot]) {
		char name[32];

		snprintf(name, sizeof(name), "sl_tap%d", slot);
		c->taps[slot] = sl_tap_create(name, sl_pipeline_meta_offset(c->p));
		if (!c->taps[slot]) {
			snprintf(msg, msg_len, "cannot make a tap: out of memory");
			return -1;
		}
	}
	sl_tap_arm(c->taps[slot], port, req->rate, sl_pipeline_tsc_hz(c->p));
	if (sl_pipeline_tap(c->p, (uint32_t)node, c->taps[slot]) < 0) {
		sl_tap_disarm(c->taps[slot]);
		snprintf(msg, msg_len, "cannot tap '%s'", cn->name);
		return -1;
	}
	c->tap_busy[slot] = true;
	c->tap_node[slot] = (uint32_t)node;
	k->tap = c->taps[slot];
	k->tap_slot = slot;
	k->tap_node = (uint32_t)node;
	k->tap_left = (uint64_t)req->limit;
	k->tap_sent = 0;
	k->tap_req = *req;
	return 0;
}

/* The first line of a tap's answer; events follow, one per line, then a "done" line. */
static void ctl_cmd_tap(struct sl_control *c, const struct sl_ctl_request *req, int node, FILE *f)
{
	fputs("{\"node\":", f);
	sl_json_fput_string(f, c->cfg->nodes[node].name);
	fputs(",\"output\":", f);
	if (req->has_output)
		sl_json_fput_string(f, req->output);
	else
		fputs("null", f);
	fprintf(f, ",\"limit\":%" PRId64 ",\"rate\":%g}", req->limit, req->rate);
}

/* One tapped event as a JSON line. */
static void ctl_tap_line(FILE *f, const struct sl_config_node *cn, const struct sl_tap_item *it)
{
	static char jbuf[6 * SL_TAP_SLOT_BYTES + 64];
	long n;

	fputs("{\"node\":", f);
	sl_json_fput_string(f, cn->name);
	fputs(",\"output\":", f);
	sl_json_fput_string(f, it->port < cn->n_outputs ? cn->output_names[it->port] : "?");
	fprintf(f, ",\"event_id\":%" PRIu64, it->event_id);
	if (it->kind == SL_EVENT_PACKET) {
		fprintf(f, ",\"packet\":{\"len\":%u,\"hex\":\"", it->orig_len);
		for (uint32_t i = 0; i < it->len && i < 64; i++)
			fprintf(f, "%02x", (uint8_t)it->data[i]);
		fputs("\"}", f);
	} else {
		uint32_t raw = it->kind == SL_EVENT_LINE ? it->len : RTE_MIN(it->raw_len, it->len);

		if (raw) {
			n = sl_json_string(it->data, raw, jbuf, sizeof(jbuf));
			if (n > 0) {
				fputs(",\"line\":", f);
				fwrite(jbuf, 1, (size_t)n, f);
			}
		}
		if (it->kind == SL_EVENT_RECORD && it->rec_off < it->len) {
			struct sl_rec r = { (const uint8_t *)it->data + it->rec_off,
					    it->len - it->rec_off };

			n = sl_json_from_record(r, jbuf, sizeof(jbuf));
			if (n > 0) {
				fputs(",\"record\":", f);
				fwrite(jbuf, 1, (size_t)n, f);
			} else {
				fputs(",\"record\":null", f);
			}
		}
	}
	if (it->orig_len > it->len)
		fprintf(f, ",\"truncated\":%u", it->orig_len);
	fputs("}\n", f);
}

/* Stream what k's tap caught; finish after the limit or once the pipeline ended. */
static void ctl_tap_pump(struct sl_control *c, struct ctl_conn *k)
{
	const struct sl_config_node *cn;
	struct sl_tap_item *it;
	size_t len = 0;
	char *buf = NULL;
	bool ended, any = false;
	FILE *f;

	if (!k->tap || k->out || k->fd < 0)
		return;
	ended = ctl_ended(c);
	f = open_memstream(&buf, &len);
	if (!f) {
		ctl_close(c, k);
		return;
	}
	cn = &c->cfg->nodes[k->tap_node];
	while (k->tap_left > 0 && (it = sl_tap_take(k->tap)) != NULL) {
		ctl_tap_line(f, cn, it);
		sl_tap_release(k->tap, it);
		k->tap_left--;
		k->tap_sent++;
		any = true;
	}
	if (k->tap_left == 0 || ended) {
		uint64_t skipped = __atomic_load_n(&k->tap->n_no_slot, __ATOMIC_RELAXED);

		ctl_head(f, &k->tap_req, true);
		fprintf(f,
			",\"cmd\":\"tap\",\"result\":{\"done\":true,\"events\":%" PRIu64
			",\"skipped\":%" PRIu64 ",\"reason\":\"%s\"}}\n",
			k->tap_sent, skipped, k->tap_left == 0 ? "limit" : "ended");
		ctl_tap_stop(c, k);
		any = true;
	}
	if (fclose(f) != 0 || !any) {
		free(buf);
		return;
	}
	k->last_ns = ctl_now_ns();
	ctl_queue(c, k, buf, len);
}

/* swap and reload: applied here, on the control thread (reload.h); 0 with the summary in
 * *out (malloc'ed), or -1 after an error response. */
static int ctl_live_change(struct sl_control *c, struct ctl_conn *k,
			   const struct sl_ctl_request *req, char **out)
{
	size_t cap = 16384;
	char *msg = malloc(cap);
	int rc;

	if (!msg) {
		ctl_error(c, k, req, "out of memory", false);
		return -1;
	}
	if (ctl_ended(c)) {
		snprintf(msg, cap, "the pipeline has ended");
		rc = -ESRCH;
	} else if (req->cmd == SL_CTL_CMD_SWAP)
		rc = sl_reload_swap(c->reload, req->node, req->path, msg, cap);
	else
		rc = sl_reload_apply(c->reload, req->has_path ? req->path : NULL, msg, cap);
	if (rc < 0) {
		SL_WARN("control", "%s refused: %s", sl_ctl_cmd_name(req->cmd), msg);
		ctl_error(c, k, req, msg, false);
		free(msg);
		return -1;
	}
	*out = msg;
	return 0;
}

static void ctl_dispatch(struct sl_control *c, struct ctl_conn *k, const struct sl_ctl_request *req)
{
	size_t len = 0;
	char *buf = NULL;
	char *live_msg = NULL;
	int only = -1;
	FILE *f;

	if (req->has_node) {
		only = ctl_find_node(c, req->node);
		if (only < 0) {
			char msg[SL_CTL_NAME_MAX + 64];

			snprintf(msg, sizeof(msg), "no node named '%s'", req->node);
			ctl_error(c, k, req, msg, false);
			return;
		}
	}
	if (req->cmd == SL_CTL_CMD_TAP) {
		char msg[SL_CTL_NAME_MAX * 2 + 160];

		if (ctl_tap_start(c, k, req, only, msg, sizeof(msg)) < 0) {
			ctl_error(c, k, req, msg, false);
			return;
		}
	}
	if (sl_ctl_cmd_changes_state(req->cmd))
		SL_NOTICE("control", "command %s from uid=%u pid=%d", sl_ctl_cmd_name(req->cmd),
			  (unsigned)k->uid, (int)k->pid);
	if ((req->cmd == SL_CTL_CMD_SWAP || req->cmd == SL_CTL_CMD_RELOAD) &&
	    ctl_live_change(c, k, req, &live_msg) < 0)
		return;
	if (req->cmd == SL_CTL_CMD_SCALE) {
		char msg[SL_CTL_NAME_MAX + 160];

		if (sl_pipeline_scale(c->p, (uint32_t)only, req->replicas, msg, sizeof(msg)) < 0) {
			ctl_error(c, k, req, msg, false);
			return;
		}
		SL_NOTICE("control", "scale %s: %s", req->node,
			  req->replicas < 0 ? "auto" : "pinned");
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		free(live_msg);
		ctl_close(c, k);
		return;
	}
	ctl_head(f, req, true);
	fprintf(f, ",\"cmd\":\"%s\",\"result\":", sl_ctl_cmd_name(req->cmd));
	switch (req->cmd) {
	case SL_CTL_CMD_PING:
		fprintf(f, "{\"pong\":true,\"pid\":%d,\"state\":\"%s\"}", (int)getpid(),
			ctl_ended(c) ? "ended" : "running");
		break;
	case SL_CTL_CMD_VERSION:
		fputs("{\"sluice\":", f);
		sl_json_fput_string(f, c->version);
		fprintf(f,
			",\"protocol\":%d,\"abi\":\"%d.%d\",\"pid\":%d,\"socket\":", SL_CTL_VERSION,
			SL_ABI_MAJOR, SL_ABI_MINOR, (int)getpid());
		sl_json_fput_string(f, c->path);
		ctl_metrics_addr(c, f);
		fputs("}", f);
		break;
	case SL_CTL_CMD_NODES:
		ctl_cmd_nodes(c, only, f);
		break;
	case SL_CTL_CMD_STATS:
		ctl_cmd_stats(c, req, only, f);
		break;
	case SL_CTL_CMD_TAP:
		ctl_cmd_tap(c, req, only, f);
		break;
	case SL_CTL_CMD_STOP:
		/* The same path as SIGTERM: sources stop, in-flight events drain. The control
		 * thread blocks the signal, so another thread takes it. */
		kill(getpid(), SIGTERM);
		fputs("{\"stopping\":true}", f);
		break;
	case SL_CTL_CMD_SCALE:
		fputs("{\"node\":", f);
		sl_json_fput_string(f, req->node);
		if (req->replicas < 0)
			fputs(",\"replicas\":\"auto\"}", f);
		else
			fprintf(f, ",\"replicas\":%d}", (int)req->replicas);
		break;
	case SL_CTL_CMD_SWAP:
	case SL_CTL_CMD_RELOAD:
		fputs("{\"applied\":", f);
		sl_json_fput_string(f, live_msg);
		fputs("}", f);
		break;
	case SL_CTL_CMD_N:
		break;
	}
	free(live_msg);
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		ctl_close(c, k);
		return;
	}
	ctl_queue(c, k, buf, len);
}

/* Handle the complete lines in k->in, one at a time (the next waits for the response). */
static void ctl_handle_input(struct sl_control *c, struct ctl_conn *k)
{
	while (k->fd >= 0 && !k->out && !k->closing && !k->tap) {
		char *nl = memchr(k->in, '\n', k->in_len);
		struct sl_ctl_request req;
		char err[256];
		size_t line;

		if (!nl) {
			if (k->in_len > SL_CTL_MSG_MAX) {
				snprintf(err, sizeof(err),
					 "request longer than %d bytes: closing the connection",
					 SL_CTL_MSG_MAX);
				ctl_error(c, k, NULL, err, true);
			} else if (k->eof && k->in_len) {
				snprintf(err, sizeof(err),
					 "truncated request: %zu bytes without a newline at the "
					 "end of the stream",
					 k->in_len);
				ctl_error(c, k, NULL, err, true);
			} else if (k->eof) {
				ctl_close(c, k);
			}
			return;
		}
		line = (size_t)(nl - k->in);
		if (line > 0 && k->in[line - 1] == '\r')
			line--;
		if (line == 0)
			ctl_error(c, k, NULL, "empty request: send one JSON object per line",
				  false);
		else if (sl_ctl_request_decode(k->in, line, &req, err, sizeof(err)) < 0)
			ctl_error(c, k, &req, err, false);
		else
			ctl_dispatch(c, k, &req);
		k->last_ns = ctl_now_ns();
		line = (size_t)(nl - k->in) + 1;
		memmove(k->in, k->in + line, k->in_len - line);
		k->in_len -= line;
	}
}

static void ctl_read(struct sl_control *c, struct ctl_conn *k)
{
	while (k->in_len < sizeof(k->in) && !k->eof) {
		ssize_t n = recv(k->fd, k->in + k->in_len, sizeof(k->in) - k->in_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			ctl_close(c, k);
			return;
		}
		if (n == 0)
			k->eof = true;
		k->in_len += (size_t)n;
	}
	ctl_handle_input(c, k);
}

/* Refusals are logged at most once a second with a count, so a flood cannot fill logs. */
static void ctl_log_refusal(struct sl_control *c, const char *why, uid_t uid, pid_t pid)
{
	uint64_t now = ctl_now_ns();

	c->n_refused++;
	if (now - c->last_refusal_log_ns < 1000000000u)
		return;
	SL_WARN("control", "refused a client (uid=%u pid=%d): %s (%" PRIu64 " refused so far)",
		(unsigned)uid, (int)pid, why, c->n_refused);
	c->last_refusal_log_ns = now;
}

static void ctl_accept(struct sl_control *c)
{
	for (;;) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct ctl_conn *k = NULL;
		char msg[128];
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or out of descriptors: try again next tick */
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			ctl_refuse(fd, "cannot read peer credentials");
			continue;
		}
		if (cred.uid != c->owner && cred.uid != 0) {
			snprintf(msg, sizeof(msg),
				 "permission denied: uid %u is not the owner (uid %u) or root",
				 (unsigned)cred.uid, (unsigned)c->owner);
			ctl_log_refusal(c, msg, cred.uid, cred.pid);
			ctl_refuse(fd, msg);
			continue;
		}
		for (int i = 0; i < SL_CTL_MAX_CONN; i++)
			if (c->conns[i].fd < 0) {
				k = &c->conns[i];
				break;
			}
		if (!k) {
			snprintf(msg, sizeof(msg), "too many connections (at most %d)",
				 SL_CTL_MAX_CONN);
			ctl_log_refusal(c, msg, cred.uid, cred.pid);
			ctl_refuse(fd, msg);
			continue;
		}
		memset(k, 0, sizeof(*k));
		k->fd = fd;
		k->uid = cred.uid;
		k->pid = cred.pid;
		k->last_ns = ctl_now_ns();
		c->n_conns++;
		SL_DEBUG("control", "client uid=%u pid=%d connected", (unsigned)k->uid,
			 (int)k->pid);
	}
}

static void ctl_check_idle(struct sl_control *c, uint64_t now)
{
	for (int i = 0; i < SL_CTL_MAX_CONN; i++) {
		struct ctl_conn *k = &c->conns[i];

		/* A tap waiting for events is not idle; one whose lines are not read is. */
		if (k->fd < 0 || (k->tap && !k->out) ||
		    now - k->last_ns < (uint64_t)SL_CTL_IDLE_TIMEOUT_S * 1000000000u)
			continue;
		if (k->out) {
			/* It has not read its response (or a tap's lines) for that long: give up
			 * on it, which frees its tap. */
			ctl_close(c, k);
			continue;
		}
		ctl_error(c, k, NULL, "idle timeout: no request for 10 s, closing", true);
		if (k->fd >= 0 && k->out) {
			/* Its buffer is full: nothing more can be said. */
			ctl_close(c, k);
		}
	}
}

static void *ctl_thread(void *arg)
{
	struct sl_control *c = arg;
	struct pollfd pfd[SL_CTL_MAX_CONN + 2];
	int map[SL_CTL_MAX_CONN + 2];

	for (;;) {
		int n = 0, rc;
		uint64_t now;

		pfd[n] = (struct pollfd){ .fd = c->wake[0], .events = POLLIN };
		map[n++] = -1;
		pfd[n] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
		map[n++] = -1;
		for (int i = 0; i < SL_CTL_MAX_CONN; i++) {
			struct ctl_conn *k = &c->conns[i];

			if (k->fd < 0)
				continue;
			pfd[n] =
				(struct pollfd){ .fd = k->fd, .events = k->out ? POLLOUT : POLLIN };
			/* After the end of its stream, or with in[] full (requests wait behind a
			 * tap), a client has nothing to read now: asking would wake poll at once,
			 * forever. It is read again once ctl_handle_input makes room. */
			if (!k->out && (k->eof || k->in_len == sizeof(k->in)))
				pfd[n].events = 0;
			map[n++] = i;
		}
		rc = poll(pfd, (nfds_t)n, ctl_tapping(c) ? CTL_TAP_TICK_MS : c->tick_ms);
		if (rc < 0 && errno != EINTR)
			SL_ERR("control", "poll: %s", strerror(errno));
		if (pfd[0].revents)
			break;
		for (int j = 2; rc > 0 && j < n; j++) {
			struct ctl_conn *k = &c->conns[map[j]];

			if (!pfd[j].revents || k->fd < 0)
				continue;
			if (k->tap && (pfd[j].revents & (POLLHUP | POLLERR))) {
				/* The client closed its end (not just its sending side): nobody
				 * reads the tap any more. */
				ctl_close(c, k);
				continue;
			}
			if (k->out) {
				if (ctl_flush(c, k) == 0 && !k->out)
					ctl_handle_input(c, k);
			} else {
				ctl_read(c, k);
			}
		}
		if (rc > 0 && pfd[1].revents)
			ctl_accept(c);
		for (int i = 0; i < SL_CTL_MAX_CONN; i++) {
			struct ctl_conn *k = &c->conns[i];

			/* A tap runs on after its client shut down its sending side (EOF is the
			 * end of the requests, not of the client); a client gone for good shows
			 * as POLLHUP above. */
			ctl_tap_pump(c, k);
			/* Requests that waited behind a tap that just ended, or the end of a
			 * stream whose last answer is written: nothing else wakes for them. */
			if (k->fd >= 0 && !k->tap && !k->out)
				ctl_handle_input(c, k);
		}
		now = ctl_now_ns();
		ctl_check_idle(c, now);
		sl_control_health_sample(c, now);
	}
	for (int i = 0; i < SL_CTL_MAX_CONN; i++) {
		struct ctl_conn *k = &c->conns[i];

		/* A tap's last events and its "done" line, if the socket takes them now. */
		if (k->fd >= 0 && k->tap && !k->out) {
			ctl_tap_pump(c, k);
			if (k->fd >= 0 && k->out)
				ctl_flush(c, k);
		}
		ctl_close(c, k);
	}
	return NULL;
}

/* ---- lifecycle ---- */

void sl_control_opts_from_config(const struct sl_config *cfg, const char *socket_arg,
				 struct sl_control_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->socket_path = socket_arg ? socket_arg : cfg->control.socket;
	o->metrics = cfg->control.metrics;
	o->metrics_ip = cfg->control.metrics_ip;
	o->metrics_port = cfg->control.metrics_port;
	o->stall_after_ms = cfg->control.stall_after_ms;
	o->heartbeat_ms = cfg->control.heartbeat_ms;
}

int sl_control_start(const struct sl_control_opts *o, struct sl_pipeline *p, struct sl_config *cfg,
		     struct sl_control **out)
{
	struct sl_control *c;
	sigset_t all, old;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->p = p;
	c->cfg = cfg;
	c->owner = geteuid();
	c->listen_fd = c->wake[0] = c->wake[1] = -1;
	c->stall_after_ns = (uint64_t)(o->stall_after_ms ? o->stall_after_ms : 5000) * 1000000u;
	c->heartbeat_ns = (uint64_t)(o->heartbeat_ms ? o->heartbeat_ms : 1000) * 1000000u;
	c->tick_ms = (int)(c->heartbeat_ns / 2000000u);
	if (c->tick_ms > CTL_TICK_MS)
		c->tick_ms = CTL_TICK_MS;
	rc = sl_control_heartbeat_init(c);
	if (rc < 0) {
		free(c);
		return rc;
	}
	snprintf(c->version, sizeof(c->version), "%s", o->version ? o->version : "?");
	pthread_mutex_init(&c->health_lock, NULL);
	for (int i = 0; i < SL_CTL_MAX_CONN; i++)
		c->conns[i].fd = -1;
	if (o->socket_path) {
		rc = snprintf(c->path, sizeof(c->path), "%s", o->socket_path);
	} else {
		char dir[sizeof(c->path)];

		rc = sl_ctl_default_dir(dir, sizeof(dir));
		if (rc == 0)
			rc = ctl_make_dir(dir);
		if (rc < 0) {
			SL_ERR("control", "cannot use %s for the control socket: %s", dir,
			       strerror(-rc));
			goto err;
		}
		rc = snprintf(c->path, sizeof(c->path), "%s/%d.sock", dir, (int)getpid());
	}
	if (rc < 0 || (size_t)rc >= sizeof(c->path)) {
		rc = -ENAMETOOLONG;
		SL_ERR("control", "control socket path too long");
		goto err;
	}
	rc = ctl_listen(c);
	if (rc < 0)
		goto err;
	rc = sl_reload_create(p, cfg,
			      &(struct sl_reload_opts){ .file = o->config_file,
							.default_replicas = o->default_replicas,
							.host = o->host },
			      &c->reload);
	if (rc < 0)
		goto err;
	if (pipe2(c->wake, O_CLOEXEC) < 0) {
		rc = -errno;
		goto err;
	}
	sl_control_health_sample(c, ctl_now_ns());
	/* Both threads block every signal: SIGINT/SIGTERM go to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&c->thread, NULL, ctl_thread, c);
	if (rc == 0) {
		c->thread_started = true;
		pthread_setname_np(c->thread, "sl-control");
		if (o->metrics)
			rc = sl_control_metrics_start(c, o->metrics_ip, o->metrics_port);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto err;
	sl_control_telemetry_attach(c);
	SL_INFO("control", "control socket %s", c->path);
	*out = c;
	return 0;
err:
	sl_control_stop(c);
	return rc;
}

void sl_control_ended(struct sl_control *c)
{
	/* Release after the last counter update: pairs with the acquire loads of ended in
	 * ctl_ended, metrics_text and tel_info, so "ended" means the counters are final. */
	if (c)
		__atomic_store_n(&c->ended, true, __ATOMIC_RELEASE);
}

const char *sl_control_socket_path(const struct sl_control *c)
{
	return c->path;
}

void sl_control_stop(struct sl_control *c)
{
	if (!c)
		return;
	sl_control_telemetry_detach(c);
	sl_control_metrics_stop(c);
	if (c->thread_started) {
		if (write(c->wake[1], "x", 1) < 0)
			SL_ERR("control", "cannot wake the control thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->own_file)
		unlink(c->path);
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	/* Every tap is unhooked (the thread closed its clients); the workers have stopped. */
	for (int i = 0; i < CTL_MAX_TAPS; i++)
		sl_tap_free(c->taps[i]);
	sl_reload_destroy(c->reload);
	free(c->hb_base);
	free(c->hb_seq);
	free(c->hb_since);
	pthread_mutex_destroy(&c->health_lock);
	free(c);
}
