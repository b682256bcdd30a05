// The IPC channels between the preload and the shell (src/main/electron/shell.ts): the whole of
// what the desktop window can ask of Electron. The app's requests do not pass here: they go
// over HTTP + WebSocket to the back end, as in a browser tab.
export const CHANNELS = {
  /** the back end's token (the app's page only) */
  token: 'iwsft:token',
  /** a native open/save dialog of one of the contract's PICK_KINDS (the app's page only) */
  pick: 'iwsft:pick',
  /** start the back end again (the error page shown when it stopped) */
  restart: 'iwsft:restart'
} as const
