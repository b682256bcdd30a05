// The PyTorch peer of the llm/train-full and llm/train-lora benchmarks (issue 14): runs
// python/bench/llm_peer.py (transformers + PEFT on the same GGUF) on the batches the engine
// trained on, in a process of its own, and reads back its tokens/s and first-step loss. Torch is
// optional: without a Python that has it, the benchmark runs the engine alone and says why.
import { spawnSync } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** python/bench/llm_peer.py of this checkout */
export const LLM_PEER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../python/bench/llm_peer.py')

/** What the engine trained on, for PyTorch to train on the same (bench-llm.ts runTrain). */
export interface TorchTrainData {
  /** the dataset's traces (token ids) */
  tokens: number[][]
  /** the rows of each step's batch; the first step is the warm-up */
  steps: number[][]
  optim: { lr: number; betas: [number, number]; eps: number; weight_decay: number }
  lora: { rank: number; alpha: number; dropout: number; targets: string[] } | null
}

export interface TorchTrainResult {
  torch: string
  threads: number
  parameters: number
  load_s: number
  seconds: number[]
  cpu_seconds: number[]
  first: { loss: number; grad_norm: number }
  peak_rss_mb: number
}

/** Train `data` in PyTorch with `python`; the result, or why it failed. */
export function torchTrain(python: string, model: string, mode: 'lora' | 'full', data: TorchTrainData, threads: number | null = null): TorchTrainResult | { error: string } {
  const p = spawnSync(python, [LLM_PEER_SCRIPT], {
    input: JSON.stringify({ model, mode, threads, ...data }),
    encoding: 'utf8',
    maxBuffer: 1 << 26
  })
  if (p.error) return { error: `${python}: ${p.error.message}` }
  const line = (p.stdout ?? '').trim().split('\n').pop() ?? ''
  try {
    const r = JSON.parse(line) as TorchTrainResult | { error: string }
    return r
  } catch {
    return { error: `${python} ${LLM_PEER_SCRIPT} gave no answer (exit ${p.status}):\n${(p.stderr ?? '').split('\n').slice(-6).join('\n')}` }
  }
}

/** The engine's figure and PyTorch's for one fine-tuning mode, measured one right after the other. */
export interface TrainComparison {
  name: string
  backend: string
  /** the engine's result (bench-llm.ts LlmTrainBenchResult) or why it failed */
  engine: EngineTrainFigures | { error: string }
  torch: TorchTrainResult | { error: string } | null
  tokens_per_s: number | null
  torch_tokens_per_s: number | null
  /** engine tokens/s ÷ PyTorch tokens/s (issue 14's target for full: ≥ 0.7) */
  x_torch: number | null
  /** the same for tokens per CPU-second (process CPU time, all threads): less sensitive to the
   *  load of other processes than wall time */
  cpu_x_torch: number | null
  /** first step at the initial weights: relative differences of the loss and (full only: LoRA's
   *  A is drawn differently and its dropout masks differ) the gradient norm */
  first_rel_diff: { loss: number; grad_norm: number | null } | null
}

/** the part of the engine's result the comparison reads */
export interface EngineTrainFigures {
  mode: 'lora' | 'full'
  batch: number
  seq: number
  seconds: number[]
  cpu_seconds: number[]
  first: { loss: number; grad_norm: number }
  peak_rss_mb: number
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rel = (x: number, y: number): number => Math.abs(x - y) / Math.max(Math.abs(y), 1e-12)

/** Tokens/s of both (a step's tokens over the median step), their ratio in wall and CPU time,
 *  and the first-step agreement. */
export function compareTrain(mode: 'lora' | 'full', backend: string, engine: EngineTrainFigures | { error: string }, torch: TorchTrainResult | { error: string } | null): TrainComparison {
  const row: TrainComparison = {
    name: `llm/train-${mode}`,
    backend,
    engine,
    torch,
    tokens_per_s: null,
    torch_tokens_per_s: null,
    x_torch: null,
    cpu_x_torch: null,
    first_rel_diff: null
  }
  if ('error' in engine) return row
  const tokens = engine.batch * engine.seq
  row.tokens_per_s = tokens / median(engine.seconds)
  if (!torch || 'error' in torch) return row
  row.torch_tokens_per_s = tokens / median(torch.seconds)
  row.x_torch = row.tokens_per_s / row.torch_tokens_per_s
  row.cpu_x_torch = median(torch.cpu_seconds) / median(engine.cpu_seconds)
  row.first_rel_diff = { loss: rel(engine.first.loss, torch.first.loss), grad_norm: mode === 'full' ? rel(engine.first.grad_norm, torch.first.grad_norm) : null }
  return row
}

/** The comparison as lines of text. */
export function formatTrainRows(rows: TrainComparison[]): string[] {
  const f = (x: number | null, d = 1): string => (x === null ? '–' : x.toFixed(d))
  const lines: string[] = []
  for (const r of rows) {
    if ('error' in r.engine) {
      lines.push(`${r.name} ${r.backend}: failed: ${r.engine.error}`)
      continue
    }
    const e = r.engine
    lines.push(
      `${r.name} ${r.backend}: ${f(r.tokens_per_s)} tokens/s (batch ${e.batch} × ${e.seq}; steps ${e.seconds.map((x) => x.toFixed(1)).join(', ')} s, CPU ${e.cpu_seconds.map((x) => x.toFixed(1)).join(', ')} s), peak RSS ${e.peak_rss_mb.toFixed(0)} MB`
    )
    if (r.torch && 'error' in r.torch) lines.push(`  PyTorch failed: ${r.torch.error}`)
    else if (r.torch) {
      const t = r.torch
      lines.push(
        `  PyTorch ${t.torch} (${t.threads} threads): ${f(r.torch_tokens_per_s)} tokens/s (steps ${t.seconds.map((x) => x.toFixed(1)).join(', ')} s, CPU ${t.cpu_seconds.map((x) => x.toFixed(1)).join(', ')} s), peak RSS ${t.peak_rss_mb.toFixed(0)} MB`
      )
      lines.push(`  engine ÷ PyTorch: ${f(r.x_torch, 2)}× tokens/s, ${f(r.cpu_x_torch, 2)}× tokens per CPU-second`)
      const d = r.first_rel_diff!
      lines.push(
        `  first step from the same weights and batch: loss ${e.first.loss.toPrecision(7)} (PyTorch ${t.first.loss.toPrecision(7)}, rel. diff ${d.loss.toExponential(1)})` +
          (d.grad_norm === null
            ? '; gradient norm not compared (LoRA: A is drawn and dropout masks fall differently)'
            : `, gradient norm ${e.first.grad_norm.toPrecision(7)} (PyTorch ${t.first.grad_norm.toPrecision(7)}, rel. diff ${d.grad_norm.toExponential(1)})`)
      )
      if (d.loss > 1e-3 || (d.grad_norm ?? 0) > 1e-3) lines.push('  warning: PyTorch and the engine disagree on the first step; the ratio compares different work')
    }
  }
  const lora = rows.find((r) => r.name === 'llm/train-lora')
  const full = rows.find((r) => r.name === 'llm/train-full' && r.backend === lora?.backend)
  if (lora?.tokens_per_s && full?.tokens_per_s) lines.push(`LoRA ÷ full fine-tuning (engine, ${lora.backend}): ${(lora.tokens_per_s / full.tokens_per_s).toFixed(2)}× tokens/s`)
  return lines
}
