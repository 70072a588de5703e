/* The cameras (#/cameras): state, frame rate, the latest still with the scene drawn over it,
 * the people count series; state, rates and stills refreshed every 2 s (counts every 10 s)
 * while shown. */
import { S, can } from '../state.js';
import { apiJson, loadCameras } from '../api.js';
import { $, el } from '../dom.js';
import { t } from '../i18n.js';
import { sceneSvg } from './scene.js';
import { drawCounts } from './counts.js';

/* The camera's state line and its rates (refreshed every 2 s). */
function fillState(card, c) {
  const st = card.querySelector('.cam-state');
  st.textContent = '';
  st.append(el('span', { class: 'status-' + c.status }, c.status), ' · ');
  /* a cluster: the analysis node that runs it (docs/scale.md) */
  if (c.node) st.append(el('span', { class: 'cam-node' }, `${t('node')} ${c.node}`), ' · ');
  /* a camera that moves (camera_motion, docs/motion.md): held while it moves or looks away */
  if (c.view === 'moving' || c.view === 'off view')
    st.append(
      el('span', { class: 'status-moving' }, t(c.view === 'moving' ? 'view_moving' : 'view_off')),
      ' · ',
    );
  st.append(c.message);
  card.querySelector('.muted').textContent =
    `${Number(c.fps).toFixed(1)} ${t('fps')} · ${c.frames} ${t('frames')} · ` +
    `${c.dropped} ${t('dropped')}`;
}

export async function enter(ctx) {
  S.view = 'cameras';
  await loadCameras();
  if (ctx.signal.aborted) return; /* the operator went elsewhere meanwhile */
  const main = $('#main');
  main.textContent = '';
  main.append(el('h1', {}, t('cameras')));
  const grid = el('div', { class: 'cams' });
  main.append(grid);
  for (const c of S.cameras) {
    const card = el('section', { class: 'cam panel', id: 'cam-' + c.name, 'aria-label': c.name });
    card.append(el('h2', {}, c.name), el('p', { class: 'cam-state' }), el('p', { class: 'muted' }));
    fillState(card, c);
    if (can('still') && c.width) {
      const wrap = el('div', { class: 'shot still' });
      const img = el('img', { src: `/api/cameras/${c.name}/still?ts=${Date.now()}`, alt: c.name });
      img.onerror = () => {
        img.alt = c.status;
      };
      wrap.append(img);
      try {
        const sc = await apiJson('GET', `/api/cameras/${c.name}/scene.json`);
        wrap.append(sceneSvg(sc, c.width, c.height));
      } catch (e) {
        /* no scene drawn */
      }
      card.append(wrap);
    }
    if (can('counts')) {
      const box = el('div', { class: 'counts', 'data-camera': c.name });
      card.append(box);
      drawCounts(box, c.name);
    }
    if (can('scene_edit'))
      card.append(
        el('p', {}, el('a', { href: '#/scene/' + c.name, class: 'edit' }, t('edit_scene'))),
      );
    grid.append(card);
  }
  let tick = 0;
  ctx.every(async () => {
    try {
      await loadCameras();
    } catch (e) {
      return; /* the banner says why */
    }
    for (const c of S.cameras) {
      const card = document.getElementById('cam-' + c.name);
      if (card) fillState(card, c);
    }
    for (const img of document.querySelectorAll('.still img'))
      img.src = img.src.replace(/ts=\d+/, 'ts=' + Date.now());
    if (++tick % 5 === 0)
      for (const box of document.querySelectorAll('.counts')) drawCounts(box, box.dataset.camera);
  }, 2000);
}
