// Buffer assignment by liveness: every computed value gets an activation slot from the
// moment its node runs until the last node that reads it (or a view of it); a slot whose
// value has died is reused by a later value that fits (best fit), or in place when an op
// allows its output to overwrite an input that dies at that op.

import { rootOf, valueBytes, type Graph, type Value } from './ir.ts';

export interface SlotPlan {
  /** Bytes of each activation slot (one GPU buffer each). */
  slotBytes: number[];
  /** Root value id -> slot index, for temps. */
  slotOf: Map<number, number>;
  /** Sum of all temp value sizes: what no reuse would allocate. */
  naiveBytes: number;
}

/** Slots hold whole multiples of 256 bytes (binding-size friendly, fewer odd sizes). */
export function slotSize(bytes: number): number {
  return Math.max(256, Math.ceil(bytes / 256) * 256);
}

export function planSlots(graph: Graph, reuse = true): SlotPlan {
  const lastUse = new Map<number, number>();
  graph.nodes.forEach((node, i) => {
    for (const v of node.inputs) lastUse.set(rootOf(v).id, i);
  });
  const slotBytes: number[] = [];
  const slotOf = new Map<number, number>();
  const free: number[] = [];
  /** Which root value currently owns each slot (in-place ops hand a slot over). */
  const owner: number[] = [];
  let naiveBytes = 0;

  const take = (need: number): number => {
    if (reuse) {
      let best = -1;
      for (let k = 0; k < free.length; k++) {
        const s = free[k]!;
        if (slotBytes[s]! >= need && (best < 0 || slotBytes[s]! < slotBytes[free[best]!]!)) best = k;
      }
      if (best >= 0) return free.splice(best, 1)[0]!;
    }
    slotBytes.push(need);
    return slotBytes.length - 1;
  };

  graph.nodes.forEach((node, i) => {
    const dying = (v: Value) => {
      const r = rootOf(v);
      return r.kind === 'temp' && (lastUse.get(r.id) ?? -1) === i && slotOf.has(r.id);
    };
    node.outputs.forEach((out, j) => {
      if (out.kind !== 'temp') return; // outputs of the graph have their own buffers
      const need = slotSize(valueBytes(out));
      naiveBytes += need;
      const src = node.inPlace?.[j];
      if (reuse && src !== undefined) {
        const inp = node.inputs[src]!;
        const r = rootOf(inp);
        const s = slotOf.get(r.id);
        if (dying(inp) && s !== undefined && owner[s] === r.id && slotBytes[s]! >= need) {
          slotOf.set(out.id, s);
          owner[s] = out.id; // the output takes the slot over; the input's release skips it
          return;
        }
      }
      const s = take(need);
      slotOf.set(out.id, s);
      owner[s] = out.id;
    });
    // Release what dies here (after the outputs were placed: no aliasing unless in place).
    const released = new Set<number>();
    for (const v of [...node.inputs, ...node.outputs]) {
      const r = rootOf(v);
      if (r.kind !== 'temp' || released.has(r.id)) continue;
      const last = lastUse.get(r.id) ?? i; // never read: dies right after its producer
      const s = slotOf.get(r.id);
      if (last <= i && s !== undefined && owner[s] === r.id) {
        released.add(r.id);
        owner[s] = -1;
        free.push(s);
      }
    }
  });
  return { slotBytes, slotOf, naiveBytes };
}
