/*
 * The serial console is a socket, DIR/console.sock under the run
 * directory: PID 1 reads it, mirrors each line to the L1's console as
 * "[guest NAME] ...", and relays the bytes to `nestbox console` clients
 * (ctl/server.c), which may also write to it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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
	if (write(log_fd(), out, o) == -1) {
		/* the console is gone; nothing to tell */
	}
	v->linelen = 0;
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
