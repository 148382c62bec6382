"""Reading the stack's configuration from Pulumi: every key, the namespaces, the secrets, then the
typed config (parse.py). `validate` is pure; `load` asks the running engine (or the mock runtime)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Optional

from ..errors import ConfigError
from .model import PROJECT, SECRET_KEYS, Secrets, StackConfig
from .parse import parse_stack_config
from .problems import KNOWN_KEYS
from .providers import check_provider_keys
from .tls_ca import ca_certificate_pem, ca_problem

# Config namespaces a stack file may use besides msa: the engine's own and the providers the program
# creates resources with. Anything else is a typo of `msa:` (or a key no one reads).
KNOWN_NAMESPACES = (PROJECT, "pulumi", "kubernetes", "docker", "command")


def read_raw_config(keys: Iterable[str], get: Callable[[str], Optional[str]]) -> dict[str, str]:
    """The raw text of every `msa:*` key, without the prefix (secrets excluded)."""
    raw: dict[str, str] = {}
    for full in keys:
        ns, _, key = full.partition(":")
        if ns != PROJECT or key in SECRET_KEYS:
            continue
        value = get(key)
        if value is not None:
            raw[key] = value
    return raw


def check_namespaces(keys: Iterable[str]) -> None:
    """A key outside every namespace the program reads (`msq:kafka`, `kafka`) would be ignored silently."""
    for full in sorted(keys):
        ns, colon, key = full.partition(":")
        if not colon:
            ns, key = "", full
        if ns in KNOWN_NAMESPACES:
            continue
        hint = f"did you mean {PROJECT}:{key}? " if key.split(".")[0] in KNOWN_KEYS or not colon else ""
        where = f"namespace {ns!r} is not read by this program" if colon else "has no namespace"
        providers = ", ".join(n + ":" for n in KNOWN_NAMESPACES[1:])
        raise ConfigError(key, f"{where}; {hint}this stack's keys are {PROJECT}:<key> (besides {providers} keys)", namespace=ns)


def check_secrets_are_secret(keys: Iterable[str], is_secret: Callable[[str], bool]) -> None:
    """A password or key stored in plain text in a stack file is an error, not a warning."""
    for key in SECRET_KEYS:
        full = f"{PROJECT}:{key}"
        if full in keys and not is_secret(full):
            raise ConfigError(key, f"is stored in plain text; remove it and set it with: pulumi config set --secret {full} <value>")


# A generated secret: a fresh random value piped in (init-stack generates the same way).
GENERATE_SEED = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' | "


def set_secret_command(key: str, stack: str) -> str:
    """The exact command that stores a secret: the value goes on stdin (a prompt, a file or a pipe),
    never on the command line where shell history and `ps` would keep it."""
    source = " < ~/.ssh/id_ed25519" if key == "sshPrivateKey" else ""
    generate = GENERATE_SEED if key == "kafkaAuthSecret" else ""
    return f"{generate}pulumi config set --secret --stack {stack} {PROJECT}:{key}{source}"


def check_secrets_present(cfg: StackConfig, keys: Iterable[str], stack: str) -> None:
    keys = set(keys)
    if cfg.harbor.username and f"{PROJECT}:harborPassword" not in keys:
        raise ConfigError("harborPassword", f"harbor.username is {cfg.harbor.username!r} but no password is set; run: {set_secret_command('harborPassword', stack)} (it prompts for the password)")
    if cfg.harbor.push == "relay" and f"{PROJECT}:sshPrivateKey" not in keys:
        raise ConfigError("sshPrivateKey", f"push: relay copies images over SSH but no key is set; run: {set_secret_command('sshPrivateKey', stack)}")
    if cfg.kafka.ui.enabled and cfg.kafka.ui.login and f"{PROJECT}:kafkaUiPassword" not in keys:
        raise ConfigError("kafkaUiPassword", f"kafka-ui asks for a login (kafka.ui.login) but no password is set; run: {set_secret_command('kafkaUiPassword', stack)} "
                          "(or set kafka.ui.readOnly: true and login: false)")
    if f"{PROJECT}:kafkaAuthSecret" not in keys:
        # Needed whatever msa:kafka.authentication says: ZooKeeper's super user (reconfig) derives from it too.
        raise ConfigError("kafkaAuthSecret", f"is not set; every Kafka and ZooKeeper password derives from it; "
                          f"generate it with: {set_secret_command('kafkaAuthSecret', stack)} (or: python3 tasks.py init-stack {stack})")
    if cfg.kafka.tls and f"{PROJECT}:kafkaTlsCa" not in keys:
        raise ConfigError("kafkaTlsCa", f"kafka.tls is true but no CA is set; make one (docs/security.md) and run: "
                          f"cat ca.crt ca.key | {set_secret_command('kafkaTlsCa', stack)}")
    if cfg.cluster.nodes and f"{PROJECT}:sshPrivateKey" not in keys:
        raise ConfigError("sshPrivateKey", f"cluster.nodes are set up over SSH but no key is set; run: {set_secret_command('sshPrivateKey', stack)}")


def validate(keys: Iterable[str], get: Callable[[str], Optional[str]], is_secret: Callable[[str], bool],
             project_dir: Path, stack: str) -> StackConfig:
    """Every check, on the config as the CLI passes it: `keys` are all full keys (`msa:kafka`,
    `kubernetes:context`, ...), `get` the text of an msa key without its prefix (pure: no Pulumi)."""
    keys = set(keys)
    check_namespaces(keys)
    check_provider_keys(keys)
    keys = {k for k in keys if k.startswith(PROJECT + ":")}
    check_secrets_are_secret(keys, is_secret)
    cfg = parse_stack_config(read_raw_config(keys, get), project_dir)
    check_secrets_present(cfg, keys, stack)
    if cfg.kafka.tls:
        problem = ca_problem(get("kafkaTlsCa"))
        if problem:
            raise ConfigError("kafkaTlsCa", problem)
    return cfg


def load(project_dir: Path) -> tuple[StackConfig, Secrets]:
    """Read and validate every msa:* key of the running stack (pulumi up or the mock runtime)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK exposes no public "list all keys"; the values live in these two places (explicitly
    # set, e.g. by the mock runtime, and the PULUMI_CONFIG JSON the language host passes).
    every_key = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    conf = pulumi.Config(PROJECT)
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    # Raw reads: the CA's text is checked here (Config.get would warn that it is a secret); it leaves
    # this function only as a secret Output and as its public certificate.
    def get(key: str) -> Optional[str]:
        return runtime_config.get_config(f"{PROJECT}:{key}")
    cfg = validate(every_key, get, lambda k: runtime_config.is_config_secret(k) or k in env_secret_keys,
                   project_dir, pulumi.get_stack())
    secrets = Secrets(
        harbor_password=conf.get_secret("harborPassword"),
        ssh_private_key=conf.get_secret("sshPrivateKey"),
        kafka_ui_password=conf.get_secret("kafkaUiPassword"),
        kafka_auth_secret=conf.get_secret("kafkaAuthSecret"),
        kafka_tls_ca=conf.get_secret("kafkaTlsCa") if cfg.kafka.tls else None,
        kafka_tls_ca_certificate=ca_certificate_pem(get("kafkaTlsCa")) if cfg.kafka.tls else "",
    )
    return cfg, secrets
