// The bench's OTLP receiver as its own process (issue 12): the tracing
// comparison exports every service's spans here, so decoding them costs the
// receiver's CPU (sampled as its own group), not the load generator's. It keeps
// no spans (counts only). Protocol on stdio: it prints {"url","pid"} once
// listening; each "stats" line on stdin is answered with
// {"received","rejected"}; stdin closing or SIGTERM stops it.
import { createInterface } from 'node:readline';
import { startOtlpReceiver } from '../../scripts/lib/otlp-receiver.mjs';

const receiver = await startOtlpReceiver({ spansMax: 0 });
const write = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
write({ url: receiver.url, pid: process.pid });

const stop = async () => {
  await receiver.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stats') write({ received: receiver.received, rejected: receiver.rejected });
});
lines.on('close', () => void stop());
