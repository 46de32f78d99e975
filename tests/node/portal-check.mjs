// tests/node/portal-check.mjs - the analyst's page in a real browser
// (Debian's Chromium driven by playwright-core) with a party's client
// certificate; used by tests/e2e/portal.sh, which checks what it saw.
//
//   node portal-check.mjs BASE CERT KEY OUT [FEEDBACK_ID [FOREIGN_ID]]
//
// Loads BASE/ with CERT and KEY (PEM) as the client certificate for BASE
// (the server's certificate is checked against $NODE_EXTRA_CA_CERTS), and
// writes OUT/result.json: the page's rows in order, the rows per rule
// filter, each signal's detail as text, the console's errors, the page's
// Content-Security-Policy; with FEEDBACK_ID, the feedback given on the
// page for it and its state after a reload, and what a cross-site form
// POST of feedback got; with FOREIGN_ID (a signal of another party), what
// the page and a fetch() from it got for that id.  OUT/portal.png is a
// screenshot with a signal open.
import { mkdirSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, cert, key, out, feedbackId, foreignId] = process.argv.slice(2);
const result = { console: [], rows: [], byRule: {}, byState: {}, details: {} };

const rows = (page) => page.$$eval('#rows tr', (trs) => trs.map((tr) => ({
	id: tr.dataset.id, cursor: Number(tr.dataset.cursor),
	rule: tr.children[1].textContent, state: tr.children[4].textContent,
})));

async function open(page, id) {
	await page.evaluate((h) => { location.hash = h; }, '#signal=' + encodeURIComponent(id));
	await page.waitForFunction((i) => document.getElementById('detail').dataset.id === i, id);
	return page.$eval('#detail', (d) => ({ state: d.dataset.state, text: d.innerText }));
}

async function load(page) {
	const res = await page.goto(base + '/');
	await page.waitForSelector('body[data-ready="1"]');
	return res;
}

async function run(browser) {
	const context = await browser.newContext({
		viewport: { width: 1400, height: 900 },
		clientCertificates: [{ origin: base, certPath: cert, keyPath: key }],
	});
	const page = await context.newPage();
	page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
	page.on('pageerror', (e) => result.console.push(String(e)));
	const res = await load(page);
	result.status = res.status();
	result.csp = res.headers()['content-security-policy'] || null;
	result.title = await page.title();
	result.header = await page.$eval('header', (h) => h.innerText);
	result.rows = await rows(page);
	const rules = await page.$$eval('#rule option', (os) => os.map((o) => o.value).filter(Boolean));
	for (const r of rules) {
		await page.selectOption('#rule', r);
		result.byRule[r] = (await rows(page)).map((x) => x.id);
	}
	await page.selectOption('#rule', '');
	await page.selectOption('#state', 'open');
	result.byState.open = (await rows(page)).map((x) => x.id);
	await page.selectOption('#state', '');
	for (const r of result.rows)
		result.details[r.id] = (await open(page, r.id)).text;
	result.loadConsole = [...result.console];	/* later steps are refused on purpose */
	if (foreignId) {
		result.foreign = await open(page, foreignId);
		result.foreign.fetch = await page.evaluate(async (id) => {
			const res = await fetch('/v1/signals/' + id + '/feedback', { method: 'POST',
				headers: { 'Content-Type': 'application/json' }, body: '{"outcome":"bevestigd"}' });
			return { status: res.status, body: await res.text() };
		}, foreignId);
	}
	if (feedbackId) {
		await open(page, feedbackId);
		await page.selectOption('#feedback select', 'bevestigd');
		await page.fill('#feedback textarea', 'huisbezoek op de pagina — één');
		await page.click('#feedback button');
		await page.waitForFunction(() => /Saved|Not saved/.test(document.querySelector('#feedback .message').textContent));
		result.feedback = {
			message: await page.$eval('#feedback .message', (p) => p.textContent),
			row: (await rows(page)).find((x) => x.id === feedbackId),
		};
		await page.screenshot({ path: out + '/portal.png', fullPage: true });
		await load(page);
		result.feedback.afterReload = (await rows(page)).find((x) => x.id === feedbackId);
		// A cross-site form (here: a page of no origin) posting feedback as
		// text/plain, the browser sending the client certificate with it.
		const evil = await context.newPage();
		await evil.setContent(`<form method="post" enctype="text/plain" action="${base}/v1/signals/${feedbackId}/feedback">` +
			'<input name=\'{"outcome":"onterecht","x":"\' value=\'"}\'></form>');
		const [nav] = await Promise.all([evil.waitForNavigation(), evil.$eval('form', (f) => f.submit())]);
		result.crossSite = { status: nav ? nav.status() : null, body: await evil.innerText('body') };
	} else {
		await open(page, result.rows[0].id);
		await page.screenshot({ path: out + '/portal.png', fullPage: true });
	}
	await context.close();
}

mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
	await run(browser);
} catch (e) {
	result.error = String(e && e.stack || e);
	process.exitCode = 1;
} finally {
	await browser.close();
	writeFileSync(out + '/result.json', JSON.stringify(result, null, 1));
}
