// Issue 18 acceptance: the loss of the first 5 steps of a seeded single-process Python (TRL) run
// equals an engine run on the same model and data within 1e-4. Full fine-tuning of the tiny
// random Llama (tests/fixtures/llm/hf/llama), the engine through runExperiment, the Python
// trainer on a job folder written from the same dataset, config and batch schedule, with the
// same π_ref log-probs (ref_logprobs.jsonl). π_ref is the start model's log-probs shifted per
// trace, so the weights differ from 1 from the first step on.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { curate } from '../../src/shared/curation.ts'
import type { TraceDataset } from '../../src/main/common/trace.ts'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { runExperiment } from '../../src/main/engine/experiment.ts'
import { scoreSteps } from '../../src/main/engine/train/scoring.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import type { LoraTarget } from '../../src/main/engine/llm/lora.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { writeLlmExport } from '../../src/main/export/hf-export.ts'
import { lossesOf, readStream, writeJobFolder } from '../helpers/job-folder-fixture.ts'
import { LLAMA, shiftedReference, tinyLlamaDataset } from '../helpers/tiny-llama.ts'
import { launch, pythonTrainer } from '../helpers/python-trainer.ts'

const py = pythonTrainer()
const LLAMA_GGUF_DIR = resolve(__dirname, '../fixtures/llm/gguf')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-trl-parity-'))

const parityConfig = (over: Record<string, unknown> = {}): RunConfig =>
  resolveConfig({
    domain: 'sequence',
    dataset: 'tiny',
    method: 'iw-sft',
    backend: 'cpu',
    seed: 3,
    curation: { mode: 'threshold', threshold: 0.5 },
    policy: { kind: 'llm', model: 'llama', finetune: 'full' },
    optim: { kind: 'adamw', lr: 2e-3, betas: [0.9, 0.95], eps: 1e-8, weight_decay: 1e-4, warmup_steps: 2, schedule: 'cosine', clip_grad_norm: 1.0 },
    train: { steps: 5, batch_size: 4, loss_norm: 'token', log_every: 1, snapshot_every: 1000, eval_every: 1000 },
    ...over
  })

const LORA = { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as LoraTarget[], rslora: false }

/** θ's start: every weight of the fixture model (full), or LoRA adapters with B drawn ≠ 0 (so
 *  that A's gradient is not zero either), exported as a PEFT folder for the job's init_adapter/ */
async function startPolicy(m: LoadedLlm, config: RunConfig, adapterDir: string): Promise<LlmPolicy> {
  if (config.policy.kind !== 'llm' || config.policy.finetune === 'full') return new LlmPolicy(m.model, { model: 'llama', training: { mode: 'full' }, seed: config.seed })
  const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...LORA }, seed: config.seed })
  p.variables.forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 20 + i)))
  await writeLlmExport(p, m, 'peft', adapterDir, { metadata: {} })
  return p
}

/** The engine's metrics per step for the config, from `init`, and its trained model's log-probs of the data. */
async function engineRun(init: LlmPolicy, config: RunConfig, ds: TraceDataset, ref: Float32Array): Promise<{ metrics: Map<number, Record<string, number>>; logp: Float32Array }> {
  const metrics = new Map<number, Record<string, number>>()
  const res = await runExperiment(config, ds, { onLog: (step, mm) => step > 0 && metrics.set(step, mm) }, { init, reference: { refKey: 'parity', refLogProbs: ref } })
  expect(res.status).toBe('completed')
  const logp = scoreSteps(res.policy, ds)
  res.policy.dispose()
  return { metrics, logp }
}

/** the largest |Δ| between the log-probs of the final-model/ folder and the engine's trained policy */
async function finalModelDiff(folder: string, ds: TraceDataset, engineLogp: Float32Array): Promise<number> {
  const fm = await loadLlm(folder)
  try {
    const lp = scoreSteps(new LlmPolicy(fm.model, { model: folder }), ds)
    return lp.reduce((worst, v, t) => Math.max(worst, Math.abs(v - engineLogp[t])), 0)
  } finally {
    fm.dispose()
  }
}

