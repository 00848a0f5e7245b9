#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

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
	    "nestbox: warning: modules: /etc/nestbox/modules: No such file or directory\n"
	    "nestbox: warning: plain 42\n");
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
	assert_int_equal(strncmp(s, "nestbox: warning: yyy", 21), 0);
	assert_string_equal(s + 1020, "...\n");
	free(s);
	free(big);
}

/* JSON's white space, '\n' included (modules.c only sees cut lines). */
static void
is_space_set(void **state)
{
	const char	*yes = " \t\r\n", *no = "a\v\f0-";

	(void)state;
	for (; *yes != '\0'; yes++)
		assert_true(is_space(*yes));
	for (; *no != '\0'; no++)
		assert_false(is_space(*no));
	assert_false(is_space('\0'));
}

static void
dns_labels(void **state)
{
	static const char *const good[] = {
		"a", "A", "0", "nestbox-1", "a-b-c", "9lives", "MiXeD",
		"012345678901234567890123456789012345678901234567890123456789012",
	};
	static const char *const bad[] = {
		"", "-a", "a-", "a.b", "a_b", "a b", "\xc3\xa9",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(good); i++)
		if (!dns_label_ok(good[i], strlen(good[i])))
			fail_msg("%s: refused", good[i]);
	for (i = 0; i < NTESTS(bad); i++)
		if (dns_label_ok(bad[i], strlen(bad[i])))
			fail_msg("%s: accepted", bad[i]);
	/* len, not the NUL, ends it */
	assert_true(dns_label_ok("ab-", 2));
	assert_false(dns_label_ok("ab", 0));
}

static void
dns_names(void **state)
{
	static const char *const good[] = {
		"a", "example.com", "c.my-project.internal", "A.B.C", "1.2.3.4",
	};
	static const char *const bad[] = {
		"", ".", "a.", ".a", "a..b", "a-.b", "a.-b", "a_b.c", "a b",
	};
	char	 name[300];
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(good); i++)
		if (!dns_name_ok(good[i], strlen(good[i])))
			fail_msg("%s: refused", good[i]);
	for (i = 0; i < NTESTS(bad); i++)
		if (dns_name_ok(bad[i], strlen(bad[i])))
			fail_msg("%s: accepted", bad[i]);
	/* 253 in all: four labels of 63 and dots */
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	assert_true(dns_name_ok(name, 253));
	assert_false(dns_name_ok(name, 254));
	memset(name, 'a', 70);		/* a label of 64 */
	name[5] = '.';
	assert_false(dns_name_ok(name, 70));
}

static void
sha256_hex(void **state)
{
	char	 s[66];

	(void)state;
	memset(s, 'a', 64);
	s[64] = '\0';
	assert_true(sha256_hex_ok(s));
	memcpy(s, "0123456789abcdefABCDEF", 22);
	assert_true(sha256_hex_ok(s));
	s[63] = 'g';
	assert_false(sha256_hex_ok(s));
	s[63] = 'G';
	assert_false(sha256_hex_ok(s));
	s[63] = 0x10;		/* | 0x20 would make it '0' */
	assert_false(sha256_hex_ok(s));
	s[63] = 'a';
	s[64] = 'a';		/* 65 digits */
	s[65] = '\0';
	assert_false(sha256_hex_ok(s));
	s[63] = '\0';		/* 63 */
	assert_false(sha256_hex_ok(s));
	assert_false(sha256_hex_ok(""));
}

/* The two scales, as store.c and nestbox-fetch printed them before. */
static void
size_strings(void **state)
{
	static const struct {
		uint64_t	 n;
		enum size_scale	 scale;
		const char	*want;
	} t[] = {
		{ 0, SIZE_DISK, "0 MiB" },
		{ 5ULL << 20, SIZE_DISK, "5 MiB" },
		{ 1023ULL << 20, SIZE_DISK, "1023 MiB" },
		{ 1ULL << 30, SIZE_DISK, "1.0 GiB" },
		{ 2047ULL << 20, SIZE_DISK, "1.9 GiB" },	/* cut, not rounded */
		{ 20ULL << 30, SIZE_DISK, "20.0 GiB" },
		{ 0, SIZE_BYTES, "0 B" },
		{ 1023, SIZE_BYTES, "1023 B" },
		{ 300 << 10, SIZE_BYTES, "300 KiB" },
		{ 1536ULL << 10, SIZE_BYTES, "1.5 MiB" },
		{ 10ULL << 20, SIZE_BYTES, "10 MiB" },
		{ 1536ULL << 20, SIZE_BYTES, "1536 MiB" },
		{ (10ULL << 30) - 1, SIZE_BYTES, "10239 MiB" },
		{ 20475ULL << 20, SIZE_BYTES, "20.0 GiB" },	/* rounded */
	};
	char	 buf[32];
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(t); i++)
		assert_string_equal(size_str(t[i].n, t[i].scale, buf, sizeof(buf)),
		    t[i].want);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(read_file_limits),
	cmocka_unit_test(read_head_truncates),
	cmocka_unit_test(next_line_split),
	cmocka_unit_test(is_space_set),
	cmocka_unit_test(dns_labels),
	cmocka_unit_test(dns_names),
	cmocka_unit_test(sha256_hex),
	cmocka_unit_test(size_strings),
};
/* The level after the name: none for info, "warning: ", "fatal: ". */
static void
log_levels(void **state)
{
	char	*s;
	pid_t	 pid;
	int	 fd, status;

	(void)state;
	fd = log_capture();
	log_info("guest web: running");
	log_warnx("guest web: %s", "refused");
	errno = EACCES;
	log_warn("state: mkdir %s", "/x");
	s = log_captured(fd);
	assert_string_equal(s, "nestbox: guest web: running\n"
	    "nestbox: warning: guest web: refused\n"
	    "nestbox: warning: state: mkdir /x: Permission denied\n");
	free(s);

	/* fatal and fatalx exit (not being PID 1), after one line */
	fd = log_capture();
	if ((pid = fork()) == 0)
		fatalx("no event loop");
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	if ((pid = fork()) == 0) {
		errno = ENOENT;
		fatal("signalfd");
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	s = log_captured(fd);
	assert_string_equal(s, "nestbox: fatal: no event loop\n"
	    "nestbox: fatal: signalfd: No such file or directory\n");
	free(s);
}

static const struct CMUnitTest log_tests[] = {
	cmocka_unit_test(log_format),
	cmocka_unit_test(log_levels),
};
const struct suite util_suite = { tests, NTESTS(tests) };
const struct suite log_suite = { log_tests, NTESTS(log_tests) };
