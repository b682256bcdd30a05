// The preload: the renderer's only door to the back end. It exposes a minimal `window.api`:
// invoke(name, input) for the contract's requests and on(event, cb) for its events. Names are
// checked against the contract here and inputs are validated again in the main process.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron'
import type { PickKind, WireResult } from '../shared/contract.ts'

// A sandboxed preload can require nothing but a few Electron modules, so it imports only
// types from the contract and checks names by shape; the main process validates names and
// inputs against the contract's schemas.
const NAME = /^[a-z]+\.[a-zA-Z]+$/
const isRequestName = (s: string): boolean => NAME.test(s)
const isEventName = (s: string): boolean => NAME.test(s)

const api = {
  invoke(name: string, input: unknown): Promise<WireResult<unknown>> {
    if (!isRequestName(name)) return Promise.resolve({ ok: false, error: { code: 'not_found', message: `unknown request "${name}"` } })
    return ipcRenderer.invoke('iwsft:invoke', name, input) as Promise<WireResult<unknown>>
  },
  on(event: string, cb: (payload: unknown) => void): () => void {
    if (!isEventName(event)) throw new Error(`unknown event "${event}"`)
    const channel = `iwsft:event:${event}`
    const listener = (_e: IpcRendererEvent, payload: unknown): void => cb(payload)
    ipcRenderer.on(channel, listener)
    return () => {
      ipcRenderer.removeListener(channel, listener)
    }
  },
  /** desktop only: native file pickers (the main process shows them) */
  pickFile(kind: PickKind): Promise<string | null> {
    return ipcRenderer.invoke('iwsft:pick', kind) as Promise<string | null>
  },
  /** desktop only: the path of a file dropped on the window (contextIsolation hides File.path) */
  pathForFile(file: File): string {
    return webUtils.getPathForFile(file)
  }
}

export type PreloadApi = typeof api

contextBridge.exposeInMainWorld('api', api)
