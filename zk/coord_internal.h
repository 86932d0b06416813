/* zk/coord_internal.h: the coordination thread's private state, shared by coord.c (session,
 * registration, election), coord_cache.c (caches, view) and the controller's files.
 * Everything here is touched only by the coordination thread, except where noted. */
#ifndef KEEL_COORD_INTERNAL_H
#define KEEL_COORD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "coord.h"
#include "keel.h"
#include "mq.h"
#include "zkjson.h"
#include "zkutil.h"

#define COORD_LOG "zk"
#define COORD_RETRY_MS 1000 /* back-off before re-reading after a failed ZooKeeper call */
#define COORD_MULTI_BATCH 400 /* ops per epoch-checked multi (well under jute.maxbuffer) */

/* ISR change notifications, as Kafka's ReplicaManager (isrChangeNotificationConfig): every
 * CHECK ms, write one isr_change_<seq> if the set of changed partitions is non-empty and
 * either nothing changed for LINGER ms or MAX_DELAY ms passed since the last write. */
#define COORD_ISR_CHECK_MS 2500
#define COORD_ISR_LINGER_MS 5000
#define COORD_ISR_MAX_DELAY_MS 60000
#define COORD_ISR_PER_NOTIFICATION 1000 /* partitions per znode (stays far below jute.maxbuffer) */
#define COORD_ISR_PATH "/isr_change_notification"
#define COORD_ISR_PREFIX "/isr_change_notification/isr_change_"
#define COORD_PREFERRED_PATH "/admin/preferred_replica_election"
#define COORD_REASSIGN_PATH "/admin/reassign_partitions"
#define COORD_REBALANCE_FIRST_MS 5000 /* Kafka's first auto-rebalance check after failover */

/* Internal event queue message types (coord->events). */
enum {
	COORD_EV_WATCH = 1,   /* payload: coord_zev_t*, a znode watch fired */
	COORD_EV_SESSION = 2, /* payload: coord_zev_t*, session state change */
	COORD_EV_CMD = 3,     /* payload: keel_cmd_t* from the loop */
	COORD_EV_STOP = 4,    /* payload: NULL */
};

/* A watcher callback, copied by the ZK client thread for the coordination thread. */
typedef struct {
	unsigned gen;  /* handle generation that produced it (stale ones are ignored) */
	int type;      /* ZOO_*_EVENT */
	int state;     /* ZOO_*_STATE */
	char path[];   /* chroot-relative */
} coord_zev_t;

/* Watcher context of one ZooKeeper handle; freed after zookeeper_close. */
typedef struct {
	struct keel_coord *c;
	unsigned gen;
} coord_zctx_t;

typedef struct {
	int32_t id;
	int64_t czxid;      /* broker epoch */
	int32_t version;    /* data version of the znode */
	char *host;         /* its inter-broker endpoint (keel_view_broker_t) */
	int32_t port;
	char *rack;
	int nendpoints;
	keel_endpoint_t *endpoints;
} coord_broker_t;

/* Deletion progress of one replica of a topic being deleted. */
typedef struct {
	int32_t partition;
	int32_t broker;
	int64_t sent_epoch;      /* broker epoch its StopReplica went to (0: not sent) */
	bool done;               /* the broker answered with no error */
} coord_del_replica_t;

typedef struct {
	bool present;       /* the state znode exists */
	int32_t zk_version; /* partition epoch */
	int64_t czxid;      /* which znode of that path (0: written here, not read back yet) */
	zkj_state_t st;
} coord_pstate_t;

typedef struct {
	char *name;
	bool loaded;            /* assignment decoded */
	int32_t data_version;
	int64_t data_czxid;     /* which /brokers/topics/<t> znode: a topic deleted and created
				 * again under the same name is a new znode (versions restart) */
	zkj_topic_t assign;
	coord_pstate_t *states; /* assign.npartitions entries */
	int nconfigs;
	char **config_keys, **config_values;
	bool deleting;          /* listed under /admin/delete_topics */
	int ndel;               /* controller, while deleting: every replica's progress */
	coord_del_replica_t *del;
} coord_topic_t;

