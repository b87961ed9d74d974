/*
 * The `gen` source and the nginx line generator behind it (gen_nginx.h). The source emits
 * `count` line events (0 = until stopped) of synthetic nginx combined-format access log,
 * as fast as the pipeline takes them or at `rate` events per second, paced by the TSC in
 * bursts. create runs on the control thread, poll on the one worker lcore that drives the
 * source; the source owns only its PRNG state and counters. event_id is the line's
 * sequence number.
 *
 * The generator writes lines with memcpy and integer formatting (no snprintf): about
 * 130 ns per 185-byte line (one core of the 2-core CI machine, gcc 12 -O2), 7 million
 * lines per second, enough to feed throughput benchmarks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "base/check.h"
#include "event/event.h"
#include "gen_nginx.h"
#include "source.h"

/* 2026-11-27T10:00:00Z as seconds since the Unix epoch. */
#define GEN_BASE_EPOCH 1795773600ull
#define GEN_CLIENTS    1000

struct gen_str {
	const char *s;
	uint8_t len;
};

#define GEN_S(x)                 \
	{                        \
		x, sizeof(x) - 1 \
	}

static const struct gen_str gen_paths[] = {
	GEN_S("/"),
	GEN_S("/index.html"),
	GEN_S("/favicon.ico"),
	GEN_S("/robots.txt"),
	GEN_S("/sitemap.xml"),
	GEN_S("/login"),
	GEN_S("/logout"),
	GEN_S("/register"),
	GEN_S("/search"),
	GEN_S("/about"),
	GEN_S("/contact"),
	GEN_S("/cart"),
	GEN_S("/checkout"),
	GEN_S("/products"),
	GEN_S("/products/1042"),
	GEN_S("/products/2177"),
	GEN_S("/products/3391"),
	GEN_S("/categories/shoes"),
	GEN_S("/categories/books"),
	GEN_S("/blog"),
	GEN_S("/blog/2026/11/scaling-to-zero"),
	GEN_S("/blog/2026/10/io-uring-in-practice"),
	GEN_S("/static/css/main.css"),
	GEN_S("/static/css/vendor.min.css"),
	GEN_S("/static/js/app.js"),
	GEN_S("/static/js/vendor.min.js"),
	GEN_S("/static/img/logo.png"),
	GEN_S("/static/img/hero.jpg"),
	GEN_S("/static/fonts/inter.woff2"),
	GEN_S("/api/v1/users"),
	GEN_S("/api/v1/users/me"),
	GEN_S("/api/v1/orders"),
	GEN_S("/api/v1/orders/88231"),
	GEN_S("/api/v1/items"),
	GEN_S("/api/v1/search"),
	GEN_S("/api/v1/cart/items"),
	GEN_S("/api/v2/events"),
	GEN_S("/api/v2/metrics"),
	GEN_S("/api/health"),
	GEN_S("/healthz"),
	GEN_S("/metrics"),
	GEN_S("/admin"),
	GEN_S("/admin/login.php"),
	GEN_S("/wp-login.php"),
	GEN_S("/.env"),
	GEN_S("/feed.xml"),
	GEN_S("/docs/getting-started"),
	GEN_S("/docs/api"),
	GEN_S("/download/sluice-0.1.0.tar.gz"),
	GEN_S("/images/banner-2026.webp"),
};

static const struct gen_str gen_queries[] = {
	GEN_S("?id="),	      GEN_S("?q=shoes&page="),
	GEN_S("?page="),      GEN_S("?utm_source=news&ref="),
	GEN_S("?lang=en&v="), GEN_S("?sort=price&limit="),
};

static const struct gen_str gen_referers[] = {
	GEN_S("https://www.google.com/"),	GEN_S("https://www.bing.com/search?q=sluice"),
	GEN_S("https://duckduckgo.com/"),	GEN_S("https://example.com/"),
	GEN_S("https://example.com/products"),	GEN_S("https://example.com/blog"),
	GEN_S("https://news.ycombinator.com/"), GEN_S("https://t.co/Xy7aB2"),
};

