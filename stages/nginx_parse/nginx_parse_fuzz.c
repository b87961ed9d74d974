/*
 * Fuzz target for the nginx_parse parser (parse.h): any bytes in, never a crash or an
 * out-of-bounds access; on success the record must decode as exactly the ten fields, each
 * string must be the very bytes of the line it claims (the line is rebuilt from the
 * fields and compared), status within 100..599 and bytes non-negative; on failure the
 * offset must lie within the line and the writer must be untouched. A second parse with a
 * subset of the fields (projection) must give the same code and offset, and on success
 * exactly the selected fields with the same encoded values. The fast path (bitmaps of
 * quotes and spaces) must agree with the checked parser it falls back to, with every field,
 * a subset, with and without the rest of a longer log_format, and with a writer a little
 * too small (fast_check.h). Every build replays tests/fuzz/corpus/nginx_parse; -Dfuzz=true builds
 * it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#include "fast_check.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "nginx_parse_fuzz: check failed: %s\n", what);
		abort();
	}
}

static struct sl_val fuzz_field(struct sl_rec r, const char *key, enum sl_val_type type)
{
	struct sl_val v;

	fuzz_check(sl_rec_find(r, key, strlen(key), &v), key);
	fuzz_check(v.type == type, key);
	return v;
}

/* Append a string field's bytes to the rebuilt line. */
static size_t fuzz_put(char *o, size_t n, struct sl_val v)
{
	memcpy(o + n, v.s.p, v.s.len);
	return n + v.s.len;
}

/* Parse again keeping a subset of the fields chosen from the input, and compare with the
 * full record (full, when rc is SL_NGINX_OK; the subset writer is as large as the input
 * needs, so a too_large first parse only has to agree when the subset overflows too). */
