#!/usr/bin/env node
// The CDK app: one stack, `AuctionPlatform` (or -c stackName=...).
//
// Context / environment:
//   lambdaAssets (or LAMBDA_ASSETS_DIR): the directory with <binary>/bootstrap for every Lambda
//     binary; default ../../target/lambda, where `cargo lambda build --release --arm64` puts them.
//   architecture: arm64 (default) or x86_64, the functions' instruction set; the binaries must
//     be built for it (`--x86-64` instead of `--arm64`), which the stack checks.
//   siteAssets (or SITE_ASSETS_DIR): the bidder page's directory, deployed to the site bucket;
//     default ../../web (the repository's web/, without its e2e/ tests).
//   commissionBps: PAYMENT_COMMISSION_BPS of the payment saga (default 500).
//   alarmEmail: an address the alarm topic mails (optional).
//   authDomainPrefix: the Cognito hosted UI's domain prefix (https://<prefix>.auth.<region>.
//     amazoncognito.com; unique in the region); default <stack name>-<8 hex digits of the stack id>.
//   emailDomain: the domain email notices are sent from (notices@<emailDomain>, an SES identity
//     with Easy DKIM); default auctions.example.com, which sends nothing (example.com is reserved).
//   reconcilerEveryMinutes, digestEveryMinutes, digestRetentionDays (read by the stack itself):
//     the reconciler's and the digester's periods (default 5 each) and how long S3 Object Lock
//     keeps each digest in compliance mode (default 3650 days; irreversible per object: use 1 for
//     a stage you mean to delete).
// The account and region come from the CLI's profile (CDK_DEFAULT_ACCOUNT/REGION); the stack
// does no lookups, so `cdk synth` needs no credentials.
import * as path from 'node:path';

import { App } from 'aws-cdk-lib';

import { PlatformStack } from '../lib/platform-stack';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
};

// Relative paths are relative to infra/cdk (where cdk.json is and the CLI runs).
const lambdaAssets = path.resolve(
  context('lambdaAssets') ?? process.env.LAMBDA_ASSETS_DIR ?? path.join('..', '..', 'target', 'lambda'),
);
const siteAssets = path.resolve(context('siteAssets') ?? process.env.SITE_ASSETS_DIR ?? path.join('..', '..', 'web'));
const commission = context('commissionBps');
if (commission !== undefined && !/^\d+$/.test(commission)) {
  throw new Error(`commissionBps must be whole basis points (0 to 10000), not ${JSON.stringify(commission)}`);
}
// A DNS name of two labels or more (letters, digits, hyphens; no label starting or ending with a
// hyphen; a top-level label not all digits), no trailing dot, no @: the domain, not an address.
const emailDomain = context('emailDomain');
if (
  emailDomain !== undefined &&
  (emailDomain.length > 253 ||
    !/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?!\d+$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(emailDomain))
) {
  throw new Error(
    `emailDomain must be a domain name notices are sent from (like auctions.example.org, without notices@), not ${JSON.stringify(emailDomain)}`,
  );
}

new PlatformStack(app, context('stackName') ?? 'AuctionPlatform', {
  description: 'Event-sourced auction platform (github: infra/cdk)',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  lambdaAssets,
  siteAssets,
  commissionBps: commission === undefined ? undefined : Number(commission),
  alarmEmail: context('alarmEmail'),
  authDomainPrefix: context('authDomainPrefix'),
  emailDomain,
});
