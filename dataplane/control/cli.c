/*
 * The client subcommands (main.c dispatches to them): `sluice ctl COMMAND` prints the
 * raw response line, `sluice stats [--json]` one snapshot (the result object, or a
 * table), and `sluice top` a live per-node view: events/s in and out over the last
 * interval, queue depth and capacity, replicas, busy cycles per event and drops by
 * reason. On a terminal top redraws in place (ANSI home + clear, so it works in tmux);
 * otherwise it appends one block of plain lines per refresh. Runs on the caller's thread;
 * exit status 0, 1 when the request failed or no sluice answered.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "format/json.h"
#include "message.h"

#define CLI_TIMEOUT_MS 5000

static volatile sig_atomic_t cli_interrupted;

static void cli_on_signal(int signo)
{
	cli_interrupted = 1;
}

static int cli_open(const char *socket_arg, char *path, size_t len)
{
	char err[600];
	int fd, rc;

	if (socket_arg) {
		snprintf(path, len, "%s", socket_arg);
	} else {
		rc = sl_ctl_find_socket(path, len, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "sluice: %s\n", err);
			return rc;
		}
	}
	fd = sl_ctl_connect(path);
	if (fd < 0)
		fprintf(stderr, "sluice: cannot connect to %s: %s%s\n", path, strerror(-fd),
			fd == -EACCES ? " (the socket is 0600: run as its owner or root)" : "");
	return fd;
}

/* One request; the parsed response in *v (caller frees). 0, or -1 with a message. */
static int cli_request(int fd, const char *path, const char *req, struct sl_jr_val *v, char **line)
{
	const struct sl_jr_val *ok, *err;
	char perr[256];
	size_t len;
	int rc = sl_ctl_call(fd, req, CLI_TIMEOUT_MS, line, &len);

	if (rc < 0) {
		if (rc == -ECONNRESET || rc == -EPIPE)
			fprintf(stderr, "sluice: %s: connection closed (the pipeline ended?)\n",
				path);
		else
			fprintf(stderr, "sluice: %s: %s\n", path, strerror(-rc));
		return rc == -ECONNRESET || rc == -EPIPE ? -2 : -1;
	}
	if (sl_jr_parse(*line, len, SL_CTL_JSON_DEPTH, v, perr, sizeof(perr)) < 0) {
		fprintf(stderr, "sluice: %s: unreadable response: %s\n", path, perr);
		free(*line);
		*line = NULL;
		return -1;
	}
	ok = sl_jr_get(v, "ok");
	if (!ok || ok->type != SL_JR_BOOL || !ok->b) {
		err = sl_jr_get(v, "error");
		fprintf(stderr, "sluice: %s\n",
			err && err->type == SL_JR_STR ? err->s : "request failed");
		return -1;
	}
	return 0;
}

static void cli_request_line(char *buf, size_t len, const char *cmd, const char *node)
{
	char esc[2 * SL_CTL_NAME_MAX + 8];
	size_t n = 0;

	if (!node) {
		snprintf(buf, len, "{\"v\":%d,\"cmd\":\"%s\"}", SL_CTL_VERSION, cmd);
		return;
	}
	for (const char *p = node; *p && n + 7 < sizeof(esc) && p - node < SL_CTL_NAME_MAX; p++) {
		if (*p == '"' || *p == '\\')
			esc[n++] = '\\';
		if ((unsigned char)*p < 0x20) {
			n += (size_t)snprintf(esc + n, sizeof(esc) - n, "\\u%04x", *p);
			continue;
		}
		esc[n++] = *p;
	}
	esc[n] = '\0';
	snprintf(buf, len, "{\"v\":%d,\"cmd\":\"%s\",\"node\":\"%s\"}", SL_CTL_VERSION, cmd, esc);
}

int sl_ctl_cli_ctl(const char *socket_arg, const char *command, const char *node)
{
	char path[512], req[512];
	struct sl_jr_val v;
	char *line = NULL;
	int fd, rc;

	fd = cli_open(socket_arg, path, sizeof(path));
	if (fd < 0)
		return 1;
	cli_request_line(req, sizeof(req), command, node);
	rc = cli_request(fd, path, req, &v, &line);
	if (line) {
		if (rc == 0)
			printf("%s\n", line);
		sl_jr_free(&v);
	}
	free(line);
	close(fd);
	return rc == 0 ? 0 : 1;
}

/* ---- tables ---- */

