// `npm run build`: compiles the four entry points and the CLI (with the reference server it serves)
// to dist/ (.js + .d.ts), ships the migrations beside the code that uses them, and builds the demo
// page with Vite, so the published CLI serves it without Vite.
import { execFileSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { build } from 'vite';

await rm('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await cp('db/migrations', 'dist/db/migrations', { recursive: true });
// The page's sources compile with the rest; only its bundle is served.
await rm('dist/reference-server/demo', { recursive: true, force: true });
const { demoViteConfig } = await import('../dist/reference-server/demo-build.js');
await build(demoViteConfig({ root: 'reference-server/demo', outDir: new URL('../dist/reference-server/demo-dist/', import.meta.url).pathname }));
console.log('built dist/');
