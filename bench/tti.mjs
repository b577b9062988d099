// Time to interactive of console pages in Chromium on a throttled network (docs/bundle-size.md).
//
//   node bench/tti.mjs [--bin target/debug/portcullis] [--site target/site] [--runs 5]
//                      [--pages /directory,/policies] [--mbit 10] [--rtt 40]
//
// Starts its own console (an empty data folder, the admin made through /setup), then loads
// each page cold (no cache) through the DevTools protocol's network throttling, `--runs`
// times, and prints the medians: the page without JavaScript (its floor: the server's HTML
// and CSS), and with it until `#console[data-hydrated=true]`, with the bytes transferred.
import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const bin = path.resolve(args.bin ?? 'target/debug/portcullis');
const site = path.resolve(args.site ?? 'target/site');
const runs = Number(args.runs ?? 5);
const pages = (args.pages ?? '/directory,/policies').split(',');
const mbit = Number(args.mbit ?? 10);
const rtt = Number(args.rtt ?? 40);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(path.join(tmpdir(), 'portcullis-tti-'));
const server = spawn(bin, [], {
  env: {
    PATH: process.env.PATH,
    PORTCULLIS_LISTEN: `127.0.0.1:${port}`,
    PORTCULLIS_PUBLIC_URL: base,
    PORTCULLIS_DATA_DIR: data,
    PORTCULLIS_SITE_DIR: site,
    PORTCULLIS_LOG: 'warn',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stop = () => {
  server.kill();
  rmSync(data, { recursive: true, force: true });
};

try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('the console did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  const admin = { email: 'bench@example.com', password: 'a long bench password' };
  {
    const page = await browser.newPage();
    await page.goto(`${base}/setup`);
    await page.getByLabel('Setup token').fill(readFileSync(path.join(data, 'setup-token'), 'utf8').trim());
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Name').fill('Bench');
    await page.getByLabel('Password', { exact: true }).fill(admin.password);
    await page.getByLabel('Confirm password').fill(admin.password);
    await page.getByRole('button', { name: 'Create admin' }).click();
    await page.waitForURL(`${base}/`);
    await page.context().storageState({ path: path.join(data, 'state.json') });
    await page.close();
  }

  /** One cold load of `url`: milliseconds to ready, and bytes over the wire. */
  async function load(url, javaScriptEnabled) {
    const context = await browser.newContext({ javaScriptEnabled, storageState: path.join(data, 'state.json') });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: rtt,
      downloadThroughput: (mbit * 1e6) / 8,
      uploadThroughput: (mbit * 1e6) / 8,
    });
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e) => (bytes += e.encodedDataLength));
    const start = performance.now();
    await page.goto(url, { waitUntil: javaScriptEnabled ? 'commit' : 'load' });
    if (javaScriptEnabled) {
      await page.locator('#console[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 60_000 });
    } else {
      await page.locator('main h1').first().waitFor();
    }
    const ms = performance.now() - start;
    await context.close();
    return { ms, bytes };
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`| Page | Load | Median of ${runs} | Bytes transferred |`);
  console.log('|---|---|---:|---:|');
  for (const p of pages) {
    for (const [label, js] of [
      ['floor: HTML and CSS, no JavaScript', false],
      ['interactive (hydrated)', true],
    ]) {
      const results = [];
      for (let i = 0; i < runs; i++) results.push(await load(`${base}${p}`, js));
      const kb = (median(results.map((r) => r.bytes)) / 1024).toFixed(0);
      console.log(`| ${p} | ${label} | ${median(results.map((r) => r.ms)).toFixed(0)} ms | ${kb} KB |`);
    }
  }
  await browser.close();
} finally {
  stop();
}
