import { apiJson } from '../api.js';
import { el } from '../dom.js';
import { t } from '../i18n.js';

/* The camera's count series (density stage): one line per zone over the last samples, in
 * persons per m² where the scene is calibrated (with the warning level), else in people. */
export async function drawCounts(box, name, query) {
  let rows;
  try {
    rows = await apiJson(
      'GET',
      `/api/cameras/${encodeURIComponent(name)}/counts${query || '?limit=720'}`,
    );
  } catch (e) {
    return;
  }
  box.textContent = '';
  if (!rows.length) {
    box.append(el('p', { class: 'muted' }, t('no_counts')));
    return;
  }
  const dens = rows.every((r) => r.density !== null);
  const val = (r) => (dens ? r.density : r.count);
  const zones = [...new Set(rows.map((r) => r.zone))];
  const t0 = Date.parse(rows[0].wall),
    t1 = Math.max(t0 + 1, Date.parse(rows[rows.length - 1].wall));
  const max = Math.max(dens ? 5 : 1, ...rows.map(val)) * 1.1;
  const w = 320,
    h = 90,
    left = 30;
  const svg = el('svg', {
    class: 'chart countchart',
    viewBox: `0 0 ${w} ${h + 18}`,
    role: 'img',
    'aria-label': t('people'),
  });
  const y = (v) => 4 + h - (h * v) / max,
    x = (ts) => left + ((w - left - 4) * (ts - t0)) / (t1 - t0);
  svg.append(
    el('line', { x1: left, x2: w, y1: y(0), y2: y(0), stroke: '#d5d9e0' }),
    el('text', { x: 2, y: y(0) }, '0'),
    el('text', { x: 2, y: y(max / 1.1) + 8 }, (max / 1.1).toFixed(dens ? 1 : 0)),
  );
  if (dens)
    svg.append(
      el('line', {
        x1: left,
        x2: w,
        y1: y(4),
        y2: y(4),
        stroke: '#8a5a00',
        'stroke-dasharray': '4 3',
      }),
    );
  const colours = ['#1f4e9c', '#b3261e', '#1b6e2e', '#8a5a00', '#6b3fa0'];
  zones.forEach((z, i) => {
    const pts = rows
      .filter((r) => r.zone === z)
      .map((r) => `${x(Date.parse(r.wall)).toFixed(1)},${y(val(r)).toFixed(1)}`);
    svg.append(
      el('polyline', {
        points: pts.join(' '),
        fill: 'none',
        stroke: colours[i % colours.length],
        'stroke-width': 1.5,
      }),
    );
  });
  const last = zones.map((z) => {
    const r = rows.filter((q) => q.zone === z).pop();
    return `${z || t('whole_picture')}: ${dens ? r.density.toFixed(2) + ' ' + t('per_m2') : Math.round(r.count)}`;
  });
  svg.append(el('text', { x: left, y: h + 16 }, `${t('people')} — ${last.join(' · ')}`));
  box.append(svg);
}
