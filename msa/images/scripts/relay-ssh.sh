# --- ssh/scp to the relay host (shared by the build relay and the mirror relay) -------------------
# Needs RELAY_HOST, RELAY_USER, RELAY_PORT, RELAY_HOST_KEY and a private folder $work; reads
# MSA_SSH_KEY (a private key; else ssh-agent / ~/.ssh is used). setup_relay_ssh sets ssh_opts, scp_opts and relay.
#
# RELAY_HOST_KEY (msa:harbor.relayHostKey): the only key ssh/scp accept for the relay host, from a
# known_hosts file of this run. Without it (msa:cluster.skipHostKeyCheck) the first key seen is trusted.
setup_relay_ssh() {
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
}
