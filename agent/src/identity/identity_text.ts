/** Upper bound of a client id or user id, in UTF-8 bytes. */
export const MAX_IDENTITY_BYTES = 256;

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// C0 controls, DEL and C1 controls: they would corrupt log lines, CSV exports and
// terminals of whoever reads the session table.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why an identity value (client id or user id) is unacceptable, or undefined when it
 * is fine: at most 256 bytes of UTF-8, no control characters.
 */
export function identityTextProblem(text: string): string | undefined {
  if (Buffer.byteLength(text, 'utf8') > MAX_IDENTITY_BYTES) {
    return `longer than ${MAX_IDENTITY_BYTES} bytes`;
  }
  if (CONTROL.test(text)) return 'contains a control character';
  return undefined;
}

/** Decode a TLV value as an identity: the text, or `{ problem }` naming what is wrong. */
export function decodeIdentity(value: Uint8Array): { text: string } | { problem: string } {
  if (value.length > MAX_IDENTITY_BYTES)
    return { problem: `longer than ${MAX_IDENTITY_BYTES} bytes` };
  let text: string;
  try {
    text = UTF8.decode(value);
  } catch {
    return { problem: 'not valid UTF-8' };
  }
  const problem = identityTextProblem(text);
  return problem === undefined ? { text } : { problem };
}
