/*
 * The shutdown stages, with kill(-1) and the final reboot replaced: a unit
 * test must never signal every process of the build host.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static char	 trace[512];
static int	 finished = -1;
static int	 kill_result;
static pid_t	 victim;

static void
note(const char *s)
{
	strncat(trace, s, sizeof(trace) - strlen(trace) - 2);
	strcat(trace, " ");
}

static int
fake_killall(int sig)
{
	char	 buf[16];

	snprintf(buf, sizeof(buf), "kill%d", sig);
	note(buf);
	if (victim > 0)
		kill(victim, sig);
	if (kill_result == ESRCH) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

static void
fake_finish(enum shutdown_action a)
{
	note("finish");
	finished = a;
}

static const struct shutdown_ops fake = { fake_killall, fake_finish };

static int
hook_now(struct shutdown_hook *h, enum shutdown_action a)
{
	(void)a;
	note(h->name);
	return 0;
}

static struct shutdown_hook	*pending;

static int
hook_later(struct shutdown_hook *h, enum shutdown_action a)
{
	(void)a;
	note(h->name);
	pending = h;
	return 1;
}

static int
hook_fails(struct shutdown_hook *h, enum shutdown_action a)
{
	(void)a;
	note(h->name);
	errno = EIO;
	return -1;
}

static void
finish_timer(struct timer *t)
{
	(void)t;
	note("done");
	shutdown_hook_done(pending);
}

static void
reset(void)
{
	trace[0] = '\0';
	finished = -1;
	kill_result = 0;
	victim = 0;
	pending = NULL;
	assert_int_equal(shutdown_init(&fake, NULL), 0);
}

static void
run_until_finished(void)
{
	uint64_t	 start = now_ms();

	while (finished == -1 && now_ms() - start < 5000) {
		event_once(100);
		if (child_reap() && shutdown_running())
			shutdown_children_gone();
	}
}

static void
hooks_in_order(void **state)
{
	struct shutdown_hook	 h1 = { "guests", hook_now, 0, NULL };
	struct shutdown_hook	 h2 = { "qmp", hook_later, 5000, NULL };
	struct shutdown_hook	 h3 = { "broken", hook_fails, 0, NULL };
	struct timer		 t;
	char			*log;
	int			 fd;

	(void)state;
	reset();
	shutdown_hook_add(&h1);
	shutdown_hook_add(&h2);
	shutdown_hook_add(&h3);
	assert_int_equal(timer_init(&t, finish_timer, NULL), 0);
	assert_int_equal(timer_set(&t, 20), 0);
	assert_false(shutdown_running());
	fd = log_capture();
	shutdown_request(SHUTDOWN_POWEROFF, "power button");
	assert_true(shutdown_running());
	assert_string_equal(trace, "guests qmp ");	/* waiting for qmp */
	shutdown_request(SHUTDOWN_REBOOT, "SIGTERM");	/* ignored */
	run_until_finished();
	log = log_captured(fd);
	/* no child: after SIGTERM (and SIGHUP, SIGCONT) it is over at once */
	assert_string_equal(trace,
	    "guests qmp done broken kill15 kill1 kill18 finish ");
	assert_int_equal(finished, SHUTDOWN_POWEROFF);
	assert_non_null(strstr(log, "nestbox: shutdown: powering off (power button)\n"));
	assert_non_null(strstr(log, "nestbox: shutdown: already powering off, SIGTERM ignored\n"));
	assert_non_null(strstr(log, "nestbox: warning: shutdown: broken: Input/output error\n"));
	free(log);
	event_del(&t.ev);
	close(t.ev.fd);
}

static void
hook_times_out(void **state)
{
	struct shutdown_hook	 h1 = { "slow", hook_later, 50, NULL };
	struct shutdown_hook	 h2 = { "next", hook_now, 0, NULL };
	char			*log;
	int			 fd;

	(void)state;
	reset();
	kill_result = ESRCH;		/* no process left at all */
	shutdown_hook_add(&h1);
	shutdown_hook_add(&h2);
	fd = log_capture();
	shutdown_request(SHUTDOWN_REBOOT, "SIGTERM");
	run_until_finished();
	/* too late: ignored */
	shutdown_hook_done(&h1);
	log = log_captured(fd);
	assert_string_equal(trace, "slow next kill15 finish ");
	assert_int_equal(finished, SHUTDOWN_REBOOT);
	assert_non_null(strstr(log, "nestbox: shutdown: rebooting (SIGTERM)\n"));
	assert_non_null(strstr(log, "nestbox: warning: shutdown: slow did not finish in 50 ms\n"));
	free(log);
}

static void
waits_for_children(void **state)
{
	char *const	 argv[] = { "/bin/sleep", "30", NULL };
	uint64_t	 start;

	(void)state;
	reset();
	assert_true((victim = spawn(argv, NULL)) > 0);
	start = now_ms();
	shutdown_request(SHUTDOWN_HALT, "SIGUSR1");
	assert_int_equal(finished, -1);		/* the child is still there */
	run_until_finished();
	assert_int_equal(finished, SHUTDOWN_HALT);
	assert_true(now_ms() - start < 2000);	/* did not wait for SIGKILL */
	assert_string_equal(trace, "kill15 kill1 kill18 finish ");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(hooks_in_order),
	cmocka_unit_test(hook_times_out),
	cmocka_unit_test(waits_for_children),
};
const struct suite shutdown_suite = { tests, NTESTS(tests) };
