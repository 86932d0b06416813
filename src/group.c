/* src/group.c: consumer groups: the registry, members, and the rebalance state machine of
 * Kafka's GroupCoordinator (reference/protocol.md section 5) up to the end of the join phase:
 * JoinGroup with KIP-394 member ids and static membership (KIP-345), the initial rebalance
 * delay, protocol selection, session expiry (group_sync.c has SyncGroup and what follows).
 * Loop thread only. */
#include "group.h"
#include "group_internal.h"
#include "api.h"
#include "conn.h"
#include "logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define TICK_MS 100
#define NEW_MEMBER_JOIN_TIMEOUT_MS 300000 /* Kafka's GroupCoordinator.NewMemberJoinTimeoutMs */

const char *keel_group_state_name(keel_group_state_t s)
{
	static const char *const names[] = { "Empty", "PreparingRebalance", "CompletingRebalance",
					     "Stable", "Dead" };
	return s <= KEEL_GROUP_DEAD ? names[s] : "Unknown";
}

/* ================================================================ the registry */

static uint64_t hash_id(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

keel_group_t *keel_group_find(keel_broker_t *b, keel_slice_t id)
{
	keel_coordinator_t *c = b->groups;
	if (!c->size || !id.ptr)
		return NULL;
	for (keel_group_t *g = c->table[hash_id(id.ptr, id.len) % c->size]; g; g = g->hnext)
		if (sl_eq(id, g->id))
			return g;
	return NULL;
}

static void table_insert(keel_coordinator_t *c, keel_group_t *g)
{
	size_t i = hash_id((const uint8_t *)g->id, strlen(g->id)) % c->size;
	g->hnext = c->table[i];
	c->table[i] = g;
}

static bool table_grow(keel_coordinator_t *c)
{
	size_t size = c->size ? 2 * c->size : 64;
	keel_group_t **t = calloc(size, sizeof(*t)), **old = c->table;
	size_t oldsize = c->size;
	if (!t)
		return false;
	c->table = t;
	c->size = size;
	for (size_t i = 0; i < oldsize; i++)
		for (keel_group_t *g = old[i], *nx; g; g = nx) {
			nx = g->hnext;
			table_insert(c, g);
		}
	free(old);
	return true;
}

keel_group_t *keel_group_get_or_create(keel_broker_t *b, keel_slice_t id, int32_t partition)
{
	keel_coordinator_t *c = b->groups;
	keel_group_t *g = keel_group_find(b, id);
	if (g)
		return g;
	if (c->ngroups >= c->size * 2 && !table_grow(c))
		return NULL;
	if (!c->size && !table_grow(c))
		return NULL;
	if (!(g = calloc(1, sizeof(*g))) || !(g->id = sl_dup(id))) {
		free(g);
		return NULL;
	}
	g->partition = partition;
	grp_set_state(g, KEEL_GROUP_EMPTY);
	table_insert(c, g);
	c->ngroups++;
	keel_coordinator_arm(b);
	return g;
}

/* ================================================================ members */

keel_gmember_t *grp_member_find(const keel_group_t *g, keel_slice_t id)
{
	for (keel_gmember_t *m = g->members; m; m = m->next)
		if (sl_eq(id, m->id))
			return m;
	return NULL;
}

keel_gmember_t *grp_member_by_instance(const keel_group_t *g, keel_slice_t instance)
{
	if (!instance.ptr)
		return NULL;
	for (keel_gmember_t *m = g->members; m; m = m->next)
		if (sl_eq(instance, m->instance_id))
			return m;
	return NULL;
}

static void member_protocols_free(keel_gmember_t *m)
{
	for (int i = 0; i < m->nprotocols; i++) {
		free(m->proto_names[i]);
		free((void *)m->proto_meta[i].ptr);
	}
	free(m->proto_names);
	free(m->proto_meta);
	m->proto_names = NULL;
	m->proto_meta = NULL;
	m->nprotocols = 0;
}

void grp_member_free(keel_gmember_t *m)
{
	member_protocols_free(m);
	free(m->id);
	free(m->instance_id);
	free(m->client_id);
	free(m->client_host);
	free(m->assignment);
	free(m);
}

/* Copy the protocols of a JoinGroup into m. */
static bool member_set_protocols(keel_gmember_t *m, const keel_join_req_t *q)
{
	member_protocols_free(m);
	m->proto_names = calloc((size_t)q->nprotocols + 1, sizeof(*m->proto_names));
	m->proto_meta = calloc((size_t)q->nprotocols + 1, sizeof(*m->proto_meta));
	if (!m->proto_names || !m->proto_meta)
		return false;
	for (int32_t i = 0; i < q->nprotocols; i++) {
		uint8_t *meta = malloc(q->protocols[i].metadata.len + 1);
		if (!meta || !(m->proto_names[i] = sl_dup(q->protocols[i].name))) {
			free(meta);
			return false;
		}
		if (q->protocols[i].metadata.len)
			memcpy(meta, q->protocols[i].metadata.ptr, q->protocols[i].metadata.len);
		m->proto_meta[i] = (keel_slice_t){ meta, q->protocols[i].metadata.len };
		m->nprotocols++;
	}
	return true;
}

/* Does m announce exactly the protocols (names and metadata) of q? */
static bool same_protocols(const keel_gmember_t *m, const keel_join_req_t *q)
{
	if (m->nprotocols != q->nprotocols)
		return false;
	for (int i = 0; i < m->nprotocols; i++)
		if (!sl_eq(q->protocols[i].name, m->proto_names[i]) ||
		    m->proto_meta[i].len != q->protocols[i].metadata.len ||
		    (m->proto_meta[i].len &&
		     memcmp(m->proto_meta[i].ptr, q->protocols[i].metadata.ptr, m->proto_meta[i].len)))
			return false;
	return true;
}

static int member_protocol(const keel_gmember_t *m, const char *name)
{
	for (int i = 0; name && i < m->nprotocols; i++)
		if (!strcmp(m->proto_names[i], name))
			return i;
	return -1;
}

/* The metadata m gave for the chosen protocol (empty if none). */
keel_slice_t grp_member_meta(const keel_gmember_t *m, const char *protocol)
{
	int i = member_protocol(m, protocol);
	return i >= 0 ? m->proto_meta[i] : (keel_slice_t){ (const uint8_t *)"", 0 };
}

/* Kafka's member id: client id, '-', a random UUID. */
static char *new_member_id(keel_slice_t client_id)
{
	uint8_t r[16];
	char *id;
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	if (asprintf(&id, "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		     (int)client_id.len, client_id.ptr ? (const char *)client_id.ptr : "", r[0], r[1],
		     r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
		     r[15]) < 0)
		return NULL;
	return id;
}

/* ================================================================ answers to parked requests */

static void join_cancel(keel_request_t *req)
{
	keel_gmember_t *m = req->state;
	if (m)
		m->join_req = NULL;
}

/* Answer a JoinGroup (and complete the request). With members (the leader's answer), every
 * member's metadata for the chosen protocol. */
static void join_answer(keel_request_t *req, const keel_group_t *g, const char *member_id,
			int16_t err, bool with_members)
{
	keel_join_resp_t r = { 0 };
	keel_join_member_t *mm = NULL;
	keel_resp_t resp;
	r.error = err;
	r.generation = err || !g ? -1 : g->generation;
	r.protocol_name = sl(err || !g || !g->protocol ? "" : g->protocol);
	r.leader = sl(err || !g || !g->leader ? "" : g->leader);
	r.member_id = sl(member_id ? member_id : "");
	if (with_members && !err && g && (mm = calloc((size_t)g->nmembers + 1, sizeof(*mm)))) {
		for (keel_gmember_t *m = g->members; m; m = m->next) {
			mm[r.nmembers].member_id = sl(m->id);
			mm[r.nmembers].instance_id = sl(m->instance_id);
			mm[r.nmembers].metadata = grp_member_meta(m, g->protocol);
			r.nmembers++;
		}
		r.members = mm;
	}
	keel_resp_begin(req, &resp);
	keel_join_resp_encode(&resp.w, req->api_version, &r);
	keel_resp_send(req, &resp);
	keel_request_done(req);
	free(mm);
}

void grp_sync_answer(keel_request_t *req, int16_t err, const uint8_t *a, size_t len)
{
	keel_resp_t resp;
	keel_resp_begin(req, &resp);
	keel_sync_resp_encode(&resp.w, req->api_version, err,
			      (keel_slice_t){ a ? a : (const uint8_t *)"", a ? len : 0 });
	keel_resp_send(req, &resp);
	keel_request_done(req);
}

/* Answer m's parked requests with err (it is leaving the group). */
void grp_member_release(keel_gmember_t *m, int16_t err)
{
	keel_request_t *req;
	if ((req = m->join_req)) {
		m->join_req = NULL;
		join_answer(req, NULL, m->id, err, false);
	}
	if ((req = m->sync_req)) {
		m->sync_req = NULL;
		grp_sync_answer(req, err, NULL, 0);
	}
}

/* ================================================================ the state machine */

static int32_t max_rebalance_timeout(const keel_group_t *g)
{
	int32_t t = 0;
	for (keel_gmember_t *m = g->members; m; m = m->next)
		if (m->rebalance_timeout > t)
			t = m->rebalance_timeout;
	return t;
}

void grp_store_group(keel_broker_t *b, keel_group_t *g, void (*done)(void *, int16_t), void *arg)
{
	kw_t key, value;
	keel_group_record(g, &key, &value);
	keel_slice_t k = { key.buf, key.len }, v = { value.buf, value.len };
	if (key.oom || value.oom) {
		if (done)
			done(arg, KERR_COORDINATOR_NOT_AVAILABLE);
	} else {
		keel_group_store(b, g->partition, 1, &k, &v, done, arg);
	}
	kw_free(&key);
	kw_free(&value);
}

/* Kafka's prepareRebalance: from Empty with the initial delay, else with the largest rebalance
 * timeout as the deadline for everyone to rejoin. */
void grp_prepare_rebalance(keel_broker_t *b, keel_group_t *g, const char *reason)
{
	int64_t now = keel_mono_ms();
	int32_t rt = max_rebalance_timeout(g), delay = b->cfg->group_initial_rebalance_delay_ms;
	if (g->state == KEEL_GROUP_COMPLETING) /* the assignments in the making are void */
		for (keel_gmember_t *m = g->members; m; m = m->next) {
			keel_request_t *req = m->sync_req;
			free(m->assignment);
			m->assignment = NULL;
			m->assignment_len = 0;
			if (req) {
				m->sync_req = NULL;
				grp_sync_answer(req, KERR_REBALANCE_IN_PROGRESS, NULL, 0);
			}
		}
	g->initial_deadline = 0;
	if (g->state == KEEL_GROUP_EMPTY && delay > 0) {
		g->initial_deadline = now + (delay < rt ? delay : rt);
		g->initial_max = now + rt;
	}
	g->join_deadline = now + rt;
	klog_info(GROUP_LOG, "preparing to rebalance group %s in state %s with old generation %d (%s)",
		  g->id, keel_group_state_name(g->state), g->generation, reason);
	grp_set_state(g, KEEL_GROUP_PREPARING);
	keel_coordinator_arm(b);
}

/* Kafka's GroupMetadata.selectProtocol: among the protocols every member supports, each member
 * votes for its first; the most votes win (ties go to the earlier candidate). */
static const char *select_protocol(const keel_group_t *g)
{
	const keel_gmember_t *first = g->members;
	const char *best = NULL;
	int best_votes = -1;
	for (int i = 0; first && i < first->nprotocols; i++) {
		const char *cand = first->proto_names[i];
		int votes = 0;
		bool everyone = true;
		for (keel_gmember_t *m = g->members; m && everyone; m = m->next)
			everyone = member_protocol(m, cand) >= 0;
		if (!everyone)
			continue;
		for (keel_gmember_t *m = g->members; m; m = m->next)
			for (int k = 0; k < m->nprotocols; k++) {
				int w;
				bool common = true;
				for (keel_gmember_t *o = g->members; o && common; o = o->next)
					common = member_protocol(o, m->proto_names[k]) >= 0;
				if (!common)
					continue;
				w = !strcmp(m->proto_names[k], cand); /* its vote: the first common one */
				votes += w;
				break;
			}
		if (votes > best_votes) {
			best = cand;
			best_votes = votes;
		}
	}
	return best;
}

static void empty_stored(void *arg, int16_t err)
{
	char *id = arg;
	if (err)
		klog_warn(GROUP_LOG, "group %s: storing its empty state failed: error %d", id, err);
	free(id);
}

/* Kafka's onCompleteJoin: drop members that did not rejoin, start the next generation, answer
 * every JoinGroup (the leader with the members). */
static void complete_join(keel_broker_t *b, keel_group_t *g)
{
	int64_t now = keel_mono_ms();
	for (keel_gmember_t *m = g->members, *nx; m; m = nx) {
		nx = m->next;
		if (!m->join_req)
			grp_remove_member(b, g, m, "did not rejoin in time");
	}
	if (g->state != KEEL_GROUP_PREPARING)
		return; /* grp_remove_member may have completed it already */
	g->generation++;
	if (!g->members) {
		free(g->protocol);
		free(g->leader);
		g->protocol = g->leader = NULL;
		grp_set_state(g, KEEL_GROUP_EMPTY);
		klog_info(GROUP_LOG, "group %s with generation %d is now empty", g->id, g->generation);
		grp_store_group(b, g, empty_stored, strdup(g->id));
		return;
	}
	const char *proto = select_protocol(g);
	free(g->protocol);
	g->protocol = proto ? strdup(proto) : NULL;
	if (!g->leader || !grp_member_find(g, sl(g->leader))) {
		free(g->leader);
		g->leader = strdup(g->members->id);
	}
	grp_set_state(g, KEEL_GROUP_COMPLETING);
	klog_info(GROUP_LOG, "stabilized group %s generation %d (%d members, protocol %s)", g->id,
		  g->generation, g->nmembers, g->protocol ? g->protocol : "-");
	for (keel_gmember_t *m = g->members; m; m = m->next) {
		keel_request_t *req = m->join_req;
		m->join_req = NULL;
		m->is_new = false;
		m->last_heartbeat = now;
		if (req)
			join_answer(req, g, m->id, KERR_NONE, g->leader && !strcmp(m->id, g->leader));
	}
}

static bool all_joined(const keel_group_t *g)
{
	if (g->npending)
		return false;
	for (keel_gmember_t *m = g->members; m; m = m->next)
		if (!m->join_req)
			return false;
	return true;
}

/* The join phase ends when everyone has rejoined or the deadline passed; the initial delay
 * of a new group (Kafka's InitialDelayedJoin) is waited out, extended while members arrive. */
void grp_maybe_complete_join(keel_broker_t *b, keel_group_t *g)
{
	int64_t now = keel_mono_ms();
	if (g->state != KEEL_GROUP_PREPARING)
		return;
	if (g->initial_deadline) {
		int32_t delay = b->cfg->group_initial_rebalance_delay_ms;
		if (now < g->initial_deadline)
			return;
		if (g->new_member_added && now < g->initial_max) {
			g->new_member_added = false;
			g->initial_deadline = now + delay < g->initial_max ? now + delay : g->initial_max;
			return;
		}
		g->initial_deadline = 0;
	} else if (!all_joined(g) && now < g->join_deadline) {
		return;
	}
	complete_join(b, g);
}

/* After a member left or expired: Kafka's removeMemberAndUpdateGroup. */
void grp_remove_member(keel_broker_t *b, keel_group_t *g, keel_gmember_t *m, const char *why)
{
	klog_info(GROUP_LOG, "member %s in group %s %s; removing it", m->id, g->id, why);
	for (keel_gmember_t **pp = &g->members; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	g->nmembers--;
	grp_member_release(m, KERR_UNKNOWN_MEMBER_ID);
	if (g->leader && !strcmp(g->leader, m->id)) {
		free(g->leader);
		g->leader = g->members ? strdup(g->members->id) : NULL;
	}
	grp_member_free(m);
	if (g->state == KEEL_GROUP_STABLE || g->state == KEEL_GROUP_COMPLETING)
		grp_prepare_rebalance(b, g, "removing a member");
	else if (g->state == KEEL_GROUP_PREPARING)
		grp_maybe_complete_join(b, g);
}

bool grp_pending_take(keel_group_t *g, keel_slice_t id)
{
	for (int i = 0; i < g->npending; i++)
		if (sl_eq(id, g->pending[i])) {
			free(g->pending[i]);
			g->pending[i] = g->pending[g->npending - 1];
			g->pending_deadline[i] = g->pending_deadline[g->npending - 1];
			g->npending--;
			return true;
		}
	return false;
}

static bool pending_add(keel_group_t *g, char *id, int64_t deadline)
{
	char **v = realloc(g->pending, (size_t)(g->npending + 1) * sizeof(*v));
	int64_t *d;
	if (!v)
		return false;
	g->pending = v;
	d = realloc(g->pending_deadline, (size_t)(g->npending + 1) * sizeof(*d));
	if (!d)
		return false;
	g->pending_deadline = d;
	v[g->npending] = id;
	d[g->npending++] = deadline;
	return true;
}

/* A JoinGroup that names the member's settings. */
static void member_update(keel_gmember_t *m, keel_request_t *req, const keel_join_req_t *q)
{
	m->session_timeout = q->session_timeout;
	m->rebalance_timeout = q->rebalance_timeout;
	member_set_protocols(m, q);
	free(m->client_id);
	free(m->client_host);
	m->client_id = sl_dup(req->client_id.ptr ? req->client_id : sl(""));
	m->client_host = strdup(req->conn->peer_host);
	m->last_heartbeat = keel_mono_ms();
}

static void park_join(keel_request_t *req, keel_gmember_t *m)
{
	m->join_req = req;
	req->state = m;
	req->cancel = join_cancel;
}

/* Kafka's addMemberAndRebalance. */
static int add_member(keel_broker_t *b, keel_group_t *g, keel_request_t *req,
		      const keel_join_req_t *q, char *id)
{
	keel_gmember_t *m = calloc(1, sizeof(*m));
	if (!m) {
		free(id);
		join_answer(req, NULL, "", KERR_UNKNOWN_SERVER_ERROR, false);
		return KEEL_PARKED;
	}
	m->id = id;
	m->instance_id = sl_dup(q->instance_id);
	member_update(m, req, q);
	m->is_new = true;
	if (!g->protocol_type)
		g->protocol_type = sl_dup(q->protocol_type);
	if (!g->leader)
		g->leader = strdup(id);
	/* appended: the first member stays first, as the leader of last resort */
	keel_gmember_t **pp = &g->members;
	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
	g->nmembers++;
	g->new_member_added = true;
	park_join(req, m);
	if (g->state == KEEL_GROUP_STABLE || g->state == KEEL_GROUP_COMPLETING ||
	    g->state == KEEL_GROUP_EMPTY)
		grp_prepare_rebalance(b, g, "adding a new member");
	grp_maybe_complete_join(b, g);
	return KEEL_PARKED;
}

/* Kafka's GroupMetadata.supportsProtocols. */
static bool supports_protocols(const keel_group_t *g, const keel_join_req_t *q)
{
	if (!q->protocol_type.len || !q->nprotocols)
		return false;
	if (!g->nmembers)
		return true;
	if (!sl_eq(q->protocol_type, g->protocol_type))
		return false;
	for (int32_t i = 0; i < q->nprotocols; i++) {
		bool all = true;
		char *name = sl_dup(q->protocols[i].name);
		for (keel_gmember_t *m = g->members; m && all && name; m = m->next)
			all = member_protocol(m, name) >= 0;
		free(name);
		if (all)
			return true;
	}
	return false;
}

/* A static member joins again under a new member id: the old one is fenced. With the same
 * protocols in a Stable group there is no rebalance (KIP-345). */
static int static_rejoin(keel_broker_t *b, keel_group_t *g, keel_request_t *req,
			 const keel_join_req_t *q, keel_gmember_t *m, char *id)
{
	bool same = same_protocols(m, q);
	bool was_leader = g->leader && !strcmp(g->leader, m->id);
	klog_info(GROUP_LOG, "static member %s of group %s rejoins as %s", m->instance_id, g->id, id);
	grp_member_release(m, KERR_FENCED_INSTANCE_ID);
	free(m->id);
	m->id = id;
	if (was_leader) {
		free(g->leader);
		g->leader = strdup(id);
	}
	member_update(m, req, q);
	if (g->state == KEEL_GROUP_STABLE && same) {
		join_answer(req, g, m->id, KERR_NONE, was_leader);
		return KEEL_PARKED;
	}
	park_join(req, m);
	if (g->state == KEEL_GROUP_STABLE || g->state == KEEL_GROUP_COMPLETING)
		grp_prepare_rebalance(b, g, "a static member rejoined with new metadata");
	grp_maybe_complete_join(b, g);
	return KEEL_PARKED;
}

static int join_new(keel_broker_t *b, keel_group_t *g, keel_request_t *req, const keel_join_req_t *q)
{
	char *id = new_member_id(req->client_id);
	keel_gmember_t *old;
	if (!id) {
		join_answer(req, NULL, "", KERR_UNKNOWN_SERVER_ERROR, false);
		return KEEL_PARKED;
	}
	if ((old = grp_member_by_instance(g, q->instance_id)))
		return static_rejoin(b, g, req, q, old, id);
	if (g->nmembers >= b->cfg->group_max_size) {
		free(id);
		join_answer(req, NULL, "", KERR_GROUP_MAX_SIZE_REACHED, false);
		return KEEL_PARKED;
	}
	if (!q->instance_id.ptr && req->api_version >= 4) {
		/* KIP-394: hand out the id first; the member joins again with it */
		int64_t deadline = keel_mono_ms() + q->session_timeout;
		join_answer(req, NULL, id, KERR_MEMBER_ID_REQUIRED, false);
		if (!pending_add(g, id, deadline))
			free(id);
		keel_coordinator_arm(b);
		return KEEL_PARKED;
	}
	return add_member(b, g, req, q, id);
}

static int join_existing(keel_broker_t *b, keel_group_t *g, keel_request_t *req,
			 const keel_join_req_t *q)
{
	keel_gmember_t *m = grp_member_find(g, q->member_id), *inst = grp_member_by_instance(g, q->instance_id);
	if (!m) {
		if (q->instance_id.ptr && inst) {
			join_answer(req, NULL, "", KERR_FENCED_INSTANCE_ID, false);
			return KEEL_PARKED;
		}
		if (grp_pending_take(g, q->member_id))
			return add_member(b, g, req, q, sl_dup(q->member_id));
		join_answer(req, NULL, "", KERR_UNKNOWN_MEMBER_ID, false);
		return KEEL_PARKED;
	}
	if (q->instance_id.ptr && inst != m) {
		join_answer(req, NULL, "", KERR_FENCED_INSTANCE_ID, false);
		return KEEL_PARKED;
	}
	switch (g->state) {
	case KEEL_GROUP_PREPARING:
		grp_member_release(m, KERR_UNKNOWN_MEMBER_ID); /* a join it gave up on */
		member_update(m, req, q);
		park_join(req, m);
		grp_maybe_complete_join(b, g);
		return KEEL_PARKED;
	case KEEL_GROUP_COMPLETING:
		if (same_protocols(m, q)) { /* it missed the answer: the current generation again */
			m->last_heartbeat = keel_mono_ms();
			join_answer(req, g, m->id, KERR_NONE, g->leader && !strcmp(g->leader, m->id));
			return KEEL_PARKED;
		}
		member_update(m, req, q);
		park_join(req, m);
		grp_prepare_rebalance(b, g, "a member changed its metadata");
		grp_maybe_complete_join(b, g);
		return KEEL_PARKED;
	case KEEL_GROUP_STABLE:
		if (same_protocols(m, q) && !(g->leader && !strcmp(g->leader, m->id))) {
			m->last_heartbeat = keel_mono_ms();
			join_answer(req, g, m->id, KERR_NONE, false);
			return KEEL_PARKED;
		}
		member_update(m, req, q);
		park_join(req, m);
		grp_prepare_rebalance(b, g, g->leader && !strcmp(g->leader, m->id) ?
				  "the leader rejoined" : "a member changed its metadata");
		grp_maybe_complete_join(b, g);
		return KEEL_PARKED;
	default:
		join_answer(req, NULL, "", KERR_UNKNOWN_MEMBER_ID, false);
		return KEEL_PARKED;
	}
}

int keel_group_join(keel_request_t *req, keel_join_req_t *q)
{
	keel_broker_t *b = req->broker;
	keel_group_t *g;
	int32_t part;
	int16_t err;
	if (!q->group_id.len) {
		join_answer(req, NULL, "", KERR_INVALID_GROUP_ID, false);
		return KEEL_PARKED;
	}
	if ((err = keel_coordinator_check(b, q->group_id, &part))) {
		join_answer(req, NULL, "", err, false);
		return KEEL_PARKED;
	}
	if (q->session_timeout < b->cfg->group_min_session_timeout_ms ||
	    q->session_timeout > b->cfg->group_max_session_timeout_ms) {
		join_answer(req, NULL, "", KERR_INVALID_SESSION_TIMEOUT, false);
		return KEEL_PARKED;
	}
	g = q->member_id.len ? keel_group_find(b, q->group_id)
			     : keel_group_get_or_create(b, q->group_id, part);
	if (!g) {
		join_answer(req, NULL, "", q->member_id.len ? KERR_UNKNOWN_MEMBER_ID
							     : KERR_UNKNOWN_SERVER_ERROR, false);
		return KEEL_PARKED;
	}
	if (g->state == KEEL_GROUP_DEAD) {
		join_answer(req, NULL, "", KERR_COORDINATOR_NOT_AVAILABLE, false);
		return KEEL_PARKED;
	}
	if (!supports_protocols(g, q)) {
		join_answer(req, NULL, "", KERR_INCONSISTENT_GROUP_PROTOCOL, false);
		return KEEL_PARKED;
	}
	return q->member_id.len ? join_existing(b, g, req, q) : join_new(b, g, req, q);
}

/* ================================================================ removal, the tick */

void keel_group_remove(keel_broker_t *b, keel_group_t *g)
{
	keel_coordinator_t *c = b->groups;
	size_t i = hash_id((const uint8_t *)g->id, strlen(g->id)) % c->size;
	for (keel_group_t **pp = &c->table[i]; *pp; pp = &(*pp)->hnext)
		if (*pp == g) {
			*pp = g->hnext;
			break;
		}
	c->ngroups--;
	while (g->members) {
		keel_gmember_t *m = g->members;
		g->members = m->next;
		grp_member_release(m, KERR_NOT_COORDINATOR);
		grp_member_free(m);
	}
	for (int i2 = 0; i2 < g->npending; i2++)
		free(g->pending[i2]);
	free(g->pending);
	free(g->pending_deadline);
	keel_goffsets_free(g);
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	free(g->id);
	free(g);
}

/* Kafka's MemberMetadata.shouldKeepAlive. */
static bool keep_alive(const keel_gmember_t *m, int64_t now)
{
	if (m->join_req)
		return !m->is_new || m->last_heartbeat + NEW_MEMBER_JOIN_TIMEOUT_MS > now;
	if (m->sync_req)
		return true;
	return m->last_heartbeat + m->session_timeout > now;
}

static void tick_group(keel_broker_t *b, keel_group_t *g, int64_t now)
{
	for (int i = 0; i < g->npending;) {
		if (g->pending_deadline[i] > now) {
			i++;
			continue;
		}
		klog_info(GROUP_LOG, "pending member %s in group %s did not join in time", g->pending[i],
			  g->id);
		grp_pending_take(g, sl(g->pending[i]));
	}
	for (keel_gmember_t *m = g->members, *nx; m; m = nx) {
		nx = m->next;
		if (!keep_alive(m, now))
			grp_remove_member(b, g, m, "failed (session timeout)");
	}
	grp_maybe_complete_join(b, g);
}

static void tick(keel_loop_t *loop, keel_timer_t *t)
{
	keel_coordinator_t *c = (keel_coordinator_t *)((char *)t - offsetof(keel_coordinator_t, tick));
	keel_broker_t *b = c->b;
	int64_t now = keel_mono_ms();
	(void)loop;
	for (size_t i = 0; i < c->size; i++)
		for (keel_group_t *g = c->table[i], *nx; g; g = nx) {
			nx = g->hnext;
			tick_group(b, g, now);
		}
	if (now >= c->next_expiry_ms) {
		c->next_expiry_ms = now + b->cfg->offsets_retention_check_interval_ms;
		keel_group_expire(b);
	}
	if (c->ngroups)
		keel_timer_arm(b->loop, &c->tick, TICK_MS);
}

void keel_coordinator_arm(keel_broker_t *b)
{
	if (!keel_timer_armed(&b->groups->tick))
		keel_timer_arm(b->loop, &b->groups->tick, TICK_MS);
}

int keel_coordinator_init(keel_broker_t *b)
{
	if (!(b->groups = calloc(1, sizeof(*b->groups))))
		return -1;
	b->groups->b = b;
	keel_timer_init(&b->groups->tick, tick);
	b->groups->next_expiry_ms = keel_mono_ms() + b->cfg->offsets_retention_check_interval_ms;
	return 0;
}

void keel_coordinator_free(keel_broker_t *b)
{
	keel_coordinator_t *c = b->groups;
	if (!c)
		return;
	keel_timer_cancel(b->loop, &c->tick);
	keel_group_stores_abort(b);
	for (size_t i = 0; i < c->size; i++)
		while (c->table[i])
			keel_group_remove(b, c->table[i]);
	free(c->table);
	free(c->loaded);
	free(c);
	b->groups = NULL;
}
