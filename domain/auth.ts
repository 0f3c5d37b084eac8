import { z } from 'zod';

/**
 * Access control: users, teams, API tokens and permissions per experiment and per registered model
 * (MLflow's classic basic-auth model, plus teams). Permissions are ordered; a caller holding one
 * holds those below it.
 */

export const Permission = z.enum(['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE']);
export type Permission = z.infer<typeof Permission>;

/** The rank stored in experiment_permissions.permission (and registered_model_permissions'): NO_PERMISSIONS 0 … MANAGE 3. */
export const permissionRank = (permission: Permission): number => Permission.options.indexOf(permission);

export function permissionOfRank(rank: number): Permission {
  const permission = Permission.options[rank];
  if (permission === undefined) throw new Error(`no permission has rank ${rank}`);
  return permission;
}

export const permits = (held: Permission, needed: Permission): boolean => permissionRank(held) >= permissionRank(needed);

export const Username = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,255}$/, {
    error: (issue) => `invalid username '${String(issue.input)}': use 1 to 256 letters, digits, _ . @ + and -, starting with a letter or digit`,
  });
export type Username = z.infer<typeof Username>;

export const MIN_PASSWORD_LENGTH = 12;

export const Password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, { error: `the password must be at least ${MIN_PASSWORD_LENGTH} characters` })
  .max(1024, { error: 'the password must be at most 1024 characters' });
export type Password = z.infer<typeof Password>;

export const TeamName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, {
    error: (issue) => `invalid team name '${String(issue.input)}': use 1 to 128 letters, digits, _ . and -, starting with a letter or digit`,
  });
export type TeamName = z.infer<typeof TeamName>;

// Ids are bigint in decimal (the MLflow client sends them as strings): anything else names nothing,
// and must not reach a ::bigint cast.
const DECIMAL_ID = /^\d{1,18}$/;
const DecimalId = (what: string) => z.string().regex(DECIMAL_ID, { error: (issue) => `invalid ${what} '${String(issue.input)}'` });

export const isExperimentId = (id: string): boolean => DECIMAL_ID.test(id);
export const ExperimentId = DecimalId('experiment id');

/** Who a grant is for: a user or a team, never both. */
export const Grantee = z.union([
  z.object({ username: Username }).strict(),
  z.object({ team: TeamName }).strict(),
]);
export type Grantee = z.infer<typeof Grantee>;

export const MAX_TOKEN_LIFETIME_DAYS = 366;

/** `POST /api/v1/tokens`: a named token for the caller (or, for an admin, for `username`). */
export const CreateTokenBody = z
  .object({
    name: z.string().regex(/^\S.{0,99}$/, { error: 'token name: 1 to 100 characters, not starting with a space' }),
    expires_in_days: z.number().int().min(1).max(MAX_TOKEN_LIFETIME_DAYS).default(90),
    username: Username.optional(),
  })
  .strict();
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

/** A token as listed: never its secret, which is shown once, when it is created. */
export const TokenView = z.object({
  token_id: z.string(),
  username: z.string(),
  name: z.string(),
  created_at: z.number().int(),
  expires_at: z.number().int(),
  revoked_at: z.number().int().optional(),
  last_used_at: z.number().int().optional(),
});
export type TokenView = z.infer<typeof TokenView>;

export const CreatedToken = TokenView.extend({ token: z.string() });
export type CreatedToken = z.infer<typeof CreatedToken>;

export const TeamView = z.object({ name: z.string(), members: z.array(z.string()), created_at: z.number().int() });
export type TeamView = z.infer<typeof TeamView>;

export const ExperimentGrantView = z.object({
  experiment_id: z.string(),
  username: z.string().optional(),
  team: z.string().optional(),
  permission: Permission,
});
export type ExperimentGrantView = z.infer<typeof ExperimentGrantView>;

/** A registered model's name, as MLflow allows it (no '/' or ':'); a prompt's too. */
export const RegisteredModelName = z.string().regex(/^[^/:]{1,256}$/, {
  error: (issue) => `invalid registered model name '${String(issue.input)}': use 1 to 256 characters, without '/' or ':'`,
});
export type RegisteredModelName = z.infer<typeof RegisteredModelName>;

export const ModelGrantView = z.object({
  name: z.string(),
  username: z.string().optional(),
  team: z.string().optional(),
  permission: Permission,
});
export type ModelGrantView = z.infer<typeof ModelGrantView>;