static void fuzz_subset(const char *line, size_t size, int rc, uint32_t off, bool overflow,
			const uint8_t *full)
{
	static const char *const names[] = { SL_NGINX_FIELDS };
	static uint8_t sub[16384];
	uint64_t fields = 0x2a5;
	struct sl_rec_writer w;
	struct sl_rec fr, sr;
	struct sl_val a, b;
	uint32_t soff = UINT32_MAX, len;
	int src;

	for (size_t i = 0; i < size && i < 8; i++)
		fields = fields * 31 + (uint8_t)line[i];
	fields &= SL_NGINX_ALL_FIELDS;
	sl_rec_begin(&w, sub, sizeof(sub));
	src = nginx_parse_line(line, size, &w, &soff, fields);
	if (rc == SL_NGINX_TOO_LARGE && overflow && src == SL_NGINX_OK)
		return; /* the first writer was made small on purpose */
	fuzz_check(src == rc && soff == off, "subset: same code and offset");
	if (rc != SL_NGINX_OK)
		return;
	len = sl_rec_end(&w);
	sr = (struct sl_rec){ sub, len };
	fuzz_check(sl_mp_read(full, full + sizeof(sub), &a) != NULL, "full record decodes");
	fr = (struct sl_rec){ full, a.raw_len };
	fuzz_check(sl_mp_read(sub, sub + len, &b) == sub + len && b.type == SL_VAL_MAP &&
			   b.n == (uint32_t)__builtin_popcountll(fields),
		   "subset: one map of the selected fields");
	for (int i = 0; i < 10; i++) {
		bool in_full = sl_rec_find(fr, names[i], strlen(names[i]), &a);
		bool in_sub = sl_rec_find(sr, names[i], strlen(names[i]), &b);

		fuzz_check(in_full, "full record has every field");
		fuzz_check(in_sub == ((fields >> i) & 1), "subset has exactly the selected fields");
		if (in_sub)
			fuzz_check(a.raw_len == b.raw_len && memcmp(a.raw, b.raw, a.raw_len) == 0,
				   "subset values equal the full record's");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rec[16384];
	static char rebuilt[16384];
	const char *line = (const char *)data;
	struct sl_rec_writer w;
	struct sl_val ip, user, tm, method, path, proto, status, bytes, ref, ua, k, v;
	struct sl_rec r;
	uint32_t off = UINT32_MAX, len, pos = 0, n_fields = 0;
	size_t n = 0, tail;
	int rc;

	for (int i = 0; i < 4; i++) {
		bool fast;
		const char *why = nginx_fast_check(
			line, size, i & 1 ? SL_NGINX_ALL_FIELDS : 0x9 + (size & 0x3f0), i & 2,
			i == 3 ? (uint32_t)(size + size % 97) : sizeof(rec), &fast);

		if (why)
			fuzz_check(0, why);
	}
	/* A writer smaller than the input on every 7th length exercises too_large. */
	sl_rec_begin(&w, rec, size % 7 == 3 ? (uint32_t)(size / 2 + 3) : sizeof(rec));
	rc = nginx_parse_line(line, size, &w, &off, SL_NGINX_ALL_FIELDS);
	fuzz_check(rc >= SL_NGINX_OK && rc < SL_NGINX_N_CODES, "return code in range");
	if (rc != SL_NGINX_OK) {
		fuzz_check(off <= size, "error offset within the line");
		fuzz_check(w.n_fields == 0 && w.len == 3, "writer untouched on error");
		fuzz_check((rc == SL_NGINX_TOO_LARGE) == w.overflow, "overflow iff too_large");
		fuzz_subset(line, size, rc, off, w.overflow, rec);
		return 0;
	}
	len = sl_rec_end(&w);
	fuzz_subset(line, size, rc, off, w.overflow, rec);
	fuzz_check(len > 3 && len == w.len, "record written");
	r = (struct sl_rec){ rec, len };
	fuzz_check(sl_mp_read(rec, rec + len, &v) == rec + len && v.type == SL_VAL_MAP && v.n == 10,
		   "one map of ten pairs spanning the record");
	while (sl_rec_next(r, &pos, &k, &v))
		n_fields++;
	fuzz_check(n_fields == 10, "ten fields iterate");

	ip = fuzz_field(r, "ip", SL_VAL_STR);
	user = fuzz_field(r, "user", SL_VAL_STR);
	tm = fuzz_field(r, "time", SL_VAL_STR);
	method = fuzz_field(r, "method", SL_VAL_STR);
	path = fuzz_field(r, "path", SL_VAL_STR);
	proto = fuzz_field(r, "protocol", SL_VAL_STR);
	status = fuzz_field(r, "status", SL_VAL_INT);
	bytes = fuzz_field(r, "bytes", SL_VAL_INT);
	ref = fuzz_field(r, "referer", SL_VAL_STR);
	ua = fuzz_field(r, "user_agent", SL_VAL_STR);
	fuzz_check(status.i >= 100 && status.i <= 599, "status in 100..599");
	fuzz_check(bytes.i >= 0, "bytes non-negative");
	fuzz_check(ip.s.len >= 1 && ip.s.len <= SL_NGINX_IP_MAX, "ip length");
	fuzz_check(user.s.len >= 1 && memchr(user.s.p, ' ', user.s.len) == NULL, "user");
	fuzz_check(tm.s.len == SL_NGINX_TIME_LEN, "time length");
	fuzz_check(method.s.len && path.s.len && proto.s.len, "request parts non-empty");
	fuzz_check(!memchr(method.s.p, ' ', method.s.len) && !memchr(path.s.p, ' ', path.s.len) &&
			   !memchr(proto.s.p, ' ', proto.s.len),
		   "request parts without spaces");

	/* Rebuild the line up to the status and from the referer on; both must match. */
	n = fuzz_put(rebuilt, n, ip);
	memcpy(rebuilt + n, " - ", 3);
	n = fuzz_put(rebuilt, n + 3, user);
	memcpy(rebuilt + n, " [", 2);
	n = fuzz_put(rebuilt, n + 2, tm);
	memcpy(rebuilt + n, "] \"", 3);
	n = fuzz_put(rebuilt, n + 3, method);
	rebuilt[n++] = ' ';
	n = fuzz_put(rebuilt, n, path);
	rebuilt[n++] = ' ';
	n = fuzz_put(rebuilt, n, proto);
	n += (size_t)snprintf(rebuilt + n, 16, "\" %03d ", (int)status.i);
	fuzz_check(n <= size && memcmp(rebuilt, line, n) == 0, "line prefix rebuilt");
	n = 0;
	rebuilt[n++] = '"';
	n = fuzz_put(rebuilt, n, ref);
	memcpy(rebuilt + n, "\" \"", 3);
	n = fuzz_put(rebuilt, n + 3, ua);
	rebuilt[n++] = '"';
	tail = size;
	while (tail > 0 && (line[tail - 1] == ' ' || line[tail - 1] == '\r'))
		tail--;
	fuzz_check(n <= tail && memcmp(rebuilt, line + tail - n, n) == 0, "line suffix rebuilt");
	return 0;
}
