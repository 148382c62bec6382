"""The Pulumi SDK's serialize_provider leaves a sorting wrapper on pickle's Pickler at every call
(conftest._unwrapped_pickler): each test starts from the original methods, or a worker that ran the
program hundreds of times fails pickling a dynamic provider with RecursionError (seen in CI)."""

import pickle

from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from conftest import _PICKLER_ORIGINALS


class _Provider(ResourceProvider):
    pass


def test_a_provider_serialized_leaves_a_wrapper_behind():
    serialize_provider(_Provider())
    assert pickle._Pickler._batch_setitems is not _PICKLER_ORIGINALS["_batch_setitems"]


def test_the_next_test_starts_from_the_original_pickler():
    # Runs after the test above in the same worker (one file goes to one worker, in order).
    assert pickle._Pickler._batch_setitems is _PICKLER_ORIGINALS["_batch_setitems"]
    assert pickle._Pickler.save_dict is _PICKLER_ORIGINALS["save_dict"]
