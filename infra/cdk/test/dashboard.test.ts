// The dashboard against infra/metrics.json, the contract with the binaries' embedded-metric
// lines: a widget that names a custom metric the file lacks, or gives it other dimensions,
// would draw an empty line in CloudWatch and never an error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Duration } from 'aws-cdk-lib';

import { contractMetric, contractSearch, METRIC_CONSUMERS, SAGA_OUTCOMES } from '../lib/platform-stack';
import { metricsContract } from '../lib/shared';
import { functionsByBinary, referenced, resourcesOfType } from './synth';

const contract = metricsContract();
const definitions = new Map(contract.metrics.map((m) => [m.name, m]));

/** A metric line of a widget: [namespace, name, dimension, value, ..., options?]. */
interface MetricLine {
  widget: string;
  namespace: string;
  name: string;
  dimensions: Record<string, unknown>;
  stat?: string;
}

/** A math expression of a widget, and the SEARCHes in it. */
interface ExpressionLine {
  widget: string;
  expression: string;
}

/**
 * The dashboard's body as JSON: CloudFormation joins it from text and references, which stand
 * here as `<Ref X>` or `<GetAtt X.Y>` (inside JSON strings, so free of quotes).
 */
function dashboard(): { widgets: any[] } {
  const dashboards = Object.values(resourcesOfType('AWS::CloudWatch::Dashboard'));
  assert.equal(dashboards.length, 1, 'one dashboard');
  const body = dashboards[0].Properties.DashboardBody;
  const [separator, parts] = body['Fn::Join'];
  const text = (parts as any[]).map((part) => {
    if (typeof part === 'string') return part;
    if (part.Ref) return `<Ref ${part.Ref}>`;
    if (part['Fn::GetAtt']) return `<GetAtt ${part['Fn::GetAtt'].join('.')}>`;
    throw new Error(`unexpected part of the dashboard body: ${JSON.stringify(part)}`);
  }).join(separator);
  return JSON.parse(text);
}

function lines(): { metrics: MetricLine[]; expressions: ExpressionLine[]; alarms: string[] } {
  const metrics: MetricLine[] = [];
  const expressions: ExpressionLine[] = [];
  const alarms: string[] = [];
  for (const widget of dashboard().widgets) {
    const title: string = widget.properties.title;
    alarms.push(...(widget.properties.annotations?.alarms ?? []));
    for (const line of widget.properties.metrics ?? []) {
      const last = line[line.length - 1];
      const options = typeof last === 'object' ? last : {};
      if (options.expression !== undefined) {
        expressions.push({ widget: title, expression: options.expression });
        continue;
      }
      const [namespace, name, ...rest] = typeof last === 'object' ? line.slice(0, -1) : line;
      assert.equal(typeof namespace, 'string', `${title}: ${JSON.stringify(line)}`);
      assert.equal(rest.length % 2, 0, `${title}: dimensions in pairs, without "." shorthands: ${JSON.stringify(line)}`);
      const dimensions: Record<string, unknown> = {};
      for (let i = 0; i < rest.length; i += 2) dimensions[rest[i]] = rest[i + 1];
      metrics.push({ widget: title, namespace, name, dimensions, stat: options.stat });
    }
  }
  return { metrics, expressions, alarms };
}

/** SEARCH('{Namespace,Dim,...} MetricName="X" Dim="v" ...', 'Stat', period) within an expression. */
function searches(expression: string): { schema: string[]; name: string | undefined; filters: Record<string, string> }[] {
  return [...expression.matchAll(/SEARCH\(\s*'\{([^}]*)\}([^']*)'/g)].map(([, schema, terms]) => {
    const filters: Record<string, string> = {};
    for (const [, key, value] of terms.matchAll(/([A-Za-z]+)="([^"]*)"/g)) filters[key] = value;
    const { MetricName: name, ...rest } = filters;
    return { schema: schema.split(',').map((s) => s.trim()), name, filters: rest };
  });
}

