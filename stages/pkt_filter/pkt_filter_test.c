/*
 * Unit test of pkt_filter's language (pkt_expr.h): compile errors with their offsets, and
 * evaluation on views of hand-built packets (IPv4 UDP to 514 on VLAN 5, IPv6 TCP, an IPv4
 * fragment, ARP) for every word and field, with prefixes, either-side fields and
 * the rule that a missing field compares false; then the stage on real mbufs: matches
 * emitted, the rest and unparsed packets dropped as filtered.
 */
#include <errno.h>
#include <inttypes.h>
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
#include "pkt_expr.h"

static struct rte_mempool *pool;
static int meta_off;

/* Frames: 0 IPv4/UDP 10.0.0.1:40000 -> 10.0.0.2:514 on VLAN 5; 1 IPv6/TCP fd00::1:22 ->
 * fd00::2:60000; 2 IPv4 fragment, proto 17; 3 ARP. */
static uint32_t frame(int which, uint8_t *b)
{
	static const uint8_t udp4[] = { 2,
					0,
					0,
					0,
					0,
					1,
					2,
					0,
					0,
					0,
					0,
					2,
					0x81,
					0,
					0,
					5,
					8,
					0,
					/* IPv4 */ 0x45,
					0,
					0,
					32,
					0,
					0,
					0,
					0,
					64,
					17,
					0,
					0,
					10,
					0,
					0,
					1,
					10,
					0,
					0,
					2,
					/* UDP */ 0x9c,
					0x40,
					2,
					2,
					0,
					12,
					0,
					0,
					'a',
					'b',
					'c',
					'd' };
	static const uint8_t tcp6[] = { 2,
					0,
					0,
					0,
					0,
					1,
					2,
					0,
					0,
					0,
					0,
					2,
					0x86,
					0xdd,
					/* IPv6 */ 0x60,
					0,
					0,
					0,
					0,
					20,
					6,
					64,
					0xfd,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					1,
					0xfd,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					2,
					/* TCP */ 0,
					22,
					0xea,
					0x60,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0x50,
					0,
					0,
					0,
					0,
					0,
					0,
					0 };
	static const uint8_t frag4[] = { 2,
					 0,
					 0,
					 0,
					 0,
					 1,
					 2,
					 0,
					 0,
					 0,
					 0,
					 2,
					 8,
					 0,
					 /* IPv4, offset 8 */ 0x45,
					 0,
					 0,
					 28,
					 0,
					 0,
					 0,
					 1,
					 64,
					 17,
					 0,
					 0,
					 192,
					 168,
					 1,
					 1,
					 10,
					 0,
					 0,
					 2,
					 1,
					 2,
					 3,
					 4,
					 5,
					 6,
					 7,
					 8 };
	static const uint8_t arp[42] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 6 };
	const uint8_t *const f[] = { udp4, tcp6, frag4, arp };
	const uint32_t n[] = { sizeof(udp4), sizeof(tcp6), sizeof(frag4), sizeof(arp) };

	memcpy(b, f[which], n[which]);
	return n[which];
}

static struct rte_mbuf *packet(int which, bool parse)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct sl_pkt_info pi;
	uint32_t n;

	assert_non_null(m);
	n = frame(which, rte_pktmbuf_mtod(m, uint8_t *));
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	memset(sl_event_meta(meta_off, m), 0, sizeof(struct sl_meta));
	sl_event_meta(meta_off, m)->kind = SL_EVENT_PACKET;
	if (parse) {
		assert_int_equal(sl_pkt_parse(rte_pktmbuf_mtod(m, uint8_t *), n, &pi), SL_PKT_OK);
		sl_pkt_store(m, &pi);
	}
	return m;
}

