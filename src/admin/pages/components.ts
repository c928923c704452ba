import { html, type HtmlValue, type SafeHtml } from '../../views/html.js';

let seq = 0;
/** A read-only value with a Copy button (the button appears only with the script: without it, select and copy). */
export function copyField(label: string, value: string, opts: { secret?: boolean } = {}): SafeHtml {
  const id = `copy-${++seq % 1_000_000}`;
  return html`<div class="field"><span class="label" id="${id}-label"><strong>${label}</strong></span>
<div class="copy-field"><code id="${id}" aria-labelledby="${id}-label"${opts.secret ? html` class="secret"` : ''}>${value}</code>
<button type="button" class="secondary" data-copy="${id}" hidden aria-label="Copy ${label}">Copy</button></div></div>`;
}

/** The hidden fields every console form carries: the CSRF token and where to come back to. */
export const formFields = (csrf: string, returnTo: string): SafeHtml =>
  html`<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="return" value="${returnTo}">`;

export const actionUrl = (slug: string, name: string) => `/t/${slug}/admin/actions/${name}`;

export const when = (d: Date | string | null | undefined): string => {
  if (!d) return 'never';
  const date = typeof d === 'string' ? new Date(d) : d;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};

export const badge = (text: string, kind: '' | 'ok' | 'warn' | 'bad' = ''): SafeHtml => html`<span class="badge${kind ? ` ${kind}` : ''}">${text}</span>`;

/** A table with a caption (screen readers announce it) and scoped headers. */
export function table(caption: string, headers: string[], rows: HtmlValue[][], empty = 'Nothing here yet.'): SafeHtml {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<div class="table-wrap"><table><caption class="sr-only">${caption}</caption>
<thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>`;
}

/** A small POST form with one button (revoke, refresh…); `confirm` asks first when the script runs. */
export function buttonForm(o: { slug: string; action: string; csrf: string; returnTo: string; fields: Record<string, string>; label: string; ariaLabel?: string; danger?: boolean; confirm?: string }): SafeHtml {
  return html`<form class="inline" method="post" action="${actionUrl(o.slug, o.action)}"${o.confirm ? html` data-confirm="${o.confirm}"` : ''}>${formFields(o.csrf, o.returnTo)}${Object.entries(o.fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button type="submit" class="${o.danger ? 'danger' : 'secondary'}"${o.ariaLabel ? html` aria-label="${o.ariaLabel}"` : ''}>${o.label}</button></form>`;
}

export const select = (id: string, name: string, options: [string, string][], selected?: string): SafeHtml =>
  html`<select id="${id}" name="${name}">${options.map(([v, l]) => html`<option value="${v}"${v === selected ? html` selected` : ''}>${l}</option>`)}</select>`;
