/* tests/integration/zk_coord_smoke.c: manual driver (not in the build) for the coordination
 * layer against a real ZooKeeper: two coordinators in one process.
 * Build: gcc -std=gnu11 -D_GNU_SOURCE -g -fsanitize=address,undefined -Isrc -Izk \
 *   tests/integration/zk_coord_smoke.c zk/coord.c zk/controller.c zk/zkutil.c zk/zkjson.c \
 *   zk/mq.c src/logger.c -ljansson -lzookeeper_mt -lpthread -o /tmp/zk_coord_smoke
 * Run:   /tmp/zk_coord_smoke 127.0.0.1:PORT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord_internal.h"
#include "logger.h"

static int failures;
#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			failures++;                                          \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		} else {                                                     \
			fprintf(stderr, "ok   %s\n", #cond);                 \
		}                                                            \
	} while (0)

typedef struct {
	int32_t id;
	keel_mq_t *mq;
	keel_coord_t *coord;
	keel_view_t *view;
	keel_cmd_t *done;
	bool saw_view;            /* a view arrived since the last submit */
	bool done_had_view_first; /* ... and before CMD_DONE */
	int registered;
} node_t;

static const char *zk_connect;
static zhandle_t *zh;

static void drain(node_t *n, int timeout_ms)
{
	keel_msg_t m;
	while (keel_mq_wait(n->mq, &m, timeout_ms) == 0) {
		timeout_ms = 0;
		if (m.type == KEEL_MSG_VIEW) {
			keel_view_free(n->view);
			n->view = m.payload;
			n->saw_view = true;
		} else if (m.type == KEEL_MSG_CMD_DONE) {
			n->done = m.payload;
			n->done_had_view_first = n->saw_view;
		} else if (m.type == KEEL_MSG_REGISTERED) {
			n->registered++;
		} else if (m.type == KEEL_MSG_FATAL) {
			fprintf(stderr, "FATAL from broker %d: %s\n", n->id, (char *)m.payload);
			free(m.payload);
		}
	}
}

typedef bool (*pred_t)(node_t *n, const void *arg);

static bool wait_for(node_t *n, pred_t p, const void *arg, int ms)
{
	int64_t end = keel_mono_ms() + ms;
	while (keel_mono_ms() < end) {
		drain(n, 100);
		if (p(n, arg))
			return true;
	}
	return false;
}

static bool has_controller(node_t *n, const void *arg)
{
	return n->view && n->view->controller_id == *(const int32_t *)arg;
}

static bool topic_led(node_t *n, const void *arg)
{
	const keel_view_topic_t *t = keel_view_topic(n->view, arg);
	if (!t || t->npartitions == 0)
		return false;
	for (int32_t p = 0; p < t->npartitions; p++)
		if (t->partitions[p].leader < 0)
			return false;
	return true;
}

static bool topic_gone(node_t *n, const void *arg)
{
	return n->view && !keel_view_topic(n->view, arg);
}

static bool nbrokers_is(node_t *n, const void *arg)
{
	return n->view && n->view->nbrokers == *(const int *)arg;
}

static void node_start(node_t *n, int32_t id, bool delete_enable)
{
	static const char *names[] = { "PLAINTEXT" }, *hosts[] = { "127.0.0.1" };
	static int32_t ports[2][1] = { { 9092 }, { 9093 } };
	keel_coord_config_t cfg = {
		.broker_id = id, .zk_connect = zk_connect, .session_timeout_ms = 6000,
		.connection_timeout_ms = 5000, .nendpoints = 1, .endpoint_names = names,
		.endpoint_hosts = hosts, .endpoint_ports = ports[id % 2], .num_partitions = 1,
		.default_replication_factor = 1, .delete_topic_enable = delete_enable,
		.auto_create_topics_enable = true,
	};
	char cid[64], err[256];
	int32_t got;
	n->id = id;
	if (!n->mq)
		n->mq = keel_mq_new();
	n->coord = keel_coord_new(&cfg, n->mq);
	if (keel_coord_start(n->coord, &got, cid, sizeof(cid), err, sizeof(err))) {
		fprintf(stderr, "start %d: %s\n", id, err);
		exit(2);
	}
}

static void node_stop(node_t *n)
{
	keel_coord_stop(n->coord);
	keel_coord_free(n->coord);
	n->coord = NULL;
}

static keel_cmd_t *cmd_create(const char *name, int32_t np, int16_t rf, bool auto_create)
{
	keel_cmd_t *c = calloc(1, sizeof(*c));
	c->type = KEEL_CMD_CREATE_TOPICS;
	c->auto_create = auto_create;
	c->ntopics = 1;
	c->topics = calloc(1, sizeof(*c->topics));
	c->topics[0].name = strdup(name);
	c->topics[0].num_partitions = np;
	c->topics[0].replication_factor = rf;
	c->topics[0].nconfigs = 1;
	c->topics[0].config_keys = calloc(1, sizeof(char *));
	c->topics[0].config_values = calloc(1, sizeof(char *));
	c->topics[0].config_keys[0] = strdup("retention.ms");
	c->topics[0].config_values[0] = strdup("86400000");
	return c;
}

