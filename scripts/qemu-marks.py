#!/usr/bin/env python3
"""Boots a GRUB rescue ISO in QEMU (TCG, -machine pc -m 1G) with a disk as IDE hd0 and times serial lines.

The benches' one timer (scripts/bench-lib.sh). Each --mark NAME REGEX is stamped the first time REGEX matches
the serial output (or, with --debug-mark, SeaBIOS's debug port 0x402), with the host's ms since QEMU started
(NAME) and the QEMU process's CPU time in ms, user + system from /proc (NAME.cpu): the machine is shared, and
wall times swing with its load while CPU time mostly does not. --type TEXT REGEX types TEXT (then Enter) once
REGEX matched, stamped as the mark `typed`. Each --value NAME REGEX is REGEX's first group in the whole serial
output at the end. The boot ends at the --until mark (default: the last --mark), when QEMU ends, at a --fail
pattern seen before its mark, or at the deadline. Prints one line of NAME=value words, "-" where missing.
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("iso")
parser.add_argument("disk")
parser.add_argument("--cpu", default="qemu64")
parser.add_argument("--deadline", type=float, default=300, help="seconds")
parser.add_argument("--mark", nargs=2, action="append", default=[], metavar=("NAME", "REGEX"))
parser.add_argument("--debug-mark", nargs=2, action="append", default=[], metavar=("NAME", "REGEX"))
parser.add_argument("--value", nargs=2, action="append", default=[], metavar=("NAME", "REGEX"))
parser.add_argument("--type", nargs=2, metavar=("TEXT", "REGEX"))
parser.add_argument("--type-delay", type=float, default=0, help="seconds between REGEX and typing")
parser.add_argument("--fail", nargs=2, metavar=("BEFORE_MARK", "REGEX"),
                    help="the loader failed if REGEX is on the serial line before BEFORE_MARK")
parser.add_argument("--until")
parser.add_argument("--name", default="bench", help="for messages")
parser.add_argument("--nvme", action="store_true", help="the disk on an NVMe controller, not as IDE hd0")
args = parser.parse_args()
until = args.until or (args.mark[-1][0] if args.mark else None)

command = ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-cpu", args.cpu, "-m", "1G", "-display", "none",
           "-no-reboot", "-monitor", "none", "-serial", "stdio"]
if args.debug_mark:
    command += ["-debugcon", "file:/dev/stderr", "-global", "isa-debugcon.iobase=0x402"]
command += ["-boot", "d", "-cdrom", args.iso]
if args.nvme:
    command += ["-drive", f"file={args.disk},format=raw,if=none,id=flash,snapshot=on",
                "-device", "nvme,drive=flash,serial=bench"]
else:
    command += ["-drive", f"file={args.disk},format=raw,if=ide,snapshot=on"]
start = time.monotonic()
qemu = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE if args.debug_mark else subprocess.DEVNULL)
tick = os.sysconf("SC_CLK_TCK")


def cpu_ms():
    # utime + stime of the whole QEMU process: what the guest's work cost, whatever else the host runs.
    try:
        fields = open(f"/proc/{qemu.pid}/stat").read().rsplit(")", 1)[1].split()
        return int((int(fields[11]) + int(fields[12])) * 1000 / tick)
    except (OSError, IndexError, ValueError):
        return None


watch = [(name, re.compile(regex.encode()), False) for name, regex in args.mark]
watch += [(name, re.compile(regex.encode()), True) for name, regex in args.debug_mark]
type_when = re.compile(args.type[1].encode()) if args.type else None
fail_when = re.compile(args.fail[1].encode()) if args.fail else None
streams = [qemu.stdout] + ([qemu.stderr] if args.debug_mark else [])
serial, debug = b"", b""
marks, cpu_at = {}, {}
failed = None


def stamp(name):
    marks[name] = int((time.monotonic() - start) * 1000)
    cpu_at[name] = cpu_ms()


while time.monotonic() < start + args.deadline and until not in marks and not failed:
    ready, _, _ = select.select(streams, [], [], 1) if streams else ([], [], [])
    for stream in ready:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            streams.remove(stream)
        elif stream is qemu.stdout:
            serial += chunk
        else:
            debug += chunk
    for name, regex, on_debug in watch:
        if name not in marks and regex.search(debug if on_debug else serial):
            stamp(name)
    if type_when and "typed" not in marks and type_when.search(serial):
        time.sleep(args.type_delay)
        qemu.stdin.write(args.type[0].encode() + b"\r")
        qemu.stdin.flush()
        stamp("typed")
    if qemu.stdout not in streams or qemu.poll() is not None:
        failed = "QEMU ended"
    # A rescue shell or an error message: the job failed, no use waiting.
    elif fail_when and args.fail[0] not in marks and fail_when.search(serial):
        failed = "the loader reported an error"
qemu.kill()
qemu.wait()
if until not in marks:
    failed = failed or "no %s mark within %d s" % (until, args.deadline)
    tail = serial.decode(errors="replace").replace("\r", "").splitlines()[-15:]
    print(f"{args.name}: {args.iso}: {failed}; the serial line ended with:", *tail, sep="\n  ", file=sys.stderr)
words = []
for name in [name for name, _, _ in watch] + (["typed"] if args.type else []):
    cpu = cpu_at.get(name)
    words += [f"{name}={marks.get(name, '-')}", f"{name}.cpu={'-' if cpu is None else cpu}"]
for name, regex in args.value:
    found = re.search(regex.encode(), serial)
    words.append(f"{name}={found.group(1).decode() if found else '-'}")
print(*words)
