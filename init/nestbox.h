/*
 * nestbox: PID 1 of the nestbox appliance.
 *
 * One header for the whole program, prototypes grouped by the file that
 * defines them. Unless a comment says otherwise, functions return 0 on
 * success and -1 with errno set on failure.
 */
#ifndef NESTBOX_H
#define NESTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef NESTBOX_VERSION
#define NESTBOX_VERSION "dev"
#endif

#define NB_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define NB_NORETURN	__attribute__((noreturn))

/* log.c: every line is "nestbox: <msg>\n", written with one write(2). */
void	 log_init(int fd);
int	 log_fd(void);
void	 log_info(const char *, ...) NB_PRINTF(1, 2);
void	 log_warn(const char *, ...) NB_PRINTF(1, 2);	/* adds strerror(errno) */
void	 log_warnx(const char *, ...) NB_PRINTF(1, 2);
void	 fatal(const char *, ...) NB_PRINTF(1, 2) NB_NORETURN;
void	 fatalx(const char *, ...) NB_PRINTF(1, 2) NB_NORETURN;

/* util.c */
char	*read_file(const char *path, size_t max, size_t *len);	/* NUL-terminated, free() it; EFBIG if > max */
ssize_t	 read_head(const char *path, char *buf, size_t size);	/* first size-1 bytes, NUL-terminated */
char	*next_line(char **cursor, char *end);	/* splits in place; NULL at end */
uint64_t now_ms(void);					/* CLOCK_MONOTONIC */

/* event.c: one epoll loop; every source is a struct event the caller owns. */
struct event {
	int	  fd;
	void	(*handler)(struct event *, uint32_t events);
	void	 *arg;
};
struct timer {
	struct event	 ev;		/* a timerfd */
	void		(*fire)(struct timer *);
	void		 *arg;
};
int	 event_init(void);
int	 event_add(struct event *, uint32_t events);
int	 event_del(struct event *);
int	 event_once(int timeout_ms);	/* events handled: 0 or 1 */
void	 event_loop(void) NB_NORETURN;
int	 timer_init(struct timer *, void (*fire)(struct timer *), void *arg);
int	 timer_set(struct timer *, uint64_t ms);	/* one shot; 0 disarms */

/* mount.c */
int	 mount_dev(void);		/* devtmpfs on /dev; does not log */
int	 mount_early(void);		/* proc, sys, ...; logs each failure */
int	 mounts_parse(char *text, size_t len, char **dirs, size_t max, size_t *n);
void	 unmount_all(void);

/* cpu.c */
enum cpu_vendor { CPU_OTHER, CPU_INTEL, CPU_AMD };
struct cpu {
	enum cpu_vendor	 vendor;
	char		 vendor_id[16];
	int		 vmx;
	int		 svm;
};
int	 cpu_parse(const char *text, size_t len, struct cpu *);
int	 cpu_read(const char *path, struct cpu *);
const char *cpu_kvm_module(const struct cpu *);	/* NULL: this CPU can not run KVM */

/* modules.c */
#define MODNAME_MAX	56	/* the kernel's MODULE_NAME_LEN, with the NUL */
#define MODDEP_MAX_DEPS	256
#define MODDEP_MAX_DEPTH 32

