/* tools/admin.h: keel-admin's subcommands and the helpers they share: a small long-option
 * parser in Kafka's "--flag value" style, k=v lists, and librdkafka configuration. */
#ifndef KEEL_ADMIN_H
#define KEEL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

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
extern const admin_cmd_t admin_cmd_leader_election;

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
/* Set one property; prints the error and returns -1 on failure. */
int admin_rk_set(const admin_cmd_t *cmd, rd_kafka_conf_t *conf, const char *key, const char *value);

/* Metadata for all topics (never auto-creates one); *md freed by the caller with
 * rd_kafka_metadata_destroy. Returns the error (printed by the caller). */
rd_kafka_resp_err_t admin_metadata(rd_kafka_t *rk, int timeout_ms, const struct rd_kafka_metadata **md);
/* The topic called name in md, or NULL. */
const rd_kafka_metadata_topic_t *admin_md_topic(const struct rd_kafka_metadata *md, const char *name);

/* Set by SIGINT/SIGTERM once admin_install_signals() ran. */
extern volatile int admin_stop;
void admin_install_signals(void);

/* Monotonic microseconds (keel.h has the millisecond clocks). */
int64_t admin_mono_us(void);

#endif
