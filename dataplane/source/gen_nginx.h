/*
 * Synthetic nginx "combined" access log lines, deterministic for a seed on every machine
 * (integer-only PRNG, no locale, no libc randomness). Used by the `gen` source and by the
 * perf tools that need realistic input. Stateless apart from the caller's PRNG state.
 */
#ifndef SL_SOURCE_GEN_NGINX_H
#define SL_SOURCE_GEN_NGINX_H

#include <stddef.h>
#include <stdint.h>

/** Capacity that always holds one generated line (no newline is written). */
#define SL_GEN_NGINX_LINE_MAX 512

/** Lines per simulated second: line seq is stamped 27/Nov/2026:10:00:00 +0000 plus
 *  seq / SL_GEN_NGINX_LINES_PER_SEC seconds. */
#define SL_GEN_NGINX_LINES_PER_SEC 100

/** Seed a PRNG state for sl_gen_nginx_line. */
uint64_t sl_gen_nginx_seed(uint64_t seed);

/** Write line number seq into buf (no newline, no NUL). Returns its length, or 0 when
 *  cap < SL_GEN_NGINX_LINE_MAX. Advances *rng_state. */
size_t sl_gen_nginx_line(uint64_t *rng_state, uint64_t seq, char *buf, size_t cap);

#endif
