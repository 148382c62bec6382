"""TLS is fixed once the cluster runs, unless a team accepts the downtime of switching it.

msa:kafka.tls switches the protocol of the one listener every client and every broker uses (SCRAM:
SASL_PLAINTEXT <-> SASL_SSL). A roll cannot do that without a gap: each restarted broker speaks the new
protocol while its peers and every client still speak the old one, so replication stops (a 3-broker
cluster falls below min.insync.replicas) and clients fail until the roll has passed them all. So a
change on a running cluster is refused in one line; `msa:kafka.allowTlsChange: true` lets one `pulumi up`
make it, with that downtime (docs/security.md says when and how).

How it knows: as auth_guard.py, a `TlsGuard` (Pulumi dynamic resource) keeps the setting as its input in
the stack's state; its provider's `check` sees the recorded value next to the new one on every preview
and up. The brokers wait for it. Nothing recorded (the first up) allows either value.
"""

from __future__ import annotations

from typing import Optional

from pulumi import dynamic

TLS_KEY, ALLOW_KEY = "tls", "allowTlsChange"


def tls_change_problem(old: Optional[str], new: str, allowed: bool) -> Optional[str]:
    """The one-line refusal when a running cluster's TLS would switch unallowed, else None."""
    if old is None or old == new or allowed:
        return None
    before, after = ("SASL_PLAINTEXT", "SASL_SSL") if new == "true" else ("SASL_SSL", "SASL_PLAINTEXT")
    return (f"msa:kafka.tls: the running cluster's SCRAM listener speaks {before}; switching it to {after} cuts every client and "
            f"the brokers' replication until the roll ends, so it is refused: set msa:kafka.tls: {old}, or accept that downtime "
            "for one `pulumi up` with msa:kafka.allowTlsChange: true (docs/security.md)")


class TlsGuardProvider(dynamic.ResourceProvider):
    """Refuses a TLS switch of a running cluster; stores the setting, creates nothing."""

    def check(self, _olds, news):
        problem = tls_change_problem((_olds or {}).get(TLS_KEY), news[TLS_KEY], news.get(ALLOW_KEY) == "true")
        return dynamic.CheckResult(news, [dynamic.CheckFailure("msa:kafka.tls", problem)] if problem else [])

    def create(self, props):
        return dynamic.CreateResult(id_="kafka-tls", outs=props)

    def diff(self, _id, _olds, _news):
        return dynamic.DiffResult(changes=_olds.get(TLS_KEY) != _news.get(TLS_KEY))

    def update(self, _id, _olds, _news):
        return dynamic.UpdateResult(outs=_news)


class TlsGuard(dynamic.Resource):
    def __init__(self, name: str, tls: bool, allow_change: bool, opts=None):
        super().__init__(TlsGuardProvider(), name, {TLS_KEY: "true" if tls else "false", ALLOW_KEY: "true" if allow_change else "false"}, opts)
