/* The joint parity bound (tpusim.planner.packing.native.joint_bounds; inside the search at
 * nodes with little slack, and in the batch solver).
 *
 * Balanced waste families (bounds.waste_families with a parity sign): every box meets every
 * sub-torus of the family in as many cells of class A as of class B. So in any packing the
 * unused cells U (free cells no box covers) have, in every sub-torus q of every balanced family,
 * #A - #B equal to that of the free cells: the residual R[q]. A packing of t boxes leaves
 * exactly |free| - k t cells unused, so t is possible only if some U of that size meets every
 * residual of every family at once (the single-family bound asks it of one family at a time).
 * `jsearch` searches for such a U: branch on the sub-torus with a non-zero residual and the
 * fewest cells that can reduce it (each of those cells in turn, excluded from the later
 * siblings); when every residual is zero but cells remain, take or exclude the lowest allowed
 * cell. Pruned by parity and by max over families of sum |R| (each cell moves each family's
 * sum by one). Returns 1 (found), 0 (proved impossible) or -1 (node budget exhausted).
 */
#include "_packing.h"

static void japply(jctx_t *j, int cell, int d)
{
    for (int f = 0; f < j->nf; f++) {
        int *r = &j->R[j->csub[f][cell]];
        int old = *r < 0 ? -*r : *r;
        *r -= d * (1 - 2 * j->cside[f][cell]);  /* class A counts +1, class B -1 */
        j->S[f] += (*r < 0 ? -*r : *r) - old;
    }
}

static int jsearch(jctx_t *j, uint64_t *allowed, int remaining)
{
    if (++j->nodes > j->budget) return -1;
    int wc = j->wc, lb = 0;
    for (int f = 0; f < j->nf; f++) {
        int s = j->S[f];
        if ((s - remaining) & 1) return 0;
        if (s > lb) lb = s;
    }
    if (lb > remaining) return 0;
    if (remaining == 0) return 1;
    uint64_t saved[MAXWC];
    for (int w = 0; w < wc; w++) saved[w] = allowed[w];
    int r = 0;
    if (lb == 0) {
        int cell = -1;
        for (int w = 0; w < wc && cell < 0; w++)
            if (allowed[w]) cell = w * 64 + __builtin_ctzll(allowed[w]);
        if (cell < 0) return 0;
        allowed[cell / 64] &= ~((uint64_t)1 << (cell % 64));
        japply(j, cell, 1);
        r = jsearch(j, allowed, remaining - 1);
        japply(j, cell, -1);
        if (r == 0) r = jsearch(j, allowed, remaining);
    } else {
        int best_q = -1, best_n = 1 << 30;
        for (int f = 0; f < j->nf; f++)
            for (int q = j->first[f]; q < j->first[f] + j->count[f]; q++) {
                if (!j->R[q]) continue;
                const uint64_t *m = j->sub + (size_t)q * 2 * wc + (j->R[q] > 0 ? 0 : wc);
                int n = 0;
                for (int w = 0; w < wc; w++) n += popc(m[w] & allowed[w]);
                if (n < best_n) { best_n = n; best_q = q; }
            }
        if (best_n == 0) r = 0;
        else {
            const uint64_t *m = j->sub + (size_t)best_q * 2 * wc + (j->R[best_q] > 0 ? 0 : wc);
            uint64_t cand[MAXWC];
            for (int w = 0; w < wc; w++) cand[w] = m[w] & allowed[w];
            for (int w = 0; w < wc && r == 0; w++) {
                while (cand[w] && r == 0) {
                    uint64_t low = cand[w] & (~cand[w] + 1);
                    cand[w] ^= low;
                    int cell = w * 64 + __builtin_ctzll(low);
                    allowed[w] &= ~low;  /* excluded here and in the later siblings */
                    japply(j, cell, 1);
                    r = jsearch(j, allowed, remaining - 1);
                    japply(j, cell, -1);
                }
            }
        }
    }
    for (int w = 0; w < wc; w++) allowed[w] = saved[w];
    return r;
}

/* Set up J for the balanced families of (nfam, fam, sub); returns the number used. */
int joint_init(jctx_t *J, int wc, int nfam, const int32_t *fam, const uint64_t *sub)
{
    J->wc = wc;
    J->nf = 0;
    J->sub = sub;
    for (int f = 0; f < nfam && J->nf < MAXJF; f++) {
        if (fam[3 * f + 2] != 0 || fam[3 * f] + fam[3 * f + 1] > MAXSUB) continue;
        int jf = J->nf++;
        J->first[jf] = fam[3 * f];
        J->count[jf] = fam[3 * f + 1];
        map_family(J->csub[jf], J->cside[jf], J->first[jf], J->count[jf], wc, sub);
    }
    return J->nf;
}

int joint_subtori(const jctx_t *J)
{
    int n = 0;
    for (int f = 0; f < J->nf; f++) n += J->count[f];
    return n;
}

/* Can the live cells leave exactly u of them unused, jointly? 1/-1 (maybe), 0 (no). */
int joint_check(jctx_t *J, const uint64_t *live, int u, long long budget)
{
    if (!J->nf) return 1;
    int wc = J->wc;
    for (int f = 0; f < J->nf; f++)
        for (int q = J->first[f]; q < J->first[f] + J->count[f]; q++) {
            const uint64_t *a = J->sub + (size_t)q * 2 * wc, *b = a + wc;
            int ca = 0, cb = 0;
            for (int w = 0; w < wc; w++) { ca += popc(live[w] & a[w]); cb += popc(live[w] & b[w]); }
            J->R[q] = ca - cb;
        }
    for (int f = 0; f < J->nf; f++) {
        J->S[f] = 0;
        for (int q = J->first[f]; q < J->first[f] + J->count[f]; q++) J->S[f] += J->R[q] < 0 ? -J->R[q] : J->R[q];
    }
    uint64_t allowed[MAXWC];
    for (int w = 0; w < wc; w++) allowed[w] = live[w];
    J->nodes = 0;
    J->budget = budget;
    return jsearch(J, allowed, u);
}

/* Largest t <= upper for which a joint unused set of |free| - k t cells may exist (the first
   t whose search does not prove it impossible). */
int joint_bound(jctx_t *J, const uint64_t *free, int k, int upper, long long budget)
{
    if (!J->nf) return upper;
    int nfree = 0;
    for (int w = 0; w < J->wc; w++) nfree += popc(free[w]);
    for (int t = upper; t > 0; t--) {
        int u = nfree - k * t;
        if (u >= 0 && joint_check(J, free, u, budget) != 0) return t;
    }
    return 0;
}

/* For each pattern (free cells), the largest t <= upper the joint search does not rule out
   (with `budget` nodes per target). */
void tp_joint_bounds(tp_joint_t *call)
{
    const tp_boxes_t *B = call->boxes;
    jctx_t J;
    joint_init(&J, B->wc, B->nfam, B->fam, B->sub);
    for (int p = 0; p < call->npat; p++)
        call->out[p] = joint_bound(&J, call->free + (size_t)p * B->wc, B->k, call->upper[p],
                                   call->budget);
}
