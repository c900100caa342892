#!/usr/bin/env bash
# Checks the Linux fixtures independently of our loader: Debian's kernel (scripts/fetch-kernel.sh) boots our
# initramfs (scripts/mkinitramfs.sh) under QEMU's own loader (-kernel/-initrd), /init prints its command line
# and the sha256 of a key file appended as a second (uncompressed) archive, and powers off.
# Prints the seconds from QEMU's start to /init's first line. Exit 0 when everything matched.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/fetch-kernel.sh
scripts/mkinitramfs.sh
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-kernel-check: qemu-system-x86_64 is missing" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/tree/etc/keys"
printf 'demo key' >"$WORK/tree/etc/keys/demo.key"
(cd "$WORK/tree" && find etc | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$WORK/keys.cpio"
# Archives start 4-byte aligned in the initrd area (zeros between), or Linux ignores the ones that follow.
cp build/initramfs.cpio.gz "$WORK/initrd"
truncate -s $(( ($(stat -c %s "$WORK/initrd") + 3) / 4 * 4 )) "$WORK/initrd"
cat "$WORK/keys.cpio" >>"$WORK/initrd"

start=$(date +%s.%N)
timeout 120 qemu-system-x86_64 -machine pc -m 1G -nographic -no-reboot -monitor none -serial stdio \
  -kernel build/cache/vmlinuz -initrd "$WORK/initrd" -append "console=ttyS0 quiet init.poweroff check=1" \
  | while IFS= read -r line; do
      line=${line%$'\r'} # not tr: it would buffer the pipe and delay the timing
      case "$line" in *"init: cmdline="*) awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "qemu-kernel-check: /init after %.2f s\n", e - s }' >&2 ;; esac
      echo "$line"
    done >"$WORK/serial.log"
grep -a 'init:' "$WORK/serial.log"
expected="init: sha256 /etc/keys/demo.key $(printf 'demo key' | sha256sum | cut -d ' ' -f 1)"
grep -aq "init: cmdline=console=ttyS0 quiet init.poweroff check=1" "$WORK/serial.log" || { echo "qemu-kernel-check: FAIL: no command line from /init" >&2; exit 1; }
grep -aqF "$expected" "$WORK/serial.log" || { echo "qemu-kernel-check: FAIL: no '$expected'" >&2; exit 1; }
echo "qemu-kernel-check: Debian's kernel boots our initramfs and sees the appended key file"
