/*
 * The guests' run-time rules that need no QEMU: the reconcile plan for
 * add / remove / change / no-op / invalid-guest mixes, and the state the
 * restart policy picks after an exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "unit.h"
#include "guest/vm.h"

#define G(n, extra)	"{\"name\": \"" n "\", \"memory\": \"128M\", \"disks\": " \
			"[{\"source\": \"state:" n ".img\"}]" extra "}"
#define DOC(g)		"{\"version\": 1, \"guests\": [" g "]}"

/* The plan from "have" (the guests of doc_have, as if running) to doc_want,
 * written as "op name, op name". */
static char *
plan_of(const char *doc_have, const char *doc_want)
{
	struct guest_set	 have, want;
	struct guest_errors	 e1, e2;
	struct vm_have		 h[GUESTS_MAX];
	struct plan_item	 p[2 * GUESTS_MAX];
	struct text		 t;
	static char		 buf[1024];
	size_t			 i, n;

	assert_int_equal(guests_parse(doc_have, strlen(doc_have), &have, &e1), 0);
	assert_int_equal(guests_parse(doc_want, strlen(doc_want), &want, &e2), 0);
	for (i = 0; i < have.n; i++) {
		h[i].name = have.v[i].name;
		h[i].decl = have.v[i].decl;
	}
	n = vm_plan(h, have.n, &want, p, NTESTS(p));
	text_init(&t, buf, sizeof(buf));
	for (i = 0; i < n; i++)
		text_add(&t, "%s%s %s", i ? ", " : "", plan_op_str(p[i].op), p[i].name);
	assert_true(text_done(&t) >= 0);
	guests_free(&have);
	guests_free(&want);
	guest_errors_free(&e1);
	guest_errors_free(&e2);
	return buf;
}

static void
plan_cases(void **state)
{
	(void)state;
	/* from nothing */
	assert_string_equal(plan_of("", DOC(G("a", "") "," G("b", ""))),
	    "start a, start b");
	/* no-op: the same document */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")),
	    DOC(G("a", "") "," G("b", ""))), "keep a, keep b");
	/* whitespace and member order do not matter, the values do */
	assert_string_equal(plan_of(DOC(G("a", ", \"vcpus\": 1")),
	    DOC("{\"vcpus\":1,\"name\":\"a\",\"memory\":\"128M\",\"disks\":"
	    "[{\"source\":\"state:a.img\"}]}")), "restart a");
	/* add one: the other is untouched */
	assert_string_equal(plan_of(DOC(G("a", "")), DOC(G("a", "") "," G("b", ""))),
	    "keep a, start b");
	/* remove one */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")), DOC(G("b", ""))),
	    "stop a, keep b");
	/* change one */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")),
	    DOC(G("a", "") "," G("b", ", \"vcpus\": 2"))), "keep a, restart b");
	/* everything at once, stops first, starts last */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "") "," G("c", "")),
	    DOC(G("d", "") "," G("c", ", \"restart\": \"never\"") "," G("b", ""))),
	    "stop a, restart c, keep b, start d");
	/* all removed: the attribute unset */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")), ""),
	    "stop a, stop b");
	/* an invalid guest is not in "want": a running one of that name stops,
	 * the valid neighbour is kept */
	assert_string_equal(plan_of(DOC(G("a", "") "," G("b", "")),
	    DOC(G("a", "") ",{\"name\": \"b\", \"memory\": \"1K\"}")), "stop b, keep a");
	/* an invalid new guest next to a valid new one */
	assert_string_equal(plan_of("", DOC("{\"name\": \"x\"}," G("y", ""))), "start y");
	/* nothing to nothing */
	assert_string_equal(plan_of("", DOC("")), "");
}

