"""Image few-shot datasets: Omniglot (official zips or folders), CUB-200-2011 and miniImageNet (FEAT splits).

Image modes (decided here, documented in docs/fewshot-data.md):

* Omniglot needs grey images: modes ``1``, ``L``, ``P``, ``I;16`` are converted (lossless for the
  1-bit originals); colour images (``RGB``/``RGBA``/…) are accepted only when every pixel is grey
  (R = G = B, alpha opaque), otherwise ``InputError`` — dropping colour would be lossy.
* CUB / miniImageNet need RGB: ``L``, ``1``, ``P``, ``CMYK`` and ``YCbCr`` are converted (CUB itself holds
  a few grey and CMYK JPEGs); ``RGBA``/``LA`` with any transparent pixel and 16/32-bit modes raise
  ``InputError``.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from neurotrio.core.errors import InputError
from neurotrio.fewshot.walk import is_skipped_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def open_image(data: bytes | Path, name: str | Path):
    """Decode an image with Pillow; ``InputError`` naming ``name`` when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(name, f"unreadable image ({str(exc).splitlines()[0][:100]})") from None
    return img


def to_grey(img, name: str | Path):
    """Pillow image → mode ``L``; lossy conversions (real colour) raise ``InputError``."""
    if img.mode in ("1", "L", "P", "I;16", "I", "F") and not (img.mode == "P" and _palette_colour(img)):
        if img.mode in ("I;16", "I", "F"):
            arr = np.asarray(img, dtype=np.float64)
            top = arr.max() if arr.max() > 0 else 1.0
            from PIL import Image

            return Image.fromarray((arr / top * 255).round().astype(np.uint8), "L")
        return img.convert("L")
    arr = np.asarray(img.convert("RGBA"))
    if (arr[..., 3] < 255).any() or not ((arr[..., 0] == arr[..., 1]) & (arr[..., 1] == arr[..., 2])).all():
        raise InputError(name, f"colour image (mode {img.mode}) where Omniglot needs grey; converting would lose "
                               "information — convert it yourself if intended")
    return img.convert("L")


def _palette_colour(img) -> bool:
    rgb = np.asarray(img.convert("RGB"))
    return not ((rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])).all()


