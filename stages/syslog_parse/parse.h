/*
 * The syslog parser behind the syslog_parse stage: RFC 5424 and RFC 3164 (BSD) messages,
 * one per line, become records. A pure function over a byte range (syslog_parse_line),
 * header-only so the stage's burst loop and the fuzz target compile the same code; no
 * allocation.
 *
 *   RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
 *             STRUCTURED-DATA [SP MSG]
 *   RFC 3164: <PRI>Mmm dd hh:mm:ss SP HOSTNAME [SP [TAG[ '[' PID ']' ] ':' [SP]] MSG]
 *
 * Record fields, in this order: facility and severity (integers from PRI), version (5424),
 * timestamp (integer, ns since the epoch, UTC), hostname, app_name, procid, msgid (strings;
 * a 5424 "-" leaves the field out), one field per structured-data parameter named
 * "sd.<SD-ID>.<PARAM-NAME>" (string, \" \\ \] unescaped; an element without parameters is
 * "sd.<SD-ID>": {}), then msg (the rest of the line, a leading UTF-8 BOM removed; "" when
 * there is none). A 3164 timestamp has no year and no zone: the configured year is used and
 * the time is taken as UTC. A 3164 TAG is recognised only when it ends with ':'.
 */
#ifndef SL_STAGES_SYSLOG_PARSE_H
#define SL_STAGES_SYSLOG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sluice/record.h>

#include "../json_parse/parse_common.h"

/* Return codes of syslog_parse_line; also the stage's counter indexes (0 = "parsed"). */
enum sl_syslog_err {
	SL_SYSLOG_OK = 0,
	SL_SYSLOG_BAD_PRI,	 /* not '<' 1-3 digits (no leading zero) '>' with a value 0..191 */
	SL_SYSLOG_BAD_VERSION,	 /* (rfc5424 forced) not a version 1..999 followed by a space */
	SL_SYSLOG_BAD_TIMESTAMP, /* not RFC 3339 or '-' (5424), not "Mmm dd hh:mm:ss" (3164) */
	SL_SYSLOG_BAD_HOSTNAME,	 /* empty, a byte outside '!'..'~', over 255 bytes, no space */
	SL_SYSLOG_BAD_APP_NAME,	 /* the same rules, 48 bytes */
	SL_SYSLOG_BAD_PROCID,	 /* the same rules, 128 bytes */
	SL_SYSLOG_BAD_MSGID,	 /* the same rules, 32 bytes */
	SL_SYSLOG_BAD_SD,	 /* structured data that is neither '-' nor [id name="value"...] */
	SL_SYSLOG_TOO_LARGE,	 /* the record does not fit the event */
	SL_SYSLOG_N_CODES,
};

/* Reason names by code, then the stage's two other counters: also its counter table. */
static const char *const sl_syslog_err_names[SL_SYSLOG_N_CODES + 3] = {
	"parsed",	"bad_pri",    "bad_version", "bad_timestamp", "bad_hostname",
	"bad_app_name", "bad_procid", "bad_msgid",   "bad_sd",	      "too_large",
	"not_line",	"nombuf",     NULL,
};

enum sl_syslog_format { SL_SYSLOG_AUTO = 0, SL_SYSLOG_RFC3164, SL_SYSLOG_RFC5424 };

struct sl_syslog_conf {
	enum sl_syslog_format format;
	int year; /* for RFC 3164 timestamps */
};

/* SD-ID and PARAM-NAME: 1..32 printable bytes other than '=', ' ', ']' and '"'. */
#define SL_SYSLOG_SD_NAME_MAX 32

static inline bool syslog_print(char c)
{
	return (uint8_t)c >= 33 && (uint8_t)c <= 126;
}

/* <PRI> at the start; returns the byte after '>' or NULL with *at the offending byte. */
static inline const char *syslog_pri(const char *line, const char *end, int *pri, const char **at)
{
	const char *p = line + 1, *d;
	int v = 0;

	if (p > end || line[0] != '<') {
		*at = line;
		return NULL;
	}
	for (d = p; p < end && (unsigned)(*p - '0') <= 9 && p - d < 3; p++)
		v = v * 10 + (*p - '0');
	if (p == d) {
		*at = p;
		return NULL;
	}
	if (p == end || *p != '>') {
		*at = p;
		return NULL;
	}
	if (v > 191 || (p - d > 1 && *d == '0')) {
		*at = d;
		return NULL;
	}
	*pri = v;
	return p + 1;
}

/* A header field of 1..max printable bytes followed by a space; returns its end (the
 * space) or NULL with *at the offending byte. */
static inline const char *syslog_field(const char *p, const char *end, size_t max, const char **at)
{
	const char *s = p;

	while (p < end && syslog_print(*p) && (size_t)(p - s) < max)
		p++;
	if (p == s || p == end || *p != ' ') {
		*at = p;
		return NULL;
	}
	return p;
}

/* The field [s, e) unless it is the NILVALUE "-". */
static inline void syslog_put(struct sl_rec_writer *w, const char *key, const char *s,
			      const char *e)
{
	if (e - s == 1 && *s == '-')
		return;
	parse_put_key(w, key, strlen(key));
	parse_put_str(w, s, (size_t)(e - s));
}

