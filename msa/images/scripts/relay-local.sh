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

# RELAY_HOST_KEY (msa:harbor.relayHostKey): the only key ssh/scp accept for the relay host, from a
# known_hosts file of this run. Without it (msa:cluster.skipHostKeyCheck) the first key seen is trusted.
host_check=(-o StrictHostKeyChecking=accept-new)
if [ -n "${RELAY_HOST_KEY:-}" ]; then
  known_as=$RELAY_HOST
  [ "$RELAY_PORT" = 22 ] || known_as="[$RELAY_HOST]:$RELAY_PORT"
  printf '%s %s\n' "$known_as" "$RELAY_HOST_KEY" >"$work/known_hosts"
  host_check=(-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$work/known_hosts" -o GlobalKnownHostsFile=/dev/null)
fi
ssh_opts=(-o BatchMode=yes "${host_check[@]}" -p "$RELAY_PORT")
scp_opts=(-o BatchMode=yes "${host_check[@]}" -P "$RELAY_PORT")
if [ -n "${MSA_SSH_KEY:-}" ]; then
  (umask 077 && printf '%s\n' "$MSA_SSH_KEY" >"$work/id")
  ssh_opts+=(-i "$work/id")
  scp_opts+=(-i "$work/id")
fi
relay="$RELAY_USER@$RELAY_HOST"

remote_dir=$(ssh "${ssh_opts[@]}" "$relay" 'mktemp -d /tmp/msa-image.XXXXXX')
echo "copying $(du -h "$work/image.tar" | cut -f1) to $relay:$remote_dir" >&2
scp "${scp_opts[@]}" "$work/image.tar" "$relay:$remote_dir/image.tar" >&2
{
  printf 'HARBOR_USERNAME=%q\nHARBOR_PASSWORD=%q\n' "${HARBOR_USERNAME:-}" "${HARBOR_PASSWORD:-}"
  printf 'MSA_CLEANUP_DIR=%q\n' "$remote_dir"
  printf '%s\n' "$RELAY_PUSH_SCRIPT"
} | ssh "${ssh_opts[@]}" "$relay" bash -s -- "$remote_dir/image.tar" "$TARGET" "$RELAY_TOOL" "$HARBOR_SCHEME"
