// The transport client: the same typed Api whatever carries it. On the desktop the preload's
// window.api (IPC); in the browser build HTTP (POST /api/<name>) and a WebSocket for events,
// with the token taken from the page URL. Views only ever see `Api`.
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

function ipcApi(): Api {
  const bridge = window.api!
  return {
    invoke: async <N extends RequestName>(name: N, input: RequestInput<N>) => unwrap((await bridge.invoke(name, input)) as WireResult<RequestOutput<N>>),
    on: <E extends EventName>(event: E, cb: (p: EventPayloads[E]) => void) => bridge.on(event, (p) => cb(p as EventPayloads[E]))
  }
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
    ws = new WebSocket(`${proto}//${location.host}/ws?token=${encodeURIComponent(token)}`)
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
        throw new ApiError(`the server did not answer (${(e as Error).message}); is \`iwsft serve\` still running?`, 'failed')
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
  transport: 'ipc' | 'http'
  /** browser build: send a File to the server, get a path for datasets.import */
  upload?: HttpApi['upload']
  /** desktop: native picker */
  pickFile?: (kind: PickKind) => Promise<string | null>
  pathForFile?: (f: File) => string
}

export function createClient(): Client {
  if (window.api) {
    const bridge = window.api
    return { api: ipcApi(), transport: 'ipc', pickFile: (k) => bridge.pickFile(k), pathForFile: (f) => bridge.pathForFile(f) }
  }
  const params = new URLSearchParams(location.search)
  const token = params.get('token') ?? sessionStorage.getItem('iwsft_token') ?? ''
  if (token) {
    sessionStorage.setItem('iwsft_token', token)
    // keep the token out of the address bar (and out of screenshots); the session keeps it
    if (params.has('token')) history.replaceState(null, '', location.pathname + location.hash)
  }
  const h = httpApi(token)
  return { api: h, transport: 'http', upload: h.upload }
}
