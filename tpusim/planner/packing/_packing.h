/* The compiled part of the packing engine (tpusim.planner.packing.native): every type, limit
 * and internal function in one header. Six files, compiled into one library, each using only
 * the files below it:
 *   _batch.c     the batch solver: greedy, searches, local search, joint bound (tp_solve_batch)
 *   _search.c    the branch-and-bound and its memo (tp_exists)
 *   _joint.c     the joint parity bound (tp_joint_bounds)
 *   _families.c  waste families: each cell's sub-torus and class, counts at a search's root
 *   _cycle.c     the slab bound's cycle DP (tp_cycle_max)
 *   _layout.c    the call structs' layout, for the Python side to check (tp_layout)
 * Python passes ONE struct per call (below, "calls"); native.py declares the same structs with
 * ctypes and refuses to load a library whose tp_layout disagrees with them.
 * Cells and boxes are bit sets of uint64 words: wc words of cells, wb words of boxes. */
#ifndef TPUSIM_PACKING_H
#define TPUSIM_PACKING_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAXWC 4    /* cell words: up to 256 cells */
#define MAXWB 16   /* box words: up to 1024 boxes */
#define MAXOPT 256 /* boxes through one cell (native.py checks) */
#define MAXSUB 512 /* sub-tori of all waste families */
#define MAXCELL (64 * MAXWC)
#define MAXF 32    /* waste families */
#define MAXJF 16   /* balanced families in the joint bound */

#define TP_API __attribute__((visibility("default"))) /* the library is built hidden */

/* ---- calls: one struct per entry point ---- */

typedef struct {  /* one box shape on one cube torus, boxes in native order (by lowest cell) */
    const uint64_t *masks;      /* boxes x wc: the cells of each box */
    const uint64_t *cube_boxes; /* 64 wc cells x wb: the boxes through each cell */
    const uint64_t *conflict;   /* boxes x wb: the boxes sharing a cell with each box */
    const uint64_t *cls;        /* ncls x wc: the classes of every nontrivial coloring */
    const int32_t *need;        /* ncls: the fewest cells of that class in any box (>= 1) */
    const int32_t *fam;         /* nfam x 3: waste families: first sub-torus, sub-tori,
                                   modulus (0: balanced) */
    const uint64_t *sub;        /* sub-tori x 2 x wc: cells of class A, cells of class B */
    int32_t wc, wb, k, nboxes, ncls, nfam;
} tp_boxes_t;

typedef struct {  /* tp_exists: do t disjoint boxes among `alive` fit inside `free`? */
    const tp_boxes_t *boxes;
    const uint64_t *alive;   /* wb words: the boxes that may be used */
    const uint64_t *free;    /* wc words: the cells that may be used */
    const int32_t *rank;     /* boxes: a cell's boxes are tried in increasing rank */
    const double *weight;    /* 64 wc cells: an LP dual (every box weighs >= 1), or NULL */
    int32_t *out;            /* t: the boxes found, on 1 */
    int64_t budget;          /* search nodes */
    int64_t memo_id;         /* > 0: keep impossibility proofs across calls with this id */
    int32_t t;
    int32_t use_waste;       /* prune by the waste families */
} tp_exists_t;

typedef struct {  /* tp_solve_batch: maximum packings of npat failure patterns */
    const tp_boxes_t *boxes;
    const int32_t *rank;     /* boxes: option order of every search */
    const uint64_t *alive;   /* npat x wb: every healthy box of the pattern */
    const uint64_t *free;    /* npat x wc: the cells they cover */
    const int32_t *upper;    /* npat: an upper bound */
    const int32_t *lower;    /* npat: a count some packing is known to reach, or NULL */
    const int32_t *orders;   /* norders x boxes: greedy orders */
    const uint64_t *windows; /* nwin x wc: local-search windows */
    int32_t *count_out;      /* npat: the maximum, or -1 when left to the caller */
    int32_t *upper_out;      /* npat: an upper bound (the target the searches stopped at) */
    int32_t *best_out;       /* npat x best_cap: the best packing found, -1 padded */
    int64_t joint_budget, first_budget, local_budget, mid_budget, quick_budget; /* nodes */
    int64_t memo_id;
    int32_t npat, norders, nwin, best_cap;
    int32_t local_waste;     /* local-search steps prune by the waste families too */
} tp_batch_t;

typedef struct {  /* tp_joint_bounds: the joint parity bound of npat free-cell sets */
    const tp_boxes_t *boxes;
    const uint64_t *free;    /* npat x wc */
    const int32_t *upper;    /* npat */
    int32_t *out;            /* npat */
    int64_t budget;          /* nodes per target */
    int32_t npat;
} tp_joint_t;

