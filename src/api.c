/* src/api.c: the ApiKey dispatch table, request header decoding, response framing. */
#include "api.h"
#include "batch.h"
#include "conn.h"
#include "group_proto.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOFLEX INT16_MAX

const keel_api_entry_t keel_apis[KAPI_MAX] = {
	[KAPI_PRODUCE] = {0, 7, NOFLEX, keel_api_produce, "Produce"},
	[KAPI_FETCH] = {0, 11, NOFLEX, keel_api_fetch, "Fetch"},
	[KAPI_LIST_OFFSETS] = {0, 5, NOFLEX, keel_api_list_offsets, "ListOffsets"},
	[KAPI_METADATA] = {0, 8, NOFLEX, keel_api_metadata, "Metadata"},
	/* the controller's requests, at the versions keel's controller sends */
	[KAPI_LEADER_AND_ISR] = {4, 4, 4, keel_api_leader_and_isr, "LeaderAndIsr"},
	[KAPI_STOP_REPLICA] = {3, 3, 2, keel_api_stop_replica, "StopReplica"},
	[KAPI_UPDATE_METADATA] = {6, 6, 6, keel_api_update_metadata, "UpdateMetadata"},
	[KAPI_CONTROLLED_SHUTDOWN] = {1, 2, NOFLEX, keel_api_controlled_shutdown, "ControlledShutdown"},
	[KAPI_API_VERSIONS] = {0, 3, 3, keel_api_versions, "ApiVersions"},
	[KAPI_CREATE_TOPICS] = {0, 4, NOFLEX, keel_api_create_topics, "CreateTopics"},
	[KAPI_DELETE_TOPICS] = {0, 3, NOFLEX, keel_api_delete_topics, "DeleteTopics"},
	[KAPI_OFFSET_FOR_LEADER_EPOCH] = {0, 3, NOFLEX, keel_api_offset_for_leader_epoch, "OffsetForLeaderEpoch"},
	/* consumer groups (group_proto.h has the version limits) */
	[KAPI_OFFSET_COMMIT] = {0, KEEL_OFFSET_COMMIT_MAX, NOFLEX, keel_api_offset_commit, "OffsetCommit"},
	[KAPI_OFFSET_FETCH] = {0, KEEL_OFFSET_FETCH_MAX, KEEL_OFFSET_FETCH_FLEX, keel_api_offset_fetch,
			       "OffsetFetch"},
	[KAPI_FIND_COORDINATOR] = {0, 2, NOFLEX, keel_api_find_coordinator, "FindCoordinator"},
	[KAPI_JOIN_GROUP] = {0, KEEL_JOIN_GROUP_MAX, NOFLEX, keel_api_join_group, "JoinGroup"},
	[KAPI_HEARTBEAT] = {0, KEEL_HEARTBEAT_MAX, NOFLEX, keel_api_heartbeat, "Heartbeat"},
	[KAPI_LEAVE_GROUP] = {0, KEEL_LEAVE_GROUP_MAX, NOFLEX, keel_api_leave_group, "LeaveGroup"},
	[KAPI_SYNC_GROUP] = {0, KEEL_SYNC_GROUP_MAX, NOFLEX, keel_api_sync_group, "SyncGroup"},
	[KAPI_DESCRIBE_GROUPS] = {0, KEEL_DESCRIBE_GROUPS_MAX, NOFLEX, keel_api_describe_groups,
				  "DescribeGroups"},
	[KAPI_LIST_GROUPS] = {0, KEEL_LIST_GROUPS_MAX, KEEL_LIST_GROUPS_FLEX, keel_api_list_groups,
			      "ListGroups"},
	[KAPI_DELETE_GROUPS] = {0, KEEL_DELETE_GROUPS_MAX, NOFLEX, keel_api_delete_groups, "DeleteGroups"},
	[KAPI_OFFSET_DELETE] = {0, KEEL_OFFSET_DELETE_MAX, NOFLEX, keel_api_offset_delete, "OffsetDelete"},
	[KAPI_ELECT_LEADERS] = {0, 1, NOFLEX, keel_api_elect_leaders, "ElectLeaders"},
	[KAPI_ALTER_PARTITION_REASSIGNMENTS] = {0, 0, 0, keel_api_alter_partition_reassignments,
						"AlterPartitionReassignments"},
	[KAPI_LIST_PARTITION_REASSIGNMENTS] = {0, 0, 0, keel_api_list_partition_reassignments,
					       "ListPartitionReassignments"},
};

