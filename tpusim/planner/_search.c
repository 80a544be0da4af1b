/* Exact branch-and-bound for the maximum packing of disjoint boxes (tpusim.planner.native).
 *
 * Cells and boxes are bit sets (uint64 words). `exists_packing` answers "do t disjoint boxes
 * fit among the alive boxes inside the free cells?" by the same search as
 * tpusim.planner.packing._search: drop free cells no alive box covers; prune when the live cells
 * or any coloring class cannot hold t boxes; branch on the live cell with the fewest alive boxes
 * (place each of them, or leave the cell unused while the slack allows). It returns 1 (found,
 * the boxes in `out`), 0 (proved impossible) or -1 (node budget exhausted: no answer).
 * States proved impossible are remembered, per set of live cells, with the smallest target
 * that failed (as the Python search does), in a fixed-size table. At every node the alive boxes
 * are exactly the caller's boxes inside the free cells, and callers pass every healthy box
 * inside `free` (packing.py does), so "t boxes do not fit in these live cells" depends only on
 * the box placements: entries stay valid across calls with the same `memo_id` (one per box
 * shape and pod), which reuses proofs across targets and failure patterns. A call with another
 * memo_id (or 0) invalidates the table by a stamp. One static table: not thread-safe (the
 * planner calls it from one thread).
 */
#include <stdint.h>
#include <string.h>

#define MAXWC 4   /* cell words: up to 256 cells */
#define MAXWB 16  /* box words: up to 1024 boxes */
#define MAXOPT 256 /* boxes through one cell (callers check) */

#define TBITS 16
#define TSIZE (1u << TBITS)

typedef struct {
    uint64_t key[MAXWC];
    uint32_t stamp;
    int32_t t;
} entry_t;

static entry_t table[TSIZE];
static uint32_t cur_stamp = 0;

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

static entry_t *lookup(const uint64_t *live, int wc)
{
    entry_t *e = &table[hash_live(live, wc)];
    if (e->stamp != cur_stamp) return 0;
    for (int w = 0; w < wc; w++)
        if (e->key[w] != live[w]) return 0;
    return e;
}

static void remember(const uint64_t *live, int wc, int t)
{
    entry_t *e = &table[hash_live(live, wc)];
    if (e->stamp == cur_stamp) {
        int same = 1;
        for (int w = 0; w < wc; w++) same &= e->key[w] == live[w];
        if (same && e->t <= t) return;
    }
    for (int w = 0; w < wc; w++) e->key[w] = live[w];
    e->stamp = cur_stamp;
    e->t = t;
}

typedef struct {
    int wc, wb, k, ncls;
    const uint64_t *masks;      /* boxes x wc */
    const uint64_t *cube_boxes; /* cells x wb */
    const uint64_t *conflict;   /* boxes x wb */
    const uint64_t *cls;        /* ncls x wc */
    const int32_t *need;        /* ncls */
    const int32_t *rank;        /* boxes: try the options of a cell in increasing rank */
    int nfam;
    const int32_t *fam;         /* nfam x 3: first sub-torus, sub-tori, modulus (0: balanced) */
    const uint64_t *sub;        /* sub-tori x 2 x wc: cells of class A, cells of class B */
    long long nodes, budget;
    int32_t *out;
    int depth;
    uint8_t lo[64 * MAXWC], hi[64 * MAXWC]; /* per cell: words of cube_boxes that are not 0 */
} ctx_t;

static int popc(uint64_t x) { return __builtin_popcountll(x); }

