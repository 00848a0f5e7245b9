/*
 * The control socket, CONTROL_SOCK: the server in PID 1's event loop.
 *
 * A client connects, sends one request line ("stop web\n", at most
 * CONTROL_LINE_MAX bytes with the newline) within control_timeout_ms, and
 * reads the reply: a first line "ok" or "error: MESSAGE", then the body,
 * then the server closes. "console NAME" instead turns the connection into
 * a relay between the client and the guest's serial console, until either
 * side ends it.
 *
 * The server runs in PID 1's event loop and never blocks on a client: the
 * sockets are nonblocking, a reply waits in a buffer for the client to read
 * it, a log is sent a chunk at a time as the socket takes it, and a console
 * client that falls more than CONSOLE_OUT_MAX behind is dropped. Only the
 * server's own user (root in the image) may connect: the socket is 0600 and
 * the peer's uid is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "ctl/ctl-internal.h"

#define CONN_MAX	16
#define STALL_TIMEOUT	60000		/* ms a reply waits for a client that reads nothing */
#define ACCEPT_PAUSE	1000		/* ms without accept(2) after it failed (EMFILE) */
#define LOG_TAIL	(1 << 20)	/* `logs` sends the last MiB */
#define CHUNK		(64 * 1024)
#define CONSOLE_OUT_MAX	(64 * 1024)	/* console output waiting for a slow client */

int	control_timeout_ms = 5000;

/* --- the server ---------------------------------------------------------- */

enum conn_state {
	CONN_REQUEST,		/* reading the request line */
	CONN_REPLY,		/* sending the reply; closed when it is sent */
	CONN_CONSOLE,		/* relaying a guest's console */
	CONN_CLOSING,		/* dropped; the timer closes it outside any callback */
};

struct conn {
	struct event	 ev;
	struct timer	 timer;
	enum conn_state	 state;
	uint32_t	 watching;	/* the events asked of epoll; 0: not in the set */
	char		 in[CONTROL_LINE_MAX];
	size_t		 inlen;
	char		 name[GUEST_NAME_MAX];	/* console */
	int		 attached;	/* console_detach() is owed */
	char		*out;
	size_t		 outoff, outlen, outsize;
	int		 logfd;		/* logs: the file being sent; -1 */
	off_t		 logleft;	/* its bytes still to send */
	int		 logskip;	/* drop the first, partial, line */
	struct conn	*next;
};

static const struct control_ops *ops;
static struct event	 listen_ev = { -1, NULL, NULL };
static struct timer	 pause_timer;
static int		 pause_ok, paused;
static struct conn	*conns;
static int		 nconns;

static void
conn_watch(struct conn *c, uint32_t events)
{
	if (c->watching == events)
		return;
	if (c->watching != 0)
		event_del(&c->ev);
	c->watching = 0;
	if (events != 0 && event_add(&c->ev, events) == -1) {
		log_warn("control: epoll");
		c->state = CONN_CLOSING;	/* the timer closes it */
		timer_set(&c->timer, 1);
		return;
	}
	c->watching = events;
}

static void
conn_close(struct conn *c)
{
	struct conn	**cp;
	char		  buf[4096];
	int		  i;

	if (c->attached) {
		c->attached = 0;
		ops->console_detach(c->name, c);
		log_info("control: console %s: detached", c->name);
	}
	for (cp = &conns; *cp != NULL; cp = &(*cp)->next) {
		if (*cp == c) {
			*cp = c->next;
			nconns--;
			break;
		}
	}
	if (c->watching != 0)
		event_del(&c->ev);
	/*
	 * Unread input makes the peer's read fail with ECONNRESET rather than
	 * see the end of the reply: take a little of what a client sent.
	 */
	for (i = 0; i < 16 && recv(c->ev.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	close(c->ev.fd);
	event_del(&c->timer.ev);
	close(c->timer.ev.fd);
	if (c->logfd != -1)
		close(c->logfd);
	free(c->out);
	free(c);
}

/* Appends to the output, in at most max bytes. -1: ENOBUFS, ENOMEM. */
static int
out_add(struct conn *c, const void *data, size_t n, size_t max)
{
	size_t	 have = c->outlen - c->outoff, size;
	char	*p;

	if (n > max - have) {
		errno = ENOBUFS;
		return -1;
	}
	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, have);
		c->outoff = 0;
		c->outlen = have;
	}
	if (have + n > c->outsize) {
		size = c->outsize ? c->outsize * 2 : 4096;
		if (size < have + n)
			size = have + n;
		if (size > max)
			size = max;
		if ((p = realloc(c->out, size)) == NULL)
			return -1;
		c->out = p;
		c->outsize = size;
	}
	memcpy(c->out + c->outlen, data, n);
	c->outlen += n;
	return 0;
}

