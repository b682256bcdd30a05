// Starting and managing runs in Chromium (issue 16, "Starting runs"): New run shows the BC
// reference's settings and what it will cost before launch ("10,000 steps", then "cached" once
// a run trained it); runs written by another process appear and go live without a reload; the
// Runs view renames, deletes (after confirming) and resumes runs, and cancel asks first.
// Screenshots go to $IWSFT_SCREENSHOTS (default: <tmp>/iwsft-e2e-screenshots).
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Page } from 'playwright-core'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { hasChromium, CHROMIUM, appSuite, randomControl, runToEnd, screenshot, settled, testIdText, withProjectFile, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'starting and managing runs' : `starting and managing runs (skipped: no Chromium at ${CHROMIUM})`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  let datasetId = 0
  const withDb = <T>(f: (s: ProjectStore) => T, readonly = true): T => withProjectFile(fx.project, f, readonly)
  const shot = (name: string): Promise<void> => screenshot(page, name)
  const text = (testId: string): Promise<string> => testIdText(page, testId)

  beforeAll(async () => {
    fx = await app.start()
    datasetId = withDb((s) => s.putDataset(randomControl(5, 24), 'test').id, false)
  }, 180_000)
  beforeEach(async () => {
    page = await app.open({ ready: 'datasets-table' })
  }, 60_000)

  it('New run shows the BC reference settings and its cost: 10,000 steps at first, cached after a run trained it', async () => {
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(datasetId))
    await page.getByTestId('nr-method').selectOption('iw-sft')
    await expect.poll(() => page.getByTestId('f-reference-steps').inputValue()).toBe('10000')
    expect(await page.getByTestId('f-reference-lr').inputValue()).toBe('0.001')
    expect(await page.getByTestId('f-reference-batch_size').inputValue()).toBe('128')
    await expect.poll(() => text('nr-reference-cost')).toMatch(/^reference: 10,000 steps \(time measured after the first one\)/)
    await shot('20-new-run-reference-cost')

    // a run from the services (as the CLI would) trains a 20-step reference on this data
    const base = defaultConfig('control')
    const config = {
      ...base,
      dataset: String(datasetId),
      method: 'iw-sft',
      reference: { kind: 'bc', steps: 20, lr: 1e-3, batch_size: 128 },
      train: { ...base.train, steps: 10, log_every: 5, eval_every: 10, snapshot_every: 10 }
    }
    await runToEnd(fx, config, [0])
    expect(withDb((s) => s.listBcReferences().length)).toBe(1)
    await page.getByTestId('f-reference-steps').fill('20')
    await expect.poll(() => text('nr-reference-cost')).toMatch(/^reference: cached/)
    await shot('21-new-run-reference-cached')
    // another step count: trained anew, its time estimated from the measured one
    await page.getByTestId('f-reference-steps').fill('40')
    await expect.poll(() => text('nr-reference-cost')).toMatch(/^reference: 40 steps ≈ \d+ s/)
    // two seeds: the second seed's reference is not cached
    await page.getByTestId('f-reference-steps').fill('20')
    await page.getByTestId('nr-seeds').fill('0, 1')
    await expect.poll(() => text('nr-reference-cost')).toMatch(/^reference: 20 steps ≈ \d+ s for 1 of 2 seeds \(1 cached\)/)
    // init reference: nothing to train, no cost line
    await page.getByTestId('f-reference-kind').selectOption('init')
    await expect.poll(() => page.getByTestId('nr-reference-cost').count()).toBe(0)
    expect(await page.getByTestId('f-reference-steps').count()).toBe(0)
  })

  it('a run started by the command line appears without a reload and its curves go live', async () => {
    await page.getByTestId('nav-runs').click()
    await page.getByTestId('runs-table').waitFor()
    const before = withDb((s) => Math.max(0, ...s.listRuns().map((r) => r.id)))
    const cfg = join(fx.dir, 'cli-run.json')
    writeFileSync(
      cfg,
      JSON.stringify({ dataset: 'bandit', backend: 'cpu', dataset_options: { pulls: 300 }, train: { steps: 6000, batch_size: 16, log_every: 20, eval_every: 1000, snapshot_every: 3000 } })
    )
    const child = spawn(process.execPath, [resolve('bin/iwsft.mjs'), 'run', cfg, '--project', fx.project], { cwd: fx.dir, stdio: 'ignore' })
    const exited = new Promise<number | null>((r) => child.on('exit', r))
    try {
      const row = page.locator(`[data-testid^="run-row-"]`).first()
      await expect.poll(async () => Number((await row.getAttribute('data-testid'))!.slice('run-row-'.length)), { timeout: 60_000 }).toBeGreaterThan(before)
      const id = Number((await row.getAttribute('data-testid'))!.slice('run-row-'.length))
      await page.getByTestId(`run-row-${id}`).locator('td.clickable').click()
      await expect.poll(() => text(`progress-text-${id}`), { timeout: 60_000 }).toMatch(/^in another process \(cancel it there\) · train \d+ \/ 6000/)
      expect(await page.getByTestId(`cancel-${id}`).count()).toBe(0)
      // the loss curve follows the child's writes: its last value changes while the run goes
      const first = await page.getByTestId('last-loss').innerText({ timeout: 30_000 })
      const firstStep = Number(/train (\d+)/.exec(await text(`progress-text-${id}`))![1])
      await expect.poll(async () => Number(/train (\d+)/.exec(await text(`progress-text-${id}`))?.[1] ?? 6000), { timeout: 60_000 }).toBeGreaterThan(firstStep)
      await shot('22-live-run-from-cli')
      expect(await exited).toBe(0)
      await expect.poll(() => page.getByTestId(`run-card-${id}`).locator('.status').innerText(), { timeout: 30_000 }).toBe('completed')
      // the last value on screen is the last loss the child stored
      const stored = withDb((s) => s.getMetrics(id, ['loss']).at(-1)!.value)
      await expect.poll(() => page.getByTestId('last-loss').innerText()).not.toBe(first)
      expect(Number(await page.getByTestId('last-loss').innerText())).toBeCloseTo(stored, 3)
    } finally {
      child.kill()
    }
  })

  it('cancel asks first; a cancelled run resumes, renames and is deleted after confirming', async () => {
    const c = defaultConfig('bandit')
    const config = {
      ...c,
      backend: 'cpu',
      dataset_options: { pulls: 300 },
      train: { ...c.train, steps: 200_000, batch_size: 16, log_every: 20, checkpoint_every: 50, snapshot_every: 100_000 }
    }
    const { runIds } = (await fx.server!.services.call('runs.start', { config, seeds: [0] })) as { runIds: number[] }
    const id = runIds[0]
    await page.getByTestId('nav-runs').click()
    await page.getByTestId(`run-row-${id}`).locator('td.clickable').click()
    await page.getByTestId(`cancel-${id}`).waitFor({ timeout: 60_000 })
    await expect.poll(() => withDb((s) => s.listCheckpoints(id).length), { timeout: 60_000 }).toBeGreaterThan(0)
    // dismissed: the run goes on
    page.once('dialog', (d) => void d.dismiss())
    await page.getByTestId(`cancel-${id}`).click()
    await expect.poll(() => withDb((s) => s.getRun(id)!.lastStep ?? 0)).toBeGreaterThan(withDb((s) => s.getRun(id)!.lastStep ?? 0))
    expect(withDb((s) => s.getRun(id)!.status)).toBe('running')
    let asked = ''
    page.once('dialog', (d) => ((asked = d.message()), void d.accept()))
    await page.getByTestId(`cancel-${id}`).click()
    await expect.poll(() => withDb((s) => s.getRun(id)!.status), { timeout: 30_000 }).toBe('cancelled')
    expect(asked).toMatch(/^Cancel run #\d+ .*It stops after the current step/s)

    // resume: running again from its checkpoint, then cancelled again
    await page.getByTestId(`resume-${id}`).click()
    await expect.poll(() => withDb((s) => s.getRun(id)!.status), { timeout: 30_000 }).toBe('running')
    page.once('dialog', (d) => void d.accept())
    await page.getByTestId(`cancel-${id}`).click({ timeout: 60_000 })
    await expect.poll(() => withDb((s) => s.getRun(id)!.status), { timeout: 30_000 }).toBe('cancelled')

    // rename
    await page.getByTestId(`rename-${id}`).click()
    await page.getByTestId(`rename-input-${id}`).fill('bandit baseline, cancelled')
    await page.getByTestId(`rename-save-${id}`).click()
    await expect.poll(() => withDb((s) => s.getRun(id)!.name)).toBe('bandit baseline, cancelled')
    await expect.poll(() => text(`run-name-${id}`)).toBe(`#${id} bandit baseline, cancelled`)
    await shot('23-runs-manage')

    // delete: dismissed keeps it; accepted removes it and all it saved
    page.once('dialog', (d) => void d.dismiss())
    await page.getByTestId(`delete-${id}`).click()
    await settled(page)
    expect(withDb((s) => s.getRun(id))).not.toBeNull()
    page.once('dialog', (d) => ((asked = d.message()), void d.accept()))
    await page.getByTestId(`delete-${id}`).click()
    await expect.poll(() => withDb((s) => s.getRun(id))).toBeNull()
    expect(asked).toMatch(/^Delete run #\d+ “bandit baseline, cancelled”\?/)
    expect(withDb((s) => s.listCheckpoints(id).length + s.getMetrics(id).length)).toBe(0)
    await expect.poll(() => page.getByTestId(`run-row-${id}`).count()).toBe(0)
  })

  it('a built-in control dataset shows its progress while it is made', async () => {
    const done: number[] = []
    const off = fx.server!.services.subscribe(
      (e, p) => void (e === 'import.progress' && done.push((p as { done: number; total: number }).done / (p as { done: number; total: number }).total))
    )
    // the made datasets are cached under ./.iwsft-cache of the working folder: a fresh one, so it is made now
    const cwd = process.cwd()
    process.chdir(fx.dir)
    try {
      await page.getByTestId('builtin-select').selectOption('pendulum-expert')
      await page.locator('label[title^="fewer episodes"] input').check()
      await page.getByTestId('builtin-add').click()
      // the status line shows a percentage as the episodes are played (not just "importing…")
      await expect.poll(() => text('import-status'), { timeout: 120_000 }).toMatch(/importing [1-9]\d?%|added "pendulum-expert"/)
      await shot('24-builtin-progress')
      await expect.poll(() => text('import-status'), { timeout: 120_000 }).toMatch(/added "pendulum-expert", 10 traces/)
      // progress between 0 and 100 % (counted by episode, which end 10 at a time here, there would
      // be none); the worker posts it at most every 100 ms, so how many depends on the machine's load
      expect(new Set(done.filter((f) => f > 0 && f < 1)).size).toBeGreaterThan(0)
      for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThanOrEqual(done[i - 1])
    } finally {
      process.chdir(cwd)
      off()
    }
  }, 240_000)
})
