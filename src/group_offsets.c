/* src/group_offsets.c: committed offsets and the __consumer_offsets log (Kafka's
 * GroupMetadataManager): the topic itself, which broker coordinates a group, writing records
 * and waiting for their replication as acks=all would, loading a partition's groups and
 * offsets when this broker becomes its leader, OffsetCommit, OffsetDelete and retention.
 * Loop thread only. */
#include "group.h"
#include "group_internal.h"
#include "api.h"
#include "batch.h"
#include "logger.h"
#include "replica.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOAD_CHUNK (1 << 20)

/* ================================================================ the topic, the coordinator */

int32_t keel_offsets_partitions(const keel_broker_t *b)
{
	const keel_view_topic_t *t = b->view ? keel_view_topic(b->view, KEEL_OFFSETS_TOPIC) : NULL;
	return t && t->npartitions > 0 ? t->npartitions : b->cfg->offsets_topic_num_partitions;
}

int16_t keel_coordinator_check(keel_broker_t *b, keel_slice_t group_id, int32_t *partition)
{
	char name[256];
	keel_partition_t *p;
	int32_t n = keel_offsets_partitions(b);
	if (group_id.len >= sizeof(name))
		return KERR_INVALID_GROUP_ID;
	memcpy(name, group_id.ptr ? (const char *)group_id.ptr : "", group_id.len);
	name[group_id.len] = '\0';
	*partition = keel_group_partition(name, group_id.len, n);
	p = keel_partition_get(b, KEEL_OFFSETS_TOPIC, strlen(KEEL_OFFSETS_TOPIC), *partition);
	if (p && !p->leader) {
		/* ours in the view, but not led yet (waiting for the controller's word): as a
		 * coordinator still loading, so that clients retry here */
		const keel_view_topic_t *t = b->view ? keel_view_topic(b->view, KEEL_OFFSETS_TOPIC) : NULL;
		if (t && *partition < t->npartitions && t->partitions[*partition].leader == b->id)
			return KERR_COORDINATOR_LOAD_IN_PROGRESS;
	}
	if (!p || !p->leader)
		return KERR_NOT_COORDINATOR;
	if (*partition >= b->groups->nloaded || !b->groups->loaded[*partition])
		return KERR_COORDINATOR_LOAD_IN_PROGRESS;
	return KERR_NONE;
}

void keel_offsets_topic_ensure(keel_broker_t *b)
{
	keel_cmd_t *cmd;
	keel_cmd_topic_t *t;
	char seg[32];
	if (!b->coord || (b->view && keel_view_topic(b->view, KEEL_OFFSETS_TOPIC)))
		return;
	for (int i = 0; i < b->nautocreate; i++)
		if (!strcmp(b->autocreate_pending[i], KEEL_OFFSETS_TOPIC))
			return;
	cmd = calloc(1, sizeof(*cmd));
	t = cmd ? calloc(1, sizeof(*t)) : NULL;
	char **pend = realloc(b->autocreate_pending, (size_t)(b->nautocreate + 1) * sizeof(char *));
	if (!cmd || !t || !pend) {
		free(cmd);
		free(t);
		return;
	}
	b->autocreate_pending = pend;
	cmd->type = KEEL_CMD_CREATE_TOPICS;
	cmd->auto_create = true;
	cmd->ntopics = 1;
	cmd->topics = t;
	t->name = strdup(KEEL_OFFSETS_TOPIC);
	t->num_partitions = b->cfg->offsets_topic_num_partitions;
	t->replication_factor = b->cfg->offsets_topic_replication_factor;
	/* Kafka's GroupMetadataManager.offsetsTopicConfigs */
	snprintf(seg, sizeof(seg), "%d", b->cfg->offsets_topic_segment_bytes);
	t->nconfigs = 3;
	t->config_keys = calloc(3, sizeof(char *));
	t->config_values = calloc(3, sizeof(char *));
	if (!t->name || !t->config_keys || !t->config_values ||
	    !(pend[b->nautocreate] = strdup(KEEL_OFFSETS_TOPIC))) {
		t->nconfigs = 0;
		keel_cmd_free(cmd);
		return;
	}
	b->nautocreate++;
	t->config_keys[0] = strdup("cleanup.policy");
	t->config_values[0] = strdup("compact");
	t->config_keys[1] = strdup("compression.type");
	t->config_values[1] = strdup("producer");
	t->config_keys[2] = strdup("segment.bytes");
	t->config_values[2] = strdup(seg);
	klog_info(GROUP_LOG, "creating %s (%d partitions, replication factor %d)", KEEL_OFFSETS_TOPIC,
		  t->num_partitions, t->replication_factor);
	keel_coord_submit(b->coord, cmd);
}

