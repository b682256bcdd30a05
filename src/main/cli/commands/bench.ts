// `iwsft bench [--json] [--steps N] [--backend B] [--no-llm]`: ms per training step for SFT and iw-SFT with
// q = current, EMA and periodic on the control policy (Gaussian MLP 3×256, 17 inputs, 6 actions,
// 256 state-action pairs a batch: 16 traces × 16 steps), on every available backend, each with
// its ratio to SFT measured in the same run on the same backend; then llm/score and llm/sample
// for SmolLM2 (engine/llm/bench-entries.ts; skipped with the reason when it is not in the cache).
// An engine tool: it times the trainer on synthetic data in this process, with no project, so it
// does not go through the services.
import * as tf from '@tensorflow/tfjs'
import { defaultConfig, type Method, type RunConfig } from '../../../shared/config.ts'
import { initBackend, probeBackends, type BackendName } from '../../engine/backend/index.ts'
import { fromTraces } from '../../common/trace.ts'
import { createPolicy } from '../../engine/policies/index.ts'
import { Rng } from '../../engine/rng.ts'
import { benchLlm } from '../../engine/llm/bench-entries.ts'
import { scoreSteps } from '../../engine/train/scoring.ts'
import { train } from '../../engine/train/trainer.ts'
import { parseArgs, intFlag, strFlag } from '../args.ts'

export interface BenchEntry {
  name: string
  backend: string
  ms_per_step: number
  ratio_to_sft?: number
  [k: string]: unknown
}

function syntheticControl(traces: number, len: number, seed: number) {
  const rng = new Rng(seed)
  return fromTraces(
    'bench',
    'continuous',
    17,
    6,
    Array.from({ length: traces }, (_, i) => ({
      obs: Float32Array.from({ length: len * 17 }, () => rng.normal()),
      actions: Float32Array.from({ length: len * 6 }, () => Math.tanh(rng.normal())),
      score: i
    }))
  )
}

const VARIANTS: Array<{ name: string; method: Method; q: RunConfig['weights']['q'] }> = [
  { name: 'sft', method: 'sft', q: { kind: 'current' } },
  { name: 'iw-sft/current', method: 'iw-sft', q: { kind: 'current' } },
  { name: 'iw-sft/ema', method: 'iw-sft', q: { kind: 'ema', beta: 0.9 } },
  { name: 'iw-sft/periodic', method: 'iw-sft', q: { kind: 'periodic', every: 50 } }
]

async function benchMlpMethods(backend: BackendName, steps: number, rounds = 3): Promise<BenchEntry[]> {
  const ds = syntheticControl(256, 16, 1)
  const base = defaultConfig('control')
  const setups = VARIANTS.map((v) => {
    const config: RunConfig = {
      ...base,
      method: v.method,
      curation: { mode: 'all' },
      weights: { ...base.weights, q: v.q },
      train: { ...base.train, steps, batch_size: 16, log_every: steps, snapshot_every: 10 * steps, eval_every: steps }
    }
    const policy = createPolicy(config.policy, ds, new Rng(0))
    return { v, config, policy, ref: scoreSteps(policy, ds) }
  })
  const runOnce = async (s: (typeof setups)[number], n: number, seed: number): Promise<number> => {
    const t0 = performance.now()
    await train({
      config: { ...s.config, train: { ...s.config.train, steps: n } },
      dataset: ds,
      policy: s.policy,
      multiplicity: new Uint8Array(256).fill(1),
      refLogProbs: s.ref,
      rng: new Rng(seed)
    })
    return (performance.now() - t0) / n
  }
  // warm every variant up (kernel compilation, allocation), then time them in interleaved
  // rounds so that load from other processes falls on all of them alike; report the median
  for (const s of setups) await runOnce(s, 5, 1)
  const times = setups.map(() => [] as number[])
  for (let r = 0; r < rounds; r++) for (const [i, s] of setups.entries()) times[i].push(await runOnce(s, steps, 2 + r))
  const med = (a: number[]): number => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]
  const out: BenchEntry[] = setups.map((s, i) => ({ name: s.v.name, backend, ms_per_step: Number(med(times[i]).toFixed(3)) }))
  for (const s of setups) s.policy.dispose()
  const sft = out[0].ms_per_step
  for (const e of out) e.ratio_to_sft = Number((e.ms_per_step / sft).toFixed(3))
  return out
}

/** Full-trajectory weights on long trajectories (issue: control suite): the direct batch (every
 *  step of 16 trajectories of 500 steps through π_θ and q each step) against the cheaper path
 *  (log q cached over the curated set, refreshed every 50 steps; 16 sampled steps a trajectory
 *  for the gradient). The cheaper path's ratio is < 1: its speed-up is 1/ratio. */
