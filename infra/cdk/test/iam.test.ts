// Least privilege, exactly: every action each function's role holds, on which resource. The
// table below is the one in README.md; a grant added or widened without updating both fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { functionsByBinary, referenced, resourcesOfType } from './synth';

type Grants = Record<string, string[]>;

const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
// What the DynamoDB stream event source mapping needs (granted by DynamoEventSource).
const STREAM = {
  'Events stream': ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
  '*': ['dynamodb:ListStreams'],
  // The on-failure destination (granted by SqsDlq).
  'stream-failures queue': ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
};
// Active tracing: what CDK grants every traced function (the X-Ray actions have no resource
// type, so they are on "*"), beside the table below.
const XRAY = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
// What an SQS event source mapping needs (granted by SqsEventSource).
const CONSUME = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];

export const EXPECTED: Record<string, Grants> = {
  'api-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    'EVENTS_TABLE/index/byTypeShard': ['dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    IDEMPOTENCY_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    // The views as the API reads them, and as the projector writes them (a replay of parked
    // items runs the projector's handler).
    AUCTION_VIEWS_TABLE: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE-r*': ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE/index/byStatus': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE-r*/index/byStatus': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE/index/bySeller': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE-r*/index/bySeller': ['dynamodb:Query'],
    USER_BIDS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    'USER_BIDS_TABLE-r*': ['dynamodb:PutItem', 'dynamodb:Query'],
    NOTIFICATIONS_TABLE: ['dynamodb:Query'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
    // The admin routes list and replay the parked items, and a replay sends to the queues.
    PARKED_TABLE: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan'],
    // The card and payout account on file: read before a bid, a purchase or a creation, set
    // one part at a time by the registration routes.
    PAYMENT_IDENTITIES_TABLE: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    // The caller's watchlist: watch, unwatch, a page of it.
    WATCHLIST_TABLE: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query'],
    // POST /webhooks/stripe records each delivery (the conditional replay check) and marks its
    // event handled: UpdateItem only.
    STRIPE_WEBHOOK_DELIVERIES_TABLE: ['dynamodb:UpdateItem'],
    // Stripe's key (the identity checks) and the webhook signing secret, read at start-up.
    STRIPE_SECRET_KEY_ID: ['secretsmanager:GetSecretValue'],
    STRIPE_WEBHOOK_SECRET_ID: ['secretsmanager:GetSecretValue'],
    'notifications queue': ['sqs:SendMessage'],
    'payments queue': ['sqs:SendMessage'],
    'live queue': ['sqs:SendMessage'],
    // A replay of the projector's parked items moves the streams' heads as the projector does;
    // the proofs read the last digest's sequence, and the digests and their leaves (read only;
    // ListBucket so that a missing key is a 404, which ends the walk to the last digest).
    STREAM_HEADS_TABLE: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    'DIGEST_BUCKET/*': ['s3:GetObject'],
    DIGEST_BUCKET: ['s3:ListBucket'],
    // The subjects' key store (docs/privacy.md): a subject's key found (GetItem), made (a
    // transaction of two conditional Puts, its data key from KMS) and forgotten (two Deletes);
    // a pseudonym revealed (GetItem, and Decrypt of the wrapped key).
    SUBJECT_KEYS_TABLE: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    SUBJECT_KEY_ID: ['kms:Decrypt', 'kms:GenerateDataKey'],
    // Email preferences read and saved, and turned off by an unsubscribe link, whose MAC only
    // KMS checks.
    EMAIL_NOTICES_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    UNSUBSCRIBE_KEY_ID: ['kms:VerifyMac'],
    // Item photos: the upload grants are presigned POSTs signed with this role's credentials,
    // so S3 authorizes the browser's upload as this role's PutObject on originals/ (GetObject
    // for the HeadObject of a pending original); thumbnails and refusals read only; ListBucket
    // for an auction's thumbnails and 404 rather than 403 on a missing key. Never a delete.
    'PHOTOS_BUCKET/originals/*': ['s3:GetObject', 's3:PutObject'],
    'PHOTOS_BUCKET/thumbnails/*': ['s3:GetObject'],
    'PHOTOS_BUCKET/refusals/*': ['s3:GetObject'],
    PHOTOS_BUCKET: ['s3:ListBucket'],
  },
  // The digester: every head (parallel Scan), the last digest's sequence (GetItem, UpdateItem);
  // the digest objects written once (PutObject with If-None-Match: *) and read back; the
  // signature. Nothing that deletes an object or touches its lock (test/stack.test.ts checks
  // every role for that).
  'digester-lambda': {
    'own log group': LOGS,
    STREAM_HEADS_TABLE: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
    'DIGEST_BUCKET/*': ['s3:GetObject', 's3:PutObject'],
    DIGEST_BUCKET: ['s3:ListBucket'],
    DIGEST_KEY_ID: ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign'],
  },
  'projector-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:Query'],
    AUCTION_VIEWS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE-r*': ['dynamodb:GetItem', 'dynamodb:PutItem'],
    USER_BIDS_TABLE: ['dynamodb:PutItem'],
    'USER_BIDS_TABLE-r*': ['dynamodb:PutItem'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
    // Each stream's head, moved forward (conditional UpdateItem).
    STREAM_HEADS_TABLE: ['dynamodb:UpdateItem'],
    ...STREAM,
  },
  'publisher-lambda': {
    'own log group': LOGS,
    'notifications queue': ['sqs:SendMessage'],
    'payments queue': ['sqs:SendMessage'],
    'live queue': ['sqs:SendMessage'],
    ...STREAM,
  },
  'notifier-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem'],
    NOTIFICATIONS_TABLE: ['dynamodb:PutItem'],
    'notifications queue': CONSUME,
    // Email notices: the recipient's preferences and the sent marks, a MAC per unsubscribe
    // link (never a check), and SendEmail as the notices' sender only.
    EMAIL_NOTICES_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    UNSUBSCRIBE_KEY_ID: ['kms:GenerateMac'],
    'SES sender identity': ['ses:SendEmail'],
  },
  'payment-saga-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    IDEMPOTENCY_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    PAYMENT_SAGAS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    // The buyer's card and the seller's connected account (written only by the API).
    PAYMENT_IDENTITIES_TABLE: ['dynamodb:GetItem'],
    // Stripe's key, read at start-up: the saga moves money with it.
    STRIPE_SECRET_KEY_ID: ['secretsmanager:GetSecretValue'],
    'payments queue': CONSUME,
  },
  'scheduler-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE/index/byStatus': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE-r*/index/byStatus': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE/index/byStart': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE-r*/index/byStart': ['dynamodb:Query'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
    // "Ends soon": an auction's watchers, their notices stored and emailed as the notifier does.
    'WATCHLIST_TABLE/index/byAuction': ['dynamodb:Query'],
    NOTIFICATIONS_TABLE: ['dynamodb:PutItem'],
    EMAIL_NOTICES_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    UNSUBSCRIBE_KEY_ID: ['kms:GenerateMac'],
    'SES sender identity': ['ses:SendEmail'],
  },
  // The reconciler: the log and its byTypeShard index, the sagas and the inbox by key (read
  // only); the projector's writes, the streams' heads among them (it redelivers through the
  // projector's handler); the three
  // queues it redelivers to; the parked items it replays (Scan to list them, GetItem, and
  // DeleteItem or PutItem of a failed replay, as parking's replay does).
  'reconciler-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:Query'],
    'EVENTS_TABLE/index/byTypeShard': ['dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem'],
    PAYMENT_SAGAS_TABLE: ['dynamodb:GetItem'],
    NOTIFICATIONS_TABLE: ['dynamodb:BatchGetItem'],
    AUCTION_VIEWS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE-r*': ['dynamodb:GetItem', 'dynamodb:PutItem'],
    USER_BIDS_TABLE: ['dynamodb:PutItem'],
    'USER_BIDS_TABLE-r*': ['dynamodb:PutItem'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
    STREAM_HEADS_TABLE: ['dynamodb:UpdateItem'],
    PARKED_TABLE: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan'],
    'notifications queue': ['sqs:SendMessage'],
    'payments queue': ['sqs:SendMessage'],
    'live queue': ['sqs:SendMessage'],
  },
  'live-ws-lambda': {
    'own log group': LOGS,
    LIVE_CONNECTIONS_TABLE: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
  },
  // The parker: PutItem of parked items only; the given-up range read back from the Events
  // stream (no DescribeStream, no ListStreams: the on-failure record names stream and shard);
  // the four queues it drains.
  'parker-lambda': {
    'own log group': LOGS,
    PARKED_TABLE: ['dynamodb:PutItem'],
    'Events stream': ['dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
    'stream-failures queue': CONSUME,
    'notifications DLQ': CONSUME,
    'payments DLQ': CONSUME,
    'live DLQ': CONSUME,
  },
  // The thumbnailer: an original read, then deleted (thumbnailed or refused); its thumbnail
  // written; a refusal written and read back (a step run twice keeps the first reason); the
  // bucket listed (an auction's thumbnails, and 404 on a missing key); the uploads queue the
  // bucket notifies. Nothing on originals/ but read and delete, nothing of thumbnails/ but write.
  'thumbnailer-lambda': {
    'own log group': LOGS,
    'PHOTOS_BUCKET/originals/*': ['s3:DeleteObject', 's3:GetObject'],
    'PHOTOS_BUCKET/thumbnails/*': ['s3:PutObject'],
    'PHOTOS_BUCKET/refusals/*': ['s3:GetObject', 's3:PutObject'],
    PHOTOS_BUCKET: ['s3:ListBucket'],
    'photo uploads queue': CONSUME,
  },
  // The broadcaster reads the live queue, not the Events stream (two readers per shard).
  'live-broadcaster-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem'],
    LIVE_CONNECTIONS_TABLE: ['dynamodb:BatchWriteItem', 'dynamodb:Query'],
    'LIVE_CONNECTIONS_TABLE/index/byTopic': ['dynamodb:Query'],
    'WebSocket API /live/POST/@connections/*': ['execute-api:ManageConnections'],
    'live queue': CONSUME,
    // An update's pseudonyms revealed: read only, never made or forgotten here.
    SUBJECT_KEYS_TABLE: ['dynamodb:GetItem'],
    SUBJECT_KEY_ID: ['kms:Decrypt'],
  },
};

