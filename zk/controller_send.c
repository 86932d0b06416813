/* zk/controller_send.c: the requests the controller sends to brokers, with Kafka's layouts:
 * LeaderAndIsr v4 to the replicas of partitions whose state the controller wrote (and to a
 * broker that starts, for all its partitions), UpdateMetadata v6 to every live broker, and
 * StopReplica v3 for topic deletion. State changes are noted as the controller makes them and
 * encoded once per turn (Kafka's ControllerBrokerRequestBatch); the loop sends them on one
 * ordered queue per broker (src/ctlchan.c) and hands the answers back. Coordination thread. */
#include "coord_internal.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "logger.h"

#define LAI_VERSION 4
#define UM_VERSION 6
#define STOP_VERSION 3
#define EPOCH_DURING_DELETE (-2) /* Kafka's LeaderAndIsr.EpochDuringDelete */

/* ================================================================ noting changes */

static bool grow(void **v, int *cap, int n, size_t elem)
{
	void *nv;
	int nc;
	if (n < *cap)
		return true;
	nc = *cap ? 2 * *cap : 64;
	if (!(nv = realloc(*v, (size_t)nc * elem)))
		return false;
	*v = nv;
	*cap = nc;
	return true;
}

static void note_lai(keel_coord_t *c, int32_t broker, const char *topic, int32_t p)
{
	ctl_pending_t *q = &c->pend;
	if (!grow((void **)&q->lai, &q->cap_lai, q->nlai, sizeof(*q->lai)))
		return;
	if (!(q->lai[q->nlai].topic = strdup(topic)))
		return;
	q->lai[q->nlai].broker = broker;
	q->lai[q->nlai].partition = p;
	q->nlai++;
}

static void note_um(keel_coord_t *c, const char *topic, int32_t p)
{
	ctl_pending_t *q = &c->pend;
	if (!grow((void **)&q->um, &q->cap_um, q->num, sizeof(*q->um)))
		return;
	if (!(q->um[q->num].topic = strdup(topic)))
		return;
	q->um[q->num].partition = p;
	q->num++;
}

void ctl_note_state(keel_coord_t *c, const coord_topic_t *t, int32_t p)
{
	if (!c->is_controller)
		return;
	for (int32_t i = 0; i < t->assign.nreplicas[p]; i++)
		if (coord_broker_live(c, t->assign.replicas[p][i]))
			note_lai(c, t->assign.replicas[p][i], t->name, p);
	note_um(c, t->name, p);
}

void ctl_note_isr(keel_coord_t *c, const char *topic, int32_t p)
{
	if (c->is_controller)
		note_um(c, topic, p);
}

static void note_full(keel_coord_t *c, int32_t broker)
{
	ctl_pending_t *q = &c->pend;
	for (int i = 0; i < q->nfull; i++)
		if (q->full[i] == broker)
			return;
	if (grow((void **)&q->full, &q->cap_full, q->nfull, sizeof(*q->full)))
		q->full[q->nfull++] = broker;
}

void ctl_note_broker_startup(keel_coord_t *c, int32_t broker)
{
	if (!c->is_controller)
		return;
	c->pend.brokers_changed = true; /* the others learn of it */
	note_full(c, broker);           /* it learns everything */
	for (int i = 0; i < c->ntopics; i++) {
		const coord_topic_t *t = &c->topics[i];
		for (int32_t p = 0; t->loaded && !t->deleting && p < t->assign.npartitions; p++)
			for (int32_t k = 0; t->states[p].present && k < t->assign.nreplicas[p]; k++)
				if (t->assign.replicas[p][k] == broker)
					note_lai(c, broker, t->name, p);
	}
}

void ctl_note_brokers_changed(keel_coord_t *c)
{
	if (c->is_controller)
		c->pend.brokers_changed = true;
}

void ctl_note_failover(keel_coord_t *c)
{
	for (int i = 0; i < c->nbrokers; i++)
		ctl_note_broker_startup(c, c->brokers[i].id);
}

static void pending_clear(ctl_pending_t *q)
{
	for (int i = 0; i < q->nlai; i++)
		free(q->lai[i].topic);
	for (int i = 0; i < q->num; i++)
		free(q->um[i].topic);
	free(q->lai);
	free(q->um);
	free(q->full);
	memset(q, 0, sizeof(*q));
}

void ctl_send_reset(keel_coord_t *c)
{
	pending_clear(&c->pend);
	keel_mq_post(c->to_loop, KEEL_MSG_CTL_RESET, NULL);
}

/* ================================================================ encoding */

static const coord_broker_t *broker_of(const keel_coord_t *c, int32_t id)
{
	for (int i = 0; i < c->nbrokers; i++)
		if (c->brokers[i].id == id)
			return &c->brokers[i];
	return NULL;
}

