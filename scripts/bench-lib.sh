# Shared pieces of the benchmark scripts (scripts/bench*.sh source it from the repository's root): the table,
# the ISOs of our payload and of GRUB 2.06, the QEMU timer (scripts/qemu-marks.py) and the arithmetic on its
# results. Sourcing it only defines functions.

# One row of a table, and a table's title with the column heads.
row() { printf '| %-52s | %12s | %-6s |\n' "$1" "$2" "${3:-}"; }
header() {
  printf '\n%s\n| %-52s | %12s | %-6s |\n|%s|%s|%s|\n' "$1" "what" "value" "unit" \
    "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..8})"
}

# bench_require NAME ELF TOOL...: fails, saying why, when the payload or a tool is missing.
bench_require() {
  local name=$1 elf=$2 tool
  shift 2
  [ -f "$elf" ] || { echo "$name: $elf is missing: run make build first" >&2; return 1; }
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool is missing (run scripts/setup.sh)" >&2; return 1; }
  done
}

# bench_ours_iso ELF ISO CMDLINE [NAME=PATH]...: a GRUB rescue ISO that boots the payload ELF (xz-packed, hence
# insmod xzio) with CMDLINE and each file PATH as a module named NAME.
bench_ours_iso() {
  local elf=$1 iso=$2 cmdline=$3 tree=${2%.iso}.tree spec name
  shift 3
  rm -rf "$tree" && mkdir -p "$tree/boot/grub" "$tree/boot/modules"
  cp "$elf" "$tree/boot/bootscript.elf"
  {
    printf 'set timeout=0\nserial --unit=0 --speed=115200\nterminal_input serial console\n'
    printf 'terminal_output serial console\nmenuentry bootscript {\n  insmod xzio\n'
    printf '  multiboot2 /boot/bootscript.elf%s\n' "${cmdline:+ $cmdline}"
    for spec in "$@"; do
      name=${spec%%=*}
      cp "${spec#*=}" "$tree/boot/modules/$name"
      printf '  module2 /boot/modules/%s %s\n' "$name" "$name"
    done
    printf '  boot\n}\n'
  } >"$tree/boot/grub/grub.cfg"
  grub-mkrescue -d /usr/lib/grub/i386-pc -o "$iso" --install-modules="multiboot2 normal serial terminal boot xzio" \
    --locales= --fonts= --themes= "$tree" >/dev/null 2>&1
}

# bench_grub_iso ISO "MODULE..." <CFG: a GRUB rescue ISO whose grub.cfg runs the commands CFG (GRUB 2.06 doing
# the job itself) after the serial console lines and an insmod of each MODULE (installed next to normal, serial
# and terminal).
bench_grub_iso() {
  local iso=$1 tree=${1%.iso}.tree module
  rm -rf "$tree" && mkdir -p "$tree/boot/grub"
  {
    printf 'set timeout=0\nserial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n'
    for module in $2; do printf 'insmod %s\n' "$module"; done
    cat
  } >"$tree/boot/grub/grub.cfg"
  grub-mkrescue -d /usr/lib/grub/i386-pc -o "$iso" --install-modules="normal serial terminal $2" \
    --locales= --fonts= --themes= "$tree" >/dev/null 2>&1
}

# bench_boot ISO DISK [OPTION]...: one boot timed by scripts/qemu-marks.py (see there for the options); prints
# its line of NAME=value words.
bench_boot() { python3 scripts/qemu-marks.py "$@"; }

# The median of the numbers on stdin ("-" when there are none).
bench_median_of() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }

# bench_median FILE NAME or FILE LATER-EARLIER: over FILE's lines of NAME=value words, the median of a value or
# of the span between two marks; lines where one is missing (or the span is negative) do not count.
bench_median() {
  awk -v expr="$2" '
    {
      split("", v)
      for (i = 1; i <= NF; i++) { eq = index($i, "="); if (eq) v[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
      n = split(expr, name, "-")
      if (!(v[name[1]] ~ /^[0-9]+$/) || (n == 2 && !(v[name[2]] ~ /^[0-9]+$/))) next
      x = n == 2 ? v[name[1]] - v[name[2]] : v[name[1]] + 0
      if (x >= 0) print x
    }' "$1" | bench_median_of
}

# bench_rate BYTES MS: MB/s (10^6 bytes). bench_ratio A B [DIGITS]: A / B with DIGITS (default 2) decimals.
# Both print "-" when a number is missing.
bench_rate() {
  awk -v b="$1" -v ms="$2" 'BEGIN { if (b ~ /^[0-9]+$/ && ms ~ /^[0-9.]+$/ && ms > 0) printf "%.1f", b / ms / 1000; else print "-" }'
}
bench_ratio() {
  awk -v a="$1" -v b="$2" -v format="%.${3:-2}f" \
    'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf format, a / b; else print "-" }'
}
