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
 * agent uploads its status record to `job.statusUri`, which is what the stage waits for. The
 * job's stage credentials are not written to job.json nor passed as an argument (which any process
 * on the VM could read): they are exported to the agent alone, as the standard AWS variables.
 */
export function renderBootScript(opts: { agentUrl: string; job: AgentJob }): string {
  const { credentials, ...rest } = opts.job;
  const job = Buffer.from(JSON.stringify(rest)).toString('base64');
  return [
    '#!/bin/bash',
    '# mlfleet stage VM: mlfleet deletes this VM once its status record is uploaded.',
    'set -euo pipefail',
    'dir="${MLFLEET_JOB_DIR:-$PWD/mlfleet-job}"',
    'mkdir -p "$dir"',
    'cd "$dir"',
    `node -e ${shellQuote(FETCH_AGENT)} ${shellQuote(opts.agentUrl)} '${job}'`,
    ...(credentials
      ? [
          `export AWS_ACCESS_KEY_ID=${shellQuote(credentials.access_key_id)}`,
          `export AWS_SECRET_ACCESS_KEY=${shellQuote(credentials.secret_access_key)}`,
          `export AWS_SESSION_TOKEN=${shellQuote(credentials.session_token)}`,
          `export AWS_CREDENTIAL_EXPIRATION=${shellQuote(new Date(credentials.expires_at).toISOString())}`,
        ]
      : []),
    'exec node agent.js "$dir"',
    '',
  ].join('\n');
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
