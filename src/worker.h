/* src/worker.h: one background thread for blocking disk work (checkpoint files with fsync), so
 * the event loop never waits on the disk. Jobs run in submission order. */
#ifndef KEEL_WORKER_H
#define KEEL_WORKER_H

#include <stdint.h>

typedef struct keel_worker keel_worker_t;

keel_worker_t *keel_worker_start(void);
/* Run fn(arg) on the worker thread; fn owns arg. Any thread. */
void keel_worker_submit(keel_worker_t *w, void (*fn)(void *), void *arg);
/* Run fn(arg) on the worker thread once delay_ms have passed (at once if <= 0), or when the
 * worker stops, whichever is first. Any thread. */
void keel_worker_submit_after(keel_worker_t *w, int64_t delay_ms, void (*fn)(void *), void *arg);
/* Run every queued job (delayed ones too, without waiting), then join the thread and free w. */
void keel_worker_stop(keel_worker_t *w);

#endif
