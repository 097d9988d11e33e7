import { formatToken } from '../../shared/token-format.js';
import { generateTokenParts } from '../../server/tokens/secrets.js';
import { systemRandom } from '../../server/deps.js';
import type { Ledger, Operation, TokenPair } from './ledger.js';
import { clientAddress, loopbackClient } from './loopback-client.js';
import type { CallAnswer, LoopbackClient } from './loopback-client.js';

/** A node as the workload sees it: where it answers, and whether it is gone on purpose. */
export interface WorkloadNode {
  name: string;
  url: string;
  killed: boolean;
}

/** One simulated user: its own address, account and tokens, one call at a time. */
export interface WorkloadClient {
  index: number;
  email: string;
  http: LoopbackClient;
  tokens: TokenPair | null;
  /** A refresh that got no answer (or a 5xx): the next call retries it with the same token. */
  retryRefresh: boolean;
  /** The access token it last signed out of (acknowledged), for `replayRevoked`. */
  lastRevoked: string | null;
  busy: boolean;
}

export const WORKLOAD_PASSWORD = 'load and fault test passphrase';

/** SECURITY.md §2's common mix: 60 % bearer checks, 20 % refreshes, 10 % sign-ins (10 % failing), 10 % revocations. */
export const COMMON_MIX: Record<Operation, number> = { whoami: 57, refresh: 20, login: 9, badLogin: 1, logout: 8, replayRevoked: 2, forged: 3 };

/**
 * Registers `count` accounts spread over `nodes`, each client calling from an address of its own
 * (unless `bind` is false: nodes on another machine are not reached from loopback addresses).
 */
export async function prepareClients(nodes: readonly WorkloadNode[], count: number, options: { label?: string; bind?: boolean } = {}): Promise<WorkloadClient[]> {
  const { label = 'load', bind = true } = options;
  const run = `${label}-${process.pid}-${Date.now().toString(36)}`;
  const clients: WorkloadClient[] = [];
  // A few at a time: registrations hash, and the hashing bulkhead refuses a crowd.
  for (let start = 0; start < count; start += 8) {
    const batch = Array.from({ length: Math.min(8, count - start) }, async (_, offset) => {
      const index = start + offset;
      const http = loopbackClient(bind ? clientAddress(index) : null);
      const email = `${run}-${index}@example.test`;
      const node = nodes[index % nodes.length] as WorkloadNode;
      const answer = await http.call(node.url, 'auth.register', { input: { email, password: WORKLOAD_PASSWORD } });
      if (answer.status !== 200) throw new Error(`registering ${email} on ${node.name}: ${answer.status} ${answer.authCode ?? answer.failure}`);
      const tokens = answer.data?.tokens as TokenPair;
      clients[index] = { index, email, http, tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }, retryRefresh: false, lastRevoked: null, busy: false };
    });
    await Promise.all(batch);
  }
  // Every node serves each client once before the run: its first calls are not what is measured.
  await Promise.all(
    clients.map(async (client) => {
      for (const node of nodes) await client.http.call(node.url, 'demo.whoami', { accessToken: client.tokens?.accessToken });
    }),
  );
  return clients;
}

function pick(mix: Record<Operation, number>): Operation {
  const entries = Object.entries(mix) as Array<[Operation, number]>;
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = Math.random() * total;
  for (const [op, weight] of entries) {
    roll -= weight;
    if (roll < 0) return op;
  }
  return 'whoami';
}

/** What a client does next: what it must (sign in, retry), else a draw from the mix. */
function nextOperation(client: WorkloadClient, mix: Record<Operation, number>): Operation {
  if (!client.tokens) return 'login';
  if (client.retryRefresh) return 'refresh';
  const op = pick(mix);
  if (op === 'replayRevoked' && !client.lastRevoked) return 'whoami';
  return op;
}

/** The node for a client's call: round robin over the live ones, another than `avoid` when it can. */
function chooseNode(nodes: readonly WorkloadNode[], turn: number, avoid?: string): WorkloadNode {
  const live = nodes.filter((node) => !node.killed);
  const candidates = live.length > 1 && avoid ? live.filter((node) => node.name !== avoid) : live;
  return candidates[turn % candidates.length] as WorkloadNode;
}

/**
 * Runs one call of `client`, records it and updates the client as a well-behaved SDK would: it keeps
 * the tokens it got, retries a refresh that got no answer (with the same token, within the grace
 * window) on another node, signs in again after signing out or being refused.
 */
