/*
 * Fuzz target for the frame parser (pkt.h): any bytes as a frame, never a crash or a read
 * past them (the input buffer is exactly the frame). On success the offsets must nest
 * inside the frame (l2 + l3 + l4 <= IP end <= length), the type must name an L2 class,
 * and the view the other packet stages take from an mbuf holding the result must agree
 * with the parse (protocol, ports, fragment). Every build replays tests/fuzz/corpus/pkt_parse;
 * -Dfuzz=true builds it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "pkt_parse_fuzz: check failed: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_pkt_info pi;
	struct sl_pkt_view v;
	struct rte_mbuf m;
	uint32_t len = size > UINT16_MAX ? UINT16_MAX : (uint32_t)size;
	enum sl_pkt_err rc = sl_pkt_parse(data, len, &pi);
	uint64_t txo;
	uint32_t ptype;
	bool ip;

	fuzz_check(rc < SL_PKT_ERR_MAX, "error code in range");
	/* The fast path decides only frames the full parse finds well-formed, the same way. */
	if (sl_pkt_parse_fast(data, len, &ptype, &txo, &ip)) {
		fuzz_check(rc == SL_PKT_OK, "fast path only on well-formed frames");
		fuzz_check(ptype == pi.ptype, "fast path: same packet type");
		fuzz_check(txo == rte_mbuf_tx_offload(pi.l2_len, pi.l3_len, pi.l4_len, 0, 0, 0, 0),
			   "fast path: same header lengths");
		fuzz_check(ip == ((pi.ptype & RTE_PTYPE_L3_MASK) != 0), "fast path: same IP flag");
	}
	/* The stage's first path (sl_pkt_plain): an untagged frame without IP, L2 only. */
	if (sl_pkt_plain(data, len))
		fuzz_check(rc == SL_PKT_OK && pi.ptype == RTE_PTYPE_L2_ETHER && pi.l2_len == 14 &&
				   pi.l3_len == 0 && pi.l4_len == 0,
			   "plain frame: Ethernet only, 14 bytes of L2");
	if (rc != SL_PKT_OK)
		return 0;
	fuzz_check(pi.ptype & RTE_PTYPE_L2_MASK, "an L2 type");
	fuzz_check(pi.l2_len >= 14 && pi.l2_len <= 22, "l2_len");
	fuzz_check(pi.l3_len <= SL_PKT_L3_LEN_MAX, "l3_len fits 9 bits");
	fuzz_check((uint32_t)pi.l2_len + pi.l3_len + pi.l4_len <= pi.l3_end, "headers nest");
	fuzz_check(pi.l3_end <= len, "IP end inside the frame");

	/* The view from an mbuf carrying the result agrees with the parse. */
	memset(&m, 0, sizeof(m));
	m.buf_addr = (void *)(uintptr_t)data;
	m.data_off = 0;
	m.data_len = (uint16_t)len;
	m.pkt_len = len;
	m.buf_len = (uint16_t)len;
	sl_pkt_store(&m, &pi);
	fuzz_check(sl_pkt_view(&m, &v), "view of a parsed frame");
	fuzz_check(v.ip_ver == 0 || v.proto == pi.proto, "same protocol");
	fuzz_check(v.fragment == pi.fragment, "same fragment flag");
	fuzz_check(v.has_ports == (pi.l4_len > 0 && (pi.proto == 6 || pi.proto == 17)),
		   "ports exactly for UDP and TCP");
	if (v.ip_ver)
		fuzz_check(v.l3_end == pi.l3_end, "same IP end");
	return 0;
}
