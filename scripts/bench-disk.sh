#!/usr/bin/env bash
# Disk reads: Debian's 14 MB kernel (scripts/fetch-kernel.sh, build/cache/vmlinuz) from an ext2 file system
# (mke2fs -t ext2 defaults: 1 KiB blocks at this size, so indirect blocks) on partition 1 of an MBR disk.
#
# (a) In QEMU (TCG, -machine pc -m 1G, the image as IDE hd0, then as the disk of an NVMe controller; both loaders
#     from GRUB rescue ISOs), in the same run:
#     bootscript: a script mounts hd0p1 and times `read("/vmlinuz")` with time_ms() (the payload's clock); the host
#     also times the serial lines printed just before and after the read.
#     GRUB 2.06: a grub.cfg with insmod part_msdos ext2 linux, `echo` lines around `linux (hd0,msdos1)/vmlinuz`
#     (which reads the whole file through BIOS disk calls: SeaBIOS's own IDE or NVMe driver), timed by the host
#     from those serial lines.
# (b) On the host: `build/bootscript run` of a script reading the file from the image (`--disk`), whole process,
#     against `cat` of the same file from a directory to /dev/null (both from the page cache).
#
# Run alone (`bash scripts/bench-disk.sh`) or sourced by scripts/bench.sh; the shared pieces are in
# scripts/bench-lib.sh. RUNS (default 3) runs per measurement, median. ELF (default build/bootscript.elf) is the
# payload.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bench-lib.sh

bench_disk_main() {
  local runs=${RUNS:-3} elf=${ELF:-build/bootscript.elf}
  bench_require bench-disk "$elf" grub-mkrescue qemu-system-x86_64 python3 mke2fs sfdisk
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
  cat >"$work/read.bs" <<'BS'
mount("hd0p1", "/")
print("bench-disk: start")
let t0 = time_ms()
let kernel = read("/vmlinuz")
let t1 = time_ms()
print("bench-disk: done", len(kernel), "bytes in", t1 - t0, "ms")
BS
  bench_ours_iso "$elf" "$work/ours.iso" "" read.bs="$work/read.bs"
  bench_grub_iso "$work/grub.iso" "part_msdos ext2 linux echo" <<'CFG'
echo bench-disk: start
linux (hd0,msdos1)/vmlinuz
echo bench-disk: done
CFG

  # One boot: the host's ms at the "bench-disk: start" and "bench-disk: done" lines (once whole), and the
  # payload's own ms from the done line. A second argument puts the disk on NVMe.
  measure() {
    bench_boot "$1" "$dir/disk.img" ${2:+--nvme} --name bench-disk --deadline 120 \
      --mark start 'bench-disk: start[^\n]*\n' --mark done 'bench-disk: done[^\n]*\n' \
      --value own 'bench-disk: done \d+ bytes in (\d+) ms'
  }

  : >"$work/ours.txt"
  : >"$work/grub.txt"
  : >"$work/ours-nvme.txt"
  : >"$work/grub-nvme.txt"
  for _ in $(seq "$runs"); do
    measure "$work/ours.iso" >>"$work/ours.txt"
    measure "$work/grub.iso" >>"$work/grub.txt"
    measure "$work/ours.iso" nvme >>"$work/ours-nvme.txt"
    measure "$work/grub.iso" nvme >>"$work/grub-nvme.txt"
  done
  # The rows of one disk's reads: TITLE, the files of our runs and GRUB's, how GRUB reads it, the goal's words.
  rows() {
    local o_own o_host g_host o_rate g_rate
    o_own=$(bench_median "$2" own)
    o_host=$(bench_median "$2" done-start)
    g_host=$(bench_median "$3" done-start)
    o_rate=$(bench_rate "$bytes" "$o_own")
    g_rate=$(bench_rate "$bytes" "$g_host")
    header "$1 (QEMU TCG, median of $runs)"
    row "bootscript read() (payload clock)" "$o_own" "ms"
    row "bootscript read() (host, serial lines around it)" "$o_host" "ms"
    row "bootscript read() rate (payload clock)" "$o_rate" "MB/s"
    row "bootscript read() rate (host clock)" "$(bench_rate "$bytes" "$o_host")" "MB/s"
    row "GRUB 2.06 linux command ($4)" "$g_host" "ms"
    row "GRUB 2.06 rate" "$g_rate" "MB/s"
    row "bootscript / GRUB rate (payload clock$5)" "$(bench_ratio "$o_rate" "$g_rate")" "x"
    row "bootscript / GRUB rate (host clock for both)" "$(bench_ratio "$g_host" "$o_host")" "x"
  }
  rows "Disk reads: the $bytes-byte kernel from ext2 on IDE hd0" "$work/ours.txt" "$work/grub.txt" \
    "host, serial lines around" "; goal >= 2"
  rows "Disk reads: the same file from the same image on an NVMe controller" "$work/ours-nvme.txt" \
    "$work/grub-nvme.txt" "host, via SeaBIOS NVMe" ""

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
    row "bootscript run / cat" "$(bench_ratio "$h_ours" "$h_cat")" "x"
  else
    echo "bench-disk: $tool is missing (make tool failed): no host rows" >&2
  fi
  unset -f measure rows
  rm -rf "$work"
}

bench_disk_main
