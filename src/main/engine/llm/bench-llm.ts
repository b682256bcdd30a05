// LLM speed on this machine (a benchmark, not a test): forward tokens/s scoring a batch of
// 8 × 256 tokens (the full forward pass, the head and the log-softmax) and sampling tokens/s for
// 16 prompts, per backend, each backend in its own process so its peak memory is its own.
//
//   npx tsx src/main/engine/llm/bench-llm.ts [--model PATH] [--backends native-cpu,wasm]
//        [--batch 8] [--seq 256] [--prompts 16] [--new 32] [--reps 2] [--torch PYTHON] [--json]
//
// Fine-tuning speed (issue 14): --train lora,full times the engine's trainer (train/trainer.ts,
// SFT, AdamW, token-normalised loss) on batch 4 × 256 random tokens, LoRA r 8 on every linear
// or every weight trainable, each mode in its own process (its own peak RSS):
//   npx tsx src/main/engine/llm/bench-llm.ts --train lora,full [--backends native-cpu] [--train-batch 4]
//        [--train-seq 256] [--micro N] [--lora-dropout 0.05[,0]] [--reps 2] [--peer | --torch PYTHON] [--threads N] [--json]
// --lora-dropout takes a list: LoRA is timed once per rate (rows "llm/train-lora (dropout P)"),
// e.g. `--train full,lora --lora-dropout 0.05,0` times all three in one run.
// --peer (or --torch PYTHON) trains the same batches in PyTorch right after each mode
// (bench-llm-peer.ts, python/bench/llm_peer.py: transformers + PEFT on the same GGUF) and prints
// both tokens/s, their ratio in wall and in CPU time, and the first step's loss (full: and
// gradient norm) of each from the same weights. --peer looks for torch as `iwsft bench --peer`
// does (IWSFT_PYTHON, else the workbench's venvs, else python3); without it the engine runs alone
// and says so. --threads N puts both on N threads (on a loaded machine PyTorch's OpenMP threads
// collapse: compare at 1 there, as `iwsft bench --threads`).
//
// --model defaults to SmolLM2 in the model cache. For scoring, --torch PYTHON also times PyTorch
// (transformers' GGUF loader, float32, its default attention) on the same file and batch in the same run,
// for the ratio issue 13 asks for (≥ 0.7× PyTorch's forward tokens/s).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, basename, resolve } from 'node:path'
import { loadavg } from 'node:os'
import { resolveConfig } from '../../../shared/config.ts'
import { fromTraces } from '../../common/trace.ts'
import { initBackend, type BackendName } from '../backend/index.ts'
import { Rng } from '../rng.ts'
import { train } from '../train/trainer.ts'
import { generate } from './generate.ts'
import { loadLlm } from './load.ts'
import { LORA_TARGETS } from './lora.ts'
import { smollm2Path } from './models.ts'
import { LlmPolicy, type LlmTraining } from './policy.ts'
import { compareTrain, formatTrainRows, torchTrain, type TorchTrainData, type TrainComparison } from './bench-llm-peer.ts'
import { findTorchPython } from '../backend/bench-peer.ts'
import { batchSchedule } from '../train/batch-schedule.ts'
import { scoreBatch } from './score.ts'

interface Args {
  model: string
  backends: string[]
  batch: number
  seq: number
  prompts: number
  newTokens: number
  reps: number
  torch: string | null
  /** --peer: PyTorch beside the fine-tuning entries (IWSFT_PYTHON, else the workbench's venvs) */
  peer: boolean
  /** --threads N: both on N threads (TensorFlow's pools in the engine's child, torch.set_num_threads) */
  threads: number | null
  json: boolean
  child: boolean
  /** fine-tuning modes to time (lora, full); empty = scoring and sampling */
  train: Array<'lora' | 'full'>
  trainBatch: number
  trainSeq: number
  /** train.micro_batch (gradient accumulation): null = the whole batch in one pass */
  trainMicro: number | null
  /** LoRA's dropout rates, one LoRA entry each (default 0.05) */
  loraDropout: number[]
}

