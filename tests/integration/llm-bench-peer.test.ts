// The PyTorch peer of llm/train-full and llm/train-lora (issue 14, python/bench/llm_peer.py):
// on a tiny Llama GGUF, transformers (+ PEFT) trains on the batches the engine trained on and
// agrees with it on the first step's loss (and, full fine-tuning, its gradient norm) from the
// same weights. Needs a Python with torch, transformers and peft (IWSFT_PYTHON or the
// workbench's venvs); reported as skipped with the reason elsewhere.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { findTorchPython } from '../../src/main/engine/backend/bench-peer.ts'
import { trainInChild } from '../../src/main/engine/llm/bench-llm.ts'
import { compareTrain, torchTrain } from '../../src/main/engine/llm/bench-llm-peer.ts'

const model = new URL('../fixtures/llm/gguf/tiny-llama-F32.gguf', import.meta.url).pathname
const found = findTorchPython()
const peft = found.python ? spawnSync(found.python, ['-c', 'import transformers, peft, gguf'], { encoding: 'utf8' }) : null
const python = peft?.status === 0 ? found.python : null
const why = python
  ? ''
  : ` [skipped: no Python with torch, transformers, peft and gguf — tried ${found.tried.map((t) => t.python).join(', ')}${peft ? `; ${found.python}: ${peft.stderr.trim().split('\n').pop()}` : ''}]`

describe('llm/train-* beside PyTorch', () => {
  for (const mode of ['full', 'lora'] as const) {
    it.skipIf(!python)(
      `${mode}: PyTorch trains the same batches and agrees on the first step${why}`,
      () => {
        const engine = trainInChild(model, 'native-cpu', mode, { reps: 2, batch: 2, seq: 16 })
        if ('error' in engine) throw new Error(engine.error)
        expect(engine.peer.steps).toHaveLength(3)
        const torch = torchTrain(python!, model, mode, engine.peer, 1)
        if ('error' in torch) throw new Error(torch.error)
        expect(torch.seconds).toHaveLength(2)
        expect(torch.parameters).toBe(engine.parameters)
        const r = compareTrain(mode, 'native-cpu', engine, torch)
        expect(r.first_rel_diff!.loss).toBeLessThan(1e-5)
        if (mode === 'full') expect(r.first_rel_diff!.grad_norm).toBeLessThan(1e-4)
        expect(r.x_torch).toBeGreaterThan(0)
      },
      300_000
    )
  }
})
