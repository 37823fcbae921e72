"""When a distillation term is on, and how fast it comes in: one schedule for every method.

The SAD paper switches its terms on late (40K of 60K iterations), once the deep blocks'
attention maps are worth imitating, and its author ramps the weight in (Hou et al. 2019;
cardwing/Codes-for-Lane-Detection issue answers). Every method's config derives from
:class:`Schedule`, so each has its own ``start_iter`` and ``ramp_iters`` next to its weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from lane_sad_core.errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    """A method's switch-on iteration and linear ramp.

    Attributes:
        start_iter: first (0-based) training iteration at which the method may act.
        ramp_iters: its terms are scaled by ``(iteration - start_iter) / ramp_iters``, from
            0 at ``start_iter`` to full weight ``ramp_iters`` iterations later; 0 switches
            them on at full weight at ``start_iter`` (a step).
    """

    start_iter: int = 0
    ramp_iters: int = 0

    def __post_init__(self) -> None:
        if self.start_iter < 0 or self.ramp_iters < 0:
            raise ConfigError(
                f"start_iter and ramp_iters must be >= 0, got start_iter {self.start_iter}, "
                f"ramp_iters {self.ramp_iters}"
            )

    def scale(self, iteration: int) -> float:
        """The factor on the method's weighted terms at ``iteration``, in [0, 1]."""
        if iteration < self.start_iter:
            return 0.0
        if self.ramp_iters == 0:
            return 1.0
        return min(1.0, (iteration - self.start_iter) / self.ramp_iters)

    def active(self, iteration: int) -> bool:
        """Whether the method contributes anything at ``iteration``."""
        return self.scale(iteration) > 0.0
