/*
 * Fuzz target for regex_parse (parse.h). The first byte picks what the rest is: below 0xc0,
 * a line for one of a few fixed configurations (typed groups of every kind, optional and
 * alternative groups), built once; from 0xc0 up, a pattern (at most 256 bytes) for
 * regex_conf_create, whose result must be a configuration or an error naming a byte inside
 * the pattern, and which is then matched against its own text. Never a crash or an
 * out-of-bounds access; on success the record must be one map spanning the bytes written,
 * string fields must be bytes of the line and typed fields of their type; on failure the
 * offset must lie within the line. Every build replays tests/fuzz/corpus/regex_parse; -Dfuzz=true
 * builds it for fuzzing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#define FUZZ_TARGET "regex_parse_fuzz"

#include "parse.h"
#include "../json_parse/parse_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int regex_one(const void *conf, const char *line, size_t len, struct sl_rec_writer *w,
		     uint32_t *off)
{
	const struct sl_regex_conf *c = conf;

	return regex_parse_line(c, c->md[0], line, len, w, off);
}

static const char *const fuzz_types[] = { "n:int", "f:float", "b:bool", "t:rfc3339", "c:clf" };

static const struct {
	const char *pattern;
	uint32_t n_types;
} fuzz_patterns[] = {
	{ "^(?<n>-?\\d*) (?<f>\\S*) (?<b>\\w*) (?<t>\\S*) \\[(?<c>[^\\]]*)\\] (?<s>.*)$", 5 },
	{ "(?<a>\\w+)=(?<v>\"[^\"]*\"|\\S*)(?: (?<opt>x+))?|(?<alt>^#.*)", 0 },
	{ "^(?<ip>\\S+) \\S+ (?<user>\\S+) \\[(?<c>[^\\]]+)\\] \"(?<m>\\S+) (?<p>\\S+)", 1 },
};

static const enum sl_val_type fuzz_want[SL_REGEX_N_TYPES] = {
	[SL_REGEX_STR] = SL_VAL_STR,	 [SL_REGEX_INT] = SL_VAL_INT,
	[SL_REGEX_FLOAT] = SL_VAL_FLOAT, [SL_REGEX_BOOL] = SL_VAL_BOOL,
	[SL_REGEX_RFC3339] = SL_VAL_INT, [SL_REGEX_CLF] = SL_VAL_INT,
};

static void fuzz_match(const struct sl_regex_conf *c, const char *line, size_t size)
{
	static uint8_t rec[1 << 17];
	struct sl_val v, k;
	uint32_t len, pos = 0, i = 0;

	len = fuzz_parse(regex_one, c, (const uint8_t *)line, size, rec, sizeof(rec),
			 SL_REGEX_TOO_LARGE);
	if (len == 0)
		return;
	while (sl_rec_next((struct sl_rec){ rec, len }, &pos, &k, &v)) {
		const struct sl_regex_group *g;

		/* fields come in group order, a subset of the named groups */
		while (i < c->n_groups && (c->groups[i].name_len != k.s.len ||
					   memcmp(c->groups[i].name, k.s.p, k.s.len) != 0))
			i++;
		fuzz_check(i < c->n_groups, "each field is a named group, in order");
		g = &c->groups[i++];
		fuzz_check(v.type == fuzz_want[g->type], "a field has its group's type");
		if (v.type == SL_VAL_STR)
			fuzz_check(v.s.len == 0 || memmem(line, size, v.s.p, v.s.len) != NULL,
				   "a string field is bytes of the line");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_regex_conf *fixed[3];
	const char *key;
	uint32_t off;
	char msg[240];

	if (size == 0 || size > 65535)
		return 0;
	if (!fixed[0]) {
		for (int i = 0; i < 3; i++) {
			int rc = regex_conf_create(fuzz_patterns[i].pattern,
						   i == 2 ? fuzz_types + 4 : fuzz_types,
						   fuzz_patterns[i].n_types, 1, &fixed[i], &key,
						   &off, msg, sizeof(msg));
			fuzz_check(rc == 0, "fixed patterns compile");
		}
	}
	if (data[0] < 0xc0) {
		fuzz_match(fixed[data[0] % 3], (const char *)data + 1, size - 1);
		return 0;
	}
	if (size - 1 <= 256) {
		struct sl_regex_conf *c = NULL;
		char pattern[257];
		int rc;

		memcpy(pattern, data + 1, size - 1);
		pattern[size - 1] = '\0';
		rc = regex_conf_create(pattern, NULL, 0, 1, &c, &key, &off, msg, sizeof(msg));
		if (rc != 0) {
			fuzz_check(rc == -EINVAL && c == NULL && key && msg[0],
				   "a refused pattern says why");
			fuzz_check(off <= strlen(pattern),
				   "the error offset is inside the pattern");
			return 0;
		}
		fuzz_match(c, pattern, strlen(pattern));
		regex_conf_destroy(c);
	}
	return 0;
}
