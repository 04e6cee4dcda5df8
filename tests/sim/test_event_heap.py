"""The compiled simulators' event heap against Python's heapq on (time, creation number)."""

import heapq

import numpy as np

from rlte.sim.event_heap import heap_insert, heap_remove_top


def test_event_heap_pops_in_time_then_creation_order_like_heapq():
    rng = np.random.default_rng(0)
    capacity = 64
    heap_time, heap_seq, heap_code = (
        np.zeros(capacity),
        np.zeros(capacity, np.int64),
        np.zeros(capacity, np.int64),
    )
    reference: list[tuple[float, int, int]] = []
    size = seq = 0
    popped, expected = [], []
    for _ in range(2_000):
        if size < capacity and (size == 0 or rng.random() < 0.55):
            time = float(rng.integers(0, 8))  # few distinct times: many ties, settled by creation order
            code = int(rng.integers(0, 1_000))
            heap_insert(heap_time, heap_seq, heap_code, size, time, seq, code)
            heapq.heappush(reference, (time, seq, code))
            size, seq = size + 1, seq + 1
        else:
            popped.append((heap_time[0], heap_seq[0], heap_code[0]))
            heap_remove_top(heap_time, heap_seq, heap_code, size)
            size -= 1
            expected.append(heapq.heappop(reference))
    while size:
        popped.append((heap_time[0], heap_seq[0], heap_code[0]))
        heap_remove_top(heap_time, heap_seq, heap_code, size)
        size -= 1
        expected.append(heapq.heappop(reference))
    assert len(popped) == seq
    assert [(float(t), int(s), int(c)) for t, s, c in popped] == expected
