/* zk/coord.h: the coordination thread: ZooKeeper session, broker registration, controller
 * election and the controller's work, and the cluster view it hands to the event loop. */
#ifndef KEEL_COORD_H
#define KEEL_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "mq.h"

/* ---- The cluster view: an immutable snapshot built by the coordination thread and
 * posted to the loop, which owns it from then on (free with keel_view_free). ---- */

/* One advertised endpoint of a broker (/brokers/ids/<id> "endpoints"). */
typedef struct {
	char *name;        /* listener name, e.g. "PLAINTEXT" */
	char *host;
	int32_t port;
	char *protocol;    /* security protocol, e.g. "PLAINTEXT" */
} keel_endpoint_t;

typedef struct {
	int32_t id;
	char *host;        /* the endpoint brokers use (inter.broker.listener.name), else the first */
	int32_t port;
	char *rack;        /* NULL if none */
	int64_t epoch;     /* czxid of /brokers/ids/<id> */
	int nendpoints;
	keel_endpoint_t *endpoints; /* every advertised listener: clients get the one they came in on */
} keel_view_broker_t;

typedef struct {
	int32_t partition;
	int32_t leader;       /* -1 none */
	int32_t leader_epoch;
	int32_t zk_version;   /* partition epoch (zkVersion of the state znode) */
	int32_t nreplicas;
	int32_t *replicas;    /* assignment order; first = preferred leader */
	int32_t nisr;
	int32_t *isr;
} keel_view_partition_t;

typedef struct {
	char *name;
	char topic_id[24];    /* 22-char URL-safe base64, "" if none */
	bool deleting;        /* listed under /admin/delete_topics */
	int32_t npartitions;
	keel_view_partition_t *partitions; /* sorted by partition id, dense 0..n-1 */
	int nconfigs;         /* /config/topics/<t> overrides */
	char **config_keys;
	char **config_values;
} keel_view_topic_t;

typedef struct keel_view {
	char *cluster_id;
	int32_t controller_id;   /* -1 if none */
	int32_t controller_epoch;
	int32_t nbrokers;
	keel_view_broker_t *brokers; /* sorted by id */
	int32_t ntopics;
	keel_view_topic_t *topics;   /* sorted by name */
} keel_view_t;

void keel_view_free(keel_view_t *v);
const keel_view_topic_t *keel_view_topic(const keel_view_t *v, const char *name);
const keel_view_broker_t *keel_view_broker(const keel_view_t *v, int32_t id);
/* The broker's endpoint of the listener named `listener`, or NULL if it has none. */
const keel_endpoint_t *keel_view_endpoint(const keel_view_broker_t *br, const char *listener);

/* ---- Requests from the loop to the coordination thread. ---- */

typedef enum {
	KEEL_CMD_CREATE_TOPICS = 1, /* controller or auto-create */
	KEEL_CMD_DELETE_TOPICS = 2, /* controller: write /admin/delete_topics/<t> */
	KEEL_CMD_ALTER_ISR = 3,     /* any broker, as the partitions' leader: write new ISRs to
				     * their state znodes (IBP < 2.7-IV2); entries in isr_entries */
	KEEL_CMD_CONTROLLED_SHUTDOWN = 4, /* controller: move leadership off a broker that is
					   * shutting down (Kafka's ControlledShutdown) */
	KEEL_CMD_ELECT_LEADERS = 5, /* controller: preferred or unclean leader elections
				     * (Kafka's ElectLeaders); zk/controller_elect.c */
	KEEL_CMD_ALTER_REASSIGNMENTS = 6, /* controller: start or cancel partition reassignments
					   * (AlterPartitionReassignments); controller_reassign.c */
	KEEL_CMD_LIST_REASSIGNMENTS = 7,  /* controller: the reassignments in flight */
	KEEL_CMD_CTL_RESPONSE = 8,  /* loop -> controller: a broker answered a controller request
				     * (ctl_* fields); not answered, the coordination thread frees it */
} keel_cmd_type_t;

typedef struct {
	char *topic;
	int32_t partition;
} keel_cmd_tp_t;

typedef struct {
	char *name;
	int32_t num_partitions;      /* -1 = num.partitions */
	int16_t replication_factor;  /* -1 = default.replication.factor */
	int32_t nassign;             /* manual assignment: nassign partitions ... */
	int32_t *assign_counts;      /* replicas per partition */
	int32_t **assignments;
	int nconfigs;
	char **config_keys;
	char **config_values;
	/* result, filled by the coordination thread: */
	int16_t error;               /* Kafka error code */
	char *error_message;         /* malloc'd or NULL */
} keel_cmd_topic_t;

/* One partition of KEEL_CMD_ALTER_ISR. The state znode is written with this broker as leader,
 * the entry's leader_epoch and isr, and the controller_epoch stored in the znode, conditional
 * on zk_version. */
