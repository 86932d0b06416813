/* src/group_sync.c: the group APIs after the join phase: SyncGroup (the leader's assignments,
 * stored in __consumer_offsets before anyone gets theirs), Heartbeat, LeaveGroup, DeleteGroups,
 * and a group's metadata record, written and read back. Loop thread only. */
#include "group.h"
#include "group_internal.h"
#include "api.h"
#include "conn.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ SyncGroup */

typedef struct {
	keel_broker_t *b;
	char *group;
	int32_t generation;
} sync_store_t;

/* The leader's assignments are in the log: everyone gets theirs, the group is Stable. */
static void sync_stored(void *arg, int16_t err)
{
	sync_store_t *s = arg;
	keel_broker_t *b = s->b;
	keel_group_t *g = s->group ? keel_group_find(b, sl(s->group)) : NULL;
	if (g && g->state == KEEL_GROUP_COMPLETING && g->generation == s->generation) {
		for (keel_gmember_t *m = g->members; m; m = m->next) {
			keel_request_t *req = m->sync_req;
			m->sync_req = NULL;
			if (err) {
				free(m->assignment);
				m->assignment = NULL;
				m->assignment_len = 0;
			}
			if (req)
				grp_sync_answer(req, err, m->assignment, m->assignment_len);
		}
		if (err)
			grp_prepare_rebalance(b, g, "storing the assignments failed");
		else
			grp_set_state(g, KEEL_GROUP_STABLE);
		if (!err)
			klog_info(GROUP_LOG, "assignments of group %s generation %d are stored; the group "
				  "is Stable", g->id, g->generation);
	}
	free(s->group);
	free(s);
}

static void sync_cancel(keel_request_t *req)
{
	keel_gmember_t *m = req->state;
	if (m)
		m->sync_req = NULL;
}

static void park_sync(keel_request_t *req, keel_gmember_t *m)
{
	m->sync_req = req;
	req->state = m;
	req->cancel = sync_cancel;
}

int keel_group_sync(keel_request_t *req, keel_sync_req_t *q)
{
	keel_broker_t *b = req->broker;
	keel_group_t *g;
	keel_gmember_t *m;
	int32_t part;
	int16_t err = keel_coordinator_check(b, q->m.group_id, &part);
	if (err) {
		grp_sync_answer(req, err, NULL, 0);
		return KEEL_PARKED;
	}
	g = keel_group_find(b, q->m.group_id);
	m = g ? grp_member_find(g, q->m.member_id) : NULL;
	if (!g)
		err = KERR_UNKNOWN_MEMBER_ID;
	else if (g->state == KEEL_GROUP_DEAD)
		err = KERR_COORDINATOR_NOT_AVAILABLE;
	else if (q->m.instance_id.ptr && grp_member_by_instance(g, q->m.instance_id) != m)
		err = KERR_FENCED_INSTANCE_ID;
	else if (!m)
		err = KERR_UNKNOWN_MEMBER_ID;
	else if (q->m.generation != g->generation)
		err = KERR_ILLEGAL_GENERATION;
	else if (g->state == KEEL_GROUP_EMPTY)
		err = KERR_UNKNOWN_MEMBER_ID;
	else if (g->state == KEEL_GROUP_PREPARING)
		err = KERR_REBALANCE_IN_PROGRESS;
	if (err) {
		grp_sync_answer(req, err, NULL, 0);
		return KEEL_PARKED;
	}
	m->last_heartbeat = keel_mono_ms();
	if (g->state == KEEL_GROUP_STABLE) {
		grp_sync_answer(req, KERR_NONE, m->assignment, m->assignment_len);
		return KEEL_PARKED;
	}
	/* CompletingRebalance */
	if (m->sync_req) { /* a retry: the old one gets nothing */
		keel_request_t *old = m->sync_req;
		m->sync_req = NULL;
		grp_sync_answer(old, KERR_REBALANCE_IN_PROGRESS, NULL, 0);
	}
	park_sync(req, m);
	if (g->leader && !strcmp(g->leader, m->id)) {
		sync_store_t *s = calloc(1, sizeof(*s));
		for (keel_gmember_t *x = g->members; x; x = x->next) {
			free(x->assignment);
			x->assignment = NULL;
			x->assignment_len = 0;
			for (int32_t i = 0; i < q->nassignments; i++)
				if (sl_eq(q->assignments[i].member_id, x->id) && q->assignments[i].assignment.len) {
					x->assignment = malloc(q->assignments[i].assignment.len);
					if (x->assignment) {
						memcpy(x->assignment, q->assignments[i].assignment.ptr,
						       q->assignments[i].assignment.len);
						x->assignment_len = q->assignments[i].assignment.len;
					}
				}
		}
		if (!s || !(s->group = strdup(g->id))) {
			free(s);
			grp_prepare_rebalance(b, g, "out of memory"); /* answers the parked syncs */
			return KEEL_PARKED;
		}
		s->b = b;
		s->generation = g->generation;
		grp_store_group(b, g, sync_stored, s);
	}
	return KEEL_PARKED;
}

