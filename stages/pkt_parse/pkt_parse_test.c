/*
 * Unit test of pkt_parse: the parser (pkt.h) on hand-built frames whose fields are known
 * (Ethernet, VLAN, QinQ, IPv4 with options, fragments, IPv6 with extension headers,
 * UDP/TCP/ICMP, ARP), one frame per malformation with the reason it must get, then the
 * sweep the issue asks for: every length 0..9000 of random bytes, of a valid frame cut
 * short, and of valid headers with random bytes in their length fields, each parsed from
 * a heap buffer of exactly that length (ASan sees any read past it) and run through the
 * stage's process() on real mbufs: conservation exact per burst, counters adding up, and
 * a canary frame parsed correctly afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "eal.h"
#include "event/event.h"
#include "pkt.h"

#define ROOM 9216

static struct rte_mempool *pool;
static int meta_off;
static const struct sl_stage_desc *desc;

/* ---- frame builder ---- */

struct frame {
	uint8_t b[9100];
	uint32_t n;
};

static void put(struct frame *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(f, b, 2);
}

static void eth(struct frame *f, const uint16_t *tags, int n_tags, uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	f->n = 0;
	put(f, macs, 12);
	for (int i = 0; i < n_tags; i++) {
		put16(f, i == 0 && n_tags == 2 ? 0x88a8 : 0x8100);
		put16(f, tags[i]);
	}
	put16(f, type);
}

/* IPv4 header with opt_len bytes of options (NOPs); total = header + l4 bytes. */
static void ipv4(struct frame *f, uint8_t proto, uint32_t opt_len, uint32_t l4_bytes, uint16_t frag)
{
	uint8_t h[20] = { (uint8_t)(0x40 | (20 + opt_len) / 4), 0 };
	uint32_t total = 20 + opt_len + l4_bytes;

	h[2] = (uint8_t)(total >> 8);
	h[3] = (uint8_t)total;
	h[6] = (uint8_t)(frag >> 8);
	h[7] = (uint8_t)frag;
	h[8] = 64;
	h[9] = proto;
	memcpy(h + 12, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(h + 16, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	put(f, h, 20);
	for (uint32_t i = 0; i < opt_len; i++)
		put(f, (uint8_t[]){ 1 }, 1);
}

static void ipv6(struct frame *f, uint8_t nh, uint32_t payload)
{
	uint8_t h[40] = { 0x60 };

	h[4] = (uint8_t)(payload >> 8);
	h[5] = (uint8_t)payload;
	h[6] = nh;
	h[7] = 64;
	h[8] = 0xfd;
	h[23] = 1;
	h[24] = 0xfd;
	h[39] = 2;
	put(f, h, 40);
}

static void udp(struct frame *f, uint16_t sp, uint16_t dp, const char *payload)
{
	uint32_t n = (uint32_t)strlen(payload);

	put16(f, sp);
	put16(f, dp);
	put16(f, (uint16_t)(8 + n));
	put16(f, 0);
	put(f, payload, n);
}

static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint32_t opt_len)
{
	uint8_t h[20] = { 0 };

	h[0] = (uint8_t)(sp >> 8);
	h[1] = (uint8_t)sp;
	h[2] = (uint8_t)(dp >> 8);
	h[3] = (uint8_t)dp;
	h[12] = (uint8_t)(((20 + opt_len) / 4) << 4);
	put(f, h, 20);
	for (uint32_t i = 0; i < opt_len; i++)
		put(f, (uint8_t[]){ 1 }, 1);
}

/* ---- helpers ---- */

/* Frames the fast path (sl_pkt_parse_fast) decided, in parse_exact. */
static uint64_t n_fast;

static enum sl_pkt_err parse_exact(const uint8_t *p, uint32_t n, struct sl_pkt_info *pi)
{
	/* A heap copy of exactly n bytes, so ASan reports any read past the frame. */
	uint8_t *copy = malloc(n ? n : 1);
	enum sl_pkt_err rc;
	uint64_t txo;
	uint32_t ptype;
	bool ip;

	assert_non_null(copy);
	memcpy(copy, p, n);
	rc = sl_pkt_parse(copy, n, pi);
	/* The fast path takes only well-formed frames, and finds what the full parse does. */
	if (sl_pkt_parse_fast(copy, n, &ptype, &txo, &ip)) {
		n_fast++;
		assert_int_equal(rc, SL_PKT_OK);
		assert_int_equal(ptype, pi->ptype);
		assert_int_equal(
			txo, rte_mbuf_tx_offload(pi->l2_len, pi->l3_len, pi->l4_len, 0, 0, 0, 0));
		assert_int_equal(ip, (pi->ptype & RTE_PTYPE_L3_MASK) != 0);
	}
	free(copy);
	return rc;
}

static struct rte_mbuf *packet(const uint8_t *p, uint32_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct sl_meta *meta;

	assert_non_null(m);
	assert_true(n <= rte_pktmbuf_tailroom(m));
	memcpy(rte_pktmbuf_mtod(m, void *), p, n);
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	meta = sl_event_meta(meta_off, m);
	memset(meta, 0, sizeof(*meta));
	meta->kind = SL_EVENT_PACKET;
	meta->raw_len = (uint16_t)n;
	return m;
}

static struct sl_emit out;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx_host host_priv;

/* One call; facts: the burst's (stage.h), which the caller's events must satisfy. */
static void run_with(struct rte_mbuf **evs, uint16_t n, uint16_t facts)
{
	struct sl_ctx ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "parse");
	struct sl_burst in = { evs, n, facts };

	memset(out.n, 0, sizeof(out.n));
	memset(out.facts, 0, sizeof(out.facts));
	out.n_drop = 0;
	out.n_ports = 2;
	desc->process(NULL, &ctx, &in, &out);
}