static keel_cmd_t *cmd_delete(const char *name)
{
	keel_cmd_t *c = calloc(1, sizeof(*c));
	c->type = KEEL_CMD_DELETE_TOPICS;
	c->ntopics = 1;
	c->topics = calloc(1, sizeof(*c->topics));
	c->topics[0].name = strdup(name);
	return c;
}

/* Submit and wait for the answer; returns the topic's error code. */
static int16_t run_cmd(node_t *n, keel_cmd_t *cmd, char **msg)
{
	int64_t end = keel_mono_ms() + 10000;
	int16_t e;
	n->done = NULL;
	n->saw_view = false;
	keel_coord_submit(n->coord, cmd);
	while (!n->done && keel_mono_ms() < end)
		drain(n, 100);
	if (!n->done)
		return -999;
	e = n->done->topics[0].error;
	if (msg)
		*msg = n->done->topics[0].error_message ? strdup(n->done->topics[0].error_message)
							: NULL;
	keel_cmd_free(n->done);
	n->done = NULL;
	return e;
}

static char *zget(const char *path, int *version)
{
	char *d = NULL;
	int len;
	struct Stat st;
	if (zku_get(zh, path, 0, &d, &len, &st) != ZOK)
		return NULL;
	if (version)
		*version = st.version;
	return d ? d : strdup("");
}

static void check_registration(void)
{
	const char *want = "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":"
			   "\"PLAINTEXT\"},\"endpoints\":[\"PLAINTEXT://127.0.0.1:9093\"],"
			   "\"jmx_port\":-1,\"port\":9093,\"host\":\"127.0.0.1\",\"version\":5,"
			   "\"timestamp\":\"";
	char *b1 = zget("/brokers/ids/1", NULL), *b2 = zget("/brokers/ids/2", NULL);
	CHECK(b1 && b2, "both registered");
	CHECK(b1 && !strncmp(b1, want, strlen(want)), "json: %s", b1 ? b1 : "(null)");
	free(b1);
	free(b2);
}

