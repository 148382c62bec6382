"""Real Spring Cloud apps (tests/jvm/spring-*) on loopback, configured exactly as the stack configures its pods.

A test stack is rendered under the mock runtime with a loopback service CIDR (LOOPBACK_CIDR), so every
Service's fixed "ClusterIP" is a 127.x address of this machine and every Spring port is a free port.
Each app then runs from its executable jar with the env of its rendered Deployment, byte for byte.
Only the kubelet's and the cluster's part is emulated, each in one place below:

- `$(VAR)` expansion of env values and the downward API (`metadata.name`, `status.podIP`): `pod_env`;
- cluster DNS (`<svc>.<ns>.svc.cluster.local` -> ClusterIP): a hosts file the JVM reads instead of
  /etc/hosts (`-Djdk.net.hosts.file`), so the machine's resolver is never touched;
- the pod's address: `server.address` as a system property (the stack never sets it; in a pod the
  app binds all interfaces). Replica 0 listens on the ClusterIP itself, further replicas (and a second
  gateway line) on their own "pod address" in POD_CIDR, same port;
- the config-repo volume: the rendered ConfigMap's files in a temporary folder, and the one command-line
  argument that points the native config server at it instead of the mount path.

Apps start on first use and stay up for the whole session (`SpringSystem.app`); the `spring_system`
fixture stops every JVM at the end, whatever happened. JVMs are kept small for the 2-core machines.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest

from conftest import env_of, objects, open_kafka_then, run_stack
from integration.harness import skip_or_fail
from integration.spring_archive import launch_args
from ports import free_port

REPO = Path(__file__).resolve().parents[2]
JVM_DIR = REPO / "tests" / "jvm"
# Executable jars by the part they play (tests/jvm/<module>/target/<module>.jar).
JARS = {
    "eureka-server": "spring-eureka-server",
    "config-server": "spring-config-server",
    "client": "spring-client",
    "gateway-4.1": "spring-gateway-4.1",
    "gateway-4.3": "spring-gateway-4.3",
}
ROLE_JAR = {"discovery": "eureka-server", "config": "config-server", "gateway": "gateway-4.3", "app": "client"}

LOOPBACK_CIDR = "127.77.0.0/16"   # the test stack's service CIDR: ClusterIPs are loopback addresses
POD_CIDR = ipaddress.IPv4Network("127.78.0.0/16")   # "pod addresses" of further replicas
JVM_OPTS = ["-Xmx160m", "-Xss512k", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=48m"]
START_TIMEOUT = 150.0   # seconds from exec to a passing readiness check, several JVMs sharing 2 cores
# What a Kubernetes probe would check, per role (the stack's readiness probe path).
READY_PATH = "/actuator/health/readiness"


def jar_path(app: str) -> Path:
    module = JARS[app]
    return JVM_DIR / module / "target" / f"{module}.jar"


def require_spring_apps(*apps: str) -> None:
    """Skip when java or a jar is missing; in CI (MSA_REQUIRE_INTEGRATION=1) that is a failure."""
    missing = [] if shutil.which("java") else ["java (a JDK 17)"]
    missing += [str(jar_path(a).relative_to(REPO)) for a in (apps or JARS) if not jar_path(a).is_file()]
    if missing:
        skip_or_fail("missing for the Spring integration test: " + ", ".join(missing)
                     + " (build with: mvn -B -q -f tests/jvm/pom.xml package -DskipTests; .ci/run does)")




# --- the stack, rendered for loopback -----------------------------------------------------------

def _loopback_values(values: dict, ports: dict[str, int]) -> None:
    values["msa:cluster"] = {**values["msa:cluster"], "serviceCidr": LOOPBACK_CIDR, "nodes": []}
    for name, svc in values["msa:services"].items():
        svc.pop("clusterIP", None)   # the committed stacks pin 10.x addresses; here the band picks 127.77.0.x
        if name in ports:
            svc["port"] = ports[name]


@dataclass
class LoopbackStack:
    """A stack rendered with loopback ClusterIPs and free ports, and how to run its Spring pods here."""

    rendered: object
    cluster_ips: dict[str, str]
    ports: dict[str, int]
    namespace: str

    def deployment(self, service: str) -> dict:
        (found,) = [o for o in objects(self.rendered, "Deployment") if o["metadata"]["name"] == service]
        return found

    def settings(self, service: str) -> dict:
        """The rendered SPRING_APPLICATION_JSON of a service, parsed (before kubelet expansion)."""
        return json.loads(env_of(self.deployment(service))["SPRING_APPLICATION_JSON"])

    def config_repo(self) -> dict[str, str]:
        # Auto-named (config-repo-<hash>): found by its app.kubernetes.io/name label.
        (config_map,) = [o for o in objects(self.rendered, "ConfigMap") if o["metadata"]["labels"]["app.kubernetes.io/name"] == "config-repo"]
        return config_map["data"]

    def secret_value(self, name: str, key: str) -> str:
        """A key of a rendered Secret, as the kubelet reads it for a secretKeyRef (kafka_clients_auth.secret_data)."""
        from integration.kafka_clients_auth import secret_value

        return secret_value(self.rendered, name, key)

    def hosts_file(self) -> str:
        """Cluster DNS as a hosts file: every Service's names resolve to its ClusterIP."""
        lines = []
        for svc in objects(self.rendered, "Service"):
            ip = svc["spec"].get("clusterIP")
            if ip and ip != "None":
                name = svc["metadata"]["name"]
                ns = svc["metadata"].get("namespace", self.namespace)
                lines.append(f"{ip} {name}.{ns}.svc.cluster.local {name}.{ns}.svc {name}.{ns} {name}")
        return "\n".join(lines) + "\n"


