import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, expect, ready, shot, ADMIN } from './fixtures';

// Two replicas on one PostgreSQL (a cluster of this test's own, scripts/with-postgres.sh)
// behind Debian's nginx in round robin, configured from the README's snippet; an Okta
// simulator of their own, so its latency slows no other test.
const root = path.resolve(__dirname, '../..');
const README = readFileSync(path.join(root, 'README.md'), 'utf8');
const bin = process.env.PORTCULLIS_BIN ?? path.join(root, 'target/debug/portcullis');
const fixture = JSON.parse(readFileSync(path.join(root, 'okta-sim/fixtures/sample-org.json'), 'utf8'));
const SECRET_KEY = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const WIKI = 'http://wiki.replicas.test/';

type Replica = { id: string; port: number; proc?: ChildProcess; log: string };

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-replicas-'));
const procs: ChildProcess[] = [];
let pgUrl = '';
let simUrl = '';
let lbUrl = '';
let token = '';
let providerId = '';
const replicas: Replica[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function env(r: Replica): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    PORTCULLIS_REPLICA_ID: r.id,
    PORTCULLIS_LISTEN: `127.0.0.1:${r.port}`,
    PORTCULLIS_PUBLIC_URL: lbUrl,
    PORTCULLIS_DATABASE_URL: pgUrl,
    PORTCULLIS_SECRET_KEY: SECRET_KEY,
    PORTCULLIS_DATA_DIR: path.join(dir, r.id),
    PORTCULLIS_SITE_DIR: path.join(root, 'target/site'),
    PORTCULLIS_ADMIN_EMAIL: ADMIN.email,
    PORTCULLIS_ADMIN_PASSWORD: ADMIN.password,
    PORTCULLIS_OUTBOUND_ALLOW: '127.0.0.1',
    PORTCULLIS_LOG: 'info',
  };
}

async function startReplica(r: Replica) {
  const out = `>> '${r.log}' 2>&1`;
  r.proc = spawn('sh', ['-c', `exec '${bin}' ${out}`], { env: env(r), stdio: 'ignore' });
  procs.push(r.proc);
  await expect
    .poll(async () => (await fetch(`http://127.0.0.1:${r.port}/readyz`).catch(() => null))?.status, {
      timeout: 60_000,
      message: `replica ${r.id} ready (log: ${r.log})`,
    })
    .toBe(200);
}

async function readyz(r: Replica): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${r.port}/readyz`).catch(() => null);
  return res ? res.json() : null;
}

async function api(r: Replica, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${r.port}/api/v1${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function sim(op: unknown) {
  const res = await fetch(`${simUrl}/__sim/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(op) });
  expect(res.ok, await res.text()).toBeTruthy();
}

