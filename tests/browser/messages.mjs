// Browser test: a customer's text arrives while the dashboard is open; the
// row's text button turns orange without a reload. Opening it shows the
// thread (and reads it); back on the dashboard the button is no longer
// orange. On the open thread page a further text appears live.
// The text comes in through Pitwall's real webhook, signed the way Twilio
// signs it. Screenshots go to $CARGO_TARGET_DIR/browser-artifacts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, bin, database, freePort, launch, screenshots, serve, twilioSignature, waitFor } from './lib.mjs';

const work = mkdtempSync(join(tmpdir(), 'pitwall-messages-'));
const shot = screenshots('messages-');

const port = await freePort();
// Nothing listens here: texts Pitwall sends fail to connect and are retried,
// which this test does not need.
const deadProvider = await freePort();
const base = `http://127.0.0.1:${port}`;
const authToken = 'browser-test-auth-token';
const shopNumber = '+15125550100';
const customerPhone = '+15125550177';
const env = {
  ...process.env,
  DATABASE_URL: database(work),
  PITWALL_DATA_DIR: work,
  PITWALL_ADDR: `127.0.0.1:${port}`,
  PITWALL_BASE_URL: base,
  TWILIO_ACCOUNT_SID: 'ACtest',
  TWILIO_AUTH_TOKEN: authToken,
  TWILIO_API_BASE: `http://127.0.0.1:${deadProvider}`,
  RUST_LOG: 'warn',
};
const password = 'owner password 123';
execFileSync(bin, ['admin', 'create-shop', '--name', 'Texting Garage', '--slug', 'texting-garage', '--plan', 'pro',
  '--owner-email', 'owner@texting.test', '--owner-password', password], { env, stdio: 'inherit' });
execFileSync(bin, ['admin', 'create-admin', '--email', 'support@texting.test', '--password', password, '--support'],
  { env, stdio: 'inherit' });
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

/** A text from the customer, delivered to the inbound webhook as Twilio would. */
let sent = 0;
async function textIn(body) {
  const url = `${base}/webhooks/twilio/inbound`;
  const params = { MessageSid: `SMbrowser${Date.now()}${++sent}`, From: customerPhone, To: shopNumber, Body: body };
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioSignature(authToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
  if (!r.ok) throw new Error(`the inbound webhook answered ${r.status}: ${await r.text()}`);
}

// Platform support gives the shop its own number; the POS sends a ticket
// whose customer has a mobile number.
const { token } = await api('POST', '/api/v1/auth/login', '', { email: 'owner@texting.test', password });
const { token: support } = await api('POST', '/api/v1/auth/login', '', { email: 'support@texting.test', password });
const { id: shopId } = await api('GET', '/api/v1/shop', token);
await api('PUT', `/api/admin/v1/shops/${shopId}/sms-from`, support, { sms_from: shopNumber });
await api('PUT', '/api/v1/messaging-settings', token, { require_sms_consent: false });
const { secret: posKey } = await api('POST', '/api/v1/api-keys', token, { name: 'POS' });
const pushed = await api('PUT', '/api/pos/v1/tickets/RO-TEXT-1', posKey, {
  kind: 'workorder', number: '77001', pos_updated_at: new Date().toISOString(),
  customer: { external_id: 'C-TEXT', first_name: 'Tess', last_name: 'Texter', phone: '(512) 555-0177' },
  vehicle: { external_id: 'V-TEXT', year: 2020, make: 'Mazda', model: 'CX-5', plate: 'TXT-1001' },
  services: [],
});
const ticketId = pushed.ticket.id;
const customerId = pushed.ticket.customer.id;

const browser = await launch();
let failed = false;
try {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', 'owner@texting.test');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${base}/app**`), page.click('button[type=submit]')]);
  await page.click('[data-testid=nav-dashboard]');
  const button = `[data-testid=board-row][data-ticket="${ticketId}"] [data-testid=board-sms]`;
  await page.waitForSelector(button);
  await waitFor('the live feed to connect', () => page.evaluate(() => document.body.dataset.live === 'on'));
  if (await page.locator(`${button}.unread`).count()) throw new Error('the text button is orange before any text');
  const href = await page.getAttribute(button, 'href');
  if (href !== `/app/messages/${customerId}`) throw new Error(`the text button links ${href}`);
  await shot(page, 'dashboard');
  // A marker that a reload would wipe.
  await page.evaluate(() => { window.__noReload = true; });

  // The customer texts: the button turns orange on the open dashboard.
  await textIn('Hi, is my Mazda ready? Can I pick it up at 4?');
  await page.waitForSelector(`${button}.unread`, { timeout: 5000 });
  if (!(await page.evaluate(() => window.__noReload === true))) throw new Error('the dashboard reloaded');
  const label = await page.getAttribute(button, 'aria-label');
  if (!label?.toLowerCase().includes('unread reply from the customer')) throw new Error(`the orange button's label: ${label}`);
  const orange = await page.$eval(button, (el) => getComputedStyle(el).backgroundColor);
  if (orange !== 'rgb(247, 144, 9)') throw new Error(`the unread button is not orange: ${orange}`);
  await shot(page, 'dashboard-unread');

  // Opening it shows the conversation and reads it.
  await Promise.all([page.waitForURL(`${base}/app/messages/${customerId}`), page.click(button)]);
  const chat = await page.textContent('[data-testid=chat]');
  if (!chat.includes('is my Mazda ready?')) throw new Error(`the thread lacks the text: ${chat}`);
  if (!(await page.textContent('h1')).includes('Tess Texter')) throw new Error('the thread names no customer');
  await shot(page, 'thread');

  // Back on the dashboard the button is no longer orange.
  await page.goBack();
  await page.waitForURL(`${base}/app/dashboard`);
  await page.waitForSelector(button);
  await waitFor('the text button to stop being orange', async () =>
    (await page.locator(`${button}.unread`).count()) === 0, 5000);
  await shot(page, 'dashboard-read');

  // The thread page keeps current too: a further text appears without reload.
  await Promise.all([page.waitForURL(`${base}/app/messages/${customerId}`), page.click(button)]);
  await waitFor('the live feed to connect', () => page.evaluate(() => document.body.dataset.live === 'on'));
  await page.evaluate(() => { window.__noReload = true; });
  await textIn('Actually, 5 works better.');
  await waitFor('the new text in the open thread', async () =>
    (await page.textContent('[data-testid=chat]')).includes('5 works better'), 5000);
  if (!(await page.evaluate(() => window.__noReload === true))) throw new Error('the thread page reloaded');
  await shot(page, 'thread-live');
  // Heard while open, it waits to be marked read.
  await Promise.all([page.waitForURL(`${base}/app/messages/${customerId}?ok=read`), page.click('[data-testid=read-submit]')]);
  const threads = await api('GET', '/api/v1/threads?filter=unread', token);
  if (threads.items.length) throw new Error(`still unread: ${JSON.stringify(threads.items)}`);

  // The message center lists the conversation.
  await page.click('[data-testid=nav-messages]');
  await page.waitForSelector(`[data-testid=thread-row][data-customer="${customerId}"]`);
  await shot(page, 'message-center');
  console.log('messages browser test passed; screenshots in', artifacts);
} catch (e) {
  failed = true;
  console.error('messages browser test failed:', e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
