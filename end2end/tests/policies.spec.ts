import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Page } from '@playwright/test';
import { test, expect, signIn, ready, shot } from './fixtures';

// Runs after sign-in.spec.ts: "Acme Okta (prod)" is connected, its directory synchronized
// (directory.spec.ts deactivated the first ten active users other than Ada), and signing in
// with it works.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const SIM = `http://127.0.0.1:${process.env.E2E_SIM_PORT}`;
const CONSOLE = `http://127.0.0.1:${process.env.E2E_JS_PORT}`;
const PROVIDER = 'Acme Okta (prod)';
const PASSWORD = 'Portcullis-Demo-1';
const APP = 'Team wiki';
const HOST = 'wiki.example.test';

const group = (name: string) => fixture.groups.find((g: any) => g.profile.name === name);
const ENGINEERING = group('Engineering');
const MARKETING = group('Marketing');
const ADMINS = group('Portcullis Admins');
// Active in the console's directory: active in Okta and not among those the directory tests deactivated.
const activeInOkta = fixture.users.filter((u: any) => u.status === 'ACTIVE' && !u.profile.login.startsWith('ada.'));
const deactivated = new Set(activeInOkta.slice(0, 10).map((u: any) => u.id));
const stillActive = activeInOkta.filter((u: any) => !deactivated.has(u.id));
const engineers = stillActive.filter((u: any) => ENGINEERING.members.includes(u.id));
const MEMBER = engineers[0];
const EXCLUDED = engineers[1];
const OUTSIDER = stillActive.find((u: any) => !ENGINEERING.members.includes(u.id));
const VIEWER = stillActive.find(
  (u: any) => MARKETING.members.includes(u.id) && !ADMINS.members.includes(u.id) && !ENGINEERING.members.includes(u.id),
);

test.describe.configure({ mode: 'serial' });

let appUrl = '';

async function policyNames(page: Page): Promise<string[]> {
  return page.getByTestId('policy-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-policy') ?? ''));
}

/** The group's members the console holds as active, counted on the directory's group page. */
async function activeMembers(page: Page, name: string): Promise<number> {
  await page.goto('/directory?tab=groups');
  await page.locator(`tr[data-group="${name}"]`).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  return page.getByTestId('user-list').getByTestId('user-state').filter({ hasText: /^Active$/ }).count();
}

