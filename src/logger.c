/* src/logger.c: leveled log lines "<iso time> LEVEL [subsys] message" to stderr or a file. */
#include "logger.h"
#include "keel.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static klog_level_t g_level = KLOG_INFO;
static FILE *g_out;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const g_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void klog_setup(klog_level_t level, FILE *out)
{
	g_level = level;
	g_out = out;
}

klog_level_t klog_level(void)
{
	return g_level;
}

int klog_level_parse(const char *s)
{
	for (size_t i = 0; i < KEEL_ARRAY_LEN(g_names); i++)
		if (strcasecmp(s, g_names[i]) == 0)
			return (int)i;
	return -1;
}

void klog_write(klog_level_t level, const char *subsys, const char *fmt, ...)
{
	struct timeval tv;
	struct tm tm;
	char ts[32];
	va_list ap;
	FILE *out = g_out ? g_out : stderr;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&g_lock);
	fprintf(out, "%s.%03ldZ %s [%s] ", ts, (long)(tv.tv_usec / 1000), g_names[level], subsys);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&g_lock);
}

int64_t keel_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t keel_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
