// UDP echo server, the target of the UDP benchmark: sends every datagram back to its
// sender. Runs in its own process so its CPU is not the benchmark's.
//   node udp_echo_server.mjs <port>
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2]);
const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.bind(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