/* Sends what the socket takes. 1: some was sent, 0: none, -1: an error. */
static int
out_send(struct conn *c)
{
	ssize_t	 n;
	int	 sent = 0;

	while (c->outoff < c->outlen) {
		n = send(c->ev.fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return sent;
		if (n == -1)
			return -1;
		c->outoff += n;
		sent = 1;
	}
	c->outoff = c->outlen = 0;
	return sent;
}

/* The next chunk of the log into the empty output buffer. */
static int
log_refill(struct conn *c)
{
	size_t	 want = c->logleft < CHUNK ? (size_t)c->logleft : CHUNK;
	char	*p, *nl;
	ssize_t	 n;

	if (c->outsize < CHUNK) {
		if ((p = realloc(c->out, CHUNK)) == NULL)
			return -1;
		c->out = p;
		c->outsize = CHUNK;
	}
	while ((n = read(c->logfd, c->out, want)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return -1;
	c->outoff = 0;
	c->outlen = n;
	c->logleft = n == 0 ? 0 : c->logleft - n;	/* 0: truncated meanwhile */
	if (c->logskip && n > 0) {
		c->logskip = 0;
		if ((nl = memchr(c->out, '\n', n)) != NULL)
			c->outoff = nl - c->out + 1;
	}
	return 0;
}

/*
 * Sends what can be sent now and waits for the socket for the rest. A reply
 * that is all sent closes the connection: c may be gone on return.
 */
static void
conn_flush(struct conn *c)
{
	int	 rc, progress = 0;

	for (;;) {
		if ((rc = out_send(c)) == -1) {
			conn_close(c);
			return;
		}
		progress |= rc;
		if (c->outoff < c->outlen || c->state != CONN_REPLY ||
		    c->logfd == -1 || c->logleft == 0)
			break;
		if (log_refill(c) == -1) {
			log_warn("control: logs");
			conn_close(c);
			return;
		}
	}
	switch (c->state) {
	case CONN_REPLY:
		if (c->outoff == c->outlen && (c->logfd == -1 || c->logleft == 0)) {
			conn_close(c);
			return;
		}
		conn_watch(c, EPOLLOUT);
		if (progress)
			timer_set(&c->timer, STALL_TIMEOUT);
		break;
	case CONN_CONSOLE:
		conn_watch(c, EPOLLIN | (c->outoff < c->outlen ? EPOLLOUT : 0));
		break;
	default:
		break;
	}
}

/* Sends the reply's first line and body, then closes. */
static void
reply(struct conn *c, const char *body, size_t len)
{
	c->state = CONN_REPLY;
	c->outoff = c->outlen = 0;
	timer_set(&c->timer, STALL_TIMEOUT);
	if (out_add(c, "ok\n", 3, SIZE_MAX) == -1 ||
	    (len > 0 && out_add(c, body, len, SIZE_MAX) == -1) ||
	    (len > 0 && body[len - 1] != '\n' && out_add(c, "\n", 1, SIZE_MAX) == -1)) {
		log_warn("control: reply");
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void reply_error(struct conn *, const char *, ...) NB_PRINTF(2, 3);

static void
reply_error(struct conn *c, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;
	int	 n;

	n = snprintf(msg, sizeof(msg), "error: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n - 1, fmt, ap);
	va_end(ap);
	strcat(msg, "\n");
	c->state = CONN_REPLY;
	c->outoff = c->outlen = 0;
	timer_set(&c->timer, STALL_TIMEOUT);
	if (c->logfd != -1) {
		close(c->logfd);
		c->logfd = -1;
	}
	if (out_add(c, msg, strlen(msg), SIZE_MAX) == -1) {
		conn_close(c);
		return;
	}
	conn_flush(c);
}

/* The reply for a failed lookup of guest name: ENOENT says which. */
static void
reply_errno(struct conn *c, const char *verb, const char *name)
{
	if (errno == ENOENT && name != NULL)
		reply_error(c, "no guest named %s", name);
	else if (name != NULL)
		reply_error(c, "%s %s: %s", verb, name, strerror(errno));
	else
		reply_error(c, "%s: %s", verb, strerror(errno));
}

static void
reply_text(struct conn *c, const char *verb, const char *name, char *text)
{
	if (text == NULL) {
		reply_errno(c, verb, name);
		return;
	}
	reply(c, text, strlen(text));
	free(text);
}

static void
request_logs(struct conn *c, const char *name)
{
	char		 path[4096];
	struct stat	 st;
	off_t		 start;

	if (ops->log_path(name, path, sizeof(path)) == -1) {
		reply_errno(c, "logs", name);
		return;
	}
	/* QEMU's file: a regular file, no symlink followed, no FIFO waited on */
	if ((c->logfd = open_checked(path, O_RDONLY, 0, (uid_t)-1)) == -1) {
		if (errno == ENOENT)
			reply_error(c, "guest %s has no log yet", name);
		else if (errno == EPERM || errno == ELOOP)
			reply_error(c, "logs %s: %s: not a regular file", name, path);
		else
			reply_error(c, "logs %s: %s: %s", name, path, strerror(errno));
		return;
	}
	if (fstat(c->logfd, &st) == -1) {
		reply_error(c, "logs %s: %s: %s", name, path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		reply_error(c, "logs %s: %s: not a regular file", name, path);
		return;
	}
	start = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	if (start > 0 && lseek(c->logfd, start, SEEK_SET) == -1) {
		reply_error(c, "logs %s: %s: %s", name, path, strerror(errno));
		return;
	}
	c->logleft = st.st_size - start;
	c->logskip = start > 0;
	reply(c, NULL, 0);
}

/*
 * The guest's console output, from vm.c. NULL, 0: the console went away;
 * the client gets what is buffered, then the end. Never closes c here,
 * inside vm.c's loop over its listeners: a client that is too slow is
 * closed by its timer, at once.
 */
static void
console_out(void *arg, const char *buf, size_t len)
{
	struct conn	*c = arg;

	if (c->state != CONN_CONSOLE)
		return;
	if (buf == NULL) {
		c->attached = 0;
		c->state = CONN_REPLY;
		timer_set(&c->timer, STALL_TIMEOUT);
		conn_watch(c, EPOLLOUT);
		log_info("control: console %s: closed by the guest's side", c->name);
		return;
	}
	if (out_send(c) == -1 || out_add(c, buf, len, CONSOLE_OUT_MAX) == -1 ||
	    out_send(c) == -1) {
		if (errno == ENOBUFS)
			log_warnx("control: console %s: the client reads too slowly, "
			    "dropped", c->name);
		c->state = CONN_CLOSING;
		conn_watch(c, 0);
		timer_set(&c->timer, 1);
		return;
	}
	conn_watch(c, EPOLLIN | (c->outoff < c->outlen ? EPOLLOUT : 0));
}

/* Client input for the console. -1: c was closed. */
static int
console_in(struct conn *c, const char *buf, size_t len)
{
	if (len > 0 && ops->console_write(c->name, buf, len) == -1 &&
	    errno != EAGAIN) {
		log_warn("control: console %s", c->name);
		conn_close(c);
		return -1;
	}
	return 0;
}

static void
request_console(struct conn *c, const char *name, size_t linelen)
{
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->state = CONN_CONSOLE;
	c->outoff = c->outlen = 0;
	if (out_add(c, "ok\n", 3, CONSOLE_OUT_MAX) == -1) {
		conn_close(c);
		return;
	}
	timer_set(&c->timer, 0);
	c->attached = 1;
	if (ops->console_attach(c->name, console_out, c) == -1) {
		c->attached = 0;
		reply_errno(c, "console", c->name);
		return;
	}
	log_info("control: console %s: attached", c->name);
	if (c->state == CONN_CONSOLE &&
	    console_in(c, c->in + linelen, c->inlen - linelen) == -1)
		return;
	if (c->state == CONN_CLOSING)
		return;
	conn_flush(c);
}

static void
request(struct conn *c, size_t linelen)
{
	const char	*verb, *name;
	char		 err[160];

	if (control_parse(c->in, linelen, &verb, &name, err, sizeof(err)) == -1) {
		reply_error(c, "%s", err);
		return;
	}
	if (strcmp(verb, "status") == 0)
		reply_text(c, verb, name, ops->status(name));
	else if (strcmp(verb, "list") == 0)
		reply_text(c, verb, name, ops->list());
	else if (strcmp(verb, "logs") == 0)
		request_logs(c, name);
	else if (strcmp(verb, "console") == 0)
		request_console(c, name, linelen);
	else if (strcmp(verb, "reload") == 0) {
		log_info("control: reload");
		ops->reload();
		reply(c, NULL, 0);
	} else {
		log_info("control: %s %s", verb, name);
		if (ops->action(name, verb) == -1)
			reply_errno(c, verb, name);
		else
			reply(c, NULL, 0);
	}
}

static void
read_request(struct conn *c)
{
	char	*nl;
	ssize_t	 n;

	n = recv(c->ev.fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n == -1 || (n == 0 && c->inlen == 0)) {
		conn_close(c);
		return;
	}
	if (n == 0) {
		reply_error(c, "request does not end with a newline");
		return;
	}
	nl = memchr(c->in + c->inlen, '\n', n);
	c->inlen += n;
	if (nl != NULL)
		request(c, nl - c->in + 1);
	else if (c->inlen == sizeof(c->in))
		reply_error(c, "request longer than %d bytes", CONTROL_LINE_MAX);
}

static void
read_console(struct conn *c)
{
	char	 buf[4096];
	ssize_t	 n;

	n = recv(c->ev.fd, buf, sizeof(buf), 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {		/* the client's end or error detaches */
		conn_close(c);
		return;
	}
	if (console_in(c, buf, n) == -1)
		return;
	conn_flush(c);
}

static void
conn_event(struct event *ev, uint32_t events)
{
	struct conn	*c = ev->arg;

	switch (c->state) {
	case CONN_REQUEST:
		read_request(c);
		break;
	case CONN_REPLY:
		if (events & (EPOLLERR | EPOLLHUP))
			conn_close(c);
		else
			conn_flush(c);
		break;
	case CONN_CONSOLE:
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			read_console(c);
		else
			conn_flush(c);
		break;
	case CONN_CLOSING:
		break;
	}
}

static void
conn_timeout(struct timer *t)
{
	struct conn	*c = t->arg;
	char		 msg[64];

	switch (c->state) {
	case CONN_REQUEST:
		snprintf(msg, sizeof(msg), "error: no request within %d ms\n",
		    control_timeout_ms);
		send(c->ev.fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_close(c);
		break;
	case CONN_REPLY:
		log_warnx("control: a client read nothing for %d s, dropped",
		    STALL_TIMEOUT / 1000);
		conn_close(c);
		break;
	case CONN_CLOSING:
		conn_close(c);
		break;
	case CONN_CONSOLE:
		break;
	}
}

/* Only the server's own user: root in the image, the tester in the tests. */
static int
peer_ok(int fd)
{
	struct ucred	 cr;
	socklen_t	 len = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	    cr.uid == geteuid();
}

static void
refuse(int fd, const char *why)
{
	char	 msg[128];

	snprintf(msg, sizeof(msg), "error: %s\n", why);
	send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void
conn_new(int fd)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control");
		refuse(fd, strerror(errno));
		return;
	}
	c->ev.fd = fd;
	c->ev.handler = conn_event;
	c->ev.arg = c;
	c->logfd = -1;
	if (timer_init(&c->timer, conn_timeout, c) == -1) {
		log_warn("control: timer");
		refuse(fd, strerror(errno));
		free(c);
		return;
	}
	c->next = conns;
	conns = c;
	nconns++;
	timer_set(&c->timer, control_timeout_ms);
	conn_watch(c, EPOLLIN);
}

static void
accept_ready(struct event *ev, uint32_t events)
{
	int	 fd;

	(void)events;
	for (;;) {
		fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (fd == -1) {
			/* EMFILE, ENOBUFS: epoll would report the socket at once, again */
			log_warn("control: accept");
			if (pause_ok && event_del(&listen_ev) == 0) {
				paused = 1;
				timer_set(&pause_timer, ACCEPT_PAUSE);
			}
			return;
		}
		if (!peer_ok(fd))
			refuse(fd, "permission denied");
		else if (nconns >= CONN_MAX) {
			log_warnx("control: %d connections already, one refused", CONN_MAX);
			refuse(fd, "busy, try again");
		} else
			conn_new(fd);
	}
}

static void
accept_resume(struct timer *t)
{
	(void)t;
	if (paused && listen_ev.fd != -1 && event_add(&listen_ev, EPOLLIN) == 0)
		paused = 0;
}

/* Closes every connection and the socket: control_init() starts afresh. */
static void
control_reset(void)
{
	while (conns != NULL)
		conn_close(conns);
	if (listen_ev.fd != -1) {
		if (!paused)
			event_del(&listen_ev);
		close(listen_ev.fd);
		listen_ev.fd = -1;
	}
	paused = 0;
	if (pause_ok)
		timer_set(&pause_timer, 0);
}

/*
 * Listens on path (NULL: CONTROL_SOCK), replacing a stale socket there.
 * Does not log. Also resets: the unit tests start each case from here.
 */
int
control_init(const struct control_ops *o, const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			 dir[sizeof(sun.sun_path)], *slash;
	mode_t			 mask;
	int			 fd = -1, saved;

	control_reset();
	if (path == NULL)
		path = CONTROL_SOCK;
	if (o == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (unix_addr(&sun, path) == -1)
		return -1;
	strcpy(dir, path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return -1;
		}
		if (unlink(path) == -1)
			return -1;
	}
	if (!pause_ok) {
		if (timer_init(&pause_timer, accept_resume, NULL) == -1)
			return -1;
		pause_ok = 1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	mask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(mask);
		goto err;
	}
	umask(mask);
	if (listen(fd, CONN_MAX) == -1)
		goto err;
	listen_ev.fd = fd;
	listen_ev.handler = accept_ready;
	if (event_add(&listen_ev, EPOLLIN) == -1) {
		listen_ev.fd = -1;
		goto err;
	}
	ops = o;
	return 0;
err:
	saved = errno;
	close(fd);
	unlink(path);
	errno = saved;
	return -1;
}
