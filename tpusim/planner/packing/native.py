"""The compiled part of the packing engine (C through ctypes), built on first use.

The C sources next to this file (`_packing.h` says which does what) are compiled together with
the system C compiler (`cc`, or $CC) into a per-user cache folder ($TPUSIM_CACHE_DIR, else
$XDG_CACHE_HOME/tpusim, else ~/.cache/tpusim), keyed by a hash of the sources. When no compiler
is available, or TPUSIM_NO_NATIVE=1, `available()` is False and the engine runs on the Python
twin (tpusim.planner.packing.twin) instead: the results are the same, only slower.

Each C entry point takes ONE struct, declared here with ctypes (`_Boxes`, `_Exists`, `_Batch`,
`_Joint`, `_Cycle`, mirroring `tp_*_t` in `_packing.h`); the library reports its own layout of
each (`tp_layout`: size, and every field's name, offset and size in order) and is refused when
it differs from the ctypes one, so a field added, dropped, retyped or moved on one side only is
an error at load time instead of silently corrupted memory.

`NativeBoxes.exists(healthy_boxes, free, t, budget)` answers "do t disjoint boxes fit among
these healthy boxes?": a list of t placement indices, False (proved impossible) or None (the
node budget ran out; the caller must decide another way). Every answer it gives is exact.

Invariants (tested): the ctypes structs match the compiled layout field by field; every count
and bound from the compiled calls equals its pure-Python or brute-force reference.
"""

from __future__ import annotations

import ctypes
import hashlib
import itertools
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tpusim.planner.packing.bits import bool_words, n_words, to_words, word_array
from tpusim.planner.packing.problem import BatchResult, Budgets, Packings, Problem, problem

_HERE = Path(__file__).parent
_SOURCES = tuple(sorted(_HERE.glob("_*.c")))  # compiled together into one library
_HEADER = _HERE / "_packing.h"
_MAX_CELL_WORDS = 4  # MAXWC in _packing.h
_MAX_BOX_WORDS = 16  # MAXWB
_MAX_OPTIONS = 256  # MAXOPT: boxes through one cube
_MEMO_IDS = itertools.count(1)  # one id per NativeBoxes: its proofs are kept across calls

_I32, _I64, _U64, _F64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_double
_I32P, _I64P, _U64P, _F64P = (ctypes.POINTER(t) for t in (_I32, _I64, _U64, _F64))


class _Boxes(ctypes.Structure):
    """tp_boxes_t: one box shape on one cube torus (see _packing.h)."""

    _fields_ = [("masks", _U64P), ("cube_boxes", _U64P), ("conflict", _U64P), ("cls", _U64P),
                ("need", _I32P), ("fam", _I32P), ("sub", _U64P), ("wc", _I32), ("wb", _I32),
                ("k", _I32), ("nboxes", _I32), ("ncls", _I32), ("nfam", _I32)]


class _Exists(ctypes.Structure):
    """tp_exists_t: one search."""

    _fields_ = [("boxes", ctypes.POINTER(_Boxes)), ("alive", _U64P), ("free", _U64P),
                ("rank", _I32P), ("weight", _F64P), ("out", _I32P), ("budget", _I64),
                ("memo_id", _I64), ("t", _I32), ("use_waste", _I32)]


class _Batch(ctypes.Structure):
    """tp_batch_t: the batch solver over many patterns."""

    _fields_ = [("boxes", ctypes.POINTER(_Boxes)), ("rank", _I32P), ("alive", _U64P),
                ("free", _U64P), ("upper", _I32P), ("lower", _I32P), ("orders", _I32P),
                ("windows", _U64P), ("count_out", _I32P), ("upper_out", _I32P),
                ("best_out", _I32P), ("joint_budget", _I64), ("first_budget", _I64),
                ("local_budget", _I64), ("mid_budget", _I64), ("quick_budget", _I64),
                ("memo_id", _I64), ("npat", _I32), ("norders", _I32), ("nwin", _I32),
                ("best_cap", _I32), ("local_waste", _I32)]


class _Joint(ctypes.Structure):
    """tp_joint_t: the joint parity bound of many free-cell sets."""

    _fields_ = [("boxes", ctypes.POINTER(_Boxes)), ("free", _U64P), ("upper", _I32P),
                ("out", _I32P), ("budget", _I64), ("npat", _I32)]


class _Cycle(ctypes.Structure):
    """tp_cycle_t: the slab bound's cycle DP, row by row."""

    _fields_ = [("a", _I64P), ("b", _I64P), ("out", _I64P), ("rows", _I32), ("n", _I32)]


