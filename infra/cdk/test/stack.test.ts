// The properties the code relies on, asserted on the synthesized template.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';

import {
  BINARIES,
  DIGEST_KEY_ALIAS,
  HTTP_5XX_ALARM,
  HTTP_LATENCY_ALARM,
  PlatformStack,
  SUBJECT_KEY_ALIAS,
  SUBJECT_KEYS_RECOVERY_DAYS,
  wholeNumberContext,
} from '../lib/platform-stack';
import { metricsContract } from '../lib/shared';
import { FIXTURE_ASSETS, functionsByBinary, referenced, resourcesOfType, siteAssets, synthStack, template } from './synth';

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

/** The photo uploads queue (the one the photos bucket notifies) and its DLQ. */
function photoQueues(): { queue: string; dlq: string } {
  const [notifications, ...more] = Object.values(resourcesOfType('Custom::S3BucketNotifications'));
  assert.equal(more.length, 0);
  const [configuration, ...others] = notifications.Properties.NotificationConfiguration.QueueConfigurations;
  assert.equal(others.length, 0);
  const queue = referenced(configuration.QueueArn)!;
  const dlq = referenced(resourcesOfType('AWS::SQS::Queue')[queue].Properties.RedrivePolicy.deadLetterTargetArn)!;
  return { queue, dlq };
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
    assert.equal(events.Properties.GlobalSecondaryIndexes[0].IndexName, 'byTypeShard');
  });

  it('every table is on demand', () => {
    for (const table of Object.values(resourcesOfType('AWS::DynamoDB::Table'))) {
      assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    }
  });

  it('the parked items (each an incident) are kept: no TTL, point-in-time recovery, retained', () => {
    const names = tableNames();
    const [, parked] = Object.entries(resourcesOfType('AWS::DynamoDB::Table')).find(([id]) => names.get(id) === 'PARKED_TABLE')!;
    assert.equal(parked.Properties.TimeToLiveSpecification, undefined);
    assert.equal(parked.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
    assert.equal(parked.DeletionPolicy, 'Retain');
    assert.equal(parked.UpdateReplacePolicy, 'Retain');
    assert.equal(parked.Properties.StreamSpecification, undefined);
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
      // JSON with an application level: what sets AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL.
      assert.equal(resource.Properties.LoggingConfig.LogFormat, 'JSON', binary);
      assert.equal(resource.Properties.LoggingConfig.ApplicationLogLevel, 'INFO', binary);
    }
    assert.equal(roles.size, functionsByBinary().size, 'one role per function');
  });

  it('trace actively (X-Ray), all but CDK\'s page deployment handler (it runs only during a deployment)', () => {
    const traced = Object.entries(resourcesOfType('AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.TracingConfig?.Mode === 'Active')
      .map(([id]) => id);
    assert.deepEqual(traced.sort(), [...functionsByBinary().values()].map((fn) => fn.id).sort());
    assert.equal(traced.length, BINARIES.length);
  });

  it('run on arm64 by default, x86_64 with -c architecture=x86_64, and refuse anything else', () => {
    // Assets that are x86_64 executables (an ELF header is all the stack reads).
    const x86 = fs.mkdtempSync(path.join(os.tmpdir(), 'x86-assets-'));
    const header = Buffer.alloc(64);
    header.write('\x7fELF', 0, 'latin1');
    header.set([2, 1, 1], 4); // 64-bit, little-endian, version 1
    header.writeUInt16LE(2, 16); // an executable
    header.writeUInt16LE(62, 18); // x86_64
    for (const binary of BINARIES) {
      fs.mkdirSync(path.join(x86, binary));
      fs.writeFileSync(path.join(x86, binary, 'bootstrap'), header, { mode: 0o755 });
    }
    const stack = new PlatformStack(new App({ context: { architecture: 'x86_64' } }), 'X86', { lambdaAssets: x86, siteAssets: siteAssets() });
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
      .filter((fn) => fn.Properties.Runtime === 'provided.al2023');
    assert.equal(functions.length, BINARIES.length);
    for (const fn of functions) assert.deepEqual(fn.Properties.Architectures, ['x86_64']);
    // The same binaries on the default architecture would fail every invocation.
    assert.throws(
      () => new PlatformStack(new App(), 'X86OnArm', { lambdaAssets: x86, siteAssets: siteAssets() }),
      /not arm64 executables: api-lambda\/bootstrap \(x86_64\).*cargo lambda build --release --arm64.*-c architecture=/,
    );
    fs.rmSync(x86, { recursive: true });
    for (const bad of ['amd64', 'aarch64', 'ARM64', 'x86-64', 64]) {
      assert.throws(
        () => new PlatformStack(new App({ context: { architecture: bad } }), 'Bad', { lambdaAssets: FIXTURE_ASSETS, siteAssets: siteAssets() }),
        /architecture must be arm64 or x86_64 \(-c architecture=arm64\|x86_64; default arm64\)/,
        String(bad),
      );
    }
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

  it('the reconciler runs every 5 minutes for up to 4 minutes, without retries, and alarms on errors', () => {
    const reconciler = functionsByBinary().get('reconciler-lambda')!;
    assert.equal(reconciler.resource.Properties.Timeout, 240);
    template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [reconciler.id, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: reconciler.id },
      MaximumRetryAttempts: 0,
    });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: reconciler.id } }],
      Threshold: 0,
    });
  });

  it('the reconciler\'s period comes from the context, and a period shorter than a run is refused', () => {
    const app = new App({ context: { reconcilerEveryMinutes: 15 } });
    const stack = new PlatformStack(app, 'Reconcile15', { lambdaAssets: FIXTURE_ASSETS, siteAssets: siteAssets() });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    assert.throws(
      () => new PlatformStack(new App({ context: { reconcilerEveryMinutes: 1 } }), 'Reconcile1', { lambdaAssets: FIXTURE_ASSETS, siteAssets: siteAssets() }),
      /reconcilerEveryMinutes must be a whole number of minutes >= 5/,
    );
  });

  it('a missing bidder page fails with a message that names it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-site-'));
    assert.throws(
      () => new PlatformStack(new App(), 'NoSite', { lambdaAssets: FIXTURE_ASSETS, siteAssets: empty }),
      /The bidder page is missing: no .*index\.html.*-c siteAssets=DIR/,
    );
    fs.rmSync(empty, { recursive: true });
  });

  it('the live functions get the variables they refuse to start without', () => {
    const fns = functionsByBinary();
    const ws = fns.get('live-ws-lambda')!.resource.Properties.Environment.Variables;
    assert.ok(referenced(ws.COGNITO_USER_POOL_ID), 'COGNITO_USER_POOL_ID');
    assert.ok(referenced(ws.COGNITO_CLIENT_ID), 'COGNITO_CLIENT_ID');
    const broadcaster = fns.get('live-broadcaster-lambda')!.resource.Properties.Environment.Variables;
    const endpoint = JSON.stringify(broadcaster.LIVE_ENDPOINT_URL);
    // https://{apiId}.execute-api.{region}.{suffix}/live: the management endpoint of the stage.
    assert.match(endpoint, /"https:\/\/",\{"Ref":"LiveApi[A-Za-z0-9]+"\},".execute-api./);
    assert.match(endpoint, /"\/live"\]\]\}$/);
  });

  it('a missing asset directory fails with a message that says how to build it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-assets-'));
    assert.throws(
      () => new PlatformStack(new App(), 'Missing', { lambdaAssets: empty, siteAssets: siteAssets() }),
      /Lambda assets missing in .*api-lambda\/bootstrap.*cargo lambda build --release --arm64/,
    );
    fs.rmSync(empty, { recursive: true });
  });
});

