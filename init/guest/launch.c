/*
 * STARTING: a guest's run directory and tap, then QEMU's step: its command
 * line, its credentials (GUEST_UID_BASE + slot, in the kvm group, which may
 * open /dev/kvm and /dev/vhost-net) and its log. The tap is created
 * persistent and owned by that user, so QEMU opens it by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/if_tun.h>

#include "guest/vm.h"

int
tap_create(const char *name, uid_t owner, const uint8_t mac[6])
{
	struct ifreq	 ifr;
	int		 fd;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1 ||
	    ioctl(fd, TUNSETOWNER, (unsigned long)owner) == -1 ||
	    ioctl(fd, TUNSETPERSIST, 1UL) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return l2net_port_setup(name, mac);	/* no IPv6, locked to mac, up */
}

void
tap_delete(const char *name)
{
	struct ifreq	 ifr;
	int		 fd;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		ioctl(fd, TUNSETPERSIST, 0UL);
	close(fd);
}

/* The last line QEMU wrote to its log (DIR/qemu.log): why it did not start. */
void
qemu_last_words(const char *dir, char *buf, size_t size)
{
	char	 path[PATH_MAX], tail[1024], *p, *end;
	ssize_t	 n;
	int	 fd;
	off_t	 off;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/qemu.log", dir);
	if ((fd = open_checked(path, O_RDONLY, 0, 0)) == -1)	/* PID 1's file */
		return;
	off = lseek(fd, 0, SEEK_END);
	off = off > (off_t)sizeof(tail) - 1 ? off - (off_t)sizeof(tail) + 1 : 0;
	n = pread(fd, tail, sizeof(tail) - 1, off);
	close(fd);
	if (n <= 0)
		return;
	for (end = tail + n; end > tail && (end[-1] == '\n' || end[-1] == '\r'); end--)
		;
	*end = '\0';
	p = strrchr(tail, '\n');
	p = p != NULL ? p + 1 : tail;
	if (strlen(p) >= size)
		p[size - 1] = '\0';	/* the start of a long line is enough */
	memcpy(buf, p, strlen(p) + 1);
}

static int
fail(struct vm_step *st, int transient)
{
	st->kind = STEP_FAIL;
	st->transient = transient;
	return -1;
}

/*
 * QEMU's step for v, into st: its run directory and tap made (through
 * ops), DIR/console.log made anew for QEMU, then the command line to
 * spawn as the guest's user, stdout and stderr to DIR/qemu.log. Returns 0,
 * or -1 with st->error (transient or not).
 */
int
vm_launch(struct vm *v, const struct vm_ops *ops, struct vm_step *st)
{
	struct qemu_env		 env;
	char			 log[sizeof(((struct vm *)0)->dir) + 16];
	size_t			 i;

	memset(&env, 0, sizeof(env));
	st->kind = STEP_SPAWN;
	st->job = JOB_NONE;
	st->log[0] = '\0';
	if ((ops->mkdir_owned(VM_RUN_DIR, 0, 0, 0755) == -1 && errno != EEXIST) ||
	    ops->mkdir_owned(v->run, vm_uid(v), vm_uid(v), 0700) == -1) {
		snprintf(st->error, sizeof(st->error), "%s: %s", v->run, strerror(errno));
		return fail(st, 1);
	}
	snprintf(v->tap, sizeof(v->tap), "nbtap%d", v->slot);
	if (ops->tap_create(v->tap, vm_uid(v), v->g.mac) == -1) {
		snprintf(st->error, sizeof(st->error), "tap %s on %s: %s", v->tap,
		    NETCONF_BRIDGE, strerror(errno));
		return fail(st, 1);
	}
	snprintf(log, sizeof(log), "%s/console.log", v->dir);
	ops->env(&env);
	env.run_dir = v->run;
	env.console_log = log;
	env.tap = v->tap;
	for (i = 0; i < v->g.ndisks; i++)
		env.disk[i] = v->disk[i];
	env.kernel = v->kernel[0] != '\0' ? v->kernel : NULL;
	env.initrd = v->initrd[0] != '\0' ? v->initrd : NULL;
	env.seed = v->g.cloud_init ? v->seed : NULL;
	if (v->g.accel == ACCEL_KVM && !env.kvm) {
		snprintf(st->error, sizeof(st->error),
		    "accel: kvm, but /dev/kvm is not usable (%s)", kvm_status());
		return fail(st, 0);
	}
	if (qemu_argv(&v->g, &env, st->buf, sizeof(st->buf), st->argv, QEMU_ARGV_MAX) == -1) {
		snprintf(st->error, sizeof(st->error), "no QEMU command line: %s",
		    strerror(errno));
		return fail(st, 0);
	}
	st->kvm = qemu_uses_kvm(&v->g, &env);
	st->groups[0] = KVM_GID;
	st->cred.uid = st->cred.gid = vm_uid(v);
	st->cred.groups = st->groups;
	st->cred.ngroups = 1;
	/* console.log is QEMU's file in PID 1's directory: made anew for each
	 * run (logappend keeps one run), owned by the guest, so that QEMU may
	 * write it and nothing but that file */
	if (ops->make_file(log, vm_uid(v), vm_uid(v), 0600) == -1) {
		snprintf(st->error, sizeof(st->error), "%s: %s", log, strerror(errno));
		return fail(st, 1);
	}
	snprintf(st->log, sizeof(st->log), "%s/qemu.log", v->dir);
	return 0;
}
