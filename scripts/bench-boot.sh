#!/usr/bin/env bash
# The whole job, bootscript next to GRUB 2.06 doing the same on the same disk images in the same run (QEMU TCG,
# -machine pc -m 1G, the disk as IDE hd0, both loaders from a GRUB rescue ISO):
#   plain  MBR, ext4 on partition 1 with Debian's kernel and our initramfs (scripts/mkdemo.sh, DEMO_LUKS=none)
#   luks1  the same inside LUKS1, aes-xts-plain64, 1,000,000 PBKDF2-SHA256 iterations (DEMO_LUKS=luks1)
# bootscript: a script module mounts (after luks_open with the passphrase typed on serial), then exec's the
# kernel with the initrd (and, for luks1, the passphrase handed on as a key file). GRUB: a grub.cfg with
# insmod part_msdos ext2 linux (+ luks cryptodisk, cryptomount hd0,msdos1, the passphrase typed on serial),
# linux, initrd, boot. Both give Linux the same command line.
#
# Times (host clock unless said): QEMU start -> Linux's /init (its first line), and each loader's own part:
# bootscript from the payload's start to the kernel's entry (the `phase=jump` line, the payload's clock);
# GRUB from its start (SeaBIOS's "Booting from 0000:7c00" on the debug port 0x402) to the kernel's entry (the
# decompressor's first line, `earlyprintk=serial`, which comes ~0.7 s of the kernel's own work after its entry).
# That kernel part is measured on bootscript's boot (its phase=jump line -> the decompressor's line; the copies
# before the jump take ~50 ms) and subtracted from GRUB's span to estimate GRUB's start -> kernel entry.
#
# Run alone (`bash scripts/bench-boot.sh`) or sourced by scripts/bench.sh, whose `row`/`header` it then uses.
# RUNS (default 3) boots per measurement, median; the GRUB LUKS1 boot takes ~77 s, so it runs
# BENCH_LUKS1_GRUB_RUNS times (default 1). ELF (default build/bootscript.elf) is the payload;
# BENCH_BOOT_CASES (default "plain luks1") picks the disks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_boot_main() {
  local runs=${RUNS:-3} elf=${ELF:-build/bootscript.elf} luks1_grub_runs=${BENCH_LUKS1_GRUB_RUNS:-1}
  [ -f "$elf" ] || { echo "bench-boot: $elf is missing: run make build first" >&2; return 1; }
  for tool in grub-mkrescue qemu-system-x86_64 python3; do
    command -v "$tool" >/dev/null || { echo "bench-boot: $tool is missing (run scripts/setup.sh)" >&2; return 1; }
  done
  if ! declare -F row >/dev/null; then
    row() { printf '| %-52s | %12s | %-6s |\n' "$1" "$2" "${3:-}"; }
    header() { printf '\n%s\n| %-52s | %12s | %-6s |\n|%s|%s|%s|\n' "$1" "what" "value" "unit" \
      "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..8})"; }
  fi
  local work
  work=$(mktemp -d)

  DEMO_OUT=build/bench/plain/disk.img DEMO_LUKS=none bash scripts/mkdemo.sh
  DEMO_OUT=build/bench/luks1/disk.img DEMO_LUKS=luks1 DEMO_ITERATIONS=1000000 bash scripts/mkdemo.sh

  local linux_cmdline="earlyprintk=serial,ttyS0,115200 console=ttyS0 loglevel=3 init.poweroff"
  # bootscript's ISOs: the payload and one script module.
  local kind
  for kind in plain luks1; do
    mkdir -p "$work/ours-$kind/boot/grub"
    cp "$elf" "$work/ours-$kind/boot/bootscript.elf"
    if [ "$kind" = plain ]; then
      cat >"$work/ours-$kind/boot/job.bs" <<BS
mount("hd0p1", "/")
exec("/boot/vmlinuz", cmdline="$linux_cmdline", initrd="/boot/initrd.img")
BS
    else
      cat >"$work/ours-$kind/boot/job.bs" <<BS
