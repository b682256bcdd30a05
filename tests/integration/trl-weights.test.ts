// Issue 18: the Python trainer's weight recipe (python/trainer/iwsft_trainer/weights.py) against
// the engine's (src/main/engine/weights.ts) on the same log-probs — every case of
// tests/fixtures/weight-vectors.json (= shared/testdata) and more settings (sum/mean, temperatures, clip_rho,
// clip_ratio, lower clamp, batch normalisation, the per-step variant) — and both against the
// hand-worked numbers of weight-vectors.json.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WeightSettings } from '../../src/shared/config.ts'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { clampedWeight, logWeightRaw, perStepWeight, type TraceWeightSettings } from '../../src/main/engine/weights.ts'
import { launch, pythonTrainer, TRAINER_SOURCE } from '../helpers/python-trainer.ts'

interface Trace {
  logq: number[]
  logref: number[]
  mask: number[]
}
type Settings = TraceWeightSettings | { variant: 'per_step'; step_clip: [number, number] }
interface Case {
  name: string
  settings: Settings
  traces: Trace[]
  expected?: { log_w_raw?: number[]; w?: number[]; w_per_step?: number[][] }
}

const vectors = JSON.parse(readFileSync(resolve(__dirname, '../fixtures/weight-vectors.json'), 'utf8')) as {
  cases: Array<{ name: string; settings: Record<string, unknown>; traces: Trace[]; expected: Record<string, unknown> }>
}

/** the file's cases in the trainer's settings shape (its per-step case names its clip `clip_ratio`) */
const fileCases: Case[] = vectors.cases.map((c) => {
  const s = c.settings
  const settings: Settings = s.variant === 'per_step' ? { variant: 'per_step', step_clip: s.clip_ratio as [number, number] } : (s as unknown as TraceWeightSettings)
  return { name: c.name, settings, traces: c.traces, expected: c.expected as Case['expected'] }
})

/** more settings on traces of different lengths, with masked prompt steps */
function moreCases(): Case[] {
  let seed = 7
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1
  const traces: Trace[] = [5, 3, 8, 1, 6].map((n, i) => {
    const logref = Array.from({ length: n }, () => -1.5 + rnd())
    return { logref, logq: logref.map((r) => r + 1.5 * rnd() + 0.3 * (i - 2)), mask: Array.from({ length: n }, (_, t) => (t === 0 && n > 1 ? 0 : 1)) }
  })
  const base: TraceWeightSettings = { temp: 1, aggregate: 'mean', per_step: null, clamp: [0, 16], normalize: false }
  const variants: Array<[string, Partial<TraceWeightSettings>]> = [
    ['mean, temp 1', {}],
    ['mean, temp 0.5', { temp: 0.5 }],
    ['mean, temp 10, clamp 1000', { temp: 10, clamp: [0, 1000] }],
    ['sum, temp 1', { aggregate: 'sum' }],
    ['sum, temp 3, clamp [0.1, 16]', { aggregate: 'sum', temp: 3, clamp: [0.1, 16] }],
    ['clip_rho [-0.5, 0.5]', { per_step: { clip_rho: [-0.5, 0.5] } }],
    ['clip_ratio [0.2, 1.8], sum', { per_step: { clip_ratio: [0.2, 1.8] }, aggregate: 'sum' }],
    ['normalize, mean', { normalize: true }],
    ['normalize, sum, temp 4, clamp [0.05, 8]', { normalize: true, aggregate: 'sum', temp: 4, clamp: [0.05, 8] }],
    ['normalize, clip_ratio, temp 2', { normalize: true, per_step: { clip_ratio: [0.5, 1.5] }, temp: 2 }]
  ]
  const cases: Case[] = variants.map(([name, over]) => ({ name, settings: { ...base, ...over }, traces }))
  cases.push({ name: 'per-step variant, step_clip [0.2, 1.8]', settings: { variant: 'per_step', step_clip: [0.2, 1.8] }, traces })
  cases.push({ name: 'per-step variant, step_clip [0, 1.5]', settings: { variant: 'per_step', step_clip: [0, 1.5] }, traces })
  return cases
}

