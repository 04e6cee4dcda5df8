"""The fluid model's path-split link loads in torch, differentiable in the split ratios: what a
method that learns by gradient descent on the MLU itself (`rlte.agents.dote`) trains through.

It is built from `rlte.sim.flow.PathEvaluator`'s own slot incidence (row ``d * K + k`` is path k
of demand d, zero for padding), so for the same splits and demands it gives the same link loads
as `rlte.sim.flow.FlowModel.link_loads` (to rounding in float64)::

    load_e = sum_{d, k} split_dk * demand_d * [e in path_dk]
    util_e = load_e / capacity_e,     MLU = max_e util_e

The MLU's gradient is a subgradient: it flows to the links at the maximum only. The incidence is
a dense matrix when it is small (a matrix product) and a sparse (CSR) matrix otherwise, its
transpose kept for the gradient (a 200-node network has 160,000 slots and 1,000 links: about four
times faster, forward and backward, than index additions over the entries).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from rlte.net.paths import PathSet
from rlte.net.topology import Topology


def masked_softmax(logits: Tensor, mask: Tensor) -> Tensor:
    """Split ratios from logits [..., D, K]: a softmax over each demand's valid paths (as
    `rlte.envs.core.masked_softmax`); every demand has at least one path."""
    return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)


class _SparseLoads(torch.autograd.Function):
    """``flows [B, S] -> flows @ incidence [B, E]`` by a CSR product, and its gradient by the
    transposed CSR's (both built once; torch's own sparse backward transposes on every call)."""

    @staticmethod
    def forward(ctx, flows: Tensor, by_link: Tensor, by_slot: Tensor) -> Tensor:
        ctx.by_slot = by_slot
        return torch.sparse.mm(by_link, flows.T.contiguous()).T

    @staticmethod
    def backward(ctx, grad: Tensor):
        return torch.sparse.mm(ctx.by_slot, grad.T.contiguous()).T, None, None


def _csr(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int], dtype: torch.dtype) -> Tensor:
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    matrix.sort_indices()
    with (
        warnings.catch_warnings()
    ):  # "sparse CSR support is in beta": the product and its transpose are all it uses
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)), torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.as_tensor(matrix.data, dtype=dtype), size=shape,
        )  # fmt: skip


class TorchPathFlow:
    """Link loads, utilisations and the MLU of path splits on one topology and path set.

    Args:
        topology: the network (its capacities, bit/s).
        pathset: the candidate paths (``pathset.mask`` [D, K]).
        dtype: of every tensor (float64 to compare with `rlte.sim.flow`, float32 to train).
        capacity_scale: capacities are divided by this, so demands given in the same unit give the
            same utilisations (a learner can keep its numbers near 1).

        dense_limit: the most slot x link entries kept as a dense matrix.

    Attributes:
        mask: valid path slots. Shape [D, K], bool.
        incidence: slot x link incidence, dense (None above ``dense_limit``). Shape [D * K, E].
        by_link, by_slot: above ``dense_limit``, the incidence's transpose and itself as CSR
            matrices (None below). Shapes [E, D * K], [D * K, E].
        entry_slot: the slot of each of the incidence's nonzero entries. Shape [nnz], int64.
        capacity: link capacities over ``capacity_scale``. Shape [E].
    """

    def __init__(self, topology: Topology, pathset: PathSet, *, dtype: torch.dtype = torch.float32,
                 capacity_scale: float = 1.0, dense_limit: int = 2_000_000) -> None:  # fmt: skip
        from rlte.sim.flow import FlowModel

        self.evaluator = FlowModel(topology).paths(pathset)
        incidence = sp.coo_matrix(self.evaluator.incidence)
        self.num_demands, self.k_slots = pathset.mask.shape
        self.num_links = int(topology.num_links)
        self.dtype = dtype
        self.mask = torch.from_numpy(np.array(pathset.mask, dtype=bool))
        self.entry_slot = torch.from_numpy(incidence.row.astype(np.int64))
        self.incidence = (
            torch.as_tensor(incidence.toarray(), dtype=dtype) if incidence.shape[0] * incidence.shape[1] <= dense_limit
            else None
        )  # fmt: skip
        self.by_link = self.by_slot = None
        if self.incidence is None:  # link x slot and slot x link, CSR (`_SparseLoads`)
            slots = self.num_demands * self.k_slots
            self.by_link = _csr(incidence.col, incidence.row, (self.num_links, slots), dtype)
            self.by_slot = _csr(incidence.row, incidence.col, (slots, self.num_links), dtype)
        # the (demand, link) pairs of the entries, for the sensitivity: entry i adds to pair entry_pair[i]
        pair_key = (incidence.row // self.k_slots).astype(np.int64) * self.num_links + incidence.col
        keys, inverse = np.unique(pair_key, return_inverse=True)
        self.entry_pair = torch.from_numpy(inverse.astype(np.int64).ravel())
        self.pair_demand = torch.from_numpy(keys // self.num_links)
        self.pair_link = torch.from_numpy(keys % self.num_links)
        self.capacity = torch.as_tensor(np.asarray(topology.capacity, dtype=np.float64) / float(capacity_scale),
                                        dtype=dtype)  # fmt: skip

    def demands(self, traffic: np.ndarray) -> np.ndarray:
        """Traffic matrices [..., N, N] as demand vectors [..., D] in the path set's order."""
        return self.evaluator.demand_vector(np.asarray(traffic))

    def link_loads(self, splits: Tensor, demands: Tensor) -> Tensor:
        """Offered link loads. Shapes: splits [..., D, K], demands [..., D] -> [..., E]."""
        flows = splits * demands.unsqueeze(-1)
        flows = flows.reshape(*flows.shape[:-2], -1)
        if self.incidence is not None:
            return flows @ self.incidence
        batch = flows.reshape(-1, flows.shape[-1]).to(self.dtype)
        loads = _SparseLoads.apply(batch, self.by_link, self.by_slot)
        return loads.reshape(*flows.shape[:-1], self.num_links)

    def utilisation(self, splits: Tensor, demands: Tensor) -> Tensor:
        """Link utilisations. Shapes: splits [..., D, K], demands [..., D] -> [..., E]."""
        return self.link_loads(splits, demands) / self.capacity

    def mlu(self, splits: Tensor, demands: Tensor) -> Tensor:
        """The maximum link utilisation. Shapes: splits [..., D, K], demands [..., D] -> [...]."""
        return self.utilisation(splits, demands).amax(dim=-1)

    def sensitivity(self, splits: Tensor) -> Tensor:
        """``S[..., d, e]``: the utilisation a unit more of demand d adds on link e,
        ``sum_k split_dk [e in path_dk] / capacity_e``, on the (demand, link) pairs some path of the
        demand crosses (`pair_demand`, `pair_link`). Shapes: splits [..., D, K] -> [..., U]."""
        flat = splits.reshape(*splits.shape[:-2], -1).index_select(-1, self.entry_slot)
        per_pair = flat.new_zeros((*flat.shape[:-1], len(self.pair_link)))
        per_pair = per_pair.index_add(-1, self.entry_pair, flat)
        return per_pair / self.capacity[self.pair_link]

    def worst_sensitivity(self, splits: Tensor) -> Tensor:
        """``max_e S[..., d, e]``: the most a unit more of demand d adds to any one link's
        utilisation (1 / capacity of its bottleneck when it takes one path; less when its paths are
        disjoint). Shapes: splits [..., D, K] -> [..., D]."""
        per_pair = self.sensitivity(splits)
        index = self.pair_demand.expand_as(per_pair)
        worst = per_pair.new_zeros((*per_pair.shape[:-1], self.num_demands))
        return worst.scatter_reduce(-1, index, per_pair, reduce="amax", include_self=False)


__all__ = ["TorchPathFlow", "masked_softmax"]
