// The template against the two files shared with the Rust code: infra/resources.json (generated
// from tools/local-stack/src/resources.rs by tools/local-stack/tests/infra.rs) and infra/environment.json.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { environmentList, functionDeployments, resources, TableResource } from '../lib/shared';
import { BINARIES } from '../lib/platform-stack';
import { functionsByBinary, referenced, Resource, resourcesOfType } from './synth';

const sortBy = <T>(items: T[], key: (item: T) => string): T[] =>
  [...items].sort((a, b) => key(a).localeCompare(key(b)));

/** The table's key schema, attribute definitions, GSIs, stream, TTL and billing, as in resources.json. */
function canonicalTable(properties: Record<string, any>) {
  const keys = (schema: any[]) => schema.map((k) => ({ attributeName: k.AttributeName, keyType: k.KeyType }));
  return {
    billingMode: properties.BillingMode,
    keySchema: keys(properties.KeySchema),
    attributeDefinitions: sortBy(
      properties.AttributeDefinitions.map((a: any) => ({ attributeName: a.AttributeName, attributeType: a.AttributeType })),
      (a: any) => a.attributeName,
    ),
    globalSecondaryIndexes: sortBy(
      (properties.GlobalSecondaryIndexes ?? []).map((g: any) => ({
        indexName: g.IndexName,
        keySchema: keys(g.KeySchema),
        projection: g.Projection.ProjectionType,
      })),
      (g: any) => g.indexName,
    ),
    stream: properties.StreamSpecification?.StreamViewType ?? null,
    ttlAttribute: properties.TimeToLiveSpecification?.Enabled ? properties.TimeToLiveSpecification.AttributeName : null,
  };
}

function expectedTable(table: TableResource) {
  return {
    billingMode: table.billingMode,
    keySchema: table.keySchema,
    attributeDefinitions: table.attributeDefinitions,
    globalSecondaryIndexes: table.globalSecondaryIndexes,
    stream: table.stream,
    ttlAttribute: table.ttlAttribute,
  };
}

/** variable name -> logical id of what it names, over every function's environment. */
function environmentReferences(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const { resource } of functionsByBinary().values()) {
    const variables: Record<string, any> = resource.Properties.Environment?.Variables ?? {};
    for (const [name, value] of Object.entries(variables)) {
      const id = referenced(value);
      if (id) {
        if (!out.has(name)) out.set(name, new Set());
        out.get(name)!.add(id);
      }
    }
  }
  return out;
}

function onlyOne(references: Map<string, Set<string>>, variable: string): string {
  const ids = [...(references.get(variable) ?? [])];
  assert.equal(ids.length, 1, `${variable} should name exactly one resource in every function, found ${JSON.stringify(ids)}`);
  return ids[0];
}

