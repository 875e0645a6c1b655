import { parseArgs } from 'node:util';
import { formatResult, runScenario } from './runner.js';
import { scenarios } from './scenarios/index.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const names = positionals.length > 0 ? positionals : [];
if (names.length === 0) {
  console.log(`usage: npm run bench -- <scenario...> [--rounds N] [--warmup N] [--json]\n`);
  console.log(`scenarios: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
for (const name of names) {
  const load = scenarios[name];
  if (!load) {
    console.error(`unknown scenario ${JSON.stringify(name)}; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
}
for (const name of names) {
  const scenario = await scenarios[name]!();
  console.log(`# ${scenario.name}: ${scenario.description}`);
  console.log(
    `# node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString()}\n`,
  );
  const result = await runScenario(scenario, {
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
    ...(values.warmup ? { warmup: Number(values.warmup) } : {}),
    ...(values.quiet ? {} : { log: (line: string) => console.error(line) }),
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatResult(result));
}
