// Drives the dashboard's prompts page in Debian's chromium (playwright-core):
//   node prompts-check.js BASE_URL ADMIN_KEY PROMPT_NAME
// Signs in on /ui#prompts, opens PROMPT_NAME, and prints one JSON line describing what it saw.
'use strict';
const { runCheck } = require('./ui-check');

const [base, key, name] = process.argv.slice(2);
runCheck(base + '/ui#prompts', key, { width: 1400, height: 1000 }, async (page, result) => {
  await page.waitForSelector('#prompts tbody tr');
  result.prompts = await page.$$eval('#prompts tbody tr', (rows) => rows.map((r) => [...r.children].slice(0, 3).map((c) => c.textContent)));
  await page.locator('#prompts tbody tr', { hasText: name }).first().click();
  await page.waitForSelector('#prompt-detail h3');
  result.sections = await page.$$eval('#prompt-detail h3', (hs) => hs.map((h) => h.textContent));
  const tables = await page.$$eval('#prompt-detail table', (ts) => ts.map((t) => [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent))));
  result.versions = tables[0] || [];
  result.history = tables[1] || [];
  result.experiments = await page.$$eval('#prompt-detail h4', (hs) => hs.map((h) => h.textContent));
});
