/* app.js — the console's shell: session, role-aware navigation and the hash router.
 *
 * A page module exports {title, perm, render(ctx)}; perm is a permission name, a list of which
 * any one suffices, or null (any signed-in user). The shell hides navigation for what the
 * user's permissions (GET /auth/me) do not allow and refuses those routes too — the server
 * checks again on every request; this only keeps the console from offering what would fail.
 * ctx.every() polls with a timer chain that stops when the user leaves the page, so a slow
 * answer never piles requests up. */
import * as api from './api.js';
import { h, replace, note, errorText } from './dom.js';
import login from './pages/login.js';
import dashboard from './pages/dashboard.js';
import job from './pages/job.js';
import newjob from './pages/newjob.js';
import users from './pages/users.js';
import drones from './pages/drones.js';
import tokens from './pages/tokens.js';
import logs from './pages/logs.js';

const routes = [
	[/^\/jobs\/new$/, newjob, 'new'],
	[/^\/jobs\/(\d+)$/, job, 'jobs'],
	[/^\/jobs$/, dashboard, 'jobs'],
	[/^\/drones$/, drones, 'drones'],
	[/^\/users$/, users, 'users'],
	[/^\/tokens$/, tokens, 'tokens'],
	[/^\/logs$/, logs, 'logs'],
];

const main = document.getElementById('main');
const state = { me: null, page: null, loginNotice: null };

export const can = (perm) => {
	if (!perm)
		return true;
	const have = state.me?.user?.permissions || [];
	return (Array.isArray(perm) ? perm : perm.split(' ')).some((p) => have.includes(p));
};

function landing() {
	return can('jobs.read') ? '#/jobs' : '#/tokens';
}

function renderNav() {
	const top = document.getElementById('top');
	top.hidden = !state.me;
	if (!state.me)
		return;
	for (const li of document.querySelectorAll('#nav li'))
		li.hidden = !can(li.dataset.perm || null);
	const u = state.me.user;
	replace(document.getElementById('whoami'), h('span', { class: 'user' }, u.username),
		u.source === 'ldap' ? h('span', { class: 'tag' }, 'LDAP') : null);
}

function markNav(key) {
	for (const a of document.querySelectorAll('#nav a')) {
		if (a.dataset.route === key)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
}

export async function signedIn(me) {
	state.me = me;
	api.setCsrf(me.csrf_token);
	renderNav();
}

export async function refreshMe() {
	const me = await api.get('/auth/me');
	state.me = me;
	if (me.csrf_token)
		api.setCsrf(me.csrf_token);
	renderNav();
	return me;
}

function signedOut(notice, remember = false) {
	state.me = null;
	api.setCsrf('');
	state.loginNotice = notice || null;
	state.afterLogin = null;
	if (remember && location.hash && location.hash !== '#/login' && !/^#\/?$/.test(location.hash))
		state.afterLogin = location.hash;
	renderNav();
	if (location.hash !== '#/login')
		location.hash = '#/login';
	else
		route();
}

api.setUnauthenticatedHandler((e) => {
	if (state.me)
		signedOut(e.code === 'unauthenticated' ? 'Your session has ended; please sign in again.' : errorText(e), true);
});

document.getElementById('logout').addEventListener('click', async () => {
	try {
		await api.post('/auth/logout', {}, { noAuthRedirect: true });
	} catch { /* gone already: the result is the same */ }
	signedOut('You have signed out.');
});

function leave() {
	const p = state.page;
	state.page = null;
	if (p) {
		p.alive = false;
		for (const t of p.timers)
			clearTimeout(t);
		for (const fn of p.cleanups)
			try { fn(); } catch { /* page is gone */ }
	}
}

function makeCtx(params) {
	const ctx = {
		alive: true, timers: new Set(), cleanups: [], params, root: main,
		me: state.me, can,
		navigate: (hash) => { location.hash = hash; },
		onLeave: (fn) => ctx.cleanups.push(fn),
		/* run fn now and every ms after it finishes; hidden tabs wait */
		every(ms, fn) {
			const tick = async () => {
				if (!ctx.alive)
					return;
				if (!document.hidden) {
					try { await fn(); } catch (e) { console.debug('poll', e); }
				}
				if (ctx.alive) {
					const t = setTimeout(() => { ctx.timers.delete(t); tick(); }, ms);
					ctx.timers.add(t);
				}
			};
			return tick();
		},
		refreshMe,
	};
	return ctx;
}

async function route() {
	leave();
	const path = location.hash.replace(/^#/, '') || '/';
	if (!state.me) {
		if (path !== '/login')
			state.afterLogin = path === '/' ? null : `#${path}`;
		const ctx = makeCtx({ notice: state.loginNotice });
		state.loginNotice = null;
		state.page = ctx;
		document.title = 'Sign in — tide';
		replace(main);
		await login.render(ctx, async (me) => {
			await signedIn(me);
			const to = state.afterLogin || landing();
			state.afterLogin = null;
			if (location.hash === to)
				route();
			else
				location.hash = to;
		});
		return;
	}
	if (path === '/login' || path === '/') {
		location.hash = landing();
		return;
	}
	const hit = routes.find(([re]) => re.test(path));
	const ctx = makeCtx(hit ? path.match(hit[0]).slice(1) : []);
	state.page = ctx;
	replace(main);
	if (!hit) {
		markNav('');
		document.title = 'Not found — tide';
		main.append(h('h1', { tabindex: -1 }, 'Not found'), note('error', 'There is no page ', h('code', {}, path), '. ',
			h('a', { href: landing() }, 'Go to the start page')));
		return;
	}
	const [, page, key] = hit;
	markNav(key);
	document.title = `${page.title} — tide`;
	if (!can(page.perm)) {
		main.append(h('h1', { tabindex: -1 }, page.title),
			note('error', 'Your account does not have the permission for this page.'));
		return;
	}
	try {
		await page.render(ctx);
	} catch (e) {
		if (ctx.alive)
			main.append(note('error', `This page could not be shown: ${errorText(e)}`));
	}
	if (ctx.alive && !main.contains(document.activeElement))
		(main.querySelector('h1') || main).focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);

(async function start() {
	try {
		const me = await api.get('/auth/me', { noAuthRedirect: true });
		await signedIn(me);
	} catch (e) {
		if (e.status !== 401)
			state.loginNotice = `The appliance answered: ${errorText(e)}`;
	}
	route();
})();
