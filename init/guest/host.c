/*
 * The host as the guest runtime sees it: the real struct vm_ops (the unit
 * tests put a fake one in their place), and the devices and directories
 * the guests need, made at boot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "guest/vm.h"

static int
sys_kill(pid_t pid, int sig)
{
	return kill(pid, sig);
}

static void
sys_env(struct qemu_env *env)
{
	env->kvm = kvm_available();
	env->vhost = access("/dev/vhost-net", F_OK) == 0;
	env->direct_io = store_persistent();
}

static int
sys_exists(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0;
}


static int
sys_own(const char *path, uid_t uid, mode_t mode)
{
	return chown(path, uid, uid) == -1 || chmod(path, mode) == -1 ? -1 : 0;
}

static int
sys_pd_find(const char *ref, char *path, size_t size)
{
	return pd_find("/sys/block", ref, path, size);
}

/* qemu.log, in the guest's root-owned directory: PID 1's file, made anew. */
static int
sys_open_log(const char *path)
{
	return file_fresh(path, 0, 0, 0600);
}

/* A file QEMU writes into PID 1's directory (console.log): made anew, its. */
static int
sys_make_file(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	int	 fd;

	if ((fd = file_fresh(path, uid, gid, mode)) == -1)
		return -1;
	close(fd);
	return 0;
}

/*
 * QMP's socket, in the run directory QEMU writes: connected to through an
 * fd of the socket itself (a socket, QEMU's), never through a symlink.
 */
static int
sys_qmp_open(struct qmp *q, const char *path, uid_t owner)
{
	char	 proc[32];
	int	 fd, r, saved;

	if ((fd = sock_checked(path, owner, proc, sizeof(proc))) == -1)
		return -1;
	r = qmp_open(q, proc);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * The processes under proc (/proc) whose real, effective, saved or file
 * system uid is uid, zombies left out, into pids (at most max). Read from
 * status, not from the directory's owner: a process that made itself
 * undumpable shows root's there. Returns how many there are (all, even
 * past max).
 */
int
uid_procs(const char *proc, uid_t uid, pid_t *pids, size_t max)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300], *text, *p, state;
	unsigned	 u[4];
	size_t		 len;
	long		 pid;
	int		 n = 0, i;

	if ((d = opendir(proc)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if ((pid = strtol(de->d_name, &p, 10)) <= 0 || *p != '\0' ||
		    pid == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", proc, de->d_name);
		if ((text = read_file(path, 1 << 16, &len)) == NULL)
			continue;
		state = (p = strstr(text, "\nState:\t")) != NULL ? p[8] : '?';
		if ((p = strstr(text, "\nUid:\t")) != NULL &&
		    sscanf(p + 6, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]) == 4 &&
		    state != 'Z' && state != 'X')
			for (i = 0; i < 4; i++)
				if (u[i] == uid) {
					if ((size_t)n < max)
						pids[n] = (pid_t)pid;
					n++;
					break;
				}
		free(text);
	}
	closedir(d);
	return n;
}

/* SIGKILL to every process of uid; how many there were. */
static int
sys_uid_kill(uid_t uid)
{
	pid_t	 pids[64];
	int	 n, i;

	n = uid_procs("/proc", uid, pids, sizeof(pids) / sizeof(pids[0]));
	for (i = 0; i < n && (size_t)i < sizeof(pids) / sizeof(pids[0]); i++)
		kill(pids[i], SIGKILL);
	return n;
}

/* A device node: chowned and chmodded through an fd of it, never through a
 * symlink in its place (O_PATH opens nothing). */
static int
sys_own_dev(const char *dev, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 st;
	char		 proc[32];
	int		 fd, r = -1;

	if ((fd = open(dev, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISBLK(st.st_mode)) {
		errno = ENOTBLK;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = fchownat(fd, "", uid, gid, AT_EMPTY_PATH) == -1 || chmod(proc, mode) == -1 ?
	    -1 : 0;
out:
	close(fd);
	return r;
}

const struct vm_ops vm_sys_ops = {
	.now = now_ms,
	.timer_set = timer_set,
	.spawn = spawn_as,
	.watch = child_watch,
	.kill = sys_kill,
	.tap_create = tap_create,
	.tap_delete = tap_delete,
	.qmp_open = sys_qmp_open,
	.qmp_command = qmp_command,
	.qmp_close = qmp_close,
	.con_open = con_open,
	.con_close = con_close,
	.env = sys_env,
	.exists = sys_exists,
	.mkdir_owned = dir_owned,
	.own_dir = own_dir,
	.own = sys_own,
	.pd_find = sys_pd_find,
	.disk_is_l1 = disk_is_the_l1s,
	.write_file = write_file,
	.open_log = sys_open_log,
	.close = close,
	.unlink = unlink,
	.rename = rename,
	.read_file = read_file,
	.cgroup_add = cgroup_guest,
	.cgroup_end = cgroup_guest_end,
	.make_file = sys_make_file,
	.uid_kill = sys_uid_kill,
	.own_dev = sys_own_dev,
};

/*
 * At boot, every guest's directory is root's until its guest is prepared:
 * slots, so uids, go in declaration order, and a guest that has another
 * slot now must not find its files given to whoever has its old one.
 */
void
disown_guests(const char *top)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];

	if ((d = opendir(top)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		snprintf(path, sizeof(path), "%s/%s/" VM_DISKS, top, de->d_name);
		if (access(path, F_OK) == 0 && dir_owned(path, 0, 0, 0700) == -1)
			log_warn("guests: %s", path);
		snprintf(path, sizeof(path), "%s/%s", top, de->d_name);
		if (dir_owned(path, 0, 0, 0700) == -1)
			log_warn("guests: %s", path);
	}
	closedir(d);
}

void
devices_for_guests(void)
{
	static const char *const devs[] = { "/dev/kvm", "/dev/vhost-net" };
	size_t	 i;

	if (mkdir(NET_RUN_DIR, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", NET_RUN_DIR);
	/* every QEMU opens its own tap by name, as its own user */
	if (chmod("/dev/net/tun", 0666) == -1)
		log_warn("guests: /dev/net/tun");
	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		if (access(devs[i], F_OK) == 0 &&
		    (chown(devs[i], 0, KVM_GID) == -1 || chmod(devs[i], 0660) == -1))
			log_warn("guests: %s", devs[i]);
	if (mkdir(VM_RUN_DIR, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", VM_RUN_DIR);
	if (mkdir(STATE_IMAGES, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", STATE_IMAGES);
	/* both fetchers write here (group FETCH_UID); sticky: neither
	 * removes nor replaces the other's files */
	if (chown(STATE_IMAGES, 0, FETCH_UID) == -1 || chmod(STATE_IMAGES, 01775) == -1)
		log_warn("guests: %s", STATE_IMAGES);
	if (mkdir(STATE_GUESTS, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", STATE_GUESTS);
	cgroup_init();		/* logs */
	disown_guests(STATE_GUESTS);
}

