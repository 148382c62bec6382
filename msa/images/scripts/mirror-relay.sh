# --- the steps (parameters above) ---------------------------------------------------------------
# push: relay: the copy runs on the relay host (which reaches Harbor and, unless an archive is given,
# the source registry). An archive is first copied there over SSH. The Harbor credentials travel on
# ssh's stdin, never on a command line. Prints the digest as the last line.
set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
setup_relay_ssh

cleanup=
source_ref=$SOURCE
if [ -n "$ARCHIVE" ]; then
  remote_dir=$(ssh "${ssh_opts[@]}" "$relay" 'mktemp -d /tmp/msa-mirror.XXXXXX')
  echo "copying $(du -sh "$ARCHIVE" | cut -f1) archive to $relay:$remote_dir" >&2
  copy_to_relay "$ARCHIVE" "$remote_dir" archive
  source_ref=${SOURCE/"$ARCHIVE"/"$remote_dir/archive"}
  cleanup=$remote_dir
fi
{
  printf 'HARBOR_USERNAME=%q\nHARBOR_PASSWORD=%q\n' "${HARBOR_USERNAME:-}" "${HARBOR_PASSWORD:-}"
  printf 'MSA_CLEANUP_DIR=%q\n' "$cleanup"
  printf '%s\n' "$MIRROR_SCRIPT"
} | ssh "${ssh_opts[@]}" "$relay" bash -s -- "$MODE" "$(printf '%q' "$source_ref")" "$TARGET" "$PLATFORM" "$HARBOR_SCHEME"
