// Issue 11, as it was found: a page served from another port of 127.0.0.1 (same site, another
// origin) tries to drive the app's back end while the user has the app open in the same
// browser. Before the fix the token was an ambient cookie, which SameSite=Strict does not stop
// across ports: that page started a run, wrote an export where it chose and read live events.
// Here Debian's Chromium opens the app from the URL `iwsft serve` prints, then the other page,
// which tries the same; and requests that carry that page's Origin (or Sec-Fetch-Site) with a
// leaked token are refused too. The app's own tab keeps working.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildRenderer, RENDERER_OUT, rendererStale } from '../../src/main/cli/commands/serve.ts'
import { startServer, type RunningServer } from '../../src/main/services/http-server.ts'
import { CHROMIUM, hasChromium, launchChromium } from '../e2e/helpers.ts'
import { quickBandit } from '../helpers/configs.ts'

let dir: string
let srv: RunningServer
let runId: number
let evil: Server
let evilOrigin: string

/** The other page: it knows the app's address, and (in one attempt) a leaked token. */
const evilPage = (target: string, exportDir: string, leaked: string): string => `<!doctype html><meta charset="utf-8"><title>not the app</title><script>
window.attack = async () => {
  const out = {}
  const post = (name, body) => fetch('${target}/api/' + name, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) }).then((r) => r.type, () => 'error')
  // "simple" requests (no preflight) that carry whatever credentials the browser holds for 127.0.0.1
  out.start = await post('runs.start', { config: { dataset: 'bandit', train: { steps: 5 } }, seeds: [0] })
  out.export = await post('runs.export', { runId: ${runId}, format: 'safetensors', outDir: ${JSON.stringify(exportDir)} })
  const ws = (protocols) => new Promise((res) => {
    const s = new WebSocket('${target.replace('http:', 'ws:')}/ws', protocols)
    s.onopen = () => { s.close(); res('open') }
    s.onerror = () => res('refused')
    setTimeout(() => res('timeout'), 5000)
  })
  out.wsAmbient = await ws(['iwsft'])
  out.wsLeaked = await ws(['iwsft', 'iwsft.token.${leaked}'])
  // a leaked token in a header needs a CORS preflight, which the server does not grant
  out.header = await fetch('${target}/api/runs.list', { method: 'POST', headers: { authorization: 'Bearer ${leaked}' }, body: '{}' }).then((r) => r.status, () => 'blocked')
  return out
}
</script>`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-origin-'))
  if (rendererStale()) await buildRenderer(() => {})
  srv = await startServer({ projectFile: join(dir, 'o.iwsft'), port: 0, rendererDir: RENDERER_OUT, uploadRoot: join(dir, 'uploads') })
  // a run with a checkpoint, for the export the other page asks for
  const ended = new Promise<string>((res) => srv.services.subscribe((e, p) => e === 'run.end' && res((p as { status: string }).status)))
  runId = ((await srv.services.call('runs.start', { config: { ...quickBandit(), train: { ...quickBandit().train, steps: 20, checkpoint_every: 20 } }, seeds: [0] })) as { runIds: number[] })
    .runIds[0]
  expect(await ended).toBe('completed')
  evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(evilPage(srv.origin, join(dir, 'stolen'), srv.token))
  })
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()))
  evilOrigin = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`
}, 180_000)
afterAll(async () => {
  await new Promise<void>((r) => (evil ? evil.close(() => r()) : r()))
  await srv?.close()
  rmSync(dir, { recursive: true, force: true })
})

const runCount = async (): Promise<number> => ((await srv.services.call('runs.list', {})) as unknown[]).length

const suite = hasChromium ? describe : describe.skip
suite(hasChromium ? 'a page on another port, in the same browser as the app' : `a page on another port (skipped: no Chromium at ${CHROMIUM})`, () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })

  it('cannot start a run, export, or open the event stream; the app’s own tab keeps working', async () => {
    const context = await browser.newContext()
    const app = await context.newPage()
    await app.goto(srv.url)
    await app.getByTestId('datasets-table').waitFor({ timeout: 60_000 })
    // the token left the address bar; the tab keeps it for its session, not as a cookie
    expect(app.url()).not.toContain(srv.token)
    expect(await context.cookies()).toEqual([])

    const before = await runCount()
    const page = await context.newPage()
    await page.goto(`${evilOrigin}/`)
    const out = (await page.evaluate('window.attack()')) as Record<string, string>
    expect(out.wsAmbient).toBe('refused')
    // even with the token, the other origin's WebSocket is refused (Origin check)
    expect(out.wsLeaked).toBe('refused')
    expect(out.header).toBe('blocked')
    // nothing happened on the back end
    expect(await runCount()).toBe(before)
    expect(existsSync(join(dir, 'stolen'))).toBe(false)

    // the app's tab still works
    await app.reload()
    await app.getByTestId('datasets-table').waitFor({ timeout: 60_000 })
    expect(await app.getByTestId('datasets-table').innerText()).toMatch(/bandit/)
    await context.close()
  })
})

/** A request as the other page's browser would send it, with a leaked token. */
function raw(path: string, headers: Record<string, string>, body = '{}'): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const r = request({ host: '127.0.0.1', port: srv.port, path, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${srv.token}`, ...headers } }, (m) => {
      let text = ''
      m.on('data', (d) => (text += d))
      m.on('end', () => res({ status: m.statusCode ?? 0, text }))
    })
    r.on('error', rej)
    r.end(body)
  })
}

describe('requests from another origin, even with the token', () => {
  it('refuses /api and /upload with a foreign Origin (403) and does nothing', async () => {
    const before = await runCount()
    const start = await raw('/api/runs.start', { origin: evilOrigin }, JSON.stringify({ config: { dataset: 'bandit', train: { steps: 5 } }, seeds: [0] }))
    expect(start.status).toBe(403)
    expect(JSON.parse(start.text).error.message).toMatch(/only the app's own page/)
    const exp = await raw('/api/runs.export', { origin: evilOrigin }, JSON.stringify({ runId, format: 'safetensors', outDir: join(dir, 'stolen2') }))
    expect(exp.status).toBe(403)
    expect((await raw('/upload?name=a.jsonl', { origin: evilOrigin }, 'x')).status).toBe(403)
    expect((await raw('/api/runs.list', { origin: 'null' })).status).toBe(403)
    expect(await runCount()).toBe(before)
    expect(existsSync(join(dir, 'stolen2'))).toBe(false)
  })

  it('refuses a request its browser marks same-site or cross-site (Sec-Fetch-Site), and accepts the app’s own', async () => {
    expect((await raw('/api/runs.list', { 'sec-fetch-site': 'same-site' })).status).toBe(403)
    expect((await raw('/api/runs.list', { 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await raw('/api/runs.list', { origin: srv.origin, 'sec-fetch-site': 'same-origin' })).status).toBe(200)
    // a client that is not a browser page (no Origin, no Sec-Fetch-Site) with the token: the CLI's and the shell's way
    expect((await raw('/api/runs.list', {})).status).toBe(200)
  })

  it('refuses a WebSocket with a foreign Origin even with the token; accepts the app’s own', async () => {
    const open = (origin: string): Promise<string> =>
      new Promise((res) => {
        const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, ['iwsft', `iwsft.token.${srv.token}`], { origin })
        ws.on('open', () => {
          ws.close()
          res('open')
        })
        ws.on('unexpected-response', (_q, r) => res(`HTTP ${r.statusCode}`))
        ws.on('error', () => res('error'))
      })
    expect(await open(evilOrigin)).toBe('HTTP 403')
    expect(await open(srv.origin)).toBe('open')
  })
})