/** The role of CDK's BucketDeployment handler (the bidder page's deployment). */
function siteDeploymentRole(): string {
  const [deployment, ...more] = Object.values(resourcesOfType('Custom::CDKBucketDeployment'));
  assert.equal(more.length, 0);
  const handler = resourcesOfType('AWS::Lambda::Function')[referenced(deployment.Properties.ServiceToken)!];
  return referenced(handler.Properties.Role)!;
}

/** A readable name for a policy statement's resource. */
function labeller(ownLogGroup: string) {
  const names = new Map<string, string>();
  for (const { resource } of functionsByBinary().values()) {
    for (const [name, value] of Object.entries<any>(resource.Properties.Environment?.Variables ?? {})) {
      const id = referenced(value);
      if (!id) continue;
      if (name.endsWith('_TABLE') || /^STRIPE_.*_ID$/.test(name)) names.set(id, name);
      // The digest and photos buckets (their ARNs; their objects are 'DIGEST_BUCKET/*',
      // 'PHOTOS_BUCKET/originals/*' ...) and the keys.
      if (['DIGEST_BUCKET', 'PHOTOS_BUCKET', 'DIGEST_KEY_ID', 'SUBJECT_KEY_ID', 'UNSUBSCRIBE_KEY_ID'].includes(name)) names.set(id, name);
      if (name === 'NOTIFICATIONS_QUEUE_URL') names.set(id, 'notifications queue');
      if (name === 'PAYMENTS_QUEUE_URL') names.set(id, 'payments queue');
      if (name === 'LIVE_QUEUE_URL') names.set(id, 'live queue');
    }
  }
  for (const mapping of Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'))) {
    const destination = mapping.Properties.DestinationConfig?.OnFailure?.Destination;
    if (destination) names.set(referenced(destination)!, 'stream-failures queue');
  }
  // The queue the photos bucket notifies of each original (no function is told its URL).
  for (const notifications of Object.values(resourcesOfType('Custom::S3BucketNotifications'))) {
    for (const queue of notifications.Properties.NotificationConfiguration.QueueConfigurations ?? []) {
      names.set(referenced(queue.QueueArn)!, 'photo uploads queue');
    }
  }
  // A DLQ by the queue it serves: the notifications queue's is 'notifications DLQ'.
  for (const [id, queue] of Object.entries(resourcesOfType('AWS::SQS::Queue'))) {
    const dlq = queue.Properties.RedrivePolicy?.deadLetterTargetArn;
    const name = names.get(id);
    if (dlq && name?.endsWith(' queue')) names.set(referenced(dlq)!, name.replace(/ queue$/, ' DLQ'));
  }
  return (resource: any): string => {
    if (resource === '*') return '*';
    if (resource.Ref && names.has(resource.Ref)) return names.get(resource.Ref)!;
    const getAtt = resource['Fn::GetAtt'];
    if (getAtt) {
      if (getAtt[0] === ownLogGroup) return 'own log group';
      if (getAtt[1] === 'StreamArn' && names.get(getAtt[0]) === 'EVENTS_TABLE') return 'Events stream';
      return names.get(getAtt[0]) ?? `unknown ${JSON.stringify(resource)}`;
    }
    const join = resource['Fn::Join'];
    const parts: any[] = join?.[1] ?? [];
    if (parts.some((p) => typeof p === 'string' && p.includes(':ses:'))) return 'SES sender identity';
    if (parts.some((p) => typeof p === 'string' && p.includes(':execute-api:'))) {
      const apis = resourcesOfType('AWS::ApiGatewayV2::Api');
      const api = parts.map((p) => referenced(p)).find((id) => id !== undefined && apis[id] !== undefined);
      const protocol = apis[api!]?.Properties.ProtocolType;
      return `${protocol === 'WEBSOCKET' ? 'WebSocket API' : 'unknown API'} ${parts[parts.length - 1]}`;
    }
    if (join && join[1].length === 2 && typeof join[1][1] === 'string') {
      return `${names.get(referenced(join[1][0])!) ?? 'unknown'}${join[1][1]}`;
    }
    return `unknown ${JSON.stringify(resource)}`;
  };
}

