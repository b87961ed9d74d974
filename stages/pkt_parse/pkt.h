/*
 * Frame parser shared by the packet stages (pkt_parse, pkt_filter, udp_payload,
 * flow_count), its unit test and its fuzz target. Header-only and pure: it reads at most
 * len bytes of the frame, never writes, and keeps no state, so any thread may call it.
 *
 * sl_pkt_parse walks Ethernet, up to two VLAN tags (802.1Q / 802.1ad / 0x9100: QinQ),
 * IPv4 (IHL, options, total length, fragments) or IPv6 (payload length, at most
 * SL_PKT_IPV6_EXT_MAX extension headers within 511 bytes of L3 header), then UDP, TCP or
 * ICMP/ICMPv6. Every length field is checked against the bytes that exist before it is
 * used; a frame whose fields lie gets an error code naming the first lie. The result
 * fits the mbuf's own fields (packet_type, l2_len 7 bits, l3_len 9 bits, l4_len 8 bits),
 * which is where pkt_parse stores it for the stages after it.
 */
#ifndef SL_STAGES_PKT_H
#define SL_STAGES_PKT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_mbuf_ptype.h>

/** Why a frame is malformed; SL_PKT_OK (0) when it is not. Order = pkt_parse counters. */
enum sl_pkt_err {
	SL_PKT_OK = 0,
	SL_PKT_ERR_RUNT,	       /**< shorter than an Ethernet header */
	SL_PKT_ERR_VLAN_TRUNCATED,     /**< a VLAN tag cut off */
	SL_PKT_ERR_VLAN_DEPTH,	       /**< more than two VLAN tags */
	SL_PKT_ERR_IP_VERSION,	       /**< IP version field disagrees with the EtherType */
	SL_PKT_ERR_IP_TRUNCATED,       /**< fixed IPv4/IPv6 header cut off */
	SL_PKT_ERR_IPV4_IHL,	       /**< IHL < 5 or beyond the frame */
	SL_PKT_ERR_IPV4_TOTAL_LEN,     /**< total length < IHL*4 or beyond the frame */
	SL_PKT_ERR_IPV6_PAYLOAD_LEN,   /**< payload length beyond the frame */
	SL_PKT_ERR_IPV6_EXT_TRUNCATED, /**< an extension header beyond the payload */
	SL_PKT_ERR_IPV6_EXT_LIMIT,     /**< too many extension headers, or over 511 bytes */
	SL_PKT_ERR_L4_TRUNCATED,       /**< UDP/TCP/ICMP header cut off */
	SL_PKT_ERR_UDP_LEN,	       /**< UDP length < 8 or beyond the IP payload */
	SL_PKT_ERR_TCP_OFFSET,	       /**< TCP data offset < 5 or beyond the IP payload */
	SL_PKT_ERR_MAX,
};

#define SL_PKT_ERR_NAMES                                                                        \
	"ok", "runt", "vlan_truncated", "vlan_depth", "ip_version", "ip_truncated", "ipv4_ihl", \
		"ipv4_total_len", "ipv6_payload_len", "ipv6_ext_truncated", "ipv6_ext_limit",   \
		"l4_truncated", "udp_len", "tcp_offset"

#define SL_PKT_IPV6_EXT_MAX 8
#define SL_PKT_L3_LEN_MAX   511 /* mbuf l3_len is 9 bits */

/** What a well-formed frame holds. Offsets count from the frame's first byte. */
struct sl_pkt_info {
	uint32_t ptype;	 /**< RTE_PTYPE_L2_* | RTE_PTYPE_L3_* | RTE_PTYPE_L4_* */
	uint16_t l2_len; /**< Ethernet + VLAN tags */
	uint16_t l3_len; /**< IP header with options / extension headers */
	uint16_t l4_len; /**< UDP 8, TCP data offset * 4, ICMP 8; 0 for fragments and others */
	uint16_t l3_end; /**< l2_len + IP total length: bytes past it are Ethernet padding */
	uint8_t proto;	 /**< final IP protocol / next header (0 without IP) */
	uint8_t n_vlan;
	uint16_t vlan; /**< outer VLAN id (12 bits) when n_vlan > 0 */
	bool fragment; /**< IPv4 MF/offset or an IPv6 fragment header: no L4 parsed */
};

