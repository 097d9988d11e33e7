import { Agent, request } from 'node:http';

/** What a call came back with; status 0 when no HTTP answer came (refused, reset, timed out). */
export interface CallAnswer {
  status: number;
  authCode: string | null;
  data: Record<string, unknown> | undefined;
  /** The network error's code when status is 0. */
  failure: string | null;
  /** What the answer's `Retry-After` asked for, in seconds; null without one. */
  retryAfterSeconds: number | null;
  ms: number;
}

/**
 * The address of the `index`-th simulated client: every address of 127.0.0.0/8 is this machine, so
 * a client can be its own address and the kit's per-client limits see many clients, as in
 * production, rather than one (127.0.0.1) making every call.
 */
export function clientAddress(index: number): string {
  return `127.0.${Math.floor(index / 250) + 1}.${(index % 250) + 1}`;
}

/**
 * Calls tRPC procedures over HTTP from `address` (null: whichever the system picks), on kept-alive
 * connections: a mutation when there is `input`, else a query. A call that gets no answer within
 * `timeoutMs` ends with status 0.
 */
export function loopbackClient(address: string | null, timeoutMs = 15_000) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  return {
    address,
    call(baseUrl: string, path: string, options: { input?: unknown; accessToken?: string } = {}): Promise<CallAnswer> {
      const url = new URL(`${baseUrl}/trpc/${path}`);
      const body = options.input === undefined ? null : JSON.stringify({ json: options.input });
      const headers: Record<string, string> = {};
      if (body !== null) headers['content-type'] = 'application/json';
      if (options.accessToken) headers.authorization = `Bearer ${options.accessToken}`;
      const started = performance.now();
      const send = (retried: boolean) =>
        new Promise<CallAnswer>((resolve) => {
          const done = (answer: Omit<CallAnswer, 'ms'>) => resolve({ ...answer, ms: performance.now() - started });
          const sent = request(url, { method: body === null ? 'GET' : 'POST', headers, agent, localAddress: address ?? undefined, timeout: timeoutMs }, (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, authCode: null, data: undefined, failure: error.code ?? error.message, retryAfterSeconds: null }));
            response.on('end', () => {
              let parsed: { result?: { data?: { json?: Record<string, unknown> } }; error?: { json?: { data?: { authCode?: string | null } } } } = {};
              try {
                parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof parsed;
              } catch {
                // A body that is not tRPC's JSON (a proxy's error page) has no auth code to read.
              }
              const retryAfter = Number(response.headers['retry-after']);
              done({
                status: response.statusCode ?? 0,
                authCode: parsed.error?.json?.data?.authCode ?? null,
                data: parsed.result?.data?.json,
                failure: null,
                retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null,
              });
            });
          });
          sent.on('timeout', () => sent.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
          sent.on('error', (error: NodeJS.ErrnoException) => {
            // A kept-alive connection the server closed just as the request went out: it never got
            // the request, so sending it again on a new connection is what any HTTP client does.
            if (sent.reusedSocket && error.code === 'ECONNRESET' && !retried) resolve(send(true));
            else done({ status: 0, authCode: null, data: undefined, failure: error.code ?? error.message, retryAfterSeconds: null });
          });
          sent.end(body ?? undefined);
        });
      return send(false);
    },
    close(): void {
      agent.destroy();
    },
  };
}

export type LoopbackClient = ReturnType<typeof loopbackClient>;