static void run(struct rte_mbuf **evs, uint16_t n)
{
	run_with(evs, n, 0);
}

/* The default output's events are what its facts say: unshared packets that carry a parse
 * result of their bytes, within their length (stage.h, SL_FACT_PARSED). */
static void check_out_facts(void)
{
	assert_int_equal(out.facts[0], SL_FACT_PACKETS | SL_FACT_UNSHARED | SL_FACT_PARSED);
	for (uint16_t i = 0; i < out.n[0]; i++) {
		const struct rte_mbuf *m = out.port[0][i];

		assert_int_equal(sl_event_meta(meta_off, (struct rte_mbuf *)(uintptr_t)m)->kind,
				 SL_EVENT_PACKET);
		assert_int_equal(rte_mbuf_refcnt_read(m), 1);
		assert_true(sl_pkt_parsed(m));
		assert_true(m->l2_len >= 14);
		assert_true((uint32_t)m->l2_len + m->l3_len + m->l4_len <= m->data_len);
	}
}

static void free_out(void)
{
	for (int p = 0; p < 2; p++)
		rte_pktmbuf_free_bulk(out.port[p], out.n[p]);
	rte_pktmbuf_free_bulk(out.drop, out.n_drop);
}

static int setup(void **unused)
{
	sl_test_eal_init();
	pool = sl_test_pool(512, ROOM, &meta_off);
	desc = sl_test_builtin("pkt_parse");
	return pool ? 0 : -1;
}

/* ---- tests ---- */

static void test_valid_frames(void **unused)
{
	static struct frame f;
	struct sl_pkt_info pi;
	uint16_t tags[2] = { 100, 200 };

	/* UDP/IPv4, padded to 60 bytes as on the wire. */
	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 17, 0, 8 + 5, 0);
	udp(&f, 40000, 514, "hello");
	while (f.n < 60)
		put(&f, (uint8_t[]){ 0 }, 1);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP);
	assert_int_equal(pi.l2_len, 14);
	assert_int_equal(pi.l3_len, 20);
	assert_int_equal(pi.l4_len, 8);
	assert_int_equal(pi.l3_end, 14 + 20 + 13);
	assert_int_equal(pi.proto, 17);

	/* TCP with options over IPv4 with options, one VLAN tag. */
	eth(&f, tags, 1, 0x0800);
	ipv4(&f, 6, 8, 32, 0);
	tcp(&f, 443, 51000, 12);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(pi.ptype,
			 RTE_PTYPE_L2_ETHER_VLAN | RTE_PTYPE_L3_IPV4_EXT | RTE_PTYPE_L4_TCP);
	assert_int_equal(pi.l2_len, 18);
	assert_int_equal(pi.l3_len, 28);
	assert_int_equal(pi.l4_len, 32);
	assert_int_equal(pi.vlan, 100);

	/* TCP with options over IPv4 without (the fast path), untagged. */
	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 6, 0, 24, 0);
	tcp(&f, 443, 51000, 4);
	n_fast = 0;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(n_fast, 1);
	assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP);
	assert_int_equal(pi.l3_len, 20);
	assert_int_equal(pi.l4_len, 24);

	/* QinQ, ICMP. */
	eth(&f, tags, 2, 0x0800);
	ipv4(&f, 1, 0, 8, 0);
	put(&f, (uint8_t[8]){ 8, 0 }, 8);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER_QINQ | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_ICMP);
	assert_int_equal(pi.l2_len, 22);
	assert_int_equal(pi.n_vlan, 2);
	assert_int_equal(pi.vlan, 100);

	/* IPv4 fragment (offset 185 * 8): no L4 header read. */
	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 17, 0, 4, 185);
	put(&f, "abcd", 4);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_true(pi.fragment);
	assert_int_equal(pi.ptype & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_FRAG);
	assert_int_equal(pi.l4_len, 0);

	/* IPv6: hop-by-hop (8) + destination options (16) + TCP. */
	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 0, 8 + 16 + 20);
	put(&f, (uint8_t[8]){ 60, 0 }, 8);
	put(&f, (uint8_t[16]){ 6, 1 }, 16);
	tcp(&f, 22, 60000, 0);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6_EXT | RTE_PTYPE_L4_TCP);
	assert_int_equal(pi.l3_len, 64);
	assert_int_equal(pi.proto, 6);

	/* IPv6 UDP and an IPv6 fragment. */
	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 17, 8 + 2);
	udp(&f, 5353, 5353, "hi");
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_UDP);
	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 44, 8 + 8);
	put(&f, (uint8_t[8]){ 17, 0, 0, 1 }, 8); /* M flag, offset 0 */
	put(&f, "12345678", 8);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_true(pi.fragment);
	assert_int_equal(pi.proto, 17);

	/* ARP: Ethernet only. */
	eth(&f, NULL, 0, 0x0806);
	put(&f, (uint8_t[28]){ 0 }, 28);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_OK);
	assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER);
	assert_int_equal(pi.proto, 0);
}

