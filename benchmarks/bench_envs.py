"""Environment steps per second on Abilene, one core (same as `rlte bench --only env`).

Run: .venv/bin/python benchmarks/bench_envs.py [--quick]
"""

import json
import sys

from rlte.bench import bench_envs

if __name__ == "__main__":
    for row in bench_envs(quick="--quick" in sys.argv):
        print(json.dumps(row))
