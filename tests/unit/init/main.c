#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "unit.h"

char *
tmpdir(void)
{
	char	*d = strdup("/tmp/unit-init.XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void
rmtree(char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

void
put_file(const char *dir, const char *name, const char *text)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

int
log_capture(void)
{
	int	 fd = memfd_create("log", MFD_CLOEXEC);

	assert_true(fd >= 0);
	log_init(fd);
	return fd;
}

char *
log_captured(int fd)
{
	off_t	 len = lseek(fd, 0, SEEK_END);
	char	*s = calloc(1, len + 1);

	assert_non_null(s);
	assert_int_equal(pread(fd, s, len, 0), len);
	log_init(open("/dev/null", O_WRONLY | O_CLOEXEC));
	close(fd);
	return s;
}

char *
dupstr(const char *s)
{
	char	*d = strdup(s);

	assert_non_null(d);
	return d;
}

int
main(void)
{
	const struct suite	*suites[] = {
		&cpu_suite, &log_suite, &modules_suite, &mount_suite,
		&proc_suite, &shutdown_suite, &util_suite,
		&netconf_suite, &dnsmasq_suite, &firewall_suite,
		&kvm_suite, &netlink_suite, &dhcp_suite,
		&metadata_suite, &status_suite,
		&guest_suite, &qemu_suite,
		&fetch_suite,
		&qmp_suite,
		&vm_suite,
		&store_suite, &seed_suite,
		&control_suite,
		&contain_suite,
	};
	struct CMUnitTest	*all;
	size_t			 i, n = 0;

	/* Log lines would clutter the TAP; NESTBOX_UNIT_LOG=1 shows them. */
	if (getenv("NESTBOX_UNIT_LOG") == NULL)
		log_init(open("/dev/null", O_WRONLY | O_CLOEXEC));
	if (event_init() == -1)
		return 1;
	for (i = 0; i < NTESTS(suites); i++)
		n += suites[i]->n;
	if ((all = calloc(n, sizeof(*all))) == NULL)
		return 1;
	for (n = i = 0; i < NTESTS(suites); i++) {
		memcpy(all + n, suites[i]->tests, suites[i]->n * sizeof(*all));
		n += suites[i]->n;
	}
	/* One group, so the output is one TAP plan. */
	setenv("CMOCKA_MESSAGE_OUTPUT", "TAP", 1);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return _cmocka_run_group_tests("init", all, n, NULL, NULL) != 0;
}