def render_loopback_stack(stack: str = "dev", edit: Optional[Callable[[dict], None]] = None, secrets: Optional[dict] = None) -> LoopbackStack:
    """Render `stack` (after `edit`) with LOOPBACK_CIDR and a free port for every Spring service.

    Rendered twice: the first pass tells the ClusterIPs (they depend on the names only), the second
    gives each service a port that is free on its own address."""
    def first(values: dict) -> None:
        if edit:
            edit(values)
        _loopback_values(values, {})

    probe = run_stack(stack, open_kafka_then(first), secrets)
    cluster_ips = dict(probe.exports["clusterIPs"])
    values_services = {o["metadata"]["name"] for o in objects(probe, "Deployment")}
    ports = {name: free_port(cluster_ips[name]) for name in values_services}

    def second(values: dict) -> None:
        if edit:
            edit(values)
        _loopback_values(values, ports)

    rendered = run_stack(stack, open_kafka_then(second), secrets)
    assert dict(rendered.exports["clusterIPs"]) == cluster_ips, "ClusterIPs moved between the two passes"
    return LoopbackStack(rendered, cluster_ips, ports, rendered.exports["namespace"])


# --- the kubelet's part ---------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, defined: dict[str, str]) -> str:
    """Kubernetes' env expansion: `$(VAR)` of a variable defined earlier, `$$` -> `$`, else verbatim."""
    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return defined.get(m.group(1), m.group(0))
    return _REFERENCE.sub(one, value)


def pod_env(deployment: dict, pod_name: str, pod_ip: str, secret: Optional[Callable[[str, str], str]] = None) -> dict[str, str]:
    """The container's environment as the kubelet builds it (values, downward API, Secrets through
    `secret(name, key)`, expansion)."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    fields = {"metadata.name": pod_name, "status.podIP": pod_ip, "metadata.namespace": deployment["metadata"].get("namespace", "")}
    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(var["value"], env)
        elif "fieldRef" in var.get("valueFrom", {}):
            env[var["name"]] = fields[var["valueFrom"]["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in var.get("valueFrom", {}) and secret is not None:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secret(ref["name"], ref["key"])
        else:
            raise AssertionError(f"{var['name']}: env source {var.get('valueFrom')} is not emulated here")
    return env


# --- one JVM --------------------------------------------------------------------------------------

def http_get(url: str, timeout: float = 5.0, headers: Optional[dict] = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@dataclass
class SpringApp:
    service: str
    app: str                 # key of JARS
    pod_name: str
    address: str             # where it listens ("pod IP"; the ClusterIP for replica 0)
    port: int
    env: dict[str, str]
    log_path: Path
    process: Optional[subprocess.Popen] = None
    args: list[str] = field(default_factory=list)
    # System properties: below SPRING_APPLICATION_JSON and config-repo imports' own keys, so they only
    # add what neither sets (a test's diagnostics, e.g. an extra actuator endpoint).
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self, hosts_file: Path) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SPRING_", "JAVA_TOOL_OPTIONS", "EUREKA_"))}
        env = {**base, **self.env}
        env.pop("JAVA_TOOL_OPTIONS", None)   # heap flags for a container limit; small fixed heaps here
        # The app's temporary files (embedded Tomcat's tomcat.<port>.* folders) go to its own folder beside its
        # log, which the test's tmp_path cleanup removes, not to the machine's /tmp.
        scratch = self.log_path.with_suffix(".tmp")
        scratch.mkdir(exist_ok=True)
        cmd = ["java", *JVM_OPTS, f"-Djava.io.tmpdir={scratch}", f"-Djdk.net.hosts.file={hosts_file}", f"-Dserver.address={self.address}",
               *(f"-D{k}={v}" for k, v in self.properties.items()),
               "-Dspring.main.banner-mode=off", *launch_args(jar_path(self.app)), *self.args]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def get(self, path: str, timeout: float = 5.0, headers: Optional[dict] = None) -> tuple[int, str]:
        return http_get(self.url + path, timeout, headers)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"{self.pod_name} ({self.app}) exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.get(READY_PATH, timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{self.pod_name} ({self.app}) not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.5):
    """Poll until `predicate()` is truthy; return its value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


# --- the system -------------------------------------------------------------------------------------