test('an application, and an Allow policy built from a group with a live preview', async ({ page }) => {
  expect(MEMBER && EXCLUDED && OUTSIDER && VIEWER, 'the sample org has the people this test needs').toBeTruthy();
  await signIn(page, true);
  const expected = await activeMembers(page, 'Engineering');
  expect(expected).toBeGreaterThan(1);

  await page.goto('/policies');
  await ready(page, true);
  // (Other specs may add applications of their own meanwhile: only ours is looked at.)
  await page.getByRole('link', { name: 'New application' }).click();
  await expect(page.getByRole('heading', { name: 'New application' })).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill(APP);
  await page.getByLabel('Hostname 1', { exact: true }).fill(HOST);
  // A second hostname with a path prefix, removed again.
  await page.getByRole('button', { name: 'Add hostname' }).click();
  await page.getByLabel('Hostname 2', { exact: true }).fill('example.test');
  await page.getByLabel('Path prefix 2', { exact: true }).fill('/wiki');
  await page.getByLabel('Session duration (minutes)').fill('480');
  await page.getByRole('button', { name: 'Create application' }).click();
  await expect(page).toHaveURL(/\/policies\/apps\/[^/?]+$/);
  appUrl = page.url();
  await expect(page.getByRole('heading', { name: APP })).toBeVisible();
  await expect(page.getByTestId('application-summary')).toContainText(HOST);
  await expect(page.getByTestId('application-summary')).toContainText('example.test/wiki');
  await expect(page.getByTestId('application-summary')).toContainText('sessions last 8 hours');
  await expect(page.getByTestId('no-policies')).toBeVisible();
  // The proxy configuration for this application, filled in and pinned to it.
  const appId = appUrl.split('/').pop()!;
  await expect(page.getByTestId('application-id')).toHaveText(appId);
  const snippets = page.getByTestId('proxy-snippets');
  await expect(snippets.locator('[data-proxy="nginx"]')).toContainText(`server_name ${HOST};`);
  await expect(snippets.locator('[data-proxy="nginx"]')).toContainText(`/verify?app=${appId};`);
  await expect(snippets.locator('[data-proxy="nginx"]')).toContainText('location /wiki {');
  await snippets.getByRole('tab', { name: 'Caddy' }).click();
  await expect(snippets.locator('[data-proxy="Caddy"]')).toBeVisible();
  await expect(snippets.locator('[data-proxy="Caddy"]')).toContainText(`uri /verify/forward?app=${appId}`);
  await expect(snippets.locator('[data-proxy="nginx"]')).toBeHidden();
  await shot(page, 'application-snippets');
  await snippets.getByRole('button', { name: 'Copy Caddy configuration' }).click();
  await expect(snippets.getByRole('button', { name: 'Copy Caddy configuration' })).toHaveText('Copied');

  // The same hostname cannot go to a second application.
  await page.goto('/policies/new');
  await ready(page, true);
  await page.getByLabel('Name', { exact: true }).fill('Another wiki');
  await page.getByLabel('Hostname 1', { exact: true }).fill(HOST);
  await page.getByRole('button', { name: 'Create application' }).click();
  await expect(page.getByRole('alert')).toContainText(`'${HOST}' already belongs to the application '${APP}'`);

  await page.goto(appUrl);
  await ready(page, true);
  await page.getByRole('link', { name: 'Add policy' }).click();
  await expect(page.getByRole('heading', { name: 'New policy' })).toBeVisible();
  await ready(page, true);
  const preview = page.getByTestId('preview');
  await expect(preview).toHaveAttribute('data-matched', '0');
  const total = Number(await preview.getAttribute('data-total'));
  expect(total).toBeGreaterThan(expected);

  await page.getByLabel('Policy name').fill('Engineers');
  const include = page.getByRole('group', { name: 'Include (any of)' });
  // The picker is a combobox: arrow keys move through the results, Enter picks.
  const groupSearch = include.getByRole('combobox', { name: 'Search groups' });
  await groupSearch.fill('engin');
  const option = include.getByRole('option', { name: /^Engineering/ });
  await expect(option).toBeVisible();
  await groupSearch.press('ArrowDown');
  await expect(option).toHaveAttribute('aria-selected', 'true');
  await expect(groupSearch).toHaveAttribute('aria-activedescendant', (await option.getAttribute('id'))!);
  await groupSearch.press('Enter');
  await expect(groupSearch).toBeFocused();
  await expect(groupSearch).toHaveValue('');
  await expect(include.getByTestId('rule')).toHaveText(/Engineering/);
  await expect(preview).toHaveAttribute('data-matched', String(expected));
  await expect(page.getByTestId('preview-count')).toHaveText(`Matches ${expected} of ${total} users`);
  await expect(page.getByTestId('preview-users')).toContainText(MEMBER.profile.email);
  await expect(page.getByTestId('preview-users')).not.toContainText(OUTSIDER.profile.email);

  // Excluding one engineer: one fewer.
  const exclude = page.getByRole('group', { name: 'Exclude (none of)' });
  await exclude.getByLabel('Rule type').selectOption('user');
  await exclude.getByLabel('Search users').fill(EXCLUDED.profile.email);
  await exclude.getByRole('option', { name: new RegExp(EXCLUDED.profile.email) }).click();
  await expect(exclude.getByTestId('rule')).toContainText(EXCLUDED.profile.email);
  await expect(preview).toHaveAttribute('data-matched', String(expected - 1));
  await expect(page.getByTestId('preview-count')).toHaveText(`Matches ${expected - 1} of ${total} users`);
  await expect(page.getByTestId('preview-users')).not.toContainText(EXCLUDED.profile.email);

  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page).toHaveURL(appUrl);
  const row = page.locator('tr[data-policy="Engineers"]');
  await expect(row.getByTestId('policy-action')).toHaveText('Allow');
  await expect(row.getByTestId('policy-rules')).toContainText('Include: Group Engineering');
  await expect(row.getByTestId('policy-rules')).toContainText(`Exclude: User`);
  await expect(row.getByTestId('policy-rules')).toContainText(EXCLUDED.profile.email);

  // Opened again, the editor shows the saved rules and the same preview.
  await row.getByRole('link', { name: 'Engineers' }).click();
  await expect(page.getByRole('heading', { name: 'Edit policy' })).toBeVisible();
  await expect(page.getByLabel('Policy name')).toHaveValue('Engineers');
  await expect(page.getByTestId('preview')).toHaveAttribute('data-matched', String(expected - 1));
});