/* ================================================================ Heartbeat, LeaveGroup */

int16_t keel_group_heartbeat(keel_request_t *req, const keel_member_ref_t *q)
{
	keel_broker_t *b = req->broker;
	keel_group_t *g;
	keel_gmember_t *m;
	int32_t part;
	int16_t err = keel_coordinator_check(b, q->group_id, &part);
	if (err)
		return err;
	g = keel_group_find(b, q->group_id);
	if (!g)
		return KERR_UNKNOWN_MEMBER_ID;
	if (g->state == KEEL_GROUP_DEAD)
		return KERR_COORDINATOR_NOT_AVAILABLE;
	m = grp_member_find(g, q->member_id);
	if (q->instance_id.ptr && grp_member_by_instance(g, q->instance_id) != m)
		return KERR_FENCED_INSTANCE_ID;
	if (!m)
		return KERR_UNKNOWN_MEMBER_ID;
	if (q->generation != g->generation)
		return KERR_ILLEGAL_GENERATION;
	switch (g->state) {
	case KEEL_GROUP_EMPTY:
		return KERR_UNKNOWN_MEMBER_ID;
	case KEEL_GROUP_PREPARING:
		m->last_heartbeat = keel_mono_ms();
		return KERR_REBALANCE_IN_PROGRESS;
	default:
		m->last_heartbeat = keel_mono_ms();
		return KERR_NONE;
	}
}

int16_t keel_group_leave(keel_request_t *req, keel_leave_req_t *q)
{
	keel_broker_t *b = req->broker;
	keel_group_t *g;
	int32_t part;
	int16_t err = keel_coordinator_check(b, q->group_id, &part);
	if (err)
		return err;
	g = keel_group_find(b, q->group_id);
	for (int32_t i = 0; i < q->nmembers; i++) {
		keel_leave_member_t *l = &q->members[i];
		keel_gmember_t *m = NULL, *inst;
		if (!g || g->state == KEEL_GROUP_DEAD) {
			l->error = g ? KERR_COORDINATOR_NOT_AVAILABLE : KERR_UNKNOWN_MEMBER_ID;
			continue;
		}
		inst = grp_member_by_instance(g, l->instance_id);
		if (l->instance_id.ptr) {
			m = inst;
			if (!m)
				l->error = KERR_UNKNOWN_MEMBER_ID;
			else if (l->member_id.len && !sl_eq(l->member_id, m->id))
				l->error = KERR_FENCED_INSTANCE_ID;
		} else if (!(m = grp_member_find(g, l->member_id))) {
			l->error = grp_pending_take(g, l->member_id) ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID;
		}
		if (m && !l->error)
			grp_remove_member(b, g, m, "left the group");
	}
	if (g)
		grp_maybe_complete_join(b, g);
	return KERR_NONE;
}

/* ================================================================ DeleteGroups */

