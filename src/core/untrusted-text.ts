/**
 * Provider-supplied text (error, error_description) made safe for a terminal line: control
 * characters and bidi overrides removed, whitespace collapsed, at most `max` characters.
 */
export function sanitizeProviderText(text: string, max: number): string {
  const cleaned = text
    .replace(/[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : cleaned;
}
