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

#endif