/* Which of the four frames src matches, as a bit mask. */
static unsigned matches(const char *src)
{
	struct sl_pkt_expr *e;
	char msg[200];
	uint32_t off;
	unsigned mask = 0;

	if (sl_pkt_expr_compile(src, &e, &off, msg, sizeof(msg)) != 0)
		fail_msg("'%s' does not compile: %s at %u", src, msg, off);
	for (int i = 0; i < 4; i++) {
		struct rte_mbuf *m = packet(i, true);
		struct sl_pkt_view v;

		assert_true(sl_pkt_view(m, &v));
		if (sl_pkt_expr_eval(e, &v, m->pkt_len))
			mask |= 1u << i;
		rte_pktmbuf_free(m);
	}
	sl_pkt_expr_destroy(e);
	return mask;
}

static void test_eval(void **unused)
{
	assert_int_equal(matches("udp and dst_port == 514"), 0x1);
	assert_int_equal(matches("udp"), 0x1); /* the fragment has no UDP header */
	assert_int_equal(matches("tcp or udp"), 0x3);
	assert_int_equal(matches("ip"), 0x7);
	assert_int_equal(matches("ipv4"), 0x5);
	assert_int_equal(matches("ipv6 and tcp and src_port == 22 and dst_port > 59999"), 0x2);
	assert_int_equal(matches("not ip"), 0x8);
	assert_int_equal(matches("fragment"), 0x4);
	assert_int_equal(matches("proto == 17"), 0x5);
	assert_int_equal(matches("vlan"), 0x1);
	assert_int_equal(matches("vlan == 5"), 0x1);
	assert_int_equal(matches("vlan != 5"), 0x0);
	assert_int_equal(matches("port == 40000"), 0x1);
	assert_int_equal(matches("port != 514"), 0x2);
	assert_int_equal(matches("port != 9"), 0x3);
	assert_int_equal(matches("src_ip == 10.0.0.1"), 0x1);
	assert_int_equal(matches("dst_ip == 10.0.0.0/8"), 0x5);
	assert_int_equal(matches("addr == 192.168.0.0/16"), 0x4);
	assert_int_equal(matches("addr != 192.168.0.0/16"), 0x3);
	assert_int_equal(matches("src_ip == fd00::/8"), 0x2);
	assert_int_equal(matches("dst_ip == fd00::2"), 0x2);
	assert_int_equal(matches("len >= 60"), 0x2);
	assert_int_equal(matches("(udp or tcp) and not (port == 22)"), 0x1);
	assert_int_equal(matches("not not udp"), 0x1);
	assert_int_equal(matches("icmp"), 0x0);
}

/* A random expression over atoms whose masks are known; *mask gets the frames it should
 * match, from bit operations (and = &, or = |, not = complement). */
static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 16) % n;
}

static void __attribute__((format(printf, 3, 4))) put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

static void random_expr(char *buf, size_t len, int depth, unsigned *mask)
{
	static const struct {
		const char *src;
		unsigned mask;
	} atoms[] = {
		{ "udp", 0x1 },		{ "tcp", 0x2 },	 { "fragment", 0x4 },
		{ "ip", 0x7 },		{ "ipv6", 0x2 }, { "port == 40000", 0x1 },
		{ "len >= 60", 0x2 },	{ "vlan", 0x1 }, { "addr == 192.168.0.0/16", 0x4 },
		{ "proto == 17", 0x5 },
	};
	char a[512], b[512];
	unsigned ma, mb;
	uint32_t k = depth > 0 ? rnd(5) : 0;

	if (k == 0) {
		uint32_t i = rnd(sizeof(atoms) / sizeof(atoms[0]));

		put(buf, len, "%s", atoms[i].src);
		*mask = atoms[i].mask;
	} else if (k == 1) {
		random_expr(a, sizeof(a), depth - 1, &ma);
		put(buf, len, "not (%s)", a);
		*mask = ~ma & 0xf;
	} else {
		random_expr(a, sizeof(a), depth - 1, &ma);
		random_expr(b, sizeof(b), depth - 1, &mb);
		/* Unparenthesised chains too: and binds tighter than or. */
		if (k == 2) {
			put(buf, len, "(%s) and (%s)", a, b);
			*mask = ma & mb;
		} else if (k == 3) {
			put(buf, len, "(%s) or (%s)", a, b);
			*mask = ma | mb;
		} else {
			uint32_t i = rnd(sizeof(atoms) / sizeof(atoms[0]));

			put(buf, len, "(%s) or %s and (%s)", a, atoms[i].src, b);
			*mask = ma | (atoms[i].mask & mb);
		}
	}
}