typedef struct {
	char *topic;
	int32_t partition;
	int32_t leader_epoch;        /* the leader epoch this broker leads in */
	int32_t zk_version;          /* the state znode version the leader last saw (view's) */
	int32_t nisr;
	int32_t *isr;                /* the new ISR (malloc'd; must include the leader) */
	/* results, filled by the coordination thread: */
	int16_t error;               /* 0; 6 NOT_LEADER_OR_FOLLOWER: the znode names another
				      * leader or leader epoch (deposed); 95 INVALID_UPDATE_VERSION:
				      * the znode moved (retry from a newer view); 3: no such
				      * partition; 7 REQUEST_TIMED_OUT: no ZooKeeper session */
	int32_t new_zk_version;      /* on success, the znode's new version; else -1 */
} keel_cmd_isr_t;

/* One partition's result of KEEL_CMD_ELECT_LEADERS. */
typedef struct {
	char *topic;
	int32_t partition;
	int16_t error;               /* 0, 84 ELECTION_NOT_NEEDED, 80 PREFERRED_LEADER_NOT_AVAILABLE,
				      * 83 ELIGIBLE_LEADERS_NOT_AVAILABLE, 3, 17 (being deleted) */
	char *message;               /* malloc'd or NULL */
} keel_cmd_elect_t;

/* One partition of KEEL_CMD_ALTER_REASSIGNMENTS (in: the target replicas, or nreplicas -1 to
 * cancel; out: error/message) or a result of KEEL_CMD_LIST_REASSIGNMENTS (out: the full
 * replica set RS and the replicas being added and removed). Arrays are malloc'd. */
typedef struct {
	char *topic;
	int32_t partition;
	int32_t nreplicas;
	int32_t *replicas;
	int32_t nadding, nremoving;
	int32_t *adding, *removing;
	int16_t error;               /* 0, 39 INVALID_REPLICA_ASSIGNMENT, 3, 85
				      * NO_REASSIGNMENT_IN_PROGRESS, 7 (no ZooKeeper session) */
	char *message;               /* malloc'd or NULL */
} keel_cmd_reassign_t;

typedef struct keel_cmd {
	keel_cmd_type_t type;
	bool validate_only;
	bool auto_create;            /* from Metadata/Produce auto-creation: no controller check */
	int32_t timeout_ms;          /* CreateTopics/DeleteTopics: how long the answer may wait for
				      * the partitions to have leaders / the topics to be gone
				      * (loop side) */
	int64_t deadline_ms;         /* loop: monotonic end of that wait */
	struct keel_cmd *wait_next;  /* loop: the list of those waits */
	int ntopics;
	keel_cmd_topic_t *topics;
	int n_isr_entries;           /* KEEL_CMD_ALTER_ISR entries */
	keel_cmd_isr_t *isr_entries;
	/* KEEL_CMD_CONTROLLED_SHUTDOWN: the broker and its epoch (-1: unchecked); results: */
	int32_t shutdown_broker;
	int64_t shutdown_epoch;
	int16_t shutdown_error;      /* 41 not controller, 8 unknown broker, 77 stale epoch */
	int n_remaining;             /* replicated partitions it still leads */
	keel_cmd_tp_t *remaining;
	/* KEEL_CMD_ELECT_LEADERS: election type (0 preferred, 1 unclean) and the partitions
	 * (elect_tps NULL = all partitions); results, sorted by topic and partition: */
	int8_t election_type;
	int n_elect_tps;
	keel_cmd_tp_t *elect_tps;
	int16_t elect_error;         /* top level: 41 not controller, 7 no ZooKeeper session */
	int n_elect_results;
	keel_cmd_elect_t *elect_results;
	/* KEEL_CMD_ALTER_REASSIGNMENTS: the partitions (results in place). KEEL_CMD_LIST_
	 * REASSIGNMENTS: the partitions asked about in list_tps (NULL = all); the results in
	 * reassign, sorted by topic and partition. reassign_error: 41, or 7 (no session). */
	int n_reassign;
	keel_cmd_reassign_t *reassign;
	int n_list_tps;
	keel_cmd_tp_t *list_tps;
	int16_t reassign_error;
	/* KEEL_CMD_CTL_RESPONSE: which request (ctl_send_id, from keel_ctl_send_t), to whom,
	 * and the response body after its header (malloc'd). */
	uint64_t ctl_send_id;
	int32_t ctl_broker;
	int32_t ctl_controller_epoch;
	int16_t ctl_api_key;
	uint8_t *ctl_body;
	size_t ctl_len;
	void *ctx;                   /* the loop's (e.g. the parked request); untouched by coord */
} keel_cmd_t;

void keel_cmd_free(keel_cmd_t *c);

