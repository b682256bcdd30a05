// Starting and managing runs in Chromium (issue 16, "Starting runs"): New run shows the BC
// reference's settings and what it will cost before launch ("10,000 steps", then "cached" once
// a run trained it); runs written by another process appear and go live without a reload; the
// Runs view renames, deletes (after confirming) and resumes runs, and cancel asks first.
// Screenshots go to $IWSFT_SCREENSHOTS (default: <tmp>/iwsft-e2e-screenshots).
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { openProject } from '../../src/main/store/index.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { hasChromium, CHROMIUM, SCREENSHOT_DIR, launchChromium, runToEnd, settled, startFixture, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'starting and managing runs' : `starting and managing runs (skipped: no Chromium at ${CHROMIUM})`

function controlData() {
  const rng = new Rng(5)
  return fromTraces('tiny-control', 'continuous', 3, 1, Array.from({ length: 24 }, (_, i) => ({
    obs: Array.from({ length: 9 }, () => rng.normal()),
    actions: Array.from({ length: 3 }, () => Math.tanh(rng.normal())),
    score: i
  })))
}

suite(title, () => {
  let browser: Browser
  let fx: Fixture
  let page: Page
  let errors: string[] = []
  let datasetId = 0
  const withDb = <T,>(f: (s: ProjectStore) => T, readonly = true): T => {
    const s = openProject(fx.project, { readonly })
    try {
      return f(s)
    } finally {
      s.close()
    }
  }
  const shot = async (name: string): Promise<void> => {
    await settled(page)
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false })
  }
  const text = async (testId: string): Promise<string> => (await page.getByTestId(testId).first().innerText()).trim()

  beforeAll(async () => {
    browser = await launchChromium()
    fx = await startFixture({ browser })
    datasetId = withDb((s) => s.putDataset(controlData(), 'test').id, false)
  }, 180_000)
  afterAll(async () => {
    await fx?.close()
    await browser?.close()
  })
  beforeEach(async () => {
    errors = []
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
    page.on('console', (m) => void (m.type() === 'error' && errors.push(`console: ${m.text()}`)))
    await page.goto(fx.url)
    await page.getByTestId('datasets-table').waitFor()
  }, 60_000)
  afterEach(async () => {
    await page?.close()
    expect(errors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([])
  })

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
    const config = { ...base, dataset: String(datasetId), method: 'iw-sft', reference: { kind: 'bc', steps: 20, lr: 1e-3, batch_size: 128 }, train: { ...base.train, steps: 10, log_every: 5, eval_every: 10, snapshot_every: 10 } }
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
})