function grantsOf(binary: string): Grants {
  const fn = functionsByBinary().get(binary)!;
  const roleId = referenced(fn.resource.Properties.Role)!;
  const label = labeller(referenced(fn.resource.Properties.LoggingConfig.LogGroup)!);
  const grants: Record<string, Set<string>> = {};
  const policies = Object.values(resourcesOfType('AWS::IAM::Policy')).filter((p) =>
    p.Properties.Roles.some((r: any) => referenced(r) === roleId));
  assert.equal(policies.length, 1, `${binary}: one inline policy`);
  for (const statement of policies[0].Properties.PolicyDocument.Statement) {
    assert.equal(statement.Effect, 'Allow');
    const actions: string[] = [statement.Action].flat();
    const resources: any[] = [statement.Resource].flat();
    for (const resource of resources) {
      const name = label(resource);
      grants[name] ??= new Set();
      actions.forEach((a) => grants[name].add(a));
    }
  }
  return Object.fromEntries(Object.entries(grants).map(([k, v]) => [k, [...v].sort()]));
}

describe('IAM: each function holds exactly the actions it uses', () => {
  it('every function of the stack is in the table', () => {
    assert.deepEqual([...functionsByBinary().keys()].sort(), Object.keys(EXPECTED).sort());
  });

  for (const [binary, expected] of Object.entries(EXPECTED)) {
    it(binary, () => {
      const traced = { ...expected, '*': [...(expected['*'] ?? []), ...XRAY] };
      const sorted = Object.fromEntries(Object.entries(traced).map(([k, v]) => [k, [...v].sort()]));
      assert.deepEqual(grantsOf(binary), sorted);
    });
  }

  it('no action is a wildcard, and the only "*" resources are dynamodb:ListStreams and X-Ray\'s (but for the page deployment)', () => {
    const deployment = siteDeploymentRole();
    for (const policy of Object.values(resourcesOfType('AWS::IAM::Policy'))) {
      if (policy.Properties.Roles.some((r: any) => referenced(r) === deployment)) continue;
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        const actions: string[] = [statement.Action].flat();
        assert.ok(actions.every((a) => !a.includes('*')), JSON.stringify(actions));
        if ([statement.Resource].flat().includes('*')) {
          assert.ok([['dynamodb:ListStreams'], XRAY].some((allowed) => JSON.stringify([...actions].sort()) === JSON.stringify(allowed)),
            JSON.stringify(actions));
        }
      }
    }
  });
});

