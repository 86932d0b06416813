/* tools/admin.h: keel-admin's subcommands and the helpers they share: a small long-option
 * parser in Kafka's "--flag value" style, k=v lists, librdkafka configuration, and the Kafka
 * protocol spoken directly for the admin requests librdkafka lacks (admin_wire.c). */
#ifndef KEEL_ADMIN_H
#define KEEL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "zkutil.h"

/* One subcommand: `keel-admin <name> ...`. run() returns the process exit status. */
typedef struct {
	const char *name;
	const char *script;  /* the wrapper script users call, for messages */
	const char *usage;   /* printed by --help and after a usage error */
	int (*run)(int argc, char **argv);
} admin_cmd_t;

extern const admin_cmd_t admin_cmd_topics;
extern const admin_cmd_t admin_cmd_produce;
extern const admin_cmd_t admin_cmd_consume;
extern const admin_cmd_t admin_cmd_producer_perf;
extern const admin_cmd_t admin_cmd_consumer_perf;
extern const admin_cmd_t admin_cmd_e2e_latency;
extern const admin_cmd_t admin_cmd_leader_election;
extern const admin_cmd_t admin_cmd_reassign_partitions;
extern const admin_cmd_t admin_cmd_consumer_groups;

/* ---- Option parsing. Options are "--name value", "--name=value" or a bare "--name".
 * A MULTI option takes one or more values up to the next "--" argument (Kafka's
 * --producer-props k=v k=v). ---- */

/* OPTIONAL takes the next argument unless it starts with "--" (Kafka's --compression-codec). */
typedef enum { ADMIN_ARG_NONE = 0, ADMIN_ARG_ONE, ADMIN_ARG_MULTI, ADMIN_ARG_OPTIONAL } admin_arg_t;

typedef struct {
	const char *name;  /* without the leading "--" */
	admin_arg_t arg;
	int id;            /* > 0, returned by admin_getopt */
} admin_opt_t;

typedef struct {
	int argc;
	char **argv;
	int i;             /* next argv index */
	int multi_id;      /* id of the MULTI option still collecting values, or 0 */
	const admin_cmd_t *cmd;
} admin_parser_t;

#define ADMIN_OPT_END 0
#define ADMIN_OPT_ERROR (-1)

/* Start parsing argv[1..argc-1] (argv[0] is the subcommand name). */
void admin_parser_init(admin_parser_t *p, const admin_cmd_t *cmd, int argc, char **argv);
/* Next option: its id with *val set (NULL for ADMIN_ARG_NONE), ADMIN_OPT_END, or
 * ADMIN_OPT_ERROR after printing the problem and the usage to stderr. */
int admin_getopt(admin_parser_t *p, const admin_opt_t *opts, const char **val);

