"""The configuration layer: every `msa:*` key read once into typed objects and validated before any
resource is registered. It imports no component (nothing here creates a Pulumi resource); the fixed
object names it checks against come from msa.names, one floor below."""

from .model import *  # noqa: F401,F403  (the model's public names: config.load, config.StackConfig, ...)
from .model import __all__  # noqa: F401
