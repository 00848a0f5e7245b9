/* Children, supervision, the event loop's timers, the power key test. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/input.h>
#include <sys/wait.h>

#include "unit.h"

static int	 exits, last_status;

static void
on_exit_cb(struct child *c, int status)
{
	(void)c;
	exits++;
	last_status = status;
}

/* Reaps until n more exits were seen, for at most 5 s. */
static void
reap_until(int n)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 i, want = exits + n;

	for (i = 0; i < 500 && exits < want; i++) {
		child_reap();
		if (exits < want)
			nanosleep(&ts, NULL);
	}
	assert_int_equal(exits, want);
}

static void
spawn_fds_and_exit(void **state)
{
	char *const	 argv[] = { "/bin/echo", "hello", NULL };
	struct child	 c = { 0, on_exit_cb, NULL };
	char		 buf[64] = "";
	int		 p[2], fds[3];
	ssize_t		 n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	fds[0] = -1;
	fds[1] = p[1];
	fds[2] = -1;
	assert_true((c.pid = spawn(argv, fds)) > 0);
	child_watch(&c);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_int_equal(n, 6);
	assert_string_equal(buf, "hello\n");
	reap_until(1);
	assert_true(WIFEXITED(last_status));
	assert_int_equal(WEXITSTATUS(last_status), 0);
	assert_int_equal(c.pid, 0);
	assert_int_equal(child_reap(), 1);	/* none left */
}

static void
spawn_clean_child(void **state)
{
	char *const	 argv[] = { "/bin/cat", "/proc/self/status", NULL };
	struct child	 c = { 0, on_exit_cb, NULL };
	sigset_t	 set, old;
	char		 buf[8192] = "", *blk, *pid, *sid;
	int		 p[2], fds[3] = { -1, -1, -1 };
	ssize_t		 n, got = 0;

	(void)state;
	/* PID 1 blocks every signal; the child must not inherit that */
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	assert_int_equal(pipe(p), 0);
	fds[1] = p[1];
	c.pid = spawn(argv, fds);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_true(c.pid > 0);
	child_watch(&c);
	close(p[1]);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(p[0]);
	reap_until(1);
	assert_non_null(blk = strstr(buf, "SigBlk:"));
	assert_int_equal(strncmp(blk, "SigBlk:\t0000000000000000\n", 25), 0);
	/* a session of its own: its session id is its pid */
	assert_non_null(pid = strstr(buf, "\nNSpid:\t"));
	assert_non_null(sid = strstr(buf, "\nNSsid:\t"));
	assert_int_equal(atoi(pid + 8), atoi(sid + 8));
}

static void
spawn_exec_fails(void **state)
{
	char *const	 argv[] = { "/nonexistent/prog", NULL };
	struct child	 c = { 0, on_exit_cb, NULL };
	char		*log;
	int		 fd;

	(void)state;
	fd = log_capture();
	assert_true((c.pid = spawn(argv, NULL)) > 0);
	child_watch(&c);
	reap_until(1);
	log = log_captured(fd);
	assert_int_equal(WEXITSTATUS(last_status), 127);
	assert_string_equal(log,
	    "nestbox: warning: spawn: /nonexistent/prog: No such file or directory\n");
	free(log);
}

static void
exit_reasons(void **state)
{
	char	 buf[64];

	(void)state;
	assert_string_equal(exit_reason(0x0100, buf, sizeof(buf)),
	    "exited with status 1");
	assert_string_equal(exit_reason(SIGKILL, buf, sizeof(buf)),
	    "killed by signal 9");
}

static int	 fired;

static void
on_timer(struct timer *t)
{
	(void)t;
	fired++;
}

static void
timers(void **state)
{
	struct timer	 t;
	uint64_t	 start = now_ms();

	(void)state;
	fired = 0;
	assert_int_equal(timer_init(&t, on_timer, NULL), 0);
	assert_int_equal(timer_set(&t, 30), 0);
	while (fired == 0 && now_ms() - start < 2000)
		event_once(2000);
	assert_int_equal(fired, 1);
	assert_true(now_ms() - start >= 30);
	/* disarmed: nothing fires */
	assert_int_equal(timer_set(&t, 30), 0);
	assert_int_equal(timer_set(&t, 0), 0);
	assert_int_equal(event_once(100), 0);
	assert_int_equal(fired, 1);
	event_del(&t.ev);
	close(t.ev.fd);
}

