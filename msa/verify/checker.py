#!/usr/bin/env python3
"""Checks the live msa system against the spec the stack rendered, and prints one line per check.

    python3 verify_checker.py --spec spec.json [--settle SECONDS] [--outside NODE] [--only eureka,gateway]

Standard library only, on purpose: the verification Job runs this very file inside the cp-kafka image
(Python 3 next to the Kafka CLI tools), and `python3 tasks.py verify STACK` runs it from a laptop.
Nothing here imports the stack's code; everything it expects comes from the JSON spec
(components/verify_spec.py renders it from the validated stack config).

Checks (README: "Verification"):
  eureka   every Eureka client is registered, UP, under its Service's address and port
  gateway  every route answers through the gateway with no 5xx, and like its target when reachable
  config   the config server serves /<name>/default with the config-repo files for <name>
  kafka    replication settings live on every broker; a topic created with them is fully
           replicated; a transaction commits and a read_committed consumer reads it back
  pods     every pod of the stack is Running on the image the stack configured (Harbor for services)

Right after `pulumi up` has seen every workload ready, clients may not have registered yet (Eureka
replicates, gateways refresh their registry every 30 s): failing checks are repeated until they pass
or `--settle` seconds have gone by. Exit status 0 when every check passed (skips allowed), 1 when
one failed, 2 on a usage error. Failing lines also go to the container's termination log, which
`pulumi up` prints when the Job fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
GROUPS = ("eureka", "gateway", "config", "kafka", "pods")
HTTP_TIMEOUT = 10.0
RETRY_INTERVAL = 5.0
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


@dataclass(frozen=True)
class Result:
    status: str
    check: str
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.status}  {self.check:<8} {self.subject:<28} {self.detail}"


def passed(check: str, subject: str, detail: str) -> Result:
    return Result(PASS, check, subject, detail)


def failed(check: str, subject: str, detail: str) -> Result:
    return Result(FAIL, check, subject, detail)


def skipped(check: str, subject: str, detail: str) -> Result:
    return Result(SKIP, check, subject, detail)


# --- HTTP ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Response:
    status: int
    body: str

    def json(self):
        return json.loads(self.body)


def http_get(url: str, accept: str = "application/json", headers: Optional[dict] = None,
             context: Optional[ssl.SSLContext] = None, timeout: float = HTTP_TIMEOUT) -> Response:
    """GET that returns 4xx/5xx answers instead of raising; connection problems raise OSError.

    Direct connections only: every address here is the stack's own (ClusterIPs, NodePorts, the API
    server), and an HTTP(S)_PROXY in the environment would send them somewhere that cannot reach them.
    """
    request = urllib.request.Request(url, headers={"Accept": accept, **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode("utf-8", "replace"))


def unreachable(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    return f"not reachable ({reason})"


def as_list(value) -> list:
    """Eureka's JSON codecs write a one-element list as a bare object; normalise."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --- eureka -------------------------------------------------------------------------------------------

def eureka_checks(spec: dict, get: Optional[Callable[..., Response]] = None) -> list[Result]:
    get = get or http_get
    discovery = spec["discovery"]
    mode = spec["registration"]
    try:
        answer = get(discovery["url"].rstrip("/") + "/eureka/apps")
    except OSError as error:
        return [failed("eureka", discovery["name"], f"{discovery['url']} {unreachable(error)}")]
    if answer.status != 200:
        return [failed("eureka", discovery["name"], f"/eureka/apps answered {answer.status}")]
    try:
        apps = {a["name"].upper(): as_list(a.get("instance")) for a in as_list(answer.json()["applications"].get("application"))}
    except (ValueError, KeyError, TypeError, AttributeError):
        return [failed("eureka", discovery["name"], "/eureka/apps is not Eureka's JSON registry (is this the discovery service?)")]
    results = []
    for client in spec["eurekaClients"]:
        results.append(_eureka_client(client, apps.get(client["name"].upper(), []), mode))
    return results


