#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"

/* What QEMU 10 says, as it says it (without the "\r\n"). */
#define GREETING	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, " \
			"\"major\": 10}, \"package\": \"Debian 1:10.0.2+ds-2\"}, " \
			"\"capabilities\": [\"oob\"]}}"
#define TS		"\"timestamp\": {\"seconds\": 1735689600, \"microseconds\": 417269}"
#define SHUTDOWN_GUEST	"{" TS ", \"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, " \
			"\"reason\": \"guest-shutdown\"}}"
#define SHUTDOWN_HOST	"{" TS ", \"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, " \
			"\"reason\": \"host-signal\"}}"
#define POWERDOWN	"{" TS ", \"event\": \"POWERDOWN\"}"
#define CAPABILITIES	"{\"execute\":\"qmp_capabilities\"}"

/* The line is copied to the heap without a NUL: the parser must not need one. */
static int
parse_n(const char *line, size_t len, struct qmp_msg *m)
{
	char	*buf = malloc(len ? len : 1);
	int	 rv;

	assert_non_null(buf);
	memcpy(buf, line, len);
	rv = qmp_parse(buf, len, m);
	free(buf);
	return rv;
}

static int
parse(const char *line, struct qmp_msg *m)
{
	return parse_n(line, strlen(line), m);
}

static void
qmp_parse_replies(void **state)
{
	struct qmp_msg	 m;

	(void)state;
	assert_int_equal(parse(GREETING "\r\n", &m), 0);
	assert_int_equal(m.kind, QMP_GREETING);
	assert_int_equal(m.id, -1);
	assert_int_equal(parse("{\"QMP\": {\"version\": {}, \"capabilities\": []}}", &m), 0);
	assert_int_equal(m.kind, QMP_GREETING);

	assert_int_equal(parse("{\"return\": {}}\r\n", &m), 0);
	assert_int_equal(m.kind, QMP_RETURN);
	assert_int_equal(m.id, -1);
	assert_int_equal(parse("{\"return\": {}, \"id\": 0}", &m), 0);
	assert_int_equal(m.kind, QMP_RETURN);
	assert_int_equal(m.id, 0);
	assert_int_equal(parse("{\"return\": {\"status\": \"running\", \"singlestep\": false,"
	    " \"running\": true}, \"id\": 3}", &m), 0);
	assert_int_equal(m.kind, QMP_RETURN);
	assert_int_equal(m.id, 3);
	assert_int_equal(parse("{\"id\": 12, \"return\": [1, \"two\", null]}", &m), 0);
	assert_int_equal(m.id, 12);
	assert_int_equal(parse("{\"return\": \"human monitor output\\r\\n\", \"id\": 4}", &m), 0);
	assert_int_equal(m.kind, QMP_RETURN);

	/* before qmp_capabilities, and an unknown command */
	assert_int_equal(parse("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
	    "\"Expecting capabilities negotiation with 'qmp_capabilities'\"}}", &m), 0);
	assert_int_equal(m.kind, QMP_ERROR);
	assert_int_equal(m.id, -1);
	assert_string_equal(m.error, "CommandNotFound: Expecting capabilities negotiation"
	    " with 'qmp_capabilities'");
	assert_int_equal(parse("{\"id\": 7, \"error\": {\"class\": \"CommandNotFound\", "
	    "\"desc\": \"The command nosuch has not been found\"}}", &m), 0);
	assert_int_equal(m.kind, QMP_ERROR);
	assert_int_equal(m.id, 7);
	assert_string_equal(m.error, "CommandNotFound: The command nosuch has not been found");
	assert_int_equal(parse("{\"error\": {\"class\": \"GenericError\", \"desc\": "
	    "\"JSON parse error, expecting value\"}}", &m), 0);
	assert_string_equal(m.error, "GenericError: JSON parse error, expecting value");

	assert_int_equal(parse(SHUTDOWN_GUEST "\r\n", &m), 0);
	assert_int_equal(m.kind, QMP_EVENT);
	assert_string_equal(m.event, "SHUTDOWN");
	assert_int_equal(m.guest, 1);
	assert_int_equal(m.id, -1);
	assert_int_equal(parse(SHUTDOWN_HOST, &m), 0);
	assert_string_equal(m.event, "SHUTDOWN");
	assert_int_equal(m.guest, 0);
	assert_int_equal(parse("{\"event\": \"SHUTDOWN\"}", &m), 0);	/* QEMU < 2.10 */
	assert_int_equal(m.guest, 0);
	assert_int_equal(parse(POWERDOWN, &m), 0);
	assert_int_equal(m.kind, QMP_EVENT);
	assert_string_equal(m.event, "POWERDOWN");
	assert_int_equal(m.guest, 0);
	/* "guest" counts for SHUTDOWN only */
	assert_int_equal(parse("{" TS ", \"event\": \"RESET\", \"data\": {\"guest\": true,"
	    " \"reason\": \"guest-reset\"}}", &m), 0);
	assert_string_equal(m.event, "RESET");
	assert_int_equal(m.guest, 0);
	assert_int_equal(parse("{\"event\": \"BLOCK_JOB_COMPLETED\", \"data\": {\"guest\": 1}}",
	    &m), 0);
	assert_string_equal(m.event, "BLOCK_JOB_COMPLETED");
	assert_int_equal(parse("{\"event\": \"X0123456789012345678901234567890123456789"
	    "0123456789012345678901\"}", &m), 0);	/* 63 characters */
	assert_int_equal(strlen(m.event), 63);
}

