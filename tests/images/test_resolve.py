"""Prebuilt services (no context) are deployed by the digest Harbor holds for their tag: the read-only
resolve step (msa.images.harbor.resolve_script), run at every preview and up through the push mode."""

from pathlib import Path

import pulumi

from conftest import by_name, run_stack
import render
from msa.config import Harbor, Service
from msa.images.harbor import image_plan, resolve_script, unpinned_warnings

RESOLVED = "sha256:" + "5" * 64


def _service(**extra) -> Service:
    return Service.model_validate({"image": "usersservice", "tag": "1.0", "port": 8080, **extra})


def _plan(push: str = "direct", **extra):
    harbor = Harbor.model_validate({"host": "msa.harbor.com", "push": push, "relayHost": "10.0.0.9",
                                    "relayHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"})
    return image_plan("user-service", _service(**extra), harbor, "linux/amd64", Path("/project")), harbor


def test_a_prebuilt_service_resolves_through_the_push_mode_and_nothing_else_does():
    assert _plan("direct")[0].resolve == "direct"
    assert _plan("relay")[0].resolve == "relay"
    # push: none reaches nothing; a configured digest or a build needs no lookup.
    assert _plan("none")[0].resolve is None and not _plan("none")[0].pinned
    assert _plan("direct", digest=RESOLVED)[0].resolve is None
    assert all(p.pinned for p in (_plan("direct")[0], _plan("relay")[0], _plan("none", digest=RESOLVED)[0]))


def test_the_resolve_script_only_reads_and_holds_no_secret():
    direct = resolve_script(*_plan("direct"))
    assert "set -- resolve docker://msa.harbor.com/library/usersservice:1.0 msa.harbor.com/library/usersservice:1.0 linux/amd64 http" in direct
    relay = resolve_script(*_plan("relay"))
    assert "MODE=resolve" in relay and "RELAY_HOST=10.0.0.9" in relay and "StrictHostKeyChecking=yes" in relay
    for script in (direct, relay):
        assert "HARBOR_PASSWORD" in script   # read from the environment, never written into the script
        assert "harborPassword" not in script


def test_push_none_without_a_digest_warns_naming_the_key():
    plan, _ = _plan("none")
    (warning,) = unpinned_warnings({"user-service": plan})
    assert warning.startswith("msa:services.user-service.digest is not set and msa:harbor.push is none")
    assert "skopeo inspect --format '{{.Digest}}' docker://msa.harbor.com/library/usersservice:1.0" in warning
    assert unpinned_warnings({"user-service": _plan("none", digest=RESOLVED)[0]}) == []


class ResolvingMocks(render.RecordingMocks):
    """Harbor answers the resolve step with `digests[image]`; records every lookup."""

    digests: dict = {}
    calls: list = []

    def call(self, args):
        if args.token == "command:local:run":
            type(self).calls.append(args.args)
            target = next(word for word in args.args["command"].split() if word.startswith("docker://"))
            return {"stdout": f"{type(self).digests[target.split('/')[-1]]}\n", "stderr": ""}
        return super().call(args)


def _image(result, name):
    return by_name(result, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_a_re_pushed_tag_in_harbor_is_a_new_digest_of_the_deployment():
    ResolvingMocks.digests = {f"{i}:1.0": RESOLVED for i in ("discoveryservice", "configservice", "apigateway", "usersservice", "storeservice")}
    ResolvingMocks.calls = []
    first = run_stack("dev", mocks=ResolvingMocks)
    assert _image(first, "user-service") == f"msa.harbor.com/library/usersservice@{RESOLVED}"
    # Every run reads again (five services: five lookups), with the password only in the environment.
    assert len(ResolvingMocks.calls) == 5
    env = ResolvingMocks.calls[0]["environment"]
    assert env["HARBOR_USERNAME"] == "admin" and "HARBOR_PASSWORD" in env
    assert "HARBOR_PASSWORD=" not in ResolvingMocks.calls[0]["command"]

    repushed = "sha256:" + "6" * 64
    ResolvingMocks.digests["usersservice:1.0"] = repushed
    second = run_stack("dev", mocks=ResolvingMocks)
    assert _image(second, "user-service") == f"msa.harbor.com/library/usersservice@{repushed}"
    assert _image(second, "store-service") == _image(first, "store-service")     # nothing else moves


def test_the_preview_shows_the_digest_although_the_password_is_secret():
    ResolvingMocks.digests = {f"{i}:1.0": RESOLVED for i in ("discoveryservice", "configservice", "apigateway", "usersservice", "storeservice")}
    result = run_stack("dev", mocks=ResolvingMocks)
    image = by_name(result, "Deployment", "user-service")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert not isinstance(image, dict) and not isinstance(image, pulumi.Output)


def test_offline_render_lists_the_resolve_step_with_an_unknown_digest(tmp_path, dev):
    from msa.render.output import output_files

    result = dev
    assert _image(result, "user-service") == f"msa.harbor.com/library/usersservice@{render.PLACEHOLDER_DIGEST}"
    files = output_files(result, Path(__file__).resolve().parents[2])
    import yaml

    (entry,) = [i for i in yaml.safe_load(files["images.yaml"][0])["images"] if i["service"] == "user-service"]
    assert entry["resolve"] == "direct" and entry["resolveScript"] == "images/user-service.resolve.sh"
    assert "unknown until a real run" in entry["deployedAs"]
    assert files["images/user-service.resolve.sh"][0].startswith("#!/usr/bin/env bash\n# msa digest of the prebuilt user-service")
