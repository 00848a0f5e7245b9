/*
 * The `nestbox` command: a client of the control socket (one request, the
 * reply copied to stdout; "console NAME" a relay with Ctrl-] to detach) and
 * `nestbox shell`, the same requests at a prompt on a serial line, which is
 * what GCE's serial port 2 offers instead of a login.
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
#include "ctl/ctl.h"
#include "tools/tools.h"

#define CHUNK		(64 * 1024)
#define ESCAPE		0x1d		/* Ctrl-], as telnet and virsh console */

/* --- the client: the nestbox command ------------------------------------- */

#define VERBS_TEXT \
    "  status [NAME]     every guest's status, or NAME's, as JSON\n" \
    "  list              the guests, a line each\n" \
    "  logs NAME         the last MiB of NAME's serial console log\n" \
    "  start NAME        start, stop or restart the guest NAME\n" \
    "  stop NAME\n" \
    "  restart NAME\n" \
    "  reload            apply the guests' declaration again\n" \
    "  console NAME      attach to NAME's serial console; Ctrl-] detaches\n"

static const char usage_text[] =
    "usage: nestbox COMMAND [ARGUMENT]\n"
    VERBS_TEXT
    "  check FILE        check a nestbox-guests declaration (no PID 1 needed)\n"
    "  shell [TTY]       the commands but check at a prompt, on TTY if given\n"
    "  help              this text\n"
    "The commands but check ask PID 1, at " CONTROL_SOCK "\n"
    "($NESTBOX_CONTROL names another socket).\n";

static const char shell_help[] =
    "commands:\n"
    VERBS_TEXT
    "  help              this text\n"
    "  exit              end the session\n"
    "A line is split into words at blanks, nothing more: this is not a shell.\n";

static volatile sig_atomic_t	 got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* write(2) or, to the socket, send(2) without SIGPIPE, all of it. */
static int
put_all(int fd, int sock, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
		if (n == -1 && errno == EINTR && !got_signal)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int
client_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	if (unix_addr(&sun, path) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Reads the reply's first line into head (NUL-terminated, without the
 * newline); what came after it is head + *len, *more bytes. 1: "ok",
 * 0: "error: ..." (printed), -1: no reply or a broken one (printed).
 */
static int
client_head(int fd, char *head, size_t size, size_t *len, size_t *more)
{
	char	*nl = NULL;
	size_t	 n = 0;
	ssize_t	 r;

	while (nl == NULL && n < size - 1) {
		r = read(fd, head + n, size - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			fprintf(stderr, "nestbox: reading from PID 1: %s\n", strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		nl = memchr(head + n, '\n', r);
		n += r;
	}
	if (nl == NULL) {
		fprintf(stderr, "nestbox: %s\n", n == 0 ?
		    "PID 1 closed the connection without a reply" :
		    "PID 1's reply is not understood");
		return -1;
	}
	*nl = '\0';
	*len = nl - head + 1;
	*more = n - *len;
	if (strcmp(head, "ok") == 0)
		return 1;
	if (strncmp(head, "error: ", 7) == 0) {
		fprintf(stderr, "%s\n", head);
		return 0;
	}
	fprintf(stderr, "nestbox: PID 1's reply is not understood\n");
	return -1;
}

/* The body of the reply to stdout. Exit status. */
static int
client_body(int fd)
{
	char	 buf[CHUNK];
	ssize_t	 n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "nestbox: reading from PID 1: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			return 0;
		if (put_all(STDOUT_FILENO, 0, buf, n) == -1) {
			fprintf(stderr, "nestbox: stdout: %s\n", strerror(errno));
			return 1;
		}
	}
}

/*
 * Relays stdin to the socket and the socket to stdout until Ctrl-] on a
 * terminal, the end of stdin, or the server's end. Exit status.
 */
static int
client_console(int fd, const char *name)
{
	enum { RUNNING, DETACHED, CLOSED, FAILED } how = RUNNING;
	struct termios		 saved, raw;
	struct sigaction	 sa;
	struct pollfd		 pfd[2];
	char			 buf[4096], *esc;
	ssize_t			 n;
	int			 tty, err = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "Connected to guest %s; Ctrl-] to detach\n", name);
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == -1)
			tty = 0;
	}
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = fd;
	pfd[1].events = POLLIN;
	while (how == RUNNING && !got_signal) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno != EINTR) {
				err = errno;
				how = FAILED;
			}
			continue;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(fd, buf, sizeof(buf))) == -1 && errno == EINTR)
				continue;
			if (n == 0 || (n == -1 && errno == ECONNRESET))
				how = CLOSED;
			else if (n == -1 || put_all(STDOUT_FILENO, 0, buf, n) == -1) {
				err = errno;
				how = FAILED;
			}
			if (how != RUNNING)
				continue;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1 && errno == EINTR)
				continue;
			if (n <= 0) {	/* the end of stdin: the server detaches */
				shutdown(fd, SHUT_WR);
				pfd[0].fd = -1;
				continue;
			}
			if (tty && (esc = memchr(buf, ESCAPE, n)) != NULL) {
				n = esc - buf;
				how = DETACHED;
			}
			if (n > 0 && put_all(fd, 1, buf, n) == -1) {
				err = errno;
				how = FAILED;
			}
		}
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	if (how == DETACHED || (how == CLOSED && pfd[0].fd == -1)) {
		if (tty)
			fprintf(stderr, "\n");
		return 0;	/* Ctrl-], or stdin ended and the server closed after it */
	}
	if (how == CLOSED)
		fprintf(stderr, "\nnestbox: the console of guest %s was closed\n", name);
	else if (how == FAILED)
		fprintf(stderr, "\nnestbox: console %s: %s\n", name, strerror(err));
	else
		fprintf(stderr, "\nnestbox: %s\n", strsignal(got_signal));
	return 1;
}