test('a Block policy, reordered with Move up and Move down', async ({ page }) => {
  await signIn(page, true);
  await page.goto(appUrl);
  await ready(page, true);
  await page.getByRole('link', { name: 'Add policy' }).click();
  await expect(page.getByRole('heading', { name: 'New policy' })).toBeVisible();
  await ready(page, true);
  await page.getByLabel('Policy name').fill('Block contractors');
  await page.getByLabel('Action').selectOption('block');
  const include = page.getByRole('group', { name: 'Include (any of)' });
  await include.getByLabel('Rule type').selectOption('email_domain');
  await include.getByLabel('Email domain').fill('contractors.example.test');
  await include.getByRole('button', { name: 'Add domain' }).click();
  await expect(include.getByTestId('rule')).toContainText('contractors.example.test');
  await expect(page.getByTestId('preview')).toHaveAttribute('data-matched', '0');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page).toHaveURL(appUrl);

  await expect.poll(() => policyNames(page)).toEqual(['Engineers', 'Block contractors']);
  await expect(page.locator('tr[data-policy="Block contractors"]').getByTestId('policy-action')).toHaveText('Block');
  // The first cannot go up, the last cannot go down.
  await expect(page.locator('tr[data-policy="Engineers"]').getByRole('button', { name: 'Move up' })).toBeDisabled();
  await expect(page.locator('tr[data-policy="Block contractors"]').getByRole('button', { name: 'Move down' })).toBeDisabled();

  // Listed second, evaluated first: the list says so.
  await expect(page.locator('tr[data-policy="Block contractors"]').getByTestId('policy-evaluated')).toContainText('1.before Allow');
  await expect(page.locator('tr[data-policy="Engineers"]').getByTestId('policy-evaluated')).toContainText('2.after Bypass and Block');

  await page.locator('tr[data-policy="Block contractors"]').getByRole('button', { name: 'Move up' }).click();
  await expect.poll(() => policyNames(page)).toEqual(['Block contractors', 'Engineers']);
  // Focus stays with the moved policy: at the top, on its Move down.
  await expect(page.locator('tr[data-policy="Block contractors"]').getByRole('button', { name: 'Move down' })).toBeFocused();
  await page.reload();
  await ready(page, true);
  await expect.poll(() => policyNames(page)).toEqual(['Block contractors', 'Engineers']);
  await page.locator('tr[data-policy="Block contractors"]').getByRole('button', { name: 'Move down' }).click();
  await expect.poll(() => policyNames(page)).toEqual(['Engineers', 'Block contractors']);
  await expect(page.locator('tr[data-policy="Engineers"]').getByTestId('policy-number')).toHaveText('1');
});

