// End-to-end (issue 14, the app): fine-tune a project language model from New run in Debian's
// Chromium. The tiny fixture model is added and a small prompt/completion JSONL imported with its
// tokenizer through the services; the page picks "Policy: project model", sets LoRA, sees the
// memory estimate and a field error, launches a few steps and watches the run complete in Live
// runs with its tokens/s. Screenshots go to $IWSFT_SCREENSHOTS (default <tmp>/iwsft-e2e-screenshots).
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { fmtInt } from '../../src/renderer/src/lib/format.ts'
import type { ProjectStore } from '../../src/main/store/index.ts'
import { hasChromium, CHROMIUM, appSuite, screenshot, testIdText, withProjectFile, type Fixture, LLAMA, addLlamaAndQa } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'fine-tuning a project model from New run' : `fine-tuning a project model from New run (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium)`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  let datasetId = 0
  const withDb = <T>(f: (s: ProjectStore) => T): T => withProjectFile(fx.project, f)
  const shot = (name: string): Promise<void> => screenshot(page, name, true)
  const text = (testId: string): Promise<string> => testIdText(page, testId)

  beforeAll(async () => {
    fx = await app.start({ allowDirs: [LLAMA] })
    datasetId = await addLlamaAndQa(fx)
    page = await app.open({ viewport: { width: 1360, height: 900 } })
  }, 180_000)

  it('builds an LLM run: start model, LoRA, π_ref = the start model, the memory estimate and errors beside the fields', async () => {
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(datasetId))
    await page.getByTestId('nr-policy').selectOption('llm')
    await page.getByTestId('llm-policy').waitFor()
    expect(await page.getByTestId('llm-model').inputValue()).toBe('llama')
    expect(await page.getByTestId('llm-ref').isChecked()).toBe(true)

    // LoRA rank 4 on every linear but gate, worked out by hand from the fixture's shapes (2 layers,
    // d 64, 4 heads / 2 KV of dim 16, feed-forward 128): per layer q 4·(64+64) + k 4·(64+32) +
    // v 4·(64+32) + o 4·(64+64) + up 4·(64+128) + down 4·(128+64) = 3328; × 2 layers
    await page.getByTestId('llm-rank').fill('4')
    await page.getByTestId('llm-alpha').fill('8')
    await page.getByTestId('llm-target-gate').uncheck()
    await expect.poll(() => text('llm-memory')).toContain(`${fmtInt(6656)} trainable parameters`)
    expect(await text('llm-memory')).toMatch(/^memory estimate ≈ [\d.]+ GB/)

    // a bad rank: the schema's message beside the field, launch disabled
    await page.getByTestId('llm-rank').fill('0')
    await expect.poll(() => page.locator('#llm-rank-err').count()).toBe(1)
    expect(await page.getByTestId('launch').isDisabled()).toBe(true)
    // no target module at all is refused too
    await page.getByTestId('llm-rank').fill('4')
    for (const t of ['q', 'k', 'v', 'o', 'up', 'down']) await page.getByTestId(`llm-target-${t}`).uncheck()
    await expect.poll(() => page.locator('#llm-targets-err').count()).toBe(1)
    for (const t of ['q', 'v']) await page.getByTestId(`llm-target-${t}`).check()

    await page.getByTestId('f-train-steps').fill('4')
    await page.getByTestId('f-train-batch_size').fill('4')
    await page.getByTestId('f-train-log_every').fill('1')
    await page.getByTestId('llm-microBatch').fill('2')
    await page.getByTestId('nr-name').fill('llama lora')
    await expect.poll(() => page.getByTestId('launch').isDisabled()).toBe(false)
    await page.getByTestId('llm-config').locator('summary').click()
    await shot('llm-ui-01-new-run')
  })

  it('launches it and sees it complete in Live runs with tokens/s', async () => {
    const before = withDb((s) => Math.max(0, ...s.listRuns().map((r) => r.id)))
    await page.getByTestId('launch').click()
    await page.getByTestId('live-plots').waitFor({ timeout: 60_000 })
    const runs = withDb((s) => s.listRuns().filter((r) => r.id > before))
    expect(runs.length).toBe(1)
    const run = runs[0]
    expect(run.config.policy).toEqual({ kind: 'llm', model: 'llama', finetune: 'lora', lora: { rank: 4, alpha: 8, dropout: 0.05, targets: ['q', 'v'], rslora: false } })
    expect(run.config.reference).toEqual({ kind: 'model', model: 'llama' })
    expect(run.config.train.micro_batch).toBe(2)
    expect(run.config.train.steps).toBe(4)
    await expect.poll(() => text(`run-row-${run.id}`), { timeout: 240_000 }).toMatch(/completed/)
    // the chart's last value is the database's last tokens_per_s
    const last = withDb((s) => s.getMetrics(run.id, ['tokens_per_s']).at(-1)!.value)
    expect(last).toBeGreaterThan(0)
    await page.getByTestId(`run-row-${run.id}`).locator('td.clickable').click()
    await expect.poll(() => page.getByTestId('last-tokens_per_s').count(), { timeout: 30_000 }).toBe(1)
    expect(Number((await text('last-tokens_per_s')).replace(/,/g, ''))).toBeCloseTo(last, -1)
    await shot('llm-ui-02-live-run-done')
  })
})
