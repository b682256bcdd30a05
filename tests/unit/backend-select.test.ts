// The backend selection rule (runs everywhere): auto order, forced-unavailable errors, and the
// real selection on a machine where the native cache is empty.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, describe, expect, it } from 'vitest'
import { BACKEND_ORDER, BackendUnavailable, selectBackend, type BackendName } from '../../src/main/engine/backend/select.ts'

function fakeActivator(available: BackendName[]) {
  const tried: BackendName[] = []
  const activate = async (name: BackendName): Promise<void> => {
    tried.push(name)
    if (!available.includes(name)) throw new BackendUnavailable(name, `${name} is not here`, `install ${name}`)
  }
  return { tried, activate }
}

describe('selectBackend (pure rule)', () => {
  it('auto tries native-gpu, native-cpu, wasm, cpu in that order and takes the first that activates', async () => {
    expect(BACKEND_ORDER).toEqual(['native-gpu', 'native-cpu', 'wasm', 'cpu'])
    const all = fakeActivator(['native-gpu', 'native-cpu', 'wasm', 'cpu'])
    expect((await selectBackend('auto', all.activate)).name).toBe('native-gpu')
    expect(all.tried).toEqual(['native-gpu'])

    const noGpu = fakeActivator(['native-cpu', 'wasm', 'cpu'])
    const s = await selectBackend('auto', noGpu.activate)
    expect(s.name).toBe('native-cpu')
    expect(s.skipped).toEqual([{ name: 'native-gpu', reason: 'native-gpu is not here' }])

    const onlyWasm = fakeActivator(['wasm', 'cpu'])
    expect((await selectBackend('auto', onlyWasm.activate)).name).toBe('wasm')
    expect(onlyWasm.tried).toEqual(['native-gpu', 'native-cpu', 'wasm'])

    const onlyCpu = fakeActivator(['cpu'])
    const c = await selectBackend('auto', onlyCpu.activate)
    expect(c.name).toBe('cpu')
    expect(c.skipped.map((x) => x.name)).toEqual(['native-gpu', 'native-cpu', 'wasm'])
  })

  it('a forced backend is used even if one earlier in the order would load', async () => {
    const all = fakeActivator(['native-gpu', 'native-cpu', 'wasm', 'cpu'])
    expect((await selectBackend('wasm', all.activate)).name).toBe('wasm')
    expect(all.tried).toEqual(['wasm'])
  })

  it('a forced backend that cannot load is an error with the reason and what to do, and nothing else is tried', async () => {
    const f = fakeActivator(['wasm', 'cpu'])
    await expect(selectBackend('native-cpu', f.activate)).rejects.toThrow(/"native-cpu".*native-cpu is not here.*To fix: install native-cpu/)
    expect(f.tried).toEqual(['native-cpu'])
  })

  it('an unexpected failure while forcing is reported too', async () => {
    await expect(
      selectBackend('wasm', async () => {
        throw new Error('boom')
      })
    ).rejects.toThrow(/"wasm" was asked for but cannot be used: boom/)
  })

  it('an unknown backend name is an error that lists the valid ones', async () => {
    await expect(selectBackend('tpu' as never, async () => {})).rejects.toThrow(/unknown backend "tpu".*native-gpu, native-cpu, wasm, cpu/)
  })

  it('auto fails only if nothing at all activates, naming every reason', async () => {
    await expect(selectBackend('auto', fakeActivator([]).activate)).rejects.toThrow(/native-gpu: native-gpu is not here.*cpu: cpu is not here/)
  })
})

describe('initBackend on this machine with an empty native cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-empty-cache-'))
  const saved = process.env.IWSFT_CACHE_DIR
  process.env.IWSFT_CACHE_DIR = dir
  afterAll(() => {
    if (saved === undefined) delete process.env.IWSFT_CACHE_DIR
    else process.env.IWSFT_CACHE_DIR = saved
    rmSync(dir, { recursive: true, force: true })
  })

  it('forcing native-cpu says it is not installed and to run `npx iwsft backend install`', async () => {
    const { initBackend } = await import('../../src/main/engine/backend/index.ts')
    await expect(initBackend('native-cpu')).rejects.toThrow(/not installed.*npx iwsft backend install/)
  })

  it('forcing native-gpu explains the missing GPU or install, and points at `backend install --gpu`', async () => {
    const { initBackend } = await import('../../src/main/engine/backend/index.ts')
    await expect(initBackend('native-gpu')).rejects.toThrow(/backend install --gpu|native-gpu/)
  })

  it('auto falls to wasm, switching works, and the project tfjs instance follows', async () => {
    const { initBackend, activeBackend, backendVersions, probeBackends } = await import('../../src/main/engine/backend/index.ts')
    expect(await initBackend('auto')).toBe('wasm')
    expect(activeBackend()).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(await initBackend('cpu')).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(activeBackend()).toBe('cpu')
    const v = backendVersions()
    expect(v.tfjs).toBe('4.22.0')
    expect(v.node).toBe(process.versions.node)
    expect(v.backend).toBe('cpu')
    expect(v.tensorflow).toBeUndefined()
    const probe = await probeBackends()
    expect(probe.map((p) => p.name)).toEqual(['native-gpu', 'native-cpu', 'wasm', 'cpu'])
    expect(probe.find((p) => p.name === 'native-cpu')).toMatchObject({ available: false })
    expect(probe.find((p) => p.name === 'native-cpu')?.detail).toMatch(/npx iwsft backend install/)
    expect(probe.filter((p) => p.available).map((p) => p.name)).toEqual(['wasm', 'cpu'])
    // probing returns to the backend that was active
    expect(activeBackend()).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
  })
})
