// The properties the code relies on, asserted on the synthesized template.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';

import { PlatformStack } from '../lib/platform-stack';
import { functionsByBinary, referenced, resourcesOfType, template } from './synth';

/** logical id -> the nameEnv of the table it is (through the functions' environments). */
function tableNames(): Map<string, string> {
  const out = new Map<string, string>();
  for (const { resource } of functionsByBinary().values()) {
    for (const [name, value] of Object.entries<any>(resource.Properties.Environment?.Variables ?? {})) {
      const id = referenced(value);
      if (id && name.endsWith('_TABLE')) out.set(id, name);
    }
  }
  return out;
}

describe('the event log', () => {
  it('has a NEW_IMAGE stream, point-in-time recovery, deletion protection, and is retained', () => {
    const tables = template().findResources('AWS::DynamoDB::Table', {
      Properties: { KeySchema: [{ AttributeName: 'aggregateId', KeyType: 'HASH' }, { AttributeName: 'version', KeyType: 'RANGE' }] },
    });
    const [id, events] = Object.entries(tables).find(([, t]) => t.Properties.StreamSpecification) ?? [];
    assert.ok(id && events);
    assert.equal(events.Properties.StreamSpecification.StreamViewType, 'NEW_IMAGE');
    assert.equal(events.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
    assert.equal(events.Properties.DeletionProtectionEnabled, true);
    assert.equal(events.DeletionPolicy, 'Retain');
    assert.equal(events.Properties.TimeToLiveSpecification, undefined, 'events are never deleted');
    assert.equal(events.Properties.GlobalSecondaryIndexes[0].IndexName, 'byEventType');
  });

  it('every table is on demand', () => {
    for (const table of Object.values(resourcesOfType('AWS::DynamoDB::Table'))) {
      assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    }
  });

  it('the payment sagas (the audit trail of money) are protected like the log', () => {
    const names = tableNames();
    const [, sagas] = Object.entries(resourcesOfType('AWS::DynamoDB::Table')).find(([id]) => names.get(id) === 'PAYMENT_SAGAS_TABLE')!;
    assert.equal(sagas.Properties.DeletionProtectionEnabled, true);
    assert.equal(sagas.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
  });
});

describe('functions', () => {
  it('run the bootstrap binary on provided.al2023, arm64, each with its own role and log group', () => {
    const roles = new Set<string>();
    for (const [binary, { resource }] of functionsByBinary()) {
      assert.equal(resource.Properties.Runtime, 'provided.al2023', binary);
      assert.deepEqual(resource.Properties.Architectures, ['arm64'], binary);
      assert.equal(resource.Properties.Handler, 'bootstrap', binary);
      roles.add(referenced(resource.Properties.Role)!);
      assert.ok(referenced(resource.Properties.LoggingConfig.LogGroup), `${binary} has no log group of its own`);
    }
    assert.equal(roles.size, 6, 'one role per function');
  });

  it('log groups have a retention', () => {
    for (const group of Object.values(resourcesOfType('AWS::Logs::LogGroup'))) {
      assert.equal(group.Properties.RetentionInDays, 30);
    }
  });

  it('no role carries a managed policy (AWSLambdaBasicExecutionRole would allow every log group)', () => {
    for (const role of Object.values(resourcesOfType('AWS::IAM::Role'))) {
      assert.equal(role.Properties.ManagedPolicyArns, undefined);
    }
  });

  it('the scheduler runs every minute for up to 70 s, at most two at a time, without retries', () => {
    const scheduler = functionsByBinary().get('scheduler-lambda')!;
    assert.equal(scheduler.resource.Properties.Timeout, 70);
    assert.equal(scheduler.resource.Properties.ReservedConcurrentExecutions, 2);
    template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [scheduler.id, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: scheduler.id },
      MaximumRetryAttempts: 0,
    });
  });

  it('a missing asset directory fails with a message that says how to build it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-assets-'));
    assert.throws(
      () => new PlatformStack(new App(), 'Missing', { lambdaAssets: empty }),
      /Lambda assets missing in .*api-lambda\/bootstrap.*cargo lambda build --release --arm64/,
    );
    fs.rmSync(empty, { recursive: true });
  });
});

