/*
 * QEMU's machine protocol, the client side: a guest's QEMU listens on
 * qmp.sock, greets with {"QMP": {...}}, wants {"execute":
 * "qmp_capabilities"} before anything else, then takes commands
 * ({"execute": NAME, "id": N}) and answers each with {"return": ...} or
 * {"error": {"class": ..., "desc": ...}}, the id echoed; events
 * ({"event": NAME, "data": {...}, "timestamp": {...}}) come in between.
 * One JSON object per line, "\r\n" after it.
 *
 * qmp_parse() reads one line and trusts none of it. struct qmp is a
 * connection in the event loop: commands given before the negotiation is
 * done wait in q->out and go after the capabilities' return. The owner
 * hears of every message (on_msg) and of the end (on_close).
 *
 * Lifetime: on_msg may call qmp_close() (and qmp_open() again), but must
 * not free q; on_close may, nothing touches q after it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "guest/guest-internal.h"

#define CAPABILITIES	"{\"execute\":\"qmp_capabilities\"}\n"
#define COMMAND_MAX	64	/* a command's name: "system_powerdown" */

static int
json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Printable ASCII (QEMU sends nothing else), cut at size - 1. */
static void
copy_text(char *dst, size_t size, const char *src)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/* An event's name: 1-63 of [A-Z0-9_]. */
static int
event_name_ok(const char *s, size_t size)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '_'))
			return 0;
	return n > 0 && n < size;
}

/*
 * Our ids are integers from 0 up; anything else echoed back (a string, a
 * fraction, a negative or a huge number) is not one of ours: -1. cJSON
 * keeps numbers as doubles, so 2.0 reads as 2.
 */
static long
parse_id(const cJSON *v)
{
	double	 d;

	if (v == NULL || !cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	/* the range first: casting a double out of range is undefined */
	if (!(d >= 0 && d < (double)LONG_MAX) || d != (double)(long)d)
		return -1;
	return (long)d;
}

/*
 * One line from QEMU: len bytes, a NUL not needed, whitespace around the
 * object allowed (QEMU ends lines with "\r\n"). Exactly one of "QMP",
 * "return", "error" and "event" must be there; other members
 * ("timestamp", anything later QEMUs add) are ignored. -1 (EINVAL) for
 * anything else; *msg is only written on success.
 */
int
qmp_parse(const char *line, size_t len, struct qmp_msg *msg)
{
	struct qmp_msg	 m;
	cJSON		*doc = NULL, *v, *kind = NULL, *id = NULL, *data = NULL;
	cJSON		*cls, *desc, *guest;
	const char	*end = NULL;
	char		 text[sizeof(m.error)];
	size_t		 i, nkinds = 0;

	if (line == NULL || len == 0 || len > QMP_LINE_MAX)
		goto bad;
	/*
	 * No control characters but JSON's whitespace: a string may not hold
	 * them raw, and cJSON would skip any of them as whitespace. No
	 * "\u0000" either (QEMU's strings are C strings): cJSON would end
	 * the string there, "SHUTDOWN\u0000X" would read as "SHUTDOWN".
	 */
	for (i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 && !json_space(line[i]))
			goto bad;
		if (line[i] != '\\' || i + 1 == len)
			continue;
		if (line[i + 1] == 'u' && len - i >= 6 && memcmp(line + i + 2, "0000", 4) == 0)
			goto bad;
		i++;		/* the escaped character */
	}
	doc = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (doc == NULL || !cJSON_IsObject(doc) || end == NULL || end < line ||
	    end > line + len)
		goto bad;
	for (i = end - line; i < len; i++)
		if (!json_space(line[i]))
			goto bad;

	for (v = doc->child; v != NULL; v = v->next) {
		if (v->string == NULL)
			goto bad;
		if (strcmp(v->string, "QMP") == 0 || strcmp(v->string, "return") == 0 ||
		    strcmp(v->string, "error") == 0 || strcmp(v->string, "event") == 0) {
			kind = v;
			nkinds++;
		} else if (strcmp(v->string, "id") == 0) {
			if (id != NULL)
				goto bad;
			id = v;
		} else if (strcmp(v->string, "data") == 0) {
			if (data != NULL)
				goto bad;
			data = v;
		}
	}
	if (nkinds != 1)
		goto bad;

	memset(&m, 0, sizeof(m));
	m.id = parse_id(id);
	if (strcmp(kind->string, "QMP") == 0) {
		if (!cJSON_IsObject(kind))
			goto bad;
		m.kind = QMP_GREETING;
	} else if (strcmp(kind->string, "return") == 0) {
		m.kind = QMP_RETURN;
	} else if (strcmp(kind->string, "error") == 0) {
		if (!cJSON_IsObject(kind))
			goto bad;
		cls = cJSON_GetObjectItemCaseSensitive(kind, "class");
		desc = cJSON_GetObjectItemCaseSensitive(kind, "desc");
		if (!cJSON_IsString(cls) || !cJSON_IsString(desc))
			goto bad;
		m.kind = QMP_ERROR;
		snprintf(text, sizeof(text), "%s: %s", cls->valuestring, desc->valuestring);
		copy_text(m.error, sizeof(m.error), text);
	} else {
		if (!cJSON_IsString(kind) ||
		    !event_name_ok(kind->valuestring, sizeof(m.event)))
			goto bad;
		if (data != NULL && !cJSON_IsObject(data))
			goto bad;
		m.kind = QMP_EVENT;
		copy_text(m.event, sizeof(m.event), kind->valuestring);
		if (strcmp(m.event, "SHUTDOWN") == 0 && data != NULL &&
		    (guest = cJSON_GetObjectItemCaseSensitive(data, "guest")) != NULL) {
			if (!cJSON_IsBool(guest))
				goto bad;
			m.guest = cJSON_IsTrue(guest);
		}
	}
	cJSON_Delete(doc);
	*msg = m;
	return 0;
bad:
	cJSON_Delete(doc);
	errno = EINVAL;
	return -1;
}

