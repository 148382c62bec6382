"""The xdist work order (scheduling.py): the costliest test file left goes to the next free worker."""

import json

from scheduling import UNKNOWN, CostOrderedQueue, file_seconds, scope_cost


def _drain(queue: CostOrderedQueue) -> list[str]:
    return [queue.popitem(last=False)[0] for _ in range(len(queue))]


def test_longest_file_first_and_a_file_never_measured_before_all():
    queue = CostOrderedQueue(scope_cost({"tests/a.py": 5.0, "tests/slow.py": 300.0, "tests/b.py": 40.0}))
    for scope in ("tests/a.py", "tests/b.py", "tests/new.py", "tests/slow.py"):
        queue[scope] = {f"{scope}::test": False}
    assert _drain(queue) == ["tests/new.py", "tests/slow.py", "tests/b.py", "tests/a.py"]


def test_equal_costs_keep_collection_order_and_units_keep_their_tests():
    queue = CostOrderedQueue(scope_cost({}))
    queue["tests/x.py"] = {"tests/x.py::t1": False, "tests/x.py::t2": False}
    queue["tests/y.py"] = {"tests/y.py::t": False}
    assert queue.popitem(last=False) == ("tests/x.py", {"tests/x.py::t1": False, "tests/x.py::t2": False})
    assert queue.popitem(last=False)[0] == "tests/y.py" and not queue


def test_a_class_scope_costs_what_its_file_costs():
    assert scope_cost({"tests/a.py": 7.0})("tests/a.py::TestThing") == 7.0
    assert scope_cost({})("tests/a.py") == UNKNOWN


def test_the_cost_file_is_read_and_a_broken_one_orders_nothing(tmp_path):
    good, broken = tmp_path / "good.json", tmp_path / "broken.json"
    good.write_text(json.dumps({"tests/a.py": 3}))
    broken.write_text("{not json")
    assert file_seconds(good) == {"tests/a.py": 3.0}
    assert file_seconds(broken) == {} and file_seconds(tmp_path / "missing.json") == {}


def test_fast_runs_get_a_worker_per_core_and_runs_with_servers_two_per_core_and_one_more_as_memory_allows():
    from scheduling import worker_count

    assert worker_count(2, 23.5, servers=False) == 2
    assert worker_count(2, 23.5, servers=True) == 5          # the CI machine: 2 cores, 24 GiB
    assert worker_count(16, 23.5, servers=True) == 5         # memory bounds it: a Kafka cluster per worker
    assert worker_count(4, 64.0, servers=True) == 9          # cores bound it: two per core and one more
    assert worker_count(2, 3.0, servers=True) == 1
