import { describe, expect, it } from 'vitest'
import { ConfigError, defaultConfig, resolveConfig } from '../../src/shared/config.ts'

describe('run config validation', () => {
  it('fills the domain defaults (paper values)', () => {
    const c = resolveConfig({ dataset: 'control', method: 'sft-q' })
    expect(c.weights.temp).toBe(10)
    expect(c.weights.clamp).toEqual([0, 1000])
    expect(c.weights.q).toEqual({ kind: 'ema', beta: 0.9 })
    expect(c.curation).toEqual({ mode: 'quality_bins', cutoffs: [90, 95, 98] })
    expect(resolveConfig({ dataset: 'sequence' }).optim).toMatchObject({ kind: 'adamw', lr: 1e-5, betas: [0.9, 0.95], weight_decay: 1e-4 })
  })
  it('a misspelt key is an error naming the key path', () => {
    expect(() => resolveConfig({ weights: { tmep: 2 } }, 'cfg.json')).toThrow(/cfg\.json[\s\S]*weights\.tmep: unknown key/)
    expect(() => resolveConfig({ lerning_rate: 1 })).toThrow(/lerning_rate: unknown key/)
  })
  it('a wrong type names the field', () => {
    expect(() => resolveConfig({ train: { steps: 'many' } })).toThrow(/train\.steps/)
  })
  it('"False" is not a boolean (the authors\' flag-parsing defect)', () => {
    expect(() => resolveConfig({ weights: { normalize: 'False' } })).toThrow(ConfigError)
  })
  it('changing q kind replaces the q section', () => {
    expect(resolveConfig({ weights: { q: { kind: 'periodic', every: 10 } } }).weights.q).toEqual({ kind: 'periodic', every: 10 })
  })
  it('cutoffs must increase', () => {
    expect(() => resolveConfig({ curation: { mode: 'quality_bins', cutoffs: [95, 90] } })).toThrow(/cutoffs/)
  })
  it('defaults are themselves valid', () => {
    for (const d of ['bandit', 'control', 'sequence'] as const) expect(resolveConfig(defaultConfig(d))).toEqual(defaultConfig(d))
  })
})
