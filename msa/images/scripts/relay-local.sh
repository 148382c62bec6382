# --- the steps (parameters above) ---------------------------------------------------------------
# Builds for the nodes' platform, saves the image, copies it to the relay host over SSH and pushes
# it from there. Reads MSA_SSH_KEY (a private key; else ssh-agent / ~/.ssh is used), HARBOR_USERNAME
# and HARBOR_PASSWORD from the environment. Prints the pushed digest as the last line.
set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building $TARGET for $PLATFORM" >&2
build_flags=()
for arg in "${BUILD_ARGS[@]}"; do build_flags+=(--build-arg "$arg"); done
docker build --platform "$PLATFORM" --file "$DOCKERFILE" --tag "$TARGET" "${build_flags[@]}" "$CONTEXT" >&2
docker save --output "$work/image.tar" "$TARGET"

# ssh_opts, scp_opts and relay: relay-ssh.sh, placed above by relay_local_script
setup_relay_ssh

remote_dir=$(ssh "${ssh_opts[@]}" "$relay" 'mktemp -d /tmp/msa-image.XXXXXX')
echo "copying $(du -h "$work/image.tar" | cut -f1) to $relay:$remote_dir" >&2
copy_to_relay "$work/image.tar" "$remote_dir" image.tar
{
  printf 'HARBOR_USERNAME=%q\nHARBOR_PASSWORD=%q\n' "${HARBOR_USERNAME:-}" "${HARBOR_PASSWORD:-}"
  printf 'MSA_CLEANUP_DIR=%q\n' "$remote_dir"
  printf '%s\n' "$RELAY_PUSH_SCRIPT"
} | ssh "${ssh_opts[@]}" "$relay" bash -s -- "$remote_dir/image.tar" "$TARGET" "$RELAY_TOOL" "$HARBOR_SCHEME"
