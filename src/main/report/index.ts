// Reports, for the command line and the app: build the data once, render it as HTML, Markdown
// or PDF, and write it safely (temp file + rename, no overwrite unless asked).
import { extname } from 'node:path'
import type { ProjectStore } from '../store/types.ts'
import { splitOutPath, writeFileAtomic } from '../export/atomic.ts'
import { buildReport, type BuildReportOptions } from './build-report.ts'
import { renderHtml } from './html.ts'
import { renderMarkdown } from './markdown.ts'
import { chromiumPrinter, renderPdf, type HtmlPrinter } from './pdf.ts'

export * from './build-report.ts'
export { renderHtml, REPORT_READY_FLAG, type HtmlOptions } from './html.ts'
export { renderMarkdown } from './markdown.ts'
export { renderPdf, renderPrintHtml, chromiumPrinter, findChromium, type HtmlPrinter } from './pdf.ts'
export { metricsCsv, weightsCsv, csvFiles, writeCsvs } from './csv.ts'

export type ReportFormat = 'html' | 'md' | 'pdf'

const BY_EXT: Record<string, ReportFormat> = { '.html': 'html', '.htm': 'html', '.md': 'md', '.markdown': 'md', '.pdf': 'pdf' }

/** The format a report file name asks for, or null. */
export function reportFormatOf(file: string): ReportFormat | null {
  return BY_EXT[extname(file).toLowerCase()] ?? null
}

export interface WriteReportOptions extends BuildReportOptions {
  overwrite?: boolean
  /** PDF only: the app passes one built on Electron's printToPDF; default headless Chromium */
  printer?: HtmlPrinter
}

/** Build, render (format from the file's extension) and write a report; returns the path written. */
export async function writeReport(store: ProjectStore, runIds: number[], file: string, opts: WriteReportOptions = {}): Promise<string> {
  const format = reportFormatOf(file)
  if (!format) throw new Error(`${file}: a report file name must end in .html, .md or .pdf`)
  const { dir, name } = splitOutPath(file)
  const data = buildReport(store, runIds, opts)
  const content = format === 'html' ? renderHtml(data) : format === 'md' ? renderMarkdown(data) : await renderPdf(data, opts.printer ?? chromiumPrinter())
  return writeFileAtomic(dir, name, content, { overwrite: opts.overwrite })
}
