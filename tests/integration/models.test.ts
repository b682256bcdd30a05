// Real language models through the services (models.*), on the tiny fixture models whose
// numbers transformers wrote (tests/fixtures/llm/README.md): adding a GGUF file or a Hugging Face
// folder records what they are; bad files are clear errors with nothing registered; generate and
// score give transformers' tokens and log-probs; reference scoring of a dataset matches
// transformers and is cached; two models' log-probs feed the Imported weights view; a run takes
// π_ref from a model; sampling stores a verified dataset whose log-probs are the model's.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError } from '../../src/shared/contract.ts'
import { createServices, type Services } from '../../src/main/services/index.ts'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { loadLlm, readGgufHeader, scoreSequences } from '../../src/main/engine/llm/index.ts'
import { openProject } from '../../src/main/store/index.ts'

const FIX = resolve(__dirname, '../fixtures/llm')
const GGUF = join(FIX, 'gguf')
const gguf = JSON.parse(readFileSync(join(GGUF, 'logprobs.json'), 'utf8'))
const hfLlama = JSON.parse(readFileSync(join(FIX, 'hf/llama/logprobs.json'), 'utf8'))
const tokenization = JSON.parse(readFileSync(join(GGUF, 'tokenization.json'), 'utf8'))
const F32 = join(GGUF, 'tiny-llama-F32.gguf')

const dir = mkdtempSync(join(tmpdir(), 'iwsft-models-'))
let s: Services
beforeAll(async () => {
  s = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
})
afterAll(async () => {
  await s?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

/** the error a call fails with */
async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (e) {
    return e as ApiError
  }
  throw new Error('expected the call to fail')
}

const logSoftmax = (xs: number[]): number[] => {
  const m = Math.max(...xs)
  const lse = m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0))
  return xs.map((x) => x - lse)
}

// sequence 0 of the fixtures: "<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n" then "19<|im_end|>"
const SEQ0: number[] = gguf.sequences[0]
const PROMPT0 = '<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n'
const COMPLETION0 = '19<|im_end|>'

