/* Exact branch-and-bound for the maximum packing of disjoint boxes (tpusim.planner.native).
 *
 * Cells and boxes are bit sets (uint64 words). `exists_packing` answers "do t disjoint boxes
 * fit among the alive boxes inside the free cells?" by the same search as
 * tpusim.planner.packing._search: drop free cells no alive box covers; prune when the live cells
 * or any coloring class cannot hold t boxes, when a waste family forces more unused cells than
 * the slack, when the cells weigh less than t under an LP dual (if given), or (batch solver)
 * when the joint parity bound rules t out; branch on the live cell with the fewest alive boxes
 * (place each of them, or leave the cell unused while the slack allows). It returns 1 (found,
 * the boxes in `out`), 0 (proved impossible) or -1 (node budget exhausted: no answer).
 * States proved impossible are remembered, per set of live cells, with the smallest target
 * that failed (as the Python search does), in a fixed-size table. At every node the alive boxes
 * are exactly the caller's boxes inside the free cells, and callers pass every healthy box
 * inside `free` (packing.py does), so "t boxes do not fit in these live cells" depends only on
 * the box placements: entries stay valid across calls with the same `memo_id` (one per box
 * shape and pod), which reuses proofs across targets and failure patterns. A call with another
 * memo_id (or 0) invalidates the table by a stamp. The table is per thread (_Thread_local);
 * everything else lives on the caller's stack, so calls from different threads do not
 * interfere. The batch solver (`solve_batch`), the joint parity bound (`joint_bound_batch`) and the slab
 * bound's cycle DP (`cycle_max_batch`) are in _batch.c; shared types in _search.h.
 */
#include "_search.h"

/* Per-thread state (the planner runs one batch per thread): the memo table and its stamp. */
#define TLS _Thread_local
static TLS entry_t table[TSIZE];
static TLS uint32_t cur_stamp = 0;
static TLS long long last_memo = 0;

/* Start a call: keep the table for the same memo_id, else invalidate it by a new stamp. */
void memo_begin(long long memo_id)
{
    if (memo_id == 0 || memo_id != last_memo) {
        if (++cur_stamp == 0) {  /* wrapped: clear the table once every 2^32 calls */
            memset(table, 0, sizeof table);
            cur_stamp = 1;
        }
        last_memo = memo_id;
    }
}

static uint32_t hash_live(const uint64_t *live, int wc)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int w = 0; w < wc; w++) {
        h ^= live[w] + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ull;
    }
    h ^= h >> 31;
    return (uint32_t)(h >> (64 - TBITS));
}


static memo_t memo_here(void)
{
    memo_t m = {table, cur_stamp};
    return m;
}

static entry_t *lookup(const memo_t *mm, const uint64_t *live, int wc)
{
    entry_t *e = &mm->table[hash_live(live, wc)];
    if (e->stamp != mm->stamp) return 0;
    for (int w = 0; w < wc; w++)
        if (e->key[w] != live[w]) return 0;
    return e;
}

static void remember(const memo_t *mm, const uint64_t *live, int wc, int t)
{
    entry_t *e = &mm->table[hash_live(live, wc)];
    if (e->stamp == mm->stamp) {
        int same = 1;
        for (int w = 0; w < wc; w++) same &= e->key[w] == live[w];
        if (same && e->t <= t) return;
    }
    for (int w = 0; w < wc; w++) e->key[w] = live[w];
    e->stamp = mm->stamp;
    e->t = t;
}

void wmove_set(wctx_t *W, const uint64_t *cells, int wc, int d)
{
    for (int w = 0; w < wc; w++) {
        uint64_t m = cells[w];
        while (m) {
            wmove(W, w * 64 + __builtin_ctzll(m), d);
            m &= m - 1;
        }
    }
}

/* For the sub-tori first..first+count-1 (a family: they partition the cells): each cell's
   sub-torus and class (0: A, 1: B). */
void map_family(int16_t *cell_sub, int8_t *cell_side, int first, int count, int wc,
                       const uint64_t *sub)
{
    memset(cell_sub, 0, sizeof(int16_t) * MAXCELL);
    memset(cell_side, 0, sizeof(int8_t) * MAXCELL);
    for (int q = first; q < first + count && q < MAXSUB; q++)
        for (int side = 0; side < 2; side++)
            for (int w = 0; w < wc; w++) {
                uint64_t m = sub[(size_t)q * 2 * wc + side * wc + w];
                while (m) {
                    int cell = w * 64 + __builtin_ctzll(m);
                    m &= m - 1;
                    cell_sub[cell] = (int16_t)q;
                    cell_side[cell] = (int8_t)side;
                }
            }
}

