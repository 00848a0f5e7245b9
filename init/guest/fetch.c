/*
 * The pure side of a guest's sources: where a download lives on the state
 * partition, the GCS JSON API URL of a gs:// object, and which block device
 * is an attached persistent disk. The downloader itself is the
 * nestbox-fetch program, tools/nestbox-fetch.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/nvme_ioctl.h>

#include <mbedtls/version.h>
#include <mbedtls/sha256.h>

#include <cjson/cJSON.h>

#include "guest/guest-internal.h"

/* Mbed TLS 2.x (Debian's, for the unit tests) named it mbedtls_sha256_ret. */
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define mbedtls_sha256	mbedtls_sha256_ret
#endif

#define PD_SERIAL_MAX	256
#define NVME_ID_SIZE	4096
#define NVME_ID_VS	384		/* Identify Namespace: the vendor-specific area */

static int
is_fetched(enum source_kind kind)
{
	return kind == SRC_HTTPS || kind == SRC_HTTP || kind == SRC_GS;
}

/*
 * With a sha256, the file is named by it: one image declared under two
 * URLs is fetched once. Without, by the sha256 of the URI, so a URI maps
 * to one file whatever its characters.
 */
int
fetch_cache_path(const struct guest_source *src, char *buf, size_t size)
{
	unsigned char	 md[32];
	char		 hex[65];
	size_t		 i;
	int		 n;

	if (!is_fetched(src->kind) || src->uri == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (src->sha256[0] != '\0') {
		/* decl.c keeps it in lower case: a file has one name */
		if (!sha256_hex_ok(src->sha256) ||
		    strpbrk(src->sha256, "ABCDEF") != NULL) {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(buf, size, STATE_IMAGES "/sha256-%s", src->sha256);
	} else {
		if (mbedtls_sha256((const unsigned char *)src->uri, strlen(src->uri),
		    md, 0) != 0) {
			errno = EIO;
			return -1;
		}
		for (i = 0; i < sizeof(md); i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		n = snprintf(buf, size, STATE_IMAGES "/url-%s", hex);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

static int
lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * https://cloud.google.com/storage/docs/buckets#naming: 3-63 characters,
 * up to 222 with dots (each dot-separated part at most 63), a-z 0-9 - _ .,
 * a letter or digit at both ends, not "goog..." nor containing "google",
 * not a dotted quad. The one rule for a declared source (decl.c) and for
 * gcs_url(), so for nestbox-fetch too. gcs_url() used to let "goog..." and
 * IP-shaped names through; decl.c refused them before fetch saw them, so a
 * declared guest sees no change, only a hand-typed nestbox-fetch does.
 */
int
gcs_bucket_ok(const char *b, size_t len)
{
	size_t	 i, part = 0;
	int	 dots = memchr(b, '.', len) != NULL;
	uint32_t a;

	if (len < 3 || len > (dots ? 222 : 63) || !lower_alnum(b[0]) ||
	    !lower_alnum(b[len - 1]) || (len >= 4 && strncmp(b, "goog", 4) == 0) ||
	    ip4_parse(b, len, &a) == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (b[i] == '.') {
			if (part == 0)
				return 0;
			part = 0;
			continue;
		}
		if (!lower_alnum(b[i]) && b[i] != '-' && b[i] != '_')
			return 0;
		if (++part > 63)
			return 0;
		if (len - i >= 6 && strncmp(b + i, "google", 6) == 0)
			return 0;
	}
	return 1;
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/*
 * "bucket/dir/object" -> API "bucket/o/dir%2Fobject?alt=media": the JSON
 * API takes the object name as one path segment, every byte outside
 * RFC 3986's unreserved set percent-encoded, '/' included. EINVAL: not a
 * valid bucket or object name; ENOSPC: buf is too small.
 */
int
gcs_url(const char *ref, const char *api, char *buf, size_t size)
{
	static const char hexd[] = "0123456789ABCDEF";
	const char	*slash, *obj;
	struct text	 t;
	size_t		 olen;
	unsigned char	 c;

	if (api == NULL)
		api = GCS_API;
	if ((slash = strchr(ref, '/')) == NULL || !gcs_bucket_ok(ref, slash - ref)) {
		errno = EINVAL;
		return -1;
	}
	obj = slash + 1;
	olen = strlen(obj);
	if (olen == 0 || olen > 1024 || strcmp(obj, ".") == 0 || strcmp(obj, "..") == 0 ||
	    strpbrk(obj, "\r\n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	text_init(&t, buf, size);
	text_add(&t, "%s%.*s/o/", api, (int)(slash - ref), ref);
	for (; *obj != '\0'; obj++) {
		c = *obj;
		if (unreserved(c))
			text_add(&t, "%c", c);
		else
			text_add(&t, "%%%c%c", hexd[c >> 4], hexd[c & 15]);
	}
	text_add(&t, "?alt=media");
	return text_done(&t) == -1 ? -1 : 0;
}

/* A sysfs attribute, NUL-terminated; its length, or -1. */
static ssize_t
read_attr(const char *sysblock, const char *name, const char *attr, char *buf,
    size_t size)
{
	char	 path[4096];
	ssize_t	 n;
	int	 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", sysblock, name, attr) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	do
		n = read(fd, buf, size - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n == -1)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Leading and trailing blanks and NULs off, in place; the new length. */
static size_t
trim(char *s, size_t len)
{
	size_t	 i = 0;

	while (len > 0 && (s[len - 1] == '\0' || isspace((unsigned char)s[len - 1])))
		len--;
	while (i < len && (s[i] == '\0' || isspace((unsigned char)s[i])))
		i++;
	memmove(s, s + i, len - i);
	s[len - i] = '\0';
	return len - i;
}

/*
 * A SCSI disk's unit serial number, VPD page 0x80 (header: qualifier and
 * type, page code, a 16-bit length; then the serial). On GCE it is the
 * disk's device name.
 */
static int
scsi_serial(const char *sysblock, const char *name, char *out, size_t size)
{
	char	 page[4 + PD_SERIAL_MAX];
	ssize_t	 n;
	size_t	 len;

	if ((n = read_attr(sysblock, name, "device/vpd_pg80", page, sizeof(page))) == -1)
		return -1;
	if (n < 4 || (unsigned char)page[1] != 0x80)
		return -1;
	len = (unsigned char)page[2] << 8 | (unsigned char)page[3];
	if (len > (size_t)n - 4 || len >= size)
		return -1;
	memcpy(out, page + 4, len);
	trim(out, len);
	return 0;
}

int
pd_nvme_name(const void *id, size_t len, char *buf, size_t size)
{
	const char	*vs = (const char *)id + NVME_ID_VS;
	const cJSON	*name;
	cJSON		*doc;
	size_t		 n, i;
	const char	*s;
	int		 rv = -1;

	if (len <= NVME_ID_VS) {
		errno = EINVAL;
		return -1;
	}
	n = strnlen(vs, len - NVME_ID_VS);
	if ((doc = cJSON_ParseWithLength(vs, n)) == NULL) {
		errno = EINVAL;
		return -1;
	}
	name = cJSON_GetObjectItemCaseSensitive(doc, "device_name");
	if (!cJSON_IsString(name) || (s = name->valuestring)[0] == '\0') {
		errno = ENOENT;
		goto out;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') {
			errno = EINVAL;
			goto out;
		}
	if (i >= size) {
		errno = ENOSPC;
		goto out;
	}
	memcpy(buf, s, i + 1);
	rv = 0;
out:
	cJSON_Delete(doc);
	return rv;
}

/*
 * A PD-NVMe namespace: GCE writes a JSON object with "device_name" into
 * the vendor-specific area of Identify Namespace, as Google's
 * google_nvme_id reads it. One admin command; PID 1 has CAP_SYS_ADMIN.
 */
static int
nvme_serial(const char *name, char *out, size_t size)
{
	unsigned char		 id[NVME_ID_SIZE] __attribute__((aligned(4096)));
	struct nvme_admin_cmd	 cmd;
	char			 dev[5 + 256];
	int			 fd, nsid, rv;

	if ((size_t)snprintf(dev, sizeof(dev), "/dev/%s", name) >= sizeof(dev))
		return -1;
	if ((fd = open(dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if ((nsid = ioctl(fd, NVME_IOCTL_ID)) <= 0) {
		close(fd);
		return -1;
	}
	memset(id, 0, sizeof(id));
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = 0x06;		/* Identify */
	cmd.nsid = nsid;
	cmd.addr = (uintptr_t)id;
	cmd.data_len = sizeof(id);
	cmd.cdw10 = 0;			/* CNS 0: the namespace */
	rv = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	close(fd);
	if (rv != 0)
		return -1;
	return pd_nvme_name(id, sizeof(id), out, size);
}

/* The device name GCE gave the disk NAME under sysblock; -1: none known. */
static int
pd_serial(const char *sysblock, const char *name, char *out, size_t size)
{
	char	 model[64];
	ssize_t	 n;

	/* virtio-blk: the serial, at most 20 bytes (VIRTIO_BLK_ID_BYTES) */
	if ((n = read_attr(sysblock, name, "serial", out, size)) != -1) {
		trim(out, n);
		if (out[0] != '\0')
			return 0;
	}
	/* virtio-scsi, GCE's usual PD interface */
	if (scsi_serial(sysblock, name, out, size) == 0 && out[0] != '\0')
		return 0;
	/* NVMe, on third-generation machine series: model "nvme_card-pd" */
	if (strncmp(name, "nvme", 4) == 0 &&
	    (n = read_attr(sysblock, name, "device/model", model, sizeof(model))) != -1) {
		trim(model, n);
		if (strncmp(model, "nvme_card", 9) == 0)
			return nvme_serial(name, out, size);
	}
	return -1;
}

/*
 * The whole disk under sysblock whose GCE device name is devname, as
 * "/dev/NAME"; the first in name order if more than one claims it.
 * ENOENT: none; ENOSPC: buf is too small.
 */
int
pd_find(const char *sysblock, const char *devname, char *buf, size_t size)
{
	struct dirent	**v;
	char		 serial[PD_SERIAL_MAX];
	int		 i, n, found = -1, rv = -1;

	if (devname[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((n = scandir(sysblock, &v, NULL, alphasort)) == -1)
		return -1;
	for (i = 0; i < n && found == -1; i++) {
		if (v[i]->d_name[0] == '.')
			continue;
		if (pd_serial(sysblock, v[i]->d_name, serial, sizeof(serial)) == 0 &&
		    strcmp(serial, devname) == 0)
			found = i;
	}
	if (found == -1)
		errno = ENOENT;
	else if ((size_t)snprintf(buf, size, "/dev/%s", v[found]->d_name) >= size)
		errno = ENOSPC;
	else
		rv = 0;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rv;
}

/*
 * A downloaded qcow2 image is data: `qemu-img info --output=json -f qcow2`
 * on it (json, len) says whether it names any file but itself. Refused: a
 * backing file (any: a path reads what the guest's uid may read, json: and
 * nbd: reach further), an external data file, a format other than qcow2, a
 * child that is not the plain file. Returns 0, or -1 with why.
 */
int
image_check(const char *json, size_t len, char *why, size_t size)
{
	cJSON		*doc, *fs, *data, *kids, *k, *info;
	const char	*keys[] = { "backing-filename", "full-backing-filename",
			    "backing-filename-format", "backing-image" };
	const char	*s;
	char		 q[64];
	size_t		 i;
	int		 rv = -1;

	if ((doc = cJSON_ParseWithLength(json, len)) == NULL || !cJSON_IsObject(doc)) {
		snprintf(why, size, "qemu-img info: not JSON");
		goto out;
	}
	if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc,
	    "format"))) == NULL || strcmp(s, "qcow2") != 0) {
		snprintf(why, size, "not a qcow2 image");
		goto out;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((k = cJSON_GetObjectItemCaseSensitive(doc, keys[i])) != NULL) {
			s = cJSON_GetStringValue(k);
			snprintf(why, size, "it names a backing file (%s)",
			    s != NULL ? str_quote(s, q, sizeof(q)) : keys[i]);
			goto out;
		}
	fs = cJSON_GetObjectItemCaseSensitive(doc, "format-specific");
	data = cJSON_GetObjectItemCaseSensitive(fs, "data");
	if ((k = cJSON_GetObjectItemCaseSensitive(data, "data-file")) != NULL) {
		s = cJSON_GetStringValue(k);
		snprintf(why, size, "it names an external data file (%s)",
		    s != NULL ? str_quote(s, q, sizeof(q)) : "data-file");
		goto out;
	}
	kids = cJSON_GetObjectItemCaseSensitive(doc, "children");
	cJSON_ArrayForEach(k, kids) {
		info = cJSON_GetObjectItemCaseSensitive(k, "info");
		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "name"));
		if (s == NULL || strcmp(s, "file") != 0 || (s = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(info, "format"))) == NULL ||
		    strcmp(s, "file") != 0) {
			snprintf(why, size, "it opens another node (%s)",
			    s != NULL ? str_quote(s, q, sizeof(q)) : "?");
			goto out;
		}
	}
	rv = 0;
out:
	cJSON_Delete(doc);
	return rv;
}
