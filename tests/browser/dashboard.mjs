// Browser test: the demo shop's dashboard is open on one screen; a status
// set through the API and a ticket pushed by the POS appear on it live,
// without a reload; the ticket page shows status history and timeline.
// Screenshots go to $CARGO_TARGET_DIR/browser-artifacts (or target/...).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, bin, database, freePort, launch, screenshots, serve, waitFor } from './lib.mjs';

const work = mkdtempSync(join(tmpdir(), 'pitwall-dashboard-'));
const shot = screenshots('dash-');

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  DATABASE_URL: database(work),
  PITWALL_DATA_DIR: work,
  PITWALL_ADDR: `127.0.0.1:${port}`,
  PITWALL_BASE_URL: base,
  RUST_LOG: 'warn',
};
const demoOut = execFileSync(bin, ['demo', '--no-serve'], { env, encoding: 'utf8' });
const posKey = (demoOut.match(/pk_[A-Za-z0-9_-]+/) || [])[0];
if (!posKey) throw new Error(`the demo printed no POS key:\n${demoOut}`);
await serve(env, base);

async function api(method, path, token, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(json)}`);
  return json;
}

const browser = await launch();
let failed = false;
try {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', 'advisor@demo.pitwall.test');
  await page.fill('input[name=password]', 'pitwall-demo');
  await Promise.all([page.waitForURL(`${base}/app**`), page.click('button[type=submit]')]);
  await page.click('[data-testid=nav-dashboard]');
  await page.waitForSelector('[data-testid=board-row]');
  await waitFor('the live feed to connect', () => page.evaluate(() => document.body.dataset.live === 'on'));
  await shot(page, 'dashboard');
  // A marker that a reload would wipe.
  await page.evaluate(() => { window.__noReload = true; });

  // Another screen (the API, as the owner) sets a status.
  const { token } = await api('POST', '/api/v1/auth/login', '', { email: 'owner@demo.pitwall.test', password: 'pitwall-demo' });
  const board = await api('GET', '/api/v1/dashboard', token);
  const target = board.items.find((r) => r.ticket.status?.label !== 'Awaiting callback');
  const statuses = await api('GET', '/api/v1/vehicle-statuses', token);
  const callback = statuses.items.find((s) => s.label === 'Awaiting callback');
  await api('PUT', `/api/v1/tickets/${target.ticket.id}/status`, token, { status_id: callback.id });
  const row = `[data-testid=board-row][data-ticket="${target.ticket.id}"] [data-testid=board-status]`;
  await waitFor('the status on the open dashboard', async () =>
    (await page.textContent(row))?.includes('Awaiting callback'), 5000);
  if (!(await page.evaluate(() => window.__noReload === true))) throw new Error('the dashboard reloaded');
  await shot(page, 'dashboard-live-status');

  // The POS pushes a new ticket: it appears too.
  await api('PUT', '/api/pos/v1/tickets/RO-LIVE-1', posKey, {
    kind: 'workorder', number: '55501', pos_updated_at: new Date().toISOString(),
    customer: { external_id: 'C-LIVE', first_name: 'Lena', last_name: 'Live', phone: '(512) 555-0111' },
    vehicle: { external_id: 'V-LIVE', year: 2022, make: 'Kia', model: 'Soul', plate: 'LIV-3001' },
    services: [{ external_id: 'S1', title: 'Alignment', status: 'recommended', line_items: [
      { kind: 'labor', description: 'Four-wheel alignment', quantity: 1, unit_price: 11900, taxable: false }] }],
    tax_rate: 0.0825,
  });
  await waitFor('the pushed ticket on the dashboard', async () =>
    (await page.textContent('[data-testid=board]')).includes('55501'), 5000);
  if (!(await page.evaluate(() => window.__noReload === true))) throw new Error('the dashboard reloaded');
  await shot(page, 'dashboard-live-push');

  // The ticket page shows the status history and the timeline.
  await page.goto(`${base}/app/tickets/${target.ticket.id}`);
  const history = await page.textContent('[data-testid=status-history]');
  if (!history.includes('Awaiting callback')) throw new Error(`status history lacks the change: ${history}`);
  const timeline = await page.textContent('[data-testid=timeline]');
  if (!timeline.includes('status changed') || !timeline.includes('pos push')) throw new Error(`timeline: ${timeline}`);
  await shot(page, 'ticket');
  // The advisor sets a status from the page; the timeline on it grows live.
  const before = await page.locator('[data-testid=timeline] li').count();
  await api('POST', `/api/v1/tickets/${target.ticket.id}/comments`, token, { body: 'Called the customer' });
  await waitFor('the live timeline', async () => (await page.locator('[data-testid=timeline] li').count()) > before, 5000);
  await shot(page, 'ticket-live-timeline');
  console.log('dashboard browser test passed; screenshots in', artifacts);
} catch (e) {
  failed = true;
  console.error('dashboard browser test failed:', e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
