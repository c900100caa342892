#!/usr/bin/env bash
# Installs what bootscript needs to build, run and test, and nothing else.
# Idempotent: when everything is present it only checks and returns in well under a second.
set -euo pipefail

cd "$(dirname "$0")/.."

# Debian packages: boot (qemu, grub, xorriso, mtools; a UEFI PC's: OVMF's firmware, GRUB's UEFI build), images (e2fsprogs, dosfstools, fdisk, cryptsetup-bin),
# the test initramfs (busybox-static, cpio), independent crypto for fixtures (python3-cryptography, openssl,
# and argon2, the reference implementation's tool, which Debian's python3-cryptography lacks),
# the language benchmark's reference (lua5.4), the packer of the payload (xz-utils), the host tool's tests
# (script(1) for a terminal, losetup for a block device, pkill to signal the tool: bsdutils, mount, procps).
PACKAGES=(qemu-system-x86 grub-pc-bin grub-efi-amd64-bin ovmf grub-common xorriso mtools e2fsprogs dosfstools fdisk cryptsetup-bin
          busybox-static cpio python3-cryptography openssl lua5.4 binutils file xz-utils bsdutils mount argon2
          procps)

TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null; then
    echo "setup: this is not a Debian machine; install these packages by hand: ${missing[*]}" >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v rustup >/dev/null; then
  echo "setup: rustup is missing; install it (https://rustup.rs) and run make setup again" >&2
  exit 1
fi
have_toolchain() { rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; }
have_component() { rustup component list --toolchain "$TOOLCHAIN" --installed 2>/dev/null | grep -q "^$1"; }
if ! have_toolchain || ! have_component rust-src || ! have_component clippy || ! have_component rustfmt; then
  echo "setup: installing Rust $TOOLCHAIN with rust-src, clippy, rustfmt"
  rustup toolchain install "$TOOLCHAIN" --profile minimal -c rust-src -c clippy -c rustfmt
fi
