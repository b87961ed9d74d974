/*
 * The `stdout` sink: raw lines or JSON lines on standard output through a 64 KiB buffer,
 * or, with format table, every record collected and printed at the final flush as an
 * aligned text table (columns = keys in first-seen order, numbers right-aligned). create
 * runs on the control thread; write and flush on the one worker lcore that drives the
 * sink. It owns its output buffer and, for table, a copy of up to STDOUT_TABLE_ROWS
 * records (a growing buffer: table output is for people reading a terminal, not for the
 * fast path); records beyond that are counted and reported, not shown.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "base/log.h"
#include "format/json.h"
#include "sink.h"

#define STDOUT_BUF_BYTES     (64u << 10)
#define STDOUT_SCRATCH_BYTES (1u << 20) /* any 64 KiB event formats within 6x its size */
#define STDOUT_TABLE_ROWS    10000
#define STDOUT_TABLE_BYTES   (64u << 20)
#define STDOUT_TABLE_COLS    64
#define STDOUT_CELL_MAX	     64 /* display columns before a cell is cut */

struct table_row {
	uint32_t off, len; /* bytes in the store */
	bool line;	   /* a line, shown in column "line"; else a msgpack record */
};

struct table_col {
	char *name; /* the key (name_len bytes), then its header label */
	uint32_t name_len;
	uint32_t label_len;
	uint32_t width;
	bool numeric; /* every value present is a number */
};

struct stdout_sink {
	enum sl_sink_format fmt;
	int meta_offset;
	int fd;
	int err;
	char *buf;
	uint32_t len;
	char *scratch; /* for one event larger than buf, allocated when first needed */
	uint8_t *store;
	size_t store_len, store_cap;
	struct table_row *rows;
	uint32_t n_rows, rows_cap;
	bool table_printed;
	uint32_t line_start; /* table line being built in buf */
	uint64_t n_events, n_bytes, n_encode_errors, n_discarded, n_not_shown;
};

static const struct sl_param_desc stdout_params[] = {
	{ "format", SL_PARAM_STR, false, "jsonl", "raw | jsonl | table" },
	{ NULL },
};

static void stdout_write_all(struct stdout_sink *s, const char *p, size_t n)
{
	while (n && !s->err) {
		ssize_t r = write(s->fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

			poll(&pfd, 1, 100);
			continue;
		}
		if (r <= 0) {
			s->err = r < 0 ? -errno : -EIO;
			SL_ERR("stdout",
			       "write to standard output failed: %s; discarding further "
			       "events",
			       strerror(-s->err));
			return;
		}
		p += r;
		n -= (size_t)r;
	}
}

static void stdout_drain(struct stdout_sink *s)
{
	stdout_write_all(s, s->buf, s->len);
	s->len = 0;
}

