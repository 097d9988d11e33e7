// `npm run build`: compiles the four entry points and the CLI (with the reference server it serves)
// to dist/ (.js + .d.ts), and ships the migrations and the server's pages beside the code that uses them.
import { execFileSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await cp('db/migrations', 'dist/db/migrations', { recursive: true });
await cp('examples/reference-server', 'dist/examples/reference-server', { recursive: true, filter: (path) => !path.endsWith('.ts') });
console.log('built dist/');
