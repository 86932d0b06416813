/* zk/mq.h: a thread-safe message queue whose readiness is an eventfd the loop polls. */
#ifndef KEEL_MQ_H
#define KEEL_MQ_H

typedef struct keel_mq keel_mq_t;

typedef struct {
	int type;
	void *payload;
} keel_msg_t;

keel_mq_t *keel_mq_new(void);
void keel_mq_free(keel_mq_t *q);      /* drops queued messages without freeing payloads */
int keel_mq_fd(const keel_mq_t *q);   /* eventfd: readable when messages wait */
void keel_mq_post(keel_mq_t *q, int type, void *payload); /* any thread */
/* Take one message; returns 0 if one was taken, -1 if empty (and the eventfd is drained). */
int keel_mq_take(keel_mq_t *q, keel_msg_t *out);
/* Block until a message arrives or timeout_ms passes (-1 = forever); 0 if one was taken. */
int keel_mq_wait(keel_mq_t *q, keel_msg_t *out, int timeout_ms);

#endif