describe('IAM: the bidder page deployment (CDK BucketDeployment)', () => {
  it('may read the CDK asset bucket, write the site bucket and invalidate, nothing else', () => {
    const role = siteDeploymentRole();
    const [policy, ...more] = Object.values(resourcesOfType('AWS::IAM::Policy')).filter((p) =>
      p.Properties.Roles.some((r: any) => referenced(r) === role));
    assert.equal(more.length, 0);
    const [site] = Object.keys(resourcesOfType('Custom::CDKBucketDeployment')).map(
      (id) => referenced(resourcesOfType('Custom::CDKBucketDeployment')[id].Properties.DestinationBucketName)!);
    const label = (resource: any): string => {
      if (resource === '*') return '*';
      const text = JSON.stringify(resource);
      if (text.includes(site)) return text.endsWith('"/*"]]}') ? 'site bucket/*' : 'site bucket';
      if (text.includes('cdk-hnb659fds-assets-')) return text.includes('/*') ? 'asset bucket/*' : 'asset bucket';
      if (resource['Fn::GetAtt']?.[1] === 'Arn' && resourcesOfType('AWS::Logs::LogGroup')[resource['Fn::GetAtt'][0]]) return 'own log group';
      return `unknown ${text}`;
    };
    const grants: Record<string, string[]> = {};
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      assert.equal(statement.Effect, 'Allow');
      for (const resource of [statement.Resource].flat()) {
        grants[label(resource)] = [...new Set([...(grants[label(resource)] ?? []), ...[statement.Action].flat()])].sort();
      }
    }
    const read = ['s3:GetBucket*', 's3:GetObject*', 's3:List*'];
    const write = [...read, 's3:Abort*', 's3:DeleteObject*', 's3:PutObject', 's3:PutObjectLegalHold',
      's3:PutObjectRetention', 's3:PutObjectTagging', 's3:PutObjectVersionTagging'].sort();
    assert.deepEqual(grants, {
      'own log group': LOGS,
      'asset bucket': read,
      'asset bucket/*': read,
      'site bucket': write,
      'site bucket/*': write,
      '*': ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
    });
    assert.equal(resourcesOfType('AWS::IAM::Role')[role].Properties.ManagedPolicyArns, undefined);
  });
});

