/**
 * Provider-supplied text (error, error_description, a shared failure read back) made safe for a
 * terminal line: the secrets in hand redacted, control characters and bidi overrides removed,
 * whitespace collapsed, at most `max` characters.
 *
 * `secrets` are the values the request that drew this text carried (TokenRequest.secrets): a
 * provider that echoes the client secret or refresh token it was sent must not get it printed.
 * Each is redacted as sent and in the encodings it could come back in (form/URL encoding, JSON
 * escaping, base64), before anything else, so no cut or cleanup can leave part of one behind.
 */
export function sanitizeProviderText(text: string, max: number, secrets: readonly string[] = []): string {
  const cleaned = redactSecrets(text, secrets)
    .replace(/[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : cleaned;
}

export const REDACTED = '[redacted]';

/** Shorter values are not secrets worth the name, and would redact ordinary words. */
const MIN_SECRET_LENGTH = 4;

export function redactSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(new URLSearchParams({ s: secret }).toString().slice(2));
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(Buffer.from(secret).toString('base64').replace(/=+$/, ''));
  }
  // Longest first, so a secret that contains another is redacted whole.
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(REDACTED);
  return out;
}
