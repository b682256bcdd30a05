import { resolve } from 'node:path'
import { defineConfig, externalizeDepsPlugin } from 'electron-vite'
import react from '@vitejs/plugin-react'

// The desktop shell (main: src/main/electron, the only Electron process code) and its preload;
// the renderer is a plain browser bundle that the back end (`iwsft serve`) serves to a browser
// tab and to the desktop window alike, so it must never import Node modules. The back end is
// not bundled here: it runs from the sources under Node (bin/iwsft.mjs), never in Electron, and
// the shell's bundle must not contain any native module (tests/integration/shell-build.test.ts).
export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/main/electron/index.ts') }
      }
    }
  },
  preload: {
    plugins: [externalizeDepsPlugin()],
    build: { rollupOptions: { input: { index: resolve(__dirname, 'src/preload/index.ts') }, output: { format: 'cjs' } } }
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: { rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } } },
    resolve: { alias: { '@shared': resolve(__dirname, 'src/shared') } },
    plugins: [react()]
  }
})