void waste_init(wctx_t *W, int wc, int nfam, const int32_t *fam, const uint64_t *sub)
{
    W->nf = nfam < MAXF ? nfam : MAXF;
    for (int f = 0; f < W->nf; f++) {
        W->g[f] = fam[3 * f + 2];
        map_family(W->sub[f], W->side[f], fam[3 * f], fam[3 * f + 1], wc, sub);
    }
}

/* Counts for the free cells `free` (the root of a search). */
static void waste_load(wctx_t *W, int wc, const int32_t *fam, const uint64_t *sub,
                       const uint64_t *free)
{
    for (int f = 0; f < W->nf; f++) {
        W->wsum[f] = 0;
        for (int q = fam[3 * f]; q < fam[3 * f] + fam[3 * f + 1] && q < MAXSUB; q++) {
            const uint64_t *a = sub + (size_t)q * 2 * wc, *b = a + wc;
            int ca = 0, cb = 0;
            for (int w = 0; w < wc; w++) { ca += popc(free[w] & a[w]); cb += popc(free[w] & b[w]); }
            W->cnt[q][0] = ca;
            W->cnt[q][1] = cb;
            W->wsum[f] += wval(W->g[f], W->cnt[q]);
        }
    }
}

static int go(ctx_t *c, const uint64_t *alive, const uint64_t *free, int t)
{
    if (t == 0) return 1;
    if (++c->nodes > c->budget) return -1;
    int wc = c->wc, wb = c->wb;
    uint64_t live[MAXWC], dead[MAXWC];
    int best_c = -1, best_n = 1 << 30, nlive = 0;
    for (int w = 0; w < wc; w++) {
        uint64_t rest = free[w], lv = 0;
        while (rest) {
            uint64_t low = rest & (~rest + 1);
            rest ^= low;
            int cell = w * 64 + __builtin_ctzll(low);
            const uint64_t *cb = c->cube_boxes + (size_t)cell * wb;
            int cnt = 0;
            for (int v = c->lo[cell]; v < c->hi[cell]; v++) cnt += popc(alive[v] & cb[v]);
            if (cnt) {
                lv |= low;
                if (cnt < best_n) { best_n = cnt; best_c = cell; }
            }
        }
        live[w] = lv;
        dead[w] = free[w] & ~lv;
        nlive += popc(lv);
    }
    int slack = nlive - t * c->k;
    if (slack < 0) return 0;
    entry_t *seen = lookup(&c->memo, live, wc);
    if (seen && seen->t <= t) return 0;
    if (c->weight) {  /* LP dual bound: t boxes inside the live cells weigh at least t */
        double sum = 0.0;
        for (int w = 0; w < wc; w++) {
            uint64_t rest = live[w];
            while (rest) {
                sum += c->weight[w * 64 + __builtin_ctzll(rest)];
                rest &= rest - 1;
            }
        }
        if (sum < t - 1e-7) { remember(&c->memo, live, wc, t); return 0; }
    }
    for (int j = 0; j < c->ncls; j++) {
        int cnt = 0;
        const uint64_t *m = c->cls + (size_t)j * wc;
        for (int w = 0; w < wc; w++) cnt += popc(live[w] & m[w]);
        if (cnt / c->need[j] < t) return 0;
    }
    wctx_t *W = c->wf;
    int r = 0;
    if (W) {  /* from here on the counts are for the live cells; restored before returning */
        wmove_set(W, dead, wc, -1);
        for (int f = 0; f < W->nf; f++)
            if (W->wsum[f] > slack) goto fail;  /* this family wastes more than the slack */
    }
    if (c->joint_slack >= 0 && slack <= c->joint_slack
        && joint_check(c->jc, live, slack, c->joint_budget) == 0)
        goto fail;
    const uint64_t *cb = c->cube_boxes + (size_t)best_c * wb;
    uint64_t nalive[MAXWB], nfree[MAXWC];
    int opt[MAXOPT], nopt = 0;
    for (int v = c->lo[best_c]; v < c->hi[best_c]; v++) {
        uint64_t opts = alive[v] & cb[v];
        while (opts && nopt < MAXOPT) {
            uint64_t low = opts & (~opts + 1);
            opts ^= low;
            int j = v * 64 + __builtin_ctzll(low);
            int q = nopt++;  /* insertion sort by rank */
            while (q > 0 && c->rank[opt[q - 1]] > c->rank[j]) { opt[q] = opt[q - 1]; q--; }
            opt[q] = j;
        }
    }
    for (int q = 0; q < nopt; q++) {
        int j = opt[q];
        const uint64_t *cf = c->conflict + (size_t)j * wb;
        const uint64_t *mk = c->masks + (size_t)j * wc;
        for (int u = 0; u < wb; u++) nalive[u] = alive[u] & ~cf[u];
        for (int w = 0; w < wc; w++) nfree[w] = live[w] & ~mk[w];
        if (W) wmove_set(W, mk, wc, -1);
        r = go(c, nalive, nfree, t - 1);
        if (W) wmove_set(W, mk, wc, 1);
        if (r == 1) { c->out[c->depth++] = j; goto done; }
        if (r < 0) goto done;
    }
    if (slack > 0) {
        for (int u = 0; u < wb; u++) nalive[u] = alive[u] & ~cb[u];
        for (int w = 0; w < wc; w++) nfree[w] = live[w];
        nfree[best_c / 64] &= ~((uint64_t)1 << (best_c % 64));
        if (W) wmove(W, best_c, -1);
        r = go(c, nalive, nfree, t);
        if (W) wmove(W, best_c, 1);
        if (r != 0) goto done;
    }
fail:
    r = 0;
    remember(&c->memo, live, wc, t);
done:
    if (W) wmove_set(W, dead, wc, 1);
    return r;
}

