/* The serial console: PID 1's stdio and log, and a getty on it. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "nestbox.h"

static char *const getty_argv[] = {
	"/sbin/getty", "-L", "38400", "ttyS0", "vt100", NULL
};
static struct service getty;

/*
 * Makes the console fds 0-2, which children inherit. The kernel opens
 * /dev/console for init only if the initramfs has that node, so fds 0-2
 * may be closed at this point; /dev is mounted by now. The log gets its own
 * close-on-exec copy, so a child whose stderr is redirected still reports
 * a failed exec on the console. Without a console, the log goes to the
 * kernel's log (/dev/kmsg, which the kernel prints on its console).
 */
int
console_init(void)
{
	int	 fd, i, saved, logfd;

	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd == -1) {
		saved = errno;
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			for (i = 0; i < 3; i++)
				if (fd != i)
					dup2(fd, i);
			if (fd > 2)
				close(fd);
		}
		if ((logfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)) != -1)
			log_init(logfd);
		errno = saved;
		return -1;
	}
	for (i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
	if ((logfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) != -1)
		log_init(logfd);
	return 0;
}

int
getty_start(void)
{
	if (service_init(&getty, "getty", getty_argv) == -1) {
		log_warn("getty: timer");
		return -1;
	}
	service_start(&getty);
	return 0;
}
