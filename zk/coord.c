/* zk/coord.c: the coordination thread: ZooKeeper session, broker registration, controller
 * election, watch dispatch and the thread's loop. The caches of /brokers and /admin and the
 * cluster view are in coord_cache.c; controller duties in controller*.c. */
#include "coord_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "logger.h"

static const char *const base_paths[] = {
	"/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/changes",
	"/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips",
	"/admin/delete_topics", "/isr_change_notification", "/latest_producer_id_block",
	"/log_dir_event_notification", "/cluster",
};

/* ================================================================ small helpers */

static void coord_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

char **coord_strv_dup(int n, const char *const *v)
{
	char **out = calloc(n ? (size_t)n : 1, sizeof(char *));
	for (int i = 0; out && v && i < n; i++)
		out[i] = v[i] ? strdup(v[i]) : NULL;
	return out;
}

void coord_strv_free(int n, char **v)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Coordination thread. */
void coord_need_resync(keel_coord_t *c, const char *what, const char *path, int rc)
{
	klog_warn(COORD_LOG, "broker %d: %s %s failed: %s; retrying in %d ms", c->broker_id, what,
		  path, zerror(rc), COORD_RETRY_MS);
	if (!c->resync) {
		c->resync = true;
		c->resync_at = keel_mono_ms() + COORD_RETRY_MS;
	}
}

/* ================================================================ watcher (ZK client thread) */

/* Runs on the ZooKeeper client's completion thread: copy the event and hand it over. */
static void coord_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	coord_zctx_t *zc = ctx;
	size_t len = path ? strlen(path) : 0;
	coord_zev_t *ev = malloc(sizeof(*ev) + len + 1);
	if (!zc || !ev) {
		free(ev);
		return;
	}
	ev->gen = zc->gen;
	ev->type = type;
	ev->state = state;
	memcpy(ev->path, path ? path : "", len + 1);
	keel_mq_post(zc->c->events, type == ZOO_SESSION_EVENT ? COORD_EV_SESSION : COORD_EV_WATCH,
		     ev);
}

/* Any thread that owns the handle (start-up, then the coordination thread). */
static int coord_connect(keel_coord_t *c, char *err, size_t errlen)
{
	coord_zctx_t *zc = calloc(1, sizeof(*zc));
	if (!zc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	zc->c = c;
	zc->gen = ++c->gen;
	c->zh = zku_connect(c->zk_connect, c->cfg.session_timeout_ms, c->cfg.connection_timeout_ms,
			    coord_watcher, zc, err, errlen);
	if (!c->zh) {
		free(zc);
		return -1;
	}
	c->zctx = zc;
	c->expired = false;
	klog_info(COORD_LOG, "broker %d: connected to ZooKeeper %s, session 0x%" PRIx64
		  ", timeout %d ms", c->broker_id, c->zk_connect,
		  (uint64_t)zoo_client_id(c->zh)->client_id, zoo_recv_timeout(c->zh));
	return 0;
}

static void coord_disconnect(keel_coord_t *c)
{
	if (c->zh)
		zookeeper_close(c->zh); /* no callbacks after this returns */
	c->zh = NULL;
	free(c->zctx);
	c->zctx = NULL;
}

/* ================================================================ lifecycle */

keel_coord_t *keel_coord_new(const keel_coord_config_t *cfg, keel_mq_t *to_loop)
{
	keel_coord_t *c = calloc(1, sizeof(*c));
	uint32_t seed = 0;
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->zk_connect = strdup(cfg->zk_connect ? cfg->zk_connect : "127.0.0.1:2181");
	c->rack = cfg->rack ? strdup(cfg->rack) : NULL;
	c->inter_broker_listener = cfg->inter_broker_listener ? strdup(cfg->inter_broker_listener) : NULL;
	c->cluster_id_hint = cfg->cluster_id_hint ? strdup(cfg->cluster_id_hint) : NULL;
	c->ep_names = coord_strv_dup(cfg->nendpoints, cfg->endpoint_names);
	c->ep_hosts = coord_strv_dup(cfg->nendpoints, cfg->endpoint_hosts);
	c->ep_protos = coord_strv_dup(cfg->nendpoints, cfg->endpoint_protocols);
	c->ep_ports = calloc(cfg->nendpoints ? (size_t)cfg->nendpoints : 1, sizeof(int32_t));
	c->events = keel_mq_new();
	if (!c->zk_connect || !c->ep_names || !c->ep_hosts || !c->ep_protos || !c->ep_ports ||
	    !c->events) {
		keel_coord_free(c);
		return NULL;
	}
	for (int i = 0; i < cfg->nendpoints; i++)
		c->ep_ports[i] = cfg->endpoint_ports[i];
	/* the pointers in cfg are the caller's: point at our copies */
	c->cfg.zk_connect = c->zk_connect;
	c->cfg.rack = c->rack;
	c->cfg.inter_broker_listener = c->inter_broker_listener;
	c->cfg.cluster_id_hint = c->cluster_id_hint;
	c->cfg.endpoint_names = (const char *const *)c->ep_names;
	c->cfg.endpoint_hosts = (const char *const *)c->ep_hosts;
	c->cfg.endpoint_protocols = (const char *const *)c->ep_protos;
	c->cfg.endpoint_ports = c->ep_ports;
	if (c->cfg.session_timeout_ms <= 0)
		c->cfg.session_timeout_ms = 18000;
	if (c->cfg.max_in_flight <= 0)
		c->cfg.max_in_flight = 10;
	if (c->cfg.connection_timeout_ms <= 0)
		c->cfg.connection_timeout_ms = c->cfg.session_timeout_ms;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)keel_mono_ms();
	c->rand_state = seed;
	c->to_loop = to_loop;
	c->broker_id = cfg->broker_id;
	c->controller_id = -1;
	c->controller_epoch = -1;
	c->isr_last_write_ms = keel_mono_ms(); /* Kafka: lastIsrPropagationMs = start-up */
	atomic_init(&c->stopping, false);
	return c;
}

