// The paper's Table 4 presets: each row's numbers as printed in the paper (Appendix F, Table 4),
// a preset under a config's own keys, the task → row mapping and the control suite's use of it.
import { describe, expect, it } from 'vitest'
import { applyPreset, ConfigError, defaultConfig, resolveConfig } from '../../src/shared/config.ts'
import { PRESET_NAMES, presetForDataset, table4Row } from '../../src/shared/presets.ts'
import { controlPreset, controlSuiteConfig } from '../../src/main/suites/control.ts'

describe('Table 4 presets', () => {
  // [lr, warm-up, steps, α (EMA), k/|τ|, normalised], copied from the paper's Table 4
  const paper: Record<string, [number, number, number, number, number, boolean]> = {
    'halfcheetah-medium-replay': [4e-5, 300, 4500, 0.995, 1, false],
    'hopper-medium-replay': [1e-4, 300, 4500, 0.99, 1, true],
    'walker2d-medium-replay': [4e-5, 300, 2000, 0.9, 10, true],
    'halfcheetah-expert': [4e-5, 300, 4500, 0.995, 0.8, false],
    'hopper-expert': [4e-4, 300, 4500, 0.995, 0.8, false],
    'walker2d-expert': [4e-5, 300, 4500, 0.995, 0.8, false]
  }

  it('has the six rows of the paper, each applied to a control config as printed', () => {
    expect([...PRESET_NAMES].sort()).toEqual(Object.keys(paper).sort())
    for (const [name, [lr, warm, steps, beta, temp, norm]] of Object.entries(paper)) {
      const c = applyPreset(defaultConfig('control'), name)
      expect(c.preset).toBe(name)
      expect(c.optim.lr).toBe(lr)
      expect(c.optim.warmup_steps).toBe(warm)
      expect(c.train.steps).toBe(steps)
      expect(c.weights.q).toEqual({ kind: 'ema', beta })
      expect(c.weights.temp).toBe(temp)
      expect(c.weights.normalize).toBe(norm)
      expect(c.curation).toEqual({ mode: 'quality_bins', cutoffs: [90, 95, 98] })
      // the clamp and the policy stay the domain's
      expect(c.weights.clamp).toEqual([0, 1000])
      expect(c.policy.kind).toBe('gaussian-mlp')
    }
  })

  it('a config names a preset; its own keys win and the preset is recorded', () => {
    const c = resolveConfig({ dataset: 'hopper-replay', preset: 'hopper-medium-replay', weights: { temp: 3 } })
    expect(c.preset).toBe('hopper-medium-replay')
    expect(c.weights.temp).toBe(3)
    expect(c.weights.q).toEqual({ kind: 'ema', beta: 0.99 })
    expect(c.weights.normalize).toBe(true)
    expect(c.optim.lr).toBe(1e-4)
    expect(c.train.steps).toBe(4500)
    // no preset: the domain default (the walker2d medium-replay row's weights) and no name
    expect(resolveConfig({ dataset: 'hopper-replay' }).preset).toBeUndefined()
  })

  it('refuses an unknown preset and a preset on a non-control config, naming the field', () => {
    const bad = (input: unknown): ConfigError => {
      try {
        resolveConfig(input, 'cfg.yaml')
      } catch (e) {
        return e as ConfigError
      }
      throw new Error('accepted')
    }
    const e1 = bad({ dataset: 'hopper-replay', preset: 'ant-maze' })
    expect(e1).toBeInstanceOf(ConfigError)
    expect(e1.issues[0].path).toBe('preset')
    expect(e1.message).toContain('hopper-medium-replay')
    const e2 = bad({ dataset: 'bandit', preset: 'hopper-expert' })
    expect(e2.issues[0].path).toBe('preset')
    expect(e2.message).toContain('bandit')
  })

  it('maps our tasks to the nearest row (by termination: pendulum ~ halfcheetah, cartpole, cartpole2 and hopper ~ hopper)', () => {
    expect(presetForDataset('pendulum-replay')).toBe('halfcheetah-medium-replay')
    expect(presetForDataset('pendulum-expert')).toBe('halfcheetah-expert')
    expect(presetForDataset('cartpole-replay')).toBe('hopper-medium-replay')
    expect(presetForDataset('cartpole-expert')).toBe('hopper-expert')
    expect(presetForDataset('cartpole2-replay')).toBe('hopper-medium-replay')
    expect(presetForDataset('cartpole2-replay-noisy-v1')).toBe('hopper-medium-replay')
    expect(presetForDataset('cartpole2-expert')).toBe('hopper-expert')
    expect(presetForDataset('hopper-replay')).toBe('hopper-medium-replay')
    expect(presetForDataset('hopper-expert')).toBe('hopper-expert')
    expect(presetForDataset('bandit')).toBeUndefined()
    expect(table4Row('nope')).toBeUndefined()
  })

  it('the control suite runs iw-SFT(Q) at the task row and records it; the other rows carry none', () => {
    const rows = [
      { label: 'sft-q', method: 'sft-q' as const, curation: { mode: 'quality_bins' as const, cutoffs: [90, 95, 98] }, fromBc: true },
      { label: 'iw-sft-q', method: 'iw-sft-q' as const, curation: { mode: 'quality_bins' as const, cutoffs: [90, 95, 98] }, fromBc: true }
    ]
    const pend = controlSuiteConfig('pendulum', 0, false, rows[1])
    expect(controlPreset('pendulum')).toBe('halfcheetah-medium-replay')
    expect(pend.preset).toBe('halfcheetah-medium-replay')
    expect(pend.weights.temp).toBe(1)
    expect(pend.weights.normalize).toBe(false)
    expect(pend.weights.q).toEqual({ kind: 'ema', beta: 0.995 })
    expect(pend.optim.lr).toBe(4e-5)
    // the suite's budget, not the row's 4500 steps
    expect(pend.train.steps).toBe(2000)
    const cart = controlSuiteConfig('cartpole', 0, true, rows[1])
    expect(cart.preset).toBe('hopper-medium-replay')
    expect(cart.weights.normalize).toBe(true)
    expect(cart.train.steps).toBe(200)
    const sftq = controlSuiteConfig('cartpole', 0, false, rows[0])
    expect(sftq.preset).toBeUndefined()
    expect(sftq.optim.lr).toBe(1e-4)
  })

  it('--faithful: the paper BC reference, batch 256 whole trajectories, its step counts and the full Table 4 row', () => {
    const bins = { mode: 'quality_bins' as const, cutoffs: [90, 95, 98] }
    const bc = controlSuiteConfig('cartpole', 1, false, 'bc', true)
    // Appendix F: "BC policy for 10000 steps with learning rate 1e-3 and batch size 32"
    expect([bc.train.steps, bc.optim.lr, bc.train.batch_size, bc.train.step_sample, bc.optim.schedule]).toEqual([10_000, 1e-3, 32, null, 'constant'])
    const sftq = controlSuiteConfig('cartpole', 1, false, { label: 'sft-q', method: 'sft-q', curation: bins, fromBc: true }, true)
    // "For subsequent fine tuning, we use batch size 256 … For SFT(Q), we use learning rate 4e-5, warmup steps 300, total steps 4500"
    expect([sftq.train.batch_size, sftq.train.step_sample, sftq.optim.lr, sftq.optim.warmup_steps, sftq.train.steps]).toEqual([256, null, 4e-5, 300, 4500])
    const iw = controlSuiteConfig('cartpole', 1, false, { label: 'iw-sft-q', method: 'iw-sft-q', curation: bins, fromBc: true }, true)
    expect(iw.preset).toBe('hopper-medium-replay')
    expect([iw.train.batch_size, iw.train.step_sample, iw.weights.q_refresh, iw.optim.lr, iw.train.steps, iw.weights.temp]).toEqual([256, null, null, 1e-4, 4500, 1])
    expect(iw.dataset_options).toMatchObject({ quick: false, eval_episodes: 100 })
    // the fine-tuning rows' π_ref is the same BC: 10,000 steps, lr 1e-3, batch 32
    for (const c of [sftq, iw]) expect(c.reference).toEqual({ kind: 'bc', steps: 10_000, lr: 1e-3, batch_size: 32 })
    // every faithful config is a valid run config
    for (const c of [bc, sftq, iw]) expect(resolveConfig(c)).toEqual(c)
  })
})
