// The app's back end on the wire: the contract over HTTP (POST /api/<name>) and WebSocket (/ws,
// events), uploads (POST /upload), and the built renderer as static files. The same server
// answers a browser tab (`iwsft serve`) and the desktop shell's window.
//
// Who may call it (issue 11):
//   - bound to 127.0.0.1 only, and the Host header must name it (no DNS rebinding);
//   - /api, /upload and /ws answer only the app's own origin: an `Origin` header, when sent,
//     must be http://127.0.0.1:PORT (or localhost:PORT), and `Sec-Fetch-Site`, when sent, must
//     be same-origin. A page on another port of 127.0.0.1 is same-site but not same-origin;
//   - the credential is the random token, held by the page (never a cookie, never in a URL the
//     server sees): HTTP requests send it as "Authorization: Bearer …", the WebSocket as its
//     subprotocol "iwsft.token.<token>" (browsers cannot set headers on a WebSocket). A tab gets
//     it from the fragment of the URL `iwsft serve` prints (#token=…, which no request carries);
//     the desktop window from the shell's preload;
//   - static files are public (they hold no secret);
//   - the paths requests name are confined (allowed-paths.ts): the project's folder, the upload
//     folder, `allowDirs` and what the desktop shell grants after a dialog.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basename, extname, join, normalize, resolve, sep } from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import { toWireError, type WireError } from '../../shared/contract.ts'
import type { HtmlPrinter } from '../report/index.ts'
import { CSP } from './csp.ts'
import { createServices, type Services } from './index.ts'
import { claimProject } from './project-lock.ts'
import { appHome, type RecentList } from './recent.ts'

export { CSP }

/** The WebSocket subprotocol the app speaks; the token travels as a second one, TOKEN_PROTOCOL + token. */
export const WS_PROTOCOL = 'iwsft'
export const TOKEN_PROTOCOL = 'iwsft.token.'

export const DEFAULT_MAX_UPLOAD_MB = 2048

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
  /** largest upload (bytes); default DEFAULT_MAX_UPLOAD_MB MiB */
  maxUpload?: number
  /** where this back end's upload folder is made (default <app home>/uploads); folders left
   *  there by back ends that are gone (a crash) are removed at start */
  uploadRoot?: string
  /** folders requests may name besides the project's and the upload folder (`--allow-dir`) */
  allowDirs?: string[]
  /** run for the desktop shell: its window has native dialogs, closing it stops the back end,
   *  and reports are printed by the shell (Electron's printToPDF) */
  desktop?: { printer: HtmlPrinter }
}

export interface RunningServer {
  /** the URL to open in a browser: the app, with the token in the fragment */
  url: string
  /** http://127.0.0.1:PORT (the desktop window loads this, and gets the token from the preload) */
  origin: string
  port: number
  token: string
  uploadDir: string
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

const STATUS: Record<WireError['code'], number> = { invalid_input: 400, invalid_config: 400, invalid_data: 422, not_found: 404, exists: 409, forbidden: 403, failed: 500, unauthorized: 401 }

const ON_CLOSE_TAB = 'Runs keep going when you close this tab: they run in the server. Stopping the server (Ctrl+C) cancels them; what they saved is kept.'
const ON_CLOSE_WINDOW = 'Closing the window stops the back end and cancels running jobs: each stops within a second, keeps what it saved, and is marked cancelled.'
const HINT_TAB = 'open or save files inside the project’s folder, upload the file, or restart `iwsft serve` with --allow-dir FOLDER'
const HINT_WINDOW = 'choose the file or folder with the app’s Open or Save dialog, or use one inside the project’s folder'

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The upload folder of this back end, <root>/<pid>-XXXXXX, after removing the folders of back
 *  ends that are gone (an upload interrupted by a crash leaves its file behind). */
export function makeUploadDir(root: string): string {
  mkdirSync(root, { recursive: true })
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const pid = Number(/^(\d+)-/.exec(e.name)?.[1])
    if (e.isDirectory() && Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) rmSync(join(root, e.name), { recursive: true, force: true })
  }
  return mkdtempSync(join(root, `${process.pid}-`))
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: WireError['code'] = 'invalid_input'
  ) {
    super(message)
  }
}