static void test_malformed_frames(void **unused)
{
	static struct frame f;
	struct sl_pkt_info pi;
	uint16_t tags[3] = { 1, 2, 3 };

	assert_int_equal(parse_exact(f.b, 0, &pi), SL_PKT_ERR_RUNT);
	eth(&f, NULL, 0, 0x0800);
	assert_int_equal(parse_exact(f.b, 13, &pi), SL_PKT_ERR_RUNT);
	eth(&f, tags, 1, 0x0800);
	assert_int_equal(parse_exact(f.b, 16, &pi), SL_PKT_ERR_VLAN_TRUNCATED);
	/* three tags */
	f.n = 12;
	for (int i = 0; i < 3; i++) {
		put16(&f, 0x8100);
		put16(&f, tags[i]);
	}
	put16(&f, 0x0800);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_VLAN_DEPTH);
	/* IPv4: short, wrong version, IHL 4, IHL 15 past the end, total length lies */
	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 17, 0, 8, 0);
	udp(&f, 1, 2, "");
	assert_int_equal(parse_exact(f.b, 14 + 19, &pi), SL_PKT_ERR_IP_TRUNCATED);
	f.b[14] = 0x65;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IP_VERSION);
	f.b[14] = 0x44;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV4_IHL);
	f.b[14] = 0x4f;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV4_IHL);
	f.b[14] = 0x45;
	f.b[17] = 200; /* total length 200 > 28 bytes present */
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV4_TOTAL_LEN);
	f.b[17] = 10; /* < IHL */
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV4_TOTAL_LEN);
	f.b[17] = 20 + 8;
	f.b[14 + 20 + 5] = 9; /* UDP length 9 > 8 */
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_UDP_LEN);
	f.b[14 + 20 + 5] = 7;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_UDP_LEN);
	f.b[17] = 20 + 4; /* IP says 4 bytes of UDP */
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_L4_TRUNCATED);
	/* TCP data offset 4 and 15 (past the payload) */
	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 6, 0, 20, 0);
	tcp(&f, 1, 2, 0);
	f.b[14 + 20 + 12] = 0x40;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_TCP_OFFSET);
	f.b[14 + 20 + 12] = 0xf0;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_TCP_OFFSET);
	/* IPv6: short, payload length lies, extension header past the payload, too many */
	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 0, 8);
	put(&f, (uint8_t[8]){ 59, 4 }, 8); /* hop-by-hop claiming 40 bytes */
	assert_int_equal(parse_exact(f.b, 14 + 39, &pi), SL_PKT_ERR_IP_TRUNCATED);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV6_EXT_TRUNCATED);
	f.b[14 + 5] = 200;
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV6_PAYLOAD_LEN);
	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 60, 9 * 8);
	for (int i = 0; i < 9; i++)
		put(&f, (uint8_t[8]){ 60, 0 }, 8);
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV6_EXT_LIMIT);
	/* IPv6 extension headers over 511 bytes: two 256-byte destination options */
	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 60, 512 + 8);
	put(&f, (uint8_t[256]){ 60, 31 }, 256);
	put(&f, (uint8_t[256]){ 17, 31 }, 256);
	udp(&f, 1, 2, "");
	assert_int_equal(parse_exact(f.b, f.n, &pi), SL_PKT_ERR_IPV6_EXT_LIMIT);
}

