// The batch schedule a job for the Python trainer carries (issue 18) must be the batches the
// engine's own trainer draws: same config and seed, same traces in the same order.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { curate } from '../../src/shared/curation.ts'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { runExperiment } from '../../src/main/engine/experiment.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { createPolicy } from '../../src/main/engine/policies/index.ts'
import { batchSchedule, samplingMass, trainerRng } from '../../src/main/engine/train/batch-schedule.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

function data(): TraceDataset {
  const rng = new Rng(5)
  return fromTraces(
    'd',
    'continuous',
    2,
    1,
    Array.from({ length: 24 }, (_, i) => ({ obs: Array.from({ length: 8 }, () => rng.normal()), actions: Array.from({ length: 4 }, () => rng.normal()), score: i }))
  )
}

const cfg = (method: RunConfig['method'], reference: Record<string, unknown>): RunConfig =>
  resolveConfig({
    dataset: 'control',
    backend: 'cpu',
    seed: 7,
    method,
    reference,
    policy: { kind: 'gaussian-mlp', hidden: [4], log_std_min: -5, log_std_max: 2 },
    curation: { mode: 'quality_bins', cutoffs: [25, 50, 90] },
    optim: { ...defaultConfig('control').optim, warmup_steps: 0 },
    train: { steps: 6, batch_size: 5, log_every: 6, snapshot_every: 1, eval_every: 1000 }
  })

async function engineBatches(config: RunConfig, ds: TraceDataset, init?: ReturnType<typeof createPolicy>): Promise<number[][]> {
  const out: number[][] = []
  const r = await runExperiment(config, ds, { onSnapshot: (s) => out.push(Array.from(s.batch!.traceIndex)) }, { init })
  r.policy.dispose()
  return out
}

describe('batchSchedule', () => {
  it('samples D_Q+ by multiplicity and D+ uniformly, never a trace outside the curated set', () => {
    const m = Uint8Array.from([0, 1, 3, 0, 2])
    expect(Array.from(samplingMass('iw-sft-q', m))).toEqual([0, 1, 3, 0, 2])
    expect(Array.from(samplingMass('iw-sft', m))).toEqual([0, 1, 1, 0, 1])
    const batches = batchSchedule('iw-sft-q', m, new Rng(1), 400, 10)
    const counts = [0, 0, 0, 0, 0]
    for (const b of batches) for (const i of b) counts[i]++
    expect(counts[0] + counts[3]).toBe(0)
    // 4000 draws ∝ 1 : 3 : 2 → 667, 2000, 1333 (± 4 σ)
    expect(Math.abs(counts[2] - 2000)).toBeLessThan(120)
    expect(Math.abs(counts[4] - 1333)).toBeLessThan(120)
  })

  it('equals the batches the engine trains on: with a BC reference fitted, and with θ given', async () => {
    const ds = data()
    const bc = cfg('iw-sft-q', { kind: 'bc', steps: 3, lr: 1e-2, batch_size: 4 })
    const m = curate(ds.scores, bc.curation).multiplicity
    const want = batchSchedule(bc.method, m, trainerRng(bc.seed, true), bc.train.steps, bc.train.batch_size).map((b) => Array.from(b))
    expect(await engineBatches(bc, ds)).toEqual(want)
    // a given start policy (as a language model always is): no BC fork
    const given = cfg('iw-sft', { kind: 'init' })
    const init = createPolicy(given.policy, ds, new Rng(3))
    const want2 = batchSchedule(given.method, curate(ds.scores, given.curation).multiplicity, trainerRng(given.seed, false), 6, 5).map((b) => Array.from(b))
    expect(await engineBatches(given, ds, init)).toEqual(want2)
    init.dispose()
    // and the two schedules differ (the BC fork moves the trainer's stream)
    expect(want2).not.toEqual(want)
  })
})