/** `/verify` of one replica, as nginx's auth_request asks it. */
async function verify(r: Replica): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${r.port}/verify`, { headers: { 'x-original-url': WIKI, 'x-original-method': 'GET' } });
  return res.status;
}

async function waitFor(what: string, f: () => Promise<boolean>, timeout: number) {
  await expect.poll(f, { timeout, intervals: [100, 250, 500], message: what }).toBe(true);
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  // PostgreSQL: the script prints the server's URL into a file and keeps the cluster up until TERM.
  const urlFile = path.join(dir, 'postgres-url');
  const pg = spawn(path.join(root, 'scripts/with-postgres.sh'), ['sh', '-c', `echo "$TEST_POSTGRES_URL" > '${urlFile}'; exec sleep 100000`], {
    stdio: 'ignore',
  });
  procs.push(pg);
  await expect.poll(() => existsSync(urlFile) && readFileSync(urlFile, 'utf8').trim().length > 0, { timeout: 60_000 }).toBe(true);
  pgUrl = readFileSync(urlFile, 'utf8').trim();

  const simPort = await freePort();
  simUrl = `http://127.0.0.1:${simPort}`;
  const simProc = spawn(path.join(root, 'target/debug/okta-sim'), ['--listen', `127.0.0.1:${simPort}`], { stdio: 'ignore' });
  procs.push(simProc);
  await expect.poll(async () => (await fetch(`${simUrl}/.well-known/openid-configuration`).catch(() => null))?.status, { timeout: 30_000 }).toBe(200);

  const lbPort = await freePort();
  lbUrl = `http://127.0.0.1:${lbPort}`;
  for (const id of ['replica-a', 'replica-b']) {
    replicas.push({ id, port: await freePort(), log: path.join(dir, `${id}.log`) });
  }
  // One after the other: the first migrates and is the background runner.
  await startReplica(replicas[0]);
  await startReplica(replicas[1]);

  // nginx from the README's snippet, the two replicas as its upstream.
  const m = README.match(/^# portcullis:replicas:begin\n([\s\S]*?)^# portcullis:replicas:end$/m);
  expect(m, 'README.md has the replicas nginx snippet between markers').toBeTruthy();
  const snippet = m![1]
    .replace('10.0.0.11:3000', `127.0.0.1:${replicas[0].port}`)
    .replace('10.0.0.12:3000', `127.0.0.1:${replicas[1].port}`)
    .replace(/listen 80;.*$/m, `listen 127.0.0.1:${lbPort};`)
    .replace('portcullis.example.com', '127.0.0.1');
  expect(snippet).not.toMatch(/10\.0\.0\.|example\.com/);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${snippet}
}
`,
  );
  const args = ['-p', dir, '-c', conf, '-e', path.join(dir, 'nginx-error.log')];
  execFileSync('/usr/sbin/nginx', ['-t', ...args], { stdio: 'pipe' });
  const nginx = spawn('/usr/sbin/nginx', args, { stdio: 'ignore' });
  procs.push(nginx);
  await expect.poll(async () => (await fetch(`${lbUrl}/healthz`).catch(() => null))?.status, { timeout: 15_000 }).toBe(200);

  // An API token, made with the command line against the shared database.
  token = execFileSync(bin, ['api-token', 'create', '--name', 'replicas test', '--role', 'admin'], { env: env(replicas[0]) })
    .toString()
    .trim();
  expect(token).toMatch(/^pcat_/);
});

test.afterAll(async () => {
  for (const p of procs.reverse()) {
    if (p.exitCode === null) p.kill('SIGTERM');
  }
});

test('a person signed in through the load balancer keeps working on either replica', async ({ page }) => {
  await page.goto(`${lbUrl}/login`);
  await ready(page, true);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(`${lbUrl}/`);
  // Round robin: consecutive pages come from both replicas, signed in on each.
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    await page.goto(`${lbUrl}/settings`);
    const id = (await page.getByRole('row', { name: /PORTCULLIS_REPLICA_ID/ }).getByRole('cell').nth(1).textContent())!.trim();
    seen.add(id);
  }
  expect([...seen].sort()).toEqual(['replica-a', 'replica-b']);
  await expect(page.getByRole('row', { name: /Database backend/ })).toContainText('PostgreSQL');
  await expect(page.getByRole('row', { name: /Background runner/ })).toContainText('replica-a');
  await shot(page, 'settings-replicas');
  // The session cookie works on each replica directly too (loopback: cookies ignore the port).
  for (const r of replicas) {
    await page.goto(`http://127.0.0.1:${r.port}/settings`);
    await expect(page.getByRole('row', { name: /PORTCULLIS_REPLICA_ID/ })).toContainText(r.id);
  }
  expect((await readyz(replicas[0])).runner_lock).toBe('held');
  expect((await readyz(replicas[1])).runner_lock).toBe('another replica');
});

test('a sync started on one replica shows its progress on the other, which refuses a second one', async () => {
  const [a, b] = replicas;
  const app = fixture.oidcApps[0];
  const { status, json } = await api(a, 'POST', '/providers', {
    kind: 'okta',
    name: 'Okta',
    base_url: simUrl,
    client_id: app.clientId,
    client_secret: app.clientSecret,
    directory: { mode: 'api_token', api_token: fixture.apiTokens[0].token },
  });
  expect(status, JSON.stringify(json)).toBe(201);
  providerId = json.provider.id;
  // Schedule off for now: the last test turns it on.
  const settings = await api(a, 'GET', `/providers/${providerId}/sync/settings`);
  expect((await api(a, 'PUT', `/providers/${providerId}/sync/settings`, { ...settings.json, enabled: false })).status).toBe(200);

  await sim({ op: 'set_latency', ms: 2500 });
  const started = await api(a, 'POST', `/providers/${providerId}/sync`, { kind: 'full' });
  expect(started.status, JSON.stringify(started.json)).toBe(202);
  const runId = started.json.run_id;
  await waitFor(
    'replica B shows the live progress of the run replica A runs',
    async () => {
      const runs = await api(b, 'GET', `/providers/${providerId}/sync/runs`);
      return runs.json.progress?.run_id === runId;
    },
    20_000,
  );
  const second = await api(b, 'POST', `/providers/${providerId}/sync`, { kind: 'full' });
  expect(second.status, JSON.stringify(second.json)).toBe(409);
  await sim({ op: 'set_latency', ms: 0 });
  await waitFor(
    'the run succeeds, as replica B sees it',
    async () => (await api(b, 'GET', `/sync/runs/${runId}`)).json.run.status === 'succeeded',
    60_000,
  );
  const users = await api(b, 'GET', '/directory/users?limit=200');
  expect(users.json.items.length).toBeGreaterThan(10);
});