struct cli_node {
	const char *name, *role, *kind;
	uint64_t replicas, in, out, generated, queued, pending, ring_capacity, busy_cycles;
	const struct sl_jr_val *dropped;
	double call_p99_us; /* NAN: not reported (sources) */
};

static uint64_t cli_u64(const struct sl_jr_val *o, const char *key)
{
	const struct sl_jr_val *x = sl_jr_get(o, key);

	return x && x->type == SL_JR_INT && x->i > 0 ? (uint64_t)x->i : 0;
}

static const char *cli_str(const struct sl_jr_val *o, const char *key)
{
	const struct sl_jr_val *x = sl_jr_get(o, key);

	return x && x->type == SL_JR_STR ? x->s : "?";
}

static void cli_node_read(const struct sl_jr_val *o, struct cli_node *n)
{
	n->name = cli_str(o, "name");
	n->role = cli_str(o, "role");
	n->kind = cli_str(o, "kind");
	n->replicas = cli_u64(o, "replicas");
	n->in = cli_u64(o, "in");
	n->out = cli_u64(o, "out");
	n->generated = cli_u64(o, "generated");
	n->queued = cli_u64(o, "queued");
	n->pending = cli_u64(o, "pending");
	n->ring_capacity = cli_u64(o, "ring_capacity");
	n->busy_cycles = cli_u64(o, "busy_cycles");
	n->dropped = sl_jr_get(o, "dropped");
	n->call_p99_us = NAN;
	{
		const struct sl_jr_val *p99 = sl_jr_get(sl_jr_get(o, "latency_us"), "call_p99");

		if (p99 && (p99->type == SL_JR_NUM || p99->type == SL_JR_INT))
			n->call_p99_us = p99->type == SL_JR_NUM ? p99->d : (double)p99->i;
	}
}

