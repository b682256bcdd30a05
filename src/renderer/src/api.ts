// The client: the typed Api over the one wire, HTTP (POST /api/<name>) and a WebSocket for
// events, to the local back end that served this page, in a browser tab and in the desktop
// window alike. The token is the page's own, never a cookie: a tab takes it from the fragment of
// the URL `iwsft serve` printed (#token=…, which no request carries) and keeps it in
// sessionStorage; the desktop window asks the shell's preload for it. It travels as an
// Authorization header, and as the WebSocket's second subprotocol. Views only ever see `Api`;
// the desktop window adds the preload's native pickers.
import {
  ApiError,
  eventSchemas,
  type Api,
  type EventName,
  type EventPayloads,
  type PickKind,
  type RequestInput,
  type RequestName,
  type RequestOutput,
  type WireResult
} from '../../shared/contract.ts'

type AnyListener = (payload: unknown) => void

function unwrap<T>(r: WireResult<T>): T {
  if (r.ok) return r.value
  throw new ApiError(r.error.message, r.error.code, r.error.issues ?? [])
}

export interface HttpApi extends Api {
  upload(file: File, onProgress?: (sent: number, total: number) => void): Promise<string>
  connected(): boolean
}

function httpApi(token: string): HttpApi {
  const listeners = new Map<string, Set<AnyListener>>()
  let ws: WebSocket | null = null
  let open = false
  let retry = 500
  const connect = (): void => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    // the token as a subprotocol: a browser cannot set headers on a WebSocket (http-server.ts)
    ws = new WebSocket(`${proto}//${location.host}/ws`, ['iwsft', `iwsft.token.${token}`])
    ws.onopen = () => {
      open = true
      retry = 500
    }
    ws.onmessage = (m) => {
      let msg: { event?: string; payload?: unknown }
      try {
        msg = JSON.parse(String(m.data))
      } catch {
        return
      }
      const name = msg.event as EventName
      const schema = eventSchemas[name]
      if (!schema) return
      const parsed = schema.safeParse(msg.payload)
      if (!parsed.success) return // a malformed event is dropped, not half-applied
      for (const l of listeners.get(name) ?? []) l(parsed.data)
    }
    ws.onclose = () => {
      open = false
      // the server may restart: reconnect with a growing delay
      setTimeout(connect, retry)
      retry = Math.min(retry * 2, 10_000)
    }
  }
  connect()
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
  return {
    invoke: async <N extends RequestName>(name: N, input: RequestInput<N>) => {
      let res: Response
      try {
        res = await fetch(`/api/${name}`, { method: 'POST', headers, body: JSON.stringify(input ?? {}) })
      } catch (e) {
        throw new ApiError(`the back end did not answer (${(e as Error).message}); is \`iwsft serve\` (or the desktop app's back end) still running?`, 'failed')
      }
      let body: WireResult<RequestOutput<N>>
      try {
        body = (await res.json()) as WireResult<RequestOutput<N>>
      } catch {
        throw new ApiError(`${name}: the server answered ${res.status} without a JSON body`, 'failed')
      }
      return unwrap(body)
    },
    on: <E extends EventName>(event: E, cb: (p: EventPayloads[E]) => void) => {
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      const l = cb as AnyListener
      set.add(l)
      return () => set!.delete(l)
    },
    upload: (file, onProgress) =>
      new Promise<string>((resolve, reject) => {
        // XMLHttpRequest (not fetch) for upload progress
        const xhr = new XMLHttpRequest()
        xhr.open('POST', `/upload?name=${encodeURIComponent(file.name)}`)
        xhr.setRequestHeader('authorization', `Bearer ${token}`)
        xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.total)
        xhr.onload = () => {
          try {
            resolve(unwrap(JSON.parse(xhr.responseText) as WireResult<{ path: string }>).path)
          } catch (e) {
            reject(e instanceof ApiError ? e : new ApiError(`upload of ${file.name} failed (${xhr.status})`, 'failed'))
          }
        }
        xhr.onerror = () => reject(new ApiError(`upload of ${file.name} failed: the server did not answer`, 'failed'))
        xhr.send(file)
      }),
    connected: () => open
  }
}

export type { PickKind }

export interface Client {
  api: Api
  /** the desktop shell's window (native dialogs through its preload), or a browser tab */
  desktop: boolean
  /** send a File to the back end (a drop, or the browser's file input); get a path for datasets.import */
  upload: HttpApi['upload']
  /** desktop: a native picker; the shell lets the back end use what was picked */
  pickFile?: (kind: PickKind) => Promise<string | null>
  /** this page has no token (a tab opened without the #token=… of the printed link) */
  tokenMissing: boolean
}

/** A tab's token: from the URL fragment at first load (then removed from the address bar and
 *  kept for this tab's session), or from that session. */
function tabToken(): string {
  const m = /^#token=([\w-]+)$/.exec(location.hash)
  if (m) {
    sessionStorage.setItem('iwsft_token', m[1])
    history.replaceState(null, '', location.pathname + location.search)
    return m[1]
  }
  return sessionStorage.getItem('iwsft_token') ?? ''
}

export async function createClient(): Promise<Client> {
  const bridge = window.api
  const token = bridge ? await bridge.token() : tabToken()
  const h = httpApi(token)
  return { api: h, desktop: !!bridge, upload: h.upload, tokenMissing: !token, ...(bridge ? { pickFile: (k: PickKind) => bridge.pickFile(k) } : {}) }
}
