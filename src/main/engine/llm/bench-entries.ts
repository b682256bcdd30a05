// `iwsft bench`'s LLM entries (issue 13): llm/score (forward tokens/s scoring a batch of 8 × 256
// tokens: the forward pass, the head and the log-softmax) and llm/sample (tokens/s sampling 16
// prompts × 32 new tokens, KV-cached) for SmolLM2 on each backend, with the peak memory of the
// process that scored. Each backend is measured by bench-llm.ts in a process of its own, so its
// peak resident memory is its own (and not the MLP benchmarks' or another backend's).
// Issue 14 adds llm/train-lora and llm/train-full: tokens/s of the engine's trainer fine-tuning
// SmolLM2 (SFT, AdamW, batch 4 × 256 as the PyTorch anchor; LoRA r 8 on every linear, or every
// weight), each mode in its own process with its peak memory; given a Python with torch
// (opts.python, e.g. findTorchPython's for `--peer`), PyTorch fine-tunes the same batches right
// after each mode (bench-llm-peer.ts) and the entry carries its figures and the ratios.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { trainInChild, type LlmBenchResult } from './bench-llm.ts'
import { SMOLLM2, smollm2Path } from './models.ts'
import { compareTrain, torchTrain } from './bench-llm-peer.ts'

export interface LlmBenchEntry {
  name: 'llm/score' | 'llm/sample' | 'llm/train-lora' | 'llm/train-full'
  backend: string
  ms_per_step: number
  tokens_per_s: number
  [k: string]: unknown
}

/** The entries for `backends`, or the reason there are none (SmolLM2 is not in the cache). */
export function benchLlm(backends: string[], opts: { reps?: number; log?: (line: string) => void; python?: string | null } = {}): { entries: LlmBenchEntry[]; skipped: string | null } {
  const { path, present } = smollm2Path()
  if (!present) return { entries: [], skipped: `llm/score, llm/sample, llm/train-lora and llm/train-full skipped: ${path} is not in the model cache; fetch it with ${SMOLLM2.fetchCommand}` }
  const script = fileURLToPath(new URL('./bench-llm.ts', import.meta.url))
  const entries: LlmBenchEntry[] = []
  for (const b of backends) {
    opts.log?.(`benchmarking SmolLM2 on ${b} (scoring 8 × 256 tokens, sampling 16 prompts)…\n`)
    // wasm scores ~7× slower: one timed batch there, two on native backends
    const reps = opts.reps ?? (b === 'wasm' || b === 'cpu' ? 1 : 2)
    const p = spawnSync(process.execPath, ['--import', 'tsx', script, '--child', '--backends', b, '--model', path, '--reps', String(reps)], { encoding: 'utf8', maxBuffer: 1 << 26 })
    let r: LlmBenchResult
    try {
      r = JSON.parse(p.stdout.trim().split('\n').pop() ?? '') as LlmBenchResult
    } catch {
      opts.log?.(`SmolLM2 on ${b} failed:\n${(p.stderr ?? '').split('\n').slice(-6).join('\n')}\n`)
      continue
    }
    const f = r.forward
    entries.push({
      name: 'llm/score',
      backend: b,
      ms_per_step: Number(((f.batch * f.seq * 1000) / f.tokens_per_s).toFixed(1)),
      tokens_per_s: Number(f.tokens_per_s.toFixed(1)),
      batch: f.batch,
      seq: f.seq,
      load_s: Number(r.load_s.toFixed(2)),
      peak_rss_mb: Math.round(r.peak_rss_mb)
    })
    entries.push({
      name: 'llm/sample',
      backend: b,
      ms_per_step: Number(((r.sample.seconds * 1000) / Math.max(1, r.sample.new_tokens)).toFixed(1)),
      tokens_per_s: Number(r.sample.tokens_per_s.toFixed(1)),
      prompts: r.sample.prompts,
      new_tokens: r.sample.new_tokens
    })
    for (const mode of ['lora', 'full'] as const) {
      opts.log?.(`fine-tuning SmolLM2 on ${b} (${mode}, SFT, batch 4 × 256)…\n`)
      const t = trainInChild(path, b, mode, { reps, batch: 4, seq: 256 })
      if ('error' in t) {
        opts.log?.(`SmolLM2 ${mode} fine-tuning on ${b} failed:\n${t.error}\n`)
        continue
      }
      // with a Python that has torch (opts.python): PyTorch on the same batches right after
      const torch = opts.python ? torchTrain(opts.python, path, mode, t.peer) : null
      if (torch && 'error' in torch) opts.log?.(`PyTorch ${mode} fine-tuning failed:\n${torch.error}\n`)
      const c = compareTrain(mode, b, t, torch)
      const r2 = (x: number | null): number | undefined => (x === null ? undefined : Number(x.toFixed(2)))
      entries.push({
        name: `llm/train-${mode}`,
        backend: b,
        ms_per_step: Number(((t.batch * t.seq * 1000) / t.tokens_per_s).toFixed(1)),
        tokens_per_s: Number(t.tokens_per_s.toFixed(1)),
        batch: t.batch,
        seq: t.seq,
        trained_parameters: t.parameters,
        peak_rss_mb: Math.round(t.peak_rss_mb),
        ...(c.torch_tokens_per_s !== null
          ? {
              torch_ms_per_step: Number(((t.batch * t.seq * 1000) / c.torch_tokens_per_s).toFixed(1)),
              torch_tokens_per_s: Number(c.torch_tokens_per_s.toFixed(1)),
              // bench.ts's ratios: ms/step engine ÷ PyTorch (lower is faster), CPU time likewise
              ratio_to_torch: r2(1 / c.x_torch!),
              cpu_ratio_to_torch: r2(1 / c.cpu_x_torch!),
              first_step_rel_diff: c.first_rel_diff
            }
          : {})
      })
    }
  }
  return { entries, skipped: null }
}
