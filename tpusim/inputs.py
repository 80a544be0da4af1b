"""Reading input: one strict reader for every TOML file tpusim loads, and the checks of single values.

Every chip, pod, efficiency, workload, scenario and sweep file goes through `read_toml`:

    doc = read_toml(path)                        # UTF-8 only; syntax errors name the file and line
    model = doc.section("model")                 # a required table ([model])
    layers = model.integer("layers", at_least=1)
    mlp = model.choice("mlp", ("gelu", "swiglu"), default="swiglu")
    run = doc.section("run", required=False)     # absent: an empty table, so defaults apply
    days = run.number("days", default=30, above=0, at_most=3650)
    mttr_s = host.number("mttr_hours", above=0, scale=HOUR_S)   # hours in the file, seconds out
    doc.done()                                   # refuses every key and section never asked for

or, the same with the end implied (and a typo hint added to any input error raised inside):

    with read_toml(path) as doc:
        ...

A `Section` wraps one table. Its getters each ask for one key and return a checked Python value:

- `integer`, `number`: finite values only (NaN, infinity and denormal numbers are refused), in
  the range given by `at_least` / `above` / `at_most` / `below`; `number` multiplies by `scale`
  (unit conversion at the edge) and refuses a result that is not finite. A whole float (1e6) is
  an integer; `true` is never a number.
- `boolean`, `string`, `choice` (one of a few strings, with did-you-mean), `shape` ("4x4x8" or
  [4, 4, 8]), `integers` (an array of integers), `array` (any array), `raw` (any value).
- `section` (a sub-table), `optional_section` (None when absent), `sections` (an array of
  tables, [[jobs]]), `mapping` (a free-form table of strings such as [sources]); `has` and
  `names` for tables whose keys are data.

`default=` makes a key optional (the default is returned as given, unchecked); without it the key
is required. Each getter also records the key as known: `done()` then refuses any key or section
of the file that no getter asked for (a typo is never silently ignored), suggesting the closest
known name. `allow(*keys)` declares keys that are valid but read only in some cases.

Every problem is a `TpusimError` naming the file, the table, the key, the rule and the value;
unknown keys raise `UnknownKeyError` (a TpusimError), which sweeps check before running a point.

`check_integer`, `check_number` and `check_probability` apply the same rules to one value
(command-line options, library arguments). `parse_shape` and `fmt_shape` read and write slice
shapes ('4x4x8').

Invariants (tested): read_toml of a UTF-8 file equals tomllib's parse; every getter either
returns a value inside its range or raises TpusimError; done() raises iff some key was never
asked for; parse_shape(fmt_shape(s)) == s.
"""

from __future__ import annotations

import datetime
import difflib
import math
import numbers
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tpusim.errors import TpusimError
from tpusim.filecache import note_read, path_status

REQUIRED: Any = object()  # default= sentinel: the key must be present
MAX_INPUT_BYTES = 8 * 1024**2  # a TOML input file above 8 MiB is not a hand-written input
SMALLEST_NORMAL = sys.float_info.min  # 2.2e-308: smaller non-zero numbers are denormal


class UnknownKeyError(TpusimError):
    """A key or table the schema does not know (a typo): refused before any work starts."""


# --- files ------------------------------------------------------------------------------------

def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file as a plain dict. Refuses files that are not UTF-8 text (UTF-16, binary)
    and files above MAX_INPUT_BYTES; a syntax error names the file and the line."""
    path = Path(path)
    try:
        status = path_status(path)  # before the read: a write during it is seen as a change
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise TpusimError(f"{path}: {size} bytes is too large for an input file (at most "
                              f"{MAX_INPUT_BYTES // 1024**2} MiB); is it the right file?")
        data = path.read_bytes()
        note_read(path, data, status)  # caches of what is built from this file notice edits
    except FileNotFoundError:
        raise TpusimError(f"file not found: {str(path)!r}") from None
    except IsADirectoryError:
        raise TpusimError(f"{str(path)!r} is a directory; give a .toml file") from None
    except OSError as exc:
        raise TpusimError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(decode_text(data, str(path)))
    except tomllib.TOMLDecodeError as exc:
        where = ("at that line" if "line" in str(exc) else
                 "at the end of the file: a value, a closing bracket or a quote is missing")
        raise TpusimError(f"malformed TOML in {path}: {exc} (fix the syntax {where})") from None


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 bytes as text (a UTF-8 byte-order mark is dropped); anything else is one error that
    names the encoding problem."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TpusimError(f"{where}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        even, odd = data[0::2], data[1::2]
        if even.count(0) > len(even) // 2 or odd.count(0) > len(odd) // 2:
            raise TpusimError(f"{where}: the file looks like UTF-16 text without a byte-order mark; "
                              f"save it as UTF-8")
        raise TpusimError(f"{where}: the file holds binary data (NUL bytes), not TOML text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TpusimError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                          f"save the file as UTF-8") from None


def read_toml(path: str | Path) -> Section:
    """A TOML file as a strict `Section` (see the module docstring)."""
    return Section(load_toml(path), str(path))


# --- single values ------------------------------------------------------------------------------

def show(value: Any) -> str:
    """A value as the user wrote it in TOML: true, 'text', 1.5, a table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, datetime.date | datetime.time):  # TOML dates and times, as written
        return value.isoformat()
    return repr(value)


