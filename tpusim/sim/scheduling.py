"""Scheduling: jobs ask for cubes; spares fill the holes of OCS slices (a swap and its
cross-connect changes), whole slices are placed by the planner's rules, and cubes go back to
the pool when a job ends. Waiting that the free cubes of all pods could have served is
measured as fragmentation.

The planner is called only when a slice must be placed or re-formed, so per-event work stays
O(1) for everything else.
"""

from __future__ import annotations

from tpusim.sim import placement
from tpusim.sim.lifecycle import granted, slices_rewired
from tpusim.sim.world import NONE, JobState, PodState, World, hole


def request(w: World, job: JobState) -> None:
    """Register that `job` needs cubes (idempotent) and try to serve it now."""
    if job.complete():
        return
    if not w.pending:  # nobody ahead in the queue: serve directly
        fill(w, job)
        frag_check(w, job)
        if job.complete():
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
        pod.unusable(cube)
        for waiting in w.pending:
            if waiting.frag_since is not None:
                frag_check(w, waiting)
        return None
    job = w.jobs[j]
    sl = job.slices[pod.owner_slice[cube]]
    pod.release(cube)
    if w.ocs:
        pos = sl.cubes.index(cube)
        sl.cubes[pos] = hole(cube)
        sl.holes.append(pos)
        sl.missing += 1
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
        if job.complete():
            w.pending.remove(job)
            granted(w, job)


def frag_check(w: World, job: JobState) -> None:
    """Fragmentation: time a job waits although the free healthy cubes of all pods would
    be enough (no contiguous box on a static torus, or spares stranded in another pod)."""
    if job.complete():
        fragmented = False
    else:
        per_slice = job.plan.spec.cubes_per_slice
        need = sum(per_slice if sl.cubes is None else sl.missing for sl in job.slices)
        fragmented = sum(len(p.free) for p in w.pods) >= need
    now = w.env.now
    if fragmented and job.frag_since is None:
        job.frag_since = now
    elif not fragmented and job.frag_since is not None:
        job.frag_wait += now - job.frag_since
        job.frag_since = None


def fill(w: World, job: JobState) -> None:
    """Swap healthy spares into the holes of the job's OCS slices, then place its unplaced
    slices (all or nothing), preferring the pod each slice was on before."""
    spec = job.plan.spec
    for s, sl in enumerate(job.slices):
        if sl.cubes is not None and sl.missing:
            pod = w.pods[sl.pod]
            while sl.holes:
                spare = placement.spare_for(pod.free)
                if spare is None:
                    break
                pos = sl.holes.pop()
                failed = hole(sl.cubes[pos])
                pod.take(spare, job.idx, s)
                if w.log_on:
                    changed = placement.swap_cross_connects(
                        w.sc.pod, spec.slice_cubes, [hole(x) if x < 0 else x for x in sl.cubes],
                        failed, spare)
                    what = "" if changed is None else f", {changed} cross-connects changed"
                    w.log("swap", job.idx, pod.idx, spare,
                          f"slice {s}: cube {failed} -> {spare}{what}")
                sl.cubes[pos] = spare
                sl.missing -= 1
    unplaced = [s for s, sl in enumerate(job.slices) if sl.cubes is None]
    if not unplaced:
        return
    taken: dict[int, set[int]] = {p.idx: set() for p in w.pods}
    found: list[tuple[int, int, list[int]]] = []
    for s in unplaced:
        prev = job.slices[s].pod
        order = sorted(w.pods, key=lambda p: (p.idx != prev, p.idx))
        for pod in order:
            free = pod.free - taken[pod.idx] if taken[pod.idx] else pod.free
            cubes = placement.place_slice(w.sc.pod, free, spec.slice_cubes, ocs=w.ocs)
            if cubes is not None:
                taken[pod.idx].update(cubes)
                found.append((s, pod.idx, cubes))
                break
        else:
            return  # all or nothing for unplaced slices
    for s, p, cubes in found:
        pod = w.pods[p]
        for c in cubes:
            pod.take(c, job.idx, s)
        sl = job.slices[s]
        sl.pod, sl.cubes, sl.missing, sl.holes = p, list(cubes), 0, []
        if w.log_on:
            w.log("place", job.idx, p, NONE, f"slice {s}")
    if w.ocs:
        slices_rewired(job)


def release(w: World, job: JobState) -> None:
    """The job is done: its healthy cubes go back to the pool; serve whoever waits."""
    for sl in job.slices:
        if sl.cubes is None:
            continue
        pod = w.pods[sl.pod]
        for c in sl.cubes:
            if c >= 0:
                pod.release(c)
        sl.cubes, sl.holes, sl.missing = None, [], 0
    if w.pending:
        try_schedule(w)


def close_fragmentation(w: World, job: JobState) -> None:
    """The horizon: a fragmentation wait still open ends now."""
    if job.frag_since is not None:
        job.frag_wait += w.env.now - job.frag_since
        job.frag_since = None
