/*
 * Images are data: a downloaded qcow2 image (by its magic) is looked at
 * with `qemu-img info --output=json -f qcow2`, as the caller's uid (the
 * fetcher's), with a time and an address-space limit; info opens neither a
 * backing file nor a data file. image_check() (guest/fetch.c) refuses one
 * that names any file but itself. Anything else is bytes, whatever it says:
 * QEMU opens it with format=raw.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "guest/guest.h"
#include "tools/tools.h"

#define INSPECT_AS	(1UL << 30)	/* qemu-img info: this much address space, */
#define INSPECT_MAX	(256 * 1024)	/* this much JSON */

/*
 * Its address space bounded: the soft limit is set in this process for
 * the fork to inherit, then put back (nothing is mapped in between). Time
 * is bounded by the caller's deadline and SIGKILL, not RLIMIT_CPU: this
 * process may have used more CPU than the bound already (the hash).
 */
static pid_t
spawn_limited(char *const argv[], const int fds[3])
{
	struct rlimit	 as, lim;
	pid_t		 pid;

	if (getrlimit(RLIMIT_AS, &as) == -1)
		return spawn(argv, fds);
	lim = as;
	lim.rlim_cur = INSPECT_AS < as.rlim_max ? INSPECT_AS : as.rlim_max;
	setrlimit(RLIMIT_AS, &lim);
	pid = spawn(argv, fds);
	setrlimit(RLIMIT_AS, &as);
	return pid;
}

/*
 * path, looked at with qemu_img in at most secs seconds. Returns FETCH_OK,
 * FETCH_REFUSED (why says why) or FETCH_ERROR (why: qemu-img did not run,
 * path could not be read).
 */
int
image_inspect(const char *qemu_img, const char *path, unsigned secs, char *why,
    size_t size)
{
	static char	 json[INSPECT_MAX + 1];
	static const unsigned char qcow2[4] = { 'Q', 'F', 'I', 0xfb };
	unsigned char	 magic[4];
	char		*argv[] = { (char *)qemu_img, "info", "--output=json", "-f",
			    "qcow2", (char *)path, NULL };
	char		 st[64];
	struct pollfd	 pfd;
	uint64_t	 deadline, now;
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 p[2], fds[3], fd, r, status, timedout = 0;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(why, size, "%s: %s", path, strerror(errno));
		return FETCH_ERROR;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	close(fd);
	if (n != (ssize_t)sizeof(magic) || memcmp(magic, qcow2, sizeof(magic)) != 0)
		return FETCH_OK;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(why, size, "pipe: %s", strerror(errno));
		return FETCH_ERROR;
	}
	fds[0] = -1;
	fds[1] = p[1];
	fds[2] = STDERR_FILENO;
	pid = spawn_limited(argv, fds);
	close(p[1]);
	if (pid == -1) {
		close(p[0]);
		snprintf(why, size, "fork: %s", strerror(errno));
		return FETCH_ERROR;
	}
	deadline = now_ms() + secs * 1000ULL;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		if ((now = now_ms()) >= deadline) {
			timedout = 1;
			break;
		}
		if ((r = poll(&pfd, 1, (int)(deadline - now))) <= 0) {
			if (r == 0 || errno == EINTR)
				continue;	/* the deadline, at the top */
			break;
		}
		if ((n = read(p[0], json + len, INSPECT_MAX - len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		if ((len += (size_t)n) == INSPECT_MAX)
			break;
	}
	close(p[0]);
	if (timedout || len == INSPECT_MAX)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	json[len] = '\0';
	if (timedout) {
		snprintf(why, size, "qemu-img info took over %u s", secs);
		return FETCH_REFUSED;
	}
	if (len == INSPECT_MAX) {
		snprintf(why, size, "qemu-img info said over %d bytes", INSPECT_MAX);
		return FETCH_REFUSED;
	}
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 ||
	    WEXITSTATUS(status) == 127)) {
		snprintf(why, size, "%s did not run", qemu_img);
		return FETCH_ERROR;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, size, "qemu-img info %s", exit_reason(status, st, sizeof(st)));
		return FETCH_REFUSED;
	}
	if (image_check(json, len, why, size) == -1)
		return FETCH_REFUSED;
	return FETCH_OK;
}
