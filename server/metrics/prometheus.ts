import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';
import type { AuthMetrics } from './auth-metrics.js';
import type { HistogramSnapshot } from './bucket-counts.js';
import { PROPAGATION_BUCKETS_SECONDS } from './listener-stats.js';

/*
 * The kit's figures in the Prometheus text format, through a prom-client Registry of the kit's own
 * (never prom-client's global one, which an application may use for its own metrics). Nothing is
 * counted here: every metric reads `auth.metrics()` when it is scraped.
 */

type Read = () => AuthMetrics;
type Labels = Record<string, string>;

/** A counter or gauge whose samples are read from the figures at scrape time. */
function sampled(registry: Registry, kind: 'counter' | 'gauge', spec: { name: string; help: string; labelNames?: string[]; samples: () => Array<[Labels, number]> }): void {
  const { name, help, labelNames = [], samples } = spec;
  const metric = { name, help, labelNames, registers: [registry] };
  // Read afresh on every scrape: a gauge is set to each sample, a counter counts up to it from zero.
  if (kind === 'gauge') {
    new Gauge({ ...metric, collect() { this.reset(); for (const [labels, value] of samples()) this.set(labels, value); } });
  } else {
    new Counter({ ...metric, collect() { this.reset(); for (const [labels, value] of samples()) this.inc(labels, value); } });
  }
}

// prom-client's typings declare the type a numeric enum; at run time it is the string the text
// format prints, which is what its own Histogram carries.
const HISTOGRAM = 'histogram' as unknown as MetricType;

/** A histogram whose buckets are counted elsewhere (bucket-counts.ts); prom-client only formats them. */
class CountedHistogram extends Histogram {
  readonly #spec: { name: string; help: string; read: () => HistogramSnapshot | null };

  constructor(spec: { name: string; help: string; registry: Registry; read: () => HistogramSnapshot | null; buckets: readonly number[] }) {
    super({ name: spec.name, help: spec.help, registers: [spec.registry], buckets: [...spec.buckets] });
    this.#spec = spec;
  }

