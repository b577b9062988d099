import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http, { IncomingHttpHeaders } from 'node:http';
import net, { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser, BrowserContext, Page } from '@playwright/test';
import { test, expect, signIn, ready, shot } from './fixtures';

// Forward auth through Debian's nginx (auth_request → /verify) and Caddy (forward_auth →
// /verify/forward), each configured with the README's snippet text, in front of two hosts:
//   www.portcullis.test   `/` a public application (Bypass for Everyone), `/admin` a protected one
//   wiki.portcullis.test  `/` another protected application
// Chromium maps *.portcullis.test to loopback (playwright.config.ts); raw attacks go over
// node sockets with the exact bytes. Runs after the sign-in spec: the simulator knows the
// console's redirect URI and the directory is synced.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const README = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
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

const PUBLIC_HOST = 'www.portcullis.test'; // host A
const WIKI_HOST = 'wiki.portcullis.test'; // host B
/** Every upstream answer carries this, so a leak is recognisable in any body. */
const UPSTREAM_MARK = 'portcullis-e2e-upstream';
const ADMIN_MINUTES = 60;
const WIKI_MINUTES = 15;

type Seen = { upstream: string; method: string; url: string; headers: IncomingHttpHeaders };
type Proxy = {
  name: 'nginx' | 'caddy';
  port: number;
  process?: ChildProcess;
  /** What this proxy answers when Portcullis answers 400: nginx's auth_request makes it 500. */
  refused: number;
};

const proxies: Proxy[] = [
  { name: 'nginx', port: 0, refused: 500 },
  { name: 'caddy', port: 0, refused: 400 },
];
const upstreams: http.Server[] = [];
const seen: Seen[] = [];
const apps = { public: '', admin: '', wiki: '' };

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

