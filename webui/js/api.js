/* api.js — the console's only door to tide-control: fetch() against /api/v1 on the same origin.
 *
 * Cookie session (HttpOnly, SameSite=Strict) plus the session's CSRF token, which the server
 * demands on every POST/PUT/PATCH/DELETE; the token comes from the login answer or, after a
 * reload, from GET /auth/me. Errors become ApiError with the server's stable code, so pages
 * branch on codes, never on messages. A 401 outside the login call means the session ended:
 * the registered handler sends the user back to the login page. */

const BASE = '/api/v1';
let csrf = '';
let onUnauthenticated = null;
let clockOffset = 0; /* server clock minus browser clock, ms, from the Date header */

export class ApiError extends Error {
	constructor(status, code, message, retryAfter) {
		super(message || code || `HTTP ${status}`);
		this.status = status;
		this.code = code || '';
		this.retryAfter = retryAfter; /* seconds, or null */
	}
}

export function setCsrf(token) { csrf = token || ''; }
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }
/* The server's current time in ms; job ages are computed against it, not the browser's clock. */
export function serverNow() { return Date.now() + clockOffset; }

function noteDate(res) {
	const d = res.headers.get('Date');
	if (!d)
		return;
	const t = Date.parse(d);
	if (!Number.isNaN(t))
		clockOffset = t + 500 - Date.now(); /* Date has whole seconds: take the middle */
}

async function errorFrom(res) {
	let code = '', message = '';
	try {
		const j = await res.json();
		code = j?.error?.code || '';
		message = j?.error?.message || '';
	} catch { /* not JSON: keep the status */ }
	const ra = res.headers.get('Retry-After');
	return new ApiError(res.status, code, message || res.statusText,
		ra && /^\d+$/.test(ra) ? Number(ra) : null);
}

/* request('GET', '/jobs') → parsed JSON (or text with {text:true}, or null for 204). */
export async function request(method, path, body, opts = {}) {
	const headers = { Accept: opts.text ? 'text/plain, */*' : 'application/json' };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
	if (method !== 'GET' && method !== 'HEAD') {
		if (csrf)
			headers['X-CSRF-Token'] = csrf;
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
	}
	let res;
	try {
		res = await fetch(BASE + path, init);
	} catch (e) {
		throw new ApiError(0, 'network', 'The appliance did not answer (network error).', null);
	}
	noteDate(res);
	if (!res.ok) {
		const err = await errorFrom(res);
		if (res.status === 401 && !opts.noAuthRedirect && onUnauthenticated)
			onUnauthenticated(err);
		throw err;
	}
	if (res.status === 204)
		return null;
	if (opts.text)
		return res.text();
	const type = res.headers.get('Content-Type') || '';
	return type.includes('json') ? res.json() : res.text();
}

export const get = (p, o) => request('GET', p, undefined, o);
export const post = (p, b, o) => request('POST', p, b === undefined ? {} : b, o);
export const put = (p, b, o) => request('PUT', p, b, o);
export const patch = (p, b, o) => request('PATCH', p, b, o);
export const del = (p, o) => request('DELETE', p, undefined, o);

/* URLs the browser fetches itself (downloads): GET, cookie only, no CSRF needed. */
export const url = (p) => BASE + p;
