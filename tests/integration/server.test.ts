// `iwsft serve`'s server: bound to 127.0.0.1, every API request, upload and WebSocket refused
// without the token (401), which travels only as a header (a WebSocket subprotocol), never as a
// cookie or in the query; the app's static files public; a foreign Host header refused (DNS
// rebinding), inputs validated with field errors, events delivered over the WebSocket, uploads
// imported; and the CLI prints its URL (token after #). Requests from another origin:
// server-origin.test.ts; confined paths, upload limits and the project lock: server-confine.test.ts.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { networkInterfaces, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startServer, type RunningServer } from '../../src/main/services/http-server.ts'

let dir: string
let srv: RunningServer
let base: string

const post = async (name: string, body: unknown, token: string | null = srv.token): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${base}/api/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body)
  })
  return { status: res.status, json: await res.json() }
}

function wsOpen(url: string, token: string | null = null): Promise<{ ws: WebSocket; messages: any[] }> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, token ? ['iwsft', `iwsft.token.${token}`] : ['iwsft'])
    const messages: any[] = []
    ws.on('message', (m) => messages.push(JSON.parse(String(m))))
    ws.on('open', () => res({ ws, messages }))
    ws.on('unexpected-response', (_req, r) => rej(new Error(`HTTP ${r.statusCode}`)))
    ws.on('error', rej)
  })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-server-'))
  const renderer = join(dir, 'renderer')
  mkdirSync(renderer)
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>t</title>')
  writeFileSync(join(dir, 'secret.txt'), 'secret')
  srv = await startServer({ projectFile: join(dir, 's.iwsft'), port: 0, rendererDir: renderer, uploadRoot: join(dir, 'uploads') })
  base = `http://127.0.0.1:${srv.port}`
})
afterAll(async () => {
  await srv?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('iwsft serve server', () => {
  it('prints a URL with a long random token after # (no request carries it)', () => {
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{40,}$/)
    expect(srv.url).toBe(`${srv.origin}/#token=${srv.token}`)
  })

  it('refuses API requests and uploads without the token or with a wrong one (401)', async () => {
    expect((await post('datasets.list', {}, null)).status).toBe(401)
    const wrong = await post('datasets.list', {}, srv.token.slice(0, -1) + (srv.token.endsWith('A') ? 'B' : 'A'))
    expect(wrong.status).toBe(401)
    expect(wrong.json.error.code).toBe('unauthorized')
    expect((await fetch(`${base}/upload?name=x.jsonl`, { method: 'POST', body: 'x' })).status).toBe(401)
    expect((await post('datasets.list', {})).status).toBe(200)
  })

  it('takes the token only from the Authorization header: not a cookie, not the query', async () => {
    const cookie = await fetch(`${base}/api/datasets.list`, { method: 'POST', headers: { cookie: `iwsft_token=${encodeURIComponent(srv.token)}` }, body: '{}' })
    expect(cookie.status).toBe(401)
    const query = await fetch(`${base}/api/datasets.list?token=${srv.token}`, { method: 'POST', body: '{}' })
    expect(query.status).toBe(401)
    const upload = await fetch(`${base}/upload?name=x.jsonl&token=${srv.token}`, { method: 'POST', headers: { cookie: `iwsft_token=${srv.token}` }, body: 'x' })
    expect(upload.status).toBe(401)
  })

  it('serves the app’s page to anyone (it holds no secret) with its CSP, and sets no cookie', async () => {
    const res = await fetch(`${base}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(await res.text()).not.toContain(srv.token)
  })

  it('does not serve files outside the renderer folder', async () => {
    const res = await fetch(`${base}/..%2Fsecret.txt`)
    expect(res.status).toBe(404)
  })

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const status = await new Promise<number>((res, rej) => {
      const r = request(
        { host: '127.0.0.1', port: srv.port, path: '/api/datasets.list', method: 'POST', headers: { host: `evil.example:${srv.port}`, authorization: `Bearer ${srv.token}` } },
        (m) => res(m.statusCode ?? 0)
      )
      r.on('error', rej)
      r.end()
    })
    expect(status).toBe(403)
  })

  it('listens on 127.0.0.1 only', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)
    if (!external) return // no other interface on this machine: nothing else to try
    await expect(fetch(`http://${external.address}:${srv.port}/`, { signal: AbortSignal.timeout(3000) })).rejects.toThrow()
  })

  it('answers invalid input with 400 and the offending fields', async () => {
    const r = await post('runs.snapshot', { runId: 'x', step: -1 })
    expect(r.status).toBe(400)
    expect(r.json.ok).toBe(false)
    expect(r.json.error.code).toBe('invalid_input')
    expect(r.json.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(['runId', 'step'])
    const bad = await fetch(`${base}/api/datasets.list`, { method: 'POST', headers: { authorization: `Bearer ${srv.token}` }, body: '{not json' })
    expect(bad.status).toBe(400)
    expect((await post('no.such.thing', {})).status).toBe(404)
    const cfg = await post('runs.start', { config: { dataset: 'bandit', weights: { clamp: [5, 1] } }, seeds: [0] })
    expect(cfg.status).toBe(400)
    expect(cfg.json.error.code).toBe('invalid_config')
    expect(cfg.json.error.issues[0].path).toBe('weights.clamp')
    expect((await fetch(`${base}/api/datasets.list`, { headers: { authorization: `Bearer ${srv.token}` } })).status).toBe(405)
  })

  it('refuses a WebSocket without the token (or with it in the query), and delivers events with it as the subprotocol', async () => {
    await expect(wsOpen(`ws://127.0.0.1:${srv.port}/ws`)).rejects.toThrow(/401/)
    await expect(wsOpen(`ws://127.0.0.1:${srv.port}/ws`, 'nope')).rejects.toThrow(/401/)
    await expect(wsOpen(`ws://127.0.0.1:${srv.port}/ws?token=${srv.token}`)).rejects.toThrow(/401/)
    const { ws, messages } = await wsOpen(`ws://127.0.0.1:${srv.port}/ws`, srv.token)
    expect(ws.protocol).toBe('iwsft')
    const ds = (await post('datasets.list', {})).json.value
    await post('presets.save', { datasetId: ds[0].id, name: 'p', curation: { mode: 'top_k', percent: 10 } })
    await expect.poll(() => messages.some((m) => m.event === 'project.changed' && m.payload.what === 'presets')).toBe(true)
    ws.close()
  })

  it('imports an upload, and reports a broken file by name without importing it', async () => {
    const up = async (name: string, body: string): Promise<string> => {
      const r = await fetch(`${base}/upload?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { authorization: `Bearer ${srv.token}` }, body })
      return ((await r.json()) as { value: { path: string } }).value.path
    }
    const good = await up('../../evil name.jsonl', '{"prompt":"a","completion":"b","score":1}\n{"prompt":"c","completion":"d","score":0}\n')
    expect(good).toMatch(/evil_name\.jsonl$/)
    expect(good).not.toMatch(/\.\.\//)
    const r = await post('datasets.import', { path: good, importId: 'i1' })
    expect(r.status).toBe(200)
    expect(r.json.value.dataset.numTraces).toBe(2)
    expect(r.json.value.dataset.source).toBe('upload:evil_name.jsonl')
    const n = (await post('datasets.list', {})).json.value.length
    const bad = await up('bad.jsonl', '{"prompt":"a","completion":"b","score":1}\nnot json at all\n')
    const e = await post('datasets.import', { path: bad, importId: 'i2' })
    expect(e.status).toBe(422)
    expect(e.json.error.message).toMatch(/bad\.jsonl/)
    expect(e.json.error.message).not.toContain(srv.uploadDir)
    expect((await post('datasets.list', {})).json.value.length).toBe(n)
  })
})

describe('iwsft serve (command line)', () => {
  it('prints the URL with the token, answers with it, and stops on SIGTERM', async () => {
    const root = resolve(import.meta.dirname, '../..')
    const child = spawn(process.execPath, [join(root, 'bin/iwsft.mjs'), 'serve', '--no-open', '--port', '0', '--project', join(dir, 'cli.iwsft')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, IWSFT_HOME: join(dir, 'home') }
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    try {
      await expect.poll(() => /open:\s+(http:\S+)/.exec(out)?.[1], { timeout: 90_000, interval: 200 }).toBeDefined()
      const url = /open:\s+(http:\S+)/.exec(out)![1]
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{40,}$/)
      expect((await fetch(url)).status).toBe(200)
      const origin = url.replace(/\/#token=.*/, '')
      const token = url.replace(/.*#token=/, '')
      const info = (auth: Record<string, string>): Promise<Response> => fetch(`${origin}/api/project.info`, { method: 'POST', headers: auth, body: '{}' })
      expect((await info({ authorization: `Bearer ${token}` })).status).toBe(200)
      expect((await info({})).status).toBe(401)
    } finally {
      child.kill('SIGTERM')
    }
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
    expect(code).toBe(0)
  }, 120_000)

  it('refuses to bind elsewhere', async () => {
    const { cmdServe } = await import('../../src/main/cli/commands/serve.ts')
    await expect(cmdServe(['--host', '0.0.0.0'])).rejects.toThrow(/127\.0\.0\.1|unknown option/)
  })
})