describe('models: add, list, details', () => {
  it('adds a GGUF file: architecture, size, hash and memory from the file', async () => {
    const r = await s.call('models.add', { path: F32 })
    expect(r.created).toBe(true)
    const m = r.model
    // hf/llama: vocab 384, hidden 64, 2 layers, 4 query / 2 KV heads of 16, feed-forward 128, untied head.
    // parameters by hand: embedding 384·64 + 2 × (q 64·64 + k 64·32 + v 64·32 + o 64·64 + 3 × 64·128 + 2 norms 64) + final norm 64 + head 384·64
    const perLayer = 64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 3 * 64 * 128 + 2 * 64
    expect(m).toMatchObject({ name: 'tiny-llama-F32', format: 'gguf', architecture: 'llama', layers: 2, vocabSize: 384, parameters: 384 * 64 + 2 * perLayer + 64 + 384 * 64 })
    expect(m.hash).toBe(gguf.files['tiny-llama-F32.gguf'].sha256)
    expect(m.source).toBe(`file:${F32}`)
    expect(m.details).toMatchObject({ dModel: 64, nHeads: 4, nKvHeads: 2, headDim: 16, dFF: 128, tiedHead: false, tensorTypes: { F32: 21 } })
    expect(m.details.chatTemplate).toContain('<|im_start|>')
    // at least the float32 weights
    expect(m.memoryBytes).toBeGreaterThan(4 * m.parameters)
    expect((await s.call('models.list', {})).map((x) => x.name)).toEqual(['tiny-llama-F32'])
    expect((await s.call('models.get', { model: String(m.id) })).hash).toBe(m.hash)
  })

  it('the same file again is the same model; a Hugging Face folder with the same tokenizer reads ids the same way', async () => {
    const again = await s.call('models.add', { path: F32, name: 'another-name' })
    expect(again.created).toBe(false)
    expect(again.model.name).toBe('tiny-llama-F32')
    const hf = await s.call('models.add', { path: join(FIX, 'hf/llama') })
    expect(hf.created).toBe(true)
    expect(hf.model).toMatchObject({ name: 'llama', format: 'hf', source: `folder:${join(FIX, 'hf/llama')}` })
    expect(hf.model.tokenizerHash).toBe(again.model.tokenizerHash)
    const mistral = await s.call('models.add', { path: join(FIX, 'hf/mistral') })
    expect(mistral.model.architecture).toBe('mistral')
    expect(mistral.model.tokenizerHash).not.toBe(hf.model.tokenizerHash)
    const q4 = await s.call('models.add', { path: join(GGUF, 'tiny-llama-Q4_0.gguf'), name: 'q4' })
    expect(q4.model.details.tensorTypes).toMatchObject({ Q4_0: expect.any(Number) })
    expect(await failure(s.call('models.add', { path: join(GGUF, 'tiny-llama-Q8_0.gguf'), name: 'q4' }))).toMatchObject({
      code: 'exists',
      message: expect.stringContaining('already called "q4"')
    })
  })

  it('bad files are clear errors naming the file, and nothing is registered', async () => {
    const bad = join(dir, 'bad')
    mkdirSync(bad)
    const buf = readFileSync(F32)
    const h = await readGgufHeader(F32)
    // the type field of the first tensor's info: after its name, n_dims (u32) and the dims (u64 each)
    const t = h.tensors[0]
    const typeAt = buf.indexOf(Buffer.from(t.name)) + t.name.length + 4 + 8 * t.dims.length
    expect(buf.readUInt32LE(typeAt)).toBe(0)
    const iq2 = Buffer.from(buf)
    iq2.writeUInt32LE(16, typeAt)
    writeFileSync(join(bad, 'iq2.gguf'), iq2)
    // general.architecture "llama" → "llamb"
    const arch = Buffer.from(buf)
    const key = arch.indexOf(Buffer.from('general.architecture'))
    const val = arch.indexOf(Buffer.from('llama'), key + 20)
    arch.write('llamb', val)
    writeFileSync(join(bad, 'arch.gguf'), arch)
    writeFileSync(join(bad, 'truncated.gguf'), buf.subarray(0, 300_000))
    writeFileSync(join(bad, 'text.gguf'), 'not a model\n')
    const noTok = join(bad, 'no-tokenizer')
    cpSync(join(FIX, 'hf/llama'), noTok, { recursive: true })
    rmSync(join(noTok, 'tokenizer.json'))
    const falcon = join(bad, 'falcon')
    cpSync(join(FIX, 'hf/llama'), falcon, { recursive: true })
    const cfg = JSON.parse(readFileSync(join(falcon, 'config.json'), 'utf8'))
    writeFileSync(join(falcon, 'config.json'), JSON.stringify({ ...cfg, architectures: ['FalconForCausalLM'] }))
    const cases: Array<[string, RegExp]> = [
      ['iq2.gguf', /tensor type IQ2_XXS is not supported \(supported: F32, F16, BF16, Q8_0/],
      ['arch.gguf', /llamb/],
      ['truncated.gguf', /truncated at byte 300000/],
      ['text.gguf', /is not a GGUF file/],
      ['no-tokenizer', /tokenizer/],
      ['falcon', /FalconForCausalLM is not supported \(supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, GPT2LMHeadModel\)/]
    ]
    const before = (await s.call('models.list', {})).length
    for (const [name, why] of cases) {
      const e = await failure(s.call('models.add', { path: join(bad, name) }))
      expect(e.code, name).toBe('invalid_data')
      expect(e.message, name).toContain(join(bad, name))
      expect(e.message, name).toMatch(why)
    }
    expect(await failure(s.call('models.add', { path: join(bad, 'nope.gguf') }))).toMatchObject({ message: expect.stringMatching(/nope\.gguf.*does not exist/) })
    expect((await s.call('models.list', {})).length).toBe(before)
  })

  it('refuses a model the machine cannot hold, with the estimate, before loading it', async () => {
    process.env.IWSFT_MEMORY_LIMIT = String(1_000_000)
    try {
      const e = await failure(s.call('models.add', { path: join(GGUF, 'tiny-llama-BF16.gguf') }))
      expect(e.message).toMatch(/model "tiny-llama-BF16" needs about 0\.0\d GB of memory in float32 .*this machine has 0\.00 GB in all/)
      expect((await s.call('models.list', {})).some((m) => m.name === 'tiny-llama-BF16')).toBe(false)
    } finally {
      delete process.env.IWSFT_MEMORY_LIMIT
    }
  })
})

describe('models: generate and score against transformers', () => {
  it('greedy generation continues with the token of highest logit, and gives its log-prob', async () => {
    const g = await s.call('models.generate', { model: 'tiny-llama-F32', prompt: PROMPT0 + COMPLETION0, maxTokens: 1, temperature: 0 })
    expect(g.prompt_tokens).toEqual(SEQ0)
    const logits: number[] = gguf.files['tiny-llama-F32.gguf'].last_logits.values
    const want = logits.indexOf(Math.max(...logits))
    expect(g.tokens).toEqual([want])
    expect(g.logprobs).toEqual([0])
    expect(g.modelLogprobs[0]).toBeCloseTo(logSoftmax(logits)[want], 4)
    expect(g.tokenTexts).toHaveLength(1)
  })

  it("a chat prompt is rendered by the model's template exactly as transformers renders it", async () => {
    const c = tokenization.chat.find((x: { messages: Array<{ role: string }>; add_generation_prompt: boolean }) => x.messages.length === 1 && x.add_generation_prompt)
    const g = await s.call('models.generate', { model: 'llama', prompt: c.messages[0].content, chat: true, maxTokens: 3, temperature: 0.8, seed: 3 })
    expect(g.prompt_tokens).toEqual(c.ids)
    expect(g.tokens.length).toBeGreaterThan(0)
    // the same seed gives the same sample
    const again = await s.call('models.generate', { model: 'llama', prompt: c.messages[0].content, chat: true, maxTokens: 3, temperature: 0.8, seed: 3 })
    expect(again.tokens).toEqual(g.tokens)
  })

  it("scores a completion with transformers' per-token log-probs", async () => {
    for (const model of ['llama', 'tiny-llama-F32']) {
      const r = await s.call('models.score', { model, prompt: PROMPT0, completion: COMPLETION0 })
      expect([...r.prompt_tokens, ...r.tokens]).toEqual(SEQ0)
      const want: number[] = hfLlama.logprobs[0].slice(r.prompt_tokens.length - 1)
      expect(r.logprobs).toHaveLength(want.length)
      r.logprobs.forEach((lp, i) => expect(Math.abs(lp - want[i]), `${model} token ${i}`).toBeLessThan(1e-4))
    }
  })

  it('a model that is not there, and chat on a model without a template, are clear errors', async () => {
    expect(await failure(s.call('models.generate', { model: 'nope', prompt: 'x' }))).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('model "nope" is not in the project')
    })
    const gpt2 = await s.call('models.add', { path: join(FIX, 'hf/gpt2') })
    expect(gpt2.model.architecture).toBe('gpt2')
  })
})

