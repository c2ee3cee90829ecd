// Browser test: the customer approves on a phone while the advisor watches.
// At 390x844 the customer opens the link, deselects one of three services
// (the total changes), signs on the canvas with a mouse drag and submits;
// meanwhile a second browser context on the advisor's ticket page sees
// "Customer viewing" and then "Work approved" without a reload, and the
// viewing mark goes once the customer's page is closed. axe runs on the
// customer's page (any violation fails), and the first load's weight is
// measured. Screenshots of each step go to $ARTIFACTS_DIR (default
// tests/browser/artifacts). With PITWALL_BROWSER_LOCALE=es the customer
// is Spanish-speaking: the POS sends the customer's language (`es-MX`, how
// Pitwall picks the customer page's language; the phone's own is Spanish
// too), and the page, its totals and its confirmation are in Spanish.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bin, database, freePort, launch, screenshots, serve, waitFor } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = process.env.ARTIFACTS_DIR || join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const locale = process.env.PITWALL_BROWSER_LOCALE || 'en';
if (!['en', 'es'].includes(locale)) throw new Error(`PITWALL_BROWSER_LOCALE must be en or es, not ${locale}`);
const spanish = locale === 'es';
const shot = screenshots(`approvals-${locale}-`, artifacts);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const work = mkdtempSync(join(tmpdir(), 'pitwall-approvals-'));
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
const password = 'owner password 123';
const owner = 'owner@approvals.test';
execFileSync(bin, ['admin', 'create-shop', '--name', 'Approval Garage', '--slug', 'approval-garage', '--plan', 'pro',
  '--owner-email', owner, '--owner-password', password], { env, stdio: 'inherit' });
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

// The POS sends an estimate with three recommended services; the advisor
// makes a link for it.
const { token } = await api('POST', '/api/v1/auth/login', '', { email: owner, password });
const { secret: posKey } = await api('POST', '/api/v1/api-keys', token, { name: 'POS' });
const line = (description, quantity, unit_price, taxable) => ({ kind: taxable ? 'part' : 'labor', description, quantity, unit_price, taxable });
const pushed = await api('PUT', '/api/pos/v1/tickets/RO-APPROVE-1', posKey, {
  kind: 'estimate', number: '88001', pos_updated_at: new Date().toISOString(), tax_rate: 0.0825,
  customer: { external_id: 'C-APP', first_name: 'Alex', last_name: 'Approver', phone: '(512) 555-0188', email: 'alex@example.com',
    ...(spanish ? { locale: 'es-MX' } : {}) },
  vehicle: { external_id: 'V-APP', year: 2018, make: 'Toyota', model: 'Camry', plate: 'APR-0001' },
  services: [
    { external_id: 'S-1', title: 'Front brake pads and rotors', status: 'recommended',
      line_items: [line('Labor', 1.5, 12000, false), line('Pads and rotors', 1, 14999, true)] },
    { external_id: 'S-2', title: 'Cabin air filter', status: 'recommended', line_items: [line('Filter', 1, 3499, true)] },
    { external_id: 'S-3', title: 'Coolant flush', status: 'recommended',
      line_items: [line('Labor', 1, 8900, false), line('Coolant', 2, 1650, true)] },
  ],
});
const ticketId = pushed.ticket.id;
const { url: link } = await api('POST', `/api/v1/tickets/${ticketId}/customer-links`, token, {});
if (!link.startsWith(`${base}/c/pwc_`)) throw new Error(`odd link ${link}`);