describe('the dashboard', () => {
  const { metrics, expressions, alarms } = lines();

  it('names only custom metrics of infra/metrics.json, each with exactly its dimensions', () => {
    const custom = metrics.filter((m) => !m.namespace.startsWith('AWS/'));
    assert.ok(custom.length > 0);
    for (const metric of custom) {
      const where = `${metric.widget}: ${metric.namespace} ${metric.name}`;
      assert.equal(metric.namespace, contract.namespace, where);
      const definition = definitions.get(metric.name);
      assert.ok(definition, `${where} is not in infra/metrics.json`);
      assert.deepEqual(Object.keys(metric.dimensions).sort(), [...definition.dimensions].sort(), where);
    }
  });

  it('searches only metrics of infra/metrics.json, over their whole dimension set', () => {
    const found = expressions.flatMap((e) => searches(e.expression).map((s) => ({ ...s, widget: e.widget })));
    assert.ok(found.length > 0);
    for (const search of found) {
      const where = `${search.widget}: SEARCH over {${search.schema.join(',')}} ${search.name}`;
      const [namespace, ...dimensions] = search.schema;
      assert.equal(namespace, contract.namespace, where);
      const definition = definitions.get(search.name ?? '');
      assert.ok(definition, `${where} is not in infra/metrics.json`);
      // A search over a partial schema would find nothing: every data point carries them all.
      assert.deepEqual(dimensions, definition.dimensions, where);
      for (const key of Object.keys(search.filters)) assert.ok(definition.dimensions.includes(key), `${where}: ${key}`);
    }
    // Every other expression reads only the widget's own lines (no namespace of its own).
    for (const { widget, expression } of expressions) {
      if (!expression.includes('SEARCH')) assert.doesNotMatch(expression, /[{"]/, `${widget}: ${expression}`);
    }
  });

  const has = (name: string, dimensions: Record<string, string>, stat?: string) =>
    metrics.some((m) => m.namespace === contract.namespace && m.name === name &&
      JSON.stringify(m.dimensions) === JSON.stringify(dimensions) && (stat === undefined || m.stat === stat));
  const searched = (name: string, stat: string) =>
    expressions.some((e) => searches(e.expression).some((s) => s.name === name) && e.expression.includes(`'${stat}'`));

  it('shows bids per second and PlaceBid\'s p95 latency', () => {
    assert.ok(has('CommandsAccepted', { Command: 'PlaceBid' }, 'Sum'));
    assert.ok(expressions.some((e) => /PERIOD\(/.test(e.expression)), 'a rate: the sum over the period\'s seconds');
    assert.ok(has('CommandLatency', { Command: 'PlaceBid' }, 'p95'));
  });

  it('shows rejections by code, and capacity units per command, through searches', () => {
    assert.ok(searched('CommandRejections', 'Sum'));
    assert.ok(searched('CommandReadUnits', 'Average'));
    assert.ok(searched('CommandWriteUnits', 'Average'));
    assert.ok(searched('RecordsParked', 'Sum'));
  });

  it('shows each consumer\'s lag, each saga outcome and each function\'s cold starts', () => {
    for (const consumer of METRIC_CONSUMERS) assert.ok(has('ConsumerLag', { Consumer: consumer }), consumer);
    for (const outcome of SAGA_OUTCOMES) assert.ok(has('SagaOutcomes', { Outcome: outcome }, 'Sum'), outcome);
    for (const binary of functionsByBinary().keys()) assert.ok(has('ColdStarts', { Function: binary }, 'Sum'), binary);
  });

  it('shows the visible messages of every dead-letter queue and of the stream failures queue', () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    const dlqs = Object.values(queues)
      .map((q) => referenced(q.Properties.RedrivePolicy?.deadLetterTargetArn))
      .filter((id) => id !== undefined);
    // The stream mappings' on-failure queue (the photo uploads queue is standard too, but no
    // dead-letter queue: its DLQ is among the DLQs).
    const failures = [...new Set(Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'))
      .map((m) => referenced(m.Properties.DestinationConfig?.OnFailure?.Destination))
      .filter((id) => id !== undefined))];
    assert.equal(failures.length, 1);
    const shown = metrics
      .filter((m) => m.namespace === 'AWS/SQS' && m.name === 'ApproximateNumberOfMessagesVisible')
      .map((m) => String(m.dimensions.QueueName).replace(/^<GetAtt (.*)\.QueueName>$/, '$1'));
    assert.deepEqual(shown.sort(), [...dlqs, ...failures].sort());
  });

  it('shows the HTTP API\'s 5xx rate and p95 latency alarms', () => {
    const ids = Object.keys(resourcesOfType('AWS::CloudWatch::Alarm'));
    const shown = alarms.map((a) => a.replace(/^<GetAtt (.*)\.Arn>$/, '$1'));
    assert.equal(shown.length, 2);
    for (const id of shown) assert.ok(ids.includes(id), id);
    assert.ok(shown.some((id) => id.startsWith('ApiServerErrorRate')));
    assert.ok(shown.some((id) => id.startsWith('ApiLatencyP95')));
  });
});

describe('the metrics contract in the stack', () => {
  it('refuses a metric infra/metrics.json lacks, or other dimensions than the file\'s', () => {
    assert.throws(() => contractMetric(contract, 'BidsPlaced', { Command: 'PlaceBid' }), /infra\/metrics.json has no metric BidsPlaced/);
    assert.throws(() => contractMetric(contract, 'CommandLatency', { Consumer: 'projector' }), /gives CommandLatency the dimensions \[Command\]/);
    assert.throws(() => contractMetric(contract, 'CommandRejections', { Command: 'PlaceBid' }), /\[Command, Code\]/);
    assert.throws(() => contractSearch(contract, 'Parked', {}, 'Sum', Duration.minutes(5)), /no metric Parked/);
    assert.throws(() => contractSearch(contract, 'CommandRejections', { Consumer: 'x' }, 'Sum', Duration.minutes(5)), /no dimension Consumer/);
  });
});
