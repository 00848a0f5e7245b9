/*
 * The L2 guests at run time: one state machine per declared guest
 * (fsm.c), one QEMU per running guest, a plan for every change of
 * nestbox-guests (plan.c). This file feeds each guest's machine its
 * events and performs the actions it returns, through struct vm_ops:
 * what to spawn comes from prepare.c and launch.c as a step.
 *
 * FAILED is for what retrying can not fix (a sha256 mismatch, a command
 * line QEMU can not take); anything else backs off and tries again: 1 s,
 * doubling to 60 s, back to 1 s after a run of 10 s (supervise.c's rule,
 * shared with the getty).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "guest/vm.h"

_Static_assert(GUESTS_MAX == 64, "GUEST_UID_RANGE names 64 uids");

static const struct vm_ops *ops = &vm_sys_ops;

const struct vm_ops *
vm_set_ops(const struct vm_ops *o)
{
	const struct vm_ops *old = ops;

	ops = o != NULL ? o : &vm_sys_ops;
	return old;
}

/* --- a guest --------------------------------------------------------------- */

#define VM_OF(p, member) ((struct vm *)((char *)(p) - offsetof(struct vm, member)))

static void
vm_error(struct vm *v, const char *fmt, ...) NB_PRINTF(2, 3);

static void
vm_error(struct vm *v, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	log_warnx("guest %s: %s", v->g.name, v->error);
}

/* The state the outside sees, entered: the console, status, the attribute. */
static void
vm_enter(struct vm *v, enum vm_state s)
{
	if (v->state != s)
		log_info("guest %s: %s", v->g.name, vm_state_str(s));
	v->state = s;
	v->since = ops->now();
	status_changed();
	vm_attr_update(v);
}

/* A step that failed: its error, and the event it makes. */
static int
step_failed(struct vm *v, const struct vm_step *st)
{
	vm_error(v, "%s", st->error);
	return st->transient ? E_FAIL_TRANSIENT : E_FAIL_PERMANENT;
}

static void	job_exited(struct child *, int);
static void	qemu_exited(struct child *, int);

/* A_PREPARE: the next preparation step, performed. */
static int
do_prepare(struct vm *v)
{
	struct vm_step	 st;
	pid_t		 pid;
	int		 fds[3] = { -1, -1, 2 }, p[2] = { -1, -1 };

	if (vm_prepare(v, ops, &st) == 0)
		return E_PREP_READY;
	switch (st.kind) {
	case STEP_WAIT:
		return E_PREP_WAIT;
	case STEP_SPAWN:
		/* /dev/null in and out, or st.input in; stderr, its messages, on
		 * the console. The line fits the pipe: written before the spawn. */
		if (st.input != NULL && (pipe2(p, O_CLOEXEC) == -1 ||
		    write(p[1], st.input, strlen(st.input)) != (ssize_t)strlen(st.input) ||
		    write(p[1], "\n", 1) != 1)) {
			vm_error(v, "pipe: %s", strerror(errno));
			if (p[0] != -1) {
				close(p[0]);
				close(p[1]);
			}
			return E_FAIL_TRANSIENT;
		}
		if (p[1] != -1)
			close(p[1]);
		fds[0] = p[0];
		pid = ops->spawn(st.argv, fds, &st.cred);
		if (p[0] != -1)
			close(p[0]);
		if (pid == -1) {
			vm_error(v, "fork: %s", strerror(errno));
			return E_FAIL_TRANSIENT;
		}
		v->job.pid = pid;
		v->job.exited = job_exited;
		v->job_kind = st.job;
		ops->watch(&v->job);
		return E_PREP_JOB;
	case STEP_FAIL:
	default:
		return step_failed(v, &st);
	}
}