/* Post body (flexible) to broker b; takes the writer's buffer. Returns the send id, 0 if
 * nothing was posted. */
static uint64_t post(keel_coord_t *c, const coord_broker_t *b, int16_t api, int16_t version, kw_t *w)
{
	keel_ctl_send_t *s = w->oom ? NULL : calloc(1, sizeof(*s));
	if (!s || !(s->host = strdup(b->host ? b->host : ""))) {
		free(s);
		kw_free(w);
		return 0;
	}
	s->id = ++c->ctl_next_send_id;
	s->broker = b->id;
	s->broker_epoch = b->czxid;
	s->port = b->port;
	s->controller_epoch = c->epoch;
	s->api_key = api;
	s->api_version = version;
	s->flex = true;
	s->body = w->buf;
	s->len = w->len;
	w->buf = NULL;
	keel_mq_post(c->to_loop, KEEL_MSG_CTL_SEND, s); /* the loop's now: s may be gone */
	return c->ctl_next_send_id;
}

/* The fields every controller request starts with. */
static void begin(const keel_coord_t *c, kw_t *w, const coord_broker_t *to)
{
	kw_init(w, 1024, true);
	kw_i32(w, c->broker_id);
	kw_i32(w, c->epoch);
	kw_i64(w, to->czxid);
}

static const int32_t *list_of(int32_t *const *v, const int32_t *n, int32_t p, int32_t *count)
{
	*count = n ? n[p] : 0;
	return v && *count ? v[p] : NULL;
}

/* One LeaderAndIsr partition state (v4: with adding/removing replicas and is_new). */
static void write_lai_partition(const keel_coord_t *c, kw_t *w, const coord_topic_t *t, int32_t p)
{
	const zkj_state_t *s = &t->states[p].st;
	const int32_t *v;
	int32_t n;
	kw_i32(w, p);
	kw_i32(w, s->controller_epoch);
	kw_i32(w, s->leader);
	kw_i32(w, s->leader_epoch);
	kw_i32s(w, s->nisr, s->isr);
	kw_i32(w, t->states[p].zk_version);
	kw_i32s(w, t->assign.nreplicas[p], t->assign.replicas[p]);
	v = list_of(t->assign.adding, t->assign.nadding, p, &n);
	kw_i32s(w, n, v);
	v = list_of(t->assign.removing, t->assign.nremoving, p, &n);
	kw_i32s(w, n, v);
	kw_bool(w, s->leader_epoch == 0); /* is_new: a partition's first leadership */
	kw_tags(w);
	(void)c;
}

typedef struct {
	int32_t broker;
	const char *topic;
	int32_t partition;
} tp_ref_t;

static int ref_cmp(const void *x, const void *y)
{
	const tp_ref_t *a = x, *b = y;
	int d;
	if (a->broker != b->broker)
		return (a->broker > b->broker) - (a->broker < b->broker);
	if ((d = strcmp(a->topic, b->topic)))
		return d;
	return (a->partition > b->partition) - (a->partition < b->partition);
}

/* The live partitions of refs[0..n) (one broker, sorted, deduplicated), grouped by topic. */
static int32_t write_topic_states(const keel_coord_t *c, kw_t *w, const tp_ref_t *refs, int n,
				  bool lai, int32_t *leaders, int32_t *nleaders)
{
	int32_t ntopics = 0, total = 0;
	/* compact arrays need their count first: count the topics that will be written */
	for (int i = 0, j; i < n; i = j) {
		coord_topic_t *t = coord_topic_find((keel_coord_t *)c, refs[i].topic);
		for (j = i; j < n && !strcmp(refs[j].topic, refs[i].topic); j++)
			;
		ntopics += t && t->loaded;
	}
	kw_array(w, ntopics);
	for (int i = 0, j; i < n; i = j) {
		coord_topic_t *t = coord_topic_find((keel_coord_t *)c, refs[i].topic);
		int32_t np = 0;
		for (j = i; j < n && !strcmp(refs[j].topic, refs[i].topic); j++)
			np += t && t->loaded && refs[j].partition < t->assign.npartitions &&
			      t->states[refs[j].partition].present;
		if (!t || !t->loaded)
			continue;
		kw_str(w, t->name);
		kw_array(w, np);
		for (int k = i; k < j; k++) {
			int32_t p = refs[k].partition;
			const zkj_state_t *s;
			if (p >= t->assign.npartitions || !t->states[p].present)
				continue;
			s = &t->states[p].st;
			total++;
			if (lai) {
				write_lai_partition(c, w, t, p);
				if (s->leader >= 0 && coord_broker_live(c, s->leader)) {
					bool seen = false;
					for (int32_t x = 0; x < *nleaders && !seen; x++)
						seen = leaders[x] == s->leader;
					if (!seen && *nleaders < c->nbrokers)
						leaders[(*nleaders)++] = s->leader;
				}
				continue;
			}
			/* UpdateMetadata v6 partition state */
			kw_i32(w, p);
			kw_i32(w, s->controller_epoch);
			kw_i32(w, t->deleting ? EPOCH_DURING_DELETE : s->leader);
			kw_i32(w, s->leader_epoch);
			kw_i32s(w, s->nisr, s->isr);
			kw_i32(w, t->states[p].zk_version);
			kw_i32s(w, t->assign.nreplicas[p], t->assign.replicas[p]);
			int32_t noff = 0, off[2 * KEEL_MAX_REPLICAS];
			for (int32_t r = 0; r < t->assign.nreplicas[p] && noff < (int32_t)KEEL_ARRAY_LEN(off); r++)
				if (!coord_broker_live(c, t->assign.replicas[p][r]))
					off[noff++] = t->assign.replicas[p][r];
			kw_i32s(w, noff, off);
			kw_tags(w);
		}
		kw_tags(w);
	}
	return total;
}

