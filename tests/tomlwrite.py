"""A small TOML writer for tests (the standard library only reads TOML): tables, arrays of tables,
inline tables, and the values tomllib returns, NaN and infinities included."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(name: str) -> str:
    return name if _BARE.match(name) else _string(name)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {type(v).__name__}")


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _emit(lines: list[str], path: list[str], table: dict, header: str | None) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, dict) and not _is_tables(v)]
    if header is not None:
        lines.append(header)
    lines.extend(f"{key(k)} = {value(v)}" for k, v in scalars)
    for k, v in table.items():
        if isinstance(v, dict):
            _emit(lines, [*path, k], v, f"[{'.'.join(key(p) for p in [*path, k])}]")
    for k, v in table.items():
        if _is_tables(v):
            for item in v:
                _emit(lines, [*path, k], item, f"[[{'.'.join(key(p) for p in [*path, k])}]]")


def dumps(doc: dict) -> str:
    """`doc` as TOML text that tomllib reads back equal (NaN aside)."""
    lines: list[str] = []
    _emit(lines, [], doc, None)
    return "\n".join(lines) + "\n"
