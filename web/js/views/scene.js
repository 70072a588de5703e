/* A scene drawn over a camera's picture: privacy and ignore masks, fixtures, zones (with their
 * direction), lines (with their forbidden way), in the picture's pixels. */
import { el } from '../dom.js';
import { t } from '../i18n.js';

export function sceneSvg(scene, w, h, extra) {
  const svg = el('svg', {
    viewBox: `0 0 ${w} ${h}`,
    preserveAspectRatio: 'none',
    'aria-hidden': 'true',
  });
  const pts = (p) => p.map((q) => q.join(',')).join(' ');
  const stroke = Math.max(2, w / 300);
  for (const m of (scene.masks && scene.masks.privacy) || [])
    svg.append(el('polygon', { points: pts(m), class: 'privacy' }));
  for (const m of (scene.masks && scene.masks.ignore) || [])
    svg.append(el('polygon', { points: pts(m), class: 'ignore', 'stroke-width': stroke }));
  for (const f of (scene.fixtures || []).concat(scene.decision_fixtures || []))
    svg.append(el('polygon', { points: pts(f.polygon), class: 'fixture', 'stroke-width': stroke }));
  (scene.zones || []).forEach((z, i) => {
    const g = el('g', { 'data-kind': 'zone', 'data-index': i });
    g.append(
      el('polygon', {
        points: pts(z.polygon),
        class: 'zone-' + (z.kind || 'watch') + (extra && extra.sel === 'zone' + i ? ' sel' : ''),
        'stroke-width': stroke,
      }),
    );
    const cx = z.polygon.reduce((a, p) => a + p[0], 0) / z.polygon.length,
      cy = z.polygon.reduce((a, p) => a + p[1], 0) / z.polygon.length;
    g.append(el('text', { x: cx, y: cy, 'font-size': w / 40, 'text-anchor': 'middle' }, z.name));
    if (z.direction)
      g.append(
        arrow(
          cx,
          cy + w / 30,
          cx + (z.direction[0] * w) / 12,
          cy + w / 30 + (z.direction[1] * w) / 12,
          stroke,
        ),
      );
    svg.append(g);
  });
  (scene.lines || []).forEach((l, i) => {
    const [a, b] = l.points;
    svg.append(
      el('line', {
        x1: a[0],
        y1: a[1],
        x2: b[0],
        y2: b[1],
        class: 'line' + (extra && extra.sel === 'line' + i ? ' sel' : ''),
        'stroke-width': stroke * 1.5,
      }),
    );
    if (l.forbidden && l.forbidden !== 'none') {
      /* the forbidden way: "left" as seen from a to b */
      const mx = (a[0] + b[0]) / 2,
        my = (a[1] + b[1]) / 2,
        dx = b[0] - a[0],
        dy = b[1] - a[1],
        n = Math.hypot(dx, dy) || 1;
      const lx = dy / n,
        ly = -dx / n,
        len = w / 20;
      if (l.forbidden === 'left_to_right' || l.forbidden === 'both')
        svg.append(arrow(mx + lx * len, my + ly * len, mx - lx * len, my - ly * len, stroke));
      if (l.forbidden === 'right_to_left' || l.forbidden === 'both')
        svg.append(arrow(mx - lx * len, my - ly * len, mx + lx * len, my + ly * len, stroke));
    }
    svg.append(el('text', { x: a[0], y: a[1] - 6, 'font-size': w / 45 }, l.name));
  });
  return svg;
}
/* A track's path (foot points, oldest first, input pixels) with its direction: a line through
 * the points, a dot where it was first seen, an arrowhead where it was last. */
export function pathSvg(path, w, h) {
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none', class: 'path' });
  const stroke = Math.max(2, w / 250);
  svg.append(el('title', {}, t('track_path')));
  svg.append(
    el('polyline', {
      points: path.map((q) => q.join(',')).join(' '),
      class: 'track-path',
      'stroke-width': stroke,
    }),
  );
  const [x0, y0] = path[0];
  svg.append(el('circle', { cx: x0, cy: y0, r: stroke * 1.5, class: 'track-start' }));
  /* the arrow: from a point far enough back that its direction is not the last step's noise */
  const [x2, y2] = path[path.length - 1];
  let k = path.length - 2;
  while (k > 0 && Math.hypot(x2 - path[k][0], y2 - path[k][1]) < w / 40) k--;
  const a = el('g', { class: 'track-arrow' });
  a.append(arrow(path[k][0], path[k][1], x2, y2, stroke));
  svg.append(a);
  return svg;
}

export function arrow(x1, y1, x2, y2, stroke) {
  const g = el('g', { class: 'arrow' });
  const a = Math.atan2(y2 - y1, x2 - x1),
    h = stroke * 5;
  g.append(el('line', { x1, y1, x2, y2, 'stroke-width': stroke * 1.5 }));
  g.append(
    el('polygon', {
      points: `${x2},${y2} ${x2 - h * Math.cos(a - 0.4)},${y2 - h * Math.sin(a - 0.4)} ${x2 - h * Math.cos(a + 0.4)},${y2 - h * Math.sin(a + 0.4)}`,
    }),
  );
  return g;
}
