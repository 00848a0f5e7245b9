/* The API file systems at boot, and unmounting everything at shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sys/sys-internal.h"

#define MOUNTS_MAX	512
#define MOUNTS_SIZE	(1 << 20)

struct mnt {
	const char	*src, *dir, *type;
	unsigned long	 flags;
	const char	*data;
	mode_t		 mode;
};

/* The kernel is built with DEVTMPFS_MOUNT off, so /dev starts out empty. */
static const struct mnt devmnt =
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755 };

/* Order matters: /dev/pts and /dev/shm live on /dev, cgroup2 on /sys. */
static const struct mnt mnts[] = {
	/* hidepid: a uid sees its own processes only (a guest's QEMU not
	 * nestbox-fetch's argv, nor another guest's); root sees all */
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible",
	    0555 },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "mode=0620,ptmxmode=0666", 0755 },
	{ "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
	{ "tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "nsdelegate", 0755 },
};

static const char *const devlinks[][2] = {
	{ "/proc/self/fd", "/dev/fd" },
	{ "/proc/self/fd/0", "/dev/stdin" },
	{ "/proc/self/fd/1", "/dev/stdout" },
	{ "/proc/self/fd/2", "/dev/stderr" },
};

/* A directory on another device than its parent is a mount point already. */
static int
mounted(const char *dir)
{
	struct stat	 st, up;
	char		 parent[64];

	if (snprintf(parent, sizeof(parent), "%s/..", dir) >= (int)sizeof(parent))
		return 0;
	if (stat(dir, &st) == -1 || stat(parent, &up) == -1)
		return 0;
	return st.st_dev != up.st_dev;
}

static int
mount_one(const struct mnt *m)
{
	if (mkdir(m->dir, m->mode) == -1 && errno != EEXIST)
		return -1;
	if (mounted(m->dir))
		return 0;
	return mount(m->src, m->dir, m->type, m->flags, m->data);
}

/* Runs before the console is open, so the caller reports a failure. */
int
mount_dev(void)
{
	return mount_one(&devmnt);
}

/* Mounts what the rest of the system expects; a failure is logged, not fatal. */
int
mount_early(void)
{
	size_t	 i;
	int	 rv = 0;

	for (i = 0; i < sizeof(mnts) / sizeof(mnts[0]); i++) {
		if (mount_one(&mnts[i]) == -1) {
			log_warn("mount: %s on %s", mnts[i].type, mnts[i].dir);
			rv = -1;
		}
	}
	for (i = 0; i < sizeof(devlinks) / sizeof(devlinks[0]); i++)
		(void)symlink(devlinks[i][0], devlinks[i][1]);
	return rv;
}

/* /proc/self/mounts escapes space, tab, newline and backslash as \ooo. */
static void
unescape(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0');
			s += 3;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/*
 * Turns the text of /proc/self/mounts into the order to unmount in: the
 * reverse of the mount order, so a mount goes before the one it sits on.
 * "/" is left out (the initramfs root can not be unmounted). The strings
 * point into text, which is modified. Malformed lines are skipped; more
 * than max mount points is E2BIG, with the first max in dirs.
 */
int
mounts_parse(char *text, size_t len, char **dirs, size_t max, size_t *n)
{
	char	*cur = text, *end = text + len, *line, *dir, *sp;
	size_t	 i, k = 0;
	int	 overflow = 0;

	while ((line = next_line(&cur, end)) != NULL) {
		/* device, then the mount point; the type must follow */
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		dir = sp + 1;
		if ((sp = strchr(dir, ' ')) == NULL || sp == dir || sp[1] == '\0')
			continue;
		*sp = '\0';
		unescape(dir);
		if (dir[0] != '/' || strcmp(dir, "/") == 0)
			continue;
		if (k == max) {
			overflow = 1;
			break;
		}
		dirs[k++] = dir;
	}
	for (i = 0; i < k / 2; i++) {
		char *t = dirs[i];
		dirs[i] = dirs[k - 1 - i];
		dirs[k - 1 - i] = t;
	}
	*n = k;
	if (overflow) {
		errno = E2BIG;
		return -1;
	}
	return 0;
}

/*
 * Unmounts everything that can be. A busy file system (PID 1 itself holds
 * /dev/console) is first made read-only, which flushes it, then detached.
 */
void
unmount_all(void)
{
	char	*text, *dirs[MOUNTS_MAX];
	size_t	 len, n, i;

	if ((text = read_file("/proc/self/mounts", MOUNTS_SIZE, &len)) == NULL) {
		log_warn("shutdown: /proc/self/mounts");
		return;
	}
	if (mounts_parse(text, len, dirs, MOUNTS_MAX, &n) == -1)
		log_warn("shutdown: unmounting only %zu mount points", n);
	for (i = 0; i < n; i++) {
		if (umount2(dirs[i], 0) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			continue;	/* gone with a parent detached before */
		(void)mount(NULL, dirs[i], NULL, MS_REMOUNT | MS_RDONLY, NULL);
		if (umount2(dirs[i], MNT_DETACH) == -1 && errno != EINVAL)
			log_warn("shutdown: unmount %s", dirs[i]);
	}
	free(text);
}
