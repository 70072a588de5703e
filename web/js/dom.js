/* Building the page: elements (HTML and SVG), notices, dates, small dialogs. */
import { S } from './state.js';
import { t } from './i18n.js';

const SVG = ['svg', 'polygon', 'polyline', 'line', 'circle', 'text', 'g', 'rect', 'path'];
SVG.push('marker', 'defs', 'title');

export const $ = (sel, root) => (root || document).querySelector(sel);

/* An element: attributes (on* are listeners, removed with the element; text is its text),
 * then children (nodes or text). */
export function el(tag, attrs, ...kids) {
  const e = SVG.includes(tag)
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat())
    if (k !== null && k !== undefined) e.append(k.nodeType ? k : String(k));
  return e;
}

export function toast(msg, bad) {
  const d = el('div', { class: bad ? 'bad' : '' }, msg);
  $('#toast').append(d);
  setTimeout(() => d.remove(), bad ? 8000 : 4000);
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(S.lang === 'fr' ? 'fr-FR' : 'en-GB', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export const typeName = (ty) => t(ty);

/* A modal question with a text answer (null when cancelled). */
export function ask(question) {
  return new Promise((resolve) => {
    const input = el('input', { id: 'ask-input', minlength: 3 });
    const close = (v) => {
      dlg.remove();
      resolve(v);
    };
    const form = el(
      'form',
      {
        class: 'panel',
        onsubmit: (e) => {
          e.preventDefault();
          close(input.value.trim());
        },
      },
      el('label', {}, question, input),
      el(
        'div',
        { class: 'row' },
        el('button', { type: 'submit' }, t('ok')),
        el(
          'button',
          { type: 'button', class: 'secondary', onclick: () => close(null) },
          t('cancel'),
        ),
      ),
    );
    const dlg = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true' }, form);
    $('#dialog-host').append(dlg);
    input.focus();
  });
}

/* A modal yes/no question (true when confirmed); the focus starts on "cancel". */
export function confirmDialog(question, yes) {
  return new Promise((resolve) => {
    const close = (v) => {
      dlg.remove();
      resolve(v);
    };
    const no = el(
      'button',
      { type: 'button', class: 'secondary', onclick: () => close(false) },
      t('cancel'),
    );
    const dlg = el(
      'div',
      { class: 'dialog', role: 'alertdialog', 'aria-modal': 'true', 'aria-label': question },
      el(
        'div',
        { class: 'panel' },
        el('p', {}, question),
        el(
          'div',
          { class: 'row' },
          el(
            'button',
            { type: 'button', class: 'danger', id: 'confirm-yes', onclick: () => close(true) },
            yes,
          ),
          no,
        ),
      ),
    );
    $('#dialog-host').append(dlg);
    no.focus();
  });
}

/* Save what @path answers as a file called @name. */
export async function download(api, path, name) {
  const r = await api('GET', path);
  const a = el('a', { href: URL.createObjectURL(await r.blob()), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}
