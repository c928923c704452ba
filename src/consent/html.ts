/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The one page shell of the authorization server: no scripts, no external resources, readable without CSS, one
 * `<main>` landmark and a heading so screen readers and keyboard users land on the content.
 */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#111}
.warning{border:2px solid #a15c00;background:#fff4e0;padding:.5rem 1rem}
button{font:inherit;padding:.5rem 1.25rem;margin-right:.5rem}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #1a56db;outline-offset:2px}
code{word-break:break-all}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}
