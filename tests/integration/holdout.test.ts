// Imported data without an environment: a held-out fraction of traces never enters training
// and is scored offline (log-likelihood, action error) at every evaluation.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { holdoutIndices } from '../../src/shared/curation.ts'
import { resolveConfig } from '../../src/shared/config.ts'
import { datasetHash, fromTraces } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-holdout-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('holdoutIndices', () => {
  it('is a fixed, sorted set of distinct traces of the requested size', () => {
    const a = holdoutIndices(100, 0.1, 'abcdef0123456789')
    expect(a.length).toBe(10)
    expect(new Set(a).size).toBe(10)
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y))
    expect(holdoutIndices(100, 0.1, 'abcdef0123456789')).toEqual(a)
    expect(holdoutIndices(100, 0.1, '0123456789abcdef')).not.toEqual(a)
    expect(holdoutIndices(100, 0, 'abcdef0123456789').length).toBe(0)
  })
})

describe('offline evaluation of imported control data', () => {
  it('held-out traces are never trained on, and their log-likelihood improves', async () => {
    const rng = new Rng(3)
    // a linear rule a = tanh(0.8 s0 − 0.5 s1) + noise: learnable, so held-out likelihood must rise
    const ds = fromTraces(
      'imported',
      'continuous',
      2,
      1,
      Array.from({ length: 50 }, (_, i) => {
        const obs: number[] = []
        const actions: number[] = []
        for (let t = 0; t < 10; t++) {
          const s = [rng.normal(), rng.normal()]
          obs.push(...s)
          actions.push(Math.tanh(0.8 * s[0] - 0.5 * s[1]) + 0.05 * rng.normal())
        }
        return { obs, actions, score: i }
      })
    )
    const store = openProject(join(dir, 'h.iwsft'))
    const { id } = store.putDataset(ds, 'file:/data/imported.h5')
    const config = resolveConfig({
      dataset: String(id),
      domain: 'control',
      backend: 'cpu',
      method: 'sft-q',
      reference: { kind: 'init' },
      curation: { mode: 'quality_bins', cutoffs: [10, 50] },
      policy: { kind: 'gaussian-mlp', hidden: [16], log_std_min: -5, log_std_max: 2 },
      optim: { lr: 1e-2, warmup_steps: 0 },
      train: { steps: 150, batch_size: 16, log_every: 50, eval_every: 50, snapshot_every: 150, holdout: 0.2 }
    })
    const end = await executeRun(store, config)
    expect(end.status).toBe('completed')
    const ll = store.getMetrics(end.runId, ['heldout_loglik'])
    expect(ll.map((p) => p.step)).toEqual([0, 50, 100, 150])
    expect(ll[ll.length - 1].value).toBeGreaterThan(ll[0].value + 0.5)
    const err = store.getMetrics(end.runId, ['heldout_action_error'])
    expect(err[err.length - 1].value).toBeLessThan(err[0].value)
    const held = new Set(holdoutIndices(50, 0.2, datasetHash(ds)))
    expect(held.size).toBe(10)
    const snap = store.getWeightSnapshot(end.runId, 150)!
    for (const t of snap.traceIndex) expect(held.has(t)).toBe(false)
    store.close()
  })
})
