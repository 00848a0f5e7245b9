/*
 * The event loop: every input of PID 1 (signals, timers, input devices, and
 * later sockets) is a file descriptor in one epoll set, and its handler runs
 * here, never in a signal handler.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "core/core-internal.h"

static int epfd = -1;

int
event_init(void)
{
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("event: epoll_create1");
		return -1;
	}
	return 0;
}

int
event_add(struct event *ev, uint32_t events)
{
	struct epoll_event	 ee;

	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = ev;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, ev->fd, &ee);
}

int
event_del(struct event *ev)
{
	return epoll_ctl(epfd, EPOLL_CTL_DEL, ev->fd, NULL);
}

/*
 * One event per epoll_wait: a handler may close and free another source,
 * and a batch could then still hold a pointer to it. PID 1 sees a handful of
 * events a minute, so the extra system calls cost nothing.
 */
int
event_once(int timeout_ms)
{
	struct epoll_event	 ee;
	struct event		*ev;
	int			 n;

	n = epoll_wait(epfd, &ee, 1, timeout_ms);
	if (n == -1 && errno == EINTR)
		return 0;
	if (n == 1) {
		ev = ee.data.ptr;
		ev->handler(ev, ee.events);
	}
	return n;
}

void
event_loop(void)
{
	for (;;)
		if (event_once(-1) == -1)
			fatal("event: epoll_wait");
}

static void
timer_handler(struct event *ev, uint32_t events)
{
	struct timer	*t = ev->arg;
	uint64_t	 expirations;

	(void)events;
	if (read(ev->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;		/* EAGAIN: disarmed or re-armed meanwhile */
	t->fire(t);
}

int
timer_init(struct timer *t, void (*fire)(struct timer *), void *arg)
{
	t->fire = fire;
	t->arg = arg;
	t->ev.arg = t;
	t->ev.handler = timer_handler;
	t->ev.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->ev.fd == -1)
		return -1;
	if (event_add(&t->ev, EPOLLIN) == -1) {
		close(t->ev.fd);
		t->ev.fd = -1;
		return -1;
	}
	return 0;
}

int
timer_set(struct timer *t, uint64_t ms)
{
	struct itimerspec	 its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000;
	return timerfd_settime(t->ev.fd, 0, &its, NULL);
}
