"""Batched fluid model versus straightforward loops, on one core (same as `rlte bench --only flow`).

Run: .venv/bin/python benchmarks/bench_flow.py [--quick]
"""

import json
import sys

from rlte.bench import bench_flow

if __name__ == "__main__":
    print(json.dumps(bench_flow(quick="--quick" in sys.argv), indent=2))
