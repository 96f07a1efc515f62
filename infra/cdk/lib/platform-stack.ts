// The auction platform in one stack: the event log and the other tables, the FIFO queues, the
// twelve Lambda functions with their triggers, the HTTP API behind a Cognito JWT authorizer, the
// WebSocket API of live updates, the scheduler rule, the log's digests (a bucket under S3 Object
// Lock and a KMS signing key), the bidder page (S3 + CloudFront), item photos (a bucket, its
// uploads queue and the thumbnailer), least-privilege roles, alarms,
// log groups and the dashboard.
//
// The tables and queues mirror tools/local-stack/src/resources.rs (checked against infra/resources.json by
// test/drift.test.ts); every function's environment is checked against infra/environment.json by
// the same test, and the dashboard's custom metrics against infra/metrics.json by
// test/dashboard.test.ts. See README.md for the IAM table.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArnFormat, CfnOutput, CfnResource, Duration, Fn, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

import { FunctionDeployment, functionDeployments, MetricDefinition, MetricsContract, metricsContract } from './shared';

/** The Lambda binaries, by the name cargo gives them (infra/environment.json's `lambdas`). */
export const BINARIES = [
  'api-lambda',
  'digester-lambda',
  'live-broadcaster-lambda',
  'live-ws-lambda',
  'notifier-lambda',
  'parker-lambda',
  'payment-saga-lambda',
  'projector-lambda',
  'publisher-lambda',
  'reconciler-lambda',
  'scheduler-lambda',
  'thumbnailer-lambda',
] as const;
export type Binary = (typeof BINARIES)[number];

/**
 * The functions' instruction set, `-c architecture=arm64|x86_64`: the binaries in lambdaAssets
 * must be built for it. arm64 (Graviton) by default: about 20 % cheaper per GB-second than
 * x86_64 and as fast for this I/O-bound code.
 */
export const ARCHITECTURES = {
  arm64: { lambda: lambda.Architecture.ARM_64, cargoLambda: '--arm64', elfMachine: 183 },
  x86_64: { lambda: lambda.Architecture.X86_64, cargoLambda: '--x86-64', elfMachine: 62 },
} as const;
export type ArchitectureName = keyof typeof ARCHITECTURES;
export const DEFAULT_ARCHITECTURE: ArchitectureName = 'arm64';

/** The context value `architecture`, or an error that names the accepted ones. */
export function architectureNamed(value: unknown): ArchitectureName {
  if (value === undefined || value === null || value === '') {
    return DEFAULT_ARCHITECTURE;
  }
  if (typeof value === 'string' && Object.hasOwn(ARCHITECTURES, value)) {
    return value as ArchitectureName;
  }
  throw new Error(
    `architecture must be arm64 or x86_64 (-c architecture=arm64|x86_64; default ${DEFAULT_ARCHITECTURE}), ` +
      `not ${JSON.stringify(value)}`,
  );
}

/**
 * A whole-number context value from `min` to `max`, `fallback` when it is not given; anything
 * else is an error that names the context and what it takes. `-c name=N` arrives as a string,
 * an App's context in the tests as a number; "1e1", "2.5" or "" are refused, not rounded.
 */
export function wholeNumberContext(
  name: string,
  value: unknown,
  { fallback, min, max = Number.MAX_SAFE_INTEGER, unit }: { fallback: number; min: number; max?: number; unit: string },
): number {
  if (value === undefined || value === null) {
    return fallback;
  }
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new Error(
      `${name} must be a whole number of ${unit} ${range} (-c ${name}=N; default ${fallback}), not ${JSON.stringify(value)}`,
    );
  }
  return number;
}

/**
 * How long S3 Object Lock keeps each digest object in compliance mode, by default
 * (`-c digestRetentionDays=N`): ten years. Nobody, the account's root included, can delete a
 * locked version or shorten its lock before it ends, and the bucket cannot be deleted while it
 * holds one: a stage meant to be thrown away wants `-c digestRetentionDays=1`.
 */
export const DEFAULT_DIGEST_RETENTION_DAYS = 3650;

/** The longest default retention S3 Object Lock takes: 100 years. */
export const MAX_OBJECT_LOCK_DAYS = 36_500;

/** The digester's period by default (`-c digestEveryMinutes=N`), the local DIGEST_INTERVAL_SECONDS's 300. */
export const DEFAULT_DIGEST_EVERY_MINUTES = 5;

/** The alias of the key that wraps the subjects' data keys: SUBJECT_KEY_ID's default. */
export const SUBJECT_KEY_ALIAS = 'alias/auction-subject-keys';
/** The alias of the HMAC key that signs unsubscribe links: UNSUBSCRIBE_KEY_ID's default. */
export const UNSUBSCRIBE_KEY_ALIAS = 'alias/auction-unsubscribe-links';
/** The sender domain of email notices when the stack is given none (example.com is reserved). */
export const DEFAULT_EMAIL_DOMAIN = 'auctions.example.com';
/** How long point-in-time recovery keeps a forgotten subject's deleted key (docs/privacy.md). */
export const SUBJECT_KEYS_RECOVERY_DAYS = 7;
/** The signing key's alias: DIGEST_KEY_ID's default, the name auction-admin and docs/audit.md use. */
export const DIGEST_KEY_ALIAS = 'alias/auction-log-digests';

/** The tag that names each function's binary, for people and for the tests. */
export const BINARY_TAG = 'auction:binary';

/** Receives after which a queue message moves to its DLQ (tools/local-stack/src/resources.rs). */
export const MAX_RECEIVE_COUNT = 3;

/**
 * AWS's guidance for a queue behind a Lambda event source mapping: a visibility timeout of at
 * least six times the function's timeout, so that a batch retried by the poller is not handed
 * to a second invocation while the first still runs.
 */
export const VISIBILITY_PER_FUNCTION_TIMEOUT = 6;

export function visibilityTimeoutFor(consumer: lambda.Function): Duration {
  const timeout = consumer.timeout;
  if (!timeout) {
    throw new Error(`${consumer.node.path} has no timeout`);
  }
  return Duration.seconds(timeout.toSeconds() * VISIBILITY_PER_FUNCTION_TIMEOUT);
}

/** DLQs and the stream failure queue keep messages for the maximum SQS allows: 14 days. */
export const DLQ_RETENTION = Duration.days(14);

/**
 * The parker drains the DLQs and the stream failure queue within a minute; a message older
 * than this is one it could not park, and its queue's age alarm goes off.
 */
export const PARKER_MAX_AGE = Duration.minutes(2);

/**
 * The Events stream mappings (projector, publisher), as the local runner runs them
 * (tools/local-triggers/src/main.rs, docs/local-triggers.md): batch 100, item failures
 * reported, a failing batch bisected, 3 retries, then the batch's description goes to the
 * stream-failures queue. Lambda's default retry count is infinite, which would let one poison
 * record stop a shard for the stream's 24 h; the maximum record age (6 h, below the stream's
 * 24 h retention) bounds an outage's backlog the same way, and the records stay in the
 * Events table for a replay.
 */
export const STREAM_MAPPING = {
  batchSize: 100,
  bisectBatchOnError: true,
  reportBatchItemFailures: true,
  retryAttempts: 3,
  maxRecordAge: Duration.hours(6),
  startingPosition: lambda.StartingPosition.TRIM_HORIZON,
  parallelizationFactor: 1,
} as const;

/**
 * The HTTP API's 5xx alarm: the share of 5xx answers in 5 minutes, above 5 %, counted only when
 * the API served at least 50 requests in them (10 a minute), so that a failed request or two
 * at night does not page anyone; the functions' Errors alarms still see a crash.
 */
export const HTTP_5XX_ALARM = { period: Duration.minutes(5), minRequests: 50, percent: 5 } as const;

/**
 * The HTTP API's latency alarm: p95 above 1 s in 3 periods of 5 minutes in a row (a command is
 * a few DynamoDB round trips of milliseconds each). CloudWatch leaves the alarm as it is while
 * a period has fewer than 10/(1 - 0.95) = 200 requests (too few for a p95), so that a cold
 * start at night does not page anyone.
 */
export const HTTP_LATENCY_ALARM = { period: Duration.minutes(5), periods: 3, p95Millis: 1000 } as const;

/**
 * The `Consumer` values of infra/metrics.json's per-consumer metrics: the names of parked items
 * and of the local runner's checkpoints (`broadcaster` is live-broadcaster-lambda), and the
 * parker's own.
 */
export const METRIC_CONSUMERS = ['projector', 'publisher', 'notifier', 'payment-saga', 'broadcaster', 'parker'] as const;

/** The `Outcome` values of SagaOutcomes. */
export const SAGA_OUTCOMES = ['settled', 'compensated', 'failed', 'awaiting'] as const;

function contractDefinition(contract: MetricsContract, name: string): MetricDefinition {
  const definition = contract.metrics.find((m) => m.name === name);
  if (!definition) {
    throw new Error(`infra/metrics.json has no metric ${name}: the binaries never write it`);
  }
  return definition;
}

/**
 * A custom metric of infra/metrics.json, refused when the file lacks it or lists other
 * dimensions for it: CloudWatch would show an empty line rather than an error.
 */
export function contractMetric(
  contract: MetricsContract,
  name: string,
  dimensions: Record<string, string>,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  const definition = contractDefinition(contract, name);
  if (Object.keys(dimensions).sort().join() !== [...definition.dimensions].sort().join()) {
    throw new Error(
      `infra/metrics.json gives ${name} the dimensions [${definition.dimensions.join(', ')}], ` +
        `not [${Object.keys(dimensions).join(', ')}]`,
    );
  }
  return new cloudwatch.Metric({ ...options, namespace: contract.namespace, metricName: name, dimensionsMap: dimensions });
}

/**
 * A SEARCH over a custom metric's whole dimension set, for dimension values the code decides at
 * run time (rejection codes, command names); `filters` pins some dimensions to one value.
 */
export function contractSearch(
  contract: MetricsContract,
  name: string,
  filters: Record<string, string>,
  statistic: string,
  period: Duration,
  label?: string,
): cloudwatch.MathExpression {
  const definition = contractDefinition(contract, name);
  const unknown = Object.keys(filters).filter((d) => !definition.dimensions.includes(d));
  if (unknown.length > 0) {
    throw new Error(`infra/metrics.json gives ${name} no dimension ${unknown.join(', ')}`);
  }
  const schema = [contract.namespace, ...definition.dimensions].join(',');
  const terms = [`MetricName="${name}"`, ...Object.entries(filters).map(([d, v]) => `${d}="${v}"`)].join(' ');
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${schema}} ${terms}', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
    label,
  });
}

/** The WebSocket API's stage: its name is the last segment of the management endpoint. */
export const LIVE_STAGE = 'live';

/** The SQS mappings (notifier, payment saga): batch 10, item failures reported. */
export const QUEUE_MAPPING = {
  batchSize: 10,
  reportBatchItemFailures: true,
} as const;

/**
 * The function timeouts, from infra/functions.json (which says why each is what it is): the local
 * runner gives each binary the same deadline.
 */
export const TIMEOUTS: Record<Binary, Duration> = deployments((d) => Duration.seconds(d.timeoutSeconds));

/** Each function's memory size (MB), from infra/functions.json. */
export const MEMORY_MB: Record<Binary, number> = deployments((d) => d.memoryMb);

/** `value` of every binary's entry in infra/functions.json; a binary without one fails the synth. */
function deployments<T>(value: (deployment: FunctionDeployment) => T): Record<Binary, T> {
  const listed = functionDeployments();
  return Object.fromEntries(
    BINARIES.map((binary) => {
      const deployment = listed[binary];
      if (!deployment) {
        throw new Error(`infra/functions.json has no entry for ${binary}`);
      }
      return [binary, value(deployment)];
    }),
  ) as Record<Binary, T>;
}

export interface PlatformStackProps extends StackProps {
  /**
   * A directory holding one folder per binary with its `bootstrap` executable, as
   * `cargo lambda build --release --arm64` lays them out in `target/lambda/<binary>/bootstrap`.
   */
  readonly lambdaAssets: string;
  /** PAYMENT_COMMISSION_BPS of the payment saga. Default 500 (5 %). */
  readonly commissionBps?: number;
  /** Where the alarm topic sends mail, when given. */
  readonly alarmEmail?: string;
  /** Log retention of every function and of the API's access log. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The bidder page's directory (the repository's `web/`), deployed to the site bucket without
   * its `e2e/` and `test/` directories (and without a `config.json`: the stack writes its own).
   */
  readonly siteAssets: string;
  /**
   * The Cognito hosted UI's domain prefix (`https://<prefix>.auth.<region>.amazoncognito.com`),
   * unique in the region across all accounts. Default: the stack name (lower case, letters,
   * digits and hyphens) and the first 8 hex digits of the stack's id, decided at deployment.
   */
  readonly authDomainPrefix?: string;
  /**
   * The domain email notices are sent from (`notices@<domain>`), made an SES identity with
   * Easy DKIM: publish the DKIM records the stack outputs before SES sends anything. Default
   * `auctions.example.com`, which sends nothing (example.com is reserved).
   */
  readonly emailDomain?: string;
}