/* An SD-ID or PARAM-NAME at p; returns its end or NULL. */
static inline const char *syslog_sd_name(const char *p, const char *end)
{
	const char *s = p;

	while (p < end && syslog_print(*p) && *p != '=' && *p != ']' && *p != '"' &&
	       (size_t)(p - s) < SL_SYSLOG_SD_NAME_MAX)
		p++;
	return p == s ? NULL : p;
}

/* A PARAM-VALUE from p (after its opening quote) as a string value, \" \\ \] unescaped
 * (any other backslash is kept). Returns the closing quote or NULL when there is none. */
static inline const char *syslog_sd_value(struct sl_rec_writer *w, const char *p, const char *end)
{
	const char *s = p, *q;
	size_t n = 0, esc = 0;
	uint8_t *o;

	for (q = p; q < end && *q != '"'; q++) {
		if (*q == '\\' && q + 1 < end && (q[1] == '"' || q[1] == '\\' || q[1] == ']')) {
			q++;
			esc++;
		}
	}
	if (q == end)
		return NULL;
	n = (size_t)(q - s) - esc;
	o = parse_room(w, parse_str_hdr_size(n) + n);
	if (!o)
		return q;
	o = parse_put_str_hdr(o, n);
	for (p = s; p < q; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == ']'))
			p++;
		*o++ = (uint8_t)*p;
	}
	w->len = (uint32_t)(o - w->p);
	return q;
}

/* STRUCTURED-DATA at p: '-' or one or more [id name="value" ...]; returns the byte after
 * it or NULL with *at the offending byte. */
static inline const char *syslog_sd(struct sl_rec_writer *w, const char *p, const char *end,
				    const char **at)
{
	char key[3 + 2 * SL_SYSLOG_SD_NAME_MAX + 1];
	const char *id, *e, *q;
	size_t klen;

	if (p < end && *p == '-')
		return p + 1;
	if (p == end || *p != '[') {
		*at = p;
		return NULL;
	}
	while (p < end && *p == '[') {
		bool params = false;

		id = p + 1;
		e = syslog_sd_name(id, end);
		if (!e) {
			*at = id;
			return NULL;
		}
		memcpy(key, "sd.", 3);
		memcpy(key + 3, id, (size_t)(e - id));
		klen = 3 + (size_t)(e - id);
		p = e;
		while (p < end && *p == ' ') {
			const char *name = p + 1;
			e = syslog_sd_name(name, end);
			if (!e) {
				*at = name;
				return NULL;
			}
			if (end - e < 2 || e[0] != '=' || e[1] != '"') {
				*at = e + (e < end && e[0] == '=');
				return NULL;
			}
			key[klen] = '.';
			memcpy(key + klen + 1, name, (size_t)(e - name));
			parse_put_key(w, key, klen + 1 + (size_t)(e - name));
			q = syslog_sd_value(w, e + 2, end);
			if (!q) {
				*at = end;
				return NULL;
			}
			p = q + 1;
			params = true;
		}
		if (p == end || *p != ']') {
			*at = p;
			return NULL;
		}
		if (!params) {
			uint8_t *o;

			parse_put_key(w, key, klen);
			o = parse_room(w, 1);
			if (o) {
				*o = 0x80; /* an empty map */
				w->len++;
			}
		}
		p++;
	}
	return p;
}

/* The message from p to the end, a leading UTF-8 BOM removed. */
static inline void syslog_msg(struct sl_rec_writer *w, const char *p, const char *end)
{
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	parse_put_key(w, "msg", 3);
	parse_put_str(w, p, (size_t)(end - p));
}

static inline int syslog_5424(const char *line, const char *p, const char *end,
			      struct sl_rec_writer *w, uint32_t *err_offset)
{
	const char *at = p, *e;
	int64_t ns = 0;
	size_t n;
	int v = 0;

	/* VERSION: 1..999 without a leading zero, then a space */
	if (p == end || *p < '1' || *p > '9')
		goto bad_version;
	for (e = p; e < end && (unsigned)(*e - '0') <= 9 && e - p < 3; e++)
		v = v * 10 + (*e - '0');
	if (e == end || *e != ' ') {
		at = e;
		goto bad_version;
	}
	parse_put_key(w, "version", 7);
	parse_put_int(w, v);
	/* TIMESTAMP */
	p = at = e + 1;
	if (p < end && *p == '-') {
		n = 1;
	} else {
		n = parse_rfc3339(p, end, &ns);
		if (!n)
			goto bad_timestamp;
		parse_put_key(w, "timestamp", 9);
		parse_put_int(w, ns);
	}
	p += n;
	if (p == end || *p != ' ') {
		at = p;
		goto bad_timestamp;
	}
	p++;
	if (!(e = syslog_field(p, end, 255, &at)))
		goto bad_hostname;
	syslog_put(w, "hostname", p, e);
	p = e + 1;
	if (!(e = syslog_field(p, end, 48, &at)))
		goto bad_app_name;
	syslog_put(w, "app_name", p, e);
	p = e + 1;
	if (!(e = syslog_field(p, end, 128, &at)))
		goto bad_procid;
	syslog_put(w, "procid", p, e);
	p = e + 1;
	if (!(e = syslog_field(p, end, 32, &at)))
		goto bad_msgid;
	syslog_put(w, "msgid", p, e);
	p = syslog_sd(w, e + 1, end, &at);
	if (!p)
		goto bad_sd;
	if (p < end && *p != ' ') {
		at = p;
		goto bad_sd;
	}
	syslog_msg(w, p < end ? p + 1 : p, end);
	return SL_SYSLOG_OK;

bad_version:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_VERSION;
bad_timestamp:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_TIMESTAMP;
bad_hostname:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_HOSTNAME;
bad_app_name:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_APP_NAME;
bad_procid:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_PROCID;
bad_msgid:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_MSGID;
bad_sd:
	*err_offset = (uint32_t)(at - line);
	return SL_SYSLOG_BAD_SD;
}

