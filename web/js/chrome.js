/* The top bar: the sections the role may open, who is logged in, language, sound, and whether
 * the live stream is up. */
import { S, can } from './state.js';
import { $, el } from './dom.js';
import { t } from './i18n.js';

export function applyTheme() {
  document.documentElement.dataset.theme = S.theme;
}

export function chrome() {
  applyTheme();
  const top = $('#top');
  top.hidden = !S.me;
  if (!S.me) return;
  const nav = $('#nav');
  nav.textContent = '';
  const links = [];
  if (can('alerts')) links.push(['#/alerts', 'alerts']);
  if (can('cameras')) links.push(['#/cameras', 'cameras']);
  if (can('handover')) links.push(['#/handover', 'handover']);
  if (can('stats')) links.push(['#/stats', 'stats']);
  if (can('audit')) links.push(['#/audit', 'audit']);
  if (can('users')) links.push(['#/users', 'users']);
  const here = location.hash.split('/')[1] || '';
  const unread = S.handover.filter((n) => n.id > S.handoverSeen).length;
  for (const [href, k] of links)
    nav.append(
      el(
        'a',
        { href, id: 'nav-' + k, 'aria-current': href.split('/')[1] === here ? 'page' : null },
        t(k),
        k === 'handover' && unread
          ? el('span', { class: 'count', title: t('unread_notes') }, ` ${unread}`)
          : null,
      ),
    );
  $('#who').textContent = S.me.user + ' (' + S.me.role + ')';
  $('#logout').textContent = t('logout');
  $('#lang').textContent = t('lang');
  $('#sound').textContent = S.sound ? t('sound_on') : t('sound_off');
  $('#sound').setAttribute('aria-pressed', S.sound ? 'true' : 'false');
  $('#sound').hidden = !can('alerts');
  $('#theme').textContent = S.theme === 'dark' ? t('theme_light') : t('theme_dark');
  document.documentElement.lang = S.lang;
  $('.skip').textContent = t('skip');
  liveStatus();
}

export function liveStatus() {
  const off = $('#offline');
  off.hidden = !S.me || S.offlineSince === null;
  if (!off.hidden)
    off.textContent = t('offline_banner').replace('%s', S.offlineSince.toLocaleTimeString(S.lang));
  const l = $('#live');
  l.hidden = !S.es || !can('alerts');
  if (l.hidden) return;
  const open = S.es.readyState === 1;
  l.textContent = open ? '● ' + t('live') : '○ ' + t('reconnecting');
  l.className = 'live ' + (open ? 'on' : 'off');
}
