/*
 * What a bpf_filter program sees (stages/bpf_filter): one struct per event, built by the
 * stage from the event's record, passed as the program's only argument (R1). The program
 * returns non-zero to keep the event. The verifier (DPDK rte_bpf) checks at load that the
 * program reads only inside this struct, so field i of the stage's `fields:` is v[i],
 * present when bit i of `present` is set (a missing or non-integer field reads 0).
 * Programs are C compiled with `clang -O2 -target bpf -c prog.c`; the function is the
 * ELF section named by `section:` (default `.text`, a plain C function).
 */
#ifndef SL_STAGES_BPF_CTX_H
#define SL_STAGES_BPF_CTX_H

#include <stdint.h>

#define SL_BPF_FIELDS_MAX 8

struct sl_bpf_ctx {
	int64_t v[SL_BPF_FIELDS_MAX]; /* integer values of `fields:`, in order */
	uint64_t present;	      /* bit i: v[i] holds a value from the record */
	uint64_t raw_len;	      /* bytes of the event's original line */
};

#endif
