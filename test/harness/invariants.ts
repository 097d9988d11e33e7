import type { Ledger, LedgerEntry } from './ledger.js';
import type { WorkloadClient, WorkloadNode } from './workload.js';

/*
 * SECURITY.md §2's invariants, checked after a run against what the ledger recorded and, at the end,
 * against the nodes themselves:
 *   I1 no revoked token accepted after the propagation bound (the stale bound while a fault lasts);
 *   I2 every token returned with a 2xx works on its next use: it was committed before the answer;
 *   I3 per refresh token, at most one successor: however many times it was presented, every 200
 *      returned the same one (no fork);
 *   I4 no false theft detection: the workload's clients only ever retry within the grace window, so
 *      no answer may be REFRESH_TOKEN_REUSED;
 *   I5 no process exits but those killed on purpose, and none logs an unhandled rejection;
 *   I6 no 2xx for a decision made without a valid credential: a forged token, a wrong password.
 */

/** A node as the checker sees it; without `server`, its process cannot be watched (an external URL). */
export interface CheckedNode extends WorkloadNode {
  server?: { process: { exitCode: number | null; signalCode: NodeJS.Signals | null }; output(): string };
}

export interface InvariantResult {
  name: 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6';
  holds: boolean;
  detail: string;
}

export interface InvariantBounds {
  /** How long after its revocation a token may still be accepted while every listener hears. @default 1000 */
  propagationMs?: number;
  /** The same while a fault lasts (the listener's stale bound: staleAfterMs + heartbeatIntervalMs). @default 4000 */
  staleMs?: number;
}

const UNAVAILABLE = (entry: Pick<LedgerEntry, 'status'>) => entry.status === 0 || entry.status >= 500;
/** How many revoked tokens the final probe asks every node about. */
const FINAL_REVOKED_PROBES = 200;

function during(ledger: Ledger, at: number, marginMs: number): boolean {
  return ledger.faults.some((fault) => at >= fault.from && at <= fault.to + marginMs);
}

function listOf(items: string[], max = 3): string {
  return items.length === 0 ? 'none' : `${items.length}: ${items.slice(0, max).join('; ')}${items.length > max ? '; …' : ''}`;
}

/** The tokens whose logout got no answer: revoked or not, nobody knows, so a refusal of them is no violation. */
function uncertainlyRevoked(ledger: Ledger): Set<string> {
  return new Set(ledger.entries.filter((entry) => entry.op === 'logout' && entry.status !== 200 && entry.presented.accessToken).map((entry) => entry.presented.accessToken as string));
}

function checkRevocations(ledger: Ledger, bounds: Required<InvariantBounds>): string[] {
  const late: string[] = [];
  for (const entry of ledger.entries) {
    const token = entry.presented.accessToken;
    if (entry.status !== 200 || !token || (entry.op !== 'whoami' && entry.op !== 'replayRevoked')) continue;
    const revokedAt = ledger.revoked.get(token);
    if (revokedAt === undefined) continue;
    const bound = during(ledger, entry.startedAt, bounds.staleMs) ? bounds.staleMs : bounds.propagationMs;
    if (entry.startedAt > revokedAt + bound) late.push(`${entry.node} accepted a token ${Math.round(entry.startedAt - revokedAt)} ms after its revocation`);
  }
  return late;
}

function checkCommitted(ledger: Ledger): string[] {
  const uncertain = uncertainlyRevoked(ledger);
  const nextUse = new Map<string, LedgerEntry>();
  for (const entry of ledger.entries) {
    for (const token of [entry.presented.accessToken, entry.presented.refreshToken]) {
      if (token && !nextUse.has(token)) nextUse.set(token, entry);
    }
  }
  const broken: string[] = [];
  for (const entry of ledger.entries) {
    if (!entry.issued) continue;
    for (const token of [entry.issued.accessToken, entry.issued.refreshToken]) {
      const used = nextUse.get(token);
      if (!used || used.status === 200 || UNAVAILABLE(used) || used.authCode === 'TOKEN_EXPIRED') continue;
      if (used.authCode === 'TOKEN_REVOKED' && uncertain.has(entry.issued.accessToken)) continue;
      broken.push(`a token from ${entry.op} on ${entry.node} was refused (${used.authCode}) on ${used.node}`);
    }
  }
  return broken;
}

function checkForks(ledger: Ledger): string[] {
  const successors = new Map<string, Set<string>>();
  for (const entry of ledger.entries) {
    if (entry.op !== 'refresh' || !entry.issued || !entry.presented.refreshToken) continue;
    const children = successors.get(entry.presented.refreshToken) ?? new Set<string>();
    children.add(entry.issued.refreshToken);
    successors.set(entry.presented.refreshToken, children);
  }
  return [...successors.values()].filter((children) => children.size > 1).map((children) => `a refresh token with ${children.size} successors`);
}

