"""Image geometry in numpy for OCR, where the reference pipeline (PaddleOCR, RapidOCR) calls
OpenCV: linear resize, perspective crops with cubic interpolation, a 2x2 dilation, connected
regions of a bitmap, convex hulls and minimum-area rectangles. Each follows OpenCV's
conventions (pixel centres, clamped borders), so boxes and crops come out as the reference's
within a pixel; OpenCV is not in the layer (about 60 MB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]  # H x W x C


def resize_linear(image: Image, width: int, height: int) -> Image:
    """OpenCV's ``INTER_LINEAR`` resize: half-pixel centres, edges clamped, no antialiasing.
    Enlarging, Pillow's bilinear filter is the same interpolation (its support does not grow)
    and ~20x faster; shrinking, Pillow would antialias, so numpy does it (rows, then columns)."""
    if width >= image.shape[1] and height >= image.shape[0] and image.shape[2] == 3:
        from PIL import Image as Pillow  # noqa: PLC0415 - image models only

        enlarged = Pillow.fromarray(image).resize((width, height), Pillow.Resampling.BILINEAR)
        return np.asarray(enlarged, dtype=np.uint8)
    y0, y1, fy = _axis(image.shape[0], height)
    x0, x1, fx = _axis(image.shape[1], width)
    data = image.astype(np.float32)
    rows = data[y0] + (data[y1] - data[y0]) * fy[:, None, None]
    out = rows[:, x0] + (rows[:, x1] - rows[:, x0]) * fx[None, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _axis(size: int, out: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Floats]:
    source = (np.arange(out) + 0.5) * (size / out) - 0.5
    low = np.floor(source)
    frac = source - low
    low_i = low.astype(np.intp)
    frac = np.where(low_i < 0, 0.0, frac)
    frac = np.where(low_i >= size - 1, 0.0, frac)
    low_i = np.clip(low_i, 0, size - 1)
    return low_i, np.minimum(low_i + 1, size - 1), frac.astype(np.float32)


def perspective_transform(source: Floats, target: Floats) -> Floats:
    """The 3x3 matrix taking four ``source`` points onto four ``target`` points."""
    rows, values = [], []
    for (x, y), (u, v) in zip(source.tolist(), target.tolist(), strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    solved = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(values))
    return np.append(solved, 1.0).reshape(3, 3)


def _cubic(t: Floats) -> Floats:
    """OpenCV's bicubic kernel (a = -0.75) at distances ``t``."""
    a, t = -0.75, np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def warp_perspective(image: Image, matrix: Floats, width: int, height: int) -> Image:
    """OpenCV's ``warpPerspective`` with ``INTER_CUBIC`` and ``BORDER_REPLICATE``: each output
    pixel samples the source where the inverse of ``matrix`` puts it."""
    inverse = np.linalg.inv(matrix)
    v, u = np.mgrid[0:height, 0:width]
    points = inverse @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    sx, sy = points[0] / points[2], points[1] / points[2]
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    data = image.astype(np.float64)
    out = np.zeros((u.size, image.shape[2]))
    for j in range(-1, 3):
        wy = _cubic(fy - j)
        yy = np.clip(y0 + j, 0, image.shape[0] - 1).astype(np.intp)
        for i in range(-1, 3):
            weight = wy * _cubic(fx - i)
            xx = np.clip(x0 + i, 0, image.shape[1] - 1).astype(np.intp)
            out += data[yy, xx] * weight[:, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(height, width, -1)


def dilate_2x2(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """OpenCV's dilation with a 2x2 kernel (anchor at its centre): a pixel is set when it or
    its upper, left or upper-left neighbour is."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:, 1:] |= mask[:, :-1]
    out[1:, 1:] |= mask[:-1, :-1]
    return out


def regions(mask: npt.NDArray[np.bool_]) -> list[Floats]:
    """The 8-connected regions of a bitmap, each as its outline's candidate points (each row
    run's first and last pixel, as x, y): the points the region's convex hull is made of.

    Runs of set pixels are found per row, then joined with the runs of the row above that
    touch them (union-find over runs, not pixels).
    """
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    steps = np.diff(padded, axis=1)
    starts, ends = np.argwhere(steps == 1), np.argwhere(steps == -1)
    if not len(starts):
        return []
    ys, x0s, x1s = starts[:, 0], starts[:, 1], ends[:, 1] - 1
    first, last = x0s.tolist(), x1s.tolist()
    parent = list(range(len(first)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    bounds = np.searchsorted(ys, np.arange(mask.shape[0] + 1)).tolist()
    for y in range(1, mask.shape[0]):
        above, stop = bounds[y - 1], bounds[y]
        for run in range(bounds[y], bounds[y + 1]):
            while above < stop and last[above] + 1 < first[run]:
                above += 1  # ends left of this run: no later run of the row reaches it
            touching = above
            while touching < stop and first[touching] <= last[run] + 1:
                parent[root(touching)] = root(run)
                touching += 1
    groups: dict[int, list[int]] = {}
    for i in range(len(first)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        idx = np.asarray(members)
        left = np.stack([x0s[idx], ys[idx]], axis=1)
        right = np.stack([x1s[idx], ys[idx]], axis=1)
        out.append(np.concatenate([left, right]).astype(np.float64))
    return out


def convex_hull(points: Floats) -> Floats:
    """Andrew's monotone chain; the hull's points counter-clockwise (in image coordinates)."""
    unique = np.unique(points, axis=0)
    if len(unique) < 3:
        return unique
    ordered = unique[np.lexsort((unique[:, 1], unique[:, 0]))].tolist()

    def half(sequence: Sequence[list[float]]) -> list[list[float]]:
        chain: list[list[float]] = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(ordered), half(ordered[::-1])
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def _cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def min_area_rect(points: Floats) -> tuple[Floats, float, float]:
    """The smallest rectangle around ``points`` (rotating calipers over the hull's edges):
    its four corners, width and height (OpenCV's ``minAreaRect`` + ``boxPoints``)."""
    hull = convex_hull(points)
    if len(hull) == 1:
        return np.repeat(hull, 4, axis=0), 0.0, 0.0
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), math.pi / 2))
    candidates = []
    for angle in angles.tolist():
        c, s = math.cos(angle), math.sin(angle)
        rotation = np.array([[c, s], [-s, c]])
        turned = hull @ rotation.T
        low, high = turned.min(axis=0), turned.max(axis=0)
        width, height = (high - low).tolist()
        corners = np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]],
                            [low[0], high[1]]])  # fmt: skip
        candidates.append((width * height, corners @ rotation, width, height))
    _, box, width, height = min(candidates, key=lambda c: c[0])  # the first of equal areas
    return box, width, height