static void stdout_put(struct stdout_sink *s, const char *p, size_t n)
{
	if (n > STDOUT_BUF_BYTES - s->len)
		stdout_drain(s);
	if (n > STDOUT_BUF_BYTES) {
		stdout_write_all(s, p, n);
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += (uint32_t)n;
}

/* Format one event into the buffer (or, if larger than the buffer, write it directly). */
static void stdout_format(struct stdout_sink *s, struct rte_mbuf *m)
{
	long r = sl_sink_format_event(s->fmt, s->meta_offset, m, s->buf + s->len,
				      STDOUT_BUF_BYTES - s->len);

	if (r == -2 && s->len > 0) {
		stdout_drain(s);
		r = sl_sink_format_event(s->fmt, s->meta_offset, m, s->buf, STDOUT_BUF_BYTES);
	}
	if (r == -2) {
		if (!s->scratch)
			s->scratch = malloc(STDOUT_SCRATCH_BYTES);
		r = s->scratch ? sl_sink_format_event(s->fmt, s->meta_offset, m, s->scratch,
						      STDOUT_SCRATCH_BYTES)
			       : -2;
		if (r > 0)
			stdout_write_all(s, s->scratch, (size_t)r);
		else
			s->n_encode_errors++;
		if (r > 0) {
			s->n_events++;
			s->n_bytes += (uint64_t)r;
		}
		return;
	}
	if (r < 0) {
		s->n_encode_errors++;
		return;
	}
	s->len += (uint32_t)r;
	s->n_events++;
	s->n_bytes += (uint64_t)r;
}

/* Keep a copy of the event's record (or line) for the table. */
static void stdout_collect(struct stdout_sink *s, struct rte_mbuf *m)
{
	const struct sl_meta *meta = sl_event_meta(s->meta_offset, m);
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	bool rec = meta->kind == SL_EVENT_RECORD && meta->rec_off < m->data_len;
	uint32_t off = rec ? meta->rec_off : 0;
	uint32_t len = rec ? m->data_len - meta->rec_off
			   : (meta->raw_len < m->data_len ? meta->raw_len : m->data_len);

	if (s->n_rows >= STDOUT_TABLE_ROWS || s->store_len + len > STDOUT_TABLE_BYTES) {
		s->n_not_shown++;
		return;
	}
	if (s->n_rows == s->rows_cap) {
		uint32_t cap = s->rows_cap ? 2 * s->rows_cap : 256;
		struct table_row *r = realloc(s->rows, cap * sizeof(*r));

		if (!r) {
			s->n_not_shown++;
			return;
		}
		s->rows = r;
		s->rows_cap = cap;
	}
	if (s->store_len + len > s->store_cap) {
		size_t cap = s->store_cap ? 2 * s->store_cap : 65536;
		uint8_t *p;

		while (cap < s->store_len + len)
			cap *= 2;
		p = realloc(s->store, cap);
		if (!p) {
			s->n_not_shown++;
			return;
		}
		s->store = p;
		s->store_cap = cap;
	}
	memcpy(s->store + s->store_len, data + off, len);
	s->rows[s->n_rows++] = (struct table_row){ (uint32_t)s->store_len, len, !rec };
	s->store_len += len;
	s->n_events++;
}

static uint16_t stdout_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct stdout_sink *s = self;

	for (uint16_t i = 0; i < n; i++) {
		if (s->err)
			s->n_discarded++;
		else if (s->fmt == SL_FORMAT_TABLE)
			stdout_collect(s, ev[i]);
		else
			stdout_format(s, ev[i]);
	}
	rte_pktmbuf_free_bulk(ev, n);
	return n;
}

/* Display columns of valid UTF-8 text: one per code point. */
static uint32_t text_width(const char *p, size_t n)
{
	uint32_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((uint8_t)p[i] & 0xc0) != 0x80;
	return w;
}

/* Cut text to STDOUT_CELL_MAX columns at a code point boundary, marking the cut. */
static size_t cell_cut(char *p, size_t n, size_t cap)
{
	uint32_t w = 0;
	size_t i;

	if (text_width(p, n) <= STDOUT_CELL_MAX)
		return n;
	for (i = 0; i < n; i++) {
		if (((uint8_t)p[i] & 0xc0) != 0x80 && ++w > STDOUT_CELL_MAX - 3)
			break;
	}
	if (i + 3 > cap)
		return i;
	memcpy(p + i, "...", 3);
	return i + 3;
}

/* Text of one value for a cell: strings unquoted but escaped (no control bytes reach the
 * terminal), everything else as JSON. */
static size_t cell_text(const struct sl_val *v, char *out, size_t cap)
{
	long n;

	if (v->type == SL_VAL_STR) {
		n = sl_json_string(v->s.p, v->s.len, out, cap);
		if (n < 2)
			return 0;
		memmove(out, out + 1, (size_t)n - 2);
		n -= 2;
	} else {
		n = sl_json_from_value(v->raw, v->raw_len, out, cap);
	}
	if (n == -2) {
		/* Too long to keep whole: show what is known to fit. */
		memcpy(out, "(large)", 7);
		return 7;
	}
	if (n < 0)
		return 0;
	return cell_cut(out, (size_t)n, cap);
}

static bool val_numeric(const struct sl_val *v)
{
	return v->type == SL_VAL_INT || v->type == SL_VAL_UINT || v->type == SL_VAL_FLOAT;
}