/* A_LAUNCH: QEMU's step, performed. */
static int
do_launch(struct vm *v)
{
	struct vm_step	 st;
	pid_t		 pid;
	int		 fd, fds[3];

	if (vm_launch(v, ops, &st) == -1)
		return step_failed(v, &st);
	if ((fd = ops->open_log(st.log)) == -1) {
		vm_error(v, "%s: %s", st.log, strerror(errno));
		return E_FAIL_TRANSIENT;
	}
	fds[0] = -1;
	fds[1] = fds[2] = fd;
	pid = ops->spawn(st.argv, fds, &st.cred);
	ops->close(fd);
	if (pid == -1) {
		vm_error(v, "fork: %s", strerror(errno));
		return E_FAIL_TRANSIENT;
	}
	/* its own cgroup: CPU below PID 1's, its memory and QEMU's, no fork bomb */
	if (ops->cgroup_add != NULL && ops->cgroup_add(v->g.name, pid, v->g.memory +
	    CGROUP_OVERHEAD + (st.kvm ? 0 : CGROUP_TCG_OVERHEAD)) == -1 && errno != ENOENT)
		log_warn("guest %s: cgroup", v->g.name);
	v->qemu.pid = pid;
	v->qemu.exited = qemu_exited;
	ops->watch(&v->qemu);
	v->started = ops->now();
	v->sample_rss = v->sample_overhead = 0;
	v->error[0] = '\0';
	log_info("guest %s: QEMU started (pid %d, %s, %u vcpus, %llu MiB)", v->g.name,
	    (int)pid, st.kvm ? "kvm" : "tcg", v->g.vcpus,
	    (unsigned long long)(v->g.memory >> 20));
	return E_SPAWNED;
}

static void
qmp_msg(struct qmp *q, const struct qmp_msg *m)
{
	struct vm	*v = q->arg;

	if (m->kind == QMP_EVENT && (strcmp(m->event, "SHUTDOWN") == 0 ||
	    strcmp(m->event, "POWERDOWN") == 0 || strcmp(m->event, "RESET") == 0))
		log_info("guest %s: %s%s", v->g.name, m->event,
		    m->kind == QMP_EVENT && strcmp(m->event, "SHUTDOWN") == 0 ?
		    (m->guest ? " (by the guest)" : " (by the host)") : "");
	else if (m->kind == QMP_ERROR)
		log_warnx("guest %s: QMP: %s", v->g.name, m->error);
}

static void
qmp_closed(struct qmp *q)
{
	struct vm	*v = q->arg;

	v->qmp_up = 0;
}

/* A_CONNECT: QMP and the console, once their sockets are there. */
static int
do_connect(struct vm *v)
{
	char	 path[PATH_MAX];

	if (!v->qmp_up) {
		snprintf(path, sizeof(path), "%s/qmp.sock", v->run);
		v->qmp.on_msg = qmp_msg;
		v->qmp.on_close = qmp_closed;
		v->qmp.arg = v;
		if (ops->qmp_open(&v->qmp, path, vm_uid(v)) == 0)
			v->qmp_up = 1;
	}
	if (v->con.fd == -1)
		ops->con_open(v);
	if (v->qmp_up && v->con.fd != -1)
		return E_CONNECTED;
	if (ops->now() - v->started > VM_CONNECT_MAX)
		return E_HUNG;
	return E_NOT_YET;
}

/* QEMU's memory, once per run: its RSS, and what it uses beyond guest RAM. */
static void
vm_sample(struct vm *v)
{
	char		 path[64], *text;
	size_t		 len;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)v->qemu.pid);
	if ((text = ops->read_file(path, 64 * 1024, &len)) != NULL) {
		proc_status_kib(text, "VmRSS", &v->sample_rss);
		free(text);
	}
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)v->qemu.pid);
	if ((text = ops->read_file(path, 4 << 20, &len)) != NULL) {
		smaps_beyond_guest(text, (unsigned long)(v->g.memory >> 10),
		    &v->sample_overhead);
		free(text);
	}
	status_changed();
}

/* A_JOB_ERROR: why the child that made a file failed. */
static int
job_error(struct vm *v)
{
	char	 why[64];
	int	 status = v->job_status;

	if (v->job_last == JOB_FETCH && WIFEXITED(status)) {
		switch (WEXITSTATUS(status)) {
		case FETCH_MISMATCH:
			vm_error(v, "%s: sha256 mismatch: the download was refused",
			    v->job_what);
			return E_FAIL_PERMANENT;
		case FETCH_NOSPACE:
			vm_error(v, "%s: the state partition is full", v->job_what);
			return E_FAIL_TRANSIENT;
		case FETCH_REFUSED:
			vm_error(v, "%s: the image names other files (a backing or "
			    "data file): refused", v->job_what);
			return E_FAIL_PERMANENT;
		case FETCH_TOOBIG:
			vm_error(v, "%s: larger than its max-size: refused", v->job_what);
			return E_FAIL_PERMANENT;
		default:
			vm_error(v, "%s: the download failed (nestbox-fetch %s)",
			    v->job_what, exit_reason(status, why, sizeof(why)));
			return E_FAIL_TRANSIENT;
		}
	}
	vm_error(v, "qemu-img for %s: %s", v->job_dest, exit_reason(status, why,
	    sizeof(why)));
	return E_FAIL_TRANSIENT;
}

