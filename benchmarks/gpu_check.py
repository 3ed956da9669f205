"""The GPU check's measurements (run by ``benchmarks/gpu_check.sh``): one JSON object per check on standard output.

* ``throughput``: faces/s of the official B4 at 384 px in bf16 with channels_last, batch 64;
* ``parity``: the official-layout fixture network in float32 against float64 on the device (and against the
  reference outputs of the fixture at full size);
* ``synthesis``: the batched SBI blending (``laanet_synth.gpu``) on the device against the same code on the CPU,
  pairs/s of each and their largest difference on identical inputs;
* ``train``: 50 steps of the official SBI recipe (``configs/efn4_sbi.yaml``, real faces from the shared LFW)
  under ``torchrun --nproc-per-node 1``, so the model is wrapped in DDP, on one GPU.

The last line is a summary table.

``--dry-run`` runs every check on the CPU with tiny sizes, to prove the script works where there is no GPU.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
PARITY_FIXTURES = REPO / "packages" / "laanet-model" / "tests" / "conftest.py"


@dataclass(frozen=True)
class CheckSizes:
    """How big each check is: the full sizes on a GPU, tiny ones for the dry run on the CPU."""

    device: str
    input_size: int
    batch: int
    timed_batches: int
    parity_size: int
    synth_size: int
    synth_batch: int
    train_steps: int
    train_overrides: tuple[str, ...]


FULL = CheckSizes(device="cuda", input_size=384, batch=64, timed_batches=20, parity_size=384, synth_size=384,
                  synth_batch=64, train_steps=50,
                  train_overrides=("data.max_val_faces=64", "data.num_workers=6", "train.device=auto"))
DRY = CheckSizes(device="cpu", input_size=64, batch=2, timed_batches=2, parity_size=64, synth_size=64,
                 synth_batch=4, train_steps=2,
                 train_overrides=("data.input_size=64", "data.batch_pairs=2", "data.max_train_faces=8",
                                  "data.max_val_faces=4", "data.num_workers=0", "model.pretrained=false",
                                  "train.device=cpu", "train.num_threads=1"))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` (device work included)."""
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def check_throughput(sizes: CheckSizes) -> dict:
    """Faces/s of the official B4 (random weights) in bf16 autocast with channels_last, heads cls and hm."""
    from laanet_model import create_model

    device = torch.device(sizes.device)
    torch.manual_seed(0)
    model = create_model("laanet_efficientnet_b4", input_size=sizes.input_size).to(device).eval()
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(sizes.batch, 3, sizes.input_size, sizes.input_size, device=device)
    x = x.contiguous(memory_format=torch.channels_last)

    def run() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
            model(x, heads=("cls", "hm"))

    run()  # warm-up (cuDNN algorithm search)
    run()
    per_batch = _seconds(run, device, sizes.timed_batches)
    return {"check": "throughput", "model": "laanet_efficientnet_b4", "input_size": sizes.input_size,
            "batch": sizes.batch, "dtype": "bfloat16", "channels_last": True, "device": str(device),
            "s_per_batch": per_batch, "faces_per_s": sizes.batch / per_batch}


def _parity_fixtures() -> ModuleType:
    """The official-layout fixture recipe the model tests use (the checkpoint filled from its key list)."""
    spec = importlib.util.spec_from_file_location("laanet_parity_fixtures", PARITY_FIXTURES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_parity(sizes: CheckSizes) -> dict:
    """The official-layout network in float32 and float64 on the device, on the fixture's input batch."""
    from laanet_model.checkpoints import OFFICIAL_VARIANT, load_state_dict_checked, official_filter_fn
    from laanet_model.variants import create_model

    fx = _parity_fixtures()
    device = torch.device(sizes.device)
    sd = {k: torch.as_tensor(v) for k, v in fx.official_state_dict().items()}
    model64 = create_model(OFFICIAL_VARIANT).double()
    load_state_dict_checked(model64, official_filter_fn(sd), what="official-layout fixture")
    model64 = model64.to(device).eval()
    model32 = copy.deepcopy(model64).float()
    s = sizes.parity_size
    x = torch.from_numpy(fx.official_input()[:, :, :s, :s]).to(device)
    with torch.inference_mode():
        out64 = model64(x, heads=("cls", "hm"))
        out32 = model32(x.float(), heads=("cls", "hm"))
    result = {"check": "parity", "device": str(device), "input_size": s,
              "float32_vs_float64": {h: float((out32[h].double() - out64[h]).abs().max()) for h in ("cls", "hm")}}
    if s == 384:
        expected = fx.FIXTURES / "expected.npz"
        with np.load(expected) as z:
            result["float64_vs_reference"] = {
                h: float(np.abs(out64[h].cpu().numpy() - z[h]).max()) for h in ("cls", "hm")}
    return result


def check_synthesis(sizes: CheckSizes) -> dict:
    """The batched SBI blending on the device against the CPU: pairs/s of each, and the largest difference of
    the blended masks and images for identical inputs and parameters."""
    from laanet_synth.gpu import SBIBatchParams, blend_images, blend_masks, sample_sbi_params, sbi_blend_batch
    from laanet_synth.landmarks import template_landmarks
    from laanet_synth.masks import hull_mask

    s, b = sizes.synth_size, sizes.synth_batch
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, size=(b, 3, s, s), dtype=np.uint8))
    hull = hull_mask((s, s), template_landmarks(s / 2, s / 2, s / 210), "facehull")
    masks = torch.from_numpy(hull)[None, None].repeat(b, 1, 1, 1).float()
    params = sample_sbi_params(b, s, s, torch.Generator().manual_seed(0))
    timings, blended = {}, {}
    for name in ("cpu", sizes.device):
        dev = torch.device(name)
        imgs, ms = images.to(dev), masks.to(dev)
        p = SBIBatchParams(*(t.to(dev) for t in (params.affine, params.sigma1, params.sigma2, params.ratio)))
        gen = torch.Generator(device=dev).manual_seed(0)
        sbi_blend_batch(imgs, imgs, ms, gen)  # warm-up
        timings[name] = _seconds(lambda: sbi_blend_batch(imgs, imgs, ms, gen), dev, 3)  # noqa: B023
        m = blend_masks(ms, p.sigma1, p.sigma2)
        blended[name] = (m.cpu(), blend_images(imgs, imgs.flip(3), m, p.ratio).cpu())
    cpu_m, cpu_img = blended["cpu"]
    dev_m, dev_img = blended[sizes.device]
    return {"check": "synthesis", "device": sizes.device, "size": s, "batch": b,
            "device_pairs_per_s": b / timings[sizes.device], "cpu_pairs_per_s": b / timings["cpu"],
            "speedup": timings["cpu"] / timings[sizes.device],
            "max_mask_difference": float((dev_m - cpu_m).abs().max()),
            "max_image_difference": float((dev_img.float() - cpu_img.float()).abs().max())}


