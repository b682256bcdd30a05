// Exporting a fine-tuned language model (issue 14, slice 3): a merged Hugging Face folder and a
// PEFT adapter. The engine's reload of each export gives the engine's own log-probs; the
// committed exports (tests/fixtures/llm/export, written by this test with
// IWSFT_WRITE_EXPORT_FIXTURE=1) were read by transformers and PEFT in
// python/parity/export_ref.py, and the engine's reload matches those numbers too. A run exports
// through the services (`iwsft export RUN --format hf|peft`), and the merged folder is added back
// as a model.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { loadPeftWeights, readPeftConfig } from '../../src/main/engine/llm/peft.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { SafetensorsFile } from '../../src/main/engine/llm/safetensors-file.ts'
import { writeLlmExport } from '../../src/main/export/hf-export.ts'
import { loadLlmCheckpoint } from '../../src/main/jobs/llm-policy.ts'
import { createServices, type Services } from '../../src/main/services/index.ts'
import { openProject } from '../../src/main/store/index.ts'
import { resolveConfig } from '../../src/shared/config.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { LLM_FIXTURES as FIX, llamaSequences, loadTinyLlama } from '../helpers/tiny-llama.ts'
import { tokenBatch } from '../helpers/token-batch.ts'

const EXPORT_FIX = join(FIX, 'export')
const seqs = llamaSequences()
const dir = tempDir('iwsft-llm-export-')

let m: LoadedLlm
beforeAll(async () => {
  m = await loadTinyLlama()
})
afterAll(() => m?.dispose())

/** log p(x_t | x_<t), t ≥ 1, of the fixture's sequences */
function rows(p: LlmPolicy): number[][] {
  const batch = tokenBatch(seqs)
  const lp = p.logProbs(batch)
  const d = lp.dataSync()
  tf.dispose([lp, batch.actions, batch.mask])
  return seqs.map((s, b) => Array.from(d.slice(b * batch.T + 1, b * batch.T + s.length)))
}

const maxDiff = (a: number[][], b: number[][]): number => Math.max(...a.map((r, i) => Math.max(...r.map((v, j) => Math.abs(v - b[i][j])))))

async function tensorsOf(file: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const st = await SafetensorsFile.open(file)
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  for (const [name, e] of st.entries) out.set(name, { shape: e.shape, data: (await st.read(name)).data })
  await st.close()
  return out
}

/** the adapter the exports are made of: PEFT's fixture adapter (non-zero A and B) on hf/llama */
async function adapted(): Promise<LlmPolicy> {
  const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...(await readPeftConfig(join(FIX, 'peft/llama-lora'))) } })
  await loadPeftWeights(m.spec, p.adapters!, join(FIX, 'peft/llama-lora'))
  return p
}

describe('hf and peft exports of a LoRA policy', () => {
  it("the merged folder and the adapter reload (engine) to the policy's own log-probs", async () => {
    const p = await adapted()
    const own = rows(p)
    const out = join(dir, 'direct')
    await writeLlmExport(p, m, 'hf', join(out, 'hf'), { metadata: {} })
    await writeLlmExport(p, m, 'peft', join(out, 'peft'), { metadata: {} })
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(existsSync(join(out, 'hf', f))).toBe(true)
    const merged = await loadLlm(join(out, 'hf'))
    try {
      expect(maxDiff(rows(new LlmPolicy(merged.model, { model: 'merged' })), own)).toBeLessThan(1e-4)
      // the chat template travels with the tokenizer files
      expect(merged.description.chatTemplate).toBe(m.description.chatTemplate)
    } finally {
      merged.dispose()
    }
    const again = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...(await readPeftConfig(join(out, 'peft'))) } })
    await loadPeftWeights(m.spec, again.adapters!, join(out, 'peft'))
    expect(maxDiff(rows(again), own)).toBeLessThan(1e-6)
    // PEFT's names, [r, in] / [out, r] layouts and values: the fixture adapter's own tensors
    const written = await tensorsOf(join(out, 'peft/adapter_model.safetensors'))
    const fixture = await tensorsOf(join(FIX, 'peft/llama-lora/adapter_model.safetensors'))
    expect([...written.keys()].sort()).toEqual([...fixture.keys()].sort())
    for (const [k, t] of fixture) {
      expect(written.get(k)!.shape).toEqual(t.shape)
      expect(Math.max(...t.data.map((v, i) => Math.abs(v - written.get(k)!.data[i])))).toBeLessThan(1e-7)
    }
    again.dispose()
    p.dispose()
  })

  it("transformers and PEFT read the committed exports to the engine's numbers (python/parity/export_ref.py)", async () => {
    const p = await adapted()
    if (process.env.IWSFT_WRITE_EXPORT_FIXTURE) {
      const meta = { generated_by: 'tests/integration/llm-export.test.ts' }
      await writeLlmExport(p, m, 'hf', join(EXPORT_FIX, 'hf'), { metadata: meta, overwrite: true })
      await writeLlmExport(p, m, 'peft', join(EXPORT_FIX, 'peft'), { metadata: meta, overwrite: true, baseModel: 'tests/fixtures/llm/hf/llama' })
    }
    // the committed export is what this code writes today
    const fresh = join(dir, 'fresh')
    await writeLlmExport(p, m, 'hf', fresh, { metadata: {} })
    const a = await tensorsOf(join(fresh, 'model.safetensors'))
    const b = await tensorsOf(join(EXPORT_FIX, 'hf/model.safetensors'))
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort())
    for (const [k, t] of a) expect(Math.max(...t.data.map((v, i) => Math.abs(v - b.get(k)!.data[i])))).toBeLessThan(1e-6)

    const ref = JSON.parse(readFileSync(join(EXPORT_FIX, 'logprobs.json'), 'utf8')) as { hf_logprobs: number[][]; peft_logprobs: number[][] }
    const merged = await loadLlm(join(EXPORT_FIX, 'hf'))
    try {
      expect(maxDiff(rows(new LlmPolicy(merged.model, { model: 'merged' })), ref.hf_logprobs)).toBeLessThan(1e-4)
    } finally {
      merged.dispose()
    }
    const q = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...(await readPeftConfig(join(EXPORT_FIX, 'peft'))) } })
    await loadPeftWeights(m.spec, q.adapters!, join(EXPORT_FIX, 'peft'))
    expect(maxDiff(rows(q), ref.peft_logprobs)).toBeLessThan(1e-4)
    // and transformers' numbers differ from the base model's (the comparison can fail)
    expect(maxDiff(ref.hf_logprobs, rows(new LlmPolicy(m.model, { model: 'llama' })))).toBeGreaterThan(1e-2)
    q.dispose()
    p.dispose()
  })
})

