/* zk/zkutil.h: a thin synchronous wrapper over libzookeeper_mt: connect with a timeout and a
 * chroot, mkdirs, get/set/delete (recursive), children, and a multi builder. Every call blocks;
 * use them only on a thread that may block (start-up, the coordination thread). Results are
 * ZooKeeper codes (ZOK = 0, negative on error; zerror() names them). */
#ifndef KEEL_ZKUTIL_H
#define KEEL_ZKUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The synchronous API (zoo_get, zoo_multi, ...) exists only in the threaded client. */
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>
#include <zookeeper/proto.h>

/* Route the client library's log lines to klog ("zkclient", debug level) and set its level to
 * WARN. Idempotent; any thread. Also applied by zku_connect. */
void zku_setup_logging(void);

/* Connect to `connect` ("h:p,h:p[/chroot]"), waiting up to timeout_ms for
 * ZOO_CONNECTED_STATE. A chroot is created first (recursively) through a chroot-less session.
 * `fn`/`ctx` become the session's default watcher (watch=1 calls use it). Returns the handle,
 * or NULL with a reason in err. */
zhandle_t *zku_connect(const char *connect, int session_timeout_ms, int timeout_ms,
		       watcher_fn fn, void *ctx, char *err, size_t errlen);

/* Create `path` and its missing parents as persistent znodes with null data; ZNODEEXISTS is
 * success. */
int zku_mkdirs(zhandle_t *zh, const char *path);

/* Create one persistent or ephemeral znode (data NULL = null data). */
int zku_create(zhandle_t *zh, const char *path, const char *data, int mode);

/* Read a znode. *data is malloc'd and NUL-terminated (NULL for null data, *len = -1); the
 * caller frees it. watch=1 leaves a data watch on the default watcher. stat may be NULL. */
int zku_get(zhandle_t *zh, const char *path, int watch, char **data, int *len, struct Stat *stat);

/* One result of zku_get_many: rc, and on ZOK the data (malloc'd, NUL-terminated; NULL with
 * len -1 for null data) and the Stat. */
typedef struct {
	int rc;
	char *data;
	int len;
	struct Stat stat;
} zku_got_t;

/* Read n znodes at once: the requests are pipelined on the session, up to max_in_flight
 * unanswered at a time (a sync get per znode costs a round trip each), and the call returns
 * when every answer is in. out[i] answers paths[i]; the caller frees each out[i].data. watch=1
 * as for zku_get. Returns ZOK, or ZSYSTEMERROR (out of memory; nothing was sent). */
int zku_get_many(zhandle_t *zh, int n, const char *const *paths, int watch, int max_in_flight,
		 zku_got_t *out);

/* exists for n znodes at once, pipelined the same way (watch=1: an exists watch, which fires on
 * creation too); out[i].rc is ZOK or ZNONODE (or an error), out[i].stat set on ZOK. */
int zku_exists_many(zhandle_t *zh, int n, const char *const *paths, int watch, int max_in_flight,
		    zku_got_t *out);

/* One write of zku_set_many: path, data (NULL = null) and the version it is conditional on
 * (-1 = any); rc and, on ZOK, the new Stat come back. */
typedef struct {
	const char *path;
	const char *data;
	int version;
	int rc;
	struct Stat stat;
} zku_set_t;

/* Write n znodes at once, pipelined as zku_get_many (up to max_in_flight unanswered); returns
 * when every answer is in (each in its v[i].rc). ZOK, or ZSYSTEMERROR (out of memory). */
int zku_set_many(zhandle_t *zh, int n, zku_set_t *v, int max_in_flight);

/* Set data (NULL = null) if the version matches (-1 = any). stat may be NULL. */
int zku_set(zhandle_t *zh, const char *path, const char *data, int version, struct Stat *stat);

/* exists, with an optional watch (fires on creation too). stat may be NULL. */
int zku_exists(zhandle_t *zh, const char *path, int watch, struct Stat *stat);

/* Children names; free with deallocate_String_vector. */
int zku_children(zhandle_t *zh, const char *path, int watch, struct String_vector *out);

/* Delete a znode and everything below it (depth first; ZNONODE on the way is ignored). */
int zku_delete_recursive(zhandle_t *zh, const char *path);

/* All paths of the subtree rooted at `path`, deepest first (the root last), in a malloc'd
 * array of malloc'd strings (*n entries). For deleting a subtree in an epoch-checked multi. */
int zku_subtree(zhandle_t *zh, const char *path, char ***paths, int *n);
void zku_free_paths(char **paths, int n);

/* A multi under construction. Strings are copied; run it once, then free it. */
typedef struct {
	int n, cap;
	zoo_op_t *ops;
	zoo_op_result_t *res;
	struct Stat *stats;   /* per op (set results) */
	char **owned;         /* copied paths/values/result buffers, 3 per op */
} zku_multi_t;

void zku_multi_init(zku_multi_t *m);
int zku_multi_check(zku_multi_t *m, const char *path, int version);
int zku_multi_create(zku_multi_t *m, const char *path, const char *data, int mode);
int zku_multi_set(zku_multi_t *m, const char *path, const char *data, int version);
int zku_multi_delete(zku_multi_t *m, const char *path, int version);
/* Run it. Returns ZOK or the first error; *failed_op (may be NULL) = index of the op that
 * failed, -1 if none or unknown. On ZOK, m->stats[i] holds the Stat of each set op. */
int zku_multi_run(zhandle_t *zh, zku_multi_t *m, int *failed_op);
void zku_multi_free(zku_multi_t *m);

#endif
