/*
 * The packet filter language of pkt_filter (docs/packets.md): protocol words and
 * comparisons of header fields, joined with and / or / not and parentheses.
 *
 *   expr   := term ("or" term)*            term := factor ("and" factor)*
 *   factor := "not" factor | "(" expr ")" | WORD | FIELD OP VALUE
 *   WORD   := ip | ipv4 | ipv6 | udp | tcp | icmp | vlan | fragment
 *   FIELD  := src_port | dst_port | port | proto | vlan | len      (integers, any OP)
 *           | src_ip | dst_ip | addr                                (== or != only)
 *   OP     := == | != | < | <= | > | >=       VALUE := integer | IPv4 | IPv6 [/prefix]
 *
 * `port` and `addr` match when either side does, and `!=` on them when neither side
 * equals the value. Addresses with a prefix match the network. A comparison on a field the packet lacks (ports of
 * an ICMP packet, addresses of ARP) is false, whatever the operator. Compiled once
 * (control path) into forward-jumping code; evaluated with no allocation, no recursion.
 */
#ifndef SL_STAGES_PKT_EXPR_H
#define SL_STAGES_PKT_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../pkt_parse/pkt.h"

struct sl_pkt_expr;

/** Compile src. 0, or -EINVAL with a message in msg and the byte offset in *err_off, or
 *  -ENOMEM. */
int sl_pkt_expr_compile(const char *src, struct sl_pkt_expr **out, uint32_t *err_off, char *msg,
			size_t msg_len);

/** Evaluate on a parsed view of a frame of frame_len bytes. */
bool sl_pkt_expr_eval(const struct sl_pkt_expr *e, const struct sl_pkt_view *v, uint32_t frame_len);

void sl_pkt_expr_destroy(struct sl_pkt_expr *e);

/*
 * The compiled form. Every word and every == / != comparison is a set of mask/value tests
 * on a packed key of the fields (struct sl_pkt_key), which sl_pkt_key builds straight from
 * the mbuf, so a packet costs a few loads and one masked compare per test instead of a
 * view and a walk of the expression (`udp and dst_port == 514` and
 * `not (udp and dst_port == 53)` are one test each). Expressions with < <= > >= keep the
 * general evaluator (sl_pkt_expr_kprog returns NULL). Same verdicts as sl_pkt_expr_eval
 * on sl_pkt_view: pkt_filter_test compares the two on random frames and expressions.
 */
enum {
	SL_PKT_KEY_IP = 0x01, /* the view's ip_ver != 0 */
	SL_PKT_KEY_IPV4 = 0x02,
	SL_PKT_KEY_IPV6 = 0x04,
	SL_PKT_KEY_PORTS = 0x08, /* has_ports */
	SL_PKT_KEY_FRAG = 0x10,
	SL_PKT_KEY_VLAN = 0x20, /* an outer tag (the view's vlan != 0xffff) */
};

/* Which words besides the first a program reads (the others are left unset). */
#define SL_PKT_KEY_NEED_ADDR4 0x1
#define SL_PKT_KEY_NEED_ADDR6 0x2
#define SL_PKT_KEY_NEED_LEN   0x4
#define SL_PKT_KEY_WORDS      7

/** w[0]: flags | proto << 8 | src_port << 16 | dst_port << 32 | vlan id << 48;
 *  w[1]: frame length; w[2]: IPv4 source | destination << 32 (4 bytes each as in the
 *  frame); w[3], w[4]: IPv6 source; w[5], w[6]: IPv6 destination. */
struct sl_pkt_key {
	uint64_t w[SL_PKT_KEY_WORDS];
};

#define SL_PKT_KPROG_ACCEPT 0xfffe
#define SL_PKT_KPROG_REJECT 0xffff

/** One test: (key.w[word] & mask) == value leads to next[1], else next[0] (a later test
 *  or a verdict). */
struct sl_pkt_ktest {
	uint64_t mask, value;
	uint16_t next[2];
	uint8_t word;
};

