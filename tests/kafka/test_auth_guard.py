"""A running cluster moves to authentication one step (one roll) at a time and never back (msa/kafka/auth_guard.py)."""

import pytest

from msa.kafka.auth_guard import PHASE_KEY, AuthenticationGuardProvider, phase_change_problem
from msa.kafka.broker_auth import INTER_BROKER_SCRAM, OPEN, PHASES, SCRAM_ADDED, SCRAM_ONLY
from conftest import config_error


@pytest.mark.parametrize("old, new", [(None, SCRAM_ONLY), (None, OPEN), (OPEN, OPEN), (OPEN, SCRAM_ADDED),
                                      (SCRAM_ADDED, INTER_BROKER_SCRAM), (INTER_BROKER_SCRAM, SCRAM_ONLY), (SCRAM_ONLY, SCRAM_ONLY)])
def test_staying_or_the_next_step_is_allowed(old, new):
    assert phase_change_problem(old, new) is None


def test_an_open_cluster_cannot_jump_to_scram_only():
    key, message = phase_change_problem(OPEN, SCRAM_ONLY)
    assert key == "transition" and "msa:kafka.transition: scram-added" in message and "\n" not in message


def test_turning_authentication_off_is_refused_naming_the_key():
    result = AuthenticationGuardProvider().check({PHASE_KEY: SCRAM_ONLY}, {PHASE_KEY: OPEN})
    (failure,) = result.failures
    assert failure.reason.startswith("msa:kafka.authentication: ") and "keep msa:kafka.authentication: sasl" in failure.reason


@pytest.mark.parametrize("old", PHASES[1:])
def test_no_step_goes_back(old):
    for new in PHASES[:PHASES.index(old)]:
        assert phase_change_problem(old, new) is not None


def test_skipping_the_inter_broker_step_is_refused():
    key, message = phase_change_problem(SCRAM_ADDED, SCRAM_ONLY)
    assert "msa:kafka.transition: inter-broker-scram" in message


def test_the_guard_records_the_phase_and_changes_only_with_it():
    provider = AuthenticationGuardProvider()
    assert provider.check({}, {PHASE_KEY: SCRAM_ONLY}).failures == []
    assert provider.diff("x", {PHASE_KEY: OPEN}, {PHASE_KEY: SCRAM_ADDED}).changes
    assert not provider.diff("x", {PHASE_KEY: OPEN}, {PHASE_KEY: OPEN}).changes


def test_a_transition_step_without_sasl_is_one_line():
    message = config_error(lambda v: v.setdefault("msa:kafka", {}).update(transition="scram-added", authentication="none"))
    assert "msa:kafka.transition" in message and "authentication: sasl" in message
