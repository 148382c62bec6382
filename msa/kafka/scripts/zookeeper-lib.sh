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
