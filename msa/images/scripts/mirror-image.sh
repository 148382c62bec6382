#!/usr/bin/env bash
# Copy one third-party image into Harbor (or, with a proxy cache, look it up there) and print the
# digest Harbor serves it under. Runs where pulumi runs (push: direct) or on the relay host.
#
#   mirror-image.sh copy|resolve SOURCE TARGET PLATFORM SCHEME
#
#   SOURCE    a skopeo source: docker://registry/path:tag|@digest, docker-archive:FILE or oci:DIR:TAG
#   TARGET    Harbor's host/project/path:tag (no transport)
#   PLATFORM  linux/<arch> (the nodes' platform only) or all (the whole multi-arch index)
#   SCHEME    http (plain-HTTP Harbor: no TLS) or https
#
# copy does nothing when Harbor already holds what the source would give: for one platform the same
# image config (the image ID, which survives every copy and format), for all platforms the same
# index bytes. Only then, skopeo copies (blobs Harbor has are skipped by skopeo itself).
# Credentials come from HARBOR_USERNAME / HARBOR_PASSWORD in the environment and go only into a
# per-run auth file (mode 600, removed at exit): never onto a command line, never into the output.
# The source registry uses skopeo's own login (skopeo login, REGISTRY_AUTH_FILE) and registries.conf.
# The last line of stdout is the digest (sha256:...); everything else goes to stderr.
set -euo pipefail

usage="usage: mirror-image.sh copy|resolve SOURCE TARGET PLATFORM http|https"
mode=${1:?$usage}
source=${2:?$usage}
target=${3:?$usage}
platform=${4:?$usage}
scheme=${5:?$usage}
registry=${target%%/*}

die() { echo "mirror-image: $*" >&2; exit 1; }
command -v skopeo >/dev/null 2>&1 || die "skopeo is not installed on $(hostname); install it (apt-get install skopeo)"

work=$(mktemp -d)
# MSA_CLEANUP_DIR: where the relay copied an archive to, removed when the copy is done.
trap 'rm -rf "$work" ${MSA_CLEANUP_DIR:+"$MSA_CLEANUP_DIR"}' EXIT

tls=true
[ "$scheme" = http ] && tls=false
harbor_auth=()
dest_auth=()
if [ -n "${HARBOR_USERNAME:-}" ]; then
  token=$(printf '%s:%s' "$HARBOR_USERNAME" "${HARBOR_PASSWORD:-}" | base64 -w0)
  (umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry" "$token" >"$work/auth.json")
  unset token
  harbor_auth=(--authfile "$work/auth.json")
  dest_auth=(--dest-authfile "$work/auth.json")
fi

# One platform: skopeo picks it from an index by these (else it would pick the machine's own).
select=()
if [ "$platform" != all ]; then
  select=(--override-os "${platform%%/*}" --override-arch "${platform#*/}")
fi

harbor_inspect() { skopeo "${select[@]}" inspect --tls-verify="$tls" "${harbor_auth[@]}" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$mode" = copy ]; then
  if [ "$platform" = all ]; then
    skopeo inspect --raw "$source" >"$work/want" || die "cannot read $source"
    if harbor_inspect --raw "docker://$target" >"$work/have" 2>"$work/have.err"; then :; else : >"$work/have"; fi
  else
    skopeo "${select[@]}" inspect --config --raw "$source" >"$work/want" || die "cannot read $source for $platform"
    # Checked here, not by the nodes: an arm64-only image on amd64 nodes ends in `exec format error`.
    grep -Eq "\"architecture\": *\"${platform#*/}\"" "$work/want" || die "$source has no image for $platform"
    : >"$work/have"
    if harbor_inspect --raw "docker://$target" >"$work/have.manifest" 2>"$work/have.err" \
      && ! grep -q '"manifests"' "$work/have.manifest"; then
      harbor_inspect --config --raw "docker://$target" >"$work/have" 2>>"$work/have.err" || : >"$work/have"
    fi
  fi
  if [ -s "$work/have" ] && [ "$(sha "$work/want")" = "$(sha "$work/have")" ]; then
    echo "$target is up to date ($platform): nothing copied" >&2
  else
    copy=(copy --quiet --dest-tls-verify="$tls" "${dest_auth[@]}")
    [ "$platform" = all ] && copy+=(--all)
    # A registry or OCI source keeps its manifests byte for byte (so its digests); a docker save
    # tarball has none: skopeo writes a new manifest for it.
    case $source in docker-archive:*) ;; *) copy+=(--preserve-digests) ;; esac
    echo "copying $source to $target ($platform)" >&2
    started=$(date +%s)
    skopeo "${select[@]}" "${copy[@]}" "$source" "docker://$target" >&2
    echo "copied $target in $(( $(date +%s) - started ))s" >&2
  fi
elif [ "$mode" != resolve ]; then
  die "unknown mode '$mode'; use copy or resolve"
fi

# The digest Harbor serves: for a proxy cache, this lookup is what makes Harbor fetch the manifest.
digest=$(harbor_inspect --format '{{.Digest}}' "docker://$target") || die "cannot read the digest of $target from Harbor"
case $digest in
  sha256:????????????????????????????????????????????????????????????????) echo "$digest" ;;
  *) die "Harbor gave no digest for $target (got '${digest}')" ;;
esac
