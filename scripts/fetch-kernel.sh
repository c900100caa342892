#!/usr/bin/env bash
# Fetches Debian's cloud kernel (a real bzImage for the end-to-end tests and `make run`) and caches it.
# Leaves build/cache/vmlinuz (and build/cache/vmlinuz.version naming the package), and the package's efivarfs
# module, build/cache/efivarfs.ko (the test initramfs loads it to reach UEFI variables: this kernel does not
# have efivarfs built in). Idempotent: when both are present it does nothing. The package is whichever linux-image-*-cloud-amd64 the meta-package points at
# today (apt-get download needs no root and installs nothing).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=build/cache
OUT=$CACHE/vmlinuz
MODULE=$CACHE/efivarfs.ko

if [ -s "$OUT" ] && [ -s "$MODULE" ]; then
  exit 0
fi

for tool in apt-cache apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "fetch-kernel: $tool is missing (a Debian machine is needed)" >&2; exit 1; }
done

# Package lists may be missing or stale on a machine whose packages were all present (setup.sh then skips
# apt-get update): refresh them once when a look-up or the download fails.
refresh_lists() {
  [ "$(id -u)" = 0 ] || return 1
  echo "fetch-kernel: refreshing the package lists" >&2
  apt-get update -qq >/dev/null
}

find_package() {
# The meta-package names the current ABI version, e.g. linux-image-6.1.0-56-cloud-amd64.
PKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1 || true)
if [ -z "$PKG" ]; then
  PKG=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -n 1 || true)
fi
}
find_package
if [ -z "$PKG" ] && refresh_lists; then
  find_package
fi
if [ -z "$PKG" ]; then
  echo "fetch-kernel: no linux-image-*-cloud-amd64 package known to apt (run apt-get update?)" >&2
  exit 1
fi

mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/fetch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "fetch-kernel: downloading $PKG" >&2
# As root, apt drops to the _apt user to download and warns when that user cannot reach the build tree.
sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
download() { (cd "$WORK" && apt-get download -q "${sandbox[@]}" "$PKG" >/dev/null); }
if ! download; then
  refresh_lists && find_package && download
fi
DEB=$(ls "$WORK"/*.deb)
dpkg -x "$DEB" "$WORK/root"
KERNEL=$(ls "$WORK"/root/boot/vmlinuz-* | head -n 1)
[ -s "$KERNEL" ] || { echo "fetch-kernel: $DEB holds no /boot/vmlinuz-*" >&2; exit 1; }

# (Debian 12's modules are plain; later releases compress them.)
EFIVARFS=$(ls "$WORK"/root/lib/modules/*/kernel/fs/efivarfs/efivarfs.ko* 2>/dev/null | head -n 1 || true)
case "$EFIVARFS" in
  *.ko) cp "$EFIVARFS" "$WORK/efivarfs.ko" ;;
  *.ko.xz) xz -dc "$EFIVARFS" >"$WORK/efivarfs.ko" ;;
  *.ko.zst) zstd -qdc "$EFIVARFS" >"$WORK/efivarfs.ko" ;;
  *) echo "fetch-kernel: $DEB holds no efivarfs module" >&2; exit 1 ;;
esac

# Write under temporary names first so that an interrupted run never leaves a half kernel behind; the module
# last, as the mark that both are there (and of the same package).
cp "$KERNEL" "$WORK/vmlinuz"
echo "$PKG" >"$CACHE/vmlinuz.version"
mv "$WORK/vmlinuz" "$OUT"
mv "$WORK/efivarfs.ko" "$MODULE"
echo "fetch-kernel: $OUT ($(stat -c %s "$OUT") bytes, $PKG)" >&2