describe('models: reference scoring, imported weights and a run with π_ref from a model', () => {
  let datasetId = 0
  beforeAll(async () => {
    // the fixtures' four sequences as token ids: prompt = all but the last few tokens
    const rows = gguf.sequences.map((ids: number[], i: number) => {
      const cut = i === 0 ? 21 : Math.max(1, ids.length - 4)
      return JSON.stringify({ id: `s${i}`, prompt_tokens: ids.slice(0, cut), tokens: ids.slice(cut), score: i % 2 })
    })
    const file = join(dir, 'seqs.jsonl')
    writeFileSync(file, rows.join('\n') + '\n')
    // token ids in the tiny models' vocabulary (384): the tokenizer model gives the vocabulary
    datasetId = (await s.call('datasets.import', { path: file, importId: 'seqs', tokenizerModel: 'llama' })).dataset.id
  })

  it("scores every completion token of a dataset with transformers' numbers, once (then from the cache)", async () => {
    const events: Array<{ phase: string; status: string }> = []
    const off = s.subscribe((e, p) => {
      if (e === 'model.progress' && (p as { jobId: string }).jobId === 'score-1') events.push(p as { phase: string; status: string })
    })
    const r = await s.call('models.scoreDataset', { model: 'llama', datasetId, jobId: 'score-1' })
    off()
    expect(r.cached).toBe(false)
    expect(r.refKey).toMatch(/^model:[0-9a-f]{64}:ids$/)
    expect(events.some((e) => e.phase === 'load')).toBe(true)
    expect(events.at(-1)).toMatchObject({ status: 'completed' })
    expect(events.some((e) => e.phase === 'score' && e.status === 'running')).toBe(true)
    const store = openProject(join(dir, 'p.iwsft'))
    try {
      const summary = store.listDatasets().find((d) => d.id === datasetId)!
      const ds = store.getDataset(datasetId)
      const lp = store.getRefLogProbs(r.refKey, summary.hash)!
      for (let i = 0; i < 4; i++) {
        const a = ds.offsets[i]
        const want: number[] = hfLlama.logprobs[i]
        for (let t = a; t < ds.offsets[i + 1]; t++) {
          if (!ds.mask[t]) expect(lp[t]).toBe(0)
          else expect(Math.abs(lp[t] - want[t - a - 1]), `trace ${i} step ${t - a}`).toBeLessThan(1e-4)
        }
      }
      expect(r.tokens).toBe(ds.mask.reduce((x, y) => x + y, 0))
    } finally {
      store.close()
    }
    const again = await s.call('models.scoreDataset', { model: 'llama', datasetId })
    expect(again.cached).toBe(true)
  })

  it('puts π_ref from one model and q from another into the Imported weights view', async () => {
    const r = await s.call('models.weighDataset', { datasetId, ref: 'llama', q: 'q4' })
    expect(r.ref.model).toBe('llama')
    const inspect = await s.call('byo.inspect', { datasetId, settings: { temp: 1, aggregate: 'mean', per_step: null, clamp: [0, 16], normalize: false, step_clip: [0.2, 1.8] } })
    expect(inspect.numTraces).toBe(4)
    const rho = await s.call('byo.traceRho', { datasetId, traceIndex: 1 })
    const want: number[] = gguf.files['tiny-llama-Q4_0.gguf'].logprobs[1]
    const ref: number[] = hfLlama.logprobs[1]
    const on = rho.tokens.map((t, i) => ({ t, i })).filter(({ t }) => !t.masked)
    expect(on.length).toBe(4)
    for (const { t, i } of on) {
      expect(Math.abs(t.logq! - want[i - 1])).toBeLessThan(1e-4)
      expect(Math.abs(t.logref! - ref[i - 1])).toBeLessThan(1e-4)
      expect(t.text).not.toBeNull()
    }
  })

  /** start one run and wait for its end event */
  async function runOne(config: Record<string, unknown>): Promise<{ runId: number; status: string; error?: string; phases: string[] }> {
    const phases: string[] = []
    let resolveEnd: (p: { runId: number; status: string; error?: string }) => void = () => {}
    const ended = new Promise<{ runId: number; status: string; error?: string }>((r) => (resolveEnd = r))
    const off = s.subscribe((e, p) => {
      if (e === 'run.progress') phases.push((p as { phase: string }).phase)
      if (e === 'run.end') resolveEnd(p as { runId: number; status: string })
    })
    try {
      await s.call('runs.start', { config, seeds: [0] })
      return { ...(await ended), phases }
    } finally {
      off()
    }
  }

  it("a run takes π_ref from a model: from the cache, or scored in the run's worker and cached", async () => {
    const config = {
      domain: 'sequence',
      dataset: String(datasetId),
      method: 'iw-sft',
      backend: 'cpu',
      curation: { mode: 'all' },
      reference: { kind: 'model', model: 'llama' },
      policy: { kind: 'transformer', d_model: 8, n_heads: 2, n_layers: 1, d_ff: 16, max_len: 32, tied: true, bos: 1 },
      train: { steps: 3, batch_size: 2, log_every: 1, snapshot_every: 3, eval_every: 3 }
    }
    const first = await runOne(config)
    expect(first).toMatchObject({ status: 'completed' })
    expect(first.phases).not.toContain('scoring')
    const metrics = await s.call('runs.metrics', { runIds: [first.runId], keys: ['ess'] })
    expect(metrics[0].series.ess.values.length).toBeGreaterThan(0)
    // the F32 GGUF (the same weights as hf/llama) has not scored this dataset yet: the run does
    const second = await runOne({ ...config, reference: { kind: 'model', model: 'tiny-llama-F32' } })
    expect(second).toMatchObject({ status: 'completed' })
    expect(second.phases).toContain('scoring')
    const store = openProject(join(dir, 'p.iwsft'))
    try {
      const m = store.findModel('tiny-llama-F32')!
      const summary = store.listDatasets().find((d) => d.id === datasetId)!
      const ds = store.getDataset(datasetId)
      const lp = store.getRefLogProbs(`model:${m.hash}:ids`, summary.hash)!
      for (let t = ds.offsets[1]; t < ds.offsets[2]; t++) if (ds.mask[t]) expect(Math.abs(lp[t] - hfLlama.logprobs[1][t - ds.offsets[1] - 1])).toBeLessThan(1e-4)
    } finally {
      store.close()
    }
    // a model that is not in the project is refused before the run exists
    const e = await failure(s.call('runs.start', { config: { ...config, reference: { kind: 'model', model: 'nope' } }, seeds: [0] }))
    expect(e.message).toContain('model "nope" is not in the project')
  })
})

