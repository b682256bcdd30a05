// Fine-tuning a language model through the existing trainer (issue 14, slice 2), on the tiny
// Llama fixture (tests/fixtures/llm/hf/llama):
//  - gradient accumulation: 2 micro-batches of 4 give the update of one batch of 8 (SFT, iw-SFT
//    with q = current, per-step iw-SFT): same first-step loss and gradient norm, same weights after;
//  - a run with `policy: { kind: "llm" }` in a project: SFT lowers the NLL of its training
//    completions, iw-SFT logs its weights, checkpoints hold the adapters only, and a cancelled
//    run resumes to the same end as an unbroken one.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import type { TraceDataset } from '../../src/main/common/trace.ts'
import type { LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { scoreSteps } from '../../src/main/engine/train/scoring.ts'
import { train } from '../../src/main/engine/train/trainer.ts'
import { executeRun, resumeRun } from '../../src/main/jobs/execute-run.ts'
import { loadLlmCheckpoint } from '../../src/main/jobs/llm-policy.ts'
import { createServices } from '../../src/main/services/index.ts'
import { openProject, type ProjectStore } from '../../src/main/store/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { LLAMA, loadTinyLlama, shiftedReference, tinyLlamaDataset } from '../helpers/tiny-llama.ts'

const dir = tempDir('iwsft-llm-train-')

let m: LoadedLlm
beforeAll(async () => {
  m = await loadTinyLlama()
})
afterAll(() => m?.dispose())

/** 8 traces of different lengths from the fixture's sequences: a prompt (mask 0), then a completion */
const dataset = (): TraceDataset => tinyLlamaDataset({ traces: 8, minLen: 2, shorten: 3 })

const baseConfig = (over: Record<string, unknown> = {}): RunConfig =>
  resolveConfig({
    domain: 'sequence',
    dataset: 'tiny',
    method: 'sft',
    backend: 'cpu',
    curation: { mode: 'all' },
    policy: { kind: 'llm', model: 'llama', lora: { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] } },
    optim: { lr: 1e-2, schedule: 'constant' },
    train: { steps: 1, batch_size: 8, loss_norm: 'token', log_every: 1, snapshot_every: 1000, eval_every: 1000 },
    ...over
  })

describe('gradient accumulation', () => {
  const ds = dataset() // the fixture's vocabulary: 384
  // π_ref: the base model's log-probs, shifted per trace so that the weights differ from 1
  let ref: Float32Array
  beforeAll(() => {
    ref = shiftedReference(m, ds)
  })

  async function oneStep(method: RunConfig['method'], micro: number | null): Promise<{ metrics: Record<string, number>; weights: Float32Array[] }> {
    const config = baseConfig({ method, train: { steps: 1, batch_size: 8, loss_norm: 'token', micro_batch: micro, log_every: 1, snapshot_every: 1000, eval_every: 1000 } })
    const policy = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 4, alpha: 8, dropout: 0, targets: ['q', 'v', 'down'] }, seed: 3 })
    // B ≠ 0 so that A's gradient is not zero either
    policy.variables.forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 10 + i)))
    let metrics: Record<string, number> = {}
    await train({ config, dataset: ds, policy, multiplicity: new Uint8Array(8).fill(1), refLogProbs: ref, rng: new Rng(7) }, { onLog: (_, mm) => (metrics = mm) })
    const weights = policy.variables.map((v) => v.dataSync() as Float32Array)
    policy.dispose()
    return { metrics, weights }
  }

  for (const method of ['sft', 'iw-sft', 'iw-sft-step'] as const) {
    it(`${method}: 2 micro-batches of 4 = one batch of 8 (loss, gradient norm, weights after the step)`, async () => {
      const one = await oneStep(method, null)
      const two = await oneStep(method, 4)
      expect(Math.abs(two.metrics.loss - one.metrics.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(one.metrics.loss)))
      expect(Math.abs(two.metrics.grad_norm - one.metrics.grad_norm) / one.metrics.grad_norm).toBeLessThan(1e-5)
      let worst = 0
      one.weights.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - two.weights[i][j])))))
      expect(worst).toBeLessThan(1e-5)
      if (method === 'iw-sft') {
        // weight statistics over all 8 rows either way, and the weights are not all 1
        expect(two.metrics.logw_raw_max).toBeCloseTo(one.metrics.logw_raw_max, 5)
        expect(one.metrics.logw_raw_max - one.metrics.logw_raw_min).toBeGreaterThan(0.1)
      }
      if (method === 'iw-sft-step') expect(two.metrics.step_w_mean).toBeCloseTo(one.metrics.step_w_mean, 5)
    })
  }

  it('a micro-batch with batch-normalised weights or sampled steps is refused with the setting to change', async () => {
    const policy = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 2, alpha: 4, dropout: 0, targets: ['q'] }, seed: 3 })
    const config = baseConfig({ method: 'iw-sft', weights: { normalize: true }, train: { steps: 1, batch_size: 8, loss_norm: 'token', micro_batch: 4 } })
    await expect(train({ config, dataset: ds, policy, multiplicity: new Uint8Array(8).fill(1), refLogProbs: ref, rng: new Rng(7) })).rejects.toThrow(
      /weights.normalize .* set train.micro_batch null or weights.normalize false/
    )
    policy.dispose()
  })
})

