"""The network as data: topologies, candidate paths, traffic and flow sets. Nothing is simulated here.

- `rlte.net.topology`: `Topology` (immutable, numpy arrays per link), its transformations, and
  `load_topology` (one string, as the command line takes it, resolved then parsed);
- `rlte.net.topology_formats`: readers of topology files (GML, GraphML, node-link JSON, the
  Abilene link table, edge lists) and of topohub's topologies;
- `rlte.net.builtin_topologies`: NSFNET and Boyan and Littman's 6x6 grid, shipped in code;
- `rlte.net.paths`: `PathSet` (candidate paths, path x link incidence), `EcmpDag`, `stretch_dag`;
- `rlte.net.traffic`: `TrafficSeries` and its readers, generators and `load_traffic`;
- `rlte.net.flows`: MAROH flow sets;
- `rlte.net.sources`: the one resolver of source names (built-in, data directory, topohub id,
  file, generator); the only module here that asks `rlte.datadir` where the data are;
- `rlte.net.inputs`: reading input files with one-line errors, and the size limits.
"""