describe('models: datasets tokenised as a model reads them', () => {
  it("imports text through the model's chat template and records the tokenizer; another tokenizer's model is refused", async () => {
    const file = join(dir, 'chat.jsonl')
    writeFileSync(file, JSON.stringify({ prompt: 'What is 12 + 7?', completion: '19', score: 1 }) + '\n' + JSON.stringify({ prompt: 'Hi!', completion: 'Hello.', score: 0 }) + '\n')
    const r = await s.call('datasets.import', { path: file, importId: 'chat', tokenizerModel: 'llama' })
    const t = await s.call('datasets.trace', { datasetId: r.dataset.id, index: 0 })
    const c = tokenization.chat.find((x: { messages: Array<{ role: string }>; add_generation_prompt: boolean }) => x.messages.length === 1 && x.add_generation_prompt)
    const promptIds = t.actions.filter((_, i) => t.mask[i] === 0).map((a) => a[0])
    expect(promptIds).toEqual(c.ids)
    // the answer then the end of the assistant's turn (<|im_end|> = 2, and the template's newline)
    const completion = t.actions.filter((_, i) => t.mask[i] === 1).map((a) => a[0])
    expect(completion.slice(-2)).toEqual([2, 201])
    // the GGUF twin shares the tokenizer: it may score the dataset; Mistral's tokenizer may not
    expect((await s.call('models.scoreDataset', { model: 'tiny-llama-F32', datasetId: r.dataset.id })).refKey).toMatch(/:chat$/)
    const e = await failure(s.call('models.scoreDataset', { model: 'mistral', datasetId: r.dataset.id }))
    expect(e).toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining(`was tokenised with model "llama"'s tokenizer, and model "mistral" reads token ids differently; import the text again with --tokenizer-model mistral`)
    })
    // token ids that no tokenizer is recorded for are not scored (they could be bytes, or another model's)
    const big = join(dir, 'big.traces.json')
    writeFileSync(big, JSON.stringify({ kind: 'sequence', obsDim: 0, actDim: 1000, traces: [{ id: 'x', actions: [1, 5, 400], mask: [0, 1, 1], score: 1 }] }))
    const bigId = (await s.call('datasets.import', { path: big, importId: 'big' })).dataset.id
    expect(await failure(s.call('models.scoreDataset', { model: 'llama', datasetId: bigId }))).toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('does not record which tokenizer made its tokens; import it with --tokenizer-model llama')
    })
    // token ids outside the model's vocabulary are refused at import, naming the file, line and field
    const ids = join(dir, 'ids.jsonl')
    writeFileSync(ids, JSON.stringify({ id: 'y', prompt_tokens: [1], tokens: [5, 7] }) + '\n' + JSON.stringify({ id: 'x', prompt_tokens: [1], tokens: [5, 400] }) + '\n')
    expect((await failure(s.call('datasets.import', { path: ids, importId: 'ids', tokenizerModel: 'llama' }))).message).toMatch(
      /ids\.jsonl", line 2, field "tokens": token id 400 is outside the vocabulary of 384/
    )
  })
})

