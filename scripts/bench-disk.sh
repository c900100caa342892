#!/usr/bin/env bash
# Disk reads: Debian's 14 MB kernel (scripts/fetch-kernel.sh, build/cache/vmlinuz) from an ext2 file system
# (mke2fs -t ext2 defaults: 1 KiB blocks at this size, so indirect blocks) on partition 1 of an MBR disk.
#
# (a) In QEMU (TCG, -machine pc -m 1G, the image as IDE hd0, both loaders from GRUB rescue ISOs), in the same run:
#     bootscript: a script mounts hd0p1 and times `read("/vmlinuz")` with time_ms() (the payload's clock); the host
#     also times the serial lines printed just before and after the read.
#     GRUB 2.06: a grub.cfg with insmod part_msdos ext2 linux, `echo` lines around `linux (hd0,msdos1)/vmlinuz`
#     (which reads the whole file through BIOS disk calls), timed by the host from those serial lines.
# (b) On the host: `build/bootscript run` of a script reading the file from the image (`--disk`), whole process,
#     against `cat` of the same file from a directory to /dev/null (both from the page cache).
#
# Run alone (`bash scripts/bench-disk.sh`) or sourced by scripts/bench.sh, whose `row`/`header` it then uses.
# RUNS (default 3) runs per measurement, median. ELF (default build/bootscript.elf) is the payload.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_disk_main() {
  local runs=${RUNS:-3} elf=${ELF:-build/bootscript.elf}
  [ -f "$elf" ] || { echo "bench-disk: $elf is missing: run make build first" >&2; return 1; }
  for tool in grub-mkrescue qemu-system-x86_64 python3 mke2fs sfdisk; do
    command -v "$tool" >/dev/null || { echo "bench-disk: $tool is missing (run scripts/setup.sh)" >&2; return 1; }
  done
  if ! declare -F row >/dev/null; then
    row() { printf '| %-52s | %12s | %-6s |\n' "$1" "$2" "${3:-}"; }
    header() { printf '\n%s\n| %-52s | %12s | %-6s |\n|%s|%s|%s|\n' "$1" "what" "value" "unit" \
      "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..8})"; }
  fi
  [ -f build/cache/vmlinuz ] || bash scripts/fetch-kernel.sh >&2
  local kernel=build/cache/vmlinuz dir=build/bench/disk
  local bytes
  bytes=$(stat -c %s "$kernel")

  # The image, remade when the kernel changes: 64 MiB ext2 at 1 MiB on a 70 MiB MBR disk.
  mkdir -p "$dir/root"
  if [ ! -f "$dir/disk.img" ] || ! cmp -s "$kernel" "$dir/root/vmlinuz"; then
    cp "$kernel" "$dir/root/vmlinuz"
    rm -f "$dir/part.img" "$dir/disk.img"
    truncate -s 64M "$dir/part.img"
    mke2fs -q -F -t ext2 -d "$dir/root" "$dir/part.img"
    truncate -s 70M "$dir/disk.img"
    printf 'label: dos\nstart=2048, size=131072, type=83\n' | sfdisk -q "$dir/disk.img"
    dd if="$dir/part.img" of="$dir/disk.img" bs=1M seek=1 conv=notrunc status=none
    rm -f "$dir/part.img"
  fi

  local work
  work=$(mktemp -d)
  mkdir -p "$work/ours/boot/grub" "$work/grub/boot/grub"
  cp "$elf" "$work/ours/boot/bootscript.elf"
  cat >"$work/ours/boot/read.bs" <<'BS'
