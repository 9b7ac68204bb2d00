import type { EventSourceMessage } from 'eventsource-parser';
import type { StreamEvent } from '../api/types';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const isText = (value: unknown): boolean => value === undefined || typeof value === 'string';

/**
 * The one place where the untyped wire meets the typed union: parses an SSE
 * message and checks the fields the reducer reads, so a `switch` on `type`
 * narrows without casts. Unknown or malformed events give null (skipped).
 */
export function parseStreamEvent(message: EventSourceMessage): StreamEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    console.warn('rill: skipped a malformed event', message.event, message.data.slice(0, 200));
    return null;
  }
  if (!isObject(data)) return null;
  const type = typeof data.type === 'string' ? data.type : message.event;
  const event: Record<string, unknown> = { ...data, type };
  switch (type) {
    case 'message_start':
      return isObject(event.message) && typeof event.message.id === 'string' ? (event as unknown as StreamEvent) : null;
    case 'content_block_start':
      return isObject(event.content_block) && isText(event.content_block.text) ? (event as unknown as StreamEvent) : null;
    case 'content_block_delta':
      return isObject(event.delta) && isText(event.delta.text) ? (event as unknown as StreamEvent) : null;
    case 'message_delta':
      return isObject(event.delta) ? (event as unknown as StreamEvent) : null;
    case 'error':
      return isObject(event.error) ? (event as unknown as StreamEvent) : null;
    case 'content_block_stop':
    case 'message_stop':
    case 'ping':
      return event as unknown as StreamEvent;
    default:
      return null;
  }
}
