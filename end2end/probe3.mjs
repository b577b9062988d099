import { chromium } from '@playwright/test';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const p = await b.newPage();
p.on('console', async m => { const args = await Promise.all(m.args().map(a => a.evaluate(x => x instanceof Node ? (x.outerHTML ?? x.textContent ?? String(x)).slice(0,300) : String(x)))); console.log('console', m.type(), args.join(' | ').slice(0,1500)); });
p.on('pageerror', e => console.log('pageerror', e.message));
const base='http://127.0.0.1:3999';
await p.goto(base+'/login');
await p.getByLabel('Email').fill('admin@example.com');
await p.getByLabel('Password').fill('correct horse battery');
await p.getByRole('button', { name: 'Sign in', exact: true }).click();
await p.waitForTimeout(3000);
console.log(p.url(), await p.locator('#console').getAttribute('data-hydrated'));
for (const path of (process.argv[2]||'').split(',').filter(Boolean)) {
  await p.goto(base+path); await p.waitForTimeout(2500);
  console.log(path, await p.locator('#console').getAttribute('data-hydrated'));
}
await b.close();
