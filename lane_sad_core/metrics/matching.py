"""The CULane evaluator's lane matching (Kuhn-Munkres with a 0.01 tolerance), reproduced.

The official tool (``hungarianGraph.hpp``, ``Counter::makeMatch``) does not compute an exact
maximum-weight assignment: an edge counts as tight when ``|lx + ly - w| < 1e-2``, so on
near-ties it can keep a matching up to 0.01 below the optimum, and which lanes it pairs
depends on the loop order. ``scipy.optimize.linear_sum_assignment`` (used by public Python
ports) can pair lanes differently and, after the IoU > 0.5 test, count a different number
of true positives. This is a line-for-line port of the C++ algorithm, including its
treatment of NaN weights (never tight; skipped by ``std::min``).
"""

from __future__ import annotations

import numpy as np


class _Graph:
    """Complete bipartite graph with ``left <= right`` vertices, matched by KM."""

    def __init__(self, weights: list[list[float]]) -> None:
        self.w = weights
        self.n_left = len(weights)
        self.n_right = len(weights[0])
        self.left_match = [-1] * self.n_left
        self.right_match = [-1] * self.n_right
        self.left_label = [-1e5] * self.n_left
        self.right_label = [0.0] * self.n_right
        self.left_used = [False] * self.n_left
        self.right_used = [False] * self.n_right

    def _augment(self, u: int) -> bool:
        self.left_used[u] = True
        for v in range(self.n_right):
            if not self.right_used[v] and abs(self.left_label[u] + self.right_label[v] - self.w[u][v]) < 1e-2:
                self.right_used[v] = True
                if self.right_match[v] == -1 or self._augment(self.right_match[v]):
                    self.right_match[v] = u
                    self.left_match[u] = v
                    return True
        return False

    def _slack(self) -> float:
        d = 1e10
        for i in range(self.n_left):
            if self.left_used[i]:
                for j in range(self.n_right):
                    if not self.right_used[j]:
                        x = self.left_label[i] + self.right_label[j] - self.w[i][j]
                        if x < d:  # std::min(d, x): a NaN x never wins
                            d = x
        return d

    def match(self) -> None:
        for i in range(self.n_left):
            for value in self.w[i]:
                if self.left_label[i] < value:
                    self.left_label[i] = value
        for u in range(self.n_left):
            while True:
                self.left_used = [False] * self.n_left
                self.right_used = [False] * self.n_right
                if self._augment(u):
                    break
                d = self._slack()
                if d == 1e10:
                    return
                for i in range(self.n_left):
                    if self.left_used[i]:
                        self.left_label[i] -= d
                for j in range(self.n_right):
                    if self.right_used[j]:
                        self.right_label[j] += d


def official_match(similarity: np.ndarray) -> list[int]:
    """Match annotations to detections as ``Counter::makeMatch`` does.

    Args:
        similarity: (n_anno, n_detect) IoU matrix, both sizes >= 1.

    Returns:
        For each annotation, the index of its detection, or -1.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    transposed = sim.shape[0] > sim.shape[1]
    graph = _Graph((sim.T if transposed else sim).tolist())
    graph.match()
    return graph.right_match if transposed else graph.left_match