describe('a run whose policy is a project model', () => {
  let store: ProjectStore
  let datasetId = 0
  beforeAll(async () => {
    const file = join(dir, 'p.iwsft')
    const s = await createServices({ projectFile: file, transport: 'cli' })
    await s.call('models.add', { path: LLAMA, name: 'llama' })
    const rows = dataset()
    const lines = Array.from({ length: 8 }, (_, i) => {
      const ids = Array.from(rows.actions.slice(rows.offsets[i], rows.offsets[i + 1]))
      const mask = Array.from(rows.mask.slice(rows.offsets[i], rows.offsets[i + 1]))
      const cut = mask.indexOf(1)
      return JSON.stringify({ id: `s${i}`, prompt_tokens: ids.slice(0, cut), tokens: ids.slice(cut), score: i % 3 })
    })
    writeFileSync(join(dir, 'seqs.jsonl'), lines.join('\n') + '\n')
    datasetId = (await s.call('datasets.import', { path: join(dir, 'seqs.jsonl'), importId: 'seqs', tokenizerModel: 'llama' })).dataset.id
    await s.shutdown()
    store = openProject(file)
  })
  afterAll(() => store?.close())

  /** mean NLL of the dataset's completion tokens under a run's last checkpoint (or the base model) */
  async function completionNll(runId: number | null): Promise<number> {
    const ds = store.getDataset(datasetId)
    const ck = runId === null ? null : await loadLlmCheckpoint(store, runId)
    const lp = scoreSteps(ck?.policy ?? new LlmPolicy(m.model, { model: 'llama' }), ds)
    ck?.policy.dispose()
    ck?.llm.dispose()
    let sum = 0
    let n = 0
    for (let t = 0; t < lp.length; t++) {
      if (!ds.mask[t]) continue
      sum -= lp[t]
      n++
    }
    return sum / n
  }

  it('SFT with LoRA lowers the NLL of its training completions; the checkpoint holds the adapters only', async () => {
    const config = baseConfig({ dataset: String(datasetId), train: { steps: 12, batch_size: 4, micro_batch: 2, loss_norm: 'token', log_every: 4, snapshot_every: 1000, eval_every: 1000 } })
    const end = await executeRun(store, config)
    expect(end).toMatchObject({ status: 'completed' })
    const before = await completionNll(null)
    const after = await completionNll(end.runId)
    expect(after).toBeLessThan(before - 0.5)
    const ck = store.listCheckpoints(end.runId)
    const { tensors } = store.getCheckpoint(ck[ck.length - 1].id)
    const policyTensors = tensors.filter((t) => t.name.startsWith('policy/'))
    // A and B of 7 linears in each of 2 layers, rank 4
    expect(policyTensors.length).toBe(2 * 7 * 2)
    expect(policyTensors.every((t) => t.shape.includes(4) && t.shape.length === 2)).toBe(true)
  })

  it('iw-SFT (π_ref = the start model) logs its weights and snapshots; per-step iw-SFT its step weights', async () => {
    const config = baseConfig({ dataset: String(datasetId), method: 'iw-sft', train: { steps: 4, batch_size: 4, loss_norm: 'token', log_every: 1, snapshot_every: 2, eval_every: 1000 } })
    const end = await executeRun(store, config)
    expect(end).toMatchObject({ status: 'completed' })
    const keys = new Set(store.getMetrics(end.runId).map((p) => p.key))
    for (const k of ['loss', 'ess', 'logw_raw_max']) expect(keys.has(k)).toBe(true)
    expect(store.listSnapshotSteps(end.runId).length).toBeGreaterThan(0)
    const step = await executeRun(store, { ...config, method: 'iw-sft-step' })
    expect(step).toMatchObject({ status: 'completed' })
    expect(new Set(store.getMetrics(step.runId).map((p) => p.key)).has('step_w_mean')).toBe(true)
  })

  it('a cancelled run resumes from its checkpoint and ends as an unbroken run does', async () => {
    const config = baseConfig({
      dataset: String(datasetId),
      method: 'iw-sft',
      train: { steps: 4, batch_size: 4, loss_norm: 'token', log_every: 1, checkpoint_every: 2, snapshot_every: 1000, eval_every: 1000 }
    })
    const whole = await executeRun(store, config)
    const ac = new AbortController()
    const broken = await executeRun(store, config, { signal: ac.signal, onEvent: (e) => e.type === 'metrics' && e.step === 2 && ac.abort() })
    expect(broken.status).toBe('cancelled')
    const resumed = await resumeRun(store, broken.runId)
    expect(resumed.status).toBe('completed')
    expect(resumed.final.loss).toBeCloseTo(whole.final.loss, 5)
    expect(resumed.final.grad_norm).toBeCloseTo(whole.final.grad_norm, 5)
  })

  it('with LoRA dropout too: the checkpoint keeps where the dropout masks were', async () => {
    const lora = { rank: 4, alpha: 8, dropout: 0.3, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] }
    const config = baseConfig({
      dataset: String(datasetId),
      method: 'iw-sft',
      policy: { kind: 'llm', model: 'llama', lora },
      train: { steps: 4, batch_size: 4, loss_norm: 'token', log_every: 1, checkpoint_every: 2, snapshot_every: 1000, eval_every: 1000 }
    })
    const whole = await executeRun(store, config)
    const ac = new AbortController()
    const broken = await executeRun(store, config, { signal: ac.signal, onEvent: (e) => e.type === 'metrics' && e.step === 2 && ac.abort() })
    expect(broken.status).toBe('cancelled')
    const ck = store.getCheckpoint(store.listCheckpoints(broken.runId).find((c) => c.step === 2)!.id).spec as { train: { policyRandom?: Record<string, number> } }
    expect(ck.train.policyRandom!.lora_dropout_calls).toBeGreaterThan(0)
    const resumed = await resumeRun(store, broken.runId)
    expect(resumed.final.loss).toBeCloseTo(whole.final.loss, 5)
    expect(resumed.final.grad_norm).toBeCloseTo(whole.final.grad_norm, 5)
    // and the masks matter: the same run without dropout ends elsewhere
    const plain = await executeRun(store, baseConfig({ ...config, policy: { kind: 'llm', model: 'llama', lora: { ...lora, dropout: 0 } } }))
    expect(Math.abs(plain.final.loss - whole.final.loss)).toBeGreaterThan(1e-4)
  })

  it('a model that cannot read the dataset, or is not there, is refused before the run exists', async () => {
    const n = store.listRuns().length
    await expect(executeRun(store, baseConfig({ dataset: String(datasetId), policy: { kind: 'llm', model: 'nope' } }))).rejects.toThrow(/model "nope" is not in the project/)
    expect(store.listRuns().length).toBe(n)
  })
})
