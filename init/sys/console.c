/*
 * The serial consoles: PID 1's stdio and log and a getty on ttyS0, and
 * `nestbox shell` on ttyS1 (GCE's serial port 2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sys/sys.h"

static char *const getty_argv[] = {
	"/sbin/getty", "-L", "38400", "ttyS0", "vt100", NULL
};
static struct service getty;

#define SHELL_TTY	"/dev/ttyS1"
#define SHELL_TTY_TYPE	"/sys/class/tty/ttyS1/type"	/* serial_core's PORT_*; 0: none */
static char *const shell_argv[] = {
	"/usr/bin/nestbox", "shell", SHELL_TTY, NULL
};
static struct service shell;

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

/*
 * The control commands, and only those, on the second serial port: GCE's
 * port 2, which gcloud compute connect-to-serial-port --port 2 reaches when
 * serial-port-enable is set. The 8250 driver makes ttyS0-3 whether or not a
 * UART answers behind them; the shell starts only where one does.
 */
int
shell_start(void)
{
	struct stat	 st;
	char		 type[16];

	if (stat(SHELL_TTY, &st) == -1 || !S_ISCHR(st.st_mode) ||
	    read_head(SHELL_TTY_TYPE, type, sizeof(type)) <= 0 || atoi(type) == 0) {
		log_info("shell: no UART at ttyS1, no nestbox shell");
		return -1;
	}
	if (service_init(&shell, "shell", shell_argv) == -1) {
		log_warn("shell: timer");
		return -1;
	}
	service_start(&shell);
	return 0;
}
