# --- the steps (parameters above) ---------------------------------------------------------------
# Make this node's containerd pull from the Harbor registry MSA_REGISTRY over MSA_REGISTRY_SCHEME.
#
#   apply   write certs.d/<registry>/hosts.toml, point the CRI registry config_path at certs.d (config
#           version 2: plugins."io.containerd.grpc.v1.cri".registry, 3/4: plugins."io.containerd.cri.v1.images".registry),
#           migrate deprecated registry.mirrors / registry.configs.*.tls entries into hosts.toml files
#           (with config_path set they stop the CRI plugin from loading), add the registry to /etc/hosts
#           when MSA_REGISTRY_ADDRESS is set. Restarts containerd only when config.toml changed, then
#           checks that the CRI plugin loaded, and restores the previous config if it did not.
#   revert  undo what apply recorded in MSA_STATE_DIR.
#   check   exit 0 when the node is set up as apply would leave it.
#
# A second apply changes nothing. Needs bash, coreutils, awk, grep and containerd's own binaries.
set -euo pipefail
umask 022

action=${1:-apply}
say() { echo "msa-node-setup: $*" >&2; }
die() { say "error: $*"; exit 1; }
# One scratch folder for the whole run, removed however it ends: a `die` halfway through apply (containerd
# refusing the new config, a failed restart) must not leave a folder behind in the node's /tmp.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

registry_dir="$MSA_CERTS_DIR/$MSA_REGISTRY"
hosts_toml="$registry_dir/hosts.toml"
state="$MSA_STATE_DIR/state"
managed_mark="# managed by msa-node-setup"
registry_name=${MSA_REGISTRY%:*}
[[ "$MSA_REGISTRY" == *:*:* ]] && registry_name=$MSA_REGISTRY   # leave IPv6 literals alone

state_get() { [ -f "$state" ] && sed -n "s/^$1=//p" "$state" | tail -n 1 || true; }
state_set() {
  # Keys are write-once: a second apply must not overwrite what the first one found.
  [ -n "$(state_get "$1")" ] && return 0
  mkdir -p "$MSA_STATE_DIR"
  printf '%s=%s\n' "$1" "$2" >>"$state"
}

# Replace a file's content only when it differs, so a second run leaves every byte (and mtime) alone.
write_if_changed() { # path content -> 0 if written, 1 if unchanged
  local path=$1 content=$2
  if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then return 1; fi
  mkdir -p "$(dirname "$path")"
  printf '%s\n' "$content" >"$path.msa-tmp"
  mv -f "$path.msa-tmp" "$path"
  return 0
}

hosts_toml_for() { # namespace server-url host-url [extra host lines]
  printf '%s\n%s\n\n%s\n%s' "$managed_mark" "server = \"$2\"" "[host.\"$3\"]" '  capabilities = ["pull", "resolve"]'
  [ -n "${4:-}" ] && printf '\n%s' "$4"
  return 0
}

config_version() {
  local v
  v=$(sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$MSA_CONTAINERD_CONFIG" | head -n 1)
  echo "${v:-1}"
}

registry_section() {
  case $1 in
    2) echo 'plugins."io.containerd.grpc.v1.cri".registry' ;;
    3|4) echo 'plugins."io.containerd.cri.v1.images".registry' ;;
    *) die "$MSA_CONTAINERD_CONFIG has config version $1; msa supports versions 2-4 (run: containerd config migrate)" ;;
  esac
}