/** What the page's deployment leaves out of web/. */
export const SITE_EXCLUDES = ['e2e', 'e2e/**', 'test', 'test/**', 'config.json'];

/** The object the page reads at start (web/app.js `loadConfig`). */
export const SITE_CONFIG = 'config.json';

/** config.json's shape (web/auth.js `parseConfig`). */
export interface SiteConfig {
  readonly apiUrl: string;
  readonly liveUrl: string;
  readonly signIn: {
    readonly kind: 'cognito';
    readonly domain: string;
    readonly clientId: string;
    readonly redirectUri: string;
    readonly logoutUri: string;
  };
}

/** Cognito's rules for a domain prefix: lower-case letters, digits, hyphens, no AWS names. */
export function checkAuthDomainPrefix(prefix: string): void {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(prefix) || /aws|amazon|cognito/.test(prefix)) {
    throw new Error(
      `authDomainPrefix ${JSON.stringify(prefix)} is not a Cognito domain prefix: 1 to 63 ` +
        'lower-case letters, digits and hyphens, not at either end, without "aws", "amazon" ' +
        'or "cognito".',
    );
  }
}

/**
 * The hosted UI's domain prefix: the one given, or `<stack name>-<8 hex digits of the stack
 * id>` (the stack id's UUID is fixed for the stack's life and differs between accounts and
 * regions, so two stages or accounts do not collide).
 */
export function authDomainPrefix(stack: Stack, given?: string): string {
  if (given !== undefined) {
    checkAuthDomainPrefix(given);
    return given;
  }
  const name = stack.stackName
    .toLowerCase()
    .replace(/aws|amazon|cognito/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '') || 'auctions';
  // arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>: the UUID's first group.
  const uuid = Fn.select(2, Fn.split('/', stack.stackId));
  return `${name}-${Fn.select(0, Fn.split('-', uuid))}`;
}

/** The bidder page's directory, or an error that says what is missing. */
export function checkSiteAssets(dir: string): void {
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    throw new Error(
      `The bidder page is missing: no ${path.join(dir, 'index.html')}. The site bucket is ` +
        "deployed from the repository's web/ directory; point -c siteAssets=DIR (or " +
        'SITE_ASSETS_DIR) at another directory holding an index.html. See infra/cdk/README.md.',
    );
  }
}

/** An ELF executable's e_machine (62 x86_64, 183 aarch64), or undefined for anything else. */
function elfMachine(file: string): number | undefined {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    if (fs.readSync(fd, header, 0, header.length, 0) < header.length) return undefined;
  } finally {
    fs.closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  // EI_DATA: 1 little-endian, 2 big-endian.
  return header[5] === 2 ? header.readUInt16BE(18) : header.readUInt16LE(18);
}

/** Every asset directory the stack needs, or an error that says how to build them. */
export function checkLambdaAssets(dir: string, architecture: ArchitectureName = DEFAULT_ARCHITECTURE): void {
  const build = `cargo lambda build --release ${ARCHITECTURES[architecture].cargoLambda}`;
  const missing = BINARIES.filter((binary) => !fs.existsSync(path.join(dir, binary, 'bootstrap')));
  if (missing.length > 0) {
    throw new Error(
      `Lambda assets missing in ${dir}: ${missing.map((b) => `${b}/bootstrap`).join(', ')}. ` +
        `Build them from the workspace root with \`${build}\` ` +
        '(they land in target/lambda/<binary>/bootstrap), or point -c lambdaAssets=DIR ' +
        '(or LAMBDA_ASSETS_DIR) at a directory laid out that way. See infra/cdk/README.md.',
    );
  }
  // A binary of the other instruction set deploys without a complaint and then fails every
  // invocation (exec format error). Files that are not ELF (the offline checks' placeholder
  // scripts) are left alone.
  const names: Record<number, string> = { 62: 'x86_64', 183: 'arm64' };
  const wrong = BINARIES.flatMap((binary) => {
    const machine = elfMachine(path.join(dir, binary, 'bootstrap'));
    return machine === undefined || machine === ARCHITECTURES[architecture].elfMachine
      ? []
      : [`${binary}/bootstrap (${names[machine] ?? `ELF machine ${machine}`})`];
  });
  if (wrong.length > 0) {
    throw new Error(
      `Lambda assets in ${dir} are not ${architecture} executables: ${wrong.join(', ')}. ` +
        `Build them with \`${build}\`, or deploy the functions on their architecture with ` +
        '-c architecture=arm64|x86_64. See infra/cdk/README.md.',
    );
  }
}

interface TableAccess {
  table: dynamodb.Table;
  actions: string[];
  /** Index names whose ARNs get `indexActions`. */
  indexes?: { names: string[]; actions: string[] };
  /**
   * Also the tables `auction-admin rebuild` creates beside this one at run time, named
   * `<name>-r<start time>`, which the views' alias may switch the function to (docs/audit.md).
   */
  rebuilt?: boolean;
}

export class PlatformStack extends Stack {
  readonly functions: Record<Binary, lambda.Function>;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    // S3 server access logs are granted to the logging service by the log bucket's policy,
    // not by the legacy LogDeliveryWrite ACL (set here, before any resource, so that the
    // stack is the same with or without cdk.json's context).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const architecture = architectureNamed(this.node.tryGetContext('architecture'));
    checkLambdaAssets(props.lambdaAssets, architecture);
    checkSiteAssets(props.siteAssets);
    const commissionBps = props.commissionBps ?? 500;
    if (!Number.isInteger(commissionBps) || commissionBps < 0 || commissionBps > 10_000) {
      throw new Error(`commissionBps must be whole basis points from 0 to 10000, not ${commissionBps}`);
    }
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    // ---------------------------------------------------------------------------------------
    // Tables (tools/local-stack/src/resources.rs). Names are left to CloudFormation, so that two stages
    // fit in one account; the functions learn them from their environment.

    const onDemand = dynamodb.BillingMode.PAY_PER_REQUEST;
    const S = dynamodb.AttributeType.STRING;
    const N = dynamodb.AttributeType.NUMBER;

