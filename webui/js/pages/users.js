/* users.js — local and LDAP user accounts, and the authorisation groups that carry permissions.
 *
 * The server enforces that nobody grants what they do not hold (403 escalation), changes their
 * own groups, or removes the last admin (409); this page shows those answers as they come and
 * does not offer actions on oneself that would always fail. LDAP accounts have no local
 * password and their groups follow the directory at each login, so the page says so. */
import * as api from '../api.js';
import { h, replace, field, note, errorText, pageHead, section, timeEl, modal, confirmBox, newId,
	fmtBytes } from '../dom.js';

function checks(name, options, chosen, disabledFn) {
	return h('fieldset', { class: 'checks' }, h('legend', {}, name), options.map(([v, label, hint]) => {
		const id = newId('c');
		return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, value: v, checked: chosen.includes(v),
			disabled: disabledFn ? disabledFn(v) : false }), h('label', { for: id }, label,
			hint ? h('span', { class: 'muted' }, ` — ${hint}`) : ''));
	}));
}
const checked = (el) => [...el.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);

export default {
	title: 'Users & groups',
	perm: 'users.admin',
	async render(ctx) {
		const myPerms = ctx.me.user.permissions;
		const msg = h('div', { 'aria-live': 'polite' });
		const usersBox = h('div'), groupsBox = h('div');
		let users = [], groups = [], perms = [];
		const hasQuota = () => groups.some((g) => 'quota_bytes' in g);

		replace(ctx.root, pageHead('Users & groups',
			h('button', { type: 'button', class: 'primary', id: 'new-user', onclick: () => editUser(null) }, 'New user'),
			h('button', { type: 'button', id: 'new-group', onclick: () => editGroup(null) }, 'New group')),
		msg, section('Users', usersBox), section('Authorisation groups', groupsBox));

		const say = (kind, ...t) => replace(msg, note(kind, ...t));

		async function load() {
			try {
				const [u, g, p] = await Promise.all([api.get('/users?limit=1000'), api.get('/groups?limit=1000'), api.get('/permissions')]);
				users = u.items; groups = g.items; perms = p.items;
			} catch (e) {
				say('error', `Could not load users and groups: ${errorText(e)}`);
				return;
			}
			drawUsers();
			drawGroups();
		}

		function drawUsers() {
			if (!users.length) {
				replace(usersBox, note('empty', 'No users.'));
				return;
			}
			const me = ctx.me.user.id;
			replace(usersBox, h('table', { id: 'users-table' },
				h('thead', {}, h('tr', {}, ['User', 'Source', 'Groups', 'Permissions', 'State', 'Last sign-in', 'Actions']
					.map((t) => h('th', { scope: 'col' }, t)))),
				h('tbody', {}, users.map((u) => h('tr', { 'data-user': u.username },
					h('td', {}, h('strong', {}, u.username), u.id === me ? h('span', { class: 'tag' }, 'you') : null),
					h('td', {}, u.source || 'local'),
					h('td', {}, u.groups.map((g) => g.name).join(', ') || h('span', { class: 'muted' }, 'none')),
					h('td', { class: 'perms' }, u.permissions.join(', ') || h('span', { class: 'muted' }, 'none')),
					h('td', { 'data-col': 'state' }, u.disabled ? h('span', { class: 'badge st-failed' }, 'disabled') : h('span', { class: 'badge st-done' }, 'enabled')),
					h('td', {}, timeEl(u.last_login_at)),
					h('td', { class: 'row-actions' },
						h('button', { type: 'button', class: 'small', onclick: () => editUser(u) }, 'Edit'),
						u.id !== me ? h('button', { type: 'button', class: 'small', onclick: () => setDisabled(u, !u.disabled) }, u.disabled ? 'Enable' : 'Disable') : null,
						u.id !== me ? h('button', { type: 'button', class: 'small danger', onclick: () => removeUser(u) }, 'Delete') : null))))));
		}

		function drawGroups() {
			const q = hasQuota();
			replace(groupsBox, groups.length ? h('table', { id: 'groups-table' },
				h('thead', {}, h('tr', {}, ['Group', 'Description', 'Permissions', 'Members', q ? 'Disk quota' : null, 'Actions']
					.filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
				h('tbody', {}, groups.map((g) => h('tr', { 'data-group': g.name },
					h('td', {}, h('strong', {}, g.name), g.builtin ? h('span', { class: 'tag' }, 'built-in') : null),
					h('td', {}, g.description || ''),
					h('td', { class: 'perms' }, g.permissions.join(', ') || h('span', { class: 'muted' }, 'none')),
					h('td', { class: 'num' }, g.members ?? '—'),
					q ? h('td', {}, g.quota_bytes ? `${fmtBytes(g.used_bytes ?? 0)} of ${fmtBytes(g.quota_bytes)}` : `${fmtBytes(g.used_bytes ?? 0)} (no quota)`) : null,
					h('td', { class: 'row-actions' }, g.name === 'admins' ? h('span', { class: 'muted' }, 'always every permission') : [
						h('button', { type: 'button', class: 'small', onclick: () => editGroup(g) }, 'Edit'),
						g.builtin ? null : h('button', { type: 'button', class: 'small danger', onclick: () => removeGroup(g) }, 'Delete')]))))) : note('empty', 'No groups.'));
		}

		async function setDisabled(u, disabled) {
			try {
				await api.patch(`/users/${u.id}`, { disabled });
				say('ok', `${u.username} is ${disabled ? 'disabled; their sessions and tokens stop working' : 'enabled'}.`);
			} catch (e) {
				say('error', `Could not ${disabled ? 'disable' : 'enable'} ${u.username}: ${errorText(e)}`);
			}
			await load();
		}

		async function removeUser(u) {
			if (!await confirmBox(`Delete ${u.username}?`, `The account ${u.username} is removed; its sessions and tokens end.`))
				return;
			try {
				await api.del(`/users/${u.id}`);
				say('ok', `${u.username} was deleted.`);
			} catch (e) {
				say('error', `Could not delete ${u.username}: ${errorText(e)}`);
			}
			await load();
		}

		async function editUser(u) {
			const self = u && u.id === ctx.me.user.id;
			const ldap = u && u.source === 'ldap';
			let nameIn, passIn, groupsEl, disabledIn;
			const created = await modal(u ? `Edit ${u.username}` : 'New local user', (f) => {
				nameIn = h('input', { name: 'username', required: true, maxlength: 64, autocomplete: 'off', value: u ? u.username : '', disabled: !!u });
				passIn = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 8, maxlength: 1024 });
				groupsEl = checks('Groups', groups.map((g) => [g.name, g.name, g.permissions.join(', ') || 'no permissions']),
					u ? u.groups.map((g) => g.name) : ['users'],
					(name) => self || !groups.find((g) => g.name === name).permissions.every((p) => myPerms.includes(p)));
				disabledIn = h('input', { type: 'checkbox', name: 'disabled', id: newId('c'), checked: u ? u.disabled : false, disabled: self });
				f.append(field('User name', nameIn, u ? null : '1–64 of A–Z a–z 0–9 . _ @ -'),
					ldap ? note('info', 'A directory (LDAP) account: no local password, and its groups are set from the directory at every sign-in.')
						: field(u ? 'New password (leave empty to keep)' : 'Password', passIn, 'At least 8 characters.'),
					groupsEl, self ? h('p', { class: 'muted' }, 'You cannot change your own groups or disable yourself.') : null,
					h('div', { class: 'check' }, disabledIn, h('label', { for: disabledIn.id }, 'Disabled (cannot sign in; tokens stop working)')));
			}, {
				ok: u ? 'Save' : 'Create user',
				validate: async () => {
					const body = {};
					if (!ldap && passIn.value)
						body.password = passIn.value;
					if (!self)
						body.groups = checked(groupsEl);
					if (!self)
						body.disabled = disabledIn.checked;
					try {
						if (u) {
							if (u.groups.map((g) => g.name).sort().join() === (body.groups || []).sort().join())
								delete body.groups;
							if (body.disabled === u.disabled)
								delete body.disabled;
							if (Object.keys(body).length)
								await api.patch(`/users/${u.id}`, body);
						} else {
							if (!nameIn.value || !passIn.value)
								return 'Enter a user name and a password.';
							await api.post('/users', { username: nameIn.value, ...body });
						}
					} catch (e) {
						return e.code === 'weak_password' ? `${e.message}` : errorText(e);
					}
					return null;
				},
			});
			if (created === 'ok') {
				say('ok', u ? `${u.username} was updated.` : `${nameIn.value} was created.`);
				await load();
			}
		}

		async function editGroup(g) {
			let nameIn, descIn, permsEl, quotaIn;
			const res = await modal(g ? `Edit group ${g.name}` : 'New group', (f) => {
				nameIn = h('input', { name: 'name', required: true, maxlength: 64, value: g ? g.name : '', disabled: g?.builtin });
				descIn = h('input', { name: 'description', maxlength: 1024, value: g ? g.description || '' : '' });
				permsEl = checks('Permissions', perms.map((p) => [p.name, p.name, p.description]), g ? g.permissions : ['jobs.read', 'jobs.write'],
					(p) => !myPerms.includes(p));
				quotaIn = h('input', { type: 'number', name: 'quota', min: 0, step: 'any', value: g && g.quota_bytes ? (g.quota_bytes / 2 ** 30).toString() : '0' });
				f.append(field('Name', nameIn, g?.builtin ? 'Built-in groups keep their name.' : '1–64 of a–z 0–9 . _ -'),
					field('Description', descIn), permsEl,
					g === null ? (hasQuota() ? field('Disk quota (GiB, 0 = none)', quotaIn) : null)
						: ('quota_bytes' in g ? field('Disk quota (GiB, 0 = none)', quotaIn) : null));
			}, {
				ok: g ? 'Save' : 'Create group',
				validate: async () => {
					const body = { description: descIn.value, permissions: checked(permsEl) };
					if (!g || (!g.builtin && nameIn.value !== g.name))
						body.name = nameIn.value;
					const quota = Math.round(Number(quotaIn.value || 0) * 2 ** 30);
					if (!(quota >= 0))
						return 'The quota must be a number of GiB, 0 for none.';
					if (g && 'quota_bytes' in g && quota !== g.quota_bytes)
						body.quota_bytes = quota;
					try {
						if (g) {
							await api.patch(`/groups/${g.id}`, body);
						} else {
							/* a quota is set by PATCH only (POST /groups takes none) */
							const made = await api.post('/groups', body);
							if (hasQuota() && quota > 0)
								await api.patch(`/groups/${made.id}`, { quota_bytes: quota });
						}
					} catch (e) {
						return errorText(e);
					}
					return null;
				},
			});
			if (res === 'ok') {
				say('ok', g ? `Group ${g.name} was updated.` : `Group ${nameIn.value} was created.`);
				await load();
			}
		}

		async function removeGroup(g) {
			if (!await confirmBox(`Delete group ${g.name}?`, `Members lose the permissions that ${g.name} gave them.`))
				return;
			try {
				await api.del(`/groups/${g.id}`);
				say('ok', `Group ${g.name} was deleted.`);
			} catch (e) {
				say('error', `Could not delete ${g.name}: ${errorText(e)}`);
			}
			await load();
		}

		await load();
	},
};
