// The console's failover walk in a real browser, driven by
// e2e/console_failover_test.go: an administrator opens a database with a
// replica, sees each copy and its lag, fails the database over with the
// button (after confirming) and sees the failover listed with its
// timings. Protocol as console.mjs: "STEP <name> [arg]" lines out, one
// answer line in.
//
// Environment: CONSOLE_URL, ARTIFACTS, CHROMIUM, EMAIL, PASSWORD, DB_ID.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const { CONSOLE_URL: base, ARTIFACTS: artifacts, EMAIL: email, PASSWORD: password, DB_ID: dbID } = process.env;
if (!base || !artifacts || !email || !password || !dbID) {
  console.error('CONSOLE_URL, ARTIFACTS, EMAIL, PASSWORD and DB_ID are required');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function tell(step, arg = '') {
  process.stdout.write(`STEP ${step}${arg ? ' ' + arg : ''}\n`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`stdin closed waiting for the answer to ${step}`);
  if (value.trim() !== 'OK') throw new Error(`the test refused ${step}: ${value}`);
}
const log = (...a) => console.error('[failover.mjs]', ...a);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => m.type() === 'error' && log('browser console:', m.text()));
  page.on('pageerror', (e) => log('page error:', e.message));
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  await page.goto(`${base}/#/login`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Databases' }).waitFor();
  await page.goto(`${base}/#/databases/${dbID}`);

  // The administrator's view: one primary and one replica, running, with
  // the replica's lag.
  const panel = page.getByTestId('replication');
  await panel.getByRole('heading', { name: 'Replication' }).waitFor();
  const topo = panel.getByTestId('topology');
  await topo.locator('tr[data-role="primary"]', { hasText: 'running' }).waitFor();
  await topo.locator('tr[data-role="replica"]', { hasText: 'running' }).waitFor();
  const primaryBefore = (await topo.locator('tr[data-role="primary"] code').first().textContent()).trim();
  const replicaBefore = (await topo.locator('tr[data-role="replica"] code').first().textContent()).trim();
  await panel.getByText('No failover yet.').waitFor();
  await shot('failover-01-replicas');

  // The button asks first; cancelling does nothing.
  await panel.getByRole('button', { name: 'Fail over' }).click();
  await panel.getByRole('group', { name: 'Confirm failover' }).waitFor();
  await panel.getByRole('button', { name: 'Cancel' }).click();
  await panel.getByRole('button', { name: 'Fail over' }).waitFor();
  await panel.getByRole('button', { name: 'Fail over' }).click();
  await shot('failover-02-confirm');
  await panel.getByRole('button', { name: 'Yes, fail over' }).click();
  await panel.getByRole('status').filter({ hasText: `${primaryBefore} → ${replicaBefore}` }).waitFor();

  // The event is listed, and the copies swap roles once the node hosts
  // have applied them.
  const list = panel.getByTestId('failovers');
  await list.locator('tr', { hasText: 'manual' }).waitFor();
  await topo.locator('tr[data-role="primary"]', { hasText: replicaBefore }).waitFor();
  await list.locator('tr', { hasText: 'manual' }).filter({ hasNotText: 'pending' }).waitFor({ timeout: 30_000 });
  await shot('failover-03-done');
  await tell('FAILOVER', `${primaryBefore} ${replicaBefore}`);
  await tell('DONE');
} catch (e) {
  failed = true;
  log('FAILED:', e?.stack || e);
  await page?.screenshot({ path: join(artifacts, 'failover-failure.png'), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
