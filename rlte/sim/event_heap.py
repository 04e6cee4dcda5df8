"""The event queue of rlte's compiled discrete-event simulators (`rlte.sim.packet`,
`rlte.sim.cluster`): a binary min-heap held in three parallel arrays (time, creation number,
event code), ordered by time and, among equal times, by creation number, so events scheduled for
the same instant run in the order they were scheduled (first in, first out) and a seed gives one
event order on every machine.

The functions move entries only; the caller owns the arrays' size, the creation counter and any
growth (each simulator keeps them in its own state).
"""

from __future__ import annotations

import numba


@numba.njit(cache=True)
def heap_insert(heap_time, heap_seq, heap_code, size, time, seq, code):
    """Insert ``(time, seq, code)`` into a heap of ``size`` entries (the arrays hold at least
    ``size + 1``): sift it up from the new last place."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        pt = heap_time[parent]
        if pt < time or (pt == time and heap_seq[parent] < seq):
            break
        heap_time[i] = pt
        heap_seq[i] = heap_seq[parent]
        heap_code[i] = heap_code[parent]
        i = parent
    heap_time[i] = time
    heap_seq[i] = seq
    heap_code[i] = code


@numba.njit(cache=True)
def heap_remove_top(heap_time, heap_seq, heap_code, size):
    """Remove the top of a heap of ``size`` >= 1 entries: its last entry sifts down from the top
    into the ``size - 1`` places left (read the top before calling)."""
    size -= 1
    if size == 0:
        return
    time, seq, code = heap_time[size], heap_seq[size], heap_code[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (
            heap_time[right] < heap_time[child]
            or (heap_time[right] == heap_time[child] and heap_seq[right] < heap_seq[child])
        ):
            child = right
        ct = heap_time[child]
        if time < ct or (time == ct and seq < heap_seq[child]):
            break
        heap_time[i] = ct
        heap_seq[i] = heap_seq[child]
        heap_code[i] = heap_code[child]
        i = child
    heap_time[i] = time
    heap_seq[i] = seq
    heap_code[i] = code
