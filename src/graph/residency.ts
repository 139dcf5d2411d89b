// Which network holds GPU memory right now. A run that shares one memory budget between
// networks (the VAE, the text and image encoders, the DiT of generate) gives each the whole
// budget, which is only true while the networks are resident one after another: this tracker
// is told of every executor created and destroyed under it and turns a broken order (a second
// network's executor while another network's is alive) into an internal fault, not an OOM.

import { GraphError } from './ir.ts';

export class GpuResidency {
  private network: string | null = null;
  private executors = 0;

  /** The network whose executors are alive now, or null when the budget is free. */
  get resident(): string | null {
    return this.network;
  }

  /** Called when an executor of `network` is created; returns its release. */
  enter(network: string): () => void {
    if (this.network !== null && this.network !== network) {
      throw new GraphError(`${network} was given the whole GPU memory budget while ${this.network} still holds GPU memory; release one network before the next is created`);
    }
    this.network = network;
    this.executors++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.executors === 0) this.network = null;
    };
  }
}

/** The network an executor belongs to and the tracker of the budget it shares. */
export interface ResidencyClaim {
  tracker: GpuResidency;
  network: string;
}
