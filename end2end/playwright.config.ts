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
process.env.E2E_SIM_PORT ??= freePort();
// The JavaScript console logs at debug level into a file the secret-leak test reads.
process.env.E2E_JS_LOG ??= path.join(process.env.E2E_JS_DATA!, 'server.log');

const bin = process.env.PORTCULLIS_BIN ?? path.join(root, 'target/debug/portcullis');

const server = (name: string) => {
  const port = process.env[`E2E_${name}_PORT`]!;
  const log = name === 'JS' ? process.env.E2E_JS_LOG! : '/dev/null';
  return {
    command: `exec '${bin}' >> '${log}' 2>&1`,
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
      PORTCULLIS_LOG: name === 'JS' ? 'debug' : 'warn',
      // The Okta simulator runs on loopback over http.
      PORTCULLIS_OUTBOUND_ALLOW: '127.0.0.1',
    },
  };
};

// The Okta simulator with its sample org.
const simulator = {
  command: `exec '${path.join(root, 'target/debug/okta-sim')}' --listen 127.0.0.1:${process.env.E2E_SIM_PORT}`,
  cwd: root,
  url: `http://127.0.0.1:${process.env.E2E_SIM_PORT}/.well-known/openid-configuration`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: 'ignore' as const,
  stderr: 'pipe' as const,
};

const chromium = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
};

// `dataDir` is the option that fixtures.ts declares.
export default defineConfig<{ dataDir: string }>({
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
      testMatch: 'console.spec.ts',
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      name: 'without-javascript',
      testMatch: 'console.spec.ts',
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_NOJS_PORT}`,
        javaScriptEnabled: false,
        dataDir: process.env.E2E_NOJS_DATA,
      },
    },
    {
      // The wizard needs JavaScript; it runs on the console the first project set up.
      name: 'identity-providers',
      testMatch: 'providers.spec.ts',
      dependencies: ['with-javascript'],
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      // Directory synchronization, from the provider the previous project connected.
      name: 'directory',
      testMatch: 'directory.spec.ts',
      dependencies: ['identity-providers'],
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      // Signing in with the provider, role mappings, refresh and sign-out at the provider.
      name: 'sign-in',
      testMatch: 'sign-in.spec.ts',
      dependencies: ['directory'],
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      // The policy builder: applications, policies with the live preview, Test a user, export and import.
      name: 'policies',
      testMatch: 'policies.spec.ts',
      dependencies: ['sign-in'],
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      // Debian's nginx and Caddy, configured from the README's snippets, in front of two hosts
      // (*.portcullis.test, resolved to loopback by Chromium) asking /verify and /verify/forward.
      name: 'forward-auth',
      testMatch: 'forward-auth.spec.ts',
      dependencies: ['sign-in'],
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
        launchOptions: { ...chromium, args: [...chromium.args, '--host-resolver-rules=MAP *.portcullis.test 127.0.0.1'] },
      },
    },
    {
      // axe-core on every page in light and dark mode, the theme choice, keyboard-only use of
      // the wizard and the policy editor: last, on the console the others filled.
      name: 'accessibility',
      testMatch: 'accessibility.spec.ts',
      dependencies: ['policies', 'forward-auth'],
      use: {
        baseURL: `http://127.0.0.1:${process.env.E2E_JS_PORT}`,
        javaScriptEnabled: true,
        dataDir: process.env.E2E_JS_DATA,
      },
    },
    {
      // Two replicas on one PostgreSQL of the test's own, behind Debian's nginx in round
      // robin; it starts (and kills) its own processes.
      name: 'replicas',
      testMatch: 'replicas.spec.ts',
      timeout: 120_000,
      use: { javaScriptEnabled: true },
    },
  ],
  webServer: [server('JS'), server('NOJS'), simulator],
});
