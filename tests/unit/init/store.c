#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "unit.h"

/*
 * The MBR scripts/mkdisk writes for a 1 GiB image with a 64 MiB boot
 * partition, as sfdisk made it: the disk id, then the two entries (FAT16,
 * bootable, at 1 MiB; Linux after it to the end), then 55AA.
 */
static const uint8_t mkdisk_1g[] = {
	0x74, 0x73, 0x65, 0x6e, 0x00, 0x00,
	0x80, 0x20, 0x21, 0x00, 0x0e, 0x49, 0x01, 0x08,
	0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	0x00, 0x49, 0x02, 0x08, 0x83, 0x8a, 0x08, 0x82,
	0x00, 0x08, 0x02, 0x00, 0x00, 0xf8, 0x1d, 0x00,
};
/* sfdisk's second entry for the same layout on a 10 GiB disk */
static const uint8_t grown_10g[16] = {
	0x00, 0x49, 0x02, 0x08, 0x83, 0xfe, 0xff, 0xff,
	0x00, 0x08, 0x02, 0x00, 0x00, 0xf8, 0x3d, 0x01,
};

#define GIB_SECTORS	(1ULL << 21)
#define MBR_BOOT_FLAG	446		/* the first entry's */
#define STATE_START	133120		/* 65 MiB */

static void
mkdisk_mbr(uint8_t mbr[512])
{
	size_t	 i;

	for (i = 0; i < 440; i++)
		mbr[i] = i * 7;		/* boot code, which must stay as it is */
	memcpy(mbr + 440, mkdisk_1g, sizeof(mkdisk_1g));
	memset(mbr + 440 + sizeof(mkdisk_1g), 0, 510 - 440 - sizeof(mkdisk_1g));
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
}

static void
mbr_parse_mkdisk(void **state)
{
	struct mbr_part	 p[4];
	uint8_t		 mbr[512];

	(void)state;
	mkdisk_mbr(mbr);
	assert_int_equal(mbr_parse(mbr, p), 0);
	assert_int_equal(p[0].type, 0x0e);
	assert_int_equal(p[0].start, 2048);
	assert_int_equal(p[0].sectors, 64 * 2048);
	assert_int_equal(p[1].type, 0x83);
	assert_int_equal(p[1].start, STATE_START);
	assert_int_equal(p[1].sectors, GIB_SECTORS - STATE_START);
	assert_int_equal(p[2].type, 0);
	assert_int_equal(p[3].type, 0);
	mbr[511] = 0;
	assert_int_equal(mbr_parse(mbr, p), -1);
	assert_int_equal(errno, EINVAL);
}

static void
mbr_grow_to_10g(void **state)
{
	struct mbr_part	 p[4];
	uint8_t		 mbr[512], before[512];

	(void)state;
	mkdisk_mbr(mbr);
	memcpy(before, mbr, 512);
	assert_int_equal(mbr_grow(mbr, 1, 10 * GIB_SECTORS), 1);
	/* the entry, byte for byte as sfdisk writes it; nothing else moved */
	assert_memory_equal(mbr + 446 + 16, grown_10g, 16);
	assert_memory_equal(mbr, before, 446 + 16);
	assert_memory_equal(mbr + 446 + 32, before + 446 + 32, 512 - 446 - 32);
	assert_int_equal(mbr_parse(mbr, p), 0);
	assert_int_equal(p[1].start, STATE_START);
	assert_int_equal(p[1].sectors, 10 * GIB_SECTORS - STATE_START);
	/* again: nothing to do */
	assert_int_equal(mbr_grow(mbr, 1, 10 * GIB_SECTORS), 0);
	assert_memory_equal(mbr + 446 + 16, grown_10g, 16);
}

static void
mbr_grow_already(void **state)
{
	uint8_t		 mbr[512], before[512];

	(void)state;
	mkdisk_mbr(mbr);
	memcpy(before, mbr, 512);
	assert_int_equal(mbr_grow(mbr, 1, GIB_SECTORS), 0);
	/* less than 1 MiB more is not worth a resize */
	assert_int_equal(mbr_grow(mbr, 1, GIB_SECTORS + 2047), 0);
	assert_memory_equal(mbr, before, 512);
	assert_int_equal(mbr_grow(mbr, 1, GIB_SECTORS + 2048), 1);
	/* the end CHS of a small disk is a real one: LBA 2099199 */
	assert_int_equal(mbr[446 + 16 + 5], 2099199 / 63 % 255);
	assert_int_equal(mbr[446 + 16 + 6], (2099199 % 63 + 1) | ((2099199 / 16065) >> 2 & 0xc0));
	assert_int_equal(mbr[446 + 16 + 7], (2099199 / 16065) & 0xff);
}

