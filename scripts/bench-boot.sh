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
# Run alone (`bash scripts/bench-boot.sh`) or sourced by scripts/bench.sh; the shared pieces are in
# scripts/bench-lib.sh. RUNS (default 3) boots per measurement, median; the GRUB LUKS1 boot takes ~77 s, so it
# runs BENCH_LUKS1_GRUB_RUNS times (default 1). ELF (default build/bootscript.elf) is the payload;
# BENCH_BOOT_CASES (default "plain luks1") picks the disks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bench-lib.sh

bench_boot_main() {
  local runs=${RUNS:-3} elf=${ELF:-build/bootscript.elf} luks1_grub_runs=${BENCH_LUKS1_GRUB_RUNS:-1}
  bench_require bench-boot "$elf" grub-mkrescue qemu-system-x86_64 python3
  local work
  work=$(mktemp -d)

  DEMO_OUT=build/bench/plain/disk.img DEMO_LUKS=none bash scripts/mkdemo.sh
  DEMO_OUT=build/bench/luks1/disk.img DEMO_LUKS=luks1 DEMO_ITERATIONS=1000000 bash scripts/mkdemo.sh

  local linux_cmdline="earlyprintk=serial,ttyS0,115200 console=ttyS0 loglevel=3 init.poweroff"
  # bootscript's ISOs: the payload and one script module.
  cat >"$work/plain.bs" <<BS
mount("hd0p1", "/")
exec("/boot/vmlinuz", cmdline="$linux_cmdline", initrd="/boot/initrd.img")
BS
  cat >"$work/luks1.bs" <<BS
print("bench: passphrase next")
let pass = prompt("Passphrase: ", echo=false)
luks_open("hd0p1", pass, "cryptroot")
mount("cryptroot", "/")
exec("/boot/vmlinuz", cmdline="$linux_cmdline", initrd="/boot/initrd.img",
     files={"/etc/keys/cryptroot.key": pass})
BS
  local kind
  for kind in plain luks1; do bench_ours_iso "$elf" "$work/ours-$kind.iso" "" job.bs="$work/$kind.bs"; done
  # GRUB's ISOs: the same job in grub.cfg.
  bench_grub_iso "$work/grub-plain.iso" "part_msdos ext2 linux" <<CFG
linux (hd0,msdos1)/boot/vmlinuz $linux_cmdline
initrd (hd0,msdos1)/boot/initrd.img
boot
CFG
  bench_grub_iso "$work/grub-luks1.iso" "part_msdos ext2 linux luks cryptodisk gcry_rijndael gcry_sha256 pbkdf2" <<CFG
cryptomount hd0,msdos1
linux (crypto0)/boot/vmlinuz $linux_cmdline
initrd (crypto0)/boot/initrd.img
boot
CFG

  # One boot, SeaBIOS's debug port watched too; types the passphrase when the loader asks. Marks: loader
  # (GRUB starts: "Booting from 0000:7c00"), jump (the payload's phase=jump line; jump_ms its own clock),
  # entry (the decompressor's first line), init (Linux's /init). Gives up early on a rescue shell or a
  # GRUB error before the kernel's entry. GRUB's LUKS1 boot takes 77 s on an idle machine.
  measure() {
    bench_boot "$1" "$2" --name bench-boot --deadline 400 \
      --type bootscript '(?i)bench: passphrase next|enter passphrase' --type-delay 0.2 \
      --fail entry '(?i)phase=rescue|error: ' \
      --debug-mark loader 'Booting from 0000:7c00' --mark jump 'phase=jump' \
      --mark entry 'KASLR|Decompressing Linux|Linux version|early console' --mark init 'init: cmdline=' \
      --value jump_ms 'phase=jump t_ms=(\d+)'
  }

  local n loader
  for kind in ${BENCH_BOOT_CASES:-plain luks1}; do
    n=$runs
    for loader in ours grub; do
      [ "$kind/$loader" = luks1/grub ] && n=$luks1_grub_runs
      : >"$work/$loader-$kind.txt"
      for _ in $(seq "$n"); do measure "$work/$loader-$kind.iso" "build/bench/$kind/disk.img" >>"$work/$loader-$kind.txt"; done
    done
    local o_init g_init o_jump o_span g_span o_after
    o_init=$(bench_median "$work/ours-$kind.txt" init)
    g_init=$(bench_median "$work/grub-$kind.txt" init)
    o_jump=$(bench_median "$work/ours-$kind.txt" jump_ms)
    o_span=$(bench_median "$work/ours-$kind.txt" entry-loader)
    o_after=$(bench_median "$work/ours-$kind.txt" entry-jump)
    g_span=$(bench_median "$work/grub-$kind.txt" entry-loader)
    case $kind in
      plain) header "The whole job: plain ext4 disk (bootscript median of $runs, GRUB 2.06 median of $runs)" ;;
      luks1) header "The whole job: LUKS1, 1,000,000 PBKDF2-SHA256 iterations (bootscript median of $runs, GRUB 2.06 of $luks1_grub_runs)" ;;
    esac
    row "bootscript: QEMU start -> Linux /init" "$o_init" "ms"
    row "GRUB 2.06: QEMU start -> Linux /init" "$g_init" "ms"
    row "ratio bootscript / GRUB (QEMU start -> /init)" "$(bench_ratio "$o_init" "$g_init")" ""
    row "bootscript: payload start -> kernel entry (jump)" "$o_jump" "ms"
    row "bootscript: GRUB start -> decompressor line (host)" "$o_span" "ms"
    row "kernel: entry (phase=jump) -> decompressor line" "$o_after" "ms"
    row "GRUB 2.06: GRUB start -> decompressor line (host)" "$g_span" "ms"
    local g_entry
    g_entry=$(awk -v a="$g_span" -v b="$o_after" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print a - b; else print "-" }')
    row "GRUB 2.06: GRUB start -> kernel entry (estimated)" "$g_entry" "ms"
    row "ratio bootscript payload -> jump / GRUB -> entry" "$(bench_ratio "$o_jump" "$g_entry")" ""
  done
  unset -f measure
  rm -rf "$work"
}

bench_boot_main
