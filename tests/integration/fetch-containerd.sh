#!/usr/bin/env bash
# Unpack containerd 1.7 (Debian trixie) and 2.x (Debian sid) next to the system's 1.6 (bookworm), for the
# node-script tests. apt uses a private sources list and state under DEST; the system's apt setup is
# only read (for the mirror it already uses), never changed. Nothing is installed: `dpkg-deb -x`.
#
#   fetch-containerd.sh [DEST]     (default: ~/.cache/msa-ci/containerd, where the tests look)
#
# Outside the repo, like the other CI caches: in a clean clone the fetch (two suites' package lists and two
# .debs) took about a minute of every run. Once there, the versions stay until the folder is removed (remove
# it to test newer 1.7.x / 2.x packages).
set -euo pipefail

dest=${1:-"${XDG_CACHE_HOME:-$HOME/.cache}/msa-ci/containerd"}
mkdir -p "$dest"

# The Debian mirror this machine's apt already uses.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(.*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "fetch-containerd: no Debian mirror in the apt sources" >&2; exit 1; }

apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
cat >"$apt_dir/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main
SOURCES
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=/dev/null"
  -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1" -qq
)

fetched() { [ -x "$dest/$1/usr/bin/containerd" ]; }
if fetched 1.7 && fetched 2; then echo "containerd 1.7 and 2.x already in $dest"; exit 0; fi

apt-get "${apt_opts[@]}" update
for pair in "1.7:trixie" "2:sid"; do
  name=${pair%%:*} suite=${pair#*:}
  fetched "$name" && continue
  # The newest containerd of that suite whose version starts with the wanted line.
  version=$(apt-cache "${apt_opts[@]}" madison containerd | awk -v s="$suite" -v l="$name." '$0 ~ s && index($3, l) == 1 { print $3; exit }')
  [ -n "$version" ] || { echo "fetch-containerd: no containerd $name.x in $suite" >&2; exit 1; }
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download "containerd=$version")
  rm -rf "$dest/$name" && mkdir -p "$dest/$name"
  dpkg-deb -x "$apt_dir/debs/containerd_$(printf '%s' "$version" | sed 's/:/%3a/')_"*.deb "$dest/$name"
  echo "containerd $version -> $dest/$name"
done
