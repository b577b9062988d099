import { chromium } from '@playwright/test';
import fs from 'fs';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const p = await b.newPage();
p.on('console', m => console.log('console', m.type(), m.text().slice(0,500)));
p.on('pageerror', e => console.log('pageerror', e.message));
const base='http://127.0.0.1:3999';
await p.goto(base+'/setup');
await p.getByLabel('Setup token').fill(fs.readFileSync('/tmp/pd/setup-token','utf8').trim());
await p.getByLabel('Email').fill('admin@example.com');
await p.getByLabel('Name').fill('Admin');
await p.getByLabel('Password', { exact: true }).fill('correct horse battery');
await p.getByLabel('Confirm password').fill('correct horse battery');
await p.getByRole('button', { name: 'Create admin' }).click();
await p.waitForTimeout(3000);
console.log(p.url(), await p.locator('#console').getAttribute('data-hydrated'));
for (const path of (process.argv[2]||'/policies').split(',')) {
  await p.goto(base+path); await p.waitForTimeout(2500);
  console.log(path, await p.locator('#console').getAttribute('data-hydrated'));
}
await b.close();
