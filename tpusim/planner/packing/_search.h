/* Shared declarations of the compiled packing search (_search.c) and its batch solver and
 * joint parity bound (_batch.c); see the comments there. Internal: not a public API. */
#ifndef TPUSIM_SEARCH_H
#define TPUSIM_SEARCH_H
#include <stdint.h>
#include <string.h>

#define MAXWC 4   /* cell words: up to 256 cells */
#define MAXWB 16  /* box words: up to 1024 boxes */
#define MAXOPT 256 /* boxes through one cell (callers check) */
#define MAXSUB 512 /* sub-tori of all waste families */
#define MAXCELL (64 * MAXWC)
#define MAXF 32    /* waste families */

#define TBITS 16
#define TSIZE (1u << TBITS)

typedef struct {
    uint64_t key[MAXWC];
    uint32_t stamp;
    int32_t t;
} entry_t;

static inline int popc(uint64_t x) { return __builtin_popcountll(x); }

/* The memo of the calling thread, fetched once per call (thread-local access is not free). */
typedef struct { entry_t *table; uint32_t stamp; } memo_t;

typedef struct jctx jctx_t;  /* the joint parity bound's data (below) */

/* Waste families, kept up to date as cells leave the free set (instead of recounting every
   sub-torus at every node): per family and cell its sub-torus and class (0: A, 1: B); per
   sub-torus the free cells of each class; per family the cells it forces unused (sum over its
   sub-tori of (A mod g) for a modulus g, of |A - B| for a balanced family). */
typedef struct {
    int nf;
    int g[MAXF];
    int16_t sub[MAXF][MAXCELL];
    int8_t side[MAXF][MAXCELL];
    int cnt[MAXSUB][2];
    int wsum[MAXF];
} wctx_t;

static inline int wval(int g, const int *cnt)
{
    return g ? cnt[0] % g : (cnt[0] > cnt[1] ? cnt[0] - cnt[1] : cnt[1] - cnt[0]);
}

static inline void wmove(wctx_t *W, int cell, int d)
{
    for (int f = 0; f < W->nf; f++) {
        int *cnt = W->cnt[W->sub[f][cell]];
        int old = wval(W->g[f], cnt);
        cnt[W->side[f][cell]] += d;
        W->wsum[f] += wval(W->g[f], cnt) - old;
    }
}


#define MAXJF 16

struct jctx {
    int wc, nf;
    int first[MAXJF], count[MAXJF];
    int16_t csub[MAXJF][MAXCELL];  /* sub-torus of each cell in each family */
    int8_t cside[MAXJF][MAXCELL];  /* class of each cell: 0 A, 1 B */
    const uint64_t *sub;           /* sub-tori x 2 x wc (class A cells, class B cells) */
    int R[MAXSUB];                 /* per sub-torus: residual #A - #B the unused cells need */
    int S[MAXJF];                  /* per family: sum of |R| over its sub-tori */
    long long nodes, budget;
};



typedef struct {
    int wc, wb, k, ncls;
    const uint64_t *masks;      /* boxes x wc */
    const uint64_t *cube_boxes; /* cells x wb */
    const uint64_t *conflict;   /* boxes x wb */
    const uint64_t *cls;        /* ncls x wc */
    const int32_t *need;        /* ncls */
    const int32_t *rank;        /* boxes: try the options of a cell in increasing rank */
    const int32_t *fam;         /* waste families x 3: first sub-torus, sub-tori, modulus (0:
                                   balanced), for counting them at a search's root */
    const uint64_t *sub;        /* sub-tori x 2 x wc: cells of class A, cells of class B */
    const double *weight;       /* per cell: an LP dual (every box weighs >= 1), or 0 */
    long long nodes, budget;
    int32_t *out;
    int depth;
    memo_t memo;                /* this thread's table and stamp */
    int joint_slack;            /* check the joint parity bound at nodes with at most this
                                   slack (-1: never) ... */
    long long joint_budget;     /* ... with this many nodes of its search */
    jctx_t *jc;                 /* the joint bound's data (solve_batch) */
    wctx_t *wf;                 /* the waste families, counted for the node's free cells */
    uint8_t lo[64 * MAXWC], hi[64 * MAXWC]; /* per cell: words of cube_boxes that are not 0 */
} ctx_t;


/* Shared between the two files, not exported from the library (direct calls, no PLT). */
#define INTERNAL __attribute__((visibility("hidden")))

/* _search.c */
INTERNAL void memo_begin(long long memo_id);
INTERNAL void wmove_set(wctx_t *W, const uint64_t *cells, int wc, int d);
INTERNAL void map_family(int16_t *cell_sub, int8_t *cell_side, int first, int count, int wc,
                const uint64_t *sub);
INTERNAL void waste_init(wctx_t *W, int wc, int nfam, const int32_t *fam, const uint64_t *sub);
INTERNAL void ctx_setup(ctx_t *c);
INTERNAL int run_search(ctx_t *c, wctx_t *W, const uint64_t *alive, const uint64_t *free, int t,
               long long budget, int use_waste);
/* _batch.c */
INTERNAL int joint_check(jctx_t *J, const uint64_t *live, int u, long long budget);

#endif