static int
usage_error(const char *msg)
{
	fprintf(stderr, "nestbox: %s\nTry 'nestbox help'.\n", msg);
	return 2;
}

/*
 * Sends the request line (len bytes, its newline included, control_parse
 * accepts it) to PID 1 and prints the reply: the body to stdout, an error
 * to stderr. Exit status.
 */
static int
client_request(const char *line, size_t len)
{
	const char	*path, *verb, *name;
	char		 copy[CONTROL_LINE_MAX + 1], err[160], head[1024];
	size_t		 hlen, more;
	int		 fd, rc;

	if (len >= sizeof(copy))
		return usage_error("the arguments are too long");
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (control_parse(copy, len, &verb, &name, err, sizeof(err)) == -1)
		return usage_error(err);

	if ((path = getenv("NESTBOX_CONTROL")) == NULL || *path == '\0')
		path = CONTROL_SOCK;
	if ((fd = client_connect(path)) == -1) {
		fprintf(stderr, "nestbox: can not reach PID 1 at %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	/* A refusal (busy) may already be waiting: read the reply anyway. */
	if (put_all(fd, 1, line, len) == -1 && errno != EPIPE && errno != ECONNRESET) {
		fprintf(stderr, "nestbox: sending to PID 1: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	if (strcmp(verb, "console") != 0)
		shutdown(fd, SHUT_WR);
	rc = client_head(fd, head, sizeof(head), &hlen, &more);
	if (rc == 1 && more > 0 && put_all(STDOUT_FILENO, 0, head + hlen, more) == -1) {
		fprintf(stderr, "nestbox: stdout: %s\n", strerror(errno));
		rc = -1;
	}
	if (rc == 1)
		rc = strcmp(verb, "console") == 0 ? client_console(fd, name) : client_body(fd);
	else
		rc = 1;
	close(fd);
	return rc;
}

/* --- nestbox shell: the commands at a prompt, on a serial line ----------- */

/*
 * Makes path (PID 1's ttyS1) this process's stdio and controlling terminal
 * (spawn() made it a session leader). The line is set local (no wait for
 * carrier) and cooked, in case a shell was killed while a console had it
 * raw; the speed is left as the kernel has it.
 */
static int
shell_tty(const char *path)
{
	struct termios	 t;
	int		 fd, fl, i, saved;

	if ((fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK)) == -1)
		return -1;
	if (ioctl(fd, TIOCSCTTY, 0) == -1 || tcgetattr(fd, &t) == -1)
		goto err;
	t.c_cflag |= CLOCAL | CREAD;
	t.c_iflag |= ICRNL;
	t.c_iflag &= ~(INLCR | IGNCR);
	t.c_oflag |= OPOST | ONLCR;
	t.c_lflag |= ICANON | ECHO | ECHOE | ECHOK | ISIG | IEXTEN;
	if (tcsetattr(fd, TCSANOW, &t) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		goto err;
	for (i = 0; i < 3; i++)
		if (fd != i && dup2(fd, i) == -1)
			goto err;
	if (fd > 2)
		close(fd);
	return 0;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * A line of stdin into buf (size bytes with the NUL), without its newline;
 * a byte at a time, so that nothing is read ahead of what a console relays.
 * 1: a line, 0: the end, -1: the line did not fit (read up to its newline).
 */
static int
shell_read(char *buf, size_t size)
{
	size_t	 n = 0;
	ssize_t	 r;
	int	 toolong = 0;
	char	 c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (n == 0 && !toolong)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (n < size - 1)
			buf[n++] = c;
		else
			toolong = 1;
	}
	buf[n] = '\0';
	return toolong ? -1 : 1;
}

/* What a command's console relay changed, undone. */
static void
shell_signals(void)
{
	got_signal = 0;
	signal(SIGINT, SIG_IGN);	/* Ctrl-C at the prompt drops the line */
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
}

/* nestbox shell [TTY]. Exit status: 0 at exit or the end of the input. */
static int
shell_main(int argc, char *argv[])
{
	char	 line[CONTROL_LINE_MAX], req[CONTROL_LINE_MAX + 1], err[200];
	char	 host[65];

	if (argc > 3)
		return usage_error("shell takes at most a terminal");
	if (argc == 3 && shell_tty(argv[2]) == -1) {
		fprintf(stderr, "nestbox: shell: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (gethostname(host, sizeof(host)) == -1)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	printf("nestbox %s: type help; this is not a shell\n", host);
	for (;;) {
		shell_signals();
		fputs("nestbox> ", stdout);
		fflush(stdout);
		switch (shell_read(line, sizeof(line))) {
		case 0:
			putchar('\n');
			return 0;
		case -1:
			printf("error: line longer than %d bytes, ignored\n",
			    CONTROL_LINE_MAX);
			continue;
		}
		switch (shell_line(line, req, sizeof(req), err, sizeof(err))) {
		case SHELL_EMPTY:
			break;
		case SHELL_HELP:
			fputs(shell_help, stdout);
			break;
		case SHELL_EXIT:
			return 0;
		case SHELL_ERROR:
			printf("%s\n", err);
			break;
		case SHELL_REQUEST:
			fflush(stdout);
			client_request(req, strlen(req));
			break;
		}
	}
}

/* The nestbox command: argv[1] is the command. Exit status. */
int
control_main(int argc, char *argv[])
{
	char		 line[CONTROL_LINE_MAX + 1];
	struct text	 t;
	int		 i;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nestbox %s\n", NESTBOX_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return guests_check_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "shell") == 0)
		return shell_main(argc, argv);

	text_init(&t, line, sizeof(line));
	for (i = 1; i < argc; i++)
		text_add(&t, "%s%s", i > 1 ? " " : "", argv[i]);
	text_add(&t, "\n");
	if (text_done(&t) == -1)
		return usage_error("the arguments are too long");
	return client_request(line, strlen(line));
}