    // The source of truth: append-only, never deleted (no TTL), recoverable to any second of
    // the last 35 days, and protected from a stack deletion or a stray DeleteTable.
    const eventsTable = new dynamodb.Table(this, 'Events', {
      partitionKey: { name: 'aggregateId', type: S },
      sortKey: { name: 'version', type: N },
      billingMode: onDemand,
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The audit index: each event type over sixteen partitions (typeShard = eventType#<last hex
    // digit of the aggregate id>), in one total order (typeOrder = time#aggregate#version), read
    // back by a scatter-gather (docs/event-store.md, "The audit index"). A stack deployed with
    // the older byTypeShard index upgrades in two deployments (CloudFormation adds or removes one
    // index per update): docs/event-store.md says how.
    eventsTable.addGlobalSecondaryIndex({
      indexName: 'byTypeShard',
      partitionKey: { name: 'typeShard', type: S },
      sortKey: { name: 'typeOrder', type: S },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    const snapshotsTable = new dynamodb.Table(this, 'Snapshots', {
      partitionKey: { name: 'aggregateId', type: S },
      billingMode: onDemand,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const idempotencyTable = new dynamodb.Table(this, 'Idempotency', {
      partitionKey: { name: 'commandKey', type: S },
      billingMode: onDemand,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const auctionViewsTable = new dynamodb.Table(this, 'AuctionListView', {
      partitionKey: { name: 'auctionId', type: S },
      billingMode: onDemand,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    auctionViewsTable.addGlobalSecondaryIndex({
      indexName: 'byStatus',
      partitionKey: { name: 'status', type: S },
      sortKey: { name: 'endsAt', type: S },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // The scheduler's starts: scheduled auctions whose start has come, by key condition (a sweep
    // reads the auctions due, not every auction scheduled). Keys only: a bid rewrites the view
    // but changes neither key, so it writes nothing here.
    auctionViewsTable.addGlobalSecondaryIndex({
      indexName: 'byStart',
      partitionKey: { name: 'status', type: S },
      sortKey: { name: 'startsAt', type: S },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // A seller's own auctions (GET /me/auctions), latest end first; keys only for the same
    // reason, the views themselves read by key.
    auctionViewsTable.addGlobalSecondaryIndex({
      indexName: 'bySeller',
      partitionKey: { name: 'sellerId', type: S },
      sortKey: { name: 'endsAt', type: S },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    const userBidsTable = new dynamodb.Table(this, 'UserBids', {
      partitionKey: { name: 'userId', type: S },
      sortKey: { name: 'auctionId', type: S },
      billingMode: onDemand,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const readModelAliasesTable = new dynamodb.Table(this, 'ReadModelAliases', {
      partitionKey: { name: 'readModel', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const notificationsTable = new dynamodb.Table(this, 'Notifications', {
      partitionKey: { name: 'userId', type: S },
      sortKey: { name: 'notificationId', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The audit trail of every charge, payout and compensation.
    const paymentSagasTable = new dynamodb.Table(this, 'PaymentSagas', {
      partitionKey: { name: 'sagaId', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Who watches what live: one item per WebSocket connection and per auction it watches,
    // found by topic for a push; items expire after API Gateway's 2-hour connection limit.
    const liveConnectionsTable = new dynamodb.Table(this, 'LiveConnections', {
      partitionKey: { name: 'connectionId', type: S },
      sortKey: { name: 'topic', type: S },
      billingMode: onDemand,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    liveConnectionsTable.addGlobalSecondaryIndex({
      indexName: 'byTopic',
      partitionKey: { name: 'topic', type: S },
      sortKey: { name: 'connectionId', type: S },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // What the consumers gave up on (adapters/parking): one item per consumer and stretch of
    // one aggregate's events, written by the parker, emptied by `auction-admin parked
    // replay|discard`. Each item is an incident waiting for a human or the reconciler: no TTL,
    // recoverable, retained.
    const parkedTable = new dynamodb.Table(this, 'Parked', {
      partitionKey: { name: 'consumer', type: S },
      sortKey: { name: 'parkedId', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Who pays and who is paid (adapters/payment-identities): per user the Stripe customer and
    // default card, and the connected account payouts go to. Registered through the API after
    // Stripe confirmed the ids; not derivable from the log, so recoverable and retained.
    const paymentIdentitiesTable = new dynamodb.Table(this, 'PaymentIdentities', {
      partitionKey: { name: 'userId', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The auctions each user watches (adapters/watchlist): a user's own choice, not derivable
    // from the log, so recoverable and retained.
    const watchlistTable = new dynamodb.Table(this, 'Watchlist', {
      partitionKey: { name: 'userId', type: S },
      sortKey: { name: 'auctionId', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // An auction's watchers, for the scheduler's "ends soon" notices; keys only, so that
    // watching writes one small entry more.
    watchlistTable.addGlobalSecondaryIndex({
      indexName: 'byAuction',
      partitionKey: { name: 'auctionId', type: S },
      sortKey: { name: 'userId', type: S },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    // Email notices (adapters/email): each user's preferences and address (a user's own
    // choice, and personal data: forgetting a user deletes their partition) and one mark per
    // notice emailed, which expires after 60 days (TTL). Recoverable and retained, like the
    // other tables users write.
    const emailNoticesTable = new dynamodb.Table(this, 'EmailNotices', {
      partitionKey: { name: 'userId', type: S },
      sortKey: { name: 'sk', type: S },
      billingMode: onDemand,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Signs the unsubscribe links of email notices (HMAC-SHA-256): the notifier may only make
    // MACs, the API may only check them, and no function ever holds the key. KMS does not
    // rotate HMAC keys; rotating means a new key, after which older links (30 days) expire.
    const unsubscribeKey = new kms.Key(this, 'UnsubscribeLinksKey', {
      description: 'Signs the unsubscribe links of email notices (adapters/email)',
      alias: UNSUBSCRIBE_KEY_ALIAS,
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      pendingWindow: Duration.days(7),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The sender's domain, verified by DNS (Easy DKIM); the notifier may send only as it.
    const emailDomain = props.emailDomain ?? DEFAULT_EMAIL_DOMAIN;
    const emailIdentity = new ses.EmailIdentity(this, 'NoticesSender', {
      identity: ses.Identity.domain(emailDomain),
    });
    const emailFrom = `notices@${emailDomain}`;

    // The deliveries of Stripe's webhook events (adapters/webhook-deliveries): per event id the
    // signed timestamps seen and whether the event was handled, so that POST /webhooks/stripe
    // refuses a replayed request and takes no second effect for Stripe's redelivery. Records
    // expire 30 days after the event's first delivery (TTL).
    const stripeWebhookDeliveriesTable = new dynamodb.Table(this, 'StripeWebhookDeliveries', {
      partitionKey: { name: 'eventId', type: S },
      billingMode: onDemand,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    NagSuppressions.addResourceSuppressions(stripeWebhookDeliveriesTable, [
      {
        id: 'AwsSolutions-DDB3',
        reason:
          'Short-lived: each record expires 30 days after its event was first delivered. A ' +
          'restore could only bring back records whose replays the signature tolerance (5 min) ' +
          'already refuses; a redelivery after a loss is de-duplicated by SQS and the saga.',
      },
    ]);

    // Every stream's head (adapters/notary; docs/audit.md, "Digests: a log anyone can verify"):
    // one item per stream (its type, last version and that event's chain hash), moved only
    // forward by the projector, read whole by the digester, and the item `last-digest` (the
    // last digest's sequence, a hint: the digest bucket is the truth). The heads could be
    // recomputed from the log, but they are what the next digest signs, and an edit between
    // two digests is signed with them: recoverable (to look back at what was there) and
    // retained, like the other tables of record.
    const streamHeadsTable = new dynamodb.Table(this, 'StreamHeads', {
      partitionKey: { name: 'aggregateId', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The subjects' key store (adapters/personal-data; docs/privacy.md): per subject the data
    // key as KMS wrapped it and the user id sealed under it; forgetting a subject deletes both
    // items. Point-in-time recovery keeps deleted items restorable for its whole window, so the
    // window is the shortest that still covers an operator's mistake: 7 days, the bound
    // docs/privacy.md gives for a forgotten subject to stay recoverable. Retained: deleting the
    // table would forget everyone.
    const subjectKeysTable = new dynamodb.Table(this, 'SubjectKeys', {
      partitionKey: { name: 'id', type: S },
      billingMode: onDemand,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays: SUBJECT_KEYS_RECOVERY_DAYS },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Wraps the subjects' data keys (GenerateDataKey, Decrypt, bound to each key id by the
    // encryption context). Symmetric, rotated yearly by KMS (old versions keep decrypting),
    // retained with the longest pending window: scheduling it for deletion would forget every
    // subject at once.
    const subjectKey = new kms.Key(this, 'SubjectKeysKey', {
      description: "Wraps the subjects' data keys (docs/privacy.md), used by api-lambda",
      alias: SUBJECT_KEY_ALIAS,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Stripe's secret key (the payment saga moves money with it; the API checks customers,
    // cards and connected accounts with it) and the webhook endpoint's signing secret (the API
    // verifies POST /webhooks/stripe with it). Created with a placeholder: the operator puts
    // the real values (`aws secretsmanager put-secret-value`, README). The functions read them
    // once per execution environment (STRIPE_SECRET_KEY_ID, STRIPE_WEBHOOK_SECRET_ID) and never
    // log them; only the two functions that need a secret may read it.
    const stripeSecretKey = new secretsmanager.Secret(this, 'StripeSecretKey', {
      description: "Stripe's secret API key (sk_live_... or sk_test_...) for the payment saga and the API",
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const stripeWebhookSecret = new secretsmanager.Secret(this, 'StripeWebhookSecret', {
      description: "The signing secret (whsec_...) of Stripe's webhook endpoint POST /webhooks/stripe",
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Only GetSecretValue (what the SDK's read is), on the named secrets: not grantRead's
    // DescribeSecret as well.
    const readSecrets = (role: iam.Role, sid: string, secrets: secretsmanager.Secret[]) => {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: `${sid}ReadsStripeSecrets`,
          actions: ['secretsmanager:GetSecretValue'],
          resources: secrets.map((secret) => secret.secretArn),
        }),
      );
    };
    for (const secret of [stripeSecretKey, stripeWebhookSecret]) {
      NagSuppressions.addResourceSuppressions(secret, [
        {
          id: 'AwsSolutions-SMG4',
          reason:
            "Stripe issues and rolls these secrets in its dashboard (API keys can be rolled with " +
            'an expiry overlap; a webhook secret is rolled per endpoint); a rotation Lambda here ' +
            'could not create a new Stripe key. The operator puts the rolled value.',
        },
      ]);
    }

    for (const rebuildable of [snapshotsTable, idempotencyTable, auctionViewsTable, userBidsTable, liveConnectionsTable]) {
      NagSuppressions.addResourceSuppressions(rebuildable, [
        {
          id: 'AwsSolutions-DDB3',
          reason:
            'Derived or short-lived data: snapshots and the read models (AuctionListView, ' +
            'UserBids) are rebuilt from the Events table, which has point-in-time recovery; ' +
            'idempotency records expire after 48 h, live connections within API Gateway\'s ' +
            '2-hour connection limit (clients reconnect and resubscribe). PITR would double ' +
            'their storage cost for nothing a replay or a reconnect cannot restore.',
        },
      ]);
    }

    // ---------------------------------------------------------------------------------------
    // Log groups, roles and functions.

    const logGroup = (name: string) =>
      new logs.LogGroup(this, `${name}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });

    const alarmsKey = new kms.Key(this, 'AlarmsKey', {
      description: 'Encrypts the alarm topic; CloudWatch may use it to publish alarms',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    alarmsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const alarmTopic = new sns.Topic(this, 'Alarms', {
      displayName: 'Auction platform alarms',
      masterKey: alarmsKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const alarmAction = new cwActions.SnsAction(alarmTopic);
    const alarm = (
      id: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      periods = 1,
      options: Pick<cloudwatch.AlarmProps, 'evaluateLowSampleCountPercentile'> = {},
    ) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
        ...options,
      });
      created.addAlarmAction(alarmAction);
      created.addOkAction(alarmAction);
      return created;
    };

    const makeFunction = (id: string, binary: Binary, description: string) => {
      const logs = logGroup(id);
      // No managed policy (AWSLambdaBasicExecutionRole would allow every log group): the
      // role may write its own log group, and what each function uses, granted below.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${binary}`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logs.logGroupArn],
        }),
      );
      const fn = new lambda.Function(this, id, {
        description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: ARCHITECTURES[architecture].lambda,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(path.join(props.lambdaAssets, binary)),
        memorySize: MEMORY_MB[binary],
        timeout: TIMEOUTS[binary],
        role,
        logGroup: logs,
        // Lambda's advanced logging controls: it sets AWS_LAMBDA_LOG_FORMAT and
        // AWS_LAMBDA_LOG_LEVEL from these, and every binary's logging follows them
        // (adapters/conventions/src/logging.rs), so the level changes without a deployment of code.
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        // Lambda samples the invocations and hands each its trace id (_X_AMZN_TRACE_ID) for the
        // binary's log lines; the AWS SDK forwards it on its requests, and SQS on to the consumers.
        tracing: lambda.Tracing.ACTIVE,
      });
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'Active tracing: CDK grants xray:PutTraceSegments and xray:PutTelemetryRecords, ' +
              'which have no resource-level permissions (the service authorization reference ' +
              'lists no resource type for them), so they are on Resource::*; test/iam.test.ts ' +
              'allows no other action on "*" but dynamodb:ListStreams.',
            appliesTo: ['Resource::*'],
          },
        ],
        true,
      );
      Tags.of(fn).add(BINARY_TAG, binary);
      alarm(`${id}Errors`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 0,
        `${binary}: invocations failed (function errors) in the last 5 minutes`);
      alarm(`${id}Throttles`, fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }), 0,
        `${binary}: invocations were throttled in the last 5 minutes`);
      return { fn, role };
    };

    // What emailing a notice takes (the notifier's and the scheduler's reminders): a MAC for
    // each unsubscribe link, and SendEmail from the notices' address only.
    const grantEmailNotices = (role: iam.Role, sid: string) => {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: `${sid}UnsubscribeLinks`,
          actions: ['kms:GenerateMac'],
          resources: [unsubscribeKey.keyArn],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: `${sid}SendsEmail`,
          actions: ['ses:SendEmail'],
          resources: [this.formatArn({ service: 'ses', resource: 'identity', resourceName: emailIdentity.emailIdentityName })],
          conditions: { StringEquals: { 'ses:FromAddress': emailFrom } },
        }),
      );
    };
    const grantTables = (role: iam.Role, sid: string, accesses: TableAccess[]) => {
      accesses.forEach((access, i) => {
        if (access.actions.length === 0 && !access.indexes) {
          return;
        }
        const tables = access.rebuilt
          ? [access.table.tableArn, `${access.table.tableArn}-r*`]
          : [access.table.tableArn];
        if (access.actions.length > 0) role.addToPolicy(
          new iam.PolicyStatement({
            sid: `${sid}${i}`,
            actions: access.actions.map((a) => `dynamodb:${a}`),
            resources: tables,
          }),
        );
        if (access.indexes) {
          const names = access.indexes.names;
          role.addToPolicy(
            new iam.PolicyStatement({
              sid: `${sid}${i}Index`,
              actions: access.indexes.actions.map((a) => `dynamodb:${a}`),
              resources: tables.flatMap((table) => names.map((name) => `${table}/index/${name}`)),
            }),
          );
        }
      });
    };

    // The event store: loads are Queries (strongly consistent) of the Events table; an append
    // is a conditional PutItem, or a TransactWriteItems of conditional Puts, which IAM
    // authorizes as dynamodb:PutItem per item. Snapshots: GetItem, conditional PutItem.
    const storeRead = { table: eventsTable, actions: ['Query'] };
    const storeWrite = { table: eventsTable, actions: ['PutItem', 'Query'] };
    const snapshotsReadWrite = { table: snapshotsTable, actions: ['GetItem', 'PutItem'] };
    const idempotencyReadWrite = { table: idempotencyTable, actions: ['GetItem', 'PutItem'] };
    const storeEnvironment = {
      EVENTS_TABLE: eventsTable.tableName,
      SNAPSHOTS_TABLE: snapshotsTable.tableName,
      IDEMPOTENCY_TABLE: idempotencyTable.tableName,
    };

    // API: commands (load, decide, append, with idempotency keys), the read models, the inbox,
    // and the admin routes (which read one auction's log, or one event type's page of the
    // byTypeShard index: Query on the index ARN only; and list and replay the parked items).
    // A replay redelivers through the consumers' own code, so the role also holds what the
    // projector writes (PutItem on the views, the reads it already had) and, granted with the
    // queues below, SendMessage to the three queues: a wider role than the bidder routes need,
    // the price of replaying from the admin API (docs/parking.md).
    const api = makeFunction('Api', 'api-lambda', 'Bidder API behind the HTTP API');
    grantTables(api.role, 'Api', [
      { ...storeWrite, indexes: { names: ['byTypeShard'], actions: ['Query'] } },
      snapshotsReadWrite,
      idempotencyReadWrite,
      {
        table: auctionViewsTable,
        actions: ['GetItem', 'BatchGetItem', 'PutItem'],
        indexes: { names: ['byStatus', 'bySeller'], actions: ['Query'] },
        rebuilt: true,
      },
      { table: userBidsTable, actions: ['Query', 'PutItem'], rebuilt: true },
      { table: notificationsTable, actions: ['Query'] },
      { table: readModelAliasesTable, actions: ['GetItem'] },
      // GET /admin/parked (Scan, or Query of one consumer); a replay re-reads the item, then
      // removes it or counts a failed replay on it.
      { table: parkedTable, actions: ['Scan', 'Query', 'GetItem', 'PutItem', 'DeleteItem'] },
      // GET /me/payment-identity and the check before a bid, a purchase or a creation
      // (GetItem); PUT /me/payment-method and /me/payout-account set one part of the item
      // (UpdateItem).
      { table: paymentIdentitiesTable, actions: ['GetItem', 'UpdateItem'] },
      // PUT /me/watchlist/{id} (conditional PutItem), DELETE (DeleteItem), GET /me/watchlist
      // (Query of the caller's partition).
      { table: watchlistTable, actions: ['PutItem', 'DeleteItem', 'Query'] },
      // POST /webhooks/stripe: a delivery recorded (conditional UpdateItem, the replay check)
      // and its event marked handled (UpdateItem).
      { table: stripeWebhookDeliveriesTable, actions: ['UpdateItem'] },
      // A replay of the projector's parked items moves the streams' heads as the projector
      // does (conditional UpdateItem); GET /admin/proofs reads the last digest's sequence
      // (GetItem of `last-digest`). The digests themselves: below, with the bucket.
      { table: streamHeadsTable, actions: ['GetItem', 'UpdateItem'] },
      // A subject's key found (GetItem), made (TransactWriteItems of two conditional Puts)
      // and forgotten (TransactWriteItems of two Deletes).
      { table: subjectKeysTable, actions: ['GetItem', 'PutItem', 'DeleteItem'] },
      // GET and PUT /me/notification-preferences (GetItem, PutItem), POST /unsubscribe
      // (conditional UpdateItem of the preferences item).
      { table: emailNoticesTable, actions: ['GetItem', 'PutItem', 'UpdateItem'] },
    ]);
    api.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ApiUnsubscribeLinks',
        actions: ['kms:VerifyMac'],
        resources: [unsubscribeKey.keyArn],
      }),
    );
    api.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ApiSubjectKeys',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [subjectKey.keyArn],
      }),
    );
    setEnvironment(api.fn, {
      ...storeEnvironment,
      AUCTION_VIEWS_TABLE: auctionViewsTable.tableName,
      USER_BIDS_TABLE: userBidsTable.tableName,
      NOTIFICATIONS_TABLE: notificationsTable.tableName,
      READ_MODEL_ALIASES_TABLE: readModelAliasesTable.tableName,
      PARKED_TABLE: parkedTable.tableName,
      PAYMENT_IDENTITIES_TABLE: paymentIdentitiesTable.tableName,
      STRIPE_WEBHOOK_DELIVERIES_TABLE: stripeWebhookDeliveriesTable.tableName,
      STREAM_HEADS_TABLE: streamHeadsTable.tableName,
      SUBJECT_KEYS_TABLE: subjectKeysTable.tableName,
      WATCHLIST_TABLE: watchlistTable.tableName,
      EMAIL_NOTICES_TABLE: emailNoticesTable.tableName,
      UNSUBSCRIBE_KEY_ID: unsubscribeKey.keyArn,
      SUBJECT_KEY_ID: subjectKey.keyArn,
      STRIPE_SECRET_KEY_ID: stripeSecretKey.secretArn,
      STRIPE_WEBHOOK_SECRET_ID: stripeWebhookSecret.secretArn,
    });
    readSecrets(api.role, 'Api', [stripeSecretKey, stripeWebhookSecret]);

    // Projector: the read models from the stream, version-gated conditional PutItems; a gap
    // in the stream is filled from the log (Query). And each stream's head, moved forward from
    // INSERT records only (UpdateItem conditional on the version): what the digests anchor.
    const projector = makeFunction('Projector', 'projector-lambda', 'Read models from the Events stream');
    grantTables(projector.role, 'Projector', [
      storeRead,
      { table: auctionViewsTable, actions: ['GetItem', 'PutItem'], rebuilt: true },
      { table: userBidsTable, actions: ['PutItem'], rebuilt: true },
      { table: readModelAliasesTable, actions: ['GetItem'] },
      { table: streamHeadsTable, actions: ['UpdateItem'] },
    ]);
    setEnvironment(projector.fn, {
      ...storeEnvironment,
      AUCTION_VIEWS_TABLE: auctionViewsTable.tableName,
      USER_BIDS_TABLE: userBidsTable.tableName,
      READ_MODEL_ALIASES_TABLE: readModelAliasesTable.tableName,
      STREAM_HEADS_TABLE: streamHeadsTable.tableName,
    });

    // Notifier: the inbox from the notifications queue; an event's context (who was outbid)
    // is the aggregate at that version: the snapshot (GetItem) and the log (Query). Email
    // notices: the recipient's preferences and the sent marks (GetItem, PutItem), a MAC for
    // each unsubscribe link, and SES's SendEmail as the notices' sender only. WEB_URL and
    // API_URL, which the links name, are set with the site and the API below.
    const notifier = makeFunction('Notifier', 'notifier-lambda', 'Inbox and email notices from the notifications queue');
    grantTables(notifier.role, 'Notifier', [
      storeRead,
      { table: snapshotsTable, actions: ['GetItem'] },
      { table: notificationsTable, actions: ['PutItem'] },
      { table: emailNoticesTable, actions: ['GetItem', 'PutItem'] },
    ]);
    grantEmailNotices(notifier.role, 'Notifier');
    setEnvironment(notifier.fn, {
      ...storeEnvironment,
      NOTIFICATIONS_TABLE: notificationsTable.tableName,
      EMAIL_NOTICES_TABLE: emailNoticesTable.tableName,
      UNSUBSCRIBE_KEY_ID: unsubscribeKey.keyArn,
      EMAIL_FROM: emailFrom,
    });

    // Payment saga: its state (GetItem, conditional PutItem) and the RecordPayment* commands
    // through the event store, with idempotency keys.
    const saga = makeFunction('PaymentSaga', 'payment-saga-lambda', 'Payment saga on the payments queue');
    grantTables(saga.role, 'PaymentSaga', [
      storeWrite,
      snapshotsReadWrite,
      idempotencyReadWrite,
      { table: paymentSagasTable, actions: ['GetItem', 'PutItem'] },
      // The buyer's card to charge and the seller's connected account to pay out to.
      { table: paymentIdentitiesTable, actions: ['GetItem'] },
    ]);
    setEnvironment(saga.fn, {
      ...storeEnvironment,
      PAYMENT_SAGAS_TABLE: paymentSagasTable.tableName,
      PAYMENT_IDENTITIES_TABLE: paymentIdentitiesTable.tableName,
      PAYMENT_COMMISSION_BPS: String(commissionBps),
      STRIPE_SECRET_KEY_ID: stripeSecretKey.secretArn,
    });
    readSecrets(saga.role, 'PaymentSaga', [stripeSecretKey]);

    // Scheduler: due auctions from the byStatus (ends) and byStart (starts) indexes, Start/EndAuction through the event
    // store (its commands carry no idempotency key: their ids are deterministic). Once a
    // minute it tells the watchers of auctions ending within the hour (the Watchlist's
    // byAuction index), in their inbox and by email as the notifier does (WEB_URL and API_URL
    // are set with the site and the API below).
    const scheduler = makeFunction('Scheduler', 'scheduler-lambda', 'Starts and ends due auctions; tells watchers an auction ends soon');
    grantTables(scheduler.role, 'Scheduler', [
      storeWrite,
      snapshotsReadWrite,
      {
        table: auctionViewsTable,
        actions: [],
        indexes: { names: ['byStatus', 'byStart'], actions: ['Query'] },
        rebuilt: true,
      },
      // The indexes follow the views' alias, like the API's reads.
      { table: readModelAliasesTable, actions: ['GetItem'] },
      { table: watchlistTable, actions: [], indexes: { names: ['byAuction'], actions: ['Query'] } },
      { table: notificationsTable, actions: ['PutItem'] },
      { table: emailNoticesTable, actions: ['GetItem', 'PutItem'] },
    ]);
    grantEmailNotices(scheduler.role, 'Scheduler');
    setEnvironment(scheduler.fn, {
      ...storeEnvironment,
      AUCTION_VIEWS_TABLE: auctionViewsTable.tableName,
      USER_BIDS_TABLE: userBidsTable.tableName,
      READ_MODEL_ALIASES_TABLE: readModelAliasesTable.tableName,
      WATCHLIST_TABLE: watchlistTable.tableName,
      NOTIFICATIONS_TABLE: notificationsTable.tableName,
      EMAIL_NOTICES_TABLE: emailNoticesTable.tableName,
      UNSUBSCRIBE_KEY_ID: unsubscribeKey.keyArn,
      EMAIL_FROM: emailFrom,
    });
    const schedulerCfn = scheduler.fn.node.defaultChild as lambda.CfnFunction;
    // Two: the next minute's invocation starts while the previous one finishes its sweep;
    // they overlap safely (docs/scheduler.md).
    schedulerCfn.reservedConcurrentExecutions = 2;
    // A failed sweep is the next minute's work: no retry that would overlap it.
    scheduler.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });
    new events.Rule(this, 'SchedulerEveryMinute', {
      description: 'Invokes the auction scheduler every minute; each invocation sweeps for 58 s',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(scheduler.fn, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
    });

    // Parker (adapters/parking, docs: README.md "Parking"): what a consumer gave up on, from
    // the stream mappings' on-failure queue and from both DLQs (its event sources, set below),
    // becomes items of the Parked table within a minute. Its own role: PutItem on Parked only
    // (an item parked again replaces itself); an on-failure record names only a shard and a
    // sequence-number range, which it reads back from the Events stream (GetShardIterator at
    // the first, GetRecords to the last: the record names the stream and the shard, so no
    // DescribeStream or ListStreams). Made before the queues: their visibility timeout follows
    // its timeout. It writes the `Parked` metric (EMF lines in its log), alarmed per consumer.
    const parker = makeFunction('Parker', 'parker-lambda', 'Parks what the consumers gave up on');
    grantTables(parker.role, 'Parker', [{ table: parkedTable, actions: ['PutItem'] }]);
    parker.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadGivenUpRecords',
        actions: ['dynamodb:GetShardIterator', 'dynamodb:GetRecords'],
        resources: [eventsTable.tableStreamArn!],
      }),
    );

    // ---------------------------------------------------------------------------------------
    // Queues: FIFO, de-duplicated by the publisher's MessageDeduplicationId (content-based
    // de-duplication off), each with a FIFO DLQ after 3 receives, and a visibility timeout of
    // six times its consumer's timeout.

    // Each queue the parker drains (both DLQs and StreamFailures): its SQS mapping (batch 10,
    // item failures reported: a message it cannot park stays in its queue and is tried again
    // after the visibility timeout) and two alarms on a message that stays. They replace the
    // depth alarms (visible messages > 0) these queues had before the parker: a give-up is now
    // parked within seconds and counted by the parked-items alarm, which names the consumer,
    // so a depth alarm would only repeat it; and a message the parker keeps failing is in
    // flight most of the time, which a count of visible messages misses. So:
    // - age: the oldest message is older than PARKER_MAX_AGE (2 minutes; the parker drains a
    //   queue within one);
    // - held: the queue holds messages (visible or in flight) in every minute for 5 minutes.
    //   SQS leaves a message received 3 times or more out of the age of the oldest message,
    //   which would turn the age alarm back to OK while an unparkable message is still there.
    const parkedFrom = (id: string, queue: sqs.Queue, what: string) => {
      parker.fn.addEventSource(new sources.SqsEventSource(queue, { ...QUEUE_MAPPING }));
      alarm(`${id}Age`, queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
        PARKER_MAX_AGE.toSeconds(),
        `${what}: a message has waited more than ${PARKER_MAX_AGE.toMinutes()} minutes; the parker could not park it (its log says why)`);
      const held = new cloudwatch.MathExpression({
        expression: 'visible + inFlight',
        usingMetrics: {
          visible: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
          inFlight: queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum' }),
        },
        period: Duration.minutes(1),
        label: `${id} messages held`,
      });
      alarm(`${id}Held`, held, 0,
        `${what}: messages stayed for 5 minutes; the parker is failing or cannot keep up (its log says why)`, 5);
    };

    // `highThroughput`: SQS's high-throughput FIFO mode (de-duplication and the throughput
    // limit per message group, not per queue) for a queue that gets a message per bid.
    const fifoWithDlq = (id: string, consumer: lambda.Function, options: { highThroughput?: boolean } = {}) => {
      const dlq = new sqs.Queue(this, `${id}Dlq`, {
        fifo: true,
        contentBasedDeduplication: false,
        retentionPeriod: DLQ_RETENTION,
        // The parker consumes it.
        visibilityTimeout: visibilityTimeoutFor(parker.fn),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      const queue = new sqs.Queue(this, id, {
        fifo: true,
        contentBasedDeduplication: false,
        visibilityTimeout: visibilityTimeoutFor(consumer),
        deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
        ...(options.highThroughput
          ? { deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP, fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID }
          : {}),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      consumer.addEventSource(new sources.SqsEventSource(queue, { ...QUEUE_MAPPING }));
      // A message its consumer failed MAX_RECEIVE_COUNT times: parked, and alarmed if it stays.
      parkedFrom(`${id}Dlq`, dlq, `${id} DLQ`);
      return { queue, dlq };
    };
    const notifications = fifoWithDlq('NotificationsQueue', notifier.fn);
    const payments = fifoWithDlq('PaymentsQueue', saga.fn);

    // Where the stream mappings describe a batch they gave up on (a standard queue: Lambda
    // requires one for an on-failure destination). The parker consumes it: it reads the
    // batch's records back from the stream (24 h retention) and parks them.
    const streamFailures = new sqs.Queue(this, 'StreamFailures', {
      retentionPeriod: DLQ_RETENTION,
      visibilityTimeout: visibilityTimeoutFor(parker.fn),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    NagSuppressions.addResourceSuppressions(streamFailures, [
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is itself a dead-letter destination: the on-failure destination of the ' +
          'Events stream mappings, consumed by the parker, which turns each record into items ' +
          'of the Parked table. A record the parker cannot park stays here (retention 14 days, ' +
          'tried again after every visibility timeout) and its age and held-messages alarms ' +
          'call a human; a DLQ behind it would only move such a record to another queue that ' +
          'needs the same alarms.',
      },
    ]);
    // A batch a stream mapping gave up on (retries exhausted or record too old): parked.
    parkedFrom('StreamFailures', streamFailures, 'StreamFailures');

    // Publisher: the Events stream to the FIFO queues (SendMessageBatch, authorized as
    // sqs:SendMessage). Queue URLs are given, so it never calls GetQueueUrl. The live queue is
    // made with the broadcaster, below: its ARN and URL are added there.
    const publisher = makeFunction('Publisher', 'publisher-lambda', 'Fans the Events stream out to SQS');
    const publisherSends = new iam.PolicyStatement({
      sid: 'SendToQueues',
      actions: ['sqs:SendMessage'],
      resources: [notifications.queue.queueArn, payments.queue.queueArn],
    });
    publisher.role.addToPolicy(publisherSends);
    setEnvironment(publisher.fn, {
      NOTIFICATIONS_QUEUE_URL: notifications.queue.queueUrl,
      PAYMENTS_QUEUE_URL: payments.queue.queueUrl,
    });

    const consumeEventsStream = (id: string, consumer: lambda.Function) => {
      consumer.addEventSource(
        new sources.DynamoEventSource(eventsTable, { ...STREAM_MAPPING, onFailure: new sources.SqsDlq(streamFailures) }),
      );
      alarm(`${id}IteratorAge`, consumer.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }), 60_000,
        `${id} is more than a minute behind the Events stream for 5 minutes`, 5);
    };
    // Two readers of the Events stream, the most DynamoDB Streams serves per shard without
    // throttling: every other consumer reads a queue the publisher fills (docs/fan-out.md, "Two
    // readers per shard").
    consumeEventsStream('Projector', projector.fn);
    consumeEventsStream('Publisher', publisher.fn);

    // ---------------------------------------------------------------------------------------
    // The bidder page (web/): a private, versioned, encrypted bucket read only by CloudFront
    // through Origin Access Control; HTTPS only; access logs of both in a log bucket. Made before
    // the APIs: its URL is the Cognito client's callback and the HTTP API's one CORS origin.

    const siteLogs = new s3.Bucket(this, 'SiteLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logs are delivered with an ACL granting the log delivery account.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(siteLogs, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'This bucket holds the access logs of the site bucket and of the CloudFront ' +
          'distribution; logging its own access would need yet another bucket, without end.',
      },
    ]);
    const siteBucket = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: siteLogs,
      serverAccessLogsPrefix: 'site-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const distribution = new cloudfront.Distribution(this, 'SiteDistribution', {
      comment: 'Bidder page',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(siteBucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: siteLogs,
      logFilePrefix: 'cloudfront/',
    });
    NagSuppressions.addResourceSuppressions(distribution, [
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'Auctions are open to bidders anywhere; no country is to be refused at the edge ' +
          '(sanctions screening, if needed, belongs to sign-up and payment).',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'The distribution serves a few static files from a private bucket, cached; there is ' +
          'no dynamic origin behind it to protect. A deployment that wants AWS WAF attaches a ' +
          'web ACL (billed per rule and request).',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution uses the default *.cloudfront.net certificate, whose security ' +
          'policy CloudFront fixes at TLSv1 (a minimumProtocolVersion is ignored without a ' +
          'custom certificate). Browsers negotiate TLS 1.2 or 1.3 anyway; a custom domain with ' +
          'an ACM certificate sets TLSv1.2_2021.',
      },
    ]);

    // ---------------------------------------------------------------------------------------
    // Item photos (adapters/photos): a seller's browser posts each original straight to the
    // photos bucket with a presigned POST the API grants (its policy binds the key, the content
    // type and the size, which S3 enforces); the bucket notifies the uploads queue of each
    // original; the thumbnailer checks it, writes its thumbnail (or the refusal's reason) and
    // deletes the original. Only thumbnails are served, by the site's distribution. Keys:
    // originals/<auctionId>/<photoId>, thumbnails/<auctionId>/<photoId>.jpg,
    // refusals/<auctionId>/<photoId>.json (adapters/photos/src/keys.rs).

    // CDK's notification handler (a Python function that writes the bucket's notification
    // configuration at deployment) would get a role with AWSLambdaBasicExecutionRole, which
    // writes every log group. It gets this one instead, passed immutable so that CDK adds
    // neither that managed policy nor its grant; the two it needs are added here.
    const photoNotificationsRole = new iam.Role(this, 'PhotoNotificationsHandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: "Execution role of CDK's S3 notification handler (the photos bucket's notification)",
    });
    // Not versioned: every original is deleted once thumbnailed or refused (a refused one may
    // be hostile), and versioning would keep each as the noncurrent version the deletion was
    // meant to remove; thumbnails and refusals are derived from the originals and rewritten by
    // the idempotent step. Retained: sellers' photos outlive the stack. Its CORS rule is set
    // after the distribution, below.
    const photosBucket = new s3.Bucket(this, 'PhotosBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: siteLogs,
      serverAccessLogsPrefix: 'photos-bucket/',
      // A refusal tells the seller why a photo was refused: a month to read it, then clutter.
      lifecycleRules: [{ id: 'ExpireRefusals', prefix: 'refusals/', expiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
      notificationsHandlerRole: photoNotificationsRole.withoutPolicyUpdates(),
    });

    // The originals to thumbnail: a standard queue (S3 notifies no FIFO queue; the step is
    // idempotent, so a duplicate delivery costs a second look only), with a DLQ after 3
    // receives. Made after the thumbnailer: its visibility timeout follows the function's.
    const thumbnailer = makeFunction('Thumbnailer', 'thumbnailer-lambda', 'Thumbnails of item photos from the photo uploads queue');
    const photoUploadsDlq = new sqs.Queue(this, 'PhotoUploadsDlq', {
      retentionPeriod: DLQ_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const photoUploads = new sqs.Queue(this, 'PhotoUploadsQueue', {
      visibilityTimeout: visibilityTimeoutFor(thumbnailer.fn),
      deadLetterQueue: { queue: photoUploadsDlq, maxReceiveCount: MAX_RECEIVE_COUNT },
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    // Only originals: the thumbnailer's own writes (thumbnails/, refusals/) must not notify it.
    photosBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(photoUploads), { prefix: 'originals/' });
    thumbnailer.fn.addEventSource(new sources.SqsEventSource(photoUploads, { ...QUEUE_MAPPING }));
    // The parker knows the consumers of the event log only; an S3 notification it could not
    // park. A dead letter here is an original neither thumbnailed nor refused in 3 tries:
    // anything waiting calls a person (the thumbnailer's log says why; redrive it to the queue).
    alarm('PhotoUploadsDlqVisible',
      photoUploadsDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), 0,
      'Photo uploads DLQ: an original failed thumbnailing 3 times (thumbnailer-lambda\'s log says why; redrive the DLQ once fixed)');

    // The handler's grants: its own log group (set on the function below) and the photos
    // bucket's notification configuration only.
    const photoNotificationsLogs = logGroup('PhotoNotificationsHandler');
    photoNotificationsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [photoNotificationsLogs.logGroupArn],
      }),
    );
    photoNotificationsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PhotosBucketNotification',
        actions: ['s3:PutBucketNotification'],
        resources: [photosBucket.bucketArn],
      }),
    );
    // The handler is a stack-level singleton of CDK's, found by its fixed id; a CDK release that
    // renames it fails the synth here rather than leaving its logs in an unmanaged log group.
    const notificationsHandler = this.node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834')
      ?.node.tryFindChild('Resource');
    if (!(notificationsHandler instanceof CfnResource) || notificationsHandler.cfnResourceType !== 'AWS::Lambda::Function') {
      throw new Error("CDK's S3 notification handler function was not found: its log group cannot be set");
    }
    notificationsHandler.addPropertyOverride('LoggingConfig', { LogGroup: photoNotificationsLogs.logGroupName });

    // The thumbnailer (adapters/photos, step.rs): an original read and deleted; its thumbnail
    // written; a refusal written (and read back, so that a step run twice keeps the first
    // reason); ListBucket so that a GET of a missing key is a 404, which the step reads as
    // "not there" (without it S3 answers 403), and for the count of an auction's thumbnails.
    thumbnailer.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ThumbnailerOriginals',
        actions: ['s3:GetObject', 's3:DeleteObject'],
        resources: [photosBucket.arnForObjects('originals/*')],
      }),
    );
    thumbnailer.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ThumbnailerThumbnails',
        actions: ['s3:PutObject'],
        resources: [photosBucket.arnForObjects('thumbnails/*')],
      }),
    );
    thumbnailer.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ThumbnailerRefusals',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [photosBucket.arnForObjects('refusals/*')],
      }),
    );
    thumbnailer.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ThumbnailerListPhotos', actions: ['s3:ListBucket'], resources: [photosBucket.bucketArn] }),
    );
    setEnvironment(thumbnailer.fn, { PHOTOS_BUCKET: photosBucket.bucketName });

    // The API: a presigned POST is signed with the API role's credentials, and S3 authorizes
    // the browser's upload as that role's PutObject, so the role holds PutObject on originals/
    // (the grant's policy pins the one key); GetObject there for the HeadObject of a pending
    // original; the thumbnails and refusals read (GetObject; ListBucket for an auction's
    // thumbnails, and for 404 rather than 403 on a missing key). MEDIA_URL is set with the site.
    api.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ApiPhotoOriginals',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [photosBucket.arnForObjects('originals/*')],
      }),
    );
    api.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ApiPhotoResults',
        actions: ['s3:GetObject'],
        resources: [photosBucket.arnForObjects('thumbnails/*'), photosBucket.arnForObjects('refusals/*')],
      }),
    );
    api.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ApiListPhotos', actions: ['s3:ListBucket'], resources: [photosBucket.bucketArn] }),
    );
    setEnvironment(api.fn, { PHOTOS_BUCKET: photosBucket.bucketName });

    for (const role of [thumbnailer.role, api.role]) {
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'Photo objects are named at run time (<prefix>/<auctionId>/<photoId>): each grant ' +
              'is on one key prefix of the photos bucket (originals/, thumbnails/ or refusals/), ' +
              'with the object actions that role uses there only (test/iam.test.ts).',
            appliesTo: [{ regex: '/^Resource::<PhotosBucket[A-Za-z0-9]*\\.Arn>\\/(originals|thumbnails|refusals)\\/\\*$/' }],
          },
        ],
        true,
      );
    }

    /** The page's origin (CORS), and its URL (the hosted UI's redirect and sign-out target). */
    const siteOrigin = `https://${distribution.distributionDomainName}`;
    const siteUrl = `${siteOrigin}/`;

    // Thumbnails only, through the site's distribution (one origin for the page and its media;
    // MEDIA_URL is the site's origin). The origin signs with Origin Access Control, as the
    // site's does, but CDK's withOriginAccessControl would allow CloudFront s3:GetObject on
    // every object of the bucket: this OAC is made here and the bucket policy written by hand,
    // for thumbnails/* of this distribution only. The Deny keeps originals and refusals (a
    // refused upload may be hostile) from any distribution, whatever is allowed later.
    const photosOac = new cloudfront.S3OriginAccessControl(this, 'PhotosOriginAccessControl', {
      description: 'The site distribution reads thumbnails from the photos bucket',
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    distribution.addBehavior('thumbnails/*',
      origins.S3BucketOrigin.withBucketDefaults(photosBucket, { originAccessControlId: photosOac.originAccessControlId }), {
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
      });
    photosBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontReadsThumbnails',
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        resources: [photosBucket.arnForObjects('thumbnails/*')],
        conditions: { StringEquals: { 'AWS:SourceArn': distribution.distributionArn } },
      }),
    );
    photosBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontReadsNothingElse',
        effect: iam.Effect.DENY,
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:*'],
        notResources: [photosBucket.arnForObjects('thumbnails/*')],
      }),
    );

    // The browser posts the presigned form straight to the bucket: exactly the page's origin,
    // POST only. Not a property of the bucket: the distribution reads the bucket (its origin),
    // so the bucket cannot also name the distribution's domain without a dependency cycle;
    // PutBucketCors once both exist does. Its role: its own log group and that one call.
    const photosCorsLogs = logGroup('PhotosBucketCors');
    const photosCorsRole = new iam.Role(this, 'PhotosBucketCorsRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: "Execution role of CDK's AwsCustomResource that sets the photos bucket's CORS rule",
    });
    photosCorsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [photosCorsLogs.logGroupArn],
      }),
    );
    const putPhotosCors: cr.AwsSdkCall = {
      service: 'S3',
      action: 'PutBucketCors',
      parameters: {
        Bucket: photosBucket.bucketName,
        CORSConfiguration: {
          CORSRules: [{
            AllowedOrigins: [siteOrigin],
            AllowedMethods: ['POST'],
            AllowedHeaders: ['*'],
            MaxAgeSeconds: Duration.hours(1).toSeconds(),
          }],
        },
      },
      physicalResourceId: cr.PhysicalResourceId.of('photos-bucket-cors'),
    };
    new cr.AwsCustomResource(this, 'PhotosBucketCors', {
      onCreate: putPhotosCors,
      onUpdate: putPhotosCors,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['s3:PutBucketCORS'], resources: [photosBucket.bucketArn] }),
      ]),
      role: photosCorsRole,
      logGroup: photosCorsLogs,
      installLatestAwsSdk: false,
    });
    setEnvironment(api.fn, { MEDIA_URL: siteOrigin });

    // ---------------------------------------------------------------------------------------
    // The HTTP API: Cognito users, a JWT authorizer on every route but /health and
    // /openapi.json, payload format 2.0 (api-lambda reads the authorizer's claims from it).

    const userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      autoVerify: { email: true },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(userPool, [
      {
        id: 'AwsSolutions-COG2',
        reason:
          'Bidders sign themselves up; requiring MFA of every bidder would turn most away. ' +
          'TOTP MFA is offered (optional) and the admin group should enable it.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'Threat protection (the Plus feature plan) is billed per monthly active user; a ' +
          'deployment that wants it sets featurePlan PLUS on the pool. The API is throttled at ' +
          'the stage and every command is idempotent and authorized by the domain.',
      },
    ]);
    // The admin routes need this group in the token's cognito:groups claim.
    new cognito.CfnUserPoolGroup(this, 'AdminGroup', {
      userPoolId: userPool.userPoolId,
      groupName: 'admin',
      description: 'May use the /admin routes (audits)',
    });
    // The hosted UI (Cognito's classic sign-in pages) at
    // https://<prefix>.auth.<region>.amazoncognito.com: the bidder page signs in there with the
    // authorization code flow and PKCE (web/auth.js).
    const domain = userPool.addDomain('HostedUi', {
      cognitoDomain: { domainPrefix: authDomainPrefix(this, props.authDomainPrefix) },
    });
    // A public client (no secret: the page cannot keep one): SRP for SDK sign-in, and the
    // hosted UI's authorization code flow only (no implicit flow), back to the page. Cognito
    // checks a PKCE code_verifier whenever the authorization request carried a challenge; the
    // page always sends one.
    const client = userPool.addClient('ApiClient', {
      authFlows: { userSrp: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      // Kept in the tab's sessionStorage: a working day, not Cognito's default 30 days.
      refreshTokenValidity: Duration.hours(12),
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [siteUrl],
        logoutUrls: [siteUrl],
      },
    });

    const authorizer = new HttpUserPoolAuthorizer('CognitoJwt', userPool, {
      userPoolClients: [client],
      identitySource: ['$request.header.Authorization'],
    });
    const integration = new HttpLambdaIntegration('ApiIntegration', api.fn, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    // CORS for the bidder page (another origin than the API): exactly its CloudFront origin, the
    // methods and request headers it uses; it reads no response header but the body's. No
    // credentials (the token is a header, not a cookie).
    const httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Bidder API',
      createDefaultStage: true,
      corsPreflight: {
        allowOrigins: [siteOrigin],
        allowMethods: [
          apigwv2.CorsHttpMethod.GET,
          apigwv2.CorsHttpMethod.POST,
          apigwv2.CorsHttpMethod.PUT,
          apigwv2.CorsHttpMethod.DELETE,
        ],
        allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
        allowCredentials: false,
        maxAge: Duration.hours(1),
      },
    });
    httpApi.addRoutes({ path: '/{proxy+}', methods: [apigwv2.HttpMethod.ANY], integration, authorizer });
    // A preflight carries no Authorization header, and `ANY /{proxy+}` (with the authorizer)
    // would match it and answer 401. This more specific route has no authorizer, so API Gateway
    // answers the preflight from the CORS configuration above (API Gateway's guidance for an
    // authorized catch-all route with CORS).
    const preflightRoutes = httpApi.addRoutes({ path: '/{proxy+}', methods: [apigwv2.HttpMethod.OPTIONS], integration });
    const publicRoutes = [
      ...httpApi.addRoutes({ path: '/health', methods: [apigwv2.HttpMethod.GET], integration }),
      ...httpApi.addRoutes({ path: '/openapi.json', methods: [apigwv2.HttpMethod.GET], integration }),
    ];
    for (const route of preflightRoutes) {
      NagSuppressions.addResourceSuppressions(route, [
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'CORS preflights (OPTIONS) never carry credentials (Fetch standard), so they cannot ' +
            'pass the JWT authorizer; API Gateway answers them from the CORS configuration, ' +
            'which allows only the bidder page\'s CloudFront origin. Every other method of ' +
            '/{proxy+} has the Cognito JWT authorizer.',
        },
      ]);
    }
    for (const route of publicRoutes) {
      NagSuppressions.addResourceSuppressions(route, [
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'Public on purpose: /health answers a load balancer or a monitor, /openapi.json ' +
            'is the API description; both read nothing. Every other route has the Cognito JWT ' +
            'authorizer (the router answers 401 without its claims as well).',
        },
      ]);
    }
    // Stripe's webhook carries no Cognito token: Stripe authenticates each delivery by signing
    // its body (Stripe-Signature, HMAC-SHA256 under the endpoint's secret), which api-lambda
    // verifies before anything else (docs: functions/api/src/webhooks.rs). More specific than
    // `ANY /{proxy+}`, so the JWT authorizer does not answer it 401 first.
    const webhookRoutes = httpApi.addRoutes({ path: '/webhooks/stripe', methods: [apigwv2.HttpMethod.POST], integration });
    // An email's unsubscribe link works without signing in (and a mail client's one-click
    // unsubscribe, RFC 8058, sends no token): the link's own signed, expiring token is its
    // authority, checked by api-lambda with the KMS key.
    const unsubscribeRoutes = httpApi.addRoutes({ path: '/unsubscribe', methods: [apigwv2.HttpMethod.POST], integration });
    for (const route of unsubscribeRoutes) {
      NagSuppressions.addResourceSuppressions(route, [
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'An unsubscribe link must work from the email, without signing in (RFC 8058 one-click ' +
            'included). Its token is an HMAC (KMS, GENERATE_VERIFY_MAC) over the user\'s ' +
            'pseudonym, the topic and a 30-day expiry, checked by api-lambda; it can only turn ' +
            'emails off.',
        },
      ]);
    }
    // The links in email notices: the page (CloudFront) and the one-click unsubscribe (API).
    for (const fn of [notifier.fn, scheduler.fn]) {
      setEnvironment(fn, {
        WEB_URL: `${siteOrigin}/`,
        API_URL: httpApi.apiEndpoint,
      });
    }
    for (const route of webhookRoutes) {
      NagSuppressions.addResourceSuppressions(route, [
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'Stripe cannot present a Cognito JWT. Each delivery is authenticated by Stripe\'s ' +
            'signature of its raw body under the endpoint\'s signing secret (Secrets Manager), ' +
            'checked by api-lambda with a 5-minute timestamp tolerance; replays of a signed ' +
            'request are refused (StripeWebhookDeliveries).',
        },
      ]);
    }
    const accessLogs = logGroup('ApiAccess');
    const stage = httpApi.defaultStage?.node.defaultChild as apigwv2.CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        requestTime: '$context.requestTime',
        httpMethod: '$context.httpMethod',
        routeKey: '$context.routeKey',
        status: '$context.status',
        protocol: '$context.protocol',
        responseLength: '$context.responseLength',
        integrationError: '$context.integrationErrorMessage',
        authorizerError: '$context.authorizer.error',
        sub: '$context.authorizer.claims.sub',
      }),
    };
    // The platform's ceiling on spend, shared by every caller. Each user's share of writes is
    // api-lambda's (WRITES_PER_USER_PER_SECOND, WRITES_PER_USER_BURST; docs/cost-model.md,
    // "Fairness"): an HTTP API cannot throttle per caller, nor take a WAF web ACL.
    stage.defaultRouteSettings = { throttlingBurstLimit: 200, throttlingRateLimit: 100 };
    // No X-Ray here: API Gateway traces REST APIs only; an HTTP API's stage (and a WebSocket
    // API's) has no tracing setting. A request's trace starts at the function.

    // lambda_http answers a DynamoDB outage with 503 responses from invocations that succeed,
    // which the function's Errors metric never counts: only the API's own 5xx count sees them.
    // API-wide metrics (dimension ApiId), every route of the $default stage.
    const apiServerErrors = alarm('ApiServerErrorRate',
      new cloudwatch.MathExpression({
        expression: `IF(requests >= ${HTTP_5XX_ALARM.minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
        usingMetrics: {
          errors: httpApi.metricServerError({ statistic: 'Sum' }),
          requests: httpApi.metricCount({ statistic: 'Sum' }),
        },
        period: HTTP_5XX_ALARM.period,
        label: 'HTTP API 5xx, % of requests',
      }),
      HTTP_5XX_ALARM.percent,
      `HTTP API: more than ${HTTP_5XX_ALARM.percent} % of the requests of the last 5 minutes (at least ` +
        `${HTTP_5XX_ALARM.minRequests}) were answered 5xx; a 503 is usually DynamoDB (api-lambda's log says which)`);
    const apiLatency = alarm('ApiLatencyP95',
      httpApi.metricLatency({ statistic: 'p95', period: HTTP_LATENCY_ALARM.period, label: 'HTTP API latency p95' }),
      HTTP_LATENCY_ALARM.p95Millis,
      `HTTP API: p95 latency above ${HTTP_LATENCY_ALARM.p95Millis} ms for ` +
        `${HTTP_LATENCY_ALARM.periods * HTTP_LATENCY_ALARM.period.toMinutes()} minutes`,
      HTTP_LATENCY_ALARM.periods,
      { evaluateLowSampleCountPercentile: 'ignore' });

    // ---------------------------------------------------------------------------------------
    // Live updates (functions/live, docs/live.md): a WebSocket API whose routes $connect,
    // $disconnect and $default all go to live-ws-lambda (route selection on the body's
    // `action`, but no route per action: the protocol parses every message), and the
    // broadcaster on the live queue (filled by the publisher) pushing each update through the
    // stage's management API.

    // $connect verifies the Cognito token of the query string `token` itself (browsers cannot
    // set headers on a WebSocket); Query, GetItem and PutItem for a subscribe (counted against
    // the cap), DeleteItem for an unsubscribe, Query and BatchWriteItem (deletes) for a
    // disconnect. It never reads the byTopic index.
    const liveWs = makeFunction('LiveWs', 'live-ws-lambda', 'WebSocket $connect, $default and $disconnect of live updates');
    grantTables(liveWs.role, 'LiveWs', [
      { table: liveConnectionsTable, actions: ['BatchWriteItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query'] },
    ]);
    setEnvironment(liveWs.fn, {
      LIVE_CONNECTIONS_TABLE: liveConnectionsTable.tableName,
      COGNITO_USER_POOL_ID: userPool.userPoolId,
      COGNITO_CLIENT_ID: client.userPoolClientId,
    });

    const liveIntegration = new WebSocketLambdaIntegration('LiveIntegration', liveWs.fn);
    const webSocketApi = new apigwv2.WebSocketApi(this, 'LiveApi', {
      description: 'Live auction updates (WebSocket)',
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: { integration: liveIntegration },
      disconnectRouteOptions: { integration: liveIntegration },
      // The function's answer is the route response: API Gateway sends its body back.
      defaultRouteOptions: { integration: liveIntegration, returnResponse: true },
    });
    const liveStage = new apigwv2.WebSocketStage(this, 'LiveStage', {
      webSocketApi,
      stageName: LIVE_STAGE,
      autoDeploy: true,
      throttle: { rateLimit: 100, burstLimit: 200 },
    });
    const liveAccessLogs = logGroup('LiveApiAccess');
    // No $context.requestQuery (or anything else carrying the query string): the token stays
    // out of the logs.
    (liveStage.node.defaultChild as apigwv2.CfnStage).accessLogSettings = {
      destinationArn: liveAccessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        requestTime: '$context.requestTime',
        eventType: '$context.eventType',
        routeKey: '$context.routeKey',
        status: '$context.status',
        connectionId: '$context.connectionId',
        integrationError: '$context.integrationErrorMessage',
        error: '$context.error.message',
      }),
    };
    NagSuppressions.addResourceSuppressions(
      webSocketApi,
      [
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'A WebSocket API authorizes only $connect: live-ws-lambda verifies the caller\'s ' +
            'Cognito token (query string `token`: RS256 against the pool\'s JWKS, issuer, ' +
            'client, token_use, expiry) and answers 401, which refuses the connection. ' +
            '$default and $disconnect run only on a connection that passed $connect.',
        },
      ],
      true,
    );

    // The broadcaster: the live queue's messages (the publisher's, of the events watchers see);
    // watchers from the byTopic index (Query); a connection that answers 410 Gone is forgotten
    // (Query of its items, BatchWriteItem of deletes); the auction at the event's version
    // through the event store (snapshot GetItem, log Query); pushes through
    // POST @connections/{id} of this stage only.
    const broadcaster = makeFunction('LiveBroadcaster', 'live-broadcaster-lambda', 'Pushes live updates from the live queue');
    grantTables(broadcaster.role, 'LiveBroadcaster', [
      storeRead,
      { table: snapshotsTable, actions: ['GetItem'] },
      {
        table: liveConnectionsTable,
        actions: ['BatchWriteItem', 'Query'],
        indexes: { names: ['byTopic'], actions: ['Query'] },
      },
      // An update's pseudonyms revealed (docs/privacy.md): a key's item read (GetItem) and its
      // data key unwrapped (Decrypt, below). It never makes nor forgets a key.
      { table: subjectKeysTable, actions: ['GetItem'] },
    ]);
    broadcaster.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'BroadcasterSubjectKeys',
        actions: ['kms:Decrypt'],
        resources: [subjectKey.keyArn],
      }),
    );
    broadcaster.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PushToConnections',
        actions: ['execute-api:ManageConnections'],
        resources: [
          this.formatArn({
            service: 'execute-api',
            resource: webSocketApi.apiId,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            resourceName: `${LIVE_STAGE}/POST/@connections/*`,
          }),
        ],
      }),
    );
    setEnvironment(broadcaster.fn, {
      ...storeEnvironment,
      LIVE_CONNECTIONS_TABLE: liveConnectionsTable.tableName,
      LIVE_ENDPOINT_URL: liveStage.callbackUrl,
      SUBJECT_KEYS_TABLE: subjectKeysTable.tableName,
      SUBJECT_KEY_ID: subjectKey.keyArn,
    });
    // Its queue, as the other consumers' (a FIFO DLQ after 3 receives, drained by the parker),
    // in high-throughput mode: a message per bid, ordered per auction only. Not the Events
    // stream: that would be a third reader per shard.
    const live = fifoWithDlq('LiveQueue', broadcaster.fn, { highThroughput: true });
    publisherSends.addResources(live.queue.queueArn);
    setEnvironment(publisher.fn, { LIVE_QUEUE_URL: live.queue.queueUrl });
    NagSuppressions.addResourceSuppressions(
      broadcaster.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Connection ids are API Gateway\'s, known only at run time: the grant is ' +
            'execute-api:ManageConnections on POST @connections/* of the live stage of this ' +
            'WebSocket API only (no DELETE, no other stage or API).',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:execute-api:[^:]+:[^:]+:<LiveApi[A-Za-z0-9]*>\\/live\\/POST\\/@connections\\/\\*$/' }],
        },
      ],
      true,
    );

    // The parker's environment, now that every consumer exists: its table, and which consumer
    // each generated name belongs to (an on-failure record names the function that gave up, a
    // dead letter the DLQ it is in; adapters/parking/src/parker.rs `Origins`).
    const parkedOrigins: [string, string][] = [
      [projector.fn.functionName, 'projector'],
      [publisher.fn.functionName, 'publisher'],
      [notifications.dlq.queueName, 'notifier'],
      [payments.dlq.queueName, 'payment-saga'],
      [live.dlq.queueName, 'broadcaster'],
    ];
    setEnvironment(parker.fn, {
      PARKED_TABLE: parkedTable.tableName,
      PARKED_CONSUMERS: parkedOrigins.map(([name, consumer]) => `${name}=${consumer}`).join(','),
    });
    // The parked-items alarm, one per consumer: anything parked in 5 minutes (Sum > 0, that
    // is >= 1 item, of infra/metrics.json's `RecordsParked`, which the parker writes as
    // embedded-metric lines in its log, dimension Consumer). One alarm per dimension value,
    // because an alarm cannot watch a SEARCH expression; the alarm names the consumer to replay
    // (`auction-admin parked list --consumer <name>`).
    const contract = metricsContract();
    for (const [, consumer] of parkedOrigins) {
      const id = consumer.replace(/(^|-)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
      alarm(`Parked${id}`,
        contractMetric(contract, 'RecordsParked', { Consumer: consumer }, { statistic: 'Sum', period: Duration.minutes(5) }),
        0,
        `${consumer}: the consumer gave up on records or messages in the last 5 minutes; they are ` +
          `parked (auction-admin parked list --consumer ${consumer}; replay or discard them)`);
    }

    // Reconciler (functions/reconciler, docs/reconciler.md): on a schedule (every 5 minutes, or
    // -c reconcilerEveryMinutes=N), finds what the log says should exist but does not (a sale
    // without a saga, a view behind the log, a stalled saga, notices missing for an end) and
    // redelivers the events from the log to the consumer that missed them: the projector's
    // handler in-process (so it writes the views exactly as the projector does), the notifier
    // and the payment saga through their queues (and a parked item of the broadcaster's through
    // the live queue). It reads the log through the byTypeShard index, the sagas and the inbox
    // by key. Each run first replays the parked items older than
    // RECONCILE_PARKED_GRACE_SECONDS (parking's replay: Scan of Parked, GetItem of the item, then
    // DeleteItem when its consumer took the events or PutItem of one more failed replay); it
    // writes nothing else. Its Errors alarm (from makeFunction) goes off when a run could not read
    // the index, or a check, a repair or a replay failed for another reason than the consumer
    // failing the replay (the item then stays parked, and the parked-items alarm already called).
    const reconcileEveryContext: unknown = this.node.tryGetContext('reconcilerEveryMinutes');
    const reconcileEveryMinutes = reconcileEveryContext === undefined ? 5 : Number(reconcileEveryContext);
    if (!Number.isInteger(reconcileEveryMinutes) || reconcileEveryMinutes < 5) {
      throw new Error(`reconcilerEveryMinutes must be a whole number of minutes >= 5 (a run may take ${TIMEOUTS['reconciler-lambda'].toMinutes()}), not ${JSON.stringify(reconcileEveryContext)}`);
    }
    const reconcileEvery = Duration.minutes(reconcileEveryMinutes);
    const reconciler = makeFunction('Reconciler', 'reconciler-lambda', 'Repairs what the log says should exist but does not');
    grantTables(reconciler.role, 'Reconciler', [
      { table: eventsTable, actions: ['Query'], indexes: { names: ['byTypeShard'], actions: ['Query'] } },
      { table: snapshotsTable, actions: ['GetItem'] },
      { table: paymentSagasTable, actions: ['GetItem'] },
      { table: notificationsTable, actions: ['BatchGetItem'] },
      // The projector's writes, through the projector's own handler.
      { table: auctionViewsTable, actions: ['GetItem', 'PutItem'], rebuilt: true },
      { table: userBidsTable, actions: ['PutItem'], rebuilt: true },
      { table: readModelAliasesTable, actions: ['GetItem'] },
      { table: streamHeadsTable, actions: ['UpdateItem'] },
      // Replaying parked items: list them all (one Scan per run; the table is empty on a
      // healthy platform), re-read one, remove it or count a failed replay on it.
      { table: parkedTable, actions: ['Scan', 'GetItem', 'PutItem', 'DeleteItem'] },
    ]);
    reconciler.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RedeliverToQueues',
        actions: ['sqs:SendMessage'],
        resources: [notifications.queue.queueArn, payments.queue.queueArn, live.queue.queueArn],
      }),
    );
    setEnvironment(reconciler.fn, {
      ...storeEnvironment,
      AUCTION_VIEWS_TABLE: auctionViewsTable.tableName,
      USER_BIDS_TABLE: userBidsTable.tableName,
      READ_MODEL_ALIASES_TABLE: readModelAliasesTable.tableName,
      PAYMENT_SAGAS_TABLE: paymentSagasTable.tableName,
      NOTIFICATIONS_TABLE: notificationsTable.tableName,
      NOTIFICATIONS_QUEUE_URL: notifications.queue.queueUrl,
      PAYMENTS_QUEUE_URL: payments.queue.queueUrl,
      // parking::Consumers::from_env resolves every queue: a replay to the broadcaster sends
      // to the live queue.
      LIVE_QUEUE_URL: live.queue.queueUrl,
      PARKED_TABLE: parkedTable.tableName,
      STREAM_HEADS_TABLE: streamHeadsTable.tableName,
    });
    // A failed run is the next period's work (the divergence is still there): no retry.
    reconciler.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });
    new events.Rule(this, 'ReconcilerSchedule', {
      description: `Invokes the reconciler every ${reconcileEveryMinutes} minutes; each invocation is one run`,
      schedule: events.Schedule.rate(reconcileEvery),
      targets: [new targets.LambdaFunction(reconciler.fn, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
    });

    // The admin API's replays of parked items send to the queue consumers' queues, as the
    // reconciler's do (URLs given: no GetQueueUrl).
    api.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReplayToQueues',
        actions: ['sqs:SendMessage'],
        resources: [notifications.queue.queueArn, payments.queue.queueArn, live.queue.queueArn],
      }),
    );
    setEnvironment(api.fn, {
      NOTIFICATIONS_QUEUE_URL: notifications.queue.queueUrl,
      PAYMENTS_QUEUE_URL: payments.queue.queueUrl,
      LIVE_QUEUE_URL: live.queue.queueUrl,
    });

    // ---------------------------------------------------------------------------------------
    // The log's digests (adapters/notary; docs/audit.md, "Digests: a log anyone can verify"):
    // every digestEveryMinutes the digester reads every stream's head, builds a Merkle tree
    // over them, signs its root with an asymmetric KMS key and writes the tree's leaves and the
    // signed digest into a bucket under Object Lock, each object with `If-None-Match: *`. A
    // verifier trusts only the key's public half; the lock is what keeps a digest, once
    // written, from being taken back by anyone in the account.

    const digestRetentionDays = wholeNumberContext('digestRetentionDays', this.node.tryGetContext('digestRetentionDays'), {
      fallback: DEFAULT_DIGEST_RETENTION_DAYS, min: 1, max: MAX_OBJECT_LOCK_DAYS, unit: 'days',
    });
    const digestEveryMinutes = wholeNumberContext('digestEveryMinutes', this.node.tryGetContext('digestEveryMinutes'), {
      fallback: DEFAULT_DIGEST_EVERY_MINUTES, min: 1, unit: 'minutes',
    });

    // Compliance mode, not governance: no principal (the account's root included) can delete a
    // locked version or shorten its lock before it ends, where governance gives way to
    // s3:BypassGovernanceRetention. Every object gets the bucket's default retention, so the
    // writers need no s3:PutObjectRetention. Object Lock requires versioning (a plain DELETE
    // only adds a delete marker), and once on it cannot be turned off. The name is left to
    // CloudFormation (bucket names are global; two stages fit in one account): DIGEST_BUCKET
    // carries it. Retained with the stack and never emptied by it (no autoDeleteObjects: its
    // handler could not delete a locked version anyway); access logs beside the site's, a
    // record of who read or wrote the digests.
    const digestBucket = new s3.Bucket(this, 'DigestBucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(digestRetentionDays)),
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: siteLogs,
      serverAccessLogsPrefix: 'digest-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
    });

    // The signing key: RSA_2048 for SIGN_VERIFY (the digester signs RSASSA_PKCS1_V1_5_SHA_256);
    // the private half never leaves KMS, the public half (GetPublicKey) is what a verifier
    // trusts. No rotation: KMS rotates symmetric keys only, and a new key would be a new public
    // key to publish. Retained, with the longest pending window should it ever be scheduled for
    // deletion: each digest names this key's ARN. The function is given the ARN, not the alias,
    // so that repointing the alias changes nothing that signs.
    const digestKey = new kms.Key(this, 'DigestSigningKey', {
      description:
        "Signs the event log's digests (docs/audit.md): RSASSA-PKCS1-v1_5 with SHA-256 over each " +
        "digest's canonical JSON, written by digester-lambda to the digest bucket",
      keySpec: kms.KeySpec.RSA_2048,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      alias: DIGEST_KEY_ALIAS,
      enableKeyRotation: false,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Without s3:ListBucket on the bucket, S3 answers a GET of a key that does not exist 403
    // (AccessDenied) instead of 404 (NoSuchKey). Finding the last digest reads forward from
    // StreamHeads' hint until a sequence is missing (adapters/notary, `publish::latest`), and
    // only NoSuchKey ends that walk: without it every digester run and every proof against the
    // latest digest would fail. It lists the names of objects the role may read anyway.
    const listDigests = (sid: string) =>
      new iam.PolicyStatement({ sid, actions: ['s3:ListBucket'], resources: [digestBucket.bucketArn] });

    // The digester: every head (a parallel Scan), the last digest's sequence (GetItem) and its
    // update once a digest is written (UpdateItem, conditional on it growing); the leaves and
    // the digest written (PutObject with If-None-Match: *, so that no key is written twice)
    // and the last digest read (GetObject); the signature (Sign; DescribeKey resolves the key
    // once per execution environment, GetPublicKey gives its public half). No s3:DeleteObject*,
    // s3:PutObjectRetention or s3:BypassGovernanceRetention: the locks are the bucket's default.
    const digester = makeFunction('Digester', 'digester-lambda', "Signs a digest of the event log's stream heads into the digest bucket");
    grantTables(digester.role, 'Digester', [{ table: streamHeadsTable, actions: ['Scan', 'GetItem', 'UpdateItem'] }]);
    digester.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteDigests',
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [digestBucket.arnForObjects('*')],
      }),
    );
    digester.role.addToPolicy(listDigests('FindLastDigest'));
    digester.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'SignDigests',
        actions: ['kms:Sign', 'kms:DescribeKey', 'kms:GetPublicKey'],
        resources: [digestKey.keyArn],
      }),
    );
    setEnvironment(digester.fn, {
      STREAM_HEADS_TABLE: streamHeadsTable.tableName,
      DIGEST_BUCKET: digestBucket.bucketName,
      DIGEST_KEY_ID: digestKey.keyArn,
    });
    // One run at a time: two would read the same heads and race for the same sequence, where
    // the loser's KMS signature and leaves are wasted (`If-None-Match` keeps the archive right
    // either way). A run overlaps the next only when it outlasts the period.
    (digester.fn.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = 1;
    // A failed run is the next period's work (it digests the heads as they are then): no
    // retry. Its Errors alarm (from makeFunction) calls a person when digests stop.
    digester.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });
    new events.Rule(this, 'DigesterSchedule', {
      description: `Invokes the digester every ${digestEveryMinutes} minutes; each invocation writes one signed digest of the log`,
      schedule: events.Schedule.rate(Duration.minutes(digestEveryMinutes)),
      targets: [new targets.LambdaFunction(digester.fn, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
    });

    // The admin API's proofs (GET /admin/proofs/...): a digest and its leaves, read only.
    api.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadDigests',
        actions: ['s3:GetObject'],
        resources: [digestBucket.arnForObjects('*')],
      }),
    );
    api.role.addToPolicy(listDigests('FindLastDigest'));
    setEnvironment(api.fn, { DIGEST_BUCKET: digestBucket.bucketName });

    // The objects' keys are the digester's (digests/<sequence>.json, trees/<root>-<size>.jsonl),
    // known only at run time.
    for (const role of [digester.role, api.role]) {
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'Digest objects are named at run time (digests/<sequence>.json, ' +
              'trees/<root>-<size>.jsonl): the grant is s3:GetObject (and for the digester ' +
              's3:PutObject) on the objects of the digest bucket only; no delete and no ' +
              'retention action on it anywhere (test/stack.test.ts).',
            appliesTo: [{ regex: '/^Resource::<DigestBucket[A-Za-z0-9]*\\.Arn>\\/\\*$/' }],
          },
        ],
        true,
      );
    }

    // The deployment's own role and log group (no managed policy, 30-day logs): CDK grants it
    // read of the asset bucket, write of the site bucket and the invalidation.
    const siteDeploymentLogs = logGroup('SiteDeployment');
    const siteDeploymentRole = new iam.Role(this, 'SiteDeploymentRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Execution role of the bidder page deployment (CDK BucketDeployment)',
    });
    siteDeploymentRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [siteDeploymentLogs.logGroupArn],
      }),
    );
    // The page (web/ without its tests and without any local config.json) and its config.json,
    // whose values (deploy-time tokens) the deployment fills in: where the HTTP API and the
    // WebSocket API are, and the hosted UI's sign-in (web/auth.js's parseConfig reads it).
    const siteConfig: SiteConfig = {
      apiUrl: httpApi.apiEndpoint,
      liveUrl: liveStage.url,
      signIn: {
        kind: 'cognito',
        domain: domain.baseUrl(),
        clientId: client.userPoolClientId,
        redirectUri: siteUrl,
        logoutUri: siteUrl,
      },
    };
    new s3deploy.BucketDeployment(this, 'SiteDeployment', {
      sources: [
        s3deploy.Source.asset(props.siteAssets, { exclude: SITE_EXCLUDES }),
        s3deploy.Source.jsonData(SITE_CONFIG, siteConfig),
      ],
      destinationBucket: siteBucket,
      distribution,
      distributionPaths: ['/*'],
      role: siteDeploymentRole,
      logGroup: siteDeploymentLogs,
    });
    NagSuppressions.addResourceSuppressions(
      siteDeploymentRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The grants CDK\'s BucketDeployment makes: object actions (s3:GetObject*, ' +
            's3:List*, s3:DeleteObject*, s3:Abort*, s3:PutObject*) on the CDK asset bucket ' +
            'and on the site bucket only, and cloudfront:CreateInvalidation; it syncs whole ' +
            'prefixes, so objects are named by wildcard.',
        },
      ],
      true,
    );
    // CDK's deployment-time handlers (singleton Lambdas in CDK's own runtimes).
    NagSuppressions.addStackSuppressions(this, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'The only non-Rust functions are CDK\'s deployment-time handlers (the BucketDeployment ' +
          'and the S3 notification handler in Python, the AwsCustomResource that sets the photos ' +
          'bucket\'s CORS rule in Node.js), whose runtimes CDK pins per release; they run only ' +
          'during a deployment. Every platform function runs provided.al2023.',
      },
    ]);

    this.functions = {
      'api-lambda': api.fn,
      'digester-lambda': digester.fn,
      'live-broadcaster-lambda': broadcaster.fn,
      'live-ws-lambda': liveWs.fn,
      'notifier-lambda': notifier.fn,
      'parker-lambda': parker.fn,
      'payment-saga-lambda': saga.fn,
      'projector-lambda': projector.fn,
      'publisher-lambda': publisher.fn,
      'reconciler-lambda': reconciler.fn,
      'scheduler-lambda': scheduler.fn,
      'thumbnailer-lambda': thumbnailer.fn,
    };

    // The views a rebuild creates at run time have names CloudFormation does not know.
    for (const role of [api.role, projector.role, scheduler.role, reconciler.role]) {
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              '`auction-admin rebuild` creates fresh view tables at run time named ' +
              '<live table>-r<start time> and switches the views alias to them; the grant ' +
              'covers exactly that name prefix of the two view tables (and their byStatus, ' +
              'byStart and bySeller indexes), with the same actions as on the live tables.',
            appliesTo: [{ regex: '/^Resource::<(AuctionListView|UserBids)[A-Za-z0-9]*\\.Arn>-r\\*(\\/index\\/(byStatus|byStart|bySeller))?$/' }],
          },
        ],
        true,
      );
    }

    // The stream read grant (from the DynamoDB event source) includes dynamodb:ListStreams,
    // which has no resource-level permissions.
    for (const role of [projector.role, publisher.role]) {
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'dynamodb:ListStreams does not support resource-level permissions (the service ' +
              'authorization reference lists no resource type for it); the event source ' +
              'mapping needs it. Every other stream action is on the Events stream ARN only.',
            appliesTo: ['Resource::*'],
          },
        ],
        true,
      );
    }

    // ---------------------------------------------------------------------------------------
    // The dashboard: the binaries' own metrics (infra/metrics.json, embedded-metric lines in
    // their logs) beside the AWS metrics that see the platform from outside (the HTTP API's
    // alarms, the dead-letter queues). Every custom metric goes through the file, so a name the
    // code does not write fails the synth instead of drawing an empty line.
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const own = (name: string, dimensions: Record<string, string>, statistic: string, period: Duration, label?: string) =>
      contractMetric(contract, name, dimensions, { statistic, period, label });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Bids per second (PlaceBid accepted)',
        width: 8,
        left: [
          new cloudwatch.MathExpression({
            // Per second of the period, whatever period the console picks for the time range.
            expression: 'accepted / PERIOD(accepted)',
            usingMetrics: { accepted: own('CommandsAccepted', { Command: 'PlaceBid' }, 'Sum', minute) },
            period: minute,
            label: 'bids/s',
          }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Rejections by command and code',
        width: 8,
        // The codes are the domain's (BID_TOO_LOW, AUCTION_CLOSED, ...): a search finds each.
        left: [contractSearch(contract, 'CommandRejections', {}, 'Sum', minute, "${PROP('Dim.Command')} ${PROP('Dim.Code')}")],
      }),
      new cloudwatch.GraphWidget({
        title: 'PlaceBid latency p95 (ms)',
        width: 8,
        left: [own('CommandLatency', { Command: 'PlaceBid' }, 'p95', minute, 'PlaceBid p95')],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.AlarmWidget({ title: 'HTTP API 5xx (% of requests)', width: 8, alarm: apiServerErrors }),
      new cloudwatch.AlarmWidget({ title: 'HTTP API latency p95 (ms)', width: 8, alarm: apiLatency }),
      new cloudwatch.GraphWidget({
        title: 'DynamoDB capacity units per command (average)',
        width: 8,
        // A data point per command: the average is the units one command of that name costs.
        left: [
          contractSearch(contract, 'CommandReadUnits', {}, 'Average', fiveMinutes, "read ${PROP('Dim.Command')}"),
          contractSearch(contract, 'CommandWriteUnits', {}, 'Average', fiveMinutes, "write ${PROP('Dim.Command')}"),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Consumer lag from commit (ms, maximum)',
        width: 12,
        left: METRIC_CONSUMERS.map((consumer) => own('ConsumerLag', { Consumer: consumer }, 'Maximum', minute, consumer)),
      }),
      new cloudwatch.GraphWidget({
        title: 'Parked records',
        width: 12,
        // A search, not one line per known consumer: a record is counted under the consumer
        // name of its parked item, which need not be one the stack knows.
        left: [contractSearch(contract, 'RecordsParked', {}, 'Sum', fiveMinutes, "${PROP('Dim.Consumer')}")],
      }),
    );
    const deadLetters: [string, sqs.Queue][] = [
      ['NotificationsQueueDlq', notifications.dlq],
      ['PaymentsQueueDlq', payments.dlq],
      ['LiveQueueDlq', live.dlq],
      ['StreamFailures', streamFailures],
      ['PhotoUploadsDlq', photoUploadsDlq],
    ];
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dead letters waiting (visible messages)',
        width: 8,
        left: deadLetters.map(([label, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: minute, label })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Payment saga outcomes',
        width: 8,
        stacked: true,
        left: SAGA_OUTCOMES.map((outcome) => own('SagaOutcomes', { Outcome: outcome }, 'Sum', fiveMinutes, outcome)),
      }),
      new cloudwatch.GraphWidget({
        title: 'Cold starts',
        width: 8,
        stacked: true,
        left: BINARIES.map((binary) => own('ColdStarts', { Function: binary }, 'Sum', fiveMinutes, binary)),
      }),
    );

    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'ApiUrl', { value: httpApi.apiEndpoint });
    new CfnOutput(this, 'LiveUrl', { value: liveStage.url });
    new CfnOutput(this, 'LiveEndpointUrl', { value: liveStage.callbackUrl });
    new CfnOutput(this, 'SiteUrl', { value: `https://${distribution.distributionDomainName}` });
    new CfnOutput(this, 'SiteBucketName', { value: siteBucket.bucketName });
    new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: client.userPoolClientId });
    new CfnOutput(this, 'HostedUiUrl', { value: domain.baseUrl() });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn });
    // The CNAME records that verify the notices' sender domain (Easy DKIM): publish them.
    emailIdentity.dkimRecords.forEach((record, n) => {
      new CfnOutput(this, `EmailDkimRecord${n + 1}`, { value: `${record.name} CNAME ${record.value}` });
    });
    // What auction-admin's digest and prove commands need (DIGEST_BUCKET, DIGEST_KEY_ID).
    new CfnOutput(this, 'DigestBucketName', { value: digestBucket.bucketName });
    new CfnOutput(this, 'DigestKeyArn', { value: digestKey.keyArn });
    new CfnOutput(this, 'PhotosBucketName', { value: photosBucket.bucketName });
    const names: Record<string, string> = {
      EventsTable: eventsTable.tableName,
      SnapshotsTable: snapshotsTable.tableName,
      IdempotencyTable: idempotencyTable.tableName,
      AuctionViewsTable: auctionViewsTable.tableName,
      UserBidsTable: userBidsTable.tableName,
      ReadModelAliasesTable: readModelAliasesTable.tableName,
      NotificationsTable: notificationsTable.tableName,
      PaymentSagasTable: paymentSagasTable.tableName,
      LiveConnectionsTable: liveConnectionsTable.tableName,
      ParkedTable: parkedTable.tableName,
      PaymentIdentitiesTable: paymentIdentitiesTable.tableName,
      WatchlistTable: watchlistTable.tableName,
      EmailNoticesTable: emailNoticesTable.tableName,
      StripeWebhookDeliveriesTable: stripeWebhookDeliveriesTable.tableName,
      StreamHeadsTable: streamHeadsTable.tableName,
      NotificationsQueueUrl: notifications.queue.queueUrl,
      NotificationsDlqUrl: notifications.dlq.queueUrl,
      PaymentsQueueUrl: payments.queue.queueUrl,
      PaymentsDlqUrl: payments.dlq.queueUrl,
      LiveQueueUrl: live.queue.queueUrl,
      LiveDlqUrl: live.dlq.queueUrl,
      StreamFailuresQueueUrl: streamFailures.queueUrl,
      PhotoUploadsQueueUrl: photoUploads.queueUrl,
      PhotoUploadsDlqUrl: photoUploadsDlq.queueUrl,
    };
    for (const [id, value] of Object.entries(names)) {
      new CfnOutput(this, id, { value });
    }
  }
}

function setEnvironment(fn: lambda.Function, variables: Record<string, string>): void {
  for (const [name, value] of Object.entries(variables)) {
    fn.addEnvironment(name, value);
  }
}
