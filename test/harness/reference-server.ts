import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** A running `npm start`: the same entry point, as a child process. */
export interface RunningServer {
  process: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<number | null>;
}

/**
 * Starts the server and resolves once it listens; `onOutput` sees everything it prints meanwhile.
 * `command` is what runs it: `npm start`'s entry point by default, or the CLI's `serve`.
 */
export async function startServer(
  env: Record<string, string>,
  onOutput: (output: string) => void = () => {},
  command: string[] = ['reference-server/main.ts'],
): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...command], {
    env: { ...process.env, PORT: '0', APP_URL: 'https://app.example.test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test file ended early (the watchdog's process.exit at its timeout) must not leave the server running.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    onOutput(output);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: the first start builds the demo page, and a loaded CI machine is slow at it.
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 90_000);
    child.stdout?.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return {
    process: child,
    url,
    output: () => output,
    stop() {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export async function call(server: RunningServer, path: string, request: { input?: unknown; accessToken?: string } = {}) {
  const { input, accessToken } = request;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const response =
    input === undefined
      ? await fetch(`${server.url}/trpc/${path}`, { headers })
      : await fetch(`${server.url}/trpc/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: input }) });
  const body = (await response.json()) as { result?: { data: { json: Record<string, never> } }; error?: { json: { data: { authCode: string } } } };
  return { status: response.status, data: body.result?.data.json, authCode: body.error?.json.data.authCode };
}

