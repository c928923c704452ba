import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe } from 'vitest';

/** The system Chromium (Debian `chromium`); browsers are never downloaded. CHROMIUM_PATH overrides it. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(chromiumPath);

/**
 * Chromium flags for an offline test machine: without the background-networking switches Chromium keeps trying to
 * reach Google services (component updates, sync, variations) and logs failures. Playwright adds `--headless` and a
 * fresh temporary profile directory (`--user-data-dir`) itself, and refuses a caller-supplied `--user-data-dir`.
 */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** One browser per test file; tests open a fresh context each (own cookies, own storage). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

/**
 * `describe` for browser tests: when there is no Chromium binary the whole block is skipped, and its name says why
 * (CI installs Chromium, so there everything runs).
 */
export function describeInBrowser(name: string, body: () => void): void {
  if (chromiumAvailable) return void describe(name, body);
  describe.skip(`${name} [SKIPPED: no Chromium at ${chromiumPath}; install Debian "chromium" or set CHROMIUM_PATH]`, body);
}

/** With BROWSER_SCREENSHOTS=DIR set, saves a full-page screenshot `DIR/NAME.png` (to look at the layout by eye). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.BROWSER_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** Collects the console messages of a page (CSP violations are reported there). */
export function consoleOf(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => void lines.push(m.text()));
  return lines;
}

export interface StubSite {
  /** `http://127.0.0.1:PORT` — another origin than the app (same site: cookies marked SameSite=Lax still flow). */
  origin: string;
  /** Every request URL the site received, in order. */
  requests: URL[];
  close(): Promise<void>;
}

/**
 * A tiny web site on its own port: a SAML IdP's SSO endpoint, an OAuth client's redirect URI, or a hostile page.
 * It answers every path with `pages[path]` (or a plain page naming the path). Routing in the browser would not do:
 * Playwright does not intercept the target of a server redirect.
 */
export async function startStubSite(pages: Record<string, string> = {}): Promise<StubSite> {
  const requests: URL[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', site.origin);
    requests.push(url);
    const body = pages[url.pathname] ?? `<!doctype html><html lang="en"><title>Stub ${url.pathname}</title><h1>Stub ${url.pathname}</h1></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const site: StubSite = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
  return site;
}
