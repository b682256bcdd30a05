// The report as PDF: the print layout of the HTML report (one column, fixed-width static
// charts, light colours) printed by a browser. The desktop app passes a printer built on
// Electron's webContents.printToPDF; the command line uses headless Chromium through
// playwright-core. A printer must load the HTML, wait until window[REPORT_READY_FLAG] is
// true (every chart drawn), and print A4 with backgrounds.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ReportData } from './build-report.ts'
import { REPORT_READY_FLAG, renderHtml, type HtmlOptions } from './html.ts'

export { REPORT_READY_FLAG }

/** Turns a complete HTML document into PDF bytes. */
export type HtmlPrinter = (html: string) => Promise<Uint8Array>

export class PdfError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PdfError'
  }
}

/** The HTML a printer receives: the report's print layout. */
export function renderPrintHtml(d: ReportData, opts: Omit<HtmlOptions, 'forPrint'> = {}): string {
  return renderHtml(d, { ...opts, forPrint: true })
}

/** Render a report to PDF with the given printer (default: headless Chromium). */
export async function renderPdf(d: ReportData, printer: HtmlPrinter = chromiumPrinter()): Promise<Uint8Array> {
  const pdf = await printer(renderPrintHtml(d))
  if (pdf.byteLength < 5 || Buffer.from(pdf.subarray(0, 5)).toString('latin1') !== '%PDF-') throw new PdfError('the printer did not return a PDF document')
  return pdf
}

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable']

/** The Chromium to use: IWSFT_CHROMIUM, else the first of CHROMIUM_CANDIDATES that exists. */
export function findChromium(): string | null {
  const env = process.env.IWSFT_CHROMIUM
  if (env) return existsSync(env) ? env : null
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

export interface ChromiumPrinterOptions {
  executablePath?: string
  /** ms to wait for the charts (default 60 s) */
  timeoutMs?: number
}

/**
 * A printer that runs headless Chromium via playwright-core. The page gets no network:
 * every request is refused, so a report that needed one would show it (it does not).
 */
export function chromiumPrinter(opts: ChromiumPrinterOptions = {}): HtmlPrinter {
  return async (html) => {
    const executablePath = opts.executablePath ?? findChromium()
    if (!executablePath) {
      throw new PdfError(
        `PDF output needs Chromium and none was found (looked at ${CHROMIUM_CANDIDATES.join(', ')}; set IWSFT_CHROMIUM). On Debian/Ubuntu: apt-get install -y chromium. HTML and Markdown reports need nothing.`
      )
    }
    let pw: typeof import('playwright-core')
    try {
      pw = await import('playwright-core')
    } catch {
      throw new PdfError('PDF output needs the playwright-core package (npm install playwright-core)')
    }
    // a fresh profile each time (playwright takes it as an argument, not as --user-data-dir)
    const profile = mkdtempSync(join(tmpdir(), 'iwsft-pdf-'))
    const timeout = opts.timeoutMs ?? 60_000
    const context = await pw.chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_FLAGS.filter((f) => f !== '--headless'),
      viewport: { width: 794, height: 1123 },
      timeout
    })
    try {
      const page = await context.newPage()
      await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()))
      await page.emulateMedia({ media: 'print', colorScheme: 'light' })
      await page.setContent(html, { waitUntil: 'load', timeout })
      await page.waitForFunction((flag) => (globalThis as unknown as Record<string, unknown>)[flag] === true, REPORT_READY_FLAG, { timeout })
      const pdf = await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true, margin: { top: '14mm', bottom: '14mm', left: '13mm', right: '13mm' } })
      return new Uint8Array(pdf)
    } finally {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