/* ================================================================ writing records */

typedef struct store_op {
	keel_waiter_t waiter;
	keel_timer_t timer;
	struct store_op *next, *prev; /* the coordinator's list */
	keel_broker_t *b;
	keel_partition_t *p;
	int64_t target;           /* the HW that covers the batch */
	void (*done)(void *arg, int16_t err);
	void *arg;
} store_op_t;

static void store_finish(store_op_t *op, int16_t err)
{
	keel_waiter_unlink(&op->waiter);
	keel_timer_cancel(op->b->loop, &op->timer);
	if (op->prev)
		op->prev->next = op->next;
	else
		op->b->groups->stores = op->next;
	if (op->next)
		op->next->prev = op->prev;
	if (op->done)
		op->done(op->arg, err);
	free(op);
}

static void store_wake(void *arg)
{
	store_op_t *op = arg;
	keel_partition_t *p = op->p;
	if (!p->leader)
		store_finish(op, KERR_NOT_COORDINATOR);
	else if (p->high_watermark >= op->target)
		store_finish(op, KERR_NONE);
	else if (p->nisr < p->cfg.min_insync_replicas)
		store_finish(op, KERR_COORDINATOR_NOT_AVAILABLE); /* NOT_ENOUGH_REPLICAS, as Kafka maps */
}

static void store_timeout(keel_loop_t *loop, keel_timer_t *t)
{
	store_op_t *op = (store_op_t *)((char *)t - offsetof(store_op_t, timer));
	(void)loop;
	store_finish(op, KERR_COORDINATOR_NOT_AVAILABLE); /* REQUEST_TIMED_OUT, as Kafka maps */
}

