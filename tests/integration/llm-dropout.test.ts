// LoRA's dropout masks (engine/llm/dropout.ts), drawn on the host (mulberry32) whatever the
// backend: the same seed gives the same mask (on every backend), another seed another, the kept
// share is 1 − p within sampling error, and the multiplier is 1/(1 − p) where kept, 0 elsewhere.
import * as tf from '@tensorflow/tfjs'
import { afterAll, describe, expect, it } from 'vitest'
import { initBackend, probeBackends } from '../../src/main/engine/backend/index.ts'
import { dropoutKeep, dropoutMask } from '../../src/main/engine/llm/dropout.ts'

const native = (await probeBackends()).find((b) => b.name === 'native-cpu')
afterAll(() => tf.setBackend('cpu'))

/** checks the masks of the current backend; returns the first one's bits */
function checkMasks(): Uint8Array {
  const shape = [512, 384] // 196 608 elements
  const p = 0.05
  const a = dropoutKeep(shape, p, 11)
  expect(a.dtype).toBe('bool')
  expect(a.shape).toEqual(shape)
  const same = dropoutKeep(shape, p, 11)
  const other = dropoutKeep(shape, p, 12)
  expect(tf.sum(tf.notEqual(a, same)).dataSync()[0]).toBe(0)
  const differ = tf.sum(tf.notEqual(a, other)).dataSync()[0] / 196608
  // two independent masks differ where exactly one drops: 2p(1 − p) = 0.095
  expect(Math.abs(differ - 0.095)).toBeLessThan(0.005)
  // kept share 1 − p; its standard error is √(p(1 − p)/n) = 4.9e-4: allow 8 of them
  const kept = tf.mean(a.cast('float32')).dataSync()[0]
  expect(Math.abs(kept - 0.95)).toBeLessThan(4e-3)
  const m = dropoutMask(shape, p, 11).dataSync()
  const k = a.dataSync()
  for (let i = 0; i < 1000; i++) expect(m[i]).toBeCloseTo(k[i] ? 1 / 0.95 : 0, 6)
  const bits = Uint8Array.from(k as ArrayLike<number>)
  tf.dispose([a, same, other])
  return bits
}

describe('dropout masks', () => {
  it('on the cpu backend (drawn on the host): seeded, 1 − p kept, scaled by 1/(1 − p)', async () => {
    await tf.setBackend('cpu')
    checkMasks()
  })
  it.skipIf(!native?.available)(`on the native backend: the same, and the same mask as on cpu${native?.available ? '' : ' [skipped: native-cpu is not available here]'}`, async () => {
    await tf.setBackend('cpu')
    const onCpu = checkMasks()
    await initBackend('native-cpu')
    expect(tf.getBackend()).toBe('tensorflow')
    expect(checkMasks()).toEqual(onCpu)
  })
})
