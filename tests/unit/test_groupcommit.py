"""Group commit: callers share flushes and each gets its own result or the flush's error."""

import threading

import pytest

from shared.groupcommit import Batcher


def run_concurrently(batcher, items):
    results, barrier = {}, threading.Barrier(len(items))

    def call(item):
        barrier.wait()
        try:
            results[item] = batcher.submit(item)
        except Exception as e:  # noqa: BLE001 - recorded for the assertion
            results[item] = e

    threads = [threading.Thread(target=call, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    return results


def test_each_caller_gets_the_result_for_its_own_item_from_shared_flushes():
    flushes = []

    def flush(items):
        flushes.append(list(items))
        return [i * 10 for i in items]

    results = run_concurrently(Batcher(flush, linger_s=0.05), list(range(40)))
    assert results == {i: i * 10 for i in range(40)}
    assert len(flushes) < 40 and sorted(i for f in flushes for i in f) == list(range(40))


def test_a_flush_error_reaches_every_caller_of_that_flush():
    def flush(items):
        raise RuntimeError("store down")

    results = run_concurrently(Batcher(flush, linger_s=0.05), [1, 2, 3])
    assert all(isinstance(r, RuntimeError) for r in results.values())


def test_a_flush_never_takes_more_than_max_items():
    sizes = []

    def flush(items):
        sizes.append(len(items))
        return items

    run_concurrently(Batcher(flush, linger_s=0.05, max_items=7), list(range(30)))
    assert max(sizes) <= 7


def test_a_lone_caller_is_not_kept_waiting_past_the_linger():
    batcher = Batcher(lambda items: items, linger_s=0.001)
    assert batcher.submit("x") == "x"
    with pytest.raises(ValueError):  # a flush that does not answer every item fails its callers
        Batcher(lambda items: [], linger_s=0.001).submit("y")
