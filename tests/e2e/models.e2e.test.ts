// End-to-end: the Models view in the browser build (`iwsft serve`'s server, in-process) driven in
// Debian's Chromium. Add the tiny fixture model by its folder (and a path that is not a model),
// read its details, try it (the shaded tokens are the services' own greedy answer), remove it;
// and, when SmolLM2 is in the model cache, fetch it with the button and ask it "What is 12 + 7?".
// Screenshots go to $IWSFT_SCREENSHOTS (default <tmp>/iwsft-e2e-screenshots).
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fmtInt } from '../../src/renderer/src/lib/format.ts'
import { smollm2Path } from '../../src/main/engine/llm/models.ts'
import { hasChromium, CHROMIUM, appSuite, screenshot, testIdText, withProjectFile, type Fixture, LLAMA } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'the Models view in the browser build' : `the Models view in the browser build (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium)`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  const models = () => withProjectFile(fx.project, (s) => s.listModels())
  const shot = (name: string): Promise<void> => screenshot(page, name, true)
  const text = (testId: string): Promise<string> => testIdText(page, testId)

  beforeAll(async () => {
    // the fixture folder lies outside the project's: granted as `iwsft serve --allow-dir` does
    fx = await app.start({ allowDirs: [LLAMA] })
  }, 180_000)
  beforeEach(async () => {
    // (4xx answers, the app's own validation errors for a bad path, are expected and shown)
    page = await app.open({ viewport: { width: 1360, height: 900 } })
    await page.getByTestId('nav-models').click()
    await page.getByTestId('models-table').waitFor()
  }, 60_000)

  it('adds a model folder and shows its details; a path that is not a model is an error beside the form', async () => {
    await page.getByTestId('model-path').fill(join(fx.dir, 'not-a-model.gguf'))
    await page.getByTestId('model-add').click()
    await expect.poll(() => page.getByTestId('models-error').count(), { timeout: 60_000 }).toBe(1)
    expect(await text('models-error')).toContain('not-a-model.gguf')
    expect(models()).toEqual([])

    await page.getByTestId('model-path').fill(LLAMA)
    await page.getByTestId('model-add').click()
    await page.getByTestId('model-row-llama').waitFor({ timeout: 60_000 })
    const m = models()
    expect(m.map((x) => x.name)).toEqual(['llama'])
    expect(await text('models-note')).toBe('added "llama"')
    expect(await text('detail-params')).toBe(fmtInt(m[0].parameters))
    expect(await text('detail-arch')).toBe('llama: 2 layers, d 64, 4 heads / 2 KV (head dim 16), feed-forward 128')
    await shot('models-01-view')
  })

  it('tries the model: the shaded tokens are the model’s greedy answer, with its log-probs', async () => {
    await page.getByTestId('model-row-llama').waitFor()
    await page.getByTestId('try-prompt').fill('What is 12 + 7?')
    await page.getByTestId('try-generate').click()
    await page.getByTestId('try-output').waitFor({ timeout: 60_000 })
    const want = await fx.server!.services.call('models.generate', { model: 'llama', prompt: 'What is 12 + 7?', chat: true, maxTokens: 32, temperature: 0, seed: 0 })
    const toks = page.getByTestId('token-logprobs').locator('.gen-tokens .tok')
    expect(await toks.count()).toBe(want.tokens.length)
    const shown = await toks.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-logprob'))))
    expect(shown).toEqual(want.modelLogprobs)
    await toks.first().hover()
    expect(await text('token-logprobs-hover')).toContain(`(id ${want.tokens[0]})`)
    await page.getByTestId('try-model').scrollIntoViewIfNeeded()
    await shot('models-02-try')
  })

  it('removes the model from the project', async () => {
    await page.getByTestId('model-row-llama').waitFor()
    await page.getByTestId('model-remove').click()
    await page.getByTestId('model-remove-confirm').click()
    await expect.poll(() => page.getByTestId('model-row-llama').count()).toBe(0)
    expect(models()).toEqual([])
  })

  it.skipIf(!smollm2Path().present)(
    `fetches SmolLM2 with the button and answers "What is 12 + 7?" as transformers does${smollm2Path().present ? '' : ' (skipped: SmolLM2 is not in the model cache; iwsft models fetch smollm2-135m-instruct)'}`,
    async () => {
      await page.getByTestId('fetch-smollm2').click()
      await page.getByTestId('model-row-smollm2-135m-instruct').waitFor({ timeout: 120_000 })
      await page.getByTestId('model-row-smollm2-135m-instruct').click()
      await page.getByTestId('try-prompt').fill('What is 12 + 7?')
      await page.getByTestId('try-generate').click()
      await page.getByTestId('try-output').waitFor({ timeout: 120_000 })
      const tokens = await page.getByTestId('token-logprobs').locator('.gen-tokens .tok').allInnerTexts()
      expect(tokens.join('')).toMatch(/^12 \+ 7 = 9/)
      await page.getByTestId('try-model').scrollIntoViewIfNeeded()
      await shot('models-03-smollm2-try')
    }
  )
})
