// SoundCloud's fake API, under /soundcloud-api (see api-base.ts for what every fake API does).
// Credentials: `Authorization: OAuth TOKEN` (a Bearer header is a violation, and refused). Routes:
//   GET  /me                     the user (user session tokens only, as documented)
//   GET  /users/:id              SOUNDCLOUD_USERS; other ids: 404 with SoundCloud's error body
//   GET  /tracks                 public collection of `trackCount` tracks, paginated (below)
//   GET  /me/tracks              the same, for a user session
//   GET  /tracks/:id             one of those tracks, else 404
//   GET  /tracks/:id/stream      302 to the CDN's /media/track-ID.mp3
//   POST /tracks                 multipart upload: track[title], track[asset_data] (user session);
//                                201 with the asset's size and SHA-256
// Pagination as documented: without linked_partitioning a bare array of the first `limit` (default
// 50, at most 200); with linked_partitioning=true (or 1) `{collection, next_href}`, next_href absent on
// the last page. next_href is an absolute URL under the base (or under `nextLinkBase` when set) with
// page_size, an opaque cursor and linked_partitioning=true, the other parameters kept.
import http from 'node:http';
import { FakeApi, intParam, nextQuery, type ApiCall, type ApiRoute, type TokenAuthority } from './api-base.js';
import { JSON_HEADERS, jsonReply, redirectReply, type Reply } from './harness.js';
import type { MultipartPart } from './multipart.js';

export const SOUNDCLOUD_API_PREFIX = '/soundcloud-api';

/** The user /me answers, and the other known user. */
export const SOUNDCLOUD_USERS = {
  1001: {
    kind: 'user',
    id: 1001,
    username: 'fake-listener',
    permalink: 'fake-listener',
    uri: 'https://api.soundcloud.com/users/1001',
  },
  1002: {
    kind: 'user',
    id: 1002,
    username: 'fake-artist',
    permalink: 'fake-artist',
    uri: 'https://api.soundcloud.com/users/1002',
  },
} as const;
export const SOUNDCLOUD_ME_ID = 1001;

export interface SoundcloudUpload {
  /** The id of the created track. */
  id: number;
  title: string;
  filename?: string;
  contentType?: string;
  size: number;
  sha256: string;
  parts: MultipartPart[];
}

export interface SoundcloudApiOptions {
  trackCount?: number;
}

/** The track at position `n` (1-based) of the collections. */
export function soundcloudTrack(n: number): Record<string, unknown> {
  return {
    kind: 'track',
    id: n,
    title: `Track ${n}`,
    user_id: 1002,
    access: 'playable',
    uri: `https://api.soundcloud.com/tracks/${n}`,
  };
}

