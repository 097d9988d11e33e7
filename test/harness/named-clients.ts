import type { AuthContextOptions } from '../../server/index.js';
import type { TestApp } from './test-kit.js';

/*
 * Many clients from one test process: each request names its client in `x-test-client`, and the
 * app's `clientIp` option reads it, as a deployment behind a proxy reads the proxy's header.
 */

const CLIENT_HEADER = 'x-test-client';

/** The `clientIp` option of an app whose clients name themselves. */
export function clientFromHeader(opts: AuthContextOptions): string | null {
  if (!('socket' in opts.req)) return null;
  const named = opts.req.headers[CLIENT_HEADER];
  return typeof named === 'string' ? named : null;
}

/** What a test reads of an answer. */
export interface Answer {
  status: number;
  /** The `Retry-After` header, in seconds. */
  retryAfter: number | null;
  /** `data.authCode` of a failed call. */
  authCode: string | null;
  /** What a successful call returned. */
  data: unknown;
}

type Envelope = { result?: { data: { json: unknown } }; error?: { json: { data: { authCode: string | null } } } };

async function post(app: TestApp, client: string, request: { path: string; body: unknown }): Promise<{ status: number; retryAfter: number | null; body: unknown }> {
  const response = await fetch(`${app.url}/${request.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CLIENT_HEADER]: client },
    body: JSON.stringify(request.body),
  });
  const retryAfter = response.headers.get('retry-after');
  return { status: response.status, retryAfter: retryAfter === null ? null : Number(retryAfter), body: await response.json() };
}

/** Calls the mutation `path` as `client`. */
export async function mutateAs(app: TestApp, client: string, call: { path: string; input: unknown }): Promise<Answer> {
  const { status, retryAfter, body } = await post(app, client, { path: call.path, body: { json: call.input } });
  const envelope = body as Envelope;
  return { status, retryAfter, authCode: envelope.error?.json.data.authCode ?? null, data: envelope.result?.data.json };
}

/** Calls the mutation `path` once per input, all in one batched HTTP request, as `client`. */
export async function batchAs(app: TestApp, client: string, call: { path: string; inputs: unknown[] }): Promise<{ retryAfter: number | null; authCodes: Array<string | null> }> {
  const paths = call.inputs.map(() => call.path).join(',');
  const body = Object.fromEntries(call.inputs.map((input, index) => [String(index), { json: input }]));
  const answer = await post(app, client, { path: `${paths}?batch=1`, body });
  return { retryAfter: answer.retryAfter, authCodes: (answer.body as Envelope[]).map((result) => result.error?.json.data.authCode ?? null) };
}
