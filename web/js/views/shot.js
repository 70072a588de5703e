/* An alert's picture (its pixelated evidence) with the event's box drawn over it; in the queue
 * (cls 'thumb') the server's small thumbnail, which the browser keeps a few minutes. */
import { camOf } from '../state.js';
import { el } from '../dom.js';
import { t } from '../i18n.js';

export function shot(ev, cls) {
  const c = camOf(ev.camera);
  const wrap = el('span', { class: 'shot ' + (cls || '') });
  if (ev.evidence)
    wrap.append(
      el('img', {
        src: '/api/evidence/' + ev.evidence + (cls === 'thumb' ? '?size=thumb' : ''),
        alt: t('evidence') + ' ' + ev.id,
      }),
    );
  else wrap.append(el('span', { class: 'muted' }, '—'));
  if (ev.box && c.width && c.height) {
    const b = el('span', { class: 'box' });
    b.style.left = (100 * ev.box[0]) / c.width + '%';
    b.style.top = (100 * ev.box[1]) / c.height + '%';
    b.style.width = (100 * ev.box[2]) / c.width + '%';
    b.style.height = (100 * ev.box[3]) / c.height + '%';
    wrap.append(b);
  }
  return wrap;
}