static inline uint16_t sl_pkt_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * The protocol of an IPv6 header at ip6 whose l3 bytes (fixed header and extension
 * headers, as sl_pkt_parse measured them) are in the frame: the next header of the last
 * extension header. False when an extension header does not fit in l3.
 */
static inline bool sl_pkt_ipv6_proto(const uint8_t *ip6, uint32_t l3, uint8_t *proto)
{
	uint32_t off = 40;
	uint8_t nh = ip6[6];

	while (off < l3) {
		uint32_t h;

		if (off + 8 > l3)
			return false;
		h = nh == 51   ? ((uint32_t)ip6[off + 1] + 2) * 4
		    : nh == 44 ? 8
			       : ((uint32_t)ip6[off + 1] + 1) * 8;
		nh = ip6[off];
		off += h;
	}
	*proto = nh;
	return true;
}

/* L4 header at p with avail bytes up to the end of the IP payload. */
static inline enum sl_pkt_err sl_pkt_parse_l4(const uint8_t *p, uint32_t avail, bool v6,
					      struct sl_pkt_info *pi)
{
	switch (pi->proto) {
	case 17: /* UDP */
		if (avail < 8)
			return SL_PKT_ERR_L4_TRUNCATED;
		if (sl_pkt_be16(p + 4) < 8 || sl_pkt_be16(p + 4) > avail)
			return SL_PKT_ERR_UDP_LEN;
		pi->ptype |= RTE_PTYPE_L4_UDP;
		pi->l4_len = 8;
		return SL_PKT_OK;
	case 6: { /* TCP */
		uint32_t doff;

		if (avail < 20)
			return SL_PKT_ERR_L4_TRUNCATED;
		doff = (uint32_t)(p[12] >> 4) * 4;
		if (doff < 20 || doff > avail)
			return SL_PKT_ERR_TCP_OFFSET;
		pi->ptype |= RTE_PTYPE_L4_TCP;
		pi->l4_len = (uint16_t)doff;
		return SL_PKT_OK;
	}
	case 1:	 /* ICMP */
	case 58: /* ICMPv6 */
		if ((pi->proto == 58) != v6)
			break;
		if (avail < 8)
			return SL_PKT_ERR_L4_TRUNCATED;
		pi->ptype |= RTE_PTYPE_L4_ICMP;
		pi->l4_len = 8;
		return SL_PKT_OK;
	default:
		break;
	}
	pi->ptype |= RTE_PTYPE_L4_NONFRAG;
	return SL_PKT_OK;
}

static inline enum sl_pkt_err sl_pkt_parse_ipv4(const uint8_t *p, uint32_t avail,
						struct sl_pkt_info *pi)
{
	uint32_t ihl, total;

	if (avail < 20)
		return SL_PKT_ERR_IP_TRUNCATED;
	if (p[0] >> 4 != 4)
		return SL_PKT_ERR_IP_VERSION;
	ihl = (uint32_t)(p[0] & 0xf) * 4;
	if (ihl < 20 || ihl > avail)
		return SL_PKT_ERR_IPV4_IHL;
	total = sl_pkt_be16(p + 2);
	if (total < ihl || total > avail)
		return SL_PKT_ERR_IPV4_TOTAL_LEN;
	pi->ptype |= ihl == 20 ? RTE_PTYPE_L3_IPV4 : RTE_PTYPE_L3_IPV4_EXT;
	pi->l3_len = (uint16_t)ihl;
	pi->l3_end = (uint16_t)(pi->l2_len + total);
	pi->proto = p[9];
	if (sl_pkt_be16(p + 6) & 0x3fff) {
		/* MF set or a non-zero offset: the L4 header is in the first fragment only. */
		pi->fragment = true;
		pi->ptype |= RTE_PTYPE_L4_FRAG;
		return SL_PKT_OK;
	}
	return sl_pkt_parse_l4(p + ihl, total - ihl, false, pi);
}

