// Drives the dashboard in Debian's chromium (playwright-core, never a downloaded browser):
//   node dashboard-check.js BASE_URL ADMIN_KEY SCREENSHOT_DIR TEAM
// Signs in, filters by TEAM, opens the first trace, and prints one JSON line describing what it saw.
'use strict';
const path = require('path');
const { runCheck } = require('./ui-check');

const [base, key, out, team] = process.argv.slice(2);
runCheck(base + '/ui', key, { width: 1400, height: 1000 }, async (page, result) => {
  await page.waitForSelector('#traces tbody tr');
  await page.waitForSelector('#chart-spend svg rect');
  result.initialRows = await page.locator('#traces tbody tr').count();
  result.charts = {
    spendBars: await page.locator('#chart-spend svg rect').count(),
    requestBars: await page.locator('#chart-requests svg rect').count(),
    latencyBars: await page.locator('#chart-latency svg rect').count(),
  };
  await page.screenshot({ path: path.join(out, '1-list.png'), fullPage: true });

  await page.fill('#f-team', team);
  await page.click('#apply');
  await page.waitForFunction((t) => {
    const rows = [...document.querySelectorAll('#traces tbody tr')];
    return rows.length > 0 && rows.every((r) => r.children[2].textContent === t);
  }, team);
  result.filteredTeams = await page.$$eval('#traces tbody tr', (rows) => [...new Set(rows.map((r) => r.children[2].textContent))]);
  result.filteredRows = await page.locator('#traces tbody tr').count();
  await page.screenshot({ path: path.join(out, '2-filtered.png'), fullPage: true });

  const target = process.env.OPEN_REQUEST_ID;
  const row = target ? page.locator(`#traces tbody tr[data-request-id="${target}"]`) : page.locator('#traces tbody tr').first();
  result.opened = await row.getAttribute('data-request-id');
  await row.click();
  await page.waitForSelector('#waterfall .bar');
  result.waterfall = await page.$$eval('#waterfall .bar', (bars) => bars.map((b) => b.getAttribute('data-layer')));
  result.attempts = await page.locator('#attempts tbody tr').count();
  result.detailTitle = await page.textContent('#detail h2');
  await page.screenshot({ path: path.join(out, '3-trace.png'), fullPage: true });
});
