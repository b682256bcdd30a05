// Adam and AdamW (decoupled weight decay) with bias correction, a linear warm-up then cosine
// (or constant) learning-rate schedule, and global gradient-norm clipping. Written here rather
// than taken from tf.train so that the schedule, the decay and the clipping are explicit and
// identical on every backend.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import type { RunConfig } from '../../../shared/config.ts'
import { TfVariable } from '../backend/native-adam.ts'
import { readBack } from '../backend/readback.ts'

export type OptimConfig = RunConfig['optim']

/** lr at step s (0-based) of `total`: linear warm-up over `warmup_steps`, then cosine to 0. */
export function learningRate(o: OptimConfig, step: number, total: number): number {
  const w = o.warmup_steps
  if (w > 0 && step < w) return (o.lr * (step + 1)) / w
  if (o.schedule === 'constant') return o.lr
  const progress = total > w ? Math.min(1, (step - w) / (total - w)) : 1
  return o.lr * 0.5 * (1 + Math.cos(Math.PI * progress))
}

/** Parameters whose shapes agree past the first axis, concatenated along it: one tensor for
 *  the group's moments and one set of update ops, instead of ~14 small ops per variable (on the
 *  native backend each op costs ~20 µs of dispatch, more than the arithmetic; issue 17). Adam
 *  is elementwise, so a member may also join a group reshaped (its row-major values unchanged). */
interface ParamGroup {
  /** indices into the optimizer's parameter list, in order */
  members: number[]
  /** the shape each member takes in the group (null: its own), and its rows there (tf.split) */
  views: Array<number[] | null>
  rows: number[]
  /** the members' shapes, and element counts, for getState */
  shapes: number[][]
  sizes: number[]
  /** the moments: tfjs variables (the update in tfjs ops), or on the native backend TensorFlow
   *  resource variables that its fused Adam kernel updates in place, with θ joined in `theta` */
  m: tf.Variable | TfVariable
  v: tf.Variable | TfVariable
  theta: TfVariable | null
  /** the members' values joined, as of the optimizer's last step, and the data each member was
   *  given then: reused while nothing else has assigned to the parameters (a concat saved) */
  joined: tf.Tensor | null
  given: unknown[]
}

type GroupLayout = Pick<ParamGroup, 'members' | 'views' | 'rows' | 'shapes' | 'sizes'>

/** What a group of its own costs a step in ops (the update, its concat and split); joining
 *  another group reshaped costs two (the gradient in, the new value out). */
const OWN_GROUP_OPS = 16
/** A lone parameter smaller than this joins the vectors flattened if it cannot join the main
 *  group (a large one keeps its own group: joining would copy it twice a step). */
const FLATTEN_BELOW = 1 << 16

/** The groups: the largest set of matrices of one trailing shape [*, C] is the main group;
 *  another set joins it as [size / C, C] when its sizes allow and that is cheaper than its own
 *  group, or, if it is one small parameter, joins the vectors flattened; vectors (and scalars)
 *  form one group. */
function groupParams(params: tf.Variable[]): GroupLayout[] {
  const byTrail = new Map<string, number[]>()
  const vectors: Array<[number, number[] | null]> = []
  params.forEach((p, i) => {
    if (p.rank <= 1) vectors.push([i, p.rank === 0 ? [1] : null])
    else {
      const key = p.shape.slice(1).join(',')
      byTrail.set(key, [...(byTrail.get(key) ?? []), i])
    }
  })
  const total = (m: number[]): number => m.reduce((s, i) => s + params[i].size, 0)
  const sets = [...byTrail.values()].sort((a, b) => total(b) - total(a))
  const groups: Array<Array<[number, number[] | null]>> = []
  if (sets.length) {
    const main: Array<[number, number[] | null]> = sets[0].map((i) => [i, null])
    const C = params[sets[0][0]].size / params[sets[0][0]].shape[0]
    groups.push(main)
    for (const set of sets.slice(1)) {
      if (2 * set.length < OWN_GROUP_OPS && set.every((i) => params[i].size % C === 0)) main.push(...set.map((i): [number, number[]] => [i, [params[i].size / C, C]]))
      else if (set.length === 1 && params[set[0]].size < FLATTEN_BELOW) vectors.push([set[0], [params[set[0]].size]])
      else groups.push(set.map((i) => [i, null]))
    }
  }
  if (vectors.length) groups.push(vectors.sort((a, b) => a[0] - b[0]))
  return groups.map((g) => ({
    members: g.map(([i]) => i),
    views: g.map(([, v]) => v),
    rows: g.map(([i, v]) => (v ?? params[i].shape)[0]),
    shapes: g.map(([i]) => params[i].shape.slice()),
    sizes: g.map(([i]) => params[i].size)
  }))
}