int keel_dispatch(keel_conn_t *c, const uint8_t *frame, size_t len);

/* Decode the request header into req. Returns false if it is malformed. */
static bool parse_header(keel_request_t *req, const uint8_t *frame, size_t len)
{
	kr_t r;
	bool null;
	kr_init(&r, frame, len, false);
	req->api_key = kr_i16(&r);
	req->api_version = kr_i16(&r);
	req->correlation_id = kr_i32(&r);
	req->client_id = kr_str(&r, &null); /* int16 length even in header v2 */
	if (!kr_ok(&r))
		return false;
	if (req->api_key >= 0 && req->api_key < KAPI_MAX && keel_apis[req->api_key].fn &&
	    req->api_version >= keel_apis[req->api_key].flex_min) {
		req->flex = true;
		r.flex = true;
		kr_tags(&r);
	}
	req->body = r;
	return kr_ok(&r);
}

int keel_dispatch(keel_conn_t *c, const uint8_t *frame, size_t len)
{
	keel_request_t *req = &c->req;
	const keel_api_entry_t *e;
	memset(req, 0, sizeof(*req));
	req->broker = c->broker;
	req->conn = c;
	if (!parse_header(req, frame, len)) {
		/* ApiVersions with an unknown version may carry a body we cannot parse: still answer */
		if (len >= 8 && kb_get16(frame) == KAPI_API_VERSIONS) {
			req->api_key = KAPI_API_VERSIONS;
			req->api_version = kb_get16(frame + 2);
			req->correlation_id = kb_get32(frame + 4);
			return keel_api_versions(req);
		}
		klog_warn("net", "%s: malformed request header; closing", c->peer);
		return KEEL_CLOSE;
	}
	if (req->api_key < 0 || req->api_key >= KAPI_MAX || !keel_apis[req->api_key].fn) {
		klog_warn("net", "%s: unknown api key %d; closing", c->peer, req->api_key);
		return KEEL_CLOSE;
	}
	e = &keel_apis[req->api_key];
	if (req->api_key != KAPI_API_VERSIONS && (req->api_version < e->min || req->api_version > e->max)) {
		klog_warn("net", "%s: %s v%d not supported (%d-%d); closing", c->peer, e->name,
			  req->api_version, e->min, e->max);
		return KEEL_CLOSE;
	}
	klog(KLOG_TRACE, "net", "%s: %s v%d corr %d", c->peer, e->name, req->api_version, req->correlation_id);
	int rc = e->fn(req);
	if (rc == KEEL_CLOSE)
		klog_warn("net", "%s: malformed %s v%d request; closing", c->peer, e->name, req->api_version);
	return rc;
}

void keel_resp_begin(keel_request_t *req, keel_resp_t *r)
{
	memset(r, 0, sizeof(*r));
	kw_init(&r->w, 1024, req->flex);
	kw_i32(&r->w, 0); /* size, patched in keel_resp_send */
	kw_i32(&r->w, req->correlation_id);
	if (req->flex && req->api_key != KAPI_API_VERSIONS)
		kw_tags(&r->w);
}

bool keel_resp_file(keel_resp_t *r, int fd, off_t pos, size_t len)
{
	if (r->nfiles == r->capfiles) {
		int cap = r->capfiles ? r->capfiles * 2 : 8;
		keel_resp_file_t *f = realloc(r->files, (size_t)cap * sizeof(*f));
		if (!f)
			return false;
		r->files = f;
		r->capfiles = cap;
	}
	r->files[r->nfiles++] = (keel_resp_file_t){r->w.len, fd, pos, len};
	r->file_bytes += len;
	return true;
}

