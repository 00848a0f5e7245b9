/*
 * The one writer of guest attributes, instance/guest-attributes/KEY:
 * nestbox/status (status.c) and nestbox/guest-NAME (the guests).
 *
 * A value is written only when enable-guest-attributes is TRUE (instance,
 * else project) at the time it is set, and only when it differs from the
 * last one written. GCE allows a VM about 10 writes a minute, in bursts of
 * at most 3, and may drop what goes over: every key shares one token
 * bucket, so 32 guests changing state at once cost what one does. While a
 * key waits, newer values replace older ones (the write that goes is the
 * latest), and the key that has waited longest goes first, so none starves.
 * A key closed after something of it was written (a removed guest's) is
 * deleted on the server, from the same budget.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "md/md.h"
#include "md/md-internal.h"

#define GA_REPLY_MAX	4096	/* GCE answers a PUT with nothing */
#define GA_DELETE_TRIES	3	/* a DELETE that gets no answer */

struct ga_key {
	char		 key[GA_KEY_MAX + 1];	/* "nestbox/status" */
	int		 flags;
	int		 closed;	/* ga_close()d: freed once nothing is left to send */
	int		 deleting;	/* closed, and its DELETE is still to go */
	unsigned	 tries;		/* DELETEs sent */
	struct md_req	 req;
	uint64_t	 since;		/* when what waits began to wait */
	char		*pending;	/* waits for a token or for the write in flight */
	char		*inflight;	/* the request's PUT body */
	char		*written;	/* the last one written (or refused) */
	struct ga_key	*next;
};

static struct ga_key	*keys;
static struct timer	 timer;
static int		 timer_ok;
static uint64_t		(*clock_fn)(void) = now_ms;
static struct bucket	 budget = { STATUS_GA_EVERY, STATUS_GA_BURST, 0 };
static unsigned long	 nwrites;	/* PUTs and DELETEs sent */

/*
 * GCRA, the token bucket without a refill timer: a take at now is allowed
 * if it is not more than (burst - 1) intervals ahead of the theoretical
 * arrival time. Returns 0 if a token was taken, else the ms until one is.
 */
uint64_t
bucket_take(struct bucket *b, uint64_t now)
{
	uint64_t	 tat = b->tat > now ? b->tat : now;
	uint64_t	 tau = (uint64_t)(b->burst > 0 ? b->burst - 1 : 0) * b->every;

	if (tat - now > tau)
		return tat - now - tau;
	b->tat = tat + b->every;
	return 0;
}

