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
# Run alone (`bash scripts/bench-crypto-boot.sh`) or sourced by scripts/bench.sh, whose `row`/`header` it uses.
# BENCH_CRYPTO_CPUS (default "qemu64 max") the CPU models; RUNS (default 3) our boots per model (median);
# BENCH_CRYPTO_GRUB_RUNS (default 1) GRUB's (about 75 s each); ELF (default build/bootscript.elf).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_crypto_boot_main() {
  local runs=${RUNS:-3} grub_runs=${BENCH_CRYPTO_GRUB_RUNS:-1} elf=${ELF:-build/bootscript.elf}
  [ -f "$elf" ] || { echo "bench-crypto-boot: $elf is missing: run make build first" >&2; return 1; }
  for tool in grub-mkrescue qemu-system-x86_64 python3; do
    command -v "$tool" >/dev/null || { echo "bench-crypto-boot: $tool is missing (run scripts/setup.sh)" >&2; return 1; }
  done
  if ! declare -F row >/dev/null; then
    row() { printf '| %-52s | %12s | %-6s |\n' "$1" "$2" "${3:-}"; }
    header() { printf '\n%s\n| %-52s | %12s | %-6s |\n|%s|%s|%s|\n' "$1" "what" "value" "unit" \
      "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..8})"; }
  fi
  local disk=build/bench/luks1/disk.img
  DEMO_OUT=$disk DEMO_LUKS=luks1 DEMO_ITERATIONS=1000000 bash scripts/mkdemo.sh
  local kernel_bytes
  kernel_bytes=$(stat -c %s build/cache/vmlinuz)
  local work
  work=$(mktemp -d)

  mkdir -p "$work/ours/boot/grub" "$work/grub/boot/grub"
  cp "$elf" "$work/ours/boot/bootscript.elf"
  cat >"$work/ours/boot/job.bs" <<'BS'
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
  cat >"$work/ours/boot/grub/grub.cfg" <<'CFG'
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry bootscript {
  insmod xzio
  multiboot2 /boot/bootscript.elf
  module2 /boot/job.bs job.bs
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
insmod luks
insmod cryptodisk
insmod gcry_rijndael
insmod gcry_sha256
echo bench: passphrase next
cryptomount hd0,msdos1
echo bench: unlocked
echo bench: read start
linux (crypto0)/boot/vmlinuz
echo bench: read done
CFG
  grub-mkrescue -o "$work/ours.iso" --install-modules="multiboot2 normal serial terminal boot xzio" \
    --locales= --fonts= --themes= "$work/ours" >/dev/null 2>&1
  grub-mkrescue -o "$work/grub.iso" \
    --install-modules="normal serial terminal echo part_msdos ext2 linux luks cryptodisk gcry_rijndael gcry_sha256 pbkdf2" \
    --locales= --fonts= --themes= "$work/grub" >/dev/null 2>&1

  # One boot: types the passphrase once the prompt is on the serial line. Prints host ms from typing to the
  # "bench: unlocked" line, host ms from "bench: read start" to "bench: read done", the payload's own
  # numbers from those lines, and the QEMU process's CPU time (user + system, /proc) over the same two spans:
  # the machine is shared, and CPU time hardly depends on what else runs ("-" where missing).
  measure() {
    python3 - "$1" "$2" "$3" <<'PY'
import os, re, select, subprocess, sys, time
iso, disk, cpu = sys.argv[1:4]
qemu = subprocess.Popen(
    ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-cpu", cpu, "-m", "1G", "-display", "none",
     "-no-reboot", "-monitor", "none", "-serial", "stdio", "-boot", "d", "-cdrom", iso,
     "-drive", f"file={disk},format=raw,if=ide,snapshot=on"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
serial = b""
marks, cpu_at = {}, {}
tick = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    # utime + stime of the whole QEMU process: what the guest's work cost, whatever else the host runs.
    try:
        fields = open(f"/proc/{qemu.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return None


deadline = time.monotonic() + 300
prompt = re.compile(rb"bench: passphrase next.*(Passphrase: |Enter passphrase)", re.S)
finished = re.compile(rb"bench: read done[^\n]*\n")
while time.monotonic() < deadline and not finished.search(serial):
    ready, _, _ = select.select([qemu.stdout], [], [], 1)
    if ready:
        chunk = os.read(qemu.stdout.fileno(), 65536)
        if not chunk:
            break
        serial += chunk
    elif qemu.poll() is not None:
        break
    now = time.monotonic()
    if "typed" not in marks and prompt.search(serial):
        qemu.stdin.write(b"bootscript\r")
        qemu.stdin.flush()
        marks["typed"] = now
        cpu_at["typed"] = cpu_seconds()
    for mark, text in (("unlocked", b"bench: unlocked"), ("start", b"bench: read start"), ("done", b"bench: read done")):
        if mark not in marks and text in serial:
            marks[mark] = now
            cpu_at[mark] = cpu_seconds()
qemu.kill()
qemu.wait()
span = lambda a, b: str(int((marks[b] - marks[a]) * 1000)) if a in marks and b in marks else "-"
cpu_span = lambda a, b: (str(int((cpu_at[b] - cpu_at[a]) * 1000))
                         if cpu_at.get(a) is not None and cpu_at.get(b) is not None else "-")
unlock = re.search(rb"bench: unlocked ms=(\d+)", serial)
read = re.search(rb"bench: read done bytes=(\d+) ms=(\d+)", serial)
print(span("typed", "unlocked"), span("start", "done"),
      unlock.group(1).decode() if unlock else "-", read.group(2).decode() if read else "-",
      read.group(1).decode() if read else "-", cpu_span("typed", "unlocked"), cpu_span("start", "done"))
PY
  }
  median() {
    cut -d ' ' -f "$1" | { grep -v -- '-' || true; } | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'
  }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1f", a / b; else print "-" }'; }
  rate() { awk -v n="$kernel_bytes" -v ms="$1" 'BEGIN { if (ms ~ /^[0-9]+$/ && ms > 0) printf "%.1f", n / ms / 1000; else print "-" }'; }

  local cpu
  for cpu in ${BENCH_CRYPTO_CPUS:-qemu64 max}; do
    : >"$work/ours-$cpu.txt"
    : >"$work/grub-$cpu.txt"
    for _ in $(seq "$runs"); do measure "$work/ours.iso" "$disk" "$cpu" >>"$work/ours-$cpu.txt"; done
    for _ in $(seq "$grub_runs"); do measure "$work/grub.iso" "$disk" "$cpu" >>"$work/grub-$cpu.txt"; done
    local o_unlock o_unlock_own o_read o_read_own g_unlock g_read o_bytes o_unlock_cpu o_read_cpu g_unlock_cpu g_read_cpu
    o_unlock=$(median 1 <"$work/ours-$cpu.txt")
    o_read=$(median 2 <"$work/ours-$cpu.txt")
    o_unlock_own=$(median 3 <"$work/ours-$cpu.txt")
    o_read_own=$(median 4 <"$work/ours-$cpu.txt")
    o_bytes=$(median 5 <"$work/ours-$cpu.txt")
    g_unlock=$(median 1 <"$work/grub-$cpu.txt")
    g_read=$(median 2 <"$work/grub-$cpu.txt")
    o_unlock_cpu=$(median 6 <"$work/ours-$cpu.txt")
    o_read_cpu=$(median 7 <"$work/ours-$cpu.txt")
    g_unlock_cpu=$(median 6 <"$work/grub-$cpu.txt")
    g_read_cpu=$(median 7 <"$work/grub-$cpu.txt")
    [ "$o_bytes" = "$kernel_bytes" ] || echo "bench-crypto-boot: the payload read $o_bytes bytes, not $kernel_bytes" >&2
    header "Crypto in the payload, -cpu $cpu: LUKS1 1,000,000 PBKDF2-SHA256 iterations, aes-xts-plain64 (bootscript median of $runs, GRUB 2.06 of $grub_runs)"
    row "bootscript: typed -> unlocked (host)" "$o_unlock" "ms"
    row "bootscript: luks_open (payload's time_ms)" "$o_unlock_own" "ms"
    row "bootscript: unlock, QEMU CPU time" "$o_unlock_cpu" "ms"
    row "GRUB 2.06: typed -> cryptomount done (host)" "$g_unlock" "ms"
    row "GRUB 2.06: unlock, QEMU CPU time" "$g_unlock_cpu" "ms"
    row "unlock: GRUB / bootscript, host (goal >= 8)" "$(ratio "$g_unlock" "$o_unlock")" "x"
    row "unlock: GRUB / bootscript, CPU time (goal >= 8)" "$(ratio "$g_unlock_cpu" "$o_unlock_cpu")" "x"
    row "bootscript: read 14 MiB /boot/vmlinuz (time_ms)" "$(rate "$o_read_own")" "MB/s"
    row "bootscript: the same read, host clock (serial lines)" "$(rate "$o_read")" "MB/s"
    row "bootscript: the same read, QEMU CPU time" "$(rate "$o_read_cpu")" "MB/s"
    row "GRUB 2.06: linux (crypto0)/boot/vmlinuz (host)" "$(rate "$g_read")" "MB/s"
    row "GRUB 2.06: the same read, QEMU CPU time" "$(rate "$g_read_cpu")" "MB/s"
    row "read rate: bootscript (time_ms) / GRUB (goal >= 3)" "$(ratio "$g_read" "$o_read_own")" "x"
    row "read rate: bootscript / GRUB, CPU time (goal >= 3)" "$(ratio "$g_read_cpu" "$o_read_cpu")" "x"
  done
  unset -f measure median ratio rate
  rm -rf "$work"
}

bench_crypto_boot_main
