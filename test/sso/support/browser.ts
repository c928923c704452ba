/** A minimal browser for tests: a cookie jar per host:port and manual redirect following (no JavaScript). */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  cookies(url: string): Map<string, string> {
    const host = new URL(url).host;
    let m = this.jar.get(host);
    if (!m) this.jar.set(host, (m = new Map()));
    return m;
  }

  /** One request; stores Set-Cookie. Returns the raw response (redirects not followed). */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const jar = this.cookies(url);
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!).getTime() < Date.now()) || attrs.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /** Follows redirects (3xx + Location) until a non-redirect or `stopAt(url)` is true; returns the last response. */
  async follow(url: string, init: RequestInit = {}, stopAt?: (url: string) => boolean): Promise<{ res: Response; url: string }> {
    let current = url;
    let res = await this.request(current, init);
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400 && res.headers.get('location'); hops++) {
      current = new URL(res.headers.get('location')!, current).href;
      if (stopAt?.(current)) return { res, url: current };
      res = await this.request(current);
    }
    return { res, url: current };
  }

  async postForm(url: string, fields: Record<string, string>): Promise<Response> {
    return this.request(url, { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
}

export async function me(browser: Browser, appUrl: string, slug: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await browser.request(`${appUrl}/t/${slug}/api/me`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
