/* The scene editor (#/scene/NAME, supervisors): zones, lines and fixtures drawn on the camera's
 * still, their properties, the options a scene may set, saved through the API (applied live or
 * by a restart of that camera). */
import { S, camOf } from '../state.js';
import { api, apiJson, loadCameras } from '../api.js';
import { $, el, toast } from '../dom.js';
import { t } from '../i18n.js';
import { sceneSvg } from './scene.js';

export async function enter(ctx, name) {
  S.view = 'scene';
  await loadCameras();
  const cam = camOf(name);
  const scene = await apiJson('GET', `/api/cameras/${name}/scene.json`);
  delete scene.decision_fixtures;
  const options = await apiJson('GET', '/api/options');
  if (ctx.signal.aborted) return; /* the operator went elsewhere meanwhile */
  const st = { scene, sel: null, drawing: null, drag: null, dirFor: null, optsOpen: false };
  const W = cam.width || (scene.size && scene.size[0]) || 640,
    H = cam.height || (scene.size && scene.size[1]) || 480;
  const main = $('#main');
  main.textContent = '';
  const canvas = el('div', { class: 'shot canvas', id: 'scene-canvas' });
  const img = el('img', { src: `/api/cameras/${name}/still?ts=${Date.now()}`, alt: name });
  canvas.append(img);
  const side = el('div', {});
  const msg = el('p', { class: 'error', role: 'alert', id: 'scene-error' });
  /* the picture's own box: the canvas may be taller than the picture (a grid row stretched by
   * the side panel), which once shifted every point drawn */
  const toImage = (e) => {
    const r = img.getBoundingClientRect();
    return [
      Math.round(((e.clientX - r.left) / r.width) * W),
      Math.round(((e.clientY - r.top) / r.height) * H),
    ];
  };
  function redraw() {
    for (const s of canvas.querySelectorAll('svg')) s.remove();
    const svg = sceneSvg(st.scene, W, H, { sel: st.sel });
    if (st.drawing && st.drawing.pts.length) {
      const pts = st.drawing.pts.map((p) => p.join(',')).join(' ');
      svg.append(
        st.drawing.kind === 'line'
          ? el('polyline', { points: pts, class: 'drawing', 'stroke-width': 3 })
          : el('polygon', { points: pts, class: 'drawing', 'stroke-width': 3 }),
      );
    }
    /* handles of the selected item */
    const item = selected();
    if (item) {
      const list = item.polygon || item.points;
      list.forEach((p, i) =>
        svg.append(
          el('circle', { cx: p[0], cy: p[1], r: W / 120, class: 'arrow', 'data-handle': i }),
        ),
      );
    }
    canvas.append(svg);
    renderSide();
  }
  function selected() {
    if (!st.sel) return null;
    const m = /^(zone|line|fixture)(\d+)$/.exec(st.sel);
    const arr =
      { zone: st.scene.zones, line: st.scene.lines, fixture: st.scene.fixtures }[m[1]] || [];
    return arr[Number(m[2])];
  }
  function finishDrawing() {
    const d = st.drawing;
    st.drawing = null;
    if (!d) return;
    if (d.kind === 'line') {
      if (d.pts.length < 2) return;
      st.scene.lines = st.scene.lines || [];
      st.scene.lines.push({
        name: uniqueName('line', st.scene.lines),
        points: d.pts.slice(0, 2),
        forbidden: 'none',
      });
      st.sel = 'line' + (st.scene.lines.length - 1);
    } else {
      if (d.pts.length < 3) return;
      const key = d.kind === 'zone' ? 'zones' : 'fixtures';
      st.scene[key] = st.scene[key] || [];
      const item = { name: uniqueName(d.kind, st.scene[key]), polygon: d.pts };
      if (d.kind === 'zone') item.kind = 'forbidden';
      st.scene[key].push(item);
      st.sel = d.kind + (st.scene[key].length - 1);
    }
    redraw();
  }
  function uniqueName(base, arr) {
    for (let i = 1; ; i++) if (!arr.some((x) => x.name === base + '-' + i)) return base + '-' + i;
  }
  canvas.addEventListener('mousedown', (e) => {
    const h = e.target.getAttribute && e.target.getAttribute('data-handle');
    if (h !== null && h !== undefined && !st.drawing) {
      st.drag = Number(h);
      e.preventDefault();
    }
  });
  window.addEventListener(
    'mousemove',
    (e) => {
      if (st.drag === null || S.view !== 'scene') return;
      const item = selected();
      (item.polygon || item.points)[st.drag] = toImage(e);
      redraw();
    },
    { signal: ctx.signal },
  );
  window.addEventListener(
    'mouseup',
    () => {
      st.drag = null;
    },
    { signal: ctx.signal },
  );
  canvas.addEventListener('click', (e) => {
    if (st.drag !== null) return;
    const p = toImage(e);
    if (st.dirFor) {
      st.dirFor.pts.push(p);
      if (st.dirFor.pts.length === 2) {
        const [a, b] = st.dirFor.pts,
          n = Math.hypot(b[0] - a[0], b[1] - a[1]);
        if (n > 0)
          st.dirFor.zone.direction = [
            +((b[0] - a[0]) / n).toFixed(3),
            +((b[1] - a[1]) / n).toFixed(3),
          ];
        st.dirFor = null;
        redraw();
      }
      return;
    }
    if (!st.drawing) return;
    st.drawing.pts.push(p);
    if (st.drawing.kind === 'line' && st.drawing.pts.length === 2) finishDrawing();
    else redraw();
  });
  canvas.addEventListener('dblclick', (e) => {
    e.preventDefault();
    finishDrawing();
  });
  document.addEventListener(
    'keydown',
    (e) => {
      if (S.view !== 'scene') return;
      const tag = (e.target.tagName || '').toLowerCase();
      if (['input', 'textarea', 'select'].includes(tag)) return;
      if (e.key === 'Enter' && st.drawing) {
        e.preventDefault();
        finishDrawing();
      }
      if (e.key === 'Escape') {
        st.drawing = null;
        st.dirFor = null;
        redraw();
      }
    },
    { signal: ctx.signal },
  );
  const startDraw = (kind) => {
    st.drawing = { kind, pts: [] };
    st.sel = null;
    msg.textContent = '';
    toast(t('draw_hint'));
    redraw();
  };

  function renderSide() {
    side.textContent = '';
    const tools = el(
      'div',
      { class: 'row' },
      el(
        'button',
        { type: 'button', id: 'new-zone', onclick: () => startDraw('zone') },
        t('new_zone'),
      ),
      el(
        'button',
        { type: 'button', id: 'new-line', class: 'secondary', onclick: () => startDraw('line') },
        t('new_line'),
      ),
      el(
        'button',
        {
          type: 'button',
          id: 'new-fixture',
          class: 'secondary',
          onclick: () => startDraw('fixture'),
        },
        t('new_fixture'),
      ),
    );
    if (st.drawing)
      tools.append(el('button', { type: 'button', id: 'finish', onclick: finishDrawing }, '✓'));
    const items = el('ul', { class: 'items' });
    const entry = (key, arr, label) =>
      (arr || []).forEach((x, i) =>
        items.append(
          el(
            'li',
            {},
            el(
              'button',
              {
                type: 'button',
                class: st.sel === key + i ? '' : 'secondary',
                onclick: () => {
                  st.sel = key + i;
                  redraw();
                },
              },
              `${label}: ${x.name}`,
            ),
          ),
        ),
      );
    entry('zone', st.scene.zones, t('zone'));
    entry('line', st.scene.lines, t('line'));
    entry('fixture', st.scene.fixtures, t('fixture'));
    side.append(
      el('div', { class: 'panel' }, tools, el('p', { class: 'muted' }, t('draw_hint')), items),
    );
    const item = selected();
    if (item) side.append(props(item));
    side.append(optionsPanel());
    side.append(
      el(
        'div',
        { class: 'row' },
        el('button', { type: 'button', id: 'save-scene', onclick: save }, t('save')),
        el('a', { href: '#/cameras' }, t('cancel')),
      ),
      msg,
    );
  }
  function props(item) {
    const kind = st.sel.replace(/\d+$/, '');
    const box = el('div', { class: 'panel' });
    const name = el('input', {
      value: item.name,
      id: 'item-name',
      onchange: (e) => {
        item.name = e.target.value.trim();
        redraw();
      },
    });
    box.append(el('label', {}, t('name'), name));
    if (kind === 'zone') {
      box.append(
        el(
          'label',
          {},
          t('kind'),
          el(
            'select',
            {
              id: 'zone-kind',
              onchange: (e) => {
                item.kind = e.target.value;
                redraw();
              },
            },
            ['forbidden', 'pedestrian_only', 'watch', 'rest'].map((k) =>
              el(
                'option',
                { value: k, selected: item.kind === k },
                t(k === 'forbidden' ? 'forbidden_k' : k),
              ),
            ),
          ),
        ),
      );
      box.append(
        el(
          'div',
          { class: 'row' },
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => {
                st.dirFor = { zone: item, pts: [] };
                toast(t('set_direction'));
              },
            },
            t('set_direction'),
          ),
          item.direction
            ? el(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  onclick: () => {
                    delete item.direction;
                    delete item.tolerance;
                    redraw();
                  },
                },
                t('direction') + ': ' + t('none'),
              )
            : null,
        ),
      );
      if (item.direction)
        box.append(
          el(
            'label',
            {},
            t('tolerance'),
            el('input', {
              type: 'number',
              min: 0,
              max: 180,
              value: item.tolerance || 45,
              onchange: (e) => {
                item.tolerance = Number(e.target.value);
              },
            }),
          ),
        );
    }
    if (kind === 'line') {
      box.append(
        el(
          'label',
          {},
          t('forbidden'),
          el(
            'select',
            {
              onchange: (e) => {
                item.forbidden = e.target.value;
                redraw();
              },
            },
            ['none', 'left_to_right', 'right_to_left', 'both'].map((k) =>
              el('option', { value: k, selected: item.forbidden === k }, t(k)),
            ),
          ),
        ),
      );
    }
    if (kind === 'zone' || kind === 'line')
      /* the priority of this place's alerts in the queue (its sound); none: the event type's */
      box.append(
        el(
          'label',
          {},
          t('priority_label'),
          el(
            'select',
            {
              id: 'item-priority',
              onchange: (e) => {
                if (e.target.value) item.priority = e.target.value;
                else delete item.priority;
              },
            },
            ['', 'low', 'normal', 'high'].map((k) =>
              el(
                'option',
                { value: k, selected: (item.priority || '') === k },
                k ? t('prio_' + k) : t('prio_type'),
              ),
            ),
          ),
        ),
      );
    box.append(
      el(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: () => {
            const arr = { zone: st.scene.zones, line: st.scene.lines, fixture: st.scene.fixtures }[
              kind
            ];
            arr.splice(Number(st.sel.replace(/^\D+/, '')), 1);
            st.sel = null;
            redraw();
          },
        },
        t('delete'),
      ),
    );
    return box;
  }
  function optionsPanel() {
    const box = el(
      'details',
      {
        class: 'panel',
        id: 'scene-options',
        open: st.optsOpen,
        ontoggle: (e) => {
          st.optsOpen = e.target.open;
        },
      },
      el('summary', {}, t('options')),
    );
    const list = el('div', { class: 'opts' });
    st.scene.settings = st.scene.settings || {};
    for (const g of options.filter((x) =>
      ['intrusion', 'wrong_way', 'abandoned_object'].includes(x.group),
    )) {
      list.append(el('h2', {}, g.group));
      for (const o of g.options) {
        const key = g.group + '.' + o.name;
        const input = el('input', {
          value: st.scene.settings[key] !== undefined ? st.scene.settings[key] : '',
          placeholder: o.default,
          title:
            `${o.help} [${o.range}${o.unit ? ' ' + o.unit : ''}]` + (o.live ? '' : ' — restart'),
          onchange: (e) => {
            if (e.target.value === '') delete st.scene.settings[key];
            else st.scene.settings[key] = e.target.value;
          },
        });
        list.append(
          el('label', { title: o.help }, `${o.name}${o.unit ? ' (' + o.unit + ')' : ''}`, input),
        );
      }
    }
    box.append(list);
    return box;
  }
  async function save() {
    msg.textContent = '';
    const s = JSON.parse(JSON.stringify(st.scene));
    if (s.settings && !Object.keys(s.settings).length) delete s.settings;
    for (const k of ['zones', 'lines', 'fixtures']) if (s[k] && !s[k].length) delete s[k];
    const r = await api('PUT', `/api/cameras/${name}/scene`, JSON.stringify(s, null, 1), true);
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      msg.textContent = j.error || 'HTTP ' + r.status;
      return;
    }
    toast(j.applied === 'live' ? t('saved_live') : t('saved') + (j.why ? ' (' + j.why + ')' : ''));
    location.hash = '#/cameras';
  }
  main.append(
    el('h1', {}, `${t('edit_scene')}: ${name}`),
    el('div', { class: 'editor' }, canvas, side),
  );
  img.onload = redraw;
  redraw();
}
