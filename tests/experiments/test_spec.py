"""Spec validation: every value of every environment, agent and scenario option is checked for type
and range when the spec is checked, each bad value with its exact one-line message, before any run
folder is made; every shipped spec validates (those that need no data, without a data directory)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlte.cli import main
from rlte.domains import get_domain, methods
from rlte.envs import options_class
from rlte.errors import RlteError
from rlte.experiments.spec import env_keys, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "experiments" / "tiny.yaml"
SPECS = sorted((ROOT / "experiments").glob("*.yaml"))


def small_spec(**changes) -> dict:
    spec = yaml.safe_load(TINY.read_text())
    spec.update(changes)
    return spec


def with_ppo(**params) -> dict:
    return small_spec(methods=["ecmp", {"name": "sb3_ppo", "params": params}])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"env": {"window": -3}}, "spec: env: window -3: must be >= 1"),
        ({"env": {"window": [1, 2]}}, "spec: env: window [1, 2]: must be an integer"),
        ({"env": {"k": 0}}, "spec: env: k 0: must be >= 1 and <= 100"),
        (
            {"env": {"reward": "-latency"}},
            "spec: env: reward '-latency': must be one of '-mlu', '-mlu/optimal', '-phi', '-delay', 'composite'",
        ),
        ({"env": {"episode_length": 0}}, "spec: env: episode_length 0: must be >= 1"),
        ({"env": {"neighbours": "yes"}}, "spec: env: neighbours 'yes': must be true or false"),
        ({"env": {"part": "test"}}, "spec: env: unknown key 'part'"),
        ({"env": {"neighbors": True}}, "spec: env: unknown key 'neighbors' (did you mean 'neighbours'?)"),
        ({"env": [1]}, "spec: env must be a mapping of environment options"),
        (
            {"methods": [{"name": "sb3_ppo", "params": {"learning_rate": "1e-3"}}]},
            "spec: methods[0] (sb3_ppo): learning_rate '1e-3': must be a number, not a string (YAML reads a "
            "number like 1e-3 as text: write 1.0e-3)",
        ),
        (
            {"methods": [{"name": "sb3_ppo", "params": {"n_steps": -1}}]},
            "spec: methods[0] (sb3_ppo): n_steps -1: must be >= 1",
        ),
        (
            {"methods": [{"name": "sb3_ppo", "params": {"n_steps": [1, 2]}}]},
            "spec: methods[0] (sb3_ppo): n_steps [1, 2]: must be an integer",
        ),
        (
            {"methods": [{"name": "sb3_ppo", "params": {"net_arch": 5}}]},
            "spec: methods[0] (sb3_ppo): net_arch 5: must be a list of integers",
        ),
        (
            {"methods": [{"name": "ma_trpo", "params": {"delta": 0.5}}]},
            "spec: methods[0] (ma_trpo): delta 0.5: must lie within [delta_min, delta_max] = [0.002, 0.05]",
        ),
        (
            {"methods": [{"name": "ma_trpo", "params": {"atra": False}}]},
            "spec: methods[0] (ma_trpo): 'atra' is set by the method's name (ma_trpo)",
        ),
        (
            {"methods": [{"name": "ma_dqn", "params": {"gamma": 1.5}}]},
            "spec: methods[0] (ma_dqn): gamma 1.5: must be >= 0 and <= 1",
        ),
        (
            {"methods": [{"name": "ecmp", "params": {"k": 2}}]},
            "spec: methods[0]: baseline 'ecmp' takes no params",
        ),
        ({"scenario": {"train_fraction": 2}}, "spec: scenario: train_fraction 2.0: must be >= 0 and < 1"),
        (
            {"scenario": {"bursts": "abc"}},
            "spec: scenario: bursts 'abc': must be a list [a number, a number, an integer] or null",
        ),
        (
            {"scenario": {"bursts": [0.5, 2.0, 0]}},
            "spec: scenarios[0] (plain): bursts [0.5, 2.0, 0]: must be [rate, factor, duration] with a duration >= 1 interval",
        ),
        ({"scenario": {"noise": -0.1}}, "spec: scenario: noise -0.1: must be >= 0"),
        ({"scenario": {"load": 0.5}}, "spec: scenario: unknown key 'load'"),
        (
            {"scenarios": [{"name": "x", "options": {"validation": 1.0}}]},
            "spec: scenarios[0] (x): validation 1.0: must be >= 0 and < 1",
        ),
        ({"scenarios": [{"name": "x"}, {"name": "x"}]}, "spec: scenarios[1]: the name 'x' appears twice"),
        ({"loads": [0.5, -1]}, "spec: loads: -1 must be a number > 0 (or null for unscaled traffic)"),
        ({"seeds": [0, True]}, "spec: seeds: True is not an integer"),
        ({"training": {"timesteps": "many"}}, "spec: training.timesteps 'many': must be a positive integer"),
        (
            {"evaluation": {"episode_length": -2}},
            "spec: evaluation.episode_length -2: must be a positive integer or null",
        ),
        ({"domain": "clustr"}, "spec: domain: unknown domain 'clustr' (did you mean 'cluster'?)"),
        ({"sweep": "noize"}, "spec: sweep 'noize': not a scenario option (did you mean 'noise'?); options: "),
        (
            {"sweep": "noise", "scenarios": [{"name": "a", "options": {"noise": 0.1}}, {"name": "b"}]},
            "spec: sweep 'noise': scenario 'b' does not set it",
        ),
        (
            {"paper": {"values": [{"metric": "mlu", "value": "high"}]}},
            "spec: paper.values[0]: value 'high' must be a number",
        ),
    ],
)
def test_bad_values_are_refused_with_one_line(change, message):
    with pytest.raises(RlteError) as error:
        parse_spec(small_spec(**change), "spec")
    text = str(error.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_every_env_key_of_the_domain_is_accepted_and_checked_by_each_env_that_knows_it():
    domain = get_domain("flow_te")
    keys = env_keys(domain)
    assert {"observe", "action_type", "neighbours", "reward_sharing", "window", "k"} <= set(keys)
    assert not set(keys) & set(domain.reserved_env_keys)
    for key, classes in keys.items():
        assert all(key in options.keys() for options in classes)
    both = {"observe": "both", "action_type": "path", "neighbours": True, "reward_sharing": "local"}
    assert parse_spec(small_spec(env=both), "spec").env == both
    for env_id in domain.env_ids:
        assert set(options_class(env_id).keys()) - set(domain.reserved_env_keys) <= set(keys)


def test_every_registered_method_validates_its_default_params():
    for name, method in methods().items():
        assert method.check_params({}, name) is not None


def test_a_refused_spec_makes_no_run_folder(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(small_spec(env={"window": -3})))
    assert main(["run", str(bad), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip() == f"rlte: error: {bad}: env: window -3: must be >= 1"
    assert not (tmp_path / "runs").exists()


def test_unknown_traffic_and_topology_are_refused(tmp_path):
    with pytest.raises(
        RlteError,
        match=r"^spec: topology 'sndlib/abilen': unknown topohub id \(did you mean 'sndlib/abilene'",
    ):
        parse_spec(small_spec(topologies=["sndlib/abilen"]), "spec")
    with pytest.raises(RlteError, match=r"^spec: traffic 'uniform:fast': 'fast' is not a rate"):
        parse_spec(small_spec(traffic=["uniform:fast"]), "spec")


def test_binary_spec_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81name: x\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rlte: error: {path}")


#: Specs that name no file of the data directory (Abilene's and GEANT's traffic, MAROH's flow sets).
NO_DATA = [p for p in SPECS if not any(word in p.read_text() for word in ("abilene", "geant", "maroh/"))]


@pytest.mark.parametrize("path", NO_DATA, ids=[p.stem for p in NO_DATA])
def test_shipped_specs_that_need_no_data_validate_without_a_data_directory(path, monkeypatch):
    import rlte.datadir

    monkeypatch.delenv("RLTE_DATA", raising=False)
    monkeypatch.setattr(rlte.datadir, "_CHECKOUT_DATA", Path("/nonexistent-rlte-data"))
    assert load_spec(path, data_dir=None).cells()