/* Column index for a key, added when new (with add) and room is left; -1 when not shown. */
static int table_col(struct table_col *cols, uint32_t *n_cols, const char *k, uint32_t klen,
		     bool add)
{
	for (uint32_t c = 0; c < *n_cols; c++)
		if (cols[c].name_len == klen && memcmp(cols[c].name, k, klen) == 0)
			return (int)c;
	if (!add || *n_cols == STDOUT_TABLE_COLS)
		return -1;
	/* The whole key for lookups, then the header label (cut when too wide) after it. */
	cols[*n_cols].name = malloc(2 * (size_t)klen + 4);
	if (!cols[*n_cols].name)
		return -1;
	memcpy(cols[*n_cols].name, k, klen);
	memcpy(cols[*n_cols].name + klen, k, klen);
	cols[*n_cols].name_len = klen;
	cols[*n_cols].label_len = (uint32_t)cell_cut(cols[*n_cols].name + klen, klen, klen + 4);
	cols[*n_cols].width = text_width(cols[*n_cols].name + klen, cols[*n_cols].label_len);
	cols[*n_cols].numeric = true;
	return (int)(*n_cols)++;
}

/* Fill vals[c] (type NONE when absent) for one row; with add, grow the columns. */
static void table_row_vals(struct stdout_sink *s, const struct table_row *row,
			   struct table_col *cols, uint32_t *n_cols, struct sl_val *vals, bool add,
			   char *tmp, size_t tmp_cap)
{
	struct sl_rec rec = { s->store + row->off, row->len };
	struct sl_val k, v;
	uint32_t pos = 0;

	for (uint32_t c = 0; c < STDOUT_TABLE_COLS; c++)
		vals[c].type = SL_VAL_NONE;
	if (row->line) {
		int c = table_col(cols, n_cols, "line", 4, add);

		if (c >= 0) {
			vals[c].type = SL_VAL_STR;
			vals[c].s.p = (const char *)rec.p;
			vals[c].s.len = rec.len;
		}
		return;
	}
	while (sl_rec_next(rec, &pos, &k, &v)) {
		const char *kp = k.s.p;
		uint32_t klen = k.s.len;
		int c;

		if (k.type != SL_VAL_STR) {
			klen = (uint32_t)cell_text(&k, tmp, tmp_cap);
			kp = tmp;
		}
		c = table_col(cols, n_cols, kp, klen, add);
		if (c >= 0 && vals[c].type == SL_VAL_NONE)
			vals[c] = v;
	}
}

static void table_pad(struct stdout_sink *s, uint32_t n)
{
	static const char spaces[] = "                                ";

	while (n) {
		uint32_t k = n < sizeof(spaces) - 1 ? n : (uint32_t)sizeof(spaces) - 1;

		stdout_put(s, spaces, k);
		n -= k;
	}
}

/* A line of the table is built whole in the output buffer (it fits: at most
 * STDOUT_TABLE_COLS cells of STDOUT_CELL_MAX columns), so its trailing blanks can be cut. */
#define STDOUT_LINE_MAX (STDOUT_TABLE_COLS * (4 * STDOUT_CELL_MAX + 8))

static void table_line_begin(struct stdout_sink *s)
{
	if (STDOUT_BUF_BYTES - s->len < STDOUT_LINE_MAX)
		stdout_drain(s);
	s->line_start = s->len;
}

static void table_line_end(struct stdout_sink *s)
{
	while (s->len > s->line_start && s->buf[s->len - 1] == ' ')
		s->len--;
	stdout_put(s, "\n", 1);
}

static void table_cell(struct stdout_sink *s, const char *t, size_t n, uint32_t width, bool right,
		       bool first)
{
	uint32_t w = text_width(t, n), pad = width > w ? width - w : 0;

	if (!first)
		stdout_put(s, "  ", 2);
	if (right)
		table_pad(s, pad);
	stdout_put(s, t, n);
	if (!right)
		table_pad(s, pad);
}

