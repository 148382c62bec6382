"""A running cluster moves to authentication in one up and never back (msa/kafka/auth_guard.py)."""

import pytest

from msa.kafka.auth_guard import PHASE_KEY, AuthenticationGuardProvider, phase_change_problem
from msa.kafka.broker_auth import INTER_BROKER_SCRAM, OPEN, SCRAM_ADDED, SCRAM_ONLY
from conftest import config_error


@pytest.mark.parametrize("old, new", [(None, SCRAM_ONLY), (None, OPEN), (OPEN, OPEN), (OPEN, SCRAM_ONLY), (SCRAM_ONLY, SCRAM_ONLY),
                                      # a step recorded by the three-up move of earlier builds goes on
                                      (SCRAM_ADDED, SCRAM_ONLY), (INTER_BROKER_SCRAM, SCRAM_ONLY)])
def test_open_to_sasl_in_one_up_is_allowed(old, new):
    assert phase_change_problem(old, new) is None


@pytest.mark.parametrize("old", [SCRAM_ONLY, SCRAM_ADDED, INTER_BROKER_SCRAM])
def test_turning_authentication_off_is_refused_in_one_line_naming_the_key(old):
    result = AuthenticationGuardProvider().check({PHASE_KEY: old}, {PHASE_KEY: OPEN})
    (failure,) = result.failures
    assert failure.reason.startswith("msa:kafka.authentication: ") and "keep msa:kafka.authentication: sasl" in failure.reason
    assert "\n" not in failure.reason


def test_the_guard_records_the_phase_and_changes_only_with_it():
    provider = AuthenticationGuardProvider()
    assert provider.check({}, {PHASE_KEY: SCRAM_ONLY}).failures == []
    assert provider.diff("x", {PHASE_KEY: OPEN}, {PHASE_KEY: SCRAM_ONLY}).changes
    assert not provider.diff("x", {PHASE_KEY: OPEN}, {PHASE_KEY: OPEN}).changes


@pytest.mark.parametrize("step", ["scram-added", "inter-broker-scram"])
def test_a_stack_that_still_sets_the_transition_key_is_told_to_remove_it(step):
    message = config_error(lambda v: v.setdefault("msa:kafka", {}).update(transition=step, authentication="sasl"))
    assert message.startswith("msa:kafka.transition: ") and "remove the key" in message and "\n" not in message
