// egox's public API for programs that embed it. Everything here takes a GPUDevice-backed
// EgoxDevice; only openNodeDevice (Dawn) and the file/ffmpeg helpers are Node-specific.

// Runtime
export { EgoxDevice, type AdapterSummary, type DeviceOptions, type OptionalFeature } from './runtime/device.ts';
export { openNodeDevice, requestNodeAdapter, type NodeDeviceOptions } from './runtime/node.ts';
export { Tensor, type Shape } from './runtime/tensor.ts';
export type { DType, FloatDType } from './runtime/dtype.ts';
export { EnvironmentError, GpuError, InputError } from './runtime/errors.ts';

// Kernel choice: saved tuning and the subgroup-matrix (tensor-core) check; generate() runs the check itself
export { loadGemmTuning, type TuneStore } from './kernels/tuning/index.ts';
export { loadConvTuning } from './kernels/tuning/index.ts';
export { checkSubgroupMatrices, type SgmatrixCheck } from './kernels/tuning/index.ts';

// Files
export { Checkpoint } from './io/checkpoint.ts';
export { SafetensorsFile, type TensorInfo } from './io/safetensors.ts';
export { PytorchCheckpoint } from './io/pytorch/index.ts';
export { writeSafetensors } from './io/safetensors-writer.ts';
export { readNpy, writeNpy } from './io/npy.ts';
export { inspectCheckpoint, formatInspectReport } from './io/inspect.ts';

// Graphs
export { ModelGraph } from './graph/ops/index.ts';
export { Executor, type ExecutorOptions } from './graph/executor.ts';
export { planExecution, type ExecutionPlan, type PlanOptions } from './graph/plan.ts';
export { WeightStore, MemoryWeightSource } from './graph/weights.ts';

// Models
export { WanDit, DIT_IO } from './model/wan/dit.ts';
export type { LoadedDit } from './model/wan/model.ts';
export type { NetworkLoadOptions } from './model/load-options.ts';
export { GpuResidency } from './graph/residency.ts';
export { WAN_CONFIGS, namedConfig, type WanConfig } from './model/wan/config.ts';
export { openWanCheckpoint } from './model/wan/load.ts';
export { attachLora, type AttachedLora, type LoraMode, type LoraRequest } from './model/lora/attach.ts';
export { WanModel } from './model/wan/model.ts';
export { sampleLatents, type SampleOptions } from './model/wan/sample.ts';
export { planDitRun } from './model/wan/plan-run.ts';
export { timestepEmbedding } from './model/wan/timestep.ts';
export { WanVae, planVae } from './model/vae/index.ts';
export { UniPCScheduler, EulerScheduler, flowSigmas, createScheduler } from './model/schedulers/index.ts';
export { UnigramTokenizer, encodePrompt } from './model/text/tokenizer.ts';
export { encodePrompts, Umt5Encoder, planUmt5 } from './model/umt5/index.ts';
export { encodeImage, ClipVisionEncoder, planClipVision } from './model/clip/index.ts';

// Reconstruction
export { loadEgoxMeta, loadEgoxTake, findEgoxTake, type EgoxTake } from './io/meta.ts';
export { computeAttentionGeometry, attentionGeometryForTake } from './recon/attention-geometry.ts';
export { renderPrior, writePrior } from './pipeline/prior.ts';
export { parseEgoCalibration, DEFAULT_EGO_CALIBRATION } from './recon/cameras.ts';
export { buildTrajectory, TrajectoryKeyError, type Trajectory, type TrajectoryKey, type TrajectoryOptions } from './recon/trajectory.ts';
export { parseTrajectoryKey } from './recon/trajectory-keys.ts';
export { exoView, exoUp, depthToWorldPoints, type ExoView } from './recon/exo-view.ts';
export { estimateGroundPlane, type GroundPlane } from './recon/ground-plane.ts';
export { trajectoryForTake, saveTrajectory } from './pipeline/trajectory.ts';
export { alignDepthScales, type DepthAlignment, type DepthClip } from './recon/depth-align.ts';
export { estimateCameraMotion, type CameraMotion } from './recon/camera-motion.ts';
export { MogeModel, planMoge } from './model/moge/index.ts';
export { prepareTakes, PREPARE_DEFAULTS, type PrepareOptions, type PrepareResult, type PreparedTake } from './pipeline/prepare.ts';
export { writeDemoScene } from './demo/scene/index.ts';

// The EgoX pipeline (what `egox generate` and `egox demo` run)
export { generate, type GenerateResult } from './pipeline/generate.ts';
export { generateBatch, DEFAULT_WAVE, type BatchOptions, type BatchEvent, type BatchResult } from './pipeline/generate-batch.ts';
export type { TakeRecord, TakeStatus } from './pipeline/batch-summary.ts';
export { selectTakes, shardOfTake, type Shard } from './pipeline/take-selection.ts';
export { GENERATE_DEFAULTS, type GenerateOptions } from './pipeline/generate-options.ts';
export { runDemo, DEMO_DEFAULTS, type DemoOptions, type DemoResult } from './demo/run.ts';
export { ensureDemoWeights, type DemoWeights } from './demo/weights.ts';
export { STAGE_TITLES, type GenerateStage, type ProgressEvent, type ProgressCallback } from './pipeline/progress.ts';
