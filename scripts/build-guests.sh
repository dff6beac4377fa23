#!/usr/bin/env bash
# Build the sample guests (guests/*/) into guests/build/.
#
# Incremental: a target is rebuilt only when its output is missing or older
# than one of its sources, the shared library in guests/lib/, or this script.
# The directories themselves count as sources, so adding or removing a file
# also triggers a rebuild. Prints one line per guest actually built.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SELF=scripts/build-guests.sh
LIB=guests/lib
OUT=guests/build

if ! command -v nasm >/dev/null 2>&1; then
    echo "build-guests: nasm not found; run scripts/setup.sh to install it" >&2
    exit 1
fi

# Freestanding 32-bit code. -march=i686 pins the instruction set (no SSE) so
# the output does not depend on the host compiler's default.
CFLAGS=(-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-stack-protector -O2
        -mgeneral-regs-only -fno-asynchronous-unwind-tables
        -fno-tree-loop-distribute-patterns -ffunction-sections -fdata-sections
        -std=c11 -Wall -Wextra -Werror -I"$LIB")

mkdir -p "$OUT"
WORK=
cleanup() { if [[ -n $WORK ]]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

# stale OUTPUT SOURCE... : succeeds if OUTPUT must be (re)built.
stale() {
    local out=$1 src
    shift
    [[ -e $out ]] || return 0
    for src in "$@"; do
        [[ $src -nt $out ]] && return 0
    done
    return 1
}

# Flat binaries assembled by nasm: boot sectors and the a.out-kludge kernel.
# build_flat NAME SOURCE [REQUIRED_SIZE]
build_flat() {
    local name=$1 src=$2 size=${3:-} out=$OUT/$1.bin
    stale "$out" "guests/$name" "guests/$name"/* "$LIB" "$LIB"/*.inc "$SELF" || return 0
    nasm -f bin -Werror -I"$LIB/" -o "$out.tmp" "$src"
    if [[ -n $size && $(stat -c %s "$out.tmp") -ne $size ]]; then
        echo "build-guests: $out.tmp is not $size bytes" >&2
        exit 1
    fi
    mv "$out.tmp" "$out"
    echo "built $out"
}

# A boot sector as a raw hard-disk image: the sector, then zeros up to 1 MiB, so that firmware
# can boot it from an IDE disk. build_disk_image NAME (after build_flat NAME).
build_disk_image() {
    local bin=$OUT/$1.bin out=$OUT/$1.img
    stale "$out" "$bin" "$SELF" || return 0
    cp "$bin" "$out.tmp"
    truncate -s 1M "$out.tmp"
    mv "$out.tmp" "$out"
    echo "built $out"
}

# Multiboot ELF kernels: guests/NAME/*.c + guests/lib (C runtime + entry stub).
# build_elf NAME [EXTRA_CFLAGS...]: the extra flags come after CFLAGS (the last -O wins)
# and apply to all of the guest's C objects, guests/lib included.
build_elf() {
    local name=$1 out=$OUT/$1.elf obj src
    shift
    local extra=("$@")
    stale "$out" "guests/$name" "guests/$name"/* "$LIB" "$LIB"/*.[ch] "$LIB"/entry.asm \
        "$LIB"/link.ld "$SELF" || return 0
    if ! command -v gcc >/dev/null 2>&1 || ! command -v ld >/dev/null 2>&1; then
        echo "build-guests: gcc and ld are needed for $name; run scripts/setup.sh" >&2
        exit 1
    fi
    [[ -n $WORK ]] || WORK=$(mktemp -d)
    obj=$WORK/$name
    mkdir -p "$obj"
    nasm -f elf32 -Werror -o "$obj/entry.o" "$LIB/entry.asm"
    for src in "$LIB"/*.c "guests/$name"/*.c; do
        gcc "${CFLAGS[@]}" "${extra[@]}" -c "$src" -o "$obj/$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
    done
    ld -m elf_i386 -T "$LIB/link.ld" --gc-sections -o "$out.tmp" "$obj"/*.o
    mv "$out.tmp" "$out"
    echo "built $out"
}

# The paravirtual kernel: its own link script (a PT_NOTE for the VMM, the hypercall page) and its
# own console and exit (hypercalls) in place of guests/lib's UART and debug-exit port.
build_pv_elf() {
    local name=$1 out=$OUT/$1.elf obj src
    stale "$out" "guests/$name" "guests/$name"/* "$LIB" "$LIB"/*.[ch] "$LIB"/entry.asm "$SELF" || return 0
    [[ -n $WORK ]] || WORK=$(mktemp -d)
    obj=$WORK/$name
    mkdir -p "$obj"
    nasm -f elf32 -Werror -o "$obj/entry.o" "$LIB/entry.asm"
    nasm -f elf32 -Werror -o "$obj/stubs.o" "guests/$name/pvstubs.asm"
    for src in "$LIB"/*.c "guests/$name"/*.c; do
        case $(basename "$src") in uart.c|exit.c) continue ;; esac
        gcc "${CFLAGS[@]}" -c "$src" -o "$obj/$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
    done
    ld -m elf_i386 -T "guests/$name/link.ld" --gc-sections -o "$out.tmp" "$obj"/*.o
    mv "$out.tmp" "$out"
    echo "built $out"
}

build_flat bootsector     guests/bootsector/bootsector.asm 512
build_flat protected      guests/protected/protected.asm   512
build_flat multiboot-aout guests/multiboot-aout/kernel.asm
build_flat ivt            guests/ivt/ivt.asm               512
build_flat rings          guests/rings/rings.asm
build_flat timer          guests/timer/timer.asm
build_flat realsmc        guests/realsmc/realsmc.asm       512
build_flat haltwait       guests/haltwait/haltwait.asm     512
build_flat bios-hello     guests/bios-hello/bios-hello.asm 512
build_disk_image bios-hello
build_flat vgatext        guests/vgatext/vgatext.asm       512
build_elf multiboot
build_elf compute
build_elf dirtier
build_elf portio
build_elf empty
build_elf paging
build_elf popf
build_elf physscan
build_elf trapbench
build_elf cpuevents
build_elf kvmpv
build_pv_elf pvkernel
build_elf taskgate
build_elf eventwindows
build_elf cpufeatures
build_elf selfmod
build_elf frames
build_elf nanobench
build_elf ticks
build_elf segments
# For source-level debugging: DWARF info, and no optimisation so that locals stay visible.
build_elf debuggee -g -O0