describe('tables against infra/resources.json', () => {
  const tables = resourcesOfType('AWS::DynamoDB::Table');
  const references = environmentReferences();
  const deployed = resources().tables.filter((t) => !t.localOnly);

  it('deploys exactly the tables the code uses, and no local-only one', () => {
    assert.equal(Object.keys(tables).length, deployed.length,
      `template tables: ${Object.keys(tables).join(', ')}; resources.json: ${deployed.map((t) => t.nameEnv).join(', ')}`);
  });

  for (const table of deployed) {
    it(`${table.nameEnv}: the table the functions are told has the key schema, attributes and GSIs of tools/local-stack/src/resources.rs`, () => {
      const id = onlyOne(references, table.nameEnv);
      const resource: Resource | undefined = tables[id];
      assert.ok(resource, `${table.nameEnv} names ${id}, which is not a DynamoDB table`);
      assert.deepEqual(canonicalTable(resource.Properties), expectedTable(table),
        `${table.nameEnv} (${id}) differs from infra/resources.json; after a change to tools/local-stack/src/resources.rs, ` +
          'regenerate it (UPDATE_INFRA=1 cargo test -p local-stack --test infra) and change lib/platform-stack.ts to match');
    });
  }

  it('no two tables are the same table', () => {
    const ids = deployed.map((t) => onlyOne(references, t.nameEnv));
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('queues against infra/resources.json', () => {
  const queues = resourcesOfType('AWS::SQS::Queue');
  const references = environmentReferences();
  const mappings = Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'));
  const functions = resourcesOfType('AWS::Lambda::Function');

  for (const spec of resources().fifoQueues) {
    it(`${spec.nameEnv}: FIFO, no content-based de-duplication, a FIFO DLQ after ${spec.maxReceiveCount} receives`, () => {
      const id = onlyOne(references, spec.urlEnv);
      const queue = queues[id];
      assert.ok(queue, `${spec.urlEnv} names ${id}, which is not a queue`);
      assert.equal(queue.Properties.FifoQueue, true);
      assert.equal(queue.Properties.ContentBasedDeduplication ?? false, spec.contentBasedDeduplication);
      const redrive = queue.Properties.RedrivePolicy;
      assert.equal(redrive.maxReceiveCount, spec.maxReceiveCount);
      const dlq = queues[referenced(redrive.deadLetterTargetArn)!];
      assert.equal(dlq.Properties.FifoQueue, true);
      assert.equal(dlq.Properties.ContentBasedDeduplication ?? false, spec.contentBasedDeduplication);
      assert.equal(dlq.Properties.MessageRetentionPeriod, spec.dlqRetentionSecs);
    });

    it(`${spec.nameEnv}: the visibility timeout is six times its consumer's timeout, and at least the local stack's`, () => {
      const id = onlyOne(references, spec.urlEnv);
      const consumers = mappings.filter((m) => referenced(m.Properties.EventSourceArn) === id);
      assert.equal(consumers.length, 1, `${spec.nameEnv} should have one consumer`);
      const consumer = functions[referenced(consumers[0].Properties.FunctionName)!];
      const visibility = queues[id].Properties.VisibilityTimeout;
      assert.equal(visibility, 6 * consumer.Properties.Timeout);
      assert.ok(visibility >= spec.visibilityTimeoutSecs, `${visibility} < ${spec.visibilityTimeoutSecs}`);
    });
  }

  it('the stream failure queue is a standard queue keeping messages as long as resources.rs says', () => {
    const [spec] = resources().standardQueues;
    const destinations = new Set(
      mappings
        .map((m) => m.Properties.DestinationConfig?.OnFailure?.Destination)
        .filter((d) => d !== undefined)
        .map((d) => referenced(d)),
    );
    assert.equal(destinations.size, 1);
    const queue = queues[[...destinations][0]!];
    assert.equal(queue.Properties.FifoQueue, undefined);
    assert.equal(queue.Properties.MessageRetentionPeriod, spec.retentionSecs);
  });
});

describe('function environments against infra/environment.json', () => {
  const list = environmentList();
  const functions = functionsByBinary();

  it('deploys exactly the Lambda binaries the list names', () => {
    assert.deepEqual([...functions.keys()].sort(), [...list.lambdas].sort());
    assert.deepEqual([...BINARIES].sort(), [...list.lambdas].sort());
  });

  for (const binary of list.lambdas) {
    it(`${binary}: sets only listed variables, and every required one`, () => {
      const fn = functions.get(binary);
      assert.ok(fn, `no function runs ${binary}`);
      const set = Object.keys(fn.resource.Properties.Environment?.Variables ?? {});
      for (const name of set) {
        const variable = list.variables.find((v) => v.name === name);
        assert.ok(variable, `${binary} sets ${name}, which infra/environment.json does not list`);
        assert.ok(
          variable.functions.includes(binary),
          `${binary} sets ${name}, but infra/environment.json does not list ${binary} among its readers`,
        );
        assert.ok(
          variable.scope === 'lambda' || variable.scope === 'library',
          `${binary} sets ${name}, whose scope is ${variable.scope} (never set by the CDK app)`,
        );
      }
      const required = list.variables.filter((v) => v.required && v.functions.includes(binary)).map((v) => v.name);
      const missing = required.filter((name) => !set.includes(name));
      assert.deepEqual(missing, [], `${binary} misses required variables`);
    });
  }

  it('every table, queue URL, secret, Cognito, bucket, URL and key variable names a resource of that kind of the stack', () => {
    const secrets = resourcesOfType('AWS::SecretsManager::Secret');
    const buckets = resourcesOfType('AWS::S3::Bucket');
    const keys = resourcesOfType('AWS::KMS::Key');
    const tables = resourcesOfType('AWS::DynamoDB::Table');
    const queues = resourcesOfType('AWS::SQS::Queue');
    const pools = resourcesOfType('AWS::Cognito::UserPool');
    const clients = resourcesOfType('AWS::Cognito::UserPoolClient');
    for (const [name, ids] of environmentReferences()) {
      for (const id of ids) {
        if (name.endsWith('_TABLE')) assert.ok(tables[id], `${name} -> ${id}`);
        else if (name.endsWith('_QUEUE_URL')) assert.ok(queues[id], `${name} -> ${id}`);
        else if (name === 'COGNITO_USER_POOL_ID') assert.ok(pools[id], `${name} -> ${id}`);
        else if (name === 'COGNITO_CLIENT_ID') assert.ok(clients[id], `${name} -> ${id}`);
        else if (/^STRIPE_.*_ID$/.test(name)) assert.ok(secrets[id], `${name} -> ${id}`);
        else if (['DIGEST_BUCKET', 'PHOTOS_BUCKET'].includes(name)) assert.ok(buckets[id], `${name} -> ${id}`);
        else if (['DIGEST_KEY_ID', 'SUBJECT_KEY_ID', 'UNSUBSCRIBE_KEY_ID'].includes(name)) assert.ok(keys[id], `${name} -> ${id}`);
        // The links in email notices: the page's distribution and the HTTP API; the
        // thumbnails are served by the page's distribution too.
        else if (['WEB_URL', 'MEDIA_URL'].includes(name)) assert.ok(resourcesOfType('AWS::CloudFront::Distribution')[id], `${name} -> ${id}`);
        else if (name === 'API_URL') assert.ok(resourcesOfType('AWS::ApiGatewayV2::Api')[id], `${name} -> ${id}`);
        else assert.fail(`${name} refers to ${id}`);
      }
    }
  });
});

describe('function deployments against infra/functions.json', () => {
  it('lists every binary once, and each function has its memory size and timeout', () => {
    const listed = functionDeployments();
    assert.deepEqual(Object.keys(listed).sort(), [...BINARIES].sort());
    for (const [binary, { resource }] of functionsByBinary()) {
      assert.equal(resource.Properties.MemorySize, listed[binary].memoryMb, binary);
      assert.equal(resource.Properties.Timeout, listed[binary].timeoutSeconds, binary);
    }
  });
});
