/* Users (#/users, admins): the list, a new user with a role, disabling one. */
import { S } from '../state.js';
import { apiJson } from '../api.js';
import { $, el, fmtTime, toast, confirmDialog } from '../dom.js';
import { t } from '../i18n.js';

export async function enter(ctx) {
  if (ctx.signal.aborted) return; /* a redraw after the operator went elsewhere */
  S.view = 'users';
  const main = $('#main');
  main.textContent = '';
  const rows = await apiJson('GET', '/api/users');
  if (ctx.signal.aborted) return; /* the operator went elsewhere meanwhile */
  const name = el('input', { required: true }),
    pw = el('input', { type: 'password', required: true, minlength: 10 });
  const role = el(
    'select',
    {},
    ['operator', 'supervisor', 'auditor', 'admin'].map((r) => el('option', { value: r }, r)),
  );
  main.append(
    el('h1', {}, t('users')),
    el(
      'table',
      {},
      el('caption', { class: 'sr-only' }, t('users')),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          [t('name'), t('role'), t('created'), ''].map((h) => el('th', { scope: 'col' }, h)),
        ),
      ),
      el(
        'tbody',
        {},
        rows.map((u) =>
          el(
            'tr',
            {},
            el('td', {}, u.name),
            el('td', {}, u.role),
            el('td', {}, fmtTime(u.created)),
            el(
              'td',
              {},
              u.disabled
                ? t('disabled')
                : el(
                    'button',
                    {
                      type: 'button',
                      class: 'secondary',
                      'aria-label': `${t('disable')} ${u.name}`,
                      onclick: async () => {
                        const sure = await confirmDialog(
                          t('disable_confirm').replace('%s', u.name),
                          t('disable'),
                        );
                        if (!sure) return;
                        try {
                          await apiJson('POST', `/api/users/${u.name}/disable`, {});
                          enter(ctx);
                        } catch (e) {
                          toast(e.message, true);
                        }
                      },
                    },
                    t('disable'),
                  ),
            ),
          ),
        ),
      ),
    ),
    el('h2', {}, t('add_user')),
    el(
      'form',
      {
        class: 'row panel',
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            await apiJson('POST', '/api/users', {
              name: name.value,
              role: role.value,
              password: pw.value,
            });
            enter(ctx);
          } catch (err) {
            toast(err.message, true);
          }
        },
      },
      el('label', {}, t('name'), name),
      el('label', {}, t('role'), role),
      el('label', {}, t('password'), pw),
      el('button', { type: 'submit' }, t('add_user')),
    ),
  );
}
