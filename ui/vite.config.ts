import { defineConfig } from 'vite';

// The app is served from Tauri's own scheme; nothing is loaded from a network.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, assetsInlineLimit: 0 },
  test: { environment: 'jsdom', include: ['tests/**/*.test.ts'] },
});
