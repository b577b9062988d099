import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page, Response } from '@playwright/test';
import { test, expect, signIn, ready, shot } from './fixtures';

// The simulator serves its sample org; these are the values an admin would copy from Okta.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const oidcApp = fixture.oidcApps[0];
const dpopServiceApp = fixture.serviceApps.find((a: any) => a.dpopRequired);
const SIM = `http://127.0.0.1:${process.env.E2E_SIM_PORT}`;
const PRIVATE_KEY = JSON.stringify(dpopServiceApp.privateJwk, null, 2);
const API_TOKEN = fixture.apiTokens[0].token;
// Values that must never come back from the server.
const SECRETS = [oidcApp.clientSecret, dpopServiceApp.privateJwk.d, dpopServiceApp.privateJwk.p, API_TOKEN];

test.describe.configure({ mode: 'serial' });

/** Records every response body the browser receives, to search for secrets. */
function recordResponses(page: Page): string[] {
  const bodies: string[] = [];
  page.on('response', async (r: Response) => {
    try {
      const headers = JSON.stringify(r.headers());
      const type = r.headers()['content-type'] ?? '';
      const body = /json|html|text|javascript/.test(type) ? await r.text() : '';
      bodies.push(`${r.url()}\n${headers}\n${body}`);
    } catch {
      // Bodies of redirects and aborted requests are not readable.
    }
  });
  return bodies;
}

async function fillClientSettings(page: Page, secret = oidcApp.clientSecret) {
  await page.getByLabel('Base URL').fill(`  ${SIM}/.well-known/openid-configuration `);
  await page.getByLabel('Client ID').fill(oidcApp.clientId);
  await page.getByLabel('Client secret').fill(secret);
}

async function openConnect(page: Page, kind: 'Okta' | 'Generic OpenID Connect') {
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  await page.getByRole('link', { name: `Connect ${kind}` }).click();
  await expect(page.getByLabel('Base URL')).toBeVisible();
  await ready(page, true);
}

test('a wrong client secret fails its check with the fix and does not move on', async ({ page }) => {
  await signIn(page, true);
  await openConnect(page, 'Okta');
  await fillClientSettings(page, 'not-the-client-secret');
  await page.getByRole('button', { name: 'Continue' }).click();
  const row = page.locator('[data-check="client_credentials"]');
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row).toContainText('wrong Client ID or Client secret');
  await expect(row).toContainText('How to fix');
  // The failure is where the eyes and the keyboard are, and the field at fault says so.
  await expect(row).toBeFocused();
  await expect(row).toBeInViewport();
  const secret = page.getByLabel('Client secret');
  await expect(secret).toHaveAttribute('aria-invalid', 'true');
  const describedBy = (await secret.getAttribute('aria-describedby'))!;
  await expect(page.locator(`[id="${describedBy}"]`)).toContainText('Client');
  // What passed is one line, opened on demand.
  await expect(page.getByTestId('passed-checks').locator('summary')).toHaveText(/\d+ checks passed/);
  await shot(page, 'wizard-failed-check');
  await expect(page.locator('[data-check="discovery"]')).toHaveAttribute('data-status', 'passed');
  await expect(page.getByRole('heading', { name: 'Directory synchronization' })).toHaveCount(0);
});

