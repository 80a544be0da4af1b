/* The batch solver, the joint parity bound and the slab bound's cycle DP, on top of the
 * search in _search.c (tpusim.planner.native compiles both into one library). */
#include "_search.h"

/* ---- Joint parity waste bound ----
 * Balanced waste families (bounds.waste_families with a parity sign): every box meets every
 * sub-torus of the family in as many cells of class A as of class B. So in any packing the
 * unused cells U (free cells no box covers) have, in every sub-torus q of every balanced family,
 * #A - #B equal to that of the free cells: the residual R[q]. A packing of t boxes leaves
 * exactly |free| - k t cells unused, so t is possible only if some U of that size meets every
 * residual of every family at once (the single-family bound asks it of one family at a time).
 * `joint_feasible` searches for such a U: branch on the sub-torus with a non-zero residual
 * and the fewest cells that can reduce it (each of those cells in turn, excluded from the later
 * siblings); when every residual is zero but cells remain, take or exclude the lowest allowed
 * cell. Pruned by parity and by max over families of sum |R| (each cell moves each family's
 * sum by one). Returns 1 (found), 0 (proved impossible) or -1 (node budget exhausted).
 */
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
static int joint_init(jctx_t *J, int wc, int nfam, const int32_t *fam, const uint64_t *sub)
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

static int joint_subtori(const jctx_t *J)
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

/* The joint bound (at the root and at search nodes, see go) is worth its cost only when it is
   not a single family's bound (two families at least) and cheap to evaluate (few sub-tori:
   planes, not lines); at nodes only where the slack is small (few cells may stay unused, so
   the parities decide most), with a small budget. */
#define JOINT_MAX_SUBTORI 32
#define JOINT_NODE_SLACK 10
#define JOINT_NODE_BUDGET 100
/* Largest t <= upper for which a joint unused set of |free| - k t cells may exist (the first
   t whose search does not prove it impossible). */
static int joint_bound(jctx_t *J, const uint64_t *free, int k, int upper, long long budget)
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

/* ---- Batch solver: many failure patterns in one call (tpusim.planner.native.solve_batch) ----
 *
 * For each pattern (its alive boxes = every healthy box, its free cells = the cells they
 * cover, an upper bound `upper`): a greedy packing (the best of `norders` box orders, each a
 * perfect tiling class first), then, while the packing is smaller than the target t (starting at
 * `upper`): a short full search at t (finds easy packings, proves easy impossibilities: t - 1),
 * local search (window by window: keep the boxes outside the window, ask the search for one
 * more box inside it, `local_budget` nodes each), and a longer full search at t. A packing of t
 * boxes when t is an upper bound is a maximum: count_out = t; so is t when the caller knows a
 * packing of `lower[p]` >= t boxes exists (`lower` may be NULL). When the searches run out of
 * nodes the pattern is left to the caller: count_out = -1, upper_out = the current t (still an
 * upper bound), best_out = the best packing found (native indices, -1 padded).
 */
static int greedy_pack(ctx_t *c, const uint64_t *alive, const int32_t *order, int nboxes,
                       uint64_t *used, int32_t *out)
{
    int n = 0;
    for (int w = 0; w < c->wc; w++) used[w] = 0;
    for (int q = 0; q < nboxes; q++) {
        int j = order[q];
        if (!(alive[j / 64] >> (j % 64) & 1)) continue;
        const uint64_t *mk = c->masks + (size_t)j * c->wc;
        int clash = 0;
        for (int w = 0; w < c->wc; w++) clash |= (mk[w] & used[w]) != 0;
        if (clash) continue;
        for (int w = 0; w < c->wc; w++) used[w] |= mk[w];
        out[n++] = j;
    }
    return n;
}


