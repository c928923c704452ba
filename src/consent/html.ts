import { escapeHtml as escapeText, raw } from '../views/html.js';
import { layout } from '../views/layout.js';

/** Escapes any value for HTML element content and double-quoted attribute values. */
export const escapeHtml = (value: unknown): string => escapeText(String(value ?? ''));

/**
 * The authorization server's pages in the product's one layout (src/views/layout.ts): no scripts, no external
 * resources, one `<main>` landmark and heading, and the tenant named on every page. `body` is markup these modules
 * build with {@link escapeHtml} around every untrusted value.
 */
export function page(tenantName: string, title: string, body: string): string {
  return layout({ tenantName, title, body: raw(body) }).value;
}
