/* src/logger.h: the one leveled logger; every line names its subsystem. Thread-safe. */
#ifndef KEEL_LOGGER_H
#define KEEL_LOGGER_H

#include <stdio.h>

typedef enum { KLOG_ERROR = 0, KLOG_WARN, KLOG_INFO, KLOG_DEBUG, KLOG_TRACE } klog_level_t;

/* Set the threshold and the destination (NULL = stderr). The FILE stays the caller's. */
void klog_setup(klog_level_t level, FILE *out);
/* Parse "error", "warn", "info", "debug", "trace"; returns -1 if unknown. */
int klog_level_parse(const char *s);
klog_level_t klog_level(void);

void klog_write(klog_level_t level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define klog(level, subsys, ...)                                    \
	do {                                                        \
		if ((level) <= klog_level())                        \
			klog_write((level), (subsys), __VA_ARGS__); \
	} while (0)
#define klog_error(sub, ...) klog(KLOG_ERROR, sub, __VA_ARGS__)
#define klog_warn(sub, ...) klog(KLOG_WARN, sub, __VA_ARGS__)
#define klog_info(sub, ...) klog(KLOG_INFO, sub, __VA_ARGS__)
#define klog_debug(sub, ...) klog(KLOG_DEBUG, sub, __VA_ARGS__)

#endif
