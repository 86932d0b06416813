/* tools/keel_admin.c: keel-admin's main: subcommand dispatch and the option parsing,
 * k=v lists, librdkafka set-up, replica assignment and ZooKeeper reads the subcommands share. */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "keel.h"
#include "logger.h"

static const admin_cmd_t *const g_cmds[] = {
	&admin_cmd_topics,        &admin_cmd_produce,       &admin_cmd_consume,
	&admin_cmd_producer_perf, &admin_cmd_consumer_perf, &admin_cmd_leader_election,
	&admin_cmd_reassign_partitions, &admin_cmd_consumer_groups, &admin_cmd_e2e_latency,
};

static const char g_main_usage[] =
	"Usage: keel-admin COMMAND [OPTIONS]\n"
	"Commands (each also has a wrapper script in scripts/):\n"
	"  topics          create, delete, list or describe topics   (keel-topics.sh)\n"
	"  produce         write stdin lines to a topic             (keel-console-producer.sh)\n"
	"  consume         print a topic's records                  (keel-console-consumer.sh)\n"
	"  producer-perf   producer throughput and latency test     (keel-producer-perf-test.sh)\n"
	"  consumer-perf   consumer throughput test                 (keel-consumer-perf-test.sh)\n"
	"  e2e-latency     produce-to-consume latency test          (keel-e2e-latency.sh)\n"
	"  leader-election elect preferred (or unclean) leaders     (keel-leader-election.sh)\n"
	"  reassign-partitions move partitions between brokers   (keel-reassign-partitions.sh)\n"
	"  consumer-groups list, describe, delete groups; reset offsets (keel-consumer-groups.sh)\n"
	"Run 'keel-admin COMMAND --help' for a command's options.\n";

volatile int admin_stop;

/* ---- messages ---- */

int admin_help(const admin_cmd_t *cmd)
{
	fputs(cmd->usage, stdout);
	return 0;
}

int admin_usage_error(const admin_cmd_t *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd->script);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(cmd->usage, stderr);
	return 1;
}

int admin_error(const admin_cmd_t *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd->script);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* ---- option parser ---- */

void admin_parser_init(admin_parser_t *p, const admin_cmd_t *cmd, int argc, char **argv)
{
	p->argc = argc;
	p->argv = argv;
	p->i = 1;
	p->multi_id = 0;
	p->cmd = cmd;
}

/* The option named by the first len bytes of name: an exact match, else a unique prefix
 * (joptsimple accepts abbreviations too). NULL if none or ambiguous. */
static const admin_opt_t *find_opt(const admin_opt_t *opts, const char *name, size_t len)
{
	const admin_opt_t *found = NULL;
	int nprefix = 0;

	for (const admin_opt_t *o = opts; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len)
			return o;
		found = o;
		nprefix++;
	}
	return nprefix == 1 ? found : NULL;
}

int admin_getopt(admin_parser_t *p, const admin_opt_t *opts, const char **val)
{
	*val = NULL;
	if (p->multi_id && p->i < p->argc && strncmp(p->argv[p->i], "--", 2) != 0) {
		*val = p->argv[p->i++];
		return p->multi_id;
	}
	p->multi_id = 0;
	if (p->i >= p->argc)
		return ADMIN_OPT_END;

	const char *arg = p->argv[p->i++];
	if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		return admin_usage_error(p->cmd, "'%s' is not a recognized option", arg), ADMIN_OPT_ERROR;
	const char *name = arg + 2;
	const char *eq = strchr(name, '=');
	const admin_opt_t *o = find_opt(opts, name, eq ? (size_t)(eq - name) : strlen(name));
	if (!o)
		return admin_usage_error(p->cmd, "'%s' is not a recognized option", arg), ADMIN_OPT_ERROR;
	if (o->arg == ADMIN_ARG_NONE) {
		if (eq)
			return admin_usage_error(p->cmd, "option --%s takes no argument", o->name),
			       ADMIN_OPT_ERROR;
		return o->id;
	}
	if (eq) {
		*val = eq + 1;
	} else if (o->arg == ADMIN_ARG_OPTIONAL) {
		if (p->i < p->argc && strncmp(p->argv[p->i], "--", 2) != 0)
			*val = p->argv[p->i++];
	} else if (p->i < p->argc) {
		*val = p->argv[p->i++];
	} else {
		return admin_usage_error(p->cmd, "option --%s requires an argument", o->name),
		       ADMIN_OPT_ERROR;
	}
	if (o->arg == ADMIN_ARG_MULTI)
		p->multi_id = o->id;
	return o->id;
}

int admin_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- k=v lists ---- */

void admin_kv_put(admin_kv_t *kv, const char *key, const char *value)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap ? kv->cap * 2 : 8;
		kv->keys = realloc(kv->keys, sizeof(char *) * (size_t)kv->cap);
		kv->values = realloc(kv->values, sizeof(char *) * (size_t)kv->cap);
		if (!kv->keys || !kv->values)
			abort();
	}
	kv->keys[kv->n] = strdup(key);
	kv->values[kv->n] = strdup(value);
	if (!kv->keys[kv->n] || !kv->values[kv->n])
		abort();
	kv->n++;
}

int admin_kv_add(admin_kv_t *kv, const char *kvstr)
{
	const char *eq = strchr(kvstr, '=');
	if (!eq || eq == kvstr)
		return -1;
	char *key = strndup(kvstr, (size_t)(eq - kvstr));
	if (!key)
		abort();
	admin_kv_put(kv, key, eq + 1);
	free(key);
	return 0;
}

