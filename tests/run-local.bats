# `make run` (scripts/run-local): boots the image here with the metadata
# emulator, the console on standard output; stopping it removes everything.
load helpers

teardown() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
	wait 2>/dev/null || true
}

@test "run-local boots the image with the emulator and cleans up when stopped" {
	[ -f "$OUT/nestbox.img" ] || { echo "out/nestbox.img is missing: run make first"; false; }
	log=$BATS_TEST_TMPDIR/run.log
	"$TOP/scripts/run-local" -m "$TOP/examples/metadata.json" </dev/null >"$log" 2>&1 &
	pid=$!
	deadline=$((SECONDS + 180))
	until grep -q 'nestbox: ready' "$log"; do
		kill -0 "$pid" 2>/dev/null || { cat "$log"; false; }
		[ $SECONDS -lt "$deadline" ] || { tail -n 20 "$log"; false; }
		sleep 0.5
	done
	ns=$(sed -n 's/.* in namespace \([a-z0-9]*\);.*/\1/p' "$log")
	[ -n "$ns" ]
	run ip netns list
	assert_output --partial "$ns"
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
	run ip netns list
	refute_output --partial "${ns%l0}"
	run pgrep -f "nestbox-run"
	assert_failure
}

@test "run-local refuses a metadata file that is not JSON, naming it" {
	echo '{ not json' >"$BATS_TEST_TMPDIR/bad.json"
	run "$TOP/scripts/run-local" -m "$BATS_TEST_TMPDIR/bad.json"
	assert_failure
	assert_output --partial "bad.json is not valid JSON"
	run "$TOP/scripts/run-local" -p http
	assert_failure
	assert_output --partial "-p needs a port number"
}