def shared_lfw() -> Path:
    """The shared LFW folder: ``$LAANET_SHARED/data/lfw``, else ``../shared/data/lfw`` beside the checkout."""
    root = Path(os.environ["LAANET_SHARED"]) if os.environ.get("LAANET_SHARED") else REPO.parent / "shared"
    return root / "data" / "lfw"


def check_train(sizes: CheckSizes) -> dict:
    """``laanet-train`` on the official SBI recipe for a few steps under torchrun (one process: DDP)."""
    lfw = shared_lfw()
    if not (lfw / "landmarks68_dlib.npz").is_file():
        return {"check": "train", "skipped": f"no LFW with landmarks68_dlib.npz at {lfw}"}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="laanet-gpu-check-") as out:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
               "-m", "laanet_train.cli", "-c", str(REPO / "packages/laanet-train/configs/efn4_sbi.yaml"),
               "data.source=lfw", f"data.root={lfw}", f"train.steps_per_epoch={sizes.train_steps + 1}",
               f"train.stop_after_steps={sizes.train_steps}", "train.progress=false", f"train.output_dir={out}",
               *sizes.train_overrides]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"check": "train", "ok": False, "returncode": proc.returncode, "stderr_tail": proc.stderr[-2000:]}
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"check": "train", "ok": summary.get("global_step") == sizes.train_steps, "ddp_processes": 1,
            "steps": summary.get("global_step"), "seconds_with_startup": seconds,
            "steps_per_s_with_startup": sizes.train_steps / seconds}


CHECKS: dict[str, Callable[[CheckSizes], dict]] = {
    "throughput": check_throughput, "parity": check_parity, "synthesis": check_synthesis, "train": check_train}


def summary_line(results: Sequence[dict]) -> str:
    """One line per check with its headline figure."""
    lines = ["summary:"]
    for r in results:
        name = r.get("check")
        if name == "throughput":
            lines.append(f"  B4 {r['input_size']} px bf16 channels_last batch {r['batch']} on {r['device']}: "
                         f"{r['faces_per_s']:.1f} faces/s")
        elif name == "parity":
            ref = r.get("float64_vs_reference")
            lines.append(f"  official fixture float32 vs float64 on {r['device']}: cls {r['float32_vs_float64']['cls']:.2e}, "
                         f"hm {r['float32_vs_float64']['hm']:.2e}"
                         + (f"; float64 vs reference: cls {ref['cls']:.2e}, hm {ref['hm']:.2e}" if ref else ""))
        elif name == "synthesis":
            lines.append(f"  SBI blending {r['size']} px batch {r['batch']}: {r['device']} {r['device_pairs_per_s']:.0f} "
                         f"pairs/s vs cpu {r['cpu_pairs_per_s']:.0f} pairs/s ({r['speedup']:.1f}x), max difference "
                         f"mask {r['max_mask_difference']:.1e} image {r['max_image_difference']:.1e}")
        elif name == "train":
            if "skipped" in r:
                lines.append(f"  training: skipped ({r['skipped']})")
            elif r.get("ok"):
                lines.append(f"  training: {r['steps']} DDP steps of the official SBI recipe in "
                             f"{r['seconds_with_startup']:.1f} s (start-up included)")
            else:
                lines.append(f"  training: FAILED (exit {r.get('returncode')}, steps {r.get('steps')})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checks", nargs="*", metavar="CHECK", help=f"some of {list(CHECKS)} (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="on the CPU with tiny sizes")
    args = parser.parse_args(argv)
    unknown = [c for c in args.checks if c not in CHECKS]
    if unknown:
        parser.error(f"unknown checks {unknown}; known: {list(CHECKS)}")
    sizes = DRY if args.dry_run else FULL
    if sizes.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --dry-run to check the script on the CPU")
    print(json.dumps({"check": "sizes", **asdict(sizes)}), flush=True)
    t0 = time.perf_counter()
    results = []
    for name in args.checks or list(CHECKS):
        results.append(CHECKS[name](sizes))
        print(json.dumps(results[-1]), flush=True)
    print(summary_line(results) + f"\n  total {time.perf_counter() - t0:.0f} s", flush=True)
    failed = [r["check"] for r in results if r.get("ok") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
