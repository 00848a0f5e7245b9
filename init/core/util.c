/* Small helpers shared by the subsystems. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "core/core.h"

/*
 * Reads a whole file into a NUL-terminated buffer. Files in /proc report a
 * size of 0, so this reads until EOF and fails with EFBIG past max bytes
 * rather than trusting st_size.
 */
char *
read_file(const char *path, size_t max, size_t *len)
{
	char	*buf = NULL, *p;
	size_t	 cap = 0, n = 0;
	ssize_t	 r;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap == max + 1) {	/* one byte more than allowed */
				errno = EFBIG;
				goto err;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if ((p = realloc(buf, cap + 1)) == NULL)
				goto err;
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto err;
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
err:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

/* Reads at most size-1 bytes: enough of a file whose head is all we need. */
ssize_t
read_head(const char *path, char *buf, size_t size)
{
	size_t	 n = 0;
	ssize_t	 r;
	int	 fd, saved;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (n < size - 1) {
		r = read(fd, buf + n, size - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

/*
 * Returns the next line of [*cursor, end) with its newline replaced by NUL,
 * and advances *cursor. The buffer must have a byte at end to hold the NUL
 * of an unterminated last line (read_file's buffers do).
 */
char *
next_line(char **cursor, char *end)
{
	char	*line = *cursor, *nl;

	if (line >= end)
		return NULL;
	if ((nl = memchr(line, '\n', end - line)) == NULL)
		nl = end;
	*nl = '\0';
	*cursor = nl + 1;
	return line;
}

uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A text buffer for the generators: text_add() appends like snprintf and
 * remembers an overflow, so a generator checks once, in text_done().
 */
void
text_init(struct text *t, char *buf, size_t size)
{
	t->buf = buf;
	t->size = size;
	t->len = 0;
	t->full = size == 0;
	if (size > 0)
		buf[0] = '\0';
}

void
text_add(struct text *t, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->size - t->len) {
		t->full = 1;
		t->buf[t->len] = '\0';	/* no half lines */
		return;
	}
	t->len += n;
}

/* The text's length, or -1 with ENOSPC if it did not fit. */
int
text_done(const struct text *t)
{
	if (t->full) {
		errno = ENOSPC;
		return -1;
	}
	return (int)t->len;
}

/*
 * Replaces path with len bytes of data, atomically: a reader sees the old
 * file or the new one, never a part (a temporary file, then rename(2)).
 */
int
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char		 tmp[4096];
	const char	*p = data;
	ssize_t		 w;
	int		 fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* a new file, never one someone left there (a symlink, a FIFO, a link) */
	if (unlink(tmp) == -1 && errno != ENOENT)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	while (len > 0) {
		if ((w = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		p += w;
		len -= w;
	}
	if (fchmod(fd, mode) == -1)
		goto err;
	w = close(fd);
	fd = -1;
	if (w == -1 || rename(tmp, path) == -1)
		goto err;
	return 0;
err:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

/*
 * The file boundary. PID 1 runs as root; a guest's QEMU, and anything that
 * escapes into it, runs as the guest's uid. Where such a uid may have put
 * something (its own directory, or a root-owned one it once owned), PID 1
 * opens files only through these: one name in a directory fd, no symlink
 * followed, no FIFO waited on, no terminal taken, and the file kept only if
 * it is a regular file with one link owned by the expected uid. O_TRUNC is
 * done after that check, so a hard link's target is never truncated.
 */

/* Splits path into its directory, opened, and its last component. */
static int
open_parent(const char *path, const char **name)
{
	char		 dir[4096];
	const char	*slash;

	if ((slash = strrchr(path, '/')) == NULL) {
		*name = path;
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if ((size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*name = slash + 1;
	return open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * name in the directory dfd: see above. owner (uid_t)-1 takes any owner.
 * Returns the fd (O_CLOEXEC; O_NONBLOCK means nothing on a regular file),
 * or -1: ELOOP for a symlink, EPERM for anything else not a file of owner.
 */
int
open_at_checked(int dfd, const char *name, int flags, mode_t mode, uid_t owner)
{
	struct stat	 st;
	int		 fd, saved, trunc = flags & O_TRUNC;

	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	flags = (flags & ~O_TRUNC) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if ((fd = openat(dfd, name, flags, mode)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto err;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (owner != (uid_t)-1 && st.st_uid != owner)) {
		errno = EPERM;
		goto err;
	}
	if (trunc && ftruncate(fd, 0) == -1)
		goto err;
	return fd;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* open_at_checked() on path's last component, in its directory. */
int
open_checked(const char *path, int flags, mode_t mode, uid_t owner)
{
	const char	*name;
	int		 dfd, fd, saved;

	if ((dfd = open_parent(path, &name)) == -1)
		return -1;
	fd = open_at_checked(dfd, name, flags, mode, owner);
	saved = errno;
	close(dfd);
	errno = saved;
	return fd;
}

/*
 * A new empty file at path for writing, owned by uid:gid with mode, in
 * place of whatever was there (a file, a symlink, a FIFO: unlinked, never
 * opened). Returns its fd, or -1 (EISDIR: a directory is in the way).
 */
int
file_fresh(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	const char	*name;
	int		 dfd, fd = -1, saved;

	if ((dfd = open_parent(path, &name)) == -1)
		return -1;
	if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT)
		goto out;
	fd = open_at_checked(dfd, name, O_WRONLY | O_CREAT | O_EXCL, mode, (uid_t)-1);
	if (fd == -1)
		goto out;
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, mode) == -1) {
		saved = errno;
		close(fd);
		unlinkat(dfd, name, 0);
		errno = saved;
		fd = -1;
	}
out:
	saved = errno;
	close(dfd);
	errno = saved;
	return fd;
}

/*
 * A directory at path owned by uid:gid with mode: made, or the one there
 * re-owned through its own fd (never through a symlink in its place: a
 * symlink or a file there is removed first). Returns 0, or -1.
 */
int
dir_owned(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 st;
	const char	*name;
	int		 dfd, fd = -1, saved, tries;

	if ((dfd = open_parent(path, &name)) == -1)
		return -1;
	for (tries = 0; tries < 2; tries++) {
		if (mkdirat(dfd, name, mode) == -1 && errno != EEXIST)
			goto err;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (fd != -1)
			break;
		if (errno != ELOOP && errno != ENOTDIR)
			goto err;
		/* not a directory: whatever it is goes */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    S_ISDIR(st.st_mode) || unlinkat(dfd, name, 0) == -1)
			goto err;
	}
	if (fd == -1 || fchown(fd, uid, gid) == -1 || fchmod(fd, mode) == -1)
		goto err;
	close(fd);
	close(dfd);
	return 0;
err:
	saved = errno;
	if (fd != -1)
		close(fd);
	close(dfd);
	errno = saved;
	return -1;
}

/*
 * The unix socket at path, to be connected to without following a symlink
 * put in its place: an O_PATH fd of it, a socket owned by owner ((uid_t)-1:
 * anyone) or EPERM, and in proc the name that reaches that very inode
 * ("/proc/self/fd/N", for connect(2)). Returns the fd; the caller closes it
 * once connected.
 */
int
sock_checked(const char *path, uid_t owner, char *proc, size_t size)
{
	struct stat	 st;
	int		 fd, saved;

	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto err;
	if (!S_ISSOCK(st.st_mode) || (owner != (uid_t)-1 && st.st_uid != owner)) {
		errno = EPERM;
		goto err;
	}
	if (snprintf(proc, size, "/proc/self/fd/%d", fd) >= (int)size) {
		errno = ENAMETOOLONG;
		goto err;
	}
	return fd;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * A URL fit to be printed, stored or reported: what may be a credential
 * cut out. The userinfo ("user:password@") goes, and the query and the
 * fragment become "?..." (a signed URL's signature is its query). The
 * rest is kept, cut with "..." if buf is too small. Anything that is not a
 * URL ("pd:data") comes back as it was. Returns buf.
 */
const char *
url_redact(const char *url, char *buf, size_t size)
{
	const char	*host, *at, *end;
	size_t		 len;
	int		 more;

	if (size == 0)
		return buf;
	end = url + strcspn(url, "?#");
	if ((host = strstr(url, "://")) == NULL || host > end)
		host = url;
	else
		host += 3;
	if ((at = memrchr(host, '@', strcspn(host, "/?#"))) != NULL)
		at++;
	else
		at = host;
	more = *end != '\0';
	len = (size_t)(host - url) + (size_t)(end - at) + (more ? 4 : 0);
	snprintf(buf, size, "%.*s%.*s%s", (int)(host - url), url, (int)(end - at), at,
	    more ? "?..." : "");
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

/* A user's string, fit for a message: printable ASCII (anything else as
 * '?'), cut at 40 bytes with "...". Returns buf. */
const char *
str_quote(const char *s, char *buf, size_t size)
{
	size_t	 i, o = 0;

	for (i = 0; s[i] != '\0' && o + 4 < size; i++) {
		if (i == 40) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	buf[o] = '\0';
	return buf;
}

/* The address of the unix socket at path; ENAMETOOLONG if it does not fit. */
int
unix_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* --- one copy of the small checks the parsers share ---------------------- */

/*
 * JSON's white space (RFC 8259), which is also what the line-based parsers
 * skip: modules.c calls it only on lines that next_line() has cut at the
 * '\n', so the '\n' it accepts never reaches it there.
 */
int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The bytes of a JSON text that cJSON accepts and RFC 8259 does not, found
 * before cJSON sees them: cJSON skips every byte up to ' ' as white space
 * (a NUL too), keeps control characters inside strings (and cuts a string
 * at a NUL), and nests as deep as the stack allows. This scan knows only
 * strings, escapes and brackets; cJSON judges the rest of the grammar. A
 * NUL is a control character like the others: md/metadata.c turns one that
 * came escaped (\u0000) into another, so both say the same.
 */
int
json_strict(const char *json, size_t len, int maxnest, size_t *at, char *why,
    size_t size)
{
	size_t	 i;
	int	 depth = 0, instr = 0, esc = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)json[i];
		if (instr) {
			if (c < 0x20) {
				snprintf(why, size, "a control character in a string");
				goto bad;
			}
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				instr = 0;
			continue;
		}
		if (c < 0x20 && !is_space((char)c)) {
			snprintf(why, size, "a control character");
			goto bad;
		}
		if (c == '"')
			instr = 1;
		else if (c == '{' || c == '[') {
			if (++depth > maxnest) {
				snprintf(why, size, "nested deeper than %d", maxnest);
				goto bad;
			}
		} else if ((c == '}' || c == ']') && depth > 0)
			depth--;
	}
	return 0;
bad:
	*at = i;
	errno = EINVAL;
	return -1;
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * An RFC 1123 label, the len bytes at s: 1-63 letters (either case),
 * digits and hyphens, not starting or ending with a hyphen.
 */
int
dns_label_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* A host or domain name: dns_label_ok() labels joined by dots, 253 in all. */
int
dns_name_ok(const char *s, size_t len)
{
	const char	*dot, *end = s + len;

	if (len == 0 || len > 253)
		return 0;
	for (;;) {
		if ((dot = memchr(s, '.', end - s)) == NULL)
			return dns_label_ok(s, end - s);
		if (!dns_label_ok(s, dot - s))
			return 0;
		s = dot + 1;
	}
}

/*
 * A sha256 in hex: 64 hex digits of either case and the end of s. A caller
 * that keeps one lower-cases it (s[i] | 0x20 is exact once this said yes).
 */
int
sha256_hex_ok(const char *s)
{
	size_t	 i;
	char	 c;

	for (i = 0; i < 64; i++) {
		c = s[i] | 0x20;	/* '\0' stays out of range */
		if (!((s[i] >= '0' && s[i] <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return s[64] == '\0';
}

/*
 * A size for a message. Two scales, as two readers want them:
 * SIZE_DISK, for partitions and file systems (store.c): whole MiB below
 * 1 GiB, then GiB with one decimal, cut rather than rounded;
 * SIZE_BYTES, for a download's progress (nestbox-fetch): B, KiB, MiB with
 * one decimal below 10 MiB, whole MiB below 10 GiB, then GiB with one
 * decimal, rounded. Both are kept as they were: tests and docs read them.
 * Returns buf.
 */
const char *
size_str(uint64_t n, enum size_scale scale, char *buf, size_t size)
{
	uint64_t	 mib = n >> 20;

	if (scale == SIZE_DISK) {
		if (mib < 1024)
			snprintf(buf, size, "%llu MiB", (unsigned long long)mib);
		else
			snprintf(buf, size, "%llu.%llu GiB",
			    (unsigned long long)(mib / 1024),
			    (unsigned long long)(mib % 1024 * 10 / 1024));
	} else if (n >= 10ULL << 30)
		snprintf(buf, size, "%.1f GiB", (double)n / (1 << 30));
	else if (n >= 10 << 20)
		snprintf(buf, size, "%llu MiB", (unsigned long long)mib);
	else if (n >= 1 << 20)
		snprintf(buf, size, "%.1f MiB", (double)n / (1 << 20));
	else if (n >= 1 << 10)
		snprintf(buf, size, "%llu KiB", (unsigned long long)(n >> 10));
	else
		snprintf(buf, size, "%llu B", (unsigned long long)n);
	return buf;
}
