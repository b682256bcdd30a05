// Sweeps and weight diagnostics in Chromium (issue 15): a temperature sweep of quick bandit runs
// (3 temperatures × 2 seeds) started through sweeps.start; Compare shows it as a table (checked against
// sweeps.results) and a plot with one point per grid point; the inspector shows each stage of
// the weights at a snapshot (checked against runs.snapshot, with the ESS/N worked out here) and
// the run's diagnostics; a run whose weights are ≈ 1 (temp 0.01) or collapsed (a control run at
// temp 3000) carries the back end's warning in the inspector and a badge in Live runs, a healthy
// one (bandit temp 1, control temp 300) does not — also while it runs.
// Screenshots go to $IWSFT_SCREENSHOTS (default: <tmp>/iwsft-e2e-screenshots).
import type { Page } from 'playwright-core'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import type { SnapshotData, SweepResults } from '../../src/shared/contract.ts'
import type { RunDiagnostics } from '../../src/shared/weight-stats.ts'
import { hasChromium, CHROMIUM, appSuite, randomControl, runToEnd, screenshot, testIdText, withProjectFile, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'sweeps in Compare, weight stages and warnings' : `sweeps in Compare, weight stages and warnings (skipped: no Chromium at ${CHROMIUM})`

const QUICK = {
  method: 'iw-sft',
  dataset: 'bandit',
  backend: 'cpu',
  dataset_options: { pulls: 300 },
  train: { steps: 30, batch_size: 32, log_every: 10, snapshot_every: 30, eval_every: 10 }
}
const TEMPS = [0.01, 1, 3]
const SEEDS = 2

/** ESS/N = (Σ μw)² / (Σ μ · Σ μw²): each trace counted with its sampling mass μ (worked out here, not with the app's code). */
function essN(w: ArrayLike<number>, mass?: ArrayLike<number>): number {
  let n = 0
  let s = 0
  let s2 = 0
  for (let i = 0; i < w.length; i++) {
    const m = mass ? mass[i] : 1
    n += m
    s += m * w[i]
    s2 += m * w[i] * w[i]
  }
  return (s * s) / (n * s2)
}

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  let group = ''
  let runIds: number[] = [] // seed 0 of each temperature, as TEMPS
  let allIds: number[] = []
  const call = <T>(name: string, input: unknown): Promise<T> => fx.server!.services.call(name as never, input as never) as Promise<T>
  const text = (testId: string): Promise<string> => testIdText(page, testId)
  const num = async (testId: string): Promise<number> => Number(await text(testId))

  beforeAll(async () => {
    fx = await app.start()
    const started = await call<{ group: string }>('sweeps.start', { config: QUICK, grid: [{ key: 'weights.temp', values: TEMPS }], seeds: SEEDS })
    group = started.group
    let status = await call<{ status: string; runIds: number[]; error?: string }>('sweeps.status', { group })
    while (status.status === 'running') {
      await new Promise((r) => setTimeout(r, 200))
      status = await call('sweeps.status', { group })
    }
    if (status.status !== 'completed') throw new Error(`the sweep ended ${status.status}: ${status.error}`)
    allIds = status.runIds
    // the runs go grid point by grid point, seeds innermost
    runIds = TEMPS.map((_, i) => allIds[i * SEEDS])
  }, 240_000)
  beforeEach(async () => {
    page = await app.open({ viewport: { width: 1440, height: 1000 }, ready: 'datasets-table' })
  }, 60_000)

  it('Compare shows the sweep: a row per grid point equal to sweeps.results, a plot with a point per grid point', async () => {
    const res = await call<SweepResults>('sweeps.results', { group })
    expect(res.results.map((r) => r.params)).toEqual(TEMPS.map((t) => ({ 'weights.temp': t })))
    await page.getByTestId('nav-compare').click()
    await page.getByTestId('cmp-picker').waitFor()
    for (const id of allIds) if (await page.getByTestId(`cmp-run-${id}`).isChecked()) await page.getByTestId(`cmp-run-${id}`).click()
    await expect.poll(() => page.getByTestId('sweep-panel').count()).toBe(0) // nothing picked: no sweep
    await page.getByTestId(`cmp-group-${group}`).click()
    await page.getByTestId('sweep-table').waitFor()
    await expect.poll(() => page.getByTestId('sweep-table').locator('tbody tr').count()).toBe(3)
    const checkRows = async (r: SweepResults): Promise<void> => {
      for (const [i, p] of r.results.entries()) {
        expect(await text(`sweep-param-${i}-weights.temp`)).toBe(String(TEMPS[i]))
        const [mean, std] = (await text(`sweep-mean-${i}`)).split(' ± ').map(Number)
        expect(mean).toBeCloseTo(p.mean!, 3)
        // the sample std of the two seeds' final values, worked out here
        const [a, b] = p.values as number[]
        expect(std).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 2)
        expect(p.mean).toBeCloseTo((a + b) / 2, 12)
        expect(await text(`sweep-seeds-${i}`)).toBe(String(SEEDS))
        if (p.ess_n_final === null) expect(await text(`sweep-ess-${i}`)).toBe('–')
        else expect(parseFloat(await text(`sweep-ess-${i}`))).toBeCloseTo(p.ess_n_final, 2)
        expect(await page.getByTestId(`sweep-warn-${i}`).count()).toBe(p.warnings.length ? 1 : 0)
      }
    }
    await expect.poll(() => text('sweep-mean-0')).not.toBe('')
    expect(res.metric).toBe('expected_reward')
    expect(await page.getByTestId('sweep-metric').inputValue()).toBe('expected_reward')
    await checkRows(res)
    // temp 0.01 keeps the weights ≈ 1: the back end warns, and the row says so
    expect(res.results[0].warnings.join()).toMatch(/weights ≈ 1: iw-SFT is SFT here/)
    expect(res.results[1].warnings).toEqual([])

    type Trace = { meta?: string; x: number[]; y: number[] }
    const traces = (): Promise<Trace[]> => page.getByTestId('sweep-plot').evaluate((el) => (el as unknown as { data: Trace[] }).data.map((t) => ({ meta: t.meta, x: t.x, y: t.y })))
    await expect.poll(async () => (await traces()).filter((t) => t.meta === 'mean').length).toBe(1)
    const mean = (await traces()).find((t) => t.meta === 'mean')!
    expect(mean.x).toEqual(TEMPS)
    mean.y.forEach((y, i) => expect(y).toBeCloseTo(res.results[i].mean!, 12))
    const seeds = (await traces()).find((t) => t.meta === 'seeds')!
    expect(seeds.x).toEqual(TEMPS.flatMap((t) => Array<number>(SEEDS).fill(t)))
    expect(seeds.y).toEqual(res.results.flatMap((r) => r.values))
    // the band: mean − std and mean + std at each grid point
    const band = (await traces()).filter((t) => t.meta === 'band')
    expect(band).toHaveLength(2)
    band[1].y.forEach((y, i) => expect(y - mean.y[i]).toBeCloseTo(res.results[i].std!, 12))
    band[0].y.forEach((y, i) => expect(mean.y[i] - y).toBeCloseTo(res.results[i].std!, 12))
    // 0.01 … 3 spans more than two decades: a log axis
    expect(await page.getByTestId('sweep-plot').evaluate((el) => (el as unknown as { _fullLayout: { xaxis: { type: string } } })._fullLayout.xaxis.type)).toBe('log')
    expect(await page.locator('[data-testid=sweep-plot] .scatterlayer .trace').count()).toBeGreaterThanOrEqual(3)
    await screenshot(page, '60-compare-sweep', true)

    // another metric the runs logged: the table follows sweeps.results for it
    await page.getByTestId('sweep-metric').selectOption('p_right')
    const pr = await call<SweepResults>('sweeps.results', { group, metric: 'p_right' })
    await expect.poll(() => page.getByTestId('sweep-table').locator('thead').innerText()).toMatch(/p_right mean ± std/)
    await expect.poll(async () => Number((await text('sweep-mean-2')).split(' ± ')[0])).toBeCloseTo(pr.results[2].mean!, 3)
    await checkRows(pr)
  }, 120_000)

  it('the inspector shows each stage of the weights as runs.snapshot holds them, and the run’s diagnostics', async () => {
    const id = runIds[1] // temp 1: healthy
    const steps = await call<number[]>('runs.snapshotSteps', { runId: id })
    const snap = await call<SnapshotData>('runs.snapshot', { runId: id, step: steps.at(-1)! })
    const diag = (await call<RunDiagnostics | null>('runs.diagnostics', { runId: id }))!
    expect(snap.version).toBe(2)
    expect(snap.batch?.w.length).toBe(QUICK.train.batch_size)
    expect(diag.warnings).toEqual([])
    await page.getByTestId('nav-inspector').click()
    await page.getByTestId('ins-run').selectOption(String(id))
    await page.getByTestId('ins-stages').waitFor()
    await expect.poll(() => text('ins-step-value')).toBe(String(snap.step))

    // w as the loss used it, over the curated multiset (each trace μ times)
    await page.getByTestId('ins-stage-loss').click()
    const massSum = snap.mass!.reduce((a, b) => a + b, 0)
    await expect.poll(() => text('ins-stage-n')).toBe(massSum.toLocaleString('en-US'))
    expect(await num('ins-stage-ess')).toBeCloseTo(essN(snap.w, snap.mass), 3)
    // a global scale (the normalisation) changes no ESS: the back end's ESS/N of the clamped w is the same number
    expect(await num('ins-stage-ess')).toBeCloseTo(diag.ess_n_final!, 3)
    await screenshot(page, '61-inspector-stage-loss', true)

    // the clamped w, per trace
    await page.getByTestId('ins-stage-clamped').click()
    await expect.poll(() => text('ins-stage-n')).toBe(String(snap.wClamped!.length))
    expect(await num('ins-stage-ess')).toBeCloseTo(essN(snap.wClamped!), 3)

    // raw log w: ESS/N of exp(log w raw), min / median / max of log w raw
    await page.getByTestId('ins-stage-raw').click()
    await expect.poll(() => page.getByTestId('ins-stage-mean').count()).toBe(0)
    const top = Math.max(...snap.logWRaw)
    expect(await num('ins-stage-ess')).toBeCloseTo(essN(snap.logWRaw.map((v) => Math.exp(v - top))), 3)
    const [lo, , hi] = (await text('ins-stage-mmm')).split(' / ').map(Number)
    expect(lo).toBeCloseTo(Math.min(...snap.logWRaw), 3)
    expect(hi).toBeCloseTo(top, 3)
    const binned = await page.getByTestId('ins-stage-histogram').evaluate((el) => ((el as unknown as { data: Array<{ y: number[] }> }).data[0].y as number[]).reduce((a, b) => a + b, 0))
    expect(binned).toBe(snap.logWRaw.length)

    // the step's batch: every row's w as the loss weighted it
    await page.getByTestId('ins-stage-batch').click()
    await expect.poll(() => text('ins-stage-n')).toBe(String(snap.batch!.w.length))
    expect(await num('ins-stage-ess')).toBeCloseTo(essN(snap.batch!.w), 3)
    expect(await page.getByTestId('ins-batch').locator('tbody tr').count()).toBe(snap.batch!.w.length)
    for (const [i, w] of snap.batch!.w.entries()) expect(await num(`ins-batch-w-${i}`)).toBeCloseTo(w, 4)

    // the diagnostics panel: the back end's numbers, no warning for this run
    expect(await num('diag-ess-final')).toBeCloseTo(diag.ess_n_final!, 3)
    expect(await text('diag-top')).toBe(`${(diag.top1_share! * 100).toFixed(1)}% / ${(diag.top5_share! * 100).toFixed(1)}%`)
    expect(await page.getByTestId('diag-ess-curve').evaluate((el) => (el as unknown as { data: Array<{ x: number[] }> }).data[0].x.length)).toBe(diag.ess_n_curve.length)
    expect(await page.getByTestId('ins-warning-banner').count()).toBe(0)
    await screenshot(page, '62-inspector-stage-batch', true)

    // temp 0.01: weights ≈ 1, the back end's warning heads the view
    const flat = (await call<RunDiagnostics | null>('runs.diagnostics', { runId: runIds[0] }))!
    expect(flat.warnings).toHaveLength(1)
    expect(flat.warnings[0]).toMatch(/^weights ≈ 1: iw-SFT is SFT here/)
    await page.getByTestId('ins-run').selectOption(String(runIds[0]))
    await expect.poll(() => text('ins-warning-banner')).toContain(flat.warnings[0])
    await screenshot(page, '63-inspector-warning')
  }, 120_000)

  it('Live runs marks the runs whose weights are ≈ 1, and not the healthy ones', async () => {
    const warnedOf = async (id: number): Promise<boolean> => ((await call<RunDiagnostics | null>('runs.diagnostics', { runId: id }))?.warnings ?? []).length > 0
    expect(await Promise.all(runIds.map(warnedOf))).toEqual([true, false, false])
    const warned = new Map(await Promise.all(allIds.map(async (id) => [id, await warnedOf(id)] as const)))
    await page.getByTestId('nav-runs').click()
    await page.getByTestId('runs-table').waitFor()
    await expect.poll(() => page.getByTestId(`run-warn-${runIds[0]}`).count()).toBe(1)
    expect(await page.getByTestId(`run-warn-${runIds[0]}`).getAttribute('title')).toMatch(/^weights ≈ 1: iw-SFT is SFT here/)
    // every run's badge as its diagnostics say (the answers come one after another)
    for (const id of allIds) await expect.poll(() => page.getByTestId(`run-warn-${id}`).count()).toBe(warned.get(id) ? 1 : 0)
    await page.getByTestId(`run-row-${runIds[0]}`).locator('td.clickable').click()
    await expect.poll(() => text(`run-warnings-${runIds[0]}`)).toMatch(/weights ≈ 1: iw-SFT is SFT here/)
    await screenshot(page, '64-runs-warning-badge')
  }, 60_000)

  it('a running run gets the badge once a snapshot it saved says its weights are ≈ 1', async () => {
    await page.getByTestId('nav-runs').click()
    await page.getByTestId('runs-table').waitFor()
    const config = { ...QUICK, weights: { temp: 0.01 }, train: { ...QUICK.train, steps: 200_000, snapshot_every: 20 } }
    const {
      runIds: [id]
    } = await call<{ runIds: number[] }>('runs.start', { config, seeds: [0] })
    try {
      await expect.poll(() => page.getByTestId(`run-warn-${id}`).count(), { timeout: 60_000 }).toBe(1)
      // judged while it runs, not at its end
      expect(await text(`run-row-${id}`)).toMatch(/running/)
      const diag = (await call<RunDiagnostics | null>('runs.diagnostics', { runId: id }))!
      expect(diag.warnings.join()).toMatch(/weights ≈ 1/)
    } finally {
      await call('runs.cancel', { runId: id }).catch(() => {})
      await expect.poll(async () => (await call<Array<{ id: number; status: string }>>('runs.list', {})).find((r) => r.id === id)?.status, { timeout: 60_000 }).not.toBe('running')
    }
  }, 120_000)

  it('a run made to collapse (temperature 3000, no clamp to speak of) is marked, one at temperature 300 is not', async () => {
    const datasetId = withProjectFile(fx.project, (st) => st.putDataset(randomControl(5, 200), 'test').id, false)
    const base = defaultConfig('control')
    const config = (temp: number): Record<string, unknown> => ({
      ...base,
      dataset: String(datasetId),
      method: 'iw-sft',
      weights: { ...base.weights, temp, clamp: [0, 1e30] },
      reference: { kind: 'bc', steps: 20, lr: 1e-3, batch_size: 128 },
      train: { ...base.train, steps: 30, log_every: 10, eval_every: 30, snapshot_every: 30 }
    })
    const [healthy] = await runToEnd(fx, config(300), [0])
    const [collapsed] = await runToEnd(fx, config(3000), [0])
    const dc = (await call<RunDiagnostics | null>('runs.diagnostics', { runId: collapsed }))!
    const dh = (await call<RunDiagnostics | null>('runs.diagnostics', { runId: healthy }))!
    expect(dc.ess_n_final!).toBeLessThan(0.2)
    expect(dc.warnings).toHaveLength(1)
    expect(dc.warnings[0]).toMatch(/^weights collapsed onto \d+ traces/)
    expect(dh.warnings).toEqual([])

    await page.getByTestId('nav-runs').click()
    await page.getByTestId('runs-table').waitFor()
    await expect.poll(() => page.getByTestId(`run-warn-${collapsed}`).getAttribute('title')).toBe(dc.warnings[0])
    expect(await page.getByTestId(`run-warn-${healthy}`).count()).toBe(0)

    await page.getByTestId('nav-inspector').click()
    await page.getByTestId('ins-run').selectOption(String(collapsed))
    await expect.poll(() => text('ins-warning-banner')).toContain(dc.warnings[0])
    await page.getByTestId('ins-stage-loss').click()
    await expect.poll(async () => Number(await text('ins-stage-ess'))).toBeCloseTo(dc.ess_n_final!, 3)
    expect(await text('diag-top')).toBe(`${(dc.top1_share! * 100).toFixed(1)}% / ${(dc.top5_share! * 100).toFixed(1)}%`)
    await screenshot(page, '65-inspector-collapsed', true)
    await page.getByTestId('ins-run').selectOption(String(healthy))
    await expect.poll(async () => Number(await text('diag-ess-final'))).toBeCloseTo(dh.ess_n_final!, 3)
    expect(await page.getByTestId('ins-warning-banner').count()).toBe(0)
  }, 180_000)
})
