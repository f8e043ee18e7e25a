// Shared by the dashboard checks: Debian's chromium through playwright-core (never a downloaded browser), one
// page signed in with the admin key, page and console errors collected into result.errors, and the result
// printed as one JSON line (exit 1 with the stack on failure).
'use strict';
const { chromium } = require('playwright-core');

function runCheck(url, key, viewport, check) {
  (async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const result = { errors: [] };
    try {
      const page = await browser.newPage({ viewport });
      page.on('pageerror', (e) => result.errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') result.errors.push(m.text()); });
      await page.goto(url);
      await page.fill('#key', key);
      await page.click('#signin');
      await check(page, result);
    } finally {
      await browser.close();
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  })().catch((e) => {
    process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
  });
}

module.exports = { runCheck };
