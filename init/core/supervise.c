/*
 * Supervision, after s6-supervise: a service is UP (running), BACKOFF
 * (exited, waiting to restart) or DOWN (not wanted, or the system is
 * shutting down). Two starts are at least a second apart, and a service
 * that keeps dying quickly waits longer each time, up to a minute, so a
 * broken getty can not flood the serial console.
 */
#include <signal.h>
#include <stddef.h>

#include "core/core.h"

#define SVC_OF(p, member) \
	((struct service *)((char *)(p) - offsetof(struct service, member)))

/* The next minimum gap between starts, after a run of ran ms. */
uint64_t
service_next_delay(uint64_t delay, uint64_t ran)
{
	if (delay == 0 || ran >= SVC_STABLE)
		return SVC_MIN_DELAY;
	delay *= 2;
	return delay > SVC_MAX_DELAY ? SVC_MAX_DELAY : delay;
}

static void
svc_spawn(struct service *s)
{
	pid_t	 pid;

	if (!s->want_up || shutdown_running()) {
		s->state = SVC_DOWN;
		return;
	}
	s->started = now_ms();
	if ((pid = spawn(s->argv, NULL)) == -1) {
		log_warn("%s: fork", s->name);
		s->delay = service_next_delay(s->delay, 0);
		s->state = SVC_BACKOFF;
		timer_set(&s->timer, s->delay);
		return;
	}
	s->child.pid = pid;
	child_watch(&s->child);
	s->state = SVC_UP;
}

static void
svc_exited(struct child *c, int status)
{
	struct service	*s = SVC_OF(c, child);
	uint64_t	 ran = now_ms() - s->started, wait;
	char		 why[64];

	s->state = SVC_DOWN;
	if (!s->want_up || shutdown_running())
		return;
	s->delay = service_next_delay(s->delay, ran);
	wait = ran < s->delay ? s->delay - ran : 0;
	exit_reason(status, why, sizeof(why));
	if (wait == 0) {
		log_info("%s: %s, restarting", s->name, why);
		svc_spawn(s);
		return;
	}
	log_info("%s: %s, restarting in %llu.%llus", s->name, why,
	    (unsigned long long)wait / 1000, (unsigned long long)wait % 1000 / 100);
	s->state = SVC_BACKOFF;
	timer_set(&s->timer, wait);
}

static void
svc_timer(struct timer *t)
{
	struct service	*s = t->arg;

	if (s->state == SVC_BACKOFF)
		svc_spawn(s);
}

int
service_init(struct service *s, const char *name, char *const argv[])
{
	s->name = name;
	s->argv = argv;
	s->state = SVC_DOWN;
	s->want_up = 0;
	s->delay = 0;
	s->child.pid = 0;
	s->child.exited = svc_exited;
	return timer_init(&s->timer, svc_timer, s);
}

void
service_start(struct service *s)
{
	s->want_up = 1;
	if (s->state == SVC_DOWN)
		svc_spawn(s);
}

/* The exit is reaped as usual and the service stays down. */
void
service_stop(struct service *s)
{
	s->want_up = 0;
	if (s->state == SVC_UP)
		kill(s->child.pid, SIGTERM);
	else if (s->state == SVC_BACKOFF) {
		timer_set(&s->timer, 0);
		s->state = SVC_DOWN;
	}
}
