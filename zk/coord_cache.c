/* zk/coord_cache.c: the coordination thread's caches of what ZooKeeper holds (brokers with their
 * epochs, topics with assignments, states and configs, pending deletions), re-read on watches,
 * and the cluster view built from them for the event loop. Coordination thread only, except
 * the view functions, which the loop uses on its own copies. */
#include "coord_internal.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger.h"

void coord_topic_clear(coord_topic_t *t)
{
	for (int32_t p = 0; t->states && p < t->assign.npartitions; p++)
		zkj_state_free(&t->states[p].st);
	free(t->states);
	zkj_topic_free(&t->assign);
	zkj_config_free(t->nconfigs, t->config_keys, t->config_values);
	free(t->del);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

static void endpoints_free(int n, keel_endpoint_t *e)
{
	for (int i = 0; e && i < n; i++) {
		free(e[i].name);
		free(e[i].host);
		free(e[i].protocol);
	}
	free(e);
}

/* A copy of n endpoints from parallel arrays (protocols may be NULL); NULL if out of memory. */
static keel_endpoint_t *endpoints_dup(int n, char *const *names, char *const *hosts, const int32_t *ports,
				      char *const *protocols)
{
	keel_endpoint_t *e = calloc(n > 0 ? (size_t)n : 1, sizeof(*e));
	for (int i = 0; e && i < n; i++) {
		const char *proto = protocols && protocols[i] ? protocols[i] : "PLAINTEXT";
		e[i].port = ports[i];
		if (!(e[i].name = strdup(names[i] ? names[i] : "")) || !(e[i].host = strdup(hosts[i] ? hosts[i] : "")) ||
		    !(e[i].protocol = strdup(proto))) {
			endpoints_free(n, e);
			return NULL;
		}
	}
	return e;
}

void coord_clear_brokers(keel_coord_t *c)
{
	for (int i = 0; i < c->nbrokers; i++) {
		free(c->brokers[i].host);
		free(c->brokers[i].rack);
		endpoints_free(c->brokers[i].nendpoints, c->brokers[i].endpoints);
	}
	free(c->brokers);
	c->brokers = NULL;
	c->nbrokers = 0;
}

/* ================================================================ caches (coordination thread) */

static int broker_cmp(const void *a, const void *b)
{
	const coord_broker_t *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

bool coord_broker_live(const keel_coord_t *c, int32_t id)
{
	coord_broker_t key = { .id = id };
	if (c->nbrokers == 0)
		return false;
	return keel_bsearch(&key, c->brokers, (size_t)c->nbrokers, sizeof(key), broker_cmp) != NULL;
}

/* Read /brokers/ids/<id> (data watch) into *b. */
static int coord_read_broker(keel_coord_t *c, int32_t id, coord_broker_t *b)
{
	char path[64], *data = NULL;
	struct Stat st;
	zkj_broker_t zb;
	int len, rc;
	snprintf(path, sizeof(path), "/brokers/ids/%d", id);
	rc = zku_get(c->zh, path, 1, &data, &len, &st);
	if (rc != ZOK)
		return rc;
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->czxid = st.czxid;
	b->version = st.version;
	b->port = -1;
	if (data && zkj_broker_decode(data, len, &zb) == 0) {
		if (zb.nendpoints > 0) {
			b->endpoints = endpoints_dup(zb.nendpoints, zb.endpoint_names, zb.endpoint_hosts,
						     zb.endpoint_ports, zb.endpoint_protocols);
		} else if (zb.host) { /* a registration before endpoints (v1) */
			char *name = "PLAINTEXT";
			b->endpoints = endpoints_dup(1, &name, &zb.host, &zb.port, NULL);
		}
		b->nendpoints = b->endpoints ? (zb.nendpoints > 0 ? zb.nendpoints : 1) : 0;
		/* other brokers reach it on the inter-broker listener (Kafka's
		 * inter.broker.listener.name), else on its first endpoint */
		const keel_endpoint_t *ib = b->nendpoints ? &b->endpoints[0] : NULL;
		for (int i = 0; c->cfg.inter_broker_listener && i < b->nendpoints; i++)
			if (!strcmp(b->endpoints[i].name, c->cfg.inter_broker_listener))
				ib = &b->endpoints[i];
		if (ib) {
			b->host = strdup(ib->host);
			b->port = ib->port;
		}
		b->rack = zb.rack ? strdup(zb.rack) : NULL;
		zkj_broker_free(&zb);
	} else {
		klog_warn(COORD_LOG, "%s holds malformed JSON", path);
	}
	free(data);
	return ZOK;
}

/* Re-read the live brokers (children watch + a data watch on each). */
/* Controller: new and bounced brokers (a new czxid) start; missing ones died. */
static void coord_note_broker_changes(keel_coord_t *c, const coord_broker_t *nb, int n)
{
	for (int i = 0; c->is_controller && i < n; i++) {
		const coord_broker_t *old = NULL;
		for (int k = 0; k < c->nbrokers && !old; k++)
			if (c->brokers[k].id == nb[i].id)
				old = &c->brokers[k];
		if (old && old->czxid != nb[i].czxid)
			ctl_note_broker_bounced(c, nb[i].id); /* died and came back between two looks */
		if (!old || old->czxid != nb[i].czxid)
			ctl_note_broker_startup(c, nb[i].id);
	}
	for (int k = 0; c->is_controller && k < c->nbrokers; k++) {
		bool found = false;
		for (int i = 0; i < n && !found; i++)
			found = nb[i].id == c->brokers[k].id;
		if (!found)
			ctl_note_brokers_changed(c);
	}
}

void coord_reload_brokers(keel_coord_t *c)
{
	struct String_vector kids;
	coord_broker_t *nb;
	int n = 0, rc = zku_children(c->zh, "/brokers/ids", 1, &kids);
	if (rc != ZOK) {
		coord_need_resync(c, "listing", "/brokers/ids", rc);
		return;
	}
	nb = calloc(kids.count ? (size_t)kids.count : 1, sizeof(*nb));
	for (int i = 0; nb && i < kids.count; i++) {
		char *end;
		long id = strtol(kids.data[i], &end, 10);
		if (*end || end == kids.data[i] || id < 0 || id > INT32_MAX)
			continue;
		rc = coord_read_broker(c, (int32_t)id, &nb[n]);
		if (rc == ZOK)
			n++;
		else if (rc != ZNONODE)
			coord_need_resync(c, "reading", "/brokers/ids/<id>", rc);
	}
	deallocate_String_vector(&kids);
	if (!nb)
		return;
	keel_qsort(nb, (size_t)n, sizeof(*nb), broker_cmp);
	bool same = n == c->nbrokers;
	for (int i = 0; same && i < n; i++)
		same = nb[i].id == c->brokers[i].id && nb[i].czxid == c->brokers[i].czxid &&
		       nb[i].version == c->brokers[i].version;
	coord_note_broker_changes(c, nb, n);
	coord_clear_brokers(c);
	c->brokers = nb;
	c->nbrokers = n;
	if (!same) {
		c->view_dirty = true;
		klog_info(COORD_LOG, "broker %d: %d live broker(s)", c->broker_id, n);
	}
}

static int topic_cmp(const void *a, const void *b)
{
	return strcmp(((const coord_topic_t *)a)->name, ((const coord_topic_t *)b)->name);
}

coord_topic_t *coord_topic_find(keel_coord_t *c, const char *name)
{
	coord_topic_t key = { .name = (char *)name };
	if (c->ntopics == 0)
		return NULL;
	return keel_bsearch(&key, c->topics, (size_t)c->ntopics, sizeof(key), topic_cmp);
}

static coord_topic_t *coord_topic_add(keel_coord_t *c, const char *name)
{
	coord_topic_t *nt = realloc(c->topics, (size_t)(c->ntopics + 1) * sizeof(*nt));
	if (!nt)
		return NULL;
	c->topics = nt;
	memset(&nt[c->ntopics], 0, sizeof(*nt));
	nt[c->ntopics].name = strdup(name);
	for (int i = 0; i < c->ndeletes && c->cfg.delete_topic_enable; i++)
		if (!strcmp(c->deletes[i], name))
			nt[c->ntopics].deleting = true;
	c->ntopics++;
	keel_qsort(c->topics, (size_t)c->ntopics, sizeof(*nt), topic_cmp);
	return coord_topic_find(c, name);
}

static void coord_topic_remove(keel_coord_t *c, coord_topic_t *t)
{
	size_t i = (size_t)(t - c->topics);
	klog_info(COORD_LOG, "broker %d: topic %s is gone", c->broker_id, t->name);
	coord_topic_clear(t);
	memmove(t, t + 1, (size_t)(c->ntopics - 1 - (int)i) * sizeof(*t));
	c->ntopics--;
	c->view_dirty = true;
}

/* Take what a read of partition p's state znode returned into the cache. */
static void coord_take_state(keel_coord_t *c, coord_topic_t *t, int32_t p, const char *path,
			     const char *data, int len, const struct Stat *st)
{
	coord_pstate_t *ps = &t->states[p];
	zkj_state_t s;
	if (ps->present && ps->zk_version == st->version && ps->czxid == st->czxid)
		return;
	if (!data || zkj_state_decode(data, len, &s) != 0) {
		klog_warn(COORD_LOG, "%s holds malformed JSON", path);
		return;
	}
	zkj_state_free(&ps->st);
	ps->st = s;
	ps->present = true;
	ps->zk_version = st->version;
	ps->czxid = st->czxid;
	c->view_dirty = true;
}

static void state_path(char *path, size_t len, const coord_topic_t *t, int32_t p)
{
	snprintf(path, len, "/brokers/topics/%s/partitions/%d/state", t->name, p);
}

/* The state znode is gone (or not made yet). */
static void coord_forget_state(keel_coord_t *c, coord_pstate_t *ps)
{
	if (ps->present)
		c->view_dirty = true;
	zkj_state_free(&ps->st);
	ps->present = false;
}

/* got[i].rc of a state created between its read and its exists (not a ZooKeeper code: those
 * are ZOK or negative) */
#define CREATED_SINCE 1

/* For the reads of zku_get_many that found no znode, set exists watches (pipelined too), so
 * that their creation is seen. got[i].rc stays ZNONODE if still missing, becomes
 * CREATED_SINCE if created in between (to be read again), or the error. */
static int coord_watch_missing(keel_coord_t *c, int n, char **paths, zku_got_t *got)
{
	int nm = 0, rc;
	const char **missing = calloc(n > 0 ? (size_t)n : 1, sizeof(*missing));
	zku_got_t *ex = calloc(n > 0 ? (size_t)n : 1, sizeof(*ex));
	if (!missing || !ex) {
		free(missing);
		free(ex);
		return ZSYSTEMERROR;
	}
	for (int i = 0; i < n; i++)
		if (got[i].rc == ZNONODE)
			missing[nm++] = paths[i];
	rc = nm ? zku_exists_many(c->zh, nm, missing, 1, c->cfg.max_in_flight, ex) : ZOK;
	for (int i = 0, k = 0; rc == ZOK && i < n; i++)
		if (got[i].rc == ZNONODE && (got[i].rc = ex[k++].rc) == ZOK)
			got[i].rc = CREATED_SINCE;
	free(missing);
	free(ex);
	return rc;
}

/* Re-read one partition's state znode (data watch, or an exists watch while missing).
 * Returns the ZK code (ZNONODE: it is gone; other errors schedule a resync). */
int coord_reload_state(keel_coord_t *c, coord_topic_t *t, int32_t p)
{
	char path[512], *data = NULL;
	struct Stat st;
	coord_pstate_t *ps = &t->states[p];
	int len, rc;
	state_path(path, sizeof(path), t, p);
	rc = zku_get(c->zh, path, 1, &data, &len, &st);
	if (rc == ZNONODE && (rc = zku_exists(c->zh, path, 1, NULL)) == ZOK)
		rc = zku_get(c->zh, path, 1, &data, &len, &st);
	if (rc == ZNONODE) {
		coord_forget_state(c, ps);
		return rc;
	}
	if (rc != ZOK) {
		coord_need_resync(c, "reading", path, rc);
		return rc;
	}
	coord_take_state(c, t, p, path, data, len, &st);
	free(data);
	return ZOK;
}

/* Re-read the state znodes of n partitions of t at once (pipelined; parts NULL: partitions 0
 * to n-1); a missing one goes the way of coord_reload_state (exists watch). Returns ZOK, or
 * the first failure (ZNONODE is none: the state is just gone). */
int coord_reload_states(keel_coord_t *c, coord_topic_t *t, const int32_t *parts, int n)
{
#define PART(i) (parts ? parts[i] : (int32_t)(i))
	int first = ZOK;
	char **paths = calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
	zku_got_t *got = calloc(n > 0 ? (size_t)n : 1, sizeof(*got));
	bool ok = paths && got;
	for (int i = 0; ok && i < n; i++) {
		char path[512];
		state_path(path, sizeof(path), t, PART(i));
		ok = (paths[i] = strdup(path)) != NULL;
	}
	if (ok)
		ok = zku_get_many(c->zh, n, (const char *const *)paths, 1, c->cfg.max_in_flight, got) == ZOK;
	if (ok)
		ok = coord_watch_missing(c, n, paths, got) == ZOK;
	for (int i = 0; i < n; i++) {
		int rc;
		if (!ok || got[i].rc == CREATED_SINCE) /* the slow way; or created since: read it */
			rc = coord_reload_state(c, t, PART(i));
		else if ((rc = got[i].rc) == ZOK)
			coord_take_state(c, t, PART(i), paths[i], got[i].data, got[i].len, &got[i].stat);
		else if (rc == ZNONODE)
			coord_forget_state(c, &t->states[PART(i)]);
		else
			coord_need_resync(c, "reading", paths[i], rc);
		if (got)
			free(got[i].data);
		if (rc != ZOK && rc != ZNONODE && first == ZOK)
			first = rc;
	}
	for (int i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	free(got);
	return first;
#undef PART
}

/* Re-read /config/topics/<t> (data watch, or an exists watch while missing). */
void coord_reload_config(keel_coord_t *c, coord_topic_t *t)
{
	char path[512], *data = NULL, **k = NULL, **v = NULL;
	int len, n = 0, rc;
	snprintf(path, sizeof(path), "/config/topics/%s", t->name);
	rc = zku_get(c->zh, path, 1, &data, &len, NULL);
	if (rc == ZNONODE && (rc = zku_exists(c->zh, path, 1, NULL)) == ZOK)
		rc = zku_get(c->zh, path, 1, &data, &len, NULL);
	if (rc != ZOK && rc != ZNONODE) {
		coord_need_resync(c, "reading", path, rc);
		return;
	}
	if (data && zkj_config_decode(data, len, &n, &k, &v)) {
		klog_warn(COORD_LOG, "%s holds malformed JSON", path);
		n = 0;
		k = v = NULL;
	}
	free(data);
	/* a value Kafka would refuse (written there by hand or by an older tool) is not used:
	 * the broker's default applies, as if the key were absent */
	int kept = 0;
	for (int i = 0; i < n; i++) {
		char err[256];
		if (keel_topic_config_check(k[i], v[i], err, sizeof(err)) != 0) {
			klog_warn(COORD_LOG, "%s: %s; ignoring it", path, err);
			free(k[i]);
			free(v[i]);
			continue;
		}
		k[kept] = k[i];
		v[kept++] = v[i];
	}
	n = kept;
	zkj_config_free(t->nconfigs, t->config_keys, t->config_values);
	t->nconfigs = n;
	t->config_keys = k;
	t->config_values = v;
	c->view_dirty = true;
}

/* Read /brokers/topics/<t> into t; returns the ZK code. */
static int coord_read_assignment(keel_coord_t *c, coord_topic_t *t, const char *path)
{
	char *data = NULL;
	struct Stat st;
	zkj_topic_t a;
	int len, rc = zku_get(c->zh, path, 1, &data, &len, &st);
	if (rc != ZOK || (t->loaded && st.version == t->data_version && st.czxid == t->data_czxid)) {
		free(data);
		return rc;
	}
	if (t->loaded && st.czxid != t->data_czxid) { /* deleted and created again meanwhile */
		klog_info(COORD_LOG, "broker %d: topic %s was created again", c->broker_id, t->name);
		for (int32_t p = 0; t->states && p < t->assign.npartitions; p++) {
			zkj_state_free(&t->states[p].st);
			memset(&t->states[p], 0, sizeof(t->states[p]));
		}
	}
	if (!data || zkj_topic_decode(data, len, &a)) {
		klog_warn(COORD_LOG, "%s holds malformed JSON", path);
		free(data);
		return ZOK;
	}
	free(data);
	coord_pstate_t *ns = calloc(a.npartitions ? (size_t)a.npartitions : 1, sizeof(*ns));
	if (!ns) {
		zkj_topic_free(&a);
		return ZSYSTEMERROR;
	}
	for (int32_t p = 0; t->states && p < t->assign.npartitions; p++) {
		if (p < a.npartitions)
			ns[p] = t->states[p];
		else
			zkj_state_free(&t->states[p].st);
	}
	free(t->states);
	zkj_topic_free(&t->assign);
	t->assign = a;
	t->states = ns;
	t->loaded = true;
	t->data_version = st.version;
	t->data_czxid = st.czxid;
	c->view_dirty = true;
	return ZOK;
}

void coord_reload_topic(keel_coord_t *c, const char *name)
{
	char path[512];
	coord_topic_t *t = coord_topic_find(c, name);
	int rc;
	snprintf(path, sizeof(path), "/brokers/topics/%s", name);
	if (!t && !(t = coord_topic_add(c, name)))
		return;
	rc = coord_read_assignment(c, t, path);
	if (rc == ZNONODE) {
		coord_topic_remove(c, t);
		return;
	}
	if (rc != ZOK) {
		coord_need_resync(c, "reading", path, rc);
		return;
	}
	if (t->loaded)
		coord_reload_states(c, t, NULL, t->assign.npartitions);
	coord_reload_config(c, t);
}

void coord_reload_topic_list(keel_coord_t *c)
{
	struct String_vector kids;
	int rc = zku_children(c->zh, "/brokers/topics", 1, &kids);
	if (rc != ZOK) {
		coord_need_resync(c, "listing", "/brokers/topics", rc);
		return;
	}
	for (int i = 0; i < c->ntopics;) { /* drop the ones that are gone */
		bool found = false;
		for (int k = 0; k < kids.count && !found; k++)
			found = !strcmp(kids.data[k], c->topics[i].name);
		if (found)
			i++;
		else
			coord_topic_remove(c, &c->topics[i]);
	}
	for (int k = 0; k < kids.count; k++)
		if (!coord_topic_find(c, kids.data[k]))
			coord_reload_topic(c, kids.data[k]);
	deallocate_String_vector(&kids);
}

void coord_reload_deletes(keel_coord_t *c)
{
	struct String_vector kids;
	int rc = zku_children(c->zh, "/admin/delete_topics", 1, &kids);
	if (rc != ZOK) {
		coord_need_resync(c, "listing", "/admin/delete_topics", rc);
		return;
	}
	coord_strv_free(c->ndeletes, c->deletes);
	c->deletes = coord_strv_dup(kids.count, (const char *const *)kids.data);
	c->ndeletes = c->deletes ? kids.count : 0;
	for (int i = 0; i < c->ntopics; i++) {
		bool del = false;
		/* with deletion disabled the controller drops the request: nothing is deleting
		 * (delete.topic.enable is a cluster-wide setting, as in Kafka) */
		for (int k = 0; k < c->ndeletes && !del && c->cfg.delete_topic_enable; k++)
			del = !strcmp(c->deletes[k], c->topics[i].name);
		if (del != c->topics[i].deleting)
			c->view_dirty = true;
		c->topics[i].deleting = del;
	}
	deallocate_String_vector(&kids);
}

/* ================================================================ the view */

static int32_t *dup_i32(int32_t n, const int32_t *v)
{
	int32_t *o = malloc(n > 0 ? (size_t)n * sizeof(*o) : 1);
	if (o && n > 0)
		memcpy(o, v, (size_t)n * sizeof(*o));
	return o;
}

static void view_topic_fill(keel_view_topic_t *vt, const coord_topic_t *t)
{
	vt->name = strdup(t->name);
	memcpy(vt->topic_id, t->assign.topic_id, sizeof(vt->topic_id));
	vt->deleting = t->deleting;
	vt->npartitions = t->assign.npartitions;
	vt->partitions = calloc(vt->npartitions ? (size_t)vt->npartitions : 1,
				sizeof(*vt->partitions));
	for (int32_t p = 0; vt->partitions && p < vt->npartitions; p++) {
		keel_view_partition_t *vp = &vt->partitions[p];
		const coord_pstate_t *ps = &t->states[p];
		vp->partition = p;
		vp->nreplicas = t->assign.nreplicas[p];
		vp->replicas = dup_i32(vp->nreplicas, t->assign.replicas[p]);
		vp->leader = ps->present ? ps->st.leader : -1;
		vp->leader_epoch = ps->present ? ps->st.leader_epoch : -1;
		vp->zk_version = ps->present ? ps->zk_version : -1;
		vp->nisr = ps->present ? ps->st.nisr : 0;
		vp->isr = dup_i32(vp->nisr, ps->st.isr);
	}
	vt->nconfigs = t->nconfigs;
	vt->config_keys = coord_strv_dup(t->nconfigs, (const char *const *)t->config_keys);
	vt->config_values = coord_strv_dup(t->nconfigs, (const char *const *)t->config_values);
}

/* Snapshot the caches; the result belongs to whoever receives it. */
static keel_view_t *coord_build_view(const keel_coord_t *c)
{
	keel_view_t *v = calloc(1, sizeof(*v));
	int nt = 0;
	if (!v)
		return NULL;
	v->cluster_id = strdup(c->cluster_id);
	v->controller_id = c->controller_id;
	v->controller_epoch = c->controller_epoch;
	v->brokers = calloc(c->nbrokers ? (size_t)c->nbrokers : 1, sizeof(*v->brokers));
	v->topics = calloc(c->ntopics ? (size_t)c->ntopics : 1, sizeof(*v->topics));
	if (!v->brokers || !v->topics) {
		keel_view_free(v);
		return NULL;
	}
	v->nbrokers = c->nbrokers;
	for (int i = 0; i < c->nbrokers; i++) {
		const coord_broker_t *b = &c->brokers[i];
		v->brokers[i].id = b->id;
		v->brokers[i].host = strdup(b->host ? b->host : "");
		v->brokers[i].port = b->port;
		v->brokers[i].rack = b->rack ? strdup(b->rack) : NULL;
		v->brokers[i].epoch = b->czxid;
		if (b->nendpoints) {
			char *names[b->nendpoints], *hosts[b->nendpoints], *protos[b->nendpoints];
			int32_t ports[b->nendpoints];
			for (int k = 0; k < b->nendpoints; k++) {
				names[k] = b->endpoints[k].name;
				hosts[k] = b->endpoints[k].host;
				ports[k] = b->endpoints[k].port;
				protos[k] = b->endpoints[k].protocol;
			}
			v->brokers[i].endpoints = endpoints_dup(b->nendpoints, names, hosts, ports, protos);
			v->brokers[i].nendpoints = v->brokers[i].endpoints ? b->nendpoints : 0;
		}
	}
	for (int i = 0; i < c->ntopics; i++)
		if (c->topics[i].loaded)
			view_topic_fill(&v->topics[nt++], &c->topics[i]);
	v->ntopics = nt;
	return v;
}

void coord_post_view_if_dirty(keel_coord_t *c)
{
	keel_view_t *v;
	if (!c->view_dirty)
		return;
	v = coord_build_view(c);
	if (!v)
		return; /* stays dirty: retried next turn */
	c->view_dirty = false;
	klog_debug(COORD_LOG, "broker %d: posting a view: controller %d epoch %d, %d brokers, "
		   "%d topics", c->broker_id, v->controller_id, v->controller_epoch, v->nbrokers,
		   v->ntopics);
	keel_mq_post(c->to_loop, KEEL_MSG_VIEW, v);
}

void keel_view_free(keel_view_t *v)
{
	if (!v)
		return;
	for (int32_t i = 0; v->brokers && i < v->nbrokers; i++) {
		free(v->brokers[i].host);
		free(v->brokers[i].rack);
		endpoints_free(v->brokers[i].nendpoints, v->brokers[i].endpoints);
	}
	for (int32_t i = 0; v->topics && i < v->ntopics; i++) {
		keel_view_topic_t *t = &v->topics[i];
		for (int32_t p = 0; t->partitions && p < t->npartitions; p++) {
			free(t->partitions[p].replicas);
			free(t->partitions[p].isr);
		}
		free(t->partitions);
		coord_strv_free(t->nconfigs, t->config_keys);
		coord_strv_free(t->nconfigs, t->config_values);
		free(t->name);
	}
	free(v->brokers);
	free(v->topics);
	free(v->cluster_id);
	free(v);
}

static int view_topic_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const keel_view_topic_t *)e)->name);
}

const keel_view_topic_t *keel_view_topic(const keel_view_t *v, const char *name)
{
	if (!v || !name || v->ntopics <= 0)
		return NULL;
	return keel_bsearch(name, v->topics, (size_t)v->ntopics, sizeof(*v->topics), view_topic_cmp);
}

const keel_endpoint_t *keel_view_endpoint(const keel_view_broker_t *br, const char *listener)
{
	for (int i = 0; br && listener && i < br->nendpoints; i++)
		if (!strcmp(br->endpoints[i].name, listener))
			return &br->endpoints[i];
	return NULL;
}

const keel_view_broker_t *keel_view_broker(const keel_view_t *v, int32_t id)
{
	int32_t lo = 0, hi = v ? v->nbrokers - 1 : -1;
	while (lo <= hi) {
		int32_t mid = lo + (hi - lo) / 2;
		if (v->brokers[mid].id == id)
			return &v->brokers[mid];
		if (v->brokers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}
