/*
 * Checkpoint files: where a source stands in each of its files, kept across restarts.
 * One entry per file: its identity (device, inode, birth time, and the fingerprint: length
 * and XXH64 of its first bytes), the event-id slot it had, and the committed offset (the
 * first byte whose line was not yet acknowledged by every sink). The file is text, so a
 * person can read it, and strict, so damage is found rather than guessed around:
 *
 *     sluice-checkpoint 2
 *     file <dev> <ino> <fp_len> <fp, 16 hex digits> <slot> <offset> <flags> <birth>
 *     ...
 *     end <number of file lines> <XXH64 of every byte before "end", 16 hex digits>
 *
 * birth is the file's birth time in nanoseconds (statx), 0 where the filesystem keeps
 * none. Version 1 (written before 2026-11-29) has no birth field; it still loads, with
 * birth 0 for every file. Stores always write version 2.
 *
 * Numbers are decimal without sign or leading zeros (except 0 itself), fields are
 * separated by one space, lines end with '\n', and nothing follows the end line. A store
 * writes PATH.tmp, fsyncs it, renames it over PATH and fsyncs the directory, so PATH is at
 * every moment either the old or the new checkpoint, never a torn one. Control-path
 * code: the controller (pipeline_tick, main lcore) stores, source create loads.
 */
#ifndef SL_CHECKPOINT_CHECKPOINT_H
#define SL_CHECKPOINT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Inside an over-long line at the offset: drop bytes through its newline on resume. */
#define SL_CKPT_F_SKIP 0x1u
#define SL_CKPT_F_ALL  SL_CKPT_F_SKIP

/* Most file entries in one checkpoint, and the largest checkpoint file accepted. */
#define SL_CKPT_FILES_MAX (1u << 20)
#define SL_CKPT_BYTES_MAX (128u << 20)

struct sl_ckpt_file {
	uint64_t dev, ino;
	uint64_t fp;	 /* XXH64 of the first fp_len bytes */
	uint64_t off;	 /* committed offset */
	uint32_t fp_len; /* bytes the fingerprint covers */
	uint16_t slot;	 /* top 16 bits of the file's event ids */
	uint8_t flags;	 /* SL_CKPT_F_* */
	uint64_t birth;	 /* birth time in ns; 0 unknown (tells files on a reused inode apart) */
};

/* Why a checkpoint did not parse: the byte offset in the file and what was expected. */
struct sl_ckpt_error {
	size_t off;
	char msg[128];
};

/* Parse len bytes. On success *files (malloc'd, free with free(); NULL when n is 0) and
 * *n are set and 0 is returned; otherwise -EINVAL with err filled in. */
int sl_ckpt_parse(const char *buf, size_t len, struct sl_ckpt_file **files, uint32_t *n,
		  struct sl_ckpt_error *err);

/* Bytes of the checkpoint text for files[0..n) (malloc'd into *buf). 0 or -ENOMEM. */
int sl_ckpt_format(const struct sl_ckpt_file *files, uint32_t n, char **buf, size_t *len);

/* Read and parse the checkpoint at path. -ENOENT when there is none (a first run);
 * -EINVAL when it is damaged, with msg "PATH: byte N: what"; other -errno when it cannot
 * be read (msg says why). */
int sl_ckpt_load(const char *path, struct sl_ckpt_file **files, uint32_t *n, char *msg,
		 size_t msg_len);

/* Replace the checkpoint at path atomically and durably (see above). 0 or -errno with
 * msg set. */
int sl_ckpt_store(const char *path, const struct sl_ckpt_file *files, uint32_t n, char *msg,
		  size_t msg_len);

/* Create path's missing parent directories and check that PATH.tmp can be created there
 * (it is removed again). 0 or -errno with msg set. For create time. */
int sl_ckpt_prepare(const char *path, char *msg, size_t msg_len);

#endif