async function step(ledger: Ledger, client: WorkloadClient, call: { op: Operation; node: WorkloadNode }): Promise<void> {
  const { op, node } = call;
  const tokens = client.tokens;
  const startedAt = ledger.now();
  const record = (answer: CallAnswer, presented?: Partial<TokenPair>) => ledger.record({ op, node: node.name, client: client.index, startedAt, presented }, answer);
  const unavailable = (answer: CallAnswer) => answer.status === 0 || answer.status >= 500;

  if (op === 'login' || op === 'badLogin') {
    const password = op === 'login' ? WORKLOAD_PASSWORD : 'a wrong passphrase for this';
    const answer = await client.http.call(node.url, 'auth.login', { input: { identifier: client.email, password } });
    const entry = record(answer);
    if (op === 'login' && entry.issued) {
      client.tokens = entry.issued;
      client.retryRefresh = false;
    }
    return;
  }
  if (op === 'forged') {
    record(await client.http.call(node.url, 'demo.whoami', { accessToken: formatToken('access', generateTokenParts(systemRandom)) }));
    return;
  }
  if (op === 'replayRevoked') {
    const accessToken = client.lastRevoked as string;
    record(await client.http.call(node.url, 'demo.whoami', { accessToken }), { accessToken });
    return;
  }
  if (!tokens) return;
  if (op === 'whoami') {
    const answer = await client.http.call(node.url, 'demo.whoami', { accessToken: tokens.accessToken });
    record(answer, { accessToken: tokens.accessToken });
    if (answer.authCode === 'TOKEN_EXPIRED') client.retryRefresh = true;
    else if (answer.status === 401) client.tokens = null;
    return;
  }
  if (op === 'refresh') {
    const answer = await client.http.call(node.url, 'auth.refresh', { input: { refreshToken: tokens.refreshToken } });
    const entry = record(answer, { refreshToken: tokens.refreshToken });
    if (entry.issued) {
      client.tokens = entry.issued;
      client.retryRefresh = false;
    } else if (unavailable(answer)) client.retryRefresh = true;
    else client.tokens = null;
    return;
  }
  const answer = await client.http.call(node.url, 'auth.logout', { input: {}, accessToken: tokens.accessToken });
  record(answer, { accessToken: tokens.accessToken });
  if (answer.status === 200) {
    ledger.revokedAt(tokens.accessToken, ledger.now());
    client.lastRevoked = tokens.accessToken;
    client.tokens = null;
  }
}

/**
 * Drives `clients` at `ratePerSecond` calls until `done` says so (it is asked whenever a call falls
 * due or ends, with the ms since the start, and is where a fault can be injected): each call starts
 * when it is due, on an idle client (a client makes one call at a time, as a user does); calls that
 * find every client busy are counted as `skipped`. Resolves once every call has ended.
 */
export async function runWorkload(options: {
  ledger: Ledger;
  clients: WorkloadClient[];
  nodes: readonly WorkloadNode[];
  ratePerSecond: number;
  done: (elapsedMs: number) => boolean;
  mix?: Record<Operation, number>;
}): Promise<{ started: number; skipped: number }> {
  const { ledger, clients, nodes, ratePerSecond, done } = options;
  const mix = options.mix ?? COMMON_MIX;
  const startedAt = performance.now();
  const inFlight = new Set<Promise<void>>();
  let started = 0;
  let skipped = 0;
  let cursor = 0;
  let turn = 0;
  const lastNode = new Map<number, string>();
  let wake = () => {};
  for (let elapsed = 0; !done(elapsed); elapsed = performance.now() - startedAt) {
    const due = Math.floor((elapsed / 1000) * ratePerSecond) - started - skipped;
    for (let i = 0; i < due; i++) {
      let client: WorkloadClient | undefined;
      for (let probe = 0; probe < clients.length && !client; probe++) {
        const candidate = clients[(cursor + probe) % clients.length] as WorkloadClient;
        if (!candidate.busy) client = candidate;
      }
      if (!client) {
        skipped++;
        continue;
      }
      cursor = (client.index + 1) % clients.length;
      const op = nextOperation(client, mix);
      // A retried refresh goes to another node than the one that failed it.
      const node = chooseNode(nodes, turn++, client.retryRefresh ? lastNode.get(client.index) : undefined);
      lastNode.set(client.index, node.name);
      const busyClient = client;
      busyClient.busy = true;
      started++;
      const running = step(ledger, busyClient, { op, node }).finally(() => {
        busyClient.busy = false;
        inFlight.delete(running);
        wake();
      });
      inFlight.add(running);
    }
    // Until the next call is due (the rate paces by design), or a call ends first: `done` may be
    // waiting for that call, and its client is free again.
    const nextDueMs = ((started + skipped + 1) / ratePerSecond) * 1000 - (performance.now() - startedAt);
    await new Promise<void>((resolve) => {
      const due = setTimeout(resolve, Math.max(nextDueMs, 0));
      wake = () => {
        clearTimeout(due);
        resolve();
      };
    });
  }
  await Promise.all(inFlight);
  return { started, skipped };
}

/** Clients that already hold a session each (seed-sessions.ts), from addresses `firstIndex` on. */
export function clientsHolding(sessions: readonly TokenPair[], firstIndex = 0): WorkloadClient[] {
  return sessions.map((session, offset) => ({
    index: firstIndex + offset,
    email: '',
    http: loopbackClient(clientAddress(firstIndex + offset)),
    tokens: { accessToken: session.accessToken, refreshToken: session.refreshToken },
    retryRefresh: false,
    lastRevoked: null,
    busy: false,
  }));
}
