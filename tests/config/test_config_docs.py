"""The configuration reference (docs/configuration.md) is generated from the config model: they cannot drift apart."""

from msa.config import docs as config_docs
from msa.config import StackConfig
from conftest import ROOT


def test_reference_table_is_the_generated_one():
    reference = (ROOT / "docs" / "configuration.md").read_text()
    assert config_docs.with_table(reference) == reference, "docs/configuration.md's table is stale: run python3 tasks.py docs"


def test_every_key_says_what_it_means():
    assert config_docs.undocumented() == []


def test_every_key_of_the_model_has_a_row():
    keys = [key for key, *_ in config_docs.rows()]
    assert "kafka.ui.image" in keys and "cluster.clusterDomain" in keys and "kafka.resources.memoryLimit" in keys
    assert "services.<name>.routes[].stripPrefix" in keys and "cluster.nodes[].bastion.port" in keys
    top = {key.split(".")[0] for key in keys}
    assert top == {config_docs.wire_name(n, f) for n, f in StackConfig.model_fields.items()}


def test_a_row_shows_the_default_of_the_object_that_holds_it():
    rows = {key: (default, form) for key, default, form, _ in config_docs.rows()}
    assert rows["kafka.resources.memoryLimit"] == ("`1536Mi`", "Kubernetes quantity, at least 64Mi")
    assert rows["services.<name>.resources.memoryLimit"] == ("`768Mi`", "Kubernetes quantity, at least 64Mi")
    assert rows["harbor.host"] == ("required", "host[:port]")


def test_every_size_key_shows_its_floor():
    """A size that cannot be meant is refused; the reference says where each key's floor is and why."""
    floors = dict(config_docs.floors())
    assert floors["kafka.storageSize"].least == "1Gi" and floors["kafka.zookeeperStorageSize"].least == "256Mi"
    assert floors["kafka.heap"].least == "128m" and floors["services.<name>.resources.cpu"].most == "64"
    rows = {key: form for key, _, form, _ in config_docs.rows()}
    for key, floor in floors.items():
        assert rows[key].endswith(floor.shown), key
        assert f"| `{key}` | {floor.shown} |" in config_docs.table()
    quantities = {key for key, form in rows.items() if "quantity" in form or "JVM size" in form}
    assert quantities == set(floors), "a size or quantity key without a floor"
