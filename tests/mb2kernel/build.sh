#!/usr/bin/env bash
# Builds the Multiboot2 test kernel into build/mb2kernel.elf with binutils alone (as --32, ld -m elf_i386).
# Usage: tests/mb2kernel/build.sh [output [base [bss]]]   (default build/mb2kernel.elf, linked at 1 MiB; base: the
# address to link at instead, such as 0x200000, or "" for 1 MiB; bss: bytes of bss to add). Rebuilds only when a
# source changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=tests/mb2kernel
OUT=${1:-build/mb2kernel.elf}
BASE=${2:-}
BSS=${3:-}
for tool in as ld; do
  command -v "$tool" >/dev/null || { echo "mb2kernel: $tool is missing (Debian package binutils)" >&2; exit 1; }
done
if [ -s "$OUT" ] && [ "$OUT" -nt "$SRC/mb2kernel.S" ] && [ "$OUT" -nt "$SRC/mb2kernel.ld" ] && [ "$OUT" -nt "$0" ]; then
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
# Private temporary names: tests may run this script concurrently; the final mv is atomic.
OBJ=$(mktemp --suffix=.o)
TMP=$(mktemp "$OUT.XXXXXX")
trap 'rm -f "$OBJ" "$TMP"' EXIT
as --32 -o "$OBJ" "$SRC/mb2kernel.S"
ld -m elf_i386 -nostdlib -z noexecstack -z max-page-size=0x1000 ${BASE:+--defsym BASE=$BASE} ${BSS:+--defsym BSS_EXTRA=$BSS} -T "$SRC/mb2kernel.ld" \
  -o "$TMP" "$OBJ"
chmod 755 "$TMP"
mv "$TMP" "$OUT"