void keel_coord_free(keel_coord_t *c)
{
	keel_msg_t m;
	if (!c)
		return;
	if (c->thread_started)
		keel_coord_stop(c);
	coord_disconnect(c);
	while (c->events && keel_mq_take(c->events, &m) == 0) {
		if (m.type == COORD_EV_CMD)
			keel_cmd_free(m.payload);
		else
			free(m.payload);
	}
	keel_mq_free(c->events);
	coord_clear_brokers(c);
	for (int i = 0; i < c->ntopics; i++)
		coord_topic_clear(&c->topics[i]);
	free(c->topics);
	isr_clear(c);
	free(c->shutting);
	free(c->bounced);
	coord_strv_free(c->ndeletes, c->deletes);
	free(c->stale_parts);
	for (int i = 0; i < c->nisr_cmds; i++) /* (a thread that never ran) */
		keel_cmd_free(c->isr_cmds[i]);
	free(c->isr_cmds);
	coord_strv_free(c->cfg.nendpoints, c->ep_names);
	coord_strv_free(c->cfg.nendpoints, c->ep_hosts);
	coord_strv_free(c->cfg.nendpoints, c->ep_protos);
	free(c->ep_ports);
	free(c->zk_connect);
	free(c->rack);
	free(c->inter_broker_listener);
	free(c->cluster_id_hint);
	free(c);
}

/* ================================================================ start-up steps */

/* Create Kafka's persistent base paths. Start-up or coordination thread. */
static int coord_base_paths(keel_coord_t *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < KEEL_ARRAY_LEN(base_paths); i++) {
		int rc = zku_mkdirs(c->zh, base_paths[i]);
		if (rc != ZOK) {
			c->setup_rc = rc;
			snprintf(err, errlen, "cannot create %s: %s", base_paths[i], zerror(rc));
			return -1;
		}
	}
	return 0;
}

