// Build of the three Electron bundles into out/: main (ESM, Node deps left in node_modules),
// preload (one self-contained CommonJS file, as sandboxed preloads require) and the renderer.
// `MIMI_BUILD_TARGET=renderer` builds only the renderer: browser mode needs nothing else, and the
// renderer must build even when main-process code is mid-change.

import { defineConfig, type UserConfig } from 'electron-vite';
import vue from '@vitejs/plugin-vue';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { contentSecurityPolicy } from './src-main/bridge/csp';

const root = __dirname;

/** Adds the CSP <meta> tag to the built index.html (not in dev: Vite's dev server injects inline styles). */
function cspMetaTag(): Plugin {
  return {
    name: 'mimi-csp-meta',
    apply: 'build',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy({ forMetaTag: true }) }, injectTo: 'head-prepend' },
    ],
  };
}

const renderer: UserConfig['renderer'] = {
  root: resolve(root, 'src-renderer'),
  plugins: [vue(), cspMetaTag()],
  build: {
    outDir: resolve(root, 'out/renderer'),
    emptyOutDir: true,
    rolldownOptions: { input: resolve(root, 'src-renderer/index.html') },
  },
};

export default defineConfig((): UserConfig => {
  if (process.env.MIMI_BUILD_TARGET === 'renderer') return { renderer };
  return {
    main: {
      build: {
        outDir: resolve(root, 'out/main'),
        // Native modules must be loaded from node_modules at run time, never bundled.
        externalizeDeps: { include: ['better-sqlite3', 'keytar'] },
        rolldownOptions: {
          // The MLS worker (src-main/mls/worker-engine.ts) is started from beside the main bundle.
          input: { index: resolve(root, 'src-main/electron/main.ts'), 'mls-engine-worker': resolve(root, 'src-main/mls/engine-worker.ts') },
          external: ['better-sqlite3', 'keytar'],
        },
      },
    },
    preload: {
      build: {
        outDir: resolve(root, 'out/preload'),
        // Sandboxed preloads can only `require('electron')`: bundle everything else in.
        externalizeDeps: false,
        rolldownOptions: {
          input: { index: resolve(root, 'src-main/electron/preload.ts') },
          output: { format: 'cjs', entryFileNames: '[name].cjs' },
        },
      },
    },
    renderer,
  };
});