static void send_lai(keel_coord_t *c, const coord_broker_t *to, const tp_ref_t *refs, int n)
{
	int32_t *leaders = calloc((size_t)c->nbrokers + 1, sizeof(*leaders)), nleaders = 0;
	kw_t w;
	if (!leaders)
		return;
	begin(c, &w, to);
	if (write_topic_states(c, &w, refs, n, true, leaders, &nleaders) > 0) {
		kw_array(&w, nleaders);
		for (int32_t i = 0; i < nleaders; i++) {
			const coord_broker_t *b = broker_of(c, leaders[i]);
			kw_i32(&w, leaders[i]);
			kw_str(&w, b && b->host ? b->host : "");
			kw_i32(&w, b ? b->port : -1);
			kw_tags(&w);
		}
		kw_tags(&w);
		post(c, to, 4, LAI_VERSION, &w);
	}
	kw_free(&w);
	free(leaders);
}

/* Kafka's SecurityProtocol ids. */
static int16_t protocol_id(const char *name)
{
	static const char *const ids[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };
	for (int16_t i = 0; i < 4; i++)
		if (name && !strcmp(name, ids[i]))
			return i;
	return 0;
}

static void write_live_brokers(const keel_coord_t *c, kw_t *w)
{
	kw_array(w, c->nbrokers);
	for (int i = 0; i < c->nbrokers; i++) {
		const coord_broker_t *b = &c->brokers[i];
		kw_i32(w, b->id);
		kw_array(w, b->nendpoints); /* every listener it advertises */
		for (int k = 0; k < b->nendpoints; k++) {
			kw_i32(w, b->endpoints[k].port);
			kw_str(w, b->endpoints[k].host);
			kw_str(w, b->endpoints[k].name);
			kw_i16(w, protocol_id(b->endpoints[k].protocol));
			kw_tags(w);
		}
		kw_str(w, b->rack);
		kw_tags(w);
	}
}

static void send_um(keel_coord_t *c, const coord_broker_t *to, const tp_ref_t *refs, int n)
{
	kw_t w;
	begin(c, &w, to);
	write_topic_states(c, &w, refs, n, false, NULL, NULL);
	write_live_brokers(c, &w);
	kw_tags(&w);
	post(c, to, 6, UM_VERSION, &w);
	kw_free(&w);
}

/* Every partition of every loaded topic, for broker id (a full UpdateMetadata). */
static tp_ref_t *all_partitions(const keel_coord_t *c, int32_t id, int *n)
{
	int total = 0, k = 0;
	tp_ref_t *v;
	for (int i = 0; i < c->ntopics; i++)
		total += c->topics[i].loaded ? c->topics[i].assign.npartitions : 0;
	v = calloc((size_t)total + 1, sizeof(*v));
	for (int i = 0; v && i < c->ntopics; i++)
		for (int32_t p = 0; c->topics[i].loaded && p < c->topics[i].assign.npartitions; p++)
			v[k++] = (tp_ref_t){ id, c->topics[i].name, p };
	*n = k;
	return v;
}

static int dedupe(tp_ref_t *v, int n)
{
	int k = 0;
	keel_qsort(v, (size_t)n, sizeof(*v), ref_cmp);
	for (int i = 0; i < n; i++)
		if (k == 0 || ref_cmp(&v[k - 1], &v[i]))
			v[k++] = v[i];
	return k;
}

