/*
 * nestbox-fetch SOURCE DEST [SHA256]: one download, run by PID 1 as a
 * child (the init binary under that name, as the user nestbox-fetch), its
 * stderr on the console log. SOURCE is an http(s) URL or gs://BUCKET/OBJECT.
 *
 * The bytes go to DEST.part, hashed as they are written; at the end the
 * file is synced, its sha256 compared with SHA256 when one is given, and
 * renamed to DEST. An interrupted download leaves DEST.part behind and the
 * next run resumes it with a Range request (the bytes already there are
 * hashed first); a server that answers the whole file instead makes it
 * start over. The exit status is an enum fetch_status.
 *
 * Ranges are asked for with CURLOPT_RANGE, not CURLOPT_RESUME_FROM_LARGE:
 * with the latter libcurl fails a 200 reply (CURLE_RANGE_ERROR), takes a
 * 200 of the same size as the resume offset for a finished download
 * without reading it, and swallows a 416; with a plain range every reply
 * is ours to judge.
 *
 * gs:// reads the object through the GCS JSON API with the instance's
 * service account: a token from the metadata server (never through a
 * proxy, Metadata-Flavor checked), then one GET with "Authorization:
 * Bearer". The token is never printed; libcurl sends it to no host but
 * the API's, even across a redirect. The API's address is GCS_API, or
 * --gcs-api's, an option only the tests pass: nothing is taken from the
 * environment (the kernel command line sets it). PID 1 passes the source
 * on stdin ("-"), so that no other uid reads it in /proc/PID/cmdline, and
 * every message shows it through url_redact().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <curl/curl.h>

#include <mbedtls/version.h>
#include <mbedtls/sha256.h>

#include <cjson/cJSON.h>

#include "md/md.h"
#include "guest/guest.h"
#include "tools/tools.h"

#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define mbedtls_sha256_starts	mbedtls_sha256_starts_ret
#define mbedtls_sha256_update	mbedtls_sha256_update_ret
#define mbedtls_sha256_finish	mbedtls_sha256_finish_ret
#endif

#define PROGRESS_MS	5000		/* a progress line at most this often */
#define CONNECT_S	10L
#define LOW_SPEED	1024L		/* bytes/s for ... */
#define LOW_SPEED_S	60L		/* ... this long: give up */
#define MAX_REDIRS	5L
#define TOKEN_REPLY_MAX	(16 * 1024)
#define AUTH_MAX	4096		/* "Authorization: Bearer TOKEN" */
#define URL_MAX		(3 * GUEST_SOURCE_MAX + 512)	/* a gs:// name, percent-encoded */
#define SHOWN_MAX	512
#define FETCH_TIME_S	(6 * 3600L)	/* a run: at most this long (it resumes) */
#define RESERVE_MAX	(256LL << 20)	/* free space kept: this, or 5% if less */
#define VALIDATOR_MAX	256		/* an ETag or a Last-Modified */
#define INSPECT_S	30		/* qemu-img info: at most this long */

static const char *qemu_img = QEMU_IMG;	/* --qemu-img: the tests' */

enum { AGAIN = -1 };			/* transfer(): truncate, ask for all of it */
enum stop { STOP_NONE, STOP_STATUS, STOP_RANGE, STOP_WRITE, STOP_BIG, STOP_SPACE };

struct dl {
	const char	*shown;		/* the source, for messages */
	const char	*part;		/* DEST.part */
	const char	*vpath;		/* DEST.part.v: the validator of its bytes */
	int		 fd;		/* on it, O_APPEND */
	curl_off_t	 max;		/* --max-size; -1: none */
	char		 etag[VALIDATOR_MAX], lastmod[VALIDATOR_MAX];	/* this reply's */
	curl_off_t	 need, avail;	/* STOP_SPACE: bytes */
	mbedtls_sha256_context sha;	/* of its bytes */
	curl_off_t	 offset;	/* bytes it had before this request */
	curl_off_t	 got;		/* bytes this request added */
	curl_off_t	 total;		/* the whole file's size; -1: not known */
	CURL		*easy;
	/* the reply being received */
	long		 status;
	char		 reason[64];
	curl_off_t	 range_start, range_total;	/* Content-Range; -1: none, "*" */
	int		 body;		/* its first byte came */
	enum stop	 stop;		/* why we ended the transfer */
	int		 werr;		/* errno of a failed write */
	/* progress */
	uint64_t	 started, last;
	curl_off_t	 last_got;
};

