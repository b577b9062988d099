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

/** With E2E_SCREENSHOTS=DIR, saves the page at desktop and phone width (DIR/NAME-desktop.png,
 *  DIR/NAME-phone.png) and puts the viewport back; otherwise does nothing. */
export async function shot(page: Page, name: string) {
  const dir = process.env.E2E_SCREENSHOTS;
  if (!dir) return;
  const size = page.viewportSize();
  for (const [label, width, height] of [['desktop', 1280, 800], ['phone', 390, 844]] as const) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: path.join(dir, `${name}-${label}.png`), fullPage: true });
  }
  if (size) await page.setViewportSize(size);
}
