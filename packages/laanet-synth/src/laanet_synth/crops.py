"""Face crop recipes as data and the crop function shared by training and inference."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .faces import BOX_RETINAFACE, Face, check_rgb_uint8

#: calibrated box = tight landmark box extended by these fractions of its width/height (left, top, right, bottom)
CALIBRATION_EXTEND = (0.06, 0.30, 0.06, 0.04)


class CropError(ValueError):
    """Raised when a face cannot be cropped (degenerate box, bad recipe)."""


@dataclass(frozen=True)
class CropRecipe:
    """How a face box becomes the network input.

    Steps: (1) box = the detector box when it is a RetinaFace box (``face.box_convention ==
    "retinaface"``, the box the official recipe was made for), else the landmark-calibrated box when
    ``calibrate`` (dlib HOG, S3FD and other boxes, see :func:`calibrate_box`), else the detector box; (2) enlarge by ``margin``
    of its width/height on each side, clip to the frame, cut it out (integer pixels) and ``cv2.resize`` to
    ``crop_size`` square; (3) optionally rotate about the crop centre so the inner eye corners (39, 42) are
    level (``align_eyes``); (4) the checkpoint's trim: drop ``border_trim`` pixels on every side, or
    ``cv2.resize`` to ``resize_to`` and keep ``window`` = (y0, y1, x0, x1); (5) the corner-aligned affine
    warp to ``input_size`` (:func:`warp_to_size`).

    ``antialias=True`` resamples with ``cv2.INTER_AREA`` wherever a step shrinks (the cut-out to
    ``crop_size`` and the final warp, which then becomes a plain area resize), so a face from a large photo
    is not sharpened by aliasing on its way to the network. The official recipes keep ``INTER_LINEAR``.

    ``max_source_px`` caps the effective resolution: a cut-out (box + margin) larger than ``max_source_px``
    pixels on its longer side is first reduced to that size with area averaging, then resized on as usual. A
    face photographed large then reaches the network with no more detail than a face of the cap's size, so
    its score does not depend on how large it was photographed beyond that. ``None`` (the official recipes
    and the default) keeps every pixel.
    """

    name: str = "custom"
    calibrate: bool = True
    margin: float = 0.25
    crop_size: int = 256
    border_trim: int = 0
    resize_to: int | None = None
    window: tuple[int, int, int, int] | None = None
    align_eyes: bool = False
    input_size: int = 384
    antialias: bool = False
    max_source_px: int | None = None

    def __post_init__(self) -> None:
        if self.crop_size < 8 or self.input_size < 8:
            raise CropError(f"crop_size and input_size must be >= 8, got {self.crop_size}, {self.input_size}")
        if self.margin < 0:
            raise CropError(f"margin must be >= 0, got {self.margin}")
        if self.max_source_px is not None and self.max_source_px < 8:
            raise CropError(f"max_source_px must be None or >= 8, got {self.max_source_px}")
        if self.border_trim < 0 or 2 * self.border_trim >= self.crop_size:
            raise CropError(f"border_trim must be in [0, crop_size/2), got {self.border_trim}")
        if (self.resize_to is None) != (self.window is None):
            raise CropError("resize_to and window go together (both set or both None)")
        if self.window is not None:
            y0, y1, x0, x1 = self.window
            assert self.resize_to is not None
            if not (0 <= y0 < y1 <= self.resize_to and 0 <= x0 < x1 <= self.resize_to):
                raise CropError(f"window {self.window} must lie inside the {self.resize_to} px resize")
            if self.border_trim:
                raise CropError("use either border_trim or resize_to/window, not both")


#: the official SBI checkpoint: RetinaFace box + 25 % per side, 256 px, trim 5 px, warp to 384
OFFICIAL_SBI = CropRecipe(name="official-sbi", border_trim=5, input_size=384)
#: the official BI checkpoint: RetinaFace box + 25 % per side, 256 px, resize 317, keep [18:299, 18:299], warp to 384
OFFICIAL_BI = CropRecipe(name="official-bi", resize_to=317, window=(18, 299, 18, 299), input_size=384)
#: the SBI recipe with the crop rotated so the inner eye corners are level (training-style alignment)
ALIGNED_SBI = replace(OFFICIAL_SBI, name="aligned-sbi", align_eyes=True)
#: the SBI recipe with anti-aliased (area) resampling wherever it shrinks: the recipe the built-in model trained with
ANTIALIASED_SBI = replace(OFFICIAL_SBI, name="antialiased-sbi", antialias=True)

#: the anti-aliased recipe with the effective resolution capped at 192 px across the cut-out (the built-in model's
#: recipe): a face photographed large takes the path an LFW face (about 140 px across its cut-out) takes in
#: training, enlarged to ``crop_size`` and then shrunk to the input
CAPPED_SBI = replace(ANTIALIASED_SBI, name="antialiased-capped-sbi", max_source_px=192)

RECIPES: dict[str, CropRecipe] = {
    r.name: r for r in (OFFICIAL_SBI, OFFICIAL_BI, ALIGNED_SBI, ANTIALIASED_SBI, CAPPED_SBI)
}


def recipe_for_size(input_size: int, base: CropRecipe = OFFICIAL_SBI) -> CropRecipe:
    """``base`` with another network input size (e.g. 256 for a light model)."""
    return replace(base, name=f"{base.name}-{input_size}", input_size=int(input_size))


def get_recipe(name: str) -> CropRecipe:
    """A named recipe; ``"<name>-<size>"`` gives that recipe at another input size."""
    if name in RECIPES:
        return RECIPES[name]
    base, _, size = name.rpartition("-")
    if base in RECIPES and size.isdigit():
        return recipe_for_size(int(size), RECIPES[base])
    raise CropError(f"unknown crop recipe {name!r}; expected one of {sorted(RECIPES)} or '<name>-<size>'")


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """A network-ready face crop: ``image`` (S, S, 3) uint8 RGB, ``matrix`` (2, 3) image -> crop pixels,
    ``landmarks`` (68, 2) in crop pixels, ``box`` the calibrated (pre-margin) box in image pixels."""

    image: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray
    box: np.ndarray


def calibrate_box(face: Face) -> np.ndarray:
    """Map a face to the RetinaFace-style box the official recipe assumes, from its 68 landmarks.

    RetinaFace (and WIDER FACE style) boxes span the face from the cheek edges to just under the chin
    and up into the forehead; dlib HOG boxes are tighter, stop at the brows and sit lower on the face,
    and other backends differ again. Landmarks are consistent across backends, so the box is rebuilt
    from them: take the tight box of the 68 points (jaw edges, brow tops, chin bottom; width ``w``,
    height ``h``) and extend it by ``CALIBRATION_EXTEND`` = 6 % of ``w`` left and right, 30 % of ``h``
    upward (brow to mid-forehead, where RetinaFace boxes end) and 4 % of ``h`` downward (below the chin).
    The result is about 1.12 w x 1.34 h, the proportions of a RetinaFace box on a frontal face.
    """
    lms = np.asarray(face.landmarks, dtype=np.float64)
    x1, y1 = lms.min(0)
    x2, y2 = lms.max(0)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    el, et, er, eb = CALIBRATION_EXTEND
    return np.array([x1 - el * w, y1 - et * h, x2 + er * w, y2 + eb * h], dtype=np.float32)


def crop_box(face: Face, recipe: CropRecipe) -> np.ndarray:
    """The box the recipe's margin is added to: a RetinaFace box as it is, any other box calibrated from
    the landmarks when the recipe calibrates (:func:`calibrate_box`), else the detector box."""
    if recipe.calibrate and face.box_convention != BOX_RETINAFACE:
        return calibrate_box(face)
    return np.asarray(face.box, dtype=np.float32)


def warp_matrix(src_w: int, src_h: int, size: int) -> np.ndarray:
    """The official corner-aligned affine: source centre -> output centre, (max(W,H)-1) -> (size-1)."""
    s = (size - 1) / max(max(src_w, src_h) - 1, 1)
    cx, cy = (src_w - 1) / 2, (src_h - 1) / 2
    c = (size - 1) / 2
    return np.array([[s, 0.0, c - s * cx], [0.0, s, c - s * cy]], dtype=np.float64)


def warp_to_size(image: np.ndarray, size: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp an image to ``size`` x ``size`` with :func:`warp_matrix` (letter-boxed if not square)."""
    h, w = image.shape[:2]
    m = warp_matrix(w, h, size)
    return cv2.warpAffine(image, m, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _resize_matrix(src_w: int, src_h: int, dst_w: int, dst_h: int) -> np.ndarray:
    """The pixel mapping of ``cv2.resize`` (half-pixel centres)."""
    sx, sy = dst_w / src_w, dst_h / src_h
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points."""
    p = np.asarray(points, dtype=np.float64)
    return (p @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]).astype(np.float32)


def margin_box(box: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Enlarge ``box`` by ``margin`` of its size on each side and clip to the frame (integer pixels)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    nx1 = max(0, int(x1 - margin * w))
    ny1 = max(0, int(y1 - margin * h))
    nx2 = min(width, int(x2 + margin * w))
    ny2 = min(height, int(y2 + margin * h))
    if nx2 - nx1 < 2 or ny2 - ny1 < 2:
        raise CropError(f"face box {np.round(box, 1).tolist()} leaves no pixels inside the {width}x{height} frame")
    return nx1, ny1, nx2, ny2


def cap_resolution(region: np.ndarray, max_px: int | None) -> np.ndarray:
    """``region`` reduced with area averaging so that its longer side is at most ``max_px`` (aspect kept;
    unchanged when it already is, or when ``max_px`` is ``None``)."""
    h, w = region.shape[:2]
    if max_px is None or max(h, w) <= max_px:
        return region
    f = max_px / max(h, w)
    return cv2.resize(region, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def crop_face(image: np.ndarray, face: Face, recipe: CropRecipe = OFFICIAL_SBI) -> FaceCrop:
    """Cut ``face`` out of ``image`` following ``recipe``; see :class:`CropRecipe` for the steps."""
    img = check_rgb_uint8(image)
    H, W = img.shape[:2]
    box = crop_box(face, recipe)
    x1, y1, x2, y2 = margin_box(box, recipe.margin, W, H)
    S = recipe.crop_size
    region = cap_resolution(img[y1:y2, x1:x2], recipe.max_source_px)
    shrinks = max(region.shape[:2]) > S
    interp = cv2.INTER_AREA if recipe.antialias and shrinks else cv2.INTER_LINEAR
    crop = cv2.resize(region, (S, S), interpolation=interp)
    # the cut-out still spans the whole crop (the cap only resamples it on the way), so the mapping is unchanged
    m = _h(_resize_matrix(x2 - x1, y2 - y1, S, S)) @ _h(np.array([[1.0, 0, -x1], [0, 1.0, -y1]]))
    if recipe.align_eyes:
        lms = apply_affine(face.landmarks, m[:2])
        dx, dy = lms[42] - lms[39]
        angle = float(np.degrees(np.arctan2(dy, dx)))
        rot = cv2.getRotationMatrix2D(((S - 1) / 2, (S - 1) / 2), angle, 1.0)
        crop = cv2.warpAffine(crop, rot, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        m = _h(rot) @ m
    if recipe.border_trim:
        t = recipe.border_trim
        crop = crop[t : S - t, t : S - t]
        m = _h(np.array([[1.0, 0, -t], [0, 1.0, -t]])) @ m
    elif recipe.resize_to is not None and recipe.window is not None:
        R = recipe.resize_to
        y0, yy1, x0, xx1 = recipe.window
        crop = cv2.resize(crop, (R, R), interpolation=cv2.INTER_LINEAR)[y0:yy1, x0:xx1]
        m = _h(np.array([[1.0, 0, -x0], [0, 1.0, -y0]])) @ _h(_resize_matrix(S, S, R, R)) @ m
    ch, cw = crop.shape[:2]
    if recipe.antialias and ch == cw and cw > recipe.input_size:
        crop = cv2.resize(crop, (recipe.input_size,) * 2, interpolation=cv2.INTER_AREA)
        m = _h(_resize_matrix(cw, ch, recipe.input_size, recipe.input_size)) @ m
    elif (ch, cw) != (recipe.input_size, recipe.input_size) or cw != ch:
        wm = warp_matrix(cw, ch, recipe.input_size)
        crop = cv2.warpAffine(crop, wm, (recipe.input_size,) * 2, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        m = _h(wm) @ m
    matrix = m[:2].astype(np.float64)
    return FaceCrop(
        image=np.ascontiguousarray(crop),
        matrix=matrix,
        landmarks=apply_affine(face.landmarks, matrix),
        box=box,
    )


def margin_crop_recipe(recipe: CropRecipe) -> CropRecipe:
    """Only the first stage of ``recipe``: the (calibrated) box + margin resized to ``crop_size`` (and
    eye-aligned if the recipe aligns). This is what preprocessing stores on disk."""
    return replace(recipe, name=f"{recipe.name}-margin-crop", border_trim=0, resize_to=None, window=None, input_size=recipe.crop_size)


def pre_cropped(recipe: CropRecipe) -> CropRecipe:
    """``recipe`` for images that already are margin crops (e.g. written by ``laanet-synth preprocess``):
    the whole image stands for the box + margin, then the recipe's trim and warp apply. Use it with a
    face whose box is the whole image (see :func:`whole_image_face`)."""
    return replace(recipe, name=f"{recipe.name}-pre-cropped", calibrate=False, margin=0.0, align_eyes=False)


def whole_image_face(width: int, height: int, landmarks: np.ndarray) -> Face:
    """A face whose box is the whole ``width`` x ``height`` image (for :func:`pre_cropped` recipes)."""
    return Face(box=np.array([0, 0, width, height], np.float32), score=1.0, landmarks=landmarks,
                box_convention="whole-image")