static void say(const char *, ...) NB_PRINTF(1, 2);

/* One line, one write(2): the console log interleaves children. */
static void
say(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n;

	memcpy(line, "nestbox-fetch: ", 15);
	va_start(ap, fmt);
	n = vsnprintf(line + 15, sizeof(line) - 16, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = 15 + ((size_t)n < sizeof(line) - 16 ? n : (int)sizeof(line) - 17);
	line[n++] = '\n';
	(void)write(STDERR_FILENO, line, n);
}

static int
usage(void)
{
	fprintf(stderr, "usage: nestbox-fetch [--max-size BYTES] [--gcs-api URL] "
	    "[--qemu-img PATH] SOURCE|- DEST [SHA256]\n"
	    "Downloads SOURCE (https://, http:// or gs://BUCKET/OBJECT; -: the\n"
	    "first line of stdin) to DEST through DEST.part, resuming a DEST.part\n"
	    "left behind, checking the sha256 when given; a qcow2 image that names\n"
	    "a backing or data file is refused. Exit status: 0 done, 1 error,\n"
	    "2 sha256 mismatch, 3 no space left, 4 image refused, 5 larger than\n"
	    "--max-size, 64 usage.\n");
	return FETCH_USAGE;
}

static void
progress(struct dl *d, uint64_t now, int end)
{
	char		 a[32], b[32], r[32];
	curl_off_t	 have = d->offset + d->got, bytes;
	uint64_t	 ms;

	bytes = end ? d->got : d->got - d->last_got;
	ms = now - (end ? d->started : d->last);
	size_str((uint64_t)bytes * 1000 / (ms ? ms : 1), SIZE_BYTES, r, sizeof(r));
	if (d->total > 0)
		say("%s: %s of %s (%d%%), %s/s", d->shown,
		    size_str(have, SIZE_BYTES, a, sizeof(a)),
		    size_str(d->total, SIZE_BYTES, b, sizeof(b)),
		    (int)(have * 100 / d->total), r);
	else
		say("%s: %s, %s/s", d->shown, size_str(have, SIZE_BYTES, a,
		    sizeof(a)), r);
	d->last = now;
	d->last_got = d->got;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct dl	*d = arg;
	uint64_t	 now = now_ms();

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (d->body && now - d->last >= PROGRESS_MS)
		progress(d, now, 0);
	return 0;
}

/* Content-Range: bytes FIRST-LAST/SIZE (SIZE may be '*'), or a 416's bytes '*'/SIZE */
static void
content_range(struct dl *d, const char *v, size_t len)
{
	char		 s[128];
	long long	 a, b, t;

	if (len >= sizeof(s))
		return;
	memcpy(s, v, len);
	s[len] = '\0';
	if (sscanf(s, " bytes %lld-%lld/%lld", &a, &b, &t) == 3 && a >= 0 && b >= a && t > b) {
		d->range_start = a;
		d->range_total = t;
	} else if (sscanf(s, " bytes %lld-%lld/*", &a, &b) == 2 && a >= 0 && b >= a)
		d->range_start = a;
	else if (sscanf(s, " bytes */%lld", &t) == 1 && t >= 0)
		d->range_total = t;
}

/* A header's value, trimmed, printable only, into buf ("" if it does not fit). */
static void
header_value(const char *v, size_t len, char *buf, size_t size)
{
	size_t	 i;

	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
	    v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	buf[0] = '\0';
	if (len >= size)
		return;
	for (i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] >= 0x7f)
			return;
	memcpy(buf, v, len);
	buf[len] = '\0';
}

