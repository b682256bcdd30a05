// On the native backend the optimizer runs TensorFlow's fused Adam kernel on resource variables
// (backend/native-adam.ts). Where native-cpu is installed: it takes the same steps as the tfjs-op
// update on the cpu backend (to float rounding) for Adam, Adam + L2, AdamW and clipping; its
// state resumes exactly (also a whole run, cancelled and resumed from its checkpoint); a parameter assigned from outside between steps is taken; disposing it
// leaves no tensor behind. Elsewhere reported as skipped with the reason.
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultConfig, type RunConfig } from '../../src/shared/config.ts'
import { executeRun, resumeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'
import { initBackend, probeBackends } from '../../src/main/engine/backend/index.ts'
import { AdamOptimizer } from '../../src/main/engine/train/optim.ts'
import { Rng } from '../../src/main/engine/rng.ts'

const probe = await probeBackends()
const native = probe.find((p) => p.name === 'native-cpu')
const hasNative = native?.available ?? false
const name = (s: string): string => (hasNative ? s : `${s} [skipped: native-cpu not available here — ${native?.detail ?? 'not probed'}]`)

type Optim = ReturnType<typeof defaultConfig>['optim']
const optim = (o: Partial<Optim>): Optim => ({ ...defaultConfig('bandit').optim, ...o })
const SHAPES = [[4, 5], [5], [6, 5], [5], [5, 3], [3]]
const size = (s: number[]): number => s.reduce((a, b) => a * b, 1)

/** n steps from seeded parameters and gradients on `backend`; the final parameters */
async function run(backend: 'cpu' | 'native-cpu', o: Optim, n: number): Promise<Float32Array[]> {
  await initBackend(backend)
  const rng = new Rng(1)
  const params = SHAPES.map((s) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor(
          Array.from({ length: size(s) }, () => rng.normal()),
          s
        )
      )
    )
  )
  const opt = new AdamOptimizer(params, o)
  for (let k = 0; k < n; k++) {
    const g = SHAPES.map((s) =>
      tf.tensor(
        Array.from({ length: size(s) }, () => 3 * rng.normal()),
        s
      )
    )
    opt.step(g, 0.01 * (k + 1)).dispose()
    tf.dispose(g)
  }
  const out = params.map((p) => Float32Array.from(p.dataSync()))
  opt.dispose()
  tf.dispose(params)
  return out
}

describe('Adam as TensorFlow kernels (native backend)', () => {
  it.skipIf(!hasNative).each([
    ['adam', optim({ kind: 'adam', lr: 0.01 })],
    ['adam + L2 decay', optim({ kind: 'adam', lr: 0.01, weight_decay: 0.1 })],
    ['adamw', optim({ kind: 'adamw', lr: 0.01, weight_decay: 0.1, betas: [0.9, 0.95] })],
    ['adamw, clipped to norm 1', optim({ kind: 'adamw', lr: 0.01, weight_decay: 0.01, clip_grad_norm: 1 })]
  ] as const)(name('%s: the same steps as the tfjs-op update (float rounding)'), async (_, o) => {
    const ops = await run('cpu', o, 8)
    const fused = await run('native-cpu', o, 8)
    let worst = 0
    ops.forEach((p, i) => p.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - fused[i][j]) / Math.max(1, Math.abs(x))))))
    expect(worst).toBeLessThan(1e-5)
    // and they moved: 8 steps of lr up to 0.08 from the seeded start
    const start = await run('cpu', o, 0)
    expect(Math.max(...fused[0].map((x, j) => Math.abs(x - start[0][j])))).toBeGreaterThan(0.02)
  })

  it.skipIf(!hasNative)(name('resumes exactly from its state; takes parameters assigned from outside; leaves nothing behind'), async () => {
    await initBackend('native-cpu')
    const before = tf.memory().numTensors
    const rng = new Rng(2)
    const make = (): tf.Variable[] =>
      SHAPES.map((s, i) =>
        tf.tidy(() =>
          tf.variable(
            tf.tensor(
              Array.from({ length: size(s) }, (_, k) => 0.1 * k - i),
              s
            )
          )
        )
      )
    const grads = (): tf.Tensor[] =>
      SHAPES.map((s) =>
        tf.tensor(
          Array.from({ length: size(s) }, () => rng.normal()),
          s
        )
      )
    const o = optim({ kind: 'adamw', lr: 0.01, weight_decay: 0.1 })
    const a = make()
    const optA = new AdamOptimizer(a, o)
    for (let k = 0; k < 3; k++) {
      const g = grads()
      optA.step(g, 0.01).dispose()
      tf.dispose(g)
    }
    const st = optA.getState()
    expect(st.m.map((m) => m.length)).toEqual(SHAPES.map(size))
    const b = make()
    b.forEach((p, i) => p.assign(a[i]))
    const optB = new AdamOptimizer(b, o)
    optB.setState(st)
    const g = grads()
    optA.step(g, 0.01).dispose()
    optB.step(g, 0.01).dispose()
    expect(b.map((p) => Array.from(p.dataSync()))).toEqual(a.map((p) => Array.from(p.dataSync())))
    // a checkpoint written into one parameter between steps is what the next step starts from
    const fresh = tf.fill([6, 5], 0.25)
    a[2].assign(fresh)
    b[2].assign(fresh)
    const g2 = grads()
    optA.step(g2, 0.01).dispose()
    optB.step(g2, 0.01).dispose()
    expect(Array.from(a[2].dataSync())).toEqual(Array.from(b[2].dataSync()))
    expect(a[2].dataSync()[0]).toBeCloseTo(0.25, 1)
    optA.dispose()
    optB.dispose()
    tf.dispose([...a, ...b, fresh, ...g, ...g2])
    expect(tf.memory().numTensors).toBe(before)
  })

  it.skipIf(!hasNative)(name('a run cancelled and resumed from its checkpoint ends with the metrics of an unbroken run'), async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iwsft-native-adam-'))
    try {
      const base = defaultConfig('bandit')
      const config: RunConfig = {
        ...base,
        backend: 'native-cpu',
        seed: 5,
        dataset_options: { pulls: 400 },
        optim: { ...base.optim, kind: 'adamw', weight_decay: 0.01, clip_grad_norm: 0.5 },
        weights: { ...base.weights, q: { kind: 'ema', beta: 0.9 } },
        train: { ...base.train, steps: 60, batch_size: 32, log_every: 5, snapshot_every: 30, eval_every: 10, checkpoint_every: 20 }
      }
      const store = openProject(join(dir, 'r.iwsft'))
      const unbroken = await executeRun(store, config)
      const abort = new AbortController()
      const broken = await executeRun(store, config, { signal: abort.signal, onEvent: (e) => e.type === 'metrics' && e.step >= 25 && abort.abort() })
      expect(broken.status).toBe('cancelled')
      expect((await resumeRun(store, broken.runId)).status).toBe('completed')
      expect(store.getRun(broken.runId)!.backend).toBe('native-cpu')
      expect(store.getMetrics(broken.runId)).toEqual(store.getMetrics(unbroken.runId))
      store.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