# Rewrite config.toml (stdin -> stdout): drop deprecated mirrors / configs.*.tls tables of the CRI
# registry section, set config_path in it (adding the section when missing). Migration records go to
# the file named by $2: "mirror<TAB>namespace<TAB>endpoints" and "tls<TAB>host<TAB>key<TAB>value".
rewrite_config() { # section migrations-file
  awk -v section="$1" -v certs="$MSA_CERTS_DIR" -v notes="$2" '
    function norm(h) { gsub(/[[:space:]]/, "", h); gsub(/\047/, "\"", h); return h }
    function unquote(s) { gsub(/^[[:space:]]*["\047]|["\047][[:space:]]*$/, "", s); return s }
    function flush_section_end() {
      if (in_section && !path_done) { print "  config_path = \"" certs "\""; path_done = 1 }
    }
    BEGIN { sect = norm(section); mirrors = sect ".mirrors."; configs = sect ".configs." }
    /^[[:space:]]*\[[^\[]/ {
      header = $0; sub(/#.*/, "", header); sub(/^[[:space:]]*\[/, "", header); sub(/\][[:space:]]*$/, "", header)
      h = norm(header)
      flush_section_end()
      in_section = (h == sect); if (in_section) seen = 1
      drop = 0; current = ""
      if (index(h, mirrors) == 1) { drop = 1; kind = "mirror"; current = unquote(substr(h, length(mirrors) + 1)) }
      else if (index(h, configs) == 1 && h ~ /\.tls$/) {
        drop = 1; kind = "tls"; current = substr(h, length(configs) + 1); sub(/\.tls$/, "", current); current = unquote(current)
      }
      if (!drop) print
      next
    }
    drop {
      line = $0; sub(/#.*/, "", line)
      if (line ~ /^[[:space:]]*$/) next
      if (kind == "mirror" && line ~ /^[[:space:]]*endpoint[[:space:]]*=/) {
        if (line !~ /\]/) { print "multi-line endpoint list in " current > "/dev/stderr"; exit 3 }
        v = line; sub(/^[^\[]*\[/, "", v); sub(/\].*$/, "", v); gsub(/["\047,]/, " ", v); gsub(/[[:space:]]+/, " ", v)
        printf "mirror\t%s\t%s\n", current, v >> notes
      } else if (kind == "tls") {
        split(line, kv, "="); key = kv[1]; gsub(/[[:space:]]/, "", key); val = substr(line, index(line, "=") + 1)
        gsub(/^[[:space:]]+|[[:space:]]+$/, "", val); gsub(/^["\047]|["\047]$/, "", val)
        printf "tls\t%s\t%s\t%s\n", current, key, val >> notes
      } else {
        printf "note\t%s\t%s\n", current, line >> notes
      }
      next
    }
    in_section && /^[[:space:]]*(mirrors|configs)[[:space:]]*=/ { print "inline mirrors/configs tables in " section > "/dev/stderr"; exit 4 }
    in_section && /^[[:space:]]*config_path[[:space:]]*=/ {
      if (!path_done) { print "  config_path = \"" certs "\""; path_done = 1 }
      next
    }
    { print }
    END {
      flush_section_end()
      if (!seen) { print ""; print "[" section "]"; print "  config_path = \"" certs "\"" }
    }
  '
}

# Turn recorded legacy entries into hosts.toml files, unless a hosts.toml already exists there.
migrate_legacy() { # migrations-file
  local kind ns rest key val endpoints dir server extra
  [ -s "$1" ] || return 0
  while IFS=$'\t' read -r kind ns rest; do
    [ "$kind" = mirror ] || continue
    dir="$MSA_CERTS_DIR/$ns"
    if [ "$ns" = "$MSA_REGISTRY" ]; then say "dropped legacy registry.mirrors.\"$ns\": replaced by $hosts_toml"; continue; fi
    if [ -e "$dir/hosts.toml" ]; then say "dropped legacy registry.mirrors.\"$ns\": $dir/hosts.toml already exists"; continue; fi
    server="https://$ns"; [ "$ns" = docker.io ] && server="https://registry-1.docker.io"
    mkdir -p "$dir"
    {
      printf '%s\nserver = "%s"\n' "$managed_mark" "$server"
      for endpoints in $rest; do printf '\n[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$endpoints"; done
    } >"$dir/hosts.toml"
    state_set "migrated_$(printf '%s' "$ns" | tr -c 'A-Za-z0-9' '_')" "$dir/hosts.toml"
    say "migrated legacy registry.mirrors.\"$ns\" (endpoint = $rest) to $dir/hosts.toml"
  done <"$1"
  while IFS=$'\t' read -r kind ns key val; do
    [ "$kind" = tls ] || continue
    if [ "$ns" = "$MSA_REGISTRY" ]; then say "dropped legacy registry.configs.\"$ns\".tls: $hosts_toml speaks $MSA_REGISTRY_SCHEME"; continue; fi
    dir="$MSA_CERTS_DIR/$ns"
    case $key in
      insecure_skip_verify) [ "$val" = true ] && extra="  skip_verify = true" || extra="" ;;
      ca_file) extra="  ca = \"$val\"" ;;
      *) say "dropped legacy registry.configs.\"$ns\".tls.$key; set it by hand in $dir/hosts.toml"; continue ;;
    esac
    [ -n "$extra" ] || continue
    if [ ! -e "$dir/hosts.toml" ]; then
      mkdir -p "$dir"
      hosts_toml_for "$ns" "https://$ns" "https://$ns" >"$dir/hosts.toml"; echo >>"$dir/hosts.toml"
      state_set "migrated_$(printf '%s' "$ns" | tr -c 'A-Za-z0-9' '_')" "$dir/hosts.toml"
    fi
    grep -qxF "$extra" "$dir/hosts.toml" || printf '%s\n' "$extra" >>"$dir/hosts.toml"
    say "migrated legacy registry.configs.\"$ns\".tls.$key to $dir/hosts.toml"
  done <"$1"
  while IFS=$'\t' read -r kind ns rest; do
    [ "$kind" = note ] && say "dropped legacy setting in registry entry \"$ns\": $rest"
  done <"$1"
  return 0
}

cri_healthy() {
  # `ctr images ls` answers even when the CRI plugin failed to load; the plugin list does not lie.
  local plugins
  plugins=$("$MSA_CTR" --address "$MSA_CONTAINERD_ADDRESS" plugins ls 2>/dev/null) || return 1
  printf '%s\n' "$plugins" | awk '$2 == "cri" && $NF == "ok" { ok = 1 } ($1 ~ /cri/ || $2 == "cri") && $NF == "error" { bad = 1 } END { exit !(ok && !bad) }'
}

restart_containerd() {
  say "restarting containerd: $MSA_RESTART"
  bash -c "$MSA_RESTART"
  # containerd reloads in well under a second; a loaded node may need longer.
  local deadline=$((SECONDS + ${MSA_HEALTH_TIMEOUT:-30}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    cri_healthy && return 0
    sleep 0.5
  done
  cri_healthy
}

install_config() { # new-config-file
  "$MSA_CONTAINERD" --config "$1" config dump >/dev/null 2>"$MSA_STATE_DIR/config-check.log" \
    || die "the rewritten config does not parse ($(tail -n 1 "$MSA_STATE_DIR/config-check.log")); $MSA_CONTAINERD_CONFIG left unchanged"
  cp -p "$MSA_CONTAINERD_CONFIG" "$MSA_STATE_DIR/config.toml.previous"
  cat "$1" >"$MSA_CONTAINERD_CONFIG"
  if ! restart_containerd; then
    cat "$MSA_STATE_DIR/config.toml.previous" >"$MSA_CONTAINERD_CONFIG"
    restart_containerd || true
    die "containerd's CRI plugin did not load with the new config; restored the previous $MSA_CONTAINERD_CONFIG"
  fi
}

apply_hosts_toml() {
  local content
  content=$(hosts_toml_for "$MSA_REGISTRY" "$MSA_REGISTRY_SCHEME://$MSA_REGISTRY" "$MSA_REGISTRY_SCHEME://$MSA_REGISTRY")
  if [ -f "$hosts_toml" ] && [ -z "$(state_get hosts_toml)" ] && ! grep -qxF "$managed_mark" "$hosts_toml"; then
    mkdir -p "$MSA_STATE_DIR" && cp -p "$hosts_toml" "$MSA_STATE_DIR/hosts.toml.orig"
    state_set hosts_toml replaced
  fi
  state_set hosts_toml created
  # No restart: containerd re-reads certs.d on every pull.
  write_if_changed "$hosts_toml" "$content" && say "wrote $hosts_toml ($MSA_REGISTRY_SCHEME)" || true
}

apply_config() {
  local version section work
  if [ ! -f "$MSA_CONTAINERD_CONFIG" ]; then
    mkdir -p "$(dirname "$MSA_CONTAINERD_CONFIG")"
    "$MSA_CONTAINERD" config default >"$MSA_CONTAINERD_CONFIG"
    state_set config created
    say "wrote containerd's default config to $MSA_CONTAINERD_CONFIG"
  fi
  version=$(config_version)
  section=$(registry_section "$version")
  work="$scratch/apply"
  mkdir -p "$work"
  : >"$work/migrations"
  rewrite_config "$section" "$work/migrations" <"$MSA_CONTAINERD_CONFIG" >"$work/config.toml" \
    || die "cannot rewrite $MSA_CONTAINERD_CONFIG safely (see above); edit its [$section] by hand"
  if cmp -s "$work/config.toml" "$MSA_CONTAINERD_CONFIG"; then
    cri_healthy || die "containerd's CRI plugin is not healthy (ctr plugins ls); fix containerd first"
    return 0
  fi
  mkdir -p "$MSA_STATE_DIR"
  [ -f "$MSA_STATE_DIR/config.toml.orig" ] || cp -p "$MSA_CONTAINERD_CONFIG" "$MSA_STATE_DIR/config.toml.orig"
  state_set config edited
  migrate_legacy "$work/migrations"
  install_config "$work/config.toml"
  sha256sum <"$MSA_CONTAINERD_CONFIG" | cut -d' ' -f1 >"$MSA_STATE_DIR/config.toml.written"
  say "set config_path = \"$MSA_CERTS_DIR\" in [$section] of $MSA_CONTAINERD_CONFIG (config version $version)"
}

hosts_line() { printf '%s %s %s' "$MSA_REGISTRY_ADDRESS" "$registry_name" "$managed_mark"; }

apply_etc_hosts() {
  [ -n "$MSA_REGISTRY_ADDRESS" ] || return 0
  local wanted current
  wanted=$(hosts_line)
  current=$(grep -F "$managed_mark" "$MSA_HOSTS_FILE" || true)
  [ "$current" = "$wanted" ] && return 0
  # Rewrite in place (cat >, not mv): /etc/hosts is often a bind mount.
  { grep -vF "$managed_mark" "$MSA_HOSTS_FILE" || true; printf '%s\n' "$wanted"; } >"$MSA_STATE_DIR/hosts.new"
  cat "$MSA_STATE_DIR/hosts.new" >"$MSA_HOSTS_FILE"
  rm -f "$MSA_STATE_DIR/hosts.new"
  state_set etc_hosts added
  say "added '$MSA_REGISTRY_ADDRESS $registry_name' to $MSA_HOSTS_FILE"
}

do_apply() {
  mkdir -p "$MSA_STATE_DIR"
  apply_etc_hosts
  apply_hosts_toml
  apply_config
  say "ok: containerd pulls $MSA_REGISTRY over $MSA_REGISTRY_SCHEME"
}

do_revert() {
  [ -f "$state" ] || { say "nothing to revert (no $state)"; return 0; }
  local written
  if grep -qF "$managed_mark" "$MSA_HOSTS_FILE" 2>/dev/null; then
    grep -vF "$managed_mark" "$MSA_HOSTS_FILE" >"$MSA_STATE_DIR/hosts.new" || true
    cat "$MSA_STATE_DIR/hosts.new" >"$MSA_HOSTS_FILE"
    say "removed the msa line from $MSA_HOSTS_FILE"
  fi
  case $(state_get hosts_toml) in
    replaced) cp -p "$MSA_STATE_DIR/hosts.toml.orig" "$hosts_toml"; say "restored the earlier $hosts_toml" ;;
    created) rm -f "$hosts_toml"; rmdir "$registry_dir" 2>/dev/null || true; say "removed $hosts_toml" ;;
  esac
  sed -n 's/^migrated_[^=]*=//p' "$state" | while read -r path; do
    rm -f "$path"; rmdir "$(dirname "$path")" 2>/dev/null || true; say "removed migrated $path"
  done
  if [ -n "$(state_get config)" ] && [ -f "$MSA_CONTAINERD_CONFIG" ]; then
    written=$(cat "$MSA_STATE_DIR/config.toml.written" 2>/dev/null || true)
    if [ -n "$written" ] && [ "$(sha256sum <"$MSA_CONTAINERD_CONFIG" | cut -d' ' -f1)" != "$written" ]; then
      say "warning: $MSA_CONTAINERD_CONFIG changed since msa wrote it; left as is (the original is $MSA_STATE_DIR/config.toml.orig)"
      return 0
    fi
    if [ "$(state_get config)" = created ]; then
      rm -f "$MSA_CONTAINERD_CONFIG"; say "removed $MSA_CONTAINERD_CONFIG (msa had created it)"
    elif [ -f "$MSA_STATE_DIR/config.toml.orig" ]; then
      cat "$MSA_STATE_DIR/config.toml.orig" >"$MSA_CONTAINERD_CONFIG"; say "restored the original $MSA_CONTAINERD_CONFIG"
    fi
    restart_containerd || die "containerd's CRI plugin is not healthy after restoring $MSA_CONTAINERD_CONFIG"
  fi
  rm -rf "$MSA_STATE_DIR"
  say "reverted"
}

do_check() {
  local expected
  expected=$(hosts_toml_for "$MSA_REGISTRY" "$MSA_REGISTRY_SCHEME://$MSA_REGISTRY" "$MSA_REGISTRY_SCHEME://$MSA_REGISTRY")
  [ "$(cat "$hosts_toml" 2>/dev/null)" = "$expected" ] || die "$hosts_toml is missing or differs"
  [ -f "$MSA_CONTAINERD_CONFIG" ] || die "$MSA_CONTAINERD_CONFIG is missing"
  rewrite_config "$(registry_section "$(config_version)")" "$scratch/m" <"$MSA_CONTAINERD_CONFIG" >"$scratch/c" || true
  cmp -s "$scratch/c" "$MSA_CONTAINERD_CONFIG" || die "$MSA_CONTAINERD_CONFIG needs apply"
  [ -z "$MSA_REGISTRY_ADDRESS" ] || grep -qxF "$(hosts_line)" "$MSA_HOSTS_FILE" || die "$MSA_HOSTS_FILE lacks $registry_name"
  cri_healthy || die "containerd's CRI plugin is not healthy"
  say "ok"
}

case $action in
  apply) do_apply ;;
  revert) do_revert ;;
  check) do_check ;;
  *) die "unknown action '$action'; use apply, revert or check" ;;
esac
