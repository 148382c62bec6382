"""The one-up move of a running open cluster to SCRAM (msa/kafka/auth_roll.py) with real servers: real
brokers and ZooKeeper (kafka_auth.py), a real kube-apiserver (tests/engine/cluster.py, etcd + API
server only), and the rendered kafka-auth-* Jobs' script run as written against it with a token of the
rendered ServiceAccount (so the rendered Role is what allows it).

What a kubelet and the StatefulSet controller would do is played by `Kubelet`, a thread: when pod
kafka-N is deleted it recreates the pod object, restarts local broker N from the current StatefulSet spec
(`spec`: the rendered env) and the phase the ConfigMap names at that moment (as the mounted file at pod
start: broker_auth.phase_env), and marks the pod Ready once the rendered readiness probe passes.
`rolling_update(spec)` is the StatefulSet's own update: delete pods highest ordinal first, each Ready first.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from conftest import by_name
from engine.cluster import ControlPlane
from integration.kafka_auth import BROKER_USER, AuthKafkaCluster, is_phased, resolved_pod_env
from integration.kafka_clients_auth import user_secret, write_client_config
from integration.harness import wait_until
from integration.jvm_tools import ToolBox
from integration.rendered import job_command
from msa.kafka.auth_roll import NAME as ACCOUNT
from msa.kafka.broker_auth import PHASE_CONFIGMAP
from msa.kafka.jobs import kafka_ready_command

NAMESPACE = "msa"
ENGINE_ENV = Path(__file__).resolve().parents[1] / "engine" / "build-engine.sh"


def engine_path() -> str:
    """PATH with the cached etcd/kube-apiserver/kubectl (build-engine.sh --env), or "" when not built."""
    out = subprocess.run(["bash", "-c", f'eval "$(bash {ENGINE_ENV} --env)" && printf %s "$PATH"'], capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else ""


class KubeApi:
    """etcd + kube-apiserver; requests as admin; a folder laid out as a pod's ServiceAccount mount."""

    def __init__(self, root: Path):
        self.plane = ControlPlane(root, contexts=("local",))

    def start(self) -> "KubeApi":
        self.plane.start_api()
        self.plane.kubectl("create", "namespace", NAMESPACE)
        # No controller-manager: the ServiceAccount admission needs the namespace's default one.
        self.plane.kubectl("create", "serviceaccount", "default", "-n", NAMESPACE)
        return self

    def stop(self) -> None:
        self.plane.stop()

    def request(self, method: str, path: str, body=None, content_type: str = "application/json") -> Optional[dict]:
        context = ssl.create_default_context(cafile=str(self.plane.root / "apiserver.crt"))
        request = urllib.request.Request(self.plane.server + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {self.plane.token}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise AssertionError(f"{method} {path}: {error.code} {error.read()[:300]!r}") from None

    def pod(self, name: str) -> Optional[dict]:
        return self.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")

    def phase(self) -> str:
        return (self.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{PHASE_CONFIGMAP}") or {}).get("data", {}).get("phase", "")

    def create_pod(self, name: str) -> dict:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"containers": [{"name": "kafka", "image": "cp-kafka"}]}}
        return self.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body)

    def mark_ready(self, name: str) -> None:
        status = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
        self.request("PATCH", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/status", status, "application/merge-patch+json")

    def apply_rendered(self, rendered) -> None:
        """The rendered ServiceAccount, Role, RoleBinding and phase ConfigMap of the Jobs."""
        objects = [by_name(rendered, kind, name) for kind, name in
                   (("ServiceAccount", ACCOUNT), ("Role", ACCOUNT), ("RoleBinding", ACCOUNT), ("ConfigMap", PHASE_CONFIGMAP))]
        self.plane.apply("\n---\n".join(json.dumps(o) for o in objects))

    def service_account_dir(self, folder: Path) -> Path:
        """token + ca.crt as the kubelet mounts them for the Jobs' ServiceAccount."""
        folder.mkdir(parents=True, exist_ok=True)
        token = self.plane.kubectl("create", "token", ACCOUNT, "-n", NAMESPACE, "--duration=2h").stdout.strip()
        (folder / "token").write_text(token)
        (folder / "ca.crt").write_bytes((self.plane.root / "apiserver.crt").read_bytes())
        return folder


class PhasedKafkaCluster(AuthKafkaCluster):
    """Brokers whose env is a StatefulSet spec plus, with authentication, the phase they started in."""

    scram_probe: bool = False

    def restart_broker(self, broker_id: int, pod_env: dict[str, str]) -> None:
        from integration.cp_properties import kafka_properties_from_env, write_properties

        self.pod_env = dict(pod_env)
        broker = self.brokers[broker_id]
        broker.server.stop()
        env = self.broker_env(broker_id, broker.port, broker.root)
        broker.props = kafka_properties_from_env(env)
        broker.server.env = self.server_env(env)
        write_properties(broker.root / "server.properties", broker.props)
        broker.server.start()

    def ready(self, broker_id: int) -> bool:
        if not self.scram_probe:
            return super().ready(broker_id)
        command = kafka_ready_command(self.scram_ports[broker_id], str(self.probe_config))
        env = {**os.environ, "HOSTNAME": f"kafka-{broker_id}"}
        return subprocess.run(command, env=env, capture_output=True, timeout=15).returncode == 0


class Kubelet(threading.Thread):
    """Plays kubelet and StatefulSet controller for the broker pods (see the module docstring)."""

    def __init__(self, api: KubeApi, cluster: PhasedKafkaCluster, spec):
        super().__init__(daemon=True)
        self.api, self.cluster, self.spec = api, cluster, spec
        self.uids = {b: api.create_pod(f"kafka-{b}")["metadata"]["uid"] for b in cluster.brokers}
        for broker_id in cluster.brokers:
            api.mark_ready(f"kafka-{broker_id}")
        self.restarts: list[tuple[int, str]] = []       # (broker, phase it started in)
        self.failure: Optional[BaseException] = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                for broker_id in sorted(self.cluster.brokers):
                    pod = self.api.pod(f"kafka-{broker_id}")
                    if pod is None or pod["metadata"]["uid"] != self.uids[broker_id]:
                        self.restart(broker_id)
                time.sleep(0.3)
        except BaseException as failure:      # reported by check()
            self.failure = failure

    def restart(self, broker_id: int) -> None:
        name = f"kafka-{broker_id}"
        pod = self.api.pod(name) or self.api.create_pod(name)
        self.uids[broker_id] = pod["metadata"]["uid"]
        phase = self.api.phase()           # the mounted ConfigMap, read once at pod start
        self.cluster.scram_probe = is_phased(resolved_pod_env(self.spec))
        if self.cluster.scram_probe and self.cluster.probe_config is None:   # the broker user's Secret, mounted
            self.cluster.probe_config = write_client_config(self.cluster.root / "probe", user_secret(self.spec, BROKER_USER))
        self.cluster.restart_broker(broker_id, resolved_pod_env(self.spec, phase=phase))
        self.restarts.append((broker_id, phase if self.cluster.scram_probe else "open"))
        self.cluster.wait_ready(broker_id)
        self.api.mark_ready(name)

    def rolling_update(self, spec) -> None:
        """The StatefulSet controller's update to `spec`: one pod at a time, highest ordinal first, each Ready."""
        self.spec = spec
        for broker_id in sorted(self.cluster.brokers, reverse=True):
            self.api.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/kafka-{broker_id}")
            wait_until(lambda b=broker_id, old=self.uids[broker_id]: self.check() or (self.uids[b] != old and _ready(self.api.pod(f"kafka-{b}"))),
                       240, f"pod kafka-{broker_id} Ready after the update", interval=0.5)

    def check(self) -> bool:
        if self.failure:
            raise AssertionError(f"the kubelet loop failed: {self.failure!r}")
        return False

    def stop(self) -> None:
        self._halt.set()
        self.join(60)


def _ready(pod: Optional[dict]) -> bool:
    return bool(pod) and any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def job_process(rendered, name: str, tools: ToolBox, api: KubeApi, sa_dir: Path, zookeeper_connect: str) -> subprocess.Popen:
    """The rendered Job `name`'s script as written, with the kubelet's API env and its ServiceAccount mount here."""
    job = by_name(rendered, "Job", name)
    env_names = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    substitute = {"KUBE_SA_DIR": str(sa_dir), **({"ZOOKEEPER_CONNECT": zookeeper_connect} if "ZOOKEEPER_CONNECT" in env_names else {})}
    command, env = job_command(job, tools, substitute)
    env.update(KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.plane.port))
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def run_job(rendered, name: str, tools: ToolBox, api: KubeApi, sa_dir: Path, zookeeper_connect: str, kubelet: Kubelet) -> str:
    process = job_process(rendered, name, tools, api, sa_dir, zookeeper_connect)
    out, _ = process.communicate(timeout=900)
    kubelet.check()
    assert process.returncode == 0, f"{name} failed:\n{out}"
    return out
