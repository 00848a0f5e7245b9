/*
 * guest/vm.h: the guest runtime's internal header, for guest/ and its
 * unit tests only; guest.h says what the subsystem offers the others.
 *
 * Calls run one way:
 *
 *   ops.c -> vm.c -> prepare.c, launch.c, relay.c, network.c -> report.c
 *            vm.c -> host.c (the real vm_ops) -> prepare.c, launch.c, relay.c
 *            vm.c -> fsm.c, plan.c (pure)
 *   ops.c -> report.c, relay.c, plan.c
 *
 * vm.c keeps the registry (vms, defined in plan.c) and performs the
 * machine's actions through struct vm_ops; the others read the registry
 * and never call back.
 */
#ifndef NESTBOX_GUEST_VM_H
#define NESTBOX_GUEST_VM_H

#include <limits.h>
#include <net/if.h>

#include "guest/guest.h"

#define KVM_GID		78		/* group kvm, overlay/etc/group */
#define DISK_GID	6		/* group disk: a pd: node's, when no guest has it */
#define VM_RUN_DIR	"/run/nestbox/guests"	/* NAME/: QEMU's sockets, QEMU's */
#define VM_DISKS	"disks"		/* STATE_GUESTS/NAME/disks: the guest's own */
#define VM_STOP_MS	60000		/* powerdown to quit; GCE gives 90 s */
#define VM_STOP_PREEMPT	25000		/* Spot and preemptible VMs get 30 s */
#define VM_QUIT_MS	5000		/* quit to SIGKILL */
#define VM_CONNECT_MS	100
#define VM_CONNECT_MAX	30000		/* QMP not up by then: killed, backoff */
#define VM_LEASE_POLL	2000		/* ms between reads of dnsmasq's leases */
#define VM_LINE_MAX	512
#define VM_MIRROR_MAX	8192		/* bytes of a guest's lines waiting for the L1's console */
#define VM_SAMPLE_MS	10000		/* the memory sample, into a run */
#define VM_BRIEF_MAX	6		/* guests detailed in nestbox/status */
#define VM_SUBS		4

/* the state the outside sees; plan.c names them */
enum vm_state {
	VM_PENDING,		/* declared, not yet worked on */
	VM_FETCHING,		/* sources being downloaded */
	VM_STARTING,		/* QEMU exec'd, QMP not yet up */
	VM_RUNNING,
	VM_STOPPING,		/* system_powerdown sent, waiting */
	VM_STOPPED,		/* by policy, by `nestbox stop`, or exited cleanly */
	VM_FAILED,		/* a permanent error: bad source, sha256 mismatch */
	VM_BACKOFF,		/* exited; restarting after a delay */
};
enum plan_op { PLAN_KEEP, PLAN_START, PLAN_STOP, PLAN_RESTART };
struct plan_item {
	enum plan_op	 op;
	const char	*name;
};
struct vm_have {			/* what runs now, for the plan */
	const char	*name;
	const char	*decl;
};
const char *vm_state_str(enum vm_state);
const char *plan_op_str(enum plan_op);
size_t	 vm_plan(const struct vm_have *, size_t nhave, const struct guest_set *want,
	    struct plan_item *out, size_t max);	/* the number of items */
/* the supervisor's step: the next state after an exit, for the policy */
enum vm_state vm_after_exit(enum restart_policy, int status, int wanted_stop);
/* /proc/PID/smaps: the RSS of a QEMU beyond its guest's RAM (the largest
 * mapping of at least guest_kib, left out); EINVAL: no mapping parsed */
int	 smaps_beyond_guest(const char *smaps, unsigned long guest_kib, unsigned long *kib);

/*
 * fsm.c: the machine, pure. A guest's state is a phase (what runs) and a
 * goal (what it should come to); vm_phase_state() names the phase as the
 * outside sees it (status.json, the console, `nestbox list`).
 */
