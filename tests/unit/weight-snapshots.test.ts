// Weight snapshots (version 2) hold every stage of the weights: raw log w, the clamped w, the
// sampling mass, w as the loss uses it, and the step's batch exactly as the loss weighted it;
// older (version 1) rows keep their meaning through the migration.
import * as tf from '@tensorflow/tfjs'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { curate } from '../../src/shared/curation.ts'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import type { WeightSnapshot } from '../../src/main/common/tensors.ts'
import { runExperiment } from '../../src/main/engine/experiment.ts'
import { lossWeights } from '../../src/main/engine/train/scoring.ts'
import { APPLICATION_ID, openProject } from '../../src/main/store/index.ts'
import { MIGRATIONS } from '../../src/main/store/migrations.ts'
import { linearControl } from '../helpers/linear-control.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-snap-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('lossWeights', () => {
  it('normalises under the sampling mass (hand-worked)', () => {
    // w = [2, 1, 0.5, 4], μ = [1, 2, 1, 3]: Σμ = 7, Σμw = 16.5 → w · 7 / 16.5
    const w = lossWeights([2, 1, 0.5, 4], [1, 2, 1, 3], true)
    expect(Array.from(w)).toEqual([2, 1, 0.5, 4].map((v) => expect.closeTo((v * 7) / 16.5, 6)))
    // mean 1 under the mass: Σ μ w / Σ μ = 1
    expect((w[0] + 2 * w[1] + w[2] + 3 * w[3]) / 7).toBeCloseTo(1, 6)
    // without normalisation: the clamped weights as they are
    expect(Array.from(lossWeights([2, 1], [1, 3], false))).toEqual([2, 1])
  })
})

const noisyLinear = (seed: number): TraceDataset => linearControl(seed, { traces: 30, obsDim: 2, actDim: 1, minLen: 5, lenCycle: 7, tieBreak: 0.001 })

const cfg = (o: Record<string, unknown>): RunConfig =>
  resolveConfig({
    dataset: 'control',
    backend: 'cpu',
    method: 'iw-sft-q',
    reference: { kind: 'bc', steps: 30, lr: 1e-2, batch_size: 16 },
    policy: { kind: 'gaussian-mlp', hidden: [8], log_std_min: -5, log_std_max: 2 },
    curation: { mode: 'quality_bins', cutoffs: [50, 75, 90] },
    optim: { ...defaultConfig('control').optim, lr: 1e-2, warmup_steps: 0 },
    train: { steps: 20, batch_size: 8, log_every: 10, snapshot_every: 10, eval_every: 1000 },
    ...o
  })

async function snapshots(config: RunConfig, ds: TraceDataset): Promise<WeightSnapshot[]> {
  const out: WeightSnapshot[] = []
  const r = await runExperiment(config, ds, { onSnapshot: (s) => out.push(s) })
  r.policy.dispose()
  return out
}

describe('snapshots from training', () => {
  it('iw-SFT(Q), normalised: each stage, and the batch exactly as the loss weighted it', async () => {
    const ds = noisyLinear(1)
    const config = cfg({})
    expect(config.weights.normalize).toBe(true)
    const snaps = await snapshots(config, ds)
    expect(snaps.map((s) => s.step)).toEqual([10, 20])
    const m = curate(ds.scores, { mode: 'quality_bins', cutoffs: [50, 75, 90] }).multiplicity
    for (const s of snaps) {
      expect(s.version).toBe(2)
      // the mass of D_Q+ is the quality-bin multiplicity
      expect(Array.from(s.mass!)).toEqual(Array.from(s.traceIndex, (i) => m[i]))
      expect(new Set(s.mass).size).toBeGreaterThan(1)
      // clamped w = clamp(exp(log w raw), 0, 1000)
      s.wClamped!.forEach((v, i) => expect(v).toBeCloseTo(Math.min(Math.exp(s.logWRaw[i]), 1000), 4))
      // w = w_clamped · Σμ / Σμ w_clamped: mean 1 under the mass
      let sm = 0
      let smw = 0
      s.w.forEach((v, i) => ((sm += s.mass![i]), (smw += s.mass![i] * v)))
      expect(smw / sm).toBeCloseTo(1, 4)
      // the batch: 8 rows, normalised within the batch (w_i · B / Σ w), each row the clamped
      // weight of its trace under the same θ_q (EMA q is updated before the weights)
      const b = s.batch!
      expect(b.traceIndex.length).toBe(8)
      expect(b.w.reduce((a, v) => a + v, 0)).toBeCloseTo(8, 3)
      const pos = new Map(Array.from(s.traceIndex, (t, i) => [t, i]))
      const wc = Array.from(b.traceIndex, (t) => s.wClamped![pos.get(t)!])
      const total = wc.reduce((a, v) => a + v, 0)
      b.w.forEach((v, j) => expect(v).toBeCloseTo((wc[j] * 8) / total, 3))
    }
  })

  it('SFT(Q) snapshots keep the weights the config would give, and no batch', async () => {
    const snaps = await snapshots(cfg({ method: 'sft-q', train: { steps: 10, batch_size: 8, log_every: 10, snapshot_every: 10, eval_every: 1000 } }), noisyLinear(2))
    expect(snaps).toHaveLength(1)
    expect(snaps[0].version).toBe(2)
    expect(snaps[0].batch).toBeNull()
    expect(snaps[0].wClamped!.length).toBe(snaps[0].traceIndex.length)
  })
})