const char *admin_kv_get(const admin_kv_t *kv, const char *key)
{
	for (int i = kv->n - 1; i >= 0; i--)
		if (strcmp(kv->keys[i], key) == 0)
			return kv->values[i];
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int admin_kv_load_file(admin_kv_t *kv, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) >= 0) {
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == '!')
			continue;
		char *sep = strpbrk(s, "=:");
		if (!sep)
			continue;
		*sep = '\0';
		admin_kv_put(kv, trim(s), trim(sep + 1));
	}
	free(line);
	fclose(f);
	return 0;
}

void admin_kv_free(admin_kv_t *kv)
{
	for (int i = 0; i < kv->n; i++) {
		free(kv->keys[i]);
		free(kv->values[i]);
	}
	free(kv->keys);
	free(kv->values);
	memset(kv, 0, sizeof(*kv));
}

/* ---- librdkafka ---- */

/* librdkafka's log lines go through the keel logger; the level filter is log_level. */
static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	klog_write(level <= 3 ? KLOG_ERROR : level == 4 ? KLOG_WARN : KLOG_DEBUG, "rdkafka", "%s: %s",
		   fac, buf);
}

/* Error events: the log line already told the story of connection failures; only fatal
 * errors and "all brokers down" are worth a second line. */
static void rk_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		klog_write(KLOG_ERROR, "rdkafka", "%s", reason);
}

int admin_rk_set(const admin_cmd_t *cmd, rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		return admin_error(cmd, "%s", errstr), -1;
	return 0;
}

rd_kafka_conf_t *admin_rk_conf(const admin_cmd_t *cmd, const char *bootstrap, const admin_kv_t *props)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set_log_cb(conf, rk_log_cb);
	rd_kafka_conf_set_error_cb(conf, rk_error_cb);
	if (admin_rk_set(cmd, conf, "log_level", "3") < 0 ||
	    (bootstrap && admin_rk_set(cmd, conf, "bootstrap.servers", bootstrap) < 0))
		goto fail;
	for (int i = 0; props && i < props->n; i++)
		if (admin_rk_set(cmd, conf, props->keys[i], props->values[i]) < 0)
			goto fail;
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_resp_err_t admin_metadata(rd_kafka_t *rk, int timeout_ms, const struct rd_kafka_metadata **md)
{
	return rd_kafka_metadata(rk, 1, NULL, md, timeout_ms);
}

const rd_kafka_metadata_topic_t *admin_md_topic(const struct rd_kafka_metadata *md, const char *name)
{
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, name) == 0)
			return &md->topics[i];
	return NULL;
}

/* ---- replica assignment ---- */

int admin_assign_check(int32_t nbrokers, int32_t npart, int32_t rf, char *err, size_t errlen)
{
	if (npart <= 0)
		snprintf(err, errlen, "Number of partitions must be larger than 0.");
	else if (rf <= 0)
		snprintf(err, errlen, "Replication factor must be larger than 0.");
	else if (rf > nbrokers)
		snprintf(err, errlen, "Replication factor: %d larger than available brokers: %d.", rf,
			 nbrokers);
	else
		return 0;
	return -1;
}

static uint32_t rand_below(uint32_t n)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)getpid() ^ (uint32_t)keel_now_ms();
	return r % n;
}

void admin_assign_replicas(const int32_t *brokers, int32_t n, int32_t npart, int32_t rf,
			   int32_t **out)
{
	uint32_t start = rand_below((uint32_t)n), shift = rand_below((uint32_t)n);

	for (int32_t p = 0; p < npart; p++) {
		if (p > 0 && p % n == 0)
			shift++;
		uint32_t first = (uint32_t)(p + (int32_t)start) % (uint32_t)n;
		out[p][0] = brokers[first];
		for (int32_t j = 0; j < rf - 1; j++) {
			uint32_t s = 1 + (shift + (uint32_t)j) % (uint32_t)(n - 1);
			out[p][j + 1] = brokers[(first + s) % (uint32_t)n];
		}
	}
}

/* ---- ZooKeeper ---- */

static int cmp_id(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

int admin_zk_broker_ids(zhandle_t *zh, int32_t **ids, int32_t *n)
{
	struct String_vector v = {0};
	int rc = zku_children(zh, "/brokers/ids", 0, &v);

	*ids = NULL;
	*n = 0;
	if (rc != ZOK && rc != ZNONODE)
		return rc;
	if (!(*ids = calloc((size_t)v.count + 1, sizeof(int32_t))))
		abort();
	for (int i = 0; i < v.count; i++) {
		int64_t id;
		if (admin_parse_int(v.data[i], 0, INT32_MAX, &id) == 0)
			(*ids)[(*n)++] = (int32_t)id;
	}
	keel_qsort(*ids, (size_t)*n, sizeof(int32_t), cmp_id);
	if (rc == ZOK)
		deallocate_String_vector(&v);
	return ZOK;
}

static void on_signal(int sig)
{
	admin_stop = 1;
}

void admin_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int64_t admin_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t admin_mono_us(void)
{
	return admin_mono_ns() / 1000;
}

int admin_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	klog_setup(KLOG_WARN, stderr);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(g_main_usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(g_main_usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < KEEL_ARRAY_LEN(g_cmds); i++)
		if (strcmp(argv[1], g_cmds[i]->name) == 0)
			return g_cmds[i]->run(argc - 1, argv + 1);
	fprintf(stderr, "keel-admin: unknown command '%s'\n", argv[1]);
	fputs(g_main_usage, stderr);
	return 1;
}