/* ---- Messages posted to the loop through the mq. ---- */
typedef enum {
	KEEL_MSG_VIEW = 1,     /* payload: keel_view_t* (loop takes ownership) */
	KEEL_MSG_CMD_DONE = 2, /* payload: keel_cmd_t* with results (loop takes ownership) */
	KEEL_MSG_FATAL = 3,    /* payload: malloc'd char* reason: the broker must exit */
	KEEL_MSG_REGISTERED = 4, /* payload: NULL; broker znode is (re)registered */
	KEEL_MSG_CTL_SEND = 5, /* payload: keel_ctl_send_t*: a controller request for one broker */
	KEEL_MSG_CTL_RESET = 6,  /* payload: NULL: no longer controller, drop every queue */
} keel_msg_type_t;

/* A controller-to-broker request (LeaderAndIsr, UpdateMetadata, StopReplica), encoded by the
 * coordination thread and sent by the loop on the target broker's ordered queue, retried
 * over reconnects until answered or until the broker is gone (another epoch). */
typedef struct {
	uint64_t id;              /* echoed in the KEEL_CMD_CTL_RESPONSE */
	int32_t broker;
	int64_t broker_epoch;     /* czxid of its registration: a new one resets its queue */
	char *host;
	int32_t port;
	int32_t controller_epoch;
	int16_t api_key, api_version;
	bool flex;
	uint8_t *body;            /* the request body after the header (malloc'd) */
	size_t len;
} keel_ctl_send_t;

void keel_ctl_send_free(keel_ctl_send_t *s);

typedef struct {
	int32_t broker_id;           /* -1 = generate via /brokers/seqid */
	int32_t reserved_broker_max_id; /* generated ids start above it (reserved.broker.max.id) */
	const char *zk_connect;      /* "host:port,host:port/chroot" */
	int32_t session_timeout_ms;
	int32_t connection_timeout_ms;
	int32_t max_in_flight;       /* pipelined reads (zookeeper.max.in.flight.requests) */
	/* registration payload */
	int nendpoints;
	const char *const *endpoint_names;  /* listener names, e.g. "PLAINTEXT" */
	const char *const *endpoint_hosts;
	const int32_t *endpoint_ports;
	/* security protocol per endpoint ("PLAINTEXT", "SSL", ...), for the registration's
	 * listener_security_protocol_map; NULL (or a NULL entry) = the listener name itself if
	 * it is a protocol name, else "PLAINTEXT". */
	const char *const *endpoint_protocols;
	const char *rack;            /* NULL if none */
	/* the listener other brokers are reached on (inter.broker.listener.name); NULL = the
	 * first of a broker's endpoints */
	const char *inter_broker_listener;
	/* controller policy */
	int32_t num_partitions;
	int16_t default_replication_factor;
	bool delete_topic_enable;
	bool unclean_leader_election_enable; /* broker default for topics without an override */
	bool auto_create_topics_enable;
	const char *cluster_id_hint; /* cluster.id from meta.properties, or NULL */
	/* auto leader rebalance (Kafka's auto.leader.rebalance.enable and friends) */
	bool auto_leader_rebalance_enable;
	int64_t leader_imbalance_check_interval_seconds;
	int32_t leader_imbalance_per_broker_percentage;
} keel_coord_config_t;

typedef struct keel_coord keel_coord_t;

/* Create the coordination thread's state. It posts messages to `to_loop`. The config's strings
 * are copied. */
keel_coord_t *keel_coord_new(const keel_coord_config_t *cfg, keel_mq_t *to_loop);

/* Connect to ZooKeeper (waiting up to connection_timeout_ms), create base paths,
 * /cluster/id, and register. Blocking; call once from main before the loop runs.
 * If the broker znode is held by an old session of this broker, waits for that
 * session to expire (up to the session timeout), then registers. Returns 0, or -1
 * with a reason in err (ZooKeeper unreachable, broker id in use: "broker.id N ...").
 * On success *broker_id is the (possibly generated) id and cluster_id the cluster id. */
int keel_coord_start(keel_coord_t *c, int32_t *broker_id, char *cluster_id, size_t cluster_id_len,
		     char *err, size_t errlen);

/* Hand a command to the coordination thread. Thread-safe. The coord thread answers with
 * KEEL_MSG_CMD_DONE carrying the same pointer. */
void keel_coord_submit(keel_coord_t *c, keel_cmd_t *cmd);

/* Resign, close the session (the ephemeral znodes go at once), join the thread. */
void keel_coord_stop(keel_coord_t *c);
void keel_coord_free(keel_coord_t *c);

/* Topic name rules (protocol.md section 4): [a-zA-Z0-9._-]{1,249}, not "." or "..". */
bool keel_topic_name_valid(const char *name);

#endif