def to_rgb(img, name: str | Path):
    """Pillow image → mode ``RGB``; transparency or >8-bit depth raise ``InputError`` (lossy)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        else:
            return img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(img.getchannel("A"))
        if (alpha < 255).any():
            raise InputError(name, f"image with transparency (mode {img.mode}); flattening it would be lossy")
        return img.convert("RGB")
    raise InputError(name, f"image mode {img.mode} (more than 8 bits or unknown) cannot be converted to RGB "
                           "without loss")


def _resize_crop(img, size: int, crop_ratio: float):
    """Resize the shorter side to ``size / crop_ratio`` (bilinear), then centre-crop ``size``×``size``."""
    from PIL import Image

    w, h = img.size
    short = max(int(round(size / crop_ratio)), size)
    scale = short / min(w, h)
    nw, nh = max(int(round(w * scale)), size), max(int(round(h * scale)), size)
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def _rgb_tensor(img, normalize: bool) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy() / 255.0).permute(2, 0, 1).contiguous()
    if normalize:
        x = (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return x


class Omniglot(Dataset):
    """Omniglot characters as (image, class) from the official zips or their extracted folders.

    Args:
        root: a folder holding ``images_background[.zip]`` / ``images_evaluation[.zip]`` (folders win),
            or the zip / folder itself.
        split: ``"background"`` (964 classes, 30 alphabets) or ``"evaluation"`` (659 classes, 20 alphabets).
        image_size: output side in pixels (28 by default, 105 = original); box (area) resampling.
        rotations: quarter turns (degrees, multiples of 90) each creating new classes, e.g. (0, 90, 180, 270)
            for the usual ×4 augmentation of training classes; (0,) = none.
        cache: keep decoded images in memory.

    Returns (per item):
        float32 tensor (1, image_size, image_size) with ink = 1.0, background = 0.0; and the class index.

    Attributes:
        targets: class index per item; class_names: ``Alphabet/characterNN[/rotR]``; paths: member names.
    """

    def __init__(self, root: str | Path, split: str = "background", image_size: int = 28,
                 rotations: tuple[int, ...] = (0,), cache: bool = False):
        if split not in ("background", "evaluation"):
            raise InputError(None, f"split must be 'background' or 'evaluation', got {split!r}")
        if any(r % 90 for r in rotations) or not rotations:
            raise InputError(None, f"rotations must be multiples of 90 degrees, got {rotations}")
        self.split, self.image_size, self.rotations = split, int(image_size), tuple(int(r) % 360 for r in rotations)
        self.source = self._locate(Path(root), split)
        self._zip: zipfile.ZipFile | None = None
        if self.source.is_dir():
            names = sorted(n for n in (str(p.relative_to(self.source)) for p in self.source.rglob("*.png"))
                           if not is_skipped_path(n))
        else:
            try:
                with zipfile.ZipFile(self.source) as zf:
                    names = sorted(n for n in zf.namelist() if n.lower().endswith(".png") and not is_skipped_path(n))
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(self.source, f"not a readable zip ({exc})") from None
        chars: dict[str, list[str]] = {}
        for n in names:
            parts = Path(n).parts
            if len(parts) < 3:
                continue
            chars.setdefault("/".join(parts[-3:-1]), []).append(n)
        if not chars:
            raise InputError(self.source, "no <Alphabet>/<character>/*.png images found")
        self.class_names, self.paths, self.targets, self._rot = [], [], [], []
        for rot in self.rotations:
            for char in sorted(chars):
                cls = len(self.class_names)
                self.class_names.append(char if rot == 0 else f"{char}/rot{rot}")
                for n in chars[char]:
                    self.paths.append(n)
                    self.targets.append(cls)
                    self._rot.append(rot)
        self.alphabets = sorted({c.split("/")[0] for c in chars})
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    @staticmethod
    def _locate(root: Path, split: str) -> Path:
        if root.is_file() and root.suffix == ".zip":
            return root
        for cand in (root / f"images_{split}", root / f"images_{split}.zip"):
            if cand.exists():
                return cand
        if root.is_dir() and root.name.startswith("images_"):
            return root
        raise InputError(root, f"no images_{split}/ folder or images_{split}.zip found (official Omniglot layout)")

    def __len__(self) -> int:
        return len(self.paths)

    def read_bytes(self, index: int) -> bytes:
        name = self.paths[index]
        if self.source.is_dir():
            return (self.source / name).read_bytes()
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.source)
        return self._zip.read(name)

    def image(self, index: int) -> np.ndarray:
        """The original grey image (H, W) float32 with ink = 1.0, unrotated and unresized."""
        name = f"{self.source.name}/{self.paths[index]}"
        grey = to_grey(open_image(self.read_bytes(index), name), name)
        return 1.0 - np.asarray(grey, dtype=np.float32) / 255.0

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if self._cache is not None and index in self._cache:
            return self._cache[index], self.targets[index]
        from PIL import Image

        img = Image.fromarray((self.image(index) * 255).round().astype(np.uint8), "L")
        if img.size != (self.image_size, self.image_size):
            img = img.resize((self.image_size, self.image_size), Image.BOX)
        arr = np.asarray(img, dtype=np.float32) / 255.0
        arr = np.rot90(arr, k=self._rot[index] // 90).copy()
        x = torch.from_numpy(arr)[None]
        if self._cache is not None:
            self._cache[index] = x
        return x, self.targets[index]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_zip"] = None  # zip handles do not cross process boundaries (DataLoader workers)
        return state


class _ImageFolderSplit(Dataset):
    """Shared loader for RGB few-shot sets: a list of (path, class name, optional box) → (3, S, S), index."""

    def __init__(self, items: list[tuple[Path, str, tuple[float, float, float, float] | None]], image_size: int,
                 crop_ratio: float, normalize: bool, source: Path):
        if not items:
            raise InputError(source, "no images in this split")
        self.class_names = sorted({c for _, c, _ in items})
        index = {c: i for i, c in enumerate(self.class_names)}
        self.paths = [p for p, _, _ in items]
        self.boxes = [b for _, _, b in items]
        self.targets = [index[c] for _, c, _ in items]
        self.image_size, self.crop_ratio, self.normalize = int(image_size), float(crop_ratio), bool(normalize)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.paths[index]
        if not path.is_file():
            raise InputError(path, "image file not found")
        img = to_rgb(open_image(path, path), path)
        box = self.boxes[index]
        if box is not None:
            x, y, w, h = box
            img = img.crop((int(x), int(y), int(round(x + w)), int(round(y + h))))
        img = _resize_crop(img, self.image_size, self.crop_ratio)
        return _rgb_tensor(img, self.normalize), self.targets[index]


def _read_csv_rows(path: Path) -> list[list[str]]:
    try:
        return [[c.strip() for c in r] for r in csv.reader(path.read_text().splitlines()) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read split file ({exc})") from None


def read_split_columns(path: str | Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a split CSV as ``{column: value}``, the columns found by their header names.

    Columns are never taken by position: a file without a header row would silently lose its first image
    (read as the header), and swapped columns would send file names into labels (issue 9,
    ``../shared/cases/fewshot/miniimagenet-headerless``).

    Raises:
        InputError: naming the CSV — unreadable, empty, no header row holding every name in ``columns``
            (a headerless file is refused, not guessed), or a row shorter than the header.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "split file not found")
    rows = _read_csv_rows(path)
    if not rows:
        raise InputError(path, "empty split file")
    head = [c.lower() for c in rows[0]]
    missing = [c for c in columns if c.lower() not in head]
    if missing:
        raise InputError(path, f"no header row naming columns {','.join(columns)} (first row: "
                               f"{','.join(rows[0])[:80]}); add the header line {','.join(columns)}")
    idx = {c: head.index(c.lower()) for c in columns}
    need = max(idx.values()) + 1
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if len(r) < need:
            raise InputError(path, f"row {i} has {len(r)} column(s), the header has {len(head)}")
        out.append({c: r[j] for c, j in idx.items()})
    return out


class CUB(_ImageFolderSplit):
    """CUB-200-2011 few-shot splits (FEAT 100/50/50 classes), 84×84 RGB.

    Two layouts:

    * official: ``<root>/images/NNN.Name/*.jpg`` (+ optional ``images.txt`` and ``bounding_boxes.txt``,
      used to crop to the bird when ``use_boxes``) with FEAT's ``<split_dir>/{train,val,test}.csv``
      (``filename,label,...``; ``label`` is the ``NNN.Name`` folder);
    * development copy: ``<root>/images/`` + ``<root>/class_splits.csv`` (``path_here`` relative to
      ``images/``, ``fewshot_split_FEAT``), picked when that CSV exists and ``split_dir`` is not given.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        image_size: output side (84); the shorter side is resized to ``image_size / crop_ratio`` then centre-cropped.
        normalize: subtract/divide by the ImageNet mean/std.
    """

    def __init__(self, root: str | Path, split: str = "train", split_dir: str | Path | None = None,
                 image_size: int = 84, use_boxes: bool = True, crop_ratio: float = 84 / 92, normalize: bool = True):
        root = Path(root)
        if split not in ("train", "val", "test"):
            raise InputError(None, f"split must be train, val or test, got {split!r}")
        images = root / "images"
        if not images.is_dir():
            raise InputError(root, "no images/ folder (expected the CUB_200_2011 layout)")
        items: list[tuple[Path, str, tuple[float, float, float, float] | None]] = []
        dev_csv = root / "class_splits.csv"
        if split_dir is None and dev_csv.is_file():
            for r in read_split_columns(dev_csv, ("path_here", "fewshot_split_FEAT")):
                if r["fewshot_split_FEAT"] == split:
                    items.append((images / r["path_here"], r["path_here"].split("/")[0], None))
        else:
            if split_dir is None:
                raise InputError(root, "no class_splits.csv here: pass split_dir (FEAT's split/ folder)")
            split_csv = Path(split_dir) / f"{split}.csv"
            boxes = self._boxes(root) if use_boxes else {}
            for r in read_split_columns(split_csv, ("filename", "label")):
                rel = f"{r['label']}/{r['filename']}"
                items.append((images / rel, r["label"], boxes.get(rel)))
        super().__init__(items, image_size, crop_ratio, normalize, root)

    @staticmethod
    def _boxes(root: Path) -> dict[str, tuple[float, float, float, float]]:
        ids, bbs = root / "images.txt", root / "bounding_boxes.txt"
        if not (ids.is_file() and bbs.is_file()):
            return {}
        id_path = dict(line.split(maxsplit=1) for line in ids.read_text().split("\n") if line.strip())
        out = {}
        for line in bbs.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 5 and parts[0] in id_path:
                out[id_path[parts[0]].strip()] = tuple(float(v) for v in parts[1:])
        return out


class MiniImageNet(_ImageFolderSplit):
    """miniImageNet (Ravi & Larochelle 64/16/20 classes) in FEAT's layout, 84×84 RGB.

    Layout: ``<root>/images/<filename>`` and split CSVs ``<split_dir>/{train,val,test}.csv`` with header
    ``filename,label`` (``split_dir`` defaults to ``<root>/split``). Columns are read by header name; a CSV
    without that header is refused (``InputError`` naming it), never read by position.
    """

    def __init__(self, root: str | Path, split: str = "train", split_dir: str | Path | None = None,
                 image_size: int = 84, crop_ratio: float = 84 / 92, normalize: bool = True):
        root = Path(root)
        if split not in ("train", "val", "test"):
            raise InputError(None, f"split must be train, val or test, got {split!r}")
        split_csv = Path(split_dir or root / "split") / f"{split}.csv"
        if not split_csv.is_file():
            raise InputError(split_csv, "split file not found (FEAT layout: split/{train,val,test}.csv)")
        rows = read_split_columns(split_csv, ("filename", "label"))
        items = [(root / "images" / r["filename"], r["label"], None) for r in rows]
        super().__init__(items, image_size, crop_ratio, normalize, root)


__all__ = ["CUB", "MiniImageNet", "Omniglot", "open_image", "read_split_columns", "to_grey", "to_rgb"]
