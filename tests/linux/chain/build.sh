#!/usr/bin/env bash
# Builds the chain test kernel (see chain.S) into build/chain.elf with binutils alone. Rebuilds only on change.
set -euo pipefail
cd "$(dirname "$0")/../../.."
SRC=tests/linux/chain
OUT=${1:-build/chain.elf}
for tool in as ld; do
  command -v "$tool" >/dev/null || { echo "chain: $tool is missing (Debian package binutils)" >&2; exit 1; }
done
if [ -s "$OUT" ] && [ "$OUT" -nt "$SRC/chain.S" ] && [ "$OUT" -nt "$SRC/chain.ld" ]; then
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
OBJ=$(mktemp --suffix=.o)
TMP=$(mktemp "$OUT.XXXXXX")
trap 'rm -f "$OBJ" "$TMP"' EXIT
as --32 -o "$OBJ" "$SRC/chain.S"
# Linked at 8 MiB (chain.ld), header first.
ld -m elf_i386 -nostdlib -z noexecstack -z max-page-size=0x1000 -T "$SRC/chain.ld" -o "$TMP" "$OBJ"
chmod 755 "$TMP"
mv "$TMP" "$OUT"