static void
qmp_parse_ids(void **state)
{
	static const char *const none[] = {
		"-1", "1.5", "1e300", "-0.5", "\"1\"", "null", "true", "[1]", "{}",
		"9223372036854775807",		/* 2^63 as a double */
		"18446744073709551616", "1e19",
	};
	struct qmp_msg	 m;
	char		 line[128];
	size_t		 i;

	(void)state;
	for (i = 0; i < NTESTS(none); i++) {
		snprintf(line, sizeof(line), "{\"return\": {}, \"id\": %s}", none[i]);
		if (parse(line, &m) != 0)
			fail_msg("refused %s", line);
		if (m.kind != QMP_RETURN || m.id != -1)
			fail_msg("%s: id %ld", line, m.id);
	}
	assert_int_equal(parse("{\"return\": {}, \"id\": 2147483648}", &m), 0);
	assert_true(m.id == 2147483648L);
	assert_int_equal(parse("{\"return\": {}, \"id\": 9223372036854774784}", &m), 0);
	assert_true(m.id == 9223372036854774784L);	/* 2^63 - 1024, exact */
	assert_int_equal(parse("{\"return\": {}, \"id\": 1e3}", &m), 0);
	assert_int_equal(m.id, 1000);
	assert_int_equal(parse("{\"error\": {\"class\": \"a\", \"desc\": \"b\"}, \"id\": -3}", &m), 0);
	assert_int_equal(m.id, -1);
}

