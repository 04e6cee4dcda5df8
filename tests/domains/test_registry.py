"""The registry of domains and methods: what experiments, reports and the CLI iterate over."""

from __future__ import annotations

import pytest

from rlte.cli import main
from rlte.domains import (
    Domain,
    MethodInfo,
    check_method,
    domains,
    get_domain,
    get_method,
    methods,
    register_domain,
    register_method,
)
from rlte.envs import ENVS, options_class
from rlte.errors import RlteError


def test_built_in_domains_and_their_methods_are_registered():
    assert {"flow_te", "packet"} <= set(domains())
    assert {"ma_trpo", "ma_ppo", "ma_dqn", "sb3_ppo"} <= set(methods("flow_te"))
    assert {"off_greedy", "on_dbl_expected_softmax_2hop"} <= set(methods("packet"))
    assert not set(methods("flow_te")) & set(methods("packet"))


@pytest.mark.parametrize("name", sorted(methods()))
def test_every_method_names_a_registered_environment_and_a_valid_config(name):
    method = get_method(name)
    domain = get_domain(method.domain)
    assert method.env_id in ENVS and method.env_id in domain.env_ids
    assert method.agent is not None or method.runner is not None
    config = method.check_params({}, name)
    for key, value in method.fixed.items():
        assert getattr(config, key) == value  # the name's fixed fields are the config's


@pytest.mark.parametrize("name", sorted(domains()))
def test_every_domain_declares_what_reports_need(name):
    domain = get_domain(name)
    names = {metric.name for metric in domain.metrics}
    assert domain.primary in names
    assert set(domain.table_metrics) <= names | {metric.name for metric in domain.scalar_metrics}
    assert set(domain.time_metrics) <= names and set(domain.load_figure_metrics) <= names
    assert domain.reference is None or domain.reference in domain.baseline_names()
    assert set(domain.rivals) <= set(domain.baseline_names())
    for env_id in domain.env_ids:
        assert options_class(env_id).keys()
    assert domain.metric(domain.primary).label


def test_unknown_domain_and_misplaced_method_are_one_line_errors():
    with pytest.raises(
        RlteError, match=r"^spec: unknown domain 'flow-te' \(did you mean 'flow_te'\?\); domains: "
    ):
        get_domain("flow-te", "spec")
    with pytest.raises(
        RlteError, match=r"^m: method 'off_greedy' belongs to the packet domain, not flow_te$"
    ):
        check_method(get_domain("flow_te"), "off_greedy", {}, "m")
    with pytest.raises(RlteError, match=r"^m: unknown method 'ma_trp' \(did you mean 'ma_trpo'\?\)$"):
        check_method(get_domain("flow_te"), "ma_trp", {}, "m")
    with pytest.raises(RlteError, match=r"^m \(off_greedy\): learning_rate 2.0: must be > 0 and <= 1$"):
        check_method(get_domain("packet"), "off_greedy", {"learning_rate": 2.0}, "m")
    with pytest.raises(
        RlteError, match=r"^m \(off_greedy\): 'double' is set by the method's name \(off_greedy\)$"
    ):
        check_method(get_domain("packet"), "off_greedy", {"double": True}, "m")


def test_a_name_cannot_be_registered_twice_for_something_else():
    with pytest.raises(ValueError, match="registered already"):
        register_domain(type("Other", (Domain,), {"name": "flow_te"})())
    method = get_method("ma_ppo")
    with pytest.raises(ValueError, match="registered already"):
        register_method(
            MethodInfo("ma_ppo", method.domain, method.env_id, method.agent, method.config, "other")
        )


def test_a_names_defaults_can_be_overridden_but_its_fixed_fields_cannot():
    two_hop = get_method("on_dbl_expected_softmax_2hop")
    assert two_hop.check_params({}, "x").learning_rate == 0.5  # seed 004's rate for its 2-hop row
    assert two_hop.check_params({"learning_rate": 0.9}, "x").learning_rate == 0.9
    assert two_hop.check_params({}, "x").hops == 2


def test_rlte_list_prints_every_domain_and_method(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in (*domains(), *methods()):
        assert name in out
