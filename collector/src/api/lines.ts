/**
 * Split a byte stream (JSONEachRow from the store) into lines without holding more
 * than one partial line. A line longer than `maxChars` is an error rather than
 * unbounded memory: no network-log row comes near the default.
 */
export const MAX_LINE_CHARS = 1 << 20;

export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  maxChars = MAX_LINE_CHARS,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line !== '') yield line;
      newline = pending.indexOf('\n');
    }
    if (pending.length > maxChars) throw new RangeError(`a result line is over ${maxChars} chars`);
  }
  pending += decoder.decode();
  if (pending !== '') yield pending;
}
