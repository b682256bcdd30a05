// End-to-end (issue 14, the app), in Debian's Chromium: New run refuses, before Start, a dataset
// that the chosen project model did not tokenise (the back end's own check, asked through
// config.validate), beside the model and the dataset, with what to do; and the Inspector shows a
// language-model run's trace as token text (the tokenizer's pieces, white space visible), shaded
// by ρ_t under the run's checkpoint. Screenshots go to $IWSFT_SCREENSHOTS.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { fmt } from '../../src/renderer/src/lib/format.ts'
import { addLlamaAndQa, appSuite, CHROMIUM, hasChromium, LLAMA, runToEnd, screenshot, testIdText, withProjectFile, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'New run checks the model against the dataset; the Inspector shows token text' : `New run model check (skipped: no Chromium at ${CHROMIUM})`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  let qa = 0 // tokenised by llama (addLlamaAndQa)
  let plain = 0 // the same rows through the byte tokenizer: no model recorded

  beforeAll(async () => {
    fx = await app.start({ allowDirs: [LLAMA] })
    qa = await addLlamaAndQa(fx)
    const file = join(fx.dir, 'plain.jsonl')
    writeFileSync(file, JSON.stringify({ prompt: 'What is 1 + 2?', completion: '3', score: 1 }) + '\n')
    plain = (await fx.server!.services.call('datasets.import', { path: file, importId: 'plain', name: 'qa bytes' })).dataset.id
    page = await app.open({ viewport: { width: 1360, height: 900 } })
  }, 180_000)

  it('refuses a dataset the start model did not tokenise, beside the model and the dataset, and disables Launch', async () => {
    expect(withProjectFile(fx.project, (s) => s.getDatasetTokenization(plain))).toBeNull()
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(plain))
    await page.getByTestId('nr-policy').selectOption('llm')
    await page.getByTestId('llm-policy').waitFor()
    await page.locator('#llm-model-err').waitFor({ timeout: 10_000 })
    const why = (await page.locator('#llm-model-err').innerText()).trim()
    expect(why).toContain(`dataset ${plain} ("qa bytes") does not record which tokenizer made its tokens`)
    expect(why).toContain('--tokenizer-model llama')
    expect(why).toContain('iwsft sample llama --prompts FILE')
    expect(await testIdText(page, 'nr-dataset-err')).toContain('not tokenised as the start model reads it')
    expect(await page.getByTestId('launch').isDisabled()).toBe(true)
    await page.getByTestId('nr-dataset').scrollIntoViewIfNeeded()
    await screenshot(page, 'newrun-llm-check-01-refused', true)

    // the dataset tokenised by llama: no issue, Launch enabled
    await page.getByTestId('nr-dataset').selectOption(String(qa))
    await page.getByTestId('nr-policy').selectOption('llm')
    await page.getByTestId('llm-policy').waitFor()
    await expect.poll(() => page.getByTestId('launch').isDisabled(), { timeout: 10_000 }).toBe(false)
    expect(await page.locator('#llm-model-err').count()).toBe(0)
    expect(await page.getByTestId('nr-dataset-err').count()).toBe(0)
    await screenshot(page, 'newrun-llm-check-02-accepted', true)

    // launched: Live runs shows its tokens/s as the run ends, the database's last value
    await page.getByTestId('f-train-steps').fill('2')
    await page.getByTestId('f-train-batch_size').fill('4')
    await page.getByTestId('f-train-log_every').fill('1')
    await expect.poll(() => page.getByTestId('launch').isDisabled()).toBe(false)
    await page.getByTestId('launch').click()
    await page.getByTestId('live-plots').waitFor({ timeout: 60_000 })
    const run = withProjectFile(fx.project, (s) => s.listRuns().at(-1)!)
    expect(run.config.policy).toMatchObject({ kind: 'llm', model: 'llama' })
    await expect.poll(() => page.getByTestId(`run-final-${run.id}`).count(), { timeout: 240_000 }).toBe(1)
    const tps = withProjectFile(fx.project, (s) => s.getMetrics(run.id, ['tokens_per_s']).at(-1)!.value)
    expect(tps).toBeGreaterThan(0)
    expect(await testIdText(page, `run-final-${run.id}`)).toContain(`tokens_per_s ${fmt(tps)}`)
    await screenshot(page, 'newrun-llm-check-02b-live-run-tokens-per-s')
    await page.getByTestId('nav-new-run').click()

    // back to the byte dataset; the link opens the Models view (import with its tokenizer, or sample)
    await page.getByTestId('nr-dataset').selectOption(String(plain))
    await page.getByTestId('nr-policy').selectOption('llm')
    await page.getByTestId('nr-open-models').click()
    await expect.poll(() => page.getByTestId('nav-models').getAttribute('aria-current')).toBe('page')
  })

  it("shows a language-model run's trace as token text, shaded by ρ_t, in the Inspector", async () => {
    const lora = { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'v'] }
    const [runId] = await runToEnd(
      fx,
      {
        dataset: String(qa),
        method: 'iw-sft',
        name: 'llama inspect',
        policy: { kind: 'llm', model: 'llama', finetune: 'lora', lora },
        reference: { kind: 'model', model: 'llama' },
        train: { steps: 2, batch_size: 4, log_every: 1, snapshot_every: 1 }
      },
      [0]
    )
    await page.reload()
    await page.getByTestId('nav-inspector').click()
    await page.getByTestId('ins-run').selectOption(String(runId))
    await page.getByTestId('ins-top').locator('tbody tr').first().click({ timeout: 30_000 })
    await expect.poll(() => testIdText(page, 'ins-rho-status'), { timeout: 120_000 }).toMatch(/^ρ_t = log π_θ − log π_ref/)
    expect(await testIdText(page, 'trace-tokenizer')).toContain('text by model "llama"')
    // ρ_t under the run's last checkpoint gives the opened (most weighted) trace's log w raw of the last snapshot
    const logWRaw = Number(/= (\S+)$/.exec(await testIdText(page, 'ins-rho-status'))![1])
    const topRow = Number((await page.getByTestId('ins-top').locator('tbody tr').first().locator('td').nth(2).innerText()).trim())
    expect(Math.abs(logWRaw - topRow)).toBeLessThan(0.01 * Math.abs(topRow))

    const spans = page.getByTestId('trace-tokens').locator('span')
    const tokens = await spans.evaluateAll((els) =>
      els.map((e) => ({
        text: e.textContent ?? '',
        id: e.getAttribute('data-id'),
        on: e.classList.contains('on'),
        bg: /background/.test(e.getAttribute('style') ?? '') ? (e.getAttribute('style') ?? '') : ''
      }))
    )
    // the pieces read back as the rows addLlamaAndQa wrote: "What is i + (i+1)?" answered by 2i+1
    const read = (ts: typeof tokens): string => ts.map((t) => t.text.replace(/␣/g, ' ').replace(/⏎/g, '\n')).join('')
    const prompt = /What is (\d+) \+ (\d+)\?/.exec(read(tokens.filter((t) => !t.on)))
    expect(prompt).not.toBeNull()
    expect(Number(prompt![2])).toBe(Number(prompt![1]) + 1)
    expect(read(tokens.filter((t) => t.on)).startsWith(String(2 * Number(prompt![1]) + 1))).toBe(true)
    // a space is shown as ␣ inside its token, never as a bare id
    expect(tokens.some((t) => t.text.includes('␣'))).toBe(true)
    // every counted token is shaded by its ρ_t; prompt tokens are not
    expect(tokens.filter((t) => t.on).every((t) => t.bg !== '')).toBe(true)
    expect(tokens.filter((t) => !t.on).every((t) => t.bg === '')).toBe(true)
    await page.getByTestId('trace-viewer').scrollIntoViewIfNeeded()
    await screenshot(page, 'newrun-llm-check-03-inspector-token-text')

    // "token ids" shows the ids instead
    await page.getByTestId('trace-token-ids').check()
    const ids = await spans.evaluateAll((els) => els.map((e) => [e.textContent, e.getAttribute('data-id')]))
    expect(ids.every(([shown, id]) => shown === id)).toBe(true)
    const stored = withProjectFile(fx.project, (s) => s.getDataset(qa))
    expect(ids.length).toBeGreaterThan(0)
    expect(ids.every(([, id]) => Number(id) >= 0 && Number(id) < stored.actDim)).toBe(true)
  })
})
