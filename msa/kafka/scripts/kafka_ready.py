# Readiness of a broker without a JVM (python3 of the cp-kafka image, run by the kubelet every few
# seconds): one Metadata request (v0, Kafka's binary protocol) to the broker itself. Ready when
#  - the broker lists itself among the live brokers (registered, and the controller told it so), and
#  - it is in the ISR of every partition it holds a replica of (caught up: restarting the next pod
#    of a roll cannot take a partition below its in-sync replicas).
# The broker id is the pod ordinal (the start command's rule). Standard library only, python3 >= 3.6.
# KRaft: a pod that is a controller (a dedicated one: MSA_READY_ROLES=controller, node id
# MSA_NODE_ID_BASE + ordinal; a combined one: ordinal < MSA_CONTROLLERS) is ready only when it is
# a voter of the quorum that has a leader and has caught up with the leader's log (DescribeQuorum,
# asked of each voter in KAFKA_CONTROLLER_QUORUM_VOTERS: only the leader answers it).
# Arguments: [PORT [CLIENT_PROPERTIES]] (default 9092, or KAFKA_READY_PORT). With a client.properties
# (a listener that authenticates) the probe logs in first with SCRAM-SHA-512 as its user (RFC 5802, over
# Kafka's SaslHandshake v1 + SaslAuthenticate v0). When that client.properties says SASL_SSL (msa:kafka.tls)
# the probe speaks TLS first, trusting only the CA file it names (ssl.truststore.location) and checking the
# broker's certificate against the name the broker advertises on that port (KAFKA_ADVERTISED_LISTENERS).
# A controller listener that authenticates (KRaft with
# msa:kafka.authentication: sasl) gets a SASL/PLAIN login as the user of the pod's own JAAS line
# (KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG) before DescribeQuorum.
import base64
import hashlib
import hmac
import os
import re
import socket
import ssl
import struct
import sys

CLIENT = b"msa-ready"


class LoginRefused(Exception):
    pass


def request(s, api_key, version, correlation, payload):
    """One request (header v1) and its response body after the correlation id."""
    body = struct.pack(">hhih", api_key, version, correlation, len(CLIENT)) + CLIENT + payload
    s.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", _read(s, 4))[0]
    return _read(s, size)[4:]


def credentials(path):
    """(user, password) from a client.properties' sasl.jaas.config line."""
    with open(path) as f:
        text = f.read()
    user = re.search(r'username="([^"]*)"', text)
    password = re.search(r'password="([^"]*)"', text)
    if not user or not password:
        raise ValueError("no username/password in the sasl.jaas.config of %s" % path)
    return user.group(1), password.group(1)


def tls_context(path):
    """An ssl context trusting the client.properties' CA file when it says SASL_SSL, else None."""
    with open(path) as f:
        props = dict(line.strip().split("=", 1) for line in f if "=" in line and not line.lstrip().startswith("#"))
    if props.get("security.protocol") != "SASL_SSL":
        return None
    return ssl.create_default_context(cafile=props["ssl.truststore.location"])


def advertised_host(port, default="127.0.0.1"):
    """The host name this broker advertises for `port` (what its certificate names), else `default`."""
    for listener in os.environ.get("KAFKA_ADVERTISED_LISTENERS", "").split(","):
        match = re.match(r"^[^:]+://(.+):(\d+)$", listener.strip())
        if match and int(match.group(2)) == port:
            return match.group(1)
    return default


def _hmac(key, text):
    return hmac.new(key, text, hashlib.sha512).digest()