static void table_print(struct stdout_sink *s)
{
	struct table_col cols[STDOUT_TABLE_COLS];
	struct sl_val vals[STDOUT_TABLE_COLS];
	uint32_t n_cols = 0;
	char tmp[4 * STDOUT_CELL_MAX + 64];
	char *cell = malloc(STDOUT_SCRATCH_BYTES);

	if (!cell) {
		SL_ERR("stdout", "out of memory printing the table");
		return;
	}
	/* Pass 1: columns, widths and which columns are all numbers. */
	for (uint32_t r = 0; r < s->n_rows; r++) {
		table_row_vals(s, &s->rows[r], cols, &n_cols, vals, true, tmp, sizeof(tmp));
		for (uint32_t c = 0; c < n_cols; c++) {
			size_t n;

			if (vals[c].type == SL_VAL_NONE)
				continue;
			n = cell_text(&vals[c], cell, STDOUT_SCRATCH_BYTES);
			if (text_width(cell, n) > cols[c].width)
				cols[c].width = text_width(cell, n);
			cols[c].numeric &= val_numeric(&vals[c]);
		}
	}
	/* Pass 2: header, then one line per row. */
	if (n_cols) {
		table_line_begin(s);
		for (uint32_t c = 0; c < n_cols; c++)
			table_cell(s, cols[c].name + cols[c].name_len, cols[c].label_len,
				   cols[c].width, cols[c].numeric, c == 0);
		table_line_end(s);
	}
	for (uint32_t r = 0; r < s->n_rows && n_cols; r++) {
		table_row_vals(s, &s->rows[r], cols, &n_cols, vals, false, tmp, sizeof(tmp));
		table_line_begin(s);
		for (uint32_t c = 0; c < n_cols; c++) {
			size_t n = 0;

			if (vals[c].type != SL_VAL_NONE)
				n = cell_text(&vals[c], cell, STDOUT_SCRATCH_BYTES);
			table_cell(s, cell, n, cols[c].width, val_numeric(&vals[c]), c == 0);
		}
		table_line_end(s);
	}
	if (s->n_not_shown)
		SL_NOTICE("stdout", "table shows the first %u records; %" PRIu64 " more not shown",
			  s->n_rows, s->n_not_shown);
	for (uint32_t c = 0; c < n_cols; c++)
		free(cols[c].name);
	free(cell);
}

static int stdout_flush(void *self, bool final)
{
	struct stdout_sink *s = self;

	if (final && s->fmt == SL_FORMAT_TABLE && !s->table_printed) {
		s->table_printed = true;
		table_print(s);
	}
	stdout_drain(s);
	return s->err;
}

static void stdout_summary_line(void *self, char *buf, size_t len)
{
	struct stdout_sink *s = self;

	snprintf(buf, len,
		 "events=%" PRIu64 " bytes=%" PRIu64 " encode_errors=%" PRIu64 " discarded=%" PRIu64
		 " not_shown=%" PRIu64,
		 s->n_events, s->n_bytes, s->n_encode_errors, s->n_discarded, s->n_not_shown);
}

static void stdout_destroy(void *self)
{
	struct stdout_sink *s = self;

	if (!s)
		return;
	free(s->buf);
	free(s->scratch);
	free(s->store);
	free(s->rows);
	free(s);
}

static int stdout_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *format = sl_args_get(args, "format");

	if (format && sl_sink_format_parse(format->str) < 0) {
		err->key = "format";
		snprintf(err->msg, sizeof(err->msg), "format must be raw, jsonl or table, not '%s'",
			 format->str);
		return -EINVAL;
	}
	return 0;
}

static int stdout_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
			 struct sl_error *err)
{
	const struct sl_arg *format = sl_args_get(args, "format");
	int fmt = format ? sl_sink_format_parse(format->str) : SL_FORMAT_JSONL;
	struct stdout_sink *s;

	*self = NULL;
	if (stdout_check(args, err) < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->buf = malloc(STDOUT_BUF_BYTES);
	if (!s->buf) {
		free(s);
		return -ENOMEM;
	}
	s->fmt = (enum sl_sink_format)fmt;
	s->meta_offset = env->meta_offset;
	s->fd = STDOUT_FILENO;
	*self = s;
	return 0;
}

const struct sl_sink_ops sl_sink_stdout = {
	.type = "stdout",
	.summary = "print events on standard output: raw lines, JSON lines or a table at the end",
	.params = stdout_params,
	.create = stdout_create,
	.check = stdout_check,
	.write = stdout_write,
	.flush = stdout_flush,
	.summary_line = stdout_summary_line,
	.destroy = stdout_destroy,
};