_STRUCTS = {"tp_boxes_t": _Boxes, "tp_exists_t": _Exists, "tp_batch_t": _Batch,
            "tp_joint_t": _Joint, "tp_cycle_t": _Cycle}


class _Field(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("offset", _I64), ("size", _I64)]


def _ptr(arr: np.ndarray | None, ctype):
    """A typed pointer to a contiguous numpy array's data, or None (NULL)."""
    return None if arr is None else arr.ctypes.data_as(ctypes.POINTER(ctype))


@dataclass(frozen=True)
class _Library:
    """The compiled library and its entry points (each takes a pointer to its call struct)."""

    cdll: ctypes.CDLL
    exists: ctypes._CFuncPtr
    solve_batch: ctypes._CFuncPtr
    joint_bounds: ctypes._CFuncPtr
    cycle_max: ctypes._CFuncPtr


def _cache_dir() -> Path:
    env = os.environ.get("TPUSIM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tpusim"


@lru_cache(maxsize=1)
def _library() -> _Library | None:
    """The compiled library's entry points, or None when it cannot be built. Raises
    RuntimeError when its struct layout differs from the ctypes declarations (a bug here)."""
    if os.environ.get("TPUSIM_NO_NATIVE") == "1":
        return None
    try:
        src = b"".join(p.read_bytes() for p in (*_SOURCES, _HEADER))
    except OSError:
        return None
    machine = platform.machine()
    flag_sets = [["-O3", "-mpopcnt"], ["-O2"]] if machine in ("x86_64", "AMD64") else [["-O2"]]
    folder = _cache_dir()
    for flags in flag_sets:
        tag = hashlib.sha256(src + " ".join([machine, *flags]).encode()).hexdigest()[:16]
        lib_path = folder / f"tpusim_packing_{tag}.so"
        if lib_path.exists() or _compile(folder, flags, lib_path):
            break
    else:
        return None
    try:
        lib = ctypes.CDLL(str(lib_path))
    except OSError:
        return None
    errors = layout_errors(lib)
    if errors:
        raise RuntimeError(f"the compiled packing library {lib_path} and its ctypes structs "
                           f"disagree: {'; '.join(errors)}")
    for name, struct, restype in (("tp_exists", _Exists, ctypes.c_int),
                                  ("tp_solve_batch", _Batch, ctypes.c_int),
                                  ("tp_joint_bounds", _Joint, None),
                                  ("tp_cycle_max", _Cycle, None)):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.POINTER(struct)]
        fn.restype = restype
    return _Library(lib, lib.tp_exists, lib.tp_solve_batch, lib.tp_joint_bounds, lib.tp_cycle_max)


def layout_errors(lib: ctypes.CDLL, structs: dict | None = None) -> list[str]:
    """How the library's layout of each call struct differs from the ctypes one (empty when
    they agree): the size, and each field's name, offset and size in declaration order."""
    fn = lib.tp_layout
    fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(_Field)), ctypes.POINTER(_I32)]
    fn.restype = _I64
    errors = []
    for name, struct in (structs or _STRUCTS).items():
        fields = ctypes.POINTER(_Field)()
        count = _I32()
        size = fn(name.encode(), ctypes.byref(fields), ctypes.byref(count))
        if size < 0:
            errors.append(f"{name} is unknown to the library")
            continue
        c = [(fields[i].name.decode(), fields[i].offset, fields[i].size) for i in range(count.value)]
        py = [(f, getattr(struct, f).offset, getattr(struct, f).size) for f, _ in struct._fields_]
        if size != ctypes.sizeof(struct) or c != py:
            errors.append(f"{name}: C {size} bytes {c}, ctypes {ctypes.sizeof(struct)} bytes {py}")
    return errors


