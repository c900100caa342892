#!/usr/bin/env bash
# Makes the demo disk for `make run` with the real tools: an MBR disk (sfdisk) whose partition 1 is a LUKS
# volume (cryptsetup luksFormat) holding an ext4 file system (mke2fs -d) with /boot/vmlinuz (Debian's cloud
# kernel, scripts/fetch-kernel.sh) and /boot/initrd.img (our busybox initramfs, scripts/mkinitramfs.sh).
#
#   Demo passphrase: bootscript          (DEMO_PASSPHRASE)
#   Volume key:      SHA-512 of "bootscript demo volume key" (64 bytes, aes-xts-plain64 with AES-256),
#                    written next to the disk as volume.key
#
# cryptsetup cannot open the volume here (no device-mapper), so the ext4 image is encrypted into the payload
# area by tests/linux/xts-encrypt.py (python3 cryptography, AES-XTS, IV = sector number from the payload start),
# and the result is checked: the passphrase opens the key slot, and the slot holds our volume key.
#
# Settings (environment), for the tests and the bench to make variants:
#   DEMO_OUT=build/demo/disk.img  DEMO_PASSPHRASE=bootscript  DEMO_LUKS=luks2|luks1|none (none: plain ext4)
#   DEMO_ITERATIONS=100000 (PBKDF2-SHA256)  DEMO_EXTRA=dir (more files copied into the ext4 root)
#   DEMO_GRUB=1: GRUB for BIOS in the MBR and the gap before partition 1, as `grub-install` puts it on a PC
#                (boot.img, and a core.img that looks for /boot/grub on partition 1: plain ext4 only; the
#                file system needs /boot/grub/grub.cfg and GRUB's modules in /boot/grub/i386-pc, from EXTRA)
# Cached: nothing to do when the disk is newer than its inputs and was made with the same settings.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${DEMO_OUT:-build/demo/disk.img}
PASSPHRASE=${DEMO_PASSPHRASE:-bootscript}
LUKS=${DEMO_LUKS:-luks2}
ITERATIONS=${DEMO_ITERATIONS:-100000}
EXTRA=${DEMO_EXTRA:-}
GRUB=${DEMO_GRUB:-}
GRUB_PC=/usr/lib/grub/i386-pc
DIR=$(dirname "$OUT")
SETTINGS="luks=$LUKS iterations=$ITERATIONS passphrase=$PASSPHRASE extra=$EXTRA grub=$GRUB"

case "$LUKS" in luks1|luks2|none) ;; *) echo "mkdemo: DEMO_LUKS must be luks1, luks2 or none" >&2; exit 1 ;; esac
for tool in sfdisk mke2fs python3; do
  command -v "$tool" >/dev/null || { echo "mkdemo: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
case "$GRUB" in
  '') ;;
  1) [ "$LUKS" = none ] || { echo "mkdemo: DEMO_GRUB needs DEMO_LUKS=none (GRUB's files sit on partition 1)" >&2; exit 1; }
     command -v grub-mkimage >/dev/null && [ -f "$GRUB_PC/boot.img" ] ||
       { echo "mkdemo: grub-mkimage or $GRUB_PC is missing (run scripts/setup.sh)" >&2; exit 1; } ;;
  *) echo "mkdemo: DEMO_GRUB must be 1 or empty" >&2; exit 1 ;;
esac
[ "$LUKS" = none ] || command -v cryptsetup >/dev/null || { echo "mkdemo: cryptsetup is missing (run scripts/setup.sh)" >&2; exit 1; }

scripts/fetch-kernel.sh
scripts/mkinitramfs.sh
KERNEL=build/cache/vmlinuz
INITRD=build/initramfs.cpio.gz

newer_than_inputs() {
  for input in "$KERNEL" "$INITRD" "$0" tests/linux/xts-encrypt.py; do
    [ "$OUT" -nt "$input" ] || return 1
  done
  [ -z "$EXTRA" ] || [ -z "$(find "$EXTRA" -newer "$OUT" -print -quit)" ] || return 1
}
if [ -s "$OUT" ] && [ "$(cat "$OUT.settings" 2>/dev/null)" = "$SETTINGS" ] && newer_than_inputs; then
  exit 0
fi