/* 1234567 -> "1.23M": fits the columns. */
static const char *cli_human(double v, char *buf, size_t len)
{
	static const char units[] = " kMGTP";
	int u = 0;

	if (!isfinite(v) || v < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	while (v >= 999.5 && u < 5) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%c", v < 9.995 ? 2 : v < 99.95 ? 1 : 0, v, units[u]);
	return buf;
}

/* One frame: rates from the previous snapshot (or since the start when there is none). */
static void cli_frame(FILE *f, const char *title, const char *path, const struct sl_jr_val *res,
		      const struct sl_jr_val *prev, double dt)
{
	const struct sl_jr_val *nodes = sl_jr_get(res, "nodes"), *pnodes = sl_jr_get(prev, "nodes");
	const struct sl_jr_val *el = sl_jr_get(res, "elapsed_s");
	double elapsed = el && (el->type == SL_JR_NUM || el->type == SL_JR_INT) ? el->d : 0;
	char t[32], a[16], b[16], c[16], l[16], q[40], drops[160];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	fprintf(f, "%s  %s  %s %.1f s  %s UTC  (rates over %s)\n", title, path,
		cli_str(res, "state"), elapsed, t, prev ? "the last interval" : "the whole run");
	/* /health's verdict, when it is not ok (a stall, a stuck stage: heartbeat) */
	if (strncmp(cli_str(res, "health"), "ok", 2) != 0 &&
	    strcmp(cli_str(res, "health"), "?") != 0)
		fprintf(f, "HEALTH  %s\n", cli_str(res, "health"));
	fprintf(f, "%-16s %-6s %-12s %4s %8s %8s %15s %8s %8s  %s\n", "NODE", "ROLE", "KIND",
		"REPL", "IN/s", "OUT/s", "QUEUE/CAP", "CYC/EV", "P99us", "DROPS");
	if (!prev)
		dt = elapsed;
	for (size_t i = 0; nodes && nodes->type == SL_JR_ARR && i < nodes->n; i++) {
		struct cli_node n, p = { 0 };
		double in, out, cyc;
		size_t k = 0;

		cli_node_read(&nodes->items[i], &n);
		if (prev && pnodes && pnodes->type == SL_JR_ARR && i < pnodes->n)
			cli_node_read(&pnodes->items[i], &p);
		in = (double)(n.in + n.generated - p.in - p.generated);
		out = (double)(n.out - p.out);
		cyc = in > 0 ? (double)(n.busy_cycles - p.busy_cycles) / in : NAN;
		if (n.ring_capacity)
			snprintf(q, sizeof(q), "%" PRIu64 "/%" PRIu64 "%s", n.queued + n.pending,
				 n.ring_capacity, n.pending ? "+" : "");
		else
			snprintf(q, sizeof(q), "-");
		drops[0] = '\0';
		for (size_t d = 0; n.dropped && n.dropped->type == SL_JR_OBJ && d < n.dropped->n;
		     d++) {
			const struct sl_jr_val *x = &n.dropped->items[d];

			if (x->type != SL_JR_INT || k + 40 > sizeof(drops))
				continue;
			k += (size_t)snprintf(drops + k, sizeof(drops) - k, "%s%s=%s", k ? " " : "",
					      n.dropped->keys[d],
					      cli_human((double)x->i, a, sizeof(a)));
		}
		fprintf(f, "%-16.16s %-6.6s %-12.12s %4" PRIu64 " %8s %8s %15s %8s %8s  %s\n",
			n.name, n.role, n.kind, n.replicas,
			cli_human(dt > 0 ? in / dt : NAN, a, sizeof(a)),
			cli_human(dt > 0 ? out / dt : NAN, b, sizeof(b)), q,
			cli_human(cyc, c, sizeof(c)), cli_human(n.call_p99_us, l, sizeof(l)),
			drops[0] ? drops : "-");
	}
}

int sl_ctl_cli_stats(const char *socket_arg, bool json, const char *node)
{
	char path[512], req[512];
	const struct sl_jr_val *res;
	struct sl_jr_val v;
	char *line = NULL, *p = NULL;
	int fd, rc;

	fd = cli_open(socket_arg, path, sizeof(path));
	if (fd < 0)
		return 1;
	cli_request_line(req, sizeof(req), "stats", node);
	rc = cli_request(fd, path, req, &v, &line);
	close(fd);
	if (rc < 0) {
		if (line)
			sl_jr_free(&v);
		free(line);
		return 1;
	}
	res = sl_jr_get(&v, "result");
	if (json) {
		/* The result object as the server wrote it: after "result": up to the final }. */
		p = strstr(line, "\"result\":");
		if (p) {
			p += strlen("\"result\":");
			printf("%.*s\n", (int)(strlen(p) - 1), p);
		}
	} else if (res) {
		cli_frame(stdout, "sluice stats", path, res, NULL, 0);
	}
	sl_jr_free(&v);
	free(line);
	return p || !json ? 0 : 1;
}

int sl_ctl_cli_top(const char *socket_arg, double interval_s, unsigned count)
{
	struct sl_jr_val v[2] = { 0 };
	char path[512], req[128], *line[2] = { NULL, NULL };
	struct timespec t[2], pause;
	bool tty = isatty(STDOUT_FILENO);
	struct sigaction sa;
	int fd, cur = 0, status = 0;
	unsigned frames = 0;

	fd = cli_open(socket_arg, path, sizeof(path));
	if (fd < 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A terminal gets each frame in one write (the fflush below), not a line at a time:
	 * no half-drawn frame on screen, nor in a tmux capture (control_top.sh). */
	if (tty)
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	cli_request_line(req, sizeof(req), "stats", NULL);
	while (!cli_interrupted && (count == 0 || frames < count)) {
		const struct sl_jr_val *res, *prev = NULL, *state;
		double dt;

		int rc = cli_request(fd, path, req, &v[cur], &line[cur]);

		if (rc < 0) {
			if (line[cur])
				sl_jr_free(&v[cur]);
			free(line[cur]);
			line[cur] = NULL;
			/* A pipeline that ends ends top. */
			if (rc == -2 && frames)
				printf("sluice top: the pipeline ended\n");
			status = rc == -2 && frames ? 0 : 1;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t[cur]);
		res = sl_jr_get(&v[cur], "result");
		if (line[!cur])
			prev = sl_jr_get(&v[!cur], "result");
		dt = (double)(t[cur].tv_sec - t[!cur].tv_sec) +
		     (double)(t[cur].tv_nsec - t[!cur].tv_nsec) / 1e9;
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (frames)
			fputs("\n", stdout);
		cli_frame(stdout, "sluice top", path, res, prev, dt);
		fflush(stdout);
		frames++;
		state = sl_jr_get(res, "state");
		/* The last frame of a pipeline that ended says so, as a closed socket does. */
		if (state && state->type == SL_JR_STR && strcmp(state->s, "ended") == 0) {
			printf("sluice top: the pipeline ended\n");
			break;
		}
		cur = !cur;
		if (line[cur]) {
			sl_jr_free(&v[cur]);
			free(line[cur]);
			line[cur] = NULL;
		}
		if (count && frames >= count)
			break;
		pause.tv_sec = (time_t)interval_s;
		pause.tv_nsec = (long)((interval_s - (double)pause.tv_sec) * 1e9);
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (line[i]) {
			sl_jr_free(&v[i]);
			free(line[i]);
		}
	close(fd);
	return status;
}

/* ---- tap ---- */

/* s as a JSON string body (quotes not included) into buf. */
static void cli_json_escape(char *buf, size_t len, const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p && n + 8 < len && p - s < SL_CTL_NAME_MAX; p++) {
		if (*p == '"' || *p == '\\')
			buf[n++] = '\\';
		if ((unsigned char)*p < 0x20) {
			n += (size_t)snprintf(buf + n, len - n, "\\u%04x", *p);
			continue;
		}
		buf[n++] = *p;
	}
	buf[n] = '\0';
}

/* Handle one line of a tap's answer: 1 go on, 0 done, -1 failed. */
static int cli_tap_line(const char *path, char *line, size_t len, bool *started)
{
	const struct sl_jr_val *ok, *err, *res, *done, *ev, *why;
	struct sl_jr_val v;
	char perr[256];
	int rc = 1;

	if (sl_jr_parse(line, len, SL_CTL_JSON_DEPTH, &v, perr, sizeof(perr)) < 0) {
		fprintf(stderr, "sluice: %s: unreadable line: %s\n", path, perr);
		return -1;
	}
	if (!sl_jr_get(&v, "v")) {
		/* An event: printed as the server wrote it. */
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		sl_jr_free(&v);
		return 1;
	}
	ok = sl_jr_get(&v, "ok");
	res = sl_jr_get(&v, "result");
	if (!ok || ok->type != SL_JR_BOOL || !ok->b) {
		err = sl_jr_get(&v, "error");
		fprintf(stderr, "sluice: %s\n",
			err && err->type == SL_JR_STR ? err->s : "tap refused");
		rc = -1;
	} else if ((done = sl_jr_get(res, "done")) && done->type == SL_JR_BOOL && done->b) {
		ev = sl_jr_get(res, "events");
		why = sl_jr_get(res, "reason");
		fprintf(stderr, "sluice: tap: %lld events (%s)\n",
			ev && ev->type == SL_JR_INT ? (long long)ev->i : 0LL,
			why && why->type == SL_JR_STR && strcmp(why->s, "ended") == 0
				? "the pipeline ended"
				: "limit reached");
		rc = 0;
	} else {
		*started = true;
	}
	sl_jr_free(&v);
	return rc;
}

int sl_ctl_cli_tap(const char *socket_arg, const char *target, int64_t limit, double rate)
{
	char path[512], node[SL_CTL_NAME_MAX + 1], enode[2 * SL_CTL_NAME_MAX + 8],
		eout[2 * SL_CTL_NAME_MAX + 8], req[1024];
	const char *dot = strchr(target, '.');
	size_t have = 0, cap = 1 << 20;
	char *buf = NULL;
	bool started = false;
	struct sigaction sa;
	int fd, rc = 1;

	snprintf(node, sizeof(node), "%.*s", dot ? (int)(dot - target) : (int)strlen(target),
		 target);
	cli_json_escape(enode, sizeof(enode), node);
	if (dot)
		cli_json_escape(eout, sizeof(eout), dot + 1);
	snprintf(req, sizeof(req),
		 "{\"v\":%d,\"cmd\":\"tap\",\"node\":\"%s\"%s%s%s,\"limit\":%lld,\"rate\":%g}\n",
		 SL_CTL_VERSION, enode, dot ? ",\"output\":\"" : "", dot ? eout : "",
		 dot ? "\"" : "", (long long)limit, rate);
	fd = cli_open(socket_arg, path, sizeof(path));
	if (fd < 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	buf = malloc(cap);
	if (!buf || send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		fprintf(stderr, "sluice: %s: cannot send the request\n", path);
		goto out;
	}
	while (!cli_interrupted) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(fd, buf + have, cap - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "sluice: %s: connection closed%s\n", path,
				started ? " (the pipeline ended?)" : "");
			goto out;
		}
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);
			int r = cli_tap_line(path, buf, len, &started);

			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
			if (r <= 0) {
				rc = r == 0 ? 0 : 1;
				goto out;
			}
		}
		if (have == cap) {
			fprintf(stderr, "sluice: %s: line longer than %zu bytes\n", path, cap);
			goto out;
		}
	}
	rc = 0; /* interrupted: closing the socket ends the tap */
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- scale ---- */

