/* tools/admin_groups.h: what keel-consumer-groups.sh's two files share and nothing else uses:
 * admin_groups.c (options, --list, --describe, --delete) and admin_groups_offsets.c
 * (--delete-offsets, --reset-offsets). The parsed options, the Admin API client, messages in
 * Kafka's words and the Admin API calls both sides make. The functions carry cgt_ because cg_
 * is admin_groups_util's and grp_ the broker's coordinator's, which keel-admin links. */
#ifndef KEEL_ADMIN_GROUPS_H
#define KEEL_ADMIN_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "admin.h"
#include "admin_groups_util.h"

#define CMD (&admin_cmd_consumer_groups)
#define FAILED "Executing consumer group command failed due to "
#define ERRLEN 1024

/* The actions come first: Kafka counts them in this order. */
enum {
	G_LIST = 1, G_DESCRIBE, G_DELETE, G_RESET, G_DELETE_OFFSETS,
	G_BOOTSTRAP, G_GROUP, G_TOPIC, G_ALL_TOPICS, G_ALL_GROUPS, G_TIMEOUT, G_COMMAND_CONFIG,
	G_DRY_RUN, G_EXECUTE, G_EXPORT, G_TO_OFFSET, G_FROM_FILE, G_TO_DATETIME, G_BY_DURATION,
	G_TO_EARLIEST, G_TO_LATEST, G_TO_CURRENT, G_SHIFT_BY, G_MEMBERS, G_VERBOSE, G_OFFSETS,
	G_STATE, G_HELP, G_NOPTS
};

typedef struct {
	bool seen[G_NOPTS];
	const char *val[G_NOPTS];
	int ngroups, ntopics;
	char **groups;        /* --group values in order, repeats kept (Kafka counts them) */
	char **topics;        /* --topic values */
	admin_kv_t props;     /* --command-config */
	int64_t timeout_ms, to_offset, shift_by;
	unsigned states;      /* --list --state S,S as a mask over cg_state_names; 0: all */
} opts_t;

typedef struct {
	const opts_t *o;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int timeout_ms;
	bool plan_loaded;     /* --from-file is read once, when first needed (Kafka's lazy val) */
	cg_plan_entry_t *plan;
	int nplan;
} ctx_t;

typedef struct {
	char *id;
	const char *state;
} listing_t;

typedef struct {
	rd_kafka_event_t *ev;
	const rd_kafka_ConsumerGroupDescription_t **d;  /* d[i] describes groups[i] */
} described_t;

/* ---- messages (tools/admin_groups.c) ---- */

/* Kafka's printError: a blank line, then "Error: ..." on standard output. Returns 1. */
int cgt_print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Kafka's Console.err.println, after what is already on standard output. */
void cgt_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What a failed Admin API future says in Kafka's tool: the cause's class and message. */
void cgt_exc_str(rd_kafka_resp_err_t err, const char *errstr, char *buf, size_t len);
/* The command's failure, as Kafka prints it: FAILED and cgt_exc_str's text. Returns 1. */
int cgt_failed_err(rd_kafka_resp_err_t err, const char *errstr);
int cgt_failed_error(const rd_kafka_error_t *e);

/* ---- Admin API calls (tools/admin_groups.c) ---- */

rd_kafka_AdminOptions_t *cgt_admin_options(ctx_t *c, rd_kafka_admin_op_t op);
/* The result of the admin call just made; NULL after printing the failure. */
rd_kafka_event_t *cgt_await(ctx_t *c, rd_kafka_event_type_t type);

void cgt_listings_free(listing_t *v, int n);
/* The groups to act on: --all-groups' list, or the --group values once each. */
char **cgt_target_groups(ctx_t *c, int *n, listing_t **all, int *nall);

/* DescribeConsumerGroups; any group's failure fails the command, as its future's get() does
 * in Kafka's tool. 0, or 1 after printing. */
int cgt_describe_groups(ctx_t *c, char **groups, int n, described_t *out);
void cgt_described_free(described_t *d);
const char *cgt_group_state(const rd_kafka_ConsumerGroupDescription_t *d);

/* The group's committed offsets (only partitions with one), sorted; NULL after printing.
 * librdkafka 2.0 asks for "every partition" with an empty topic list, which only a flexible
 * OffsetFetch (v6+, Kafka 2.4 on; keel's coordinator speaks v7) reads that way. */
rd_kafka_topic_partition_list_t *cgt_committed(ctx_t *c, const char *group);

/* Kafka's listOffsets with OffsetSpec earliest (RD_KAFKA_OFFSET_BEGINNING), latest
 * (RD_KAFKA_OFFSET_END) or a timestamp, asked of the leaders. A copy of parts with the
 * answers as offsets, RD_KAFKA_OFFSET_INVALID where a leader had none to give (-1 is "no
 * record that late" for a timestamp); NULL after printing when the question failed. */
rd_kafka_topic_partition_list_t *cgt_log_offsets(ctx_t *c,
						 const rd_kafka_topic_partition_list_t *parts,
						 int64_t spec);
/* The offset answered for topic/partition in l, or RD_KAFKA_OFFSET_INVALID. */
int64_t cgt_offset_in(const rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition);

/* ---- the offset actions (tools/admin_groups_offsets.c): the command's exit status ---- */
int cgt_run_delete_offsets(ctx_t *c);
int cgt_run_reset(ctx_t *c);

#endif
