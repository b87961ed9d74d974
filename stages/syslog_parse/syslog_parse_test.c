/*
 * Unit test of syslog_parse: the pure parser (parse.h) on the RFC 5424 and RFC 3164
 * examples and edge cases (NILVALUEs, fractions and offsets, structured data with escapes
 * and empty elements, BOM, space-padded days, tags with and without PID, forced formats),
 * with timestamps checked against values worked out by hand (date -u -d ... +%s); on one
 * line per malformation, where a '|' in the case text marks the byte the error offset must
 * name; on every writer size; then the stage's process() on mbufs through the checks every
 * parser stage shares (../json_parse/parse_test.h) and bad parameters at init.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "parse.h"
#include "../json_parse/parse_test.h"

static const struct sl_syslog_conf autof = { .format = SL_SYSLOG_AUTO, .year = 2024 };
static const struct sl_syslog_conf f3164 = { .format = SL_SYSLOG_RFC3164, .year = 2023 };
static const struct sl_syslog_conf f5424 = { .format = SL_SYSLOG_RFC5424, .year = 2024 };

static uint8_t rec_buf[65536];

static struct sl_rec parse_ok(const struct sl_syslog_conf *c, const char *line)
{
	struct sl_rec_writer w;
	uint32_t off = 99999, len;
	int rc;

	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	rc = syslog_parse_line(c, line, strlen(line), &w, &off);
	if (rc != SL_SYSLOG_OK)
		fail_msg("line '%s': %s at %u, expected success", line, sl_syslog_err_names[rc],
			 off);
	len = sl_rec_end(&w);
	assert_true(len > 3);
	return (struct sl_rec){ rec_buf, len };
}

#define S(x) x, sizeof(x) - 1

static void test_5424(void **unused)
{
	struct sl_rec r;

	/* RFC 5424 section 6.5, example 1 (with a real BOM) */
	r = parse_ok(&autof, "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
			     "\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8");
	pt_keys(r, "facility,severity,version,timestamp,hostname,app_name,msgid,msg");
	pt_int(r, "facility", 4);
	pt_int(r, "severity", 2);
	pt_int(r, "version", 1);
	pt_int(r, "timestamp", 1065910455003000000); /* date -u -d 2003-10-11T22:14:15Z +%s */
	pt_str(r, "hostname", S("mymachine.example.com"));
	pt_str(r, "app_name", S("su"));
	pt_absent(r, "procid");
	pt_str(r, "msgid", S("ID47"));
	pt_str(r, "msg", S("'su root' failed for lonvick on /dev/pts/8"));
	/* example 2: microseconds and a negative offset; no structured data, a message */
	r = parse_ok(&autof, "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
			     "%% It's time to make the do-nuts.");
	pt_int(r, "facility", 20);
	pt_int(r, "severity", 5);
	pt_int(r, "timestamp", 1061727255000003000); /* 2003-08-24T12:14:15Z */
	pt_str(r, "procid", S("8710"));
	pt_absent(r, "msgid");
	pt_str(r, "msg", S("%% It's time to make the do-nuts."));
	/* example 3 and 4: structured data, with and without a message */
	r = parse_ok(&autof,
		     "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
		     "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
		     "eventID=\"1011\"][examplePriority@32473 class=\"high\"]");
	pt_keys(r, "facility,severity,version,timestamp,hostname,app_name,msgid,"
		   "sd.exampleSDID@32473.iut,sd.exampleSDID@32473.eventSource,"
		   "sd.exampleSDID@32473.eventID,sd.examplePriority@32473.class,msg");
	pt_str(r, "sd.exampleSDID@32473.eventSource", S("Application"));
	pt_str(r, "sd.examplePriority@32473.class", S("high"));
	pt_str(r, "msg", "", 0);
	/* every field nil; escapes in values (\" \\ \] unescaped, others kept); an empty
	 * element; ']' unescaped inside a value; a +hh:mm offset, no fraction */
	r = parse_ok(&autof, "<0>999 - - - - - [a x=\"q\\\"b\\\\c\\]d\\ne]f\"][empty] m");
	pt_keys(r, "facility,severity,version,sd.a.x,sd.empty,msg");
	pt_int(r, "facility", 0);
	pt_int(r, "version", 999);
	pt_str(r, "sd.a.x", S("q\"b\\c]d\\ne]f"));
	assert_int_equal(pt_field(r, "sd.empty", SL_VAL_MAP).n, 0);
	pt_str(r, "msg", S("m"));
	r = parse_ok(&autof, "<191>1 1970-01-01T01:00:00+01:00 h a p m -");
	pt_int(r, "facility", 23);
	pt_int(r, "severity", 7);
	pt_int(r, "timestamp", 0);
	r = parse_ok(&autof, "<13>1 2024-02-29T23:59:59.123456789z h a p m - ");
	pt_int(r, "timestamp", 1709251199123456789);
	pt_str(r, "msg", "", 0);
	/* forced 5424 */
	r = parse_ok(&f5424, "<13>1 - h a p m -");
	pt_absent(r, "timestamp");
}

