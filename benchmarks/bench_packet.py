"""Packet simulator speed: compiled against the plain-Python reference, on one core (the rows of
`rlte.bench_packet.bench_packet`).

Run: .venv/bin/python benchmarks/bench_packet.py [--quick] [--json]
"""

import json
import sys

from rlte.bench_packet import bench_packet, format_rows

if __name__ == "__main__":
    rows = bench_packet(quick="--quick" in sys.argv)
    print(json.dumps(rows, indent=2) if "--json" in sys.argv else format_rows(rows))
