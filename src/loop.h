/* src/loop.h: the single-threaded epoll event loop: fd readiness callbacks and one-shot timers. */
#ifndef KEEL_LOOP_H
#define KEEL_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct keel_loop keel_loop_t;

/* Called on the loop thread with the epoll events (EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP). */
typedef void (*keel_io_fn)(keel_loop_t *loop, int fd, uint32_t events, void *arg);

/* A timer lives in its owner's struct; the loop only links it. */
typedef struct keel_timer {
	int64_t deadline;  /* monotonic ms */
	int heap_index;    /* -1 when not armed */
	void (*fn)(keel_loop_t *loop, struct keel_timer *t);
} keel_timer_t;

keel_loop_t *keel_loop_new(void);
void keel_loop_free(keel_loop_t *loop);

/* Register fd for events with callback; modify the event mask; remove. Return 0 or -1. */
int keel_loop_add(keel_loop_t *loop, int fd, uint32_t events, keel_io_fn fn, void *arg);
int keel_loop_mod(keel_loop_t *loop, int fd, uint32_t events);
void keel_loop_del(keel_loop_t *loop, int fd);

void keel_timer_init(keel_timer_t *t, void (*fn)(keel_loop_t *, keel_timer_t *));
/* Arm (or re-arm) t to fire after ms milliseconds. */
void keel_timer_arm(keel_loop_t *loop, keel_timer_t *t, int64_t ms);
void keel_timer_cancel(keel_loop_t *loop, keel_timer_t *t);
static inline bool keel_timer_armed(const keel_timer_t *t) { return t->heap_index >= 0; }

/* Hook run once per iteration just before the loop sleeps (flush pending writes). */
void keel_loop_set_before_sleep(keel_loop_t *loop, void (*fn)(keel_loop_t *, void *), void *arg);

/* Run until keel_loop_stop. Returns 0, or -1 if epoll failed. */
int keel_loop_run(keel_loop_t *loop);
void keel_loop_stop(keel_loop_t *loop);

#endif
