"""SAM (sharpness-aware minimisation) and the official linear warm-up / decay learning-rate schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["SAM", "linear_decay_factor"]


class SAM(torch.optim.Optimizer):
    """Sharpness-aware minimisation over a base optimiser (Foret et al. 2021).

    Per step: compute the loss and gradients, call :meth:`first_step` (climb to ``w + rho * g / ||g||``),
    compute the loss and gradients again, call :meth:`second_step` (restore ``w`` and apply the base
    optimiser with the new gradients). :meth:`step` does both given a closure that recomputes the loss
    and calls ``backward``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        base_optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        rho: float = 0.05,
        adaptive: bool = False,
        **kwargs: Any,
    ) -> None:
        if rho < 0:
            raise ValueError(f"SAM rho must be >= 0, got {rho}")
        defaults = dict(rho=rho, adaptive=adaptive, **kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    @torch.no_grad()
    def _grad_norm(self) -> torch.Tensor:
        device = self.param_groups[0]["params"][0].device
        norms = [
            ((torch.abs(p) if group["adaptive"] else 1.0) * p.grad).norm(p=2).to(device)
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if not norms:
            return torch.zeros((), device=device)
        return torch.stack(norms).norm(p=2)

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Move each parameter to the local worst case ``w + e(w)``."""
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.detach().clone()
                e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e_w)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Restore ``w`` and take the base optimiser's step with the gradients at ``w + e(w)``."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or "old_p" not in self.state[p]:
                    continue
                p.copy_(self.state[p]["old_p"])
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Both SAM steps. Call after a first ``backward``; ``closure`` recomputes the loss and calls ``backward``."""
        if closure is None:
            raise ValueError("SAM.step needs a closure that recomputes the loss and calls backward()")
        closure = torch.enable_grad()(closure)
        self.first_step(zero_grad=True)
        loss = closure()
        self.second_step()
        return loss

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.base_optimizer.param_groups = self.param_groups


def linear_decay_factor(epoch: int, n_epoch: int, start_decay: int, booster: float = 4.0) -> float:
    """LR multiplier of the official ``LinearDecayLR`` (the engine's ``linear_decay`` schedule, per epoch).

    ``1 + (booster - 1) * e / start_decay`` before ``start_decay`` (warm-up to ``booster``), then
    ``booster * (1 - (e - start_decay) / (n_epoch - start_decay))`` (linear to 0 at ``n_epoch``).
    """
    if n_epoch <= 0 or not 0 <= start_decay <= n_epoch:
        raise ValueError(f"need n_epoch > 0 and 0 <= start_decay <= n_epoch, got {n_epoch}, {start_decay}")
    if epoch < start_decay:
        return 1.0 + (booster - 1.0) * epoch / start_decay
    if n_epoch == start_decay:
        return booster
    return max(0.0, booster * (1.0 - (epoch - start_decay) / (n_epoch - start_decay)))
