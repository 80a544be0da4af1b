/* Exact branch-and-bound for the maximum packing of disjoint boxes (tpusim.planner.packing.native).
 *
 * Cells and boxes are bit sets (uint64 words). `tp_exists` answers "do t disjoint boxes fit
 * among the alive boxes inside the free cells?" (the same search as twin.py's, in Python):
 * drop free cells no alive box covers; prune when the live cells or any coloring class cannot hold t boxes, when a waste family forces more unused cells than
 * the slack, when the cells weigh less than t under an LP dual (if given), or (batch solver)
 * when the joint parity bound rules t out; branch on the live cell with the fewest alive boxes
 * (place each of them, or leave the cell unused while the slack allows). It returns 1 (found,
 * the boxes in `out`), 0 (proved impossible) or -1 (node budget exhausted: no answer).
 * States proved impossible are remembered, per set of live cells, with the smallest target
 * that failed, in a fixed-size table. At every node the alive boxes
 * are exactly the caller's boxes inside the free cells, and callers pass every healthy box
 * inside `free` (solve.py does), so "t boxes do not fit in these live cells" depends only on
 * the box placements: entries stay valid across calls with the same `memo_id` (one per box
 * shape and pod), which reuses proofs across targets and failure patterns. A call with another
 * memo_id (or 0) invalidates the table by a stamp. The table is per thread (_Thread_local);
 * everything else lives on the caller's stack, so calls from different threads do not
 * interfere. Types in _packing.h.
 */
#include "_packing.h"

#define TBITS 16
#define TSIZE (1u << TBITS)

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

static int go(ctx_t *c, const uint64_t *alive, const uint64_t *free, int t)
{
    if (t == 0) return 1;
    if (++c->nodes > c->budget) return -1;
    int wc = c->b.wc, wb = c->b.wb;
    uint64_t live[MAXWC], dead[MAXWC];
    int best_c = -1, best_n = 1 << 30, nlive = 0;
    for (int w = 0; w < wc; w++) {
        uint64_t rest = free[w], lv = 0;
        while (rest) {
            uint64_t low = rest & (~rest + 1);
            rest ^= low;
            int cell = w * 64 + __builtin_ctzll(low);
            const uint64_t *cb = c->b.cube_boxes + (size_t)cell * wb;
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
    int slack = nlive - t * c->b.k;
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
    for (int j = 0; j < c->b.ncls; j++) {
        int cnt = 0;
        const uint64_t *m = c->b.cls + (size_t)j * wc;
        for (int w = 0; w < wc; w++) cnt += popc(live[w] & m[w]);
        if (cnt / c->b.need[j] < t) return 0;
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
    const uint64_t *cb = c->b.cube_boxes + (size_t)best_c * wb;
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
        const uint64_t *cf = c->b.conflict + (size_t)j * wb;
        const uint64_t *mk = c->b.masks + (size_t)j * wc;
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

/* A search context for the boxes `b`: the thread's memo, no joint bound, no waste counts,
   and per cell the range of cube_boxes words that are not 0. */
void ctx_init(ctx_t *c, const tp_boxes_t *boxes, const int32_t *rank, int32_t *out)
{
    memset(c, 0, offsetof(ctx_t, lo));
    c->b = *boxes;
    c->rank = rank;
    c->out = out;
    c->memo = memo_here();
    c->joint_slack = -1;
    for (int cell = 0; cell < 64 * c->b.wc; cell++) {
        const uint64_t *cb = c->b.cube_boxes + (size_t)cell * c->b.wb;
        int lo = c->b.wb, hi = 0;
        for (int v = 0; v < c->b.wb; v++)
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
        waste_load(W, c->b.wc, c->b.fam, c->b.sub, free);
        c->wf = W;
    }
    c->nodes = 0;
    c->budget = budget;
    c->depth = 0;
    return go(c, alive, free, t);
}

/* Returns 1/0/-1 as above (-2: the boxes do not fit the fixed-size bit sets); on 1,
   call->out[0..t-1] holds the box indices. */
int tp_exists(tp_exists_t *call)
{
    const tp_boxes_t *b = call->boxes;
    if (b->wc > MAXWC || b->wb > MAXWB || b->wc < 1 || b->wb < 1) return -2;
    memo_begin(call->memo_id);
    ctx_t c;
    ctx_init(&c, b, call->rank, call->out);
    c.weight = call->weight;
    wctx_t W;
    waste_init(&W, b->wc, b->nfam, b->fam, b->sub);
    return run_search(&c, &W, call->alive, call->free, call->t, call->budget, call->use_waste);
}
