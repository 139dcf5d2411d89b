// MoGe-2 (monocular geometry: affine points, normals, mask, metric scale) on the graph executor.
export { MogeModel, MogeBindingLimitError, type MogeOptions, type MogeOutputs } from './model.ts';
export { MogeModelError, mogeConfig, inferBackbone, tokenGrid, tokensForLevel, type MogeConfig, type BackboneShape, type ConvStackConfig } from './config.ts';
export { MOGE_IO, buildMogeGraph, viewPlaneUv } from './graph.ts';
export { vitBlock } from './encoder.ts';
export { MOGE_NAMES, MOGE_HEADS } from './names.ts';
export { mogeGeometry, recoverFocalShift, type MogeGeometry } from './postprocess.ts';
export { lmdif, type LmdifOptions, type LmdifResult } from './lmdif.ts';
export { planMoge, publishedLikeConfig, publishedLikeModelConfig, MOGE_BACKBONES, type MogeBackbone, type MogePlanSummary } from './plan.ts';