def _eureka_client(client: dict, instances: list, mode: str) -> Result:
    name, port, address = client["name"], client["port"], client.get("address")
    want = f"{address or 'a pod IP'}:{port}"
    if not instances:
        if not client.get("required", True):
            return passed("eureka", name, "not registered, and need not be (clients find it by its URL, not through Eureka)")
        return failed("eureka", name, f"not registered; expected UP at {want} (the app must run and register with the discovery service)")
    problems = []
    for inst in instances:
        host = str(inst.get("hostName", ""))
        ident = inst.get("instanceId") or host
        try:
            inst_port = int((inst.get("port") or {}).get("$"))
        except (TypeError, ValueError):
            inst_port = None
        status = inst.get("status")
        if mode == "podIP":
            where_ok = bool(IPV4.match(host)) and host == inst.get("ipAddr")
        elif mode == "clusterIP":
            where_ok = host == address and inst.get("ipAddr") == address
        else:
            where_ok = host == address
        if not where_ok:
            hint = " (a pod host name: other services cannot resolve it; the gateway answers 500)" if _looks_like_pod_name(host) else ""
            problems.append(f"instance {ident} registered as {host}:{inst_port}, expected {want} (msa:spring.registration {mode}){hint}")
        elif inst_port != port:
            problems.append(f"instance {ident} registered port {inst_port}, expected {port}")
        elif status != "UP":
            problems.append(f"instance {ident} is {status}, expected UP")
    if problems:
        return failed("eureka", name, "; ".join(problems))
    count = len(instances)
    return passed("eureka", name, f"UP at {want} ({count} instance{'s' if count != 1 else ''})")


def _looks_like_pod_name(host: str) -> bool:
    # Deployment pods are named <deployment>-<replicaset hash>-<5 chars>; no dots, not an address.
    return bool(host) and "." not in host and not IPV4.match(host)


# --- gateway ------------------------------------------------------------------------------------------

def probe_path(pattern: str) -> str:
    """A request path the route's Path predicate matches: `/user-service/**` -> `/user-service/actuator/health`.

    A Spring app's health endpoint makes a 200 that proves routing when the route strips its prefix; with
    the prefix kept, the app's own 404 proves it just as well (the gateway itself never answers 5xx for it).
    """
    parts = [p for p in pattern.split("/") if p]
    literal = []
    for part in parts:
        if part == "**":
            break
        literal.append("msa-verify" if ("*" in part or "{" in part) else part)
    return "/" + "/".join(literal + ["actuator", "health"])


def forwarded_path(path: str, strip_prefix: int) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[strip_prefix:])


def gateway_checks(spec: dict, get: Optional[Callable[..., Response]] = None) -> list[Result]:
    get = get or http_get
    gateway = spec.get("gateway")
    if not gateway:
        return [skipped("gateway", "-", "no service has role: gateway")]
    # The gateway itself first: a route's 404 proves routing only when it comes through a running gateway.
    # Liveness (the stack's probe path), not the overall health: that turns DOWN with a route's target.
    health = gateway["url"].rstrip("/") + "/actuator/health/liveness"
    try:
        answer = get(health)
        up = answer.status == 200 and answer.json().get("status") == "UP"
    except OSError as error:
        return [failed("gateway", gateway["name"], f"{gateway['url']} {unreachable(error)}")]
    except (ValueError, AttributeError):
        up = False
    if not up:
        return [failed("gateway", gateway["name"], f"/actuator/health/liveness answered {answer.status}, not a live Spring app (is this the gateway?)")]
    results = []
    for route in gateway["routes"]:
        results.append(_route(gateway, route, get))
    if not results:
        results.append(skipped("gateway", gateway["name"], "no routes configured (msa:services.<gateway>.routes)"))
    return results


def _route(gateway: dict, route: dict, get: Callable[..., Response]) -> Result:
    path, target = route["path"], route["service"]
    subject = f"{path} -> {target}"
    request = probe_path(path)
    try:
        answer = get(gateway["url"].rstrip("/") + request, accept="*/*")
    except OSError as error:
        return failed("gateway", subject, f"{gateway['name']} at {gateway['url']} {unreachable(error)}")
    if answer.status >= 500:
        return failed("gateway", subject, f"GET {request} answered {answer.status} through {gateway['name']}: {target} is down or not registered in Eureka (see its eureka line)")
    detail = f"GET {request} answered {answer.status} through {gateway['name']}"
    target_url = route.get("targetUrl")
    if target_url:
        direct_path = forwarded_path(request, route.get("stripPrefix", 0))
        try:
            direct = get(target_url.rstrip("/") + direct_path, accept="*/*")
        except OSError:
            return passed("gateway", subject, detail + f" ({target} itself not reachable from here)")
        if direct.status != answer.status:
            return failed("gateway", subject, f"GET {request} answered {answer.status} through {gateway['name']} but {target} answers {direct.status} "
                                              f"for {direct_path}: the gateway does not route it (does the gateway's own config replace the stack's routes?)")
        detail += f", as {target} answers {direct_path}"
    return passed("gateway", subject, detail)


