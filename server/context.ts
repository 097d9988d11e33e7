import type { IncomingMessage, ServerResponse } from 'node:http';
import { COOKIE_TRANSPORT_HEADER } from '../shared/cookie-transport.js';

/**
 * What `createContext` receives from a tRPC adapter: the Node ones (standalone, Express) pass the
 * request and the response, the fetch one a `Request` and the headers of its response.
 */
export type AuthContextOptions =
  | { req: IncomingMessage; res: ServerResponse }
  | { req: Request; resHeaders: Headers };

/** The parts of a request the kit reads, read once per request; nothing is looked up yet. */
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

export function readAuthRequest(opts: AuthContextOptions): AuthRequest {
  if (isFetchOptions(opts)) {
    const { req, resHeaders } = opts;
    return {
      authorization: req.headers.get('authorization'),
      userAgent: req.headers.get('user-agent'),
      ip: null,
      cookie: req.headers.get('cookie'),
      origin: req.headers.get('origin'),
      contentType: req.headers.get('content-type'),
      wantsCookie: req.headers.get(COOKIE_TRANSPORT_HEADER) === 'cookie',
      setHeader: (name, value) => resHeaders.set(name, value),
      afterResponse: (callback) => void setTimeout(callback, 0),
      appendHeader: (name, value) => resHeaders.append(name, value),
    };
  }
  const { req, res } = opts;
  return {
    authorization: authorizationOf(req),
    userAgent: req.headers['user-agent'] ?? null,
    ip: req.socket.remoteAddress ?? null,
    cookie: req.headers.cookie ?? null,
    origin: req.headers.origin ?? null,
    contentType: req.headers['content-type'] ?? null,
    wantsCookie: req.headers[COOKIE_TRANSPORT_HEADER] === 'cookie',
    setHeader: (name, value) => {
      if (!res.headersSent) res.setHeader(name, value);
    },
    appendHeader: (name, value) => {
      if (!res.headersSent) res.appendHeader(name, value);
    },
    afterResponse(callback) {
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
    },
  };
}
