"""The `rlte` command: outputs, and one line plus exit code 2 for every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rlte.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rlte: error: ")
    assert message in lines[0], lines[0]
    assert "Traceback" not in err


# ---------------------------------------------------------------------- outputs
def test_topo_show_builtin_and_topohub(capsys, tmp_path):
    code, out, _ = run(capsys, "topo", "show", "nsfnet14")
    assert code == 0 and "nsfnet14: 14 nodes, 42 directed links, hop diameter 3" in out
    code, out, err = run(
        capsys, "topo", "show", "sndlib/abilene", "--json", "--plot", str(tmp_path / "a.png")
    )
    summary = json.loads(out)
    assert summary["nodes"] == 12 and summary["links"] == 30 and len(summary["links_list"]) == 30
    assert (tmp_path / "a.png").stat().st_size > 10_000
    assert "wrote" in err


def test_topo_list(capsys):
    code, out, _ = run(capsys, "topo", "list", "--json")
    listing = json.loads(out)
    assert "sndlib/abilene" in listing["topohub"] and listing["builtin"] == ["nsfnet14", "grid6x6"]


def test_traffic_show_generated(capsys):
    code, out, _ = run(capsys, "traffic", "show", "uniform:1e6", "--topology", "nsfnet14", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["steps"] == 1 and summary["nodes"] == 14


def test_traffic_show_abilene_week(capsys, data_dir, tmp_path):
    code, out, err = run(
        capsys, "traffic", "show", "abilene", "--data-dir", str(data_dir), "--plot", str(tmp_path / "t.png")
    )
    assert code == 0
    assert "2016 matrices of 12 x 12" in out
    assert (tmp_path / "t.png").exists()


def test_baselines_json_topohub(capsys):
    code, out, _ = run(
        capsys,
        "baselines",
        "--topology",
        "sndlib/abilene",
        "--traffic",
        "topohub",
        "--json",
        "--links",
        "--methods",
        "ecmp,lp_opt",
        "--load",
        "0.5",
    )
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [row["method"] for row in rows] == ["ecmp", "lp_opt"]
    for key in (
        "method",
        "topology",
        "oracle",
        "mlu",
        "mean_util",
        "phi",
        "mean_delay_ms",
        "loss_rate",
        "throughput",
        "runtime_s",
    ):
        assert key in rows[0]
    assert rows[1]["oracle"] is True and rows[1]["mlu"] == pytest.approx(0.5, rel=1e-5)
    assert rows[0]["mlu"] >= rows[1]["mlu"]
    links = rows[0]["links"]
    assert len(links) == 30 and set(links[0]) == {"src", "dst", "load_bps", "util"}
    assert max(link["util"] for link in links) == pytest.approx(rows[0]["mlu"])


def test_baselines_table_uniform_with_capacity(capsys):
    code, out, _ = run(
        capsys,
        "baselines",
        "--topology",
        "nsfnet14",
        "--traffic",
        "uniform:1e8",
        "--capacity",
        "1e9",
        "--methods",
        "sp,ecmp,lp_opt",
    )
    assert code == 0
    assert "lp_opt (oracle)" in out and "ecmp" in out


# ---------------------------------------------------------------------- user errors
def test_bad_inputs_give_one_line_and_exit_2(capsys, tmp_path):
    bad_gml = tmp_path / "bad.gml"
    bad_gml.write_text("graph [ node [ id 0 ")
    negative = tmp_path / "neg.csv"
    negative.write_text("src,dst,rate_bps\n0,1,-5\n")
    nan = tmp_path / "nan.csv"
    nan.write_text("src,dst,rate_bps\n0,1,nan\n")
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("src,dst,rate_bps\n0,99,5\n")
    cases = [
        (
            ["topo", "show", "sndlib/abilen"],
            "topology 'sndlib/abilen': unknown topohub id (did you mean 'sndlib/abilene'",
        ),
        (["topo", "show", "nosuch"], "topology 'nosuch': not a built-in, a file or a topohub id"),
        (["topo", "show", str(bad_gml)], f"{bad_gml}: not valid GML"),
        (["topo", "show", str(tmp_path / "missing.gml")], f"{tmp_path / 'missing.gml'}: no such file"),
        (["topo", "show", "abilene", "--data-dir", str(tmp_path / "nodir")], "--data-dir"),
        (
            ["traffic", "show", str(negative), "--topology", "nsfnet14"],
            f"{negative}:2: rate_bps -5.0 must be a finite number >= 0",
        ),
        (
            ["traffic", "show", str(nan), "--topology", "nsfnet14"],
            f"{nan}:2: rate_bps nan must be a finite number >= 0",
        ),
        (
            ["traffic", "show", str(stranger), "--topology", "nsfnet14"],
            f"{stranger}:2: dst '99' is not a node of topology 'nsfnet14'",
        ),
        (
            ["baselines", "--topology", "nsfnet14", "--traffic", "uniform:1e6", "--methods", "ospf"],
            "baseline 'ospf': unknown",
        ),
        (
            ["baselines", "--topology", "nsfnet14", "--traffic", "uniform:1e6", "--load", "0"],
            "--load 0.0: must be a positive number",
        ),
        (
            ["baselines", "--topology", "nsfnet14", "--traffic", "uniform:1e6", "--load", "nan"],
            "--load nan: must be a positive number",
        ),
        (
            ["baselines", "--topology", "nsfnet14", "--traffic", "uniform:1e6", "--capacity", "-1"],
            "--capacity -1.0: must be a positive number",
        ),
        (
            ["baselines", "--topology", "nsfnet14", "--traffic", "topohub"],
            "topology 'nsfnet14': has no static demand matrix",
        ),
        (
            ["baselines", "--topology", "nsfnet14", "--traffic", "uniform:1e6", "--train-fraction", "1.5"],
            "--train-fraction 1.5: must be >= 0 and < 1",
        ),
    ]
    for argv, message in cases:
        assert_user_error(capsys, argv, message)


def test_usage_errors_exit_2(capsys):
    """argparse's own errors (missing arguments) also exit 2, in one line."""
    assert main(["baselines", "--topology", "nsfnet14"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlte: error: rlte baselines: ") and "--traffic" in err[0]


@pytest.mark.slow
def test_console_script_exit_code(tmp_path):
    """The installed entry point propagates the exit status and prints no traceback."""
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "rlte", "topo", "show", "sndlib/abilen"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rlte: error: topology 'sndlib/abilen': unknown topohub id (did you mean 'sndlib/abilene', 'sndlib/brain', 'sndlib/atlanta'?)"
    ]
