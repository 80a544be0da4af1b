/* The slab bound's cycle DP (tpusim.planner.packing.slabs): row-wise max sum_s x_s with
 * 0 <= x_s <= a[s] and x_{s-1} + x_s <= b[s] (indices mod n), by dynamic programming over
 * (x_0, x_s); a, b: rows x n, every value below 63 (native.cycle_max checks). On a 2-long
 * cycle the two starts are the same boxes: min(a[0], b[0], b[1]). */
#include "_packing.h"

void tp_cycle_max(tp_cycle_t *call)
{
    enum { TOP = 64 };
    int n = call->n;
    const int64_t *a = call->a, *b = call->b;
    int64_t *out = call->out;
    for (int r = 0; r < call->rows; r++) {
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