describe('a model read from GGUF exports as a Hugging Face folder', () => {
  it('with the same weights as the Hugging Face source, its tokenizer and chat template made from the GGUF metadata', async () => {
    // tiny-llama-F32.gguf is hf/llama written as llama.cpp's converter writes it (q/k rows permuted)
    const g = await loadLlm(join(FIX, 'gguf/tiny-llama-F32.gguf'))
    const p = new LlmPolicy(g.model, { model: 'gguf', training: { mode: 'lora', ...(await readPeftConfig(join(FIX, 'peft/llama-lora'))) } })
    await loadPeftWeights(g.spec, p.adapters!, join(FIX, 'peft/llama-lora'))
    const hfSide = await adapted()
    try {
      const out = join(dir, 'from-gguf')
      await writeLlmExport(p, g, 'hf', out, { metadata: {} })
      await writeLlmExport(hfSide, m, 'hf', join(dir, 'from-hf'), { metadata: {} })
      // the merged weights equal those exported from the Hugging Face folder (un-permuted, same names)
      const a = await tensorsOf(join(out, 'model.safetensors'))
      const b = await tensorsOf(join(dir, 'from-hf/model.safetensors'))
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort())
      for (const [k, t] of a) expect(Math.max(...t.data.map((v, i) => Math.abs(v - b.get(k)!.data[i]))), k).toBeLessThan(1e-6)
      const back = await loadLlm(out)
      try {
        // config.json says what the GGUF metadata said
        const { contextLength, ...spec } = back.spec
        const { contextLength: ggufContext, ...want } = g.spec
        expect(spec).toEqual(want)
        expect(contextLength).toBe(ggufContext)
        expect(maxDiff(rows(new LlmPolicy(back.model, { model: 'back' })), rows(p))).toBeLessThan(1e-4)
        expect(back.description.chatTemplate).toBe(g.description.chatTemplate)
        // the tokenizer.json encodes as the GGUF tokenizer does (transformers' ids for these strings)
        const cases = JSON.parse(readFileSync(join(FIX, 'gguf/tokenization.json'), 'utf8')).cases as Array<{ text: string; ids: number[] }>
        for (const c of cases) {
          expect(back.tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(g.tokenizer.encode(c.text))
          expect(back.tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids)
        }
        expect(back.tokenizer.bos).toBe(g.tokenizer.bos)
        expect(back.tokenizer.eos).toEqual(g.tokenizer.eos)
      } finally {
        back.dispose()
      }
    } finally {
      p.dispose()
      hfSide.dispose()
      g.dispose()
    }
  })
})

