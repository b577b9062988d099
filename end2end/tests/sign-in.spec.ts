import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Page } from '@playwright/test';
import { test, expect, signIn, ready, shot } from './fixtures';

// Runs after directory.spec.ts: "Acme Okta (prod)" is connected and its directory synchronized.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const SIM = `http://127.0.0.1:${process.env.E2E_SIM_PORT}`;
const CONSOLE = `http://127.0.0.1:${process.env.E2E_JS_PORT}`;
const PROVIDER = 'Acme Okta (prod)';
const PASSWORD = 'Portcullis-Demo-1';
const ADMINS = fixture.groups.find((g: any) => g.profile.name === 'Portcullis Admins');
const ENGINEERING = fixture.groups.find((g: any) => g.profile.name === 'Engineering');
const ADA = fixture.users.find((u: any) => u.profile.login === 'ada.lovelace@example.com');
// Someone still active after the directory tests (they deactivated the first ten), in Engineering but not an admin.
const OTHER = fixture.users
  .filter((u: any) => u.status === 'ACTIVE' && u.id !== ADA.id)
  .slice(10)
  .find((u: any) => !ADMINS.members.includes(u.id) && ENGINEERING.members.includes(u.id));

test.describe.configure({ mode: 'serial' });

async function control(request: any, op: object) {
  const r = await request.post(`${SIM}/__sim/control`, { data: op });
  expect(r.ok(), await r.text()).toBeTruthy();
}

/** From the console's sign-in page, through the simulator's sign-in form, back to the console. */
async function signInWithOkta(page: Page, login: string) {
  await page.goto('/login');
  await ready(page, true);
  await page.getByRole('button', { name: `Sign in with ${PROVIDER}` }).click();
  await expect(page).toHaveURL(new RegExp(`^${SIM}/`));
  await page.getByLabel('Username').fill(login);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test.beforeAll(async ({ request }) => {
  expect(OTHER, 'the sample org has an active non-admin engineer').toBeTruthy();
  await control(request, {
    op: 'set_redirect_uris',
    client_id: fixture.oidcApps[0].clientId,
    redirect_uris: [`${CONSOLE}/auth/callback`],
    post_logout_redirect_uris: [`${CONSOLE}/login`],
  });
});

test('an admin maps Okta groups to console roles', async ({ page }) => {
  await signIn(page, true);
  await page.goto('/settings/role-mappings');
  await ready(page, true);
  await expect(page.getByTestId('no-mappings')).toBeVisible();
  await page.getByLabel('Identity provider').selectOption({ label: PROVIDER });
  // A typo: no synced group has that name; the closest one is offered, nothing is saved.
  await page.getByLabel('Group').fill('Portcullis Admin');
  await page.getByLabel('Role').selectOption('admin');
  await page.getByRole('button', { name: 'Add mapping' }).click();
  const unknown = page.getByTestId('unknown-group');
  await expect(unknown).toContainText("No group of this provider is named 'Portcullis Admin'");
  await expect(page.getByTestId('no-mappings')).toBeVisible();
  await shot(page, 'role-mapping-unknown-group');
  await unknown.getByRole('button', { name: "Use 'Portcullis Admins'" }).click();
  const row = page.locator('tr[data-group="Portcullis Admins"]');
  await expect(row).toBeVisible();
  // Synchronized groups are mapped by id, not by name.
  await expect(row).not.toContainText('matched by name');
  await expect(row.getByLabel('Role for Portcullis Admins')).toHaveValue('admin');

  // Refresh tokens let sessions follow group changes: ask for offline_access.
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  await page.getByTestId('provider-row').filter({ hasText: PROVIDER }).getByRole('link', { name: 'Edit' }).click();
  await ready(page, true);
  await expect(page.getByLabel('Name')).toHaveValue(PROVIDER);
  await page.getByLabel('Scopes').fill('openid profile email groups offline_access');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('save-result')).toHaveAttribute('data-saved', 'true');
});

test('signing in with Okta gives the role the groups map to', async ({ page }) => {
  await signInWithOkta(page, ADA.profile.login);
  await expect(page).toHaveURL(`${CONSOLE}/`);
  await ready(page, true);
  await expect(page.getByTestId('signed-in-as')).toContainText(ADA.profile.email);
  await expect(page.getByTestId('signed-in-as')).toContainText('Admin');
  await page.goto('/audit');
  await expect(page.locator('tr[data-action="auth.sign_in"]').first()).toContainText('sso');
});