test('a policy changed on one replica is enforced by the other within 2 seconds', async () => {
  const [a, b] = replicas;
  const created = await api(a, 'POST', '/applications', {
    name: 'Wiki',
    hosts: [{ hostname: 'wiki.replicas.test' }],
    session_duration_minutes: 60,
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  const appId = created.json.id;
  expect(await verify(b)).not.toBe(200);

  let t0 = Date.now();
  const policy = await api(a, 'POST', `/applications/${appId}/policies`, {
    name: 'Public',
    action: 'bypass',
    rules: { include: [{ type: 'everyone' }] },
  });
  expect(policy.status, JSON.stringify(policy.json)).toBe(201);
  await waitFor('replica B lets the public page through', async () => (await verify(b)) === 200, 2_000);
  const opened = Date.now() - t0;

  t0 = Date.now();
  const blocked = await api(a, 'PUT', `/policies/${policy.json.id}`, {
    name: 'Public',
    action: 'block',
    rules: { include: [{ type: 'everyone' }] },
  });
  expect(blocked.status, JSON.stringify(blocked.json)).toBe(200);
  // Blocked: no one passes (anonymous callers are sent to sign in, 401).
  await waitFor('replica B no longer lets it through', async () => (await verify(b)) !== 200, 2_000);
  expect([401, 403]).toContain(await verify(b));
  console.log(`replica B followed replica A's policy changes in ${opened} ms and ${Date.now() - t0} ms`);
});

test('killing the runner mid-sync hands the lock over, fails the run, applies nothing, and the next scheduled run succeeds', async () => {
  test.setTimeout(240_000);
  const [a, b] = replicas;
  // Someone new at Okta: the interrupted run would have added them.
  const template = fixture.users.find((u: any) => u.status === 'ACTIVE');
  const newcomer = {
    ...template,
    id: '00uReplicaNewcomer01',
    // Changed now: the scheduled run may be incremental.
    created: new Date().toISOString(),
    lastUpdated: new Date().toISOString(),
    profile: { ...template.profile, login: 'newcomer@example.com', email: 'newcomer@example.com', firstName: 'New', lastName: 'Comer' },
  };
  await sim({ op: 'add_user', user: newcomer });
  const before = (await api(b, 'GET', '/directory/users?limit=200')).json.items.length;

  await sim({ op: 'set_latency', ms: 2500 });
  const started = await api(a, 'POST', `/providers/${providerId}/sync`, { kind: 'full' });
  expect(started.status, JSON.stringify(started.json)).toBe(202);
  const runId = started.json.run_id;
  await waitFor(
    'the run is under way on replica A',
    async () => (await api(b, 'GET', `/providers/${providerId}/sync/runs`)).json.progress?.run_id === runId,
    20_000,
  );
  await new Promise((r) => setTimeout(r, 1_500));
  a.proc!.kill('SIGKILL');
  await sim({ op: 'set_latency', ms: 0 });

  const t0 = Date.now();
  await waitFor('replica B takes the runner lock', async () => (await readyz(b))?.runner_lock === 'held', 15_000);
  const takeover = Date.now() - t0;
  await waitFor(
    'the interrupted run is marked failed',
    async () => (await api(b, 'GET', `/sync/runs/${runId}`)).json.run.status === 'failed',
    90_000,
  );
  const failed = (await api(b, 'GET', `/sync/runs/${runId}`)).json.run;
  expect(failed.error).toContain('interrupted');
  const users = (await api(b, 'GET', '/directory/users?limit=200')).json.items;
  expect(users.length, 'nothing of the interrupted run was applied').toBe(before);
  expect(users.map((u: any) => u.email)).not.toContain('newcomer@example.com');

  // The schedule, every minute: the new runner starts the next run on its own.
  const settings = await api(b, 'GET', `/providers/${providerId}/sync/settings`);
  expect((await api(b, 'PUT', `/providers/${providerId}/sync/settings`, { ...settings.json, enabled: true, interval_minutes: 1 })).status).toBe(200);
  await waitFor(
    'a scheduled run succeeds on replica B',
    async () => {
      const runs = (await api(b, 'GET', `/providers/${providerId}/sync/runs`)).json.items;
      return runs.some((r: any) => r.trigger_kind === 'schedule' && r.status === 'succeeded');
    },
    150_000,
  );
  const after = (await api(b, 'GET', '/directory/users?limit=200')).json.items;
  expect(after.map((u: any) => u.email)).toContain('newcomer@example.com');
  console.log(`replica B held the runner lock ${takeover} ms after replica A was killed`);
});