static uint64_t rng_state = 42;

static uint32_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}

/* Frames of every length 0..9000 in three families, through the parser and the stage. */
static void test_every_length(void **unused)
{
	static struct frame big, f;
	struct rte_mbuf *evs[SL_BURST_MAX];
	uint64_t n_total = 0, n_default = 0, n_errors = 0, sum;
	uint16_t n = 0;
	struct sl_pkt_info pi;

	/* A valid template as long as the sweep: IPv6 + ext header + UDP with a big payload. */
	eth(&big, NULL, 0, 0x86dd);
	ipv6(&big, 0, 8 + 8 + (9000 - 14 - 40 - 16));
	put(&big, (uint8_t[8]){ 17, 0 }, 8);
	put16(&big, 514);
	put16(&big, 514);
	put16(&big, (uint16_t)(8 + 9000 - 14 - 40 - 16));
	put16(&big, 0);
	while (big.n < 9000)
		put(&big, "x", 1);
	assert_int_equal(parse_exact(big.b, big.n, &pi), SL_PKT_OK);
	memset(counters, 0, sizeof(counters));
	n_fast = 0;
	for (uint32_t len = 0; len <= 9000; len++) {
		for (int fam = 0; fam < 3; fam++) {
			if (fam == 0) { /* random bytes */
				for (uint32_t i = 0; i < len; i++)
					f.b[i] = (uint8_t)rnd();
			} else if (fam == 1) { /* a valid frame cut short */
				memcpy(f.b, big.b, len);
			} else { /* valid headers, random length fields */
				uint16_t tags[2] = { 7, 8 };
				uint32_t r = rnd();

				eth(&f, tags, (int)(r % 3), r & 8 ? 0x86dd : 0x0800);
				if (r & 8) {
					ipv6(&f,
					     (uint8_t[]){ 0, 43, 44, 60, 51, 17, 6,
							  58 }[r >> 4 & 7],
					     rnd() & 0xffff);
				} else {
					ipv4(&f, (uint8_t[]){ 17, 6, 1, 47 }[r >> 4 & 3], 0, 0,
					     (uint16_t)(r >> 8 & 1 ? rnd() : 0));
					f.b[f.n - 20] = (uint8_t)(0x40 | (rnd() & 0xf));
					f.b[f.n - 18] = (uint8_t)rnd();
					f.b[f.n - 17] = (uint8_t)rnd();
				}
				while (f.n < len)
					f.b[f.n++] = (uint8_t)rnd();
			}
			(void)parse_exact(f.b, len, &pi);
			evs[n++] = packet(f.b, len);
			if (n == SL_BURST_MAX) {
				/* Every other burst with the facts a dpdk source gives (fresh,
				 * unshared packets): the same results without their tests. */
				run_with(evs, n,
					 n_total / n % 2 ? SL_FACT_PACKETS | SL_FACT_UNSHARED : 0);
				check_out_facts();
				/* Conservation: every event leaves exactly once. */
				assert_int_equal(out.n[0] + out.n[1] + out.n_drop, n);
				assert_int_equal(out.n_drop, 0);
				n_default += out.n[0];
				n_errors += out.n[1];
				n_total += n;
				free_out();
				n = 0;
			}
		}
	}
	if (n) {
		run(evs, n);
		assert_int_equal(out.n[0] + out.n[1] + out.n_drop, n);
		n_default += out.n[0];
		n_errors += out.n[1];
		n_total += n;
		free_out();
	}
	assert_int_equal(n_total, 3 * 9001);
	/* The sweep reached the fast path (random bytes: non-IP EtherTypes; IPv4 headers
	 * with IHL 5 and lengths that hold). */
	assert_true(n_fast > 1000);
	assert_int_equal(counters[0], n_default);
	sum = 0;
	for (int i = 1; i < SL_PKT_ERR_MAX; i++)
		sum += counters[i];
	assert_int_equal(sum, n_errors);
	/* Every mbuf went back. */
	assert_int_equal(rte_mempool_avail_count(pool), 512);
}