let m: LoadedLlm
let ds: TraceDataset
let ref: Float32Array
beforeAll(async () => {
  if (!py.python) return
  await initBackend('cpu')
  m = await loadLlm(LLAMA)
  ds = tinyLlamaDataset()
  ref = shiftedReference(m, ds)
})
afterAll(() => {
  m?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

const variants: Array<[string, Record<string, unknown>]> = [
  ['iw-sft, q current, token loss, AdamW with warm-up, cosine and clipping', {}],
  [
    'iw-sft, q EMA, trace loss, batch-normalised w with clip_ratio, sum aggregate, Adam with L2 decay',
    {
      weights: { q: { kind: 'ema', beta: 0.5 }, normalize: true, aggregate: 'sum', temp: 0.5, per_step: { clip_ratio: [0.5, 1.5] }, clamp: [0.05, 16] },
      optim: { kind: 'adam', lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 1e-3, warmup_steps: 0, schedule: 'constant', clip_grad_norm: null },
      train: { steps: 5, batch_size: 4, loss_norm: 'trace', log_every: 1, snapshot_every: 1000, eval_every: 1000 }
    }
  ],
  [
    'per-step iw-SFT(Q), q periodic every 2 behind a log-q cache rescored every 3 steps, quality bins',
    { method: 'iw-sft-q-step', curation: { mode: 'quality_bins', cutoffs: [30, 60] }, weights: { q: { kind: 'periodic', every: 2 }, q_refresh: 3 } }
  ],
  [
    "LoRA from the engine's initial adapters (init_adapter/) on the model's float32 GGUF, iw-sft, q EMA",
    {
      policy: { kind: 'llm', model: 'llama', finetune: 'lora', lora: LORA },
      weights: { q: { kind: 'ema', beta: 0.8 } },
      optim: { kind: 'adamw', lr: 1e-2, betas: [0.9, 0.95], eps: 1e-8, weight_decay: 1e-4, warmup_steps: 0, schedule: 'cosine', clip_grad_norm: 1.0 }
    }
  ]
]

describe.skipIf(!py.python)('a Python (TRL) run and an engine run of one config: equal loss, step by step', () => {
  for (const [k, [name, over]] of variants.entries()) {
    it(name, async () => {
      const config = parityConfig(over)
      const multiplicity = curate(ds.scores, config.curation).multiplicity
      const job = join(dir, `job-${k}`)
      const adapterDir = join(dir, `adapter-${k}`)
      const init = await startPolicy(m, config, adapterDir)
      let engine: Map<number, Record<string, number>>
      let engineLogp: Float32Array
      try {
        // the LoRA job starts from the fixture's float32 GGUF of the same model (transformers reads it)
        const model = init.adapters ? { modelPath: LLAMA_GGUF_DIR, ggufFile: 'tiny-llama-F32.gguf' } : { modelPath: LLAMA }
        await writeJobFolder({ dir: job, config, dataset: ds, multiplicity, ...model, refLogProbs: ref, initAdapter: init.adapters ? adapterDir : undefined })
        ;({ metrics: engine, logp: engineLogp } = await engineRun(init, config, ds, ref))
      } finally {
        init.dispose()
      }
      const r = await launch(py.python!, [join(job, 'trainer/train.py'), job])
      expect(r.code, r.stderr.slice(-3000)).toBe(0)
      if (init.adapters) expect(r.stdout).toMatch(/start model: .*tiny-llama-F32\.gguf[\s\S]*LoRA adapters: init_adapter/)
      const rows = readStream(readFileSync(join(job, 'stream.jsonl'), 'utf8'))
      expect(rows.at(-1)).toMatchObject({ type: 'end', status: 'completed' })
      const pyMetrics = lossesOf(rows)
      let worst = 0
      let worstGrad = 0
      for (let step = 1; step <= 5; step++) {
        const [a, b] = [pyMetrics.get(step)!, engine.get(step)!]
        worst = Math.max(worst, Math.abs(a.loss - b.loss))
        worstGrad = Math.max(worstGrad, Math.abs(a.grad_norm - b.grad_norm) / b.grad_norm)
        expect(Math.abs(a.loss - b.loss), `step ${step} loss: python ${a.loss}, engine ${b.loss}`).toBeLessThanOrEqual(1e-4)
        expect(a.lr).toBeCloseTo(b.lr, 9)
        for (const key of ['ess', 'logw_raw_max', 'logw_raw_min', 'step_w_mean', 'step_clip_fraction']) {
          if (key in b) expect(Math.abs(a[key] - b[key]), `step ${step} ${key}: python ${a[key]}, engine ${b[key]}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b[key])))
        }
      }
      expect(worstGrad).toBeLessThan(1e-3)
      // the run learns: the loss moves, so equal losses are not equal by standing still
      expect(Math.abs(engine.get(5)!.loss - engine.get(1)!.loss)).toBeGreaterThan(1e-3)
      // the checkpoint is the adapter (LoRA) or the model (full); final-model/ (LoRA merged) is the
      // engine's trained model: the same log-probs of every token of the data
      expect(rows.find((x) => x.type === 'checkpoint')).toMatchObject({ step: 5, path: 'checkpoints/step-5', format: init.adapters ? 'peft' : 'hf' })
      expect(existsSync(join(job, 'checkpoints/step-5', init.adapters ? 'adapter_model.safetensors' : 'model.safetensors'))).toBe(true)
      const finalDiff = await finalModelDiff(join(job, 'final-model'), ds, engineLogp!)
      expect(finalDiff).toBeLessThan(1e-3)
      console.log(
        `[trl parity] ${name}: max |Δ loss| ${worst.toExponential(2)}, max rel Δ grad_norm ${worstGrad.toExponential(2)}, final-model log-probs max |Δ| ${finalDiff.toExponential(2)}, python ${(r.ms / 1000).toFixed(1)} s`
      )
    })
  }
})

if (!py.python) it.skip(`engine loss parity: ${py.reason}`, () => {})