mount("hd0p1", "/")
print("bench-disk: start")
let t0 = time_ms()
let kernel = read("/vmlinuz")
let t1 = time_ms()
print("bench-disk: done", len(kernel), "bytes in", t1 - t0, "ms")
BS
  cat >"$work/ours/boot/grub/grub.cfg" <<'CFG'
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry bootscript {
  insmod xzio
  multiboot2 /boot/bootscript.elf
  module2 /boot/read.bs read.bs
  boot
}
CFG
  cat >"$work/grub/boot/grub/grub.cfg" <<'CFG'
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
insmod part_msdos
insmod ext2
insmod linux
echo bench-disk: start
linux (hd0,msdos1)/vmlinuz
echo bench-disk: done
CFG
  grub-mkrescue -o "$work/ours.iso" --install-modules="multiboot2 normal serial terminal boot xzio" \
    --locales= --fonts= --themes= "$work/ours" >/dev/null 2>&1
  grub-mkrescue -o "$work/grub.iso" --install-modules="normal serial terminal part_msdos ext2 linux echo" \
    --locales= --fonts= --themes= "$work/grub" >/dev/null 2>&1

  # One boot: prints the host's ms between the "bench-disk: start" and "bench-disk: done" lines, then the
  # payload's own ms from the done line ("-" when absent).
  measure() {
    python3 - "$1" "$dir/disk.img" <<'PY'
import os, re, select, subprocess, sys, time
iso, disk = sys.argv[1:3]
qemu = subprocess.Popen(
    ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-cpu", "qemu64", "-m", "1G", "-display", "none",
     "-no-reboot", "-monitor", "none", "-serial", "stdio", "-boot", "d", "-cdrom", iso,
     "-drive", f"file={disk},format=raw,if=ide,snapshot=on"],
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 120
serial, marks = b"", {}
while time.monotonic() < deadline and "done" not in marks:
    ready, _, _ = select.select([qemu.stdout], [], [], 1)
    if ready:
        chunk = os.read(qemu.stdout.fileno(), 65536)
        if not chunk:
            break
        serial += chunk
    now = time.monotonic()
    # Only whole lines count: the line is complete once its newline arrived.
    for name in ("start", "done"):
        if name not in marks and re.search(rb"bench-disk: " + name.encode() + rb"[^\n]*\n", serial):
            marks[name] = now
qemu.kill()
qemu.wait()
if "done" not in marks or "start" not in marks:
    tail = serial.decode(errors="replace").replace("\r", "").splitlines()[-10:]
    print(f"bench-disk: {iso}: no done line; the serial line ended with:", *tail, sep="\n  ", file=sys.stderr)
    print("- -")
else:
    own = re.search(rb"bench-disk: done (\d+) bytes in (\d+) ms", serial)
    print(int((marks["done"] - marks["start"]) * 1000), own.group(2).decode() if own else "-")
PY
  }
  median() {
    cut -d ' ' -f "$1" | grep -v -- '-' | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'
  }
  # MB/s (10^6 bytes) for a byte count and milliseconds; ratio a/b.
  rate() { awk -v b="$1" -v ms="$2" 'BEGIN { if (ms ~ /^[0-9.]+$/ && ms > 0) printf "%.1f", b / ms / 1000; else print "-" }'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'; }

  : >"$work/ours.txt"
  : >"$work/grub.txt"
  for _ in $(seq "$runs"); do
    measure "$work/ours.iso" >>"$work/ours.txt"
    measure "$work/grub.iso" >>"$work/grub.txt"
  done
  local o_own o_host g_host o_rate g_rate
  o_own=$(median 2 <"$work/ours.txt")
  o_host=$(median 1 <"$work/ours.txt")
  g_host=$(median 1 <"$work/grub.txt")
  o_rate=$(rate "$bytes" "$o_own")
  g_rate=$(rate "$bytes" "$g_host")
  header "Disk reads: the $bytes-byte kernel from ext2 on IDE hd0 (QEMU TCG, median of $runs)"
  row "bootscript read() (payload clock)" "$o_own" "ms"
  row "bootscript read() (host, serial lines around it)" "$o_host" "ms"
  row "bootscript read() rate (payload clock)" "$o_rate" "MB/s"
  row "bootscript read() rate (host clock)" "$(rate "$bytes" "$o_host")" "MB/s"
  row "GRUB 2.06 linux command (host, serial lines around)" "$g_host" "ms"
  row "GRUB 2.06 rate" "$g_rate" "MB/s"
  row "bootscript / GRUB rate (payload clock; goal >= 2)" "$(ratio "$o_rate" "$g_rate")" "x"
  row "bootscript / GRUB rate (host clock for both)" "$(ratio "$g_host" "$o_host")" "x"

  # (b) The host tool against cat.
  local tool=build/bootscript
  if [ ! -x "$tool" ]; then
    make -s tool >&2 || true
  fi
  if [ -x "$tool" ]; then
    mkdir -p "$work/host"
    cat >"$work/host/read.bs" <<'BS'
mount("hd0p1", "/")
let t0 = time_ms()
let kernel = read("/vmlinuz")
print("bench-disk: done", len(kernel), "bytes in", time_ms() - t0, "ms")
BS
    python3 - "$tool" "$work/host/read.bs" "$dir/disk.img" "$dir/root/vmlinuz" "$runs" >"$work/host.txt" <<'PY'
import re, subprocess, sys, time
tool, script, disk, file, runs = sys.argv[1:6]
def timed(argv, stdout=subprocess.PIPE):
    start = time.monotonic()
    out = subprocess.run(argv, stdout=stdout, stderr=subprocess.STDOUT, check=False)
    return (time.monotonic() - start) * 1000, out
def median(v):
    v = sorted(v)
    return v[(len(v) - 1) // 2] if v else None
ours, inner, cat = [], [], []
n = max(int(runs), 5)
for _ in range(n + 1):  # the first of each warms the page cache
    ms, out = timed([tool, "run", script, "--disk", disk])
    m = re.search(rb"bench-disk: done (\d+) bytes in (\d+) ms", out.stdout)
    if out.returncode != 0 and not m:
        print(f"bench-disk: {tool} run failed:\n{out.stdout.decode(errors='replace')}", file=sys.stderr)
        break
    ours.append(ms)
    if m:
        inner.append(int(m.group(2)))
    ms, _ = timed(["cat", file], stdout=subprocess.DEVNULL)
    cat.append(ms)
fmt = lambda v: "-" if v is None else f"{v:.1f}"
print(fmt(median(ours[1:])), fmt(median(inner[1:])), fmt(median(cat[1:])))
PY
    local h_ours h_inner h_cat
    read -r h_ours h_inner h_cat <"$work/host.txt"
    header "Disk reads on the host: the same file, page cache warm (median of $((runs > 5 ? runs : 5)))"
    row "bootscript run --disk IMAGE (whole process)" "$h_ours" "ms"
    row "  of which read() (its time_ms)" "$h_inner" "ms"
    row "cat FILE >/dev/null from a directory (whole process)" "$h_cat" "ms"
    row "bootscript run / cat" "$(ratio "$h_ours" "$h_cat")" "x"
  else
    echo "bench-disk: $tool is missing (make tool failed): no host rows" >&2
  fi
  rm -rf "$work"
}

bench_disk_main
