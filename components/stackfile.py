"""What the Pulumi CLI needs from a committed `Pulumi.<stack>.yaml` before it decrypts anything (pure).

The CLI decrypts every `secure:` value of the stack before the program starts; one value it cannot
decrypt fails every preview and up with `validating stack config: bad value` (passphrase/KMS) or a
base64 error (Pulumi Cloud), naming no key. So a value that is not ciphertext must never be committed.

Ciphertext forms (pulumi/pulumi sdk/go/common/resource/config/crypt.go and the secrets managers):
- passphrase and cloud KMS (`secretsprovider: awskms://…`, `gcpkms://…`, `azurekeyvault://…`,
  `hashivault://…`): `v1:<base64 12-byte nonce>:<base64 AES-256-GCM ciphertext>`; the file also holds
  `encryptionsalt: v1:…` (passphrase) or `secretsprovider` + `encryptedkey` (KMS).
- Pulumi Cloud (the default with `pulumi login`): base64 of the service's ciphertext, no prefix.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Iterator, Optional

GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16


def secure_values(config: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(key path, value) of every `{secure: value}` in a stack file's `config:` (nested ones too:
    `pulumi config set --path --secret` puts them inside objects)."""
    if isinstance(config, dict):
        if set(config) == {"secure"}:
            yield path, config["secure"]
            return
        for key, value in config.items():
            yield from secure_values(value, f"{path}.{key}" if path else str(key))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from secure_values(value, f"{path}[{i}]")


def _b64(text: str) -> Optional[bytes]:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ciphertext_problem(value: Any, stack_file: dict) -> Optional[str]:
    """Why the CLI could not decrypt `value` with the stack's secrets provider; None when it is ciphertext."""
    if not isinstance(value, str) or not value:
        return "is empty or not a string"
    symmetric = bool(stack_file.get("encryptionsalt") or stack_file.get("encryptedkey"))
    if value.startswith("v1:"):
        parts = value.split(":")
        nonce, sealed = (_b64(parts[1]), _b64(parts[2])) if len(parts) == 3 else (None, None)
        if nonce is None or sealed is None or len(nonce) != GCM_NONCE_BYTES or len(sealed) < GCM_TAG_BYTES:
            return "is not v1:<base64 nonce>:<base64 ciphertext>, so no passphrase or KMS key decrypts it"
        if not symmetric:
            return "is passphrase/KMS ciphertext but the file has no encryptionsalt or encryptedkey to decrypt it with"
        return None
    if symmetric:
        return "is not v1:... ciphertext, which is what this stack's passphrase/KMS secrets provider writes"
    if _b64(value) is None or len(_b64(value) or b"") < GCM_TAG_BYTES:
        return "is not base64 ciphertext of the Pulumi Cloud secrets provider"
    return None


def stack_file_problems(stack_file: dict) -> list[str]:
    """One line per undecryptable `secure:` value: `<key>: <problem>`."""
    problems = []
    for key, value in secure_values(stack_file.get("config") or {}):
        problem = ciphertext_problem(value, stack_file)
        if problem is not None:
            nested = "--path " if any(c in key.partition(":")[2] for c in ".[") else ""
            problems.append(f"{key}: secure value {problem}; set it again with: pulumi config set {nested}--secret '{key}'")
    return problems
