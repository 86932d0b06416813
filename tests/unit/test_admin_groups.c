/* tests/unit/test_admin_groups.c: keel-consumer-groups.sh's pure parts (tools/admin_groups_util.c)
 * against what the Java classes behind Kafka's tool do with the same input: SimpleDateFormat for
 * --to-datetime, java.time.Duration for --by-duration, String.split and Integer.parseInt for
 * --topic and --state, Jackson's CSV for --export/--from-file, and the padded tables. */
#include "admin_groups_util.h"
#include "suites.h"

#include <stdlib.h>
#include <string.h>

static char g_err[512];

/* What fn printed into a memory stream (the caller frees it). */
#define CAPTURE(buf, call) do { \
	size_t len_; \
	FILE *f = open_memstream(&(buf), &len_); \
	ck_assert_ptr_nonnull(f); \
	call; \
	fclose(f); \
} while (0)

/* ---- String.split ---- */

static void check_split(const char *s, char sep, int n, const char *const *want)
{
	char **v;
	int got = cg_split(s, sep, &v);
	ck_assert_int_eq(got, n);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(v[i], want[i]);
	cg_strings_free(v, got);
}

START_TEST(split_like_java)
{
	check_split("a,b", ',', 2, (const char *const[]){"a", "b"});
	check_split("a,,b,,", ',', 3, (const char *const[]){"a", "", "b"});
	check_split(",a", ',', 2, (const char *const[]){"", "a"});
	check_split("", ',', 1, (const char *const[]){""});
	check_split(",,", ',', 0, NULL);
	check_split("abc", ',', 1, (const char *const[]){"abc"});
}
END_TEST

/* ---- --to-datetime ---- */

static int64_t dt(const char *s)
{
	int64_t ms = 0;
	ck_assert_msg(cg_parse_datetime(s, &ms, g_err, sizeof(g_err)) == 0, "%s: %s", s, g_err);
	return ms;
}

static void dt_bad(const char *s, const char *msg)
{
	int64_t ms;
	ck_assert_int_eq(cg_parse_datetime(s, &ms, g_err, sizeof(g_err)), -1);
	ck_assert_str_eq(g_err, msg);
}

START_TEST(datetime_zones)
{
	/* no zone: UTC (Kafka appends a Z) */
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089"), 1614834367089LL);
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089Z"), 1614834367089LL);
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089+01:00"), 1614830767089LL);
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089-05:30"), 1614854167089LL);
	/* the fallback pattern X reads two hour digits and ignores the rest, as Java does */
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089+05"), dt("2021-03-04T05:06:07.089+05:00"));
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089+0530"), dt("2021-03-04T05:06:07.089+05:00"));
	ck_assert_int_eq(dt("1970-01-01T00:00:00.000"), 0);
}
END_TEST

START_TEST(datetime_fields)
{
	/* SimpleDateFormat reads S as a count of milliseconds: ".5" is 5 ms, not 500 */
	ck_assert_int_eq(dt("2021-03-04T05:06:07.5+05:00"), 1614816367005LL);
	ck_assert_int_eq(dt("2020-02-29T23:59:59.999"), 1583020799999LL);
	/* fields may have fewer digits, and blanks before a field are skipped */
	ck_assert_int_eq(dt("2021-3-4T5:6:7.89"), 1614834367089LL);
	ck_assert_int_eq(dt("2021- 03-04T05:06:07.089"), 1614834367089LL);
	/* DateFormat.parse(String) ignores what follows the date */
	ck_assert_int_eq(dt("2021-03-04T05:06:07.089Z and more"), 1614834367089LL);
}
END_TEST