/* Per-call setup of a context: the thread's memo, no joint bound, and per cell the range of
   cube_boxes words that are not 0. */
void ctx_setup(ctx_t *c)
{
    c->memo = memo_here();
    c->joint_slack = -1;
    c->jc = 0;
    c->wf = 0;
    for (int cell = 0; cell < 64 * c->wc; cell++) {
        const uint64_t *cb = c->cube_boxes + (size_t)cell * c->wb;
        int lo = c->wb, hi = 0;
        for (int v = 0; v < c->wb; v++)
            if (cb[v]) { if (v < lo) lo = v; hi = v + 1; }
        if (lo > hi) lo = hi;
        c->lo[cell] = (uint8_t)lo;
        c->hi[cell] = (uint8_t)hi;
    }
}

/* One search from the root: the waste families (W, if use_waste) counted for `free`. */
int run_search(ctx_t *c, wctx_t *W, const uint64_t *alive, const uint64_t *free, int t,
                      long long budget, int use_waste)
{
    c->wf = 0;
    if (W && use_waste && W->nf) {
        waste_load(W, c->wc, c->fam, c->sub, free);
        c->wf = W;
    }
    c->nodes = 0;
    c->budget = budget;
    c->depth = 0;
    return go(c, alive, free, t);
}

/* Returns 1/0/-1 as above; on 1, out[0..t-1] holds the box indices; *nodes the nodes used. */
int exists_packing(int wc, int wb, int k, const uint64_t *masks, const uint64_t *cube_boxes,
                   const uint64_t *conflict, const uint64_t *alive, const uint64_t *free,
                   int t, int ncls, const uint64_t *cls, const int32_t *need,
                   const int32_t *rank, int nfam, const int32_t *fam, const uint64_t *sub,
                   long long budget, int32_t *out, long long *nodes, long long memo_id,
                   const double *weight)
{
    if (wc > MAXWC || wb > MAXWB || wc < 1 || wb < 1) return -2;
    memo_begin(memo_id);
    ctx_t c;
    ctx_t init = {.wc = wc, .wb = wb, .k = k, .ncls = ncls, .masks = masks,
                  .cube_boxes = cube_boxes, .conflict = conflict, .cls = cls, .need = need,
                  .rank = rank, .fam = fam, .sub = sub, .weight = weight,
                  .budget = budget, .out = out};
    c = init;
    ctx_setup(&c);
    wctx_t W;
    waste_init(&W, wc, nfam, fam, sub);
    int r = run_search(&c, &W, alive, free, t, budget, 1);
    *nodes = c.nodes;
    return r;
}