describe('IAM: the photos bucket\'s deployment-time handlers (CDK\'s notification handler, the CORS custom resource)', () => {
  const photos = () => referenced(functionsByBinary().get('thumbnailer-lambda')!.resource.Properties.Environment.Variables.PHOTOS_BUCKET)!;
  /** A custom resource's handler: its role's grants, by readable resource name. */
  const handlerGrants = (type: string) => {
    const [resource, ...more] = Object.values(resourcesOfType(type));
    assert.equal(more.length, 0, type);
    const handler = resourcesOfType('AWS::Lambda::Function')[referenced(resource.Properties.ServiceToken)!];
    const role = referenced(handler.Properties.Role)!;
    const logGroup = referenced(handler.Properties.LoggingConfig?.LogGroup);
    assert.ok(logGroup, `${type}: the handler logs to a log group of the stack (with its retention)`);
    assert.equal(resourcesOfType('AWS::IAM::Role')[role].Properties.ManagedPolicyArns, undefined, type);
    const grants: Record<string, string[]> = {};
    const policies = Object.values(resourcesOfType('AWS::IAM::Policy')).filter((p) => p.Properties.Roles.some((r: any) => referenced(r) === role));
    for (const statement of policies.flatMap((p) => p.Properties.PolicyDocument.Statement)) {
      assert.equal(statement.Effect, 'Allow');
      for (const r of [statement.Resource].flat()) {
        const name = JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': [photos(), 'Arn'] })
          ? 'photos bucket'
          : referenced(r) === logGroup ? 'own log group' : `unknown ${JSON.stringify(r)}`;
        grants[name] = [...new Set([...(grants[name] ?? []), ...[statement.Action].flat()])].sort();
      }
    }
    return grants;
  };

  it('the notification handler may write its own log group and the photos bucket\'s notification configuration, nothing else', () => {
    assert.deepEqual(handlerGrants('Custom::S3BucketNotifications'), { 'own log group': LOGS, 'photos bucket': ['s3:PutBucketNotification'] });
  });

  it('the CORS custom resource may write its own log group and the photos bucket\'s CORS rule, nothing else', () => {
    assert.deepEqual(handlerGrants('Custom::AWS'), { 'own log group': LOGS, 'photos bucket': ['s3:PutBucketCORS'] });
  });
});
