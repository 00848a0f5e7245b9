/*
 * The guests' run-time rules that need no QEMU: the reconcile plan for
 * add / remove / change / no-op / invalid-guest mixes, the state the
 * restart policy picks after an exit, the state machine (vm-fsm.inc) and
 * the runtime driven through a fake struct vm_ops (vm-runtime.inc).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "guest/vm.h"

#define G(n, extra)	"{\"name\": \"" n "\", \"memory\": \"128M\", \"disks\": " \
			"[{\"source\": \"state:" n ".img\"}]" extra "}"
#define DOC(g)		"{\"version\": 1, \"guests\": [" g "]}"

/* The plan from "have" (the guests of doc_have, as if running) to doc_want,
 * written as "op name, op name". */
static char *
plan_of(const char *doc_have, const char *doc_want)
{
	struct guest_set	 have, want;
	struct guest_errors	 e1, e2;
	struct vm_have		 h[GUESTS_MAX];
	struct plan_item	 p[2 * GUESTS_MAX];
	struct text		 t;
	static char		 buf[1024];
	size_t			 i, n;

	assert_int_equal(guests_parse(doc_have, strlen(doc_have), &have, &e1), 0);
	assert_int_equal(guests_parse(doc_want, strlen(doc_want), &want, &e2), 0);
	for (i = 0; i < have.n; i++) {
		h[i].name = have.v[i].name;
		h[i].decl = have.v[i].decl;
	}
	n = vm_plan(h, have.n, &want, p, NTESTS(p));
	text_init(&t, buf, sizeof(buf));
	for (i = 0; i < n; i++)
		text_add(&t, "%s%s %s", i ? ", " : "", plan_op_str(p[i].op), p[i].name);
	assert_true(text_done(&t) >= 0);
	guests_free(&have);
	guests_free(&want);
	guest_errors_free(&e1);
	guest_errors_free(&e2);
	return buf;
}

static void
plan_cases(void **state)
{
	(void)state;
	/* from nothing */
	assert_string_equal(plan_of("", DOC(G("a", "") "," G("b", ""))),
	    "start a, start b");
	/* no-op: the same document */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")),
	    DOC(G("a", "") "," G("b", ""))), "keep a, keep b");
	/* whitespace and member order do not matter, the values do */
	assert_string_equal(plan_of(DOC(G("a", ", \"vcpus\": 1")),
	    DOC("{\"vcpus\":1,\"name\":\"a\",\"memory\":\"128M\",\"disks\":"
	    "[{\"source\":\"state:a.img\"}]}")), "restart a");
	/* add one: the other is untouched */
	assert_string_equal(plan_of(DOC(G("a", "")), DOC(G("a", "") "," G("b", ""))),
	    "keep a, start b");
	/* remove one */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")), DOC(G("b", ""))),
	    "stop a, keep b");
	/* change one */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")),
	    DOC(G("a", "") "," G("b", ", \"vcpus\": 2"))), "keep a, restart b");
	/* everything at once, stops first, starts last */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "") "," G("c", "")),
	    DOC(G("d", "") "," G("c", ", \"restart\": \"never\"") "," G("b", ""))),
	    "stop a, restart c, keep b, start d");
	/* all removed: the attribute unset */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")), ""),
	    "stop a, stop b");
	/* an invalid guest is not in "want": a running one of that name stops,
	 * the valid neighbour is kept */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")),
	    DOC(G("a", "") ",{\"name\": \"b\", \"memory\": \"1K\"}")), "stop b, keep a");
	/* an invalid new guest next to a valid new one */
	assert_string_equal(plan_of("", DOC("{\"name\": \"x\"}," G("y", ""))), "start y");
	/* nothing to nothing */
	assert_string_equal(plan_of("", DOC("")), "");
}

static void
plan_limits(void **state)
{
	struct vm_have		 have[2] = { { "a", "{}" }, { "b", NULL } };
	struct guest_set	 want = { NULL, 0 };
	struct plan_item	 p[1];

	(void)state;
	/* the count is the whole plan even when out is short */
	assert_int_equal(vm_plan(have, 2, &want, p, 1), 2);
	assert_int_equal(p[0].op, PLAN_STOP);
	assert_string_equal(p[0].name, "a");
	assert_int_equal(vm_plan(have, 0, &want, NULL, 0), 0);
}

#define EXITED(c)	((c) << 8)
#define KILLED(s)	(s)

static void
after_exit(void **state)
{
	(void)state;
	assert_true(WIFEXITED(EXITED(0)) && WIFSIGNALED(KILLED(9)));
	/* a stop we asked for ends stopped whatever the policy and status */
	assert_int_equal(vm_after_exit(RESTART_ALWAYS, KILLED(9), 1), VM_STOPPED);
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, EXITED(1), 1), VM_STOPPED);
	/* always: every exit restarts, a clean one too */
	assert_int_equal(vm_after_exit(RESTART_ALWAYS, EXITED(0), 0), VM_BACKOFF);
	assert_int_equal(vm_after_exit(RESTART_ALWAYS, KILLED(9), 0), VM_BACKOFF);
	/* on-failure: the guest powering itself off is not a failure */
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, EXITED(0), 0), VM_STOPPED);
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, EXITED(1), 0), VM_BACKOFF);
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, KILLED(9), 0), VM_BACKOFF);
	/* never: a failure is reported as failed */
	assert_int_equal(vm_after_exit(RESTART_NEVER, EXITED(0), 0), VM_STOPPED);
	assert_int_equal(vm_after_exit(RESTART_NEVER, KILLED(9), 0), VM_FAILED);
}

static void
smaps(void **state)
{
	/* as QEMU's look: code, the guest RAM block (192 MiB, rounded up by
	 * 2 MiB for huge pages), a heap, a thread stack */
	const char *text =
	    "55d0c0000000-55d0c0800000 r-xp 00000000 00:17 12 /usr/bin/qemu-system-x86_64\n"
	    "Size:               8192 kB\n"
	    "Rss:                5120 kB\n"
	    "Pss:                5120 kB\n"
	    "7f0000000000-7f000c200000 rw-p 00000000 00:00 0\n"
	    "Size:             198656 kB\n"
	    "Rss:              150000 kB\n"
	    "55d0c1000000-55d0c2000000 rw-p 00000000 00:00 0 [heap]\n"
	    "Size:              16384 kB\n"
	    "Rss:               12000 kB\n"
	    "7f1000000000-7f1000800000 rw-p 00000000 00:00 0\n"
	    "Size:               8192 kB\n"
	    "Rss:                  64 kB\n";
	unsigned long	 kib;

	(void)state;
	assert_int_equal(smaps_beyond_guest(text, 192 * 1024, &kib), 0);
	assert_int_equal(kib, 5120 + 12000 + 64);
	/* no mapping as big as the guest: everything counts */
	assert_int_equal(smaps_beyond_guest(text, 512 * 1024, &kib), 0);
	assert_int_equal(kib, 5120 + 150000 + 12000 + 64);
	assert_int_equal(smaps_beyond_guest("", 1024, &kib), -1);
	assert_int_equal(smaps_beyond_guest("garbage\nRss: x kB\n", 1024, &kib), -1);
}

static void
names(void **state)
{
	(void)state;
	assert_string_equal(vm_state_str(VM_PENDING), "pending");
	assert_string_equal(vm_state_str(VM_BACKOFF), "backing off");
	assert_string_equal(vm_state_str((enum vm_state)99), "?");
	assert_string_equal(plan_op_str(PLAN_RESTART), "restart");
	assert_string_equal(plan_op_str((enum plan_op)-1), "?");
}

/* --- the state machine (guest/fsm.c) ----------------------------------------- */

static const char *
trans_str(struct vm_fsm s, enum vm_event ev)
{
	static char	 buf[512];
	struct vm_trans	 t;
	struct text	 x;
	size_t		 i;

	text_init(&x, buf, sizeof(buf));
	if (vm_next(s, ev, &t) == -1) {
		assert_int_equal(errno, EINVAL);
		text_add(&x, "-");
	} else {
		text_add(&x, "%s/%s", vm_phase_str(t.to.phase), vm_goal_str(t.to.goal));
		for (i = 0; i < t.n; i++)
			text_add(&x, "%s%s", i ? "," : " ", vm_action_str(t.act[i]));
	}
	assert_true(text_done(&x) >= 0);
	return buf;
}

#define S(p, g)		((struct vm_fsm){ (p), (g) })
#define NEXT(p, g, e)	trans_str(S(p, g), e)

/*
 * Every state the machine can reach from a new guest (PENDING, G_RUN), and
 * every event in each: the whole table, as tests/unit/golden/guest-fsm.
 */
static void
fsm_table(void **state)
{
	int		 seen[P_NPHASES][G_NGOALS] = { { 0 } };
	struct vm_fsm	 queue[P_NPHASES * G_NGOALS], s;
	struct vm_trans	 t;
	size_t		 head = 0, tail = 0, i, n = 0;
	int		 ev;
	static char	 out[256 * 1024];
	struct text	 x;

	(void)state;
	queue[tail++] = S(P_PENDING, G_RUN);
	seen[P_PENDING][G_RUN] = 1;
	while (head < tail) {
		s = queue[head++];
		for (ev = 0; ev < E_NEVENTS; ev++) {
			if (vm_next(s, ev, &t) == -1)
				continue;
			assert_true(t.to.phase < P_NPHASES && t.to.goal < G_NGOALS);
			assert_true(t.n <= VM_ACTIONS_MAX);
			for (i = 0; i < t.n; i++)
				assert_true(t.act[i] > A_NONE && t.act[i] < A_NACTIONS);
			/* a guest at rest never waits with a goal it does not pursue */
			if (t.to.phase == P_PENDING || t.to.phase == P_FETCHING ||
			    t.to.phase == P_BACKOFF)
				assert_int_equal(t.to.goal, G_RUN);
			if (!seen[t.to.phase][t.to.goal]) {
				seen[t.to.phase][t.to.goal] = 1;
				queue[tail++] = t.to;
			}
		}
	}
	text_init(&x, out, sizeof(out));
	text_add(&x, "# state x event -> state actions (tests/unit/init/vm.c)\n");
	for (i = 0; i < tail; i++) {
		s = queue[i];
		text_add(&x, "\n%s/%s (%s)\n", vm_phase_str(s.phase), vm_goal_str(s.goal),
		    vm_state_str(vm_phase_state(s.phase)));
		for (ev = 0; ev < E_NEVENTS; ev++)
			if (vm_next(s, ev, &t) == 0) {
				text_add(&x, "  %-15s %s\n", vm_event_str(ev), trans_str(s, ev));
				n++;
			}
	}
	assert_true(text_done(&x) >= 0);
	golden("guest-fsm", out);
	/* reached: every phase; and each phase has the outside name it had */
	for (i = 0; i < P_NPHASES; i++) {
		int	 any = 0, g;

		for (g = 0; g < G_NGOALS; g++)
			any |= seen[i][g];
		assert_true(any);
	}
	assert_true(n > 100);
}