/* Read /cluster/id, creating it with a fresh id first if missing; check it against the hint. */
static int coord_cluster_id(keel_coord_t *c, char *err, size_t errlen)
{
	for (int tries = 0; tries < 3; tries++) {
		char *data = NULL, id[23];
		int len, rc = zku_get(c->zh, "/cluster/id", 0, &data, &len, NULL);
		if (rc == ZNONODE) {
			zkj_random_uuid(id);
			data = zkj_cluster_id_encode(id);
			rc = data ? zku_create(c->zh, "/cluster/id", data, ZOO_PERSISTENT) : ZSYSTEMERROR;
			free(data);
			if (rc == ZOK)
				klog_info(COORD_LOG, "created /cluster/id with cluster id %s", id);
			if (rc == ZOK || rc == ZNODEEXISTS)
				continue;
		}
		if (rc != ZOK) {
			c->setup_rc = rc;
			snprintf(err, errlen, "cannot read /cluster/id: %s", zerror(rc));
			return -1;
		}
		rc = zkj_cluster_id_decode(data, len, c->cluster_id, sizeof(c->cluster_id));
		free(data);
		if (rc) {
			snprintf(err, errlen, "/cluster/id holds malformed JSON");
			return -1;
		}
		if (c->cluster_id_hint && strcmp(c->cluster_id_hint, c->cluster_id)) {
			snprintf(err, errlen, "The Cluster ID %s doesn't match stored clusterId %s in "
				 "meta.properties. The broker is trying to join the wrong cluster. "
				 "Configured zookeeper.connect may be wrong.",
				 c->cluster_id, c->cluster_id_hint);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "cannot create /cluster/id");
	return -1;
}

/* broker.id generation: the version after setData on /brokers/seqid, plus reserved.broker.max.id. */
static int coord_generate_id(keel_coord_t *c, char *err, size_t errlen)
{
	struct Stat st;
	int rc = zku_set(c->zh, "/brokers/seqid", NULL, -1, &st);
	if (rc != ZOK) {
		c->setup_rc = rc;
		snprintf(err, errlen, "cannot generate a broker id from /brokers/seqid: %s",
			 zerror(rc));
		return -1;
	}
	c->broker_id = st.version + c->cfg.reserved_broker_max_id;
	klog_info(COORD_LOG, "generated broker.id %d from /brokers/seqid", c->broker_id);
	return 0;
}

static const char *coord_ep_protocol(const keel_coord_t *c, int i)
{
	static const char *const protos[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };
	if (c->ep_protos[i])
		return c->ep_protos[i];
	for (size_t k = 0; k < KEEL_ARRAY_LEN(protos); k++)
		if (!strcmp(c->ep_names[i], protos[k]))
			return protos[k];
	return "PLAINTEXT";
}

/* The /brokers/ids/<id> v5 payload; malloc'd. */
static char *coord_broker_json(const keel_coord_t *c)
{
	zkj_broker_t b;
	const char *protos[64];
	int n = c->cfg.nendpoints < 64 ? c->cfg.nendpoints : 64;
	memset(&b, 0, sizeof(b));
	b.port = -1;
	for (int i = 0; i < n; i++) {
		protos[i] = coord_ep_protocol(c, i);
		if (!b.host && !strcmp(protos[i], "PLAINTEXT")) {
			b.host = c->ep_hosts[i];
			b.port = c->ep_ports[i];
		}
	}
	b.nendpoints = n;
	b.endpoint_names = c->ep_names;
	b.endpoint_hosts = c->ep_hosts;
	b.endpoint_ports = c->ep_ports;
	b.endpoint_protocols = (char **)protos;
	b.rack = c->rack;
	b.timestamp_ms = keel_now_ms();
	return zkj_broker_encode(&b);
}

/* One attempt at the registration multi; ZNODEEXISTS means someone holds the znode. */
static int coord_register_once(keel_coord_t *c, const char *path, const char *json)
{
	zku_multi_t m;
	int rc;
	zku_multi_init(&m);
	zku_multi_create(&m, path, NULL, ZOO_EPHEMERAL);
	zku_multi_set(&m, path, json, 0);
	rc = zku_multi_run(c->zh, &m, NULL);
	zku_multi_free(&m);
	return rc;
}

/* Register /brokers/ids/<id>, waiting out an old session of ours (killed -9) for up to the
 * session timeout + 2 s. Returns 0; -1 with err (1 in *taken if another live broker has it). */
static int coord_register(keel_coord_t *c, bool *taken, char *err, size_t errlen)
{
	char path[64], *json = coord_broker_json(c);
	int64_t deadline = keel_mono_ms() + c->cfg.session_timeout_ms + 2000;
	bool waited = false;
	int rc;
	*taken = false;
	snprintf(path, sizeof(path), "/brokers/ids/%d", c->broker_id);
	for (;;) {
		struct Stat st;
		rc = json ? coord_register_once(c, path, json) : ZSYSTEMERROR;
		if (rc != ZNODEEXISTS)
			break;
		rc = zku_exists(c->zh, path, 0, &st);
		if (rc == ZNONODE)
			continue;
		if (rc != ZOK)
			break;
		if (st.ephemeralOwner == zoo_client_id(c->zh)->client_id) {
			rc = zku_set(c->zh, path, json, -1, NULL);
			break;
		}
		if (atomic_load(&c->stopping)) {
			rc = ZCLOSING;
			break;
		}
		if (keel_mono_ms() >= deadline) {
			snprintf(err, errlen, "broker.id %d is already registered by a live broker "
				 "(%s is held by session 0x%" PRIx64 ")", c->broker_id, path,
				 (uint64_t)st.ephemeralOwner);
			*taken = true;
			free(json);
			return -1;
		}
		if (!waited)
			klog_info(COORD_LOG, "%s exists (session 0x%" PRIx64 "): waiting up to %d ms "
				  "for an old session to expire", path, (uint64_t)st.ephemeralOwner,
				  c->cfg.session_timeout_ms + 2000);
		waited = true;
		coord_sleep_ms(500);
	}
	free(json);
	if (rc != ZOK) {
		c->setup_rc = rc;
		snprintf(err, errlen, "cannot register %s: %s", path, zerror(rc));
		return -1;
	}
	klog_info(COORD_LOG, "registered broker %d at %s", c->broker_id, path);
	return 0;
}

static void *coord_main(void *arg);

/* Wait up to ms for the session to be connected again; returns the state it ended in. */
static int coord_wait_connected(keel_coord_t *c, int ms)
{
	int64_t deadline = keel_mono_ms() + ms;
	int st;
	while ((st = zoo_state(c->zh)) != ZOO_CONNECTED_STATE && st != ZOO_EXPIRED_SESSION_STATE &&
	       st != ZOO_AUTH_FAILED_STATE && keel_mono_ms() < deadline && !atomic_load(&c->stopping))
		coord_sleep_ms(50);
	return st;
}

/* Did a ZooKeeper call fail only because the connection or the session was lost? */
static bool coord_lost(int rc)
{
	return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED ||
	       rc == ZSESSIONMOVED || rc == ZINVALIDSTATE;
}

/* Start-up's steps in ZooKeeper: base paths, cluster id, broker id, registration. */
static int coord_setup(keel_coord_t *c, bool *taken, char *err, size_t errlen)
{
	c->setup_rc = ZOK;
	*taken = false;
	return coord_base_paths(c, err, errlen) || coord_cluster_id(c, err, errlen) ||
			       (c->broker_id < 0 && coord_generate_id(c, err, errlen)) ||
			       coord_register(c, taken, err, errlen)
		       ? -1
		       : 0;
}

int keel_coord_start(keel_coord_t *c, int32_t *broker_id, char *cluster_id, size_t cluster_id_len,
		     char *err, size_t errlen)
{
	bool taken;
	if (coord_connect(c, err, errlen))
		return -1;
	/* A connection lost on the way (ZooKeeper restarting) is waited out, as Kafka's client
	 * does: the steps are taken again once the client has reconnected, in a new session if
	 * the old one is gone (each step may be repeated). Only not reaching ZooKeeper at all
	 * for zookeeper.connection.timeout.ms ends the start-up. */
	while (coord_setup(c, &taken, err, errlen)) {
		if (taken || !coord_lost(c->setup_rc) || atomic_load(&c->stopping)) {
			coord_disconnect(c);
			return -1;
		}
		klog_warn(COORD_LOG, "broker %d: %s; retrying", c->broker_id, err);
		coord_sleep_ms(100);
		int st = coord_wait_connected(c, c->cfg.connection_timeout_ms);
		if (st == ZOO_EXPIRED_SESSION_STATE || st == ZOO_AUTH_FAILED_STATE) {
			coord_disconnect(c);
			if (coord_connect(c, err, errlen))
				return -1;
		} else if (st != ZOO_CONNECTED_STATE) {
			snprintf(err, errlen, "lost ZooKeeper during start-up and not connected again "
				 "within %d ms (zookeeper.connection.timeout.ms)",
				 c->cfg.connection_timeout_ms);
			coord_disconnect(c);
			return -1;
		}
	}
	*broker_id = c->broker_id;
	snprintf(cluster_id, cluster_id_len, "%s", c->cluster_id);
	if (pthread_create(&c->thread, NULL, coord_main, c)) {
		snprintf(err, errlen, "cannot start the coordination thread: %s", strerror(errno));
		coord_disconnect(c);
		return -1;
	}
	c->thread_started = true;
	return 0;
}

void keel_coord_submit(keel_coord_t *c, keel_cmd_t *cmd)
{
	keel_mq_post(c->events, COORD_EV_CMD, cmd);
}

void keel_coord_stop(keel_coord_t *c)
{
	if (!c || !c->thread_started) {
		if (c)
			coord_disconnect(c);
		return;
	}
	atomic_store(&c->stopping, true);
	keel_mq_post(c->events, COORD_EV_STOP, NULL);
	pthread_join(c->thread, NULL);
	c->thread_started = false;
}

/* ================================================================ controller election */

/* Read /controller (exists watch, then data) and /controller_epoch. Coordination thread. */
static int coord_read_controller(keel_coord_t *c, struct Stat *epoch_stat)
{
	char *data = NULL;
	int len, rc = ZNONODE;
	int32_t id = -1;
	/* During an election /controller comes and goes between calls: read it (data watch), and
	 * when absent set an exists watch; if it reappeared in between, read again. */
	for (int tries = 0; tries < 5; tries++) {
		rc = zku_get(c->zh, "/controller", 1, &data, &len, NULL);
		if (rc == ZOK) {
			if (zkj_controller_decode(data, len, &id))
				klog_warn(COORD_LOG, "/controller holds malformed JSON");
			free(data);
			data = NULL;
			break;
		}
		if (rc != ZNONODE)
			break;
		rc = zku_exists(c->zh, "/controller", 1, NULL);
		if (rc == ZNONODE) {
			rc = ZOK; /* no controller now; the watch reports its creation */
			break;
		}
		if (rc != ZOK)
			break;
	}
	if (rc != ZOK)
		return rc;
	if (id != c->controller_id)
		c->view_dirty = true;
	c->controller_id = id;
	if (zku_get(c->zh, "/controller_epoch", 0, &data, &len, epoch_stat) == ZOK && data) {
		int32_t e = (int32_t)strtol(data, NULL, 10);
		if (e != c->controller_epoch)
			c->view_dirty = true;
		c->controller_epoch = e;
	}
	free(data);
	return ZOK;
}

/* Read /controller_epoch as (E, V), creating it as "0" if missing. */
static int coord_read_epoch(keel_coord_t *c, int32_t *e, int32_t *v)
{
	for (int tries = 0; tries < 3; tries++) {
		struct Stat st;
		char *data = NULL;
		int len, rc = zku_get(c->zh, "/controller_epoch", 0, &data, &len, &st);
		if (rc == ZNONODE) {
			rc = zku_create(c->zh, "/controller_epoch", "0", ZOO_PERSISTENT);
			if (rc == ZOK || rc == ZNODEEXISTS)
				continue;
		}
		if (rc != ZOK)
			return rc;
		*e = data ? (int32_t)strtol(data, NULL, 10) : 0;
		*v = st.version;
		free(data);
		return ZOK;
	}
	return ZNODEEXISTS;
}

static void coord_become_controller(keel_coord_t *c, int32_t epoch, int32_t zkversion)
{
	c->is_controller = true;
	c->epoch = epoch;
	c->epoch_zkversion = zkversion;
	c->controller_id = c->broker_id;
	c->controller_epoch = epoch;
	c->view_dirty = true;
	c->isr_notif_pending = true; /* failover: process (then delete) pending notifications */
	ctl_elect_failover(c);       /* pending preferred election, rebalance schedule */
	ctl_reassign_failover(c);    /* pending /admin/reassign_partitions */
	ctl_note_failover(c);        /* every broker learns the state from us */
	klog_info(COORD_LOG, "broker %d is the controller, epoch %d (/controller_epoch version %d)",
		  c->broker_id, epoch, zkversion);
	/* Metadata must name the new controller at once, not after the failover work: an admin
	 * client told a dead controller waits on it until its request times out. */
	coord_post_view_if_dirty(c);
}

/* Coordination thread. Kafka's elect(): see reference/zookeeper.md section 2. */
static void coord_elect(keel_coord_t *c)
{
	zku_multi_t m;
	struct Stat st;
	int32_t e, v;
	char buf[16], *json;
	int rc = coord_read_controller(c, NULL);
	if (rc != ZOK || c->controller_id >= 0) {
		if (rc != ZOK)
			coord_need_resync(c, "reading", "/controller", rc);
		return;
	}
	if ((rc = coord_read_epoch(c, &e, &v)) != ZOK) {
		coord_need_resync(c, "reading", "/controller_epoch", rc);
		return;
	}
	json = zkj_controller_encode(c->broker_id, keel_now_ms());
	snprintf(buf, sizeof(buf), "%d", e + 1);
	zku_multi_init(&m);
	zku_multi_create(&m, "/controller", json, ZOO_EPHEMERAL);
	zku_multi_set(&m, "/controller_epoch", buf, v);
	rc = zku_multi_run(c->zh, &m, NULL);
	free(json);
	if (rc == ZOK)
		coord_become_controller(c, e + 1, m.stats[1].version);
	zku_multi_free(&m);
	if (rc == ZOK)
		return;
	if (rc != ZNODEEXISTS && rc != ZBADVERSION) {
		coord_need_resync(c, "electing at", "/controller", rc);
		return;
	}
	rc = coord_read_controller(c, &st);
	if (rc != ZOK)
		coord_need_resync(c, "reading", "/controller", rc);
	else if (c->controller_id == c->broker_id && c->controller_epoch == e + 1)
		coord_become_controller(c, e + 1, st.version);
	else
		klog_info(COORD_LOG, "broker %d: broker %d is the controller", c->broker_id,
			  c->controller_id);
}

void coord_resign(keel_coord_t *c, const char *why)
{
	if (!c->is_controller)
		return;
	klog_info(COORD_LOG, "broker %d resigns as controller (epoch %d): %s", c->broker_id,
		  c->epoch, why);
	c->is_controller = false;
	c->ctl_again = false;
	c->view_dirty = true;
	c->nshutting = 0; /* a later controller learns shutdowns from the brokers' retries */
	c->nbounced = 0;
	for (int i = 0; i < c->ntopics; i++) { /* a later controller starts deletions afresh */
		free(c->topics[i].del);
		c->topics[i].del = NULL;
		c->topics[i].ndel = 0;
	}
	ctl_send_reset(c);
}

/* A /controller watch fired. */
static void coord_on_controller_change(keel_coord_t *c)
{
	int rc = coord_read_controller(c, NULL);
	if (rc != ZOK) {
		coord_need_resync(c, "reading", "/controller", rc);
		return;
	}
	if (c->is_controller && c->controller_id != c->broker_id)
		coord_resign(c, c->controller_id < 0 ? "/controller was deleted"
						     : "/controller names another broker");
	if (c->controller_id < 0)
		coord_elect(c);
	else if (c->controller_id == c->broker_id && !c->is_controller) {
		/* our own session holds /controller but we resigned: force a new election */
		int drc = zoo_delete(c->zh, "/controller", -1);
		klog_info(COORD_LOG, "broker %d: deleting a stale /controller of ours: %s",
			  c->broker_id, zerror(drc));
	}
}

/* Re-read everything (after a failure, at start, after a new session), then elect. */
static void coord_resync_all(keel_coord_t *c)
{
	int n = c->ntopics;
	char **names = calloc(n ? (size_t)n : 1, sizeof(char *));
	c->resync = false;
	coord_reload_brokers(c);
	coord_reload_deletes(c);
	for (int i = 0; names && i < n; i++) {
		names[i] = strdup(c->topics[i].name);
		c->topics[i].loaded = false; /* force a full re-read */
	}
	coord_reload_topic_list(c); /* loads the new ones */
	for (int i = 0; names && i < n; i++)
		if (names[i])
			coord_reload_topic(c, names[i]);
	coord_strv_free(n, names);
	coord_on_controller_change(c);
	if (c->is_controller)
		c->isr_notif_pending = true; /* a failed listing brought us here */
	c->view_dirty = true;
}

void keel_cmd_free(keel_cmd_t *cmd)
{
	if (!cmd)
		return;
	for (int i = 0; cmd->topics && i < cmd->ntopics; i++) {
		keel_cmd_topic_t *t = &cmd->topics[i];
		for (int32_t p = 0; t->assignments && p < t->nassign; p++)
			free(t->assignments[p]);
		free(t->assignments);
		free(t->assign_counts);
		coord_strv_free(t->nconfigs, t->config_keys);
		coord_strv_free(t->nconfigs, t->config_values);
		free(t->error_message);
		free(t->name);
	}
	free(cmd->topics);
	for (int i = 0; cmd->isr_entries && i < cmd->n_isr_entries; i++) {
		free(cmd->isr_entries[i].topic);
		free(cmd->isr_entries[i].isr);
	}
	free(cmd->isr_entries);
	for (int i = 0; cmd->remaining && i < cmd->n_remaining; i++)
		free(cmd->remaining[i].topic);
	free(cmd->remaining);
	for (int i = 0; cmd->elect_tps && i < cmd->n_elect_tps; i++)
		free(cmd->elect_tps[i].topic);
	free(cmd->elect_tps);
	for (int i = 0; cmd->elect_results && i < cmd->n_elect_results; i++) {
		free(cmd->elect_results[i].topic);
		free(cmd->elect_results[i].message);
	}
	free(cmd->elect_results);
	for (int i = 0; cmd->reassign && i < cmd->n_reassign; i++) {
		keel_cmd_reassign_t *r = &cmd->reassign[i];
		free(r->topic);
		free(r->replicas);
		free(r->adding);
		free(r->removing);
		free(r->message);
	}
	free(cmd->reassign);
	for (int i = 0; cmd->list_tps && i < cmd->n_list_tps; i++)
		free(cmd->list_tps[i].topic);
	free(cmd->list_tps);
	free(cmd->ctl_body);
	free(cmd);
}

void keel_ctl_send_free(keel_ctl_send_t *s)
{
	if (!s)
		return;
	free(s->host);
	free(s->body);
	free(s);
}

bool keel_topic_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 249 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* ================================================================ the thread */

static int32_t path_int(const char *s, const char **end)
{
	char *e;
	long v;
	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || v < 0 || v > INT32_MAX) {
		*end = NULL;
		return -1;
	}
	*end = e;
	return (int32_t)v;
}

