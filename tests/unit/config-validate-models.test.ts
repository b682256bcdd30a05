// config.validate makes the checks a run's start makes of its language models (issue 14, the app):
// a dataset not tokenised as the chosen model reads it is refused before Start, as a field issue
// of the model (policy.model, or reference.model for π_ref = another model), with what to do; and
// runs.start refuses the same config with the same words (one check, made in one place).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServices, type Services } from '../../src/main/services/index.ts'

const HF = resolve(__dirname, '../fixtures/llm/hf')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-validate-models-'))
let s: Services
let qa = 0 // tokenised by llama
let plain = 0 // the byte tokenizer: no model recorded
const lora = { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'v'] }
const llmConfig = (dataset: number, model: string): Record<string, unknown> => ({
  dataset: String(dataset),
  method: 'iw-sft',
  policy: { kind: 'llm', model, finetune: 'lora', lora },
  reference: { kind: 'model', model },
  train: { steps: 2, batch_size: 2 }
})

beforeAll(async () => {
  s = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
  await s.call('models.add', { path: join(HF, 'llama'), name: 'llama' })
  await s.call('models.add', { path: join(HF, 'mistral'), name: 'mistral' })
  const file = join(dir, 'qa.jsonl')
  writeFileSync(file, ['1 + 2', '3 + 4'].map((p, i) => JSON.stringify({ prompt: `What is ${p}?`, completion: String(3 + 4 * i), score: 1 })).join('\n') + '\n')
  qa = (await s.call('datasets.import', { path: file, importId: 'qa', tokenizerModel: 'llama' })).dataset.id
  plain = (await s.call('datasets.import', { path: file, importId: 'plain', name: 'qa bytes' })).dataset.id
})
afterAll(async () => {
  await s?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

describe('config.validate: the dataset must be tokenised as the run’s model reads it', () => {
  it('accepts a dataset tokenised by the start model', async () => {
    const v = await s.call('config.validate', { config: llmConfig(qa, 'llama') })
    expect(v.ok).toBe(true)
  })

  it('refuses a dataset that records no tokenizer, beside policy.model, saying how to make one', async () => {
    const v = await s.call('config.validate', { config: llmConfig(plain, 'llama') })
    if (v.ok) throw new Error('expected a refusal')
    // π_ref is the start model: one issue, not the same words twice
    expect(v.issues.map((i) => i.path)).toEqual(['policy.model'])
    const m = v.issues[0].message
    expect(m).toContain(`dataset ${plain} ("qa bytes") does not record which tokenizer made its tokens`)
    expect(m).toContain('--tokenizer-model llama')
    expect(m).toContain('`iwsft sample llama --prompts FILE`')
    expect(v.message).toContain(`policy.model: ${m}`)
  })

  it("refuses a model whose tokenizer reads the dataset's ids differently", async () => {
    const v = await s.call('config.validate', { config: llmConfig(qa, 'mistral') })
    if (v.ok) throw new Error('expected a refusal')
    expect(v.issues).toEqual([
      {
        path: 'policy.model',
        message: expect.stringContaining(
          `was tokenised with model "llama"'s tokenizer, and model "mistral" reads token ids differently; import the text again with --tokenizer-model mistral`
        )
      }
    ])
  })

  it('checks π_ref = another model as its own field, and a model not in the project', async () => {
    const other = await s.call('config.validate', { config: { ...llmConfig(qa, 'llama'), reference: { kind: 'model', model: 'mistral' } } })
    if (other.ok) throw new Error('expected a refusal')
    expect(other.issues.map((i) => i.path)).toEqual(['reference.model'])
    expect(other.issues[0].message).toContain('model "mistral" reads token ids differently')
    const missing = await s.call('config.validate', { config: llmConfig(qa, 'nope') })
    if (missing.ok) throw new Error('expected a refusal')
    expect(missing.issues.map((i) => i.path)).toEqual(['policy.model'])
    expect(missing.issues[0].message).toMatch(/^model "nope" is not in the project .*models: .*\d+: llama/)
  })

  it('leaves π_ref alone where the method does not use it (behaviour cloning trains on all data)', async () => {
    const v = await s.call('config.validate', { config: { ...llmConfig(qa, 'llama'), method: 'bc', reference: { kind: 'model', model: 'mistral' } } })
    expect(v).toMatchObject({ ok: true })
  })

  it('runs.start refuses the same config with the same reason, and no run is written', async () => {
    const v = await s.call('config.validate', { config: llmConfig(plain, 'llama') })
    if (v.ok) throw new Error('expected a refusal')
    const before = (await s.call('runs.list', {})).length
    const err = await s.call('runs.start', { config: llmConfig(plain, 'llama'), seeds: [0] }).then(
      () => null,
      (e: Error) => e
    )
    expect(err?.message).toContain(v.issues[0].message)
    expect((await s.call('runs.list', {})).length).toBe(before)
  })
})
