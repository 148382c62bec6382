# Readiness of a broker without a JVM (python3 of the cp-kafka image, run by the kubelet every few
# seconds): one Metadata request (v0, Kafka's binary protocol) to the broker itself. Ready when
#  - the broker lists itself among the live brokers (registered, and the controller told it so), and
#  - it is in the ISR of every partition it holds a replica of (caught up: restarting the next pod
#    of a roll cannot take a partition below its in-sync replicas).
# The broker id is the pod ordinal (the start command's rule). Standard library only, python3 >= 3.6.
import os
import socket
import struct
import sys


def metadata(host, port, timeout=4.0):
    client = b"msa-ready"
    body = struct.pack(">hhih", 3, 0, 1, len(client)) + client + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _read(s, 4))[0]
        return _read(s, size)


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


def main():
    broker = int(os.environ.get("BROKER_ID") or (os.environ.get("HOSTNAME") or socket.gethostname()).rsplit("-", 1)[1])
    port = int(os.environ.get("KAFKA_READY_PORT", "9092"))
    try:
        brokers, partitions = parse(metadata("127.0.0.1", port))
    except (OSError, struct.error) as error:
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
