/*
 * A guest's state machine, pure: vm_next(state, event) -> (state, actions),
 * in the manner of s6-supervise's table. vm.c feeds it events (requests,
 * timers, children's exits, what an action found) and performs the actions
 * it returns, in order.
 *
 * The state is a phase, what runs now, and a goal, what it should come to:
 *
 *   PENDING -> FETCHING <-> FETCH_JOB
 *                 |
 *                 v
 *              STARTING -> RUNNING -> POWERDOWN -> QUIT -> KILL
 *                 |           |          |          |       |
 *                 v           v          +----------+-------+
 *       BACKOFF/FAILED/STOPPED (exit,      | exit: stopped, then by goal:
 *                 by policy)               v stay, start again, or free
 *
 * A phase at rest (no child of ours runs: PENDING, FETCHING, STOPPED,
 * FAILED, BACKOFF) settles at once when the goal is not G_RUN; a busy one
 * (FETCH_JOB, STARTING and on) first ends its child. The goal's order:
 * G_REMOVE outranks G_HALT, which outranks the others.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/wait.h>

#include "guest/vm.h"

static const char *const phase_names[] = {
	"pending", "fetching", "fetch-job", "starting", "running", "powerdown",
	"quit", "kill", "stopped", "failed", "backoff",
};
static const char *const goal_names[] = { "run", "stop", "restart", "remove", "halt" };
static const char *const event_names[] = {
	"start", "restart", "stop", "remove", "shutdown", "net-up", "wake", "timer",
	"prep-ready", "prep-job", "prep-wait", "fail-transient", "fail-permanent",
	"job-ok", "job-failed", "spawned", "connected", "not-yet", "hung", "no-qmp",
	"exit-restart", "exit-stop", "exit-fail",
};
static const char *const action_names[] = {
	"none", "enter", "timer-off", "begin", "try", "prepare", "launch",
	"cancel-job", "job-error", "delay", "timer-wait", "timer-connect",
	"timer-sample", "timer-quit", "connect", "hung", "sample", "powerdown",
	"quit", "term", "kill", "exit-wanted", "exit-unwanted", "restart-delay",
	"tap-delete", "free", "gone", "stopped",
};
_Static_assert(sizeof(phase_names) / sizeof(phase_names[0]) == P_NPHASES, "phases");
_Static_assert(sizeof(goal_names) / sizeof(goal_names[0]) == G_NGOALS, "goals");
_Static_assert(sizeof(event_names) / sizeof(event_names[0]) == E_NEVENTS, "events");
_Static_assert(sizeof(action_names) / sizeof(action_names[0]) == A_NACTIONS, "actions");

#define NAME(v, i)	((unsigned)(i) < sizeof(v) / sizeof((v)[0]) ? (v)[i] : "?")

const char *
vm_phase_str(enum vm_phase p)
{
	return NAME(phase_names, p);
}

const char *
vm_goal_str(enum vm_goal g)
{
	return NAME(goal_names, g);
}

const char *
vm_event_str(enum vm_event e)
{
	return NAME(event_names, e);
}

const char *
vm_action_str(enum vm_action a)
{
	return NAME(action_names, a);
}

/* The state the outside sees: status.json, the console, `nestbox list`. */
enum vm_state
vm_phase_state(enum vm_phase p)
{
	static const enum vm_state map[P_NPHASES] = {
		[P_PENDING] = VM_PENDING, [P_FETCHING] = VM_FETCHING,
		[P_FETCH_JOB] = VM_FETCHING, [P_STARTING] = VM_STARTING,
		[P_RUNNING] = VM_RUNNING, [P_POWERDOWN] = VM_STOPPING,
		[P_QUIT] = VM_STOPPING, [P_KILL] = VM_STOPPING,
		[P_STOPPED] = VM_STOPPED, [P_FAILED] = VM_FAILED,
		[P_BACKOFF] = VM_BACKOFF,
	};

	return (unsigned)p < P_NPHASES ? map[p] : VM_FAILED;
}

/*
 * What follows a QEMU's exit: wanted_stop (a stop we asked for) always
 * ends in STOPPED; otherwise the policy decides. A clean exit (status 0:
 * the guest powered itself off) is not a failure.
 */