typedef struct {  /* tp_cycle_max: the slab bound's cycle DP, row by row */
    const int64_t *a, *b;    /* rows x n */
    int64_t *out;            /* rows */
    int32_t rows, n;
} tp_cycle_t;

typedef struct { const char *name; int64_t offset, size; } tp_field_t;

TP_API int tp_exists(tp_exists_t *call);
TP_API int tp_solve_batch(tp_batch_t *call);
TP_API void tp_joint_bounds(tp_joint_t *call);
TP_API void tp_cycle_max(tp_cycle_t *call);
TP_API int64_t tp_layout(const char *name, const tp_field_t **fields, int32_t *nfields);

/* ---- internal types ---- */

typedef struct {  /* one memo entry: a set of live cells proved unable to hold t boxes */
    uint64_t key[MAXWC];
    uint32_t stamp;
    int32_t t;
} entry_t;

typedef struct { entry_t *table; uint32_t stamp; } memo_t;  /* the calling thread's memo */

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

typedef struct {  /* the joint parity bound's search (see _joint.c) */
    int wc, nf;
    int first[MAXJF], count[MAXJF];
    int16_t csub[MAXJF][MAXCELL];  /* sub-torus of each cell in each family */
    int8_t cside[MAXJF][MAXCELL];  /* class of each cell: 0 A, 1 B */
    const uint64_t *sub;           /* sub-tori x 2 x wc (class A cells, class B cells) */
    int R[MAXSUB];                 /* per sub-torus: residual #A - #B the unused cells need */
    int S[MAXJF];                  /* per family: sum of |R| over its sub-tori */
    long long nodes, budget;
} jctx_t;

typedef struct {  /* one search: the boxes and the search's state */
    tp_boxes_t b;
    const int32_t *rank;        /* boxes: try the options of a cell in increasing rank */
    const double *weight;       /* per cell: an LP dual (every box weighs >= 1), or NULL */
    long long nodes, budget;
    int32_t *out;
    int depth;
    memo_t memo;                /* this thread's table and stamp */
    int joint_slack;            /* check the joint parity bound at nodes with at most this
                                   slack (-1: never) ... */
    long long joint_budget;     /* ... with this many nodes of its search */
    jctx_t *jc;                 /* the joint bound's data (solve_batch) */
    wctx_t *wf;                 /* the waste families, counted for the node's free cells */
    uint8_t lo[MAXCELL], hi[MAXCELL]; /* per cell: words of cube_boxes that are not 0 */
} ctx_t;

static inline int popc(uint64_t x) { return __builtin_popcountll(x); }

/* The cells a waste family forces unused in one sub-torus, from its class counts. */
static inline int wval(int g, const int *cnt)
{
    return g ? cnt[0] % g : (cnt[0] > cnt[1] ? cnt[0] - cnt[1] : cnt[1] - cnt[0]);
}

/* Cell `cell` enters (d = 1) or leaves (d = -1) the free set: update every family's counts. */
static inline void wmove(wctx_t *W, int cell, int d)
{
    for (int f = 0; f < W->nf; f++) {
        int *cnt = W->cnt[W->sub[f][cell]];
        int old = wval(W->g[f], cnt);
        cnt[W->side[f][cell]] += d;
        W->wsum[f] += wval(W->g[f], cnt) - old;
    }
}

static inline void wmove_set(wctx_t *W, const uint64_t *cells, int wc, int d)
{
    for (int w = 0; w < wc; w++) {
        uint64_t m = cells[w];
        while (m) {
            wmove(W, w * 64 + __builtin_ctzll(m), d);
            m &= m - 1;
        }
    }
}

/* _families.c */
void map_family(int16_t *cell_sub, int8_t *cell_side, int first, int count, int wc,
                const uint64_t *sub);
void waste_init(wctx_t *W, int wc, int nfam, const int32_t *fam, const uint64_t *sub);
void waste_load(wctx_t *W, int wc, const int32_t *fam, const uint64_t *sub,
                const uint64_t *free);
/* _joint.c */
int joint_init(jctx_t *J, int wc, int nfam, const int32_t *fam, const uint64_t *sub);
int joint_subtori(const jctx_t *J);
int joint_check(jctx_t *J, const uint64_t *live, int u, long long budget);
int joint_bound(jctx_t *J, const uint64_t *free, int k, int upper, long long budget);
/* _search.c */
void memo_begin(long long memo_id);
void ctx_init(ctx_t *c, const tp_boxes_t *boxes, const int32_t *rank, int32_t *out);
int run_search(ctx_t *c, wctx_t *W, const uint64_t *alive, const uint64_t *free, int t,
               long long budget, int use_waste);

#endif