START_TEST(datetime_refused)
{
	dt_bad("2021-03-04", "Error parsing timestamp. It does not contain a 'T' according to ISO8601 "
			     "format");
	dt_bad("2021-03-04T", "Error parsing timestamp. It does not contain a 'T' according to ISO8601 "
			      "format");
	/* not lenient: no February 29th in 2021, no month 13, no 1000 ms, no second 60 */
	dt_bad("2021-02-29T00:00:00.000", "Unparseable date: \"2021-02-29T00:00:00.000Z\"");
	dt_bad("2021-13-01T00:00:00.000", "Unparseable date: \"2021-13-01T00:00:00.000Z\"");
	dt_bad("2021-01-01T00:00:00.1000", "Unparseable date: \"2021-01-01T00:00:00.1000Z\"");
	dt_bad("2021-01-01T00:00:60.000", "Unparseable date: \"2021-01-01T00:00:60.000Z\"");
	dt_bad("2021-04-31T00:00:00.000", "Unparseable date: \"2021-04-31T00:00:00.000Z\"");
	/* the milliseconds are required; a zone was seen so no Z is added */
	dt_bad("2021-01-01T00:00:00", "Unparseable date: \"2021-01-01T00:00:00Z\"");
	dt_bad("2021-01-01T00:00:00.000+1", "Unparseable date: \"2021-01-01T00:00:00.000+1\"");
	dt_bad("2021-01-01T00:00:00.000+24:00", "Unparseable date: \"2021-01-01T00:00:00.000+24:00\"");
}
END_TEST

/* ---- --by-duration ---- */

static cg_duration_t dur(const char *s)
{
	cg_duration_t d = {0, 0};
	ck_assert_msg(cg_parse_duration(s, &d, g_err, sizeof(g_err)) == 0, "%s: %s", s, g_err);
	return d;
}

#define ck_dur(s, secs_, nanos_) do { \
	cg_duration_t d_ = dur(s); \
	ck_assert_int_eq(d_.secs, (secs_)); \
	ck_assert_int_eq(d_.nanos, (nanos_)); \
} while (0)

static void dur_bad(const char *s, const char *msg)
{
	cg_duration_t d;
	ck_assert_msg(cg_parse_duration(s, &d, g_err, sizeof(g_err)) == -1, "%s parsed", s);
	ck_assert_str_eq(g_err, msg);
}

START_TEST(duration_parse)
{
	ck_dur("PT1H", 3600, 0);
	ck_dur("P1DT2H3M4.5S", 93784, 500000000);
	ck_dur("P2D", 172800, 0);
	ck_dur("pt1m", 60, 0);
	ck_dur("PT1,25S", 1, 250000000);
	ck_dur("PT1.S", 1, 0);
	ck_dur("-PT1M", -60, 0);
	/* the fraction takes the sign of its seconds; negatives keep nanos in [0, 1e9) */
	ck_dur("PT-0.5S", -1, 500000000);
	ck_dur("-PT1.5S", -2, 500000000);
	ck_dur("P-1DT+1H", -82800, 0);
	ck_dur("PT0.000000001S", 0, 1);
}
END_TEST