test('the Okta wizard checks every step, syncs groups with a DPoP service app, and finishes', async ({ page }) => {
  const bodies = recordResponses(page);
  await signIn(page, true);
  await openConnect(page, 'Okta');
  await expect(page.getByTestId('redirect-uri').first()).toHaveText(/\/auth\/callback$/);
  await page.getByRole('button', { name: 'Copy Sign-in redirect URI' }).click();
  await expect(page.getByRole('button', { name: 'Copy Sign-in redirect URI' })).toHaveText('Copied');

  await page.getByLabel('Name').fill('Acme Okta');
  await fillClientSettings(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  const report = page.getByTestId('client-report').getByTestId('check-report');
  await expect(report).toHaveAttribute('data-ok', 'true');
  for (const id of ['base_url', 'discovery', 'issuer', 'metadata', 'jwks', 'client_credentials', 'scopes']) {
    await expect(page.locator(`[data-check="${id}"]`)).toHaveAttribute('data-status', 'passed');
  }
  // The normalisation is shown.
  await expect(page.locator('[data-check="base_url"]')).toContainText('Removed /.well-known/openid-configuration');

  await expect(page.getByRole('heading', { name: 'Directory synchronization' })).toBeVisible();
  await page.getByLabel('Enable directory synchronization').check();
  await page.getByLabel('Directory Sync Client ID').fill(dpopServiceApp.clientId);
  // The key as the file Okta's Generate new key saves, picked rather than pasted.
  await page.getByLabel('Choose file…').setInputFiles({
    name: 'private-key.json',
    mimeType: 'application/json',
    buffer: Buffer.from(PRIVATE_KEY),
  });
  await expect(page.getByText('Loaded private-key.json.')).toBeVisible();
  await expect(page.getByLabel('Directory Sync Private Key')).toHaveValue(PRIVATE_KEY);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('[data-check="directory_token"]')).toContainText('DPoP-bound');
  await expect(page.locator('[data-check="directory_groups"]')).toContainText(/\d+ groups: /);
  await expect(page.locator('[data-check="directory_users"]')).toContainText(/\d+ users\./);

  await expect(page.getByRole('heading', { name: 'Finish' })).toBeVisible();
  await page.getByRole('button', { name: 'Finish' }).click();
  await expect(page.getByTestId('connected')).toContainText('Okta connected');
  await expect(page.getByTestId('connected')).toContainText('groups stored');

  // The stored groups are in the directory at once.
  await page.goto('/directory?tab=groups');
  await expect(page.getByTestId('group-list')).toContainText('Everyone');

  for (const secret of SECRETS) {
    expect(bodies.join('\n')).not.toContain(secret);
  }
});

test('the list shows the provider, and Test connection re-runs every check', async ({ page }) => {
  const bodies = recordResponses(page);
  await signIn(page, true);
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  const row = page.getByTestId('provider-row').filter({ hasText: 'Acme Okta' });
  await expect(row.getByTestId('provider-status')).toHaveText('Enabled');
  await expect(row).toContainText('Directory: API service app');
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('check-report')).toHaveAttribute('data-ok', 'true');
  await expect(row.locator('[data-check="directory_token"]')).toHaveAttribute('data-status', 'passed');
  await expect(row.getByTestId('last-test')).toContainText(/All \d+ checks passed/);
  for (const secret of SECRETS) {
    expect(bodies.join('\n')).not.toContain(secret);
  }
});

test('Edit shows secrets as set, keeps them on save, and re-checks', async ({ page }) => {
  const bodies = recordResponses(page);
  await signIn(page, true);
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  await page.getByTestId('provider-row').filter({ hasText: 'Acme Okta' }).getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Name')).toHaveValue('Acme Okta');
  await ready(page, true);
  await expect(page.getByTestId('client-secret-set')).toHaveText('Set (hidden)');
  await expect(page.getByTestId('dir-private-key-set')).toHaveText('Set (hidden)');
  await shot(page, 'provider-edit');
  await page.getByLabel('Name').fill('Acme Okta (prod)');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('save-result')).toHaveAttribute('data-saved', 'true');
  await expect(page.getByTestId('check-report')).toHaveAttribute('data-ok', 'true');

  // Replacing a secret with a wrong one is checked and refused; nothing is saved.
  await page.getByRole('button', { name: 'Replace Client secret' }).click();
  await page.getByLabel('Client secret').fill('a-wrong-secret');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('save-result')).toHaveAttribute('data-saved', 'false');
  await expect(page.locator('[data-check="client_credentials"]')).toHaveAttribute('data-status', 'failed');

  await page.goto('/settings/identity-providers');
  await ready(page, true);
  const row = page.getByTestId('provider-row').filter({ hasText: 'Acme Okta (prod)' });
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('check-report')).toHaveAttribute('data-ok', 'true');
  for (const secret of SECRETS) {
    expect(bodies.join('\n')).not.toContain(secret);
  }
});

