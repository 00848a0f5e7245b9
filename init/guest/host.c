/*
 * The host as the guest runtime sees it: the real struct vm_ops (the unit
 * tests put a fake one in their place), and the devices and directories
 * the guests need, made at boot.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
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
	.make_file = sys_make_file,
};

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
}