test('Test a user: the decision, and the policy and rule behind it', async ({ page }) => {
  await signIn(page, true);
  await page.goto(appUrl);
  await ready(page, true);
  await page.getByRole('link', { name: 'Test a user' }).click();
  await expect(page.getByRole('heading', { name: 'Test a user' })).toBeVisible();
  await ready(page, true);
  await expect(page.getByLabel('Application')).toHaveValue(appUrl.split('/').pop()!);

  // A member, picked from the list while typing.
  const surname = MEMBER.profile.lastName.toLowerCase();
  await page.getByLabel('User', { exact: true }).fill(surname);
  await page.getByRole('option', { name: new RegExp(MEMBER.profile.email) }).click();
  await expect(page.getByLabel('User', { exact: true })).toHaveValue(MEMBER.profile.email);
  await page.getByRole('button', { name: 'Test a user' }).click();
  const decision = page.getByTestId('decision');
  await expect(decision).toHaveAttribute('data-outcome', 'allow');
  await expect(page.getByTestId('decision-outcome')).toHaveText('Allowed');
  await expect(page.getByTestId('decision-summary')).toContainText("policy #1 'Engineers'");
  await expect(page.getByTestId('decision-summary')).toContainText("included by group 'Engineering'");
  // Block policies are checked first: it did not match, then Engineers did.
  const steps = page.getByTestId('decision-steps');
  await expect(steps.locator('tr[data-policy="Block contractors"]')).toHaveAttribute('data-result', 'not_included');
  await expect(steps.locator('tr[data-policy="Engineers"]')).toHaveAttribute('data-result', 'matched');

  // Someone outside Engineering: nothing matched.
  await ready(page, true);
  // Picked from the list as a person would: the list appears under the field once the search
  // answers, and a click on Test a user made meanwhile could land on it instead.
  await page.getByLabel('User', { exact: true }).fill(OUTSIDER.profile.email);
  await page.getByRole('option', { name: new RegExp(OUTSIDER.profile.email) }).click();
  await expect(page.getByRole('listbox')).toHaveCount(0);
  await page.getByRole('button', { name: 'Test a user' }).click();
  await expect(decision).toHaveAttribute('data-outcome', 'no_match');
  await expect(page.getByTestId('decision-outcome')).toHaveText('Blocked: no policy matched');
  await expect(page.getByTestId('decision-summary')).toContainText('no policy matched this person');
  await expect(steps.locator('tr[data-policy="Engineers"]')).toContainText('none of its Include rules applies');

  // The excluded engineer: blocked, and the Exclude rule says why.
  await page.goto(`/policies/test?app=${appUrl.split('/').pop()}&user=${encodeURIComponent(EXCLUDED.profile.email)}`);
  await expect(decision).toHaveAttribute('data-outcome', 'no_match');
  await expect(steps.locator('tr[data-policy="Engineers"]')).toHaveAttribute('data-result', 'excluded');
  await expect(steps.locator('tr[data-policy="Engineers"]')).toContainText('excluded by user');
});

test("a user's page shows each application's decision and why; a group's page the policies using it", async ({ page }) => {
  await signIn(page, true);
  await page.goto(`/directory?q=${encodeURIComponent(MEMBER.profile.email)}`);
  await page.getByTestId('user-list').locator('tbody a').first().click();
  const access = page.getByTestId('user-access');
  const row = access.locator(`tr[data-app="${APP}"]`);
  await expect(row).toHaveAttribute('data-outcome', 'allow');
  await expect(row).toContainText('Engineers');
  await shot(page, 'user-access');
  await row.getByRole('link', { name: 'Every step' }).click();
  await expect(page.getByTestId('decision-outcome')).toHaveText('Allowed');

  await page.goto('/directory?tab=groups');
  await page.locator('tr[data-group="Engineering"] a').click();
  await expect(page.getByTestId('group-uses').locator('li[data-policy="Engineers"]')).toContainText('include rules');
  await shot(page, 'group-uses');
});

test('the Overview tells the state: providers with their check and sync, what is protected, the next step', async ({ page }) => {
  await signIn(page, true);
  await page.goto('/');
  await ready(page, true);
  const provider = page.getByTestId('provider-states').locator(`[data-provider="${PROVIDER}"]`);
  await expect(provider).toContainText('Check: Passed');
  await expect(provider).toContainText(/Directory sync: (Full sync|Incremental sync)/);
  await expect(page.locator('[data-stat="Applications"]')).not.toHaveText('0');
  await expect(page.locator('[data-stat="Policies"]')).not.toHaveText('0');
  await expect(page.getByTestId('next-step')).not.toContainText('Connect your identity provider');
  await shot(page, 'overview');
});

