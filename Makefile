# bootscript: `make run` boots it in QEMU, `make test` checks it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := build

TOOLCHAIN := $(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
CARGO := cargo +$(TOOLCHAIN)
export CARGO_TARGET_DIR ?= $(CURDIR)/target
TARGET_JSON := x86_64-bootscript.json
# optimize_for_size: core's smaller sort and number formatting (5 KB less in the payload).
BUILD_STD := -Zbuild-std=core,compiler_builtins,alloc -Zbuild-std-features=compiler-builtins-mem,optimize_for_size
PAYLOAD_FLAGS := -p bootscript-payload --release --target $(TARGET_JSON) $(BUILD_STD)
PAYLOAD_OUT := $(CARGO_TARGET_DIR)/x86_64-bootscript/release/bootscript-payload
# xzio: GRUB unpacks the xz-compressed payload as it loads it (`insmod xzio` before `multiboot2` in grub.cfg).
GRUB_MODULES := multiboot2 normal serial terminal boot xzio
QEMU_FLAGS := -machine pc -m 1G -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot

.PHONY: setup build tool iso demo run test test-host test-boot size-check bench lint fuzz clean

setup:
	@bash scripts/setup.sh

# Size: panics carry no file:line (-Zlocation-detail=none) and `{:?}` prints nothing (-Zfmt-debug=none), so the
# payload holds no Debug code; nothing it shows anyone goes through `{:?}` (the shell echoes with Value::text).
# The software AES and SHA-2 (used where the CPU has no AES-NI/SHA-NI, e.g. QEMU's qemu64) are the crates'
# compact forms: 48 KB smaller at opt-level 3, where the 14 MiB XTS read under TCG was as fast within the noise
# and 1M PBKDF2-SHA256 iterations took 4.2-5.4 s instead of 3.6-4.0 s (GRUB 2.06: 68 s). The crypto crates' own
# opt-level is in Cargo.toml. The aes crate is built soft-only (aes_backend="soft": none of its AES-NI/VAES
# code, 11.6 KB): crates/crypto has its own AES-NI path, chosen at run time (CPUID).
# lld folds functions whose code is identical (--icf=all, 1.5 KB): nothing in the payload compares function
# addresses, and the hand-written assembly (entry, exception stubs, relocator) has no twin to fold into.
# A panic is an immediate `ud2` (-Cpanic=immediate-abort: 5 KB less code, no panic message is formatted); the
# exception handler reports it as a PANIC with its address, and names a failed allocation (payload/src/platform.rs).
PAYLOAD_RUSTFLAGS := -Zlocation-detail=none -Zfmt-debug=none -Zunstable-options -Cpanic=immediate-abort \
  --cfg aes_backend="soft" --cfg aes_backend_soft="compact" --cfg sha2_backend_soft="compact" -Clink-arg=--icf=all

# The payload GRUB loads, build/bootscript.elf, is the stripped ELF packed with xz, as Xen ships xen.gz:
# GRUB's xzio unpacks it while loading (crc32 and the x86 branch filter are what GRUB's xz decoder supports;
# the x86 filter makes code 4% smaller; pb=0, as x86 instructions have no alignment, 0.3 KB; dict=512KiB, as
# GRUB's decoder allocates the dictionary the stream names: preset 9's 64 MiB left a machine of 64 MiB unable to
# load the payload, and a dictionary longer than the ELF packs it no smaller). The budget of
# 128 KiB is for this file. build/bootscript.stripped.elf is the same ELF unpacked, as it sits in memory;
# build/bootscript.full.elf keeps the symbols (make bench and the panic report's addr2line read them).
build:
	RUSTFLAGS='$(RUSTFLAGS) $(PAYLOAD_RUSTFLAGS)' $(CARGO) build $(PAYLOAD_FLAGS)
	@mkdir -p build
	cp $(PAYLOAD_OUT) build/bootscript.full.elf
	strip -o build/bootscript.stripped.elf build/bootscript.full.elf
	xz --format=xz --check=crc32 --x86 --lzma2=preset=9e,pb=0,dict=512KiB --stdout build/bootscript.stripped.elf > build/bootscript.elf.tmp
	mv build/bootscript.elf.tmp build/bootscript.elf
	@grub-file --is-x86-multiboot2 build/bootscript.elf || { echo "build/bootscript.elf is not a Multiboot2 image" >&2; exit 1; }
	@echo "build/bootscript.elf: $$(stat -c %s build/bootscript.elf) bytes (xz of the $$(stat -c %s build/bootscript.stripped.elf) bytes stripped ELF)"

# The host tool: check and dry-run boot scripts against disk images on a workstation.
tool:
	$(CARGO) build --release -p bootscript-tool
	@mkdir -p build
	cp $(CARGO_TARGET_DIR)/release/bootscript build/bootscript
	@echo "build/bootscript: the host tool (bootscript check|run|repl)"

iso: build
	@rm -rf build/iso && mkdir -p build/iso/boot/grub
	cp build/bootscript.elf build/iso/boot/bootscript.elf
	cp grub/grub.cfg build/iso/boot/grub/grub.cfg
	grub-mkrescue -d /usr/lib/grub/i386-pc -o build/bootscript.iso --install-modules="$(GRUB_MODULES)" --locales= --fonts= --themes= build/iso 2>/dev/null
	@echo "build/bootscript.iso: $$(stat -c %s build/bootscript.iso) bytes"

# The demo disk of `make run` (scripts/mkdemo.sh: LUKS2 with ext4 /boot, Debian's kernel, our initramfs; cached).
demo:
	@bash scripts/mkdemo.sh

run: setup iso demo
	@echo "Booting build/bootscript.iso in QEMU with the demo disk build/demo/disk.img as hd0."
	@echo "The serial console is this terminal. The demo passphrase is: bootscript"
	@echo "To quit: 'poweroff -f' in Linux's shell, 'reboot()' at the bootscript> prompt, or Ctrl-A then X."
	qemu-system-x86_64 $(QEMU_FLAGS) -boot d -cdrom build/bootscript.iso \
	  -drive file=build/demo/disk.img,format=raw,if=ide,snapshot=on -serial mon:stdio -display none; \
	  status=$$?; [ $$status = 33 ] || [ $$status = 0 ] || echo "QEMU exited with status $$status"

test: setup lint test-host test-boot size-check

test-host:
	$(CARGO) test --workspace --exclude bootscript-payload --exclude bootscript-boot-tests
	@# The interpreter as the payload builds it (without the std feature the workspace's host tool turns on).
	$(CARGO) test -p bootscript-lang
	$(CARGO) test -p bootscript-payload --lib
	RUSTFLAGS='--cfg aes_backend="soft" --cfg sha1_backend="soft" --cfg sha2_backend="soft" --cfg bootscript_aes="soft"' CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/soft $(CARGO) test -p bootscript-crypto

test-boot: build
	$(CARGO) test -p bootscript-boot-tests -- --test-threads=2

# The budget of issue 2: the payload file GRUB loads (packed) stays within 128 KiB.
PAYLOAD_BUDGET := 131072
size-check: build
	@size=$$(stat -c %s build/bootscript.elf); \
	  if [ $$size -gt $(PAYLOAD_BUDGET) ]; then \
	    echo "build/bootscript.elf is $$size bytes, over the budget of $(PAYLOAD_BUDGET)" >&2; exit 1; fi; \
	  echo "build/bootscript.elf: $$size bytes, within the budget of $(PAYLOAD_BUDGET)"

bench: setup build
	@bash scripts/bench.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy $(PAYLOAD_FLAGS) -- -D warnings
	@# The fuzz targets are crates of their own (fuzz/*, outside the workspace): they must keep building as the
	@# crates they call change (one did not, for a while).
	for t in lang disk crypto handoff; do (cd fuzz/$$t && $(CARGO) check -q --bins) || exit 1; done

# Fuzzing (cargo-fuzz, libFuzzer): make fuzz TARGET=lang|disk|crypto|handoff SECS=600
SECS ?= 300
TARGET ?= lang
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@# A script can make a list that holds itself (values are reference counted): such a cycle lives until the
	@# process ends, counted against the script's memory limit. LeakSanitizer's report of them at exit is no finding.
	cd fuzz/$(TARGET) && export ASAN_OPTIONS=detect_leaks=0 && for t in $$(cargo +$(TOOLCHAIN) fuzz list --fuzz-dir .); do \
	  mkdir -p corpus/$$t && cargo +$(TOOLCHAIN) fuzz run --fuzz-dir . $$t corpus/$$t -- -max_total_time=$(SECS) -detect_leaks=0 || exit 1; done

clean:
	rm -rf build