def scram_login(s, user, password):
    """SCRAM-SHA-512; raises LoginRefused with Kafka's message when the broker refuses the login."""
    mechanism = b"SCRAM-SHA-512"
    answer = request(s, 17, 1, 1, struct.pack(">h", len(mechanism)) + mechanism)
    if struct.unpack_from(">h", answer)[0] != 0:
        raise LoginRefused("the listener does not offer SCRAM-SHA-512")
    nonce = base64.b64encode(os.urandom(24)).decode()
    name = user.replace("=", "=3D").replace(",", "=2C")
    first_bare = "n=%s,r=%s" % (name, nonce)
    server_first = _authenticate(s, 2, ("n,," + first_bare).encode()).decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise LoginRefused("the broker answered with another nonce")
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = _hmac(salted, b"Client Key")
    without_proof = "c=biws,r=" + fields["r"]
    auth_message = ",".join((first_bare, server_first, without_proof)).encode()
    signature = _hmac(hashlib.sha512(client_key).digest(), auth_message)
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_final = _authenticate(s, 3, (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()).decode()
    if server_final != "v=" + base64.b64encode(_hmac(_hmac(salted, b"Server Key"), auth_message)).decode():
        raise LoginRefused("the broker's SCRAM signature does not match")


def plain_login(s, user, password):
    """SASL/PLAIN (RFC 4616); raises LoginRefused with Kafka's message when the controller refuses it."""
    answer = request(s, 17, 1, 1, struct.pack(">h", 5) + b"PLAIN")
    if struct.unpack_from(">h", answer)[0] != 0:
        raise LoginRefused("the controller listener does not offer PLAIN")
    _authenticate(s, 2, b"\0" + user.encode() + b"\0" + password.encode())


CONTROLLER_JAAS_ENV = "KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG"


def controller_login():
    """(user, password) of this pod's controller login, or None when the controller listener is open."""
    jaas = os.environ.get(CONTROLLER_JAAS_ENV)
    if not jaas:
        return None
    user, password = re.search(r'username="([^"]*)"', jaas), re.search(r'\spassword="([^"]*)"', jaas)
    if not user or not password:
        raise ValueError("no username/password in %s" % CONTROLLER_JAAS_ENV)
    return user.group(1), password.group(1)


def _authenticate(s, correlation, token):
    answer = request(s, 36, 0, correlation, struct.pack(">i", len(token)) + token)
    error, size = struct.unpack_from(">hh", answer)
    pos = 4 + max(size, 0)
    if error != 0:
        raise LoginRefused(answer[4:pos].decode(errors="replace") or "login refused (error %d)" % error)
    length = struct.unpack_from(">i", answer, pos)[0]
    return answer[pos + 4:pos + 4 + length]


def metadata(host, port, timeout=4.0, login=None, tls=None):
    with socket.create_connection((host, port), timeout=timeout) as raw:
        s = tls.wrap_socket(raw, server_hostname=advertised_host(port, host)) if tls else raw
        s.settimeout(timeout)
        if login:
            scram_login(s, *login)
        return struct.pack(">i", 0) + request(s, 3, 0, 9, struct.pack(">i", 0))


def _read(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def parse(data):
    """(live broker ids, [(topic, partition, replicas, isr)]) from a Metadata v0 response."""
    pos = [4]  # after the correlation id

    def take(fmt):
        value = struct.unpack_from(fmt, data, pos[0])
        pos[0] += struct.calcsize(fmt)
        return value[0]

    def string():
        n = take(">h")
        text = data[pos[0]:pos[0] + max(n, 0)].decode()
        pos[0] += max(n, 0)
        return text

    brokers = []
    for _ in range(take(">i")):
        brokers.append(take(">i"))
        string()
        take(">i")
    partitions = []
    for _ in range(take(">i")):
        take(">h")
        topic = string()
        for _ in range(take(">i")):
            take(">h")
            number = take(">i")
            take(">i")
            replicas = [take(">i") for _ in range(take(">i"))]
            isr = [take(">i") for _ in range(take(">i"))]
            partitions.append((topic, number, replicas, isr))
    return brokers, partitions


# A voter this many records behind the leader is still catching up (the leader appends a no-op every 500 ms).
MAX_QUORUM_LAG = 1000


def _uvarint(value):
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def describe_quorum(host, port, timeout=4.0, login=None):
    """(error, leader id, high watermark, {voter id: log end offset}) from DescribeQuorum v0 (flexible);
    `login`: (user, password) for the controller listener's SASL/PLAIN."""
    client, topic = b"msa-ready", b"__cluster_metadata"
    body = (struct.pack(">hhih", 55, 0, 1, len(client)) + client + b"\0"           # header v2, no tagged fields
            + _uvarint(2) + _uvarint(len(topic) + 1) + topic + _uvarint(2) + struct.pack(">i", 0) + b"\0\0\0")
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        if login:
            plain_login(s, *login)
        s.sendall(struct.pack(">i", len(body)) + body)
        data = _read(s, struct.unpack(">i", _read(s, 4))[0])
    pos = [4]

    def take(fmt):
        value = struct.unpack_from(fmt, data, pos[0])[0]
        pos[0] += struct.calcsize(fmt)
        return value

    def uvarint():
        shift = value = 0
        while True:
            byte = data[pos[0]]
            pos[0] += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def skip_tags():
        for _ in range(uvarint()):
            uvarint()
            size = uvarint()
            pos[0] += size

    skip_tags()                                   # response header v1
    error = take(">h")
    if error or uvarint() < 2:
        return error or -1, -1, -1, {}
    name_length = uvarint() - 1                   # (read first: `pos[0] += uvarint()` would add to the old pos)
    pos[0] += name_length
    uvarint()                                     # one partition
    take(">i")
    error, leader = take(">h"), take(">i")
    take(">i")
    high_watermark = take(">q")
    voters = {}
    for _ in range(uvarint() - 1):
        voter = take(">i")
        voters[voter] = take(">q")
        skip_tags()
    return error, leader, high_watermark, voters


def own_controller_port():
    """The controller listener's port from this pod's listeners (combined pods add theirs at start)."""
    for listener in (os.environ.get("KAFKA_LISTENERS", "") + "," + os.environ.get("MSA_CONTROLLER_LISTENER", "")).split(","):
        if listener.startswith("CONTROLLER://"):
            return int(listener.rsplit(":", 1)[1])
    return 9093


def quorum_problem(node):
    """Why this controller is not a caught-up voter of a quorum with a leader, or None."""
    try:
        socket.create_connection(("127.0.0.1", own_controller_port()), timeout=2).close()
    except OSError as problem:
        return "node %d: its controller listener does not answer (%s)" % (node, problem)
    answers = []
    try:
        login = controller_login()
    except ValueError as problem:
        return str(problem)
    for voter in os.environ.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","):
        host, port = voter.split("@", 1)[1].rsplit(":", 1)
        try:
            error, leader, high_watermark, voters = describe_quorum(host, int(port), login=login)
        except LoginRefused as problem:
            return "voter %s refused the controller login as %s: %s" % (voter, login[0], problem)
        except (OSError, struct.error, IndexError) as problem:
            answers.append("%s: %s" % (voter, problem))
            continue
        if error == 0:
            if node not in voters:
                return "node %d is not a voter of the quorum (voters: %s)" % (node, sorted(voters))
            if high_watermark - voters[node] > MAX_QUORUM_LAG:
                return "node %d is %d records behind the quorum leader %d" % (node, high_watermark - voters[node], leader)
            return None
        answers.append("%s: error %d" % (voter, error))
    return "no quorum leader answered (%s)" % "; ".join(answers)


def main():
    ordinal = int(os.environ.get("BROKER_ID") or (os.environ.get("HOSTNAME") or socket.gethostname()).rsplit("-", 1)[1])
    node = ordinal + int(os.environ.get("MSA_NODE_ID_BASE", "0"))
    roles = os.environ.get("MSA_READY_ROLES") or ("broker,controller" if ordinal < int(os.environ.get("MSA_CONTROLLERS", "0")) else "broker")
    if "controller" in roles:
        problem = quorum_problem(node)
        if problem:
            print(problem)
            return 1
    if "broker" not in roles:
        return 0
    return broker_ready(ordinal)


def broker_ready(broker):
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KAFKA_READY_PORT", "9092"))
    login = None
    try:
        login = credentials(sys.argv[2]) if len(sys.argv) > 2 else None
        tls = tls_context(sys.argv[2]) if len(sys.argv) > 2 else None
        brokers, partitions = parse(metadata("127.0.0.1", port, login=login, tls=tls))
    except LoginRefused as error:
        print("Kafka refused the probe's login as %s: %s" % (login[0], error))
        return 1
    except (OSError, ValueError, KeyError, struct.error) as error:
        print("no metadata answer: %s" % error)
        return 1
    if broker not in brokers:
        print("broker %d is not registered (live: %s)" % (broker, brokers))
        return 1
    behind = ["%s-%d" % (t, p) for t, p, replicas, isr in partitions if broker in replicas and broker not in isr]
    if behind:
        print("broker %d is not in sync for %d partition(s), e.g. %s" % (broker, len(behind), ", ".join(behind[:3])))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
