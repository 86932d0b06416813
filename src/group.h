/* src/group.h: the group coordinator (Kafka's GroupCoordinator and GroupMetadataManager): the
 * groups whose __consumer_offsets partition this broker leads, their members and rebalances,
 * and their committed offsets, kept in that partition's log with Kafka's record formats.
 * Loop thread only. */
#ifndef KEEL_GROUP_H
#define KEEL_GROUP_H

#include "broker.h"
#include "group_proto.h"

#define KEEL_OFFSETS_TOPIC "__consumer_offsets"

typedef enum {
	KEEL_GROUP_EMPTY,
	KEEL_GROUP_PREPARING,    /* PreparingRebalance: collecting joins */
	KEEL_GROUP_COMPLETING,   /* CompletingRebalance: waiting for the leader's assignments */
	KEEL_GROUP_STABLE,
	KEEL_GROUP_DEAD,
} keel_group_state_t;

/* Kafka's names for the states (DescribeGroups, ListGroups). */
const char *keel_group_state_name(keel_group_state_t s);

typedef struct keel_gmember keel_gmember_t;
typedef struct keel_group keel_group_t;

struct keel_gmember {
	keel_gmember_t *next;
	char *id;
	char *instance_id;          /* static membership; NULL for dynamic members */
	char *client_id, *client_host;
	int32_t session_timeout, rebalance_timeout;
	int nprotocols;
	char **proto_names;
	keel_slice_t *proto_meta;   /* malloc'd copies */
	uint8_t *assignment;
	size_t assignment_len;
	keel_request_t *join_req;   /* a parked JoinGroup */
	keel_request_t *sync_req;   /* a parked SyncGroup */
	int64_t last_heartbeat;     /* monotonic ms */
	bool is_new;                /* joined during this rebalance (KIP-394 new-member timeout) */
};

/* A committed offset. */
typedef struct {
	char *topic;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	char *metadata;
	int64_t commit_ts, expire_ts; /* wall ms; expire_ts -1: by the group's retention */
} keel_goffset_t;

struct keel_group {
	keel_group_t *hnext;
	char *id;
	int32_t partition;          /* its __consumer_offsets partition */
	keel_group_state_t state;
	int64_t state_ts;           /* wall ms of the last state change (current_state_timestamp) */
	int32_t generation;
	char *protocol_type;        /* NULL while nobody joined */
	char *protocol;             /* the chosen one, NULL when Empty */
	char *leader;               /* member id, NULL when Empty */
	keel_gmember_t *members;
	int nmembers;
	char **pending;             /* KIP-394: member ids handed out, not yet joined */
	int64_t *pending_deadline;
	int npending;
	int64_t join_deadline;      /* monotonic ms: end of the join phase (PreparingRebalance) */
	int64_t initial_deadline;   /* monotonic ms: end of the initial delay (0: none) */
	int64_t initial_max;        /* monotonic ms: the initial delay may not pass this */
	bool new_member_added;      /* during the initial delay: extend it */
	keel_goffset_t *offsets;    /* sorted by topic, partition */
	int noffsets, capoffsets;
	int writes;                 /* appends in flight that reference the group */
};

/* The coordinator's state, one per broker (b->groups). */
struct keel_coordinator {
	keel_broker_t *b;
	keel_group_t **table;
	size_t size, ngroups;
	uint8_t *loaded;            /* per offsets partition: 1 when its groups are loaded here */
	int32_t nloaded;            /* size of loaded */
	keel_timer_t tick;          /* heartbeats, join deadlines, offset expiry */
	int64_t next_expiry_ms;     /* monotonic: next offset retention sweep */
	struct store_op *stores;    /* writes waiting for replication (group_offsets.c) */
};

int keel_coordinator_init(keel_broker_t *b);
/* Shutdown: answer parked requests, free everything. */
void keel_coordinator_free(keel_broker_t *b);

/* The number of __consumer_offsets partitions: the topic's, else offsets.topic.num.partitions. */
int32_t keel_offsets_partitions(const keel_broker_t *b);
/* 0 if this broker coordinates group_id (leader of its partition, loaded), else
 * NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. *partition is set either way. */
int16_t keel_coordinator_check(keel_broker_t *b, keel_slice_t group_id, int32_t *partition);
/* Make sure __consumer_offsets exists (an auto-creation with Kafka's settings). */
void keel_offsets_topic_ensure(keel_broker_t *b);

/* This broker leads (load its groups from the log) or no longer leads (unload) an offsets
 * partition. From the view/LeaderAndIsr application. */
void keel_coordinator_elected(keel_broker_t *b, keel_partition_t *p);
void keel_coordinator_resigned(keel_broker_t *b, const char *topic, int32_t index);

keel_group_t *keel_group_find(keel_broker_t *b, keel_slice_t id);

/* ---- the group APIs (src/group.c); each answers or parks req ---- */
int keel_group_join(keel_request_t *req, keel_join_req_t *q);
int keel_group_sync(keel_request_t *req, keel_sync_req_t *q);
int16_t keel_group_heartbeat(keel_request_t *req, const keel_member_ref_t *q);
int16_t keel_group_leave(keel_request_t *req, keel_leave_req_t *q);
/* DeleteGroups of one group: 0, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ... */
int16_t keel_group_delete(keel_broker_t *b, keel_slice_t id);

/* ---- offsets (src/group_offsets.c) ---- */
int keel_group_commit(keel_request_t *req, keel_commit_req_t *q);
const keel_goffset_t *keel_group_offset(const keel_group_t *g, keel_slice_t topic, int32_t p);
/* OffsetDelete: per partition error in errs (same order as q's partitions). Returns the
 * group-level error. */
int16_t keel_group_offset_delete(keel_broker_t *b, keel_offset_delete_req_t *q, int16_t *errs);
/* Write a record batch to the group's offsets partition (keys/values: n records; a NULL ptr
 * value is a tombstone). done(arg, error) runs once the batch is committed (HW past it) or
 * failed (Kafka's mapping to coordinator errors); it may run before this returns. */
void keel_group_store(keel_broker_t *b, int32_t partition, int n, const keel_slice_t *keys,
		      const keel_slice_t *values, void (*done)(void *arg, int16_t err), void *arg);
/* Shutdown: fail every write still waiting. */
void keel_group_stores_abort(keel_broker_t *b);
/* Load the groups and offsets of partition p from its log. */
void keel_group_load(keel_broker_t *b, keel_partition_t *p);
/* Apply one loaded record (key, value; value NULL = tombstone). */
void keel_group_replay(keel_broker_t *b, int32_t partition, keel_slice_t key, keel_slice_t value);
/* Drop offsets (and empty groups) past their retention; from the tick. */
void keel_group_expire(keel_broker_t *b);
void keel_goffsets_free(keel_group_t *g);

/* ---- shared inside the coordinator ---- */
keel_group_t *keel_group_get_or_create(keel_broker_t *b, keel_slice_t id, int32_t partition);
void keel_group_remove(keel_broker_t *b, keel_group_t *g);
/* The group metadata record (key, value) of g: value NULL when g is Dead (a tombstone). */
void keel_group_record(const keel_group_t *g, kw_t *key, kw_t *value);
/* Replace g's generation, protocol and members with a group record's (loading). */
void keel_group_restore(keel_group_t *g, const keel_group_value_t *v);
void keel_coordinator_arm(keel_broker_t *b);

#endif