/* Evaluation follows the links compile makes (branch program) exactly as the grammar
 * says, on 400 random expressions. */
static void test_eval_random(void **unused)
{
	for (int i = 0; i < 400; i++) {
		char src[512];
		unsigned want;

		random_expr(src, sizeof(src), 3, &want);
		if (matches(src) != want)
			fail_msg("'%s' matches 0x%x, expected 0x%x", src, matches(src), want);
	}
}

/* A random frame for the compiled form's check: IPv4 or IPv6 (with extension headers),
 * UDP, TCP, ICMP, fragments, ARP, zero to two VLAN tags, addresses and ports from small
 * sets so that literals match; parsed by pkt.h, or (one in eight) with a random parse
 * result that need not fit the frame. Returns the frame's length. */
static uint32_t random_frame(uint8_t *b, struct rte_mbuf *m)
{
	static const uint16_t ports[] = { 22, 53, 514, 40000, 9, 0, 65535 };
	static const uint8_t protos[] = { 17, 6, 1, 58, 47 };
	uint32_t off = 12, l3, n_vlan = rnd(3), v6 = rnd(3) == 0, len;
	uint8_t proto = protos[rnd(5)];
	struct sl_pkt_info pi;

	memset(b, 0, 256);
	for (uint32_t i = 0; i < n_vlan; i++) {
		b[off] = 0x81;
		b[off + 3] = (uint8_t)(rnd(3) + 4); /* VLAN 4..6 */
		off += 4;
	}
	if (rnd(10) == 0) { /* ARP */
		b[off] = 8;
		b[off + 1] = 6;
		len = off + 2 + 28;
		goto done;
	}
	b[off] = v6 ? 0x86 : 0x08;
	b[off + 1] = v6 ? 0xdd : 0x00;
	off += 2;
	l3 = off;
	if (!v6) {
		b[l3] = 0x45;
		b[l3 + 9] = proto;
		b[l3 + 12] = rnd(2) ? 10 : 192;
		b[l3 + 13] = rnd(2) ? 0 : 168;
		b[l3 + 15] = (uint8_t)rnd(3);
		b[l3 + 16] = rnd(2) ? 10 : 192;
		b[l3 + 17] = rnd(2) ? 0 : 168;
		b[l3 + 19] = (uint8_t)rnd(3);
		if (rnd(6) == 0)
			b[l3 + 6] = 0x20; /* MF */
		off += 20;
	} else {
		b[l3] = 0x60;
		b[l3 + 6] = proto;
		b[l3 + 8] = rnd(2) ? 0xfd : 0x20;
		b[l3 + 23] = (uint8_t)rnd(3);
		b[l3 + 24] = rnd(2) ? 0xfd : 0x20;
		b[l3 + 39] = (uint8_t)rnd(3);
		off += 40;
		if (rnd(3) == 0) { /* a hop-by-hop header, or a fragment header */
			bool frag = rnd(2);

			b[l3 + 6] = frag ? 44 : 0;
			b[off] = proto;
			if (frag && rnd(2))
				b[off + 3] = 1; /* M */
			off += 8;
		}
	}
	b[off] = (uint8_t)(ports[rnd(7)] >> 8);
	b[off + 1] = (uint8_t)ports[rnd(7)];
	b[off + 2] = (uint8_t)(ports[rnd(7)] >> 8);
	b[off + 3] = (uint8_t)ports[rnd(7)];
	b[off + 4] = 0;
	b[off + 5] = 8;	    /* UDP length */
	b[off + 12] = 0x50; /* TCP data offset */
	len = off + 20 + rnd(8);
	if (!v6) {
		b[l3 + 3] = (uint8_t)(len - l3);
	} else {
		b[l3 + 5] = (uint8_t)(len - l3 - 40);
	}
done:
	if (rnd(16) == 0)
		len = rnd(len + 1); /* cut short: malformed, or shorter fields */
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->packet_type = 0;
	m->tx_offload = 0;
	if (rnd(8) == 0) {
		static const uint32_t pts[] = {
			RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP,
			RTE_PTYPE_L2_ETHER_VLAN | RTE_PTYPE_L3_IPV6_EXT | RTE_PTYPE_L4_TCP,
			RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_FRAG,
			RTE_PTYPE_L2_ETHER_QINQ,
			RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP,
			RTE_PTYPE_L2_ETHER, /* no IP: pkt_filter's shortcut, with any l2_len */
		};

		m->packet_type = pts[rnd(6)];
		m->l2_len = rnd(40);
		m->l3_len = rnd(90);
	} else if (sl_pkt_parse(b, len, &pi) == SL_PKT_OK) {
		sl_pkt_store(m, &pi);
	}
	return len;
}

