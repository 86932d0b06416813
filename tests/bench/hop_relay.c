/* tests/bench/hop_relay.c: the machine's own latency floor, for bench_replication.py.
 *
 * A ring of N processes joined by loopback TCP connections (TCP_NODELAY): process 0 sends its
 * monotonic clock, every other process passes the 8 bytes on to the next, and process 0 times
 * their return. No broker, no client library, no work at all: only the wake-ups and socket
 * hand-offs a record's trip through N processes costs at the least. With --rate the sends
 * follow a fixed schedule (as keel-e2e-latency.sh --rate does); without it the next one leaves
 * when the previous one is back. Prints the percentiles in keel-e2e-latency.sh's format.
 *
 * usage: hop-relay --hops N [--rate RPS] [--num-records N] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_HOPS 16

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "hop-relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int read8(int fd, int64_t *v)
{
	size_t got = 0;
	while (got < sizeof(*v)) {
		ssize_t n = read(fd, (char *)v + got, sizeof(*v) - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static void write8(int fd, int64_t v)
{
	if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		die("write");
}

/* Process `hop`: pass every timestamp from `in` on to `out` until `in` closes. */
static void relay(int in, int out)
{
	int64_t v;
	while (read8(in, &v) == 0)
		write8(out, v);
	_exit(0);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Wait until `due` (ns), timing whatever comes back meanwhile. */
static void collect_until(int in, int64_t due, int64_t *lat, long *got)
{
	for (int64_t left; (left = due - now_ns()) > 0;) {
		struct pollfd p = {.fd = in, .events = POLLIN};
		struct timespec ts = {left / 1000000000, left % 1000000000};
		int64_t v;
		if (ppoll(&p, 1, &ts, NULL) > 0) {
			if (read8(in, &v) < 0)
				die("read");
			lat[(*got)++] = now_ns() - v;
		}
	}
}

int main(int argc, char **argv)
{
	int hops = 0;
	long rate = 0, n = 10000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--hops") == 0)
			hops = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--num-records") == 0)
			n = atol(argv[i + 1]);
	}
	if (hops < 2 || hops > MAX_HOPS || rate < 0 || n <= 0) {
		fprintf(stderr, "usage: hop-relay --hops N (2..%d) [--rate RPS] [--num-records N]\n", MAX_HOPS);
		return 2;
	}
	int lfd[MAX_HOPS];
	uint16_t port[MAX_HOPS];
	for (int i = 0; i < hops; i++)
		lfd[i] = listener(&port[i]);
	for (int i = 1; i < hops; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int out = connect_to(port[(i + 1) % hops]);
			int in = accept(lfd[i], NULL, NULL);
			if (in < 0)
				die("accept");
			relay(in, out);
		}
	}
	int out = connect_to(port[1]);
	int in = accept(lfd[0], NULL, NULL);
	if (in < 0)
		die("accept");
	int64_t *lat = calloc((size_t)n, sizeof(*lat)), v;
	long got = 0;
	int64_t start = now_ns();
	for (long k = 0; k < n; k++) {
		if (rate) {
			collect_until(in, start + (int64_t)((double)k * 1e9 / (double)rate), lat, &got);
			write8(out, now_ns());
		} else {
			write8(out, now_ns());
			if (read8(in, &v) < 0)
				die("read");
			lat[got++] = now_ns() - v;
		}
	}
	while (got < n && read8(in, &v) == 0)
		lat[got++] = now_ns() - v;
	close(out); /* the ring closes hop by hop and every relay exits */
	while (wait(NULL) > 0)
		;
	qsort(lat, (size_t)got, sizeof(*lat), cmp_i64);
	printf("%ld trips through %d processes: 50th = %.3f, 99th = %.3f, 99.9th = %.3f, max = %.3f ms\n",
	       got, hops, lat[got / 2] / 1e6, lat[got * 99 / 100] / 1e6, lat[got * 999 / 1000] / 1e6,
	       lat[got - 1] / 1e6);
	free(lat);
	return got == n ? 0 : 1;
}
