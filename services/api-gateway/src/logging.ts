import { REDACTED_PATHS } from '@wallet/platform';

/**
 * The platform's redaction plus whole request bodies and card objects at any
 * depth the gateway could log them. The gateway never logs bodies (top-ups
 * carry a card number and CVC); this is the second line of defence.
 */
export const GATEWAY_REDACT = {
  paths: [...REDACTED_PATHS, 'body', '*.body', 'req.body', 'request.body', 'card', '*.card', '*.*.card', 'payload', '*.payload'],
  censor: '[redacted]',
};
