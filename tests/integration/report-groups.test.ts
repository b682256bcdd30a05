// Reports (issue 16): seeds of one setting aggregated as mean ± std (sample std, worked here
// by hand from the runs' own final values), an SFT run's report says its weights were not in
// its loss, and the final-metrics table keeps names whole (no word broken, narrow run columns).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { buildReport, type ReportData } from '../../src/main/report/build-report.ts'
import { renderHtml } from '../../src/main/report/html.ts'
import { renderMarkdown } from '../../src/main/report/markdown.ts'
import { quickBandit } from '../helpers/configs.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-report-groups-'))
let store: ProjectStore
let iw: number[]
let sft: number
let d: ReportData
beforeAll(async () => {
  store = openProject(join(dir, 'p.iwsft'))
  iw = []
  for (const seed of [0, 1, 2]) iw.push((await executeRun(store, quickBandit({ seed, group: 'iw seeds' }))).runId)
  sft = (await executeRun(store, quickBandit({ seed: 0, method: 'sft' }))).runId
  d = buildReport(store, [...iw, sft])
}, 300_000)
afterAll(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('report groups and weights in the loss', () => {
  it('aggregates the three seeds of one setting (mean and sample std by hand); a lone run is no group', () => {
    expect(d.groups).toHaveLength(1)
    const g = d.groups[0]
    expect(g.runIds).toEqual(iw)
    const xs = iw.map((id) => d.runs.find((r) => r.id === id)!.final.loss)
    const mean = (xs[0] + xs[1] + xs[2]) / 3
    const std = Math.sqrt(((xs[0] - mean) ** 2 + (xs[1] - mean) ** 2 + (xs[2] - mean) ** 2) / 2)
    expect(g.final.loss.n).toBe(3)
    expect(g.final.loss.mean).toBeCloseTo(mean, 12)
    expect(g.final.loss.std).toBeCloseTo(std, 12)
    expect(std).toBeGreaterThan(0)
    expect(g.label).toBe(`iw-SFT · iw seeds (n=3: runs ${iw.join(', ')})`)
  })

  it('an SFT run is marked as not weighting its loss, in HTML and Markdown; iw-SFT runs are', () => {
    expect(d.runs.map((r) => r.weightsInLoss)).toEqual([true, true, true, false])
    const html = renderHtml(d, { plotlySource: '' })
    expect(html).toContain(`Run ${sft} (SFT) does not weight traces: every trace counted with w = 1 in its loss`)
    expect(html).not.toContain('— the weight used in the loss (')
    expect(html).toContain('<h2>Groups: mean ± std over seeds</h2>')
    const md = renderMarkdown(d)
    expect(md).toContain(`Run ${sft} (SFT) does not weight traces`)
    expect(md).toMatch(/\| `loss` \| \d[\d.e-]* ± \d[\d.e-]* \|/)
    const only = renderHtml(buildReport(store, [sft]), { plotlySource: '' })
    expect(only).toContain('the weight iw-SFT would use; NOT in these runs’ loss')
    const iwOnly = renderHtml(buildReport(store, [iw[0]]), { plotlySource: '' })
    expect(iwOnly).toContain('— the weight used in the loss (')
    expect(iwOnly).not.toContain('does not weight traces')
  })

  it('the final-metrics table heads a run by id with its method on a line of its own, metric names unbroken', () => {
    const html = renderHtml(d, { plotlySource: '' })
    const final = /<section id="final">[\s\S]*?<\/section>/.exec(html)![0]
    expect(final).toContain('<table class="final">')
    expect(final).toContain(`<span title="${d.runs[0].name}">run ${iw[0]}</span><br><span class="muted sub">iw-SFT · iw seeds</span>`)
    expect(html).toMatch(/table\.final code\{word-break:normal;white-space:nowrap\}/)
  })
})