int solve_batch(int wc, int wb, int k, const uint64_t *masks, const uint64_t *cube_boxes,
                const uint64_t *conflict, int ncls, const uint64_t *cls, const int32_t *need,
                const int32_t *rank, int nfam, const int32_t *fam, const uint64_t *sub,
                int npat, const uint64_t *alive_all, const uint64_t *free_all,
                const int32_t *upper, const int32_t *lower, int norders, const int32_t *orders,
                int nboxes, int nwin, const uint64_t *windows, long long joint_budget, long long first_budget,
                long long local_budget, int local_waste, long long mid_budget,
                long long quick_budget,
                int32_t *count_out, int32_t *upper_out, int32_t *best_out, int best_cap,
                long long *nodes_out, long long memo_id)
{
    if (wc > MAXWC || wb > MAXWB || wc < 1 || wb < 1 || nboxes > 64 * MAXWB) return -2;
    memo_begin(memo_id);
    ctx_t c;
    int32_t out[64 * MAXWB], best[64 * MAXWB], trial[64 * MAXWB], keep[64 * MAXWB];
    jctx_t jstore;
    jctx_t *J = &jstore;
    ctx_t init = {.wc = wc, .wb = wb, .k = k, .ncls = ncls, .masks = masks,
                  .cube_boxes = cube_boxes, .conflict = conflict, .cls = cls, .need = need,
                  .rank = rank, .fam = fam, .sub = sub, .out = out};
    c = init;
    ctx_setup(&c);
    wctx_t wstore;
    waste_init(&wstore, wc, nfam, fam, sub);
    long long total = 0;
    joint_init(J, wc, nfam, fam, sub);
    c.jc = J;
    if (J->nf >= 2 && joint_subtori(J) <= JOINT_MAX_SUBTORI) {
        c.joint_slack = JOINT_NODE_SLACK;
        c.joint_budget = JOINT_NODE_BUDGET;
    } else {
        joint_budget = 0;  /* the joint bound is one family's bound, or too costly */
    }
    for (int p = 0; p < npat; p++) {
        const uint64_t *alive = alive_all + (size_t)p * wb;
        const uint64_t *free = free_all + (size_t)p * wc;
        uint64_t used[MAXWC], nalive[MAXWB], nfree[MAXWC];
        int t = upper[p], nb = 0;
        int low = lower ? lower[p] : 0;  /* a packing of `low` boxes is known to exist */
        for (int o = 0; o < norders && low < t; o++) {
            int n = greedy_pack(&c, alive, orders + (size_t)o * nboxes, nboxes, used, trial);
            if (n > nb) { nb = n; memcpy(best, trial, sizeof(int32_t) * n); }
        }
        int stuck = 0, result = -1, joint_done = joint_budget <= 0;
        while (result < 0) {
            if (nb >= t || low >= t) { result = t; break; }
            int r = run_search(&c, &wstore, alive, free, t, first_budget, 1);
            total += c.nodes;
            if (r == 1) { nb = t; memcpy(best, out, sizeof(int32_t) * t); result = t; break; }
            if (r == 0) { t--; continue; }
            /* local search from the best packing, window by window */
            int improved = !stuck;
            while (improved && nb < t) {
                improved = 0;
                for (int wi = 0; wi < nwin && nb < t; wi++) {
                    const uint64_t *win = windows + (size_t)wi * wc;
                    int nkeep = 0;
                    for (int w = 0; w < wc; w++) used[w] = 0;
                    for (int u = 0; u < wb; u++) nalive[u] = alive[u];
                    for (int q = 0; q < nb; q++) {
                        int j = best[q], touch = 0;
                        const uint64_t *mk = masks + (size_t)j * wc;
                        for (int w = 0; w < wc; w++) touch |= (mk[w] & win[w]) != 0;
                        if (touch) continue;
                        keep[nkeep++] = j;
                        for (int w = 0; w < wc; w++) used[w] |= mk[w];
                        const uint64_t *cf = conflict + (size_t)j * wb;
                        for (int u = 0; u < wb; u++) nalive[u] &= ~cf[u];
                    }
                    for (int w = 0; w < wc; w++) nfree[w] = free[w] & ~used[w];
                    int want = nb + 1 - nkeep;
                    int r2 = run_search(&c, &wstore, nalive, nfree, want, local_budget, local_waste);
                    total += c.nodes;
                    if (r2 == 1) {
                        memcpy(best, keep, sizeof(int32_t) * nkeep);
                        memcpy(best + nkeep, out, sizeof(int32_t) * want);
                        nb = nkeep + want;
                        improved = 1;
                    }
                }
                stuck = !improved;
            }
            if (nb >= t || low >= t) { result = t; break; }
            r = run_search(&c, &wstore, alive, free, t, mid_budget, 1);
            total += c.nodes;
            if (r == 1) { nb = t; memcpy(best, out, sizeof(int32_t) * t); result = t; break; }
            if (r == 0) { t--; continue; }
            if (!joint_done) {  /* local search is stuck below t: is t ruled out jointly? */
                joint_done = 1;
                int tj = joint_bound(J, free, k, t, joint_budget);
                total += J->nodes;
                if (tj < t) { t = tj; continue; }
            }
            r = run_search(&c, &wstore, alive, free, t, quick_budget, 1);
            total += c.nodes;
            if (r == 1) { nb = t; memcpy(best, out, sizeof(int32_t) * t); result = t; break; }
            if (r == 0) { t--; continue; }
            break;  /* out of nodes: the caller decides */
        }
        count_out[p] = result;
        upper_out[p] = t;
        int32_t *bo = best_out + (size_t)p * best_cap;
        for (int q = 0; q < best_cap; q++) bo[q] = q < nb ? best[q] : -1;
    }
    *nodes_out = total;
    return 0;
}

