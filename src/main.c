/* src/main.c: keeld start-up and shutdown: arguments, configuration, logs, ZooKeeper
 * registration, the event loop, and SIGTERM as a clean shutdown. */
#include "api.h"
#include "broker.h"
#include "config.h"
#include "coord.h"
#include "logger.h"
#include "shutdown.h"

#include "keel_autoconf.h" /* PACKAGE_VERSION */
#include <pthread.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: keeld CONFIG [--override key=value]...\n"
		     "       keeld --help | --version\n"
		     "Runs a keel broker with the Kafka-style server.properties CONFIG.\n");
}

/* Load the file, then the overrides. Returns 0 or prints the error (naming the key) and -1. */
static int load_config(keel_config_t *cfg, int argc, char **argv)
{
	char err[512];
	const char *file = NULL;
	keel_config_defaults(cfg);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--override") == 0) {
			if (++i >= argc || !strchr(argv[i], '=')) {
				fprintf(stderr, "keeld: --override needs key=value\n");
				return -1;
			}
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "keeld: unknown option %s\n", argv[i]);
			usage(stderr);
			return -1;
		} else if (!file) {
			file = argv[i];
		} else {
			fprintf(stderr, "keeld: more than one CONFIG given\n");
			return -1;
		}
	}
	if (!file) {
		usage(stderr);
		return -1;
	}
	if (keel_config_load(cfg, file, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keeld: invalid configuration: %s\n", err);
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--override") != 0)
			continue;
		char *kv = strdup(argv[++i]), *eq = strchr(kv, '=');
		*eq = '\0';
		int rc = keel_config_set(cfg, kv, eq + 1, err, sizeof(err));
		free(kv);
		if (rc != KEEL_OK) {
			fprintf(stderr, "keeld: invalid configuration: %s\n", err);
			return -1;
		}
	}
	if (keel_config_finish(cfg, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keeld: invalid configuration: %s\n", err);
		return -1;
	}
	return 0;
}

static void on_signal(keel_loop_t *loop, int fd, uint32_t events, void *arg)
{
	keel_broker_t *b = arg;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		klog_info("main", "signal %u: shutting down", si.ssi_signo);
		b->stopping = true;
		keel_shutdown_begin(b);
	}
}

static void signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	/* before any thread starts (disk worker, ZooKeeper client, coordination), so that every
	 * thread inherits the mask and only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int setup_signals(keel_broker_t *b)
{
	sigset_t set;
	signals_block(&set);
	b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return b->signal_fd < 0 ? -1 : keel_loop_add(b->loop, b->signal_fd, EPOLLIN, on_signal, b);
}

/* Build the coordination config from ours (advertised endpoints). */
static keel_coord_t *start_coord(keel_broker_t *b, const char *cluster_hint)
{
	keel_config_t *cfg = b->cfg;
	const char *names[KEEL_MAX_LISTENERS], *hosts[KEEL_MAX_LISTENERS], *protos[KEEL_MAX_LISTENERS];
	int32_t ports[KEEL_MAX_LISTENERS];
	char err[512];
	for (int i = 0; i < cfg->nadvertised; i++) {
		names[i] = cfg->advertised[i].name;
		hosts[i] = cfg->advertised[i].host;
		ports[i] = cfg->advertised[i].port;
		protos[i] = cfg->advertised[i].security_protocol[0] ? cfg->advertised[i].security_protocol : NULL;
	}
	keel_coord_config_t cc = {
		.broker_id = cfg->broker_id,
		.reserved_broker_max_id = cfg->reserved_broker_max_id,
		.max_in_flight = cfg->zookeeper_max_in_flight_requests,
		.zk_connect = cfg->zookeeper_connect,
		.session_timeout_ms = cfg->zk_session_timeout_ms,
		.connection_timeout_ms = cfg->zk_connection_timeout_ms,
		.nendpoints = cfg->nadvertised,
		.endpoint_names = names,
		.endpoint_hosts = hosts,
		.endpoint_ports = ports,
		.endpoint_protocols = protos,
		.rack = cfg->broker_rack,
		.inter_broker_listener = cfg->inter_broker_listener_name,
		.num_partitions = cfg->num_partitions,
		.default_replication_factor = cfg->default_replication_factor,
		.delete_topic_enable = cfg->delete_topic_enable,
		.unclean_leader_election_enable = cfg->unclean_leader_election_enable,
		.auto_create_topics_enable = cfg->auto_create_topics_enable,
		.cluster_id_hint = cluster_hint && cluster_hint[0] ? cluster_hint : NULL,
		.auto_leader_rebalance_enable = cfg->auto_leader_rebalance_enable,
		.leader_imbalance_check_interval_seconds = cfg->leader_imbalance_check_interval_seconds,
		.leader_imbalance_per_broker_percentage = cfg->leader_imbalance_per_broker_percentage,
	};
	keel_coord_t *c = keel_coord_new(&cc, b->mq);
	int32_t id;
	if (!c)
		return NULL;
	if (keel_coord_start(c, &id, b->cluster_id, sizeof(b->cluster_id), err, sizeof(err)) != 0) {
		klog_error("main", "%s", err);
		keel_coord_free(c);
		return NULL;
	}
	b->id = id;
	return c;
}

