# scripts/fetch: the download cache, mirrors, the Debian archive fallback, and
# hash checking. Everything is served from local files: no network.
load helpers

setup() {
	export NESTBOX_CACHE=$BATS_TEST_TMPDIR/cache
	src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src/pool/main/h/hello"
	echo "hello nestbox" >"$src/pool/main/h/hello/hello_1.0.orig.tar.gz"
	good=$(sha256sum "$src/pool/main/h/hello/hello_1.0.orig.tar.gz" | cut -d' ' -f1)
	bad=0000000000000000000000000000000000000000000000000000000000000000
	# A host apt configuration whose only archive is our local folder.
	export NESTBOX_APT_DIR=$BATS_TEST_TMPDIR/apt
	mkdir -p "$NESTBOX_APT_DIR/sources.list.d"
	printf 'Types: deb\nURIs: file://%s\nSuites: bookworm\nComponents: main\n' "$src" \
		>"$NESTBOX_APT_DIR/sources.list.d/debian.sources"
}

@test "fetch falls back to the Debian archive named by apt and caches the file" {
	run "$TOP/scripts/fetch" hello hello-1.0.tar.gz "$good" \
		http://127.0.0.1:9/hello-1.0.tar.gz debian:pool/main/h/hello/hello_1.0.orig.tar.gz
	assert_success
	assert_output "$NESTBOX_CACHE/downloads/hello-1.0.tar.gz"
	run cat "$NESTBOX_CACHE/downloads/hello-1.0.tar.gz"
	assert_output "hello nestbox"
}

@test "a cached file is used without any source" {
	"$TOP/scripts/fetch" hello hello-1.0.tar.gz "$good" debian:pool/main/h/hello/hello_1.0.orig.tar.gz
	rm -rf "$src"
	run "$TOP/scripts/fetch" hello hello-1.0.tar.gz "$good"
	assert_success
	assert_output "$NESTBOX_CACHE/downloads/hello-1.0.tar.gz"
}

@test "NESTBOX_MIRROR is tried before the upstream URL" {
	mkdir -p "$BATS_TEST_TMPDIR/mirror"
	cp "$src/pool/main/h/hello/hello_1.0.orig.tar.gz" "$BATS_TEST_TMPDIR/mirror/hello-1.0.tar.gz"
	# The upstream copy is corrupt: trying it first would stop with a mismatch.
	echo corrupt >"$BATS_TEST_TMPDIR/upstream.tar.gz"
	NESTBOX_MIRROR=file://$BATS_TEST_TMPDIR/mirror run "$TOP/scripts/fetch" hello hello-1.0.tar.gz "$good" \
		"file://$BATS_TEST_TMPDIR/upstream.tar.gz"
	assert_success
	run "$TOP/scripts/fetch" hello other.tar.gz "$good" "file://$BATS_TEST_TMPDIR/upstream.tar.gz"
	assert_failure
	assert_output --partial "sha256 mismatch"
}

@test "a wrong hash deletes the file and names package, URL and both hashes" {
	run "$TOP/scripts/fetch" hello hello-1.0.tar.gz "$bad" debian:pool/main/h/hello/hello_1.0.orig.tar.gz
	assert_failure
	assert_output --partial "hello: sha256 mismatch for hello-1.0.tar.gz"
	assert_output --partial "from:     file://$src/pool/main/h/hello/hello_1.0.orig.tar.gz"
	assert_output --partial "expected: $bad"
	assert_output --partial "actual:   $good"
	# Nothing is left behind: no file, no partial download.
	run find "$NESTBOX_CACHE/downloads" -type f
	assert_output ""
}

@test "a corrupted file in the cache is deleted and reported" {
	mkdir -p "$NESTBOX_CACHE/downloads"
	echo corrupted >"$NESTBOX_CACHE/downloads/hello-1.0.tar.gz"
	run "$TOP/scripts/fetch" hello hello-1.0.tar.gz "$good"
	assert_failure
	assert_output --partial "sha256 mismatch"
	[ ! -e "$NESTBOX_CACHE/downloads/hello-1.0.tar.gz" ]
}

@test "a file no source has is reported with every URL tried" {
	run "$TOP/scripts/fetch" hello missing.tar.gz "$good" \
		http://127.0.0.1:9/missing.tar.gz debian:pool/main/m/missing/missing.orig.tar.gz
	assert_failure
	assert_output --partial "hello: could not fetch missing.tar.gz"
	assert_output --partial "http://127.0.0.1:9/missing.tar.gz:"
	assert_output --partial "file://$src/pool/main/m/missing/missing.orig.tar.gz: not readable"
	run find "$NESTBOX_CACHE/downloads" -type f
	assert_output ""
}

@test "an unreachable upstream fails fast" {
	start=$SECONDS
	run "$TOP/scripts/fetch" hello hello-1.0.tar.gz "$good" http://127.0.0.1:9/a http://127.0.0.1:9/b
	assert_failure
	[ $((SECONDS - start)) -lt 5 ]
}

@test "a bad hash or file name in a recipe is refused before any download" {
	run "$TOP/scripts/fetch" hello hello-1.0.tar.gz abc debian:pool/x
	assert_failure
	assert_output --partial "bad sha256"
	run "$TOP/scripts/fetch" hello ../evil "$good" debian:pool/x
	assert_failure
	assert_output --partial "bad file name"
}

@test "apt sources: one-line and deb822 formats, security archives and disabled stanzas left out" {
	cat >"$NESTBOX_APT_DIR/sources.list" <<-'EOT'
	# a comment
	deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ bookworm main
	deb http://security.example/debian-security bookworm-security main
	deb-src http://one.example/debian bookworm main
	EOT
	cat >"$NESTBOX_APT_DIR/sources.list.d/debian.sources" <<-'EOT'
	Types: deb
	# URIs: http://commented.example/debian
	URIs: http://two.example/debian http://three.example/debian
	Suites: bookworm bookworm-updates
	Components: main

	Types: deb
	URIs: http://security.example/debian-security
	Suites: bookworm-security

	Types: deb
	URIs: http://disabled.example/debian
	Suites: bookworm
	Enabled: no
	EOT
	run bash -c ". '$TOP/scripts/lib.sh'; apt_archives"
	assert_success
	assert_output "http://one.example/debian
http://two.example/debian
http://three.example/debian"
}