static void
fsm_names(void **state)
{
	(void)state;
	/* the names the outside sees are those of before */
	assert_string_equal(vm_state_str(vm_phase_state(P_FETCH_JOB)), "fetching");
	assert_string_equal(vm_state_str(vm_phase_state(P_POWERDOWN)), "stopping");
	assert_string_equal(vm_state_str(vm_phase_state(P_QUIT)), "stopping");
	assert_string_equal(vm_state_str(vm_phase_state(P_KILL)), "stopping");
	assert_string_equal(vm_state_str(vm_phase_state(P_BACKOFF)), "backing off");
	assert_int_equal(vm_phase_state((enum vm_phase)99), VM_FAILED);
	assert_string_equal(vm_phase_str((enum vm_phase)99), "?");
	assert_string_equal(vm_goal_str(G_HALT), "halt");
	assert_string_equal(vm_event_str(E_EXIT_FAIL), "exit-fail");
	assert_string_equal(vm_action_str(A_STOPPED), "stopped");
	assert_string_equal(vm_event_str(E_NEVENTS), "?");
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_NEVENTS), "-");
}

/* The cases the issue names, each spelled out. */
static void
fsm_cases(void **state)
{
	(void)state;
	/* a new guest, the network up, its files fetched, QEMU up */
	assert_string_equal(NEXT(P_PENDING, G_RUN, E_NET_UP), "fetching/run enter,prepare");
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_PREP_JOB), "fetch-job/run");
	assert_string_equal(NEXT(P_FETCH_JOB, G_RUN, E_JOB_OK), "fetching/run prepare");
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_PREP_READY), "fetching/run launch");
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_SPAWNED),
	    "starting/run enter,timer-connect");
	assert_string_equal(NEXT(P_STARTING, G_RUN, E_TIMER), "starting/run connect");
	assert_string_equal(NEXT(P_STARTING, G_RUN, E_NOT_YET), "starting/run timer-connect");
	assert_string_equal(NEXT(P_STARTING, G_RUN, E_HUNG), "starting/run hung");
	assert_string_equal(NEXT(P_STARTING, G_RUN, E_CONNECTED),
	    "running/run enter,timer-sample");
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_TIMER), "running/run sample");
	/* waiting for another guest's download */
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_PREP_WAIT), "fetching/run");
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_WAKE), "fetching/run prepare");
	assert_string_equal(NEXT(P_PENDING, G_RUN, E_WAKE), "-");
	/* errors: transient ones back off, others fail */
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_FAIL_TRANSIENT),
	    "backoff/run delay,enter,timer-wait");
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_FAIL_PERMANENT), "failed/run enter");
	assert_string_equal(NEXT(P_FETCH_JOB, G_RUN, E_JOB_FAILED), "fetching/run job-error");

	/* stop during fetch: the download is cut off, then stopped */
	assert_string_equal(NEXT(P_FETCH_JOB, G_RUN, E_STOP), "fetch-job/stop cancel-job");
	assert_string_equal(NEXT(P_FETCH_JOB, G_STOP, E_JOB_FAILED),
	    "stopped/stop stopped,timer-off,gone");
	assert_string_equal(NEXT(P_FETCH_JOB, G_STOP, E_JOB_OK),
	    "stopped/stop stopped,timer-off,gone");
	/* ... once only */
	assert_string_equal(NEXT(P_FETCH_JOB, G_STOP, E_STOP), "fetch-job/stop");
	/* stop while waiting for another's download: at once */
	assert_string_equal(NEXT(P_FETCHING, G_RUN, E_STOP),
	    "stopped/stop stopped,timer-off,gone");

	/* restart during backoff: afresh, now */
	assert_string_equal(NEXT(P_BACKOFF, G_RUN, E_RESTART),
	    "pending/run timer-off,begin,enter,try");
	assert_string_equal(NEXT(P_BACKOFF, G_RUN, E_START),
	    "pending/run timer-off,begin,enter,try");
	assert_string_equal(NEXT(P_BACKOFF, G_RUN, E_TIMER), "pending/run enter,try");
	assert_string_equal(NEXT(P_BACKOFF, G_RUN, E_STOP),
	    "stopped/stop stopped,timer-off,gone");

	/* removal while starting: powered down, then freed */
	assert_string_equal(NEXT(P_STARTING, G_RUN, E_REMOVE),
	    "powerdown/remove enter,powerdown");
	assert_string_equal(NEXT(P_POWERDOWN, G_REMOVE, E_NO_QMP),
	    "quit/remove term,timer-quit");
	assert_string_equal(NEXT(P_QUIT, G_REMOVE, E_EXIT_RESTART),
	    "stopped/remove exit-wanted,stopped,tap-delete,timer-off,gone,free");
	/* removal of a guest that does not run: freed now */
	assert_string_equal(NEXT(P_FAILED, G_RUN, E_REMOVE),
	    "stopped/remove stopped,timer-off,gone,free");
	/* declared again while it stops: started again */
	assert_string_equal(NEXT(P_POWERDOWN, G_REMOVE, E_RESTART), "powerdown/restart");
	assert_string_equal(NEXT(P_FETCH_JOB, G_REMOVE, E_RESTART), "fetch-job/restart");

	/* the stop sequence: powerdown, quit, SIGKILL */
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_STOP), "powerdown/stop enter,powerdown");
	assert_string_equal(NEXT(P_POWERDOWN, G_STOP, E_TIMER), "quit/stop quit");
	assert_string_equal(NEXT(P_QUIT, G_STOP, E_NO_QMP), "kill/stop kill");
	assert_string_equal(NEXT(P_QUIT, G_STOP, E_TIMER), "kill/stop kill");
	assert_string_equal(NEXT(P_KILL, G_STOP, E_TIMER), "-");
	assert_string_equal(NEXT(P_KILL, G_STOP, E_STOP), "kill/stop");

	/* exit during stopping, whatever the restart policy says: stopped */
	assert_string_equal(NEXT(P_POWERDOWN, G_STOP, E_EXIT_RESTART),
	    "stopped/stop exit-wanted,stopped,tap-delete,timer-off,gone");
	assert_string_equal(NEXT(P_POWERDOWN, G_STOP, E_EXIT_STOP),
	    "stopped/stop exit-wanted,stopped,tap-delete,timer-off,gone");
	assert_string_equal(NEXT(P_KILL, G_STOP, E_EXIT_FAIL),
	    "stopped/stop exit-wanted,stopped,tap-delete,timer-off,gone");
	/* ... and a pending restart starts it again */
	assert_string_equal(NEXT(P_QUIT, G_RESTART, E_EXIT_FAIL),
	    "pending/run exit-wanted,stopped,tap-delete,timer-off,begin,enter,try");
	/* an exit nobody asked for: as the policy says */
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_EXIT_RESTART),
	    "backoff/run exit-unwanted,restart-delay,enter,timer-wait");
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_EXIT_STOP),
	    "stopped/run exit-unwanted,enter,tap-delete");
	assert_string_equal(NEXT(P_STARTING, G_RUN, E_EXIT_FAIL),
	    "failed/run exit-unwanted,enter");

	/* shutdown while fetching: the download is cut off, nothing restarts */
	assert_string_equal(NEXT(P_FETCH_JOB, G_RUN, E_SHUTDOWN), "fetch-job/halt cancel-job");
	assert_string_equal(NEXT(P_FETCH_JOB, G_HALT, E_JOB_FAILED),
	    "stopped/halt stopped,timer-off,gone");
	assert_string_equal(NEXT(P_FETCH_JOB, G_HALT, E_START), "-");
	assert_string_equal(NEXT(P_FETCH_JOB, G_HALT, E_STOP), "fetch-job/halt");
	/* shutdown: a failed guest stays failed, a backoff ends */
	assert_string_equal(NEXT(P_FAILED, G_RUN, E_SHUTDOWN), "failed/halt timer-off,gone");
	assert_string_equal(NEXT(P_BACKOFF, G_RUN, E_SHUTDOWN),
	    "stopped/halt stopped,timer-off,gone");
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_SHUTDOWN),
	    "powerdown/halt enter,powerdown");
	/* a removal outranks the shutdown */
	assert_string_equal(NEXT(P_POWERDOWN, G_REMOVE, E_SHUTDOWN), "powerdown/remove");
	assert_string_equal(NEXT(P_POWERDOWN, G_HALT, E_REMOVE), "powerdown/remove");

	/* start: QEMU runs already, or is stopping (`nestbox start` of before) */
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_START), "-");
	assert_string_equal(NEXT(P_POWERDOWN, G_STOP, E_START), "-");
	/* restart: stopped first, then started */
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_RESTART),
	    "powerdown/restart enter,powerdown");
	assert_string_equal(NEXT(P_POWERDOWN, G_STOP, E_RESTART), "powerdown/restart");
	assert_string_equal(NEXT(P_FETCH_JOB, G_RUN, E_START), "fetch-job/restart cancel-job");
	/* a stop cancels a pending restart */
	assert_string_equal(NEXT(P_POWERDOWN, G_RESTART, E_STOP), "powerdown/stop");
	/* a removed guest is not started by request */
	assert_string_equal(NEXT(P_POWERDOWN, G_REMOVE, E_START), "-");
	/* stop a stopped or failed guest */
	assert_string_equal(NEXT(P_STOPPED, G_RUN, E_STOP),
	    "stopped/stop stopped,timer-off,gone");
	assert_string_equal(NEXT(P_FAILED, G_RUN, E_STOP),
	    "stopped/stop stopped,timer-off,gone");
	/* events that mean nothing where they come */
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_JOB_OK), "-");
	assert_string_equal(NEXT(P_STOPPED, G_RUN, E_EXIT_STOP), "-");
	assert_string_equal(NEXT(P_RUNNING, G_RUN, E_NO_QMP), "-");
	assert_string_equal(NEXT(P_PENDING, G_RUN, E_TIMER), "-");
	assert_string_equal(NEXT(P_STOPPED, G_STOP, E_NET_UP), "-");
	/* defensive: an exit with G_RUN while stopping is a stop */
	assert_string_equal(NEXT(P_KILL, G_RUN, E_EXIT_STOP),
	    "stopped/stop exit-wanted,stopped,tap-delete,timer-off,gone");
}

