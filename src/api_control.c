/* src/api_control.c: the controller's requests to brokers, as Kafka brokers answer them:
 * LeaderAndIsr v4 (lead or follow, newer leader epochs only), UpdateMetadata v6 (the metadata
 * cache: here the cluster view, patched where the request is newer) and StopReplica v3
 * (stop following, or delete the replica). A request from an older controller epoch gets
 * STALE_CONTROLLER_EPOCH; one meant for an earlier registration of this broker gets
 * STALE_BROKER_EPOCH. The cluster view from ZooKeeper watches carries the same states, so
 * whichever comes first wins and the later one changes nothing. */
#include "api.h"
#include "conn.h"
#include "fetcher.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

#define EPOCH_DURING_DELETE (-2)

/* One partition's answer. */
typedef struct {
	keel_slice_t topic;
	int32_t partition;
	int16_t error;
} result_t;

typedef struct {
	result_t *v;
	int n, cap;
} results_t;

static bool add_result(results_t *rs, keel_slice_t topic, int32_t p, int16_t err)
{
	if (rs->n == rs->cap) {
		int cap = rs->cap ? 2 * rs->cap : 64;
		result_t *v = realloc(rs->v, (size_t)cap * sizeof(*v));
		if (!v)
			return false;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = (result_t){ topic, p, err };
	return true;
}

/* controller_id, controller_epoch, broker_epoch: 0 if the request may be applied. */
static int16_t check_controller(keel_request_t *req, int32_t *ctl_id, int64_t *bepoch_out)
{
	keel_broker_t *b = req->broker;
	kr_t *r = &req->body;
	int32_t cepoch;
	int64_t bepoch;
	const keel_view_broker_t *me = b->view ? keel_view_broker(b->view, b->id) : NULL;
	*ctl_id = kr_i32(r);
	cepoch = kr_i32(r);
	bepoch = kr_i64(r);
	if (bepoch_out)
		*bepoch_out = bepoch;
	if (cepoch < b->ctl_epoch_seen)
		return KERR_STALE_CONTROLLER_EPOCH;
	if (bepoch != -1 && me && bepoch < me->epoch)
		return KERR_STALE_BROKER_EPOCH;
	b->ctl_epoch_seen = cepoch;
	return KERR_NONE;
}

/* error_code, partition_errors [topic_name, partition_index, error_code, tags], tags: the
 * response of LeaderAndIsr v4 and StopReplica v3. */
static void respond_partitions(keel_request_t *req, int16_t top, const results_t *rs)
{
	keel_resp_t resp;
	keel_resp_begin(req, &resp);
	kw_i16(&resp.w, top);
	kw_array(&resp.w, rs->n);
	for (int i = 0; i < rs->n; i++) {
		kw_strn(&resp.w, (const char *)rs->v[i].topic.ptr, rs->v[i].topic.len);
		kw_i32(&resp.w, rs->v[i].partition);
		kw_i16(&resp.w, rs->v[i].error);
		kw_tags(&resp.w);
	}
	kw_tags(&resp.w);
	keel_resp_send(req, &resp);
}

static int32_t *read_ids(kr_t *r, int32_t *n)
{
	int32_t *v;
	*n = kr_array(r, 4);
	if (*n < 0)
		*n = 0;
	v = malloc((size_t)(*n ? *n : 1) * sizeof(*v));
	for (int32_t i = 0; v && i < *n; i++)
		v[i] = kr_i32(r);
	return v;
}

static bool has(int32_t n, const int32_t *v, int32_t x)
{
	for (int32_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static const keel_view_topic_t *view_topic(keel_broker_t *b, keel_slice_t name)
{
	char buf[256];
	if (!b->view || name.len >= sizeof(buf))
		return NULL;
	memcpy(buf, name.ptr, name.len);
	buf[name.len] = '\0';
	return keel_view_topic(b->view, buf);
}

/* ================================================================ LeaderAndIsr v4 */

/* Kafka's becomeLeaderOrFollower for one partition state; bepoch: the registration it was
 * sent to. A leadership it names is the controller's word (keel_broker_note_lead), kept even
 * if the view has not shown the topic yet. */
static int16_t lai_partition(keel_broker_t *b, keel_slice_t topic, keel_view_partition_t *vp, int64_t bepoch)
{
	const keel_view_topic_t *t = view_topic(b, topic);
	keel_partition_t *p;
	char name[256];
	bool word = vp->leader == b->id && bepoch >= 0 && topic.len < sizeof(name);
	if (!has(vp->nreplicas, vp->replicas, b->id))
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (word) {
		memcpy(name, topic.ptr, topic.len);
		name[topic.len] = '\0';
	}
	if (!t || t->deleting || vp->partition < 0 || vp->partition >= t->npartitions) {
		if (word)
			keel_broker_note_lead(b, name, vp->partition, vp->leader_epoch, bepoch);
		return KERR_NONE; /* not in our view yet: the view creates it with its config */
	}
	p = keel_partition_get(b, t->name, strlen(t->name), vp->partition);
	/* nothing newer (the view may have been first), unless it is the word this broker waits
	 * for to lead at the view's epoch */
	if (p && (vp->leader_epoch < p->leader_epoch ||
		  (vp->leader_epoch == p->leader_epoch &&
		   !(word && (p->confirmed_reg != bepoch || p->confirmed_epoch < vp->leader_epoch)))))
		return KERR_STALE_CONTROLLER_EPOCH;
	if (word)
		keel_broker_note_lead(b, name, vp->partition, vp->leader_epoch, bepoch);
	keel_broker_apply_partition(b, t, vp);
	return KERR_NONE;
}

int keel_api_leader_and_isr(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	kr_t *r = &req->body;
	results_t rs = { 0 };
	int32_t ctl, nt, nl;
	int64_t bepoch = -1;
	int16_t top = check_controller(req, &ctl, &bepoch);
	bool applied = false;
	nt = kr_array(r, 2);
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		keel_slice_t topic = kr_str(r, NULL);
		int32_t np = kr_array(r, 30);
		for (int32_t j = 0; j < np && kr_ok(r); j++) {
			keel_view_partition_t vp = { 0 };
			int32_t nadd, nrem;
			int32_t *add, *rem;
			vp.partition = kr_i32(r);
			(void)kr_i32(r); /* the controller epoch of the state */
			vp.leader = kr_i32(r);
			vp.leader_epoch = kr_i32(r);
			vp.isr = read_ids(r, &vp.nisr);
			vp.zk_version = kr_i32(r);
			vp.replicas = read_ids(r, &vp.nreplicas);
			add = read_ids(r, &nadd);
			rem = read_ids(r, &nrem);
			(void)kr_bool(r); /* is_new */
			kr_tags(r);
			if (kr_ok(r) && vp.isr && vp.replicas) {
				int16_t err = top ? top : lai_partition(b, topic, &vp, bepoch);
				applied |= err == KERR_NONE;
				if (!add_result(&rs, topic, vp.partition, err))
					r->err = true;
			}
			free(vp.isr);
			free(vp.replicas);
			free(add);
			free(rem);
		}
		kr_tags(r);
	}
	nl = kr_array(r, 10); /* live leaders: the view has their addresses */
	for (int32_t i = 0; i < nl && kr_ok(r); i++) {
		(void)kr_i32(r);
		(void)kr_str(r, NULL);
		(void)kr_i32(r);
		kr_tags(r);
	}
	kr_tags(r);
	if (!kr_ok(r) || kr_remaining(r)) {
		free(rs.v);
		return KEEL_CLOSE;
	}
	if (applied) {
		keel_fetcher_reconcile(b);
		keel_api_topic_waits_check(b); /* a CreateTopics answer may wait for these leaders */
	}
	klog_debug("control", "LeaderAndIsr from controller %d: %d partition(s), error %d", ctl, rs.n, top);
	respond_partitions(req, top, &rs);
	free(rs.v);
	return KEEL_HANDLED;
}

/* ================================================================ UpdateMetadata v6 */

/* Patch the view's partition with a newer state. */
static void um_partition(keel_broker_t *b, keel_slice_t topic, const keel_view_partition_t *s)
{
	const keel_view_topic_t *ct = view_topic(b, topic);
	keel_view_partition_t *vp;
	int32_t *isr, *replicas;
	if (!ct || s->partition < 0 || s->partition >= ct->npartitions || s->leader == EPOCH_DURING_DELETE)
		return;
	vp = &((keel_view_topic_t *)ct)->partitions[s->partition]; /* the loop owns its view */
	if (s->leader_epoch < vp->leader_epoch ||
	    (s->leader_epoch == vp->leader_epoch && s->zk_version <= vp->zk_version))
		return;
	isr = malloc((size_t)(s->nisr ? s->nisr : 1) * sizeof(*isr));
	replicas = malloc((size_t)(s->nreplicas ? s->nreplicas : 1) * sizeof(*replicas));
	if (!isr || !replicas) {
		free(isr);
		free(replicas);
		return;
	}
	memcpy(isr, s->isr, (size_t)s->nisr * sizeof(*isr));
	memcpy(replicas, s->replicas, (size_t)s->nreplicas * sizeof(*replicas));
	free(vp->isr);
	free(vp->replicas);
	vp->isr = isr;
	vp->nisr = s->nisr;
	vp->replicas = replicas;
	vp->nreplicas = s->nreplicas;
	vp->leader = s->leader;
	vp->leader_epoch = s->leader_epoch;
	vp->zk_version = s->zk_version;
}

int keel_api_update_metadata(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	kr_t *r = &req->body;
	keel_resp_t resp;
	int32_t ctl, nt, nb;
	bool null;
	int16_t top = check_controller(req, &ctl, NULL);
	nt = kr_array(r, 2);
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		keel_slice_t topic = kr_str(r, NULL);
		int32_t np = kr_array(r, 24);
		for (int32_t j = 0; j < np && kr_ok(r); j++) {
			keel_view_partition_t s = { 0 };
			int32_t noff, *off;
			s.partition = kr_i32(r);
			(void)kr_i32(r);
			s.leader = kr_i32(r);
			s.leader_epoch = kr_i32(r);
			s.isr = read_ids(r, &s.nisr);
			s.zk_version = kr_i32(r);
			s.replicas = read_ids(r, &s.nreplicas);
			off = read_ids(r, &noff);
			kr_tags(r);
			if (kr_ok(r) && !top && s.isr && s.replicas)
				um_partition(b, topic, &s);
			free(s.isr);
			free(s.replicas);
			free(off);
		}
		kr_tags(r);
	}
	nb = kr_array(r, 8); /* live brokers: the view has them from ZooKeeper */
	for (int32_t i = 0; i < nb && kr_ok(r); i++) {
		int32_t ne;
		(void)kr_i32(r);
		ne = kr_array(r, 8);
		for (int32_t k = 0; k < ne && kr_ok(r); k++) {
			(void)kr_i32(r);
			(void)kr_str(r, NULL);
			(void)kr_str(r, NULL);
			(void)kr_i16(r);
			kr_tags(r);
		}
		(void)kr_str(r, &null); /* rack */
		kr_tags(r);
	}
	kr_tags(r);
	if (!kr_ok(r) || kr_remaining(r))
		return KEEL_CLOSE;
	klog_debug("control", "UpdateMetadata from controller %d: error %d", ctl, top);
	keel_resp_begin(req, &resp);
	kw_i16(&resp.w, top);
	kw_tags(&resp.w);
	keel_resp_send(req, &resp);
	return KEEL_HANDLED;
}

/* ================================================================ StopReplica v3 */

/* Kafka's stopReplicas for one partition. */
static int16_t stop_partition(keel_broker_t *b, keel_slice_t topic, int32_t index, int32_t epoch,
			      bool del)
{
	keel_partition_t *p = keel_partition_get(b, (const char *)topic.ptr, topic.len, index);
	char name[256];
	if (topic.len >= sizeof(name))
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	memcpy(name, topic.ptr, topic.len);
	name[topic.len] = '\0';
	if (p && epoch != EPOCH_DURING_DELETE && epoch != -1 && epoch <= p->leader_epoch)
		return KERR_FENCED_LEADER_EPOCH;
	if (del)
		keel_broker_note_stopped(b, name, index);
	if (!p)
		return KERR_NONE; /* nothing here: it is as stopped as it gets */
	if (del) {
		klog_info("control", "%s-%d: deleted by the controller", name, index);
		keel_partition_drop(b, p, true);
	} else {
		p->leader = false;
		p->leader_id = -1;
		keel_partition_wake(b, p);
	}
	return KERR_NONE;
}

int keel_api_stop_replica(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	kr_t *r = &req->body;
	results_t rs = { 0 };
	int32_t ctl, nt;
	int16_t top = check_controller(req, &ctl, NULL);
	nt = kr_array(r, 2);
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		keel_slice_t topic = kr_str(r, NULL);
		int32_t np = kr_array(r, 10);
		for (int32_t j = 0; j < np && kr_ok(r); j++) {
			int32_t index = kr_i32(r), epoch = kr_i32(r);
			bool del = kr_bool(r);
			kr_tags(r);
			if (kr_ok(r) && !add_result(&rs, topic, index,
						    top ? top : stop_partition(b, topic, index, epoch, del)))
				r->err = true;
		}
		kr_tags(r);
	}
	kr_tags(r);
	if (!kr_ok(r) || kr_remaining(r)) {
		free(rs.v);
		return KEEL_CLOSE;
	}
	keel_fetcher_reconcile(b);
	klog_debug("control", "StopReplica from controller %d: %d partition(s), error %d", ctl, rs.n, top);
	respond_partitions(req, top, &rs);
	free(rs.v);
	return KEEL_HANDLED;
}
