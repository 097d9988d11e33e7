// `npm run load`: a mixed workload (SECURITY.md §2's: bearer checks, refreshes, sign-ins, some
// failing, revocations) at a chosen rate against N reference-server processes it starts on one
// PostgreSQL (its own embedded server unless --database-url names one), or against running nodes
// (--url, repeated), optionally with one fault; prints p50/p99 per call, the answers by status and
// the invariants I1–I6 checked afterwards; --html writes a one-page report. `npm run load -- --help`.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startCluster } from '../test/harness/cluster.js';
import type { Cluster } from '../test/harness/cluster.js';
import { checkInvariants } from '../test/harness/invariants.js';
import type { CheckedNode } from '../test/harness/invariants.js';
import { formatSummary, summarize } from '../test/harness/latency-summary.js';
import { Ledger } from '../test/harness/ledger.js';
import { prepareClients, runWorkload } from '../test/harness/workload.js';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.mjs';
import type { EmbeddedPostgresServer } from '../scripts/embedded-postgres.mjs';
import { FAULTS, injectFault } from './faults.js';
import type { FaultName } from './faults.js';
import { renderHtmlReport } from './html-report.js';

const HELP = `npm run load -- [options]
  --nodes N            reference-server processes to start (default 2)
  --database-url URL   the PostgreSQL they share (default: an embedded server of the run's own)
  --url URL            load running nodes instead (repeat for several); no fault but none then
  --rate N             calls per second (default 100)
  --duration S         seconds (default 30)
  --clients N          simulated users, each its own loopback address (default 60)
  --fault NAME         ${Object.entries(FAULTS)
  .map(([name, what]) => `${name}: ${what}`)
  .join('\n                       ')}
  --fault-at S         when the fault starts (default a third into the run)
  --fault-for S        how long it lasts, where it has a length (default 5)
  --storm N            revocations of revocation-storm (default 10000)
  --html FILE          also write a one-page report`;

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '2' },
    'database-url': { type: 'string' },
    url: { type: 'string', multiple: true },
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '30' },
    clients: { type: 'string', default: '60' },
    fault: { type: 'string', default: 'none' },
    'fault-at': { type: 'string' },
    'fault-for': { type: 'string', default: '5' },
    storm: { type: 'string', default: '10000' },
    html: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function positive(name: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`--${name} must be a positive number, not ${raw}`);
  return value;
}

const fault = values.fault as FaultName;
if (!(fault in FAULTS)) throw new Error(`--fault must be one of ${Object.keys(FAULTS).join(', ')}`);
const external = values.url ?? [];
if (external.length > 0 && fault !== 'none') throw new Error('--fault needs nodes the load run starts itself (drop --url)');
const rate = positive('rate', values.rate);
const durationMs = positive('duration', values.duration) * 1000;
const clientCount = positive('clients', values.clients);
const faultAtMs = values['fault-at'] === undefined ? durationMs / 3 : positive('fault-at', values['fault-at']) * 1000;
const faultForMs = positive('fault-for', values['fault-for']) * 1000;

let database: EmbeddedPostgresServer | null = null;
let cluster: Cluster | null = null;
let nodes: CheckedNode[];
let databaseUrl = values['database-url'] ?? '';
if (external.length > 0) {
  nodes = external.map((url, index) => ({ name: String.fromCharCode(65 + index), url: url.replace(/\/$/, ''), killed: false }));
} else {
  if (!databaseUrl) {
    database = await startEmbeddedPostgres('load');
    databaseUrl = database.url;
  }
  console.log(`starting ${values.nodes} reference-server nodes on ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}`);
  cluster = await startCluster(databaseUrl, { count: positive('nodes', values.nodes) });
  nodes = cluster.nodes;
}

try {
  // Nodes on this machine see each client at its own loopback address, as production sees users.
  const local = external.every((url) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname));
  const clients = await prepareClients(nodes, clientCount, { bind: local });
  console.log(`${clients.length} clients signed in; ${rate} calls/s for ${durationMs / 1000} s; fault: ${FAULTS[fault]}`);
  const ledger = new Ledger();
  // Set from inside the workload's callback, which the compiler does not follow.
  const injected: { run: Promise<string> | null } = { run: null };
  const load = runWorkload({
    ledger,
    clients,
    nodes,
    ratePerSecond: rate,
    done: (elapsedMs) => {
      if (cluster && fault !== 'none' && !injected.run && elapsedMs >= faultAtMs) {
        injected.run = injectFault(fault, { cluster, database, databaseUrl, ledger, forMs: faultForMs, stormSize: positive('storm', values.storm) });
      }
      return elapsedMs >= durationMs;
    },
  });
  const { started, skipped } = await load;
  const faultOutcome = injected.run ? await injected.run : 'no fault';
  const invariants = await checkInvariants({ ledger, clients, nodes });
  for (const client of clients) client.http.close();
  const summaries = summarize(ledger.entries);

  console.log(`\n${started} calls made, ${skipped} skipped (every client busy); fault: ${faultOutcome}`);
  for (const fault of ledger.faults) console.log(`  ${fault.label}: from ${(fault.from / 1000).toFixed(1)} s to ${(fault.to / 1000).toFixed(1)} s`);
  console.log('');
  for (const line of formatSummary(summaries)) console.log(line);
  console.log('');
  for (const result of invariants) console.log(`${result.name} ${result.holds ? 'holds   ' : 'VIOLATED'} ${result.detail}`);
  for (const node of cluster?.nodes ?? []) {
    const { exitCode, signalCode } = node.server.process;
    if (!node.killed && (exitCode !== null || signalCode !== null)) console.log(`\nnode ${node.name} exited (${exitCode ?? signalCode}); its last output:\n${node.server.output().split('\n').slice(-40).join('\n')}`);
  }

  if (values.html) {
    const settings = { nodes: nodes.map((node) => node.name).join(', '), rate: `${rate}/s`, duration: `${durationMs / 1000} s`, clients: clientCount, fault: `${FAULTS[fault]} — ${faultOutcome}` };
    await writeFile(values.html, renderHtmlReport({ title: `npm run load — ${fault}`, settings, ledger, summaries, invariants }));
    console.log(`\nreport written to ${values.html}`);
  }
  process.exitCode = invariants.every((result) => result.holds) ? 0 : 1;
} finally {
  await cluster?.close();
  await database?.stop();
}
