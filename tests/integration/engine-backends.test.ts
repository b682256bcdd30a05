// The engine on every backend available here: wasm always, native-cpu where it is installed
// (CI installs it). The bandit reaches its known answers on each, and the same seeded control
// run gives the same metrics on wasm and native within float tolerance.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { defaultConfig, resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { probeBackends, type BackendName } from '../../src/main/engine/backend/index.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'

const probe = await probeBackends()
const available = (n: BackendName): boolean => probe.find((p) => p.name === n)?.available ?? false
const nativeNote = available('native-cpu') ? '' : ` [skipped: native-cpu not installed — run npx iwsft backend install]`
const dir = mkdtempSync(join(tmpdir(), 'iwsft-backends-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function controlData() {
  const rng = new Rng(9)
  return fromTraces(
    'parity',
    'continuous',
    5,
    2,
    Array.from({ length: 24 }, (_, i) => {
      const T = 5 + (i % 7)
      return {
        obs: Array.from({ length: T * 5 }, () => rng.normal()),
        actions: Array.from({ length: T * 2 }, () => Math.tanh(rng.normal())),
        score: i
      }
    })
  )
}

async function run(backend: BackendName, config: RunConfig, file: string) {
  const store = openProject(join(dir, file))
  const end = await executeRun(store, { ...config, backend })
  const metrics = store.getMetrics(end.runId)
  store.close()
  return { end, metrics }
}

describe.each(['wasm', 'native-cpu'] as const)('engine on %s', (backend) => {
  const ok = available(backend)
  it.skipIf(!ok)(`the bandit reaches SFT 5/6 and iw-SFT ≥ 0.98${ok ? '' : nativeNote}`, async () => {
    const sft = await run(backend, { ...defaultConfig('bandit'), method: 'sft', seed: 1 }, `bandit-${backend}.iwsft`)
    const iw = await run(backend, { ...defaultConfig('bandit'), method: 'iw-sft', seed: 1 }, `bandit-${backend}.iwsft`)
    expect(Math.abs(sft.end.final.expected_reward - 5 / 6)).toBeLessThan(0.02)
    expect(iw.end.final.expected_reward).toBeGreaterThanOrEqual(0.98)
  })
})

describe('wasm ↔ native parity', () => {
  it.skipIf(!available('native-cpu'))(`the same seeded iw-SFT(Q) run gives the same metrics${nativeNote}`, async () => {
    const store = openProject(join(dir, 'parity-data.iwsft'))
    const { id } = store.putDataset(controlData(), 'test')
    store.close()
    const config = resolveConfig({
      dataset: String(id),
      domain: 'control',
      method: 'iw-sft-q',
      seed: 4,
      curation: { mode: 'quality_bins', cutoffs: [25, 50, 75] },
      reference: { kind: 'bc', steps: 20, lr: 1e-3, batch_size: 8 },
      policy: { kind: 'gaussian-mlp', hidden: [32, 32], log_std_min: -5, log_std_max: 2 },
      optim: { lr: 1e-3, warmup_steps: 5 },
      train: { steps: 30, batch_size: 8, log_every: 5, snapshot_every: 15, eval_every: 1000 }
    })
    const a = await run('wasm', config, 'parity-data.iwsft')
    const b = await run('native-cpu', config, 'parity-data.iwsft')
    expect(a.end.status).toBe('completed')
    expect(b.metrics.length).toBe(a.metrics.length)
    a.metrics.forEach((p, i) => {
      const q = b.metrics[i]
      expect(q.key).toBe(p.key)
      expect(q.step).toBe(p.step)
      expect(Math.abs(q.value - p.value)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(p.value)))
    })
  })
})