static inline enum sl_pkt_err sl_pkt_parse_ipv6(const uint8_t *p, uint32_t avail,
						struct sl_pkt_info *pi)
{
	uint32_t end, off = 40;
	uint8_t nh;

	if (avail < 40)
		return SL_PKT_ERR_IP_TRUNCATED;
	if (p[0] >> 4 != 6)
		return SL_PKT_ERR_IP_VERSION;
	end = 40u + sl_pkt_be16(p + 4);
	if (end > avail)
		return SL_PKT_ERR_IPV6_PAYLOAD_LEN;
	pi->l3_end = (uint16_t)(pi->l2_len + end);
	nh = p[6];
	for (int n = 0;; n++) {
		uint32_t hlen;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
			break;
		if (n == SL_PKT_IPV6_EXT_MAX)
			return SL_PKT_ERR_IPV6_EXT_LIMIT;
		if (end - off < 8)
			return SL_PKT_ERR_IPV6_EXT_TRUNCATED;
		if (nh == 44) {
			hlen = 8;
			if (sl_pkt_be16(p + off + 2) & 0xfff9) {
				/* Offset or M flag: a fragment, no L4 to read. */
				pi->fragment = true;
			}
		} else if (nh == 51) {
			hlen = ((uint32_t)p[off + 1] + 2) * 4; /* AH counts 4-byte words */
		} else {
			hlen = ((uint32_t)p[off + 1] + 1) * 8;
		}
		if (hlen > end - off)
			return SL_PKT_ERR_IPV6_EXT_TRUNCATED;
		if (off + hlen > SL_PKT_L3_LEN_MAX)
			return SL_PKT_ERR_IPV6_EXT_LIMIT;
		nh = p[off];
		off += hlen;
		if (pi->fragment)
			break;
	}
	pi->ptype |= off == 40 ? RTE_PTYPE_L3_IPV6 : RTE_PTYPE_L3_IPV6_EXT;
	pi->l3_len = (uint16_t)off;
	pi->proto = nh;
	if (pi->fragment) {
		pi->ptype |= RTE_PTYPE_L4_FRAG;
		return SL_PKT_OK;
	}
	return sl_pkt_parse_l4(p + off, end - off, true, pi);
}

/** Parse the len bytes at p. SL_PKT_OK and *pi filled, or the first malformation. */
static inline enum sl_pkt_err sl_pkt_parse(const uint8_t *p, uint32_t len, struct sl_pkt_info *pi)
{
	uint32_t off = 12;
	uint16_t type;

	memset(pi, 0, sizeof(*pi));
	if (len < 14)
		return SL_PKT_ERR_RUNT;
	type = sl_pkt_be16(p + 12);
	while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
		if (pi->n_vlan == 2)
			return SL_PKT_ERR_VLAN_DEPTH;
		if (len < off + 2 + 4)
			return SL_PKT_ERR_VLAN_TRUNCATED;
		if (pi->n_vlan == 0)
			pi->vlan = sl_pkt_be16(p + off + 2) & 0xfff;
		pi->n_vlan++;
		off += 4;
		type = sl_pkt_be16(p + off);
	}
	off += 2;
	pi->l2_len = (uint16_t)off;
	pi->ptype = pi->n_vlan == 0   ? RTE_PTYPE_L2_ETHER
		    : pi->n_vlan == 1 ? RTE_PTYPE_L2_ETHER_VLAN
				      : RTE_PTYPE_L2_ETHER_QINQ;
	/* Frames longer than 64 KiB cannot be events; l3_end must fit 16 bits. */
	if (len > UINT16_MAX)
		len = UINT16_MAX;
	if (type == 0x0800)
		return sl_pkt_parse_ipv4(p + off, len - off, pi);
	if (type == 0x86dd)
		return sl_pkt_parse_ipv6(p + off, len - off, pi);
	pi->l3_end = (uint16_t)len;
	return SL_PKT_OK;
}

