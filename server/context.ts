import type { IncomingMessage, ServerResponse } from 'node:http';
import { COOKIE_TRANSPORT_HEADER } from '../shared/cookie-transport.js';

/**
 * What `createContext` receives from a tRPC adapter: the Node ones (standalone, Express) pass the
 * request and the response, the fetch one a `Request` and the headers of its response.
 */
export type AuthContextOptions =
  | { req: IncomingMessage; res: ServerResponse }
  | { req: Request; resHeaders: Headers };

/**
 * The parts of a request the kit reads, each read from the request when first asked for (a call
 * that reads none pays for none); nothing is looked up yet.
 */
export interface AuthRequest {
  /** The raw `Authorization` header. */
  authorization: string | null;
  userAgent: string | null;
  /** The peer address of the connection; never a client-set header. */
  ip: string | null;
  /** The raw `Cookie`, `Origin` and `Content-Type` headers, read for cookie mode. */
  cookie: string | null;
  origin: string | null;
  contentType: string | null;
  /** Whether the client asked for its refresh tokens in a cookie (`x-auth-token-transport: cookie`). */
  wantsCookie: boolean;
  /** Sets a header on the response (the bearer challenge, `Cache-Control`). */
  setHeader(name: string, value: string): void;
  /**
   * Calls `callback` once the response has been written (Node adapters), or on the next turn of the
   * event loop where the adapter does not say (fetch).
   */
  afterResponse(callback: () => void): void;
  /** Adds a header line, keeping those already set (a second `WWW-Authenticate` challenge). */
  appendHeader(name: string, value: string): void;
}

/** The context every procedure of the kit can read. */
export interface AuthBaseContext {
  authRequest: AuthRequest;
}

function isFetchOptions(opts: AuthContextOptions): opts is { req: Request; resHeaders: Headers } {
  return 'resHeaders' in opts;
}

/**
 * The `Authorization` header. Node keeps only the first of two; joined, as the fetch adapter does,
 * the ambiguous pair fails every scheme's parsing instead of passing as the first. Only a request
 * that has one pays for the scan of the raw header names.
 */
export function authorizationOf(req: IncomingMessage): string | null {
  const first = req.headers.authorization;
  if (first === undefined) return null;
  const raw = req.rawHeaders;
  let seen = 0;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization') seen++;
  }
  return seen > 1 ? (req.headersDistinct.authorization ?? []).join(', ') : first;
}

/** The peer address of the connection (Node adapters); null for a fetch `Request`, which has none. */
export function readPeerAddress(opts: AuthContextOptions): string | null {
  return isFetchOptions(opts) ? null : (opts.req.socket.remoteAddress ?? null);
}

/*
 * The two adapters' requests are classes rather than object literals: building one per request
 * allocates a single object, with no closures, and a header no procedure reads is never read.
 */

/** A request of the fetch adapter, its answer's headers in `resHeaders`. */
class FetchAuthRequest implements AuthRequest {
  readonly #req: Request;
  readonly #resHeaders: Headers;
  ip: string | null = null;

  constructor(req: Request, resHeaders: Headers) {
    this.#req = req;
    this.#resHeaders = resHeaders;
  }

  get authorization(): string | null {
    return this.#req.headers.get('authorization');
  }

  get userAgent(): string | null {
    return this.#req.headers.get('user-agent');
  }

  get cookie(): string | null {
    return this.#req.headers.get('cookie');
  }

  get origin(): string | null {
    return this.#req.headers.get('origin');
  }

  get contentType(): string | null {
    return this.#req.headers.get('content-type');
  }

  get wantsCookie(): boolean {
    return this.#req.headers.get(COOKIE_TRANSPORT_HEADER) === 'cookie';
  }

  setHeader(name: string, value: string): void {
    this.#resHeaders.set(name, value);
  }

  appendHeader(name: string, value: string): void {
    this.#resHeaders.append(name, value);
  }

  afterResponse(callback: () => void): void {
    setTimeout(callback, 0);
  }
}

/** A request of a Node adapter (standalone, Express), answered through `res`. */
class NodeAuthRequest implements AuthRequest {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  /** Undefined until read: the scan for a second header is paid for once. */
  #authorization: string | null | undefined;
  #ip: string | null | undefined;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
  }

  get authorization(): string | null {
    if (this.#authorization === undefined) this.#authorization = authorizationOf(this.#req);
    return this.#authorization;
  }

  get ip(): string | null {
    if (this.#ip === undefined) this.#ip = this.#req.socket.remoteAddress ?? null;
    return this.#ip;
  }

  /** Set by `createContext` when the `clientIp` option says who the client is. */
  set ip(ip: string | null) {
    this.#ip = ip;
  }

  get userAgent(): string | null {
    return this.#req.headers['user-agent'] ?? null;
  }

  get cookie(): string | null {
    return this.#req.headers.cookie ?? null;
  }

  get origin(): string | null {
    return this.#req.headers.origin ?? null;
  }

  get contentType(): string | null {
    return this.#req.headers['content-type'] ?? null;
  }

  get wantsCookie(): boolean {
    return this.#req.headers[COOKIE_TRANSPORT_HEADER] === 'cookie';
  }

  setHeader(name: string, value: string): void {
    if (!this.#res.headersSent) this.#res.setHeader(name, value);
  }

  appendHeader(name: string, value: string): void {
    if (!this.#res.headersSent) this.#res.appendHeader(name, value);
  }

  afterResponse(callback: () => void): void {
    const res = this.#res;
    if (res.writableFinished || res.destroyed) return void setImmediate(callback);
    // 'close' too: a client that hangs up never gets its response finished.
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      callback();
    };
    res.once('finish', once);
    res.once('close', once);
  }
}

/** The kit's view of the request `opts` carries. */
export function readAuthRequest(opts: AuthContextOptions): AuthRequest {
  return isFetchOptions(opts) ? new FetchAuthRequest(opts.req, opts.resHeaders) : new NodeAuthRequest(opts.req, opts.res);
}