  /** What the Registry formats (it prefers this to `get`). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const { name, help, read } = this.#spec;
    const histogram = read();
    const values: Array<MetricValueWithName<string>> = [];
    if (histogram) {
      for (const { le, count } of histogram.buckets) values.push({ metricName: `${name}_bucket`, labels: { le: le === Infinity ? '+Inf' : le }, value: count });
      values.push({ metricName: `${name}_sum`, labels: {}, value: histogram.sum }, { metricName: `${name}_count`, labels: {}, value: histogram.count });
    }
    return Promise.resolve({ name, help, type: HISTOGRAM, values, aggregator: 'sum', collect: () => undefined });
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.getForPromString();
  }
}

const WAIT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const flag = (on: boolean) => (on ? 1 : 0);

/** A Registry with every metric of the kit, read from `read` at each scrape. */
export function createMetricsRegistry(read: Read): Registry {
  const registry = new Registry();
  const counter = (spec: Parameters<typeof sampled>[2]) => sampled(registry, 'counter', spec);
  const gauge = (spec: Parameters<typeof sampled>[2]) => sampled(registry, 'gauge', spec);

  counter({
    name: 'auth_token_checks_total',
    help: 'Bearer token checks by outcome (ok, or the refusal code) and by where they were answered (memory, database).',
    labelNames: ['outcome', 'source'],
    samples: () => {
      const { memory, database } = read().tokenChecks;
      const bySource: Array<[string, Record<string, number>]> = [
        ['memory', { ...memory }],
        ['database', { ...database }],
      ];
      return bySource.flatMap(([source, outcomes]) => Object.entries(outcomes).map(([outcome, value]): [Labels, number] => [{ outcome, source }, value]));
    },
  });
  counter({ name: 'auth_token_check_failures_total', help: 'Token lookups the database could not answer (the request answered 503).', samples: () => [[{}, read().tokenChecks.failed]] });
  counter({
    name: 'auth_token_cache_lookups_total',
    help: 'Token cache lookups by result.',
    labelNames: ['result'],
    samples: () => {
      const { hits, misses } = read().tokenCache;
      return [
        [{ result: 'hit' }, hits],
        [{ result: 'miss' }, misses],
      ];
    },
  });
  gauge({ name: 'auth_token_cache_trusted', help: '1 while cached tokens count (the listener hears and the cache was flushed after it connected), else 0.', samples: () => [[{}, flag(read().tokenCache.trusted)]] });
  gauge({ name: 'auth_token_cache_capacity', help: 'Access tokens the cache holds at most.', samples: () => [[{}, read().tokenCache.capacity]] });

  const listener = () => read().revocationListener;
  gauge({ name: 'auth_revocation_listener_connected', help: '1 while the revocation listener listens, else 0 (absent on PGlite).', samples: () => optional(listener(), (l) => flag(l.connected)) });
  gauge({
    name: 'auth_revocation_listener_silence_seconds',
    help: 'Seconds since the revocation listener last heard its channel (its own heartbeat included).',
    samples: () => optional(listener(), (l) => l.silenceSeconds),
  });
  counter({ name: 'auth_revocation_listener_connects_total', help: 'Times the revocation listener started listening (more than one: it reconnected).', samples: () => optional(listener(), (l) => l.connects) });
  counter({ name: 'auth_revocation_listener_losses_total', help: 'Times the revocation listener stopped hearing, after which the cache was flushed.', samples: () => optional(listener(), (l) => l.losses) });
  counter({ name: 'auth_revocations_heard_total', help: 'Revocation notices heard from every node.', samples: () => optional(listener(), (l) => l.revocationsHeard) });
  new CountedHistogram({
    name: 'auth_revocation_propagation_seconds',
    help: "Seconds from a revocation notice's sending (the sender's clock) to its arrival at this node.",
    registry,
    buckets: PROPAGATION_BUCKETS_SECONDS,
    read: () => listener()?.propagationSeconds ?? null,
  });

  gauge({ name: 'auth_password_hashes_running', help: 'Password hashes running now.', samples: () => [[{}, read().hashing.running]] });
  gauge({ name: 'auth_password_hashes_waiting', help: 'Password hashes waiting for a slot now.', samples: () => [[{}, read().hashing.waiting]] });
  counter({ name: 'auth_password_hashes_refused_total', help: 'Calls refused a place in the hashing bulkhead (RATE_LIMITED).', samples: () => [[{}, read().hashing.refused]] });
  new CountedHistogram({ name: 'auth_password_hash_wait_seconds', help: 'Seconds a password hash waited for its slot.', registry, buckets: WAIT_BUCKETS_SECONDS, read: () => read().hashing.waitSeconds });

  counter({
    name: 'auth_rate_limit_refusals_total',
    help: 'Hits refused by the shared rate-limit counters, by kind of limit.',
    labelNames: ['limit'],
    samples: () => Object.entries(read().rateLimitRefusals).map(([limit, value]): [Labels, number] => [{ limit }, value]),
  });

  const mail = () => read().mail;
  gauge({ name: 'auth_mail_queued', help: 'Mails waiting, sending or due for a retry.', samples: () => [[{}, mail().queued]] });
  gauge({ name: 'auth_mail_retrying', help: 'Mails waiting for a retry after the transport refused them.', samples: () => [[{}, mail().retrying]] });
  counter({ name: 'auth_mail_sent_total', help: 'Mails the transport took.', samples: () => [[{}, mail().sent]] });
  counter({ name: 'auth_mail_failed_total', help: 'Mails given up on after their attempts.', samples: () => [[{}, mail().failed]] });
  counter({ name: 'auth_mail_dropped_total', help: "Mails not queued: their kind's share of the queue was full.", samples: () => [[{}, mail().dropped]] });

  const cleanup = () => read().cleanup;
  counter({ name: 'auth_cleanup_runs_total', help: 'Cleanup runs finished on this node.', samples: () => [[{}, cleanup().runs]] });
  counter({ name: 'auth_cleanup_failures_total', help: 'Cleanup runs that failed.', samples: () => [[{}, cleanup().failures]] });
  counter({
    name: 'auth_cleanup_deleted_rows_total',
    help: 'Rows the cleaner deleted on this node, by table.',
    labelNames: ['table'],
    samples: () => Object.entries(cleanup().deleted).map(([table, value]): [Labels, number] => [{ table }, value]),
  });

  const clock = () => read().clock;
  gauge({
    name: 'auth_clock_offset_seconds',
    help: "The database's time minus this node's own clock at the last calibration; the kit judges by the database's (absent for an injected clock).",
    samples: () => optional(clock(), (c) => c.offsetMs / 1000),
  });
  gauge({
    name: 'auth_clock_uncertainty_seconds',
    help: "How far this node's reading of the database's time may be off: half the round trip of its measurement.",
    samples: () => optional(clock(), (c) => c.uncertaintyMs / 1000),
  });
  counter({ name: 'auth_clock_calibrations_total', help: "Measurements of the database's time taken into use.", samples: () => optional(clock(), (c) => c.calibrations) });
  return registry;
}

/** One sample of `value` when there is something to read it from and it has a value; none otherwise. */
function optional<T>(source: T | null, value: (source: T) => number | null): Array<[Labels, number]> {
  const read = source === null ? null : value(source);
  return read === null ? [] : [[{}, read]];
}