static inline int syslog_3164(const struct sl_syslog_conf *c, const char *line, const char *p,
			      const char *end, struct sl_rec_writer *w, uint32_t *err_offset)
{
	const char *at, *e, *tag, *tag_end, *pid = NULL, *pid_end = NULL;
	int mo, d, h, mi, s;
	int64_t ns = 0;

	/* "Mmm dd hh:mm:ss " with the day as "dd" or " d" */
	if (end - p < 16 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':' ||
	    p[15] != ' ')
		goto bad_timestamp;
	mo = parse_month(p);
	d = p[4] == ' ' ? parse_digits(p + 5, 1) : parse_digits(p + 4, 2);
	h = parse_digits(p + 7, 2);
	mi = parse_digits(p + 10, 2);
	s = parse_digits(p + 13, 2);
	if (d < 0 || h < 0 || mi < 0 || s < 0 || !parse_civil_ns(c->year, mo, d, h, mi, s, &ns))
		goto bad_timestamp;
	parse_put_key(w, "timestamp", 9);
	parse_put_int(w, ns);
	/* HOSTNAME, then a space or the end */
	p += 16;
	for (e = p; e < end && syslog_print(*e) && e - p < 255; e++)
		;
	if (e == p || (e < end && *e != ' ')) {
		at = e;
		*err_offset = (uint32_t)(at - line);
		return SL_SYSLOG_BAD_HOSTNAME;
	}
	parse_put_key(w, "hostname", 8);
	parse_put_str(w, p, (size_t)(e - p));
	p = e < end ? e + 1 : e;
	/* TAG[PID]: when it ends with ':'; else everything is the message */
	tag = p;
	for (e = p; e < end && syslog_print(*e) && *e != '[' && *e != ':' && e - p < 48; e++)
		;
	tag_end = e;
	if (e > tag && e < end && *e == '[') {
		pid = e + 1;
		for (e = pid; e < end && syslog_print(*e) && *e != ']' && e - pid < 128; e++)
			;
		pid_end = e;
		if (e == pid || e == end || *e != ']')
			pid = NULL;
		if (e < end)
			e++;
	}
	if (e > tag && e < end && *e == ':' && (pid || tag_end == e)) {
		parse_put_key(w, "app_name", 8);
		parse_put_str(w, tag, (size_t)(tag_end - tag));
		if (pid) {
			parse_put_key(w, "procid", 6);
			parse_put_str(w, pid, (size_t)(pid_end - pid));
		}
		p = e + 1;
		if (p < end && *p == ' ')
			p++;
	}
	syslog_msg(w, p, end);
	return SL_SYSLOG_OK;

bad_timestamp:
	*err_offset = (uint32_t)(p - line);
	return SL_SYSLOG_BAD_TIMESTAMP;
}

/*
 * Parse one line (no newline) and append its fields to w. Returns SL_SYSLOG_OK (w may have
 * overflowed: the caller's sl_rec_end says), or an error code with *err_offset the byte
 * offset in line the error names.
 */
static inline int syslog_parse_line(const struct sl_syslog_conf *c, const char *line, size_t len,
				    struct sl_rec_writer *w, uint32_t *err_offset)
{
	const char *end = line + len, *p, *at;
	bool is_5424;
	int pri = 0;

	p = syslog_pri(line, end, &pri, &at);
	if (!p) {
		*err_offset = (uint32_t)(at - line);
		return SL_SYSLOG_BAD_PRI;
	}
	parse_put_key(w, "facility", 8);
	parse_put_int(w, pri >> 3);
	parse_put_key(w, "severity", 8);
	parse_put_int(w, pri & 7);
	if (c->format == SL_SYSLOG_AUTO) {
		/* 5424 when a version (1-3 digits, no leading zero) and a space follow */
		const char *e = p;
		while (e < end && (unsigned)(*e - '0') <= 9 && e - p < 4)
			e++;
		is_5424 = e > p && e - p <= 3 && *p != '0' && e < end && *e == ' ';
	} else {
		is_5424 = c->format == SL_SYSLOG_RFC5424;
	}
	return is_5424 ? syslog_5424(line, p, end, w, err_offset)
		       : syslog_3164(c, line, p, end, w, err_offset);
}

#endif