test('someone whose groups map to no role is refused and told which groups grant access', async ({ page }) => {
  await signInWithOkta(page, OTHER.profile.login);
  await expect(page).toHaveURL(/\/auth\/error\?code=no_role/);
  await expect(page.getByTestId('sign-in-error')).toContainText('You have no access to this console');
  await expect(page.getByTestId('your-groups')).toContainText('Engineering');
  // Which groups grant Admin is not told to someone who was refused.
  await expect(page.getByTestId('sign-in-error')).toContainText('Ask a Portcullis administrator');
  await expect(page.getByTestId('granting-groups')).toHaveCount(0);
  await shot(page, 'sign-in-refused');
  await expect(page.locator('body')).not.toContainText('Portcullis Admins');
  // No session: the console still wants a sign-in.
  await page.goto('/directory');
  await expect(page).toHaveURL(/\/login/);
});

test('a group change in Okta is seen at the next sign-in and at session refresh', async ({ page, request }) => {
  await control(request, { op: 'add_membership', group_id: ADMINS.id, user_id: OTHER.id });
  // Short-lived access tokens: the session refreshes at its next request.
  await control(request, { op: 'set_switches', switches: { accessTokenSeconds: 31 } });
  await signInWithOkta(page, OTHER.profile.login);
  await expect(page).toHaveURL(`${CONSOLE}/`);
  await ready(page, true);
  await expect(page.getByTestId('signed-in-as')).toContainText('Admin');

  // Still an admin after a refresh (the tokens are due a second after sign-in)…
  await page.waitForTimeout(1500);
  await page.goto('/directory');
  await expect(page).toHaveURL(/\/directory/);
  // …until Okta takes the group away: the next refresh ends the session.
  await control(request, { op: 'remove_membership', group_id: ADMINS.id, user_id: OTHER.id });
  // The tokens from the last refresh are due again a second after it.
  await page.waitForTimeout(1500);
  await page.goto('/audit');
  await expect(page).toHaveURL(/\/login/);
  await control(request, { op: 'set_switches', switches: { accessTokenSeconds: 3600 } });

  await signIn(page, true);
  await page.goto('/audit');
  await expect(page.locator('tr[data-action="auth.session_refresh_failed"]').first()).toContainText(OTHER.profile.email);
  await expect(page.locator('tr[data-action="auth.session_refreshed"]').first()).toBeVisible();
});

test('signing out also signs out at Okta', async ({ page }) => {
  await signInWithOkta(page, ADA.profile.login);
  await ready(page, true);
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Through the simulator's end-session endpoint and back.
  await expect(page).toHaveURL(/\/login\?state=signed_out/);
  await expect(page.getByRole('status')).toContainText('You are signed out');
  // The simulator's session is gone too: it asks for the password again.
  await ready(page, true);
  await page.getByRole('button', { name: `Sign in with ${PROVIDER}` }).click();
  await expect(page.getByLabel('Password')).toBeVisible();
});

test('Test sign-in shows the claims and the role, and creates no session', async ({ page, context }) => {
  await signIn(page, true);
  await page.goto('/settings/identity-providers');
  await ready(page, true);
  const popup = context.waitForEvent('page');
  await page.getByTestId('provider-row').filter({ hasText: PROVIDER }).getByRole('button', { name: 'Test sign-in' }).click();
  const tab = await popup;
  await tab.getByLabel('Username').fill(ADA.profile.login);
  await tab.getByLabel('Password').fill(PASSWORD);
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expect(tab.getByTestId('test-sign-in-verdict')).toContainText(`${ADA.profile.email} would sign in as Admin`);
  await expect(tab.getByTestId('test-sign-in-groups')).toContainText('Portcullis Admins');
  await expect(tab.getByTestId('test-sign-in-claims')).toContainText('"sub"');
  // The admin is still the local admin.
  await tab.goto('/');
  await ready(tab, true);
  await expect(tab.getByTestId('signed-in-as')).toContainText('ada@example.com');
  await tab.goto('/audit');
  await expect(tab.locator('tr[data-action="auth.sso_dry_run"]').first()).toBeVisible();
});