/* The exit's log line: an error unless the guest powered itself off. */
static void
exit_unwanted(struct vm *v)
{
	char	 why[64], last[200];
	int	 status = v->exit_status;

	exit_reason(status, why, sizeof(why));
	qemu_last_words(v->dir, last, sizeof(last));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("guest %s: QEMU exited: the guest powered off", v->g.name);
	else
		vm_error(v, "QEMU %s%s%s", why, last[0] != '\0' ? ": " : "", last);
}

static void
restart_delay(struct vm *v)
{
	uint64_t	 ran = ops->now() - v->started, wait;

	v->restarts++;
	v->delay = service_next_delay(v->delay, ran);
	wait = ran < v->delay ? v->delay - ran : 0;
	log_info("guest %s: restart %u in %llu.%llu s (restart: %s)", v->g.name,
	    v->restarts, (unsigned long long)wait / 1000,
	    (unsigned long long)wait % 1000 / 100, restart_str(v->g.restart));
	v->wait = wait > 0 ? wait : 1;
}

/* Afresh: the next declaration if there is one, no backoff, no old error. */
static void
vm_begin(struct vm *v)
{
	if (v->next.name[0] != '\0') {
		guest_clear(&v->g);
		v->g = v->next;
		memset(&v->next, 0, sizeof(v->next));
		apply_network();	/* its MAC and address: its port's rules */
	}
	v->delay = 0;
	v->error[0] = '\0';
}

static void	vms_gone(void);

/*
 * One action, performed. Returns the event it makes (what it found), -1 if
 * none, or E_NEVENTS when v is gone.
 */
static int
perform(struct vm *v, enum vm_action a)
{
	char	 why[64];

	switch (a) {
	case A_ENTER:
		vm_enter(v, vm_phase_state(v->fsm.phase));
		break;
	case A_STOPPED:
		vm_enter(v, VM_STOPPED);
		break;
	case A_TIMER_OFF:
		ops->timer_set(&v->timer, 0);
		break;
	case A_BEGIN:
		vm_begin(v);
		break;
	case A_TRY:
		return vms.net_up ? E_NET_UP : -1;	/* else on_net() comes back */
	case A_PREPARE:
		return do_prepare(v);
	case A_LAUNCH:
		return do_launch(v);
	case A_CANCEL_JOB:
		if (v->job.pid != 0)
			ops->kill(v->job.pid, SIGTERM);
		break;
	case A_JOB_ERROR:
		return job_error(v);
	case A_DELAY:
		v->delay = service_next_delay(v->delay, 0);
		v->wait = v->delay;
		break;
	case A_TIMER_WAIT:
		ops->timer_set(&v->timer, v->wait);
		break;
	case A_TIMER_CONNECT:
		ops->timer_set(&v->timer, VM_CONNECT_MS);
		break;
	case A_TIMER_SAMPLE:
		ops->timer_set(&v->timer, VM_SAMPLE_MS);	/* the memory sample */
		break;
	case A_TIMER_QUIT:
		ops->timer_set(&v->timer, VM_QUIT_MS);
		break;
	case A_CONNECT:
		return do_connect(v);
	case A_HUNG:
		vm_error(v, "QMP did not come up in %d s: killing QEMU",
		    VM_CONNECT_MAX / 1000);
		ops->kill(v->qemu.pid, SIGKILL);
		break;
	case A_SAMPLE:
		vm_sample(v);
		break;
	case A_POWERDOWN:
		if (!v->qmp_up || ops->qmp_command(&v->qmp, "system_powerdown") == -1)
			return E_NO_QMP;	/* no QMP yet: QEMU quits on SIGTERM */
		log_info("guest %s: system_powerdown, waiting up to %llu s", v->g.name,
		    (unsigned long long)v->deadline / 1000);
		ops->timer_set(&v->timer, v->deadline);
		break;
	case A_QUIT:
		if (!v->qmp_up)
			return E_NO_QMP;
		log_warnx("guest %s: did not power off in time: quit", v->g.name);
		ops->qmp_command(&v->qmp, "quit");
		ops->timer_set(&v->timer, VM_QUIT_MS);
		break;
	case A_TERM:
		ops->kill(v->qemu.pid, SIGTERM);
		break;
	case A_KILL:
		log_warnx("guest %s: killing QEMU", v->g.name);
		ops->kill(v->qemu.pid, SIGKILL);
		break;
	case A_EXIT_WANTED:
		log_info("guest %s: QEMU %s", v->g.name,
		    exit_reason(v->exit_status, why, sizeof(why)));
		break;
	case A_EXIT_UNWANTED:
		exit_unwanted(v);
		break;
	case A_RESTART_DELAY:
		restart_delay(v);
		break;
	case A_TAP_DELETE:
		if (v->tap[0] != '\0')
			ops->tap_delete(v->tap);
		v->tap[0] = '\0';
		break;
	case A_GONE:
		vms_gone();
		break;
	case A_FREE:
		vm_free(v);
		return E_NEVENTS;
	case A_NONE:
	case A_NACTIONS:
	default:
		break;
	}
	return -1;
}