/* Re-read the partition states whose watches fired since the last call. */
static void coord_flush_stale(keel_coord_t *c)
{
	if (c->nstale && c->zh && !atomic_load(&c->stopping))
		coord_reload_states(c, c->stale_topic, c->stale_parts, c->nstale);
	c->nstale = 0;
	c->stale_topic = NULL;
}

/* A state watch of t's partition p fired: re-read it with the others that fire in a row (a
 * controller's multi changes hundreds at once; one read each would cost a round trip each).
 * Anything else that happens first re-reads them (coord_dispatch), so no one sees the cache
 * older than it was before. */
static void coord_stale_state(keel_coord_t *c, coord_topic_t *t, int32_t p)
{
	if (c->stale_topic != t)
		coord_flush_stale(c);
	if (c->nstale == c->stale_cap) {
		int cap = c->stale_cap ? 2 * c->stale_cap : 64;
		int32_t *np = realloc(c->stale_parts, (size_t)cap * sizeof(*np));
		if (!np) {
			coord_reload_state(c, t, p);
			return;
		}
		c->stale_parts = np;
		c->stale_cap = cap;
	}
	c->stale_topic = t;
	c->stale_parts[c->nstale++] = p;
}

/* Handle the ISR changes queued by coord_queue_isr. */
static void coord_flush_isr(keel_coord_t *c)
{
	if (c->nisr_cmds)
		isr_handle_cmds(c, c->isr_cmds, c->nisr_cmds);
	c->nisr_cmds = 0;
}

