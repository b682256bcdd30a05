// `iwsft bench [--json] [--steps N] [--backend B] [--rounds R] [--only A,B] [--peer] [--threads N]
// [--profile [ENTRY] [--by-shape]] [--no-llm]`:
// ms per training step on every available backend for the entries of bench-entries.ts (SFT and
// iw-SFT with q = current, EMA and periodic on the control policy; SFT on the sequence suite's
// transformer), each with its ratio to SFT measured in the same run on the same backend, then the
// long-trajectory entries, then llm/score, llm/sample, llm/train-full and llm/train-lora for SmolLM2
// (engine/llm/bench-entries.ts; with --peer the fine-tuning entries beside PyTorch + PEFT;
// skipped with the reason when it is not in the cache, or with --no-llm or --only).
//   --only     just these entries (comma-separated names), without the long-trajectory ones
//   --peer     the same shapes in PyTorch (python/bench/peer.py), rounds interleaved with the
//              engine's so that load from other processes falls on both alike: ms/step of each
//              and the ratio engine / PyTorch, and the same for process CPU time per step. The two are first checked to compute the same
//              loss and gradient norm on the same batch from the same weights.
//   --threads N  both frameworks on N threads (TensorFlow's intra- and inter-op pools, set before
//              the native library loads; torch.set_num_threads). Default: each one's own. On a
//              loaded machine PyTorch's OpenMP threads collapse (measured here at load 14 on 2
//              cores: 2 threads 200–300 ms/step against 14–28 ms on 1), so compare at 1 there.
//   --profile  a step profile instead (bench-profile.ts): kernels per step by kind and time,
//              tensors created, uploads, read-backs; ENTRY is one entry name (default: the
//              entries with a PyTorch mirror). --by-shape: native ops told apart by their input
//              shapes too, to see which tensors a step's time goes to.
// An engine tool: it times the trainer on synthetic data in this process, with no project, so it
// does not go through the services.
import { loadavg } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { defaultConfig, type RunConfig } from '../../../shared/config.ts'
import { initBackend, probeBackends, type BackendName } from '../../engine/backend/index.ts'
import { mlpBenches, syntheticControl, transformerBenches, type TrainBench } from '../../engine/backend/bench-entries.ts'
import { findTorchPython, TorchPeer, type PythonTried } from '../../engine/backend/bench-peer.ts'
import { formatProfile, profileSteps, type StepProfile } from '../../engine/backend/bench-profile.ts'
import { createPolicy } from '../../engine/policies/index.ts'
import { Rng } from '../../engine/rng.ts'
import { benchLlm } from '../../engine/llm/bench-entries.ts'
import { scoreSteps } from '../../engine/train/scoring.ts'
import { train } from '../../engine/train/trainer.ts'
import { parseArgs, intFlag, strFlag, UsageError } from '../args.ts'

export interface BenchEntry {
  name: string
  backend: string
  ms_per_step: number
  ratio_to_sft?: number
  /** --peer: PyTorch's ms per step for the same shape, measured in the same rounds */
  torch_ms_per_step?: number
  /** --peer: ms_per_step / torch_ms_per_step */
  ratio_to_torch?: number
  /** --peer: process CPU time per step (all threads) of each, and their ratio: less sensitive to
   *  other processes' load than wall time */
  cpu_ms_per_step?: number
  torch_cpu_ms_per_step?: number
  cpu_ratio_to_torch?: number
  [k: string]: unknown
}

type BenchFn = (backend: BackendName, steps: number) => Promise<BenchEntry[]>
const extraBenches: Array<{ name: string; run: BenchFn }> = []
/** Other suites add their own benchmark entries here. */
export function registerBench(name: string, run: BenchFn): void {
  extraBenches.push({ name, run })
}

const allBenches = (): TrainBench[] => [...mlpBenches(), ...transformerBenches()]
const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]
const r3 = (x: number): number => Number(x.toFixed(3))

interface PeerCheck {
  name: string
  engine: { loss: number; grad_norm: number }
  torch: { loss: number; grad_norm: number }
  /** largest relative difference of the two */
  rel_diff: number
}

