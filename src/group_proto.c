/* src/group_proto.c: consumer-group request decoders and response encoders. Field order and
 * version gates follow Kafka's <Name>Request.json / <Name>Response.json message specs. */
#include "group_proto.h"

#include <stdlib.h>
#include <string.h>

#define NEVER_FLEX INT16_MAX

static const keel_slice_t empty_str = {(const uint8_t *)"", 0};

/* Check the version against [0, max] and set the reader's encoding from it. */
static bool req_begin(kr_t *r, int16_t version, int16_t max, int16_t flex)
{
	if (version < 0 || version > max)
		return false;
	r->flex = version >= flex;
	return kr_ok(r);
}

/* The body's closing tag section; the whole body must have been read. */
/* The end of a request: its tags, then whatever follows is ignored, as Kafka's parser does
 * (librdkafka 2.0 ends its ListGroups v4 with a second, empty tag section). */
static int req_end(kr_t *r)
{
	kr_tags(r);
	return kr_ok(r) ? 0 : -1;
}

static bool resp_begin(kw_t *w, int16_t version, int16_t max, int16_t flex)
{
	if (version < 0 || version > max)
		return false;
	w->flex = version >= flex;
	return true;
}

static int resp_end(kw_t *w)
{
	kw_tags(w);
	return w->oom ? -1 : 0;
}

/* throttle_time_ms, present from version `since` on. */
static void put_throttle(kw_t *w, int16_t version, int16_t since)
{
	if (version >= since)
		kw_i32(w, 0);
}

static void read_str_list(kr_t *r, keel_str_list_t *l)
{
	int32_t n = kr_count(r, 1);
	l->v = kr_calloc(r, n, sizeof(*l->v));
	l->n = l->v ? n : 0;
	for (int32_t i = 0; i < l->n; i++)
		l->v[i] = kr_str(r, NULL);
}

void keel_str_list_free(keel_str_list_t *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- FindCoordinator ---- */

int keel_find_coord_req_decode(kr_t *r, int16_t version, keel_find_coord_req_t *q)
{
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_FIND_COORDINATOR_MAX, KEEL_FIND_COORDINATOR_FLEX))
		return -1;
	q->key = kr_str(r, NULL);
	if (version >= 1)
		q->key_type = kr_i8(r);
	return req_end(r);
}

int keel_find_coord_resp_encode(kw_t *w, int16_t version, const keel_find_coord_resp_t *p)
{
	if (!resp_begin(w, version, KEEL_FIND_COORDINATOR_MAX, KEEL_FIND_COORDINATOR_FLEX))
		return -1;
	put_throttle(w, version, 1);
	kw_i16(w, p->error);
	if (version >= 1)
		kw_sstr(w, p->error_message, true);
	kw_i32(w, p->node_id);
	kw_sstr(w, p->host, false);
	kw_i32(w, p->port);
	return resp_end(w);
}

/* ---- JoinGroup ---- */

int keel_join_req_decode(kr_t *r, int16_t version, keel_join_req_t *q)
{
	int32_t n;
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_JOIN_GROUP_MAX, NEVER_FLEX))
		return -1;
	q->group_id = kr_str(r, NULL);
	q->session_timeout = kr_i32(r);
	q->rebalance_timeout = version >= 1 ? kr_i32(r) : q->session_timeout;
	q->member_id = kr_str(r, NULL);
	if (version >= 5)
		q->instance_id = kr_nstr(r);
	q->protocol_type = kr_str(r, NULL);
	n = kr_count(r, 6);
	q->protocols = kr_calloc(r, n, sizeof(*q->protocols));
	q->nprotocols = q->protocols ? n : 0;
	for (int32_t i = 0; i < q->nprotocols; i++) {
		q->protocols[i].name = kr_str(r, NULL);
		q->protocols[i].metadata = kr_bytes(r, NULL);
	}
	if (req_end(r) < 0) {
		keel_join_req_free(q);
		return -1;
	}
	return 0;
}

void keel_join_req_free(keel_join_req_t *q)
{
	free(q->protocols);
	q->protocols = NULL;
	q->nprotocols = 0;
}

