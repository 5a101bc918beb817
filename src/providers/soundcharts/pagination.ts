// Soundcharts pages: `{ "items": [...], "page": { "offset", "total", "next", "previous" } }`, where
// `page.next` is the link to the next page, null on the last one.
import type { Pagination } from '../../model/model.js';

export const pagination: Pagination = {
  firstPage: (url) => new URL(url),
  readPage(page) {
    if (typeof page !== 'object' || page === null || !Array.isArray((page as { items?: unknown }).items)) {
      return { problem: 'items missing (is this a list endpoint?)' };
    }
    const { items, page: info } = page as { items: unknown[]; page?: unknown };
    const next = typeof info === 'object' && info !== null ? (info as { next?: unknown }).next : undefined;
    if (next === undefined || next === null || next === '') return { items };
    if (typeof next !== 'string') return { problem: 'page.next invalid' };
    return { items, next };
  },
};