/* Controller requests not yet encoded (controller_send.c). */
typedef struct {
	struct { int32_t broker; char *topic; int32_t partition; } *lai; /* LeaderAndIsr */
	int nlai, cap_lai;
	struct { char *topic; int32_t partition; } *um; /* UpdateMetadata to every live broker */
	int num, cap_um;
	int32_t *full;           /* brokers that get every partition in their UpdateMetadata */
	int nfull, cap_full;
	bool brokers_changed;    /* every live broker gets an UpdateMetadata (the broker list) */
} ctl_pending_t;

struct keel_coord {
	/* configuration (copied) */
	keel_coord_config_t cfg;
	char *zk_connect, *rack, *cluster_id_hint;
	char **ep_names, **ep_hosts, **ep_protos;
	char *inter_broker_listener;
	int32_t *ep_ports;

	keel_mq_t *to_loop;        /* results for the event loop */
	keel_mq_t *events;         /* watcher callbacks and commands (any thread posts) */
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;      /* set by keel_coord_stop (any thread) */

	zhandle_t *zh;
	coord_zctx_t *zctx;
	unsigned gen;              /* handle generation */
	bool expired;              /* the session expired: rebuild it */
	int setup_rc;              /* start-up: the ZooKeeper code a failed step ended with */

	int32_t broker_id;
	char cluster_id[64];

	/* controller election */
	int32_t controller_id;     /* -1 none */
	int32_t controller_epoch;  /* epoch of the current controller, as read */
	bool is_controller;
	int32_t epoch;             /* our epoch while controller */
	int32_t epoch_zkversion;   /* zkVersion of /controller_epoch we wrote */

	/* caches of what ZooKeeper holds (every broker) */
	int nbrokers;
	coord_broker_t *brokers;   /* sorted by id */
	int ntopics;
	coord_topic_t *topics;     /* sorted by name */
	int ndeletes;
	char **deletes;            /* children of /admin/delete_topics */

	bool view_dirty;           /* post a new view at the end of this turn */
	/* state watches of one topic that fired in a row, re-read together (coord.c) */
	coord_topic_t *stale_topic;
	int nstale, stale_cap;
	int32_t *stale_parts;
	/* KEEL_CMD_ALTER_ISR commands that came in a row, handled together (coord.c) */
	int nisr_cmds, isr_cmds_cap;
	keel_cmd_t **isr_cmds;
	bool resync;               /* a read failed: re-read everything at resync_at */
	int64_t resync_at;
	bool ctl_again;            /* the controller wants another pass (a write lost a race) */
	unsigned rand_state;

	/* ISR changes this broker wrote as a leader, not yet announced (coord_isr.c) */
	int nisr_changed;
	zkj_tp_t *isr_changed;     /* a set: no duplicates */
	int64_t isr_last_change_ms;  /* monotonic: last ISR write added to the set */
	int64_t isr_last_write_ms;   /* monotonic: last notification written (or start-up) */
	int64_t isr_check_at;        /* monotonic: next check while the set is non-empty */
	/* controller: /isr_change_notification must be listed (failover, watch, resync) */
	bool isr_notif_pending;
	/* controller: brokers in controlled shutdown, with the broker epoch they asked under */
	int nshutting;
	coord_broker_t *shutting;  /* only id and czxid are used */
	/* controller: brokers seen registered again under a new session (bounced) since the last
	 * reconcile: handled as a failure, then as a start-up (Kafka's bounced brokers) */
	int nbounced;
	int32_t *bounced;
	/* controller: preferred elections (controller_elect.c) */
	bool pref_znode_pending;   /* /admin/preferred_replica_election must be read (watch) */
	int64_t rebalance_at;      /* monotonic: next auto-rebalance check while controller */
	/* controller: partition reassignments (controller_reassign.c) */
	bool reassign_znode_pending; /* /admin/reassign_partitions must be read (watch) */
	bool reassign_znode_exists;  /* it existed at the last read: prune finished entries */
	/* controller: requests to brokers (controller_send.c) */
	ctl_pending_t pend;
	uint64_t ctl_next_send_id;
};

