// The preload: what the desktop window has that a browser tab has not, and nothing else. The
// app talks to its back end over HTTP + WebSocket like a tab; the preload adds
//   - token(): the back end's token, handed over by the shell (no URL, no cookie carries it),
//   - pickFile(kind): a native open/save dialog; the shell lets the back end use what was picked,
//   - restartBackend(): the button of the page shown when the back end stopped.
// The shell answers each only for the page it belongs to (the sender's exact origin), and checks
// every argument again; reports are printed to PDF by the shell when the back end asks it.
import { contextBridge, ipcRenderer } from 'electron'
import type { PickKind } from '../shared/pickers.ts'
import { CHANNELS } from './channels.ts'

const api = {
  token(): Promise<string> {
    return ipcRenderer.invoke(CHANNELS.token) as Promise<string>
  },
  pickFile(kind: PickKind): Promise<string | null> {
    if (typeof kind !== 'string') return Promise.resolve(null)
    return ipcRenderer.invoke(CHANNELS.pick, kind) as Promise<string | null>
  },
  restartBackend(): Promise<void> {
    return ipcRenderer.invoke(CHANNELS.restart) as Promise<void>
  }
}

export type PreloadApi = typeof api

contextBridge.exposeInMainWorld('api', api)
