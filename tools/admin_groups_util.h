/* tools/admin_groups_util.h: the pure computations behind keel-consumer-groups.sh, kept apart
 * from librdkafka so the unit tests link them alone: Kafka's parsing of --to-datetime,
 * --by-duration, --topic t:0,2 and --state lists, the clamp of a new offset to the log, the
 * reset-offsets CSV, and the padded tables Kafka prints. */
#ifndef KEEL_ADMIN_GROUPS_UTIL_H
#define KEEL_ADMIN_GROUPS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Java's String.split on a one-character separator: the pieces between separators, trailing
 * empty ones dropped ("a,,b," gives a, "", b; "" gives one empty piece; "," gives none).
 * Returns the count; *out (never NULL) is freed with cg_strings_free. */
int cg_split(const char *s, char sep, char ***out);
void cg_strings_free(char **v, int n);

/* Kafka's Utils.getDateTime: "YYYY-MM-DDTHH:mm:SS.sss" with an optional zone (Z, +HH:mm or
 * +HH; none means UTC) to epoch milliseconds. 0, or -1 with Kafka's message in err. */
int cg_parse_datetime(const char *s, int64_t *ms, char *err, size_t errlen);

/* A java.time.Duration: seconds and a nanosecond part in [0, 1e9). */
typedef struct {
	int64_t secs;
	int32_t nanos;
} cg_duration_t;

/* java.time.Duration.parse ("PnDTnHnMn.nS", signs allowed). 0, or -1 with Java's message. */
int cg_parse_duration(const char *s, cg_duration_t *d, char *err, size_t errlen);
/* Instant(now).minus(d).toEpochMilli(). 0, or -1 with Java's message when out of range. */
int cg_instant_minus(int64_t now_s, int32_t now_ns, cg_duration_t d, int64_t *ms, char *err,
		     size_t errlen);

/* One --topic value: "t" (npartitions -1: every partition) or "t:0,2". */
typedef struct {
	char *topic;
	int npartitions;
	int32_t *partitions;
} cg_topic_arg_t;

/* 0, or -1 with the message Kafka's tool fails with (Java's NumberFormatException's). */
int cg_parse_topic_arg(const char *arg, cg_topic_arg_t *out, char *err, size_t errlen);
void cg_topic_arg_free(cg_topic_arg_t *t);

/* Kafka's checkOffsetsRange: off moved down to the log end or up to the log start (a bound
 * < 0 is unknown and not applied). *moved is 1 (lowered to the end), -1 (raised to the start)
 * or 0. */
int64_t cg_clamp_offset(int64_t off, int64_t start, int64_t end, int *moved);

/* Kafka 2.8's consumer group states, in librdkafka's rd_kafka_consumer_group_state_t order. */
#define CG_NSTATES 6
extern const char *const cg_state_names[CG_NSTATES];
/* A --state list ("Stable,Empty", names exact as Kafka 2.8 takes them) as a bit mask over
 * cg_state_names. 0, or -1 with Kafka's message. */
int cg_parse_states(const char *s, unsigned *mask, char *err, size_t errlen);

/* One reset-offsets CSV line as Kafka's --export writes it: "group,topic,partition,offset"
 * (group NULL: "topic,partition,offset"), each field quoted as Jackson's CSV writer does. */
void cg_csv_write(FILE *f, const char *group, const char *topic, int32_t partition, int64_t offset);

typedef struct {
	char *group;  /* NULL in the one-group format */
	char *topic;
	int32_t partition;
	int64_t offset;
} cg_plan_entry_t;

/* A --from-file plan: the one-group format (three fields) when single_group and its first line
 * has that shape, else four fields a line. 0 with *out (free with cg_plan_free), or -1 with
 * the offending line in err. */
int cg_csv_parse(const char *text, bool single_group, cg_plan_entry_t **out, int *n, char *err,
		 size_t errlen);
void cg_plan_free(cg_plan_entry_t *v, int n);

/* Columns as Java's %-Ns pads them: by characters (UTF-8 code points here), not bytes. */
int cg_text_width(const char *s);
/* *width = max(*width, width of s): Kafka's "max(15, longest value)" columns. */
void cg_fit_width(int *width, const char *s);
/* cells[0..n-1] separated by one space, cell i padded to widths[i] (0: not padded). */
void cg_print_row(FILE *f, const int *widths, const char *const *cells, int n);

/* --members --verbose's ASSIGNMENT: "t1(0,2), t2(1)", topics sorted, partitions numerically;
 * "-" when n is 0. malloc'd. */
char *cg_assignment_str(const char *const *topics, const int32_t *partitions, int n);

#endif