static void
restart_delays(void **state)
{
	(void)state;
	assert_int_equal(service_next_delay(0, 0), SVC_MIN_DELAY);
	assert_int_equal(service_next_delay(1000, 10), 2000);
	assert_int_equal(service_next_delay(2000, 10), 4000);
	assert_int_equal(service_next_delay(32000, 10), SVC_MAX_DELAY);
	assert_int_equal(service_next_delay(SVC_MAX_DELAY, 10), SVC_MAX_DELAY);
	/* a run that lasted resets the backoff */
	assert_int_equal(service_next_delay(SVC_MAX_DELAY, SVC_STABLE), SVC_MIN_DELAY);
}

static void
service_restarts(void **state)
{
	char *const	 argv[] = { "/bin/sleep", "5", NULL };
	struct service	 s;
	uint64_t	 start;
	pid_t		 first;
	char		*log;
	int		 fd, i;

	(void)state;
	assert_int_equal(service_init(&s, "sleeper", argv), 0);
	service_start(&s);
	assert_int_equal(s.state, SVC_UP);
	first = s.child.pid;
	fd = log_capture();
	/* it dies at once: restarted no sooner than a second after its start */
	kill(first, SIGKILL);
	for (i = 0; i < 500 && s.state == SVC_UP; i++) {
		child_reap();
		usleep(10000);
	}
	assert_int_equal(s.state, SVC_BACKOFF);
	assert_int_equal(s.delay, SVC_MIN_DELAY);
	start = now_ms();
	while (s.state == SVC_BACKOFF && now_ms() - start < 3000)
		event_once(3000);
	assert_int_equal(s.state, SVC_UP);
	assert_true(s.started - (start - 100) >= 800);
	assert_true(s.child.pid != first && s.child.pid > 0);
	log = log_captured(fd);
	assert_non_null(strstr(log, "nestbox: sleeper: killed by signal 9, restarting in"));
	free(log);
	/* stopped: it exits and stays down */
	service_stop(&s);
	for (i = 0; i < 500 && s.state == SVC_UP; i++) {
		child_reap();
		usleep(10000);
	}
	assert_int_equal(s.state, SVC_DOWN);
	assert_int_equal(event_once(1200), 0);
	assert_int_equal(s.state, SVC_DOWN);
	assert_int_equal(child_reap(), 1);
	event_del(&s.timer.ev);
	close(s.timer.ev.fd);
}

static void
power_key_bits(void **state)
{
	unsigned long	 bits[KEY_CNT / (sizeof(long) * CHAR_BIT) + 1];
	size_t		 nbits = sizeof(bits) * CHAR_BIT;

	(void)state;
	memset(bits, 0, sizeof(bits));
	assert_false(input_has_power_key(bits, nbits));
	bits[KEY_POWER / (sizeof(long) * CHAR_BIT)] |=
	    1UL << (KEY_POWER % (sizeof(long) * CHAR_BIT));
	assert_true(input_has_power_key(bits, nbits));
	assert_false(input_has_power_key(bits, KEY_POWER));	/* too short */
	bits[0] = ~0UL;
	bits[KEY_POWER / (sizeof(long) * CHAR_BIT)] = 0;
	assert_false(input_has_power_key(bits, nbits));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(spawn_fds_and_exit),
	cmocka_unit_test(spawn_clean_child),
	cmocka_unit_test(spawn_exec_fails),
	cmocka_unit_test(exit_reasons),
	cmocka_unit_test(timers),
	cmocka_unit_test(restart_delays),
	cmocka_unit_test(service_restarts),
	cmocka_unit_test(power_key_bits),
};
const struct suite proc_suite = { tests, NTESTS(tests) };
