# Runs every fuzz target (built by `make fuzz` from tests/fuzz/fuzz-*.c) for
# FUZZ_SECONDS (default 10) from its corpus in tests/fuzz/corpus/NAME, and
# reports how many inputs it tried. A crash, leak or sanitizer report fails.
load helpers

@test "every fuzz target runs its time without a finding" {
	shopt -s nullglob
	targets=("$OUT"/fuzz/fuzz-*)
	[ ${#targets[@]} -gt 0 ] || skip "no fuzz targets yet"
	for t in "${targets[@]}"; do
		name=${t##*/fuzz-}
		corpus=$BATS_TEST_TMPDIR/corpus-$name
		mkdir -p "$corpus"
		if [ -d "$TOP/tests/fuzz/corpus/$name" ]; then cp "$TOP/tests/fuzz/corpus/$name"/* "$corpus/" 2>/dev/null || true; fi
		run "$t" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=5 -rss_limit_mb=1024 \
			-artifact_prefix="$BATS_TEST_TMPDIR/" "$corpus"
		echo "# $name: $(grep -oE '^#[0-9]+' <<<"$output" | tail -n 1 | tr -d '#') inputs in ${FUZZ_SECONDS:-10} s" >&3
		[ "$status" -eq 0 ] || { echo "$output" | tail -n 30; false; }
	done
}
