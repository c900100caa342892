#!/usr/bin/env bash
# Crypto in the payload next to GRUB 2.06, on the same disk in the same run (QEMU TCG, -machine pc -m 1G, IDE
# hd0): the LUKS1 volume of scripts/mkdemo.sh (DEMO_LUKS=luks1, 1,000,000 PBKDF2-SHA256 iterations,
# aes-xts-plain64 with AES-256, passphrase "bootscript") holding an ext4 with Debian's 14 MiB kernel.
#   bootscript: a script module prompts, luks_open's, mounts and read()s /boot/vmlinuz, timing each step with
#               time_ms (the payload's clock: the TSC calibrated against the PIT) and printing the times.
#   GRUB 2.06:  grub.cfg runs `cryptomount hd0,msdos1` (insmod luks cryptodisk part_msdos), then
#               `linux (crypto0)/boot/vmlinuz` between two echo lines; timed on the host by the serial lines.
# Unlock time, both on the host clock: from typing the passphrase (when the prompt has appeared) to the line
# after the unlock. Read rate: bytes of the kernel / time of the read. Each also as the QEMU process's CPU
# time over the same span (from /proc): this machine is shared, and wall times swing with its load (GRUB's
# unlock took 68 s on a quiet machine and 126 s on a busy one), while CPU time mostly does not.
#
# Run alone (`bash scripts/bench-crypto-boot.sh`) or sourced by scripts/bench.sh; the shared pieces are in
# scripts/bench-lib.sh. BENCH_CRYPTO_CPUS (default "qemu64 max") the CPU models; RUNS (default 3) our boots per
# model (median); BENCH_CRYPTO_GRUB_RUNS (default 1) GRUB's (about 75 s each); ELF (default build/bootscript.elf).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bench-lib.sh