/** Store a parse result in the mbuf (pkt_parse does this for the stages after it). */
static inline void sl_pkt_store(struct rte_mbuf *m, const struct sl_pkt_info *pi)
{
	m->packet_type = pi->ptype;
	m->tx_offload = rte_mbuf_tx_offload(pi->l2_len, pi->l3_len, pi->l4_len, 0, 0, 0, 0);
}

/** What the common frames parse to, without sl_pkt_parse's walk: an untagged Ethernet
 *  frame that is not IP, or IPv4 without options and not a fragment carrying a UDP or
 *  TCP header whose lengths hold (one bounds check for the fixed headers). true with
 *  *ptype and *tx_offload (as sl_pkt_store writes them) and *ip set for IPv4; false for
 *  every other frame, well-formed or not: sl_pkt_parse decides those. Where it returns
 *  true, sl_pkt_parse gives SL_PKT_OK and the same fields (pkt_parse_fuzz checks it). */
static inline bool sl_pkt_parse_fast(const uint8_t *p, uint32_t len, uint32_t *ptype,
				     uint64_t *tx_offload, bool *ip)
{
	uint16_t type, total, l4len;
	const uint8_t *h;

	if (len < 14)
		return false;
	type = sl_pkt_be16(p + 12);
	if (type != 0x0800) {
		/* IPv6 and the VLAN tags are all above 0x8000; ARP and the like are not. */
		if (type >= 0x8000 &&
		    (type == 0x86dd || type == 0x8100 || type == 0x88a8 || type == 0x9100))
			return false;
		*ptype = RTE_PTYPE_L2_ETHER;
		*tx_offload = rte_mbuf_tx_offload(14, 0, 0, 0, 0, 0, 0);
		*ip = false;
		return true;
	}
	/* IPv4, IHL 5, then at least a UDP header's worth: the fixed headers exist. */
	h = p + 14;
	if (len < 14 + 20 + 8 || h[0] != 0x45)
		return false;
	total = sl_pkt_be16(h + 2);
	if (total < 20 + 8 || total > len - 14 || (sl_pkt_be16(h + 6) & 0x3fff))
		return false;
	*ip = true;
	if (h[9] == 17) {
		l4len = sl_pkt_be16(h + 24);
		if (l4len < 8 || l4len > total - 20)
			return false;
		*ptype = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP;
		*tx_offload = rte_mbuf_tx_offload(14, 20, 8, 0, 0, 0, 0);
		return true;
	}
	if (h[9] == 6 && total >= 20 + 20) {
		l4len = (uint16_t)((h[32] >> 4) * 4);
		if (l4len < 20 || l4len > total - 20)
			return false;
		*ptype = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
		*tx_offload = rte_mbuf_tx_offload(14, 20, l4len, 0, 0, 0, 0);
		return true;
	}
	return false;
}

/** The EtherTypes of the commonest frames without IP: below 0x8000, other than IPv4 (ARP
 *  and the like; IPv6 and the VLAN tags are above). */
static inline bool sl_pkt_plain_type(uint16_t type)
{
	return type < 0x8000 && type != 0x0800;
}

/** sl_pkt_plain_type of the EtherType at p, tested on its bytes as they lie in memory
 *  (no byte swap: the constants are swapped instead). */
static inline bool sl_pkt_plain_type_at(const uint8_t *p)
{
	rte_be16_t w;

	memcpy(&w, p, sizeof(w));
	return !(w & RTE_BE16(0x8000)) && w != RTE_BE16(0x0800);
}