/*
 * Feeds v's machine an event, performs the actions of the transition, and
 * feeds it what they found, until nothing more follows.
 */
void
vm_event(struct vm *v, enum vm_event ev)
{
	struct vm_trans	 t;
	size_t		 i;
	int		 next, r;

	for (;;) {
		if (vm_next(v->fsm, ev, &t) == -1)
			return;
		v->fsm = t.to;
		next = -1;
		for (i = 0; i < t.n; i++) {
			if ((r = perform(v, t.act[i])) == E_NEVENTS)
				return;		/* freed */
			if (r != -1)
				next = r;
		}
		if (next == -1)
			return;
		ev = (enum vm_event)next;
	}
}

/* --- children and timers ---------------------------------------------------- */

/* A job ended: the guests that waited for someone else's download go on. */
static void
wake_waiters(const struct vm *self)
{
	size_t	 i;
	struct vm *v;

	for (i = 0; i < GUESTS_MAX; i++)
		if ((v = vms.v[i]) != NULL && v != self && v->fsm.phase == P_FETCHING)
			vm_event(v, E_WAKE);
}

static void
job_exited(struct child *c, int status)
{
	struct vm	*v = VM_OF(c, job);

	v->job_last = v->job_kind;
	v->job_status = status;
	v->job_kind = JOB_NONE;
	wake_waiters(v);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (v->job_tmp[0] != '\0' && ops->rename(v->job_tmp, v->job_dest) == -1) {
			vm_error(v, "%s: %s", v->job_dest, strerror(errno));
			ops->unlink(v->job_tmp);
		}
		v->job_tmp[0] = '\0';
		vm_event(v, E_JOB_OK);
		return;
	}
	if (v->job_tmp[0] != '\0')
		ops->unlink(v->job_tmp);
	v->job_tmp[0] = '\0';
	vm_event(v, E_JOB_FAILED);
}

static void
qemu_exited(struct child *c, int status)
{
	struct vm	*v = VM_OF(c, qemu);

	if (v->qmp_up)
		ops->qmp_close(&v->qmp);
	v->qmp_up = 0;
	ops->con_close(v);
	if (ops->cgroup_end != NULL)
		ops->cgroup_end(v->g.name);	/* nothing of it outlives QEMU */
	ops->timer_set(&v->timer, 0);
	v->exit_status = status;
	switch (vm_after_exit(v->g.restart, status, 0)) {
	case VM_BACKOFF:
		vm_event(v, E_EXIT_RESTART);
		break;
	case VM_STOPPED:
		vm_event(v, E_EXIT_STOP);
		break;
	default:
		vm_event(v, E_EXIT_FAIL);
		break;
	}
}