describe('storage', () => {
  it('stores and reads back every stage', () => {
    const store = openProject(join(dir, 'a.iwsft'))
    const ds = fromTraces('t', 'continuous', 1, 1, [{ obs: [0], actions: [0], score: 1 }])
    const datasetId = store.putDataset(ds, 'test:t').id
    const runId = store.createRun({ name: 'r', config: cfg({}), datasetId, dataHash: null, backend: 'cpu', versions: {} })
    const snap: WeightSnapshot = {
      step: 5,
      traceIndex: Int32Array.from([0, 3]),
      logWRaw: Float32Array.from([0.5, -1]),
      w: Float32Array.from([1.2, 0.4]),
      version: 2,
      wClamped: Float32Array.from([1.5, 0.5]),
      mass: Float32Array.from([1, 3]),
      batch: { traceIndex: Int32Array.from([3, 3, 0]), w: Float32Array.from([0.6, 0.6, 1.8]) }
    }
    store.putWeightSnapshot(runId, snap)
    expect(store.getWeightSnapshot(runId, 5)).toEqual(snap)
    // a version-1 snapshot: no stages, no batch
    store.putWeightSnapshot(runId, { step: 6, traceIndex: Int32Array.from([0]), logWRaw: Float32Array.from([0]), w: Float32Array.from([1]) })
    expect(store.getWeightSnapshot(runId, 6)).toEqual({ step: 6, traceIndex: Int32Array.from([0]), logWRaw: Float32Array.from([0]), w: Float32Array.from([1]), version: 1, batch: null })
    // mismatched lengths are refused with the counts
    expect(() => store.putWeightSnapshot(runId, { ...snap, mass: Float32Array.from([1]) })).toThrow(/2 trace indices.*1 sampling masses/)
    store.close()
  })

  it('a project written before the stages keeps its snapshots, read as version 1', () => {
    const file = join(dir, 'old.iwsft')
    const db = new Database(file)
    db.pragma(`application_id = ${APPLICATION_ID}`)
    const before = MIGRATIONS.findIndex((m) => m.name === 'weight snapshot stages')
    for (let v = 0; v < before; v++) MIGRATIONS[v].up(db)
    db.pragma(`user_version = ${before}`)
    db.prepare("INSERT INTO runs (id, name, method, status, seed, config, versions, created_at) VALUES (1, 'r', 'iw-sft', 'completed', 0, '{}', '{}', 'now')").run()
    const blob = (a: Int32Array | Float32Array): Buffer => Buffer.from(a.buffer)
    db.prepare('INSERT INTO weight_snapshots (run_id, step, trace_index, log_w_raw, w) VALUES (1, 7, ?, ?, ?)').run(
      blob(Int32Array.from([2])),
      blob(Float32Array.from([0.25])),
      blob(Float32Array.from([1]))
    )
    db.close()
    const store = openProject(file)
    const s = store.getWeightSnapshot(1, 7)!
    expect(s.version).toBe(1)
    expect(Array.from(s.logWRaw)).toEqual([0.25])
    expect(s.wClamped).toBeUndefined()
    expect(s.batch).toBeNull()
    store.close()
  })
})
