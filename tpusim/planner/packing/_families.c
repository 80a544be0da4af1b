/* Waste families (tpusim.planner.packing.bounds.waste_families): parallel sub-tori, each cell
 * of class A or B. map_family gives each cell its sub-torus and class (for the search's waste
 * counts and the joint parity bound); waste_init / waste_load set up the search's counts. */
#include "_packing.h"

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
void waste_load(wctx_t *W, int wc, const int32_t *fam, const uint64_t *sub,
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
