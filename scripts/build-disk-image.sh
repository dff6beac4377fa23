#!/usr/bin/env bash
# Builds the hard-disk image that Linux boots from through PC firmware, from Debian 12 packages
# only, into guests/images:
#   initrd-disk.gz   initrd.gz (scripts/fetch-guest-images.sh) with a second cpio archive appended
#                    (the kernel unpacks concatenated archives): the kernel modules that reach an
#                    IDE disk on a PIIX controller (ata_piix, sd_mod) and read FAT (vfat, the NLS
#                    tables of the kernel's default codepage and iocharset), with their
#                    dependencies, from the linux-image package of guests/images/vmlinuz
#   linux-disk.img   a 32 MiB raw disk: an MBR with syslinux's boot code and one bootable FAT16
#                    partition at 1 MiB (sector 2048) holding syslinux, syslinux.cfg, vmlinuz,
#                    initrd-disk.gz (as initrd.gz) and HELLO.TXT; syslinux boots Linux with
#                    vmm.workload=disk (guests/initramfs/workload-disk), which reads HELLO.TXT and
#                    writes WROTE.TXT
# The image is made in a file with mtools, sfdisk and syslinux's mtools installer: no loop device,
# no mount. A boot writes to the image, so it is rebuilt when its content is not what this script
# made, as well as when an input changed; otherwise a run does nothing and downloads nothing.
# guests/images/VERSIONS records the packages.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/guests/images"
work="$root/.deps/guest-images"
cache="$work/disk"
img="$out/linux-disk.img"
initrd_disk="$out/initrd-disk.gz"

# The disk's layout. 64 heads and 32 sectors a track make a cylinder of 1 MiB, so the partition
# starts on a cylinder and on the 1 MiB boundary that partitioning tools use today.
disk_mib=32
part_start=2048
part_offset=$((part_start * 512))
part_sectors=$((disk_mib * 2048 - part_start))
heads=64
sectors_per_track=32
# The modules Linux needs for the disk; the NLS tables are added from the kernel's configuration.
wanted_modules=(ata_piix sd_mod vfat)
# What HELLO.TXT says: the workload prints it back as "VMM-DISK-READ <line>".
hello_line="Hello from the FAT partition of linux-disk.img"
# syslinux writes its banner and messages to COM1 as well (SERIAL 0, 115200 baud), so a serial
# console shows them; it boots at once (no prompt, no timeout) with the command line of the Linux
# boot benchmark (panic=-1: a panic reboots at once) and the workload.
syslinux_cfg="SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 panic=-1 vmm.workload=disk"

