// The MuJoCo control tasks: every shipped model loads and steps, seeded resets are
// reproducible, the physics matches closed-form results, time limits and terminations
// behave as documented, and the vectorised env equals N single environments.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { compileMjcf, getMujoco, loadShippedModel, mjcfDir, MjcfLoadError } from '../../src/main/engine/envs/mujoco.ts'
import { episodeSeed, getTask, listTasks, normalizedScore } from '../../src/main/engine/envs/registry.ts'
import { VecEnv, type ActFn } from '../../src/main/engine/envs/vec-env.ts'
import type { Env } from '../../src/main/engine/envs/types.ts'

describe('shipped MJCF models', () => {
  const files = readdirSync(mjcfDir()).filter((f) => f.endsWith('.xml'))

  it('ships one model per task, and every task names a shipped file (cartpole2 reuses cartpole.xml)', () => {
    expect(files.sort()).toEqual([...new Set(listTasks().map((t) => t.mjcf))].sort())
  })

  it.each(files)('%s compiles and steps with finite state', async (file) => {
    const mj = await getMujoco()
    const model = await loadShippedModel(file)
    const d = new mj.MjData(model)
    try {
      expect(model.nu).toBeGreaterThan(0)
      for (let i = 0; i < 100; i++) {
        ;(d.ctrl as Float64Array).fill(0.3)
        mj.mj_step(model, d)
      }
      expect(d.time).toBeCloseTo(100 * model.opt.timestep, 9)
      for (const v of d.qpos as Float64Array) expect(Number.isFinite(v)).toBe(true)
    } finally {
      d.delete()
    }
  })

  it('a model MuJoCo rejects gives an error naming the file', async () => {
    const bad = '<mujoco><worldbody><geom type="nonsense" size="1"/></worldbody></mujoco>'
    await expect(compileMjcf(bad, 'resources/mjcf/broken.xml')).rejects.toThrow(MjcfLoadError)
    await expect(compileMjcf(bad, 'resources/mjcf/broken.xml')).rejects.toThrow(/broken\.xml/)
    await expect(loadShippedModel('no-such-model.xml')).rejects.toThrow(/no-such-model\.xml/)
  })

  it('after a rejected model, valid models still load', async () => {
    await expect(compileMjcf('<mujoco><bad/></mujoco>', 'x.xml')).rejects.toThrow(MjcfLoadError)
    const xml = readFileSync(join(mjcfDir(), 'pendulum.xml'), 'utf8')
    const m = await compileMjcf(xml, 'pendulum-again.xml')
    expect(m.nq).toBe(1)
  })
})

describe.each(listTasks().map((t) => t.name))('task %s', (name) => {
  const spec = getTask(name)
  let env: Env

  it('matches its registry entry and steps', async () => {
    env = await spec.make()
    expect(env.obsDim).toBe(spec.obsDim)
    expect(env.actDim).toBe(spec.actDim)
    const o = env.reset(1)
    expect(o.length).toBe(spec.obsDim)
    const r = env.step(new Array(spec.actDim).fill(0.1))
    expect(r.obs.length).toBe(spec.obsDim)
    expect(Number.isFinite(r.reward)).toBe(true)
    expect(spec.refReturns.expert).toBeGreaterThan(spec.refReturns.random)
  })

  it('reset(seed) is deterministic and seeds differ', async () => {
    const play = (seed: number): number[] => {
      const out = Array.from(env.reset(seed))
      for (let t = 0; t < 20; t++) {
        const r = env.step(Array.from({ length: spec.actDim }, (_, j) => Math.sin(t + j)))
        out.push(...r.obs, r.reward)
        if (r.terminated || r.truncated) break
      }
      return out
    }
    const a = play(42)
    const b = play(42)
    const c = play(43)
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
    // reset() without a seed continues the stream: a second episode differs from the first
    env.reset(42)
    const first = Array.from(env.reset())
    const second = Array.from(env.reset())
    expect(second).not.toEqual(first)
  })

  it('clips actions to [-1, 1] and refuses a wrong-sized or NaN action', () => {
    env.reset(3)
    const big = env.step(new Array(spec.actDim).fill(50))
    env.reset(3)
    const one = env.step(new Array(spec.actDim).fill(1))
    expect(Array.from(big.obs)).toEqual(Array.from(one.obs))
    expect(() => env.step(new Array(spec.actDim + 1).fill(0))).toThrow(/action has/)
    expect(() => env.step(new Array(spec.actDim).fill(NaN))).toThrow(/NaN/)
  })

  it('ends every episode within the time limit, and refuses to step past the end', () => {
    env.reset(5)
    let r = env.step(new Array(spec.actDim).fill(0))
    while (!r.terminated && !r.truncated) r = env.step(new Array(spec.actDim).fill(0))
    expect(env.t).toBeLessThanOrEqual(spec.maxSteps)
    if (r.truncated) expect(env.t).toBe(spec.maxSteps)
    expect(() => env.step(new Array(spec.actDim).fill(0))).toThrow(/after the episode ended/)
    env.close()
  })
})

