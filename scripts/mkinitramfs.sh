#!/usr/bin/env bash
# Makes bootscript's own small initramfs: busybox-static, tests/linux/init and the kernel's efivarfs module
# (build/cache/efivarfs.ko, from scripts/fetch-kernel.sh, which runs first), as a gzip newc cpio
# (cpio -o -H newc). Usage: scripts/mkinitramfs.sh [output]  (default build/initramfs.cpio.gz).
# Cached: nothing to do when the output is newer than its inputs.
# The archive holds no device nodes (making them needs root); the kernel's built-in initramfs provides
# /dev/console, and /init mounts devtmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/initramfs.cpio.gz}
INIT=tests/linux/init
BUSYBOX=/bin/busybox
MODULE=build/cache/efivarfs.ko

for tool in cpio gzip readelf; do
  command -v "$tool" >/dev/null || { echo "mkinitramfs: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
# A static binary has no program interpreter (readelf comes with binutils, which setup.sh installs).
if [ ! -x "$BUSYBOX" ] || readelf -lW "$BUSYBOX" 2>/dev/null | grep -q 'INTERP'; then
  echo "mkinitramfs: $BUSYBOX is not a static busybox (Debian package busybox-static)" >&2
  exit 1
fi
[ -s "$MODULE" ] || { echo "mkinitramfs: $MODULE is missing (run scripts/fetch-kernel.sh)" >&2; exit 1; }
if [ -s "$OUT" ] && [ "$OUT" -nt "$INIT" ] && [ "$OUT" -nt "$BUSYBOX" ] && [ "$OUT" -nt "$0" ] \
  && [ "$OUT" -nt "$MODULE" ]; then
  exit 0
fi

mkdir -p "$(dirname "$OUT")"
ROOT=$(mktemp -d)
TMP=$(mktemp "$OUT.XXXXXX") # private: tests may run this concurrently; the final mv is atomic
trap 'rm -rf "$ROOT" "$TMP"' EXIT
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,lib}
cp "$MODULE" "$ROOT/lib/efivarfs.ko"
cp "$BUSYBOX" "$ROOT/bin/busybox"
cp "$INIT" "$ROOT/init"
chmod 755 "$ROOT/init" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
  | gzip -9n >"$TMP"
chmod 644 "$TMP"
mv "$TMP" "$OUT"
echo "mkinitramfs: $OUT ($(stat -c %s "$OUT") bytes)" >&2
