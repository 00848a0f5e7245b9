/*
 * md/'s own: what the files of md/ share with each other and with the unit
 * tests and fuzzers, not with the rest of nestbox (that is md/md.h).
 */
#ifndef NESTBOX_MD_INTERNAL_H
#define NESTBOX_MD_INTERNAL_H

#include "md/md.h"

/* metadata.c: the parsers and checks, and the transport's side. */
uint64_t md_backoff(unsigned attempt, uint32_t rnd);	/* ms before the next try */
int	 md_key_valid(const char *);
int	 md_etag_valid(const char *);
int	 hostname_parse(const char *reply, size_t len, char name[64]);	/* EINVAL */
int	 attrs_parse(const char *json, size_t len, struct attrs *);	/* EINVAL: not an object */
const char *attrs_get(const struct attrs *, const char *key);		/* NULL: unset */
void	 attrs_free(struct attrs *);
int	 aliases_parse(const char *json, size_t len, char (*v)[19], size_t max, size_t *n);
void	 metadata_reply(struct md_req *, const struct md_reply *);	/* the transport's answer */
const struct attrs *metadata_attrs(int project);

/* ga.c */
#define GA_KEY_MAX	127	/* NAMESPACE/KEY */
int	 ga_enabled(void);		/* enable-guest-attributes is TRUE */
void	 ga_kick(void);			/* what its timer runs */
void	 ga_clock(uint64_t (*)(void));	/* the unit tests' clock; NULL: now_ms */
unsigned long ga_writes(void);		/* PUTs and DELETEs sent */

/* status.c */
char	*status_render(int brief);	/* JSON, free() it; NULL: ENOMEM */
int	 status_write(void);		/* now */

/* metadata.c: every change of the attributes, all of them (the tests') */
void	 metadata_on_attributes(void (*)(const struct attrs *instance));

/* ga.c's rate: a token bucket, as GCRA, integers only */
struct bucket {
	uint64_t	 every;		/* ms per token */
	unsigned	 burst;
	uint64_t	 tat;		/* the theoretical arrival time */
};
uint64_t bucket_take(struct bucket *, uint64_t now);	/* 0: taken; else ms to wait */

#endif /* NESTBOX_MD_INTERNAL_H */