def _compile(folder: Path, flags: list[str], lib_path: Path) -> bool:
    """Build the C sources into lib_path with `flags` (the hardware popcount instruction, where
    the CPU family has one, makes the search about 1.5x faster); False if the compiler fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
        os.close(fd)
        cc = os.environ.get("CC", "cc")
        try:
            subprocess.run([cc, *flags, "-shared", "-fPIC", "-fvisibility=hidden", "-o", tmp,
                            *map(str, _SOURCES)], check=True, capture_output=True, timeout=120)
            os.replace(tmp, lib_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def available() -> bool:
    """True when the compiled search can be used."""
    return _library() is not None


@dataclass(frozen=True)
class NativeBoxes:
    """One packing problem (tpusim.planner.packing.problem) as word arrays for the compiled
    search: wc words of cubes, wb words of boxes (search order)."""

    problem: Problem
    wc: int
    wb: int
    masks: np.ndarray       # boxes x wc
    cube_boxes: np.ndarray  # 64 wc cells (padded) x wb
    conflict: np.ndarray    # boxes x wb
    classes: np.ndarray     # coloring classes x wc
    need: np.ndarray        # per class
    families: np.ndarray    # waste families x 3: first sub-torus, count, modulus
    subtori: np.ndarray     # sub-tori x 2 x wc: class A cubes, class B cubes
    orders: np.ndarray      # greedy orders x boxes
    windows: np.ndarray     # local-search windows x wc
    rank: np.ndarray        # the default option order: search index
    struct: ctypes.pointer  # -> _Boxes over the arrays above (they live as long as this)
    memo_id: int            # impossibility proofs are kept across calls with it (_search.c)
    compiled = True         # (class attribute) the kernel is compiled: threads, its budgets

    def exists(self, healthy_boxes: list[int], free: int, t: int, budget: int, *,
               waste: bool = True, keep_proofs: bool = False,
               prefer: list[int] | None = None, weights: np.ndarray | None = None):
        """t disjoint boxes among `healthy_boxes` (placement indices) inside cubes `free`:
        their indices, False if there are none, None if the node budget ran out.
        keep_proofs: reuse and keep the impossibility proofs of earlier calls that also set it;
        only valid when `healthy_boxes` holds every placement inside `free` (then a proof
        depends only on the cubes, see _search.c). `prefer`: placement indices to try first,
        in that order, at every branching (e.g. by LP weight). `weights`: per cube, a dual
        solution of the LP relaxation (every healthy box's cubes weigh at least 1): nodes whose
        free cubes weigh less than the boxes still wanted are pruned."""
        pr = self.problem
        rank = self.rank
        if prefer is not None:
            rank = np.full(len(self.masks), len(self.masks), dtype=np.int32)
            rank[pr.to_search[np.asarray(prefer, dtype=np.int64)]] = np.arange(len(prefer), dtype=np.int32)
        alive = np.zeros(self.wb, dtype=np.uint64)
        if len(healthy_boxes):
            nat = pr.to_search[np.asarray(healthy_boxes, dtype=np.int64)].astype(np.uint64)
            np.bitwise_or.at(alive, nat >> np.uint64(6), np.left_shift(np.uint64(1), nat & np.uint64(63)))
        cells = np.array(to_words(free, self.wc), dtype=np.uint64)
        out = np.zeros(max(t, 1), dtype=np.int32)
        w = None
        if weights is not None:
            w = np.zeros(64 * self.wc, dtype=np.float64)
            w[:len(weights)] = weights
        call = _Exists(boxes=self.struct, alive=_ptr(alive, _U64), free=_ptr(cells, _U64),
                       rank=_ptr(rank, _I32), weight=_ptr(w, _F64), out=_ptr(out, _I32),
                       budget=budget, memo_id=self.memo_id if keep_proofs else 0, t=t,
                       use_waste=int(waste))
        r = _library().exists(ctypes.byref(call))
        if r == 1:
            return pr.from_search[out[:t]].tolist()
        if r == 0:
            return False
        return None

    def solve_batch(self, ok: np.ndarray, coverable: np.ndarray, upper: np.ndarray, *,
                    lower: np.ndarray | None = None, budgets: Budgets) -> BatchResult:
        """Maximum packings of many patterns in one compiled call (see _batch.c):
        `ok` (patterns x placements) healthy placements, `coverable` (patterns x cubes) the
        cubes they cover, `upper` an upper bound per pattern. Patterns whose searches run out of
        nodes come back with count -1, a lower upper bound where one was proved, and the best
        packing. `lower`: per pattern, a count a packing is known to reach (without the packing
        itself)."""
        npat = len(upper)
        alive = bool_words(np.asarray(ok, dtype=bool)[:, self.problem.from_search], self.wb)
        free = bool_words(coverable, self.wc)
        up = np.ascontiguousarray(np.asarray(upper, dtype=np.int32))
        low = None if lower is None else np.ascontiguousarray(np.asarray(lower, dtype=np.int32))
        cap = max(int(up.max(initial=0)), 1)
        count = np.zeros(npat, dtype=np.int32)
        up_out = np.zeros(npat, dtype=np.int32)
        best = np.zeros((npat, cap), dtype=np.int32)
        call = _Batch(boxes=self.struct, rank=_ptr(self.rank, _I32), alive=_ptr(alive, _U64),
                      free=_ptr(free, _U64), upper=_ptr(up, _I32), lower=_ptr(low, _I32),
                      orders=_ptr(self.orders, _I32), windows=_ptr(self.windows, _U64),
                      count_out=_ptr(count, _I32), upper_out=_ptr(up_out, _I32),
                      best_out=_ptr(best, _I32), joint_budget=budgets.joint,
                      first_budget=budgets.first, local_budget=budgets.local,
                      mid_budget=budgets.mid, quick_budget=budgets.quick, memo_id=self.memo_id,
                      npat=npat, norders=len(self.orders), nwin=len(self.windows),
                      best_cap=cap, local_waste=int(budgets.local_waste))
        r = _library().solve_batch(ctypes.byref(call))
        if r != 0:  # pragma: no cover - native_boxes only builds word arrays that fit
            raise RuntimeError(f"compiled batch search refused its input ({r})")
        return BatchResult(count.astype(np.int64), up_out.astype(np.int64),
                           Packings(best, self.problem.from_search))

    def joint_bounds(self, coverable: np.ndarray, upper: np.ndarray, *,
                     budget: int = 100_000) -> np.ndarray:
        """The joint parity bound (see _joint.c) for each pattern: the largest t <= upper whose
        unused-cube parities are not proved impossible (`budget` search nodes per target; when
        it runs out, t stands). `coverable`: (patterns x cubes) bool, the cubes healthy boxes
        cover. Always an upper bound on the maximum packing; often tighter than the waste
        families one at a time, because the unused cubes must balance every family's sub-tori
        at once."""
        free = bool_words(coverable, self.wc)
        up = np.ascontiguousarray(np.asarray(upper, dtype=np.int32))
        out = np.zeros(len(up), dtype=np.int32)
        call = _Joint(boxes=self.struct, free=_ptr(free, _U64), upper=_ptr(up, _I32),
                      out=_ptr(out, _I32), budget=budget, npat=len(up))
        _library().joint_bounds(ctypes.byref(call))
        return out.astype(np.int64)


def cycle_max(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The slab bound's cycle DP compiled (_cycle.c; the same answer as twin.cycle_max), or
    None if the library is unavailable or a value is too large for it."""
    lib = _library()
    if lib is None or int(np.max(a, initial=0)) >= 63:
        return None
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    out = np.zeros(a.shape[0], dtype=np.int64)
    call = _Cycle(a=_ptr(a, _I64), b=_ptr(b, _I64), out=_ptr(out, _I64), rows=a.shape[0],
                  n=a.shape[1])
    lib.cycle_max(ctypes.byref(call))
    return out


@lru_cache(maxsize=256)
def native_boxes(grid: tuple[int, ...], shape: tuple[int, ...]) -> NativeBoxes | None:
    """The compiled search's word arrays of one packing problem (cached), or None if the
    library is unavailable or the problem is too large for its fixed-size bit sets."""
    if not available():
        return None
    pr = problem(grid, shape)
    wc, wb = n_words(pr.n_cubes), n_words(len(pr.masks))
    if wc > _MAX_CELL_WORDS or wb > _MAX_BOX_WORDS:
        return None
    if max(m.bit_count() for m in pr.cube_boxes) > _MAX_OPTIONS:
        return None
    arrays = {
        "masks": word_array(pr.masks, wc),
        "cube_boxes": word_array(pr.cube_boxes + (0,) * (64 * wc - pr.n_cubes), wb),
        "conflict": word_array(pr.conflict, wb),
        "classes": word_array(pr.classes, wc),
        "need": np.ascontiguousarray(np.array(pr.need, dtype=np.int32)),
        "families": np.ascontiguousarray(np.array(pr.families, dtype=np.int32).reshape(-1, 3)),
        "subtori": word_array([m for pair in pr.subtori for m in pair], wc).reshape(-1, 2 * wc),
        "orders": pr.orders,
        "windows": word_array(pr.windows, wc),
        "rank": np.arange(len(pr.masks), dtype=np.int32),
    }
    struct = _Boxes(masks=_ptr(arrays["masks"], _U64), cube_boxes=_ptr(arrays["cube_boxes"], _U64),
                    conflict=_ptr(arrays["conflict"], _U64), cls=_ptr(arrays["classes"], _U64),
                    need=_ptr(arrays["need"], _I32), fam=_ptr(arrays["families"], _I32),
                    sub=_ptr(arrays["subtori"], _U64), wc=wc, wb=wb, k=pr.k,
                    nboxes=len(pr.masks), ncls=len(pr.need), nfam=len(pr.families))
    return NativeBoxes(problem=pr, wc=wc, wb=wb, **arrays, struct=ctypes.pointer(struct),
                       memo_id=next(_MEMO_IDS))
