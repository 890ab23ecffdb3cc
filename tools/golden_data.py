"""Fixtures for the data-loading tests (crates/ferrite/tests/data_*.rs).

Writes, under crates/ferrite/tests/fixtures/data/:
  - malformed CSV files (one problem each) and tiny PNG images (an RGB/gray class-folder tree,
    a labels CSV, an unreadable image), written byte by byte so nothing but the standard
    library is needed;
  - golden.json: scikit-learn SimpleImputer fill values on airquality, row and NA counts of the
    shipped data sets, and pixel statistics of elpv64 decoded by an independent PNG decoder.

Run from the repository root: python (in a virtual environment with torch) tools/golden_data.py
"""

import csv
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from sklearn.impute import SimpleImputer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
OUT = ROOT / "crates" / "ferrite" / "tests" / "fixtures" / "data"
MISSING = {"", "na", "nan", "null"}


def png_bytes(pixels: np.ndarray) -> bytes:
    """An 8-bit PNG of an (H, W) gray or (H, W, 3) RGB uint8 array, filter 0 on every row."""
    h, w = pixels.shape[:2]
    color = 0 if pixels.ndim == 2 else 2
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def decode_gray_png(path: Path) -> np.ndarray:
    """Decodes an 8-bit grayscale, non-interlaced PNG (all five row filters)."""
    b = path.read_bytes()
    pos, idat, (w, h) = 8, b"", (0, 0)
    while pos < len(b):
        (n,) = struct.unpack(">I", b[pos : pos + 4])
        kind, body = b[pos + 4 : pos + 8], b[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, color, interlace) == (8, 0, 0), path
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    out = np.zeros((h, w), dtype=np.int32)
    prev = np.zeros(w, dtype=np.int32)
    for y in range(h):
        f = raw[y * (w + 1)]
        row = np.frombuffer(raw[y * (w + 1) + 1 : (y + 1) * (w + 1)], dtype=np.uint8).astype(np.int32)
        cur = np.zeros(w, dtype=np.int32)
        for x in range(w):
            a = cur[x - 1] if x > 0 else 0
            c = prev[x - 1] if x > 0 else 0
            up = prev[x]
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = up
            elif f == 3:
                pred = (a + up) // 2
            else:
                p = a + up - c
                pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (up if pb <= pc else c)
            cur[x] = (row[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out


def read_table(path: Path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def malformed_csvs():
    files = {
        "ragged.csv": b"a,b,y\n1,2,0\n3,4\n5,6,1\n",
        "text_in_numeric.csv": b"a,b,y\n1,2,0\n3,abc,1\n",
        "empty.csv": b"",
        "header_only.csv": b"a,b,y\n",
        "invalid_utf8.csv": b"a,b,y\n1,2,0\n3,\xff\xfe,1\n",
        "overflow.csv": b"a,b,y\n1,2,0\n4,5,1\n1e39,2,1\n",
        "missing.csv": b"a,b,y\n1,2,0\nNA,3,1\n4,null,0\n5,6,\n7,NaN,1\n8,9,1\n",
        "duplicate_header.csv": b"a,a,y\n1,2,0\n",
    }
    for name, body in files.items():
        (OUT / name).write_bytes(body)


def tiny_images():
    img = OUT / "images"
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[0, 0, 0], [255, 255, 255], [51, 102, 153]]], np.uint8)
    gray = np.array([[0, 51, 102], [153, 204, 255]], np.uint8)
    for folder, files in {
        "classes/cat": {"a.png": rgb, "b.png": gray},
        "classes/dog": {"c.png": rgb[::-1].copy()},
        "flat": {"x.png": gray, "y.png": rgb},
    }.items():
        (img / folder).mkdir(parents=True, exist_ok=True)
        for name, pixels in files.items():
            (img / folder / name).write_bytes(png_bytes(pixels))
    (img / "flat" / "labels.csv").write_text("file,kind\nx.png,round\ny.png,square\nx.png,round\n")
    (img / "flat" / "broken_labels.csv").write_text("file,kind\nx.png,round\nbroken.png,square\n")
    (img / "flat" / "broken.png").write_bytes(b"this is not a PNG file\n")
    (img / "flat" / "big.png").write_bytes(png_bytes(np.full((4, 4), 128, np.uint8)))
    (img / "flat" / "mixed_sizes.csv").write_text("file,kind\nx.png,round\nbig.png,square\n")


def golden():
    out = {}
    header, rows = read_table(DATA / "airquality.csv")
    x = np.array([[np.nan if v.lower() in MISSING else float(v) for v in r] for r in rows], dtype=np.float64)
    out["airquality"] = {
        "rows": len(rows),
        "missing": {h: int(np.isnan(x[:, j]).sum()) for j, h in enumerate(header)},
        "complete_rows": int((~np.isnan(x).any(axis=1)).sum()),
    }
    # Target ozone: rows missing ozone are dropped, features filled from the first 80 kept rows
    # (fit_rows are positions among the file's data rows, as CsvOptions::fit_rows takes them).
    kept_rows = np.flatnonzero(~np.isnan(x[:, 0]))
    feats = x[kept_rows, 1:]
    fit_rows = kept_rows[:80].tolist()
    for strategy in ["mean", "median"]:
        imp = SimpleImputer(strategy=strategy).fit(feats[:80])
        filled = imp.transform(feats)
        out["airquality"][f"fill_{strategy}"] = {
            "fit_rows": fit_rows,
            "values": imp.statistics_.tolist(),
            "filled_sum": float(filled.sum()),
        }
    header, rows = read_table(DATA / "gold.csv")
    out["gold"] = {"rows": len(rows), "missing_price": sum(r[1].strip().lower() in MISSING for r in rows)}
    header, rows = read_table(DATA / "breast_cancer.csv")
    out["breast_cancer"] = {
        "rows": len(rows),
        "features": len(header) - 1,
        "malignant": sum(r[header.index("diagnosis")] == "M" for r in rows),
        "feature_sum": float(np.array([[float(v) for k, v in enumerate(r) if header[k] != "diagnosis"] for r in rows], np.float64).sum()),
    }
    header, rows = read_table(DATA / "elpv64" / "labels.csv")
    probs = [float(r[1]) for r in rows]
    pixels = np.stack([decode_gray_png(DATA / "elpv64" / "images" / r[0]) for r in rows]).astype(np.float64) / 255.0
    out["elpv64"] = {
        "images": len(rows),
        "defective": sum(p >= 0.5 for p in probs),
        "mono": sum(r[2] == "mono" for r in rows),
        "pixel_mean": float(pixels.mean()),
        "pixel_std": float(pixels.std()),
        "first_image_row0": pixels[0, 0].tolist(),
        "image_means_first5": pixels[:5].mean(axis=(1, 2)).tolist(),
    }
    (OUT / "golden.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    malformed_csvs()
    tiny_images()
    golden()
    print("wrote", OUT)