int keel_join_resp_encode(kw_t *w, int16_t version, const keel_join_resp_t *p)
{
	if (!resp_begin(w, version, KEEL_JOIN_GROUP_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 2);
	kw_i16(w, p->error);
	kw_i32(w, p->generation);
	kw_sstr(w, p->protocol_name, false); /* nullable only from v7 */
	kw_sstr(w, p->leader, false);
	kw_sstr(w, p->member_id, false);
	kw_array(w, p->nmembers);
	for (int32_t i = 0; i < p->nmembers; i++) {
		kw_sstr(w, p->members[i].member_id, false);
		if (version >= 5)
			kw_sstr(w, p->members[i].instance_id, true);
		kw_sbytes(w, p->members[i].metadata, false);
	}
	return resp_end(w);
}

/* ---- Heartbeat and SyncGroup ---- */

static void read_member_ref(kr_t *r, int16_t version, keel_member_ref_t *m)
{
	m->group_id = kr_str(r, NULL);
	m->generation = kr_i32(r);
	m->member_id = kr_str(r, NULL);
	if (version >= 3)
		m->instance_id = kr_nstr(r);
}

int keel_heartbeat_req_decode(kr_t *r, int16_t version, keel_member_ref_t *q)
{
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_HEARTBEAT_MAX, NEVER_FLEX))
		return -1;
	read_member_ref(r, version, q);
	return req_end(r);
}

int keel_heartbeat_resp_encode(kw_t *w, int16_t version, int16_t error)
{
	if (!resp_begin(w, version, KEEL_HEARTBEAT_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 1);
	kw_i16(w, error);
	return resp_end(w);
}

int keel_sync_req_decode(kr_t *r, int16_t version, keel_sync_req_t *q)
{
	int32_t n;
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_SYNC_GROUP_MAX, NEVER_FLEX))
		return -1;
	read_member_ref(r, version, &q->m);
	n = kr_count(r, 6);
	q->assignments = kr_calloc(r, n, sizeof(*q->assignments));
	q->nassignments = q->assignments ? n : 0;
	for (int32_t i = 0; i < q->nassignments; i++) {
		q->assignments[i].member_id = kr_str(r, NULL);
		q->assignments[i].assignment = kr_bytes(r, NULL);
	}
	if (req_end(r) < 0) {
		keel_sync_req_free(q);
		return -1;
	}
	return 0;
}

void keel_sync_req_free(keel_sync_req_t *q)
{
	free(q->assignments);
	q->assignments = NULL;
	q->nassignments = 0;
}

int keel_sync_resp_encode(kw_t *w, int16_t version, int16_t error, keel_slice_t assignment)
{
	if (!resp_begin(w, version, KEEL_SYNC_GROUP_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 1);
	kw_i16(w, error);
	kw_sbytes(w, assignment, false);
	return resp_end(w);
}

/* ---- LeaveGroup ---- */

int keel_leave_req_decode(kr_t *r, int16_t version, keel_leave_req_t *q)
{
	int32_t n = 1;
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_LEAVE_GROUP_MAX, NEVER_FLEX))
		return -1;
	q->group_id = kr_str(r, NULL);
	if (version >= 3)
		n = kr_count(r, 4);
	q->members = kr_calloc(r, n, sizeof(*q->members));
	q->nmembers = q->members ? n : 0;
	for (int32_t i = 0; i < q->nmembers; i++) {
		q->members[i].member_id = kr_str(r, NULL);
		if (version >= 3)
			q->members[i].instance_id = kr_nstr(r);
	}
	if (req_end(r) < 0) {
		keel_leave_req_free(q);
		return -1;
	}
	return 0;
}

void keel_leave_req_free(keel_leave_req_t *q)
{
	free(q->members);
	q->members = NULL;
	q->nmembers = 0;
}

