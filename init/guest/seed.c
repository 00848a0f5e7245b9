/*
 * A cloud-init NoCloud seed: an ISO 9660 image labelled CIDATA with the
 * files user-data, meta-data and, when given, network-config in its root,
 * what `genisoimage -volid cidata -joliet` makes, built in memory.
 *
 * ISO 9660's own names are 8.3, upper case, without '-' (USER_DAT.;1), so
 * the real names are in a Joliet directory (UCS-2): Linux, blkid and
 * libarchive read Joliet when there is no Rock Ridge, and Joliet is the
 * smaller of the two to get right. Both directories point at the same file
 * data. cloud-init matches the label as "cidata" or "CIDATA"; the primary
 * volume descriptor holds d-characters only, so both descriptors say
 * CIDATA. Times are fixed, so the same input gives the same bytes.
 *
 * Layout, in 2048-byte sectors:
 *   0-15  system area, zeros
 *   16    primary volume descriptor
 *   17    Joliet supplementary volume descriptor
 *   18    volume descriptor set terminator
 *   19-22 path tables: primary L and M, Joliet L and M
 *   23    primary root directory
 *   24    Joliet root directory
 *   25-   the files, each from a sector of its own, in directory order
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"

#define SECTOR		2048
#define SEED_MAX	(1 << 20)
#define SEED_LABEL	"CIDATA"
#define SEED_APP	"NESTBOX"

enum {
	LBA_PVD = 16, LBA_SVD, LBA_TERM, LBA_LPATH, LBA_MPATH, LBA_JLPATH, LBA_JMPATH,
	LBA_ROOT, LBA_JROOT, LBA_DATA
};

#define PATH_TABLE_SIZE	10	/* one record: the root */

struct seed_file {
	const char	*name;		/* Joliet's: the real one */
	const char	*iso;		/* ISO 9660 level 1 */
	const char	*data;
	size_t		 len;
	uint32_t	 lba;
};

/* 2000-01-01 00:00:00 UTC: in a directory record, and in a descriptor */
static const uint8_t	 rec_time[7] = { 100, 1, 1, 0, 0, 0, 0 };
static const char	 vd_time[17] = "2000010100000000";	/* and a 0 offset */

static void
le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void
be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}


static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* ISO 9660's "both-byte order": little endian, then big endian */
static void
both16(uint8_t *p, uint16_t v)
{
	le16(p, v);
	be16(p + 2, v);
}

static void
both32(uint8_t *p, uint32_t v)
{
	put_le32(p, v);
	be32(p + 4, v);
}

/* A text field, padded with spaces: ASCII, or UCS-2 big endian for Joliet. */
static void
field(uint8_t *p, size_t size, const char *s, int ucs2)
{
	size_t	 i, n = strlen(s);

	if (!ucs2) {
		memset(p, ' ', size);
		memcpy(p, s, n < size ? n : size);
		return;
	}
	memset(p, 0, size);
	for (i = 0; i + 1 < size; i += 2)
		p[i + 1] = i / 2 < n ? s[i / 2] : ' ';
}

/* A directory record at p; its length. id is raw (UCS-2 already for Joliet). */
static size_t
dirrec(uint8_t *p, uint32_t lba, uint32_t size, int dir, const uint8_t *id, size_t idlen)
{
	size_t	 len = 33 + idlen + (idlen % 2 == 0);

	p[0] = len;
	both32(p + 2, lba);
	both32(p + 10, size);
	memcpy(p + 18, rec_time, sizeof(rec_time));
	p[25] = dir ? 2 : 0;
	both16(p + 28, 1);
	p[32] = idlen;
	memcpy(p + 33, id, idlen);
	return len;
}

static void
descriptor(uint8_t *p, int joliet, uint32_t sectors)
{
	static const uint8_t	 root_id = 0;

	p[0] = joliet ? 2 : 1;
	memcpy(p + 1, "CD001", 5);
	p[6] = 1;
	field(p + 8, 32, "", joliet);		/* system */
	field(p + 40, 32, SEED_LABEL, joliet);	/* volume */
	both32(p + 80, sectors);
	if (joliet)
		memcpy(p + 88, "%/E", 3);	/* UCS-2 level 3 */
	both16(p + 120, 1);			/* volume set size */
	both16(p + 124, 1);			/* volume sequence number */
	both16(p + 128, SECTOR);
	both32(p + 132, PATH_TABLE_SIZE);
	put_le32(p + 140, joliet ? LBA_JLPATH : LBA_LPATH);
	be32(p + 148, joliet ? LBA_JMPATH : LBA_MPATH);
	dirrec(p + 156, joliet ? LBA_JROOT : LBA_ROOT, SECTOR, 1, &root_id, 1);
	field(p + 190, 128, "", joliet);	/* volume set */
	field(p + 318, 128, "", joliet);	/* publisher */
	field(p + 446, 128, "", joliet);	/* data preparer */
	field(p + 574, 128, SEED_APP, joliet);	/* application */
	field(p + 702, 37, "", joliet);		/* copyright file */
	field(p + 739, 37, "", joliet);		/* abstract file */
	field(p + 776, 37, "", joliet);		/* bibliographic file */
	memcpy(p + 813, vd_time, 16);		/* created */
	memcpy(p + 830, vd_time, 16);		/* modified */
	memset(p + 847, '0', 16);		/* expires: never */
	memset(p + 864, '0', 16);		/* effective: now */
	p[881] = 1;				/* file structure version */
}

