"""The configuration layer: every `msa:*` key read once into typed objects and validated before any
resource is registered. It imports no component (nothing here creates a Pulumi resource); the fixed
object names it checks against come from msa.names, one floor below.

    forms, fields      value grammars and field types          kafka_properties  effective broker properties
    model              the typed schema = the reference        problems          pydantic errors as one line
    kafka_model        its msa:kafka object                    resources         requests/limits, heap fits
    plan               address plan, config repo files         checks            rules across keys
    parse              raw text -> StackConfig                 load              reading from Pulumi
    stackfile          Pulumi.<stack>.yaml as a file           docs              the configuration reference
    sizes              floors of the size keys (10 -> 10Gi?)   kafka_names       Kafka 3.9's broker property names
"""

from ..errors import ConfigError
from .fields import KeyProblem
from .forms import DNS_LABEL, IMAGE_PATH, IMAGE_TAG
from .checks import host_key_warnings
from .load import check_namespaces, check_secrets_are_secret, check_secrets_present, load, read_raw_config, set_secret_command, validate
from .kafka_model import Kafka, KafkaUi
from .model import PROJECT, SECRET_KEYS, Bastion, Cluster, Harbor, KafkaClient, Node, Route, Secrets, Service, Spring, StackConfig, Verify
from .resources import Resources
from .parse import parse_stack_config
from .problems import KNOWN_KEYS, key_path

__all__ = [
    "PROJECT", "SECRET_KEYS", "KNOWN_KEYS", "DNS_LABEL", "IMAGE_PATH", "IMAGE_TAG", "ConfigError", "KeyProblem",
    "Bastion", "Node", "Cluster", "Harbor", "KafkaUi", "Resources", "Kafka", "Route", "KafkaClient", "Service", "Spring", "Verify",
    "StackConfig",
    "Secrets", "parse_stack_config", "key_path", "read_raw_config", "check_namespaces", "check_secrets_are_secret",
    "check_secrets_present", "set_secret_command", "host_key_warnings", "validate", "load",
]
