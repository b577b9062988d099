import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, signIn, ready, shot } from './fixtures';

// Runs after providers.spec.ts: "Acme Okta (prod)" syncs from the simulator with a DPoP service app.
const fixture = JSON.parse(readFileSync(path.resolve(__dirname, '../../okta-sim/fixtures/sample-org.json'), 'utf8'));
const SIM = `http://127.0.0.1:${process.env.E2E_SIM_PORT}`;
const PROVIDER = 'Acme Okta (prod)';

test.describe.configure({ mode: 'serial' });

async function control(request: any, op: object) {
  const r = await request.post(`${SIM}/__sim/control`, { data: op });
  expect(r.ok(), await r.text()).toBeTruthy();
}

test('Sync now shows live progress, then the synchronized users and groups', async ({ page, request }) => {
  // Slow the simulator down so the progress bar is visible while the run goes.
  await control(request, { op: 'set_latency', ms: 150 });
  await signIn(page, true);
  await page.goto('/directory');
  await ready(page, true);
  const panel = page.getByTestId('sync-panel').filter({ hasText: PROVIDER });
  await panel.getByRole('button', { name: 'Sync now' }).click();
  await expect(panel.getByTestId('sync-progress')).toBeVisible();
  await expect(panel.getByTestId('sync-progress')).toContainText(/\d+ users/);
  await expect(panel.getByTestId('last-run')).toContainText(/Last sync: Full sync, .*: succeeded in/, { timeout: 30_000 });
  await control(request, { op: 'set_latency', ms: 0 });
  await expect(panel.locator('summary').filter({ hasText: 'History' })).toHaveText('History (1 run)');

  // Settings: the note stays after the panel reloads, and a save that changes nothing says so.
  await panel.locator('summary').filter({ hasText: 'Settings' }).click();
  await panel.getByLabel('Interval (minutes)').fill('15');
  await panel.getByRole('button', { name: 'Save settings' }).click();
  await expect(panel.getByTestId('settings-notice')).toHaveText('Settings saved.');
  await panel.getByRole('button', { name: 'Save settings' }).click();
  await expect(panel.getByTestId('settings-notice')).toHaveText('No changes to save.');
  await shot(page, 'directory-sync-panel');

  const users = page.getByTestId('user-list');
  await expect(users).toContainText('ada.lovelace@example.com');
  // Search, then a user's groups.
  await page.getByLabel('Search').fill('lovelace');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=lovelace/);
  await expect(page.getByTestId('user-list').locator('tbody tr')).toHaveCount(1);
  await page.getByRole('link', { name: 'Ada Lovelace' }).click();
  await expect(page.getByRole('heading', { name: 'Ada Lovelace' })).toBeVisible();
  await expect(page.getByTestId('user-groups')).toContainText('Portcullis Admins');
  await expect(page.getByTestId('user-groups')).toContainText('Everyone');

  // A group's members.
  await page.getByTestId('user-groups').getByRole('link', { name: 'Portcullis Admins' }).click();
  await expect(page.getByRole('heading', { name: 'Portcullis Admins' })).toBeVisible();
  await expect(page.getByTestId('user-list')).toContainText('ada.lovelace@example.com');
  await page.goto('/directory?tab=groups');
  await expect(page.getByTestId('group-list').locator('tr[data-group="Engineering"]').getByTestId('member-count')).not.toHaveText('0');
});

test('a run that would remove too many users waits for approval, and approval applies it', async ({ page, request }) => {
  // Deactivate a fifth of the active users in Okta: over the 10% threshold.
  const active = fixture.users.filter((u: any) => u.status === 'ACTIVE' && !u.profile.login.startsWith('ada.'));
  const gone = active.slice(0, 10);
  for (const u of gone) {
    await control(request, { op: 'deactivate_user', user_id: u.id });
  }
  await signIn(page, true);
  await page.goto('/directory');
  await ready(page, true);
  const panel = page.getByTestId('sync-panel').filter({ hasText: PROVIDER });

  await panel.getByRole('button', { name: 'Dry run' }).click();
  await expect(panel.getByTestId('dry-run-result')).toContainText('Nothing was changed', { timeout: 30_000 });
  await expect(panel.getByTestId('dry-run-result')).toContainText(gone[0].profile.email);

  await page.goto('/directory');
  await ready(page, true);
  const again = page.getByTestId('sync-panel').filter({ hasText: PROVIDER });
  await again.getByRole('button', { name: 'Sync now' }).click();
  const pending = page.getByTestId('sync-panel').filter({ hasText: PROVIDER }).getByTestId('pending-approval');
  await expect(pending).toContainText('Waiting for approval', { timeout: 30_000 });
  await expect(pending.getByTestId('diff-list')).toContainText(gone[0].profile.email);
  // Nothing was disabled yet.
  await page.getByLabel('Search').fill(gone[0].profile.email);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('user-state').first()).toHaveText('Active');

  await page.goto('/directory');
  await ready(page, true);
  await page.getByTestId('sync-panel').filter({ hasText: PROVIDER }).getByRole('button', { name: 'Approve and apply' }).click();
  await expect(page.getByTestId('sync-panel').filter({ hasText: PROVIDER }).getByTestId('pending-approval')).toHaveCount(0);
  await page.goto(`/directory?q=${encodeURIComponent(gone[0].profile.email)}`);
  await expect(page.getByTestId('user-state').first()).toHaveText('Disabled');

  await page.goto('/audit');
  await expect(page.locator('tr[data-action^="sync."]').first()).toBeVisible();
});