# --- config server ------------------------------------------------------------------------------------

def config_checks(spec: dict, get: Optional[Callable[..., Response]] = None) -> list[Result]:
    get = get or http_get
    server = spec["config"]
    results = []
    for client in server["clients"]:
        name = client["name"]
        url = f"{server['url'].rstrip('/')}/{urllib.parse.quote(name)}/default"
        try:
            answer = get(url)
        except OSError as error:
            results.append(failed("config", name, f"{server['name']} at {server['url']} {unreachable(error)}"))
            continue
        if answer.status != 200:
            results.append(failed("config", name, f"/{name}/default answered {answer.status} from {server['name']}"))
            continue
        try:
            served = [str(ps.get("name", "")) for ps in answer.json().get("propertySources", [])]
        except (ValueError, AttributeError):
            results.append(failed("config", name, f"/{name}/default is not a config server environment"))
            continue
        missing = [f for f in client["sources"] if not any(_names_file(source, f) for source in served)]
        if missing:
            have = ", ".join(_file_of(s) for s in served) or "nothing"
            results.append(failed("config", name, f"/{name}/default lacks {', '.join(missing)} (serves: {have}); "
                                                  f"is it in {spec['config'].get('repo', 'the config repo')} and the config-repo ConfigMap?"))
        else:
            results.append(passed("config", name, f"/{name}/default serves {', '.join(client['sources']) or 'no files'}"))
    return results


def _names_file(source_name: str, file_name: str) -> bool:
    # Source names differ by version: "file:/config-repo/x.yml", "Config resource 'file [/config-repo/x.yml]' via ...".
    return re.search(r"(^|[/\[:\s])" + re.escape(file_name) + r"($|[\]'\s])", source_name) is not None


def _file_of(source_name: str) -> str:
    m = re.search(r"([^/\[\]:'\s]+\.(?:ya?ml|properties))", source_name)
    return m[1] if m else source_name


# --- kafka --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The most telling line of a failed tool run (the exception, not the stack trace)."""
        lines = [ln.strip() for ln in (self.stderr + "\n" + self.stdout).splitlines() if ln.strip()]
        for line in lines:
            if re.search(r"(Exception|Error)\b.*:", line) and not line.startswith("at "):
                return line[:400]
        return (lines[-1] if lines else f"exit status {self.returncode}")[:400]


def run_tool(args: list[str], timeout: float) -> Ran:
    started = time.monotonic()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        # One JVM per tool: the Job's log shows where the time goes.
        action = next((a for a in args if a in ("--create", "--describe", "--list", "--delete")), "")
        print(f"msa-verify: {args[0]} {action} exit {done.returncode} in {time.monotonic() - started:.1f} s",
              file=sys.stderr, flush=True)
        return Ran(done.returncode, done.stdout, done.stderr)
    except FileNotFoundError:
        return Ran(127, "", f"{args[0]}: command not found (the Job runs in the configured cp-kafka image)")
    except subprocess.TimeoutExpired as expired:
        return Ran(124, expired.stdout or "", f"{args[0]} did not finish within {timeout:.0f} s")


def parse_broker_configs(text: str) -> dict[int, dict[str, str]]:
    """`kafka-configs --entity-type brokers --describe --all` -> {broker id: {property: value}}."""
    brokers: dict[int, dict[str, str]] = {}
    current: Optional[dict] = None
    for line in text.splitlines():
        head = re.match(r"^All configs for broker (\d+) are:", line)
        if head:
            current = brokers.setdefault(int(head[1]), {})
            continue
        if line.startswith("Default configs for"):
            current = None
            continue
        item = re.match(r"^\s+([^=\s]+)=(.*?) sensitive=", line)
        if item and current is not None:
            current[item[1]] = item[2]
    return brokers


@dataclass(frozen=True)
class Partition:
    topic: str
    partition: int
    replicas: tuple
    isr: tuple


