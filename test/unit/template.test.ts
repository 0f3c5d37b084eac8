import { execFileSync } from 'node:child_process';
import { shellQuote, substitute, TemplateError, templateReferences } from '../../domain/template';

describe('templateReferences', () => {
  test('finds params, inputs, outputs and other forms, in order, with their raw text', () => {
    expect(templateReferences('train --lr ${params.lr} --in ${inputs.table} > ${outputs.log} ${HOME} ${params.}')).toEqual([
      { kind: 'params', name: 'lr', raw: '${params.lr}' },
      { kind: 'inputs', name: 'table', raw: '${inputs.table}' },
      { kind: 'outputs', name: 'log', raw: '${outputs.log}' },
      { kind: 'other', name: 'HOME', raw: '${HOME}' },
      { kind: 'other', name: 'params.', raw: '${params.}' },
    ]);
  });

  test('skips escaped $${ and plain shell variables', () => {
    expect(templateReferences('echo $${params.lr} $HOME $$ $1')).toEqual([]);
  });

  test('reports an unclosed ${ whole', () => {
    expect(templateReferences('echo ${params.lr')).toEqual([{ kind: 'other', name: '', raw: '${params.lr' }]);
  });

  test('no references in plain text', () => {
    expect(templateReferences('python train.py')).toEqual([]);
  });
});

describe('substitute', () => {
  const values = {
    params: { epochs: 10, lr: 0.001, fast: true, name: 'my run' },
    inputs: { table: '/work/inputs/table/table.parquet' },
    outputs: { model: 'out/model/' },
  };

  test('replaces params, inputs and outputs; numbers and booleans as text', () => {
    expect(
      substitute('train --epochs ${params.epochs} --lr ${params.lr} --fast=${params.fast} --in ${inputs.table} --out ${outputs.model}', values),
    ).toBe('train --epochs 10 --lr 0.001 --fast=true --in /work/inputs/table/table.parquet --out out/model/');
  });

  test('$${ is a literal ${ and is not substituted', () => {
    expect(substitute('echo $${params.epochs} ${params.epochs} $$ $HOME', values)).toBe('echo ${params.epochs} 10 $$ $HOME');
  });

  test('quotes values that the shell would interpret', () => {
    expect(substitute('run --name ${params.name}', values)).toBe("run --name 'my run'");
    expect(substitute('echo ${params.v}', { params: { v: "it's $HOME; rm -rf *" } })).toBe(`echo 'it'\\''s $HOME; rm -rf *'`);
    expect(substitute('echo [${params.v}]', { params: { v: '' } })).toBe("echo ['']");
  });

  test('quoted values reach the command intact through /bin/sh', () => {
    const tricky = `it's "quoted" $HOME \`id\` ; | & * \\ \n new line`;
    const command = substitute('printf %s ${params.v}', { params: { v: tricky } });
    expect(execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' })).toBe(tricky);
  });

  test('{ shell: false } inserts values as they are (for env values)', () => {
    expect(substitute('${params.name}/${outputs.model}', values, { shell: false })).toBe('my run/out/model/');
  });

  test('unknown names and unsupported forms throw TemplateError', () => {
    expect(() => substitute('${params.epoch}', values)).toThrow(new TemplateError("unknown param 'epoch'"));
    expect(() => substitute('${inputs.raw}', values)).toThrow("unknown input 'raw'");
    expect(() => substitute('${outputs.x}', { params: {} })).toThrow("unknown output 'x'");
    expect(() => substitute('${params.toString}', values)).toThrow("unknown param 'toString'");
    expect(() => substitute('${foo}', values)).toThrow(
      "unsupported substitution '${foo}': use ${params.NAME}, ${inputs.NAME} or ${outputs.NAME}",
    );
    expect(() => substitute('${foo}', values)).toThrow(TemplateError);
  });
});

describe('shellQuote', () => {
  test('leaves safe words alone', () => {
    for (const word of ['abc', 'a/b.c', 's3://bucket/key', 'k=v', 'a@b', '50%', '+1', 'a,b', '-x', '1.5e-3']) {
      expect(shellQuote(word)).toBe(word);
    }
  });

  test('quotes everything else', () => {
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote('~')).toBe("'~'");
    expect(shellQuote("'")).toBe(`''\\'''`);
  });
});