test('export as JSON, and import: a bad document changes nothing, a good one replaces the policies', async ({ page }) => {
  await signIn(page, true);
  await page.goto(appUrl);
  await ready(page, true);
  // One click downloads the document.
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export JSON' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('team-wiki.policies.json');
  const text = readFileSync((await file.path())!, 'utf8');
  expect(text).toContain('"format": "portcullis.policies"');
  const doc = JSON.parse(text);
  expect(doc.version).toBe(1);
  expect(doc.application.name).toBe(APP);
  expect(doc.policies.map((p: any) => p.name)).toEqual(['Engineers', 'Block contractors']);
  expect(doc.policies[0].rules.include[0]).toMatchObject({ type: 'group', external_id: ENGINEERING.id });
  // Groups by their provider id, with today's name beside it for people reading the file, and
  // the provider by what identifies it on any console.
  expect(doc.references).toContainEqual(expect.objectContaining({ label: 'Engineering' }));
  const providerId = doc.policies[0].rules.include[0].provider_id;
  expect(doc.providers).toEqual([expect.objectContaining({ id: providerId, name: PROVIDER })]);

  // Not an export at all.
  await page.getByRole('button', { name: 'Import JSON' }).click();
  const field = page.getByLabel('Policy document (JSON)');
  await field.fill(JSON.stringify({ format: 'something.else', version: 1, policies: [] }));
  await page.getByRole('button', { name: 'Import policies' }).click();
  await expect(page.getByRole('alert')).toContainText('This is not a policy export');
  // A good first policy and a bad second one: checked as a whole, nothing changes.
  const unknownGroup = {
    ...doc,
    policies: [
      doc.policies[0],
      { name: 'Ghosts', action: 'allow', rules: { include: [{ type: 'group', provider_id: doc.policies[0].rules.include[0].provider_id, external_id: '00gNOSUCHGROUP' }] } },
    ],
  };
  await field.fill(JSON.stringify(unknownGroup));
  await page.getByRole('button', { name: 'Import policies' }).click();
  await expect(page.getByRole('alert')).toContainText("Policy 2 ('Ghosts') in the file");
  await expect(page.getByRole('alert')).toContainText('00gNOSUCHGROUP');
  await page.reload();
  await ready(page, true);
  await expect.poll(() => policyNames(page)).toEqual(['Engineers', 'Block contractors']);

  // A modified export: one policy renamed, one added, the Block policy gone.
  const modified = {
    ...doc,
    policies: [
      { ...doc.policies[0], name: 'Engineering team' },
      { name: 'Everyone at example.com', action: 'allow', enabled: true, rules: { include: [{ type: 'email_domain', domain: 'example.com' }] } },
    ],
  };
  await page.getByRole('button', { name: 'Import JSON' }).click();
  // From a file, as the export was saved.
  await page.getByLabel('Choose file…').setInputFiles({
    name: 'modified.policies.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(modified, null, 2)),
  });
  await expect(page.getByText('Loaded modified.policies.json.')).toBeVisible();
  await expect(page.getByLabel('Policy document (JSON)')).toHaveValue(/Everyone at example.com/);
  await page.getByRole('button', { name: 'Import policies' }).click();
  await expect(page.getByTestId('import-result')).toHaveText('Imported 2 policies, replacing 2.');
  await expect.poll(() => policyNames(page)).toEqual(['Engineering team', 'Everyone at example.com']);

  // The outsider now gets in through the imported policy.
  await page.goto(`/policies/test?app=${appUrl.split('/').pop()}&user=${encodeURIComponent(OUTSIDER.profile.email)}`);
  await expect(page.getByTestId('decision')).toHaveAttribute('data-outcome', 'allow');
  await expect(page.getByTestId('decision-summary')).toContainText("'Everyone at example.com'");

  // The exported document as a new application, from the applications list.
  await page.goto('/policies');
  await ready(page, true);
  await page.getByRole('button', { name: 'Import JSON' }).click();
  const staging = {
    ...doc,
    application: { ...doc.application, name: `${APP} (staging)`, hosts: [{ hostname: 'wiki.staging.example.test', path_prefix: '/' }] },
  };
  // As another console exports it: its own id for a provider of another org, unknown here.
  // The import says so and offers this console's providers; the one chosen is used.
  const elsewhere = JSON.parse(JSON.stringify(staging).replaceAll(providerId, 'console-2-provider'));
  elsewhere.providers[0].issuer = 'https://other-org.okta.example';
  await page.getByLabel('Policy document (JSON)').fill(JSON.stringify(elsewhere));
  await page.getByRole('button', { name: 'Import as new application' }).click();
  await expect(page.getByRole('alert')).toContainText('which is not connected here');
  const mapping = page.getByTestId('provider-mapping');
  await expect(mapping).toContainText('Not connected here');
  await shot(page, 'import-provider-mapping');
  await mapping.getByRole('combobox').selectOption(providerId);
  await page.getByRole('button', { name: 'Import as new application' }).click();
  await expect(page.getByRole('heading', { name: `${APP} (staging)` })).toBeVisible();
  await expect(page.getByTestId('application-summary')).toContainText('wiki.staging.example.test');
  await expect.poll(() => policyNames(page)).toEqual(['Engineers', 'Block contractors']);

  await page.goto('/audit');
  await expect(page.locator('tr[data-action="policy.imported"]').filter({ hasText: APP }).first()).toBeVisible();
  await expect(page.locator('tr[data-action="policy.reordered"]').first()).toBeVisible();
});

