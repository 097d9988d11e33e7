/** The cookies a test's browser holds, by name (one site's worth: domains and paths are not told apart). */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  /** The `Cookie` header to send; empty when the jar holds none. */
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Keeps what a response's `Set-Cookie` lines set, and forgets what they delete. */
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      if (value === '' || /max-age=0(;|$)/i.test(line) || /expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** A GET that does not follow redirects; answers where it redirects to, if anywhere. */
  async get(url: string): Promise<string | null> {
    const response = await fetch(url, { redirect: 'manual', headers: this.cookies.size > 0 ? { cookie: this.header() } : {} });
    this.store(response);
    await response.arrayBuffer();
    return response.headers.get('location');
  }
}
