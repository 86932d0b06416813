/* src/api_metadata.c: Metadata v0-8 from the cluster view, with topic auto-creation. */
#include "api.h"
#include "conn.h"
#include "group.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* Brokers as the client's listener reaches them (Kafka's getAliveBrokerNodes(listenerName)):
 * the endpoint of the same name, and no entry for a broker without one. */
static void write_brokers(kw_t *w, const keel_view_t *v, const char *listener, int16_t ver)
{
	int32_t n = 0;
	for (int32_t i = 0; v && i < v->nbrokers; i++)
		n += keel_view_endpoint(&v->brokers[i], listener) != NULL;
	kw_array(w, n);
	for (int32_t i = 0; v && i < v->nbrokers; i++) {
		const keel_view_broker_t *br = &v->brokers[i];
		const keel_endpoint_t *ep = keel_view_endpoint(br, listener);
		if (!ep)
			continue;
		kw_i32(w, br->id);
		kw_str(w, ep->host);
		kw_i32(w, ep->port);
		if (ver >= 1)
			kw_str(w, br->rack);
	}
}

/* A leader this broker does not serve yet as such (its log still being created, or the
 * LeaderAndIsr not applied) is not named: clients wait rather than send records this broker
 * would refuse, or, with acks=0, silently drop. */
bool keel_api_leader_known(keel_broker_t *b, const keel_view_topic_t *t, const keel_view_partition_t *p)
{
	const keel_partition_t *lp;
	if (p->leader < 0 || !b->view || !keel_view_broker(b->view, p->leader))
		return false;
	if (p->leader != b->id)
		return true;
	lp = keel_partition_get(b, t->name, strlen(t->name), p->partition);
	return lp && lp->leader;
}

