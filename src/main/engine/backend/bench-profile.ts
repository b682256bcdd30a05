// `iwsft bench --profile [ENTRY]`: what one training step costs, by kind of operation. On the
// native backend a step's time is mostly per-operation dispatch (issue 17: ~18 µs an op on a
// quiet machine), so the count of eager operations matters as much as their arithmetic.
//
// Method: the entry trains n1 and then n2 steps under tf.profile. Counts are the difference
// divided by n2 − n1, so the set-up of a run (optimizer state, first batch) drops out exactly;
// times are the long run's divided by n2 (a difference of two timings is too noisy on a shared
// machine), so they include 1/n2 of the set-up.
// Counted per step:
//   ops       on the native backend: TensorFlow eager ops executed (tfjs-node's
//             executeSingleOutput / executeMultipleOutputs, the true dispatch count: a tfjs kernel can run several, e.g. Mean = Cast + Mean,
//             _FusedMatMul = BatchMatMulV2 + AddV2), by TF op name, with their time. On other
//             backends: tfjs leaf kernels (a kernel that runs others is counted by its parts;
//             Identity, the tape's clone of a kept tensor, does not count as a part)
//   kernels   tfjs kernels run (runKernel calls, nested ones included)
//   tensors   tensors created (every op output, upload and clone)
//   uploads   host → device writes (tf.tensor, scalars from numbers, shape and axis arguments)
//   read-backs  device → host reads (dataSync / data)
//   outside ops   unprofiled wall time minus op time: tfjs bookkeeping (tape, scopes, tensor
//             records), the trainer's host work (sampling, gathering), JS
import * as tf from '@tensorflow/tfjs'
import type { TrainBench } from './bench-entries.ts'

export interface KindCost {
  kind: string
  per_step: number
  ms_per_step: number
}

export interface StepProfile {
  entry: string
  backend: string
  steps: number
  /** unprofiled */
  wall_ms_per_step: number
  /** under tf.profile (which adds its own bookkeeping to every kernel) */
  profiled_ms_per_step: number
  /** 'tensorflow ops' (native) or 'tfjs kernels' (others): what `kinds` and `ops_per_step` count */
  counting: string
  ops_per_step: number
  op_ms_per_step: number
  outside_ops_ms_per_step: number
  kernels_per_step: number
  tensors_per_step: number
  uploads_per_step: number
  readbacks_per_step: number
  /** ops by name, most time first */
  kinds: KindCost[]
}

interface Counts {
  wall: number
  kernels: number
  tensors: number
  uploads: number
  readbacks: number
  kinds: Map<string, { n: number; ms: number }>
}

type Patchable = Record<string, unknown>
type Fn = (...a: unknown[]) => unknown

/** Count what f does (f runs under tf.profile with the engine's entry points wrapped). */
async function counted(f: () => Promise<unknown>, byShape = false): Promise<Counts> {
  const engine = tf.engine() as unknown as Patchable
  const backend = tf.backend() as unknown as Patchable
  const native = typeof backend.executeSingleOutput === 'function'
  const c = { kernels: 0, tensors: 0, uploads: 0, readbacks: 0 }
  const nativeOps = new Map<string, { n: number; ms: number }>()
  // per runKernelFunc call, in the order tf.profile pushes its records (at the call's end):
  // whether other kernels (not Identity) ran inside it
  const leaf: boolean[] = []
  const frames: Array<{ children: number }> = []
  const restore: Array<() => void> = []
  const wrap = (obj: Patchable, name: string, around: (orig: Fn, self: Patchable, args: unknown[]) => unknown): void => {
    const orig = obj[name] as Fn
    const own = Object.prototype.hasOwnProperty.call(obj, name)
    obj[name] = function (this: Patchable, ...args: unknown[]) {
      return around(orig, this, args)
    }
    restore.push(() => {
      if (own) obj[name] = orig
      else delete obj[name]
    })
  }
  wrap(engine, 'runKernelFunc', (orig, self, args) => {
    c.kernels++
    // the Identity clones a kernel makes of its inputs/outputs for the tape do not make it a
    // composite kernel
    const name = (args[0] as { kernelName?: string }).kernelName
    if (frames.length && name !== 'Identity') frames[frames.length - 1].children++
    const frame = { children: 0 }
    frames.push(frame)
    try {
      return orig.apply(self, args)
    } finally {
      frames.pop()
      leaf.push(frame.children === 0)
    }
  })
  wrap(engine, 'trackTensor', (orig, self, args) => {
    c.tensors++
    return orig.apply(self, args)
  })
  for (const m of ['readSync', 'read']) {
    wrap(engine, m, (orig, self, args) => {
      c.readbacks++
      return orig.apply(self, args)
    })
  }
  if (native) {
    // every TensorFlow op tfjs-node runs goes through one of these two
    for (const m of ['executeSingleOutput', 'executeMultipleOutputs']) {
      wrap(backend, m, (orig, self, args) => {
        const t0 = performance.now()
        try {
          return orig.apply(self, args)
        } finally {
          const key = byShape ? `${args[0] as string} ${shapesOf(args[2])}` : (args[0] as string)
          const e = nativeOps.get(key) ?? { n: 0, ms: 0 }
          e.n++
          e.ms += performance.now() - t0
          nativeOps.set(key, e)
        }
      })
    }
  }
  // tensors made from host values (tf.tensor, numbers as scalars, shape and axis arguments);
  // op outputs are made from a backend's data instead
  wrap(engine, 'makeTensor', (orig, self, args) => {
    c.uploads++
    return orig.apply(self, args)
  })
  const t0 = performance.now()
  let info: Awaited<ReturnType<typeof tf.profile>>
  try {
    info = await tf.profile(f as () => Promise<tf.TensorContainer>)
  } finally {
    for (const r of restore.reverse()) r()
  }
  const wall = performance.now() - t0
  if (native) return { wall, ...c, kinds: nativeOps }
  if (info.kernels.length !== leaf.length) throw new Error(`profile: ${info.kernels.length} kernel records for ${leaf.length} kernel calls`)
  const kinds = new Map<string, { n: number; ms: number }>()
  info.kernels.forEach((k, i) => {
    if (!leaf[i]) return
    const e = kinds.get(k.name) ?? { n: 0, ms: 0 }
    e.n++
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
    kinds.set(k.name, e)
  })
  return { wall, ...c, kinds }
}

