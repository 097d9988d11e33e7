import { readFile, readdir } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
// A type only: at run time Vite is loaded where it is there, never from the published CLI.
import type { InlineConfig } from 'vite';

/** The demo page's files by URL path: what the server sends for `/`, `/assets/…`. */
export type DemoFiles = Map<string, { type: string; body: Buffer }>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const typeOf = (fileName: string) => CONTENT_TYPES[extname(fileName)] ?? 'application/octet-stream';

/** Where `npm run build` leaves the built page, beside this module in dist/. */
const BUILT_DEMO_DIR = fileURLToPath(new URL('./demo-dist/', import.meta.url));
const DEMO_SOURCE_DIR = fileURLToPath(new URL('./demo/', import.meta.url));

/**
 * The demo page: the files `npm run build` made (the published CLI has no Vite), or, run from the
 * sources (`npm start`), built by Vite into memory, which takes seconds (half a minute on a busy
 * machine): `log` says so, since the server prints nothing else meanwhile.
 */
export async function loadDemoPage(log: (line: string) => void = () => {}): Promise<DemoFiles> {
  const built = await readBuiltDemo();
  if (built) return built;
  log('building the demo page with Vite (each start from the sources; `npm run build` builds it once)…');
  const started = Date.now();
  const files = await buildDemoInMemory();
  log(`built the demo page in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return files;
}

async function readBuiltDemo(): Promise<DemoFiles | null> {
  let names: string[];
  try {
    names = await readdir(BUILT_DEMO_DIR, { recursive: true });
  } catch {
    return null;
  }
  const files: DemoFiles = new Map();
  for (const name of names.filter((each) => extname(each) !== '')) {
    files.set(`/${name.split(sep).join('/')}`, { type: typeOf(name), body: await readFile(join(BUILT_DEMO_DIR, name)) });
  }
  return files;
}

/**
 * Vite's settings for the demo page, whose sources are in `root`; with `outDir`, it writes there
 * instead of returning the files.
 */
export function demoViteConfig(target: { root: string; outDir?: string }): InlineConfig {
  const { root, outDir } = target;
  return {
    root,
    configFile: false,
    logLevel: 'warn',
    build: {
      write: outDir !== undefined,
      outDir: outDir ?? 'dist',
      emptyOutDir: true,
      rolldownOptions: {
        // TanStack Query marks its modules "use client" for React Server Components; a page has none.
        onwarn(warning, warn) {
          if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
        },
      },
    },
  };
}

async function buildDemoInMemory(): Promise<DemoFiles> {
  const { build } = await import('vite');
  const output = await build(demoViteConfig({ root: DEMO_SOURCE_DIR }));
  const bundles = Array.isArray(output) ? output : [output];
  const files: DemoFiles = new Map();
  for (const bundle of bundles) {
    if (!('output' in bundle)) throw new Error('the demo build did not produce files');
    for (const item of bundle.output) {
      files.set(`/${item.fileName}`, { type: typeOf(item.fileName), body: Buffer.from(item.type === 'asset' ? item.source : item.code) });
    }
  }
  return files;
}
