// runs.rename and runs.delete through the services (the app's and the CLI's path): a running
// run can be renamed but not deleted; once it stopped, it is deleted with all it saved.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createServices } from '../../src/main/services/index.ts'
import { quickBandit } from '../helpers/configs.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-svcmanage-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('runs.rename and runs.delete', () => {
  it('renames a running run, refuses to delete it, and deletes it once cancelled', async () => {
    const sv = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
    let ended = false
    sv.subscribe((e) => void (e === 'run.end' && (ended = true)))
    try {
      const c = quickBandit()
      const { runIds } = await sv.call('runs.start', { config: { ...c, train: { ...c.train, steps: 1_000_000 } }, seeds: [0] })
      const runId = runIds[0]
      await sv.call('runs.rename', { runId, name: '  long one ' })
      expect((await sv.call('runs.get', { runId })).name).toBe('long one')
      await expect(sv.call('runs.rename', { runId, name: '   ' })).rejects.toMatchObject({ code: 'invalid_input' })
      await expect(sv.call('runs.delete', { runId })).rejects.toThrow(/is still running; cancel it/)
      expect((await sv.call('runs.get', { runId })).status).toBe('running')
      await sv.call('runs.cancel', { runId })
      for (;;) {
        if (ended && (await sv.call('runs.get', { runId })).status === 'cancelled') break
        await new Promise((r) => setTimeout(r, 25))
      }
      await sv.call('runs.delete', { runId })
      await expect(sv.call('runs.get', { runId })).rejects.toMatchObject({ code: 'not_found' })
      expect(await sv.call('runs.list', {})).toEqual([])
    } finally {
      await sv.shutdown()
    }
  })
})
