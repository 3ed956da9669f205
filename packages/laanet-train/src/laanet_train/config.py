"""Typed training configuration: frozen dataclasses read from YAML, with dotted overrides.

``load_config(path, overrides=["train.epochs=2", "data.input_size=128"])`` returns a :class:`TrainConfig`.
Unknown keys, values of the wrong type and impossible values raise :class:`ConfigError` with a message that
names the offending key and what was expected.

Configs hold no machine paths. A relative path written in a config file (``data.root``,
``data.val_fakes_dir``, ``train.output_dir``, a file in ``model.init_from``) is relative to that file's
folder; a path given as a command-line override is relative to the working directory. ``data.root`` has no
default: give it in the file or on the command line. Without ``train.output_dir`` a run writes to
``runs/<name>`` under the working directory.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A training configuration that cannot be used (unknown key, wrong type, impossible value)."""


#: the largest config file read (recipes are a few kB)
MAX_CONFIG_BYTES = 1 << 20
#: the most values (scalars, lists and mappings, aliases counted at every place they are used) a YAML document
#: may expand to: a recursive alias or a "billion laughs" document is refused before it is built
MAX_YAML_VALUES = 100_000


def _expanded_values(root: yaml.Node, limit: int) -> int:
    """Values ``root`` stands for once its aliases are expanded; :class:`ConfigError` for a recursive alias or
    more than ``limit``. Each node is counted once and reused (memo), so this is linear in the document."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def count(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:
            raise ConfigError("a YAML alias refers to the value that contains it (a recursive alias)")
        active.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(count(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(count(k) + count(v) for k, v in node.value)
        else:
            total = 1
        active.discard(key)
        if total > limit:
            raise ConfigError(f"the YAML expands to more than {limit:,} values through its aliases; a recipe "
                              "needs far fewer")
        memo[key] = total
        return total

    return count(root)


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that checks the composed document (aliases, size) before building any value."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_values(node, MAX_YAML_VALUES)
        return node


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)`` with alias and size limits; :class:`ConfigError` for invalid, recursive, too
    large or too deeply nested YAML."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the YAML is {len(text):,} characters; a recipe is at most {MAX_CONFIG_BYTES:,}")
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"not valid YAML ({what}{where})") from None
    except RecursionError:
        raise ConfigError("the YAML is nested too deeply") from None


@dataclass(frozen=True)
class ModelConfig:
    """Which architecture to build and how to initialise it.

    ``init_from`` starts from trained weights instead (fine-tuning): a state dict saved by this engine
    (``best.pt`` / ``last.pt``), a ``.safetensors`` file with its card, or a registered weights name.
    """

    variant: str = "laanet_efficientnet_lite0"
    pretrained: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None


@dataclass(frozen=True)
class DataConfig:
    """Where the real faces come from and how pairs are made.

    ``source="lfw"`` reads ``root`` as an LFW folder (``images_deepfunneled`` + ``landmarks68_dlib.npz`` +
    people lists) and splits identities with ``train_list`` / ``val_list``. ``source="index"`` reads a face
    index written by ``laanet-synth preprocess`` (``root`` is the index file or its folder) and splits its
    identities deterministically with ``val_fraction``. ``quality`` turns on the resolution and quality
    invariance of training pairs: ``true`` or ``"v2"``, or ``"v3"`` (v2 plus edge-preserving smoothing), the
    named recipes of :data:`laanet_synth.quality.QUALITY_RECIPES`. ``bi_share`` (with ``synthesis="sbi"``) makes that
    share of the *training* pairs BI pairs instead (a donor from another identity, same quality recipe); the
    validation pairs stay SBI, so runs with and without it are compared on the same pairs. ``real_views`` renders
    each training pair's real face a second time at another effective resolution with the same photometric
    draws, for the ``loss.rescons`` term (it needs ``quality`` and ``synthesis="sbi"``). ``extra_csv`` names a
    labelled image list (columns ``path``, ``label`` 0 real / 1 fake, ``group``, ``split``; paths relative to
    ``extra_root``, by default the list's folder, like ``deepfakes/index.csv`` of the shared data): its real rows of ``extra_split`` join the training
    faces, ``extra_share`` makes that share of the training pairs come from those real faces alone (drawn
    uniformly among them; without it they are drawn as often as any LFW face, which for a few dozen faces
    beside thousands is almost never), and with ``swap_share`` that share of the training pairs are real face swaps of ``extra_split`` paired
    with the real frame of their group (:class:`laanet_synth.swaps.SwapPairDataset`). ``val_seed`` fixes the validation subset and its
    fakes independently of the run's seed (so runs with different seeds are compared on the same pairs).
    """

    source: Literal["lfw", "index"] = "lfw"
    root: str | None = None
    train_list: str = "peopleDevTrain.txt"
    val_list: str = "peopleDevTest.txt"
    val_fraction: float = 0.1
    synthesis: Literal["sbi", "bi"] = "sbi"
    crop_recipe: str = "official-sbi"
    input_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    batch_pairs: int = 8
    num_workers: int = 1
    max_train_faces: int | None = None
    max_val_faces: int | None = 400
    val_seed: int | None = None
    val_fakes_dir: str | None = None
    quality: bool | str = False
    bi_share: float = 0.0
    real_views: bool = False
    extra_csv: str | None = None
    extra_root: str | None = None
    extra_split: str = "train"
    extra_share: float = 0.0
    swap_share: float = 0.0

    def validation_seed(self, seed: int) -> int:
        """Seed of the validation subset and its fakes: ``val_seed``, or the run's seed + 1."""
        return seed + 1 if self.val_seed is None else self.val_seed

    @property
    def heatmap_size(self) -> int:
        """Output stride 4: the heatmap side for this input size."""
        return self.input_size // 4


@dataclass(frozen=True)
class LossConfig:
    """Loss weights: ``L = hm * L_hm + cls * L_cls + cstency * L_cstency + rescons * L_rescons``; ``rescons``
    (resolution consistency between a real face and its ``data.real_views`` view) is ours, 0 in the official
    recipes."""

    hm: float = 10.0
    cls: float = 1.0
    cstency: float = 100.0
    rescons: float = 0.0


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser: plain Adam/AdamW, or SAM over Adam (two forward/backward passes per step)."""

    name: Literal["adam", "adamw", "sam"] = "adam"
    lr: float = 5e-5
    weight_decay: float = 1e-4
    rho: float = 0.05
    grad_clip: float | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule.

    ``linear_decay``: the official per-epoch warm-up/decay (``lr = b(1 + (booster-1) e / start_decay)`` up to
    ``start_decay``, then linear to 0 at the last epoch). ``warmup_cosine``: per step, linear warm-up for
    ``warmup_steps`` then cosine to ``min_factor * lr`` at the last step. ``constant``: no schedule.
    """

    name: Literal["linear_decay", "warmup_cosine", "constant"] = "linear_decay"
    start_decay: int | None = None
    booster: float = 4.0
    warmup_steps: int = 0
    min_factor: float = 0.0


@dataclass(frozen=True)
class RunConfig:
    """Loop length, checkpointing, precision and device. ``keep_epoch_weights`` also keeps each epoch's
    weights as ``epoch_<k>.pt`` (for selecting a checkpoint on other data than the synthetic validation).
    ``freeze_bn`` keeps every BatchNorm layer on its running statistics during training (their scale and shift
    still learn): a fine-tune of averaged weights with small batches then leaves the averaged statistics as
    they are instead of replacing them with those of a few noisy batches.

    ``start_epoch`` continues a run whose folder is gone from an epoch's exported weights: with
    ``model.init_from`` naming the run's ``epoch_<k-1>.pt`` (or its export) and ``start_epoch: k``, a run with no
    ``state.pt`` yet starts at epoch ``k`` of the same schedule and data order. The optimiser starts afresh, so
    the learning rate is warmed up again over ``schedule.warmup_steps`` from there; the result is close to, not
    bit-identical with, the uninterrupted run. A run that has its ``state.pt`` resumes from it as always."""

    epochs: int = 100
    steps_per_epoch: int | None = None
    freeze_backbone_epochs: int = 0
    save_every_steps: int = 200
    val_every_epochs: int = 1
    device: str = "auto"
    bf16: bool = True
    channels_last: bool = True
    num_threads: int | None = None
    output_dir: str | None = None
    stop_after_steps: int | None = None
    progress: bool = True
    keep_epoch_weights: bool = False
    freeze_bn: bool = False
    start_epoch: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """A complete training recipe."""

    name: str = "laanet"
    seed: int = 317
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: RunConfig = field(default_factory=RunConfig)

    @property
    def output_dir(self) -> Path:
        """Where the run lives: ``train.output_dir``, or ``runs/<name>`` under the working directory."""
        return Path(self.train.output_dir or Path("runs") / self.name)


#: config keys holding paths, resolved against the config file's folder when written there
PATH_KEYS = (("data", "root"), ("data", "val_fakes_dir"), ("data", "extra_csv"), ("data", "extra_root"), ("train", "output_dir"), ("model", "init_from"))
_WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors")


def resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of ``raw`` with its relative :data:`PATH_KEYS` made relative to ``base`` (absolute ones and
    ``~`` are kept; ``model.init_from`` only when it names a weights file, not a registered weights name)."""
    out = _deep_copy(raw)
    for section, key in PATH_KEYS:
        node = out.get(section)
        if not isinstance(node, dict) or not isinstance(node.get(key), str) or not node[key]:
            continue
        value = Path(node[key]).expanduser()
        if section == "model" and value.suffix not in _WEIGHT_SUFFIXES:
            continue
        if not value.is_absolute():
            node[key] = str((base / value).resolve())
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check (and gently convert) ``value`` against the annotation ``tp``; raise ConfigError if impossible."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} fields, got {value!r}")
        return _build(tp, value, key)
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise ConfigError(f"{key}: expected {'true/false' if tp is bool else 'a string'}, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is Any:
        return value
    raise ConfigError(f"{key}: unsupported field type {tp!r}")  # pragma: no cover - a coding error


def _build(cls: type, raw: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        where = f" in '{prefix}'" if prefix else ""
        raise ConfigError(f"unknown key(s){where}: {', '.join(unknown)}; expected some of {sorted(names)}")
    kwargs = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(value, hints[name], key)
    return cls(**kwargs)


def _check(cfg: TrainConfig) -> None:
    """Reject values that parse but cannot work."""
    from laanet_synth.quality import QUALITY_RECIPES  # here, so that `laanet-train --help` stays light

    def need(ok: bool, msg: str) -> None:
        if not ok:
            raise ConfigError(msg)

    d, o, s, r, lo = cfg.data, cfg.optim, cfg.schedule, cfg.train, cfg.loss
    need(d.input_size >= 32 and d.input_size % 32 == 0,
         f"data.input_size: expected a multiple of 32 that is >= 32, got {d.input_size}")
    need(d.batch_pairs >= 1, f"data.batch_pairs: expected >= 1, got {d.batch_pairs}")
    need(d.num_workers >= 0, f"data.num_workers: expected >= 0, got {d.num_workers}")
    need(0.0 < d.val_fraction < 1.0, f"data.val_fraction: expected a number in (0, 1), got {d.val_fraction}")
    need(all(x > 0 for x in d.std), f"data.std: expected positive values, got {d.std}")
    need(isinstance(d.quality, bool) or d.quality in QUALITY_RECIPES,
         f"data.quality: expected true, false or one of {sorted(QUALITY_RECIPES)}, got {d.quality!r}")
    need(0.0 <= d.bi_share <= 1.0, f"data.bi_share: expected a number in [0, 1], got {d.bi_share}")
    need(not d.bi_share or d.synthesis == "sbi",
         "data.bi_share: mixes BI pairs into SBI training, so it needs data.synthesis 'sbi'")
    need(0.0 <= d.extra_share <= 1.0, f"data.extra_share: expected a number in [0, 1], got {d.extra_share}")
    need(not d.extra_share or d.synthesis == "sbi",
         "data.extra_share: mixes pairs of the extra real faces into SBI training, so it needs data.synthesis 'sbi'")
    need(0.0 <= d.swap_share <= 1.0, f"data.swap_share: expected a number in [0, 1], got {d.swap_share}")
    need(not d.swap_share or d.synthesis == "sbi",
         "data.swap_share: mixes real swap pairs into SBI training, so it needs data.synthesis 'sbi'")
    for name in ("max_train_faces", "max_val_faces"):
        v = getattr(d, name)
        need(v is None or v >= 1, f"data.{name}: expected null or >= 1, got {v}")
    need(not d.real_views or (d.quality is not False and d.synthesis == "sbi"),
         "data.real_views: renders the real faces of SBI training at another resolution, so it needs data.quality "
         "and data.synthesis 'sbi'")
    need(bool(lo.rescons) == d.real_views,
         "loss.rescons and data.real_views go together: the term compares each real face with its view "
         f"(got loss.rescons={lo.rescons}, data.real_views={d.real_views})")
    for name in ("hm", "cls", "cstency", "rescons"):
        need(getattr(lo, name) >= 0, f"loss.{name}: expected a weight >= 0, got {getattr(lo, name)}")
    need(lo.cls > 0, "loss.cls: expected > 0 (the classifier is what the detector uses)")
    need(o.lr > 0, f"optim.lr: expected > 0, got {o.lr}")
    need(o.weight_decay >= 0, f"optim.weight_decay: expected >= 0, got {o.weight_decay}")
    need(o.rho > 0, f"optim.rho: expected > 0, got {o.rho}")
    need(o.grad_clip is None or o.grad_clip > 0, f"optim.grad_clip: expected null or > 0, got {o.grad_clip}")
    need(r.epochs >= 1, f"train.epochs: expected >= 1, got {r.epochs}")
    need(r.steps_per_epoch is None or r.steps_per_epoch >= 1,
         f"train.steps_per_epoch: expected null or >= 1, got {r.steps_per_epoch}")
    need(0 <= r.freeze_backbone_epochs <= r.epochs,
         f"train.freeze_backbone_epochs: expected 0..train.epochs ({r.epochs}), got {r.freeze_backbone_epochs}")
    need(r.save_every_steps >= 1, f"train.save_every_steps: expected >= 1, got {r.save_every_steps}")
    need(r.val_every_epochs >= 1, f"train.val_every_epochs: expected >= 1, got {r.val_every_epochs}")
    need(r.stop_after_steps is None or r.stop_after_steps >= 1,
         f"train.stop_after_steps: expected null or >= 1, got {r.stop_after_steps}")
    need(0 <= r.start_epoch < r.epochs, f"train.start_epoch: expected 0..train.epochs-1 ({r.epochs - 1}), got {r.start_epoch}")
    need(r.start_epoch == 0 or bool(cfg.model.init_from),
         "train.start_epoch: continuing at a later epoch needs the weights it continues from in model.init_from "
         "(the run's epoch_<k-1>.pt or its export)")
    need(r.num_threads is None or r.num_threads >= 1,
         f"train.num_threads: expected null or >= 1, got {r.num_threads}")
    need(r.device == "auto" or r.device == "cpu" or r.device.startswith("cuda"),
         f"train.device: expected 'auto', 'cpu' or 'cuda[:N]', got {r.device!r}")
    need(s.booster > 0, f"schedule.booster: expected > 0, got {s.booster}")
    need(s.start_decay is None or 0 <= s.start_decay < r.epochs,
         f"schedule.start_decay: expected null or 0..train.epochs-1, got {s.start_decay}")
    need(s.warmup_steps >= 0, f"schedule.warmup_steps: expected >= 0, got {s.warmup_steps}")
    need(0.0 <= s.min_factor <= 1.0, f"schedule.min_factor: expected 0..1, got {s.min_factor}")


def config_from_dict(raw: dict[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a plain mapping (as read from YAML)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping at the top of the config, got {type(raw).__name__}")
    cfg = _build(TrainConfig, raw)
    _check(cfg)
    return cfg


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. train.epochs=2")
    key, _, value = text.partition("=")
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {text!r}: empty key segment")
    try:
        parsed = load_yaml(value) if value.strip() else None
    except ConfigError as exc:
        raise ConfigError(f"override {text!r}: value: {exc}") from None
    return parts, parsed


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``a.b=value`` overrides applied (values parsed as YAML scalars)."""
    out = _deep_copy(raw)
    for text in overrides:
        parts, value = _parse_override(text)
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: '{p}' is not a section")
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a YAML recipe, apply ``KEY=VALUE`` overrides, validate, return a frozen :class:`TrainConfig`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: the file is {path.stat().st_size:,} bytes; a recipe is at most "
                              f"{MAX_CONFIG_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        raw = load_yaml(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        from_file = resolve_paths(raw, path.resolve().parent)
        return config_from_dict(resolve_paths(apply_overrides(from_file, list(overrides)), Path.cwd()))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-data view of a config (tuples become lists) for YAML/JSON dumps and model cards."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return conv(cfg)