int sl_ctl_cli_scale(const char *socket_arg, const char *node, const char *count)
{
	char path[512], req[512], *end;
	struct sl_jr_val v;
	char *line = NULL, name[SL_CTL_NAME_MAX * 2 + 8];
	long n = strcmp(count, "auto") == 0 ? -1 : strtol(count, &end, 10);
	int fd, rc;

	if (n != -1 && (!count[0] || *end || n < 0 || n > SL_CTL_SCALE_MAX)) {
		fprintf(stderr, "sluice scale: '%s': expected a replica count (0 to %d) or auto\n",
			count, SL_CTL_SCALE_MAX);
		return 2;
	}
	if (strlen(node) > SL_CTL_NAME_MAX || strpbrk(node, "\"\\")) {
		fprintf(stderr, "sluice scale: '%s': not a node name\n", node);
		return 2;
	}
	snprintf(name, sizeof(name), "%s", node);
	if (n < 0)
		snprintf(req, sizeof(req),
			 "{\"v\":%d,\"cmd\":\"scale\",\"node\":\"%s\",\"replicas\":\"auto\"}",
			 SL_CTL_VERSION, name);
	else
		snprintf(req, sizeof(req),
			 "{\"v\":%d,\"cmd\":\"scale\",\"node\":\"%s\",\"replicas\":%ld}",
			 SL_CTL_VERSION, name, n);
	fd = cli_open(socket_arg, path, sizeof(path));
	if (fd < 0)
		return 1;
	rc = cli_request(fd, path, req, &v, &line);
	if (rc == 0)
		printf("%s: %s\n", node, n < 0 ? "autoscaled" : "pinned");
	if (line)
		sl_jr_free(&v);
	free(line);
	close(fd);
	return rc == 0 ? 0 : 1;
}

