/* src/api.h: request dispatch: the table indexed by ApiKey, request headers, and the response
 * builder that mixes memory and file ranges (fetch data goes out with sendfile). */
#ifndef KEEL_API_H
#define KEEL_API_H

#include "broker.h"
#include "codec.h"

enum {
	KAPI_PRODUCE = 0,
	KAPI_FETCH = 1,
	KAPI_LIST_OFFSETS = 2,
	KAPI_METADATA = 3,
	KAPI_LEADER_AND_ISR = 4,
	KAPI_STOP_REPLICA = 5,
	KAPI_UPDATE_METADATA = 6,
	KAPI_CONTROLLED_SHUTDOWN = 7,
	KAPI_OFFSET_COMMIT = 8,
	KAPI_OFFSET_FETCH = 9,
	KAPI_FIND_COORDINATOR = 10,
	KAPI_JOIN_GROUP = 11,
	KAPI_HEARTBEAT = 12,
	KAPI_LEAVE_GROUP = 13,
	KAPI_SYNC_GROUP = 14,
	KAPI_DESCRIBE_GROUPS = 15,
	KAPI_LIST_GROUPS = 16,
	KAPI_DELETE_GROUPS = 42,
	KAPI_OFFSET_DELETE = 47,
	KAPI_API_VERSIONS = 18,
	KAPI_OFFSET_FOR_LEADER_EPOCH = 23,
	KAPI_CREATE_TOPICS = 19,
	KAPI_DELETE_TOPICS = 20,
	KAPI_ELECT_LEADERS = 43,
	KAPI_ALTER_PARTITION_REASSIGNMENTS = 45,
	KAPI_LIST_PARTITION_REASSIGNMENTS = 46,
	KAPI_MAX = 68,
};

/* A file range spliced into a response after `mem_off` bytes of the memory part. */
typedef struct {
	size_t mem_off;
	int fd;          /* borrowed from the log: valid until keel_resp_send (see keel_resp_file) */
	off_t pos;
	size_t len;
} keel_resp_file_t;

/* A response under construction: header + body in w, plus file ranges. */
typedef struct {
	kw_t w;
	keel_resp_file_t *files;
	int nfiles, capfiles;
	size_t file_bytes;
} keel_resp_t;

/* One request being handled. The frame bytes stay in the connection's read buffer until the
 * request completes, so slices from the decoder remain valid even while it is parked. */
struct keel_request {
	keel_broker_t *broker;
	keel_conn_t *conn;
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	keel_slice_t client_id;
	bool flex;
	kr_t body;                /* reader positioned after the header */
	void *state;              /* handler's parked state */
	void (*cancel)(keel_request_t *req); /* frees state if the connection dies while parked */
};

/* Handler results. */
#define KEEL_HANDLED 0     /* response (or none for acks=0) queued */
#define KEEL_PARKED 1      /* will complete later through keel_request_done */
#define KEEL_CLOSE (-1)    /* malformed: close the connection */

typedef int (*keel_api_fn)(keel_request_t *req);

typedef struct {
	int16_t min, max;   /* advertised versions */
	int16_t flex_min;   /* first flexible version (INT16_MAX = none) */
	keel_api_fn fn;
	const char *name;
} keel_api_entry_t;

extern const keel_api_entry_t keel_apis[KAPI_MAX];

/* Start a response: writes the size placeholder and the response header (v1 adds tags when
 * flex; ApiVersions always uses header v0). */
void keel_resp_begin(keel_request_t *req, keel_resp_t *r);
/* Append a file range. The fd stays the log's: keel_resp_send must follow before anything can
 * close it (it dups what it cannot write at once). Returns false on failure. */
bool keel_resp_file(keel_resp_t *r, int fd, off_t pos, size_t len);
/* Patch the frame size and queue the response on the connection (ownership moves). */
void keel_resp_send(keel_request_t *req, keel_resp_t *r);
void keel_resp_free(keel_resp_t *r);

