/*
 * Usage ledger writer and `sluice cost` (see ledger.h). Control path only.
 */
#include "ledger.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "format/json.h"
#include "graph/pipeline.h"
#include "message.h"

struct sl_ledger {
	FILE *f;
	struct sl_pipeline *p;
	double interval_s;
	char run[48];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void ledger_str(FILE *f, const char *s)
{
	char buf[512];
	long n = sl_json_string(s, strlen(s), buf, sizeof(buf));

	if (n > 0)
		fwrite(buf, 1, (size_t)n, f);
	else
		fputs("\"\"", f);
}

static void ledger_sample(struct sl_ledger *l, bool final)
{
	double t = sl_pipeline_elapsed_s(l->p);
	uint64_t hz = sl_pipeline_tsc_hz(l->p);

	for (uint32_t i = 0; i < sl_pipeline_n_nodes(l->p); i++) {
		struct sl_node_stats s;

		sl_pipeline_node_stats(l->p, i, &s);
		fprintf(l->f, "{\"run\":\"%s\",\"t\":%.6f,\"node\":", l->run, t);
		ledger_str(l->f, s.name);
		fprintf(l->f, ",\"role\":\"%s\",\"kind\":", s.role);
		ledger_str(l->f, s.kind);
		fprintf(l->f,
			",\"replicas\":%u,\"in\":%" PRIu64 ",\"out\":%" PRIu64
			",\"generated\":%" PRIu64 ",\"busy_cycles\":%" PRIu64 ",\"calls\":%" PRIu64
			",\"tsc_hz\":%" PRIu64,
			s.replicas, s.in, s.out, s.generated, s.busy_cycles, s.calls, hz);
		/* Autoscaled: replicas is the count at this sample; replica_s integrates it. */
		if (s.scaled)
			fprintf(l->f,
				",\"replica_s\":%.6f,\"scale_min\":%u,\"scale_max\":%u,"
				"\"cold_starts\":%" PRIu64 ",\"cold_start_us_max\":%.3f",
				s.replica_seconds, s.scale_min, s.scale_max, s.cold_starts,
				s.cold_start_us_max);
		fprintf(l->f, ",\"final\":%s}\n", final ? "true" : "false");
	}
	fflush(l->f);
}

static void *ledger_thread(void *arg)
{
	struct sl_ledger *l = arg;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		struct timespec ts;
		long ns = (long)(l->interval_s * 1e9);

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ns / 1000000000L;
		ts.tv_nsec += ns % 1000000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT && !l->stop)
			ledger_sample(l, false);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int sl_ledger_start(const char *path, struct sl_pipeline *p, double interval_s,
		    struct sl_ledger **out)
{
	struct sl_ledger *l = calloc(1, sizeof(*l));
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->f = fopen(path, "a");
	if (!l->f) {
		rc = -errno;
		SL_ERR("ledger", "cannot open %s: %s", path, strerror(errno));
		free(l);
		return rc;
	}
	l->p = p;
	l->interval_s = interval_s;
	snprintf(l->run, sizeof(l->run), "%lld-%d", (long long)time(NULL), (int)getpid());
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	/* Signals stay with the main thread (SIGINT/SIGTERM drain the pipeline). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thread, NULL, ledger_thread, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		SL_ERR("ledger", "cannot start the ledger thread: %s", strerror(rc));
		fclose(l->f);
		free(l);
		return -rc;
	}
	SL_INFO("ledger", "appending to %s every %.1f s (run %s)", path, interval_s, l->run);
	*out = l;
	return 0;
}

void sl_ledger_stop(struct sl_ledger *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	ledger_sample(l, true);
	if (fclose(l->f) != 0)
		SL_ERR("ledger", "cannot write the ledger: %s", strerror(errno));
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
}

/* ---- sluice cost ---- */

#define COST_MAX_NODES 256

struct cost_node {
	char name[SL_CTL_NAME_MAX + 1], role[16], kind[64];
	uint64_t replicas, in, out, generated, busy, tsc_hz;
	double t;
	double replica_s; /* replicas x seconds held, when the line has it (else < 0) */
};

static bool cost_u64(const struct sl_jr_val *o, const char *k, uint64_t *v)
{
	const struct sl_jr_val *x = sl_jr_get(o, k);

	if (!x || x->type != SL_JR_INT || x->i < 0)
		return false;
	*v = (uint64_t)x->i;
	return true;
}

/* A string of the line: not empty, shorter than len, without control characters (the table
 * goes to a terminal); --json escapes it again. */
static bool cost_str(const struct sl_jr_val *o, const char *k, char *buf, size_t len)
{
	const struct sl_jr_val *x = sl_jr_get(o, k);

	if (!x || x->type != SL_JR_STR || x->len == 0 || x->len >= len)
		return false;
	for (size_t i = 0; i < x->len; i++)
		if ((unsigned char)x->s[i] < 0x20 || x->s[i] == 0x7f)
			return false;
	memcpy(buf, x->s, x->len + 1);
	return true;
}

int sl_cost_cli(const char *path, double price, bool json)
{
	static struct cost_node nodes[COST_MAX_NODES];
	char run[64] = "", this_run[64], err[256], *line = NULL;
	size_t cap = 0, n_nodes = 0;
	unsigned lineno = 0;
	double elapsed = 0;
	bool final = false;
	FILE *f = fopen(path, "r");
	ssize_t len;

	if (!f) {
		fprintf(stderr, "sluice cost: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		struct sl_jr_val v;
		struct cost_node c = { 0 };
		const struct sl_jr_val *t, *fin;
		size_t i;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (sl_jr_parse(line, (size_t)len, 8, &v, err, sizeof(err)) < 0) {
			fprintf(stderr, "sluice cost: %s:%u: %s\n", path, lineno, err);
			goto fail;
		}
		t = sl_jr_get(&v, "t");
		fin = sl_jr_get(&v, "final");
		if (v.type != SL_JR_OBJ || !cost_str(&v, "run", this_run, sizeof(this_run)) ||
		    !cost_str(&v, "node", c.name, sizeof(c.name)) ||
		    !cost_str(&v, "role", c.role, sizeof(c.role)) ||
		    !cost_str(&v, "kind", c.kind, sizeof(c.kind)) ||
		    !cost_u64(&v, "replicas", &c.replicas) || !cost_u64(&v, "in", &c.in) ||
		    !cost_u64(&v, "out", &c.out) || !cost_u64(&v, "generated", &c.generated) ||
		    !cost_u64(&v, "busy_cycles", &c.busy) || !cost_u64(&v, "tsc_hz", &c.tsc_hz) ||
		    c.tsc_hz == 0 || !t || (t->type != SL_JR_NUM && t->type != SL_JR_INT)) {
			fprintf(stderr,
				"sluice cost: %s:%u: not a ledger line (needs run, t, node, role, "
				"kind, replicas, in, out, generated, busy_cycles, tsc_hz)\n",
				path, lineno);
			sl_jr_free(&v);
			goto fail;
		}
		c.t = t->type == SL_JR_NUM ? t->d : (double)t->i;
		t = sl_jr_get(&v, "replica_s");
		c.replica_s = t && t->type == SL_JR_NUM	  ? t->d
			      : t && t->type == SL_JR_INT ? (double)t->i
							  : -1;
		/* A new run starts the bill over: the last run in the file is the one shown. */
		if (strcmp(this_run, run) != 0) {
			snprintf(run, sizeof(run), "%s", this_run);
			n_nodes = 0;
			elapsed = 0;
			final = false;
		}
		for (i = 0; i < n_nodes && strcmp(nodes[i].name, c.name) != 0; i++)
			;
		if (i == n_nodes) {
			if (n_nodes == COST_MAX_NODES) {
				fprintf(stderr, "sluice cost: %s:%u: more than %d nodes\n", path,
					lineno, COST_MAX_NODES);
				sl_jr_free(&v);
				goto fail;
			}
			n_nodes++;
		}
		nodes[i] = c;
		if (c.t > elapsed)
			elapsed = c.t;
		final |= fin && fin->type == SL_JR_BOOL && fin->b;
		sl_jr_free(&v);
	}
	free(line);
	fclose(f);
	if (n_nodes == 0) {
		fprintf(stderr, "sluice cost: %s: no ledger lines\n", path);
		return 1;
	}
	if (!json) {
		printf("run %s, %.3f s%s, at $%.4f per core-hour\n", run, elapsed,
		       final ? "" : " (no final sample: the run did not end cleanly)", price);
		printf("%-16s %-6s %-12s %4s %12s %11s %11s %9s %11s\n", "NODE", "ROLE", "KIND",
		       "REPL", "EVENTS", "BUSY_CORE_S", "HELD_CORE_S", "CYC/EV", "$/M_EVENTS");
	}
	for (size_t i = 0; i < n_nodes; i++) {
		const struct cost_node *c = &nodes[i];
		uint64_t events = c->in + c->generated;
		double busy_s = (double)c->busy / (double)c->tsc_hz;
		/* Autoscaled replicas change over time: the ledger integrates them. */
		double held_s = c->replica_s >= 0 ? c->replica_s : (double)c->replicas * elapsed;
		double cyc = events ? (double)c->busy / (double)events : NAN;
		double per_m = events ? busy_s / 3600.0 * price / (double)events * 1e6 : NAN;

		if (json) {
			fputs("{\"run\":", stdout);
			sl_json_fput_string(stdout, run);
			fputs(",\"node\":", stdout);
			sl_json_fput_string(stdout, c->name);
			printf(",\"events\":%" PRIu64 ",\"busy_core_s\":%.6f,\"held_core_s\":%.6f,"
			       "\"cycles_per_event\":%.3f,\"usd_per_million_events\":%.9f}\n",
			       events, busy_s, held_s, isnan(cyc) ? 0 : cyc,
			       isnan(per_m) ? 0 : per_m);
		} else
			printf("%-16.16s %-6.6s %-12.12s %4" PRIu64 " %12" PRIu64
			       " %11.6f %11.3f %9.1f %11.7f\n",
			       c->name, c->role, c->kind, c->replicas, events, busy_s, held_s, cyc,
			       per_m);
	}
	return 0;
fail:
	free(line);
	fclose(f);
	return 1;
}
