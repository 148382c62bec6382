"""Node setup: every node's containerd pulls from the (plain-HTTP) Harbor registry.

`node_script` renders `scripts/containerd-registry.sh` with its parameters; the very same text is
what `pulumi up` runs on each node over SSH and what `render.py` writes to `nodes/<host>.sh`.

Why not the `insecure_skip_verify` fix that circulates: it only relaxes certificate checks for
HTTPS, and containerd 2.x ignores it. A hosts.toml with an `http://` host is what makes containerd
speak plain HTTP (research: containerd, measured on 1.6.20, 1.7.24 and 2.1.9).
"""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_command as command

from .. import k8s as kx
from ..config import Cluster, Harbor, Node, Secrets

SCRIPT = Path(__file__).parent / "scripts" / "containerd-registry.sh"
HEREDOC_END = "__MSA_NODE_SETUP__"


def script_parameters(harbor: Harbor, cluster: Cluster) -> dict[str, str]:
    """The script's parameters; each may be overridden from the environment (the tests do)."""
    return {
        "MSA_REGISTRY": harbor.host,
        "MSA_REGISTRY_SCHEME": harbor.scheme,
        "MSA_REGISTRY_ADDRESS": str(harbor.address) if harbor.address else "",
        "MSA_CERTS_DIR": cluster.certs_dir,
        "MSA_CONTAINERD_CONFIG": cluster.containerd_config,
        "MSA_STATE_DIR": "/var/lib/msa-node-setup",
        "MSA_HOSTS_FILE": "/etc/hosts",
        "MSA_CONTAINERD": "containerd",
        "MSA_CTR": "ctr",
        "MSA_CONTAINERD_ADDRESS": "/run/containerd/containerd.sock",
        "MSA_RESTART": "systemctl restart containerd",
    }


def node_script(host: str, harbor: Harbor, cluster: Cluster) -> str:
    params = "\n".join(f"{k}=${{{k}:-{shlex.quote(v) if v else ''}}}" for k, v in script_parameters(harbor, cluster).items())
    return (
        "#!/usr/bin/env bash\n"
        f"# msa node setup for {host}: containerd pulls {harbor.host} over {harbor.scheme}.\n"
        "# Usage: bash THIS_FILE [apply|revert|check]   (as root)\n"
        f"{params}\n"
        f"{SCRIPT.read_text()}"
    )


def ssh_command(script: str, action: str, user: str) -> str:
    """Run the script on the node: fed to bash on stdin, through sudo unless we log in as root."""
    if HEREDOC_END in script:
        raise ValueError("the node script contains the heredoc terminator")
    sudo = "" if user == "root" else "sudo -n "
    return f"{sudo}bash -s -- {action} <<'{HEREDOC_END}'\n{script}\n{HEREDOC_END}"


def script_from_command(cmd: str) -> str:
    """The script inside an `ssh_command` (render and tests use it to prove they are the same text)."""
    _, _, rest = cmd.partition(f"<<'{HEREDOC_END}'\n")
    body, _, _ = rest.rpartition(f"\n{HEREDOC_END}")
    return body


def connection(node: Node, secrets: Secrets) -> command.remote.ConnectionArgs:
    """SSH to the node (through its bastion). With a host_key pulumi-command accepts exactly that key
    (ssh.FixedHostKey); without one (msa:cluster.skipHostKeyCheck) it accepts any."""
    proxy = None
    if node.bastion:
        proxy = command.remote.ProxyConnectionArgs(
            host=node.bastion.host, port=node.bastion.port, user=node.bastion.user, private_key=secrets.ssh_private_key,
            host_key=node.bastion.host_key,
        )
    return command.remote.ConnectionArgs(
        host=node.host, port=node.port, user=node.user, private_key=secrets.ssh_private_key, proxy=proxy,
        host_key=node.host_key,
    )


class NodeRegistrySetup(pulumi.ComponentResource):
    """containerd on one node trusts Harbor; `delete` (on destroy or replacement) reverts it."""

    def __init__(self, name: str, node: Node, harbor: Harbor, cluster: Cluster, secrets: Secrets,
                 opts: Optional[pulumi.ResourceOptions] = None):
        script = node_script(node.host, harbor, cluster)
        super().__init__("msa:nodes:NodeRegistrySetup", name, {"host": node.host, "script": script}, opts)
        self.command = command.remote.Command(
            f"{name}-containerd",
            connection=connection(node, secrets),
            create=ssh_command(script, "apply", node.user),
            delete=ssh_command(script, "revert", node.user),
            # Any change to the script or its parameters re-runs it.
            triggers=[hashlib.sha256(script.encode()).hexdigest()],
            # The script never reads its previous output; passing it in only makes the provider warn.
            add_previous_output_in_env=False,
            # Revert the old setup before applying the new one: the default create-then-delete order
            # would let the old revert undo the new apply.
            opts=pulumi.ResourceOptions.merge(kx.child_options(self, opts), pulumi.ResourceOptions(delete_before_replace=True)),
        )
        self.register_outputs({})


def setup_nodes(cluster: Cluster, harbor: Harbor, secrets: Secrets, opts: Optional[pulumi.ResourceOptions] = None) -> list[NodeRegistrySetup]:
    """One node at a time (each waits for the previous), so a bad change never hits every node at once."""
    done: list[NodeRegistrySetup] = []
    for node in cluster.nodes:
        depends = [done[-1]] if done else []
        done.append(NodeRegistrySetup(
            f"node-{node.host}", node, harbor, cluster, secrets,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends)),
        ))
    return done
