"""Scheduling: jobs ask for cubes; spares fill the holes of OCS slices (a swap and its
cross-connect changes), whole slices are placed by the planner's rules, and cubes go back to
the pool when a job ends. Waiting that the free cubes of all pods could have served is
measured as fragmentation.

Pools (`faults.Pools`): a hole is filled from the slice's warm standbys (no host selection),
else from the working pool (`selection_s` of host selection at the restart), else from the
spare pool (`preemption_s` more); slices placed anew cost a host selection too. Standbys are
replenished from the working pool (at once, and as cubes come back from repair).

The planner is called only when a static slice must be placed, and per-failure work is
O(log n) (free cubes in per-group heaps, slice positions in a map).
"""

from __future__ import annotations

from tpusim.sim import placement
from tpusim.sim.lifecycle import granted, needs_selection, slices_rewired
from tpusim.sim.world import NONE, JobState, PodState, SliceState, World, hole


def request(w: World, job: JobState) -> None:
    """Register that `job` needs cubes (idempotent) and try to serve it now."""
    if not job.broken:
        return
    if not w.pending:  # nobody ahead in the queue: serve directly
        fill(w, job)
        frag_check(w, job)
        if not job.broken:
            granted(w, job)
            return
    if job not in w.pending:
        w.pending.append(job)
        w.pending.sort(key=lambda j: (-j.plan.spec.priority, j.idx))
    try_schedule(w)


def cube_lost(w: World, pod: PodState, cube: int) -> JobState | None:
    """`cube` went down. A free cube just leaves the pool (waiting jobs' fragmentation is
    re-checked); a cube in a slice leaves it: with OCS its position stays as a hole that a
    spare will fill (the planner's re-forming rule), on a static torus the slice is lost whole
    and its healthy cubes go back to the pool. Returns the job that lost the cube, if any."""
    j = pod.owner[cube]
    if j == NONE:
        standby_of = pod.reserved[cube]
        pod.unusable(cube)
        if standby_of != NONE:  # a warm standby failed: it leaves its slice's reserve
            for sl in w.jobs[standby_of].slices:
                if cube in sl.standbys:
                    sl.standbys.remove(cube)
                    _replenish(w, sl, standby_of)
        for waiting in w.pending:
            if waiting.frag_since is not None:
                frag_check(w, waiting)
        return None
    job = w.jobs[j]
    s = pod.owner_slice[cube]
    sl = job.slices[s]
    pos = pod.position[cube]
    pod.release(cube)
    job.broken.add(s)
    if w.ocs:
        sl.cubes[pos] = hole(cube)
        sl.holes.append(pos)
    else:
        for c in sl.cubes:
            pod.release(c)
        sl.cubes = None
    return job


def try_schedule(w: World) -> None:
    """Serve waiting jobs in priority order: spares for OCS slices, whole slices otherwise."""
    for job in list(w.pending):
        fill(w, job)
        frag_check(w, job)
        if not job.broken:
            w.pending.remove(job)
            granted(w, job)


def frag_check(w: World, job: JobState) -> None:
    """Fragmentation: time a job waits although the free healthy cubes of all pods would
    be enough (no contiguous box on a static torus, or spares stranded in another pod)."""
    if not job.broken:  # served: a fragmentation wait ends
        if job.frag_since is not None:
            close_fragmentation(w, job)
        return
    per_slice = job.plan.spec.cubes_per_slice
    need = 0
    for s in job.broken:
        sl = job.slices[s]
        need += per_slice if sl.cubes is None else len(sl.holes)
    fragmented = sum(len(p.free) for p in w.pods) >= need
    now = w.env.now
    if fragmented and job.frag_since is None:
        job.frag_since = now
    elif not fragmented and job.frag_since is not None:
        job.frag_wait += now - job.frag_since
        job.frag_since = None


