/* logs.js — the control plane's log (logs.read: view the newest lines, filter, download the
 * whole file) and the audit log (audit.read: who did what, newest first, paged by id).
 * Each part is shown only to a user holding its permission. */
import * as api from '../api.js';
import { h, replace, field, note, errorText, pageHead, section, timeEl } from '../dom.js';

const SHOW_LINES = 500;
const LEVELS = ['debug', 'info', 'warn', 'error'];

export default {
	title: 'Logs',
	perm: ['logs.read', 'audit.read'],
	async render(ctx) {
		const parts = [pageHead('Logs')];
		let logText = null;

		/* -- control plane log -- */
		const logBox = h('div');
		const q = h('input', { type: 'search', name: 'log_filter', placeholder: 'text in the line' });
		const level = h('select', { name: 'log_level' }, h('option', { value: '' }, 'every level'),
			LEVELS.map((l) => h('option', { value: l }, `${l} and worse`)));
		function drawLog() {
			if (logText === null)
				return;
			const min = level.value ? LEVELS.indexOf(level.value) : 0;
			const needle = q.value.toLowerCase();
			const lines = logText.split('\n').filter((l) => {
				if (!l) return false;
				const lv = LEVELS.indexOf(l.split(' ')[1]);
				return (lv < 0 || lv >= min) && (!needle || l.toLowerCase().includes(needle));
			});
			const shown = lines.slice(-SHOW_LINES);
			replace(logBox, lines.length ? [
				h('p', { class: 'muted' }, `${shown.length} of ${lines.length} matching lines (newest last).`),
				h('pre', { class: 'log', id: 'log-view', tabindex: 0 }, shown.join('\n'))]
				: note('empty', 'No line matches.'));
		}
		async function loadLog() {
			replace(logBox, h('p', { class: 'muted' }, 'Loading…'));
			try {
				logText = await api.get('/logs', { text: true });
				drawLog();
				const pre = logBox.querySelector('pre');
				if (pre) pre.scrollTop = pre.scrollHeight;
			} catch (e) {
				replace(logBox, e.code === 'no_log_file' ? note('empty', 'This control plane logs to stderr only (log_file = -): there is no file to show.')
					: note('error', `Could not load the log: ${errorText(e)}`));
			}
		}
		q.addEventListener('input', drawLog);
		level.addEventListener('change', drawLog);
		if (ctx.can('logs.read'))
			parts.push(section('Control plane log',
				h('div', { class: 'toolbar' }, field('Filter', q), field('Level', level),
					h('button', { type: 'button', onclick: loadLog }, 'Refresh'),
					h('a', { class: 'button', href: api.url('/logs'), download: 'tide-control.log', id: 'download-log' }, 'Download the log')),
				logBox));

		/* -- audit log -- */
		const auditBox = h('div');
		const action = h('input', { name: 'audit_action', placeholder: 'e.g. user.create' });
		const actor = h('input', { name: 'audit_actor', placeholder: 'user name' });
		const pages = [null]; /* before= of each page shown so far */
		async function loadAudit() {
			const before = pages[pages.length - 1];
			const p = new URLSearchParams({ limit: '50' });
			if (before) p.set('before', before);
			if (action.value.trim()) p.set('action', action.value.trim());
			if (actor.value.trim()) p.set('actor', actor.value.trim());
			let r;
			try {
				r = await api.get(`/audit?${p}`);
			} catch (e) {
				replace(auditBox, note('error', `Could not load the audit log: ${errorText(e)}`));
				return;
			}
			replace(auditBox, r.items.length ? h('table', { id: 'audit-table' },
				h('thead', {}, h('tr', {}, ['Time', 'Actor', 'Address', 'Action', 'Target', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
				h('tbody', {}, r.items.map((a) => h('tr', { 'data-action': a.action },
					h('td', {}, timeEl(a.time)), h('td', {}, a.actor), h('td', {}, a.address),
					h('td', {}, h('code', {}, a.action)), h('td', {}, a.target),
					h('td', {}, h('code', { class: 'detail' }, JSON.stringify(a.detail))))))) : note('empty', 'No audit entry matches.'),
			h('div', { class: 'pager' },
				h('button', { type: 'button', disabled: pages.length < 2, onclick: () => { pages.pop(); loadAudit(); } }, 'Newer'),
				h('button', { type: 'button', disabled: !r.next_before, onclick: () => { pages.push(r.next_before); loadAudit(); } }, 'Older')));
		}
		const auditForm = h('form', { class: 'toolbar' }, field('Action', action), field('Actor', actor),
			h('button', { type: 'submit' }, 'Search'));
		auditForm.addEventListener('submit', (ev) => {
			ev.preventDefault();
			pages.length = 1;
			loadAudit();
		});
		if (ctx.can('audit.read'))
			parts.push(section('Audit log', auditForm, auditBox));

		replace(ctx.root, ...parts);
		await Promise.all([ctx.can('logs.read') ? loadLog() : null, ctx.can('audit.read') ? loadAudit() : null]);
	},
};