/*
 * What a resume sends as If-Range, so that a file changed in between is
 * fetched anew (a 200), never spliced: a strong ETag, else Last-Modified.
 * Kept next to DEST.part from the reply its first byte came in.
 */
static void
validator_keep(const struct dl *d)
{
	const char	*v = d->etag[0] != '\0' && strncmp(d->etag, "W/", 2) != 0 ?
			    d->etag : d->lastmod;

	if (v[0] == '\0' || write_file(d->vpath, v, strlen(v), 0644) == -1)
		unlink(d->vpath);
}

/* The bytes still to come fit the state partition, a reserve kept. */
static int
space_ok(struct dl *d)
{
	struct statvfs	 sv;
	curl_off_t	 size, reserve;

	if (d->total < 0 || fstatvfs(d->fd, &sv) == -1)
		return 1;
	size = (curl_off_t)sv.f_blocks * (curl_off_t)sv.f_frsize;
	reserve = size / 20 < RESERVE_MAX ? size / 20 : RESERVE_MAX;
	d->need = d->total - d->offset;
	d->avail = (curl_off_t)sv.f_bavail * (curl_off_t)sv.f_frsize - reserve;
	return d->need <= d->avail;
}

/* Every reply's headers, redirects' too: a status line starts a new one. */
static size_t
header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct dl	*d = arg;
	size_t		 len = size * n, i, j = 0;
	const char	*p, *end = line + len;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		d->range_start = d->range_total = -1;
		d->etag[0] = d->lastmod[0] = '\0';
		/* HTTP/1.1 404 Not Found: keep the reason, printable, cut */
		p = memchr(line, ' ', len);
		if (p != NULL)
			p = memchr(p + 1, ' ', end - p - 1);
		if (p != NULL)
			for (i = p + 1 - line; i < len && j < sizeof(d->reason) - 1; i++)
				if (line[i] >= 0x20 && line[i] < 0x7f)
					d->reason[j++] = line[i];
		d->reason[j] = '\0';
		return len;
	}
	if (len > 14 && strncasecmp(line, "Content-Range:", 14) == 0)
		content_range(d, line + 14, len - 14);
	else if (len > 5 && strncasecmp(line, "ETag:", 5) == 0)
		header_value(line + 5, len - 5, d->etag, sizeof(d->etag));
	else if (len > 14 && strncasecmp(line, "Last-Modified:", 14) == 0)
		header_value(line + 14, len - 14, d->lastmod, sizeof(d->lastmod));
	return len;
}

/* Empty DEST.part and the hash: from the first byte again. */
static int
restart(struct dl *d)
{
	if (ftruncate(d->fd, 0) == -1) {
		d->werr = errno;
		return -1;
	}
	mbedtls_sha256_free(&d->sha);
	mbedtls_sha256_init(&d->sha);
	mbedtls_sha256_starts(&d->sha, 0);
	d->offset = 0;
	d->got = d->last_got = 0;
	return 0;
}

/* The file's size against --max-size and the free space. */
static int
bounds(struct dl *d)
{
	if (d->max >= 0 && d->total > d->max) {
		d->stop = STOP_BIG;
		return -1;
	}
	if (!space_ok(d)) {
		d->stop = STOP_SPACE;
		return -1;
	}
	return 0;
}

