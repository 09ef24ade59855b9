// The console's end-to-end walk in a real browser, driven by
// e2e/console_test.go: the Go test runs the platform and this script, and
// they talk over stdio: this script prints "STEP <name> [arg]" lines, and
// the Go side answers a line on stdin when it has done its part (writing
// through the proxy with the URL, checking the rotated password, ...).
//
// Environment: CONSOLE_URL (the control plane), ARTIFACTS (screenshots),
// CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const base = process.env.CONSOLE_URL;
const artifacts = process.env.ARTIFACTS;
if (!base || !artifacts) {
  console.error('CONSOLE_URL and ARTIFACTS are required');
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
const log = (...a) => console.error('[console.mjs]', ...a);

// launch() gives the browser a fresh, throwaway user-data-dir of its own
// (playwright refuses --user-data-dir here).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failed = false;
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => m.type() === 'error' && log('browser console:', m.text()));
  page.on('pageerror', (e) => log('page error:', e.message));
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  // Sign up; a too-short password is refused next to the password field.
  await page.goto(`${base}/#/signup`);
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('E-mail').fill('console@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.locator('.field.has-error', { hasText: 'Password' }).getByRole('alert').waitFor();
  await shot('01-signup-error');
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText('No databases yet.').waitFor();
  await shot('02-databases-empty');
  // The session is in HttpOnly cookies: nothing a script can read.
  const leaked = await page.evaluate(() => document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage));
  if (/kf_|eyJ/.test(leaked)) throw new Error(`session token readable by scripts: ${leaked}`);

  // Create a database.
  await page.getByRole('link', { name: 'Create your first database' }).click();
  await page.getByLabel('Plan', { exact: true }).selectOption('starter');
  await page.getByLabel('Name', { exact: true }).fill('cache');
  await page.getByLabel('Memory (MB)').fill('128');
  await page.getByLabel('Shards', { exact: true }).fill('2');
  await page.getByLabel('Eviction policy').selectOption('allkeys-lru');
  await shot('03-create-database');
  await page.getByRole('button', { name: 'Create database' }).click();
  await page.getByRole('heading', { name: 'cache' }).waitFor();
  await shot('04-database-provisioning');
  await page.locator('.page-head .badge', { hasText: 'active' }).waitFor({ timeout: 90_000 });

  // Copy the URL with the page's button and read it from the clipboard.
  await page.getByRole('button', { name: 'Copy URL' }).click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  const url = await page.evaluate(() => navigator.clipboard.readText());
  if (!url.startsWith('redis://')) throw new Error(`copied URL: ${url}`);
  const shown = await page.getByTestId('db-url').inputValue();
  if (shown === url) throw new Error('the URL field shows the password before it is revealed');
  await tell('URL', url);

  // The proxy's usage reports reach the ops chart.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-ops]')?.getAttribute('data-total') || 0) > 0, null, { timeout: 60_000 });
  // Memory used, as the shards report it, against the limit.
  await page.getByTestId('chart-memory').locator('.chart-summary', { hasText: / of 128 MB$/ }).waitFor({ timeout: 30_000 });
  await page.getByRole('tab', { name: 'Go' }).click();
  await shot('05-database');

  // Phone width: the same page, one column.
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('06-database-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Rotate the password.
  await page.getByRole('button', { name: 'Reveal password' }).click();
  await page.getByRole('button', { name: 'Rotate password' }).click();
  await page.getByRole('button', { name: 'Yes, rotate the password' }).click();
  await page.waitForFunction((old) => document.querySelector('[data-testid=db-url]')?.value !== old, url);
  const rotated = await page.getByTestId('db-url').inputValue();
  await tell('ROTATED', `${url} ${rotated}`);

  // Settings: the API's error shows next to the memory field.
  await page.getByRole('form', { name: 'Settings' }).getByLabel('Memory (MB)').fill('999999');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.locator('form[aria-labelledby=settings-h] .field.has-error').waitFor();
  await shot('07-settings-error');

  // API keys: created, shown once, revoked.
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByLabel("New key's name").fill('ci');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.locator('#new-key').inputValue();
  if (!key) throw new Error('no API key shown');
  await shot('08-api-keys');
  await tell('APIKEY', key);
  await page.getByRole('button', { name: 'Revoke ci' }).click();
  await page.getByText('No API keys.').waitFor();
  await tell('REVOKED', key);

  // Delete with the typed confirmation.
  await page.getByRole('link', { name: 'Databases' }).click();
  await page.getByRole('link', { name: 'cache' }).click();
  await page.getByLabel(/Type the database's name/).fill('cache');
  await shot('09-delete');
  await page.getByRole('button', { name: 'Delete database' }).click();
  await page.getByRole('heading', { name: 'Databases' }).waitFor();
  await tell('DELETED', rotated);

  // Administrators: the test makes this account one, and a reload shows
  // the admin pages.
  await tell('PROMOTE');
  await page.reload();
  await page.getByRole('link', { name: 'Nodes' }).click();
  await page.getByRole('cell', { name: 'e2e-node', exact: true }).waitFor();
  await page.locator('tr', { hasText: 'e2e-node' }).locator('.badge', { hasText: 'up' }).waitFor();
  await shot('11-admin-nodes');
  await page.getByRole('link', { name: 'Accounts' }).click();
  await page.getByRole('cell', { name: 'console@example.com', exact: true }).waitFor();
  await shot('12-admin-accounts');

  // Log out really ends the session: the tokens the cookies held are
  // refused afterwards, even when presented directly.
  const cookies = Object.fromEntries((await context.cookies()).map((c) => [c.name, c]));
  if (!cookies.kf_access?.httpOnly || cookies.kf_access.sameSite !== 'Strict') throw new Error(`access cookie: ${JSON.stringify(cookies.kf_access)}`);
  const me = () => fetch(`${base}/v1/me`, { headers: { Authorization: `Bearer ${cookies.kf_access.value}` } }).then((r) => r.status);
  if ((await me()) !== 200) throw new Error('the access token does not work before log-out');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await shot('13-login');
  if ((await me()) !== 401) throw new Error('the access token still works after log-out');
  const refresh = await fetch(`${base}/v1/auth/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: cookies.kf_refresh.value }) });
  if (refresh.status !== 401) throw new Error(`the refresh token still works after log-out: ${refresh.status}`);
  const status = await page.evaluate(async () => (await fetch('/v1/me')).status);
  if (status !== 401) throw new Error(`GET /v1/me from the page after log-out: ${status}, want 401`);
  // Keyboard only: from the focused heading, Tab reaches the e-mail and
  // the password fields in order, and Enter logs in; the next page's
  // heading takes the focus.
  await page.keyboard.press('Tab');
  await page.keyboard.type('console@example.com');
  await page.keyboard.press('Tab');
  await page.keyboard.type('a long enough password');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Databases' }).waitFor();
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  if (focused !== 'Databases') throw new Error(`focus after log-in is on ${JSON.stringify(focused)}, want the page heading`);
  await tell('DONE');
} catch (e) {
  failed = true;
  log('FAILED:', e?.stack || e);
  await page?.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
