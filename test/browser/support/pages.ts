import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Presses Tab (keyboard only, as a user without a mouse would) until the focused element's accessible text matches
 * `name` (an element without text, such as an input, matches as `#id`); fails if it is not reachable within `max` presses.
 */
export async function tabTo(page: Page, name: RegExp, max = 15): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const text = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? (el.getAttribute('aria-label') ?? el.textContent ?? '').trim() || `#${el.id}` : '';
    });
    if (name.test(text)) return;
  }
  throw new Error(`${name} is not reachable with Tab`);
}

/** Waits until the focused element's text matches (autofocus is applied at the first rendering, after `load`). */
export async function waitForFocus(page: Page, text: string): Promise<void> {
  await page.waitForFunction((t) => document.activeElement?.textContent?.trim() === t, text);
}

/**
 * The accessibility basics every server-rendered page must have: a language, a title naming the page (and the
 * tenant, when given), exactly one h1, a main landmark, and an accessible name on every visible form control.
 */
export async function expectAccessiblePage(page: Page, o: { title: RegExp; tenant?: string }): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
  const title = await page.title();
  expect(title).toMatch(o.title);
  if (o.tenant !== undefined) expect(title).toContain(o.tenant);
  expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
  expect(await page.getByRole('main').count()).toBe(1);
  if (o.tenant !== undefined) expect(await page.locator('body').innerText()).toContain(o.tenant);
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('input:not([type=hidden]), select, textarea, button, a[href]')]
      .filter((el) => {
        const labelled = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent?.trim();
        return !(labelled || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.textContent?.trim());
      })
      .map((el) => el.outerHTML),
  );
  expect(unnamed).toEqual([]);
}

/** WCAG 2.2 §1.4.10 (reflow): at 320 CSS pixels wide the page needs no horizontal scrolling. Restores the viewport. */
export async function expectReflowAt320(page: Page): Promise<void> {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(320);
  if (before) await page.setViewportSize(before);
}
