#!/usr/bin/env bash
# Prints bootscript's benchmark table: payload size and its largest parts, boot times under QEMU (TCG).
#
# To add a row: call `row "what" VALUE "unit"` in the section at the end. To time a boot of your own, use
# `boot_times "CMDLINE" PATTERN...` (optionally after setting BENCH_MODULES / BENCH_QEMU_ARGS): it boots an
# ISO with that command line RUNS times and sets TIME[PATTERN] to the median milliseconds from QEMU's start
# to the first serial line containing PATTERN ("-" if it never came).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

RUNS=${RUNS:-3}
ELF=build/bootscript.elf
FULL=build/bootscript.full.elf
[ -f "$ELF" ] && [ -f "$FULL" ] || { echo "bench: $ELF is missing: run make build first" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Builds $WORK/boot.iso with the payload, CMDLINE and the module files in BENCH_MODULES ("name=path ...").
make_iso() {
  # shellcheck disable=SC2086 # BENCH_MODULES is a list of words
  bench_ours_iso "$ELF" "$WORK/boot.iso" "$1" ${BENCH_MODULES:-}
}

# One boot: prints "ms<TAB>line" for every serial line, ms since QEMU was started.
timed_boot() {
  local start line now
  start=$EPOCHREALTIME
  timeout 60 qemu-system-x86_64 -machine pc -accel tcg -cpu "${BENCH_CPU:-qemu64}" -m 1G -display none \
      -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio -cdrom "$WORK/boot.iso" \
      ${BENCH_QEMU_ARGS:-} </dev/null 2>/dev/null |
    while IFS= read -r line; do
      now=$EPOCHREALTIME
      printf '%d\t%s\n' "$(( (${now/./} - ${start/./}) / 1000 ))" "${line%$'\r'}"
    done || true
}

declare -A TIME
boot_times() {
  local cmdline=$1; shift
  make_iso "$cmdline"
  local run pattern
  for run in $(seq "$RUNS"); do timed_boot > "$WORK/run$run.txt"; done
  for pattern in "$@"; do
    TIME[$pattern]=$(for run in $(seq "$RUNS"); do
        grep -F -m1 -- "$pattern" "$WORK/run$run.txt" | cut -f1 || true
      done | bench_median_of)
  done
}

echo "bootscript benchmarks ($(date -u +%Y-%m-%d), QEMU TCG, median of $RUNS boots)"
# The times swing with the machine's load (GRUB's 1M-iteration unlock took 68 s on a quiet machine and 126 s on a
# busy one; one build of ours 7.7 s and 11.3 s), so the table says how busy the machine was at its start and end.
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

header "Payload size"
row "build/bootscript.elf (the payload GRUB loads: xz)" "$(stat -c %s "$ELF")" "bytes"
row "budget for the whole payload" "$((128 * 1024))" "bytes"
row "build/bootscript.stripped.elf (unpacked, in memory)" "$(stat -c %s build/bootscript.stripped.elf)" "bytes"
while read -r name size _; do
  case $name in .text|.rodata|.data|.multiboot2) row "section $name" "$size" "bytes" ;; .bss) row "section .bss (not in the file)" "$size" "bytes" ;; esac
done < <(size -A "$FULL" | tail -n +3)
nm --size-sort -S -r -C "$FULL" | awk '$3 ~ /^[tTrR]$/ && ++n <= 12' | while read -r _ size _ name; do
  row "  ${name:0:50}" "$((16#$size))" "bytes"
done

# Code and constants per crate: the sizes of the crate's functions and read-only data in the unstripped ELF
# (symbols named crate::..., or <crate::Type as ...> for trait methods; payload_entry and exception_report are
# the payload's). Under LTO a function inlined into another counts for the crate it landed in, so these shares
# are approximate: the interpreter's is bootscript_lang's row (issue 3's goal: under 20 KiB). Functions the
# linker folded into one (--icf=all) share an address: that code is counted once, for the first name.
header "Payload size per crate (code and read-only data, approximate under LTO)"
nm -S -t d -C "$FULL" | awk '
  $3 ~ /^[tTrRdD]$/ && !seen[$1]++ {
    name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
    sub(/^[<&*]+/, "", name); sub(/^(dyn |mut |const )+/, "", name)
    if (match(name, /^[A-Za-z_][A-Za-z0-9_]*::/)) crate = substr(name, 1, RLENGTH - 2)
    else if (match(name, / as [A-Za-z_][A-Za-z0-9_]*::/)) crate = substr(name, RSTART + 4, RLENGTH - 6)
    else if (name == "payload_entry" || name == "exception_report") crate = "bootscript_payload"
    else crate = "(entry stubs, mem*)"
    bytes[crate] += $2 + 0; total += $2 + 0
  }
  END { for (c in bytes) printf "%d %s\n", bytes[c], c; printf "%d %s\n", -1, total }' |
  sort -n -r > "$WORK/crates.txt"
while read -r size name; do
  if [ "$size" = -1 ]; then
    # String literals and switch tables have no symbol of their own.
    row "  unnamed constants (string literals, jump tables)" \
      "$(( $(size -A "$FULL" | awk '$1 ~ /^\.(text|rodata|data)$/ { s += $2 } END { print s }') - name ))" "bytes"
  else
    row "  $name" "$size" "bytes"
  fi
done < "$WORK/crates.txt"
row "interpreter (bootscript_lang), issue 3's goal 20480" "$(awk '$2 == "bootscript_lang" { print $1 }' "$WORK/crates.txt")" "bytes"

header "Boot (platform)"
phases=(phase=consoles phase=clock phase=bootinfo phase=heap phase=banner)
boot_times "test=exit" "Booting" "${phases[@]}" "bootscript: done"
row "QEMU start -> GRUB menu entry starts" "${TIME[Booting]}" "ms"
for p in "${phases[@]}"; do row "QEMU start -> $p" "${TIME[$p]}" "ms"; done
row "QEMU start -> payload done" "${TIME[bootscript: done]}" "ms"
banner_t=$(grep -F -m1 'phase=banner' "$WORK/run1.txt" | sed -n 's/.*t_ms=\([0-9]*\).*/\1/p')
row "payload entry -> banner (the payload's own clock)" "${banner_t:--}" "ms"

# ---- rows of later work go below (call row / boot_times) ----

# The whole job next to GRUB 2.06 (issue 6): plain ext4 and LUKS1 disks, to Linux's /init.
source scripts/bench-boot.sh

# Crypto in the payload next to GRUB 2.06 (issue 5): LUKS1 unlock with 1M PBKDF2-SHA256 iterations, the
# 14 MiB kernel read through aes-xts-plain64, on -cpu qemu64 and max.
source scripts/bench-crypto-boot.sh

# Disk reads (issue 4): the 14 MB kernel from ext2 on IDE in the payload next to GRUB 2.06; the host tool vs cat.
source scripts/bench-disk.sh

# The language on the host next to Lua 5.4 (issue 3): the same programs, best of three runs in CPU seconds.
printf '\nThe language on the host next to Lua 5.4 (CPU seconds, best of 3; goal: ratio <= 2)\n'
bash scripts/bench-lang.sh

# Keys on the host next to OpenSSL (issue 5): PBKDF2 iterations per second, and the XTS rate.
printf '\nPBKDF2 and AES-XTS on the host (bootscript-crypto) next to OpenSSL\n'
bash scripts/bench-crypto.sh

printf '\nmachine: load average %s at the end\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
