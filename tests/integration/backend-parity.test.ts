// Where the native backend is installed (`npx iwsft backend install`, CI: .ci/install-native.sh):
// it registers into the project's own tfjs instance, trains the same seeded run as wasm to
// float tolerance (its speed is measured by `npm run bench`). Where it is not installed, the native tests are reported as
// skipped with the reason in their names. The GPU test runs only where an NVIDIA GPU exists.
import * as tf from '@tensorflow/tfjs'
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { activeBackend, backendVersions, detectGpu, initBackend, nativeInstallStatus, probeBackends, readBack, type BackendName } from '../../src/main/engine/backend/index.ts'
import { seededFloats } from '../../src/main/engine/backend/bench-mlp.ts'

const probe = await probeBackends()
const has = (n: BackendName): boolean => probe.find((p) => p.name === n)?.available ?? false
const why = (n: BackendName): string => probe.find((p) => p.name === n)?.detail ?? ''
const hasNative = has('native-cpu')
const hasGpu = detectGpu().present
const gpuInstalled = nativeInstallStatus('gpu').installed

const itNative = hasNative ? it : it.skip
const nativeName = (name: string): string => (hasNative ? name : `${name} [skipped: native-cpu not available here — ${why('native-cpu')}]`)

/** 20 steps of plain SGD (tf.variableGrads) on a seeded 2-layer MLP; every loss and the final weights. */
async function trainSeeded(backend: BackendName): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await initBackend(backend)
  expect(tf.getBackend()).toBe(backend.startsWith('native') ? 'tensorflow' : backend)
  const [nIn, nHid, nOut, batch] = [17, 64, 6, 128]
  const w1 = tf.variable(tf.tensor2d(seededFloats(nIn * nHid, 1, Math.sqrt(6 / nIn)), [nIn, nHid]))
  const b1 = tf.variable(tf.tensor1d(seededFloats(nHid, 2, 0.1)))
  const w2 = tf.variable(tf.tensor2d(seededFloats(nHid * nOut, 3, Math.sqrt(6 / nHid)), [nHid, nOut]))
  const b2 = tf.variable(tf.tensor1d(seededFloats(nOut, 4, 0.1)))
  const x = tf.tensor2d(seededFloats(batch * nIn, 5, 1), [batch, nIn])
  const y = tf.tensor2d(seededFloats(batch * nOut, 6, 1), [batch, nOut])
  const lr = 0.05
  const losses: number[] = []
  for (let step = 0; step < 20; step++) {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.losses.meanSquaredError(y, tf.matMul(tf.relu(tf.matMul(x, w1).add(b1)), w2).add(b2)) as tf.Scalar))
    tf.tidy(() => {
      for (const v of [w1, b1, w2, b2]) v.assign(v.sub(grads[v.name].mul(lr)))
    })
    losses.push(readBack(value, { dispose: true })[0])
    tf.dispose(Object.values(grads))
  }
  const weights = [w1, b1, w2, b2].map((v) => Float32Array.from(readBack(v)))
  tf.dispose([w1, b1, w2, b2, x, y])
  return { losses, weights }
}

const relDiff = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12)

