"""Traffic as data: a time series of traffic matrices, its loaders and its generators.

A `TrafficSeries` holds T traffic matrices over N named nodes, ``demands[t, s, d]`` being the mean
rate in bit/s from node s to node d during interval t (see `rlte.net.traffic.series`).

- `rlte.net.traffic.series`: `TrafficSeries`, `TrainTest` (its splits);
- `rlte.net.traffic.formats`: the readers of traffic files, `load_abilene_tm` (Abilene week,
  Yin Zhang's format), `load_sndlib_csv` (the GEANT CSV), `load_sndlib_xml` (SNDlib native XML),
  `load_traffic_csv` (a plain long-format CSV);
- `rlte.net.flows`: MAROH flow sets, `Flows`, `read_maroh_flows`, `load_maroh_flows`;
- `rlte.net.traffic.generators`: `uniform`, `gravity`, `bimodal`, `diurnal` (with
  `daily_profile`), and the transformations `inject_bursts` and `poisson_sample`;
- `rlte.net.traffic.loading`: `load_traffic` (a spec, as the command line takes it, resolved by
  `rlte.net.sources.resolve_traffic`, then read or generated), `load_traffic_file`,
  `from_topology` (a topology's static matrix).

Everything is importable from this package. Units: bit/s for rates, seconds for times.
"""

from rlte.net.flows import Flows, load_maroh_flows, read_maroh_flows
from rlte.net.sources import DATA_TRAFFIC, TRAFFIC_SPECS_HELP, TrafficSource, parse_rate, resolve_traffic
from rlte.net.topology import ABILENE_NODES, Topology
from rlte.net.traffic.formats import (
    ABILENE_START,
    ABILENE_UNIT_BYTES,
    SNDLIB_UNITS_BPS,
    load_abilene_tm,
    load_sndlib_csv,
    load_sndlib_xml,
    load_traffic_csv,
)
from rlte.net.traffic.generators import (
    Burst,
    BurstInjection,
    GravityMasses,
    bimodal,
    daily_profile,
    diurnal,
    gravity,
    gravity_masses,
    gravity_matrix,
    inject_bursts,
    poisson_sample,
    uniform,
)
from rlte.net.traffic.loading import (
    GRAVITY_DEFAULT_SEED,
    from_topology,
    load_traffic,
    load_traffic_file,
    read_traffic,
)
from rlte.net.traffic.series import DEFAULT_INTERVAL_S, DEFAULT_START, TrafficSeries, TrainTest

#: The accepted traffic specs, as the error for an unknown one lists them.
_SPECS_HELP = TRAFFIC_SPECS_HELP

__all__ = [
    "ABILENE_NODES",
    "ABILENE_START",
    "ABILENE_UNIT_BYTES",
    "DATA_TRAFFIC",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_START",
    "GRAVITY_DEFAULT_SEED",
    "SNDLIB_UNITS_BPS",
    "TRAFFIC_SPECS_HELP",
    "Burst",
    "BurstInjection",
    "Flows",
    "GravityMasses",
    "Topology",
    "TrafficSeries",
    "TrafficSource",
    "TrainTest",
    "bimodal",
    "daily_profile",
    "diurnal",
    "from_topology",
    "gravity",
    "gravity_masses",
    "gravity_matrix",
    "inject_bursts",
    "load_abilene_tm",
    "load_maroh_flows",
    "load_sndlib_csv",
    "load_sndlib_xml",
    "load_traffic",
    "load_traffic_csv",
    "load_traffic_file",
    "parse_rate",
    "poisson_sample",
    "read_maroh_flows",
    "read_traffic",
    "resolve_traffic",
    "uniform",
]