const MB = 1024 * 1024
const mb = (n: number): string => `${Math.round((n / MB) * 10) / 10} MB`

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url')
  const tokenBuf = Buffer.from(token)
  const maxUpload = opts.maxUpload ?? DEFAULT_MAX_UPLOAD_MB * MB
  const uploadDir = makeUploadDir(opts.uploadRoot ?? join(appHome(), 'uploads'))
  let services: Services
  try {
    services = await createServices({
      projectFile: opts.projectFile,
      transport: 'http',
      recent: opts.recent,
      uploadDir,
      dialogs: !!opts.desktop,
      printer: opts.desktop?.printer,
      onClose: opts.desktop ? ON_CLOSE_WINDOW : ON_CLOSE_TAB,
      confine: { allowDirs: (opts.allowDirs ?? []).map((d) => resolve(d)), hint: opts.desktop ? HINT_WINDOW : HINT_TAB },
      claimProject: (file) => claimProject(file, opts.desktop ? 'the desktop app' : 'iwsft serve')
    })
  } catch (e) {
    rmSync(uploadDir, { recursive: true, force: true })
    throw e
  }
  const rendererDir = resolve(opts.rendererDir)
  const maxBody = opts.maxBody ?? 16 * MB
  let port = 0

  const tokenOk = (t: string | null | undefined): boolean => {
    if (!t) return false
    const b = Buffer.from(t)
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf)
  }
  const bearer = (req: IncomingMessage): string | null => {
    const auth = req.headers.authorization
    return auth?.startsWith('Bearer ') ? auth.slice(7) : null
  }
  const wsToken = (req: IncomingMessage): string | null => {
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    const t = protocols.find((p) => p.startsWith(TOKEN_PROTOCOL))
    return t ? t.slice(TOKEN_PROTOCOL.length) : null
  }
  const hostOk = (req: IncomingMessage): boolean => {
    const host = req.headers.host ?? ''
    return host === `127.0.0.1:${port}` || host === `localhost:${port}`
  }
  /** Only the app's own pages (or a client that is not a browser page: no Origin, no Sec-Fetch-Site). */
  const originProblem = (req: IncomingMessage): string | null => {
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return `requests from ${origin} are refused: only the app's own page (http://127.0.0.1:${port}) may use this server`
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin') return `a ${site} request is refused: only the app's own page (http://127.0.0.1:${port}) may use this server`
    return null
  }
  /** Why a request to /api, /upload or /ws is refused (status, message), or null. */
  const refusal = (req: IncomingMessage, t: string | null): [number, string] | null => {
    const o = originProblem(req)
    if (o) return [403, o]
    if (!tokenOk(t)) return [401, `${t ? 'wrong token' : 'missing token'}: open the URL that \`iwsft serve\` printed (it carries the token after #), or the desktop app`]
    return null
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers })
    res.end(text)
  }
  const sendError = (res: ServerResponse, status: number, code: WireError['code'], message: string): void => send(res, status, { ok: false, error: { code, message } })

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > maxBody) throw new HttpError(413, `request body larger than ${maxBody} bytes`)
      chunks.push(c as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  const serveStatic = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    let rel: string
    try {
      rel = decodeURIComponent(url.pathname)
    } catch {
      throw new HttpError(400, `the path ${url.pathname} has a malformed %-escape`)
    }
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
    res.writeHead(200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    createReadStream(file).pipe(res)
  }

  /** A raw file body, saved under a fresh folder with its own (sanitised) name so the importer
   *  can dispatch by extension; the answer is the path to pass to datasets.import. A body over
   *  the cap is answered 413 at once and the rest of it is read and dropped (so the client
   *  sees the answer instead of a reset connection); nothing of it stays on disk. */
  const upload = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const name = basename(url.searchParams.get('name') ?? 'upload.bin').replace(/[^\w.\-]+/g, '_') || 'upload.bin'
    const tooLarge = (size: string): HttpError =>
      new HttpError(
        413,
        `${name} is ${size}; uploads are limited to ${mb(maxUpload)} (start the back end with --max-upload-mb N to allow larger files, or import the file from the project's folder)`
      )
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > maxUpload) {
      req.resume()
      throw tooLarge(mb(declared))
    }
    const dir = mkdtempSync(join(uploadDir, 'u-'))
    const file = join(dir, name)
    try {
      await new Promise<void>((resolveUpload, rejectUpload) => {
        const out = createWriteStream(file)
        let size = 0
        let failed = false
        const fail = (e: Error): void => {
          if (failed) return
          failed = true
          out.destroy()
          req.resume() // read and drop the rest
          rejectUpload(e)
        }
        req.on('data', (chunk: Buffer) => {
          if (failed) return
          size += chunk.length
          if (size > maxUpload) return fail(tooLarge(`larger than ${mb(maxUpload)}`))
          if (!out.write(chunk)) {
            req.pause()
            out.once('drain', () => req.resume())
          }
        })
        req.on('end', () => {
          if (!failed) out.end()
        })
        req.on('error', fail)
        out.on('error', fail)
        out.on('finish', () => {
          if (!failed) resolveUpload()
        })
      })
    } catch (e) {
      rmSync(dir, { recursive: true, force: true })
      throw e
    }
    send(res, 200, { ok: true, value: { path: file } })
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
      if (!hostOk(req)) return sendError(res, 403, 'unauthorized', 'wrong Host header: use http://127.0.0.1')
      if (url.pathname.startsWith('/api/') || url.pathname === '/upload') {
        const refused = refusal(req, bearer(req))
        if (refused) return sendError(res, refused[0], 'unauthorized', refused[1])
        if (req.method !== 'POST') return sendError(res, 405, 'invalid_input', url.pathname === '/upload' ? 'POST the file as the body' : 'use POST with a JSON body')
        if (url.pathname === '/upload') return await upload(req, res, url)
        const name = url.pathname.slice('/api/'.length)
        let input: unknown
        try {
          const body = await readBody(req)
          input = body.trim() ? JSON.parse(body) : {}
        } catch (e) {
          if (e instanceof HttpError) throw e
          return sendError(res, 400, 'invalid_input', `${name}: the request body is not valid JSON`)
        }
        try {
          const value = await services.call(name, input)
          return send(res, 200, { ok: true, value })
        } catch (e) {
          const error = toWireError(e)
          return send(res, STATUS[error.code] ?? 500, { ok: false, error })
        }
      }
      if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(req, res, url)
      return sendError(res, 405, 'invalid_input', 'method not allowed')
    } catch (e) {
      if (res.headersSent) res.destroy()
      else if (e instanceof HttpError) sendError(res, e.status, e.code, e.message)
      else send(res, 500, { ok: false, error: toWireError(e) })
    }
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false) })
  const sockets = new Set<WebSocket>()
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    const refused = url.pathname !== '/ws' ? ([404, 'not found'] as const) : !hostOk(req) ? ([403, 'wrong Host header'] as const) : refusal(req, wsToken(req))
    if (refused) {
      const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[refused[0]] ?? 'Refused'
      socket.write(`HTTP/1.1 ${refused[0]} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
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

  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej)
      server.listen(opts.port ?? 0, '127.0.0.1', () => res())
    })
  } catch (e) {
    await services.shutdown()
    rmSync(uploadDir, { recursive: true, force: true })
    throw e
  }
  port = (server.address() as AddressInfo).port
  const origin = `http://127.0.0.1:${port}`

  let closed = false
  return {
    url: `${origin}/#token=${token}`,
    origin,
    port,
    token,
    uploadDir,
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