static void
vm_destroy(struct vm *v)
{
	event_del(&v->timer.ev);
	close(v->timer.ev.fd);
	vm_attr_close(v);
	guest_clear(&v->g);
	guest_clear(&v->next);
	free(v);
}

static void
vm_timer(struct timer *t)
{
	struct vm	*v = t->arg;

	vm_event(v, E_TIMER);
}

/* --- the registry ------------------------------------------------------------ */

static int
slot_free(void)
{
	int	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] == NULL)
			return i;
	return -1;
}

static struct vm *
vm_new(struct guest *g)
{
	struct vm	*v;
	int		 slot;

	if ((slot = slot_free()) == -1 || (v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->g = *g;
	memset(g, 0, sizeof(*g));
	v->slot = slot;
	v->fsm.phase = P_PENDING;
	v->fsm.goal = G_RUN;
	v->con.fd = -1;
	v->qmp.ev.fd = -1;
	v->state = VM_PENDING;
	v->since = ops->now();
	snprintf(v->dir, sizeof(v->dir), "%s/%s", STATE_GUESTS, v->g.name);
	snprintf(v->run, sizeof(v->run), "%s/%s", VM_RUN_DIR, v->g.name);
	if (timer_init(&v->timer, vm_timer, v) == -1) {
		guest_clear(&v->g);
		free(v);
		return NULL;
	}
	vm_attr_open(v);
	vms.v[slot] = v;
	log_info("guest %s: declared (%u vcpus, %llu MiB, %zu disks, restart %s)",
	    v->g.name, v->g.vcpus, (unsigned long long)(v->g.memory >> 20), v->g.ndisks,
	    restart_str(v->g.restart));
	return v;
}

/* v leaves the registry and is freed; md/ga.c drops what waits to be written. */
void
vm_free(struct vm *v)
{
	log_info("guest %s: removed", v->g.name);
	vm_release(v, ops);
	if (v->tap[0] != '\0')
		ops->tap_delete(v->tap);
	v->tap[0] = '\0';
	vms.v[v->slot] = NULL;
	status_changed();
	vm_destroy(v);
}

/* --- the plan ------------------------------------------------------------------ */

static void
log_plan(const struct plan_item *p, size_t n)
{
	char	 buf[1024];
	struct text t;
	size_t	 i;

	text_init(&t, buf, sizeof(buf));
	for (i = 0; i < n; i++)
		text_add(&t, "%s%s %s", i ? ", " : "", plan_op_str(p[i].op), p[i].name);
	if (n == 0)
		text_add(&t, "no guests");
	log_info("guests: plan: %s%s", buf, text_done(&t) == -1 ? " ..." : "");
}

/* Its next declaration: taken from g, started once v has stopped. */
static void
vm_next_decl(struct vm *v, struct guest *g)
{
	guest_clear(&v->next);
	v->next = *g;
	memset(g, 0, sizeof(*g));
}

static void
apply_plan(const struct plan_item *plan, size_t n, struct guest_set *want)
{
	struct guest	*g;
	struct vm	*v;
	size_t		 i;

	for (i = 0; i < n; i++) {
		v = vm_find(plan[i].name);
		g = (struct guest *)guest_find(want, plan[i].name);
		switch (plan[i].op) {
		case PLAN_STOP:
			v->deadline = vm_stop_deadline();
			vm_event(v, E_REMOVE);
			break;
		case PLAN_RESTART:
			vm_next_decl(v, g);
			v->restarts = 0;
			v->deadline = vm_stop_deadline();
			vm_event(v, E_RESTART);
			break;
		case PLAN_START:
			if (v != NULL && v->fsm.goal == G_REMOVE) {
				/* removed, still stopping, declared again */
				vm_next_decl(v, g);
				vm_event(v, E_RESTART);
				break;
			}
			if ((v = vm_new(g)) == NULL) {
				log_warn("guest %s", plan[i].name);
				break;
			}
			if (vms.shutting)
				vm_event(v, E_SHUTDOWN);
			else if (vms.net_up)
				vm_event(v, E_NET_UP);
			break;
		case PLAN_KEEP:
			break;
		}
	}
}

static void
lease_fire(struct timer *t)
{
	if (leases_poll(ops))
		ops->timer_set(t, VM_LEASE_POLL);
}

/* PID 1's view: the L2 network in use, nic0's alias IP ranges. */
static void
env_now(struct guest_env *env)
{
	const struct netconf	*nc = l2net_conf();
	const char *const	*cidrs;
	size_t			 n;

	memset(env, 0, sizeof(*env));
	if (nc != NULL) {
		env->net = *nc;
		env->have_net = 1;
		env->l1 = l2net_eth0();
	}
	if (metadata_aliases(&cidrs, &n) == 0 &&
	    guest_env_aliases(env, cidrs, n < GUEST_ALIASES_MAX ? n : GUEST_ALIASES_MAX) == -1)
		log_warn("guests: alias IP ranges");	/* metadata.c checked them */
}

static vm_env_fn	 env_fn = env_now;

vm_env_fn
vm_set_env(vm_env_fn fn)
{
	vm_env_fn	 old = env_fn;

	env_fn = fn != NULL ? fn : env_now;
	return old;
}

/*
 * The declaration text (NULL: unset) becomes the plan, applied now. The
 * same text against the same network and alias ranges changes nothing,
 * unless forced (`nestbox reload`).
 */
void
vm_reconcile(const char *doc, int force)
{
	struct guest_set	 want;
	struct guest_env	 env;
	struct vm_have		 have[GUESTS_MAX];
	struct plan_item	 plan[2 * GUESTS_MAX];
	struct vm		*v;
	char			*copy = NULL;
	size_t			 i, n, nhave = 0;

	env_fn(&env);
	if (!force && vms.have_doc && ((doc == NULL && vms.doc == NULL) ||
	    (doc != NULL && vms.doc != NULL && strcmp(doc, vms.doc) == 0)) &&
	    guest_env_equal(&env, &vms.env))
		return;
	/* doc may be vms.doc itself (vm_recheck) */
	if (doc != NULL && (copy = strdup(doc)) == NULL) {
		log_warn("guests");
		return;
	}
	free(vms.doc);
	vms.doc = copy;
	vms.have_doc = 1;
	vms.env = env;
	guest_errors_free(&vms.errs);
	vms.doc_error[0] = '\0';
	/* the one path from text to guests, nestbox check's too (verdict.c) */
	if (guests_verdict(copy != NULL ? copy : "", copy != NULL ? strlen(copy) : 0,
	    &env, &want, &vms.errs) == -1) {
		if (vms.errs.document && vms.errs.n > 0) {
			/* a broken document changes nothing: the guests keep running */
			snprintf(vms.doc_error, sizeof(vms.doc_error), "%s", vms.errs.v[0]);
			log_warnx("%s (the guests are left as they are)", vms.doc_error);
		} else
			log_warn("guests");
		guests_free(&want);
		status_changed();
		return;
	}
	for (i = 0; i < vms.errs.n; i++)
		log_warnx("%s (skipped)", vms.errs.v[i]);

	for (i = 0; i < GUESTS_MAX; i++)
		if ((v = vms.v[i]) != NULL && v->fsm.goal != G_REMOVE) {
			have[nhave].name = v->g.name;
			/* what it will run: a pending restart's declaration */
			have[nhave].decl = v->next.name[0] != '\0' ? v->next.decl : v->g.decl;
			if (force && v->state == VM_FAILED)
				have[nhave].decl = NULL;	/* reload retries it */
			nhave++;
		}
	n = vm_plan(have, nhave, &want, plan, sizeof(plan) / sizeof(plan[0]));
	log_plan(plan, n);
	apply_plan(plan, n, &want);
	guests_free(&want);
	apply_network();
	lease_fire(&vms.lease_timer);
	status_changed();
}

/*
 * The L2 network or the alias ranges may have changed: the declaration in
 * hand is checked again, and a guest that no longer fits stops (or one that
 * now fits starts). Nothing happens before the first declaration.
 */
void
vm_recheck(void)
{
	if (vms.have_doc)
		vm_reconcile(vms.doc, 0);
}

/* metadata_watch: the first value, then each change */
static void
on_guests(const char *doc, void *arg)
{
	(void)arg;
	vm_reconcile(doc, 0);
}

/*
 * metadata_watch on nestbox-network: l2net's watcher, registered before
 * this one (main.c: l2net_init before vm_init), has applied the value.
 */
static void
on_network(const char *value, void *arg)
{
	(void)value;
	(void)arg;
	vm_recheck();
}

void
vm_reload(void)
{
	log_info("guests: reload requested");
	vm_reconcile(metadata_attr("nestbox-guests"), 1);
}

/* The network is up: pending guests go on. */
void
vm_net_up(void)
{
	size_t	 i;

	vms.net_up = 1;
	vm_recheck();		/* l2net has the network now */
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && vms.v[i]->fsm.phase == P_PENDING)
			vm_event(vms.v[i], E_NET_UP);
}

/* `nestbox stop|start|restart NAME`: 0, or -1 (EINVAL: no such verb). */
int
vm_request(struct vm *v, const char *verb)
{
	const char	*name = v->g.name;

	if (strcmp(verb, "stop") == 0) {
		log_info("guest %s: stop requested", name);
		v->deadline = vm_stop_deadline();
		vm_event(v, E_STOP);
	} else if (strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0) {
		log_info("guest %s: %s requested", name, verb);
		v->deadline = vm_stop_deadline();
		vm_event(v, strcmp(verb, "start") == 0 ? E_START : E_RESTART);
	} else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* --- shutdown -------------------------------------------------------------- */

uint64_t
vm_stop_deadline(void)
{
	const struct md_stats	*s = metadata_stats();
	const char		*t = metadata_attr("nestbox-stop-timeout");
	char			*end;
	long			 sec;

	if (t != NULL) {
		sec = strtol(t, &end, 10);
		if (end != t && *end == '\0' && sec >= 1 && sec <= 80)
			return (uint64_t)sec * 1000;
		log_warnx("nestbox-stop-timeout: \"%.20s\" is not 1 to 80 seconds", t);
	}
	return s != NULL && s->preemptible == 1 ? VM_STOP_PREEMPT : VM_STOP_MS;
}

static int
vms_running(void)
{
	size_t	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && (vms.v[i]->qemu.pid != 0 || vms.v[i]->job.pid != 0))
			return 1;
	return 0;
}

static int
hook_start(struct shutdown_hook *h, enum shutdown_action a)
{
	uint64_t	 deadline = vm_stop_deadline();
	size_t		 i;
	int		 running = vms_running();

	(void)a;
	vms.shutting = 1;
	if (running) {
		vms.hook_waiting = 1;
		log_info("guests: powering down, up to %llu s",
		    (unsigned long long)deadline / 1000);
		h->timeout = deadline + VM_QUIT_MS + 1000;
	}
	/* every guest, so that none starts again (a backoff's timer) */
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL) {
			vms.v[i]->deadline = deadline;
			vm_event(vms.v[i], E_SHUTDOWN);
		}
	return running;
}

