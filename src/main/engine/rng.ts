// A small seeded random number generator (splitmix32 / mulberry-style), so that data
// generation, batch sampling and parameter initialisation are identical on every backend.
// tfjs's own random ops are never used for anything that affects results.

export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9
  }

  /** the whole state: a resumed run continues the same stream */
  getState(): number {
    return this.state
  }

  setState(state: number): void {
    this.state = state >>> 0
  }

  /** uniform in [0, 1) */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** standard normal (Box–Muller) */
  normal(): number {
    let u = 0
    while (u === 0) u = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }

  /** a new independent stream derived from this one */
  fork(salt: number): Rng {
    return new Rng((Math.floor(this.next() * 2 ** 31) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0)
  }
}

/** Sampling index i with probability ∝ weights[i] (with replacement), by binary search on the
 *  cumulative sums. Used for quality-bin sampling by multiplicity (paper Algorithm 2). */
export class WeightedSampler {
  private readonly cdf: Float64Array
  readonly total: number

  constructor(readonly weights: ArrayLike<number>) {
    this.cdf = new Float64Array(weights.length)
    let s = 0
    for (let i = 0; i < weights.length; i++) {
      if (!(weights[i] >= 0)) throw new Error(`sampling weight ${i} is ${weights[i]}; weights must be ≥ 0`)
      s += weights[i]
      this.cdf[i] = s
    }
    if (s <= 0) throw new Error('nothing to sample: every sampling weight is 0')
    this.total = s
  }

  sample(rng: Rng): number {
    const u = rng.next() * this.total
    let lo = 0
    let hi = this.cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.cdf[mid] > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  sampleMany(rng: Rng, n: number): Int32Array {
    const out = new Int32Array(n)
    for (let i = 0; i < n; i++) out[i] = this.sample(rng)
    return out
  }
}