/** Time every entry in `rounds` interleaved rounds (engine, then its PyTorch mirror if any),
 *  after a warm-up of each; the median of the rounds. */
export async function benchTrainSteps(
  backend: BackendName,
  steps: number,
  opts: { rounds?: number; peer?: TorchPeer | null; only?: string[]; log?: (s: string) => void } = {}
): Promise<{ results: BenchEntry[]; checks: PeerCheck[] }> {
  const rounds = opts.rounds ?? 3
  const peer = opts.peer ?? null
  const all = allBenches()
  const benches = opts.only ? all.filter((b) => opts.only!.includes(b.name)) : all
  for (const b of all) if (!benches.includes(b)) b.dispose()
  if (!benches.length) throw new UsageError(`--only: no entry among ${opts.only}; entries: ${all.map((b) => b.name).join(', ')}`)
  const checks: PeerCheck[] = []
  try {
    const mirrored = new Set<string>()
    if (peer) {
      const specs = benches.map((b) => b.peerSpec()).filter((s): s is Record<string, unknown> => s !== null)
      await peer.request({ cmd: 'setup', entries: specs })
      for (const s of specs) mirrored.add(s.name as string)
      // the same loss and gradient on the same batch from the same weights, before timing
      for (const b of benches.filter((x) => mirrored.has(x.name))) {
        const e = await b.firstStep(1)
        const t = await peer.request<{ loss: number; grad_norm: number }>({ cmd: 'check', name: b.name, idx: e.idx })
        const rel = (x: number, y: number): number => Math.abs(x - y) / Math.max(Math.abs(y), 1e-12)
        checks.push({ name: b.name, engine: { loss: e.loss, grad_norm: e.grad_norm }, torch: t, rel_diff: Math.max(rel(e.loss, t.loss), rel(e.grad_norm, t.grad_norm)) })
      }
    }
    for (const b of benches) {
      await b.run(5, 1)
      if (mirrored.has(b.name)) await peer!.request({ cmd: 'run', name: b.name, steps: 5, seed: 1 })
    }
    const engineMs = benches.map(() => [] as number[])
    const engineCpu = benches.map(() => [] as number[])
    const torchMs = benches.map(() => [] as number[])
    const torchCpu = benches.map(() => [] as number[])
    const cpuNow = (): number => {
      const u = process.cpuUsage()
      return (u.user + u.system) / 1000
    }
    for (let r = 0; r < rounds; r++) {
      opts.log?.(`round ${r + 1}/${rounds}…`)
      for (const [i, b] of benches.entries()) {
        const c0 = cpuNow()
        engineMs[i].push(await b.run(steps, 2 + r))
        engineCpu[i].push((cpuNow() - c0) / steps)
        if (!mirrored.has(b.name)) continue
        const t = await peer!.request<{ ms_per_step: number; cpu_ms_per_step: number }>({ cmd: 'run', name: b.name, steps, seed: 2 + r })
        torchMs[i].push(t.ms_per_step)
        torchCpu[i].push(t.cpu_ms_per_step)
      }
    }
    const results: BenchEntry[] = benches.map((b, i) => {
      const e: BenchEntry = { name: b.name, backend, ms_per_step: r3(median(engineMs[i])) }
      if (torchMs[i].length) {
        e.torch_ms_per_step = r3(median(torchMs[i]))
        e.ratio_to_torch = Number((e.ms_per_step / e.torch_ms_per_step).toFixed(2))
        e.cpu_ms_per_step = r3(median(engineCpu[i]))
        e.torch_cpu_ms_per_step = r3(median(torchCpu[i]))
        e.cpu_ratio_to_torch = Number((e.cpu_ms_per_step / e.torch_cpu_ms_per_step).toFixed(2))
      }
      return e
    })
    const sft = results.find((e) => e.name === 'sft')?.ms_per_step
    if (sft) for (const e of results) if (!e.name.startsWith('transformer')) e.ratio_to_sft = r3(e.ms_per_step / sft)
    return { results, checks }
  } finally {
    for (const b of benches) b.dispose()
  }
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

async function startPeer(say: (s: string) => void, threads: number | null): Promise<{ peer: TorchPeer | null; info: Record<string, unknown> }> {
  const { python, tried } = findTorchPython()
  const triedText = (t: PythonTried[]): string => t.map((x) => `${x.python} (${x.torch ? `torch ${x.torch}` : x.reason})`).join('; ')
  if (!python) {
    say(`no Python with torch found, running the engine alone. Tried: ${triedText(tried)}. Set IWSFT_PYTHON to a Python that has torch (pip install torch).`)
    return { peer: null, info: { available: false, tried } }
  }
  const peer = TorchPeer.start(python)
  const hello = await peer.request<{ python: string; torch: string; threads: number }>({ cmd: 'hello', threads })
  say(`PyTorch peer: ${python} (Python ${hello.python}, torch ${hello.torch}, ${hello.threads} threads)`)
  return { peer, info: { available: true, tried, python_version: hello.python, torch: hello.torch, threads: hello.threads, python } }
}

async function cmdProfile(args: ReturnType<typeof parseArgs>, backends: BackendName[]): Promise<number> {
  const which = args.flags.get('profile')
  const benches = allBenches()
  const pick = which === true ? benches.filter((b) => b.peerSpec() !== null) : benches.filter((b) => b.name === which)
  if (!pick.length) {
    for (const b of benches) b.dispose()
    throw new UsageError(`--profile: no entry "${String(which)}"; entries: ${benches.map((b) => b.name).join(', ')}`)
  }
  const b = backends[0]
  await initBackend(b)
  const steps = intFlag(args, 'steps', b === 'wasm' || b === 'cpu' ? 5 : 20, 1)
  const out: StepProfile[] = []
  try {
    for (const bench of pick) {
      const p = await profileSteps(bench, steps, args.flags.has('by-shape'))
      out.push(p)
      if (!args.flags.has('json')) process.stdout.write(formatProfile(p) + '\n\n')
    }
  } finally {
    for (const x of benches) x.dispose()
  }
  if (args.flags.has('json')) process.stdout.write(JSON.stringify({ backend: tf.getBackend(), loadavg: loadavg(), profiles: out }) + '\n')
  return 0
}

export const USAGE = [
  'usage: iwsft bench [--json] [--steps N] [--backend B] [--rounds R] [--only A,B] [--peer] [--threads N] [--profile [ENTRY] [--by-shape]] [--no-llm]',
  'ms per training step on every available backend (ratios to SFT measured in the same run); --peer: beside PyTorch; --profile: kernels per step'
].join('\n')

export async function cmdBench(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'peer', 'no-llm', 'by-shape'])
  const json = args.flags.has('json')
  const say = (s: string): void => void process.stderr.write(s + '\n')
  const only = strFlag(args, 'backend')
  const threads = args.flags.has('threads') ? intFlag(args, 'threads', 0, 1) : null
  if (threads !== null) {
    // read by TensorFlow when the native library loads (probeBackends below loads it)
    process.env.TF_NUM_INTRAOP_THREADS = String(threads)
    process.env.TF_NUM_INTEROP_THREADS = String(threads)
    process.env.OMP_NUM_THREADS = String(threads)
  }
  const probe = await probeBackends()
  const backends = probe.filter((b) => b.available && (!only || b.name === only)).map((b) => b.name)
  if (only && !backends.length) throw new UsageError(`--backend ${only} is not available here; \`npx iwsft doctor\` says why`)
  // the cpu backend is ~25× slower than native on this MLP: bench it only when asked
  const selected = only ? backends : backends.filter((b) => b !== 'cpu')
  if (args.flags.has('profile')) return cmdProfile(args, selected)
  const rounds = intFlag(args, 'rounds', 3, 1)
  const onlyFlag = strFlag(args, 'only')
  const onlyEntries = onlyFlag ? onlyFlag.split(',').map((x) => x.trim()) : undefined
  const load = [loadavg()]
  const { peer, info: peerInfo } = args.flags.has('peer') ? await startPeer(say, threads) : { peer: null, info: null }
  const results: BenchEntry[] = []
  const checks: PeerCheck[] = []
  try {
    for (const b of selected) {
      await initBackend(b)
      const steps = intFlag(args, 'steps', b === 'wasm' || b === 'cpu' ? 20 : 60, 1)
      if (!json) say(`benchmarking on ${b} (${steps} steps each, ${rounds} rounds${peer ? ', interleaved with PyTorch' : ''})…`)
      const r = await benchTrainSteps(b, steps, { rounds, peer, only: onlyEntries, log: json ? undefined : say })
      results.push(...r.results)
      for (const c of r.checks) {
        checks.push(c)
        if (c.rel_diff > 1e-3)
          say(
            `warning: ${c.name}: PyTorch and the engine disagree on the first step (loss ${c.engine.loss} vs ${c.torch.loss}, gradient norm ${c.engine.grad_norm} vs ${c.torch.grad_norm}); the ratio compares different work`
          )
      }
      if (onlyEntries) continue
      // a refresh of the q cache falls every 50 steps: time at least 100 so it is counted
      results.push(...(await benchLongTrajectories(b, Math.max(100, steps))))
      for (const x of extraBenches) results.push(...(await x.run(b, steps)))
    }
  } finally {
    await peer?.close()
  }
  // SmolLM2: llm/score and llm/sample on the same backends (engine/llm/bench-entries.ts)
  const llm =
    args.flags.has('no-llm') || onlyEntries
      ? { entries: [], skipped: 'llm/score and llm/sample skipped (--no-llm or --only)' }
      : benchLlm(selected, { log: (l) => !json && process.stderr.write(l), python: peerInfo?.available ? (peerInfo.python as string) : null })
  results.push(...llm.entries)
  load.push(loadavg())
  // cross-backend ratio for the same entry, where more than one backend ran
  const wasmSft = results.find((r) => r.backend === 'wasm' && r.name === 'sft')
  if (wasmSft) for (const r of results) if (r.name === 'sft') r.speedup_vs_wasm = Number((wasmSft.ms_per_step / r.ms_per_step).toFixed(2))
  const report: Record<string, unknown> = { backend: tf.getBackend(), backends: probe, results, skipped: llm.skipped ? [llm.skipped] : [] }
  if (peerInfo) Object.assign(report, { peer: { ...peerInfo, checks }, loadavg: { before: load[0], after: load[1] }, threads })
  if (json) process.stdout.write(JSON.stringify(report) + '\n')
  else {
    const w = (s: string, n: number): string => s.padStart(n)
    process.stdout.write(
      `${'name'.padEnd(32)}${'backend'.padEnd(12)}${w('ms/step', 10)}${w('× sft', 8)}${peer ? `${w('torch ms', 10)}${w('× torch', 9)}${w('cpu ms', 9)}${w('torch cpu', 11)}${w('cpu ×', 7)}` : ''}\n`
    )
    const f = (x: number | undefined, n: number): string => w(x?.toFixed(2) ?? '', n)
    for (const r of results) {
      const torch = peer ? `${f(r.torch_ms_per_step, 10)}${f(r.ratio_to_torch, 9)}${f(r.cpu_ms_per_step, 9)}${f(r.torch_cpu_ms_per_step, 11)}${f(r.cpu_ratio_to_torch, 7)}` : ''
      process.stdout.write(
        `${r.name.padEnd(32)}${r.backend.padEnd(12)}${w(r.ms_per_step.toFixed(2), 10)}${w(String(r.ratio_to_sft ?? ''), 8)}${torch}${r.tokens_per_s !== undefined ? `  ${r.tokens_per_s} tokens/s${r.peak_rss_mb !== undefined ? `, peak RSS ${r.peak_rss_mb} MB` : ''}` : ''}\n`
      )
    }
    if (llm.skipped) process.stdout.write(`${llm.skipped}\n`)
    if (peer) {
      for (const c of checks)
        say(
          `same first step, ${c.name}: loss ${c.engine.loss.toPrecision(7)} (torch ${c.torch.loss.toPrecision(7)}), gradient norm ${c.engine.grad_norm.toPrecision(7)} (torch ${c.torch.grad_norm.toPrecision(7)})`
        )
      say(`load average (1, 5, 15 min): ${load[0].map((x) => x.toFixed(2)).join(' ')} before, ${load[1].map((x) => x.toFixed(2)).join(' ')} after`)
    }
  }
  return 0
}
