#!/usr/bin/env bash
# Logs, with qemu-system-i386 as the reference CPU, every instruction a multiboot sample guest
# executes: one instruction per translation block (-singlestep), its bytes (in_asm) and each
# execution (exec, no chaining), for guest addresses from 1 MiB up (-dfilter leaves SeaBIOS out).
# Usage: qemu-trace-log.sh GUEST.elf OUTPUT.log [APPEND]
# QEMU passes "GUEST.elf APPEND" as the multiboot command line; give vmm the same string.
set -euo pipefail
guest=$1 out=$2 append=${3:-}
command -v qemu-system-i386 >/dev/null || { echo "qemu-trace-log: qemu-system-i386 not found; run scripts/setup.sh" >&2; exit 1; }
rm -f "$out"
timeout 120 qemu-system-i386 -M pc -accel tcg -m 64 -display none -nodefaults -no-reboot -serial null \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$guest" -append "$append" \
  -singlestep -d in_asm,exec,nochain -dfilter 0x100000+0x100000 -D "$out" || true
[ -s "$out" ] || { echo "qemu-trace-log: QEMU wrote no log" >&2; exit 1; }