describe('native TensorFlow backend', () => {
  it('probeBackends reports all four backends, wasm and cpu available', () => {
    expect(probe.map((p) => p.name)).toEqual(['native-gpu', 'native-cpu', 'wasm', 'cpu'])
    expect(has('wasm') && has('cpu')).toBe(true)
    if (!hasGpu) expect(why('native-gpu')).toMatch(/no NVIDIA GPU/)
  })

  it('an installed native backend loads (and with IWSFT_REQUIRE_NATIVE=1 it must be installed)', () => {
    const status = nativeInstallStatus('cpu')
    if (process.env.IWSFT_REQUIRE_NATIVE === '1') expect(status.installed, status.detail).toBe(true)
    // installed but not loading is a broken install, not a reason to skip the parity tests
    if (status.installed) expect(hasNative, why('native-cpu')).toBe(true)
  })

  itNative(nativeName('registers into the same tfjs-core instance the project imports'), async () => {
    expect(await initBackend('native-cpu')).toBe('native-cpu')
    expect(tf.getBackend()).toBe('tensorflow')
    expect(tf.findBackend('tensorflow')).toBeTruthy()
    expect(Object.keys((tf.engine() as unknown as { registryFactory: Record<string, unknown> }).registryFactory)).toContain('tensorflow')
    const v = backendVersions()
    expect(v.tensorflow).toMatch(/^2\.\d+/)
    expect(v['tfjs-node']).toBe('4.22.0')
    expect(v.backend).toBe('native-cpu')
    // ops on the project's tf really run in TensorFlow
    const m = tf.matMul(tf.ones([64, 32]), tf.ones([32, 16]))
    expect(readBack(m, { dispose: true })[0]).toBe(32)
  })

  itNative(nativeName('trains a seeded 2-layer MLP to the same losses as wasm (20 SGD steps, 1e-4 relative)'), async () => {
    const wasm = await trainSeeded('wasm')
    const native = await trainSeeded('native-cpu')
    expect(native.losses.length).toBe(20)
    expect(native.losses[19]).toBeLessThan(native.losses[0]) // it learns
    const worstLoss = Math.max(...native.losses.map((l, i) => relDiff(l, wasm.losses[i])))
    console.log(`parity: loss ${wasm.losses[0].toFixed(5)} → ${wasm.losses[19].toFixed(5)}; worst relative loss difference native vs wasm ${worstLoss.toExponential(2)}`)
    for (let i = 0; i < 20; i++) expect(relDiff(native.losses[i], wasm.losses[i]), `loss at step ${i}: native ${native.losses[i]} vs wasm ${wasm.losses[i]}`).toBeLessThan(1e-4)
    let worst = 0
    for (let k = 0; k < wasm.weights.length; k++) {
      for (let j = 0; j < wasm.weights[k].length; j++) worst = Math.max(worst, Math.abs(native.weights[k][j] - wasm.weights[k][j]))
    }
    console.log(`parity: worst absolute weight difference ${worst.toExponential(2)}`)
    expect(worst).toBeLessThan(1e-4)
  })

  itNative(nativeName('switches back and forth in one process (native-cpu ↔ wasm) with the same results'), async () => {
    const a = await trainSeeded('native-cpu')
    const b = await trainSeeded('wasm')
    const c = await trainSeeded('native-cpu')
    expect(c.losses).toEqual(a.losses) // same backend, same seed: identical
    expect(relDiff(b.losses[19], a.losses[19])).toBeLessThan(1e-4)
    expect(activeBackend()).toBe('native-cpu')
  })

  itNative(nativeName('reads back 1M floats exactly (dataSync)'), async () => {
    await initBackend('native-cpu')
    const t = tf.tidy(() => tf.add(tf.matMul(tf.ones([100, 8]), tf.ones([8, 10_000])), 0.5))
    // speed is measured by `npm run bench`, not asserted here (shared, noisy machines)
    const v = readBack(t, { dispose: true })
    expect(v.length).toBe(1_000_000)
    expect(v[999_999]).toBe(8.5)
  })

  it.skipIf(!hasGpu || !gpuInstalled)(
    hasGpu && gpuInstalled
      ? 'native-gpu trains on the GPU and matches native-cpu'
      : `native-gpu trains on the GPU [skipped: ${!hasGpu ? 'no NVIDIA GPU on this machine' : 'GPU build not installed (npx iwsft backend install --gpu)'}]`,
    async () => {
      // in its own process: only one native TensorFlow library can be loaded per process
      const code = `
        import { initBackend, backendVersions } from './src/main/engine/backend/index.ts'
        import { benchMlpStep } from './src/main/engine/backend/bench-mlp.ts'
        const name = await initBackend('native-gpu')
        const ms = await benchMlpStep('native-gpu', 10)
        console.log(JSON.stringify({ name, ms, versions: backendVersions() }))`
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: process.cwd(), timeout: 300_000 })
      expect(r.status, r.stderr).toBe(0)
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string)
      expect(out.name).toBe('native-gpu')
      expect(out.ms).toBeGreaterThan(0)
    }
  )
})