static void
mbr_grow_2t_cap(void **state)
{
	struct mbr_part	 p[4];
	uint8_t		 mbr[512];

	(void)state;
	mkdisk_mbr(mbr);
	assert_int_equal(mbr_grow(mbr, 1, 4096 * GIB_SECTORS), 1);	/* 4 TiB */
	assert_int_equal(mbr_parse(mbr, p), 0);
	assert_int_equal(p[1].start, STATE_START);
	assert_int_equal(p[1].sectors, UINT32_MAX);
	assert_int_equal(mbr_grow(mbr, 1, 4096 * GIB_SECTORS), 0);
}

static void
mbr_grow_refused(void **state)
{
	struct mbr_part	 p[4];
	uint8_t		 mbr[512], before[512];

	(void)state;
	mkdisk_mbr(mbr);
	memcpy(before, mbr, 512);
	/* the boot partition has the state partition after it */
	assert_int_equal(mbr_grow(mbr, 0, 10 * GIB_SECTORS), -1);
	assert_int_equal(errno, ENOSPC);
	/* a table that does not fit the disk: it shrank, or it is another's */
	assert_int_equal(mbr_grow(mbr, 1, GIB_SECTORS - 1), -1);
	assert_int_equal(errno, EINVAL);
	/* unused entries, bad indexes */
	assert_int_equal(mbr_grow(mbr, 2, 10 * GIB_SECTORS), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mbr_grow(mbr, -1, 10 * GIB_SECTORS), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mbr_grow(mbr, 4, 10 * GIB_SECTORS), -1);
	assert_int_equal(errno, EINVAL);
	assert_memory_equal(mbr, before, 512);
	/* a partition in entry 0 that lies after entry 1's */
	memcpy(mbr + 446, mbr + 446 + 16, 16);
	memcpy(mbr + 446 + 16, before + 446, 16);
	assert_int_equal(mbr_grow(mbr, 1, 10 * GIB_SECTORS), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(mbr_grow(mbr, 0, 10 * GIB_SECTORS), 1);
	assert_int_equal(mbr_parse(mbr, p), 0);
	assert_int_equal(p[0].sectors, 10 * GIB_SECTORS - STATE_START);
	/* no signature */
	mkdisk_mbr(mbr);
	mbr[510] = 0;
	assert_int_equal(mbr_grow(mbr, 1, 10 * GIB_SECTORS), -1);
	assert_int_equal(errno, EINVAL);
}

static void
ext4_label_by_hand(void **state)
{
	uint8_t	 sb[1024];
	char	 label[17];

	(void)state;
	memset(sb, 0, sizeof(sb));
	assert_int_equal(ext4_label(sb, label), -1);
	assert_int_equal(errno, EINVAL);
	sb[56] = 0x53;
	sb[57] = 0xef;
	assert_int_equal(ext4_label(sb, label), 0);
	assert_string_equal(label, "");
	memcpy(sb + 120, "nestbox-state\0\0\0", 16);
	assert_int_equal(ext4_label(sb, label), 0);
	assert_string_equal(label, STATE_LABEL);
	memcpy(sb + 120, "0123456789abcdefXYZ", 19);	/* 16 bytes, no NUL */
	assert_int_equal(ext4_label(sb, label), 0);
	assert_string_equal(label, "0123456789abcdef");
	sb[56] = 0x54;
	assert_int_equal(ext4_label(sb, label), -1);
	assert_int_equal(errno, EINVAL);
}

/* A real superblock, from the host's mke2fs as scripts/mkdisk runs it. */
static void
ext4_label_mke2fs(void **state)
{
	static const char *const paths[] = { "/usr/sbin/mke2fs", "/sbin/mke2fs", NULL };
	const char *const *pp;
	uint8_t		 sb[1024];
	char		 label[17], img[4096], *dir;
	int		 fd, status;
	pid_t		 pid;

	(void)state;
	for (pp = paths; *pp != NULL && access(*pp, X_OK) == -1; pp++)
		;
	if (*pp == NULL)
		skip();
	dir = tmpdir();
	snprintf(img, sizeof(img), "%s/state.img", dir);
	{
		char *const argv[] = { (char *)*pp, "-q", "-F", "-t", "ext4", "-L", STATE_LABEL,
		    "-m", "0", img, "8M", NULL };
		int	 fds[3] = { -1, -1, -1 };

		assert_true((pid = spawn(argv, fds)) > 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_true((fd = open(img, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(pread(fd, sb, sizeof(sb), 1024), sizeof(sb));
	close(fd);
	assert_int_equal(ext4_label(sb, label), 0);
	assert_string_equal(label, STATE_LABEL);
	rmtree(dir);
}

/* A fake /sys/class/block (symlinks into a devices tree, as the kernel's)
 * and /dev (files holding a boot sector or a superblock). */
static void
fake_block(const char *dir, const char *name, const char *parent)
{
	char	 path[512], target[512];

	if (parent == NULL)
		snprintf(path, sizeof(path), "%s/devices/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s/devices/%s/%s", dir, parent, name);
	assert_int_equal(mkdir(path, 0755), 0);
	if (parent != NULL) {
		strcat(path, "/partition");
		assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0644)), 0);
		snprintf(target, sizeof(target), "../devices/%s/%s", parent, name);
	} else
		snprintf(target, sizeof(target), "../devices/%s", name);
	snprintf(path, sizeof(path), "%s/block/%s", dir, name);
	assert_int_equal(symlink(target, path), 0);
}

static void
fake_dev(const char *dir, const char *name, const uint8_t *data, size_t len, off_t at)
{
	char	 path[512];
	int	 fd;

	snprintf(path, sizeof(path), "%s/dev/%s", dir, name);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(pwrite(fd, data, len, at), (ssize_t)len);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
}

static void
l1_disk_by_identity(void **state)
{
	char		*dir, sys[512], dev[512], disk[NAME_MAX + 1];
	uint8_t		 sb[1024], mbr[512];

	(void)state;
	dir = tmpdir();
	snprintf(sys, sizeof(sys), "%s/devices", dir);
	assert_int_equal(mkdir(sys, 0755), 0);
	snprintf(sys, sizeof(sys), "%s/block", dir);
	assert_int_equal(mkdir(sys, 0755), 0);
	snprintf(dev, sizeof(dev), "%s/dev", dir);
	assert_int_equal(mkdir(dev, 0755), 0);
	/* nothing of nestbox's */
	fake_block(dir, "sda", NULL);
	fake_block(dir, "sda1", "sda");
	fake_block(dir, "sdb", NULL);
	fake_block(dir, "sdb2", "sdb");
	assert_int_equal(l1_disk_find(sys, dev, disk), -1);
	assert_int_equal(errno, ENOENT);
	/* the boot disk by its boot sector, the state partition unreadable */
	mkdisk_mbr(mbr);
	mbr[MBR_BOOT_FLAG] = 0x80;
	fake_dev(dir, "sdb", mbr, sizeof(mbr), 0);
	assert_int_equal(l1_disk_find(sys, dev, disk), 0);
	assert_string_equal(disk, "sdb");
	mbr[440] ^= 1;			/* another disk id: not ours */
	fake_dev(dir, "sdb", mbr, sizeof(mbr), 0);
	assert_int_equal(l1_disk_find(sys, dev, disk), -1);
	/* the state partition's disk, whatever is mounted */
	memset(sb, 0, sizeof(sb));
	sb[56] = 0x53;
	sb[57] = 0xef;
	memcpy(sb + 120, STATE_LABEL, strlen(STATE_LABEL));
	fake_dev(dir, "sdb2", sb, sizeof(sb), 1024);
	assert_int_equal(l1_disk_find(sys, dev, disk), 0);
	assert_string_equal(disk, "sdb");
	/* a second one (a nestbox image as a guest's disk): the one the L1 took */
	fake_dev(dir, "sda1", sb, sizeof(sb), 1024);
	assert_int_equal(l1_disk_find(sys, dev, disk), 0);
	assert_string_equal(disk, "sda");
	rmtree(dir);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(mbr_parse_mkdisk),
	cmocka_unit_test(mbr_grow_to_10g),
	cmocka_unit_test(mbr_grow_already),
	cmocka_unit_test(mbr_grow_2t_cap),
	cmocka_unit_test(mbr_grow_refused),
	cmocka_unit_test(ext4_label_by_hand),
	cmocka_unit_test(ext4_label_mke2fs),
	cmocka_unit_test(l1_disk_by_identity),
};
const struct suite store_suite = { tests, NTESTS(tests) };