describe('event source mappings', () => {
  const mappings = Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'));
  const byFunction = (binary: string) => {
    const fn = functionsByBinary().get(binary)!;
    return mappings.filter((m) => m.Properties.FunctionName.Ref === fn.id);
  };

  for (const binary of ['projector-lambda', 'publisher-lambda']) {
    it(`${binary} reads the Events stream: batch 100, bisect, item failures, 3 retries, max age, on-failure queue`, () => {
      const [mapping, ...more] = byFunction(binary);
      assert.equal(more.length, 0);
      const p = mapping.Properties;
      assert.deepEqual(p.EventSourceArn['Fn::GetAtt'][1], 'StreamArn');
      assert.equal(p.BatchSize, 100);
      assert.equal(p.BisectBatchOnFunctionError, true);
      assert.deepEqual(p.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(p.MaximumRetryAttempts, 3);
      assert.equal(p.MaximumRecordAgeInSeconds, 6 * 3600);
      assert.equal(p.StartingPosition, 'TRIM_HORIZON');
      const destination = referenced(p.DestinationConfig.OnFailure.Destination)!;
      assert.equal(resourcesOfType('AWS::SQS::Queue')[destination].Properties.FifoQueue, undefined);
    });
  }

  for (const binary of ['notifier-lambda', 'payment-saga-lambda']) {
    it(`${binary} reads its FIFO queue in batches of 10 and reports item failures`, () => {
      const [mapping, ...more] = byFunction(binary);
      assert.equal(more.length, 0);
      assert.equal(mapping.Properties.BatchSize, 10);
      assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
      const queue = resourcesOfType('AWS::SQS::Queue')[referenced(mapping.Properties.EventSourceArn)!];
      assert.equal(queue.Properties.FifoQueue, true);
    });
  }

  it('api and scheduler have no event source mapping', () => {
    assert.equal(byFunction('api-lambda').length + byFunction('scheduler-lambda').length, 0);
  });
});

describe('queues', () => {
  it('are encrypted and refuse plain HTTP', () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    for (const queue of Object.values(queues)) {
      assert.equal(queue.Properties.SqsManagedSseEnabled, true);
    }
    const policies = Object.values(resourcesOfType('AWS::SQS::QueuePolicy'));
    const covered = new Set(policies.flatMap((p) => p.Properties.Queues.map((q: any) => referenced(q))));
    assert.deepEqual([...covered].sort(), Object.keys(queues).sort());
    for (const policy of policies) {
      assert.ok(policy.Properties.PolicyDocument.Statement.some((s: any) =>
        s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
    }
  });
});

describe('the HTTP API', () => {
  it('has a Cognito JWT authorizer on every route but /health and /openapi.json', () => {
    const authorizers = resourcesOfType('AWS::ApiGatewayV2::Authorizer');
    const [authorizerId, authorizer] = Object.entries(authorizers)[0];
    assert.equal(Object.keys(authorizers).length, 1);
    assert.equal(authorizer.Properties.AuthorizerType, 'JWT');
    assert.deepEqual(authorizer.Properties.IdentitySource, ['$request.header.Authorization']);
    const issuer = JSON.stringify(authorizer.Properties.JwtConfiguration.Issuer);
    assert.match(issuer, /cognito-idp/);
    assert.equal(authorizer.Properties.JwtConfiguration.Audience.length, 1);

    const routes = Object.values(resourcesOfType('AWS::ApiGatewayV2::Route'));
    const keys = routes.map((r) => r.Properties.RouteKey).sort();
    assert.deepEqual(keys, ['ANY /{proxy+}', 'GET /health', 'GET /openapi.json']);
    for (const route of routes) {
      const isPublic = ['GET /health', 'GET /openapi.json'].includes(route.Properties.RouteKey);
      if (isPublic) {
        assert.equal(route.Properties.AuthorizationType ?? 'NONE', 'NONE');
      } else {
        assert.equal(route.Properties.AuthorizationType, 'JWT');
        assert.equal(referenced(route.Properties.AuthorizerId), authorizerId);
      }
    }
  });

  it('routes to the api function with payload format 2.0 (the claims api-lambda reads)', () => {
    const api = functionsByBinary().get('api-lambda')!;
    template().hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [api.id, 'Arn'] },
    });
  });

  it('has an admin group (cognito:groups carries it to the admin routes) and logs access', () => {
    template().hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'admin' });
    template().hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });
});

describe('alarms', () => {
  const alarms = Object.values(resourcesOfType('AWS::CloudWatch::Alarm'));
  const topic = Object.keys(resourcesOfType('AWS::SNS::Topic'))[0];
  const find = (metric: string, dimension: string, id: string) =>
    alarms.filter((a) => a.Properties.MetricName === metric &&
      a.Properties.Dimensions?.some((d: any) => d.Name === dimension && referenced(d.Value) === id));

  it('every alarm notifies the topic', () => {
    assert.ok(alarms.length > 0);
    for (const alarm of alarms) {
      assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topic }]);
    }
  });

  it('each function has an Errors and a Throttles alarm', () => {
    for (const [binary, fn] of functionsByBinary()) {
      assert.equal(find('Errors', 'FunctionName', fn.id).length, 1, `${binary} Errors`);
      assert.equal(find('Throttles', 'FunctionName', fn.id).length, 1, `${binary} Throttles`);
    }
  });

  it('each stream consumer has an IteratorAge alarm', () => {
    for (const binary of ['projector-lambda', 'publisher-lambda']) {
      const fn = functionsByBinary().get(binary)!;
      const [alarm] = find('IteratorAge', 'FunctionName', fn.id);
      assert.ok(alarm, binary);
      assert.equal(alarm.Properties.Statistic, 'Maximum');
    }
  });

  it('each DLQ and the stream failure queue alarm at depth > 0', () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    const dlqs = new Set(Object.values(queues)
      .map((q) => q.Properties.RedrivePolicy?.deadLetterTargetArn)
      .filter((arn) => arn !== undefined)
      .map((arn) => referenced(arn)));
    const failures = Object.entries(queues).filter(([, q]) => !q.Properties.FifoQueue).map(([id]) => id);
    for (const id of [...dlqs, ...failures]) {
      const [alarm] = alarms.filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        a.Properties.Dimensions.some((d: any) => JSON.stringify(d.Value).includes(id!)));
      assert.ok(alarm, `no depth alarm for ${id}`);
      assert.equal(alarm.Properties.Threshold, 0);
      assert.equal(alarm.Properties.ComparisonOperator, 'GreaterThanThreshold');
    }
    assert.equal(dlqs.size, 2);
  });
});