struct modreq {				/* a line of /etc/nestbox/modules */
	char		 name[MODNAME_MAX];
	const char	*params;	/* the rest of the line, "" if none */
	unsigned	 line;
};
struct modlist {
	struct modreq	*v;
	size_t		 n;
	size_t		 bad;		/* lines skipped; the first few are logged */
};
enum mod_state { MOD_NEW, MOD_LOADED, MOD_FAILED };
struct modentry {			/* a line of modules.dep */
	char		 name[MODNAME_MAX];
	const char	*path;
	const char	**deps;
	size_t		 ndeps;
	enum mod_state	 state;
	int		 error;		/* errno of a failed load */
	int		 mark, visiting;	/* moddep_plan's walk */
};
struct moddep {
	struct modentry	*v;		/* sorted by name */
	size_t		 n;
	const char	**depv;		/* storage for all entries' deps */
	size_t		 bad;
};
struct names {				/* a sorted set of module names */
	char		(*v)[MODNAME_MAX];
	size_t		 n;
};
struct modconf {
	const char	*list;		/* /etc/nestbox/modules */
	const char	*dir;		/* /lib/modules/$(uname -r) */
	const struct cpu *cpu;
	int		(*load)(const char *path, const char *params);
};
struct modstats {
	unsigned	 loaded, builtin, skipped, failed;
};
int	 modname(const char *s, size_t len, char out[MODNAME_MAX]);
int	 modname_path(const char *path, char out[MODNAME_MAX]);
int	 modlist_parse(char *text, size_t len, struct modlist *);
void	 modlist_free(struct modlist *);
int	 moddep_parse(char *text, size_t len, struct moddep *);
struct modentry *moddep_find(const struct moddep *, const char *name);
int	 moddep_plan(struct moddep *, struct modentry *, struct modentry **order,
	    size_t max, size_t *n, const char **culprit);
void	 moddep_free(struct moddep *);
int	 names_parse(char *text, size_t len, struct names *);	/* modules.builtin */
int	 names_has(const struct names *, const char *name);
void	 names_free(struct names *);
int	 modules_load(const struct modconf *, struct modstats *);
int	 modules_init(const struct cpu *);	/* the real system; logs the summary */
int	 module_insert(const char *path, const char *params);

/* spawn.c: children are started and reaped here, one way. */
struct child {
	pid_t		 pid;
	void		(*exited)(struct child *, int status);
	struct child	*next;
};
pid_t	 spawn(char *const argv[], const int fds[3]);
void	 child_watch(struct child *);		/* after setting pid */
int	 child_reap(void);			/* 1: no children left */
const char *exit_reason(int status, char *buf, size_t size);

/* supervise.c: a service is a child that is restarted when it exits. */
enum svc_state { SVC_DOWN, SVC_UP, SVC_BACKOFF };
struct service {
	const char	*name;
	char *const	*argv;
	enum svc_state	 state;
	int		 want_up;
	uint64_t	 started;	/* now_ms() of the last start */
	uint64_t	 delay;		/* current restart delay, ms */
	struct child	 child;
	struct timer	 timer;
};
#define SVC_MIN_DELAY	1000	/* never two starts within a second */
#define SVC_MAX_DELAY	60000
#define SVC_STABLE	10000	/* up this long: the next restart is not a crash loop */
int	 service_init(struct service *, const char *name, char *const argv[]);
void	 service_start(struct service *);
void	 service_stop(struct service *);
uint64_t service_next_delay(uint64_t delay, uint64_t ran);

/* console.c */
int	 console_init(void);
int	 getty_start(void);

/* input.c */
int	 input_init(void);
int	 input_has_power_key(const unsigned long *keybits, size_t nbits);

/* shutdown.c: a staged shutdown that runs inside the event loop. */
enum shutdown_action { SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT, SHUTDOWN_HALT };
struct shutdown_hook {
	const char	*name;
	/* 0: done now; 1: in progress, call shutdown_hook_done() later */
	int		(*start)(struct shutdown_hook *, enum shutdown_action);
	uint64_t	 timeout;	/* ms before the next hook runs anyway; 0: 10 s */
	struct shutdown_hook *next;
};
struct shutdown_ops {
	int	(*killall)(int sig);
	void	(*finish)(enum shutdown_action);	/* sync, unmount, reboot */
};
int	 shutdown_init(const struct shutdown_ops *);
void	 shutdown_hook_add(struct shutdown_hook *);
void	 shutdown_hook_done(struct shutdown_hook *);
void	 shutdown_request(enum shutdown_action, const char *why);
int	 shutdown_running(void);
void	 shutdown_children_gone(void);

#endif /* NESTBOX_H */
