/*
 * The serial console is a socket, DIR/console.sock under the run
 * directory: PID 1 reads it, mirrors each line to the L1's console as
 * "[guest NAME] ...", and relays the bytes to `nestbox console` clients
 * (ctl/server.c), which may also write to it. QEMU itself writes the whole
 * console to DIR/console.log (logfile=, qemu.c), whatever PID 1 does.
 *
 * The mirror never blocks PID 1: the L1's console is a 38400-baud serial
 * port, about 3.8 KB/s, and a guest can print far faster. Each guest's
 * lines wait in a buffer of VM_MIRROR_MAX bytes, written to the console
 * through a second, non-blocking open of it whenever the port takes them
 * (EPOLLOUT). A line that does not fit is dropped and counted, and once
 * there is room again the console says so: "[guest web] 812 lines dropped".
 * PID 1's own log lines still go out whole through the blocking log fd; a
 * guest line cut by a short write may have one of them in its middle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "guest/vm.h"

static void	con_read(struct event *, uint32_t);

int
con_open(struct vm *v)
{
	struct sockaddr_un	 sun;
	char			 path[128], proc[32];
	int			 fd, pfd, r;

	/* the run directory is QEMU's: its socket, never a symlink there */
	snprintf(path, sizeof(path), "%s/console.sock", v->run);
	if ((pfd = sock_checked(path, vm_uid(v), proc, sizeof(proc))) == -1)
		return -1;
	if (unix_addr(&sun, proc) == -1 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		close(pfd);
		return -1;
	}
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(pfd);
	if (r == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	v->con.fd = fd;
	v->con.handler = con_read;
	v->con.arg = v;
	if (event_add(&v->con, EPOLLIN) == -1) {
		close(fd);
		v->con.fd = -1;
		return -1;
	}
	return 0;
}

static void
subs_gone(struct vm *v)
{
	size_t	 k;

	/* `nestbox console` clients: the console is gone (ctl/server.c) */
	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].fn != NULL) {
			void (*fn)(void *, const char *, size_t) = v->subs[k].fn;

			v->subs[k].fn = NULL;
			fn(v->subs[k].arg, NULL, 0);
		}
}

void
con_close(struct vm *v)
{
	if (v->con.fd == -1)
		return;
	if (v->linelen > 0)
		con_read(&v->con, 0);	/* the last partial line */
	event_del(&v->con);
	close(v->con.fd);
	v->con.fd = -1;
	subs_gone(v);
}

/* The L1's console, opened again without blocking; follows log_fd(). */
static struct {
	int		 fd;		/* -1: not open */
	int		 src;		/* the log_fd() it is a copy of */
	dev_t		 dev;
	ino_t		 ino;
	int		 polling;	/* ev waits for EPOLLOUT */
	struct event	 ev;
} mir = { .fd = -1, .src = -1, .ev = { .fd = -1 } };

static void	mirror_writable(struct event *, uint32_t);

static int
mirror_fd(void)
{
	struct stat	 st;
	char		 path[64];
	int		 src = log_fd();

	if (fstat(src, &st) == -1)
		return -1;
	if (mir.fd != -1 && mir.src == src && mir.dev == st.st_dev && mir.ino == st.st_ino)
		return mir.fd;
	if (mir.fd != -1) {
		if (mir.polling)
			event_del(&mir.ev);
		mir.polling = 0;
		close(mir.fd);
		mir.fd = -1;
	}
	/* a new open file description: O_NONBLOCK here leaves log_fd() blocking */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", src);
	if ((mir.fd = open(path, O_WRONLY | O_NONBLOCK | O_APPEND | O_NOCTTY |
	    O_CLOEXEC)) == -1)
		return -1;
	mir.src = src;
	mir.dev = st.st_dev;
	mir.ino = st.st_ino;
	mir.ev.fd = mir.fd;
	mir.ev.handler = mirror_writable;
	mir.ev.arg = NULL;
	return mir.fd;
}

