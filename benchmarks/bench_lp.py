"""Edge-LP (lp_opt) solve time and peak memory by network size (same as `rlte bench --only lp`).

Run: .venv/bin/python benchmarks/bench_lp.py [--quick]
"""

import json
import sys

from rlte.bench import LP_CASES, bench_lp

if __name__ == "__main__":
    quick = "--quick" in sys.argv
    cases = [case for case in LP_CASES if not (quick and case[0] in ("gabriel/200/0", "gabriel/500/0"))]
    for row in bench_lp(cases, repeats=3 if quick else 5):
        print(json.dumps(row))