int main(int argc, char **argv)
{
	keel_config_t cfg;
	keel_broker_t b;
	char meta_cluster[64];
	int32_t meta_id;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("keeld %s\n", PACKAGE_VERSION);
		return 0;
	}
	sigset_t blocked;
	signals_block(&blocked);
	if (load_config(&cfg, argc, argv) < 0)
		return 1;
	klog_setup((klog_level_t)klog_level_parse(cfg.keel_log_level), NULL);
	if (keel_broker_init(&b, &cfg) < 0 || setup_signals(&b) < 0) {
		klog_error("main", "cannot initialise: %s", strerror(errno));
		return 1;
	}
	if (keel_broker_read_meta(&b, &meta_id, meta_cluster, sizeof(meta_cluster)) && cfg.broker_id >= 0 &&
	    meta_id >= 0 && meta_id != cfg.broker_id) {
		klog_error("main", "broker.id %d does not match broker.id=%d in meta.properties of log.dirs",
			   cfg.broker_id, meta_id);
		return 1;
	}
	if (cfg.broker_id < 0 && meta_id >= 0)
		cfg.broker_id = b.id = meta_id;
	if (keel_broker_load_logs(&b) < 0 || keel_broker_listen(&b) < 0)
		return 1;
	b.coord = start_coord(&b, meta_cluster);
	if (!b.coord)
		return 1;
	if (keel_broker_write_meta(&b) < 0)
		klog_warn("main", "cannot write meta.properties: %s", strerror(errno));
	if (keel_broker_wait_view(&b, cfg.zk_session_timeout_ms) < 0) {
		klog_error("main", "no cluster view from ZooKeeper within %d ms", cfg.zk_session_timeout_ms);
		keel_coord_stop(b.coord);
		return 1;
	}
	keel_loop_add(b.loop, keel_mq_fd(b.mq), EPOLLIN, keel_broker_on_mq, &b);
	klog_info("main", "keeld %s started: broker %d, cluster %s", PACKAGE_VERSION, b.id, b.cluster_id);
	keel_loop_run(b.loop);
	keel_timer_cancel(b.loop, &b.shutdown_timer);
	keel_shutdown_join(&b);
	keel_broker_shutdown(&b);
	keel_coord_stop(b.coord);
	keel_coord_free(b.coord);
	b.coord = NULL;
	/* messages posted after the loop stopped carry owned payloads */
	keel_msg_t m;
	while (keel_mq_take(b.mq, &m) == 0) {
		if (m.type == KEEL_MSG_VIEW)
			keel_view_free(m.payload);
		else if (m.type == KEEL_MSG_CMD_DONE)
			keel_cmd_free(m.payload);
		else if (m.type == KEEL_MSG_CTL_SEND)
			keel_ctl_send_free(m.payload);
		else if (m.type == KEEL_MSG_LOG_CREATED)
			keel_new_log_discard(m.payload);
		else
			free(m.payload);
	}
	klog_info("main", "keeld stopped");
	keel_broker_free(&b);
	keel_config_free(&cfg);
	return b.exit_code;
}
