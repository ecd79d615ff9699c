// Demo traffic through the agent: short query-like sessions, one longer session and a
// few dials to a resource whose target is down. Prints what it sent and received so
// the numbers can be compared with the stored rows.
import { connect } from 'node:net';

const [dbPort = '15432', downPort = '15433', sessions = '25'] = process.argv.slice(2);

function session(port, lines, holdMs = 0) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
    let received = 0;
    let sent = 0;
    socket.on('connect', async () => {
      for (const line of lines) {
        const text = `${line}\n`;
        sent += text.length;
        socket.write(text);
        await new Promise((r) => setTimeout(r, holdMs / lines.length));
      }
      socket.end();
    });
    socket.on('data', (chunk) => (received += chunk.length));
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve({ sent, received }));
    socket.on('error', () => resolve({ sent, received, failed: true }));
  });
}

let totalSent = 0;
let totalReceived = 0;
const work = [];
for (let i = 0; i < Number(sessions); i += 1) {
  const lines = Array.from({ length: 1 + (i % 4) }, (_, j) => String(1 + ((i + j) % 8)));
  work.push(session(dbPort, lines));
}
work.push(session(dbPort, ['64', '128', '256'], 3000));
for (let i = 0; i < 3; i += 1) work.push(session(downPort, ['1']));
for (const result of await Promise.all(work)) {
  totalSent += result.sent;
  totalReceived += result.received;
}
console.log(
  `demo traffic: ${work.length} sessions, ${totalSent} bytes sent, ${totalReceived} bytes received`,
);