#define FSM_TESTS \
	cmocka_unit_test(fsm_table), \
	cmocka_unit_test(fsm_names), \
	cmocka_unit_test(fsm_cases),

/* --- the runtime (guest/vm.c and its steps) through a fake struct vm_ops ----- */

static struct {
	char		 log[16384];	/* what was done, a line each */
	size_t		 len;
	uint64_t	 now;
	uint64_t	 timer;		/* the guest's timer, as last set */
	pid_t		 next_pid;
	int		 spawn_fail, tap_fail, qmp_ok, con_ok, qmp_cmd_fail, kvm;
	char		 files[16][256];	/* what exists */
	size_t		 nfiles;
	const char	*leases;	/* dnsmasq's leases */
	char		 cg_name[32];	/* the last cgroup_add */
	pid_t		 cg_pid;
	uint64_t	 cg_mem;
	int		 cg_ends;	/* cgroup_end calls */
	int		 fds[3];	/* the last spawn's; -2: NULL */
	uid_t		 qmp_owner;	/* the last qmp_open's */
	int		 left;		/* processes uid_kill finds */
	char		 mkdirs[2048];	/* mkdir_owned's, a line each */
} fk;

static void
did(const char *fmt, ...) NB_PRINTF(1, 2);

static void
did(const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(fk.log + fk.len, sizeof(fk.log) - fk.len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && fk.len + (size_t)n + 1 < sizeof(fk.log));
	fk.len += (size_t)n;
	fk.log[fk.len++] = '\n';
	fk.log[fk.len] = '\0';
}

/* What was done since the last call. */
static char *
done(void)
{
	static char	 buf[sizeof(fk.log)];

	memcpy(buf, fk.log, fk.len + 1);
	fk.len = 0;
	fk.log[0] = '\0';
	return buf;
}

static void
fk_file(const char *path)
{
	assert_true(fk.nfiles < NTESTS(fk.files));
	snprintf(fk.files[fk.nfiles++], sizeof(fk.files[0]), "%s", path);
}

static uint64_t	 fk_now(void) { return fk.now; }

static int
fk_timer_set(struct timer *t, uint64_t ms)
{
	if (t != &vms.lease_timer)
		fk.timer = ms;
	return 0;
}

static pid_t
fk_spawn(char *const argv[], const int fds[3], const struct cred *c)
{
	char	 line[2048];
	struct text t;
	size_t	 i;

	text_init(&t, line, sizeof(line));
	text_add(&t, "spawn uid %u gid %u", (unsigned)c->uid, (unsigned)c->gid);
	for (i = 0; i < c->ngroups; i++)
		text_add(&t, " group %u", (unsigned)c->groups[i]);
	text_add(&t, "%s:", fds != NULL && fds[1] >= 0 ? " logged" : "");
	for (i = 0; i < 3; i++)
		fk.fds[i] = fds != NULL ? fds[i] : -2;
	for (i = 0; argv[i] != NULL && i < 4; i++)
		text_add(&t, " %s", argv[i]);
	if (fds != NULL && fds[0] >= 0) {	/* a line on stdin: shown after '<' */
		char	 in[GUEST_SOURCE_MAX + 2];
		ssize_t	 n = read(fds[0], in, sizeof(in) - 1);

		in[n > 0 ? n : 0] = '\0';
		in[strcspn(in, "\n")] = '\0';
		text_add(&t, " <%s", in);
	}
	did("%s", line);
	if (fk.spawn_fail) {
		errno = EAGAIN;
		return -1;
	}
	return fk.next_pid++;
}

static void	 fk_watch(struct child *c) { (void)c; }
static int	 fk_kill(pid_t p, int sig) { did("kill %d %d", (int)p, sig); return 0; }

static int
fk_tap_create(const char *name, uid_t owner, const uint8_t mac[6])
{
	(void)mac;
	did("tap %s %u", name, (unsigned)owner);
	errno = EPERM;
	return fk.tap_fail ? -1 : 0;
}

static void	 fk_tap_delete(const char *name) { did("tap delete %s", name); }

static int
fk_qmp_open(struct qmp *q, const char *path, uid_t owner)
{
	(void)q;
	(void)path;
	fk.qmp_owner = owner;
	errno = ENOENT;
	return fk.qmp_ok ? 0 : -1;
}

static int
fk_qmp_command(struct qmp *q, const char *cmd)
{
	(void)q;
	did("qmp %s", cmd);
	return fk.qmp_cmd_fail ? -1 : 1;
}

static void	 fk_qmp_close(struct qmp *q) { (void)q; did("qmp close"); }

static int
fk_con_open(struct vm *v)
{
	if (!fk.con_ok)
		return -1;
	v->con.fd = 1000;
	return 0;
}

static void	 fk_con_close(struct vm *v) { v->con.fd = -1; }

static void
fk_env(struct qemu_env *e)
{
	e->kvm = fk.kvm;
	e->vhost = 0;
	e->direct_io = 0;
}

static int
fk_exists(const char *path)
{
	size_t	 i;

	for (i = 0; i < fk.nfiles; i++)
		if (strcmp(fk.files[i], path) == 0)
			return 1;
	return 0;
}

static int
fk_mkdir_owned(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	size_t	 n = strlen(fk.mkdirs);

	snprintf(fk.mkdirs + n, sizeof(fk.mkdirs) - n, "mkdir %s %u:%u %o\n", path,
	    (unsigned)uid, (unsigned)gid, (unsigned)mode);
	return 0;
}

static void	 fk_own_dir(const char *d, uid_t u, const char *w) { (void)d; (void)u; (void)w; }

static int
fk_own(const char *path, uid_t uid, mode_t mode)
{
	did("own %s %u %o", path, (unsigned)uid, (unsigned)mode);
	return 0;
}

