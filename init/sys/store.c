/*
 * The state partition: the ext4 file system labelled nestbox-state that
 * scripts/mkdisk puts after the boot partition. At boot, before the event
 * loop, it is found, checked (e2fsck -p; -y if that leaves errors; -f -y
 * if it will not mount all the same), grown to the end of the disk when
 * the disk is bigger than the image (the MBR entry, then BLKPG so the kernel
 * sees it, then an online resize2fs) and mounted at STATE_DIR. When there
 * is none, or it can not be checked or mounted, STATE_DIR is a tmpfs: the
 * appliance still runs, but what it downloads and its guests' disks live
 * in memory and are gone at the next boot. The status says which.
 *
 * The resize is online (after the mount) on purpose: resize2fs refuses an
 * unmounted file system that was mounted since its last full check, so an
 * offline grow after a later disk resize would need an e2fsck -f first.
 *
 * Nothing here unmounts: unmount_all() at shutdown takes every mount point,
 * STATE_DIR included, after sync(2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/blkpg.h>
#include <linux/fs.h>

#include <cjson/cJSON.h>

#include "md/md.h"
#include "sys/sys-internal.h"

#define E2FSCK		"/usr/sbin/e2fsck"
#define RESIZE2FS	"/usr/sbin/resize2fs"
#define SYSBLOCK	"/sys/class/block"
#define SCAN_MS		10000	/* disk drivers probe asynchronously */
#define SCAN_EVERY_MS	100
#define SCAN_DISK_MS	1000	/* after a disk appeared */
#define GROW_SLACK	2048	/* sectors: less than 1 MiB more is not worth it */
#define FS_SLACK	(32ULL << 20)	/* resize2fs drops a last group this small */
#define TOOL_OUT_MAX	8192	/* of a tool's output, logged */
#define TOOL_LINES_MAX	20
#define MOUNT_FLAGS	(MS_NOATIME | MS_NODEV | MS_NOSUID)

#define MBR_TABLE	446
#define MBR_ENTRY	16
#define MBR_GPT		0xee	/* a protective MBR: the disk is GPT */
#define MBR_DISK_ID	0x6e657374	/* "nest": scripts/mkdisk's */

#define SB_MAGIC	0xef53
#define SB_INCOMPAT_64BIT 0x80

static struct {
	int	 persistent;
	int	 grown;
	int	 repaired;		/* e2fsck -y ran */
	char	 dev[NAME_MAX + 6];	/* /dev/sda2; "" none */
	dev_t	 l1;			/* the L1's own disk; 0: none found */
	char	 fsck[96];		/* what e2fsck said; "" not run */
} st;

static uint16_t
le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t
le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}


/*
 * An MBR's four primary entries. Entries are taken as they are (type 0 is
 * an unused slot); only the 55AA signature is checked. EINVAL without it.
 */
int
mbr_parse(const uint8_t mbr[512], struct mbr_part parts[4])
{
	const uint8_t	*e;
	int		 i;

	if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < 4; i++) {
		e = mbr + MBR_TABLE + i * MBR_ENTRY;
		parts[i].type = e[4];
		parts[i].start = le32(e + 8);
		parts[i].sectors = le32(e + 12);
	}
	return 0;
}

/* CHS of an LBA as fdisk and sfdisk write it: 255 heads, 63 sectors. */
static void
chs(uint8_t *p, uint64_t lba)
{
	uint64_t	 c = lba / (255 * 63);
	unsigned	 h = lba / 63 % 255, s = lba % 63 + 1;

	if (c > 1023) {
		c = 1023;
		h = 254;
		s = 63;
	}
	p[0] = h;
	p[1] = s | (c >> 2 & 0xc0);
	p[2] = c;
}

/*
 * Grows entry index (0-3) to end at the end of a disk of disk_sectors, its
 * start kept, its size capped at UINT32_MAX sectors (an MBR's limit: 2 TiB).
 * Returns 1 if it changed the entry (and its end CHS), 0 if the entry ends
 * less than 1 MiB (GROW_SLACK) before the end already. -1 with EINVAL: no
 * MBR, a bad index, an unused entry, or one past the disk's end (the table
 * is not for this disk); ENOSPC: another partition starts after it.
 */
