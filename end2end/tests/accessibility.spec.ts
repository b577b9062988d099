import AxeBuilder from '@axe-core/playwright';
import type { Locator, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, signIn, ready, shot } from './fixtures';

// Runs last, on the console the other projects filled: a provider with a synced directory,
// role mappings, an application with policies, an audit log.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const oidcApp = fixture.oidcApps[0];
const SIM = `http://127.0.0.1:${process.env.E2E_SIM_PORT}`;

test.describe.configure({ mode: 'serial' });

/** WCAG 2.2 A and AA violations of impact serious or critical, one line each. */
async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

/** The href of the first link matching, to visit pages whose ids the other projects made. */
async function href(page: Page, from: string, link: Locator): Promise<string> {
  await page.goto(from);
  await expect(link.first()).toBeAttached();
  return (await link.first().getAttribute('href'))!;
}

/** Presses Tab until `target` has focus: how a keyboard user gets there. */
async function tabTo(page: Page, target: Locator, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${target}`);
}

/** Every page of the console, with the ids the other projects made. */
async function consolePages(page: Page): Promise<string[]> {
  const app = await href(page, '/policies', page.locator('a[href^="/policies/apps/"]'));
  const policy = await href(page, app, page.locator(`a[href^="${app}/policies/"]:not([href$="/new"])`));
  const user = await href(page, '/directory', page.getByTestId('user-list').locator('a[href^="/directory/users/"]'));
  const group = await href(page, '/directory?tab=groups', page.locator('tr[data-group="Engineering"] a'));
  const run = await href(page, '/directory', page.getByTestId('run-history').locator('a[href^="/directory/runs/"]'));
  const edit = await href(page, '/settings/identity-providers', page.getByRole('link', { name: 'Edit' }));
  const appId = app.split('/').pop()!;
  const userId = user.split('/').pop()!;
  return [
    '/',
    '/settings/identity-providers',
    '/settings/identity-providers/new?kind=okta',
    '/settings/identity-providers/new?kind=oidc',
    edit,
    '/settings/role-mappings',
    '/settings/api-tokens',
    '/directory',
    '/directory?tab=groups&sort=-members',
    user,
    group,
    run,
    '/policies',
    app,
    `${app}/policies/new`,
    policy,
    `/policies/test?app=${appId}&user=${userId}`,
    '/audit',
    '/audit?action=auth.sign_in_failed',
    '/settings',
  ];
}

test('every page has no serious or critical axe violation, in light and in dark mode', async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, true);
  const pages = await consolePages(page);
  const found: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const p of pages) {
      await page.goto(p);
      await ready(page, true);
      await expect(page.locator('main h1').first()).toBeVisible();
      for (const v of await violations(page)) found.push(`${scheme} ${p}: ${v}`);
    }
  }
  // Signed out: the sign-in page, with its provider button.
  await page.context().clearCookies();
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/login');
    await expect(page.getByRole('heading', { name: 'Sign in to Portcullis' })).toBeVisible();
    for (const v of await violations(page)) found.push(`${scheme} /login: ${v}`);
  }
  expect(found, found.join('\n')).toEqual([]);
});

test('every page loads the browser bundle that has its islands, and hydrates without an error', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, true);
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error') problems.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
  const bundles = new Set<string>();
  page.on('request', (r) => {
    if (r.url().endsWith('_bg.wasm')) bundles.add(new URL(r.url()).pathname);
  });
  for (const p of await consolePages(page)) {
    await page.goto(p);
    await ready(page, true);
  }
  expect(problems, problems.join('\n')).toEqual([]);
  // The pages above use every bundle: the frame's and one per page group.
  expect([...bundles].sort()).toEqual(
    ['access', 'applications', 'directory', 'policy-editor', 'providers'].map((b) => `/pkg/portcullis-${b}_bg.wasm`).concat('/pkg/portcullis_bg.wasm').sort(),
  );
});

test('dark mode follows the system, and a choice in Theme is kept by this browser', async ({ page }) => {
  await signIn(page, true);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/');
  await ready(page, true);
  const background = () => page.evaluate(() => getComputedStyle(document.body.parentElement!).backgroundColor);
  const dark = await background();
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await background();
  expect(dark).not.toEqual(light);
  await shot(page, 'overview-light');

  // Dark, chosen: kept across pages and reloads, whatever the system says.
  await page.getByTestId('theme').selectOption('dark');
  await expect(page.locator('html')).toHaveClass(/\bdark\b/);
  expect(await background()).toEqual(dark);
  await page.goto('/audit');
  await expect(page.locator('html')).toHaveClass(/\bdark\b/);
  expect(await background()).toEqual(dark);
  await ready(page, true);
  await expect(page.getByTestId('theme')).toHaveValue('dark');
  await shot(page, 'audit-dark');
  await page.goto('/directory');
  await shot(page, 'directory-dark');

  // Back to the system's choice.
  await ready(page, true);
  await page.getByTestId('theme').selectOption('system');
  await expect(page.locator('html')).not.toHaveClass(/\bdark\b/);
  expect(await background()).toEqual(light);
  await page.reload();
  expect(await background()).toEqual(light);
});

test('the policy editor by keyboard alone: fields in order, the group picker by arrow keys, Save by Enter', async ({ page }) => {
  await signIn(page, true);
  const app = await href(page, '/policies', page.locator('a[href^="/policies/apps/"]'));
  await page.goto(`${app}/policies/new`);
  await ready(page, true);
  await tabTo(page, page.getByLabel('Policy name'));
  await page.keyboard.type('Keyboard only');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Action')).toBeFocused();
  const include = page.getByRole('group', { name: 'Include (any of)' });
  const search = include.getByRole('combobox', { name: 'Search groups' });
  await tabTo(page, search);
  await page.keyboard.type('e');
  const options = include.getByRole('listbox').getByRole('option');
  await expect(options.first()).toBeVisible();
  const count = await options.count();
  // Down past the last wraps to the first; Up from the first to the last.
  for (let i = 0; i < count; i++) await page.keyboard.press('ArrowDown');
  await expect(options.last()).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowDown');
  await expect(options.first()).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowUp');
  await expect(options.last()).toHaveAttribute('aria-selected', 'true');
  // Escape clears the search and closes the list; the field keeps focus.
  await page.keyboard.press('Escape');
  await expect(search).toHaveValue('');
  await expect(include.getByRole('listbox')).toHaveCount(0);
  await expect(search).toBeFocused();
  await page.keyboard.type('engin');
  await expect(include.getByRole('option', { name: /^Engineering/ })).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(include.getByTestId('rule')).toHaveText(/Engineering/);
  await expect(search).toBeFocused();
  await expect(page).toHaveURL(/\/policies\/new$/);
  await tabTo(page, page.getByRole('button', { name: 'Save policy' }));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`${app}$`));
  await expect(page.locator('tr[data-policy="Keyboard only"]')).toBeVisible();
});

test('the Connect wizard by keyboard alone: fields in order, Continue by Enter, focus on what failed', async ({ page }) => {
  await signIn(page, true);
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  await tabTo(page, page.getByRole('link', { name: 'Connect Okta' }));
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Base URL')).toBeVisible();
  await ready(page, true);
  await tabTo(page, page.getByLabel('Name'));
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('Keyboard Okta');
  await tabTo(page, page.getByLabel('Base URL'));
  await page.keyboard.type(SIM);
  await tabTo(page, page.getByLabel('Client ID'));
  await page.keyboard.type(oidcApp.clientId);
  await tabTo(page, page.getByLabel('Client secret'));
  await page.keyboard.type('not-the-client-secret');
  await tabTo(page, page.getByRole('button', { name: 'Continue' }));
  await page.keyboard.press('Enter');
  const failed = page.locator('[data-check="client_credentials"]');
  await expect(failed).toHaveAttribute('data-status', 'failed');
  await expect(failed).toBeFocused();
  // Back to the field at fault, fixed, and on: the next step's heading takes focus.
  await tabTo(page, page.getByLabel('Client secret'), 150);
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(oidcApp.clientSecret);
  await tabTo(page, page.getByRole('button', { name: 'Continue' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Directory synchronization' })).toBeFocused();
});