describe('the log\'s digests', () => {
  const variables = (binary: string): Record<string, any> =>
    functionsByBinary().get(binary)!.resource.Properties.Environment.Variables;
  const bucketId = () => referenced(variables('digester-lambda').DIGEST_BUCKET)!;

  /** The digest bucket's Object Lock, and the digester's schedule, in a stack of its own. */
  const digestSettings = (found: Template) => {
    const buckets = Object.values(found.findResources('AWS::S3::Bucket')).filter((b) => b.Properties.ObjectLockEnabled);
    assert.equal(buckets.length, 1, 'one bucket under Object Lock');
    const fns = Object.entries(found.findResources('AWS::Lambda::Function')).filter(([, fn]) =>
      (fn.Properties.Tags ?? []).some((t: any) => t.Key === 'auction:binary' && t.Value === 'digester-lambda'));
    assert.equal(fns.length, 1);
    const rules = Object.values(found.findResources('AWS::Events::Rule')).filter((r) =>
      r.Properties.Targets.some((t: any) => referenced(t.Arn) === fns[0][0]));
    assert.equal(rules.length, 1);
    return { lock: buckets[0].Properties.ObjectLockConfiguration, schedule: rules[0].Properties.ScheduleExpression };
  };

  it('the bucket: Object Lock in compliance mode for 3650 days by default, versioned, private, SSE-S3, TLS only, retained', () => {
    const bucket = resourcesOfType('AWS::S3::Bucket')[bucketId()];
    assert.ok(bucket, 'DIGEST_BUCKET names a bucket of the stack');
    const p = bucket.Properties;
    assert.equal(p.ObjectLockEnabled, true);
    assert.deepEqual(p.ObjectLockConfiguration, {
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 3650 } },
    });
    assert.equal(p.VersioningConfiguration.Status, 'Enabled');
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    assert.equal(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    assert.equal(p.BucketName, undefined, 'the name is generated: bucket names are global');
    assert.ok(p.LoggingConfiguration.DestinationBucketName, 'access logs');
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    // Never emptied by the stack: no auto-delete handler, and nothing tags the bucket for one.
    assert.equal(Object.keys(resourcesOfType('Custom::S3AutoDeleteObjects')).length, 0);
    assert.ok(!(p.Tags ?? []).some((t: any) => t.Key === 'aws-cdk:auto-delete-objects'));
    // Its policy only refuses plain HTTP: it allows nobody anything.
    const policies = Object.values(resourcesOfType('AWS::S3::BucketPolicy')).filter((pol) => referenced(pol.Properties.Bucket) === bucketId());
    assert.equal(policies.length, 1);
    const statements = policies[0].Properties.PolicyDocument.Statement;
    assert.ok(statements.some((st: any) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
    assert.deepEqual(statements.filter((st: any) => st.Effect !== 'Deny'), []);
  });

  it('the retention and the digester\'s period come from -c digestRetentionDays and -c digestEveryMinutes', () => {
    // As the CLI gives them: strings.
    const app = new App({ context: { digestRetentionDays: '30', digestEveryMinutes: '15' } });
    const stack = new PlatformStack(app, 'Digests30', { lambdaAssets: FIXTURE_ASSETS, siteAssets: siteAssets() });
    assert.deepEqual(digestSettings(Template.fromStack(stack)), {
      lock: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } },
      schedule: 'rate(15 minutes)',
    });
    assert.equal(digestSettings(template()).schedule, 'rate(5 minutes)', 'the default');
  });

  it('refuses a retention or a period that is not a whole number in range, naming the context', () => {
    for (const bad of [0, -1, 2.5, 36_501, '', ' ', 'ten', '1e1', '2.5', '-3', true, [7]]) {
      assert.throws(
        () => wholeNumberContext('digestRetentionDays', bad, { fallback: 3650, min: 1, max: 36_500, unit: 'days' }),
        /^Error: digestRetentionDays must be a whole number of days from 1 to 36500 \(-c digestRetentionDays=N; default 3650\), not /,
        JSON.stringify(bad),
      );
    }
    assert.equal(wholeNumberContext('digestRetentionDays', undefined, { fallback: 3650, min: 1, unit: 'days' }), 3650);
    assert.equal(wholeNumberContext('digestRetentionDays', '1', { fallback: 3650, min: 1, unit: 'days' }), 1);
    assert.equal(wholeNumberContext('digestRetentionDays', 36_500, { fallback: 3650, min: 1, max: 36_500, unit: 'days' }), 36_500);
    // The stack takes both contexts through it.
    assert.throws(
      () => new PlatformStack(new App({ context: { digestRetentionDays: '0' } }), 'Retention0', { lambdaAssets: FIXTURE_ASSETS, siteAssets: siteAssets() }),
      /digestRetentionDays must be a whole number of days from 1 to 36500 \(-c digestRetentionDays=N; default 3650\), not "0"/,
    );
    assert.throws(
      () => new PlatformStack(new App({ context: { digestEveryMinutes: 'hourly' } }), 'EveryHour', { lambdaAssets: FIXTURE_ASSETS, siteAssets: siteAssets() }),
      /digestEveryMinutes must be a whole number of minutes >= 1 \(-c digestEveryMinutes=N; default 5\), not "hourly"/,
    );
  });

  it('the signing key: RSA_2048 for SIGN_VERIFY, alias/auction-log-digests, retained, 30-day window; DIGEST_KEY_ID is its ARN', () => {
    const keyId = referenced(variables('digester-lambda').DIGEST_KEY_ID)!;
    assert.deepEqual(variables('digester-lambda').DIGEST_KEY_ID, { 'Fn::GetAtt': [keyId, 'Arn'] }, 'the ARN, not the alias');
    const key = resourcesOfType('AWS::KMS::Key')[keyId];
    assert.ok(key, 'DIGEST_KEY_ID names a key of the stack');
    assert.equal(key.Properties.KeySpec, 'RSA_2048');
    assert.equal(key.Properties.KeyUsage, 'SIGN_VERIFY');
    assert.equal(key.Properties.EnableKeyRotation ?? false, false, 'KMS rotates symmetric keys only');
    assert.equal(key.Properties.PendingWindowInDays, 30);
    assert.match(key.Properties.Description, /[Ss]igns the event log's digests/);
    assert.equal(key.DeletionPolicy, 'Retain');
    assert.equal(key.UpdateReplacePolicy, 'Retain');
    const aliases = Object.values(resourcesOfType('AWS::KMS::Alias')).filter((a) => referenced(a.Properties.TargetKeyId) === keyId);
    assert.deepEqual(aliases.map((a) => a.Properties.AliasName), [DIGEST_KEY_ALIAS]);
    assert.equal(DIGEST_KEY_ALIAS, 'alias/auction-log-digests');
  });

  it("the subjects' key store: its table recoverable for 7 days only and retained; its key symmetric, rotated, retained, alias/auction-subject-keys; SUBJECT_KEY_ID is its ARN", () => {
    const tableId = referenced(variables('api-lambda').SUBJECT_KEYS_TABLE)!;
    const table = resourcesOfType('AWS::DynamoDB::Table')[tableId];
    assert.ok(table, 'SUBJECT_KEYS_TABLE names a table of the stack');
    assert.deepEqual(table.Properties.KeySchema, [{ AttributeName: 'id', KeyType: 'HASH' }]);
    assert.deepEqual(table.Properties.PointInTimeRecoverySpecification, {
      PointInTimeRecoveryEnabled: true,
      RecoveryPeriodInDays: SUBJECT_KEYS_RECOVERY_DAYS,
    });
    assert.equal(SUBJECT_KEYS_RECOVERY_DAYS, 7, "docs/privacy.md's bound");
    assert.equal(table.DeletionPolicy, 'Retain');
    const keyId = referenced(variables('api-lambda').SUBJECT_KEY_ID)!;
    assert.deepEqual(variables('api-lambda').SUBJECT_KEY_ID, { 'Fn::GetAtt': [keyId, 'Arn'] }, 'the ARN, not the alias');
    const key = resourcesOfType('AWS::KMS::Key')[keyId];
    assert.ok(key, 'SUBJECT_KEY_ID names a key of the stack');
    assert.equal(key.Properties.KeySpec ?? 'SYMMETRIC_DEFAULT', 'SYMMETRIC_DEFAULT');
    assert.equal(key.Properties.KeyUsage ?? 'ENCRYPT_DECRYPT', 'ENCRYPT_DECRYPT');
    assert.equal(key.Properties.EnableKeyRotation, true);
    assert.equal(key.Properties.PendingWindowInDays, 30);
    assert.equal(key.DeletionPolicy, 'Retain');
    const aliases = Object.values(resourcesOfType('AWS::KMS::Alias')).filter((a) => referenced(a.Properties.TargetKeyId) === keyId);
    assert.deepEqual(aliases.map((a) => a.Properties.AliasName), [SUBJECT_KEY_ALIAS]);
    assert.equal(SUBJECT_KEY_ALIAS, 'alias/auction-subject-keys');
  });

  it('the digester runs every 5 minutes for up to 2 minutes, one at a time, without retries, and alarms on errors', () => {
    const digester = functionsByBinary().get('digester-lambda')!;
    assert.equal(digester.resource.Properties.Timeout, 120);
    assert.equal(digester.resource.Properties.ReservedConcurrentExecutions, 1);
    template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({
        Arn: { 'Fn::GetAtt': [digester.id, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      })],
    });
    template().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: digester.id },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: digester.id } }],
      Threshold: 0,
    });
  });

  it('the functions that use them are told the same table, bucket and key', () => {
    const heads = ['api-lambda', 'digester-lambda', 'projector-lambda', 'reconciler-lambda'].map((b) => referenced(variables(b).STREAM_HEADS_TABLE));
    assert.equal(new Set(heads).size, 1);
    assert.ok(resourcesOfType('AWS::DynamoDB::Table')[heads[0]!]);
    assert.equal(referenced(variables('api-lambda').DIGEST_BUCKET), bucketId());
    for (const [binary, { resource }] of functionsByBinary()) {
      if (!['api-lambda', 'digester-lambda'].includes(binary)) assert.equal(resource.Properties.Environment?.Variables?.DIGEST_BUCKET, undefined, binary);
      if (binary !== 'digester-lambda') assert.equal(resource.Properties.Environment?.Variables?.DIGEST_KEY_ID, undefined, binary);
    }
  });

  // Every Allow statement of the template (identity policies, inline or not, and resource
  // policies), with where it is.
  const allows = (): { where: string; statement: any }[] => {
    const found: { where: string; statement: any }[] = [];
    const add = (where: string, document: any) => {
      for (const statement of [document?.Statement ?? []].flat()) if (statement.Effect === 'Allow') found.push({ where, statement });
    };
    for (const [id, p] of Object.entries(resourcesOfType('AWS::IAM::Policy'))) add(id, p.Properties.PolicyDocument);
    for (const [id, p] of Object.entries(resourcesOfType('AWS::IAM::ManagedPolicy'))) add(id, p.Properties.PolicyDocument);
    for (const [id, role] of Object.entries(resourcesOfType('AWS::IAM::Role'))) {
      for (const inline of role.Properties.Policies ?? []) add(`${id} ${inline.PolicyName}`, inline.PolicyDocument);
    }
    for (const [id, p] of Object.entries(resourcesOfType('AWS::S3::BucketPolicy'))) add(id, p.Properties.PolicyDocument);
    return found;
  };
  // Whether an IAM action pattern (with * and ?) covers an action.
  const covers = (pattern: string, action: string): boolean => {
    const regex = pattern.replace(/[.+^$()|{}[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return new RegExp('^' + regex + '$', 'i').test(action);
  };
  const FORBIDDEN = ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention'];

  it('no role or policy may delete a digest, or shorten or bypass its lock; only the digester writes', () => {
    assert.ok(covers('s3:*', 's3:DeleteObject') && covers('*', 's3:BypassGovernanceRetention') && covers('s3:Delete*', 's3:DeleteObjectVersion'));
    assert.ok(covers('s3:deleteobject*', 's3:DeleteObjectVersion') && !covers('s3:DeleteObjectTagging', 's3:DeleteObject'));
    const bucket = `"${bucketId()}"`;
    const onBucket = allows().filter(({ statement }) =>
      statement.NotResource !== undefined || [statement.Resource].flat().some((r: any) => r === '*' || JSON.stringify(r).includes(bucket)));
    assert.ok(onBucket.length > 0, 'the digester\'s grants are found');
    for (const { where, statement } of onBucket) {
      assert.equal(statement.NotAction, undefined, `${where}: NotAction`);
      for (const action of [statement.Action].flat()) {
        for (const forbidden of FORBIDDEN) assert.ok(!covers(action, forbidden), `${where} allows ${action}, which covers ${forbidden}`);
      }
    }
    const writers = onBucket
      .filter(({ statement }) => [statement.Action].flat().some((a: string) => covers(a, 's3:PutObject')))
      .map(({ where }) => where);
    const digesterRole = referenced(functionsByBinary().get('digester-lambda')!.resource.Properties.Role)!;
    const digesterPolicies = Object.entries(resourcesOfType('AWS::IAM::Policy'))
      .filter(([, p]) => p.Properties.Roles.some((r: any) => referenced(r) === digesterRole)).map(([id]) => id);
    assert.deepEqual([...new Set(writers)], digesterPolicies);
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

  it('the Events stream has two readers, the projector and the publisher (DynamoDB Streams serves two per shard without throttling)', () => {
    const readers = mappings
      .filter((m) => m.Properties.EventSourceArn['Fn::GetAtt']?.[1] === 'StreamArn')
      .map((m) => m.Properties.FunctionName.Ref);
    const fns = functionsByBinary();
    assert.deepEqual(readers.sort(), [fns.get('projector-lambda')!.id, fns.get('publisher-lambda')!.id].sort());
  });

  for (const binary of ['notifier-lambda', 'payment-saga-lambda', 'live-broadcaster-lambda']) {
    it(`${binary} reads its FIFO queue in batches of 10 and reports item failures`, () => {
      const [mapping, ...more] = byFunction(binary);
      assert.equal(more.length, 0);
      assert.equal(mapping.Properties.BatchSize, 10);
      assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
      const queue = resourcesOfType('AWS::SQS::Queue')[referenced(mapping.Properties.EventSourceArn)!];
      assert.equal(queue.Properties.FifoQueue, true);
    });
  }

  it('the broadcaster reads the live queue, which the publisher fills, in high-throughput FIFO mode', () => {
    const fns = functionsByBinary();
    const [mapping] = byFunction('live-broadcaster-lambda');
    const id = referenced(mapping.Properties.EventSourceArn)!;
    const publisher = fns.get('publisher-lambda')!.resource.Properties.Environment.Variables;
    assert.equal(referenced(publisher.LIVE_QUEUE_URL), id);
    const queue = resourcesOfType('AWS::SQS::Queue')[id].Properties;
    assert.equal(queue.DeduplicationScope, 'messageGroup');
    assert.equal(queue.FifoThroughputLimit, 'perMessageGroupId');
    assert.equal(queue.VisibilityTimeout, 6 * fns.get('live-broadcaster-lambda')!.resource.Properties.Timeout);
  });

  it('parker-lambda drains the stream failure queue and the three FIFO DLQs: batch 10, item failures, visibility 6 x its timeout', () => {
    const parker = functionsByBinary().get('parker-lambda')!;
    const queues = resourcesOfType('AWS::SQS::Queue');
    const mapped = byFunction('parker-lambda');
    assert.equal(mapped.length, 4);
    for (const mapping of mapped) {
      assert.equal(mapping.Properties.BatchSize, 10);
      assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(mapping.Properties.DestinationConfig, undefined);
      const queue = queues[referenced(mapping.Properties.EventSourceArn)!];
      assert.equal(queue.Properties.VisibilityTimeout, 6 * parker.resource.Properties.Timeout);
    }
    const sources = new Set(mapped.map((m) => referenced(m.Properties.EventSourceArn)));
    // Not the photo uploads DLQ: S3 notifications are no consumer's events to park.
    const dlqs = Object.values(queues)
      .map((q) => referenced(q.Properties.RedrivePolicy?.deadLetterTargetArn))
      .filter((id) => id !== undefined && id !== photoQueues().dlq);
    const failures = mappings
      .map((m) => referenced(m.Properties.DestinationConfig?.OnFailure?.Destination))
      .filter((id) => id !== undefined);
    assert.equal(dlqs.length, 3);
    assert.deepEqual([...sources].sort(), [...new Set([...dlqs, ...failures])].sort());
    assert.equal(parker.resource.Properties.Timeout, 30);
  });

  it('parker-lambda knows each consumer by its generated function or DLQ name', () => {
    const fns = functionsByBinary();
    const parker = fns.get('parker-lambda')!.resource.Properties.Environment.Variables;
    const queues = resourcesOfType('AWS::SQS::Queue');
    const dlqOf = (urlVariable: string) => {
      const publisher = fns.get('publisher-lambda')!.resource.Properties.Environment.Variables;
      return referenced(queues[referenced(publisher[urlVariable])!].Properties.RedrivePolicy.deadLetterTargetArn);
    };
    // "<name>=<consumer>,..." as an Fn::Join of references and literal text.
    const [separator, parts] = parker.PARKED_CONSUMERS['Fn::Join'];
    assert.equal(separator, '');
    const pairs: [string, string][] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const name = parts[i];
      const text: string = parts[i + 1] ?? '';
      const consumer = text.replace(/^=/, '').replace(/,$/, '');
      const label = name.Ref ? `function ${name.Ref}` : `queue ${name['Fn::GetAtt'][0]} ${name['Fn::GetAtt'][1]}`;
      pairs.push([label, consumer]);
    }
    assert.deepEqual(pairs, [
      [`function ${fns.get('projector-lambda')!.id}`, 'projector'],
      [`function ${fns.get('publisher-lambda')!.id}`, 'publisher'],
      [`queue ${dlqOf('NOTIFICATIONS_QUEUE_URL')} QueueName`, 'notifier'],
      [`queue ${dlqOf('PAYMENTS_QUEUE_URL')} QueueName`, 'payment-saga'],
      [`queue ${dlqOf('LIVE_QUEUE_URL')} QueueName`, 'broadcaster'],
    ]);
    assert.ok(referenced(parker.PARKED_TABLE));
  });

  it('api, scheduler, digester and the WebSocket function have no event source mapping', () => {
    for (const binary of ['api-lambda', 'scheduler-lambda', 'digester-lambda', 'live-ws-lambda']) {
      assert.equal(byFunction(binary).length, 0, binary);
    }
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
  it('has a Cognito JWT authorizer on every route but /health, /openapi.json, Stripe\'s webhook and CORS preflights', () => {
    const authorizers = resourcesOfType('AWS::ApiGatewayV2::Authorizer');
    const [authorizerId, authorizer] = Object.entries(authorizers)[0];
    assert.equal(Object.keys(authorizers).length, 1);
    assert.equal(authorizer.Properties.AuthorizerType, 'JWT');
    assert.deepEqual(authorizer.Properties.IdentitySource, ['$request.header.Authorization']);
    const issuer = JSON.stringify(authorizer.Properties.JwtConfiguration.Issuer);
    assert.match(issuer, /cognito-idp/);
    assert.equal(authorizer.Properties.JwtConfiguration.Audience.length, 1);

    const httpApis = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api')).filter(([, a]) => a.Properties.ProtocolType === 'HTTP');
    assert.equal(httpApis.length, 1);
    const routes = Object.values(resourcesOfType('AWS::ApiGatewayV2::Route')).filter((r) => referenced(r.Properties.ApiId) === httpApis[0][0]);
    const keys = routes.map((r) => r.Properties.RouteKey).sort();
    assert.deepEqual(keys, ['ANY /{proxy+}', 'GET /health', 'GET /openapi.json', 'OPTIONS /{proxy+}', 'POST /unsubscribe', 'POST /webhooks/stripe']);
    for (const route of routes) {
      // Stripe's webhook is authenticated by Stripe's signature of its body, which api-lambda
      // verifies: Stripe cannot present a Cognito token. An email's unsubscribe link carries its
      // own signed token, checked by api-lambda.
      const isPublic = ['GET /health', 'GET /openapi.json', 'OPTIONS /{proxy+}', 'POST /unsubscribe', 'POST /webhooks/stripe'].includes(route.Properties.RouteKey);
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

  it('allows CORS from the bidder page\'s CloudFront origin only, with the headers the page sends', () => {
    const [[, httpApi]] = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api')).filter(([, a]) => a.Properties.ProtocolType === 'HTTP');
    const cors = httpApi.Properties.CorsConfiguration;
    const [distributionId] = Object.keys(resourcesOfType('AWS::CloudFront::Distribution'));
    assert.deepEqual(cors.AllowOrigins, [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] }]);
    assert.deepEqual([...cors.AllowMethods].sort(), ['DELETE', 'GET', 'POST', 'PUT']);
    assert.deepEqual([...cors.AllowHeaders].sort(), ['authorization', 'content-type', 'idempotency-key']);
    assert.equal(cors.AllowCredentials, false, 'the token is a header, never a cookie');
    assert.equal(cors.ExposeHeaders, undefined, 'the page reads no response header');
    assert.ok(cors.MaxAge > 0);
  });

  it('has an admin group (cognito:groups carries it to the admin routes) and logs access', () => {
    template().hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'admin' });
    template().hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });
});

describe('Cognito sign-in of the bidder page', () => {
  const [[clientId, client], ...moreClients] = Object.entries(resourcesOfType('AWS::Cognito::UserPoolClient'));
  const [distributionId] = Object.keys(resourcesOfType('AWS::CloudFront::Distribution'));
  const pageUrl = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] };

  it('has a hosted UI domain: <stack name>-<8 hex digits of the stack id> by default', () => {
    const [[, domain], ...more] = Object.entries(resourcesOfType('AWS::Cognito::UserPoolDomain'));
    assert.equal(more.length, 0);
    const [poolId] = Object.keys(resourcesOfType('AWS::Cognito::UserPool'));
    assert.equal(referenced(domain.Properties.UserPoolId), poolId);
    assert.deepEqual(domain.Properties.Domain, {
      'Fn::Join': ['', ['auctionplatform-', {
        'Fn::Select': [0, { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] }],
      }]],
    });
    assert.equal(domain.Properties.CustomDomainConfig, undefined);
  });

  it('takes the domain prefix from -c authDomainPrefix, checked against Cognito\'s rules', () => {
    const { stack } = synthStack({ authDomainPrefix: 'bids-staging' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'bids-staging' });
    for (const bad of ['Upper', '-edge', 'edge-', 'my-aws-login', 'cognito', 'a_b', 'x'.repeat(64)]) {
      assert.throws(() => synthStack({ authDomainPrefix: bad }), /not a Cognito domain prefix/, bad);
    }
  });

  it('has one public client: code flow only, openid/email/profile, back to the page\'s URL', () => {
    assert.equal(moreClients.length, 0);
    const p = client.Properties;
    assert.equal(p.GenerateSecret, false, 'a public client (PKCE, no secret)');
    assert.equal(p.AllowedOAuthFlowsUserPoolClient, true);
    assert.deepEqual(p.AllowedOAuthFlows, ['code']);
    assert.deepEqual([...p.AllowedOAuthScopes].sort(), ['email', 'openid', 'profile']);
    assert.deepEqual(p.SupportedIdentityProviders, ['COGNITO']);
    assert.deepEqual(p.CallbackURLs, [pageUrl]);
    assert.deepEqual(p.LogoutURLs, [pageUrl]);
    assert.equal(p.EnableTokenRevocation, true);
    // The JWT authorizer's audience is this client (an ID token's aud).
    const [authorizer] = Object.values(resourcesOfType('AWS::ApiGatewayV2::Authorizer'));
    assert.deepEqual(authorizer.Properties.JwtConfiguration.Audience, [{ Ref: clientId }]);
  });
});