def _fmt(x: float) -> str:
    """A bound as people write it: 64, 0.5, 1e+24, 16777216 (integers stay whole up to 1e7, and
    beyond where the short form would round them)."""
    whole = float(x).is_integer()
    return str(int(x)) if whole and (abs(x) < 1e7 or float(f"{x:g}") != x) else f"{x:g}"


def _bounds(kind: str, at_least, above, at_most, below) -> str:
    """'a positive number', 'an integer >= 0', 'a number in (0, 1]', 'a positive integer up to 64'."""
    article = "an" if kind == "integer" else "a"
    at_least, above, at_most, below = (None if x is None else _fmt(x)
                                       for x in (at_least, above, at_most, below))
    high = (f"{at_most}]" if at_most is not None else f"{below})" if below is not None else None)
    if (above == "0" and high is None) or (kind == "integer" and at_least == "1"):
        upper = "" if high is None else f" {'up to' if at_most is not None else 'below'} {high[:-1]}"
        return f"a positive {kind}{upper}"
    low = (f"[{at_least}" if at_least is not None else f"({above}" if above is not None else None)
    if low is not None and high is not None:
        return f"{article} {kind} in {low}, {high}"
    if low is not None:
        return f"{article} {kind} {'>=' if at_least is not None else '>'} {low[1:]}"
    if high is not None:
        return f"{article} {kind} {'<=' if at_most is not None else '<'} {high[:-1]}"
    return f"{article} {kind}"


def _in_range(value: float, at_least, above, at_most, below) -> bool:
    return ((at_least is None or value >= at_least) and (above is None or value > above)
            and (at_most is None or value <= at_most) and (below is None or value < below))


def check_number(value: Any, name: str, where: str, *, at_least: float | None = None,
                 above: float | None = None, at_most: float | None = None,
                 below: float | None = None, scale: float = 1.0, hint: str = "",
                 param: bool = False) -> float:
    """`value` as a float if it is a finite, normal number in range; times `scale` (a unit
    conversion), which must stay finite. Else a TpusimError naming `where` (if not empty), `name`
    and the range (`param`: `name` is a library parameter, which the CLI shows as its flag)."""
    params = (name,) if param else ()
    where = f"{where}: " if where else ""
    rule = _bounds("number", at_least, above, at_most, below)
    tail = f" ({hint})" if hint else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TpusimError(f"{where}{name} must be {rule}, got {show(value)}{tail}", params=params)
    if not math.isfinite(value):
        finite = rule.replace("positive number", "positive finite number").replace(
            "a number", "a finite number")
        raise TpusimError(f"{where}{name} must be {finite}, got {show(value)}", params=params)
    number = float(value)
    if number != 0 and abs(number) < SMALLEST_NORMAL:
        raise TpusimError(f"{where}{name} = {value!r} is a denormal number (below "
                          f"{SMALLEST_NORMAL:.3g}, not a usable value); it must be {rule}", params=params)
    if not _in_range(number, at_least, above, at_most, below):
        raise TpusimError(f"{where}{name} must be {rule}, got {show(value)}{tail}", params=params)
    scaled = number * scale
    if not math.isfinite(scaled) or (scaled != 0 and abs(scaled) < SMALLEST_NORMAL):
        raise TpusimError(f"{where}{name} = {value!r} is out of range once converted to SI "
                          f"units; use a value nearer 1", params=params)
    return scaled


def check_probability(value: Any, name: str, where: str, *, allow_zero: bool = False,
                      param: bool = False) -> float:
    """`value` as a float in (0, 1] (or [0, 1] with `allow_zero`), else a TpusimError."""
    return check_number(value, name, where, at_least=0 if allow_zero else None,
                        above=None if allow_zero else 0, at_most=1, hint="write 99.5% as 0.995",
                        param=param)


