"""Experiments: YAML specs, the runner (local process pool or Ray), the run store, reports."""