/* ---- swap and reload ---- */

int sl_ctl_cli_live(const char *socket_arg, const char *cmd, const char *node, const char *file)
{
	char path[512], abs[4096], cwd[4096];
	const struct sl_jr_val *res, *applied;
	struct stat st;
	struct sl_jr_val v;
	char *req = NULL, *line = NULL;
	size_t req_len = 0;
	FILE *f;
	int fd, rc, n = 0;

	/* The server has its own working directory: send the file as an absolute path, ours
	 * prefixed, with no link resolved (realpath would turn a symlink into its target, and
	 * the server's trust checks, which refuse symlinks, must see the path named). */
	if (file && lstat(file, &st) < 0) {
		fprintf(stderr, "sluice %s: %s: %s\n", cmd, file, strerror(errno));
		return 1;
	}
	if (file && file[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "sluice %s: cannot get the working directory: %s\n", cmd,
			strerror(errno));
		return 1;
	}
	if (file && file[0] == '/')
		n = snprintf(abs, sizeof(abs), "%s", file);
	else if (file)
		n = snprintf(abs, sizeof(abs), "%s/%s", strcmp(cwd, "/") ? cwd : "", file);
	if (file && (n < 0 || (size_t)n >= sizeof(abs))) {
		fprintf(stderr, "sluice %s: %s: path too long\n", cmd, file);
		return 1;
	}
	f = open_memstream(&req, &req_len);
	if (!f)
		return 1;
	fprintf(f, "{\"v\":%d,\"cmd\":\"%s\"", SL_CTL_VERSION, cmd);
	if (node) {
		fputs(",\"node\":", f);
		sl_json_fput_string(f, node);
	}
	if (file) {
		fputs(",\"path\":", f);
		sl_json_fput_string(f, abs);
	}
	fputs("}", f);
	if (fclose(f) != 0) {
		free(req);
		return 1;
	}
	fd = cli_open(socket_arg, path, sizeof(path));
	if (fd < 0) {
		free(req);
		return 1;
	}
	rc = cli_request(fd, path, req, &v, &line);
	if (rc == 0) {
		res = sl_jr_get(&v, "result");
		applied = res ? sl_jr_get(res, "applied") : NULL;
		printf("%s\n", applied && applied->type == SL_JR_STR ? applied->s : line);
	}
	if (line)
		sl_jr_free(&v);
	free(line);
	free(req);
	close(fd);
	return rc == 0 ? 0 : 1;
}