enum vm_phase {
	P_PENDING,		/* pending: declared, waiting for the network */
	P_FETCHING,		/* fetching: preparing, or waiting for another's download */
	P_FETCH_JOB,		/* fetching: our child (nestbox-fetch, qemu-img) runs */
	P_STARTING,		/* starting: QEMU exec'd, QMP and console not yet up */
	P_RUNNING,		/* running */
	P_POWERDOWN,		/* stopping: system_powerdown sent */
	P_QUIT,			/* stopping: quit (or SIGTERM) sent */
	P_KILL,			/* stopping: SIGKILL sent */
	P_STOPPED,		/* stopped */
	P_FAILED,		/* failed: retrying can not help */
	P_BACKOFF,		/* backing off: a timer starts it again */
	P_NPHASES
};
enum vm_goal {
	G_RUN,			/* it should run */
	G_STOP,			/* stopped, and stay so */
	G_RESTART,		/* stopped, then started (with its next declaration) */
	G_REMOVE,		/* stopped, then freed: no longer declared */
	G_HALT,			/* the L1 shuts down: stopped, never started again */
	G_NGOALS
};
enum vm_event {
	E_START,		/* `nestbox start`, a new guest */
	E_RESTART,		/* `nestbox restart`, a changed or re-added declaration */
	E_STOP,			/* `nestbox stop` */
	E_REMOVE,		/* no longer declared */
	E_SHUTDOWN,		/* the L1 shuts down */
	E_NET_UP,		/* the network is up: preparation may begin */
	E_WAKE,			/* someone else's download ended */
	E_TIMER,
	E_PREP_READY,		/* every file is in place */
	E_PREP_JOB,		/* a child makes one */
	E_PREP_WAIT,		/* another guest downloads it */
	E_FAIL_TRANSIENT,	/* an error that may go away (v->error) */
	E_FAIL_PERMANENT,	/* an error retrying can not fix (v->error) */
	E_JOB_OK,
	E_JOB_FAILED,
	E_SPAWNED,		/* QEMU runs */
	E_CONNECTED,		/* QMP and the console are up */
	E_NOT_YET,		/* not yet */
	E_HUNG,			/* not within VM_CONNECT_MAX */
	E_NO_QMP,		/* a QMP command could not be sent */
	E_EXIT_RESTART,		/* QEMU exited; its policy restarts it */
	E_EXIT_STOP,		/* QEMU exited; its policy leaves it stopped */
	E_EXIT_FAIL,		/* QEMU exited; its policy calls it failed */
	E_NEVENTS
};
enum vm_action {
	A_NONE,
	A_ENTER,		/* the new state is entered: logged, status, attribute */
	A_TIMER_OFF,
	A_BEGIN,		/* afresh: the next declaration, no backoff, no error */
	A_TRY,			/* E_NET_UP if the network is up */
	A_PREPARE,		/* the next preparation step */
	A_LAUNCH,		/* QEMU's step */
	A_CANCEL_JOB,		/* SIGTERM to the child (a download resumes) */
	A_JOB_ERROR,		/* the child's exit as an error */
	A_DELAY,		/* the backoff after an error */
	A_TIMER_WAIT,		/* the backoff's timer */
	A_TIMER_CONNECT,
	A_TIMER_SAMPLE,
	A_TIMER_QUIT,
	A_CONNECT,		/* QMP and console */
	A_HUNG,			/* error, SIGKILL */
	A_SAMPLE,		/* QEMU's memory */
	A_POWERDOWN,		/* system_powerdown, the deadline's timer */
	A_QUIT,			/* QMP quit */
	A_TERM,			/* SIGTERM to QEMU */
	A_KILL,			/* SIGKILL to QEMU */
	A_EXIT_WANTED,		/* the exit's log line */
	A_EXIT_UNWANTED,	/* the exit's log line, as an error unless clean */
	A_RESTART_DELAY,	/* restarts++, the delay after a run */
	A_TAP_DELETE,
	A_FREE,
	A_GONE,			/* shutting down: was it the last one? */
	A_STOPPED,		/* the stopped state, passed through */
	A_NACTIONS
};
#define VM_ACTIONS_MAX	10
struct vm_fsm {
	enum vm_phase	 phase;
	enum vm_goal	 goal;
};
struct vm_trans {
	struct vm_fsm	 to;
	enum vm_action	 act[VM_ACTIONS_MAX];	/* A_NONE-terminated */
	size_t		 n;
};
/* returns 0 and the transition; -1 (EINVAL): the event means nothing there */
int	 vm_next(struct vm_fsm, enum vm_event, struct vm_trans *);
enum vm_state vm_phase_state(enum vm_phase);
const char *vm_phase_str(enum vm_phase);
const char *vm_goal_str(enum vm_goal);
const char *vm_event_str(enum vm_event);
const char *vm_action_str(enum vm_action);

/* plan.c: pure */
const struct guest *guest_find(const struct guest_set *, const char *name);
extern const char *const vm_state_names[];
#define VM_NSTATES	8

