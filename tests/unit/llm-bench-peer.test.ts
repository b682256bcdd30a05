// The llm/train-* comparison with PyTorch (issue 14): tokens/s from the median step, the ratios
// in wall and CPU time, the first-step agreement, and what is printed when PyTorch fails.
import { describe, expect, it } from 'vitest'
import { compareTrain, formatTrainRows, type EngineTrainFigures, type TorchTrainResult } from '../../src/main/engine/llm/bench-llm-peer.ts'

const engine = (mode: 'lora' | 'full', seconds: number[], cpu: number[]): EngineTrainFigures => ({
  mode,
  batch: 4,
  seq: 256,
  seconds,
  cpu_seconds: cpu,
  first: { loss: 13.5, grad_norm: 2 },
  peak_rss_mb: 2000
})
const torch = (seconds: number[], cpu: number[], loss = 13.5, gn = 2): TorchTrainResult => ({
  torch: '2.15.0',
  threads: 2,
  parameters: 1,
  load_s: 1,
  seconds,
  cpu_seconds: cpu,
  first: { loss, grad_norm: gn },
  peak_rss_mb: 100
})

describe('compareTrain', () => {
  it('tokens/s over the median step of each, and engine ÷ PyTorch in wall and CPU time', () => {
    // 1024 tokens a step; medians: engine 4 s (256 tok/s), PyTorch 2 s (512 tok/s); CPU 6 s vs 3 s
    const r = compareTrain('full', 'native-cpu', engine('full', [5, 4, 3], [6, 7, 5]), torch([2, 1, 9], [3, 3, 2], 13.5 * (1 + 2e-6), 2.02))
    expect(r.tokens_per_s).toBeCloseTo(256, 9)
    expect(r.torch_tokens_per_s).toBeCloseTo(512, 9)
    expect(r.x_torch).toBeCloseTo(0.5, 9)
    expect(r.cpu_x_torch).toBeCloseTo(0.5, 9)
    expect(r.first_rel_diff!.loss).toBeCloseTo(2e-6 / (1 + 2e-6), 12)
    expect(r.first_rel_diff!.grad_norm).toBeCloseTo(0.02 / 2.02, 12)
    const text = formatTrainRows([r]).join('\n')
    expect(text).toContain('0.50× tokens/s, 0.50× tokens per CPU-second')
    expect(text).toContain('256.0 tokens/s (batch 4 × 256; steps 5.0, 4.0, 3.0 s, CPU 6.0, 7.0, 5.0 s), peak RSS 2000 MB')
    // a 1 % gradient-norm gap is flagged
    expect(text).toContain('warning: PyTorch and the engine disagree')
  })

  it("LoRA's gradient norm is not compared; LoRA ÷ full is printed when both ran", () => {
    const lora = compareTrain('lora', 'native-cpu', engine('lora', [2], [3]), torch([1], [1], 13.5, 99))
    const full = compareTrain('full', 'native-cpu', engine('full', [4], [5]), null)
    expect(lora.first_rel_diff).toEqual({ loss: 0, grad_norm: null })
    expect(full.x_torch).toBeNull()
    const text = formatTrainRows([lora, full]).join('\n')
    expect(text).toContain('gradient norm not compared')
    expect(text).not.toContain('warning')
    expect(text).toContain('LoRA ÷ full fine-tuning (engine, native-cpu): 2.00× tokens/s')
  })

  it('says when either side failed', () => {
    const failedEngine = compareTrain('full', 'wasm', { error: 'out of memory' }, null)
    expect(failedEngine.tokens_per_s).toBeNull()
    const failedTorch = compareTrain('lora', 'native-cpu', engine('lora', [2], [2]), { error: 'ModuleNotFoundError: peft' })
    expect(failedTorch.x_torch).toBeNull()
    const text = formatTrainRows([failedEngine, failedTorch]).join('\n')
    expect(text).toContain('llm/train-full wasm: failed: out of memory')
    expect(text).toContain('PyTorch failed: ModuleNotFoundError: peft')
  })
})
