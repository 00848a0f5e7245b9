#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void
mounts_reverse(void **state)
{
	char	*text = dupstr(
	    "rootfs / rootfs rw 0 0\n"
	    "devtmpfs /dev devtmpfs rw,nosuid,size=1024k,mode=755 0 0\n"
	    "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	    "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	    "devpts /dev/pts devpts rw,nosuid,noexec,relatime,mode=620 0 0\n"
	    "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec 0 0\n"
	    "/dev/sda2 /mnt/state\\040dir ext4 rw,relatime 0 0\n");
	char	*dirs[16];
	size_t	 n;

	(void)state;
	assert_int_equal(mounts_parse(text, strlen(text), dirs, 16, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(dirs[0], "/mnt/state dir");
	assert_string_equal(dirs[1], "/sys/fs/cgroup");
	assert_string_equal(dirs[2], "/dev/pts");
	assert_string_equal(dirs[3], "/sys");
	assert_string_equal(dirs[4], "/proc");
	assert_string_equal(dirs[5], "/dev");
	free(text);
}

static void
mounts_malformed(void **state)
{
	char	*text = dupstr(
	    "\n"
	    "nospace\n"
	    "dev /onlytwo\n"
	    "dev relative ext4 rw 0 0\n"
	    "dev  ext4 rw 0 0\n"
	    "x /a\\134b\\011c\\012d\\0 tmpfs rw 0 0\n"
	    "x /trailing\\ tmpfs rw 0 0\n"
	    "x /overmounted tmpfs rw 0 0\n"
	    "x /overmounted tmpfs rw 0 0\n"
	    "x /last tmpfs");		/* no newline */
	char	*dirs[16];
	size_t	 n;

	(void)state;
	assert_int_equal(mounts_parse(text, strlen(text), dirs, 16, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(dirs[0], "/last");
	assert_string_equal(dirs[1], "/overmounted");
	assert_string_equal(dirs[2], "/overmounted");
	assert_string_equal(dirs[3], "/trailing\\");
	assert_string_equal(dirs[4], "/a\\b\tc\nd\\0");
	free(text);
}

static void
mounts_overflow(void **state)
{
	char	*text = dupstr("a /1 t o\na /2 t o\na /3 t o\na /4 t o\n");
	char	*dirs[3];
	size_t	 n;

	(void)state;
	assert_int_equal(mounts_parse(text, strlen(text), dirs, 3, &n), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(n, 3);
	assert_string_equal(dirs[0], "/3");
	assert_string_equal(dirs[2], "/1");
	free(text);
	text = dupstr("");
	assert_int_equal(mounts_parse(text, 0, dirs, 3, &n), 0);
	assert_int_equal(n, 0);
	free(text);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(mounts_reverse),
	cmocka_unit_test(mounts_malformed),
	cmocka_unit_test(mounts_overflow),
};
const struct suite mount_suite = { tests, NTESTS(tests) };