/* ---- coord.c (coordination thread) ---- */
char **coord_strv_dup(int n, const char *const *v);
void coord_strv_free(int n, char **v);
/* Note a failed ZooKeeper call: everything is re-read after COORD_RETRY_MS. */
void coord_need_resync(struct keel_coord *c, const char *what, const char *path, int rc);
/* We lost the controllership (epoch check failed, /controller moved, session lost). */
void coord_resign(struct keel_coord *c, const char *why);

/* ---- coord_cache.c (coordination thread) ---- */
void coord_topic_clear(coord_topic_t *t);
void coord_clear_brokers(struct keel_coord *c);
/* Re-read /brokers/ids and each broker (with a watch); the controller notes who started. */
void coord_reload_brokers(struct keel_coord *c);
/* Re-read /config/topics/<t> (data watch, or an exists watch while missing). */
void coord_reload_config(struct keel_coord *c, coord_topic_t *t);
coord_topic_t *coord_topic_find(struct keel_coord *c, const char *name);
bool coord_broker_live(const struct keel_coord *c, int32_t id);
/* Re-read one partition's state znode with a watch (0 <= p < npartitions of a loaded t).
 * Returns the ZK code: ZNONODE if gone; other failures also schedule a resync. */
int coord_reload_state(struct keel_coord *c, coord_topic_t *t, int32_t p);
/* The same for n partitions of t at once (parts NULL: 0 to n-1): the reads are pipelined on the
 * session. ZOK, or the first failure. */
int coord_reload_states(struct keel_coord *c, coord_topic_t *t, const int32_t *parts, int n);
/* Re-read one topic (assignment, every state, config) with watches; drops it if gone. */
void coord_reload_topic(struct keel_coord *c, const char *name);
/* Re-read the list of topics / pending deletions, with watches. */
void coord_reload_topic_list(struct keel_coord *c);
void coord_reload_deletes(struct keel_coord *c);
/* Build and post the view if anything changed. */
void coord_post_view_if_dirty(struct keel_coord *c);

/* ---- controller.c (coordination thread) ---- */
/* Bring every partition to its desired state and process pending deletions; no-op unless
 * controller. Safe to call at any time (level-triggered). */
void ctl_reconcile(struct keel_coord *c);
/* Run a loop command and post KEEL_MSG_CMD_DONE (after a view, when the command changed one). */
void ctl_handle_cmd(struct keel_coord *c, keel_cmd_t *cmd);
/* Start an epoch-checked multi (check /controller_epoch at our zkVersion). */
void ctl_multi_begin(struct keel_coord *c, zku_multi_t *m);
/* Run it; on a failed epoch check resign. Returns the ZK code. */
int ctl_multi_run(struct keel_coord *c, zku_multi_t *m, const char *what);
/* One epoch-checked multi deleting `path` (ZNONODE counts as done); resigns if the epoch moved. */
int ctl_delete_one(struct keel_coord *c, const char *path);
/* Chooses partition p's new state: 1 = write *out (its isr malloc'd), 0 = leave it. */
typedef int (*ctl_choose_fn)(struct keel_coord *c, const coord_topic_t *t, int32_t p,
			     zkj_state_t *out, void *arg);
/* Write the states `choose` picks for t's partitions that have a state znode, each conditional
 * on its zkVersion, in epoch-checked multis; the cache follows on success. Stops at the first
 * failed multi (the topic was then re-read and t may be gone). Returns the ZK code. */
int ctl_write_states(struct keel_coord *c, coord_topic_t *t, ctl_choose_fn choose, void *arg);

/* ---- controller_shutdown.c (coordination thread) ---- */
/* Is broker id in controlled shutdown (asked with its current epoch, and still live)? */
bool ctl_shutting(const struct keel_coord *c, int32_t id);
void ctl_note_broker_bounced(struct keel_coord *c, int32_t id);
/* KEEL_CMD_CONTROLLED_SHUTDOWN: mark the broker, move its leaderships, answer. */
void ctl_controlled_shutdown(struct keel_coord *c, keel_cmd_t *cmd);