describe('models: sampling a verified dataset', () => {
  it("stores K completions a prompt with the model's own log-probs and the verifier's scores, in one go", async () => {
    await initBackend('auto')
    const rows = [{ prompt: 'What is 12 + 7?' }, { prompt: 'Hi!', gold: 'Hello.' }]
    const r = await s.call('models.sample', { model: 'llama', rows, k: 3, temperature: 1, maxTokens: 6, seed: 1, verify: 'regex:^\\S' })
    expect(r).toMatchObject({ prompts: 2, samples: 6 })
    const d = r.dataset
    expect(d.numTraces).toBe(6)
    const cols = await s.call('datasets.columns', { datasetId: d.id })
    expect(cols.ids).toEqual(['0/0', '0/1', '0/2', '1/0', '1/1', '1/2'])
    // the verifier's score of each trace is what the pattern says of its stored completion
    let passed = 0
    for (let i = 0; i < 6; i++) {
      const meta = JSON.parse(cols.meta[i])
      const want = /^\S/u.test(meta.completion) ? 1 : 0
      expect(cols.scores[i]).toBe(want)
      passed += want
    }
    expect(r.passed).toBe(passed)
    // stored log-probs: a teacher-forced re-score of the same ids, computed here independently
    const store = openProject(join(dir, 'p.iwsft'))
    const ds = store.getDataset(d.id)
    const imported = store.getImportedLogProbs(d.id)!
    const model = store.findModel('llama')!
    const cached = store.getRefLogProbs(`model:${model.hash}:chat`, d.hash)!
    expect(store.getDatasetTokenization(d.id)).toMatchObject({ template: 'chat', modelName: 'llama' })
    store.close()
    const llm = await loadLlm(join(FIX, 'hf/llama'))
    try {
      const seqs = Array.from({ length: 6 }, (_, i) => Array.from(ds.actions.subarray(ds.offsets[i], ds.offsets[i + 1])))
      const lps = scoreSequences(llm.model, seqs)
      for (let i = 0; i < 6; i++) {
        for (let t = 0; t < seqs[i].length; t++) {
          const s0 = ds.offsets[i] + t
          const want = ds.mask[s0] ? lps[i][t] : 0
          expect(Math.abs(imported.ref[s0] - want), `trace ${i} step ${t}`).toBeLessThan(1e-4)
          // temperature 1, top-p 1: the sampling distribution is the model
          expect(imported.policy[s0]).toBe(imported.ref[s0])
          expect(cached[s0]).toBe(imported.ref[s0])
        }
      }
    } finally {
      llm.dispose()
    }
    // the same seed makes the same dataset
    const again = await s.call('models.sample', { model: 'llama', rows, k: 3, temperature: 1, maxTokens: 6, seed: 1, verify: 'regex:^\\S' })
    expect(again.dataset.id).toBe(d.id)
  })

  it('at another temperature the sampling log-probs differ from the model’s; a bad verifier or prompt file is refused first', async () => {
    const prompts = join(dir, 'prompts.txt')
    writeFileSync(prompts, 'What is 2 + 3?\n\nWhat is 4 * 5?\n')
    const r = await s.call('models.sample', { model: 'llama', file: prompts, k: 2, temperature: 0.5, maxTokens: 4, seed: 2, verify: 'arithmetic' })
    expect(r.samples).toBe(4)
    expect(r.logprobs).toMatch(/temperature 0\.5/)
    const store = openProject(join(dir, 'p.iwsft'))
    const lp = store.getImportedLogProbs(r.dataset.id)!
    store.close()
    let differ = 0
    for (let i = 0; i < lp.ref.length; i++) if (lp.ref[i] !== lp.policy[i]) differ++
    expect(differ).toBeGreaterThan(0)
    expect(await failure(s.call('models.sample', { model: 'llama', rows: [{ prompt: 'x' }], verify: 'judge' }))).toMatchObject({ code: 'invalid_input' })
    const noPrompt = join(dir, 'np.jsonl')
    writeFileSync(noPrompt, '{"question": "x"}\n')
    expect((await failure(s.call('models.sample', { model: 'llama', file: noPrompt }))).message).toMatch(/np\.jsonl", line 1: needs a non-empty "prompt" \(columns: question\)/)
    const before = (await s.call('datasets.list', {})).length
    expect((await failure(s.call('models.sample', { model: 'llama', rows: [{ prompt: 'Tell me a joke' }], k: 1, maxTokens: 2, verify: 'arithmetic' }))).message).toMatch(
      /no integer expression/
    )
    expect((await s.call('datasets.list', {})).length).toBe(before)
  })

  it('a cancelled sampling job stores nothing', async () => {
    const before = (await s.call('datasets.list', {})).length
    const rows = Array.from({ length: 40 }, (_, i) => ({ prompt: `prompt number ${i}` }))
    let cancelled = false
    const off = s.subscribe((e, p) => {
      const q = p as { jobId: string; phase: string; status: string }
      if (e === 'model.progress' && q.jobId === 'cancel-me' && q.phase === 'sample' && !cancelled) {
        cancelled = true
        void s.call('models.cancel', { jobId: 'cancel-me' })
      }
    })
    const e = await failure(s.call('models.sample', { model: 'llama', rows, k: 4, maxTokens: 16, jobId: 'cancel-me' }))
    off()
    expect(e.message).toMatch(/was cancelled; nothing was stored/)
    expect((await s.call('datasets.list', {})).length).toBe(before)
  })

  it('removes a model from the project (its files stay)', async () => {
    await s.call('models.remove', { model: 'gpt2' })
    expect((await s.call('models.list', {})).some((m) => m.name === 'gpt2')).toBe(false)
    expect(await failure(s.call('models.remove', { model: 'gpt2' }))).toMatchObject({ code: 'not_found' })
  })
})
