import { z } from 'zod';
import {
  CreatedToken,
  ExperimentGrantView,
  GrantList,
  type Grantee,
  ModelGrantList,
  ModelGrantView,
  type Permission,
  TeamList,
  TeamView,
  TokenList,
  TokenView,
} from '../domain/auth';
import { requestApi } from './http';

const USERS = '/api/2.0/mlflow/users';

/** What a grant is on: an experiment by id, or a registered model (or prompt) by name. */
export type GrantSubject = { experiment: string } | { model: string };

export type GrantView = ExperimentGrantView | ModelGrantView;

/** A user as MLflow's basic-auth API answers it (api/auth/mlflow-auth-routes.ts). */
export const MlflowUser = z.object({
  id: z.number(),
  username: z.string(),
  is_admin: z.boolean(),
  experiment_permissions: z.array(z.object({ experiment_id: z.string(), permission: z.string() })).default([]),
  registered_model_permissions: z.array(z.object({ name: z.string(), permission: z.string() })).default([]),
});
export type MlflowUser = z.infer<typeof MlflowUser>;

/**
 * The CLI's view of access control: users through MLflow's basic-auth endpoints (the same ones
 * `mlflow.server.get_app_client("basic-auth")` calls), teams, tokens and grants (on experiments
 * and registered models) through /api/v1.
 */
export class AccessApi {
  constructor(readonly baseUrl: string) {}

  createUser(username: string, password: string): Promise<MlflowUser> {
    return this.request('POST', `${USERS}/create`, { username, password }).then((b) => z.object({ user: MlflowUser }).parse(b).user);
  }

  currentUser(): Promise<MlflowUser> {
    return this.request('GET', `${USERS}/current`).then((b) => z.object({ user: MlflowUser }).parse(b).user);
  }

  listUsers(): Promise<MlflowUser[]> {
    return this.request('GET', `${USERS}/list`).then((b) => z.object({ users: z.array(MlflowUser) }).parse(b).users);
  }

  async deleteUser(username: string): Promise<void> {
    await this.request('DELETE', `${USERS}/delete`, { username });
  }

  async setPassword(username: string, password: string, currentPassword?: string): Promise<void> {
    await this.request('PATCH', `${USERS}/update-password`, { username, password, ...(currentPassword !== undefined && { current_password: currentPassword }) });
  }

  async setAdmin(username: string, isAdmin: boolean): Promise<void> {
    await this.request('PATCH', `${USERS}/update-admin`, { username, is_admin: isAdmin });
  }

  createTeam(name: string): Promise<TeamView> {
    return this.request('POST', '/api/v1/teams', { name }).then((b) => TeamView.parse(b));
  }

  listTeams(): Promise<TeamView[]> {
    return this.request('GET', '/api/v1/teams').then((b) => TeamList.parse(b).teams);
  }

  async deleteTeam(name: string): Promise<void> {
    await this.request('DELETE', this.teamPath(name));
  }

  addMember(team: string, username: string): Promise<TeamView> {
    return this.request('POST', `${this.teamPath(team)}/members`, { username }).then((b) => TeamView.parse(b));
  }

  removeMember(team: string, username: string): Promise<TeamView> {
    return this.request('DELETE', `${this.teamPath(team)}/members/${encodeURIComponent(username)}`).then((b) => TeamView.parse(b));
  }

  createToken(body: { name: string; expires_in_days?: number; username?: string }): Promise<CreatedToken> {
    return this.request('POST', '/api/v1/tokens', body).then((b) => CreatedToken.parse(b));
  }

  listTokens(username?: string): Promise<TokenView[]> {
    const query = username === undefined ? '' : `?username=${encodeURIComponent(username)}`;
    return this.request('GET', `/api/v1/tokens${query}`).then((b) => TokenList.parse(b).tokens);
  }

  revokeToken(tokenId: string): Promise<TokenView> {
    return this.request('POST', `/api/v1/tokens/${encodeURIComponent(tokenId)}/revoke`, {}).then((b) => TokenView.parse(b));
  }

  setGrant(on: GrantSubject, grantee: Grantee, permission: Permission): Promise<GrantView> {
    const view = 'experiment' in on ? ExperimentGrantView : ModelGrantView;
    return this.request('PUT', this.grantsPath(on), { ...grantee, permission }).then((b) => view.parse(b));
  }

  async revokeGrant(on: GrantSubject, grantee: Grantee): Promise<void> {
    await this.request('DELETE', this.grantsPath(on), grantee);
  }

  listGrants(on: GrantSubject): Promise<GrantView[]> {
    const list = 'experiment' in on ? GrantList : ModelGrantList;
    return this.request('GET', this.grantsPath(on)).then((b) => list.parse(b).grants);
  }

  private teamPath(name: string): string {
    return `/api/v1/teams/${encodeURIComponent(name)}`;
  }

  private grantsPath(on: GrantSubject): string {
    return 'experiment' in on ? `/api/v1/experiments/${encodeURIComponent(on.experiment)}/grants` : `/api/v1/registered-models/${encodeURIComponent(on.model)}/grants`;
  }

  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    return requestApi(this.baseUrl, method, path, body === undefined ? undefined : { json: body });
  }
}
