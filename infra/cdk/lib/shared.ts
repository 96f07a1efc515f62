// The files the Rust code and this app share (see infra/environment.json's "about" and
// tools/local-stack/tests/infra.rs): every environment variable the code reads, the canonical form of
// the tables and queues of tools/local-stack/src/resources.rs, and the custom metrics the binaries
// write (infra/metrics.json), which the dashboard reads, and each function's memory and timeout
// (infra/functions.json), which the local runner of the real binaries reads too.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** infra/, whether running from lib/ (ts) or dist/lib/ (compiled). */
export const INFRA_DIR = findInfraDir(__dirname);

function findInfraDir(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'environment.json')) && fs.existsSync(path.join(dir, 'resources.json'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`infra/environment.json and infra/resources.json not found above ${start}`);
    }
    dir = parent;
  }
}

export type Scope = 'lambda' | 'local' | 'aws' | 'library';

export interface Variable {
  name: string;
  scope: Scope;
  functions: string[];
  required: boolean;
  default: string | null;
  meaning: string;
}

export interface EnvironmentList {
  lambdas: string[];
  variables: Variable[];
}

export interface KeyElement {
  attributeName: string;
  keyType: 'HASH' | 'RANGE';
}

export interface AttributeDefinition {
  attributeName: string;
  attributeType: 'S' | 'N' | 'B';
}

export interface TableResource {
  nameEnv: string;
  defaultName: string;
  localOnly: boolean;
  billingMode: 'PAY_PER_REQUEST';
  keySchema: KeyElement[];
  attributeDefinitions: AttributeDefinition[];
  globalSecondaryIndexes: { indexName: string; keySchema: KeyElement[]; projection: 'ALL' }[];
  stream: string | null;
  ttlAttribute: string | null;
}

export interface FifoQueueResource {
  nameEnv: string;
  defaultName: string;
  urlEnv: string;
  dlqName: string;
  dlqUrlEnv: string;
  fifo: true;
  contentBasedDeduplication: boolean;
  maxReceiveCount: number;
  visibilityTimeoutSecs: number;
  dlqRetentionSecs: number;
}

export interface StandardQueueResource {
  nameEnv: string;
  defaultName: string;
  urlEnv: string;
  fifo: false;
  retentionSecs: number;
}

export interface Resources {
  tables: TableResource[];
  fifoQueues: FifoQueueResource[];
  standardQueues: StandardQueueResource[];
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(INFRA_DIR, file), 'utf8')) as T;
}

/** One custom metric of infra/metrics.json. */
export interface MetricDefinition {
  name: string;
  /** CloudWatch's unit name (Count, Milliseconds, ...). */
  unit: string;
  /** Exactly the dimensions every data point carries, in this order. */
  dimensions: string[];
  what: string;
}

export interface MetricsContract {
  namespace: string;
  metrics: MetricDefinition[];
}

export function environmentList(): EnvironmentList {
  return readJson<EnvironmentList>('environment.json');
}

export function resources(): Resources {
  return readJson<Resources>('resources.json');
}

/** One binary's deployment in infra/functions.json. */
export interface FunctionDeployment {
  memoryMb: number;
  timeoutSeconds: number;
  why: string;
}

/** infra/functions.json: memory size and timeout per binary, shared with the local runner. */
export function functionDeployments(): Record<string, FunctionDeployment> {
  return readJson<{ functions: Record<string, FunctionDeployment> }>('functions.json').functions;
}

export function metricsContract(): MetricsContract {
  return readJson<MetricsContract>('metrics.json');
}

/** The resources.json entry of the table named by `nameEnv`. */
export function tableResource(nameEnv: string): TableResource {
  const table = resources().tables.find((t) => t.nameEnv === nameEnv);
  if (!table) {
    throw new Error(`infra/resources.json has no table ${nameEnv}`);
  }
  return table;
}

/** The resources.json entry of the FIFO queue named by `nameEnv`. */
export function fifoQueueResource(nameEnv: string): FifoQueueResource {
  const queue = resources().fifoQueues.find((q) => q.nameEnv === nameEnv);
  if (!queue) {
    throw new Error(`infra/resources.json has no FIFO queue ${nameEnv}`);
  }
  return queue;
}
