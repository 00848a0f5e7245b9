/*
 * Shutdown runs as stages inside the event loop, so a stage can wait for
 * something (a guest's QMP powerdown, a child's exit) without blocking the
 * rest of PID 1:
 *
 *   HOOKS  the registered hooks, in order; each may take up to its timeout
 *   TERM   SIGTERM, SIGHUP and SIGCONT to every process, until none is left
 *          or TERM_WAIT_MS passed
 *   KILL   SIGKILL to what is left, until none is left or KILL_WAIT_MS
 *   final  sync, unmount everything, reboot(2)
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/reboot.h>

#include "core/core.h"

#define TERM_WAIT_MS	3000
#define KILL_WAIT_MS	1000
#define HOOK_WAIT_MS	10000

enum stage { ST_RUNNING, ST_HOOKS, ST_TERM, ST_KILL, ST_FINAL };

static enum stage		 stage;
static void			(*unmount)(void);
static enum shutdown_action	 action;
static struct shutdown_hook	*hooks, **hooks_tail = &hooks, *current;
static struct timer		 timer;

static const char *const verbs[] = {
	[SHUTDOWN_POWEROFF] = "powering off",
	[SHUTDOWN_REBOOT] = "rebooting",
	[SHUTDOWN_HALT] = "halting",
};

/* The end: nothing runs but PID 1. */
static void NB_NORETURN
finish(enum shutdown_action a)
{
	static const int cmds[] = {
		[SHUTDOWN_POWEROFF] = RB_POWER_OFF,
		[SHUTDOWN_REBOOT] = RB_AUTOBOOT,
		[SHUTDOWN_HALT] = RB_HALT_SYSTEM,
	};

	sync();
	if (unmount != NULL)
		unmount();
	sync();
	log_info("shutdown: done");
	reboot(cmds[a]);
	fatal("shutdown: reboot");
}

static int
killall(int sig)
{
	return kill(-1, sig);
}

static const struct shutdown_ops real_ops = { killall, finish };
static const struct shutdown_ops *ops = &real_ops;

static void
final(void)
{
	stage = ST_FINAL;
	timer_set(&timer, 0);
	ops->finish(action);	/* returns only in the unit tests */
}

static void
kill_all(int sig, uint64_t wait)
{
	if (ops->killall(sig) == -1 && errno == ESRCH) {
		final();	/* no process left */
		return;
	}
	if (sig == SIGTERM) {
		ops->killall(SIGHUP);	/* an interactive shell ignores SIGTERM */
		ops->killall(SIGCONT);	/* a stopped process must run to exit */
	}
	if (child_reap()) {
		final();
		return;
	}
	timer_set(&timer, wait);
}

/* Runs the hooks after current; when they are done, the TERM stage. */
static void
run_hooks(void)
{
	struct shutdown_hook	*h;
	int			 rv;

	for (h = current ? current->next : hooks; h != NULL; h = h->next) {
		current = h;
		if ((rv = h->start(h, action)) == 1) {
			timer_set(&timer, h->timeout ? h->timeout : HOOK_WAIT_MS);
			return;
		}
		if (rv == -1)
			log_warn("shutdown: %s", h->name);
	}
	current = NULL;
	stage = ST_TERM;
	kill_all(SIGTERM, TERM_WAIT_MS);
}

static void
shutdown_timeout(struct timer *t)
{
	(void)t;
	switch (stage) {
	case ST_HOOKS:
		log_warnx("shutdown: %s did not finish in %llu ms", current->name,
		    (unsigned long long)(current->timeout ? current->timeout :
		    HOOK_WAIT_MS));
		run_hooks();
		break;
	case ST_TERM:
		log_info("shutdown: killing the remaining processes");
		stage = ST_KILL;
		kill_all(SIGKILL, KILL_WAIT_MS);
		break;
	case ST_KILL:
		log_warnx("shutdown: processes left after SIGKILL");
		final();
		break;
	default:
		break;
	}
}

/* ops replaces kill(2) and the final step in the unit tests; NULL: real. */
int
shutdown_init(const struct shutdown_ops *o, void (*unmount_fn)(void))
{
	unmount = unmount_fn;
	ops = o ? o : &real_ops;
	stage = ST_RUNNING;
	hooks = current = NULL;
	hooks_tail = &hooks;
	return timer_init(&timer, shutdown_timeout, NULL);
}

/* Hooks run in the order they were added, before any process is killed. */
void
shutdown_hook_add(struct shutdown_hook *h)
{
	h->next = NULL;
	*hooks_tail = h;
	hooks_tail = &h->next;
}

/* A hook that returned 1 from start() calls this when it has finished. */
void
shutdown_hook_done(struct shutdown_hook *h)
{
	if (stage != ST_HOOKS || h != current)
		return;		/* too late: its timeout moved on */
	timer_set(&timer, 0);
	run_hooks();
}

void
shutdown_request(enum shutdown_action a, const char *why)
{
	if (stage != ST_RUNNING) {
		log_info("shutdown: already %s, %s ignored", verbs[action], why);
		return;
	}
	action = a;
	stage = ST_HOOKS;
	current = NULL;
	log_info("shutdown: %s (%s)", verbs[action], why);
	run_hooks();
}

int
shutdown_running(void)
{
	return stage != ST_RUNNING;
}

/* From the SIGCHLD handler, when child_reap() found no process left. */
void
shutdown_children_gone(void)
{
	if (stage == ST_TERM || stage == ST_KILL)
		final();
}