mkdir -p "$DIR"
WORK=$(mktemp -d "$DIR/mkdemo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The file system: /boot with the kernel and the initramfs.
mkdir -p "$WORK/root/boot"
cp "$KERNEL" "$WORK/root/boot/vmlinuz"
cp "$INITRD" "$WORK/root/boot/initrd.img"
[ -z "$EXTRA" ] || cp -a "$EXTRA/." "$WORK/root/"
FS_MIB=$(( ($(du -sm "$WORK/root" | cut -f1) * 5 / 4) + 8 ))
mke2fs -q -F -t ext4 -L demo-boot -d "$WORK/root" "$WORK/fs.img" "${FS_MIB}M" >/dev/null

if [ "$LUKS" = none ]; then
  cp "$WORK/fs.img" "$WORK/part.img"
else
  python3 -c 'import hashlib,sys; sys.stdout.buffer.write(hashlib.sha512(b"bootscript demo volume key").digest())' \
    >"$WORK/volume.key"
  printf '%s' "$PASSPHRASE" >"$WORK/passphrase"
  # Room for the header (16 MiB for LUKS2 by default, 2 MiB for LUKS1) and the file system.
  truncate -s $(( (FS_MIB + 16) * 1024 * 1024 )) "$WORK/part.img"
  args=(--batch-mode --type "$LUKS" --cipher aes-xts-plain64 --key-size 512 --hash sha256
        --pbkdf-force-iterations "$ITERATIONS" --volume-key-file "$WORK/volume.key" --key-file "$WORK/passphrase")
  [ "$LUKS" = luks2 ] && args+=(--pbkdf pbkdf2 --sector-size 512 --label demo)
  cryptsetup luksFormat "${args[@]}" "$WORK/part.img"
  if [ "$LUKS" = luks2 ]; then
    offset=$(cryptsetup luksDump "$WORK/part.img" | sed -n '/^Data segments:/,/^Keyslots:/s/^\s*offset: *\([0-9]*\) \[bytes\]/\1/p' | head -n 1)
  else
    offset=$(( $(cryptsetup luksDump "$WORK/part.img" | sed -n 's/^Payload offset:\s*\([0-9]*\)/\1/p') * 512 ))
  fi
  [ -n "$offset" ] || { echo "mkdemo: cannot read the payload offset from luksDump" >&2; exit 1; }
  # The passphrase opens a key slot, and that slot holds our volume key.
  cryptsetup open --test-passphrase --key-file "$WORK/passphrase" "$WORK/part.img"
  cryptsetup luksDump --batch-mode --dump-volume-key --volume-key-file "$WORK/dumped.key" \
    --key-file "$WORK/passphrase" "$WORK/part.img" >/dev/null
  cmp -s "$WORK/volume.key" "$WORK/dumped.key" || { echo "mkdemo: the LUKS volume key is not ours" >&2; exit 1; }
  python3 tests/linux/xts-encrypt.py encrypt "$WORK/volume.key" "$WORK/fs.img" "$WORK/fs.enc"
  dd if="$WORK/fs.enc" of="$WORK/part.img" bs=1M oflag=seek_bytes seek="$offset" conv=notrunc status=none
  truncate -s $(( offset + $(stat -c %s "$WORK/fs.img") )) "$WORK/part.img"
  cp "$WORK/volume.key" "$DIR/volume.key"
fi

# The disk: an MBR with partition 1 at 1 MiB, the partition image copied in.
PART_BYTES=$(stat -c %s "$WORK/part.img")
PART_SECTORS=$(( (PART_BYTES + 511) / 512 ))
truncate -s $(( (2048 + PART_SECTORS) * 512 + 1024 * 1024 )) "$WORK/disk.img"
printf 'label: dos\nlabel-id: 0x626f6f74\nstart=2048, size=%d, type=83\n' "$PART_SECTORS" | sfdisk -q "$WORK/disk.img"
dd if="$WORK/part.img" of="$WORK/disk.img" bs=1M seek=1 conv=notrunc status=none
if [ -n "$GRUB" ]; then
  # What grub-install (through grub-bios-setup) does on a PC, without a loop device: the boot sector's code
  # (its first 440 bytes; the disk signature and partition table stay) and, from sector 1, the core image,
  # whose first sector (diskboot.img) loads the rest from sector 2 on (grub-mkimage fills in the count).
  grub-mkimage -O i386-pc -o "$WORK/core.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
  [ "$(stat -c %s "$WORK/core.img")" -le $(( 2047 * 512 )) ] || { echo "mkdemo: core.img does not fit before partition 1" >&2; exit 1; }
  dd if="$GRUB_PC/boot.img" of="$WORK/disk.img" bs=440 count=1 conv=notrunc status=none
  dd if="$WORK/core.img" of="$WORK/disk.img" bs=512 seek=1 conv=notrunc status=none
fi

# Read the file system back out of the finished disk (decrypting it) and let e2fsck and debugfs judge it.
dd if="$WORK/disk.img" of="$WORK/back.part" bs=512 skip=2048 count="$PART_SECTORS" status=none
if [ "$LUKS" = none ]; then
  mv "$WORK/back.part" "$WORK/back.fs"
else
  dd if="$WORK/back.part" of="$WORK/back.enc" bs=512 skip=$(( offset / 512 )) status=none
  python3 tests/linux/xts-encrypt.py decrypt "$WORK/volume.key" "$WORK/back.enc" "$WORK/back.fs"
fi
e2fsck -fn "$WORK/back.fs" >/dev/null 2>&1 || { echo "mkdemo: e2fsck rejects the file system read back" >&2; exit 1; }
debugfs -R "dump /boot/vmlinuz $WORK/back.vmlinuz" "$WORK/back.fs" 2>/dev/null
cmp -s "$WORK/back.vmlinuz" "$KERNEL" || { echo "mkdemo: /boot/vmlinuz read back differs" >&2; exit 1; }
mv "$WORK/disk.img" "$OUT"
echo "$SETTINGS" >"$OUT.settings"
if [ "$LUKS" = none ]; then
  echo "mkdemo: $OUT (plain ext4 on partition 1${GRUB:+, GRUB in the MBR})" >&2
else
  echo "mkdemo: $OUT ($LUKS on partition 1, passphrase \"$PASSPHRASE\", $ITERATIONS PBKDF2-SHA256 iterations)" >&2
fi
