// "Score with reference model": a scoring job builds the same π_ref a run would, caches its
// log-probs, and the run then skips its own scoring phase.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/shared/config.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { executeRun, scoreDatasetReference } from '../../src/main/jobs/execute-run.ts'
import { scoreReference } from '../../src/main/jobs/runner.ts'
import type { RunEvent } from '../../src/main/jobs/types.ts'
import { openProject } from '../../src/main/store/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-score-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function data() {
  const rng = new Rng(2)
  return fromTraces(
    'score-me',
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

const settings = {
  backend: 'cpu',
  policy: { kind: 'gaussian-mlp', hidden: [8], log_std_min: -5, log_std_max: 2 },
  reference: { kind: 'bc', steps: 15, lr: 1e-2, batch_size: 8 }
}

describe('reference scoring job', () => {
  it('caches π_ref log-probs that a later run with the same reference reuses', async () => {
    const store = openProject(join(dir, 'a.iwsft'))
    const { id } = store.putDataset(data(), 'test')
    const phases: string[] = []
    const r = await scoreDatasetReference(store, id, settings, { onEvent: (e) => e.type === 'progress' && phases.push(e.phase) })
    expect(r.status).toBe('completed')
    expect(r.steps).toBe(120)
    expect(phases).toContain('reference')
    expect(phases).toContain('scoring')
    expect(store.getRefLogProbs(r.refKey!, store.listDatasets().find((d) => d.id === id)!.hash)).not.toBeNull()

    const runPhases: string[] = []
    const config = resolveConfig({
      ...settings,
      dataset: String(id),
      domain: 'control',
      method: 'iw-sft-q',
      curation: { mode: 'quality_bins', cutoffs: [50, 80] },
      train: { steps: 5, batch_size: 4 }
    })
    const end = await executeRun(store, config, { progressIntervalMs: 0, onEvent: (e) => e.type === 'progress' && runPhases.push(e.phase) })
    expect(end.status).toBe('completed')
    // the scoring job trained the BC reference and cached it with its log-probs: the run does neither again
    expect(runPhases).not.toContain('reference')
    expect(runPhases).not.toContain('scoring')
    store.close()
  })

  it('runs in a worker with progress', async () => {
    const file = join(dir, 'b.iwsft')
    const store = openProject(file)
    const { id } = store.putDataset(data(), 'test')
    store.close()
    const events: RunEvent[] = []
    const h = scoreReference(file, id, (e) => events.push(e), settings)
    const end = await h.done
    expect(end.status).toBe('completed')
    expect(events.some((e) => e.type === 'progress' && e.phase === 'scoring')).toBe(true)
  })
})