describe('iwsft export RUN --format hf|peft (services runs.export)', () => {
  let s: Services
  let datasetId = 0
  beforeAll(async () => {
    s = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
    // the model from a copy of the fixture folder (its path is recorded as PEFT's base)
    cpSync(join(FIX, 'hf/llama'), join(dir, 'llama'), { recursive: true })
    await s.call('models.add', { path: join(dir, 'llama'), name: 'llama' })
    const lines = seqs.map((ids, i) => JSON.stringify({ id: `s${i}`, prompt_tokens: ids.slice(0, Math.max(1, ids.length >> 1)), tokens: ids.slice(Math.max(1, ids.length >> 1)), score: 1 }))
    writeFileSync(join(dir, 'seqs.jsonl'), lines.join('\n') + '\n')
    datasetId = (await s.call('datasets.import', { path: join(dir, 'seqs.jsonl'), importId: 'seqs', tokenizerModel: 'llama' })).dataset.id
  })
  afterAll(async () => s?.shutdown())

  /** the run's last checkpoint, scored by the engine */
  async function checkpointRows(runId: number): Promise<number[][]> {
    const store = openProject(join(dir, 'p.iwsft'))
    try {
      const ck = await loadLlmCheckpoint(store, runId)
      try {
        return rows(ck.policy as LlmPolicy)
      } finally {
        ck.policy.dispose()
        ck.llm.dispose()
      }
    } finally {
      store.close()
    }
  }

  async function trainRun(finetune: 'lora' | 'full'): Promise<number> {
    const config = resolveConfig({
      domain: 'sequence',
      dataset: String(datasetId),
      method: 'sft',
      backend: 'cpu',
      curation: { mode: 'all' },
      policy: { kind: 'llm', model: 'llama', finetune, lora: { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'v', 'up'] } },
      optim: { lr: 1e-2 },
      train: { steps: 3, batch_size: 2, loss_norm: 'token', log_every: 1, snapshot_every: 100, eval_every: 100 }
    })
    const started = await s.call('runs.start', { config, seeds: [0] })
    const runId = started.runIds[0]
    for (let i = 0; i < 600; i++) {
      const r = (await s.call('runs.list', {})).find((x) => x.id === runId)!
      if (r.status !== 'running' && r.status !== 'queued') {
        expect(r.status).toBe('completed')
        return runId
      }
      await new Promise((res) => setTimeout(res, 200))
    }
    throw new Error('run did not finish')
  }

  it("a LoRA run exports both; the merged folder is added back as a model that scores as the run's checkpoint", async () => {
    const runId = await trainRun('lora')
    const hf = await s.call('runs.export', { runId, format: 'hf', outDir: join(dir, `run${runId}-hf`) })
    expect(hf.files.map((f) => f.split('/').pop()).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
    const peft = await s.call('runs.export', { runId, format: 'peft', outDir: join(dir, `run${runId}-peft`) })
    expect(peft.files.map((f) => f.split('/').pop()).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors'])
    const cfg = JSON.parse(readFileSync(join(dir, `run${runId}-peft/adapter_config.json`), 'utf8'))
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'up_proj', 'v_proj'], base_model_name_or_path: join(dir, 'llama') })
    // a second export to the same folder is refused unless overwrite
    await expect(s.call('runs.export', { runId, format: 'peft', outDir: join(dir, `run${runId}-peft`) })).rejects.toThrow(/already exists/)
    // the merged model back in the project: its log-probs are the adapter's
    const added = await s.call('models.add', { path: join(dir, `run${runId}-hf`), name: 'llama-sft' })
    expect(added.model.tokenizerHash).toBe((await s.call('models.list', {})).find((x) => x.name === 'llama')!.tokenizerHash)
    const merged = await loadLlm(join(dir, `run${runId}-hf`))
    const viaPeft = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...(await readPeftConfig(join(dir, `run${runId}-peft`))) } })
    await loadPeftWeights(m.spec, viaPeft.adapters!, join(dir, `run${runId}-peft`))
    try {
      const a = rows(new LlmPolicy(merged.model, { model: 'merged' }))
      const own = await checkpointRows(runId)
      expect(maxDiff(a, own)).toBeLessThan(1e-4)
      expect(maxDiff(rows(viaPeft), own)).toBeLessThan(1e-5)
      // training moved the model: the export is not the base
      expect(maxDiff(a, rows(new LlmPolicy(m.model, { model: 'llama' })))).toBeGreaterThan(1e-3)
    } finally {
      merged.dispose()
      viaPeft.dispose()
    }
  })

  it('a full fine-tune exports hf; peft is refused with what to do', async () => {
    const runId = await trainRun('full')
    await s.call('runs.export', { runId, format: 'hf', outDir: join(dir, `run${runId}-hf`) })
    const merged = await loadLlm(join(dir, `run${runId}-hf`))
    try {
      const a = rows(new LlmPolicy(merged.model, { model: 'm' }))
      expect(maxDiff(a, await checkpointRows(runId))).toBeLessThan(1e-4)
      expect(maxDiff(a, rows(new LlmPolicy(m.model, { model: 'llama' })))).toBeGreaterThan(1e-3)
    } finally {
      merged.dispose()
    }
    await expect(s.call('runs.export', { runId, format: 'peft', outDir: join(dir, `run${runId}-peft`) })).rejects.toThrow(
      /only a LoRA run exports a PEFT adapter; .* export it with --format hf/
    )
  })
})