function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number | undefined {
  const m = /^offset:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

export class SoundcloudApi extends FakeApi {
  /** Tracks in the paginated collections. Default 7. */
  trackCount: number;
  /** When set, next_href links point under this base instead of the API's (another origin, say). */
  nextLinkBase: string | undefined;
  /** Tracks created by uploads, in order. */
  readonly uploads: SoundcloudUpload[] = [];

  constructor(tokens: TokenAuthority, cdnUrl: () => string, options: SoundcloudApiOptions = {}) {
    super({ provider: 'soundcloud', prefix: SOUNDCLOUD_API_PREFIX, scheme: 'OAuth', tokens, cdnUrl });
    this.trackCount = options.trackCount ?? 7;
  }

  /** The documented error form: `{code, message, link, status, errors: [{error_message}], error: null}`. */
  errorBody(status: number, message?: string): Record<string, unknown> {
    const text = `${status} - ${message ?? http.STATUS_CODES[status] ?? 'Error'}`;
    return {
      code: status,
      message: text,
      link: 'https://developers.soundcloud.com/docs/api/explorer/open-api',
      status: text,
      errors: [{ error_message: text }],
      error: null,
    };
  }

  protected routes(): ApiRoute[] {
    return [
      {
        methods: ['GET', 'HEAD'],
        path: '/me',
        access: 'user',
        handle: () => jsonReply(200, { ...SOUNDCLOUD_USERS[SOUNDCLOUD_ME_ID] }),
      },
      {
        methods: ['GET', 'HEAD'],
        path: '/users/:id',
        handle: ({ params }) => {
          const user = (SOUNDCLOUD_USERS as Record<string, Record<string, unknown>>)[params.id!];
          return user ? jsonReply(200, { ...user }) : this.error(404);
        },
      },
      { methods: ['GET', 'HEAD'], path: '/tracks', handle: (call) => this.collection(call, '/tracks') },
      {
        methods: ['GET', 'HEAD'],
        path: '/me/tracks',
        access: 'user',
        handle: (call) => this.collection(call, '/me/tracks'),
      },
      { methods: ['POST'], path: '/tracks', access: 'user', handle: (call) => this.upload(call) },
      {
        methods: ['GET', 'HEAD'],
        path: '/tracks/:id',
        handle: ({ params }) =>
          this.knownTrack(params.id!) ? jsonReply(200, soundcloudTrack(Number(params.id))) : this.error(404),
      },
      {
        methods: ['GET', 'HEAD'],
        path: '/tracks/:id/stream',
        handle: ({ params }) =>
          this.knownTrack(params.id!)
            ? redirectReply(`${this.cdnUrl()}/media/track-${params.id}.mp3`)
            : this.error(404),
      },
    ];
  }

  private knownTrack(id: string): boolean {
    return /^\d{1,9}$/.test(id) && Number(id) >= 1 && Number(id) <= this.trackCount;
  }

  private collection({ query }: ApiCall, route: string): Reply {
    const limit = query.has('page_size')
      ? intParam(query, 'page_size', 50, 1, 200)
      : intParam(query, 'limit', 50, 1, 200);
    if (limit === undefined) return this.error(400, 'Bad Request');
    const cursor = query.get('cursor');
    const offset = cursor === null ? 0 : decodeCursor(cursor);
    if (offset === undefined) return this.error(400, 'Bad Request');
    const items: Record<string, unknown>[] = [];
    for (let n = offset + 1; n <= Math.min(this.trackCount, offset + limit); n++) items.push(soundcloudTrack(n));
    const linked = query.get('linked_partitioning');
    if (linked !== 'true' && linked !== '1')
      return { status: 200, headers: { ...JSON_HEADERS }, body: JSON.stringify(items) };
    const page: Record<string, unknown> = { collection: items };
    if (offset + limit < this.trackCount) {
      const q = nextQuery(query, ['limit', 'page_size', 'cursor', 'linked_partitioning'], {
        page_size: String(limit),
        cursor: encodeCursor(offset + limit),
        linked_partitioning: 'true',
      });
      page.next_href = `${this.nextLinkBase ?? this.base}${route}?${q}`;
    }
    return jsonReply(200, page);
  }

  private upload({ rec }: ApiCall): Reply {
    if (!rec.multipart) return this.error(422, 'Unprocessable Entity: uploads are multipart/form-data');
    if (rec.multipart.error) return this.error(400, 'Bad Request');
    const title = rec.multipart.parts.find((p) => p.name === 'track[title]');
    const asset = rec.multipart.parts.find((p) => p.name === 'track[asset_data]');
    if (!title?.value || !asset || asset.filename === undefined) {
      return this.error(422, 'Unprocessable Entity: track[title] and a track[asset_data] file are required');
    }
    const upload: SoundcloudUpload = {
      id: 5001 + this.uploads.length,
      title: title.value,
      filename: asset.filename,
      contentType: asset.contentType,
      size: asset.size,
      sha256: asset.sha256,
      parts: rec.multipart.parts,
    };
    this.uploads.push(upload);
    return jsonReply(201, {
      kind: 'track',
      id: upload.id,
      title: upload.title,
      state: 'processing',
      asset_data: {
        filename: upload.filename,
        content_type: upload.contentType ?? null,
        size: upload.size,
        sha256: upload.sha256,
      },
    });
  }
}