def check_integer(value: Any, name: str, where: str, *, at_least: int | None = None,
                  at_most: int | None = None, hint: str = "", param: bool = False) -> int:
    """`value` as an int if it is a whole number (1e6 counts) in [at_least, at_most]; else a
    TpusimError naming `where`, `name` and the range (`param` as for check_number)."""
    params = (name,) if param else ()
    where = f"{where}: " if where else ""
    rule = _bounds("integer", at_least, None, at_most, None)
    tail = f" ({hint})" if hint else ""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise TpusimError(f"{where}{name} must be {rule}, got {show(value)}{tail}", params=params)
    number = int(value)
    if not _in_range(number, at_least, None, at_most, None):
        raise TpusimError(f"{where}{name} must be {rule}, got {show(value)}{tail}", params=params)
    return number


def check_choice(value: Any, name: str, where: str, options: Sequence[str], *,
                 param: bool = False) -> str:
    """`value` if it is one of `options`; else a TpusimError listing them (with did-you-mean)."""
    if isinstance(value, str) and value in options:
        return value
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.5) if isinstance(value, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f"{where}: " if where else ""
    raise TpusimError(f"{where}{name} must be one of {', '.join(options)}, got {show(value)}{hint}",
                      params=(name,) if param else ())


# --- shapes ---------------------------------------------------------------------------------------

def parse_shape(text: str) -> tuple[int, ...]:
    """'8x16x24' -> (8, 16, 24). Raises TpusimError for anything but positive integers joined by x."""
    if not isinstance(text, str):
        raise TpusimError(f"shape must be a string like '4x4x8', got {show(text)}")
    parts = text.strip().lower().replace("×", "x").split("x")
    if not all(p.strip().isdigit() and p.strip().isascii() for p in parts):
        if all(p.strip().lstrip("+-").isdigit() and p.isascii() for p in parts):
            raise TpusimError(f"shape {text!r} must have positive sides, e.g. 4x4x8")
        raise TpusimError(f"cannot read shape {text!r}; write it as AxBxC in chips, e.g. 4x4x8")
    dims = tuple(int(p) for p in parts)
    if any(d <= 0 for d in dims):
        raise TpusimError(f"shape {text!r} must have positive sides, e.g. 4x4x8")
    if any(d > 2**20 for d in dims):
        raise TpusimError(f"shape {text!r} has a side above {2**20}; no pod is that large")
    return dims


def fmt_shape(shape: Iterable[int]) -> str:
    """(8, 16, 24) -> '8x16x24'."""
    return "x".join(str(d) for d in shape)


# --- tables ---------------------------------------------------------------------------------------

class Section:
    """One TOML table read strictly: typed getters, defaults, and `done()` for unknown keys.

    `data` is the parsed table; `file` names the file in messages; `path` is the table's dotted
    name ('' for the whole file, 'failures.host'); `label` overrides how messages name it.
    """

    def __init__(self, data: dict[str, Any], file: str, path: str = "", *, label: str | None = None):
        if not isinstance(data, dict):
            raise TpusimError(f"{label or file}: must be a table, got {show(data)}")
        self.data = data
        self.file = file
        self.path = path
        self.label = label or (f"{file} [{path}]" if path else file)
        self._known: set[str] = set()
        self._tables: set[str] = set()  # known keys that are tables: shown as [name]
        self._children: list[Section] = []

    # -- presence -------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """True if the table holds `key` (which is known to the schema from now on)."""
        self._known.add(key)
        return key in self.data

    def names(self) -> list[str]:
        """The keys present, in file order (for tables whose keys are data, e.g. [failures])."""
        return list(self.data)

    def allow(self, *keys: str) -> None:
        """Declare keys valid here even if no getter reads them (read only in some cases)."""
        self._known.update(keys)

    def _get(self, key: str, default: Any) -> Any:
        self._known.add(key)
        if key in self.data:
            return self.data[key]
        if default is REQUIRED:
            raise TpusimError(f"{self.label}: missing key {key!r}{self._typo_hint(key)}")
        return default

    def _typo_hint(self, key: str, *, table: bool = False) -> str:
        unread = [k for k in self.data if k not in self._known]
        close = difflib.get_close_matches(key, unread, n=1, cutoff=0.6)
        if not close:
            return ""
        return f" (is {f'[{close[0]}]' if table else repr(close[0])} a typo of it?)"

    # -- scalars --------------------------------------------------------------------------------
    def integer(self, key: str, default: Any = REQUIRED, *, at_least: int | None = None,
                at_most: int | None = None, hint: str = "") -> int:
        value = self._get(key, default)
        if key not in self.data:
            return value
        return check_integer(value, key, self.label, at_least=at_least, at_most=at_most, hint=hint)

    def number(self, key: str, default: Any = REQUIRED, *, at_least: float | None = None,
               above: float | None = None, at_most: float | None = None, below: float | None = None,
               scale: float = 1.0, hint: str = "") -> float:
        value = self._get(key, default)
        if key not in self.data:
            return value
        return check_number(value, key, self.label, at_least=at_least, above=above, at_most=at_most,
                            below=below, scale=scale, hint=hint)

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        value = self._get(key, default)
        if key in self.data and not isinstance(value, bool):
            raise TpusimError(f"{self.label}: {key} must be true or false, got {show(value)}")
        return value

    def string(self, key: str, default: Any = REQUIRED, *, hint: str = "") -> str:
        value = self._get(key, default)
        if key in self.data and (not isinstance(value, str) or not value.strip()):
            tail = f" ({hint})" if hint else ""
            raise TpusimError(f"{self.label}: {key} must be a non-empty string, got {show(value)}{tail}")
        return value

    def choice(self, key: str, options: Sequence[str], default: Any = REQUIRED) -> str:
        value = self._get(key, default)
        if key not in self.data:
            return value
        return check_choice(value, key, self.label, options)

    def shape(self, key: str, default: Any = REQUIRED) -> tuple[int, ...]:
        """A shape written "4x4x8" or [4, 4, 8]: positive integer sides."""
        value = self._get(key, default)
        if key not in self.data:
            return value
        return self._shape(key, value)

    def _shape(self, key: str, value: Any) -> tuple[int, ...]:
        if isinstance(value, str):
            try:
                return parse_shape(value)
            except TpusimError as exc:
                raise TpusimError(f"{self.label}: {key}: {exc}") from None
        if isinstance(value, list) and value:
            return tuple(check_integer(v, key, self.label, at_least=1, at_most=2**20) for v in value)
        raise TpusimError(f'{self.label}: {key} must be a shape like "4x4x8" or [4, 4, 8], '
                          f"got {show(value)}")

    # -- arrays -----------------------------------------------------------------------------------
    def array(self, key: str, default: Any = REQUIRED, *, non_empty: bool = False) -> list:
        value = self._get(key, default)
        if key not in self.data:
            return value
        if not isinstance(value, list) or (non_empty and not value):
            what = "a non-empty array" if non_empty else "an array"
            raise TpusimError(f"{self.label}: {key} must be {what}, e.g. [1, 2], got {show(value)}")
        return value

    def integers(self, key: str, default: Any = REQUIRED, *, at_least: int | None = None,
                 at_most: int | None = None) -> tuple[int, ...]:
        value = self.array(key, default)
        if key not in self.data:
            return value
        return tuple(check_integer(v, f"{key} entries", self.label, at_least=at_least, at_most=at_most)
                     for v in value)

    def shapes(self, key: str, default: Any = REQUIRED) -> tuple[tuple[int, ...], ...]:
        value = self.array(key, default, non_empty=True)
        if key not in self.data:
            return value
        return tuple(self._shape(key, v) for v in value)

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        """The value as parsed, unchecked (the caller checks it; a table inside is not strict)."""
        return self._get(key, default)

    # -- tables -----------------------------------------------------------------------------------
    def section(self, key: str, *, required: bool = True) -> Section:
        """The sub-table `key` as a strict Section; when absent and not required, an empty one."""
        name = f"{self.path}.{key}" if self.path else key
        self._known.add(key)
        self._tables.add(key)
        if key not in self.data:
            if required:
                raise TpusimError(f"{self.label}: missing [{name}] table{self._typo_hint(key, table=True)}")
            value: dict = {}
        else:
            value = self.data[key]
            if not isinstance(value, dict):
                raise TpusimError(f"{self.file}: [{name}] must be a table, got {show(value)}")
        child = Section(value, self.file, name)
        self._children.append(child)
        return child

    def optional_section(self, key: str) -> Section | None:
        """The sub-table `key` as a strict Section, or None when the file has no such table."""
        self._tables.add(key)
        return self.section(key) if self.has(key) else None

    def sections(self, key: str) -> list[Section]:
        """The array of tables [[key]] (empty if absent), each a strict Section."""
        name = f"{self.path}.{key}" if self.path else key
        self._tables.add(key)
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise TpusimError(f"{self.file}: {key} must be an array of tables ([[{name}]])")
        out = [Section(v, self.file, name, label=f"{self.file} [[{name}]] #{i + 1}")
               for i, v in enumerate(value)]
        self._children.extend(out)
        return out

    def mapping(self, key: str, *, keys: Iterable[str] | None = None) -> dict[str, str]:
        """A free-form table of strings (e.g. [sources]); empty if absent. With `keys`, each
        entry must name one of them (did-you-mean otherwise)."""
        value = self._get(key, {})
        self._tables.add(key)
        name = f"{self.path}.{key}" if self.path else key
        if not isinstance(value, dict):
            raise TpusimError(f'{self.file}: [{name}] must be a table of strings (key = "text")')
        for k, v in value.items():
            if not isinstance(v, str):
                raise TpusimError(f'{self.file} [{name}]: {k} must be a string (key = "text"), got {show(v)}')
        if keys is not None:
            table = Section(value, self.file, name)
            table.allow(*keys)
            table.done()
        return dict(value)

    def citations(self, keys: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """This table's [sources] and [assumptions] for the values `keys`: every key must be
        cited in [sources]; both tables may name only those keys (data in TOML carries its
        source)."""
        keys = list(keys)
        sources = self.mapping("sources", keys=keys)
        assumptions = self.mapping("assumptions", keys=keys)
        missing = [k for k in keys if k not in sources]
        if missing:
            where = f"{self.file} [{self.path}.sources]" if self.path else f"{self.file} [sources]"
            raise TpusimError(f"{where}: no source for {', '.join(missing)}; add an entry citing "
                              f"where each value comes from")
        return sources, assumptions

    # -- the end ----------------------------------------------------------------------------------
    def __enter__(self) -> Section:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        """`with Section(doc, where) as top:` runs `done()` at the end; an input error raised
        inside (say "give mtbf_hours, or availability") gets the likely cause appended when a
        key was never read but is a near miss of one that was ('availabilty')."""
        if exc is None:
            self.done()
        elif isinstance(exc, TpusimError) and not isinstance(exc, UnknownKeyError):
            hint = self.typo_hint()
            if hint and hint.split()[1] not in str(exc):  # not named already ("... a typo of it?")
                raise TpusimError(f"{exc}{hint}", params=getattr(exc, "params", ())) from None

    def typo_hint(self) -> str:
        """' (is 'availabilty' in [failures.host] a typo of 'availability'?)' for the key, of this
        table or a sub-table read so far, that no getter asked for but is closest (similarity at
        least 0.8) to one that was asked for and is absent; '' when there is none."""
        best = max(self._near_misses(), key=lambda miss: miss[0], default=None)
        if best is None:
            return ""
        _, key, close, section = best
        if not section.path and isinstance(section.data[key], dict):
            return f" (is [{key}] a typo of [{close}]?)"
        where = f" in {section.label[len(section.file) + 1:]}" if section.path else ""
        return f" (is {key!r}{where} a typo of {close!r}?)"

    def _near_misses(self) -> Iterator[tuple[float, str, str, Section]]:
        for key in self.data:
            if key not in self._known:
                for known in self._known - self.data.keys():  # a key the file has is no typo
                    ratio = difflib.SequenceMatcher(None, key, known).ratio()
                    if ratio >= 0.8:
                        yield ratio, key, known, self
        for child in self._children:
            yield from child._near_misses()

    def done(self, *, hint: str = "") -> None:
        """Refuse every key of this table (and of every sub-table read) that no getter asked for."""
        for key, value in self.data.items():
            if key not in self._known:
                raise self._unknown(key, value, hint)
        for child in self._children:
            child.done(hint=hint)

    def _unknown(self, key: str, value: Any, hint: str) -> UnknownKeyError:
        """'unknown key 'remats'; did you mean 'remat'? known: a, b' ([name] for a top-level table)."""
        section = isinstance(value, dict) and not self.path
        known = sorted(self._known)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        shown = f"[{key}]" if section else repr(key)
        message = f"{self.label}: unknown {'section' if section else 'key'} {shown}"
        if close:
            message += f"; did you mean {f'[{close[0]}]' if section else repr(close[0])}?"
        if known:
            names = (f"[{k}]" if k in self._tables and not self.path else k for k in known)
            message += f"{' ' if close else '; '}known: {', '.join(names)}"
        return UnknownKeyError(message + (f" ({hint})" if hint else ""))
