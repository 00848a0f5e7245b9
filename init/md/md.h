/*
 * md/: the GCE metadata server: the client and its libcurl transport, and
 * what nestbox reports back (status.json, guest attributes).
 *
 * Unless a comment says otherwise, functions return 0 on success and -1
 * with errno set on failure.
 */
#ifndef NESTBOX_MD_H
#define NESTBOX_MD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "core/core.h"

/*
 * metadata.c: the GCE metadata client. Every reply is checked here
 * (status, Metadata-Flavor, size, ETag); a transport only moves bytes:
 * md/http.c is libcurl in the event loop, the unit tests use a fake.
 */
#define MD_BASE		"http://169.254.169.254/computeMetadata/v1/"
#define MD_VALUE_MAX	(256 * 1024)	/* GCE's limit for one value */
#define MD_DOC_MAX	(512 * 1024)	/* and for all of one resource's */
#define MD_CONNECT_MS	2000
#define MD_TIMEOUT_MS	10000		/* a plain GET, all of it */
#define MD_WATCH_SEC	60		/* timeout_sec of the watch; the client waits 10 s more */
#define MD_BACKOFF_MIN	100		/* ms, doubling per failed attempt ... */
#define MD_BACKOFF_MAX	10000		/* ... up to this; jitter takes up to half off */
#define MD_ETAG_MAX	64
#define MD_ERR_MAX	160
#define MD_KEY_MAX	127
#define MD_LISTENERS	8
#define MD_WATCHERS	16
enum md_result {
	MD_OK,			/* 200 with Metadata-Flavor: Google */
	MD_UNSET,		/* 404: the key is not set */
	MD_RETRY,		/* 5xx, 429, no reply: retried with backoff */
	MD_FAIL,		/* 403, other statuses, no flavor, too big: reported */
};
struct md_reply {			/* what the transport got */
	long		 status;	/* HTTP status; 0: no reply at all */
	int		 flavor;	/* "Metadata-Flavor: Google" was in it */
	int		 toobig;	/* the body went over the request's max */
	char		 etag[MD_ETAG_MAX];
	const char	*body;		/* NUL-terminated, the transport's */
	size_t		 len;
	char		 error[MD_ERR_MAX];	/* the transport's, when status is 0 */
};
struct md_req {
	const char	*name;		/* for the log: "hostname" */
	char		 path[512];	/* under MD_BASE, with the query */
	const char	*put;		/* the body of a PUT; NULL: GET */
	int		 del;		/* no put: DELETE instead of GET */
	size_t		 max;		/* longest body accepted */
	uint64_t	 timeout;	/* ms, the whole request */
	int		 once;		/* MD_RETRY goes to done() too, no retry */
	void		(*done)(struct md_req *, enum md_result, const struct md_reply *);
	void		*arg;
	/* the client's */
	int		 busy;		/* in flight */
	int		 waiting;	/* for the retry timer */
	unsigned	 attempt;	/* failed attempts in a row */
	int		 failed;	/* done() found the reply wanting */
	uint64_t	 started;	/* now_ms() of the last attempt */
	char		 lasterr[MD_ERR_MAX];	/* logged once */
	struct timer	 retry;
	int		 timer_ok;
};
struct md_ops {				/* what the client does to the world */
	int	(*start)(struct md_req *);	/* send; metadata_reply() later */
	int	(*sethostname)(const char *);	/* hostname_set; NULL: nothing */
	int	(*aliases)(const char *const cidrs[], size_t n);	/* net_alias_routes */
	void	(*preempted)(void);	/* instance/preempted is TRUE; NULL: nothing */
};
struct attr {
	char		*key;
	char		*value;		/* strings as they are, other JSON as text */
};
struct attrs {				/* instance/ or project/attributes/ */
	struct attr	*v;
	size_t		 n;
	size_t		 bad;		/* members skipped: bad key or value */
};
struct md_stats {
	const char	*watch;		/* "idle", "reading", "watching", "retrying" */
	char		 etag[MD_ETAG_MAX];	/* of the attributes we have: "NONE" */
	char		 error[MD_ERR_MAX];	/* the last one, "" if none */
	unsigned long	 requests, errors, changes;
	uint64_t	 first_reply;	/* now_ms() of the first reply; 0: none yet */
	int		 preemptible;	/* -1: not known */
	int		 preempted;	/* instance/preempted was TRUE */
	char		 maintenance[48];	/* instance/maintenance-event; "": not known */
	char		 hostname[64];
};
int	 md_http_start(struct md_req *);	/* md/http.c: libcurl, md_ops.start */
const char *libraries_version(void);	/* md/http.c: "libcurl/... cJSON/..." */
enum md_result md_classify(const struct md_reply *, char *why, size_t size);
int	 hostname_set(const char *);	/* sethostname(2), /etc/hostname; logs */
int	 metadata_init(const struct md_ops *);	/* resets everything */
void	 metadata_start(void);		/* the network is up: read and watch; again: retry now */
int	 md_request(struct md_req *);	/* EBUSY: this one is in flight */
/*
 * cb(value, arg) once the first attributes are in, then whenever key's
 * value changes: an instance attribute, else the project's; NULL: unset.
 * Registered after the first attributes: called at once. EINVAL: not a
 * key; ENOSPC: more than MD_WATCHERS.
 */