/* ---- controller_elect.c (coordination thread) ---- */
/* KEEL_CMD_ELECT_LEADERS: run the elections, fill the results, post KEEL_MSG_CMD_DONE. */
void ctl_elect_leaders(struct keel_coord *c, keel_cmd_t *cmd);
/* Just became controller: read /admin/preferred_replica_election, schedule the rebalance. */
void ctl_elect_failover(struct keel_coord *c);
/* From ctl_reconcile: act on /admin/preferred_replica_election and the rebalance timer. */
void ctl_elect_reconcile(struct keel_coord *c);
/* Monotonic ms of the next auto-rebalance check; INT64_MAX if none (not controller, off). */
int64_t ctl_elect_next_due(const struct keel_coord *c);

/* ---- controller_reassign.c (coordination thread) ---- */
/* KEEL_CMD_ALTER_REASSIGNMENTS / KEEL_CMD_LIST_REASSIGNMENTS: fill the results, post
 * KEEL_MSG_CMD_DONE. */
void ctl_reassign_cmd(struct keel_coord *c, keel_cmd_t *cmd);
/* Just became controller: read /admin/reassign_partitions at the next reconcile. */
void ctl_reassign_failover(struct keel_coord *c);
/* From ctl_reconcile: start what /admin/reassign_partitions asks for, and finish the
 * reassignments whose target replicas are all in the ISR. */
void ctl_reassign_reconcile(struct keel_coord *c);
/* Is partition p of t being reassigned (non-empty adding or removing replicas)? */
bool ctl_reassigning(const coord_topic_t *t, int32_t p);

/* ---- controller_send.c (coordination thread) ---- */
/* The controller wrote partition p's state: LeaderAndIsr to its live replicas and
 * UpdateMetadata to every live broker, at the next ctl_send_flush. */
void ctl_note_state(struct keel_coord *c, const coord_topic_t *t, int32_t p);
/* A leader changed partition p's ISR: UpdateMetadata to every live broker. */
void ctl_note_isr(struct keel_coord *c, const char *topic, int32_t p);
/* A broker registered (or again): LeaderAndIsr for its partitions, the full metadata to it,
 * the broker list to the others. */
void ctl_note_broker_startup(struct keel_coord *c, int32_t broker);
/* A broker died: the others get the broker list. */
void ctl_note_brokers_changed(struct keel_coord *c);
/* Just became controller: as if every live broker had started. */
void ctl_note_failover(struct keel_coord *c);
/* Encode what was noted and post it to the loop's queues. */
void ctl_send_flush(struct keel_coord *c);
/* Lost the controllership: drop what was noted, and the loop's queues. */
void ctl_send_reset(struct keel_coord *c);
/* StopReplica (delete, leader epoch -2) for partitions of topic on broker; the send id, or 0. */
uint64_t ctl_send_stop_replica(struct keel_coord *c, int32_t broker, const char *topic,
			       const int32_t *parts, int n);
/* KEEL_CMD_CTL_RESPONSE: act on a broker's answer; frees cmd. */
void ctl_on_response(struct keel_coord *c, keel_cmd_t *cmd);
/* controller.c: broker answered StopReplica for (topic, p) with err. */
void ctl_delete_ack(struct keel_coord *c, int32_t broker, const char *topic, int32_t p, int16_t err);

/* ---- coord_isr.c (coordination thread) ---- */
/* KEEL_CMD_ALTER_ISR: write each entry's state znode; post the view, then KEEL_MSG_CMD_DONE. */
void isr_handle_cmd(struct keel_coord *c, keel_cmd_t *cmd);
/* The same for n commands at once: their writes are pipelined. */
void isr_handle_cmds(struct keel_coord *c, keel_cmd_t **cmds, int n);
/* Write the pending ISR change notification if Kafka's timing says it is due. */
void isr_propagate(struct keel_coord *c);
/* Monotonic ms of the next notification check; INT64_MAX if none is scheduled. */
int64_t isr_next_due(const struct keel_coord *c);
/* Controller: list /isr_change_notification (child watch), re-read the listed partitions'
 * states and delete the processed znodes. No-op unless c->isr_notif_pending. */
void isr_ctl_notifications(struct keel_coord *c);
/* Drop the pending set (keel_coord_free). */
void isr_clear(struct keel_coord *c);

#endif