int keel_leave_resp_encode(kw_t *w, int16_t version, const keel_leave_resp_t *p)
{
	if (!resp_begin(w, version, KEEL_LEAVE_GROUP_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 1);
	kw_i16(w, p->error);
	if (version >= 3) {
		kw_array(w, p->nmembers);
		for (int32_t i = 0; i < p->nmembers; i++) {
			kw_sstr(w, p->members[i].member_id, false);
			kw_sstr(w, p->members[i].instance_id, true);
			kw_i16(w, p->members[i].error);
		}
	}
	return resp_end(w);
}

/* ---- OffsetCommit ---- */

static void read_commit_topic(kr_t *r, int16_t version, keel_commit_topic_t *t)
{
	int32_t n;
	t->name = kr_str(r, NULL);
	n = kr_count(r, 14);
	t->partitions = kr_calloc(r, n, sizeof(*t->partitions));
	t->npartitions = t->partitions ? n : 0;
	for (int32_t i = 0; i < t->npartitions; i++) {
		keel_commit_part_t *p = &t->partitions[i];
		p->partition = kr_i32(r);
		p->offset = kr_i64(r);
		p->leader_epoch = version >= 6 ? kr_i32(r) : -1;
		p->commit_ts = version == 1 ? kr_i64(r) : -1;
		p->metadata = kr_nstr(r);
	}
}

int keel_commit_req_decode(kr_t *r, int16_t version, keel_commit_req_t *q)
{
	int32_t n;
	memset(q, 0, sizeof(*q));
	q->generation = -1;
	q->member_id = empty_str;
	q->retention_ms = -1;
	if (!req_begin(r, version, KEEL_OFFSET_COMMIT_MAX, NEVER_FLEX))
		return -1;
	q->group_id = kr_str(r, NULL);
	if (version >= 1) {
		q->generation = kr_i32(r);
		q->member_id = kr_str(r, NULL);
	}
	if (version >= 7)
		q->instance_id = kr_nstr(r);
	if (version >= 2 && version <= 4)
		q->retention_ms = kr_i64(r);
	n = kr_count(r, 6);
	q->topics = kr_calloc(r, n, sizeof(*q->topics));
	q->ntopics = q->topics ? n : 0;
	for (int32_t i = 0; i < q->ntopics && kr_ok(r); i++)
		read_commit_topic(r, version, &q->topics[i]);
	if (req_end(r) < 0) {
		keel_commit_req_free(q);
		return -1;
	}
	return 0;
}

void keel_commit_req_free(keel_commit_req_t *q)
{
	for (int32_t i = 0; i < q->ntopics; i++)
		free(q->topics[i].partitions);
	free(q->topics);
	q->topics = NULL;
	q->ntopics = 0;
}

static void put_topic_errors(kw_t *w, int32_t ntopics, const keel_topic_errors_t *topics)
{
	kw_array(w, ntopics);
	for (int32_t i = 0; i < ntopics; i++) {
		kw_sstr(w, topics[i].name, false);
		kw_array(w, topics[i].npartitions);
		for (int32_t j = 0; j < topics[i].npartitions; j++) {
			kw_i32(w, topics[i].partitions[j].partition);
			kw_i16(w, topics[i].partitions[j].error);
		}
	}
}

int keel_commit_resp_encode(kw_t *w, int16_t version, int32_t ntopics,
			    const keel_topic_errors_t *topics)
{
	if (!resp_begin(w, version, KEEL_OFFSET_COMMIT_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 3);
	put_topic_errors(w, ntopics, topics);
	return resp_end(w);
}

/* ---- OffsetFetch ---- */

int keel_offset_fetch_req_decode(kr_t *r, int16_t version, keel_offset_fetch_req_t *q)
{
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_OFFSET_FETCH_MAX, KEEL_OFFSET_FETCH_FLEX))
		return -1;
	q->group_id = kr_str(r, NULL);
	/* a null topic list (all topics) arrived in v2 */
	if (!keel_topic_parts_read(r, version >= 2, &q->ntopics, &q->topics))
		return -1;
	if (version >= 7)
		q->require_stable = kr_bool(r);
	if (req_end(r) < 0) {
		keel_offset_fetch_req_free(q);
		return -1;
	}
	return 0;
}

void keel_offset_fetch_req_free(keel_offset_fetch_req_t *q)
{
	keel_topic_parts_free(q->topics, q->ntopics);
	q->topics = NULL;
	q->ntopics = 0;
}

static void put_fetched_part(kw_t *w, int16_t version, int16_t group_error,
			     const keel_fetched_part_t *p)
{
	/* v0-1 carry a group error in each partition, with no offset */
	bool folded = version < 2 && group_error != 0;
	kw_i32(w, p->partition);
	kw_i64(w, folded ? -1 : p->offset);
	if (version >= 5)
		kw_i32(w, p->leader_epoch);
	kw_sstr(w, folded ? empty_str : p->metadata, true);
	kw_i16(w, folded ? group_error : p->error);
	kw_tags(w);
}

int keel_offset_fetch_resp_encode(kw_t *w, int16_t version, const keel_offset_fetch_resp_t *p)
{
	if (!resp_begin(w, version, KEEL_OFFSET_FETCH_MAX, KEEL_OFFSET_FETCH_FLEX))
		return -1;
	put_throttle(w, version, 3);
	kw_array(w, p->ntopics);
	for (int32_t i = 0; i < p->ntopics; i++) {
		const keel_fetched_topic_t *t = &p->topics[i];
		kw_sstr(w, t->name, false);
		kw_array(w, t->npartitions);
		for (int32_t j = 0; j < t->npartitions; j++)
			put_fetched_part(w, version, p->error, &t->partitions[j]);
		kw_tags(w);
	}
	if (version >= 2)
		kw_i16(w, p->error);
	return resp_end(w);
}

/* ---- DescribeGroups ---- */

int keel_describe_groups_req_decode(kr_t *r, int16_t version, keel_describe_groups_req_t *q)
{
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_DESCRIBE_GROUPS_MAX, NEVER_FLEX))
		return -1;
	read_str_list(r, &q->groups);
	if (version >= 3)
		q->include_auth_ops = kr_bool(r);
	if (req_end(r) < 0) {
		keel_str_list_free(&q->groups);
		return -1;
	}
	return 0;
}

