// End-to-end: the app driven in Debian's Chromium, against `iwsft serve`'s server in-process,
// and (the "datasets and curation" block) against the back end the desktop shell starts in a Node
// child process, the page getting its token from the shell as the desktop window does. A researcher's day: import a small dataset (and a broken one), curate the bandit,
// launch iw-SFT with two seeds, watch progress arrive, cancel a long run, read the inspector's
// histogram and ESS, compare runs, and check that the numbers on screen equal those in the
// project database (opened independently, read-only). A screenshot of every view is saved
// under $IWSFT_SCREENSHOTS (default: <tmp>/iwsft-e2e-screenshots).
//
// Each describe block has a project and back end of its own, each test a fresh page and the
// data it reads: what it imports, writes or launches itself, or runs its block starts in
// beforeAll through the services. Waits are on the app's DOM and on the services' events,
// never on the clock. A page error fails the test it happened in.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig, type Method } from '../../src/shared/config.ts'
import { curate } from '../../src/shared/curation.ts'
import { weightStats } from '../../src/shared/weight-stats.ts'
import { fmt, fmtInt, pct } from '../../src/renderer/src/lib/format.ts'
import { openProject } from '../../src/main/store/index.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import {
  hasChromium,
  CHROMIUM,
  SCREENSHOT_DIR,
  launchChromium,
  runToEnd,
  screenshot,
  settled,
  startFixture,
  testIdText,
  withProjectFile,
  startShellFixture,
  type Fixture,
  unexpectedErrors
} from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'workbench in the browser build' : `workbench in the browser build (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium)`

