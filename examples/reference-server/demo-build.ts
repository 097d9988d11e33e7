import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const demoRoot = fileURLToPath(new URL('./demo/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The demo page's files, by URL path, built by Vite into memory (a second or two at start). */
export async function buildDemoPage(): Promise<Map<string, { type: string; body: Buffer }>> {
  const output = await build({
    root: demoRoot,
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      outDir: 'dist',
      rolldownOptions: {
        // TanStack Query marks its modules "use client" for React Server Components; a page has none.
        onwarn(warning, warn) {
          if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
        },
      },
    },
  });
  const bundles = Array.isArray(output) ? output : [output];
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const bundle of bundles) {
    if (!('output' in bundle)) throw new Error('the demo build did not produce files');
    for (const item of bundle.output) {
      const body = Buffer.from(item.type === 'asset' ? item.source : item.code);
      files.set(`/${item.fileName}`, { type: CONTENT_TYPES[extname(item.fileName)] ?? 'application/octet-stream', body });
    }
  }
  return files;
}