/* The final reply's status is known: take its body, or not. */
static int
start_body(struct dl *d)
{
	curl_off_t	 len = -1;

	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &d->status);
	curl_easy_getinfo(d->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (d->status == 206) {
		if (d->offset == 0 || d->range_start != d->offset) {
			d->stop = STOP_RANGE;
			return -1;
		}
		d->total = d->range_total >= 0 ? d->range_total :
		    len >= 0 ? d->offset + len : -1;
		return bounds(d);
	}
	if (d->status != 200) {
		d->stop = STOP_STATUS;
		return -1;
	}
	if (d->offset > 0) {
		say("%s: the server sent the whole file, not the rest: starting over",
		    d->shown);
		if (restart(d) == -1) {
			d->stop = STOP_WRITE;
			return -1;
		}
	}
	d->total = len;
	validator_keep(d);
	return bounds(d);
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct dl	*d = arg;
	size_t		 len = size * n, off;
	ssize_t		 w;

	if (!d->body) {
		d->body = 1;
		if (start_body(d) == -1)
			return CURL_WRITEFUNC_ERROR;
	}
	/* a server that said no size, or a wrong one */
	if (d->max >= 0 && d->offset + d->got + (curl_off_t)len > d->max) {
		d->stop = STOP_BIG;
		return CURL_WRITEFUNC_ERROR;
	}
	for (off = 0; off < len; off += w) {
		if ((w = write(d->fd, data + off, len - off)) == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			d->werr = errno;
			d->stop = STOP_WRITE;
			return CURL_WRITEFUNC_ERROR;
		}
	}
	mbedtls_sha256_update(&d->sha, (const unsigned char *)data, len);
	d->got += len;
	return len;
}

static int
write_error(const struct dl *d)
{
	if (d->werr == ENOSPC || d->werr == EDQUOT) {
		say("%s: state partition full (%s)", d->part, strerror(d->werr));
		return FETCH_NOSPACE;
	}
	say("%s: %s", d->part, strerror(d->werr));
	return FETCH_ERROR;
}

/*
 * libcurl's sockets, close-on-exec (libcurl 8.14 makes them without):
 * a child never inherits a connection of ours, least of all a pooled one
 * to the metadata server. spawn.c closes them in the child as well.
 */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)arg;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

#define SET(opt, val)	(rc = rc != CURLE_OK ? rc : curl_easy_setopt(easy, opt, val))

/* list with s appended; NULL, the list freed, when out of memory */
static struct curl_slist *
slist_add(struct curl_slist *list, const char *s)
{
	struct curl_slist	*n;

	if ((n = curl_slist_append(list, s)) == NULL)
		curl_slist_free_all(list);
	return n;
}

