/* zk/zkutil.c: synchronous helpers over libzookeeper_mt (connect+chroot, mkdirs, get/set,
 * recursive delete, multi builder). Blocking; callers: start-up and the coordination thread. */
#include "zkutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keel.h"
#include "logger.h"

/* ---------------------------------------------------------------- logging */

/* fopencookie write hook: one klog line per client log line (client threads). */
static ssize_t zku_log_write(void *cookie, const char *buf, size_t len)
{
	size_t n = len;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n)
		klog_debug("zkclient", "%.*s", (int)n, buf);
	return (ssize_t)len;
}

static void zku_log_init(void)
{
	cookie_io_functions_t io = { .write = zku_log_write };
	FILE *f = fopencookie(NULL, "w", io);
	if (f) {
		setvbuf(f, NULL, _IOLBF, 0);
		zoo_set_log_stream(f); /* lives for the whole process */
	}
	zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
}

void zku_setup_logging(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, zku_log_init);
}

/* ---------------------------------------------------------------- connect */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Open a session and wait for it to connect; NULL on timeout (the handle is closed). */
static zhandle_t *connect_wait(const char *hosts, int session_timeout_ms, int timeout_ms,
			       watcher_fn fn, void *ctx, char *err, size_t errlen)
{
	int64_t deadline = keel_mono_ms() + timeout_ms;
	zhandle_t *zh = zookeeper_init(hosts, fn, session_timeout_ms, NULL, ctx, 0);
	if (!zh) {
		snprintf(err, errlen, "cannot start a ZooKeeper session for \"%s\": %s", hosts,
			 strerror(errno));
		return NULL;
	}
	/* The client re-resolves the host list on every turn of its I/O thread by default (a
	 * netlink dump per request); resolve again only when the connection is lost. */
	zoo_set_servers_resolution_delay(zh, -1);
	while (zoo_state(zh) != ZOO_CONNECTED_STATE) {
		if (keel_mono_ms() >= deadline) {
			snprintf(err, errlen,
				 "timed out after %d ms connecting to ZooKeeper at \"%s\"",
				 timeout_ms, hosts);
			zookeeper_close(zh);
			return NULL;
		}
		sleep_ms(20);
	}
	return zh;
}

zhandle_t *zku_connect(const char *connect, int session_timeout_ms, int timeout_ms,
		       watcher_fn fn, void *ctx, char *err, size_t errlen)
{
	const char *slash = strchr(connect, '/');
	zku_setup_logging();
	if (slash && slash[1]) {
		char *hosts = strndup(connect, (size_t)(slash - connect));
		zhandle_t *zh;
		int rc;
		if (!hosts) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		zh = connect_wait(hosts, session_timeout_ms, timeout_ms, NULL, NULL, err, errlen);
		free(hosts);
		if (!zh)
			return NULL;
		rc = zku_mkdirs(zh, slash);
		zookeeper_close(zh);
		if (rc != ZOK) {
			snprintf(err, errlen, "cannot create the chroot %s: %s", slash, zerror(rc));
			return NULL;
		}
	}
	return connect_wait(connect, session_timeout_ms, timeout_ms, fn, ctx, err, errlen);
}

/* ---------------------------------------------------------------- single calls */

int zku_create(zhandle_t *zh, const char *path, const char *data, int mode)
{
	return zoo_create(zh, path, data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE,
			  mode, NULL, 0);
}

int zku_mkdirs(zhandle_t *zh, const char *path)
{
	char *p = strdup(path);
	int rc = ZOK;
	if (!p)
		return ZSYSTEMERROR;
	for (char *s = p + 1; rc == ZOK || rc == ZNODEEXISTS; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		rc = zku_create(zh, p, NULL, ZOO_PERSISTENT);
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc == ZNODEEXISTS ? ZOK : rc;
}

int zku_get(zhandle_t *zh, const char *path, int watch, char **data, int *len, struct Stat *stat)
{
	struct Stat st;
	int cap = 4096;
	for (;;) {
		char *buf = malloc((size_t)cap + 1);
		int n = cap, rc;
		if (!buf)
			return ZSYSTEMERROR;
		rc = zoo_get(zh, path, watch, buf, &n, &st);
		if (rc != ZOK) {
			free(buf);
			return rc;
		}
		if (st.dataLength > cap) { /* truncated: grow and read again */
			free(buf);
			cap = st.dataLength;
			continue;
		}
		if (n < 0) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
		*data = buf;
		*len = n;
		if (stat)
			*stat = st;
		return ZOK;
	}
}

/* The requests of a zku_get_many or zku_set_many in flight; completions run on the client's
 * completion thread. */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending, max;
} window_t;

