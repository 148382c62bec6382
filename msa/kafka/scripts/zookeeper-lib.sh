# Shared by the ZooKeeper members' start script and the zookeeper-shrink Job (prepended to both).

# Whether any address of a connect string (host:port,...) accepts a connection: a Service without
# ready endpoints refuses at once, while zookeeper-shell would keep retrying.
reachable() {
  local address
  for address in ${1//,/ }; do
    timeout 3 bash -c "exec 3<>/dev/tcp/${address%:*}/${address##*:}" 2>/dev/null && return 0
  done
  return 1
}

# zk_super CONNECT COMMAND...: one zookeeper-shell command in a session logged in as ZooKeeper's super
# user (the only one allowed to `reconfig`: /zookeeper/config is read-only to everyone else). The
# password comes from the mounted Secret (ZK_AUTH_DIR) and goes on stdin: never on a command line
# (`ps`), and zookeeper-shell does not echo it. Prints zookeeper-shell's output; exits as it does.
zk_super() {
  local connect=$1 password
  shift
  password=$(<"${ZK_AUTH_DIR:?}/super-password") || return 1
  printf 'addauth digest super:%s\n%s\n' "$password" "$*" | timeout 60 zookeeper-shell "$connect"
}