export class AdamOptimizer {
  private readonly groups: ParamGroup[]
  /** float32 scalars that do not change between steps, made once */
  private readonly c: Record<'one' | 'b1' | 'b1c' | 'b2' | 'b2c' | 'eps' | 'wd' | 'tiny', tf.Scalar>
  /** TensorFlow's fused Adam kernel (native backend, backend/native-adam.ts) or tfjs ops */
  private readonly native: boolean
  private t = 0

  constructor(
    private readonly params: tf.Variable[],
    private readonly o: OptimConfig
  ) {
    const [b1, b2] = o.betas
    this.c = tf.tidy(() => {
      const s = (x: number): tf.Scalar => tf.keep(tf.scalar(x))
      return { one: s(1), b1: s(b1), b1c: s(1 - b1), b2: s(b2), b2c: s(1 - b2), eps: s(o.eps), wd: s(o.weight_decay), tiny: s(1e-12) }
    })
    const layouts = groupParams(params)
    const shapeOf = (g: GroupLayout): number[] => [g.rows.reduce((a, b) => a + b, 0), ...(g.views[0] ?? g.shapes[0]).slice(1)]
    /** a TensorFlow resource variable of zeros, or null off the native backend */
    const resource = (shape: number[]): TfVariable | null => {
      const z = tf.zeros(shape)
      try {
        return TfVariable.from(z)
      } finally {
        z.dispose()
      }
    }
    const probe = resource([1])
    this.native = probe !== null
    probe?.dispose()
    this.groups = layouts.map((g) => {
      const shape = shapeOf(g)
      if (this.native) return { ...g, m: resource(shape)!, v: resource(shape)!, theta: resource(shape)!, joined: null, given: [] }
      return { ...g, m: variableOf(() => tf.zeros(shape), false), v: variableOf(() => tf.zeros(shape), false), theta: null, joined: null, given: [] }
    })
  }

  /** A group's members (or their gradients, …) joined into the group's shape. */
  private joined(xs: tf.Tensor[], g: ParamGroup): tf.Tensor {
    const parts = g.members.map((i, j) => (g.views[j] ? tf.reshape(xs[i], g.views[j]!) : xs[i]))
    return parts.length === 1 ? parts[0] : tf.concat(parts, 0)
  }

  /** whether the parameters still hold what the last step gave them */
  private unchanged(g: ParamGroup): boolean {
    return g.given.length > 0 && g.members.every((i, j) => this.params[i].dataId === g.given[j])
  }

  /** Give the members their part of the group's new value `next`. */
  private scatter(next: tf.Tensor, g: ParamGroup): void {
    const parts = g.members.length === 1 ? [next] : tf.split(next, g.rows, 0)
    g.members.forEach((i, j) => this.params[i].assign(g.views[j] ? tf.reshape(parts[j], g.shapes[j]) : parts[j]))
    g.given = g.members.map((i) => this.params[i].dataId)
  }

  /** Clip `grads` to the global norm (if configured), take one step, and return the global
   *  gradient norm before clipping as a scalar tensor (the caller reads it with the loss).
   *  With tfjs ops: element for element the same arithmetic as one update per variable; the
   *  norm is summed group by group, so it (and with clipping, the step) can differ in the last
   *  bit from that. With TensorFlow's fused kernel: the same update up to float rounding. */
  step(grads: tf.Tensor[], lr: number): tf.Scalar {
    this.t++
    const { c, o } = this
    return tf.tidy(() => {
      const gs = this.groups.map((g) => this.joined(grads, g))
      const sq = gs.map((g) => tf.square(g))
      const norm = tf.sqrt(sq.length === 1 ? tf.sum(sq[0]) : tf.addN(sq.map((x) => tf.sum(x)))) as tf.Scalar
      // scale = min(1, c / ‖g‖)
      const scale = o.clip_grad_norm === null ? null : (tf.minimum(c.one, tf.div(o.clip_grad_norm, tf.maximum(norm, c.tiny))) as tf.Scalar)
      if (this.native) this.stepFused(gs, scale, lr)
      else this.stepOps(gs, sq, scale, lr)
      return norm
    })
  }

