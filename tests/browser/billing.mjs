// Browser test: the owner of a Starter shop opens Billing, chooses Pro and
// clicks "change plan", reaches the (fake) Stripe Checkout page and pays;
// after the signed webhooks the billing page shows Pro and a Pro-only page
// (My work, the technician view) opens. Needs the `fake-stripe` binary next
// to `pitwall` (cargo build -p pitwall -p pitwall-testkit).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bin, cleanup, database, freePort, launch, screenshots, serve, start, waitFor } from './lib.mjs';

const work = mkdtempSync(join(tmpdir(), 'pitwall-browser-'));
const shot = screenshots('billing-');
const fakeBin = process.env.FAKE_STRIPE_BIN || join(dirname(bin), 'fake-stripe');
if (!existsSync(fakeBin)) throw new Error(`fake-stripe binary missing at ${fakeBin}`);

const port = await freePort();
const stripePort = await freePort();
const base = `http://127.0.0.1:${port}`;
const stripeBase = `http://127.0.0.1:${stripePort}`;
start(fakeBin, [`127.0.0.1:${stripePort}`, `${base}/webhooks/stripe`], { stdio: 'inherit' });
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
  RUST_LOG: 'warn',
};
const password = 'owner password 123';
execFileSync(bin, ['admin', 'create-shop', '--name', 'Billing Garage', '--slug', 'billing-garage', '--plan', 'starter',
  '--owner-email', 'owner@billing.test', '--owner-password', password], { env, stdio: 'inherit' });
await serve(env, base);
await waitFor('the fake Stripe', async () => {
  try { await fetch(`${stripeBase}/checkout/none`); return true; } catch { return false; }
});

const browser = await launch();
let failed = false;
try {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', 'owner@billing.test');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/app`);

  // Starter has no technician view.
  const before = await page.goto(`${base}/app/work`);
  if (before.status() !== 403) throw new Error(`My work answered ${before.status()} on Starter`);

  await page.click('[data-testid=nav-billing]');
  await page.waitForSelector('[data-testid=billing-plan]');
  if ((await page.textContent('[data-testid=billing-plan]')).trim() !== 'Starter') throw new Error('not on Starter');
  await page.check('[data-testid=plan-pro]');
  await shot(page, 'billing-page');
  await page.click('[data-testid=change-plan]');
  await page.waitForURL(new RegExp(`^${stripeBase}/checkout/`));
  await page.waitForSelector('text=Fake Stripe Checkout');
  await shot(page, 'checkout');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/app/billing?checkout=success`);

  // The webhooks reach Pitwall signed; the job applies them.
  await waitFor('the page to show Pro', async () => {
    await page.goto(`${base}/app/billing`);
    return (await page.textContent('[data-testid=billing-plan]')).trim() === 'Pro';
  });
  await shot(page, 'billing-pro');
  const after = await page.goto(`${base}/app/work`);
  if (after.status() !== 200) throw new Error(`My work answered ${after.status()} on Pro`);
  await shot(page, 'work-open');
  console.log('billing browser test passed');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  cleanup();
}
process.exit(failed ? 1 : 0);
