import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser, Page } from '@playwright/test';
import { test, expect, signIn, ready } from './fixtures';

// Debian's nginx protects a small upstream with auth_request → /verify. Runs after the
// sign-in spec: the simulator knows the console's redirect URI and the directory is synced.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const SIM = `http://127.0.0.1:${process.env.E2E_SIM_PORT}`;
const CONSOLE = `http://127.0.0.1:${process.env.E2E_JS_PORT}`;
const PROVIDER = 'Acme Okta (prod)';
const PASSWORD = 'Portcullis-Demo-1';
const byName = (name: string) => fixture.groups.find((g: any) => g.profile.name === name);
const IT = byName('IT');
const VPN = byName('VPN Users');
const user = (login: string) => fixture.users.find((u: any) => u.profile.login === login);
const ADA = user('ada.lovelace@example.com'); // IT, not in VPN Users
const RADIA = user('radia.perlman@example.com'); // IT and VPN Users

let nginx: ChildProcess;
let upstream: http.Server;
let APP = '';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function control(request: any, op: object) {
  const r = await request.post(`${SIM}/__sim/control`, { data: op });
  expect(r.ok(), await r.text()).toBeTruthy();
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  expect(ADA.status).toBe('ACTIVE');
  expect(IT.members).toContain(RADIA.id);
  expect(VPN.members).toContain(RADIA.id);
  expect(VPN.members).not.toContain(ADA.id);

  // The upstream shows what reached it.
  upstream = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, user: req.headers['x-portcullis-user'] ?? null, email: req.headers['x-portcullis-email'] ?? null, groups: req.headers['x-portcullis-groups'] ?? null }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const port = await freePort();
  APP = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-nginx-'));
  // The README's nginx snippet, with local ports.
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /_portcullis {
      internal;
      proxy_pass ${CONSOLE}/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    }
    location / {
      auth_request /_portcullis;
      auth_request_set $portcullis_user $upstream_http_x_portcullis_user;
      auth_request_set $portcullis_email $upstream_http_x_portcullis_email;
      auth_request_set $portcullis_groups $upstream_http_x_portcullis_groups;
      auth_request_set $portcullis_sign_in $upstream_http_location;
      proxy_set_header X-Portcullis-User $portcullis_user;
      proxy_set_header X-Portcullis-Email $portcullis_email;
      proxy_set_header X-Portcullis-Groups $portcullis_groups;
      error_page 401 = @portcullis_sign_in;
      proxy_pass http://127.0.0.1:${upstreamPort};
    }
    location @portcullis_sign_in {
      return 302 $portcullis_sign_in;
    }
  }
}
`,
  );
  nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'inherit' });
  await expect
    .poll(async () => {
      try {
        return (await fetch(`${APP}/`, { redirect: 'manual' })).status;
      } catch {
        return 0;
      }
    }, { timeout: 15_000 })
    .toBeGreaterThan(0);

  // The application and its policy, imported as a policy document by the admin.
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, true);
  const list = await page.request.post('/api/providers/list');
  expect(list.ok()).toBeTruthy();
  const provider = (await list.json()).find((p: any) => p.name === PROVIDER);
  const doc = {
    format: 'portcullis.policies',
    version: 1,
    application: { name: 'Echo behind nginx', hosts: [{ hostname: '127.0.0.1', path_prefix: '/' }], session_duration_minutes: 60 },
    policies: [
      {
        name: 'IT, but not VPN users',
        action: 'allow',
        enabled: true,
        rules: {
          include: [{ type: 'group', provider_id: provider.id, external_id: IT.id }],
          require: [],
          exclude: [{ type: 'group', provider_id: provider.id, external_id: VPN.id }],
        },
      },
    ],
  };
  const imported = await page.request.post('/api/policies/import', { data: { application_id: null, document: JSON.stringify(doc), replace: false } });
  expect(imported.ok(), await imported.text()).toBeTruthy();
  await context.close();
});

test.afterAll(async () => {
  nginx?.kill('SIGTERM');
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

/** Through nginx to the console, the simulator's sign-in, and back through nginx. */
async function visitSignedIn(browser: Browser, login: string): Promise<{ page: Page; status: number | undefined }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${APP}/hello?x=1`);
  await expect(page).toHaveURL(new RegExp(`^${SIM}/`));
  await page.getByLabel('Username').fill(login);
  await page.getByLabel('Password').fill(PASSWORD);
  const back = page.waitForResponse((r) => r.url().startsWith(`${APP}/hello`));
  await page.getByRole('button', { name: 'Sign in' }).click();
  const response = await back;
  await expect(page).toHaveURL(`${APP}/hello?x=1`);
  return { page, status: response.status() };
}

test('signed out, nginx sends people to sign in; an allowed group reaches the upstream with identity headers', async ({ browser, request }) => {
  const direct = await request.get(`${APP}/hello?x=1`, { maxRedirects: 0 });
  expect(direct.status()).toBe(302);
  expect(direct.headers()['location']).toContain(`${CONSOLE}/auth/access?rd=`);

  const { page, status } = await visitSignedIn(browser, ADA.profile.login);
  expect(status).toBe(200);
  const seen = JSON.parse(await page.locator('body').innerText());
  expect(seen.path).toBe('/hello?x=1');
  expect(seen.email).toBe(ADA.profile.email);
  expect(seen.groups.split(',')).toContain('IT');
  await page.context().close();
});

test('a member of an excluded group is refused with 403', async ({ browser }) => {
  const { page, status } = await visitSignedIn(browser, RADIA.profile.login);
  expect(status).toBe(403);
  await expect(page.locator('body')).not.toContainText(RADIA.profile.email);
  await page.context().close();
});

test('a group change in Okta, synchronized, flips the decision without a restart', async ({ browser, request }) => {
  const { page, status } = await visitSignedIn(browser, ADA.profile.login);
  expect(status).toBe(200);

  await control(request, { op: 'add_membership', group_id: VPN.id, user_id: ADA.id });
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, true);
  await admin.goto(`${CONSOLE}/directory`);
  await ready(admin, true);
  const panel = admin.getByTestId('sync-panel').filter({ hasText: PROVIDER });
  await panel.getByRole('button', { name: 'Sync now' }).click();
  // The next request after the run is decided on the new groups.
  await expect.poll(async () => (await page.reload())?.status(), { timeout: 30_000 }).toBe(403);

  // And back.
  await control(request, { op: 'remove_membership', group_id: VPN.id, user_id: ADA.id });
  await admin.reload();
  await ready(admin, true);
  await admin.getByTestId('sync-panel').filter({ hasText: PROVIDER }).getByRole('button', { name: 'Sync now' }).click();
  await expect.poll(async () => (await page.reload())?.status(), { timeout: 30_000 }).toBe(200);
  await admin.goto(`${CONSOLE}/audit`);
  await expect(admin.locator('tr[data-action="access.blocked"]').first()).toBeVisible();
  await page.context().close();
  await admin.context().close();
});