def mini_box(points: Floats) -> tuple[Floats, float]:
    """PaddleOCR's ``get_mini_boxes``: the minimum-area rectangle's corners ordered top-left,
    top-right, bottom-right, bottom-left, and its shorter side."""
    corners, width, height = min_area_rect(points)
    ordered = corners[np.argsort(corners[:, 0], kind="stable")]
    first, fourth = (0, 1) if ordered[1][1] > ordered[0][1] else (1, 0)
    second, third = (2, 3) if ordered[3][1] > ordered[2][1] else (3, 2)
    box = ordered[[first, second, third, fourth]]
    return box, min(width, height)


def polygon_mask(box: npt.NDArray[np.int64], height: int, width: int) -> npt.NDArray[np.bool_]:
    """Pixels inside or on a convex quadrilateral (integer corners), in a ``height`` x
    ``width`` grid whose origin is the box's top-left bound."""
    v, u = np.mgrid[0:height, 0:width]
    signs = []
    for k in range(4):
        (x1, y1), (x2, y2) = box[k], box[(k + 1) % 4]
        signs.append((x2 - x1) * (v - y1) - (y2 - y1) * (u - x1))
    stacked = np.stack(signs)
    return np.asarray(np.all(stacked >= 0, axis=0) | np.all(stacked <= 0, axis=0))


def order_clockwise(points: Floats) -> Floats:
    """Top-left, top-right, bottom-right, bottom-left (imutils' ``order_points``)."""
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float64)