void keel_group_store(keel_broker_t *b, int32_t partition, int n, const keel_slice_t *keys,
		      const keel_slice_t *values, void (*done)(void *arg, int16_t err), void *arg)
{
	keel_partition_t *p = keel_partition_get(b, KEEL_OFFSETS_TOPIC, strlen(KEEL_OFFSETS_TOPIC),
						 partition);
	int64_t now = keel_now_ms(), base;
	size_t len;
	uint8_t *batch;
	store_op_t *op;
	if (!p || !p->leader) {
		if (done)
			done(arg, KERR_NOT_COORDINATOR);
		return;
	}
	if (p->nisr < p->cfg.min_insync_replicas) {
		if (done)
			done(arg, KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	batch = keel_batch_build(0, now, n, keys, values, &len);
	if (!batch || keel_log_append(p->log, batch, len, p->leader_epoch, now, &base) != KEEL_OK) {
		free(batch);
		if (done)
			done(arg, KERR_NOT_COORDINATOR); /* KAFKA_STORAGE_ERROR, as Kafka maps */
		return;
	}
	free(batch);
	keel_log_maybe_flush(p->log, now);
	if (!(op = calloc(1, sizeof(*op)))) {
		if (done)
			done(arg, KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	op->b = b;
	op->p = p;
	op->target = keel_log_end_offset(p->log);
	op->done = done;
	op->arg = arg;
	keel_timer_init(&op->timer, store_timeout);
	op->next = b->groups->stores;
	if (op->next)
		op->next->prev = op;
	b->groups->stores = op;
	keel_waiter_link(p, &op->waiter, op, store_wake);
	keel_timer_arm(b->loop, &op->timer, b->cfg->offsets_commit_timeout_ms);
	/* alone in the ISR the HW moves at once (and wakes us); else followers must fetch it */
	if (!keel_replica_update_hw(b, p))
		keel_partition_wake(b, p);
}

void keel_group_stores_abort(keel_broker_t *b)
{
	while (b->groups && b->groups->stores)
		store_finish(b->groups->stores, KERR_NOT_COORDINATOR);
}

/* ================================================================ the offsets of a group */

static int off_cmp(const char *topic, int32_t p, const keel_goffset_t *o)
{
	int d = strcmp(topic, o->topic);
	return d ? d : (p > o->partition) - (p < o->partition);
}

/* Index of (topic, p) in g's sorted offsets, or -(insertion point) - 1. */
static int off_search(const keel_group_t *g, const char *topic, int32_t p)
{
	int lo = 0, hi = g->noffsets - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2, d = off_cmp(topic, p, &g->offsets[mid]);
		if (!d)
			return mid;
		if (d < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -lo - 1;
}

const keel_goffset_t *keel_group_offset(const keel_group_t *g, keel_slice_t topic, int32_t p)
{
	char name[256];
	int i;
	if (topic.len >= sizeof(name))
		return NULL;
	memcpy(name, topic.ptr ? (const char *)topic.ptr : "", topic.len);
	name[topic.len] = '\0';
	i = off_search(g, name, p);
	return i >= 0 ? &g->offsets[i] : NULL;
}

static void off_clear(keel_goffset_t *o)
{
	free(o->topic);
	free(o->metadata);
}

static void off_remove(keel_group_t *g, const char *topic, int32_t p)
{
	int i = off_search(g, topic, p);
	if (i < 0)
		return;
	off_clear(&g->offsets[i]);
	memmove(&g->offsets[i], &g->offsets[i + 1], (size_t)(g->noffsets - i - 1) * sizeof(*g->offsets));
	g->noffsets--;
}

/* Set (topic, p) to o (its strings are taken). */
static void off_put(keel_group_t *g, keel_goffset_t *o)
{
	int i = off_search(g, o->topic, o->partition);
	if (i >= 0) {
		off_clear(&g->offsets[i]);
		g->offsets[i] = *o;
		return;
	}
	i = -i - 1;
	if (g->noffsets == g->capoffsets) {
		int cap = g->capoffsets ? 2 * g->capoffsets : 8;
		keel_goffset_t *v = realloc(g->offsets, (size_t)cap * sizeof(*v));
		if (!v) {
			off_clear(o);
			return;
		}
		g->offsets = v;
		g->capoffsets = cap;
	}
	memmove(&g->offsets[i + 1], &g->offsets[i], (size_t)(g->noffsets - i) * sizeof(*g->offsets));
	g->offsets[i] = *o;
	g->noffsets++;
}

void keel_goffsets_free(keel_group_t *g)
{
	for (int i = 0; i < g->noffsets; i++)
		off_clear(&g->offsets[i]);
	free(g->offsets);
	g->offsets = NULL;
	g->noffsets = g->capoffsets = 0;
}

static void offset_record(kw_t *key, kw_t *value, const char *group, const keel_goffset_t *o)
{
	keel_gkey_t k = { KEEL_GKEY_OFFSET, 1, sl(group), sl(o->topic), o->partition };
	keel_offset_value_t v = { 0, o->offset, o->leader_epoch, sl(o->metadata ? o->metadata : ""),
				  o->commit_ts, o->expire_ts };
	kw_init(key, 64, false);
	keel_gkey_encode(key, &k);
	kw_init(value, 64, false);
	keel_offset_value_encode(value, &v);
}

/* ================================================================ OffsetCommit */

typedef struct {
	keel_broker_t *b;
	keel_request_t *req;      /* NULL once the connection closed */
	char *group;
	int n;                    /* partitions in the request */
	keel_topic_errors_t *topics;
	int32_t ntopics;
	keel_part_error_t *errs;  /* all partitions, in request order */
	keel_goffset_t *pending;  /* what is being written, applied once it is */
	bool *written;            /* per partition: part of the write */
} commit_op_t;

static void commit_cancel(keel_request_t *req)
{
	commit_op_t *op = req->state;
	if (op)
		op->req = NULL;
}

static void commit_answer(commit_op_t *op)
{
	keel_resp_t resp;
	keel_request_t *req = op->req;
	if (!req)
		return;
	op->req = NULL;
	keel_resp_begin(req, &resp);
	keel_commit_resp_encode(&resp.w, req->api_version, op->ntopics, op->topics);
	keel_resp_send(req, &resp);
	keel_request_done(req);
}

static void commit_op_free(commit_op_t *op)
{
	for (int i = 0; op->written && op->pending && i < op->n; i++)
		if (op->written[i]) /* not applied: still ours */
			off_clear(&op->pending[i]);
	free(op->pending);
	free(op->written);
	free(op->errs);
	free(op->topics);
	free(op->group);
	free(op);
}

static void commit_done(void *arg, int16_t err)
{
	commit_op_t *op = arg;
	keel_group_t *g = keel_group_find(op->b, sl(op->group));
	for (int i = 0; i < op->n; i++) {
		if (!op->written[i])
			continue;
		op->errs[i].error = err;
		if (!err && g) {
			off_put(g, &op->pending[i]); /* takes its strings */
			op->written[i] = false;
		}
	}
	commit_answer(op);
	commit_op_free(op);
}

/* Kafka's doCommitOffsets checks: 0 if the commit may be written. */
static int16_t commit_check(keel_broker_t *b, keel_commit_req_t *q, keel_group_t **gp, int32_t part)
{
	keel_group_t *g = keel_group_find(b, q->group_id);
	const keel_gmember_t *m = NULL;
	if (!g) {
		if (q->generation >= 0)
			return KERR_ILLEGAL_GENERATION; /* from an older generation of a gone group */
		*gp = keel_group_get_or_create(b, q->group_id, part); /* a simple (manual) commit */
		return *gp ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
	}
	*gp = g;
	if (g->state == KEEL_GROUP_DEAD)
		return KERR_COORDINATOR_NOT_AVAILABLE;
	for (m = g->members; m && !(q->member_id.len == strlen(m->id) &&
				    !memcmp(q->member_id.ptr, m->id, q->member_id.len)); m = m->next)
		;
	if (q->instance_id.ptr) {
		const keel_gmember_t *x = g->members;
		while (x && !(x->instance_id && q->instance_id.len == strlen(x->instance_id) &&
			      !memcmp(q->instance_id.ptr, x->instance_id, q->instance_id.len)))
			x = x->next;
		if (x != m)
			return KERR_FENCED_INSTANCE_ID;
	}
	if (q->generation < 0 && g->state == KEEL_GROUP_EMPTY)
		return KERR_NONE;
	if (g->state == KEEL_GROUP_COMPLETING)
		return KERR_REBALANCE_IN_PROGRESS;
	if (!m)
		return KERR_UNKNOWN_MEMBER_ID;
	if (q->generation != g->generation)
		return KERR_ILLEGAL_GENERATION;
	((keel_gmember_t *)m)->last_heartbeat = keel_mono_ms();
	return KERR_NONE;
}

int keel_group_commit(keel_request_t *req, keel_commit_req_t *q)
{
	keel_broker_t *b = req->broker;
	commit_op_t *op = calloc(1, sizeof(*op));
	keel_group_t *g = NULL;
	int32_t part, k = 0, nw = 0;
	int16_t err;
	int64_t now = keel_now_ms();
	if (!op)
		return KEEL_CLOSE;
	op->b = b;
	op->req = req;
	for (int32_t t = 0; t < q->ntopics; t++)
		op->n += q->topics[t].npartitions;
	op->ntopics = q->ntopics;
	op->topics = calloc((size_t)q->ntopics + 1, sizeof(*op->topics));
	op->errs = calloc((size_t)op->n + 1, sizeof(*op->errs));
	op->pending = calloc((size_t)op->n + 1, sizeof(*op->pending));
	op->written = calloc((size_t)op->n + 1, sizeof(*op->written));
	op->group = strndup(q->group_id.ptr ? (const char *)q->group_id.ptr : "", q->group_id.len);
	if (!op->topics || !op->errs || !op->pending || !op->written || !op->group) {
		commit_op_free(op);
		return KEEL_CLOSE;
	}
	err = q->group_id.len ? keel_coordinator_check(b, q->group_id, &part) : KERR_INVALID_GROUP_ID;
	if (!err)
		err = commit_check(b, q, &g, part);
	for (int32_t t = 0; t < q->ntopics; t++) {
		op->topics[t].name = q->topics[t].name;
		op->topics[t].npartitions = q->topics[t].npartitions;
		op->topics[t].partitions = &op->errs[k];
		for (int32_t i = 0; i < q->topics[t].npartitions; i++, k++) {
			const keel_commit_part_t *cp = &q->topics[t].partitions[i];
			keel_goffset_t *o = &op->pending[k];
			op->errs[k].partition = cp->partition;
			op->errs[k].error = err;
			if (err)
				continue;
			if (cp->metadata.len > (size_t)b->cfg->offset_metadata_max_bytes) {
				op->errs[k].error = KERR_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			o->topic = strndup((const char *)q->topics[t].name.ptr, q->topics[t].name.len);
			o->metadata = strndup(cp->metadata.ptr ? (const char *)cp->metadata.ptr : "",
					      cp->metadata.len);
			o->partition = cp->partition;
			o->offset = cp->offset;
			o->leader_epoch = cp->leader_epoch;
			o->commit_ts = cp->commit_ts >= 0 ? cp->commit_ts : now;
			o->expire_ts = q->retention_ms >= 0 ? o->commit_ts + q->retention_ms : -1;
			op->written[k] = o->topic && o->metadata;
			if (!op->written[k]) {
				off_clear(o);
				op->errs[k].error = KERR_UNKNOWN_SERVER_ERROR;
			}
			nw += op->written[k];
		}
	}
	req->state = op;
	req->cancel = commit_cancel;
	if (!nw) {
		commit_answer(op);
		commit_op_free(op);
		return KEEL_PARKED;
	}
	/* one batch with every offset */
	kw_t *kws = calloc((size_t)nw * 2, sizeof(*kws));
	keel_slice_t *keys = calloc((size_t)nw, sizeof(*keys)), *vals = calloc((size_t)nw, sizeof(*vals));
	int j = 0;
	for (int i = 0; kws && keys && vals && i < op->n; i++) {
		if (!op->written[i])
			continue;
		offset_record(&kws[2 * j], &kws[2 * j + 1], op->group, &op->pending[i]);
		keys[j] = (keel_slice_t){ kws[2 * j].buf, kws[2 * j].len };
		vals[j] = (keel_slice_t){ kws[2 * j + 1].buf, kws[2 * j + 1].len };
		j++;
	}
	if (kws && keys && vals)
		keel_group_store(b, g->partition, nw, keys, vals, commit_done, op);
	else
		commit_done(op, KERR_UNKNOWN_SERVER_ERROR);
	for (int i = 0; kws && i < 2 * nw; i++)
		kw_free(&kws[i]);
	free(kws);
	free(keys);
	free(vals);
	return KEEL_PARKED;
}

/* ================================================================ OffsetDelete */

int16_t keel_group_offset_delete(keel_broker_t *b, keel_offset_delete_req_t *q, int16_t *errs)
{
	keel_group_t *g;
	keel_cp_subscription_t *subs = NULL;
	int nsubs = 0, k = 0, nt = 0;
	int32_t part;
	int16_t err = keel_coordinator_check(b, q->group_id, &part);
	if (err)
		return err;
	if (!(g = keel_group_find(b, q->group_id)) || g->state == KEEL_GROUP_DEAD)
		return KERR_GROUP_ID_NOT_FOUND;
	/* a consumer group that is not Empty keeps the offsets of the topics it subscribes to */
	if (g->state != KEEL_GROUP_EMPTY && g->protocol_type && !strcmp(g->protocol_type, "consumer")) {
		subs = calloc((size_t)g->nmembers + 1, sizeof(*subs));
		for (keel_gmember_t *m = g->members; subs && m; m = m->next) {
			keel_slice_t meta = { NULL, 0 };
			for (int i = 0; i < m->nprotocols; i++)
				if (g->protocol && !strcmp(m->proto_names[i], g->protocol))
					meta = m->proto_meta[i];
			if (meta.ptr && !keel_cp_subscription_decode(meta.ptr, meta.len, &subs[nsubs]))
				nsubs++;
		}
	}
	for (int32_t t = 0; t < q->ntopics; t++)
		nt += q->topics[t].npartitions;
	kw_t *kws = calloc((size_t)nt + 1, sizeof(*kws));
	keel_slice_t *keys = calloc((size_t)nt + 1, sizeof(*keys)), *vals = calloc((size_t)nt + 1, sizeof(*vals));
	int nk = 0;
	for (int32_t t = 0; t < q->ntopics; t++) {
		char *topic = strndup((const char *)q->topics[t].topic.ptr, q->topics[t].topic.len);
		bool subscribed = false;
		for (int s = 0; s < nsubs && !subscribed; s++)
			for (int32_t i = 0; i < subs[s].ntopics && !subscribed; i++)
				subscribed = subs[s].topics[i].len == q->topics[t].topic.len &&
					     !memcmp(subs[s].topics[i].ptr, q->topics[t].topic.ptr,
						     q->topics[t].topic.len);
		for (int32_t i = 0; i < q->topics[t].npartitions; i++, k++) {
			int32_t p = q->topics[t].partitions[i];
			errs[k] = subscribed ? KERR_GROUP_SUBSCRIBED_TO_TOPIC : KERR_NONE;
			if (subscribed || !topic || off_search(g, topic, p) < 0 || !kws)
				continue;
			keel_gkey_t key = { KEEL_GKEY_OFFSET, 1, sl(g->id), sl(topic), p };
			kw_init(&kws[nk], 64, false);
			keel_gkey_encode(&kws[nk], &key);
			keys[nk] = (keel_slice_t){ kws[nk].buf, kws[nk].len };
			nk++;
			off_remove(g, topic, p);
		}
		free(topic);
	}
	if (nk)
		keel_group_store(b, g->partition, nk, keys, vals, NULL, NULL);
	for (int i = 0; i < nk; i++)
		kw_free(&kws[i]);
	free(kws);
	free(keys);
	free(vals);
	for (int s = 0; s < nsubs; s++)
		keel_cp_subscription_free(&subs[s]);
	free(subs);
	return KERR_NONE;
}

/* ================================================================ retention */

/* Kafka 2.1+ (KIP-211): offsets expire offsets.retention.minutes after the group became Empty
 * (or after their commit, for topics a live consumer group no longer subscribes to, KIP-496, and
 * at an explicit expire timestamp of an old-style commit). A group with nothing left is Dead. */
static void expire_group(keel_broker_t *b, keel_group_t *g, int64_t now)
{
	int64_t retention = (int64_t)b->cfg->offsets_retention_minutes * 60000;
	kw_t *kws = calloc((size_t)g->noffsets + 2, sizeof(*kws));
	keel_slice_t *keys = calloc((size_t)g->noffsets + 2, sizeof(*keys));
	keel_slice_t *vals = calloc((size_t)g->noffsets + 2, sizeof(*vals));
	int nk = 0;
	if (!kws || !keys || !vals)
		goto out;
	for (int i = 0; i < g->noffsets;) {
		keel_goffset_t *o = &g->offsets[i];
		bool expired = o->expire_ts >= 0 ? o->expire_ts <= now
				: g->state == KEEL_GROUP_EMPTY && g->state_ts + retention <= now;
		if (!expired) {
			i++;
			continue;
		}
		keel_gkey_t key = { KEEL_GKEY_OFFSET, 1, sl(g->id), sl(o->topic), o->partition };
		kw_init(&kws[nk], 64, false);
		keel_gkey_encode(&kws[nk], &key);
		keys[nk] = (keel_slice_t){ kws[nk].buf, kws[nk].len };
		nk++;
		off_remove(g, o->topic, o->partition);
	}
	if (nk)
		klog_info(GROUP_LOG, "removed %d expired offset(s) of group %s", nk, g->id);
	if (g->state == KEEL_GROUP_EMPTY && !g->noffsets && !g->npending) {
		kw_t key, value;
		g->state = KEEL_GROUP_DEAD;
		keel_group_record(g, &key, &value);
		kws[nk] = key;
		keys[nk++] = (keel_slice_t){ key.buf, key.len };
		kw_free(&value);
		klog_info(GROUP_LOG, "group %s is Dead: no members and no offsets left", g->id);
	}
	if (nk)
		keel_group_store(b, g->partition, nk, keys, vals, NULL, NULL);
out:
	for (int i = 0; kws && i < nk; i++)
		kw_free(&kws[i]);
	free(kws);
	free(keys);
	free(vals);
	if (g->state == KEEL_GROUP_DEAD)
		keel_group_remove(b, g);
}

void keel_group_expire(keel_broker_t *b)
{
	keel_coordinator_t *c = b->groups;
	int64_t now = keel_now_ms();
	for (size_t i = 0; i < c->size; i++)
		for (keel_group_t *g = c->table[i], *nx; g; g = nx) {
			nx = g->hnext;
			if (g->partition < c->nloaded && c->loaded[g->partition])
				expire_group(b, g, now);
		}
}

/* ================================================================ loading */

void keel_group_replay(keel_broker_t *b, int32_t partition, keel_slice_t key, keel_slice_t value)
{
	keel_gkey_t k;
	keel_group_t *g;
	if (!key.ptr || keel_gkey_decode(key.ptr, key.len, &k) || k.kind == KEEL_GKEY_OTHER)
		return;
	if (!value.ptr) { /* a tombstone */
		char topic[256];
		if (!(g = keel_group_find(b, k.group)))
			return;
		if (k.kind == KEEL_GKEY_OFFSET && k.topic.len < sizeof(topic)) {
			memcpy(topic, k.topic.ptr, k.topic.len);
			topic[k.topic.len] = '\0';
			off_remove(g, topic, k.partition);
		} else if (k.kind == KEEL_GKEY_GROUP) {
			keel_group_value_t none = { .protocol = { NULL, 0 }, .leader = { NULL, 0 },
						   .current_state_ts = -1 };
			keel_group_restore(g, &none);
		}
		if (!g->noffsets && !g->nmembers && k.kind == KEEL_GKEY_GROUP)
			keel_group_remove(b, g);
		return;
	}
	if (!(g = keel_group_get_or_create(b, k.group, partition)))
		return;
	if (k.kind == KEEL_GKEY_OFFSET) {
		keel_offset_value_t v;
		keel_goffset_t o = { 0 };
		if (keel_offset_value_decode(value.ptr, value.len, &v))
			return;
		o.topic = strndup((const char *)k.topic.ptr, k.topic.len);
		o.metadata = strndup(v.metadata.ptr ? (const char *)v.metadata.ptr : "", v.metadata.len);
		o.partition = k.partition;
		o.offset = v.offset;
		o.leader_epoch = v.leader_epoch;
		o.commit_ts = v.commit_ts;
		o.expire_ts = v.expire_ts;
		if (o.topic && o.metadata)
			off_put(g, &o);
		else
			off_clear(&o);
	} else {
		keel_group_value_t v;
		if (keel_group_value_decode(value.ptr, value.len, &v))
			return;
		keel_group_restore(g, &v);
		keel_group_value_free(&v);
	}
}

typedef struct {
	keel_broker_t *b;
	int32_t partition;
	int64_t records;
} load_ctx_t;

static int load_record(void *arg, int64_t offset, int64_t ts, keel_slice_t key, bool key_null,
		       keel_slice_t value, bool value_null, int header_count)
{
	load_ctx_t *l = arg;
	(void)offset;
	(void)ts;
	(void)header_count;
	if (!key_null)
		keel_group_replay(l->b, l->partition, key, value_null ? (keel_slice_t){ NULL, 0 } : value);
	l->records++;
	return 0;
}

static bool pread_all(int fd, uint8_t *buf, size_t len, off_t pos)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, pos + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Read p's log from its start to its end and replay every record (Kafka's
 * doLoadGroupsAndOffsets). Synchronous: the partition is small next to what a fetch moves. */
void keel_group_load(keel_broker_t *b, keel_partition_t *p)
{
	keel_coordinator_t *c = b->groups;
	load_ctx_t l = { b, p->index, 0 };
	int64_t off = keel_log_start_offset(p->log), end = keel_log_end_offset(p->log);
	int64_t t0 = keel_mono_ms();
	if (p->index >= c->nloaded) {
		int32_t n = keel_offsets_partitions(b) > p->index ? keel_offsets_partitions(b) : p->index + 1;
		uint8_t *v = realloc(c->loaded, (size_t)n);
		if (!v)
			return;
		memset(v + c->nloaded, 0, (size_t)(n - c->nloaded));
		c->loaded = v;
		c->nloaded = n;
	}
	while (off < end) {
		keel_log_range_t r;
		uint8_t *buf;
		size_t pos = 0;
		int64_t next = off;
		if (keel_log_read(p->log, off, LOAD_CHUNK, end, true, &r) != KEEL_OK || !r.len)
			break;
		if (!(buf = malloc(r.len)) || !pread_all(r.fd, buf, r.len, r.pos)) {
			free(buf);
			klog_error(GROUP_LOG, "%s-%d: cannot read the log at %lld", p->topic, p->index,
				   (long long)off);
			break;
		}
		while (r.len - pos >= KEEL_BATCH_HEADER_LEN) {
			const uint8_t *batch = buf + pos;
			size_t len = (size_t)kb_get32(batch + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
			if (len > r.len - pos)
				break;
			if (!(kb_get16(batch + KB_OFF_ATTRIBUTES) & KB_ATTR_CONTROL))
				keel_batch_foreach(batch, len, (size_t)b->cfg->socket_request_max_bytes,
						   load_record, &l);
			next = kb_get64(batch) + kb_get32(batch + KB_OFF_LAST_OFFSET_DELTA) + 1;
			pos += len;
		}
		free(buf);
		if (next <= off)
			break;
		off = next;
	}
	c->loaded[p->index] = 1;
	klog_info(GROUP_LOG, "loaded the groups of %s-%d: %lld record(s) in %lld ms", p->topic, p->index,
		  (long long)l.records, (long long)(keel_mono_ms() - t0));
	keel_coordinator_arm(b);
}

void keel_coordinator_elected(keel_broker_t *b, keel_partition_t *p)
{
	keel_coordinator_t *c = b->groups;
	if (strcmp(p->topic, KEEL_OFFSETS_TOPIC) || (p->index < c->nloaded && c->loaded[p->index]))
		return; /* not ours to load, or still loaded (a new epoch of the same leadership) */
	keel_group_load(b, p);
}

void keel_coordinator_resigned(keel_broker_t *b, const char *topic, int32_t index)
{
	keel_coordinator_t *c = b->groups;
	int n = 0;
	if (strcmp(topic, KEEL_OFFSETS_TOPIC) || index >= c->nloaded || !c->loaded[index])
		return;
	c->loaded[index] = 0;
	for (size_t i = 0; i < c->size; i++)
		for (keel_group_t *g = c->table[i], *nx; g; g = nx) {
			nx = g->hnext;
			if (g->partition == index) {
				keel_group_remove(b, g); /* parked members get NOT_COORDINATOR */
				n++;
			}
		}
	klog_info(GROUP_LOG, "unloaded %d group(s) of %s-%d", n, topic, index);
}
