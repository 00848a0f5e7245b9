# The build system: make's targets, host set-up, package recipes (steps,
# logs, failures) and the package cache.
load helpers

# A recipe folder of our own, built from a local source file.
make_recipe() { # make_recipe NAME BUILD-COMMANDS
	local dir=$BATS_TEST_TMPDIR/packages/$1
	mkdir -p "$dir" "$BATS_TEST_TMPDIR/src/$1-1.0"
	echo "int main(void) { return 0; }" >"$BATS_TEST_TMPDIR/src/$1-1.0/main.c"
	tar -C "$BATS_TEST_TMPDIR/src" -czf "$BATS_TEST_TMPDIR/src/$1-1.0.tar.gz" "$1-1.0"
	cat >"$dir/recipe" <<-EOT
	version=1.0
	# sha256 computed by the test
	source $1-1.0.tar.gz $(sha256sum "$BATS_TEST_TMPDIR/src/$1-1.0.tar.gz" | cut -d' ' -f1) file://$BATS_TEST_TMPDIR/src/$1-1.0.tar.gz
	pkg_build() { $2; }
	pkg_install() { install -D main.c "\$DESTDIR/rootfs/usr/share/$1/main.c"; }
	EOT
}

setup() {
	export NESTBOX_PACKAGES=$BATS_TEST_TMPDIR/packages NESTBOX_CACHE=$BATS_TEST_TMPDIR/cache
	export OUT=$BATS_TEST_TMPDIR/out
}

@test "make help lists the targets" {
	run make -C "$TOP" --no-print-directory help
	assert_success
	for t in 'make ' 'make test' 'make source' 'make clean' 'make distclean'; do
		assert_output --partial "  $t"
	done
}

@test "host set-up says exactly what is missing when it can not install" {
	printf 'sh dash\nnestbox-no-such-tool nestbox-fake-package\nnestbox-other-tool nestbox-other-package\n' \
		>"$BATS_TEST_TMPDIR/list"
	# nobody can not open the test's folder: the list comes on standard input.
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TOP/scripts/host-setup" /dev/stdin \
		<"$BATS_TEST_TMPDIR/list"
	assert_failure
	assert_output --partial "apt-get install nestbox-fake-package nestbox-other-package"
	refute_output --partial dash
}

@test "host set-up is silent when everything is there" {
	run "$TOP/scripts/host-setup" "$TOP/config/host-packages"
	assert_success
	assert_output ""
}

@test "a package builds step by step with one line a step and a full log" {
	make_recipe hello 'echo compiling hello'
	run "$TOP/scripts/build-package" hello
	assert_success
	for step in fetching extracting patching configuring building installing; do
		assert_line ">>> hello 1.0 $step"
	done
	# the last line says where the time went, step by step
	assert_line --regexp '^>>> hello 1\.0 done in [0-9]+ s \(fetching [0-9]+ s, extracting [0-9]+ s, patching [0-9]+ s, configuring [0-9]+ s, building [0-9]+ s, installing [0-9]+ s\)$'
	grep -q '^=== building took [0-9]* s$' "$OUT/logs/hello.log"
	grep -q 'compiling hello' "$OUT/logs/hello.log"
	[ -f "$OUT/pkg/hello/rootfs/usr/share/hello/main.c" ]
	for s in downloaded extracted patched configured built installed; do
		[ -f "$OUT/build/hello/.stamp_$s" ]
	done
}

@test "a failing step stops with the step and the log's last lines" {
	make_recipe broken 'echo "error: the compiler said no"; false'
	run "$TOP/scripts/build-package" broken
	assert_failure
	assert_output --partial ">>> broken 1.0 FAILED at in_src pkg_build"
	assert_output --partial "error: the compiler said no"
	[ ! -d "$OUT/pkg/broken" ]
}

@test "an unchanged package is restored from the cache in a fresh output directory" {
	make_recipe hello 'echo compiling hello'
	"$TOP/scripts/build-package" hello
	OUT=$BATS_TEST_TMPDIR/fresh run "$TOP/scripts/build-package" hello
	assert_success
	assert_output ">>> hello 1.0 restoring from cache"
	# A changed recipe has another key: it is built again.
	echo "# changed" >>"$NESTBOX_PACKAGES/hello/recipe"
	OUT=$BATS_TEST_TMPDIR/fresh run "$TOP/scripts/build-package" hello
	assert_line ">>> hello 1.0 building"
}

@test "a no-op make rebuilds nothing and takes seconds" {
	unset NESTBOX_PACKAGES NESTBOX_CACHE OUT
	start=$(date +%s%N)
	run make -C "$TOP" --no-print-directory
	took=$(( ($(date +%s%N) - start) / 1000000 ))
	assert_success
	refute_output --partial '>>>'
	echo "# no-op make: $took ms" >&3
	[ "$took" -lt 3000 ]
}

@test "a build in a fresh output directory restores every package and gives the same image" {
	unset NESTBOX_PACKAGES NESTBOX_CACHE
	run make -C "$TOP" --no-print-directory OUT="$OUT"
	assert_success
	refute_output --regexp '>>> [a-z-]+ [^ ]+ building'
	assert_output --partial 'restoring from cache'
	for f in nestbox.img nestbox-gce.tar.gz initramfs.img; do
		assert_equal "$(sha256sum <"$OUT/$f")" "$(sha256sum <"$TOP/out/$f")"
	done
}
