// The Content-Security-Policy of the app's pages, the same in the desktop shell and the
// browser build (also set as a <meta> in src/renderer/index.html).
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // plotly.js injects <style> elements and React sets style attributes
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')
