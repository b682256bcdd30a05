// A run end to end against a real project file: metrics, snapshots and the checkpoint land in
// SQLite; the same seed gives identical metrics; bad input writes nothing; a NaN stops the run
// with a message naming the step; cancel stops a worker run within a second.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/shared/config.ts'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { startRun } from '../../src/main/jobs/runner.ts'
import { openProject } from '../../src/main/store/index.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { quickBandit } from '../helpers/configs.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-runjob-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const quick = quickBandit

describe('executeRun', () => {
  it('stores config, seed, backend, versions, metrics, snapshots and a checkpoint', async () => {
    const store = openProject(join(dir, 'a.iwsft'))
    const end = await executeRun(store, quick({ seed: 3 }))
    expect(end.status).toBe('completed')
    const run = store.getRun(end.runId)!
    expect(run.status).toBe('completed')
    expect(run.seed).toBe(3)
    expect(run.backend).toBe('cpu')
    expect(run.dataHash).toMatch(/^[0-9a-f]{32}$/)
    expect(run.versions.tfjs).toBeTruthy()
    expect(run.config.method).toBe('iw-sft')
    const loss = store.getMetrics(end.runId, ['loss'])
    expect(loss.map((p) => p.step)).toEqual([10, 20, 30, 40, 50, 60])
    for (const k of ['lr', 'grad_norm', 'ess', 'ess_fraction', 'clamp_fraction', 'logw_raw_median', 'expected_reward']) {
      expect(store.metricKeys(end.runId)).toContain(k)
    }
    expect(store.listSnapshotSteps(end.runId)).toEqual([30, 60])
    const snap = store.getWeightSnapshot(end.runId, 60)!
    const ds = store.getDataset(run.datasetId!)
    const kept = Array.from(ds.scores).filter((s) => s > 0.5).length
    expect(snap.traceIndex.length).toBe(kept)
    // q = π_θ, π_ref uniform, one step per trace: log w = log π_θ(a) − log ½ exactly
    const pRight = end.final.p_right
    for (let i = 0; i < 20; i++) {
      const a = ds.actions[snap.traceIndex[i]]
      const expected = Math.log(a === 1 ? pRight : 1 - pRight) - Math.log(0.5)
      expect(snap.logWRaw[i]).toBeCloseTo(expected, 4)
    }
    expect(store.listCheckpoints(end.runId).map((c) => c.step)).toEqual([60])
    store.close()
  })

  it('evaluates every eval_every steps even when they are not logging steps', async () => {
    const store = openProject(join(dir, 'ev.iwsft'))
    const end = await executeRun(store, quick({ train: { ...quick().train, log_every: 10, eval_every: 15 } }))
    expect(store.getMetrics(end.runId, ['expected_reward']).map((p) => p.step)).toEqual([0, 15, 30, 45, 60])
    expect(store.getMetrics(end.runId, ['loss']).map((p) => p.step)).toEqual([10, 15, 20, 30, 40, 45, 50, 60])
    store.close()
  })

  it('the same seed on the same backend gives identical metrics', async () => {
    const store = openProject(join(dir, 'b.iwsft'))
    const a = await executeRun(store, quick({ seed: 5, weights: { ...quick().weights, q: { kind: 'ema', beta: 0.9 } } }))
    const b = await executeRun(store, quick({ seed: 5, weights: { ...quick().weights, q: { kind: 'ema', beta: 0.9 } } }))
    const ma = store.getMetrics(a.runId)
    const mb = store.getMetrics(b.runId)
    expect(ma.length).toBeGreaterThan(20)
    expect(mb).toEqual(ma)
    const c = await executeRun(store, quick({ seed: 6 }))
    expect(store.getMetrics(c.runId, ['loss'])).not.toEqual(store.getMetrics(a.runId, ['loss']))
    store.close()
  })

  it('an empty curated set is an error and writes no run', async () => {
    const store = openProject(join(dir, 'c.iwsft'))
    await expect(executeRun(store, quick({ curation: { mode: 'threshold', threshold: 5 } }))).rejects.toThrow(/keeps no trace.*lower the threshold/)
    expect(store.listRuns()).toHaveLength(0)
    store.close()
  })

  it('an unknown dataset names the known ones', async () => {
    const store = openProject(join(dir, 'd.iwsft'))
    await expect(executeRun(store, quick({ dataset: 'nope' }))).rejects.toThrow(/dataset "nope" is not in the project/)
    expect(store.listRuns()).toHaveLength(0)
    store.close()
  })

  it('a non-finite loss stops the run with a message naming the step', async () => {
    const store = openProject(join(dir, 'e.iwsft'))
    // a continuous dataset with huge actions under a Gaussian policy and an absurd lr
    const ds = fromTraces(
      'explode',
      'continuous',
      1,
      1,
      Array.from({ length: 8 }, (_, i) => ({ obs: [i], actions: [1e30], score: i }))
    )
    const { id } = store.putDataset(ds, 'test')
    const cfg = resolveConfig({
      dataset: String(id),
      method: 'sft',
      curation: { mode: 'all' },
      reference: { kind: 'init' },
      backend: 'cpu',
      policy: { kind: 'gaussian-mlp', hidden: [4], log_std_min: -5, log_std_max: 2 },
      train: { steps: 5, batch_size: 4, log_every: 1, snapshot_every: 100, eval_every: 100, loss_norm: 'trace' }
    })
    const end = await executeRun(store, cfg)
    expect(end.status).toBe('failed')
    expect(end.error).toMatch(/training stopped at step 1: the (loss|gradient norm) is (Infinity|NaN)/)
    expect(store.getRun(end.runId)!.status).toBe('failed')
    store.close()
  })
})

describe('startRun (worker thread)', () => {
  it('streams progress and stops within a second of cancel, keeping what it saved', async () => {
    const file = join(dir, 'w.iwsft')
    const events: string[] = []
    const h = startRun(file, quick({ train: { ...quick().train, steps: 200_000, log_every: 50 } }), (e) => events.push(e.type))
    const id = await h.runId
    await new Promise((r) => setTimeout(r, 1500))
    const t0 = Date.now()
    h.cancel()
    const end = await h.done
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(end.status).toBe('cancelled')
    expect(events).toContain('progress')
    const store = openProject(file)
    expect(store.getRun(id)!.status).toBe('cancelled')
    expect(store.getMetrics(id, ['loss']).length).toBeGreaterThan(0)
    store.close()
  })
  it('a bad config is reported, and nothing is written', async () => {
    const file = join(dir, 'x.iwsft')
    const h = startRun(file, { method: 'iw-sft', weights: { tmep: 1 } }, () => {})
    await expect(h.done).rejects.toThrow(/weights\.tmep: unknown key/)
  })
})
