#!/usr/bin/env bash
# Fetches real guest images, none of them written here, from Debian 12 packages into guests/images:
#   vmlinuz              the i386 kernel of linux-image-686 (a metapackage, resolved to the current
#                        linux-image-6.x.y-N-686 package)
#   initrd.gz            a newc initramfs: busybox-static (i386), guests/initramfs/init as /init and
#                        the workloads guests/initramfs/workload-* in /bin
#   memtest86+ia32.bin   from memtest86+, a Linux-boot-protocol image of its own
# Package versions are resolved from the archive, never written down here. The machine's apt
# configuration is left alone (scripts/guest-apt.sh). What exists is kept: a second run downloads
# nothing.
# guests/images/VERSIONS records which packages the files came from.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/guests/images"
work="$root/.deps/guest-images"
init_src="$root/guests/initramfs/init"
# The workloads /init runs instead of its default when the kernel command line names one.
shopt -s nullglob
workloads=("$root"/guests/initramfs/workload-*)
shopt -u nullglob
# The applets guests/initramfs/init and the workloads run, as links to busybox.
applets=(sh mount uname head cat ls date poweroff reboot sleep usleep expr wc tr dmesg grep dd adjtimex
         insmod mknod mkdir sync umount)
# Device nodes besides /dev/console (name, type, major, minor): the workloads read /dev/zero and /dev/urandom.
devices=("null c 1 3" "zero c 1 5" "urandom c 1 9")

say() { echo "fetch-guest-images: $*"; }
die() { echo "fetch-guest-images: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (device nodes in the initramfs need mknod)"
[ -f "$init_src" ] || die "missing $init_src"
mkdir -p "$out" "$work"

need_kernel=1; need_memtest=1; need_busybox=1; need_initrd=1
[ -s "$out/vmlinuz" ] && need_kernel=0
[ -s "$out/memtest86+ia32.bin" ] && need_memtest=0
[ -x "$work/busybox" ] && need_busybox=0
# The initramfs is rebuilt when what goes into it changed: /init, the workloads, busybox, the
# applet links or the device nodes. A digest of them is kept in the work folder: comparing contents
# rather than timestamps also catches an older /init brought back by git, and costs milliseconds.
initrd_stamp="$work/initrd.inputs"
initrd_inputs() {
  { sha256sum < "$init_src"; sha256sum < "$work/busybox"
    for workload in "${workloads[@]}"; do echo "${workload##*/}"; sha256sum < "$workload"; done
    echo "applets: ${applets[*]}"; echo "devices: ${devices[*]}"; } | sha256sum | cut -d' ' -f1
}
if [ -s "$out/initrd.gz" ] && [ "$need_busybox" -eq 0 ] && [ -s "$initrd_stamp" ] \
   && [ "$(cat "$initrd_stamp")" = "$(initrd_inputs)" ]; then
  need_initrd=0
fi
if [ $((need_kernel + need_memtest + need_busybox + need_initrd)) -eq 0 ]; then
  say "up to date in guests/images"
  exit 0
fi

# --- private apt: Debian 12 (bookworm), i386, the machine's mirror and keyring ---
. "$root/scripts/guest-apt.sh"

# Only a download needs fresh lists; rebuilding the initramfs alone stays offline.
if [ $((need_kernel + need_memtest + need_busybox)) -gt 0 ]; then
  say "updating the private bookworm i386 package lists"
  apt_update
fi

# --- kernel ---
if [ "$need_kernel" -eq 1 ]; then
  # linux-image-686 depends on exactly one versioned image package, e.g. linux-image-6.1.0-37-686.
  pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-686 \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || die "cannot resolve linux-image-686 to a linux-image-6.x package"
  say "downloading $pkg (i386)"
  deb=$(download "$pkg")
  version=$(dpkg-deb -f "$deb" Version)
  # Only the kernel is wanted: extract /boot/vmlinuz-* instead of the modules tree.
  rm -rf "$work/kernel"
  mkdir -p "$work/kernel"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*'
  vmlinuz=$(ls "$work/kernel/boot/"vmlinuz-* | head -n 1)
  cp "$vmlinuz" "$out/vmlinuz.new" && mv "$out/vmlinuz.new" "$out/vmlinuz"
  record vmlinuz "$pkg" "$version"
  # The package stays in the private apt's folder: scripts/build-disk-image.sh takes the modules
  # of this very kernel from it (without a second download) and then removes it.
  rm -rf "$work/kernel"
  say "vmlinuz: $(basename "$vmlinuz") ($(stat -c %s "$out/vmlinuz") bytes)"
fi

# --- memtest86+ ---
if [ "$need_memtest" -eq 1 ]; then
  say "downloading memtest86+"
  deb=$(download memtest86+)
  version=$(dpkg-deb -f "$deb" Version)
  rm -rf "$work/memtest"
  dpkg -x "$deb" "$work/memtest"
  bin=$(find "$work/memtest" -name 'memtest86+ia32.bin' | head -n 1)
  [ -n "$bin" ] || die "memtest86+ $version has no memtest86+ia32.bin"
  cp "$bin" "$out/memtest86+ia32.bin.new" && mv "$out/memtest86+ia32.bin.new" "$out/memtest86+ia32.bin"
  record memtest86+ia32.bin memtest86+ "$version"
  rm -rf "$work/memtest" "$deb"
  say "memtest86+ia32.bin: ${bin#"$work/memtest"} ($(stat -c %s "$out/memtest86+ia32.bin") bytes)"
fi

# --- busybox ---
if [ "$need_busybox" -eq 1 ]; then
  say "downloading busybox-static (i386)"
  deb=$(download busybox-static)
  version=$(dpkg-deb -f "$deb" Version)
  rm -rf "$work/busybox-root"
  dpkg -x "$deb" "$work/busybox-root"
  cp "$work/busybox-root/bin/busybox" "$work/busybox.new" && mv "$work/busybox.new" "$work/busybox"
  chmod 755 "$work/busybox"
  echo "$version" > "$work/busybox.version"
  rm -rf "$work/busybox-root" "$deb"
fi

# --- initramfs ---
if [ "$need_initrd" -eq 1 ]; then
  if ! command -v cpio >/dev/null; then
    say "installing cpio"
    apt-get install -y -qq --no-install-recommends cpio >/dev/null 2>&1 \
      || die "apt-get install cpio failed"
  fi
  say "building initrd.gz"
  stage="$work/initramfs"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp"
  cp "$work/busybox" "$stage/bin/busybox"
  for applet in "${applets[@]}"; do ln -s busybox "$stage/bin/$applet"; done
  install -m 755 "$init_src" "$stage/init"
  for workload in "${workloads[@]}"; do install -m 755 "$workload" "$stage/bin/${workload##*/}"; done
  # The kernel opens /dev/console for init before anything can mount devtmpfs.
  mknod -m 600 "$stage/dev/console" c 5 1
  for node in "${devices[@]}"; do
    read -r name type major minor <<< "$node"
    mknod -m 666 "$stage/dev/$name" "$type" "$major" "$minor"
  done
  # Fixed timestamps and sorted names: the same inputs give the same archive.
  find "$stage" -exec touch -h -d @0 {} +
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort \
     | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$out/initrd.gz.new"
  mv "$out/initrd.gz.new" "$out/initrd.gz"
  initrd_inputs > "$initrd_stamp"
  record initrd.gz busybox-static "$(cat "$work/busybox.version")"
  say "initrd.gz: busybox-static $(cat "$work/busybox.version") ($(stat -c %s "$out/initrd.gz") bytes)"
fi
