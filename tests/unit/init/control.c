/*
 * The control socket: the request parser, the server end to end on a
 * socket in a temporary directory with fake guests (struct control_ops),
 * and the nestbox command in a child process against that server.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "unit.h"

/* --- the parser ---------------------------------------------------------- */

static void
parse_good(void **state)
{
	static const struct {
		const char	*line, *verb, *name;
	} t[] = {
		{ "status\n", "status", NULL },
		{ "status web\n", "status", "web" },
		{ "list\n", "list", NULL },
		{ "logs web\n", "logs", "web" },
		{ "restart a\n", "restart", "a" },
		{ "stop a-1\n", "stop", "a-1" },
		{ "start web\n", "start", "web" },
		{ "reload\n", "reload", NULL },
		{ "console db-2\n", "console", "db-2" },
		{ "list\r\n", "list", NULL },
		{ "stop web\r\n", "stop", "web" },
		{ "  stop \t web  \n", "stop", "web" },
		{ "logs a12345678901234567890123456789012345678901234567890123456789012\n",
		  "logs", "a12345678901234567890123456789012345678901234567890123456789012" },
	};
	const char	*verb, *name;
	char		 err[160], *line;
	size_t		 i;

	(void)state;
	for (i = 0; i < NTESTS(t); i++) {
		line = dupstr(t[i].line);
		if (control_parse(line, strlen(line), &verb, &name, err, sizeof(err)) == -1)
			fail_msg("%s: %s", t[i].line, err);
		assert_string_equal(verb, t[i].verb);
		if (t[i].name == NULL)
			assert_null(name);
		else
			assert_string_equal(name, t[i].name);
		free(line);
	}
}