static void random_atom(char *buf, size_t len)
{
	static const char *const words[] = { "ip",  "ipv4", "ipv6",	"udp",
					     "tcp", "icmp", "fragment", "vlan" };
	static const char *const ints[] = {
		"src_port", "dst_port", "port", "proto", "vlan", "len"
	};
	static const char *const addrs[] = { "src_ip", "dst_ip", "addr" };
	static const char *const ops[] = { "==", "!=", "==", "!=", "<", ">=" };
	static const char *const lits[] = { "10.0.0.1",	   "10.0.0.0/8",  "192.168.0.0/16",
					    "192.168.0.2", "0.0.0.0/0",	  "fd00::/8",
					    "fd00::1",	   "2000::2/127", "::/0",
					    "10.0.0.0/31" };
	static const uint32_t vals[] = { 22, 53, 514, 40000, 9, 0, 65535, 70000,
					 17, 6,	 1,   58,    4, 5, 60,	  74 };

	switch (rnd(3)) {
	case 0:
		put(buf, len, "%s", words[rnd(8)]);
		break;
	case 1:
		put(buf, len, "%s %s %u", ints[rnd(6)], ops[rnd(rnd(8) ? 4 : 6)], vals[rnd(16)]);
		break;
	default:
		put(buf, len, "%s %s %s", addrs[rnd(3)], ops[rnd(2)], lits[rnd(10)]);
		break;
	}
}

static void random_expr_any(char *buf, size_t len, int depth)
{
	char a[1024], b[1024];
	uint32_t k = depth > 0 ? rnd(4) : 0;

	if (k == 0) {
		random_atom(buf, len);
	} else if (k == 1) {
		random_expr_any(a, sizeof(a), depth - 1);
		put(buf, len, "not (%s)", a);
	} else {
		random_expr_any(a, sizeof(a), depth - 1);
		random_expr_any(b, sizeof(b), depth - 1);
		put(buf, len, "(%s) %s (%s)", a, k == 2 ? "and" : "or", b);
	}
}

/* The compiled form (sl_pkt_key + sl_pkt_kprog_eval) gives the verdict the expression
 * gives on sl_pkt_view, for 2000 random expressions on 100 random frames each, and the
 * shapes pkt_filter is used with compile to one test. */
