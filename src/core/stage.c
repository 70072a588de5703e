/*
 * The stage side of the stage interface: a stage reports through the host its runner set in
 * vg_analysis_t (the pipeline, or a test harness). Core knows nothing of the pipeline: the
 * dependency points upward only through these function pointers.
 */
#include <vigie/stage.h>

int vg_stage_emit(vg_analysis_t *a, vg_event_t *ev)
{
    return a->host && a->host->emit ? a->host->emit(a->host->opaque, ev) : 0;
}

int vg_stage_emit_count(vg_analysis_t *a, vg_count_t *c)
{
    return a->host && a->host->emit_count ? a->host->emit_count(a->host->opaque, c) : 0;
}

int64_t vg_stage_new_event_id(vg_analysis_t *a)
{
    return a->host && a->host->new_event_id ? a->host->new_event_id(a->host->opaque) : 0;
}