static void
parse_longest(void **state)
{
	const char	*verb, *name;
	char		 line[CONTROL_LINE_MAX + 1], err[160];

	(void)state;
	/* "status", spaces and the newline: CONTROL_LINE_MAX bytes, accepted */
	memset(line, ' ', CONTROL_LINE_MAX);
	memcpy(line, "status", 6);
	line[CONTROL_LINE_MAX - 1] = '\n';
	assert_int_equal(control_parse(line, CONTROL_LINE_MAX, &verb, &name, err,
	    sizeof(err)), 0);
	assert_string_equal(verb, "status");
	assert_null(name);
	/* one byte more is refused */
	memset(line, ' ', CONTROL_LINE_MAX + 1);
	memcpy(line, "status", 6);
	line[CONTROL_LINE_MAX] = '\n';
	assert_int_equal(control_parse(line, CONTROL_LINE_MAX + 1, &verb, &name, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, "request longer than 256 bytes");
}

static void
parse_bad(void **state)
{
	static const struct {
		const char	*line;
		size_t		 len;		/* 0: strlen */
		const char	*err;
	} t[] = {
		{ "", 0, "request does not end with a newline" },
		{ "list", 0, "request does not end with a newline" },
		{ "\n", 0, "empty request" },
		{ " \t \n", 0, "empty request" },
		{ "\r\n", 0, "empty request" },
		{ "foo\n", 0, "unknown command \"foo\"" },
		{ "STATUS\n", 0, "unknown command \"STATUS\"" },
		{ "status-all\n", 0, "unknown command \"status-all\"" },
		{ "list web\n", 0, "list takes no argument" },
		{ "reload now\n", 0, "reload takes no argument" },
		{ "stop\n", 0, "stop needs a guest name" },
		{ "logs\n", 0, "logs needs a guest name" },
		{ "console\n", 0, "console needs a guest name" },
		{ "stop a b\n", 0, "stop takes one guest name" },
		{ "status a b\n", 0, "status takes at most one guest name" },
		{ "stop Web\n", 0,
		  "\"Web\" is not a valid guest name ([a-z][a-z0-9-]{0,62})" },
		{ "start 1web\n", 0,
		  "\"1web\" is not a valid guest name ([a-z][a-z0-9-]{0,62})" },
		{ "logs web_1\n", 0,
		  "\"web_1\" is not a valid guest name ([a-z][a-z0-9-]{0,62})" },
		{ "status -web\n", 0,
		  "\"-web\" is not a valid guest name ([a-z][a-z0-9-]{0,62})" },
		{ "console ../web\n", 0,
		  "\"../web\" is not a valid guest name ([a-z][a-z0-9-]{0,62})" },
		{ "logs a123456789012345678901234567890123456789012345678901234567890123\n", 0,
		  "\"a123456789012345678901234567890123456789...\" is not a valid guest "
		  "name ([a-z][a-z0-9-]{0,62})" },
		{ "stop we\0b\n", 10,
		  "request has a byte that is not printable ASCII (0x00 at 7)" },
		{ "\0list\n", 6,
		  "request has a byte that is not printable ASCII (0x00 at 0)" },
		{ "stop\rweb\n", 0,
		  "request has a byte that is not printable ASCII (0x0d at 4)" },
		{ "stop web\r\r\n", 0,
		  "request has a byte that is not printable ASCII (0x0d at 8)" },
		{ "list\n\n", 0,
		  "request has a byte that is not printable ASCII (0x0a at 4)" },
		{ "stop w\xc3\xa9" "b\n", 0,
		  "request has a byte that is not printable ASCII (0xc3 at 6)" },
		{ "stop \x1b[2J\n", 0,
		  "request has a byte that is not printable ASCII (0x1b at 5)" },
		{ "list\x7f\n", 0,
		  "request has a byte that is not printable ASCII (0x7f at 4)" },
	};
	const char	*verb, *name;
	char		 err[160], *line;
	size_t		 i, len;

	(void)state;
	for (i = 0; i < NTESTS(t); i++) {
		len = t[i].len ? t[i].len : strlen(t[i].line);
		assert_non_null(line = malloc(len + 1));
		memcpy(line, t[i].line, len + 1);
		err[0] = '\0';
		errno = 0;
		if (control_parse(line, len, &verb, &name, err, sizeof(err)) != -1)
			fail_msg("accepted: \"%s\"", t[i].line);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(err, t[i].err);
		assert_null(verb);
		assert_null(name);
		free(line);
	}
}

/* --- the server ---------------------------------------------------------- */

static struct {
	char	 action[64];		/* "stop web" */
	int	 reloads;
	char	 logpath[4096];
	void	(*fn)(void *, const char *, size_t);
	void	*arg;
	int	 attaches, detaches;
	char	 written[256];		/* console input */
	size_t	 nwritten;
	int	 write_error;		/* console_write fails with it */
} fake;

static char	*dir, sock[256];

static char *
fake_status(const char *name)
{
	if (name == NULL)
		return dupstr("{\"guests\":[\"web\"]}");
	if (strcmp(name, "web") == 0)
		return dupstr("{\"name\":\"web\",\"state\":\"running\"}\n");
	errno = ENOENT;
	return NULL;
}

static char *
fake_list(void)
{
	return dupstr("web  running\ndb   stopped\n");
}

static int
fake_action(const char *name, const char *verb)
{
	if (strcmp(name, "web") != 0) {
		errno = ENOENT;
		return -1;
	}
	if (strcmp(verb, "start") == 0) {	/* running already, say */
		errno = EALREADY;
		return -1;
	}
	snprintf(fake.action, sizeof(fake.action), "%s %s", verb, name);
	return 0;
}

static int
fake_log_path(const char *name, char *buf, size_t size)
{
	if (strcmp(name, "web") != 0) {
		errno = ENOENT;
		return -1;
	}
	snprintf(buf, size, "%s", fake.logpath);
	return 0;
}

static int
fake_attach(const char *name, void (*fn)(void *, const char *, size_t), void *arg)
{
	if (strcmp(name, "web") != 0) {
		errno = ENOENT;
		return -1;
	}
	fake.fn = fn;
	fake.arg = arg;
	fake.attaches++;
	return 0;
}

static void
fake_detach(const char *name, void *arg)
{
	assert_string_equal(name, "web");
	assert_ptr_equal(arg, fake.arg);
	fake.fn = NULL;
	fake.detaches++;
}

static int
fake_write(const char *name, const void *buf, size_t len)
{
	assert_string_equal(name, "web");
	if (fake.write_error) {
		errno = fake.write_error;
		return -1;
	}
	assert_true(fake.nwritten + len < sizeof(fake.written));
	memcpy(fake.written + fake.nwritten, buf, len);
	fake.nwritten += len;
	return 0;
}

static void
fake_reload(void)
{
	fake.reloads++;
}

static const struct control_ops fake_ops = {
	fake_status, fake_list, fake_action, fake_log_path, fake_attach,
	fake_detach, fake_write, fake_reload,
};

static int
setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	dir = tmpdir();
	snprintf(sock, sizeof(sock), "%s/run/control.sock", dir);
	snprintf(fake.logpath, sizeof(fake.logpath), "%s/console.log", dir);
	control_timeout_ms = 5000;
	assert_int_equal(control_init(&fake_ops, sock), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	control_timeout_ms = 5000;
	/* closes what a failed test left, before its directory goes */
	assert_int_equal(control_init(&fake_ops, sock), 0);
	rmtree(dir);
	return 0;
}

/* Runs the event loop for about ms. */
static void
drive(int ms)
{
	uint64_t	 start = now_ms();

	while (now_ms() - start < (uint64_t)ms)
		event_once(10);
}

static int
client(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(sock) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void
say(int fd, const char *s, size_t len)
{
	assert_int_equal(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* What the server sends until it closes, driving the loop; *len: its size. */
static char *
hear(int fd, size_t *len)
{
	uint64_t	 start = now_ms();
	size_t		 n = 0, cap = 4096;
	char		*buf = malloc(cap + 1), *p;
	ssize_t		 r;

	assert_non_null(buf);
	for (;;) {
		r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r == -1) {
			if (errno != EAGAIN)
				fail_msg("recv: %s", strerror(errno));
			assert_true(now_ms() - start < 10000);
			event_once(10);
			continue;
		}
		n += r;
		if (n == cap) {
			cap *= 2;
			assert_non_null(p = realloc(buf, cap + 1));
			buf = p;
		}
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* One request, its whole reply. */
static char *
ask(const char *line)
{
	char	*r;
	int	 fd = client();

	say(fd, line, strlen(line));
	r = hear(fd, NULL);
	close(fd);
	return r;
}

static void
expect(const char *line, const char *reply)
{
	char	*r = ask(line);

	assert_string_equal(r, reply);
	free(r);
}

static void
server_socket(void **state)
{
	struct stat	 st;

	(void)state;
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a stale socket is replaced, anything else is left alone */
	assert_int_equal(control_init(&fake_ops, sock), 0);
	expect("list\n", "ok\nweb  running\ndb   stopped\n");
	put_file(dir, "file", "not a socket");
	snprintf(sock, sizeof(sock), "%s/file", dir);
	assert_int_equal(control_init(&fake_ops, sock), -1);
	assert_int_equal(errno, EEXIST);
	snprintf(sock, sizeof(sock), "%s/run/control.sock", dir);
	assert_int_equal(control_init(NULL, sock), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(control_init(&fake_ops, sock), 0);
}

static void
server_requests(void **state)
{
	(void)state;
	expect("status web\n", "ok\n{\"name\":\"web\",\"state\":\"running\"}\n");
	expect("status\n", "ok\n{\"guests\":[\"web\"]}\n");	/* a newline added */
	expect("status db\n", "error: no guest named db\n");
	expect("list\n", "ok\nweb  running\ndb   stopped\n");
	expect("list\r\n", "ok\nweb  running\ndb   stopped\n");
	expect("stop web\n", "ok\n");
	assert_string_equal(fake.action, "stop web");
	expect("restart web\n", "ok\n");
	assert_string_equal(fake.action, "restart web");
	expect("restart db\n", "error: no guest named db\n");
	expect("start web\n", "error: start web: Operation already in progress\n");
	assert_string_equal(fake.action, "restart web");
	expect("reload\n", "ok\n");
	assert_int_equal(fake.reloads, 1);
	expect("foo\n", "error: unknown command \"foo\"\n");
	expect("stop Web\n",
	    "error: \"Web\" is not a valid guest name ([a-z][a-z0-9-]{0,62})\n");
	expect("stop\n", "error: stop needs a guest name\n");
	expect("list web\n", "error: list takes no argument\n");
	expect("console db\n", "error: no guest named db\n");
	expect("logs db\n", "error: no guest named db\n");
	expect("logs web\n", "error: guest web has no log yet\n");
	assert_int_equal(fake.attaches, 0);
}

static void
server_request_in_pieces(void **state)
{
	char	*r;
	int	 fd = client();

	(void)state;
	say(fd, "sto", 3);
	drive(30);
	say(fd, "p w", 3);
	drive(30);
	assert_string_equal(fake.action, "");
	say(fd, "eb\n", 3);
	r = hear(fd, NULL);
	assert_string_equal(r, "ok\n");
	assert_string_equal(fake.action, "stop web");
	free(r);
	close(fd);
}

static void
server_bad_input(void **state)
{
	char	 line[400], *r;
	int	 fd;

	(void)state;
	/* a NUL byte inside the line */
	fd = client();
	say(fd, "stop we\0b\n", 10);
	r = hear(fd, NULL);
	assert_string_equal(r, "error: request has a byte that is not printable ASCII "
	    "(0x00 at 7)\n");
	free(r);
	close(fd);
	/* no newline in CONTROL_LINE_MAX bytes */
	fd = client();
	memset(line, 'a', sizeof(line));
	say(fd, line, sizeof(line));
	r = hear(fd, NULL);
	assert_string_equal(r, "error: request longer than 256 bytes\n");
	free(r);
	close(fd);
	/* the end before the newline */
	fd = client();
	say(fd, "list", 4);
	shutdown(fd, SHUT_WR);
	r = hear(fd, NULL);
	assert_string_equal(r, "error: request does not end with a newline\n");
	free(r);
	close(fd);
	/* nothing at all: closed without a word */
	fd = client();
	shutdown(fd, SHUT_WR);
	r = hear(fd, NULL);
	assert_string_equal(r, "");
	free(r);
	close(fd);
}

static void
server_timeout(void **state)
{
	uint64_t	 start;
	char		*r;
	int		 fd, quick;

	(void)state;
	control_timeout_ms = 100;
	fd = client();
	say(fd, "sta", 3);		/* and then nothing */
	start = now_ms();
	r = hear(fd, NULL);
	assert_true(now_ms() - start >= 90);
	assert_string_equal(r, "error: no request within 100 ms\n");
	free(r);
	close(fd);
	/* a request in time is not cut */
	quick = client();
	say(quick, "list\n", 5);
	r = hear(quick, NULL);
	assert_string_equal(r, "ok\nweb  running\ndb   stopped\n");
	free(r);
	close(quick);
}

static void
server_busy(void **state)
{
	int	 fds[17], i;
	char	*r;

	(void)state;
	for (i = 0; i < 16; i++)
		fds[i] = client();
	drive(50);
	fds[16] = client();		/* one too many: refused */
	drive(50);
	r = hear(fds[16], NULL);
	assert_string_equal(r, "error: busy, try again\n");
	free(r);
	close(fds[16]);
	for (i = 0; i < 16; i++) {
		say(fds[i], "list\n", 5);
		r = hear(fds[i], NULL);
		assert_string_equal(r, "ok\nweb  running\ndb   stopped\n");
		free(r);
		close(fds[i]);
	}
	expect("reload\n", "ok\n");	/* the slots are free again */
}

/* A log of n numbered lines; returns its text. */
static char *
make_log(size_t lines)
{
	size_t	 i, n = 0, cap = lines * 48 + 1;
	char	*text = malloc(cap);
	FILE	*f;

	assert_non_null(text);
	for (i = 0; i < lines; i++)
		n += snprintf(text + n, cap - n, "[%8zu] the guest says something\r\n", i);
	assert_non_null(f = fopen(fake.logpath, "w"));
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void
server_logs_small(void **state)
{
	char	*text, *r;

	(void)state;
	text = make_log(100);
	r = ask("logs web\n");
	assert_memory_equal(r, "ok\n", 3);
	assert_string_equal(r + 3, text);
	free(r);
	free(text);
	/* empty */
	put_file(dir, "console.log", "");
	expect("logs web\n", "ok\n");
	/* not a file */
	snprintf(fake.logpath, sizeof(fake.logpath), "%s", dir);
	r = ask("logs web\n");
	assert_non_null(strstr(r, ": not a regular file\n"));
	assert_memory_equal(r, "error: logs web: ", 17);
	free(r);
}

static void
server_logs_big(void **state)
{
	char	*text, *r, *tail;
	size_t	 size, len;
	int	 fd;

	(void)state;
	/* 3.4 MB: more than the last MiB, and far more than a socket's buffer */
	text = make_log(100000);
	size = strlen(text);
	assert_true(size > 3 * (1 << 20));
	tail = text + size - (1 << 20);
	tail = strchr(tail, '\n') + 1;	/* from the first whole line */
	fd = client();
	say(fd, "logs web\n", 9);
	/* the server sends what the socket takes, and waits for the rest */
	drive(50);
	r = hear(fd, &len);
	close(fd);
	assert_int_equal(len, 3 + strlen(tail));
	assert_memory_equal(r, "ok\n", 3);
	assert_true(memcmp(r + 3, tail, strlen(tail)) == 0);
	assert_true(len <= 3 + (1 << 20));
	free(r);
	free(text);
}

/* Drives the loop until cond, for at most 5 s. */
#define UNTIL(cond) do {						\
	uint64_t	 until_start = now_ms();			\
	while (!(cond)) {						\
		assert_true(now_ms() - until_start < 5000);		\
		event_once(10);						\
	}								\
} while (0)

/* Reads exactly len bytes, driving the loop. */
static void
hear_exactly(int fd, const char *want, size_t len)
{
	uint64_t	 start = now_ms();
	char		 buf[4096];
	size_t		 n = 0;
	ssize_t		 r;

	assert_true(len <= sizeof(buf));
	while (n < len) {
		r = recv(fd, buf + n, len - n, MSG_DONTWAIT);
		if (r == -1 && errno == EAGAIN) {
			assert_true(now_ms() - start < 5000);
			event_once(10);
			continue;
		}
		assert_true(r > 0);
		n += r;
	}
	assert_memory_equal(buf, want, len);
}

static void
server_console(void **state)
{
	char	*r;
	int	 fd;

	(void)state;
	control_timeout_ms = 50;	/* for the request, not for the console */
	fd = client();
	say(fd, "console web\nhi", 14);	/* typed before the reply came */
	UNTIL(fake.fn != NULL);
	assert_int_equal(fake.nwritten, 2);
	assert_memory_equal(fake.written, "hi", 2);
	hear_exactly(fd, "ok\n", 3);
	/* the guest's output goes out as it comes */
	fake.fn(fake.arg, "login: ", 7);
	hear_exactly(fd, "login: ", 7);
	fake.fn(fake.arg, "a", 1);
	fake.fn(fake.arg, "b\r\n", 3);
	hear_exactly(fd, "ab\r\n", 4);
	/* and the client's input to the guest */
	say(fd, "root\r", 5);
	UNTIL(fake.nwritten == 7);
	assert_memory_equal(fake.written, "hiroot\r", 7);
	drive(120);
	assert_int_equal(fake.detaches, 0);
	/* the client's end detaches */
	shutdown(fd, SHUT_WR);
	UNTIL(fake.detaches == 1);
	r = hear(fd, NULL);
	assert_string_equal(r, "");
	free(r);
	close(fd);
	assert_int_equal(fake.attaches, 1);
}

static void
server_console_gone(void **state)
{
	char	*r;
	int	 fd;

	(void)state;
	fd = client();
	say(fd, "console web\n", 12);
	UNTIL(fake.fn != NULL);
	fake.fn(fake.arg, "bye\r\n", 5);
	fake.fn(fake.arg, NULL, 0);	/* the guest stopped: vm.c let go */
	r = hear(fd, NULL);
	assert_string_equal(r, "ok\nbye\r\n");
	free(r);
	close(fd);
	drive(20);
	assert_int_equal(fake.detaches, 0);
}

static void
server_console_slow(void **state)
{
	char	 chunk[4096];
	int	 fd, i;

	(void)state;
	fd = client();
	say(fd, "console web\n", 12);
	UNTIL(fake.fn != NULL);
	/* 16 MiB that the client does not read: dropped, not buffered */
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < 4096; i++)
		fake.fn(fake.arg, chunk, sizeof(chunk));
	assert_int_equal(fake.detaches, 0);	/* not inside the callback */
	UNTIL(fake.detaches == 1);
	close(fd);
}

static void
server_console_write_fails(void **state)
{
	char	*r;
	int	 fd;

	(void)state;
	fd = client();
	say(fd, "console web\n", 12);
	UNTIL(fake.fn != NULL);
	fake.write_error = EAGAIN;	/* the guest's side is full: dropped input */
	say(fd, "lost", 4);
	drive(30);
	assert_int_equal(fake.detaches, 0);
	fake.write_error = EPIPE;	/* gone: the relay ends */
	say(fd, "x", 1);
	UNTIL(fake.detaches == 1);
	r = hear(fd, NULL);
	assert_string_equal(r, "ok\n");
	free(r);
	close(fd);
	assert_int_equal(fake.nwritten, 0);
}

/* --- the nestbox command ------------------------------------------------- */

struct run {
	int	 status;
	char	*out, *err;
};

static void
slurp(int fd, char **buf, size_t *len)
{
	char	 tmp[65536], *p;
	ssize_t	 n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		assert_non_null(p = realloc(*buf, *len + n + 1));
		*buf = p;
		memcpy(*buf + *len, tmp, n);
		*len += n;
		(*buf)[*len] = '\0';
	}
}

/*
 * Runs control_main(argv) in a child, with stdin from in (NULL: /dev/null),
 * while this process serves its requests. at_attach runs once the child's
 * console is attached.
 */
static void
run(struct run *res, const char *env, char *const argv[], const char *in,
    void (*at_attach)(void))
{
	int		 o[2], e[2], i[2], argc, st;
	size_t		 olen = 0, elen = 0;
	uint64_t	 start = now_ms();
	pid_t		 pid, w;

	for (argc = 0; argv[argc] != NULL; argc++)
		;
	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	assert_int_equal(pipe2(e, O_CLOEXEC), 0);
	assert_int_equal(pipe2(i, O_CLOEXEC), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(i[1]);		/* or stdin would never end */
		if (env != NULL)
			setenv("NESTBOX_CONTROL", env, 1);
		else
			unsetenv("NESTBOX_CONTROL");
		st = control_main(argc, (char **)argv);
		fflush(NULL);
		_exit(st);
	}
	close(o[1]);
	close(e[1]);
	close(i[0]);
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	res->out = calloc(1, 1);
	res->err = calloc(1, 1);
	if (at_attach == NULL) {
		if (in != NULL)
			assert_int_equal(write(i[1], in, strlen(in)), (ssize_t)strlen(in));
		close(i[1]);
	}
	for (;;) {
		event_once(10);
		slurp(o[0], &res->out, &olen);
		slurp(e[0], &res->err, &elen);
		if (at_attach != NULL && fake.fn != NULL) {
			at_attach();
			if (in != NULL)
				assert_int_equal(write(i[1], in, strlen(in)),
				    (ssize_t)strlen(in));
			close(i[1]);
			at_attach = NULL;
		}
		if ((w = waitpid(pid, &st, WNOHANG)) == pid)
			break;
		assert_int_equal(w, 0);
		if (now_ms() - start > 10000) {
			kill(pid, SIGKILL);
			fail_msg("the nestbox command did not end");
		}
	}
	/* the pipes' last bytes */
	fcntl(o[0], F_SETFL, 0);
	fcntl(e[0], F_SETFL, 0);
	slurp(o[0], &res->out, &olen);
	slurp(e[0], &res->err, &elen);
	close(o[0]);
	close(e[0]);
	assert_true(WIFEXITED(st));
	res->status = WEXITSTATUS(st);
}

static void
run_free(struct run *res)
{
	free(res->out);
	free(res->err);
}

static void
command_requests(void **state)
{
	char *const	 status[] = { "nestbox", "status", "web", NULL };
	char *const	 stop[] = { "nestbox", "stop", "db", NULL };
	char *const	 restart[] = { "nestbox", "restart", "web", NULL };
	struct run	 r;

	(void)state;
	run(&r, sock, status, NULL, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\"name\":\"web\",\"state\":\"running\"}\n");
	assert_string_equal(r.err, "");
	run_free(&r);
	run(&r, sock, stop, NULL, NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "error: no guest named db\n");
	run_free(&r);
	run(&r, sock, restart, NULL, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	assert_string_equal(fake.action, "restart web");
	run_free(&r);
}

static void
command_logs(void **state)
{
	char *const	 logs[] = { "nestbox", "logs", "web", NULL };
	struct run	 r;
	char		*text, *tail;

	(void)state;
	text = make_log(50000);
	tail = strchr(text + strlen(text) - (1 << 20), '\n') + 1;
	run(&r, sock, logs, NULL, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_true(strcmp(r.out, tail) == 0);
	run_free(&r);
	free(text);
}

static void
command_usage(void **state)
{
	static const struct {
		const char	*argv[5];
		int		 status;
		const char	*err;	/* the first line */
	} t[] = {
		{ { "nestbox", NULL }, 2, "usage: nestbox COMMAND [ARGUMENT]\n" },
		{ { "nestbox", "frob", NULL }, 2, "nestbox: unknown command \"frob\"\n" },
		{ { "nestbox", "stop", NULL }, 2, "nestbox: stop needs a guest name\n" },
		{ { "nestbox", "list", "web", NULL }, 2,
		  "nestbox: list takes no argument\n" },
		{ { "nestbox", "logs", "a", "b", NULL }, 2,
		  "nestbox: logs takes one guest name\n" },
		{ { "nestbox", "console", "Web", NULL }, 2,
		  "nestbox: \"Web\" is not a valid guest name ([a-z][a-z0-9-]{0,62})\n" },
		{ { "nestbox", "stop", "we b", NULL }, 2,
		  "nestbox: stop takes one guest name\n" },
		{ { "nestbox", "help", NULL }, 0, "" },
		{ { "nestbox", "check", NULL }, 2,
		  "usage: nestbox check [--network FILE] [--alias-ranges CIDR,...] FILE\n" },
	};
	struct run	 r;
	size_t		 i;
	char		*nl;

	(void)state;
	for (i = 0; i < NTESTS(t); i++) {
		run(&r, "/nonexistent/control.sock", (char *const *)t[i].argv, NULL, NULL);
		if (r.status != t[i].status)
			fail_msg("%s: exit %d", t[i].argv[1], r.status);
		if ((nl = strchr(r.err, '\n')) != NULL)
			nl[1] = '\0';
		assert_string_equal(r.err, t[i].err);
		if (t[i].status == 0)
			assert_non_null(strstr(r.out, "console NAME"));
		run_free(&r);
	}
}

static void
command_unreachable(void **state)
{
	char *const	 list[] = { "nestbox", "list", NULL };
	struct run	 r;

	(void)state;
	run(&r, "/nonexistent/control.sock", list, NULL, NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "nestbox: can not reach PID 1 at "
	    "/nonexistent/control.sock: No such file or directory\n");
	run_free(&r);
}

static void
say_boot(void)
{
	fake.fn(fake.arg, "boot ok\r\n", 9);
}

static void
command_console(void **state)
{
	char *const	 console[] = { "nestbox", "console", "web", NULL };
	char *const	 nope[] = { "nestbox", "console", "db", NULL };
	struct run	 r;

	(void)state;
	/* stdin is a pipe: its end detaches, and Ctrl-] is just a byte */
	run(&r, sock, console, "uname\r\x1d", say_boot);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "boot ok\r\n");
	assert_string_equal(r.err, "Connected to guest web; Ctrl-] to detach\n");
	assert_int_equal(fake.nwritten, 7);
	assert_memory_equal(fake.written, "uname\r\x1d", 7);
	assert_int_equal(fake.detaches, 1);
	run_free(&r);
	run(&r, sock, nope, NULL, NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "error: no guest named db\n");
	run_free(&r);
}

static void
shell_lines(void **state)
{
	static const struct {
		const char	*line;
		enum shell_cmd	 cmd;
		const char	*out;	/* the request, or the error */
	} t[] = {
		{ "", SHELL_EMPTY, NULL },
		{ " \t \r", SHELL_EMPTY, NULL },
		{ "help", SHELL_HELP, NULL },
		{ "  help\r", SHELL_HELP, NULL },
		{ "exit", SHELL_EXIT, NULL },
		{ "list", SHELL_REQUEST, "list\n" },
		{ "list\r", SHELL_REQUEST, "list\n" },
		{ "\tstatus", SHELL_REQUEST, "status\n" },
		{ "status \t web  ", SHELL_REQUEST, "status web\n" },
		{ "status\tnosuch", SHELL_REQUEST, "status nosuch\n" },
		{ "logs web", SHELL_REQUEST, "logs web\n" },
		{ "restart a-1", SHELL_REQUEST, "restart a-1\n" },
		{ "stop web", SHELL_REQUEST, "stop web\n" },
		{ "start web", SHELL_REQUEST, "start web\n" },
		{ "reload", SHELL_REQUEST, "reload\n" },
		{ "console web\r", SHELL_REQUEST, "console web\n" },
		{ "rm -rf /", SHELL_ERROR, "unknown command: rm; type help" },
		{ "sh", SHELL_ERROR, "unknown command: sh; type help" },
		{ "LIST", SHELL_ERROR, "unknown command: LIST; type help" },
		{ "check /etc/passwd", SHELL_ERROR, "unknown command: check; type help" },
		{ "shell", SHELL_ERROR, "unknown command: shell; type help" },
		{ "'list'", SHELL_ERROR, "unknown command: 'list'; type help" },
		{ "list;sh", SHELL_ERROR, "unknown command: list;sh; type help" },
		{ "\x1b[A", SHELL_ERROR, "unknown command: ?[A; type help" },
		{ "help me", SHELL_ERROR, "error: help takes no argument" },
		{ "exit 0", SHELL_ERROR, "error: exit takes no argument" },
		{ "list web", SHELL_ERROR, "error: list takes no argument" },
		{ "logs", SHELL_ERROR, "error: logs needs a guest name" },
		{ "stop a b", SHELL_ERROR, "error: stop takes one guest name" },
		{ "status $(reboot)", SHELL_ERROR,
		    "error: \"$(reboot)\" is not a valid guest name ([a-z][a-z0-9-]{0,62})" },
		{ "stop web\x7f", SHELL_ERROR,
		    "error: request has a byte that is not printable ASCII (0x7f at 8)" },
	};
	char	 req[CONTROL_LINE_MAX + 1], err[200];
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(t); i++) {
		req[0] = err[0] = '\0';
		assert_int_equal(shell_line(t[i].line, req, sizeof(req), err,
		    sizeof(err)), t[i].cmd);
		if (t[i].cmd == SHELL_REQUEST)
			assert_string_equal(req, t[i].out);
		else if (t[i].cmd == SHELL_ERROR)
			assert_string_equal(err, t[i].out);
	}
}

static void
shell_line_longest(void **state)
{
	char	 line[CONTROL_LINE_MAX + 2], req[CONTROL_LINE_MAX + 1], err[200];

	(void)state;
	/* 255 bytes and the newline make the longest request */
	memset(line, ' ', sizeof(line));
	memcpy(line, "list", 4);
	line[CONTROL_LINE_MAX - 1] = '\0';
	assert_int_equal(shell_line(line, req, sizeof(req), err, sizeof(err)),
	    SHELL_REQUEST);
	assert_string_equal(req, "list\n");
	line[CONTROL_LINE_MAX - 1] = ' ';
	line[CONTROL_LINE_MAX] = '\0';
	assert_int_equal(shell_line(line, req, sizeof(req), err, sizeof(err)),
	    SHELL_ERROR);
	assert_string_equal(err, "error: line longer than 256 bytes");
}

static void
command_shell(void **state)
{
	char *const	 shell[] = { "nestbox", "shell", NULL };
	char		 in[1024];
	struct run	 r;

	(void)state;
	snprintf(in, sizeof(in), "help\n\nlist\r\nstatus web\nstatus nosuch\n"
	    "rm -rf /\n%0300d\nstop db\nexit\nlist\n", 0);
	run(&r, sock, shell, in, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, ": type help; this is not a shell\nnestbox> "));
	assert_non_null(strstr(r.out, "nestbox> commands:\n"));
	assert_non_null(strstr(r.out, "  console NAME      attach to NAME's serial "
	    "console; Ctrl-] detaches\n"));
	assert_non_null(strstr(r.out, "nestbox> nestbox> web  running\ndb   "
	    "stopped\nnestbox> {\"name\":\"web\",\"state\":\"running\"}\n"
	    "nestbox> nestbox> unknown command: rm; type help\n"
	    "nestbox> error: line longer than 256 bytes, ignored\n"
	    "nestbox> nestbox> "));
	/* exit ends it: the last list is not run */
	assert_true(strlen(r.out) > 10 &&
	    strcmp(r.out + strlen(r.out) - 10, "nestbox> \n") != 0);
	assert_string_equal(r.err, "error: no guest named nosuch\n"
	    "error: no guest named db\n");
	run_free(&r);
	/* the end of the input ends it too */
	run(&r, sock, shell, "list", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "nestbox> web  running\ndb   stopped\n"
	    "nestbox> \n"));
	run_free(&r);
}

/* The one rule for a guest's name, declared (decl.c) or requested. */
static void
guest_names(void **state)
{
	static const char *const good[] = {
		"a", "web", "web-1", "a-", "a--b",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
	};
	static const char *const bad[] = {
		"", "-a", "1a", "A", "wEb", "a_b", "a.b", "a b",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(good); i++)
		if (!guest_name_ok(good[i]))
			fail_msg("%s: refused", good[i]);
	for (i = 0; i < NTESTS(bad); i++)
		if (guest_name_ok(bad[i]))
			fail_msg("%s: accepted", bad[i]);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(guest_names),
	cmocka_unit_test(parse_good),
	cmocka_unit_test(parse_longest),
	cmocka_unit_test(parse_bad),
	cmocka_unit_test_setup_teardown(server_socket, setup, teardown),
	cmocka_unit_test_setup_teardown(server_requests, setup, teardown),
	cmocka_unit_test_setup_teardown(server_request_in_pieces, setup, teardown),
	cmocka_unit_test_setup_teardown(server_bad_input, setup, teardown),
	cmocka_unit_test_setup_teardown(server_timeout, setup, teardown),
	cmocka_unit_test_setup_teardown(server_busy, setup, teardown),
	cmocka_unit_test_setup_teardown(server_logs_small, setup, teardown),
	cmocka_unit_test_setup_teardown(server_logs_big, setup, teardown),
	cmocka_unit_test_setup_teardown(server_console, setup, teardown),
	cmocka_unit_test_setup_teardown(server_console_gone, setup, teardown),
	cmocka_unit_test_setup_teardown(server_console_slow, setup, teardown),
	cmocka_unit_test_setup_teardown(server_console_write_fails, setup, teardown),
	cmocka_unit_test_setup_teardown(command_requests, setup, teardown),
	cmocka_unit_test_setup_teardown(command_logs, setup, teardown),
	cmocka_unit_test_setup_teardown(command_usage, setup, teardown),
	cmocka_unit_test_setup_teardown(command_unreachable, setup, teardown),
	cmocka_unit_test_setup_teardown(command_console, setup, teardown),
	cmocka_unit_test(shell_lines),
	cmocka_unit_test(shell_line_longest),
	cmocka_unit_test_setup_teardown(command_shell, setup, teardown),
};

const struct suite control_suite = { tests, NTESTS(tests) };
