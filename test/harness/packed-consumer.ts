import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = process.cwd();
const NODE_MODULES = join(ROOT, 'node_modules');

interface PackageJson {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

async function packageJson(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * The packages npm would install for `names`: each with its dependencies and required peers, and
 * theirs, as found in the repository's node_modules (a package's own nested node_modules comes with it).
 */
async function installClosure(names: string[]): Promise<string[]> {
  const found = new Set<string>();
  const queue = [...names];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (found.has(name)) continue;
    const dir = join(NODE_MODULES, name);
    if (!existsSync(join(dir, 'package.json'))) throw new Error(`${name} is not in node_modules: run npm ci`);
    found.add(name);
    const pkg = await packageJson(dir);
    const optionalPeers = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional).map(([peer]) => peer));
    const wanted = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}).filter((peer) => !optionalPeers.has(peer))];
    queue.push(...wanted.filter((dependency) => !existsSync(join(dir, 'node_modules', dependency))));
  }
  return [...found].sort();
}

/** A fresh application outside the repository with the packed kit installed, as `npm i` would leave it. */
export interface PackedConsumer {
  dir: string;
  /** The tarball `npm pack` made. */
  tarball: string;
  /** The packages in its node_modules besides the kit. */
  installed: string[];
  /** Runs the consumer's TypeScript with these arguments in its directory; resolves with what it printed and its exit code. */
  tsc(args: string[]): Promise<{ code: number; output: string }>;
  close(): Promise<void>;
}

/**
 * Builds the kit into a scratch copy of the package (the repository's dist/ stays as it is), packs
 * it with `npm pack`, and installs the tarball and `dependencies` into a new application in a temp
 * directory, offline: the packages are linked from the repository's node_modules, only those the kit
 * and `dependencies` need, so a devDependency of the kit is missing there as it would be after `npm i`.
 * TypeScript is then run with `--preserveSymlinks`, which resolves every import from the application's
 * node_modules, as in a real install.
 */
export async function installPackedKit(dependencies: string[]): Promise<PackedConsumer> {
  const dir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-consumer-'));
  try {
    const pkgDir = join(dir, 'package');
    await mkdir(pkgDir);
    for (const file of ['package.json', 'README.md', 'LICENSE']) if (existsSync(file)) await copyFile(file, join(pkgDir, file));
    await run(process.execPath, ['scripts/build.mjs', join(pkgDir, 'dist')], { cwd: ROOT });
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: pkgDir });
    const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
    const tarball = join(dir, filename);

    const app = join(dir, 'app');
    const kitDir = join(app, 'node_modules', 'trpc-auth-kit');
    await mkdir(kitDir, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', kitDir, '--strip-components=1']);
    const kitDependencies = Object.keys((await packageJson(kitDir)).dependencies ?? {});
    const installed = await installClosure([...kitDependencies, ...dependencies]);
    for (const name of installed) {
      await mkdir(dirname(join(app, 'node_modules', name)), { recursive: true });
      await symlink(join(NODE_MODULES, name), join(app, 'node_modules', name), 'dir');
    }
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    return {
      dir: app,
      tarball,
      installed,
      async tsc(args) {
        const tsc = join(app, 'node_modules/typescript/bin/tsc');
        return run(process.execPath, [tsc, '--preserveSymlinks', '--pretty', 'false', ...args], { cwd: app, maxBuffer: 16 * 1024 * 1024 }).then(
          ({ stdout: output }) => ({ code: 0, output }),
          (error: Error & { code?: number; stdout?: string }) => ({ code: typeof error.code === 'number' ? error.code : 1, output: error.stdout || error.message }),
        );
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