describe('physics against closed-form results', () => {
  it('pendulum: energy is conserved with zero torque and matches MuJoCo', async () => {
    const mj = await getMujoco()
    const model = await loadShippedModel('pendulum.xml')
    const d = new mj.MjData(model)
    try {
      const I = 0.2501
      const mgl = 1 * 9.81 * 0.5
      ;(d.qpos as Float64Array)[0] = Math.PI / 2 // horizontal
      mj.mj_forward(model, d)
      const energy = (): number => 0.5 * I * (d.qvel as Float64Array)[0] ** 2 + mgl * Math.cos((d.qpos as Float64Array)[0])
      const e0 = energy()
      expect(e0).toBeCloseTo(0, 9)
      let maxDev = 0
      for (let i = 0; i < 300; i++) {
        mj.mj_step(model, d)
        maxDev = Math.max(maxDev, Math.abs(energy() - e0))
      }
      // it has swung through the bottom: potential −m g l turned into kinetic energy
      expect(maxDev).toBeLessThan(1e-4 * mgl)
      // MuJoCo's own potential + kinetic energy (energy flag) agrees up to its constant offset
      mj.mj_forward(model, d)
      const e = d.energy as Float64Array
      // MuJoCo's potential is m g z_com with z_com = 1 + 0.5 cos q (the hinge sits at z = 1)
      const zPivot = 1
      expect(e[0] + e[1]).toBeCloseTo(energy() + 1 * 9.81 * zPivot, 3)
    } finally {
      d.delete()
    }
  })

  it('pendulum: small oscillations about the bottom have period 2π √(I / m g l)', async () => {
    const mj = await getMujoco()
    const model = await loadShippedModel('pendulum.xml')
    const d = new mj.MjData(model)
    try {
      const expected = 2 * Math.PI * Math.sqrt(0.2501 / (9.81 * 0.5))
      ;(d.qpos as Float64Array)[0] = Math.PI + 0.02
      const crossings: number[] = []
      let prev = 0.02
      for (let i = 0; i < 400; i++) {
        mj.mj_step(model, d)
        const x = (d.qpos as Float64Array)[0] - Math.PI
        if (prev > 0 && x <= 0) crossings.push(d.time - model.opt.timestep * (x / (x - prev))) // linear interpolation
        prev = x
      }
      expect(crossings.length).toBeGreaterThanOrEqual(2)
      const period = crossings[1] - crossings[0]
      expect(Math.abs(period - expected) / expected).toBeLessThan(2e-3)
    } finally {
      d.delete()
    }
  })

  it('a free body falls z0 − g t²/2', async () => {
    const mj = await getMujoco()
    const xml = `<mujoco><option timestep="0.001" integrator="RK4"/><worldbody>
      <body pos="0 0 10"><freejoint/><geom type="sphere" size="0.1" mass="2"/></body></worldbody></mujoco>`
    const model = await compileMjcf(xml, 'free-fall.xml')
    const d = new mj.MjData(model)
    try {
      for (let i = 0; i < 500; i++) mj.mj_step(model, d)
      const t = d.time
      expect(t).toBeCloseTo(0.5, 9)
      expect((d.qpos as Float64Array)[2]).toBeCloseTo(10 - 0.5 * 9.81 * t * t, 6)
      expect((d.qvel as Float64Array)[2]).toBeCloseTo(-9.81 * t, 6)
    } finally {
      d.delete()
    }
  })

  it('hopper starts standing at z ≈ 1.25 and falls (terminated) without control', async () => {
    const env = await getTask('hopper').make()
    const o = env.reset(0)
    expect(o[0]).toBeGreaterThan(1.24)
    expect(o[0]).toBeLessThan(1.26)
    let r = env.step([0, 0, 0])
    while (!r.terminated && !r.truncated) r = env.step([0, 0, 0])
    expect(r.terminated).toBe(true)
    expect(env.t).toBeLessThan(500)
    env.close()
  })

  it('cart-pole: the unbalanced pole falls (terminated), a PD controller keeps it up to the limit', async () => {
    const env = await getTask('cartpole').make()
    env.reset(0)
    let r = env.step([0])
    while (!r.terminated && !r.truncated) r = env.step([0])
    expect(r.terminated).toBe(true)
    let o = env.reset(0)
    let ret = 0
    for (;;) {
      r = env.step([0.5 * o[0] + 3 * o[1] + 0.5 * o[2] + 0.6 * o[3]])
      ret += r.reward
      o = r.obs
      if (r.terminated || r.truncated) break
    }
    expect(r.truncated).toBe(true)
    expect(env.t).toBe(500)
    expect(ret).toBeGreaterThan(450)
    env.close()
  })
})