/** Asks every live node about the revoked tokens and the clients' current tokens; returns what went wrong, by invariant. */
async function probeNodes(ledger: Ledger, clients: readonly WorkloadClient[], nodes: readonly CheckedNode[]) {
  const live = nodes.filter((node) => !node.killed);
  const prober = clients[0]?.http;
  const accepted: string[] = [];
  const refused: string[] = [];
  const reused: string[] = [];
  if (!prober) return { accepted, refused, reused };
  const revoked = [...ledger.revoked.keys()].slice(-FINAL_REVOKED_PROBES);
  for (const node of live) {
    for (const accessToken of revoked) {
      const answer = await prober.call(node.url, 'demo.whoami', { accessToken });
      if (answer.status === 200) accepted.push(`${node.name} still accepts a revoked token`);
    }
  }
  const uncertain = uncertainlyRevoked(ledger);
  for (const client of clients) {
    const tokens = client.tokens;
    if (!tokens || client.retryRefresh || uncertain.has(tokens.accessToken)) continue;
    for (const node of live) {
      const answer = await client.http.call(node.url, 'demo.whoami', { accessToken: tokens.accessToken });
      if (answer.status !== 200) refused.push(`${node.name} refused client ${client.index}'s current token: ${answer.status} ${answer.authCode ?? answer.failure}`);
    }
    const node = live[client.index % live.length] as CheckedNode;
    const answer = await client.http.call(node.url, 'auth.refresh', { input: { refreshToken: tokens.refreshToken } });
    if (answer.authCode === 'REFRESH_TOKEN_REUSED') reused.push(`client ${client.index}'s current refresh token was taken for a stolen one`);
    else if (answer.status !== 200) refused.push(`${node.name} refused client ${client.index}'s refresh: ${answer.status} ${answer.authCode ?? answer.failure}`);
    else {
      const next = answer.data?.tokens as { accessToken: string; refreshToken: string };
      client.tokens = { accessToken: next.accessToken, refreshToken: next.refreshToken };
    }
  }
  return { accepted, refused, reused };
}

const PROCESS_TROUBLE = /unhandled|uncaught|ERR_INTERNAL_ASSERTION|FATAL ERROR/i;

function checkProcesses(nodes: readonly CheckedNode[]): { holds: boolean; detail: string } {
  const watched = nodes.filter((node) => node.server);
  if (watched.length === 0) return { holds: true, detail: 'not checked: no process of ours' };
  const trouble: string[] = [];
  for (const node of watched) {
    const server = node.server as NonNullable<CheckedNode['server']>;
    const gone = server.process.exitCode !== null || server.process.signalCode !== null;
    if (gone && !node.killed) trouble.push(`${node.name} exited (${server.process.exitCode ?? server.process.signalCode})`);
    const line = server.output().split('\n').find((each) => PROCESS_TROUBLE.test(each));
    if (line) trouble.push(`${node.name} logged: ${line.slice(0, 200)}`);
  }
  const killed = nodes.filter((node) => node.killed).map((node) => node.name);
  return { holds: trouble.length === 0, detail: `${listOf(trouble)}${killed.length > 0 ? ` (killed on purpose: ${killed.join(', ')})` : ''}` };
}

/**
 * Checks I1–I6 over a finished run: first over the ledger, then by asking every live node about
 * every client's current tokens (each must work and refresh) and the last revoked tokens (each must
 * be refused). Call it once the workload has ended and the faults are over.
 */
export async function checkInvariants(run: { ledger: Ledger; clients: readonly WorkloadClient[]; nodes: readonly CheckedNode[]; bounds?: InvariantBounds }): Promise<InvariantResult[]> {
  const { ledger, clients, nodes } = run;
  const bounds = { propagationMs: 1000, staleMs: 4000, ...run.bounds };
  const late = checkRevocations(ledger, bounds);
  const broken = checkCommitted(ledger);
  const forks = checkForks(ledger);
  const reusedInRun = ledger.entries.filter((entry) => entry.authCode === 'REFRESH_TOKEN_REUSED').map((entry) => `${entry.node} answered REFRESH_TOKEN_REUSED`);
  const probes = await probeNodes(ledger, clients, nodes);
  const granted = ledger.entries.filter((entry) => (entry.op === 'forged' || entry.op === 'badLogin') && entry.status === 200).map((entry) => `${entry.op} answered 200 on ${entry.node}`);
  const processes = checkProcesses(nodes);
  const revocations = ledger.revoked.size;
  return [
    { name: 'I1', holds: late.length + probes.accepted.length === 0, detail: `${revocations} revocations; late acceptances ${listOf([...late, ...probes.accepted])}` },
    { name: 'I2', holds: broken.length + probes.refused.length === 0, detail: `tokens refused on their next use ${listOf([...broken, ...probes.refused])}` },
    { name: 'I3', holds: forks.length === 0, detail: `forked lineages ${listOf(forks)}` },
    { name: 'I4', holds: reusedInRun.length + probes.reused.length === 0, detail: `false theft detections ${listOf([...reusedInRun, ...probes.reused])}` },
    { name: 'I5', holds: processes.holds, detail: `process trouble ${processes.detail}` },
    { name: 'I6', holds: granted.length === 0, detail: `2xx without a credential ${listOf(granted)}` },
  ];
}

/** The violations among `results`, one line each, for an assertion's message. */
export function violations(results: readonly InvariantResult[]): string[] {
  return results.filter((result) => !result.holds).map((result) => `${result.name}: ${result.detail}`);
}