/* the run time: one struct vm per declared guest */
struct vm_sub {
	void	(*fn)(void *, const char *, size_t);
	void	 *arg;
};
enum job_kind { JOB_NONE, JOB_FETCH, JOB_IMG };
struct vm {
	struct guest	 g;		/* the declaration it runs */
	struct guest	 next;		/* a changed one, started after the stop; name "": none */
	struct vm_fsm	 fsm;
	int		 slot;
	enum vm_state	 state;		/* vm_phase_state(fsm.phase), as last entered */
	struct child	 qemu;
	struct child	 job;
	enum job_kind	 job_kind;	/* of the child that runs */
	enum job_kind	 job_last;	/* of the child that ended */
	int		 job_status;
	char		 job_tmp[PATH_MAX + 8], job_dest[PATH_MAX];
	char		 job_what[GUEST_SOURCE_MAX + 32];	/* "kernel: https://..." */
	struct qmp	 qmp;
	int		 qmp_up;	/* the connection is open */
	int		 exit_status;
	struct event	 con;
	char		 line[VM_LINE_MAX];
	size_t		 linelen;
	char		 mirror[VM_MIRROR_MAX];	/* "[guest NAME] ..." lines not yet written */
	size_t		 mirrorlen;
	unsigned long	 dropped;	/* lines dropped since the last notice */
	unsigned long	 dropped_total;	/* in this L1's life */
	struct vm_sub	 subs[VM_SUBS];
	struct timer	 timer;
	uint64_t	 since;		/* now of the last state change */
	uint64_t	 started;	/* of the last exec */
	uint64_t	 delay;		/* backoff */
	uint64_t	 wait;		/* the backoff's timer */
	uint64_t	 deadline;	/* ms from system_powerdown to quit */
	unsigned	 restarts;
	unsigned long	 sample_rss, sample_overhead;	/* KiB, 10 s into a run */
	char		 error[GUEST_ERR_MAX];
	char		 dir[128];	/* STATE_GUESTS/NAME: root's, PID 1's files */
	char		 run[88];	/* VM_RUN_DIR/NAME: its sockets fit sun_path */
	char		 disk[GUEST_DISKS_MAX][PATH_MAX];
	char		 kernel[PATH_MAX], initrd[PATH_MAX], seed[256];
	char		 tap[IFNAMSIZ];
	char		 ip[IP4_STRLEN];
	/* the guest attribute nestbox/guest-NAME (report.c) */
	char		 ga_key[GUEST_NAME_MAX + 16];	/* nestbox/guest-NAME */
};
struct vm_registry {
	struct vm	*v[GUESTS_MAX];
	char		*doc;		/* the declaration last applied */
	int		 have_doc;
	int		 net_up;
	int		 shutting;
	int		 hook_waiting;
	struct guest_errors errs;
	struct guest_env env;		/* what the declaration was last checked against */
	char		 doc_error[GUEST_ERR_MAX];
	struct timer	 lease_timer;
	struct shutdown_hook hook;
};
extern struct vm_registry vms;		/* registry.c; vm.c writes it, the others read it */

/*
 * What the runtime does to the world, as a table: vm_sys_ops are the real
 * ones, the unit tests put theirs in with vm_set_ops().
 */
struct vm_ops {
	uint64_t (*now)(void);
	int	 (*timer_set)(struct timer *, uint64_t ms);
	pid_t	 (*spawn)(char *const argv[], const int fds[3], const struct cred *);
	void	 (*watch)(struct child *);
	int	 (*kill)(pid_t, int sig);
	int	 (*tap_create)(const char *name, uid_t owner,
		    const uint8_t mac[6]);	/* on NETCONF_BRIDGE, locked to mac */
	void	 (*tap_delete)(const char *name);
	int	 (*qmp_open)(struct qmp *, const char *path, uid_t owner);	/* its socket's */
	int	 (*qmp_command)(struct qmp *, const char *execute);
	void	 (*qmp_close)(struct qmp *);
	int	 (*con_open)(struct vm *);
	void	 (*con_close)(struct vm *);
	void	 (*env)(struct qemu_env *);	/* kvm, vhost, direct_io */
	/* files */
	int	 (*exists)(const char *path);
	int	 (*mkdir_owned)(const char *path, uid_t, gid_t, mode_t);	/* no symlink followed */
	void	 (*own_dir)(const char *dir, uid_t, const char *who);	/* a guest's files */
	int	 (*own)(const char *path, uid_t, mode_t);	/* chown, chmod */
	int	 (*pd_find)(const char *ref, char *path, size_t size);
	int	 (*disk_is_l1)(const char *dev);
	int	 (*write_file)(const char *path, const void *, size_t, mode_t);
	int	 (*open_log)(const char *path);	/* made anew, root's, for writing */
	int	 (*close)(int fd);
	int	 (*unlink)(const char *path);
	int	 (*rename)(const char *from, const char *to);
	char	*(*read_file)(const char *path, size_t max, size_t *len);
	/* cgroup v2 (NULL: none) */
	int	 (*cgroup_add)(const char *name, pid_t, uint64_t memory_max);
	void	 (*cgroup_end)(const char *name);	/* kills what is left */
	int	 (*make_file)(const char *path, uid_t, gid_t, mode_t);	/* anew, empty */
	int	 (*uid_kill)(uid_t);	/* SIGKILL to its processes; how many there were */
	int	 (*own_dev)(const char *dev, uid_t, gid_t, mode_t);
};
extern const struct vm_ops vm_sys_ops;	/* host.c */
void	 devices_for_guests(void);		/* host.c: at boot */
void	 disown_guests(const char *top);	/* host.c: every STATE_GUESTS/NAME root's */
const struct vm_ops *vm_set_ops(const struct vm_ops *);	/* NULL: vm_sys_ops; the old */