static void
qmp_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", " ", "\r\n", "{", "}", "{\"QMP\": {\"version\": ",
		"{\"return\": {}", "{\"return\": {}}}", "{\"return\": {}} {\"return\": {}}",
		"{\"return\": {}}x", "x{\"return\": {}}", "{\"return\": }",
		"[]", "[{\"return\": {}}]", "\"return\"", "42", "null", "true",
		"{}", "{\"id\": 1}", "{" TS "}", "{\"Return\": {}}", "{\"qmp\": {}}",
		"{'return': {}}",
		/* two kinds, or one twice */
		"{\"return\": {}, \"event\": \"STOP\"}", "{\"return\": {}, \"return\": {}}",
		"{\"QMP\": {}, \"error\": {\"class\": \"a\", \"desc\": \"b\"}}",
		"{\"return\": {}, \"id\": 1, \"id\": 2}",
		/* bad types */
		"{\"QMP\": []}", "{\"QMP\": \"x\"}", "{\"QMP\": null}",
		"{\"error\": \"x\"}", "{\"error\": {}}", "{\"error\": null}",
		"{\"error\": {\"class\": \"GenericError\"}}",
		"{\"error\": {\"desc\": \"x\"}}",
		"{\"error\": {\"class\": 1, \"desc\": \"x\"}}",
		"{\"error\": {\"class\": \"GenericError\", \"desc\": null}}",
		"{\"event\": 5}", "{\"event\": null}", "{\"event\": {}}", "{\"event\": [\"STOP\"]}",
		"{\"event\": \"SHUTDOWN\", \"data\": []}",
		"{\"event\": \"SHUTDOWN\", \"data\": \"guest\"}",
		"{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": \"yes\"}}",
		"{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": 1}}",
		"{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": null}}",
		"{\"event\": \"SHUTDOWN\", \"data\": {}, \"data\": {}}",
		/* event names */
		"{\"event\": \"\"}", "{\"event\": \"shutdown\"}", "{\"event\": \"SHUT DOWN\"}",
		"{\"event\": \"SHUT-DOWN\"}", "{\"event\": \"SHUT\\\"DOWN\"}",
		"{\"event\": \"SHUTDOWN\\n\"}", "{\"event\": \"SHUTDOWN\\u0000X\"}",
		"{\"event\": \"SHUTDOWN\\u00e9\"}", "{\"event\": \"../../SHUTDOWN\"}",
		"{\"event\": \"X0123456789012345678901234567890123456789"
		    "01234567890123456789012\"}",	/* 64 characters */
		/* raw control characters */
		"{\"event\": \"STOP\x01\"}", "{\"return\": {}}\x0b", "\x1b{\"return\": {}}",
		"{\"return\": \"a\tb\"}x",
	};
	struct qmp_msg	 m, before;
	char		*big;
	size_t		 i, n;

	(void)state;
	memset(&before, 0x5a, sizeof(before));
	for (i = 0; i < NTESTS(bad); i++) {
		m = before;
		errno = 0;
		if (parse(bad[i], &m) != -1 || errno != EINVAL)
			fail_msg("accepted %s", bad[i]);
		if (memcmp(&m, &before, sizeof(m)) != 0)
			fail_msg("%s: wrote the message", bad[i]);
	}
	/* a NUL inside, and one after */
	assert_int_equal(parse_n("{\"return\": {}}\0", 15, &m), -1);
	assert_int_equal(parse_n("{\"return\"\0: {}}", 15, &m), -1);
	assert_int_equal(qmp_parse(NULL, 0, &m), -1);

	/* QMP_LINE_MAX bytes are fine, one more is not */
	assert_non_null(big = malloc(QMP_LINE_MAX + 1));
	n = snprintf(big, QMP_LINE_MAX, "{\"return\": \"");
	memset(big + n, 'a', QMP_LINE_MAX - n - 2);
	memcpy(big + QMP_LINE_MAX - 2, "\"}", 2);
	assert_int_equal(parse_n(big, QMP_LINE_MAX, &m), 0);
	assert_int_equal(m.kind, QMP_RETURN);
	memcpy(big + QMP_LINE_MAX - 2, "a\"}", 3);
	assert_int_equal(parse_n(big, QMP_LINE_MAX + 1, &m), -1);
	assert_int_equal(errno, EINVAL);
	/* deeper than cJSON goes */
	n = snprintf(big, QMP_LINE_MAX, "{\"return\": ");
	for (i = 0; i < 2000; i++)
		big[n++] = '[';
	for (i = 0; i < 2000; i++)
		big[n++] = ']';
	big[n++] = '}';
	assert_int_equal(parse_n(big, n, &m), -1);
	free(big);
}

static void
qmp_parse_error_text(void **state)
{
	struct qmp_msg	 m;
	char		 line[1024], desc[400];
	size_t		 i;

	(void)state;
	memset(desc, 'x', 300);
	desc[300] = '\0';
	snprintf(line, sizeof(line), "{\"error\": {\"class\": \"GenericError\", \"desc\": "
	    "\"bad\\nline \\u00e9\\t%s\"}, \"id\": 9}", desc);
	assert_int_equal(parse(line, &m), 0);
	assert_int_equal(m.kind, QMP_ERROR);
	assert_int_equal(m.id, 9);
	assert_int_equal(strlen(m.error), sizeof(m.error) - 1);
	assert_memory_equal(m.error, "GenericError: bad?line ???xxx", 29);
	for (i = 0; m.error[i] != '\0'; i++)
		assert_true(m.error[i] >= 0x20 && m.error[i] < 0x7f);
}

/* --- the client, against a server played here ---------------------------- */

struct rec {
	struct qmp_msg	 msgs[16];
	size_t		 n;
	int		 closed;
	const char	*close_on;	/* qmp_close() at this event */
};

static void
rec_msg(struct qmp *q, const struct qmp_msg *m)
{
	struct rec	*r = q->arg;

	assert_true(r->n < NTESTS(r->msgs));
	r->msgs[r->n++] = *m;
	if (r->close_on != NULL && m->kind == QMP_EVENT && strcmp(m->event, r->close_on) == 0)
		qmp_close(q);
}

static void
rec_close(struct qmp *q)
{
	struct rec	*r = q->arg;

	assert_int_equal(q->ev.fd, -1);
	r->closed++;
}