int16_t keel_group_delete(keel_broker_t *b, keel_slice_t id)
{
	keel_group_t *g;
	int32_t part;
	int16_t err = keel_coordinator_check(b, id, &part);
	kw_t key, value;
	if (err)
		return err;
	if (!(g = keel_group_find(b, id)) || g->state == KEEL_GROUP_DEAD)
		return KERR_GROUP_ID_NOT_FOUND;
	if (g->state != KEEL_GROUP_EMPTY || g->nmembers)
		return KERR_NON_EMPTY_GROUP;
	/* tombstones for every offset and for the group itself (Kafka appends them with acks=1) */
	keel_slice_t *keys = calloc((size_t)g->noffsets + 1, sizeof(*keys));
	keel_slice_t *vals = calloc((size_t)g->noffsets + 1, sizeof(*vals));
	kw_t *kws = calloc((size_t)g->noffsets + 1, sizeof(*kws));
	if (!keys || !vals || !kws) {
		free(keys);
		free(vals);
		free(kws);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	for (int i = 0; i < g->noffsets; i++) {
		keel_gkey_t k = { KEEL_GKEY_OFFSET, 1, sl(g->id), sl(g->offsets[i].topic),
				  g->offsets[i].partition };
		kw_init(&kws[i], 64, false);
		keel_gkey_encode(&kws[i], &k);
		keys[i] = (keel_slice_t){ kws[i].buf, kws[i].len };
	}
	grp_set_state(g, KEEL_GROUP_DEAD);
	keel_group_record(g, &key, &value);
	keys[g->noffsets] = (keel_slice_t){ key.buf, key.len };
	keel_group_store(b, g->partition, g->noffsets + 1, keys, vals, NULL, NULL);
	for (int i = 0; i < g->noffsets; i++)
		kw_free(&kws[i]);
	kw_free(&key);
	kw_free(&value);
	free(keys);
	free(vals);
	free(kws);
	klog_info(GROUP_LOG, "deleted group %s", g->id);
	keel_group_remove(b, g);
	return KERR_NONE;
}

/* ================================================================ the record of a group */

void keel_group_record(const keel_group_t *g, kw_t *key, kw_t *value)
{
	keel_gkey_t k = { KEEL_GKEY_GROUP, 2, sl(g->id), { NULL, 0 }, 0 };
	keel_group_value_t v = { 0 };
	keel_group_member_rec_t *mr = NULL;
	kw_init(key, 64, false);
	keel_gkey_encode(key, &k);
	kw_init(value, 256, false);
	if (g->state == KEEL_GROUP_DEAD) { /* a tombstone */
		kw_free(value);
		return;
	}
	v.protocol_type = sl(g->protocol_type ? g->protocol_type : "");
	v.generation = g->generation;
	v.protocol = sl(g->protocol);
	v.leader = sl(g->leader);
	v.current_state_ts = g->state_ts;
	if (g->nmembers && !(mr = calloc((size_t)g->nmembers, sizeof(*mr)))) {
		value->oom = true;
		return;
	}
	for (keel_gmember_t *m = g->members; m; m = m->next) {
		keel_group_member_rec_t *r = &mr[v.nmembers++];
		r->member_id = sl(m->id);
		r->group_instance_id = sl(m->instance_id);
		r->client_id = sl(m->client_id ? m->client_id : "");
		r->client_host = sl(m->client_host ? m->client_host : "");
		r->rebalance_timeout = m->rebalance_timeout;
		r->session_timeout = m->session_timeout;
		r->subscription = grp_member_meta(m, g->protocol);
		r->assignment = (keel_slice_t){ m->assignment ? m->assignment : (const uint8_t *)"",
						m->assignment_len };
	}
	v.members = mr;
	keel_group_value_encode(value, &v);
	free(mr);
}

/* A group record read back from the log (keel_group_replay): members as they were stored,
 * Stable if there are any, Empty otherwise; heartbeats start now. */
void keel_group_restore(keel_group_t *g, const keel_group_value_t *v)
{
	int64_t now = keel_mono_ms();
	while (g->members) {
		keel_gmember_t *m = g->members;
		g->members = m->next;
		grp_member_free(m);
	}
	g->nmembers = 0;
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	g->protocol_type = v->protocol_type.len ? sl_dup(v->protocol_type) : NULL;
	g->protocol = sl_dup(v->protocol);
	g->leader = sl_dup(v->leader);
	g->generation = v->generation;
	keel_gmember_t **tail = &g->members;
	for (int32_t i = 0; i < v->nmembers; i++) {
		const keel_group_member_rec_t *r = &v->members[i];
		keel_gmember_t *m = calloc(1, sizeof(*m));
		if (!m)
			break;
		m->id = sl_dup(r->member_id);
		m->instance_id = sl_dup(r->group_instance_id);
		m->client_id = sl_dup(r->client_id);
		m->client_host = sl_dup(r->client_host);
		m->session_timeout = r->session_timeout;
		m->rebalance_timeout = r->rebalance_timeout;
		m->last_heartbeat = now;
		m->proto_names = calloc(1, sizeof(*m->proto_names));
		m->proto_meta = calloc(1, sizeof(*m->proto_meta));
		if (m->proto_names && m->proto_meta && g->protocol) {
			uint8_t *meta = malloc(r->subscription.len + 1);
			m->proto_names[0] = strdup(g->protocol);
			if (meta && m->proto_names[0]) {
				if (r->subscription.len)
					memcpy(meta, r->subscription.ptr, r->subscription.len);
				m->proto_meta[0] = (keel_slice_t){ meta, r->subscription.len };
				m->nprotocols = 1;
			} else {
				free(meta);
				free(m->proto_names[0]);
			}
		}
		if (r->assignment.len && (m->assignment = malloc(r->assignment.len))) {
			memcpy(m->assignment, r->assignment.ptr, r->assignment.len);
			m->assignment_len = r->assignment.len;
		}
		*tail = m;
		tail = &m->next;
		g->nmembers++;
	}
	g->state = g->nmembers ? KEEL_GROUP_STABLE : KEEL_GROUP_EMPTY;
	g->state_ts = v->current_state_ts >= 0 ? v->current_state_ts : keel_now_ms();
}
