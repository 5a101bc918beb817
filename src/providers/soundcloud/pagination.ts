// SoundCloud's linked partitioning: with `linked_partitioning=true` a collection answers
// `{ "collection": [...], "next_href": "https://api.soundcloud.com/...&cursor=..." }`, and the last
// page has no `next_href` (or null).
import type { Pagination } from '../../model/model.js';

export const pagination: Pagination = {
  firstPage(url) {
    const first = new URL(url);
    if (!first.searchParams.has('linked_partitioning')) first.searchParams.set('linked_partitioning', 'true');
    return first;
  },
  readPage(page) {
    if (typeof page !== 'object' || page === null || !Array.isArray((page as { collection?: unknown }).collection)) {
      return { problem: 'collection missing (is this a collection endpoint?)' };
    }
    const { collection, next_href } = page as { collection: unknown[]; next_href?: unknown };
    if (next_href === undefined || next_href === null || next_href === '') return { items: collection };
    if (typeof next_href !== 'string') return { problem: 'next_href invalid' };
    return { items: collection, next: next_href };
  },
};
