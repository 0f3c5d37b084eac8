import { Command } from 'commander';
import { MlfleetApi } from './api-client';
import { uploadCode } from './code-upload';
import { loadPipelineFile } from './pipeline-file';

/** `mlfleet pipeline register|list`: the pipeline registry, through the API. */
export function pipelineCommand(defaultUrl: string): Command {
  const pipeline = new Command('pipeline').description('register pipeline versions (spec + code) and list them');

  pipeline
    .command('register <file>')
    .description('upload the pipeline folder and register the pipeline as a new version (or find the version it already is)')
    .option('--name <name>', "pipeline name (default: the spec's experiment)")
    .option('--json', 'print {"name","version","digest","created_at"}', false)
    .option('--url <url>', 'mlfleet API (or MLFLEET_URL)', defaultUrl)
    .action(async (file: string, opts: { name?: string; json: boolean; url: string }) => {
      const { spec, dir } = loadPipelineFile(file);
      const api = new MlfleetApi(opts.url);
      const code = await uploadCode(api, dir);
      const registered = await api.registerPipeline({ ...(opts.name !== undefined ? { name: opts.name } : {}), spec, code });
      console.log(opts.json ? JSON.stringify(registered) : `${registered.name}@${registered.version}`);
    });

  pipeline
    .command('list [name]')
    .description('the latest version of every pipeline, or every version of one')
    .option('--json', 'print as JSON', false)
    .option('--url <url>', 'mlfleet API (or MLFLEET_URL)', defaultUrl)
    .action(async (name: string | undefined, opts: { json: boolean; url: string }) => {
      const versions = await new MlfleetApi(opts.url).listPipelines(name);
      if (opts.json) {
        console.log(JSON.stringify(versions));
        return;
      }
      if (versions.length === 0) {
        console.log(name === undefined ? 'no pipelines registered yet' : `no versions of '${name}'`);
        return;
      }
      const rows = [
        ['PIPELINE', 'DIGEST', 'CODE', 'CREATED'],
        ...versions.map((v) => [
          `${v.name}@${v.version}`,
          v.digest.slice(0, 19),
          v.code_bundle ? v.code_bundle.slice(0, 19) : '-',
          new Date(v.created_at).toISOString().replace(/\.\d+Z$/, 'Z'),
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
    });

  return pipeline;
}
