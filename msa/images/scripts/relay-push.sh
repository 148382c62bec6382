#!/usr/bin/env bash
# Runs on the relay host (msa:harbor.relayHost): push an image archive made by `docker save` to Harbor.
#
#   relay-push.sh ARCHIVE TARGET [auto|docker|skopeo] [http|https]
#
# Credentials come from HARBOR_USERNAME / HARBOR_PASSWORD in the environment (the local side sends
# them on stdin, so they never show up in `ps`); they are written only to a per-run auth file that is
# removed when the script ends, so no password stays on the relay host. Prints the pushed manifest digest (sha256:...) as the
# last line of stdout; everything else goes to stderr.
set -euo pipefail

archive=${1:?usage: relay-push.sh ARCHIVE TARGET [auto|docker|skopeo] [http|https]}
target=${2:?usage: relay-push.sh ARCHIVE TARGET [auto|docker|skopeo] [http|https]}
tool=${3:-auto}
scheme=${4:-http}
registry=${target%%/*}
repository=${target%:*}

die() { echo "relay-push: $*" >&2; exit 1; }

[ -f "$archive" ] || die "no image archive at $archive"
if [ "$tool" = auto ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    tool=docker
  elif command -v skopeo >/dev/null 2>&1; then
    tool=skopeo
  else
    die "neither a running docker nor skopeo on $(hostname); install skopeo (apt-get install skopeo)"
  fi
fi

work=$(mktemp -d)
# MSA_CLEANUP_DIR: the folder the archive was copied into, removed when the push is done.
trap 'rm -rf "$work" ${MSA_CLEANUP_DIR:+"$MSA_CLEANUP_DIR"}' EXIT

case $tool in
  docker)
    # A plain-HTTP Harbor must be in this daemon's insecure-registries (/etc/docker/daemon.json).
    # The login goes into a per-run DOCKER_CONFIG inside $work (removed on exit, also on failure), so
    # the Harbor password never stays in the relay user's ~/.docker/config.json or credential store.
    push_config=()
    if [ -n "${HARBOR_USERNAME:-}" ]; then
      (umask 077 && mkdir "$work/docker")
      push_config=(env DOCKER_CONFIG="$work/docker")
      printf '%s' "${HARBOR_PASSWORD:-}" | "${push_config[@]}" docker login --username "$HARBOR_USERNAME" --password-stdin "$registry" >&2
    fi
    loaded=$(docker load --input "$archive" | sed -n 's/^Loaded image: //p' | tail -n 1)
    [ -n "$loaded" ] || die "docker load found no tagged image in $archive"
    [ "$loaded" = "$target" ] || docker tag "$loaded" "$target"
    "${push_config[@]}" docker push "$target" >&2
    digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$target" \
      | sed -n "s|^${repository}@||p" | head -n 1)
    ;;
  skopeo)
    tls_verify=true
    [ "$scheme" = http ] && tls_verify=false
    auth=()
    if [ -n "${HARBOR_USERNAME:-}" ]; then
      # An auth file instead of --dest-creds keeps the password off the command line.
      token=$(printf '%s:%s' "$HARBOR_USERNAME" "${HARBOR_PASSWORD:-}" | base64 -w0)
      printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry" "$token" >"$work/auth.json"
      chmod 600 "$work/auth.json"
      auth=(--dest-authfile "$work/auth.json")
    fi
    skopeo copy --quiet --dest-tls-verify="$tls_verify" "${auth[@]}" --digestfile "$work/digest" \
      "docker-archive:$archive" "docker://$target" >&2
    digest=$(cat "$work/digest")
    ;;
  *)
    die "unknown push tool '$tool'; use auto, docker or skopeo"
    ;;
esac

case $digest in
  sha256:????????????????????????????????????????????????????????????????) echo "$digest" ;;
  *) die "could not read the pushed digest of $target (got '${digest}')" ;;
esac
