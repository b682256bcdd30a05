// Where log q comes from (science.md, "Choice of q"; paper eq. 11 and Algorithm 1). q enters the
// weights only, never the gradient. One LogQ per run; the trainer tells it when a step begins
// and asks it for log q:
//   current   q = π_θ with stop-gradient (authors' LLM code): no parameters of its own; at the
//             gradient batch the trainer takes log π_θ, as a constant (weights.ts untaped), from the forward pass it
//             makes anyway, so no extra pass
//   ema       a frozen copy θ_q; θ_q ← β θ_q + (1−β) θ at the start of every step, before the
//             loss (authors' control code)
//   periodic  a frozen copy θ_q; θ_q ← θ every Q steps (paper Algorithm 1)
// With weights.q_refresh = K, any of them sits behind a cache: log q of every curated step is
// scored at the start of every K-th step and read from there in between (exact for a periodic q
// with Q = K; a lag of < K steps otherwise).
import * as tf from '@tensorflow/tfjs'
import type { WeightSettings } from '../../../shared/config.ts'
import type { TraceDataset } from '../../common/trace.ts'
import { readBack } from '../backend/readback.ts'
import { disposeBatch, gatherStepValues, stepValuesAt, toDevice, type HostBatch } from '../data/batch.ts'
import type { Batch, Policy } from '../policies/policy.ts'
import { curatedIndices, scoreSteps } from './scoring.ts'

export interface LogQ {
  /** q itself: θ_q, or π_θ for q = current (the weight snapshots score it) */
  readonly q: Policy
  /** update s (0-based) begins: its batch is drawn, its weights come next */
  beginStep(s: number): void
  /** log q at the gradient batch's entries, [B, T] (its sampled steps, or its padded
   *  trajectories); null: q is π_θ, so the trainer takes log π_θ as a constant inside the gradient */
  atBatch(host: HostBatch, batch: Batch): tf.Tensor2D | null
  /** log q along whole trajectories (a gatherBatch host batch), [B, T] on the host — the steps
   *  eq. 11 sums over when the gradient batch holds only sampled steps; for q = π_θ this costs
   *  one forward pass without gradient */
  alongTrajectories(full: HostBatch): Float32Array
  /** θ_q for a checkpoint; null when q has no parameters of its own */
  getState(): Float32Array[] | null
  setState(q: Float32Array[]): void
  dispose(): void
}

/** The log-q source of a run: q = current, EMA or periodic, cached over the curated traces
 *  (multiplicity > 0) when weights.q_refresh is set. `policy` is π_θ; θ_q starts as its copy. */
export function createLogQ(ws: Pick<WeightSettings, 'q' | 'q_refresh'>, policy: Policy, ds: TraceDataset, multiplicity: Uint8Array): LogQ {
  const q = ws.q.kind === 'current' ? new CurrentQ(policy, ds) : new FrozenQ(policy, ws.q, ds)
  return ws.q_refresh === null ? q : new CachedQ(q, ds, curatedIndices(multiplicity), ws.q_refresh)
}

/** log q of whole trajectories by one forward pass of q, no gradient */
function forward(q: Policy, full: HostBatch, ds: TraceDataset): Float32Array {
  const b = toDevice(full, ds)
  const logq = readBack(
    tf.tidy(() => q.logProbs(b)),
    { dispose: true }
  ) as Float32Array
  disposeBatch(b)
  return logq
}

/** q = π_θ with stop-gradient */
class CurrentQ implements LogQ {
  constructor(
    readonly q: Policy,
    private readonly ds: TraceDataset
  ) {}
  beginStep(): void {}
  atBatch(): null {
    return null
  }
  alongTrajectories(full: HostBatch): Float32Array {
    return forward(this.q, full, this.ds)
  }
  getState(): null {
    return null
  }
  setState(): void {}
  dispose(): void {}
}

/** q = a frozen copy θ_q of π_θ, moved towards θ by an EMA or copied every Q steps */
class FrozenQ implements LogQ {
  readonly q: Policy
  constructor(
    private readonly theta: Policy,
    private readonly rule: Exclude<WeightSettings['q'], { kind: 'current' }>,
    private readonly ds: TraceDataset
  ) {
    this.q = theta.clone(false)
  }
  beginStep(s: number): void {
    const { q, theta, rule } = this
    if (rule.kind === 'ema') {
      // θ_q ← β θ_q + (1−β) θ
      tf.tidy(() => q.variables.forEach((v, i) => v.assign(tf.add(tf.mul(v, rule.beta), tf.mul(theta.variables[i], 1 - rule.beta)))))
    } else if (s % rule.every === 0) {
      // θ_q ← θ (Algorithm 1)
      tf.tidy(() => q.variables.forEach((v, i) => v.assign(theta.variables[i])))
    }
  }
  atBatch(_host: HostBatch, batch: Batch): tf.Tensor2D {
    return tf.tidy(() => this.q.logProbs(batch))
  }
  alongTrajectories(full: HostBatch): Float32Array {
    return forward(this.q, full, this.ds)
  }
  getState(): Float32Array[] {
    return this.q.variables.map((v) => v.dataSync() as Float32Array)
  }
  setState(q: Float32Array[]): void {
    this.q.variables.forEach((v, i) => v.assign(tf.tensor(q[i], v.shape)))
  }
  dispose(): void {
    this.q.dispose()
  }
}

/** Any q behind a cache of log q over the curated steps, rescored every `every` steps (after q's
 *  own update at that step). Before its first scoring (a run resumed off a refresh boundary,
 *  which curateForRun refuses) it answers as q itself would. */
class CachedQ implements LogQ {
  private cache: Float32Array | null = null
  constructor(
    private readonly inner: LogQ,
    private readonly ds: TraceDataset,
    private readonly curated: Int32Array,
    private readonly every: number
  ) {}
  get q(): Policy {
    return this.inner.q
  }
  beginStep(s: number): void {
    this.inner.beginStep(s)
    if (s % this.every === 0) this.cache = scoreSteps(this.inner.q, this.ds, this.curated)
  }
  atBatch(host: HostBatch, batch: Batch): tf.Tensor2D | null {
    if (!this.cache) return this.inner.atBatch(host, batch)
    return tf.tensor2d(stepValuesAt(this.ds, host, this.cache), [host.B, host.T])
  }
  alongTrajectories(full: HostBatch): Float32Array {
    return this.cache ? gatherStepValues(this.ds, full.traceIndex, this.cache) : this.inner.alongTrajectories(full)
  }
  getState(): Float32Array[] | null {
    return this.inner.getState()
  }
  setState(q: Float32Array[]): void {
    this.inner.setState(q)
  }
  dispose(): void {
    this.inner.dispose()
  }
}
