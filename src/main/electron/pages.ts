// The shell's own pages, shown in the window while the back end is not there: "starting" and
// "the back end stopped" (its last log lines and a restart button). Each is a data: URL with a
// strict CSP of its own: no network at all, and the one inline script (the restart button's)
// allowed by its hash.
import { createHash } from 'node:crypto'

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const STYLE = `
  :root { color-scheme: light dark; font: 14px/1.45 system-ui, sans-serif; }
  body { margin: 0; padding: 40px 48px; background: Canvas; color: CanvasText; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  p { max-width: 760px; }
  pre { background: color-mix(in srgb, CanvasText 7%, Canvas); padding: 12px 14px; border-radius: 6px; max-height: 50vh; overflow: auto; font-size: 12px; white-space: pre-wrap; }
  button { font: inherit; padding: 6px 16px; border-radius: 6px; cursor: pointer; }
  .muted { opacity: 0.7; }
`

// the restart button asks the preload (window.api.restartBackend), which asks the shell
const RESTART_SCRIPT = "const b=document.getElementById('restart');b.addEventListener('click',()=>{b.disabled=true;b.textContent='Restarting…';window.api.restartBackend()})"
const scriptHash = `'sha256-${createHash('sha256').update(RESTART_SCRIPT).digest('base64')}'`

const page = (title: string, body: string, script = false): string => {
  const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src ${script ? scriptHash : "'none'"}; base-uri 'none'; form-action 'none'`
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><title>${esc(title)}</title><style>${STYLE}</style></head><body>${body}${script ? `<script>${RESTART_SCRIPT}</script>` : ''}</body></html>`
  return `data:text/html;charset=utf-8,${encodeURIComponent(html)}`
}

export function startingPage(project?: string): string {
  return page('IW-SFT Workbench', `<h1>IW-SFT Workbench</h1><p class="muted">Starting the back end${project ? ` for ${esc(project)}` : ''} …</p>`)
}

/** The back end stopped (or never started): why, its last log lines, and a restart button. */
export function backendErrorPage(e: { message: string; lines: string[] }): string {
  const log = e.lines.length ? `<p class="muted">Its last lines:</p><pre data-testid="backend-log">${esc(e.lines.join('\n'))}</pre>` : ''
  return page(
    'IW-SFT Workbench: the back end stopped',
    `<h1>The back end stopped</h1><p data-testid="backend-error">${esc(e.message)}</p>${log}<p><button id="restart" data-testid="restart">Restart the back end</button></p><p class="muted">What runs saved is kept in the project; a run that was going is marked interrupted when the back end starts again, and can be resumed.</p>`,
    true
  )
}