/* --- the connection ------------------------------------------------------ */

static void qmp_handler(struct event *, uint32_t);

static int
qmp_is_open(const struct qmp *q)
{
	return q->ev.handler == qmp_handler && q->ev.fd != -1;
}

/* The connection's state goes with it; next_id and the callbacks stay. */
static void
qmp_shut(struct qmp *q)
{
	event_del(&q->ev);
	close(q->ev.fd);
	q->ev.fd = -1;
	q->ev.handler = NULL;
	q->ready = 0;
	q->inlen = 0;
	q->outlen = 0;
}

/* EOF or an error: the owner hears of it, and may free q. */
static void
qmp_drop(struct qmp *q)
{
	void	(*on_close)(struct qmp *) = q->on_close;

	qmp_shut(q);
	if (on_close != NULL)
		on_close(q);
}

/* What epoll should tell: always input, EPOLLOUT while output waits. */
static int
qmp_want(struct qmp *q, uint32_t events)
{
	event_del(&q->ev);
	if (event_add(&q->ev, events) == -1) {
		log_warn("qmp: epoll");
		return -1;
	}
	return 0;
}

/*
 * Writes what waits in q->out, once negotiated. Whatever the socket does
 * not take now stays, and EPOLLOUT says when it will. -1: the connection
 * is broken (the caller drops it, or lets the event loop find out).
 */