/* One request from d->offset on: an enum fetch_status, or AGAIN. */
static int
transfer(struct dl *d, const char *url, struct curl_slist *hdrs, const char *protos)
{
	char		 range[32], err[CURL_ERROR_SIZE], validator[VALIDATOR_MAX];
	char		 ifrange[VALIDATOR_MAX + 16];
	struct curl_slist *mine = NULL, *h;
	long		 elapsed;
	int		 ok = 1;
	CURL		*easy;
	CURLcode	 rc = CURLE_OK, res;
	int		 rv = FETCH_ERROR;

	d->got = d->last_got = 0;
	d->status = 0;
	d->reason[0] = '\0';
	d->range_start = d->range_total = -1;
	d->body = 0;
	d->stop = STOP_NONE;
	d->werr = 0;
	err[0] = '\0';
	if ((easy = curl_easy_init()) == NULL) {
		say("libcurl does not start");
		return FETCH_ERROR;
	}
	d->easy = easy;
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, protos);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, protos);
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, MAX_REDIRS);
	SET(CURLOPT_CONNECTTIMEOUT, CONNECT_S);
	SET(CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED);
	SET(CURLOPT_LOW_SPEED_TIME, LOW_SPEED_S);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "nestbox-fetch/" NESTBOX_VERSION);
	SET(CURLOPT_ERRORBUFFER, err);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, d);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, d);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, progress_cb);
	SET(CURLOPT_XFERINFODATA, d);
	/* the CA bundle: libcurl's default, /etc/ssl/certs/ca-certificates.crt */
	if (d->offset > 0) {
		snprintf(range, sizeof(range), "%lld-", (long long)d->offset);
		SET(CURLOPT_RANGE, range);
		/* the same file or all of it again: If-Range with its validator */
		if (read_head(d->vpath, validator, sizeof(validator)) > 0) {
			snprintf(ifrange, sizeof(ifrange), "If-Range: %s", validator);
			for (h = hdrs; h != NULL && ok; h = h->next)
				ok = (mine = slist_add(mine, h->data)) != NULL;
			if (!ok || (mine = slist_add(mine, ifrange)) == NULL) {
				say("out of memory");
				goto out;
			}
			SET(CURLOPT_HTTPHEADER, mine);
		}
	}
	elapsed = (long)((now_ms() - d->started) / 1000);
	if (elapsed >= FETCH_TIME_S) {
		say("%s: not done in %ld s: later", d->shown, FETCH_TIME_S);
		goto out;
	}
	SET(CURLOPT_TIMEOUT, FETCH_TIME_S - elapsed);
	if (rc != CURLE_OK) {
		say("libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	res = curl_easy_perform(easy);
	if (d->status == 0)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &d->status);
	if (res == CURLE_OK && !d->body)
		start_body(d);		/* an empty body: judged here */
	if (d->stop == STOP_WRITE) {
		rv = write_error(d);
		goto out;
	}
	if (d->stop == STOP_BIG) {
		say("%s: refused: larger than its max-size (%lld bytes)", d->shown,
		    (long long)d->max);
		rv = FETCH_TOOBIG;
		goto out;
	}
	if (d->stop == STOP_SPACE) {
		char	 a[32], b[32];

		say("%s: %s more would leave %s free on the state partition: not "
		    "started", d->shown, size_str((uint64_t)d->need, SIZE_BYTES, a,
		    sizeof(a)), d->avail > d->need ? "enough" : size_str((uint64_t)
		    (d->avail > 0 ? d->avail : 0), SIZE_BYTES, b, sizeof(b)));
		rv = FETCH_NOSPACE;
		goto out;
	}
	if (d->stop == STOP_RANGE) {
		say("%s: the server sent another range than the one asked for: "
		    "starting over", d->shown);
		rv = AGAIN;
		goto out;
	}
	if (res != CURLE_OK && d->stop == STOP_NONE) {
		say("%s: %s", d->shown, err[0] != '\0' ? err : curl_easy_strerror(res));
		goto out;
	}
	if (d->status == 416 && d->offset > 0) {
		if (d->range_total == d->offset) {
			d->total = d->offset;	/* DEST.part is all of it */
			rv = FETCH_OK;
		} else {
			say("%s: %s does not fit the file: starting over", d->shown,
			    d->part);
			rv = AGAIN;
		}
		goto out;
	}
	if (d->stop == STOP_STATUS || (d->status != 200 && d->status != 206)) {
		say("%s: HTTP %ld%s%s", d->shown, d->status, d->reason[0] ? " " : "",
		    d->reason);
		goto out;
	}
	rv = FETCH_OK;
out:
	d->easy = NULL;
	curl_easy_cleanup(easy);
	curl_slist_free_all(mine);
	return rv;
}

/* The bytes DEST.part already has, into the hash. */
static int
hash_file(const char *path, curl_off_t len, mbedtls_sha256_context *sha)
{
	static unsigned char	 buf[64 * 1024];
	curl_off_t		 left = len;
	ssize_t			 n;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	while (left > 0) {
		n = read(fd, buf, left < (curl_off_t)sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* it shrank under us */
			close(fd);
			return -1;
		}
		mbedtls_sha256_update(sha, buf, n);
		left -= n;
	}
	close(fd);
	return 0;
}

