# Sourced by the fetch scripts: sets `debian_uri` and `debian_keyring` from the machine's own
# Debian source (so a local mirror keeps working), for private apt lists that leave the
# machine's apt configuration untouched.
debian_uri="http://deb.debian.org/debian"
debian_keyring="/usr/share/keyrings/debian-archive-keyring.gpg"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  found=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$found" ] && debian_uri="$found"
  found=$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$found" ] && debian_keyring="$found"
elif [ -f /etc/apt/sources.list ]; then
  found=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  [ -n "$found" ] && debian_uri="$found"
fi
