// End-to-end in Chromium (issue 16, "Bringing your own LLM data" and "Compare and inspect"):
// token strings with their log-probs shown in the token shading; the import mapping step in the
// Datasets view; Minari names; Compare keeping its picks; the inspector and the empty states.
// Screenshots go under $IWSFT_SCREENSHOTS (default <tmp>/iwsft-e2e-screenshots), 16-*.png.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { hasChromium, CHROMIUM, SCREENSHOT_DIR, launchChromium, settled, startFixture, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'bringing LLM data, comparing and inspecting' : `bringing LLM data, comparing and inspecting (skipped: no Chromium at ${CHROMIUM})`

suite(title, () => {
  let browser: Browser
  let fx: Fixture
  let page: Page
  let errors: string[] = []
  const shot = async (name: string): Promise<void> => {
    await settled(page)
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false })
  }
  const text = async (testId: string): Promise<string> => (await page.getByTestId(testId).first().innerText()).trim()

  beforeAll(async () => {
    browser = await launchChromium()
    fx = await startFixture({ browser })
  }, 240_000)
  afterAll(async () => {
    await fx?.close()
    await browser?.close()
  })
  beforeEach(async () => {
    errors = []
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`)
    })
    await page.goto(fx.url)
    await page.getByTestId('datasets-table').waitFor()
  }, 60_000)
  afterEach(async () => {
    await page?.close()
    expect(errors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([])
  })

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
    expect(toks).toEqual(['What␠is␠3+4?', '7', '␠is', '␠the', '␠answer'])
    expect(await text('byo-rho-sum')).toContain('token strings from the file')
    await page.getByTestId('byo-tokens').locator('[role=listitem]').nth(1).hover()
    expect(await text('byo-tokens-hover')).toContain('"7" (id 0) · ρ = 1.5')
    await shot('16-token-strings')
  })

  const dsCount = async (): Promise<number> => ((await fx.server!.services.call('datasets.list', {})) as unknown[]).length

  it('imports an s1K-1.1-like file at once (layout recognised); an unknown layout goes through the mapping step, whose roles are remembered per file shape', async () => {
    const s1k = join(fx.dir, 's1k-1.1-like.jsonl')
    const cols = ['solution', 'question', 'cot_type', 'deepseek_thinking_trajectory', 'deepseek_attempt', 'deepseek_grade']
    writeFileSync(s1k, [['2+2?', 'two and two', '4', 'Yes'], ['3+3?', 'hmm', '7', 'No']].map(([q, th, at, g]) => JSON.stringify(Object.fromEntries(cols.map((c) => [c, c === 'question' ? q : c === 'deepseek_thinking_trajectory' ? th : c === 'deepseek_attempt' ? at : c === 'deepseek_grade' ? g : 'x'])))).join('\n') + '\n')
    const before = await dsCount()
    await page.getByTestId('file-input').setInputFiles(s1k)
    await expect.poll(() => text('import-status'), { timeout: 20_000 }).toContain('imported 2 traces')
    expect(await dsCount()).toBe(before + 1)

    // columns no layout has: the mapping step lists them with the first rows
    const odd = join(fx.dir, 'odd.jsonl')
    const rows = [{ ask: 'hi', said: 'hello there', ok: 'yes', note: 'a' }, { ask: 'bye', said: 'see you', ok: 'no', note: 'b' }, { ask: 'q', said: 'r', ok: 'yes', note: 'c' }]
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
})