static void put_described_group(kw_t *w, int16_t version, const keel_described_group_t *g)
{
	kw_i16(w, g->error);
	kw_sstr(w, g->group_id, false);
	kw_sstr(w, g->state, false);
	kw_sstr(w, g->protocol_type, false);
	kw_sstr(w, g->protocol_data, false);
	kw_array(w, g->nmembers);
	for (int32_t i = 0; i < g->nmembers; i++) {
		const keel_described_member_t *m = &g->members[i];
		kw_sstr(w, m->member_id, false);
		if (version >= 4)
			kw_sstr(w, m->instance_id, true);
		kw_sstr(w, m->client_id, false);
		kw_sstr(w, m->client_host, false);
		kw_sbytes(w, m->metadata, false);
		kw_sbytes(w, m->assignment, false);
	}
	if (version >= 3)
		kw_i32(w, g->auth_ops);
}

int keel_describe_groups_resp_encode(kw_t *w, int16_t version, int32_t ngroups,
				     const keel_described_group_t *groups)
{
	if (!resp_begin(w, version, KEEL_DESCRIBE_GROUPS_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 1);
	kw_array(w, ngroups);
	for (int32_t i = 0; i < ngroups; i++)
		put_described_group(w, version, &groups[i]);
	return resp_end(w);
}

/* ---- ListGroups ---- */

int keel_list_groups_req_decode(kr_t *r, int16_t version, keel_str_list_t *states)
{
	memset(states, 0, sizeof(*states));
	if (!req_begin(r, version, KEEL_LIST_GROUPS_MAX, KEEL_LIST_GROUPS_FLEX))
		return -1;
	if (version >= 4)
		read_str_list(r, states);
	if (req_end(r) < 0) {
		keel_str_list_free(states);
		return -1;
	}
	return 0;
}

int keel_list_groups_resp_encode(kw_t *w, int16_t version, const keel_list_groups_resp_t *p)
{
	if (!resp_begin(w, version, KEEL_LIST_GROUPS_MAX, KEEL_LIST_GROUPS_FLEX))
		return -1;
	put_throttle(w, version, 1);
	kw_i16(w, p->error);
	kw_array(w, p->ngroups);
	for (int32_t i = 0; i < p->ngroups; i++) {
		kw_sstr(w, p->groups[i].group_id, false);
		kw_sstr(w, p->groups[i].protocol_type, false);
		if (version >= 4)
			kw_sstr(w, p->groups[i].state, false);
		kw_tags(w);
	}
	return resp_end(w);
}

/* ---- DeleteGroups ---- */

int keel_delete_groups_req_decode(kr_t *r, int16_t version, keel_str_list_t *groups)
{
	memset(groups, 0, sizeof(*groups));
	if (!req_begin(r, version, KEEL_DELETE_GROUPS_MAX, NEVER_FLEX))
		return -1;
	read_str_list(r, groups);
	if (req_end(r) < 0) {
		keel_str_list_free(groups);
		return -1;
	}
	return 0;
}

int keel_delete_groups_resp_encode(kw_t *w, int16_t version, int32_t n,
				   const keel_group_error_t *results)
{
	if (!resp_begin(w, version, KEEL_DELETE_GROUPS_MAX, NEVER_FLEX))
		return -1;
	put_throttle(w, version, 0);
	kw_array(w, n);
	for (int32_t i = 0; i < n; i++) {
		kw_sstr(w, results[i].group_id, false);
		kw_i16(w, results[i].error);
	}
	return resp_end(w);
}

/* ---- OffsetDelete ---- */

int keel_offset_delete_req_decode(kr_t *r, int16_t version, keel_offset_delete_req_t *q)
{
	memset(q, 0, sizeof(*q));
	if (!req_begin(r, version, KEEL_OFFSET_DELETE_MAX, NEVER_FLEX))
		return -1;
	q->group_id = kr_str(r, NULL);
	/* partitions are structs of one int32 there: without tags, the same bytes as [i32] */
	if (!keel_topic_parts_read(r, false, &q->ntopics, &q->topics))
		return -1;
	if (req_end(r) < 0) {
		keel_offset_delete_req_free(q);
		return -1;
	}
	return 0;
}

void keel_offset_delete_req_free(keel_offset_delete_req_t *q)
{
	keel_topic_parts_free(q->topics, q->ntopics);
	q->topics = NULL;
	q->ntopics = 0;
}

int keel_offset_delete_resp_encode(kw_t *w, int16_t version, int16_t error, int32_t ntopics,
				   const keel_topic_errors_t *topics)
{
	if (!resp_begin(w, version, KEEL_OFFSET_DELETE_MAX, NEVER_FLEX))
		return -1;
	kw_i16(w, error); /* the only group API with the error before the throttle time */
	put_throttle(w, version, 0);
	put_topic_errors(w, ntopics, topics);
	return resp_end(w);
}