static void test_kprog(void **unused)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	unsigned n_compiled = 0, n_general = 0, n_parsed = 0;
	static const struct {
		const char *src;
		uint16_t n_live;
	} shapes[] = {
		{ "udp and dst_port == 514", 1 },
		{ "not (udp and dst_port == 53)", 1 },
		{ "tcp and src_port == 22", 1 },
		{ "ipv4 and src_ip == 10.0.0.0/8", 2 },
	};

	assert_non_null(m);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct sl_pkt_expr *e;
		const struct sl_pkt_kprog *kp;
		char msg[200];
		uint32_t off, live = 0;

		assert_int_equal(sl_pkt_expr_compile(shapes[i].src, &e, &off, msg, sizeof(msg)), 0);
		kp = sl_pkt_expr_kprog(e);
		assert_non_null(kp);
		/* Tests reached from the start, following true exits and false exits. */
		for (uint32_t pc = kp->start; pc < kp->n; pc = kp->t[pc].next[1])
			live++;
		if (live != shapes[i].n_live)
			fail_msg("'%s': %u tests on the way to accept, expected %u", shapes[i].src,
				 live, shapes[i].n_live);
		sl_pkt_expr_destroy(e);
	}
	for (int i = 0; i < 2000; i++) {
		char src[4096], msg[200];
		struct sl_pkt_expr *e;
		const struct sl_pkt_kprog *kp;
		uint32_t off;

		random_expr_any(src, sizeof(src), 3);
		if (sl_pkt_expr_compile(src, &e, &off, msg, sizeof(msg)) != 0)
			fail_msg("'%s' does not compile: %s at %u", src, msg, off);
		kp = sl_pkt_expr_kprog(e);
		if (!kp) {
			n_general++;
			sl_pkt_expr_destroy(e);
			continue;
		}
		n_compiled++;
		for (int f = 0; f < 100; f++) {
			uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
			struct sl_pkt_view v;
			struct sl_pkt_key key;
			bool vok, kok, want = false, got = false;

			random_frame(b, m);
			vok = sl_pkt_view(m, &v);
			kok = sl_pkt_key(m, kp->need, &key);
			if (vok != kok)
				fail_msg("frame %d: view %d, key %d", f, vok, kok);
			if (vok) {
				n_parsed++;
				want = sl_pkt_expr_eval(e, &v, m->pkt_len);
				got = sl_pkt_kprog_eval(kp, &key);
			}
			if (want != got)
				fail_msg("'%s' on a frame of %u bytes (ptype 0x%x): compiled %d, "
					 "expression %d",
					 src, m->data_len, m->packet_type, got, want);
		}
		sl_pkt_expr_destroy(e);
	}
	/* Both kinds were seen, and most frames had a parse result. */
	assert_true(n_compiled > 1000 && n_general > 50);
	assert_true(n_parsed > n_compiled * 60);
	rte_pktmbuf_free(m);
}