static const struct gen_str gen_agents[] = {
	GEN_S("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	      "Chrome/130.0.0.0 Safari/537.36"),
	GEN_S("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like "
	      "Gecko) Version/18.0 Safari/605.1.15"),
	GEN_S("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"),
	GEN_S("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
	      "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"),
	GEN_S("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
	      "Chrome/130.0.0.0 Mobile Safari/537.36"),
	GEN_S("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
	GEN_S("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
	GEN_S("curl/8.5.0"),
	GEN_S("python-requests/2.32.3"),
	GEN_S("Prometheus/2.54.1"),
};

static const char gen_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Cumulative weights out of 100. */
static const struct {
	struct gen_str s;
	uint8_t cum;
} gen_methods[] = {
	{ GEN_S("GET"), 80 }, { GEN_S("POST"), 92 },	{ GEN_S("HEAD"), 96 },
	{ GEN_S("PUT"), 98 }, { GEN_S("DELETE"), 100 },
};

static const struct {
	uint16_t status;
	uint8_t cum;
} gen_statuses[] = {
	{ 200, 78 }, { 301, 80 }, { 302, 83 }, { 304, 88 }, { 400, 89 }, { 401, 90 },
	{ 403, 91 }, { 404, 96 }, { 500, 97 }, { 502, 98 }, { 503, 99 }, { 504, 100 },
};

/* splitmix64 (Steele, Lea, Flood 2014): one multiply-xorshift step per value. */
static inline uint64_t gen_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-shift (Lemire), identical on every machine. */
static inline uint32_t gen_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((unsigned __int128)gen_next(s) * n) >> 64);
}

uint64_t sl_gen_nginx_seed(uint64_t seed)
{
	uint64_t s = seed;

	return gen_next(&s);
}

static inline char *gen_put(char *p, const struct gen_str *s)
{
	memcpy(p, s->s, s->len);
	return p + s->len;
}

static inline char *gen_u32(char *p, uint32_t v)
{
	char tmp[10];
	int i = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		*p++ = tmp[--i];
	return p;
}

static inline char *gen_2d(char *p, uint32_t v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian, era arithmetic). */
static void gen_civil(uint64_t days, uint32_t *y, uint32_t *m, uint32_t *d)
{
	uint64_t z = days + 719468, era = z / 146097, doe = z % 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;

	*d = (uint32_t)(doy - (153 * mp + 2) / 5 + 1);
	*m = (uint32_t)(mp < 10 ? mp + 3 : mp - 9);
	*y = (uint32_t)(yoe + era * 400 + (*m <= 2));
}

static char *gen_ip(char *p, uint64_t *s)
{
	/* Skewed towards low client numbers: the min of two draws, so some clients are busy. */
	uint32_t a = gen_below(s, GEN_CLIENTS), b = gen_below(s, GEN_CLIENTS);
	uint64_t h = (a < b ? a : b) + 0x5bd1e995ull;

	h = gen_next(&h);
	p = gen_u32(p, 11 + (uint32_t)(h % 200));
	*p++ = '.';
	p = gen_u32(p, (uint32_t)(h >> 8) & 0xff);
	*p++ = '.';
	p = gen_u32(p, (uint32_t)(h >> 16) & 0xff);
	*p++ = '.';
	return gen_u32(p, 1 + (uint32_t)((h >> 24) & 0xff) % 254);
}

size_t sl_gen_nginx_line(uint64_t *rng_state, uint64_t seq, char *buf, size_t cap)
{
	uint64_t t = GEN_BASE_EPOCH + seq / SL_GEN_NGINX_LINES_PER_SEC;
	uint32_t y, mo, d, sec = (uint32_t)(t % 86400), r, status = 200, bytes;
	char *p = buf;
	size_t i;

	if (cap < SL_GEN_NGINX_LINE_MAX)
		return 0;
	gen_civil(t / 86400, &y, &mo, &d);

	p = gen_ip(p, rng_state);
	memcpy(p, " - - [", 6);
	p = gen_2d(p + 6, d);
	*p++ = '/';
	memcpy(p, gen_months[mo - 1], 3);
	p += 3;
	*p++ = '/';
	p = gen_u32(p, y);
	*p++ = ':';
	p = gen_2d(p, sec / 3600);
	*p++ = ':';
	p = gen_2d(p, sec / 60 % 60);
	*p++ = ':';
	p = gen_2d(p, sec % 60);
	memcpy(p, " +0000] \"", 9);
	p += 9;

	r = gen_below(rng_state, 100);
	for (i = 0; r >= gen_methods[i].cum; i++)
		;
	p = gen_put(p, &gen_methods[i].s);
	*p++ = ' ';
	p = gen_put(p, &gen_paths[gen_below(rng_state, SL_ARRAY_SIZE(gen_paths))]);
	if (gen_below(rng_state, 5) == 0) {
		p = gen_put(p, &gen_queries[gen_below(rng_state, SL_ARRAY_SIZE(gen_queries))]);
		p = gen_u32(p, gen_below(rng_state, 100000));
	}
	r = gen_below(rng_state, 100);
	if (r < 70) {
		memcpy(p, " HTTP/1.1\" ", 11);
	} else if (r < 98) {
		memcpy(p, " HTTP/2.0\" ", 11);
	} else {
		memcpy(p, " HTTP/1.0\" ", 11);
	}
	p += 11;

	r = gen_below(rng_state, 100);
	for (i = 0; r >= gen_statuses[i].cum; i++)
		;
	status = gen_statuses[i].status;
	p = gen_u32(p, status);
	*p++ = ' ';
	if (status == 304)
		bytes = 0;
	else if (status == 301 || status == 302)
		bytes = 162 + gen_below(rng_state, 8);
	else if (status >= 400)
		bytes = 150 + gen_below(rng_state, 450);
	else
		bytes = gen_below(rng_state, 50001);
	p = gen_u32(p, bytes);

	memcpy(p, " \"", 2);
	p += 2;
	if (gen_below(rng_state, 10) < 4)
		*p++ = '-';
	else
		p = gen_put(p, &gen_referers[gen_below(rng_state, SL_ARRAY_SIZE(gen_referers))]);
	memcpy(p, "\" \"", 3);
	p += 3;
	p = gen_put(p, &gen_agents[gen_below(rng_state, SL_ARRAY_SIZE(gen_agents))]);
	*p++ = '"';
	return (size_t)(p - buf);
}

struct gen_source {
	struct rte_mempool *pool;
	int meta_offset;
	uint16_t node_id;
	uint32_t room;
	uint64_t count; /* 0 = unbounded */
	uint64_t rate;	/* events per second, 0 = unpaced */
	uint64_t tsc_hz;
	uint64_t start_tsc; /* first poll, for pacing */
	uint64_t seq;
	uint64_t rng;
	bool stopped;
	uint64_t n_bytes, n_nombuf;
};

static const struct sl_param_desc gen_params[] = {
	{ "count", SL_PARAM_INT, false, "100000", "lines to generate (0 = until stopped)" },
	{ "rate", SL_PARAM_INT, false, "0", "events per second (0 = as fast as possible)" },
	{ "seed", SL_PARAM_INT, false, "1", "PRNG seed: the same seed gives the same lines" },
	{ "emit", SL_PARAM_STR, false, "lines",
	  "lines (nginx access-log lines), or packets: UDP/IPv4 packet events, the pktgen "
	  "source and its keys (docs/packets.md)" },
	{ NULL },
};

static uint16_t gen_poll(void *self, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct gen_source *g = self;
	uint64_t want = max, tsc = rte_rdtsc();

	if (__atomic_load_n(&g->stopped, __ATOMIC_RELAXED) || (g->count && g->seq >= g->count)) {
		*done = true;
		return 0;
	}
	if (g->count && g->count - g->seq < want)
		want = g->count - g->seq;
	if (g->rate) {
		uint64_t due;

		if (!g->start_tsc)
			g->start_tsc = tsc;
		due = (uint64_t)((unsigned __int128)(tsc - g->start_tsc) * g->rate / g->tsc_hz);
		if (due <= g->seq)
			return 0;
		if (due - g->seq < want)
			want = due - g->seq;
	}
	if (rte_pktmbuf_alloc_bulk(g->pool, ev, (unsigned)want) != 0) {
		g->n_nombuf++;
		return 0;
	}
	for (uint64_t i = 0; i < want; i++) {
		struct rte_mbuf *m = ev[i];
		struct sl_meta *meta = sl_event_meta(g->meta_offset, m);
		size_t len =
			sl_gen_nginx_line(&g->rng, g->seq, rte_pktmbuf_mtod(m, char *), g->room);

		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		meta->event_id = g->seq++;
		meta->ingest_tsc = tsc;
		meta->source = g->node_id;
		meta->kind = SL_EVENT_LINE;
		meta->flags = 0;
		meta->raw_len = (uint16_t)len;
		meta->rec_off = 0;
		g->n_bytes += len;
	}
	*done = g->count && g->seq >= g->count;
	return (uint16_t)want;
}

static void gen_stop(void *self)
{
	struct gen_source *g = self;

	/* Relaxed: the worker only needs to see it eventually; no data is published. */
	__atomic_store_n(&g->stopped, true, __ATOMIC_RELAXED);
}

static void gen_summary_line(void *self, char *buf, size_t len)
{
	struct gen_source *g = self;

	snprintf(buf, len, "lines=%" PRIu64 " bytes=%" PRIu64 " nombuf=%" PRIu64, g->seq,
		 g->n_bytes, g->n_nombuf);
}

static void gen_destroy(void *self)
{
	free(self);
}

static int gen_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *count = sl_args_get(args, "count");
	const struct sl_arg *rate = sl_args_get(args, "rate");
	const struct sl_arg *emit = sl_args_get(args, "emit");

	/* emit: packets makes the node a pktgen source when the file is loaded (config.c),
	 * so only lines reach this source. */
	if (emit && emit->str && strcmp(emit->str, "lines") != 0) {
		err->key = "emit";
		snprintf(err->msg, sizeof(err->msg), "emit must be lines or packets, not '%s'",
			 emit->str);
		return -EINVAL;
	}
	if (count && count->i < 0) {
		err->key = "count";
		snprintf(err->msg, sizeof(err->msg), "count must be >= 0, not %" PRId64, count->i);
		return -EINVAL;
	}
	if (rate && rate->i < 0) {
		err->key = "rate";
		snprintf(err->msg, sizeof(err->msg), "rate must be >= 0, not %" PRId64, rate->i);
		return -EINVAL;
	}
	return 0;
}

