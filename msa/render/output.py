"""What a render writes, computed from the recorded registrations: relative path -> (content, mode).

    kubernetes.yaml     every Kubernetes object, multi-document YAML, by kind in an order one
                        `kubectl apply -f` pass accepts (engine.KIND_ORDER; docs/render.md lists it)
    outputs.yaml        the stack outputs (`pulumi stack output`): namespace, clusterIPs, nodePorts, ...
    nodes/<host>.sh     the exact script each node runs (containerd trusts Harbor)
    images.yaml         per image: context, platform, target reference, push mode (a prebuilt one: its
                        resolve step, images/<service>.resolve.sh); mirror: the third-party
                        images' plan (source, target, platform, mode; digests unknown until a real run)
    images/*.sh         in relay mode: the local build/copy script and the relay host's push script;
                        images/mirror-<workload>.sh: the copy (or proxy-cache lookup) of each third-party image
    import.json         `pulumi import --file` document adopting every (named) Kubernetes object
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import yaml

from ..adoption import Registration, import_document
from ..images.harbor import relay_push_script
from .engine import RenderedStack, plain


# libyaml's emitter (PyYAML's C binding, in its wheels) writes a stack's kubernetes.yaml in ~30 ms where the
# pure-Python one takes ~300: half of a render (benchmarks/render_bench.py). Same documents; only where a
# long quoted string folds differs. The pure-Python emitter stays as the fallback for a PyYAML built without it.
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(doc, sort_keys: bool) -> str:
    return yaml.dump(doc, Dumper=DUMPER, sort_keys=sort_keys, default_flow_style=False, width=1000)


def _dump_all(docs: list) -> str:
    return yaml.dump_all(docs, Dumper=DUMPER, sort_keys=True, default_flow_style=False, width=1000)


def _relative(path: Optional[str], project_dir: Path) -> Optional[str]:
    if not path:
        return path
    p = Path(path)
    return p.relative_to(project_dir).as_posix() if p.is_relative_to(project_dir) else path


def output_files(result: RenderedStack, project_dir: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (content, mode) of everything the render writes."""
    files: dict[str, tuple[str, int]] = {"kubernetes.yaml": (_dump_all(result.kubernetes_objects()), 0o644)}

    for node in result.of_type("msa:nodes:NodeRegistrySetup"):
        files[f"nodes/{node.inputs['host']}.sh"] = (node.inputs["script"], 0o755)

    relay_scripts = {r.name: r.inputs["create"] for r in result.of_type("command:local:Command")}
    images = []
    for image in sorted(result.of_type("msa:images:HarborImage"), key=lambda r: r.inputs["service"]):
        entry = {
            "service": image.inputs["service"],
            "context": _relative(image.inputs.get("context"), project_dir),
            "dockerfile": _relative(image.inputs.get("dockerfile"), project_dir),
            "platform": image.inputs["platform"],
            "target": image.inputs["target"],
            "push": image.inputs["push"],
            "deployedAs": _service_deployed_as(image.inputs),
        }
        if not image.inputs.get("context"):
            entry["why"] = (f"not built: msa:services.{image.inputs['service']} has no context, so the stack pulls this image from "
                            "Harbor as it is; msa:harbor.push builds only services with a context (set one to build and push)")
        if image.inputs.get("resolveScript"):
            entry["resolve"] = image.inputs["resolve"]
            entry["resolveScript"] = f"images/{image.inputs['service']}.resolve.sh"
            files[entry["resolveScript"]] = (image.inputs["resolveScript"], 0o755)
        script = relay_scripts.get(f"{image.name}-relay-push")
        if script is not None:
            entry["relayScript"] = f"images/{image.inputs['service']}.relay.sh"
            files[entry["relayScript"]] = (script, 0o755)
        images.append(entry)
    if any(i.get("relayScript") for i in images):
        files["images/relay-push.sh"] = (relay_push_script(), 0o755)
    mirror = mirror_entries(result, files)
    files["images.yaml"] = (_dump({"images": images, "mirror": mirror}, sort_keys=False), 0o644)
    files["import.json"] = (json.dumps(import_document(registrations(result)), indent=2) + "\n", 0o644)
    # What `pulumi stack output` will show after an up (a digest only a real push knows is the placeholder).
    files["outputs.yaml"] = (_dump(plain(result.exports), sort_keys=True), 0o644)
    return files


def _service_deployed_as(inputs: dict) -> str:
    if inputs["push"] != "none":
        return "repository@digest of the pushed image"
    if inputs.get("resolve"):
        return ("repository@<digest Harbor holds for the tag above, read (skopeo inspect, read-only) at every preview and up> "
                "(unknown until a real run)")
    return "the tag above (with msa:services.<name>.digest: tag@digest)"


MIRROR_DEPLOYED_AS = {
    "copy": "<target repository>@<digest read back from Harbor after the copy> (unknown until a real run)",
    "proxy-cache": "<target repository>@<digest Harbor's proxy cache resolves> (unknown until a real run)",
    "off": "the source as configured",
}


def mirror_entries(result: RenderedStack, files: dict[str, tuple[str, int]]) -> list[dict]:
    """The third-party images' plan (source, target, platform, mode) and the script each one runs."""
    # By parent, not by name prefix: `mirror-kafka-` is also the start of `mirror-kafka-ui-...`.
    scripts = {r.parent: r.inputs["create"] for r in result.of_type("command:local:Command")}
    entries = []
    for image in sorted(result.of_type("msa:images:MirroredImage"), key=lambda r: r.inputs["name"]):
        i = image.inputs
        entry = {"name": i["name"], "key": f"msa:{i['key']}", "source": i["source"], "mode": i["mode"]}
        if i.get("archive"):
            entry["archive"] = i["archive"]
        if i.get("target"):
            entry["target"] = i["target"]
        entry["platform"] = i["platform"]
        if i.get("push"):
            entry["push"] = i["push"]
        entry["deployedAs"] = MIRROR_DEPLOYED_AS[i["mode"]] if i.get("push") != "none" else "<target repository>@msa:harbor.mirrorImages.<name>.digest"
        script = scripts.get(image.urn)
        if script is not None:
            # Named by the workload (mirror-kafka, mirror-zookeeper, mirror-kafka-ui): short and fixed,
            # whatever the image's name (a repository name may be longer than a file name can be).
            entry["script"] = f"images/{image.name}.sh"
            files[entry["script"]] = (script, 0o755)
        entries.append(entry)
    return entries


def registrations(result: RenderedStack) -> list[Registration]:
    """The program's registrations as the import document needs them."""
    return [
        Registration(r.type, r.name, r.urn, r.parent, r.custom,
                     plain(r.inputs.get("metadata")) if r.custom and r.type.startswith("kubernetes:") else None)
        for r in result.resources
    ]