/* "[guest NAME] N lines dropped", once there is room for it. */
static void
mirror_notice(struct vm *v)
{
	char	 note[GUEST_NAME_MAX + 64];
	int	 n;

	if (v->dropped == 0)
		return;
	n = snprintf(note, sizeof(note), "[guest %s] %lu lines dropped\n", v->g.name,
	    v->dropped);
	if (n < 0 || (size_t)n > sizeof(v->mirror) - v->mirrorlen)
		return;
	memcpy(v->mirror + v->mirrorlen, note, n);
	v->mirrorlen += n;
	v->dropped = 0;
}

/* Writes what the port takes now; 1 if some is left. */
static int
mirror_flush(struct vm *v)
{
	ssize_t	 n;
	int	 fd;

	while (v->mirrorlen > 0) {
		if ((fd = mirror_fd()) == -1)
			return 1;	/* the lines wait, then are dropped */
		if ((n = write(fd, v->mirror, v->mirrorlen)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			v->mirrorlen = 0;	/* the console is gone */
			return 0;
		}
		memmove(v->mirror, v->mirror + n, v->mirrorlen - n);
		v->mirrorlen -= n;
		if (v->mirrorlen == 0)
			mirror_notice(v);
	}
	return 0;
}

static void
mirror_poll(int on)
{
	if (on == mir.polling || mir.fd == -1)
		return;
	if (on ? event_add(&mir.ev, EPOLLOUT) == 0 : event_del(&mir.ev) == 0)
		mir.polling = on;
}

/* The console takes bytes again: every guest's waiting lines, in slot order. */
static void
mirror_writable(struct event *ev, uint32_t events)
{
	size_t	 i;
	int	 left = 0;

	(void)ev;
	(void)events;
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && mirror_flush(vms.v[i]))
			left = 1;
	mirror_poll(left);
}

static void
mirror_line(struct vm *v)
{
	char	 out[VM_LINE_MAX + GUEST_NAME_MAX + 16];
	size_t	 i, o;

	o = (size_t)snprintf(out, sizeof(out), "[guest %s] ", v->g.name);
	for (i = 0; i < v->linelen && o + 2 < sizeof(out); i++) {
		unsigned char c = (unsigned char)v->line[i];

		if (c == '\r')
			continue;
		out[o++] = c == '\t' || (c >= 0x20 && c != 0x7f) ? (char)c : '?';
	}
	out[o++] = '\n';
	v->linelen = 0;
	mirror_flush(v);
	mirror_notice(v);
	if (o > sizeof(v->mirror) - v->mirrorlen) {
		v->dropped++;		/* the port is slower than the guest */
		v->dropped_total++;
		return;
	}
	memcpy(v->mirror + v->mirrorlen, out, o);
	v->mirrorlen += o;
	if (mirror_flush(v))
		mirror_poll(1);
}

/* Console bytes: to `nestbox console` clients as they are, to the L1's
 * console a line at a time. events 0: flush what is buffered. */
static void
con_read(struct event *ev, uint32_t events)
{
	struct vm	*v = ev->arg;
	char		 buf[4096];
	ssize_t		 n, i;
	size_t		 k;

	if (events == 0) {
		mirror_line(v);
		return;
	}
	n = read(ev->fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		con_close(v);
		return;
	}
	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].fn != NULL)
			v->subs[k].fn(v->subs[k].arg, buf, (size_t)n);
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			mirror_line(v);
			continue;
		}
		v->line[v->linelen++] = buf[i];
		if (v->linelen == sizeof(v->line))
			mirror_line(v);
	}
}

int
con_attach(struct vm *v, void (*fn)(void *, const char *, size_t), void *arg)
{
	size_t	 k;

	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].fn == NULL) {
			v->subs[k].fn = fn;
			v->subs[k].arg = arg;
			return 0;
		}
	errno = EBUSY;
	return -1;
}

void
con_detach(struct vm *v, void *arg)
{
	size_t	 k;

	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].arg == arg)
			v->subs[k].fn = NULL;
}

int
con_write(struct vm *v, const void *buf, size_t len)
{
	if (v->con.fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	return write(v->con.fd, buf, len) == (ssize_t)len ? 0 : -1;
}