static void test_compile_errors(void **unused)
{
	static const struct {
		const char *src;
		uint32_t off;
		const char *msg;
	} cases[] = {
		{ "", 0, "unexpected end" },
		{ "udp and", 7, "unexpected end" },
		{ "udpp", 0, "unknown word 'udpp'" },
		{ "udp == 1", 4, "protocol word" },
		{ "dst_port", 8, "expected an operator" },
		{ "dst_port == x", 12, "expected an integer" },
		{ "src_ip < 10.0.0.1", 7, "== or != only" },
		{ "src_ip == 10.0.0.300", 10, "expected an IPv4 or IPv6 address" },
		{ "src_ip == 10.0.0.0/33", 19, "bad prefix length" },
		{ "(udp", 4, "expected ')'" },
		{ "udp tcp", 4, "unexpected 'tcp'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_pkt_expr *e = NULL;
		char msg[200] = "";
		uint32_t off = 99;

		assert_int_equal(sl_pkt_expr_compile(cases[i].src, &e, &off, msg, sizeof(msg)),
				 -EINVAL);
		if (off != cases[i].off || !strstr(msg, cases[i].msg))
			fail_msg("'%s': offset %u '%s', expected %u '%s'", cases[i].src, off, msg,
				 cases[i].off, cases[i].msg);
		assert_null(e);
	}
	/* Nesting is bounded. */
	{
		char deep[200];
		struct sl_pkt_expr *e;
		char msg[200];
		uint32_t off;

		memset(deep, '(', 100);
		strcpy(deep + 100, "udp");
		assert_int_equal(sl_pkt_expr_compile(deep, &e, &off, msg, sizeof(msg)), -EINVAL);
		assert_non_null(strstr(msg, "nested too deeply"));
	}
}

static void test_stage(void **unused)
{
	const struct sl_stage_desc *desc = sl_test_builtin("pkt_filter");
	struct sl_arg arg = { .key = "where",
			      .type = SL_PARAM_STR,
			      .str = "udp and dst_port == 514" };
	struct sl_args args = { .file = "t.yaml", .name = "f", .n = 1, .v = &arg };
	static struct sl_emit out;
	uint64_t counters[SL_COUNTER_MAX] = { 0 };
	struct sl_ctx_host priv;
	struct sl_ctx ctx = sl_test_ctx(&priv, pool, meta_off, counters, "f");
	struct rte_mbuf *evs[5];
	struct sl_burst in = { evs, 5 };
	struct sl_error err = { 0 };
	void *conf;

	assert_int_equal(desc->init(NULL, &args, &conf, &err), 0);
	for (int i = 0; i < 4; i++)
		evs[i] = packet(i, true);
	evs[4] = packet(0, false); /* not parsed: never matches */
	out.n_ports = 1;
	desc->process(conf, &ctx, &in, &out);
	assert_int_equal(out.n[0], 1);
	assert_ptr_equal(out.port[0][0], evs[0]);
	assert_int_equal(out.n_drop, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out.drop_reason[i], SL_DROP_FILTERED);
	assert_int_equal(counters[0], 1);
	assert_int_equal(counters[1], 3);
	assert_int_equal(counters[2], 1);
	rte_pktmbuf_free_bulk(out.port[0], out.n[0]);
	rte_pktmbuf_free_bulk(out.drop, out.n_drop);
	desc->fini(conf);

	/* A compiled form of several tests, and one the general evaluator runs (<). */
	for (int e = 0; e < 2; e++) {
		arg.str = e == 0 ? "tcp or (ipv4 and not udp)" : "tcp or (len < 43 and not ip)";
		assert_int_equal(desc->init(NULL, &args, &conf, &err), 0);
		for (int i = 0; i < 4; i++)
			evs[i] = packet(i, true);
		evs[4] = packet(1, false);
		memset(counters, 0, sizeof(counters));
		memset(&out, 0, sizeof(out));
		out.n_ports = 1;
		desc->process(conf, &ctx, &in, &out);
		/* tcp6, frag4 / tcp6, arp (42 bytes) */
		assert_int_equal(out.n[0], 2);
		assert_ptr_equal(out.port[0][0], evs[1]);
		assert_ptr_equal(out.port[0][1], evs[e == 0 ? 2 : 3]);
		assert_int_equal(out.n_drop, 3);
		assert_int_equal(counters[0], 2);
		assert_int_equal(counters[1], 2);
		assert_int_equal(counters[2], 1);
		rte_pktmbuf_free_bulk(out.port[0], out.n[0]);
		rte_pktmbuf_free_bulk(out.drop, out.n_drop);
		desc->fini(conf);
	}
	assert_int_equal(rte_mempool_avail_count(pool), 256);
}

/*
 * The stage itself against the expression on views: 600 random expressions (compiled or
 * not), each on a burst of 64 random frames with one line event among them. The events it
 * passes (in order) and its counters must be what sl_pkt_expr_eval says on sl_pkt_view.
 * Covers the verdict shared by parsed frames without IP (pkt_filter_plain) in every loop.
 */
/* What SL_FACT_PARSED says of an event (stage.h). */
static bool fact_parsed(const struct rte_mbuf *m)
{
	return sl_pkt_parsed(m) && m->l2_len >= 14 &&
	       (uint32_t)m->l2_len + m->l3_len + m->l4_len <= m->data_len;
}

static void test_stage_random(void **unused)
{
	const struct sl_stage_desc *desc = sl_test_builtin("pkt_filter");
	struct sl_arg arg = { .key = "where", .type = SL_PARAM_STR };
	struct sl_args args = { .file = "t.yaml", .name = "f", .n = 1, .v = &arg };
	static struct sl_emit out;
	uint64_t counters[SL_COUNTER_MAX];
	struct sl_ctx_host priv;
	struct sl_ctx ctx = sl_test_ctx(&priv, pool, meta_off, counters, "f");
	struct rte_mbuf *evs[SL_BURST_MAX], *want[SL_BURST_MAX];
	struct sl_burst in = { evs, SL_BURST_MAX };
	unsigned n_plain = 0;

	for (int i = 0; i < 1200; i++) {
		/* Odd rounds: a burst with the facts pkt_parse vouches for (stage.h), of frames
		 * for which they hold; the verdicts must be the same. */
		const bool vouched = i & 1;
		char src[4096], msg[200];
		struct sl_pkt_expr *e;
		struct sl_error err = { 0 };
		uint32_t off, n_pass = 0, n_rej = 0, n_unp = 0;
		void *conf;

		random_expr_any(src, sizeof(src), 3);
		if (sl_pkt_expr_compile(src, &e, &off, msg, sizeof(msg)) != 0)
			fail_msg("'%s' does not compile: %s at %u", src, msg, off);
		arg.str = src;
		assert_int_equal(desc->init(NULL, &args, &conf, &err), 0);
		for (int f = 0; f < SL_BURST_MAX; f++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			struct sl_meta *meta;
			struct sl_pkt_view v;

			assert_non_null(m);
			do
				random_frame(rte_pktmbuf_mtod(m, uint8_t *), m);
			while (vouched && !fact_parsed(m));
			meta = sl_event_meta(meta_off, m);
			memset(meta, 0, sizeof(*meta));
			meta->kind = f == 7 && !vouched ? SL_EVENT_LINE : SL_EVENT_PACKET;
			evs[f] = m;
			if (meta->kind != SL_EVENT_PACKET || !sl_pkt_view(m, &v))
				n_unp++;
			else if (sl_pkt_expr_eval(e, &v, m->pkt_len))
				want[n_pass++] = m;
			else
				n_rej++;
			n_plain += (m->packet_type & 0xff) == RTE_PTYPE_L2_ETHER;
		}
		memset(counters, 0, sizeof(counters));
		memset(&out, 0, sizeof(out));
		out.n_ports = 1;
		in.facts = vouched ? SL_FACT_PACKETS | SL_FACT_PARSED | SL_FACT_UNSHARED : 0;
		desc->process(conf, &ctx, &in, &out);
		/* What passes is the input's events unchanged: its facts hold for them. */
		assert_int_equal(out.facts[0], in.facts);
		if (out.n[0] != n_pass || counters[0] != n_pass || counters[1] != n_rej ||
		    counters[2] != n_unp || out.n_drop != n_rej + n_unp)
			fail_msg("'%s': passed %u (counted %" PRIu64 "), rejected %" PRIu64
				 ", unparsed %" PRIu64 ", dropped %u; expected %u, %u, %u",
				 src, out.n[0], counters[0], counters[1], counters[2], out.n_drop,
				 n_pass, n_rej, n_unp);
		for (uint32_t j = 0; j < n_pass; j++)
			assert_ptr_equal(out.port[0][j], want[j]);
		rte_pktmbuf_free_bulk(out.port[0], out.n[0]);
		rte_pktmbuf_free_bulk(out.drop, out.n_drop);
		desc->fini(conf);
		sl_pkt_expr_destroy(e);
	}
	/* Frames without IP were common (untagged ARP, and made-up parse results): ~2000. */
	assert_true(n_plain > 1000);
	assert_int_equal(rte_mempool_avail_count(pool), 256);
}

static int setup(void **unused)
{
	sl_test_eal_init();
	pool = sl_test_pool(256, 2048, &meta_off);
	return pool ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval),  cmocka_unit_test(test_eval_random),
		cmocka_unit_test(test_kprog), cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_stage), cmocka_unit_test(test_stage_random),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
