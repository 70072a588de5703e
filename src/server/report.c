/*
 * The evaluation report (issue #27; docs/report.md): what the decree asks of every use and CNIL
 * of every deployment — indicators a committee can read — from the store alone.
 *
 * Figures, per camera and event type over the period [from, to):
 *  - alerts (event starts), acknowledged, confirmed, false alerts, not relevant, undecided;
 *  - camera hours: the spans the camera's runs recorded (runs.started_unix .. last_unix, clipped
 *    to the period) — the hours it was actually analysed; false alerts per camera-hour;
 *  - time to decide (decide_s: from the alert to its qualification): median and 90th percentile
 *    (nearest rank);
 *  - per camera, availability: hours analysed against the period's hours — from the store's
 *    first record (nothing ran here before) up to now — for the cameras the config names (a
 *    camera only in the store has no configured hours: shown without a share);
 *  - access: evidence views (pictures and clips), thumbnails, originals shown and refused,
 *    exports (statistics, counts, reports), from the audit rows of the period (a folded row
 *    counts for its "repeated");
 *  - the audit trail's verification over the whole store (vg_store_audit_verify_signed): "audit
 *    trail verified" or the broken row named.
 * Every number in the HTML is computed here from the same rows as the CSV (test_serve checks both
 * against GET /api/stats). The page is one file: CSS inline, charts as inline SVG, no script, no
 * network; the text in English or French; everything from the store is escaped.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/server.h>
#include <vigie/version.h>

#include "api.h"
#include "server_priv.h"

enum {
    S_TITLE,
    S_SITE,
    S_PERIOD,
    S_MADE,
    S_AUDIT,
    S_AUDIT_OK,
    S_AUDIT_BROKEN,
    S_OUTCOMES,
    S_OUTCOMES_HELP,
    S_AVAIL,
    S_AVAIL_HELP,
    S_TABLE,
    S_CAMERA,
    S_TYPE,
    S_ALERTS,
    S_ACKED,
    S_CONFIRMED,
    S_FALSE,
    S_NOT_RELEVANT,
    S_UNDECIDED,
    S_CAM_HOURS,
    S_FA_PER_H,
    S_MEDIAN,
    S_P90,
    S_CONFIGURED_H,
    S_AVAILABILITY,
    S_ACCESS,
    S_ACTION,
    S_COUNT,
    S_HOW,
    S_HOW_TEXT,
    S_TOTAL,
    S_NONE,
    S_ACCESS_NONE,
    S_NB
};

static const char *const txt[2][S_NB] = {
    {
        "vigie — evaluation report",
        "Site",
        "Period",
        "Made",
        "Audit trail",
        "audit trail verified",
        "AUDIT TRAIL BROKEN at row",
        "Alerts and what operators decided",
        "Per camera and event type: confirmed, false alerts, not relevant, not decided.",
        "Camera availability",
        "Hours each camera was analysed, against the period's hours.",
        "Indicators per camera and event type",
        "camera",
        "event type",
        "alerts",
        "acknowledged",
        "confirmed",
        "false alerts",
        "not relevant",
        "undecided",
        "camera hours",
        "false alerts per camera-hour",
        "time to decide, median (s)",
        "time to decide, 90th percentile (s)",
        "hours configured",
        "availability",
        "Access to evidence and exports",
        "what (audit trail)",
        "times",
        "How these figures are made",
        "Alerts are the event starts recorded in the period. Confirmed, false alert and not "
        "relevant are the operators' qualifications; undecided, the alerts without one. Camera "
        "hours are the spans the camera was analysed (its runs), within the period. The time to "
        "decide runs from the alert to its qualification; the 90th percentile is the nearest "
        "rank. Availability is the camera hours against the period's hours (from the store's first "
        "record, up to now), for the cameras in the configuration. Access counts the audit trail's "
        "rows of the period (a row that folds "
        "repeats counts for each). The audit trail is verified from its start to its last row, "
        "against the anchors written outside the database.",
        "all cameras",
        "no alert in the period",
        "no access recorded in the period",
    },
    {
        "vigie — rapport d'évaluation",
        "Site",
        "Période",
        "Établi le",
        "Journal d'audit",
        "journal d'audit vérifié",
        "JOURNAL D'AUDIT ROMPU à la ligne",
        "Alertes et décisions des opérateurs",
        "Par caméra et type d'événement : confirmées, fausses alertes, non pertinentes, non "
        "décidées.",
        "Disponibilité des caméras",
        "Heures d'analyse de chaque caméra, rapportées aux heures de la période.",
        "Indicateurs par caméra et type d'événement",
        "caméra",
        "type d'événement",
        "alertes",
        "acquittées",
        "confirmées",
        "fausses alertes",
        "non pertinentes",
        "non décidées",
        "heures-caméra",
        "fausses alertes par heure-caméra",
        "délai de décision, médiane (s)",
        "délai de décision, 90e centile (s)",
        "heures configurées",
        "disponibilité",
        "Accès aux preuves et exports",
        "quoi (journal d'audit)",
        "nombre",
        "Comment ces chiffres sont établis",
        "Les alertes sont les débuts d'événement enregistrés dans la période. Confirmée, fausse "
        "alerte et non pertinente sont les qualifications des opérateurs ; non décidées, les "
        "alertes sans qualification. Les heures-caméra sont les durées d'analyse de la caméra "
        "(ses exécutions) dans la période. Le délai de décision va de l'alerte à sa "
        "qualification ; le 90e centile est pris au rang le plus proche. La disponibilité "
        "rapporte les heures-caméra aux heures de la période (depuis le premier enregistrement, "
        "jusqu'à maintenant), pour les caméras de la configuration. Les accès comptent les lignes "
        "du journal d'audit de la période (une ligne "
        "qui regroupe des répétitions compte pour chacune). Le journal d'audit est vérifié de sa "
        "première à sa dernière ligne, contre les ancres écrites hors de la base.",
        "toutes caméras",
        "aucune alerte dans la période",
        "aucun accès enregistré dans la période",
    },
};

/* audit actions shown under "access", with their words */
static const struct {
    const char *action, *en, *fr;
} access_rows[] = {
    {"evidence_view", "evidence viewed (pictures and clips)",
     "preuves consultées (images et séquences)"},
    {"evidence_thumbnails", "evidence thumbnails shown in the queue",
     "vignettes de preuves affichées dans la file"},
    {"evidence_view_original", "unblurred originals viewed (with a reason)",
     "originaux non floutés consultés (avec motif)"},
    {"evidence_original_refused", "unblurred originals refused", "originaux non floutés refusés"},
    {"stats_export", "statistics exported (CSV)", "statistiques exportées (CSV)"},
    {"counts_export", "people counts exported (CSV)", "comptages exportés (CSV)"},
    {"report_export", "reports downloaded from the console",
     "rapports téléchargés depuis la console"},
    {"audit_view", "audit trail consulted", "journal d'audit consulté"},
    {"audit_verify", "audit trail verified on request", "journal d'audit vérifié sur demande"},
};
#define NB_ACCESS (int)(sizeof(access_rows) / sizeof(access_rows[0]))