/** The input shapes of a native op, e.g. "[1024,64]·[64,192]" (scalars as []) */
function shapesOf(inputs: unknown): string {
  if (!Array.isArray(inputs)) return ''
  return inputs.map((t) => `[${((t as { shape?: number[] }).shape ?? []).join(',')}]`).join('·')
}

/** Profile `steps` steps of an entry (after a warm-up), net of a short run's set-up. With
 *  byShape (native backend only), ops are told apart by their input shapes too. */
export async function profileSteps(bench: TrainBench, steps = 20, byShape = false): Promise<StepProfile> {
  await bench.run(3, 1) // warm-up: kernel caches, allocator
  const plain = await bench.run(steps, 1) // unprofiled, for the wall time
  const short = 2
  const a = await counted(() => bench.run(short, 1), byShape)
  const b = await counted(() => bench.run(short + steps, 1), byShape)
  const per = (x: number, y: number): number => (y - x) / steps
  const r3 = (x: number): number => Number(x.toFixed(3))
  const kinds: KindCost[] = []
  const long = short + steps
  for (const [kind, e] of b.kinds) {
    const n = per(a.kinds.get(kind)?.n ?? 0, e.n)
    if (n > 0.01) kinds.push({ kind, per_step: r3(n), ms_per_step: r3(e.ms / long) })
  }
  kinds.sort((x, y) => y.ms_per_step - x.ms_per_step)
  const opMs = kinds.reduce((s, k) => s + k.ms_per_step, 0)
  const native = typeof (tf.backend() as unknown as { executeSingleOutput?: unknown }).executeSingleOutput === 'function'
  return {
    entry: bench.name,
    backend: tf.getBackend(),
    steps,
    wall_ms_per_step: r3(plain),
    profiled_ms_per_step: r3(b.wall / long),
    counting: native ? 'tensorflow ops' : 'tfjs kernels',
    ops_per_step: r3(kinds.reduce((s, k) => s + k.per_step, 0)),
    op_ms_per_step: r3(opMs),
    outside_ops_ms_per_step: r3(Math.max(0, plain - opMs)),
    kernels_per_step: r3(per(a.kernels, b.kernels)),
    tensors_per_step: r3(per(a.tensors, b.tensors)),
    uploads_per_step: r3(per(a.uploads, b.uploads)),
    readbacks_per_step: r3(per(a.readbacks, b.readbacks)),
    kinds
  }
}

/** The profile as a plain-text table. */
export function formatProfile(p: StepProfile): string {
  const what = p.counting === 'tensorflow ops' ? 'TensorFlow ops' : 'tfjs kernels'
  const width = Math.max(24, ...p.kinds.map((k) => k.kind.length + 2))
  const lines = [
    `${p.entry} on ${p.backend}: ${p.wall_ms_per_step.toFixed(2)} ms/step (${p.profiled_ms_per_step.toFixed(2)} under the profiler; ${p.steps} steps)`,
    `  ${what} ${p.ops_per_step.toFixed(1)}/step taking ${p.op_ms_per_step.toFixed(2)} ms; outside them ${p.outside_ops_ms_per_step.toFixed(2)} ms`,
    `  tfjs kernels ${p.kernels_per_step.toFixed(1)}/step, tensors created ${p.tensors_per_step.toFixed(1)}/step, uploads ${p.uploads_per_step.toFixed(1)}/step, read-backs ${p.readbacks_per_step.toFixed(1)}/step`,
    `  ${'op'.padEnd(width)}${'per step'.padStart(10)}${'ms/step'.padStart(10)}${'µs each'.padStart(10)}`
  ]
  for (const k of p.kinds) {
    lines.push(`  ${k.kind.padEnd(width)}${k.per_step.toFixed(1).padStart(10)}${k.ms_per_step.toFixed(3).padStart(10)}${((1000 * k.ms_per_step) / k.per_step).toFixed(1).padStart(10)}`)
  }
  return lines.join('\n')
}
