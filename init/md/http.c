/*
 * The metadata client's transport: libcurl's multi interface driven by the
 * one event loop (CURLMOPT_SOCKETFUNCTION puts curl's sockets in the epoll
 * set, CURLMOPT_TIMERFUNCTION arms a timerfd), so a 60 s watch and a
 * hostname read run side by side and PID 1 never blocks on the network.
 *
 * It only moves bytes: the status, whether "Metadata-Flavor: Google" came
 * back, the ETag, and a body read up to the request's limit (a longer one
 * is flagged, never cut short silently). metadata.c judges the reply.
 * Never through a proxy (curl is built without proxy support, and told so
 * anyway), never following redirects, timeouts on connect and on the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <strings.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include <cjson/cJSON.h>

#include "md/md.h"
#include "md/md-internal.h"

struct xfer {
	struct md_req	*req;
	struct md_reply	 reply;
	char		*buf;
	size_t		 len, size;
};

struct sock {
	struct event	 ev;
	uint32_t	 events;
};

static CURLM		*multi;
static struct timer	 curl_timer;
static struct curl_slist *headers;

static void
finished(void)
{
	struct xfer	*x;
	CURLMsg		*m;
	CURL		*easy;
	CURLcode	 res;
	long		 status;
	int		 left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		easy = m->easy_handle;
		res = m->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		status = 0;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (res == CURLE_FILESIZE_EXCEEDED)
			x->reply.toobig = 1;
		if (res == CURLE_OK || x->reply.toobig)
			x->reply.status = status;
		else	/* not curl's error buffer: it has timings, every retry would differ */
			snprintf(x->reply.error, sizeof(x->reply.error), "%.150s",
			    curl_easy_strerror(res));
		x->reply.body = x->buf ? x->buf : "";
		x->reply.len = x->len;
		curl_multi_remove_handle(multi, easy);
		curl_easy_cleanup(easy);
		metadata_reply(x->req, &x->reply);	/* may start new transfers */
		free(x->buf);
		free(x);
	}
}

static void
sock_ready(struct event *ev, uint32_t events)
{
	int	 flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	/* ev may be freed in there (CURL_POLL_REMOVE): not used after */
	curl_multi_socket_action(multi, ev->fd, flags, &running);
	finished();
}

static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct sock	*s = socketp;
	uint32_t	 events = 0;

	(void)easy;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_del(&s->ev);
			curl_multi_assign(multi, fd, NULL);
			free(s);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (s != NULL && s->events == events)
		return 0;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->ev.fd = fd;
		s->ev.handler = sock_ready;
		s->ev.arg = s;
		curl_multi_assign(multi, fd, s);
	} else
		event_del(&s->ev);
	s->events = events;
	if (event_add(&s->ev, events) == -1) {
		log_warn("metadata: epoll");
		return -1;
	}
	return 0;
}

/* curl wants to be called after timeout_ms; -1: no timeout. Never calls curl. */
static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	(void)userp;
	if (timeout_ms < 0)
		timer_set(&curl_timer, 0);
	else
		timer_set(&curl_timer, timeout_ms > 0 ? (uint64_t)timeout_ms : 1);
	return 0;
}

static void
timer_fire(struct timer *t)
{
	int	 running;

	(void)t;
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finished();
}

/* A header line; a new status line (after 100 Continue) starts over. */
static size_t
header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, nlen;
	const char	*v;
	char		*colon;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		x->reply.flavor = 0;
		x->reply.etag[0] = '\0';
		return len;
	}
	if ((colon = memchr(line, ':', len)) == NULL)
		return len;
	nlen = colon - line;
	v = colon + 1;
	while (v < line + len && (*v == ' ' || *v == '\t'))
		v++;
	len -= v - line;
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
	    v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (nlen == 15 && strncasecmp(line, "Metadata-Flavor", 15) == 0)
		x->reply.flavor = len == 6 && memcmp(v, "Google", 6) == 0;
	else if (nlen == 4 && strncasecmp(line, "ETag", 4) == 0) {
		if (len < sizeof(x->reply.etag)) {
			memcpy(x->reply.etag, v, len);
			x->reply.etag[len] = '\0';
		} else
			strcpy(x->reply.etag, "?");	/* metadata.c refuses it */
	}
	return size * n;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, want;
	char		*p;

	if (len > x->req->max - x->len) {
		x->reply.toobig = 1;
		return CURL_WRITEFUNC_ERROR;
	}
	if (x->len + len + 1 > x->size) {
		want = x->size ? x->size : 4096;
		while (want < x->len + len + 1)
			want *= 2;
		if ((p = realloc(x->buf, want)) == NULL)
			return CURL_WRITEFUNC_ERROR;
		x->buf = p;
		x->size = want;
	}
	memcpy(x->buf + x->len, data, len);
	x->len += len;
	x->buf[x->len] = '\0';
	return len;
}

static int
http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("metadata: libcurl does not start");
		goto err;
	}
	if (timer_init(&curl_timer, timer_fire, NULL) == -1) {
		log_warn("metadata: timer");
		goto err;
	}
	headers = curl_slist_append(NULL, "Metadata-Flavor: Google");
	headers = curl_slist_append(headers, "Expect:");	/* no 100-continue on PUT */
	if (headers == NULL)
		goto err;
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	return 0;
err:
	if (multi != NULL)
		curl_multi_cleanup(multi);
	multi = NULL;
	errno = EIO;
	return -1;
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

int
md_http_start(struct md_req *req)
{
	struct xfer	*x = NULL;
	CURL		*easy = NULL;
	CURLcode	 rc = CURLE_OK;
	char		 url[sizeof(MD_BASE) + sizeof(req->path)];

	if (multi == NULL && http_init() == -1)
		return -1;
	if ((x = calloc(1, sizeof(*x))) == NULL || (easy = curl_easy_init()) == NULL)
		goto err;
	x->req = req;
	snprintf(url, sizeof(url), MD_BASE "%s", req->path);
	/*
	 * No proxy, ever: the request would carry Metadata-Flavor to it. This
	 * libcurl has no proxy code, so these two fail as unknown options.
	 */
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, "nestbox/" NESTBOX_VERSION);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)MD_CONNECT_MS);
	SET(CURLOPT_TIMEOUT_MS, (long)req->timeout);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_PRIVATE, x);
	if (req->put != NULL) {
		SET(CURLOPT_CUSTOMREQUEST, "PUT");
		SET(CURLOPT_POSTFIELDSIZE, (long)strlen(req->put));
		SET(CURLOPT_COPYPOSTFIELDS, req->put);
	} else if (req->del)
		SET(CURLOPT_CUSTOMREQUEST, "DELETE");
	if (rc != CURLE_OK) {
		log_warnx("metadata: %s: %s", req->name, curl_easy_strerror(rc));
		goto err;
	}
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		goto err;
	return 0;
err:
	if (easy != NULL)
		curl_easy_cleanup(easy);
	free(x);
	errno = ENOMEM;
	return -1;
}


/* The libraries linked into PID 1, for `init --version`: curl's own string
 * names its TLS library and zlib. */
const char *
libraries_version(void)
{
	static char	 buf[256];

	snprintf(buf, sizeof(buf), "%s cJSON/%s", curl_version(), cJSON_Version());
	return buf;
}