  /** The update in tfjs ops (~14 a group). Call inside tf.tidy. */
  private stepOps(gs: tf.Tensor[], sq: tf.Tensor[], scale: tf.Scalar | null, lr: number): void {
    const [b1, b2] = this.o.betas
    const { c, o } = this
    const bc1 = tf.scalar(1 - Math.pow(b1, this.t))
    const bc2 = tf.scalar(1 - Math.pow(b2, this.t))
    const lrT = tf.scalar(lr)
    this.groups.forEach((grp, k) => {
      const gm = grp.m as tf.Variable
      const gv = grp.v as tf.Variable
      let g = gs[k]
      let g2 = sq[k]
      const p = this.unchanged(grp) && grp.joined ? grp.joined : this.joined(this.params, grp)
      if (scale) g = tf.mul(g, scale)
      // Adam: L2 decay enters the gradient; AdamW: decay is applied to θ directly
      if (o.kind === 'adam' && o.weight_decay > 0) g = tf.add(g, tf.mul(p, c.wd))
      if (g !== gs[k]) g2 = tf.square(g)
      const m = tf.add(tf.mul(gm, c.b1), tf.mul(g, c.b1c))
      const v = tf.add(tf.mul(gv, c.b2), tf.mul(g2, c.b2c))
      gm.assign(m)
      gv.assign(v)
      let update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), c.eps))
      if (o.kind === 'adamw' && o.weight_decay > 0) update = tf.add(update, tf.mul(p, c.wd))
      const next = tf.sub(p, tf.mul(update, lrT))
      this.scatter(next, grp)
      if (grp.members.length > 1) {
        grp.joined?.dispose()
        grp.joined = tf.keep(next)
      }
    })
  }

  /** The update as TensorFlow's fused Adam kernel on θ, m, v in place (native backend). Call
   *  inside tf.tidy. */
  private stepFused(gs: tf.Tensor[], scale: tf.Scalar | null, lr: number): void {
    const [b1, b2] = this.o.betas
    const { c, o } = this
    const s = {
      beta1Power: tf.scalar(Math.pow(b1, this.t)),
      beta2Power: tf.scalar(Math.pow(b2, this.t)),
      lr: tf.scalar(lr),
      beta1: c.b1,
      beta2: c.b2,
      epsHat: tf.scalar(o.eps * Math.sqrt(1 - Math.pow(b2, this.t)))
    }
    this.groups.forEach((grp, k) => {
      const theta = grp.theta!
      if (!this.unchanged(grp)) theta.write(this.joined(this.params, grp))
      let g = gs[k]
      if (scale) g = tf.mul(g, scale)
      // Adam: L2 decay enters the gradient; AdamW: θ ← θ − lr·λ·θ, then the Adam step (the
      // same as θ − lr(m̂/(√v̂+ε) + λθ): the Adam step does not depend on θ)
      if (o.kind === 'adam' && o.weight_decay > 0) g = tf.add(g, tf.mul(theta.read(), c.wd))
      if (o.kind === 'adamw' && o.weight_decay > 0) theta.descend(tf.scalar(lr * o.weight_decay), theta.read())
      theta.adam(grp.m as TfVariable, grp.v as TfVariable, g, s)
      this.scatter(theta.read(), grp)
    })
  }

  /** Adam's moments (one array per parameter) and step count, for checkpoints that resume exactly. */
  getState(): { t: number; m: Float32Array[]; v: Float32Array[] } {
    const per = (x: tf.Variable | TfVariable, g: ParamGroup): Float32Array[] => {
      const flat = (
        x instanceof TfVariable
          ? readBack(
              tf.tidy(() => x.read()),
              { dispose: true }
            )
          : x.dataSync()
      ) as Float32Array
      let at = 0
      return g.sizes.map((n) => flat.slice(at, (at += n)))
    }
    const m: Float32Array[] = new Array(this.params.length)
    const v: Float32Array[] = new Array(this.params.length)
    for (const g of this.groups) {
      const [gm, gv] = [per(g.m, g), per(g.v, g)]
      g.members.forEach((i, j) => {
        m[i] = gm[j]
        v[i] = gv[j]
      })
    }
    return { t: this.t, m, v }
  }

  setState(s: { t: number; m: Float32Array[]; v: Float32Array[] }): void {
    if (s.m.length !== this.params.length || s.v.length !== this.params.length) throw new Error("optimizer state does not match the policy's parameters")
    this.t = s.t
    const join = (xs: Float32Array[], g: ParamGroup): Float32Array => {
      const out = new Float32Array(g.sizes.reduce((a, b) => a + b, 0))
      let at = 0
      g.members.forEach((i, j) => {
        if (xs[i].length !== g.sizes[j]) throw new Error(`optimizer state: moment ${i} has ${xs[i].length} values, the parameter has ${g.sizes[j]}`)
        out.set(xs[i], at)
        at += g.sizes[j]
      })
      return out
    }
    for (const g of this.groups) {
      const shape = [g.rows.reduce((a, b) => a + b, 0), ...(g.views[0] ?? g.shapes[0]).slice(1)]
      tf.tidy(() => {
        for (const [x, vals] of [
          [g.m, s.m],
          [g.v, s.v]
        ] as const) {
          const value = tf.tensor(join(vals, g), shape)
          if (x instanceof TfVariable) x.write(value)
          else x.assign(value)
        }
      })
    }
  }

  dispose(): void {
    for (const g of this.groups) {
      for (const x of [g.m, g.v, g.theta]) x?.dispose()
      g.joined?.dispose()
    }
    tf.dispose(Object.values(this.c))
  }
}