/* Complete a parked request: the handler has queued its response (or none). The connection
 * resumes processing buffered requests. If the connection was closed meanwhile this is
 * never called: cancel() was. */
void keel_request_done(keel_request_t *req);

/* Requests answered by the coordination thread: is this broker the controller; hand cmd over and
 * park req (KEEL_PARKED); and, on its KEEL_MSG_CMD_DONE, the request parked on cmd (detached;
 * NULL if the connection closed meanwhile). Loop thread. */
bool keel_api_is_controller(const keel_broker_t *b);
int keel_api_park_on_cmd(keel_request_t *req, keel_cmd_t *cmd);
keel_request_t *keel_api_cmd_request(keel_cmd_t *cmd);

/* The handlers (api_*.c). */
int keel_api_versions(keel_request_t *req);
int keel_api_metadata(keel_request_t *req);
int keel_api_produce(keel_request_t *req);
int keel_api_fetch(keel_request_t *req);
int keel_api_list_offsets(keel_request_t *req);
int keel_api_create_topics(keel_request_t *req);
int keel_api_delete_topics(keel_request_t *req);
int keel_api_offset_for_leader_epoch(keel_request_t *req);
int keel_api_controlled_shutdown(keel_request_t *req);
void keel_api_controlled_shutdown_done(keel_broker_t *b, keel_cmd_t *cmd);
int keel_api_elect_leaders(keel_request_t *req);
void keel_api_elect_leaders_done(keel_broker_t *b, keel_cmd_t *cmd);
int keel_api_find_coordinator(keel_request_t *req);
int keel_api_join_group(keel_request_t *req);
int keel_api_sync_group(keel_request_t *req);
int keel_api_heartbeat(keel_request_t *req);
int keel_api_leave_group(keel_request_t *req);
int keel_api_offset_commit(keel_request_t *req);
int keel_api_offset_fetch(keel_request_t *req);
int keel_api_describe_groups(keel_request_t *req);
int keel_api_list_groups(keel_request_t *req);
int keel_api_delete_groups(keel_request_t *req);
int keel_api_offset_delete(keel_request_t *req);
int keel_api_leader_and_isr(keel_request_t *req);
int keel_api_stop_replica(keel_request_t *req);
int keel_api_update_metadata(keel_request_t *req);
int keel_api_alter_partition_reassignments(keel_request_t *req);
int keel_api_list_partition_reassignments(keel_request_t *req);
void keel_api_reassign_done(keel_broker_t *b, keel_cmd_t *cmd);
/* Completion of a coordination command (KEEL_MSG_CMD_DONE) for CreateTopics/DeleteTopics. */
void keel_api_topics_done(keel_broker_t *b, keel_cmd_t *cmd);
void keel_api_topic_waits_init(keel_broker_t *b);
/* After a view or a partition going live: answer the DeleteTopics whose topics are gone and
 * the CreateTopics whose partitions all have a leader. */
void keel_api_topic_waits_check(keel_broker_t *b);
/* Shutdown: drop the waits (their connections are closed). */
void keel_api_topic_waits_free(keel_broker_t *b);
/* Does partition p of t have a leader clients can use, as this broker's Metadata tells it: a
 * live leader broker, and if that is this broker, the partition live here as leader? */
bool keel_api_leader_known(keel_broker_t *b, const keel_view_topic_t *t, const keel_view_partition_t *p);
/* The error for a partition this broker holds no replica of: NOT_LEADER_OR_FOLLOWER if the
 * cluster has it (the client's metadata is stale), else UNKNOWN_TOPIC_OR_PARTITION (Kafka's
 * rule: whether the metadata cache knows the partition). */
int16_t keel_api_not_here(keel_broker_t *b, keel_slice_t topic, int32_t index);
/* Fetch waiters: re-evaluate a parked fetch (called by keel_partition_wake). */
void keel_api_fetch_wake(void *req);

#endif
