#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "unit.h"

static const char	 user_data[] = "#cloud-config\n"
			    "password: passw0rd\n"
			    "chpasswd: { expire: False }\n"
			    "ssh_pwauth: True\n";
static const char	 meta_data[] = "instance-id: iid-web1\nlocal-hostname: web1\n";
static const char	 network_config[] = "version: 2\n"
			    "ethernets:\n  eth0:\n    dhcp4: true\n";

/* The first tool of paths that exists; NULL: none (the check is skipped). */
static const char *
tool(const char *const paths[])
{
	for (; *paths != NULL; paths++)
		if (access(*paths, X_OK) == 0)
			return *paths;
	return NULL;
}

/* Runs argv with its output into out (NULL: /dev/null); its exit status. */
static int
run(char *const argv[], const char *out)
{
	int	 fds[3] = { -1, -1, -1 }, status;
	pid_t	 pid;

	if (out != NULL) {
		assert_true((fds[1] = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644)) >= 0);
		fds[2] = fds[1];
	}
	assert_true((pid = spawn(argv, fds)) > 0);
	if (fds[1] != -1)
		close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static char *
write_image(const char *dir, const uint8_t *img, size_t len)
{
	char	*path;
	FILE	*f;

	assert_true(asprintf(&path, "%s/seed.iso", dir) > 0);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(img, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
check_file(const char *dir, const char *name, const char *want)
{
	char	 path[4096], *got;
	size_t	 len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(got = read_file(path, 1 << 20, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

static size_t
count_files(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static const char *const bsdtar[] = { "/usr/bin/bsdtar", "/bin/bsdtar", NULL };

/*
 * Extracts the image with libarchive (bsdtar), which reads the Joliet
 * names as Linux does, and checks every file byte for byte.
 */
static void
extract_and_check(const uint8_t *img, size_t len, const char *ud, const char *md,
    const char *nc)
{
	const char	*bin = tool(bsdtar);
	char		*dir = tmpdir(), *iso, out[4096], log[4096];

	assert_non_null(bin);
	iso = write_image(dir, img, len);
	snprintf(out, sizeof(out), "%s/x", dir);
	snprintf(log, sizeof(log), "%s/bsdtar.log", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	{
		char *const argv[] = { (char *)bin, "-xf", iso, "-C", out, NULL };

		assert_int_equal(run(argv, log), 0);
	}
	check_file(out, "user-data", ud);
	check_file(out, "meta-data", md);
	if (nc != NULL)
		check_file(out, "network-config", nc);
	assert_int_equal(count_files(out), nc != NULL ? 3 : 2);
	/* bsdtar writes the files read-only */
	{
		char *const argv[] = { "/bin/chmod", "-R", "u+w", out, NULL };

		run(argv, NULL);
	}
	free(iso);
	rmtree(dir);
}

static void
seed_three_files(void **state)
{
	uint8_t	*img;
	size_t	 len;

	(void)state;
	if (tool(bsdtar) == NULL)
		skip();
	assert_int_equal(seed_iso(user_data, meta_data, network_config, &img, &len), 0);
	assert_int_equal(len % 2048, 0);
	assert_int_equal(len, (25 + 3) * 2048);	/* descriptors, tables, dirs, a sector each */
	/* the primary volume descriptor, its label and size */
	assert_int_equal(img[16 * 2048], 1);
	assert_memory_equal(img + 16 * 2048 + 1, "CD001", 5);
	assert_memory_equal(img + 16 * 2048 + 40, "CIDATA                          ", 32);
	assert_int_equal(img[16 * 2048 + 80], 28);
	/* Joliet's, UCS-2 level 3 */
	assert_int_equal(img[17 * 2048], 2);
	assert_memory_equal(img + 17 * 2048 + 88, "%/E", 3);
	assert_memory_equal(img + 17 * 2048 + 40, "\0C\0I\0D\0A\0T\0A\0 ", 14);
	/* the terminator */
	assert_int_equal(img[18 * 2048], 255);
	assert_memory_equal(img + 18 * 2048 + 1, "CD001", 5);
	extract_and_check(img, len, user_data, meta_data, network_config);
	free(img);
}

static void
seed_two_files(void **state)
{
	uint8_t	*img;
	size_t	 len;

	(void)state;
	if (tool(bsdtar) == NULL)
		skip();
	assert_int_equal(seed_iso(user_data, "", NULL, &img, &len), 0);
	assert_int_equal(len, (25 + 1) * 2048);	/* an empty meta-data takes no sector */
	extract_and_check(img, len, user_data, "", NULL);
	free(img);
}

/* A file of exactly a sector, and one a byte over it. */
static void
seed_sector_edges(void **state)
{
	char	*a = malloc(2049), *b = malloc(2050);
	uint8_t	*img;
	size_t	 len;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	if (tool(bsdtar) == NULL) {
		free(a);
		free(b);
		skip();
	}
	memset(a, 'a', 2048);
	a[2048] = '\0';
	memset(b, 'b', 2049);
	b[2049] = '\0';
	assert_int_equal(seed_iso(a, b, "", &img, &len), 0);
	assert_int_equal(len, (25 + 1 + 2) * 2048);
	extract_and_check(img, len, a, b, "");
	free(img);
	free(a);
	free(b);
}

static void
seed_reproducible(void **state)
{
	uint8_t	*a, *b;
	size_t	 alen, blen;

	(void)state;
	assert_int_equal(seed_iso(user_data, meta_data, NULL, &a, &alen), 0);
	assert_int_equal(seed_iso(user_data, meta_data, NULL, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
}

static void
seed_limits(void **state)
{
	size_t	 max = (1 << 20) - 25 * 2048;	/* all that fits after the directories */
	char	*big = malloc(max + 2);
	uint8_t	*img = NULL;
	size_t	 len;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', max + 1);
	big[max + 1] = '\0';
	assert_int_equal(seed_iso(big, "", NULL, &img, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(img);
	big[max] = '\0';
	assert_int_equal(seed_iso(big, "", NULL, &img, &len), 0);
	assert_int_equal(len, 1 << 20);
	free(img);
	img = NULL;
	assert_int_equal(seed_iso(big, "m", NULL, &img, &len), -1);	/* one sector more */
	assert_int_equal(errno, EFBIG);
	assert_int_equal(seed_iso(NULL, "", NULL, &img, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(seed_iso("", NULL, NULL, &img, &len), -1);
	assert_int_equal(errno, EINVAL);
	free(big);
}

/* The label as cloud-init's blkid (and isoinfo) see it, when they are here. */
static void
seed_label(void **state)
{
	static const char *const blkid[] = { "/usr/sbin/blkid", "/sbin/blkid", NULL };
	static const char *const isoinfo[] = { "/usr/bin/isoinfo", NULL };
	const char	*bin;
	char		*dir = tmpdir(), *iso, out[4096], *text;
	uint8_t		*img;
	size_t		 len;
	int		 checked = 0;

	(void)state;
	assert_int_equal(seed_iso(user_data, meta_data, network_config, &img, &len), 0);
	iso = write_image(dir, img, len);
	snprintf(out, sizeof(out), "%s/out", dir);
	if ((bin = tool(blkid)) != NULL) {
		char *const argv[] = { (char *)bin, "-p", "-o", "export", iso, NULL };

		assert_int_equal(run(argv, out), 0);
		assert_non_null(text = read_file(out, 65536, NULL));
		assert_non_null(strstr(text, "\nTYPE=iso9660\n"));
		assert_non_null(strstr(text, "\nLABEL=CIDATA\n"));
		free(text);
		checked++;
	}
	if ((bin = tool(isoinfo)) != NULL) {
		char *const argv[] = { (char *)bin, "-d", "-i", iso, NULL };

		assert_int_equal(run(argv, out), 0);
		assert_non_null(text = read_file(out, 65536, NULL));
		assert_non_null(strstr(text, "Volume id: CIDATA\n"));
		assert_non_null(strstr(text, "Joliet with UCS level 3 found"));
		free(text);
		checked++;
	}
	free(img);
	free(iso);
	rmtree(dir);
	if (!checked)
		skip();
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(seed_three_files),
	cmocka_unit_test(seed_two_files),
	cmocka_unit_test(seed_sector_edges),
	cmocka_unit_test(seed_reproducible),
	cmocka_unit_test(seed_limits),
	cmocka_unit_test(seed_label),
};
const struct suite seed_suite = { tests, NTESTS(tests) };