describe('the WebSocket API of live updates', () => {
  const apis = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api')).filter(([, a]) => a.Properties.ProtocolType === 'WEBSOCKET');
  const apiId = apis[0]?.[0];
  const ofApi = (type: string) => Object.entries(resourcesOfType(type)).filter(([, r]) => referenced(r.Properties.ApiId) === apiId);

  it('routes $connect, $disconnect and $default to live-ws-lambda (route selection on the action)', () => {
    assert.equal(apis.length, 1);
    assert.equal(apis[0][1].Properties.RouteSelectionExpression, '$request.body.action');
    const ws = functionsByBinary().get('live-ws-lambda')!;
    const integrations = ofApi('AWS::ApiGatewayV2::Integration');
    assert.equal(integrations.length, 1);
    const [integrationId, integration] = integrations[0];
    assert.equal(integration.Properties.IntegrationType, 'AWS_PROXY');
    assert.ok(JSON.stringify(integration.Properties.IntegrationUri).includes(`"${ws.id}"`));
    const routes = ofApi('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    assert.deepEqual(routes.map((r) => r.RouteKey).sort(), ['$connect', '$default', '$disconnect']);
    for (const route of routes) {
      assert.ok(JSON.stringify(route.Target).includes(integrationId), route.RouteKey);
    }
    // Each route may invoke the function, and nothing else may.
    const permissions = Object.values(resourcesOfType('AWS::Lambda::Permission')).filter((p) => referenced(p.Properties.FunctionName) === ws.id);
    assert.equal(permissions.length, 3);
    for (const permission of permissions) assert.equal(permission.Properties.Principal, 'apigateway.amazonaws.com');
  });

  it('returns the answer to a message as the $default route response', () => {
    const [[routeId, route]] = ofApi('AWS::ApiGatewayV2::Route').filter(([, r]) => r.Properties.RouteKey === '$default');
    assert.equal(route.Properties.RouteResponseSelectionExpression, '$default');
    const responses = ofApi('AWS::ApiGatewayV2::RouteResponse');
    assert.equal(responses.length, 1);
    assert.equal(referenced(responses[0][1].Properties.RouteId), routeId);
    assert.equal(responses[0][1].Properties.RouteResponseKey, '$default');
  });

  it('has a throttled stage `live` with an access log that leaves the query string (the token) out', () => {
    const [[, stage], ...more] = ofApi('AWS::ApiGatewayV2::Stage');
    assert.equal(more.length, 0);
    assert.equal(stage.Properties.StageName, 'live');
    assert.equal(stage.Properties.AutoDeploy, true);
    assert.deepEqual(stage.Properties.DefaultRouteSettings, { ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 });
    const format: string = stage.Properties.AccessLogSettings.Format;
    assert.ok(referenced(stage.Properties.AccessLogSettings.DestinationArn));
    assert.match(format, /\$context\.connectionId/);
    assert.doesNotMatch(format, /requestQuery|querystring|token/i);
  });
});

describe('the bidder page', () => {
  const buckets = resourcesOfType('AWS::S3::Bucket');
  const [deployment] = Object.values(resourcesOfType('Custom::CDKBucketDeployment'));
  const siteId = referenced(deployment?.Properties.DestinationBucketName)!;

  it('is deployed to a private, encrypted, versioned bucket that refuses plain HTTP', () => {
    const site = buckets[siteId];
    assert.ok(site, 'the deployment writes to a bucket of the stack');
    assert.deepEqual(site.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    assert.equal(site.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    assert.equal(site.Properties.VersioningConfiguration.Status, 'Enabled');
    assert.ok(site.Properties.LoggingConfiguration.DestinationBucketName);
    const policies = Object.values(resourcesOfType('AWS::S3::BucketPolicy')).filter((p) => referenced(p.Properties.Bucket) === siteId);
    assert.equal(policies.length, 1);
    const statements = policies[0].Properties.PolicyDocument.Statement;
    assert.ok(statements.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
    // Only CloudFront (this distribution, through OAC) may read it.
    const reads = statements.filter((s: any) => s.Effect === 'Allow');
    assert.equal(reads.length, 1);
    assert.deepEqual(reads[0].Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.deepEqual(reads[0].Action, 's3:GetObject');
    assert.ok(JSON.stringify(reads[0].Condition).includes('AWS:SourceArn'));
  });

  it('is served by CloudFront over HTTPS through Origin Access Control, index.html at the root', () => {
    const [distribution, ...more] = Object.values(resourcesOfType('AWS::CloudFront::Distribution'));
    assert.equal(more.length, 0);
    const config = distribution.Properties.DistributionConfig;
    assert.equal(config.DefaultRootObject, 'index.html');
    assert.equal(config.DefaultCacheBehavior.ViewerProtocolPolicy, 'redirect-to-https');
    // The page's origin serves everything but thumbnails/* (the photos bucket's: below).
    const origin = config.Origins.find((o: any) => o.Id === config.DefaultCacheBehavior.TargetOriginId);
    assert.ok(JSON.stringify(origin.DomainName).includes(siteId));
    const oac = resourcesOfType('AWS::CloudFront::OriginAccessControl')[referenced(origin.OriginAccessControlId)!];
    assert.equal(oac.Properties.OriginAccessControlConfig.SigningBehavior, 'always');
    assert.equal(oac.Properties.OriginAccessControlConfig.OriginAccessControlOriginType, 's3');
    assert.ok(config.Logging.Bucket);
  });

  it('deploys config.json with the APIs\' URLs and the hosted UI, filled in at deployment', () => {
    const out = synthStack().app.synth().directory;
    const staged = fs.readdirSync(out)
      .map((name) => path.join(out, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'config.json')));
    assert.equal(staged.length, 1, 'one staged config.json, beside no page file');
    assert.deepEqual(fs.readdirSync(staged[0]), ['config.json']);
    const config = JSON.parse(fs.readFileSync(path.join(staged[0], 'config.json'), 'utf8'));
    // Each marker is replaced at deployment by the value the custom resource is given.
    const markers: Record<string, any> = deployment.Properties.SourceMarkers[1];
    assert.deepEqual(deployment.Properties.SourceMarkers[0], {}, 'the page itself has no markers');
    const fill = (text: string) => text.replace(/<<marker:0xbaba:\d+>>/g, (m) => JSON.stringify(markers[m]));
    const ids = (type: string) => Object.keys(resourcesOfType(type));
    const [httpApiId] = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api')).filter(([, a]) => a.Properties.ProtocolType === 'HTTP').map(([id]) => id);
    const [liveApiId] = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api')).filter(([, a]) => a.Properties.ProtocolType === 'WEBSOCKET').map(([id]) => id);
    const [distributionId] = ids('AWS::CloudFront::Distribution');
    const page = `https://${JSON.stringify({ 'Fn::GetAtt': [distributionId, 'DomainName'] })}/`;
    assert.deepEqual(Object.keys(config).sort(), ['apiUrl', 'liveUrl', 'signIn']);
    assert.equal(fill(config.apiUrl), JSON.stringify({ 'Fn::GetAtt': [httpApiId, 'ApiEndpoint'] }));
    assert.equal(fill(config.liveUrl), `wss://${JSON.stringify({ Ref: liveApiId })}.execute-api.us-east-1.${JSON.stringify({ Ref: 'AWS::URLSuffix' })}/live`);
    assert.deepEqual(Object.fromEntries(Object.entries(config.signIn).map(([k, v]) => [k, fill(String(v))])), {
      kind: 'cognito',
      domain: `https://${JSON.stringify({ Ref: ids('AWS::Cognito::UserPoolDomain')[0] })}.auth.us-east-1.amazoncognito.com`,
      clientId: JSON.stringify({ Ref: ids('AWS::Cognito::UserPoolClient')[0] }),
      redirectUri: page,
      logoutUri: page,
    });
    // Values with quotes would be escaped for JSON; the deployment prunes nothing of its own.
    assert.deepEqual(deployment.Properties.SourceMarkersConfig, [{}, { jsonEscape: true }]);
    assert.equal(deployment.Properties.SourceObjectKeys.length, 2, 'the page and config.json, in one deployment');
  });

  it('deploys web/ without its tests and invalidates the distribution', () => {
    assert.deepEqual(deployment.Properties.DistributionPaths, ['/*']);
    assert.ok(referenced(deployment.Properties.DistributionId));
    const out = synthStack().app.synth().directory;
    const staged = fs.readdirSync(out)
      .map((name) => path.join(out, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'index.html')));
    assert.equal(staged.length, 1, 'one staged copy of the page');
    assert.equal(fs.existsSync(path.join(staged[0], 'e2e')), false);
    assert.equal(fs.existsSync(path.join(staged[0], 'test')), false);
    assert.equal(fs.existsSync(path.join(staged[0], 'config.json')), false, 'config.json comes from the stack only');
    if (fs.existsSync(path.join(siteAssets(), 'auth.js'))) {
      assert.ok(fs.existsSync(path.join(staged[0], 'auth.js')), 'the sign-in helpers the page loads');
    }
  });
});

describe('item photos', () => {
  const variables = (binary: string): Record<string, any> =>
    functionsByBinary().get(binary)!.resource.Properties.Environment.Variables;
  const photosId = () => referenced(variables('thumbnailer-lambda').PHOTOS_BUCKET)!;
  const [distributionId] = Object.keys(resourcesOfType('AWS::CloudFront::Distribution'));
  const siteOrigin = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] };
  const photosObjects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [photosId(), 'Arn'] }, `/${prefix}`]] });

  it('the bucket blocks public access, is encrypted, refuses plain HTTP, logs access, is retained and expires refusals after 30 days', () => {
    const bucket = resourcesOfType('AWS::S3::Bucket')[photosId()];
    assert.ok(bucket, 'PHOTOS_BUCKET names a bucket of the stack');
    assert.equal(referenced(variables('api-lambda').PHOTOS_BUCKET), photosId(), 'the API and the thumbnailer share the bucket');
    const p = bucket.Properties;
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    assert.equal(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    assert.equal(p.VersioningConfiguration, undefined, 'a deleted original (maybe hostile) is gone, not a noncurrent version');
    assert.equal(p.BucketName, undefined);
    assert.ok(referenced(p.LoggingConfiguration.DestinationBucketName), 'access logs');
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    assert.deepEqual(p.LifecycleConfiguration.Rules.map((r: any) => [r.Prefix ?? r.Filter?.Prefix, r.ExpirationInDays, r.Status]),
      [['refusals/', 30, 'Enabled']]);
    const [policy, ...more] = Object.values(resourcesOfType('AWS::S3::BucketPolicy')).filter((pol) => referenced(pol.Properties.Bucket) === photosId());
    assert.equal(more.length, 0);
    assert.ok(policy.Properties.PolicyDocument.Statement.some((st: any) =>
      st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
  });

  it('allows CORS from the site\'s origin only, POST only (the browser posts the presigned form to the bucket)', () => {
    // Set by a custom resource's PutBucketCors after the distribution exists (the bucket is
    // the distribution's origin, so it cannot name it itself): no CORS rule on the bucket.
    assert.equal(resourcesOfType('AWS::S3::Bucket')[photosId()].Properties.CorsConfiguration, undefined);
    const [cors, ...more] = Object.values(resourcesOfType('Custom::AWS'));
    assert.equal(more.length, 0);
    // The call is JSON with the deploy-time values joined in: put them back as objects.
    const call = (joined: any) => {
      const values: any[] = [];
      const text = joined['Fn::Join'][1].map((part: any) => typeof part === 'string' ? part : `<${values.push(part) - 1}>`).join('');
      const restore = (value: any): any => {
        if (typeof value === 'string') {
          const parts = value.split(/(<\d+>)/).filter((t) => t !== '').map((t) => /^<\d+>$/.test(t) ? values[Number(t.slice(1, -1))] : t);
          return parts.length === 1 ? parts[0] : { 'Fn::Join': ['', parts] };
        }
        if (Array.isArray(value)) return value.map(restore);
        if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, restore(v)]));
        return value;
      };
      return restore(JSON.parse(text));
    };
    for (const when of ['Create', 'Update']) {
      const { service, action, parameters } = call(cors.Properties[when]);
      assert.equal(service, 'S3', when);
      assert.equal(action, 'PutBucketCors', when);
      assert.deepEqual(parameters, {
        Bucket: { Ref: photosId() },
        CORSConfiguration: {
          CORSRules: [{ AllowedOrigins: [siteOrigin], AllowedMethods: ['POST'], AllowedHeaders: ['*'], MaxAgeSeconds: 3600 }],
        },
      }, when);
    }
    assert.equal(cors.Properties.Delete, undefined, 'the retained bucket keeps its rule');
  });

  it('notifies the uploads queue of objects created under originals/ only (not of the thumbnailer\'s own writes)', () => {
    const [notifications, ...more] = Object.values(resourcesOfType('Custom::S3BucketNotifications'));
    assert.equal(more.length, 0);
    assert.deepEqual(notifications.Properties.BucketName, { Ref: photosId() });
    const configuration = notifications.Properties.NotificationConfiguration;
    assert.deepEqual(Object.keys(configuration), ['QueueConfigurations'], 'no Lambda, topic or EventBridge notification');
    assert.deepEqual(configuration.QueueConfigurations, [{
      Events: ['s3:ObjectCreated:*'],
      Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'originals/' }] } },
      QueueArn: { 'Fn::GetAtt': [photoQueues().queue, 'Arn'] },
    }]);
    // S3 may send to the queue from this bucket only.
    const policies = Object.values(resourcesOfType('AWS::SQS::QueuePolicy')).filter((p) =>
      p.Properties.Queues.some((q: any) => referenced(q) === photoQueues().queue));
    const sends = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((st: any) => st.Effect === 'Allow');
    assert.equal(sends.length, 1);
    assert.deepEqual(sends[0].Principal, { Service: 's3.amazonaws.com' });
    assert.deepEqual(sends[0].Condition.ArnLike['aws:SourceArn'], { 'Fn::GetAtt': [photosId(), 'Arn'] });
  });

  it('the site distribution serves thumbnails/* from the photos bucket through OAC (GET/HEAD, HTTPS, cached), and nothing else of it', () => {
    const config = resourcesOfType('AWS::CloudFront::Distribution')[distributionId].Properties.DistributionConfig;
    const photoOrigins = config.Origins.filter((o: any) => referenced(o.DomainName) === photosId());
    assert.equal(photoOrigins.length, 1);
    const [origin] = photoOrigins;
    assert.equal(origin.OriginPath, undefined);
    assert.deepEqual(origin.S3OriginConfig, { OriginAccessIdentity: '' });
    const oac = resourcesOfType('AWS::CloudFront::OriginAccessControl')[referenced(origin.OriginAccessControlId)!];
    assert.equal(oac.Properties.OriginAccessControlConfig.SigningBehavior, 'always');
    assert.equal(oac.Properties.OriginAccessControlConfig.OriginAccessControlOriginType, 's3');
    assert.notEqual(config.DefaultCacheBehavior.TargetOriginId, origin.Id);
    const behaviours = (config.CacheBehaviors ?? []).filter((b: any) => b.TargetOriginId === origin.Id);
    assert.equal(behaviours.length, 1);
    const [b] = behaviours;
    assert.equal(b.PathPattern, 'thumbnails/*');
    assert.deepEqual(b.AllowedMethods, ['GET', 'HEAD']);
    assert.equal(b.ViewerProtocolPolicy, 'redirect-to-https');
    assert.equal(b.CachePolicyId, '658327ea-f89d-4fab-a63d-7e88639e58f6', 'CACHING_OPTIMIZED');
    assert.equal(b.ResponseHeadersPolicyId, config.DefaultCacheBehavior.ResponseHeadersPolicyId, 'the site\'s security headers');
    // The bucket policy: CloudFront (this distribution) may read thumbnails/*, and is refused
    // everything else of the bucket; nobody else is allowed anything.
    const [policy] = Object.values(resourcesOfType('AWS::S3::BucketPolicy')).filter((pol) => referenced(pol.Properties.Bucket) === photosId());
    const statements = policy.Properties.PolicyDocument.Statement;
    const allows = statements.filter((st: any) => st.Effect === 'Allow');
    assert.equal(allows.length, 1);
    assert.deepEqual(allows[0].Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.equal(allows[0].Action, 's3:GetObject');
    assert.deepEqual(allows[0].Resource, photosObjects('thumbnails/*'));
    assert.deepEqual(allows[0].Condition, { StringEquals: { 'AWS:SourceArn': {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::123456789012:distribution/', { Ref: distributionId }]],
    } } });
    const refusals = statements.filter((st: any) => st.Effect === 'Deny' && st.Principal?.Service === 'cloudfront.amazonaws.com');
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0].Action, 's3:*');
    assert.equal(refusals[0].Condition, undefined);
    assert.deepEqual(refusals[0].NotResource, photosObjects('thumbnails/*'));
  });

  it('the uploads queue: a DLQ after 3 receives (14 days, alarmed on a visible message), a visibility timeout of 6x the thumbnailer\'s timeout', () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    const { queue, dlq } = photoQueues();
    const thumbnailer = functionsByBinary().get('thumbnailer-lambda')!;
    const timeout = thumbnailer.resource.Properties.Timeout;
    assert.equal(timeout, 30);
    assert.equal(queues[queue].Properties.FifoQueue, undefined, 'S3 notifies standard queues only');
    assert.equal(queues[queue].Properties.RedrivePolicy.maxReceiveCount, 3);
    assert.ok(queues[queue].Properties.VisibilityTimeout >= 6 * timeout,
      `visibility ${queues[queue].Properties.VisibilityTimeout} s < 6 x ${timeout} s`);
    assert.equal(queues[dlq].Properties.MessageRetentionPeriod, 14 * 24 * 3600);
    const [mapping, ...more] = Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'))
      .filter((m) => referenced(m.Properties.FunctionName) === thumbnailer.id);
    assert.equal(more.length, 0);
    assert.equal(referenced(mapping.Properties.EventSourceArn), queue);
    assert.equal(mapping.Properties.BatchSize, 10);
    assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    // Nobody consumes the DLQ (the parker parks the event log's consumers only): a message
    // waiting there calls a person.
    assert.equal(Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping')).filter((m) => referenced(m.Properties.EventSourceArn) === dlq).length, 0);
    const alarms = Object.values(resourcesOfType('AWS::CloudWatch::Alarm')).filter((a) =>
      a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
      a.Properties.Dimensions.some((d: any) => d.Name === 'QueueName' && referenced(d.Value) === dlq));
    assert.equal(alarms.length, 1);
    assert.equal(alarms[0].Properties.Statistic, 'Maximum');
    assert.equal(alarms[0].Properties.Threshold, 0);
    assert.equal(alarms[0].Properties.ComparisonOperator, 'GreaterThanThreshold');
  });

  it('api-lambda is told where thumbnails are served: MEDIA_URL is the site\'s origin', () => {
    assert.deepEqual(variables('api-lambda').MEDIA_URL, siteOrigin);
    for (const [binary, { resource }] of functionsByBinary()) {
      const told = Object.keys(resource.Properties.Environment?.Variables ?? {});
      if (binary !== 'api-lambda') assert.ok(!told.includes('MEDIA_URL'), binary);
      if (!['api-lambda', 'thumbnailer-lambda'].includes(binary)) assert.ok(!told.includes('PHOTOS_BUCKET'), binary);
    }
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

  it('each stream consumer has an IteratorAge alarm, and only they', () => {
    for (const binary of ['projector-lambda', 'publisher-lambda']) {
      const fn = functionsByBinary().get(binary)!;
      const [alarm] = find('IteratorAge', 'FunctionName', fn.id);
      assert.ok(alarm, binary);
      assert.equal(alarm.Properties.Statistic, 'Maximum');
    }
    const broadcaster = functionsByBinary().get('live-broadcaster-lambda')!;
    assert.equal(find('IteratorAge', 'FunctionName', broadcaster.id).length, 0);
  });

  // The DLQs and the stream failure queue are drained by the parker: what stays in them is a
  // message it could not park.
  const drained = () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    const dlqs = new Set(Object.values(queues)
      .map((q) => q.Properties.RedrivePolicy?.deadLetterTargetArn)
      .filter((arn) => arn !== undefined)
      .map((arn) => referenced(arn)!));
    // The photo uploads queue and its DLQ are not the parker's (their alarm: below).
    const photos = photoQueues();
    dlqs.delete(photos.dlq);
    const failures = Object.entries(queues)
      .filter(([id, q]) => !q.Properties.FifoQueue && id !== photos.queue && id !== photos.dlq)
      .map(([id]) => id);
    assert.equal(dlqs.size, 3);
    assert.equal(failures.length, 1);
    return [...dlqs, ...failures];
  };
  const onQueue = (dimensions: any[] | undefined, id: string) =>
    (dimensions ?? []).some((d: any) => d.Name === 'QueueName' && JSON.stringify(d.Value).includes(`"${id}"`));

  it('each DLQ and the stream failure queue alarm when a message is older than 2 minutes', () => {
    for (const id of drained()) {
      const found = alarms.filter((a) => a.Properties.MetricName === 'ApproximateAgeOfOldestMessage' && onQueue(a.Properties.Dimensions, id));
      assert.equal(found.length, 1, `no age alarm for ${id}`);
      const p = found[0].Properties;
      assert.equal(p.Namespace, 'AWS/SQS');
      assert.equal(p.Statistic, 'Maximum');
      assert.equal(p.Period, 60);
      assert.equal(p.Threshold, 120);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    }
  });

  it('each DLQ and the stream failure queue alarm when messages (visible or in flight) stay for 5 minutes', () => {
    for (const id of drained()) {
      const found = alarms.filter((a) => (a.Properties.Metrics ?? []).some((m: any) => onQueue(m.MetricStat?.Metric.Dimensions, id)));
      assert.equal(found.length, 1, `no held-messages alarm for ${id}`);
      const p = found[0].Properties;
      const [expression, ...metrics] = [...p.Metrics].sort((a: any, b: any) => (a.Expression ? -1 : 1) - (b.Expression ? -1 : 1));
      const byId = Object.fromEntries(metrics.map((m: any) => [m.Id, m.MetricStat]));
      assert.deepEqual(expression.Expression.replace(/\s/g, '').split('+').map((t: string) => byId[t]?.Metric.MetricName).sort(),
        ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible']);
      for (const m of metrics) {
        assert.equal(m.ReturnData, false);
        assert.equal(m.MetricStat.Stat, 'Maximum');
        assert.equal(m.MetricStat.Period, 60);
      }
      assert.equal(p.EvaluationPeriods, 5);
      assert.equal(p.Threshold, 0);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    }
  });

  it('the HTTP API alarms on its 5xx rate, once it served 50 requests in 5 minutes', () => {
    const [httpApiId] = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api'))
      .filter(([, a]) => a.Properties.ProtocolType === 'HTTP').map(([id]) => id);
    const found = alarms.filter((a) => (a.Properties.Metrics ?? []).some((m: any) => m.MetricStat?.Metric.MetricName === '5xx'));
    assert.equal(found.length, 1);
    const p = found[0].Properties;
    const [expression, ...inputs] = [...p.Metrics].sort((a: any, b: any) => (a.Expression ? -1 : 1) - (b.Expression ? -1 : 1));
    const byId = Object.fromEntries(inputs.map((m: any) => [m.Id, m]));
    assert.deepEqual(Object.keys(byId).sort(), ['errors', 'requests']);
    assert.equal(byId.errors.MetricStat.Metric.MetricName, '5xx');
    assert.equal(byId.requests.MetricStat.Metric.MetricName, 'Count');
    for (const input of inputs) {
      assert.equal(input.ReturnData, false);
      assert.equal(input.MetricStat.Metric.Namespace, 'AWS/ApiGateway');
      assert.deepEqual(input.MetricStat.Metric.Dimensions, [{ Name: 'ApiId', Value: { Ref: httpApiId } }]);
      assert.equal(input.MetricStat.Stat, 'Sum');
      assert.equal(input.MetricStat.Period, 300);
    }
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(p.EvaluationPeriods, 1);
    assert.equal(p.Threshold, HTTP_5XX_ALARM.percent);
    // CloudWatch's IF and FILL, for the values of one period.
    const pages = (errors: number, requests: number): boolean =>
      Function('IF', 'FILL', 'errors', 'requests', `return ${expression.Expression};`)(
        (condition: boolean, then: number, otherwise: number) => (condition ? then : otherwise),
        (value: number) => value, errors, requests) > p.Threshold;
    assert.equal(pages(1, 1), false, 'one failed request at night');
    assert.equal(pages(10, 49), false, 'too few requests to say');
    assert.equal(pages(2, 50), false, '4 %');
    assert.equal(pages(3, 50), true, '6 %');
    assert.equal(pages(600, 600), true, 'DynamoDB is down');
  });

  it('the HTTP API alarms on its p95 latency above 1 s for 15 minutes, ignoring periods of too few requests', () => {
    const [httpApiId] = Object.entries(resourcesOfType('AWS::ApiGatewayV2::Api'))
      .filter(([, a]) => a.Properties.ProtocolType === 'HTTP').map(([id]) => id);
    const found = alarms.filter((a) => (a.Properties.Metrics ?? [a.Properties]).some((m: any) =>
      (m.MetricStat?.Metric ?? m).MetricName === 'Latency'));
    assert.equal(found.length, 1);
    const p = found[0].Properties;
    const [metric] = p.Metrics;
    assert.equal(p.Metrics.length, 1);
    assert.equal(metric.MetricStat.Metric.Namespace, 'AWS/ApiGateway');
    assert.deepEqual(metric.MetricStat.Metric.Dimensions, [{ Name: 'ApiId', Value: { Ref: httpApiId } }]);
    assert.equal(metric.MetricStat.Stat, 'p95');
    assert.equal(metric.MetricStat.Period, 300);
    assert.equal(p.Threshold, 1000);
    assert.equal(p.Threshold, HTTP_LATENCY_ALARM.p95Millis);
    assert.equal(p.EvaluationPeriods, 3);
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(p.EvaluateLowSampleCountPercentile, 'ignore');
  });

  it('anything parked alarms, per consumer: Sum of AuctionPlatform RecordsParked > 0 (>= 1 item) in 5 minutes', () => {
    const parked = alarms.filter((a) => a.Properties.Namespace === 'AuctionPlatform' && a.Properties.MetricName === 'RecordsParked');
    const consumers = parked.map((a) => {
      const p = a.Properties;
      assert.equal(p.Statistic, 'Sum');
      assert.equal(p.Period, 300);
      assert.equal(p.EvaluationPeriods, 1);
      assert.equal(p.Threshold, 0);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(p.TreatMissingData, 'notBreaching');
      assert.equal(p.Dimensions.length, 1);
      assert.equal(p.Dimensions[0].Name, 'Consumer');
      return p.Dimensions[0].Value;
    });
    // The consumer names the parker writes (adapters/parking/src/consumer.rs).
    assert.deepEqual(consumers.sort(), ['broadcaster', 'notifier', 'payment-saga', 'projector', 'publisher']);
  });

  it('every alarm on a custom metric watches one of infra/metrics.json, with its dimensions', () => {
    const contract = metricsContract();
    const custom = alarms.filter((a) => a.Properties.Namespace !== undefined && !a.Properties.Namespace.startsWith('AWS/'));
    assert.ok(custom.length > 0);
    for (const { Properties: p } of custom) {
      assert.equal(p.Namespace, contract.namespace);
      const definition = contract.metrics.find((m) => m.name === p.MetricName);
      assert.ok(definition, `${p.MetricName} is not in infra/metrics.json`);
      assert.deepEqual(p.Dimensions.map((d: any) => d.Name).sort(), [...definition.dimensions].sort(), p.MetricName);
    }
    // Math alarms read only AWS metrics (the HTTP API's, the queues').
    for (const alarm of alarms) {
      for (const m of alarm.Properties.Metrics ?? []) {
        if (m.MetricStat) assert.match(m.MetricStat.Metric.Namespace, /^AWS\//);
      }
    }
  });
});
