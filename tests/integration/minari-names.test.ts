// Minari files are all data/main_data.hdf5: imported, they are named by the dataset id (the
// file's "dataset_id" attribute, else metadata.json beside it, else the folders above data/),
// and two datasets given the same name are made unique (" (2)") unless they are the same data.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getH5, importHdf5 } from '../../src/main/engine/data/import-hdf5.ts'
import { createServices, type Services } from '../../src/main/services/index.ts'
import { minariEpisodes, writeMinari, type FixtureSpec } from '../fixtures/control/h5-fixtures.ts'

const spec: FixtureSpec = { lengths: [3, 2], obsDim: 2, actDim: 1, lastByTimeout: true }
let dir: string
let services: Services
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-minari-'))
  services = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
})
afterAll(async () => {
  await services?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

/** a Minari dataset folder as Minari writes it: <root>/<ns>/<name>/data/main_data.hdf5 */
async function minariAt(root: string, id: string, lengths = spec.lengths): Promise<string> {
  const d = join(dir, root, id, 'data')
  mkdirSync(d, { recursive: true })
  const f = join(d, 'main_data.hdf5')
  const s = { ...spec, lengths }
  await writeMinari(f, minariEpisodes(s), s)
  return f
}

describe('Minari dataset names', () => {
  it('from the folders above data/, from metadata.json, from the dataset_id attribute; a given name wins', async () => {
    const a = await minariAt('a', 'door/human-v2')
    expect((await importHdf5(a)).name).toBe('door/human-v2')
    const b = await minariAt('b', 'pen/expert-v1')
    writeFileSync(join(b, '..', 'metadata.json'), JSON.stringify({ dataset_id: 'D4RL/pen/expert-v1', total_episodes: 2 }))
    expect((await importHdf5(b)).name).toBe('D4RL/pen/expert-v1')
    const c = await minariAt('c', 'x/y')
    const h5 = await getH5()
    const f = new h5.File(c, 'a')
    f.create_attribute('dataset_id', 'mujoco/hopper/medium-v0')
    f.close()
    expect((await importHdf5(c)).name).toBe('mujoco/hopper/medium-v0')
    expect((await importHdf5(c, { name: 'mine' })).name).toBe('mine')
  })

  it('two different datasets of the same name are told apart; the same one imported again keeps its record', async () => {
    const one = await minariAt('r1', 'kitchen/mixed-v1')
    const two = await minariAt('r2', 'kitchen/mixed-v1', [2, 2, 1])
    const r1 = (await services.call('datasets.import', { path: one, importId: 'i1' })) as { dataset: { id: number; name: string }; created: boolean }
    const r2 = (await services.call('datasets.import', { path: two, importId: 'i2' })) as { dataset: { id: number; name: string }; created: boolean }
    expect(r1.dataset.name).toBe('kitchen/mixed-v1')
    expect(r2.dataset.name).toBe('kitchen/mixed-v1 (2)')
    const again = (await services.call('datasets.import', { path: one, importId: 'i3' })) as { dataset: { id: number; name: string }; created: boolean }
    expect(again.created).toBe(false)
    expect(again.dataset).toMatchObject({ id: r1.dataset.id, name: 'kitchen/mixed-v1' })
  })
})
