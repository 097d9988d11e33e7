import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnyRouter } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { AUTH_ERROR_CODES } from '../../shared/errors.js';
import type { AuthContextOptions } from '../context.js';
import { authorizationOf } from '../context.js';
import type { RememberingLimiter } from '../limits/refusal-memory.js';
import { authError } from '../errors.js';
import { clientLimitKey } from '../limits/throttles.js';
import type { ClientLimitKind } from '../limits/throttles.js';
import { isMalformedBearerToken } from '../tokens/token-check.js';
import type { TokenCheck } from '../tokens/token-check.js';
import type { TokenFailures } from '../tokens/token-failures.js';
import { isNoStoreMiddleware, noStoreMiddleware } from '../trpc.js';
import { bearerChallenge, bearerTokenOf, isProtectMiddleware, missingTokenCode } from './bearer.js';
import { databaseUnavailableMiddleware } from './database-unavailable.js';

/*
 * The refusal gate: a request from a client this node already refuses is answered 429 before its
 * body is read and before tRPC runs. A refused request otherwise pays for all of tRPC's work (the
 * Node request turned into a fetch Request, the body read and parsed, superjson, the input schema,
 * the middlewares, a TRPCError and its error shape) to be told what this node knew from the start;
 * on two cores each such millisecond is one a victim's request waits behind it.
 *
 * The gate refuses only what the procedure itself would refuse at once, and knows it only from
 * memory: the refusal memory of the shared counters (limits/refusal-memory.ts) and the per-client
 * tally of unknown tokens (tokens/token-failures.ts). Per procedure, the limits it meets first,
 * whatever the input:
 *   - `login`: the client's hash allowance, then its failed sign-ins;
 *   - `register`: its failed sign-ins where the answer names a taken address (confirmation not
 *     `required`), then its hash allowance;
 *   - every query or mutation whose first check is the bearer check (`protectedProcedure`, the kit's
 *     own): a token this node cannot answer from memory, from a client refused its lookups. A token
 *     the cache holds goes through, so a user behind the attacker's address keeps working.
 * The bearer check's other refusals that cost nothing are answered here too, for any client: no
 * token (401 TOKEN_MISSING), one that fails the prefix, length or checksum (401 TOKEN_INVALID), two
 * Authorization headers (400 INVALID_REQUEST); those are never counted, so without the gate a flood
 * of them would pay for tRPC without end. Nothing else is gated; a batch is gated only when every call
 * in it is, with one status. The client is who
 * `createContext` says it is (the connection's peer, or the `clientIp` option): no header can name
 * another. The answer is the one tRPC would give (status, headers, the error shape with
 * `data.authCode`), only sooner; it counts in the metrics as tRPC's would, and adds
 * nothing to a counter, which is already past its limit until its window ends.
 */

/** Where the gate finds the calls of a request: the application's router and where it is served. */
export interface RefusalGateOptions {
  /** The router the wrapped handler serves: the application's, with the kit's router in it. */
  router: AnyRouter;
  /**
   * The path before the procedure's, as the wrapped handler sees `req.url` (for the fetch adapter,
   * the URL's path): tRPC's `basePath` or `endpoint`; `'/'` inside Express's `app.use('/trpc', …)`.
   * @default '/trpc/'
   */
  basePath?: string;
}

/** Answers from memory before a tRPC handler runs; everything else goes on to the handler. */
export interface RefusalGate {
  /** A Node handler (tRPC's standalone `createHTTPHandler`, Express middleware) behind the gate. */
  node<TRest extends unknown[]>(handler: (req: IncomingMessage, res: ServerResponse, ...rest: TRest) => unknown): (req: IncomingMessage, res: ServerResponse, ...rest: TRest) => unknown;
  /** A fetch handler (tRPC's `fetchRequestHandler`, in a route or a Worker) behind the gate. */
  fetch<TRest extends unknown[]>(handler: (req: Request, ...rest: TRest) => Response | Promise<Response>): (req: Request, ...rest: TRest) => Response | Promise<Response>;
}