test('a Viewer sees policies and tests users, but cannot change them', async ({ page, browser }) => {
  // Marketing → Viewer, as the admin; removed again at the end.
  await signIn(page, true);
  await page.goto('/settings/role-mappings');
  await ready(page, true);
  const add = page.getByRole('region', { name: 'Add a mapping' });
  await add.getByLabel('Identity provider').selectOption({ label: PROVIDER });
  await add.getByLabel('Group').fill('Marketing');
  await add.getByLabel('Role').selectOption('viewer');
  await add.getByRole('button', { name: 'Add mapping' }).click();
  await expect(page.locator('tr[data-group="Marketing"]')).toBeVisible();

  const context = await browser.newContext();
  const viewer = await context.newPage();
  try {
    await viewer.goto(`${CONSOLE}/login`);
    await ready(viewer, true);
    await viewer.getByRole('button', { name: `Sign in with ${PROVIDER}` }).click();
    await expect(viewer).toHaveURL(new RegExp(`^${SIM}/`));
    await viewer.getByLabel('Username').fill(VIEWER.profile.login);
    await viewer.getByLabel('Password').fill(PASSWORD);
    await viewer.getByRole('button', { name: 'Sign in' }).click();
    await expect(viewer).toHaveURL(`${CONSOLE}/`);
    await ready(viewer, true);
    await expect(viewer.getByTestId('signed-in-as')).toContainText('Viewer');

    await viewer.goto(`${CONSOLE}/policies`);
    await ready(viewer, true);
    await expect(viewer.locator(`tr[data-application="${APP}"]`)).toBeVisible();
    await expect(viewer.getByRole('link', { name: 'New application' })).toHaveCount(0);
    await viewer.goto(appUrl);
    await ready(viewer, true);
    await expect.poll(() => policyNames(viewer)).toEqual(['Engineering team', 'Everyone at example.com']);
    await expect(viewer.getByRole('link', { name: 'Add policy' })).toHaveCount(0);
    await expect(viewer.getByRole('button', { name: 'Move up' })).toHaveCount(0);
    await expect(viewer.getByRole('button', { name: 'Import JSON' })).toHaveCount(0);
    const viewerDownload = viewer.waitForEvent('download');
    await viewer.getByRole('link', { name: 'Export JSON' }).click();
    expect(readFileSync((await (await viewerDownload).path())!, 'utf8')).toContain('portcullis.policies');
    await viewer.locator('tr[data-policy="Engineering team"]').getByRole('link', { name: 'Engineering team' }).click();
    await expect(viewer.getByText('changing policies needs the Editor role')).toBeVisible();
    await expect(viewer.getByLabel('Policy name')).toBeDisabled();
    await expect(viewer.getByRole('button', { name: 'Save policy' })).toHaveCount(0);
    // The server refuses, whatever the page shows.
    const r = await viewer.request.post(`${CONSOLE}/api/policies/delete_application`, {
      form: { id: appUrl.split('/').pop()! },
    });
    expect(r.status()).toBe(403);
    expect(await r.text()).toContain('needs the Editor role');
  } finally {
    await context.close();
    await page.goto('/settings/role-mappings');
    await ready(page, true);
    // Removing asks first; Cancel keeps it.
    const marketing = page.locator('tr[data-group="Marketing"]');
    await page.getByRole('button', { name: 'Remove mapping for Marketing' }).click();
    await expect(marketing.getByRole('alertdialog')).toContainText('Remove the mapping for Marketing?');
    await marketing.getByRole('button', { name: 'Cancel' }).click();
    await expect(marketing).toHaveCount(1);
    await page.getByRole('button', { name: 'Remove mapping for Marketing' }).click();
    await marketing.getByRole('button', { name: 'Remove mapping', exact: true }).click();
    await expect(marketing).toHaveCount(0);
  }
  await page.goto(appUrl);
  await expect.poll(() => policyNames(page)).toEqual(['Engineering team', 'Everyone at example.com']);
});
