// `npm run build`: compiles the four entry points to dist/ (.js + .d.ts) and ships the migrations
// beside the code that applies them.
import { execFileSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await cp('db/migrations', 'dist/db/migrations', { recursive: true });
console.log('built dist/');
