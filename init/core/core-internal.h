/*
 * core/core-internal.h: what core/ keeps for itself and its unit tests,
 * offered to no other folder. core/core.h is what the rest of nestbox uses.
 */
#ifndef NESTBOX_CORE_INTERNAL_H
#define NESTBOX_CORE_INTERNAL_H

#include "core/core.h"

/* event.c: one turn of event_loop(), so a test can drive the loop */
int	 event_once(int timeout_ms);	/* events handled: 0 or 1 */

#endif /* NESTBOX_CORE_INTERNAL_H */
