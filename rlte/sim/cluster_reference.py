"""Plain-Python event-driven implementation of `rlte.sim.cluster`'s rules: the correctness oracle.

Same events, same tie-breaks (events ordered by time, then by creation; heap events before arrivals
at equal times), same random draws in the same order from the same generator, same floating-point
operations in the same order: with one seed and one policy it gives exactly the task latencies,
counts and integrals of the compiled simulator. It is written for clarity (a heap of tuples, a list
per queue, an object per task) and is much slower; `rlte.bench_cluster` measures both.

A policy is a `DispatchPolicy` (or its name), reimplemented here in Python, or an object with
``choose(sim, task) -> node`` (an external dispatcher; it may read ``sim.queues``, ``sim.running``,
``sim.up`` and ``sim.now``).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from rlte.sim.cluster import (
    EV_COMPLETE,
    EV_DEADLINE,
    EV_FAIL,
    EV_MIGRATED,
    EV_RECOVER,
    NUM_RESOURCES,
    P_GIVEN,
    P_JSQ,
    P_LEAST_WORK,
    P_RANDOM,
    P_ROUND_ROBIN,
    S_DONE,
    S_EXPIRED,
    S_FUTURE,
    S_LOST,
    S_MIGRATING,
    S_PENDING,
    S_QUEUED,
    S_REJECTED,
    S_RUNNING,
    Cluster,
    ClusterCounts,
    ClusterMetrics,
    ClusterRecord,
    ClusterSimOptions,
    DispatchPolicy,
    FailureSchedule,
    MigrationOutcome,
    Workload,
    cluster_metrics,
    dispatch_policy,
    task_latencies,
)


class _Task:
    __slots__ = ("arrival", "deadline", "demand", "dispatches", "end", "event", "finish", "first_start",
                 "node", "size", "start", "status")  # fmt: skip

    def __init__(self, arrival: float, size: float, demand: list[int], deadline: float) -> None:
        self.arrival, self.size, self.demand, self.deadline = arrival, size, demand, deadline
        self.status = S_FUTURE
        self.node = -1
        self.start = self.first_start = -1.0
        self.finish = self.end = math.nan
        self.event = -1
        self.dispatches = 0


class ReferenceClusterSimulator:
    """`rlte.sim.cluster.ClusterSimulator`'s rules in plain Python (same arguments)."""

    def __init__(
        self,
        cluster: Cluster,
        workload: Workload,
        options: ClusterSimOptions | None = None,
        failures: FailureSchedule | None = None,
    ) -> None:
        self.cluster = cluster
        self.workload = workload
        self.options = options or ClusterSimOptions()
        self.options.validate()
        self.failures = failures if failures is not None else FailureSchedule.none()
        self.speed = cluster.speed.tolist()
        self.cap = cluster.capacity_units.tolist()
        self.num_nodes = cluster.num_nodes

    # ------------------------------------------------------------------ state
    def reset(self, rng: np.random.Generator) -> None:
        n, w = self.num_nodes, self.workload
        self.rng = rng
        self.now = 0.0
        self.area = 0.0
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0
        columns = (w.arrival.tolist(), w.size.tolist(), w.demand_units.tolist(), w.deadline.tolist())
        self.tasks = [_Task(*task) for task in zip(*columns)]
        self.next_arrival = 0
        self.pending: list[int] = []
        self.up = [1] * n
        self.used = [[0] * NUM_RESOURCES for _ in range(n)]
        self.queues: list[list[int]] = [[] for _ in range(n)]
        self.running: list[list[int]] = [[] for _ in range(n)]
        self.qwork = [0.0] * n
        self.fsum = [0.0] * n
        self.last = [0.0] * n
        self.area_used = [[0.0] * NUM_RESOURCES for _ in range(n)]
        self.area_tasks = [0.0] * n
        self.area_up = [0.0] * n
        self.round_robin = 0
        self.epoch = 0
        names = ("arrived", "completed", "expired", "lost", "rejected", "queued", "running", "migrating",
                 "migrated", "redispatched", "displaced", "events")  # fmt: skip
        self.count = dict.fromkeys(names, 0)
        self.migration_cost = self.migrated_work = 0.0
        failures = self.failures
        for f in range(failures.num_failures):
            self._push(float(failures.fail_time[f]), EV_FAIL, f)
            if failures.recover_time[f] < math.inf:
                self._push(float(failures.recover_time[f]), EV_RECOVER, f)

    def _push(self, time: float, kind: int, item: int) -> int:
        seq = self.seq
        heapq.heappush(self.heap, (time, seq, kind, item))
        self.seq += 1
        return seq

    def _advance_clock(self, time: float) -> None:
        if time > self.now:
            c = self.count
            inside = c["queued"] + c["running"] + c["migrating"] + len(self.pending)
            if inside > 0:
                self.area += inside * (time - self.now)
            self.now = time

    def _touch(self, n: int) -> None:
        dt = self.now - self.last[n]
        if dt > 0.0:
            for r in range(NUM_RESOURCES):
                self.area_used[n][r] += self.used[n][r] * dt
            self.area_tasks[n] += (len(self.queues[n]) + len(self.running[n])) * dt
            self.area_up[n] += self.up[n] * dt
            self.last[n] = self.now

    # ------------------------------------------------------------------ queues
    def _queue_append(self, n: int, t: int) -> None:
        self._touch(n)
        self.queues[n].append(t)
        self.qwork[n] += self.tasks[t].size
        self.tasks[t].status, self.tasks[t].node = S_QUEUED, n
        self.count["queued"] += 1

    def _queue_remove(self, n: int, t: int) -> None:
        self._touch(n)
        self.queues[n].remove(t)
        self.qwork[n] = 0.0 if not self.queues[n] else self.qwork[n] - self.tasks[t].size
        self.count["queued"] -= 1

    def _running_append(self, n: int, t: int) -> None:
        self._touch(n)
        self.running[n].append(t)
        self.fsum[n] += self.tasks[t].finish
        self.tasks[t].status = S_RUNNING
        self.count["running"] += 1

    def _running_remove(self, n: int, t: int) -> None:
        self._touch(n)
        self.running[n].remove(t)
        self.fsum[n] = 0.0 if not self.running[n] else self.fsum[n] - self.tasks[t].finish
        for r in range(NUM_RESOURCES):
            self.used[n][r] -= self.tasks[t].demand[r]
        self.count["running"] -= 1

    def _fits(self, t: int, n: int) -> bool:
        demand, cap = self.tasks[t].demand, self.cap[n]
        return all(demand[r] <= cap[r] for r in range(NUM_RESOURCES))

    def _eligible(self, t: int, n: int) -> bool:
        return self.up[n] == 1 and self._fits(t, n)

    def _try_start(self, n: int) -> None:
        used, patience = self.used[n], self.options.lookahead
        for t in list(self.queues[n]):
            task = self.tasks[t]
            if any(used[r] + task.demand[r] > self.cap[n][r] for r in range(NUM_RESOURCES)):
                patience -= 1
                if patience == 0:
                    return
                continue
            self._queue_remove(n, t)
            for r in range(NUM_RESOURCES):
                used[r] += task.demand[r]
            duration = task.size / self.speed[n]
            if self.options.integer_durations:
                duration = float(math.floor(duration))
            task.start = self.now
            if task.first_start < 0.0:
                task.first_start = self.now
            task.finish = self.now + duration
            self._running_append(n, t)
            task.event = self._push(task.finish, EV_COMPLETE, t)

    def _finish(self, t: int, status: int, counter: str) -> None:
        self.tasks[t].status, self.tasks[t].end = status, self.now
        self.count[counter] += 1

    def _pending_push(self, t: int) -> None:
        self.pending.append(t)
        self.tasks[t].status, self.tasks[t].node = S_PENDING, -1

    def _displace(self, t: int) -> None:
        self.count["displaced"] += 1
        self.tasks[t].event = -1
        if self.options.on_failure == "redispatch":
            self.count["redispatched"] += 1
            self._pending_push(t)
        else:
            self._finish(t, S_LOST, "lost")

    # ------------------------------------------------------------------ events
    def _complete(self, t: int) -> None:
        n = self.tasks[t].node
        self._running_remove(n, t)
        self._finish(t, S_DONE, "completed")
        self._try_start(n)

    def _expire(self, t: int) -> None:
        task = self.tasks[t]
        if task.status == S_QUEUED:
            n = task.node
            self._queue_remove(n, t)
            self._finish(t, S_EXPIRED, "expired")
            self._try_start(n)
        else:
            self.count["migrating"] -= 1
            task.event = -1
            self._finish(t, S_EXPIRED, "expired")

    def _migration_arrival(self, t: int) -> None:
        self.count["migrating"] -= 1
        self.tasks[t].event = -1
        n = self.tasks[t].node
        if self.up[n] == 1:
            self._queue_append(n, t)
            self._try_start(n)
        else:
            self._displace(t)

    def _fail(self, f: int) -> None:
        n = int(self.failures.node[f])
        if self.up[n] == 0:
            return
        self._touch(n)
        self.up[n] = 0
        for t in list(self.running[n]):
            self._running_remove(n, t)
            self._displace(t)
        for t in list(self.queues[n]):
            self._queue_remove(n, t)
            self._displace(t)

    def _recover(self, f: int) -> None:
        n = int(self.failures.node[f])
        self._touch(n)
        self.up[n] = 1

    # ------------------------------------------------------------------ dispatch
    def _choose(self, policy: DispatchPolicy, t: int) -> int:
        n_nodes, code = self.num_nodes, policy.code
        if code == P_GIVEN:
            return int(policy.given[t])
        if code == P_ROUND_ROBIN:
            for k in range(n_nodes):
                n = (self.round_robin + k) % n_nodes
                if self._eligible(t, n):
                    self.round_robin = (n + 1) % n_nodes
                    return n
            return -1
        if code in (P_JSQ, P_LEAST_WORK):
            best, best_load = -1, 0.0
            for n in range(n_nodes):
                if not self._eligible(t, n):
                    continue
                if code == P_JSQ:
                    load = float(len(self.queues[n]) + len(self.running[n]))
                else:
                    load = self.qwork[n] / self.speed[n] + (self.fsum[n] - len(self.running[n]) * self.now)
                if best < 0 or load < best_load:
                    best, best_load = n, load
            return best
        eligible = [n for n in range(n_nodes) if self._eligible(t, n)]
        if len(eligible) <= 1:
            return eligible[0] if eligible else -1
        m = len(eligible)
        i = min(int(self.rng.random() * m), m - 1)
        if code == P_RANDOM:
            return eligible[i]
        j = min(int(self.rng.random() * (m - 1)), m - 2)
        if j >= i:
            j += 1
        first, second = eligible[i], eligible[j]
        if len(self.queues[second]) + len(self.running[second]) < len(self.queues[first]) + len(
            self.running[first]
        ):
            return second
        return first

    def _dispatch(self, t: int, n: int) -> None:
        self.tasks[t].dispatches += 1
        if not (0 <= n < self.num_nodes) or not self._eligible(t, n):
            self._finish(t, S_REJECTED, "rejected")
            return
        self._queue_append(n, t)
        self._try_start(n)
        task = self.tasks[t]
        if task.dispatches == 1 and task.status == S_QUEUED and task.deadline < math.inf:
            self._push(task.deadline, EV_DEADLINE, t)

    def _decide_pending(self, choose) -> None:
        while self.pending:
            t = self.pending[0]
            node = choose(t)
            self.pending.pop(0)
            self._dispatch(t, node)

    # ------------------------------------------------------------------ the loop
    def run(self, policy, until: float | None = None) -> None:
        """Simulate the events before ``until`` (default: until every task has left)."""
        until = math.inf if until is None else float(until)
        if isinstance(policy, str):
            policy = dispatch_policy(policy)
        if isinstance(policy, DispatchPolicy):
            choose = lambda t: self._choose(policy, t)  # noqa: E731
        else:
            choose = lambda t: int(policy.choose(self, t))  # noqa: E731
        self._decide_pending(choose)
        tasks, c = self.tasks, self.count
        num_tasks = len(tasks)
        while True:
            ta = tasks[self.next_arrival].arrival if self.next_arrival < num_tasks else math.inf
            th = self.heap[0][0] if self.heap else math.inf
            t = th if th <= ta else ta
            if t >= until or t == math.inf:
                if until < math.inf:
                    self._advance_clock(until)
                return
            if until == math.inf and self.next_arrival >= num_tasks:
                if c["queued"] + c["running"] + c["migrating"] == 0:
                    return
            self._advance_clock(t)
            if th <= ta:
                _, seq, kind, item = heapq.heappop(self.heap)
                task = tasks[item] if kind in (EV_COMPLETE, EV_DEADLINE, EV_MIGRATED) else None
                if kind == EV_COMPLETE:
                    if task.status == S_RUNNING and task.event == seq:
                        c["events"] += 1
                        self._complete(item)
                elif kind == EV_DEADLINE:
                    if task.first_start < 0.0 and task.status in (S_QUEUED, S_MIGRATING):
                        c["events"] += 1
                        self._expire(item)
                elif kind == EV_MIGRATED:
                    if task.status == S_MIGRATING and task.event == seq:
                        c["events"] += 1
                        self._migration_arrival(item)
                elif kind == EV_FAIL:
                    c["events"] += 1
                    self._fail(item)
                else:
                    c["events"] += 1
                    self._recover(item)
            else:
                c["events"] += 1
                i = self.next_arrival
                self.next_arrival += 1
                c["arrived"] += 1
                self._pending_push(i)
            self._decide_pending(choose)

    def run_epoch(self, policy) -> bool:
        """Run to the end of the current decision epoch; True while tasks remain."""
        self.run(policy, (self.epoch + 1) * float(self.options.interval))
        self.epoch += 1
        c = self.counts()
        return not (c.arrived == len(self.tasks) and c.in_system == 0)

    def migrate(self, matrix: np.ndarray) -> MigrationOutcome:
        """Move queued tasks by a migration matrix (`ClusterSimulator.migrate`'s rule)."""
        matrix = np.asarray(matrix, dtype=np.float64).tolist()
        per_size = float(self.options.migration_delay)
        before = (self.count["migrated"], self.migrated_work, self.migration_cost)
        for i in range(self.num_nodes):
            queued = len(self.queues[i])
            if queued == 0:
                continue
            total, sent, moved_here = 0.0, 0, 0
            for j in range(self.num_nodes):
                share = matrix[i][j]
                if j == i or not share > 0.0:
                    continue
                total += share
                target = min(int(math.floor(queued * total + 0.5)), queued)
                want = target - sent
                sent = target
                if want <= 0 or self.up[j] == 0:
                    continue
                leaving = [t for t in reversed(self.queues[i]) if self._fits(t, j)][:want]
                for t in reversed(leaving):
                    self._queue_remove(i, t)
                    task = self.tasks[t]
                    task.status, task.node = S_MIGRATING, j
                    self.count["migrating"] += 1
                    self.count["migrated"] += 1
                    delay = per_size * task.size
                    self.migration_cost += delay
                    self.migrated_work += task.size
                    task.event = self._push(self.now + delay, EV_MIGRATED, t)
                    moved_here += 1
            if moved_here > 0:
                self._try_start(i)
        return MigrationOutcome(self.count["migrated"] - before[0], self.migrated_work - before[1],
                                self.migration_cost - before[2])  # fmt: skip

    # ------------------------------------------------------------------ results
    def counts(self) -> ClusterCounts:
        c = self.count
        names = ("arrived", "completed", "expired", "lost", "rejected", "queued", "running", "migrating")
        rest = (c["migrated"], c["redispatched"], c["displaced"], c["events"], self.now)
        return ClusterCounts(*(c[name] for name in names), len(self.pending), *rest)

    def record(self) -> ClusterRecord:
        tasks = self.tasks
        return ClusterRecord(
            time=self.now,
            status=np.array([t.status for t in tasks], dtype=np.int64),
            end=np.array([t.end for t in tasks]),
            area_used=np.array(self.area_used),
            area_tasks=np.array(self.area_tasks),
            area_up=np.array(self.area_up),
            last=np.array(self.last),
            used=np.array(self.used, dtype=np.int64),
            tasks=np.array([len(q) + len(r) for q, r in zip(self.queues, self.running)], dtype=np.int64),
            up=np.array(self.up, dtype=np.int64),
            tasks_integral=self.area,
            arrived=self.count["arrived"],
            migrated=self.count["migrated"],
            migration_cost=self.migration_cost,
            migrated_work=self.migrated_work,
        )

    def task_latencies(self) -> np.ndarray:
        return task_latencies(self.record(), self.workload)

    def metrics(self) -> ClusterMetrics:
        return cluster_metrics(self.record(), self.cluster, self.workload)


