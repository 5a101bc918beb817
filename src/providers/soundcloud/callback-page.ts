// The page the browser lands on after the SoundCloud authorization: self-contained HTML (inline
// CSS, no scripts, no external resources, so the listener's CSP can be `default-src 'none'`).

export type CallbackPageResult = { ok: true } | { ok: false; title: string; reason: string; nextStep: string };

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Escapes, then shows `backticked` spans as code (safe: the span's text is already escaped). */
function richText(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

const STYLE = `
:root { color-scheme: light dark; --bg: #f4f4f5; --card: #ffffff; --fg: #18181b; --muted: #52525b;
  --border: #e4e4e7; --ok: #15803d; --fail: #b91c1c; --code-bg: #f4f4f5; --accent: #ff5500; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0f0f11; --card: #1c1c1f; --fg: #f4f4f5; --muted: #a1a1aa; --border: #2e2e33;
    --ok: #4ade80; --fail: #f87171; --code-bg: #27272a; }
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { display: flex; align-items: center; justify-content: center; padding: 24px;
  background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { width: 100%; max-width: 460px; background: var(--card); border: 1px solid var(--border);
  border-top: 4px solid var(--accent); border-radius: 12px; padding: 32px;
  box-shadow: 0 10px 30px rgba(0, 0, 0, .08); }
.icon { width: 44px; height: 44px; border-radius: 50%; display: flex; align-items: center;
  justify-content: center; font-size: 24px; font-weight: 700; margin-bottom: 16px; color: #fff; }
.ok .icon { background: var(--ok); }
.fail .icon { background: var(--fail); }
h1 { font-size: 20px; line-height: 1.3; margin: 0 0 8px; }
p { margin: 8px 0 0; color: var(--muted); overflow-wrap: anywhere; }
p.close { color: var(--fg); font-weight: 600; }
code { font: 14px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--code-bg);
  padding: 2px 6px; border-radius: 4px; color: var(--fg); }
footer { margin-top: 24px; font-size: 13px; color: var(--muted); }
`;

export function renderCallbackPage(result: CallbackPageResult): string {
  const body = result.ok
    ? `<main class="ok">
<div class="icon" aria-hidden="true">&#10003;</div>
<h1>SoundCloud login approved</h1>
<p>tokens received the authorization and is finishing the login in your terminal.</p>
<p class="close">You can close this window.</p>
<footer>tokens &middot; SoundCloud login</footer>
</main>`
    : `<main class="fail">
<div class="icon" aria-hidden="true">!</div>
<h1>${richText(result.title)}</h1>
<p>${richText(result.reason)}</p>
<p class="close">${richText(result.nextStep)}</p>
<footer>tokens &middot; SoundCloud login</footer>
</main>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>tokens – SoundCloud login</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