void keel_resp_free(keel_resp_t *r)
{
	free(r->files); /* the file ranges' fds are the log's */
	kw_free(&r->w);
}

/* Queue what is left of a response with file ranges after `sent` bytes of it went out: memory
 * pieces are copied, and each file range holds a dup of the log's fd. */
static bool resp_queue_rest(keel_conn_t *c, keel_resp_t *r, size_t sent)
{
	size_t off = 0, at = 0; /* at: bytes of the response before `off` and the files before it */
	for (int i = 0; i <= r->nfiles; i++) {
		size_t end = i < r->nfiles ? r->files[i].mem_off : r->w.len;
		if (end > off) {
			size_t skip = sent > at ? sent - at : 0;
			if (skip < end - off) {
				size_t n = end - off - skip;
				uint8_t *m = malloc(n);
				if (!m)
					return false;
				memcpy(m, r->w.buf + off + skip, n);
				keel_conn_queue_mem(c, m, n);
			}
			at += end - off;
			off = end;
		}
		if (i < r->nfiles) {
			keel_resp_file_t *f = &r->files[i];
			size_t skip = sent > at ? sent - at : 0;
			if (skip < f->len) {
				int d = dup(f->fd);
				if (d < 0)
					return false;
				keel_conn_queue_file(c, d, f->pos + (off_t)skip, f->len - skip);
			}
			at += f->len;
		}
	}
	return true;
}

void keel_resp_send(keel_request_t *req, keel_resp_t *r)
{
	keel_conn_t *c = req->conn;
	if (r->w.oom) {
		keel_resp_free(r);
		keel_conn_close(c, "out of memory building a response");
		return;
	}
	kw_patch32(&r->w, 0, (int32_t)(r->w.len - 4 + r->file_bytes));
	if (r->nfiles == 0) {
		keel_conn_queue_mem(c, r->w.buf, r->w.len);
		r->w.buf = NULL;
		keel_resp_free(r);
		return;
	}
	/* With nothing queued before it (the usual fetch response), the response goes out now,
	 * straight from the log's fds: no dup, no copy. What the socket does not take is queued. */
	size_t sent = 0, off = 0;
	bool more = keel_conn_idle_output(c);
	for (int i = 0; more && i <= r->nfiles; i++) {
		size_t end = i < r->nfiles ? r->files[i].mem_off : r->w.len;
		if (end > off) {
			size_t n = keel_conn_write_now(c, r->w.buf + off, end - off, i < r->nfiles);
			sent += n;
			more = n == end - off;
			off = end;
		}
		if (more && i < r->nfiles) {
			size_t n = keel_conn_sendfile_now(c, r->files[i].fd, r->files[i].pos, r->files[i].len);
			sent += n;
			more = n == r->files[i].len;
		}
	}
	if (sent < r->w.len + r->file_bytes && !resp_queue_rest(c, r, sent)) {
		keel_resp_free(r);
		keel_conn_close(c, "out of memory sending a response");
		return;
	}
	keel_resp_free(r);
}

bool keel_api_is_controller(const keel_broker_t *b)
{
	return b->coord && b->view && b->view->controller_id == b->id;
}

int keel_api_park_on_cmd(keel_request_t *req, keel_cmd_t *cmd)
{
	cmd->ctx = req->conn;
	req->conn->pending_cmd = cmd;
	keel_coord_submit(req->broker->coord, cmd);
	return KEEL_PARKED;
}

keel_request_t *keel_api_cmd_request(keel_cmd_t *cmd)
{
	keel_conn_t *c = cmd->ctx;
	if (!c)
		return NULL; /* the connection closed meanwhile */
	c->pending_cmd = NULL;
	cmd->ctx = NULL;
	return &c->req;
}

void keel_request_done(keel_request_t *req)
{
	keel_conn_t *c = req->conn;
	req->cancel = NULL;
	req->state = NULL;
	c->resume_pending = true;
	keel_conn_mark_dirty(c);
}
