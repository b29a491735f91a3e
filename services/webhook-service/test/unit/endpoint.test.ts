// The event types an endpoint may subscribe to are the REST contract's
// (services/common/wallet-api/openapi.yaml, WebhookEventType), which the
// gateway validates and the chaos suite subscribes to: the three must not drift.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/domain/endpoint.js';

describe('event types', () => {
  it('are exactly the OpenAPI WebhookEventType enum', () => {
    const document = parse(readFileSync(new URL('../../../common/wallet-api/openapi.yaml', import.meta.url), 'utf8')) as {
      components: { schemas: { WebhookEventType: { enum: string[] } } };
    };
    expect([...EVENT_TYPES].sort()).toEqual([...document.components.schemas.WebhookEventType.enum].sort());
  });
});