def fill(w: World, job: JobState) -> None:
    """Swap healthy spares into the holes of the job's OCS slices, then place its unplaced
    slices (all or nothing), preferring the pod (and OCS group) each slice was on before."""
    if not job.broken:
        return
    spec = job.plan.spec
    k = spec.cubes_per_slice
    pools = w.sc.faults.pools
    unplaced = []
    for s in sorted(job.broken):
        sl = job.slices[s]
        if sl.cubes is None:
            unplaced.append(s)
            continue
        pod = w.pods[sl.pod]
        while sl.holes:
            if sl.standbys:  # a warm standby: wired in without host selection
                spare = min(sl.standbys)
                sl.standbys.remove(spare)
            else:
                spare = placement.spare_for(pod.free, sl.group, k)
                if spare is not None and pools is not None:
                    needs_selection(job, pools.selection_s)
                elif spare is None:
                    spare = placement.spare_for(pod.spare, sl.group, k)
                    if spare is None:
                        break
                    needs_selection(job, pools.selection_s + pools.preemption_s)
            pos = _hole_for(sl, spare)
            failed = hole(sl.cubes[pos])
            was = sl.wired[pos]
            pod.take(spare, job.idx, s, pos)
            if spare == was:  # its own cube, repaired: the OCS is still wired for it
                sl.rewired.discard(pos)
            else:
                sl.rewired.add(pos)
            if w.log_on:
                if spare == was:
                    w.log("rejoin", job.idx, pod.idx, spare,
                          f"slice {s}: cube {spare} back at its position, no cross-connect"
                          " changed")
                else:
                    cubes = [hole(x) if x < 0 else x for x in sl.cubes]
                    cubes[pos] = was
                    changed = placement.swap_cross_connects(w.sc.pod, spec.slice_cubes, cubes,
                                                            was, spare)
                    what = "" if changed is None else f", {changed} cross-connects changed"
                    w.log("swap", job.idx, pod.idx, spare,
                          f"slice {s}: cube {failed} -> {spare}{what}")
            sl.cubes[pos] = spare
        if not sl.holes:
            job.broken.discard(s)
        if pools is not None and pools.warm_standbys:
            _replenish(w, sl, job.idx)
    if unplaced:
        _place(w, job, unplaced)


def _hole_for(sl: SliceState, cube: int) -> int:
    """The hole of `sl` that `cube` fills (removed from its holes): the position the OCS is
    wired to `cube` for, if `cube` was there (a repaired cube goes back where it was, and no
    cross-connect changes), else the last hole."""
    holes = sl.holes
    if len(holes) > 1:
        for i, pos in enumerate(holes):
            if sl.wired[pos] == cube:
                return holes.pop(i)
    return holes.pop()


def ocs_configured(job: JobState) -> None:
    """The job's (re)start reconfigures the OCS: from now on the cross-connects join each
    slice's present cubes (a position with a hole keeps its old wiring until filled)."""
    for sl in job.slices:
        if not sl.rewired:
            continue
        for pos in list(sl.rewired):
            cube = sl.cubes[pos]
            if cube >= 0:
                sl.wired[pos] = cube
                sl.rewired.discard(pos)


