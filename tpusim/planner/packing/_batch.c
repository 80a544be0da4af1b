/* The batch solver (tpusim.planner.packing.native.solve_batch): many failure patterns in one
 * call, on top of the search (_search.c) and the joint parity bound (_joint.c).
 *
 * For each pattern (its alive boxes = every healthy box, its free cells = the cells they
 * cover, an upper bound `upper`): a greedy packing (the best of `norders` box orders, each a
 * perfect tiling class first), then, while the packing is smaller than the target t (starting
 * at `upper`): a short full search at t (finds easy packings, proves easy impossibilities:
 * t - 1), local search (window by window: keep the boxes outside the window, ask the search for
 * one more box inside it, `local_budget` nodes each), a longer full search at t, once the joint
 * parity bound, the longest full search. A packing of t boxes when t is an upper bound is a
 * maximum: count_out = t; so is t when the caller knows a packing of `lower[p]` >= t boxes
 * exists (`lower` may be NULL). When the searches run out of nodes the pattern is left to the
 * caller: count_out = -1, upper_out = the current t (still an upper bound), best_out = the best
 * packing found (native indices, -1 padded).
 */
#include "_packing.h"

/* The joint bound (at the root and at search nodes, see go) is worth its cost only when it is
   not a single family's bound (two families at least) and cheap to evaluate (few sub-tori:
   planes, not lines); at nodes only where the slack is small (few cells may stay unused, so
   the parities decide most), with a small budget. */
#define JOINT_MAX_SUBTORI 32
#define JOINT_NODE_SLACK 10
#define JOINT_NODE_BUDGET 100

static int greedy_pack(ctx_t *c, const uint64_t *alive, const int32_t *order, int nboxes,
                       uint64_t *used, int32_t *out)
{
    int n = 0;
    for (int w = 0; w < c->b.wc; w++) used[w] = 0;
    for (int q = 0; q < nboxes; q++) {
        int j = order[q];
        if (!(alive[j / 64] >> (j % 64) & 1)) continue;
        const uint64_t *mk = c->b.masks + (size_t)j * c->b.wc;
        int clash = 0;
        for (int w = 0; w < c->b.wc; w++) clash |= (mk[w] & used[w]) != 0;
        if (clash) continue;
        for (int w = 0; w < c->b.wc; w++) used[w] |= mk[w];
        out[n++] = j;
    }
    return n;
}

int tp_solve_batch(tp_batch_t *call)
{
    const tp_boxes_t *B = call->boxes;
    int wc = B->wc, wb = B->wb, k = B->k, nboxes = B->nboxes;
    if (wc > MAXWC || wb > MAXWB || wc < 1 || wb < 1 || nboxes > 64 * MAXWB) return -2;
    const uint64_t *masks = B->masks, *conflict = B->conflict;
    memo_begin(call->memo_id);
    int32_t out[64 * MAXWB], best[64 * MAXWB], trial[64 * MAXWB], keep[64 * MAXWB];
    ctx_t c;
    ctx_init(&c, B, call->rank, out);
    wctx_t wstore;
    waste_init(&wstore, wc, B->nfam, B->fam, B->sub);
    jctx_t jstore;
    jctx_t *J = &jstore;
    joint_init(J, wc, B->nfam, B->fam, B->sub);
    c.jc = J;
    long long joint_budget = call->joint_budget;
    if (J->nf >= 2 && joint_subtori(J) <= JOINT_MAX_SUBTORI) {
        c.joint_slack = JOINT_NODE_SLACK;
        c.joint_budget = JOINT_NODE_BUDGET;
    } else {
        joint_budget = 0;  /* the joint bound is one family's bound, or too costly */
    }
    for (int p = 0; p < call->npat; p++) {
        const uint64_t *alive = call->alive + (size_t)p * wb;
        const uint64_t *free = call->free + (size_t)p * wc;
        uint64_t used[MAXWC], nalive[MAXWB], nfree[MAXWC];
        int t = call->upper[p], nb = 0;
        int low = call->lower ? call->lower[p] : 0;  /* a packing of `low` boxes exists */
        for (int o = 0; o < call->norders && low < t; o++) {
            int n = greedy_pack(&c, alive, call->orders + (size_t)o * nboxes, nboxes, used, trial);
            if (n > nb) { nb = n; memcpy(best, trial, sizeof(int32_t) * n); }
        }
        int stuck = 0, result = -1, joint_done = joint_budget <= 0;
        while (result < 0) {
            if (nb >= t || low >= t) { result = t; break; }
            int r = run_search(&c, &wstore, alive, free, t, call->first_budget, 1);
            if (r == 1) { nb = t; memcpy(best, out, sizeof(int32_t) * t); result = t; break; }
            if (r == 0) { t--; continue; }
            /* local search from the best packing, window by window */
            int improved = !stuck;
            while (improved && nb < t) {
                improved = 0;
                for (int wi = 0; wi < call->nwin && nb < t; wi++) {
                    const uint64_t *win = call->windows + (size_t)wi * wc;
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
                    int r2 = run_search(&c, &wstore, nalive, nfree, want, call->local_budget,
                                        call->local_waste);
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
            r = run_search(&c, &wstore, alive, free, t, call->mid_budget, 1);
            if (r == 1) { nb = t; memcpy(best, out, sizeof(int32_t) * t); result = t; break; }
            if (r == 0) { t--; continue; }
            if (!joint_done) {  /* local search is stuck below t: is t ruled out jointly? */
                joint_done = 1;
                int tj = joint_bound(J, free, k, t, joint_budget);
                if (tj < t) { t = tj; continue; }
            }
            r = run_search(&c, &wstore, alive, free, t, call->quick_budget, 1);
            if (r == 1) { nb = t; memcpy(best, out, sizeof(int32_t) * t); result = t; break; }
            if (r == 0) { t--; continue; }
            break;  /* out of nodes: the caller decides */
        }
        call->count_out[p] = result;
        call->upper_out[p] = t;
        int32_t *bo = call->best_out + (size_t)p * call->best_cap;
        for (int q = 0; q < call->best_cap; q++) bo[q] = q < nb ? best[q] : -1;
    }
    return 0;
}
