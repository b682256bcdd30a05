// datasets.preview over real HTTP (the import's mapping step): validated at the boundary, its
// path confined like the other path fields, the first rows as display text (lists as JSON), the
// layout recognised from the columns.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../src/main/services/http-server.ts'

let dir: string
let outside: string
let srv: RunningServer
const call = async (name: string, body: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${srv.origin}/api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${srv.token}` }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-preview-'))
  outside = mkdtempSync(join(tmpdir(), 'iwsft-preview-out-'))
  mkdirSync(join(dir, 'r'))
  writeFileSync(join(dir, 'r', 'index.html'), '<!doctype html><title>t</title>')
  srv = await startServer({ projectFile: join(dir, 'p.iwsft'), port: 0, rendererDir: join(dir, 'r'), uploadRoot: join(dir, 'uploads') })
})
afterAll(async () => {
  await srv?.close()
  for (const d of [dir, outside]) rmSync(d, { recursive: true, force: true })
})

describe('datasets.preview', () => {
  it('gives the columns, the first rows as text and the recognised layout', async () => {
    const f = join(dir, 'chat.jsonl')
    const rows = [0, 1, 2].map((i) => ({
      id: `r${i}`,
      messages: [
        { role: 'user', content: `q${i}` },
        { role: 'assistant', content: `a${i}` }
      ]
    }))
    writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
    const r = await call('datasets.preview', { path: f, rows: 2 })
    expect(r.status).toBe(200)
    expect(r.json.value.columns).toEqual(['id', 'messages'])
    expect(r.json.value.rows).toEqual([
      ['r0', JSON.stringify(rows[0].messages)],
      ['r1', JSON.stringify(rows[1].messages)]
    ])
    expect(r.json.value.layout).toBe('messages (chat)')
    expect(r.json.value.detected).toEqual({ messages: 'messages', id: 'id' })
  })
  it('refuses a path outside the allowed folders, bad input, and an unreadable file by name', async () => {
    writeFileSync(join(outside, 'd.jsonl'), '{"secret":"x"}\n')
    const out = await call('datasets.preview', { path: join(outside, 'd.jsonl') })
    expect(out.status).toBe(403)
    expect(JSON.stringify(out.json)).not.toContain('secret')
    expect((await call('datasets.preview', { path: join(dir, 'chat.jsonl'), rows: 0 })).status).toBe(400)
    expect((await call('datasets.preview', { path: join(dir, 'chat.jsonl'), format: 'hdf5' })).status).toBe(400)
    const missing = await call('datasets.preview', { path: join(dir, 'nope.csv') })
    expect(missing.status).toBe(422)
    expect(missing.json.error.message).toContain('nope.csv')
  })
})
