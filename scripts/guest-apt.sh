# Sourced by the scripts that take guest images from Debian 12 packages (fetch-guest-images.sh,
# build-disk-image.sh), so that both download through one private apt and record provenance alike.
# The caller sets `root` (the checkout), `out` (guests/images) and `work` (.deps/guest-images)
# and defines `die`.
#
# The machine's apt configuration is left alone: a private source list, lists and cache under
# $work/apt, with i386 as the architecture (the kernel, its modules, busybox-static and memtest86+
# are all built for it).

apt_dir="$work/apt"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::Status=/dev/null"
          -o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
          -o APT::Architecture=i386 -o APT::Architectures=i386)

# apt_update: the private apt's folders and source list, and fresh package lists (only a download
# needs them, so a run that downloads nothing touches none of it).
apt_update() {
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  . "$root/scripts/debian-mirror.sh"
  # The point-release archive only: its kernel changes a few times a year, so the images stay the
  # same for everyone between releases (bookworm-security would move faster).
  cat > "$apt_dir/sources.list" <<EOF
deb [signed-by=$debian_keyring] $debian_uri bookworm main
deb [signed-by=$debian_keyring] $debian_uri bookworm-updates main
EOF
  apt-get "${apt_opts[@]}" -qq update >"$apt_dir/update.log" 2>&1 \
    || die "apt-get update against $debian_uri failed (see ${apt_dir#"$root"/}/update.log)"
}

# download PACKAGE [VERSION]: fetches the candidate .deb (or that exact version) into
# $apt_dir/debs and prints its path.
download() {
  local pkg=$1 version=${2:-} deb
  rm -f "$apt_dir/debs/${pkg}"_*.deb
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "$pkg${version:+=$version}" >"$apt_dir/download.log" 2>&1) \
    || die "could not download $pkg${version:+ $version} from $debian_uri (see ${apt_dir#"$root"/}/download.log)"
  deb=$(ls "$apt_dir/debs/${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
  [ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
  echo "$deb"
}

# record NAME PACKAGE VERSION: one provenance line per output file in guests/images/VERSIONS.
record() {
  touch "$out/VERSIONS"
  { grep -v "^$1 " "$out/VERSIONS" || true; echo "$1 $2 $3"; } > "$out/VERSIONS.new"
  mv "$out/VERSIONS.new" "$out/VERSIONS"
}
