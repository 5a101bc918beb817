// Soundcharts' fake API, under /soundcharts-api (see api-base.ts for what every fake API does).
// Credentials: `Authorization: Bearer TOKEN`, or the legacy pair `x-app-id` + `x-api-key` of a key
// added with addLegacyKey() (one without the other, or with a Bearer token too, is a violation).
// Every error body is `{errors: [{key, code, message}]}`. Routes (VERSION is v2 or v2.N):
//   GET /api/VERSION/artist/:uuid         SOUNDCHARTS_ARTIST as `{type, object, errors}`; else 404
//   GET /api/VERSION/artist/:uuid/songs   `songCount` songs of that artist, paginated: ?offset (default
//       0) & ?limit (default and at most 100) → `{items, page: {offset, total, next, previous, limit},
//       errors: []}`; page.next is null on the last page, else a link to the next page, the other
//       parameters kept: by default a path from the API root, as Soundcharts writes it (behind a
//       proxy the client puts it under its base; `nextStyle = 'path'`), or an absolute URL under the
//       base (`'url'`); an absolute URL under `nextLinkBase` when that is set.
import {
  FakeApi,
  intParam,
  nextQuery,
  type ApiCall,
  type ApiRequest,
  type ApiRoute,
  type Credential,
  type TokenAuthority,
} from './api-base.js';
import { jsonReply, type Reply } from './harness.js';

export const SOUNDCHARTS_API_PREFIX = '/soundcharts-api';

export const SOUNDCHARTS_ARTIST = {
  uuid: '11e81bcc-9c1c-ce38-b96b-a0369fe50396',
  slug: 'fake-artist',
  name: 'Fake Artist',
  countryCode: 'US',
} as const;

/** The song at position `n` (1-based) of the artist's songs. */
export function soundchartsSong(n: number): Record<string, unknown> {
  const hex = n.toString(16).padStart(12, '0');
  return { song: { uuid: `11e8-song-0000-0000-${hex}`, name: `Song ${n}` }, releaseDate: '2020-01-01T00:00:00+00:00' };
}

export interface SoundchartsApiOptions {
  songCount?: number;
  /** Legacy API keys the API accepts: app id → key. */
  legacyKeys?: Record<string, string>;
}

export class SoundchartsApi extends FakeApi {
  /** Songs of SOUNDCHARTS_ARTIST. Default 7. */
  songCount: number;
  /** How page.next is written. Default 'path'. */
  nextStyle: 'path' | 'url' = 'path';
  /** When set, page.next links are absolute URLs under this base (another origin, say). */
  nextLinkBase: string | undefined;
  private readonly legacyKeys = new Map<string, string>();

  constructor(tokens: TokenAuthority, cdnUrl: () => string, options: SoundchartsApiOptions = {}) {
    super({ provider: 'soundcharts', prefix: SOUNDCHARTS_API_PREFIX, scheme: 'Bearer', tokens, cdnUrl });
    this.songCount = options.songCount ?? 7;
    for (const [appId, apiKey] of Object.entries(options.legacyKeys ?? {})) this.addLegacyKey(appId, apiKey);
  }

  /** Accept the legacy pair from now on. */
  addLegacyKey(appId: string, apiKey: string): void {
    this.legacyKeys.set(appId, apiKey);
  }

  removeLegacyKey(appId: string): void {
    this.legacyKeys.delete(appId);
  }

  errorBody(status: number, message?: string): Record<string, unknown> {
    const defaults: Record<number, [string, string]> = {
      400: ['request.invalid', 'Invalid request'],
      401: ['auth.unauthorized', 'You are not logged in'],
      403: ['auth.forbidden', 'This endpoint is not included in your current plan'],
      404: ['resource.not_found', 'Not found'],
      429: ['quota.exceeded', 'Your quota is exceeded'],
    };
    const [key, text] = defaults[status] ?? ['error', `HTTP ${status}`];
    return { errors: [{ key, code: status, message: message ?? text }] };
  }

  protected override authenticate(rec: ApiRequest): Credential | undefined {
    const appId = rec.headers['x-app-id'];
    const apiKey = rec.headers['x-api-key'];
    if (appId === undefined && apiKey === undefined) return super.authenticate(rec);
    if (rec.headers.authorization !== undefined) this.violate(rec, 'both an Authorization header and legacy API keys');
    if (appId === undefined || apiKey === undefined) {
      this.violate(rec, 'x-app-id and x-api-key must come together');
      return undefined;
    }
    return this.legacyKeys.get(appId) === apiKey ? { kind: 'legacy', appId } : undefined;
  }

  protected routes(): ApiRoute[] {
    return [
      {
        methods: ['GET', 'HEAD'],
        path: '/api/:version/artist/:uuid',
        handle: ({ params }) => {
          if (!this.knownArtist(params)) return this.error(404, 'Artist not found');
          return jsonReply(200, { type: 'artist', object: { ...SOUNDCHARTS_ARTIST }, errors: [] });
        },
      },
      { methods: ['GET', 'HEAD'], path: '/api/:version/artist/:uuid/songs', handle: (call) => this.songs(call) },
    ];
  }

  private knownArtist(params: Record<string, string>): boolean {
    return /^v2(\.\d+)?$/.test(params.version!) && params.uuid === SOUNDCHARTS_ARTIST.uuid;
  }

  private songs({ params, query }: ApiCall): Reply {
    if (!this.knownArtist(params)) return this.error(404, 'Artist not found');
    const offset = intParam(query, 'offset', 0, 0, 1e9);
    const limit = intParam(query, 'limit', 100, 1, 100);
    if (offset === undefined || limit === undefined) return this.error(400);
    const items: Record<string, unknown>[] = [];
    for (let n = offset + 1; n <= Math.min(this.songCount, offset + limit); n++) items.push(soundchartsSong(n));
    const route = `/api/${params.version}/artist/${params.uuid}/songs`;
    const link = (at: number) => {
      const q = nextQuery(query, ['offset', 'limit'], { offset: String(at), limit: String(limit) });
      const base = this.nextLinkBase ?? (this.nextStyle === 'url' ? this.base : '');
      return `${base}${route}?${q}`;
    };
    return jsonReply(200, {
      items,
      page: {
        offset,
        total: this.songCount,
        next: offset + limit < this.songCount ? link(offset + limit) : null,
        previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
        limit,
      },
      errors: [],
    });
  }
}
