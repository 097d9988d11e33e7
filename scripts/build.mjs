// `npm run build`: compiles the four entry points and the CLI (with the reference server it serves)
// to dist/ (.js + .d.ts), ships the migrations beside the code that uses them, and builds the demo
// page with Vite, so the published CLI serves it without Vite.
// `node scripts/build.mjs <dir>` builds into <dir> instead (test/packed-types.test.ts packs it).
import { execFileSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';

const outDir = resolve(process.argv[2] ?? 'dist');
await rm(outDir, { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', outDir], { stdio: 'inherit' });
await cp('db/migrations', join(outDir, 'db/migrations'), { recursive: true });
// The page's sources compile with the rest; only its bundle is served.
await rm(join(outDir, 'reference-server/demo'), { recursive: true, force: true });
const { demoViteConfig } = await import(pathToFileURL(join(outDir, 'reference-server/demo-build.js')).href);
await build(demoViteConfig({ root: 'reference-server/demo', outDir: join(outDir, 'reference-server/demo-dist') }));
console.log(`built ${outDir}`);
