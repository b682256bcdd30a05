// The BC reference cache (issue 16): a run whose π_ref is behaviour cloning on all data trains
// it once per (data, reference settings, policy shape, seed, backend); later runs on the same
// data and settings reuse it — also after the project is closed and opened again — and end with
// the same metrics as the run that trained it. runs.referenceCost says so before a run starts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/main/cli/index.ts'
import { resolveConfig, type RunConfigInput } from '../../src/shared/config.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'
import type { ProjectStore } from '../../src/main/store/types.ts'
import { createServices } from '../../src/main/services/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-bcref-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function data(seed = 2) {
  const rng = new Rng(seed)
  return fromTraces(
    `bc-data-${seed}`,
    'continuous',
    3,
    1,
    Array.from({ length: 30 }, (_, i) => ({
      obs: Array.from({ length: 12 }, () => rng.normal()),
      actions: Array.from({ length: 4 }, () => Math.tanh(rng.normal())),
      score: i
    }))
  )
}

const base = {
  backend: 'cpu',
  domain: 'control',
  method: 'iw-sft',
  curation: { mode: 'threshold', threshold: 10 },
  policy: { kind: 'gaussian-mlp', hidden: [8], log_std_min: -5, log_std_max: 2 },
  reference: { kind: 'bc', steps: 15, lr: 1e-2, batch_size: 8 },
  train: { steps: 6, batch_size: 4, log_every: 3, eval_every: 6, snapshot_every: 6 }
} as const

/** Run once; returns whether it trained its reference (a "reference" phase) and its final loss. */
async function run(store: ProjectStore, datasetId: number, o: Partial<Record<keyof RunConfigInput, unknown>> = {}) {
  const phases = new Set<string>()
  const config = resolveConfig({ ...base, dataset: String(datasetId), ...o } as RunConfigInput)
  const end = await executeRun(store, config, { progressIntervalMs: 0, onEvent: (e) => void (e.type === 'progress' && phases.add(e.phase)) })
  expect(end.status).toBe('completed')
  const loss = store.getMetrics(end.runId, ['loss']).map((p) => p.value)
  return { trained: phases.has('reference'), loss }
}

describe('BC reference cache', () => {
  it('trains the reference once for the same data and settings, anew for other settings, and keeps it across reopening', async () => {
    const file = join(dir, 'a.iwsft')
    let store = openProject(file)
    const { id } = store.putDataset(data(), 'test')
    const first = await run(store, id)
    expect(first.trained).toBe(true)
    expect(store.listBcReferences()).toHaveLength(1)

    // same data and settings (another method and curation: the reference does not depend on them)
    const second = await run(store, id)
    expect(second.trained).toBe(false)
    expect(second.loss).toEqual(first.loss) // the cached π_ref gives the run it would have trained
    const otherMethod = await run(store, id, { method: 'iw-sft-q', curation: { mode: 'quality_bins', cutoffs: [10, 20] } })
    expect(otherMethod.trained).toBe(false)
    expect(store.listBcReferences()).toHaveLength(1)

    // any reference setting, the seed or the policy shape changed: trained anew, one entry each
    for (const o of [
      { reference: { ...base.reference, steps: 16 } },
      { reference: { ...base.reference, lr: 2e-2 } },
      { reference: { ...base.reference, batch_size: 6 } },
      { seed: 1 },
      { policy: { ...base.policy, hidden: [6] } }
    ]) {
      expect((await run(store, id, o)).trained).toBe(true)
    }
    expect(store.listBcReferences()).toHaveLength(6)
    // other data, same settings: anew
    const other = store.putDataset(data(3), 'test')
    expect((await run(store, other.id)).trained).toBe(true)
    expect(store.listBcReferences()).toHaveLength(7)

    store.close()
    store = openProject(file)
    const reopened = await run(store, id)
    expect(reopened.trained).toBe(false)
    expect(reopened.loss).toEqual(first.loss)
    expect(store.listBcReferences()).toHaveLength(7)
    store.close()
  })

  it('runs.referenceCost says "train" (estimated from the measured rate) before, "cached" after', async () => {
    const file = join(dir, 'svc.iwsft')
    const store = openProject(file)
    const { id } = store.putDataset(data(), 'test')
    store.close()
    const sv = await createServices({ projectFile: file, transport: 'cli' })
    try {
      const config = { ...base, dataset: String(id) }
      expect(await sv.call('runs.referenceCost', { config })).toEqual({ kind: 'train', steps: 15, estimateMs: null })
      expect(await sv.call('runs.referenceCost', { config: { ...config, method: 'bc' } })).toEqual({ kind: 'none' })
      expect(await sv.call('runs.referenceCost', { config: { ...config, reference: { kind: 'init' } } })).toEqual({ kind: 'none' })
      const { runIds } = await sv.call('runs.start', { config, seeds: [0] })
      for (;;) {
        const r = await sv.call('runs.get', { runId: runIds[0] })
        if (r.status !== 'running' && r.status !== 'queued') break
        await new Promise((res) => setTimeout(res, 50))
      }
      expect(await sv.call('runs.referenceCost', { config })).toEqual({ kind: 'cached', steps: 15, backend: 'cpu' })
      // 4× the steps × batch of the one measured: ≈ 4× its training time
      const bigger = (await sv.call('runs.referenceCost', { config: { ...config, reference: { ...base.reference, steps: 30, batch_size: 16 } } })) as { kind: string; estimateMs: number }
      expect(bigger.kind).toBe('train')
      const ro = openProject(file, { readonly: true })
      const [measured] = ro.listBcReferences()
      ro.close()
      expect(bigger.estimateMs).toBe(Math.round((measured.trainMs / (15 * 8)) * 30 * 16))
    } finally {
      await sv.shutdown()
    }
  })

  it('iwsft run says before training whether it trains the reference or reuses it', async () => {
    const file = join(dir, 'cli.iwsft')
    const store = openProject(file)
    const { id } = store.putDataset(data(), 'test')
    store.close()
    const cfg = join(dir, 'bc.json')
    writeFileSync(cfg, JSON.stringify({ ...base, dataset: String(id) }))
    const say = async (): Promise<string> => {
      let err = ''
      vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true))
      try {
        expect(await main(['run', cfg, '--project', file])).toBe(0)
      } finally {
        vi.restoreAllMocks()
      }
      return err
    }
    expect(await say()).toContain('reference: 15 BC steps first (kept in the project for later runs)')
    expect(await say()).toContain('reference: cached (BC, 15 steps, trained earlier on this data with these settings)')
  })
})
