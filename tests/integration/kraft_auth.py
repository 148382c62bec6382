"""KRaft clusters that authenticate (msa:kafka.authentication: sasl with mode: kraft), from what the stack
renders, for test_kraft_auth.py: the rendered StatefulSets with their Secret-sourced env filled in from
the rendered Secrets (as the kubelet would), the probe logging in as the rendered broker user, the
rendered kafka-scram-users Job's script, and raw logins to the controller listener (the probe's code).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Optional

from conftest import by_name, run_stack
from integration.jvm_tools import ToolBox
from integration.rendered import run_job_script
from integration.kafka_clients_auth import secret_data, user_secret, write_client_config
from integration.kraft_cluster import KraftCluster
from msa.kafka.client_auth import CLIENT_CONFIG_ENV
from msa.kafka.scram import SCRAM_USERS_JOB

READY_SCRIPT = Path(__file__).resolve().parents[2] / "msa" / "kafka" / "scripts" / "kafka_ready.py"


def rendered_kraft(stack: str, authentication: str = "sasl", edit=None, **kafka):
    """`stack` rendered with mode: kraft, `authentication` and the msa:kafka keys in `kafka`."""
    def values(v):
        v["msa:kafka"].update(mode="kraft", authentication=authentication, **kafka)
        v["msa:verify"] = {"kafkaTimeoutSeconds": 20, "settleSeconds": 120}
        if edit:
            edit(v)
    return run_stack(stack, values)


def start_kraft(rendered, root: Path, tools: ToolBox, brokers: int, controllers: int = 0) -> KraftCluster:
    """The rendered brokers (and dedicated controllers), their secretKeyRefs read from the rendered Secrets."""
    workloads = {o["metadata"]["name"]: o for o in rendered.kubernetes_objects() if o["kind"] == "StatefulSet"}
    cluster = KraftCluster(root, tools, workloads["kafka"], workloads.get("kafka-controller"),
                           secrets=lambda name, key: secret_data(rendered, name)[key])
    cluster.probe_config = write_client_config(root / "probe", user_secret(rendered, "broker"))
    return cluster.start(brokers, controllers)


def admin_config(rendered, folder: Path) -> Path:
    """The admin user's client.properties as the Jobs' Secret volume holds it."""
    return write_client_config(folder, user_secret(rendered, "admin"))


def run_kraft_users_job(rendered, tools: ToolBox, bootstrap: str, admin: Path, folder: Path):
    """The rendered kafka-scram-users Job's script (KRaft: through the brokers as admin); its users Secret in `folder`."""
    job = by_name(rendered, "Job", SCRAM_USERS_JOB)
    (volume,) = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "users"]
    folder.mkdir(parents=True, exist_ok=True)
    for user, password in secret_data(rendered, volume["secret"]["secretName"]).items():
        (folder / user).write_text(password)
    return run_job_script(job, tools, {"BOOTSTRAP_SERVERS": bootstrap, CLIENT_CONFIG_ENV: str(admin), "USERS_DIR": str(folder)}, timeout=300)


def run_admin_job(rendered, name: str, tools: ToolBox, bootstrap: str, admin: Path):
    return run_job_script(by_name(rendered, "Job", name), tools,
                          {"BOOTSTRAP_SERVERS": bootstrap, "FIRST_BROKER_HOST": "localhost", CLIENT_CONFIG_ENV: str(admin)})


def ready_module():
    """kafka_ready.py (the probe) as a module: the raw Kafka protocol client the tests log in with."""
    spec = importlib.util.spec_from_file_location("kafka_ready", READY_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def controller_answer(port: int, login: Optional[tuple[str, str]]) -> str:
    """What a DescribeQuorum on the controller listener at `port` gets with `login` (None: no SASL at all):
    "leader N" when answered, else why not."""
    probe = ready_module()
    try:
        error, leader, _, voters = probe.describe_quorum("127.0.0.1", port, login=login)
    except probe.LoginRefused as refused:
        return f"refused: {refused}"
    except (OSError, ValueError, IndexError) as problem:
        return f"no answer: {problem}"
    return f"leader {leader}, voters {sorted(voters)}" if error == 0 else f"error {error}"


def checker_spec(rendered, bootstrap: str, admin: Path) -> dict:
    spec = json.loads(by_name(rendered, "ConfigMap", "verify")["data"]["spec.json"])
    spec["kafka"].update(bootstrap=bootstrap, clientConfig=str(admin))
    return spec
