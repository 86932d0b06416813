/* src/loop.c: epoll readiness dispatch plus a binary min-heap of timers. */
#include "loop.h"
#include "keel.h"
#include "logger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct {
	keel_io_fn fn;
	void *arg;
	bool used;
} io_slot_t;

struct keel_loop {
	int epfd;
	io_slot_t *slots; /* indexed by fd */
	int nslots;
	keel_timer_t **heap;
	int nheap, capheap;
	bool stop;
	void (*before_sleep)(keel_loop_t *, void *);
	void *before_sleep_arg;
};

keel_loop_t *keel_loop_new(void)
{
	keel_loop_t *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void keel_loop_free(keel_loop_t *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->slots);
	free(l->heap);
	free(l);
}

static int ensure_slot(keel_loop_t *l, int fd)
{
	if (fd < l->nslots)
		return 0;
	int n = l->nslots ? l->nslots : 64;
	while (n <= fd)
		n *= 2;
	io_slot_t *s = realloc(l->slots, (size_t)n * sizeof(*s));
	if (!s)
		return -1;
	memset(s + l->nslots, 0, (size_t)(n - l->nslots) * sizeof(*s));
	l->slots = s;
	l->nslots = n;
	return 0;
}

int keel_loop_add(keel_loop_t *l, int fd, uint32_t events, keel_io_fn fn, void *arg)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (ensure_slot(l, fd) < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	l->slots[fd] = (io_slot_t){fn, arg, true};
	return 0;
}

int keel_loop_mod(keel_loop_t *l, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void keel_loop_del(keel_loop_t *l, int fd)
{
	if (fd >= 0 && fd < l->nslots && l->slots[fd].used) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		l->slots[fd].used = false;
	}
}

/* ---- timers: min-heap on deadline ---- */

static void heap_swap(keel_loop_t *l, int a, int b)
{
	keel_timer_t *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_index = a;
	l->heap[b]->heap_index = b;
}

static void heap_up(keel_loop_t *l, int i)
{
	while (i > 0 && l->heap[(i - 1) / 2]->deadline > l->heap[i]->deadline) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(keel_loop_t *l, int i)
{
	for (;;) {
		int m = i, a = 2 * i + 1, b = 2 * i + 2;
		if (a < l->nheap && l->heap[a]->deadline < l->heap[m]->deadline)
			m = a;
		if (b < l->nheap && l->heap[b]->deadline < l->heap[m]->deadline)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void keel_timer_init(keel_timer_t *t, void (*fn)(keel_loop_t *, keel_timer_t *))
{
	t->deadline = 0;
	t->heap_index = -1;
	t->fn = fn;
}

void keel_timer_cancel(keel_loop_t *l, keel_timer_t *t)
{
	int i = t->heap_index;
	if (i < 0)
		return;
	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_index = i;
		heap_down(l, i);
		heap_up(l, i);
	}
	t->heap_index = -1;
}

void keel_timer_arm(keel_loop_t *l, keel_timer_t *t, int64_t ms)
{
	keel_timer_cancel(l, t);
	if (l->nheap == l->capheap) {
		int cap = l->capheap ? l->capheap * 2 : 64;
		keel_timer_t **h = realloc(l->heap, (size_t)cap * sizeof(*h));
		if (!h)
			abort(); /* a lost timer would hang a request forever */
		l->heap = h;
		l->capheap = cap;
	}
	t->deadline = keel_mono_ms() + (ms > 0 ? ms : 0);
	t->heap_index = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->heap_index);
}

static void run_timers(keel_loop_t *l)
{
	int64_t now = keel_mono_ms();
	while (l->nheap > 0 && l->heap[0]->deadline <= now) {
		keel_timer_t *t = l->heap[0];
		keel_timer_cancel(l, t);
		t->fn(l, t);
	}
}

void keel_loop_set_before_sleep(keel_loop_t *l, void (*fn)(keel_loop_t *, void *), void *arg)
{
	l->before_sleep = fn;
	l->before_sleep_arg = arg;
}

void keel_loop_stop(keel_loop_t *l)
{
	l->stop = true;
}

int keel_loop_run(keel_loop_t *l)
{
	struct epoll_event evs[256];
	while (!l->stop) {
		int timeout = -1;
		if (l->before_sleep)
			l->before_sleep(l, l->before_sleep_arg);
		if (l->stop)
			break;
		if (l->nheap > 0) {
			int64_t d = l->heap[0]->deadline - keel_mono_ms();
			timeout = d < 0 ? 0 : (d > 1000000 ? 1000000 : (int)d);
		}
		int n = epoll_wait(l->epfd, evs, (int)KEEL_ARRAY_LEN(evs), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			klog_error("loop", "epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			/* a callback earlier in this batch may have removed fd */
			if (fd < l->nslots && l->slots[fd].used)
				l->slots[fd].fn(l, fd, evs[i].events, l->slots[fd].arg);
		}
		run_timers(l);
	}
	return 0;
}