int main(int argc, char **argv)
{
	node_t a = { 0 }, b = { 0 };
	char chroot[256], *s, *msg = NULL, err[256];
	int32_t ctl, other, two = 2, one = 1;
	node_t *nc, *no;

	klog_setup(getenv("SMOKE_DEBUG") ? KLOG_DEBUG : KLOG_INFO, NULL);
	snprintf(chroot, sizeof(chroot), "%s/keelsmoke%d", argc > 1 ? argv[1] : "127.0.0.1:2181",
		 (int)getpid());
	zk_connect = chroot;
	node_start(&a, 1, true);
	node_start(&b, 2, true);
	zh = zku_connect(chroot, 6000, 5000, NULL, NULL, err, sizeof(err));
	CHECK(zh != NULL, "checker connect: %s", err);
	check_registration();

	/* exactly one controller, epoch 1 */
	drain(&a, 500);
	drain(&b, 500);
	ctl = a.view ? a.view->controller_id : -1;
	CHECK(ctl == 1 || ctl == 2, "controller %d", ctl);
	CHECK(wait_for(&b, has_controller, &ctl, 5000), "b agrees");
	s = zget("/controller_epoch", NULL);
	CHECK(s && !strcmp(s, "1"), "epoch %s", s ? s : "(null)");
	free(s);
	s = zget("/cluster/id", NULL);
	CHECK(s && strstr(s, "\"version\":\"1\""), "cluster id %s", s ? s : "");
	free(s);
	nc = ctl == 1 ? &a : &b;
	no = ctl == 1 ? &b : &a;
	other = no->id;

	/* topic creation */
	CHECK(run_cmd(nc, cmd_create("smoke", 3, 1, false), NULL) == 0, "create smoke");
	CHECK(nc->done_had_view_first && topic_led(nc, "smoke"), "view with leaders before done");
	s = zget("/brokers/topics/smoke/partitions/2/state", NULL);
	CHECK(s && strstr(s, "\"leader_epoch\":0"), "state %s", s ? s : "(null)");
	free(s);
	s = zget("/brokers/topics/smoke", NULL);
	CHECK(s && strstr(s, "\"version\":3") && strstr(s, "topic_id"), "topic %s", s ? s : "");
	free(s);
	s = zget("/config/topics/smoke", NULL);
	CHECK(s && !strcmp(s, "{\"version\":1,\"config\":{\"retention.ms\":\"86400000\"}}"),
	      "config %s", s ? s : "");
	free(s);
	CHECK(wait_for(no, topic_led, "smoke", 5000), "other broker sees leaders");
	CHECK(run_cmd(nc, cmd_create("big", 3, 3, false), &msg) == 38, "rf 3");
	CHECK(msg && !strcmp(msg, "Replication factor: 3 larger than available brokers: 2."),
	      "msg %s", msg ? msg : "");
	free(msg);
	CHECK(run_cmd(nc, cmd_create("smoke", 3, 1, false), NULL) == 36, "exists");
	CHECK(run_cmd(nc, cmd_create("bad/name", 3, 1, false), NULL) == 17, "bad name");
	CHECK(run_cmd(nc, cmd_create("zero", 0, 1, false), NULL) == 37, "zero partitions");
	CHECK(run_cmd(no, cmd_create("x", 1, 1, false), NULL) == 41, "not controller");
	CHECK(run_cmd(no, cmd_create("auto", 4, 2, true), NULL) == 0, "auto-create elsewhere");
	CHECK(wait_for(no, topic_led, "auto", 5000), "auto topic led");
	CHECK(run_cmd(nc, cmd_create("many", 1000, 1, false), NULL) == 0, "1000 partitions");
	CHECK(topic_led(nc, "many"), "1000 led");

	/* deletion */
	CHECK(run_cmd(nc, cmd_delete("nope"), NULL) == 3, "delete unknown");
	CHECK(run_cmd(nc, cmd_delete("smoke"), NULL) == 0, "delete smoke");
	CHECK(topic_gone(nc, "smoke"), "gone from view");
	s = zget("/brokers/topics/smoke", NULL);
	CHECK(!s, "znode gone");
	free(s);
	s = zget("/admin/delete_topics/smoke", NULL);
	CHECK(!s, "admin znode gone");
	free(s);
	CHECK(wait_for(no, topic_gone, "smoke", 5000), "other sees it gone");
	CHECK(run_cmd(nc, cmd_delete("many"), NULL) == 0, "delete many");

	/* failover: stop the controller */
	node_stop(nc);
	CHECK(wait_for(no, has_controller, &other, 10000), "new controller %d", other);
	s = zget("/controller_epoch", NULL);
	CHECK(s && !strcmp(s, "2"), "epoch %s", s ? s : "(null)");
	free(s);
	CHECK(wait_for(no, nbrokers_is, &one, 5000), "one broker");
	{
		const keel_view_topic_t *t = keel_view_topic(no->view, "auto");
		int led = 0, off = 0;
		for (int32_t p = 0; t && p < t->npartitions; p++) {
			const keel_view_partition_t *vp = &t->partitions[p];
			if (vp->leader == other && vp->nisr == 1 && vp->isr[0] == other)
				led++;
			if (vp->leader == -1)
				off++;
		}
		/* RF 2 over 2 brokers: every partition has the survivor in its ISR */
		CHECK(t && led == 4 && off == 0, "after failover led=%d off=%d", led, off);
	}
	/* bring the old controller back; then kill the survivor's session */
	node_start(nc, ctl, true);
	CHECK(wait_for(no, nbrokers_is, &two, 5000), "two brokers again");
	for (int tries = 0; tries < 3 && no->registered == 0; tries++) {
		/* a second handle on the survivor's session, closed: the session ends */
		const clientid_t *cid = zoo_client_id(no->coord->zh);
		zhandle_t *dup = zookeeper_init(chroot, NULL, 6000, cid, NULL, 0);
		for (int i = 0; i < 500 && zoo_state(dup) != ZOO_CONNECTED_STATE; i++)
			usleep(2000);
		zookeeper_close(dup);
		int64_t end = keel_mono_ms() + 10000;
		while (no->registered == 0 && keel_mono_ms() < end)
			drain(no, 100);
	}
	CHECK(no->registered == 1, "re-registered after expiry");
	CHECK(wait_for(no, nbrokers_is, &two, 5000), "two brokers after expiry");
	s = zget("/controller", NULL);
	CHECK(s != NULL, "controller exists: %s", s ? s : "");
	free(s);
	CHECK(wait_for(no, topic_led, "auto", 10000), "auto led after expiry");

	node_stop(&a);
	node_stop(&b);
	drain(&a, 0);
	drain(&b, 0);
	keel_view_free(a.view);
	keel_view_free(b.view);
	keel_mq_free(a.mq);
	keel_mq_free(b.mq);
	zku_delete_recursive(zh, "/");
	zookeeper_close(zh);
	fprintf(stderr, "%s (%d failures)\n", failures ? "FAILED" : "PASSED", failures);
	return failures ? 1 : 0;
}