static void window_init(window_t *w, int max)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->pending = 0;
	w->max = max < 1 ? 1 : max;
}

/* Wait for a free slot and take it. */
static void window_take(window_t *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->pending >= w->max)
		pthread_cond_wait(&w->cv, &w->mu);
	w->pending++;
	pthread_mutex_unlock(&w->mu);
}

/* An answer came (or a request was not sent): free its slot. */
static void window_give(window_t *w)
{
	pthread_mutex_lock(&w->mu);
	w->pending--;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Wait until every answer is in, then tear down. */
static void window_drain(window_t *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->pending > 0)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

/* One request of a pipeline: where its answer goes. */
typedef struct {
	window_t *w;
	int *rc;
	struct Stat *stat;
	zku_got_t *got;      /* gets: the data goes here too */
} slot_t;

static void get_many_done(int rc, const char *value, int value_len, const struct Stat *stat,
			  const void *arg)
{
	const slot_t *s = arg;
	zku_got_t *g = s->got;
	g->rc = rc;
	if (rc == ZOK) {
		if (stat)
			g->stat = *stat;
		if (value && value_len >= 0) {
			g->data = malloc((size_t)value_len + 1);
			if (g->data) {
				memcpy(g->data, value, (size_t)value_len);
				g->data[value_len] = '\0';
				g->len = value_len;
			} else {
				g->rc = ZSYSTEMERROR;
			}
		}
	}
	window_give(s->w);
}

/* exists and set answers: a code and a Stat */
static void stat_done(int rc, const struct Stat *stat, const void *arg)
{
	const slot_t *s = arg;
	*s->rc = rc;
	if (rc == ZOK && stat)
		*s->stat = *stat;
	window_give(s->w);
}

typedef enum { MANY_GET, MANY_EXISTS, MANY_SET } many_op_t;

/* Send n requests of one kind, up to max_in_flight unanswered, and wait for every answer.
 * Gets and exists read paths into out; sets write v. */
static int run_many(zhandle_t *zh, many_op_t op, int n, int max_in_flight, const char *const *paths,
		    int watch, zku_got_t *out, zku_set_t *v)
{
	window_t w;
	slot_t *slots = calloc(n > 0 ? (size_t)n : 1, sizeof(*slots));
	if (!slots)
		return ZSYSTEMERROR;
	window_init(&w, max_in_flight);
	for (int i = 0; i < n; i++) {
		int rc;
		if (op == MANY_SET) {
			slots[i] = (slot_t){ &w, &v[i].rc, &v[i].stat, NULL };
		} else {
			out[i] = (zku_got_t){ .data = NULL, .len = -1 };
			slots[i] = (slot_t){ &w, &out[i].rc, &out[i].stat, &out[i] };
		}
		*slots[i].rc = ZSYSTEMERROR;
		window_take(&w);
		if (op == MANY_GET)
			rc = zoo_aget(zh, paths[i], watch, get_many_done, &slots[i]);
		else if (op == MANY_EXISTS)
			rc = zoo_aexists(zh, paths[i], watch, stat_done, &slots[i]);
		else
			rc = zoo_aset(zh, v[i].path, v[i].data, v[i].data ? (int)strlen(v[i].data) : -1,
				      v[i].version, stat_done, &slots[i]);
		if (rc != ZOK) { /* not sent: no completion comes */
			*slots[i].rc = rc;
			window_give(&w);
		}
	}
	window_drain(&w);
	free(slots);
	return ZOK;
}

int zku_get_many(zhandle_t *zh, int n, const char *const *paths, int watch, int max_in_flight,
		 zku_got_t *out)
{
	return run_many(zh, MANY_GET, n, max_in_flight, paths, watch, out, NULL);
}

int zku_exists_many(zhandle_t *zh, int n, const char *const *paths, int watch, int max_in_flight,
		    zku_got_t *out)
{
	return run_many(zh, MANY_EXISTS, n, max_in_flight, paths, watch, out, NULL);
}

int zku_set_many(zhandle_t *zh, int n, zku_set_t *v, int max_in_flight)
{
	return run_many(zh, MANY_SET, n, max_in_flight, NULL, 0, NULL, v);
}

int zku_set(zhandle_t *zh, const char *path, const char *data, int version, struct Stat *stat)
{
	struct Stat st;
	return zoo_set2(zh, path, data, data ? (int)strlen(data) : -1, version, stat ? stat : &st);
}

int zku_exists(zhandle_t *zh, const char *path, int watch, struct Stat *stat)
{
	struct Stat st;
	return zoo_exists(zh, path, watch, stat ? stat : &st);
}

int zku_children(zhandle_t *zh, const char *path, int watch, struct String_vector *out)
{
	memset(out, 0, sizeof(*out));
	return zoo_get_children(zh, path, watch, out);
}

/* ---------------------------------------------------------------- subtrees */

void zku_free_paths(char **paths, int n)
{
	for (int i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static int subtree_add(char ***paths, int *n, int *cap, char *p)
{
	if (*n == *cap) {
		int nc = *cap ? *cap * 2 : 16;
		char **np = realloc(*paths, (size_t)nc * sizeof(char *));
		if (!np) {
			free(p);
			return ZSYSTEMERROR;
		}
		*paths = np;
		*cap = nc;
	}
	(*paths)[(*n)++] = p;
	return ZOK;
}

static int subtree_walk(zhandle_t *zh, const char *path, char ***paths, int *n, int *cap)
{
	struct String_vector kids;
	int rc = zku_children(zh, path, 0, &kids);
	if (rc != ZOK)
		return rc;
	for (int i = 0; i < kids.count && rc == ZOK; i++) {
		char *child;
		if (asprintf(&child, "%s/%s", strcmp(path, "/") ? path : "", kids.data[i]) < 0) {
			rc = ZSYSTEMERROR;
			break;
		}
		rc = subtree_walk(zh, child, paths, n, cap);
		free(child);
		if (rc == ZNONODE)
			rc = ZOK; /* vanished meanwhile */
	}
	deallocate_String_vector(&kids);
	if (rc != ZOK)
		return rc;
	char *self = strdup(path);
	return self ? subtree_add(paths, n, cap, self) : ZSYSTEMERROR;
}

int zku_subtree(zhandle_t *zh, const char *path, char ***paths, int *n)
{
	int cap = 0, rc;
	*paths = NULL;
	*n = 0;
	rc = subtree_walk(zh, path, paths, n, &cap);
	if (rc != ZOK) {
		zku_free_paths(*paths, *n);
		*paths = NULL;
		*n = 0;
	}
	return rc;
}

int zku_delete_recursive(zhandle_t *zh, const char *path)
{
	char **paths;
	int n, rc = zku_subtree(zh, path, &paths, &n);
	if (rc != ZOK)
		return rc;
	for (int i = 0; i < n && (rc == ZOK || rc == ZNONODE); i++)
		rc = zoo_delete(zh, paths[i], -1);
	zku_free_paths(paths, n);
	return rc == ZNONODE ? ZOK : rc;
}

/* ---------------------------------------------------------------- multi */

void zku_multi_init(zku_multi_t *m)
{
	memset(m, 0, sizeof(*m));
}

/* Reserve one more op with 3 owned string slots; returns its index or -1. */
static int multi_grow(zku_multi_t *m)
{
	if (m->n == m->cap) {
		int nc = m->cap ? m->cap * 2 : 8;
		zoo_op_t *ops = realloc(m->ops, (size_t)nc * sizeof(*ops));
		char **owned;
		if (!ops)
			return -1;
		m->ops = ops;
		owned = realloc(m->owned, (size_t)nc * 3 * sizeof(char *));
		if (!owned)
			return -1;
		m->owned = owned;
		m->cap = nc;
	}
	memset(&m->owned[m->n * 3], 0, 3 * sizeof(char *));
	return m->n++;
}

/* Copy s into slot k of op i; NULL stays NULL. Returns -1 on OOM. */
static int multi_own(zku_multi_t *m, int i, int k, const char *s, const char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	m->owned[i * 3 + k] = strdup(s);
	*out = m->owned[i * 3 + k];
	return *out ? 0 : -1;
}

int zku_multi_check(zku_multi_t *m, const char *path, int version)
{
	int i = multi_grow(m);
	const char *p;
	if (i < 0 || multi_own(m, i, 0, path, &p))
		return ZSYSTEMERROR;
	zoo_check_op_init(&m->ops[i], p, version);
	return ZOK;
}

int zku_multi_create(zku_multi_t *m, const char *path, const char *data, int mode)
{
	int i = multi_grow(m);
	const char *p, *d;
	char *buf;
	size_t blen = strlen(path) + 32;
	if (i < 0 || multi_own(m, i, 0, path, &p) || multi_own(m, i, 1, data, &d))
		return ZSYSTEMERROR;
	buf = calloc(1, blen);
	if (!buf)
		return ZSYSTEMERROR;
	m->owned[i * 3 + 2] = buf;
	zoo_create_op_init(&m->ops[i], p, d, d ? (int)strlen(d) : -1, &ZOO_OPEN_ACL_UNSAFE, mode,
			   buf, (int)blen);
	return ZOK;
}

int zku_multi_set(zku_multi_t *m, const char *path, const char *data, int version)
{
	int i = multi_grow(m);
	const char *p, *d;
	if (i < 0 || multi_own(m, i, 0, path, &p) || multi_own(m, i, 1, data, &d))
		return ZSYSTEMERROR;
	zoo_set_op_init(&m->ops[i], p, d, d ? (int)strlen(d) : -1, version, NULL);
	return ZOK;
}

int zku_multi_delete(zku_multi_t *m, const char *path, int version)
{
	int i = multi_grow(m);
	const char *p;
	if (i < 0 || multi_own(m, i, 0, path, &p))
		return ZSYSTEMERROR;
	zoo_delete_op_init(&m->ops[i], p, version);
	return ZOK;
}

/* The client library's multi (3.8) frees a request path twice when an op's path check fails,
 * which every op's does on an expired or auth-failed session: the process aborts. So a multi
 * is sent only on a connected session. One that is reconnecting gets a third of the session
 * timeout to come back (what the library gives a request in flight); then ZCONNECTIONLOSS. A
 * lost session answers ZINVALIDSTATE, as the library's other calls do. */
static int multi_ready(zhandle_t *zh)
{
	int64_t deadline = keel_mono_ms() + zoo_recv_timeout(zh) / 3;
	for (;;) {
		int st = zoo_state(zh);
		if (st == ZOO_CONNECTED_STATE)
			return ZOK;
		if (st == ZOO_EXPIRED_SESSION_STATE || st == ZOO_AUTH_FAILED_STATE)
			return ZINVALIDSTATE;
		if (keel_mono_ms() >= deadline)
			return ZCONNECTIONLOSS;
		sleep_ms(10);
	}
}

int zku_multi_run(zhandle_t *zh, zku_multi_t *m, int *failed_op)
{
	int rc;
	if (failed_op)
		*failed_op = -1;
	if (m->n == 0)
		return ZOK;
	if ((rc = multi_ready(zh)) != ZOK)
		return rc;
	free(m->res);
	free(m->stats);
	m->res = calloc((size_t)m->n, sizeof(*m->res));
	m->stats = calloc((size_t)m->n, sizeof(*m->stats));
	if (!m->res || !m->stats)
		return ZSYSTEMERROR;
	for (int i = 0; i < m->n; i++)
		if (m->ops[i].type == ZOO_SETDATA_OP)
			m->ops[i].set_op.stat = &m->stats[i];
	rc = zoo_multi(zh, m->n, m->ops, m->res);
	if (rc != ZOK && failed_op) {
		for (int i = 0; i < m->n; i++) {
			if (m->res[i].err != ZOK && m->res[i].err != ZRUNTIMEINCONSISTENCY) {
				*failed_op = i;
				break;
			}
		}
	}
	return rc;
}

void zku_multi_free(zku_multi_t *m)
{
	for (int i = 0; i < m->n * 3; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->ops);
	free(m->res);
	free(m->stats);
	memset(m, 0, sizeof(*m));
}