int
mbr_grow(uint8_t mbr[512], int index, uint64_t disk_sectors)
{
	struct mbr_part	 parts[4], *p;
	uint64_t	 want;
	uint8_t		*e;
	int		 i;

	if (index < 0 || index > 3 || mbr_parse(mbr, parts) == -1)
		goto inval;
	p = &parts[index];
	if (p->type == 0 || p->sectors == 0 ||
	    (uint64_t)p->start + p->sectors > disk_sectors)
		goto inval;
	for (i = 0; i < 4; i++) {
		if (i == index || parts[i].type == 0 || parts[i].sectors == 0)
			continue;
		if (parts[i].start >= p->start) {
			errno = ENOSPC;
			return -1;
		}
	}
	want = disk_sectors - p->start;
	if (want > UINT32_MAX)
		want = UINT32_MAX;
	if (want < (uint64_t)p->sectors + GROW_SLACK)
		return 0;
	e = mbr + MBR_TABLE + index * MBR_ENTRY;
	put_le32(e + 12, want);
	chs(e + 5, p->start + want - 1);
	return 1;
inval:
	errno = EINVAL;
	return -1;
}

/*
 * The volume name of an ext2/3/4 superblock (the 1024 bytes at byte 1024
 * of the partition), NUL-terminated. EINVAL if the magic is not there.
 */