typedef struct row {
    char camera[64], type[32];
    int64_t alerts, acked, confirmed, false_alerts, not_relevant;
    double hours, fa_per_h, median, p90;
} row_t;

typedef struct cam {
    char name[64];
    double hours, configured; /* configured < 0: not in the config */
} cam_t;

typedef struct ctx {
    row_t *rows;
    int nrows, caprows;
    cam_t *cams;
    int ncams, capcams;
    int64_t access[NB_ACCESS];
} ctx_t;

static cam_t *cam_get(ctx_t *c, const char *name)
{
    for (int i = 0; i < c->ncams; i++)
        if (!strcmp(c->cams[i].name, name)) return &c->cams[i];
    if (c->ncams == c->capcams) {
        int nc = c->capcams ? c->capcams * 2 : 16;
        cam_t *n = vg_realloc(c->cams, (size_t)nc * sizeof(*n));
        if (!n) return NULL;
        c->cams = n;
        c->capcams = nc;
    }
    cam_t *k = &c->cams[c->ncams++];
    memset(k, 0, sizeof(*k));
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->configured = -1;
    return k;
}

static int on_stats(void *opaque, const vg_store_stats_row_t *r)
{
    ctx_t *c = opaque;
    if (c->nrows == c->caprows) {
        int nc = c->caprows ? c->caprows * 2 : 32;
        row_t *n = vg_realloc(c->rows, (size_t)nc * sizeof(*n));
        if (!n) return VG_ENOMEM;
        c->rows = n;
        c->caprows = nc;
    }
    row_t *k = &c->rows[c->nrows++];
    snprintf(k->camera, sizeof(k->camera), "%s", r->camera);
    snprintf(k->type, sizeof(k->type), "%s", r->type);
    k->alerts = r->alerts;
    k->acked = r->acknowledged;
    k->confirmed = r->confirmed;
    k->false_alerts = r->false_alerts;
    k->not_relevant = r->not_relevant;
    k->hours = r->camera_hours;
    k->fa_per_h = r->false_alerts_per_camera_hour;
    k->median = r->median_decide_s;
    k->p90 = r->p90_decide_s;
    return cam_get(c, r->camera) ? 0 : VG_ENOMEM;
}

