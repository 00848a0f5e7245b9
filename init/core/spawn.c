/*
 * Children are started one way and reaped in one place. PID 1 is also the
 * parent of every orphan, so reaping takes whatever exits and hands the
 * status to whoever watches that pid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <grp.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "core/core.h"

extern char **environ;

static struct child *children;

/*
 * Closes every fd above 2 but keep, in a child before exec: what PID 1 has
 * open (metadata connections libcurl keeps, sockets, logs) is never a
 * child's, close-on-exec or not. keep is the log's close-on-exec copy of
 * the console (console.c), there so that a failed exec is still reported;
 * exec closes it. close_range(2) where the kernel has it (5.9), else each
 * fd /proc/self/fd names.
 */
static void
close_fds(int keep)
{
	DIR		*d;
	struct dirent	*de;
	long		 fd;
	char		*end;
	int		 flags;

	if (keep < 3 || (flags = fcntl(keep, F_GETFD)) == -1 || !(flags & FD_CLOEXEC))
		keep = -1;
	if (keep == -1 ? syscall(SYS_close_range, 3U, ~0U, 0U) == 0 :
	    (keep == 3 || syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, &end, 10);
		if (*end == '\0' && end != de->d_name && fd > 2 && fd != keep &&
		    fd != dirfd(d))
			close((int)fd);
	}
	closedir(d);
}

/*
 * Forks and execs argv (argv[0] is an absolute path; no shell, no PATH
 * search). In the child: an empty signal mask (PID 1 blocks everything and
 * the mask is inherited), a session of its own, and fds[i] as fd i, -1 for
 * /dev/null; with fds NULL the child keeps the console. Every other fd is
 * closed: a child gets fds 0 to 2 and nothing else. Returns the pid, or -1 if fork failed; an exec
 * failure is logged by the child, which exits 127.
 */
pid_t
spawn(char *const argv[], const int fds[3])
{
	return spawn_as(argv, fds, NULL);
}

/*
 * spawn(), and with cred not NULL the child drops to cred's uid, gid and
 * groups before exec (and exits 126 if it can not): PID 1's children that
 * read outside input or run guests hold no root.
 */
pid_t
spawn_as(char *const argv[], const int fds[3], const struct cred *cred)
{
	sigset_t	 empty;
	pid_t		 pid;
	int		 tmp[3], i;

	if ((pid = fork()) != 0)
		return pid;

	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	setsid();
	if (fds != NULL) {
		/* via fds above 2 first, so fds = {1, 0, 2} can not clobber */
		for (i = 0; i < 3; i++) {
			if (fds[i] >= 0)
				tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			else
				tmp[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (tmp[i] == -1)
				goto err;
		}
		for (i = 0; i < 3; i++)
			if (dup2(tmp[i], i) == -1)
				goto err;
	}
	close_fds(log_fd());
	if (cred != NULL && (setgroups(cred->ngroups, cred->groups) == -1 ||
	    setresgid(cred->gid, cred->gid, cred->gid) == -1 ||
	    setresuid(cred->uid, cred->uid, cred->uid) == -1)) {
		log_warn("spawn: %s: dropping to uid %u", argv[0], (unsigned)cred->uid);
		_exit(126);
	}
	execve(argv[0], argv, environ);
err:
	log_warn("spawn: %s", argv[0]);
	_exit(127);
}

void
child_watch(struct child *c)
{
	c->next = children;
	children = c;
}

/*
 * Reaps every child that has exited and calls its watcher. Returns 1 when
 * PID 1 has no child left at all: then no process runs but PID 1.
 */
int
child_reap(void)
{
	struct child	**cp, *c;
	pid_t		  pid;
	int		  status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0)
			return 0;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD;
		}
		for (cp = &children; (c = *cp) != NULL; cp = &c->next) {
			if (c->pid == pid) {
				*cp = c->next;	/* before exited(), which may respawn */
				c->pid = 0;
				c->exited(c, status);
				break;
			}
		}
	}
}

/* "exited with status 1", "killed by signal 9" */
const char *
exit_reason(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "stopped (status %#x)", status);
	return buf;
}
