/* zk/mq.c: mutex-protected FIFO plus an eventfd counter for poll/epoll integration. */
#include "mq.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct mq_node {
	struct mq_node *next;
	keel_msg_t msg;
} mq_node_t;

struct keel_mq {
	pthread_mutex_t lock;
	mq_node_t *head, *tail;
	int efd;
};

keel_mq_t *keel_mq_new(void)
{
	keel_mq_t *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void keel_mq_free(keel_mq_t *q)
{
	if (!q)
		return;
	while (q->head) {
		mq_node_t *n = q->head;
		q->head = n->next;
		free(n);
	}
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int keel_mq_fd(const keel_mq_t *q)
{
	return q->efd;
}

void keel_mq_post(keel_mq_t *q, int type, void *payload)
{
	mq_node_t *n = malloc(sizeof(*n));
	uint64_t one = 1;
	if (!n)
		abort(); /* cannot report: losing a message would corrupt state */
	n->next = NULL;
	n->msg.type = type;
	n->msg.payload = payload;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	pthread_mutex_unlock(&q->lock);
	while (write(q->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

int keel_mq_take(keel_mq_t *q, keel_msg_t *out)
{
	mq_node_t *n;
	uint64_t v;
	pthread_mutex_lock(&q->lock);
	n = q->head;
	if (n) {
		q->head = n->next;
		if (!q->head)
			q->tail = NULL;
	} else {
		/* drain under the lock so a concurrent post re-arms the counter after us */
		while (read(q->efd, &v, sizeof(v)) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&q->lock);
	if (!n)
		return -1;
	*out = n->msg;
	free(n);
	return 0;
}

int keel_mq_wait(keel_mq_t *q, keel_msg_t *out, int timeout_ms)
{
	struct pollfd p = {.fd = q->efd, .events = POLLIN};
	if (keel_mq_take(q, out) == 0)
		return 0;
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return keel_mq_take(q, out);
}
