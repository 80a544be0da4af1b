"""Where the shipped data lives, and the one way a name or path given by the user becomes a file.

The data folders (`topologies/`, `workloads/`, `scenarios/`) sit at the repository root and
are copied into the wheel as `tpusim/_data/<folder>`; both places are searched, so editable
and wheel installs behave the same.

`find_input` resolves every reference to a TOML file (command-line arguments, a pod's `chip`, a
scenario's pod, a sweep's base): a path (it ends in `.toml` or holds a `/`) is looked for as
given, then beside the file that names it, then in the shipped folder; a bare name is a shipped
file (`palm-540b` -> `workloads/palm-540b.toml`, `v4` -> `topologies/chip-v4.toml`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tpusim.errors import TpusimError, unknown_name

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(folder: str) -> Path:
    """The shipped data folder `folder` ('topologies', 'workloads' or 'scenarios')."""
    for candidate in (_PACKAGE_DIR / "_data" / folder, _PACKAGE_DIR.parent / folder):
        if candidate.is_dir():
            return candidate
    raise TpusimError(f"tpusim data folder {folder!r} is missing; reinstall tpusim")


def catalog(folder: str, prefix: str = "") -> dict[str, Path]:
    """Shipped files of `folder` whose names start with `prefix`: {name without prefix: path}."""
    base = data_dir(folder)
    return {p.stem[len(prefix):]: p for p in sorted(base.glob(f"{prefix}*.toml"))}


def find_input(ref: str | Path, *, kind: str, folder: str, prefix: str = "",
               relative_to: Path | None = None,
               name_key: Callable[[str], str] = str.lower) -> Path:
    """The file `ref` names (see the module docstring), as an absolute path.

    `kind` names the file in messages ('workload', 'chip'); `name_key` maps a bare name to its
    catalog key (aliases). Raises TpusimError naming the places looked at, or the known names
    with a did-you-mean.
    """
    text = str(ref)
    if not text.strip():
        raise TpusimError(f"empty {kind} name; give a name (see `tpusim catalog`) or a .toml file")
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        tried = [path]
        if relative_to is not None and not path.is_absolute():
            tried.append(relative_to / path)
        if not path.is_absolute():
            base = data_dir(folder)
            tried.extend(dict.fromkeys((base / path, base / path.name)))
        for candidate in tried:
            if candidate.is_file():
                return candidate.resolve()
        raise TpusimError(f"{kind} file not found: {text!r} (looked in {', '.join(map(str, tried))})")
    files = catalog(folder, prefix)
    key = name_key(text)
    if key in files:
        return files[key].resolve()
    for candidate in ([relative_to / f"{text}.toml"] if relative_to is not None else []) + [
            Path(f"{text}.toml")]:
        if candidate.is_file():
            return candidate.resolve()
    raise unknown_name(kind, text, files, note="not found as a shipped name or as a file")


def tpusim_version() -> str:
    """The installed tpusim version (from the package metadata, i.e. pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tpusim")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"
