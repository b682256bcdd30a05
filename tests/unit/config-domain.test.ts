// Which defaults fit a dataset (domainOf), and a config's errors as data (ConfigError.issues).
import { describe, expect, it } from 'vitest'
import { ConfigError, domainOf, resolveConfig } from '../../src/shared/config.ts'

describe('domainOf', () => {
  it('a stored dataset by the kind of its actions', () => {
    expect(domainOf({ kind: 'discrete' })).toBe('bandit')
    expect(domainOf({ kind: 'continuous' })).toBe('control')
    expect(domainOf({ kind: 'sequence' })).toBe('sequence')
  })

  it('a built-in by its name', () => {
    expect(domainOf('bandit')).toBe('bandit')
    expect(domainOf('sequence-arith')).toBe('sequence')
    expect(domainOf('hopper-replay')).toBe('control')
  })
})

describe('ConfigError', () => {
  it('carries every offending field as data, and lists them in its message', () => {
    let err: unknown
    try {
      resolveConfig({ method: 'iw-sft', optim: { lr: 0 }, weights: { tmep: 1 } }, 'run.yaml')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const e = err as ConfigError
    expect(e.source).toBe('run.yaml')
    expect(e.issues.map((i) => i.path).sort()).toEqual(['optim.lr', 'weights.tmep'])
    expect(e.issues.find((i) => i.path === 'weights.tmep')!.message).toMatch(/^unknown key/)
    expect(e.message.split('\n')[0]).toBe('run.yaml: invalid settings')
    for (const i of e.issues) expect(e.message).toContain(`\n  ${i.path}: ${i.message}`)
  })

  it('a problem with the whole config is one issue of no field', () => {
    let err: unknown
    try {
      resolveConfig([1, 2])
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).issues).toEqual([{ path: '', message: 'config: expected an object of settings (e.g. {"method": "iw-sft"})' }])
  })
})
