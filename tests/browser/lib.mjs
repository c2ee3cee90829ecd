// What the browser tests share: ports, waiting, screenshots, chromium, and
// a Pitwall process that is stopped when the test exits.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const bin = process.env.PITWALL_BIN;
if (!bin || !existsSync(bin)) throw new Error(`PITWALL_BIN must point at the pitwall binary (got ${bin})`);
export const artifacts = join(process.env.CARGO_TARGET_DIR || 'target', 'browser-artifacts');
mkdirSync(artifacts, { recursive: true });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

export async function waitFor(what, check, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const children = [];
export function cleanup() {
  for (const c of children) {
    try { c.kill('SIGTERM'); } catch { /* already gone */ }
  }
}
process.on('exit', cleanup);

/** Starts a child that is stopped when the test ends. */
export function start(cmd, args, options) {
  const child = spawn(cmd, args, options);
  children.push(child);
  return child;
}

/** The test's database: SQLite in `work`, or, with
 * PITWALL_BROWSER_DB=postgres, a new PostgreSQL database (at
 * PITWALL_TEST_PG, as the Rust tests use), migrated, and dropped when the
 * test exits. Answers its DATABASE_URL. */
export function database(work) {
  const kind = process.env.PITWALL_BROWSER_DB || 'sqlite';
  if (kind === 'sqlite') return `sqlite://${work}/pitwall.db?mode=rwc`;
  if (kind !== 'postgres') throw new Error(`PITWALL_BROWSER_DB must be sqlite or postgres, not ${kind}`);
  const server = process.env.PITWALL_TEST_PG || 'postgres://postgres@127.0.0.1:5432';
  const name = `pitwall_browser_${process.pid}_${Date.now()}`;
  const psql = (sql) => execFileSync('psql', [`${server}/postgres`, '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: 'inherit' });
  psql(`CREATE DATABASE ${name}`);
  // At exit Pitwall is stopped at once (a graceful stop would outlive this
  // process and log the missing database), then the database dropped.
  process.on('exit', () => {
    for (const c of children) {
      try { c.kill('SIGKILL'); } catch { /* already gone */ }
    }
    try { psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* best effort */ }
  });
  const url = `${server}/${name}`;
  execFileSync(bin, ['migrate', 'up'], { env: { ...process.env, DATABASE_URL: url, PITWALL_DATA_DIR: work }, stdio: 'inherit' });
  console.log(`browser test database: PostgreSQL (${name})`);
  return url;
}

/** Runs `pitwall serve` and waits until /ready answers. */
export async function serve(env, base) {
  start(bin, ['serve'], { env, stdio: 'inherit' });
  await waitFor('pitwall to be ready', async () => {
    try { return (await fetch(`${base}/ready`)).ok; } catch { return false; }
  });
}

/** Numbered full-page screenshots under the artifacts folder (or `dir`). */
export function screenshots(prefix, dir = artifacts) {
  let step = 0;
  return (page, name) => page.screenshot({
    path: join(dir, `${prefix}${String(++step).padStart(2, '0')}-${name}.png`),
    fullPage: true,
  });
}

/** Debian's chromium, headless. */
export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** `X-Twilio-Signature` for a form POST to `url`: base64 of HMAC-SHA1 with
 * the auth token over the URL followed by each parameter's name and value,
 * sorted by name (Twilio's scheme, which Pitwall checks). */
export function twilioSignature(authToken, url, params) {
  const data = Object.keys(params).sort().reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}