enum vm_state
vm_after_exit(enum restart_policy policy, int status, int wanted_stop)
{
	int	 clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (wanted_stop)
		return VM_STOPPED;
	switch (policy) {
	case RESTART_ALWAYS:
		return VM_BACKOFF;
	case RESTART_ON_FAILURE:
		return clean ? VM_STOPPED : VM_BACKOFF;
	case RESTART_NEVER:
	default:
		return clean ? VM_STOPPED : VM_FAILED;
	}
}

static void
to(struct vm_trans *t, enum vm_phase p, size_t n, const enum vm_action *a)
{
	size_t	 i;

	t->to.phase = p;
	for (i = 0; i < n && t->n < VM_ACTIONS_MAX; i++)
		t->act[t->n++] = a[i];
}

#define TO(t, p, ...) do {						\
	static const enum vm_action a_[] = { A_NONE, __VA_ARGS__ };	\
	to((t), (p), sizeof(a_) / sizeof(a_[0]) - 1, a_ + 1);		\
} while (0)

/* At rest, the goal not G_RUN: stopped, then as the goal says. */
static void
settle(struct vm_trans *t, enum vm_phase from, int entered)
{
	if (!entered && !(t->to.goal == G_HALT && from == P_FAILED))
		TO(t, P_STOPPED, A_STOPPED);
	else
		TO(t, from == P_FAILED ? P_FAILED : P_STOPPED);
	switch (t->to.goal) {
	case G_RESTART:
		t->to.goal = G_RUN;
		TO(t, P_PENDING, A_TIMER_OFF, A_BEGIN, A_ENTER, A_TRY);
		break;
	case G_REMOVE:
		TO(t, P_STOPPED, A_TIMER_OFF, A_GONE, A_FREE);
		break;
	case G_RUN:		/* not at rest: a stop that lost its goal */
		t->to.goal = G_STOP;
		/* FALLTHROUGH */
	case G_STOP:
	case G_HALT:
	default:
		TO(t, t->to.phase, A_TIMER_OFF, A_GONE);
		break;
	}
}

/* Afresh: no backoff, no error, the next declaration if there is one. */
static void
begin(struct vm_trans *t)
{
	t->to.goal = G_RUN;
	TO(t, P_PENDING, A_TIMER_OFF, A_BEGIN, A_ENTER, A_TRY);
}

static int
at_rest(enum vm_phase p)
{
	return p == P_PENDING || p == P_FETCHING || p == P_STOPPED ||
	    p == P_FAILED || p == P_BACKOFF;
}

static int
stopping(enum vm_phase p)
{
	return p == P_POWERDOWN || p == P_QUIT || p == P_KILL;
}

/* The goal is no longer G_RUN (or was not): bring the phase down to it. */
static void
bring_down(struct vm_trans *t, struct vm_fsm cur)
{
	switch (cur.phase) {
	case P_FETCH_JOB:
		if (cur.goal == G_RUN)
			TO(t, P_FETCH_JOB, A_CANCEL_JOB);
		break;
	case P_STARTING:
	case P_RUNNING:
		TO(t, P_POWERDOWN, A_ENTER, A_POWERDOWN);
		break;
	case P_POWERDOWN:
	case P_QUIT:
	case P_KILL:
		break;
	default:
		settle(t, cur.phase, 0);
		break;
	}
}

static enum vm_goal
goal_after(enum vm_goal cur, enum vm_event ev)
{
	switch (ev) {
	case E_STOP:
		return cur == G_REMOVE || cur == G_HALT ? cur : G_STOP;
	case E_REMOVE:
		return G_REMOVE;
	case E_SHUTDOWN:
		return cur == G_REMOVE ? cur : G_HALT;
	case E_START:
	case E_RESTART:
		return G_RESTART;
	default:
		return cur;
	}
}

/*
 * The transition for event ev in state cur: 0, or -1 with EINVAL when the
 * event means nothing in that state (the machine stays as it is).
 */