def reference_srpt_completions(arrival, work, rate: float) -> np.ndarray:
    """`rlte.sim.cluster.srpt_completions` in plain Python: one server of speed ``rate``, shortest
    remaining work first, preemptive, ties by index."""
    arrival, work = list(map(float, arrival)), list(map(float, work))
    count = len(arrival)
    completion = [math.nan] * count
    waiting: list[tuple[float, int]] = []
    current, remaining, now, i = -1, 0.0, 0.0, 0
    while i < count or current >= 0 or waiting:
        if current < 0:
            if waiting:
                remaining, current = heapq.heappop(waiting)
            else:
                now = max(now, arrival[i])
                current, remaining = i, work[i]
                i += 1
                continue
        following = arrival[i] if i < count else math.inf
        done_at = now + remaining / rate
        if done_at <= following:
            now = done_at
            completion[current] = now
            current = -1
            continue
        remaining = max(remaining - (following - now) * rate, 0.0)
        now = following
        new, new_work = i, work[i]
        i += 1
        if new_work < remaining:
            heapq.heappush(waiting, (remaining, current))
            current, remaining = new, new_work
        else:
            heapq.heappush(waiting, (new_work, new))
    return np.array(completion)


__all__ = ["ReferenceClusterSimulator", "reference_srpt_completions"]
