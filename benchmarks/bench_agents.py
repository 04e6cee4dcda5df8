"""Seed 000's multi-agent learners on Abilene: training steps per second and decision time per
interval, one core (same as `rlte bench --only agents`).

Run: .venv/bin/python benchmarks/bench_agents.py [--quick]
"""

import json
import sys

from rlte.bench import bench_agents

if __name__ == "__main__":
    for row in bench_agents(quick="--quick" in sys.argv):
        print(json.dumps(row))