int
vm_next(struct vm_fsm cur, enum vm_event ev, struct vm_trans *t)
{
	enum vm_phase	 p = cur.phase;
	int		 run = cur.goal == G_RUN;

	t->to = cur;
	t->n = 0;
	switch (ev) {
	case E_START:
	case E_RESTART:
		if (cur.goal == G_HALT || (ev == E_START && cur.goal == G_REMOVE))
			break;
		if (at_rest(p)) {
			begin(t);
			return 0;
		}
		if (ev == E_START && (p == P_STARTING || p == P_RUNNING || stopping(p)))
			break;		/* QEMU runs: already started */
		t->to.goal = goal_after(cur.goal, ev);
		bring_down(t, cur);
		return 0;
	case E_STOP:
	case E_REMOVE:
	case E_SHUTDOWN:
		t->to.goal = goal_after(cur.goal, ev);
		bring_down(t, cur);
		return 0;
	case E_NET_UP:
		if (p != P_PENDING || !run)
			break;
		TO(t, P_FETCHING, A_ENTER, A_PREPARE);
		return 0;
	case E_WAKE:
		if (p != P_FETCHING || !run)
			break;
		TO(t, P_FETCHING, A_PREPARE);
		return 0;
	case E_TIMER:
		switch (p) {
		case P_STARTING:
			TO(t, P_STARTING, A_CONNECT);
			return 0;
		case P_RUNNING:
			TO(t, P_RUNNING, A_SAMPLE);
			return 0;
		case P_BACKOFF:
			if (!run)
				break;
			TO(t, P_PENDING, A_ENTER, A_TRY);
			return 0;
		case P_POWERDOWN:
			TO(t, P_QUIT, A_QUIT);
			return 0;
		case P_QUIT:
			TO(t, P_KILL, A_KILL);
			return 0;
		default:
			break;
		}
		break;
	case E_PREP_READY:
		if (p != P_FETCHING)
			break;
		TO(t, P_FETCHING, A_LAUNCH);
		return 0;
	case E_PREP_JOB:
		if (p != P_FETCHING)
			break;
		TO(t, P_FETCH_JOB);
		return 0;
	case E_PREP_WAIT:
		if (p != P_FETCHING)
			break;
		return 0;	/* E_WAKE comes when the download ends */
	case E_FAIL_TRANSIENT:
		if (p != P_FETCHING)
			break;
		TO(t, P_BACKOFF, A_DELAY, A_ENTER, A_TIMER_WAIT);
		return 0;
	case E_FAIL_PERMANENT:
		if (p != P_FETCHING)
			break;
		TO(t, P_FAILED, A_ENTER);
		return 0;
	case E_JOB_OK:
	case E_JOB_FAILED:
		if (p != P_FETCH_JOB)
			break;
		if (!run)
			settle(t, P_FETCHING, 0);
		else if (ev == E_JOB_OK)
			TO(t, P_FETCHING, A_PREPARE);
		else
			TO(t, P_FETCHING, A_JOB_ERROR);
		return 0;
	case E_SPAWNED:
		if (p != P_FETCHING)
			break;
		TO(t, P_STARTING, A_ENTER, A_TIMER_CONNECT);
		return 0;
	case E_CONNECTED:
		if (p != P_STARTING)
			break;
		TO(t, P_RUNNING, A_ENTER, A_TIMER_SAMPLE);
		return 0;
	case E_NOT_YET:
		if (p != P_STARTING)
			break;
		TO(t, P_STARTING, A_TIMER_CONNECT);
		return 0;
	case E_HUNG:
		if (p != P_STARTING)
			break;
		TO(t, P_STARTING, A_HUNG);
		return 0;
	case E_NO_QMP:
		if (p == P_POWERDOWN)
			TO(t, P_QUIT, A_TERM, A_TIMER_QUIT);	/* QEMU quits on SIGTERM */
		else if (p == P_QUIT)
			TO(t, P_KILL, A_KILL);
		else
			break;
		return 0;
	case E_EXIT_RESTART:
	case E_EXIT_STOP:
	case E_EXIT_FAIL:
		if (p != P_STARTING && p != P_RUNNING && !stopping(p))
			break;
		if (stopping(p) || !run) {
			TO(t, P_STOPPED, A_EXIT_WANTED, A_STOPPED, A_TAP_DELETE);
			settle(t, P_STOPPED, 1);
		} else if (ev == E_EXIT_RESTART)
			TO(t, P_BACKOFF, A_EXIT_UNWANTED, A_RESTART_DELAY, A_ENTER,
			    A_TIMER_WAIT);
		else if (ev == E_EXIT_STOP)
			TO(t, P_STOPPED, A_EXIT_UNWANTED, A_ENTER, A_TAP_DELETE);
		else
			TO(t, P_FAILED, A_EXIT_UNWANTED, A_ENTER);	/* its tap kept */
		return 0;
	case E_NEVENTS:
	default:
		break;
	}
	t->to = cur;
	t->n = 0;
	errno = EINVAL;
	return -1;
}