/* The directory entry of a rename(2), on disk. */
static int
sync_dir(const char *path)
{
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	int		 fd, rv;

	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

static int
download(const char *url, const char *shown, const char *dest, const char *want,
    curl_off_t max, struct curl_slist *hdrs, const char *protos)
{
	unsigned char	 md[32];
	char		 part[PATH_MAX], vpath[PATH_MAX + 2], got[65], sz[32], why[200];
	struct stat	 st;
	struct dl	 d;
	size_t		 i;
	int		 rv = FETCH_ERROR, attempt;

	if ((size_t)snprintf(part, sizeof(part), "%s.part", dest) >= sizeof(part)) {
		say("%s: name too long", dest);
		return FETCH_USAGE;
	}
	memset(&d, 0, sizeof(d));
	d.shown = shown;
	d.part = part;
	snprintf(vpath, sizeof(vpath), "%s.v", part);
	d.vpath = vpath;
	d.max = max;
	mbedtls_sha256_init(&d.sha);
	mbedtls_sha256_starts(&d.sha, 0);
	d.fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (d.fd == -1) {
		d.werr = errno;
		rv = write_error(&d);
		goto out;
	}
	if (fstat(d.fd, &st) == -1) {
		say("%s: %s", part, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		say("%s: not a regular file", part);
		goto out;
	}
	if (st.st_size > 0) {
		if (hash_file(part, st.st_size, &d.sha) == -1) {
			say("%s: %s", part, strerror(errno));
			goto out;
		}
		d.offset = st.st_size;
		say("%s: resuming at %s", shown, size_str(d.offset, SIZE_BYTES, sz,
		    sizeof(sz)));
	}
	d.started = d.last = now_ms();
	for (attempt = 0; ; attempt++) {
		if ((rv = transfer(&d, url, hdrs, protos)) != AGAIN)
			break;
		if (attempt > 0) {
			say("%s: the server's ranges make no sense", shown);
			rv = FETCH_ERROR;
			break;
		}
		if (restart(&d) == -1) {
			rv = write_error(&d);
			break;
		}
	}
	if (rv == FETCH_TOOBIG) {
		unlink(part);
		unlink(vpath);
	}
	if (rv != FETCH_OK)
		goto out;
	progress(&d, now_ms(), 1);
	if (fsync(d.fd) == -1) {
		d.werr = errno;
		rv = write_error(&d);
		goto out;
	}
	mbedtls_sha256_finish(&d.sha, md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(got + 2 * i, 3, "%02x", md[i]);
	if (want != NULL && strcmp(want, got) != 0) {
		unlink(part);		/* never hashed again on a retry */
		unlink(vpath);
		say("%s: sha256 mismatch: expected %s, got %s", shown, want, got);
		rv = FETCH_MISMATCH;
		goto out;
	}
	if ((rv = image_inspect(qemu_img, part, INSPECT_S, why, sizeof(why))) != FETCH_OK)
		say("%s: %s%s", shown, rv == FETCH_REFUSED ? "refused: " : "", why);
	if (rv != FETCH_OK) {
		if (rv == FETCH_REFUSED) {
			unlink(part);
			unlink(vpath);
		}
		goto out;
	}
	unlink(vpath);
	if (rename(part, dest) == -1) {
		say("%s: %s", dest, strerror(errno));
		rv = FETCH_ERROR;
		goto out;
	}
	if (sync_dir(dest) == -1)
		say("%s: syncing its directory: %s", dest, strerror(errno));
	say("%s: done, sha256 %s", shown, got);
out:
	/* nothing came: leave no empty DEST.part behind */
	if (rv != FETCH_OK && rv != FETCH_MISMATCH && d.fd != -1 &&
	    fstat(d.fd, &st) == 0 && st.st_size == 0)
		unlink(part);
	if (d.fd != -1)
		close(d.fd);
	mbedtls_sha256_free(&d.sha);
	return rv;
}

struct token_reply {
	char		 body[TOKEN_REPLY_MAX + 1];
	size_t		 len;
	int		 flavor;
	int		 toobig;
};

static size_t
token_header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct token_reply	*t = arg;
	size_t			 len = size * n;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
		t->flavor = 0;
	else if (len >= 16 && strncasecmp(line, "Metadata-Flavor:", 16) == 0) {
		line += 16;
		len -= 16;
		while (len > 0 && (*line == ' ' || *line == '\t'))
			line++, len--;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
		    line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;
		t->flavor = len == 6 && memcmp(line, "Google", 6) == 0;
	}
	return size * n;
}

static size_t
token_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct token_reply	*t = arg;
	size_t			 len = size * n;

	if (len > TOKEN_REPLY_MAX - t->len) {
		t->toobig = 1;
		return CURL_WRITEFUNC_ERROR;
	}
	memcpy(t->body + t->len, data, len);
	t->len += len;
	t->body[t->len] = '\0';
	return len;
}

/* The service account's token as an HTTP header line; never logged. */
static int
token_get(char *auth, size_t size)
{
	static struct token_reply t;
	struct md_reply		 r;
	struct curl_slist	*h;
	char			 err[CURL_ERROR_SIZE], why[MD_ERR_MAX];
	const cJSON		*at, *tt;
	cJSON			*doc = NULL;
	CURL			*easy;
	CURLcode		 rc = CURLE_OK, res;
	long			 status = 0;
	const char		*s;
	int			 rv = -1;

	memset(&t, 0, sizeof(t));
	err[0] = '\0';
	if ((h = curl_slist_append(NULL, "Metadata-Flavor: Google")) == NULL ||
	    (easy = curl_easy_init()) == NULL) {
		curl_slist_free_all(h);
		say("libcurl does not start");
		return -1;
	}
	/* never through a proxy: this libcurl has none, so these two may fail */
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_URL, MD_BASE MD_TOKEN_PATH);
	SET(CURLOPT_PROTOCOLS_STR, "http");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTPHEADER, h);
	SET(CURLOPT_USERAGENT, "nestbox-fetch/" NESTBOX_VERSION);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)MD_CONNECT_MS);
	SET(CURLOPT_TIMEOUT_MS, (long)MD_TIMEOUT_MS);
	SET(CURLOPT_ERRORBUFFER, err);
	SET(CURLOPT_HEADERFUNCTION, token_header_cb);
	SET(CURLOPT_HEADERDATA, &t);
	SET(CURLOPT_WRITEFUNCTION, token_write_cb);
	SET(CURLOPT_WRITEDATA, &t);
	if (rc != CURLE_OK) {
		say("libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	res = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	/* md_classify judges the reply as it does PID 1's; the words are ours */
	memset(&r, 0, sizeof(r));
	r.flavor = t.flavor;
	r.toobig = t.toobig;
	if (res == CURLE_OK || t.toobig)
		r.status = status;
	if (md_classify(&r, why, sizeof(why)) != MD_OK) {
		if (r.toobig)
			say("metadata token: the reply is over %d bytes", TOKEN_REPLY_MAX);
		else if (r.status == 0)
			say("metadata token: %s", err[0] != '\0' ? err : curl_easy_strerror(res));
		else if (r.status != 200)
			say("metadata token: HTTP %ld%s", r.status, r.status == 404 ?
			    " (does the instance have a service account?)" : "");
		else
			say("metadata token: the reply has no Metadata-Flavor: Google");
		goto out;
	}
	if ((doc = cJSON_ParseWithLength(t.body, t.len)) == NULL ||
	    !cJSON_IsString(at = cJSON_GetObjectItemCaseSensitive(doc, "access_token")) ||
	    at->valuestring[0] == '\0') {
		say("metadata token: the reply has no access_token");
		goto out;
	}
	tt = cJSON_GetObjectItemCaseSensitive(doc, "token_type");
	if (tt != NULL && (!cJSON_IsString(tt) || strcasecmp(tt->valuestring, "Bearer") != 0)) {
		say("metadata token: token_type is not Bearer");
		goto out;
	}
	for (s = at->valuestring; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f) {
			say("metadata token: the access_token has a byte a header can not carry");
			goto out;
		}
	if ((size_t)snprintf(auth, size, "Authorization: Bearer %s", at->valuestring) >= size) {
		say("metadata token: the access_token is over %zu bytes", size);
		goto out;
	}
	rv = 0;
out:
	if (doc != NULL && cJSON_IsString(at = cJSON_GetObjectItemCaseSensitive(doc,
	    "access_token")))
		explicit_bzero(at->valuestring, strlen(at->valuestring));
	cJSON_Delete(doc);
	explicit_bzero(&t, sizeof(t));
	curl_easy_cleanup(easy);
	curl_slist_free_all(h);
	return rv;
}

/*
 * SOURCE "-": the source is the first line of stdin, where PID 1 writes it
 * through a pipe, so that no other uid reads it in /proc/PID/cmdline.
 */
static int
read_source(char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	errno = 0;
	while (len < size - 1) {
		if ((n = read(STDIN_FILENO, buf + len, size - 1 - len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return len == size - 1 && strchr(buf, '\n') == NULL ? -1 : 0;
}

int
fetch_main(int argc, char *argv[])
{
	static char		 url[URL_MAX], auth[AUTH_MAX], srcbuf[GUEST_SOURCE_MAX + 2];
	char			 want[65], shown[SHOWN_MAX];
	const char		*src, *dest, *api = GCS_API, *protos;
	struct curl_slist	*hdrs = NULL;
	curl_off_t		 max = -1;
	char			*end;
	size_t			 i;
	int			 rv, gs;

	/* --max-size: PID 1's, from the declaration; the others the tests'
	 * options: PID 1 passes none, and nothing comes from the
	 * environment (the kernel command line sets it) */
	while (argc >= 3 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--gcs-api") == 0)
			api = argv[2];
		else if (strcmp(argv[1], "--qemu-img") == 0)
			qemu_img = argv[2];
		else if (strcmp(argv[1], "--max-size") == 0) {
			errno = 0;
			max = strtoll(argv[2], &end, 10);
			if (errno != 0 || end == argv[2] || *end != '\0' || max < 0)
				return usage();
		}
		else
			return usage();
		argc -= 2;
		argv += 2;
	}
	if (argc < 3 || argc > 4 || argv[2][0] == '\0')
		return usage();
	src = argv[1];
	dest = argv[2];
	if (strcmp(src, "-") == 0) {
		if (read_source(srcbuf, sizeof(srcbuf)) == -1) {
			say("stdin: no source (%s)", errno != 0 ? strerror(errno) : "too long");
			return usage();
		}
		src = srcbuf;
	}
	if (argc == 4) {
		if (!sha256_hex_ok(argv[3])) {
			say("%s: not a sha256 (64 hex digits)", argv[3]);
			return usage();
		}
		for (i = 0; i < 64; i++)
			want[i] = argv[3][i] | 0x20;
		want[64] = '\0';
	}
	/* the source as every message shows it: no credential in it */
	url_redact(src, shown, sizeof(shown));
	gs = strncmp(src, "gs://", 5) == 0;
	if (gs) {
		if (strncmp(api, "https://", 8) != 0 && strncmp(api, "http://", 7) != 0) {
			say("--gcs-api: not an http(s) URL");
			return usage();
		}
		if (strlen(src) > GUEST_SOURCE_MAX || gcs_url(src + 5, api, url, sizeof(url)) == -1) {
			say("%.200s: not gs://BUCKET/OBJECT", shown);
			return usage();
		}
	} else if (strncmp(src, "https://", 8) == 0 || strncmp(src, "http://", 7) == 0) {
		if (strlen(src) >= sizeof(url)) {
			say("%.200s: URL too long", shown);
			return usage();
		}
		strcpy(url, src);
	} else {
		say("%.200s: not an https://, http:// or gs:// source", shown);
		return usage();
	}
	protos = strncmp(url, "https://", 8) == 0 ? "https" : "http,https";
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		say("libcurl does not start");
		return FETCH_ERROR;
	}
	if (gs) {
		if (token_get(auth, sizeof(auth)) == -1) {
			rv = FETCH_ERROR;
			goto out;
		}
		hdrs = curl_slist_append(NULL, auth);
		explicit_bzero(auth, sizeof(auth));
		if (hdrs == NULL) {
			say("out of memory");
			rv = FETCH_ERROR;
			goto out;
		}
	}
	rv = download(url, shown, dest, argc == 4 ? want : NULL, max, hdrs, protos);
out:
	if (hdrs != NULL)
		explicit_bzero(hdrs->data, strlen(hdrs->data));
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return rv;
}
