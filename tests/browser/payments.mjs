// Browser test: an invoice paid online on a phone, into the shop's own
// Stripe account. The owner connects the shop's account through (fake)
// Stripe's onboarding; the advisor makes the invoice from the approved,
// done work on the ticket page and sends it; the customer opens the link
// on a phone, taps Pay, pays on (fake) Stripe Checkout and comes back; the
// advisor's open ticket page shows Paid without a reload, marks the
// vehicle delivered, and the POS books the payment. Needs the
// `fake-stripe` binary next to PITWALL_BIN. Screenshots go to the
// artifacts folder.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { artifacts, bin, database, freePort, launch, screenshots, serve, start, waitFor } from './lib.mjs';

const fakeBin = process.env.FAKE_STRIPE_BIN || join(dirname(bin), 'fake-stripe');
if (!existsSync(fakeBin)) throw new Error(`fake-stripe binary missing at ${fakeBin}`);
const work = mkdtempSync(join(tmpdir(), 'pitwall-payments-'));
const shot = screenshots('pay-');
const port = await freePort();
const stripePort = await freePort();
const base = `http://127.0.0.1:${port}`;
const stripeBase = `http://127.0.0.1:${stripePort}`;
start(fakeBin, [`127.0.0.1:${stripePort}`, `${base}/webhooks/stripe`, `${base}/webhooks/stripe/connect`], { stdio: 'inherit' });
const env = {
  ...process.env,
  DATABASE_URL: database(work),
  PITWALL_DATA_DIR: work,
  PITWALL_ADDR: `127.0.0.1:${port}`,
  PITWALL_BASE_URL: base,
  STRIPE_SECRET_KEY: 'sk_test_fake_pitwall',
  STRIPE_WEBHOOK_SECRET: 'whsec_fake_pitwall_current',
  STRIPE_API_BASE: stripeBase,
  PITWALL_STRIPE_PRICES: 'starter=price_starter,pro=price_pro,premium=price_premium',
  PITWALL_PAYMENTS: 'connect',
  STRIPE_CONNECT_WEBHOOK_SECRET: 'whsec_fake_pitwall_connect',
  RUST_LOG: 'warn',
};
const demoOut = execFileSync(bin, ['demo', '--no-serve'], { env, encoding: 'utf8' });
const posKey = (demoOut.match(/pk_[A-Za-z0-9_-]+/) || [])[0];
if (!posKey) throw new Error(`the demo printed no POS key:\n${demoOut}`);
await serve(env, base);
await waitFor('the fake Stripe', async () => {
  try { await fetch(`${stripeBase}/checkout/none`); return true; } catch { return false; }
});

const password = 'pitwall-demo';
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
const token = async (email) => (await api('POST', '/api/v1/auth/login', '', { email, password })).token;
const owner = await token('owner@demo.pitwall.test');
const advisorKey = await token('advisor@demo.pitwall.test');

// A job whose brake pads were approved by phone and are done.
const pushed = await api('PUT', '/api/pos/v1/tickets/RO-PAY-1', posKey, {
  kind: 'workorder', number: '88001', pos_updated_at: new Date().toISOString(),
  customer: { external_id: 'C-PAY', first_name: 'Paz', last_name: 'Payne', phone: '(512) 555-0188', email: 'paz@example.test' },
  vehicle: { external_id: 'V-PAY', year: 2018, make: 'Mazda', model: 'CX-5', plate: 'PAY-8001' },
  services: [{ external_id: 'S1', title: 'Brake pads', status: 'pending', line_items: [
    { kind: 'labor', description: 'Replace front pads', quantity: 1, unit_price: 15000, taxable: true }] }],
  tax_rate: 0.0825,
});
const ticketId = pushed.ticket.id;
const serviceId = pushed.ticket.services[0].id;
await api('POST', `/api/v1/tickets/${ticketId}/approvals`, advisorKey, {
  approved_service_ids: [serviceId], declined_service_ids: [], method: 'phone',
});
await api('POST', `/api/v1/tickets/${ticketId}/services/${serviceId}/done`, owner, {});

const browser = await launch();
let failed = false;
try {
  async function signedIn(email, viewport) {
    const page = await (await browser.newContext({ viewport })).newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', password);
    await Promise.all([page.waitForURL(`${base}/app**`), page.click('button[type=submit]')]);
    return page;
  }

  // The owner connects the shop's Stripe account.
  const ownerPage = await signedIn('owner@demo.pitwall.test', { width: 1280, height: 900 });
  await ownerPage.goto(`${base}/app/billing`);
  await Promise.all([ownerPage.waitForURL(`${stripeBase}/connect/onboard/**`), ownerPage.click('[data-testid=connect-payments]')]);
  await Promise.all([ownerPage.waitForURL(`${base}/app/billing?payments=connected`), ownerPage.click('button[type=submit]')]);
  await ownerPage.waitForSelector('[data-testid=payments-ready]');
  await shot(ownerPage, 'owner-connected');

  // The advisor makes the invoice on the ticket page and keeps it open.
  const advisor = await signedIn('advisor@demo.pitwall.test', { width: 1280, height: 900 });
  await advisor.goto(`${base}/app/tickets/${ticketId}`);
  await Promise.all([advisor.waitForURL(/ok=invoice_created/), advisor.click('[data-testid=invoice-create]')]);
  const invoiceId = await advisor.getAttribute('[data-testid=invoice]', 'data-invoice');
  const sent = await api('POST', `/api/v1/invoices/${invoiceId}/send`, advisorKey, { send: 'email' });
  await advisor.reload();
  await waitFor('the ticket page to go live', () => advisor.evaluate(() => document.body.dataset.live === 'on'));
  await advisor.evaluate(() => { window.__noReload = true; });
  const status = async () => advisor.getAttribute('[data-testid=invoice]', 'data-status');
  if ((await status()) !== 'sent') throw new Error(`the invoice is ${await status()} before paying`);

  // The customer pays on a phone.
  const customer = await (await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })).newPage();
  await customer.goto(sent.link_url);
  await customer.waitForSelector('[data-testid=customer-invoice][data-status=sent]');
  const total = await customer.textContent('[data-testid=invoice-total]');
  if (!total.includes('162.38')) throw new Error(`the customer's invoice total is ${total}`);
  await shot(customer, 'customer-invoice');
  await Promise.all([customer.waitForURL(`${stripeBase}/checkout/**`), customer.click('[data-testid=invoice-pay]')]);
  await shot(customer, 'customer-checkout');
  await Promise.all([customer.waitForURL(/paid=1/), customer.click('button[type=submit]')]);
  await shot(customer, 'customer-back');

  // The advisor's open page shows it paid, without a reload.
  await waitFor('Paid on the advisor\'s open ticket', async () => (await status()) === 'paid', 10000);
  if (!(await advisor.evaluate(() => window.__noReload === true))) throw new Error("the advisor's ticket page reloaded");
  await shot(advisor, 'advisor-paid');
  await Promise.all([advisor.waitForURL(/ok=invoice_delivered/), advisor.click('[data-testid=invoice-delivered]')]);
  if ((await status()) !== 'delivered') throw new Error(`after delivery the invoice is ${await status()}`);

  // The POS books it; the case closes.
  const booked = await api('POST', `/api/pos/v1/invoices/${invoiceId}/booked`, posKey);
  if (booked.status !== 'booked') throw new Error(`the POS booked it as ${booked.status}`);
  await customer.reload();
  await customer.waitForSelector('[data-testid=customer-invoice][data-status=booked]');
  console.log('payments browser test passed; screenshots in', artifacts);
} catch (e) {
  failed = true;
  console.error('payments browser test failed:', e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
