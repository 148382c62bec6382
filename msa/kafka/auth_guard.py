"""A running cluster is never moved back from authentication to an open listener.

The brokers' phase (broker_auth.py) follows from msa:kafka.authentication: `open` or `scram-only`. A
running open cluster moves to scram-only in one `pulumi up` (auth_roll.py runs the rolls in between).
Going back is refused: every client already logs in, and an open cluster would let anyone in the
namespace write and delete again (turning authentication off is not a supported change: a team that
wants it builds a new cluster).

How it knows the previous phase: as address_guard.py, an `AuthenticationGuard` (Pulumi dynamic resource)
keeps the phase as its input in the stack's state, and its provider's `check` sees the recorded input next
to the new one on every preview and up. The brokers and the Jobs before them wait for it. A recorded
step of the three-up move of earlier development builds (scram-added, inter-broker-scram) counts as
authenticated: it may go on to scram-only, not back.
"""

from __future__ import annotations

from typing import Optional

from pulumi import dynamic

from .broker_auth import OPEN, PHASES

PHASE_KEY = "phase"


def phase_change_problem(old: Optional[str], new: str) -> Optional[tuple[str, str]]:
    """(key, one-line message) when the brokers may not go from phase `old` to `new`, else None."""
    if old is None or old not in PHASES or old == OPEN or new != OPEN:
        return None
    return ("authentication", "the cluster authenticates every client (sasl); turning it off again is refused, it would open Kafka to "
                              "every pod in the namespace: keep msa:kafka.authentication: sasl (docs/security.md)")


class AuthenticationGuardProvider(dynamic.ResourceProvider):
    """Refuses skipped or backward steps; stores the phase, creates nothing."""

    def check(self, _olds, news):
        problem = phase_change_problem((_olds or {}).get(PHASE_KEY), news[PHASE_KEY])
        failures = [dynamic.CheckFailure(f"msa:kafka.{problem[0]}", f"msa:kafka.{problem[0]}: {problem[1]}")] if problem else []
        return dynamic.CheckResult(news, failures)

    def create(self, props):
        return dynamic.CreateResult(id_="kafka-authentication", outs=props)

    def diff(self, _id, _olds, _news):
        return dynamic.DiffResult(changes=_olds.get(PHASE_KEY) != _news.get(PHASE_KEY))

    def update(self, _id, _olds, _news):
        return dynamic.UpdateResult(outs=_news)


class AuthenticationGuard(dynamic.Resource):
    def __init__(self, name: str, phase: str, opts=None):
        super().__init__(AuthenticationGuardProvider(), name, {PHASE_KEY: phase}, opts)
