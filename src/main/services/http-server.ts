// The browser build's back end: the contract over HTTP (POST /api/<name>) and WebSocket (/ws,
// events), plus the built renderer as static files. Bound to 127.0.0.1 only; every request
// and every WebSocket connection must carry the random token (query ?token=, header
// "Authorization: Bearer …" or the HttpOnly cookie set when the page is opened with the
// token); without it the answer is 401. The Host header must name the loopback address, so a
// web page elsewhere cannot reach the server through DNS rebinding.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, extname, join, normalize, resolve, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { WebSocketServer, type WebSocket } from 'ws'
import { toWireError, type WireError } from '../../shared/contract.ts'
import { CSP } from './csp.ts'
import { createServices, type Services } from './index.ts'
import type { RecentList } from './recent.ts'

export { CSP }

export interface ServerOptions {
  projectFile: string
  /** 0 = any free port */
  port?: number
  /** folder with the built renderer (index.html) */
  rendererDir: string
  recent?: RecentList
  /** fixed token (tests); default: 32 random bytes */
  token?: string
  /** largest request body for /api (bytes) */
  maxBody?: number
}

export interface RunningServer {
  url: string
  port: number
  token: string
  services: Services
  close(): Promise<void>
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json'
}

const STATUS: Record<WireError['code'], number> = { invalid_input: 400, invalid_config: 400, invalid_data: 422, not_found: 404, exists: 409, failed: 500, unauthorized: 401 }

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url')
  const tokenBuf = Buffer.from(token)
  const uploadDir = mkdtempSync(join(tmpdir(), 'iwsft-uploads-'))
  const services = await createServices({
    projectFile: opts.projectFile,
    transport: 'http',
    recent: opts.recent,
    uploadDir,
    onClose: 'Runs keep going when you close this tab: they run in the server. Stopping the server (Ctrl+C) cancels them; what they saved is kept.'
  })
  const rendererDir = resolve(opts.rendererDir)
  const maxBody = opts.maxBody ?? 16 * 1024 * 1024
  let port = 0

  const tokenOk = (t: string | null | undefined): boolean => {
    if (!t) return false
    const b = Buffer.from(t)
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf)
  }
  const requestToken = (req: IncomingMessage, url: URL): string | null => {
    const q = url.searchParams.get('token')
    if (q) return q
    const auth = req.headers.authorization
    if (auth?.startsWith('Bearer ')) return auth.slice(7)
    const cookie = req.headers.cookie?.split(';').map((c) => c.trim()).find((c) => c.startsWith('iwsft_token='))
    return cookie ? decodeURIComponent(cookie.slice('iwsft_token='.length)) : null
  }
  const hostOk = (req: IncomingMessage): boolean => {
    const host = req.headers.host ?? ''
    return host === `127.0.0.1:${port}` || host === `localhost:${port}`
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers })
    res.end(text)
  }
  const refuse = (res: ServerResponse, why: string): void =>
    send(res, 401, { ok: false, error: { code: 'unauthorized', message: `${why}: open the URL that \`iwsft serve\` printed (it carries the token)` } })

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > maxBody) throw Object.assign(new Error(`request body larger than ${maxBody} bytes`), { status: 413 })
      chunks.push(c as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  const serveStatic = (req: IncomingMessage, res: ServerResponse, url: URL, setCookie: boolean): void => {
    let rel = decodeURIComponent(url.pathname)
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = normalize(join(rendererDir, rel))
    if (!file.startsWith(rendererDir + sep) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
      return
    }
    const headers: Record<string, string> = {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': rel === '/index.html' ? 'no-store' : 'private, max-age=3600'
    }
    if (extname(file) === '.html') {
      headers['content-security-policy'] = CSP
      headers['x-frame-options'] = 'DENY'
    }
    if (setCookie) headers['set-cookie'] = `iwsft_token=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`
    res.writeHead(200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    createReadStream(file).pipe(res)
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
      if (!hostOk(req)) return send(res, 403, { ok: false, error: { code: 'unauthorized', message: 'wrong Host header: use http://127.0.0.1' } })
      const t = requestToken(req, url)
      if (!tokenOk(t)) return refuse(res, t ? 'wrong token' : 'missing token')
      if (url.pathname.startsWith('/api/')) {
        if (req.method !== 'POST') return send(res, 405, { ok: false, error: { code: 'invalid_input', message: 'use POST with a JSON body' } })
        const name = url.pathname.slice('/api/'.length)
        let input: unknown
        try {
          const body = await readBody(req)
          input = body.trim() ? JSON.parse(body) : {}
        } catch (e) {
          const status = (e as { status?: number }).status ?? 400
          return send(res, status, { ok: false, error: { code: 'invalid_input', message: `${name}: the request body is not valid JSON (${(e as Error).message})` } })
        }
        try {
          const value = await services.call(name, input)
          return send(res, 200, { ok: true, value })
        } catch (e) {
          const error = toWireError(e)
          return send(res, STATUS[error.code] ?? 500, { ok: false, error })
        }
      }
      if (url.pathname === '/upload') {
        // a raw file body; saved under a fresh folder with its own (sanitised) name, so the
        // importer can dispatch by extension; the answer is the path to pass to datasets.import
        if (req.method !== 'POST') return send(res, 405, { ok: false, error: { code: 'invalid_input', message: 'POST the file as the body' } })
        const name = basename(url.searchParams.get('name') ?? 'upload.bin').replace(/[^\w.\-]+/g, '_') || 'upload.bin'
        const dir = mkdtempSync(join(uploadDir, 'u-'))
        const file = join(dir, name)
        await pipeline(req, createWriteStream(file))
        return send(res, 200, { ok: true, value: { path: file } })
      }
      if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(req, res, url, url.searchParams.has('token'))
      return send(res, 405, { ok: false, error: { code: 'invalid_input', message: 'method not allowed' } })
    } catch (e) {
      if (!res.headersSent) send(res, 500, { ok: false, error: toWireError(e) })
      else res.destroy()
    }
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const sockets = new Set<WebSocket>()
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    if (url.pathname !== '/ws' || !hostOk(req) || !tokenOk(requestToken(req, url))) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws)
      ws.on('close', () => sockets.delete(ws))
      ws.on('error', () => sockets.delete(ws))
      ws.send(JSON.stringify({ event: 'hello', payload: {} }))
    })
  })
  const unsubscribe = services.subscribe((event, payload) => {
    const msg = JSON.stringify({ event, payload })
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(msg)
  })

  await new Promise<void>((res, rej) => {
    server.once('error', rej)
    server.listen(opts.port ?? 0, '127.0.0.1', () => res())
  })
  port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}/?token=${token}`

  let closed = false
  return {
    url,
    port,
    token,
    services,
    close: async () => {
      if (closed) return
      closed = true
      unsubscribe()
      for (const ws of sockets) ws.terminate()
      wss.close()
      await new Promise<void>((r) => server.close(() => r()))
      server.closeAllConnections?.()
      await services.shutdown()
      rmSync(uploadDir, { recursive: true, force: true })
    }
  }
}