/* A leader's ISR change: handled with the others that come in a row (after a broker comes
 * back, its leaders expand hundreds of ISRs at once). As for states, anything else that comes
 * first has them handled before it. */
static void coord_queue_isr(keel_coord_t *c, keel_cmd_t *cmd)
{
	if (c->nisr_cmds == c->isr_cmds_cap) {
		int cap = c->isr_cmds_cap ? 2 * c->isr_cmds_cap : 64;
		keel_cmd_t **nc = realloc(c->isr_cmds, (size_t)cap * sizeof(*nc));
		if (!nc) {
			coord_flush_isr(c);
			isr_handle_cmd(c, cmd);
			return;
		}
		c->isr_cmds = nc;
		c->isr_cmds_cap = cap;
	}
	c->isr_cmds[c->nisr_cmds++] = cmd;
}

static bool is_alter_isr(const keel_msg_t *m)
{
	return m->type == COORD_EV_CMD && ((const keel_cmd_t *)m->payload)->type == KEEL_CMD_ALTER_ISR;
}

/* Whether a message is a state znode's watch (those are batched). */
static bool is_state_watch(const keel_msg_t *m)
{
	const coord_zev_t *ev = m->payload;
	size_t n;
	if (m->type != COORD_EV_WATCH || ev->type == ZOO_NOTWATCHING_EVENT)
		return false;
	n = strlen(ev->path);
	return !strncmp(ev->path, "/brokers/topics/", 16) && n > 6 && !strcmp(ev->path + n - 6, "/state");
}