def _place(w: World, job: JobState, unplaced: list[int]) -> None:
    """Place the unplaced slices, all or nothing: with OCS each takes the lowest free cubes of
    one OCS group; on a static torus a contiguous box (the planner)."""
    spec = job.plan.spec
    k = spec.cubes_per_slice
    used: dict[int, dict[int, int]] = {p.idx: {} for p in w.pods}  # OCS: cubes per group
    taken: dict[int, set[int]] = {p.idx: set() for p in w.pods}  # static: cubes chosen
    found: list[tuple[int, int, int, list[int] | None]] = []
    for s in unplaced:
        prev = job.slices[s]
        order = sorted(w.pods, key=lambda p: (p.idx != prev.pod, p.idx))
        for pod in order:
            if w.ocs:
                prefer = prev.group if pod.idx == prev.pod else NONE
                counts = pod.free.count if not pod.spare.ids else [
                    a + b for a, b in zip(pod.free.count, pod.spare.count, strict=True)]
                g = placement.ocs_group(counts, k, used[pod.idx], prefer)
                if g is not None:
                    used[pod.idx][g] = used[pod.idx].get(g, 0) + k
                    found.append((s, pod.idx, g, None))
                    break
            else:  # the working pool first, then with the spare pool's cubes
                free = pod.free.ids - taken[pod.idx] if taken[pod.idx] else pod.free.ids
                cubes = placement.place_static(w.sc.pod, free, spec.slice_cubes)
                if cubes is None and pod.spare.ids:
                    cubes = placement.place_static(w.sc.pod, (pod.free.ids | pod.spare.ids)
                                                   - taken[pod.idx], spec.slice_cubes)
                if cubes is not None:
                    taken[pod.idx].update(cubes)
                    found.append((s, pod.idx, NONE, cubes))
                    break
        else:
            return  # all or nothing for unplaced slices
    pools = w.sc.faults.pools
    for s, p, g, cubes in found:
        pod = w.pods[p]
        if cubes is None:
            preempt = pod.free.count[g] < k
            cubes = pod.take_lowest(g, k, job.idx, s)
        else:
            preempt = any(c in pod.spare for c in cubes)
            for i, c in enumerate(cubes):
                pod.take(c, job.idx, s, i)
        sl = job.slices[s]
        sl.pod, sl.group, sl.cubes, sl.holes = p, g, list(cubes), []
        sl.wired, sl.rewired = list(cubes), set()  # wired by the reconfiguration flagged below
        job.broken.discard(s)
        if pools is not None:
            needs_selection(job, pools.selection_s + (pools.preemption_s if preempt else 0.0))
        if w.log_on:
            w.log("place", job.idx, p, NONE, f"slice {s}")
    if pools is not None and pools.warm_standbys:  # once every slice has its cubes
        for s, *_ in found:
            _replenish(w, job.slices[s], job.idx)
    if w.ocs:
        slices_rewired(job)


def _replenish(w: World, sl: SliceState, job: int) -> None:
    """Reserve working-pool cubes of the slice's pod and group as its warm standbys, up to the
    scenario's number."""
    want = w.sc.faults.pools.warm_standbys
    if sl.cubes is None:
        return
    pod = w.pods[sl.pod]
    k = len(sl.cubes)
    while len(sl.standbys) < want:
        cube = placement.spare_for(pod.free, sl.group, k)
        if cube is None:
            return
        pod.reserve(cube, job)
        sl.standbys.append(cube)


def cube_back(w: World, pod: PodState, cube: int) -> None:
    """`cube` is healthy again: back to its pool (a warm standby for a slice short of them
    first), then serve whoever waits."""
    pod.usable(cube)
    pools = w.sc.faults.pools
    if pools is not None and pools.warm_standbys and cube in pod.free:
        g = pod.free.group(cube)
        for job in w.jobs:
            for sl in job.slices:
                if (sl.pod == pod.idx and sl.cubes is not None and len(sl.standbys) < pools.warm_standbys
                        and (sl.group == g or len(sl.cubes) == 1)):
                    _replenish(w, sl, job.idx)
    if w.pending:
        try_schedule(w)


def release(w: World, job: JobState) -> None:
    """The job is done: its healthy cubes go back to the pool; serve whoever waits."""
    for sl in job.slices:
        if sl.cubes is None:
            continue
        pod = w.pods[sl.pod]
        for c in sl.cubes:
            if c >= 0:
                pod.release(c)
        for c in sl.standbys:
            pod.release(c)
        sl.cubes, sl.holes, sl.standbys = None, [], []
        sl.wired, sl.rewired = [], set()
    job.broken.update(range(len(job.slices)))
    if w.pending:
        try_schedule(w)


def close_fragmentation(w: World, job: JobState) -> None:
    """A fragmentation wait still open ends now (the job is served, or the horizon)."""
    if job.frag_since is not None:
        job.frag_wait += w.env.now - job.frag_since
        job.frag_since = None