START_TEST(duration_refused)
{
	const char *bad[] = {"", "P", "PT", "P1DT", "1H", "PT1S1M", "PT1.1234567891S", "PT.5S",
			     "P1H", "PT1D", "P1DT1H ", "+-PT1H", "PT1HX"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		dur_bad(bad[i], "Text cannot be parsed to a Duration");
	dur_bad("PT9999999999999999999H", "Text cannot be parsed to a Duration: hours");
	dur_bad("PT2562047788015216H", "Text cannot be parsed to a Duration: hours");
	dur_bad("P106751991167301D", "Text cannot be parsed to a Duration: days");
	dur_bad("P1DT9223372036854775807S", "Text cannot be parsed to a Duration: overflow");
}
END_TEST

START_TEST(instant_minus)
{
	int64_t ms;
	cg_duration_t d = {1, 500000000};

	ck_assert_int_eq(cg_instant_minus(1000, 0, d, &ms, g_err, sizeof(g_err)), 0);
	ck_assert_int_eq(ms, 998500);
	ck_assert_int_eq(cg_instant_minus(1000, 999999999, (cg_duration_t){0, 0}, &ms, g_err,
					  sizeof(g_err)), 0);
	ck_assert_int_eq(ms, 1000999);
	/* toEpochMilli floors: one nanosecond before the epoch is millisecond -1 */
	ck_assert_int_eq(cg_instant_minus(0, 0, (cg_duration_t){0, 1}, &ms, g_err, sizeof(g_err)), 0);
	ck_assert_int_eq(ms, -1);
	/* a negative duration is in the future */
	ck_assert_int_eq(cg_instant_minus(10, 0, dur("-PT1M"), &ms, g_err, sizeof(g_err)), 0);
	ck_assert_int_eq(ms, 70000);
	ck_assert_int_eq(cg_instant_minus(0, 0, (cg_duration_t){-31556889864403200LL, 0}, &ms, g_err,
					  sizeof(g_err)), -1);
	ck_assert_str_eq(g_err, "Instant exceeds minimum or maximum instant");
	ck_assert_int_eq(cg_instant_minus(0, 0, (cg_duration_t){-31556889864403199LL, 0}, &ms, g_err,
					  sizeof(g_err)), -1);
	ck_assert_str_eq(g_err, "long overflow");
}
END_TEST

/* ---- --topic ---- */

static void check_topic(const char *arg, const char *topic, int n, const int32_t *parts)
{
	cg_topic_arg_t t;
	ck_assert_msg(cg_parse_topic_arg(arg, &t, g_err, sizeof(g_err)) == 0, "%s: %s", arg, g_err);
	ck_assert_str_eq(t.topic, topic);
	ck_assert_int_eq(t.npartitions, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(t.partitions[i], parts[i]);
	cg_topic_arg_free(&t);
}

static void topic_bad(const char *arg, const char *msg)
{
	cg_topic_arg_t t;
	ck_assert_int_eq(cg_parse_topic_arg(arg, &t, g_err, sizeof(g_err)), -1);
	ck_assert_str_eq(g_err, msg);
	ck_assert_ptr_null(t.topic);
}

START_TEST(topic_args)
{
	check_topic("orders", "orders", -1, NULL);
	check_topic("orders:0,2", "orders", 2, (const int32_t[]){0, 2});
	check_topic("orders:3", "orders", 1, (const int32_t[]){3});
	/* Kafka reads only the piece after the first ':'; trailing empty pieces vanish */
	check_topic("orders:0:1", "orders", 1, (const int32_t[]){0});
	check_topic("orders:0,", "orders", 1, (const int32_t[]){0});
	check_topic("orders:+1,-1", "orders", 2, (const int32_t[]){1, -1});
	topic_bad("orders:", "Index 1 out of bounds for length 1");
	topic_bad("orders:x", "For input string: \"x\"");
	topic_bad("orders:0,,1", "For input string: \"\"");
	topic_bad("orders:1 ", "For input string: \"1 \"");
	topic_bad("orders:2147483648", "For input string: \"2147483648\"");
}
END_TEST

START_TEST(clamp)
{
	int moved;

	ck_assert_int_eq(cg_clamp_offset(5, 0, 10, &moved), 5);
	ck_assert_int_eq(moved, 0);
	ck_assert_int_eq(cg_clamp_offset(15, 0, 10, &moved), 10);
	ck_assert_int_eq(moved, 1);
	ck_assert_int_eq(cg_clamp_offset(-3, 2, 10, &moved), 2);
	ck_assert_int_eq(moved, -1);
	ck_assert_int_eq(cg_clamp_offset(10, 0, 10, &moved), 10);
	ck_assert_int_eq(moved, 0);
	/* an unknown bound is not applied */
	ck_assert_int_eq(cg_clamp_offset(15, 0, -1001, &moved), 15);
	ck_assert_int_eq(moved, 0);
	ck_assert_int_eq(cg_clamp_offset(1, 2, -1001, &moved), 2);
	ck_assert_int_eq(moved, -1);
}
END_TEST

/* ---- --state ---- */

START_TEST(states)
{
	unsigned m;

	ck_assert_int_eq(cg_parse_states("Stable,Empty", &m, g_err, sizeof(g_err)), 0);
	ck_assert_uint_eq(m, (1u << 3) | (1u << 5));
	ck_assert_int_eq(cg_parse_states(" Stable , Dead,", &m, g_err, sizeof(g_err)), 0);
	ck_assert_uint_eq(m, (1u << 3) | (1u << 4));
	ck_assert_int_eq(cg_parse_states("PreparingRebalance,CompletingRebalance", &m, g_err,
					 sizeof(g_err)), 0);
	ck_assert_uint_eq(m, (1u << 1) | (1u << 2));
	/* Kafka 2.8 matches names exactly and refuses Unknown */
	const char *bad[] = {"stable", "Unknown", ",Stable", "Stable,Nope"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];
		ck_assert_int_eq(cg_parse_states(bad[i], &m, g_err, sizeof(g_err)), -1);
		snprintf(want, sizeof(want), "Invalid state list '%s'. Valid states are: "
			 "PreparingRebalance, CompletingRebalance, Stable, Dead, Empty", bad[i]);
		ck_assert_str_eq(g_err, want);
	}
	ck_assert_str_eq(cg_state_names[3], "Stable");
}
END_TEST

/* ---- the reset CSV ---- */

START_TEST(csv_write)
{
	char *out;

	CAPTURE(out, cg_csv_write(f, "g", "t", 0, 5); cg_csv_write(f, NULL, "a.b-c_d", 12, 9000000000LL));
	ck_assert_str_eq(out, "g,t,0,5\na.b-c_d,12,9000000000\n");
	free(out);
	/* quoted as Jackson's loose check does: anything below '-', or a leading '#' */
	CAPTURE(out, cg_csv_write(f, "a,b", "t", 1, 2); cg_csv_write(f, "q\"x", "t", 1, 2);
		cg_csv_write(f, "#g", "t", 1, 2); cg_csv_write(f, "sp ace", "t", 1, 2);
		cg_csv_write(f, "a-b", "t", 1, 2));
	ck_assert_str_eq(out, "\"a,b\",t,1,2\n\"q\"\"x\",t,1,2\n\"#g\",t,1,2\n\"sp ace\",t,1,2\n"
			      "a-b,t,1,2\n");
	free(out);
}
END_TEST

START_TEST(csv_read)
{
	cg_plan_entry_t *v;
	int n;

	/* one group queried and three fields: Kafka's single-group format */
	ck_assert_int_eq(cg_csv_parse("t,0,5\nt,1,7\n\n", true, &v, &n, g_err, sizeof(g_err)), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_ptr_null(v[0].group);
	ck_assert_str_eq(v[1].topic, "t");
	ck_assert_int_eq(v[1].partition, 1);
	ck_assert_int_eq(v[1].offset, 7);
	cg_plan_free(v, n);
	/* four fields, even with one group queried; quotes and CRLF line ends */
	ck_assert_int_eq(cg_csv_parse("\"a,\"\"b\",t,0,5\r\nh,u,3,9000000000", true, &v, &n, g_err,
				      sizeof(g_err)), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(v[0].group, "a,\"b");
	ck_assert_str_eq(v[1].group, "h");
	ck_assert_str_eq(v[1].topic, "u");
	ck_assert_int_eq(v[1].offset, 9000000000LL);
	cg_plan_free(v, n);
	/* what --export writes reads back */
	char *out;
	CAPTURE(out, cg_csv_write(f, "x y", "t", 4, 44));
	ck_assert_int_eq(cg_csv_parse(out, false, &v, &n, g_err, sizeof(g_err)), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(v[0].group, "x y");
	ck_assert_int_eq(v[0].partition, 4);
	cg_plan_free(v, n);
	free(out);
}
END_TEST

START_TEST(csv_refused)
{
	cg_plan_entry_t *v;
	int n;

	ck_assert_int_eq(cg_csv_parse("t,0,5\n", false, &v, &n, g_err, sizeof(g_err)), -1);
	ck_assert_str_eq(g_err, "line 1 of the reset plan is not group,topic,partition,offset: t,0,5");
	ck_assert_ptr_null(v);
	ck_assert_int_eq(cg_csv_parse("t,0,5\ng,t,1,5\n", true, &v, &n, g_err, sizeof(g_err)), -1);
	ck_assert_str_eq(g_err, "line 2 of the reset plan is not topic,partition,offset: g,t,1,5");
	ck_assert_int_eq(cg_csv_parse("g,t,x,5\n", false, &v, &n, g_err, sizeof(g_err)), -1);
	ck_assert_int_eq(cg_csv_parse("g,t,1,5.5\n", false, &v, &n, g_err, sizeof(g_err)), -1);
	ck_assert_int_eq(cg_csv_parse("\"g,t,1,5\n", false, &v, &n, g_err, sizeof(g_err)), -1);
	ck_assert_int_eq(cg_csv_parse("\"g\"x,t,1,5\n", false, &v, &n, g_err, sizeof(g_err)), -1);
}
END_TEST

/* ---- tables ---- */

START_TEST(widths_and_rows)
{
	int w = 15;
	char *out;

	cg_fit_width(&w, "short");
	ck_assert_int_eq(w, 15);
	cg_fit_width(&w, "a-rather-long-group-name");
	ck_assert_int_eq(w, 24);
	/* characters, not bytes, as Java's String.length counts them */
	ck_assert_int_eq(cg_text_width("gr\xc3\xbcppe"), 6);
	CAPTURE(out, cg_print_row(f, (const int[]){5, 3, 0},
				  (const char *const[]){"ab", "\xc3\xa9", "end"}, 3));
	ck_assert_str_eq(out, "ab    \xc3\xa9   end\n");
	free(out);
	/* a value wider than its column is not cut; a padded last column keeps its spaces */
	CAPTURE(out, cg_print_row(f, (const int[]){2, 4}, (const char *const[]){"wide", "x"}, 2));
	ck_assert_str_eq(out, "wide x   \n");
	free(out);
	/* Kafka's offsets header with every column at its minimum */
	CAPTURE(out, cg_print_row(f, (const int[]){15, 15, 10, 15, 15, 15, 15, 15, 0},
				  (const char *const[]){"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
							"LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
							"CLIENT-ID"}, 9));
	ck_assert_str_eq(out, "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  "
			      "LAG             CONSUMER-ID     HOST            CLIENT-ID\n");
	free(out);
}
END_TEST

START_TEST(assignment_column)
{
	char *s = cg_assignment_str((const char *const[]){"t2", "t1", "t1", "t", "t1"},
				    (const int32_t[]){1, 10, 0, 3, 2}, 5);
	/* "t(" sorts before "t1(" as the strings compare */
	ck_assert_str_eq(s, "t(3), t1(0,2,10), t2(1)");
	free(s);
	s = cg_assignment_str(NULL, NULL, 0);
	ck_assert_str_eq(s, "-");
	free(s);
}
END_TEST

Suite *suite_admin_groups(void)
{
	Suite *s = suite_create("admin_groups");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, split_like_java);
	tcase_add_test(tc, datetime_zones);
	tcase_add_test(tc, datetime_fields);
	tcase_add_test(tc, datetime_refused);
	tcase_add_test(tc, duration_parse);
	tcase_add_test(tc, duration_refused);
	tcase_add_test(tc, instant_minus);
	tcase_add_test(tc, topic_args);
	tcase_add_test(tc, clamp);
	tcase_add_test(tc, states);
	tcase_add_test(tc, csv_write);
	tcase_add_test(tc, csv_read);
	tcase_add_test(tc, csv_refused);
	tcase_add_test(tc, widths_and_rows);
	tcase_add_test(tc, assignment_column);
	suite_add_tcase(s, tc);
	return s;
}