/* /brokers/topics/<t>[/partitions/<p>/state] watch: reload just what fired. */
static void coord_on_topic_path(keel_coord_t *c, const char *rest)
{
	const char *slash = strchr(rest, '/'), *end;
	char name[256];
	coord_topic_t *t;
	int32_t p;
	if (!slash) {
		coord_reload_topic(c, rest);
		return;
	}
	if ((size_t)(slash - rest) >= sizeof(name) || strncmp(slash, "/partitions/", 12))
		return;
	snprintf(name, sizeof(name), "%.*s", (int)(slash - rest), rest);
	p = path_int(slash + 12, &end);
	t = coord_topic_find(c, name);
	if (t && t->loaded && end && !strcmp(end, "/state") && p < t->assign.npartitions)
		coord_stale_state(c, t, p);
}

/* A znode watch fired: re-read what it covers (watches are one-shot; reads re-arm them). */
static void coord_on_watch(keel_coord_t *c, const coord_zev_t *ev)
{
	const char *p = ev->path;
	coord_topic_t *t;
	if (ev->type == ZOO_NOTWATCHING_EVENT || !c->zh)
		return;
	klog_debug(COORD_LOG, "broker %d: watch %d on %s", c->broker_id, ev->type, p);
	if (!strcmp(p, "/controller"))
		coord_on_controller_change(c);
	else if (!strncmp(p, "/brokers/ids", 12) && (p[12] == '\0' || p[12] == '/'))
		coord_reload_brokers(c);
	else if (!strcmp(p, "/brokers/topics"))
		coord_reload_topic_list(c);
	else if (!strncmp(p, "/brokers/topics/", 16))
		coord_on_topic_path(c, p + 16);
	else if (!strcmp(p, "/admin/delete_topics"))
		coord_reload_deletes(c);
	else if (!strcmp(p, COORD_ISR_PATH))
		c->isr_notif_pending = true; /* the controller lists it in ctl_reconcile */
	else if (!strcmp(p, COORD_PREFERRED_PATH))
		c->pref_znode_pending = true; /* the controller reads it in ctl_reconcile */
	else if (!strcmp(p, COORD_REASSIGN_PATH))
		c->reassign_znode_pending = true; /* likewise */
	else if (!strncmp(p, "/config/topics/", 15) && (t = coord_topic_find(c, p + 15)))
		coord_reload_config(c, t);
}