bench_crypto_boot_main() {
  local runs=${RUNS:-3} grub_runs=${BENCH_CRYPTO_GRUB_RUNS:-1} elf=${ELF:-build/bootscript.elf}
  bench_require bench-crypto-boot "$elf" grub-mkrescue qemu-system-x86_64 python3
  local disk=build/bench/luks1/disk.img
  DEMO_OUT=$disk DEMO_LUKS=luks1 DEMO_ITERATIONS=1000000 bash scripts/mkdemo.sh
  local kernel_bytes
  kernel_bytes=$(stat -c %s build/cache/vmlinuz)
  local work
  work=$(mktemp -d)

  cat >"$work/job.bs" <<'BS'
print("bench: passphrase next")
let pass = prompt("Passphrase: ", echo=false)
let t0 = time_ms()
luks_open("hd0p1", pass, "cryptroot")
print("bench: unlocked ms=" + str(time_ms() - t0))
mount("cryptroot", "/")
print("bench: read start")
let t1 = time_ms()
let kernel = read("/boot/vmlinuz")
let t2 = time_ms()
print("bench: read done bytes=" + str(len(kernel)) + " ms=" + str(t2 - t1))
reboot()
BS
  bench_ours_iso "$elf" "$work/ours.iso" "" job.bs="$work/job.bs"
  bench_grub_iso "$work/grub.iso" "echo part_msdos ext2 linux luks cryptodisk gcry_rijndael gcry_sha256 pbkdf2" <<'CFG'
echo bench: passphrase next
cryptomount hd0,msdos1
echo bench: unlocked
echo bench: read start
linux (crypto0)/boot/vmlinuz
echo bench: read done
CFG

  # One boot on -cpu $3: types the passphrase once the prompt is on the serial line (mark `typed`), marks the
  # "bench: unlocked", "bench: read start" and "bench: read done" lines (host and QEMU CPU time), and takes the
  # payload's own numbers from those lines.
  measure() {
    bench_boot "$1" "$2" --name bench-crypto-boot --cpu "$3" --deadline 300 \
      --type bootscript '(?s)bench: passphrase next.*(Passphrase: |Enter passphrase)' \
      --mark unlocked 'bench: unlocked' --mark start 'bench: read start' --mark done 'bench: read done[^\n]*\n' \
      --value unlock_ms 'bench: unlocked ms=(\d+)' --value read_ms 'bench: read done bytes=\d+ ms=(\d+)' \
      --value read_bytes 'bench: read done bytes=(\d+)'
  }

  local cpu
  for cpu in ${BENCH_CRYPTO_CPUS:-qemu64 max}; do
    : >"$work/ours-$cpu.txt"
    : >"$work/grub-$cpu.txt"
    for _ in $(seq "$runs"); do measure "$work/ours.iso" "$disk" "$cpu" >>"$work/ours-$cpu.txt"; done
    for _ in $(seq "$grub_runs"); do measure "$work/grub.iso" "$disk" "$cpu" >>"$work/grub-$cpu.txt"; done
    local o_unlock o_unlock_own o_read o_read_own g_unlock g_read o_bytes o_unlock_cpu o_read_cpu g_unlock_cpu g_read_cpu
    o_unlock=$(bench_median "$work/ours-$cpu.txt" unlocked-typed)
    o_read=$(bench_median "$work/ours-$cpu.txt" done-start)
    o_unlock_own=$(bench_median "$work/ours-$cpu.txt" unlock_ms)
    o_read_own=$(bench_median "$work/ours-$cpu.txt" read_ms)
    o_bytes=$(bench_median "$work/ours-$cpu.txt" read_bytes)
    g_unlock=$(bench_median "$work/grub-$cpu.txt" unlocked-typed)
    g_read=$(bench_median "$work/grub-$cpu.txt" done-start)
    o_unlock_cpu=$(bench_median "$work/ours-$cpu.txt" unlocked.cpu-typed.cpu)
    o_read_cpu=$(bench_median "$work/ours-$cpu.txt" done.cpu-start.cpu)
    g_unlock_cpu=$(bench_median "$work/grub-$cpu.txt" unlocked.cpu-typed.cpu)
    g_read_cpu=$(bench_median "$work/grub-$cpu.txt" done.cpu-start.cpu)
    [ "$o_bytes" = "$kernel_bytes" ] || echo "bench-crypto-boot: the payload read $o_bytes bytes, not $kernel_bytes" >&2
    header "Crypto in the payload, -cpu $cpu: LUKS1 1,000,000 PBKDF2-SHA256 iterations, aes-xts-plain64 (bootscript median of $runs, GRUB 2.06 of $grub_runs)"
    row "bootscript: typed -> unlocked (host)" "$o_unlock" "ms"
    row "bootscript: luks_open (payload's time_ms)" "$o_unlock_own" "ms"
    row "bootscript: unlock, QEMU CPU time" "$o_unlock_cpu" "ms"
    row "GRUB 2.06: typed -> cryptomount done (host)" "$g_unlock" "ms"
    row "GRUB 2.06: unlock, QEMU CPU time" "$g_unlock_cpu" "ms"
    row "unlock: GRUB / bootscript, host (goal >= 8)" "$(bench_ratio "$g_unlock" "$o_unlock" 1)" "x"
    row "unlock: GRUB / bootscript, CPU time (goal >= 8)" "$(bench_ratio "$g_unlock_cpu" "$o_unlock_cpu" 1)" "x"
    row "bootscript: read 14 MiB /boot/vmlinuz (time_ms)" "$(bench_rate "$kernel_bytes" "$o_read_own")" "MB/s"
    row "bootscript: the same read, host clock (serial lines)" "$(bench_rate "$kernel_bytes" "$o_read")" "MB/s"
    row "bootscript: the same read, QEMU CPU time" "$(bench_rate "$kernel_bytes" "$o_read_cpu")" "MB/s"
    row "GRUB 2.06: linux (crypto0)/boot/vmlinuz (host)" "$(bench_rate "$kernel_bytes" "$g_read")" "MB/s"
    row "GRUB 2.06: the same read, QEMU CPU time" "$(bench_rate "$kernel_bytes" "$g_read_cpu")" "MB/s"
    row "read rate: bootscript (time_ms) / GRUB (goal >= 3)" "$(bench_ratio "$g_read" "$o_read_own" 1)" "x"
    row "read rate: bootscript / GRUB, CPU time (goal >= 3)" "$(bench_ratio "$g_read_cpu" "$o_read_cpu" 1)" "x"
  done
  unset -f measure
  rm -rf "$work"
}

bench_crypto_boot_main