export const AuditEventView = z.object({
  event_id: z.string(),
  at: z.number().int(),
  actor: z.string().optional(),
  action: z.string(),
  target: z.string(),
  detail: z.record(z.string(), z.unknown()),
  client_ip: z.string(),
});
export type AuditEventView = z.infer<typeof AuditEventView>;

export interface AuthConfig {
  /** `MLFLEET_AUTH=on`; off, every request passes as `auth-off` (the embedded demo). */
  enabled: boolean;
  /** What a user holds on an experiment nobody granted them anything on (MLFLEET_AUTH_DEFAULT_PERMISSION). */
  defaultPermission: Permission;
}

/**
 * Who is calling: a signed-in user (by password or by token), nobody, or anyone at all when the
 * server runs with auth off (the embedded demo), which every rule lets through.
 */
export type Principal =
  | { kind: 'user'; userId: string; username: string; isAdmin: boolean; via: 'password' | 'token' }
  | { kind: 'anonymous' }
  | { kind: 'auth-off' };

/** Passes every permission check: an admin, or anyone when auth is off. */
export const isUnrestricted = (principal: Principal): boolean =>
  principal.kind === 'auth-off' || (principal.kind === 'user' && principal.isAdmin);

/** The name recorded as a run's or an audit event's user. */
export const principalName = (principal: Principal): string | undefined => (principal.kind === 'user' ? principal.username : undefined);

// ---------------------------------------------------------------------------------------------
// /api/v1 requests and answers (api/v1/access.ts)


export const TeamNameParams = z.strictObject({ name: TeamName });
export type TeamNameParams = z.infer<typeof TeamNameParams>;

export const TeamMemberParams = z.strictObject({ name: TeamName, username: Username });
export type TeamMemberParams = z.infer<typeof TeamMemberParams>;

export const CreateTeamBody = z.strictObject({ name: TeamName });
export type CreateTeamBody = z.infer<typeof CreateTeamBody>;

export const AddTeamMemberBody = z.strictObject({ username: Username });
export type AddTeamMemberBody = z.infer<typeof AddTeamMemberBody>;

export const TeamList = z.object({ teams: z.array(TeamView) });
export type TeamList = z.infer<typeof TeamList>;

export const TokenIdParams = z.strictObject({ id: DecimalId('token id') });
export type TokenIdParams = z.infer<typeof TokenIdParams>;

/** `GET /api/v1/tokens`: an admin may narrow the list to one user's tokens. */
export const TokenListQuery = z.strictObject({ username: Username.optional() });
export type TokenListQuery = z.infer<typeof TokenListQuery>;

export const TokenList = z.object({ tokens: z.array(TokenView) });
export type TokenList = z.infer<typeof TokenList>;

export const ExperimentIdParams = z.strictObject({ id: ExperimentId });
export type ExperimentIdParams = z.infer<typeof ExperimentIdParams>;

// A grant names a user or a team, never both: one object with a refinement (rather than a union)
// so a bad request is told exactly that, not "invalid input".
const granteeFields = { username: Username.optional(), team: TeamName.optional() };
const exactlyOneGrantee = (grantee: { username?: string | undefined; team?: string | undefined }, ctx: z.RefinementCtx): void => {
  if ((grantee.username === undefined) === (grantee.team === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of username or team' });
  }
};

/** `PUT /api/v1/experiments/:id/grants` (and a registered model's): grants a permission, or changes the one granted. */
export const SetGrantBody = z.strictObject({ ...granteeFields, permission: Permission }).superRefine(exactlyOneGrantee);
export type SetGrantBody = z.infer<typeof SetGrantBody>;

/** `DELETE /api/v1/experiments/:id/grants` (and a registered model's): whose grant to remove. */
export const RevokeGrantBody = z.strictObject(granteeFields).superRefine(exactlyOneGrantee);
export type RevokeGrantBody = z.infer<typeof RevokeGrantBody>;

export const GrantList = z.object({ grants: z.array(ExperimentGrantView) });
export type GrantList = z.infer<typeof GrantList>;

export const ModelNameParams = z.strictObject({ name: RegisteredModelName });
export type ModelNameParams = z.infer<typeof ModelNameParams>;

export const ModelGrantList = z.object({ grants: z.array(ModelGrantView) });
export type ModelGrantList = z.infer<typeof ModelGrantList>;

export const MAX_AUDIT_PAGE = 1000;

/** `GET /api/v1/audit`: newest first, optionally one action or one actor. */
export const AuditQuery = z.strictObject({
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(100),
  page_token: z.string().min(1).max(200).optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditList = z.object({ events: z.array(AuditEventView), next_page_token: z.string().optional() });
export type AuditList = z.infer<typeof AuditList>;