/** What the gate reads its refusals from: the kit's own parts, from `createAuth`. */
export interface RefusalGateDeps {
  refusals: RememberingLimiter;
  tokenFailures: TokenFailures;
  /** The token check, uncounted: the gate counts what it refuses itself. */
  checkToken: TokenCheck;
  /** The realm of the bearer challenge (`mail.appName`). */
  realm: string;
  /** Who the client is, as `createContext` says. */
  clientIpOf: (opts: AuthContextOptions) => string | null;
  /** The kit's `login` and `register`, to find them in the application's router. */
  procedures: { login: object; register: object };
  /** Whether `register` counts a taken address as a failed sign-in (confirmation not `required`). */
  registerCountsFailures: boolean;
  /** A refusal the gate answered, for the metrics: by a limit's key, or a token check's by its code. */
  counted: (refusal: { key: string } | { tokenCheck: 'RATE_LIMITED' | 'TOKEN_INVALID' }) => void;
}

/** The request's method, and its headers, read only when a refusal needs them. */
interface RequestHeaders {
  method: string;
  authorization: () => string | null;
  header: (name: string) => string | null;
}

/** Whether the client asked for tRPC's streamed answer (`httpBatchStreamLink`), as tRPC tells it. */
function streams(request: RequestHeaders): boolean {
  const trpcAccept = request.header('trpc-accept');
  if (trpcAccept !== null) return trpcAccept === 'application/jsonl';
  return (request.header('accept') ?? '').split(',').some((type) => type.trim() === 'application/jsonl');
}

/** The codes the gate answers with. */
type GateCode = 'RATE_LIMITED' | 'TOKEN_MISSING' | 'TOKEN_INVALID' | 'INVALID_REQUEST';

/** One call's refusal: its code and the header tRPC sets with it (`Retry-After`, `WWW-Authenticate`). */
interface Refusal {
  code: GateCode;
  header: readonly [string, string];
  /** What the metrics count of it, once the gate answers (a call it lets through tRPC counts). */
  counts?: GateCount;
}

type GateCount = Parameters<RefusalGateDeps['counted']>[0];

/** The gate's answer to a request. */
interface Answer {
  status: number;
  body: string;
  headers: ReadonlyArray<readonly [string, string]>;
  noStore: boolean;
  counts: readonly GateCount[];
}

/** What refuses one procedure, or null to let it through. */
type Rule = (ip: string | null, request: RequestHeaders) => Refusal | null;

interface GatedProcedure {
  rule: Rule;
  /** The method tRPC serves the procedure on: GET for a query, POST for a mutation. */
  method: 'GET' | 'POST';
  /** Whether tRPC's answer carries `Cache-Control: no-store` (the kit's procedures). */
  noStore: boolean;
  /** The call's error for each code, as the kit's error formatter and superjson write it. */
  errorJson: Record<GateCode, string>;
}

const GATE_CODES: readonly GateCode[] = ['RATE_LIMITED', 'TOKEN_MISSING', 'TOKEN_INVALID', 'INVALID_REQUEST'];
/** The HTTP status of each code, as tRPC gives it. */
const STATUS = Object.fromEntries(GATE_CODES.map((code) => [code, getHTTPStatusCodeFromError(authError(code))])) as Record<GateCode, number>;

/** The kit's middlewares that may run before the bearer check: they answer nothing themselves. */
const LEAD_MIDDLEWARES = new Set<unknown>([...databaseUnavailableMiddleware._middlewares, ...noStoreMiddleware._middlewares]);

/** A procedure's middlewares in the order they run (tRPC keeps them on the built procedure). */
function middlewaresOf(procedure: object): unknown[] {
  const def = (procedure as { _def?: { middlewares?: unknown } })._def;
  return Array.isArray(def?.middlewares) ? def.middlewares : [];
}

function errorJsonOf(path: string): Record<GateCode, string> {
  const json = (code: GateCode) => {
    const key = AUTH_ERROR_CODES[code];
    const shape = { message: code, code: TRPC_ERROR_CODES_BY_KEY[key], data: { code: key, httpStatus: STATUS[code], path, authCode: code } };
    return JSON.stringify({ error: { json: shape } });
  };
  return Object.fromEntries(GATE_CODES.map((code) => [code, json(code)])) as Record<GateCode, string>;
}

