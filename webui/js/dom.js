/* dom.js — building elements and formatting numbers, without innerHTML.
 *
 * Every string from the server (job names, filters, user names, log lines) is put into the page
 * as text, never parsed as HTML, so nothing a user types can become markup. The page's CSP
 * (default-src 'self') forbids inline scripts and style attributes; widths are set through the
 * CSSOM (element.style), which CSP allows. */

/* h('a', {href: '#/jobs', class: 'x', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
	const el = tag.startsWith('svg:')
		? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
		: document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			el.addEventListener(k.slice(2), v);
		else if (k === 'class')
			el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
		else if (k === 'dataset')
			Object.assign(el.dataset, v);
		else if (k === 'value' && 'value' in el && !tag.startsWith('svg:'))
			el.value = v;
		else if (k === 'checked' || k === 'selected' || k === 'disabled')
			el[k] = !!v;
		else
			el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false)
			continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.firstChild.remove();
	return el;
}

export function replace(el, ...children) {
	clear(el);
	return append(el, children);
}

let uid = 0;
export const newId = (p) => `${p}-${++uid}`;

/* A labelled form field: label, control, optional hint; returns {row, input}. */
export function field(label, input, hint) {
	if (!input.id)
		input.id = newId('f');
	const hintEl = hint ? h('div', { class: 'hint', id: newId('h') }, hint) : null;
	if (hintEl)
		input.setAttribute('aria-describedby', hintEl.id);
	return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function fmtBytes(n) {
	if (n === undefined || n === null || Number.isNaN(n))
		return '—';
	let i = 0, v = Number(n);
	while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
		v /= 1024;
		i++;
	}
	return `${i ? v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) : v} ${UNITS[i]}`;
}

export function fmtCount(n) {
	if (n === undefined || n === null || Number.isNaN(n))
		return '—';
	return Number(n).toLocaleString('en-US');
}

/* 1234.5 → "1.2 k" for chart axes and rates */
export function fmtSI(n, unit = '') {
	if (n === undefined || n === null || Number.isNaN(n))
		return '—';
	const a = Math.abs(n);
	const [d, s] = a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
	const v = n / d;
	return `${v.toFixed(s && Math.abs(v) < 10 ? 1 : 0)} ${s}${unit}`.trim();
}

export function fmtDuration(sec) {
	if (sec === undefined || sec === null || Number.isNaN(sec))
		return '—';
	sec = Math.max(0, Math.round(sec));
	const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600);
	const m = Math.floor(sec % 3600 / 60), s = sec % 60;
	if (d)
		return `${d} d ${hh} h`;
	if (hh)
		return `${hh} h ${m} min`;
	if (m)
		return `${m} min ${s} s`;
	return `${s} s`;
}

/* ISO time → local "2026-11-22 10:45:42"; full ISO in the title. */
export function fmtTime(iso) {
	if (!iso)
		return '—';
	const t = new Date(iso);
	if (Number.isNaN(t.getTime()))
		return iso;
	const p = (x) => String(x).padStart(2, '0');
	return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ` +
		`${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

export const timeEl = (iso) => h('time', { datetime: iso || '', title: iso || '' }, fmtTime(iso));

export function badge(state) {
	return h('span', { class: ['badge', `st-${state}`], 'data-state': state }, state);
}

/* A bar with its text, for limits: role=progressbar so screen readers read it. */
export function progress(value, max, label, text) {
	const pct = max > 0 && value !== null && value !== undefined
		? Math.max(0, Math.min(100, value / max * 100)) : null;
	const fill = h('div', { class: 'bar-fill' });
	fill.style.width = `${pct ?? 0}%`;
	const bar = h('div', {
		class: ['bar', pct === null && 'bar-unknown'], role: 'progressbar', 'aria-label': label,
		'aria-valuemin': 0, 'aria-valuemax': 100,
		'aria-valuenow': pct === null ? undefined : pct.toFixed(1),
		'aria-valuetext': text,
	}, fill);
	return h('div', { class: 'limit' }, bar, h('span', { class: 'limit-text' }, text));
}

/* Message blocks: kind is 'error', 'info', 'ok' or 'empty'. */
export function note(kind, ...content) {
	return h('div', { class: ['note', `note-${kind}`], role: kind === 'error' ? 'alert' : null },
		...content);
}

export function errorText(e) {
	if (!e)
		return '';
	if (e.code === 'network')
		return e.message;
	return e.code ? `${e.message} (${e.code})` : e.message;
}

/* A modal <dialog> (focus is trapped and Escape closes it, natively). Resolves with the
 * button's value or '' when dismissed. build(form) fills the form; validate(form) may
 * return an error text to keep it open. */
export function modal(title, build, { ok = 'Save', danger = false, validate } = {}) {
	return new Promise((resolve) => {
		const err = h('div', { class: 'dlg-error', role: 'alert' });
		const form = h('form', { method: 'dialog', class: 'dlg-form', novalidate: true });
		const okBtn = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, ok);
		const titleId = newId('dlgt');
		const dlg = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), form);
		build(form);
		append(form, [err, h('div', { class: 'dlg-buttons' },
			h('button', { type: 'button', value: '', onclick: () => dlg.close('') }, 'Cancel'), okBtn)]);
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			if (validate) {
				okBtn.disabled = true;
				const problem = await validate(form);
				okBtn.disabled = false;
				if (problem) {
					replace(err, problem);
					return;
				}
			}
			dlg.close('ok');
		});
		dlg.addEventListener('close', () => {
			const v = dlg.returnValue;
			dlg.remove();
			resolve(v);
		});
		document.body.append(dlg);
		dlg.showModal();
	});
}

export async function confirmBox(title, text, ok = 'Delete') {
	return (await modal(title, (f) => f.append(h('p', {}, text)), { ok, danger: true })) === 'ok';
}

/* Copies text; falls back to selecting it (clipboard needs a secure context). */
export async function copyText(text, selectEl) {
	try {
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		if (selectEl) {
			selectEl.focus();
			selectEl.select?.();
		}
		return false;
	}
}

/* Sortable table header cell: a button inside th, aria-sort on the th. */
export function sortHeader(label, key, state, onSort) {
	const active = state.key === key;
	const th = h('th', { scope: 'col', 'aria-sort': active ? (state.dir > 0 ? 'ascending' : 'descending') : 'none' },
		h('button', { type: 'button', class: 'sort', 'data-sort': key,
			onclick: () => onSort(key) }, label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' },
			active ? (state.dir > 0 ? ' ▲' : ' ▼') : '')));
	return th;
}

/* A page's heading row: h1 (focused after navigation) and its actions. */
export function pageHead(title, ...actions) {
	return h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, title),
		h('div', { class: 'actions' }, ...actions));
}

/* A section with a heading and a body element to fill. */
export function section(title, ...content) {
	const id = newId('sec');
	return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}