/** the engine's weights of a case: traces right-padded with mask 0 into [B, T] */
function engineWeights(c: Case): { log_w_raw?: number[]; w?: number[]; w_per_step?: number[][] } {
  const T = Math.max(...c.traces.map((t) => t.mask.length))
  const pad = (k: keyof Trace): tf.Tensor2D => tf.tensor2d(c.traces.map((t) => [...t[k], ...new Array<number>(T - t[k].length).fill(0)]))
  return tf.tidy(() => {
    const [logq, logref, mask] = [pad('logq'), pad('logref'), pad('mask')]
    const s = c.settings
    if ('variant' in s) {
      const w = perStepWeight(logq, logref, mask, s.step_clip).arraySync()
      return { w_per_step: c.traces.map((t, i) => w[i].slice(0, t.mask.length)) }
    }
    const ws = { ...s, step_clip: [0.2, 1.8], q: { kind: 'current' }, q_refresh: null } as WeightSettings
    const raw = logWeightRaw(logq, logref, mask, ws)
    return { log_w_raw: Array.from(raw.dataSync()), w: Array.from(clampedWeight(raw, ws).dataSync()) }
  })
}

/** |a − b| ≤ 1e-5 for every value */
function expectClose(a: number[], b: number[], what: string): void {
  expect(a.length, what).toBe(b.length)
  a.forEach((x, i) => expect(Math.abs(x - b[i]), `${what}[${i}]: ${x} vs ${b[i]}`).toBeLessThanOrEqual(1e-5))
}

const py = pythonTrainer()
const dir = mkdtempSync(join(tmpdir(), 'iwsft-trl-weights-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.skipIf(!py.python)("the Python trainer's weights equal the engine's", () => {
  const cases = [...fileCases, ...moreCases()]
  let out: Array<{ log_w_raw?: number[]; w?: number[]; w_per_step?: number[][] }> = []
  beforeAll(async () => {
    await initBackend('cpu')
    const inFile = join(dir, 'in.json')
    const outFile = join(dir, 'out.json')
    writeFileSync(inFile, JSON.stringify({ cases: cases.map(({ settings, traces }) => ({ settings, traces })) }))
    const r = await launch(py.python!, ['-m', 'iwsft_trainer.weights_check', inFile, outFile], { cwd: TRAINER_SOURCE })
    expect(r.code, r.stderr).toBe(0)
    out = JSON.parse(readFileSync(outFile, 'utf8')).cases
  })

  it('covers every case of weight-vectors.json and the extra settings', () => {
    expect(fileCases.length).toBe(vectors.cases.length)
    expect(out.length).toBe(cases.length)
  })

  for (const [k, c] of cases.entries()) {
    it(`${c.name}: Python = engine within 1e-5${c.expected ? ' = the hand-worked numbers' : ''}`, () => {
      const eng = engineWeights(c)
      const got = out[k]
      if (eng.w_per_step) {
        c.traces.forEach((_, i) => expectClose(got.w_per_step![i], eng.w_per_step![i], `w_t of trace ${i}`))
        if (c.expected?.w_per_step) c.traces.forEach((_, i) => expectClose(got.w_per_step![i], c.expected!.w_per_step![i], `expected w_t of trace ${i}`))
        return
      }
      expectClose(got.log_w_raw!, eng.log_w_raw!, 'log w raw')
      expectClose(got.w!, eng.w!, 'w')
      if (c.expected?.log_w_raw) expectClose(got.log_w_raw!, c.expected.log_w_raw, 'expected log w raw')
      if (c.expected?.w) expectClose(got.w!, c.expected.w, 'expected w')
    })
  }
})

if (!py.python) it.skip(`weights parity: ${py.reason}`, () => {})
