/* zk/zkjson.h: Kafka's ZooKeeper znode payloads (reference/zookeeper.md section 1), encoded and
 * decoded exactly as Kafka 2.8 writes them. Pure functions; any thread. Encoders return a
 * malloc'd NUL-terminated string (caller frees) or NULL on failure; decoders return 0 or -1
 * on malformed input (outputs untouched or freed on failure). */
#ifndef KEEL_ZKJSON_H
#define KEEL_ZKJSON_H

#include <stdbool.h>
#include <stdint.h>

/* /brokers/ids/<id>, version 5. */
typedef struct {
	char *host;          /* first PLAINTEXT endpoint's host, or NULL (json null) */
	int32_t port;        /* its port, or -1 */
	int nendpoints;
	char **endpoint_names;  /* listener names */
	char **endpoint_hosts;
	int32_t *endpoint_ports;
	char **endpoint_protocols; /* security protocol per listener, e.g. "PLAINTEXT" */
	char *rack;          /* NULL = absent */
	int64_t timestamp_ms;
} zkj_broker_t;
char *zkj_broker_encode(const zkj_broker_t *b);
int zkj_broker_decode(const char *json, int len, zkj_broker_t *out);
void zkj_broker_free(zkj_broker_t *b);

/* /brokers/topics/<t>, version 3 (topic_id) or 2 (no id); decodes v1..v3. */
typedef struct {
	int32_t npartitions;       /* partitions 0..n-1 must all be present */
	int32_t *nreplicas;        /* per partition */
	int32_t **replicas;        /* per partition, assignment order */
	char topic_id[24];         /* "" = none */
	/* A reassignment in flight (KIP-455): per partition, the replicas being added and
	 * removed. NULL arrays = none anywhere; a partition with none has count 0. */
	int32_t *nadding, **adding;
	int32_t *nremoving, **removing;
} zkj_topic_t;
char *zkj_topic_encode(const zkj_topic_t *t);
int zkj_topic_decode(const char *json, int len, zkj_topic_t *out);
void zkj_topic_free(zkj_topic_t *t);

/* /brokers/topics/<t>/partitions/<p>/state, version 1. */
typedef struct {
	int32_t controller_epoch;
	int32_t leader;
	int32_t leader_epoch;
	int32_t nisr;
	int32_t *isr;
} zkj_state_t;
char *zkj_state_encode(const zkj_state_t *s);
int zkj_state_decode(const char *json, int len, zkj_state_t *out);
void zkj_state_free(zkj_state_t *s);

/* /controller: {"version":1,"brokerid":N,"timestamp":"..."}; decode reads brokerid only. */
char *zkj_controller_encode(int32_t broker_id, int64_t timestamp_ms);
int zkj_controller_decode(const char *json, int len, int32_t *broker_id);

/* /cluster/id: {"version":"1","id":"..."}. */
char *zkj_cluster_id_encode(const char *id);
int zkj_cluster_id_decode(const char *json, int len, char *id, int idlen);

/* /config/topics/<t>: {"version":1,"config":{k:v,...}} (values are strings). */
char *zkj_config_encode(int n, char *const *keys, char *const *values);
int zkj_config_decode(const char *json, int len, int *n, char ***keys, char ***values);
void zkj_config_free(int n, char **keys, char **values);

/* /config/changes/config_change_<seq>: {"version":2,"entity_path":"topics/t"}. */
char *zkj_config_change_encode(const char *entity_path);

/* /isr_change_notification/isr_change_<seq> (same shape as /admin/preferred_replica_election):
 * {"version":1,"partitions":[{"topic":"t","partition":0},...]}. */
typedef struct {
	char *topic;
	int32_t partition;
} zkj_tp_t;
char *zkj_isr_change_encode(int n, const zkj_tp_t *tps);
int zkj_isr_change_decode(const char *json, int len, int *n, zkj_tp_t **tps);
void zkj_tps_free(int n, zkj_tp_t *tps);

/* /admin/preferred_replica_election: the same payload; as Kafka's PreferredReplicaElectionZNode,
 * a missing "partitions" decodes as an empty list. Duplicates are kept (callers dedupe). */
char *zkj_preferred_election_encode(int n, const zkj_tp_t *tps);
int zkj_preferred_election_decode(const char *json, int len, int *n, zkj_tp_t **tps);

/* /admin/reassign_partitions, and Kafka's reassignment file (--reassignment-json-file: the same
 * list with optional "log_dirs"): {"version":1,"partitions":[{"topic":"t","partition":0,
 * "replicas":[1,2]}]}. */
typedef struct {
	char *topic;
	int32_t partition;
	int32_t nreplicas;
	int32_t *replicas;   /* NULL when empty */
	int32_t nlog_dirs;   /* -1: no "log_dirs" */
	char **log_dirs;
} zkj_reassign_t;
/* The znode when !log_dirs; with log_dirs, each entry also carries "log_dirs" (its own, else
 * "any" per replica) as Kafka's tool prints a reassignment. */
char *zkj_reassign_encode(int n, const zkj_reassign_t *v, bool log_dirs);
/* As Kafka's tool reads it: a missing "version" is 1 (any other is malformed), a missing
 * "partitions" is empty. Duplicate partitions or replicas, empty replica lists and log_dirs of
 * another length are kept for the caller to judge. */
int zkj_reassign_decode(const char *json, int len, int *n, zkj_reassign_t **out);
void zkj_reassign_free(int n, zkj_reassign_t *v);

/* Kafka's --topics-to-move-json-file (no znode, but the same family):
 * {"version":1,"topics":[{"topic":"t"},...]}; version and list as for zkj_reassign_decode. */
int zkj_topics_to_move_decode(const char *json, int len, int *n, char ***topics);
void zkj_strings_free(int n, char **v);

/* A fresh random 16-byte UUID in Kafka's 22-char URL-safe base64 (no padding); out >= 23 bytes. */
void zkj_random_uuid(char *out);

#endif
