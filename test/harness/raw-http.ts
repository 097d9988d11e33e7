import { connect } from 'node:net';

/** A response as read off the socket: every header line kept, in order, names lower-cased. */
export interface RawResponse {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  /** The values of every line of header `name`. */
  header(name: string): string[];
  json<T = unknown>(): T;
}

/** What `rawRequest` sends. */
export interface RawRequest {
  method?: string;
  path: string;
  headers?: string[];
  body?: string;
  /** The local address to send from: another loopback address is a client of its own to the server. */
  from?: string;
}

/**
 * Sends an HTTP/1.1 request byte for byte as given (header lines included, so tests can send what
 * a well-behaved client never would: two Authorization headers, odd spacing, raw UTF-8) and reads
 * the response until the server closes the connection.
 */
export async function rawRequest(url: string, request: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const body = request.body ?? '';
  const lines = [
    `${request.method ?? (request.body === undefined ? 'GET' : 'POST')} ${request.path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: close',
    ...(request.headers ?? []),
    ...(request.body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]),
  ];
  const raw = await new Promise<Buffer>((resolve, reject) => {
    // Written, not ended: the server closes the connection once it has answered (Connection: close).
    const socket = connect({ port: Number(port), host: hostname, localAddress: request.from }, () => socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8')));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const headers = headerLines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  const chunked = headers.some(([name, value]) => name === 'transfer-encoding' && value === 'chunked');
  const responseBody = (chunked ? unchunk(raw.subarray(split + 4)) : raw.subarray(split + 4)).toString('utf8');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: responseBody,
    header: (name) => headers.filter(([key]) => key === name.toLowerCase()).map(([, value]) => value),
    json: <T>() => JSON.parse(responseBody) as T,
  };
}

function unchunk(chunked: Buffer): Buffer {
  const parts: Buffer[] = [];
  let rest = chunked;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
}

/** The Authorization header curl sends for `-u id:secret`. */
export function basicHeader(clientId: string, secret: string, scheme = 'Basic'): string {
  return `Authorization: ${scheme} ${Buffer.from(`${clientId}:${secret}`, 'utf8').toString('base64')}`;
}
