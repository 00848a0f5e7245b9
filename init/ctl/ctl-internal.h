/*
 * ctl/ctl-internal.h: what ctl/ keeps for itself and its unit tests,
 * offered to no other folder. ctl/ctl.h is what the rest of nestbox uses.
 */
#ifndef NESTBOX_CTL_INTERNAL_H
#define NESTBOX_CTL_INTERNAL_H

#include "ctl/ctl.h"

/* server.c */
extern int control_timeout_ms;	/* for the request line: 5000; the unit tests shorten it */

#endif /* NESTBOX_CTL_INTERNAL_H */
