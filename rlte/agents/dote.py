"""DOTE-style direct optimisation of traffic engineering (Perry et al., NSDI'23), and a burst-robust
variant after FIGRET (Liu et al., SIGCOMM'24): a network maps the last H traffic matrices straight to
split ratios over the candidate paths, trained by gradient descent on the MLU of the interval that
follows, through a differentiable copy of the fluid model (`rlte.agents.common.torch_flow`). No
reward, no exploration, no critic: the objective is the metric itself.

**Data.** The training part of ``rlte/TE-v0``'s scenario (observing ``"traffic"``). Example t, for
every interval t >= H of the part: the input is the demands of intervals t - H ... t - 1 divided by
the median link capacity and clipped at 4, exactly as the environment's observation holds them (so
a decision at test time sees what training saw, and nothing of interval t); the target is interval
t's demands. Inputs are standardised by their mean and standard deviation over the training examples
(kept in the network, hence in checkpoints).

**Network.** An MLP (ReLU hidden layers, ``hidden_sizes``) from the H x D inputs to D x K outputs;
the action is ``tanh`` of them (the environment's action space, [-1, 1]), and the split ratios are
the environment's own map, a softmax of ``logit_scale * action`` over each demand's valid paths
(`rlte.envs.core.masked_softmax`). The method's registration sets ``logit_scale`` 10, so a path's
share can go down to e^-20 of another's (the default 3 keeps every path above 0.25 %).

**Loss.** The mean over a minibatch of ``MLU(splits(x_t), demand_t)`` (DOTE's objective; with
``objective="ratio"`` each interval's MLU over its LP optimum, so that quiet intervals weigh as much
as busy ones). Inputs are ``scale_free`` by default: each window divided by its mean total demand
before standardising (the MLU-optimal routing of c D is D's, so the network sees the traffic's
shape; on a held-out training day of Abilene this did better than raw volumes). The robust variant adds
``robustness * mean_d sigma_d max_e S_de``: ``S_de`` the utilisation a unit more of demand d adds on
link e (`TorchPathFlow.worst_sensitivity`), ``sigma_d`` demand d's standard deviation over the
training part in the capacity unit; so the penalty is the mean, over the pairs, of how far a burst
of one standard deviation of that pair can raise its worst link. A routing that spreads a bursty
pair over disjoint paths pays less (FIGRET's idea; this penalty is rlte's reading of it, not FIGRET's
code).

**Training.** Adam (AdamW with ``weight_decay``), ``batch_size`` examples drawn without replacement
per step (from the numpy generator), optionally with dropout on the hidden layers (masks from the
torch generator) and a step size decayed linearly to 0 (``anneal_lr``); ``timesteps`` counts examples
(an epoch of a part of T intervals is T - H); a block is
``log_interval`` steps; the learning log's reward is minus the minibatch MLU (also ``train_mlu``;
``objective`` is the loss minimised, ``burst_penalty`` its penalty term). Checkpoints are exact
(`rlte.agents.common.training.CheckpointedLearner`).

The decision interval t reads intervals before t only (the environment's time-series protocol); a
test interval's routing costs one forward pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from rlte.agents.common.configs import AgentConfig
from rlte.agents.common.layers import orthogonal_linear, seeded_dropout
from rlte.agents.common.torch_flow import TorchPathFlow, masked_softmax
from rlte.agents.common.training import CheckpointedLearner, EpisodeReturns
from rlte.envs.contract import unwrapped
from rlte.envs.core import UTILISATION_CLIP
from rlte.errors import RlteError
from rlte.options import option


@dataclass
class DOTEConfig(AgentConfig):
    """Hyperparameters of the DOTE-style learner."""

    history: int | None = option(None, ge=1)
    """H, the past intervals the network reads (None: the environment's whole window)."""
    hidden_sizes: tuple[int, ...] = option((64,), ge=1)
    """Hidden layer sizes of the MLP."""
    learning_rate: float = option(3e-4, gt=0.0)
    """Adam step size."""
    weight_decay: float = option(0.0, ge=0.0)
    """AdamW's decoupled weight decay (0: plain Adam)."""
    dropout: float = option(0.0, ge=0.0, lt=1.0)
    """Dropout on every hidden layer's output (after its ReLU) while training (0: none)."""
    anneal_lr: bool = False
    """Decay the step size linearly to 0 over the training budget (from the examples seen, so a
    resumed run takes the same steps)."""
    batch_size: int = option(32, ge=1)
    """Examples (intervals) per gradient step."""
    objective: Literal["mlu", "ratio"] = "mlu"
    """What a minibatch's loss averages: each interval's MLU (DOTE's), or its MLU over the
    interval's LP optimum (every interval weighs the same, however much traffic it carries)."""
    scale_free: bool = True
    """Divide each input window by its mean total demand before standardising (the MLU-optimal
    routing of c x D is D's: the network then sees the traffic's shape, not its volume)."""
    robustness: float = option(0.0, ge=0.0)
    """Weight of the burst penalty (0: DOTE; > 0: the FIGRET-style robust variant)."""
    log_interval: int = option(50, ge=1)
    """Gradient steps per training block (a learning-log row)."""


class DOTENetwork(nn.Module):
    """Standardised history [B, H * D] to actions in [-1, 1], [B, D * K].

    Args:
        inputs: H * D.
        outputs: D * K.
        hidden_sizes: the MLP's hidden layers.
        mean, std: of the inputs over the training examples. Shape [H * D].
        generator: draws the initial weights.
    """

    def __init__(self, inputs: int, outputs: int, hidden_sizes, mean: np.ndarray, std: np.ndarray,
                 generator: torch.Generator, *, scale_free: bool = False, history: int = 1,
                 dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.scale_free, self.history = bool(scale_free), int(history)
        # dropout masks come from the agent's generator (checkpointed), never the global one
        self.dropout, self.generator = float(dropout), generator
        layers: list[nn.Module] = []
        sizes = [int(inputs), *(int(size) for size in hidden_sizes), int(outputs)]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            linear = orthogonal_linear(fan_in, fan_out, 0.01 if last else float(np.sqrt(2.0)), generator)
            layers += [linear] if last else [linear, nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def features(self, history: Tensor) -> Tensor:
        """The inputs before standardising: as observed, or over the window's mean total demand
        (``scale_free``). Shapes: [B, H * D] -> [B, H * D]."""
        if not self.scale_free:
            return history
        total = history.sum(-1, keepdim=True) / self.history
        return history / torch.clamp(total, min=1e-9)

    def forward(self, history: Tensor) -> Tensor:
        """Shapes: [B, H * D] (as observed) -> [B, D * K], in [-1, 1]."""
        hidden = (self.features(history) - self.mean) / self.std
        for layer in self.body:
            hidden = layer(hidden)
            if self.training and isinstance(layer, nn.ReLU):
                hidden = seeded_dropout(hidden, self.dropout, self.generator)
        return torch.tanh(hidden)


def history_examples(features: Tensor, history: int, rows: Tensor) -> Tensor:
    """The inputs of some examples of a part: example i (interval t = i + H) is intervals
    t - H ... t - 1, flattened oldest first (built per minibatch: the whole table of a 200-node
    network's week would take gigabytes).

    Args:
        features: the observed demands of every interval. Shape [T, D].
        history: H.
        rows: the examples, in [0, T - H). Shape [B], int64.

    Returns:
        Shape [B, H * D].
    """
    index = rows.unsqueeze(-1) + torch.arange(history)  # [B, H]
    return features[index].reshape(len(rows), -1)


class DOTEAgent(CheckpointedLearner):
    """DOTE (``robustness`` 0) or its burst-robust variant on ``rlte/TE-v0`` (module docstring).

    Args:
        params: `DOTEConfig` fields.
        seed: seeds the torch generator (weights) and the numpy generator (minibatches, the
            environment's first reset).
    """

    NAME = "dote"
    CONFIG = DOTEConfig
    LOG_COLUMNS = ("timesteps", "episode_reward_mean", "objective", "train_mlu", "burst_penalty", "updates")
    COUNTERS = {"timesteps": "num_timesteps", "updates": "updates"}

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = self.CONFIG.parse(params or {}, self.NAME)
        self.network: DOTENetwork | None = None

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        base = unwrapped(env)
        core = getattr(base, "core", None)
        if core is None or getattr(base, "action_type", None) != "splits" or core.observe != "traffic":
            raise RlteError(
                f"{self.NAME}: needs rlte/TE-v0 with observe='traffic' and action_type='splits' (its registration "
                "sets them)"
            )
        config = self.config
        self.window, self.num_demands, self.k_slots = (
            int(core.window),
            int(core.num_demands),
            int(core.k_slots),
        )
        self.history = int(config.history or self.window)
        if self.history > self.window:
            raise RlteError(
                f"{self.NAME}: history {self.history} exceeds the environment's window {self.window} (set env: window)"
            )
        self.logit_scale = float(base.logit_scale)
        self.flow = TorchPathFlow(core.base_topology, core.pathset, capacity_scale=core.traffic_scale)
        demands = self.flow.demands(core.matrices) / core.traffic_scale  # [T, D], capacity units
        if len(demands) <= self.history:
            raise RlteError(
                f"{self.NAME}: the training part has {len(demands)} intervals, not more than the history {self.history}"
            )
        observed = np.minimum(demands, UTILISATION_CLIP)  # what the environment's observation holds
        self.observed = torch.as_tensor(observed, dtype=torch.float32)
        self.num_examples = len(demands) - self.history
        self.targets = torch.as_tensor(demands[self.history :], dtype=torch.float32)
        self.burstiness = torch.as_tensor(demands.std(axis=0), dtype=torch.float32)
        self.weights = torch.ones(len(self.targets))
        if config.objective == "ratio":  # the LP optima, solved once per matrix (the scenario's cache)
            optimal = [core.scenario.optimal_mlu(core.part, t, core.base_topology) for t in
                       range(self.history, len(demands))]  # fmt: skip
            self.weights = torch.as_tensor(1.0 / np.maximum(optimal, 1e-9), dtype=torch.float32)
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        size = self.history * self.num_demands
        self.network = DOTENetwork(size, self.num_demands * self.k_slots, config.hidden_sizes, np.zeros(size),
                                   np.ones(size), self.torch_rng, scale_free=config.scale_free,
                                   history=self.history, dropout=config.dropout)  # fmt: skip
        with torch.no_grad():  # standardise by the training examples' features (in chunks, in float64)
            total, squares = torch.zeros(size, dtype=torch.float64), torch.zeros(size, dtype=torch.float64)
            for begin in range(0, self.num_examples, 256):
                rows = torch.arange(begin, min(begin + 256, self.num_examples))
                features = self.network.features(self.inputs(rows)).double()
                total += features.sum(0)
                squares += (features**2).sum(0)
            mean = total / self.num_examples
            variance = (squares - self.num_examples * mean**2) / max(self.num_examples - 1, 1)
            self.network.mean.copy_(mean.float())
            self.network.std.copy_(torch.clamp(variance.clamp(min=0.0).sqrt(), min=1e-3).float())
        parameters = self.network.parameters()
        self.optimizer = (  # plain Adam without decay: the same steps as before the option existed
            torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
            if config.weight_decay > 0
            else torch.optim.Adam(parameters, lr=config.learning_rate)
        )
        self.num_timesteps = self.updates = 0
        self.episodes = EpisodeReturns()

    def _stateful(self) -> dict:
        return {"network": self.network, "optimizer": self.optimizer}

    def _identity_extra(self) -> dict:
        return {"examples": int(self.num_examples), "demands": self.num_demands, "k": self.k_slots}

    def inputs(self, rows: Tensor) -> Tensor:
        """The inputs of training examples ``rows`` (`history_examples`). Shapes: [B] -> [B, H * D]."""
        return history_examples(self.observed, self.history, rows)

    def _first_reset(self, env) -> None:
        env.reset(seed=self.seed)

    # ------------------------------------------------------------------ the objective
    def splits(self, actions: Tensor) -> Tensor:
        """The environment's split ratios of actions [B, D * K] -> [B, D, K]."""
        logits = self.logit_scale * actions.reshape(-1, self.num_demands, self.k_slots)
        return masked_softmax(logits, self.flow.mask)

    def losses(self, inputs: Tensor, targets: Tensor, weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The loss of a minibatch, its mean MLU and its mean burst penalty (see the module
        docstring); ``weights`` multiply each interval's MLU (1, or 1 / its LP optimum)."""
        splits = self.splits(self.network(inputs))
        each = self.flow.mlu(splits, targets)
        objective = (each * weights).mean()
        mlu = each.mean()
        penalty = torch.zeros(())
        if self.config.robustness > 0:
            penalty = (self.flow.worst_sensitivity(splits) * self.burstiness).mean()
        return objective + self.config.robustness * penalty, mlu, penalty

    def _block(self, env, timesteps: int) -> tuple[dict, None]:
        config = self.config
        examples = self.num_examples
        size = min(config.batch_size, examples)
        totals = np.zeros(3)
        steps = 0
        self.network.train()
        while steps < config.log_interval and self.num_timesteps < timesteps:
            index = torch.from_numpy(self.numpy_rng.choice(examples, size=size, replace=False))
            if config.anneal_lr:
                fraction = 1.0 - self.num_timesteps / max(timesteps, 1)
                for group in self.optimizer.param_groups:
                    group["lr"] = config.learning_rate * fraction
            loss, mlu, penalty = self.losses(self.inputs(index), self.targets[index], self.weights[index])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.num_timesteps += size
            self.updates += 1
            steps += 1
            totals += [float(loss.detach()), float(mlu.detach()), float(penalty.detach())]
            self.episodes.add(-float(mlu.detach()), True)
        loss, mlu, penalty = totals / max(steps, 1)
        return {"objective": loss, "train_mlu": mlu, "burst_penalty": penalty, "updates": self.updates}, None

    # ------------------------------------------------------------------ deciding
    def act(self, observation: np.ndarray) -> np.ndarray:
        """The action for the next interval from the observed window (``rlte/TE-v0``'s traffic
        observation, [W * D], oldest first): the last H intervals through the network."""
        if self.network is None:
            raise RlteError(f"{self.NAME}: train() it before act()")
        window = np.asarray(observation, dtype=np.float32).reshape(self.window, self.num_demands)
        self.network.eval()
        with torch.no_grad():
            inputs = torch.from_numpy(np.ascontiguousarray(window[-self.history :]).reshape(1, -1))
            return self.network(inputs)[0].numpy()

    def describe(self) -> dict:
        """The algorithm's name (DOTE, or DOTE-robust with a burst penalty), the seed and every
        hyperparameter."""
        name = "DOTE-robust" if self.config.robustness > 0 else "DOTE"
        return {"algorithm": name, "seed": self.seed, **asdict(self.config)}


__all__ = ["DOTEAgent", "DOTEConfig", "DOTENetwork", "history_examples"]
