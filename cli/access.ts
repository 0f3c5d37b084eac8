import { Command, InvalidArgumentError } from 'commander';
import { Permission, type TeamView, type TokenView } from '../domain/auth';
import { AdminSetupError, createAdmin } from '../server/first-admin';
import type { Grantee } from '../domain/auth';
import { AccessApi, type GrantSubject, type GrantView, type MlflowUser } from './access-client';
import { withDatabase } from '../server/database';
import { closePasswordInput, readPassword } from './password-input';

// `mlfleet admin | user | team | token | grant | grants`: access control from the command line.
// Everything but `admin create` goes through the API with the caller's MLFLOW_TRACKING_TOKEN or
// MLFLOW_TRACKING_USERNAME/PASSWORD (cli/http.ts); `admin create` writes to the database, for
// the first admin and for when every admin is locked out.

/** A command line the API would refuse, reported before anything is sent (exit code 2). */
class UsageError extends Error {}

type Action<A extends unknown[]> = (...args: A) => Promise<void>;

/** Runs an action, reporting usage errors as `mlfleet <command>: …` with exit code 2. */
const guarded =
  <A extends unknown[]>(name: string, action: Action<A>): Action<A> =>
  async (...args) => {
    try {
      await action(...args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(`mlfleet ${name}: ${err.message}`);
      process.exitCode = 2;
    } finally {
      closePasswordInput();
    }
  };

const time = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const print = (json: boolean, value: unknown, render: () => string): void => console.log(json ? JSON.stringify(value) : render());

function permissionArg(value: string): Permission {
  const parsed = Permission.safeParse(value.toUpperCase());
  if (!parsed.success) throw new InvalidArgumentError(`expected one of ${Permission.options.join(', ')}`);
  return parsed.data;
}

function yesNo(value: string): boolean {
  if (/^(yes|true|on)$/i.test(value)) return true;
  if (/^(no|false|off)$/i.test(value)) return false;
  throw new InvalidArgumentError('expected yes or no');
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of days');
  return n;
}

function granteeOf(opts: { user?: string; team?: string }): Grantee {
  if ((opts.user === undefined) === (opts.team === undefined)) throw new UsageError('give exactly one of --user USERNAME or --team TEAM');
  return opts.user !== undefined ? { username: opts.user } : { team: opts.team as string };
}

const describeGrantee = (grantee: Grantee): string => ('username' in grantee ? `user ${grantee.username}` : `team ${grantee.team}`);

// ---- rendering -----------------------------------------------------------------------------------

export const renderUsers = (users: MlflowUser[]): string =>
  users.length === 0
    ? 'no users'
    : table(
        ['USERNAME', 'ADMIN', 'ID', 'GRANTS'],
        users.map((u) => [u.username, u.is_admin ? 'yes' : 'no', String(u.id), String(u.experiment_permissions.length + u.registered_model_permissions.length)]),
      );

export const renderTeams = (teams: TeamView[]): string =>
  teams.length === 0 ? 'no teams' : table(['TEAM', 'MEMBERS'], teams.map((t) => [t.name, t.members.join(', ') || '-']));

const tokenState = (token: TokenView, now: number): string => (token.revoked_at !== undefined ? 'revoked' : token.expires_at <= now ? 'expired' : 'active');

export const renderTokens = (tokens: TokenView[], now = Date.now()): string =>
  tokens.length === 0
    ? 'no tokens'
    : table(
        ['ID', 'NAME', 'USER', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'],
        tokens.map((t) => [t.token_id, t.name, t.username, tokenState(t, now), time(t.created_at), time(t.expires_at), time(t.last_used_at)]),
      );

export const renderGrants = (grants: GrantView[]): string =>
  grants.length === 0
    ? 'no grants (everyone but admins holds the default permission)'
    : table(['GRANTEE', 'PERMISSION'], grants.map((g) => [g.username !== undefined ? `user ${g.username}` : `team ${g.team ?? '?'}`, g.permission]));

// ---- commands ------------------------------------------------------------------------------------

const withUrl = (command: Command, defaultUrl: string): Command => command.option('--url <url>', 'mlfleet API (or MLFLEET_URL)', defaultUrl);

/** `<parent> list`: what `fetch` answers, as a table or, with --json, as `{ <key>: [...] }` like the API's body. */
function addListCommand<T>(parent: Command, defaultUrl: string, description: string, key: string, fetch: (api: AccessApi) => Promise<T[]>, render: (items: T[]) => string): void {
  withUrl(parent.command('list'), defaultUrl)
    .description(description)
    .option('--json', 'print as JSON', false)
    .action(async (opts: { json: boolean; url: string }) => {
      const items = await fetch(new AccessApi(opts.url));
      print(opts.json, { [key]: items }, () => render(items));
    });
}

/** `mlfleet admin create`: straight into the database, no API or credentials needed. */
export function adminCommand(): Command {
  const admin = new Command('admin').description('bootstrap access control through the database (for the first admin, or a lost admin password)');
  admin
    .command('create')
    .description('create an admin user (password from MLFLEET_ADMIN_PASSWORD, the terminal, or one line of standard input)')
    .requiredOption('--username <name>', 'the admin to create')
    .option('--force', 'if the user exists: replace its password and make it an admin', false)
    .option('--data-dir <dir>', 'the embedded database folder (default .mlfleet, or MLFLEET_DATA_DIR); ignored with DATABASE_URL')
    .action(
      guarded('admin create', async (opts: { username: string; force: boolean; dataDir?: string }) => {
        const password = await readPassword(`password for ${opts.username}`, { envName: 'MLFLEET_ADMIN_PASSWORD', confirm: true });
        try {
          const outcome = await withDatabase(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }, (pool) =>
            createAdmin(pool, opts.username, password, { replace: opts.force }),
          );
          console.log(outcome === 'created' ? `created admin ${opts.username}` : `replaced the password of ${opts.username}; it is an admin`);
        } catch (err) {
          if (err instanceof AdminSetupError) throw new UsageError(err.message);
          throw err;
        }
      }),
    );
  return admin;
}

export function userCommand(defaultUrl: string): Command {
  const user = new Command('user').description('users (MLflow basic-auth API): create, list, delete, set-password, set-admin');

  withUrl(user.command('create <username>'), defaultUrl)
    .description('create a user (admins); the password is typed twice, or read from one line of standard input')
    .option('--admin', 'make the user an admin', false)
    .action(
      guarded('user create', async (username: string, opts: { admin: boolean; url: string }) => {
        const api = new AccessApi(opts.url);
        const created = await api.createUser(username, await readPassword(`password for ${username}`, { confirm: true }));
        if (opts.admin) await api.setAdmin(username, true);
        console.log(`created user ${created.username}${opts.admin ? ' (admin)' : ''}`);
      }),
    );

  addListCommand(user, defaultUrl, 'list the users (admins)', 'users', (api) => api.listUsers(), renderUsers);

  withUrl(user.command('delete <username>'), defaultUrl)
    .description('delete a user with its tokens, team memberships and grants (admins)')
    .action(async (username: string, opts: { url: string }) => {
      await new AccessApi(opts.url).deleteUser(username);
      console.log(`deleted user ${username}`);
    });

  withUrl(user.command('set-password <username>'), defaultUrl)
    .description("change a password: your own (the current one is asked, or taken from MLFLOW_TRACKING_PASSWORD) or, as an admin, anyone's")
    .action(
      guarded('user set-password', async (username: string, opts: { url: string }) => {
        const api = new AccessApi(opts.url);
        const me = await api.currentUser().catch(() => undefined); // auth off: nobody is signed in
        let current: string | undefined;
        if (me?.username === username) {
          const fromBasic = !process.env.MLFLOW_TRACKING_TOKEN && process.env.MLFLOW_TRACKING_USERNAME === username ? process.env.MLFLOW_TRACKING_PASSWORD : undefined;
          current = fromBasic || (await readPassword('current password'));
        }
        await api.setPassword(username, await readPassword(`new password for ${username}`, { confirm: true }), current);
        console.log(`changed the password of ${username}`);
      }),
    );

  withUrl(user.command('set-admin <username> <yes|no>'), defaultUrl)
    .description('grant or take away admin rights (admins; the last admin stays one)')
    .action(async (username: string, value: string, opts: { url: string }) => {
      const isAdmin = yesNo(value);
      await new AccessApi(opts.url).setAdmin(username, isAdmin);
      console.log(`${username} is ${isAdmin ? 'now an admin' : 'no longer an admin'}`);
    });

  return user;
}

export function teamCommand(defaultUrl: string): Command {
  const team = new Command('team').description('teams, to grant experiments to several users at once: create, list, delete, add, remove');

  withUrl(team.command('create <name>'), defaultUrl)
    .description('create a team (admins)')
    .action(async (name: string, opts: { url: string }) => {
      await new AccessApi(opts.url).createTeam(name);
      console.log(`created team ${name}`);
    });

  addListCommand(team, defaultUrl, 'list the teams and their members', 'teams', (api) => api.listTeams(), renderTeams);

  withUrl(team.command('delete <name>'), defaultUrl)
    .description("delete a team and its grants (admins); its members' own grants stay")
    .action(async (name: string, opts: { url: string }) => {
      await new AccessApi(opts.url).deleteTeam(name);
      console.log(`deleted team ${name}`);
    });

  withUrl(team.command('add <team> <username>'), defaultUrl)
    .description('add a user to a team (admins)')
    .action(async (name: string, username: string, opts: { url: string }) => {
      const view = await new AccessApi(opts.url).addMember(name, username);
      console.log(`team ${view.name}: ${view.members.join(', ')}`);
    });

  withUrl(team.command('remove <team> <username>'), defaultUrl)
    .description('remove a user from a team (admins)')
    .action(async (name: string, username: string, opts: { url: string }) => {
      const view = await new AccessApi(opts.url).removeMember(name, username);
      console.log(`team ${view.name}: ${view.members.join(', ') || 'no members'}`);
    });

  return team;
}

export function tokenCommand(defaultUrl: string): Command {
  const token = new Command('token').description('API tokens (MLFLOW_TRACKING_TOKEN): create, list, revoke');

  withUrl(token.command('create'), defaultUrl)
    .description('create an API token; it is printed once, and only its hash is kept')
    .requiredOption('--name <name>', 'what the token is for (e.g. laptop, ci)')
    .option('--days <n>', 'days until it expires (default 90, at most 366)', positiveInt)
    .option('--user <username>', "whose token (admins; default: yours)")
    .option('--json', 'print as JSON (with the token)', false)
    .action(async (opts: { name: string; days?: number; user?: string; json: boolean; url: string }) => {
      const created = await new AccessApi(opts.url).createToken({
        name: opts.name,
        ...(opts.days !== undefined && { expires_in_days: opts.days }),
        ...(opts.user !== undefined && { username: opts.user }),
      });
      if (opts.json) {
        console.log(JSON.stringify(created));
        return;
      }
      // The secret alone on standard output, so `TOKEN=$(mlfleet token create --name ci)` works.
      console.error(`created token ${created.token_id} '${created.name}' for ${created.username}, expires ${time(created.expires_at)}`);
      console.log(created.token);
      console.error('Store it now: it will not be shown again (mlfleet keeps only its hash). Use it as MLFLOW_TRACKING_TOKEN.');
    });

  withUrl(token.command('list'), defaultUrl)
    .description("list your tokens (admins: everyone's, or --user's); never their secrets")
    .option('--user <username>', "one user's tokens")
    .option('--json', 'print as JSON', false)
    .action(async (opts: { user?: string; json: boolean; url: string }) => {
      const tokens = await new AccessApi(opts.url).listTokens(opts.user);
      print(opts.json, { tokens }, () => renderTokens(tokens));
    });

  withUrl(token.command('revoke <token-id>'), defaultUrl)
    .description('revoke a token (yours, or as an admin anyone\'s); it stops working at once')
    .action(async (tokenId: string, opts: { url: string }) => {
      const revoked = await new AccessApi(opts.url).revokeToken(tokenId);
      console.log(`revoked token ${revoked.token_id} '${revoked.name}' of ${revoked.username}`);
    });

  return token;
}

const describeSubject = (on: GrantSubject): string => ('experiment' in on ? `experiment ${on.experiment}` : `registered model ${on.model}`);

/**
 * The subject of `grant`/`grants`: an experiment id as the first argument, or `--model NAME`, and
 * the `after` arguments that follow the subject (with --model they move up one place).
 */
function subjectOf(model: string | undefined, args: Array<string | undefined>, after: number): { on: GrantSubject; rest: Array<string | undefined> } {
  if (model !== undefined) {
    if (args.slice(after).some((arg) => arg !== undefined)) throw new UsageError('with --model, give no EXPERIMENT_ID');
    return { on: { model }, rest: args.slice(0, after) };
  }
  const [first, ...rest] = args;
  if (first === undefined) throw new UsageError('give an EXPERIMENT_ID, or --model NAME');
  return { on: { experiment: first }, rest };
}

/** `mlfleet grant EXPERIMENT_ID PERMISSION --user U | --team T` (or `--model NAME` for a registered model), and `--revoke`. */
export function grantCommand(defaultUrl: string): Command {
  return withUrl(new Command('grant'), defaultUrl)
    .argument('[experiment-id]', 'the experiment (not with --model)')
    .argument('[permission]', `${Permission.options.join(', ')} (not with --revoke)`)
    .description('grant a user or a team a permission on an experiment or a registered model, or change it; --revoke removes it (MANAGE on it)')
    .option('--model <name>', 'a registered model (or prompt) instead of an experiment')
    .option('--user <username>', 'grant to this user')
    .option('--team <team>', 'grant to this team')
    .option('--revoke', "remove the grant: the default permission (or the user's teams') applies again", false)
    .action(
      guarded('grant', async (first: string | undefined, second: string | undefined, opts: { model?: string; user?: string; team?: string; revoke: boolean; url: string }) => {
        const { on, rest } = subjectOf(opts.model, [first, second], 1);
        const [permission] = rest;
        const grantee = granteeOf(opts);
        const api = new AccessApi(opts.url);
        if (opts.revoke) {
          if (permission !== undefined) throw new UsageError('--revoke takes no PERMISSION');
          await api.revokeGrant(on, grantee);
          console.log(`revoked the grant of ${describeGrantee(grantee)} on ${describeSubject(on)}`);
          return;
        }
        if (permission === undefined) throw new UsageError(`give a PERMISSION (${Permission.options.join(', ')}), or --revoke`);
        let level: Permission;
        try {
          level = permissionArg(permission);
        } catch (err) {
          throw new UsageError(`PERMISSION '${permission}': ${(err as Error).message}`);
        }
        const grant = await api.setGrant(on, grantee, level);
        const granted: GrantSubject = 'experiment_id' in grant ? { experiment: grant.experiment_id } : { model: grant.name };
        console.log(`granted ${grant.permission} on ${describeSubject(granted)} to ${describeGrantee(grantee)}`);
      }),
    );
}

export function grantsCommand(defaultUrl: string): Command {
  return withUrl(new Command('grants'), defaultUrl)
    .argument('[experiment-id]', 'the experiment (not with --model)')
    .description("list an experiment's or a registered model's grants to users and teams (MANAGE on it)")
    .option('--model <name>', 'a registered model (or prompt) instead of an experiment')
    .option('--json', 'print as JSON', false)
    .action(
      guarded('grants', async (experimentId: string | undefined, opts: { model?: string; json: boolean; url: string }) => {
        const grants = await new AccessApi(opts.url).listGrants(subjectOf(opts.model, [experimentId], 0).on);
        print(opts.json, { grants }, () => renderGrants(grants));
      }),
    );
}