static struct ga_key *
find(const char *key)
{
	struct ga_key	*k;

	for (k = keys; k != NULL; k = k->next)
		if (!k->closed && strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

static void
key_free(struct ga_key *k)
{
	struct ga_key	**kp;

	for (kp = &keys; *kp != NULL; kp = &(*kp)->next)
		if (*kp == k) {
			*kp = k->next;
			break;
		}
	free(k->pending);
	free(k->inflight);
	free(k->written);
	free(k);
}

/* Has k something to send now (a DELETE in flight for its name holds it)? */
static int
ready(const struct ga_key *k)
{
	const struct ga_key	*o;

	if (k->req.busy)
		return 0;
	if (k->closed)
		return k->deleting;
	if (k->pending == NULL)
		return 0;
	for (o = keys; o != NULL; o = o->next)
		if (o != k && o->closed && o->req.busy && strcmp(o->key, k->key) == 0)
			return 0;
	return 1;
}

/* Sends what waits, oldest first, as the budget allows; the timer for the rest. */
void
ga_kick(void)
{
	struct ga_key	*k, *best;
	uint64_t	 wait, next = 0;

	for (k = keys; k != NULL; k = k->next)
		if (k->closed && !k->deleting && !k->req.busy)
			next = 1;	/* ga_fire() frees it */
	for (;;) {
		best = NULL;
		for (k = keys; k != NULL; k = k->next)
			if (ready(k) && (best == NULL || k->since < best->since))
				best = k;
		if (best == NULL)
			break;
		if ((wait = bucket_take(&budget, clock_fn())) != 0) {
			if (next == 0 || wait < next)
				next = wait;
			break;
		}
		k = best;
		nwrites++;
		if (k->closed) {
			k->deleting = 0;
			k->tries++;
			k->req.put = NULL;
			k->req.del = 1;
		} else {
			k->inflight = k->pending;
			k->pending = NULL;
			k->req.put = k->inflight;
			k->req.del = 0;
		}
		md_request(&k->req);	/* not busy: can not fail */
	}
	if (timer_ok)
		timer_set(&timer, next);
}

static void
ga_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	struct ga_key	*k = req->arg;
	int		 drop = (k->flags & GA_DROP_FAILED) != 0;

	(void)r;
	if (req->del) {
		/* 404: never written, or gone already */
		if (res == MD_RETRY && k->tries < GA_DELETE_TRIES) {
			k->deleting = 1;
			k->since = clock_fn();
		}
		ga_kick();	/* the client still uses req: freed by the timer */
		return;
	}
	if (k->closed) {
		free(k->inflight);
		k->inflight = NULL;
		ga_kick();
		return;
	}
	if (res == MD_OK || (res != MD_RETRY && !drop)) {
		/* written, or refused (403: disabled): not this one again */
		free(k->written);
		k->written = k->inflight;
	} else if (res == MD_RETRY && !drop && k->pending == NULL) {
		k->pending = k->inflight;	/* again, when the budget allows */
		k->since = clock_fn();
	} else
		free(k->inflight);	/* a newer one waits; or GA_DROP_FAILED */
	k->inflight = NULL;
	ga_kick();
}

/* From the event loop, never inside the client: frees the closed keys. */
static void
ga_fire(struct timer *t)
{
	struct ga_key	*k, *next;

	(void)t;
	for (k = keys; k != NULL; k = next) {
		next = k->next;
		if (k->closed && !k->deleting && !k->req.busy)
			key_free(k);
	}
	ga_kick();
}

/*
 * Declares KEY ("nestbox/guest-web"), name for the metadata client's log
 * ("guest attribute"). A key open already is opened again from scratch.
 */
int
ga_open(const char *key, const char *name, int flags)
{
	struct ga_key	*k;

	if (strlen(key) > GA_KEY_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (!timer_ok) {
		if (timer_init(&timer, ga_fire, NULL) == -1)
			return -1;
		timer_ok = 1;
	}
	ga_close(key);
	/* declared again before its DELETE went: it is not deleted */
	for (k = keys; k != NULL; k = k->next)
		if (k->closed && strcmp(k->key, key) == 0)
			k->deleting = 0;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -1;
	snprintf(k->key, sizeof(k->key), "%s", key);
	k->flags = flags;
	k->req.name = name;
	snprintf(k->req.path, sizeof(k->req.path), "instance/guest-attributes/%s", key);
	k->req.max = GA_REPLY_MAX;
	k->req.timeout = MD_TIMEOUT_MS;
	k->req.once = 1;
	k->req.done = ga_done;
	k->req.arg = k;
	k->next = keys;
	keys = k;
	return 0;
}

/*
 * Forgets KEY: what waits is not written. If something of it was written,
 * it is deleted on the server (a removed guest's attribute must not stay);
 * a write in flight finishes first. The key is freed when nothing is left.
 */
void
ga_close(const char *key)
{
	struct ga_key	*k;

	if ((k = find(key)) == NULL)
		return;
	free(k->pending);
	k->pending = NULL;
	k->closed = 1;
	if (k->written != NULL || k->inflight != NULL) {
		k->deleting = 1;
		k->since = clock_fn();
	} else if (!k->req.busy) {
		key_free(k);
		return;
	}
	ga_kick();	/* the DELETE, the timer for what is left */
}

int
ga_enabled(void)
{
	const char	*v = metadata_attr("enable-guest-attributes");

	return v != NULL && strcasecmp(v, "TRUE") == 0;
}

/*
 * KEY's value is now value (copied). 0 also when it is not written:
 * guest attributes off, or the same as the last one. ENOENT: the key is
 * not open; ENOMEM.
 */
int
ga_set(const char *key, const char *value)
{
	struct ga_key	*k;
	const char	*last;
	char		*s;

	if ((k = find(key)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (!ga_enabled())
		return 0;
	last = k->pending ? k->pending : k->inflight ? k->inflight : k->written;
	if (last != NULL && strcmp(last, value) == 0)
		return 0;
	if ((s = strdup(value)) == NULL)
		return -1;
	if (k->pending == NULL)
		k->since = clock_fn();	/* a newer value keeps its place */
	free(k->pending);
	k->pending = s;
	ga_kick();
	return 0;
}

/* The unit tests' clock; NULL: now_ms(). Starts afresh: no key, the budget full. */
void
ga_clock(uint64_t (*fn)(void))
{
	clock_fn = fn != NULL ? fn : now_ms;
	while (keys != NULL)
		key_free(keys);
	budget.tat = 0;
	nwrites = 0;
	if (timer_ok)
		timer_set(&timer, 0);
}

/* PUTs and DELETEs sent since the start (or ga_clock()). */
unsigned long
ga_writes(void)
{
	return nwrites;
}
