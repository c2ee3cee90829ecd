// Browser test: one ticket carried from inspection to completed by three
// signed-in people on three screens (the technician on a phone, parts, the
// advisor) and the customer on a phone. Each hand-off arrives on the next
// person's open work queue without a reload: the inspection handed in
// reaches the advisor's "To qualify", a position needing parts reaches the
// parts queue, the customer's approval reaches the technician's "To
// complete", and the last position done completes the job on the
// advisor's open ticket page. Each person is told of their own hand-off
// at the top of their screen. Screenshots go to the artifacts folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, bin, database, freePort, launch, screenshots, serve, waitFor } from './lib.mjs';

const work = mkdtempSync(join(tmpdir(), 'pitwall-workflow-'));
const shot = screenshots('flow-');
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
const techKey = await token('tech@demo.pitwall.test');
const partsKey = await token('parts@demo.pitwall.test');

const pushed = await api('PUT', '/api/pos/v1/tickets/RO-FLOW-1', posKey, {
  kind: 'workorder', number: '77001', pos_updated_at: new Date().toISOString(),
  customer: { external_id: 'C-FLOW', first_name: 'Fran', last_name: 'Flow', phone: '(512) 555-0177' },
  vehicle: { external_id: 'V-FLOW', year: 2020, make: 'Subaru', model: 'Outback', plate: 'FLW-7001' },
  services: [{ external_id: 'S1', title: 'Brake pads', status: 'recommended', line_items: [
    { kind: 'labor', description: 'Replace front pads', quantity: 1, unit_price: 15000, taxable: true }] }],
  tax_rate: 0.0825,
});
const ticketId = pushed.ticket.id;
const sheet = await api('POST', '/api/v1/inspection-templates', owner, {
  name: 'Brakes only',
  sections: [{ name: 'Brakes', items: [{ key: 'pads', label: 'Brake pads', kind: 'condition', photo: 'never' }] }],
});

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
  async function watching(page, path) {
    await page.goto(`${base}${path}`);
    await waitFor(`${path} to go live`, () => page.evaluate(() => document.body.dataset.live === 'on'));
    await page.evaluate(() => { window.__noReload = true; });
  }
  const row = `[data-testid=work-row][data-ticket="${ticketId}"]`;
  async function arrives(page, who) {
    await waitFor(`the ticket on ${who}'s queue`, async () => (await page.locator(row).count()) === 1, 10000);
    if (!(await page.evaluate(() => window.__noReload === true))) throw new Error(`${who}'s page reloaded`);
  }
  // The hand-off named at the top of the person's open page (only theirs).
  const told = `[data-testid=handoff][data-ticket="${ticketId}"]`;
  async function toldOf(page, who, what) {
    await waitFor(`the hand-off on ${who}'s screen`, async () => (await page.locator(told).count()) === 1, 10000);
    const said = await page.textContent(told);
    if (!said.includes(what)) throw new Error(`${who} was told "${said}", not of ${what}`);
  }
  async function leaves(page, who) {
    await waitFor(`the ticket to leave ${who}'s queue`, async () => (await page.locator(row).count()) === 0, 10000);
  }

  const advisor = await signedIn('advisor@demo.pitwall.test', { width: 1280, height: 900 });
  const parts = await signedIn('parts@demo.pitwall.test', { width: 1280, height: 900 });
  const tech = await signedIn('tech@demo.pitwall.test', { width: 390, height: 844 });
  await watching(advisor, '/app/work?queue=qualification');
  await watching(parts, '/app/work?queue=parts');
  await watching(tech, '/app/work?queue=completion');
  if (await advisor.locator(row).count()) throw new Error('the ticket waits for qualification before any inspection');

  // The technician inspects on the phone and hands in.
  const insp = await api('POST', `/api/v1/tickets/${ticketId}/inspections`, techKey, { template_id: sheet.id });
  await api('PUT', `/api/v1/inspections/${insp.id}/findings/pads`, techKey, { condition: 'urgent', customer_note: 'Pads at 2 mm' });
  await api('POST', `/api/v1/inspections/${insp.id}/submit`, techKey, {});
  await arrives(advisor, 'the advisor');
  await toldOf(advisor, 'the advisor', 'findings to qualify');
  if (await parts.locator(told).count()) throw new Error('parts was told of the advisor\'s hand-off');
  await shot(advisor, 'advisor-to-qualify');

  // The advisor adds the rotors the pads wore into; they need parts.
  const added = await api('POST', `/api/v1/tickets/${ticketId}/services`, advisorKey, {
    title: 'Front rotors', customer_note: 'Grooved by the worn pads', parts_needed: true,
    line_items: [{ kind: 'labor', description: 'Replace rotors', quantity: 1, unit_price: 12000, taxable: true }],
  });
  await arrives(parts, 'parts');
  await shot(parts, 'parts-queue');
  await api('PATCH', `/api/v1/tickets/${ticketId}/services/${added.service_id}`, partsKey, {
    part_lines: [{ kind: 'part', description: 'Front rotor', part_number: 'BR-900', quantity: 2, unit_price: 6550, taxable: true }],
    parts_status: 'received', internal_note: 'On the shelf',
  });
  await leaves(parts, 'parts');

  // The advisor sends the recommendations; the customer decides on a phone.
  await api('POST', `/api/v1/inspections/${insp.id}/publish`, advisorKey, { send: null });
  await leaves(advisor, 'the advisor');
  const link = (await api('POST', `/api/v1/tickets/${ticketId}/customer-links`, advisorKey, {})).url;
  const customer = await (await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })).newPage();
  await customer.goto(link);
  await customer.waitForSelector('[data-testid=approve-submit]');
  const note = await customer.textContent('[data-testid=service-note]');
  if (!note.includes('Grooved by the worn pads')) throw new Error(`the advisor's note is not on the customer's page: ${note}`);
  await customer.fill('[data-testid=signer-name]', 'Fran Flow');
  await customer.locator('[data-testid=signature-pad]').scrollIntoViewIfNeeded();
  const pad = await customer.locator('[data-testid=signature-pad]').boundingBox();
  await customer.mouse.move(pad.x + 20, pad.y + pad.height * 0.6);
  await customer.mouse.down();
  for (let i = 1; i <= 16; i++) {
    await customer.mouse.move(pad.x + 20 + i * (pad.width - 40) / 16, pad.y + pad.height * (0.5 + 0.25 * Math.sin(i)), { steps: 2 });
  }
  await customer.mouse.up();
  const sig = await customer.inputValue('input[name=signature]');
  if (!sig.startsWith('data:image/png;base64,')) throw new Error('the drawing did not become a signature');
  await customer.click('[data-testid=approve-submit]');
  await customer.waitForURL(/#confirmation$/, { timeout: 10000 }).catch(async (e) => {
    throw new Error(`the approval was not recorded: ${(await customer.textContent('main')).replace(/\s+/g, ' ').slice(0, 600)}`);
  });
  await customer.waitForSelector('[data-testid=confirmation]');
  await shot(customer, 'customer-approved');

  // The approved work reaches the technician's open queue.
  await arrives(tech, 'the technician');
  await toldOf(tech, 'the technician', 'approved work to do');
  await shot(tech, 'tech-to-complete');

  // The advisor watches the ticket while the technician completes it.
  await watching(advisor, `/app/tickets/${ticketId}`);
  await tech.click(`${row} a`);
  for (let done = 0; done < 2; done++) {
    await Promise.all([tech.waitForURL(/ok=service_done/), tech.click('[data-testid=service-done-submit] >> nth=0')]);
  }
  const stage = await tech.getAttribute('[data-testid=ticket-stage]', 'data-stage');
  if (stage !== 'completed') throw new Error(`after the last position the stage is ${stage}`);
  await shot(tech, 'tech-completed');
  await waitFor('the completion on the advisor\'s open ticket', async () =>
    (await advisor.textContent('[data-testid=timeline]')).includes('in work → completed'), 10000);
  if (!(await advisor.evaluate(() => window.__noReload === true))) throw new Error("the advisor's ticket page reloaded");
  // The facts card follows too: the stage the advisor sees is the new one.
  await waitFor('the completed stage on the advisor\'s facts card', async () =>
    (await advisor.getAttribute('[data-testid=ticket-stage]', 'data-stage')) === 'completed', 10000);
  await shot(advisor, 'advisor-completed');
  const history = await api('GET', `/api/v1/tickets/${ticketId}/stage-history`, owner);
  const path = history.items.map((m) => m.to).join(' → ');
  if (path !== 'qualification → awaiting_approval → in_work → completed') throw new Error(`the stages went ${path}`);
  console.log('workflow browser test passed; screenshots in', artifacts);
} catch (e) {
  failed = true;
  console.error('workflow browser test failed:', e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
