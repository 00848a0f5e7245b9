# nestbox: `make` builds out/nestbox-gce.tar.gz, `make test` runs every test.
# `make help` lists the other targets.

include config/nestbox.conf

TOP := $(CURDIR)
OUT := $(TOP)/out
export OUT NESTBOX_CACHE

# Builds are reproducible: every timestamp in the image is this one.
# When this make started: the done line says how long the build took.
BUILD_START := $(shell date +%s)

SOURCE_DATE_EPOCH ?= $(shell git -C $(TOP) log -1 --format=%ct 2>/dev/null || echo 1700000000)
export SOURCE_DATE_EPOCH

# The packages whose files go into the root filesystem, besides busybox and
# the kernel's modules; their dependencies are built first.
ROOTFS_PACKAGES := busybox $(shell sed -e 's/\#.*//' config/packages.list)
PACKAGES := $(sort $(patsubst packages/%/recipe,%,$(wildcard packages/*/recipe)))
IMAGE_PACKAGES := linux syslinux $(ROOTFS_PACKAGES)
stamp = $(OUT)/stamps/$(1)

.DEFAULT_GOAL := all
.PHONY: all help host source packages init rootfs image l2-guest test unit-tests fuzz gce-image run bench bench-peer clean distclean FORCE
.DELETE_ON_ERROR:
.SECONDEXPANSION:

help:
	@echo 'nestbox build targets:'
	@echo '  make             build everything: out/nestbox.img, out/nestbox-gce.tar.gz, out/manifest.txt'
	@echo '  make test        build, then run every test (unit, bats, boot)'
	@echo '  make run         boot the image here with the metadata emulator (METADATA=file.json PORTS="8080")'
	@echo '  make source      download and verify every source, for an offline build'
	@echo '  make host        install the host packages the build needs (root on Debian)'
	@echo '  make packages    build the packages only (cached in $(NESTBOX_CACHE))'
	@echo '  make init        build PID 1 only (out/init/init)'
	@echo '  make fuzz        build the fuzz targets (out/fuzz/), run by make test for FUZZ_SECONDS each'
	@echo '  make rootfs      stage the root filesystem in out/rootfs'
	@echo '  make gce-image GCE_BUCKET=gs://B [GCE_PROJECT=P]  import the image into GCE (scripts/gce-import)'
	@echo '  make bench       sizes, build and boot times, memory: out/bench.md, out/bench.json (BENCH_FLAGS=--cold adds a cold build)'
	@echo '  make bench-peer  the same boots of Debian 12 + libvirt doing the seed procedure, side by side in out/bench.md'
	@echo '  make clean       remove out/'
	@echo '  make distclean   remove out/, the test tools and the download and package cache'
	@echo 'Settings (config/nestbox.conf), e.g. make IMAGE_SIZE_GIB=2:'
	@echo '  NESTBOX_VERSION=$(NESTBOX_VERSION) IMAGE_SIZE_GIB=$(IMAGE_SIZE_GIB) NESTBOX_CACHE=$(NESTBOX_CACHE)'
	@echo '  NESTBOX_MIRROR   a URL (or file:// directory) tried first for every source'

all: $(OUT)/nestbox-gce.tar.gz $(OUT)/manifest.txt

# --- host tools ---------------------------------------------------------------
$(OUT)/stamps/host: config/host-packages scripts/host-setup
	@scripts/host-setup config/host-packages
	@mkdir -p $(@D) && touch $@
host:
	@scripts/host-setup config/host-packages

# --- packages ----------------------------------------------------------------
# Each package's stamp depends on its recipe folder and on its dependencies'
# stamps; build-package itself decides from the cache key whether to rebuild.
$(OUT)/packages.mk: $(wildcard packages/*/recipe) | $(OUT)/stamps/host
	@mkdir -p $(@D)
	@for r in $^; do \
		n=$${r#packages/}; n=$${n%/recipe}; \
		d=$$(sed -n 's/^depends="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $$r); \
		echo "$(OUT)/stamps/$$n: $$(for x in $$d; do printf '$(OUT)/stamps/%s ' $$x; done)"; \
	done >$@
include $(OUT)/packages.mk

$(OUT)/stamps/%: $$(wildcard packages/$$*/*) scripts/build-package scripts/fetch | $(OUT)/stamps/host
	@scripts/build-package $*
	@touch $@

packages: $(foreach p,$(IMAGE_PACKAGES),$(call stamp,$(p)))

source: | $(OUT)/stamps/host
	@for p in $(PACKAGES); do echo ">>> $$p fetching"; scripts/build-package --fetch $$p || exit 1; done

# --- PID 1 -------------------------------------------------------------------
$(OUT)/init/init: $(call stamp,musl) $(call stamp,linux-headers) $(call stamp,curl) $(call stamp,cjson) FORCE
	@$(MAKE) --no-print-directory -C init OUT=$(OUT) CC=$(OUT)/toolchain/bin/musl-gcc NESTBOX_VERSION=$(NESTBOX_VERSION)
init: $(OUT)/init/init

# --- root filesystem, initramfs, disk, tarball ----------------------------------
ROOTFS_INPUTS := $(OUT)/init/init $(foreach p,linux $(ROOTFS_PACKAGES),$(call stamp,$(p))) \
	$(shell find overlay -type f -o -type d) config/modules.list config/rootfs.list config/packages.list \
	scripts/mkrootfs scripts/install-modules
$(OUT)/rootfs.stamp: $(ROOTFS_INPUTS)
	@scripts/mkrootfs $(OUT)/rootfs $(OUT)/init/init overlay config/modules.list $(ROOTFS_PACKAGES)
	@touch $@
rootfs: $(OUT)/rootfs.stamp

$(OUT)/initramfs.img: $(OUT)/rootfs.stamp config/rootfs.list scripts/mkinitramfs
	@echo '>>> initramfs packing'
	@scripts/mkinitramfs $(OUT)/rootfs config/rootfs.list '$(INITRAMFS_COMPRESS)' $@

$(OUT)/nestbox.img: $(OUT)/initramfs.img $(call stamp,linux) $(call stamp,syslinux) scripts/mkdisk config/nestbox.conf
	@echo '>>> disk image $(IMAGE_SIZE_GIB) GiB'
	@scripts/mkdisk $@ $(IMAGE_SIZE_GIB) $(BOOT_PART_MIB) $(STATE_LABEL) '$(KERNEL_CMDLINE)' \
		$(OUT)/pkg/linux/boot/vmlinuz $(OUT)/initramfs.img $(OUT)/pkg/syslinux
image: $(OUT)/nestbox.img

$(OUT)/nestbox-gce.tar.gz: $(OUT)/nestbox.img scripts/mktarball
	@echo '>>> GCE tarball'
	@scripts/mktarball $< $@

$(OUT)/manifest.txt: $(OUT)/nestbox-gce.tar.gz scripts/mkmanifest
	@scripts/mkmanifest $(NESTBOX_VERSION) $(OUT) $(IMAGE_PACKAGES) musl linux-headers >$@
	@t=$$(( $$(date +%s) - $(BUILD_START) )); \
	echo ">>> done: out/nestbox-gce.tar.gz ($$(du -h --apparent-size $(OUT)/nestbox-gce.tar.gz | cut -f1)) in $$((t / 60)) min $$((t % 60)) s"

# --- tests -------------------------------------------------------------------
# The L2 test guest: our kernel and busybox with a small script as PID 1,
# bootable from its disk (tests/l2-guest/init says what it does).
# tests/l2-guest/nbra.c: the hostile guest's router advertisement (e2e-hostile.bats).
L2_INPUTS := $(call stamp,busybox) $(call stamp,linux) $(call stamp,syslinux) \
	$(call stamp,musl) $(call stamp,linux-headers) \
	$(shell find tests/l2-guest -type f) scripts/mkrootfs scripts/install-modules scripts/mkinitramfs scripts/mkdisk
$(OUT)/l2-guest.img: $(L2_INPUTS)
	@scripts/mkrootfs $(OUT)/l2-guest/rootfs tests/l2-guest/init tests/l2-guest/overlay tests/l2-guest/modules.list busybox
	@$(OUT)/toolchain/bin/musl-gcc -static -O2 -o $(OUT)/l2-guest/rootfs/usr/bin/nbra tests/l2-guest/nbra.c
	@scripts/mkinitramfs $(OUT)/l2-guest/rootfs tests/l2-guest/rootfs.list '$(INITRAMFS_COMPRESS)' $(OUT)/l2-guest/initramfs.img
	@scripts/mkdisk $@ 1 40 l2-state 'console=ttyS0,115200 panic=-1' \
		$(OUT)/pkg/linux/boot/vmlinuz $(OUT)/l2-guest/initramfs.img $(OUT)/pkg/syslinux
l2-guest: $(OUT)/l2-guest.img

tests/node_modules/.installed: tests/package.json tests/package-lock.json | $(OUT)/stamps/host
	@echo '>>> test tools (bats) installing'
	@cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

unit-tests: | $(OUT)/stamps/host
	@$(MAKE) --no-print-directory -C init OUT=$(OUT) test-build

# Fuzz targets (clang libFuzzer), one per tests/fuzz/fuzz-NAME.c; `make test`
# runs each for FUZZ_SECONDS (tests/fuzz.bats), longer runs by hand:
#   out/fuzz/fuzz-NAME -max_total_time=600 tests/fuzz/corpus/NAME
FUZZ_SECONDS ?= 10
export FUZZ_SECONDS
fuzz: | $(OUT)/stamps/host
	@$(MAKE) --no-print-directory -C init OUT=$(OUT) fuzz

test: all $(OUT)/l2-guest.img tests/node_modules/.installed unit-tests fuzz
	@tests/run

# --- trying it locally -------------------------------------------------------
# make run [METADATA=file.json] [PORTS="8080 2222"] [ACCEL=kvm]: boot the image here with the
# metadata emulator; the serial console is on the terminal (Ctrl-A X quits).
METADATA ?= examples/metadata.json
export ACCEL
run: all
	@scripts/run-local -m $(METADATA) $(foreach p,$(PORTS),-p $(p))

# --- benchmark -----------------------------------------------------------------
# make bench [BENCH_RUNS=5] [BENCH_FLAGS=--cold]: out/bench.md, out/bench.json
BENCH_RUNS ?= 5
bench: all $(OUT)/l2-guest.img
	@scripts/bench --runs $(BENCH_RUNS) $(BENCH_FLAGS)

# make bench-peer [BENCH_RUNS=5]: the same boots of a Debian 12 L1 doing the seed
# procedure (qemu-kvm, libvirt); out/bench-peer.json, the side-by-side table in out/bench.md
bench-peer: all $(OUT)/l2-guest.img
	@scripts/bench-peer --runs $(BENCH_RUNS)

# --- GCE (needs the Google Cloud CLI and a project; see docs/gce.md) -----------
gce-image: $(OUT)/nestbox-gce.tar.gz $(OUT)/manifest.txt
	scripts/gce-import --bucket $(GCE_BUCKET) $(if $(GCE_PROJECT),--project $(GCE_PROJECT)) $(GCE_IMPORT_FLAGS)

# --- cleaning ----------------------------------------------------------------
clean:
	rm -rf $(OUT)

distclean: clean
	rm -rf tests/node_modules $(NESTBOX_CACHE)

FORCE:
