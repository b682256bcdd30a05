// Run reports: the data gathered for one run and a comparison, the self-contained HTML
// (opened offline in Chromium: every chart drawn, no network request, no script error), the
// PDF through headless Chromium and through a custom printer, Markdown, CSV, and the CLI's
// overwrite and path rules.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { buildReport, type ReportData } from '../../src/main/report/build-report.ts'
import { renderHtml, REPORT_READY_FLAG } from '../../src/main/report/html.ts'
import { renderMarkdown } from '../../src/main/report/markdown.ts'
import { chromiumPrinter, findChromium, CHROMIUM_FLAGS, renderPdf } from '../../src/main/report/pdf.ts'
import { csvFiles, metricsCsv, weightsCsv } from '../../src/main/report/csv.ts'
import { cmdReport } from '../../src/main/cli/commands/report.ts'
import { quickBandit } from '../helpers/configs.ts'
import { effectiveSampleSize } from '../../src/shared/weight-stats.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-report-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const chromium = findChromium()

const quick = quickBandit

let store: ProjectStore
let a: number
let b: number
let one: ReportData
let cmp: ReportData

beforeAll(async () => {
  store = openProject(join(dir, 'p.iwsft'))
  a = (await executeRun(store, quick({ seed: 2, name: 'iw <b>bold</b> & "q" | pipe' }))).runId
  b = (await executeRun(store, quick({ seed: 2, method: 'sft' }))).runId
  one = buildReport(store, [a])
  cmp = buildReport(store, [a, b])
})
afterAll(() => store?.close())

const quiet = async <T>(f: () => Promise<T>): Promise<T> => {
  const w = process.stdout.write
  process.stdout.write = (() => true) as typeof process.stdout.write
  try {
    return await f()
  } finally {
    process.stdout.write = w
  }
}

describe('report data', () => {
  it('gathers config, curation counts, curves, the last snapshot, final metrics, seeds and versions', () => {
    const r = one.runs[0]
    expect(one.title).toBe(`Run ${a}: iw <b>bold</b> & "q" | pipe`)
    expect(r.seed).toBe(2)
    expect(r.backend).toBe('cpu')
    expect(r.versions.tfjs).toBeTruthy()
    expect(r.methodLabel).toBe('iw-SFT')
    expect(one.metricKeys[0]).toBe('loss')
    expect(r.metrics.loss.steps).toEqual([10, 20, 30, 40, 50, 60])
    expect(r.final.loss).toBe(r.metrics.loss.values[5])
    const ds = store.getDataset(store.getRun(a)!.datasetId!)
    const kept = Array.from(ds.scores).filter((s) => s > 0.5).length
    expect(r.curation).toMatchObject({ rule: 'score > 0.5', kept, discarded: ds.scores.length - kept, numTraces: ds.scores.length })
    expect(r.curation!.bins.map((x) => x.count)).toEqual([kept, ds.scores.length - kept])
    expect(r.curation!.scores.all.reduce((x, y) => x + y, 0)).toBe(ds.scores.length)
    expect(r.curation!.scores.kept.reduce((x, y) => x + y, 0)).toBe(kept)
    expect(r.snapshot!.step).toBe(60)
    expect(r.snapshot!.logWRaw.counts.reduce((x, y) => x + y, 0)).toBe(kept)
    expect(r.snapshot!.w.counts.reduce((x, y) => x + y, 0)).toBe(kept)
    expect(r.checkpoints.map((c) => c.step)).toEqual([60])
    // weight diagnostics at the last snapshot: the bandit's weights are not normalised, so ESS/N
    // is the ESS of the snapshot's clamped weights over its traces (each of mass 1 under D+)
    const snap = store.getWeightSnapshot(a, 60)!
    expect(r.diagnostics!.step).toBe(60)
    expect(r.diagnostics!.ess_n_final).toBeCloseTo(effectiveSampleSize(snap.w) / snap.w.length, 5)
    expect(r.diagnostics!.traces).toBe(kept)
    expect(r.diagnostics!.ref_action_std).toBeNull()
    expect(one.config.find((c) => c.key === 'weights.clamp')!.values).toEqual(['[0,16]'])
  })

  it('a comparison marks the settings that differ and shares histogram edges', () => {
    expect(cmp.runs.map((r) => r.id)).toEqual([a, b])
    expect(cmp.config.find((c) => c.key === 'method')).toEqual({ key: 'method', values: ['"iw-sft"', '"sft"'], differs: true })
    expect(cmp.config.find((c) => c.key === 'seed')!.differs).toBe(false)
    const [ra, rb] = cmp.runs
    expect(ra.snapshot!.logWRaw.edges).toEqual(rb.snapshot!.logWRaw.edges)
    expect(() => buildReport(store, [a, 999])).toThrow(/no run 999/)
  })
})

