# init/'s folders against the map in docs/how-it-works.md ("The code"):
# folders and headers exist, headers are included only from where the map
# allows, and, read from PID 1's objects with nm, no call runs to a higher
# folder and no two files call each other (tests/lib/layout.py).
load helpers

LAYOUT=$TOP/tests/lib/layout.py
DOC=$TOP/docs/how-it-works.md

setup() {
	[ -f "$OUT/init/main.o" ] || skip "no $OUT/init/main.o: run make init"
}

@test "init/ keeps to the folder map of docs/how-it-works.md" {
	run python3 "$LAYOUT" "$DOC" "$TOP/init" "$OUT/init"
	assert_success
	assert_output --partial ', 0 problems'
}

@test "the layout check finds a call up the map and a pair that call each other" {
	# a copy of init/ where core/ calls into guest/, and log.c and util.c call each other
	local t=$BATS_TEST_TMPDIR
	cp -r "$TOP/init" "$t/init"
	cp -rL "$OUT/init" "$t/obj"
	printf 'int guests_parse(void);\nint layout_up(void);\nint layout_up(void) { return guests_parse(); }\n' >>"$t/init/core/log.c"
	printf 'int layout_up(void);\nint layout_back(void);\nint layout_back(void) { return layout_up(); }\n' >>"$t/init/core/util.c"
	printf 'int layout_back(void);\nint layout_again(void);\nint layout_again(void) { return layout_back(); }\n' >>"$t/init/core/log.c"
	for f in log util; do
		gcc -std=c11 -D_GNU_SOURCE -I "$t/init" -c -o "$t/obj/core/$f.o" "$t/init/core/$f.c"
	done
	echo '#include "guest/vm-none.h"' >>"$t/init/core/event.c"
	run python3 "$LAYOUT" "$DOC" "$t/init" "$t/obj"
	assert_failure
	assert_line 'core/log.c calls guests_parse (guest/decl.c), in the higher folder guest/'
	assert_line 'core/log.c and core/util.c call each other (layout_back, layout_up)'
	assert_line 'core/event.c includes guest/vm-none.h, internal to guest/'
}

@test "the layout check finds a folder missing from the map and a path the doc names wrongly" {
	local t=$BATS_TEST_TMPDIR
	cp -r "$TOP/init" "$t/init"
	mkdir "$t/init/extra"
	sed 's|`init/guest/qmp.c`|`init/guest/qmp-gone.c`|' "$DOC" >"$t/doc.md"
	run python3 "$LAYOUT" "$t/doc.md" "$t/init" "$OUT/init"
	assert_failure
	assert_line "init/extra/ is not in the map of $t/doc.md"
	assert_line "$t/doc.md names init/guest/qmp-gone.c, which does not exist"
}
