/*
 * core/: what every other folder builds on: the log, small utilities, the
 * event loop, children (spawn, supervise) and the staged shutdown.
 *
 * Unless a comment says otherwise, functions return 0 on success and -1
 * with errno set on failure.
 */
#ifndef NESTBOX_CORE_H
#define NESTBOX_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#ifndef NESTBOX_VERSION
#define NESTBOX_VERSION "dev"
#endif

#define NB_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define NB_NORETURN	__attribute__((noreturn))


/*
 * log.c: one line per call, written with one write(2), the level after the
 * name: "nestbox: <msg>\n" (log_info), "nestbox: warning: <msg>\n" (log_warn,
 * log_warnx), "nestbox: fatal: <msg>\n" (fatal, fatalx; then PID 1 powers off).
 */
void	 log_init(int fd);
int	 log_fd(void);
void	 log_info(const char *, ...) NB_PRINTF(1, 2);
void	 log_warn(const char *, ...) NB_PRINTF(1, 2);	/* adds strerror(errno) */
void	 log_warnx(const char *, ...) NB_PRINTF(1, 2);
void	 fatal(const char *, ...) NB_PRINTF(1, 2) NB_NORETURN;	/* adds strerror(errno) */
void	 fatalx(const char *, ...) NB_PRINTF(1, 2) NB_NORETURN;

/* util.c */
const char *str_quote(const char *s, char *buf, size_t size);	/* printable, cut at 40 */
const char *url_redact(const char *url, char *buf, size_t size);	/* no userinfo, query */
char	*read_file(const char *path, size_t max, size_t *len);	/* NUL-terminated, free() it; EFBIG if > max */
ssize_t	 read_head(const char *path, char *buf, size_t size);	/* first size-1 bytes, NUL-terminated */
char	*next_line(char **cursor, char *end);	/* splits in place; NULL at end */
uint64_t now_ms(void);					/* CLOCK_MONOTONIC */
struct text {				/* text_add() appends, text_done() checks once */
	char	*buf;
	size_t	 size, len;
	int	 full;
};
void	 text_init(struct text *, char *buf, size_t size);
void	 text_add(struct text *, const char *fmt, ...) NB_PRINTF(2, 3);
int	 text_done(const struct text *);	/* length; -1, ENOSPC if it did not fit */
int	 write_file(const char *path, const void *data, size_t len, mode_t mode);	/* atomic */
/* the file boundary: files in places another uid may write (util.c) */
int	 open_at_checked(int dfd, const char *name, int flags, mode_t, uid_t owner);
int	 open_checked(const char *path, int flags, mode_t, uid_t owner);	/* -1: any owner */
int	 file_fresh(const char *path, uid_t, gid_t, mode_t);	/* a new empty file's fd */
int	 dir_owned(const char *path, uid_t, gid_t, mode_t);
int	 sock_checked(const char *path, uid_t owner, char *proc, size_t size);
struct sockaddr_un;
int	 unix_addr(struct sockaddr_un *, const char *path);	/* ENAMETOOLONG */
void	 put_le32(uint8_t *p, uint32_t v);			/* little-endian */

/* proc.c: parsers of /proc text the caller has read. */
int	 proc_status_kib(const char *text, const char *field, unsigned long *kib);	/* /proc/PID/status */
int	 route_gateway(const char *text, const char *ifname, uint32_t *gw);	/* /proc/net/route */

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
void	 event_loop(void) NB_NORETURN;
int	 timer_init(struct timer *, void (*fire)(struct timer *), void *arg);
int	 timer_set(struct timer *, uint64_t ms);	/* one shot; 0 disarms */

/* spawn.c: children are started and reaped here, one way. */
struct child {
	pid_t		 pid;
	void		(*exited)(struct child *, int status);
	struct child	*next;
};
struct cred {				/* who a child runs as */
	uid_t		 uid;
	gid_t		 gid;
	const gid_t	*groups;
	size_t		 ngroups;
};
pid_t	 spawn(char *const argv[], const int fds[3]);
pid_t	 spawn_as(char *const argv[], const int fds[3], const struct cred *);	/* NULL: as PID 1 */
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
/* ops NULL: the real ones, which call unmount (NULL: none) before reboot(2) */
int	 shutdown_init(const struct shutdown_ops *, void (*unmount)(void));
void	 shutdown_hook_add(struct shutdown_hook *);
void	 shutdown_hook_done(struct shutdown_hook *);
void	 shutdown_request(enum shutdown_action, const char *why);
int	 shutdown_running(void);
void	 shutdown_children_gone(void);

/* util.c, the small checks the parsers share (one copy of each) */
int	 is_space(char c);			/* ' ' '\t' '\r' '\n' */
#define JSON_NEST_MAX	16	/* objects and lists inside each other */
/* What cJSON lets pass and RFC 8259 does not: 0, or -1 (EINVAL) with *at
 * and why ("a control character" (a NUL too), "a control character in a
 * string", "nested deeper than 16") */
int	 json_strict(const char *json, size_t len, int maxnest, size_t *at,
	    char *why, size_t size);
int	 dns_label_ok(const char *s, size_t len);	/* RFC 1123 label */
int	 dns_name_ok(const char *s, size_t len);	/* labels and dots, <= 253 */
int	 sha256_hex_ok(const char *s);		/* 64 hex digits, either case */
enum size_scale { SIZE_DISK, SIZE_BYTES };
const char *size_str(uint64_t bytes, enum size_scale, char *buf, size_t size);

#endif /* NESTBOX_CORE_H */