static struct qmp *
client(struct rec *r)
{
	struct qmp	*q = calloc(1, sizeof(*q));

	assert_non_null(q);
	memset(r, 0, sizeof(*r));
	q->on_msg = rec_msg;
	q->on_close = rec_close;
	q->arg = r;
	return q;
}

static void
sun_of(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa->sun_path));
	memcpy(sa->sun_path, path, strlen(path));
}

static int
listen_at(const char *path)
{
	struct sockaddr_un	 sa;
	int			 fd;

	sun_of(&sa, path);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int
readable(int fd)
{
	struct pollfd	 p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1;
}

static void
srv_send(int fd, const char *s)
{
	size_t	 n = strlen(s);

	assert_int_equal(write(fd, s, n), n);
}

/* The client's next line, the event loop run meanwhile. */
static void
srv_line(int fd, char *buf, size_t size)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < 500; i++) {
		if (!readable(fd)) {
			event_once(10);
			continue;
		}
		assert_true(n + 1 < size);
		assert_int_equal(read(fd, buf + n, 1), 1);
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return;
		}
		n++;
		i = 0;
	}
	fail_msg("no line from the client");
}

/* Runs the loop until *v reaches want, or a second passes. */
static void
drive(const void *v, size_t size, size_t want)
{
	size_t	 now;
	int	 i;

	for (i = 0; i < 100; i++) {
		now = size == sizeof(int) ? (size_t)*(const int *)v : *(const size_t *)v;
		if (now >= want)
			return;
		event_once(10);
	}
	fail_msg("waited in vain for %zu", want);
}
#define DRIVE(v, want)	drive(&(v), sizeof(v), (want))

static void
pump(int n)
{
	while (n-- > 0)
		event_once(5);
}