static int
fk_pd_find(const char *ref, char *path, size_t size)
{
	if (strcmp(ref, "data") == 0)
		snprintf(path, size, "/dev/sdb");
	else if (strcmp(ref, "data2") == 0)
		snprintf(path, size, "/dev/sdc");
	else if (strcmp(ref, "boot") == 0)
		snprintf(path, size, "/dev/sda");
	else {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static int	 fk_disk_is_l1(const char *dev) { return strcmp(dev, "/dev/sda") == 0; }

static int
fk_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	(void)data;
	did("write %s %s %o", path, len > 0 ? "data" : "empty", (unsigned)mode);
	return 0;
}

static int	 fk_open_log(const char *path) { did("log %s", path); return 1000; }

static int
fk_uid_kill(uid_t uid)
{
	int	 n = fk.left;

	if (n > 0)
		did("uid_kill %u %d", (unsigned)uid, n);
	fk.left = 0;
	return n;
}

static int
fk_own_dev(const char *dev, uid_t uid, gid_t gid, mode_t mode)
{
	did("own_dev %s %u:%u %o", dev, (unsigned)uid, (unsigned)gid, (unsigned)mode);
	return 0;
}

static int
fk_make_file(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	did("make %s %u:%u %o", path, (unsigned)uid, (unsigned)gid, (unsigned)mode);
	return 0;
}
static int	 fk_close(int fd) { (void)fd; return 0; }
static int	 fk_unlink(const char *path) { (void)path; return 0; }

static int
fk_rename(const char *from, const char *to)
{
	did("rename %s", to);
	(void)from;
	fk_file(to);
	return 0;
}

static char *
fk_read_file(const char *path, size_t max, size_t *len)
{
	(void)max;
	if (strcmp(path, DNSMASQ_LEASES) == 0 && fk.leases != NULL) {
		*len = strlen(fk.leases);
		return strdup(fk.leases);
	}
	if (strstr(path, "/status") != NULL) {
		*len = 20;
		return strdup("VmRSS:\t  300000 kB\n");
	}
	errno = ENOENT;
	return NULL;
}

static int
fk_cgroup_add(const char *name, pid_t pid, uint64_t mem)
{
	snprintf(fk.cg_name, sizeof(fk.cg_name), "%s", name);
	fk.cg_pid = pid;
	fk.cg_mem = mem;
	return 0;
}

static void	 fk_cgroup_end(const char *name) { (void)name; fk.cg_ends++; }

static const struct vm_ops fake_ops = {
	fk_now, fk_timer_set, fk_spawn, fk_watch, fk_kill, fk_tap_create, fk_tap_delete,
	fk_qmp_open, fk_qmp_command, fk_qmp_close, fk_con_open, fk_con_close, fk_env,
	fk_exists, fk_mkdir_owned, fk_own_dir, fk_own, fk_pd_find, fk_disk_is_l1,
	fk_write_file, fk_open_log, fk_close, fk_unlink, fk_rename, fk_read_file,
	fk_cgroup_add, fk_cgroup_end,
	fk_make_file, fk_uid_kill, fk_own_dev,
};

static int	 rt_logfd;

static int
rt_setup(void **state)
{
	(void)state;
	vm_reset();
	vm_set_ops(&fake_ops);
	memset(&fk, 0, sizeof(fk));
	fk.next_pid = 5000;
	fk.now = 1000000;
	fk.qmp_ok = fk.con_ok = 1;
	vms.net_up = 1;
	rt_logfd = log_capture();
	return 0;
}

static int
rt_teardown(void **state)
{
	(void)state;
	free(log_captured(rt_logfd));
	vm_reset();
	vm_set_ops(NULL);
	return 0;
}

/* The console's log so far, as one string (freed at the next call). */
static const char *
console(void)
{
	static char	*last;

	free(last);
	last = log_captured(rt_logfd);
	rt_logfd = log_capture();
	return last;
}

static const char *
st(const char *name)
{
	struct vm	*v = vm_find(name);

	return v != NULL ? vm_state_str(v->state) : "gone";
}

/* child_reap()'s part: the child has exited with status. */
static void
job_exit(const char *name, int status)
{
	struct vm	*v = vm_find(name);

	assert_non_null(v);
	assert_int_not_equal(v->job.pid, 0);
	v->job.pid = 0;
	v->job.exited(&v->job, status);
}

static void
qemu_exit(const char *name, int status)
{
	struct vm	*v = vm_find(name);

	assert_non_null(v);
	assert_int_not_equal(v->qemu.pid, 0);
	v->qemu.pid = 0;
	v->qemu.exited(&v->qemu, status);
}

static void
fire(const char *name)
{
	struct vm	*v = vm_find(name);

	assert_non_null(v);
	v->timer.fire(&v->timer);
}

#define URL	"https://example.com/a.img"
#define SHA	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DL	STATE_IMAGES "/sha256-" SHA
#define GA	"{\"name\": \"a\", \"memory\": \"128M\", \"disks\": " \
		"[{\"source\": \"" URL "\", \"sha256\": \"" SHA "\"}]}"
#define GF(n)	"{\"name\": \"" n "\", \"memory\": \"128M\", \"disks\": " \
		"[{\"source\": \"" URL "\", \"sha256\": \"" SHA "\"}]}"
#define GS(n)	"{\"name\": \"" n "\", \"memory\": \"128M\", \"disks\": " \
		"[{\"source\": \"state:" n ".img\"}]}"

/* Declared (state: disk) and brought up to running. */
static void
up(const char *doc, const char *name)
{
	char	 path[128];

	snprintf(path, sizeof(path), "%s/%s.img", STATE_DIR, name);
	fk_file(path);
	vm_reconcile(doc, 0);
	assert_string_equal(st(name), "starting");
	fire(name);
	assert_string_equal(st(name), "running");
	done();
}

static void
rt_fetch_to_running(void **state)
{
	struct vm	*v;
	char		*c;

	(void)state;
	vm_reconcile(DOC(GA), 0);
	assert_string_equal(st("a"), "fetching");
	/* the download, as the unprivileged fetcher */
	assert_string_equal(done(), "spawn uid 901 gid 901 group 900: "
	    "/usr/libexec/nestbox/nestbox-fetch - " DL " " SHA " <" URL "\n");
	/* the URL in a pipe (above), /dev/null out; stderr the console's */
	assert_true(fk.fds[0] >= 0);
	assert_int_equal(fk.fds[1], -1);
	assert_int_equal(fk.fds[2], 2);
	/* the guest's directory is PID 1's; only disks/ is the guest's */
	assert_string_equal(fk.mkdirs, "mkdir " STATE_GUESTS "/a 0:20000 750\n"
	    "mkdir " STATE_GUESTS "/a/disks 20000:20000 700\n");
	v = vm_find("a");
	assert_int_equal(v->fsm.phase, P_FETCH_JOB);
	/* nestbox-fetch renames it itself */
	fk_file(DL);
	job_exit("a", EXITED(0));
	/* a copy of its own, made by qemu-img as the guest */
	c = done();
	assert_non_null(strstr(c, "spawn uid 20000 gid 20000: /usr/bin/qemu-img convert -q -f"));
	assert_int_equal(fk.fds[1], -1);
	job_exit("a", EXITED(0));
	c = done();
	assert_non_null(strstr(c, "rename " STATE_GUESTS "/a/disks/disk0-"));
	/* console.log: QEMU's file, made anew in PID 1's directory */
	assert_non_null(strstr(c, "make " STATE_GUESTS "/a/console.log 20000:20000 600\n"));
	/* QEMU, as the guest's own user in the kvm group, logged */
	assert_non_null(strstr(c, "tap nbtap0 20000\n"));
	assert_non_null(strstr(c, "log " STATE_GUESTS "/a/qemu.log\n"));
	assert_non_null(strstr(c, "spawn uid 20000 gid 20000 group 78 logged: "
	    QEMU_BIN " "));
	assert_string_equal(st("a"), "starting");
	assert_int_equal(fk.timer, VM_CONNECT_MS);
	/* QMP not up yet */
	fk.qmp_ok = 0;
	fire("a");
	assert_string_equal(st("a"), "starting");
	assert_int_equal(fk.qmp_owner, 20000);		/* QEMU's socket, checked */
	assert_int_equal(fk.timer, VM_CONNECT_MS);
	fk.qmp_ok = 1;
	fire("a");
	assert_string_equal(st("a"), "running");
	assert_int_equal(fk.timer, VM_SAMPLE_MS);
	/* the memory sample */
	fire("a");
	assert_int_equal(v->sample_rss, 300000);
	/* QEMU in the guest's cgroup: its memory, QEMU's and TCG's cache */
	assert_string_equal(fk.cg_name, "a");
	assert_int_equal(fk.cg_pid, v->qemu.pid);
	assert_int_equal(fk.cg_mem, (128ULL << 20) + CGROUP_OVERHEAD + CGROUP_TCG_OVERHEAD);
	c = (char *)console();
	assert_non_null(strstr(c, "nestbox: guest a: declared (1 vcpus, 128 MiB, 1 disks, "
	    "restart always)\n"));
	assert_non_null(strstr(c, "nestbox: guest a: fetching\n"));
	assert_non_null(strstr(c, "nestbox: guest a: downloading " URL "\n"));
	assert_non_null(strstr(c, "nestbox: guest a: making " STATE_GUESTS "/a/disks/disk0-"));
	assert_non_null(strstr(c, "nestbox: guest a: QEMU started (pid 5002, tcg, 1 vcpus, "
	    "128 MiB)\n"));
	assert_non_null(strstr(c, "nestbox: guest a: starting\n"));
	assert_non_null(strstr(c, "nestbox: guest a: running\n"));
}

static void
rt_stop_sequence(void **state)
{
	char	*c;
	int	 ends;

	(void)state;
	up(DOC(GS("a")), "a");
	ends = fk.cg_ends;
	assert_int_equal(vm_control_ops.action("a", "stop"), 0);
	assert_string_equal(st("a"), "stopping");
	assert_string_equal(done(), "qmp system_powerdown\n");
	assert_int_equal(fk.timer, vm_stop_deadline());
	/* a second stop changes nothing */
	assert_int_equal(vm_control_ops.action("a", "stop"), 0);
	assert_string_equal(done(), "");
	fire("a");
	assert_string_equal(done(), "qmp quit\n");
	assert_int_equal(fk.timer, VM_QUIT_MS);
	fire("a");
	assert_string_equal(done(), "kill 5000 9\n");
	assert_int_equal(vm_find("a")->fsm.phase, P_KILL);
	qemu_exit("a", KILLED(9));
	assert_string_equal(st("a"), "stopped");
	assert_string_equal(done(), "qmp close\ntap delete nbtap0\n");
	assert_int_equal(fk.cg_ends, ends + 1);	/* what QEMU left is killed */
	c = (char *)console();
	assert_non_null(strstr(c, "guest a: stop requested\n"));
	assert_non_null(strstr(c, "guest a: stopping\n"));
	assert_non_null(strstr(c, "guest a: system_powerdown, waiting up to "));
	assert_non_null(strstr(c, "guest a: did not power off in time: quit\n"));
	assert_non_null(strstr(c, "guest a: killing QEMU\n"));
	assert_non_null(strstr(c, "guest a: QEMU killed by signal 9"));
	assert_non_null(strstr(c, "guest a: stopped\n"));
	assert_string_equal(vm_find("a")->error, "");
	/* started again by request */
	assert_int_equal(vm_control_ops.action("a", "start"), 0);
	assert_string_equal(st("a"), "starting");
	/* start of a running one: nothing */
	done();
	assert_int_equal(vm_control_ops.action("a", "start"), 0);
	assert_string_equal(done(), "");
	assert_int_equal(vm_control_ops.action("a", "frob"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vm_control_ops.action("zz", "stop"), -1);
	assert_int_equal(errno, ENOENT);
}

static void
rt_stop_without_qmp(void **state)
{
	(void)state;
	up(DOC(GS("a")), "a");
	/* QMP gone (its on_close): SIGTERM, then SIGKILL */
	vm_find("a")->qmp.on_close(&vm_find("a")->qmp);
	assert_int_equal(vm_control_ops.action("a", "stop"), 0);
	assert_string_equal(done(), "kill 5000 15\n");
	assert_int_equal(fk.timer, VM_QUIT_MS);
	fire("a");
	assert_string_equal(done(), "kill 5000 9\n");
	qemu_exit("a", KILLED(9));
	assert_string_equal(st("a"), "stopped");
	/* a powerdown QMP refuses: SIGTERM too */
	assert_int_equal(vm_control_ops.action("a", "start"), 0);
	fire("a");
	assert_string_equal(st("a"), "running");
	done();
	fk.qmp_cmd_fail = 1;
	assert_int_equal(vm_control_ops.action("a", "stop"), 0);
	assert_string_equal(done(), "qmp system_powerdown\nkill 5001 15\n");
	/* the quit timer: QMP is there but the quit goes unanswered */
	fk.qmp_cmd_fail = 0;
	fire("a");
	assert_string_equal(done(), "kill 5001 9\n");
}

static void
rt_remove_while_starting(void **state)
{
	char	 path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/a.img", STATE_DIR);
	fk_file(path);
	fk.qmp_ok = 0;
	vm_reconcile(DOC(GS("a")), 0);
	assert_string_equal(st("a"), "starting");
	done();
	vm_reconcile(DOC(""), 0);
	/* no QMP yet: SIGTERM */
	assert_string_equal(done(), "kill 5000 15\n");
	assert_string_equal(st("a"), "stopping");
	/* not a guest for `nestbox` any more */
	assert_int_equal(vm_control_ops.action("a", "start"), -1);
	assert_int_equal(errno, ENOENT);
	qemu_exit("a", EXITED(0));
	assert_string_equal(st("a"), "gone");
	assert_string_equal(done(), "tap delete nbtap0\n");
	assert_non_null(strstr(console(), "guest a: removed\n"));
}

static void
rt_remove_and_declare_again(void **state)
{
	(void)state;
	up(DOC(GS("a")), "a");
	vm_reconcile(DOC(""), 0);
	assert_string_equal(st("a"), "stopping");
	vm_reconcile(DOC(GS("a")), 0);
	qemu_exit("a", EXITED(0));
	/* stopped, then started with its declaration: not freed */
	assert_string_equal(st("a"), "starting");
	assert_int_equal(vm_find("a")->fsm.goal, G_RUN);
}

static void
rt_changed_declaration(void **state)
{
	struct vm	*v;
	char		*c;

	(void)state;
	up(DOC(GS("a")), "a");
	v = vm_find("a");
	v->restarts = 3;
	vm_reconcile(DOC("{\"name\": \"a\", \"vcpus\": 2, \"memory\": \"128M\", "
	    "\"disks\": [{\"source\": \"state:a.img\"}]}"), 0);
	assert_string_equal(done(), "qmp system_powerdown\n");
	assert_int_equal(v->g.vcpus, 1);
	/* the same again: the plan keeps it (its next declaration is the same) */
	vm_reconcile(DOC("{\"vcpus\": 2, \"name\": \"a\", \"memory\": \"128M\", "
	    "\"disks\": [{\"source\": \"state:a.img\"}]}"), 0);
	assert_string_equal(done(), "");
	qemu_exit("a", EXITED(0));
	c = done();
	assert_non_null(strstr(c, "tap delete nbtap0\n"));
	assert_non_null(strstr(c, "spawn uid 20000"));
	assert_string_equal(st("a"), "starting");
	assert_int_equal(v->g.vcpus, 2);
	assert_int_equal(v->restarts, 0);
	c = (char *)console();
	assert_non_null(strstr(c, "guests: plan: restart a\n"));
	assert_non_null(strstr(c, "guest a: stopped\nnestbox: guest a: pending\n"));
}

static void
rt_fetch_failures(void **state)
{
	struct vm	*v;

	(void)state;
	vm_reconcile(DOC(GA), 0);
	done();
	/* a transport error: backs off, tries again */
	job_exit("a", EXITED(FETCH_ERROR));
	assert_string_equal(st("a"), "backing off");
	assert_int_equal(fk.timer, 1000);
	v = vm_find("a");
	assert_non_null(strstr(v->error, "the download failed (nestbox-fetch exited with status 1)"));
	fire("a");
	assert_string_equal(st("a"), "fetching");
	assert_non_null(strstr(done(), "nestbox-fetch"));
	/* the state partition full: again */
	job_exit("a", EXITED(FETCH_NOSPACE));
	assert_string_equal(st("a"), "backing off");
	assert_int_equal(fk.timer, 2000);
	assert_non_null(strstr(v->error, "the state partition is full"));
	fire("a");
	done();
	/* a sha256 mismatch: failed, not retried */
	job_exit("a", EXITED(FETCH_MISMATCH));
	assert_string_equal(st("a"), "failed");
	assert_string_equal(v->error, "disks[0]: " URL ": sha256 mismatch: the download "
	    "was refused");
	assert_string_equal(done(), "");
	/* a reload retries a failed guest */
	vm_reconcile(DOC(GA), 1);
	assert_string_equal(st("a"), "fetching");
	assert_string_equal(v->error, "");
	/* qemu-img failing */
	fk_file(DL);
	job_exit("a", EXITED(0));
	job_exit("a", KILLED(9));
	assert_string_equal(st("a"), "backing off");
	assert_non_null(strstr(v->error, "qemu-img for " STATE_GUESTS "/a/disks/disk0-"));
	/* restart during backoff: now */
	done();
	assert_int_equal(vm_control_ops.action("a", "restart"), 0);
	assert_string_equal(st("a"), "fetching");
	assert_non_null(strstr(done(), "qemu-img"));
}

static void
rt_stop_during_fetch(void **state)
{
	(void)state;
	vm_reconcile(DOC(GA), 0);
	done();
	assert_int_equal(vm_control_ops.action("a", "stop"), 0);
	assert_string_equal(done(), "kill 5000 15\n");
	assert_string_equal(st("a"), "fetching");
	job_exit("a", KILLED(15));
	assert_string_equal(st("a"), "stopped");
	assert_string_equal(vm_find("a")->error, "");
	/* `start` during a fetch: the fetch starts over */
	assert_int_equal(vm_control_ops.action("a", "start"), 0);
	done();
	assert_int_equal(vm_control_ops.action("a", "start"), 0);
	assert_string_equal(done(), "kill 5001 15\n");
	job_exit("a", KILLED(15));
	assert_string_equal(st("a"), "fetching");
	assert_non_null(strstr(done(), "nestbox-fetch"));
}

static void
rt_shared_download(void **state)
{
	(void)state;
	vm_reconcile(DOC(GA "," GF("b")), 0);
	/* one download for both */
	assert_string_equal(done(), "spawn uid 901 gid 901 group 900: "
	    "/usr/libexec/nestbox/nestbox-fetch - " DL " " SHA " <" URL "\n");
	assert_int_equal(vm_find("b")->fsm.phase, P_FETCHING);
	fk_file(DL);
	job_exit("a", EXITED(0));
	/* b goes on: its own copy */
	assert_int_equal(vm_find("b")->fsm.phase, P_FETCH_JOB);
	assert_int_equal(vm_find("a")->fsm.phase, P_FETCH_JOB);
}

static void
rt_exit_policies(void **state)
{
	char	*c;

	(void)state;
	/* always: backoff, restarted */
	up(DOC(GS("a")), "a");
	fk.now += 2000;
	qemu_exit("a", EXITED(1));
	assert_string_equal(st("a"), "backing off");
	assert_int_equal(vm_find("a")->restarts, 1);
	assert_int_equal(fk.timer, 1);
	c = (char *)console();
	assert_non_null(strstr(c, "guest a: QEMU exited with status 1"));
	assert_non_null(strstr(c, "guest a: restart 1 in 0.0 s (restart: always)\n"));
	fire("a");
	assert_string_equal(st("a"), "starting");
	/* the guest powers off, on-failure: stopped */
	vm_reset();
	vm_set_ops(&fake_ops);
	vms.net_up = 1;
	up(DOC("{\"name\": \"b\", \"memory\": \"128M\", \"restart\": \"on-failure\", "
	    "\"disks\": [{\"source\": \"state:b.img\"}]}"), "b");
	qemu_exit("b", EXITED(0));
	assert_string_equal(st("b"), "stopped");
	assert_string_equal(done(), "qmp close\ntap delete nbtap0\n");
	assert_non_null(strstr(console(), "guest b: QEMU exited: the guest powered off\n"));
	/* never, killed: failed, its tap kept */
	vm_reset();
	vm_set_ops(&fake_ops);
	vms.net_up = 1;
	up(DOC("{\"name\": \"c\", \"memory\": \"128M\", \"restart\": \"never\", "
	    "\"disks\": [{\"source\": \"state:c.img\"}]}"), "c");
	qemu_exit("c", KILLED(9));
	assert_string_equal(st("c"), "failed");
	assert_string_equal(done(), "qmp close\n");
	assert_non_null(strstr(vm_find("c")->error, "QEMU killed by signal 9"));
}

static void
rt_shutdown(void **state)
{
	(void)state;
	/* a running guest, a fetching one, a failed one, one backing off */
	up(DOC(GS("a")), "a");
	vm_reconcile(DOC(GS("a") "," GF("b") ",{\"name\": \"c\", \"memory\": \"128M\", "
	    "\"disks\": [{\"source\": \"pd:boot\"}]},{\"name\": \"d\", \"memory\": \"128M\", "
	    "\"disks\": [{\"source\": \"pd:nothere\"}]}"), 0);
	assert_string_equal(st("c"), "failed");
	assert_string_equal(st("d"), "backing off");
	done();
	assert_int_equal(vms.hook.start(&vms.hook, SHUTDOWN_POWEROFF), 1);
	assert_string_equal(done(), "qmp system_powerdown\nkill 5001 15\n");
	assert_string_equal(st("c"), "failed");
	assert_string_equal(st("d"), "stopped");
	/* nothing starts again: not by request, not by a new declaration */
	assert_int_equal(vm_control_ops.action("d", "start"), 0);
	assert_string_equal(st("d"), "stopped");
	job_exit("b", KILLED(15));
	assert_string_equal(st("b"), "stopped");
	assert_int_equal(vms.hook_waiting, 1);
	qemu_exit("a", EXITED(0));
	assert_string_equal(st("a"), "stopped");
	assert_int_equal(vms.hook_waiting, 0);
	assert_non_null(strstr(console(), "guests: all stopped\n"));
	vm_reconcile(DOC(GS("e")), 0);
	assert_string_equal(st("e"), "stopped");
	/* nothing running: done at once */
	vm_reset();
	assert_int_equal(vms.hook.start(&vms.hook, SHUTDOWN_POWEROFF), 0);
}

static void
rt_launch_failures(void **state)
{
	(void)state;
	/* accel kvm without /dev/kvm: failed */
	vm_reconcile(DOC("{\"name\": \"a\", \"memory\": \"128M\", \"accel\": \"kvm\", "
	    "\"disks\": [{\"source\": \"pd:data\"}]}"), 0);
	assert_string_equal(st("a"), "failed");
	assert_non_null(strstr(vm_find("a")->error, "accel: kvm, but /dev/kvm is not usable"));
	/* no tap: backing off */
	vm_reset();
	vm_set_ops(&fake_ops);
	vms.net_up = 1;
	fk.tap_fail = 1;
#define B	"{\"name\": \"b\", \"memory\": \"128M\", " \
		"\"disks\": [{\"source\": \"pd:data\"}]}"
	vm_reconcile(DOC(B), 0);
	assert_string_equal(st("b"), "backing off");
	assert_string_equal(vm_find("b")->error, "tap nbtap0 on virbr0: Operation not permitted");
	/* no fork */
	fk.tap_fail = 0;
	fk.spawn_fail = 1;
	fire("b");
	assert_string_equal(st("b"), "backing off");
	assert_non_null(strstr(vm_find("b")->error, "fork: "));
	/* a download that can not fork */
	vm_reconcile(DOC(B "," GA), 0);
	assert_string_equal(st("a"), "backing off");
	/* QMP never comes up: killed after VM_CONNECT_MAX */
	fk.spawn_fail = 0;
	fire("b");
	assert_string_equal(st("b"), "starting");
	fk.qmp_ok = 0;
	done();
	fk.now += VM_CONNECT_MAX + 1;
	fire("b");
	assert_string_equal(done(), "kill 5000 9\n");
	assert_non_null(strstr(vm_find("b")->error, "QMP did not come up in 30 s"));
}

static void
rt_sources(void **state)
{
	char	*c;

	(void)state;
	/* pd: given to the guest's user; a missing one, the L1's own */
	vm_reconcile(DOC("{\"name\": \"a\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"pd:data\"}], \"cloud-init\": {\"user-data\": \"#cloud-config\\n\"}}"), 0);
	c = done();
	assert_non_null(strstr(c, "own /dev/sdb 20000 600\n"));
	/* the cloud-init seed */
	assert_non_null(strstr(c, "write " STATE_GUESTS "/a/seed.iso data 644\n"));
	assert_string_equal(st("a"), "starting");
	/* a missing state: file, a kernel to download, an overlay */
	vm_reconcile(DOC("{\"name\": \"a\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"pd:data\"}], \"cloud-init\": {\"user-data\": \"#cloud-config\\n\"}},"
	    "{\"name\": \"b\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"state:none.img\"}]},"
	    "{\"name\": \"k\", \"memory\": \"128M\", \"kernel\": {\"source\": \"" URL "\"}},"
	    "{\"name\": \"o\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"pd:data2\", \"overlay\": true, \"size\": \"1G\"}]}"), 0);
	assert_string_equal(st("b"), "backing off");
	assert_non_null(strstr(vm_find("b")->error, "no such file on the state partition"));
	if (strcmp(st("k"), "fetching") != 0)
		fail_msg("%s", console());
	c = done();
	assert_non_null(strstr(c, "/usr/libexec/nestbox/nestbox-fetch - "));
	assert_non_null(strstr(c, " <" URL "\n"));
	assert_non_null(strstr(c, "/usr/bin/qemu-img create -q -f"));
}

/* uids are not recycled dirty: a former run's processes hold the slot back;
 * a guest that goes gives its uid, files and persistent disks back. */
static void
rt_release(void **state)
{
	const char	*c;
	char		*d;

	(void)state;
	fk.left = 2;
	vm_reconcile(DOC("{\"name\": \"a\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"pd:data\"}]}"), 0);
	assert_string_equal(st("a"), "backing off");
	assert_string_equal(vm_find("a")->error,
	    "uid 20000: 2 processes of a former run were left (killed)");
	assert_non_null(strstr(done(), "uid_kill 20000 2\n"));
	fire("a");
	assert_string_equal(st("a"), "starting");
	fire("a");
	assert_string_equal(st("a"), "running");
	done();
	fk_file(STATE_GUESTS "/a");
	fk_file(STATE_GUESTS "/a/disks");
	fk.mkdirs[0] = '\0';
	fk.left = 1;		/* what its QEMU left running */
	vm_reconcile(DOC(""), 0);
	qemu_exit("a", EXITED(0));
	assert_null(vm_find("a"));
	d = done();
	assert_non_null(strstr(d, "uid_kill 20000 1\n"));
	assert_non_null(strstr(d, "own_dev /dev/sdb 0:6 660\n"));
	assert_string_equal(fk.mkdirs, "mkdir " STATE_GUESTS "/a/disks 0:0 700\n"
	    "mkdir " STATE_GUESTS "/a 0:0 700\n");
	c = console();
	assert_non_null(strstr(c, "guest a: 1 processes of uid 20000 killed\n"));
}

/* A signed URL's query: in the fetcher's stdin, nowhere else. gs:// runs as
 * the uid that may get the token, http(s) as the one that may not. */
static void
rt_secrets(void **state)
{
	struct vm	*v;
	const char	*c;
	char		*d;

	(void)state;
	vm_reconcile(DOC("{\"name\": \"s\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"https://example.com/a.img?X-Goog-Signature=SECRET\"}]},"
	    "{\"name\": \"g\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"gs://bucket/b.img\"}]}"), 0);
	d = done();
	assert_non_null(strstr(d, "spawn uid 901 gid 901 group 900: "
	    "/usr/libexec/nestbox/nestbox-fetch - "));
	assert_non_null(strstr(d, " <https://example.com/a.img?X-Goog-Signature=SECRET\n"));
	assert_non_null(strstr(d, "spawn uid 900 gid 900 group 900: "
	    "/usr/libexec/nestbox/nestbox-fetch - "));
	assert_non_null(strstr(d, " <gs://bucket/b.img\n"));
	v = vm_find("s");
	assert_string_equal(v->job_what, "disks[0]: https://example.com/a.img?...");
	job_exit("s", EXITED(FETCH_ERROR));
	assert_null(strstr(v->error, "SECRET"));
	assert_non_null(strstr(v->error, "https://example.com/a.img?..."));
	c = console();
	assert_non_null(strstr(c, "guest s: downloading https://example.com/a.img?...\n"));
	assert_null(strstr(c, "SECRET"));
	/* a refused image: permanent */
	job_exit("g", EXITED(FETCH_REFUSED));
	assert_string_equal(st("g"), "failed");
	assert_non_null(strstr(vm_find("g")->error, "names other files"));
}

/* An overlay an older image made in the guest's directory itself is moved
 * into disks/, not made again. */
static void
rt_migrate(void **state)
{
	struct vm	*v;
	char		 old[PATH_MAX], *p, *d;

	(void)state;
	fk_file(STATE_DIR "/o.img");
	vm_reconcile(DOC("{\"name\": \"o\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"state:o.img\", \"overlay\": true}]}"), 0);
	v = vm_find("o");
	assert_non_null(p = strstr(v->disk[0], "/" VM_DISKS "/"));
	snprintf(old, sizeof(old), "%.*s%s", (int)(p - v->disk[0]), v->disk[0],
	    p + strlen("/" VM_DISKS));
	assert_non_null(strstr(done(), "/usr/bin/qemu-img create"));
	job_exit("o", EXITED(1));
	assert_string_equal(st("o"), "backing off");
	fk_file(old);
	fire("o");
	d = done();
	assert_null(strstr(d, "qemu-img"));
	assert_non_null(strstr(d, "rename "));
	assert_non_null(strstr(d, v->disk[0]));
	assert_string_equal(st("o"), "starting");
}

/* A disk's max-size bounds its download; only a download has one. */
static void
rt_max_size(void **state)
{
	const char	*c;

	(void)state;
	vm_reconcile(DOC("{\"name\": \"m\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"" URL "\", \"max-size\": \"2G\"}]},"
	    "{\"name\": \"p\", \"memory\": \"128M\", \"disks\": "
	    "[{\"source\": \"pd:data\", \"max-size\": \"2G\"}]}"), 0);
	assert_non_null(strstr(done(), "spawn uid 901 gid 901 group 900: "
	    "/usr/libexec/nestbox/nestbox-fetch --max-size 2147483648 - <" URL "\n"));
	c = console();
	assert_non_null(strstr(c, "guest p: disks[0].max-size: only a download "
	    "(https://, http://, gs://) has one"));
	job_exit("m", EXITED(FETCH_TOOBIG));
	assert_string_equal(st("m"), "failed");
	assert_string_equal(vm_find("m")->error,
	    "disks[0]: " URL ": larger than its max-size: refused");
}

static void
rt_control(void **state)
{
	char	*s, buf[256];
	int	 got = 0;

	(void)state;
	up(DOC(GS("a")), "a");
	assert_non_null(s = vm_control_ops.status(NULL));
	assert_non_null(strstr(s, "\"declaration\":\t\"applied\""));
	assert_non_null(strstr(s, "\"running\":\t1"));
	free(s);
	assert_non_null(s = vm_control_ops.status("a"));
	assert_non_null(strstr(s, "\"state\":\t\"running\""));
	assert_non_null(strstr(s, "\"tap\":\t\"nbtap0\""));
	free(s);
	assert_null(vm_control_ops.status("zz"));
	assert_int_equal(errno, ENOENT);
	assert_non_null(s = vm_control_ops.list());
	assert_non_null(strstr(s, "\na                    running      -"));
	free(s);
	assert_int_equal(vm_control_ops.log_path("a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, STATE_GUESTS "/a/console.log");
	assert_int_equal(vm_control_ops.log_path("zz", buf, sizeof(buf)), -1);
	assert_int_equal(vm_control_ops.console_attach("zz", NULL, NULL), -1);
	assert_int_equal(vm_control_ops.console_write("zz", "x", 1), -1);
	vm_control_ops.console_detach("zz", &got);
	vm_control_ops.console_detach("a", &got);
	vm_find("a")->con.fd = -1;
	assert_int_equal(vm_control_ops.console_write("a", "x", 1), -1);
	assert_int_equal(errno, ENOTCONN);
	/* a broken document changes nothing */
	vm_reconcile("{", 0);
	assert_string_equal(st("a"), "running");
	assert_non_null(s = vm_control_ops.status(NULL));
	assert_non_null(strstr(s, "\"declaration\":\t\"rejected\""));
	free(s);
	/* the brief form, for nestbox/status */
	{
		cJSON	*o = cJSON_CreateObject();

		vm_render(o, 1);
		assert_non_null(s = cJSON_PrintUnformatted(o));
		assert_non_null(strstr(s, "\"guests\":{\"a\":{\"state\":\"running\""));
		free(s);
		cJSON_Delete(o);
	}
}

static void
sub_fn(void *arg, const char *buf, size_t len)
{
	int	*n = arg;

	(void)buf;
	(void)len;
	(*n)++;
}

static void
rt_console(void **state)
{
	struct vm	*v;
	struct sockaddr_un sun;
	char		*dir, path[128], buf[64];
	int		 ls, peer, n = 0, m = 0, k;
	const char	*c;

	(void)state;
	up(DOC(GS("a")), "a");
	v = vm_find("a");
	/* a console socket where QEMU would listen */
	dir = tmpdir();
	snprintf(v->run, sizeof(v->run), "%s", dir);
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	assert_int_equal(unix_addr(&sun, path), 0);
	assert_true((ls = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(ls, 1), 0);
	v->con.fd = -1;
	assert_int_equal(con_open(v), -1);		/* not QEMU's socket */
	assert_int_equal(errno, EPERM);
	assert_int_equal(lchown(path, vm_uid(v), vm_uid(v)), 0);
	assert_int_equal(con_open(v), 0);
	assert_true((peer = accept(ls, NULL, NULL)) >= 0);
	assert_int_equal(vm_control_ops.console_attach("a", sub_fn, &n), 0);
	for (k = 0; k < VM_SUBS - 1; k++)
		assert_int_equal(vm_control_ops.console_attach("a", sub_fn, &m), 0);
	assert_int_equal(vm_control_ops.console_attach("a", sub_fn, &n), -1);
	assert_int_equal(errno, EBUSY);
	vm_control_ops.console_detach("a", &m);
	/* typed at `nestbox console` */
	assert_int_equal(vm_control_ops.console_write("a", "hi", 2), 0);
	assert_int_equal(read(peer, buf, sizeof(buf)), 2);
	/* from the guest: to the subscriber as it is, to the console by line */
	assert_int_equal(write(peer, "hello\r\nwor\x01ld", 13), 13);
	v->con.handler(&v->con, EPOLLIN);
	assert_int_equal(n, 1);
	c = console();
	assert_non_null(strstr(c, "[guest a] hello\n"));
	assert_null(strstr(c, "wor"));
	/* nothing to read yet */
	v->con.handler(&v->con, EPOLLIN);
	/* the guest closes: the last partial line, the subscriber told */
	close(peer);
	v->con.handler(&v->con, EPOLLIN);
	assert_int_equal(v->con.fd, -1);
	assert_int_equal(n, 2);
	assert_non_null(strstr(console(), "[guest a] wor?ld\n"));
	close(ls);
	rmtree(dir);
}

/*
 * A guest that prints faster than the L1's console takes: PID 1 never
 * blocks, lines that do not fit are dropped and counted, and the console
 * says how many once it takes bytes again.
 */
static void
rt_console_flood(void **state)
{
	struct vm	*v;
	struct sockaddr_un sun;
	char		*dir, path[128], line[64], *big, *got;
	int		 ls, peer, p[2], fl, k;
	size_t		 len = 0, cap = 1 << 20;
	ssize_t		 n;

	(void)state;
	up(DOC(GS("a")), "a");
	v = vm_find("a");
	dir = tmpdir();
	snprintf(v->run, sizeof(v->run), "%s", dir);
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	assert_int_equal(unix_addr(&sun, path), 0);
	assert_true((ls = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(ls, 1), 0);
	v->con.fd = -1;
	/* QEMU's socket: owned by the guest's uid (relay.c checks) */
	assert_int_equal(lchown(path, vm_uid(v), vm_uid(v)), 0);
	assert_int_equal(con_open(v), 0);
	assert_true((peer = accept(ls, NULL, NULL)) >= 0);
	/* the L1's console: a pipe, blocking like /dev/console, and full */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
	fl = fcntl(p[1], F_GETFL);
	assert_int_equal(fcntl(p[1], F_SETFL, fl | O_NONBLOCK), 0);
	while (write(p[1], "x", 1) == 1)
		;
	assert_int_equal(fcntl(p[1], F_SETFL, fl), 0);
	log_init(p[1]);
	/* 2000 lines: the handler returns each time (a blocking write would hang here) */
	for (k = 0; k < 2000; k++) {
		n = snprintf(line, sizeof(line), "flood line %d\n", k);
		assert_int_equal(write(peer, line, n), n);
		v->con.handler(&v->con, EPOLLIN);
	}
	assert_true(v->mirrorlen <= VM_MIRROR_MAX);
	assert_true(v->dropped > 0);
	assert_int_equal(v->dropped, v->dropped_total);
	/* drain the console: what was buffered goes out, then the count */
	assert_non_null(big = malloc(cap));
	fl = fcntl(p[0], F_GETFL);
	assert_int_equal(fcntl(p[0], F_SETFL, fl | O_NONBLOCK), 0);
	for (k = 0; k < 100 && (v->mirrorlen > 0 || v->dropped > 0); k++) {
		while ((n = read(p[0], big + len, cap - len - 1)) > 0)
			len += n;
		/* the next line of the guest comes in: the port has room again */
		assert_int_equal(write(peer, "more\n", 5), 5);
		v->con.handler(&v->con, EPOLLIN);
	}
	while ((n = read(p[0], big + len, cap - len - 1)) > 0)
		len += n;
	big[len] = '\0';
	assert_int_equal(v->mirrorlen, 0);
	assert_int_equal(v->dropped, 0);
	assert_non_null(strstr(big, "[guest a] flood line 0\n"));
	snprintf(line, sizeof(line), "[guest a] %lu lines dropped\n", v->dropped_total);
	assert_non_null(got = strstr(big, line));
	assert_non_null(strstr(got, "[guest a] more\n"));
	free(big);
	log_init(rt_logfd);
	close(p[0]);
	close(p[1]);
	close(peer);
	v->con.handler(&v->con, EPOLLIN);
	close(ls);
	rmtree(dir);
}

static void
rt_network(void **state)
{
	struct vm	*v;

	(void)state;
	up(DOC("{\"name\": \"a\", \"memory\": \"128M\", \"mac\": \"52:54:00:00:00:0a\", "
	    "\"disks\": [{\"source\": \"state:a.img\"}], \"forwards\": "
	    "[{\"port\": 2222, \"guest-port\": 22}]}"), "a");
	v = vm_find("a");
	fk.leases = "1700000000 52:54:00:00:00:0a 192.168.122.50 a *\n";
	assert_int_equal(leases_poll(&fake_ops), 1);
	assert_string_equal(v->ip, "192.168.122.50");
	assert_non_null(strstr(console(), "guest a: address 192.168.122.50\n"));
	fk.leases = "";
	assert_int_equal(leases_poll(&fake_ops), 1);
	assert_string_equal(v->ip, "");
	/* a static address */
	v->g.ip = 0xc0a87a0a;
	vm_lookup_ip(v, "");
	assert_string_equal(v->ip, "192.168.122.10");
}

static void
rt_misc(void **state)
{
	struct vm	*v;
	struct qmp_msg	 m;

	(void)state;
	/* declared before the network is up: pending until it is */
	vms.net_up = 0;
	vm_reconcile(DOC(GS("a")), 0);
	assert_string_equal(st("a"), "pending");
	fk_file(STATE_DIR "/a.img");
	vm_net_up();
	assert_string_equal(st("a"), "starting");
	fire("a");
	v = vm_find("a");
	/* QMP's events, to the console */
	memset(&m, 0, sizeof(m));
	m.kind = QMP_EVENT;
	snprintf(m.event, sizeof(m.event), "SHUTDOWN");
	m.guest = 1;
	v->qmp.on_msg(&v->qmp, &m);
	snprintf(m.event, sizeof(m.event), "POWERDOWN");
	v->qmp.on_msg(&v->qmp, &m);
	m.kind = QMP_ERROR;
	snprintf(m.error, sizeof(m.error), "GenericError: no");
	v->qmp.on_msg(&v->qmp, &m);
	assert_non_null(strstr(console(), "guest a: SHUTDOWN (by the guest)\n"
	    "nestbox: guest a: POWERDOWN\nnestbox: warning: guest a: QMP: GenericError: no\n"));
	/* removed: gone at once (md/ga.c holds its own copy of what waits) */
	vm_reconcile(DOC(""), 0);
	qemu_exit("a", EXITED(0));
	assert_string_equal(st("a"), "gone");
	/* nothing declared: the plan says so */
	vm_reconcile(NULL, 0);
	assert_non_null(strstr(console(), "guests: plan: no guests\n"));
}

/* The real operations that a test can run unprivileged. */
static void
rt_sys(void **state)
{
	const struct vm_ops *o = &vm_sys_ops;
	char		*dir, path[256], last[64];
	struct qemu_env	 env;
	int		 fd;

	(void)state;
	dir = tmpdir();
	snprintf(path, sizeof(path), "%s/g", dir);
	assert_int_equal(o->exists(path), 0);
	assert_int_equal(o->mkdir_owned(path, getuid(), getgid(), 0700), 0);
	assert_int_equal(o->exists(path), 1);
	snprintf(path, sizeof(path), "%s/g/qemu.log", dir);
	if (geteuid() != 0) {		/* qemu.log is root's */
		rmtree(dir);
		skip();
	}
	assert_true((fd = o->open_log(path)) >= 0);
	assert_int_equal(write(fd, "start\nqemu: -drive: no such file\n\n", 34), 34);
	o->close(fd);
	assert_int_equal(o->own(path, getuid(), 0600), 0);
	snprintf(path, sizeof(path), "%s/g", dir);
	qemu_last_words(path, last, sizeof(last));
	assert_string_equal(last, "qemu: -drive: no such file");
	qemu_last_words(path, last, 10);
	assert_string_equal(last, "qemu: -dr");
	qemu_last_words(dir, last, sizeof(last));
	assert_string_equal(last, "");
	o->own_dir(path, getuid(), "g");
	o->own_dir("/nonexistent", getuid(), "g");
	assert_int_equal(o->disk_is_l1(path), 0);
	assert_int_equal(o->disk_is_l1("/nonexistent"), 0);
	assert_int_equal(o->kill(getpid(), 0), 0);
	memset(&env, 0, sizeof(env));
	o->env(&env);
	assert_int_equal(o->pd_find("no-such-disk", path, sizeof(path)), -1);
	o->tap_delete("nbtap-test");
	rmtree(dir);
}

/* --- nestbox check and PID 1: one verdict ----------------------------------- */

static const struct guest_case *cur_case;

static void
case_env(struct guest_env *env)
{
	guest_case_env(cur_case, env);
}

/* The attributes reply GCE would give with the document as nestbox-guests:
 * JSON-escaped, a NUL as \u0000. */
static char *
as_reply(const char *doc, size_t len)
{
	struct text	 t;
	char		*buf;
	size_t		 i, size = 64 + 6 * len;

	assert_non_null(buf = malloc(size));
	text_init(&t, buf, size);
	text_add(&t, "{\"nestbox-guests\": \"");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)doc[i];

		if (c < 0x20)
			text_add(&t, "\\u%04x", c);
		else if (c == '"' || c == '\\')
			text_add(&t, "\\%c", c);
		else
			text_add(&t, "%c", c);
	}
	text_add(&t, "\"}");
	assert_true(text_done(&t) > 0);
	return buf;
}

/* `nestbox check` on case c: its lines without the file name, the summary last. */
static char *
check_run(const struct guest_case *c, const char *dir, int *status)
{
	char		 doc[512], net[512], out[512], *argv[8], *text, *p, *q;
	struct text	 t;
	size_t		 len, n = 0;
	int		 fd, saved;
	static char	 buf[4096];

	snprintf(doc, sizeof(doc), "%s/guests.json", dir);
	snprintf(net, sizeof(net), "%s/network.json", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	assert_int_equal(write_file(doc, c->doc, guest_case_len(c), 0644), 0);
	argv[n++] = "check";
	if (c->network != NULL) {
		assert_int_equal(write_file(net, c->network, strlen(c->network), 0644), 0);
		argv[n++] = "--network";
		argv[n++] = net;
	}
	if (c->aliases != NULL) {
		argv[n++] = "--alias-ranges";
		argv[n++] = (char *)c->aliases;
	}
	argv[n++] = doc;
	argv[n] = NULL;
	fflush(stdout);
	assert_true((saved = dup(1)) >= 0);
	assert_true((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(dup2(fd, 1), 1);
	close(fd);
	*status = guests_check_main((int)n, argv);
	fflush(stdout);
	assert_int_equal(dup2(saved, 1), 1);
	close(saved);
	assert_non_null(text = read_file(out, 1 << 16, &len));
	text_init(&t, buf, sizeof(buf));
	for (p = text; *p != '\0'; p = q + 1) {
		assert_non_null(q = strchr(p, '\n'));
		*q = '\0';
		assert_int_equal(strncmp(p, doc, strlen(doc)), 0);
		text_add(&t, "%s\n", p + strlen(doc) + 2);
	}
	assert_true(text_done(&t) >= 0);
	free(text);
	return buf;
}

/*
 * Every error of docs/guests.md (guest.c's table), through `nestbox check`
 * on a file and through PID 1's path: the document as GCE's attributes
 * reply, parsed by the metadata client, reconciled against the same
 * network and alias ranges. The same messages, in the same order, and the
 * same verdict.
 */
static void
rt_check_equals_pid1(void **state)
{
	struct attrs	 a;
	struct text	 t;
	char		*dir, *reply, pid1[4096];
	const char	*out, *value, *c;
	size_t		 i, k;
	int		 status;

	(void)state;
	dir = tmpdir();
	vm_set_env(case_env);
	for (i = 0; i < guest_ncases; i++) {
		cur_case = &guest_cases[i];
		out = check_run(cur_case, dir, &status);
		/* PID 1 */
		vm_reset();
		reply = as_reply(cur_case->doc, guest_case_len(cur_case));
		assert_int_equal(attrs_parse(reply, strlen(reply), &a), 0);
		assert_non_null(value = attrs_get(&a, "nestbox-guests"));
		vm_reconcile(value, 0);
		text_init(&t, pid1, sizeof(pid1));
		for (k = 0; k < vms.errs.n; k++)
			text_add(&t, "%s\n", vms.errs.v[k]);
		if (vms.doc_error[0] != '\0')
			text_add(&t, "rejected, no guest would run\n");
		else {
			for (k = 0; k < GUESTS_MAX && vms.v[k] == NULL; k++)
				;
			text_add(&t, "%d guest%s valid, %zu invalid\n",
			    k < GUESTS_MAX, k < GUESTS_MAX ? "" : "s", vms.errs.invalid);
		}
		assert_true(text_done(&t) >= 0);
		if (strcmp(out, pid1) != 0)
			fail_msg("#%zu: %s\n  nestbox check:\n%s  PID 1:\n%s", i,
			    cur_case->doc, out, pid1);
		/* and it is the message the table expects, first */
		c = cur_case->msg;
		if (strncmp(out, c, strlen(c)) != 0 || status != 1)
			fail_msg("#%zu: exit %d, %s", i, status, out);
		attrs_free(&a);
		free(reply);
	}
	vm_set_env(NULL);
	rmtree(dir);
	assert_true(guest_ncases >= 50);
}

/*
 * A change of nestbox-network alone (or of the alias ranges) checks the
 * same declaration again: a guest whose ip left the subnet stops, and
 * starts again once it fits.
 */
static struct guest_env	 net_env;

static void
net_env_fn(struct guest_env *env)
{
	*env = net_env;
}

static void
rt_network_change(void **state)
{
	const char	*doc = DOC(G("a", ", \"ip\": \"192.168.122.10\"") "," GS("b"));
	char		 err[256];

	(void)state;
	memset(&net_env, 0, sizeof(net_env));
	netconf_default(&net_env.net);
	net_env.have_net = 1;
	vm_set_env(net_env_fn);
	fk_file(STATE_DIR "/b.img");
	up(doc, "a");
	fire("b");
	assert_string_equal(st("b"), "running");
	done();
	/* the same document, the same network: nothing happens */
	vm_recheck();
	assert_string_equal(done(), "");
	/* nestbox-network moves the subnet: a's ip is outside it now */
	assert_int_equal(netconf_parse("{\"subnet\": \"10.77.0.1/24\"}", 26, &net_env.net,
	    err, sizeof(err)), 0);
	console();
	vm_recheck();
	assert_non_null(strstr(console(), "guest a: ip: 192.168.122.10 is outside the L2 "
	    "subnet 10.77.0.0/24 (skipped)\nnestbox: guests: plan: stop a, keep b\n"));
	assert_string_equal(st("a"), "stopping");
	assert_string_equal(st("b"), "running");
	qemu_exit("a", EXITED(0));
	assert_string_equal(st("a"), "gone");
	/* and back: a starts again, b is left alone */
	netconf_default(&net_env.net);
	vm_recheck();
	assert_non_null(strstr(console(), "guests: plan: keep b, start a\n"));
	assert_string_equal(st("a"), "starting");
	/* the alias ranges become known: b's alias ip is outside them */
	done();
	vm_reconcile(DOC(G("a", ", \"ip\": \"192.168.122.10\"") "," G("b", ", \"alias-ip\": \"10.128.0.9\"")), 0);
	assert_string_equal(st("b"), "stopping");	/* a changed declaration: restart */
	qemu_exit("b", EXITED(0));
	fire("b");
	assert_string_equal(st("b"), "running");
	{
		const char *r[] = { "10.128.16.0/28" };

		assert_int_equal(guest_env_aliases(&net_env, r, 1), 0);
	}
	console();
	vm_recheck();
	assert_non_null(strstr(console(), "guest b: alias-ip: 10.128.0.9 is not in the L1's "
	    "alias IP ranges (10.128.16.0/28) (skipped)\n"));
	assert_string_equal(st("b"), "stopping");
	qemu_exit("b", EXITED(0));
	assert_string_equal(st("b"), "gone");
	/* before any declaration, a change does nothing */
	vm_reset();
	vm_recheck();
	assert_false(vms.have_doc);
	vm_set_env(NULL);
}

#define RT(f)	cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)
#define RUNTIME_TESTS \
	RT(rt_fetch_to_running), RT(rt_stop_sequence), RT(rt_stop_without_qmp), \
	RT(rt_remove_while_starting), RT(rt_remove_and_declare_again), \
	RT(rt_changed_declaration), RT(rt_fetch_failures), RT(rt_stop_during_fetch), \
	RT(rt_shared_download), RT(rt_exit_policies), RT(rt_shutdown), \
	RT(rt_launch_failures), RT(rt_sources), RT(rt_control), RT(rt_console), RT(rt_console_flood), \
	RT(rt_network), RT(rt_misc), RT(rt_sys), RT(rt_check_equals_pid1), \
	RT(rt_network_change), RT(rt_secrets), RT(rt_release), RT(rt_max_size), RT(rt_migrate),


static const struct CMUnitTest tests[] = {
	cmocka_unit_test(plan_cases),
	cmocka_unit_test(plan_limits),
	cmocka_unit_test(after_exit),
	cmocka_unit_test(smaps),
	cmocka_unit_test(names),
	FSM_TESTS
	RUNTIME_TESTS
};

const struct suite vm_suite = { tests, NTESTS(tests) };