int	 metadata_watch(const char *key, void (*cb)(const char *value, void *arg), void *arg);
void	 metadata_on_stats(void (*)(void));	/* what md_stats shows changed */
const char *metadata_attr(const char *key);	/* instance, else project; NULL: unset */
const struct md_stats *metadata_stats(void);
/* nic0's alias IP ranges ("a.b.c.d/n"): -1 (ENOENT) until read; fn(), when
 * they change after that (one listener: the guests' cross-check) */
int	 metadata_aliases(const char *const **cidrs, size_t *n);
void	 metadata_on_aliases(void (*fn)(void));

/*
 * ga.c: the one writer of guest attributes (instance/guest-attributes/KEY),
 * when enable-guest-attributes is TRUE: per key, only a value that differs
 * from the last one written, the latest; for the whole L1, one budget of
 * STATUS_GA_BURST at once and one every STATUS_GA_EVERY ms after, which
 * keeps every minute to GCE's 10 writes (3 + 7); the key that has waited
 * longest goes first. A closed key that was written is deleted.
 */
#define STATUS_GA_BURST	3
#define STATUS_GA_EVERY	7500		/* ms per write: no 60 s holds more than 10 */
#define GA_DROP_FAILED	0x1	/* a failed write is dropped, not retried; and
				   the next ga_set() sends even the same value */
int	 ga_open(const char *key, const char *name, int flags);	/* name: for the log */
int	 ga_set(const char *key, const char *value);	/* copies; ENOENT: not open */
void	 ga_close(const char *key);	/* what waits is dropped; deleted if written */

/*
 * status.c: /run/nestbox/status.json, rewritten (atomically) soon after a
 * status_changed(); a summary as the guest attribute nestbox/status (ga.c).
 */
#define STATUS_PATH	"/run/nestbox/status.json"
#define STATUS_GA_KEY	"nestbox/status"
#define STATUS_GA_PATH	"instance/guest-attributes/" STATUS_GA_KEY
struct cJSON;
struct status_section {		/* a subsystem's part of the status */
	const char	*name;
	/* adds its fields to obj; brief: only what changes rarely (no counters) */
	void		(*render)(struct cJSON *obj, int brief);
	struct status_section *next;
};
struct status_conf {
	const char	*path;		/* NULL: STATUS_PATH */
	const char	*(*kvm)(void);	/* kvm.c's kvm_status(); NULL: "unknown" */
	const char	*ifname;	/* NULL: "eth0" */
	pid_t		(*dnsmasq_pid)(void);	/* its memory is sampled; NULL: none */
};
int	 status_init(const struct status_conf *);	/* NULL: off */
void	 status_section_add(struct status_section *);
void	 status_changed(void);		/* soon, once for many calls */

#endif /* NESTBOX_MD_H */
