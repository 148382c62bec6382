# --- ssh/scp to the relay host (shared by the build relay and the mirror relay) -------------------
# Needs RELAY_HOST, RELAY_USER, RELAY_PORT, RELAY_HOST_KEY and a private folder $work; reads
# MSA_SSH_KEY (a private key; else ssh-agent / ~/.ssh is used). setup_relay_ssh sets ssh_opts, scp_opts and relay;
# copy_to_relay copies into a folder made there.
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

# Copy a file or folder into REMOTE_DIR (made by `mktemp -d` on the relay host). A failed copy removes
# that folder again, so nothing stays behind, and names the usual cause: scp of OpenSSH 9 and later
# copies over SFTP, so the relay's sshd needs its sftp subsystem (Debian's default config has it).
copy_to_relay() { # local-path remote-dir remote-name
  if ! scp -r "${scp_opts[@]}" "$1" "$relay:$2/$3" >&2; then
    ssh "${ssh_opts[@]}" "$relay" "rm -rf -- $(printf '%q' "$2")" >&2 || true
    echo "msa: copying $1 to $relay failed (see above); the relay host's sshd needs its sftp subsystem for scp" >&2
    return 1
  fi
}