static int
qmp_flush(struct qmp *q)
{
	ssize_t	 n;

	while (q->ready && q->outlen > 0) {
		n = send(q->ev.fd, q->out, q->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return qmp_want(q, EPOLLIN | EPOLLOUT);
		if (n == -1)
			return -1;
		memmove(q->out, q->out + n, q->outlen - n);
		q->outlen -= n;
	}
	return 0;
}

/*
 * The protocol's own steps, before the owner sees the message: the
 * greeting asks for the negotiation, its return makes the connection
 * ready and lets the queued commands go. -1: q was dropped.
 */
static int
qmp_step(struct qmp *q, const struct qmp_msg *m)
{
	size_t	 len = sizeof(CAPABILITIES) - 1;
	ssize_t	 n;

	if (q->ready)
		return 0;
	switch (m->kind) {
	case QMP_GREETING:
		/*
		 * Nothing was written before: the socket's buffer takes these
		 * few bytes whole, or the connection is no good.
		 */
		do
			n = send(q->ev.fd, CAPABILITIES, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		if (n == (ssize_t)len)
			return 0;
		if (n == -1)
			log_warn("qmp: qmp_capabilities");
		else
			log_warnx("qmp: qmp_capabilities: short write");
		break;
	case QMP_RETURN:
		if (m->id != -1)
			return 0;
		q->ready = 1;
		if (qmp_flush(q) == 0)
			return 0;
		log_warn("qmp: write");
		break;
	case QMP_ERROR:
		if (m->id != -1)
			return 0;
		log_warnx("qmp: qmp_capabilities: %s", m->error);
		break;
	case QMP_EVENT:
		return 0;
	}
	qmp_drop(q);
	return -1;
}

/* One line, without its "\n". -1: q is closed, or is another connection. */
static int
qmp_line(struct qmp *q, const char *line, size_t len)
{
	struct qmp_msg	 m;
	char		 head[41], quoted[48];
	size_t		 i, inlen = q->inlen;

	for (i = 0; i < len && json_space(line[i]); i++)
		;
	if (i == len)
		return 0;
	if (qmp_parse(line, len, &m) == -1) {
		i = len < sizeof(head) - 1 ? len : sizeof(head) - 1;
		memcpy(head, line, i);
		head[i] = '\0';
		log_warnx("qmp: not a QMP message (%zu bytes): %s", len,
		    str_quote(head, quoted, sizeof(quoted)));
		return 0;
	}
	if (qmp_step(q, &m) == -1)
		return -1;
	if (q->on_msg != NULL) {
		q->on_msg(q, &m);
		/* closed (inlen 0), or closed and opened again (inlen 0 too) */
		if (!qmp_is_open(q) || q->inlen != inlen)
			return -1;
	}
	return 0;
}

static void
qmp_input(struct qmp *q)
{
	ssize_t	 n;
	size_t	 start = 0;
	char	*nl;

	n = read(q->ev.fd, q->in + q->inlen, sizeof(q->in) - q->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n == -1) {
		log_warn("qmp: read");
		qmp_drop(q);
		return;
	}
	if (n == 0) {
		qmp_drop(q);
		return;
	}
	q->inlen += n;
	while ((nl = memchr(q->in + start, '\n', q->inlen - start)) != NULL) {
		if (qmp_line(q, q->in + start, nl - (q->in + start)) == -1)
			return;
		start = nl + 1 - q->in;
	}
	memmove(q->in, q->in + start, q->inlen - start);
	q->inlen -= start;
	if (q->inlen == sizeof(q->in)) {
		log_warnx("qmp: a line over %d bytes", QMP_LINE_MAX);
		qmp_drop(q);
	}
}

static void
qmp_handler(struct event *ev, uint32_t events)
{
	struct qmp	*q = ev->arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (events & EPOLLERR) {
		if (getsockopt(ev->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			errno = err;
			log_warn("qmp: socket");
			qmp_drop(q);
			return;
		}
	}
	if (events & EPOLLOUT) {
		/* connected, or room for what waits */
		if (qmp_flush(q) == -1) {
			log_warn("qmp: write");
			qmp_drop(q);
			return;
		}
		if ((!q->ready || q->outlen == 0) && qmp_want(q, EPOLLIN) == -1) {
			qmp_drop(q);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		qmp_input(q);
}

/*
 * Connects to QEMU's QMP socket. -1 with ENOENT or ECONNREFUSED (EAGAIN:
 * its backlog is full) when QEMU is not listening yet: try again later.
 * Commands already queued stay queued. EBUSY: q is open.
 */
int
qmp_open(struct qmp *q, const char *path)
{
	struct sockaddr_un	 sa;
	int			 fd, saved, connecting = 0;

	if (qmp_is_open(q)) {
		errno = EBUSY;
		return -1;
	}
	if (unix_addr(&sa, path) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		if (errno != EINPROGRESS && errno != EINTR)
			goto fail;
		connecting = 1;
	}
	q->ev.fd = fd;
	q->ev.handler = qmp_handler;
	q->ev.arg = q;
	q->ready = 0;
	q->inlen = 0;
	if (event_add(&q->ev, EPOLLIN | (connecting ? EPOLLOUT : 0)) == -1) {
		q->ev.fd = -1;
		q->ev.handler = NULL;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Queues {"execute": NAME, "id": N}, sent now if the connection is ready,
 * else after the negotiation. Returns the id, 0 and up. -1: EINVAL (a
 * name that is not 1-64 of [A-Za-z0-9_-]), ENOSPC (q->out is full).
 */
int
qmp_command(struct qmp *q, const char *execute)
{
	char	 cmd[128];
	size_t	 i;
	long	 id;
	int	 n;

	for (i = 0; execute[i] != '\0'; i++)
		if (!((execute[i] >= 'a' && execute[i] <= 'z') ||
		    (execute[i] >= 'A' && execute[i] <= 'Z') ||
		    (execute[i] >= '0' && execute[i] <= '9') ||
		    execute[i] == '_' || execute[i] == '-'))
			break;
	if (i == 0 || i > COMMAND_MAX || execute[i] != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (q->next_id < 0 || q->next_id >= INT_MAX)
		q->next_id = 0;
	id = q->next_id;
	n = snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\",\"id\":%ld}\n", execute, id);
	if (n < 0 || (size_t)n >= sizeof(cmd) || (size_t)n > sizeof(q->out) - q->outlen) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(q->out + q->outlen, cmd, n);
	q->outlen += n;
	q->next_id++;
	/* a broken connection: its EOF or error comes through the loop */
	if (qmp_is_open(q))
		qmp_flush(q);
	return (int)id;
}

/* Closes the connection, if open, and forgets queued commands; no on_close. */
void
qmp_close(struct qmp *q)
{
	if (qmp_is_open(q))
		qmp_shut(q);
	q->ready = 0;
	q->inlen = 0;
	q->outlen = 0;
}