const browser = await launch();
let failed = false;
try {
  // The advisor, on a laptop, with the ticket open.
  const advisorCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const advisor = await advisorCtx.newPage();
  await advisor.goto(`${base}/login`);
  await advisor.fill('input[name=email]', owner);
  await advisor.fill('input[name=password]', password);
  await Promise.all([advisor.waitForURL(`${base}/app**`), advisor.click('button[type=submit]')]);
  await advisor.goto(`${base}/app/tickets/${ticketId}`);
  await waitFor('the advisor page to go live', () => advisor.evaluate(() => document.body.dataset.live === 'on'));
  if (await advisor.locator('[data-testid=customer-viewing]').count()) throw new Error('"customer viewing" before anyone opened the link');
  await advisor.evaluate(() => { window.__noReload = true; });
  await shot(advisor, 'advisor-before');

  // The customer, on a phone. Count every byte of the first load.
  const customerCtx = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, locale: spanish ? 'es-ES' : 'en-US',
  });
  const customer = await customerCtx.newPage();
  const loaded = [];
  customer.on('response', (r) => loaded.push(r));
  await customer.goto(link, { waitUntil: 'load' });
  await waitFor('the customer page to go live', () => customer.evaluate(() => document.body.dataset.live === 'on'));
  const lang = await customer.getAttribute('html', 'lang');
  if (lang !== locale) throw new Error(`the customer page is in ${lang}, not ${locale}`);
  const heading = await customer.textContent('#approve-h');
  const wanted = spanish ? 'Aprobar el trabajo' : 'Approve the work';
  if (heading?.trim() !== wanted) throw new Error(`the approval heading reads ${heading}, not ${wanted}`);
  let raw = 0, gz = 0, wire = 0, compressed = false;
  const rows = [];
  for (const r of loaded) {
    const type = r.headers()['content-type'] || '';
    if (type.startsWith('text/event-stream')) continue; // the live stream never ends
    const body = await r.body().catch(() => Buffer.alloc(0));
    const enc = r.headers()['content-encoding'];
    if (enc) compressed = true;
    const sizes = await r.request().sizes().catch(() => null);
    raw += body.length;
    gz += gzipSync(body, { level: 6 }).length;
    wire += sizes ? sizes.responseBodySize + sizes.responseHeadersSize : body.length;
    rows.push(`${new URL(r.url()).pathname.replace(/pwc_[A-Za-z0-9_-]+/, 'pwc_…')} ${body.length} B${enc ? ` (${enc})` : ''}`);
  }
  console.log(`customer page first load: ${rows.length} responses\n  ${rows.join('\n  ')}`);
  console.log(`customer page weight: ${raw} B as served${compressed ? ' (compressed by the server)' : ' (the server does not compress)'}, ` +
    `${gz} B if gzip-compressed, ${wire} B on the wire with headers`);
  if (gz >= 100 * 1024) throw new Error(`the first load is ${gz} B gzip-compressed: over 100 KB`);
  await shot(customer, 'customer-opened');

  // The advisor sees the customer looking, without a reload.
  await advisor.waitForSelector('[data-testid=customer-viewing]', { timeout: 10000 });
  if (!(await advisor.evaluate(() => window.__noReload === true))) throw new Error('the advisor page reloaded');
  await shot(advisor, 'advisor-customer-viewing');

  // Accessibility: axe on the customer's page (not subject to the page's
  // CSP: evaluated through the driver).
  await customer.evaluate(axeSource);
  const axe = await customer.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  if (axe.violations.length) {
    for (const v of axe.violations) console.error(`axe: ${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
    throw new Error(`axe found ${axe.violations.length} violation(s) on the customer page`);
  }
  console.log('axe: no violations on the customer page');

  // Deselect the second service: the total follows.
  const total = () => customer.textContent('[data-testid=selection-total]');
  const before = await total();
  await customer.uncheck('[data-testid=approve-2]');
  const after = await total();
  if (before === after) throw new Error(`the total did not change when a service was deselected (${before})`);
  // 180.00 + 149.99 + 89.00 + 33.00 = 451.99; tax 8.25 % of 182.99 = 15.10
  const expected = spanish ? '467,09\u00a0US$' : '$467.09';
  if (after.trim() !== expected) throw new Error(`the total with the cabin filter declined is ${JSON.stringify(after)}, not ${JSON.stringify(expected)}`);
  await customer.fill('[data-testid=signer-name]', 'Alex Approver');
  const pad = await customer.locator('[data-testid=signature-pad]').boundingBox();
  await customer.mouse.move(pad.x + 20, pad.y + pad.height * 0.7);
  await customer.mouse.down();
  for (let i = 1; i <= 24; i++) {
    await customer.mouse.move(pad.x + 20 + i * (pad.width - 40) / 24, pad.y + pad.height * (0.5 + 0.3 * Math.sin(i / 2)), { steps: 2 });
  }
  await customer.mouse.up();
  const sig = await customer.inputValue('input[name=signature]');
  if (!sig.startsWith('data:image/png;base64,')) throw new Error('the drawing did not become a PNG data URL');
  await shot(customer, 'customer-signed');

  await Promise.all([
    customer.waitForURL(/#confirmation$/),
    customer.click('[data-testid=approve-submit]'),
  ]);
  await customer.waitForSelector('[data-testid=confirmation]');
  const approved = await customer.locator('[data-testid=conf-approved] li').count();
  const declined = await customer.locator('[data-testid=conf-declined] li').count();
  if (approved !== 2 || declined !== 1) throw new Error(`confirmation shows ${approved} approved, ${declined} declined`);
  const thanks = await customer.textContent('#conf-h');
  const thanked = spanish ? 'Gracias: su aprobación quedó registrada' : 'Thank you: your approval is recorded';
  if (thanks?.trim() !== thanked) throw new Error(`the confirmation reads ${thanks}, not ${thanked}`);
  const confDeclined = await customer.textContent('[data-testid=conf-declined]');
  if (!confDeclined.includes('Cabin air filter')) throw new Error(`the declined service: ${confDeclined}`);
  await shot(customer, 'customer-confirmation');
  await customer.emulateMedia({ media: 'print' });
  await shot(customer, 'customer-print');
  await customer.emulateMedia({ media: 'screen' });

  // The advisor sees Work approved at once, without a reload, and the
  // approval opens with its signature.
  await advisor.waitForSelector('[data-testid=work-approved]', { timeout: 10000 });
  await advisor.waitForSelector('[data-testid=approval-row]');
  if (!(await advisor.evaluate(() => window.__noReload === true))) throw new Error('the advisor page reloaded');
  await shot(advisor, 'advisor-work-approved');
  await Promise.all([advisor.waitForURL(/\/app\/approvals\//), advisor.click('[data-testid=work-approved] a')]);
  const img = advisor.locator('[data-testid=approval-signature]');
  await img.waitFor();
  const src = await img.getAttribute('src');
  if (!src?.startsWith('data:image/png;base64,')) throw new Error('the approval page shows no signature image');
  const facts = await advisor.textContent('[data-testid=approval-facts]');
  if (!facts.includes('Alex Approver') || !facts.includes('customer link')) throw new Error(`approval facts: ${facts}`);
  await shot(advisor, 'advisor-approval');

  // The customer closes the page: "customer viewing" goes within 30 s.
  await advisor.goto(`${base}/app/tickets/${ticketId}`);
  await waitFor('the advisor page to go live', () => advisor.evaluate(() => document.body.dataset.live === 'on'));
  await advisor.waitForSelector('[data-testid=customer-viewing]', { timeout: 10000 });
  const closed = Date.now();
  await customerCtx.close();
  await waitFor('"customer viewing" to go away', async () =>
    (await advisor.locator('[data-testid=customer-viewing]:visible').count()) === 0, 30000);
  console.log(`"customer viewing" went away ${((Date.now() - closed) / 1000).toFixed(1)} s after the page closed`);
  await shot(advisor, 'advisor-customer-gone');
  console.log('approvals browser test passed; screenshots in', artifacts);
} catch (e) {
  failed = true;
  console.error('approvals browser test failed:', e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
