/* The layout of the call structs, field by field, so that tpusim.planner.packing.native can
 * check its ctypes declarations against the compiler's (a field added, dropped, retyped or
 * reordered on one side only would otherwise corrupt memory silently). */
#include "_packing.h"

#define FIELD(S, f) {#f, (int64_t)offsetof(S, f), (int64_t)sizeof(((S *)0)->f)}

static const tp_field_t boxes_fields[] = {
    FIELD(tp_boxes_t, masks), FIELD(tp_boxes_t, cube_boxes), FIELD(tp_boxes_t, conflict),
    FIELD(tp_boxes_t, cls), FIELD(tp_boxes_t, need), FIELD(tp_boxes_t, fam),
    FIELD(tp_boxes_t, sub), FIELD(tp_boxes_t, wc), FIELD(tp_boxes_t, wb), FIELD(tp_boxes_t, k),
    FIELD(tp_boxes_t, nboxes), FIELD(tp_boxes_t, ncls), FIELD(tp_boxes_t, nfam),
};
static const tp_field_t exists_fields[] = {
    FIELD(tp_exists_t, boxes), FIELD(tp_exists_t, alive), FIELD(tp_exists_t, free),
    FIELD(tp_exists_t, rank), FIELD(tp_exists_t, weight), FIELD(tp_exists_t, out),
    FIELD(tp_exists_t, budget), FIELD(tp_exists_t, memo_id), FIELD(tp_exists_t, t),
    FIELD(tp_exists_t, use_waste),
};
static const tp_field_t batch_fields[] = {
    FIELD(tp_batch_t, boxes), FIELD(tp_batch_t, rank), FIELD(tp_batch_t, alive),
    FIELD(tp_batch_t, free), FIELD(tp_batch_t, upper), FIELD(tp_batch_t, lower),
    FIELD(tp_batch_t, orders), FIELD(tp_batch_t, windows), FIELD(tp_batch_t, count_out),
    FIELD(tp_batch_t, upper_out), FIELD(tp_batch_t, best_out), FIELD(tp_batch_t, joint_budget),
    FIELD(tp_batch_t, first_budget), FIELD(tp_batch_t, local_budget),
    FIELD(tp_batch_t, mid_budget), FIELD(tp_batch_t, quick_budget), FIELD(tp_batch_t, memo_id),
    FIELD(tp_batch_t, npat), FIELD(tp_batch_t, norders), FIELD(tp_batch_t, nwin),
    FIELD(tp_batch_t, best_cap), FIELD(tp_batch_t, local_waste),
};
static const tp_field_t joint_fields[] = {
    FIELD(tp_joint_t, boxes), FIELD(tp_joint_t, free), FIELD(tp_joint_t, upper),
    FIELD(tp_joint_t, out), FIELD(tp_joint_t, budget), FIELD(tp_joint_t, npat),
};
static const tp_field_t cycle_fields[] = {
    FIELD(tp_cycle_t, a), FIELD(tp_cycle_t, b), FIELD(tp_cycle_t, out), FIELD(tp_cycle_t, rows),
    FIELD(tp_cycle_t, n),
};

#define ENTRY(name, S, fields) {name, sizeof(S), fields, sizeof(fields) / sizeof(fields[0])}
static const struct {
    const char *name;
    int64_t size;
    const tp_field_t *fields;
    int32_t nfields;
} structs[] = {
    ENTRY("tp_boxes_t", tp_boxes_t, boxes_fields),
    ENTRY("tp_exists_t", tp_exists_t, exists_fields),
    ENTRY("tp_batch_t", tp_batch_t, batch_fields),
    ENTRY("tp_joint_t", tp_joint_t, joint_fields),
    ENTRY("tp_cycle_t", tp_cycle_t, cycle_fields),
};

/* sizeof the struct called `name` and its fields in declaration order; -1 if unknown. */
int64_t tp_layout(const char *name, const tp_field_t **fields, int32_t *nfields)
{
    for (size_t i = 0; i < sizeof(structs) / sizeof(structs[0]); i++)
        if (strcmp(structs[i].name, name) == 0) {
            *fields = structs[i].fields;
            *nfields = structs[i].nfields;
            return structs[i].size;
        }
    return -1;
}
