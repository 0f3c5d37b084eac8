import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mlfleetSearchAttributes } from '../workflows/search-attributes';

/**
 * Registers mlfleet's search attributes on an external Temporal server (the dev server gets them
 * as start flags). Only missing ones are added, so any number of replicas may call it.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = mlfleetSearchAttributes.filter((key) => !(key.name in (customAttributes ?? {})));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
}