/*
 * A step: what prepare or launch found to do, performed by vm.c.
 */
enum step_kind { STEP_READY, STEP_SPAWN, STEP_WAIT, STEP_FAIL };
struct vm_step {
	enum step_kind	 kind;
	int		 transient;	/* STEP_FAIL: retrying may help */
	char		 error[GUEST_ERR_MAX];	/* STEP_FAIL */
	enum job_kind	 job;		/* STEP_SPAWN by prepare */
	char		*argv[QEMU_ARGV_MAX];
	char		 buf[QEMU_BUF_MAX];	/* argv's strings */
	struct cred	 cred;
	gid_t		 groups[1];
	const char	*input;		/* NULL, or a line for the child's stdin (a pipe) */
	char		 log[PATH_MAX];	/* "": fds as PID 1's; else stdout, stderr, truncated */
	int		 kvm;		/* launch: QEMU uses KVM */
};

static inline uid_t
vm_uid(const struct vm *v)
{
	return (uid_t)(GUEST_UID_BASE + v->slot);
}

/* prepare.c: sources into files, a step at a time */
int	 vm_prepare(struct vm *, const struct vm_ops *, struct vm_step *);
void	 vm_release(struct vm *, const struct vm_ops *);	/* its uid, files, disks */
int	 uid_procs(const char *proc, uid_t, pid_t *pids, size_t max);	/* host.c */
int	 disk_is_the_l1s(const char *dev);
void	 own_dir(const char *dir, uid_t, const char *who);

/* launch.c: the tap, QEMU's command line */
int	 vm_launch(struct vm *, const struct vm_ops *, struct vm_step *);
int	 tap_create(const char *name, uid_t owner, const uint8_t mac[6]);
void	 tap_delete(const char *name);
void	 qemu_last_words(const char *dir, char *buf, size_t size);

/* relay.c: the serial console, to the L1's console and `nestbox console` */
int	 con_open(struct vm *);
void	 con_close(struct vm *);
int	 con_attach(struct vm *, void (*fn)(void *, const char *, size_t), void *arg);
void	 con_detach(struct vm *, void *arg);
int	 con_write(struct vm *, const void *buf, size_t len);

/* network.c: leases and forwards */
void	 vm_lookup_ip(struct vm *, const char *leases);
void	 apply_network(void);
int	 leases_poll(const struct vm_ops *);	/* 1: there are guests to poll for */

/* report.c: status.json's section, the guest attributes */
struct cJSON *vm_json(const struct vm *);
void	 vm_render(struct cJSON *obj, int brief);
void	 vm_attr_open(struct vm *);	/* the guest attribute, md/ga.c */
void	 vm_attr_update(struct vm *);
void	 vm_attr_close(struct vm *);

/* vm.c: the runtime */
struct vm *vm_find(const char *name);
void	 vm_event(struct vm *, enum vm_event);
void	 vm_reconcile(const char *doc, int force);
void	 vm_recheck(void);			/* the network or the alias ranges changed */
/* what a declaration is checked against: PID 1's (l2net, metadata), or the
 * unit tests'; NULL: PID 1's. Returns the old one. */
typedef void (*vm_env_fn)(struct guest_env *);
vm_env_fn vm_set_env(vm_env_fn);
int	 vm_request(struct vm *, const char *verb);	/* ctl: EINVAL */
void	 vm_free(struct vm *);
void	 vm_net_up(void);			/* net_on_ready */
void	 vm_reload(void);			/* `nestbox reload` */
void	 vm_reset(void);			/* the unit tests: no guests */
uint64_t vm_stop_deadline(void);

#endif /* NESTBOX_GUEST_VM_H */
