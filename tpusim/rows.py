"""The one row sink: rows (flat dicts) streamed to CSV, JSONL or parquet as they are produced, or
collected in memory; crash-safe, resumable and column-stable. `simulate --out` and sweeps use it.

    sink = open_sink("runs/x.csv")          # or .jsonl, .parquet; open_sink(None): in memory
    sink.write(rows)                         # one group of rows (a point, a chunk of replications)
    sink.close()                             # always (finally:); parquet merges its parts here

What a crash leaves behind, and what `resume=True` does with it:
- CSV and JSONL: every `write` appends complete lines and flushes, so SIGKILL loses at most the
  group being written. A torn last line (no newline) and, with `group_key`/`group_size`, a last
  group with fewer rows than its `group_size` column says, are cut off on resume (that group is
  produced again). Cells never hold a newline, so one line is one row.
- parquet: each `write` is a complete part file in `<name>.parquet.parts/` (written aside, then
  renamed); `close` merges the file and the parts into `<name>.parquet`. After SIGKILL the parts
  hold every finished group; `read_rows` and resume read the file and the parts together.
- Columns: a CSV's header is the union of every row's keys; a row with a new key rewrites the
  file with the wider header (aside, then renamed), so no value is ever dropped. JSONL and
  parquet rows carry their own keys.

`read_rows(path)` reads any of the three formats the same way (torn tail ignored, nothing
changed on disk).

Invariants (tested): the rows read back equal the rows written (as strings for CSV); cutting a
CSV/JSONL file at any byte and resuming keeps exactly the complete groups before the cut.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tpusim.errors import TpusimError

FORMATS = (".csv", ".jsonl", ".parquet")


def flatten(record: dict[str, Any], nested: dict[str, str]) -> dict[str, Any]:
    """`record` as one flat row: each nested dict named in `nested` is spread into top-level keys
    made by `nested[name].format(key)` (in `nested`'s order, after the plain fields).

    >>> flatten({"mfu": 0.5, "breakdown": {"compute": 2.0}}, {"breakdown": "breakdown_{}_s"})
    {'mfu': 0.5, 'breakdown_compute_s': 2.0}
    """
    row = {k: v for k, v in record.items() if k not in nested}
    for name, template in nested.items():
        row.update({template.format(k): v for k, v in record[name].items()})
    return row


def open_sink(path: str | Path | None, *, formats: Iterable[str] = FORMATS, resume: bool = False,
              group_key: str | None = None, group_size: str | None = None,
              what: str = "out") -> RowSink:
    """A sink for `path` by its suffix (one of `formats`), or in memory when `path` is None.

    Without `resume` an existing file is replaced; with it, its complete rows are kept
    (`existing`) and new rows are appended. Rows of one column should keep one type (parquet
    stores a column's type once). Raises TpusimError for another suffix, or for parquet without pyarrow."""
    if path is None:
        return MemorySink()
    path = Path(path)
    formats = tuple(formats)
    if path.suffix not in formats:
        raise TpusimError(f"{what} {str(path)!r}: use a {' or '.join(formats)} file name",
                          params=(what,))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        return ParquetSink(path, resume=resume, what=what)
    cls = CsvSink if path.suffix == ".csv" else JsonlSink
    return cls(path, resume=resume, group_key=group_key, group_size=group_size)


class RowSink:
    """Base: `write(rows)` one group, `close()`; `existing` holds the rows found on resume."""

    existing: list[dict[str, Any]]

    def write(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output (idempotent)."""

    def __enter__(self) -> RowSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MemorySink(RowSink):
    """Rows kept in a list (`rows`); `frame()` is a DataFrame of them."""

    def __init__(self) -> None:
        self.existing = []
        self.rows: list[dict[str, Any]] = []

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


# --- CSV and JSONL: lines, appended and flushed -----------------------------------------------------

class _LineSink(RowSink):
    def __init__(self, path: Path, *, resume: bool, group_key: str | None, group_size: str | None):
        self.path = path
        self.existing = []
        self.columns: list[str] = []
        if resume and path.exists():
            self.existing, self.columns = _recover(path, group_key, group_size)
        else:
            path.write_bytes(b"")

    def _append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()


class JsonlSink(_LineSink):
    """One JSON object per line."""

    def write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._append("".join(json.dumps(_plain(row), default=_jsonable) + "\n" for row in rows))


class CsvSink(_LineSink):
    """A header (the union of every row's keys, in order of first appearance), then one line per
    row; an empty cell is None or NaN; dicts and lists are JSON; text loses its newlines."""

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        wider = list(self.columns)
        for row in rows:
            wider.extend(k for k in row if k not in wider)
        if wider != self.columns:
            self._widen(wider)
        self._append(_csv_lines(self.columns, rows))

    def _widen(self, columns: list[str]) -> None:
        """Rewrite the file (aside, then renamed) with the wider header; old rows keep their values."""
        old = _read_csv(self.path.read_text(encoding="utf-8")) if self.columns else []
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(_csv_lines(columns, old, header=True), encoding="utf-8")
        os.replace(tmp, self.path)
        self.columns = columns


def _csv_lines(columns: list[str], rows: list[dict[str, Any]], *, header: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=_jsonable)
    if isinstance(value, str):
        return " ".join(value.splitlines())
    return value


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe: numpy scalars as Python, NaN as null."""
    out = {}
    for key, value in row.items():
        if hasattr(value, "item") and not isinstance(value, list | dict | str):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _complete(data: bytes) -> bytes:
    """The bytes up to and including the last newline: a torn last line is dropped."""
    return data[: data.rfind(b"\n") + 1]


def _read_csv(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    if not lines:
        return []
    header = next(csv.reader([lines[0]]))
    return [dict(zip(header, cells, strict=False)) for cells in csv.reader(lines[1:]) if cells]


def _parse_lines(path: Path, data: bytes) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """Rows of complete lines, the byte offset where each row's line starts, and the CSV header."""
    rows, starts, columns = [], [], []
    offset = 0
    for line in data.splitlines(keepends=True):
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        start, offset = offset, offset + len(line)
        if not text.strip():
            continue
        if path.suffix == ".csv":
            cells = next(csv.reader([text]))
            if not columns:
                columns = cells
                continue
            rows.append(dict(zip(columns, cells, strict=False)))
        else:
            try:
                rows.append(json.loads(text))
            except json.JSONDecodeError:
                raise TpusimError(f"{path}: line {len(rows) + 1} is not a JSON row; the file was changed "
                                  f"by hand or is not a tpusim output (choose another `out`)",
                                  params=("out",)) from None
        starts.append(start)
    return rows, starts, columns


def _recover(path: Path, group_key: str | None, group_size: str | None) -> tuple[list[dict], list[str]]:
    """Cut a torn last line and an incomplete last group off the file; return its rows and header."""
    data = path.read_bytes()
    keep = _complete(data)
    rows, starts, columns = _parse_lines(path, keep)
    if group_key and (columns or rows) and not all(group_key in r for r in rows or [dict.fromkeys(columns)]):
        raise TpusimError(f"{path}: not a file this command wrote (no {group_key} column); the file "
                          f"is kept as it is: choose another `out`", params=("out",))
    if group_key and group_size and rows:
        last = rows[-1].get(group_key)
        n = 0
        while n < len(rows) and rows[-1 - n].get(group_key) == last:
            n += 1
        try:
            wanted = int(float(rows[-1].get(group_size)))
        except (TypeError, ValueError):
            wanted = n
        if n < wanted:  # the last group was cut short: drop it, it is produced again
            keep = keep[: starts[-n]]
            rows = rows[:-n]
    if path.suffix == ".csv" and not rows and not keep.strip():
        columns = []
    if len(keep) != len(data):
        with path.open("r+b") as fh:
            fh.truncate(len(keep))
    return rows, columns


# --- parquet: complete part files, merged on close ------------------------------------------------------

def parts_dir(path: Path) -> Path:
    """Where a parquet sink keeps its part files until it closes: `<name>.parquet.parts/`."""
    return path.with_name(path.name + ".parts")


def _require_pyarrow(path: Path, what: str) -> None:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ModuleNotFoundError:
        raise TpusimError(f"{what} {str(path)!r}: parquet files need pyarrow (pip install pyarrow), or "
                          f"use a .csv file name", params=(what,)) from None


class ParquetSink(RowSink):
    """Each `write` a complete part file; `close` merges the file and its parts into one."""

    def __init__(self, path: Path, *, resume: bool, what: str):
        _require_pyarrow(path, what)
        self.path = path
        self.parts = parts_dir(path)
        self.existing = []
        if resume:
            self.existing = read_rows(path)
        else:
            shutil.rmtree(self.parts, ignore_errors=True)
            path.unlink(missing_ok=True)
        self.parts.mkdir(parents=True, exist_ok=True)
        for tmp in self.parts.glob("*.tmp"):
            tmp.unlink()
        self._n = len(list(self.parts.glob("part-*.parquet")))
        self._closed = False

    def write(self, rows: list[dict[str, Any]]) -> None:
        import pandas as pd

        if not rows:
            return
        frame = pd.DataFrame(rows)
        frame = _arrow_safe(frame)
        part = self.parts / f"part-{self._n:06d}.parquet"
        tmp = part.with_name(part.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, part)
        self._n += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        frame = _read_parquet(self.path)
        if frame is not None:
            tmp = self.path.with_name(self.path.name + ".tmp")
            _arrow_safe(frame).to_parquet(tmp, index=False)
            os.replace(tmp, self.path)
        shutil.rmtree(self.parts, ignore_errors=True)


def _arrow_safe(frame):
    """Object columns holding values of several types (an int here, a string there) as text,
    which parquet can store; dicts and lists as JSON."""
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        values = frame[col].dropna()
        kinds = {type(v) for v in values}
        if len(kinds) > 1 or kinds & {dict, list, tuple}:
            frame[col] = frame[col].map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v))
                                        else _cell(v) if isinstance(v, dict | list | tuple) else str(v))
    return frame


def _read_parquet(path: Path):
    """The parquet file and its parts (after a crash) as one DataFrame, or None if neither exists."""
    import pandas as pd

    files = [path] if path.is_file() else []
    parts = parts_dir(path)
    if parts.is_dir():
        files.extend(sorted(parts.glob("part-*.parquet")))
    frames = []
    for file in files:
        try:
            frames.append(pd.read_parquet(file))
        except Exception as exc:  # pyarrow's ArrowInvalid and OSError: not a parquet file
            raise TpusimError(f"{file}: not a readable parquet file ({type(exc).__name__}); give a "
                              f"parquet file tpusim wrote (this one is left as it is)") from None
    frames = [f for f in frames if len(f)]
    if not frames:
        return None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def has_rows(path: str | Path) -> bool:
    """True if `path` (or, for parquet, its parts left by a crash) holds anything."""
    path = Path(path)
    if path.is_file() and path.stat().st_size:
        return True
    parts = parts_dir(path)
    return path.suffix == ".parquet" and parts.is_dir() and any(parts.glob("part-*.parquet"))


# --- reading --------------------------------------------------------------------------------------------

def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The complete rows of an output file (CSV values come back as strings; a torn last line is
    ignored; parquet parts left by a crash are included). Nothing on disk changes."""
    path = Path(path)
    if path.suffix == ".parquet":
        _require_pyarrow(path, "out")
        frame = _read_parquet(path)
        return [] if frame is None else frame.to_dict("records")
    if not path.exists():
        return []
    rows, _, _ = _parse_lines(path, _complete(path.read_bytes()))
    return rows


def read_frame(path: str | Path):
    """An output file as a pandas DataFrame (CSV with pandas' type inference), torn tail ignored."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".csv":
        text = _complete(path.read_bytes()).decode("utf-8", errors="replace") if path.exists() else ""
        return pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame()
    return pd.DataFrame(read_rows(path))