say() { echo "build-disk-image: $*"; }
die() { echo "build-disk-image: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (host packages are installed with apt-get)"
[ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] && [ -s "$out/VERSIONS" ] \
  || die "guests/images has no vmlinuz, initrd.gz or VERSIONS: run scripts/fetch-guest-images.sh first"
# The modules must come from the very package vmlinuz came from: a module of another build is refused.
read -r _ kernel_pkg kernel_version < <(grep '^vmlinuz ' "$out/VERSIONS") \
  || die "guests/images/VERSIONS names no vmlinuz package"
mkdir -p "$cache"
. "$root/scripts/guest-apt.sh"

# ensure_host_tools COMMAND-OR-FILE PACKAGE ...: installs the packages whose command or file is missing.
ensure_host_tools() {
  local need=()
  while [ $# -gt 0 ]; do
    if [ "${1#/}" = "$1" ]; then command -v "$1" >/dev/null || need+=("$2")
    else [ -e "$1" ] || need+=("$2"); fi
    shift 2
  done
  [ ${#need[@]} -eq 0 ] && return 0
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed"
}

# --- modules: a cpio archive of them, kept in .deps until the kernel package changes ---
modules_cpio="$cache/modules.cpio.gz"
modules_stamp="$cache/modules.source"
modules_source="$kernel_pkg $kernel_version ${wanted_modules[*]}"
if [ ! -s "$modules_cpio" ] || [ "$(cat "$modules_stamp" 2>/dev/null)" != "$modules_source" ]; then
  # kmod's depmod and modprobe work out the dependencies, as on an installed system.
  ensure_host_tools depmod kmod cpio cpio
  # scripts/fetch-guest-images.sh leaves the package it took vmlinuz from; else it is downloaded.
  deb=$(ls "$apt_dir/debs/${kernel_pkg}"_*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$deb" ] || [ "$(dpkg-deb -f "$deb" Version)" != "$kernel_version" ]; then
    say "updating the private bookworm i386 package lists"
    apt_update
    say "downloading $kernel_pkg $kernel_version (i386) for its modules"
    deb=$(download "$kernel_pkg" "$kernel_version") \
      || die "$kernel_pkg $kernel_version is gone from the archive: remove guests/images/vmlinuz, run scripts/fetch-guest-images.sh for the current kernel, then this again"
  fi
  tree="$cache/tree"
  rm -rf "$tree"
  mkdir -p "$tree"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tree" --wildcards './lib/modules/*' './boot/config-*'
  release=$(ls "$tree/lib/modules")
  [ -f "$tree/boot/config-$release" ] || die "$kernel_pkg has no boot/config-$release"
  # The package leaves modules.dep to depmod at installation: make it here.
  depmod -b "$tree" "$release"
  # vfat mounts with the kernel's default codepage and iocharset unless told otherwise: their NLS
  # tables must be loaded first (e.g. 437 and "ascii" give nls_cp437 and nls_ascii).
  codepage=$(sed -n 's/^CONFIG_FAT_DEFAULT_CODEPAGE=//p' "$tree/boot/config-$release")
  iocharset=$(sed -n 's/^CONFIG_FAT_DEFAULT_IOCHARSET="\(.*\)"$/\1/p' "$tree/boot/config-$release")
  [ -n "$codepage" ] && [ -n "$iocharset" ] || die "config-$release names no FAT default codepage or iocharset"
  # modprobe prints the insmod lines it would run, dependencies (and soft dependencies) first;
  # -C /dev/null keeps the host's modprobe.d out of it. A module built into the kernel prints a
  # "builtin" line instead and needs nothing.
  modprobe -C /dev/null -d "$tree" -S "$release" -a --show-depends \
      "${wanted_modules[@]}" "nls_cp$codepage" "nls_$iocharset" > "$tree/show-depends" \
    || die "modprobe --show-depends failed for ${wanted_modules[*]} nls_cp$codepage nls_$iocharset"
  stage="$cache/stage"
  rm -rf "$stage"
  mkdir -p "$stage/lib/modules/$release"
  : > "$stage/lib/modules/$release/load-order"
  # Each module once, where it first appears. Compressed modules are unpacked: busybox insmod
  # hands the kernel the bytes of the file as they are.
  grep -q '\.ko\.xz' "$tree/show-depends" && ensure_host_tools xz xz-utils
  grep -q '\.ko\.zst' "$tree/show-depends" && ensure_host_tools zstd zstd
  awk '$1 == "insmod" && !seen[$2]++ {print $2}' "$tree/show-depends" | while read -r path; do
    name=${path##*/}
    case $name in
      *.ko) cp "$path" "$stage/lib/modules/$release/$name" ;;
      *.ko.xz) name=${name%.xz}; xz -dc "$path" > "$stage/lib/modules/$release/$name" ;;
      *.ko.zst) name=${name%.zst}; zstd -qdc "$path" > "$stage/lib/modules/$release/$name" ;;
      *.ko.gz) name=${name%.gz}; gzip -dc "$path" > "$stage/lib/modules/$release/$name" ;;
      *) die "unexpected module file $path" ;;
    esac
    echo "$name" >> "$stage/lib/modules/$release/load-order"
  done
  [ -s "$stage/lib/modules/$release/load-order" ] || die "modprobe named no module to load"
  # Fixed timestamps and sorted names: the same modules give the same archive.
  find "$stage" -exec touch -h -d @0 {} +
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort \
     | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$modules_cpio.new"
  mv "$modules_cpio.new" "$modules_cpio"
  echo "$modules_source" > "$modules_stamp"
  say "modules for $release: $(tr '\n' ' ' < "$stage/lib/modules/$release/load-order")"
  rm -rf "$tree" "$stage" "$deb"
fi

# --- initrd-disk.gz: initrd.gz, then the modules (rebuilt when either changed) ---
if [ ! -s "$initrd_disk" ] \
   || [ "$(cat "$out/initrd.gz" "$modules_cpio" | sha256sum)" != "$(sha256sum < "$initrd_disk")" ]; then
  cat "$out/initrd.gz" "$modules_cpio" > "$initrd_disk.new"
  mv "$initrd_disk.new" "$initrd_disk"
  record initrd-disk.gz "$kernel_pkg" "$kernel_version"
  say "initrd-disk.gz: initrd.gz and the modules of $kernel_pkg $kernel_version ($(stat -c %s "$initrd_disk") bytes)"
fi

# --- linux-disk.img ---
ensure_host_tools syslinux syslinux /usr/lib/syslinux/mbr/mbr.bin syslinux-common \
  mformat mtools sfdisk fdisk
syslinux_version=$(dpkg-query -W -f '${Version}' syslinux)
# What the image is made of and how (this script); with the digest of the image as made, in the stamp.
image_stamp="$cache/image.inputs"
image_inputs() {
  { sha256sum < "$out/vmlinuz"; sha256sum < "$initrd_disk"; sha256sum < /usr/lib/syslinux/mbr/mbr.bin
    sha256sum < "$root/scripts/build-disk-image.sh"
    echo "syslinux $syslinux_version"; echo "$syslinux_cfg"; echo "$hello_line"
    echo "disk $disk_mib MiB, partition at $part_start, $heads heads, $sectors_per_track sectors"
  } | sha256sum | cut -d' ' -f1
}
if [ -s "$img" ] && [ -s "$image_stamp" ] \
   && [ "$(cat "$image_stamp")" = "$(image_inputs) $(sha256sum < "$img" | cut -d' ' -f1)" ]; then
  say "up to date in guests/images"
  exit 0
fi

say "building linux-disk.img"
# mtools dates files and the volume label by SOURCE_DATE_EPOCH when set: the FAT epoch
# (1980-01-01 00:00 UTC) rather than the time of the build, so the same inputs give the same image.
export SOURCE_DATE_EPOCH=315532800 TZ=UTC
new="$img.new"
part="$new@@$part_offset"
rm -f "$new"
truncate -s "${disk_mib}M" "$new"
# The partition table, then syslinux's MBR code in the 440 bytes before the disk signature: it
# loads the boot sector of the active partition.
printf 'label: dos\nlabel-id: 0x564d4d31\nstart=%d, size=%d, type=6, bootable\n' "$part_start" "$part_sectors" \
  | sfdisk --quiet --no-reread --no-tell-kernel "$new"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$new" bs=440 count=1 conv=notrunc status=none
# FAT16 (mformat picks it for this many clusters), with the partition's place on the disk in the
# boot sector's hidden-sectors field and the disk's geometry, as a DOS FORMAT would write them.
# A fixed serial number, as the partition table's disk identifier: no random bytes in the image.
MTOOLS_SKIP_CHECK=1 mformat -i "$part" -T "$part_sectors" -h "$heads" -s "$sectors_per_track" \
  -H "$part_start" -N 564d4d31 -v VMMDISK ::
# syslinux writes its boot sector over the FAT's (keeping the BPB), and ldlinux.sys and
# ldlinux.c32 into the file system, through mtools.
syslinux --install --offset "$part_offset" "$new"
printf '%s\n' "$syslinux_cfg" > "$cache/syslinux.cfg"
printf '%s\n' "$hello_line" > "$cache/HELLO.TXT"
mcopy -i "$part" "$cache/syslinux.cfg" ::syslinux.cfg
mcopy -i "$part" "$out/vmlinuz" ::vmlinuz
mcopy -i "$part" "$initrd_disk" ::initrd.gz
mcopy -i "$part" "$cache/HELLO.TXT" ::HELLO.TXT
rm -f "$cache/syslinux.cfg" "$cache/HELLO.TXT"
minfo -i "$part" :: | grep -q 'disk type="FAT16' || die "mformat did not make a FAT16 file system"
mv "$new" "$img"
echo "$(image_inputs) $(sha256sum < "$img" | cut -d' ' -f1)" > "$image_stamp"
record linux-disk.img syslinux "$syslinux_version"
say "linux-disk.img: $disk_mib MiB, FAT16 partition at sector $part_start (byte $part_offset): $(mdir -i "$img@@$part_offset" -b :: | tr '\n' ' ')"