function parse(argv: string[]): Args {
  const get = (k: string): string | undefined => {
    const i = argv.indexOf(`--${k}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  return {
    model: get('model') ?? smollm2Path().path,
    backends: (get('backends') ?? 'native-cpu,wasm').split(',').filter(Boolean),
    batch: Number(get('batch') ?? 8),
    seq: Number(get('seq') ?? 256),
    prompts: Number(get('prompts') ?? 16),
    newTokens: Number(get('new') ?? 32),
    reps: Number(get('reps') ?? 2),
    torch: get('torch') ?? null,
    peer: argv.includes('--peer'),
    threads: get('threads') ? Number(get('threads')) : null,
    json: argv.includes('--json'),
    child: argv.includes('--child'),
    train: (get('train') ?? '').split(',').filter((x): x is 'lora' | 'full' => x === 'lora' || x === 'full'),
    trainBatch: Number(get('train-batch') ?? 4),
    trainSeq: Number(get('train-seq') ?? 256),
    trainMicro: get('micro') ? Number(get('micro')) : null,
    loraDropout: dropoutRates(get('lora-dropout') ?? '0.05')
  }
}

/** --lora-dropout's comma-separated rates, each in [0, 1) */
function dropoutRates(text: string): number[] {
  const rates = text.split(',').map((x) => Number(x.trim()))
  if (rates.length === 0 || rates.some((p) => !(p >= 0 && p < 1))) throw new Error(`--lora-dropout: expected rates in [0, 1) separated by commas (e.g. 0.05,0), got "${text}"`)
  return rates
}

export interface LlmBenchResult {
  backend: string
  model: string
  load_s: number
  /** seconds: wall clock; cpu_seconds: this process's CPU time (both cores), less sensitive to other load */
  forward: { batch: number; seq: number; tokens_per_s: number; seconds: number[]; cpu_seconds: number[] }
  sample: { prompts: number; new_tokens: number; tokens_per_s: number; seconds: number }
  peak_rss_mb: number
}

export interface LlmTrainBenchResult {
  backend: string
  model: string
  mode: 'lora' | 'full'
  batch: number
  seq: number
  micro_batch: number | null
  /** trained parameters */
  parameters: number
  load_s: number
  /** tokens a step / median seconds a step (after one warm-up step) */
  tokens_per_s: number
  seconds: number[]
  /** this process's CPU time (all threads) of each timed step */
  cpu_seconds: number[]
  /** loss and gradient norm (before clipping) of the first step, from the initial weights */
  first: { loss: number; grad_norm: number }
  peak_rss_mb: number
  /** what the PyTorch peer needs to train on the same batches (bench-llm-peer.ts) */
  peer: TorchTrainData
}

/** Time `reps` SFT steps of the engine's trainer (after one warm-up step) on random tokens. */
async function runTrain(a: Args, backend: string, mode: 'lora' | 'full'): Promise<LlmTrainBenchResult> {
  await initBackend(backend as BackendName)
  const t0 = performance.now()
  const llm = await loadLlm(a.model)
  const loadS = (performance.now() - t0) / 1000
  const V = llm.spec.vocabSize
  const rng = new Rng(1)
  const B = a.trainBatch
  const T = a.trainSeq
  const traces = Array.from({ length: B }, (_, i) => ({
    id: `r${i}`,
    actions: Int32Array.from({ length: T }, () => 3 + rng.int(V - 3)),
    mask: Array.from({ length: T }, (_, t) => (t > 0 ? 1 : 0)),
    score: 1
  }))
  const ds = fromTraces('bench', 'sequence', 0, V, traces)
  const steps = a.reps + 1
  const config = resolveConfig({
    domain: 'sequence',
    dataset: 'bench',
    method: 'sft',
    backend: 'cpu',
    curation: { mode: 'all' },
    policy: { kind: 'llm', model: a.model, finetune: mode },
    optim: { kind: 'adamw', lr: 1e-5, weight_decay: 0.01, schedule: 'constant' },
    train: { steps, batch_size: B, micro_batch: a.trainMicro, loss_norm: 'token', log_every: 1, snapshot_every: steps, eval_every: steps }
  })
  const training: LlmTraining = mode === 'full' ? { mode: 'full' } : { mode: 'lora', rank: 8, alpha: 16, dropout: a.loraDropout[0], targets: [...LORA_TARGETS] }
  const policy = new LlmPolicy(llm.model, { model: a.model, training, seed: 1 })
  const parameters = policy.variables.reduce((n, v) => n + v.size, 0)
  const marks: number[] = [performance.now()]
  const cpuNow = (): number => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1e6
  }
  const cpuMarks: number[] = [cpuNow()]
  let first = { loss: NaN, grad_norm: NaN }
  // B traces drawn uniformly with replacement each step (the trainer's sampler); batchSchedule
  // lists the same draws for the PyTorch peer
  const multiplicity = new Uint8Array(B).fill(1)
  const rows = batchSchedule('sft', multiplicity, new Rng(3), steps, B)
  await train(
    { config, dataset: ds, policy, multiplicity, refLogProbs: null, rng: new Rng(3) },
    {
      onLog: (step, m) => {
        if (step === 1) first = { loss: m.loss, grad_norm: m.grad_norm }
      },
      onProgress: () => {
        marks.push(performance.now())
        cpuMarks.push(cpuNow())
      }
    }
  )
  const seconds = marks.slice(2).map((t, i) => (t - marks[i + 1]) / 1000)
  const cpuSeconds = cpuMarks.slice(2).map((t, i) => t - cpuMarks[i + 1])
  policy.dispose()
  llm.dispose()
  return {
    backend,
    model: basename(a.model),
    mode,
    batch: B,
    seq: T,
    micro_batch: a.trainMicro,
    parameters,
    load_s: loadS,
    tokens_per_s: (B * T) / median(seconds),
    seconds,
    cpu_seconds: cpuSeconds,
    first,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    peer: {
      tokens: traces.map((t) => Array.from(t.actions)),
      steps: rows.map((r) => Array.from(r)),
      optim: { lr: config.optim.lr, betas: config.optim.betas, eps: config.optim.eps, weight_decay: config.optim.weight_decay },
      lora: training.mode === 'lora' ? { rank: training.rank, alpha: training.alpha, dropout: training.dropout, targets: training.targets } : null
    }
  }
}

/** One fine-tuning mode in a process of its own (its own peak memory). */
export function trainInChild(
  model: string,
  backend: string,
  mode: 'lora' | 'full',
  o: { reps: number; batch: number; seq: number; micro?: number | null; threads?: number | null; loraDropout?: number }
): LlmTrainBenchResult | { error: string } {
  // --threads: TensorFlow's pools, read when the native library loads (as `iwsft bench --threads`)
  const env = o.threads ? { ...process.env, TF_NUM_INTRAOP_THREADS: String(o.threads), TF_NUM_INTEROP_THREADS: String(o.threads), OMP_NUM_THREADS: String(o.threads) } : process.env
  const script = fileURLToPath(import.meta.url)
  const p = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      script,
      '--child',
      '--backends',
      backend,
      '--model',
      model,
      '--train',
      mode,
      '--reps',
      String(o.reps),
      '--train-batch',
      String(o.batch),
      '--train-seq',
      String(o.seq),
      ...(o.micro ? ['--micro', String(o.micro)] : []),
      ...(o.loraDropout !== undefined ? ['--lora-dropout', String(o.loraDropout)] : [])
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26, env }
  )
  try {
    return JSON.parse(p.stdout.trim().split('\n').pop() ?? '') as LlmTrainBenchResult
  } catch {
    return { error: (p.stderr ?? '').split('\n').slice(-6).join('\n') }
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function runOne(a: Args, backend: string): Promise<LlmBenchResult> {
  await initBackend(backend as BackendName)
  let t0 = performance.now()
  const llm = await loadLlm(a.model)
  const loadS = (performance.now() - t0) / 1000
  const V = llm.spec.vocabSize
  const rng = new Rng(1)
  const B = a.batch
  const T = a.seq
  const ids = Int32Array.from({ length: B * T }, () => 3 + rng.int(V - 3))
  const lens = new Array(B).fill(T)
  scoreBatch(llm.model, ids.slice(0, 2 * 16), [16, 16], 2, 16) // warm-up (kernels, tables)
  const secs: number[] = []
  const cpu: number[] = []
  for (let r = 0; r < a.reps; r++) {
    const c0 = process.cpuUsage()
    t0 = performance.now()
    scoreBatch(llm.model, ids, lens, B, T)
    secs.push((performance.now() - t0) / 1000)
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / 1e6)
  }
  const prompts = Array.from({ length: a.prompts }, (_, i) => Array.from({ length: 20 + ((i * 7) % 41) }, () => 3 + rng.int(V - 3)))
  generate(llm.model, prompts.slice(0, 2), { maxNewTokens: 2, temperature: 0 }) // warm-up
  t0 = performance.now()
  const gens = generate(llm.model, prompts, { maxNewTokens: a.newTokens, temperature: 1, rng: new Rng(2) })
  const sampleS = (performance.now() - t0) / 1000
  const produced = gens.reduce((n, g) => n + g.tokens.length, 0)
  llm.dispose()
  return {
    backend,
    model: basename(a.model),
    load_s: loadS,
    forward: { batch: B, seq: T, tokens_per_s: (B * T) / median(secs), seconds: secs, cpu_seconds: cpu },
    sample: { prompts: a.prompts, new_tokens: produced, tokens_per_s: produced / sampleS, seconds: sampleS },
    peak_rss_mb: process.resourceUsage().maxRSS / 1024
  }
}

// PyTorch as the issue's anchor measured it (transformers' default attention, no-grad forward of
// 8 × 256 ids to logits, 2 torch threads), and the same with the log-softmax the engine's number
// includes
const TORCH = `
import sys, time, json, os, resource, torch
from transformers import AutoModelForCausalLM
torch.set_num_threads(2)
path, B, T, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
m = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32).eval()
g = torch.Generator().manual_seed(1)
ids = torch.randint(3, m.config.vocab_size, (B, T), generator=g)
def timed(f):
    secs, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return sorted(secs)[len(secs) // 2], sorted(cpu)[len(cpu) // 2]
with torch.no_grad():
    m(input_ids=ids[:2, :16], use_cache=False)
    fwd, fwd_cpu = timed(lambda: m(input_ids=ids, use_cache=False))
    score, score_cpu = timed(lambda: torch.log_softmax(m(input_ids=ids, use_cache=False).logits[:, :-1], -1).gather(-1, ids[:, 1:, None]))
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "attention": m.config._attn_implementation,
                  "tokens_per_s": B * T / fwd, "cpu_seconds": fwd_cpu, "score_tokens_per_s": B * T / score, "score_cpu_seconds": score_cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`

/** The fine-tuning entries, each mode in a process of its own, then (with --peer or --torch)
 *  PyTorch on the same batches right after it, so that both see the same load. */
async function benchTrainModes(a: Args): Promise<void> {
  let python = a.torch
  if (!python && a.peer) {
    const found = findTorchPython()
    python = found.python
    if (!python)
      console.log(
        `no Python with torch found, running the engine alone. Tried: ${found.tried.map((t) => `${t.python} (${t.reason})`).join('; ')}. Set IWSFT_PYTHON to a Python that has torch, transformers and peft.`
      )
  }
  const load = [loadavg()]
  const out: TrainComparison[] = []
  for (const b of a.backends)
    for (const mode of a.train)
      for (const loraDropout of mode === 'lora' ? a.loraDropout : [undefined]) {
        const engine = trainInChild(a.model, b, mode, { reps: a.reps, batch: a.trainBatch, seq: a.trainSeq, micro: a.trainMicro, threads: a.threads, loraDropout })
        const torch = python && !('error' in engine) ? torchTrain(python, a.model, mode, engine.peer, a.threads) : null
        const row = compareTrain(mode, b, engine, torch)
        if (mode === 'lora' && a.loraDropout.length > 1) row.name += ` (dropout ${loraDropout})`
        out.push(row)
      }
  load.push(loadavg())
  if (a.json) {
    process.stdout.write(
      `${JSON.stringify({ results: out.map(({ engine, ...r }) => ({ ...r, engine: 'error' in engine ? engine : { ...engine, peer: undefined } })), loadavg: load }, null, 2)}\n`
    )
    return
  }
  for (const line of formatTrainRows(out)) console.log(line)
  const la = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ')
  console.log(`load average (1, 5, 15 min) ${la(load[0])} before, ${la(load[1])} after (other work on these cores slows both)`)
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2))
  if (a.child && a.train.length) {
    process.stdout.write(`${JSON.stringify(await runTrain(a, a.backends[0], a.train[0]))}\n`)
    return
  }
  if (a.train.length) {
    await benchTrainModes(a)
    return
  }
  if (a.child) {
    const r = await runOne(a, a.backends[0])
    process.stdout.write(`${JSON.stringify(r)}\n`)
    return
  }
  const here = fileURLToPath(import.meta.url)
  const results: LlmBenchResult[] = []
  for (const b of a.backends) {
    const args = [
      'tsx',
      here,
      '--child',
      '--backends',
      b,
      '--model',
      a.model,
      '--batch',
      String(a.batch),
      '--seq',
      String(a.seq),
      '--prompts',
      String(a.prompts),
      '--new',
      String(a.newTokens),
      '--reps',
      String(a.reps)
    ]
    const p = spawnSync('npx', args, { cwd: dirname(here), encoding: 'utf8', maxBuffer: 1 << 26 })
    const line = p.stdout.trim().split('\n').pop() ?? ''
    try {
      results.push(JSON.parse(line) as LlmBenchResult)
    } catch {
      process.stderr.write(`backend ${b} failed:\n${p.stderr.split('\n').slice(-8).join('\n')}\n`)
    }
  }
  let torch: {
    torch: string
    threads: number
    attention: string
    tokens_per_s: number
    cpu_seconds: number
    score_tokens_per_s: number
    score_cpu_seconds: number
    peak_rss_mb: number
  } | null = null
  if (a.torch) {
    const p = spawnSync(a.torch, ['-c', TORCH, a.model, String(a.batch), String(a.seq), String(a.reps)], { encoding: 'utf8', maxBuffer: 1 << 26 })
    try {
      torch = JSON.parse(p.stdout.trim().split('\n').pop() ?? '')
    } catch {
      process.stderr.write(`PyTorch run failed:\n${p.stderr.split('\n').slice(-8).join('\n')}\n`)
    }
  }
  if (a.json) {
    process.stdout.write(
      `${JSON.stringify({ results, torch, ratio_to_torch: torch ? Object.fromEntries(results.map((r) => [r.backend, r.forward.tokens_per_s / torch!.tokens_per_s])) : null }, null, 2)}\n`
    )
    return
  }
  const f = (x: number, d = 1): string => x.toFixed(d)
  console.log(`model ${basename(a.model)}; forward batch ${a.batch} × ${a.seq}; sampling ${a.prompts} prompts × ${a.newTokens} new tokens`)
  const cpuS = (xs: number[]): number => median(xs)
  console.log('backend      load s  forward tok/s  forward CPU-s  sample tok/s  peak RSS MB' + (torch ? '  forward / PyTorch' : ''))
  for (const r of results) {
    console.log(
      `${r.backend.padEnd(11)} ${f(r.load_s).padStart(7)} ${f(r.forward.tokens_per_s).padStart(14)} ${f(cpuS(r.forward.cpu_seconds), 2).padStart(14)} ${f(r.sample.tokens_per_s).padStart(13)} ${f(r.peak_rss_mb, 0).padStart(12)}` +
        (torch ? ` ${f(r.forward.tokens_per_s / torch.tokens_per_s, 2).padStart(18)}` : '')
    )
  }
  if (torch) {
    console.log(
      `PyTorch ${torch.torch} (${torch.threads} threads, ${torch.attention} attention): forward to logits ${f(torch.tokens_per_s)} tok/s (${f(torch.cpu_seconds, 2)} CPU-s), ` +
        `with the log-softmax ${f(torch.score_tokens_per_s)} tok/s (${f(torch.score_cpu_seconds, 2)} CPU-s); peak RSS ${f(torch.peak_rss_mb, 0)} MB`
    )
    console.log("forward / PyTorch = the engine's scoring (forward + log-softmax) over PyTorch's forward to logits (the anchor's measure)")
  }
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (other work on these cores slows both)`
  )
}

// run only as a script (bench-entries.ts imports trainInChild from here)
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
