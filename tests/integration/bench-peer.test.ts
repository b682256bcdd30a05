// `iwsft bench --peer` and `--profile` (issue 17): which Python is tried for torch and in what
// order; that the PyTorch peer computes the same loss and gradient norm as the engine on the
// same batch from the same weights (where a Python with torch exists; reported as skipped with
// the reason elsewhere); and what the step profile counts, on the cpu backend: one read-back a
// training step (the loss and gradient norm together; the stop-gradient of q = current stays on
// the device), uploads only for the batch and small arguments.
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, type RunConfig } from '../../src/shared/config.ts'
import { mlpBenches, syntheticControl, trainBench, transformerBenches } from '../../src/main/engine/backend/bench-entries.ts'
import { findTorchPython, pythonCandidates, TorchPeer } from '../../src/main/engine/backend/bench-peer.ts'
import { profileSteps } from '../../src/main/engine/backend/bench-profile.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-bench-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** an executable that answers `-c …` like a Python with (or without) torch */
function fakePython(name: string, torchVersion: string | null): string {
  const f = join(dir, name)
  writeFileSync(f, torchVersion ? `#!/bin/sh\nprintf '${torchVersion}'\n` : `#!/bin/sh\necho "ModuleNotFoundError: No module named 'torch'" >&2\nexit 1\n`)
  chmodSync(f, 0o755)
  return f
}

describe('finding a Python with torch', () => {
  it('IWSFT_PYTHON alone when set; else the workbench venvs under IWSFT_CACHE_DIR that exist, then python3', () => {
    expect(pythonCandidates({ IWSFT_PYTHON: '/opt/py/bin/python' })).toEqual(['/opt/py/bin/python'])
    const cache = join(dir, 'cache')
    mkdirSync(join(cache, 'python-parity', 'bin'), { recursive: true })
    writeFileSync(join(cache, 'python-parity', 'bin', 'python'), '')
    const saved = process.env.IWSFT_CACHE_DIR
    process.env.IWSFT_CACHE_DIR = cache
    try {
      // ~/…/python does not exist here, python-parity does
      expect(pythonCandidates({})).toEqual([join(cache, 'python-parity', 'bin', 'python'), 'python3'])
    } finally {
      if (saved === undefined) delete process.env.IWSFT_CACHE_DIR
      else process.env.IWSFT_CACHE_DIR = saved
    }
  })

  it('takes the first that imports torch and says why each one before it did not', () => {
    const missing = join(dir, 'no-such-python')
    const without = fakePython('py-without', null)
    const withTorch = fakePython('py-with', '2.15.0')
    const r = findTorchPython([missing, without, withTorch, fakePython('py-later', '9.9')])
    expect(r.python).toBe(withTorch)
    expect(r.tried).toEqual([
      { python: missing, torch: null, reason: 'not found' },
      { python: without, torch: null, reason: "ModuleNotFoundError: No module named 'torch'" },
      { python: withTorch, torch: '2.15.0' }
    ])
    expect(findTorchPython([missing, without]).python).toBeNull()
  })
})

const torch = findTorchPython()
const torchNote = torch.python ? '' : ` [skipped: no Python with torch here — tried ${torch.tried.map((t) => t.python).join(', ')}]`

describe('the PyTorch peer', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm')
  })

  it.skipIf(!torch.python)(`computes the same first-step loss and gradient norm as the engine for every mirrored entry${torchNote}`, async () => {
    const peer = TorchPeer.start(torch.python!)
    const benches = [...mlpBenches(), ...transformerBenches()]
    try {
      const hello = await peer.request<{ torch: string }>({ cmd: 'hello', threads: 1 })
      expect(hello.torch).toMatch(/^\d+\.\d+/)
      const specs = benches.map((b) => b.peerSpec()).filter((s) => s !== null)
      expect(specs.map((s) => s!.name)).toEqual(['sft', 'iw-sft/current', 'transformer/sft'])
      await peer.request({ cmd: 'setup', entries: specs })
      for (const b of benches.filter((x) => x.peerSpec())) {
        const e = await b.firstStep(3)
        const t = await peer.request<{ loss: number; grad_norm: number }>({ cmd: 'check', name: b.name, idx: e.idx })
        expect(Math.abs(t.loss - e.loss) / Math.abs(e.loss), `${b.name} loss ${e.loss} vs torch ${t.loss}`).toBeLessThan(1e-4)
        expect(Math.abs(t.grad_norm - e.grad_norm) / e.grad_norm, `${b.name} gradient norm ${e.grad_norm} vs torch ${t.grad_norm}`).toBeLessThan(1e-4)
      }
      const run = await peer.request<{ ms_per_step: number; cpu_ms_per_step: number; loss: number }>({ cmd: 'run', name: 'sft', steps: 2, seed: 1 })
      expect(run.ms_per_step).toBeGreaterThan(0)
      expect(Number.isFinite(run.loss)).toBe(true)
      await expect(peer.request({ cmd: 'run', name: 'nope', steps: 1 })).rejects.toThrow(/KeyError/)
    } finally {
      await peer.close()
      for (const b of benches) b.dispose()
    }
  })
})

describe('the step profile (cpu backend)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('counts one read-back a step, with q = current (its stop-gradient stays on the device) as without weights', async () => {
    const ds = syntheticControl(32, 6, 5)
    const base = defaultConfig('control')
    const cfg = (method: RunConfig['method']): RunConfig => ({
      ...base,
      method,
      curation: { mode: 'all' },
      policy: { kind: 'gaussian-mlp', hidden: [8], log_std_min: -5, log_std_max: 2 },
      weights: { ...base.weights, q: { kind: 'current' } },
      train: { ...base.train, batch_size: 4 }
    })
    for (const method of ['sft', 'iw-sft'] as const) {
      const bench = trainBench(method, ds, cfg(method), false)
      try {
        const p = await profileSteps(bench, 3)
        expect(p.counting).toBe('tfjs kernels')
        expect(p.readbacks_per_step, method).toBe(1)
        // the batch (obs, actions, mask, valid), log π_ref, and small scalars and arguments
        expect(p.uploads_per_step).toBeGreaterThanOrEqual(4)
        expect(p.uploads_per_step).toBeLessThan(40)
        expect(p.ops_per_step).toBeGreaterThan(20)
        expect(p.kinds.find((k) => k.kind === 'BatchMatMul')?.per_step).toBe(2 + 3) // forward 2 layers; backward dW ×2 + dh ×1
      } finally {
        bench.dispose()
      }
    }
  })
})
