#!/usr/bin/env bash
# Installs and builds everything the project needs, idempotently: a second run does nothing.
# Debian 12, as root (or with sudo): apt packages, Unicorn 2.1, npm packages, the native core,
# the TypeScript build and the sample guests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { echo "setup: $*" >&2; }

# 1. Debian packages: nasm builds the guests, binutils/gcc the C guests, qemu is the reference,
#    cpio packs the initramfs, gdb debugs guests through vmm's GDB stub (and tests it), Capstone
#    decodes guest instructions for the bt engine's translator, seabios is the PC firmware,
#    headless Chromium (with a font for its text) opens the HTML report of `vmm bench compare`
#    in its test.
need=()
command -v nasm >/dev/null || need+=(nasm)
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
command -v ld >/dev/null || need+=(binutils)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v cpio >/dev/null || need+=(cpio)
command -v gdb >/dev/null || need+=(gdb)
[ -f /usr/include/capstone/capstone.h ] || need+=(libcapstone-dev)
# SeaBIOS and SeaVGABIOS, the firmware of `vmm boot --bios` (qemu-system-x86 brings them too).
[ -f /usr/share/seabios/bios-256k.bin ] && [ -f /usr/share/seabios/vgabios-stdvga.bin ] || need+=(seabios)
command -v chromium >/dev/null || need+=(chromium fonts-liberation)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. Unicorn 2.1 (static), fetched from Debian 13.
bash scripts/fetch-unicorn.sh

# 3. npm packages, as locked (npm install, because this npm writes lockfiles without other
#    platforms' optional packages, which `npm ci` then rejects).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
fi

# 4. The native core, rebuilt when a source is newer than the addon.
addon=native/build/Release/vmm_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp .deps/unicorn/VERSION -newer "$addon" 2>/dev/null | head -n 1)" ]; then
  say "building the native core"
  npx --no-install node-gyp rebuild --directory native --loglevel=error >/dev/null
fi

# 5. TypeScript: type-checked, and the CLI bundled into one module (scripts/build-cli.sh).
bash scripts/build-cli.sh

# 6. Sample guests, and the real guest images fetched from Debian (cached after the first run).
bash scripts/build-guests.sh
bash scripts/fetch-guest-images.sh

# 7. The hard-disk image Linux boots from through PC firmware: syslinux on a FAT partition, the
#    kernel and an initramfs with the IDE and FAT modules (cached after the first run).
bash scripts/build-disk-image.sh