/* After all that, a good syslog frame still parses, and the stage stores the result. */
/* Every EtherType of a 60-byte frame (the rest random, lengths 14 and 60): what sl_pkt_plain
 * takes is what the full parser calls Ethernet only, 14 bytes of L2, and sl_pkt_parse_fast
 * agrees; it takes neither IPv4, IPv6 nor a VLAN tag, and all 0x8000 types below them. */
static void test_plain_types(void **unused)
{
	uint8_t f[60];
	unsigned n_plain = 0;

	srand(7);
	for (uint32_t type = 0; type <= 0xffff; type++) {
		for (uint32_t len = 14; len <= 60; len += 46) {
			struct sl_pkt_info pi;
			uint64_t txo;
			uint32_t ptype;
			bool ip;

			for (size_t i = 0; i < sizeof(f); i++)
				f[i] = (uint8_t)rand();
			f[12] = (uint8_t)(type >> 8);
			f[13] = (uint8_t)type;
			/* The stage's test on the bytes as they lie says the same. */
			assert_int_equal(sl_pkt_plain_type_at(f + 12),
					 sl_pkt_plain_type((uint16_t)type));
			if (!sl_pkt_plain(f, len))
				continue;
			n_plain++;
			assert_int_equal(sl_pkt_parse(f, len, &pi), SL_PKT_OK);
			assert_int_equal(pi.ptype, RTE_PTYPE_L2_ETHER);
			assert_int_equal(pi.l2_len, 14);
			assert_int_equal(pi.l3_len + pi.l4_len, 0);
			assert_true(sl_pkt_parse_fast(f, len, &ptype, &txo, &ip));
			assert_int_equal(ptype, pi.ptype);
			assert_true(txo == rte_mbuf_tx_offload(14, 0, 0, 0, 0, 0, 0) && !ip);
		}
	}
	/* 0x0000..0x7fff but IPv4, at both lengths; nothing shorter than 14 bytes. */
	assert_int_equal(n_plain, 2 * (0x8000 - 1));
	memset(f, 0, sizeof(f));
	assert_false(sl_pkt_plain(f, 13));
}

static void test_canary(void **unused)
{
	static struct frame f;
	struct rte_mbuf *m;
	struct sl_pkt_view v;

	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 17, 0, 8 + 12, 0);
	udp(&f, 33333, 514, "<13>canary\n");
	put(&f, "\0", 1);
	f.b[14 + 3] = 20 + 8 + 11;
	f.b[14 + 20 + 5] = 8 + 11;
	m = packet(f.b, f.n);
	memset(counters, 0, sizeof(counters));
	run(&m, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_equal(out.port[0][0], m);
	assert_int_equal(counters[0], 1);
	assert_int_equal(m->l2_len, 14);
	assert_int_equal(m->l3_len, 20);
	assert_int_equal(m->l4_len, 8);
	assert_true(sl_pkt_view(m, &v));
	assert_int_equal(v.ip_ver, 4);
	assert_int_equal(v.proto, 17);
	assert_true(v.has_ports);
	assert_int_equal(v.src_port, 33333);
	assert_int_equal(v.dst_port, 514);
	assert_int_equal(v.l3_end, 14 + 20 + 8 + 11);
	free_out();
}

/* Non-packet events are dropped as invalid; shared events are copied before writing. */
static void test_kinds_and_sharing(void **unused)
{
	static struct frame f;
	struct rte_mbuf *m[2];

	eth(&f, NULL, 0, 0x0806);
	put(&f, (uint8_t[28]){ 0 }, 28);
	m[0] = packet(f.b, f.n);
	sl_event_meta(meta_off, m[0])->kind = SL_EVENT_LINE;
	m[1] = packet(f.b, f.n);
	rte_mbuf_refcnt_update(m[1], 1);
	run(m, 2);
	assert_int_equal(out.n_drop, 1);
	assert_int_equal(out.drop_reason[0], SL_DROP_INVALID);
	assert_int_equal(out.n[0], 1);
	assert_ptr_not_equal(out.port[0][0], m[1]);
	assert_int_equal(m[1]->packet_type, 0); /* the shared original is untouched */
	assert_int_equal(out.port[0][0]->packet_type, RTE_PTYPE_L2_ETHER);
	free_out();
	rte_pktmbuf_free(m[1]);
	assert_int_equal(rte_mempool_avail_count(pool), 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_frames),	  cmocka_unit_test(test_malformed_frames),
		cmocka_unit_test(test_every_length),	  cmocka_unit_test(test_canary),
		cmocka_unit_test(test_kinds_and_sharing), cmocka_unit_test(test_plain_types),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
