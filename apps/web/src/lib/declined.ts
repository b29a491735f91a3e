// How a declined top-up (402) is told to the person who tried it.
import type { ApiError } from './api';

/** The API's own words, plus what they leave out: the decline code and whether the card is charged. */
export function declinedMessage(error: ApiError): string {
  const detail = error.message.replace(/\.?$/, '.');
  const code = error.problem?.declineCode;
  const codeText = code && !detail.includes(code) ? ` Reason: ${code}.` : '';
  const charged = error.problem?.charged === true ? ' Your card is left charged for now; it will be refunded.' : /charged/i.test(detail) ? '' : ' Your card was not charged.';
  return `Declined: ${detail}${codeText}${charged}`;
}