def parse_topic_description(text: str) -> dict[str, list[Partition]]:
    """`kafka-topics --describe` -> {topic: [partitions]}."""
    topics: dict[str, list[Partition]] = {}
    for line in text.splitlines():
        m = re.match(r"^\s+Topic: (\S+)\s+Partition: (\d+)\s+Leader: \S+\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)", line)
        if m:
            ids = lambda s: tuple(int(x) for x in s.split(",") if x)  # noqa: E731
            topics.setdefault(m[1], []).append(Partition(m[1], int(m[2]), ids(m[3]), ids(m[4])))
        elif line.startswith("Topic: "):
            topics.setdefault(line.split()[1], [])
    return topics


def _replication_problems(topic: str, partitions: list[Partition], rf: int, count: Optional[int] = None) -> list[str]:
    problems = []
    if not partitions:
        return [f"{topic} does not exist"]
    if count is not None and len(partitions) != count:
        problems.append(f"{topic} has {len(partitions)} partitions, expected {count}")
    wrong_rf = sorted({len(p.replicas) for p in partitions if len(p.replicas) != rf})
    if wrong_rf:
        problems.append(f"{topic} has replication factor {','.join(map(str, wrong_rf))}, expected {rf}")
    lagging = [p.partition for p in partitions if set(p.isr) != set(p.replicas)]
    if lagging:
        problems.append(f"{topic} partitions {','.join(map(str, lagging[:10]))} not fully replicated (ISR smaller than replicas)")
    return problems


