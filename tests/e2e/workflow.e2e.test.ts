// End-to-end in Chromium (issue 16, "Bringing your own LLM data" and "Compare and inspect"):
// token strings with their log-probs shown in the token shading; the import mapping step in the
// Datasets view; Minari names; Compare keeping its picks; the inspector and the empty states.
// Screenshots go under $IWSFT_SCREENSHOTS (default <tmp>/iwsft-e2e-screenshots), 16-*.png.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig, type Method } from '../../src/shared/config.ts'
import { weightStats } from '../../src/shared/weight-stats.ts'
import { fmt } from '../../src/renderer/src/lib/format.ts'
import { hasChromium, CHROMIUM, appSuite, runToEnd, screenshot, testIdText, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'bringing LLM data, comparing and inspecting' : `bringing LLM data, comparing and inspecting (skipped: no Chromium at ${CHROMIUM})`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  const shot = (name: string): Promise<void> => screenshot(page, name)
  const text = (testId: string): Promise<string> => testIdText(page, testId)

  beforeAll(async () => {
    fx = await app.start()
  }, 240_000)
  beforeEach(async () => {
    page = await app.open({ ready: 'datasets-table' })
  }, 60_000)

  it('imports a log-prob JSONL whose tokens are strings (no tokenizer) and shades those strings by ρ_t', async () => {
    const f = join(fx.dir, 'vllm-strings.jsonl')
    writeFileSync(
      f,
      [
        { id: 'p0', prompt: 'What is 3+4?', tokens: ['7', ' is', ' the', ' answer'], ref_logprobs: [-2, -0.5, -0.25, -1], policy_logprobs: [-0.5, -0.5, -0.5, -1], score: 1 },
        { id: 'p1', prompt: 'What is 2+2?', tokens: ['5', '\n', 'no'], ref_logprobs: [-1, -1, -1], policy_logprobs: [-3, -1, -2], score: 0 }
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n'
    )
    await page.getByTestId('nav-byo').click()
    await page.getByTestId('byo-path').fill(f)
    await page.getByTestId('byo-import-button').click()
    await expect.poll(() => text('byo-n'), { timeout: 20_000 }).toBe('2')
    // the most weighted trace is p0 (mean ρ = (1.5 + 0 − 0.25 + 0)/4 > p1's (−2 + 0 − 1)/3)
    await page.getByTestId('byo-top').locator('tbody tr').first().click()
    await page.getByTestId('byo-tokens').waitFor()
    const toks = await page.getByTestId('byo-tokens').locator('[role=listitem]').allInnerTexts()
    // the prompt is one grey step holding its text; the completion's strings, spaces made visible
    expect(toks).toEqual(['What␣is␣3+4?', '7', '␣is', '␣the', '␣answer'])
    expect(await text('byo-rho-sum')).toContain('token strings from the file')
    await page.getByTestId('byo-tokens').locator('[role=listitem]').nth(1).hover()
    expect(await text('byo-tokens-hover')).toContain('"7" (id 0) · ρ = 1.5')
    await shot('16-token-strings')
  })

  const dsCount = async (): Promise<number> => ((await fx.server!.services.call('datasets.list', {})) as unknown[]).length

  it('imports an s1K-1.1-like file at once (layout recognised); an unknown layout goes through the mapping step, whose roles are remembered per file shape', async () => {
    const s1k = join(fx.dir, 's1k-1.1-like.jsonl')
    const cols = ['solution', 'question', 'cot_type', 'deepseek_thinking_trajectory', 'deepseek_attempt', 'deepseek_grade']
    writeFileSync(
      s1k,
      [
        ['2+2?', 'two and two', '4', 'Yes'],
        ['3+3?', 'hmm', '7', 'No']
      ]
        .map(([q, th, at, g]) =>
          JSON.stringify(
            Object.fromEntries(cols.map((c) => [c, c === 'question' ? q : c === 'deepseek_thinking_trajectory' ? th : c === 'deepseek_attempt' ? at : c === 'deepseek_grade' ? g : 'x']))
          )
        )
        .join('\n') + '\n'
    )
    const before = await dsCount()
    await page.getByTestId('file-input').setInputFiles(s1k)
    await expect.poll(() => text('import-status'), { timeout: 20_000 }).toContain('imported 2 traces')
    expect(await dsCount()).toBe(before + 1)

    // columns no layout has: the mapping step lists them with the first rows
    const odd = join(fx.dir, 'odd.jsonl')
    const rows = [
      { ask: 'hi', said: 'hello there', ok: 'yes', note: 'a' },
      { ask: 'bye', said: 'see you', ok: 'no', note: 'b' },
      { ask: 'q', said: 'r', ok: 'yes', note: 'c' }
    ]
    writeFileSync(odd, rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
    await page.getByTestId('file-input').setInputFiles(odd)
    await page.getByTestId('column-mapping').waitFor()
    expect(await text('mapping-layout')).toContain('layout not recognised')
    expect(await page.getByTestId('mapping-table').locator('tbody tr').nth(1).innerText()).toContain('hello there')
    expect(await text('mapping-error')).toContain('completion')
    await page.getByTestId('role-ask').selectOption('prompt')
    await page.getByTestId('role-said').selectOption('completion')
    await page.getByTestId('role-ok').selectOption('score')
    await page.getByTestId('role-note').selectOption('meta')
    await shot('16-import-mapping')
    await page.getByTestId('mapping-import').click()
    await expect.poll(() => text('import-status'), { timeout: 20_000 }).toContain('imported 3 traces')
    const ds = ((await fx.server!.services.call('datasets.list', {})) as { id: number; name: string }[]).find((d) => d.name === 'odd.jsonl')!
    const cols2 = (await fx.server!.services.call('datasets.columns', { datasetId: ds.id })) as { scores: number[]; meta: string[] }
    expect(cols2.scores).toEqual([1, 0, 1])
    expect(cols2.meta[1]).toBe('{"note":"b"}')

    // a second file of the same shape: the remembered roles apply, no step
    const odd2 = join(fx.dir, 'odd2.jsonl')
    writeFileSync(odd2, JSON.stringify({ note: 'z', ok: 'no', said: 'fine', ask: 'how?' }) + '\n')
    await page.getByTestId('file-input').setInputFiles(odd2)
    await expect.poll(() => text('import-status'), { timeout: 20_000 }).toContain('imported 1 traces')
    expect(await page.getByTestId('column-mapping').count()).toBe(0)

    // "choose columns" shows the step for a recognised file too, with its roles filled in
    await page.getByTestId('review-columns').check()
    await page.getByTestId('file-input').setInputFiles(s1k)
    await page.getByTestId('column-mapping').waitFor()
    expect(await text('mapping-layout')).toContain('recognised: s1K-1.1')
    expect(await page.getByTestId('role-deepseek_attempt').inputValue()).toBe('attempt')
    expect(await page.getByTestId('role-deepseek_grade').inputValue()).toBe('score')
  })

  // ----------------------------------------------------------------------------- compare and inspect

  const call = <T>(name: string, input: unknown): Promise<T> => fx.server!.services.call(name, input) as Promise<T>
  const banditRun = async (method: Method, steps = 120): Promise<Record<string, unknown>> => {
    const bandit = (await call<{ id: number; source: string }[]>('datasets.list', {})).find((d) => d.source === 'builtin:bandit')!
    const base = defaultConfig('bandit')
    return { ...base, dataset: String(bandit.id), method, optim: { ...base.optim, lr: 0.05 }, train: { ...base.train, steps, snapshot_every: 50, eval_every: 40 } }
  }
  type PlotTrace = { name?: string; mode?: string; line?: { color?: string }; showlegend?: boolean }
  const plotData = (testId: string): Promise<PlotTrace[]> =>
    page.getByTestId(testId).evaluate((el) => (el as unknown as { data: PlotTrace[] }).data.map((t) => ({ name: t.name, mode: t.mode, line: t.line, showlegend: t.showlegend })))

  it('Compare and the inspector with no runs say what to do', async () => {
    await page.getByTestId('nav-compare').click()
    expect(await text('cmp-empty')).toContain('Start a run')
    await page.getByTestId('nav-inspector').click()
    expect(await text('insp-empty')).toContain('Start a run')
    await shot('16-inspector-empty')
  })

  it('Compare: chips add and remove groups, the picks survive leaving the view and a reload, one colour per run, raw points under the smoothed lines, the report names its runs', async () => {
    const sft = await runToEnd(fx, await banditRun('sft'), [0, 1], 'sft-g')
    const iw = await runToEnd(fx, await banditRun('iw-sft'), [0, 1], 'iw-g')
    await page.reload()
    await page.getByTestId('datasets-table').waitFor()
    await page.getByTestId('nav-compare').click()
    await page.getByTestId('cmp-picker').waitFor()
    // start from none picked
    for (const id of [...sft, ...iw]) if (await page.getByTestId(`cmp-run-${id}`).isChecked()) await page.getByTestId(`cmp-run-${id}`).click()
    await page.getByTestId('cmp-group-sft-g').click()
    await page.getByTestId('cmp-group-iw-g').click()
    const checked = async (): Promise<number[]> => {
      const out: number[] = []
      for (const id of [...sft, ...iw]) if (await page.getByTestId(`cmp-run-${id}`).isChecked()) out.push(id)
      return out
    }
    expect(await checked()).toEqual([...sft, ...iw])
    const named = await text('cmp-report-runs')
    expect(named).toContain('The report will hold 4 runs')
    for (const id of [...sft, ...iw]) expect(named).toContain(`#${id} `)
    // a chip whose runs are all picked takes them out again
    await page.getByTestId('cmp-group-sft-g').click()
    expect(await checked()).toEqual(iw)
    await page.getByTestId('cmp-group-sft-g').click()
    // the address holds the picks (in the order the list gives them)
    const inHash = (): number[] => {
      const m = /^#compare\?runs=([\d,]+)$/.exec(decodeURIComponent(new URL(page.url()).hash))
      return m
        ? m[1]
            .split(',')
            .map(Number)
            .sort((a, b) => a - b)
        : []
    }
    await expect.poll(inHash).toEqual([...sft, ...iw].sort((a, b) => a - b))

    // one band per group, each its own colour; every run's polyline in the parallel coordinates has its band's colour
    await expect.poll(async () => (await plotData('cmp-plot')).filter((t) => / \(n=2\)$/.test(t.name ?? '')).length, { timeout: 20_000 }).toBe(2)
    const traces = await plotData('cmp-plot')
    const bands = traces.filter((t) => / \(n=2\)$/.test(t.name ?? ''))
    const bandColor = Object.fromEntries(bands.map((t) => [t.name!.startsWith('SFT') ? 'sft' : 'iw', t.line!.color!]))
    expect(bandColor.sft).not.toBe(bandColor.iw)
    const strokes = await page
      .getByTestId('cmp-parcoords')
      .locator('polyline')
      .evaluateAll((ls) => ls.map((l) => [l.querySelector('title')?.textContent?.split(':')[0], l.getAttribute('stroke')]))
    expect(Object.fromEntries(strokes)).toEqual(Object.fromEntries([...iw.map((id) => [`#${id}`, bandColor.iw]), ...sft.map((id) => [`#${id}`, bandColor.sft])]))
    // evaluation every 40 of 120 steps: sparse, so the raw points are drawn
    expect(traces.filter((t) => t.name === 'raw').every((t) => t.mode === 'lines+markers')).toBe(true)
    await page.setViewportSize({ width: 1920, height: 1080 })
    await shot('16-compare-groups')
    // the config diff is not cut: every cell shows its whole value
    const clipped = await page
      .getByTestId('cmp-diff')
      .locator('td')
      .evaluateAll((tds) => tds.filter((td) => td.scrollWidth > td.clientWidth + 1).length)
    expect(clipped).toBe(0)

    // leave and come back: the same picks; reload the address: the same picks
    await page.getByTestId('nav-datasets').click()
    await page.getByTestId('nav-compare').click()
    expect(await checked()).toEqual([...sft, ...iw])
    await page.reload()
    await page.getByTestId('cmp-picker').waitFor()
    expect(await checked()).toEqual([...sft, ...iw])

    // the report holds exactly the runs named
    await page.getByTestId('report-format').selectOption('md')
    const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByTestId('report-button').click()])
    const body = readFileSync(await d.path(), 'utf8')
    const runs = await call<{ id: number; name: string }[]>('runs.list', {})
    for (const r of runs) expect(body.includes(r.name)).toBe([...sft, ...iw].includes(r.id))
  })

  it('Inspector: the clamped stage leaves out the normalisation, an SFT run says its weights were not in the loss, no stale snapshot error on a switch, log w = temp/|τ| · Σρ', async () => {
    const cfg = await banditRun('iw-sft', 60)
    const w = cfg.weights as Record<string, unknown>
    const [norm] = await runToEnd(fx, { ...cfg, weights: { ...w, normalize: true, clamp: [0, 1.5] } }, [0])
    const sftRun = (await call<{ id: number; method: string }[]>('runs.list', {})).find((r) => r.method === 'sft')!
    await page.reload()
    await page.getByTestId('datasets-table').waitFor()
    await page.getByTestId('nav-inspector').click()
    await page.getByTestId('ins-run').selectOption(String(norm))
    const steps = await call<number[]>('runs.snapshotSteps', { runId: norm })
    await expect.poll(() => text('ins-step-value'), { timeout: 20_000 }).toBe(String(steps.at(-1)))
    const snap = await call<{ logWRaw: number[]; w: number[]; clamp: [number, number] }>('runs.snapshot', { runId: norm, step: steps.at(-1)! })
    // by hand: the clamp alone is min(max(exp(log w raw), lo), hi); the stored w is also normalised
    const clampedOnly = snap.logWRaw.map((v) => Math.min(Math.max(Math.exp(v), snap.clamp[0]), snap.clamp[1]))
    const c = weightStats(snap.logWRaw, clampedOnly, snap.clamp)
    const n = weightStats(snap.logWRaw, snap.w, snap.clamp)
    await expect.poll(() => text('ins-clamped-mmm')).toBe(`${fmt(c.logw_min)} / ${fmt(c.logw_median)} / ${fmt(c.logw_max)}`)
    expect(await text('ins-normalised-mmm')).toBe(`${fmt(n.logw_min)} / ${fmt(n.logw_median)} / ${fmt(n.logw_max)}`)
    expect(c.logw_max).toBeLessThanOrEqual(Math.log(1.5) + 1e-9)
    expect(Math.abs(c.logw_median - n.logw_median)).toBeGreaterThan(1e-3)
    expect(await page.getByTestId('ins-not-in-loss').count()).toBe(0)
    // one-step bandit traces: |τ| = 1, so log w raw = temp/1 · Σρ
    await page.getByTestId('ins-top').locator('tbody tr').first().click()
    await expect.poll(() => text('ins-rho-status'), { timeout: 60_000 }).toMatch(/log w raw = temp\/\|τ\| · Σρ = 1\/1 · (\S+) = \1$/)
    await shot('16-inspector-stages')

    // to an SFT run of another length: its weights were not in its loss; no stale "no weight snapshot at step N"
    await page.getByTestId('ins-run').selectOption(String(sftRun.id))
    const sftSteps = await call<number[]>('runs.snapshotSteps', { runId: sftRun.id })
    await expect.poll(() => text('ins-step-value'), { timeout: 20_000 }).toBe(String(sftSteps.at(-1)))
    await page.getByTestId('ins-ess').waitFor()
    expect(await text('ins-not-in-loss')).toContain('were NOT in its loss')
    expect(await page.locator('.error-text').count()).toBe(0)
    await shot('16-inspector-sft')
  })

  it('Inspector: a control trace draws ρ_t on an axis of its own, below the actions', async () => {
    const config = {
      dataset: 'pendulum-expert',
      dataset_options: { quick: true, eval_episodes: 2 },
      method: 'iw-sft',
      reference: { kind: 'init' },
      policy: { kind: 'gaussian-mlp', hidden: [16], log_std_min: -5, log_std_max: 2 },
      train: { steps: 10, batch_size: 16, step_sample: 8, eval_every: 10, checkpoint_every: 10, snapshot_every: 10 }
    }
    const [id] = await runToEnd(fx, config, [0])
    await page.reload()
    await page.getByTestId('datasets-table').waitFor()
    await page.getByTestId('nav-inspector').click()
    await page.getByTestId('ins-run').selectOption(String(id))
    await page.getByTestId('ins-top').locator('tbody tr').first().click({ timeout: 30_000 })
    await expect.poll(() => text('ins-rho-status'), { timeout: 60_000 }).toMatch(/log w raw = /)
    const plot = page.getByTestId('trace-plot')
    await plot.waitFor()
    const axes = await plot.evaluate((el) => {
      const p = el as unknown as { data: Array<{ name?: string; yaxis?: string }>; layout: Record<string, { domain?: number[]; overlaying?: string; title?: { text?: string } }> }
      return {
        rho: p.data.find((t) => t.name === 'ρ_t')?.yaxis,
        y: p.layout.yaxis?.domain,
        y3: p.layout.yaxis3?.domain,
        y3over: p.layout.yaxis3?.overlaying ?? null,
        y3title: p.layout.yaxis3?.title?.text
      }
    })
    // its own axis: not overlaying the actions', a domain below theirs, titled ρ_t
    expect(axes.rho).toBe('y3')
    expect(axes.y3over).toBeNull()
    expect(axes.y3title).toBe('ρ_t')
    expect(axes.y3![1]).toBeLessThan(axes.y![0])
    await page.getByTestId('trace-plot').scrollIntoViewIfNeeded()
    await shot('16-inspector-rho-axis')
  })
})
