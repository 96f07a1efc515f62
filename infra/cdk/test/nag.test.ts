// cdk-nag's AwsSolutions pack: no unsuppressed error or warning, and every suppression gives a
// reason (cdk-nag itself refuses reasons shorter than 10 characters).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Aspects } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

import { synthStack } from './synth';

describe('cdk-nag AwsSolutions', () => {
  const { app, stack } = synthStack({ alarmEmail: 'alarms@example.com' });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  const annotations = Annotations.fromStack(stack);
  const render = (found: { id: string; entry: { data?: unknown } }[]) =>
    found.map((f) => `${f.id}: ${String(f.entry.data)}`).join('\n');

  it('reports no unsuppressed error', () => {
    const errors = annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    assert.equal(errors.length, 0, render(errors));
  });

  it('reports no unsuppressed warning', () => {
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    assert.equal(warnings.length, 0, render(warnings));
  });

  it('every suppression has a reason of a sentence or more', () => {
    const template = JSON.parse(JSON.stringify(app.synth().getStackByName(stack.stackName).template));
    let count = 0;
    for (const resource of Object.values<any>(template.Resources)) {
      for (const rule of resource.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
        count += 1;
        assert.ok(String(rule.reason).length >= 60, `${rule.id}: "${rule.reason}"`);
      }
    }
    assert.ok(count > 0);
  });
});
