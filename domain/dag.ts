import { type InputSpec, inputValue, parseInputRef } from './input-ref';

/**
 * Just what the DAG functions read of a spec, so they also work on one still being validated, and
 * the spec's schema, which checks for cycles with them, is not imported back.
 */
export type StageGraph = { stages: Record<string, { inputs?: Record<string, InputSpec> | undefined }> };

/**
 * Upstream stages of every stage (from its input references), deduplicated, in the order the
 * stage's inputs name them. References to unknown stages and to the stage itself are left out:
 * spec validation reports those, and they must not look like edges here.
 */
export function stageDependencies(spec: StageGraph): Record<string, string[]> {
  const deps: Record<string, string[]> = {};
  for (const [name, stage] of Object.entries(spec.stages)) {
    const upstream: string[] = [];
    for (const value of Object.values(stage.inputs ?? {})) {
      const ref = parseInputRef(inputValue(value));
      if (ref?.kind !== 'upstream' || ref.stage === name) continue;
      if (!Object.prototype.hasOwnProperty.call(spec.stages, ref.stage)) continue;
      if (!upstream.includes(ref.stage)) upstream.push(ref.stage);
    }
    deps[name] = upstream;
  }
  return deps;
}

/** Downstream edges in declaration order; names not declared as keys of `deps` are ignored. */
function downstreamEdges(deps: Record<string, string[]>): Map<string, string[]> {
  const down = new Map<string, string[]>(Object.keys(deps).map((name) => [name, []]));
  for (const [name, upstream] of Object.entries(deps)) {
    for (const up of upstream) down.get(up)?.push(name);
  }
  return down;
}

/** Strongly connected components (Tarjan), each listed in declaration order. */
function components(deps: Record<string, string[]>, down: Map<string, string[]>): string[][] {
  const order = Object.keys(deps);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result: string[][] = [];
  let counter = 0;

  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of down.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const members = new Set<string>();
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        members.add(member);
      } while (member !== node);
      result.push(order.filter((name) => members.has(name)));
    }
  };

  for (const name of order) if (!index.has(name)) visit(name);
  return result;
}

/** Shortest path from `start` back to itself through `within`, following data flow. */
function shortestCycle(start: string, within: Set<string>, down: Map<string, string[]>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const node = queue[head] as string;
    for (const next of down.get(node) ?? []) {
      if (!within.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at) ?? start) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

/**
 * One cycle per group of mutually dependent stages, each written in data-flow order as a closed
 * path (`['a', 'b', 'a']`: a feeds b, b feeds a) starting at the group's first declared stage.
 * Groups are ordered by that stage's declaration order.
 */
export function findCycles(deps: Record<string, string[]>): string[][] {
  const down = downstreamEdges(deps);
  const order = Object.keys(deps);
  return components(deps, down)
    .filter(([first, ...rest]) => rest.length > 0 || (first !== undefined && (deps[first] ?? []).includes(first)))
    .sort((a, b) => order.indexOf(a[0] ?? '') - order.indexOf(b[0] ?? ''))
    .map((group) => shortestCycle(group[0] ?? '', new Set(group), down));
}

/** The first cycle `findCycles` reports, or `undefined` when the stages form a DAG. */
export function findCycle(deps: Record<string, string[]>): string[] | undefined {
  return findCycles(deps)[0];
}

/** Stages in an order where each comes after its upstreams; ties keep declaration order. */
export function topologicalOrder(spec: StageGraph): string[] {
  const deps = stageDependencies(spec);
  const pending = Object.keys(deps);
  const done = new Set<string>();
  const order: string[] = [];
  while (pending.length > 0) {
    const ready = pending.findIndex((name) => (deps[name] ?? []).every((up) => done.has(up)));
    if (ready < 0) {
      const cycle = findCycle(deps) ?? pending;
      throw new Error(`cycle: ${cycle.join(' -> ')}`);
    }
    const [name] = pending.splice(ready, 1) as [string];
    done.add(name);
    order.push(name);
  }
  return order;
}

function assertStage(spec: StageGraph, stage: string): void {
  if (!Object.prototype.hasOwnProperty.call(spec.stages, stage)) throw new Error(`unknown stage '${stage}'`);
}

function reachable(start: string, edges: Map<string, string[]>): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  for (let head = 0; head < queue.length; head += 1) {
    for (const next of edges.get(queue[head] as string) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

/** `stage` and every stage downstream of it, in topological order: what `--from stage` re-runs. */
export function descendants(spec: StageGraph, stage: string): string[] {
  assertStage(spec, stage);
  const seen = reachable(stage, downstreamEdges(stageDependencies(spec)));
  return topologicalOrder(spec).filter((name) => seen.has(name));
}

/** Every stage `stage` transitively reads from (excluding itself), in topological order. */
export function upstreamOf(spec: StageGraph, stage: string): string[] {
  assertStage(spec, stage);
  const deps = stageDependencies(spec);
  const seen = reachable(stage, new Map(Object.entries(deps)));
  return topologicalOrder(spec).filter((name) => name !== stage && seen.has(name));
}
