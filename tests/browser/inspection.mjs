// Browser test: a digital vehicle inspection from the technician's phone to
// the customer's approval. At 375x812 a technician (invited through a real
// SMTP server) starts the inspection from the ticket page, rates items one
// section per screen, takes a photo through the file input, adds the
// finding's service and hands it in; the advisor publishes it on a laptop
// with the ticket open; the customer sees the finding with its photo and
// approves its service, and the advisor sees "Work approved" without a
// reload; the approval record shows the finding's photo. axe runs on the
// technician's and the customer's pages (any violation fails).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, database, freePort, launch, screenshots, serve, start, waitFor } from './lib.mjs';

const work = mkdtempSync(join(tmpdir(), 'pitwall-inspection-'));
const shot = screenshots('inspection-');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const smtpPort = await freePort();
const maildir = join(work, 'mail');
start('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], { stdio: 'inherit' });
await waitFor('the SMTP server', () => existsSync(join(maildir, 'new')));

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  DATABASE_URL: database(work),
  PITWALL_DATA_DIR: work,
  PITWALL_ADDR: `127.0.0.1:${port}`,
  PITWALL_BASE_URL: base,
  SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
  RUST_LOG: 'warn',
};
const password = 'owner password 123';
const owner = 'owner@inspection.test';
execFileSync(bin, ['admin', 'create-shop', '--name', 'Inspection Garage', '--slug', 'inspection-garage', '--plan', 'premium',
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

// The owner invites a technician; the technician accepts from the e-mail.
const { token } = await api('POST', '/api/v1/auth/login', '', { email: owner, password });
await api('POST', '/api/v1/invitations', token, { email: 'tech@inspection.test', role: 'technician' });
const mail = await waitFor('the invitation e-mail', () => {
  for (const f of readdirSync(join(maildir, 'new'))) {
    const text = readFileSync(join(maildir, 'new', f), 'utf8');
    if (text.includes('tech@inspection.test')) return text;
  }
  return null;
});
const invite = mail.replace(/=\r?\n/g, '').replace(/=3D/g, '=').match(/\/invitations\/([A-Za-z0-9_-]+)/);
if (!invite) throw new Error(`no invitation link in the e-mail:\n${mail}`);
const techPassword = 'tech password 123';
await api('POST', '/api/v1/invitations/accept', '', { token: invite[1], name: 'Toni Tech', password: techPassword });

// A sheet of two sections, and a ticket from the POS.
const sheet = await api('POST', '/api/v1/inspection-templates', token, {
  name: 'Quick check',
  sections: [
    { name: 'Under the hood', items: [
      { key: 'oil', label: 'Engine oil', kind: 'condition', photo: 'never' },
      { key: 'battery', label: 'Battery', kind: 'measurement', unit: 'V', photo: 'never' },
    ] },
    { name: 'Brakes', items: [
      { key: 'front_pads', label: 'Front brake pads', kind: 'condition', photo: 'on_attention',
        explanation: 'Pads press on the rotors to stop the car.',
        service: { title: 'Replace front brake pads', line_items: [
          { kind: 'labor', description: 'Labor', quantity: 1, unit_price: 12000, taxable: false },
          { kind: 'part', description: 'Pads', quantity: 1, unit_price: 8999, taxable: true }] } },
    ] },
  ],
});
const { secret: posKey } = await api('POST', '/api/v1/api-keys', token, { name: 'POS' });
const pushed = await api('PUT', '/api/pos/v1/tickets/RO-INSP-1', posKey, {
  kind: 'workorder', number: '77001', pos_updated_at: new Date().toISOString(),
  customer: { external_id: 'C-INSP', first_name: 'Casey', last_name: 'Customer', phone: '(512) 555-0177', email: 'casey@example.com' },
  vehicle: { external_id: 'V-INSP', year: 2016, make: 'Honda', model: 'Civic', plate: 'INS-0001' },
  services: [{ external_id: 'S-1', title: 'Oil change', status: 'recommended',
    line_items: [{ kind: 'labor', description: 'Oil change', quantity: 1, unit_price: 4999, taxable: false }] }],
});
const ticketId = pushed.ticket.id;

async function axe(page, what) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  if (result.violations.length) {
    for (const v of result.violations) console.error(`axe: ${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
    throw new Error(`axe found ${result.violations.length} violation(s) on the ${what}`);
  }
  console.log(`axe: no violations on the ${what}`);
}

async function signIn(page, email, pass) {
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', pass);
  await Promise.all([page.waitForURL(`${base}/app**`), page.click('button[type=submit]')]);
}

const browser = await launch();
let failed = false;
try {
  // The technician, on a phone, starts the inspection from the ticket.
  const tech = await (await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true })).newPage();
  await signIn(tech, 'tech@inspection.test', techPassword);
  await tech.goto(`${base}/app/tickets/${ticketId}`);
  await tech.selectOption('[data-testid=inspection-sheet]', sheet.id);
  await Promise.all([tech.waitForURL(/\/app\/inspections\//), tech.click('[data-testid=inspection-start]')]);
  const inspectionUrl = tech.url().split('?')[0];
  const label = () => tech.textContent('[data-section-label]');
  if (!(await label()).startsWith('1 of 2')) throw new Error(`the section nav reads ${await label()}`);
  if (await tech.isVisible('#f-front_pads')) throw new Error('the second section shows on the first screen');
  await shot(tech, 'tech-first-section');

  // A tap saves the finding; a reading saves when the field is left.
  const saved = (key) => tech.waitForSelector(`#f-${key} [data-save-state]:has-text("Saved")`);
  await tech.click('#f-oil [data-testid=cond-good]');
  await saved('oil');
  await tech.click('#f-battery [data-testid=cond-good]');
  await saved('battery');
  await tech.fill('#f-battery [data-testid=measurement]', '12.6');
  await tech.locator('#f-battery [data-testid=measurement]').blur();
  await waitFor('the battery reading saved', async () => {
    const i = await api('GET', inspectionUrl.replace(`${base}/app`, '/api/v1'), token);
    return i.findings.find((f) => f.item_key === 'battery').measurement === 12.6;
  });
  await axe(tech, "technician's page");

  // Next screen: the pads are urgent, so a photo is asked for.
  await tech.click('[data-next]');
  if (!(await label()).startsWith('2 of 2')) throw new Error(`after Next the nav reads ${await label()}`);
  await tech.click('#f-front_pads [data-testid=cond-urgent]');
  await saved('front_pads');
  await tech.waitForSelector('#f-front_pads [data-testid=photo-needed]');
  const progress = await tech.textContent('[data-testid=inspection-progress]');
  if (progress.trim() !== '3 of 3 items checked') throw new Error(`progress reads ${progress}`);

  // The camera, through the file input: a JPEG the phone "took".
  const photo = Buffer.from((await tech.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 1600; c.height = 1200;
    const g = c.getContext('2d');
    const grad = g.createLinearGradient(0, 0, 1600, 1200);
    grad.addColorStop(0, '#6b4f2a'); grad.addColorStop(1, '#222');
    g.fillStyle = grad; g.fillRect(0, 0, 1600, 1200);
    g.fillStyle = '#c0c0c0'; g.beginPath(); g.arc(800, 600, 400, 0, 2 * Math.PI); g.fill();
    return c.toDataURL('image/jpeg', 0.85);
  })).split(',')[1], 'base64');
  await tech.setInputFiles('#f-front_pads [data-testid=camera]', { name: 'IMG_4032.JPG', mimeType: 'image/jpeg', buffer: photo });
  const thumb = tech.locator('#f-front_pads [data-testid=uploaded] img');
  await thumb.waitFor({ timeout: 20000 });
  await waitFor('the thumbnail to load', () => thumb.evaluate((img) => img.complete && img.naturalWidth > 0));
  if (await tech.locator('#f-front_pads [data-testid=photo-needed]').count()) throw new Error('the photo is still asked for after the upload');
  await shot(tech, 'tech-photo');

  // The finding's service goes on the estimate, then the inspection is handed in.
  await Promise.all([tech.waitForLoadState('load'), tech.click('#f-front_pads [data-testid=add-service]')]);
  await tech.waitForSelector('#f-front_pads [data-testid=on-estimate]');
  await Promise.all([tech.waitForURL(/ok=inspection_submitted/), tech.click('[data-testid=insp-submit]')]);
  const status = await tech.getAttribute('[data-testid=inspection-status]', 'data-status');
  if (status !== 'submitted') throw new Error(`after handing in the status is ${status}`);
  await shot(tech, 'tech-handed-in');

  // The advisor, on a laptop, publishes it and then watches the ticket.
  const advisor = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(advisor, owner, password);
  await advisor.goto(inspectionUrl);
  await Promise.all([advisor.waitForURL(/ok=inspection_published/), advisor.click('[data-testid=insp-publish]')]);
  await shot(advisor, 'advisor-published');
  await advisor.goto(`${base}/app/tickets/${ticketId}`);
  await waitFor('the advisor page to go live', () => advisor.evaluate(() => document.body.dataset.live === 'on'));
  await advisor.evaluate(() => { window.__noReload = true; });

  // The customer sees the finding with its photo and approves its service.
  const { url: link } = await api('POST', `/api/v1/tickets/${ticketId}/customer-links`, token, {});
  const customer = await (await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2 })).newPage();
  await customer.goto(link, { waitUntil: 'load' });
  const finding = customer.locator('[data-testid=finding][data-condition=urgent]');
  await finding.waitFor();
  if (!(await finding.textContent()).includes('Front brake pads')) throw new Error('the urgent finding is not the pads');
  const img = finding.locator('[data-testid=finding-media] img');
  await img.scrollIntoViewIfNeeded();
  await waitFor('the finding photo to load', () => img.evaluate((i) => i.complete && i.naturalWidth > 0));
  await shot(customer, 'customer-finding');
  await axe(customer, "customer's page");
  const boxes = customer.locator('input[name=approve]');
  for (let i = 0; i < await boxes.count(); i++) {
    const box = boxes.nth(i);
    const title = await box.locator('xpath=..').textContent();
    if (title.includes('Replace front brake pads')) await box.check(); else await box.uncheck();
  }
  await customer.fill('[data-testid=signer-name]', 'Casey Customer');
  const pad = await customer.locator('[data-testid=signature-pad]').boundingBox();
  await customer.mouse.move(pad.x + 20, pad.y + pad.height * 0.6);
  await customer.mouse.down();
  for (let i = 1; i <= 16; i++) await customer.mouse.move(pad.x + 20 + i * (pad.width - 40) / 16, pad.y + pad.height * (0.5 + 0.3 * Math.sin(i)), { steps: 2 });
  await customer.mouse.up();
  await Promise.all([customer.waitForURL(/#confirmation$/), customer.click('[data-testid=approve-submit]')]);
  const conf = await customer.textContent('[data-testid=conf-approved]');
  if (!conf.includes('Replace front brake pads')) throw new Error(`the confirmation approves: ${conf}`);

  // The advisor sees it live, and the record keeps the finding's photo.
  await advisor.waitForSelector('[data-testid=work-approved]', { timeout: 10000 });
  if (!(await advisor.evaluate(() => window.__noReload === true))) throw new Error('the advisor page reloaded');
  await Promise.all([advisor.waitForURL(/\/app\/approvals\//), advisor.click('[data-testid=work-approved] a')]);
  const recorded = advisor.locator('[data-testid=approval-finding] img');
  await recorded.waitFor();
  await waitFor('the recorded photo to load', () => recorded.evaluate((i) => i.complete && i.naturalWidth > 0));
  await shot(advisor, 'advisor-approval');
  console.log('inspection browser test passed');
} catch (e) {
  failed = true;
  console.error('inspection browser test failed:', e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
