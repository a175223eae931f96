/* tokens.js — application tokens for scripts and tools (PyTCI-style clients, tidectl), and the
 * signed-in user's password.
 *
 * The secret is in the creation answer only: it is shown once, with a copy button, and is gone
 * from the page at the next render (the server keeps only its SHA-256). Revoking asks first. */
import * as api from '../api.js';
import { h, replace, field, note, errorText, pageHead, section, timeEl, confirmBox, copyText } from '../dom.js';

const EXPIRY = [['2592000', '30 days'], ['86400', '1 day'], ['604800', '7 days'], ['7776000', '90 days'],
	['31536000', '1 year'], ['', 'never']];

function tokenState(t) {
	if (t.revoked_at)
		return ['revoked', 'st-cancelled'];
	if (t.expires_at && Date.parse(t.expires_at) <= api.serverNow())
		return ['expired', 'st-failed'];
	return ['active', 'st-done'];
}

export default {
	title: 'Tokens',
	perm: null,
	async render(ctx) {
		const msg = h('div', { 'aria-live': 'polite' });
		const listBox = h('div');
		const nameIn = h('input', { name: 'token_name', maxlength: 128, required: true, autocomplete: 'off', placeholder: 'e.g. anomaly-hook' });
		const expiry = h('select', { name: 'expires_in' }, EXPIRY.map(([v, l]) => h('option', { value: v }, l)));
		const createBtn = h('button', { type: 'submit', class: 'primary' }, 'Create token');
		const secretBox = h('div', { 'aria-live': 'polite' });
		const createForm = h('form', { class: 'inline-form', id: 'token-form' },
			field('Name', nameIn), field('Expires after', expiry), createBtn);

		const cur = h('input', { type: 'password', autocomplete: 'current-password', name: 'current_password' });
		const nw = h('input', { type: 'password', autocomplete: 'new-password', name: 'new_password', minlength: 8 });
		const pwMsg = h('div', { 'aria-live': 'polite' });
		const pwForm = h('form', { class: 'inline-form' }, field('Current password', cur), field('New password', nw, 'At least 8 characters.'),
			h('button', { type: 'submit' }, 'Change password'));

		replace(ctx.root, pageHead('Application tokens'),
			h('p', { class: 'hint' }, 'A token lets a script act as you (with your permissions as they are at each request): send it as ',
				h('code', {}, 'Authorization: Bearer tide_…'), '. It is shown once, when it is made.'),
			msg, section('New token', createForm, secretBox), section('Your tokens', listBox),
			ctx.me.user.source === 'ldap' ? null : section('Your password', pwForm, pwMsg));

		async function load() {
			let items;
			try {
				items = (await api.get('/tokens')).items;
			} catch (e) {
				replace(listBox, note('error', `Could not load your tokens: ${errorText(e)}`));
				return;
			}
			if (!items.length) {
				replace(listBox, note('empty', 'You have no tokens.'));
				return;
			}
			replace(listBox, h('table', { id: 'tokens-table' },
				h('thead', {}, h('tr', {}, ['Name', 'Prefix', 'Created', 'Expires', 'Last used', 'State', '']
					.map((t) => h('th', { scope: 'col' }, t)))),
				h('tbody', {}, items.map((t) => {
					const [st, cls] = tokenState(t);
					return h('tr', { 'data-token': t.name, 'data-token-id': t.id },
						h('td', {}, t.name), h('td', {}, h('code', {}, `${t.prefix}…`)),
						h('td', {}, timeEl(t.created_at)), h('td', {}, t.expires_at ? timeEl(t.expires_at) : 'never'),
						h('td', {}, timeEl(t.last_used_at)),
						h('td', { 'data-col': 'state' }, h('span', { class: `badge ${cls}` }, st)),
						h('td', {}, st === 'active' ? h('button', { type: 'button', class: 'small danger',
							onclick: () => revoke(t) }, 'Revoke') : null));
				}))));
		}

		async function revoke(t) {
			if (!await confirmBox(`Revoke token ${t.name}?`, 'Scripts using it are refused from now on. This cannot be undone.', 'Revoke'))
				return;
			try {
				await api.del(`/tokens/${t.id}`);
				replace(msg, note('ok', `Token ${t.name} was revoked.`));
			} catch (e) {
				replace(msg, note('error', `Could not revoke ${t.name}: ${errorText(e)}`));
			}
			await load();
		}

		createForm.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			if (!nameIn.value.trim()) {
				replace(secretBox, note('error', 'Give the token a name.'));
				nameIn.focus();
				return;
			}
			createBtn.disabled = true;
			const body = { name: nameIn.value.trim() };
			if (expiry.value)
				body.expires_in = Number(expiry.value);
			try {
				const t = await api.post('/tokens', body);
				const secret = h('input', { readonly: true, value: t.token, class: 'mono secret', id: 'token-secret', 'aria-label': 'New token', size: 52 });
				const copied = h('span', { 'aria-live': 'polite' });
				replace(secretBox, note('ok', h('p', {}, h('strong', {}, `Token ${t.name} was created. Copy it now: it is not shown again.`)),
					h('div', { class: 'secret-row' }, secret, h('button', { type: 'button', onclick: async () => {
						replace(copied, (await copyText(t.token, secret)) ? ' Copied.' : ' Selected: press Ctrl+C.');
					} }, 'Copy'), copied)));
				secret.focus();
				secret.select();
				nameIn.value = '';
			} catch (e) {
				replace(secretBox, note('error', `The token was not created: ${errorText(e)}`));
			}
			createBtn.disabled = false;
			await load();
		});

		pwForm.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			try {
				await api.post('/auth/password', { current_password: cur.value, new_password: nw.value });
				replace(pwMsg, note('ok', 'Your password was changed.'));
				cur.value = nw.value = '';
			} catch (e) {
				replace(pwMsg, note('error', e.code === 'invalid_credentials' ? 'The current password is wrong.' : `Not changed: ${errorText(e)}`));
			}
		});

		await load();
	},
};
