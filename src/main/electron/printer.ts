// Reports as PDF with Electron's own Chromium, for the back end (which asks the shell over its
// IPC channel: a desktop machine has no other Chromium). The report's print HTML is loaded from a
// temporary file in a hidden, sandboxed window on a session of its own (no network: every
// request that is not that file is refused; the app's CSP is not applied there, since the report
// carries its inline charts), then printed A4 with backgrounds once the charts are drawn.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as Electron from 'electron'

/** the flag the report's page sets when every chart is drawn (src/main/report/html.ts REPORT_READY_FLAG) */
const READY = 'window.__iwsftReportReady === true'

export function electronPrinter(electron: Pick<typeof Electron, 'BrowserWindow' | 'session'>): (html: string) => Promise<Uint8Array> {
  return async (html) => {
    const dir = mkdtempSync(join(tmpdir(), 'iwsft-print-'))
    const file = join(dir, 'report.html')
    writeFileSync(file, html)
    const ses = electron.session.fromPartition('iwsft-print')
    ses.webRequest.onBeforeRequest((d, cb) => cb({ cancel: !(d.url.startsWith('file://') || d.url.startsWith('data:') || d.url.startsWith('blob:')) }))
    const w = new electron.BrowserWindow({
      show: false,
      width: 1000,
      height: 1400,
      webPreferences: { session: ses, sandbox: true, contextIsolation: true, nodeIntegration: false, javascript: true }
    })
    try {
      await w.loadFile(file)
      const t0 = Date.now()
      while (!(await w.webContents.executeJavaScript(READY))) {
        if (Date.now() - t0 > 60_000) throw new Error('the report did not finish drawing its charts within 60 s')
        await new Promise((r) => setTimeout(r, 100))
      }
      const pdf = await w.webContents.printToPDF({ pageSize: 'A4', printBackground: true })
      return new Uint8Array(pdf)
    } finally {
      w.destroy()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