static int gen_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		      struct sl_error *err)
{
	const struct sl_arg *count = sl_args_get(args, "count");
	const struct sl_arg *rate = sl_args_get(args, "rate");
	const struct sl_arg *seed = sl_args_get(args, "seed");
	/* Generated lines are short: they go in events as they come, never enlarged. */
	uint32_t room = sl_event_line_max_small(env->pool);
	struct gen_source *g;

	*self = NULL;
	if (gen_check(args, err) < 0)
		return -EINVAL;
	if (room < SL_GEN_NGINX_LINE_MAX) {
		snprintf(err->msg, sizeof(err->msg),
			 "events hold lines of %u bytes; the generator needs %u", room,
			 (unsigned)SL_GEN_NGINX_LINE_MAX);
		return -EINVAL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->pool = env->pool;
	g->meta_offset = env->meta_offset;
	g->node_id = env->node_id;
	g->room = room;
	g->count = count ? (uint64_t)count->i : 100000;
	g->rate = rate ? (uint64_t)rate->i : 0;
	g->tsc_hz = env->tsc_hz ? env->tsc_hz : rte_get_tsc_hz();
	g->rng = sl_gen_nginx_seed(seed ? (uint64_t)seed->i : 1);
	if (env->n_replicas > 1) {
		/* Replica k makes its share of count and rate from its own stream. */
		uint16_t k = env->replica, n = env->n_replicas;

		bool bounded = g->count != 0;

		g->count = g->count / n + (k < g->count % n);
		/* A share of nothing is done at once (count 0 would mean unbounded). */
		if (bounded && g->count == 0)
			g->stopped = true;
		g->rate = g->rate ? (g->rate / n ? g->rate / n : 1) : 0;
		g->rng = sl_gen_nginx_seed((seed ? (uint64_t)seed->i : 1) +
					   k * 0x9e3779b97f4a7c15ull);
	}
	*self = g;
	return 0;
}

const struct sl_source_ops sl_source_gen = {
	.type = "gen",
	.summary = "generate synthetic nginx access log lines (seeded, optionally rate-limited)",
	.flags = SL_SOURCE_F_REPLICAS,
	.params = gen_params,
	.create = gen_create,
	.check = gen_check,
	.poll = gen_poll,
	.stop = gen_stop,
	.summary_line = gen_summary_line,
	.destroy = gen_destroy,
};
