// N copies of one task stepped together with one batched policy.act per step.
//
// runEpisodes() plays `episodes` episodes on up to N copies: episode k starts from
// reset(episodeSeed(seed, k)) on whichever copy is free, and every step gathers the
// observations of all running copies into one [n, obsDim] matrix for a single act() call.
// With a deterministic policy the result is identical to playing the episodes one by one on
// a single environment (tests check this); with sampling, the action noise comes from one
// shared rng in copy order.
import type { Policy } from '../policies/policy.ts'
import type { Rng } from '../rng.ts'
import { episodeSeed, getTask } from './registry.ts'
import type { Env } from './types.ts'

export interface Episode {
  /** index k of the episode in the run */
  index: number
  seed: number
  /** T × obsDim observations s_0..s_{T−1} (the observation each action was taken in) */
  obs: Float32Array
  /** T × actDim actions as the policy gave them (before the environment's clipping) */
  actions: Float32Array
  rewards: Float32Array
  /** observation after the last step */
  finalObs: Float32Array
  ret: number
  length: number
  terminated: boolean
  truncated: boolean
}

/** Anything that maps a batch of observations [n, obsDim] to a batch of actions [n, actDim];
 *  `episodes[j]` is the run's episode index k of row j (per-episode behaviour policies use it). */
export type ActFn = (obs: Float32Array, n: number, episodes: Int32Array) => Float32Array | Int32Array

export interface RunOptions {
  episodes: number
  seed: number
  /** called after each finished episode */
  onEpisode?: (ep: Episode, done: number) => void
  /** called after every step of the copies, for a progress bar: the steps played of the
   *  episodes × maxSteps in all (an episode that ended early counts as maxSteps) */
  onStep?: (done: number, total: number) => void
  /** keep per-step arrays (default true; false keeps only returns and lengths) */
  record?: boolean
}

export class VecEnv {
  private constructor(
    readonly task: string,
    readonly envs: Env[]
  ) {}

  static async create(task: string, n: number): Promise<VecEnv> {
    if (!(n >= 1)) throw new Error(`VecEnv needs at least one copy, got ${n}`)
    const spec = getTask(task)
    const envs: Env[] = []
    for (let i = 0; i < n; i++) envs.push(await spec.make())
    return new VecEnv(task, envs)
  }

  get n(): number {
    return this.envs.length
  }
  get obsDim(): number {
    return this.envs[0].obsDim
  }
  get actDim(): number {
    return this.envs[0].actDim
  }

  /** reset every copy; copy i gets seeds[i] */
  reset(seeds: number[]): Float32Array {
    const d = this.obsDim
    const out = new Float32Array(this.n * d)
    this.envs.forEach((e, i) => out.set(e.reset(seeds[i]), i * d))
    return out
  }

  /** step every copy with its row of actions [n, actDim] */
  step(actions: ArrayLike<number>): { obs: Float32Array; rewards: Float64Array; terminated: Uint8Array; truncated: Uint8Array } {
    const d = this.obsDim
    const a = this.actDim
    const obs = new Float32Array(this.n * d)
    const rewards = new Float64Array(this.n)
    const terminated = new Uint8Array(this.n)
    const truncated = new Uint8Array(this.n)
    this.envs.forEach((e, i) => {
      const r = e.step(Array.prototype.slice.call(actions, i * a, (i + 1) * a) as number[])
      obs.set(r.obs, i * d)
      rewards[i] = r.reward
      terminated[i] = r.terminated ? 1 : 0
      truncated[i] = r.truncated ? 1 : 0
    })
    return { obs, rewards, terminated, truncated }
  }

