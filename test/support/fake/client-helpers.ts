// Helpers for tests that play the client or the browser against the fakes (and for the fakes that
// check what a client sent).
import { createHash, randomBytes } from 'node:crypto';

/** BASE64URL(SHA256(verifier)). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** A fresh PKCE verifier (43 chars) and its S256 challenge. */
export function makePkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier) };
}

/** `Basic base64(id:secret)`. */
export function basicAuth(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`;
}

/**
 * Play the browser: GET the authorization URL without following, then GET the Location it
 * redirects to (the CLI's loopback listener). Returns the redirect and the listener's answer.
 * In 'page' mode, submits the consent form with `decision` (default 'approve') first.
 */
export async function followAuthorization(
  authorizeUrl: string,
  decision: 'approve' | 'deny' = 'approve',
): Promise<{ location: string; status: number; body: string }> {
  let res = await fetch(authorizeUrl, { redirect: 'manual' });
  if (res.status === 200) {
    const html = await res.text();
    const txn = /name="txn" value="([^"]+)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!txn || !action) throw new Error(`authorization page without a consent form (status ${res.status})`);
    res = await fetch(new URL(action, authorizeUrl), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ txn, decision }).toString(),
    });
  }
  const location = res.headers.get('location');
  await res.body?.cancel();
  if (!location || res.status < 300 || res.status >= 400) {
    throw new Error(`authorization did not redirect (status ${res.status})`);
  }
  const landing = await fetch(location, { redirect: 'manual' });
  return { location, status: landing.status, body: await landing.text() };
}