describe('report of a run that logged nothing', () => {
  it('renders every format with the gaps said plainly', () => {
    const id = store.createRun({ name: 'failed early', config: quick(), datasetId: null, dataHash: null, backend: null, versions: {} })
    store.setRunStatus(id, 'failed', 'out of memory')
    const d = buildReport(store, [id])
    expect(d.metricKeys).toEqual([])
    expect(d.runs[0]).toMatchObject({ status: 'failed', error: 'out of memory', snapshot: null, curation: null, dataset: null })
    const html = renderHtml(d, { plotlySource: '/* plotly */' })
    expect(html).toContain('No metrics were logged.')
    expect(html).toContain('No weight snapshots')
    expect(html).toContain('out of memory')
    const md = renderMarkdown(d)
    expect(md).toContain('failed (out of memory)')
    expect(md).toContain('No dataset recorded.')
  })
})

describe('report files', () => {
  it('HTML: one file, plotly and the data inline, no external resource, names escaped', () => {
    const html = renderHtml(cmp)
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).not.toMatch(/<script[^>]+src=/i)
    expect(html).not.toMatch(/<link[^>]+href=/i)
    expect(html).not.toMatch(/<img[^>]+src=["']?https?:/i)
    expect(html).toContain('plotly.js v3')
    expect(html).toContain('prefers-color-scheme: dark')
    expect(html).toContain('iw &lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;')
    expect(html).not.toContain('<b>bold</b>')
    const json = html.match(/<script type="application\/json" id="iwsft-report-data">(.*?)<\/script>/s)![1]
    expect(JSON.parse(json).runs[0].name).toBe('iw <b>bold</b> & "q" | pipe')
    expect(renderHtml(one, { forPrint: true })).toContain('<html lang="en" class="print">')
  })

  it('Markdown: tables for runs, final metrics, curves, weights, curation, config and versions', () => {
    const md = renderMarkdown(cmp)
    for (const h of [
      '## Runs',
      '## Final metrics',
      '## Curves',
      '## Importance weights at the last snapshot',
      '## Weight diagnostics',
      '## Data and curation',
      '## Configuration',
      '## Seeds, backend and versions'
    ]) {
      expect(md).toContain(h)
    }
    expect(md).toContain('iw <b>bold</b> & "q" \\| pipe')
    expect(md).toContain('What differs between the runs:')
    expect(md).toMatch(/\| `method` \| `"iw-sft"` \| `"sft"` \|/)
    // every table row has as many cells as its header
    const lines = md.split('\n')
    for (let i = 0; i < lines.length; i++) {
      if (/^\| (---|:?---)/.test(lines[i])) {
        const cells = (s: string): number => s.replace(/\\\|/g, '').split('|').length
        const n = cells(lines[i - 1])
        for (let j = i + 1; j < lines.length && lines[j].startsWith('|'); j++) expect(cells(lines[j]), lines[j]).toBe(n)
      }
    }
  })

  it('CSV: metrics in long format and per-trace weights with score and bin', () => {
    const m = metricsCsv(store, [a, b]).trim().split('\n')
    expect(m[0]).toBe('run,step,key,value')
    expect(m.length - 1).toBe(store.getMetrics(a).length + store.getMetrics(b).length)
    expect(m[1]).toMatch(new RegExp(`^${a},\\d+,[a-z_]+,-?[\\d.e+-]+$`))
    const w = weightsCsv(store, a)!
    expect(w.step).toBe(60)
    const rows = w.csv.trim().split('\n')
    expect(rows[0]).toBe('trace,id,log_w_raw,w,score,bin')
    const snap = store.getWeightSnapshot(a, 60)!
    expect(rows.length - 1).toBe(snap.traceIndex.length)
    const [trace, , logw, wv, score, bin] = rows[1].split(',')
    expect(Number(trace)).toBe(snap.traceIndex[0])
    expect(Number(logw)).toBe(snap.logWRaw[0])
    expect(Number(wv)).toBe(snap.w[0])
    expect(Number(score)).toBeGreaterThan(0.5)
    expect(bin).toBe('1')
    expect(csvFiles(store, [a, b]).map((f) => f.name)).toEqual(['metrics.csv', `weights-run${a}-step60.csv`, `weights-run${b}-step60.csv`])
  })

  it('PDF through a custom printer (as the desktop app passes printToPDF): gets the print layout, must return a PDF', async () => {
    let seen = ''
    const pdf = await renderPdf(one, async (html) => {
      seen = html
      return new Uint8Array(Buffer.from('%PDF-1.7 fake'))
    })
    expect(Buffer.from(pdf).toString('latin1')).toBe('%PDF-1.7 fake')
    expect(seen).toContain('class="print"')
    await expect(renderPdf(one, async () => new Uint8Array(Buffer.from('<html>')))).rejects.toThrow(/did not return a PDF/)
  })
})

describe.skipIf(!chromium)('what a reader sees (headless Chromium)', () => {
  it('the HTML opened offline draws every chart with no network request and no script error', async () => {
    const file = join(dir, 'offline.html')
    writeFileSync(file, renderHtml(cmp))
    const { chromium: pw } = await import('playwright-core')
    const ctx = await pw.launchPersistentContext(mkdtempSync(join(dir, 'profile-')), {
      executablePath: chromium!,
      headless: true,
      args: CHROMIUM_FLAGS.filter((f) => f !== '--headless'),
      viewport: { width: 1280, height: 900 },
      colorScheme: 'dark',
      offline: true
    })
    try {
      const page = await ctx.newPage()
      const requests: string[] = []
      const errors: string[] = []
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url())
      })
      page.on('pageerror', (e) => errors.push(String(e)))
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text())
      })
      await page.goto(`file://${file}`)
      await page.waitForFunction((f) => (globalThis as unknown as Record<string, unknown>)[f] === true, REPORT_READY_FLAG, { timeout: 30_000 })
      const expected = cmp.metricKeys.length + 2 + 1 // curves, two weight histograms, one score chart (shared data and rule)
      expect(await page.locator('.js-plotly-plot').count()).toBe(expected)
      expect(await page.locator('.js-plotly-plot .main-svg').count()).toBeGreaterThanOrEqual(expected)
      expect(requests).toEqual([])
      expect(errors).toEqual([])
      await page.screenshot({ path: join(dir, 'offline.png'), fullPage: true })
      expect(existsSync(join(dir, 'offline.png'))).toBe(true)
    } finally {
      await ctx.close()
    }
  })

  it('iwsft report writes HTML, Markdown and PDF, refuses to overwrite without --overwrite, and writes CSVs', async () => {
    const p = ['--project', join(dir, 'p.iwsft')]
    const out = join(dir, 'out')
    expect(await quiet(() => cmdReport([String(a), String(b), '--out', join(out, 'r.html'), ...p]))).toBe(0)
    const first = readFileSync(join(out, 'r.html'), 'utf8')
    await expect(quiet(() => cmdReport([String(a), '--out', join(out, 'r.html'), ...p]))).rejects.toThrow(/already exists; pass overwrite/)
    expect(readFileSync(join(out, 'r.html'), 'utf8')).toBe(first)
    expect(await quiet(() => cmdReport([String(a), '--out', join(out, 'r.html'), '--overwrite', ...p]))).toBe(0)
    expect(readFileSync(join(out, 'r.html'), 'utf8')).not.toBe(first)
    expect(await quiet(() => cmdReport([String(a), '--out', join(out, 'r.md'), '--csv', join(out, 'csv'), ...p]))).toBe(0)
    expect(readdirSync(join(out, 'csv')).sort()).toEqual(['metrics.csv', `weights-run${a}-step60.csv`])
    expect(await quiet(() => cmdReport([String(a), String(b), '--out', join(out, 'r.pdf'), ...p]))).toBe(0)
    const pdf = readFileSync(join(out, 'r.pdf'))
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-')
    expect(pdf.length).toBeGreaterThan(20_000)
    // only the finished files, no temporaries
    expect(readdirSync(out).sort()).toEqual(['csv', 'r.html', 'r.md', 'r.pdf'])
  })

  it('chromiumPrinter makes a multi-page A4 PDF of a comparison', async () => {
    const pdf = await renderPdf(cmp, chromiumPrinter({ executablePath: chromium! }))
    const text = Buffer.from(pdf).toString('latin1')
    expect(text.startsWith('%PDF-')).toBe(true)
    const pages = text.match(/\/Type\s*\/Page[^s]/g) ?? []
    expect(pages.length).toBeGreaterThan(1)
    // A4 = 595 × 842 points
    expect(text).toMatch(/\/MediaBox\s*\[\s*0 0 594\.9\d* 841\.9\d*\s*\]|\/MediaBox\s*\[\s*0 0 595 842\s*\]/)
  })
})

describe('iwsft report: usage and paths', () => {
  const p = (): string[] => ['--project', join(dir, 'p.iwsft')]
  it('needs runs and an output, a known extension, and existing runs', async () => {
    await expect(cmdReport(['--out', join(dir, 'x.html'), ...p()])).rejects.toThrow(/usage: iwsft report/)
    await expect(cmdReport([String(a), ...p()])).rejects.toThrow(/--out FILE \(or --csv DIR\) is required/)
    await expect(cmdReport([String(a), '--out', join(dir, 'x.docx'), ...p()])).rejects.toThrow(/must end in .html, .md or .pdf/)
    await expect(cmdReport(['777', '--out', join(dir, 'x.html'), ...p()])).rejects.toThrow(/no run 777/)
  })

  it('a crash while rendering leaves no file behind', async () => {
    const out = join(dir, 'crash')
    const { writeFileAtomic } = await import('../../src/main/export/atomic.ts')
    await expect(
      writeFileAtomic(out, 'r.html', (write) => {
        write(renderHtml(one).slice(0, 1000))
        throw new Error('renderer crashed')
      })
    ).rejects.toThrow('renderer crashed')
    expect(readdirSync(out)).toEqual([])
  })
})