def kafka_checks(spec: dict, run: Callable[[list[str], float], Ran] = run_tool) -> list[Result]:
    k = spec["kafka"]
    bootstrap, timeout_ms = k["bootstrap"], int(k["timeoutMs"])
    tool_timeout = timeout_ms / 1000 + 60
    results = []

    # 1. every broker is alive and runs the replication settings the stack rendered.
    described = run(["kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "brokers", "--describe", "--all"], tool_timeout)
    if described.returncode != 0:
        results.append(failed("kafka", "brokers", f"kafka-configs at {bootstrap} failed: {described.error_line()}"))
    else:
        brokers = parse_broker_configs(described.stdout)
        problems = []
        if len(brokers) != k["brokers"]:
            problems.append(f"{len(brokers)} live broker(s) {sorted(brokers)}, expected {k['brokers']} (msa:kafka.brokers)")
        for broker_id, props in sorted(brokers.items()):
            for key, want in k["brokerProperties"].items():
                if key in props and props[key] != want:
                    problems.append(f"broker {broker_id} runs {key}={props[key]}, expected {want}")
        if problems:
            results.append(failed("kafka", "brokers", "; ".join(problems)))
        else:
            results.append(passed("kafka", "brokers", f"{len(brokers)} live, replication settings as rendered "
                                                      f"(RF {k['replicationFactor']}, min ISR {k['minInsyncReplicas']})"))

    # 2. a fresh topic per run, created with the stack's settings: its RF and ISR say what the cluster does.
    run_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    topic = f"{k['topicPrefix']}-{run_id}"
    _delete_leftover_topics(k, run, tool_timeout)
    created = run(["kafka-topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic,
                   "--partitions", str(k["partitions"]), "--replication-factor", str(k["replicationFactor"]),
                   "--config", f"min.insync.replicas={k['minInsyncReplicas']}"], tool_timeout)
    if created.returncode != 0:
        results.append(failed("kafka", "topic", f"creating {topic} with RF {k['replicationFactor']} failed: {created.error_line()}"))
        return results
    try:
        # 3. a transaction commits, and a read_committed consumer reads exactly what it committed.
        results.append(_transaction(k, topic, run_id, run, tool_timeout))
        # 4. the topic and the internal topics the transaction and the consumer group used are fully replicated.
        internal = ["__transaction_state", "__consumer_offsets"]
        shown = run(["kafka-topics", "--bootstrap-server", bootstrap, "--describe", "--topic", "|".join([re.escape(topic), *internal])], tool_timeout)
        if shown.returncode != 0:
            results.append(failed("kafka", "topic", f"describing {topic} failed: {shown.error_line()}"))
            return results
        topics = parse_topic_description(shown.stdout)
        problems = _replication_problems(topic, topics.get(topic, []), k["replicationFactor"], k["partitions"])
        results.append(failed("kafka", "topic", "; ".join(problems)) if problems else
                       passed("kafka", "topic", f"{topic}: {k['partitions']} partition(s), RF {k['replicationFactor']}, every partition fully replicated"))
        problems = []
        for name in internal:
            problems += _replication_problems(name, topics.get(name, []), k["internalReplicationFactor"][name])
        results.append(failed("kafka", "internal topics", "; ".join(problems)) if problems else
                       passed("kafka", "internal topics", "__transaction_state, __consumer_offsets: RF "
                              f"{k['internalReplicationFactor']['__transaction_state']}/{k['internalReplicationFactor']['__consumer_offsets']}, fully replicated"))
    finally:
        run(["kafka-topics", "--bootstrap-server", bootstrap, "--delete", "--topic", re.escape(topic)], tool_timeout)
    return results


def _delete_leftover_topics(k: dict, run, tool_timeout: float) -> None:
    """Topics of runs that died before cleaning up (deletion is asynchronous; nothing waits for it)."""
    listed = run(["kafka-topics", "--bootstrap-server", k["bootstrap"], "--list"], tool_timeout)
    leftovers = [t for t in listed.stdout.split() if t.startswith(k["topicPrefix"] + "-")]
    if leftovers:
        run(["kafka-topics", "--bootstrap-server", k["bootstrap"], "--delete", "--topic", "|".join(map(re.escape, leftovers))], tool_timeout)


def _transaction(k: dict, topic: str, run_id: str, run, tool_timeout: float) -> Result:
    records, marker = int(k["records"]), f"msa-verify {run_id}"
    with tempfile.TemporaryDirectory(prefix="msa-verify-") as tmp:
        payload = os.path.join(tmp, "payload.txt")
        with open(payload, "w") as f:
            f.write(marker)
        produced = run(["kafka-producer-perf-test", "--topic", topic, "--num-records", str(records), "--throughput", "-1",
                        "--payload-file", payload, "--transactional-id", k["transactionalId"],
                        # One transaction for all records: it commits when the last record is sent.
                        "--transaction-duration-ms", str(10 * int(k["timeoutMs"])),
                        "--producer-props", f"bootstrap.servers={k['bootstrap']}", "acks=all",
                        f"max.block.ms={k['timeoutMs']}", f"delivery.timeout.ms={k['timeoutMs']}",
                        f"request.timeout.ms={min(30000, int(k['timeoutMs']))}"], tool_timeout)
    if produced.returncode != 0:
        hint = ""
        if "InitProducerId" in produced.stdout + produced.stderr or "Timeout" in produced.error_line():
            hint = (" (the transaction coordinator has no __transaction_state: transaction.state.log.replication.factor"
                    " above the live brokers? see the kafka brokers line)")
        return failed("kafka", "transaction", f"transactional producer {k['transactionalId']} failed: {produced.error_line()}{hint}")
    consumed = run(["kafka-console-consumer", "--bootstrap-server", k["bootstrap"], "--topic", topic, "--from-beginning",
                    "--isolation-level", "read_committed", "--group", f"{k['topicPrefix']}-{run_id}",
                    "--max-messages", str(records), "--timeout-ms", str(k["timeoutMs"])], tool_timeout)
    read = sum(1 for line in consumed.stdout.splitlines() if line.strip() == marker)
    if read != records:
        why = "" if consumed.returncode == 0 else f": {consumed.error_line()}"
        return failed("kafka", "transaction", f"committed {records} records to {topic}, a read_committed consumer read {read}{why}")
    return passed("kafka", "transaction", f"committed {records} records in one transaction; read_committed consumer read all {records}")


# --- pods (Kubernetes API) ----------------------------------------------------------------------------

class KubeApi:
    """The in-cluster API with the pod's ServiceAccount token, or a given URL (tests)."""

    def __init__(self, base: str, token: Optional[str], context: Optional[ssl.SSLContext]):
        self.base, self.token, self.context = base.rstrip("/"), token, context

    @classmethod
    def in_cluster(cls, base: Optional[str] = None, account_dir: str = SERVICE_ACCOUNT) -> Optional["KubeApi"]:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if base is None and not host:
            return None
        base = base or f"https://{host}:{port}"
        token_file, ca_file = os.path.join(account_dir, "token"), os.path.join(account_dir, "ca.crt")
        token = open(token_file).read().strip() if os.path.exists(token_file) else None
        context = ssl.create_default_context(cafile=ca_file if os.path.exists(ca_file) else None) if base.startswith("https") else None
        return cls(base, token, context)

    def get(self, path: str) -> Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return http_get(self.base + path, headers=headers, context=self.context)


def pod_checks(spec: dict, kube: Optional[KubeApi]) -> list[Result]:
    pods_spec = spec["pods"]
    if kube is None:
        return [skipped("pods", "-", "no Kubernetes API here (the verify Job reads it with its ServiceAccount); "
                                     f"run: kubectl -n {spec['namespace']} get pods -o wide")]
    selector = urllib.parse.quote(pods_spec["selector"])
    try:
        answer = kube.get(f"/api/v1/namespaces/{spec['namespace']}/pods?labelSelector={selector}")
    except OSError as error:
        return [failed("pods", "-", f"Kubernetes API {unreachable(error)}")]
    if answer.status != 200:
        return [failed("pods", "-", f"listing pods answered {answer.status} (the verify ServiceAccount needs get/list on pods)")]
    by_workload: dict[str, list] = {}
    for pod in answer.json().get("items", []):
        meta = pod.get("metadata", {})
        if meta.get("deletionTimestamp") or pod.get("status", {}).get("phase") == "Succeeded":
            continue    # terminating in a rollout, or a finished Job pod
        by_workload.setdefault(meta.get("labels", {}).get("app.kubernetes.io/name", ""), []).append(pod)
    return [_workload_pods(w, by_workload.get(w["name"], []), pods_spec["harbor"]) for w in pods_spec["workloads"]]


def _workload_pods(workload: dict, pods: list, harbor: str) -> Result:
    name, replicas = workload["name"], workload["replicas"]
    problems, running = [], 0
    for pod in pods:
        pod_name = pod["metadata"].get("name", "?")
        images = [c.get("image", "") for c in pod.get("spec", {}).get("containers", [])]
        for image in images:
            if not _image_matches(image, workload):
                where = f"{workload['repository']} in Harbor ({harbor})" if "repository" in workload else workload["image"]
                problems.append(f"{pod_name} runs {image}, expected {where}")
        status = pod.get("status", {})
        not_running = [_container_state(cs) for cs in status.get("containerStatuses", []) if "running" not in (cs.get("state") or {})]
        if status.get("phase") != "Running" or not_running or not status.get("containerStatuses"):
            problems.append(f"{pod_name} is {status.get('phase', 'Unknown')}" + (f": {'; '.join(not_running)}" if not_running else ""))
        else:
            running += 1
    if running < replicas:
        problems.insert(0, f"{running} of {replicas} pod(s) Running")
    if problems:
        return failed("pods", name, "; ".join(problems))
    shown = f"{workload['repository']}" if "repository" in workload else workload["image"]
    return passed("pods", name, f"{running}/{replicas} Running on {shown}")


def _image_matches(image: str, workload: dict) -> bool:
    if "repository" in workload:      # built or pushed to Harbor: deployed by digest or tag
        repo = workload["repository"]
        return image.startswith(repo + "@") or image.startswith(repo + ":")
    return image == workload["image"]


def _container_state(status: dict) -> str:
    state = status.get("state") or {}
    for kind in ("waiting", "terminated"):
        if kind in state:
            info = state[kind]
            return f"{status.get('name')} {info.get('reason', kind)}" + (f" ({info['message'][:300]})" if info.get("message") else "")
    return f"{status.get('name')} not running"


# --- seen from outside the cluster ------------------------------------------------------------------

def from_outside(spec: dict, node: str) -> tuple[dict, dict[str, str]]:
    """The spec as a laptop sees it: NodePort URLs on `node`, and why the other checks cannot run."""
    spec = json.loads(json.dumps(spec))
    skips: dict[str, str] = {
        "kafka": "brokers listen and advertise only inside the cluster (kafka-N.kafka-headless...); the verify Job runs this check",
        "pods": "needs the Kubernetes API with the verify Job's ServiceAccount; the verify Job runs this check",
    }

    def outside(entry: dict, url_key: str, port_key: str) -> bool:
        port = entry.get(port_key)
        if port:
            entry[url_key] = f"http://{node}:{port}"
        else:
            entry.pop(url_key, None)
        return bool(port)

    if not outside(spec["discovery"], "url", "nodePort"):
        skips["eureka"] = f"{spec['discovery']['name']} has no nodePort (msa:services.{spec['discovery']['name']}.nodePort)"
    if not outside(spec["config"], "url", "nodePort"):
        skips["config"] = f"{spec['config']['name']} has no nodePort (msa:services.{spec['config']['name']}.nodePort)"
    gateway = spec.get("gateway")
    if gateway:
        if not outside(gateway, "url", "nodePort"):
            skips["gateway"] = f"{gateway['name']} has no nodePort (msa:services.{gateway['name']}.nodePort)"
        for route in gateway["routes"]:
            outside(route, "targetUrl", "targetNodePort")
    return spec, skips


# --- running it -------------------------------------------------------------------------------------

def run_group(group: str, spec: dict, kube: Optional[KubeApi]) -> list[Result]:
    try:
        if group == "eureka":
            return eureka_checks(spec)
        if group == "gateway":
            return gateway_checks(spec)
        if group == "config":
            return config_checks(spec)
        if group == "kafka":
            return kafka_checks(spec)
        return pod_checks(spec, kube)
    except Exception as error:  # a checker bug must still give a line, not a traceback without context
        return [failed(group, "-", f"check crashed: {type(error).__name__}: {error}")]


def verify(spec: dict, groups: list[str], skips: dict[str, str], settle: float, kube: Optional[KubeApi],
           log=None, runner: Callable[[str, dict, Optional[KubeApi]], list[Result]] = run_group,
           sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> list[Result]:
    """Every group once, then the failing groups again until they pass or `settle` seconds have passed."""
    log = log or sys.stderr
    deadline = clock() + settle
    results: dict[str, list[Result]] = {}
    pending = []
    for group in groups:
        if group in skips:
            results[group] = [skipped(group, "-", skips[group])]
        else:
            pending.append(group)
    while pending:
        for group in pending:
            results[group] = runner(group, spec, kube)
        pending = [g for g in pending if any(r.status == FAIL for r in results[g])]
        if not pending or clock() + RETRY_INTERVAL > deadline:
            break
        print(f"msa-verify: {', '.join(pending)} not passing yet; retrying for up to {deadline - clock():.0f} s", file=log, flush=True)
        sleep(RETRY_INTERVAL)
    return [r for g in groups for r in results.get(g, [])]


def report(results: list[Result], header: str, out=None) -> str:
    out = out or sys.stdout
    failures = [r for r in results if r.status == FAIL]
    print(header, file=out)
    for r in results:
        print(r.line(), file=out)
    counted = f"{len(results)} checks, {len(failures)} failed, {sum(r.status == SKIP for r in results)} skipped"
    print(("verification FAILED: " if failures else "verification passed: ") + counted, file=out, flush=True)
    return "\n".join(r.line() for r in failures)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a running msa system against its rendered spec.")
    parser.add_argument("--spec", required=True, help="the JSON spec the stack rendered")
    parser.add_argument("--settle", type=float, help="seconds to keep repeating failing checks (default: the spec's)")
    parser.add_argument("--outside", metavar="NODE", help="run from outside the cluster, against NodePorts on NODE")
    parser.add_argument("--only", help=f"comma-separated subset of: {','.join(GROUPS)}")
    parser.add_argument("--kube-api", help="Kubernetes API base URL (default: the in-cluster one)")
    parser.add_argument("--termination-log", default="/dev/termination-log", help="where failing lines go for `pulumi up` (if it exists)")
    args = parser.parse_args(argv)
    try:
        with open(args.spec) as f:
            spec = json.load(f)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the spec {args.spec}: {error}", file=sys.stderr)
        return 2
    groups = list(GROUPS)
    if args.only:
        groups = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            print(f"error: unknown check(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}", file=sys.stderr)
            return 2
    skips: dict[str, str] = {}
    kube = None
    if args.outside:
        spec, skips = from_outside(spec, args.outside)
        if args.kube_api:
            kube = KubeApi.in_cluster(args.kube_api)
            skips.pop("pods", None)
    else:
        kube = KubeApi.in_cluster(args.kube_api)
    settle = spec.get("settleSeconds", 0) if args.settle is None else args.settle
    where = f"from outside via {args.outside}" if args.outside else "in the cluster"
    inputs = os.environ.get("MSA_VERIFY_INPUTS", spec.get("inputs", ""))
    header = f"msa verification of namespace {spec['namespace']} {where}" + (f" (inputs {inputs[:19]})" if inputs else "")
    results = verify(spec, groups, skips, settle, kube)
    failing = report(results, header)
    if failing and os.path.exists(args.termination_log):
        try:
            with open(args.termination_log, "w") as f:
                f.write(failing[:4000] + "\n")
        except OSError:
            pass
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
