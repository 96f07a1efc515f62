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
// What an SQS event source mapping needs (granted by SqsEventSource).
const CONSUME = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];

export const EXPECTED: Record<string, Grants> = {
  'api-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    IDEMPOTENCY_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    AUCTION_VIEWS_TABLE: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
    'AUCTION_VIEWS_TABLE-r*': ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
    'AUCTION_VIEWS_TABLE/index/byStatus': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE-r*/index/byStatus': ['dynamodb:Query'],
    USER_BIDS_TABLE: ['dynamodb:Query'],
    'USER_BIDS_TABLE-r*': ['dynamodb:Query'],
    NOTIFICATIONS_TABLE: ['dynamodb:Query'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
  },
  'projector-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:Query'],
    AUCTION_VIEWS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE-r*': ['dynamodb:GetItem', 'dynamodb:PutItem'],
    USER_BIDS_TABLE: ['dynamodb:PutItem'],
    'USER_BIDS_TABLE-r*': ['dynamodb:PutItem'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
    ...STREAM,
  },
  'publisher-lambda': {
    'own log group': LOGS,
    'notifications queue': ['sqs:SendMessage'],
    'payments queue': ['sqs:SendMessage'],
    ...STREAM,
  },
  'notifier-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem'],
    NOTIFICATIONS_TABLE: ['dynamodb:PutItem'],
    'notifications queue': CONSUME,
  },
  'payment-saga-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    IDEMPOTENCY_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    PAYMENT_SAGAS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    'payments queue': CONSUME,
  },
  'scheduler-lambda': {
    'own log group': LOGS,
    EVENTS_TABLE: ['dynamodb:PutItem', 'dynamodb:Query'],
    SNAPSHOTS_TABLE: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    'AUCTION_VIEWS_TABLE/index/byStatus': ['dynamodb:Query'],
    'AUCTION_VIEWS_TABLE-r*/index/byStatus': ['dynamodb:Query'],
    READ_MODEL_ALIASES_TABLE: ['dynamodb:GetItem'],
  },
};

/** A readable name for a policy statement's resource. */
function labeller(ownLogGroup: string) {
  const names = new Map<string, string>();
  for (const { resource } of functionsByBinary().values()) {
    for (const [name, value] of Object.entries<any>(resource.Properties.Environment?.Variables ?? {})) {
      const id = referenced(value);
      if (!id) continue;
      if (name.endsWith('_TABLE')) names.set(id, name);
      if (name === 'NOTIFICATIONS_QUEUE_URL') names.set(id, 'notifications queue');
      if (name === 'PAYMENTS_QUEUE_URL') names.set(id, 'payments queue');
    }
  }
  for (const mapping of Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'))) {
    const destination = mapping.Properties.DestinationConfig?.OnFailure?.Destination;
    if (destination) names.set(referenced(destination)!, 'stream-failures queue');
  }
  return (resource: any): string => {
    if (resource === '*') return '*';
    const getAtt = resource['Fn::GetAtt'];
    if (getAtt) {
      if (getAtt[0] === ownLogGroup) return 'own log group';
      if (getAtt[1] === 'StreamArn' && names.get(getAtt[0]) === 'EVENTS_TABLE') return 'Events stream';
      return names.get(getAtt[0]) ?? `unknown ${JSON.stringify(resource)}`;
    }
    const join = resource['Fn::Join'];
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
  for (const [binary, expected] of Object.entries(EXPECTED)) {
    it(binary, () => {
      const sorted = Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, [...v].sort()]));
      assert.deepEqual(grantsOf(binary), sorted);
    });
  }

  it('no action is a wildcard, and the only "*" resource is dynamodb:ListStreams', () => {
    for (const policy of Object.values(resourcesOfType('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        const actions: string[] = [statement.Action].flat();
        assert.ok(actions.every((a) => !a.includes('*')), JSON.stringify(actions));
        if ([statement.Resource].flat().includes('*')) {
          assert.deepEqual(actions, ['dynamodb:ListStreams']);
        }
      }
    }
  });
});
