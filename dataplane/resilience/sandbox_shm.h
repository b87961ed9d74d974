/*
 * The region a sandboxed stage's proxy (one replica, in sluice) shares with its child
 * (dataplane/resilience/sandbox.c; docs/resilience.md). The child can write all of it,
 * so the parent reads nothing from it that decides what it does outside the region:
 * results are checked (sb_check), and the child's pid is not kept here (only the
 * zygote knows it). A header of its own so that the misbehaving test plugin
 * plugins/testing/scribble_on.c can write over it the way a compromised child could.
 */
#ifndef SL_RESILIENCE_SANDBOX_SHM_H
#define SL_RESILIENCE_SANDBOX_SHM_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <sluice/stage.h>

#define SB_DATA_ROOM 8192 /* SL_EVENT_DATA_ROOM (checked in sandbox.c) */
#define SB_SLOT_ROOM (RTE_PKTMBUF_HEADROOM + SB_DATA_ROOM)
#define SB_IN_SLOTS  SL_BURST_MAX
#define SB_NEW_SLOTS SL_EMIT_CAP
#define SB_SLOTS     (SB_IN_SLOTS + SB_NEW_SLOTS)
#define SB_PORT_DROP 0xffff

/* One event slot as the child sees it (and reports it back). */
struct sb_ev {
	struct sl_meta meta;
	uint16_t data_off, data_len;
};

/* One result: slot emitted on port, or dropped (port SB_PORT_DROP) for reason. */
struct sb_res {
	uint16_t slot;
	uint16_t port;
	uint8_t reason;
};

/* The region shared by the proxy (one replica) and its child. A child's event i has
 * buf_addr == data[i]. */
struct sb_shm {
	/* futex words and handshakes */
	uint32_t req_seq;   /* parent -> child: a request is ready (futex the child waits on) */
	uint32_t wake;	    /* child, zygote -> parent: bumped on any news (parent's futex) */
	uint32_t resp_seq;  /* child: the request it finished */
	uint32_t ready_gen; /* child: the generation it runs as, once it serves requests */
	uint32_t dead_gen;  /* zygote: the generation of the child that died */
	int32_t dead_status;
	/* request */
	uint32_t n_in;
	int32_t meta_offset;
	uint16_t lcore, replica;
	uint64_t now_tsc, tsc_hz;
	/* response */
	uint32_t n_res;
	uint32_t garbage; /* the child saw invalid output (garbage_msg says what) */
	char garbage_msg[96];
	uint64_t counters[SL_COUNTER_MAX]; /* the stage's counters, this call's increments */
	struct sb_ev ev[SB_SLOTS];
	struct sb_res res[SB_SLOTS + 1];
	uint8_t data[SB_SLOTS][SB_SLOT_ROOM] __attribute__((aligned(64)));
};

#endif
