// A stand-in for the `electron` module, enough of it for the desktop shell
// (src/main/electron/shell.ts) to run under Node: an app with its life-cycle events, windows
// that record their options and what they load, ipcMain handlers the test invokes with the
// sender it chooses, dialogs that answer from a queue, a session whose hooks the test can call,
// and a printToPDF that returns recognisable bytes. It decides nothing for the shell: the
// shell's handlers and hooks are what the tests call.
import { EventEmitter } from 'node:events'
import type { ShellElectron } from '../../src/main/electron/shell.ts'

/** What the stand-in printToPDF returns (a test finds these bytes in the saved report). */
export const FAKE_PDF = '%PDF-1.4\n% printed by the stand-in webContents.printToPDF\n'

export interface Frame {
  url: string
  parent: Frame | null
}

export class FakeWebContents extends EventEmitter {
  mainFrame: Frame = { url: '', parent: null }
  openHandler: ((d: { url: string }) => { action: string }) | null = null
  printed = 0
  setWindowOpenHandler(h: (d: { url: string }) => { action: string }): void {
    this.openHandler = h
  }
  async executeJavaScript(): Promise<boolean> {
    return true
  }
  async printToPDF(): Promise<Buffer> {
    this.printed++
    return Buffer.from(FAKE_PDF)
  }
  send(): void {}
}

export interface Fake {
  electron: ShellElectron
  app: EventEmitter & { isPackaged: boolean; quitted: boolean; singleInstance: boolean; quit(): void }
  windows: FakeWindow[]
  /** the app's window (the first one that is not a hidden print window) */
  win(): FakeWindow
  ipc: Map<string, (e: unknown, ...args: unknown[]) => unknown>
  /** call an ipcMain handler as a page at `url` in `wc` (default: the app's window, top frame) would */
  invoke(channel: string, opts: { url?: string; wc?: FakeWebContents; subframe?: boolean }, ...args: unknown[]): Promise<unknown>
  openAnswers: Array<{ canceled: boolean; filePaths: string[] }>
  saveAnswers: Array<{ canceled: boolean; filePath?: string }>
  dialogCalls: string[]
  errorBoxes: Array<[string, string]>
  menu: { template: unknown[] } | null
  external: string[]
  session: FakeSession
  webContentsCreated: FakeWebContents[]
}

export interface FakeSession {
  permissionRequest: ((wc: unknown, perm: string, cb: (ok: boolean) => void) => void) | null
  permissionCheck: (() => boolean) | null
  beforeRequest: ((d: { url: string }, cb: (r: { cancel: boolean }) => void) => void) | null
  headersReceived: ((d: { url: string; responseHeaders: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void) | null
}

export type FakeWindow = EventEmitter & {
  options: { show?: boolean; webPreferences: Record<string, unknown> }
  webContents: FakeWebContents
  url: string
  loaded: string[]
  shown: boolean
  destroyed: boolean
  close(): void
}

export function fakeElectron(o: { isPackaged?: boolean; singleInstance?: boolean } = {}): Fake {
  const app = Object.assign(new EventEmitter(), {
    isPackaged: o.isPackaged ?? false,
    quitted: false,
    singleInstance: o.singleInstance ?? true,
    whenReady: () => Promise.resolve(),
    requestSingleInstanceLock: () => app.singleInstance,
    getPath: () => '/tmp',
    quit: () => {
      if (app.quitted) return
      const e = { defaultPrevented: false, preventDefault: () => void (e.defaultPrevented = true) }
      app.emit('before-quit', e)
      if (e.defaultPrevented) return
      app.quitted = true
      app.emit('quit')
    }
  })
  const fake: Fake = {
    electron: null as unknown as ShellElectron,
    app,
    windows: [],
    win: () => fake.windows.find((w) => !('session' in w.options.webPreferences))!,
    ipc: new Map(),
    invoke: async (channel, opts, ...args) => {
      const h = fake.ipc.get(channel)
      if (!h) throw new Error(`no handler for ${channel}`)
      const wc = opts.wc ?? fake.win().webContents
      const top: Frame = { url: opts.url ?? wc.mainFrame.url, parent: null }
      const senderFrame = opts.subframe ? { url: top.url, parent: top } : top
      return h({ sender: wc, senderFrame }, ...args)
    },
    openAnswers: [],
    saveAnswers: [],
    dialogCalls: [],
    errorBoxes: [],
    menu: null,
    external: [],
    session: { permissionRequest: null, permissionCheck: null, beforeRequest: null, headersReceived: null },
    webContentsCreated: []
  }
  class BrowserWindow extends EventEmitter {
    options: FakeWindow['options']
    webContents = new FakeWebContents()
    url = ''
    loaded: string[] = []
    shown = false
    destroyed = false
    constructor(options: FakeWindow['options']) {
      super()
      this.options = options
      fake.windows.push(this as unknown as FakeWindow)
      fake.webContentsCreated.push(this.webContents)
      app.emit('web-contents-created', {}, this.webContents)
    }
    static getAllWindows(): BrowserWindow[] {
      return fake.windows.filter((w) => !w.destroyed) as unknown as BrowserWindow[]
    }
    async loadURL(url: string): Promise<void> {
      this.url = url
      this.loaded.push(url)
      this.webContents.mainFrame = { url, parent: null }
      this.emit('ready-to-show')
    }
    async loadFile(file: string): Promise<void> {
      await this.loadURL(`file://${file}`)
    }
    show(): void {
      this.shown = true
    }
    focus(): void {}
    isMinimized(): boolean {
      return false
    }
    restore(): void {}
    isDestroyed(): boolean {
      return this.destroyed
    }
    destroy(): void {
      this.destroyed = true
    }
    close(): void {
      this.destroyed = true
      this.emit('closed')
    }
  }
  const ses = (s: FakeSession) => ({
    setPermissionRequestHandler: (h: FakeSession['permissionRequest']) => void (s.permissionRequest = h),
    setPermissionCheckHandler: (h: FakeSession['permissionCheck']) => void (s.permissionCheck = h),
    webRequest: {
      onBeforeRequest: (h: FakeSession['beforeRequest']) => void (s.beforeRequest = h),
      onHeadersReceived: (h: FakeSession['headersReceived']) => void (s.headersReceived = h)
    }
  })
  fake.electron = {
    app,
    BrowserWindow,
    dialog: {
      showOpenDialog: async (...a: unknown[]) => {
        fake.dialogCalls.push(`open:${(a.at(-1) as { title?: string }).title}`)
        return fake.openAnswers.shift() ?? { canceled: true, filePaths: [] }
      },
      showSaveDialog: async (...a: unknown[]) => {
        fake.dialogCalls.push(`save:${(a.at(-1) as { title?: string }).title}`)
        return fake.saveAnswers.shift() ?? { canceled: true }
      },
      showErrorBox: (t: string, m: string) => void fake.errorBoxes.push([t, m])
    },
    ipcMain: { handle: (ch: string, f: (e: unknown, ...a: unknown[]) => unknown) => void fake.ipc.set(ch, f) },
    Menu: { buildFromTemplate: (template: unknown[]) => ({ template }), setApplicationMenu: (m: { template: unknown[] }) => void (fake.menu = m) },
    session: { defaultSession: ses(fake.session), fromPartition: () => ses({ permissionRequest: null, permissionCheck: null, beforeRequest: null, headersReceived: null }) },
    shell: { openExternal: async (u: string) => void fake.external.push(u) },
    nativeTheme: { shouldUseDarkColors: false }
  } as unknown as ShellElectron
  return fake
}