static void
path_table(uint8_t *p, uint32_t root, int msb)
{
	p[0] = 1;				/* the root's identifier: 0x00 */
	if (msb) {
		be32(p + 2, root);
		be16(p + 6, 1);
	} else {
		put_le32(p + 2, root);
		le16(p + 6, 1);
	}
}

static void
directory(uint8_t *p, uint32_t self, const struct seed_file *f, size_t n, int joliet)
{
	static const uint8_t	 dot = 0, dotdot = 1;
	uint8_t			 id[64];
	size_t			 i, k, idlen;

	p += dirrec(p, self, SECTOR, 1, &dot, 1);
	p += dirrec(p, self, SECTOR, 1, &dotdot, 1);	/* the root's parent is itself */
	for (i = 0; i < n; i++) {
		if (joliet) {
			idlen = 2 * strlen(f[i].name);
			for (k = 0; f[i].name[k] != '\0'; k++) {
				id[2 * k] = 0;
				id[2 * k + 1] = f[i].name[k];
			}
		} else {
			idlen = strlen(f[i].iso);
			memcpy(id, f[i].iso, idlen);
		}
		p += dirrec(p, f[i].lba, f[i].len, 0, id, idlen);
	}
}

/*
 * The seed image of user_data, meta_data and network_config (NULL: none),
 * NUL-terminated texts, into *out (malloc'd, *len bytes, a whole number of
 * sectors). -1 with EFBIG if it would be over 1 MiB, ENOMEM, EINVAL for a
 * NULL user_data or meta_data.
 */
int
seed_iso(const char *user_data, const char *meta_data, const char *network_config,
    uint8_t **out, size_t *len)
{
	/* in the order of both directories: ISO 9660's names sort the same */
	struct seed_file	 f[3];
	size_t			 n = 0, i, total;
	uint32_t		 lba = LBA_DATA;
	uint8_t			*img;

	if (user_data == NULL || meta_data == NULL) {
		errno = EINVAL;
		return -1;
	}
	f[n++] = (struct seed_file){ "meta-data", "META_DAT.;1", meta_data, 0, 0 };
	if (network_config != NULL)
		f[n++] = (struct seed_file){ "network-config", "NETWORK_.;1",
		    network_config, 0, 0 };
	f[n++] = (struct seed_file){ "user-data", "USER_DAT.;1", user_data, 0, 0 };
	for (i = 0; i < n; i++) {
		f[i].len = strnlen(f[i].data, SEED_MAX + 1);
		if (f[i].len > SEED_MAX) {
			errno = EFBIG;
			return -1;
		}
		/* an empty file has no data, and extent 0 */
		f[i].lba = f[i].len > 0 ? lba : 0;
		lba += (f[i].len + SECTOR - 1) / SECTOR;
	}
	total = (size_t)lba * SECTOR;
	if (total > SEED_MAX) {
		errno = EFBIG;
		return -1;
	}
	if ((img = calloc(1, total)) == NULL)
		return -1;
	descriptor(img + LBA_PVD * SECTOR, 0, lba);
	descriptor(img + LBA_SVD * SECTOR, 1, lba);
	img[LBA_TERM * SECTOR] = 255;
	memcpy(img + LBA_TERM * SECTOR + 1, "CD001", 5);
	img[LBA_TERM * SECTOR + 6] = 1;
	path_table(img + LBA_LPATH * SECTOR, LBA_ROOT, 0);
	path_table(img + LBA_MPATH * SECTOR, LBA_ROOT, 1);
	path_table(img + LBA_JLPATH * SECTOR, LBA_JROOT, 0);
	path_table(img + LBA_JMPATH * SECTOR, LBA_JROOT, 1);
	directory(img + LBA_ROOT * SECTOR, LBA_ROOT, f, n, 0);
	directory(img + LBA_JROOT * SECTOR, LBA_JROOT, f, n, 1);
	for (i = 0; i < n; i++)
		memcpy(img + (size_t)f[i].lba * SECTOR, f[i].data, f[i].len);
	*out = img;
	*len = total;
	return 0;
}
