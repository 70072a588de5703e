/* Statistics (#/stats, supervisors and auditors): alerts per camera and type over a period and
 * how they were qualified, false alerts per camera-hour, time to decide; each camera's people
 * count series; CSV exports (audited). */
import { S } from '../state.js';
import { api, apiJson, loadCameras } from '../api.js';
import { $, el, typeName, download as saveAs } from '../dom.js';
import { t } from '../i18n.js';
import { drawCounts } from './counts.js';

export async function enter() {
  S.view = 'stats';
  const main = $('#main');
  main.textContent = '';
  const day = (d) => d.toISOString().slice(0, 10);
  const from = el('input', {
    type: 'date',
    id: 'stats-from',
    value: day(new Date(Date.now() - 7 * 86400e3)),
  });
  const to = el('input', {
    type: 'date',
    id: 'stats-to',
    value: day(new Date(Date.now() + 86400e3)),
  });
  const out = el('div', {});
  const q = () => `?from=${from.value}T00:00:00Z&to=${to.value}T00:00:00Z`;
  async function show() {
    out.textContent = '';
    const rows = await apiJson('GET', '/api/stats' + q());
    if (!rows.length) out.append(el('p', { class: 'muted' }, t('no_data')));
    else out.append(chart(rows));
    const num = (v, d) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
    if (rows.length)
      out.append(
        el(
          'table',
          {},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              [
                t('camera'),
                t('type'),
                t('alerts_n'),
                t('confirmed'),
                t('false_alert'),
                t('not_relevant'),
                t('confirmed_rate'),
                t('camera_hours'),
                t('fa_per_hour'),
                t('median_decide'),
              ].map((h) => el('th', {}, h)),
            ),
          ),
          el(
            'tbody',
            {},
            rows.map((r) =>
              el(
                'tr',
                {},
                el('td', {}, r.camera),
                el('td', {}, typeName(r.type)),
                el('td', { class: 'num' }, r.alerts),
                el('td', { class: 'num' }, r.confirmed),
                el('td', { class: 'num' }, r.false_alerts),
                el('td', { class: 'num' }, r.not_relevant),
                el(
                  'td',
                  { class: 'num' },
                  r.confirmed_rate === null ? '—' : Math.round(100 * r.confirmed_rate) + ' %',
                ),
                el(
                  'td',
                  { class: 'num' },
                  r.camera_hours > 0 && r.camera_hours < 1
                    ? Number(r.camera_hours).toPrecision(2)
                    : num(r.camera_hours, 1),
                ),
                el('td', { class: 'num' }, num(r.false_alerts_per_camera_hour, 2)),
                el('td', { class: 'num' }, num(r.median_decide_s, 1)),
              ),
            ),
          ),
        ),
      );
    /* each camera's people count over the period (density stage), with its audited CSV */
    await loadCameras();
    for (const c of S.cameras) {
      const box = el('div', { class: 'counts', 'data-camera': c.name });
      out.append(
        el('h2', {}, `${t('people')} — ${c.name}`),
        box,
        el(
          'p',
          {},
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () =>
                download(
                  `/api/cameras/${encodeURIComponent(c.name)}/counts.csv${q()}`,
                  `vigie-counts-${c.name}.csv`,
                ),
            },
            t('export_counts'),
          ),
        ),
      );
      drawCounts(box, c.name, q() + '&limit=5000');
    }
  }
  const download = (path, name) => saveAs(api, path, name);
  const csv = () => download('/api/stats.csv' + q(), 'vigie-stats.csv');
  /* the evaluation report of the period (docs/report.md): one HTML page, in the console's
   * language, audited as report_export */
  const report = () =>
    download(
      `/api/report${q()}&lang=${S.lang === 'fr' ? 'fr' : 'en'}`,
      `vigie-report-${from.value}.html`,
    );
  main.append(
    el('h1', {}, t('stats')),
    el(
      'div',
      { class: 'row panel' },
      el('label', {}, t('from'), from),
      el('label', {}, t('to'), to),
      el('button', { type: 'button', onclick: show }, t('show')),
      el(
        'button',
        { type: 'button', class: 'secondary', id: 'csv', onclick: csv },
        t('export_csv'),
      ),
      el(
        'button',
        { type: 'button', class: 'secondary', id: 'report', onclick: report },
        t('export_report'),
      ),
    ),
    out,
  );
  show();
}
function chart(rows) {
  /* one stacked bar per camera and type: confirmed, false alerts, not relevant, undecided */
  const bw = 46,
    gap = 26,
    h = 200,
    top = 10,
    left = 40,
    w = Math.max(left + rows.length * (bw + gap) + 20, left + 4 * 130 + 40);
  const max = Math.max(1, ...rows.map((r) => r.alerts));
  const svg = el('svg', {
    class: 'chart',
    viewBox: `0 0 ${w} ${h + 70}`,
    width: Math.min(w * 1.4, 1200),
    role: 'img',
    'aria-label': t('alerts_n'),
  });
  const colours = [
    ['confirmed', '#b3261e'],
    ['false_alerts', '#1b6e2e'],
    ['not_relevant', '#8a5a00'],
    ['undecided', '#9aa3b5'],
  ];
  for (let k = 0; k <= 4; k++) {
    const y = top + h - (h * k) / 4;
    svg.append(
      el('line', { x1: left, x2: w, y1: y, y2: y, stroke: '#d5d9e0' }),
      el('text', { x: 4, y: y + 4 }, Math.round((max * k) / 4)),
    );
  }
  rows.forEach((r, i) => {
    let y = top + h;
    const x = left + 10 + i * (bw + gap);
    const vals = {
      confirmed: r.confirmed,
      false_alerts: r.false_alerts,
      not_relevant: r.not_relevant,
    };
    vals.undecided = r.alerts - r.confirmed - r.false_alerts - r.not_relevant;
    for (const [k, c] of colours) {
      const bh = (h * vals[k]) / max;
      if (bh > 0)
        svg.append(
          el(
            'rect',
            { x, y: y - bh, width: bw, height: bh, fill: c },
            el('title', {}, `${k}: ${vals[k]}`),
          ),
        );
      y -= bh;
    }
    svg.append(
      el('text', { x, y: top + h + 16 }, r.camera),
      el('text', { x, y: top + h + 32 }, r.type.slice(0, 14)),
    );
  });
  colours.forEach(([k, c], i) =>
    svg.append(
      el('rect', {
        x: left + i * 130,
        y: h + 50,
        width: 12,
        height: 12,
        fill: c,
      }),
      el(
        'text',
        { x: left + 16 + i * 130, y: h + 61 },
        t(k === 'false_alerts' ? 'false_alert' : k),
      ),
    ),
  );
  return svg;
}
