// Entry point of the `amesh-cni` executable: CNI environment + stdin in,
// result or error JSON on stdout, exit code 0 or 1.
import { runCniPlugin } from './cni-plugin.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const outcome = await runCniPlugin(process.env, await readStdin());
if (outcome.stderr) process.stderr.write(outcome.stderr);
process.stdout.write(outcome.stdout, () => {
  process.exitCode = outcome.exitCode;
});