/* Print "<script>: <problem>" and the usage to stderr; returns 1 (the exit status). */
int admin_usage_error(const admin_cmd_t *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print the usage to stdout; returns 0. */
int admin_help(const admin_cmd_t *cmd);
/* Print "<script>: <message>" to stderr; returns 1. */
int admin_error(const admin_cmd_t *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a decimal integer in [min, max]; returns 0 or -1. */
int admin_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* A growable list of "key=value" strings split at the first '='. Keys and values are
 * owned copies. */
typedef struct {
	int n, cap;
	char **keys;
	char **values;
} admin_kv_t;

/* Add "k=v"; returns 0, or -1 if there is no '=' or the key is empty. */
int admin_kv_add(admin_kv_t *kv, const char *kvstr);
/* Add a key and value (copied). */
void admin_kv_put(admin_kv_t *kv, const char *key, const char *value);
/* The value for key (last one wins), or NULL. */
const char *admin_kv_get(const admin_kv_t *kv, const char *key);
/* Read a Java-style properties file (k=v lines, '#'/'!' comments); returns 0 or -1 with
 * errno set. */
int admin_kv_load_file(admin_kv_t *kv, const char *path);
void admin_kv_free(admin_kv_t *kv);

/* ---- librdkafka ---- */

/* A new conf with keel-admin's defaults (errors-only logging to stderr through the keel
 * logger), bootstrap.servers (if not NULL) and every pair of props applied in order.
 * Returns NULL after printing the offending key to stderr. */
rd_kafka_conf_t *admin_rk_conf(const admin_cmd_t *cmd, const char *bootstrap, const admin_kv_t *props);
/* A client of the given type, or NULL after printing why not. Takes conf in every case. */
rd_kafka_t *admin_rk_new(const admin_cmd_t *cmd, rd_kafka_type_t type, rd_kafka_conf_t *conf);
/* Set one property; prints the error and returns -1 on failure. */
int admin_rk_set(const admin_cmd_t *cmd, rd_kafka_conf_t *conf, const char *key, const char *value);
/* Whether there is a broker to ask: bootstrap, or bootstrap.servers/metadata.broker.list in props. */
bool admin_has_bootstrap(const char *bootstrap, const admin_kv_t *props);
/* Flush until every queued record is delivered or failed; after a signal, purge what is left. */
void admin_produce_drain(rd_kafka_t *rk);
/* A consumer that assigns and never commits, or a committing group member; NULL after printing why. */
rd_kafka_t *admin_consume_client(const admin_cmd_t *cmd, const char *bootstrap, const admin_kv_t *user,
				 bool group_member, bool from_beginning);
/* Wait for topic (timeout_ms < 0: for ever); assign partition (< 0: all) at start. 0 or 1. */
int admin_consume_assign(rd_kafka_t *rk, const char *topic, int64_t partition, int64_t start,
			 int64_t timeout_ms);
/* Whether a consumer error ends the run: no such topic or partition, not authorised, or fatal. */
bool admin_consume_fatal(rd_kafka_resp_err_t err);

/* Metadata for all topics (never auto-creates one); *md freed by the caller with
 * rd_kafka_metadata_destroy. Returns the error (printed by the caller). */
rd_kafka_resp_err_t admin_metadata(rd_kafka_t *rk, int timeout_ms, const struct rd_kafka_metadata **md);
/* The topic called name in md, or NULL. */
const rd_kafka_metadata_topic_t *admin_md_topic(const struct rd_kafka_metadata *md, const char *name);

/* ---- The Kafka protocol over a plain socket (admin_wire.c), for the requests librdkafka 2.0
 * has no Admin API for. Blocking; one request per connection. ---- */

/* Metadata v1, sorted for lookup: brokers by id, topics by name, partitions by id. */
typedef struct {
	int32_t id;
	char host[256];
	int32_t port;
} admin_broker_t;

typedef struct {
	int32_t id;
	int16_t error;
	int32_t nreplicas;
	int32_t *replicas;   /* assignment order */
} admin_part_t;

typedef struct {
	char *name;
	int16_t error;
	int32_t npartitions;
	admin_part_t *partitions;
} admin_topic_t;

typedef struct {
	int32_t controller;  /* -1: none */
	int32_t nbrokers;
	admin_broker_t *brokers;
	int32_t ntopics;
	admin_topic_t *topics;
} admin_cluster_t;

/* Metadata v1 from the first of the comma-separated servers that answers: live brokers and
 * the controller, and every topic if topics is true (never named ones: before v4 asking for a
 * topic by name may auto-create it). 0 (free *out with admin_cluster_free), or -1 if none
 * answered (*out is left empty). */
int admin_cluster_get(const char *servers, bool topics, admin_cluster_t *out);
void admin_cluster_free(admin_cluster_t *c);
/* Lookups; NULL if absent. */
const admin_broker_t *admin_cluster_broker(const admin_cluster_t *c, int32_t id);
const admin_topic_t *admin_cluster_topic(const admin_cluster_t *c, const char *name);

/* Send body (a kw_t initialised with the API's flexible flag, which picks request header v2
 * and response header v1) as key/version to the controller that servers name, finding it again
 * and resending while it is unreachable or answers NOT_CONTROLLER, for up to timeout_ms or until
 * admin_stop. The answer must start with throttle_time_ms and a top-level error code, as every
 * controller-bound admin API does. 0 with *buf (malloc'd, the caller frees it) holding the
 * answer and r at its body, or -1 when time ran out. */
int admin_controller_call(const char *servers, int16_t key, int16_t version, const kw_t *body,
			  int timeout_ms, uint8_t **buf, kr_t *r);

/* A partition's result in a controller's answer (ElectLeaders, AlterPartitionReassignments). */
typedef struct {
	char *topic;
	int32_t partition;
	int16_t error;
	char *message;       /* NULL: none given */
} admin_tp_result_t;

/* [topic, [partition, error_code, error_message]] with tag sections when r is flexible: the
 * results of ElectLeaders v1+ and AlterPartitionReassignments. 0, or -1 (nothing to free). */
int admin_read_tp_results(kr_t *r, admin_tp_result_t **out, int *nout);
void admin_tp_results_free(admin_tp_result_t *v, int n);
/* An [int32] array (NULL when empty; the caller frees it). */
int32_t *admin_read_ids(kr_t *r, int32_t *n);

/* Kafka's exception class (without package), error name and default message for a code. */
void admin_kafka_error(int16_t code, const char **cls, const char **name, const char **msg);
/* A NUL-terminated copy of a string read off the wire; NULL for a null string. */
char *admin_slice_dup(keel_slice_t s, bool null);

/* ---- Replica assignment ---- */

/* Kafka's checks before AdminUtils.assignReplicasToBrokers; 0, or -1 with its message in err. */
int admin_assign_check(int32_t nbrokers, int32_t npart, int32_t rf, char *err, size_t errlen);
/* Kafka's rack-unaware assignment (assignReplicasToBrokersRackUnaware) of npart partitions with
 * rf replicas over n brokers (sorted ids; the checks above passed): partition p's first replica
 * is brokers[(start + p) % n], the others follow at a shift that grows by one every n partitions;
 * start and shift are random, as in Kafka. out[p] has room for rf ids. */
void admin_assign_replicas(const int32_t *brokers, int32_t n, int32_t npart, int32_t rf,
			   int32_t **out);

/* ---- ZooKeeper ---- */

/* Live broker ids (the children of /brokers/ids, none if it is missing), sorted; *ids is
 * malloc'd (the caller frees it). ZOK or the ZooKeeper error. */
int admin_zk_broker_ids(zhandle_t *zh, int32_t **ids, int32_t *n);

/* Set by SIGINT/SIGTERM once admin_install_signals() ran. */
extern volatile int admin_stop;
void admin_install_signals(void);

/* Monotonic nanoseconds and microseconds (keel.h has the millisecond clocks). */
int64_t admin_mono_ns(void);
int64_t admin_mono_us(void);

/* qsort comparator for int64_t, ascending. */
int admin_cmp_i64(const void *a, const void *b);

#endif
