/* tests/integration/zk_probe.c: zkutil against a real ZooKeeper, for test_zookeeper.py.
 *
 *   zk-probe multi-expired CONNECT
 *
 * opens a session (CONNECT may name a chroot), has the server end it (a second client takes
 * the session over with its id and password, then closes it: the standard way to expire a
 * session on purpose), waits until the first client sees the expiry, then sends a two-op multi
 * on it and prints the answer. Exit 0 if the multi was refused, 1 if it went through, 2 if the
 * set-up failed. (libzookeeper's multi aborts the process with a double free there.) */
#include "zkutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keel.h"

static bool wait_state(zhandle_t *zh, int state, int ms)
{
	for (int64_t deadline = keel_mono_ms() + ms; zoo_state(zh) != state;) {
		if (keel_mono_ms() >= deadline)
			return false;
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	return true;
}

int main(int argc, char **argv)
{
	char err[256];
	zhandle_t *zh, *thief;
	zku_multi_t m;
	int rc;

	if (argc != 3 || strcmp(argv[1], "multi-expired") != 0) {
		fprintf(stderr, "usage: zk-probe multi-expired HOST:PORT[/CHROOT]\n");
		return 2;
	}
	if (!(zh = zku_connect(argv[2], 6000, 10000, NULL, NULL, err, sizeof(err)))) {
		fprintf(stderr, "zk-probe: %s\n", err);
		return 2;
	}
	rc = zku_create(zh, "/probe", NULL, ZOO_PERSISTENT);
	if (rc != ZOK && rc != ZNODEEXISTS) {
		fprintf(stderr, "zk-probe: create /probe: %s\n", zerror(rc));
		return 2;
	}
	thief = zookeeper_init(argv[2], NULL, 6000, zoo_client_id(zh), NULL, 0);
	if (!thief || !wait_state(thief, ZOO_CONNECTED_STATE, 10000)) {
		fprintf(stderr, "zk-probe: could not take the session over\n");
		if (thief)
			zookeeper_close(thief);
		zookeeper_close(zh);
		return 2;
	}
	zookeeper_close(thief); /* ends the session on the server */
	if (!wait_state(zh, ZOO_EXPIRED_SESSION_STATE, 30000)) {
		fprintf(stderr, "zk-probe: the session did not expire\n");
		zookeeper_close(zh);
		return 2;
	}
	zku_multi_init(&m);
	zku_multi_set(&m, "/probe", "a", -1);
	zku_multi_set(&m, "/probe", "b", -1);
	rc = zku_multi_run(zh, &m, NULL);
	zku_multi_free(&m);
	printf("multi on an expired session: %s\n", zerror(rc));
	zookeeper_close(zh);
	return rc == ZOK ? 1 : 0;
}