class SpringSystem:
    """The test stack's Spring services as real JVMs, started on first use and reused by later tests."""

    def __init__(self, stack: LoopbackStack, workdir: Path):
        self.stack = stack
        self.workdir = workdir
        self.hosts = workdir / "hosts"
        self.hosts.write_text(stack.hosts_file())
        self.repo = workdir / "config-repo"
        self.repo.mkdir()
        for name, text in stack.config_repo().items():
            (self.repo / name).write_text(text)
        self.apps: dict[tuple[str, str, int], SpringApp] = {}
        self._pod_addresses = (str(POD_CIDR.network_address + i) for i in range(2, POD_CIDR.num_addresses - 1))

    def role(self, service: str) -> str:
        return self.stack.deployment(service)["metadata"]["labels"]["app.kubernetes.io/component"]

    def start(self, service: str, replica: int = 0, app: Optional[str] = None, properties: Optional[dict[str, str]] = None,
              args: tuple[str, ...] = ()) -> SpringApp:
        """Start (without waiting) replica `replica` of `service`, run from jar `app` (default: by role),
        with extra system `properties` (diagnostics only: see SpringApp.properties) and command-line
        `args` (they outrank SPRING_APPLICATION_JSON: only for an address that must differ on one machine)."""
        app = app or ROLE_JAR.get(self.role(service), "client")
        key = (service, app, replica)
        if key in self.apps and self.apps[key].running():
            return self.apps[key]
        require_spring_apps(app)
        first_of_service = not any(k[0] == service and a.running() for k, a in self.apps.items())
        address = self.stack.cluster_ips[service] if first_of_service else next(self._pod_addresses)
        pod_name = f"{service}-{app.replace('.', '')}-{replica}"
        spring_app = SpringApp(
            service=service, app=app, pod_name=pod_name, address=address, port=self.stack.ports[service],
            env=pod_env(self.stack.deployment(service), pod_name, address, self.stack.secret_value),
            log_path=self.workdir / f"{pod_name}.log", properties=dict(properties or {}),
        )
        if app == "config-server":
            # The ConfigMap volume: the same files, in a folder here instead of the pod's mount path.
            spring_app.args.append(f"--spring.cloud.config.server.native.search-locations=file:{self.repo}/")
        spring_app.args.extend(args)
        spring_app.start(self.hosts)
        self.apps[key] = spring_app
        return spring_app

    def app(self, service: str, replica: int = 0, app: Optional[str] = None, properties: Optional[dict[str, str]] = None,
            args: tuple[str, ...] = ()) -> SpringApp:
        """Replica `replica` of `service`, started if needed and ready (its readiness probe passes)."""
        spring_app = self.start(service, replica, app, properties, args)
        spring_app.wait_ready()
        return spring_app

    def stop(self, spring_app: SpringApp) -> None:
        spring_app.stop()
        self.apps = {k: a for k, a in self.apps.items() if a is not spring_app}

    def stop_service(self, service: str) -> None:
        """Stop every running instance of `service` (a test that needs it absent, or started anew)."""
        for spring_app in [a for k, a in self.apps.items() if k[0] == service]:
            self.stop(spring_app)

    def stop_all(self) -> None:
        for spring_app in list(self.apps.values()):
            spring_app.stop()
        self.apps.clear()

    # Eureka, as the gateway and any client see it.
    def eureka_apps(self) -> dict[str, list[dict]]:
        """Registered instances by upper-case app name, from the discovery server's REST API."""
        (discovery,) = [s for s in self.stack.ports if self.role(s) == "discovery"]
        status, body = http_get(f"http://{self.stack.cluster_ips[discovery]}:{self.stack.ports[discovery]}/eureka/apps",
                                headers={"Accept": "application/json"})
        assert status == 200, body
        found = json.loads(body)["applications"].get("application", [])
        return {a["name"]: a["instance"] for a in found}

    def wait_registered(self, service: str, count: int = 1, timeout: float = 90.0) -> list[dict]:
        return wait_until(
            lambda: (lambda inst: inst if len(inst) >= count else None)(
                [i for i in self.eureka_apps().get(service.upper(), []) if i["status"] == "UP"]),
            timeout, f"{count} UP instance(s) of {service} in Eureka",
        )


def spring_system_for(tmp_path_factory, stack: str = "dev", edit: Optional[Callable[[dict], None]] = None):
    """Generator behind a fixture: render `stack` (after `edit`) for loopback, yield a SpringSystem,
    always stop its JVMs. For a differently configured stack, make a module fixture with this."""
    system = SpringSystem(render_loopback_stack(stack, edit), tmp_path_factory.mktemp("spring"))
    try:
        yield system
    finally:
        system.stop_all()


@pytest.fixture(scope="session")
def spring_system(tmp_path_factory):
    """The dev stack's Spring services as real JVMs, shared by every test of the session: a test
    starts what it needs with `spring_system.app(service)`, and everything stops at the end."""
    require_spring_apps()
    yield from spring_system_for(tmp_path_factory)
