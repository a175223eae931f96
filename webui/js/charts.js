/* charts.js — the console's three small charts, hand-written (no library to vendor or update).
 *
 *   rateChart(samples, key, opts)  an SVG line of one rate (packets/s, bytes/s or drops/s) over
 *                                  the last minutes, with its own y scale: the three differ by
 *                                  orders of magnitude, so they are drawn one above the other.
 *   barList(items, opts)           horizontal bars with their numbers as text (application mix).
 *   stackBar(parts, opts)          one bar split into parts (a drone's links, or the drones).
 * Each chart carries its numbers as text too, so it reads without the picture. */
import { h, fmtSI } from './dom.js';

const W = 600, H = 120, PAD_L = 50, PAD_R = 8, PAD_T = 8, PAD_B = 20;

/* samples: [{t: ms, packets_s, bytes_s, drops_s}], newest last. */
export function rateChart(samples, key, { label, unit, maxWindowSec = 120, cls = '' } = {}) {
	const now = samples.length ? samples[samples.length - 1].t : Date.now();
	/* the window grows with the watch, 10 s to maxWindowSec, so a young capture fills the width */
	const span = samples.length ? (now - samples[0].t) / 1000 : 0;
	const windowSec = Math.round(Math.min(maxWindowSec, Math.max(10, span)));
	const pts = samples.filter((s) => now - s.t <= windowSec * 1000 && Number.isFinite(s[key]));
	const max = Math.max(1, ...pts.map((s) => s[key]));
	const x = (t) => PAD_L + (W - PAD_L - PAD_R) * (1 - (now - t) / (windowSec * 1000));
	const y = (v) => PAD_T + (H - PAD_T - PAD_B) * (1 - v / max);
	const last = pts.length ? pts[pts.length - 1][key] : null;
	const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, class: ['rate-chart', cls], role: 'img',
		'aria-label': `${label}: ${last === null ? 'no data' : fmtSI(last, unit)} now, peak ${fmtSI(max, unit)}` },
	h('svg:line', { x1: PAD_L, y1: y(0), x2: W - PAD_R, y2: y(0), class: 'axis' }),
	h('svg:line', { x1: PAD_L, y1: PAD_T, x2: PAD_L, y2: y(0), class: 'axis' }),
	h('svg:line', { x1: PAD_L, y1: y(max), x2: W - PAD_R, y2: y(max), class: 'grid' }),
	h('svg:text', { x: PAD_L - 4, y: y(max) + 4, class: 'tick', 'text-anchor': 'end' }, fmtSI(max)),
	h('svg:text', { x: PAD_L - 4, y: y(0), class: 'tick', 'text-anchor': 'end' }, '0'),
	h('svg:text', { x: PAD_L, y: H - 4, class: 'tick' }, `−${windowSec} s`),
	h('svg:text', { x: W - PAD_R, y: H - 4, class: 'tick', 'text-anchor': 'end' }, 'now'));
	if (pts.length >= 2) {
		const d = pts.map((s, i) => `${i ? 'L' : 'M'}${x(s.t).toFixed(1)},${y(s[key]).toFixed(1)}`).join('');
		svg.append(h('svg:path', { d, class: 'line' }));
	} else if (pts.length === 1) {
		svg.append(h('svg:circle', { cx: x(pts[0].t), cy: y(pts[0][key]), r: 3, class: 'dot' }));
	}
	return h('figure', { class: 'rate' },
		h('figcaption', {}, label, ': ', h('strong', { 'data-rate': key }, last === null ? '—' : fmtSI(last, unit))),
		svg);
}

/* items: [{label, value, text}] → bars scaled to the largest. */
export function barList(items, { label = '', fmt = (v) => fmtSI(v) } = {}) {
	const max = Math.max(1, ...items.map((i) => i.value));
	const total = items.reduce((a, i) => a + i.value, 0) || 1;
	return h('ul', { class: 'bar-list', 'aria-label': label },
		items.map((i) => {
			const fill = h('span', { class: 'bl-fill' });
			fill.style.width = `${(i.value / max * 100).toFixed(1)}%`;
			return h('li', { 'data-label': i.label },
				h('span', { class: 'bl-label' }, i.label),
				h('span', { class: 'bl-bar', 'aria-hidden': 'true' }, fill),
				h('span', { class: 'bl-value' }, i.text ?? fmt(i.value),
					` (${(i.value / total * 100).toFixed(1)} %)`));
		}));
}

/* parts: [{label, value}] → one bar split in proportion, with a legend. */
export function stackBar(parts, { label = '', fmt = (v) => fmtSI(v) } = {}) {
	const total = parts.reduce((a, p) => a + p.value, 0);
	const bar = h('div', { class: 'stack', role: 'img',
		'aria-label': `${label}: ` + parts.map((p) => `${p.label} ${fmt(p.value)}`).join(', ') });
	parts.forEach((p, i) => {
		const seg = h('span', { class: `seg c${i % 8}`, title: `${p.label}: ${fmt(p.value)}` });
		seg.style.width = total ? `${(p.value / total * 100).toFixed(2)}%` : '0';
		bar.append(seg);
	});
	const legend = h('ul', { class: 'legend' }, parts.map((p, i) =>
		h('li', {}, h('span', { class: `swatch c${i % 8}`, 'aria-hidden': 'true' }), p.label, ': ',
			fmt(p.value), total ? ` (${(p.value / total * 100).toFixed(1)} %)` : '')));
	return h('div', { class: 'stack-wrap' }, bar, legend);
}
