/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// `CONSOLE_API_URL=http://127.0.0.1:8000 npm run dev` proxies /api (JSON and SSE) to a running back end;
// `npm run build && npm run mock` serves the built app with the e2e mock instead.
const api = process.env.CONSOLE_API_URL;

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: api ? { proxy: { '/api': { target: api } } } : {},
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Recharts 3 (with its redux/immer/d3 deps) alone is ~550 kB minified, ~160 kB gzipped.
    chunkSizeWarningLimit: 800,
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