print("bench: passphrase next")
let pass = prompt("Passphrase: ", echo=false)
luks_open("hd0p1", pass, "cryptroot")
mount("cryptroot", "/")
exec("/boot/vmlinuz", cmdline="$linux_cmdline", initrd="/boot/initrd.img",
     files={"/etc/keys/cryptroot.key": pass})
BS
    fi
    cat >"$work/ours-$kind/boot/grub/grub.cfg" <<CFG
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
    grub-mkrescue -o "$work/ours-$kind.iso" --install-modules="multiboot2 normal serial terminal boot xzio" \
      --locales= --fonts= --themes= "$work/ours-$kind" >/dev/null 2>&1
  done
  # GRUB's ISOs: the same job in grub.cfg.
  mkdir -p "$work/grub-plain/boot/grub" "$work/grub-luks1/boot/grub"
  cat >"$work/grub-plain/boot/grub/grub.cfg" <<CFG
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
insmod part_msdos
insmod ext2
insmod linux
linux (hd0,msdos1)/boot/vmlinuz $linux_cmdline
initrd (hd0,msdos1)/boot/initrd.img
boot
CFG
  cat >"$work/grub-luks1/boot/grub/grub.cfg" <<CFG
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
cryptomount hd0,msdos1
linux (crypto0)/boot/vmlinuz $linux_cmdline
initrd (crypto0)/boot/initrd.img
boot
CFG
  grub-mkrescue -o "$work/grub-plain.iso" --install-modules="normal serial terminal part_msdos ext2 linux" \
    --locales= --fonts= --themes= "$work/grub-plain" >/dev/null 2>&1
  grub-mkrescue -o "$work/grub-luks1.iso" \
    --install-modules="normal serial terminal part_msdos ext2 linux luks cryptodisk gcry_rijndael gcry_sha256 pbkdf2" \
    --locales= --fonts= --themes= "$work/grub-luks1" >/dev/null 2>&1

  # One boot: QEMU with the serial line on stdout and SeaBIOS's debug port on stderr, each line timestamped;
  # types the passphrase when the loader asks. Prints: loader_start kernel_entry init jump_t_ms (ms, "-" if
  # missing), then the host time of the phase=jump line.
  measure() {
    python3 - "$1" "$2" <<'PY'
import os, re, select, subprocess, sys, time
iso, disk = sys.argv[1:3]
start = time.monotonic()
qemu = subprocess.Popen(
    ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-cpu", "qemu64", "-m", "1G", "-display", "none",
     "-no-reboot", "-monitor", "none", "-serial", "stdio", "-debugcon", "file:/dev/stderr",
     "-global", "isa-debugcon.iobase=0x402", "-boot", "d", "-cdrom", iso,
     "-drive", f"file={disk},format=raw,if=ide,snapshot=on"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
ms = lambda: int((time.monotonic() - start) * 1000)
serial, debug = b"", b""
marks = {}
typed = False
deadline = start + 400  # GRUB's LUKS1 boot takes 77 s on an idle machine
kernel = re.compile(rb"(KASLR|Decompressing Linux|Linux version|early console)")
streams = [qemu.stdout, qemu.stderr]
failed = None
while time.monotonic() < deadline and "init" not in marks and not failed:
    ready, _, _ = select.select(streams, [], [], 1) if streams else ([], [], [])
    for stream in ready:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            streams.remove(stream)
        elif stream is qemu.stdout:
            serial += chunk
        else:
            debug += chunk
    if not streams or qemu.poll() is not None:
        failed = "QEMU ended"
    # bootscript's rescue shell, GRUB's errors: the job failed, no use waiting.
    elif "entry" not in marks and (b"phase=rescue" in serial or b"error: " in serial.lower()):
        time.sleep(0.5)
        failed = "the loader reported an error"
    now = ms()
    if "loader" not in marks and b"Booting from 0000:7c00" in debug:
        marks["loader"] = now
    text = serial.lower()
    if not typed and (b"bench: passphrase next" in text or b"enter passphrase" in text):
        time.sleep(0.2)
        qemu.stdin.write(b"bootscript\r")
        qemu.stdin.flush()
        typed = True
    if "entry" not in marks and kernel.search(serial):
        marks["entry"] = now
    if "jump" not in marks and b"phase=jump" in serial:
        marks["jump"] = now
    if "init" not in marks and b"init: cmdline=" in serial:
        marks["init"] = now
if "init" not in marks:
    failed = failed or "no /init within the deadline"
    tail = serial.decode(errors="replace").replace("\r", "").splitlines()[-15:]
    print(f"bench-boot: {iso}: {failed}; the serial line ended with:", *tail, sep="\n  ", file=sys.stderr)
qemu.kill()
qemu.wait()
jump = re.search(rb"phase=jump t_ms=(\d+)", serial)
print(marks.get("loader", "-"), marks.get("entry", "-"), marks.get("init", "-"),
      jump.group(1).decode() if jump else "-", marks.get("jump", "-"))
PY
  }
  # Median of a column over the runs' result lines.
  median() {
    cut -d ' ' -f "$1" | grep -v -- '-' | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'
  }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'; }

  local n loader
  for kind in ${BENCH_BOOT_CASES:-plain luks1}; do
    n=$runs
    for loader in ours grub; do
      [ "$kind/$loader" = luks1/grub ] && n=$luks1_grub_runs
      : >"$work/$loader-$kind.txt"
      for _ in $(seq "$n"); do measure "$work/$loader-$kind.iso" "build/bench/$kind/disk.img" >>"$work/$loader-$kind.txt"; done
    done
    local o_init g_init o_jump o_span g_span o_after
    o_init=$(median 3 <"$work/ours-$kind.txt")
    g_init=$(median 3 <"$work/grub-$kind.txt")
    o_jump=$(median 4 <"$work/ours-$kind.txt")
    o_span=$(awk '{ if ($1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/) print $2 - $1; else print "-" }' "$work/ours-$kind.txt" | median 1)
    o_after=$(awk '{ if ($5 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/) print $2 - $5; else print "-" }' "$work/ours-$kind.txt" | median 1)
    g_span=$(awk '{ if ($1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/) print $2 - $1; else print "-" }' "$work/grub-$kind.txt" | median 1)
    case $kind in
      plain) header "The whole job: plain ext4 disk (bootscript median of $runs, GRUB 2.06 median of $runs)" ;;
      luks1) header "The whole job: LUKS1, 1,000,000 PBKDF2-SHA256 iterations (bootscript median of $runs, GRUB 2.06 of $luks1_grub_runs)" ;;
    esac
    row "bootscript: QEMU start -> Linux /init" "$o_init" "ms"
    row "GRUB 2.06: QEMU start -> Linux /init" "$g_init" "ms"
    row "ratio bootscript / GRUB (QEMU start -> /init)" "$(ratio "$o_init" "$g_init")" ""
    row "bootscript: payload start -> kernel entry (jump)" "$o_jump" "ms"
    row "bootscript: GRUB start -> decompressor line (host)" "$o_span" "ms"
    row "kernel: entry (phase=jump) -> decompressor line" "$o_after" "ms"
    row "GRUB 2.06: GRUB start -> decompressor line (host)" "$g_span" "ms"
    local g_entry
    g_entry=$(awk -v a="$g_span" -v b="$o_after" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print a - b; else print "-" }')
    row "GRUB 2.06: GRUB start -> kernel entry (estimated)" "$g_entry" "ms"
    row "ratio bootscript payload -> jump / GRUB -> entry" "$(ratio "$o_jump" "$g_entry")" ""
  done
  unset -f measure median ratio
  rm -rf "$work"
}

bench_boot_main
