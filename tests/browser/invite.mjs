// Browser test: an owner signs in, invites an advisor; the advisor accepts
// through the link in the e-mail a real SMTP server received, signs in and
// sees only what the advisor role allows. Screenshots go to
// $CARGO_TARGET_DIR/browser-artifacts (or target/browser-artifacts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, bin, cleanup, database, freePort, launch, screenshots, serve, start, waitFor } from './lib.mjs';

const work = mkdtempSync(join(tmpdir(), 'pitwall-browser-'));
const shot = screenshots('');

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
execFileSync(bin, ['admin', 'create-shop', '--name', 'Browser Garage', '--slug', 'browser-garage', '--plan', 'pro',
  '--owner-email', 'owner@browser.test', '--owner-password', password], { env, stdio: 'inherit' });
await serve(env, base);

const browser = await launch();
let failed = false;
try {
  // The owner signs in and invites an advisor.
  const owner = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await owner.goto(`${base}/login`);
  await owner.fill('input[name=email]', 'owner@browser.test');
  await owner.fill('input[name=password]', password);
  await shot(owner, 'owner-login');
  await Promise.all([owner.waitForURL(`${base}/app**`), owner.click('button[type=submit]')]);
  await shot(owner, 'owner-home');
  await owner.click('[data-testid=nav-users]');
  await owner.fill('[data-testid=invite-email]', 'advisor@browser.test');
  await owner.selectOption('[data-testid=invite-role]', 'advisor');
  await Promise.all([owner.waitForLoadState('load'), owner.click('[data-testid=invite-submit]')]);
  await shot(owner, 'owner-invited');
  const pending = await owner.textContent('body');
  if (!pending.includes('advisor@browser.test')) throw new Error('the invitation is not listed on the users page');

  // The e-mail really went through SMTP.
  const mail = await waitFor('the invitation e-mail', () => {
    const dir = join(maildir, 'new');
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (text.includes('advisor@browser.test')) return text;
    }
    return null;
  });
  const unfolded = mail.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const match = unfolded.match(new RegExp(`${base.replace(/[.]/g, '\\.')}/invitations/[A-Za-z0-9_-]+`));
  if (!match) throw new Error(`no invitation link in the e-mail:\n${mail}`);

  // The advisor accepts on their own phone.
  const advisor = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await advisor.goto(match[0]);
  await shot(advisor, 'advisor-accept');
  await advisor.fill('[data-testid=accept-name]', 'Avery Advisor');
  await advisor.fill('[data-testid=accept-password]', 'advisor password 123');
  await Promise.all([advisor.waitForURL(`${base}/app**`), advisor.click('[data-testid=accept-submit]')]);
  await shot(advisor, 'advisor-home');
  const role = (await advisor.textContent('[data-testid=user-role]')).trim().toLowerCase();
  if (!role.includes('advisor')) throw new Error(`expected the advisor role, saw ${role}`);
  for (const allowed of ['nav-users']) {
    if (!(await advisor.isVisible(`[data-testid=${allowed}]`))) throw new Error(`advisor should see ${allowed}`);
  }
  for (const hidden of ['nav-settings', 'nav-api-keys', 'nav-admin']) {
    if ((await advisor.locator(`[data-testid=${hidden}]`).count()) > 0) throw new Error(`advisor must not see ${hidden}`);
  }
  // The advisor sees the staff but has no invite form.
  await advisor.click('[data-testid=nav-users]');
  await shot(advisor, 'advisor-users');
  if ((await advisor.locator('[data-testid=invite-email]').count()) > 0) throw new Error('advisor must not see the invite form');
  if ((await advisor.locator('[data-testid=member-row]').count()) !== 2) throw new Error('expected two members');
  // Pages the role lacks answer 403 in words even when typed in.
  const resp = await advisor.goto(`${base}/app/settings`);
  await shot(advisor, 'advisor-settings-denied');
  if (resp.status() !== 403) throw new Error(`settings answered ${resp.status()} to an advisor`);
  console.log('browser test passed; screenshots in', artifacts);
} catch (e) {
  failed = true;
  console.error('browser test failed:', e);
} finally {
  await browser.close();
  cleanup();
}
process.exit(failed ? 1 : 0);
