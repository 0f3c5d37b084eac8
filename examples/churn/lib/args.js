'use strict';
// A tiny `--key value` (or `--key=value`) parser. Every script declares its options; a missing
// required option, an unknown option, a malformed number or one out of range prints the usage and
// exits with code 2.

/**
 * @typedef {{ type?: 'string' | 'int' | 'number', required?: boolean, default?: string | number, min?: number, positive?: boolean, help?: string }} OptionSpec
 * @param {string} script the script's file name, for the usage line
 * @param {Record<string, OptionSpec>} options keyed by flag name without the dashes (e.g. 'max-depth')
 * @param {string[]} [argv] defaults to process.argv.slice(2)
 * @returns {Record<string, string | number>}
 */
function parseArgs(script, options, argv = process.argv.slice(2)) {
  const fail = (message, code = 2) => {
    if (message) console.error(`${script}: ${message}`);
    console.error(usage(script, options));
    process.exit(code);
  };

  const raw = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--help' || token === '-h') {
      console.log(usage(script, options));
      process.exit(0);
    }
    if (!token.startsWith('--')) fail(`unexpected argument '${token}'`);
    let key = token.slice(2);
    let value;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) fail(`option --${key} needs a value`);
      i++;
    }
    if (!Object.prototype.hasOwnProperty.call(options, key)) fail(`unknown option --${key}`);
    raw[key] = value;
  }

  const out = {};
  for (const [key, spec] of Object.entries(options)) {
    let value = raw[key];
    if (value === undefined) {
      if (spec.required) fail(`missing required argument --${key}`);
      if (spec.default === undefined) continue;
      value = String(spec.default);
    }
    const type = spec.type || 'string';
    if (type === 'string') {
      if (value === '') fail(`option --${key} must not be empty`);
      out[key] = value;
    } else {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || (type === 'int' && !Number.isInteger(n))) {
        fail(`option --${key} must be ${type === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
      }
      if (spec.min !== undefined && n < spec.min) fail(`option --${key} must be at least ${spec.min}, got ${n}`);
      if (spec.positive && !(n > 0)) fail(`option --${key} must be positive, got ${n}`);
      out[key] = n;
    }
  }
  return out;
}

function usage(script, options) {
  const parts = Object.entries(options).map(([key, spec]) => {
    const flag = `--${key} <${spec.type || 'string'}>`;
    return spec.required ? flag : `[${flag}]`;
  });
  const lines = [`usage: node ${script} ${parts.join(' ')}`];
  const width = Math.max(...Object.keys(options).map((k) => k.length));
  for (const [key, spec] of Object.entries(options)) {
    const dflt = spec.default !== undefined ? ` (default ${spec.default})` : '';
    lines.push(`  --${key.padEnd(width)}  ${spec.help || ''}${dflt}`);
  }
  return lines.join('\n');
}

module.exports = { parseArgs, usage };
