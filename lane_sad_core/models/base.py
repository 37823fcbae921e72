"""What every lane model offers: named outputs, named block activations, a block record.

Distillation needs the activations of a few named blocks during training, and nothing at
inference. Each model therefore writes its forward pass once, in :meth:`LaneModel._run`,
which files a block's output under its name only when that name was asked for. ``model(x)``
asks for none, so the inference graph is exactly the plain network: no hooks, no extra
tensors kept alive, nothing for ONNX export to trace.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor, nn

from lane_sad_core.errors import ConfigError

Outputs = dict[str, Tensor]


@dataclass(frozen=True)
class BlockInfo:
    """One named block whose activation :meth:`LaneModel.forward_blocks` can return.

    Attributes:
        name: block name (``E1``..``E4`` for ENet-SAD, ``layer1``..``layer4`` for ResNets).
        channels: channels of the block's output.
        stride: input size divided by the block's output size.
    """

    name: str
    channels: int
    stride: int


class LaneModel(nn.Module, ABC):
    """Base of the lane segmentation models.

    ``model(x)`` with ``x`` of shape (B, 3, H, W) returns ``{"seg": (B, C, H, W) logits,
    "exist": (B, num_lanes) logits}``; C = num_lanes + 1 (channel 0 is background).
    Subclasses set ``arch`` (their registry name), ``config`` (the keyword arguments that
    rebuild them with :func:`lane_sad_core.models.build_model`) and ``feature_info``.
    """

    arch: str
    HEADS: tuple[str, ...] = ()
    input_kind: str = "image"  # "labels" for LGAD's teacher, which reads one-hot label maps
    config: dict
    feature_info: tuple[BlockInfo, ...]

    @property
    def block_names(self) -> tuple[str, ...]:
        """Names of the blocks, shallow to deep."""
        return tuple(info.name for info in self.feature_info)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters of the shared encoder: every top-level module but :attr:`HEADS`.

        Distillation terms and the task loss meet here, so training compares their
        gradients on these parameters (:mod:`lane_sad_core.train.grad_monitor`).
        """
        heads = set(self.HEADS)
        return [p for name, p in self.named_parameters() if name.split(".")[0] not in heads]

    @property
    def attention_blocks(self) -> tuple[str, ...]:
        """Blocks whose attention maps are worth showing: every block but the shallowest.

        These are the blocks self attention distillation trains (neighbouring pairs, the
        low-level first block left out), so a detector can show what distillation shaped
        without knowing anything about distillation.
        """
        return self.block_names[1:]

    @property
    def num_lanes(self) -> int:
        """Lane slots predicted (the existence vector's length)."""
        return int(self.config["num_lanes"])

    def forward(self, x: Tensor) -> Outputs:
        """Segmentation and existence logits; see the class docstring."""
        outputs, _ = self._run(x, frozenset())
        return outputs

    def forward_blocks(self, x: Tensor, names: Iterable[str]) -> tuple[Outputs, dict[str, Tensor]]:
        """The outputs of :meth:`forward` plus the activations of the named blocks.

        Raises:
            ConfigError: a name is not one of :attr:`block_names`.
        """
        wanted = frozenset(names)
        unknown = sorted(wanted.difference(self.block_names))
        if unknown:
            raise ConfigError(f"{self.arch} has no block(s) {unknown}; known blocks: {list(self.block_names)}")
        return self._run(x, wanted)

    @abstractmethod
    def _run(self, x: Tensor, keep: frozenset[str]) -> tuple[Outputs, dict[str, Tensor]]:
        """The forward pass, filing the output of every block named in ``keep``."""

    def _check_input(self, x: Tensor, multiple: int) -> None:
        """Reject inputs the network cannot map back to full resolution."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ConfigError(f"{self.arch} expects a (B, 3, H, W) batch, got {tuple(x.shape)}")
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise ConfigError(f"{self.arch} needs H and W divisible by {multiple}, got {x.shape[-2]}x{x.shape[-1]}")


def init_weights(module: nn.Module) -> None:
    """He initialisation for convolutions, unit BatchNorm, small linear layers.

    Applied to every model so that freshly built networks (and the tests on them) start
    from the same, well-conditioned state regardless of PyTorch's per-layer defaults.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def keep_block(store: dict[str, Tensor], keep: frozenset[str], name: str, value: Tensor) -> Tensor:
    """File ``value`` under ``name`` when asked for; returns ``value`` for chaining."""
    if name in keep:
        store[name] = value
    return value
