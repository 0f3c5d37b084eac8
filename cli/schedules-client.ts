import { z } from 'zod';
import { type BackfillInput, type ScheduleInput, ScheduleList, type ScheduleUpdate, ScheduleView } from '../domain/schedule';
import { requestApi } from './http';

export const BackfillAnswer = ScheduleView.extend({ backfill_launches: z.number() });
export type BackfillAnswer = z.infer<typeof BackfillAnswer>;

/** The CLI's view of /api/v1/schedules (kept apart from MlfleetApi, which other commands share). */
export class SchedulesApi {
  constructor(readonly baseUrl: string) {}

  create(input: ScheduleInput): Promise<ScheduleView> {
    return this.request('POST', '/api/v1/schedules', input).then((b) => ScheduleView.parse(b));
  }

  update(name: string, update: ScheduleUpdate): Promise<ScheduleView> {
    return this.request('PUT', this.path(name), update).then((b) => ScheduleView.parse(b));
  }

  list(): Promise<ScheduleView[]> {
    return this.request('GET', '/api/v1/schedules').then((b) => ScheduleList.parse(b).schedules);
  }

  describe(name: string): Promise<ScheduleView> {
    return this.request('GET', this.path(name)).then((b) => ScheduleView.parse(b));
  }

  pause(name: string, note?: string): Promise<ScheduleView> {
    return this.request('POST', `${this.path(name)}/pause`, note === undefined ? {} : { note }).then((b) => ScheduleView.parse(b));
  }

  unpause(name: string): Promise<ScheduleView> {
    return this.request('POST', `${this.path(name)}/unpause`, {}).then((b) => ScheduleView.parse(b));
  }

  trigger(name: string): Promise<ScheduleView> {
    return this.request('POST', `${this.path(name)}/trigger`, {}).then((b) => ScheduleView.parse(b));
  }

  backfill(name: string, window: BackfillInput): Promise<BackfillAnswer> {
    return this.request('POST', `${this.path(name)}/backfill`, window).then((b) => BackfillAnswer.parse(b));
  }

  async delete(name: string): Promise<void> {
    await this.request('DELETE', this.path(name));
  }

  private path(name: string): string {
    return `/api/v1/schedules/${encodeURIComponent(name)}`;
  }

  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    return requestApi(this.baseUrl, method, path, body === undefined ? undefined : { json: body });
  }
}