int16_t keel_api_not_here(keel_broker_t *b, keel_slice_t topic, int32_t index)
{
	char name[256];
	const keel_view_topic_t *t = NULL;
	if (b->view && topic.len < sizeof(name)) {
		memcpy(name, topic.ptr, topic.len);
		name[topic.len] = '\0';
		t = keel_view_topic(b->view, name);
	}
	return t && !t->deleting && index >= 0 && index < t->npartitions ? KERR_NOT_LEADER_OR_FOLLOWER
									 : KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

static void write_partition(kw_t *w, keel_broker_t *b, const keel_view_topic_t *t,
			    const keel_view_partition_t *p, const char *listener, int16_t ver)
{
	const keel_view_t *v = b->view;
	int32_t offline[64], noff = 0;
	/* (a leader the client's listener cannot reach is not available to it, as in Kafka) */
	bool leader_live = keel_api_leader_known(b, t, p) &&
			   keel_view_endpoint(keel_view_broker(v, p->leader), listener);
	kw_i16(w, leader_live ? KERR_NONE : KERR_LEADER_NOT_AVAILABLE);
	kw_i32(w, p->partition);
	kw_i32(w, leader_live ? p->leader : -1);
	if (ver >= 7)
		kw_i32(w, p->leader_epoch);
	kw_i32s(w, p->nreplicas, p->replicas);
	kw_i32s(w, p->nisr, p->isr);
	if (ver >= 5) {
		for (int32_t i = 0; i < p->nreplicas && noff < 64; i++)
			if (!keel_view_broker(v, p->replicas[i]))
				offline[noff++] = p->replicas[i];
		kw_i32s(w, noff, offline);
	}
}

static void write_topic(kw_t *w, keel_broker_t *b, const keel_view_topic_t *t, const char *listener,
			int16_t ver)
{
	kw_i16(w, KERR_NONE);
	kw_str(w, t->name);
	if (ver >= 1)
		kw_bool(w, strncmp(t->name, "__", 2) == 0 &&
			       (strcmp(t->name, "__consumer_offsets") == 0 || strcmp(t->name, "__transaction_state") == 0));
	kw_array(w, t->npartitions);
	for (int32_t i = 0; i < t->npartitions; i++)
		write_partition(w, b, t, &t->partitions[i], listener, ver);
	if (ver >= 8)
		kw_i32(w, INT32_MIN); /* topic_authorized_operations: not requested */
}

static void write_missing(kw_t *w, keel_slice_t name, int16_t err, int16_t ver)
{
	kw_i16(w, err);
	kw_strn(w, (const char *)name.ptr, name.len);
	if (ver >= 1)
		kw_bool(w, false);
	kw_array(w, 0);
	if (ver >= 8)
		kw_i32(w, INT32_MIN);
}

/* One requested topic: answer from the view, or start auto-creation. */
static void write_requested(keel_request_t *req, kw_t *w, keel_slice_t name, bool allow_auto)
{
	keel_broker_t *b = req->broker;
	char tname[256];
	const keel_view_topic_t *t = NULL;
	int16_t ver = req->api_version;

	if (name.len == 0 || name.len > 249) {
		write_missing(w, name, KERR_INVALID_TOPIC_EXCEPTION, ver);
		return;
	}
	memcpy(tname, name.ptr, name.len);
	tname[name.len] = '\0';
	if (b->view)
		t = keel_view_topic(b->view, tname);
	if (t && !t->deleting) {
		write_topic(w, b, t, req->conn->listener, ver);
	} else if (!keel_topic_name_valid(tname)) {
		write_missing(w, name, KERR_INVALID_TOPIC_EXCEPTION, ver);
	} else if (!t && allow_auto && !strcmp(tname, KEEL_OFFSETS_TOPIC)) {
		keel_offsets_topic_ensure(b); /* with its own settings, as Kafka creates it */
		write_missing(w, name, KERR_LEADER_NOT_AVAILABLE, ver);
	} else if (!t && allow_auto && b->cfg->auto_create_topics_enable && b->view &&
		   b->cfg->default_replication_factor > b->view->nbrokers) {
		/* as Kafka's auto-creation: a replication factor the live brokers cannot hold is
		 * an error the client sees at once, not a topic that never comes */
		write_missing(w, name, KERR_INVALID_REPLICATION_FACTOR, ver);
	} else if (!t && allow_auto && b->cfg->auto_create_topics_enable) {
		keel_broker_autocreate(b, tname, name.len);
		write_missing(w, name, KERR_LEADER_NOT_AVAILABLE, ver);
	} else {
		write_missing(w, name, KERR_UNKNOWN_TOPIC_OR_PARTITION, ver);
	}
}

int keel_api_metadata(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	kr_t *r = &req->body;
	int16_t ver = req->api_version;
	const keel_view_t *v = b->view;
	keel_resp_t resp;
	int32_t n = kr_array(r, 2);
	bool all = (ver == 0 && n == 0) || n < 0;
	keel_slice_t *names = calloc(n > 0 ? (size_t)n : 1, sizeof(*names));
	bool allow_auto = true;

	if (!names)
		return KEEL_CLOSE;
	for (int32_t i = 0; i < n; i++)
		names[i] = kr_str(r, NULL);
	if (ver >= 4)
		allow_auto = kr_bool(r);
	if (!kr_ok(r)) {
		free(names);
		return KEEL_CLOSE;
	}

	keel_resp_begin(req, &resp);
	kw_t *w = &resp.w;
	if (ver >= 3)
		kw_i32(w, 0); /* throttle */
	write_brokers(w, v, req->conn->listener, ver);
	if (ver >= 2)
		kw_str(w, b->cluster_id[0] ? b->cluster_id : NULL);
	if (ver >= 1)
		kw_i32(w, v ? v->controller_id : -1);
	if (all) {
		int32_t cnt = 0;
		for (int32_t i = 0; v && i < v->ntopics; i++)
			cnt += !v->topics[i].deleting;
		kw_array(w, cnt);
		for (int32_t i = 0; v && i < v->ntopics; i++)
			if (!v->topics[i].deleting)
				write_topic(w, b, &v->topics[i], req->conn->listener, ver);
	} else {
		kw_array(w, n);
		for (int32_t i = 0; i < n; i++)
			write_requested(req, w, names[i], allow_auto);
	}
	if (ver >= 8)
		kw_i32(w, INT32_MIN); /* cluster_authorized_operations */
	free(names);
	keel_resp_send(req, &resp);
	return KEEL_HANDLED;
}