test('a run whose group list comes back empty is held: Discard keeps the groups, Approve and apply deletes them', async ({ page, request }) => {
  // A broken or hostile answer: Okta lists no groups. Even a run under the threshold must wait.
  await control(request, { op: 'set_switches', switches: { emptyGroupList: true } });
  await signIn(page, true);
  await page.goto('/directory');
  await ready(page, true);
  const panel = () => page.getByTestId('sync-panel').filter({ hasText: PROVIDER });
  const engineering = page.getByTestId('group-list').locator('tr[data-group="Engineering"]');

  await panel().getByRole('button', { name: 'Sync now' }).click();
  let pending = panel().getByTestId('pending-approval');
  await expect(pending).toContainText('Waiting for approval', { timeout: 30_000 });
  await expect(pending).toContainText('no groups');
  await expect(pending.getByTestId('diff-groups')).toContainText('Engineering');
  await expect(pending.getByTestId('diff-groups')).toContainText('Portcullis Admins');
  await expect(pending.getByTestId('diff-memberships')).toContainText('ada.lovelace@example.com leaves Portcullis Admins');
  await shot(page, 'directory-held-group-removal');

  // Discard: every group stays.
  await pending.getByRole('button', { name: 'Discard' }).click();
  await expect(panel().getByTestId('pending-approval')).toHaveCount(0);
  // Said as it is: discarded, nothing applied, no call to approve left.
  await expect(panel().getByTestId('last-run')).toContainText('discarded by');
  await expect(panel().getByTestId('last-run')).toContainText('nothing was applied');
  await expect(panel()).not.toContainText('approve the diff');
  await page.goto('/directory?tab=groups');
  await expect(engineering).toHaveCount(1);

  // Held again; Approve and apply deletes the groups and their memberships.
  await page.goto('/directory');
  await ready(page, true);
  await panel().getByRole('button', { name: 'Sync now' }).click();
  pending = panel().getByTestId('pending-approval');
  await expect(pending.getByTestId('diff-groups')).toContainText('Engineering', { timeout: 30_000 });
  await pending.getByRole('button', { name: 'Approve and apply' }).click();
  await expect(panel().getByTestId('pending-approval')).toHaveCount(0);
  await expect(panel().getByTestId('last-run')).toContainText('approved and applied');
  await page.goto('/directory?tab=groups');
  await expect(engineering).toHaveCount(0);

  // Okta lists its groups again: the next run brings them back, with their ids, for the specs after this one.
  await control(request, { op: 'set_switches', switches: { emptyGroupList: false } });
  await control(request, { op: 'set_latency', ms: 150 });
  await page.goto('/directory');
  await ready(page, true);
  await panel().getByRole('button', { name: 'Sync now' }).click();
  // The last full run's size makes the bar determinate.
  await expect(panel().getByTestId('sync-progress')).toContainText(/about \d+% · \d+ pages, \d+ users/);
  await expect(panel().getByTestId('sync-progress').locator('progress')).toHaveAttribute('value', /\d+/);
  await expect(panel().getByTestId('last-run')).toContainText(/Full sync, .*: succeeded in/, { timeout: 30_000 });
  await control(request, { op: 'set_latency', ms: 0 });
  await page.goto('/directory?tab=groups');
  await expect(engineering).toHaveCount(1);
});

test('the lists filter as one types and by state, sort by column, and a user links to the run that changed them', async ({ page }) => {
  await signIn(page, true);
  await page.goto('/directory');
  await ready(page, true);
  const search = page.getByLabel('Search users');
  await search.pressSequentially('lovel', { delay: 40 });
  // 300 ms after the last key, without pressing Search.
  await expect(page).toHaveURL(/q=lovel/);
  await expect(page.getByTestId('user-list').locator('tbody tr')).toHaveCount(1);
  await expect(search).toBeFocused();
  await search.fill('');
  await expect(page).not.toHaveURL(/q=/);

  // By state: the users the approved run disabled.
  await page.getByLabel('State').selectOption('disabled');
  await expect(page).toHaveURL(/state=disabled/);
  await expect(page.getByTestId('user-state').first()).toHaveText('Disabled');
  await expect(page.getByTestId('user-state').filter({ hasNotText: 'Disabled' })).toHaveCount(0);
  await page.getByLabel('State').selectOption('');

  // By column: the header is a link, and says how the list is sorted.
  const header = page.getByTestId('user-list').locator('th', { hasText: 'User' });
  await expect(header).toHaveAttribute('aria-sort', 'ascending');
  await header.getByRole('link').click();
  await expect(page).toHaveURL(/sort=-name/);
  await expect(page.getByTestId('user-list').locator('th', { hasText: 'User' })).toHaveAttribute('aria-sort', 'descending');
  const names = (await page.getByTestId('user-list').locator('tbody tr td:first-child a').allTextContents()).map((n) => n.toLowerCase());
  expect(names).toEqual([...names].sort().reverse());
  await shot(page, 'directory-sorted');

  // A user's last change leads to that run.
  await page.getByTestId('user-list').locator('tbody tr td:first-child a').first().click();
  await page.getByRole('link', { name: 'this sync run' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(PROVIDER);
  await expect(page.getByTestId('run-changes')).toContainText('Users created');
  await shot(page, 'directory-run');
  // Groups sort by member count.
  await page.goto('/directory?tab=groups&sort=-members');
  const counts = (await page.getByTestId('member-count').allTextContents()).map(Number);
  expect(counts).toEqual([...counts].sort((a, b) => b - a));
});

test('no secret reached the server log, syncs included', async () => {
  const app = fixture.serviceApps.find((a: any) => a.dpopRequired);
  const secrets = [fixture.oidcApps[0].clientSecret, app.privateJwk.d, app.privateJwk.p, fixture.apiTokens[0].token];
  const log = readFileSync(process.env.E2E_JS_LOG!, 'utf8');
  expect(log).toContain('sync');
  for (const secret of secrets) {
    expect(log).not.toContain(secret);
  }
});