/** Builds the gate for `options.router`; `createAuth` returns it bound to the kit as `auth.refusalGate`. */
export function createRefusalGate(deps: RefusalGateDeps, options: RefusalGateOptions): RefusalGate {
  const { refusals, tokenFailures, checkToken, counted } = deps;
  const basePath = (options.basePath ?? '/trpc/').replace(/\/?$/, '/');
  const limited = (seconds: number): Refusal => ({ code: 'RATE_LIMITED', header: ['Retry-After', String(seconds)] });
  const unauthorized = (code: 'TOKEN_MISSING' | 'TOKEN_INVALID' | 'INVALID_REQUEST'): Refusal => ({ code, header: ['WWW-Authenticate', bearerChallenge(deps.realm, code)] });

  const refusedBy =
    (kinds: readonly ClientLimitKind[]): Rule =>
    (ip) => {
      if (ip === null) return null;
      for (const kind of kinds) {
        const key = clientLimitKey(kind, ip);
        const retryAfterSeconds = refusals.refusedFor(key);
        if (retryAfterSeconds !== null) return { ...limited(retryAfterSeconds), counts: { key } };
      }
      return null;
    };

  // The bearer check's refusals that need nothing looked up: no token, a malformed one, and (for a
  // client refused its lookups) one this node cannot answer from memory. The checksum is computed
  // here for every token, good ones too (about 0.5 µs, against the 400 µs or so tRPC spends on an
  // HTTP call): no limit counts a bad one, so only this keeps a flood of them from paying for tRPC.
  const bearerRefusal: Rule = (ip, request) => {
    const authorization = request.authorization();
    const token = bearerTokenOf(authorization);
    if (token === null) return unauthorized(missingTokenCode(authorization));
    if (isMalformedBearerToken(token)) return { ...unauthorized('TOKEN_INVALID'), counts: { tokenCheck: 'TOKEN_INVALID' } };
    if (ip === null || tokenFailures.refusedFor(ip) === null) return null;
    const check = checkToken(token, ip);
    if (check instanceof Promise) {
      // The client's window ended meanwhile: the lookup it may make again runs, and tRPC answers.
      check.catch(() => {});
      return null;
    }
    if (check.ok || check.code !== 'RATE_LIMITED') return null;
    return { ...limited(check.retryAfterSeconds), counts: { tokenCheck: 'RATE_LIMITED' } };
  };

  const gated = new Map<string, GatedProcedure>();
  const procedures = (options.router._def as { procedures: Record<string, object> }).procedures;
  for (const [path, procedure] of Object.entries(procedures)) {
    const middlewares = middlewaresOf(procedure);
    const noStore = middlewares.some((middleware) => typeof middleware === 'function' && isNoStoreMiddleware(middleware));
    const type = (procedure as { _def?: { type?: unknown } })._def?.type;
    if (type !== 'query' && type !== 'mutation') continue;
    let rule: Rule | null = null;
    if (procedure === deps.procedures.login) rule = refusedBy(['hashes-ip', 'failures-ip']);
    else if (procedure === deps.procedures.register) rule = refusedBy(deps.registerCountsFailures ? ['failures-ip', 'hashes-ip'] : ['hashes-ip']);
    else {
      const protect = middlewares.findIndex((middleware) => typeof middleware === 'function' && isProtectMiddleware(middleware));
      // Only where nothing that could answer runs before the bearer check.
      if (protect >= 0 && middlewares.slice(0, protect).every((middleware) => LEAD_MIDDLEWARES.has(middleware))) rule = bearerRefusal;
    }
    if (rule) gated.set(path, { rule, method: type === 'query' ? 'GET' : 'POST', noStore, errorJson: errorJsonOf(path) });
  }

  /**
   * The answer for this request, or null to let it through. A method the procedure is not served on
   * (a preflight's OPTIONS, HEAD, a query POSTed) goes to the handler: what answers it there (a CORS
   * middleware, tRPC's 405) is not the gate's to know.
   */
  function refusalOf(url: string, ip: string | null, request: RequestHeaders): Answer | null {
    if (!url.startsWith(basePath)) return null;
    const queryAt = url.indexOf('?');
    // The path as tRPC matches it, undecoded: one it would decode or trim first is not gated.
    const pathPart = url.slice(basePath.length, queryAt === -1 ? undefined : queryAt);
    const batch = queryAt !== -1 && new URLSearchParams(url.slice(queryAt + 1)).get('batch') === '1';
    const answer = batch ? refuseBatch(pathPart, ip, request) : refuseCall(pathPart, ip, request);
    // A streamed answer (httpBatchStreamLink) has a shape of its own: tRPC writes it, and counts it.
    if (!answer || streams(request)) return null;
    for (const count of answer.counts) counted(count);
    return answer;
  }

  function countsOf(refusals: readonly Refusal[]): GateCount[] {
    return refusals.flatMap((refusal) => (refusal.counts ? [refusal.counts] : []));
  }

  function refuseCall(path: string, ip: string | null, request: RequestHeaders): Answer | null {
    const call = gated.get(path);
    const refusal = call && call.method === request.method ? call.rule(ip, request) : null;
    return call && refusal
      ? { status: STATUS[refusal.code], body: call.errorJson[refusal.code], headers: [refusal.header], noStore: call.noStore, counts: countsOf([refusal]) }
      : null;
  }

  function refuseBatch(pathPart: string, ip: string | null, request: RequestHeaders): Answer | null {
    const calls: GatedProcedure[] = [];
    for (const path of pathPart.split(',')) {
      const call = gated.get(path);
      if (!call || call.method !== request.method) return null;
      calls.push(call);
    }
    const errors: string[] = [];
    const headers: Array<readonly [string, string]> = [];
    const refusals: Refusal[] = [];
    let status = 0;
    for (const call of calls) {
      const refusal = call.rule(ip, request);
      // Calls answered with different statuses make tRPC's 207: that one it writes.
      if (refusal === null || (status !== 0 && STATUS[refusal.code] !== status)) return null;
      status = STATUS[refusal.code];
      errors.push(call.errorJson[refusal.code]);
      headers.push(refusal.header);
      refusals.push(refusal);
    }
    // tRPC sets each header once per call; the last one of a name stands.
    return { status, body: `[${errors.join(',')}]`, headers: [...new Map(headers).entries()], noStore: calls.some((call) => call.noStore), counts: countsOf(refusals) };
  }

  /** tRPC's headers on its answer, as name and value in turn. */
  function headersOf(answer: Answer): string[] {
    const headers = [...answer.headers.flat(), 'content-type', 'application/json', 'vary', 'trpc-accept, accept'];
    return answer.noStore ? ['cache-control', 'no-store', ...headers] : headers;
  }

  return {
    node(handler) {
      return function gatedNodeHandler(req, res, ...rest) {
        const refusal = refusalOf(req.url ?? '/', deps.clientIpOf({ req, res }), {
          method: req.method ?? '',
          authorization: () => authorizationOf(req),
          header: (name) => {
            const value = req.headers[name];
            return Array.isArray(value) ? value.join(', ') : (value ?? null);
          },
        });
        if (!refusal) return handler(req, res, ...rest);
        // The body is never read: Node discards it once the answer is written, as it does after
        // tRPC's refusal of a body too large, within the server's `requestTimeout`.
        res.writeHead(refusal.status, headersOf(refusal)).end(refusal.body);
        return undefined;
      };
    },
    fetch(handler) {
      return function gatedFetchHandler(req, ...rest) {
        const url = new URL(req.url);
        const refusal = refusalOf(url.pathname + url.search, deps.clientIpOf({ req, resHeaders: new Headers() }), {
          method: req.method,
          authorization: () => req.headers.get('authorization'),
          header: (name) => req.headers.get(name),
        });
        if (!refusal) return handler(req, ...rest);
        const headers = headersOf(refusal);
        const init = new Headers();
        for (let at = 0; at < headers.length; at += 2) init.append(headers[at] as string, headers[at + 1] as string);
        return new Response(refusal.body, { status: refusal.status, headers: init });
      };
    },
  };
}
