/*
 * Logging to the console. Each line goes out in a single write(2), so lines
 * from PID 1 and its children never interleave mid-line and a test can grep
 * the serial console for them. The level shows after the program's name, as
 * vmd, tini and skalibs show theirs:
 *
 *	nestbox: <message>		log_info: what happens
 *	nestbox: warning: <message>	log_warn, log_warnx: something failed or
 *					was refused, and nestbox goes on
 *	nestbox: fatal: <message>	fatal, fatalx: PID 1 can not go on and
 *					powers off ("nestbox: fatal: powering off")
 *
 * The message itself is subject first ("guest web: ...", "eth0: ..."), the
 * same at every level.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/reboot.h>

#include "core/core.h"

#define LOG_LINE_MAX	1024

static int logfd = STDERR_FILENO;

void
log_init(int fd)
{
	logfd = fd;
}

int
log_fd(void)
{
	return logfd;
}

#define LEVEL_INFO	""
#define LEVEL_WARN	"warning: "
#define LEVEL_FATAL	"fatal: "

static void
vlog(const char *level, const char *fmt, va_list ap, const char *err)
{
	char	 buf[LOG_LINE_MAX];
	size_t	 max = sizeof(buf) - 1;	/* room for the newline */
	int	 n, m;

	n = snprintf(buf, max, "nestbox: %s", level);
	m = vsnprintf(buf + n, max - n, fmt, ap);
	if (m > 0)
		n += m;
	if (err != NULL && (size_t)n < max) {
		m = snprintf(buf + n, max - n, ": %s", err);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= max) {		/* truncated: say so */
		n = max;
		memcpy(buf + n - 3, "...", 3);
	}
	buf[n++] = '\n';
	while (write(logfd, buf, n) == -1 && errno == EINTR)
		;
}

/* The log functions keep errno, so a caller can log and then return -1. */
#define LOG_BODY(level, err) do {		\
	int	 saved = errno;			\
	va_list	 ap;				\
	va_start(ap, fmt);			\
	vlog((level), fmt, ap, (err));		\
	va_end(ap);				\
	errno = saved;				\
} while (0)

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LEVEL_INFO, NULL);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LEVEL_WARN, strerror(errno));
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LEVEL_WARN, NULL);
}

/*
 * PID 1 must not exit: the kernel would panic, and a panicked GCE VM keeps
 * running (and billing) with nothing to show for it. Power off instead, so
 * the instance stops and its serial log ends with the reason.
 */
static void
log_fatal(const char *fmt, ...) NB_PRINTF(1, 2);

static void
log_fatal(const char *fmt, ...)
{
	LOG_BODY(LEVEL_FATAL, NULL);
}

static void NB_NORETURN
die(void)
{
	if (getpid() == 1) {
		log_fatal("powering off");
		sync();
		reboot(RB_POWER_OFF);
	}
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LEVEL_FATAL, strerror(errno));
	die();
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LEVEL_FATAL, NULL);
	die();
}
