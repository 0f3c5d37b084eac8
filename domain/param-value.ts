import { z } from 'zod';

/** A stage parameter, as MLflow logs it (as a string) once resolved. */
export const ParamValue = z.union([z.string(), z.number(), z.boolean()]);
export type ParamValue = z.infer<typeof ParamValue>;