describe('vectorised environment', () => {
  const linear: (actDim: number, obsDim: number) => ActFn = (actDim, obsDim) => (obs, n) => {
    const a = new Float32Array(n * actDim)
    for (let i = 0; i < n; i++) for (let j = 0; j < actDim; j++) a[i * actDim + j] = Math.tanh(obs[i * obsDim + (j % obsDim)] * 0.7 - 0.2 * j)
    return a
  }

  it.each(['pendulum', 'hopper'])('%s: 3 copies playing 7 episodes equal 7 single-env episodes', async (task) => {
    const spec = getTask(task)
    const act = linear(spec.actDim, spec.obsDim)
    const vec = await VecEnv.create(task, 3)
    let batchCalls = 0
    const eps = vec.runEpisodes(
      (o, n, e) => {
        batchCalls++
        return act(o, n, e)
      },
      { episodes: 7, seed: 11 }
    )
    vec.close()
    const env = await spec.make()
    let singleSteps = 0
    for (let k = 0; k < 7; k++) {
      let o = env.reset(episodeSeed(11, k))
      const obs: number[] = []
      let ret = 0
      for (;;) {
        obs.push(...o)
        const r = env.step(act(o, 1, new Int32Array(1)))
        singleSteps++
        ret += r.reward
        o = r.obs
        if (r.terminated || r.truncated) break
      }
      expect(eps[k].index).toBe(k)
      expect(eps[k].ret).toBe(ret)
      expect(Array.from(eps[k].obs)).toEqual(Array.from(Float32Array.from(obs)))
    }
    env.close()
    // one batched act per vector step: fewer calls than single steps
    expect(batchCalls).toBeLessThan(singleSteps)
    expect(batchCalls).toBeGreaterThanOrEqual(Math.ceil(singleSteps / 3))
  })

  it('reset/step move all copies together', async () => {
    const vec = await VecEnv.create('cartpole', 4)
    const o = vec.reset([1, 2, 3, 4])
    expect(o.length).toBe(16)
    const r = vec.step(new Float32Array(4).fill(0.2))
    expect(r.obs.length).toBe(16)
    expect(r.rewards.length).toBe(4)
    vec.close()
  })

  it('normalised score: 0 at the random reference, 100 at the expert reference', () => {
    for (const t of listTasks()) {
      expect(normalizedScore(t, t.refReturns.random)).toBeCloseTo(0, 9)
      expect(normalizedScore(t.name, t.refReturns.expert)).toBeCloseTo(100, 9)
    }
    expect(() => getTask('walker')).toThrow(/unknown control task "walker"/)
  })
})