/* Every guest that settles comes here (A_GONE). */
static void
vms_gone(void)
{
	if (vms.hook_waiting && !vms_running()) {
		vms.hook_waiting = 0;
		log_info("guests: all stopped");
		shutdown_hook_done(&vms.hook);
	}
}

/* --- setup ------------------------------------------------------------------ */

static struct status_section section = { "guests", vm_render, NULL };

int
vm_init(void)
{
	devices_for_guests();
	if (timer_init(&vms.lease_timer, lease_fire, NULL) == -1)
		return -1;
	vms.hook.name = "guests";
	vms.hook.start = hook_start;
	shutdown_hook_add(&vms.hook);
	status_section_add(&section);
	if (metadata_watch("nestbox-guests", on_guests, NULL) == -1 ||
	    metadata_watch("nestbox-network", on_network, NULL) == -1)
		return -1;
	metadata_on_aliases(vm_recheck);
	return l2net_on_ready(vm_net_up);	/* not before the ruleset is in place */
}

/* The unit tests: every guest gone, no declaration, as at boot. */
void
vm_reset(void)
{
	size_t	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL)
			vm_destroy(vms.v[i]);
	free(vms.doc);
	guest_errors_free(&vms.errs);
	memset(&vms, 0, sizeof(vms));
	vms.hook.name = "guests";
	vms.hook.start = hook_start;
}
