// Chartmetric's fake API, under /chartmetric-api (see api-base.ts for what every fake API does).
// Credentials: `Authorization: Bearer TOKEN`. No next-page links. Routes:
//   GET /api/artist/:id    CHARTMETRIC_ARTISTS as `{obj: …}`; other ids: 404
import http from 'node:http';
import { FakeApi, type ApiRoute, type TokenAuthority } from './api-base.js';
import { jsonReply } from './harness.js';

export const CHARTMETRIC_API_PREFIX = '/chartmetric-api';

export const CHARTMETRIC_ARTISTS = {
  206557: { id: 206557, name: 'Fake Artist', cm_artist_score: 87.5 },
  3380: { id: 3380, name: 'Another Fake Artist', cm_artist_score: 61.2 },
} as const;

export class ChartmetricApi extends FakeApi {
  constructor(tokens: TokenAuthority, cdnUrl: () => string) {
    super({ provider: 'chartmetric', prefix: CHARTMETRIC_API_PREFIX, scheme: 'Bearer', tokens, cdnUrl });
  }

  /** `{error, message}`, as the fake token endpoint answers too. */
  errorBody(status: number, message?: string): Record<string, unknown> {
    const reason = http.STATUS_CODES[status] ?? 'Error';
    const defaults: Record<number, string> = {
      401: 'Invalid or expired token',
      403: 'Scope does not permit the resource',
      429: 'Rate limit exceeded',
    };
    return { error: reason.toLowerCase().replace(/[^a-z]+/g, '_'), message: message ?? defaults[status] ?? reason };
  }

  protected routes(): ApiRoute[] {
    return [
      {
        methods: ['GET', 'HEAD'],
        path: '/api/artist/:id',
        handle: ({ params }) => {
          const artist = (CHARTMETRIC_ARTISTS as Record<string, Record<string, unknown>>)[params.id!];
          return artist ? jsonReply(200, { obj: { ...artist } }) : this.error(404, 'Artist not found');
        },
      },
    ];
  }
}