test('a generic OpenID Connect provider connects without the directory step', async ({ page }) => {
  await signIn(page, true);
  await openConnect(page, 'Generic OpenID Connect');
  // Its own words: no Okta, and where each provider keeps the values.
  await expect(page.getByLabel('Base URL')).not.toHaveAttribute('placeholder', /okta/);
  await expect(page.getByText('General tab in Okta')).toHaveCount(0);
  await page.getByLabel('Provider', { exact: true }).selectOption('Keycloak');
  await expect(page.getByLabel('Base URL')).toHaveAttribute('placeholder', /\/realms\//);
  await expect(page.getByText('Group Membership, token claim name groups')).toBeVisible();
  await expect(page.getByLabel('Name')).toHaveValue('Keycloak');
  await page.getByLabel('Provider', { exact: true }).selectOption('Microsoft Entra ID');
  await expect(page.getByText('copy its Value, not its Secret ID')).toBeVisible();
  await shot(page, 'wizard-generic-entra');
  await expect(page.getByRole('list', { name: 'Steps' })).toContainText('2. Finish');
  await page.getByLabel('Name').fill('Corporate SSO');
  await page.getByLabel('Base URL').fill(`${SIM}/oauth2/default`);
  await page.getByLabel('Client ID').fill(oidcApp.clientId);
  await page.getByLabel('Client secret').fill(oidcApp.clientSecret);
  await page.getByLabel('Scopes').fill('openid profile email groups');
  await page.getByRole('button', { name: 'Continue' }).click();
  // The default custom server lists no groups scope: a warning, and the wizard goes on.
  await expect(page.locator('[data-check="scopes"]')).toHaveAttribute('data-status', 'warning');
  await expect(page.getByRole('heading', { name: 'Finish' })).toBeVisible();
  await page.getByRole('button', { name: 'Finish' }).click();
  await expect(page.getByTestId('connected')).toContainText('Provider connected');
});

test('the same Okta app connected again is a warning at Continue and needs a confirmation at Finish', async ({ page }) => {
  await signIn(page, true);
  await openConnect(page, 'Okta');
  await page.getByLabel('Name').fill('Okta again');
  await fillClientSettings(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('[data-check="duplicate"]')).toHaveAttribute('data-status', 'warning');
  await expect(page.locator('[data-check="duplicate"]')).toContainText("'Acme Okta (prod)' is connected already");
  // Focus moved to the new step.
  await expect(page.getByRole('heading', { name: 'Directory synchronization' })).toBeFocused();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { name: 'Finish' })).toBeFocused();
  await page.getByRole('button', { name: 'Finish' }).click();
  await expect(page.getByRole('alert')).toContainText('connected already with this issuer and client ID');
  await page.getByLabel('Connect this app a second time').check();
  await page.getByRole('button', { name: 'Finish' }).click();
  await expect(page.getByTestId('connected')).toContainText('Okta connected');
  // Removed again: the sign-in tests expect one button.
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  const row = page.getByTestId('provider-row').filter({ hasText: 'Okta again' });
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Delete provider' }).click();
  await expect(page.getByTestId('provider-row').filter({ hasText: 'Okta again' })).toHaveCount(0);
});

test('a provider can be disabled, enabled and deleted after confirmation', async ({ page }) => {
  await signIn(page, true);
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  const row = page.getByTestId('provider-row').filter({ hasText: 'Corporate SSO' });
  await row.getByRole('button', { name: 'Disable' }).click();
  await expect(row.getByTestId('provider-status')).toHaveText('Disabled');
  await row.getByRole('button', { name: 'Enable' }).click();
  await expect(row.getByTestId('provider-status')).toHaveText('Enabled');

  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row.getByRole('alertdialog')).toContainText('This cannot be undone');
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row.getByRole('alertdialog')).toHaveCount(0);
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Delete provider' }).click();
  await expect(page.getByTestId('provider-row').filter({ hasText: 'Corporate SSO' })).toHaveCount(0);
  await expect(page.getByTestId('provider-row').filter({ hasText: 'Acme Okta (prod)' })).toHaveCount(1);

  // Every change is in the audit log, without secrets.
  await page.goto('/audit');
  await expect(page.locator('tr[data-action="provider.created"]').first()).toBeVisible();
  await expect(page.locator('tr[data-action="provider.tested"]').first()).toBeVisible();
  await expect(page.locator('tr[data-action="provider.updated"]').first()).toBeVisible();
  await expect(page.locator('tr[data-action="provider.disabled"]').first()).toBeVisible();
  await expect(page.locator('tr[data-action="provider.deleted"]').first()).toBeVisible();
  const audit = await page.getByTestId('audit-table').innerText();
  for (const secret of SECRETS) {
    expect(audit).not.toContain(secret);
  }
});

test('no secret reached the server log', async () => {
  const log = readFileSync(process.env.E2E_JS_LOG!, 'utf8');
  expect(log.length).toBeGreaterThan(0);
  for (const secret of SECRETS) {
    expect(log).not.toContain(secret);
  }
});