/** The upstream of one host: shows what reached it, and remembers it. */
async function upstream(name: string): Promise<string> {
  const server = http.createServer((req, res) => {
    seen.push({ upstream: name, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        mark: UPSTREAM_MARK,
        upstream: name,
        path: req.url,
        user: req.headers['x-portcullis-user'] ?? null,
        email: req.headers['x-portcullis-email'] ?? null,
        groups: req.headers['x-portcullis-groups'] ?? null,
        jwt: req.headers['x-portcullis-jwt-assertion'] ?? null,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstreams.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * The README's snippet for a proxy: exactly the text between `# portcullis:<kind>:begin` and
 * `# portcullis:<kind>:end`, with only the console's URL and the application's URL replaced.
 */
function readmeSnippet(kind: 'nginx' | 'caddy', upstreamUrl: string, consoleUrl = CONSOLE): string {
  const m = README.match(new RegExp(`^[ \\t]*# portcullis:${kind}:begin\\n([\\s\\S]*?)^[ \\t]*# portcullis:${kind}:end$`, 'm'));
  expect(m, `README.md has a ${kind} snippet between portcullis:${kind}:begin/end markers`).toBeTruthy();
  const text = m![1];
  expect(text).toContain('https://portcullis.example.com');
  expect(text).toContain('http://127.0.0.1:8080');
  const local = text.split('https://portcullis.example.com').join(consoleUrl).split('http://127.0.0.1:8080').join(upstreamUrl);
  expect(local, 'nothing else in the snippet names an example host').not.toMatch(/example\.com/);
  return local;
}

async function listening(port: number, proc: ChildProcess, log: string) {
  await expect
    .poll(
      async () => {
        expect(proc.exitCode, `the proxy exited early; see ${log}`).toBeNull();
        return new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
      },
      { timeout: 15_000 },
    )
    .toBe(true);
}

async function startNginx(proxy: Proxy, upstreamPublic: string, upstreamWiki: string, consoleUrl = CONSOLE) {
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  const server = (host: string, up: string) => `
  server {
    listen 127.0.0.1:${proxy.port};
    server_name ${host};
${readmeSnippet('nginx', up, consoleUrl)}
  }`;
  // The protected host comes first: it is the default server, which also gets unknown hosts.
  writeFileSync(
    conf,
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
${server(WIKI_HOST, upstreamWiki)}
${server(PUBLIC_HOST, upstreamPublic)}
}
`,
  );
  const args = ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')];
  execFileSync('/usr/sbin/nginx', ['-t', ...args], { stdio: 'pipe' });
  proxy.process = spawn('/usr/sbin/nginx', args, { stdio: 'ignore' });
  await listening(proxy.port, proxy.process, path.join(dir, 'error.log'));
}

async function startCaddy(proxy: Proxy, upstreamPublic: string, upstreamWiki: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-caddy-'));
  for (const sub of ['data', 'config', 'storage']) mkdirSync(path.join(dir, sub));
  const file = path.join(dir, 'Caddyfile');
  const site = (addresses: string, up: string) => `
${addresses} {
	bind 127.0.0.1
${readmeSnippet('caddy', up)}
}`;
  // Like nginx's default server, the protected host's site also gets unknown hosts.
  writeFileSync(
    file,
    `{
	admin off
	auto_https off
	storage file_system ${dir}/storage
}
${site(`http://${PUBLIC_HOST}:${proxy.port}`, upstreamPublic)}
${site(`http://${WIKI_HOST}:${proxy.port}, http://:${proxy.port}`, upstreamWiki)}
`,
  );
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') };
  execFileSync('/usr/bin/caddy', ['adapt', '--config', file, '--adapter', 'caddyfile'], { env, stdio: 'pipe' });
  const log = path.join(dir, 'caddy.log');
  const fd = openSync(log, 'a');
  proxy.process = spawn('/usr/bin/caddy', ['run', '--config', file, '--adapter', 'caddyfile'], { env, stdio: ['ignore', fd, fd] });
  await listening(proxy.port, proxy.process, log);
}

type Raw = { status: number; headers: Record<string, string>; body: string };

/** Sends these exact bytes to the proxy and reads the whole answer (the request asks to close). */
async function raw(port: number, bytes: string): Promise<Raw> {
  const data = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Not end(): Go servers (Caddy) cancel a request whose client half-closes.
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    s.setTimeout(15_000, () => s.destroy(new Error(`no answer from 127.0.0.1:${port} to ${bytes.split('\r\n')[0]}`)));
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
  const text = data.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  expect(split, `a complete HTTP answer to ${bytes.split('\r\n')[0]}`).toBeGreaterThan(0);
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = text.slice(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    let out = '';
    for (let rest = body; ; ) {
      const eol = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, eol), 16);
      if (!size) break;
      out += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    body = out;
  }
  return { status, headers, body: Buffer.from(body, 'latin1').toString('utf8') };
}

/** A GET with these headers, in the order given; `target` is the request line's (origin- or absolute-form). */
function get(target: string, headers: [string, string][]): string {
  return `GET ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`;
}

const origin = (proxy: Proxy, host: string) => `http://${host}:${proxy.port}`;
const hostHeader = (proxy: Proxy, host: string): [string, string] => ['Host', `${host}:${proxy.port}`];
const appCookie = (applicationId: string) => `portcullis_app_${applicationId.replace(/[^A-Za-z0-9]/g, '')}`;

/** The request reached no upstream, and its answer is none of theirs. */
function refusedBeforeUpstream(r: Raw, since: number, what: string) {
  expect(seen.slice(since), `${what}: no upstream saw the request`).toEqual([]);
  expect(r.body, `${what}: the answer is not the upstream's`).not.toContain(UPSTREAM_MARK);
}

/** A redirect to sign in at the console, coming back to `back`. */
function expectSignIn(r: Raw, back: string) {
  expect(r.status, `sign-in redirect; body: ${r.body.slice(0, 200)}`).toBe(302);
  const location = new URL(r.headers['location'] ?? '', CONSOLE);
  expect(`${location.origin}${location.pathname}`).toBe(`${CONSOLE}/auth/access`);
  expect(location.searchParams.get('rd')).toBe(back);
}

type Verified = { valid: boolean; header: any; payload: any };

/** Checks an ES256 JWT against a JWKS with WebCrypto. */
async function verifyJwt(token: string, jwks: { keys: any[] }): Promise<Verified> {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk || header.alg !== 'ES256') return { valid: false, header, payload };
  const key = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const valid = await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(s, 'base64url'), Buffer.from(`${h}.${p}`));
  return { valid, header, payload };
}

test.describe.configure({ mode: 'serial', timeout: 60_000 });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  expect(ADA.status).toBe('ACTIVE');
  expect(IT.members).toContain(ADA.id);
  expect(IT.members).toContain(RADIA.id);
  expect(VPN.members).toContain(RADIA.id);
  expect(VPN.members).not.toContain(ADA.id);

  // Three applications on two hosts, imported as policy documents by the admin.
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, true);
  const list = await page.request.post('/api/providers/list');
  expect(list.ok()).toBeTruthy();
  const provider = (await list.json()).find((p: any) => p.name === PROVIDER);
  const group = (g: any) => ({ type: 'group', provider_id: provider.id, external_id: g.id });
  const importApp = async (application: object, policies: object[]) => {
    const document = JSON.stringify({ format: 'portcullis.policies', version: 1, application, policies });
    const r = await page.request.post('/api/policies/import', { data: { application_id: null, document, replace: false } });
    expect(r.ok(), await r.text()).toBeTruthy();
    return (await r.json()).application_id as string;
  };
  apps.public = await importApp(
    { name: 'Public site', hosts: [{ hostname: PUBLIC_HOST, path_prefix: '/' }], session_duration_minutes: 60 },
    [{ name: 'Anyone, signed in or not', action: 'bypass', enabled: true, rules: { include: [{ type: 'everyone' }], require: [], exclude: [] } }],
  );
  apps.admin = await importApp(
    { name: 'Admin area', hosts: [{ hostname: PUBLIC_HOST, path_prefix: '/admin' }], session_duration_minutes: ADMIN_MINUTES },
    [{ name: 'IT, but not VPN users', action: 'allow', enabled: true, rules: { include: [group(IT)], require: [], exclude: [group(VPN)] } }],
  );
  apps.wiki = await importApp(
    { name: 'Wiki', hosts: [{ hostname: WIKI_HOST, path_prefix: '/' }], session_duration_minutes: WIKI_MINUTES },
    [{ name: 'IT', action: 'allow', enabled: true, rules: { include: [group(IT)], require: [], exclude: [] } }],
  );
  await context.close();
  expect(new Set(Object.values(apps)).size).toBe(3);

  const upstreamPublic = await upstream('public');
  const upstreamWiki = await upstream('wiki');
  for (const proxy of proxies) proxy.port = await freePort();
  await startNginx(proxies[0], upstreamPublic, upstreamWiki);
  await startCaddy(proxies[1], upstreamPublic, upstreamWiki);
});

test.afterAll(async () => {
  for (const proxy of proxies) {
  const p = proxy.process;
  if (p && p.exitCode === null) {
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    await exited;
  }
}
await Promise.all(upstreams.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/**
 * Opens `url` in a new context (or `context`), signs in at the simulator when sent there, and
 * returns the page on `url` with the final response. `simRequests` lists every request the
 * browser made to the identity provider.
 */
async function visit(
browser: Browser,
url: string,
login: string,
context?: BrowserContext,
): Promise<{ page: Page; status: number; simRequests: string[] }> {
context ??= await browser.newContext();
const page = await context.newPage();
const simRequests: string[] = [];
page.on('request', (r) => {
  if (r.url().startsWith(`${SIM}/`)) simRequests.push(r.url());
});
let response = await page.goto(url);
if (page.url().startsWith(`${SIM}/`)) {
  await page.getByLabel('Username').fill(login);
  await page.getByLabel('Password').fill(PASSWORD);
  const back = page.waitForResponse((r) => r.url() === url);
  await page.getByRole('button', { name: 'Sign in' }).click();
  response = await back;
}
await expect(page).toHaveURL(url);
return { page, status: response!.status(), simRequests };
}

async function seenBy(page: Page) {
  const body = JSON.parse(await page.locator('body').innerText());
  expect(body.mark).toBe(UPSTREAM_MARK);
  return body;
}

async function jwks(proxy: Proxy, host: string) {
  const r = await raw(proxy.port, get('/.portcullis/jwks.json', [hostHeader(proxy, host)]));
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as { keys: any[] };
}

for (const proxy of proxies) {
  test(`${proxy.name}: the public application is served to a signed-out client, without identity headers`, async () => {
    const since = seen.length;
    const r = await raw(proxy.port, get('/welcome?x=1', [hostHeader(proxy, PUBLIC_HOST)]));
    expect(r.status, r.body).toBe(200);
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ mark: UPSTREAM_MARK, upstream: 'public', path: '/welcome?x=1', user: null, jwt: null });
    expect(seen.slice(since)).toHaveLength(1);
  });

  test(`${proxy.name}: X-Portcullis-* headers sent by a client on the public path never reach the upstream`, async () => {
    const since = seen.length;
    const r = await raw(
      proxy.port,
      get('/', [
        hostHeader(proxy, PUBLIC_HOST),
        ['X-Portcullis-User', 'admin'],
        ['X-Portcullis-Email', 'admin@example.com'],
        ['X-Portcullis-Groups', 'Portcullis Admins'],
        ['X-Portcullis-Jwt-Assertion', 'forged.jwt.assertion'],
      ]),
    );
    expect(r.status, r.body).toBe(200);
    const reached = seen.slice(since);
    expect(reached.map((s) => s.upstream)).toEqual(['public']);
    const forwarded = Object.keys(reached[0].headers).filter((h) => h.startsWith('x-portcullis-'));
    expect(forwarded, JSON.stringify(reached[0].headers)).toEqual([]);
  });

  test(`${proxy.name}: a signed-out client asking for a protected application is sent to sign in (302)`, async () => {
    const since = seen.length;
    const admin = await raw(proxy.port, get('/admin/page?x=1', [hostHeader(proxy, PUBLIC_HOST)]));
    expectSignIn(admin, `${origin(proxy, PUBLIC_HOST)}/admin/page?x=1`);
    const wiki = await raw(proxy.port, get('/', [hostHeader(proxy, WIKI_HOST)]));
    expectSignIn(wiki, `${origin(proxy, WIKI_HOST)}/`);
    refusedBeforeUpstream(wiki, since, 'signed out');
  });

  test(`${proxy.name}: host confusion — an absolute request line for the protected host with the public Host header is decided for the protected host`, async () => {
    const since = seen.length;
    const r = await raw(proxy.port, get(`${origin(proxy, WIKI_HOST)}/secret`, [hostHeader(proxy, PUBLIC_HOST)]));
    refusedBeforeUpstream(r, since, 'absolute-form request line');
    expectSignIn(r, `${origin(proxy, WIKI_HOST)}/secret`);
  });

  test(`${proxy.name}: an unparsable Host (x%y) is refused, never decided from the client's X-Forwarded-* or X-Original-URL`, async () => {
    const since = seen.length;
    const r = await raw(
      proxy.port,
      get('/secret', [
        ['Host', 'x%y'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Host', `${PUBLIC_HOST}:${proxy.port}`],
        ['X-Forwarded-Uri', '/'],
        ['X-Forwarded-Method', 'GET'],
        ['X-Original-URL', `${origin(proxy, PUBLIC_HOST)}/`],
      ]),
    );
    refusedBeforeUpstream(r, since, 'Host: x%y');
    expect(r.status, r.body).toBe(proxy.refused);
    // Caddy passes Portcullis's one-line reason on (nginx's auth_request answers its own 500).
    if (proxy.name === 'caddy') expect(r.body).toContain('X-Forwarded-Host');
  });

  test(`${proxy.name}: proxy headers sent by the client (X-Original-URL, X-Forwarded-Host/-Uri/-Proto) cannot point the decision at the public application`, async () => {
    const attacks: [string, string][][] = [
      [['X-Original-URL', `${origin(proxy, PUBLIC_HOST)}/`], ['X-Original-Method', 'GET']],
      [['X-Forwarded-Proto', 'http'], ['X-Forwarded-Host', `${PUBLIC_HOST}:${proxy.port}`], ['X-Forwarded-Uri', '/'], ['X-Forwarded-Method', 'GET']],
    ];
    for (const headers of attacks) {
      const since = seen.length;
      const r = await raw(proxy.port, get('/secret', [hostHeader(proxy, WIKI_HOST), ...headers]));
      refusedBeforeUpstream(r, since, headers.map(([k]) => k).join(', '));
      expectSignIn(r, `${origin(proxy, WIKI_HOST)}/secret`);
    }
    // The same on the protected path of the public host.
    const since = seen.length;
    const r = await raw(proxy.port, get('/admin/users', [hostHeader(proxy, PUBLIC_HOST), ...attacks[0], ...attacks[1]]));
    refusedBeforeUpstream(r, since, 'all of them on /admin');
    expectSignIn(r, `${origin(proxy, PUBLIC_HOST)}/admin/users`);
  });

  test(`${proxy.name}: ambiguous paths under /admin are refused, never decided as the public application`, async () => {
    for (const target of ['/admin/x://y/public', '/admin/x/..%2F..%2Fpublic', '/admin/x%5C..%5C..%5Cpublic', '/admin;x/users']) {
      const since = seen.length;
      const r = await raw(proxy.port, get(target, [hostHeader(proxy, PUBLIC_HOST)]));
      refusedBeforeUpstream(r, since, target);
      expect(r.status, `${target}: ${r.body.slice(0, 200)}`).toBe(proxy.refused);
      if (proxy.name === 'caddy') expect(r.body).toContain('ambiguous path');
    }
  });

  test(`${proxy.name}: an allowed person reaches the protected application with identity headers and a JWT that verifies against the host's JWKS`, async ({ browser }) => {
    const url = `${origin(proxy, PUBLIC_HOST)}/admin/page?x=1`;
    const { page, status, simRequests } = await visit(browser, url, ADA.profile.login);
    expect(simRequests.length, 'signed in at the identity provider').toBeGreaterThan(0);
    expect(status).toBe(200);
    const body = await seenBy(page);
    expect(body.upstream).toBe('public');
    expect(body.path).toBe('/admin/page?x=1');
    expect(body.email).toBe(ADA.profile.email);
    expect(body.user).toBeTruthy();
    expect(body.groups.split(',')).toContain('IT');

    // The application's own cookie: host-only, for this application, for its session duration.
    const cookies = await page.context().cookies();
    const mine = cookies.find((c) => c.name === appCookie(apps.admin));
    expect(mine, JSON.stringify(cookies)).toBeTruthy();
    expect(mine!.domain).toBe(PUBLIC_HOST);
    expect(mine!.httpOnly).toBe(true);
    expect(mine!.sameSite).toBe('Lax');
    expect(Math.abs(mine!.expires - (Date.now() / 1000 + ADMIN_MINUTES * 60))).toBeLessThan(120);
    expect(cookies.filter((c) => c.name.startsWith('portcullis_app_')).map((c) => c.domain)).toEqual([PUBLIC_HOST]);

    // The JWT, checked against the keys on the application's host (the console's are the same).
    const keys = await jwks(proxy, PUBLIC_HOST);
    const published = await (await fetch(`${CONSOLE}/.well-known/portcullis/jwks.json`)).json();
    expect(published).toEqual(keys);
    const { valid, header, payload } = await verifyJwt(body.jwt, keys);
    expect(header.alg).toBe('ES256');
    expect(keys.keys.map((k) => k.kid)).toContain(header.kid);
    expect(valid, 'the signature verifies').toBe(true);
    expect(payload.iss).toBe(CONSOLE);
    expect(payload.aud).toEqual([apps.admin, PUBLIC_HOST]);
    expect(typeof payload.sub).toBe('string');
    expect(payload.sub.length).toBeGreaterThan(0);
    expect(payload.email).toBe(ADA.profile.email);
    expect(payload.name).toBe(body.user);
    expect(payload.groups).toContain('IT');
    expect(payload.exp - payload.iat).toBeGreaterThan(0);
    expect(payload.exp - payload.iat).toBeLessThanOrEqual(300);
    expect(Math.abs(payload.iat - Date.now() / 1000)).toBeLessThan(120);
    // A changed claim breaks the signature: the check above can fail.
    const [h, , s] = (body.jwt as string).split('.');
    const forged = Buffer.from(JSON.stringify({ ...payload, email: 'mallory@example.com' })).toString('base64url');
    expect((await verifyJwt(`${h}.${forged}.${s}`, keys)).valid).toBe(false);
    await page.context().close();
  });

  test(`${proxy.name}: after signing in for one host, a second host gets its own cookie without a new sign-in at the identity provider`, async ({ browser }) => {
    const first = await visit(browser, `${origin(proxy, PUBLIC_HOST)}/admin/`, ADA.profile.login);
    expect(first.status).toBe(200);
    expect(first.simRequests.length).toBeGreaterThan(0);
    const second = await visit(browser, `${origin(proxy, WIKI_HOST)}/notes?page=2`, ADA.profile.login, first.page.context());
    expect(second.simRequests, 'no visit to the identity provider').toEqual([]);
    expect(second.status).toBe(200);
    const body = await seenBy(second.page);
    expect(body).toMatchObject({ upstream: 'wiki', path: '/notes?page=2', email: ADA.profile.email });
    const { valid, payload } = await verifyJwt(body.jwt, await jwks(proxy, WIKI_HOST));
    expect(valid).toBe(true);
    expect(payload.aud).toEqual([apps.wiki, WIKI_HOST]);

    const cookies = await first.page.context().cookies();
    const wiki = cookies.find((c) => c.name === appCookie(apps.wiki));
    expect(wiki?.domain).toBe(WIKI_HOST);
    expect(Math.abs(wiki!.expires - (Date.now() / 1000 + WIKI_MINUTES * 60))).toBeLessThan(120);
    expect(cookies.find((c) => c.name === appCookie(apps.admin))?.domain).toBe(PUBLIC_HOST);
    await first.page.context().close();
  });

  test(`${proxy.name}: the cookie of one application is refused by another (sign-in asked)`, async ({ browser }) => {
    const { page, status } = await visit(browser, `${origin(proxy, PUBLIC_HOST)}/admin/`, ADA.profile.login);
    expect(status).toBe(200);
    const token = (await page.context().cookies()).find((c) => c.name === appCookie(apps.admin))!.value;
    await page.context().close();
    expect(token).toBeTruthy();

    // The token works where it belongs...
    const home = await raw(proxy.port, get('/admin/x', [hostHeader(proxy, PUBLIC_HOST), ['Cookie', `${appCookie(apps.admin)}=${token}`]]));
    expect(home.status, home.body).toBe(200);
    expect(JSON.parse(home.body).email).toBe(ADA.profile.email);
    // ...and nowhere else, under its own name or the other application's.
    for (const cookie of [`${appCookie(apps.admin)}=${token}`, `${appCookie(apps.wiki)}=${token}`]) {
      const since = seen.length;
      const r = await raw(proxy.port, get('/x', [hostHeader(proxy, WIKI_HOST), ['Cookie', cookie]]));
      refusedBeforeUpstream(r, since, cookie.split('=')[0]);
      expectSignIn(r, `${origin(proxy, WIKI_HOST)}/x`);
    }
  });

  test(`${proxy.name}: /.portcullis/sign_out on one host ends the sessions of both applications`, async ({ browser }) => {
    const first = await visit(browser, `${origin(proxy, PUBLIC_HOST)}/admin/`, ADA.profile.login);
    const context = first.page.context();
    const second = await visit(browser, `${origin(proxy, WIKI_HOST)}/`, ADA.profile.login, context);
    expect([first.status, second.status]).toEqual([200, 200]);
    const before = await context.cookies();
    const adminToken = before.find((c) => c.name === appCookie(apps.admin))!.value;
    const wikiToken = before.find((c) => c.name === appCookie(apps.wiki))!.value;

    const out = await second.page.goto(`${origin(proxy, WIKI_HOST)}/.portcullis/sign_out`);
    expect(out?.status()).toBe(200);
    await expect(second.page.getByRole('heading', { name: 'Signed out' })).toBeVisible();
    expect((await context.cookies()).find((c) => c.name === appCookie(apps.wiki)), 'the host’s cookie is cleared').toBeUndefined();

    // The sessions ended on the server: the old cookies no longer work, on either host.
    for (const [host, cookie, target] of [
      [PUBLIC_HOST, `${appCookie(apps.admin)}=${adminToken}`, '/admin/'],
      [WIKI_HOST, `${appCookie(apps.wiki)}=${wikiToken}`, '/'],
    ]) {
      const since = seen.length;
      const r = await raw(proxy.port, get(target, [hostHeader(proxy, host), ['Cookie', cookie]]));
      refusedBeforeUpstream(r, since, `${host} after signing out`);
      expectSignIn(r, `${origin(proxy, host)}${target}`);
    }
    // And the single sign-on session too: the next application asks the identity provider again.
    const again = await visit(browser, `${origin(proxy, PUBLIC_HOST)}/admin/`, ADA.profile.login, context);
    expect(again.simRequests.length, 'back at the identity provider').toBeGreaterThan(0);
    expect(again.status).toBe(200);
    await context.close();
  });
}

test('the pinned endpoints (?app=) refuse a host that is not their application’s', async ({ request }) => {
  const wikiUrl = `http://${WIKI_HOST}:8443/secret`;
  const adminUrl = `http://${PUBLIC_HOST}:8443/admin/x`;
  const forwarded = (host: string, uri: string) => ({
    'X-Forwarded-Proto': 'http',
    'X-Forwarded-Host': host,
    'X-Forwarded-Uri': uri,
    'X-Forwarded-Method': 'GET',
  });
  const nginx = async (app: string, url: string) =>
    (await request.get(`${CONSOLE}/verify?app=${app}`, { headers: { 'X-Original-URL': url }, maxRedirects: 0 })).status();
  const forward = async (app: string, host: string, uri: string) =>
    (await request.get(`${CONSOLE}/verify/forward?app=${app}`, { headers: forwarded(host, uri), maxRedirects: 0 })).status();

  // Pinned to the wiki, a request for the public host is refused even though it is a Bypass there.
  expect(await nginx(apps.wiki, `http://${PUBLIC_HOST}/`)).toBe(403);
  expect(await forward(apps.wiki, PUBLIC_HOST, '/')).toBe(403);
  expect(await nginx(apps.admin, wikiUrl)).toBe(403);
  // Pinned to the right application, the usual answers.
  expect(await nginx(apps.wiki, wikiUrl)).toBe(401);
  expect(await forward(apps.wiki, WIKI_HOST, '/secret')).toBe(302);
  expect(await nginx(apps.admin, adminUrl)).toBe(401);
  expect(await nginx(apps.admin, `http://${PUBLIC_HOST}/`)).toBe(200);
});

test('each endpoint reads only its own proxy’s headers: missing ones are a 400, never a fallback', async ({ request }) => {
  const wiki = `http://${WIKI_HOST}/secret`;
  const answer = async (endpoint: string, headers: Record<string, string>) => {
    const r = await request.get(`${CONSOLE}${endpoint}`, { headers, maxRedirects: 0 });
    return { status: r.status(), body: await r.text() };
  };
  // /verify (nginx) ignores the X-Forwarded-* set.
  const nginx = await answer('/verify', { 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': WIKI_HOST, 'X-Forwarded-Uri': '/', 'X-Forwarded-Method': 'GET' });
  expect(nginx.status).toBe(400);
  expect(nginx.body).toContain('X-Original-URL');
  // /verify/forward (Caddy, Traefik) ignores X-Original-URL.
  const forward = await answer('/verify/forward', { 'X-Original-URL': wiki });
  expect(forward.status).toBe(400);
  expect(forward.body).toContain('X-Forwarded-');
  // A comma list (a proxy appending to the client's value) is refused.
  const listed = await answer('/verify/forward', {
    'X-Forwarded-Proto': 'http',
    'X-Forwarded-Host': `${PUBLIC_HOST}, ${WIKI_HOST}`,
    'X-Forwarded-Uri': '/',
    'X-Forwarded-Method': 'GET',
  });
  expect(listed.status).toBe(400);
  expect(listed.body).toContain('X-Forwarded-Host');
  // Well-formed, they decide as usual.
  expect((await answer('/verify', { 'X-Original-URL': wiki })).status).toBe(401);
});

// The decisions that depend on groups, through nginx.
const nginxProxy = proxies[0];

test('nginx: a member of an excluded group is refused with 403, and allowed where no policy excludes them', async ({ browser }) => {
  const { page, status } = await visit(browser, `${origin(nginxProxy, PUBLIC_HOST)}/admin/hello?x=1`, RADIA.profile.login);
  expect(status).toBe(403);
  await expect(page.locator('body')).not.toContainText(RADIA.profile.email);
  await expect(page.locator('body')).not.toContainText(UPSTREAM_MARK);
  const wiki = await visit(browser, `${origin(nginxProxy, WIKI_HOST)}/`, RADIA.profile.login, page.context());
  expect(wiki.status).toBe(200);
  expect((await seenBy(wiki.page)).email).toBe(RADIA.profile.email);
  await page.context().close();
});

test('a group change in Okta, synchronized, flips the decision without a restart', async ({ browser, request }) => {
  test.setTimeout(120_000);
  const { page, status } = await visit(browser, `${origin(nginxProxy, PUBLIC_HOST)}/admin/hello?x=1`, ADA.profile.login);
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

test('Universal Logout from Okta ends a signed-in person’s application session at once', async ({ browser, request }) => {
  const wiki = `${origin(nginxProxy, WIKI_HOST)}/`;
  const { page, status } = await visit(browser, wiki, ADA.profile.login);
  expect(status).toBe(200);

  // The endpoint Okta is given, as the provider's row shows it.
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, true);
  await admin.goto(`${CONSOLE}/settings/identity-providers`);
  await ready(admin, true);
  const shown = admin.getByTestId('provider-row').filter({ hasText: PROVIDER }).getByTestId('universal-logout-url');
  await expect(shown.getByRole('button', { name: 'Copy Universal Logout endpoint' })).toBeVisible();
  const endpoint = (await shown.locator('code').innerText()).trim();
  expect(endpoint).toMatch(new RegExp(`^${CONSOLE}/okta/universal-logout/[0-9a-f-]+$`));
  await shot(admin, 'identity-providers');

  // Okta signs the request with its org key; a replay of it is refused.
  const made = await (await request.post(`${SIM}/__sim/control`, { data: { op: 'universal_logout_request', audience: endpoint, user_id: ADA.id } })).json();
  const send = () => request.post(endpoint, { headers: { authorization: `Bearer ${made.token}` }, data: made.body });
  expect((await send()).status()).toBe(204);
  expect((await send()).status()).toBe(401);

  // The next request through the proxy is sent to sign in again.
  await page.goto(wiki);
  await expect(page).toHaveURL(new RegExp(`^${SIM}/`));
  await expect(page.getByLabel('Password')).toBeVisible();
  await page.context().close();
  await admin.goto(`${CONSOLE}/audit`);
  await expect(admin.locator('tr[data-action="session.universal_logout"]').first()).toBeVisible();
  await admin.context().close();
});

test('one-time codes from the sign-ins above never reach the console’s log', async () => {
  // The console logs at debug level (every request); a code in a query string would be usable from the log.
  const log = readFileSync(process.env.E2E_JS_LOG!, 'utf8');
  expect(log).toContain('/.portcullis/callback');
  expect(log).not.toMatch(/callback\?code=/);
});

// Configuration as code, end to end: the console configured above (the wizard, role mappings,
// the policy builder), exported by the command line, applied to an empty second console that
// is connected to the same simulator org by nothing but the document, exported again.
const ROOT = path.resolve(__dirname, '../..');
const BIN = process.env.PORTCULLIS_BIN ?? path.join(ROOT, 'target/debug/portcullis');

function cli(args: string[], env: Record<string, string>) {
  const r = spawnSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Each person's answer on the two protected applications behind `proxy`. */
async function decisionsBehind(browser: Browser, proxy: Proxy, logins: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const login of logins) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let last = 0;
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) last = r.status();
    });
    const answers: string[] = [];
    for (const url of [`${origin(proxy, PUBLIC_HOST)}/admin/`, `${origin(proxy, WIKI_HOST)}/`]) {
      await page.goto(url);
      if (page.url().startsWith(`${SIM}/`)) {
        await page.getByLabel('Username').fill(login);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await expect(page, `${login} signs in at the simulator`).not.toHaveURL(new RegExp(`^${SIM}/`));
        await page.waitForLoadState();
      }
      // Where the person ended (the port is the proxy's) and with what status.
      answers.push(`${page.url().replace(`:${proxy.port}`, '')} ${last}`);
    }
    out[login] = answers;
    await context.close();
  }
  return out;
}

test('configuration as code: an empty console given this one’s export exports the same document, and /verify decides the same for every simulator user', async ({ browser, request }) => {
  test.setTimeout(600_000);
  const port = await freePort();
  const second = `http://127.0.0.1:${port}`;
  const data = mkdtempSync(path.join(tmpdir(), 'portcullis-e2e-second-'));
  const env = {
    PORTCULLIS_LISTEN: `127.0.0.1:${port}`,
    PORTCULLIS_PUBLIC_URL: second,
    PORTCULLIS_DATA_DIR: data,
    PORTCULLIS_SITE_DIR: path.join(ROOT, 'target/site'),
    PORTCULLIS_LOG: 'warn',
    PORTCULLIS_OUTBOUND_ALLOW: '127.0.0.1',
  };
  const child = spawn(BIN, [], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const proxy: Proxy = { name: 'nginx', port: await freePort(), refused: 500 };
  try {
    await expect.poll(async () => (await request.get(`${second}/healthz`).catch(() => null))?.status(), { timeout: 30_000 }).toBe(200);
    const oidc = fixture.oidcApps[0];
    await control(request, {
      op: 'set_redirect_uris',
      client_id: oidc.clientId,
      redirect_uris: [`${CONSOLE}/auth/callback`, `${second}/auth/callback`],
      post_logout_redirect_uris: [`${CONSOLE}/login`, `${second}/login`],
    });

    // Tokens from the command line, as a pipeline bootstraps them.
    const token = (dataDir: string) => {
      const r = cli(['api-token', 'create', '--name', 'round trip', '--role', 'admin', '--expires-days', '1'], { PORTCULLIS_DATA_DIR: dataDir });
      expect(r.code, r.err).toBe(0);
      return r.out.trim();
    };
    const [first, empty] = [token(process.env.E2E_JS_DATA!), token(data)];
    const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-config-'));
    const exported = path.join(dir, 'first.json');
    let r = cli(['config', 'export', exported], { PORTCULLIS_URL: CONSOLE, PORTCULLIS_TOKEN: first });
    expect(r.code, r.err).toBe(0);
    const document = JSON.parse(readFileSync(exported, 'utf8'));
    expect(document.providers.map((p: any) => p.name)).toContain(PROVIDER);
    expect(document.applications.length).toBeGreaterThanOrEqual(3);
    expect(readFileSync(exported, 'utf8')).not.toContain(oidc.clientSecret);

    // The secrets the document references, from where a pipeline keeps them.
    const secrets: Record<string, string> = {};
    for (const p of document.providers) {
      const variable = (v: string) => /^\$\{env:([A-Z0-9_]+)\}$/.exec(v)![1];
      secrets[variable(p.client_secret)] = fixture.oidcApps.find((a: any) => a.clientId === p.client_id).clientSecret;
      if (p.directory.mode === 'service_app') {
        const app = fixture.serviceApps.find((a: any) => a.clientId === p.directory.client_id);
        secrets[variable(p.directory.private_key)] = JSON.stringify(app.privateJwk);
      } else if (p.directory.mode === 'api_token') {
        secrets[variable(p.directory.api_token)] = fixture.apiTokens[0].token;
      }
    }
    r = cli(['config', 'plan', exported], { PORTCULLIS_URL: second, PORTCULLIS_TOKEN: empty });
    expect(r.code, `${r.out}${r.err}`).toBe(2);
    expect(r.out).toContain(`+ provider ${PROVIDER}`);
    r = cli(['config', 'apply', exported], { PORTCULLIS_URL: second, PORTCULLIS_TOKEN: empty, ...secrets });
    expect(r.code, `${r.out}${r.err}`).toBe(0);
    const again = path.join(dir, 'second.json');
    r = cli(['config', 'export', again], { PORTCULLIS_URL: second, PORTCULLIS_TOKEN: empty });
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(again, 'utf8'))).toEqual(document);
    r = cli(['config', 'plan', exported], { PORTCULLIS_URL: second, PORTCULLIS_TOKEN: empty });
    expect(r.code, r.out).toBe(0);

    // The same README snippet in front of the second console, the same hosts: every person
    // signs in at the simulator through each, and is let in or refused alike.
    await startNginx(proxy, await upstream('public'), await upstream('wiki'), second);
    // Everyone the simulator lets sign in: the directory's people whose Okta status is ACTIVE
    // (the directory tests deactivated some; STAGED people are in the directory, not signed in).
    const people = await request.get(`${CONSOLE}/api/v1/directory/users?state=active&limit=500`, { headers: { authorization: `Bearer ${first}` } });
    expect(people.ok()).toBeTruthy();
    const logins: string[] = (await people.json()).items.filter((u: any) => u.okta_status === 'ACTIVE').map((u: any) => u.email);
    expect(logins.length).toBeGreaterThan(20);
    const onFirst = await decisionsBehind(browser, nginxProxy, logins);
    const onSecond = await decisionsBehind(browser, proxy, logins);
    const answers = Object.values(onFirst).flat();
    expect(answers.some((a) => a.endsWith(' 200')) && answers.some((a) => a.endsWith(' 403'))).toBe(true);
    expect(onSecond).toEqual(onFirst);
  } finally {
    for (const p of [proxy.process, child]) {
      if (p && p.exitCode === null) {
        const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
        p.kill('SIGTERM');
        await exited;
      }
    }
  }
});

test('SCIM provisioning: enabled and a token rotated on the provider’s page; a pushed person appears in the Directory, and a deactivation push ends access through nginx', async ({ browser, request }) => {
  test.setTimeout(120_000);
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, true);
  await admin.goto(`${CONSOLE}/settings/identity-providers`);
  await ready(admin, true);
  await admin.getByTestId('provider-row').filter({ hasText: PROVIDER }).getByRole('link', { name: 'Provisioning (SCIM)' }).click();
  await expect(admin.getByRole('heading', { name: 'Provisioning (SCIM)' })).toBeVisible();
  await ready(admin, true);
  await expect(admin.getByTestId('no-scim-requests')).toBeVisible();
  await admin.getByLabel('Enable SCIM provisioning').check();
  await expect(admin.getByTestId('provisioning')).toHaveAttribute('data-enabled', 'true');
  const base = (await admin.getByTestId('scim-base-url').innerText()).trim();
  expect(base).toMatch(new RegExp(`^${CONSOLE}/scim/[0-9a-f-]+/v2$`));
  expect(base).not.toContain('_');
  await expect(admin.getByRole('button', { name: 'Copy SCIM base URL' })).toBeVisible();

  // A token, shown once; then a new one, the first kept valid for its grace period.
  await admin.getByRole('button', { name: 'Generate token' }).click();
  const first = (await admin.getByTestId('scim-token-value').innerText()).trim();
  expect(first).toMatch(/^pcst_[0-9A-Za-z]{38}$/);
  await expect(admin.getByTestId('scim-token-row')).toHaveCount(1);
  await admin.getByLabel('Keep the previous token valid for (minutes)').fill('60');
  await admin.getByRole('button', { name: 'Generate token' }).click();
  await expect(admin.getByTestId('scim-token-row')).toHaveCount(2);
  const token = (await admin.getByTestId('scim-token-value').innerText()).trim();
  expect(token).not.toBe(first);
  await expect(admin.getByTestId('scim-tokens')).toContainText('Current');
  await expect(admin.getByTestId('scim-tokens')).toContainText('Valid until');

  // Okta pushes with the old token (still in its grace period) and the new one.
  const push = async (body: object, with_token = token) => {
    const r = await request.post(`${SIM}/__sim/scim`, { data: { base, token: with_token, flavour: 'patch', ...body } });
    expect(r.ok(), await r.text()).toBeTruthy();
    return r.json();
  };
  await push({ action: 'assign', user_id: ADA.id }, first);
  const nova = { ...ADA, id: '00uSCIMpushedE2E01', profile: { ...ADA.profile, login: 'nova.pushed@example.com', email: 'nova.pushed@example.com', firstName: 'Nova', lastName: 'Pushed' } };
  await control(request, { op: 'add_user', user: nova });
  await push({ action: 'assign', user_id: nova.id });

  await admin.goto(`${CONSOLE}/directory?q=nova.pushed`);
  await ready(admin, true);
  await expect(admin.getByTestId('user-list')).toContainText('Nova Pushed');

  // Ada reaches the wiki through nginx; Okta deactivates her by a push; her next request does not.
  const wiki = `${origin(nginxProxy, WIKI_HOST)}/`;
  const { page, status } = await visit(browser, wiki, ADA.profile.login);
  expect(status).toBe(200);
  await push({ action: 'deactivate', user_id: ADA.id });
  const after = await page.goto(wiki);
  await expect(page.locator('body')).not.toContainText(UPSTREAM_MARK);
  expect(after?.status()).not.toBe(200);

  // Her reactivation lets her in again after signing in.
  await push({ action: 'reactivate', user_id: ADA.id });
  const again = await visit(browser, wiki, ADA.profile.login);
  expect(again.status).toBe(200);
  await again.page.context().close();
  await page.context().close();

  // The page lists what arrived, and the audit log names the token.
  await admin.goto(`${CONSOLE}/settings/identity-providers`);
  await ready(admin, true);
  await admin.getByTestId('provider-row').filter({ hasText: PROVIDER }).getByRole('link', { name: 'Provisioning (SCIM)' }).click();
  await ready(admin, true);
  await expect(admin.getByTestId('scim-requests')).toContainText('deactivated ada.lovelace@example.com');
  await shot(admin, 'provisioning');
  await admin.goto(`${CONSOLE}/audit`);
  await expect(admin.locator('tr[data-action="scim.user_deactivated"]').first()).toContainText('SCIM token pcst_');
  await admin.context().close();
});