struct sl_pkt_kprog {
	uint16_t n;	/**< tests */
	uint16_t start; /**< the first test, or a verdict */
	uint32_t need;	/**< SL_PKT_KEY_NEED_* */
	struct sl_pkt_ktest t[];
};

/** The compiled form of e, or NULL when it has a comparison only sl_pkt_expr_eval does. */
const struct sl_pkt_kprog *sl_pkt_expr_kprog(const struct sl_pkt_expr *e);

/** Build the key of a parsed mbuf; false when it has no parse result (or offsets that do
 *  not fit the frame): exactly when sl_pkt_view is false. */
static __rte_always_inline bool sl_pkt_key(const struct rte_mbuf *m, uint32_t need,
					   struct sl_pkt_key *k)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint64_t txo = m->tx_offload, w = 0;
	uint32_t len = m->data_len, pt = m->packet_type, l4;
	uint32_t l2 = (uint32_t)(txo >> RTE_MBUF_L2_LEN_OFS) & ((1u << RTE_MBUF_L2_LEN_BITS) - 1);
	uint32_t l3 = (uint32_t)(txo >> RTE_MBUF_L3_LEN_OFS) & ((1u << RTE_MBUF_L3_LEN_BITS) - 1);

	if (!(pt & RTE_PTYPE_L2_MASK) || l2 < 14 || l2 > len)
		return false;
	if (need & SL_PKT_KEY_NEED_LEN)
		k->w[1] = m->pkt_len;
	if ((pt & RTE_PTYPE_L2_MASK) != RTE_PTYPE_L2_ETHER && l2 >= 18)
		w = SL_PKT_KEY_VLAN | (uint64_t)(sl_pkt_be16(p + 14) & 0xfff) << 48;
	if (RTE_ETH_IS_IPV4_HDR(pt)) {
		if (l3 < 20 || l2 + l3 > len)
			return false;
		w |= SL_PKT_KEY_IP | SL_PKT_KEY_IPV4 | (uint64_t)p[l2 + 9] << 8;
		if (need & SL_PKT_KEY_NEED_ADDR4)
			memcpy(&k->w[2], p + l2 + 12, 8);
	} else if (RTE_ETH_IS_IPV6_HDR(pt)) {
		uint8_t nh;

		if (l3 < 40 || l2 + l3 > len || !sl_pkt_ipv6_proto(p + l2, l3, &nh))
			return false;
		w |= SL_PKT_KEY_IP | SL_PKT_KEY_IPV6 | (uint64_t)nh << 8;
		if (need & SL_PKT_KEY_NEED_ADDR6)
			memcpy(&k->w[3], p + l2 + 8, 32);
	} else {
		k->w[0] = w;
		return true;
	}
	l4 = pt & RTE_PTYPE_L4_MASK;
	if (l4 == RTE_PTYPE_L4_FRAG)
		w |= SL_PKT_KEY_FRAG;
	else if ((l4 == RTE_PTYPE_L4_UDP || l4 == RTE_PTYPE_L4_TCP) && l2 + l3 + 8 <= len)
		w |= SL_PKT_KEY_PORTS | (uint64_t)sl_pkt_be16(p + l2 + l3) << 16 |
		     (uint64_t)sl_pkt_be16(p + l2 + l3 + 2) << 32;
	k->w[0] = w;
	return true;
}

/** Run a compiled form on a key. */
static inline bool sl_pkt_kprog_eval(const struct sl_pkt_kprog *p, const struct sl_pkt_key *k)
{
	uint32_t pc = p->start;

	/* Every next is a later test or a verdict (>= n), so this ends. */
	while (pc < p->n) {
		const struct sl_pkt_ktest *t = &p->t[pc];

		pc = t->next[(k->w[t->word] & t->mask) == t->value];
	}
	return pc == SL_PKT_KPROG_ACCEPT;
}

#endif