suite(title, () => {
  let browser: Browser
  // the fixture of the describe block running now, and the page of the test running now
  let fx: Fixture
  let page: Page
  let errors: string[] = []
  const withDb = <T>(f: (s: ProjectStore) => T): T => withProjectFile(fx.project, f)
  const shot = (name: string): Promise<void> => screenshot(page, name)
  const text = (testId: string): Promise<string> => testIdText(page, testId)
  const newPage = async (opts: Parameters<Browser['newPage']>[0] = { viewport: { width: 1280, height: 800 } }): Promise<Page> => {
    const p = await browser.newPage(opts)
    p.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`)
    })
    await fx.preparePage?.(p)
    await p.goto(fx.url)
    await p.getByTestId('datasets-table').waitFor()
    return p
  }
  const bandit = () => withDb((s) => s.listDatasets().find((d) => d.source === 'builtin:bandit'))!
  const lastRunId = (): number => withDb((s) => Math.max(0, ...s.listRuns().map((r) => r.id)))
  /** A project and back end of their own for the tests of the describe block this is called in:
   *  `iwsft serve`'s server in this process, or the back end the desktop shell starts. */
  const ownProject = (backend: 'server' | 'shell' = 'server'): void => {
    beforeAll(async () => {
      fx = backend === 'shell' ? await startShellFixture({ browser }) : await startFixture({ browser })
    }, 180_000)
    afterAll(async () => {
      await fx?.close()
    })
  }

  beforeAll(async () => {
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })
  beforeEach(async () => {
    errors = []
    page = await newPage()
  }, 60_000)
  afterEach(async () => {
    await page?.close()
    // 4xx answers are the app's own validation errors (a broken file): expected and shown
    expect(unexpectedErrors(errors)).toEqual([])
  })

  describe('datasets and curation (in the desktop shell’s back end)', () => {
    ownProject('shell')

    it('refuses the API without the token, and a tab without it says which link to open', async () => {
      expect((await fetch(`${fx.origin}/api/project.info`, { method: 'POST', body: '{}' })).status).toBe(401)
      const p2 = await fx.browser.newPage()
      await p2.goto(`${fx.origin}/`)
      await expect.poll(() => p2.getByTestId('token-missing').count()).toBe(1)
      expect(await p2.getByTestId('token-missing').innerText()).toMatch(/Open the link that iwsft serve printed/)
      // a wrong token: the page loads, the back end refuses it, and the app says so
      await p2.goto(`${fx.origin}/#token=wrong`)
      await p2.reload()
      await expect.poll(() => p2.getByRole('alert').count(), { timeout: 20_000 }).toBeGreaterThan(0)
      expect(await p2.getByRole('alert').first().innerText()).toMatch(/wrong token/)
      await p2.close()
    })

    it('lists the built-in bandit and imports a small dataset with a progress bar', async () => {
      await expect.poll(() => text(`dataset-row-${bandit().id}`)).toContain('10,000')
      await shot('01-datasets')

      const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: `q${i}`, prompt: `${i}+1=`, completion: `${i + 1}`, score: (i % 7) / 6, source: i % 2 ? 'even' : 'odd' }))
      const good = join(fx.dir, 'sums.jsonl')
      writeFileSync(good, lines.join('\n') + '\n')
      await page.getByTestId('file-input').setInputFiles(good)
      await expect.poll(() => text('import-status'), { timeout: 60_000 }).toContain('imported 40 traces')
      const imported = withDb((s) => s.listDatasets().find((d) => d.name.includes('sums')))
      expect(imported?.numTraces).toBe(40)
      expect(imported?.source).toBe('upload:sums.jsonl')
      await expect.poll(() => page.getByTestId(`dataset-row-${imported!.id}`).count()).toBe(1)
      await expect.poll(() => text('detail-traces')).toBe('40')
    })

    it('shows a bad file’s error beside it and imports nothing', async () => {
      const before = withDb((s) => s.listDatasets().length)
      const bad = join(fx.dir, 'broken.jsonl')
      writeFileSync(bad, '{"prompt": "a", "completion": "b", "score": 1}\nthis is not json\n')
      await page.getByTestId('file-input').setInputFiles(bad)
      await expect.poll(() => page.getByTestId('import-error').count(), { timeout: 60_000 }).toBe(1)
      const msg = await text('import-error')
      expect(msg).toMatch(/broken\.jsonl/)
      expect(msg).toMatch(/line 2/i)
      await shot('02-datasets-import-error')
      expect(withDb((s) => s.listDatasets().length)).toBe(before)
      // the app keeps working
      await page.getByTestId('nav-curation').click()
      await page.getByTestId('curation-counts').waitFor()
    })

    it('scores a dataset with the reference model as a job and caches the result', async () => {
      await page.getByTestId(`dataset-row-${bandit().id}`).click()
      const button = page.getByTestId('score-ref')
      expect(await button.isDisabled()).toBe(false)
      await button.click()
      await expect.poll(() => text('score-state'), { timeout: 120_000 }).toBe('reference log-probs cached')
      await page.getByTestId('nav-curation').click()
      await page.getByTestId('curation-counts').waitFor()
    })

    it('curates the bandit with live counts equal to the database’s', async () => {
      const { id: banditId } = bandit()
      await page.getByTestId('nav-curation').click()
      await page.getByTestId('curation-dataset').selectOption(String(banditId))
      const scores = withDb((s) => s.getDataset(banditId).scores)
      // default rule for the bandit: S > 0.5 (the successes)
      const thr = curate(scores, { mode: 'threshold', threshold: 0.5 })
      await expect.poll(() => text('kept-count')).toBe(fmtInt(thr.kept))
      expect(await text('bin-0')).toBe(fmtInt(scores.length - thr.kept))
      // the table is virtualized: 10,000 rows, a few dozen in the DOM
      expect(await text('table-count')).toBe(`${fmtInt(scores.length)} of ${fmtInt(scores.length)} traces`)
      const domRows = await page.locator('[data-testid=trace-table] .vt-row').count()
      expect(domRows).toBeGreaterThan(5)
      expect(domRows).toBeLessThan(80)
      // top-k: counts follow what is typed
      await page.getByTestId('curation-mode').selectOption('top_k')
      await page.getByTestId('topk-input').fill('30')
      const top = curate(scores, { mode: 'top_k', percent: 30 })
      await expect.poll(() => text('kept-count')).toBe(fmtInt(top.kept))
      // an invalid cutoff is reported beside the controls, not applied
      await page.getByTestId('curation-mode').selectOption('quality_bins')
      const bins = curate(scores, { mode: 'quality_bins', cutoffs: [90, 95, 98] })
      await expect.poll(() => text('total-count')).toBe(fmtInt(bins.total))
      await page.getByTestId('cutoff-1').fill('80')
      await expect.poll(() => page.getByTestId('curation-error').count()).toBe(1)
      expect(await text('curation-error')).toMatch(/increasing/)
      // back to the successes, saved as a preset
      await page.getByTestId('curation-mode').selectOption('threshold')
      await page.getByTestId('threshold-input').fill('0.5')
      await expect.poll(() => text('kept-count')).toBe(fmtInt(thr.kept))
      await page.locator('[data-testid=trace-table] .vt-row').first().click()
      await page.getByTestId('trace-viewer').waitFor()
      await page.getByTestId('preset-name').fill('successes')
      await page.getByTestId('preset-save').click()
      await expect.poll(() => withDb((s) => s.listPresets(banditId).map((p) => p.name))).toContain('successes')
      expect(withDb((s) => s.listPresets(banditId).find((p) => p.name === 'successes')!.curation)).toEqual({ mode: 'threshold', threshold: 0.5 })
      await shot('03-curation')
    })

    it('adds a built-in control dataset (made in a worker) and views a control trace', async () => {
      await page.getByTestId('builtin-select').selectOption('pendulum-expert')
      await page.getByTestId('builtin-add').click()
      await expect.poll(() => text('import-status'), { timeout: 120_000 }).toMatch(/added "pendulum-expert"/)
      const ds = withDb((s) => s.listDatasets().find((d) => d.source === 'builtin:pendulum-expert'))!
      expect(ds.kind).toBe('continuous')
      await page.getByTestId('nav-curation').click()
      await page.getByTestId('curation-dataset').selectOption(String(ds.id))
      await expect.poll(() => text('table-count')).toBe(`${fmtInt(ds.numTraces)} of ${fmtInt(ds.numTraces)} traces`)
      await page.locator('[data-testid=trace-table] .vt-row').first().click()
      await page.getByTestId('trace-viewer').locator('.plot .scatterlayer .trace').first().waitFor()
      await shot('13-curation-control-trace')
    })

    it('stays responsive with 100,000 traces in the curation view', async () => {
      // a 100k-trace dataset written straight into the project (a second connection, as the CLI would)
      const writer = openProject(fx.project)
      let id: number
      try {
        const traces = Array.from({ length: 100_000 }, (_, i) => ({ id: `t${i}`, actions: [i % 3], score: Math.sin(i * 12.9898) * 0.5 + 0.5 + (i % 1000) / 1000, meta: { shard: i % 17 } }))
        id = writer.putDataset(fromTraces('big-100k', 'discrete', 0, 3, traces), 'generated:e2e').id
      } finally {
        writer.close()
      }
      await page.reload()
      await page.getByTestId('nav-curation').click()
      await expect.poll(() => page.locator(`[data-testid=curation-dataset] option[value="${id}"]`).count()).toBe(1)
      await page.getByTestId('curation-dataset').selectOption(String(id))
      const scores = withDb((s) => s.getDataset(id).scores)
      await expect.poll(() => text('table-count'), { timeout: 30_000 }).toBe('100,000 of 100,000 traces')
      await page.getByTestId('curation-mode').selectOption('quality_bins')
      await expect.poll(() => text('total-count')).toBe(fmtInt(curate(scores, { mode: 'quality_bins', cutoffs: [90, 95, 98] }).total))
      // typing a cutoff answers within a frame or two
      const t0 = Date.now()
      await page.getByTestId('cutoff-0').fill('85')
      const expected = fmtInt(curate(scores, { mode: 'quality_bins', cutoffs: [85, 95, 98] }).kept)
      await expect.poll(() => text('kept-count'), { interval: 10 }).toBe(expected)
      const answered = Date.now() - t0
      // scroll to the end of the virtualized table: still a few dozen rows in the DOM
      await page.locator('[data-testid=trace-table] .vt-body').evaluate((el) => (el.scrollTop = el.scrollHeight))
      await expect.poll(() => page.locator('[data-testid=trace-table] .vt-row').last().getAttribute('aria-rowindex')).toBe('100001')
      expect(await page.locator('[data-testid=trace-table] .vt-row').count()).toBeLessThan(80)
      // filtering by bin and metadata
      await page.getByTestId('bin-filter').selectOption('m3')
      const m3 = curate(scores, { mode: 'quality_bins', cutoffs: [85, 95, 98] }).perBin[2]
      await expect.poll(() => text('table-count')).toBe(`${fmtInt(m3)} of 100,000 traces`)
      // drag the first cutoff line to the left on the histogram: the percentile and the counts follow
      await page.getByTestId('curation-histogram').scrollIntoViewIfNeeded()
      // the leftmost line is a1 (plotly does not keep the shapes' order in the DOM)
      const paths = page.locator('[data-testid=curation-histogram] .shapelayer path')
      const boxes = (await Promise.all((await paths.all()).map((p) => p.boundingBox()))).filter((b): b is NonNullable<typeof b> => !!b && b.width > 0)
      const box = boxes.reduce((a, b) => (b.x < a.x ? b : a))
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
      await page.mouse.down()
      await page.mouse.move(box.x + box.width / 2 - 80, box.y + box.height / 2, { steps: 8 })
      await page.mouse.up()
      await expect.poll(async () => Number(await page.getByTestId('cutoff-0').inputValue())).toBeLessThan(85)
      const dragged = Number(await page.getByTestId('cutoff-0').inputValue())
      await expect.poll(() => text('kept-count')).toBe(fmtInt(curate(scores, { mode: 'quality_bins', cutoffs: [dragged, 95, 98] }).kept))
      await shot('11-curation-100k')
      process.stdout.write(`curation: a typed cutoff answered on screen in ${answered} ms for 100,000 traces (Playwright round trips included)\n`)
    })

    it("inspects imported log-probs under any weight settings: ESS on screen equals the engine's", async () => {
      // in the project's folder: the back end reads only there, in uploads and in folders the user granted
      const fixture = join(fx.dir, 'byo-logprobs.jsonl')
      writeFileSync(fixture, readFileSync(resolve(__dirname, '../fixtures/text/byo-logprobs.jsonl')))
      await page.getByTestId('nav-byo').click()
      await page.getByTestId('byo-path').fill(fixture)
      await page.getByTestId('byo-import-button').click()
      // the fixture's two traces have mean ρ −1/12 and 1/2: w = e^(−1/12), e^(1/2) → ESS 1.85105
      await expect.poll(() => text('byo-ess'), { timeout: 20_000 }).toBe('1.85105')
      await expect.poll(() => text('byo-n')).toBe('2')
      // temperature 2 doubles log w: w = e^(−1/6), e^1 → ESS (Σw)²/Σw² computed by hand
      const w = [Math.exp(-1 / 6), Math.exp(1)]
      const ess = (w[0] + w[1]) ** 2 / (w[0] ** 2 + w[1] ** 2)
      await page.getByTestId('byo-temp').fill('2')
      await expect.poll(() => text('byo-ess'), { timeout: 10_000 }).toBe(String(Number(ess.toPrecision(6))))
      await shot('13-imported-weights')
    })
  })

  describe('launching, cancelling and replaying runs', () => {
    ownProject()

    it('rejects an out-of-range hyper-parameter beside its field, then launches iw-SFT with two seeds, watches progress and shows the database’s numbers', async () => {
      const { id: banditId } = bandit()
      // the curation preset this launch uses: the bandit's successes
      const preset = (await fx.server!.services.call('presets.save', { datasetId: banditId, name: 'successes', curation: { mode: 'threshold', threshold: 0.5 } })) as { id: number }
      await page.getByTestId('nav-new-run').click()
      await page.getByTestId('nr-dataset').selectOption(String(banditId))
      await page.getByTestId('nr-preset').selectOption(String(preset.id))
      await page.getByTestId('nr-method').selectOption('iw-sft')
      await page.getByTestId('f-optim-lr').fill('-1')
      const fieldError = page.locator('#f-optim-lr-err')
      await expect.poll(() => fieldError.count()).toBe(1)
      expect(await fieldError.innerText()).toMatch(/>0|too small/i)
      expect(await page.getByTestId('launch').isDisabled()).toBe(true)
      await shot('04-new-run-invalid')
      await page.getByTestId('f-optim-lr').fill('0.05')
      await page.getByTestId('f-train-steps').fill('400')
      await page.getByTestId('f-train-snapshot_every').fill('100')
      await page.getByTestId('nr-seeds').fill('0, 1')
      await expect.poll(() => page.getByTestId('launch').isDisabled()).toBe(false)
      const before = lastRunId()
      await page.getByTestId('launch').click()
      await page.getByTestId('live-plots').waitFor({ timeout: 60_000 })
      const runs = withDb((s) => s.listRuns().filter((r) => r.id > before))
      expect(runs.length).toBe(2)
      expect(new Set(runs.map((r) => r.group)).size).toBe(1)
      expect(runs.map((r) => r.seed).sort()).toEqual([0, 1])
      expect(runs.every((r) => r.method === 'iw-sft' && r.config.optim.lr === 0.05 && r.config.train.steps === 400)).toBe(true)
      // progress arrives over the WebSocket (or the run is already done on a fast machine)
      const id = runs[0].id
      await expect.poll(async () => (await text(`progress-text-${id}`)) + ' ' + (await text(`run-row-${id}`)), { timeout: 60_000 }).toMatch(/train \d+ \/ 400|completed/)
      await shot('05-live-run')
      for (const r of runs) await expect.poll(() => text(`run-row-${r.id}`), { timeout: 120_000 }).toMatch(/completed/)
      await shot('06-live-run-done')
      // the run's view shows the same loss and evaluation as the database
      const run = runs.find((r) => r.seed === 0)!
      await page.getByTestId(`run-row-${run.id}`).locator('td.clickable').click()
      const last = (key: string): number => withDb((s) => s.getMetrics(run.id, [key]).at(-1)!.value)
      await expect.poll(() => text('last-loss')).toBe(fmt(last('loss')))
      await expect.poll(() => text('last-expected_reward')).toBe(fmt(last('expected_reward')))
      // iw-SFT on the bandit: π(right) → 1, so the expected reward ends near 1 (paper §3.5)
      expect(last('expected_reward')).toBeGreaterThan(0.95)
    })

    it('cancels a long run within seconds and keeps what it saved', async () => {
      await page.getByTestId('nav-new-run').click()
      await page.getByTestId('nr-dataset').selectOption(String(bandit().id))
      await page.getByTestId('f-train-steps').fill('200000')
      await page.getByTestId('nr-seeds').fill('7')
      const before = lastRunId()
      await page.getByTestId('launch').click()
      let found: number | undefined
      await expect.poll(() => (found = withDb((s) => s.listRuns().find((r) => r.id > before)?.id)), { timeout: 60_000 }).toBeDefined()
      const id = found!
      const cancel = page.getByTestId(`cancel-${id}`)
      await cancel.waitFor({ timeout: 60_000 })
      page.once('dialog', (d) => void d.accept()) // Cancel asks first
      await cancel.click()
      // within seconds: the poll gives up after 10
      await expect.poll(() => withDb((s) => s.getRun(id)!.status), { timeout: 10_000 }).toBe('cancelled')
      await expect.poll(() => text(`run-row-${id}`)).toMatch(/cancelled/)
    })

    it('replays an episode of a control run’s policy as plots over time and a drawing', async () => {
      // a small policy and batch: the replay needs a checkpoint, not a good policy
      const config = {
        dataset: 'pendulum-expert',
        dataset_options: { quick: true, eval_episodes: 2 },
        method: 'bc',
        policy: { kind: 'gaussian-mlp', hidden: [32, 32], log_std_min: -5, log_std_max: 2 },
        train: { steps: 10, batch_size: 16, step_sample: 8, eval_every: 10, checkpoint_every: 10 }
      }
      const [id] = await runToEnd(fx, config, [0])
      expect(withDb((s) => s.getRun(id)!.status)).toBe('completed')
      await page.getByTestId('nav-runs').click()
      await page.getByTestId(`run-row-${id}`).locator('td.clickable').click()
      await page.getByTestId('replay-button').click()
      await expect.poll(() => text('replay-summary'), { timeout: 60_000 }).toMatch(/pendulum · policy from the checkpoint at step 10 · \d+ steps/)
      const actionPoints = await page.getByTestId('replay-actions').evaluate((el) => (el as unknown as { data: Array<{ y: number[] }> }).data[0].y.length)
      const steps = Number(/· (\d+) steps/.exec(await text('replay-summary'))![1])
      expect(actionPoints).toBe(steps)
      expect(await page.locator('[data-testid=replay-geoms] line, [data-testid=replay-geoms] circle, [data-testid=replay-geoms] polygon').count()).toBeGreaterThan(1)
      // the slider moves the drawing
      const before = await page.getByTestId('replay-geoms').innerHTML()
      await page.getByTestId('replay-slider').fill(String(Math.floor(steps / 2)))
      await expect.poll(() => page.getByTestId('replay-geoms').innerHTML()).not.toBe(before)
      await page.getByTestId(`replay-${id}`).scrollIntoViewIfNeeded()
      await shot('17-replay')
    })
  })

  /** A whole config for the project's built-in bandit, as the launch form sends it: the
   *  successes, lr 0.05, 400 steps with weight snapshots every 100 (or `steps`). */
  const banditRun = (method: Method, steps = 400): Record<string, unknown> => {
    const base = defaultConfig('bandit')
    return { ...base, dataset: String(bandit().id), method, optim: { ...base.optim, lr: 0.05 }, train: { ...base.train, steps, snapshot_every: 100 } }
  }

  describe('finished runs: inspector, compare, checkpoints, reports', () => {
    ownProject()
    // the runs these tests read: iw-SFT with two seeds and SFT on the bandit's successes
    let iw: number[]
    let sftId: number
    beforeAll(async () => {
      iw = await runToEnd(fx, banditRun('iw-sft'), [0, 1])
      ;[sftId] = await runToEnd(fx, banditRun('sft'), [0])
    }, 300_000)

    it('inspects the weights: histogram, ESS and clamp fraction equal the database snapshot', async () => {
      const run = withDb((s) => s.getRun(iw[0]))!
      const other = withDb((s) => s.getRun(iw[1]))!
      await page.getByTestId('nav-inspector').click()
      await page.getByTestId('ins-run').selectOption(String(run.id))
      const steps = withDb((s) => s.listSnapshotSteps(run.id))
      expect(steps.length).toBeGreaterThan(1)
      await expect.poll(() => text('ins-step-value')).toBe(String(steps.at(-1)))
      const snap = withDb((s) => s.getWeightSnapshot(run.id, steps.at(-1)!))!
      const st = weightStats(snap.logWRaw, snap.w, run.config.weights.clamp)
      await expect.poll(() => text('ins-ess')).toBe(fmt(st.ess, 6))
      expect(await text('ins-ess-fraction')).toBe(pct(st.ess_fraction, 2))
      expect(await text('ins-clamp')).toBe(pct(st.clamp_fraction, 2))
      expect(await text('ins-n')).toBe(fmtInt(snap.w.length))
      expect(await text('ins-raw-mmm')).toBe(`${fmt(st.logw_raw_min)} / ${fmt(st.logw_raw_median)} / ${fmt(st.logw_raw_max)}`)
      // the histogram drew its bars, and they count every trace of the snapshot
      const counts = await page.getByTestId('ins-histogram').evaluate((el) => {
        const d = (el as unknown as { data: Array<{ type: string; y: number[] }> }).data
        return d.map((t) => t.y.reduce((a, b) => a + b, 0))
      })
      expect(counts.length).toBe(2)
      for (const c of counts) expect(c).toBeLessThanOrEqual(snap.w.length)
      expect(counts[1]).toBe(snap.w.length) // raw: no weight is clamped to 0 here, all are binned
      expect(await page.locator('[data-testid=ins-histogram] .bars path').count()).toBeGreaterThan(0)
      // a most-weighted trace opens with its per-step ρ under the run's last checkpoint
      await page.getByTestId('ins-top').locator('tbody tr').first().click()
      await expect.poll(() => text('ins-rho-status'), { timeout: 60_000 }).toMatch(/Σρ = /)
      // one-step bandit traces: log w raw = (temp/|τ|)·Σρ = Σρ, under the same parameters as the last snapshot
      const sumRho = Number(/Σρ = (\S+)/.exec(await text('ins-rho-status'))![1])
      const top = snap.logWRaw.reduce((a, v) => Math.max(a, v), -Infinity)
      expect(Math.abs(sumRho - top)).toBeLessThan(2e-3)
      await shot('07-inspector')
      await page.getByTestId('trace-viewer').scrollIntoViewIfNeeded()
      await shot('07b-inspector-trace-rho')
      await page.getByTestId('ins-step').scrollIntoViewIfNeeded()
      // an earlier step, log-scale counts, a second run overlaid
      await page.getByTestId('ins-step').fill('0')
      await expect.poll(() => text('ins-step-value')).toBe(String(steps[0]))
      // per-step ρ follows the slider: θ from the checkpoint nearest the chosen step (this run saved one, at its end)
      const lastCk = Math.max(...withDb((s) => s.listCheckpoints(run.id)).map((c) => c.step))
      await expect.poll(() => text('ins-rho-status'), { timeout: 60_000 }).toMatch(new RegExp(`checkpoint at step ${lastCk} \\(the nearest to step ${steps[0]}\\)`))
      const snap0 = withDb((s) => s.getWeightSnapshot(run.id, steps[0])!)
      await expect.poll(() => text('ins-ess')).toBe(fmt(weightStats(snap0.logWRaw, snap0.w, run.config.weights.clamp).ess, 6))
      await page.getByTestId('ins-logy').check()
      await page.getByTestId('ins-other').selectOption(String(other.id))
      await expect.poll(() => page.getByTestId('ins-histogram').evaluate((el) => (el as unknown as { data: unknown[] }).data.length)).toBe(4)
      await page.getByTestId('ins-heatmap').locator('.hm, image, .heatmaplayer').first().waitFor({ state: 'attached' })
      await shot('08-inspector-overlay')
    })

    it('compares runs: final metrics and the config diff equal the database', async () => {
      // a third iw-SFT run with another step count: its own curve beside the two seeds' band
      const [short] = await runToEnd(fx, banditRun('iw-sft', 60), [7])
      const runs = withDb((s) => s.listRuns())
      const iw0 = runs.find((r) => r.id === iw[0])!
      const sft = runs.find((r) => r.id === sftId)!
      await page.getByTestId('nav-compare').click()
      for (const r of runs) {
        const box = page.getByTestId(`cmp-run-${r.id}`)
        if ((await box.isChecked()) !== (r.id === iw0.id || r.id === sft.id)) await box.click()
      }
      for (const r of [iw0, sft]) {
        const lastReward = withDb((s) => s.getMetrics(r.id, ['expected_reward']).at(-1)!.value)
        await expect.poll(() => text(`final-${r.id}-expected_reward`)).toBe(fmt(lastReward, 5))
        const lastLoss = withDb((s) => s.getMetrics(r.id, ['loss']).at(-1)!.value)
        expect(await text(`final-${r.id}-loss`)).toBe(fmt(lastLoss, 5))
      }
      // SFT on the bandit converges towards π(right) = 2/3 (reward 5/6); iw-SFT towards 1
      const rewardOf = (id: number): number => withDb((s) => s.getMetrics(id, ['expected_reward']).at(-1)!.value)
      expect(rewardOf(iw0.id)).toBeGreaterThan(rewardOf(sft.id))
      const diff = await text('cmp-diff')
      expect(diff).toMatch(/method/)
      expect(diff).not.toMatch(/optim\.lr/) // same in both: not shown
      await page.getByTestId('cmp-parcoords').waitFor()
      // the smoothing slider answers
      const before = await page.getByTestId('cmp-plot').evaluate((el) => JSON.stringify((el as unknown as { data: Array<{ y: number[] }> }).data.at(-1)!.y.slice(0, 5)))
      await page.getByTestId('cmp-smoothing').fill('0.95')
      await expect.poll(() => page.getByTestId('cmp-plot').evaluate((el) => JSON.stringify((el as unknown as { data: Array<{ y: number[] }> }).data.at(-1)!.y.slice(0, 5)))).not.toBe(before)
      await shot('09-compare')
      // the two seeds of the iw-SFT group as a mean ± std band
      for (const r of runs) {
        const box = page.getByTestId(`cmp-run-${r.id}`)
        if ((await box.isChecked()) !== (r.method === 'iw-sft')) await box.click()
      }
      // seeds 0 and 1 (same config) form one band, told apart from the 60-step run by the step count
      const names = async (): Promise<string[]> => page.getByTestId('cmp-plot').evaluate((el) => (el as unknown as { data: Array<{ name?: string }> }).data.map((t) => t.name ?? ''))
      await expect
        .poll(async () => (await names()).filter((n) => /^iw-SFT · bandit.* · .*steps=400.* \(n=2\)$/.test(n)).length)
        .toBe(1)
        .catch(async (e) => {
          throw new Error(`${(e as Error).message}; curves: ${JSON.stringify(await names())}`)
        })
      expect((await names()).some((n) => n.startsWith(`#${short} iw-SFT`))).toBe(true)
      expect((await names()).some((n) => /n=3/.test(n))).toBe(false)
      expect(withDb((s) => s.getRun(short)!.status)).toBe('completed')
      await shot('10-compare-group')
    })

    it('draws a group that holds two methods (as `iwsft reproduce` stores them) as one band per method', async () => {
      const group = 'two methods'
      const iwPair = await runToEnd(fx, banditRun('iw-sft', 60), [0, 1], group)
      const [sft] = await runToEnd(fx, banditRun('sft', 60), [0], group)
      expect(withDb((s) => [...iwPair, sft].map((id) => s.getRun(id)!.group))).toEqual([group, group, group])
      const names = async (): Promise<string[]> => page.getByTestId('cmp-plot').evaluate((el) => (el as unknown as { data: Array<{ name?: string }> }).data.map((t) => t.name ?? ''))
      await page.getByTestId('nav-compare').click()
      await page.getByTestId('cmp-picker').getByRole('button', { name: group }).click()
      await expect.poll(async () => (await names()).filter((n) => /^iw-SFT · bandit[^·]* \(n=2\)$/.test(n)).length).toBe(1)
      const all = await names()
      expect(all.some((n) => n.includes(`#${sft} SFT`))).toBe(true)
      expect(all.some((n) => /n=3/.test(n))).toBe(false)
      await shot('10b-compare-bands-per-method')
    })

    it('lists a run’s checkpoints, exports to a folder and refuses to overwrite until confirmed', async () => {
      const run = withDb((s) => s.getRun(iw[0]))!
      const cks = withDb((s) => s.listCheckpoints(run.id))
      expect(cks.length).toBeGreaterThan(0)
      await page.getByTestId('nav-runs').click()
      await page.getByTestId(`run-row-${run.id}`).locator('td.clickable').click()
      const table = page.getByTestId('ck-table')
      await expect.poll(() => table.locator('tbody tr').count()).toBe(cks.length)
      expect(await table.locator('tbody tr').last().locator('td').first().innerText()).toBe(String(Math.max(...cks.map((c) => c.step))))
      const out = join(fx.dir, 'exported')
      await page.getByTestId('export-format').selectOption('safetensors')
      await page.getByTestId('export-dir').fill(out)
      await page.getByTestId('export-button').click()
      await expect.poll(() => page.getByTestId('export-done').count(), { timeout: 30_000 }).toBe(1)
      const file = join(out, 'model.safetensors')
      expect(existsSync(file)).toBe(true)
      const exported = readFileSync(file)
      // a second export into the same folder asks first, and writes nothing until told to
      // (the file is spoiled here, so that the overwrite shows in its bytes, not its clock)
      writeFileSync(file, 'spoiled')
      await page.getByTestId('export-button').click()
      await page.getByTestId('export-confirm').waitFor()
      expect(await text('export-confirm')).toMatch(/already exists/)
      expect(readFileSync(file, 'utf8')).toBe('spoiled')
      await page.getByTestId('checkpoints-' + run.id).scrollIntoViewIfNeeded()
      await shot('14-checkpoints-export-confirm')
      await page.getByTestId('export-overwrite').click()
      await expect.poll(() => page.getByTestId('export-done').count(), { timeout: 30_000 }).toBe(1)
      // a safetensors file again, holding the same tensors as the first export
      const tensorNames = (b: Buffer): string[] => Object.keys(JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString('utf8'))).sort()
      expect(tensorNames(readFileSync(file))).toEqual(tensorNames(exported))
      // TensorFlow.js into another folder
      await page.getByTestId('export-format').selectOption('tfjs')
      await page.getByTestId('export-dir').fill(join(fx.dir, 'exported-tfjs'))
      await page.getByTestId('export-button').click()
      await expect.poll(() => existsSync(join(fx.dir, 'exported-tfjs', 'model.json')), { timeout: 30_000 }).toBe(true)
    })

    it('downloads a report of a run (HTML, Markdown, CSV) that names it', async () => {
      const run = withDb((s) => s.getRun(iw[0]))!
      await page.getByTestId('nav-runs').click()
      await page.getByTestId(`run-row-${run.id}`).locator('td.clickable').click()
      const download = async (format: string): Promise<{ name: string; body: string }> => {
        await page.getByTestId('report-format').first().selectOption(format)
        const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByTestId('report-button').first().click()])
        const path = await d.path()
        return { name: d.suggestedFilename(), body: readFileSync(path, 'utf8') }
      }
      const html = await download('html')
      expect(html.name).toBe(`iwsft-report-run${run.id}.html`)
      expect(html.body).toContain(run.name)
      expect(html.body).toMatch(/^<!doctype html>/i)
      const md = await download('md')
      expect(md.body).toContain(run.name)
      const csv = await download('csv')
      expect(csv.name).toMatch(/\.csv$/)
      await expect.poll(() => text('report-done')).toMatch(/downloaded/)
      await shot('15-run-report')
    })

    it('makes a report of the runs picked in Compare', async () => {
      const runs = withDb((s) => s.listRuns().filter((r) => r.status === 'completed'))
      await page.getByTestId('nav-compare').click()
      for (const r of withDb((s) => s.listRuns())) {
        const box = page.getByTestId(`cmp-run-${r.id}`)
        if ((await box.isChecked()) !== runs.some((x) => x.id === r.id)) await box.click()
      }
      await page.getByTestId('report-format').selectOption('md')
      const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByTestId('report-button').click()])
      const body = readFileSync(await d.path(), 'utf8')
      for (const r of runs) expect(body).toContain(r.name)
    })
  })

  describe('the shell: backend, themes and keyboard, projects', () => {
    ownProject()

    it('shows the active backend and lists the four backends with their reasons', async () => {
      await expect.poll(() => text('backend-status'), { timeout: 60_000 }).toMatch(/^backend: (native-gpu|native-cpu|wasm|cpu)$/)
      await page.getByTestId('backend-status').click()
      const list = page.getByTestId('backend-list')
      await expect.poll(() => list.locator('tr').count()).toBe(4)
      for (const b of ['native-gpu', 'native-cpu', 'wasm', 'cpu']) expect(await page.getByTestId(`backend-${b}`).count()).toBe(1)
      const active = await text('backend-active')
      expect(await text(`backend-${active}`)).toMatch(/active/)
      // the plain JavaScript backend is always there
      expect(await text('backend-cpu')).not.toMatch(/not available/)
      // install (here the native CPU backend is already built: it verifies and says so; elsewhere
      // it builds, step by step)
      if (active === 'native-cpu') {
        await page.getByTestId('backend-install').click()
        await expect.poll(() => text('backend-install-progress'), { timeout: 120_000 }).toMatch(/^done: all \d+ steps$/)
        expect(await page.getByTestId('backend-panel').innerText()).toMatch(/already installed/)
      }
      await shot('16-backend-panel')
      await page.keyboard.press('Escape')
      await page.getByTestId('backend-status').click()
      await expect.poll(() => page.getByTestId('backend-panel').count()).toBe(0)
    })

    it('works at 1920×1080 and in the dark theme, and is keyboard reachable', async () => {
      const p = await newPage({ viewport: { width: 1920, height: 1080 }, colorScheme: 'dark' })
      const bg = await p.evaluate('getComputedStyle(document.body).backgroundColor')
      expect(bg).toBe('rgb(22, 24, 29)')
      await p.getByTestId('backend-status').click()
      await p.getByTestId('backend-list').waitFor({ timeout: 60_000 })
      await p.screenshot({ path: join(SCREENSHOT_DIR, 'dark-1920-backend.png') })
      await p.getByTestId('backend-status').click()
      for (const [i, v] of ['datasets', 'curation', 'new-run', 'runs', 'inspector', 'compare'].entries()) {
        await p.keyboard.press(`Alt+${i + 1}`)
        await expect.poll(() => p.getByTestId(`nav-${v}`).getAttribute('aria-current')).toBe('page')
        await settled(p)
        await p.screenshot({ path: join(SCREENSHOT_DIR, `dark-1920-${i + 1}-${v}.png`) })
      }
      // Tab reaches the navigation and Enter switches views
      await p.keyboard.press('Alt+1')
      await p.getByTestId('nav-compare').focus()
      await p.keyboard.press('Enter')
      await expect.poll(() => p.getByTestId('nav-compare').getAttribute('aria-current')).toBe('page')
      await p.close()
    })

    it('creates a second project, then reopens the first from the recent list', async () => {
      // a dataset only the first project holds (written by a second connection, as the CLI would)
      const writer = openProject(fx.project)
      try {
        writer.putDataset(fromTraces('first-only', 'discrete', 0, 2, [{ id: 'a', actions: [1], score: 1 }]), 'generated:e2e')
      } finally {
        writer.close()
      }
      await page.reload()
      await expect.poll(() => page.getByTestId('datasets-table').innerText()).toMatch(/first-only/)
      await page.getByTestId('project-button').click()
      const second = join(fx.dir, 'second.iwsft')
      await page.getByTestId('project-path').fill(second)
      await page.getByTestId('project-create').click()
      await expect.poll(() => page.getByTestId('project-button').innerText()).toMatch(/^second/)
      await expect.poll(() => page.getByTestId('datasets-table').innerText()).toMatch(/bandit/)
      await expect.poll(() => page.getByTestId('datasets-table').innerText()).not.toMatch(/first-only/)
      await page.getByTestId('project-button').click()
      await shot('12-projects')
      await page.getByTestId('project-panel').getByRole('button', { name: 'e2e.iwsft' }).click()
      await expect.poll(() => page.getByTestId('project-button').innerText()).toMatch(/^e2e/)
      await expect.poll(() => page.getByTestId('datasets-table').innerText()).toMatch(/first-only/)
    })
  })
})
