// runs.export and reports.make: a checkpoint as tfjs or safetensors, and a report of one or
// more runs (HTML, Markdown, PDF or CSV) written where the user chose or handed back to download.
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ApiError, type Handlers, type ReportFile } from '../../shared/contract.ts'
import { exportCheckpoint } from '../export/checkpoint-export.ts'
import { exportLlmRun } from '../jobs/llm-export.ts'
import { buildReport, chromiumPrinter, csvFiles, renderHtml, renderMarkdown, renderPdf, reportFormatOf, writeCsvs, writeReport } from '../report/index.ts'
import type { ServiceContext } from './context.ts'

/** iwsft-report-run3.html, iwsft-report-runs-1-2-3.pdf, … */
const reportName = (runIds: number[], ext: string): string =>
  `iwsft-report-${runIds.length === 1 ? `run${runIds[0]}` : `runs-${runIds.slice(0, 6).join('-')}${runIds.length > 6 ? '-etc' : ''}`}.${ext}`

export function reportHandlers(ctx: ServiceContext): Pick<Handlers, 'runs.export' | 'reports.make'> {
  return {
    'runs.export': async ({ runId, step, format, outDir, overwrite, tokenizer }) => {
      ctx.run(runId)
      if (!ctx.store.listCheckpoints(runId).length) throw new ApiError(`run ${runId} has no checkpoint to export yet`, 'not_found')
      if (format === 'hf' || format === 'peft') {
        // a fine-tuned language model: merged Hugging Face folder or PEFT adapter (issue 14)
        const r = await exportLlmRun(ctx.store, runId, { step, format, outDir: resolve(outDir), overwrite: overwrite ?? false })
        return { runId, step: r.step, format, files: r.files }
      }
      const r = await exportCheckpoint(ctx.store, runId, { step, format, outDir: resolve(outDir), overwrite: overwrite ?? false, tokenizer })
      return { runId, step: r.step, format, files: r.files }
    },
    'reports.make': async ({ runIds, format, out, overwrite, title }) => {
      for (const id of runIds) ctx.run(id)
      const store = ctx.store
      const printer = ctx.opts.printer ?? chromiumPrinter()
      if (out) {
        let target = resolve(out)
        if (format === 'csv') return { written: await writeCsvs(store, runIds, target, { overwrite: overwrite ?? false }), files: [] }
        // a folder: the report goes inside it; a name without the right extension gets it
        if (existsSync(target) && statSync(target).isDirectory()) target = join(target, reportName(runIds, format))
        else if (reportFormatOf(target) !== format) target = `${target}.${format}`
        return { written: [await writeReport(store, runIds, target, { overwrite: overwrite ?? false, printer, title })], files: [] }
      }
      if (format === 'csv') {
        const files: ReportFile[] = csvFiles(store, runIds).map((f) => ({
          name: f.name,
          content: typeof f.content === 'string' ? f.content : Buffer.from(f.content as Uint8Array).toString('utf8'),
          encoding: 'utf8',
          mime: 'text/csv'
        }))
        return { written: [], files }
      }
      const data = buildReport(store, runIds, { title })
      if (format === 'pdf') {
        const pdf = await renderPdf(data, printer)
        return { written: [], files: [{ name: reportName(runIds, 'pdf'), content: Buffer.from(pdf).toString('base64'), encoding: 'base64', mime: 'application/pdf' }] }
      }
      const text = format === 'html' ? renderHtml(data) : renderMarkdown(data)
      return { written: [], files: [{ name: reportName(runIds, format), content: text, encoding: 'utf8', mime: format === 'html' ? 'text/html' : 'text/markdown' }] }
    }
  }
}
