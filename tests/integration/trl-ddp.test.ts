// Issue 18 acceptance: two processes on the CPU (torchrun --standalone --nproc_per_node 2, gloo
// DDP) on one job folder of the tiny random Llama, 20 steps of iw-SFT with batch-normalised
// weights: the stream has start (world size 2), metrics, weight snapshots, checkpoints and end
// completed; every step's loss, and each snapshot's batch weights, equal a single-process run's
// within 1e-4 (the global batch is split r::W, its weights normalised over all of it); the final
// model loads back in the engine and scores the data. Also: SIGTERM ends the stream "cancelled",
// a broken job folder ends it "failed" naming the file and line.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { curate } from '../../src/shared/curation.ts'
import type { TraceDataset } from '../../src/main/common/trace.ts'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { scoreSteps } from '../../src/main/engine/train/scoring.ts'
import { lossesOf, readStream, writeJobFolder, type StreamRow } from '../helpers/job-folder-fixture.ts'
import { LLAMA, tinyLlamaDataset } from '../helpers/tiny-llama.ts'
import { launch, pythonTrainer, venvBin, type Launched } from '../helpers/python-trainer.ts'

const py = pythonTrainer()
const dir = mkdtempSync(join(tmpdir(), 'iwsft-trl-ddp-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const config = (over: Record<string, unknown> = {}): RunConfig =>
  resolveConfig({
    domain: 'sequence',
    dataset: 'tiny',
    method: 'iw-sft',
    backend: 'cpu',
    seed: 5,
    curation: { mode: 'threshold', threshold: 0.5 },
    policy: { kind: 'llm', model: 'llama', finetune: 'full' },
    weights: { normalize: true },
    optim: { kind: 'adamw', lr: 1e-3, betas: [0.9, 0.95], eps: 1e-8, weight_decay: 1e-4, warmup_steps: 2, schedule: 'cosine', clip_grad_norm: 1.0 },
    train: { steps: 20, batch_size: 4, loss_norm: 'token', log_every: 1, snapshot_every: 5, eval_every: 1000, checkpoint_every: 10 },
    ...over
  })

/** mean NLL of the curated completions under a model folder, scored by the engine */
async function completionNll(path: string, ds: TraceDataset, multiplicity: Uint8Array): Promise<number> {
  const m: LoadedLlm = await loadLlm(path)
  try {
    const lp = scoreSteps(new LlmPolicy(m.model, { model: path }), ds)
    let sum = 0
    let n = 0
    for (let i = 0; i < multiplicity.length; i++) {
      if (!multiplicity[i]) continue
      for (let t = ds.offsets[i]; t < ds.offsets[i + 1]; t++) {
        if (!ds.mask[t]) continue
        expect(Number.isFinite(lp[t])).toBe(true)
        sum -= lp[t]
        n++
      }
    }
    return sum / n
  } finally {
    m.dispose()
  }
}

describe.skipIf(!py.python)('the Python trainer under torchrun with two processes', () => {
  const ds = tinyLlamaDataset()
  const cfg = config()
  const multiplicity = curate(ds.scores, cfg.curation).multiplicity
  let one: StreamRow[] = []
  let two: StreamRow[] = []
  let runTwo: Launched
  let batches: number[][] = []
  const [dirOne, dirTwo] = [join(dir, 'one'), join(dir, 'two')]

  beforeAll(async () => {
    await initBackend('cpu')
    batches = await writeJobFolder({ dir: dirOne, config: cfg, dataset: ds, multiplicity, modelPath: LLAMA })
    await writeJobFolder({ dir: dirTwo, config: cfg, dataset: ds, multiplicity, modelPath: LLAMA })
    const runOne = await launch(py.python!, [join(dirOne, 'trainer/train.py'), dirOne])
    expect(runOne.code, runOne.stderr.slice(-3000)).toBe(0)
    runTwo = await launch(venvBin('torchrun'), ['--standalone', '--nproc_per_node', '2', join(dirTwo, 'trainer/train.py'), dirTwo])
    expect(runTwo.code, runTwo.stderr.slice(-3000)).toBe(0)
    one = readStream(readFileSync(join(dirOne, 'stream.jsonl'), 'utf8'))
    two = readStream(readFileSync(join(dirTwo, 'stream.jsonl'), 'utf8'))
    console.log(`[trl ddp] one process ${(runOne.ms / 1000).toFixed(1)} s, torchrun ×2 ${(runTwo.ms / 1000).toFixed(1)} s`)
  }, 600_000)

  it('reports world size 2 and writes start, metrics, weights, checkpoints and end completed', () => {
    expect(runTwo.stdout).toMatch(/world size 2/)
    expect(two[0]).toMatchObject({ type: 'start', world_size: 2, device: 'cpu', total_steps: 20 })
    expect(one[0]).toMatchObject({ type: 'start', world_size: 1 })
    expect(two.filter((r) => r.type === 'metrics').map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(two.filter((r) => r.type === 'weights').map((r) => r.step)).toEqual([5, 10, 15, 20])
    expect(two.filter((r) => r.type === 'checkpoint')).toEqual([
      { type: 'checkpoint', step: 10, path: 'checkpoints/step-10', format: 'hf' },
      { type: 'checkpoint', step: 20, path: 'checkpoints/step-20', format: 'hf' }
    ])
    for (const c of ['step-10', 'step-20']) expect(existsSync(join(dirTwo, 'checkpoints', c, 'model.safetensors'))).toBe(true)
    expect(two.at(-1)).toMatchObject({ type: 'end', status: 'completed', final_model: 'final-model' })
    expect(two.filter((r) => r.type === 'end').length).toBe(1)
  })

  it('every step has the single-process loss and gradient norm; each snapshot the same batch weights', () => {
    const [a, b] = [lossesOf(one), lossesOf(two)]
    let worst = 0
    for (let step = 1; step <= 20; step++) {
      const d = Math.abs(a.get(step)!.loss - b.get(step)!.loss)
      worst = Math.max(worst, d)
      expect(d, `step ${step}: one process ${a.get(step)!.loss}, two ${b.get(step)!.loss}`).toBeLessThanOrEqual(1e-4)
      expect(Math.abs(a.get(step)!.grad_norm - b.get(step)!.grad_norm) / a.get(step)!.grad_norm).toBeLessThan(1e-4)
    }
    // the run learns, and its weights are not all 1
    expect(a.get(20)!.loss).not.toBeCloseTo(a.get(1)!.loss, 2)
    const snapsOne = one.filter((r) => r.type === 'weights')
    const snapsTwo = two.filter((r) => r.type === 'weights')
    for (const [k, s] of snapsTwo.entries()) {
      const batch = s.batch as { trace_index: number[]; w: number[] }
      const ref = snapsOne[k].batch as { trace_index: number[]; w: number[] }
      expect(batch.trace_index).toEqual(batches[(s.step as number) - 1])
      batch.w.forEach((w, i) => expect(Math.abs(w - ref.w[i])).toBeLessThanOrEqual(1e-4))
      // batch self-normalisation over the global batch: mean 1
      expect(batch.w.reduce((x, y) => x + y, 0) / batch.w.length).toBeCloseTo(1, 5)
      ;(s.log_w_raw as number[]).forEach((v, i) => expect(Math.abs(v - (snapsOne[k].log_w_raw as number[])[i])).toBeLessThanOrEqual(1e-4))
    }
    expect(Math.max(...(snapsTwo[3].log_w_raw as number[])) - Math.min(...(snapsTwo[3].log_w_raw as number[]))).toBeGreaterThan(0.01)
    console.log(`[trl ddp] max |Δ loss| one vs two processes over 20 steps: ${worst.toExponential(2)}`)
  })

  it('final-model/ loads in the engine, scores the data, and fits the curated completions better than the start model', async () => {
    const final = join(dirTwo, 'final-model')
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(existsSync(join(final, f)), f).toBe(true)
    const before = await completionNll(LLAMA, ds, multiplicity)
    const after = await completionNll(final, ds, multiplicity)
    expect(after).toBeLessThan(before)
  })

  it('SIGTERM ends the stream "cancelled" and the process exits non-zero', async () => {
    const job = join(dir, 'cancel')
    await writeJobFolder({
      dir: job,
      config: config({ train: { steps: 2000, batch_size: 4, loss_norm: 'token', log_every: 1, snapshot_every: 10000, eval_every: 10000 } }),
      dataset: ds,
      multiplicity,
      modelPath: LLAMA
    })
    let pid = 0
    const running = launch(py.python!, [join(job, 'trainer/train.py'), job], { onSpawn: (p) => (pid = p) })
    const stream = join(job, 'stream.jsonl')
    // wait for the first metrics row, then stop it
    for (let i = 0; i < 600 && !(existsSync(stream) && readFileSync(stream, 'utf8').includes('"metrics"')); i++) await new Promise((r) => setTimeout(r, 100))
    process.kill(pid, 'SIGTERM')
    const r = await running
    expect(r.code).not.toBe(0)
    const rows = readStream(readFileSync(stream, 'utf8'))
    expect(rows.at(-1)).toMatchObject({ type: 'end', status: 'cancelled' })
    expect(rows.filter((x) => x.type === 'metrics').length).toBeLessThan(2000)
    expect((rows.at(-1)!.final as Record<string, number>).loss).toBeGreaterThan(0)
  })

  it('a broken job folder ends the stream "failed", naming the file and line', async () => {
    const job = join(dir, 'broken')
    await writeJobFolder({ dir: job, config: cfg, dataset: ds, multiplicity, modelPath: LLAMA })
    const lines = readFileSync(join(job, 'data.jsonl'), 'utf8').split('\n')
    const row = JSON.parse(lines[1])
    row.mask = row.mask.slice(1)
    lines[1] = JSON.stringify(row)
    writeFileSync(join(job, 'data.jsonl'), lines.join('\n'))
    const r = await launch(py.python!, [join(job, 'trainer/train.py'), job])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/data\.jsonl line 2: 'mask' must be \d+ values/)
    const rows = readStream(readFileSync(join(job, 'stream.jsonl'), 'utf8'))
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ type: 'end', status: 'failed' })
    expect(rows[0].error).toMatch(/data\.jsonl line 2/)
  })
})

if (!py.python) it.skip(`two-process run: ${py.reason}`, () => {})
