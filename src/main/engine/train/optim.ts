// Adam and AdamW (decoupled weight decay) with bias correction, a linear warm-up then cosine
// (or constant) learning-rate schedule, and global gradient-norm clipping. Written here rather
// than taken from tf.train so that the schedule, the decay and the clipping are explicit and
// identical on every backend.
import * as tf from '@tensorflow/tfjs'
import type { RunConfig } from '../../../shared/config.ts'

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
 *  native backend each op costs ~20 µs of dispatch, more than the arithmetic; issue 17). */
interface ParamGroup {
  /** indices into the optimizer's parameter list, in order */
  members: number[]
  /** rows (first-axis length) of each member as joined, for tf.split */
  rows: number[]
  /** the members' shapes, and element counts, for getState */
  shapes: number[][]
  sizes: number[]
  /** members joined flattened (into the group of vectors) */
  flat: boolean[]
  m: tf.Variable
  v: tf.Variable
  /** the members' values joined, as of the optimizer's last step, and the data each member was
   *  given then: reused while nothing else has assigned to the parameters (a concat saved) */
  joined: tf.Tensor | null
  given: unknown[]
}

type GroupLayout = Pick<ParamGroup, 'members' | 'rows' | 'shapes' | 'sizes' | 'flat'>

/** A parameter alone in its group and smaller than this joins the vectors' group flattened: two
 *  reshapes a step instead of a group's ~15 ops (a large one keeps its own group: joining
 *  would copy it twice a step). */
const FLATTEN_BELOW = 1 << 16

function groupByTrailingShape(params: tf.Variable[]): GroupLayout[] {
  const byKey = new Map<string, number[]>()
  params.forEach((p, i) => {
    const key = p.rank <= 1 ? 'vector' : `[${p.shape.slice(1).join(',')}]`
    byKey.set(key, [...(byKey.get(key) ?? []), i])
  })
  const vectors = byKey.get('vector') ?? []
  const groups: number[][] = []
  for (const [key, members] of byKey) {
    if (key === 'vector') continue
    if (members.length === 1 && params[members[0]].size < FLATTEN_BELOW) vectors.push(members[0])
    else groups.push(members)
  }
  const layouts = groups.map((members) => ({ members, flat: members.map(() => false) }))
  // the vectors' group: vectors as they are, anything else flattened
  if (vectors.length) layouts.push({ members: vectors.sort((a, b) => a - b), flat: vectors.map((i) => params[i].rank !== 1) })
  return layouts.map(({ members, flat }) => {
    return {
      members,
      rows: members.map((i, j) => (flat[j] ? params[i].size : params[i].shape[0])),
      shapes: members.map((i) => params[i].shape.slice()),
      sizes: members.map((i) => params[i].size),
      flat
    }
  })
}

export class AdamOptimizer {
  private readonly groups: ParamGroup[]
  /** float32 scalars that do not change between steps, made once */
  private readonly c: Record<'one' | 'b1' | 'b1c' | 'b2' | 'b2c' | 'eps' | 'wd' | 'tiny', tf.Scalar>
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
    this.groups = groupByTrailingShape(params).map((g) => {
      const rows = g.rows.reduce((a, b) => a + b, 0)
      const shape = g.flat[0] || g.shapes[0].length === 1 ? [rows] : [rows, ...g.shapes[0].slice(1)]
      return { ...g, m: tf.tidy(() => tf.variable(tf.zeros(shape), false)), v: tf.tidy(() => tf.variable(tf.zeros(shape), false)), joined: null, given: [] }
    })
  }

  /** Clip `grads` to the global norm (if configured), take one step, and return the global
   *  gradient norm before clipping as a scalar tensor (the caller reads it with the loss).
   *  Element for element the same arithmetic as one update per variable; only the norm is now
   *  summed group by group, so it (and with clipping, the step) can differ in the last bit. */
  step(grads: tf.Tensor[], lr: number): tf.Scalar {
    this.t++
    const [b1, b2] = this.o.betas
    const { c, o } = this
    const joined = (xs: tf.Tensor[], g: ParamGroup): tf.Tensor => {
      const parts = g.members.map((i, j) => (g.flat[j] ? tf.reshape(xs[i], [-1]) : xs[i]))
      return parts.length === 1 ? parts[0] : tf.concat(parts, 0)
    }
    const joinedParams = (g: ParamGroup): tf.Tensor => {
      const unchanged = g.joined !== null && g.members.every((i, j) => this.params[i].dataId === g.given[j])
      return unchanged ? g.joined! : joined(this.params, g)
    }
    return tf.tidy(() => {
      const gs = this.groups.map((g) => joined(grads, g))
      const sq = gs.map((g) => tf.square(g))
      const norm = tf.sqrt(sq.length === 1 ? tf.sum(sq[0]) : tf.addN(sq.map((x) => tf.sum(x)))) as tf.Scalar
      // scale = min(1, c / ‖g‖)
      const scale = o.clip_grad_norm === null ? null : tf.minimum(c.one, tf.div(o.clip_grad_norm, tf.maximum(norm, c.tiny)))
      const bc1 = tf.scalar(1 - Math.pow(b1, this.t))
      const bc2 = tf.scalar(1 - Math.pow(b2, this.t))
      const lrT = tf.scalar(lr)
      this.groups.forEach((grp, k) => {
        let g = gs[k]
        let g2 = sq[k]
        const p = joinedParams(grp)
        if (scale) g = tf.mul(g, scale)
        // Adam: L2 decay enters the gradient; AdamW: decay is applied to θ directly
        if (o.kind === 'adam' && o.weight_decay > 0) g = tf.add(g, tf.mul(p, c.wd))
        if (g !== gs[k]) g2 = tf.square(g)
        const m = tf.add(tf.mul(grp.m, c.b1), tf.mul(g, c.b1c))
        const v = tf.add(tf.mul(grp.v, c.b2), tf.mul(g2, c.b2c))
        grp.m.assign(m)
        grp.v.assign(v)
        let update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), c.eps))
        if (o.kind === 'adamw' && o.weight_decay > 0) update = tf.add(update, tf.mul(p, c.wd))
        const next = tf.sub(p, tf.mul(update, lrT))
        const parts = grp.members.length === 1 ? [next] : tf.split(next, grp.rows, 0)
        grp.members.forEach((i, j) => this.params[i].assign(grp.flat[j] ? tf.reshape(parts[j], grp.shapes[j]) : parts[j]))
        if (grp.members.length > 1) {
          grp.joined?.dispose()
          grp.joined = tf.keep(next)
          grp.given = grp.members.map((i) => this.params[i].dataId)
        }
      })
      return norm
    })
  }

  /** Adam's moments (one array per parameter) and step count, for checkpoints that resume exactly. */
  getState(): { t: number; m: Float32Array[]; v: Float32Array[] } {
    const per = (x: tf.Variable, g: ParamGroup): Float32Array[] => {
      const flat = x.dataSync() as Float32Array
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
    if (s.m.length !== this.params.length || s.v.length !== this.params.length) throw new Error('optimizer state does not match the policy\'s parameters')
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
      tf.tidy(() => {
        g.m.assign(tf.tensor(join(s.m, g), g.m.shape))
        g.v.assign(tf.tensor(join(s.v, g), g.v.shape))
      })
    }
  }

  dispose(): void {
    for (const g of this.groups) tf.dispose([g.m, g.v, ...(g.joined ? [g.joined] : [])])
    tf.dispose(Object.values(this.c))
  }
}
