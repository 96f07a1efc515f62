// The stack as the tests see it: synthesized offline, with the placeholder assets of
// test/fixtures/lambda (empty stand-ins for the bootstrap binaries), the repository's web/ (or,
// while it does not exist, a placeholder page in a temporary directory), a fixed dummy account.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { PlatformStack, PlatformStackProps } from '../lib/platform-stack';

export const FIXTURE_ASSETS = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'lambda');

/** The repository's web/, or a placeholder page in a temporary directory (never in the repo). */
export function siteAssets(): string {
  const web = path.resolve(__dirname, '..', '..', '..', '..', 'web');
  if (fs.existsSync(path.join(web, 'index.html'))) return web;
  const placeholder = fs.mkdtempSync(path.join(os.tmpdir(), 'site-assets-'));
  fs.writeFileSync(path.join(placeholder, 'index.html'), '<!doctype html><title>placeholder</title>\n');
  return placeholder;
}

export function synthStack(props: Partial<PlatformStackProps> = {}): { app: App; stack: PlatformStack } {
  const app = new App();
  const stack = new PlatformStack(app, 'AuctionPlatform', {
    env: { account: '123456789012', region: 'us-east-1' },
    lambdaAssets: FIXTURE_ASSETS,
    siteAssets: siteAssets(),
    ...props,
  });
  return { app, stack };
}

let cached: Template | undefined;

/** The synthesized template of the default stack (built once per process; check runs every file in one). */
export function template(): Template {
  if (!cached) {
    cached = Template.fromStack(synthStack().stack);
  }
  return cached;
}

// Helpers over the raw template JSON.
export type Resource = { Type: string; Properties: Record<string, any>; [key: string]: any };

export function resourcesOfType(type: string): Record<string, Resource> {
  return template().findResources(type) as Record<string, Resource>;
}

/** The logical id a `{Ref: id}` or `{"Fn::GetAtt": [id, attr]}` names. */
export function referenced(value: any): string | undefined {
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') return value.Ref;
    if (Array.isArray(value['Fn::GetAtt'])) return value['Fn::GetAtt'][0];
  }
  return undefined;
}

/** Every Lambda function by the binary it runs (its auction:binary tag). */
export function functionsByBinary(): Map<string, { id: string; resource: Resource }> {
  const out = new Map<string, { id: string; resource: Resource }>();
  for (const [id, resource] of Object.entries(resourcesOfType('AWS::Lambda::Function'))) {
    const tags: { Key: string; Value: string }[] = resource.Properties.Tags ?? [];
    const binary = tags.find((t) => t.Key === 'auction:binary')?.Value;
    if (binary) out.set(binary, { id, resource });
  }
  return out;
}
