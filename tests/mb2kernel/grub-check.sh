#!/usr/bin/env bash
# Boots build/mb2kernel.elf through real GRUB (a grub-mkrescue ISO, multiboot2 + two module2) in QEMU and
# checks what it prints, so that the test kernel is known to be right independently of our loader.
# Exit 0 when GRUB's hand-off is reported as expected; the serial log is left in build/mb2kernel-grub/serial.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests/mb2kernel/build.sh
for tool in grub-mkrescue xorriso qemu-system-x86_64; do
  command -v "$tool" >/dev/null || { echo "grub-check: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
WORK=build/mb2kernel-grub
rm -rf "$WORK"
mkdir -p "$WORK/iso/boot/grub" "$WORK/iso/modules"
cp build/mb2kernel.elf "$WORK/iso/mb2kernel.elf"
printf 'first module\n' >"$WORK/iso/modules/one.txt"
head -c 5000 /dev/zero | tr '\0' '\252' >"$WORK/iso/modules/two.bin"
cat >"$WORK/iso/boot/grub/grub.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry mb2kernel {
  multiboot2 /mb2kernel.elf hello from grub
  module2 /modules/one.txt one.txt
  module2 /modules/two.bin two.bin
  boot
}
CFG
grub-mkrescue --install-modules="multiboot2 normal serial terminal configfile iso9660 biosdisk" \
  --locales= --fonts= --themes= -o "$WORK/grub.iso" "$WORK/iso" >/dev/null 2>&1
status=0
timeout 60 qemu-system-x86_64 -machine pc -m 256M -nographic -no-reboot -cdrom "$WORK/grub.iso" \
  -serial file:"$WORK/serial.log" -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 || status=$?
tr -d '\r' <"$WORK/serial.log" | grep -a '^mb2kernel:' || true
fail() { echo "grub-check: FAIL: $*" >&2; exit 1; }
[ "$status" = 33 ] || fail "QEMU exit status $status, expected 33 (isa-debug-exit 0x10)"
log=$(tr -d '\r' <"$WORK/serial.log")
grep -qx 'mb2kernel: cmdline=hello from grub' <<<"$log" || fail "command line"
grep -qE '^mb2kernel: loader=GRUB' <<<"$log" || fail "loader name"
grep -qE '^mb2kernel: module name=one.txt start=0x[0-9a-f]{8} size=13 first=6669727374206d6f$' <<<"$log" || fail "module one"
grep -qE '^mb2kernel: module name=two.bin start=0x[0-9a-f]{8} size=5000 first=aaaaaaaaaaaaaaaa$' <<<"$log" || fail "module two"
grep -qE '^mb2kernel: mmap base=0x0000000000000000 len=0x[0-9a-f]{16} type=1$' <<<"$log" || fail "memory map"
grep -qx 'mb2kernel: done' <<<"$log" || fail "no done line"
echo "grub-check: GRUB boots mb2kernel and hands over command line, modules and memory map"