static int go(ctx_t *c, const uint64_t *alive, const uint64_t *free, int t)
{
    if (t == 0) return 1;
    if (++c->nodes > c->budget) return -1;
    int wc = c->wc, wb = c->wb;
    uint64_t live[MAXWC];
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
        nlive += popc(lv);
    }
    int slack = nlive - t * c->k;
    if (slack < 0) return 0;
    entry_t *seen = lookup(live, wc);
    if (seen && seen->t <= t) return 0;
    for (int j = 0; j < c->ncls; j++) {
        int cnt = 0;
        const uint64_t *m = c->cls + (size_t)j * wc;
        for (int w = 0; w < wc; w++) cnt += popc(live[w] & m[w]);
        if (cnt / c->need[j] < t) return 0;
    }
    if (c->nfam) {
        int allowed = nlive - t * c->k;  /* prune as soon as some family wastes more */
        for (int f = 0; f < c->nfam; f++) {
            int first = c->fam[3 * f], n = c->fam[3 * f + 1], g = c->fam[3 * f + 2], w_f = 0;
            for (int q = first; q < first + n; q++) {
                const uint64_t *a = c->sub + (size_t)q * 2 * wc, *b = a + wc;
                int ca = 0, cbn = 0;
                for (int w = 0; w < wc; w++) {
                    ca += popc(live[w] & a[w]);
                    cbn += popc(live[w] & b[w]);
                }
                w_f += g ? ca % g : (ca > cbn ? ca - cbn : cbn - ca);
                if (w_f > allowed) return 0;
            }
        }
    }
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
    {
        for (int q = 0; q < nopt; q++) {
            int j = opt[q];
            const uint64_t *cf = c->conflict + (size_t)j * wb;
            const uint64_t *mk = c->masks + (size_t)j * wc;
            for (int u = 0; u < wb; u++) nalive[u] = alive[u] & ~cf[u];
            for (int w = 0; w < wc; w++) nfree[w] = live[w] & ~mk[w];
            int r = go(c, nalive, nfree, t - 1);
            if (r == 1) { c->out[c->depth++] = j; return 1; }
            if (r < 0) return r;
        }
    }
    if (slack > 0) {
        for (int u = 0; u < wb; u++) nalive[u] = alive[u] & ~cb[u];
        for (int w = 0; w < wc; w++) nfree[w] = live[w];
        nfree[best_c / 64] &= ~((uint64_t)1 << (best_c % 64));
        int r = go(c, nalive, nfree, t);
        if (r != 0) return r;
    }
    remember(live, wc, t);
    return 0;
}

/* Returns 1/0/-1 as above; on 1, out[0..t-1] holds the box indices; *nodes the nodes used. */
int exists_packing(int wc, int wb, int k, const uint64_t *masks, const uint64_t *cube_boxes,
                   const uint64_t *conflict, const uint64_t *alive, const uint64_t *free,
                   int t, int ncls, const uint64_t *cls, const int32_t *need,
                   const int32_t *rank, int nfam, const int32_t *fam, const uint64_t *sub,
                   long long budget, int32_t *out, long long *nodes, long long memo_id)
{
    static long long last_memo = 0;
    if (wc > MAXWC || wb > MAXWB || wc < 1 || wb < 1) return -2;
    if (memo_id == 0 || memo_id != last_memo) {
        if (++cur_stamp == 0) {  /* wrapped: clear the table once every 2^32 calls */
            memset(table, 0, sizeof table);
            cur_stamp = 1;
        }
        last_memo = memo_id;
    }
    static ctx_t c;  /* large (cell tables): static, like the memo table */
    ctx_t init = {wc, wb, k, ncls, masks, cube_boxes, conflict, cls, need, rank, nfam, fam, sub,
                  0, budget, out, 0, {0}, {0}};
    c = init;
    for (int cell = 0; cell < 64 * wc; cell++) {
        const uint64_t *cb = cube_boxes + (size_t)cell * wb;
        int lo = wb, hi = 0;
        for (int v = 0; v < wb; v++)
            if (cb[v]) { if (v < lo) lo = v; hi = v + 1; }
        if (lo > hi) lo = hi;
        c.lo[cell] = (uint8_t)lo;
        c.hi[cell] = (uint8_t)hi;
    }
    int r = go(&c, alive, free, t);
    *nodes = c.nodes;
    return r;
}
