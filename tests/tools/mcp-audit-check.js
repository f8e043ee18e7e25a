// Drives the MCP audit page in Debian's chromium (playwright-core, never a downloaded browser):
//   node mcp-audit-check.js BASE_URL ADMIN_KEY SCREENSHOT_DIR IDENTITY TOOL
// Signs in, filters by IDENTITY, then by TOOL and outcome `denied`, opens the first row, and prints one JSON
// line describing what it saw.
'use strict';
const path = require('path');
const { runCheck } = require('./ui-check');

const cells = (page, column) => page.$$eval('#calls tbody tr', (rows, c) => rows.map((r) => r.children[c].textContent), column);

const [base, key, out, identity, tool] = process.argv.slice(2);
runCheck(base + '/ui/mcp-audit', key, { width: 1400, height: 900 }, async (page, result) => {
  await page.waitForSelector('#calls tbody tr');
  result.initialRows = await page.locator('#calls tbody tr').count();
  result.initialIdentities = [...new Set(await cells(page, 1))].sort();
  await page.screenshot({ path: path.join(out, 'audit-1-list.png'), fullPage: true });

  await page.fill('#f-principal', identity);
  await page.click('#apply');
  await page.waitForFunction((who) => {
    const rows = [...document.querySelectorAll('#calls tbody tr')];
    return rows.length > 0 && rows.every((r) => r.children[1].textContent === who);
  }, identity);
  result.identityRows = await page.locator('#calls tbody tr').count();

  await page.fill('#f-tool', tool);
  await page.selectOption('#f-outcome', 'denied');
  await page.click('#apply');
  await page.waitForFunction((t) => {
    const rows = [...document.querySelectorAll('#calls tbody tr')];
    return rows.length > 0 && rows.every((r) => r.children[4].textContent === t && r.children[5].textContent === 'denied');
  }, tool);
  result.deniedRows = await page.locator('#calls tbody tr').count();
  await page.screenshot({ path: path.join(out, 'audit-2-filtered.png'), fullPage: true });

  await page.locator('#calls tbody tr').first().click();
  await page.waitForSelector('#detail dl');
  result.detail = Object.fromEntries(await page.$$eval('#detail dd', (dds) => dds.map((d) => [d.dataset.field, d.textContent])));
  result.arguments = await page.textContent('#arguments');
  await page.screenshot({ path: path.join(out, 'audit-3-call.png'), fullPage: true });
});
