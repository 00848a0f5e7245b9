/*
 * cgroup v2 for the guests (mount.c mounts it on /sys/fs/cgroup). Each
 * guest's QEMU, and whatever it starts, runs in its own group under
 * CGROUP_GUESTS, so that a guest, even one that escaped into its QEMU, can
 * not starve PID 1 of the CPU, take the L1's memory or fill its process
 * table, and leaves nothing behind when it stops:
 *
 * - CGROUP_GUESTS has cpu.weight CGROUP_GUESTS_WEIGHT. PID 1 and the
 *   system services (dnsmasq, udhcpc, ntpd, nestbox-fetch) stay in the
 *   root group, where each process weighs as a group of cpu.weight 100
 *   would: when the CPU is short, all guests together get a fifth of what
 *   PID 1 alone may take. Within the group, every guest weighs the same.
 * - A guest's group has memory.max = its memory + CGROUP_OVERHEAD (and
 *   CGROUP_TCG_OVERHEAD more under TCG, whose translation cache QEMU sizes
 *   at 1 GiB), and pids.max CGROUP_PIDS_MAX.
 * - When its QEMU has exited, the group is killed whole (cgroup.kill) and
 *   removed.
 *
 * QEMU is moved into its group by PID 1 right after the fork, so anything
 * QEMU forks is in it; clone3's CLONE_INTO_CGROUP in core/spawn.c would
 * close the moment between fork and the move. The io controller is not
 * used: it weighs only with the BFQ scheduler or io.cost, neither set up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sys/sys.h"

static int	 cg_ok;		/* the guests' group is there */

static int
cg_write(const char *dir, const char *file, const char *value)
{
	char	 path[256];
	size_t	 len = strlen(value);
	int	 fd, rv;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	rv = write(fd, value, len) == (ssize_t)len ? 0 : -1;
	close(fd);
	return rv;
}

/* The guests' group, with its controllers; logs. 0, or -1: guests run without. */
int
cgroup_init(void)
{
	if (cg_write(CGROUP_ROOT, "cgroup.subtree_control", "+cpu +memory +pids") == -1) {
		log_warn("cgroup: %s: controllers cpu, memory, pids", CGROUP_ROOT);
		return -1;
	}
	if (mkdir(CGROUP_GUESTS, 0755) == -1 && errno != EEXIST) {
		log_warn("cgroup: %s", CGROUP_GUESTS);
		return -1;
	}
	if (cg_write(CGROUP_GUESTS, "cpu.weight", CGROUP_GUESTS_WEIGHT) == -1 ||
	    cg_write(CGROUP_GUESTS, "cgroup.subtree_control", "+cpu +memory +pids") == -1) {
		log_warn("cgroup: %s", CGROUP_GUESTS);
		return -1;
	}
	cg_ok = 1;
	log_info("cgroup: guests in %s (cpu.weight %s)", CGROUP_GUESTS,
	    CGROUP_GUESTS_WEIGHT);
	return 0;
}

/*
 * pid (a guest's QEMU) into the guest's own group, limited to memory_max
 * bytes. -1 if the group could not be set up; the guest runs all the same.
 */
int
cgroup_guest(const char *name, pid_t pid, uint64_t memory_max)
{
	char	 dir[192], v[32];

	if (!cg_ok) {
		errno = ENOENT;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", CGROUP_GUESTS, name);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)memory_max);
	if (cg_write(dir, "memory.max", v) == -1 ||
	    cg_write(dir, "pids.max", CGROUP_PIDS_MAX) == -1)
		return -1;
	snprintf(v, sizeof(v), "%d", (int)pid);
	return cg_write(dir, "cgroup.procs", v);
}

/* Kills whatever is left in the guest's group, and removes it; logs. */
void
cgroup_guest_end(const char *name)
{
	char	 dir[192];

	if (!cg_ok)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", CGROUP_GUESTS, name);
	if (access(dir, F_OK) == -1)
		return;
	if (cg_write(dir, "cgroup.kill", "1") == -1)
		log_warn("cgroup: %s: cgroup.kill", dir);
	/* EBUSY while the killed die: the next start finds it and reuses it */
	if (rmdir(dir) == -1 && errno != EBUSY && errno != ENOENT)
		log_warn("cgroup: %s", dir);
}