  /** play episodes with a batched action function; returns episodes in index order */
  runEpisodes(act: ActFn, opts: RunOptions): Episode[] {
    const { episodes, seed } = opts
    const record = opts.record !== false
    const d = this.obsDim
    const ad = this.actDim
    const out: Episode[] = new Array(episodes)
    interface Slot {
      k: number
      obs: Float32Array
      o: Grow
      a: Grow
      r: Grow
      ret: number
    }
    const slots: (Slot | null)[] = new Array(this.n).fill(null)
    let next = 0
    let finished = 0
    const start = (i: number): void => {
      if (next >= episodes) {
        slots[i] = null
        return
      }
      const k = next++
      slots[i] = { k, obs: this.envs[i].reset(episodeSeed(seed, k)), o: new Grow(record ? 64 * d : 0), a: new Grow(record ? 64 * ad : 0), r: new Grow(record ? 64 : 0), ret: 0 }
    }
    for (let i = 0; i < this.n; i++) start(i)
    const batch = new Float32Array(this.n * d)
    const epIdx = new Int32Array(this.n)
    const idx: number[] = []
    while (finished < episodes) {
      idx.length = 0
      for (let i = 0; i < this.n; i++) {
        const s = slots[i]
        if (s) {
          batch.set(s.obs, idx.length * d)
          epIdx[idx.length] = s.k
          idx.push(i)
        }
      }
      const m = idx.length
      const acts = act(batch.subarray(0, m * d), m, epIdx.subarray(0, m))
      if (acts.length !== m * ad) throw new Error(`policy gave ${acts.length} action values for ${m} observations × ${ad}`)
      for (let j = 0; j < m; j++) {
        const i = idx[j]
        const s = slots[i]!
        const a = acts.subarray(j * ad, (j + 1) * ad)
        const r = this.envs[i].step(a)
        if (record) {
          s.o.push(s.obs)
          s.a.push(a)
          s.r.pushOne(r.reward)
        }
        s.ret += r.reward
        s.obs = r.obs
        if (r.terminated || r.truncated) {
          const T = this.envs[i].t
          const ep: Episode = {
            index: s.k,
            seed: episodeSeed(seed, s.k),
            obs: s.o.take(),
            actions: s.a.take(),
            rewards: s.r.take(),
            finalObs: r.obs,
            ret: s.ret,
            length: T,
            terminated: r.terminated,
            truncated: r.truncated
          }
          out[s.k] = ep
          finished++
          opts.onEpisode?.(ep, finished)
          start(i)
        }
      }
      if (opts.onStep) {
        const max = this.envs[0].maxSteps
        let done = finished * max
        for (let i = 0; i < this.n; i++) if (slots[i]) done += this.envs[i].t
        opts.onStep(Math.min(done, episodes * max), episodes * max)
      }
    }
    return out
  }

  close(): void {
    for (const e of this.envs) e.close()
  }
}

/** Adapt a Policy to an ActFn (deterministic = the mean action). */
export function policyActFn(policy: Policy, rng: Rng, deterministic: boolean): ActFn {
  return (obs, n) => policy.act(obs, n, rng, deterministic)
}

/** Uniform random actions in [−1, 1]. */
export function randomActFn(actDim: number, rng: Rng): ActFn {
  return (_obs, n) => {
    const a = new Float32Array(n * actDim)
    for (let i = 0; i < a.length; i++) a[i] = 2 * rng.next() - 1
    return a
  }
}

/** A growable Float32Array (episode recording without per-step allocations). */
class Grow {
  private buf: Float32Array
  private n = 0
  constructor(cap: number) {
    this.buf = new Float32Array(cap)
  }
  private reserve(k: number): void {
    if (this.n + k <= this.buf.length) return
    const next = new Float32Array(Math.max(2 * this.buf.length, this.n + k, 16))
    next.set(this.buf.subarray(0, this.n))
    this.buf = next
  }
  push(v: ArrayLike<number>): void {
    this.reserve(v.length)
    for (let i = 0; i < v.length; i++) this.buf[this.n + i] = v[i]
    this.n += v.length
  }
  pushOne(v: number): void {
    this.reserve(1)
    this.buf[this.n++] = v
  }
  /** a right-sized copy of the contents */
  take(): Float32Array {
    return this.buf.slice(0, this.n)
  }
}
