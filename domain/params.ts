import type { PipelineSpec, StageSpec } from './pipeline-spec';
import { SpecError } from './pipeline-spec';

import type { ParamValue } from './param-value';

// Plain decimal numbers only: Number() would also take '', ' ', '0x10' and 'Infinity'.
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function show(value: ParamValue): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** `value` in the type of the declared `current` value, or a message saying why it cannot be. */
function coerce(current: ParamValue, value: ParamValue): { value: ParamValue } | { problem: string } {
  if (typeof current === 'number') {
    if (typeof value === 'number') return { value };
    if (typeof value === 'string' && NUMBER.test(value.trim())) return { value: Number(value.trim()) };
    return { problem: `expected a number, got ${show(value)}` };
  }
  if (typeof current === 'boolean') {
    if (typeof value === 'boolean') return { value };
    if (value === 'true' || value === 'false') return { value: value === 'true' };
    return { problem: `expected true or false, got ${show(value)}` };
  }
  // A string param takes any scalar as its text, so `--param s.tag=3` means the string '3'.
  return { value: String(value) };
}

/**
 * Returns a copy of `spec` with `overrides` (keyed `stage.param`) applied. Only declared params can
 * be overridden, in the type they were declared with; every problem is reported in one SpecError.
 */
export function applyParamOverrides(spec: PipelineSpec, overrides: Record<string, ParamValue>): PipelineSpec {
  const issues: string[] = [];
  const stages: Record<string, StageSpec> = { ...spec.stages };
  for (const [key, value] of Object.entries(overrides)) {
    const dot = key.indexOf('.');
    const stageName = key.slice(0, dot);
    const param = key.slice(dot + 1);
    if (dot <= 0 || param === '') {
      issues.push(`params.${key}: expected <stage>.<param>`);
      continue;
    }
    const stage = stages[stageName];
    if (!stage || !Object.prototype.hasOwnProperty.call(spec.stages, stageName)) {
      issues.push(`params.${key}: unknown stage '${stageName}'`);
      continue;
    }
    const params = stage.params ?? {};
    const current = params[param];
    if (current === undefined || !Object.prototype.hasOwnProperty.call(params, param)) {
      issues.push(`params.${key}: stage '${stageName}' has no param '${param}'`);
      continue;
    }
    const result = coerce(current, value);
    if ('problem' in result) issues.push(`params.${key}: ${result.problem}`);
    else stages[stageName] = { ...stage, params: { ...params, [param]: result.value } };
  }
  if (issues.length > 0) throw new SpecError(issues);
  return { ...spec, stages };
}

/** Splits a CLI `--param stage.key=value` at its first `=`; the value stays a string until applied. */
export function parseParamAssignment(text: string): [key: string, value: string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new SpecError([`--param ${text}: expected <stage>.<param>=<value>`]);
  return [text.slice(0, eq), text.slice(eq + 1)];
}
