import { test as base, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ADMIN = { email: 'ada@example.com', name: 'Ada Admin', password: 'correct horse battery staple' };

type Options = { dataDir: string };

export const test = base.extend<Options>({
  dataDir: ['', { option: true }],
});
export { expect };

/** The one-time token the server wrote beside its database. */
export function setupToken(dataDir: string): string {
  return readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
}

/** Waits for hydration where JavaScript runs, so clicks reach hydrated handlers. */
export async function ready(page: Page, javaScriptEnabled: boolean) {
  if (javaScriptEnabled) {
    await expect(page.locator('#console')).toHaveAttribute('data-hydrated', 'true');
  }
}

export async function signIn(page: Page, javaScriptEnabled: boolean, email = ADMIN.email, password = ADMIN.password) {
  await page.goto('/login');
  await ready(page, javaScriptEnabled);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}