static int on_hours(void *opaque, const char *camera, double hours)
{
    cam_t *k = cam_get(opaque, camera);
    if (!k) return VG_ENOMEM;
    k->hours = hours;
    return 0;
}

static int on_audit(void *opaque, const char *action, int64_t n)
{
    ctx_t *c = opaque;
    for (int i = 0; i < NB_ACCESS; i++)
        if (!strcmp(access_rows[i].action, action)) c->access[i] += n;
    return 0;
}

/* ---- dates ---- */

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* @in ("YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.mmm]Z") as the store's ISO time in @out; @end: a
 * date alone means the end of that day. 0 or VG_EINVAL. */
int vg__iso_time_norm(const char *in, int end, char out[32])
{
    size_t n = strlen(in);
    struct tm tm = {0};
    if (n < 10 || !digits(in, 4) || in[4] != '-' || !digits(in + 5, 2) || in[7] != '-' ||
        !digits(in + 8, 2))
        return VG_EINVAL;
    tm.tm_year = atoi(in) - 1900;
    tm.tm_mon = atoi(in + 5) - 1;
    tm.tm_mday = atoi(in + 8);
    int ms = 0;
    if (n > 10) {
        if (n < 20 || in[10] != 'T' || !digits(in + 11, 2) || in[13] != ':' ||
            !digits(in + 14, 2) || in[16] != ':' || !digits(in + 17, 2))
            return VG_EINVAL;
        tm.tm_hour = atoi(in + 11);
        tm.tm_min = atoi(in + 14);
        tm.tm_sec = atoi(in + 17);
        const char *p = in + 19;
        if (*p == '.') {
            p++;
            int k = 0;
            while (isdigit((unsigned char)*p)) {
                if (k < 3) ms = ms * 10 + (*p - '0');
                k++;
                p++;
            }
            if (!k) return VG_EINVAL;
            for (; k < 3; k++) ms *= 10;
        }
        if (strcmp(p, "Z")) return VG_EINVAL;
    }
    struct tm check = tm;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon ||
        check.tm_hour > 23 || check.tm_min > 59 || check.tm_sec > 60)
        return VG_EINVAL; /* 2026-02-31 */
    if (end && n == 10) t += 86400;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, 32 - k, ".%03dZ", ms);
    return 0;
}

static double iso_unix(const char *iso)
{
    struct tm tm = {0};
    tm.tm_year = atoi(iso) - 1900;
    tm.tm_mon = atoi(iso + 5) - 1;
    tm.tm_mday = atoi(iso + 8);
    tm.tm_hour = atoi(iso + 11);
    tm.tm_min = atoi(iso + 14);
    tm.tm_sec = atoi(iso + 17);
    return (double)timegm(&tm) + atoi(iso + 20) / 1000.0;
}

/* ---- writing ---- */

