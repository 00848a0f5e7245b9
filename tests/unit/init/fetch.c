#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "unit.h"

#define SHA_A	"4a0b32d43fe5c888e76e4287b89204173d13023a1c6ed4ea3a2c32b2599a51f7"

static struct guest_source
source(enum source_kind kind, const char *uri, size_t skip, const char *sha)
{
	struct guest_source	 s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.uri = dupstr(uri);
	s.ref = s.uri + skip;
	snprintf(s.sha256, sizeof(s.sha256), "%s", sha);
	return s;
}

/* By the declared sha256; without one, by the sha256 of the URI. */
static void
cache_path(void **state)
{
	struct guest_source	 s;
	char			 buf[256], other[256];

	(void)state;
	s = source(SRC_HTTPS, "https://example.com/disk.img", 8, "");
	assert_int_equal(fetch_cache_path(&s, buf, sizeof(buf)), 0);
	/* printf %s https://example.com/disk.img | sha256sum */
	assert_string_equal(buf, STATE_IMAGES "/url-" SHA_A);
	free(s.uri);

	s = source(SRC_HTTP, "http://mirror.example/disk.img", 7, SHA_A);
	assert_int_equal(fetch_cache_path(&s, other, sizeof(other)), 0);
	assert_string_equal(other, STATE_IMAGES "/sha256-" SHA_A);
	free(s.uri);
	/* the same image under another URL: the same file */
	s = source(SRC_GS, "gs://my-bucket/images/disk.img", 5, SHA_A);
	assert_int_equal(fetch_cache_path(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, other);
	free(s.uri);
	s = source(SRC_GS, "gs://my-bucket/images/disk.img", 5, "");
	assert_int_equal(fetch_cache_path(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, STATE_IMAGES "/url-"
	    "6fe8fc5e0d1afe88affe64e396c06b88bda552a594803b71e60811064d38a77c");

	/* exactly long enough, then one byte short */
	assert_int_equal(fetch_cache_path(&s, buf, strlen(STATE_IMAGES "/url-") + 65), 0);
	errno = 0;
	assert_int_equal(fetch_cache_path(&s, buf, strlen(STATE_IMAGES "/url-") + 64), -1);
	assert_int_equal(errno, ENOSPC);
	free(s.uri);

	/* no download: no cache path */
	s = source(SRC_PD, "pd:data", 3, "");
	errno = 0;
	assert_int_equal(fetch_cache_path(&s, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	free(s.uri);
	s = source(SRC_STATE, "state:images/a.qcow2", 6, "");
	assert_int_equal(fetch_cache_path(&s, buf, sizeof(buf)), -1);
	free(s.uri);
	/* a sha256 that guest.c would not let through never makes a path */
	s = source(SRC_HTTPS, "https://example.com/x", 8, "../../../etc/passwd");
	errno = 0;
	assert_int_equal(fetch_cache_path(&s, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	free(s.uri);
}

static void
gcs_urls(void **state)
{
	char	 buf[512];

	(void)state;
	assert_int_equal(gcs_url("my-bucket/disk.qcow2", GCS_API, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "https://storage.googleapis.com/storage/v1/b/my-bucket/o/"
	    "disk.qcow2?alt=media");
	/* slashes, blanks, '+', '%', '?', '#' and UTF-8 are encoded; -._~ are not */
	assert_int_equal(gcs_url("b.example.com/dir/a b+c%d?e#f/\xc3\xa9-._~x", NULL,
	    buf, sizeof(buf)), 0);
	assert_string_equal(buf, GCS_API "b.example.com/o/"
	    "dir%2Fa%20b%2Bc%25d%3Fe%23f%2F%C3%A9-._~x?alt=media");
	assert_int_equal(gcs_url("abc/o", "http://127.0.0.1:8080/storage/v1/b/", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "http://127.0.0.1:8080/storage/v1/b/abc/o/o?alt=media");

	/* exactly long enough, then one byte short */
	assert_int_equal(gcs_url("abc/o", "x/", buf, strlen("x/abc/o/o?alt=media") + 1), 0);
	errno = 0;
	assert_int_equal(gcs_url("abc/o", "x/", buf, strlen("x/abc/o/o?alt=media")), -1);
	assert_int_equal(errno, ENOSPC);
}

static void
gcs_bad(void **state)
{
	static const char *const bad[] = {
		"bucket",		/* no object */
		"bucket/",		/* an empty object */
		"/object",
		"ab/object",		/* 2 characters */
		"Bucket/object",
		"-bucket/object",
		"bucket-/object",
		"bu..cket/object",	/* an empty dot-separated part */
		"bu cket/object",
		"bucket/.",
		"bucket/..",
		"bucket/a\nb",
		"0123456789012345678901234567890123456789012345678901234567890123/o",
		/* the one rule with decl.c: no "goog...", "google", dotted quads */
		"goog-bucket/o",
		"my-google-bucket/o",
		"192.168.1.1/o",
	};
	char	 buf[4096], ref[1200];
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(bad); i++) {
		errno = 0;
		if (gcs_url(bad[i], NULL, buf, sizeof(buf)) != -1 || errno != EINVAL)
			fail_msg("%s: accepted", bad[i]);
	}
	/* 63 characters, and with dots up to 222 (parts of 63 at most) */
	assert_int_equal(gcs_url("012345678901234567890123456789012345678901234567890123456789012/o",
	    NULL, buf, sizeof(buf)), 0);
	memset(ref, 'a', 222);
	ref[63] = ref[127] = ref[191] = '.';
	strcpy(ref + 222, "/o");
	assert_int_equal(gcs_url(ref, NULL, buf, sizeof(buf)), 0);
	memset(ref, 'a', 223);
	ref[63] = ref[127] = ref[191] = '.';
	strcpy(ref + 223, "/o");
	assert_int_equal(gcs_url(ref, NULL, buf, sizeof(buf)), -1);
	memset(ref, 'a', 70);
	ref[5] = '.';
	strcpy(ref + 70, "/o");		/* a part of 64 */
	assert_int_equal(gcs_url(ref, NULL, buf, sizeof(buf)), -1);
	/* objects of up to 1024 bytes */
	strcpy(ref, "bucket/");
	memset(ref + 7, 'o', 1024);
	ref[7 + 1024] = '\0';
	assert_int_equal(gcs_url(ref, NULL, buf, sizeof(buf)), 0);
	strcpy(ref + 7 + 1024, "o");
	assert_int_equal(gcs_url(ref, NULL, buf, sizeof(buf)), -1);
}

static void
put_bin(const char *dir, const char *name, const void *data, size_t len)
{
	char	 path[4096], *slash;
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A /sys/block of a GCE VM: SCSI PDs, a virtio-blk disk, NVMe, a loop device. */
static void
pd_sysfs(void **state)
{
	static const char boot[] = "\x00\x80\x00\x11persistent-disk-0";
	static const char data[] = "\x00\x80\x00\x0c" "data-disk   ";	/* blank-padded */
	static const char lying[] = "\x00\x80\x00\x40" "other";	/* length past the end */
	static const char page83[] = "\x00\x83\x00\x05" "other";
	static const char model[] = "nvme_card-pd                            \n";
	/* no prefixes, no google- forms, no bad pages, NVMe without its device */
	static const char *const none[] = { "persistent-disk", "data", "google-data-disk",
	    "other", "virtio", "nvme_card-pd" };
	char	*dir = tmpdir(), buf[64];
	size_t	 i;

	(void)state;
	put_bin(dir, "sda/device/vpd_pg80", boot, sizeof(boot) - 1);
	put_bin(dir, "sda/device/vendor", "Google  ", 8);
	put_bin(dir, "sdb/device/vpd_pg80", data, sizeof(data) - 1);
	put_bin(dir, "sdc/device/vpd_pg80", lying, sizeof(lying) - 1);
	put_bin(dir, "sdd/device/vpd_pg80", page83, sizeof(page83) - 1);
	put_bin(dir, "vda/serial", "virtio-disk\n", 12);
	put_bin(dir, "vdb/serial", "", 0);
	put_bin(dir, "nvme99n99/device/model", model, sizeof(model) - 1);
	put_bin(dir, "loop0/size", "0\n", 2);

	assert_int_equal(pd_find(dir, "data-disk", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/sdb");
	assert_int_equal(pd_find(dir, "persistent-disk-0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/sda");
	assert_int_equal(pd_find(dir, "virtio-disk", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/vda");
	for (i = 0; i < NTESTS(none); i++) {
		errno = 0;
		if (pd_find(dir, none[i], buf, sizeof(buf)) != -1 || errno != ENOENT)
			fail_msg("%s: found", none[i]);
	}
	errno = 0;
	assert_int_equal(pd_find(dir, "data-disk", buf, 8), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(pd_find(dir, "data-disk", buf, 9), 0);
	errno = 0;
	assert_int_equal(pd_find(dir, "", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	rmtree(dir);
	errno = 0;
	assert_int_equal(pd_find("/nonexistent/block", "data-disk", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENOENT);
}

/* PD-NVMe: the JSON in Identify Namespace's vendor-specific area (byte 384 on). */
static void
pd_nvme(void **state)
{
	unsigned char		*id = malloc(4096);	/* exactly: ASan sees an overread */
	char			 name[64];

	(void)state;
	assert_non_null(id);
	memset(id, 0xff, 384);
	memset(id + 384, 0, 4096 - 384);
	strcpy((char *)id + 384, "{\"device_name\":\"pd-nvme_1\",\"disk_size_gb\":10}");
	assert_int_equal(pd_nvme_name(id, 4096, name, sizeof(name)), 0);
	assert_string_equal(name, "pd-nvme_1");
	errno = 0;
	assert_int_equal(pd_nvme_name(id, 4096, name, 9), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(pd_nvme_name(id, 4096, name, 10), 0);
	errno = 0;
	assert_int_equal(pd_nvme_name(id, 384, name, sizeof(name)), -1);
	assert_int_equal(errno, EINVAL);

	/* a local SSD: nothing there */
	memset(id + 384, 0, 4096 - 384);
	errno = 0;
	assert_int_equal(pd_nvme_name(id, 4096, name, sizeof(name)), -1);
	assert_int_equal(errno, EINVAL);
	strcpy((char *)id + 384, "{\"disk_size_gb\":10}");
	errno = 0;
	assert_int_equal(pd_nvme_name(id, 4096, name, sizeof(name)), -1);
	assert_int_equal(errno, ENOENT);
	strcpy((char *)id + 384, "{\"device_name\":\"../sda\"}");
	errno = 0;
	assert_int_equal(pd_nvme_name(id, 4096, name, sizeof(name)), -1);
	assert_int_equal(errno, EINVAL);
	strcpy((char *)id + 384, "{\"device_name\":7}");
	assert_int_equal(pd_nvme_name(id, 4096, name, sizeof(name)), -1);
	/* no NUL anywhere: read to the end of the buffer and no further */
	memset(id + 384, '{', 4096 - 384);
	errno = 0;
	assert_int_equal(pd_nvme_name(id, 4096, name, sizeof(name)), -1);
	assert_int_equal(errno, EINVAL);
	free(id);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(cache_path),
	cmocka_unit_test(gcs_urls),
	cmocka_unit_test(gcs_bad),
	cmocka_unit_test(pd_sysfs),
	cmocka_unit_test(pd_nvme),
};
const struct suite fetch_suite = { tests, NTESTS(tests) };
