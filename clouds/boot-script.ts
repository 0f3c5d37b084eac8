import type { AgentJob } from '../domain/agent-job';

// Runs with the VM image's node: downloads the agent from the mlfleet API and writes the job beside it.
const FETCH_AGENT = [
  'const fs = require("fs");',
  'const [url, job] = process.argv.slice(1);',
  'fetch(url).then(async (res) => {',
  '  if (!res.ok) throw new Error(`agent download from ${url}: HTTP ${res.status}`);',
  '  fs.writeFileSync("agent.js", Buffer.from(await res.arrayBuffer()));',
  '  fs.writeFileSync("job.json", Buffer.from(job, "base64"));',
  '}).catch((err) => { console.error(err.message); process.exit(1); });',
].join(' ');

/**
 * The user data / startup script / customData of a stage VM: fetch the agent, write the job, run
 * it. The job travels base64-encoded, so nothing in it can break out of the shell quoting; the
 * agent uploads its status record to `job.statusUri`, which is what the stage waits for.
 */
export function renderBootScript(opts: { agentUrl: string; job: AgentJob }): string {
  const job = Buffer.from(JSON.stringify(opts.job)).toString('base64');
  return [
    '#!/bin/bash',
    '# mlfleet stage VM: mlfleet deletes this VM once its status record is uploaded.',
    'set -euo pipefail',
    'dir="${MLFLEET_JOB_DIR:-$PWD/mlfleet-job}"',
    'mkdir -p "$dir"',
    'cd "$dir"',
    `node -e ${shellQuote(FETCH_AGENT)} ${shellQuote(opts.agentUrl)} '${job}'`,
    'exec node agent.js "$dir"',
    '',
  ].join('\n');
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