static void esc(vg_api_text_t *t, const char *s)
{
    for (; *s; s++) switch (*s) {
        case '<':
            vg__api_text_add(t, "&lt;");
            break;
        case '>':
            vg__api_text_add(t, "&gt;");
            break;
        case '&':
            vg__api_text_add(t, "&amp;");
            break;
        case '"':
            vg__api_text_add(t, "&quot;");
            break;
        case '\'':
            vg__api_text_add(t, "&#39;");
            break;
        default:
            vg__api_text_add(t, "%c", *s);
        }
}

/* a number for people: NAN as an em dash; @fr: decimal comma */
static void num(vg_api_text_t *t, double v, int decimals, int fr)
{
    char b[64];
    if (isnan(v)) {
        vg__api_text_add(t, "—");
        return;
    }
    snprintf(b, sizeof(b), "%.*f", decimals, v);
    if (fr)
        for (char *p = b; *p; p++)
            if (*p == '.') *p = ',';
    vg__api_text_add(t, "%s", b);
}

/* an event type in words (the console's names) */
static const char *type_words(const char *type, int fr)
{
    static const struct {
        const char *type, *en, *fr;
    } w[] = {
        {"intrusion", "intrusion", "intrusion"},
        {"wrong_way", "wrong way", "contresens"},
        {"abandoned_object", "abandoned object", "objet abandonné"},
        {"crowd_movement", "crowd movement", "mouvement de foule"},
        {"density", "excessive density", "densité excessive"},
        {"fall", "person on the ground", "personne au sol"},
        {"fire", "fire start", "départ de feu"},
        {"weapon", "weapon (candidate)", "arme (à vérifier)"},
        {"camera_fault", "camera fault (technical)", "panne de caméra (technique)"},
        {"line_crossing", "line crossing", "franchissement de ligne"},
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        if (!strcmp(w[i].type, type)) return fr ? w[i].fr : w[i].en;
    return type;
}

/* the stacked bars of outcomes, one per camera and type */
static void chart_outcomes(vg_api_text_t *t, const ctx_t *c, int fr)
{
    static const char *const col[4] = {"#b3261e", "#6b7280", "#1565c0", "#d8dde6"};
    const int label_w = 260, bar_w = 420, row_h = 26, top = 28;
    int64_t max = 1;
    for (int i = 0; i < c->nrows; i++)
        if (c->rows[i].alerts > max) max = c->rows[i].alerts;
    int h = top + c->nrows * row_h + 8;
    vg__api_text_add(t,
                     "<svg role=\"img\" aria-label=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
                     "%d %d\" class=\"chart\">",
                     txt[fr][S_OUTCOMES], label_w + bar_w + 80, h, label_w + bar_w + 80, h);
    const int leg[4] = {S_CONFIRMED, S_FALSE, S_NOT_RELEVANT, S_UNDECIDED};
    for (int k = 0, x = 0; k < 4; k++) {
        vg__api_text_add(t,
                         "<rect x=\"%d\" y=\"6\" width=\"12\" height=\"12\" fill=\"%s\"/><text "
                         "x=\"%d\" y=\"16\">%s</text>",
                         x, col[k], x + 16, txt[fr][leg[k]]);
        x += 30 + 7 * (int)strlen(txt[fr][leg[k]]);
    }
    for (int i = 0; i < c->nrows; i++) {
        const row_t *r = &c->rows[i];
        int y = top + i * row_h;
        int64_t und = r->alerts - r->confirmed - r->false_alerts - r->not_relevant;
        int64_t part[4] = {r->confirmed, r->false_alerts, r->not_relevant, und < 0 ? 0 : und};
        vg__api_text_add(t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 16);
        esc(t, r->camera);
        vg__api_text_add(t, " · %s</text>", type_words(r->type, fr));
        double x = label_w;
        for (int k = 0; k < 4; k++) {
            double w = (double)bar_w * (double)part[k] / (double)max;
            if (w > 0)
                vg__api_text_add(t,
                                 "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                                 "fill=\"%s\"><title>%s: %lld</title></rect>",
                                 x, y + 4, w, row_h - 8, col[k], txt[fr][leg[k]],
                                 (long long)part[k]);
            x += w;
        }
        vg__api_text_add(t, "<text x=\"%.1f\" y=\"%d\">%lld</text>", x + 6, y + 16,
                         (long long)r->alerts);
    }
    vg__api_text_add(t, "</svg>\n");
}

static void chart_availability(vg_api_text_t *t, const ctx_t *c, int fr)
{
    const int label_w = 200, bar_w = 420, row_h = 26;
    int h = c->ncams * row_h + 8;
    vg__api_text_add(t,
                     "<svg role=\"img\" aria-label=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
                     "%d %d\" class=\"chart\">",
                     txt[fr][S_AVAIL], label_w + bar_w + 90, h, label_w + bar_w + 90, h);
    for (int i = 0; i < c->ncams; i++) {
        const cam_t *k = &c->cams[i];
        int y = i * row_h;
        double share = k->configured > 0 ? fmin(1, k->hours / k->configured) : NAN;
        vg__api_text_add(t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 16);
        esc(t, k->name);
        vg__api_text_add(t,
                         "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                         "fill=\"#d8dde6\"/>",
                         label_w, y + 4, bar_w, row_h - 8);
        if (!isnan(share))
            vg__api_text_add(t,
                             "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                             "fill=\"%s\"/>",
                             label_w, y + 4, bar_w * share, row_h - 8,
                             share >= 0.95 ? "#1b6e2e" : "#8a5a00");
        vg__api_text_add(t, "<text x=\"%d\" y=\"%d\">", label_w + bar_w + 6, y + 16);
        if (isnan(share))
            vg__api_text_add(t, "—");
        else {
            num(t, 100 * share, 1, fr);
            vg__api_text_add(t, " %%");
        }
        vg__api_text_add(t, "</text>");
    }
    vg__api_text_add(t, "</svg>\n");
}

static void csv_num(vg_api_text_t *t, double v, int decimals)
{
    if (!isnan(v)) vg__api_text_add(t, "%.*f", decimals, v);
}

int vg_report_make(vg_store_t *st, const vg_report_params_t *p, char **html, char **csv,
                   vg_report_result_t *res, char *err, size_t errlen)
{
    ctx_t c;
    char from[32], to[32], first[32], last[32], now[32];
    int fr = 0, ret;
    vg_api_text_t t = {0}, cv = {0};
    memset(&c, 0, sizeof(c));
    if (html) *html = NULL;
    if (csv) *csv = NULL;
    if (p->lang && !strcmp(p->lang, "fr"))
        fr = 1;
    else if (p->lang && strcmp(p->lang, "en")) {
        snprintf(err, errlen, "language '%s': en or fr", p->lang);
        return VG_EINVAL;
    }
    vg_store_now(now);
    int have_span = vg_store_span(st, first, last) == 0;
    if (p->from && vg__iso_time_norm(p->from, 0, from) < 0) {
        snprintf(err, errlen,
                 "from '%s' is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)", p->from);
        return VG_EINVAL;
    }
    if (p->to && vg__iso_time_norm(p->to, 1, to) < 0) {
        snprintf(err, errlen,
                 "to '%s' is not a date: give YYYY-MM-DD (that whole day) or "
                 "YYYY-MM-DDTHH:MM:SSZ (UTC)",
                 p->to);
        return VG_EINVAL;
    }
    if (!p->from) snprintf(from, sizeof(from), "%s", have_span ? first : now);
    if (!p->to) snprintf(to, sizeof(to), "%s", now);
    if (strcmp(to, from) <= 0) {
        snprintf(err, errlen, "the period ends (%s) before it starts (%s)", to, from);
        return VG_EINVAL;
    }
    if (!have_span || strcmp(first, to) >= 0 || strcmp(last, from) < 0) {
        if (have_span)
            snprintf(err, errlen,
                     "nothing was recorded from %s to %s: no camera ran and no event came; the "
                     "store holds records from %s to %s",
                     from, to, first, last);
        else
            snprintf(err, errlen,
                     "the store is empty: no camera has run yet (start vigie serve first)");
        return VG_ENOENT;
    }
    /* the hours a camera could have been analysed: the period, from the store's first record
     * (vigie did not exist here before) and up to now */
    double period_h = (iso_unix(strcmp(to, now) < 0 ? to : now) -
                       iso_unix(strcmp(from, first) > 0 ? from : first)) /
                      3600.0;
    if (period_h < 0) period_h = 0;
    if ((ret = vg_store_stats(st, from, to, on_stats, &c)) < 0 ||
        (ret = vg_store_run_hours(st, from, to, on_hours, &c)) < 0 ||
        (ret = vg_store_audit_counts(st, from, to, on_audit, &c)) < 0) {
        snprintf(err, errlen, "cannot read the store: %s", vg_strerror(ret));
        goto end;
    }
    for (int i = 0; i < p->nb_cameras; i++) {
        cam_t *k = cam_get(&c, p->cameras[i]);
        if (!k) {
            ret = VG_ENOMEM;
            goto end;
        }
        k->configured = period_h;
    }
    vg_audit_report_t ar;
    if ((ret = vg_store_audit_verify_signed(st, p->anchors, p->pks, p->npk, &ar)) < 0) {
        snprintf(err, errlen, "cannot read the audit trail: %s", vg_strerror(ret));
        goto end;
    }

    /* ---- CSV: the per camera-type table ---- */
    vg__api_text_add(&cv, "camera,type,alerts,acknowledged,confirmed,false_alerts,not_relevant,"
                          "undecided,camera_hours,configured_hours,availability,"
                          "false_alerts_per_camera_hour,median_decide_s,p90_decide_s\n");
    for (int i = 0; i < c.nrows; i++) {
        const row_t *r = &c.rows[i];
        const cam_t *k = cam_get(&c, r->camera);
        vg__api_text_csv_str(&cv, r->camera);
        vg__api_text_add(&cv, ",%s,%lld,%lld,%lld,%lld,%lld,%lld,", r->type, (long long)r->alerts,
                         (long long)r->acked, (long long)r->confirmed, (long long)r->false_alerts,
                         (long long)r->not_relevant,
                         (long long)(r->alerts - r->confirmed - r->false_alerts - r->not_relevant));
        csv_num(&cv, r->hours, 4);
        vg__api_text_add(&cv, ",");
        csv_num(&cv, k && k->configured >= 0 ? k->configured : NAN, 4);
        vg__api_text_add(&cv, ",");
        csv_num(&cv, k && k->configured > 0 ? fmin(1, k->hours / k->configured) : NAN, 4);
        vg__api_text_add(&cv, ",");
        csv_num(&cv, r->fa_per_h, 4);
        vg__api_text_add(&cv, ",");
        csv_num(&cv, r->median, 1);
        vg__api_text_add(&cv, ",");
        csv_num(&cv, r->p90, 1);
        vg__api_text_add(&cv, "\n");
    }

    /* ---- HTML ---- */
    vg__api_text_add(&t,
                     "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\">"
                     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                     "style-src 'unsafe-inline'\"><title>%s</title><style>"
                     "body{font:15px/1.45 system-ui,sans-serif;color:#16181d;margin:24px auto;"
                     "max-width:1100px;padding:0 16px}h1{font-size:24px}h2{font-size:18px;"
                     "margin-top:28px;border-bottom:1px solid #c9ced8}table{border-collapse:"
                     "collapse;margin:8px 0}th,td{border:1px solid #c9ced8;padding:4px 8px;"
                     "text-align:right}th:first-child,td:first-child,td.l{text-align:left}"
                     "th{background:#e3e7ee}.ok{color:#1b6e2e;font-weight:bold}.bad{color:"
                     "#b3261e;font-weight:bold}.muted{color:#4a5160}svg text{font:12px "
                     "system-ui,sans-serif;fill:#16181d}dl{display:grid;grid-template-columns:"
                     "max-content auto;gap:2px 16px}dt{color:#4a5160}dd{margin:0}"
                     "@media print{body{margin:0}}</style></head><body>\n",
                     fr ? "fr" : "en", txt[fr][S_TITLE]);
    vg__api_text_add(&t, "<h1>%s</h1>\n<dl>", txt[fr][S_TITLE]);
    if (p->site) {
        vg__api_text_add(&t, "<dt>%s</dt><dd>", txt[fr][S_SITE]);
        esc(&t, p->site);
        vg__api_text_add(&t, "</dd>");
    }
    vg__api_text_add(&t,
                     "<dt>%s</dt><dd id=\"period\">%s — %s (UTC)</dd><dt>%s</dt><dd>%s, vigie "
                     "%s</dd></dl>\n",
                     txt[fr][S_PERIOD], from, to, txt[fr][S_MADE], now, VG_VERSION_STRING);
    vg__api_text_add(&t, "<h2>%s</h2>\n<p id=\"audit\" class=\"%s\">", txt[fr][S_AUDIT],
                     ar.ok ? "ok" : "bad");
    if (ar.ok)
        vg__api_text_add(&t, "%s", txt[fr][S_AUDIT_OK]);
    else
        vg__api_text_add(&t, "%s %lld", txt[fr][S_AUDIT_BROKEN], (long long)ar.bad_seq);
    vg__api_text_add(&t, "</p><p class=\"muted\">");
    esc(&t, ar.what);
    vg__api_text_add(&t, "</p>\n");

    vg__api_text_add(&t, "<h2>%s</h2>\n<p class=\"muted\">%s</p>\n", txt[fr][S_OUTCOMES],
                     txt[fr][S_OUTCOMES_HELP]);
    if (c.nrows)
        chart_outcomes(&t, &c, fr);
    else
        vg__api_text_add(&t, "<p>%s</p>\n", txt[fr][S_NONE]);
    vg__api_text_add(&t, "<h2>%s</h2>\n<p class=\"muted\">%s</p>\n", txt[fr][S_AVAIL],
                     txt[fr][S_AVAIL_HELP]);
    chart_availability(&t, &c, fr);
    vg__api_text_add(&t,
                     "<table id=\"cameras\"><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
                     "</tr>\n",
                     txt[fr][S_CAMERA], txt[fr][S_CAM_HOURS], txt[fr][S_CONFIGURED_H],
                     txt[fr][S_AVAILABILITY]);
    for (int i = 0; i < c.ncams; i++) {
        const cam_t *k = &c.cams[i];
        vg__api_text_add(&t, "<tr><td>");
        esc(&t, k->name);
        vg__api_text_add(&t, "</td><td>");
        num(&t, k->hours, 2, fr);
        vg__api_text_add(&t, "</td><td>");
        num(&t, k->configured >= 0 ? k->configured : NAN, 2, fr);
        vg__api_text_add(&t, "</td><td>");
        if (k->configured > 0) {
            num(&t, 100 * fmin(1, k->hours / k->configured), 1, fr);
            vg__api_text_add(&t, " %%");
        } else
            vg__api_text_add(&t, "—");
        vg__api_text_add(&t, "</td></tr>\n");
    }
    vg__api_text_add(&t, "</table>\n");

    vg__api_text_add(&t,
                     "<h2>%s</h2>\n<table id=\"indicators\"><tr><th>%s</th><th>%s</th><th>%s</th>"
                     "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s"
                     "</th><th>%s</th><th>%s</th></tr>\n",
                     txt[fr][S_TABLE], txt[fr][S_CAMERA], txt[fr][S_TYPE], txt[fr][S_ALERTS],
                     txt[fr][S_ACKED], txt[fr][S_CONFIRMED], txt[fr][S_FALSE],
                     txt[fr][S_NOT_RELEVANT], txt[fr][S_UNDECIDED], txt[fr][S_CAM_HOURS],
                     txt[fr][S_FA_PER_H], txt[fr][S_MEDIAN], txt[fr][S_P90]);
    int64_t tot[6] = {0};
    for (int i = 0; i < c.nrows; i++) {
        const row_t *r = &c.rows[i];
        int64_t und = r->alerts - r->confirmed - r->false_alerts - r->not_relevant;
        vg__api_text_add(&t, "<tr data-camera=\"");
        esc(&t, r->camera);
        vg__api_text_add(&t, "\" data-type=\"%s\"><td>", r->type);
        esc(&t, r->camera);
        vg__api_text_add(&t,
                         "</td><td class=\"l\">%s</td><td>%lld</td><td>%lld</td><td>%lld</td><td>"
                         "%lld</td><td>%lld</td><td>%lld</td><td>",
                         type_words(r->type, fr), (long long)r->alerts, (long long)r->acked,
                         (long long)r->confirmed, (long long)r->false_alerts,
                         (long long)r->not_relevant, (long long)und);
        num(&t, r->hours, 2, fr);
        vg__api_text_add(&t, "</td><td>");
        num(&t, r->fa_per_h, 3, fr);
        vg__api_text_add(&t, "</td><td>");
        num(&t, r->median, 1, fr);
        vg__api_text_add(&t, "</td><td>");
        num(&t, r->p90, 1, fr);
        vg__api_text_add(&t, "</td></tr>\n");
        tot[0] += r->alerts;
        tot[1] += r->acked;
        tot[2] += r->confirmed;
        tot[3] += r->false_alerts;
        tot[4] += r->not_relevant;
        tot[5] += und;
    }
    double all_h = 0;
    for (int i = 0; i < c.ncams; i++) all_h += c.cams[i].hours;
    vg__api_text_add(&t,
                     "<tr id=\"total\"><th>%s</th><th></th><th>%lld</th><th>%lld</th><th>%lld"
                     "</th><th>%lld</th><th>%lld</th><th>%lld</th><th>",
                     txt[fr][S_TOTAL], (long long)tot[0], (long long)tot[1], (long long)tot[2],
                     (long long)tot[3], (long long)tot[4], (long long)tot[5]);
    num(&t, all_h, 2, fr);
    vg__api_text_add(&t, "</th><th>");
    num(&t, all_h > 0 ? (double)tot[3] / all_h : NAN, 3, fr);
    vg__api_text_add(&t, "</th><th></th><th></th></tr>\n</table>\n");

    vg__api_text_add(&t, "<h2>%s</h2>\n", txt[fr][S_ACCESS]);
    int64_t any = 0;
    for (int i = 0; i < NB_ACCESS; i++) any += c.access[i];
    if (!any)
        vg__api_text_add(&t, "<p>%s</p>\n", txt[fr][S_ACCESS_NONE]);
    else {
        vg__api_text_add(&t, "<table id=\"access\"><tr><th>%s</th><th>%s</th></tr>\n",
                         txt[fr][S_ACTION], txt[fr][S_COUNT]);
        for (int i = 0; i < NB_ACCESS; i++)
            if (c.access[i])
                vg__api_text_add(&t, "<tr data-action=\"%s\"><td>%s</td><td>%lld</td></tr>\n",
                                 access_rows[i].action, fr ? access_rows[i].fr : access_rows[i].en,
                                 (long long)c.access[i]);
        vg__api_text_add(&t, "</table>\n");
    }
    vg__api_text_add(&t, "<h2>%s</h2>\n<p>%s</p>\n</body></html>\n", txt[fr][S_HOW],
                     txt[fr][S_HOW_TEXT]);
    if (t.failed || cv.failed) {
        ret = VG_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto end;
    }
    if (res) {
        memset(res, 0, sizeof(*res));
        snprintf(res->from, sizeof(res->from), "%s", from);
        snprintf(res->to, sizeof(res->to), "%s", to);
        res->alerts = tot[0];
        res->cameras = c.ncams;
        res->audit_ok = ar.ok;
        res->bad_seq = ar.bad_seq;
    }
    if (html) {
        *html = t.p;
        t.p = NULL;
    }
    if (csv) {
        *csv = cv.p;
        cv.p = NULL;
    }
    ret = 0;
end:
    vg_free(t.p);
    vg_free(cv.p);
    vg_free(c.rows);
    vg_free(c.cams);
    return ret;
}