int
ext4_label(const uint8_t sb[1024], char label[17])
{
	if (le16(sb + 56) != SB_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	memcpy(label, sb + 120, 16);
	label[16] = '\0';
	return 0;
}

/* The file system's size in bytes from its superblock; 0 if it makes no sense. */
static uint64_t
ext4_bytes(const uint8_t sb[1024])
{
	uint64_t	 blocks = le32(sb + 4);
	uint32_t	 log = le32(sb + 24);

	if (le32(sb + 0x60) & SB_INCOMPAT_64BIT)
		blocks |= (uint64_t)le32(sb + 0x150) << 32;
	if (log > 6)
		return 0;
	return blocks << (10 + log);
}

/* --- the real system ------------------------------------------------------ */

static int
sys_u64(const char *name, const char *attr, uint64_t *v)
{
	char	 path[PATH_MAX], buf[32], *end;

	snprintf(path, sizeof(path), SYSBLOCK "/%s/%s", name, attr);
	if (read_head(path, buf, sizeof(buf)) <= 0)
		return -1;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0')) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
read_sb(const char *dev, uint8_t sb[1024])
{
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = open(dev, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = pread(fd, sb, 1024, 1024);
	saved = errno;
	close(fd);
	if (n != 1024) {
		errno = n == -1 ? saved : EIO;
		return -1;
	}
	return 0;
}

/*
 * One pass over the block devices under sysblock (their nodes under
 * devdir): the partitions whose file system is labelled STATE_LABEL. The
 * first in name order goes to part (sda2 before sdb2); the count of them is
 * returned.
 */
static int
scan_in(const char *sysblock, const char *devdir, char part[NAME_MAX + 1], int *disks)
{
	DIR		*d;
	struct dirent	*de;
	uint8_t		 sb[1024];
	char		 path[PATH_MAX], label[17];
	int		 found = 0;

	if ((d = opendir(sysblock)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/partition", sysblock, de->d_name);
		if (access(path, F_OK) == -1) {
			if (strncmp(de->d_name, "loop", 4) != 0 &&
			    strncmp(de->d_name, "ram", 3) != 0)
				(*disks)++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", devdir, de->d_name);
		if (read_sb(path, sb) == -1 || ext4_label(sb, label) == -1 ||
		    strcmp(label, STATE_LABEL) != 0)
			continue;
		if (found++ == 0 || strcmp(de->d_name, part) < 0)
			snprintf(part, NAME_MAX + 1, "%s", de->d_name);
	}
	closedir(d);
	return found;
}

static int
scan(char part[NAME_MAX + 1], int *disks)
{
	return scan_in(SYSBLOCK, "/dev", part, disks);
}

/* The disk a partition is on: the parent of its sysfs directory. */
static int
parent_disk_in(const char *sysblock, const char *part, char disk[NAME_MAX + 1])
{
	char	 path[PATH_MAX], real[PATH_MAX], *slash;

	snprintf(path, sizeof(path), "%s/%s", sysblock, part);
	if (realpath(path, real) == NULL)
		return -1;
	if ((slash = strrchr(real, '/')) == NULL || slash == real)
		goto inval;
	*slash = '\0';
	if ((slash = strrchr(real, '/')) == NULL || slash[1] == '\0')
		goto inval;
	snprintf(disk, NAME_MAX + 1, "%s", slash + 1);
	return 0;
inval:
	errno = EINVAL;
	return -1;
}

static int
parent_disk(const char *part, char disk[NAME_MAX + 1])
{
	return parent_disk_in(SYSBLOCK, part, disk);
}

/* scripts/mkdisk's boot sector: its disk id and a bootable FAT16 first. */
static int
mkdisk_mbr(const char *dev)
{
	struct mbr_part	 p[4];
	uint8_t		 mbr[512];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return 0;
	n = pread(fd, mbr, sizeof(mbr), 0);
	close(fd);
	return n == (ssize_t)sizeof(mbr) && mbr_parse(mbr, p) == 0 &&
	    le32(mbr + 440) == MBR_DISK_ID && p[0].type == 0x0e &&
	    mbr[MBR_TABLE] == 0x80;
}

/*
 * The L1's own disk under sysblock (the nodes under devdir), whatever is
 * mounted: the disk of the partition store_init takes (the first labelled
 * STATE_LABEL in name order), else the first whole disk in name order
 * that scripts/mkdisk made (its disk id, a bootable FAT16 first): the
 * disk the L1 booted from when its state partition is gone. Into disk
 * ("sda"); -1 with ENOENT if there is none.
 */
int
l1_disk_find(const char *sysblock, const char *devdir, char disk[NAME_MAX + 1])
{
	struct dirent	**v;
	char		 part[NAME_MAX + 1], path[PATH_MAX];
	int		 disks = 0, i, n, found = -1;

	if (scan_in(sysblock, devdir, part, &disks) > 0 &&
	    parent_disk_in(sysblock, part, disk) == 0)
		return 0;
	if ((n = scandir(sysblock, &v, NULL, alphasort)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/partition", sysblock, v[i]->d_name);
		if (found == -1 && v[i]->d_name[0] != '.' && access(path, F_OK) == -1) {
			snprintf(path, sizeof(path), "%s/%s", devdir, v[i]->d_name);
			if (mkdisk_mbr(path)) {
				snprintf(disk, NAME_MAX + 1, "%s", v[i]->d_name);
				found = i;
			}
		}
		free(v[i]);
	}
	free(v);
	if (found == -1) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static int
find_partition(char part[NAME_MAX + 1])
{
	struct timespec	 ts = { 0, SCAN_EVERY_MS * 1000000L };
	uint64_t	 start = now_ms(), seen = 0;
	int		 n, disks = 0;

	/* The kernel reads a disk's partition table as it adds the disk: a
	 * second after the first disk showed up, its partitions are there. */
	while ((n = scan(part, &disks)) == 0) {
		if (disks > 0 && seen == 0)
			seen = now_ms();
		if (seen != 0 && now_ms() - seen >= SCAN_DISK_MS) {
			log_warnx("state: no partition labelled %s on the disks",
			    STATE_LABEL);
			return -1;
		}
		if (now_ms() - start >= SCAN_MS) {
			log_warnx("state: no partition labelled %s after %d s",
			    STATE_LABEL, SCAN_MS / 1000);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (n > 1)
		log_warnx("state: %d partitions are labelled %s: using %s",
		    n, STATE_LABEL, part);
	return 0;
}

/*
 * Runs a tool to its end, its output (stdout and stderr, the first
 * TOOL_LINES_MAX lines) logged as "state: NAME: line". PID 1 is not in its
 * event loop yet, so waiting for this one pid directly is fine. Returns the
 * exit status, 127 if it could not be run; -1 if it was killed.
 */
static int
run(char *const argv[])
{
	char		 out[TOOL_OUT_MAX + 1], discard[512], why[64], *cur, *line;
	const char	*name = strrchr(argv[0], '/') + 1;
	size_t		 len = 0;
	ssize_t		 r;
	pid_t		 pid;
	int		 p[2], fds[3], status, lines = 0;

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("state: pipe");
		return 127;
	}
	fds[0] = -1;
	fds[1] = fds[2] = p[1];
	pid = spawn(argv, fds);
	close(p[1]);
	if (pid == -1) {
		log_warn("state: %s", argv[0]);
		close(p[0]);
		return 127;
	}
	for (;;) {
		if (len < TOOL_OUT_MAX)
			r = read(p[0], out + len, TOOL_OUT_MAX - len);
		else
			r = read(p[0], discard, sizeof(discard));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len < TOOL_OUT_MAX)
			len += r;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			log_warn("state: waiting for %s", name);
			return -1;
		}
	}
	cur = out;
	while ((line = next_line(&cur, out + len)) != NULL) {
		if (line[0] == '\0')
			continue;
		if (lines++ == TOOL_LINES_MAX) {
			log_info("state: %s: ...", name);
			break;
		}
		log_info("state: %s: %s", name, line);
	}
	if (!WIFEXITED(status)) {
		log_warnx("state: %s %s", name, exit_reason(status, why, sizeof(why)));
		return -1;
	}
	return WEXITSTATUS(status);
}

static const char *
fsck_reason(int rv)
{
	if (rv == -1)
		return "killed";
	if (rv == 127)
		return "could not run";
	if (rv & 4)
		return "errors left uncorrected";
	if (rv & 8)
		return "operational error";
	if (rv & 16)
		return "usage error";
	if (rv & 32)
		return "cancelled";
	return "failed";
}

/* e2fsck -y, -f: even if it is marked clean. 0: fit to mount. */
static int
repair(const char *dev, int full)
{
	char *const	 yes[] = { E2FSCK, "-y", (char *)dev, NULL };
	char *const	 fyes[] = { E2FSCK, "-f", "-y", (char *)dev, NULL };
	const char	*how = full ? "e2fsck -f -y" : "e2fsck -y";
	int		 rv;

	st.repaired = 1;
	rv = run(full ? fyes : yes);
	if (rv >= 0 && rv < 4) {
		snprintf(st.fsck, sizeof(st.fsck), "%s (%s)",
		    rv == 0 ? "clean" : "repaired", how);
		return 0;
	}
	log_warnx("state: %s %s: %s (exit status %d)", how, dev, fsck_reason(rv), rv);
	snprintf(st.fsck, sizeof(st.fsck), "failed: %s (exit status %d)",
	    fsck_reason(rv), rv);
	return -1;
}

/*
 * e2fsck -p; if that leaves errors, e2fsck -y. Exit status 1 (errors
 * fixed) and 2 (fixed, reboot advised: that matters for a mounted root,
 * and this one is not mounted) are fine. -1 if the file system is not fit
 * to mount.
 */
static int
check(const char *dev)
{
	char *const	 preen[] = { E2FSCK, "-p", (char *)dev, NULL };
	int		 rv;

	rv = run(preen);
	if (rv == 127) {
		log_warnx("state: %s could not run: mounting %s unchecked", E2FSCK, dev);
		snprintf(st.fsck, sizeof(st.fsck), "not run");
		return 0;
	}
	if (rv >= 0 && rv < 4) {
		if (rv == 2)
			log_info("state: e2fsck repaired %s and advises a reboot; "
			    "it was not mounted, going on", dev);
		snprintf(st.fsck, sizeof(st.fsck), "%s", rv == 0 ? "clean" : "repaired");
		return 0;
	}
	log_warnx("state: e2fsck -p %s: %s (exit status %d): running e2fsck -y",
	    dev, fsck_reason(rv), rv);
	return repair(dev, 0);
}

/*
 * Makes the partition end at the end of its disk: the MBR entry, then the
 * kernel's idea of it (BLKPG, which works while the disk is in use, where a
 * re-read of the table would not). Also finishes a grow that an earlier
 * boot left half done (the MBR written, the kernel not told). Logs; a
 * failure leaves the partition as it was.
 */
static void
grow_partition(const char *part)
{
	struct blkpg_partition	 bp;
	struct blkpg_ioctl_arg	 arg;
	struct mbr_part		 parts[4];
	uint8_t			 mbr[512];
	uint64_t		 disk_sectors, start, sectors, pno;
	char			 disk[NAME_MAX + 1], path[PATH_MAX + 8], a[32], b[32];
	int			 fd = -1, i, idx = -1, r;

	if (parent_disk(part, disk) == -1) {
		log_warn("state: the disk of %s", part);
		return;
	}
	if (sys_u64(disk, "size", &disk_sectors) == -1 ||
	    sys_u64(part, "start", &start) == -1 ||
	    sys_u64(part, "size", &sectors) == -1 ||
	    sys_u64(part, "partition", &pno) == -1) {
		log_warn("state: reading %s/%s", SYSBLOCK, part);
		return;
	}
	snprintf(path, sizeof(path), "/dev/%s", disk);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("state: %s", path);
		return;
	}
	if (pread(fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr)) {
		log_warn("state: reading the MBR of %s", path);
		goto out;
	}
	if (mbr_parse(mbr, parts) == -1) {
		log_warnx("state: %s has no MBR: not growing %s", disk, part);
		goto out;
	}
	for (i = 0; i < 4; i++) {
		if (parts[i].type == MBR_GPT) {
			log_warnx("state: %s is partitioned with GPT: not growing %s",
			    disk, part);
			goto out;
		}
		if (parts[i].type != 0 && parts[i].start == start)
			idx = i;
	}
	if (idx == -1) {
		log_warnx("state: %s is not a primary partition of %s: not growing",
		    part, disk);
		goto out;
	}
	if ((r = mbr_grow(mbr, idx, disk_sectors)) == -1) {
		if (errno == ENOSPC)
			log_warnx("state: a partition follows %s on %s: not growing",
			    part, disk);
		else
			log_warnx("state: the MBR of %s does not fit the disk's %llu "
			    "sectors: not growing", disk, (unsigned long long)disk_sectors);
		goto out;
	}
	if (r == 1) {
		if (pwrite(fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr) ||
		    fsync(fd) == -1) {
			log_warn("state: writing the MBR of %s", path);
			goto out;
		}
		mbr_parse(mbr, parts);
		log_info("state: partition %s grown from %s to %s, the end of %s",
		    part, size_str(sectors << 9, SIZE_DISK, a, sizeof(a)),
		    size_str((uint64_t)parts[idx].sectors << 9, SIZE_DISK, b,
		    sizeof(b)), disk);
	}
	if (parts[idx].sectors == sectors)
		goto out;
	memset(&bp, 0, sizeof(bp));
	bp.start = (long long)start << 9;
	bp.length = (long long)parts[idx].sectors << 9;
	bp.pno = pno;
	memset(&arg, 0, sizeof(arg));
	arg.op = BLKPG_RESIZE_PARTITION;
	arg.datalen = sizeof(bp);
	arg.data = &bp;
	if (ioctl(fd, BLKPG, &arg) == -1)
		log_warn("state: telling the kernel %s's new size", part);
out:
	close(fd);
}

static uint64_t
fs_mib(const char *dir, int avail)
{
	struct statvfs	 sv;

	if (statvfs(dir, &sv) == -1)
		return 0;
	return (uint64_t)(avail ? sv.f_bavail : sv.f_blocks) * sv.f_frsize >> 20;
}

/*
 * The file system to the partition's size, online: the kernel's
 * EXT4_IOC_RESIZE_FS through resize2fs, which sees the mount.
 */
static void
grow_fs(const char *part, const char *dev, uint64_t fs_bytes)
{
	char *const	 argv[] = { RESIZE2FS, (char *)dev, NULL };
	uint64_t	 sectors, before, after;
	char		 a[32], b[32];
	int		 rv;

	if (sys_u64(part, "size", &sectors) == -1) {
		log_warn("state: reading %s/%s/size", SYSBLOCK, part);
		return;
	}
	if (fs_bytes == 0 || (sectors << 9) < fs_bytes + FS_SLACK)
		return;
	before = fs_mib(STATE_DIR, 0);
	if ((rv = run(argv)) != 0) {
		log_warnx("state: resize2fs %s: exit status %d: keeping %llu MiB",
		    dev, rv, (unsigned long long)before);
		return;
	}
	after = fs_mib(STATE_DIR, 0);
	if (after > before) {
		st.grown = 1;
		log_info("state: grew %s from %s to %s", STATE_LABEL,
		    size_str(before << 20, SIZE_DISK, a, sizeof(a)),
		    size_str(after << 20, SIZE_DISK, b, sizeof(b)));
	}
}

/* mkdir -p */
static int
mkdirs(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
make_dirs(void)
{
	if (mkdirs(STATE_IMAGES, 0755) == -1) {
		log_warn("state: mkdir %s", STATE_IMAGES);
		return -1;
	}
	if (mkdirs(STATE_GUESTS, 0755) == -1) {
		log_warn("state: mkdir %s", STATE_GUESTS);
		return -1;
	}
	return 0;
}

/* What is free for an unprivileged writer (nestbox-fetch), in MiB. */
static int
store_free_mib(uint64_t *mib)
{
	struct statvfs	 sv;

	if (statvfs(STATE_DIR, &sv) == -1)
		return -1;
	*mib = (uint64_t)sv.f_bavail * sv.f_frsize >> 20;
	return 0;
}

static void
render(cJSON *o, int brief)
{
	uint64_t	 mib;

	cJSON_AddBoolToObject(o, "persistent", st.persistent);
	if (st.dev[0] != '\0')
		cJSON_AddStringToObject(o, "device", st.dev);
	else
		cJSON_AddNullToObject(o, "device");
	cJSON_AddNumberToObject(o, "size_mib", (double)fs_mib(STATE_DIR, 0));
	if (!brief && store_free_mib(&mib) == 0)
		cJSON_AddNumberToObject(o, "free_mib", (double)mib);
	cJSON_AddBoolToObject(o, "grown", st.grown);
	if (st.fsck[0] != '\0')
		cJSON_AddStringToObject(o, "fsck", st.fsck);
	else
		cJSON_AddNullToObject(o, "fsck");
}

static struct status_section section = { "state", render, NULL };

/* The L1's own disk, by its device number: no guest is given it. */
static void
l1_disk_note(void)
{
	char		 disk[NAME_MAX + 1], path[PATH_MAX], buf[32];
	unsigned	 maj, min;

	if (l1_disk_find(SYSBLOCK, "/dev", disk) == -1)
		return;
	snprintf(path, sizeof(path), SYSBLOCK "/%s/dev", disk);
	if (read_head(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%u:%u", &maj, &min) != 2)
		return;
	st.l1 = makedev(maj, min);
	log_info("state: %s is the L1's own disk: no guest gets it", disk);
}

/* 1: dev (a whole disk's number) is the L1's own disk */
int
store_is_l1_disk(dev_t dev)
{
	return st.l1 != 0 && st.l1 == dev;
}

/*
 * Finds, checks, grows and mounts the state partition; a tmpfs instead if
 * that fails. Blocks (up to SCAN_MS for the disk, then e2fsck): call it
 * before the event loop. Returns 1 if STATE_DIR is persistent, 0 if it is
 * a tmpfs, -1 if not even its directories could be made.
 */
int
store_init(void)
{
	static int	 added;
	uint8_t		 sb[1024];
	char		 part[NAME_MAX + 1], a[32], b[32];
	uint64_t	 fs_bytes = 0, mib = 0;

	memset(&st, 0, sizeof(st));
	if (!added++)
		status_section_add(&section);
	if (mkdirs(STATE_DIR, 0755) == -1) {
		log_warn("state: mkdir %s", STATE_DIR);
		return -1;
	}
	if (find_partition(part) == -1) {
		l1_disk_note();
		goto tmpfs;
	}
	l1_disk_note();
	snprintf(st.dev, sizeof(st.dev), "/dev/%s", part);
	log_info("state: %s is %s", st.dev, STATE_LABEL);
	if (check(st.dev) == -1)
		goto tmpfs;
	if (read_sb(st.dev, sb) == 0)
		fs_bytes = ext4_bytes(sb);
	grow_partition(part);
	if (mount(st.dev, STATE_DIR, "ext4", MOUNT_FLAGS, NULL) == -1) {
		/* e2fsck -p trusts a file system marked clean; -f does not */
		log_warn("state: mount %s on %s", st.dev, STATE_DIR);
		if (st.repaired)
			goto tmpfs;
		log_warnx("state: checking %s in full", st.dev);
		if (repair(st.dev, 1) == -1)
			goto tmpfs;
		if (mount(st.dev, STATE_DIR, "ext4", MOUNT_FLAGS, NULL) == -1) {
			log_warn("state: mount %s on %s", st.dev, STATE_DIR);
			goto tmpfs;
		}
	}
	grow_fs(part, st.dev, fs_bytes);
	if (make_dirs() == -1) {
		(void)umount2(STATE_DIR, MNT_DETACH);
		goto tmpfs;
	}
	st.persistent = 1;
	store_free_mib(&mib);
	log_info("state: %s on %s: %s, %s free", st.dev, STATE_DIR,
	    size_str(fs_mib(STATE_DIR, 0) << 20, SIZE_DISK, a, sizeof(a)),
	    size_str(mib << 20, SIZE_DISK, b, sizeof(b)));
	return 1;

tmpfs:
	if (mount("state", STATE_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == -1)
		log_warn("state: mount tmpfs on %s", STATE_DIR);
	log_warnx("state: %s is in memory: downloaded images and guests' disks "
	    "will not survive a power off or reboot", STATE_DIR);
	return make_dirs() == -1 ? -1 : 0;
}

int
store_persistent(void)
{
	return st.persistent;
}