async function benchLongTrajectories(backend: BackendName, steps: number): Promise<BenchEntry[]> {
  const ds = syntheticControl(128, 500, 3)
  const base = defaultConfig('control')
  const variants: Array<{ name: string; q_refresh: number | null; step_sample: number | null }> = [
    { name: 'iw-sft-q/full-trajectory', q_refresh: null, step_sample: null },
    { name: 'iw-sft-q/cached-q+step-sample', q_refresh: 50, step_sample: 16 }
  ]
  const out: BenchEntry[] = []
  for (const v of variants) {
    const config: RunConfig = {
      ...base,
      method: 'iw-sft-q',
      curation: { mode: 'quality_bins', cutoffs: [50, 75, 90] },
      weights: { ...base.weights, q_refresh: v.q_refresh },
      train: { ...base.train, steps, batch_size: 16, log_every: steps, snapshot_every: 10 * steps, eval_every: steps, step_sample: v.step_sample }
    }
    const policy = createPolicy(config.policy, ds, new Rng(0))
    const multiplicity = Uint8Array.from({ length: 128 }, (_, i) => (i >= 64 ? 1 + (i % 3) : 0))
    const setup = { config, dataset: ds, policy, multiplicity, refLogProbs: scoreSteps(policy, ds) }
    await train({ ...setup, config: { ...config, train: { ...config.train, steps: 2 } }, rng: new Rng(1) })
    const t0 = performance.now()
    await train({ ...setup, rng: new Rng(2) })
    out.push({ name: v.name, backend, ms_per_step: Number(((performance.now() - t0) / steps).toFixed(3)), trajectory_steps: 500, trajectories_per_batch: 16 })
    policy.dispose()
  }
  out[1].ratio_to_full_trajectory = Number((out[1].ms_per_step / out[0].ms_per_step).toFixed(3))
  return out
}

export async function cmdBench(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'no-llm'])
  const only = strFlag(args, 'backend')
  const probe = await probeBackends()
  const backends = probe.filter((b) => b.available && (!only || b.name === only)).map((b) => b.name)
  // the cpu backend is ~25× slower than native on this MLP: bench it only when asked
  const selected = only ? backends : backends.filter((b) => b !== 'cpu')
  const results: BenchEntry[] = []
  for (const b of selected) {
    await initBackend(b)
    const steps = intFlag(args, 'steps', b === 'wasm' || b === 'cpu' ? 20 : 60, 1)
    if (!args.flags.has('json')) process.stderr.write(`benchmarking on ${b} (${steps} steps each)…\n`)
    results.push(...(await benchMlpMethods(b, steps)))
    // a refresh of the q cache falls every 50 steps: time at least 100 so it is counted
    results.push(...(await benchLongTrajectories(b, Math.max(100, steps))))
  }
  // SmolLM2: llm/score and llm/sample on the same backends (engine/llm/bench-entries.ts)
  const llm = args.flags.has('no-llm') ? { entries: [], skipped: 'llm/score and llm/sample skipped (--no-llm)' } : benchLlm(selected, { log: (l) => !args.flags.has('json') && process.stderr.write(l) })
  results.push(...llm.entries)
  // cross-backend ratio for the same entry, where more than one backend ran
  const wasmSft = results.find((r) => r.backend === 'wasm' && r.name === 'sft')
  if (wasmSft) for (const r of results) if (r.name === 'sft') r.speedup_vs_wasm = Number((wasmSft.ms_per_step / r.ms_per_step).toFixed(2))
  const report = { backend: tf.getBackend(), backends: probe, results, skipped: llm.skipped ? [llm.skipped] : [] }
  if (args.flags.has('json')) process.stdout.write(JSON.stringify(report) + '\n')
  else {
    process.stdout.write(`${'name'.padEnd(20)}${'backend'.padEnd(12)}${'ms/step'.padStart(10)}${'× sft'.padStart(8)}\n`)
    for (const r of results) process.stdout.write(`${r.name.padEnd(20)}${r.backend.padEnd(12)}${r.ms_per_step.toFixed(2).padStart(10)}${String(r.ratio_to_sft ?? '').padStart(8)}${r.tokens_per_s !== undefined ? `  ${r.tokens_per_s} tokens/s${r.peak_rss_mb !== undefined ? `, peak RSS ${r.peak_rss_mb} MB` : ''}` : ''}\n`)
    if (llm.skipped) process.stdout.write(`${llm.skipped}\n`)
  }
  return 0
}