static void coord_on_session(keel_coord_t *c, const coord_zev_t *ev)
{
	if (ev->gen != c->gen)
		return; /* from a closed handle */
	if (ev->state == ZOO_EXPIRED_SESSION_STATE) {
		klog_warn(COORD_LOG, "broker %d: ZooKeeper session expired", c->broker_id);
		c->expired = true;
	} else if (ev->state == ZOO_CONNECTING_STATE) {
		klog_warn(COORD_LOG, "broker %d: disconnected from ZooKeeper; reconnecting",
			  c->broker_id);
	} else if (ev->state == ZOO_CONNECTED_STATE) {
		klog_info(COORD_LOG, "broker %d: connected to ZooKeeper", c->broker_id);
		if (c->resync)
			c->resync_at = keel_mono_ms();
	} else if (ev->state == ZOO_AUTH_FAILED_STATE) {
		klog_error(COORD_LOG, "broker %d: ZooKeeper authentication failed", c->broker_id);
	}
}

static void coord_fatal(keel_coord_t *c, const char *msg)
{
	klog_error(COORD_LOG, "broker %d: %s", c->broker_id, msg);
	keel_mq_post(c->to_loop, KEEL_MSG_FATAL, strdup(msg));
}

/* The session expired: resign, open a new one (retrying while ZooKeeper is down),
 * re-register (new czxid), then re-read everything and re-elect. Returns -1 if fatal. */
