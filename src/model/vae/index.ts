// The Wan2.1 VAE: what the pipeline, the CLI and `egox plan` use.
export { WanVae, VaeInputError, openVaeCheckpoint, type VaeOptions, type VaeRunStats, type HostTensor, type TileOptions } from './vae.ts';
export { planVae, type VaePlan, type VaePassPlan, type VaePlanRequest } from './plan.ts';
export { WAN21_VAE, type VaeConfig } from './config.ts';
export { DEFAULT_TILE } from './tiling.ts';
