// tests/node/page-shot.mjs - a page as a 1400-pixel-wide browser shows it
// (Debian's Chromium driven by playwright-core); used by
// tests/e2e/dashboard.sh.
//
//   node page-shot.mjs URL OUT.png [WIDTH [HEIGHT]]
//
// Loads URL at WIDTH (default 1400) pixels, waits for its scripts (the
// network idle), takes a screenshot of the page (of its top HEIGHT pixels
// when given), and prints a JSON object:
// the document's scrollWidth, the viewport's width, the elements whose
// right edge is beyond it (tag#id.class, at most 10), the console errors.
import { chromium } from 'playwright-core';

const [url, png, w, h] = process.argv.slice(2);
const width = Number(w || 1400);
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
	const page = await browser.newPage({ viewport: { width, height: 900 } });
	const errors = [];
	// The browser's own request for /favicon.ico (the page links none) is no error of the page.
	page.on('console', (m) => {
		if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url || '')) errors.push(m.text());
	});
	page.on('pageerror', (e) => errors.push(String(e)));
	await page.goto(url, { waitUntil: 'networkidle' });
	const fit = await page.evaluate((vw) => ({
		scrollWidth: document.documentElement.scrollWidth,
		viewport: vw,
		beyond: [...document.querySelectorAll('body *')]
			.filter((e) => e.getBoundingClientRect().right > vw + 0.5)
			.slice(0, 10)
			.map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
				(e.className ? '.' + String(e.className).replace(/ /g, '.') : '')),
	}), width);
	const height = Math.min(Number(h || Infinity),
		await page.evaluate(() => document.documentElement.scrollHeight));
	await page.screenshot({ path: png, fullPage: true, clip: { x: 0, y: 0, width, height } });
	console.log(JSON.stringify({ ...fit, console: errors }));
} finally {
	await browser.close();
}
