// Demo target behind the agent: for every line a client sends, answers with N KiB
// (N = the line's number, 1 by default), so each session moves bytes both ways.
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 25432);
const server = createServer({ allowHalfOpen: true }, (socket) => {
  let pending = '';
  socket.on('data', (chunk) => {
    pending += chunk.toString();
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const kib = Math.min(Math.max(Number.parseInt(line, 10) || 1, 1), 1024);
      socket.write(Buffer.alloc(kib * 1024, 0x2e));
    }
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => undefined);
});
server.listen(port, '127.0.0.1', () => console.log(`demo target listening on 127.0.0.1:${port}`));