static int coord_reestablish(keel_coord_t *c)
{
	char err[512];
	bool taken = false;
	coord_resign(c, "ZooKeeper session expired");
	coord_disconnect(c);
	while (!atomic_load(&c->stopping)) {
		if (coord_connect(c, err, sizeof(err)) == 0) {
			if (coord_base_paths(c, err, sizeof(err)) == 0 &&
			    coord_register(c, &taken, err, sizeof(err)) == 0)
				break;
			coord_disconnect(c);
			if (taken) {
				coord_fatal(c, err);
				return -1;
			}
		}
		klog_warn(COORD_LOG, "broker %d: %s; retrying", c->broker_id, err);
		coord_sleep_ms(COORD_RETRY_MS);
	}
	if (!c->zh)
		return -1;
	keel_mq_post(c->to_loop, KEEL_MSG_REGISTERED, NULL);
	coord_resync_all(c);
	return 0;
}

/* Handle one internal message; returns false on stop. */
static bool coord_dispatch(keel_coord_t *c, keel_msg_t *m)
{
	if (!is_state_watch(m))
		coord_flush_stale(c);
	if (!is_alter_isr(m))
		coord_flush_isr(c);
	switch (m->type) {
	case COORD_EV_WATCH:
		if (!c->expired && !atomic_load(&c->stopping)) /* (stopping: nobody needs the view) */
			coord_on_watch(c, m->payload);
		break;
	case COORD_EV_SESSION:
		coord_on_session(c, m->payload);
		break;
	case COORD_EV_CMD:
		if (is_alter_isr(m))
			coord_queue_isr(c, m->payload); /* CMD_DONE when the batch is handled */
		else
			ctl_handle_cmd(c, m->payload); /* posts CMD_DONE; the loop owns the cmd again */
		return true;
	case COORD_EV_STOP:
		return false;
	}
	free(m->payload);
	return true;
}

/* End of a turn: rebuild after expiry or failures, let the controller act, post the view. */
static bool coord_turn_end(keel_coord_t *c)
{
	if (c->expired && coord_reestablish(c))
		return false;
	if (c->resync && keel_mono_ms() >= c->resync_at &&
	    zoo_state(c->zh) == ZOO_CONNECTED_STATE)
		coord_resync_all(c);
	for (int pass = 0; pass < 3; pass++) {
		c->ctl_again = false;
		ctl_reconcile(c);
		if (!c->ctl_again)
			break;
	}
	isr_propagate(c);
	coord_post_view_if_dirty(c);
	return true;
}

/* How long the thread may sleep: until the resync retry, the controller's next pass, the
 * next ISR change notification check or the next leader rebalance check, whichever is first;
 * -1 = until a message comes. */
static int coord_wait_ms(const keel_coord_t *c)
{
	int64_t now = keel_mono_ms(), due = isr_next_due(c);
	if (c->resync && c->resync_at < due)
		due = c->resync_at;
	if (c->ctl_again && now + COORD_RETRY_MS < due)
		due = now + COORD_RETRY_MS;
	if (ctl_elect_next_due(c) < due)
		due = ctl_elect_next_due(c);
	if (due == INT64_MAX)
		return -1;
	return due <= now ? 0 : (int)(due - now < INT32_MAX ? due - now : INT32_MAX);
}

static void *coord_main(void *arg)
{
	keel_coord_t *c = arg;
	bool run = true;
	coord_resync_all(c);
	run = coord_turn_end(c);
	while (run) {
		keel_msg_t m;
		if (keel_mq_wait(c->events, &m, coord_wait_ms(c)) == 0) {
			run = coord_dispatch(c, &m);
			while (run && keel_mq_take(c->events, &m) == 0)
				run = coord_dispatch(c, &m);
			coord_flush_stale(c);
			coord_flush_isr(c);
		}
		if (run)
			run = coord_turn_end(c);
	}
	while (!atomic_load(&c->stopping)) { /* fatal: idle until stopped */
		keel_msg_t m;
		if (keel_mq_wait(c->events, &m, -1) == 0 && !coord_dispatch(c, &m))
			break;
	}
	coord_flush_isr(c); /* every command is answered */
	coord_resign(c, "shutting down");
	coord_disconnect(c);
	klog_info(COORD_LOG, "broker %d: ZooKeeper session closed", c->broker_id);
	return NULL;
}