/* Row-wise max sum_s x_s with 0 <= x_s <= a[s] and x_{s-1} + x_s <= b[s] (indices mod n), by
 * dynamic programming over (x_0, x_s); a, b: rows x n (tpusim.planner.slabs.cycle_max_matrix). */
void cycle_max_batch(int rows, int n, const int64_t *a, const int64_t *b, int64_t *out)
{
    enum { TOP = 64 };
    for (int r = 0; r < rows; r++) {
        const int64_t *ar = a + (size_t)r * n, *br = b + (size_t)r * n;
        if (n == 2) {
            int64_t v = ar[0];
            if (br[0] < v) v = br[0];
            if (br[1] < v) v = br[1];
            out[r] = v < 0 ? 0 : v;
            continue;
        }
        long long best = 0;
        int x0max = (int)ar[0];
        if (br[0] < x0max) x0max = (int)br[0];
        if (br[1] < x0max) x0max = (int)br[1];
        if (x0max > TOP - 1) x0max = TOP - 1;
        for (int x0 = 0; x0 <= x0max; x0++) {
            long long dp[TOP], nd[TOP];
            for (int v = 0; v < TOP; v++) dp[v] = -1;
            dp[x0] = x0;
            for (int s = 1; s < n; s++) {
                for (int v = 0; v < TOP; v++) nd[v] = -1;
                int amax = ar[s] < TOP - 1 ? (int)ar[s] : TOP - 1;
                for (int prev = 0; prev < TOP; prev++) {
                    if (dp[prev] < 0) continue;
                    for (int xs = 0; xs <= amax && prev + xs <= br[s]; xs++)
                        if (dp[prev] + xs > nd[xs]) nd[xs] = dp[prev] + xs;
                }
                for (int v = 0; v < TOP; v++) dp[v] = nd[v];
            }
            for (int last = 0; last < TOP; last++)
                if (dp[last] >= 0 && last + x0 <= br[0] && dp[last] > best) best = dp[last];
        }
        out[r] = best;
    }
}

/* The joint parity bound alone (tpusim.planner.native.joint_bounds, for tests and tools):
 * for each pattern (free cells), the largest t <= upper[p] the joint search does not rule out
 * (with `budget` nodes per target). */
void joint_bound_batch(int wc, int k, int nfam, const int32_t *fam, const uint64_t *sub,
                       int npat, const uint64_t *free_all, const int32_t *upper,
                       long long budget, int32_t *out)
{
    jctx_t J;
    joint_init(&J, wc, nfam, fam, sub);
    for (int p = 0; p < npat; p++)
        out[p] = joint_bound(&J, free_all + (size_t)p * wc, k, upper[p], budget);
}
