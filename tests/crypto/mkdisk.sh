#!/usr/bin/env bash
# Makes a test disk for the crypto boot tests with the real tools: an MBR disk (sfdisk) whose partition 1
# (at 1 MiB) holds an encrypted ext4 file system (mke2fs -d SRC_DIR). The data area is encrypted by
# tests/crypto/encrypt.py (python cryptography), never by bootscript's code.
#
#   mkdisk.sh OUT SRC_DIR luks1|luks2 PASSPHRASE CIPHER KEY_BYTES SECTOR_SIZE [cryptsetup luksFormat args...]
#     cryptsetup luksFormat with a random volume key (--volume-key-file), checked with --test-passphrase and
#     luksDump --dump-volume-key; the ext4 image encrypted into the payload area.
#   mkdisk.sh OUT SRC_DIR plain PASSPHRASE CIPHER KEY_BYTES 512 SALT ITERATIONS
#     a plain mapping: the key is PBKDF2-HMAC-SHA256(PASSPHRASE, SALT, ITERATIONS, KEY_BYTES) (python hashlib),
#     the encrypted image starts 8 sectors into the partition (aes_setup's offset=8).
#   mkdisk.sh OUT SRC_DIR plain-hashed PASSPHRASE CIPHER KEY_BYTES 512 HASH
#     a plain mapping as `cryptsetup open --type plain --hash HASH` makes of a typed passphrase: the key is
#     HASH(PASSPHRASE), then HASH("A" + PASSPHRASE), HASH("AA" + PASSPHRASE), ... cut to KEY_BYTES (cryptsetup's
#     lib/crypt_plain.c); no offset. Debian 12's cryptsetup does this with ripemd160 when told nothing.
# CIPHER: aes-xts-plain64 or aes-cbc-essiv:sha256.
set -euo pipefail
[ $# -ge 7 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
OUT=$1 SRC=$2 KIND=$3 PASSPHRASE=$4 CIPHER=$5 KEY_BYTES=$6 SECTOR=$7
shift 7
HERE=$(cd "$(dirname "$0")" && pwd)
for tool in sfdisk mke2fs python3 cryptsetup; do
  command -v "$tool" >/dev/null || { echo "mkdisk: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
case $CIPHER in
  aes-xts-plain64) MODE=xts ;;
  aes-cbc-essiv:sha256) MODE=cbc-essiv ;;
  *) echo "mkdisk: unknown cipher $CIPHER" >&2; exit 2 ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkdisk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

FS_MIB=$(( $(du -sm "$SRC" | cut -f1) * 5 / 4 + 8 ))
mke2fs -q -F -t ext4 -b 4096 -d "$SRC" "$WORK/fs.img" "${FS_MIB}M" >/dev/null
printf '%s' "$PASSPHRASE" >"$WORK/passphrase"

if [ "$KIND" = plain ]; then
  [ $# -eq 2 ] || { echo "mkdisk: plain needs SALT ITERATIONS" >&2; exit 2; }
  python3 -c 'import hashlib, sys
sys.stdout.buffer.write(hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])))' \
    "$PASSPHRASE" "$1" "$2" "$KEY_BYTES" >"$WORK/volume.key"
  offset=4096
  head -c "$offset" /dev/urandom >"$WORK/part.img"
  python3 "$HERE/encrypt.py" "$MODE" "$WORK/volume.key" "$WORK/fs.img" "$WORK/fs.enc" "$SECTOR"
  cat "$WORK/fs.enc" >>"$WORK/part.img"
elif [ "$KIND" = plain-hashed ]; then
  [ $# -eq 1 ] || { echo "mkdisk: plain-hashed needs HASH" >&2; exit 2; }
  python3 -c 'import hashlib, sys
passphrase, key, rounds = sys.argv[1].encode(), b"", 0
while len(key) < int(sys.argv[3]):
    key += hashlib.new(sys.argv[2], b"A" * rounds + passphrase).digest()
    rounds += 1
sys.stdout.buffer.write(key[:int(sys.argv[3])])' "$PASSPHRASE" "$1" "$KEY_BYTES" >"$WORK/volume.key"
  python3 "$HERE/encrypt.py" "$MODE" "$WORK/volume.key" "$WORK/fs.img" "$WORK/part.img" "$SECTOR"
else
  head -c "$KEY_BYTES" /dev/urandom >"$WORK/volume.key"
  truncate -s $(( (FS_MIB + 16) * 1024 * 1024 )) "$WORK/part.img"
  cryptsetup luksFormat --batch-mode --type "$KIND" --cipher "$CIPHER" --key-size $(( KEY_BYTES * 8 )) \
    --sector-size "$SECTOR" --volume-key-file "$WORK/volume.key" --key-file "$WORK/passphrase" "$@" "$WORK/part.img"
  if [ "$KIND" = luks2 ]; then
    offset=$(cryptsetup luksDump "$WORK/part.img" | sed -n '/^Data segments:/,/^Keyslots:/s/^\s*offset: *\([0-9]*\) \[bytes\]/\1/p' | head -n 1)
  else
    offset=$(( $(cryptsetup luksDump "$WORK/part.img" | sed -n 's/^Payload offset:\s*\([0-9]*\)/\1/p') * 512 ))
  fi
  [ -n "$offset" ] || { echo "mkdisk: cannot read the payload offset from luksDump" >&2; exit 1; }
  cryptsetup open --test-passphrase --key-file "$WORK/passphrase" "$WORK/part.img"
  cryptsetup luksDump --batch-mode --dump-volume-key --volume-key-file "$WORK/dumped.key" \
    --key-file "$WORK/passphrase" "$WORK/part.img" >/dev/null
  cmp -s "$WORK/volume.key" "$WORK/dumped.key" || { echo "mkdisk: the LUKS volume key is not ours" >&2; exit 1; }
  python3 "$HERE/encrypt.py" "$MODE" "$WORK/volume.key" "$WORK/fs.img" "$WORK/fs.enc" "$SECTOR"
  dd if="$WORK/fs.enc" of="$WORK/part.img" bs=1M oflag=seek_bytes seek="$offset" conv=notrunc status=none
  truncate -s $(( offset + $(stat -c %s "$WORK/fs.img") )) "$WORK/part.img"
fi

PART_SECTORS=$(( ($(stat -c %s "$WORK/part.img") + 511) / 512 ))
truncate -s $(( (2048 + PART_SECTORS) * 512 + 1024 * 1024 )) "$WORK/disk.img"
printf 'label: dos\nstart=2048, size=%d, type=83\n' "$PART_SECTORS" | sfdisk -q "$WORK/disk.img"
dd if="$WORK/part.img" of="$WORK/disk.img" bs=1M seek=1 conv=notrunc status=none
mv "$WORK/disk.img" "$OUT"