/* Connected and negotiated, nothing queued. */
static int
ready_client(struct qmp *q, int lfd, const char *path)
{
	char	 line[256];
	int	 sfd;

	assert_int_equal(qmp_open(q, path), 0);
	assert_true((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	srv_send(sfd, GREETING "\r\n");
	srv_line(sfd, line, sizeof(line));
	assert_string_equal(line, CAPABILITIES);
	srv_send(sfd, "{\"return\": {}}\r\n");
	DRIVE(q->ready, 1);
	return sfd;
}

static void
qmp_client_session(void **state)
{
	struct rec	 r;
	struct qmp	*q = client(&r);
	char		*dir = tmpdir(), path[4096], line[256], *log;
	int		 lfd, sfd, logfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	lfd = listen_at(path);
	assert_int_equal(qmp_open(q, path), 0);
	errno = 0;
	assert_int_equal(qmp_open(q, path), -1);
	assert_int_equal(errno, EBUSY);
	assert_true((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	/* queued: nothing goes before the greeting */
	assert_int_equal(qmp_command(q, "system_powerdown"), 0);
	pump(5);
	assert_false(readable(sfd));

	srv_send(sfd, GREETING "\r\n");
	srv_line(sfd, line, sizeof(line));
	assert_string_equal(line, CAPABILITIES);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.msgs[0].kind, QMP_GREETING);
	assert_int_equal(q->ready, 0);
	/* and the command waits for the capabilities' return */
	pump(5);
	assert_false(readable(sfd));

	srv_send(sfd, "{\"return\": {}}\r\n");
	srv_line(sfd, line, sizeof(line));
	assert_string_equal(line, "{\"execute\":\"system_powerdown\",\"id\":0}");
	assert_int_equal(q->ready, 1);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.msgs[1].kind, QMP_RETURN);
	assert_int_equal(r.msgs[1].id, -1);
	assert_int_equal(q->outlen, 0);

	/* ready: a command goes at once */
	assert_int_equal(qmp_command(q, "query-status"), 1);
	assert_true(readable(sfd));
	srv_line(sfd, line, sizeof(line));
	assert_string_equal(line, "{\"execute\":\"query-status\",\"id\":1}");

	/* several lines in one write, one that does not parse, one in pieces */
	logfd = log_capture();
	srv_send(sfd, "{\"return\": {}, \"id\": 0}\r\n" POWERDOWN "\r\n"
	    "garbage\x01 in the pipe\r\n\r\n{" TS ", \"event\": \"SHUT");
	DRIVE(r.n, 4);
	pump(3);
	assert_int_equal(r.n, 4);
	srv_send(sfd, "DOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r");
	pump(3);
	assert_int_equal(r.n, 4);
	srv_send(sfd, "\n");
	DRIVE(r.n, 5);
	log = log_captured(logfd);
	assert_non_null(strstr(log, "qmp: not a QMP message (21 bytes): garbage? in the pipe"));
	free(log);
	assert_int_equal(r.msgs[2].kind, QMP_RETURN);
	assert_int_equal(r.msgs[2].id, 0);
	assert_int_equal(r.msgs[3].kind, QMP_EVENT);
	assert_string_equal(r.msgs[3].event, "POWERDOWN");
	assert_int_equal(r.msgs[4].kind, QMP_EVENT);
	assert_string_equal(r.msgs[4].event, "SHUTDOWN");
	assert_int_equal(r.msgs[4].guest, 1);
	assert_int_equal(r.closed, 0);

	/* QEMU exits: a last event, then EOF */
	srv_send(sfd, SHUTDOWN_HOST "\r\n");
	close(sfd);
	DRIVE(r.closed, 1);
	assert_int_equal(r.n, 6);
	assert_int_equal(r.msgs[5].guest, 0);
	assert_int_equal(q->ev.fd, -1);
	assert_int_equal(q->ready, 0);
	qmp_close(q);			/* closed already: nothing */
	pump(3);
	assert_int_equal(r.closed, 1);

	/* again, a new QEMU: ids go on; qmp_close() says nothing to on_close */
	sfd = ready_client(q, lfd, path);
	assert_int_equal(qmp_command(q, "system_powerdown"), 2);
	srv_line(sfd, line, sizeof(line));
	assert_string_equal(line, "{\"execute\":\"system_powerdown\",\"id\":2}");
	qmp_close(q);
	assert_int_equal(q->ev.fd, -1);
	pump(3);
	assert_int_equal(read(sfd, line, sizeof(line)), 0);	/* EOF */
	assert_int_equal(r.closed, 1);
	close(sfd);

	close(lfd);
	free(q);
	rmtree(dir);
}

/* on_msg closes the connection in the middle of a read: the rest is dropped. */
static void
qmp_client_close_in_msg(void **state)
{
	struct rec	 r;
	struct qmp	*q = client(&r);
	char		*dir = tmpdir(), path[4096];
	int		 lfd, sfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	lfd = listen_at(path);
	sfd = ready_client(q, lfd, path);
	r.close_on = "POWERDOWN";
	srv_send(sfd, "{\"event\": \"STOP\"}\r\n" POWERDOWN "\r\n" SHUTDOWN_GUEST "\r\n");
	DRIVE(r.n, 4);
	pump(5);
	assert_int_equal(r.n, 4);	/* greeting, return, STOP, POWERDOWN */
	assert_string_equal(r.msgs[3].event, "POWERDOWN");
	assert_int_equal(r.closed, 0);
	assert_int_equal(q->ev.fd, -1);
	close(sfd);
	close(lfd);
	free(q);
	rmtree(dir);
}

static void
qmp_client_long_line(void **state)
{
	struct rec	 r;
	struct qmp	*q = client(&r);
	char		*dir = tmpdir(), path[4096], *big, line[256];
	int		 lfd, sfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	lfd = listen_at(path);
	assert_int_equal(qmp_open(q, path), 0);
	assert_true((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	srv_send(sfd, GREETING "\r\n");
	srv_line(sfd, line, sizeof(line));
	/* a line just under the limit is fine */
	assert_non_null(big = malloc(QMP_LINE_MAX + 2));
	memset(big, ' ', QMP_LINE_MAX + 1);
	memcpy(big, "{\"return\": {}}", 14);
	big[QMP_LINE_MAX - 1] = '\n';
	big[QMP_LINE_MAX] = '\0';
	srv_send(sfd, big);
	DRIVE(r.n, 2);
	assert_int_equal(q->ready, 1);
	/* one over it: dropped */
	big[QMP_LINE_MAX - 1] = ' ';
	big[QMP_LINE_MAX] = '\n';
	big[QMP_LINE_MAX + 1] = '\0';
	srv_send(sfd, big);
	DRIVE(r.closed, 1);
	assert_int_equal(r.n, 2);
	assert_int_equal(q->ev.fd, -1);
	free(big);
	close(sfd);
	close(lfd);
	free(q);
	rmtree(dir);
}

/* A server that does not read: commands wait in q->out, then q->out is full. */
static void
qmp_client_backpressure(void **state)
{
	struct rec	 r;
	struct qmp	*q = client(&r);
	char		*dir = tmpdir(), path[4096], line[256], want[64];
	int		 lfd, sfd, id, n, busy, i, sz = 1;

	(void)state;
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	lfd = listen_at(path);
	sfd = ready_client(q, lfd, path);
	assert_int_equal(setsockopt(q->ev.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	for (n = 0; n < 100000; n++) {
		if ((id = qmp_command(q, "query-status")) == -1)
			break;
		assert_int_equal(id, n);
	}
	assert_int_equal(errno, ENOSPC);
	assert_true(q->outlen > sizeof(q->out) - 40);
	/* the server reads: everything comes, in order */
	for (i = 0; i < n; i++) {
		srv_line(sfd, line, sizeof(line));
		snprintf(want, sizeof(want), "{\"execute\":\"query-status\",\"id\":%d}", i);
		assert_string_equal(line, want);
	}
	assert_int_equal(q->outlen, 0);
	pump(2);
	assert_false(readable(sfd));
	/* and EPOLLOUT is off again: the loop does not spin */
	for (busy = i = 0; i < 20; i++)
		busy += event_once(0);
	assert_true(busy < 20);
	assert_int_equal(qmp_command(q, "cont"), n);
	srv_line(sfd, line, sizeof(line));
	assert_int_equal(r.closed, 0);
	qmp_close(q);
	close(sfd);
	close(lfd);
	free(q);
	rmtree(dir);
}

static void
qmp_client_errors(void **state)
{
	struct rec	 r;
	struct qmp	*q = client(&r);
	struct sockaddr_un sa;
	char		*dir = tmpdir(), path[4096], line[256], *log, name[80];
	int		 fd, lfd, sfd, logfd;

	(void)state;
	/* not there yet */
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	errno = 0;
	assert_int_equal(qmp_open(q, path), -1);
	assert_int_equal(errno, ENOENT);
	/* there, nobody listening */
	sun_of(&sa, path);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	errno = 0;
	assert_int_equal(qmp_open(q, path), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	assert_int_equal(qmp_open(q, path), -1);
	assert_int_equal(errno, ECONNREFUSED);
	unlink(path);
	memset(path + strlen(dir), 'x', 200);
	path[strlen(dir) + 200] = '\0';
	assert_int_equal(qmp_open(q, path), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_true(q->ev.handler == NULL);
	qmp_close(q);			/* never opened: nothing */

	/* commands: names only, and a full queue says so */
	assert_int_equal(qmp_command(q, ""), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(qmp_command(q, "quit\",\"arguments\":{}"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(qmp_command(q, "a b"), -1);
	memset(name, 'a', 65);
	name[65] = '\0';
	assert_int_equal(qmp_command(q, name), -1);
	assert_int_equal(errno, EINVAL);
	name[64] = '\0';
	assert_int_equal(qmp_command(q, name), 0);
	q->next_id = INT_MAX;
	assert_int_equal(qmp_command(q, "stop"), 0);	/* wraps */
	assert_int_equal(q->next_id, 1);
	qmp_close(q);			/* forgets the queue */
	assert_int_equal(q->outlen, 0);

	/* the negotiation fails: dropped */
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	lfd = listen_at(path);
	assert_int_equal(qmp_open(q, path), 0);
	assert_true((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	logfd = log_capture();
	srv_send(sfd, GREETING "\r\n");
	srv_line(sfd, line, sizeof(line));
	srv_send(sfd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\r\n");
	DRIVE(r.closed, 1);
	log = log_captured(logfd);
	assert_non_null(strstr(log, "qmp: qmp_capabilities: GenericError: nope"));
	free(log);
	assert_int_equal(r.n, 1);
	close(sfd);

	/* EOF before the greeting */
	assert_int_equal(qmp_open(q, path), 0);
	assert_true((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	close(sfd);
	DRIVE(r.closed, 2);
	assert_int_equal(r.n, 1);

	close(lfd);
	free(q);
	rmtree(dir);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(qmp_parse_replies),
	cmocka_unit_test(qmp_parse_ids),
	cmocka_unit_test(qmp_parse_bad),
	cmocka_unit_test(qmp_parse_error_text),
	cmocka_unit_test(qmp_client_session),
	cmocka_unit_test(qmp_client_close_in_msg),
	cmocka_unit_test(qmp_client_long_line),
	cmocka_unit_test(qmp_client_backpressure),
	cmocka_unit_test(qmp_client_errors),
};

const struct suite qmp_suite = { tests, NTESTS(tests) };
