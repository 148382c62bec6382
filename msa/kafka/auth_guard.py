"""A running cluster moves to authentication one step at a time, and never back.

The brokers' phase (broker_auth.PHASES: open -> scram-added -> inter-broker-scram -> scram-only) follows
from msa:kafka.authentication and msa:kafka.transition. Each step is a roll the previous one makes safe
(broker_auth.py says why no two can be merged), so a stack may stay where it is or take the next step
only. Going back is refused: from `scram-only` every client already logs in, and an open cluster would
let anyone in the namespace write and delete again (turning authentication off is not a supported change:
a team that wants it builds a new cluster); from a step in between, the way out is forward.

How it knows the previous phase: as address_guard.py, an `AuthenticationGuard` (Pulumi dynamic resource)
keeps the phase as its input in the stack's state, and its provider's `check` sees the recorded input next
to the new one on every preview and up. The brokers and the Jobs before them wait for it. On the first
up nothing is recorded and every phase is allowed (a new cluster starts wherever its config says; an
open cluster that a release before this guard deployed is stopped at run time instead, by the
kafka-scram-users Job, which refuses brokers registered without SCRAM unless the step is scram-added).
"""

from __future__ import annotations

from typing import Optional

from pulumi import dynamic

from .broker_auth import INTER_BROKER_SCRAM, OPEN, PHASES, SCRAM_ADDED, SCRAM_ONLY

PHASE_KEY = "phase"
_NEXT = {
    OPEN: "msa:kafka.authentication: sasl with msa:kafka.transition: scram-added",
    SCRAM_ADDED: "msa:kafka.transition: inter-broker-scram",
    INTER_BROKER_SCRAM: "no msa:kafka.transition (remove the key)",
}


def phase_change_problem(old: Optional[str], new: str) -> Optional[tuple[str, str]]:
    """(key, one-line message) when the brokers may not go from phase `old` to `new`, else None."""
    if old is None or old not in PHASES or old == new:
        return None
    before, after = PHASES.index(old), PHASES.index(new)
    if after == before + 1:
        return None
    if old == SCRAM_ONLY and new == OPEN:
        return ("authentication", "the cluster authenticates every client (sasl); turning it off again is refused, it would open Kafka to "
                                  "every pod in the namespace: keep msa:kafka.authentication: sasl (docs/security.md)")
    if after < before:
        return ("transition", f"the brokers run the step {old} of the move to authentication and cannot go back to {new}; "
                              f"continue with {_NEXT.get(old, 'the next step')} (docs/security.md)")
    return ("transition", f"the brokers run {old}: the move to authentication goes one roll at a time, the next step is "
                          f"{_NEXT[old]} (docs/security.md)")


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
