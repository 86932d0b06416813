/* src/api_group.c: the consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups and
 * OffsetDelete. Requests are decoded by group_proto.c, handled by the coordinator (group.c,
 * group_offsets.c), and answered with Kafka's layouts. */
#include "api.h"
#include "conn.h"
#include "group.h"
#include "group_internal.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* Kafka's bit set of the operations a group allows without an authorizer: READ, DELETE and
 * DESCRIBE (AclOperation codes 3, 6, 8). */
#define GROUP_AUTH_OPS ((1 << 3) | (1 << 6) | (1 << 8))

static void send_body(keel_request_t *req, keel_resp_t *resp)
{
	keel_resp_send(req, resp);
}

/* ================================================================ FindCoordinator */

int keel_api_find_coordinator(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	keel_find_coord_req_t q;
	keel_find_coord_resp_t r = { .node_id = -1, .host = sl(""), .port = -1 };
	keel_resp_t resp;
	const keel_view_topic_t *t;
	if (keel_find_coord_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	t = b->view ? keel_view_topic(b->view, KEEL_OFFSETS_TOPIC) : NULL;
	if (q.key_type != 0) {
		r.error = KERR_COORDINATOR_NOT_AVAILABLE; /* transactions come later */
		r.error_message = sl("keel has no transaction coordinator yet.");
	} else if (!t || t->deleting || t->npartitions <= 0) {
		keel_offsets_topic_ensure(b);
		r.error = KERR_COORDINATOR_NOT_AVAILABLE;
		r.error_message = sl("The coordinator is not available.");
	} else {
		char key[256];
		size_t n = q.key.len < sizeof(key) - 1 ? q.key.len : sizeof(key) - 1;
		memcpy(key, q.key.ptr ? (const char *)q.key.ptr : "", n);
		key[n] = '\0';
		int32_t p = keel_group_partition(key, n, t->npartitions);
		const keel_view_partition_t *vp = &t->partitions[p];
		const keel_view_broker_t *lb = vp->leader >= 0 ? keel_view_broker(b->view, vp->leader) : NULL;
		/* the coordinator as the client's listener reaches it */
		const keel_endpoint_t *ep = keel_view_endpoint(lb, req->conn->listener);
		if (!ep) {
			r.error = KERR_COORDINATOR_NOT_AVAILABLE;
			r.error_message = sl("The coordinator is not available.");
		} else {
			r.node_id = lb->id;
			r.host = sl(ep->host);
			r.port = ep->port;
		}
	}
	keel_resp_begin(req, &resp);
	keel_find_coord_resp_encode(&resp.w, req->api_version, &r);
	send_body(req, &resp);
	return KEEL_HANDLED;
}

/* ================================================================ membership */

int keel_api_join_group(keel_request_t *req)
{
	keel_join_req_t q;
	int rc;
	if (keel_join_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	rc = keel_group_join(req, &q);
	keel_join_req_free(&q);
	return rc;
}

int keel_api_sync_group(keel_request_t *req)
{
	keel_sync_req_t q;
	int rc;
	if (keel_sync_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	rc = keel_group_sync(req, &q);
	keel_sync_req_free(&q);
	return rc;
}

int keel_api_heartbeat(keel_request_t *req)
{
	keel_member_ref_t q;
	keel_resp_t resp;
	if (keel_heartbeat_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	int16_t err = keel_group_heartbeat(req, &q);
	keel_resp_begin(req, &resp);
	keel_heartbeat_resp_encode(&resp.w, req->api_version, err);
	send_body(req, &resp);
	return KEEL_HANDLED;
}

int keel_api_leave_group(keel_request_t *req)
{
	keel_leave_req_t q;
	keel_leave_resp_t r = { 0 };
	keel_resp_t resp;
	if (keel_leave_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	r.error = keel_group_leave(req, &q);
	if (req->api_version < 3 && !r.error && q.nmembers > 0)
		r.error = q.members[0].error; /* one member, no list to report it in */
	if (!r.error) {
		r.nmembers = q.nmembers;
		r.members = q.members;
	}
	keel_resp_begin(req, &resp);
	keel_leave_resp_encode(&resp.w, req->api_version, &r);
	send_body(req, &resp);
	keel_leave_req_free(&q);
	return KEEL_HANDLED;
}

/* ================================================================ offsets */

int keel_api_offset_commit(keel_request_t *req)
{
	keel_commit_req_t q;
	int rc;
	if (keel_commit_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	rc = keel_group_commit(req, &q);
	keel_commit_req_free(&q);
	return rc;
}

/* Every committed offset of g, grouped by topic (they are sorted). */
static int fetch_all(const keel_group_t *g, keel_fetched_topic_t **topics, keel_fetched_part_t **parts)
{
	int nt = 0;
	*parts = calloc((size_t)(g ? g->noffsets : 0) + 1, sizeof(**parts));
	*topics = calloc((size_t)(g ? g->noffsets : 0) + 1, sizeof(**topics));
	if (!*parts || !*topics)
		return -1;
	for (int i = 0; g && i < g->noffsets; i++) {
		const keel_goffset_t *o = &g->offsets[i];
		if (i == 0 || strcmp(g->offsets[i - 1].topic, o->topic)) {
			(*topics)[nt].name = sl(o->topic);
			(*topics)[nt].partitions = &(*parts)[i];
			nt++;
		}
		(*parts)[i] = (keel_fetched_part_t){ o->partition, o->offset, o->leader_epoch,
						     sl(o->metadata), KERR_NONE };
		(*topics)[nt - 1].npartitions++;
	}
	return nt;
}

int keel_api_offset_fetch(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	keel_offset_fetch_req_t q;
	keel_offset_fetch_resp_t r = { 0 };
	keel_fetched_topic_t *topics = NULL;
	keel_fetched_part_t *parts = NULL;
	keel_resp_t resp;
	const keel_group_t *g;
	int32_t part, n = 0;
	if (keel_offset_fetch_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	r.error = keel_coordinator_check(b, q.group_id, &part);
	g = r.error ? NULL : keel_group_find(b, q.group_id);
	if (q.ntopics < 0) {
		r.ntopics = r.error ? 0 : fetch_all(g, &topics, &parts);
	} else {
		for (int32_t t = 0; t < q.ntopics; t++)
			n += q.topics[t].npartitions;
		topics = calloc((size_t)q.ntopics + 1, sizeof(*topics));
		parts = calloc((size_t)n + 1, sizeof(*parts));
		for (int32_t t = 0, k = 0; topics && parts && t < q.ntopics; t++) {
			topics[t].name = q.topics[t].topic;
			topics[t].npartitions = q.topics[t].npartitions;
			topics[t].partitions = &parts[k];
			for (int32_t i = 0; i < q.topics[t].npartitions; i++, k++) {
				const keel_goffset_t *o = g ? keel_group_offset(g, q.topics[t].topic,
									  q.topics[t].partitions[i]) : NULL;
				parts[k] = (keel_fetched_part_t){ q.topics[t].partitions[i], -1, -1, sl(""),
								  KERR_NONE };
				if (o)
					parts[k] = (keel_fetched_part_t){ o->partition, o->offset,
									  o->leader_epoch, sl(o->metadata),
									  KERR_NONE };
			}
		}
		r.ntopics = topics && parts ? q.ntopics : 0;
	}
	if (r.ntopics < 0)
		r.ntopics = 0;
	r.topics = topics;
	keel_resp_begin(req, &resp);
	keel_offset_fetch_resp_encode(&resp.w, req->api_version, &r);
	send_body(req, &resp);
	free(topics);
	free(parts);
	keel_offset_fetch_req_free(&q);
	return KEEL_HANDLED;
}

int keel_api_offset_delete(keel_request_t *req)
{
	keel_offset_delete_req_t q;
	keel_topic_errors_t *topics;
	keel_part_error_t *parts;
	int16_t *errs, top;
	keel_resp_t resp;
	int32_t n = 0;
	if (keel_offset_delete_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	for (int32_t t = 0; t < q.ntopics; t++)
		n += q.topics[t].npartitions;
	errs = calloc((size_t)n + 1, sizeof(*errs));
	topics = calloc((size_t)q.ntopics + 1, sizeof(*topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	if (!errs || !topics || !parts) {
		free(errs);
		free(topics);
		free(parts);
		keel_offset_delete_req_free(&q);
		return KEEL_CLOSE;
	}
	top = keel_group_offset_delete(req->broker, &q, errs);
	for (int32_t t = 0, k = 0; t < q.ntopics; t++) {
		topics[t].name = q.topics[t].topic;
		topics[t].npartitions = q.topics[t].npartitions;
		topics[t].partitions = &parts[k];
		for (int32_t i = 0; i < q.topics[t].npartitions; i++, k++)
			parts[k] = (keel_part_error_t){ q.topics[t].partitions[i], top ? KERR_NONE : errs[k] };
	}
	keel_resp_begin(req, &resp);
	keel_offset_delete_resp_encode(&resp.w, req->api_version, top, top ? 0 : q.ntopics, topics);
	send_body(req, &resp);
	free(errs);
	free(topics);
	free(parts);
	keel_offset_delete_req_free(&q);
	return KEEL_HANDLED;
}

/* ================================================================ describe, list, delete */

/* Kafka's GroupMetadata.summary: members' metadata and assignments only when Stable. */
static void describe_one(keel_broker_t *b, keel_slice_t id, bool auth, keel_described_group_t *d,
			 keel_described_member_t **mem)
{
	int32_t part;
	keel_group_t *g;
	memset(d, 0, sizeof(*d));
	*mem = NULL;
	d->group_id = id;
	d->auth_ops = auth ? GROUP_AUTH_OPS : KEEL_AUTH_OPS_NONE;
	d->protocol_type = d->protocol_data = sl("");
	d->error = keel_coordinator_check(b, id, &part);
	g = d->error ? NULL : keel_group_find(b, id);
	d->state = sl(d->error ? "" : "Dead");
	if (!g)
		return;
	bool stable = g->state == KEEL_GROUP_STABLE;
	d->state = sl(keel_group_state_name(g->state));
	d->protocol_type = sl(g->protocol_type ? g->protocol_type : "");
	d->protocol_data = sl(stable && g->protocol ? g->protocol : "");
	*mem = calloc((size_t)g->nmembers + 1, sizeof(**mem));
	for (keel_gmember_t *m = g->members; *mem && m; m = m->next) {
		keel_described_member_t *x = &(*mem)[d->nmembers++];
		x->member_id = sl(m->id);
		x->instance_id = sl(m->instance_id);
		x->client_id = sl(m->client_id ? m->client_id : "");
		x->client_host = sl(m->client_host ? m->client_host : "");
		x->metadata = x->assignment = sl("");
		if (stable) {
			for (int i = 0; i < m->nprotocols; i++)
				if (g->protocol && !strcmp(m->proto_names[i], g->protocol))
					x->metadata = m->proto_meta[i];
			x->assignment = (keel_slice_t){ m->assignment ? m->assignment : (const uint8_t *)"",
							m->assignment_len };
		}
	}
	d->members = *mem;
}

int keel_api_describe_groups(keel_request_t *req)
{
	keel_describe_groups_req_t q;
	keel_described_group_t *ds;
	keel_described_member_t **mems;
	keel_resp_t resp;
	if (keel_describe_groups_req_decode(&req->body, req->api_version, &q))
		return KEEL_CLOSE;
	ds = calloc((size_t)q.groups.n + 1, sizeof(*ds));
	mems = calloc((size_t)q.groups.n + 1, sizeof(*mems));
	if (!ds || !mems) {
		free(ds);
		free(mems);
		keel_str_list_free(&q.groups);
		return KEEL_CLOSE;
	}
	for (int32_t i = 0; i < q.groups.n; i++)
		describe_one(req->broker, q.groups.v[i], q.include_auth_ops, &ds[i], &mems[i]);
	keel_resp_begin(req, &resp);
	keel_describe_groups_resp_encode(&resp.w, req->api_version, q.groups.n, ds);
	send_body(req, &resp);
	for (int32_t i = 0; i < q.groups.n; i++)
		free(mems[i]);
	free(mems);
	free(ds);
	keel_str_list_free(&q.groups);
	return KEEL_HANDLED;
}

static bool state_wanted(const keel_str_list_t *states, const char *state)
{
	if (!states->n)
		return true;
	for (int32_t i = 0; i < states->n; i++)
		if (states->v[i].len == strlen(state) && !memcmp(states->v[i].ptr, state, states->v[i].len))
			return true;
	return false;
}

int keel_api_list_groups(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	keel_coordinator_t *c = b->groups;
	keel_str_list_t states;
	keel_listed_group_t *v;
	keel_list_groups_resp_t r = { 0 };
	keel_resp_t resp;
	if (keel_list_groups_req_decode(&req->body, req->api_version, &states))
		return KEEL_CLOSE;
	v = calloc(c->ngroups + 1, sizeof(*v));
	for (size_t i = 0; v && i < c->size; i++)
		for (keel_group_t *g = c->table[i]; g; g = g->hnext) {
			const char *st = keel_group_state_name(g->state);
			if (g->state == KEEL_GROUP_DEAD || !state_wanted(&states, st))
				continue;
			v[r.ngroups++] = (keel_listed_group_t){ sl(g->id),
							       sl(g->protocol_type ? g->protocol_type : ""),
							       sl(st) };
		}
	r.groups = v;
	keel_resp_begin(req, &resp);
	keel_list_groups_resp_encode(&resp.w, req->api_version, &r);
	send_body(req, &resp);
	free(v);
	keel_str_list_free(&states);
	return KEEL_HANDLED;
}

int keel_api_delete_groups(keel_request_t *req)
{
	keel_str_list_t groups;
	keel_group_error_t *res;
	keel_resp_t resp;
	if (keel_delete_groups_req_decode(&req->body, req->api_version, &groups))
		return KEEL_CLOSE;
	res = calloc((size_t)groups.n + 1, sizeof(*res));
	for (int32_t i = 0; res && i < groups.n; i++) {
		res[i].group_id = groups.v[i];
		res[i].error = keel_group_delete(req->broker, groups.v[i]);
	}
	keel_resp_begin(req, &resp);
	keel_delete_groups_resp_encode(&resp.w, req->api_version, res ? groups.n : 0, res);
	send_body(req, &resp);
	free(res);
	keel_str_list_free(&groups);
	return KEEL_HANDLED;
}
