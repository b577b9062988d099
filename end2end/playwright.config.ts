import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Two consoles, each on a free port with its own empty database: one driven with
// JavaScript (hydrated), one without (plain forms). Computed once in the runner
// and handed to the workers through the environment.
const root = path.resolve(__dirname, '..');

function freePort(): string {
  return execFileSync(process.execPath, [
    '-e',
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})",
  ])
    .toString()
    .trim();
}

for (const name of ['JS', 'NOJS']) {
  process.env[`E2E_${name}_PORT`] ??= freePort();
  process.env[`E2E_${name}_DATA`] ??= mkdtempSync(path.join(tmpdir(), `portcullis-e2e-${name.toLowerCase()}-`));
}

const server = (name: string) => {
  const port = process.env[`E2E_${name}_PORT`]!;
  return {
    command: process.env.PORTCULLIS_BIN ?? path.join(root, 'target/debug/portcullis'),
    cwd: root,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    env: {
      PORTCULLIS_LISTEN: `127.0.0.1:${port}`,
      PORTCULLIS_PUBLIC_URL: `http://127.0.0.1:${port}`,
      PORTCULLIS_DATA_DIR: process.env[`E2E_${name}_DATA`]!,
      PORTCULLIS_SITE_DIR: path.join(root, 'target/site'),
      PORTCULLIS_LOG: 'warn',
    },
  };
};

const chromium = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
};

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [['list']],
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: { launchOptions: chromium, trace: 'retain-on-failure' },
  projects: [
    {
      name: 'with-javascript',
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      name: 'without-javascript',
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_NOJS_PORT}`,
        javaScriptEnabled: false,
        dataDir: process.env.E2E_NOJS_DATA,
      },
    },
  ],
  webServer: [server('JS'), server('NOJS')],
});