static void test_3164(void **unused)
{
	struct sl_rec r;

	/* RFC 3164 section 5.4 examples; the year comes from the configuration */
	r = parse_ok(&f3164, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on "
			     "/dev/pts/8");
	pt_keys(r, "facility,severity,timestamp,hostname,app_name,msg");
	pt_int(r, "timestamp", 1697062455000000000); /* 2023-10-11T22:14:15Z */
	pt_str(r, "hostname", S("mymachine"));
	pt_str(r, "app_name", S("su"));
	pt_str(r, "msg", S("'su root' failed for lonvick on /dev/pts/8"));
	r = parse_ok(&autof, "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
	pt_keys(r, "facility,severity,timestamp,hostname,msg");
	pt_int(r, "timestamp", 1707154338000000000); /* 2024-02-05T17:32:18Z */
	pt_str(r, "msg", S("Use the BFG!"));
	/* a tag with a PID; a zero-padded day; Feb 29 in a leap year */
	r = parse_ok(&autof, "<38>Feb 29 00:00:00 host sshd[1234]: Accepted");
	pt_int(r, "timestamp", 1709164800000000000);
	pt_str(r, "app_name", S("sshd"));
	pt_str(r, "procid", S("1234"));
	pt_str(r, "msg", S("Accepted"));
	r = parse_ok(&autof, "<38>Jan 05 00:00:00 host cron:no space");
	pt_str(r, "app_name", S("cron"));
	pt_str(r, "msg", S("no space"));
	/* not tags: no ':' after, a PID not closed, an empty PID, a space inside */
	r = parse_ok(&autof, "<38>Jan  5 00:00:00 host sshd[12] x");
	pt_absent(r, "app_name");
	pt_str(r, "msg", S("sshd[12] x"));
	r = parse_ok(&autof, "<38>Jan  5 00:00:00 host a[]: x");
	pt_absent(r, "app_name");
	r = parse_ok(&autof, "<38>Jan  5 00:00:00 host a b: x");
	pt_absent(r, "app_name");
	/* no message at all */
	r = parse_ok(&autof, "<38>Jan  5 00:00:00 host");
	pt_str(r, "hostname", S("host"));
	pt_str(r, "msg", "", 0);
	/* a 5424-looking line forced to 3164 fails on its timestamp */
	{
		struct sl_rec_writer w;
		uint32_t off;
		const char *l = "<13>1 2003-10-11T22:14:15Z h a p m -";

		sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
		assert_int_equal(syslog_parse_line(&f3164, l, strlen(l), &w, &off),
				 SL_SYSLOG_BAD_TIMESTAMP);
		assert_int_equal(off, 4);
	}
}

static int syslog_one(const void *c, const char *line, size_t len, struct sl_rec_writer *w,
		      uint32_t *off)
{
	return syslog_parse_line(c, line, len, w, off);
}

#define TS5 "2003-10-11T22:14:15Z"
static const struct pt_bad_case bad_cases[] = {
	{ "|", SL_SYSLOG_BAD_PRI, &autof },
	{ "|34>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<|>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<|x>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<123|4>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<|192>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<|034>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<|00>1 - h a p m -", SL_SYSLOG_BAD_PRI, &autof },
	{ "<34|", SL_SYSLOG_BAD_PRI, &autof },
	{ "<13>|0 - h a p m -", SL_SYSLOG_BAD_VERSION, &f5424 },
	{ "<13>1|x - h a p m -", SL_SYSLOG_BAD_VERSION, &f5424 },
	{ "<13>123|4 - h a p m -", SL_SYSLOG_BAD_VERSION, &f5424 },
	{ "<13>|", SL_SYSLOG_BAD_VERSION, &f5424 },
	{ "<13>1 |2003-10-11 22:14:15Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-13-11T22:14:15Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-02-29T22:14:15Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-10-11T24:14:15Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-10-11T22:14:60Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-10-11T22:14:15 h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-10-11T22:14:15.Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-10-11T22:14:15.1234567890Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |2003-10-11T22:14:15+0100 h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	/* beyond int64 ns (found by the fuzzer: the product overflowed) */
	{ "<13>1 |2262-04-10T00:00:00Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |9999-12-31T23:59:59Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 |1677-09-20T00:00:00Z h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 " TS5 "|x h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 -|x h a p m -", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>1 " TS5 " | a p m -", SL_SYSLOG_BAD_HOSTNAME, &autof },
	{ "<13>1 " TS5 " h|", SL_SYSLOG_BAD_HOSTNAME, &autof },
	{ "<13>1 " TS5 " h|\x01 a p m -", SL_SYSLOG_BAD_HOSTNAME, &autof },
	{ "<13>1 " TS5 " h |", SL_SYSLOG_BAD_APP_NAME, &autof },
	{ "<13>1 " TS5 " h 123456789012345678901234567890123456789012345678|9 p m -",
	  SL_SYSLOG_BAD_APP_NAME, &autof },
	{ "<13>1 " TS5 " h a | m -", SL_SYSLOG_BAD_PROCID, &autof },
	{ "<13>1 " TS5 " h a p |", SL_SYSLOG_BAD_MSGID, &autof },
	{ "<13>1 " TS5 " h a p 12345678901234567890123456789012|3 -", SL_SYSLOG_BAD_MSGID, &autof },
	{ "<13>1 " TS5 " h a p m |", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m |x", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m -|x", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [|]", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id|", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id |]", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id a|]", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id a=|b]", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id a=\"b|", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id a=\"b\\\"]|", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id a=\"b\"|x]", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [id a=\"b\"]|x", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>1 " TS5 " h a p m [12345678901234567890123456789012|3]", SL_SYSLOG_BAD_SD, &autof },
	{ "<13>|Oct 11 22:14:15", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|Oct 11 22:14:15x host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|oct 11 22:14:15 host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|Oct 32 22:14:15 host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|Feb 29 22:14:15 host m", SL_SYSLOG_BAD_TIMESTAMP, &f3164 },
	{ "<13>|Oct  0 22:14:15 host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|Oct 1  22:14:15 host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|Oct 11 22:14:61 host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>|2003-10-11T22:14:15Z host m", SL_SYSLOG_BAD_TIMESTAMP, &autof },
	{ "<13>Oct 11 22:14:15 | m", SL_SYSLOG_BAD_HOSTNAME, &autof },
	{ "<13>Oct 11 22:14:15 h|\x01 m", SL_SYSLOG_BAD_HOSTNAME, &autof },
};

static void test_malformed(void **unused)
{
	pt_bad_cases(syslog_one, &autof, bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]),
		     sl_syslog_err_names, ' ');
}

static void test_writer_sizes(void **unused)
{
	pt_writer_sizes(syslog_one, &autof,
			"<165>1 2003-10-11T22:14:15.003Z host app 12 ID [a b=\"c\\\"d\"][e] msg");
}

static void test_stage(void **unused)
{
	static const char *const y[] = { "year=1999", NULL };
	static const char *const bad_format[] = { "format=bsd", NULL };
	static const char *const bad_year[] = { "year=2262", NULL };
	struct sl_error err;
	struct rte_mbuf *ev;
	void *c = NULL;
	char line[256];

	pt_setup("syslog_parse", NULL);
	pt_common_checks("<13>1 - h a p m - hi", "<13>1 - h a p m [x", "bad_sd", 18, "msg");
	memset(line, ' ', 200);
	memcpy(line, "<13>1 - h a p m - ", 18);
	memset(line + 18, 'v', 182);
	line[200] = '\0';
	pt_too_large(line);
	/* the default year is this year */
	ev = pt_event(pt_pool, "<13>Jan  1 00:00:00 h m", 23, SL_EVENT_LINE);
	pt_run(&ev, 1);
	{
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		pt_int(sl_event_record(&pt_ctx, ev), "timestamp",
		       parse_days_from_civil(tm.tm_year + 1900, 1, 1) * 86400 * 1000000000);
	}
	pt_free_out();
	pt_teardown();

	pt_setup("syslog_parse", y);
	ev = pt_event(pt_pool, "<13>Jan  1 00:00:00 h m", 23, SL_EVENT_LINE);
	pt_run(&ev, 1);
	pt_int(sl_event_record(&pt_ctx, ev), "timestamp", 915148800000000000);
	pt_free_out();
	pt_teardown();

	assert_int_not_equal(pt_init_args(bad_format, &err, &c), 0);
	assert_string_equal(err.key, "format");
	assert_int_not_equal(pt_init_args(bad_year, &err, &c), 0);
	assert_string_equal(err.key, "year");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_5424),	  cmocka_unit_test(test_3164),
		cmocka_unit_test(test_malformed), cmocka_unit_test(test_writer_sizes),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
