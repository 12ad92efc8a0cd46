"""Tiny synthetic dataset layouts in the official formats (composite, CASME II, SAMM, SMIC-HS), seeded."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def flow_png(path: Path, label: int, rng: np.random.Generator) -> None:
    """A 28×28×3 uint8 PNG whose bright patch position depends on the label (learnable), plus noise."""
    img = rng.integers(90, 120, size=(28, 28, 3)).astype(np.uint8)
    r0 = 2 + 8 * label
    img[r0:r0 + 8, 4:24, :2] = 230
    img[..., 2] = rng.integers(0, 30, size=(28, 28))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[..., ::-1])


def make_composite(root: Path, n_subjects: int = 4, per_subject: int = 6, seed: int = 0) -> Path:
    """labels.csv + flow_uvos_28/ with SMIC, CASME II and SAMM rows (SMIC's zero-padding quirk included)."""
    rng = np.random.default_rng(seed)
    rows = ["dataset,sub,filename_o,label,apex,imagename,sub_filename"]
    for s in range(n_subjects):
        db = ("smic", "casme2", "samm")[s % 3]
        for j in range(per_subject):
            label = j % 3
            if db == "smic":
                sub, fname = f"s{s + 1:02d}", f"s{s + 1:02d}_ne_{j:02d}"
                image = f"s{s + 1:02d}_s{s + 1}_ne_{j:02d}"
                png = f"s{s + 1:02d}_s{s + 1:02d}_ne_{j:02d}"
            elif db == "casme2":
                sub, fname = f"sub{s + 1:02d}", f"EP0{j}_01f"
                image = png = f"sub{s + 1:02d}_EP0{j}_01f"
            else:
                sub, fname = f"{s + 1:03d}", f"{s + 1:03d}_1_{j}"
                image = png = f"{s + 1:03d}_{s + 1:03d}_1_{j}"
            rows.append(f"{db},{sub},{fname},{label},,{image}.jpg,")
            flow_png(root / "flow_uvos_28" / f"{png}.png", label, rng)
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def write_frames(folder: Path, numbers: list[int], prefix: str = "img", ext: str = ".jpg", digits: int = 0) -> None:
    """Small grey frames named ``<prefix><number>`` (optionally zero-padded)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        cv2.imwrite(str(folder / f"{prefix}{n:0{digits}d}{ext}"), np.full((16, 16, 3), 100, np.uint8))


def make_casme2(root: Path, rows: list[tuple[str, str, int, object, str]] | None = None) -> Path:
    """CASME2_RAW_selected/subXX/EPxx/imgN.jpg (frames 10–20) + a CSV coding sheet; returns the sheet."""
    rows = rows or [("1", "EP02_01f", 10, 14, "happiness"), ("1", "EP03_02", 11, 15, "disgust"),
                    ("2", "EP01_11f", 12, "/", "surprise"), ("2", "EP05_02", 10, 12, "fear")]
    for sub, name, *_ in rows:
        write_frames(root / "CASME2_RAW_selected" / f"sub{int(sub):02d}" / name, list(range(10, 21)))
    lines = ["Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion"]
    lines += [f"{s},{n},{o},{a},20,4,{e}" for s, n, o, a, e in rows]
    sheet = root / "CASME2-coding-20140508.csv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def make_samm(root: Path) -> Path:
    """SAMM/006/006_1_2/006_05562.jpg … + a SAMM coding sheet (with a title row) as CSV; returns the sheet."""
    rows = [("006", "006_1_2", 5562, 5565, "Anger"), ("006", "006_1_3", 5600, 5603, "Contempt"),
            ("007", "007_3_1", 100, 103, "Happiness"), ("007", "007_3_2", 200, 203, "Sadness")]
    for sub, name, onset, _apex, _e in rows:
        write_frames(root / "SAMM" / sub / name, list(range(onset, onset + 6)), prefix=f"{sub}_", digits=5)
    lines = ["SAMM micro-expression codes,,,,,,", "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,"
             "Offset Frame,Estimated Emotion"]
    lines += [f"{s},{n},1,{o},{a},{o + 5},{e}" for s, n, o, a, e in rows]
    sheet = root / "SAMM_Micro_FACS_Codes_v2.csv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def make_smic(root: Path) -> Path:
    """HS/sN/micro/{negative,positive,surprise}/<clip>/reg_imageNNNNNN.bmp."""
    for s in (1, 2):
        for emo, tag in (("negative", "ne"), ("positive", "po"), ("surprise", "sur")):
            clip = root / "HS" / f"s{s}" / "micro" / emo / f"s{s}_{tag}_01"
            write_frames(clip, list(range(46174, 46181)), prefix="reg_image", ext=".bmp", digits=6)
    return root
