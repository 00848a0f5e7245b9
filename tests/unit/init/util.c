#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void
read_file_limits(void **state)
{
	char	*dir = tmpdir(), path[4096], *s, big[10000];
	size_t	 len;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_file(dir, "big", big);
	put_file(dir, "empty", "");
	snprintf(path, sizeof(path), "%s/big", dir);
	assert_non_null(s = read_file(path, 9999, &len));
	assert_int_equal(len, 9999);
	assert_int_equal(s[9999], '\0');
	free(s);
	assert_null(read_file(path, 9998, &len));
	assert_int_equal(errno, EFBIG);
	assert_null(read_file(path, 0, &len));
	assert_int_equal(errno, EFBIG);
	snprintf(path, sizeof(path), "%s/empty", dir);
	assert_non_null(s = read_file(path, 0, &len));
	assert_int_equal(len, 0);
	assert_string_equal(s, "");
	free(s);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_null(read_file(path, 100, &len));
	assert_int_equal(errno, ENOENT);
	/* /proc files say they are empty; all of one is read */
	assert_non_null(s = read_file("/proc/self/mounts", 1 << 20, &len));
	assert_true(len > 0 && strlen(s) == len);
	free(s);
	rmtree(dir);
}

static void
read_head_truncates(void **state)
{
	char	*dir = tmpdir(), path[4096], buf[5];

	(void)state;
	put_file(dir, "f", "abcdefgh");
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(read_head(path, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(read_head(path, buf, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(read_head(path, buf, 0), -1);
	assert_int_equal(errno, EINVAL);
	rmtree(dir);
}

static void
next_line_split(void **state)
{
	char	 text[] = "a\n\nbc";	/* room for the NUL after "bc" */
	char	*cur = text, *end = text + 5;

	(void)state;
	assert_string_equal(next_line(&cur, end), "a");
	assert_string_equal(next_line(&cur, end), "");
	assert_string_equal(next_line(&cur, end), "bc");
	assert_null(next_line(&cur, end));
	assert_null(next_line(&cur, end));
}

static void
log_format(void **state)
{
	char	*s, *big;
	int	 fd;

	(void)state;
	fd = log_capture();
	log_info("ready");
	errno = ENOENT;
	log_warn("modules: %s", "/etc/nestbox/modules");
	assert_int_equal(errno, ENOENT);	/* kept for the caller */
	log_warnx("plain %d", 42);
	s = log_captured(fd);
	assert_string_equal(s, "nestbox: ready\n"
	    "nestbox: modules: /etc/nestbox/modules: No such file or directory\n"
	    "nestbox: plain 42\n");
	free(s);

	/* an overlong message is cut, marked, and still one line */
	big = calloc(1, 5000);
	assert_non_null(big);
	memset(big, 'y', 4999);
	fd = log_capture();
	errno = EIO;
	log_warn("%s", big);
	s = log_captured(fd);
	assert_int_equal(strlen(s), 1024);
	assert_int_equal(strncmp(s, "nestbox: yyy", 12), 0);
	assert_string_equal(s + 1020, "...\n");
	free(s);
	free(big);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(read_file_limits),
	cmocka_unit_test(read_head_truncates),
	cmocka_unit_test(next_line_split),
};
static const struct CMUnitTest log_tests[] = {
	cmocka_unit_test(log_format),
};
const struct suite util_suite = { tests, NTESTS(tests) };
const struct suite log_suite = { log_tests, NTESTS(log_tests) };
