"""The pods check, through the Kubernetes API with the Job's own ServiceAccount."""

from __future__ import annotations

import os
import ssl
import urllib.parse
from typing import Optional

from .results import Result, failed, passed, skipped
from .web import Response, http_get, unreachable

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


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
        if workload.get("byDigest"):
            return image.startswith(repo + "@sha256:") or (image.startswith(repo + ":") and "@sha256:" in image)
        return image.startswith(repo + "@") or image.startswith(repo + ":")
    return image == workload["image"]


def _container_state(status: dict) -> str:
    state = status.get("state") or {}
    for kind in ("waiting", "terminated"):
        if kind in state:
            info = state[kind]
            return f"{status.get('name')} {info.get('reason', kind)}" + (f" ({info['message'][:300]})" if info.get("message") else "")
    return f"{status.get('name')} not running"
