/**
 * What a tensor state dict's pickle may name, as inert stand-ins: the tensor rebuild functions,
 * the storage classes, OrderedDict, torch dtypes and torch.Size. Every other global is refused
 * with its name. Tensors come out as TensorRef views of Storage records; nothing is read yet.
 */
import type { StDtype } from '../safetensors-dtype.ts';
import { PickleError, type PicklePolicy } from './pickle.ts';

/** A storage class named by the pickle (torch.FloatStorage, ...). */
export class StorageType {
  constructor(readonly qualname: string, readonly dtype: StDtype) {}
}

/** One storage of the checkpoint: `numel` elements of `dtype`, found under `key`. */
export interface Storage {
  key: string;
  dtype: StDtype;
  numel: number;
  /** Elements to skip in the root storage (legacy storage views; 0 otherwise). */
  rootOffset: number;
}

/** A tensor as the pickle describes it: a strided view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** A torch dtype object (torch.float32, ...), kept as its name. */
export class TorchDtype {
  constructor(readonly qualname: string) {}
  toJSON(): string {
    return this.qualname;
  }
}

/** An allowed callable; REDUCE applies it by name. */
class Callable {
  constructor(readonly qualname: string) {}
}

/** What a persistent id of the form ('storage', type, key, location, numel[, view]) says. */
export interface StoragePid {
  type: StorageType;
  key: string;
  numel: number;
  /** Legacy format only: (view key, offset, numel) of a view into storage `key`. */
  view: { key: string; offset: number; numel: number } | null;
}

const STORAGE_DTYPES: Readonly<Record<string, StDtype>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8',
  BoolStorage: 'BOOL', UntypedStorage: 'U8',
};

const DTYPES = new Set(['float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double', 'int64', 'long',
  'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool']);

const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state', 'torch.Size']);

export function torchPolicy(persistentLoad: (pid: StoragePid) => Storage): PicklePolicy {
  return {
    global(module, name) {
      const qualname = `${module}.${name}`;
      if ((module === 'torch' || module === 'torch.storage') && Object.hasOwn(STORAGE_DTYPES, name)) {
        return new StorageType(qualname, STORAGE_DTYPES[name]!);
      }
      if (module === 'torch' && DTYPES.has(name)) return new TorchDtype(qualname);
      if (CALLABLES.has(qualname)) return new Callable(qualname);
      throw new PickleError(`refused global '${qualname}': a tensor checkpoint has no use for it and egox never runs code from a file`);
    },
    reduce(callable, args) {
      if (!(callable instanceof Callable)) throw new PickleError(`REDUCE on ${describe(callable)}, which is not an allowed callable`);
      return applyCallable(callable.qualname, args);
    },
    build(target, state) {
      // OrderedDict state dicts carry `_metadata` (module versions) as instance state; keep none of it.
      if (target instanceof Map && (state === null || state instanceof Map || Array.isArray(state))) return;
      if (target instanceof TensorRef) return; // a Parameter's python attributes
      throw new PickleError(`BUILD on ${describe(target)} is not allowed`);
    },
    persistentLoad(pid) {
      return persistentLoad(parsePid(pid));
    },
  };
}

function applyCallable(qualname: string, args: unknown[]): unknown {
  switch (qualname) {
    case 'collections.OrderedDict': {
      const d = new Map<unknown, unknown>();
      if (args.length === 0) return d;
      if (args.length === 1 && Array.isArray(args[0])) {
        for (const kv of args[0]) {
          if (!Array.isArray(kv) || kv.length !== 2) throw new PickleError('OrderedDict items are not pairs');
          d.set(kv[0], kv[1]);
        }
        return d;
      }
      throw new PickleError('OrderedDict called with unexpected arguments');
    }
    case 'torch.Size':
      if (args.length === 1 && Array.isArray(args[0]) && args[0].every(isIndex)) return [...args[0]];
      throw new PickleError('torch.Size called with something other than a tuple of sizes');
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, shape, stride] = args;
      if (!isStorage(storage)) throw new PickleError(`${qualname} without a storage (got ${describe(storage)})`);
      if (!isIndex(offset)) throw new PickleError(`${qualname}: storage offset ${describe(offset)} is not a non-negative integer`);
      if (!Array.isArray(shape) || !shape.every(isIndex)) throw new PickleError(`${qualname}: size ${describe(shape)} is not a tuple of non-negative integers`);
      if (!Array.isArray(stride) || !stride.every(isIndex) || stride.length !== shape.length) {
        throw new PickleError(`${qualname}: stride ${describe(stride)} is not ${shape.length} non-negative integers`);
      }
      return new TensorRef(storage, offset, shape as number[], stride as number[]);
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      if (args[0] instanceof TensorRef) return args[0];
      throw new PickleError(`${qualname} of ${describe(args[0])}, not a tensor`);
  }
  throw new PickleError(`callable '${qualname}' cannot be applied`);
}

function parsePid(pid: unknown): StoragePid {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new PickleError(`persistent id ${describe(pid)} is not a ('storage', type, key, location, size) tuple`);
  }
  const [, type, key, , numel, view] = pid;
  if (!(type instanceof StorageType)) throw new PickleError(`persistent id names ${describe(type)}, not a storage type`);
  if (typeof key !== 'string') throw new PickleError(`storage key ${describe(key)} is not a string`);
  if (!isIndex(numel)) throw new PickleError(`storage '${key}' size ${describe(numel)} is not a non-negative integer`);
  let v: StoragePid['view'] = null;
  if (view !== undefined && view !== null) {
    if (!Array.isArray(view) || typeof view[0] !== 'string' || !isIndex(view[1]) || !isIndex(view[2])) {
      throw new PickleError(`storage '${key}' has a malformed view description ${describe(view)}`);
    }
    v = { key: view[0], offset: view[1], numel: view[2] };
  }
  return { type, key, numel, view: v };
}

function isStorage(v: unknown): v is Storage {
  return typeof v === 'object' && v !== null && 'key' in v && 'numel' in v && 'rootOffset' in v && 'dtype' in v;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof StorageType || v instanceof TorchDtype || v instanceof Callable) return v.qualname;
  if (v instanceof TensorRef) return 'a tensor';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return `a tuple of ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeof v === 'bigint' ? v.toString() : typeof v === 'object' ? 'an object' : String(v);
}