void ctl_send_flush(keel_coord_t *c)
{
	ctl_pending_t *q = &c->pend;
	tp_ref_t *v;
	int n;
	if (!c->is_controller) {
		pending_clear(q);
		return;
	}
	if (!q->nlai && !q->num && !q->nfull && !q->brokers_changed)
		return;
	/* LeaderAndIsr, per broker */
	v = calloc((size_t)q->nlai + 1, sizeof(*v));
	for (int i = 0; v && i < q->nlai; i++)
		v[i] = (tp_ref_t){ q->lai[i].broker, q->lai[i].topic, q->lai[i].partition };
	n = v ? dedupe(v, q->nlai) : 0;
	for (int i = 0, j; i < n; i = j) {
		const coord_broker_t *b = broker_of(c, v[i].broker);
		for (j = i; j < n && v[j].broker == v[i].broker; j++)
			;
		if (b)
			send_lai(c, b, v + i, j - i);
	}
	free(v);
	/* UpdateMetadata to every live broker: everything for the ones that need it, else the
	 * changed partitions (the broker list always) */
	v = calloc((size_t)q->num + 1, sizeof(*v));
	for (int i = 0; v && i < q->num; i++)
		v[i] = (tp_ref_t){ 0, q->um[i].topic, q->um[i].partition };
	n = v ? dedupe(v, q->num) : 0;
	for (int i = 0; v && i < c->nbrokers; i++) {
		const coord_broker_t *b = &c->brokers[i];
		bool full = false;
		for (int k = 0; k < q->nfull && !full; k++)
			full = q->full[k] == b->id;
		if (full) {
			int na;
			tp_ref_t *all = all_partitions(c, b->id, &na);
			if (all)
				send_um(c, b, all, na);
			free(all);
		} else if (n || q->brokers_changed) {
			send_um(c, b, v, n);
		}
	}
	free(v);
	pending_clear(q);
}

/* ================================================================ StopReplica */

uint64_t ctl_send_stop_replica(keel_coord_t *c, int32_t broker, const char *topic,
			       const int32_t *parts, int n)
{
	const coord_broker_t *b = broker_of(c, broker);
	uint64_t id;
	kw_t w;
	if (!b || !c->is_controller)
		return 0;
	begin(c, &w, b);
	kw_array(&w, 1);
	kw_str(&w, topic);
	kw_array(&w, n);
	for (int i = 0; i < n; i++) {
		kw_i32(&w, parts[i]);
		kw_i32(&w, EPOCH_DURING_DELETE);
		kw_bool(&w, true);
		kw_tags(&w);
	}
	kw_tags(&w);
	kw_tags(&w);
	id = post(c, b, 5, STOP_VERSION, &w);
	kw_free(&w);
	return id;
}

/* ================================================================ answers */

/* StopReplica v3 response: error_code, partition_errors [topic_name, partition_index,
 * error_code, tags], tags. */
static void on_stop_replica(keel_coord_t *c, const keel_cmd_t *cmd)
{
	kr_t r;
	int16_t top;
	int32_t n;
	kr_init(&r, cmd->ctl_body, cmd->ctl_len, true);
	top = kr_i16(&r);
	n = kr_array(&r, 7);
	for (int32_t i = 0; i < n && kr_ok(&r); i++) {
		char topic[256];
		int32_t p;
		int16_t err;
		bool name_ok = kr_str_buf(&r, topic, sizeof(topic));
		p = kr_i32(&r);
		err = kr_i16(&r);
		kr_tags(&r);
		if (kr_ok(&r) && name_ok && top == KERR_NONE)
			ctl_delete_ack(c, cmd->ctl_broker, topic, p, err);
	}
	if (top != KERR_NONE || !kr_ok(&r))
		klog_warn(COORD_LOG, "controller %d: StopReplica to broker %d: error %d%s", c->broker_id,
			  cmd->ctl_broker, top, kr_ok(&r) ? "" : " (malformed response)");
}

/* LeaderAndIsr v4 (partition errors) and UpdateMetadata v6 (error only): logged; the state
 * itself is in ZooKeeper, which the brokers also watch. */
static void on_other(keel_coord_t *c, const keel_cmd_t *cmd)
{
	kr_t r;
	int16_t top;
	kr_init(&r, cmd->ctl_body, cmd->ctl_len, true);
	top = kr_i16(&r);
	if (top != KERR_NONE)
		klog_info(COORD_LOG, "controller %d: %s to broker %d: error %d", c->broker_id,
			  cmd->ctl_api_key == 4 ? "LeaderAndIsr" : "UpdateMetadata", cmd->ctl_broker, top);
}

void ctl_on_response(keel_coord_t *c, keel_cmd_t *cmd)
{
	if (c->is_controller && cmd->ctl_controller_epoch == c->epoch) {
		if (cmd->ctl_api_key == 5)
			on_stop_replica(c, cmd);
		else
			on_other(c, cmd);
	}
	keel_cmd_free(cmd);
}
