"""Training throughput: does data loading keep up with the model step?

* loader: SBI pairs per second made by one process (crop + synthesis + targets), as one DataLoader worker
  makes them, at the built-in recipe's 160 px;
* model step: pairs per second through one Adam step of the Lite0 LAA-Net (6 real + 6 fake, 160 px,
  all three losses), with channels_last, and the same step with the default memory format.

Each benchmark stores pairs/s in ``extra_info``; the step benchmark also stores the loader rate measured in
the same session and ``bound`` (``"loader"`` or ``"model"``): with W workers, loading keeps up when
W x loader pairs/s >= model pairs/s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from laanet_model.variants import create_model
from laanet_synth.crops import get_recipe, recipe_for_size
from laanet_synth.dataset import FaceIndex, SBIPairDataset, collate_pairs
from laanet_train.losses import LossWeights, laanet_loss

SIZE = 160
PAIRS = 6
_RATES: dict[str, float] = {}


@pytest.fixture(scope="module")
def dataset(lfw_dir: Path) -> SBIPairDataset:
    index = FaceIndex.from_lfw(lfw_dir, "train").subset(list(range(64)))
    return SBIPairDataset(index, recipe_for_size(SIZE, get_recipe("official-sbi")), seed=0, split="train")


@pytest.fixture(scope="module")
def batch(dataset: SBIPairDataset) -> dict[str, torch.Tensor]:
    return collate_pairs([dataset[i] for i in range(PAIRS)])


def test_bench_train_loader_pairs_per_second(benchmark, dataset: SBIPairDataset) -> None:
    counter = iter(range(10**9))

    def make_batch() -> dict[str, torch.Tensor]:
        start = next(counter) * PAIRS % (len(dataset) - PAIRS)
        return collate_pairs([dataset[start + i] for i in range(PAIRS)])

    out = benchmark.pedantic(make_batch, rounds=4, iterations=1, warmup_rounds=1)
    assert out["image"].shape == (2 * PAIRS, 3, SIZE, SIZE)
    rate = PAIRS / benchmark.stats.stats.median
    _RATES["loader"] = rate
    benchmark.extra_info.update({"pairs_per_second_one_process": round(rate, 2), "input_size": SIZE})


@pytest.mark.parametrize("channels_last", [True, False], ids=["channels_last", "contiguous"])
def test_bench_train_model_step_pairs_per_second(benchmark, batch, channels_last: bool) -> None:
    torch.manual_seed(0)
    model = create_model("laanet_efficientnet_lite0", pretrained=False, input_size=SIZE).train()
    x = batch["image"]
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    targets = {"hm": batch["hm"], "cstency": batch["cst"], "label": batch["label"]}
    weights = LossWeights(hm=0.5, cls=1.0, cstency=0.5)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = laanet_loss(model(x), targets, weights)["loss"]
        loss.backward()
        opt.step()
        return float(loss.detach())

    loss = benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    assert torch.isfinite(torch.tensor(loss))
    rate = PAIRS / benchmark.stats.stats.median
    info = {"pairs_per_second": round(rate, 2), "input_size": SIZE, "threads": torch.get_num_threads()}
    if "loader" in _RATES:
        info["loader_pairs_per_second_one_process"] = round(_RATES["loader"], 2)
        info["bound"] = "loader" if _RATES["loader"] < rate else "model"
    benchmark.extra_info.update(info)
