// egox's browser entry: everything that needs no files, on a device opened from `navigator.gpu`
// (EgoxDevice.fromAdapter). Bundled by `npm run build:browser` into dist/egox-browser.js; a
// test checks the bundle holds no Node import. Networks that read checkpoints stay in index.ts.

// Runtime
export { EgoxDevice, type AdapterSummary, type DeviceOptions, type OptionalFeature } from './runtime/device.ts';
export { Tensor, type Shape } from './runtime/tensor.ts';
export type { DType, FloatDType } from './runtime/dtype.ts';
export { EnvironmentError, GpuError, InputError } from './runtime/errors.ts';
export type { KernelContext } from './runtime/kernel-context.ts';

// Kernels, one namespace per family (their launchers take the device)
export * as gemm from './kernels/gemm/index.ts';
export * as attention from './kernels/attention/index.ts';
export * as conv from './kernels/conv/index.ts';
export * as norm from './kernels/norm/index.ts';
export * as layout from './kernels/layout/index.ts';
export * as elementwise from './kernels/elementwise/index.ts';
export * as render from './kernels/render/index.ts';
export { checkSubgroupMatrices, type SgmatrixCheck } from './kernels/tuning/index.ts';

// Graphs (weights come from memory here: MemoryWeightSource)
export { ModelGraph } from './graph/ops/index.ts';
export { Executor, type ExecutorOptions } from './graph/executor.ts';
export { planExecution, type ExecutionPlan, type PlanOptions } from './graph/plan.ts';
export { WeightStore, MemoryWeightSource } from './graph/weights.ts';

// Models that read no files: the DiT graph, schedulers, timestep embedding
export { WanDit, DIT_IO } from './model/wan/dit.ts';
export { WAN_CONFIGS, namedConfig, type WanConfig } from './model/wan/config.ts';
export { timestepEmbedding } from './model/wan/timestep.ts';
export { UniPCScheduler, EulerScheduler, flowSigmas, createScheduler } from './model/schedulers/index.ts';

// Reconstruction: cameras, the point cloud, the ego prior renderer
export * from './recon/cameras.ts';
export { EgoPointCloud, exoPlacement, type PointCloudInputs } from './recon/pointcloud.ts';
export {
  renderPriorFrames,
  PRIOR_FRAMES,
  PRIOR_FPS,
  PRIOR_POINT_RADIUS_PX,
  PREVIEW_POINT_RADIUS_PX,
  type PriorClip,
  type RenderPriorOptions,
  type RenderedPrior,
} from './recon/prior.ts';
export { PriorRenderer, priorSplatSpec } from './recon/prior-renderer.ts';
export { estimateDynamicMasks, type MotionMaskOptions } from './recon/dynamic-mask-estimate.ts';
export { psnr, coverageIoU, comparePriors } from './recon/prior-quality.ts';

// Trajectories from keyframe clicks (what `egox trajectory` and the studio page run)
export { buildTrajectory, DEFAULT_HEAD_RADIUS, TrajectoryKeyError, type Trajectory, type TrajectoryKey, type TrajectoryOptions, type GazeSource } from './recon/trajectory.ts';
export { parseTrajectoryKey } from './recon/trajectory-keys.ts';
export { exoView, liftExoPixel, depthToWorldPoints, exoUp, exoCentre, type ExoView } from './recon/exo-view.ts';
export { estimateGroundPlane, type GroundPlane } from './recon/ground-plane.ts';
export { ariaW2c } from './recon/aria-pose.ts';