/** An untagged frame of at least 14 bytes with such an EtherType: it parses to
 *  RTE_PTYPE_L2_ETHER with l2_len 14 and nothing else, as sl_pkt_parse_fast and
 *  sl_pkt_parse give it (pkt_parse_fuzz and pkt_parse_test check). */
static inline bool sl_pkt_plain(const uint8_t *p, uint32_t len)
{
	return len >= 14 && sl_pkt_plain_type(sl_pkt_be16(p + 12));
}

/** Whether m carries a pkt_parse result (a parsed frame always has an L2 type). */
static inline bool sl_pkt_parsed(const struct rte_mbuf *m)
{
	return (m->packet_type & RTE_PTYPE_L2_MASK) != 0;
}

/** The fields the packet stages read, taken from a parsed event (bounds-checked again
 *  against data_len, so a stale or foreign packet_type cannot make it read outside). */
struct sl_pkt_view {
	uint8_t ip_ver; /**< 4, 6, or 0 without IP */
	uint8_t proto;	/**< IP protocol (IPv6: after extension headers) */
	bool has_ports; /**< UDP or TCP, not a fragment */
	bool fragment;	/**< an IP fragment (no L4 header parsed) */
	uint16_t src_port, dst_port;
	uint16_t vlan;			/**< outer VLAN id, 0xffff without a tag */
	const uint8_t *src_ip, *dst_ip; /**< 4 or 16 bytes, NULL without IP */
	uint16_t l4_off;		/**< offset of the L4 header */
	uint16_t l3_end;		/**< end of the IP packet (padding excluded) */
};

/** Fill v from m's parse result; false when m was not parsed or its offsets do not fit. */
static inline bool sl_pkt_view(const struct rte_mbuf *m, struct sl_pkt_view *v)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len, l2 = m->l2_len, l3 = m->l3_len, l4;
	uint32_t pt = m->packet_type;

	memset(v, 0, sizeof(*v));
	v->vlan = 0xffff;
	if (!sl_pkt_parsed(m) || l2 < 14 || l2 > len)
		return false;
	if ((pt & RTE_PTYPE_L2_MASK) != RTE_PTYPE_L2_ETHER && l2 >= 18)
		v->vlan = sl_pkt_be16(p + 14) & 0xfff;
	v->l3_end = (uint16_t)len;
	if (RTE_ETH_IS_IPV4_HDR(pt)) {
		if (l3 < 20 || l2 + l3 > len)
			return false;
		v->ip_ver = 4;
		v->src_ip = p + l2 + 12;
		v->dst_ip = p + l2 + 16;
		v->proto = p[l2 + 9];
		if (l2 + sl_pkt_be16(p + l2 + 2) <= len)
			v->l3_end = (uint16_t)(l2 + sl_pkt_be16(p + l2 + 2));
	} else if (RTE_ETH_IS_IPV6_HDR(pt)) {
		uint8_t nh;

		if (l3 < 40 || l2 + l3 > len)
			return false;
		v->ip_ver = 6;
		v->src_ip = p + l2 + 8;
		v->dst_ip = p + l2 + 24;
		if (l2 + 40u + sl_pkt_be16(p + l2 + 4) <= len)
			v->l3_end = (uint16_t)(l2 + 40u + sl_pkt_be16(p + l2 + 4));
		if (!sl_pkt_ipv6_proto(p + l2, l3, &nh))
			return false;
		v->proto = nh;
	} else {
		return true;
	}
	l4 = (pt & RTE_PTYPE_L4_MASK);
	v->fragment = l4 == RTE_PTYPE_L4_FRAG;
	v->l4_off = (uint16_t)(l2 + l3);
	if ((l4 == RTE_PTYPE_L4_UDP || l4 == RTE_PTYPE_L4_TCP) && l2 + l3 + 8 <= len) {
		v->has_ports = true;
		v->src_port = sl_pkt_be16(p + l2 + l3);
		v->dst_port = sl_pkt_be16(p + l2 + l3 + 2);
	}
	return true;
}

#endif
