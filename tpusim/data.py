"""Where the shipped data lives, and TOML loading with errors that name the file and line.

The data folders (`topologies/`, `workloads/`, `scenarios/`) sit at the repository root and
are copied into the wheel as `tpusim/_data/<folder>`; both places are searched, so editable
and wheel installs behave the same.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from tpusim.errors import TpusimError

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(folder: str) -> Path:
    """The shipped data folder `folder` ('topologies', 'workloads' or 'scenarios')."""
    for candidate in (_PACKAGE_DIR / "_data" / folder, _PACKAGE_DIR.parent / folder):
        if candidate.is_dir():
            return candidate
    raise TpusimError(f"tpusim data folder {folder!r} is missing; reinstall tpusim")


def resolve_path(path: str | Path, *, relative_to: Path | None = None, folder: str | None = None) -> Path:
    """Find a file: as given (from the current directory), then beside `relative_to`
    (the TOML file that names it), then in the shipped data folder `folder`.

    Raises TpusimError naming every place looked at when the file is nowhere.
    """
    path = Path(path)
    tried = [path]
    if path.is_file():
        return path
    if relative_to is not None and not path.is_absolute():
        candidate = relative_to / path
        tried.append(candidate)
        if candidate.is_file():
            return candidate
    if folder is not None and not path.is_absolute():
        base = data_dir(folder)
        for candidate in dict.fromkeys((base / path, base / path.name)):
            tried.append(candidate)
            if candidate.is_file():
                return candidate
    raise TpusimError(f"file not found: {str(path)!r} (looked in {', '.join(map(str, tried))})")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a TpusimError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TpusimError(f"file not found: {str(path)!r}") from None
    except OSError as exc:
        raise TpusimError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TpusimError(f"malformed TOML in {path}: {exc} (fix the syntax at that line)") from None


def require_table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """`doc[key]` as a table, or a TpusimError saying the table is missing."""
    value = doc.get(key)
    if not isinstance(value, dict):
        raise TpusimError(f"{where}: missing [{key}] table")
    return value


def require_key(table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """`table[key]` checked to be of `kind`, or a TpusimError naming the key and the type wanted."""
    if key not in table:
        raise TpusimError(f"{where}: missing key {key!r}")
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise TpusimError(f"{where}: {key} must be {_kind_name(kinds)}, got {value!r}")
    if not isinstance(value, kinds):
        raise TpusimError(f"{where}: {key} must be {_kind_name(kinds)}, got {value!r}")
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "an array", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
