// The weight slots of a streamed plan: segments with streamed weights alternate between two
// slots, each as large as the largest segment it holds (aligned to 256 bytes).
import { describe, expect, it } from 'vitest';
import { streamingSlots } from '../../src/graph/plan.ts';

describe('streaming slots', () => {
  it('alternate over the segments that have streamed weights, each sized by its own segments', () => {
    const { segmentSlot, slotBytes } = streamingSlots([1000, 0, 300, 600, 0, 500, 10]);
    expect(segmentSlot).toEqual([0, -1, 1, 0, -1, 1, 0]);
    expect(slotBytes).toEqual([1024, 512]);
  });

  it('one streamed segment needs one slot, none needs none', () => {
    expect(streamingSlots([0, 5000, 0])).toEqual({ segmentSlot: [-1, 0, -1], slotBytes: [5120] });
    expect(streamingSlots([0, 0])).toEqual({ segmentSlot: [-1, -1], slotBytes: [] });
    expect(streamingSlots([1, 1]).slotBytes).toEqual([256, 256]);
  });
});
