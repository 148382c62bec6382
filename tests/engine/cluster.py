"""A real Kubernetes control plane on loopback for the engine tests, in a temporary folder.

    etcd (Debian's etcd-server 3.4)  <- kube-apiserver 1.37 (static token, RBAC, 10.96.0.0/12)
                                        <- kube-controller-manager (ReplicaSets, StatefulSets, Jobs, PVC binding)
                                        <- kube-scheduler (binds pods to the fake node)
                                        <- kwok (plays the kubelet: node Ready, pods Running+Ready, Job pods Succeeded)

Every port is a free loopback port, so two control planes never meet. No kubelet, no container runtime,
no network outside 127.0.0.1. Storage: a default StorageClass `standard` that allows expansion and a pool
of pre-made PersistentVolumes, so the StatefulSets' claims bind as on a real cluster and can grow.

The binaries come from tests/engine/build-engine.sh (its `--env` puts them on PATH; conftest.py does
that); `missing_binaries()` names what is not there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterable, Optional

from ports import free_port  # outside the ephemeral range (tests/ports.py)

SERVICE_CIDR = "10.96.0.0/12"        # the stacks' serviceCidr: their fixed ClusterIPs (10.104.193.x) lie inside
POD_CIDR = "10.244.0.0/24"
NODE = "kwok-node-0"
STORAGE_CLASS = "standard"
VOLUMES = 16                         # PVs in the pool: prod's 3 + 3 claims, scaled to 5 + 5, with room to spare
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl")


def missing_binaries() -> list[str]:
    missing = [b for b in BINARIES if not shutil.which(b)]
    if not os.environ.get("MSA_KWOK_STAGES") or not Path(os.environ["MSA_KWOK_STAGES"]).is_file():
        missing.append("kwok stages (MSA_KWOK_STAGES)")
    return missing




class ControlPlane:
    """etcd + kube-apiserver + controller-manager + scheduler + kwok with one fake node.

    `contexts` are the kubeconfig context names (the stacks' `kubernetes:context`), all pointing at this
    API server as `admin` (system:masters). Use as a context manager, or start()/stop().
    """

    def __init__(self, root: Path, contexts: Iterable[str] = ("private-cloud", "private-cloud-prod")):
        self.root = root
        self.contexts = list(contexts)
        self.kubeconfig = root / "kubeconfig"
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, object] = {}

    # --- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> "ControlPlane":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        self.start_api()
        self._start_controllers()
        self.start_seconds = time.monotonic() - started

    def start_api(self) -> None:
        """etcd and kube-apiserver only (tests that play the controllers and kubelet themselves)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._credentials()
        etcd_client, etcd_peer = free_port(), free_port()
        self._spawn("etcd", [
            "etcd", "--name", "local", "--data-dir", str(self.root / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_client}", "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"local=http://127.0.0.1:{etcd_peer}", "--log-level", "warn",
        ])
        self._spawn("kube-apiserver", [
            "kube-apiserver", f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
            f"--secure-port={self.port}", f"--tls-cert-file={self.root / 'apiserver.crt'}",
            f"--tls-private-key-file={self.root / 'apiserver.key'}", f"--token-auth-file={self.root / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC", "--allow-privileged=true",
            f"--service-account-key-file={self.root / 'sa.pub'}", f"--service-account-signing-key-file={self.root / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--service-node-port-range=30000-32767",
            "--profiling=false", "--enable-priority-and-fairness=false",
            # etcd 3.4 cannot serve streaming watch lists (no RequestWatchProgress): clients fall back to list+watch.
            "--feature-gates=WatchList=false",
        ])
        self._write_kubeconfig()
        self._wait(lambda: self._get_raw("/readyz") == "ok", 90, "kube-apiserver /readyz")

    def _start_controllers(self) -> None:
        kubeconfig = f"--kubeconfig={self.kubeconfig}"
        auth = [f"--authentication-kubeconfig={self.kubeconfig}", f"--authorization-kubeconfig={self.kubeconfig}"]
        self._spawn("kube-controller-manager", [
            "kube-controller-manager", kubeconfig, *auth, "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
            "--leader-elect=false", f"--service-account-private-key-file={self.root / 'sa.key'}",
            f"--root-ca-file={self.root / 'apiserver.crt'}", "--use-service-account-credentials=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*", "--profiling=false",
        ])
        self._spawn("kube-scheduler", [
            "kube-scheduler", kubeconfig, *auth, "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
            "--leader-elect=false", "--profiling=false",
        ])
        # Debian's etcd 3.4 lacks RequestWatchProgress: kwok's streaming-list pod watch would fail
        # ("required storage feature RequestWatchProgress is disabled") and every pod stay Pending.
        self._spawn("kwok", [
            "kwok", kubeconfig, f"--config={self._fast_stages()}", "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1", f"--server-address=127.0.0.1:{free_port()}",
        ], env={"KUBE_FEATURE_WatchListClient": "false"})
        self.apply(self._node_and_storage())
        self._wait(self._node_ready, 60, f"node {NODE} Ready (kwok)")
        # The namespace `default` gets its ServiceAccount from the controller-manager: a sign it works.
        self._wait(lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
                   60, "the controller-manager (ServiceAccount default/default)")

    def stop(self) -> None:
        # SIGKILL: the control plane is thrown away with its folder, and kube-apiserver's graceful
        # shutdown held each test's teardown for its 5 s.
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs.values():
            proc.wait()
        for log in self._logs.values():
            log.close()
        self._procs.clear()

    # --- API access ---------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """Environment for tools that talk to this API server (kubectl, the Pulumi provider)."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig}", *args], input=input, text=True,
                              capture_output=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "-f", "-", input=manifest)

    def get(self, kind: str, name: str, namespace: Optional[str] = "msa") -> Optional[dict]:
        """The object as the API server holds it, or None when it does not exist."""
        ns = ["-n", namespace] if namespace else []
        # kubectl hides managedFields unless asked; field ownership is part of what the tests check.
        proc = self.kubectl("get", kind, name, *ns, "-o", "json", "--show-managed-fields", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name}: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    def items(self, kind: str, namespace: Optional[str] = "msa") -> list[dict]:
        ns = ["-n", namespace] if namespace else []
        return json.loads(self.kubectl("get", kind, *ns, "-o", "json").stdout)["items"]

    def names(self, kind: str, namespace: Optional[str] = "msa") -> set[str]:
        return {o["metadata"]["name"] for o in self.items(kind, namespace)}

    def log(self, component: str) -> str:
        return (self.root / f"{component}.log").read_text(errors="replace")

    # --- internals ----------------------------------------------------------------------------------

    def _credentials(self) -> None:
        r = self.root
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True)
        openssl("genrsa", "-out", str(r / "sa.key"), "2048")
        openssl("rsa", "-in", str(r / "sa.key"), "-pubout", "-out", str(r / "sa.pub"))
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(r / "apiserver.key"),
                "-out", str(r / "apiserver.crt"), "-subj", "/CN=kube-apiserver",
                "-addext", "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc")
        self.token = os.urandom(16).hex()
        (r / "tokens.csv").write_text(f"{self.token},admin,admin,system:masters\n")
        (r / "tokens.csv").chmod(0o600)

    def _write_kubeconfig(self) -> None:
        contexts = "".join(f"- name: {c}\n  context: {{cluster: local, user: admin}}\n" for c in self.contexts)
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: local\n  cluster: {{server: \"{self.server}\", certificate-authority: \"{self.root / 'apiserver.crt'}\"}}\n"
            f"users:\n- name: admin\n  user: {{token: \"{self.token}\"}}\n"
            f"contexts:\n{contexts}current-context: {self.contexts[0]}\n"
        )
        self.kubeconfig.chmod(0o600)

    def _spawn(self, name: str, argv: list[str], env: Optional[dict] = None) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self._logs[name] = log
        self._procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                             env={**os.environ, **(env or {})}, start_new_session=True)

    def _get_raw(self, path: str) -> Optional[str]:
        context = ssl.create_default_context(cafile=str(self.root / "apiserver.crt"))
        request = urllib.request.Request(self.server + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                return response.read().decode()
        except OSError:
            return None

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{self.log(name)[-3000:]}")
            if predicate():
                return
            time.sleep(0.3)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}")

    def _fast_stages(self) -> Path:
        """kwok's pod stages wait 1 s + up to 5 s of jitter each (create, ready, complete): a minute per
        Job on a busy machine. And a deleted pod goes at a random moment of its grace period
        (`jitterDurationFrom: .metadata.deletionTimestamp`): a broker (60 s grace) half a minute on average,
        one StatefulSet scale-down or roll a minute or more of waiting. The tests need the order, not the
        pace: 100 ms + up to 200 ms for every stage. The node's heartbeat keeps its pace."""
        text = Path(os.environ["MSA_KWOK_STAGES"]).read_text()
        text, graceful = re.subn(r"jitterDurationFrom:\n\s+expressionFrom: '\.metadata\.deletionTimestamp'",
                                 "jitterDurationMilliseconds: 200", text)
        # A kwok whose stages say it otherwise would bring the waits back unnoticed.
        assert graceful, f"{os.environ['MSA_KWOK_STAGES']}: no pod stage waits on the deletionTimestamp any more"
        docs = text.split("\n---\n")
        fast = [d if "name: node-heartbeat" in d else
                re.sub(r"jitterDurationMilliseconds: \d+", "jitterDurationMilliseconds: 200",
                       re.sub(r"durationMilliseconds: \d+", "durationMilliseconds: 100", d))
                for d in docs]
        path = self.root / "kwok-stages.yaml"
        path.write_text("\n---\n".join(fast))
        return path

    def _node_ready(self) -> bool:
        node = self.get("node", NODE, namespace=None)
        conditions = (node or {}).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _node_and_storage(self) -> str:
        """One fake node (kwok plays its kubelet), a default StorageClass that allows expansion, and a pool
        of volumes the claims bind to (no provisioner: the PV controller binds a claim to a free one)."""
        docs = [f"""\
apiVersion: v1
kind: Node
metadata:
  name: {NODE}
  annotations: {{node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}}
  labels: {{kubernetes.io/arch: amd64, kubernetes.io/os: linux, kubernetes.io/hostname: {NODE}, type: kwok}}
status:
  allocatable: {{cpu: "64", memory: 512Gi, pods: "200"}}
  capacity: {{cpu: "64", memory: 512Gi, pods: "200"}}
""", f"""\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {STORAGE_CLASS}
  annotations: {{storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
allowVolumeExpansion: true
"""]
        for i in range(VOLUMES):
            docs.append(f"""\
apiVersion: v1
kind: PersistentVolume
metadata: {{name: pool-{i:02d}}}
spec:
  capacity: {{storage: 1Ti}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: {STORAGE_CLASS}
  hostPath: {{path: {self.root / 'volumes' / str(i)}, type: DirectoryOrCreate}}
""")
        return "---\n".join(docs)