static void
plan_limits(void **state)
{
	struct vm_have		 have[2] = { { "a", "{}" }, { "b", NULL } };
	struct guest_set	 want = { NULL, 0 };
	struct plan_item	 p[1];

	(void)state;
	/* the count is the whole plan even when out is short */
	assert_int_equal(vm_plan(have, 2, &want, p, 1), 2);
	assert_int_equal(p[0].op, PLAN_STOP);
	assert_string_equal(p[0].name, "a");
	assert_int_equal(vm_plan(have, 0, &want, NULL, 0), 0);
}

#define EXITED(c)	((c) << 8)
#define KILLED(s)	(s)

static void
after_exit(void **state)
{
	(void)state;
	assert_true(WIFEXITED(EXITED(0)) && WIFSIGNALED(KILLED(9)));
	/* a stop we asked for ends stopped whatever the policy and status */
	assert_int_equal(vm_after_exit(RESTART_ALWAYS, KILLED(9), 1), VM_STOPPED);
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, EXITED(1), 1), VM_STOPPED);
	/* always: every exit restarts, a clean one too */
	assert_int_equal(vm_after_exit(RESTART_ALWAYS, EXITED(0), 0), VM_BACKOFF);
	assert_int_equal(vm_after_exit(RESTART_ALWAYS, KILLED(9), 0), VM_BACKOFF);
	/* on-failure: the guest powering itself off is not a failure */
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, EXITED(0), 0), VM_STOPPED);
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, EXITED(1), 0), VM_BACKOFF);
	assert_int_equal(vm_after_exit(RESTART_ON_FAILURE, KILLED(9), 0), VM_BACKOFF);
	/* never: a failure is reported as failed */
	assert_int_equal(vm_after_exit(RESTART_NEVER, EXITED(0), 0), VM_STOPPED);
	assert_int_equal(vm_after_exit(RESTART_NEVER, KILLED(9), 0), VM_FAILED);
}

static void
smaps(void **state)
{
	/* as QEMU's look: code, the guest RAM block (192 MiB, rounded up by
	 * 2 MiB for huge pages), a heap, a thread stack */
	const char *text =
	    "55d0c0000000-55d0c0800000 r-xp 00000000 00:17 12 /usr/bin/qemu-system-x86_64\n"
	    "Size:               8192 kB\n"
	    "Rss:                5120 kB\n"
	    "Pss:                5120 kB\n"
	    "7f0000000000-7f000c200000 rw-p 00000000 00:00 0\n"
	    "Size:             198656 kB\n"
	    "Rss:              150000 kB\n"
	    "55d0c1000000-55d0c2000000 rw-p 00000000 00:00 0 [heap]\n"
	    "Size:              16384 kB\n"
	    "Rss:               12000 kB\n"
	    "7f1000000000-7f1000800000 rw-p 00000000 00:00 0\n"
	    "Size:               8192 kB\n"
	    "Rss:                  64 kB\n";
	unsigned long	 kib;

	(void)state;
	assert_int_equal(smaps_beyond_guest(text, 192 * 1024, &kib), 0);
	assert_int_equal(kib, 5120 + 12000 + 64);
	/* no mapping as big as the guest: everything counts */
	assert_int_equal(smaps_beyond_guest(text, 512 * 1024, &kib), 0);
	assert_int_equal(kib, 5120 + 150000 + 12000 + 64);
	assert_int_equal(smaps_beyond_guest("", 1024, &kib), -1);
	assert_int_equal(smaps_beyond_guest("garbage\nRss: x kB\n", 1024, &kib), -1);
}

static void
names(void **state)
{
	(void)state;
	assert_string_equal(vm_state_str(VM_PENDING), "pending");
	assert_string_equal(vm_state_str(VM_BACKOFF), "backing off");
	assert_string_equal(vm_state_str((enum vm_state)99), "?");
	assert_string_equal(plan_op_str(PLAN_RESTART), "restart");
	assert_string_equal(plan_op_str((enum plan_op)-1), "?");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(plan_cases),
	cmocka_unit_test(plan_limits),
	cmocka_unit_test(after_exit),
	cmocka_unit_test(smaps),
	cmocka_unit_test(names),
};

const struct suite vm_suite = { tests, NTESTS(tests) };
